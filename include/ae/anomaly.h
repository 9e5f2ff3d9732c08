/* Anomaly scores of a trained model (aeeval --score, --contamination,
 * --threshold, --fit-threshold, --per-feature; docs/anomaly.md).  Every
 * score is "higher = more anomalous":
 *
 *   recon       squared error of the decoded mean at z = mu, sum_j (x_j - y_j)^2
 *   elbo        the negative ELBO, one z ~ q(z|x), in nats (variational families)
 *   iwae        the IWAE bound on -log p(x), K samples, in nats (variational)
 *   elbo-ic     elbo - L(x), iwae-ic  iwae - L(x): the input-complexity
 *               correction of Serra et al. (2020), L(x) the length of x,
 *               quantised to 8 bits, compressed with deflate, in nats; a
 *               likelihood score alone ranks simple inputs as normal
 *               (Nalisnick et al. 2019), the difference does not
 *   maha        squared Mahalanobis distance of the code E[z|x] to the codes
 *               of a reference set, (z - m)^T S^-1 (z - m)
 *   zerr        the squared error standardised per feature by the reference
 *               set's mean squared error of that feature, sum_j e_j / s_j^2
 *
 * The reference set (ae_anomaly_fit) is the data a user calls normal: the
 * training file of --fit-threshold, else the scored data itself.
 *
 * ae_anomaly_ref and ae_anomaly_data own their arrays; the _free functions
 * release them (and accept zeroed structs).  Model and datasets stay the
 * caller's.  Nothing is printed. */
#ifndef AE_ANOMALY_H
#define AE_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ae/config.h"
#include "ae/data.h"
#include "ae/model.h"
#include "ae/status.h"

typedef enum {
    AE_SCORE_RECON,
    AE_SCORE_ELBO,
    AE_SCORE_IWAE,
    AE_SCORE_ELBO_IC,
    AE_SCORE_IWAE_IC,
    AE_SCORE_MAHA,
    AE_SCORE_ZERR,
    AE_SCORE_COUNT
} ae_score_kind;

/* The default score, from bench/anomaly.sh (docs/anomaly.md): within 0.02
 * of the best mean AUROC on one-class MNIST and, unlike the squared error
 * and the bounds, far from chance on simple made-up inputs; every family
 * has it. */
#define AE_SCORE_DEFAULT AE_SCORE_ZERR
/* PyOD's default: without --threshold, flag this fraction (of the scored
 * data, or of --fit-threshold's training data). */
#define AE_CONTAMINATION_DEFAULT 0.1

const char *ae_score_name(ae_score_kind k);
/* The kind named s; false when there is none. */
bool ae_score_parse(const char *s, ae_score_kind *k);
/* Needs the ELBO (elbo, elbo-ic) or the IWAE bound (iwae, iwae-ic). */
bool ae_score_needs_elbo(ae_score_kind k);
bool ae_score_needs_iwae(ae_score_kind k);

typedef struct {
    size_t iw_samples;     /* K of the IWAE bound; 0: no iwae, iwae-ic */
    uint64_t seed;         /* streams as ae_eval_run's: the same seed, the same bounds */
    ae_binarize binarize;  /* as the model was trained */
    bool bounds;           /* compute elbo (and iwae when iw_samples > 0); variational only */
    bool keep_features;    /* keep each example's per-feature squared error */
    /* [n] bounds ae_eval_run computed on the same data with the same seed
     * (ex_neg_elbo, ex_iwae): copied instead of computed again; or NULL */
    const double *given_elbo, *given_iwae;
} ae_anomaly_options;

/* Statistics of the reference set. */
typedef struct {
    size_t n, L, D;
    double *code_mean;  /* [L] */
    double *code_prec;  /* [L x L] inverse of the codes' covariance (+ a small ridge) */
    double *feat_var;   /* [D] mean squared error per feature (+ a small floor) */
} ae_anomaly_ref;

typedef struct {
    size_t n, D;
    double *score[AE_SCORE_COUNT]; /* [n] each, NULL where not computed */
    double *complexity;            /* [n] L(x) in nats */
    float *features;               /* [n x D] per-feature squared error, or NULL */
} ae_anomaly_data;

/* Reference statistics from ds (the codes at z = mu and the reconstruction
 * errors of the decoded mean). */
ae_status ae_anomaly_fit(ae_model *m, const ae_dataset *ds, const ae_anomaly_options *opt,
                         ae_anomaly_ref *ref, ae_error *err);

/* Every score opt asks for of each example of ds; maha and zerr against
 * ref.  elbo, iwae (and their -ic) only with opt->bounds. */
ae_status ae_anomaly_score(ae_model *m, const ae_dataset *ds, const ae_anomaly_ref *ref,
                           const ae_anomaly_options *opt, ae_anomaly_data *out, ae_error *err);

/* The q quantile of v [n] with linear interpolation between order
 * statistics (numpy's default): sorted s, p = q (n - 1), s[floor p] +
 * (p - floor p) (s[floor p + 1] - s[floor p]).  NaN entries are left out;
 * NaN when none is left (or no memory for the sorted copy). */
double ae_quantile(const double *v, size_t n, double q);

/* L(x): row x [D] of scaled values, quantised to 8 bits over the row's own
 * range, compressed by deflate at level 9, in nats (8 ln 2 per byte). */
ae_status ae_input_complexity(const float *x, size_t D, double *nats, ae_error *err);

void ae_anomaly_ref_free(ae_anomaly_ref *r);
void ae_anomaly_data_free(ae_anomaly_data *d);

#endif
