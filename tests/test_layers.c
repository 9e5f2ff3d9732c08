#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* Finite-difference gradient checks for every layer, activation, likelihood,
 * the KL term and the whole AE/VAE loss with fixed noise. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/model.h"
#include "ae/rng.h"
#include "nn/layers.h"
#include "base/simd.h"
#include "testutil.h"

/* Central differences in float need a step large enough to rise above
 * rounding; the tolerance below is loose relative to that step's error
 * (O(h^2)) but tight against any real mistake (wrong sign, factor, index). */
#define FD_H 1e-3f
#define FD_ATOL 2e-3
#define FD_RTOL 2e-2

static void check_close(double analytic, double numeric, const char *what, size_t i)
{
    double tol = FD_ATOL + FD_RTOL * fabs(numeric);
    ck_assert_msg(fabs(analytic - numeric) <= tol, "%s[%zu]: analytic %.6g, numeric %.6g", what,
                  i, analytic, numeric);
}

static void fill_uniform(ae_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * ae_rng_uniform(r);
}

/* L = sum(R .* y): dL/dy = R, so backward(dy = R) must give dL/dparams. */
static double dense_objective(const ae_layer *l, const float *params, size_t B, const float *x,
                              const float *R, float *y)
{
    ae_dense_forward(l, params, B, x, NULL, y);
    double s = 0;
    for (size_t i = 0; i < B * l->out; i++)
        s += (double)R[i] * y[i];
    return s;
}

static void check_dense(ae_activation act)
{
    enum { B = 4, IN = 5, OUT = 3 };
    ae_layer l = {IN, OUT, 0, IN * OUT, act, 0, false};
    float params[IN * OUT + OUT], grads[IN * OUT + OUT] = {0};
    float x[B * IN], R[B * OUT], y[B * OUT], dy[B * OUT], dx[B * IN];
    ae_rng r;
    ae_rng_seed(&r, 42 + (uint64_t)act);
    fill_uniform(&r, params, IN * OUT + OUT, -1, 1);
    fill_uniform(&r, x, B * IN, -1, 1);
    fill_uniform(&r, R, B * OUT, -1, 1);
    ae_dense_forward(&l, params, B, x, NULL, y);
    memcpy(dy, R, sizeof dy);
    ae_dense_backward(&l, params, grads, B, x, NULL, y, dy, NULL, dx);
    for (size_t i = 0; i < IN * OUT + OUT; i++) {
        float keep = params[i];
        params[i] = keep + FD_H;
        double up = dense_objective(&l, params, B, x, R, y);
        params[i] = keep - FD_H;
        double down = dense_objective(&l, params, B, x, R, y);
        params[i] = keep;
        check_close(grads[i], (up - down) / (2 * FD_H), ae_activation_name(act), i);
    }
    for (size_t i = 0; i < B * IN; i++) {
        float keep = x[i];
        x[i] = keep + FD_H;
        double up = dense_objective(&l, params, B, x, R, y);
        x[i] = keep - FD_H;
        double down = dense_objective(&l, params, B, x, R, y);
        x[i] = keep;
        check_close(dx[i], (up - down) / (2 * FD_H), "dx", i);
    }
}

START_TEST(dense_each_activation)
{
    check_dense((ae_activation)_i);
}
END_TEST

START_TEST(backward_accumulates)
{
    /* Two backward passes into the same buffers give twice the gradient. */
    enum { B = 3, IN = 4, OUT = 2 };
    ae_layer l = {IN, OUT, 0, IN * OUT, AE_ACT_TANH, 0, false};
    float params[IN * OUT + OUT], g1[IN * OUT + OUT] = {0}, g2[IN * OUT + OUT] = {0};
    float x[B * IN], y[B * OUT], dy[B * OUT];
    ae_rng r;
    ae_rng_seed(&r, 7);
    fill_uniform(&r, params, IN * OUT + OUT, -1, 1);
    fill_uniform(&r, x, B * IN, -1, 1);
    ae_dense_forward(&l, params, B, x, NULL, y);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < B * OUT; i++)
            dy[i] = 1.0f;
        ae_dense_backward(&l, params, g2, B, x, NULL, y, dy, NULL, NULL);
    }
    for (size_t i = 0; i < B * OUT; i++)
        dy[i] = 1.0f;
    ae_dense_backward(&l, params, g1, B, x, NULL, y, dy, NULL, NULL);
    for (size_t i = 0; i < IN * OUT + OUT; i++)
        ck_assert_float_eq_tol(g2[i], 2 * g1[i], 1e-5);
}
END_TEST

