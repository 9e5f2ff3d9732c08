#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(ae_sb *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void ae_sb_append(ae_sb *b, const char *text, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->s + b->len, text, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void ae_sb_puts(ae_sb *b, const char *text)
{
    ae_sb_append(b, text, strlen(text));
}

void ae_sb_printf(ae_sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ae_sb_escape(ae_sb *b, const char *text)
{
    const char *run = text;
    for (const char *p = text;; p++) {
        const char *ent = NULL;
        switch (*p) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: break;
        }
        if (ent || *p == '\0') {
            ae_sb_append(b, run, (size_t)(p - run));
            if (!*p)
                return;
            ae_sb_puts(b, ent);
            run = p + 1;
        }
    }
}

bool ae_sb_ok(const ae_sb *b)
{
    return !b->failed;
}

char *ae_sb_take(ae_sb *b)
{
    if (b->failed) {
        ae_sb_free(b);
        return NULL;
    }
    char *s = b->s;
    if (!s) {
        s = malloc(1);
        if (s)
            s[0] = '\0';
    }
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void ae_sb_free(ae_sb *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
