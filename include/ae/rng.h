/* The run's random generator: xoshiro256** (Blackman & Vigna, 2018) seeded
 * through splitmix64, with Box-Muller normals.  The whole state is four
 * 64-bit words, so it is saved in checkpoints and a resumed run continues the
 * same stream: the same seed gives the same numbers on every machine. */
#ifndef AE_RNG_H
#define AE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} ae_rng;

/* Expands one 64-bit seed into the state with splitmix64. */
void ae_rng_seed(ae_rng *r, uint64_t seed);

/* An independent stream for a purpose (e.g. the validation split or the
 * evaluation noise of one epoch): seeded from (seed, stream). */
void ae_rng_seed_stream(ae_rng *r, uint64_t seed, uint64_t stream);

uint64_t ae_rng_next(ae_rng *r);

/* Uniform on [0, 1) with 24 random bits. */
float ae_rng_uniform(ae_rng *r);

/* Uniform integer in [0, n), unbiased (rejection); n > 0. */
uint64_t ae_rng_below(ae_rng *r, uint64_t n);

/* n standard normal floats by the Box-Muller transform, two per pair of
 * uniforms (the last one of an odd count is dropped). */
void ae_rng_normal_fill(ae_rng *r, float *out, size_t n);

/* Fisher-Yates shuffle of idx[0..n). */
void ae_rng_shuffle(ae_rng *r, size_t *idx, size_t n);

/* The inverse of the standard normal CDF (Acklam's rational approximation
 * refined by one Halley step; |error| < 1e-9 on (0, 1)). */
double ae_normal_quantile(double p);

#endif
