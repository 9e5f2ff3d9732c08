#define _POSIX_C_SOURCE 200809L
#include "ae/eval.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ae/batch.h"
#include "ae/linalg.h"
#include "nn/gemm.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Uniform on [0, 1) with 53 random bits (k-means++ draws among many points). */
static double uniform53(ae_rng *r)
{
    return (double)(ae_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static bool mul_fits(size_t a, size_t b, size_t c)
{
    return (b == 0 || a <= SIZE_MAX / b) && (c == 0 || a * b <= SIZE_MAX / c);
}

/* ------------------------------------------------------------ log-sum-exp */

double ae_logsumexp(const double *v, size_t n)
{
    double mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            return NAN;
        mx = v[i] > mx ? v[i] : mx;
    }
    if (isinf(mx))
        return mx; /* n == 0, every entry -inf, or an entry +inf */
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += exp(v[i] - mx);
    return mx + log(s);
}

/* ----------------------------------------------------------------- IWAE */

ae_status ae_eval_iwae(ae_model *m, size_t B, const float *x, const int32_t *labels, size_t K,
                       ae_rng *rng, double *nll, ae_error *err)
{
    if (!mul_fits(B, K, sizeof(double))) {
        ae_error_set(err, "IWAE: %zu samples of %zu examples are too many", K, B);
        return AE_ERR_USAGE;
    }
    double *lw = malloc((B * K > 0 ? B * K : 1) * sizeof(double)); /* [B x K] */
    if (!lw) {
        ae_error_set(err, "IWAE: out of memory for %zu samples", K);
        return AE_ERR_NOMEM;
    }
    ae_status st = ae_model_log_weights(m, B, x, labels, K, rng, lw, err);
    /* -log of the mean weight, in double around the largest */
    for (size_t e = 0; st == AE_OK && e < B; e++)
        nll[e] = -(ae_logsumexp(lw + e * K, K) - log((double)K));
    free(lw);
    return st;
}

/* ------------------------------------------------- codes and reconstruction */

void ae_eval_sse(size_t B, size_t D, const float *x, const float *y, double *sse)
{
    for (size_t r = 0; r < B; r++) {
        double s = 0.0;
        for (size_t j = 0; j < D; j++) {
            double d = (double)x[r * D + j] - y[r * D + j];
            if (d == d) /* a missing target (NaN) counts for nothing */
                s += d * d;
        }
        sse[r] = s;
    }
}

size_t ae_active_units(const float *codes, size_t n, size_t d, double threshold, double *var)
{
    size_t active = 0;
    for (size_t j = 0; j < d; j++) {
        /* two passes in double: the mean, then the centred sum of squares */
        double mean = 0.0, m2 = 0.0;
        for (size_t i = 0; i < n; i++)
            mean += codes[i * d + j];
        mean = n ? mean / (double)n : 0.0;
        for (size_t i = 0; i < n; i++) {
            double c = codes[i * d + j] - mean;
            m2 += c * c;
        }
        var[j] = n ? m2 / (double)n : 0.0;
        active += var[j] > threshold;
    }
    return active;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

ae_status ae_labels_compact(int32_t *y, size_t n, size_t max_classes, size_t *classes,
                            ae_error *err)
{
    int32_t *v = malloc((n ? n : 1) * sizeof(int32_t));
    if (!v) {
        ae_error_set(err, "labels: out of memory for %zu labels", n);
        return AE_ERR_NOMEM;
    }
    memcpy(v, y, n * sizeof(int32_t));
    qsort(v, n, sizeof(int32_t), cmp_i32);
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i] != v[c - 1])
            v[c++] = v[i];
    if (c > max_classes) {
        ae_error_set(err, "labels: %zu distinct values, more than the %zu classes a probe or "
                          "k-means can take (are these class labels?)", c, max_classes);
        free(v);
        return AE_ERR_INPUT;
    }
    for (size_t i = 0; i < n; i++) {
        const int32_t *p = bsearch(&y[i], v, c, sizeof(int32_t), cmp_i32);
        y[i] = (int32_t)(p - v);
    }
    free(v);
    *classes = c;
    return AE_OK;
}

/* ---------------------------------------------------------- linear probe */

static bool labels_in_range(const int32_t *y, size_t n, size_t classes)
{
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= classes)
            return false;
    return true;
}

