#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* Adam and SGD single steps against values computed by hand. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae/config.h"
#include "ae/optim.h"
#include "testutil.h"

static ae_config base(ae_optimizer kind)
{
    ae_config c;
    memset(&c, 0, sizeof c);
    c.train.optimizer = kind;
    c.train.lr = 0.1;
    c.train.adam_beta1 = 0.9;
    c.train.adam_beta2 = 0.999;
    c.train.adam_eps = 1e-8;
    c.train.momentum = 0.9;
    return c;
}

START_TEST(adam_two_steps)
{
    ae_config c = base(AE_OPT_ADAM);
    ae_optim o;
    ck_assert_int_eq(ae_optim_init(&o, ae_config_optim(&c), 2, NULL), AE_OK);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -4.0f};
    /* Step 1: m = 0.1 g, v = 0.001 g^2; mhat = g, vhat = g^2, so each parameter
     * moves by lr * g/|g| = 0.1 against the sign of g (up to eps). */
    ae_optim_step(&o, p, g);
    ck_assert_double_eq_tol(p[0], 0.9, 1e-6);
    ck_assert_double_eq_tol(p[1], -1.9, 1e-6);
    /* Step 2 with g' = 1.5 for p[0]: m = 0.9*0.05 + 0.1*1.5 = 0.195,
     * v = 0.999*0.00025 + 0.001*2.25 = 0.00249975; bias corrections
     * 1 - 0.81 = 0.19 and 1 - 0.998001 = 0.001999:
     * step = 0.1 * (0.195/0.19) / sqrt(0.00249975/0.001999). */
    float g2[2] = {1.5f, 0.0f};
    ae_optim_step(&o, p, g2);
    double want = 0.9 - 0.1 * (0.195 / 0.19) / sqrt(0.00249975 / 0.001999);
    ck_assert_double_eq_tol(p[0], want, 1e-6);
    ck_assert_uint_eq(o.t, 2);
    /* the step consumed the gradients and left them zero for the next backward */
    ck_assert_float_eq(g2[0], 0.0f);
    ck_assert_float_eq(g[1], 0.0f);
    ae_optim_free(&o);
}
END_TEST

START_TEST(adam_weight_decay)
{
    ae_config c = base(AE_OPT_ADAM);
    c.train.weight_decay = 0.5;
    ae_optim o;
    ck_assert_int_eq(ae_optim_init(&o, ae_config_optim(&c), 1, NULL), AE_OK);
    /* g = 0 + 0.5 * 2 = 1 > 0: the first step moves p down by lr. */
    float p[1] = {2.0f}, g[1] = {0.0f};
    ae_optim_step(&o, p, g);
    ck_assert_double_eq_tol(p[0], 1.9, 1e-6);
    ae_optim_free(&o);
}
END_TEST

START_TEST(sgd_momentum_two_steps)
{
    ae_config c = base(AE_OPT_SGD);
    ae_optim o;
    ck_assert_int_eq(ae_optim_init(&o, ae_config_optim(&c), 1, NULL), AE_OK);
    ck_assert_ptr_null(o.v);
    float p[1] = {1.0f}, g[1] = {2.0f};
    ae_optim_step(&o, p, g); /* m = 2, p = 1 - 0.2 = 0.8 */
    ck_assert_double_eq_tol(p[0], 0.8, 1e-6);
    g[0] = -1.0f;
    ae_optim_step(&o, p, g); /* m = 0.9*2 - 1 = 0.8, p = 0.8 - 0.08 = 0.72 */
    ck_assert_double_eq_tol(p[0], 0.72, 1e-6);
    ae_optim_free(&o);
}
END_TEST

START_TEST(sgd_plain_with_decay)
{
    ae_config c = base(AE_OPT_SGD);
    c.train.momentum = 0.0;
    c.train.weight_decay = 0.1;
    ae_optim o;
    ck_assert_int_eq(ae_optim_init(&o, ae_config_optim(&c), 1, NULL), AE_OK);
    float p[1] = {3.0f}, g[1] = {1.0f};
    ae_optim_step(&o, p, g); /* g = 1 + 0.3 = 1.3; p = 3 - 0.13 */
    ck_assert_double_eq_tol(p[0], 2.87, 1e-6);
    ae_optim_free(&o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *t = tcase_create("steps");
    tcase_add_test(t, adam_two_steps);
    tcase_add_test(t, adam_weight_decay);
    tcase_add_test(t, sgd_momentum_two_steps);
    tcase_add_test(t, sgd_plain_with_decay);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
