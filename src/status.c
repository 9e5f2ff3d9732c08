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
    char prefix[512];
    char old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
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