/* logits [n x C] = xs W^T + b */
static void probe_logits(const float *xs, size_t n, size_t d, size_t C, const float *W,
                         const float *b, float *logits)
{
    for (size_t i = 0; i < n; i++)
        memcpy(logits + i * C, b, C * sizeof(float));
    ae_gemm(false, true, n, C, d, 1.0f, xs, d, W, d, 1.0f, logits, C);
}

ae_status ae_probe_accuracy(const float *xtr, const int32_t *ytr, size_t ntr, const float *xte,
                            const int32_t *yte, size_t nte, size_t d, size_t classes, double l2,
                            int iters, double *accuracy, ae_error *err)
{
    const size_t C = classes;
    if (ntr == 0 || nte == 0 || d == 0 || C < 2 || iters < 0 || !labels_in_range(ytr, ntr, C) ||
        !labels_in_range(yte, nte, C) || !mul_fits(ntr > nte ? ntr : nte, d > C ? d : C, 4)) {
        ae_error_set(err, "probe: needs training and test rows, d >= 1, labels in [0, %zu) "
                          "with at least 2 classes (train %zu, test %zu, d %zu)", C, ntr, nte, d);
        return AE_ERR_USAGE;
    }
    const size_t P = C * d + C; /* W [C x d], then b [C] */
    const size_t nmax = ntr > nte ? ntr : nte;
    double *mean = calloc(d, sizeof(double)), *sd = calloc(d, sizeof(double));
    float *xs = malloc(nmax * d * sizeof(float));     /* [n x d] standardised features */
    float *logits = malloc(nmax * C * sizeof(float)); /* [n x C], then probabilities - onehot */
    float *w = calloc(P, sizeof(float)), *g = malloc(P * sizeof(float));
    double *am = calloc(P, sizeof(double)), *av = calloc(P, sizeof(double));
    ae_status st = AE_OK;
    if (!mean || !sd || !xs || !logits || !w || !g || !am || !av) {
        ae_error_set(err, "probe: out of memory for %zu x %zu features", nmax, d);
        st = AE_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < ntr; i++)
        for (size_t j = 0; j < d; j++)
            mean[j] += xtr[i * d + j];
    for (size_t j = 0; j < d; j++)
        mean[j] /= (double)ntr;
    for (size_t i = 0; i < ntr; i++)
        for (size_t j = 0; j < d; j++) {
            double c = xtr[i * d + j] - mean[j];
            sd[j] += c * c;
        }
    for (size_t j = 0; j < d; j++) {
        sd[j] = sqrt(sd[j] / (double)ntr);
        if (!(sd[j] > 1e-12))
            sd[j] = 1.0; /* a constant feature stays 0 */
    }
    for (size_t i = 0; i < ntr; i++)
        for (size_t j = 0; j < d; j++)
            xs[i * d + j] = (float)((xtr[i * d + j] - mean[j]) / sd[j]);

    /* Full-batch Adam on mean cross-entropy + (l2/2)||W||^2: the gradient
     * of the cross-entropy with respect to the logits is softmax - onehot. */
    const double lr = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    float *W = w, *b = w + C * d, *gW = g, *gb = g + C * d;
    for (int it = 1; it <= iters; it++) {
        probe_logits(xs, ntr, d, C, W, b, logits);
        for (size_t i = 0; i < ntr; i++) {
            float *row = logits + i * C;
            float mx = row[0];
            for (size_t c = 1; c < C; c++)
                mx = row[c] > mx ? row[c] : mx;
            double s = 0.0;
            for (size_t c = 0; c < C; c++)
                s += exp((double)row[c] - mx);
            for (size_t c = 0; c < C; c++)
                row[c] = (float)((exp((double)row[c] - mx) / s - (c == (size_t)ytr[i])) /
                                 (double)ntr);
        }
        /* gW = G^T xs + l2 W, gb = column sums of G */
        for (size_t q = 0; q < C * d; q++)
            gW[q] = (float)l2 * W[q];
        ae_gemm(true, false, C, d, ntr, 1.0f, logits, C, xs, d, 1.0f, gW, d);
        for (size_t c = 0; c < C; c++) {
            double s = 0.0;
            for (size_t i = 0; i < ntr; i++)
                s += logits[i * C + c];
            gb[c] = (float)s;
        }
        double c1 = 1.0 - pow(b1, it), c2 = 1.0 - pow(b2, it);
        for (size_t q = 0; q < P; q++) {
            am[q] = b1 * am[q] + (1 - b1) * g[q];
            av[q] = b2 * av[q] + (1 - b2) * (double)g[q] * g[q];
            w[q] -= (float)(lr * (am[q] / c1) / (sqrt(av[q] / c2) + eps));
        }
    }

    for (size_t i = 0; i < nte; i++)
        for (size_t j = 0; j < d; j++)
            xs[i * d + j] = (float)((xte[i * d + j] - mean[j]) / sd[j]);
    probe_logits(xs, nte, d, C, W, b, logits);
    size_t right = 0;
    for (size_t i = 0; i < nte; i++) {
        size_t best = 0;
        for (size_t c = 1; c < C; c++)
            best = logits[i * C + c] > logits[i * C + best] ? c : best;
        right += best == (size_t)yte[i];
    }
    *accuracy = (double)right / (double)nte;
done:
    free(mean);
    free(sd);
    free(xs);
    free(logits);
    free(w);
    free(g);
    free(am);
    free(av);
    return st;
}

