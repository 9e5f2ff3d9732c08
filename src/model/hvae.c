/* The two-level hierarchical VAE (Sonderby et al. 2016, as a ladder-free
 * stack): x -> encoder -> q(z1|x); z1 -> encoder2 -> q(z2|z1);
 * z2 ~ N(0, I) -> prior -> p(z1|z2); z1 -> decoder.  The ELBO's z1 term is
 * taken at the sampled z1 (kl_z1 below), the z2 term in closed form. */
#include <math.h>
#include <string.h>

#include "model/family.h"
#include "nn/layers.h"

#define LOG_2PI 1.83787706640934548356

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
            if (dq && !ae_logvar_clamped(lv[j]))
                dq[r * 2 * L + L + j] -= 0.5f * s;
            if (dp) {
                dp[r * 2 * L + j] -= s * d * inv;
                if (!ae_logvar_clamped(pl[j]))
                    dp[r * 2 * L + L + j] += s * 0.5f * (1.0f - d * d * inv);
            }
        }
        if (per)
            per[r] = row;
        total += row;
    }
    return total;
}

static void configure(ae_model *t, const ae_config *cfg)
{
    t->latent2 = (size_t)cfg->model.latent2;
}

/* q(z2|z1) through hidden2, p(z1|z2) through hidden2 reversed */
static void add_stacks(ae_model *t, const ae_config *cfg, size_t *n)
{
    const ae_activation act = cfg->model.activation;
    size_t in = t->latent;
    for (int i = 0; i < cfg->model.n_hidden2; i++) {
        ae_stack_add(&t->enc2, in, (size_t)cfg->model.hidden2[i], act, n);
        in = (size_t)cfg->model.hidden2[i];
    }
    ae_stack_add(&t->enc2, in, 2 * t->latent2, AE_ACT_LINEAR, n);
    in = t->latent2;
    for (int i = cfg->model.n_hidden2 - 1; i >= 0; i--) {
        ae_stack_add(&t->prior, in, (size_t)cfg->model.hidden2[i], act, n);
        in = (size_t)cfg->model.hidden2[i];
    }
    ae_stack_add(&t->prior, in, 2 * t->latent, AE_ACT_LINEAR, n);
}

/* The learned prior p(z1|z2) starts as N(0, I): a zero output layer.
 * Random weights chained through three networks would start it with
 * log-variances of +-20 and a KL of 1e5..1e7 nats. */
static void init_weights(ae_model *m)
{
    const ae_layer *out = &m->prior.layer[m->prior.n - 1];
    memset(m->params + out->w_off, 0, out->in * out->out * sizeof(float));
    memset(m->params + out->b_off, 0, out->out * sizeof(float));
}

