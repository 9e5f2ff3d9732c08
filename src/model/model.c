/* What every family shares: building the stacks, the workspace, weight
 * initialisation, the decoder with its likelihood, the named tensors, and
 * the public calls, which hand over to the model's family (family.h). */
#include "ae/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/family.h"
#include "nn/gemm.h"
#include "nn/layers.h"

int ae_threads_set(int n)
{
    return ae_blas_set_threads(n);
}

void ae_stack_add(ae_mlp *s, size_t in, size_t out, ae_activation act, size_t *n_params)
{
    ae_layer *l = &s->layer[s->n++];
    memset(l, 0, sizeof *l);
    l->in = in;
    l->out = out;
    l->act = act;
    l->w_off = *n_params;
    *n_params += in * out;
    l->b_off = *n_params;
    *n_params += out;
}

/* A decoder layer whose weight is its encoder twin's (in -> out), used
 * transposed (out -> in); only the bias is its own. */
static void add_tied_layer(ae_mlp *s, const ae_layer *twin, size_t twin_out, ae_activation act,
                           size_t *n_params)
{
    ae_layer *l = &s->layer[s->n++];
    memset(l, 0, sizeof *l);
    l->in = twin_out;
    l->out = twin->in;
    l->act = act;
    l->transposed = true;
    l->w_off = twin->w_off; /* [twin_out x twin->in] = [in x out] of this layer */
    l->b_off = *n_params;
    *n_params += l->out;
}

static size_t stack_widest(const ae_mlp *s, size_t w)
{
    for (int i = 0; i < s->n; i++) {
        w = s->layer[i].out > w ? s->layer[i].out : w;
        w = s->layer[i].in > w ? s->layer[i].in : w;
    }
    return w;
}

static bool alloc_outputs(ae_mlp *s, size_t B)
{
    for (int i = 0; i < s->n; i++)
        if (!(s->out[i] = malloc(B * s->layer[i].out * sizeof(float))))
            return false;
    return true;
}

/* The decoder: z [, y] -> hidden -> D outputs; a tied decoder mirrors the
 * encoder layer by layer (a Gaussian head's twin is its mu half). */
static void add_decoder(ae_model *t, const ae_config *cfg, size_t *n)
{
    const size_t L = t->latent, C = t->classes;
    const ae_activation act = cfg->model.activation;
    if (cfg->model.tied) {
        for (int i = t->enc.n - 1; i >= 0; i--) {
            const ae_layer *twin = &t->enc.layer[i];
            size_t twin_out = i == t->enc.n - 1 ? L : twin->out;
            add_tied_layer(&t->dec, twin, twin_out, i > 0 ? act : AE_ACT_LINEAR, n);
        }
        return;
    }
    size_t in = L + C;
    for (int i = 0; i < cfg->model.n_decoder; i++) {
        ae_stack_add(&t->dec, in, (size_t)cfg->model.decoder[i], act, n);
        in = (size_t)cfg->model.decoder[i];
    }
    /* outputs per feature: 2 for a likelihood that also learns a variance */
    ae_stack_add(&t->dec, in, t->input_dim * ae_likelihood_get(t->likelihood)->outputs,
                 AE_ACT_LINEAR, n);
    t->dec.layer[0].classes = C;
}

/* Workspace: rows for what the encoder sees (max_batch), R for what the
 * decoder sees (max_batch * iw_samples). */
