/* Input corruption for denoising autoencoders.  The corrupted copy goes to
 * the encoder; the clean input stays the target.  Applied only in training,
 * with the run's generator. */
#ifndef AE_NOISE_H
#define AE_NOISE_H

#include <stddef.h>

#include "ae/rng.h"

typedef enum { AE_NOISE_NONE, AE_NOISE_GAUSSIAN, AE_NOISE_MASKING, AE_NOISE_SALT_PEPPER } ae_noise;

/* model.noise of the spec */
typedef struct {
    ae_noise type;
    double std;  /* gaussian */
    double p;    /* masking, salt_pepper */
} ae_noise_spec;

/* out [B x D] = x corrupted as the noise spec says:
 *   gaussian     x + std * N(0, 1)
 *   masking      0 with probability p, else x
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
