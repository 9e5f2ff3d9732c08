/* model.init_from: a classifier starts from a pretrained autoencoder's
 * encoder and data scaling. */
#ifndef AE_INIT_FROM_H
#define AE_INIT_FROM_H

#include "ae/config.h"
#include "ae/model.h"
#include "ae/status.h"

/* Copies into m (a classifier built from cfg) the encoder of the model in
 * cfg->model.init_from: its hidden layers encoder.0 .. encoder.{n-1} and its
 * code layer (an ae's encoder.{n}, a VAE's mean head encoder.mu), each
 * checked by name, shape and activation, and its data scaling (scale, shift
 * and the fill of missing values), since the encoder only means something
 * on inputs scaled as in pretraining.  Refuses a checkpoint that is not of
 * an autoencoder reading the input alone (a classifier, a conditional VAE),
 * a different input width, and a different data.scale or fixed
 * binarisation.  Messages name model.init_from, the file and the tensor. */
ae_status ae_init_from(ae_model *m, const ae_config *cfg, ae_error *err);

#endif
