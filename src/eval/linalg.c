#include "ae/linalg.h"

#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "nn/gemm.h"

/* LAPACK's symmetric eigensolver (Fortran calling convention, in OpenBLAS). */
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
             float *w, float *work, const int *lwork, int *iwork, const int *liwork, int *info);

#define PCA_CHUNK 1024

/* Gets rows [first, first+b) of the data as floats into buf. */
typedef void (*rows_fn)(const void *src, size_t first, size_t b, float *buf);

typedef struct {
    const ae_dataset *ds;
    const float *scale, *shift;
} ds_src;

static void ds_rows(const void *src, size_t first, size_t b, float *buf)
{
    const ds_src *s = src;
    ae_batch_gather(s->ds, NULL, first, b, s->scale, s->shift, AE_BIN_NONE, NULL, buf);
}

typedef struct {
    const float *x;
    size_t d;
} mat_src;

static void mat_rows(const void *src, size_t first, size_t b, float *buf)
{
    const mat_src *s = src;
    memcpy(buf, s->x + first * s->d, b * s->d * sizeof(float));
}

static ae_status fit(ae_pca *p, rows_fn rows, const void *src, size_t n, size_t d, size_t k,
                     ae_error *err)
{
    if (n < 2 || d == 0 || k == 0 || k > d || d > 65536) {
        ae_error_set(err, "PCA: needs at least 2 examples and 1 <= k <= d (n %zu, d %zu, k %zu)",
                     n, d, k);
        return AE_ERR_USAGE;
    }
    ae_pca t = {d, k, NULL, NULL, NULL, 0};
    t.mean = calloc(d, sizeof(float));
    t.components = malloc(k * d * sizeof(float));
    t.variance = malloc(k * sizeof(double));
    double *mean = calloc(d, sizeof(double));
    float *buf = malloc(PCA_CHUNK * d * sizeof(float));
    float *cov = calloc(d * d, sizeof(float)); /* [d x d] */
    float *w = malloc(d * sizeof(float));
    ae_status st = AE_OK;
    if (!t.mean || !t.components || !t.variance || !mean || !buf || !cov || !w) {
        ae_error_set(err, "PCA: out of memory for %zu x %zu", d, d);
        st = AE_ERR_NOMEM;
        goto done;
    }
    /* two passes: the mean, then the centred scatter matrix X_c^T X_c */
    for (size_t i = 0; i < n; i += PCA_CHUNK) {
        size_t b = n - i < PCA_CHUNK ? n - i : PCA_CHUNK;
        rows(src, i, b, buf);
        for (size_t r = 0; r < b; r++)
            for (size_t j = 0; j < d; j++)
                mean[j] += buf[r * d + j];
    }
    for (size_t j = 0; j < d; j++)
        t.mean[j] = (float)(mean[j] / (double)n);
    for (size_t i = 0; i < n; i += PCA_CHUNK) {
        size_t b = n - i < PCA_CHUNK ? n - i : PCA_CHUNK;
        rows(src, i, b, buf);
        for (size_t r = 0; r < b; r++)
            for (size_t j = 0; j < d; j++)
                buf[r * d + j] -= t.mean[j];
        ae_gemm(true, false, d, d, b, 1.0f, buf, d, buf, d, 1.0f, cov, d);
    }
    for (size_t q = 0; q < d * d; q++)
        cov[q] /= (float)n;
    for (size_t j = 0; j < d; j++)
        t.total_variance += cov[j * d + j];

    /* eigenvalues ascending in w; eigenvector j is row j of cov (LAPACK's
     * column j of a column-major matrix) */
    int nn = (int)d, info = 0, lwork = -1, liwork = -1, iq;
    float wq;
    ssyevd_("V", "U", &nn, cov, &nn, w, &wq, &lwork, &iq, &liwork, &info);
    lwork = (int)wq + 1;
    liwork = iq;
    float *work = malloc((size_t)lwork * sizeof(float));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        free(work);
        free(iwork);
        ae_error_set(err, "PCA: out of memory for the eigensolver");
        st = AE_ERR_NOMEM;
        goto done;
    }
    ssyevd_("V", "U", &nn, cov, &nn, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    if (info != 0) {
        ae_error_set(err, "PCA: the eigensolver did not converge (ssyevd info %d)", info);
        st = AE_ERR_NUMERIC;
        goto done;
    }
    for (size_t c = 0; c < k; c++) {
        size_t j = d - 1 - c;
        memcpy(t.components + c * d, cov + j * d, d * sizeof(float));
        t.variance[c] = w[j] > 0 ? w[j] : 0.0;
    }
    *p = t;
    t.mean = t.components = NULL;
    t.variance = NULL;
done:
    ae_pca_free(&t);
    free(mean);
    free(buf);
    free(cov);
    free(w);
    return st;
}

ae_status ae_pca_fit_matrix(ae_pca *p, const float *x, size_t n, size_t d, size_t k,
                            ae_error *err)
{
    mat_src s = {x, d};
    return fit(p, mat_rows, &s, n, d, k, err);
}

ae_status ae_pca_fit_dataset(ae_pca *p, const ae_dataset *ds, const float *scale,
                             const float *shift, size_t k, ae_error *err)
{
    ds_src s = {ds, scale, shift};
    return fit(p, ds_rows, &s, ds->n, ds->dim, k, err);
}

void ae_pca_project(const ae_pca *p, const float *x, size_t n, float *codes)
{
    /* codes = x C^T - mean C^T, the mean term once per component */
    ae_gemm(false, true, n, p->k, p->d, 1.0f, x, p->d, p->components, p->d, 0.0f, codes, p->k);
    for (size_t c = 0; c < p->k; c++) {
        double mc = 0;
        for (size_t j = 0; j < p->d; j++)
            mc += (double)p->mean[j] * p->components[c * p->d + j];
        for (size_t r = 0; r < n; r++)
            codes[r * p->k + c] -= (float)mc;
    }
}

void ae_pca_reconstruct(const ae_pca *p, const float *codes, size_t n, float *x)
{
    for (size_t r = 0; r < n; r++)
        memcpy(x + r * p->d, p->mean, p->d * sizeof(float));
    ae_gemm(false, false, n, p->d, p->k, 1.0f, codes, p->k, p->components, p->d, 1.0f, x, p->d);
}

void ae_pca_free(ae_pca *p)
{
    if (!p)
        return;
    free(p->mean);
    free(p->components);
    free(p->variance);
    memset(p, 0, sizeof *p);
}
