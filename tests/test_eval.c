#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* Evaluation figures: IWAE against the ELBO, log-sum-exp, active units,
 * k-means/purity/NMI, the linear probe, and known values through ae_eval_run. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae/anomaly.h"
#include "ae/eval.h"
#include "ae/rng.h"
#include "nn/layers.h"
#include "testutil.h"

/* A small random model of each VAE type: D inputs, latent 3 (hvae: z2 of 2). */
static void small_model(ae_model *m, ae_model_type type, size_t D, size_t max_batch,
                        uint64_t seed)
{
    ae_config c;
    ae_config_defaults(&c);
    c.model.type = type;
    c.model.n_encoder = 1;
    c.model.encoder[0] = 12;
    c.model.n_decoder = 1;
    c.model.decoder[0] = 12;
    c.model.latent = 3;
    if (type == AE_MODEL_HVAE) {
        c.model.latent2 = 2;
        c.model.n_hidden2 = 1;
        c.model.hidden2[0] = 6;
    }
    if (type == AE_MODEL_CVAE)
        c.model.classes = 3;
    ck_assert_int_eq(ae_model_init(m, &c, D, max_batch, NULL), AE_OK);
    ae_rng r;
    ae_rng_seed(&r, seed);
    ae_model_init_weights(m, &r);
    /* smaller weights and nonzero biases: posteriors away from the prior,
     * but log-variances of order 1, so that log weights are not heavy-tailed */
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = 0.5f * m->params[i] + 0.2f * (2.0f * ae_rng_uniform(&r) - 1.0f);
}

static const int32_t LABELS[8] = {0, 1, 2, 0, 1, 2, 2, 1};

/* ------------------------------------------------------------ log-sum-exp */

START_TEST(logsumexp_stable)
{
    double a[3] = {-1000, -1000, -1000}; /* exp underflows to 0 in the naive sum */
    ck_assert_double_eq_tol(ae_logsumexp(a, 3), -1000 + log(3.0), 1e-9);
    double b[2] = {1000, 999}; /* exp overflows in the naive sum */
    ck_assert_double_eq_tol(ae_logsumexp(b, 2), 1000 + log1p(exp(-1.0)), 1e-9);
    double c[3] = {-1e300, 0.0, -1e5};
    ck_assert_double_eq_tol(ae_logsumexp(c, 3), 0.0, 1e-12);
    double d[2] = {-INFINITY, 2.0};
    ck_assert_double_eq_tol(ae_logsumexp(d, 2), 2.0, 1e-12);
    double e[2] = {-INFINITY, -INFINITY};
    ck_assert(isinf(ae_logsumexp(e, 2)) && ae_logsumexp(e, 2) < 0);
    ck_assert(isinf(ae_logsumexp(NULL, 0)) && ae_logsumexp(NULL, 0) < 0);
    double f[2] = {1.0, NAN};
    ck_assert(isnan(ae_logsumexp(f, 2)));
    /* K equal huge negative log weights: -log mean = -that weight exactly */
    double g[100];
    for (int i = 0; i < 100; i++)
        g[i] = -123456.75;
    ck_assert_double_eq_tol(-(ae_logsumexp(g, 100) - log(100.0)), 123456.75, 1e-6);
}
END_TEST

/* ------------------------------------------------------------------ IWAE */

typedef struct {
    double sum, sq;
    int n;
} stats;

static void add(stats *s, double v)
{
    s->sum += v;
    s->sq += v * v;
    s->n++;
}

static double mean(const stats *s)
{
    return s->sum / s->n;
}

static double stderr_of(const stats *s)
{
    double m = mean(s);
    return sqrt((s->sq / s->n - m * m) / s->n);
}

/* E[IWAE with K = 1] = E[sampled negative ELBO]: both are -log p(x,z) +
 * log q(z|x) at z ~ q, one with the KL in closed form. */