START_TEST(activation_values)
{
    float v[6] = {-2, -0.5f, 0, 0.5f, 2, 30};
    float y[6];
    memcpy(y, v, sizeof y);
    ae_act_forward(AE_ACT_RELU, y, 6);
    ck_assert_float_eq(y[0], 0);
    ck_assert_float_eq(y[4], 2);
    memcpy(y, v, sizeof y);
    ae_act_forward(AE_ACT_LEAKY_RELU, y, 6);
    ck_assert_float_eq_tol(y[0], -0.02f, 1e-7);
    memcpy(y, v, sizeof y);
    ae_act_forward(AE_ACT_ELU, y, 6);
    ck_assert_float_eq_tol(y[0], expm1f(-2), 1e-7);
    memcpy(y, v, sizeof y);
    ae_act_forward(AE_ACT_SIGMOID, y, 6);
    ck_assert_float_eq_tol(y[2], 0.5f, 1e-7);
    ck_assert_float_eq_tol(y[5], 1.0f, 1e-7);
    memcpy(y, v, sizeof y);
    ae_act_forward(AE_ACT_TANH, y, 6);
    ck_assert_float_eq_tol(y[3], tanhf(0.5f), 1e-7);
}
END_TEST

typedef double (*nll_fn)(size_t, size_t, const float *, const float *, float, float *, double *);

static void check_nll(nll_fn f, int binary_targets)
{
    enum { B = 3, D = 7 };
    float l[B * D], x[B * D], d[B * D];
    double per[B];
    ae_rng r;
    ae_rng_seed(&r, 5);
    fill_uniform(&r, l, B * D, -4, 4);
    fill_uniform(&r, x, B * D, 0, 1);
    if (binary_targets)
        for (size_t i = 0; i < B * D; i++)
            x[i] = x[i] > 0.5f;
    double total = f(B, D, l, x, 1.0f, d, per);
    ck_assert_double_eq_tol(total, per[0] + per[1] + per[2], 1e-9);
    for (size_t i = 0; i < B * D; i++) {
        float keep = l[i];
        l[i] = keep + FD_H;
        double up = f(B, D, l, x, 1.0f, NULL, NULL);
        l[i] = keep - FD_H;
        double down = f(B, D, l, x, 1.0f, NULL, NULL);
        l[i] = keep;
        check_close(d[i], (up - down) / (2 * FD_H), "nll", i);
    }
}

START_TEST(bernoulli_gradient)
{
    check_nll(ae_bernoulli_nll, 0);
    check_nll(ae_bernoulli_nll, 1);
}
END_TEST

START_TEST(gaussian_gradient)
{
    check_nll(ae_gaussian_nll, 0);
}
END_TEST

START_TEST(continuous_bernoulli_gradient)
{
    check_nll(ae_continuous_bernoulli_nll, 0);
    /* logits near 0, where the normaliser switches to its series (|l| < 0.1) */
    enum { D = 41 };
    float l[D], x[D], d[D];
    for (int i = 0; i < D; i++) {
        l[i] = -0.4f + 0.02f * (float)i + 0.003f;
        x[i] = (float)i / (D - 1);
    }
    ae_continuous_bernoulli_nll(1, D, l, x, 1.0f, d, NULL);
    for (int i = 0; i < D; i++) {
        float keep = l[i];
        l[i] = keep + FD_H;
        double up = ae_continuous_bernoulli_nll(1, D, l, x, 1.0f, NULL, NULL);
        l[i] = keep - FD_H;
        double down = ae_continuous_bernoulli_nll(1, D, l, x, 1.0f, NULL, NULL);
        l[i] = keep;
        check_close(d[i], (up - down) / (2 * FD_H), "continuous bernoulli near 0", i);
    }
}
END_TEST

/* The density integrates to 1 and its mean is what ae_continuous_bernoulli_mean
 * says, for logits on both sides of the series threshold (midpoint rule in
 * double over x in [0, 1]). */
START_TEST(continuous_bernoulli_normalised)
{
    const float logits[] = {-30.0f, -5.0f, -1.0f, -0.1f, -0.05f, 0.0f, 1e-4f, 0.099f, 0.5f, 3.0f, 20.0f};
    for (size_t k = 0; k < sizeof logits / sizeof logits[0]; k++) {
        enum { N = 20000 };
        double mass = 0, mean = 0;
        for (int i = 0; i < N; i++) {
            float x = (float)((i + 0.5) / N), l = logits[k];
            double p = exp(-ae_continuous_bernoulli_nll(1, 1, &l, &x, 1.0f, NULL, NULL));
            mass += p / N;
            mean += x * p / N;
        }
        float m = logits[k];
        ae_continuous_bernoulli_mean(&m, 1);
        ck_assert_msg(fabs(mass - 1) < 1e-3, "logit %g: density integrates to %.6f", logits[k], mass);
        ck_assert_msg(fabs(mean - m) < 1e-3, "logit %g: mean %.6f, formula %.6f", logits[k], mean, m);
    }
}
END_TEST

