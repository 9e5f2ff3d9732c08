/* A model applied to a dataset: the one check that the data fits the model
 * (every program and the trainer use it), and encoding a whole dataset in
 * batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "ae/model.h"

ae_status ae_model_check_data(const ae_model *m, const ae_dataset *ds, const ae_data_ref *ref,
                              ae_error *err)
{
    const char *key = ref->key, *path = ref->path;
    if (ds->dim != m->input_dim) {
        ae_error_set(err, "%s %s: examples have %zu features, but the model%s%s takes %zu", key,
                     path, ds->dim, ref->model ? " " : "", ref->model ? ref->model : "",
                     m->input_dim);
        return AE_ERR_INPUT;
    }
    /* labels: a conditional family's input, a classifier's target */
    size_t C = m->classes ? m->classes : m->label_classes;
    const char *lpath = ref->labels_path && ref->labels_path[0] ? ref->labels_path : path;
    if (C && !ds->labels && m->family->conditional) {
        ae_error_set(err, "%s %s: the model is a %s (model.type %s), which needs a label for "
                          "every example: %s", key, path, m->family->title, m->family->name,
                     ref->labels_hint ? ref->labels_hint
                                      : "--labels FILE, or a CSV with data.csv.label_column");
        return AE_ERR_INPUT;
    }
    for (size_t i = 0; C && ds->labels && i < ds->n; i++)
        if (ds->labels[i] < 0 || (size_t)ds->labels[i] >= C) {
            ae_error_set(err, "%s %s: example %zu has label %d, outside [0, %zu) "
                              "(model.classes = %zu)", key, lpath, i, (int)ds->labels[i], C, C);
            return AE_ERR_INPUT;
        }
    const ae_likelihood_ops *lik = ae_likelihood_get(m->likelihood);
    if (ref->check_range && lik->unit_range && !m->family->classifier) {
        float lo, hi;
        ae_scaled_range(ds, m->scale, m->shift, &lo, &hi);
        if (lo < 0.0f || hi > 1.0f) {
            ae_error_set(err, "%s %s: values span [%g, %g] after the model's scaling, but its %s "
                              "likelihood needs values in [0, 1]", key, path, lo, hi, lik->title);
            return AE_ERR_INPUT;
        }
    }
    return AE_OK;
}

ae_status ae_model_encode_rows(ae_model *m, const ae_dataset *ds, const size_t *idx, size_t n,
                               ae_binarize bin, ae_rng *bin_rng, float *mu, float *logvar,
                               ae_error *err)
{
    const size_t D = m->input_dim, L = m->latent, MB = m->max_batch;
    float *x = malloc(MB * D * sizeof(float));
    int32_t *y = m->classes ? malloc(MB * sizeof(int32_t)) : NULL;
    if (!x || (m->classes && !y)) {
        free(x);
        free(y);
        ae_error_set(err, "encoding: out of memory for a batch of %zu x %zu", MB, D);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i += MB) {
        size_t b = n - i < MB ? n - i : MB;
        ae_batch_gather(ds, idx ? idx + i : NULL, i, b, m->scale, m->shift, bin, bin_rng, x);
        for (size_t r = 0; y && r < b; r++)
            y[r] = ds->labels[idx ? idx[i + r] : i + r];
        ae_model_encode(m, b, x, y, mu + i * L, logvar ? logvar + i * L : NULL);
    }
    free(x);
    free(y);
    return AE_OK;
}
