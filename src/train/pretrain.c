#include "train/pretrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "ae/optim.h"
#include "nn/layers.h"

static void copy_layer(ae_model *dst, const ae_layer *to, const ae_model *src,
                       const ae_layer *from)
{
    memcpy(dst->params + to->w_off, src->params + from->w_off, from->in * from->out * sizeof(float));
    memcpy(dst->params + to->b_off, src->params + from->b_off, from->out * sizeof(float));
}

ae_status ae_pretrain(const ae_config *cfg, const ae_dataset *ds, const size_t *rows, size_t n,
                      ae_model *deep, ae_rng *rng, const ae_train_hooks *hooks, ae_error *err)
{
    const size_t B = deep->max_batch, D = deep->input_dim;
    const int stages = deep->enc.n; /* hidden layers + the code layer */
    size_t *order = malloc(n * sizeof(size_t));
    float *x = malloc(B * D * sizeof(float));
    if (!order || !x) {
        free(order);
        free(x);
        ae_error_set(err, "pretraining: out of memory");
        return AE_ERR_NOMEM;
    }
    ae_status st = AE_OK;
    for (int s = 1; s <= stages && st == AE_OK; s++) {
        const ae_layer *deep_enc = &deep->enc.layer[s - 1];
        const ae_layer *deep_dec = &deep->dec.layer[deep->dec.n - s];
        ae_config sc = *cfg;
        sc.model.type = AE_MODEL_AE;
        sc.model.n_encoder = 0;
        sc.model.n_decoder = 0;
        sc.model.latent = (int)deep_enc->out;
        sc.model.code_activation = deep_enc->act;
        sc.model.tied = false;
        sc.model.sparsity.type = AE_SPARSE_NONE;
        sc.model.contractive = 0;
        if (s > 1)
            sc.model.likelihood = AE_LIK_GAUSSIAN;
        ae_model stage;
        ae_optim opt;
        if ((st = ae_model_init(&stage, &sc, deep_enc->in, B, err)) != AE_OK)
            break;
        if ((st = ae_optim_init(&opt, ae_config_optim(&sc), stage.n_params, err)) != AE_OK) {
            ae_model_free(&stage);
            break;
        }
        ae_model_init_weights(&stage, rng);
        for (int epoch = 1; epoch <= cfg->train.pretrain_epochs; epoch++) {
            memcpy(order, rows, n * sizeof(size_t));
            ae_rng_shuffle(rng, order, n);
            double sum = 0;
            for (size_t first = 0; first < n; first += B) {
                size_t b = n - first < B ? n - first : B;
                ae_batch_gather(ds, order + first, 0, b, deep->scale, deep->shift,
                                cfg->data.binarize, rng, x);
                /* the frozen stages below turn the batch into this stage's input */
                const float *in = x;
                for (int i = 0; i < s - 1; i++) {
                    ae_dense_forward(&deep->enc.layer[i], deep->params, b, in, NULL,
                                     deep->enc.out[i]);
                    in = deep->enc.out[i];
                }
                ae_loss l;
                ae_model_forward(&stage, b, in, in, NULL, rng, 0.0f, &l);
                if (!isfinite(l.loss)) {
                    ae_error_set(err, "pretraining diverged: the loss became %s in stage %d, "
                                      "epoch %d (train.lr=%g)", isnan(l.loss) ? "NaN" : "infinite",
                                 s, epoch, cfg->train.lr);
                    st = AE_ERR_NUMERIC;
                    break;
                }
                ae_model_backward(&stage, 0.0f);
                ae_optim_step(&opt, stage.params, stage.grads);
                sum += l.loss * (double)b;
            }
            if (st != AE_OK)
                break;
            if (hooks && hooks->on_pretrain) {
                ae_pretrain_progress p = {s, stages, deep_enc->in, deep_enc->out, epoch,
                                          cfg->train.pretrain_epochs, sum / (double)n};
                hooks->on_pretrain(hooks->ctx, &p);
            }
        }
        if (st == AE_OK) {
            copy_layer(deep, deep_enc, &stage, &stage.enc.layer[0]);
            copy_layer(deep, deep_dec, &stage, &stage.dec.layer[0]);
        }
        ae_optim_free(&opt);
        ae_model_free(&stage);
    }
    free(order);
    free(x);
    return st;
}
