/* A growing text buffer for the SVG and HTML writers.  An allocation failure
 * is sticky: later appends do nothing and ae_sb_ok reports it once at the end,
 * so writers need not check every append.
 *
 * ae_sb owns its text; ae_sb_free releases it, ae_sb_take hands it over. */
#ifndef AE_STRBUF_H
#define AE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *s;       /* NUL-terminated text, or NULL before the first append */
    size_t len, cap;
    bool failed;   /* an allocation failed */
} ae_sb;

void ae_sb_append(ae_sb *b, const char *text, size_t n);
void ae_sb_puts(ae_sb *b, const char *text);
void ae_sb_printf(ae_sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Appends text with &, <, >, " and ' replaced by entities (XML and HTML). */
void ae_sb_escape(ae_sb *b, const char *text);

bool ae_sb_ok(const ae_sb *b);

/* The text (malloc'ed, "" when empty), or NULL after a failure; b is emptied. */
char *ae_sb_take(ae_sb *b);

void ae_sb_free(ae_sb *b);

#endif
