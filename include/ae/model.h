/* Autoencoders and VAEs built from MLP stacks over one contiguous parameter
 * block, with workspace for batches up to max_batch.
 *
 *   ae    x -> enc -> code [B x L] (model.code_activation, optional top-k)
 *         -> dec -> D outputs
 *   vae   x -> enc -> [mu | logvar] [B x 2L]; z = mu + exp(logvar/2)*eps -> dec
 *   cvae  as vae, with the one-hot label appended to the inputs of enc and dec
 *   hvae  x -> enc -> q(z1|x); z1 -> enc2 -> q(z2|z1); z2 -> prior -> p(z1|z2);
 *         z1 -> dec
 *   iwae  the vae's networks, trained on the importance-weighted bound of K
 *         samples of z per example (Burda et al. 2016)
 *   classifier  x -> enc -> code [B x L] (model.code_activation) -> head ->
 *         softmax over model.classes; the loss is the cross-entropy of the
 *         label (reported as recon), no decoder; `dec` holds the head
 * Each family is one file of src/model/ behind the table of families.c;
 * code outside src/model/ asks the family (its traits below and the
 * ae_model_* calls), never the type.
 * The decoder outputs are logits for the Bernoulli likelihood and means for
 * the Gaussian one.  Log-variances are clamped to [AE_LOGVAR_MIN,
 * AE_LOGVAR_MAX] and pass no gradient outside it.
 *
 * ae_model owns its parameter, gradient, scaling and workspace buffers;
 * ae_model_free releases them.  Inputs given to ae_model_forward must stay
 * valid until the matching ae_model_backward. */
#ifndef AE_MODEL_H
#define AE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ae/config.h"
#include "ae/data.h"
#include "ae/layer.h"
#include "ae/optim.h"
#include "ae/rng.h"
#include "ae/status.h"

#define AE_LOGVAR_MIN (-30.0f)
#define AE_LOGVAR_MAX 20.0f
/* Rows the decoder's workspace may hold: max_batch * iw_samples. */
#define AE_MAX_DECODER_ROWS (1 << 20)

typedef struct {
    double loss;   /* batch mean of recon + beta * kl + reg + iw */
    double recon;  /* reconstruction NLL, nats per example */
    double kl;     /* KL terms, nats per example (all of them for an hvae) */
    double kl2;    /* hvae: the KL(q(z2|z1) || N(0, I)) part of kl; else 0 */
    double reg;    /* sparsity and contractive penalties, per example */
    double iw;     /* iwae: what importance weighting takes off the loss,
                    * loss - (recon + beta * kl + reg) <= 0; else 0 */
    double accuracy; /* classifier: share of the batch whose most probable class is its
                      * label; else 0 */
} ae_loss;

/* What a family is, for the code that uses models. */
typedef struct ae_family {
    const char *name;        /* model.type in the spec: "vae" */
    const char *title;       /* for the report: "variational autoencoder" */
    bool variational;        /* q(z|x) is Gaussian: an ELBO, IWAE, a prior to sample */
    bool conditional;        /* encoder and decoder take a class label (model.classes) */
    bool hierarchical;       /* a second latent z2 (model.latent [z1, z2], model.hidden2) */
    bool code_regularisers;  /* takes model.sparsity, model.contractive, code_activation */
    bool importance_weighted;/* trains on the IWAE bound (model.iw_samples) */
    bool can_tie;            /* takes model.tied */
    bool classifier;         /* predicts the label (model.classes) with a softmax head on
                              * the code: no decoder, nothing to reconstruct or sample;
                              * ae_model_predict gives the class probabilities */
    const struct ae_family_ops *ops; /* the passes: src/model/family.h */
} ae_family;

/* The family of a type (t < AE_MODEL_COUNT). */
const ae_family *ae_family_get(ae_model_type t);

/* The type named `name` (model.type), or AE_MODEL_COUNT when there is none. */
ae_model_type ae_family_find(const char *name);