START_TEST(likelihood_table_complete)
{
    for (int k = 0; k < AE_LIK_COUNT; k++) {
        const ae_likelihood_ops *o = ae_likelihood_get((ae_likelihood)k);
        ck_assert_msg(o->name && o->title && o->nll && o->mean, "likelihood %d: empty entry", k);
        ck_assert_int_eq(ae_likelihood_find(o->name), k);
    }
    ck_assert_int_eq(ae_likelihood_find("poisson"), AE_LIK_COUNT);
}
END_TEST

/* Every entry of the table, through the table: its gradient by finite
 * differences (for gaussian also with std != 1), its total against its
 * per-example values, and its mean's shape.  A new likelihood is checked
 * here without a line of its own. */
START_TEST(likelihood_table_gradients)
{
    enum { B = 3, D = 5 };
    const float stds[] = {1.0f, 0.37f};
    for (int k = 0; k < AE_LIK_COUNT; k++) {
        const ae_likelihood_ops *o = ae_likelihood_get((ae_likelihood)k);
        ck_assert_msg(o->outputs >= 1 && o->outputs <= 2, "%s: outputs %zu", o->name, o->outputs);
        for (size_t s = 0; s < sizeof stds / sizeof stds[0]; s++) {
            ae_likelihood_params p = ae_likelihood_params_default();
            p.gaussian_std = stds[s];
            const size_t DY = D * o->outputs;
            float y[B * 2 * D], x[B * D], d[B * 2 * D], mean[B * D];
            double per[B];
            ae_rng r;
            ae_rng_seed(&r, 77 + (unsigned)k);
            fill_uniform(&r, y, B * DY, -3, 3);
            fill_uniform(&r, x, B * D, 0, 1);
            double total = o->nll(&p, B, D, y, x, 1.0f, d, per);
            ck_assert_msg(isfinite(total), "%s: NLL %g", o->name, total);
            ck_assert_double_eq_tol(total, per[0] + per[1] + per[2], 1e-9);
            char what[96];
            snprintf(what, sizeof what, "%s (std %g)", o->name, (double)stds[s]);
            for (size_t i = 0; i < B * DY; i++) {
                float keep = y[i];
                y[i] = keep + FD_H;
                double up = o->nll(&p, B, D, y, x, 1.0f, NULL, NULL);
                y[i] = keep - FD_H;
                double down = o->nll(&p, B, D, y, x, 1.0f, NULL, NULL);
                y[i] = keep;
                check_close(d[i], (up - down) / (2 * FD_H), what, i);
            }
            /* the mean, out of place and in place, agree */
            o->mean(B, D, y, mean);
            o->mean(B, D, y, y);
            for (size_t i = 0; i < B * D; i++)
                ck_assert_msg(isfinite(mean[i]) && mean[i] == y[i], "%s: mean %zu", o->name, i);
        }
    }
}
END_TEST

/* N(y, c^2): 0.5 * d^2 / c^2 + log c + 0.5 log 2 pi per feature. */
START_TEST(gaussian_std_known_value)
{
    const ae_likelihood_ops *o = ae_likelihood_get(AE_LIK_GAUSSIAN);
    ae_likelihood_params p = ae_likelihood_params_default();
    ck_assert(p.gaussian_std == 1.0f);
    p.gaussian_std = 0.5f;
    float y[2] = {1.0f, 3.0f}, x[2] = {0.0f, 1.0f};
    double per[1];
    o->nll(&p, 1, 2, y, x, 1.0f, NULL, per);
    ck_assert_double_eq_tol(per[0], 0.5 * (1 + 4) / 0.25 + 2 * log(0.5) +
                                        log(2 * 3.14159265358979323846), 1e-5);
}
END_TEST

/* gaussian_learned: [mu | u] per row; the log-variance is u well above the
 * bound, and never below it however negative u is. */
