/* Checkpoints: a model, its data scaling, and optionally the optimizer
 * moments and training state, in one safetensors file.
 *
 * Tensors: the model's parameters under the names of ae_model_param_views
 * (encoder.0.weight, ...), data.scale and data.shift [D], and for training
 * checkpoints optimizer.m (and optimizer.v for Adam) [n_params] in the flat
 * parameter order.  __metadata__: format, format_version, config (the fully
 * resolved JSON spec), input_dim, img_h, img_w, epoch, step, rng (the
 * generator state as 64 hex digits), metrics_csv (the run's metrics so far),
 * crc32 (added by the safetensors writer).  A checkpoint written in the
 * middle of an epoch (a stop request) adds batch (batches of epoch+1 done),
 * epoch_rng (the generator at that epoch's start, which re-creates its
 * shuffled order) and epoch_sums (the epoch's running loss sums, as C99 hex
 * floats so they come back bit for bit).
 *
 * ae_checkpoint owns what it read; ae_checkpoint_free releases it. */
#ifndef AE_CHECKPOINT_H
#define AE_CHECKPOINT_H

#include <stdint.h>

#include "ae/config.h"
#include "ae/model.h"
#include "ae/optim.h"
#include "ae/rng.h"
#include "ae/safetensors.h"
#include "ae/status.h"

/* What the schedule, early stopping and the best model remember between
 * epochs (src/train/schedule.c); a checkpoint holds it, so a resumed run
 * takes the same decisions. */
typedef struct {
    double lr;           /* plateau: the learning rate in effect */
    double plateau_best; /* plateau: the lowest validation loss so far */
    int plateau_bad;     /* plateau: epochs since it improved */
    double stop_best;    /* early stopping: the lowest validation loss so far */
    int stop_bad;        /* early stopping: epochs without an improvement by min_delta */
    double best_val;     /* keep_best: the lowest validation loss, at best_epoch */
    int best_epoch;      /* 0: none yet */
    bool stopped;        /* early stopping ended the run */
} ae_schedule_state;

typedef struct {
    int epoch;           /* epochs completed */
    uint64_t step;       /* optimizer steps taken */
    ae_rng rng;          /* the training generator after that epoch */
    char *metrics_csv;   /* malloc'ed metrics table (header + one row per epoch), or NULL */
    /* Mid-epoch position: 0 at an epoch boundary, else the number of batches
     * of epoch+1 already trained. */
    size_t batch;
    ae_rng epoch_rng;    /* the generator before epoch+1 shuffled its order */
    double sums[6];      /* epoch+1 so far: loss, recon, kl, kl2, reg, iw summed over rows */
    ae_schedule_state sched;
} ae_train_state;

void ae_train_state_free(ae_train_state *s);

/* Writes atomically.  o and s may be NULL (a model-only file). */
ae_status ae_checkpoint_save(const char *path, const ae_config *cfg, const ae_model *m,
                             const ae_optim *o, const ae_train_state *s, ae_error *err);

typedef struct {
    ae_safetensors st;
    char *config_json;   /* the spec stored in the file */
    const char *path;    /* as given to ae_checkpoint_read (not copied) */
    size_t input_dim, img_h, img_w;
} ae_checkpoint;

/* Reads and checks the file (format, CRC, metadata); does not build a model. */
ae_status ae_checkpoint_read(ae_checkpoint *ck, const char *path, ae_error *err);

/* Copies the parameters and data scaling into m, which must have been built
 * for the same architecture: every tensor must be present with the shape m
 * expects ("different architecture" otherwise).  When o is non-NULL the
 * optimizer moments are restored too (the file must hold them), and when s
 * is non-NULL the training state. */
ae_status ae_checkpoint_restore(const ae_checkpoint *ck, ae_model *m, ae_optim *o,
                                ae_train_state *s, ae_error *err);

void ae_checkpoint_free(ae_checkpoint *ck);

/* Convenience for the programs that only use a trained model: reads path,
 * parses its spec into cfg, builds m with workspace for max_batch rows and
 * restores the parameters. */
ae_status ae_checkpoint_load_model(const char *path, size_t max_batch, ae_config *cfg,
                                   ae_model *m, ae_error *err);

#endif
