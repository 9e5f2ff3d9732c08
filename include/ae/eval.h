/* Evaluation of a trained model on a dataset: the ELBO and its terms, the
 * importance-weighted bound on -log p(x), KL per latent dimension and active
 * units, reconstruction errors, a linear probe and k-means on the codes, and
 * a PCA baseline.  Every figure is in nats (or squared units) per example,
 * as docs/eval.md defines them.  Nothing is printed.
 *
 * ae_eval_result owns its arrays; ae_eval_result_free releases them.  The
 * datasets and the model stay the caller's. */
#ifndef AE_EVAL_H
#define AE_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ae/config.h"
#include "ae/data.h"
#include "ae/model.h"
#include "ae/noise.h"
#include "ae/rng.h"
#include "ae/status.h"

#define AE_ACTIVE_THRESHOLD 0.01  /* Burda et al. (2016): Var_x E[z_j|x] above this */
#define AE_PROBE_SPLIT 0.8        /* the first 80% of the examples train the probe */
#define AE_PROBE_ITERS 500        /* full-batch Adam steps of the probe */
#define AE_PROBE_L2 1e-4          /* the probe's weight penalty, (l2/2) ||W||^2 */
#define AE_KMEANS_RESTARTS 10     /* k-means++ starts; the lowest inertia wins */
#define AE_KMEANS_MAX_ITER 300    /* Lloyd iterations per start at most */
#define AE_MAX_CLASSES 1000       /* probe and k-means: at most this many label values */

/* Where an evaluation is: stage "pca" (fitting; done 0 of 1), "evaluate"
 * (done of total examples), then "probe" and "kmeans" (1 of 1 when done). */
typedef void (*ae_eval_progress_fn)(void *ctx, const char *stage, size_t done, size_t total);

typedef struct {
    size_t iw_samples;            /* K of the IWAE bound; 0 skips it */
    uint64_t seed;                /* samples of z, dynamic binarisation, k-means++ */
    ae_binarize binarize;         /* as the model was trained (data.binarize) */
    const ae_dataset *probe_train;/* train the probe here (with labels); NULL: split the data */
    const ae_dataset *pca_train;  /* fit PCA here; NULL: on the data */
    bool skip_pca;
    /* corrupt the encoder's (and PCA's) input with this noise, drawn from
     * seed's own stream, while every reconstruction term and error is
     * measured against the clean input (aeeval --corrupt); type none: off.
     * The IWAE bound is not computed then. */
    ae_noise_spec corrupt;
    ae_eval_progress_fn progress; /* optional */
    void *progress_ctx;
} ae_eval_options;

typedef struct {
    size_t n, latent, latent2;
    bool has_elbo;                /* vae, cvae, hvae */
    bool has_iwae, has_bce, has_labels, has_pca;
    bool corrupted;               /* the inputs were corrupted (opt->corrupt) */
    /* means over the examples */
    double neg_elbo, neg_elbo_mu; /* recon + kl with z sampled / z = mu (beta = 1) */
    double recon, recon_mu;       /* -log p(x|z), z sampled / z = mu */
    double kl;                    /* the rest of the negative ELBO, z sampled (ae_eval_elbo) */
    double kl_mu;                 /* the model's KL terms at z = mu (= kl for a vae, cvae) */
    double kl2;                   /* hvae: the KL(q(z2|z1) || N(0, I)) part of kl */
    double iwae_nll;              /* -log p(x) estimated with iw_samples importance samples */
    double sse, bce;              /* of the decoded mean at z = mu */
    double pca_sse;               /* of the PCA reconstruction with pca_components */
    size_t pca_components;
    double pca_explained;         /* variance fraction the components keep (on the fit data) */
    size_t active_units, active_units2;
    double *kl_dim;               /* [latent] mean share of kl per dimension (hvae: the z1 term) */
    double *kl_dim2;              /* [latent2] hvae: of z2; else NULL */
    double *code_var;             /* [latent] variance over the data of E[z|x] (ae: the code) */
    double *code_var2;            /* [latent2] hvae: of mu2(mu1); else NULL */
    /* labels */
    size_t classes;               /* distinct label values of the data: k of k-means */
    bool has_probe, has_kmeans;   /* false with fewer than 2 classes */
    double probe_accuracy;
    size_t probe_train_n, probe_test_n;
    double kmeans_purity, kmeans_nmi, kmeans_inertia;
    /* per example [n], for anomaly scores */
    double *ex_sse;               /* squared error of the decoded mean */
    double *ex_neg_elbo;          /* sampled z; NULL for an ae */
    double *ex_iwae;              /* NULL unless has_iwae */
    /* seconds spent per stage */
    double sec_elbo, sec_iwae, sec_pca, sec_probe, sec_kmeans;
} ae_eval_result;

