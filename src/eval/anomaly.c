/* Anomaly scores (ae/anomaly.h): one pass over a dataset in batches of the
 * model's max_batch rows computes the codes, the reconstruction errors per
 * feature, the input complexity and, when asked, the bounds; the reference
 * statistics come from one such pass over the normal data. */
#include "ae/anomaly.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "ae/eval.h"
#include "ae/likelihood.h"
#include "ae/rng.h"

/* Ridge added to the codes' covariance, relative to its mean variance, so
 * a dead latent dimension (zero variance) does not make S singular. */
#define MAHA_RIDGE 1e-6
/* Floor added to each feature's mean squared error, relative to the mean
 * over the features: a feature the reference always reconstructs exactly
 * (an MNIST border pixel) would otherwise weigh without bound. */
#define ZERR_FLOOR 0.1

static const char *const score_names[AE_SCORE_COUNT] = {"recon",   "elbo", "iwae", "elbo-ic",
                                                        "iwae-ic", "maha", "zerr"};

const char *ae_score_name(ae_score_kind k)
{
    return k < AE_SCORE_COUNT ? score_names[k] : "?";
}

bool ae_score_parse(const char *s, ae_score_kind *k)
{
    for (int i = 0; i < AE_SCORE_COUNT; i++)
        if (!strcmp(s, score_names[i])) {
            *k = (ae_score_kind)i;
            return true;
        }
    return false;
}

bool ae_score_needs_elbo(ae_score_kind k)
{
    return k == AE_SCORE_ELBO || k == AE_SCORE_ELBO_IC;
}

bool ae_score_needs_iwae(ae_score_kind k)
{
    return k == AE_SCORE_IWAE || k == AE_SCORE_IWAE_IC;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ae_quantile(const double *v, size_t n, double q)
{
    double *s = malloc((n ? n : 1) * sizeof(double)); /* [n] the finite-or-inf entries, sorted */
    if (!s)
        return NAN;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            s[k++] = v[i];
    double t = NAN;
    if (k > 0) {
        qsort(s, k, sizeof(double), cmp_double);
        double p = q * (double)(k - 1);
        size_t lo = (size_t)floor(p);
        lo = lo > k - 1 ? k - 1 : lo;
        t = lo + 1 < k ? s[lo] + (p - (double)lo) * (s[lo + 1] - s[lo]) : s[lo];
    }
    free(s);
    return t;
}

ae_status ae_input_complexity(const float *x, size_t D, double *nats, ae_error *err)
{
    unsigned char *q = malloc(D ? D : 1); /* [D] the row at 8 bits */
    if (!q) {
        ae_error_set(err, "input complexity: out of memory for %zu features", D);
        return AE_ERR_NOMEM;
    }
    float lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < D; j++)
        if (x[j] == x[j]) {
            lo = x[j] < lo ? x[j] : lo;
            hi = x[j] > hi ? x[j] : hi;
        }
    for (size_t j = 0; j < D; j++) {
        /* a missing value (NaN) and a constant row quantise to 0 */
        double u = hi > lo && x[j] == x[j] ? ((double)x[j] - lo) / ((double)hi - lo) : 0.0;
        q[j] = (unsigned char)lround(255.0 * u);
    }
    size_t bytes = 0;
    ae_status st = ae_deflate_size(q, D, &bytes, err);
    free(q);
    if (st == AE_OK)
        *nats = 8.0 * log(2.0) * (double)bytes;
    return st;
}

/* ------------------------------------------------------------ one pass */

typedef struct {
    float *x;       /* [MB x D] scaled inputs */
    float *y;       /* [MB x D] decoded means at z = mu */
    float *mu;      /* [MB x L] codes */
    float *e;       /* [MB x D] squared errors per feature */
    double *kl;     /* [MB] */
    double *kl_dim; /* [L], [L2]: ae_eval_elbo adds to them; unused here */
    double *kl_dim2;
} pass_t;

static void pass_free(pass_t *p)
{
    free(p->x);
    free(p->y);
    free(p->mu);
    free(p->e);
    free(p->kl);
    free(p->kl_dim);
    free(p->kl_dim2);
}

