#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "nn/gemm.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ae/backend.h"
#include "base/par.h"
#include "nn/gemm_onednn.h"

static ae_backend backend = AE_BACKEND_AUTO; /* resolved on first use */
static ae_precision precision = AE_PRECISION_FP32;

/* auto: the environment's AE_BACKEND when it names a usable backend, else
 * oneDNN when built in, else OpenBLAS. */
static ae_backend resolved(void)
{
    if (backend != AE_BACKEND_AUTO)
        return backend;
    const char *env = getenv("AE_BACKEND");
    if (env && !strcmp(env, "openblas"))
        backend = AE_BACKEND_OPENBLAS;
    else
        backend = ae_onednn_available() ? AE_BACKEND_ONEDNN : AE_BACKEND_OPENBLAS;
    ae_par_use_openmp(backend == AE_BACKEND_ONEDNN);
    return backend;
}

ae_status ae_backend_select(ae_backend b, ae_error *err)
{
    if (b == AE_BACKEND_ONEDNN && !ae_onednn_available()) {
        ae_error_set(err, "train.backend: onednn is not available in this build (built without "
                          "oneDNN: install libdnnl-dev and rebuild); use auto or openblas");
        return AE_ERR_USAGE;
    }
    backend = b;
    resolved();
    ae_par_use_openmp(backend == AE_BACKEND_ONEDNN);
    return AE_OK;
}

ae_backend ae_backend_current(void) { return resolved(); }

const char *ae_backend_name(ae_backend b)
{
    static const char *const names[AE_BACKEND_COUNT] = {"auto", "onednn", "openblas"};
    return (unsigned)b < AE_BACKEND_COUNT ? names[b] : NULL;
}

const char *ae_backend_describe(void)
{
    static char d[96];
    if (resolved() == AE_BACKEND_ONEDNN)
        snprintf(d, sizeof d, "onednn %s (isa %s)", ae_onednn_version(), ae_onednn_isa());
    else
        snprintf(d, sizeof d, "openblas");
    return d;
}

ae_status ae_precision_select(ae_precision p, const char *key, ae_error *err)
{
    if ((unsigned)p >= AE_PRECISION_COUNT) {
        ae_error_set(err, "%s: unknown precision", key);
        return AE_ERR_USAGE;
    }
    if (p == AE_PRECISION_BF16 && resolved() != AE_BACKEND_ONEDNN) {
        ae_error_set(err,
                     "%s: bf16 needs the onednn backend (%s); use fp32",
                     key,
                     ae_onednn_available() ? "the backend in effect is openblas: set "
                                             "train.backend to auto or onednn, and unset "
                                             "AE_BACKEND"
                                           : "this build has no oneDNN: install libdnnl-dev "
                                             "and rebuild");
        return AE_ERR_USAGE;
    }
    if (p == AE_PRECISION_BF16 && !ae_onednn_has_avx512()) {
        ae_error_set(err,
                     "%s: bf16 needs a CPU with AVX-512 (oneDNN finds %s here: no AVX-512); "
                     "use fp32",
                     key, ae_onednn_isa());
        return AE_ERR_USAGE;
    }
    precision = p;
    return AE_OK;
}

ae_precision ae_precision_current(void) { return precision; }

const char *ae_precision_name(ae_precision p)
{
    static const char *const names[AE_PRECISION_COUNT] = {"fp32", "bf16"};
    return (unsigned)p < AE_PRECISION_COUNT ? names[p] : NULL;
}

const char *ae_precision_describe(void)
{
    static char d[96];
    if (precision == AE_PRECISION_FP32)
        return "fp32";
    if (ae_onednn_native_bf16())
        snprintf(d, sizeof d, "bf16 (native: %s)", ae_onednn_isa());
    else
        snprintf(d, sizeof d, "bf16 (emulated on %s: no AVX512-BF16 or AMX)", ae_onednn_isa());
    return d;
}

const char *ae_bf16_support(void)
{
    static char d[64];
    if (!ae_onednn_available())
        return "unavailable (no oneDNN)";
    snprintf(d, sizeof d, "%s (isa %s)",
             ae_onednn_native_bf16()  ? "native"
             : ae_onednn_has_avx512() ? "emulated"
                                      : "unavailable",
             ae_onednn_isa());
    return d;
}

static double *timer; /* ae_gemm_time */

void ae_gemm_time(double *seconds)
{
    timer = seconds;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ae_gemm_call *rec_calls;
static size_t rec_cap, *rec_n;

void ae_gemm_record(ae_gemm_call *calls, size_t cap, size_t *n)
{
    rec_calls = calls;
    rec_cap = cap;
    rec_n = n;
    if (n)
        *n = 0;
}

static void record(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, size_t lda,
                   size_t ldb, size_t ldc, float beta)
{
    if (rec_n) {
        if (*rec_n < rec_cap)
            rec_calls[*rec_n] = (ae_gemm_call){trans_a, trans_b, M, N, K, lda, ldb, ldc, beta};
        ++*rec_n;
    }
}

bool ae_gemm_bias_act(bool trans_b, size_t M, size_t N, size_t K, const float *A, size_t lda,
                      const float *B, size_t ldb, const float *bias, ae_activation act, float *C,
                      size_t ldc)
{
    if (M == 0 || N == 0 || K == 0 || resolved() != AE_BACKEND_ONEDNN)
        return false;
    double t0 = timer ? now() : 0;
    if (!ae_onednn_gemm_bias_act(trans_b, M, N, K, A, lda, B, ldb, bias, (int)act, C, ldc,
                                 precision == AE_PRECISION_BF16))
        return false;
    if (timer)
        *timer += now() - t0;
    record(false, trans_b, M, N, K, lda, ldb, ldc, 0.0f);
    return true;
}

void ae_gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
             const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
             size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0) { /* an empty batch (a rank with no rows of it): C = beta C */
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    record(trans_a, trans_b, M, N, K, lda, ldb, ldc, beta);
    double t0 = timer ? now() : 0;
    if (!(resolved() == AE_BACKEND_ONEDNN &&
          ae_onednn_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                         precision == AE_PRECISION_BF16)))
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                    (int)lda, B, (int)ldb, beta, C, (int)ldc);
    if (timer)
        *timer += now() - t0;
}

int ae_blas_set_threads(int n)
{
#ifdef AE_NO_OPENBLAS_EXT
    (void)n;
    ae_par_set_threads(1);
    return 1;
#else
    /* 0: the environment's choice (OPENBLAS_NUM_THREADS, read by OpenBLAS at
     * start-up) when set, else every core. */
    if (n <= 0) {
        const char *env = getenv("OPENBLAS_NUM_THREADS");
        if (env && atoi(env) > 0) {
            ae_par_set_threads(openblas_get_num_threads());
            return openblas_get_num_threads();
        }
        n = openblas_get_num_procs();
    }
    openblas_set_num_threads(n);
    ae_onednn_set_threads(n);
    /* the elementwise passes get a second core too (see par.h) */
    ae_par_set_threads(openblas_get_num_threads());
    return openblas_get_num_threads();
#endif
}
