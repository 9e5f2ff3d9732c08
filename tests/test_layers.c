#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* Finite-difference gradient checks for every layer, activation, likelihood,
 * and the KL term (the whole models: test_model.c). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/config.h"
#include "ae/layer.h"
#include "ae/likelihood.h"
#include "ae/rng.h"
#include "nn/layers.h"
#include "base/simd.h"
#include "testutil.h"

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
    tu_fill_uniform(&r, params, IN * OUT + OUT, -1, 1);
    tu_fill_uniform(&r, x, B * IN, -1, 1);
    tu_fill_uniform(&r, R, B * OUT, -1, 1);
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
        tu_check_close(grads[i], (up - down) / (2 * FD_H), ae_activation_name(act), i);
    }
    for (size_t i = 0; i < B * IN; i++) {
        float keep = x[i];
        x[i] = keep + FD_H;
        double up = dense_objective(&l, params, B, x, R, y);
        x[i] = keep - FD_H;
        double down = dense_objective(&l, params, B, x, R, y);
        x[i] = keep;
        tu_check_close(dx[i], (up - down) / (2 * FD_H), "dx", i);
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
    tu_fill_uniform(&r, params, IN * OUT + OUT, -1, 1);
    tu_fill_uniform(&r, x, B * IN, -1, 1);
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
    tu_fill_uniform(&r, l, B * D, -4, 4);
    tu_fill_uniform(&r, x, B * D, 0, 1);
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
        tu_check_close(d[i], (up - down) / (2 * FD_H), "nll", i);
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
        tu_check_close(d[i], (up - down) / (2 * FD_H), "continuous bernoulli near 0", i);
    }
}
END_TEST

/* Softmax cross-entropy: the gradient by central differences, the
 * probabilities sum to 1, a known value, huge logits stay finite, and the
 * count of rows predicted right. */
