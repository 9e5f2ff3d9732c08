/* Input corruption for denoising autoencoders.  The corrupted copy goes to
 * the encoder; the clean input stays the target.  Applied only in training,
 * with the run's generator. */
#ifndef AE_NOISE_H
#define AE_NOISE_H

#include <stdbool.h>
#include <stddef.h>

#include "ae/rng.h"

typedef enum { AE_NOISE_NONE, AE_NOISE_GAUSSIAN, AE_NOISE_MASKING, AE_NOISE_SALT_PEPPER } ae_noise;

/* model.noise of the spec */
typedef struct {
    ae_noise type;
    double std;  /* gaussian */
    double p;    /* masking, salt_pepper */
    /* Training on incomplete data (data.missing "allow"): a masked input
     * becomes a missing value (NaN, which the model fills as it fills the
     * data's own gaps) instead of 0, and a missing input stays missing under
     * every noise.  Masking then trains the model to predict hidden values
     * from the others, which is what imputation asks of it. */
    bool as_missing;
} ae_noise_spec;

/* out [B x D] = x corrupted as the noise spec says:
 *   gaussian     x + std * N(0, 1)
 *   masking      0 (NaN with as_missing) with probability p, else x
 *   salt_pepper  with probability p, lo[j] or hi[j] (half each), else x,
 *                where lo/hi are feature j's smallest and largest (scaled)
 *                training values
 * none copies x. */
void ae_noise_apply(const ae_noise_spec *noise, const float *lo, const float *hi, ae_rng *rng,
                    const float *x, float *out, size_t B, size_t D);

/* The same for rows [first, first + B) of a global batch of total rows
 * (a data-parallel rank's slice, ae/dist.h): the generator makes the draws of
 * the whole batch, so the slice gets what one process would give it.  out
 * needs room for total x D floats. */
void ae_noise_apply_slice(const ae_noise_spec *noise, const float *lo, const float *hi, ae_rng *rng,
                          const float *x, float *out, size_t B, size_t D, size_t first,
                          size_t total);

#endif
