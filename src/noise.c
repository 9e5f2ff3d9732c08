#include "ae/noise.h"

#include <string.h>

void ae_noise_apply(const ae_config *cfg, const float *lo, const float *hi, ae_rng *rng,
                    const float *x, float *out, size_t B, size_t D)
{
    size_t n = B * D;
    switch (cfg->model.noise.type) {
    case AE_NOISE_NONE:
        memcpy(out, x, n * sizeof(float));
        break;
    case AE_NOISE_GAUSSIAN: {
        float s = (float)cfg->model.noise.std;
        ae_rng_normal_fill(rng, out, n);
        for (size_t i = 0; i < n; i++)
            out[i] = x[i] + s * out[i];
        break;
    }
    case AE_NOISE_MASKING: {
        float p = (float)cfg->model.noise.p;
        for (size_t i = 0; i < n; i++)
            out[i] = ae_rng_uniform(rng) < p ? 0.0f : x[i];
        break;
    }
    case AE_NOISE_SALT_PEPPER: {
        float p = (float)cfg->model.noise.p;
        for (size_t i = 0; i < n; i++) {
            float u = ae_rng_uniform(rng);
            size_t j = i % D;
            /* u < p/2: pepper (the minimum), p/2 <= u < p: salt (the maximum) */
            out[i] = u < 0.5f * p ? lo[j] : u < p ? hi[j] : x[i];
        }
        break;
    }
    }
}
