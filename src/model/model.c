#include "ae/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm.h"
#include "nn/layers.h"

int ae_threads_set(int n)
{
    return ae_blas_set_threads(n);
}

static void add_layer(ae_mlp *s, size_t in, size_t out, ae_activation act, size_t *n_params)
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

ae_status ae_model_init(ae_model *m, const ae_config *cfg, size_t input_dim, size_t max_batch,
                        ae_error *err)
{
    ae_model t;
    memset(&t, 0, sizeof t);
    if (input_dim == 0 || input_dim > ((size_t)1 << 24) || max_batch == 0) {
        ae_error_set(err, "model: impossible sizes (input %zu, batch %zu)", input_dim, max_batch);
        return AE_ERR_USAGE;
    }
    const ae_model_type type = cfg->model.type;
    t.type = type;
    t.likelihood = cfg->model.likelihood;
    t.lik_params = ae_likelihood_params_default();
    t.lik_params.gaussian_std = (float)cfg->model.gaussian_std;
    t.init = cfg->model.init;
    t.input_dim = input_dim;
    t.latent = (size_t)cfg->model.latent;
    t.latent2 = type == AE_MODEL_HVAE ? (size_t)cfg->model.latent2 : 0;
    t.classes = type == AE_MODEL_CVAE ? (size_t)cfg->model.classes : 0;
    t.max_batch = max_batch;
    if (type == AE_MODEL_AE) {
        t.sparsity = cfg->model.sparsity.type;
        t.sparsity_weight = (float)cfg->model.sparsity.weight;
        t.sparsity_rho = (float)cfg->model.sparsity.rho;
        t.topk = t.sparsity == AE_SPARSE_TOPK ? (size_t)cfg->model.sparsity.k : 0;
        t.contractive = (float)cfg->model.contractive;
        t.contractive_samples = cfg->model.contractive_samples;
    }
    const size_t L = t.latent, C = t.classes;
    const ae_activation act = cfg->model.activation;

    /* encoder: x [, y] -> hidden -> head (the code, or mu | logvar) */
    size_t n = 0, in = input_dim + C;
    for (int i = 0; i < cfg->model.n_encoder; i++) {
        add_layer(&t.enc, in, (size_t)cfg->model.encoder[i], act, &n);
        in = (size_t)cfg->model.encoder[i];
    }
    if (type == AE_MODEL_AE)
        add_layer(&t.enc, in, L, cfg->model.code_activation, &n);
    else
        add_layer(&t.enc, in, 2 * L, AE_ACT_LINEAR, &n);
    t.enc.layer[0].classes = C;

    /* decoder: z [, y] -> hidden -> D outputs; a tied decoder mirrors the
     * encoder layer by layer (a VAE head's twin is its mu half). */
    if (cfg->model.tied) {
        for (int i = t.enc.n - 1; i >= 0; i--) {
            const ae_layer *twin = &t.enc.layer[i];
            size_t twin_out = i == t.enc.n - 1 ? L : twin->out;
            add_tied_layer(&t.dec, twin, twin_out, i > 0 ? act : AE_ACT_LINEAR, &n);
        }
    } else {
        in = L + C;
        for (int i = 0; i < cfg->model.n_decoder; i++) {
            add_layer(&t.dec, in, (size_t)cfg->model.decoder[i], act, &n);
            in = (size_t)cfg->model.decoder[i];
        }
        /* outputs per feature: 2 for a likelihood that also learns a variance */
        add_layer(&t.dec, in, input_dim * ae_likelihood_get(t.likelihood)->outputs,
                  AE_ACT_LINEAR, &n);
        t.dec.layer[0].classes = C;
    }

    /* hvae: q(z2|z1) through hidden2, p(z1|z2) through hidden2 reversed */
    if (type == AE_MODEL_HVAE) {
        in = L;
        for (int i = 0; i < cfg->model.n_hidden2; i++) {
            add_layer(&t.enc2, in, (size_t)cfg->model.hidden2[i], act, &n);
            in = (size_t)cfg->model.hidden2[i];
        }
        add_layer(&t.enc2, in, 2 * t.latent2, AE_ACT_LINEAR, &n);
        in = t.latent2;
        for (int i = cfg->model.n_hidden2 - 1; i >= 0; i--) {
            add_layer(&t.prior, in, (size_t)cfg->model.hidden2[i], act, &n);
            in = (size_t)cfg->model.hidden2[i];
        }
        add_layer(&t.prior, in, 2 * L, AE_ACT_LINEAR, &n);
    }
    t.n_params = n;
    size_t widest = stack_widest(&t.enc, input_dim);
    widest = stack_widest(&t.dec, widest);
    widest = stack_widest(&t.enc2, widest);
    widest = stack_widest(&t.prior, widest);
    t.widest = widest;

    /* Widths are capped by the config (<= 65536, <= 17 layers) and the batch
     * by the config too, so these products fit easily in size_t. */
    size_t B = max_batch;
    t.params = calloc(n, sizeof(float));
    t.grads = calloc(n, sizeof(float));
    t.scale = malloc(input_dim * sizeof(float));
    t.shift = calloc(input_dim, sizeof(float));
    bool ok = t.params && t.grads && t.scale && t.shift && alloc_outputs(&t.enc, B) &&
              alloc_outputs(&t.dec, B) && alloc_outputs(&t.enc2, B) &&
              alloc_outputs(&t.prior, B);
    if (ok) {
        t.eps = calloc(B * L, sizeof(float));
        t.z = malloc(B * L * sizeof(float));
        t.kept = malloc(B * L);
        for (int i = 0; i < 4; i++)
            ok = ok && (t.scratch[i] = malloc(B * widest * sizeof(float)));
        t.ex_recon = calloc(B, sizeof(double));
        t.ex_kl = calloc(B, sizeof(double));
        t.ex_kl2 = calloc(B, sizeof(double));
        t.ex_reg = calloc(B, sizeof(double));
        ok = ok && t.eps && t.z && t.kept && t.ex_recon && t.ex_kl && t.ex_kl2 && t.ex_reg;
    }
    if (ok && t.latent2) {
        t.eps2 = calloc(B * t.latent2, sizeof(float));
        t.z2 = malloc(B * t.latent2 * sizeof(float));
        ok = t.eps2 && t.z2;
    }
    if (ok && t.contractive > 0) {
        size_t k = (size_t)t.enc.n;
        t.tan_u = calloc(k, sizeof(float *));
        t.tan_t = calloc(k, sizeof(float *));
        t.extra_dz = calloc(k, sizeof(float *));
        t.tan_v = malloc(B * input_dim * sizeof(float));
        ok = t.tan_u && t.tan_t && t.extra_dz && t.tan_v;
        for (size_t i = 0; ok && i < k; i++) {
            size_t sz = B * t.enc.layer[i].out * sizeof(float);
            ok = (t.tan_u[i] = malloc(sz)) && (t.tan_t[i] = malloc(sz)) &&
                 (t.extra_dz[i] = malloc(sz));
        }
    }
    if (!ok) {
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
    if (m->type == AE_MODEL_HVAE) {
        /* The learned prior p(z1|z2) starts as N(0, I): a zero output layer.
         * Random weights chained through three networks would start it with
         * log-variances of +-20 and a KL of 1e5..1e7 nats. */
        const ae_layer *out = &m->prior.layer[m->prior.n - 1];
        memset(m->params + out->w_off, 0, out->in * out->out * sizeof(float));
        memset(m->params + out->b_off, 0, out->out * sizeof(float));
    }
}

/* ------------------------------------------------------------ pieces */

static bool clamped(float lv)
{
    return lv <= AE_LOGVAR_MIN || lv >= AE_LOGVAR_MAX;
}

void ae_model_set_part(ae_model *m, size_t first, size_t total)
{
    m->part_first = total ? first : 0;
    m->part_total = total;
}

/* The number of rows a batch mean divides by: the global batch's. */
static size_t norm_rows(const ae_model *m, size_t B)
{
    return m->part_total ? m->part_total : B;
}

/* B rows of `width` standard normals into buf (room for max_batch rows):
 * for a slice of a global batch, the whole batch's draws, of which the
 * slice's rows are kept. */
static void draw_normals(const ae_model *m, ae_rng *rng, float *buf, size_t B, size_t width)
{
    if (!m->part_total) {
        ae_rng_normal_fill(rng, buf, B * width);
        return;
    }
    ae_rng_normal_fill(rng, buf, m->part_total * width);
    if (m->part_first)
        memmove(buf, buf + m->part_first * width, B * width * sizeof(float));
}

/* z = mu + exp(lv/2) * eps from rows [mu | logvar]; eps from rng, or 0. */
static void reparameterise(const ae_model *m, const float *head, size_t B, size_t L,
                           ae_rng *rng, float *eps, float *z)
{
    if (rng)
        draw_normals(m, rng, eps, B, L);
    else
        memset(eps, 0, B * L * sizeof(float));
    for (size_t r = 0; r < B; r++) {
        const float *mu = head + r * 2 * L, *lv = mu + L;
        for (size_t j = 0; j < L; j++)
            z[r * L + j] = mu[j] + expf(0.5f * lv[j]) * eps[r * L + j];
    }
}

/* dhead [B x 2L] from dz through the reparameterisation, plus w/B times the
 * gradient of KL(q || N(0, I)); clamped log-variances get none. */
static void reparam_backward(const float *head, const float *eps, const float *dz, size_t B,
                             size_t N, size_t L, float w, float *dhead)
{
    float s = w / (float)N;
    for (size_t r = 0; r < B; r++) {
        const float *mu = head + r * 2 * L, *lv = mu + L;
        float *dmu = dhead + r * 2 * L, *dlv = dmu + L;
        for (size_t j = 0; j < L; j++) {
            float sd = expf(0.5f * lv[j]);
            dmu[j] = dz[r * L + j] + s * mu[j];
            dlv[j] = clamped(lv[j]) ? 0.0f
                                    : dz[r * L + j] * eps[r * L + j] * 0.5f * sd +
                                          s * 0.5f * (expf(lv[j]) - 1.0f);
        }
    }
}

/* The z1 term of the hvae's ELBO, E[log q(z1|x) - log p(z1|z2)], with z2 drawn
 * from q(z2|z1) at the sampled z1: the closed-form KL between q(z1|x) and
 * p(z1|z2) would integrate over a z1 that z2 did not see, so instead the
 * entropy of q(z1|x) is taken in closed form and log p(z1|z2) at the sample:
 *   sum_j 1/2 (plv_j - lv_j - 1 + (z1_j - pmu_j)^2 exp(-plv_j)),
 * an unbiased estimate.  q rows [mu | lv], p rows [pmu | plv], width 2L.
 * With s != 0 adds s times the gradients: to dz1 [B x L] (the direct z1
 * dependence), to dlv (rows of width 2L, offset L: the entropy's), and to
 * dp (rows of width 2L).  Each destination may be NULL. */
static double kl_z1(const float *q, const float *z1, const float *p, size_t B, size_t L,
                    double *per, float s, float *dz1, float *dq, float *dp)
{
    double total = 0;
    for (size_t r = 0; r < B; r++) {
        const float *lv = q + r * 2 * L + L, *pm = p + r * 2 * L, *pl = pm + L;
        const float *z = z1 + r * L;
        double row = 0;
        for (size_t j = 0; j < L; j++) {
            float d = z[j] - pm[j], inv = expf(-pl[j]);
            row += 0.5 * ((double)pl[j] - lv[j] - 1.0 + (double)d * d * inv);
            if (dz1)
                dz1[r * L + j] += s * d * inv;
            if (dq && !clamped(lv[j]))
                dq[r * 2 * L + L + j] -= 0.5f * s;
            if (dp) {
                dp[r * 2 * L + j] -= s * d * inv;
                if (!clamped(pl[j]))
                    dp[r * 2 * L + L + j] += s * 0.5f * (1.0f - d * d * inv);
            }
        }
        if (per)
            per[r] = row;
        total += row;
    }
    return total;
}

/* Keeps the k largest-magnitude units of each row of code [B x L], zeroing
 * the rest; kept[] records the choice for backward.  Ties go to the lower
 * index, so the selection is deterministic. */
static void top_k(float *code, size_t B, size_t L, size_t k, unsigned char *kept)
{
    for (size_t r = 0; r < B; r++) {
        float *row = code + r * L;
        unsigned char *keep = kept + r * L;
        for (size_t j = 0; j < L; j++) {
            /* rank = how many units beat this one */
            size_t rank = 0;
            float a = fabsf(row[j]);
            for (size_t i = 0; i < L && rank < k; i++) {
                float b = fabsf(row[i]);
                rank += b > a || (b == a && i < j);
            }
            keep[j] = rank < k;
        }
        for (size_t j = 0; j < L; j++)
            if (!keep[j])
                row[j] = 0.0f;
    }
}

/* Sparsity penalty on code h [B x L] (batch mean), and with dh its gradient. */
static double sparsity_penalty(const ae_model *m, const float *h, size_t B, double *per,
                               float *dh)
{
    size_t L = m->latent;
    double total = 0;
    if (m->sparsity == AE_SPARSE_L1) {
        float w = m->sparsity_weight;
        for (size_t r = 0; r < B; r++) {
            double row = 0;
            for (size_t j = 0; j < L; j++) {
                float v = h[r * L + j];
                row += fabsf(v);
                if (dh)
                    dh[r * L + j] += w / (float)norm_rows(m, B) * (v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f);
            }
            per[r] += w * row;
            total += w * row;
        }
        return total / (double)norm_rows(m, B);
    }
    if (m->sparsity != AE_SPARSE_KL)
        return 0.0;
    /* sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of unit j: a
     * penalty of the batch, spread evenly over its examples. */
    float rho = m->sparsity_rho, w = m->sparsity_weight;
    for (size_t j = 0; j < L; j++) {
        double mean = 0;
        for (size_t r = 0; r < B; r++)
            mean += h[r * L + j];
        mean /= (double)B;
        double rh = fmin(fmax(mean, 1e-6), 1 - 1e-6);
        total += rho * log(rho / rh) + (1 - rho) * log((1 - rho) / (1 - rh));
        if (dh) {
            float g = (float)(w * (-rho / rh + (1 - rho) / (1 - rh)) / (double)B);
            for (size_t r = 0; r < B; r++)
                dh[r * L + j] += g;
        }
    }
    for (size_t r = 0; r < B; r++)
        per[r] += w * total;
    return w * total;
}

/* ----------------------------------------------------- contractive penalty */

/* lambda * mean_b ||d code / d x||_F^2.
 * One layer (code = f(W x + b)): exact, sum_j f'(a_j)^2 ||W_j||^2.
 * Deeper: Hutchinson's unbiased estimate mean_k ||J v_k||^2, v_k ~ N(0, I),
 * with J v computed exactly by forward-mode tangents t_i = f_i' .* (W_i t_{i-1}),
 * t_{-1} = v.  The probes come from rng, whose state is kept so that backward
 * differentiates exactly the estimate forward computed. */
/* J v for the probe in m->tan_v by forward-mode tangents through the encoder:
 * u_i = W_i t_(i-1), t_i = f_i'(a_i) .* u_i, t_(-1) = v.  Returns t of the code. */
static const float *tangent_pass(ae_model *m, size_t B)
{
    const ae_mlp *e = &m->enc;
    const float *t = m->tan_v;
    for (int i = 0; i < e->n; i++) {
        const ae_layer *l = &e->layer[i];
        ae_gemm(false, true, B, l->out, l->in, 1.0f, t, l->in, m->params + l->w_off, l->in, 0.0f,
                m->tan_u[i], l->out);
        for (size_t q = 0; q < B * l->out; q++)
            m->tan_t[i][q] = ae_act_deriv(l->act, e->out[i][q]) * m->tan_u[i][q];
        t = m->tan_t[i];
    }
    return t;
}

static double contractive_forward(ae_model *m, size_t B, ae_rng *rng)
{
    const ae_mlp *e = &m->enc;
    double total = 0;
    if (e->n == 1) {
        const ae_layer *l = &e->layer[0];
        const float *W = m->params + l->w_off, *h = e->out[0];
        for (size_t j = 0; j < l->out; j++) {
            double sq = 0;
            for (size_t i = 0; i < l->in; i++)
                sq += (double)W[j * l->in + i] * W[j * l->in + i];
            for (size_t r = 0; r < B; r++) {
                float d = ae_act_deriv(l->act, h[r * l->out + j]);
                m->ex_reg[r] += m->contractive * d * d * sq;
                total += d * d * sq;
            }
        }
        return m->contractive * total / (double)norm_rows(m, B);
    }
    if (!rng)
        return 0.0; /* evaluation without noise: the stochastic estimate is skipped */
    m->probe_rng = *rng;
    m->probes_drawn = true;
    int K = m->contractive_samples;
    for (int k = 0; k < K; k++) {
        draw_normals(m, rng, m->tan_v, B, m->input_dim);
        const float *t = tangent_pass(m, B);
        size_t L = e->layer[e->n - 1].out;
        for (size_t r = 0; r < B; r++) {
            double row = 0;
            for (size_t j = 0; j < L; j++)
                row += (double)t[r * L + j] * t[r * L + j];
            m->ex_reg[r] += m->contractive * row / K;
            total += row;
        }
    }
    return m->contractive * total / ((double)norm_rows(m, B) * K);
}

/* Adds the penalty's weight gradients to grads and its pre-activation
 * gradients to m->extra_dz (zeroed here). */
static void contractive_backward(ae_model *m, size_t B)
{
    const ae_mlp *e = &m->enc;
    for (int i = 0; i < e->n; i++)
        memset(m->extra_dz[i], 0, B * e->layer[i].out * sizeof(float));
    if (e->n == 1) {
        const ae_layer *l = &e->layer[0];
        const float *W = m->params + l->w_off, *h = e->out[0];
        float *dW = m->grads + l->w_off;
        float s = m->contractive / (float)norm_rows(m, B);
        for (size_t j = 0; j < l->out; j++) {
            double sq = 0, sum_d2 = 0;
            for (size_t i = 0; i < l->in; i++)
                sq += (double)W[j * l->in + i] * W[j * l->in + i];
            for (size_t r = 0; r < B; r++) {
                float y = h[r * l->out + j], d = ae_act_deriv(l->act, y);
                sum_d2 += d * d;
                m->extra_dz[0][r * l->out + j] = s * 2.0f * d * ae_act_deriv2(l->act, y) * (float)sq;
            }
            float g = (float)(2.0 * s * sum_d2);
            for (size_t i = 0; i < l->in; i++)
                dW[j * l->in + i] += g * W[j * l->in + i];
        }
        return;
    }
    if (!m->probes_drawn)
        return;
    ae_rng rng = m->probe_rng;
    int K = m->contractive_samples;
    /* S[3] and S[1] are free while the encoder waits for its backward pass */
    float *dt = m->scratch[3], *dprev = m->scratch[1];
    for (int k = 0; k < K; k++) {
        /* recompute this probe's tangents (forward kept only the last) */
        draw_normals(m, &rng, m->tan_v, B, m->input_dim);
        const float *t = tangent_pass(m, B);
        size_t L = e->layer[e->n - 1].out;
        float s = 2.0f * m->contractive / ((float)norm_rows(m, B) * (float)K);
        for (size_t q = 0; q < B * L; q++)
            dt[q] = s * t[q];
        for (int i = e->n - 1; i >= 0; i--) {
            const ae_layer *l = &e->layer[i];
            const float *h = e->out[i], *u = m->tan_u[i];
            for (size_t q = 0; q < B * l->out; q++) {
                /* t = f'(a) u: the f' factor carries gradient into a via f'' */
                m->extra_dz[i][q] += dt[q] * u[q] * ae_act_deriv2(l->act, h[q]);
                dt[q] *= ae_act_deriv(l->act, h[q]); /* now d/du */
            }
            const float *tin = i > 0 ? m->tan_t[i - 1] : m->tan_v;
            ae_gemm(true, false, l->out, l->in, B, 1.0f, dt, l->out, tin, l->in, 1.0f,
                    m->grads + l->w_off, l->in);
            if (i > 0) {
                ae_gemm(false, false, B, l->in, l->out, 1.0f, dt, l->out, m->params + l->w_off,
                        l->in, 0.0f, dprev, l->in);
                memcpy(dt, dprev, B * l->in * sizeof(float));
            }
        }
    }
}

/* ---------------------------------------------------------- the passes */

/* The code the decoder sees: an ae's head after top-k, or z. */
static const float *encode_and_sample(ae_model *m, size_t B, const float *x,
                                      const int32_t *labels, ae_rng *rng)
{
    float *head = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    size_t L = m->latent;
    if (m->type == AE_MODEL_AE) {
        if (m->topk)
            top_k(head, B, L, m->topk, m->kept);
        return head;
    }
    ae_clamp_logvar(head, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    reparameterise(m, head, B, L, rng, m->eps, m->z);
    return m->z;
}

void ae_model_forward(ae_model *m, size_t B, const float *x, const float *target,
                      const int32_t *labels, ae_rng *rng, float beta, ae_loss *out)
{
    size_t D = m->input_dim, L = m->latent, L2 = m->latent2;
    memset(m->ex_reg, 0, B * sizeof(double));
    m->probes_drawn = false;
    const float *code = encode_and_sample(m, B, x, labels, rng);
    double kl = 0, kl2 = 0, reg = 0;
    if (m->type == AE_MODEL_HVAE) {
        float *h2 = (float *)ae_mlp_forward(&m->enc2, m->params, B, m->z, NULL);
        ae_clamp_logvar(h2, B, L2, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
        reparameterise(m, h2, B, L2, rng, m->eps2, m->z2);
        float *p1 = (float *)ae_mlp_forward(&m->prior, m->params, B, m->z2, NULL);
        ae_clamp_logvar(p1, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
        kl2 = ae_kl_normal(B, L2, h2, h2 + L2, 2 * L2, m->ex_kl2);
        kl = kl_z1(m->enc.out[m->enc.n - 1], m->z, p1, B, L, m->ex_kl, 0, NULL, NULL, NULL);
        for (size_t r = 0; r < B; r++)
            m->ex_kl[r] += m->ex_kl2[r];
        kl += kl2;
    } else if (m->type != AE_MODEL_AE) {
        const float *head = m->enc.out[m->enc.n - 1];
        kl = ae_kl_normal(B, L, head, head + L, 2 * L, m->ex_kl);
        memset(m->ex_kl2, 0, B * sizeof(double));
    } else {
        memset(m->ex_kl, 0, B * sizeof(double));
        memset(m->ex_kl2, 0, B * sizeof(double));
        reg += sparsity_penalty(m, code, B, m->ex_reg, NULL);
        if (m->contractive > 0)
            reg += contractive_forward(m, B, rng);
    }
    const float *y = ae_mlp_forward(&m->dec, m->params, B, code, labels);

    /* Loss = mean over the batch, so each example's gradient is scaled by
     * 1/B (B of the global batch when this is a slice of it). */
    size_t N = norm_rows(m, B);
    float inv_b = 1.0f / (float)N;
    double recon = ae_likelihood_get(m->likelihood)
                       ->nll(&m->lik_params, B, D, y, target, inv_b, m->scratch[0], m->ex_recon);
    m->last_batch = B;
    m->last_input = x;
    m->last_labels = labels;
    if (out) {
        out->recon = recon / (double)N;
        out->kl = kl / (double)N;
        out->kl2 = kl2 / (double)N;
        out->reg = reg;
        out->loss = out->recon + (double)beta * out->kl + out->reg;
    }
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

static void backward(ae_model *m, float kl_weight, const ae_layer_done *done);

void ae_model_backward(ae_model *m, float kl_weight)
{
    backward(m, kl_weight, NULL);
}

void ae_model_backward_update(ae_model *m, float kl_weight, ae_optim *o)
{
    update_ctx c = {m, o};
    ae_layer_done done = {update_layer, &c};
    ae_optim_begin(o);
    backward(m, kl_weight, &done);
}

static void backward(ae_model *m, float kl_weight, const ae_layer_done *done)
{
    size_t B = m->last_batch, L = m->latent, L2 = m->latent2, N = norm_rows(m, B);
    float **S = m->scratch;
    /* decoder: d loss / d outputs (from forward, in S[0]) -> d loss / d code in S[2] */
    const float *code = m->type == AE_MODEL_AE ? m->enc.out[m->enc.n - 1] : m->z;
    ae_mlp_backward(&m->dec, m->params, m->grads, B, code, m->last_labels, S[0], NULL, S[2],
                    S[1], done);
    float *dcode = S[2];
    float *head = m->enc.out[m->enc.n - 1];
    float *const *extra = NULL;
    if (m->type == AE_MODEL_AE) {
        if (m->topk)
            for (size_t q = 0; q < B * L; q++)
                dcode[q] = m->kept[q] ? dcode[q] : 0.0f;
        sparsity_penalty(m, head, B, m->ex_reg, dcode);
        if (m->contractive > 0) {
            contractive_backward(m, B);
            extra = m->extra_dz;
        }
        ae_mlp_backward(&m->enc, m->params, m->grads, B, m->last_input, m->last_labels, dcode,
                        extra, NULL, S[0], done);
        return;
    }
    if (m->type == AE_MODEL_HVAE) {
        float s = kl_weight / (float)N;
        float *h2 = m->enc2.out[m->enc2.n - 1], *p1 = m->prior.out[m->prior.n - 1];
        /* the z1 term -> the prior's outputs -> z2 (S[3]) */
        memset(S[0], 0, B * 2 * L * sizeof(float));
        kl_z1(head, m->z, p1, B, L, NULL, s, NULL, NULL, S[0]);
        ae_mlp_backward(&m->prior, m->params, m->grads, B, m->z2, NULL, S[0], NULL, S[3], S[1],
                        done);
        /* z2 = mu2 + sigma2*eps2 with KL(q(z2|z1) || N(0, I)) -> q(z2|z1) -> z1 */
        reparam_backward(h2, m->eps2, S[3], B, N, L2, kl_weight, S[0]);
        ae_mlp_backward(&m->enc2, m->params, m->grads, B, m->z, NULL, S[0], NULL, S[3], S[1],
                        done);
        for (size_t q = 0; q < B * L; q++)
            dcode[q] += S[3][q];
        /* the z1 term's direct share: through z1, and the entropy's logvar1 */
        kl_z1(head, m->z, p1, B, L, NULL, s, dcode, NULL, NULL);
        reparam_backward(head, m->eps, dcode, B, N, L, 0.0f, S[0]);
        kl_z1(head, m->z, p1, B, L, NULL, s, NULL, S[0], NULL);
    } else {
        /* vae, cvae: through z = mu + sigma*eps and the KL into the head */
        reparam_backward(head, m->eps, dcode, B, N, L, kl_weight, S[0]);
    }
    ae_mlp_backward(&m->enc, m->params, m->grads, B, m->last_input, m->last_labels, S[0], NULL,
                    NULL, S[1], done);
}

void ae_model_encode(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                     float *logvar)
{
    size_t L = m->latent;
    float *head = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    if (m->type == AE_MODEL_AE) {
        if (m->topk)
            top_k(head, B, L, m->topk, m->kept);
        memcpy(mu, head, B * L * sizeof(float));
        if (logvar)
            memset(logvar, 0, B * L * sizeof(float));
        return;
    }
    ae_clamp_logvar(head, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    for (size_t r = 0; r < B; r++) {
        memcpy(mu + r * L, head + r * 2 * L, L * sizeof(float));
        if (logvar)
            memcpy(logvar + r * L, head + r * 2 * L + L, L * sizeof(float));
    }
}

void ae_model_decode(ae_model *m, size_t B, const float *z, const int32_t *labels, float *out)
{
    size_t D = m->input_dim;
    const float *y = ae_mlp_forward(&m->dec, m->params, B, z, labels);
    ae_likelihood_get(m->likelihood)->mean(B, D, y, out);
}

void ae_model_prior_sample(ae_model *m, size_t B, ae_rng *rng, float temperature, float *z)
{
    for (size_t i = 0; i < B; i += m->max_batch) {
        size_t b = B - i < m->max_batch ? B - i : m->max_batch;
        float *zi = z + i * m->latent;
        if (m->type != AE_MODEL_HVAE) {
            ae_rng_normal_fill(rng, zi, b * m->latent);
            for (size_t q = 0; q < b * m->latent; q++)
                zi[q] *= temperature;
            continue;
        }
        size_t L = m->latent, L2 = m->latent2;
        ae_rng_normal_fill(rng, m->z2, b * L2);
        for (size_t q = 0; q < b * L2; q++)
            m->z2[q] *= temperature;
        float *p1 = (float *)ae_mlp_forward(&m->prior, m->params, b, m->z2, NULL);
        ae_clamp_logvar(p1, b, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
        ae_rng_normal_fill(rng, m->eps, b * L);
        for (size_t r = 0; r < b; r++)
            for (size_t j = 0; j < L; j++)
                zi[r * L + j] = p1[r * 2 * L + j] +
                                temperature * expf(0.5f * p1[r * 2 * L + L + j]) * m->eps[r * L + j];
    }
}

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

/* Views of one stack; a Gaussian head (split != 0: rows [mu | logvar] of
 * `split` each) is named <prefix>.mu and <prefix>.logvar. */
static size_t stack_views(const ae_mlp *s, const char *prefix, size_t split, ae_param_view *v,
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
    bool gaussian_head = m->type != AE_MODEL_AE;
    size_t k = stack_views(&m->enc, "encoder", gaussian_head ? m->latent : 0, views, 0, max);
    k = stack_views(&m->dec, "decoder", 0, views, k, max);
    if (m->type == AE_MODEL_HVAE) {
        k = stack_views(&m->enc2, "encoder2", m->latent2, views, k, max);
        k = stack_views(&m->prior, "prior", m->latent, views, k, max);
    }
    return k;
}
