/* The seam of the model families, internal to src/model/.
 *
 * A family (ae, vae, cvae, hvae, iwae, classifier) is one file, src/model/<name>.c,
 * that defines an ae_family (its traits, in ae/model.h, and the ops below)
 * and one line in the table of src/model/families.c.  The rest of the
 * library and the programs ask the family through ae_model_* and the
 * traits; nothing outside this folder compares model.type.
 *
 * The shared pieces every family builds from (stacks, the decoder and its
 * likelihood, the Gaussian posterior) are declared here and defined in
 * model.c and posterior.c. */
#ifndef AE_MODEL_FAMILY_H
#define AE_MODEL_FAMILY_H

#include "ae/model.h"
#include "nn/layers.h"

struct ae_family_ops {
    /* Building, in this order: configure sets the family's fields of t from
     * the spec (classes, latent2, regularisers, iw_samples: K decoder rows
     * per example in training); the shared code adds the encoder's hidden
     * layers; add_head the encoder's last layer (its input `in` wide); the
     * shared code the decoder (not for a classifier); add_stacks (may be
     * NULL) any further stacks (a classifier's head, in dec). */
    void (*configure)(ae_model *t, const ae_config *cfg);
    void (*add_head)(ae_model *t, const ae_config *cfg, size_t in, size_t *n_params);
    void (*add_stacks)(ae_model *t, const ae_config *cfg, size_t *n_params);
    /* Weight initialisation beyond every layer's draw (may be NULL). */
    void (*init_weights)(ae_model *m);
    /* The passes: see ae_model_forward and ae_model_backward. */
    void (*forward)(ae_model *m, size_t B, const float *x, const float *target,
                    const int32_t *labels, ae_rng *rng, float beta, ae_loss *out);
    void (*backward)(ae_model *m, float kl_weight, const ae_layer_done *done);
    /* See ae_model_encode. */
    void (*encode)(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                   float *logvar);
    /* See ae_model_prior_sample; NULL for a family without a prior. */
    void (*prior_sample)(ae_model *m, size_t b, ae_rng *rng, float temperature, float *z);
    /* Importance sampling: to lw [rows] (holding log N(z; mu, sigma) of the
     * draw z [rows x L] from q(z|x) negated) adds log p(z) and whatever further
     * latents the family draws given z (hvae: z2 ~ q(z2|z1), adding
     * log p(z1|z2) + log p(z2) - log q(z2|z1)); rows <= max_batch.  NULL for
     * a family that is not variational. */
    void (*log_prior)(ae_model *m, size_t rows, const float *z, ae_rng *rng, double *lw);
    /* After a forward pass with noise: each example's KL term kl [B] as the
     * ELBO counts it, and the sum over the batch of each latent
     * dimension's share added to kl_dim [L] and (hierarchical) kl_dim2 [L2].
     * NULL for a family that is not variational. */
    void (*kl_terms)(ae_model *m, size_t B, double *kl, double *kl_dim, double *kl_dim2);
    /* See ae_model_predict; NULL for a family that is not a classifier. */
    void (*predict)(ae_model *m, size_t B, const float *x, float *p);
    /* The named tensors (see ae_model_param_views). */
    size_t (*param_views)(const ae_model *m, ae_param_view *views, size_t max);
};

/* ------------------------------------------------ shared pieces (model.c) */

/* Appends a dense layer in -> out to the stack, its weight and bias taken
 * from the parameter block at *n_params (advanced). */
void ae_stack_add(ae_mlp *s, size_t in, size_t out, ae_activation act, size_t *n_params);

/* Views of one stack named <prefix>.N.weight / .bias; a Gaussian head
 * (split != 0: rows [mu | logvar] of `split` each) as <prefix>.mu and
 * <prefix>.logvar.  Returns the new count k. */
size_t ae_stack_views(const ae_mlp *s, const char *prefix, size_t split, ae_param_view *v,
                      size_t k, size_t max);

/* The rows a batch mean divides by: the global batch's when this pass is a
 * slice of one (ae_model_set_part). */
size_t ae_model_norm_rows(const ae_model *m, size_t B);

/* B rows of `width` standard normals into buf (room for the global batch's
 * rows): for a slice, the whole batch's draws, of which the slice's rows are
 * kept. */
