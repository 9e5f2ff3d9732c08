#include "ae/batch.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/simd.h"

/* Rows are read a block at a time, so the pages of a memory-mapped dataset
 * can be released as the passes go (ae_dataset_pages_read). */
#define PASS_ROWS 256

static inline size_t elem_size(const ae_dataset *ds)
{
    return ds->dtype == AE_DTYPE_U8 ? 1 : 4;
}

static inline float be_float(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float raw_value(const ae_dataset *ds, size_t row, size_t j)
{
    size_t k = row * ds->dim + j;
    if (ds->dtype == AE_DTYPE_U8)
        return (float)((const uint8_t *)ds->x)[k];
    if (ds->dtype == AE_DTYPE_F32BE)
        return be_float((const unsigned char *)ds->x + 4 * k);
    return ((const float *)ds->x)[k];
}

/* Tells the dataset that `rows` rows were read through its map (page
 * release when mapped). */
static void rows_read(const ae_dataset *ds, size_t rows)
{
    if (ds->map)
        ae_dataset_pages_read(ds, rows * ds->dim * elem_size(ds));
}

void ae_feature_sums(const ae_dataset *ds, const size_t *idx, size_t n, double *sum,
                     double *count)
{
    size_t D = ds->dim;
    for (size_t i = 0; i < n; i++) {
        size_t row = idx ? idx[i] : i;
        for (size_t j = 0; j < D; j++) {
            double v = raw_value(ds, row, j);
            if (v != v)
                continue; /* missing */
            sum[j] += v;
            count[j] += 1.0;
        }
        if ((i + 1) % PASS_ROWS == 0)
            rows_read(ds, PASS_ROWS);
    }
}

void ae_feature_sq_devs(const ae_dataset *ds, const size_t *idx, size_t n, const double *mean,
                        double *m2)
{
    size_t D = ds->dim;
    for (size_t i = 0; i < n; i++) {
        size_t row = idx ? idx[i] : i;
        for (size_t j = 0; j < D; j++) {
            double d = raw_value(ds, row, j) - mean[j];
            if (d == d) /* a missing value adds nothing */
                m2[j] += d * d;
        }
        if ((i + 1) % PASS_ROWS == 0)
            rows_read(ds, PASS_ROWS);
    }
}

void ae_scaling_from_moments(size_t dim, const double *mean, const double *m2,
                             const double *count, float *scale, float *shift)
{
    for (size_t j = 0; j < dim; j++) {
        double sd = count[j] > 0 ? sqrt(m2[j] / count[j]) : 0.0;
        if (!(sd > 1e-12))
            sd = 1.0;
        scale[j] = (float)(1.0 / sd);
        shift[j] = (float)(-mean[j] / sd);
    }
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
    double *sum = calloc(D, sizeof(double));
    double *m2 = calloc(D, sizeof(double));
    double *count = calloc(D, sizeof(double));
    if (!sum || !m2 || !count || n == 0) {
        free(sum);
        free(m2);
        free(count);
        return;
    }
    ae_feature_sums(ds, idx, n, sum, count);
    for (size_t j = 0; j < D; j++) /* the mean of the values present (0 when none are) */
        sum[j] = count[j] > 0 ? sum[j] / count[j] : 0.0;
    ae_feature_sq_devs(ds, idx, n, sum, m2);
    ae_scaling_from_moments(D, sum, m2, count, scale, shift);
    free(sum);
    free(m2);
    free(count);
}

void ae_scaled_range_rows(const ae_dataset *ds, size_t first, size_t n, const float *scale,
                          const float *shift, float *lo, float *hi)
{
    float a = INFINITY, b = -INFINITY;
    for (size_t i = first; i < first + n; i++) {
        for (size_t j = 0; j < ds->dim; j++) {
            float v = raw_value(ds, i, j) * scale[j] + shift[j];
            a = v < a ? v : a;
            b = v > b ? v : b;
        }
        if ((i + 1 - first) % PASS_ROWS == 0)
            rows_read(ds, PASS_ROWS);
    }
    *lo = a;
    *hi = b;
}

void ae_scaled_range(const ae_dataset *ds, const float *scale, const float *shift, float *lo,
                     float *hi)
{
    ae_scaled_range_rows(ds, 0, ds->n, scale, shift, lo, hi);
}

void ae_scaled_feature_range_rows(const ae_dataset *ds, size_t first, size_t n,
                                  const float *scale, const float *shift, float *lo, float *hi)
{
    for (size_t j = 0; j < ds->dim; j++) {
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
    }
    for (size_t i = first; i < first + n; i++) {
        for (size_t j = 0; j < ds->dim; j++) {
            float v = raw_value(ds, i, j) * scale[j] + shift[j];
            lo[j] = v < lo[j] ? v : lo[j];
            hi[j] = v > hi[j] ? v : hi[j];
        }
        if ((i + 1 - first) % PASS_ROWS == 0)
            rows_read(ds, PASS_ROWS);
    }
}

void ae_scaled_feature_range(const ae_dataset *ds, const float *scale, const float *shift,
                             float *lo, float *hi)
{
    ae_scaled_feature_range_rows(ds, 0, ds->n, scale, shift, lo, hi);
}

/* out = src * scale + shift over one row */
AE_CLONES static void scale_u8(float *restrict out, const uint8_t *restrict src,
                               const float *restrict scale, const float *restrict shift, size_t n)
{
    for (size_t j = 0; j < n; j++)
        out[j] = (float)src[j] * scale[j] + shift[j];
}

/* the same from big-endian float32 (a mapped float IDX file) */
AE_CLONES static void scale_f32be(float *restrict out, const uint32_t *restrict src,
                                  const float *restrict scale, const float *restrict shift,
                                  size_t n)
{
    for (size_t j = 0; j < n; j++) {
        uint32_t u = __builtin_bswap32(src[j]);
        float f;
        memcpy(&f, &u, sizeof f);
        out[j] = f * scale[j] + shift[j];
    }
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
            scale_u8(o, ae_dataset_row(ds, row), scale, shift, D);
        } else if (ds->dtype == AE_DTYPE_F32BE) {
            uint32_t tmp[256]; /* aligned copy of the row, a piece at a time */
            const unsigned char *src = ae_dataset_row(ds, row);
            for (size_t j = 0; j < D; j += 256) {
                size_t k = D - j < 256 ? D - j : 256;
                memcpy(tmp, src + 4 * j, 4 * k);
                scale_f32be(o + j, tmp, scale + j, shift + j, k);
            }
        } else {
            const float *restrict src = (const float *)ds->x + row * D;
            for (size_t j = 0; j < D; j++)
                o[j] = src[j] * scale[j] + shift[j];
        }
        /* a missing value (NaN) stays missing; the dynamic draws are made
         * for it all the same, so the stream does not depend on it */
        if (bin == AE_BIN_FIXED) {
            for (size_t j = 0; j < D; j++)
                o[j] = o[j] != o[j] ? o[j] : o[j] > 0.5f ? 1.0f : 0.0f;
        } else if (bin == AE_BIN_DYNAMIC) {
            for (size_t j = 0; j < D; j++) {
                float u = ae_rng_uniform(rng);
                o[j] = o[j] != o[j] ? o[j] : u < o[j] ? 1.0f : 0.0f;
            }
        }
    }
}

