/* Greedy layer-wise pretraining of a stacked autoencoder (Bengio et al.
 * 2007; Vincent et al. 2010): with widths D = w0, w1..wk (model.encoder),
 * w(k+1) = model.latent, stage s trains a one-hidden-layer autoencoder
 * w(s-1) -> w(s) -> w(s-1) on the codes of the frozen stages before it, for
 * train.pretrain.epochs epochs.  Its encoder becomes the deep net's encoder
 * layer s-1 and its decoder the mirrored decoder layer.  Stage 1 uses the
 * model's likelihood; later stages reconstruct unbounded hidden codes, so
 * they use the Gaussian (squared error) loss.  Noise is not applied during
 * pretraining. */
#ifndef AE_PRETRAIN_H
#define AE_PRETRAIN_H

#include "ae/config.h"
#include "ae/data.h"
#include "ae/model.h"
#include "ae/rng.h"
#include "ae/train.h"

/* Trains the stages on training rows rows[0..n) of ds (scaled by deep's
 * scale/shift) and writes the weights into deep. */
ae_status ae_pretrain(const ae_config *cfg, const ae_dataset *ds, const size_t *rows, size_t n,
                      ae_model *deep, ae_rng *rng, const ae_train_hooks *hooks, ae_error *err);

#endif
