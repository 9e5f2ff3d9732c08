#define _POSIX_C_SOURCE 200809L
#include "ae/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ae_error_set(ae_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void ae_error_prefix(ae_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char joined[2 * sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(joined, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (k < 0)
        k = 0;
    if ((size_t)k >= sizeof err->msg)
        k = (int)sizeof err->msg - 1;
    /* joined = prefix + ": " + old message, cut to the message size. */
    size_t n = (size_t)k;
    joined[n++] = ':';
    joined[n++] = ' ';
    size_t old_len = strnlen(err->msg, sizeof err->msg - 1);
    memcpy(joined + n, err->msg, old_len);
    n += old_len;
    if (n >= sizeof err->msg)
        n = sizeof err->msg - 1;
    memcpy(err->msg, joined, n);
    err->msg[n] = '\0';
}

const char *ae_status_name(ae_status st)
{
    switch (st) {
    case AE_OK: return "ok";
    case AE_ERR_USAGE: return "usage error";
    case AE_ERR_CONFIG: return "config error";
    case AE_ERR_INPUT: return "input error";
    case AE_ERR_IO: return "I/O error";
    case AE_ERR_NOMEM: return "out of memory";
    case AE_ERR_NUMERIC: return "numerical failure";
    case AE_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}

int ae_status_exit_code(ae_status st)
{
    switch (st) {
    case AE_OK: return 0;
    case AE_ERR_USAGE:
    case AE_ERR_CONFIG:
    case AE_ERR_INPUT: return 2;
    default: return 1;
    }
}

const char *ae_version(void)
{
#ifdef AE_VERSION
    return AE_VERSION;
#else
    return "unknown";
#endif
}