START_TEST(gaussian_learned_known_values)
{
    const ae_likelihood_ops *o = ae_likelihood_get(AE_LIK_GAUSSIAN_LEARNED);
    ck_assert_int_eq(o->outputs, 2);
    const double half_log_2pi = 0.5 * log(2 * 3.14159265358979323846);
    /* mu = 1, u = 2 (lv = 2 + softplus(8) - 8 ~ 2.000335), x = 3 */
    float y[2] = {1.0f, 2.0f}, x[1] = {3.0f};
    double per[1];
    o->nll(NULL, 1, 1, y, x, 1.0f, NULL, per);
    double lv = -6.0 + log1p(exp(8.0));
    ck_assert_double_eq_tol(per[0], half_log_2pi + 0.5 * (lv + 4.0 * exp(-lv)), 1e-5);
    /* u = -1000: lv = -6 exactly (float), so a perfect prediction costs
     * 0.5 * (log 2 pi - 6), finitely */
    float y2[2] = {0.25f, -1000.0f}, x2[1] = {0.25f};
    o->nll(NULL, 1, 1, y2, x2, 1.0f, NULL, per);
    ck_assert_double_eq_tol(per[0], half_log_2pi - 3.0, 1e-5);
    /* the density integrates to 1 over x (midpoint rule, mu = 0.3, u = -1) */
    double mass = 0.0;
    float y3[2] = {0.3f, -1.0f};
    for (int i = 0; i < 40000; i++) {
        float xi = (float)(-10.0 + 20.0 * (i + 0.5) / 40000);
        o->nll(NULL, 1, 1, y3, &xi, 1.0f, NULL, per);
        mass += exp(-per[0]) * 20.0 / 40000;
    }
    ck_assert_double_eq_tol(mass, 1.0, 1e-4);
}
END_TEST

START_TEST(fast_exp_log1p_accuracy)
{
    /* Against libm in double over their whole domains, densely. */
    double worst_exp = 0, worst_log = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f * (float)i / 2000000.0f;
        double want = exp((double)x);
        double rel = fabs(ae_fast_exp_neg(x) - want) / want;
        worst_exp = rel > worst_exp ? rel : worst_exp;
        float e = (float)i / 2000000.0f;
        double lw = log1p((double)e);
        if (lw > 0) {
            double rl = fabs(ae_fast_log1p01(e) - lw) / lw;
            worst_log = rl > worst_log ? rl : worst_log;
        }
    }
    for (int k = 1; k < 40; k++) { /* tiny arguments: log1p(e) = e */
        float e = ldexpf(1.0f, -k * 3);
        double rl = fabs(ae_fast_log1p01(e) - log1p((double)e)) / log1p((double)e);
        worst_log = rl > worst_log ? rl : worst_log;
    }
    ck_assert_msg(worst_exp < 3e-7, "fast exp: worst relative error %g", worst_exp);
    ck_assert_msg(worst_log < 3e-7, "fast log1p: worst relative error %g", worst_log);
    ck_assert_float_eq(ae_fast_exp_neg(0.0f), 1.0f);
    ck_assert(ae_fast_exp_neg(-1000.0f) >= 0.0f && ae_fast_exp_neg(-1000.0f) < 1e-37f);
}
END_TEST

START_TEST(bernoulli_known_values)
{
    /* -log sigmoid(0) = log 2; a huge wrong logit costs its size, finitely. */
    float l[3] = {0.0f, 100.0f, -100.0f}, x[3] = {1.0f, 0.0f, 0.0f};
    double per[1];
    ae_bernoulli_nll(1, 3, l, x, 1.0f, NULL, per);
    ck_assert_double_eq_tol(per[0], log(2.0) + 100.0 + 0.0, 1e-4);
}
END_TEST

START_TEST(gaussian_known_value)
{
    float y[2] = {1.0f, 3.0f}, x[2] = {0.0f, 1.0f};
    double per[1];
    ae_gaussian_nll(1, 2, y, x, 1.0f, NULL, per);
    ck_assert_double_eq_tol(per[0], 0.5 * (1 + 4) + log(2 * 3.14159265358979323846), 1e-6);
}
END_TEST

START_TEST(kl_gradient_and_value)
{
    enum { B = 2, L = 3 };
    float h[B * 2 * L], dh[B * 2 * L] = {0};
    ae_rng r;
    ae_rng_seed(&r, 9);
    fill_uniform(&r, h, B * 2 * L, -2, 2);
    double per[B];
    ae_kl_normal(B, L, h, h + L, 2 * L, per);
    /* closed form for the first row by hand */
    double want = 0;
    for (int j = 0; j < L; j++)
        want += -0.5 * (1 + h[L + j] - h[j] * h[j] - exp(h[L + j]));
    ck_assert_double_eq_tol(per[0], want, 1e-5);
    ae_kl_normal_backward(B, L, h, h + L, 2 * L, 1.0f, dh, dh + L, 2 * L);
    for (size_t i = 0; i < B * 2 * L; i++) {
        float keep = h[i];
        h[i] = keep + FD_H;
        double up = ae_kl_normal(B, L, h, h + L, 2 * L, NULL);
        h[i] = keep - FD_H;
        double down = ae_kl_normal(B, L, h, h + L, 2 * L, NULL);
        h[i] = keep;
        check_close(dh[i], (up - down) / (2 * FD_H), "kl", i);
    }
    /* KL of the prior against itself is zero. */
    float zero[2 * L] = {0};
    ck_assert_double_eq_tol(ae_kl_normal(1, L, zero, zero + L, 2 * L, NULL), 0.0, 1e-12);
}
END_TEST

