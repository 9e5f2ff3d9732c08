/* The helper thread of par.c: the loops it shares (the optimizer update, the
 * loss, a wide layer's elementwise passes) give the same bits with and without it, and it survives a fork. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ae/config.h"
#include "ae/optim.h"
#include "nn/layers.h"
#include "base/par.h"
#include "testutil.h"

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffffff) / 16777216.0f;
}

/* Three Adam steps over n parameters; the final parameters and moments. */
static void adam_run(int threads, size_t n, float *p, float *m, float *v)
{
    ae_config c;
    memset(&c, 0, sizeof c);
    c.train.optimizer = AE_OPT_ADAM;
    c.train.lr = 0.01;
    c.train.adam_beta1 = 0.9;
    c.train.adam_beta2 = 0.999;
    c.train.adam_eps = 1e-8;
    c.train.weight_decay = 1e-4;
    ae_par_set_threads(threads);
    ae_optim o;
    ck_assert_int_eq(ae_optim_init(&o, ae_config_optim(&c), n, NULL), AE_OK);
    float *g = malloc(n * sizeof(float));
    unsigned s = 7;
    for (size_t i = 0; i < n; i++)
        p[i] = frand(&s) - 0.5f;
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = (frand(&s) - 0.5f) * 1e-3f;
        ae_optim_step(&o, p, g);
        for (size_t i = 0; i < n; i++)
            ck_assert(g[i] == 0.0f);
    }
    memcpy(m, o.m, n * sizeof(float));
    memcpy(v, o.v, n * sizeof(float));
    free(g);
    ae_optim_free(&o);
    ae_par_set_threads(1);
}

START_TEST(adam_same_bits_with_helper)
{
    size_t n = 100003; /* odd: the halves are not whole vectors */
    float *a = malloc(3 * n * sizeof(float)), *b = malloc(3 * n * sizeof(float));
    adam_run(1, n, a, a + n, a + 2 * n);
    adam_run(2, n, b, b + n, b + 2 * n);
    ck_assert(memcmp(a, b, 3 * n * sizeof(float)) == 0);
    free(a);
    free(b);
}
END_TEST

/* The Bernoulli loss of a B x D batch: total, per-row values and gradients. */
static double nll_run(int threads, size_t B, size_t D, const float *l, const float *x, float *d,
                      double *per)
{
    ae_par_set_threads(threads);
    double total = ae_bernoulli_nll(B, D, l, x, 1.0f / (float)B, d, per);
    ae_par_set_threads(1);
    return total;
}

START_TEST(loss_same_bits_with_helper)
{
    size_t B = 67, D = 785;
    float *l = malloc(B * D * sizeof(float)), *x = malloc(B * D * sizeof(float));
    float *d1 = malloc(B * D * sizeof(float)), *d2 = malloc(B * D * sizeof(float));
    double per1[67], per2[67];
    unsigned s = 11;
    for (size_t i = 0; i < B * D; i++) {
        l[i] = 20.0f * (frand(&s) - 0.5f);
        x[i] = frand(&s);
    }
    double t1 = nll_run(1, B, D, l, x, d1, per1);
    double t2 = nll_run(2, B, D, l, x, d2, per2);
    ck_assert(t1 == t2);
    ck_assert(memcmp(per1, per2, sizeof per1) == 0);
    ck_assert(memcmp(d1, d2, B * D * sizeof(float)) == 0);
    /* without per-example values the same total, one row at a time */
    ck_assert(nll_run(2, B, D, l, x, NULL, NULL) == t1);
    free(l);
    free(x);
    free(d1);
    free(d2);
}
END_TEST

/* A dense layer wide enough that its bias+activation and activation-
 * derivative+bias-gradient passes are split: the same bits as one thread,
 * for every activation. */
static void dense_run(int threads, ae_activation act, float *y, float *grads, float *dx)
{
    size_t B = 160, in = 33, out = 1000, np = in * out + out;
    ae_layer l = {in, out, 0, in * out, act, 0, false};
    float *params = malloc(np * sizeof(float)), *x = malloc(B * in * sizeof(float));
    float *dy = malloc(B * out * sizeof(float));
    unsigned s = 5;
    for (size_t i = 0; i < np; i++)
        params[i] = frand(&s) - 0.5f;
    for (size_t i = 0; i < B * in; i++)
        x[i] = frand(&s) - 0.5f;
    for (size_t i = 0; i < B * out; i++)
        dy[i] = frand(&s) - 0.5f;
    memset(grads, 0, np * sizeof(float));
    ae_par_set_threads(threads);
    ae_dense_forward(&l, params, B, x, NULL, y);
    ae_dense_backward(&l, params, grads, B, x, NULL, y, dy, NULL, dx);
    ae_par_set_threads(1);
    free(params);
    free(x);
    free(dy);
}

START_TEST(dense_same_bits_with_helper)
{
    size_t B = 160, in = 33, out = 1000, np = in * out + out;
    float *a = malloc((B * out + np + B * in) * sizeof(float));
    float *b = malloc((B * out + np + B * in) * sizeof(float));
    ae_activation act = (ae_activation)_i;
    dense_run(1, act, a, a + B * out, a + B * out + np);
    dense_run(2, act, b, b + B * out, b + B * out + np);
    ck_assert(memcmp(a, b, (B * out + np + B * in) * sizeof(float)) == 0);
    free(a);
    free(b);
}
END_TEST

/* The helper is started in this process, then used again in a child. */
START_TEST(helper_after_fork)
{
    size_t n = 50000;
    float *a = malloc(3 * n * sizeof(float)), *b = malloc(3 * n * sizeof(float));
    adam_run(2, n, a, a + n, a + 2 * n);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        adam_run(2, n, b, b + n, b + 2 * n);
        _exit(memcmp(a, b, 3 * n * sizeof(float)) == 0 ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(a);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("par");
    TCase *t = tcase_create("helper");
    tcase_add_test(t, adam_same_bits_with_helper);
    tcase_add_test(t, loss_same_bits_with_helper);
    tcase_add_loop_test(t, dense_same_bits_with_helper, AE_ACT_RELU, AE_ACT_LINEAR + 1);
    tcase_add_test(t, helper_after_fork);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
