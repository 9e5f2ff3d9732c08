#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* train.precision bf16 (ae/backend.h): each GEMM's inputs rounded to
 * bfloat16 (to nearest, ties to even), products accumulated in float32.
 * Known answers for the rounding on every transpose combination and beta,
 * random GEMMs against a double reference on the rounded inputs, the fused
 * bias and activation, a dense layer's gradients against fp32, determinism,
 * and the refusals (OpenBLAS backend; the no-AVX-512 refusal is in
 * tests/cli/test_precision.sh, which can hide AVX-512 from oneDNN). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/backend.h"
#include "ae/layer.h"
#include "ae/rng.h"
#include "nn/gemm.h"
#include "nn/layers.h"
#include "testutil.h"

/* oneDNN with bf16 selected; false (and a note) where this build or CPU
 * cannot run bf16, so the bf16 checks are skipped there. */
static bool bf16_here(void)
{
    if (ae_backend_select(AE_BACKEND_ONEDNN, NULL) != AE_OK ||
        ae_precision_select(AE_PRECISION_BF16, "test", NULL) != AE_OK) {
        printf("bf16 checks skipped: %s\n", ae_bf16_support());
        return false;
    }
    return true;
}

/* The bf16 value nearest to f, ties to the even mantissa, written as the
 * choice between the two bf16 neighbours (not as gemm_onednn.c's rounding
 * arithmetic).  f is finite here. */
static float ref_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t lo_bits = u & 0xffff0000u, hi_bits = lo_bits + 0x10000u;
    float lo, hi;
    memcpy(&lo, &lo_bits, sizeof lo);
    memcpy(&hi, &hi_bits, sizeof hi);
    double dlo = fabs((double)f - lo), dhi = fabs((double)hi - f);
    if (dlo < dhi)
        return lo;
    if (dhi < dlo)
        return hi;
    return (lo_bits & 0x10000u) ? hi : lo;
}

START_TEST(rounds_to_nearest_even)
{
    if (!bf16_here())
        return;
    /* bf16 keeps 7 mantissa bits: the spacing above 1 is 2^-7 */
    const float a[4] = {1.0f + 0x1p-8f,          /* halfway: ties to even, 1 */
                        1.0f + 0x1.8p-7f,        /* halfway: ties to even, 1 + 2^-6 */
                        1.0f + 0x1p-8f + 0x1p-20f, /* just above halfway: 1 + 2^-7 */
                        -(1.0f + 0x1p-8f)};      /* -1 */
    const float want[4] = {1.0f, 1.0f + 0x1p-6f, 1.0f + 0x1p-7f, -1.0f};
    float eye[16] = {0};
    for (int i = 0; i < 4; i++)
        eye[i * 4 + i] = 1.0f;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) {
                /* C [1 x 4] = a [1 x 4] I; a stored [4 x 1] when transposed */
                float c[4];
                for (int j = 0; j < 4; j++)
                    c[j] = beta ? 0.5f : 123.0f;
                ae_gemm(ta, tb, 1, 4, 4, 1.0f, a, ta ? 1 : 4, eye, 4, (float)beta, c, 4);
                for (int j = 0; j < 4; j++)
                    ck_assert_msg(c[j] == want[j] + (beta ? 0.5f : 0.0f),
                                  "ta %d tb %d beta %d: c[%d] = %a, want %a", ta, tb, beta, j,
                                  (double)c[j], (double)(want[j] + (beta ? 0.5f : 0.0f)));
            }
}
END_TEST

/* op(X)[r][c] of X stored with row stride ld (transposed: X stored [c][r]). */
static float at(const float *X, size_t ld, bool trans, size_t r, size_t c)
{
    return trans ? X[c * ld + r] : X[r * ld + c];
}