/* The whole model: every parameter, with the same noise in every evaluation
 * (the generator is re-seeded before each forward pass, so eps, eps2 and
 * the contractive probes repeat). */
static const int32_t LABELS[3] = {2, 0, 1};

static double model_loss(ae_model *m, size_t B, const float *x, float beta)
{
    ae_rng rng;
    ae_rng_seed(&rng, 1234);
    ae_loss l;
    ae_model_forward(m, B, x, x, m->classes ? LABELS : NULL, &rng, beta, &l);
    return l.loss * (double)B; /* sum over the batch: larger, better-scaled differences */
}

static ae_config small_config(ae_model_type type, ae_likelihood lik, ae_activation act)
{
    ae_config cfg;
    ae_config_defaults(&cfg);
    cfg.model.type = type;
    cfg.model.likelihood = lik;
    cfg.model.activation = act;
    cfg.model.n_encoder = 2;
    cfg.model.encoder[0] = 5;
    cfg.model.encoder[1] = 4;
    cfg.model.n_decoder = 1;
    cfg.model.decoder[0] = 4;
    cfg.model.latent = 3;
    return cfg;
}

static void check_model_cfg(const ae_config *cfg, const char *what)
{
    enum { B = 3, D = 6 };
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, cfg, D, B, NULL), AE_OK);
    ae_rng r;
    ae_rng_seed(&r, 11);
    ae_model_init_weights(&m, &r);
    /* nonzero biases so that every bias gradient is exercised */
    fill_uniform(&r, m.params, m.n_params, -0.8f, 0.8f);
    float x[B * D];
    fill_uniform(&r, x, B * D, 0, 1);
    float beta = 0.7f;
    model_loss(&m, B, x, beta);
    memset(m.grads, 0, m.n_params * sizeof(float));
    ae_model_backward(&m, beta);
    float *g = malloc(m.n_params * sizeof(float));
    memcpy(g, m.grads, m.n_params * sizeof(float));
    for (size_t i = 0; i < m.n_params; i++) {
        float keep = m.params[i];
        m.params[i] = keep + FD_H;
        double up = model_loss(&m, B, x, beta);
        m.params[i] = keep - FD_H;
        double down = model_loss(&m, B, x, beta);
        m.params[i] = keep;
        check_close((double)g[i] * B, (up - down) / (2 * FD_H), what, i);
    }
    free(g);
    ae_model_free(&m);
}

static void check_model(ae_model_type type, ae_likelihood lik, ae_activation act)
{
    ae_config cfg = small_config(type, lik, act);
    check_model_cfg(&cfg, "model param");
}

START_TEST(model_vae_bernoulli)
{
    check_model(AE_MODEL_VAE, AE_LIK_BERNOULLI, (ae_activation)_i);
}
END_TEST

START_TEST(model_vae_gaussian)
{
    check_model(AE_MODEL_VAE, AE_LIK_GAUSSIAN, AE_ACT_TANH);
    check_model(AE_MODEL_VAE, AE_LIK_GAUSSIAN, AE_ACT_ELU);
}
END_TEST

START_TEST(model_ae_every_likelihood)
{
    check_model(AE_MODEL_AE, AE_LIK_BERNOULLI, AE_ACT_SIGMOID);
    check_model(AE_MODEL_AE, AE_LIK_GAUSSIAN, AE_ACT_LEAKY_RELU);
    check_model(AE_MODEL_AE, AE_LIK_CONTINUOUS_BERNOULLI, AE_ACT_TANH);
    check_model(AE_MODEL_VAE, AE_LIK_CONTINUOUS_BERNOULLI, AE_ACT_RELU);
    check_model(AE_MODEL_AE, AE_LIK_GAUSSIAN_LEARNED, AE_ACT_ELU);
    check_model(AE_MODEL_VAE, AE_LIK_GAUSSIAN_LEARNED, AE_ACT_TANH);
    ae_config c = small_config(AE_MODEL_VAE, AE_LIK_GAUSSIAN, AE_ACT_TANH);
    c.model.gaussian_std = 0.4;
    check_model_cfg(&c, "vae gaussian std 0.4");
}
END_TEST

