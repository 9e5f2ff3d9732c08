/* Likelihood entries that live in files of their own (src/nn/likelihood_*.c),
 * for the table in src/nn/likelihood.c.  Internal to the library. */
#ifndef AE_LIKELIHOODS_H
#define AE_LIKELIHOODS_H

#include "ae/likelihood.h"

/* Lower bound of gaussian_learned's log-variance (a standard deviation of
 * exp(-3) ~ 0.05 in model units): without one the NLL of a feature the
 * decoder predicts exactly (a pixel that is always 0) runs to -infinity. */
#define AE_LIK_LEARNED_LOGVAR_MIN (-6.0f)

extern const ae_likelihood_ops ae_lik_gaussian_learned;

#endif
