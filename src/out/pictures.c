#include "ae/pictures.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ae/image.h"

void ae_picture_shape(const ae_model *m, size_t *h, size_t *w)
{
    size_t D = m->input_dim;
    if (m->img_h && m->img_w && m->img_h * m->img_w == D) {
        *h = m->img_h;
        *w = m->img_w;
        return;
    }
    size_t s = (size_t)llround(sqrt((double)D));
    if (s * s == D) {
        *h = *w = s;
    } else {
        *h = 1;
        *w = D;
    }
}

void ae_decode_all(ae_model *m, const float *z, const int32_t *labels, size_t n, float *out)
{
    for (size_t i = 0; i < n; i += m->max_batch) {
        size_t b = n - i < m->max_batch ? n - i : m->max_batch;
        ae_model_decode(m, b, z + i * m->latent, labels ? labels + i : NULL,
                        out + i * m->input_dim);
    }
}

/* Maps values [n x D] to display units in place and returns their range. */
static void display_units(const ae_model *m, float *v, size_t n, float *lo, float *hi)
{
    size_t D = m->input_dim;
    if (ae_likelihood_get(m->likelihood)->unit_range) {
        *lo = 0.0f;
        *hi = 1.0f;
        return;
    }
    float a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++) {
            float *x = &v[i * D + j];
            *x = (*x - m->shift[j]) / m->scale[j];
            a = *x < a ? *x : a;
            b = *x > b ? *x : b;
        }
    if (!(b > a)) {
        a = a - 0.5f;
        b = a + 1.0f;
    }
    *lo = a;
    *hi = b;
}

static ae_status write_grid(const char *path, const ae_model *m, const float *v, size_t n,
                            size_t cols, float lo, float hi, ae_error *err)
{
    size_t h, w, gw, gh;
    uint8_t *pix = NULL;
    ae_picture_shape(m, &h, &w);
    ae_status st = ae_image_grid(v, n, h, w, cols, 1, lo, hi, &pix, &gw, &gh, err);
    if (st == AE_OK)
        st = ae_png_write(path, pix, gw, gh, 1, err);
    free(pix);
    return st;
}

ae_status ae_picture_recon(const char *path, ae_model *m, const float *x,
                           const int32_t *labels, size_t n, size_t cols, ae_error *err)
{
    size_t D = m->input_dim, L = m->latent;
    size_t rows = (n + cols - 1) / cols;
    float *code = malloc(n * L * sizeof(float));
    float *recon = malloc(n * D * sizeof(float));
    float *tiles = calloc(2 * rows * cols * D, sizeof(float)); /* [2*rows*cols x D] */
    if (!code || !recon || !tiles) {
        free(code);
        free(recon);
        free(tiles);
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i += m->max_batch) {
        size_t b = n - i < m->max_batch ? n - i : m->max_batch;
        ae_model_encode(m, b, x + i * D, labels ? labels + i : NULL, code + i * L, NULL);
    }
    ae_decode_all(m, code, labels, n, recon);
    /* Row pair r: originals r*cols.., then their reconstructions. */
    for (size_t i = 0; i < n; i++) {
        size_t r = i / cols, c = i % cols;
        memcpy(tiles + ((2 * r) * cols + c) * D, x + i * D, D * sizeof(float));
        memcpy(tiles + ((2 * r + 1) * cols + c) * D, recon + i * D, D * sizeof(float));
    }
    float lo, hi;
    size_t count = 2 * rows * cols; /* blank tiles (n not a multiple of cols) stay 0 */
    display_units(m, tiles, count, &lo, &hi);
    ae_status st = write_grid(path, m, tiles, count, cols, lo, hi, err);
    free(code);
    free(recon);
    free(tiles);
    return st;
}

ae_status ae_picture_decode(const char *path, ae_model *m, const float *z,
                            const int32_t *labels, size_t n, size_t cols, ae_error *err)
{
    float *out = malloc(n * m->input_dim * sizeof(float));
    if (!out) {
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    ae_decode_all(m, z, labels, n, out);
    float lo, hi;
    display_units(m, out, n, &lo, &hi);
    ae_status st = write_grid(path, m, out, n, cols, lo, hi, err);
    free(out);
    return st;
}

void ae_manifold_codes(float *z, size_t L, size_t side, size_t dim_a, size_t dim_b, double p)
{
    memset(z, 0, side * side * L * sizeof(float));
    /* Rows go down dim_b from high to low, columns across dim_a, like a plot. */
    for (size_t r = 0; r < side; r++)
        for (size_t c = 0; c < side; c++) {
            float *row = z + (r * side + c) * L;
            row[dim_a] = (float)ae_normal_quantile(p + (1 - 2 * p) * (double)c / (double)(side - 1));
            row[dim_b] = (float)ae_normal_quantile(1 - p - (1 - 2 * p) * (double)r / (double)(side - 1));
        }
}

ae_status ae_picture_manifold(const char *path, ae_model *m, size_t side, size_t dim_a,
                              size_t dim_b, double p, int32_t label, ae_error *err)
{
    size_t L = m->latent, n = side * side;
    if (side < 2 || dim_a >= L || dim_b >= L || dim_a == dim_b || !(p > 0.0 && p < 0.5)) {
        ae_error_set(err, "%s: manifold needs side >= 2, two different latent dimensions "
                          "below %zu and 0 < p < 0.5", path, L);
        return AE_ERR_USAGE;
    }
    float *z = calloc(n * L, sizeof(float));
    int32_t *labels = m->classes ? malloc(n * sizeof(int32_t)) : NULL;
    if (!z || (m->classes && !labels)) {
        free(z);
        free(labels);
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; labels && i < n; i++)
        labels[i] = label;
    ae_manifold_codes(z, L, side, dim_a, dim_b, p);
    ae_status st = ae_picture_decode(path, m, z, labels, n, side, err);
    free(z);
    free(labels);
    return st;
}
