/* Data-parallel training across processes (MPI ranks).
 *
 * Built with -DAE_MPI=ON these calls go to MPI; without it there is exactly
 * one rank and every call is a no-op, so the rest of the library is written
 * once.  Only src/train/dist.c includes <mpi.h>.
 *
 * The model: every rank holds the whole model, the optimizer state and the
 * training generator, identical on all ranks.  Each global batch is split
 * into contiguous row slices, one per rank (ae_dist_slice); each rank runs
 * forward and backward on its slice with gradients normalised by the global
 * batch size, the gradients are summed over the ranks (ae_dist_sum_floats on
 * the flat gradient block), and every rank applies the same optimizer step.
 * Rank 0 alone evaluates and writes files. */
#ifndef AE_DIST_H
#define AE_DIST_H

#include <stddef.h>

#include "ae/status.h"

/* Starts MPI when built with it (a no-op otherwise, or when MPI is already
 * running).  Call once from main before anything else. */
void ae_dist_init(int *argc, char ***argv);
void ae_dist_finalize(void);

/* 1 when this build has MPI compiled in. */
int ae_dist_available(void);

int ae_dist_rank(void);   /* 0 .. size-1 */
int ae_dist_size(void);   /* number of ranks */
int ae_dist_local_size(void); /* ranks on this machine (sharing its cores) */

/* Rows [*first, *first + *rows) of a batch of `total` rows are this rank's:
 * contiguous slices, the first total % size ranks one row longer. */
void ae_dist_slice(size_t total, size_t *first, size_t *rows);

/* In-place sums over all ranks (MPI_Allreduce).  Every rank must call them
 * in the same order with the same n. */
void ae_dist_sum_floats(float *buf, size_t n);
void ae_dist_sum_doubles(double *buf, size_t n);
void ae_dist_min_doubles(double *buf, size_t n);
void ae_dist_max_doubles(double *buf, size_t n);

/* Copies bytes from rank root to all ranks. */
void ae_dist_broadcast(void *buf, size_t bytes, int root);

/* All ranks agree on an outcome: when any rank's st is not AE_OK, every rank
 * returns the status and message of the lowest failing rank; otherwise
 * AE_OK.  A collective call. */
ae_status ae_dist_agree(ae_status st, ae_error *err);

/* Ends every rank at once with this exit code (MPI_Abort), or exit(). */
void ae_dist_abort(int code);

#endif
