/* Datasets: IDX (raw or gzip; uint8 or float32 elements) and CSV (optionally
 * gzip; header row auto-detected; one optional label column) loaded into one
 * [n x dim] matrix, plus labels: integers, or class names (words such as
 * "cat" and "dog") turned into classes 0..k-1.
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

/* AE_DTYPE_F32BE: float32 as an IDX file stores it (big-endian), the
 * elements of a memory-mapped float IDX file. */
typedef enum { AE_DTYPE_U8, AE_DTYPE_F32, AE_DTYPE_F32BE } ae_dtype;

struct ae_mapping; /* a read-only memory map of a data file (data.c) */

typedef struct {
    size_t n;          /* examples */
    size_t dim;        /* features per example */
    ae_dtype dtype;    /* element type of x as stored (uint8 stays uint8) */
    const void *x;     /* [n x dim] row-major, uint8_t or float */
    int32_t *labels;   /* [n] or NULL: classes 0..k-1 when the labels were names */
    /* The class names when a CSV's labels were words and no classes were
     * given (ae_csv_options.classes): class k is class_names[k], the distinct
     * names in byte order.  NULL and 0 otherwise. */
    char **class_names;
    size_t n_class_names;
    size_t img_h, img_w; /* image shape when the file says so (IDX [n x h x w]), else 0 */
    struct ae_mapping *map; /* x lies in a memory map of the file, else NULL */
} ae_dataset;

typedef struct {
    const char *label_column; /* CSV column holding labels: a header name, or a
                                 0-based index written in digits; NULL/"" = none */
    int header;               /* -1 auto-detect, 0 no header row, 1 header row */
    /* Missing values (data.missing, data.csv.missing): a CSV cell equal to
     * one of missing[0..n_missing) after trimming, and a float IDX NaN, is
     * NaN in x when allow_missing, and an error that names data.missing
     * otherwise.  Streaming (ae_dataset_stream) never accepts them. */
    const char *const *missing;
    size_t n_missing;
    int allow_missing;
    /* Label names (a CSV label column, a one-column labels CSV): with
     * n_classes > 0 every label cell is a name looked up among
     * classes[0..n_classes) (its index is the label), and a name not among
     * them is an error naming its line.  Without, labels that are all
     * integers from 0 to 2147483647 stay integers; otherwise every label is
     * a name, and the distinct names sorted in byte order (strcmp) are the
     * classes 0..k-1 (ae_dataset.class_names).  IDX labels are always
     * integers (class indices).  Streaming takes integers only. */
    const char *const *classes;
    size_t n_classes;
} ae_csv_options;

#define AE_MAX_CLASS_NAMES 1024   /* classes a model can name */
#define AE_MAX_CLASS_NAME_LEN 127 /* bytes of one class name */

/* "a, b, c": names[0..n) joined into buf [size], ending in "..." when they
 * do not fit (for messages). */
void ae_names_join(const char *const *names, size_t n, char *buf, size_t size);

/* Loads path, choosing the format by content and extension: a name ending in
 * .csv or .csv.gz is CSV whatever its bytes; otherwise IDX when the first
 * bytes (after gunzip) start with 00 00 or the name contains "idx".  csv may
 * be NULL (auto-detected header, no label column).  Errors (AE_ERR_INPUT)
 * name the file and, for CSV, the line and column.
 *
 * An uncompressed IDX data file is memory-mapped, not read: nothing is
 * allocated for its examples, and only the pages of the rows that are used
 * are read from disk (x then points into the map; float32 elements stay
 * big-endian, AE_DTYPE_F32BE).  The environment variable AE_NO_MMAP=1 reads
 * such files into memory instead.  The file must not be truncated while
 * mapped. */
ae_status ae_dataset_load(ae_dataset *ds, const char *path, const ae_csv_options *csv,
                          ae_error *err);

/* Loads labels from an IDX file of one dimension (uint8, or int32 >= 0) or a
 * one-column CSV of integers or names (classes as in ae_csv_options; the
 * first row is a header when it is not an integer and either every other row
 * is, or the file has one row more than ds has examples) and attaches them
 * to ds, replacing any it had (and its class names); the count must equal
 * ds->n. */
ae_status ae_dataset_load_labels(ae_dataset *ds, const char *path, const char *const *classes,
                                 size_t n_classes, ae_error *err);

/* Streaming: the rows of a data file one at a time, for files larger than
 * memory (aeconvert).  info describes the rows: n is the count an IDX header
 * announces (0 for CSV: known at the end); dtype is AE_DTYPE_U8 (IDX uint8)
 * or AE_DTYPE_F32 (host floats); has_labels: a CSV label column.  The same
 * checks and messages as ae_dataset_load.  *rows: the rows passed to sink. */
typedef struct {
    size_t n, dim;
    ae_dtype dtype;
    size_t img_h, img_w;
    int has_labels;
} ae_stream_info;
typedef ae_status (*ae_row_sink)(void *ctx, const ae_stream_info *info, const void *row,
                                 int32_t label, ae_error *err);
ae_status ae_dataset_stream(const char *path, const ae_csv_options *csv, ae_row_sink sink,
                            void *ctx, size_t *rows, ae_error *err);

/* Keeps only the first n examples (no-op when n == 0 or n >= ds->n). */
void ae_dataset_truncate(ae_dataset *ds, size_t n);

/* Keeps only rows idx[0..n) (each < ds->n), in that order, copied into
 * memory (a mapped dataset's map is released).  On failure ds is as it was. */
ae_status ae_dataset_subset(ae_dataset *ds, const size_t *idx, size_t n, ae_error *err);

void ae_dataset_free(ae_dataset *ds);

/* The raw bytes of one example (dim elements of ds->dtype), valid until
 * the next call.  For a mapped dataset the row is copied with pread rather
 * than faulted in through the map: a page fault maps the whole page-cache
 * folio around it (up to 2 MB with ext4's large folios), so batches of
 * scattered rows would make resident memory follow the kernel's page-cache
 * layout; a copy leaves the file's pages in the page cache only. */
const void *ae_dataset_row(const ae_dataset *ds, size_t row);

/* For passes that read a mapped dataset's rows through the map, in order
 * (ae/batch.h's fits and range checks): `bytes` more have been read.  Once
 * AE_MAP_WINDOW bytes have been since the last release, the map's pages are
 * released from this process (the kernel keeps them in its page cache), which
 * bounds resident memory whatever the file's size.  A no-op for data held in
 * memory and for files no larger than the window. */
#define AE_MAP_WINDOW ((size_t)32 << 20)
void ae_dataset_pages_read(const ae_dataset *ds, size_t bytes);

/* Refuses allocations larger than this many bytes made from sizes read from
 * a file (default 16 GiB; environment AE_MAX_ALLOC overrides, in bytes). */
size_t ae_alloc_cap(void);

/* *bytes = the length of buf [n] compressed by zlib's deflate at level 9
 * (zlib header and checksum included): the input-complexity estimate of the
 * anomaly scores (ae/anomaly.h).  Here because only the data and image
 * modules talk to zlib. */
ae_status ae_deflate_size(const unsigned char *buf, size_t n, size_t *bytes, ae_error *err);

#endif
