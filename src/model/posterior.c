/* The Gaussian posterior q(z|x) = N(mu, diag(exp(logvar))) that the
 * variational families (vae, cvae, hvae, iwae) share: the
 * reparameterisation and its gradient, the KL against N(0, I), encoding to
 * mu and logvar, the standard prior, and importance-sampled log-weights.
 * One copy of each; eval and the programs reach them through ae_model_*. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/family.h"
#include "nn/layers.h"

#define LOG_2PI 1.83787706640934548356

bool ae_logvar_clamped(float lv)
{
    return lv <= AE_LOGVAR_MIN || lv >= AE_LOGVAR_MAX;
}

void ae_reparameterise(const ae_model *m, const float *head, size_t B, size_t L, ae_rng *rng,
                       float *eps, float *z)
{
    if (rng)
        ae_model_draw_normals(m, rng, eps, B, L);
    else
        memset(eps, 0, B * L * sizeof(float));
    for (size_t r = 0; r < B; r++) {
        const float *mu = head + r * 2 * L, *lv = mu + L;
        for (size_t j = 0; j < L; j++)
            z[r * L + j] = mu[j] + expf(0.5f * lv[j]) * eps[r * L + j];
    }
}

void ae_reparam_backward(const float *head, const float *eps, const float *dz, size_t B,
                         size_t N, size_t L, float w, float *dhead)
{
    float s = w / (float)N;
    for (size_t r = 0; r < B; r++) {
        const float *mu = head + r * 2 * L, *lv = mu + L;
        float *dmu = dhead + r * 2 * L, *dlv = dmu + L;
        for (size_t j = 0; j < L; j++) {
            float sd = expf(0.5f * lv[j]);
            dmu[j] = dz[r * L + j] + s * mu[j];
            dlv[j] = ae_logvar_clamped(lv[j]) ? 0.0f
                                              : dz[r * L + j] * eps[r * L + j] * 0.5f * sd +
                                                    s * 0.5f * (expf(lv[j]) - 1.0f);
        }
    }
}

void ae_kl_per_dim(const float *q, const float *p, size_t B, size_t L, double *acc)
{
    for (size_t r = 0; r < B; r++) {
        const float *m1 = q + r * 2 * L, *l1 = m1 + L;
        for (size_t j = 0; j < L; j++) {
            double m2 = p ? p[r * 2 * L + j] : 0.0, l2 = p ? p[r * 2 * L + L + j] : 0.0;
            double dm = m1[j] - m2;
            acc[j] += 0.5 * (l2 - l1[j] + (exp((double)l1[j]) + dm * dm) * exp(-l2) - 1.0);
        }
    }
}

void ae_gaussian_encode(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                        float *logvar)
{
    size_t L = m->latent;
    float *head = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    ae_clamp_logvar(head, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    for (size_t r = 0; r < B; r++) {
        memcpy(mu + r * L, head + r * 2 * L, L * sizeof(float));
        if (logvar)
            memcpy(logvar + r * L, head + r * 2 * L + L, L * sizeof(float));
    }
}

void ae_standard_prior_sample(ae_model *m, size_t b, ae_rng *rng, float temperature, float *z)
{
    ae_rng_normal_fill(rng, z, b * m->latent);
    for (size_t q = 0; q < b * m->latent; q++)
        z[q] *= temperature;
}

void ae_standard_log_prior(ae_model *m, size_t rows, const float *z, ae_rng *rng, double *lw)
{
    (void)rng;
    const size_t L = m->latent;
    for (size_t q = 0; q < rows; q++) {
        double lp = 0.0;
        for (size_t j = 0; j < L; j++)
            lp += -0.5 * (LOG_2PI + (double)z[q * L + j] * z[q * L + j]);
        lw[q] += lp;
    }
}

void ae_standard_kl_terms(ae_model *m, size_t B, double *kl, double *kl_dim, double *kl_dim2)
{
    (void)kl_dim2;
    for (size_t q = 0; q < B; q++)
        kl[q] = m->ex_kl[q];
    ae_kl_per_dim(m->enc.out[m->enc.n - 1], NULL, B, m->latent, kl_dim);
}

static bool mul_fits(size_t a, size_t b)
{
    return b == 0 || a <= SIZE_MAX / b;
}

ae_status ae_model_log_weights(ae_model *m, size_t B, const float *x, const int32_t *labels,
                               size_t K, ae_rng *rng, double *lw, ae_error *err)
{
    if (!m->family->variational || B > m->max_batch || K == 0 || (m->classes && !labels) ||
        !mul_fits(B, K)) {
        ae_error_set(err, "IWAE: needs a variational model (not %s), 1 <= B <= %zu and K >= 1 "
                          "(B %zu, K %zu)", m->family->name, m->max_batch, B, K);
        return AE_ERR_USAGE;
    }
    const size_t L = m->latent, D = m->input_dim, R = m->max_batch;
    const ae_likelihood_ops *lik = ae_likelihood_get(m->likelihood);
    const size_t DY = D * lik->outputs; /* decoder outputs per row */
    float *mu = malloc(B * L * sizeof(float));  /* [B x L] q(z|x) */
    float *lv = malloc(B * L * sizeof(float));  /* [B x L] */
    float *eps = malloc(R * L * sizeof(float)); /* [R x L] noise of one chunk of rows */
    float *z = malloc(R * L * sizeof(float));   /* [R x L] z of each row */
    int32_t *yrow = m->classes ? malloc(R * sizeof(int32_t)) : NULL; /* [R] */
    ae_status st = AE_OK;
    if (!mu || !lv || !eps || !z || (m->classes && !yrow)) {
        ae_error_set(err, "IWAE: out of memory for %zu samples", K);
        st = AE_ERR_NOMEM;
        goto done;
    }
    ae_model_encode(m, B, x, labels, mu, lv);
    /* Rows (example e, sample k) in order e*K + k, decoded R at a time. */
    const size_t total = B * K;
    for (size_t r0 = 0; r0 < total; r0 += R) {
        size_t rows = total - r0 < R ? total - r0 : R;
        double *lwc = lw + r0;
        ae_rng_normal_fill(rng, eps, rows * L);
        for (size_t q = 0; q < rows; q++) {
            size_t e = (r0 + q) / K;
            const float *me = mu + e * L, *le = lv + e * L, *ep = eps + q * L;
            float *zq = z + q * L;
            double lq = 0.0;
            for (size_t j = 0; j < L; j++) {
                zq[j] = me[j] + expf(0.5f * le[j]) * ep[j];
                /* log N(z; mu, sigma^2) with (z - mu)/sigma = eps exactly */
                lq += -0.5 * (LOG_2PI + le[j] + (double)ep[j] * ep[j]);
            }
            lwc[q] = -lq;
            if (yrow)
                yrow[q] = labels[e];
        }
        m->family->ops->log_prior(m, rows, z, rng, lwc);
        const float *y = ae_mlp_forward(&m->dec, m->params, rows, z, yrow);
        for (size_t q = 0; q < rows; q++) {
            size_t e = (r0 + q) / K;
            lwc[q] -= lik->nll(&m->lik_params, 1, D, y + q * DY, x + e * D, 0.0f, NULL, NULL);
        }
    }
done:
    free(mu);
    free(lv);
    free(eps);
    free(z);
    free(yrow);
    return st;
}
