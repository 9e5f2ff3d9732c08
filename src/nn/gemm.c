#include "nn/gemm.h"

#include <cblas.h>
#include "base/par.h"
#include <stdlib.h>

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
    if (rec_n) {
        if (*rec_n < rec_cap)
            rec_calls[*rec_n] = (ae_gemm_call){trans_a, trans_b, M, N, K, lda, ldb, ldc, beta};
        ++*rec_n;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha,
                A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
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
    /* the elementwise passes get a second core too (see par.h) */
    ae_par_set_threads(openblas_get_num_threads());
    return openblas_get_num_threads();
#endif
}
