/* The importance-weighted autoencoder (Burda, Grosse and Salakhutdinov
 * 2016): the vae's networks, trained on the bound of K samples per example
 *   log p(x) >= E[log 1/K sum_k w_k],  w_k = p(x|z_k) p(z_k) / q(z_k|x),
 * which is tighter than the ELBO (K = 1) and tightens as K grows.  With a
 * KL weight beta the log-weights are log p(x|z) + beta (log p(z) - log q(z|x)).
 *
 * The decoder sees B*K rows (example-major: row b*K + k), the encoder B.
 * The gradient is the one of the bound: each sample's share is its
 * normalised weight w_k / sum_j w_j (no reweighted-wake-sleep or DReG
 * estimators).  A forward pass without noise (rng NULL, as evaluation at
 * z = mu does) is the vae's. */
#include <math.h>
#include <string.h>

#include "model/family.h"
#include "nn/layers.h"

static void configure(ae_model *t, const ae_config *cfg)
{
    t->iw_samples = (size_t)cfg->model.iw_samples;
}

static void forward(ae_model *m, size_t B, const float *x, const float *target,
                    const int32_t *labels, ae_rng *rng, float beta, ae_loss *out)
{
    if (!rng) {
        ae_vae_forward(m, B, x, target, labels, NULL, beta, out);
        return;
    }
    const size_t K = m->iw_samples, L = m->latent, D = m->input_dim, R = B * K;
    const size_t DY = D * ae_likelihood_get(m->likelihood)->outputs;
    const size_t N = ae_model_norm_rows(m, B);
    memset(m->ex_reg, 0, B * sizeof(double));
    m->sampled = true;
    float *head = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    ae_clamp_logvar(head, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    /* K draws per example, [B x K*L]: a slice of a global batch keeps its rows' draws */
    ae_model_draw_normals(m, rng, m->eps, B, K * L);
    double *lr = m->row_w; /* log q(z|x) - log p(z) per row, until the weights replace it */
    for (size_t b = 0; b < B; b++) {
        const float *mu = head + b * 2 * L, *lv = mu + L;
        for (size_t k = 0; k < K; k++) {
            size_t row = b * K + k;
            const float *ep = m->eps + row * L;
            float *z = m->z + row * L;
            double acc = 0.0;
            for (size_t j = 0; j < L; j++) {
                z[j] = mu[j] + expf(0.5f * lv[j]) * ep[j];
                /* log N(z; mu, sigma^2) - log N(z; 0, I), (z - mu)/sigma = eps */
                acc += -0.5 * ((double)lv[j] + (double)ep[j] * ep[j]) + 0.5 * (double)z[j] * z[j];
            }
            lr[row] = acc;
            memcpy(m->target_rows + row * D, target + b * D, D * sizeof(float));
        }
    }
    const float *y = ae_mlp_forward(&m->dec, m->params, R, m->z, NULL);
    ae_likelihood_get(m->likelihood)
        ->nll(&m->lik_params, R, D, y, m->target_rows, 1.0f, m->scratch[0], m->row_nll);
    double recon = 0.0, bound = 0.0;
    for (size_t b = 0; b < B; b++) {
        double *w = m->row_w + b * K, mx = -INFINITY, nll = 0.0;
        for (size_t k = 0; k < K; k++) {
            w[k] = -m->row_nll[b * K + k] - (double)beta * lr[b * K + k];
            mx = w[k] > mx ? w[k] : mx;
            nll += m->row_nll[b * K + k];
        }
        double s = 0.0;
        for (size_t k = 0; k < K; k++)
            s += exp(w[k] - mx);
        /* -log (1/K) sum_k w_k, and each sample's normalised weight */
        bound += -(mx + log(s) - log((double)K));
        for (size_t k = 0; k < K; k++) {
            w[k] = exp(w[k] - mx) / s;
            float g = (float)(w[k] / (double)N);
            float *dy = m->scratch[0] + (b * K + k) * DY;
            for (size_t q = 0; q < DY; q++)
                dy[q] *= g;
        }
        m->ex_recon[b] = nll / (double)K;
        recon += m->ex_recon[b];
    }
    double kl = ae_kl_normal(B, L, head, head + L, 2 * L, m->ex_kl);
    memset(m->ex_kl2, 0, B * sizeof(double));
    ae_model_finish_forward(m, B, x, labels, recon, kl, 0.0, 0.0, beta, out);
    if (out) {
        double elbo = out->loss;
        out->loss = bound / (double)N;
        out->iw = out->loss - elbo;
    }
}

static void backward(ae_model *m, float kl_weight, const ae_layer_done *done)
{
    if (!m->sampled) {
        ae_vae_backward(m, kl_weight, done);
        return;
    }
    const size_t B = m->last_batch, K = m->iw_samples, L = m->latent, R = B * K;
    const size_t N = ae_model_norm_rows(m, B);
    float **S = m->scratch;
    /* the decoder on B*K rows: dL/dy (weighted in forward) -> dL/dz [R x L] in S[2] */
    ae_mlp_backward(&m->dec, m->params, m->grads, R, m->z, NULL, S[0], NULL, S[2], S[1], done);
    /* z = mu + sigma * eps: sum over the K samples into [dmu | dlogvar], with
     * log p(z) through z (w_k beta z / N) and log q(z|x) = -1/2 sum (lv +
     * eps^2) + const directly (-1/2 beta / N per log-variance, the weights
     * summing to one) */
    const float *head = m->enc.out[m->enc.n - 1];
    float *dhead = S[0];
    for (size_t b = 0; b < B; b++) {
        const float *mu = head + b * 2 * L, *lv = mu + L;
        float *dmu = dhead + b * 2 * L, *dlv = dmu + L;
        for (size_t j = 0; j < L; j++) {
            float sd = expf(0.5f * lv[j]), gm = 0.0f, gl = 0.0f;
            for (size_t k = 0; k < K; k++) {
                size_t row = b * K + k;
                float wk = (float)(m->row_w[row] / (double)N);
                float g = S[2][row * L + j] + wk * kl_weight * m->z[row * L + j];
                gm += g;
                gl += g * m->eps[row * L + j] * 0.5f * sd;
            }
            dmu[j] = gm;
            dlv[j] = ae_logvar_clamped(lv[j]) ? 0.0f : gl - 0.5f * kl_weight / (float)N;
        }
    }
    ae_mlp_backward(&m->enc, m->params, m->grads, B, m->last_input, m->last_labels, dhead, NULL,
                    NULL, S[1], done);
}

static const struct ae_family_ops OPS = {
    .configure = configure,
    .add_head = ae_vae_add_head,
    .forward = forward,
    .backward = backward,
    .encode = ae_gaussian_encode,
    .prior_sample = ae_standard_prior_sample,
    .log_prior = ae_standard_log_prior,
    .kl_terms = ae_standard_kl_terms,
    .param_views = ae_vae_param_views,
};

const ae_family ae_family_iwae = {
    .name = "iwae",
    .title = "importance-weighted autoencoder",
    .variational = true,
    .importance_weighted = true,
    .can_tie = true,
    .ops = &OPS,
};