static bool alloc_workspace(ae_model *t)
{
    const size_t B = t->max_batch, R = t->max_rows, L = t->latent, D = t->input_dim;
    bool ok = alloc_outputs(&t->enc, B) && alloc_outputs(&t->dec, R) &&
              alloc_outputs(&t->enc2, B) && alloc_outputs(&t->prior, B);
    if (!ok)
        return false;
    t->eps = calloc(R * L, sizeof(float));
    t->z = malloc(R * L * sizeof(float));
    t->kept = malloc(B * L);
    for (int i = 0; i < 4; i++)
        ok = ok && (t->scratch[i] = malloc(R * t->widest * sizeof(float)));
    t->ex_recon = calloc(B, sizeof(double));
    t->ex_kl = calloc(B, sizeof(double));
    t->ex_kl2 = calloc(B, sizeof(double));
    t->ex_reg = calloc(B, sizeof(double));
    ok = ok && t->eps && t->z && t->kept && t->ex_recon && t->ex_kl && t->ex_kl2 && t->ex_reg;
    if (ok && t->latent2) {
        t->eps2 = calloc(B * t->latent2, sizeof(float));
        t->z2 = malloc(B * t->latent2 * sizeof(float));
        ok = t->eps2 && t->z2;
    }
    if (ok && t->family->importance_weighted) {
        t->target_rows = malloc(R * D * sizeof(float));
        t->row_nll = malloc(R * sizeof(double));
        t->row_w = malloc(R * sizeof(double));
        ok = t->target_rows && t->row_nll && t->row_w;
    }
    if (ok && t->contractive > 0) {
        size_t k = (size_t)t->enc.n;
        t->tan_u = calloc(k, sizeof(float *));
        t->tan_t = calloc(k, sizeof(float *));
        t->extra_dz = calloc(k, sizeof(float *));
        t->tan_v = malloc(B * D * sizeof(float));
        ok = t->tan_u && t->tan_t && t->extra_dz && t->tan_v;
        for (size_t i = 0; ok && i < k; i++) {
            size_t sz = B * t->enc.layer[i].out * sizeof(float);
            ok = (t->tan_u[i] = malloc(sz)) && (t->tan_t[i] = malloc(sz)) &&
                 (t->extra_dz[i] = malloc(sz));
        }
    }
    return ok;
}

ae_status ae_model_init(ae_model *m, const ae_config *cfg, size_t input_dim, size_t max_batch,
                        ae_error *err)
{
    ae_model t;
    memset(&t, 0, sizeof t);
    if (input_dim == 0 || input_dim > ((size_t)1 << 24) || max_batch == 0 ||
        (unsigned)cfg->model.type >= AE_MODEL_COUNT) {
        ae_error_set(err, "model: impossible sizes (input %zu, batch %zu)", input_dim, max_batch);
        return AE_ERR_USAGE;
    }
    t.type = cfg->model.type;
    t.family = ae_family_get(t.type);
    t.likelihood = cfg->model.likelihood;
    t.lik_params = ae_likelihood_params_default();
    t.lik_params.gaussian_std = (float)cfg->model.gaussian_std;
    t.init = cfg->model.init;
    t.input_dim = input_dim;
    t.latent = (size_t)cfg->model.latent;
    t.max_batch = max_batch;
    t.iw_samples = 1;
    t.family->ops->configure(&t, cfg);
    if (t.iw_samples > AE_MAX_DECODER_ROWS / max_batch) {
        ae_error_set(err, "model.iw_samples: %zu samples for each of a batch of %zu examples are "
                     "more than %d decoder rows; use fewer samples or a smaller batch "
                     "(train.batch_size, or the program's --batch)", t.iw_samples, max_batch,
                     AE_MAX_DECODER_ROWS);
        return AE_ERR_USAGE;
    }
    t.max_rows = max_batch * t.iw_samples;

    /* encoder: x [, y] -> hidden -> the family's head */
    t.missing_indicators = cfg->model.missing_indicators;
    size_t n = 0, in = ae_model_encoder_width(&t) + t.classes;
    for (int i = 0; i < cfg->model.n_encoder; i++) {
        ae_stack_add(&t.enc, in, (size_t)cfg->model.encoder[i], cfg->model.activation, &n);
        in = (size_t)cfg->model.encoder[i];
    }
    t.family->ops->add_head(&t, cfg, in, &n);
    t.enc.layer[0].classes = t.classes;
    if (!t.family->classifier) /* a classifier's head is its own stack (add_stacks) */
        add_decoder(&t, cfg, &n);
    if (t.family->ops->add_stacks)
        t.family->ops->add_stacks(&t, cfg, &n);
    t.n_params = n;
    size_t widest = stack_widest(&t.enc, ae_model_encoder_width(&t));
    widest = stack_widest(&t.dec, widest);
    widest = stack_widest(&t.enc2, widest);
    widest = stack_widest(&t.prior, widest);
    t.widest = widest;

    /* Widths are capped by the config (<= 65536, <= 17 layers) and the batch
     * by the config too, so these products fit easily in size_t. */
    t.params = calloc(n, sizeof(float));
    t.grads = calloc(n, sizeof(float));
    t.scale = malloc(input_dim * sizeof(float));
    t.shift = calloc(input_dim, sizeof(float));
    if (!t.params || !t.grads || !t.scale || !t.shift || !alloc_workspace(&t)) {
        ae_model_free(&t);
        ae_error_set(err, "model: out of memory for %zu parameters and batch %zu", n, max_batch);
        return AE_ERR_NOMEM;
    }
    for (size_t j = 0; j < input_dim; j++)
        t.scale[j] = 1.0f;
    *m = t;
    return AE_OK;
}

