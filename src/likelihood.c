/* The table of likelihoods (ae/likelihood.h). */
#include "ae/likelihood.h"

#include <string.h>

#include "layers.h"

static void mean_sigmoid(float *y, size_t n) { ae_act_forward(AE_ACT_SIGMOID, y, n); }

static void mean_identity(float *y, size_t n)
{
    (void)y;
    (void)n;
}

static const ae_likelihood_ops LIKELIHOODS[] = {
    [AE_LIK_BERNOULLI] = {"bernoulli", "Bernoulli", true, ae_bernoulli_nll, mean_sigmoid},
    [AE_LIK_GAUSSIAN] = {"gaussian", "Gaussian", false, ae_gaussian_nll, mean_identity},
    [AE_LIK_CONTINUOUS_BERNOULLI] = {"continuous_bernoulli", "continuous Bernoulli", true,
                                     ae_continuous_bernoulli_nll, ae_continuous_bernoulli_mean},
};
_Static_assert(sizeof LIKELIHOODS / sizeof LIKELIHOODS[0] == AE_LIK_COUNT,
               "every likelihood needs its entry in LIKELIHOODS");

const ae_likelihood_ops *ae_likelihood_get(ae_likelihood lik) { return &LIKELIHOODS[lik]; }

ae_likelihood ae_likelihood_find(const char *name)
{
    for (int k = 0; k < AE_LIK_COUNT; k++)
        if (LIKELIHOODS[k].name && !strcmp(LIKELIHOODS[k].name, name))
            return (ae_likelihood)k;
    return AE_LIK_COUNT;
}