void ae_batch_skip_draws(size_t rows, size_t dim, ae_binarize bin, ae_rng *rng)
{
    if (bin != AE_BIN_DYNAMIC)
        return;
    for (size_t i = 0; i < rows * dim; i++)
        (void)ae_rng_uniform(rng);
}

static ae_status load_split(const ae_config *cfg, const char *path, const char *labels_path,
                            long limit, bool new_names, ae_dataset *ds, ae_error *err)
{
    const char *tokens[AE_MAX_MISSING_TOKENS];
    for (int k = 0; k < cfg->data.n_csv_missing; k++)
        tokens[k] = cfg->data.csv_missing[k];
    const char *classes[AE_MAX_CLASS_NAMES];
    size_t n_classes = ae_config_class_names(cfg, classes);
    ae_csv_options csv = {cfg->data.csv_label_column, cfg->data.csv_header, tokens,
                          (size_t)cfg->data.n_csv_missing, cfg->data.allow_missing,
                          classes, n_classes};
    ae_dataset d;
    ae_status st = ae_dataset_load(&d, path, &csv, err);
    if (st != AE_OK)
        return st;
    if (labels_path && labels_path[0]) {
        st = ae_dataset_load_labels(&d, labels_path, classes, n_classes, err);
        if (st != AE_OK) {
            ae_dataset_free(&d);
            return st;
        }
    }
    /* names are new classes only for data whose model learnt no labels */
    if (d.n_class_names && !new_names &&
        (cfg->data.train_labels[0] || cfg->data.csv_label_column[0])) {
        ae_error_set(err, "%s: the labels are names ('%s', ...), but the training data's "
                          "labels were integers (the spec has no data.class_names)",
                     labels_path && labels_path[0] ? labels_path : path, d.class_names[0]);
        ae_dataset_free(&d);
        return AE_ERR_INPUT;
    }
    if (limit > 0)
        ae_dataset_truncate(&d, (size_t)limit);
    *ds = d;
    return AE_OK;
}

ae_status ae_load_split(const ae_config *cfg, const char *path, const char *labels_path,
                        long limit, ae_dataset *ds, ae_error *err)
{
    return load_split(cfg, path, labels_path, limit, false, ds, err);
}

ae_status ae_load_training_split(const ae_config *cfg, const char *path, const char *labels_path,
                                 long limit, ae_dataset *ds, ae_error *err)
{
    return load_split(cfg, path, labels_path, limit, true, ds, err);
}