START_TEST(softmax_xent_gradient_and_values)
{
    enum { B = 3, C = 4 };
    float l[B * C], d[B * C], p[B * C];
    const int32_t y[B] = {2, 0, 3};
    for (int i = 0; i < B * C; i++)
        l[i] = 0.37f * (float)(i % 5) - 0.6f + 0.05f * (float)i;
    double per[B];
    size_t right;
    double total = ae_softmax_xent(B, C, l, y, 1.0f, d, per, p, &right);
    ck_assert_double_eq_tol(total, per[0] + per[1] + per[2], 1e-9);
    for (int i = 0; i < B * C; i++) {
        float keep = l[i];
        l[i] = keep + FD_H;
        double up = ae_softmax_xent(B, C, l, y, 1.0f, NULL, NULL, NULL, NULL);
        l[i] = keep - FD_H;
        double down = ae_softmax_xent(B, C, l, y, 1.0f, NULL, NULL, NULL, NULL);
        l[i] = keep;
        tu_check_close(d[i], (up - down) / (2 * FD_H), "softmax xent", i);
    }
    size_t expect = 0;
    for (int r = 0; r < B; r++) {
        double sum = 0;
        int best = 0;
        for (int k = 0; k < C; k++) {
            sum += p[r * C + k];
            best = l[r * C + k] > l[r * C + best] ? k : best;
        }
        ck_assert_double_eq_tol(sum, 1.0, 1e-6);
        expect += best == y[r];
    }
    ck_assert_uint_eq(right, expect);
    /* equal logits: log C */
    float flat[C] = {5, 5, 5, 5};
    const int32_t y0 = 1;
    ck_assert_double_eq_tol(ae_softmax_xent(1, C, flat, &y0, 1.0f, NULL, NULL, NULL, NULL),
                            log((double)C), 1e-6);
    /* logits far beyond exp's range: the label's is the largest, loss ~0 */
    float big[C] = {1e30f, -1e30f, 3e4f, 0};
    const int32_t yb = 0;
    double v = ae_softmax_xent(1, C, big, &yb, 1.0f, NULL, NULL, NULL, NULL);
    ck_assert(isfinite(v) && v < 1e-6);
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
            tu_fill_uniform(&r, y, B * DY, -3, 3);
            tu_fill_uniform(&r, x, B * D, 0, 1);
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
                tu_check_close(d[i], (up - down) / (2 * FD_H), what, i);
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

/* Every likelihood with missing targets (NaN): a row's value is the value
 * of the same row with only its observed features (a narrower problem
 * built by hand), and the gradient is that row's gradient on the observed
 * features and exactly 0 on the missing ones; a row with every target
 * missing is 0. */
START_TEST(likelihood_table_missing_targets)
{
    enum { B = 3, D = 6 };
    const bool missing[B][D] = {{0, 1, 0, 0, 1, 0}, {0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1}};
    const float stds[] = {1.0f, 0.37f};
    for (int k = 0; k < AE_LIK_COUNT; k++) {
        const ae_likelihood_ops *o = ae_likelihood_get((ae_likelihood)k);
        const size_t P = o->outputs; /* parameters per feature, blocks of D in a row */
        for (size_t s = 0; s < sizeof stds / sizeof stds[0]; s++) {
            ae_likelihood_params p = ae_likelihood_params_default();
            p.gaussian_std = stds[s];
            float y[B * 2 * D], x[B * D], d[B * 2 * D];
            double per[B];
            ae_rng r;
            ae_rng_seed(&r, 91 + (unsigned)k);
            tu_fill_uniform(&r, y, B * P * D, -3, 3);
            tu_fill_uniform(&r, x, B * D, 0, 1);
            for (size_t i = 0; i < B; i++)
                for (size_t j = 0; j < D; j++)
                    if (missing[i][j])
                        x[i * D + j] = NAN;
            double total = o->nll(&p, B, D, y, x, 1.0f, d, per);
            ck_assert_double_eq_tol(total, per[0] + per[1] + per[2], 1e-9);
            for (size_t i = 0; i < B; i++) {
                /* the observed features of row i, as a row of their own */
                float ys[2 * D], xs[D], ds[2 * D];
                size_t n = 0, at[D];
                for (size_t j = 0; j < D; j++)
                    if (!missing[i][j])
                        at[n++] = j;
                for (size_t q = 0; q < n; q++) {
                    xs[q] = x[i * D + at[q]];
                    for (size_t b = 0; b < P; b++)
                        ys[b * n + q] = y[i * P * D + b * D + at[q]];
                }
                double want = n ? o->nll(&p, 1, n, ys, xs, 1.0f, ds, NULL) : 0.0;
                ck_assert_msg(fabs(per[i] - want) <= 1e-6 * (1 + fabs(want)),
                              "%s (std %g) row %zu: %.9g, observed features alone %.9g", o->name,
                              (double)stds[s], i, per[i], want);
                for (size_t b = 0; b < P; b++)
                    for (size_t j = 0, q = 0; j < D; j++) {
                        float g = d[i * P * D + b * D + j];
                        if (missing[i][j])
                            ck_assert_msg(g == 0.0f, "%s: gradient %g at a missing target",
                                          o->name, (double)g);
                        else
                            ck_assert_msg(fabsf(g - ds[b * n + q++]) <= 1e-6f, "%s: gradient",
                                          o->name);
                    }
            }
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
    tu_fill_uniform(&r, h, B * 2 * L, -2, 2);
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
        tu_check_close(dh[i], (up - down) / (2 * FD_H), "kl", i);
    }
    /* KL of the prior against itself is zero. */
    float zero[2 * L] = {0};
    ck_assert_double_eq_tol(ae_kl_normal(1, L, zero, zero + L, 2 * L, NULL), 0.0, 1e-12);
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
    tcase_add_test(t, likelihood_table_missing_targets);
    tcase_add_test(t, gaussian_std_known_value);
    tcase_add_test(t, gaussian_learned_known_values);
    tcase_add_test(t, fast_exp_log1p_accuracy);
    tcase_add_test(t, bernoulli_known_values);
    tcase_add_test(t, gaussian_known_value);
    tcase_add_test(t, kl_gradient_and_value);
    tcase_add_test(t, softmax_xent_gradient_and_values);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite_each_backend(suite);
}
