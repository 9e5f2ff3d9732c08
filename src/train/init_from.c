/* model.init_from (init_from.h): the pretrained encoder into a classifier. */
#include "train/init_from.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/checkpoint.h"

/* The view named `name` among v[0..n), or NULL. */
static const ae_param_view *find_view(const ae_param_view *v, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(v[k].name, name))
            return &v[k];
    return NULL;
}

static void shape_str(const ae_param_view *v, char *buf, size_t size)
{
    if (v->cols)
        snprintf(buf, size, "[%zu x %zu]", v->rows, v->cols);
    else
        snprintf(buf, size, "[%zu]", v->rows);
}

/* Checks the pretrained model against the classifier and the spec. */
static ae_status check_source(const ae_model *src, const ae_config *scfg, const ae_model *m,
                              const ae_config *cfg, ae_error *err)
{
    const char *path = cfg->model.init_from;
    const ae_family *f = src->family;
    if (f->classifier || f->conditional) {
        ae_error_set(err, "model.init_from %s: the model there is a %s (model.type %s), not an "
                          "autoencoder whose encoder reads the input alone; give the model of an "
                          "ae, vae, hvae or iwae run%s", path, f->title, f->name,
                     f->classifier ? " (to train a classifier further, aetrain --resume its "
                                     "checkpoint)" : "");
        return AE_ERR_INPUT;
    }
    if (src->input_dim != m->input_dim) {
        ae_error_set(err, "model.init_from %s: the pretrained model takes %zu features, but "
                          "data.train (%s) has %zu", path, src->input_dim, cfg->data.train,
                     m->input_dim);
        return AE_ERR_INPUT;
    }
    if (src->enc.n != m->enc.n) {
        ae_error_set(err, "model.init_from %s: the pretrained encoder has %d hidden layer%s, "
                          "model.encoder here %d; give model.encoder and model.latent as in "
                          "pretraining", path, src->enc.n - 1, src->enc.n == 2 ? "" : "s",
                     m->enc.n - 1);
        return AE_ERR_CONFIG;
    }
    if (scfg->data.scale != cfg->data.scale) {
        ae_error_set(err, "model.init_from %s: the pretrained model's data.scale is %s, this "
                          "spec's %s; the encoder must see inputs scaled as in pretraining: "
                          "set data.scale=%s", path, ae_scale_name(scfg->data.scale),
                     ae_scale_name(cfg->data.scale), ae_scale_name(scfg->data.scale));
        return AE_ERR_CONFIG;
    }
    if ((scfg->data.binarize == AE_BIN_FIXED) != (cfg->data.binarize == AE_BIN_FIXED)) {
        ae_error_set(err, "model.init_from %s: the pretrained model was trained %s fixed "
                          "binarisation (data.binarize) and this spec %s; the encoder must see "
                          "the inputs it was trained on", path,
                     scfg->data.binarize == AE_BIN_FIXED ? "with" : "without",
                     cfg->data.binarize == AE_BIN_FIXED ? "binarises" : "does not");
        return AE_ERR_CONFIG;
    }
    return AE_OK;
}

/* The tensor of the pretrained model that becomes the classifier's `name`:
 * the same name, or for the code layer a Gaussian head's mean rows. */
static const ae_param_view *source_view(const ae_param_view *sv, size_t ns, const char *name,
                                        bool code_layer)
{
    const ae_param_view *s = find_view(sv, ns, name);
    if (s || !code_layer)
        return s;
    char mu[64];
    const char *part = strrchr(name, '.'); /* ".weight" or ".bias" */
    snprintf(mu, sizeof mu, "encoder.mu%s", part ? part : "");
    return find_view(sv, ns, mu);
}

ae_status ae_init_from(ae_model *m, const ae_config *cfg, ae_error *err)
{
    const char *path = cfg->model.init_from;
    ae_config scfg;
    ae_model src;
    ae_status st = ae_checkpoint_load_model(path, 1, &scfg, &src, err);
    if (st != AE_OK) {
        ae_error_prefix(err, "model.init_from");
        return st;
    }
    if ((st = check_source(&src, &scfg, m, cfg, err)) != AE_OK) {
        ae_model_free(&src);
        return st;
    }
    ae_param_view tv[AE_MAX_PARAM_VIEWS], sv[AE_MAX_PARAM_VIEWS];
    size_t nt = ae_model_param_views(m, tv, AE_MAX_PARAM_VIEWS);
    size_t ns = ae_model_param_views(&src, sv, AE_MAX_PARAM_VIEWS);
    /* check every tensor first, so a mismatch leaves m as it was */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < m->enc.n; i++) {
            const ae_layer *tl = &m->enc.layer[i], *sl = &src.enc.layer[i];
            bool code = i == m->enc.n - 1;
            /* a Gaussian head is linear, like a code layer without activation */
            if (pass == 0 && sl->act != tl->act) {
                ae_error_set(err, "model.init_from %s: encoder layer %d uses activation %s in "
                                  "the checkpoint but %s here (%s)", path, i,
                             ae_activation_name(sl->act), ae_activation_name(tl->act),
                             code ? "model.code_activation" : "model.activation");
                ae_model_free(&src);
                return AE_ERR_CONFIG;
            }
            for (int part = 0; part < 2; part++) {
                char name[64];
                snprintf(name, sizeof name, "encoder.%d.%s", i, part ? "bias" : "weight");
                const ae_param_view *t = find_view(tv, nt, name);
                const ae_param_view *s = source_view(sv, ns, name, code);
                if (pass == 0 && (!s || s->rows != t->rows || s->cols != t->cols)) {
                    char ts[48], ss[48];
                    shape_str(t, ts, sizeof ts);
                    if (s)
                        shape_str(s, ss, sizeof ss);
                    if (s)
                        ae_error_set(err, "model.init_from %s: tensor %s is %s in the checkpoint "
                                          "but %s in this model; give model.encoder and "
                                          "model.latent as in pretraining", path, s->name, ss,
                                     ts);
                    else
                        ae_error_set(err, "model.init_from %s: the checkpoint has no tensor %s "
                                          "(nor encoder.mu) for this model's %s %s", path, name,
                                     name, ts);
                    ae_model_free(&src);
                    return AE_ERR_CONFIG;
                }
                if (pass == 1)
                    memcpy(m->params + t->offset, src.params + s->offset,
                           t->rows * (t->cols ? t->cols : 1) * sizeof(float));
            }
        }
    }
    /* the inputs scaled exactly as the encoder saw them in pretraining */
    memcpy(m->scale, src.scale, m->input_dim * sizeof(float));
    memcpy(m->shift, src.shift, m->input_dim * sizeof(float));
    if (src.fill) {
        free(m->fill);
        m->fill = src.fill;
        src.fill = NULL;
    }
    ae_model_free(&src);
    return AE_OK;
}