START_TEST(iwae_k1_is_the_elbo)
{
    static const ae_model_type types[3] = {AE_MODEL_VAE, AE_MODEL_CVAE, AE_MODEL_HVAE};
    enum { B = 8, D = 10, REPS = 3000 };
    ae_model m;
    small_model(&m, types[_i], D, B, 5 + _i);
    const int32_t *lab = m.classes ? LABELS : NULL;
    float x[B * D];
    ae_rng r;
    ae_rng_seed(&r, 9);
    tu_fill_uniform(&r, x, B * D, 0, 1);
    stats elbo = {0}, iw = {0};
    double recon[B], kl[B], nll[B], kd[3] = {0}, kd2[2] = {0};
    ae_rng er, ir;
    ae_rng_seed_stream(&er, 1, 1);
    ae_rng_seed_stream(&ir, 1, 2);
    for (int rep = 0; rep < REPS; rep++) {
        ae_eval_elbo(&m, B, x, lab, &er, recon, kl, kd, kd2);
        ck_assert_int_eq(ae_eval_iwae(&m, B, x, lab, 1, &ir, nll, NULL), AE_OK);
        double a = 0, b = 0;
        for (int q = 0; q < B; q++) {
            a += recon[q] + kl[q];
            b += nll[q];
        }
        add(&elbo, a / B);
        add(&iw, b / B);
    }
    double diff = mean(&iw) - mean(&elbo);
    double se = sqrt(stderr_of(&iw) * stderr_of(&iw) + stderr_of(&elbo) * stderr_of(&elbo));
    ck_assert_msg(fabs(diff) < 4 * se, "%s: IWAE(K=1) %.4f vs ELBO %.4f (se %.4f)",
                  ae_model_type_name(types[_i]), mean(&iw), mean(&elbo), se);
    ae_model_free(&m);
}
END_TEST

/* The hvae's KL from one joint draw (ae_eval_elbo) sums its per-dimension shares. */
START_TEST(elbo_kl_dims_add_up)
{
    static const ae_model_type types[2] = {AE_MODEL_VAE, AE_MODEL_HVAE};
    enum { B = 8, D = 10 };
    ae_model m;
    small_model(&m, types[_i], D, B, 21);
    float x[B * D];
    ae_rng r;
    ae_rng_seed(&r, 4);
    tu_fill_uniform(&r, x, B * D, 0, 1);
    double recon[B], kl[B], kd[3] = {0}, kd2[2] = {0};
    ae_eval_elbo(&m, B, x, NULL, &r, recon, kl, kd, kd2);
    double a = 0, b = 0;
    for (int q = 0; q < B; q++)
        a += kl[q];
    for (int j = 0; j < 3; j++)
        b += kd[j];
    for (int j = 0; j < 2; j++)
        b += kd2[j];
    ck_assert_double_eq_tol(a, b, 1e-6 * fabs(a) + 1e-9);
    ae_model_free(&m);
}
END_TEST

/* E[IWAE_K] does not increase with K (Burda et al., Theorem 1). */
START_TEST(iwae_tightens_with_k)
{
    static const ae_model_type types[2] = {AE_MODEL_VAE, AE_MODEL_HVAE};
    enum { B = 8, D = 10, REPS = 300 };
    ae_model m;
    small_model(&m, types[_i], D, 64, 13);
    float x[B * D];
    ae_rng r;
    ae_rng_seed(&r, 10);
    tu_fill_uniform(&r, x, B * D, 0, 1);
    const size_t ks[3] = {1, 5, 50};
    stats s[3] = {{0}};
    double nll[B];
    for (int k = 0; k < 3; k++) {
        ae_rng ir;
        ae_rng_seed_stream(&ir, 7, (uint64_t)k);
        for (int rep = 0; rep < REPS; rep++) {
            ck_assert_int_eq(ae_eval_iwae(&m, B, x, NULL, ks[k], &ir, nll, NULL), AE_OK);
            double a = 0;
            for (int q = 0; q < B; q++)
                a += nll[q];
            add(&s[k], a / B);
        }
    }
    for (int k = 0; k + 1 < 3; k++) {
        double se = sqrt(stderr_of(&s[k]) * stderr_of(&s[k]) +
                         stderr_of(&s[k + 1]) * stderr_of(&s[k + 1]));
        ck_assert_msg(mean(&s[k + 1]) < mean(&s[k]) + 2 * se,
                      "%s: IWAE(K=%zu) %.4f above IWAE(K=%zu) %.4f",
                      ae_model_type_name(types[_i]), ks[k + 1], mean(&s[k + 1]), ks[k],
                      mean(&s[k]));
    }
    /* the gap between K = 1 and 50 is real, not noise */
    ck_assert_msg(mean(&s[2]) < mean(&s[0]) - 4 * stderr_of(&s[0]), "K=50 %.4f vs K=1 %.4f",
                  mean(&s[2]), mean(&s[0]));
    /* larger K, smaller spread */
    ck_assert_double_lt(stderr_of(&s[2]), stderr_of(&s[0]));
    ae_model_free(&m);
}
END_TEST

