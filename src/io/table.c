#define _POSIX_C_SOURCE 200809L
#include "ae/table.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

ae_status ae_npy_write_stream(FILE *f, const char *name, const float *x, size_t rows,
                              size_t cols, ae_error *err)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ae_npy_write_stream writes '<f4' from host floats: little-endian hosts only"
#endif
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                     rows, cols);
    /* magic(6) + version(2) + header length(2) + dict, padded with spaces to a
     * multiple of 64 and ended by a newline, as NumPy writes it. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n;
    for (size_t i = 0; !bad && i < pad; i++)
        bad = fputc(' ', f) == EOF;
    if (!bad)
        bad = fputc('\n', f) == EOF;
    if (!bad && rows * cols > 0)
        bad = fwrite(x, sizeof(float), rows * cols, f) != rows * cols;
    if (bad) {
        ae_error_set(err, "%s: write failed: %s", name, strerror(errno));
        return AE_ERR_IO;
    }
    return AE_OK;
}

/* Splits a CSV line in place at commas; returns the cell count (<= max). */
static size_t split_cells(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n < max)
            cells[n] = p;
        n++;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t k = strlen(s);
    while (k && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\r' || s[k - 1] == '\n'))
        s[--k] = '\0';
    return s;
}

static int parse_float(const char *s, float *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || errno == ERANGE)
        return 0;
    *out = (float)v;
    return 1;
}

ae_status ae_codes_load(const char *path, size_t L, float **z, size_t *n, ae_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ae_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return AE_ERR_INPUT;
    }
    enum { MAXC = 1 << 16 };
    char **cells = malloc(MAXC * sizeof(char *));
    size_t *col = malloc(L * sizeof(size_t)); /* which cell holds z_j */
    char *line = NULL;
    size_t cap = 0, rows = 0, zcap = 0, width = 0;
    float *out = NULL;
    ae_status st = AE_OK;
    long lineno = 0;
    ssize_t len;
    if (!cells || !col) {
        st = AE_ERR_NOMEM;
        ae_error_set(err, "%s: out of memory", path);
    }
    while (st == AE_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *t = trim(line);
        if (!*t)
            continue;
        size_t nc = split_cells(t, cells, MAXC);
        if (nc > MAXC) {
            st = AE_ERR_INPUT;
            ae_error_set(err, "%s:%ld: more than %d columns", path, lineno, MAXC);
            break;
        }
        for (size_t i = 0; i < nc; i++)
            cells[i] = trim(cells[i]);
        float tmp;
        if (width == 0) {
            width = nc;
            if (!parse_float(cells[0], &tmp)) { /* a header: find z0..z{L-1} */
                for (size_t j = 0; j < L && st == AE_OK; j++) {
                    char want[32];
                    snprintf(want, sizeof want, "z%zu", j);
                    size_t k = 0;
                    while (k < nc && strcmp(cells[k], want) != 0)
                        k++;
                    if (k == nc) {
                        st = AE_ERR_INPUT;
                        ae_error_set(err, "%s: the header has no column %s; the model has %zu "
                                          "latent dimensions (z0..z%zu)", path, want, L, L - 1);
                    }
                    col[j] = k;
                }
                continue;
            }
            if (nc != L) {
                st = AE_ERR_INPUT;
                ae_error_set(err, "%s:%ld: %zu columns, but the model has %zu latent "
                                  "dimensions (give z0..z%zu, or a header naming them)",
                             path, lineno, nc, L, L - 1);
                break;
            }
            for (size_t j = 0; j < L; j++)
                col[j] = j;
        }
        if (nc != width) {
            st = AE_ERR_INPUT;
            ae_error_set(err, "%s:%ld: %zu columns where the first row has %zu", path, lineno,
                         nc, width);
            break;
        }
        if (rows == zcap) {
            zcap = zcap ? 2 * zcap : 64;
            float *g = realloc(out, zcap * L * sizeof(float));
            if (!g) {
                st = AE_ERR_NOMEM;
                ae_error_set(err, "%s: out of memory", path);
                break;
            }
            out = g;
        }
        for (size_t j = 0; j < L; j++)
            if (!parse_float(cells[col[j]], &out[rows * L + j])) {
                st = AE_ERR_INPUT;
                ae_error_set(err, "%s:%ld: column %zu: expected a finite number, got '%s'", path,
                             lineno, col[j] + 1, cells[col[j]]);
                break;
            }
        rows++;
    }
    if (st == AE_OK && ferror(f)) {
        st = AE_ERR_INPUT;
        ae_error_set(err, "%s: read error", path);
    }
    if (st == AE_OK && rows == 0) {
        st = AE_ERR_INPUT;
        ae_error_set(err, "%s: no codes in the file", path);
    }
    fclose(f);
    free(line);
    free(cells);
    free(col);
    if (st != AE_OK) {
        free(out);
        return st;
    }
    *z = out;
    *n = rows;
    return AE_OK;
}
