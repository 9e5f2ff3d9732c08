#include "ae/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AE_CKPT_FORMAT "ae-toolkit-checkpoint"
#define AE_CKPT_VERSION "1"

void ae_train_state_free(ae_train_state *s)
{
    if (!s)
        return;
    free(s->metrics_csv);
    s->metrics_csv = NULL;
}

static ae_st_tensor vec_tensor(const char *name, const float *data, size_t n)
{
    ae_st_tensor t;
    memset(&t, 0, sizeof t);
    t.name = name;
    t.data = data;
    t.ndim = 1;
    t.shape[0] = n;
    return t;
}

static void format_rng(char *buf, size_t n, const ae_rng *r)
{
    snprintf(buf, n, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, r->s[0], r->s[1],
             r->s[2], r->s[3]);
}

ae_status ae_checkpoint_save(const char *path, const ae_config *cfg, const ae_model *m,
                             const ae_optim *o, const ae_train_state *s, ae_error *err)
{
    ae_param_view views[AE_MAX_PARAM_VIEWS];
    size_t nv = ae_model_param_views(m, views, AE_MAX_PARAM_VIEWS);
    ae_st_tensor tensors[AE_MAX_PARAM_VIEWS + 5];
    size_t nt = 0;
    for (size_t i = 0; i < nv; i++) {
        ae_st_tensor *t = &tensors[nt++];
        memset(t, 0, sizeof *t);
        t->name = views[i].name;
        t->data = m->params + views[i].offset;
        t->ndim = views[i].cols ? 2 : 1;
        t->shape[0] = views[i].rows;
        t->shape[1] = views[i].cols;
    }
    tensors[nt++] = vec_tensor("data.scale", m->scale, m->input_dim);
    tensors[nt++] = vec_tensor("data.shift", m->shift, m->input_dim);
    if (m->fill) /* only a model trained on data with missing values has one */
        tensors[nt++] = vec_tensor("data.fill", m->fill, m->input_dim);
    if (o) {
        tensors[nt++] = vec_tensor("optimizer.m", o->m, o->n);
        if (o->v)
            tensors[nt++] = vec_tensor("optimizer.v", o->v, o->n);
    }

    char *config_json = ae_config_to_json(cfg);
    if (!config_json) {
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    char input_dim[32], img_h[32], img_w[32], epoch[32], step[32], rng[80];
    char batch[32], epoch_rng[80], sums[6 * 40], sched[8 * 40];
    snprintf(input_dim, sizeof input_dim, "%zu", m->input_dim);
    snprintf(img_h, sizeof img_h, "%zu", m->img_h);
    snprintf(img_w, sizeof img_w, "%zu", m->img_w);
    ae_st_meta meta[20];
    size_t nm = 0;
    meta[nm++] = (ae_st_meta){"format", AE_CKPT_FORMAT};
    meta[nm++] = (ae_st_meta){"format_version", AE_CKPT_VERSION};
    meta[nm++] = (ae_st_meta){"config", config_json};
    meta[nm++] = (ae_st_meta){"input_dim", input_dim};
    meta[nm++] = (ae_st_meta){"img_h", img_h};
    meta[nm++] = (ae_st_meta){"img_w", img_w};
    meta[nm++] = (ae_st_meta){"backend", ae_backend_describe()};
    meta[nm++] = (ae_st_meta){"precision", ae_precision_describe()};
    if (s) {
        snprintf(epoch, sizeof epoch, "%d", s->epoch);
        snprintf(step, sizeof step, "%" PRIu64, s->step);
        format_rng(rng, sizeof rng, &s->rng);
        meta[nm++] = (ae_st_meta){"epoch", epoch};
        meta[nm++] = (ae_st_meta){"step", step};
        meta[nm++] = (ae_st_meta){"rng", rng};
        if (s->metrics_csv)
            meta[nm++] = (ae_st_meta){"metrics_csv", s->metrics_csv};
        const ae_schedule_state *q = &s->sched;
        snprintf(sched, sizeof sched, "%a %a %d %a %d %a %d %d", q->lr, q->plateau_best,
                 q->plateau_bad, q->stop_best, q->stop_bad, q->best_val, q->best_epoch,
                 (int)q->stopped);
        meta[nm++] = (ae_st_meta){"schedule", sched};
        if (s->batch > 0) {
            snprintf(batch, sizeof batch, "%zu", s->batch);
            format_rng(epoch_rng, sizeof epoch_rng, &s->epoch_rng);
            snprintf(sums, sizeof sums, "%a %a %a %a %a %a", s->sums[0], s->sums[1],
                     s->sums[2], s->sums[3], s->sums[4], s->sums[5]);
            meta[nm++] = (ae_st_meta){"batch", batch};
            meta[nm++] = (ae_st_meta){"epoch_rng", epoch_rng};
            meta[nm++] = (ae_st_meta){"epoch_sums", sums};
        }
    }
    ae_status st = ae_safetensors_write(path, tensors, nt, meta, nm, err);
    free(config_json);
    return st;
}

/* "lr plateau_best plateau_bad stop_best stop_bad best_val best_epoch
 * stopped", as ae_checkpoint_save writes it. */
static ae_status parse_schedule(const char *text, ae_schedule_state *q)
{
    double d[8];
    char *end = (char *)text;
    for (int i = 0; i < 8; i++) {
        const char *from = end;
        d[i] = strtod(from, &end);
        if (end == from)
            return AE_ERR_INPUT;
    }
    if (*end != '\0' || !(d[0] >= 0) || d[2] < 0 || d[4] < 0 || d[6] < 0 || d[2] > 1e9 ||
        d[4] > 1e9 || d[6] > 1e9 || (d[7] != 0 && d[7] != 1))
        return AE_ERR_INPUT;
    *q = (ae_schedule_state){d[0], d[1], (int)d[2], d[3], (int)d[4], d[5], (int)d[6], d[7] != 0};
    return AE_OK;
}

static ae_status meta_size(const ae_checkpoint *ck, const char *key, size_t *out, ae_error *err)
{
    const char *v = ae_safetensors_meta(&ck->st, key);
    char *end = NULL;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || end == v || *end != '\0' || x > ((size_t)1 << 40)) {
        ae_error_set(err, "%s: checkpoint metadata '%s' is %s", ck->path, key,
                     v ? "not a valid size" : "missing");
        return AE_ERR_INPUT;
    }
    *out = (size_t)x;
    return AE_OK;
}

