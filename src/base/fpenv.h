/* Denormal floats: gradients and Adam moments that decay towards zero become
 * subnormal, and x86 arithmetic on subnormals is dozens of times slower (an
 * epoch of configs/vae.json went 5.2 s -> 7.0 s -> 8.7 s over three epochs).
 * Training flushes them to zero (MXCSR FTZ and DAZ) on the calling thread,
 * where every elementwise loop and, with one BLAS thread, every GEMM runs;
 * values below 1.2e-38 carry no information for training.  Elsewhere the
 * setting is a no-op. */
#ifndef AE_FPENV_H
#define AE_FPENV_H

typedef struct {
    unsigned int mxcsr;
} ae_fpenv;

/* Turns on flush-to-zero and denormals-are-zero; returns the old setting. */
ae_fpenv ae_fpenv_flush_denormals(void);
void ae_fpenv_restore(ae_fpenv saved);

#endif