/* K larger than the model's batch: samples of one example span chunks. */
START_TEST(iwae_chunking_is_exact_for_exact_posterior)
{
    /* Encoder head and decoder weights zero: q(z|x) = N(0, I) = p(z) and
     * p(x|z) does not depend on z, so every weight is p(x) and the estimate
     * equals -log p(x|.) for every K. */
    enum { B = 3, D = 5 };
    ae_model m;
    small_model(&m, AE_MODEL_VAE, D, 4, 3);
    const ae_layer *head = &m.enc.layer[m.enc.n - 1];
    memset(m.params + head->w_off, 0, head->in * head->out * sizeof(float));
    memset(m.params + head->b_off, 0, head->out * sizeof(float));
    const ae_layer *out = &m.dec.layer[m.dec.n - 1];
    memset(m.params + out->w_off, 0, out->in * out->out * sizeof(float));
    float x[B * D];
    ae_rng r;
    ae_rng_seed(&r, 2);
    tu_fill_uniform(&r, x, B * D, 0, 1);
    const float *b = m.params + out->b_off;
    double want[B];
    for (int q = 0; q < B; q++)
        want[q] = ae_bernoulli_nll(1, D, b, x + q * D, 0, NULL, NULL);
    const size_t ks[4] = {1, 3, 7, 50};
    for (int k = 0; k < 4; k++) {
        double nll[B];
        ck_assert_int_eq(ae_eval_iwae(&m, B, x, NULL, ks[k], &r, nll, NULL), AE_OK);
        for (int q = 0; q < B; q++)
            ck_assert_double_eq_tol(nll[q], want[q], 1e-4);
    }
    /* impossible arguments */
    double nll[8];
    ck_assert_int_eq(ae_eval_iwae(&m, 5, x, NULL, 1, &r, nll, NULL), AE_ERR_USAGE);
    ck_assert_int_eq(ae_eval_iwae(&m, B, x, NULL, 0, &r, nll, NULL), AE_ERR_USAGE);
    ae_model_free(&m);
}
END_TEST

/* --------------------------------------------------- reconstruction, codes */

START_TEST(sse_and_active_units_known)
{
    const float x[6] = {0, 1, 0.5f, 1, 1, 1}, y[6] = {0.5f, 1, 0, 0, 0, 0};
    double sse[2];
    ae_eval_sse(2, 3, x, y, sse);
    ck_assert_double_eq_tol(sse[0], 0.5, 1e-12);
    ck_assert_double_eq_tol(sse[1], 3.0, 1e-12);
    /* columns: variance 1 (values -1, 1), 0 (constant), 0.0025 (+-0.05), 0.25 */
    const float c[8] = {-1, 3, 0.05f, 0, 1, 3, -0.05f, 1};
    double var[4];
    ck_assert_uint_eq(ae_active_units(c, 2, 4, 0.01, var), 2);
    ck_assert_double_eq_tol(var[0], 1.0, 1e-9);
    ck_assert_double_eq_tol(var[1], 0.0, 1e-12);
    ck_assert_double_eq_tol(var[2], 0.0025, 1e-8);
    ck_assert_double_eq_tol(var[3], 0.25, 1e-9);
}
END_TEST

static ae_dataset float_dataset(float *x, size_t n, size_t d, int32_t *labels)
{
    ae_dataset ds = {0};
    ds.n = n;
    ds.dim = d;
    ds.dtype = AE_DTYPE_F32;
    ds.x = x;
    ds.labels = labels;
    return ds;
}

/* All weights zero, decoder output biases b: the decoded mean is sigmoid(b)
 * for every example, q(z|x) = N(0, I), so KL = 0, the ELBO and the IWAE
 * bound both equal sum_j softplus(b_j) - x_j b_j, and no unit is active. */
