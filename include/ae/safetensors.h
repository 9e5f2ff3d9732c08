/* safetensors files: an 8-byte little-endian header length, a JSON header
 * (tensor name -> dtype, shape, data_offsets; "__metadata__" -> string map),
 * then the raw little-endian tensor data.  We write F32 tensors only and add
 * "crc32" (8 hex digits, zlib's CRC-32 of the whole data section) to the
 * metadata; the reader checks it when present.
 *
 * ae_safetensors owns everything it read; ae_safetensors_free releases it. */
#ifndef AE_SAFETENSORS_H
#define AE_SAFETENSORS_H

#include <stddef.h>

#include "ae/status.h"

#define AE_ST_MAX_DIMS 8

typedef struct {
    const char *name;
    const float *data;              /* product(shape) floats */
    size_t ndim;
    size_t shape[AE_ST_MAX_DIMS];
} ae_st_tensor;

typedef struct {
    const char *key;
    const char *value;
} ae_st_meta;

/* Writes atomically (temporary file in the same folder, fsync, rename), the
 * tensors contiguous in the order given, the header padded with spaces to a
 * multiple of 8 bytes.  AE_ERR_USAGE for repeated tensor names or metadata
 * keys, a caller key "crc32", or more than AE_ST_MAX_DIMS dimensions. */
ae_status ae_safetensors_write(const char *path, const ae_st_tensor *tensors, size_t n_tensors,
                               const ae_st_meta *meta, size_t n_meta, ae_error *err);

typedef struct {
    size_t n_tensors;
    ae_st_tensor *tensors;   /* in data-section order (the order they were written);
                                names and data (float-aligned) point into this
                                struct's storage */
    size_t n_meta;
    ae_st_meta *meta;
    void *storage_;          /* private */
} ae_safetensors;

/* Reads and validates a whole file: header length within the file, valid
 * JSON, only F32 tensors, offsets contiguous and inside the data section,
 * shapes matching byte sizes, CRC matching.  AE_ERR_INPUT with the file name
 * and what is wrong otherwise. */
ae_status ae_safetensors_read(ae_safetensors *st, const char *path, ae_error *err);

/* NULL when absent. */
const ae_st_tensor *ae_safetensors_find(const ae_safetensors *st, const char *name);
const char *ae_safetensors_meta(const ae_safetensors *st, const char *key);

/* Accepts NULL or a zeroed struct; leaves the struct zeroed. */
void ae_safetensors_free(ae_safetensors *st);

#endif
