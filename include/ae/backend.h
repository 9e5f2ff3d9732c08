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

#endif