START_TEST(run_known_values)
{
    enum { N = 10, D = 4 };
    ae_model m;
    small_model(&m, AE_MODEL_VAE, D, 3, 1);
    memset(m.params, 0, m.n_params * sizeof(float));
    const ae_layer *out = &m.dec.layer[m.dec.n - 1];
    const float bias[D] = {-2.0f, 0.0f, 1.0f, 3.0f};
    memcpy(m.params + out->b_off, bias, sizeof bias);
    float x[N * D];
    int32_t y[N];
    ae_rng r;
    ae_rng_seed(&r, 5);
    tu_fill_uniform(&r, x, N * D, 0, 1);
    double want_bce = 0, want_sse = 0;
    for (int i = 0; i < N; i++) {
        y[i] = 10 + i % 2; /* two classes, labelled 10 and 11 */
        for (int j = 0; j < D; j++) {
            float l = bias[j], p = 1.0f / (1.0f + expf(-l)), v = x[i * D + j];
            want_bce += log1p(exp(l)) - v * l;
            want_sse += (v - p) * (v - p);
        }
    }
    want_bce /= N;
    want_sse /= N;
    ae_dataset ds = float_dataset(x, N, D, y);
    ae_eval_options opt = {0};
    opt.iw_samples = 7;
    opt.seed = 3;
    ae_eval_result res;
    ck_assert_int_eq(ae_eval_run(&m, &ds, &opt, &res, NULL), AE_OK);
    ck_assert(res.has_elbo && res.has_iwae && res.has_bce && res.has_pca);
    ck_assert_double_eq_tol(res.bce, want_bce, 1e-4);
    ck_assert_double_eq_tol(res.recon, want_bce, 1e-4);
    ck_assert_double_eq_tol(res.recon_mu, want_bce, 1e-4);
    ck_assert_double_eq_tol(res.kl, 0.0, 1e-9);
    ck_assert_double_eq_tol(res.neg_elbo, want_bce, 1e-4);
    ck_assert_double_eq_tol(res.neg_elbo_mu, want_bce, 1e-4);
    ck_assert_double_eq_tol(res.iwae_nll, want_bce, 1e-4);
    ck_assert_double_eq_tol(res.sse, want_sse, 1e-5);
    ck_assert_uint_eq(res.active_units, 0);
    for (int j = 0; j < 3; j++)
        ck_assert_double_eq_tol(res.kl_dim[j], 0.0, 1e-9);
    /* PCA with 3 of 4 components loses only the smallest variance */
    ck_assert_uint_eq(res.pca_components, 3);
    ck_assert_double_lt(res.pca_sse, want_sse);
    ck_assert(res.has_labels && res.classes == 2 && res.has_probe && res.has_kmeans);
    ck_assert_uint_eq(res.probe_train_n, 8);
    ck_assert_uint_eq(res.probe_test_n, 2);
    /* every code is the same point: one cluster holds everything */
    ck_assert_double_eq_tol(res.kmeans_purity, 0.5, 1e-12);
    ck_assert_double_eq_tol(res.kmeans_nmi, 0.0, 1e-12);
    for (int i = 0; i < N; i++)
        ck_assert_double_eq_tol(res.ex_neg_elbo[i] - res.ex_iwae[i], 0.0, 1e-4);
    ae_eval_result_free(&res);

    /* the data's width must be the model's */
    ae_dataset bad = float_dataset(x, N / 2, D * 2, NULL);
    ck_assert_int_eq(ae_eval_run(&m, &bad, &opt, &res, NULL), AE_ERR_INPUT);
    ae_model_free(&m);
}
END_TEST

/* An encoder that ignores its input on two of four dimensions has two
 * active units; the same model's plain-AE twin reports no ELBO. */
