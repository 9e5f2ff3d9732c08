/* The likelihoods p(x|z) a decoder's output can parameterise, one entry each
 * in a table (src/nn/likelihood.c): the spec's name, how many decoder outputs
 * each input feature takes, the negative log-likelihood with its gradient,
 * and the distribution's mean for pictures and reconstructions.  Code that
 * needs to know the likelihood asks its entry; it never compares the enum.
 * To add one: a value here before AE_LIK_COUNT, its entry (usually a file
 * of its own, src/nn/likelihood_<name>.c) and its line in the table; the
 * compiler checks the table has every entry, tests/test_layers.c checks
 * each entry's gradient by finite differences.
 *
 * The entries are constant and static: nothing to free. */
#ifndef AE_LIKELIHOOD_H
#define AE_LIKELIHOOD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    AE_LIK_BERNOULLI,             /* decoder outputs logits; x in [0, 1] */
    AE_LIK_GAUSSIAN,              /* decoder outputs means; N(y, std^2 I) */
    AE_LIK_CONTINUOUS_BERNOULLI,  /* decoder outputs logits; x in [0, 1] */
    AE_LIK_GAUSSIAN_LEARNED,      /* decoder outputs means and log-variances */
    AE_LIK_COUNT
} ae_likelihood;

/* The spec's parameters of a likelihood (entries ignore what is not theirs). */
typedef struct {
    float gaussian_std; /* gaussian: the constant std of N(y, std^2 I); model.gaussian_std */
} ae_likelihood_params;

typedef struct {
    const char *name;   /* model.likelihood in the spec: "bernoulli" */
    const char *title;  /* for the report: "Bernoulli" */
    bool unit_range;    /* defined only for data in [0, 1] (pictures show [0, 1]) */
    size_t outputs;     /* decoder outputs per input feature: a row of the
                         * decoder's output is [outputs x D], parameter by
                         * parameter (gaussian_learned: D means, then D
                         * log-variance pre-activations) */
    /* -log p(x|y) of B rows of D features, y [B x outputs*D] the decoder's
     * output: returns the sum; per_example [B] (optional) each row's value;
     * dy [B x outputs*D] (optional) scale * d/dy.  A target that is NaN (a
     * missing value) counts for nothing: no term, no constant, gradient 0. */
    double (*nll)(const ae_likelihood_params *p, size_t B, size_t D, const float *y,
                  const float *x, float scale, float *dy, double *per_example);
    /* decoder outputs y [B x outputs*D] -> the distribution's mean in model
     * units, out [B x D]; out may be y itself */
    void (*mean)(size_t B, size_t D, const float *y, float *out);
} ae_likelihood_ops;

/* The entry of a likelihood (lik < AE_LIK_COUNT). */
const ae_likelihood_ops *ae_likelihood_get(ae_likelihood lik);

/* The likelihood named `name`, or AE_LIK_COUNT when there is none. */
ae_likelihood ae_likelihood_find(const char *name);

/* The default parameters (gaussian_std 1). */
ae_likelihood_params ae_likelihood_params_default(void);

#endif
