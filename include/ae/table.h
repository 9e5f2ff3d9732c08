/* Tables of numbers in and out: NumPy .npy files and CSV files of latent codes. */
#ifndef AE_TABLE_H
#define AE_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "ae/status.h"

/* A [rows x cols] float32 matrix as .npy (format 1.0, '<f4', C order) on an
 * open stream; name is used in messages.  AE_ERR_IO when a write fails. */
ae_status ae_npy_write_stream(FILE *f, const char *name, const float *x, size_t rows,
                              size_t cols, ae_error *err);

/* Reads latent codes from a CSV file: with a header row, the columns named
 * z0..z{L-1} (as aeencode writes them); without one, every row must have
 * exactly L numbers.  *z is malloc'ed [*n x L]. */
ae_status ae_codes_load(const char *path, size_t L, float **z, size_t *n, ae_error *err);

#endif