START_TEST(run_active_units)
{
    enum { N = 300, D = 6 };
    ae_config c;
    ae_config_defaults(&c);
    c.model.type = AE_MODEL_VAE;
    c.model.n_encoder = 0; /* the head reads x directly */
    c.model.n_decoder = 1;
    c.model.decoder[0] = 8;
    c.model.latent = 4;
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, &c, D, 50, NULL), AE_OK);
    ae_rng r;
    ae_rng_seed(&r, 8);
    ae_model_init_weights(&m, &r);
    const ae_layer *head = &m.enc.layer[0]; /* [2L x D]: mu rows, then logvar rows */
    for (size_t j = 0; j < D; j++) {
        m.params[head->w_off + 2 * D + j] = 0.0f; /* mu_2 */
        m.params[head->w_off + 3 * D + j] = 0.0f; /* mu_3 */
        m.params[head->w_off + 0 * D + j] = 2.0f * (j % 2 ? 1.0f : -1.0f); /* Var 2 */
        m.params[head->w_off + 1 * D + j] = j < 3 ? 1.0f : -1.0f;           /* Var 0.5 */
    }
    m.params[head->b_off + 2] = 0.7f; /* constant, but away from the prior */
    float x[N * D];
    tu_fill_uniform(&r, x, N * D, 0, 1);
    ae_dataset ds = float_dataset(x, N, D, NULL);
    ae_eval_options opt = {0};
    opt.seed = 1;
    ae_eval_result res;
    ck_assert_int_eq(ae_eval_run(&m, &ds, &opt, &res, NULL), AE_OK);
    ck_assert(res.has_elbo && !res.has_iwae && !res.has_labels && !res.has_probe);
    ck_assert_uint_eq(res.active_units, 2);
    ck_assert_double_gt(res.code_var[0], 0.1);
    ck_assert_double_lt(res.code_var[2], 1e-10);
    ck_assert_double_lt(res.code_var[3], 1e-10);
    ck_assert_double_gt(res.kl_dim[2], 0.2); /* an inactive unit can still cost KL */
    ae_eval_result_free(&res);
    ae_model_free(&m);

    c.model.type = AE_MODEL_AE;
    ck_assert_int_eq(ae_model_init(&m, &c, D, 50, NULL), AE_OK);
    ae_model_init_weights(&m, &r);
    opt.iw_samples = 10;
    ck_assert_int_eq(ae_eval_run(&m, &ds, &opt, &res, NULL), AE_OK);
    ck_assert(!res.has_elbo && !res.has_iwae && !res.ex_neg_elbo && !res.ex_iwae);
    ck_assert(isfinite(res.recon) && res.recon == res.recon_mu && res.sse > 0);
    ae_eval_result_free(&res);
    ae_model_free(&m);
}
END_TEST

/* ------------------------------------------------------- labels, k-means */

START_TEST(labels_compact_ranks)
{
    int32_t y[5] = {7, 3, 7, 9, -2};
    size_t c = 0;
    ck_assert_int_eq(ae_labels_compact(y, 5, 10, &c, NULL), AE_OK);
    ck_assert_uint_eq(c, 4);
    const int32_t want[5] = {2, 1, 2, 3, 0};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(y[i], want[i]);
    int32_t z[3] = {1, 2, 3};
    ae_error err = {{0}};
    ck_assert_int_eq(ae_labels_compact(z, 3, 2, &c, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "3 distinct values"));
    ck_assert_int_eq(z[0], 1); /* untouched on failure */
}
END_TEST

