/* The AE_PAUSE_AT test hook (ae/pause.h). */
#define _POSIX_C_SOURCE 200809L
#include "ae/pause.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STOPS 64

static const char *const point_names[AE_PAUSE_POINTS] = {
    [AE_PAUSE_BATCH] = "batch",
    [AE_PAUSE_EPOCH] = "epoch",
    [AE_PAUSE_CHECKPOINT] = "checkpoint",
};

static bool armed;                               /* some stop is wanted */
static unsigned long long seen[AE_PAUSE_POINTS]; /* occurrences so far */
static struct {
    ae_pause_point point;
    unsigned long long n;
} stops[MAX_STOPS];
static size_t n_stops;

/* One "POINT:N" item of length len; false when it is not one. */
static bool parse_item(const char *s, size_t len, ae_pause_point *point, unsigned long long *n)
{
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return false;
    size_t name_len = (size_t)(colon - s), digits = len - name_len - 1;
    int p = -1;
    for (int k = 0; k < AE_PAUSE_POINTS; k++)
        if (strlen(point_names[k]) == name_len && !memcmp(s, point_names[k], name_len))
            p = k;
    if (p < 0 || digits == 0 || digits > 18)
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < digits; i++) {
        char c = colon[1 + i];
        if (c < '0' || c > '9')
            return false;
        v = 10 * v + (unsigned long long)(c - '0');
    }
    if (v == 0)
        return false;
    *point = (ae_pause_point)p;
    *n = v;
    return true;
}

ae_status ae_pause_init(ae_error *err)
{
    armed = false;
    n_stops = 0;
    memset(seen, 0, sizeof seen);
    const char *v = getenv("AE_PAUSE_AT");
    if (!v || !*v)
        return AE_OK;
    for (const char *s = v;;) {
        size_t len = strcspn(s, ",");
        if (n_stops == MAX_STOPS) {
            ae_error_set(err, "AE_PAUSE_AT=\"%s\": more than %d points", v, MAX_STOPS);
            n_stops = 0;
            return AE_ERR_USAGE;
        }
        if (!parse_item(s, len, &stops[n_stops].point, &stops[n_stops].n)) {
            ae_error_set(err, "AE_PAUSE_AT=\"%s\": '%.*s' is not POINT:N (POINT one of batch, "
                              "epoch, checkpoint; N a whole number >= 1; items separated by "
                              "commas)", v, (int)(len < 100 ? len : 100), s);
            n_stops = 0;
            return AE_ERR_USAGE;
        }
        n_stops++;
        if (s[len] == '\0')
            break;
        s += len + 1;
    }
    armed = true;
    return AE_OK;
}

void ae_pause_at(ae_pause_point p, FILE *flush)
{
    if (!armed)
        return;
    unsigned long long k = ++seen[p];
    for (size_t i = 0; i < n_stops; i++) {
        if (stops[i].point == p && stops[i].n == k) {
            if (flush)
                fflush(flush);
            raise(SIGSTOP);
            return;
        }
    }
}