/* --------------------------------------------------------------- k-means */

static double sqdist(const float *a, const double *c, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - c[j];
        s += t * t;
    }
    return s;
}

static void set_centre(double *c, const float *a, size_t d)
{
    for (size_t j = 0; j < d; j++)
        c[j] = a[j];
}

/* Assigns each row to its nearest centre (ties to the lower index); dist
 * [n] receives the squared distance.  Returns how many assignments changed. */
static size_t assign_rows(const float *x, size_t n, size_t d, const double *centres, size_t k,
                          int32_t *assign, double *dist)
{
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        double bd = sqdist(x + i * d, centres, d);
        for (size_t c = 1; c < k; c++) {
            double t = sqdist(x + i * d, centres + c * d, d);
            if (t < bd) {
                bd = t;
                best = c;
            }
        }
        changed += assign[i] != (int32_t)best;
        assign[i] = (int32_t)best;
        dist[i] = bd;
    }
    return changed;
}

ae_status ae_kmeans(const float *x, size_t n, size_t d, size_t k, int restarts, int max_iter,
                    ae_rng *rng, int32_t *assign, double *inertia, ae_error *err)
{
    if (n == 0 || d == 0 || k == 0 || k > n || k > INT32_MAX || restarts < 1 || max_iter < 1 ||
        !mul_fits(k, d, sizeof(double))) {
        ae_error_set(err, "k-means: needs 1 <= k <= n, d >= 1 (n %zu, d %zu, k %zu)", n, d, k);
        return AE_ERR_USAGE;
    }
    double *centres = malloc(k * d * sizeof(double)); /* [k x d] */
    size_t *count = malloc(k * sizeof(size_t));       /* [k] */
    double *dist = malloc(n * sizeof(double));        /* [n] */
    int32_t *cur = malloc(n * sizeof(int32_t));       /* [n] this start's assignment */
    if (!centres || !count || !dist || !cur) {
        free(centres);
        free(count);
        free(dist);
        free(cur);
        ae_error_set(err, "k-means: out of memory for %zu points", n);
        return AE_ERR_NOMEM;
    }
    double best = INFINITY;
    for (int s = 0; s < restarts; s++) {
        /* k-means++ (Arthur & Vassilvitskii 2007): each further centre is a
         * point drawn with probability proportional to its squared distance
         * to the nearest centre chosen so far. */
        set_centre(centres, x + ae_rng_below(rng, n) * d, d);
        for (size_t i = 0; i < n; i++)
            dist[i] = sqdist(x + i * d, centres, d);
        for (size_t c = 1; c < k; c++) {
            double total = 0.0;
            for (size_t i = 0; i < n; i++)
                total += dist[i];
            size_t pick = n - 1;
            if (total > 0) {
                double u = uniform53(rng) * total, acc = 0.0;
                for (size_t i = 0; i < n; i++) {
                    acc += dist[i];
                    if (acc > u) {
                        pick = i;
                        break;
                    }
                }
            } else {
                pick = ae_rng_below(rng, n); /* every point is already a centre */
            }
            set_centre(centres + c * d, x + pick * d, d);
            for (size_t i = 0; i < n; i++) {
                double t = sqdist(x + i * d, centres + c * d, d);
                dist[i] = t < dist[i] ? t : dist[i];
            }
        }
        /* Lloyd: assign, then move each centre to the mean of its points */
        for (size_t i = 0; i < n; i++)
            cur[i] = -1;
        for (int it = 0;; it++) {
            size_t changed = assign_rows(x, n, d, centres, k, cur, dist);
            if (changed == 0 || it == max_iter)
                break;
            memset(centres, 0, k * d * sizeof(double));
            memset(count, 0, k * sizeof(size_t));
            for (size_t i = 0; i < n; i++) {
                double *c = centres + (size_t)cur[i] * d;
                for (size_t j = 0; j < d; j++)
                    c[j] += x[i * d + j];
                count[cur[i]]++;
            }
            for (size_t c = 0; c < k; c++) {
                if (count[c]) {
                    for (size_t j = 0; j < d; j++)
                        centres[c * d + j] /= (double)count[c];
                    continue;
                }
                /* an empty cluster restarts at the worst-served point */
                size_t far = 0;
                for (size_t i = 1; i < n; i++)
                    far = dist[i] > dist[far] ? i : far;
                set_centre(centres + c * d, x + far * d, d);
                dist[far] = 0.0;
            }
        }
        double sum = 0.0;
        for (size_t i = 0; i < n; i++)
            sum += dist[i];
        if (sum < best) {
            best = sum;
            memcpy(assign, cur, n * sizeof(int32_t));
        }
    }
    if (inertia)
        *inertia = best;
    free(centres);
    free(count);
    free(dist);
    free(cur);
    return AE_OK;
}

