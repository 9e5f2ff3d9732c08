#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* The model families (src/model/): finite-difference gradient checks of the
 * whole loss of every family and regulariser with fixed noise, data-parallel
 * slices, the named tensors, the family table, and iwae's bound against the
 * evaluation's importance-sampled estimate. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/eval.h"
#include "ae/model.h"
#include "ae/rng.h"
#include "testutil.h"

/* The whole model: every parameter, with the same noise in every evaluation
 * (the generator is re-seeded before each forward pass, so eps, eps2 and
 * the contractive probes repeat). */
static const int32_t LABELS[3] = {2, 0, 1};

static double model_loss(ae_model *m, size_t B, const float *x, float beta)
{
    ae_rng rng;
    ae_rng_seed(&rng, 1234);
    ae_loss l;
    ae_model_forward(m, B, x, x, ae_model_takes_labels(m) ? LABELS : NULL, &rng, beta, &l);
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

/* gaps > 0: every gaps-th input is missing (NaN), in the encoder's input
 * and as a target. */
static void check_model_gaps(const ae_config *cfg, const char *what, int gaps)
{
    enum { B = 3, D = 6 };
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, cfg, D, B, NULL), AE_OK);
    ae_rng r;
    ae_rng_seed(&r, 11);
    ae_model_init_weights(&m, &r);
    /* nonzero biases so that every bias gradient is exercised */
    tu_fill_uniform(&r, m.params, m.n_params, -0.8f, 0.8f);
    float x[B * D];
    tu_fill_uniform(&r, x, B * D, 0, 1);
    for (int q = 1; gaps > 0 && q < B * D; q += gaps)
        x[q] = NAN;
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
        tu_check_close((double)g[i] * B, (up - down) / (2 * FD_H), what, i);
    }
    free(g);
    ae_model_free(&m);
}

static void check_model_cfg(const ae_config *cfg, const char *what)
{
    check_model_gaps(cfg, what, 0);
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

/* Incomplete inputs, with and without the mask as input: missing targets
 * leave the loss, missing inputs enter as the fill (0 here). */
START_TEST(model_missing_inputs)
{
    const ae_model_type types[] = {AE_MODEL_AE, AE_MODEL_VAE, AE_MODEL_CVAE, AE_MODEL_HVAE,
                                   AE_MODEL_IWAE};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
        for (int ind = 0; ind < 2; ind++) {
            ae_config c = small_config(types[k], AE_LIK_GAUSSIAN, AE_ACT_TANH);
            c.model.missing_indicators = ind;
            c.model.classes = types[k] == AE_MODEL_CVAE ? 3 : 0;
            if (types[k] == AE_MODEL_HVAE) {
                c.model.latent2 = 2;
                c.model.n_hidden2 = 1;
                c.model.hidden2[0] = 4;
            }
            check_model_gaps(&c, ind ? "missing inputs, indicators" : "missing inputs", 4);
        }
}
END_TEST

START_TEST(model_cvae)
{
    ae_config c = small_config(AE_MODEL_CVAE, AE_LIK_BERNOULLI, AE_ACT_ELU);
    c.model.classes = 3;
    check_model_cfg(&c, "cvae");
}
END_TEST

/* The classifier: the cross-entropy's gradient through the head and the
 * encoder (every code activation), the named tensors, the probabilities of
 * predict, and a frozen encoder: no gradient reaches it, the head's is the
 * same. */
START_TEST(model_classifier)
{
    const ae_activation acts[] = {AE_ACT_LINEAR, AE_ACT_TANH, AE_ACT_RELU, AE_ACT_SIGMOID};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        ae_config c = small_config(AE_MODEL_CLASSIFIER, AE_LIK_BERNOULLI, AE_ACT_ELU);
        c.model.classes = 3;
        c.model.code_activation = acts[k];
        check_model_cfg(&c, "classifier");
    }
    enum { B = 3, D = 6 };
    ae_config c = small_config(AE_MODEL_CLASSIFIER, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.classes = 3;
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, &c, D, B, NULL), AE_OK);
    ae_param_view v[AE_MAX_PARAM_VIEWS];
    size_t n = ae_model_param_views(&m, v, AE_MAX_PARAM_VIEWS);
    ck_assert_uint_eq(n, 8); /* encoder.0-2 and head.0, weight and bias each */
    ck_assert_str_eq(v[4].name, "encoder.2.weight");
    ck_assert_uint_eq(v[4].rows, 3);
    ck_assert_str_eq(v[6].name, "head.0.weight");
    ck_assert_uint_eq(v[6].rows, 3);
    ck_assert_uint_eq(v[6].cols, 3);
    ae_rng r;
    ae_rng_seed(&r, 5);
    tu_fill_uniform(&r, m.params, m.n_params, -0.8f, 0.8f);
    float x[B * D], p[B * 3];
    tu_fill_uniform(&r, x, B * D, 0, 1);
    ae_model_predict(&m, B, x, p);
    for (int i = 0; i < B; i++)
        ck_assert_double_eq_tol(p[3 * i] + p[3 * i + 1] + p[3 * i + 2], 1.0, 1e-6);
    float *whole = malloc(m.n_params * sizeof(float));
    model_loss(&m, B, x, 1.0f);
    memset(m.grads, 0, m.n_params * sizeof(float));
    ae_model_backward(&m, 1.0f);
    memcpy(whole, m.grads, m.n_params * sizeof(float));
    m.frozen_encoder = true;
    model_loss(&m, B, x, 1.0f);
    memset(m.grads, 0, m.n_params * sizeof(float));
    ae_model_backward(&m, 1.0f);
    size_t head = v[6].offset;
    for (size_t i = 0; i < m.n_params; i++)
        ck_assert_float_eq(m.grads[i], i < head ? 0.0f : whole[i]);
    free(whole);
    ae_model_free(&m);
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


