#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* PCA against a direct computation on small matrices. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae/linalg.h"
#include "ae/rng.h"
#include "testutil.h"

START_TEST(pca_known_answer)
{
    /* Points on the line y = 2x (plus tiny orthogonal noise, -2x + y): the
     * first component is (1, 2)/sqrt(5) up to sign, with variance
     * 5 * var(x); the second carries only the noise. */
    enum { N = 200 };
    float x[N * 2];
    ae_rng r;
    ae_rng_seed(&r, 3);
    double sx = 0, sxx = 0;
    for (int i = 0; i < N; i++) {
        float t = 4.0f * ae_rng_uniform(&r) - 2.0f, e = 0.01f * (ae_rng_uniform(&r) - 0.5f);
        x[2 * i] = t - 2.0f * e / 5.0f + 3.0f;
        x[2 * i + 1] = 2.0f * t + e / 5.0f - 1.0f;
        sx += t;
        sxx += (double)t * t;
    }
    double var_t = sxx / N - (sx / N) * (sx / N);
    ae_pca p;
    ck_assert_int_eq(ae_pca_fit_matrix(&p, x, N, 2, 2, NULL), AE_OK);
    float c0 = p.components[0], c1 = p.components[1];
    double sign = c0 > 0 ? 1 : -1;
    ck_assert_double_eq_tol(sign * c0, 1 / sqrt(5.0), 1e-4);
    ck_assert_double_eq_tol(sign * c1, 2 / sqrt(5.0), 1e-4);
    ck_assert_double_eq_tol(p.variance[0], 5 * var_t, 1e-3 * 5 * var_t);
    ck_assert_double_lt(p.variance[1], 1e-4);
    ck_assert_double_eq_tol(p.mean[0], sx / N + 3.0, 1e-3);
    ck_assert_double_eq_tol(p.total_variance, p.variance[0] + p.variance[1], 1e-4);
    ae_pca_free(&p);
}
END_TEST

START_TEST(pca_reconstruction_error)
{
    /* With k of d components the mean squared reconstruction error equals
     * the sum of the discarded variances; with k = d it is zero. */
    enum { N = 300, D = 6 };
    float x[N * D], codes[N * D], back[N * D];
    ae_rng r;
    ae_rng_seed(&r, 4);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) /* correlated columns of different spread */
            x[i * D + j] = (float)(j + 1) * ae_rng_uniform(&r) + (j ? x[i * D + j - 1] : 0.0f);
    for (size_t k = 1; k <= D; k++) {
        ae_pca p;
        ck_assert_int_eq(ae_pca_fit_matrix(&p, x, N, D, k, NULL), AE_OK);
        ae_pca_project(&p, x, N, codes);
        ae_pca_reconstruct(&p, codes, N, back);
        double sse = 0;
        for (int q = 0; q < N * D; q++)
            sse += ((double)x[q] - back[q]) * ((double)x[q] - back[q]);
        double kept = 0;
        for (size_t c = 0; c < k; c++)
            kept += p.variance[c];
        double want = p.total_variance - kept; /* per example */
        ck_assert_msg(fabs(sse / N - want) < 1e-3 * p.total_variance + 1e-4,
                      "k=%zu: error %g, discarded variance %g", k, sse / N, want);
        /* components are orthonormal */
        for (size_t a = 0; a < k; a++)
            for (size_t b = 0; b < k; b++) {
                double dot = 0;
                for (int j = 0; j < D; j++)
                    dot += (double)p.components[a * D + j] * p.components[b * D + j];
                ck_assert_double_eq_tol(dot, a == b ? 1.0 : 0.0, 1e-4);
            }
        ae_pca_free(&p);
    }
}
END_TEST

START_TEST(pca_bad_sizes)
{
    float x[4] = {0};
    ae_pca p;
    ae_error err;
    ck_assert_int_eq(ae_pca_fit_matrix(&p, x, 2, 2, 3, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_pca_fit_matrix(&p, x, 1, 2, 1, &err), AE_ERR_USAGE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("linalg");
    TCase *t = tcase_create("pca");
    tcase_add_test(t, pca_known_answer);
    tcase_add_test(t, pca_reconstruction_error);
    tcase_add_test(t, pca_bad_sizes);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
