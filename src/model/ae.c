/* The plain autoencoder family: x -> encoder -> code [B x L]
 * (model.code_activation) -> decoder, with the regularisers of its code:
 * top-k selection, L1 or KL sparsity, and the contractive penalty
 * lambda * ||d code / d x||_F^2.  Denoising (model.noise) and stacking
 * (train.pretrain) happen outside the model: corrupted inputs, and greedy
 * pretraining of the same networks. */
#include <math.h>
#include <string.h>

#include "model/family.h"
#include "nn/gemm.h"
#include "nn/layers.h"


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
                    dh[r * L + j] += w / (float)ae_model_norm_rows(m, B) * (v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f);
            }
            per[r] += w * row;
            total += w * row;
        }
        return total / (double)ae_model_norm_rows(m, B);
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
        return m->contractive * total / (double)ae_model_norm_rows(m, B);
    }
    if (!rng)
        return 0.0; /* evaluation without noise: the stochastic estimate is skipped */
    m->probe_rng = *rng;
    m->probes_drawn = true;
    int K = m->contractive_samples;
    for (int k = 0; k < K; k++) {
        ae_model_draw_normals(m, rng, m->tan_v, B, m->input_dim);
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
    return m->contractive * total / ((double)ae_model_norm_rows(m, B) * K);
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
        float s = m->contractive / (float)ae_model_norm_rows(m, B);
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
        ae_model_draw_normals(m, &rng, m->tan_v, B, m->input_dim);
        const float *t = tangent_pass(m, B);
        size_t L = e->layer[e->n - 1].out;
        float s = 2.0f * m->contractive / ((float)ae_model_norm_rows(m, B) * (float)K);
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

/* ---------------------------------------------------------- the family */

static void configure(ae_model *t, const ae_config *cfg)
{
    t->sparsity = cfg->model.sparsity.type;
    t->sparsity_weight = (float)cfg->model.sparsity.weight;
    t->sparsity_rho = (float)cfg->model.sparsity.rho;
    t->topk = t->sparsity == AE_SPARSE_TOPK ? (size_t)cfg->model.sparsity.k : 0;
    t->contractive = (float)cfg->model.contractive;
    t->contractive_samples = cfg->model.contractive_samples;
}

static void add_head(ae_model *t, const ae_config *cfg, size_t in, size_t *n)
{
    ae_stack_add(&t->enc, in, t->latent, cfg->model.code_activation, n);
}

static void forward(ae_model *m, size_t B, const float *x, const float *target,
                    const int32_t *labels, ae_rng *rng, float beta, ae_loss *out)
{
    memset(m->ex_reg, 0, B * sizeof(double));
    m->probes_drawn = false;
    float *code = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    if (m->topk)
        top_k(code, B, m->latent, m->topk, m->kept);
    memset(m->ex_kl, 0, B * sizeof(double));
    memset(m->ex_kl2, 0, B * sizeof(double));
    double reg = sparsity_penalty(m, code, B, m->ex_reg, NULL);
    if (m->contractive > 0)
        reg += contractive_forward(m, B, rng);
    double recon = ae_model_decode_loss(m, B, code, target, labels);
    ae_model_finish_forward(m, B, x, labels, recon, 0.0, 0.0, reg, beta, out);
}

static void backward(ae_model *m, float kl_weight, const ae_layer_done *done)
{
    (void)kl_weight;
    size_t B = m->last_batch, L = m->latent;
    float **S = m->scratch;
    /* decoder: d loss / d outputs (from forward, in S[0]) -> d loss / d code in S[2] */
    float *code = m->enc.out[m->enc.n - 1];
    ae_mlp_backward(&m->dec, m->params, m->grads, B, code, m->last_labels, S[0], NULL, S[2],
                    S[1], done);
    float *dcode = S[2];
    float *const *extra = NULL;
    if (m->topk)
        for (size_t q = 0; q < B * L; q++)
            dcode[q] = m->kept[q] ? dcode[q] : 0.0f;
    sparsity_penalty(m, code, B, m->ex_reg, dcode);
    if (m->contractive > 0) {
        contractive_backward(m, B);
        extra = m->extra_dz;
    }
    ae_mlp_backward(&m->enc, m->params, m->grads, B, m->last_input, m->last_labels, dcode, extra,
                    NULL, S[0], done);
}

/* The code (after top-k); log-variances are zero. */
static void encode(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                   float *logvar)
{
    size_t L = m->latent;
    float *head = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    if (m->topk)
        top_k(head, B, L, m->topk, m->kept);
    memcpy(mu, head, B * L * sizeof(float));
    if (logvar)
        memset(logvar, 0, B * L * sizeof(float));
}

static size_t param_views(const ae_model *m, ae_param_view *views, size_t max)
{
    size_t k = ae_stack_views(&m->enc, "encoder", 0, views, 0, max);
    return ae_stack_views(&m->dec, "decoder", 0, views, k, max);
}

static const struct ae_family_ops OPS = {
    .configure = configure,
    .add_head = add_head,
    .forward = forward,
    .backward = backward,
    .encode = encode,
    .param_views = param_views,
};

const ae_family ae_family_ae = {
    .name = "ae",
    .title = "autoencoder",
    .code_regularisers = true,
    .can_tie = true,
    .ops = &OPS,
};
