/* Iterated reconstruction, its rounds checked on hidden observed cells
 * (see ae/impute.h). */
#include "ae/impute.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ae/rng.h"
#include "model/family.h"

/* `rounds` rounds on x [n x D] for the cells miss marks; after each round t
 * (and before the first, t = 0) the squared error on the cells probe marks
 * against truth [n x D] is added to sse[t] (when probe is not NULL). */
static ae_status run_rounds(ae_model *m, size_t n, float *x, const unsigned char *miss,
                            const int32_t *labels, long rounds, const unsigned char *probe,
                            const float *truth, double *sse, float *mu, float *mean,
                            ae_error *err)
{
    const size_t D = m->input_dim, MB = m->max_batch;
    for (size_t i0 = 0; i0 < n; i0 += MB) {
        const size_t B = n - i0 < MB ? n - i0 : MB, off = i0 * D;
        float *xb = x + off;
        const int32_t *lab = labels ? labels + i0 : NULL;
        for (long t = 0;; t++) {
            for (size_t q = 0; probe && q < B * D; q++)
                if (probe[off + q]) {
                    double d = (double)xb[q] - truth[off + q];
                    sse[t] += d * d;
                }
            if (t == rounds)
                break;
            const float *in = ae_model_encoder_input(m, B, xb, miss + off);
            if (!in) {
                ae_error_set(err, "imputation: out of memory for the encoder's input");
                return AE_ERR_NOMEM;
            }
            m->family->ops->encode(m, B, in, lab, mu, NULL);
            ae_model_decode(m, B, mu, lab, mean);
            for (size_t q = 0; q < B * D; q++)
                if (miss[off + q])
                    xb[q] = mean[q];
        }
    }
    return AE_OK;
}

/* Marks in `miss` the cells of rows with nothing observed as not to be
 * reconstructed (they keep their start). */
static void skip_empty_rows(unsigned char *miss, size_t n, size_t D)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < D && miss[i * D + k])
            k++;
        if (k == D)
            memset(miss + i * D, 0, D);
    }
}

ae_status ae_model_impute(ae_model *m, size_t n, float *x, const unsigned char *miss,
                          const int32_t *labels, const float *start,
                          const ae_impute_settings *settings, ae_impute_report *report,
                          ae_error *err)
{
    const size_t D = m->input_dim, nd = n * D;
    const long R = settings->rounds < 0 ? 0 : settings->rounds;
    unsigned char *work = malloc(nd);                  /* [n x D] cells reconstructed */
    unsigned char *probe = NULL;                       /* [n x D] hidden observed cells */
    float *trial = NULL;                               /* [n x D] the check's completion */
    float *mean = malloc(m->max_batch * D * sizeof(float)); /* [MB x D] decoder means */
    float *mu = malloc(m->max_batch * m->latent * sizeof(float)); /* [MB x L] codes */
    double *sse = calloc((size_t)R + 1, sizeof(double));    /* [R + 1] the check's errors */
    ae_status st = AE_OK;
    long rounds = R;
    size_t hidden = 0;
    if (!work || !mean || !mu || !sse)
        goto nomem;
    if (settings->check_fraction > 0 && R > 0) {
        probe = calloc(nd, 1);
        trial = malloc(nd * sizeof(float));
        if (!probe || !trial)
            goto nomem;
        ae_rng rng;
        ae_rng_seed(&rng, settings->seed);
        memcpy(work, miss, nd);
        for (size_t i = 0; i < n; i++) {
            size_t left = 0; /* observed cells the row keeps */
            for (size_t j = 0; j < D; j++)
                left += !miss[i * D + j];
            for (size_t j = 0; j < D; j++) {
                size_t q = i * D + j;
                if (miss[q] || left <= 1 || ae_rng_uniform(&rng) >= settings->check_fraction)
                    continue;
                probe[q] = work[q] = 1;
                left--;
                hidden++;
            }
        }
        skip_empty_rows(work, n, D);
        for (size_t q = 0; q < nd; q++)
            trial[q] = probe[q] ? start[q % D] : x[q];
        if (hidden && (st = run_rounds(m, n, trial, work, labels, R, probe, x, sse, mu,
                                       mean, err)) != AE_OK)
            goto done;
        if (hidden) { /* the first of the lowest */
            rounds = 0;
            for (long t = 1; t <= R; t++)
                if (sse[t] < sse[rounds])
                    rounds = t;
        }
    }
    memcpy(work, miss, nd);
    skip_empty_rows(work, n, D);
    st = run_rounds(m, n, x, work, labels, rounds, NULL, NULL, NULL, mu, mean, err);
    if (st == AE_OK && report) {
        report->rounds = rounds;
        report->checked = hidden;
        for (long t = 0; report->check_rmse && t <= R; t++)
            report->check_rmse[t] = hidden ? sqrt(sse[t] / (double)hidden) : NAN;
    }
    goto done;
nomem:
    ae_error_set(err, "imputation: out of memory for %zu x %zu values", n, D);
    st = AE_ERR_NOMEM;
done:
    free(work);
    free(probe);
    free(trial);
    free(mean);
    free(mu);
    free(sse);
    return st;
}