START_TEST(cluster_scores_known)
{
    double purity, nmi;
    /* a perfect clustering, with the cluster numbers permuted */
    const int32_t cl[6] = {2, 2, 0, 0, 1, 1}, lab[6] = {0, 0, 1, 1, 2, 2};
    ck_assert_int_eq(ae_cluster_scores(cl, 3, lab, 3, 6, &purity, &nmi, NULL), AE_OK);
    ck_assert_double_eq_tol(purity, 1.0, 1e-12);
    ck_assert_double_eq_tol(nmi, 1.0, 1e-12);
    /* independent partitions: I = 0 */
    const int32_t c2[4] = {0, 0, 1, 1}, l2[4] = {0, 1, 0, 1};
    ck_assert_int_eq(ae_cluster_scores(c2, 2, l2, 2, 4, &purity, &nmi, NULL), AE_OK);
    ck_assert_double_eq_tol(purity, 0.5, 1e-12);
    ck_assert_double_eq_tol(nmi, 0.0, 1e-12);
    /* by hand: I = 1/2 log(4/3) + 1/4 log(2/3) + 1/4 log 2, H(C) = H(3/4, 1/4),
     * H(Y) = log 2, NMI = I / ((H(C) + H(Y)) / 2) */
    const int32_t c3[4] = {0, 0, 0, 1}, l3[4] = {0, 0, 1, 1};
    ck_assert_int_eq(ae_cluster_scores(c3, 2, l3, 2, 4, &purity, &nmi, NULL), AE_OK);
    ck_assert_double_eq_tol(purity, 0.75, 1e-12);
    ck_assert_double_eq_tol(nmi, 0.3437110184854508, 1e-12);
    /* one block each: identical partitions */
    const int32_t zero[3] = {0, 0, 0};
    ck_assert_int_eq(ae_cluster_scores(zero, 1, zero, 1, 3, &purity, &nmi, NULL), AE_OK);
    ck_assert_double_eq_tol(nmi, 1.0, 1e-12);
    /* random labelling of many points: NMI near 0 */
    enum { N = 20000 };
    int32_t *a = malloc(N * sizeof(int32_t)), *b = malloc(N * sizeof(int32_t));
    ae_rng r;
    ae_rng_seed(&r, 6);
    for (int i = 0; i < N; i++) {
        a[i] = (int32_t)ae_rng_below(&r, 10);
        b[i] = (int32_t)ae_rng_below(&r, 10);
    }
    ck_assert_int_eq(ae_cluster_scores(a, 10, b, 10, N, &purity, &nmi, NULL), AE_OK);
    ck_assert_double_lt(nmi, 0.005);
    ck_assert_double_lt(purity, 0.13);
    /* out-of-range cluster */
    ck_assert_int_eq(ae_cluster_scores(cl, 2, lab, 3, 6, &purity, &nmi, NULL), AE_ERR_USAGE);
    free(a);
    free(b);
}
END_TEST

/* Well-separated blobs: k-means++ finds them (purity 1, NMI 1). */
START_TEST(kmeans_separated_blobs)
{
    enum { K = 4, PER = 50, N = K * PER, Dm = 3 };
    const float centre[K][Dm] = {{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}};
    float x[N * Dm];
    int32_t lab[N], cl[N];
    ae_rng r;
    ae_rng_seed(&r, 12);
    for (int i = 0; i < N; i++) {
        int c = (i * 7) % K; /* classes interleaved */
        lab[i] = c;
        for (int j = 0; j < Dm; j++)
            x[i * Dm + j] = centre[c][j] + (ae_rng_uniform(&r) - 0.5f);
    }
    double inertia = 0, purity, nmi;
    ae_rng kr;
    ae_rng_seed(&kr, 1);
    ck_assert_int_eq(ae_kmeans(x, N, Dm, K, 3, 100, &kr, cl, &inertia, NULL), AE_OK);
    ck_assert_int_eq(ae_cluster_scores(cl, K, lab, K, N, &purity, &nmi, NULL), AE_OK);
    ck_assert_double_eq_tol(purity, 1.0, 1e-12);
    ck_assert_double_eq_tol(nmi, 1.0, 1e-9);
    ck_assert_double_lt(inertia, N * 3 * (1.0 / 12) * 1.5); /* ~ the noise variance */
    /* deterministic for a seed */
    int32_t again[N];
    ae_rng_seed(&kr, 1);
    ck_assert_int_eq(ae_kmeans(x, N, Dm, K, 3, 100, &kr, again, NULL, NULL), AE_OK);
    ck_assert_mem_eq(cl, again, sizeof cl);
    /* k = n: every point its own cluster, inertia 0 */
    ck_assert_int_eq(ae_kmeans(x, 5, Dm, 5, 1, 10, &kr, cl, &inertia, NULL), AE_OK);
    ck_assert_double_eq_tol(inertia, 0.0, 1e-12);
    ck_assert_int_eq(ae_kmeans(x, 3, Dm, 4, 1, 10, &kr, cl, NULL, NULL), AE_ERR_USAGE);
}
END_TEST