static void free_outputs(ae_mlp *s)
{
    for (int i = 0; i < AE_MAX_LAYERS + 1; i++)
        free(s->out[i]);
}

void ae_model_free(ae_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    free(m->scale);
    free(m->shift);
    free(m->fill);
    free(m->xfill);
    free_outputs(&m->enc);
    free_outputs(&m->dec);
    free_outputs(&m->enc2);
    free_outputs(&m->prior);
    free(m->eps);
    free(m->z);
    free(m->eps2);
    free(m->z2);
    free(m->kept);
    for (int i = 0; i < 4; i++)
        free(m->scratch[i]);
    free(m->target_rows);
    free(m->row_nll);
    free(m->row_w);
    for (int i = 0; m->tan_u && i < m->enc.n; i++) {
        free(m->tan_u[i]);
        free(m->tan_t[i]);
        free(m->extra_dz[i]);
    }
    free(m->tan_u);
    free(m->tan_t);
    free(m->extra_dz);
    free(m->tan_v);
    free(m->ex_recon);
    free(m->ex_kl);
    free(m->ex_kl2);
    free(m->ex_reg);
    memset(m, 0, sizeof *m);
}

static void init_layer(float *params, const ae_layer *l, ae_init init, ae_rng *rng)
{
    bool relu_like = l->act == AE_ACT_RELU || l->act == AE_ACT_LEAKY_RELU || l->act == AE_ACT_ELU;
    double he = sqrt(6.0 / (double)l->in), glorot = sqrt(6.0 / (double)(l->in + l->out));
    double bound = init == AE_INIT_HE        ? he
                   : init == AE_INIT_GLOROT  ? glorot
                   : init == AE_INIT_PYTORCH ? 1.0 / sqrt((double)l->in)
                   : relu_like               ? he
                                             : glorot;
    if (!l->transposed) { /* a tied layer's weight is drawn with its twin */
        float *W = params + l->w_off;
        for (size_t i = 0; i < l->in * l->out; i++)
            W[i] = (float)((2.0 * ae_rng_uniform(rng) - 1.0) * bound);
    }
    float *b = params + l->b_off;
    for (size_t i = 0; i < l->out; i++)
        b[i] = init == AE_INIT_PYTORCH ? (float)((2.0 * ae_rng_uniform(rng) - 1.0) * bound) : 0.0f;
}

void ae_model_init_weights(ae_model *m, ae_rng *rng)
{
    ae_mlp *stacks[4] = {&m->enc, &m->dec, &m->enc2, &m->prior};
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < stacks[s]->n; i++)
            init_layer(m->params, &stacks[s]->layer[i], m->init, rng);
    if (m->family->ops->init_weights)
        m->family->ops->init_weights(m);
}

/* ------------------------------------------------------------ pieces */

void ae_model_set_part(ae_model *m, size_t first, size_t total)
{
    m->part_first = total ? first : 0;
    m->part_total = total;
}

size_t ae_model_norm_rows(const ae_model *m, size_t B)
{
    return m->part_total ? m->part_total : B;
}

