/* A training run: loads the data named by the spec, builds or resumes the
 * model, trains epoch by epoch, evaluates, and writes into output.dir:
 * config.json (the resolved spec), metrics.csv (rewritten after each epoch),
 * checkpoint.safetensors (every output.checkpoint_every epochs and after the
 * last), model.safetensors (the final model, without optimizer state), and
 * with output.images: loss.svg (redrawn after every epoch), and at the end
 * recon.png, samples.png (VAE), manifold.png (2-D latent), latents.svg (the
 * codes of up to 5000 test examples, or training examples without a test
 * set) and report.html (report.h).  The caller sees progress through hooks;
 * nothing is printed. */
#ifndef AE_TRAIN_H
#define AE_TRAIN_H

#include <signal.h>
#include <stddef.h>

#include "ae/config.h"
#include "ae/data.h"
#include "ae/model.h"
#include "ae/rng.h"
#include "ae/status.h"

typedef struct {
    size_t n_train, n_val, n_test, dim, n_params, batches_per_epoch;
    int threads;       /* BLAS threads (of each rank) */
    int ranks;         /* data-parallel processes (ae/dist.h), 1 without MPI */
    int start_epoch;   /* first epoch to run (1, or after the resumed one) */
    const char *out_dir;
} ae_run_info;

typedef struct {
    int epoch, epochs;
    size_t batch, n_batches;
    double running_loss;      /* mean training loss of this epoch so far */
    double examples_per_sec;
    double elapsed;           /* seconds of training in this epoch */
} ae_progress;

typedef struct {
    int epoch;
    double beta;                          /* effective KL weight at the epoch's end */
    double train_loss, train_recon, train_kl;
    int has_val;
    double val_loss, val_recon, val_kl;
    int has_test;
    double test_loss, test_recon, test_kl; /* z sampled from q(z|x) */
    double test_loss_mu;                   /* z = mu */
    double train_reg, test_reg;            /* sparsity / contractive penalties (ae) */
    double train_kl2, test_kl2;            /* hvae: the KL of z2 (part of *_kl) */
    double seconds, examples_per_sec;      /* training part of the epoch */
    double lr;                             /* the learning rate of the epoch */
    int has_accuracy;                      /* a classifier: */
    double train_accuracy;                 /* on the training rows at the epoch's end */
    double test_accuracy;                  /* on the test set (with has_test) */
    const char *checkpoint;                /* written this epoch, or NULL */
    const char *best;                      /* best.safetensors written this epoch, or NULL */
    /* early stopping ended the run after this epoch: the validation loss
     * has not dropped by min_delta for `patience` epochs since best_epoch */
    int stopped_early, best_epoch;
    double best_val;
} ae_epoch_metrics;

typedef struct {
    int stage, stages;       /* greedy pretraining: stage k of n (1-based) */
    size_t in, out;          /* the layer it trains */
    int epoch, epochs;
    double loss;             /* mean reconstruction loss of the stage's epoch */
} ae_pretrain_progress;

typedef struct {
    void (*on_start)(void *ctx, const ae_run_info *info);
    void (*on_pretrain)(void *ctx, const ae_pretrain_progress *p);
    void (*on_batch)(void *ctx, const ae_progress *p);
    void (*on_epoch)(void *ctx, const ae_epoch_metrics *m);
    void *ctx;
    /* A stop request (e.g. set by a signal handler), or NULL.  It is read
     * after every training batch; once nonzero, the run writes
     * checkpoint.safetensors for the state after that batch and returns
     * AE_INTERRUPTED, with a message naming the epoch, the batch and the
     * checkpoint.  A checkpoint written mid-epoch resumes exactly: it holds
     * the batch index, the generator at the epoch's start (which re-creates
     * the epoch's order) and the epoch's running sums, so the resumed run
     * gives the same bits as one never interrupted.  Pretraining does not
     * look at it. */
    volatile sig_atomic_t *stop;
} ae_train_hooks;

/* Trains cfg.  With resume_path, the model, optimizer, generator and metrics
 * continue from that checkpoint (cfg.train.epochs is the total). */
ae_status ae_train(const ae_config *cfg, const char *resume_path, const ae_train_hooks *hooks,
                   ae_error *err);

#endif
