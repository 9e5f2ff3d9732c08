/* Pictures of what a model does, as PNG grids: reconstructions, samples
 * from the prior, decodings of given codes, and the 2-D latent manifold.
 *
 * Bernoulli models are drawn on [0, 1]; Gaussian models are mapped back to
 * the data's raw units and drawn over the range of the values shown. */
#ifndef AE_PICTURES_H
#define AE_PICTURES_H

#include <stddef.h>
#include <stdint.h>

#include "ae/model.h"
#include "ae/rng.h"
#include "ae/status.h"

/* The picture shape of one example: the file's (h, w) when known, a square
 * when D is a perfect square, else a strip 1 pixel high. */
void ae_picture_shape(const ae_model *m, size_t *h, size_t *w);

/* Labels arguments: [n] class labels for a cvae, NULL for other models. */

/* x [n x D] (scaled inputs): rows of `cols` originals, each followed by a row
 * of their reconstructions (z = mu). */
ae_status ae_picture_recon(const char *path, ae_model *m, const float *x,
                           const int32_t *labels, size_t n, size_t cols, ae_error *err);

/* Decodes z [n x L] and tiles the means into `cols` columns. */
ae_status ae_picture_decode(const char *path, ae_model *m, const float *z,
                            const int32_t *labels, size_t n, size_t cols, ae_error *err);

/* The codes of ae_picture_manifold, z [side*side x L], row by row: zeros
 * but for dim_a (across, increasing) and dim_b (down, decreasing). */
void ae_manifold_codes(float *z, size_t L, size_t side, size_t dim_a, size_t dim_b, double p);

/* A side x side grid over latent dimensions (dim_a, dim_b), the others 0,
 * at the normal quantiles linspace(p, 1-p, side) (p = 0.05 is classic);
 * label: the class every tile is decoded as (cvae), ignored otherwise. */
ae_status ae_picture_manifold(const char *path, ae_model *m, size_t side, size_t dim_a,
                              size_t dim_b, double p, int32_t label, ae_error *err);

/* Decodes z [n x L] in chunks of the model's batch into out [n x D]. */
void ae_decode_all(ae_model *m, const float *z, const int32_t *labels, size_t n, float *out);

#endif
