/* model.likelihood "gaussian_learned": p(x|z) = N(mu(z), diag(sigma(z)^2)),
 * the decoder of the VAE's original formulation (Kingma and Welling, 2014),
 * which outputs a mean and a variance per feature.
 *
 * A row of the decoder's output is [mu (D) | u (D)]; the log-variance is
 * u bounded below smoothly, lv = m + softplus(u - m) with m =
 * AE_LIK_LEARNED_LOGVAR_MIN, so lv > m always and lv ~ u well above it, and
 * the gradient never vanishes (d lv/du = sigmoid(u - m)).  Per feature:
 *   -log p = 0.5 * (log 2 pi + lv + (x - mu)^2 exp(-lv))
 *   d/dmu  = (mu - x) exp(-lv)
 *   d/du   = 0.5 * (1 - (x - mu)^2 exp(-lv)) * sigmoid(u - m)
 * The mean is mu. */
#include <math.h>
#include <string.h>

#include "nn/likelihoods.h"

static double nll(const ae_likelihood_params *p, size_t B, size_t D, const float *y,
                  const float *x, float scale, float *dy, double *per_example)
{
    (void)p;
    const double half_log_2pi = 0.91893853320467274178;
    const float m = AE_LIK_LEARNED_LOGVAR_MIN;
    double total = 0.0;
    for (size_t r = 0; r < B; r++) {
        const float *mu = y + r * 2 * D, *u = mu + D, *t = x + r * D;
        double row = (double)D * half_log_2pi;
        size_t miss = 0;
        for (size_t j = 0; j < D; j++) {
            if (t[j] != t[j]) { /* a missing target counts for nothing */
                miss++;
                if (dy)
                    dy[r * 2 * D + j] = dy[r * 2 * D + D + j] = 0.0f;
                continue;
            }
            float a = u[j] - m, e = expf(-fabsf(a));
            float sp = fmaxf(a, 0.0f) + log1pf(e); /* softplus(a) */
            float lv = m + sp, prec = expf(-lv);
            float diff = t[j] - mu[j];
            row += 0.5 * ((double)lv + (double)(diff * diff * prec));
            if (dy) {
                float sig = (a >= 0.0f ? 1.0f : e) / (1.0f + e); /* sigmoid(a), same e */
                dy[r * 2 * D + j] = scale * (-diff * prec);
                dy[r * 2 * D + D + j] = scale * 0.5f * (1.0f - diff * diff * prec) * sig;
            }
        }
        if (miss)
            row -= (double)miss * half_log_2pi;
        if (per_example)
            per_example[r] = row;
        total += row;
    }
    return total;
}

/* The means, compacted row by row (out may be y: row r moves from r*2D to
 * r*D, never ahead of where it is read). */
static void mean(size_t B, size_t D, const float *y, float *out)
{
    for (size_t r = 0; r < B; r++)
        memmove(out + r * D, y + r * 2 * D, D * sizeof(float));
}

const ae_likelihood_ops ae_lik_gaussian_learned = {
    "gaussian_learned", "Gaussian with learned variance", false, 2, nll, mean};