/* Linearly separable codes: the probe classifies every test row. */
START_TEST(probe_separable)
{
    enum { C = 3, NTR = 150, NTE = 60, Dm = 2 };
    float xtr[NTR * Dm], xte[NTE * Dm];
    int32_t ytr[NTR], yte[NTE];
    ae_rng r;
    ae_rng_seed(&r, 14);
    /* class c lies in a narrow band around x0 = 4c, the other coordinate
     * is noise of a much larger scale (standardisation must not hurt) */
    for (int i = 0; i < NTR + NTE; i++) {
        int c = i % C;
        float *row = i < NTR ? xtr + i * Dm : xte + (i - NTR) * Dm;
        row[0] = 4.0f * c + 2.0f * (ae_rng_uniform(&r) - 0.5f);
        row[1] = 100.0f * (ae_rng_uniform(&r) - 0.5f);
        *(i < NTR ? &ytr[i] : &yte[i - NTR]) = c;
    }
    double acc = 0;
    ck_assert_int_eq(ae_probe_accuracy(xtr, ytr, NTR, xte, yte, NTE, Dm, C, 1e-4, 500, &acc,
                                       NULL),
                     AE_OK);
    ck_assert_double_eq_tol(acc, 1.0, 1e-12);
    /* labels carry no signal: accuracy near chance */
    for (int i = 0; i < NTE; i++)
        yte[i] = (int32_t)ae_rng_below(&r, C);
    ck_assert_int_eq(ae_probe_accuracy(xtr, ytr, NTR, xte, yte, NTE, Dm, C, 1e-4, 500, &acc,
                                       NULL),
                     AE_OK);
    ck_assert_double_lt(acc, 0.6);
    yte[0] = C; /* out of range */
    ck_assert_int_eq(ae_probe_accuracy(xtr, ytr, NTR, xte, yte, NTE, Dm, C, 1e-4, 10, &acc,
                                       NULL),
                     AE_ERR_USAGE);
}
END_TEST

/* ---------------------------------------------------------------- anomaly */

/* numpy.quantile's default (linear) on known values; NaN left out */
START_TEST(quantile_linear)
{
    const double v[6] = {3, 1, NAN, 2, 5, 4};
    ck_assert_double_eq_tol(ae_quantile(v, 6, 0.5), 3.0, 1e-12);
    ck_assert_double_eq_tol(ae_quantile(v, 6, 0.9), 4.6, 1e-12); /* p = 3.6 */
    ck_assert_double_eq_tol(ae_quantile(v, 6, 0.0), 1.0, 1e-12);
    ck_assert_double_eq_tol(ae_quantile(v, 6, 1.0), 5.0, 1e-12);
    ck_assert_double_eq_tol(ae_quantile(v, 1, 0.3), 3.0, 1e-12);
    const double none[2] = {NAN, NAN};
    ck_assert(isnan(ae_quantile(none, 2, 0.5)));
}
END_TEST

/* L(x): a constant row compresses far below a noisy one; an affine change
 * of the row's values (quantised over its own range) changes nothing. */
START_TEST(complexity_orders_inputs)
{
    enum { D = 784 };
    static float flat[D], noise[D], moved[D];
    ae_rng r;
    ae_rng_seed(&r, 2);
    tu_fill_uniform(&r, noise, D, 0, 1);
    for (int j = 0; j < D; j++) {
        flat[j] = 0.25f;
        moved[j] = 3.0f * noise[j] - 1.0f;
    }
    double lf, ln, lm;
    ck_assert_int_eq(ae_input_complexity(flat, D, &lf, NULL), AE_OK);
    ck_assert_int_eq(ae_input_complexity(noise, D, &ln, NULL), AE_OK);
    ck_assert_int_eq(ae_input_complexity(moved, D, &lm, NULL), AE_OK);
    ck_assert_double_gt(lf, 0.0);
    ck_assert_double_lt(10.0 * lf, ln);
    /* deflate cannot shrink 8-bit noise: at least ~D bytes, 8 ln 2 nats each */
    ck_assert_double_gt(ln, 0.95 * D * 8.0 * log(2.0));
    ck_assert_double_eq_tol(lm, ln, 1e-9);
}
END_TEST

