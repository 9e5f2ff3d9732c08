/* Principal component analysis through LAPACK's symmetric eigensolver
 * (ssyevd from OpenBLAS): the covariance is accumulated with GEMMs over
 * chunks of rows, so a dataset is never copied whole into floats.
 *
 * ae_pca owns mean, components and variance; ae_pca_free releases them. */
#ifndef AE_LINALG_H
#define AE_LINALG_H

#include <stddef.h>

#include "ae/data.h"
#include "ae/status.h"

typedef struct {
    size_t d, k;
    float *mean;        /* [d] */
    float *components;  /* [k x d] orthonormal rows, largest variance first */
    double *variance;   /* [k] the variance along each component */
    double total_variance; /* sum over all d directions */
} ae_pca;

/* Fits k components to x [n x d]. */
ae_status ae_pca_fit_matrix(ae_pca *p, const float *x, size_t n, size_t d, size_t k,
                            ae_error *err);

/* Fits k components to the scaled examples of ds (raw * scale + shift). */
ae_status ae_pca_fit_dataset(ae_pca *p, const ae_dataset *ds, const float *scale,
                             const float *shift, size_t k, ae_error *err);

/* codes [n x k] = (x - mean) components^T */
void ae_pca_project(const ae_pca *p, const float *x, size_t n, float *codes);

/* x [n x d] = mean + codes components */
void ae_pca_reconstruct(const ae_pca *p, const float *codes, size_t n, float *x);

void ae_pca_free(ae_pca *p);

#endif