typedef struct ae_model {
    ae_model_type type;
    const ae_family *family;     /* ae_family_get(type) */
    ae_likelihood likelihood;
    ae_likelihood_params lik_params; /* model.gaussian_std */
    ae_init init;
    size_t input_dim;            /* D */
    size_t latent;               /* L (z1 for an hvae) */
    size_t latent2;              /* hvae: z2 */
    size_t classes;              /* cvae: label values (an input of the stacks) */
    size_t label_classes;        /* classifier: label values it predicts; else 0 */
    bool frozen_encoder;         /* classifier: backward and the update stop at the head
                                  * (train.freeze_encoder_epochs) */
    size_t img_h, img_w;         /* picture shape of one example, 0 when unknown */
    size_t iw_samples;           /* iwae: K samples per example in training; else 1 */

    /* regularisers of an ae's code */
    ae_sparsity sparsity;
    float sparsity_weight, sparsity_rho;
    size_t topk;                 /* keep this many code units per row; 0 = all */
    float contractive;           /* lambda; 0 = off */
    int contractive_samples;

    size_t n_params;
    float *params;               /* [n_params] every weight and bias */
    float *grads;                /* [n_params] same layout */
    float *scale, *shift;        /* [D] input = raw * scale + shift */
    /* [D] what a missing input (NaN) is replaced by before the encoder sees
     * it: each feature's mean over the training data's values present
     * (scaled); NULL for a model trained on complete data, whose missing
     * inputs get 0.  The loss leaves missing targets out (likelihood.h). */
    float *fill;
    /* model.missing_indicators: the encoder sees [x | mask], D values with
     * the fill, then D indicators (1 where the value is missing) */
    bool missing_indicators;
    float *xfill;                /* [max_batch x Din] the encoder's input, made when needed */

    ae_mlp enc, dec;             /* every model */
    ae_mlp enc2, prior;          /* hvae only */

    /* workspace, sized for max_batch rows (max_rows = max_batch * iw_samples
     * for what the decoder sees) */
    size_t max_batch, max_rows, widest;
    float *eps, *z;              /* [rows x L] reparameterisation noise and sample */
    float *eps2, *z2;            /* [B x L2] hvae */
    unsigned char *kept;         /* [B x L] top-k selection */
    float *scratch[4];           /* [rows x widest] gradients flowing backwards */
    float *target_rows;          /* iwae: [rows x D] each target repeated K times */
    double *row_nll, *row_w;     /* iwae: [rows] -log p(x|z_k), normalised weights */
    float *tan_v;                /* contractive: [B x D] probe */
    float **tan_u, **tan_t;      /* contractive: per encoder layer [B x out] */
    float **extra_dz;            /* contractive: per encoder layer [B x out] */
    double *ex_recon, *ex_kl, *ex_kl2, *ex_reg; /* [B] per-example terms of the last forward */

    /* state of the last forward, for backward */
    size_t last_batch;
    const float *last_input;
    const int32_t *last_labels;
    bool sampled;                /* the last forward drew z (iwae: K of them) */
    ae_rng probe_rng;            /* contractive probes of the last forward */
    bool probes_drawn;

    /* Data-parallel slices (ae/dist.h), set by ae_model_set_part: the B rows
     * of a forward pass are rows part_first.. of a global batch of
     * part_total rows.  Random draws are made for the whole global batch and
     * the slice's rows kept, so each rank draws what one process would; and
     * means are taken over part_total rows, so the ranks' losses and
     * gradients add up to the global batch's.  part_total 0: the batch is
     * whole (the default). */
    size_t part_first, part_total;
} ae_model;

/* The model's family. */
static inline const ae_family *ae_model_family(const ae_model *m) { return m->family; }

/* The forward pass takes each example's label: as an input (a conditional
 * family) or as the target (a classifier). */
static inline bool ae_model_takes_labels(const ae_model *m)
{
    return m->classes || m->label_classes;
}

/* Sets how many threads the numerics (BLAS) use; n <= 0 means the
 * OPENBLAS_NUM_THREADS environment variable when set, else all cores.
 * Returns the count in effect. */
int ae_threads_set(int n);

/* Builds the architecture of cfg->model for D inputs with workspace for
 * max_batch rows; parameters are zero until ae_model_init_weights or a
 * checkpoint fills them; scale = 1, shift = 0. */
ae_status ae_model_init(ae_model *m, const ae_config *cfg, size_t input_dim, size_t max_batch,
                        ae_error *err);
void ae_model_free(ae_model *m);

/* Draws the weights as model.init says (see ae_init in config.h). */
void ae_model_init_weights(ae_model *m, ae_rng *rng);

/* Forward pass on B <= max_batch rows of input x (already scaled) against
 * target (x itself, or the clean input of a denoising model); labels [B]
 * (cvae; else NULL).  With rng, z is sampled (and contractive probes are
 * drawn); with rng NULL, z = mu and stochastic penalties are skipped.
 * Fills the loss terms (batch means) and per-example terms. */
void ae_model_forward(ae_model *m, size_t B, const float *x, const float *target,
                      const int32_t *labels, ae_rng *rng, float beta, ae_loss *out);

/* The next forward and backward passes see rows [first, first + B) of a
 * global batch of total <= max_batch rows (see part_first); total 0 ends
 * that.  (Batch-level penalties, KL sparsity, have no such split.) */
void ae_model_set_part(ae_model *m, size_t first, size_t total);

/* Accumulates into m->grads the gradient of recon + kl_weight * kl + reg
 * for the last forward. */
void ae_model_backward(ae_model *m, float kl_weight);

/* One optimizer step with the gradients of the last backward (summed over
 * ranks): ae_optim_step, or while the encoder is frozen the head's
 * parameters alone (the encoder's weights, moments and gradients stay as
 * they are). */