START_TEST(model_iwae)
{
    /* the importance-weighted bound: every sample's share weighted by its
     * normalised weight, through the decoder (B*K rows) and z's prior */
    ae_config c = small_config(AE_MODEL_IWAE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.iw_samples = 3;
    check_model_cfg(&c, "iwae K=3");
    c.model.iw_samples = 1;
    check_model_cfg(&c, "iwae K=1");
    c = small_config(AE_MODEL_IWAE, AE_LIK_GAUSSIAN_LEARNED, AE_ACT_ELU);
    c.model.iw_samples = 4;
    check_model_cfg(&c, "iwae gaussian_learned K=4");
    c = small_config(AE_MODEL_IWAE, AE_LIK_CONTINUOUS_BERNOULLI, AE_ACT_RELU);
    c.model.iw_samples = 2;
    c.model.n_decoder = 2; /* mirrored: encoder [5, 4], decoder [4, 5] */
    c.model.decoder[0] = 4;
    c.model.decoder[1] = 5;
    c.model.tied = true;
    check_model_cfg(&c, "tied iwae, continuous Bernoulli");
}
END_TEST

START_TEST(iwae_loss_is_the_iw_bound)
{
    /* The training loss of an iwae (beta 1) is the evaluation's IWAE
     * estimate -log 1/K sum_k w_k with the very same draws: both take the
     * B*K*L normals of a batch in one fill, example-major. */
    enum { B = 3, K = 4, D = 6 };
    ae_config c = small_config(AE_MODEL_IWAE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.iw_samples = K;
    ae_model m;
    ck_assert_int_eq(ae_model_init(&m, &c, D, B * K, NULL), AE_OK);
    ck_assert_uint_eq(m.max_rows, (size_t)B * K * K);
    ae_rng r;
    ae_rng_seed(&r, 8);
    ae_model_init_weights(&m, &r);
    float x[B * D];
    tu_fill_uniform(&r, x, B * D, 0, 1);
    ae_rng a, b;
    ae_rng_seed(&a, 99);
    b = a;
    ae_loss l;
    ae_model_forward(&m, B, x, x, NULL, &a, 1.0f, &l);
    double nll[B], mean = 0;
    ck_assert_int_eq(ae_eval_iwae(&m, B, x, NULL, K, &b, nll, NULL), AE_OK);
    for (int e = 0; e < B; e++)
        mean += nll[e] / B;
    ck_assert_msg(fabs(l.loss - mean) < 1e-4 * fabs(mean), "training bound %.9g, eval %.9g",
                  l.loss, mean);
    /* and it is no looser than the ELBO estimate of the same samples */
    ck_assert(l.iw <= 1e-9);
    ck_assert(fabs(l.loss - (l.recon + l.kl + l.iw)) < 1e-9 * fabs(l.loss));
    /* without noise (evaluation at z = mu) it is the vae's loss */
    ae_model v;
    c.model.type = AE_MODEL_VAE;
    ck_assert_int_eq(ae_model_init(&v, &c, D, B * K, NULL), AE_OK);
    ck_assert_uint_eq(v.n_params, m.n_params);
    memcpy(v.params, m.params, m.n_params * sizeof(float));
    ae_loss li, lv;
    ae_model_forward(&m, B, x, x, NULL, NULL, 1.0f, &li);
    ae_model_forward(&v, B, x, x, NULL, NULL, 1.0f, &lv);
    ck_assert(li.loss == lv.loss && li.iw == 0.0);
    ae_model_free(&v);
    ae_model_free(&m);
}
END_TEST

START_TEST(family_table)
{
    /* every type has a family whose name finds it again, and builds */
    for (int t = 0; t < AE_MODEL_COUNT; t++) {
        const ae_family *f = ae_family_get((ae_model_type)t);
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(f->ops);
        ck_assert_int_eq(ae_family_find(f->name), t);
        ck_assert_str_eq(ae_model_type_name((ae_model_type)t), f->name);
        ae_config c = small_config((ae_model_type)t, AE_LIK_BERNOULLI, AE_ACT_RELU);
        c.model.classes = f->conditional || f->classifier ? 3 : 0;
        c.model.latent2 = f->hierarchical ? 2 : 0;
        ae_model m;
        ck_assert_int_eq(ae_model_init(&m, &c, 6, 4, NULL), AE_OK);
        ck_assert_ptr_eq(ae_model_family(&m), f);
        /* the named tensors tile the parameter block exactly once */
        ae_param_view v[AE_MAX_PARAM_VIEWS];
        size_t n = ae_model_param_views(&m, v, AE_MAX_PARAM_VIEWS);
        char *seen = calloc(m.n_params, 1);
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < v[k].rows * (v[k].cols ? v[k].cols : 1); i++)
                ck_assert_int_eq(seen[v[k].offset + i]++, 0);
        for (size_t i = 0; i < m.n_params; i++)
            ck_assert_msg(seen[i] == 1, "%s: parameter %zu in no tensor", f->name, i);
        free(seen);
        ae_model_free(&m);
    }
    ck_assert_int_eq(ae_family_find("gan"), AE_MODEL_COUNT);
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
        tu_fill_uniform(&r, m.params, m.n_params, -1, 1);
        float x[D], code_up[3], code_dn[3];
        tu_fill_uniform(&r, x, D, 0, 1);
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
    tu_fill_uniform(&r, m.params, m.n_params, -0.8f, 0.8f);
    float x[B * D];
    tu_fill_uniform(&r, x, B * D, 0, 1);
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
    c = small_config(AE_MODEL_IWAE, AE_LIK_BERNOULLI, AE_ACT_TANH);
    c.model.iw_samples = 3;
    check_slices_cfg(&c, "iwae");
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
    Suite *s = suite_create("model");
    TCase *t = tcase_create("gradients");
    tcase_add_loop_test(t, model_vae_bernoulli, AE_ACT_RELU, AE_ACT_LINEAR + 1);
    tcase_add_test(t, model_vae_gaussian);
    tcase_add_test(t, model_ae_every_likelihood);
    tcase_add_test(t, model_tied);
    tcase_add_test(t, model_cvae);
    tcase_add_test(t, model_missing_inputs);
    tcase_add_test(t, model_hvae);
    tcase_add_test(t, model_iwae);
    tcase_add_test(t, model_sparsity);
    tcase_add_test(t, model_contractive);
    tcase_add_test(t, contractive_closed_form_matches_jacobian);
    tcase_add_test(t, logvar_clamp_blocks_gradient);
    suite_add_tcase(s, t);
    TCase *f = tcase_create("families");
    tcase_add_test(f, model_slices_add_up);
    tcase_add_test(f, param_views_cover_block);
    tcase_add_test(f, iwae_loss_is_the_iw_bound);
    tcase_add_test(f, family_table);
    tcase_add_test(f, model_classifier);
    suite_add_tcase(s, f);
    return s;
}

int main(void)
{
    return tu_run_suite_each_backend(suite);
}
