/* Files the user keeps are written atomically: to a temporary name in the same
 * folder, flushed and fsync'ed, then renamed over the target, so a crash or a
 * full disk never leaves half a file in place of a good one.
 *
 * ae_atomic_file owns its FILE* and temporary name until commit or abort. */
#ifndef AE_FILEIO_H
#define AE_FILEIO_H

#include <stdio.h>

#include "ae/status.h"

typedef struct {
    FILE *fp;          /* write here between open and commit */
    char *path;        /* final name */
    char *tmp_path;    /* temporary name in the same folder */
} ae_atomic_file;

/* Creates the temporary file.  AE_ERR_INPUT when the folder cannot be written. */
ae_status ae_atomic_open(ae_atomic_file *f, const char *path, ae_error *err);

/* Checks the stream for write errors, flushes, fsyncs, renames over the
 * target and fsyncs the folder.  On failure the temporary file is removed, the
 * previous target is left as it was, and AE_ERR_IO is returned. */
ae_status ae_atomic_commit(ae_atomic_file *f, ae_error *err);

/* Discards the temporary file; safe on a zeroed or already-finished struct. */
void ae_atomic_abort(ae_atomic_file *f);

/* Writes a whole buffer atomically (open + fwrite + commit). */
ae_status ae_write_file_atomic(const char *path, const void *data, size_t size,
                               ae_error *err);

/* Opens a regular file for reading ("rb") and tells its size; missing files,
 * folders and other non-regular files are AE_ERR_INPUT with the path named. */
ae_status ae_open_input(const char *path, FILE **fp, unsigned long long *size, ae_error *err);

/* Creates a folder and its parents (like mkdir -p).  AE_ERR_INPUT on failure. */
ae_status ae_mkdir_p(const char *path, ae_error *err);

/* Joins folder and name with one '/'; returns malloc'ed string or NULL. */
char *ae_path_join(const char *dir, const char *name);

#endif