static ae_status pass_init(pass_t *p, const ae_model *m)
{
    const size_t MB = m->max_batch, D = m->input_dim, L = m->latent;
    memset(p, 0, sizeof *p);
    p->x = malloc(MB * D * sizeof(float));
    p->y = malloc(MB * D * sizeof(float));
    p->e = malloc(MB * D * sizeof(float));
    p->mu = malloc(MB * L * sizeof(float));
    p->kl = malloc(MB * sizeof(double));
    p->kl_dim = calloc(L, sizeof(double));
    p->kl_dim2 = calloc(m->latent2 ? m->latent2 : 1, sizeof(double));
    if (!p->x || !p->y || !p->e || !p->mu || !p->kl || !p->kl_dim || !p->kl_dim2) {
        pass_free(p);
        return AE_ERR_NOMEM;
    }
    return AE_OK;
}

/* Codes (p->mu) and per-feature squared errors (p->e) of rows [i, i + b)
 * already gathered into p->x. */
static void pass_recon(ae_model *m, pass_t *p, size_t b, const int32_t *lab)
{
    const size_t D = m->input_dim;
    ae_model_encode(m, b, p->x, lab, p->mu, NULL);
    ae_model_decode(m, b, p->mu, lab, p->y);
    for (size_t q = 0; q < b * D; q++) {
        float d = p->x[q] - p->y[q];
        p->e[q] = d == d ? d * d : 0.0f; /* a missing input (NaN) counts for nothing */
    }
}

static bool needs_labels(const ae_model *m, const ae_dataset *ds, ae_error *err)
{
    if (m->classes && !ds->labels) {
        ae_error_set(err, "anomaly scores: a conditional model needs the examples' labels");
        return true;
    }
    return false;
}

/* Cholesky factor of the symmetric positive definite a [n x n] in place
 * (lower triangle), then a = a^-1 from it; false when not positive definite. */
static bool spd_inverse(double *a, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double s = a[j * n + j];
        for (size_t k = 0; k < j; k++)
            s -= a[j * n + k] * a[j * n + k];
        if (!(s > 0))
            return false;
        a[j * n + j] = sqrt(s);
        for (size_t i = j + 1; i < n; i++) {
            double t = a[i * n + j];
            for (size_t k = 0; k < j; k++)
                t -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = t / a[j * n + j];
        }
    }
    /* a^-1 = C^-T C^-1: invert the triangle C, then multiply */
    double *c = malloc(n * n * sizeof(double)); /* [n x n] C^-1, lower */
    if (!c)
        return false;
    memset(c, 0, n * n * sizeof(double));
    for (size_t j = 0; j < n; j++) {
        c[j * n + j] = 1.0 / a[j * n + j];
        for (size_t i = j + 1; i < n; i++) {
            double t = 0.0;
            for (size_t k = j; k < i; k++)
                t -= a[i * n + k] * c[k * n + j];
            c[i * n + j] = t / a[i * n + i];
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double t = 0.0;
            for (size_t k = i > j ? i : j; k < n; k++)
                t += c[k * n + i] * c[k * n + j];
            a[i * n + j] = t;
        }
    free(c);
    return true;
}

