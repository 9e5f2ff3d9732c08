#include "ae/noise.h"

#include <math.h>
#include <string.h>

void ae_noise_apply(const ae_noise_spec *noise, const float *lo, const float *hi, ae_rng *rng,
                    const float *x, float *out, size_t B, size_t D)
{
    ae_noise_apply_slice(noise, lo, hi, rng, x, out, B, D, 0, B);
}

static void skip_uniforms(ae_rng *rng, size_t n)
{
    for (size_t i = 0; i < n; i++)
        (void)ae_rng_uniform(rng);
}

void ae_noise_apply_slice(const ae_noise_spec *noise, const float *lo, const float *hi, ae_rng *rng,
                          const float *x, float *out, size_t B, size_t D, size_t first,
                          size_t total)
{
    size_t n = B * D;
    ae_noise type = noise->type;
    if (type == AE_NOISE_MASKING || type == AE_NOISE_SALT_PEPPER)
        skip_uniforms(rng, first * D); /* the earlier rows' draws */
    switch (type) {
    case AE_NOISE_NONE:
        memcpy(out, x, n * sizeof(float));
        break;
    case AE_NOISE_GAUSSIAN: {
        float s = (float)noise->std;
        /* normals come in pairs: draw the whole batch's, keep the slice's */
        ae_rng_normal_fill(rng, out, total * D);
        if (first)
            memmove(out, out + first * D, n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            out[i] = x[i] + s * out[i];
        break;
    }
    case AE_NOISE_MASKING: {
        float p = (float)noise->p, hidden = noise->as_missing ? NAN : 0.0f;
        for (size_t i = 0; i < n; i++)
            out[i] = ae_rng_uniform(rng) < p ? hidden : x[i];
        break;
    }
    case AE_NOISE_SALT_PEPPER: {
        float p = (float)noise->p;
        for (size_t i = 0; i < n; i++) {
            float u = ae_rng_uniform(rng);
            size_t j = i % D;
            /* u < p/2: pepper (the minimum), p/2 <= u < p: salt (the maximum) */
            out[i] = u < 0.5f * p ? lo[j] : u < p ? hi[j] : x[i];
            if (noise->as_missing && x[i] != x[i])
                out[i] = x[i];
        }
        break;
    }
    }
    if (type == AE_NOISE_MASKING || type == AE_NOISE_SALT_PEPPER)
        skip_uniforms(rng, (total - first - B) * D); /* the later rows' draws */
}
