/* A second core for the large elementwise loops.
 *
 * With 2 or more threads, OpenBLAS splits each GEMM across the cores but the
 * elementwise passes between them (the Adam update, the loss) ran on one.
 * ae_par_for cuts such a loop into 8 fixed pieces that the calling thread
 * and one persistent helper thread claim in turn.  The helper sleeps on a
 * condition variable between jobs (it never spins, so it does not compete
 * with OpenBLAS's workers); if it wakes late, the caller has simply done
 * more of the pieces.
 *
 * Each index is computed by the same code whichever thread runs it, so
 * results do not depend on who ran which piece: the caller must make fn's
 * result for [lo, hi) independent of how the range is cut (no reductions
 * across pieces).  The helper runs with the
 * caller's floating-point control word (flush-to-zero), and a forked child
 * starts again without a helper. */
#ifndef AE_PAR_H
#define AE_PAR_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*ae_par_fn)(void *ctx, size_t lo, size_t hi);

/* Runs fn over [0, n) in pieces of whole `align` units shared between the
 * calling thread and the helper when a helper is enabled and n >= min_n;
 * otherwise fn(ctx, 0, n) here.  Not reentrant: fn
 * must not call ae_par_for, and only one thread may call it at a time. */
void ae_par_for(ae_par_fn fn, void *ctx, size_t n, size_t align, size_t min_n);

/* Enables the helper when threads >= 2 (started on first use), disables it
 * otherwise.  Called by ae_blas_set_threads with the BLAS thread count. */
void ae_par_set_threads(int threads);

/* With on, the pieces run on OpenMP's thread pool (oneDNN's) instead of the
 * helper: set while the oneDNN backend is in effect.  The pieces and so the
 * results are the same either way. */
void ae_par_use_openmp(bool on);

#endif