ae_status ae_cluster_scores(const int32_t *cluster, size_t k, const int32_t *label,
                            size_t classes, size_t n, double *purity, double *nmi,
                            ae_error *err)
{
    const size_t C = classes;
    if (n == 0 || k == 0 || C == 0 || !labels_in_range(cluster, n, k) ||
        !labels_in_range(label, n, C) || !mul_fits(k, C, sizeof(size_t))) {
        ae_error_set(err, "cluster scores: needs n >= 1, clusters in [0, %zu) and labels in "
                          "[0, %zu)", k, C);
        return AE_ERR_USAGE;
    }
    size_t *tab = calloc(k * C, sizeof(size_t)); /* [k x C] contingency counts */
    size_t *a = calloc(k, sizeof(size_t)), *b = calloc(C, sizeof(size_t));
    if (!tab || !a || !b) {
        free(tab);
        free(a);
        free(b);
        ae_error_set(err, "cluster scores: out of memory for %zu x %zu counts", k, C);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        tab[(size_t)cluster[i] * C + (size_t)label[i]]++;
        a[cluster[i]]++;
        b[label[i]]++;
    }
    const double N = (double)n;
    size_t hits = 0;
    double mi = 0.0, hc = 0.0, hy = 0.0;
    for (size_t c = 0; c < k; c++) {
        size_t mx = 0;
        for (size_t y = 0; y < C; y++) {
            size_t t = tab[c * C + y];
            mx = t > mx ? t : mx;
            if (t)
                mi += (double)t / N * log(N * (double)t / ((double)a[c] * (double)b[y]));
        }
        hits += mx;
        if (a[c])
            hc -= (double)a[c] / N * log((double)a[c] / N);
    }
    for (size_t y = 0; y < C; y++)
        if (b[y])
            hy -= (double)b[y] / N * log((double)b[y] / N);
    *purity = (double)hits / N;
    /* Both partitions a single block: identical, by convention 1. */
    double h = 0.5 * (hc + hy);
    *nmi = h > 0 ? fmin(1.0, fmax(0.0, mi / h)) : 1.0;
    free(tab);
    free(a);
    free(b);
    return AE_OK;
}

/* -------------------------------------------------------------- the run */

void ae_eval_result_free(ae_eval_result *r)
{
    if (!r)
        return;
    free(r->kl_dim);
    free(r->kl_dim2);
    free(r->code_var);
    free(r->code_var2);
    free(r->ex_sse);
    free(r->ex_neg_elbo);
    free(r->ex_iwae);
    memset(r, 0, sizeof *r);
}

/* ae_eval_elbo of input x against target t (t = x but under --corrupt) */
static void elbo_target(ae_model *m, size_t B, const float *x, const float *t,
                        const int32_t *labels, ae_rng *rng, double *recon, double *kl,
                        double *kl_dim, double *kl_dim2)
{
    ae_model_forward(m, B, x, t, labels, rng, 1.0f, NULL);
    for (size_t q = 0; q < B; q++)
        recon[q] = m->ex_recon[q];
    ae_model_kl_terms(m, B, kl, kl_dim, kl_dim2);
}

