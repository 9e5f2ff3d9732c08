/* Autoencoders and VAEs built from MLP stacks over one contiguous parameter
 * block, with workspace for batches up to max_batch.
 *
 *   ae    x -> enc -> code [B x L] (model.code_activation, optional top-k)
 *         -> dec -> D outputs
 *   vae   x -> enc -> [mu | logvar] [B x 2L]; z = mu + exp(logvar/2)*eps -> dec
 *   cvae  as vae, with the one-hot label appended to the inputs of enc and dec
 *   hvae  x -> enc -> q(z1|x); z1 -> enc2 -> q(z2|z1); z2 -> prior -> p(z1|z2);
 *         z1 -> dec
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
#include "ae/optim.h"
#include "ae/rng.h"
#include "ae/status.h"

#define AE_LOGVAR_MIN (-30.0f)
#define AE_LOGVAR_MAX 20.0f

/* A dense layer: y = act(x W^T + b), a view into the parameter block.
 * W is [out x in] at w_off, unless `transposed`: then the layer reuses a
 * weight stored [in x out] (a tied decoder layer and its encoder twin).
 * With classes > 0, the last `classes` of the `in` inputs are a one-hot
 * label: callers pass the label index instead of materialising it. */
typedef struct {
    size_t in, out;
    size_t w_off, b_off;
    ae_activation act;
    size_t classes;
    bool transposed;
} ae_layer;

/* A stack of layers and their outputs. */
typedef struct {
    int n;
    ae_layer layer[AE_MAX_LAYERS + 1];
    float *out[AE_MAX_LAYERS + 1];   /* [B x layer[i].out] */
} ae_mlp;

typedef struct {
    double loss;   /* batch mean of recon + beta * kl + reg */
    double recon;  /* reconstruction NLL, nats per example */
    double kl;     /* KL terms, nats per example (all of them for an hvae) */
    double kl2;    /* hvae: the KL(q(z2|z1) || N(0, I)) part of kl; else 0 */
    double reg;    /* sparsity and contractive penalties, per example */
} ae_loss;

typedef struct {
    ae_model_type type;
    ae_likelihood likelihood;
    ae_likelihood_params lik_params; /* model.gaussian_std */
    ae_init init;
    size_t input_dim;            /* D */
    size_t latent;               /* L (z1 for an hvae) */
    size_t latent2;              /* hvae: z2 */
    size_t classes;              /* cvae: label values */
    size_t img_h, img_w;         /* picture shape of one example, 0 when unknown */

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

    ae_mlp enc, dec;             /* every model */
    ae_mlp enc2, prior;          /* hvae only */

    /* workspace, sized for max_batch rows */
    size_t max_batch, widest;
    float *eps, *z;              /* [B x L] reparameterisation noise and sample */
    float *eps2, *z2;            /* [B x L2] hvae */
    unsigned char *kept;         /* [B x L] top-k selection */
    float *scratch[4];           /* [B x widest] gradients flowing backwards */
    float *tan_v;                /* contractive: [B x D] probe */
    float **tan_u, **tan_t;      /* contractive: per encoder layer [B x out] */
    float **extra_dz;            /* contractive: per encoder layer [B x out] */
    double *ex_recon, *ex_kl, *ex_kl2, *ex_reg; /* [B] per-example terms of the last forward */

    /* state of the last forward, for backward */
    size_t last_batch;
    const float *last_input;
    const int32_t *last_labels;
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
 * the output for Gaussian.  labels: cvae only. */
void ae_model_decode(ae_model *m, size_t B, const float *z, const int32_t *labels, float *out);

/* Codes z [B x L] drawn from the model's prior with its standard deviation
 * scaled by temperature: N(0, T^2 I) for vae and cvae; for an hvae
 * z2 ~ N(0, T^2 I), then z1 ~ p(z1|z2) with its deviation scaled by T. */
void ae_model_prior_sample(ae_model *m, size_t B, ae_rng *rng, float temperature, float *z);

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
