#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* ae_knn (ae/search.h): known answers for ties, the cosine of a zero code,
 * block edges (more queries and index rows than one block holds) against a
 * double brute force, and the refusals; on every GEMM backend. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ae/rng.h"
#include "ae/search.h"
#include "testutil.h"

START_TEST(ties_go_to_the_lower_row)
{
    /* rows 1 and 3 equal, both at distance 1 from the query; row 0 at 0 */
    const float x[4 * 2] = {0, 0, 1, 0, 5, 5, 1, 0}, q[2] = {0, 0};
    uint32_t idx[3];
    float dist[3];
    ck_assert_int_eq(ae_knn(q, 1, x, 4, 2, 3, AE_METRIC_L2, idx, dist, NULL), AE_OK);
    ck_assert_uint_eq(idx[0], 0);
    ck_assert_uint_eq(idx[1], 1);
    ck_assert_uint_eq(idx[2], 3);
    ck_assert(dist[0] == 0.0f && dist[1] == 1.0f && dist[2] == 1.0f);
}
END_TEST

START_TEST(cosine_known_answers)
{
    /* the query (1, 0): row 0 the same direction (0), row 1 at 90 degrees
     * (1), row 2 opposite (2), row 3 zero (1 by definition) */
    const float x[4 * 2] = {3, 0, 0, 2, -1, 0, 0, 0}, q[2] = {1, 0};
    uint32_t idx[4];
    float dist[4];
    ck_assert_int_eq(ae_knn(q, 1, x, 4, 2, 4, AE_METRIC_COSINE, idx, dist, NULL), AE_OK);
    ck_assert_uint_eq(idx[0], 0);
    ck_assert_uint_eq(idx[1], 1);
    ck_assert_uint_eq(idx[2], 3);
    ck_assert_uint_eq(idx[3], 2);
    ck_assert(fabsf(dist[0]) < 1e-7f && fabsf(dist[1] - 1) < 1e-7f && fabsf(dist[2] - 1) < 1e-7f &&
              fabsf(dist[3] - 2) < 1e-7f);
}
END_TEST

START_TEST(blocks_against_brute_force)
{
    enum { NQ = 600, NI = 4200, D = 7, K = 5 }; /* 2 query blocks, 2 index blocks */
    float *x = malloc(NI * D * sizeof(float)), *q = malloc(NQ * D * sizeof(float));
    uint32_t *idx = malloc(NQ * K * sizeof(uint32_t));
    float *dist = malloc(NQ * K * sizeof(float));
    double *d = malloc(NI * sizeof(double));
    ae_rng r;
    ae_rng_seed(&r, 3);
    tu_fill_uniform(&r, x, NI * D, -1, 1);
    tu_fill_uniform(&r, q, NQ * D, -1, 1);
    for (int metric = 0; metric < AE_METRIC_COUNT; metric++) {
        ck_assert_int_eq(ae_knn(q, NQ, x, NI, D, K, (ae_metric)metric, idx, dist, NULL), AE_OK);
        for (size_t a = 0; a < NQ; a++) {
            for (size_t b = 0; b < NI; b++) {
                double s = 0, na = 0, nb = 0;
                for (size_t t = 0; t < D; t++) {
                    double e = (double)q[a * D + t] - x[b * D + t];
                    s += metric == AE_METRIC_L2 ? e * e : (double)q[a * D + t] * x[b * D + t];
                    na += (double)q[a * D + t] * q[a * D + t];
                    nb += (double)x[b * D + t] * x[b * D + t];
                }
                d[b] = metric == AE_METRIC_L2 ? sqrt(s) : 1 - s / sqrt(na * nb);
            }
            for (size_t t = 0; t < K; t++) {
                /* the t-th smallest of d */
                size_t below = 0;
                double v = d[idx[a * K + t]];
                for (size_t b = 0; b < NI; b++)
                    below += d[b] < v - 1e-6;
                ck_assert_msg(below <= t, "metric %d query %zu rank %zu: %zu rows nearer", metric,
                              a, t + 1, below);
                ck_assert_msg(fabs(dist[a * K + t] - v) <= 1e-6 * (1 + v), "distance %g vs %g",
                              (double)dist[a * K + t], v);
            }
        }
    }
    free(x), free(q), free(idx), free(dist), free(d);
}
END_TEST

START_TEST(refusals)
{
    const float x[2] = {0, 1}, q[1] = {0};
    uint32_t idx[3];
    float dist[3];
    ae_error err = {{0}};
    ck_assert_int_eq(ae_knn(q, 1, x, 2, 1, 3, AE_METRIC_L2, idx, dist, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_knn(q, 1, x, 2, 1, 0, AE_METRIC_L2, idx, dist, &err), AE_ERR_USAGE);
    ck_assert_str_eq(ae_metric_name(AE_METRIC_COSINE), "cosine");
    ck_assert_ptr_null(ae_metric_name(AE_METRIC_COUNT));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("knn");
    tcase_add_test(tc, ties_go_to_the_lower_row);
    tcase_add_test(tc, cosine_known_answers);
    tcase_add_test(tc, blocks_against_brute_force);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite_each_backend(suite); }
