/* Nearest neighbours: for every query row, the k closest rows of an index,
 * by blocked GEMM (the library's one GEMM entry point) and a top-k per
 * query, so memory stays bounded (blocks of queries against blocks of the
 * index; never the whole distance matrix). */
#ifndef AE_SEARCH_H
#define AE_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "ae/status.h"

typedef enum {
    AE_METRIC_L2,     /* Euclidean distance */
    AE_METRIC_COSINE, /* 1 - cos(angle); a zero vector is at distance 1 from everything */
    AE_METRIC_COUNT
} ae_metric;

/* "l2", "cosine", or NULL. */
const char *ae_metric_name(ae_metric m);

/* For each of the nq queries q [nq x d], the k <= ni nearest of the ni index
 * rows x [ni x d]: their row numbers idx [nq x k] and distances dist
 * [nq x k], nearest first (equal distances: the lower row first).  The
 * ranking uses float32 distances from the GEMM; the distances written are
 * recomputed in double for the k found.  AE_ERR_USAGE when k is 0 or above
 * ni; AE_ERR_NOMEM when the blocks cannot be allocated. */
ae_status ae_knn(const float *q, size_t nq, const float *x, size_t ni, size_t d, size_t k,
                 ae_metric metric, uint32_t *idx, float *dist, ae_error *err);

#endif