void ae_eval_elbo(ae_model *m, size_t B, const float *x, const int32_t *labels, ae_rng *rng,
                  double *recon, double *kl, double *kl_dim, double *kl_dim2)
{
    elbo_target(m, B, x, x, labels, rng, recon, kl, kl_dim, kl_dim2);
}

typedef struct {
    float *x;          /* [MB x D] a batch of scaled inputs */
    float *xc;         /* [MB x D] the batch corrupted (opt->corrupt), else NULL */
    float *lo, *hi;    /* [D] the features' scaled ranges, for salt-and-pepper noise */
    float *y;          /* [MB x D] decoded means / PCA reconstructions */
    float *pcode;      /* [MB x k] PCA codes */
    float *codes;      /* [n x L] E[z|x] (the code for an ae) */
    float *codes2;     /* [n x L2] hvae: mu2(mu1) */
    float *ptr_codes;  /* [n_probe x L] codes of the probe's training set */
    int32_t *labels;   /* [n] compacted labels of the data */
    int32_t *plabels;  /* [n_probe + n] compacted labels: probe_train's, then the data's */
    int32_t *clusters; /* [n] */
    double *tmp;       /* [MB] */
    ae_pca pca;
} work_t;

static void work_free(work_t *w)
{
    free(w->x);
    free(w->xc);
    free(w->lo);
    free(w->hi);
    free(w->y);
    free(w->pcode);
    free(w->codes);
    free(w->codes2);
    free(w->ptr_codes);
    free(w->labels);
    free(w->plabels);
    free(w->clusters);
    free(w->tmp);
    ae_pca_free(&w->pca);
}

/* Whether a float dataset holds a missing value (NaN); uint8 cannot. */
static bool has_missing(const ae_dataset *ds)
{
    size_t n = ds->n * ds->dim;
    if (ds->dtype == AE_DTYPE_F32) {
        const float *x = ds->x;
        for (size_t i = 0; i < n; i++)
            if (x[i] != x[i])
                return true;
    } else if (ds->dtype == AE_DTYPE_F32BE) {
        const unsigned char *b = ds->x;
        for (size_t i = 0; i < n; i++) {
            const unsigned char *p = b + 4 * i;
            uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            if ((u & 0x7fffffffu) > 0x7f800000u)
                return true;
        }
    }
    return false;
}

static void progress(const ae_eval_options *opt, const char *stage, size_t done, size_t total)
{
    if (opt->progress)
        opt->progress(opt->progress_ctx, stage, done, total);
}