/* Evaluates m on ds (scaled by the model's own scaling; a cvae takes ds's
 * labels, which must be in [0, classes)).  Labels on ds enable the probe and
 * k-means; opt->probe_train must then carry labels too. */
ae_status ae_eval_run(ae_model *m, const ae_dataset *ds, const ae_eval_options *opt,
                      ae_eval_result *out, ae_error *err);

void ae_eval_result_free(ae_eval_result *r);

/* ---------------------------------------------------------------- pieces */

/* log sum_i exp(v[i]), computed around the largest value so that huge
 * negative (or positive) entries neither underflow to log(0) nor overflow;
 * -inf for n == 0 or when every entry is -inf. */
double ae_logsumexp(const double *v, size_t n);

/* One draw z ~ q(z|x) for each row of x [B x D] (scaled inputs; labels [B]
 * for a cvae, else NULL): recon [B] = -log p(x|z) and kl [B], the rest of
 * the negative ELBO, so recon + kl is an unbiased estimate of it.  vae and
 * cvae: kl = KL(q(z|x) || N(0, I)) in closed form.  hvae: kl = log q(z1|x)
 * - log p(z1|z2) at the drawn (z1, z2), plus KL(q(z2|z1) || N(0, I)) in
 * closed form.  Adds each dimension's share of kl to kl_dim [L] (and, hvae,
 * kl_dim2 [L2]).  Overwrites the model's workspace. */
void ae_eval_elbo(ae_model *m, size_t B, const float *x, const int32_t *labels, ae_rng *rng,
                  double *recon, double *kl, double *kl_dim, double *kl_dim2);

/* Per example of x [B x D] (scaled model inputs): the importance-weighted
 * estimate of -log p(x) with K samples,
 *   -log (1/K) sum_k p(x, z_k) / q(z_k | x),  z_k ~ q(z | x),
 * for vae, cvae (labels [B]) and hvae (z = (z1, z2)).  Encodes once and
 * decodes K times, in chunks of the model's max_batch rows; nll [B]. */
ae_status ae_eval_iwae(ae_model *m, size_t B, const float *x, const int32_t *labels, size_t K,
                       ae_rng *rng, double *nll, ae_error *err);

/* Per example: sse [B] = sum_j (x - y)^2 over rows of x, y [B x D],
 * leaving out the missing values of x (NaN). */
void ae_eval_sse(size_t B, size_t D, const float *x, const float *y, double *sse);

/* Population variance over n rows of each of the d columns of codes
 * [n x d] into var [d]; returns how many exceed threshold. */
size_t ae_active_units(const float *codes, size_t n, size_t d, double threshold, double *var);

/* Replaces labels y [n] by their rank among the distinct values (ascending),
 * 0..classes-1.  AE_ERR_INPUT when there are more than max_classes values. */
ae_status ae_labels_compact(int32_t *y, size_t n, size_t max_classes, size_t *classes,
                            ae_error *err);

/* Multinomial logistic regression on features standardised by the training
 * rows' mean and deviation: minimises mean cross-entropy + (l2/2) ||W||^2 by
 * `iters` full-batch Adam steps (lr 0.05) from zero weights, so the result
 * is deterministic.  Labels in [0, classes).  *accuracy: the fraction of the
 * test rows whose most probable class is their label. */
ae_status ae_probe_accuracy(const float *xtr, const int32_t *ytr, size_t ntr, const float *xte,
                            const int32_t *yte, size_t nte, size_t d, size_t classes, double l2,
                            int iters, double *accuracy, ae_error *err);

/* k-means of x [n x d] into k clusters: k-means++ seeding (D^2 sampling
 * from rng), Lloyd iterations until no assignment changes or max_iter, the
 * best of `restarts` starts by inertia (sum of squared distances to the
 * centres).  An emptied cluster takes the point farthest from its centre.
 * assign [n] in [0, k); inertia optional. */
ae_status ae_kmeans(const float *x, size_t n, size_t d, size_t k, int restarts, int max_iter,
                    ae_rng *rng, int32_t *assign, double *inertia, ae_error *err);

/* Purity = (1/n) sum_clusters max_class |cluster & class|, and normalised
 * mutual information with the arithmetic mean, NMI = I(C; Y) / ((H(C) +
 * H(Y)) / 2) (1 when both partitions are a single block).  cluster [n] in
 * [0, k), label [n] in [0, classes). */
ae_status ae_cluster_scores(const int32_t *cluster, size_t k, const int32_t *label,
                            size_t classes, size_t n, double *purity, double *nmi,
                            ae_error *err);

#endif