START_TEST(model_tied)
{
    /* shared weights get gradient from both their uses */
    ae_config c = small_config(AE_MODEL_AE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.n_decoder = 2; /* mirrored: encoder [5, 4], decoder [4, 5] */
    c.model.decoder[0] = 4;
    c.model.decoder[1] = 5;
    c.model.tied = true;
    check_model_cfg(&c, "tied ae");
    c.model.type = AE_MODEL_VAE;
    check_model_cfg(&c, "tied vae");
}
END_TEST

START_TEST(model_cvae)
{
    ae_config c = small_config(AE_MODEL_CVAE, AE_LIK_BERNOULLI, AE_ACT_ELU);
    c.model.classes = 3;
    check_model_cfg(&c, "cvae");
}
END_TEST

START_TEST(model_hvae)
{
    ae_config c = small_config(AE_MODEL_HVAE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.latent2 = 2;
    c.model.n_hidden2 = 1;
    c.model.hidden2[0] = 4;
    check_model_cfg(&c, "hvae");
    c.model.likelihood = AE_LIK_GAUSSIAN;
    c.model.n_hidden2 = 0;
    check_model_cfg(&c, "hvae gaussian, no hidden2");
}
END_TEST

START_TEST(model_sparsity)
{
    ae_config c = small_config(AE_MODEL_AE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.sparsity.type = AE_SPARSE_L1;
    c.model.sparsity.weight = 0.3;
    check_model_cfg(&c, "l1 sparsity");
    c.model.code_activation = AE_ACT_SIGMOID;
    c.model.sparsity.type = AE_SPARSE_KL;
    c.model.sparsity.rho = 0.1;
    c.model.sparsity.weight = 0.5;
    check_model_cfg(&c, "kl sparsity");
    c.model.code_activation = AE_ACT_LINEAR;
    c.model.sparsity.type = AE_SPARSE_TOPK;
    c.model.latent = 6;
    c.model.sparsity.k = 3;
    check_model_cfg(&c, "topk");
}
END_TEST

START_TEST(model_contractive)
{
    /* one layer: the closed form, under every smooth code activation */
    ae_activation acts[] = {AE_ACT_SIGMOID, AE_ACT_TANH, AE_ACT_ELU, AE_ACT_LINEAR};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        ae_config c = small_config(AE_MODEL_AE, AE_LIK_BERNOULLI, AE_ACT_TANH);
        c.model.n_encoder = 0;
        c.model.code_activation = acts[k];
        c.model.contractive = 0.4;
        check_model_cfg(&c, "contractive, one layer");
    }
    /* deeper: the Hutchinson estimate with fixed probes, differentiated
     * through the tangent pass (second derivatives of the activations) */
    ae_config c = small_config(AE_MODEL_AE, AE_LIK_GAUSSIAN, AE_ACT_TANH);
    c.model.code_activation = AE_ACT_SIGMOID;
    c.model.contractive = 0.4;
    c.model.contractive_samples = 2;
    check_model_cfg(&c, "contractive, deep tanh");
    c.model.activation = AE_ACT_ELU;
    check_model_cfg(&c, "contractive, deep elu");
    c.model.sparsity.type = AE_SPARSE_L1; /* penalties combine */
    c.model.sparsity.weight = 0.2;
    check_model_cfg(&c, "contractive + l1");
}
END_TEST

START_TEST(contractive_closed_form_matches_jacobian)
{
    /* The one-layer penalty equals ||J||_F^2 computed by finite differences
     * of the code, and the deep estimator averages to it. */
    enum { D = 6 };
    ae_config c = small_config(AE_MODEL_AE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.contractive = 1.0;
    c.model.contractive_samples = 1;
    for (int deep = 0; deep < 2; deep++) {
        c.model.n_encoder = deep ? 2 : 0;
        c.model.code_activation = AE_ACT_SIGMOID;
        ae_model m;
        ck_assert_int_eq(ae_model_init(&m, &c, D, 1, NULL), AE_OK);
        ae_rng r;
        ae_rng_seed(&r, 21);
        fill_uniform(&r, m.params, m.n_params, -1, 1);
        float x[D], code_up[3], code_dn[3];
        fill_uniform(&r, x, D, 0, 1);
        double jf = 0; /* ||J||_F^2 by central differences in double-ish precision */
        for (int i = 0; i < D; i++) {
            float keep = x[i];
            x[i] = keep + 1e-2f;
            ae_model_encode(&m, 1, x, NULL, code_up, NULL);
            x[i] = keep - 1e-2f;
            ae_model_encode(&m, 1, x, NULL, code_dn, NULL);
            x[i] = keep;
            for (int j = 0; j < 3; j++) {
                double d = (code_up[j] - code_dn[j]) / 2e-2;
                jf += d * d;
            }
        }
        double est = 0;
        int trials = deep ? 4000 : 1;
        for (int t = 0; t < trials; t++) {
            ae_loss l;
            ae_model_forward(&m, 1, x, x, NULL, &r, 0, &l);
            est += l.reg;
        }
        est /= trials;
        ck_assert_msg(fabs(est - jf) < (deep ? 0.05 : 0.002) * jf + 1e-6,
                      "%s: penalty %g vs ||J||^2 %g", deep ? "deep" : "one layer", est, jf);
        ae_model_free(&m);
    }
}
END_TEST

/* Data-parallel slices (ae_model_set_part): the rows of a batch split into
 * slices, each run with the generator as the whole batch starts it, give
 * loss terms and gradients that add up to the whole batch's, and leave the
 * generator where the whole batch leaves it. */
static void check_slices_cfg(const ae_config *cfg, const char *what)
{
    enum { B = 5, D = 6 };
    static const int32_t labels[B] = {0, 2, 1, 1, 0};
    const size_t cuts[][4] = {{0, 2, 5, 0}, {0, 1, 3, 5}, {0, 0, 5, 0}}; /* an empty slice too */
    const int n_cuts[] = {3, 4, 3};
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, cfg, D, B, NULL), AE_OK);
    ae_rng r;
    ae_rng_seed(&r, 5);
    ae_model_init_weights(&m, &r);
    fill_uniform(&r, m.params, m.n_params, -0.8f, 0.8f);
    float x[B * D];
    fill_uniform(&r, x, B * D, 0, 1);
    const int32_t *y = m.classes ? labels : NULL;
    float *whole = malloc(m.n_params * sizeof(float));
    ae_rng start, after;
    ae_rng_seed(&start, 77);
    after = start;
    ae_loss lw;
    memset(m.grads, 0, m.n_params * sizeof(float));
    ae_model_forward(&m, B, x, x, y, &after, 0.7f, &lw);
    ae_model_backward(&m, 0.7f);
    memcpy(whole, m.grads, m.n_params * sizeof(float));
    for (int c = 0; c < 3; c++) {
        memset(m.grads, 0, m.n_params * sizeof(float));
        double recon = 0, kl = 0, reg = 0;
        for (int k = 0; k + 1 < n_cuts[c]; k++) {
            size_t first = cuts[c][k], rows = cuts[c][k + 1] - first;
            ae_rng g = start;
            ae_loss l;
            ae_model_set_part(&m, first, B);
            ae_model_forward(&m, rows, x + first * D, x + first * D, y ? y + first : NULL, &g,
                             0.7f, &l);
            ae_model_backward(&m, 0.7f);
            ae_model_set_part(&m, 0, 0);
            ck_assert_msg(memcmp(&g, &after, sizeof g) == 0, "%s: a slice left the generator "
                          "elsewhere than the whole batch", what);
            recon += l.recon;
            kl += l.kl;
            reg += l.reg;
        }
        ck_assert_msg(fabs(recon - lw.recon) <= 1e-5 * fmax(1, fabs(lw.recon)) &&
                          fabs(kl - lw.kl) <= 1e-5 * fmax(1, fabs(lw.kl)) &&
                          fabs(reg - lw.reg) <= 1e-5 * fmax(1, fabs(lw.reg)),
                      "%s: slice losses %g %g %g, whole batch %g %g %g", what, recon, kl, reg,
                      lw.recon, lw.kl, lw.reg);
        for (size_t i = 0; i < m.n_params; i++)
            ck_assert_msg(fabsf(m.grads[i] - whole[i]) <= 1e-5f * fmaxf(1, fabsf(whole[i])),
                          "%s, cut %d: gradient %zu: slices %g, whole batch %g", what, c, i,
                          (double)m.grads[i], (double)whole[i]);
    }
    free(whole);
    ae_model_free(&m);
}

START_TEST(model_slices_add_up)
{
    ae_config c = small_config(AE_MODEL_VAE, AE_LIK_BERNOULLI, AE_ACT_RELU);
    check_slices_cfg(&c, "vae");
    c.model.likelihood = AE_LIK_GAUSSIAN;
    check_slices_cfg(&c, "vae gaussian");
    c = small_config(AE_MODEL_CVAE, AE_LIK_BERNOULLI, AE_ACT_ELU);
    c.model.classes = 3;
    check_slices_cfg(&c, "cvae");
    c = small_config(AE_MODEL_HVAE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.latent2 = 2;
    c.model.n_hidden2 = 1;
    c.model.hidden2[0] = 4;
    check_slices_cfg(&c, "hvae");
    c = small_config(AE_MODEL_AE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.sparsity.type = AE_SPARSE_L1;
    c.model.sparsity.weight = 0.3;
    check_slices_cfg(&c, "l1 sparsity");
    c.model.sparsity.type = AE_SPARSE_TOPK;
    c.model.latent = 3;
    c.model.sparsity.k = 2;
    check_slices_cfg(&c, "topk");
    c = small_config(AE_MODEL_AE, AE_LIK_GAUSSIAN, AE_ACT_TANH);
    c.model.code_activation = AE_ACT_SIGMOID;
    c.model.contractive = 0.4;
    c.model.contractive_samples = 2;
    check_slices_cfg(&c, "contractive, deep (probes)");
    c.model.n_encoder = 0;
    check_slices_cfg(&c, "contractive, one layer");
    c = small_config(AE_MODEL_VAE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.n_decoder = 2;
    c.model.decoder[0] = 4;
    c.model.decoder[1] = 5;
    c.model.tied = true;
    check_slices_cfg(&c, "tied vae");
}
END_TEST

START_TEST(param_views_cover_block)
{
    /* The named tensors tile the parameter block exactly once. */
    ae_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.model.type = AE_MODEL_VAE;
    cfg.model.n_encoder = 1;
    cfg.model.encoder[0] = 7;
    cfg.model.n_decoder = 1;
    cfg.model.decoder[0] = 7;
    cfg.model.latent = 2;
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, &cfg, 10, 4, NULL), AE_OK);
    ae_param_view v[AE_MAX_PARAM_VIEWS];
    size_t n = ae_model_param_views(&m, v, AE_MAX_PARAM_VIEWS);
    ck_assert_uint_eq(n, 10); /* enc.0 w/b, mu w/b, logvar w/b, dec.0 w/b, dec.1 w/b */
    char *seen = calloc(m.n_params, 1);
    for (size_t k = 0; k < n; k++) {
        size_t count = v[k].rows * (v[k].cols ? v[k].cols : 1);
        for (size_t i = 0; i < count; i++) {
            ck_assert_int_eq(seen[v[k].offset + i], 0);
            seen[v[k].offset + i] = 1;
        }
    }
    for (size_t i = 0; i < m.n_params; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_str_eq(v[2].name, "encoder.mu.weight");
    ck_assert_str_eq(v[4].name, "encoder.logvar.weight");
    free(seen);
    ae_model_free(&m);
}
END_TEST

START_TEST(logvar_clamp_blocks_gradient)
{
    /* A head pushed far past the clamp passes no log-variance gradient. */
    ae_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.model.type = AE_MODEL_VAE;
    cfg.model.latent = 1;
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, &cfg, 2, 1, NULL), AE_OK);
    /* no hidden layers: enc[0] is the head [2 x 2]; logvar bias huge */
    m.params[m.enc.layer[0].b_off + 1] = 100.0f;
    float x[2] = {0.5f, 0.5f};
    ae_rng eps;
    ae_rng_seed(&eps, 1);
    ae_model_forward(&m, 1, x, x, NULL, &eps, 1.0f, NULL);
    ck_assert_float_eq(m.enc.out[0][1], AE_LOGVAR_MAX);
    memset(m.grads, 0, m.n_params * sizeof(float));
    ae_model_backward(&m, 1.0f);
    ck_assert_float_eq(m.grads[m.enc.layer[0].b_off + 1], 0.0f);
    ae_model_free(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("layers");
    TCase *t = tcase_create("gradients");
    tcase_add_loop_test(t, dense_each_activation, AE_ACT_RELU, AE_ACT_LINEAR + 1);
    tcase_add_test(t, backward_accumulates);
    tcase_add_test(t, activation_values);
    tcase_add_test(t, bernoulli_gradient);
    tcase_add_test(t, gaussian_gradient);
    tcase_add_test(t, continuous_bernoulli_gradient);
    tcase_add_test(t, continuous_bernoulli_normalised);
    tcase_add_test(t, likelihood_table_complete);
    tcase_add_test(t, likelihood_table_gradients);
    tcase_add_test(t, gaussian_std_known_value);
    tcase_add_test(t, gaussian_learned_known_values);
    tcase_add_test(t, fast_exp_log1p_accuracy);
    tcase_add_test(t, bernoulli_known_values);
    tcase_add_test(t, gaussian_known_value);
    tcase_add_test(t, kl_gradient_and_value);
    tcase_add_loop_test(t, model_vae_bernoulli, AE_ACT_RELU, AE_ACT_LINEAR + 1);
    tcase_add_test(t, model_vae_gaussian);
    tcase_add_test(t, model_ae_every_likelihood);
    tcase_add_test(t, model_tied);
    tcase_add_test(t, model_cvae);
    tcase_add_test(t, model_hvae);
    tcase_add_test(t, model_sparsity);
    tcase_add_test(t, model_contractive);
    tcase_add_test(t, contractive_closed_form_matches_jacobian);
    tcase_add_test(t, model_slices_add_up);
    tcase_add_test(t, param_views_cover_block);
    tcase_add_test(t, logvar_clamp_blocks_gradient);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