/* The scores of a small random VAE: recon and the bounds as ae_eval_run
 * gives them (same seed), the -ic scores their difference with L(x), and
 * the reference scored against itself: the mean squared Mahalanobis
 * distance of the codes to their own mean and covariance is L (tr(S^-1 S)),
 * and the mean zerr is sum_j v_j / (v_j + floor) < D. */
START_TEST(anomaly_scores_known)
{
    enum { N = 40, D = 6 };
    ae_model m;
    small_model(&m, AE_MODEL_VAE, D, 16, 4);
    float x[N * D];
    ae_rng r;
    ae_rng_seed(&r, 7);
    tu_fill_uniform(&r, x, N * D, 0, 1);
    ae_dataset ds = float_dataset(x, N, D, NULL);
    ae_eval_options eo = {0};
    eo.iw_samples = 5;
    eo.seed = 9;
    eo.skip_pca = true;
    ae_eval_result res;
    ck_assert_int_eq(ae_eval_run(&m, &ds, &eo, &res, NULL), AE_OK);
    ae_anomaly_options ao = {0};
    ao.iw_samples = 5;
    ao.seed = 9;
    ao.bounds = true;
    ao.keep_features = true;
    ae_anomaly_ref ref;
    ae_anomaly_data d;
    ck_assert_int_eq(ae_anomaly_fit(&m, &ds, &ao, &ref, NULL), AE_OK);
    ck_assert_int_eq(ae_anomaly_score(&m, &ds, &ref, &ao, &d, NULL), AE_OK);
    double maha = 0, zerr = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_double_eq_tol(d.score[AE_SCORE_RECON][i], res.ex_sse[i], 1e-5);
        ck_assert_double_eq_tol(d.score[AE_SCORE_ELBO][i], res.ex_neg_elbo[i], 1e-9);
        ck_assert_double_eq_tol(d.score[AE_SCORE_IWAE][i], res.ex_iwae[i], 1e-9);
        ck_assert_double_eq_tol(d.score[AE_SCORE_IWAE_IC][i],
                                res.ex_iwae[i] - d.complexity[i], 1e-9);
        ck_assert_double_eq_tol(d.score[AE_SCORE_ELBO_IC][i],
                                res.ex_neg_elbo[i] - d.complexity[i], 1e-9);
        double fsum = 0;
        for (int j = 0; j < D; j++)
            fsum += d.features[i * D + j];
        ck_assert_double_eq_tol(fsum, d.score[AE_SCORE_RECON][i], 1e-5);
        maha += d.score[AE_SCORE_MAHA][i] / N;
        zerr += d.score[AE_SCORE_ZERR][i] / N;
    }
    ck_assert_double_eq_tol(maha, 3.0, 1e-3);
    ck_assert_double_gt(zerr, 0.5 * D);
    ck_assert_double_lt(zerr, D);
    ae_anomaly_data_free(&d);
    /* without bounds: no elbo or iwae, the rest the same */
    ao.bounds = false;
    ck_assert_int_eq(ae_anomaly_score(&m, &ds, &ref, &ao, &d, NULL), AE_OK);
    ck_assert(!d.score[AE_SCORE_ELBO] && !d.score[AE_SCORE_IWAE_IC] && d.score[AE_SCORE_ZERR]);
    ae_anomaly_data_free(&d);
    ae_anomaly_ref_free(&ref);
    ae_eval_result_free(&res);
    ae_model_free(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("eval");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, logsumexp_stable);
    tcase_add_loop_test(t, iwae_k1_is_the_elbo, 0, 3);
    tcase_add_loop_test(t, elbo_kl_dims_add_up, 0, 2);
    tcase_add_loop_test(t, iwae_tightens_with_k, 0, 2);
    tcase_add_test(t, iwae_chunking_is_exact_for_exact_posterior);
    tcase_add_test(t, sse_and_active_units_known);
    tcase_add_test(t, run_known_values);
    tcase_add_test(t, run_active_units);
    tcase_add_test(t, labels_compact_ranks);
    tcase_add_test(t, cluster_scores_known);
    tcase_add_test(t, kmeans_separated_blobs);
    tcase_add_test(t, probe_separable);
    tcase_add_test(t, quantile_linear);
    tcase_add_test(t, complexity_orders_inputs);
    tcase_add_test(t, anomaly_scores_known);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