ae_status ae_anomaly_fit(ae_model *m, const ae_dataset *ds, const ae_anomaly_options *opt,
                         ae_anomaly_ref *ref, ae_error *err)
{
    const size_t n = ds->n, D = m->input_dim, L = m->latent, MB = m->max_batch;
    if (ds->dim != D || n == 0) {
        ae_error_set(err, "anomaly reference: %zu examples of %zu features (the model takes %zu)",
                     n, ds->dim, D);
        return AE_ERR_INPUT;
    }
    if (needs_labels(m, ds, err))
        return AE_ERR_INPUT;
    ae_anomaly_ref r = {n, L, D, calloc(L, sizeof(double)), calloc(L * L, sizeof(double)),
                        calloc(D, sizeof(double))};
    double *c0 = calloc(L, sizeof(double)); /* [L] the first code: the sums are centred on it */
    pass_t p;
    if (!r.code_mean || !r.code_prec || !r.feat_var || !c0 || pass_init(&p, m) != AE_OK) {
        ae_anomaly_ref_free(&r);
        free(c0);
        ae_error_set(err, "anomaly reference: out of memory");
        return AE_ERR_NOMEM;
    }
    ae_rng bin_rng;
    ae_rng_seed_stream(&bin_rng, opt->seed, 3);
    for (size_t i = 0; i < n; i += MB) {
        size_t b = n - i < MB ? n - i : MB;
        ae_batch_gather(ds, NULL, i, b, m->scale, m->shift, opt->binarize, &bin_rng, p.x);
        pass_recon(m, &p, b, m->classes ? ds->labels + i : NULL);
        if (i == 0)
            for (size_t k = 0; k < L; k++)
                c0[k] = p.mu[k];
        for (size_t q = 0; q < b; q++) {
            const float *z = p.mu + q * L;
            for (size_t k = 0; k < L; k++) {
                double dk = z[k] - c0[k];
                r.code_mean[k] += dk;
                for (size_t l = 0; l <= k; l++)
                    r.code_prec[k * L + l] += dk * (z[l] - c0[l]);
            }
            for (size_t j = 0; j < D; j++)
                r.feat_var[j] += p.e[q * D + j];
        }
    }
    pass_free(&p);
    /* covariance = E[(z - c0)(z - c0)^T] - (m - c0)(m - c0)^T, lower triangle */
    double N = (double)n, trace = 0.0;
    for (size_t k = 0; k < L; k++)
        r.code_mean[k] /= N;
    for (size_t k = 0; k < L; k++)
        for (size_t l = 0; l <= k; l++) {
            double v = r.code_prec[k * L + l] / N - r.code_mean[k] * r.code_mean[l];
            r.code_prec[k * L + l] = r.code_prec[l * L + k] = v;
        }
    for (size_t k = 0; k < L; k++) {
        r.code_mean[k] += c0[k];
        trace += r.code_prec[k * L + k];
    }
    free(c0);
    double ridge = MAHA_RIDGE * trace / (double)L + 1e-12;
    for (size_t k = 0; k < L; k++)
        r.code_prec[k * L + k] += ridge;
    if (!spd_inverse(r.code_prec, L)) {
        ae_anomaly_ref_free(&r);
        ae_error_set(err, "anomaly reference: the codes' covariance cannot be inverted");
        return AE_ERR_NUMERIC;
    }
    double avg = 0.0;
    for (size_t j = 0; j < D; j++)
        avg += (r.feat_var[j] /= N);
    avg /= (double)D;
    for (size_t j = 0; j < D; j++)
        r.feat_var[j] += ZERR_FLOOR * avg + 1e-12;
    *ref = r;
    return AE_OK;
}

