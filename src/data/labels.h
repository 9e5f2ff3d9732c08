/* Label names: the cells of a CSV label column (or a one-column labels CSV)
 * collected while the file is read, then turned into classes 0..k-1
 * (labels.c).  Internal to src/data.
 *
 * While reading, every label cell is interned: each distinct cell gets an id
 * (first-seen order) and the line it first appears on, and the row keeps the
 * id.  Once the file is read, ae_label_resolve turns the ids into classes:
 *   - with classes given (the training data's data.class_names), each name
 *     is looked up among them, and a name that is not one of them is an
 *     error naming its line;
 *   - otherwise, when every label is an integer from 0 to 2147483647 the
 *     labels are those integers (no names), as they always were;
 *   - otherwise every label is a name: the distinct names in byte order
 *     (strcmp, as scikit-learn's LabelEncoder sorts them) are classes
 *     0..k-1, and *names gets them. */
#ifndef AE_DATA_LABELS_H
#define AE_DATA_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "ae/status.h"

typedef struct {
    char **names;  /* [n] the distinct cells, first-seen order */
    size_t *line;  /* [n] the line each first appears on */
    size_t n, cap;
    size_t *slot;  /* [nslots] hash index: 0 empty, else a name's index + 1 */
    size_t nslots;
} ae_label_table;

/* *id = the id of cell (one pair of surrounding double quotes removed),
 * added on first sight.  An empty cell, one with control characters or one
 * longer than AE_MAX_CLASS_NAME_LEN is an error naming path and line. */
ae_status ae_label_intern(ae_label_table *t, const char *cell, size_t line, int32_t *id,
                          const char *path, ae_error *err);

/* Whether cell is an integer label: decimal digits, 0 to 2147483647. */
int ae_label_parse_int(const char *cell, int32_t *out);

/* Turns the ids labels[0..n) into classes, as the header says.  Only the ids
 * that occur in labels count (a dropped header row's cell is not a class).
 * *names (malloc'ed strings in a malloc'ed array, which the caller owns) and
 * *n_names are set only when the labels became names; otherwise NULL and 0. */
ae_status ae_label_resolve(ae_label_table *t, int32_t *labels, size_t n,
                           const char *const *classes, size_t n_classes, char ***names,
                           size_t *n_names, const char *path, ae_error *err);

void ae_label_table_free(ae_label_table *t);

/* Frees names[0..n) and the array. */
void ae_label_names_free(char **names, size_t n);

#endif