void ae_model_draw_normals(const ae_model *m, ae_rng *rng, float *buf, size_t B, size_t width);

/* The decoder on codes [B x L] and the likelihood of target under its
 * outputs: returns the batch sum of -log p(target|code), fills ex_recon and
 * leaves d loss / d outputs (scaled by 1/norm_rows) in scratch[0]. */
double ae_model_decode_loss(ae_model *m, size_t B, const float *code, const float *target,
                            const int32_t *labels);

/* Fills out from batch sums (loss = recon + beta * kl + reg) and remembers
 * the inputs for backward. */
void ae_model_finish_forward(ae_model *m, size_t B, const float *x, const int32_t *labels,
                             double recon, double kl, double kl2, double reg, float beta,
                             ae_loss *out);

/* The encoder's input [B x ae_model_encoder_width] for rows x [B x D]
 * (m->xfill, or x itself when nothing changes): with miss NULL, each NaN of
 * x is a missing value and takes the fill (0 without one); with miss
 * [B x D], the cells it marks are missing and keep x's value (a completion
 * being refined).  With indicators, 1 marks the missing cells.  NULL when
 * there is no memory for the copy. */
const float *ae_model_encoder_input(ae_model *m, size_t B, const float *x,
                                    const unsigned char *miss);

/* ------------------------------- the Gaussian posterior (posterior.c) */

/* A log-variance the clamp holds (passes no gradient). */
bool ae_logvar_clamped(float lv);

/* z = mu + exp(lv/2) * eps from rows [mu | logvar] of width 2L; eps drawn
 * from rng (ae_model_draw_normals), or 0 when rng is NULL. */
void ae_reparameterise(const ae_model *m, const float *head, size_t B, size_t L, ae_rng *rng,
                       float *eps, float *z);

/* dhead [B x 2L] from dz through the reparameterisation, plus w/N times the
 * gradient of KL(q || N(0, I)); clamped log-variances get none. */
void ae_reparam_backward(const float *head, const float *eps, const float *dz, size_t B,
                         size_t N, size_t L, float w, float *dhead);

/* Adds each dimension's KL(q || p) summed over B rows to acc [L]: q rows
 * [mu | logvar] of width 2L, p likewise or NULL for N(0, I). */
void ae_kl_per_dim(const float *q, const float *p, size_t B, size_t L, double *acc);

/* The encoder's Gaussian head: runs it, clamps the log-variances, copies mu
 * (and logvar unless NULL) out as [B x L] each. */
void ae_gaussian_encode(ae_model *m, size_t B, const float *x, const int32_t *labels, float *mu,
                        float *logvar);

/* z ~ N(0, T^2 I) into z [b x L]. */
void ae_standard_prior_sample(ae_model *m, size_t b, ae_rng *rng, float temperature, float *z);

/* log N(z; 0, I) of each row of z [rows x L] added to lw. */
void ae_standard_log_prior(ae_model *m, size_t rows, const float *z, ae_rng *rng, double *lw);

/* The analytic KL(q(z|x) || N(0, I)) of the last forward: kl [B] and kl_dim. */
void ae_standard_kl_terms(ae_model *m, size_t B, double *kl, double *kl_dim, double *kl_dim2);

/* ------------------------------------------------------- the families */

extern const ae_family ae_family_ae;   /* ae.c */
extern const ae_family ae_family_vae;  /* vae.c */
extern const ae_family ae_family_cvae; /* vae.c */
extern const ae_family ae_family_hvae; /* hvae.c */
extern const ae_family ae_family_iwae; /* iwae.c */
extern const ae_family ae_family_classifier; /* classifier.c */

/* The vae's pieces, which cvae and iwae share (vae.c). */
void ae_vae_add_head(ae_model *t, const ae_config *cfg, size_t in, size_t *n_params);
void ae_vae_forward(ae_model *m, size_t B, const float *x, const float *target,
                    const int32_t *labels, ae_rng *rng, float beta, ae_loss *out);
void ae_vae_backward(ae_model *m, float kl_weight, const ae_layer_done *done);
size_t ae_vae_param_views(const ae_model *m, ae_param_view *views, size_t max);

#endif