START_TEST(gemm_matches_reference_on_rounded_inputs)
{
    if (!bf16_here())
        return;
    enum { M = 37, N = 29, K = 53, PAD = 3 };
    ae_rng r;
    ae_rng_seed(&r, 7);
    static float A[(K + PAD) * (M + PAD)], B[(K + PAD) * (N + PAD)], C[M * (N + PAD)],
        C0[M * (N + PAD)];
    tu_fill_uniform(&r, A, sizeof A / sizeof A[0], -1, 1);
    tu_fill_uniform(&r, B, sizeof B / sizeof B[0], -1, 1);
    tu_fill_uniform(&r, C0, sizeof C0 / sizeof C0[0], -1, 1);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) {
                size_t lda = (ta ? M : K) + PAD, ldb = (tb ? K : N) + PAD, ldc = N + PAD;
                memcpy(C, C0, sizeof C);
                ae_gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, (float)beta, C, ldc);
                for (size_t i = 0; i < M; i++)
                    for (size_t j = 0; j < ldc; j++) {
                        if (j >= N) { /* the padding is never written */
                            ck_assert(C[i * ldc + j] == C0[i * ldc + j]);
                            continue;
                        }
                        double s = beta ? C0[i * ldc + j] : 0.0, mag = 0;
                        for (size_t k = 0; k < K; k++) {
                            double p = (double)ref_bf16(at(A, lda, ta, i, k)) *
                                       ref_bf16(at(B, ldb, tb, k, j));
                            s += p;
                            mag += fabs(p);
                        }
                        /* bf16 x bf16 products are exact in f32: only the f32
                         * accumulation differs from the double reference */
                        ck_assert_msg(fabs(C[i * ldc + j] - s) <= 1e-6 * (1 + mag) * K,
                                      "ta %d tb %d beta %d C[%zu][%zu] %.9g want %.9g", ta, tb,
                                      beta, i, j, (double)C[i * ldc + j], s);
                    }
            }
}
END_TEST

static double act_ref(ae_activation act, double v)
{
    switch (act) {
    case AE_ACT_RELU: return v > 0 ? v : 0;
    case AE_ACT_LEAKY_RELU: return v > 0 ? v : 0.01 * v;
    case AE_ACT_ELU: return v > 0 ? v : expm1(v);
    case AE_ACT_TANH: return tanh(v);
    case AE_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case AE_ACT_LINEAR: break;
    }
    return v;
}

/* The dense layer's forward with bias and activation in the GEMM's epilogue
 * (both layouts of W), against the double reference on rounded inputs. */
START_TEST(fused_bias_activation)
{
    if (!bf16_here())
        return;
    enum { Bn = 9, IN = 21, OUT = 13 };
    ae_rng r;
    ae_rng_seed(&r, 11);
    float params[IN * OUT + OUT], x[Bn * IN], y[Bn * OUT];
    tu_fill_uniform(&r, params, IN * OUT + OUT, -1, 1);
    tu_fill_uniform(&r, x, Bn * IN, -1, 1);
    for (int act = AE_ACT_RELU; act <= AE_ACT_LINEAR; act++)
        for (int tr = 0; tr < 2; tr++) {
            ae_layer l = {IN, OUT, 0, IN * OUT, (ae_activation)act, 0, tr};
            ae_dense_forward(&l, params, Bn, x, NULL, y);
            for (size_t i = 0; i < Bn; i++)
                for (size_t o = 0; o < OUT; o++) {
                    double s = params[IN * OUT + o];
                    for (size_t k = 0; k < IN; k++) {
                        float w = tr ? params[k * OUT + o] : params[o * IN + k];
                        s += (double)ref_bf16(x[i * IN + k]) * ref_bf16(w);
                    }
                    double want = act_ref((ae_activation)act, s);
                    ck_assert_msg(fabs(y[i * OUT + o] - want) <= 2e-5 * (1 + fabs(want)),
                                  "act %d transposed %d y[%zu][%zu] %.9g want %.9g", act, tr, i,
                                  o, (double)y[i * OUT + o], want);
                }
        }
}
END_TEST

/* A dense layer's gradients in bf16 agree with fp32's to bf16's precision
 * (relative error of a few 2^-8), and two bf16 runs agree bit for bit. */
