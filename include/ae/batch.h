/* From stored examples to model inputs: per-feature scaling, batch gathering
 * (uint8 stays uint8 until here), and binarisation.
 *
 * Scaling is an affine map per feature, input = raw * scale[j] + shift[j]:
 *   unit        scale = 1/255 for uint8 data, 1 for float data; shift 0
 *   standardize scale = 1/std_j, shift = -mean_j/std_j from the training
 *               examples (std 0 -> 1), so inputs have mean 0 and variance 1
 *   none        scale 1, shift 0 */
#ifndef AE_BATCH_H
#define AE_BATCH_H

#include <stddef.h>

#include "ae/config.h"
#include "ae/data.h"
#include "ae/rng.h"
#include "ae/status.h"

/* Fits scale/shift [ds->dim] on the examples idx[0..n) (all when idx NULL). */
void ae_scaling_fit(const ae_dataset *ds, const size_t *idx, size_t n, ae_scale mode,
                    float *scale, float *shift);

/* The pieces of the standardize fit, for fits split across ranks: per
 * feature, the sum of raw values over idx[0..n) (rows 0..n-1 when idx is
 * NULL) added into sum [dim] and the number of values present added into
 * count [dim], and the sum of squared deviations from mean added into m2
 * [dim]; a missing value (NaN) counts in none of them.
 * ae_scaling_from_moments turns the mean and the m2 total over count[j]
 * values into scale/shift (a feature with no values: scale 1, shift 0). */
void ae_feature_sums(const ae_dataset *ds, const size_t *idx, size_t n, double *sum,
                     double *count);
void ae_feature_sq_devs(const ae_dataset *ds, const size_t *idx, size_t n, const double *mean,
                        double *m2);
void ae_scaling_from_moments(size_t dim, const double *mean, const double *m2,
                             const double *count, float *scale, float *shift);

/* The smallest and largest scaled value over the whole dataset. */
void ae_scaled_range(const ae_dataset *ds, const float *scale, const float *shift, float *lo,
                     float *hi);
/* ... over rows [first, first + n) only. */
void ae_scaled_range_rows(const ae_dataset *ds, size_t first, size_t n, const float *scale,
                          const float *shift, float *lo, float *hi);

/* Per feature: the smallest and largest scaled value, lo/hi [ds->dim]. */
void ae_scaled_feature_range(const ae_dataset *ds, const float *scale, const float *shift,
                             float *lo, float *hi);
/* ... over rows [first, first + n) only. */
void ae_scaled_feature_range_rows(const ae_dataset *ds, size_t first, size_t n,
                                  const float *scale, const float *shift, float *lo, float *hi);

/* out [B x dim] = scaled rows idx[0..B) (rows 0..B-1 when idx is NULL,
 * starting at row `first`), then binarised: fixed thresholds at 0.5,
 * dynamic draws each value as a Bernoulli(value) sample from rng. */
void ae_batch_gather(const ae_dataset *ds, const size_t *idx, size_t first, size_t B,
                     const float *scale, const float *shift, ae_binarize bin, ae_rng *rng,
                     float *out);

/* Makes the generator draws that ae_batch_gather with this binarisation
 * makes for `rows` rows, and discards them: a data-parallel rank skips the
 * rows of the other ranks' slices this way (ae/dist.h). */
void ae_batch_skip_draws(size_t rows, size_t dim, ae_binarize bin, ae_rng *rng);

/* Loads a data file, its optional label file (labels_path NULL or "") and
 * keeps the first `limit` examples (0: all), with the CSV settings of the
 * spec's data section.  Label names are looked up among the spec's
 * data.class_names (a name not among them is an error naming its row).  A
 * spec without class names whose training data had labels
 * (data.train_labels or data.csv.label_column) takes integer labels only,
 * and names are an error saying so; one whose training data had none takes
 * names as the file's own classes (ds->class_names). */
ae_status ae_load_split(const ae_config *cfg, const char *path, const char *labels_path,
                        long limit, ae_dataset *ds, ae_error *err);

/* The same for the training data of a run: when the spec has no
 * data.class_names, labels that are names are accepted and become classes
 * in byte order (ds->class_names), which the run then writes to its spec. */
ae_status ae_load_training_split(const ae_config *cfg, const char *path, const char *labels_path,
                                 long limit, ae_dataset *ds, ae_error *err);

#endif
