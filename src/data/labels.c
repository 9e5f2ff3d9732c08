/* Label names of a CSV label column: interning while reading, then classes
 * (labels.h). */
#include "labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/data.h"

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Doubles the hash index (or makes the first) and re-inserts every name. */
static int table_rehash(ae_label_table *t)
{
    size_t ns = t->nslots ? t->nslots * 2 : 64;
    size_t *slot = calloc(ns, sizeof *slot);
    if (!slot)
        return 0;
    for (size_t k = 0; k < t->n; k++) {
        size_t h = hash_str(t->names[k]) & (ns - 1);
        while (slot[h])
            h = (h + 1) & (ns - 1);
        slot[h] = k + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslots = ns;
    return 1;
}

ae_status ae_label_intern(ae_label_table *t, const char *cell, size_t line, int32_t *id,
                          const char *path, ae_error *err)
{
    size_t len = strlen(cell);
    if (len >= 2 && cell[0] == '"' && cell[len - 1] == '"') {
        cell++;
        len -= 2;
    }
    if (len == 0) {
        ae_error_set(err, "%s: line %zu: the label is empty", path, line);
        return AE_ERR_INPUT;
    }
    if (len > AE_MAX_CLASS_NAME_LEN) {
        ae_error_set(err, "%s: line %zu: the label '%.40s...' is %zu bytes long; class names "
                          "may have at most %d", path, line, cell, len, AE_MAX_CLASS_NAME_LEN);
        return AE_ERR_INPUT;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)cell[i] < 0x20 || cell[i] == 0x7f) {
            ae_error_set(err, "%s: line %zu: the label contains a control character (byte "
                              "0x%02x)", path, line, (unsigned char)cell[i]);
            return AE_ERR_INPUT;
        }
    char key[AE_MAX_CLASS_NAME_LEN + 1];
    memcpy(key, cell, len);
    key[len] = '\0';
    if (t->nslots) {
        for (size_t h = hash_str(key) & (t->nslots - 1); t->slot[h]; h = (h + 1) & (t->nslots - 1))
            if (strcmp(t->names[t->slot[h] - 1], key) == 0) {
                *id = (int32_t)(t->slot[h] - 1);
                return AE_OK;
            }
    }
    if (t->n >= INT32_MAX) {
        ae_error_set(err, "%s: line %zu: too many distinct labels", path, line);
        return AE_ERR_INPUT;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **names = realloc(t->names, cap * sizeof *names);
        if (names)
            t->names = names;
        size_t *lines = names ? realloc(t->line, cap * sizeof *lines) : NULL;
        if (!lines) {
            ae_error_set(err, "%s: cannot allocate the label names", path);
            return AE_ERR_NOMEM;
        }
        t->line = lines;
        t->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s) {
        ae_error_set(err, "%s: cannot allocate the label names", path);
        return AE_ERR_NOMEM;
    }
    memcpy(s, key, len + 1);
    t->names[t->n] = s;
    t->line[t->n] = line;
    t->n++;
    /* keep the index at most half full */
    if (2 * t->n > t->nslots) {
        if (!table_rehash(t)) {
            ae_error_set(err, "%s: cannot allocate the label names", path);
            return AE_ERR_NOMEM;
        }
    } else {
        size_t h = hash_str(s) & (t->nslots - 1);
        while (t->slot[h])
            h = (h + 1) & (t->nslots - 1);
        t->slot[h] = t->n;
    }
    *id = (int32_t)(t->n - 1);
    return AE_OK;
}

int ae_label_parse_int(const char *cell, int32_t *out)
{
    if (!*cell)
        return 0;
    for (const char *p = cell; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    errno = 0;
    unsigned long long v = strtoull(cell, NULL, 10);
    if (errno == ERANGE || v > INT32_MAX)
        return 0;
    *out = (int32_t)v;
    return 1;
}

static const ae_label_table *sort_table; /* qsort has no context argument */

static int by_name(const void *a, const void *b)
{
    return strcmp(sort_table->names[*(const size_t *)a], sort_table->names[*(const size_t *)b]);
}

void ae_names_join(const char *const *names, size_t n, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k + 1 < size; i++) {
        int w = snprintf(buf + k, size - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    if (k + 1 >= size)
        memcpy(buf + size - 4, "...", 4);
}

ae_status ae_label_resolve(ae_label_table *t, int32_t *labels, size_t n,
                           const char *const *classes, size_t n_classes, char ***names,
                           size_t *n_names, const char *path, ae_error *err)
{
    *names = NULL;
    *n_names = 0;
    size_t m = t->n;
    unsigned char *used = calloc(m ? m : 1, 1);
    int32_t *to = malloc((m ? m : 1) * sizeof *to); /* id -> class */
    size_t *order = malloc((m ? m : 1) * sizeof *order);
    ae_status st = AE_OK;
    if (!used || !to || !order) {
        ae_error_set(err, "%s: cannot allocate the label names", path);
        st = AE_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        used[labels[i]] = 1;
    if (n_classes) { /* the training data's names */
        for (size_t k = 0; k < m; k++) {
            if (!used[k])
                continue;
            size_t j = 0;
            while (j < n_classes && strcmp(classes[j], t->names[k]) != 0)
                j++;
            if (j == n_classes) {
                char list[300];
                ae_names_join(classes, n_classes, list, sizeof list);
                ae_error_set(err, "%s: line %zu: label '%s' is not one of the %zu classes of the "
                                  "training data (data.class_names: %s)", path, t->line[k],
                             t->names[k], n_classes, list);
                st = AE_ERR_INPUT;
                goto done;
            }
            to[k] = (int32_t)j;
        }
    } else {
        int all_int = 1;
        for (size_t k = 0; k < m && all_int; k++)
            if (used[k] && !ae_label_parse_int(t->names[k], &to[k]))
                all_int = 0;
        if (!all_int) { /* names: classes in byte order */
            size_t k = 0;
            for (size_t id = 0; id < m; id++)
                if (used[id])
                    order[k++] = id;
            if (k > AE_MAX_CLASS_NAMES) {
                ae_error_set(err, "%s: the labels are %zu distinct names, more than the %d "
                                  "classes a model can name (is the label column an ID?)",
                             path, k, AE_MAX_CLASS_NAMES);
                st = AE_ERR_INPUT;
                goto done;
            }
            sort_table = t;
            qsort(order, k, sizeof *order, by_name);
            char **out = malloc((k ? k : 1) * sizeof *out);
            if (!out) {
                ae_error_set(err, "%s: cannot allocate the label names", path);
                st = AE_ERR_NOMEM;
                goto done;
            }
            for (size_t c = 0; c < k; c++) {
                to[order[c]] = (int32_t)c;
                out[c] = t->names[order[c]]; /* moved out of the table */
                t->names[order[c]] = NULL;
            }
            *names = out;
            *n_names = k;
        }
    }
    for (size_t i = 0; i < n; i++)
        labels[i] = to[labels[i]];
done:
    free(used);
    free(to);
    free(order);
    return st;
}

void ae_label_table_free(ae_label_table *t)
{
    if (!t)
        return;
    ae_label_names_free(t->names, t->n);
    free(t->line);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

void ae_label_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}
