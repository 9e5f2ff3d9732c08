#include "ae/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"
#include "nn/gemm.h"

#define QUERY_BLOCK 512  /* queries per block */
#define INDEX_BLOCK 4096 /* index rows per block: the dot products are 8 MB */

const char *ae_metric_name(ae_metric m)
{
    static const char *const names[AE_METRIC_COUNT] = {"l2", "cosine"};
    return (unsigned)m < AE_METRIC_COUNT ? names[m] : NULL;
}

/* What one row of a query block needs to fold a block of dot products into
 * its top k. */
typedef struct {
    const float *dots;    /* [qb x ib] */
    const float *qsq, *xsq; /* squared norms (l2) or inverse norms (cosine) */
    size_t q0, i0, ib, k;
    ae_metric metric;
    float *best_d;        /* [qb x k] ascending */
    uint32_t *best_i;     /* [qb x k] */
} fold_job;

static void fold_rows(void *ctx, size_t lo, size_t hi)
{
    const fold_job *j = ctx;
    const size_t k = j->k;
    for (size_t r = lo; r < hi; r++) {
        const float *s = j->dots + r * j->ib;
        float *bd = j->best_d + r * k;
        uint32_t *bi = j->best_i + r * k;
        float qa = j->qsq[j->q0 + r];
        for (size_t c = 0; c < j->ib; c++) {
            const float xa = j->xsq[j->i0 + c];
            float dist = j->metric == AE_METRIC_L2 ? qa + xa - 2.0f * s[c] : 1.0f - s[c] * qa * xa;
            /* strictly nearer than the k-th: a later row at an equal
             * distance never passes an earlier one (NaN never enters) */
            if (!(dist < bd[k - 1]))
                continue;
            size_t p = k - 1;
            while (p > 0 && bd[p - 1] > dist) {
                bd[p] = bd[p - 1];
                bi[p] = bi[p - 1];
                p--;
            }
            bd[p] = dist;
            bi[p] = (uint32_t)(j->i0 + c);
        }
    }
}

static double exact_distance(const float *a, const float *b, size_t d, ae_metric metric)
{
    double s = 0, na = 0, nb = 0;
    for (size_t t = 0; t < d; t++) {
        if (metric == AE_METRIC_L2) {
            double e = (double)a[t] - b[t];
            s += e * e;
        } else {
            s += (double)a[t] * b[t];
            na += (double)a[t] * a[t];
            nb += (double)b[t] * b[t];
        }
    }
    if (metric == AE_METRIC_L2)
        return sqrt(s);
    return na > 0 && nb > 0 ? 1.0 - s / sqrt(na * nb) : 1.0;
}

/* Squared norms (l2) or inverse norms, 0 for a zero row (cosine). */
static void row_norms(const float *x, size_t n, size_t d, ae_metric metric, float *out)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t t = 0; t < d; t++)
            s += (double)x[i * d + t] * x[i * d + t];
        out[i] = metric == AE_METRIC_L2 ? (float)s : s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    }
}

ae_status ae_knn(const float *q, size_t nq, const float *x, size_t ni, size_t d, size_t k,
                 ae_metric metric, uint32_t *idx, float *dist, ae_error *err)
{
    if (k == 0 || k > ni || d == 0 || ni > UINT32_MAX || (unsigned)metric >= AE_METRIC_COUNT) {
        ae_error_set(err, "nearest neighbours: k = %zu of %zu index rows of %zu values", k, ni,
                     d);
        return AE_ERR_USAGE;
    }
    size_t ibmax = ni < INDEX_BLOCK ? ni : INDEX_BLOCK;
    float *dots = malloc((size_t)QUERY_BLOCK * ibmax * sizeof(float));
    float *qsq = malloc((nq ? nq : 1) * sizeof(float)), *xsq = malloc(ni * sizeof(float));
    float *best_d = malloc((size_t)QUERY_BLOCK * k * sizeof(float));
    uint32_t *best_i = malloc((size_t)QUERY_BLOCK * k * sizeof(uint32_t));
    if (!dots || !qsq || !xsq || !best_d || !best_i) {
        free(dots), free(qsq), free(xsq), free(best_d), free(best_i);
        ae_error_set(err, "nearest neighbours: out of memory");
        return AE_ERR_NOMEM;
    }
    row_norms(q, nq, d, metric, qsq);
    row_norms(x, ni, d, metric, xsq);
    for (size_t q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
        size_t qb = nq - q0 < QUERY_BLOCK ? nq - q0 : QUERY_BLOCK;
        for (size_t t = 0; t < qb * k; t++) {
            best_d[t] = INFINITY;
            best_i[t] = UINT32_MAX;
        }
        for (size_t i0 = 0; i0 < ni; i0 += INDEX_BLOCK) {
            size_t ib = ni - i0 < INDEX_BLOCK ? ni - i0 : INDEX_BLOCK;
            ae_gemm(false, true, qb, ib, d, 1.0f, q + q0 * d, d, x + i0 * d, d, 0.0f, dots, ib);
            fold_job j = {dots, qsq, xsq, q0, i0, ib, k, metric, best_d, best_i};
            ae_par_for(fold_rows, &j, qb, 1, qb * ib >= ((size_t)1 << 16) ? 0 : qb + 1);
        }
        /* the k found, with distances recomputed in double and put in
         * order again by them (rows in ascending order on a tie) */
        for (size_t r = 0; r < qb; r++) {
            uint32_t *bi = best_i + r * k;
            float *bd = best_d + r * k;
            for (size_t t = 0; t < k; t++)
                bd[t] = bi[t] == UINT32_MAX ? INFINITY
                                            : (float)exact_distance(q + (q0 + r) * d,
                                                                    x + (size_t)bi[t] * d, d, metric);
            for (size_t t = 1; t < k; t++) {
                float vd = bd[t];
                uint32_t vi = bi[t];
                size_t p = t;
                while (p > 0 && (bd[p - 1] > vd || (bd[p - 1] == vd && bi[p - 1] > vi))) {
                    bd[p] = bd[p - 1];
                    bi[p] = bi[p - 1];
                    p--;
                }
                bd[p] = vd;
                bi[p] = vi;
            }
            memcpy(idx + (q0 + r) * k, bi, k * sizeof *bi);
            memcpy(dist + (q0 + r) * k, bd, k * sizeof *bd);
        }
    }
    free(dots), free(qsq), free(xsq), free(best_d), free(best_i);
    return AE_OK;
}
