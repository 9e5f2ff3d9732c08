/* The likelihoods p(x|z) a decoder's output can parameterise, one entry each
 * in a table (src/likelihood.c): the spec's name, the negative
 * log-likelihood with its gradient, and the distribution's mean for
 * pictures and reconstructions.  Code that needs to know the likelihood asks
 * its entry; it never compares the enum.  To add one: a value here before
 * AE_LIK_COUNT and its entry in the table (a test checks every entry is
 * filled), nothing else.
 *
 * The entries are constant and static: nothing to free. */
#ifndef AE_LIKELIHOOD_H
#define AE_LIKELIHOOD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    AE_LIK_BERNOULLI,             /* decoder outputs logits; x in [0, 1] */
    AE_LIK_GAUSSIAN,              /* decoder outputs means; N(y, I) */
    AE_LIK_CONTINUOUS_BERNOULLI,  /* decoder outputs logits; x in [0, 1] */
    AE_LIK_COUNT
} ae_likelihood;

typedef struct {
    const char *name;   /* model.likelihood in the spec: "bernoulli" */
    const char *title;  /* for the report: "Bernoulli" */
    bool unit_range;    /* defined only for data in [0, 1] (pictures show [0, 1]) */
    /* -log p(x|y) of B rows of D features, y [B x D] the decoder's output:
     * returns the sum; per_example [B] (optional) each row's value; dy
     * [B x D] (optional) scale * d/dy. */
    double (*nll)(size_t B, size_t D, const float *y, const float *x, float scale, float *dy,
                  double *per_example);
    /* decoder outputs -> the distribution's mean in model units, in place */
    void (*mean)(float *y, size_t n);
} ae_likelihood_ops;

/* The entry of a likelihood (lik < AE_LIK_COUNT). */
const ae_likelihood_ops *ae_likelihood_get(ae_likelihood lik);

/* The likelihood named `name`, or AE_LIK_COUNT when there is none. */
ae_likelihood ae_likelihood_find(const char *name);

#endif
