/* The one entry point to BLAS (only gemm.c includes cblas.h).
 * Row-major: C[M x N] = alpha * op(A) * op(B) + beta * C, where op(A) is
 * [M x K] (A stored [K x M] when trans_a) and op(B) is [K x N] (B stored
 * [N x K] when trans_b); lda/ldb/ldc are the stored row lengths. */
#ifndef AE_GEMM_H
#define AE_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "ae/layer.h"

void ae_gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
             const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
             size_t ldc);

/* C [M x N] = act(A op(B) + bias), bias [N] added to every row: a dense
 * layer's forward in one call, where the backend fuses the bias and the
 * activation into the GEMM (oneDNN's epilogue).  Returns false, C
 * untouched, where it does not (OpenBLAS, or an empty operand); the caller
 * then runs ae_gemm and its own pass. */
bool ae_gemm_bias_act(bool trans_b, size_t M, size_t N, size_t K, const float *A, size_t lda,
                      const float *B, size_t ldb, const float *bias, ae_activation act, float *C,
                      size_t ldc);

/* Recording, for bench/gemm: while a recorder is set, every ae_gemm call's
 * shape is appended to it (up to cap calls; *n counts them all). */
typedef struct {
    bool trans_a, trans_b;
    size_t M, N, K, lda, ldb, ldc;
    float beta;
} ae_gemm_call;
void ae_gemm_record(ae_gemm_call *calls, size_t cap, size_t *n);

/* Timing, for bench/step: while set, every GEMM call (fused or not) adds
 * its wall time to *seconds; NULL stops. */
void ae_gemm_time(double *seconds);

/* Sets the BLAS thread count; n <= 0 means OPENBLAS_NUM_THREADS when that is
 * set, else all cores.  Returns the count in effect. */
int ae_blas_set_threads(int n);

#endif