ae_status ae_checkpoint_read(ae_checkpoint *ck, const char *path, ae_error *err)
{
    ae_checkpoint t;
    memset(&t, 0, sizeof t);
    t.path = path;
    ae_status st = ae_safetensors_read(&t.st, path, err);
    if (st != AE_OK)
        return st;
    const char *fmt = ae_safetensors_meta(&t.st, "format");
    const char *ver = ae_safetensors_meta(&t.st, "format_version");
    const char *cfg = ae_safetensors_meta(&t.st, "config");
    if (!fmt || strcmp(fmt, AE_CKPT_FORMAT) != 0 || !ver || !cfg) {
        ae_error_set(err, "%s: a safetensors file, but not a checkpoint of this toolkit "
                          "(metadata 'format' is %s)", path, fmt ? fmt : "missing");
        ae_safetensors_free(&t.st);
        return AE_ERR_INPUT;
    }
    if (strcmp(ver, AE_CKPT_VERSION) != 0) {
        ae_error_set(err, "%s: checkpoint format version %s; this build reads version %s", path,
                     ver, AE_CKPT_VERSION);
        ae_safetensors_free(&t.st);
        return AE_ERR_INPUT;
    }
    if ((st = meta_size(&t, "input_dim", &t.input_dim, err)) != AE_OK ||
        (st = meta_size(&t, "img_h", &t.img_h, err)) != AE_OK ||
        (st = meta_size(&t, "img_w", &t.img_w, err)) != AE_OK) {
        ae_safetensors_free(&t.st);
        return st;
    }
    t.config_json = malloc(strlen(cfg) + 1);
    if (!t.config_json) {
        ae_safetensors_free(&t.st);
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    strcpy(t.config_json, cfg);
    *ck = t;
    return AE_OK;
}

void ae_checkpoint_free(ae_checkpoint *ck)
{
    if (!ck)
        return;
    ae_safetensors_free(&ck->st);
    free(ck->config_json);
    memset(ck, 0, sizeof *ck);
}

/* Finds name with exactly the given shape (cols == 0: a vector of rows). */
static ae_status want(const ae_checkpoint *ck, const char *name, size_t rows, size_t cols,
                      const float **data, ae_error *err)
{
    const ae_st_tensor *t = ae_safetensors_find(&ck->st, name);
    if (!t) {
        ae_error_set(err, "%s: tensor %s is missing: the checkpoint comes from a different "
                          "architecture or is damaged", ck->path, name);
        return AE_ERR_INPUT;
    }
    int ok = cols ? (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
                  : (t->ndim == 1 && t->shape[0] == rows);
    if (!ok) {
        char got[64] = "[", exp[64];
        for (size_t i = 0; i < t->ndim && i < 4; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%zu", i ? ", " : "",
                     t->shape[i]);
        strcat(got, "]");
        if (cols)
            snprintf(exp, sizeof exp, "[%zu, %zu]", rows, cols);
        else
            snprintf(exp, sizeof exp, "[%zu]", rows);
        ae_error_set(err, "%s: tensor %s has shape %s but the model expects %s: the checkpoint "
                          "comes from a different architecture", ck->path, name, got, exp);
        return AE_ERR_INPUT;
    }
    *data = t->data;
    return AE_OK;
}

static ae_status parse_rng(const char *hex, ae_rng *rng)
{
    if (!hex || strlen(hex) != 64)
        return AE_ERR_INPUT;
    for (int i = 0; i < 4; i++) {
        char word[17];
        memcpy(word, hex + 16 * i, 16);
        word[16] = '\0';
        char *end = NULL;
        rng->s[i] = strtoull(word, &end, 16);
        if (*end != '\0')
            return AE_ERR_INPUT;
    }
    return AE_OK;
}

ae_status ae_checkpoint_restore(const ae_checkpoint *ck, ae_model *m, ae_optim *o,
                                ae_train_state *s, ae_error *err)
{
    if (ck->input_dim != m->input_dim) {
        ae_error_set(err, "%s: the checkpoint's model takes %zu inputs, this one %zu: a "
                          "different architecture", ck->path, ck->input_dim, m->input_dim);
        return AE_ERR_INPUT;
    }
    ae_param_view views[AE_MAX_PARAM_VIEWS];
    size_t nv = ae_model_param_views(m, views, AE_MAX_PARAM_VIEWS);
    const float *src[AE_MAX_PARAM_VIEWS];
    const float *scale, *shift, *om = NULL, *ov = NULL;
    ae_status st;
    for (size_t i = 0; i < nv; i++)
        if ((st = want(ck, views[i].name, views[i].rows, views[i].cols, &src[i], err)) != AE_OK)
            return st;
    const float *fill = NULL;
    if (ae_safetensors_find(&ck->st, "data.fill") &&
        (st = want(ck, "data.fill", m->input_dim, 0, &fill, err)) != AE_OK)
        return st;
    if ((st = want(ck, "data.scale", m->input_dim, 0, &scale, err)) != AE_OK ||
        (st = want(ck, "data.shift", m->input_dim, 0, &shift, err)) != AE_OK)
        return st;
    if (o) {
        if ((st = want(ck, "optimizer.m", o->n, 0, &om, err)) != AE_OK)
            return st;
        if (o->v && (st = want(ck, "optimizer.v", o->n, 0, &ov, err)) != AE_OK)
            return st;
    }
    ae_train_state ts;
    memset(&ts, 0, sizeof ts);
    if (s) {
        size_t epoch = 0, step = 0;
        if ((st = meta_size(ck, "epoch", &epoch, err)) != AE_OK ||
            (st = meta_size(ck, "step", &step, err)) != AE_OK)
            return st;
        if (parse_rng(ae_safetensors_meta(&ck->st, "rng"), &ts.rng) != AE_OK) {
            ae_error_set(err, "%s: checkpoint metadata 'rng' is missing or malformed", ck->path);
            return AE_ERR_INPUT;
        }
        ts.epoch = (int)epoch;
        ts.step = step;
        if (ae_safetensors_meta(&ck->st, "batch")) {
            const char *sums = ae_safetensors_meta(&ck->st, "epoch_sums");
            char *end = (char *)sums;
            /* five sums before iwae (no iw share), six since */
            for (int i = 0; sums && i < 6 && !(i == 5 && *end == '\0'); i++) {
                const char *from = end;
                ts.sums[i] = strtod(from, &end);
                if (end == from)
                    sums = NULL;
            }
            if ((st = meta_size(ck, "batch", &ts.batch, err)) != AE_OK)
                return st;
            if (!sums || *end != '\0' ||
                parse_rng(ae_safetensors_meta(&ck->st, "epoch_rng"), &ts.epoch_rng) != AE_OK) {
                ae_error_set(err, "%s: checkpoint metadata 'epoch_rng' or 'epoch_sums' is "
                                  "missing or malformed", ck->path);
                return AE_ERR_INPUT;
            }
        }
        const char *sched = ae_safetensors_meta(&ck->st, "schedule");
        if (sched && parse_schedule(sched, &ts.sched) != AE_OK) {
            ae_error_set(err, "%s: checkpoint metadata 'schedule' is malformed", ck->path);
            return AE_ERR_INPUT;
        }
        const char *csv = ae_safetensors_meta(&ck->st, "metrics_csv");
        if (csv) {
            ts.metrics_csv = malloc(strlen(csv) + 1);
            if (!ts.metrics_csv) {
                ae_error_set(err, "%s: out of memory", ck->path);
                return AE_ERR_NOMEM;
            }
            strcpy(ts.metrics_csv, csv);
        }
    }
    float *fill_copy = NULL;
    if (fill && !(fill_copy = malloc(m->input_dim * sizeof(float)))) {
        free(ts.metrics_csv);
        ae_error_set(err, "%s: out of memory", ck->path);
        return AE_ERR_NOMEM;
    }
    /* Everything is validated: now copy (the outputs stay untouched on failure). */
    for (size_t i = 0; i < nv; i++) {
        size_t count = views[i].rows * (views[i].cols ? views[i].cols : 1);
        memcpy(m->params + views[i].offset, src[i], count * sizeof(float));
    }
    memcpy(m->scale, scale, m->input_dim * sizeof(float));
    memcpy(m->shift, shift, m->input_dim * sizeof(float));
    free(m->fill);
    m->fill = fill_copy;
    if (fill)
        memcpy(m->fill, fill, m->input_dim * sizeof(float));
    m->img_h = ck->img_h;
    m->img_w = ck->img_w;
    if (o) {
        memcpy(o->m, om, o->n * sizeof(float));
        if (o->v)
            memcpy(o->v, ov, o->n * sizeof(float));
        o->t = s ? ts.step : 0;
    }
    if (s)
        *s = ts;
    return AE_OK;
}

/* A lower bound on the parameters of the model c describes for D inputs:
 * every model type has the weights of the chain D -> encoder... -> latent.
 * Products of widths (<= 2^16 each) and D fit in a double exactly enough. */
static double min_params(const ae_config *c, size_t D)
{
    double n = 0, prev = (double)D;
    for (int i = 0; i < c->model.n_encoder; i++) {
        n += prev * c->model.encoder[i];
        prev = c->model.encoder[i];
    }
    return n + prev * c->model.latent;
}

ae_status ae_checkpoint_load_model(const char *path, size_t max_batch, ae_config *cfg,
                                   ae_model *m, ae_error *err)
{
    ae_checkpoint ck;
    ae_status st = ae_checkpoint_read(&ck, path, err);
    if (st != AE_OK)
        return st;
    ae_config c;
    st = ae_config_parse(&c, ck.config_json, path, NULL, 0, err);
    if (st != AE_OK) {
        ae_error_prefix(err, "%s: the spec stored in the checkpoint is invalid", path);
        ae_checkpoint_free(&ck);
        return AE_ERR_INPUT;
    }
    /* The file must hold every parameter; checking that first keeps a small
     * file whose spec describes a huge model from allocating that model. */
    double stored = 0;
    for (size_t i = 0; i < ck.st.n_tensors; i++) {
        double k = 1;
        for (size_t d = 0; d < ck.st.tensors[i].ndim; d++)
            k *= (double)ck.st.tensors[i].shape[d];
        stored += k;
    }
    if (stored < min_params(&c, ck.input_dim)) {
        ae_error_set(err, "%s: holds %.0f numbers, fewer than the %.0f parameters its spec "
                     "needs at least; it comes from a different architecture", path, stored,
                     min_params(&c, ck.input_dim));
        ae_checkpoint_free(&ck);
        return AE_ERR_INPUT;
    }
    ae_model model;
    st = ae_model_init(&model, &c, ck.input_dim, max_batch, err);
    if (st == AE_OK) {
        st = ae_checkpoint_restore(&ck, &model, NULL, NULL, err);
        if (st != AE_OK)
            ae_model_free(&model);
    }
    ae_checkpoint_free(&ck);
    if (st == AE_OK) {
        *cfg = c;
        *m = model;
    }
    return st;
}
