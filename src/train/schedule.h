/* The learning rate of each epoch (train.lr_schedule), early stopping
 * (train.early_stopping) and the best model (output.keep_best), all from
 * the validation loss the epoch ends with.  Private to src/train/. */
#ifndef AE_TRAIN_SCHEDULE_H
#define AE_TRAIN_SCHEDULE_H

#include <stdbool.h>

#include "ae/checkpoint.h"
#include "ae/config.h"

/* The state before the first epoch. */
void ae_schedule_start(const ae_config *cfg, ae_schedule_state *s);

/* The learning rate of epoch e (1-based), given the state after epoch e-1. */
double ae_schedule_lr(const ae_config *cfg, const ae_schedule_state *s, int epoch);

/* After epoch e, whose validation loss is val (NaN without validation):
 * updates the plateau, early-stopping and best-model bookkeeping; *best:
 * this epoch is the new best (keep_best writes it); returns true when
 * training should stop early. */
bool ae_schedule_end_epoch(const ae_config *cfg, ae_schedule_state *s, int epoch, double val,
                           bool *best);

#endif