void ae_model_draw_normals(const ae_model *m, ae_rng *rng, float *buf, size_t B, size_t width)
{
    if (!m->part_total) {
        ae_rng_normal_fill(rng, buf, B * width);
        return;
    }
    ae_rng_normal_fill(rng, buf, m->part_total * width);
    if (m->part_first)
        memmove(buf, buf + m->part_first * width, B * width * sizeof(float));
}

double ae_model_decode_loss(ae_model *m, size_t B, const float *code, const float *target,
                            const int32_t *labels)
{
    const float *y = ae_mlp_forward(&m->dec, m->params, B, code, labels);
    /* Loss = mean over the batch, so each example's gradient is scaled by
     * 1/B (B of the global batch when this is a slice of it). */
    float inv_b = 1.0f / (float)ae_model_norm_rows(m, B);
    return ae_likelihood_get(m->likelihood)
        ->nll(&m->lik_params, B, m->input_dim, y, target, inv_b, m->scratch[0], m->ex_recon);
}

void ae_model_finish_forward(ae_model *m, size_t B, const float *x, const int32_t *labels,
                             double recon, double kl, double kl2, double reg, float beta,
                             ae_loss *out)
{
    size_t N = ae_model_norm_rows(m, B);
    m->last_batch = B;
    m->last_input = x;
    m->last_labels = labels;
    if (out) {
        out->recon = recon / (double)N;
        out->kl = kl / (double)N;
        out->kl2 = kl2 / (double)N;
        out->reg = reg;
        out->loss = out->recon + (double)beta * out->kl + out->reg;
        out->iw = 0.0;
        out->accuracy = 0.0;
    }
}

/* ---------------------------------------------------------- the passes */

size_t ae_model_encoder_width(const ae_model *m)
{
    return m->input_dim * (m->missing_indicators ? 2 : 1);
}

const float *ae_model_encoder_input(ae_model *m, size_t B, const float *x,
                                    const unsigned char *miss)
{
    const size_t D = m->input_dim, W = ae_model_encoder_width(m);
    size_t n_miss = 0;
    for (size_t i = 0; !miss && i < B * D; i++)
        n_miss += x[i] != x[i];
    if (!miss && !n_miss && W == D)
        return x;
    if (!m->xfill && !(m->xfill = malloc(m->max_batch * W * sizeof(float))))
        return NULL;
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < D; j++) {
            float v = x[r * D + j];
            bool gap = miss ? miss[r * D + j] != 0 : v != v;
            m->xfill[r * W + j] = !gap ? v : miss ? v : m->fill ? m->fill[j] : 0.0f;
            if (W > D)
                m->xfill[r * W + D + j] = gap ? 1.0f : 0.0f;
        }
    return m->xfill;
}

/* The encoder's input, or x itself when there is no memory for it (the NaN
 * goes on, and training reports divergence). */
static const float *with_fill(ae_model *m, size_t B, const float *x)
{
    const float *in = ae_model_encoder_input(m, B, x, NULL);
    return in ? in : x;
}

void ae_model_forward(ae_model *m, size_t B, const float *x, const float *target,
                      const int32_t *labels, ae_rng *rng, float beta, ae_loss *out)
{
    m->family->ops->forward(m, B, with_fill(m, B, x), target, labels, rng, beta, out);
}

typedef struct {
    ae_model *m;
    ae_optim *o;
} update_ctx;

/* A layer's gradients are complete: update its bias, and its weight unless
 * it is a tied layer's (updated with its encoder twin, whose backward comes
 * later and adds the other use). */
static void update_layer(void *vctx, const ae_layer *l)
{
    update_ctx *c = vctx;
    ae_optim_update(c->o, c->m->params, c->m->grads, l->b_off, l->out);
    if (!l->transposed)
        ae_optim_update(c->o, c->m->params, c->m->grads, l->w_off, l->in * l->out);
}

void ae_model_backward(ae_model *m, float kl_weight)
{
    m->family->ops->backward(m, kl_weight, NULL);
}