ae_status ae_anomaly_score(ae_model *m, const ae_dataset *ds, const ae_anomaly_ref *ref,
                           const ae_anomaly_options *opt, ae_anomaly_data *out, ae_error *err)
{
    const size_t n = ds->n, D = m->input_dim, L = m->latent, MB = m->max_batch;
    if (ds->dim != D || n == 0 || ref->D != D || ref->L != L) {
        ae_error_set(err, "anomaly scores: %zu examples of %zu features (the model takes %zu)", n,
                     ds->dim, D);
        return AE_ERR_INPUT;
    }
    if (needs_labels(m, ds, err))
        return AE_ERR_INPUT;
    if (n > SIZE_MAX / sizeof(double) / D) {
        ae_error_set(err, "anomaly scores: %zu examples are too many", n);
        return AE_ERR_NOMEM;
    }
    const bool elbo = opt->bounds && m->family->variational;
    const bool iwae = elbo && opt->iw_samples > 0;
    ae_anomaly_data d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.D = D;
    bool ok = (d.complexity = malloc(n * sizeof(double))) != NULL;
    for (int k = 0; k < AE_SCORE_COUNT && ok; k++) {
        bool want = (k != AE_SCORE_ELBO && k != AE_SCORE_ELBO_IC) || elbo;
        want = want && ((k != AE_SCORE_IWAE && k != AE_SCORE_IWAE_IC) || iwae);
        ok = !want || (d.score[k] = malloc(n * sizeof(double))) != NULL;
    }
    if (ok && opt->keep_features)
        ok = (d.features = malloc(n * D * sizeof(float))) != NULL;
    pass_t p;
    if (!ok || pass_init(&p, m) != AE_OK) {
        ae_anomaly_data_free(&d);
        ae_error_set(err, "anomaly scores: out of memory for %zu examples", n);
        return AE_ERR_NOMEM;
    }
    /* ae_eval_run's streams: z ~ q(z|x) 1, importance samples 2, binarisation 3 */
    ae_rng z_rng, iw_rng, bin_rng;
    ae_rng_seed_stream(&z_rng, opt->seed, 1);
    ae_rng_seed_stream(&iw_rng, opt->seed, 2);
    ae_rng_seed_stream(&bin_rng, opt->seed, 3);
    ae_status st = AE_OK;
    double *sc[AE_SCORE_COUNT];
    memcpy(sc, d.score, sizeof sc);
    for (size_t i = 0; i < n && st == AE_OK; i += MB) {
        size_t b = n - i < MB ? n - i : MB;
        const int32_t *lab = m->classes ? ds->labels + i : NULL;
        ae_batch_gather(ds, NULL, i, b, m->scale, m->shift, opt->binarize, &bin_rng, p.x);
        if (elbo && opt->given_elbo) {
            memcpy(sc[AE_SCORE_ELBO] + i, opt->given_elbo + i, b * sizeof(double));
        } else if (elbo) {
            double *ne = sc[AE_SCORE_ELBO] + i;
            ae_eval_elbo(m, b, p.x, lab, &z_rng, ne, p.kl, p.kl_dim, p.kl_dim2);
            for (size_t q = 0; q < b; q++)
                ne[q] += p.kl[q];
        }
        pass_recon(m, &p, b, lab);
        if (iwae && opt->given_iwae)
            memcpy(sc[AE_SCORE_IWAE] + i, opt->given_iwae + i, b * sizeof(double));
        else if (iwae &&
            (st = ae_eval_iwae(m, b, p.x, lab, opt->iw_samples, &iw_rng, sc[AE_SCORE_IWAE] + i,
                               err)) != AE_OK)
            break;
        for (size_t q = 0; q < b && st == AE_OK; q++) {
            size_t e = i + q;
            const float *fe = p.e + q * D;
            const float *z = p.mu + q * L;
            double sse = 0.0, zerr = 0.0, maha = 0.0;
            for (size_t j = 0; j < D; j++) {
                sse += fe[j];
                zerr += fe[j] / ref->feat_var[j];
            }
            /* (z - m)^T P (z - m) with P symmetric */
            for (size_t k = 0; k < L; k++) {
                double dk = z[k] - ref->code_mean[k], t = 0.0;
                for (size_t l = 0; l < L; l++)
                    t += ref->code_prec[k * L + l] * (z[l] - ref->code_mean[l]);
                maha += dk * t;
            }
            sc[AE_SCORE_RECON][e] = sse;
            sc[AE_SCORE_ZERR][e] = zerr;
            sc[AE_SCORE_MAHA][e] = maha;
            if (d.features)
                memcpy(d.features + e * D, fe, D * sizeof(float));
            st = ae_input_complexity(p.x + q * D, D, &d.complexity[e], err);
            if (elbo)
                sc[AE_SCORE_ELBO_IC][e] = sc[AE_SCORE_ELBO][e] - d.complexity[e];
            if (iwae)
                sc[AE_SCORE_IWAE_IC][e] = sc[AE_SCORE_IWAE][e] - d.complexity[e];
        }
    }
    pass_free(&p);
    if (st != AE_OK) {
        ae_anomaly_data_free(&d);
        return st;
    }
    *out = d;
    return AE_OK;
}

void ae_anomaly_ref_free(ae_anomaly_ref *r)
{
    free(r->code_mean);
    free(r->code_prec);
    free(r->feat_var);
    memset(r, 0, sizeof *r);
}

void ae_anomaly_data_free(ae_anomaly_data *d)
{
    for (int k = 0; k < AE_SCORE_COUNT; k++)
        free(d->score[k]);
    free(d->complexity);
    free(d->features);
    memset(d, 0, sizeof *d);
}
