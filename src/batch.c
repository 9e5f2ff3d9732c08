#include "ae/batch.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "simd.h"

static inline float raw_value(const ae_dataset *ds, size_t row, size_t j)
{
    if (ds->dtype == AE_DTYPE_U8)
        return (float)((const uint8_t *)ds->x)[row * ds->dim + j];
    return ((const float *)ds->x)[row * ds->dim + j];
}

void ae_scaling_fit(const ae_dataset *ds, const size_t *idx, size_t n, ae_scale mode,
                    float *scale, float *shift)
{
    size_t D = ds->dim;
    for (size_t j = 0; j < D; j++) {
        scale[j] = (mode == AE_SCALE_UNIT && ds->dtype == AE_DTYPE_U8) ? 1.0f / 255.0f : 1.0f;
        shift[j] = 0.0f;
    }
    if (mode != AE_SCALE_STANDARDIZE)
        return;
    if (!idx)
        n = ds->n;
    /* Two passes in double: the mean, then the centred sum of squares, which
     * avoids the cancellation of the one-pass formula. */
    double *mean = calloc(D, sizeof(double));
    double *m2 = calloc(D, sizeof(double));
    if (!mean || !m2 || n == 0) {
        free(mean);
        free(m2);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t row = idx ? idx[i] : i;
        for (size_t j = 0; j < D; j++)
            mean[j] += raw_value(ds, row, j);
    }
    for (size_t j = 0; j < D; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        size_t row = idx ? idx[i] : i;
        for (size_t j = 0; j < D; j++) {
            double d = raw_value(ds, row, j) - mean[j];
            m2[j] += d * d;
        }
    }
    for (size_t j = 0; j < D; j++) {
        double sd = sqrt(m2[j] / (double)n);
        if (!(sd > 1e-12))
            sd = 1.0;
        scale[j] = (float)(1.0 / sd);
        shift[j] = (float)(-mean[j] / sd);
    }
    free(mean);
    free(m2);
}

void ae_scaled_range(const ae_dataset *ds, const float *scale, const float *shift, float *lo,
                     float *hi)
{
    float a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->dim; j++) {
            float v = raw_value(ds, i, j) * scale[j] + shift[j];
            a = v < a ? v : a;
            b = v > b ? v : b;
        }
    *lo = a;
    *hi = b;
}

void ae_scaled_feature_range(const ae_dataset *ds, const float *scale, const float *shift,
                             float *lo, float *hi)
{
    for (size_t j = 0; j < ds->dim; j++) {
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
    }
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->dim; j++) {
            float v = raw_value(ds, i, j) * scale[j] + shift[j];
            lo[j] = v < lo[j] ? v : lo[j];
            hi[j] = v > hi[j] ? v : hi[j];
        }
}

/* out = src * scale + shift over one row */
AE_CLONES static void scale_u8(float *restrict out, const uint8_t *restrict src,
                               const float *restrict scale, const float *restrict shift, size_t n)
{
    for (size_t j = 0; j < n; j++)
        out[j] = (float)src[j] * scale[j] + shift[j];
}

void ae_batch_gather(const ae_dataset *ds, const size_t *idx, size_t first, size_t B,
                     const float *scale, const float *shift, ae_binarize bin, ae_rng *rng,
                     float *out)
{
    size_t D = ds->dim;
    for (size_t r = 0; r < B; r++) {
        size_t row = idx ? idx[r] : first + r;
        float *restrict o = out + r * D;
        if (ds->dtype == AE_DTYPE_U8) {
            scale_u8(o, (const uint8_t *)ds->x + row * D, scale, shift, D);
        } else {
            const float *restrict src = (const float *)ds->x + row * D;
            for (size_t j = 0; j < D; j++)
                o[j] = src[j] * scale[j] + shift[j];
        }
        if (bin == AE_BIN_FIXED) {
            for (size_t j = 0; j < D; j++)
                o[j] = o[j] > 0.5f ? 1.0f : 0.0f;
        } else if (bin == AE_BIN_DYNAMIC) {
            for (size_t j = 0; j < D; j++)
                o[j] = ae_rng_uniform(rng) < o[j] ? 1.0f : 0.0f;
        }
    }
}