void ae_model_step(ae_model *m, ae_optim *o);

/* Backward and an optimizer step in one pass: each layer's parameters are
 * updated as soon as its gradients are complete (a tied weight after its
 * last use), while they are still in cache.  Same bits as
 * ae_model_backward followed by ae_optim_step. */
void ae_model_backward_update(ae_model *m, float kl_weight, ae_optim *o);

/* mu [B x L] (the code for an ae, z1's mean for an hvae) and, when logvar is
 * not NULL, the log-variances (zeros for an ae).  labels: cvae only. */
void ae_model_encode(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                     float *logvar);

/* Decoded means [B x D] of codes z [B x L]: sigmoid(logits) for Bernoulli,
 * the output for Gaussian.  labels: cvae only.  Not for a classifier (no
 * decoder: the programs refuse one). */
void ae_model_decode(ae_model *m, size_t B, const float *z, const int32_t *labels, float *out);

/* A classifier's class probabilities p [B x label_classes] (each row sums
 * to 1) for B <= max_batch rows of scaled input x. */
void ae_model_predict(ae_model *m, size_t B, const float *x, float *p);

/* Importance sampling (the IWAE bound, eval): K draws z ~ q(z|x) for each
 * of B <= max_batch examples, each row's log-weight
 * log p(x, z...) - log q(z...|x) into lw [B x K] (example-major).  Needs a
 * variational family (and labels for a conditional one). */
ae_status ae_model_log_weights(ae_model *m, size_t B, const float *x, const int32_t *labels,
                               size_t K, ae_rng *rng, double *lw, ae_error *err);

/* After a forward pass with noise (rng given): each example's KL term [B],
 * as the ELBO counts it, and each latent dimension's share, summed over the
 * batch, added to kl_dim [L] and, for a hierarchical family, kl_dim2 [L2].
 * Variational families only. */
void ae_model_kl_terms(ae_model *m, size_t B, double *kl, double *kl_dim, double *kl_dim2);

/* Codes z [B x L] drawn from the model's prior with its standard deviation
 * scaled by temperature: N(0, T^2 I) for vae and cvae; for an hvae
 * z2 ~ N(0, T^2 I), then z1 ~ p(z1|z2) with its deviation scaled by T. */
void ae_model_prior_sample(ae_model *m, size_t B, ae_rng *rng, float temperature, float *z);

/* The width of the encoder's data input: D, or 2D with
 * model.missing_indicators (the values, then a 0/1 mask). */
size_t ae_model_encoder_width(const ae_model *m);

/* Where a dataset came from, for the messages of ae_model_check_data. */
typedef struct {
    const char *key;         /* how the user named the file: "--data", "data.test" */
    const char *path;        /* the file */
    const char *labels_path; /* its label file, or NULL when the labels are path's */
    const char *labels_hint; /* how to give labels, or NULL: "--labels FILE, or a CSV ..." */
    const char *model;       /* the model's file for the width message, or NULL */
    bool check_range;        /* check [0, 1] for a unit-range likelihood (the trainer
                              * checks it itself, across ranks and with data.binarize) */
} ae_data_ref;

/* The one check that ds fits m: its width, the labels of a conditional
 * family (required) or a classifier (optional: the trainer requires them;
 * every example's in [0, model.classes) when present), and the values a unit-range
 * likelihood needs (after the model's scaling).  Messages name the key and
 * the file (AE_ERR_INPUT). */
ae_status ae_model_check_data(const ae_model *m, const ae_dataset *ds, const ae_data_ref *ref,
                              ae_error *err);

/* Encodes rows idx[0..n) of ds (rows 0..n-1 when idx is NULL) in batches of
 * max_batch: mu [n x L] and, unless NULL, logvar [n x L], with the given
 * binarisation (dynamic draws from bin_rng).  Labels from ds for a
 * conditional family (checked by ae_model_check_data). */
ae_status ae_model_encode_rows(ae_model *m, const ae_dataset *ds, const size_t *idx, size_t n,
                               ae_binarize bin, ae_rng *bin_rng, float *mu, float *logvar,
                               ae_error *err);

/* The named parameter tensors, as checkpoints store them: encoder.N,
 * decoder.N (weight [out x in], bias [out]); a VAE head is split into
 * encoder.mu and encoder.logvar; hvae adds encoder2.N, prior.N; a tied
 * decoder layer has only its bias (its weight is the encoder's).
 * Fills up to max views, returns the count. */
#define AE_MAX_PARAM_VIEWS (8 * (AE_MAX_LAYERS + 1) + 8)
typedef struct {
    char name[64];
    size_t offset;   /* into params */
    size_t rows, cols; /* cols == 0 for a vector */
} ae_param_view;
size_t ae_model_param_views(const ae_model *m, ae_param_view *views, size_t max);

#endif
