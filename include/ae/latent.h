/* The latent space of a trained model, as aesample draws it: codes along a
 * line between two examples, traversals of chosen dimensions, and the pick of
 * the dimensions the encoder uses most.  Each fills codes z [count x L] for
 * ae_picture_decode; inputs are gathered with the model's scaling and the
 * given binarisation (fixed binarisation is part of a model's input). */
#ifndef AE_LATENT_H
#define AE_LATENT_H

#include <stddef.h>

#include "ae/data.h"
#include "ae/model.h"
#include "ae/status.h"

/* z [steps x L]: (1 - t) mu_a + t mu_b for t = 0, 1/(steps-1), .., 1, the
 * codes (means) of examples a and b of ds; steps >= 2. */
ae_status ae_latent_interpolate(ae_model *m, const ae_dataset *ds, ae_binarize bin, size_t a,
                                size_t b, size_t steps, float *z, ae_error *err);

/* z [n_dims*steps x L], row k*steps + s: the code of example `start` with
 * dimension dims[k] set to the quantile p_s = range + (1 - 2 range) s/(steps-1)
 * (range in (0, 0.5)): of the prior N(0, 1) for a variational family, of the
 * codes of every example of ds for one without a prior (an ae), by linear
 * interpolation between order statistics.  A variational family's base is
 * the example's mean; dims[k] < L, steps >= 2. */
ae_status ae_latent_traverse(ae_model *m, const ae_dataset *ds, ae_binarize bin, size_t start,
                             const size_t *dims, size_t n_dims, size_t steps, double range,
                             float *z, ae_error *err);

/* The two dimensions with the highest mean KL(q(z_j|x) || N(0, 1)) =
 * (mu^2 + exp(lv) - 1 - lv) / 2 over the examples of ds (variational
 * families, L >= 2): *first the highest, *second the next (ties to the lower
 * index), with their mean KLs in kl[0], kl[1]. */
ae_status ae_latent_top_kl(ae_model *m, const ae_dataset *ds, ae_binarize bin, size_t *first,
                           size_t *second, double kl[2], ae_error *err);

#endif