void ae_model_step(ae_model *m, ae_optim *o)
{
    if (!m->frozen_encoder) {
        ae_optim_step(o, m->params, m->grads);
        return;
    }
    /* the encoder's gradients are zero (backward stopped at the head) and
     * its parameters are left out of the step */
    update_ctx c = {m, o};
    ae_optim_begin(o);
    for (int i = 0; i < m->dec.n; i++)
        update_layer(&c, &m->dec.layer[i]);
}

void ae_model_backward_update(ae_model *m, float kl_weight, ae_optim *o)
{
    update_ctx c = {m, o};
    ae_layer_done done = {update_layer, &c};
    ae_optim_begin(o);
    m->family->ops->backward(m, kl_weight, &done);
}

void ae_model_encode(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                     float *logvar)
{
    m->family->ops->encode(m, B, with_fill(m, B, x), labels, mu, logvar);
}

void ae_model_decode(ae_model *m, size_t B, const float *z, const int32_t *labels, float *out)
{
    size_t D = m->input_dim;
    const float *y = ae_mlp_forward(&m->dec, m->params, B, z, labels);
    ae_likelihood_get(m->likelihood)->mean(B, D, y, out);
}

void ae_model_predict(ae_model *m, size_t B, const float *x, float *p)
{
    if (m->family->ops->predict) /* callers check the classifier trait */
        m->family->ops->predict(m, B, with_fill(m, B, x), p);
}

void ae_model_prior_sample(ae_model *m, size_t B, ae_rng *rng, float temperature, float *z)
{
    if (!m->family->ops->prior_sample) { /* no prior: callers check variational */
        memset(z, 0, B * m->latent * sizeof(float));
        return;
    }
    for (size_t i = 0; i < B; i += m->max_batch) {
        size_t b = B - i < m->max_batch ? B - i : m->max_batch;
        m->family->ops->prior_sample(m, b, rng, temperature, z + i * m->latent);
    }
}

void ae_model_kl_terms(ae_model *m, size_t B, double *kl, double *kl_dim, double *kl_dim2)
{
    if (m->family->ops->kl_terms)
        m->family->ops->kl_terms(m, B, kl, kl_dim, kl_dim2);
}

/* --------------------------------------------------------- named tensors */

static size_t add_view(ae_param_view *v, size_t k, size_t max, const char *name, size_t off,
                       size_t rows, size_t cols)
{
    if (k < max) {
        snprintf(v[k].name, sizeof v[k].name, "%s", name);
        v[k].offset = off;
        v[k].rows = rows;
        v[k].cols = cols;
    }
    return k + 1;
}

size_t ae_stack_views(const ae_mlp *s, const char *prefix, size_t split, ae_param_view *v,
                      size_t k, size_t max)
{
    char name[64];
    for (int i = 0; i < s->n; i++) {
        const ae_layer *l = &s->layer[i];
        if (i == s->n - 1 && split) {
            snprintf(name, sizeof name, "%s.mu.weight", prefix);
            k = add_view(v, k, max, name, l->w_off, split, l->in);
            snprintf(name, sizeof name, "%s.mu.bias", prefix);
            k = add_view(v, k, max, name, l->b_off, split, 0);
            snprintf(name, sizeof name, "%s.logvar.weight", prefix);
            k = add_view(v, k, max, name, l->w_off + split * l->in, split, l->in);
            snprintf(name, sizeof name, "%s.logvar.bias", prefix);
            k = add_view(v, k, max, name, l->b_off + split, split, 0);
            continue;
        }
        if (!l->transposed) { /* a tied layer's weight is stored once, as its twin's */
            snprintf(name, sizeof name, "%s.%d.weight", prefix, i);
            k = add_view(v, k, max, name, l->w_off, l->out, l->in);
        }
        snprintf(name, sizeof name, "%s.%d.bias", prefix, i);
        k = add_view(v, k, max, name, l->b_off, l->out, 0);
    }
    return k;
}

size_t ae_model_param_views(const ae_model *m, ae_param_view *views, size_t max)
{
    return m->family->ops->param_views(m, views, max);
}