static void forward(ae_model *m, size_t B, const float *x, const float *target,
                    const int32_t *labels, ae_rng *rng, float beta, ae_loss *out)
{
    size_t L = m->latent, L2 = m->latent2;
    memset(m->ex_reg, 0, B * sizeof(double));
    m->sampled = rng != NULL;
    float *head = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    ae_clamp_logvar(head, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    ae_reparameterise(m, head, B, L, rng, m->eps, m->z);
    float *h2 = (float *)ae_mlp_forward(&m->enc2, m->params, B, m->z, NULL);
    ae_clamp_logvar(h2, B, L2, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    ae_reparameterise(m, h2, B, L2, rng, m->eps2, m->z2);
    float *p1 = (float *)ae_mlp_forward(&m->prior, m->params, B, m->z2, NULL);
    ae_clamp_logvar(p1, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    double kl2 = ae_kl_normal(B, L2, h2, h2 + L2, 2 * L2, m->ex_kl2);
    double kl = kl_z1(head, m->z, p1, B, L, m->ex_kl, 0, NULL, NULL, NULL);
    for (size_t r = 0; r < B; r++)
        m->ex_kl[r] += m->ex_kl2[r];
    kl += kl2;
    double recon = ae_model_decode_loss(m, B, m->z, target, labels);
    ae_model_finish_forward(m, B, x, labels, recon, kl, kl2, 0.0, beta, out);
}

static void backward(ae_model *m, float kl_weight, const ae_layer_done *done)
{
    size_t B = m->last_batch, L = m->latent, L2 = m->latent2, N = ae_model_norm_rows(m, B);
    float **S = m->scratch;
    /* decoder: d loss / d outputs (from forward, in S[0]) -> d loss / d z1 in S[2] */
    ae_mlp_backward(&m->dec, m->params, m->grads, B, m->z, m->last_labels, S[0], NULL, S[2],
                    S[1], done);
    float *dcode = S[2];
    float *head = m->enc.out[m->enc.n - 1];
    float s = kl_weight / (float)N;
    float *h2 = m->enc2.out[m->enc2.n - 1], *p1 = m->prior.out[m->prior.n - 1];
    /* the z1 term -> the prior's outputs -> z2 (S[3]) */
    memset(S[0], 0, B * 2 * L * sizeof(float));
    kl_z1(head, m->z, p1, B, L, NULL, s, NULL, NULL, S[0]);
    ae_mlp_backward(&m->prior, m->params, m->grads, B, m->z2, NULL, S[0], NULL, S[3], S[1],
                    done);
    /* z2 = mu2 + sigma2*eps2 with KL(q(z2|z1) || N(0, I)) -> q(z2|z1) -> z1 */
    ae_reparam_backward(h2, m->eps2, S[3], B, N, L2, kl_weight, S[0]);
    ae_mlp_backward(&m->enc2, m->params, m->grads, B, m->z, NULL, S[0], NULL, S[3], S[1], done);
    for (size_t q = 0; q < B * L; q++)
        dcode[q] += S[3][q];
    /* the z1 term's direct share: through z1, and the entropy's logvar1 */
    kl_z1(head, m->z, p1, B, L, NULL, s, dcode, NULL, NULL);
    ae_reparam_backward(head, m->eps, dcode, B, N, L, 0.0f, S[0]);
    kl_z1(head, m->z, p1, B, L, NULL, s, NULL, S[0], NULL);
    ae_mlp_backward(&m->enc, m->params, m->grads, B, m->last_input, m->last_labels, S[0], NULL,
                    NULL, S[1], done);
}

/* z2 ~ N(0, T^2 I), then z1 ~ p(z1|z2) with its deviation scaled by T. */
static void prior_sample(ae_model *m, size_t b, ae_rng *rng, float temperature, float *z)
{
    size_t L = m->latent, L2 = m->latent2;
    ae_rng_normal_fill(rng, m->z2, b * L2);
    for (size_t q = 0; q < b * L2; q++)
        m->z2[q] *= temperature;
    float *p1 = (float *)ae_mlp_forward(&m->prior, m->params, b, m->z2, NULL);
    ae_clamp_logvar(p1, b, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    ae_rng_normal_fill(rng, m->eps, b * L);
    for (size_t r = 0; r < b; r++)
        for (size_t j = 0; j < L; j++)
            z[r * L + j] = p1[r * 2 * L + j] +
                           temperature * expf(0.5f * p1[r * 2 * L + L + j]) * m->eps[r * L + j];
}

/* z2 ~ q(z2|z1), then the learned prior p(z1|z2) and p(z2) = N(0, I):
 * adds log p(z1|z2) + log p(z2) - log q(z2|z1). */
static void log_prior(ae_model *m, size_t rows, const float *z, ae_rng *rng, double *lw)
{
    size_t L = m->latent, L2 = m->latent2;
    float *h2 = (float *)ae_mlp_forward(&m->enc2, m->params, rows, z, NULL);
    ae_clamp_logvar(h2, rows, L2, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    ae_rng_normal_fill(rng, m->eps2, rows * L2);
    for (size_t q = 0; q < rows; q++) {
        const float *m2 = h2 + q * 2 * L2, *l2 = m2 + L2, *ep = m->eps2 + q * L2;
        double acc = 0.0;
        for (size_t j = 0; j < L2; j++) {
            float v = m2[j] + expf(0.5f * l2[j]) * ep[j];
            m->z2[q * L2 + j] = v;
            acc += -0.5 * (LOG_2PI + (double)v * v) + 0.5 * (LOG_2PI + l2[j] + (double)ep[j] * ep[j]);
        }
        lw[q] += acc;
    }
    float *p1 = (float *)ae_mlp_forward(&m->prior, m->params, rows, m->z2, NULL);
    ae_clamp_logvar(p1, rows, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    for (size_t q = 0; q < rows; q++) {
        const float *pm = p1 + q * 2 * L, *pl = pm + L, *zq = z + q * L;
        double acc = 0.0;
        for (size_t j = 0; j < L; j++) {
            double d = (double)zq[j] - pm[j];
            acc += -0.5 * (LOG_2PI + pl[j] + d * d * exp(-(double)pl[j]));
        }
        lw[q] += acc;
    }
}

/* z1 and z2 come from one joint draw, z2 ~ q(z2|z1) depending on z1, so the
 * z1 term E[log q(z1|x) - log p(z1|z2)] is taken at that draw rather than as
 * KL(q(z1|x) || p(z1|z2)) (which would integrate z1 as if z2 did not depend
 * on it); the z2 term given z1 is the analytic KL. */
static void kl_terms(ae_model *m, size_t B, double *kl, double *kl_dim, double *kl_dim2)
{
    const size_t L = m->latent;
    const float *head = m->enc.out[m->enc.n - 1], *p1 = m->prior.out[m->prior.n - 1];
    for (size_t q = 0; q < B; q++) {
        const float *lv = head + q * 2 * L + L, *pm = p1 + q * 2 * L, *pl = pm + L;
        const float *eps = m->eps + q * L, *z = m->z + q * L;
        double row = m->ex_kl2[q];
        for (size_t j = 0; j < L; j++) {
            double d = (double)z[j] - pm[j];
            double t = -0.5 * ((double)lv[j] + (double)eps[j] * eps[j]) +
                       0.5 * ((double)pl[j] + d * d * exp(-(double)pl[j]));
            row += t;
            kl_dim[j] += t;
        }
        kl[q] = row;
    }
    ae_kl_per_dim(m->enc2.out[m->enc2.n - 1], NULL, B, m->latent2, kl_dim2);
}

static size_t param_views(const ae_model *m, ae_param_view *views, size_t max)
{
    size_t k = ae_vae_param_views(m, views, max);
    k = ae_stack_views(&m->enc2, "encoder2", m->latent2, views, k, max);
    return ae_stack_views(&m->prior, "prior", m->latent, views, k, max);
}

static const struct ae_family_ops OPS = {
    .configure = configure,
    .add_head = ae_vae_add_head,
    .add_stacks = add_stacks,
    .init_weights = init_weights,
    .forward = forward,
    .backward = backward,
    .encode = ae_gaussian_encode,
    .prior_sample = prior_sample,
    .log_prior = log_prior,
    .kl_terms = kl_terms,
    .param_views = param_views,
};

const ae_family ae_family_hvae = {
    .name = "hvae",
    .title = "two-level hierarchical VAE",
    .variational = true,
    .hierarchical = true,
    .ops = &OPS,
};
