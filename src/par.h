/* A second core for the large elementwise loops.
 *
 * With 2 or more threads, OpenBLAS splits each GEMM across the cores but the
 * elementwise passes between them (the Adam update, the loss) ran on one.
 * ae_par_for hands the first part of such a loop to one persistent helper
 * thread, which sleeps on a condition variable between jobs (it never spins,
 * so it does not compete with OpenBLAS's workers), and runs the rest itself.
 *
 * The split is by fixed index ranges and each index is computed by the same
 * code whichever thread runs it, so results do not depend on the split: the
 * caller must make fn's result for [lo, hi) independent of how the range is
 * cut (no reductions across the boundary).  The helper runs with the
 * caller's floating-point control word (flush-to-zero), and a forked child
 * starts again without a helper. */
#ifndef AE_PAR_H
#define AE_PAR_H

#include <stddef.h>

typedef void (*ae_par_fn)(void *ctx, size_t lo, size_t hi);

/* Runs fn over [0, n): fn(ctx, 0, cut) on the helper and fn(ctx, cut, n) on
 * the calling thread, cut a multiple of `align` near n/2, when a helper is
 * enabled and n >= min_n; otherwise fn(ctx, 0, n) here.  Not reentrant: fn
 * must not call ae_par_for, and only one thread may call it at a time. */
void ae_par_for(ae_par_fn fn, void *ctx, size_t n, size_t align, size_t min_n);

/* Enables the helper when threads >= 2 (started on first use), disables it
 * otherwise.  Called by ae_blas_set_threads with the BLAS thread count. */
void ae_par_set_threads(int threads);

#endif
