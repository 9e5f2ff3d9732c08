/* The table of likelihoods (ae/likelihood.h). */
#include "ae/likelihood.h"

#include <math.h>
#include <string.h>

#include "nn/layers.h"
#include "nn/likelihoods.h"

/* ---------------------------------------------------------- Bernoulli */

static double bernoulli_nll(const ae_likelihood_params *p, size_t B, size_t D, const float *y,
                            const float *x, float scale, float *dy, double *per_example)
{
    (void)p;
    return ae_bernoulli_nll(B, D, y, x, scale, dy, per_example);
}

static void bernoulli_mean(size_t B, size_t D, const float *y, float *out)
{
    if (out != y)
        memcpy(out, y, B * D * sizeof(float));
    ae_act_forward(AE_ACT_SIGMOID, out, B * D);
}

static const ae_likelihood_ops BERNOULLI = {"bernoulli", "Bernoulli", true, 1, bernoulli_nll,
                                            bernoulli_mean};

/* ----------------------------------------------------------- Gaussian */

/* N(y, c^2 I): 0.5*||x - y||^2 / c^2 + D*log(c) + 0.5*D*log(2 pi) per row.
 * c = 1 is the unit-variance loss itself, bit for bit. */
static double gaussian_nll(const ae_likelihood_params *p, size_t B, size_t D, const float *y,
                           const float *x, float scale, float *dy, double *per_example)
{
    float c = p ? p->gaussian_std : 1.0f;
    if (c == 1.0f)
        return ae_gaussian_nll(B, D, y, x, scale, dy, per_example);
    const double half_log_2pi = 0.91893853320467274178, row_const = (double)D * half_log_2pi;
    const double inv_c2 = 1.0 / ((double)c * c), log_c = log((double)c);
    double total = 0.0;
    for (size_t r = 0; r < B; r++) {
        /* the unit-variance row, rescaled: (sum/2 of squares) / c^2 + D log c,
         * over the observed features (a missing target, NaN, counts for
         * nothing) */
        size_t obs = D;
        for (size_t j = 0; j < D; j++)
            obs -= x[r * D + j] != x[r * D + j];
        double rc = obs == D ? row_const : (double)obs * half_log_2pi;
        double row = ae_gaussian_nll(1, D, y + r * D, x + r * D, (float)(scale * inv_c2),
                                     dy ? dy + r * D : NULL, NULL);
        row = (row - rc) * inv_c2 + rc + (double)obs * log_c;
        if (per_example)
            per_example[r] = row;
        total += row;
    }
    return total;
}

static void identity_mean(size_t B, size_t D, const float *y, float *out)
{
    if (out != y)
        memcpy(out, y, B * D * sizeof(float));
}

static const ae_likelihood_ops GAUSSIAN = {"gaussian", "Gaussian", false, 1, gaussian_nll,
                                           identity_mean};

/* ------------------------------------------------ continuous Bernoulli */

static double cbernoulli_nll(const ae_likelihood_params *p, size_t B, size_t D, const float *y,
                             const float *x, float scale, float *dy, double *per_example)
{
    (void)p;
    return ae_continuous_bernoulli_nll(B, D, y, x, scale, dy, per_example);
}

static void cbernoulli_mean(size_t B, size_t D, const float *y, float *out)
{
    if (out != y)
        memcpy(out, y, B * D * sizeof(float));
    ae_continuous_bernoulli_mean(out, B * D);
}

static const ae_likelihood_ops CONTINUOUS_BERNOULLI = {
    "continuous_bernoulli", "continuous Bernoulli", true, 1, cbernoulli_nll, cbernoulli_mean};

/* -------------------------------------------------------------- table */

static const ae_likelihood_ops *const LIKELIHOODS[] = {
    [AE_LIK_BERNOULLI] = &BERNOULLI,
    [AE_LIK_GAUSSIAN] = &GAUSSIAN,
    [AE_LIK_CONTINUOUS_BERNOULLI] = &CONTINUOUS_BERNOULLI,
    [AE_LIK_GAUSSIAN_LEARNED] = &ae_lik_gaussian_learned, /* likelihood_gaussian_learned.c */
};
_Static_assert(sizeof LIKELIHOODS / sizeof LIKELIHOODS[0] == AE_LIK_COUNT,
               "every likelihood needs its entry in LIKELIHOODS");

const ae_likelihood_ops *ae_likelihood_get(ae_likelihood lik) { return LIKELIHOODS[lik]; }

ae_likelihood ae_likelihood_find(const char *name)
{
    for (int k = 0; k < AE_LIK_COUNT; k++)
        if (LIKELIHOODS[k] && !strcmp(LIKELIHOODS[k]->name, name))
            return (ae_likelihood)k;
    return AE_LIK_COUNT;
}

ae_likelihood_params ae_likelihood_params_default(void)
{
    return (ae_likelihood_params){.gaussian_std = 1.0f};
}
