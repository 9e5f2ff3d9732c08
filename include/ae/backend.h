/* Which library runs the dense layers' GEMMs (train.backend):
 *   onednn    oneDNN matmul primitives, cached per shape (the default when
 *             the build found oneDNN)
 *   openblas  OpenBLAS cblas_sgemm: the same bits as before oneDNN came
 * auto picks OpenBLAS when the environment has AE_BACKEND=openblas (for the
 * programs that take no train.backend: aeencode, aesample, aeeval), else
 * oneDNN when it is built in and starts, else OpenBLAS.  PCA's
 * LAPACK always comes from OpenBLAS.  The choice is process-wide. */
#ifndef AE_BACKEND_H
#define AE_BACKEND_H

#include "ae/status.h"

typedef enum { AE_BACKEND_AUTO, AE_BACKEND_ONEDNN, AE_BACKEND_OPENBLAS, AE_BACKEND_COUNT } ae_backend;

/* Selects b (auto: resolved as above); AE_ERR_USAGE with a message naming
 * train.backend when oneDNN was asked for and is not there. */
ae_status ae_backend_select(ae_backend b, ae_error *err);

/* The backend in effect (never auto). */
ae_backend ae_backend_current(void);

/* "auto", "onednn", "openblas" (the spec's names), or NULL. */
const char *ae_backend_name(ae_backend b);

/* The backend in effect for the start-up line and checkpoints:
 * "onednn 2.6.3 (isa avx2)" or "openblas". */
const char *ae_backend_describe(void);

/* The precision of the GEMMs' inputs (train.precision):
 *   fp32  everything in float32 (the default)
 *   bf16  mixed precision as PyTorch's CPU autocast does it: each GEMM's
 *         inputs rounded to bfloat16 (round to nearest even), products
 *         accumulated and written in float32; weights, gradients, Adam,
 *         losses and every elementwise pass stay float32.
 * bf16 needs the oneDNN backend and a CPU with AVX-512; oneDNN runs it on
 * AMX or AVX512-BF16 where the CPU has them and emulates it on plain
 * AVX-512 (slower than fp32 there).  Process-wide, like the backend. */
typedef enum { AE_PRECISION_FP32, AE_PRECISION_BF16, AE_PRECISION_COUNT } ae_precision;

/* Selects p for the backend in effect (select the backend first).
 * AE_ERR_USAGE, with a message that begins with `key` (the option or spec
 * key the choice came from, "train.precision" or "--precision"), when bf16
 * cannot run here: the backend is OpenBLAS, or the CPU has no AVX-512. */
ae_status ae_precision_select(ae_precision p, const char *key, ae_error *err);

ae_precision ae_precision_current(void);

/* "fp32", "bf16" (the spec's names), or NULL. */
const char *ae_precision_name(ae_precision p);

/* How the precision in effect runs, for the start-up line and checkpoints:
 * "fp32", "bf16 (native: avx512_core_bf16)", "bf16 (emulated on
 * avx512_core: no AVX512-BF16 or AMX)". */
const char *ae_precision_describe(void);

/* Whether bf16 can run here, for --version: "native (avx512_core_bf16)",
 * "emulated (avx512_core)", "unavailable (avx2)", "unavailable (no
 * oneDNN)". */
const char *ae_bf16_support(void);

#endif
