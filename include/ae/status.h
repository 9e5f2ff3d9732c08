/* Status codes and error messages shared by every fallible library call.
 *
 * A fallible call returns ae_status and, on failure, writes one human-readable
 * sentence into the caller's ae_error (naming the file, key or row, what was
 * expected and what was found).  The caller owns the ae_error; it may be NULL
 * when the caller does not want the message.  On failure, outputs are left
 * untouched. */
#ifndef AE_STATUS_H
#define AE_STATUS_H

#include <stddef.h>

typedef enum {
    AE_OK = 0,
    AE_ERR_USAGE,   /* a caller passed impossible arguments */
    AE_ERR_CONFIG,  /* the model spec is malformed or out of range */
    AE_ERR_INPUT,   /* an input file is missing, malformed or of the wrong shape */
    AE_ERR_IO,      /* reading or writing failed while running (disk full, ...) */
    AE_ERR_NOMEM,   /* an allocation failed or would exceed the cap */
    AE_ERR_NUMERIC, /* training diverged: a loss became NaN or infinite */
    AE_INTERRUPTED  /* a caller's stop request ended the run (checkpoint written) */
} ae_status;

typedef struct {
    char msg[1024];
} ae_error;

/* printf-style; does nothing when err is NULL. */
void ae_error_set(ae_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prepend "prefix: " to an existing message (to add the file or key). */
void ae_error_prefix(ae_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

const char *ae_status_name(ae_status st);

/* Exit code a program should use: 0 ok, 2 for usage/config/input errors,
 * 1 for runtime failures (I/O during the run, memory, divergence). */
int ae_status_exit_code(ae_status st);

/* Library version string, e.g. "0.1.0". */
const char *ae_version(void);

#endif
