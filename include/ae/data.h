/* Datasets: IDX (raw or gzip; uint8 or float32 elements) and CSV (optionally
 * gzip; header row auto-detected; one optional label column) loaded into one
 * [n x dim] matrix, plus integer labels.
 *
 * An ae_dataset owns x and labels; ae_dataset_free releases them.
 *
 * Loaders build into a local and assign on success only: on failure the
 * dataset passed in is untouched.  On success ae_dataset_load overwrites *ds
 * without freeing what it held (pass a zeroed or freed struct).  Sizes read
 * from a file are checked for overflow and against ae_alloc_cap() (exceeding
 * the cap is AE_ERR_NOMEM; malformed files are AE_ERR_INPUT). */
#ifndef AE_DATA_H
#define AE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "ae/status.h"

typedef enum { AE_DTYPE_U8, AE_DTYPE_F32 } ae_dtype;

typedef struct {
    size_t n;          /* examples */
    size_t dim;        /* features per example */
    ae_dtype dtype;    /* element type of x as stored (uint8 stays uint8) */
    void *x;           /* [n x dim] row-major, uint8_t or float */
    int32_t *labels;   /* [n] or NULL */
    size_t img_h, img_w; /* image shape when the file says so (IDX [n x h x w]), else 0 */
} ae_dataset;

typedef struct {
    const char *label_column; /* CSV column holding labels: a header name, or a
                                 0-based index written in digits; NULL/"" = none */
    int header;               /* -1 auto-detect, 0 no header row, 1 header row */
} ae_csv_options;

/* Loads path, choosing the format by content and extension: a name ending in
 * .csv or .csv.gz is CSV whatever its bytes; otherwise IDX when the first
 * bytes (after gunzip) start with 00 00 or the name contains "idx".  csv may
 * be NULL (auto-detected header, no label column).  Errors (AE_ERR_INPUT)
 * name the file and, for CSV, the line and column. */
ae_status ae_dataset_load(ae_dataset *ds, const char *path, const ae_csv_options *csv,
                          ae_error *err);

/* Loads labels from an IDX file of one dimension (uint8, or int32 >= 0) or a
 * one-column CSV of integers (header auto-detected) and attaches them to ds,
 * replacing any it had; the count must equal ds->n. */
ae_status ae_dataset_load_labels(ae_dataset *ds, const char *path, ae_error *err);

/* Keeps only the first n examples (no-op when n == 0 or n >= ds->n). */
void ae_dataset_truncate(ae_dataset *ds, size_t n);

void ae_dataset_free(ae_dataset *ds);

/* Refuses allocations larger than this many bytes made from sizes read from
 * a file (default 16 GiB; environment AE_MAX_ALLOC overrides, in bytes). */
size_t ae_alloc_cap(void);

#endif
