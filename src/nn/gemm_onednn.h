/* ae_gemm's oneDNN backend (gemm_onednn.c), for gemm.c.  Internal. */
#ifndef AE_GEMM_ONEDNN_H
#define AE_GEMM_ONEDNN_H

#include <stdbool.h>
#include <stddef.h>

/* Whether oneDNN is built in and its CPU engine starts. */
bool ae_onednn_available(void);

/* C = alpha op(A) op(B) + beta C as ae_gemm, with bf16 inputs when bf16;
 * false (C untouched) when the backend cannot do it (alpha != 1, beta not
 * 0 or 1, no oneDNN), so the caller falls back to BLAS. */
bool ae_onednn_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc,
                    bool bf16);

/* C = act(A op(B) + bias) (bias [N] on every row; act an ae_activation),
 * bias and activation fused into the matmul's epilogue; false as above. */
bool ae_onednn_gemm_bias_act(bool tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                             const float *B, size_t ldb, const float *bias, int act, float *C,
                             size_t ldc, bool bf16);

/* The CPU as oneDNN sees it: AVX-512 (bf16 can run, emulated at worst),
 * and AVX512-BF16 or AMX (bf16 runs natively). */
bool ae_onednn_has_avx512(void);
bool ae_onednn_native_bf16(void);

/* OpenMP threads of oneDNN's primitives. */
void ae_onednn_set_threads(int n);

/* The instruction set oneDNN dispatches to ("avx2", "avx512_core_amx"),
 * its version, and the implementation of the last primitive created
 * ("brg:avx2"; "" before the first). */
const char *ae_onednn_isa(void);
const char *ae_onednn_version(void);
const char *ae_onednn_last_impl(void);

#endif
