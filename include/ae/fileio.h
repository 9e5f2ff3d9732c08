/* Output files.  ae_atomic_open looks at what the path names (lstat) and
 * treats it by type, so writing never changes what kind of file is there:
 *
 * - nothing yet, or a regular file: written to PATH.tmp.XXXXXX in the same
 *   folder, flushed and fsync'ed, then renamed over PATH, so a crash or a full
 *   disk never leaves half a file in place of a good one;
 * - a character or block device, a FIFO or a socket: opened and written in
 *   place (no temporary file, no rename, never truncated), so /dev/null stays
 *   a device and a FIFO's reader gets the bytes.  A write error is still
 *   reported, but whatever was written before it has gone through, and the
 *   writer cannot seek on a FIFO or pipe.  Opening a FIFO waits for a reader;
 *   a socket cannot be opened and is an error;
 * - a symbolic link: followed.  Where it ends at a regular file, or at a name
 *   that does not exist yet (a dangling link), that file is written atomically
 *   as above with its temporary file in that file's own folder; the link stays
 *   a link with the same text.  Where it ends at a device, FIFO or socket
 *   (/dev/stdout, /proc/self/fd/1 on a pipe or terminal) it is written in
 *   place as above;
 * - a folder: an error.
 *
 * ae_atomic_file owns its FILE* and its names until commit or abort. */
#ifndef AE_FILEIO_H
#define AE_FILEIO_H

#include <stdbool.h>
#include <stdio.h>

#include "ae/status.h"

typedef struct {
    FILE *fp;          /* write here between open and commit */
    char *path;        /* the name the caller gave, for messages */
    char *target;      /* the regular file renamed over at commit: path, or where
                          its links end; NULL in place */
    char *tmp_path;    /* temporary name in target's folder; NULL in place */
    bool in_place;     /* fp writes straight to a device or FIFO */
} ae_atomic_file;

/* Creates the temporary file, or opens a device or FIFO in place.
 * AE_ERR_INPUT when the folder cannot be written, the path is a folder or a
 * socket, or its links cannot be followed. */
ae_status ae_atomic_open(ae_atomic_file *f, const char *path, ae_error *err);

/* Checks the stream for write errors, flushes, fsyncs, renames over the
 * target and fsyncs the folder.  On failure the temporary file is removed, the
 * previous target is left as it was, and AE_ERR_IO is returned.  In place
 * there is nothing to rename: a write error is AE_ERR_IO, while an fsync the
 * file type does not support is not an error. */
ae_status ae_atomic_commit(ae_atomic_file *f, ae_error *err);

/* Discards the temporary file (in place: just closes); safe on a zeroed or
 * already-finished struct. */
void ae_atomic_abort(ae_atomic_file *f);

/* A write to f->fp failed with errnum (0: unknown): sets the message (which
 * says the previous file is unchanged only where that is true) and aborts. */
void ae_atomic_fail(ae_atomic_file *f, int errnum, ae_error *err);

/* Writes a whole buffer by the rules above (open + fwrite + commit). */
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
