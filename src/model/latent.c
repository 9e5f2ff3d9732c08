/* Codes for pictures of the latent space (ae/latent.h). */
#include "ae/latent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae/rng.h"

static ae_status no_memory(ae_error *err)
{
    ae_error_set(err, "latent space: out of memory");
    return AE_ERR_NOMEM;
}

ae_status ae_latent_interpolate(ae_model *m, const ae_dataset *ds, ae_binarize bin, size_t a,
                                size_t b, size_t steps, float *z, ae_error *err)
{
    const size_t L = m->latent, ab[2] = {a, b};
    float *mu = malloc(2 * L * sizeof(float)); /* [2 x L] */
    if (!mu)
        return no_memory(err);
    ae_status st = ae_model_encode_rows(m, ds, ab, 2, bin, NULL, mu, NULL, err);
    for (size_t k = 0; st == AE_OK && k < steps; k++) {
        float t = (float)k / (float)(steps - 1);
        for (size_t j = 0; j < L; j++)
            z[k * L + j] = (1.0f - t) * mu[j] + t * mu[L + j];
    }
    free(mu);
    return st;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

ae_status ae_latent_traverse(ae_model *m, const ae_dataset *ds, ae_binarize bin, size_t start,
                             const size_t *dims, size_t n_dims, size_t steps, double range,
                             float *z, ae_error *err)
{
    const size_t L = m->latent, n = ds->n;
    const bool prior = m->family->variational;
    /* A prior's quantiles need only the example's code; without a prior the
     * codes of all of ds give the quantiles. */
    float *mu = malloc((prior ? 1 : n) * L * sizeof(float));
    float *col = prior ? NULL : malloc(n * sizeof(float));
    float *q = malloc(steps * sizeof(float)); /* [steps] one dimension's values */
    if (!mu || !q || (!prior && !col)) {
        free(mu);
        free(col);
        free(q);
        return no_memory(err);
    }
    ae_status st = prior ? ae_model_encode_rows(m, ds, &start, 1, bin, NULL, mu, NULL, err)
                         : ae_model_encode_rows(m, ds, NULL, n, bin, NULL, mu, NULL, err);
    const float *base = mu + (prior ? 0 : start * L);
    for (size_t k = 0; st == AE_OK && k < n_dims; k++) {
        if (col) {
            for (size_t i = 0; i < n; i++)
                col[i] = mu[i * L + dims[k]];
            qsort(col, n, sizeof(float), cmp_float);
        }
        for (size_t s = 0; s < steps; s++) {
            double pq = range + (1 - 2 * range) * (double)s / (double)(steps - 1);
            if (col) {
                double pos = pq * (double)(n - 1), fl = floor(pos);
                size_t i0 = (size_t)fl, i1 = i0 + 1 < n ? i0 + 1 : i0;
                q[s] = (float)((1 - (pos - fl)) * col[i0] + (pos - fl) * col[i1]);
            } else {
                q[s] = (float)ae_normal_quantile(pq);
            }
        }
        for (size_t s = 0; s < steps; s++) {
            float *row = z + (k * steps + s) * L;
            memcpy(row, base, L * sizeof(float));
            row[dims[k]] = q[s];
        }
    }
    free(mu);
    free(col);
    free(q);
    return st;
}

ae_status ae_latent_top_kl(ae_model *m, const ae_dataset *ds, ae_binarize bin, size_t *first,
                           size_t *second, double kl_out[2], ae_error *err)
{
    const size_t L = m->latent, n = ds->n;
    float *mu = malloc(n * L * sizeof(float));
    float *lv = malloc(n * L * sizeof(float));
    double *kl = calloc(L, sizeof(double));
    ae_status st = AE_OK;
    if (!mu || !lv || !kl)
        st = no_memory(err);
    if (st == AE_OK)
        st = ae_model_encode_rows(m, ds, NULL, n, bin, NULL, mu, lv, err);
    if (st == AE_OK) {
        for (size_t i = 0; i < n * L; i++)
            kl[i % L] += 0.5 * ((double)mu[i] * mu[i] + exp(lv[i]) - 1.0 - lv[i]);
        for (size_t j = 0; j < L; j++)
            kl[j] /= (double)n;
        size_t da = 0, db;
        for (size_t j = 1; j < L; j++)
            da = kl[j] > kl[da] ? j : da;
        db = da == 0 ? 1 : 0;
        for (size_t j = 0; j < L; j++)
            db = j != da && kl[j] > kl[db] ? j : db;
        *first = da;
        *second = db;
        kl_out[0] = kl[da];
        kl_out[1] = kl[db];
    }
    free(mu);
    free(lv);
    free(kl);
    return st;
}
