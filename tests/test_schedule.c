#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* Learning-rate schedules, early stopping, the best epoch and gradient
 * clipping (src/train/schedule.c, ae_clip_grad_norm): known answers. */
#include <check.h>
#include <math.h>

#include "ae/optim.h"
#include "testutil.h"
#include "train/schedule.h"

static ae_config cfg_with(ae_lr_schedule type)
{
    ae_config c;
    ae_config_defaults(&c);
    c.train.lr = 1e-3;
    c.train.lr_schedule.type = type;
    return c;
}

START_TEST(step_known_answers)
{
    ae_config c = cfg_with(AE_LR_STEP);
    c.train.lr_schedule.step_epochs = 2;
    c.train.lr_schedule.gamma = 0.5;
    ae_schedule_state s;
    ae_schedule_start(&c, &s);
    const double want[6] = {1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4};
    for (int e = 1; e <= 6; e++)
        ck_assert_double_eq_tol(ae_schedule_lr(&c, &s, e), want[e - 1], 1e-15);
}
END_TEST

START_TEST(cosine_known_answers)
{
    ae_config c = cfg_with(AE_LR_COSINE);
    c.train.epochs = 6;
    c.train.lr_schedule.warmup_epochs = 2;
    c.train.lr_schedule.min_lr = 1e-4;
    ae_schedule_state s;
    ae_schedule_start(&c, &s);
    /* warm-up 1/2, 2/2; then min + (lr - min)(1 + cos(pi t / 4)) / 2, t = 0..3 */
    const double span = 9e-4, pi = 3.14159265358979323846;
    const double want[6] = {5e-4, 1e-3, 1e-3, 1e-4 + span * (1 + cos(pi / 4)) / 2,
                            1e-4 + span / 2, 1e-4 + span * (1 + cos(3 * pi / 4)) / 2};
    for (int e = 1; e <= 6; e++)
        ck_assert_double_eq_tol(ae_schedule_lr(&c, &s, e), want[e - 1], 1e-15);
    /* no warm-up: the first epoch runs at lr */
    c.train.lr_schedule.warmup_epochs = 0;
    ck_assert_double_eq_tol(ae_schedule_lr(&c, &s, 1), 1e-3, 1e-15);
}
END_TEST

/* Burda et al. 2016: 10^(-i/7) for 3^i epochs, i = 0..7: 3280 epochs. */
START_TEST(burda_phases)
{
    ae_config c = cfg_with(AE_LR_BURDA);
    ae_schedule_state s;
    ae_schedule_start(&c, &s);
    int epoch = 1;
    long len = 1;
    for (int i = 0; i <= 7; i++, len *= 3)
        for (long k = 0; k < len; k++, epoch++)
            ck_assert_double_eq_tol(ae_schedule_lr(&c, &s, epoch), 1e-3 * pow(10, -i / 7.0),
                                    1e-15);
    ck_assert_int_eq(epoch, 3281);
    ck_assert_double_eq_tol(ae_schedule_lr(&c, &s, 5000), 1e-4, 1e-15);
}
END_TEST

/* ReduceLROnPlateau: the rate drops when more than `patience` epochs in a
 * row have not improved, never below min_lr. */
START_TEST(plateau_known_answers)
{
    ae_config c = cfg_with(AE_LR_PLATEAU);
    c.train.lr_schedule.patience = 1;
    c.train.lr_schedule.factor = 0.5;
    c.train.lr_schedule.min_lr = 3e-4;
    ae_schedule_state s;
    ae_schedule_start(&c, &s);
    const double val[8] = {5, 4, 4, 4.5, 3, 3, 3, 3};
    const double lr_after[8] = {1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 3e-4, 3e-4};
    for (int e = 1; e <= 8; e++) {
        bool best;
        ck_assert(!ae_schedule_end_epoch(&c, &s, e, val[e - 1], &best));
        ck_assert_double_eq_tol(ae_schedule_lr(&c, &s, e + 1), lr_after[e - 1], 1e-15);
    }
}
END_TEST

/* Early stopping: an improvement is a drop by more than min_delta; the best
 * epoch is the strictly lowest loss. */
START_TEST(early_stopping_and_best)
{
    ae_config c = cfg_with(AE_LR_NONE);
    c.train.early_stop_patience = 2;
    c.train.early_stop_min_delta = 0.5;
    ae_schedule_state s;
    ae_schedule_start(&c, &s);
    const double val[5] = {10, 9.4, 9.2, 9.0, 8.8};
    const bool stop_after[5] = {false, false, false, true, true};
    const bool best_at[5] = {true, true, true, true, true};
    for (int e = 1; e <= 4; e++) {
        bool best;
        ck_assert_int_eq(ae_schedule_end_epoch(&c, &s, e, val[e - 1], &best), stop_after[e - 1]);
        ck_assert_int_eq(best, best_at[e - 1]);
    }
    ck_assert_int_eq(s.best_epoch, 4);
    ck_assert_double_eq(s.best_val, 9.0);
    /* no validation loss: nothing moves */
    ae_schedule_start(&c, &s);
    bool best = true;
    ck_assert(!ae_schedule_end_epoch(&c, &s, 1, NAN, &best));
    ck_assert(!best);
    ck_assert_int_eq(s.best_epoch, 0);
    /* a loss that goes up is not the best */
    ck_assert(!ae_schedule_end_epoch(&c, &s, 1, 2.0, &best) && best);
    ck_assert(!ae_schedule_end_epoch(&c, &s, 2, 2.5, &best) && !best);
    ck_assert_int_eq(s.best_epoch, 1);
}
END_TEST

START_TEST(clip_known_answers)
{
    float g[4] = {3, 0, -4, 0}; /* norm 5 */
    ck_assert_double_eq_tol(ae_clip_grad_norm(g, 4, 10.0), 5.0, 1e-12);
    ck_assert_float_eq(g[0], 3.0f); /* below the limit: untouched */
    ck_assert_double_eq_tol(ae_clip_grad_norm(g, 4, 1.0), 5.0, 1e-12);
    ck_assert_float_eq_tol(g[0], 0.6f, 1e-6f);
    ck_assert_float_eq_tol(g[2], -0.8f, 1e-6f);
    double after = sqrt((double)g[0] * g[0] + (double)g[2] * g[2]);
    ck_assert_double_lt(after, 1.0);
    ck_assert_double_gt(after, 1.0 - 1e-5);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *t = tcase_create("schedule");
    tcase_add_test(t, step_known_answers);
    tcase_add_test(t, cosine_known_answers);
    tcase_add_test(t, burda_phases);
    tcase_add_test(t, plateau_known_answers);
    tcase_add_test(t, early_stopping_and_best);
    tcase_add_test(t, clip_known_answers);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