START_TEST(dense_gradients_close_to_fp32_and_deterministic)
{
    if (!bf16_here())
        return;
    enum { Bn = 64, IN = 200, OUT = 100, NP = IN * OUT + OUT };
    ae_rng r;
    ae_rng_seed(&r, 5);
    static float params[NP], g[3][NP], x[Bn * IN], R[Bn * OUT], y[Bn * OUT], dy[Bn * OUT],
        dx[3][Bn * IN];
    tu_fill_uniform(&r, params, NP, -0.1f, 0.1f);
    tu_fill_uniform(&r, x, Bn * IN, 0, 1);
    tu_fill_uniform(&r, R, Bn * OUT, -1, 1);
    ae_layer l = {IN, OUT, 0, IN * OUT, AE_ACT_TANH, 0, false};
    const ae_precision prec[3] = {AE_PRECISION_FP32, AE_PRECISION_BF16, AE_PRECISION_BF16};
    for (int run = 0; run < 3; run++) {
        ck_assert_int_eq(ae_precision_select(prec[run], "test", NULL), AE_OK);
        memset(g[run], 0, sizeof g[run]);
        ae_dense_forward(&l, params, Bn, x, NULL, y);
        memcpy(dy, R, sizeof dy);
        ae_dense_backward(&l, params, g[run], Bn, x, NULL, y, dy, NULL, dx[run]);
    }
    double e = 0, n = 0, ex = 0, nx = 0;
    for (size_t i = 0; i < NP; i++) {
        e += (g[1][i] - (double)g[0][i]) * (g[1][i] - (double)g[0][i]);
        n += (double)g[0][i] * g[0][i];
    }
    for (size_t i = 0; i < Bn * IN; i++) {
        ex += (dx[1][i] - (double)dx[0][i]) * (dx[1][i] - (double)dx[0][i]);
        nx += (double)dx[0][i] * dx[0][i];
    }
    printf("bf16 vs fp32: relative error of dW,db %.2e, of dx %.2e\n", sqrt(e / n), sqrt(ex / nx));
    ck_assert_msg(sqrt(e / n) < 1e-2 && sqrt(ex / nx) < 1e-2, "bf16 gradients too far from fp32");
    ck_assert_msg(sqrt(e / n) > 1e-5, "bf16 gave the fp32 gradients: was bf16 used at all?");
    ck_assert(!memcmp(g[1], g[2], sizeof g[1]) && !memcmp(dx[1], dx[2], sizeof dx[1]));
}
END_TEST

START_TEST(refused_on_openblas)
{
    ae_error err = {{0}};
    /* fp32 first: without fork (CK_FORK=no) the earlier tests' bf16 is still set */
    ck_assert_int_eq(ae_precision_select(AE_PRECISION_FP32, "train.precision", &err), AE_OK);
    ck_assert_int_eq(ae_backend_select(AE_BACKEND_OPENBLAS, &err), AE_OK);
    ck_assert_int_eq(ae_precision_select(AE_PRECISION_BF16, "train.precision", &err),
                     AE_ERR_USAGE);
    ck_assert_msg(!strncmp(err.msg, "train.precision: bf16 needs the onednn backend", 46), "%s",
                  err.msg);
    ck_assert_int_eq(ae_precision_current(), AE_PRECISION_FP32);
    ck_assert_int_eq(ae_precision_select(AE_PRECISION_FP32, "train.precision", &err), AE_OK);
    ck_assert_str_eq(ae_precision_name(AE_PRECISION_BF16), "bf16");
    ck_assert_str_eq(ae_precision_describe(), "fp32");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("bf16");
    tcase_add_test(tc, rounds_to_nearest_even);
    tcase_add_test(tc, gemm_matches_reference_on_rounded_inputs);
    tcase_add_test(tc, fused_bias_activation);
    tcase_add_test(tc, dense_gradients_close_to_fp32_and_deterministic);
    tcase_add_test(tc, refused_on_openblas);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    printf("bf16 here: %s\n", ae_bf16_support());
    return tu_run_suite(suite());
}
