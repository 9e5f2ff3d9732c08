/* An autoencoder or VAE: a stack of dense layers over one contiguous
 * parameter block, with workspace for batches up to max_batch.
 *
 * Encoder: x [B x D] -> hidden layers -> head.  For a VAE the head has 2L
 * outputs per row: mu in the first L columns, log-variance in the last L
 * (clamped to [AE_LOGVAR_MIN, AE_LOGVAR_MAX]).  For an AE the head is the
 * L-dimensional code.  Decoder: z [B x L] -> hidden layers -> D outputs
 * (logits for the Bernoulli likelihood, means for the Gaussian one).
 *
 * ae_model owns its parameter, gradient, scaling and workspace buffers;
 * ae_model_free releases them.  Inputs passed to ae_model_forward must stay
 * valid until the matching ae_model_backward. */
#ifndef AE_MODEL_H
#define AE_MODEL_H

#include <stddef.h>

#include "ae/config.h"
#include "ae/rng.h"
#include "ae/status.h"

#define AE_LOGVAR_MIN (-30.0f)
#define AE_LOGVAR_MAX 20.0f

typedef struct {
    size_t in, out;
    size_t w_off, b_off;  /* offsets into params/grads */
    ae_activation act;
} ae_layer;

typedef struct {
    double loss;   /* batch mean of recon + beta * kl */
    double recon;  /* batch mean of the reconstruction NLL, nats */
    double kl;     /* batch mean of KL(q(z|x) || p(z)), nats (0 for an AE) */
} ae_loss;

typedef struct {
    ae_model_type type;
    ae_likelihood likelihood;
    ae_init init;
    size_t input_dim;            /* D */
    size_t latent;               /* L */
    size_t img_h, img_w;         /* picture shape of one example, 0 when unknown */

    size_t n_params;
    float *params;               /* [n_params] every weight and bias */
    float *grads;                /* [n_params] same layout */
    float *scale, *shift;        /* [D] input = raw * scale + shift */

    int n_enc, n_dec;            /* layers, heads/outputs included */
    ae_layer enc[AE_MAX_LAYERS + 1];
    ae_layer dec[AE_MAX_LAYERS + 1];

    /* workspace, sized for max_batch rows */
    size_t max_batch;
    float *enc_out[AE_MAX_LAYERS + 1]; /* [B x enc[i].out] */
    float *dec_out[AE_MAX_LAYERS + 1]; /* [B x dec[i].out]; last = logits or means */
    float *eps;                  /* [B x L] noise of the reparameterisation */
    float *z;                    /* [B x L] (VAE; an AE's code is its head output) */
    float *scratch[2];           /* [B x max width] gradients flowing backwards */
    double *ex_recon, *ex_kl;    /* [B] per-example terms of the last forward */

    /* state of the last forward, for backward */
    size_t last_batch;
    const float *last_input;
    float last_beta;
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
 * target (usually x itself).  With eps_rng, z = mu + sigma*eps with fresh
 * eps; with eps_rng NULL, z = mu.  Fills the loss terms (batch means) and
 * per-example terms, and prepares the output gradient for backward. */
void ae_model_forward(ae_model *m, size_t B, const float *x, const float *target,
                      ae_rng *eps_rng, float beta, ae_loss *out);

/* Accumulates d(loss)/d(params) of the last forward into m->grads. */
void ae_model_backward(ae_model *m);

/* mu [B x L] (the code for an AE) and, when logvar is not NULL, the
 * log-variances [B x L] (zeros for an AE). */
void ae_model_encode(ae_model *m, size_t B, const float *x, float *mu, float *logvar);

/* Decoded means [B x D]: sigmoid(logits) for Bernoulli, the output for Gaussian. */
void ae_model_decode(ae_model *m, size_t B, const float *z, float *out);

/* The named parameter tensors, as checkpoints store them: encoder.N and
 * decoder.N weight [out x in] and bias [out], a VAE head split into
 * encoder.mu and encoder.logvar.  Fills up to max views, returns the count. */
#define AE_MAX_PARAM_VIEWS (4 * (AE_MAX_LAYERS + 1) + 4)
typedef struct {
    char name[64];
    size_t offset;   /* into params */
    size_t rows, cols; /* cols == 0 for a vector */
} ae_param_view;
size_t ae_model_param_views(const ae_model *m, ae_param_view *views, size_t max);

#endif