/* The probe (on a split of the data or on probe_train) and k-means. */
static ae_status eval_labels(ae_model *m, const ae_dataset *ds, const ae_eval_options *opt,
                             work_t *w, ae_eval_result *r, ae_error *err)
{
    const size_t n = ds->n, L = m->latent;
    ae_status st;
    w->labels = malloc(n * sizeof(int32_t));
    w->clusters = malloc(n * sizeof(int32_t));
    if (!w->labels || !w->clusters) {
        ae_error_set(err, "out of memory for %zu labels", n);
        return AE_ERR_NOMEM;
    }
    memcpy(w->labels, ds->labels, n * sizeof(int32_t));
    if ((st = ae_labels_compact(w->labels, n, AE_MAX_CLASSES, &r->classes, err)) != AE_OK)
        return st;
    r->has_labels = true;
    if (r->classes < 2)
        return AE_OK; /* one class: nothing to predict or to cluster */

    double t0 = now_seconds();
    const ae_dataset *pt = opt->probe_train;
    if (pt) {
        if (!pt->labels || (m->classes && !labels_in_range(pt->labels, pt->n, m->classes))) {
            ae_error_set(err, "the probe's training set needs a label for every example%s",
                         m->classes ? " in [0, model.classes)" : "");
            return AE_ERR_INPUT;
        }
        if (!mul_fits(pt->n + n, L, sizeof(float))) {
            ae_error_set(err, "the probe's training set is too large (%zu examples)", pt->n);
            return AE_ERR_NOMEM;
        }
        size_t pc;
        w->ptr_codes = malloc(pt->n * L * sizeof(float));
        w->plabels = malloc((pt->n + n) * sizeof(int32_t));
        if (!w->ptr_codes || !w->plabels) {
            ae_error_set(err, "out of memory for the codes of %zu probe examples", pt->n);
            return AE_ERR_NOMEM;
        }
        ae_rng bin_rng;
        ae_rng_seed_stream(&bin_rng, opt->seed, 5);
        st = ae_model_encode_rows(m, pt, NULL, pt->n, opt->binarize, &bin_rng, w->ptr_codes, NULL,
                                  err);
        if (st != AE_OK)
            return st;
        memcpy(w->plabels, pt->labels, pt->n * sizeof(int32_t));
        memcpy(w->plabels + pt->n, ds->labels, n * sizeof(int32_t));
        if ((st = ae_labels_compact(w->plabels, pt->n + n, AE_MAX_CLASSES, &pc, err)) != AE_OK)
            return st;
        if (pc >= 2) {
            st = ae_probe_accuracy(w->ptr_codes, w->plabels, pt->n, w->codes, w->plabels + pt->n,
                                   n, L, pc, AE_PROBE_L2, AE_PROBE_ITERS, &r->probe_accuracy, err);
            if (st != AE_OK)
                return st;
            r->has_probe = true;
            r->probe_train_n = pt->n;
            r->probe_test_n = n;
        }
    } else if (n >= 2) {
        /* the first 80% train, the rest test (at least one row each) */
        size_t ntr = (size_t)floor(AE_PROBE_SPLIT * (double)n);
        ntr = ntr < 1 ? 1 : ntr > n - 1 ? n - 1 : ntr;
        st = ae_probe_accuracy(w->codes, w->labels, ntr, w->codes + ntr * L, w->labels + ntr,
                               n - ntr, L, r->classes, AE_PROBE_L2, AE_PROBE_ITERS,
                               &r->probe_accuracy, err);
        if (st != AE_OK)
            return st;
        r->has_probe = true;
        r->probe_train_n = ntr;
        r->probe_test_n = n - ntr;
    }
    r->sec_probe = now_seconds() - t0;
    progress(opt, "probe", 1, 1);

    t0 = now_seconds();
    ae_rng krng;
    ae_rng_seed_stream(&krng, opt->seed, 4);
    st = ae_kmeans(w->codes, n, L, r->classes, AE_KMEANS_RESTARTS, AE_KMEANS_MAX_ITER, &krng,
                   w->clusters, &r->kmeans_inertia, err);
    if (st == AE_OK)
        st = ae_cluster_scores(w->clusters, r->classes, w->labels, r->classes, n,
                               &r->kmeans_purity, &r->kmeans_nmi, err);
    if (st != AE_OK)
        return st;
    r->has_kmeans = true;
    r->sec_kmeans = now_seconds() - t0;
    progress(opt, "kmeans", 1, 1);
    return AE_OK;
}

