/* The classifier family: the encoder of an autoencoder with a softmax on
 * its code, the network of the classic "pretrain without labels, then
 * fine-tune on the few labels there are":
 *   x -> encoder (model.encoder) -> code [B x L] (model.code_activation)
 *     -> head: logits [B x C] = code W^T + b -> softmax over C = model.classes
 *   loss = -log softmax(logits)_y, the cross-entropy of the label, nats per
 *   example (reported as the recon term: what the model is trained to
 *   predict; there is no KL and no decoder).
 * The head lives in the `dec` stack (one linear layer L -> C), named head.0;
 * the encoder's tensors are named as an ae's (encoder.0 .. encoder.N, the
 * last the code layer), so model.init_from can copy a pretrained encoder
 * (src/train/init_from.c).  While m->frozen_encoder is set, backward stops
 * at the head: only the head learns (train.freeze_encoder_epochs). */
#include <string.h>

#include "model/family.h"
#include "nn/layers.h"

static void configure(ae_model *t, const ae_config *cfg)
{
    t->label_classes = (size_t)cfg->model.classes;
}

static void add_head(ae_model *t, const ae_config *cfg, size_t in, size_t *n)
{
    ae_stack_add(&t->enc, in, t->latent, cfg->model.code_activation, n);
}

/* The softmax head: a linear layer code -> C logits. */
static void add_stacks(ae_model *t, const ae_config *cfg, size_t *n)
{
    (void)cfg;
    ae_stack_add(&t->dec, t->latent, t->label_classes, AE_ACT_LINEAR, n);
}

/* The target is the label; `target` (the clean input) and the noise are
 * not used.  Without labels the loss is 0 and no gradient flows. */
static void forward(ae_model *m, size_t B, const float *x, const float *target,
                    const int32_t *labels, ae_rng *rng, float beta, ae_loss *out)
{
    (void)target;
    (void)rng;
    const size_t C = m->label_classes, N = ae_model_norm_rows(m, B);
    const float *code = ae_mlp_forward(&m->enc, m->params, B, x, NULL);
    const float *logits = ae_mlp_forward(&m->dec, m->params, B, code, NULL);
    memset(m->ex_kl, 0, B * sizeof(double));
    memset(m->ex_kl2, 0, B * sizeof(double));
    memset(m->ex_reg, 0, B * sizeof(double));
    memset(m->ex_recon, 0, B * sizeof(double));
    size_t correct = 0;
    /* d loss / d logits, scaled by 1/N for the batch mean, in scratch[0] */
    double xent = ae_softmax_xent(B, C, logits, labels, 1.0f / (float)N,
                                  labels ? m->scratch[0] : NULL, m->ex_recon, NULL, &correct);
    if (!labels)
        memset(m->scratch[0], 0, B * C * sizeof(float));
    ae_model_finish_forward(m, B, x, NULL, xent, 0.0, 0.0, 0.0, beta, out);
    if (out)
        out->accuracy = labels ? (double)correct / (double)N : 0.0;
}

static void backward(ae_model *m, float kl_weight, const ae_layer_done *done)
{
    (void)kl_weight;
    size_t B = m->last_batch;
    float **S = m->scratch;
    const float *code = m->enc.out[m->enc.n - 1];
    /* head: d loss / d logits (S[0]) -> d loss / d code in S[2] */
    ae_mlp_backward(&m->dec, m->params, m->grads, B, code, NULL, S[0], NULL,
                    m->frozen_encoder ? NULL : S[2], S[1], done);
    if (!m->frozen_encoder)
        ae_mlp_backward(&m->enc, m->params, m->grads, B, m->last_input, NULL, S[2], NULL, NULL,
                        S[0], done);
}

/* The code layer's output; log-variances are zero. */
static void encode(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                   float *logvar)
{
    (void)labels;
    const float *code = ae_mlp_forward(&m->enc, m->params, B, x, NULL);
    memcpy(mu, code, B * m->latent * sizeof(float));
    if (logvar)
        memset(logvar, 0, B * m->latent * sizeof(float));
}

static void predict(ae_model *m, size_t B, const float *x, float *p)
{
    const float *code = ae_mlp_forward(&m->enc, m->params, B, x, NULL);
    const float *logits = ae_mlp_forward(&m->dec, m->params, B, code, NULL);
    ae_softmax_xent(B, m->label_classes, logits, NULL, 0.0f, NULL, NULL, p, NULL);
}

static size_t param_views(const ae_model *m, ae_param_view *views, size_t max)
{
    size_t k = ae_stack_views(&m->enc, "encoder", 0, views, 0, max);
    return ae_stack_views(&m->dec, "head", 0, views, k, max);
}

static const struct ae_family_ops OPS = {
    .configure = configure,
    .add_head = add_head,
    .add_stacks = add_stacks,
    .forward = forward,
    .backward = backward,
    .encode = encode,
    .predict = predict,
    .param_views = param_views,
};

const ae_family ae_family_classifier = {
    .name = "classifier",
    .title = "classifier",
    .classifier = true,
    .ops = &OPS,
};