ae_status ae_eval_run(ae_model *m, const ae_dataset *ds, const ae_eval_options *opt,
                      ae_eval_result *out, ae_error *err)
{
    const size_t n = ds->n, D = m->input_dim, L = m->latent, L2 = m->latent2, MB = m->max_batch;
    if (ds->dim != D || n == 0) {
        ae_error_set(err, "evaluation: the data has %zu features (the model takes %zu) and %zu "
                          "examples", ds->dim, D, n);
        return AE_ERR_INPUT;
    }
    const ae_dataset *pfit = opt->pca_train ? opt->pca_train : ds;
    if ((opt->pca_train && opt->pca_train->dim != D) ||
        (opt->probe_train && opt->probe_train->dim != D)) {
        ae_error_set(err, "evaluation: the %s set has %zu features, the model takes %zu",
                     opt->pca_train && opt->pca_train->dim != D ? "PCA training" : "probe training",
                     opt->pca_train && opt->pca_train->dim != D ? opt->pca_train->dim
                                                                : opt->probe_train->dim, D);
        return AE_ERR_INPUT;
    }
    if (m->classes && (!ds->labels || !labels_in_range(ds->labels, n, m->classes))) {
        ae_error_set(err, "evaluation: a cvae needs every example's label in [0, %zu)",
                     m->classes);
        return AE_ERR_INPUT;
    }
    if (!mul_fits(n, L > L2 ? L : L2, sizeof(float)) || !mul_fits(n, sizeof(double), 1)) {
        ae_error_set(err, "evaluation: %zu examples are too many", n);
        return AE_ERR_NOMEM;
    }
    ae_eval_result r;
    memset(&r, 0, sizeof r);
    work_t w;
    memset(&w, 0, sizeof w);
    r.n = n;
    r.latent = L;
    r.latent2 = L2;
    r.has_elbo = m->family->variational;
    r.corrupted = opt->corrupt.type != AE_NOISE_NONE;
    r.has_iwae = r.has_elbo && opt->iw_samples > 0 && !r.corrupted;
    r.has_bce = ae_likelihood_get(m->likelihood)->unit_range;
    const bool hvae = m->family->hierarchical;
    ae_status st = AE_OK;

    w.x = malloc(MB * D * sizeof(float));
    w.y = malloc(MB * D * sizeof(float));
    w.tmp = malloc(MB * sizeof(double));
    w.codes = malloc(n * L * sizeof(float));
    r.kl_dim = calloc(L, sizeof(double));
    r.code_var = calloc(L, sizeof(double));
    r.ex_sse = malloc(n * sizeof(double));
    bool ok = w.x && w.y && w.tmp && w.codes && r.kl_dim && r.code_var && r.ex_sse;
    if (ok && r.corrupted)
        ok = (w.xc = malloc(MB * D * sizeof(float))) && (w.lo = malloc(D * sizeof(float))) &&
             (w.hi = malloc(D * sizeof(float)));
    if (ok && r.has_elbo)
        ok = (r.ex_neg_elbo = malloc(n * sizeof(double))) != NULL;
    if (ok && r.has_iwae)
        ok = (r.ex_iwae = malloc(n * sizeof(double))) != NULL;
    if (ok && hvae)
        ok = (w.codes2 = malloc(n * L2 * sizeof(float))) &&
             (r.kl_dim2 = calloc(L2, sizeof(double))) && (r.code_var2 = calloc(L2, sizeof(double)));
    if (!ok) {
        ae_error_set(err, "evaluation: out of memory for %zu examples", n);
        st = AE_ERR_NOMEM;
        goto fail;
    }

    /* PCA first, so one pass over the data evaluates the model and the
     * baseline on the very same inputs. */
    size_t k = L < D ? L : D;
    /* PCA needs complete data: with missing values (NaN) it is left out */
    if (!opt->skip_pca && pfit->n >= 2 && !has_missing(pfit) && !has_missing(ds)) {
        double t0 = now_seconds();
        progress(opt, "pca", 0, 1);
        st = ae_pca_fit_dataset(&w.pca, pfit, m->scale, m->shift, k, err);
        if (st != AE_OK)
            goto fail;
        if (!(w.pcode = malloc(MB * k * sizeof(float)))) {
            ae_error_set(err, "evaluation: out of memory");
            st = AE_ERR_NOMEM;
            goto fail;
        }
        double kept = 0.0;
        for (size_t c = 0; c < k; c++)
            kept += w.pca.variance[c];
        r.pca_components = k;
        r.pca_explained = w.pca.total_variance > 0 ? kept / w.pca.total_variance : 1.0;
        r.has_pca = true;
        r.sec_pca = now_seconds() - t0;
    }

    /* Independent streams: changing K never changes the sampled ELBO. */
    ae_rng z_rng, iw_rng, bin_rng, noise_rng;
    ae_rng_seed_stream(&z_rng, opt->seed, 1);
    ae_rng_seed_stream(&iw_rng, opt->seed, 2);
    ae_rng_seed_stream(&bin_rng, opt->seed, 3);
    ae_rng_seed_stream(&noise_rng, opt->seed, 4);
    if (r.corrupted)
        ae_scaled_feature_range(ds, m->scale, m->shift, w.lo, w.hi);
    double t_start = now_seconds(), t_iwae = 0.0, t_pca = 0.0;
    double s_recon = 0, s_recon_mu = 0, s_kl = 0, s_kl_mu = 0, s_kl2 = 0, s_sse = 0, s_pca = 0,
           s_iwae = 0;
    for (size_t i = 0; i < n; i += MB) {
        size_t b = n - i < MB ? n - i : MB;
        ae_batch_gather(ds, NULL, i, b, m->scale, m->shift, opt->binarize, &bin_rng, w.x);
        const int32_t *lab = m->classes ? ds->labels + i : NULL;
        /* what the encoder (and PCA) see; the targets are always w.x */
        const float *in = w.x;
        if (r.corrupted) {
            ae_noise_apply(&opt->corrupt, w.lo, w.hi, &noise_rng, w.x, w.xc, b, D);
            in = w.xc;
        }
        if (r.has_elbo) {
            /* z ~ q(z|x): the bound itself, and the KL of each dimension */
            elbo_target(m, b, in, w.x, lab, &z_rng, w.tmp, r.ex_neg_elbo + i, r.kl_dim,
                        r.kl_dim2);
            for (size_t q = 0; q < b; q++) {
                s_recon += w.tmp[q];
                s_kl += r.ex_neg_elbo[i + q];
                s_kl2 += m->ex_kl2[q];
                r.ex_neg_elbo[i + q] += w.tmp[q];
            }
        }
        /* z = mu (an ae's code): reconstruction, its error, and the codes */
        ae_model_forward(m, b, in, w.x, lab, NULL, 1.0f, NULL);
        for (size_t q = 0; q < b; q++) {
            s_recon_mu += m->ex_recon[q];
            s_kl_mu += m->ex_kl[q];
        }
        const float *head = m->enc.out[m->enc.n - 1];
        size_t stride = r.has_elbo ? 2 * L : L;
        for (size_t q = 0; q < b; q++)
            memcpy(w.codes + (i + q) * L, head + q * stride, L * sizeof(float));
        if (hvae) {
            const float *h2 = m->enc2.out[m->enc2.n - 1];
            for (size_t q = 0; q < b; q++)
                memcpy(w.codes2 + (i + q) * L2, h2 + q * 2 * L2, L2 * sizeof(float));
        }
        ae_likelihood_get(m->likelihood)->mean(b, D, m->dec.out[m->dec.n - 1], w.y);
        ae_eval_sse(b, D, w.x, w.y, r.ex_sse + i);
        for (size_t q = 0; q < b; q++)
            s_sse += r.ex_sse[i + q];
        if (r.has_iwae) {
            double t0 = now_seconds();
            st = ae_eval_iwae(m, b, w.x, lab, opt->iw_samples, &iw_rng, r.ex_iwae + i, err);
            if (st != AE_OK)
                goto fail;
            for (size_t q = 0; q < b; q++)
                s_iwae += r.ex_iwae[i + q];
            t_iwae += now_seconds() - t0;
        }
        if (r.has_pca) {
            double t0 = now_seconds();
            ae_pca_project(&w.pca, in, b, w.pcode);
            ae_pca_reconstruct(&w.pca, w.pcode, b, w.y);
            ae_eval_sse(b, D, w.x, w.y, w.tmp);
            for (size_t q = 0; q < b; q++)
                s_pca += w.tmp[q];
            t_pca += now_seconds() - t0;
        }
        progress(opt, "evaluate", i + b, n);
    }
    double N = (double)n;
    r.recon = s_recon / N;
    r.recon_mu = s_recon_mu / N;
    if (!r.has_elbo)
        r.recon = r.recon_mu; /* an ae's code is deterministic */
    r.kl = s_kl / N;
    r.kl_mu = s_kl_mu / N;
    r.kl2 = s_kl2 / N;
    r.neg_elbo = r.recon + r.kl;
    r.neg_elbo_mu = r.recon_mu + r.kl_mu;
    r.iwae_nll = s_iwae / N;
    r.sse = s_sse / N;
    r.bce = r.recon_mu; /* Bernoulli: the cross-entropy of sigmoid(logits), computed from logits */
    r.pca_sse = s_pca / N;
    for (size_t j = 0; j < L; j++)
        r.kl_dim[j] /= N;
    for (size_t j = 0; j < L2; j++)
        r.kl_dim2[j] /= N;
    r.active_units = ae_active_units(w.codes, n, L, AE_ACTIVE_THRESHOLD, r.code_var);
    if (hvae)
        r.active_units2 = ae_active_units(w.codes2, n, L2, AE_ACTIVE_THRESHOLD, r.code_var2);
    r.sec_iwae = t_iwae;
    r.sec_pca += t_pca;
    r.sec_elbo = now_seconds() - t_start - t_iwae - t_pca;

    if (ds->labels && (st = eval_labels(m, ds, opt, &w, &r, err)) != AE_OK)
        goto fail;
    work_free(&w);
    *out = r;
    return AE_OK;
fail:
    work_free(&w);
    ae_eval_result_free(&r);
    return st;
}
