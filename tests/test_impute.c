#define _XOPEN_SOURCE 700 /* testutil.h: nftw, mkdtemp */
/* Imputation (src/model/impute.c) on hand-set linear models whose rounds
 * have known answers: a round that converges, one that runs away and the
 * hidden-cell check that stops it, the mask a model with
 * model.missing_indicators sees, rows with nothing observed; and masking
 * noise that hides values as missing when training on incomplete data. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae/impute.h"
#include "ae/model.h"
#include "ae/noise.h"
#include "model/family.h"
#include "testutil.h"

/* A linear ae with D = 2 inputs and one code unit, no hidden layers, a
 * Gaussian decoder: z = a . input + c, out = [z, z] (the mean). */
static void linear_model(ae_model *m, bool indicators, const float *a, size_t n_a, size_t B)
{
    ae_config c;
    ae_config_defaults(&c);
    c.model.type = AE_MODEL_AE;
    c.model.likelihood = AE_LIK_GAUSSIAN;
    c.model.n_encoder = 0;
    c.model.n_decoder = 0;
    c.model.latent = 1;
    c.model.missing_indicators = indicators;
    ck_assert_int_eq(ae_model_init(m, &c, 2, B, NULL), AE_OK);
    ck_assert_int_eq(m->enc.n, 1);
    ck_assert_int_eq(m->dec.n, 1);
    ck_assert_uint_eq(m->enc.layer[0].in, n_a);
    memset(m->params, 0, m->n_params * sizeof(float));
    memcpy(m->params + m->enc.layer[0].w_off, a, n_a * sizeof(float));
    m->params[m->dec.layer[0].w_off] = 1.0f;
    m->params[m->dec.layer[0].w_off + 1] = 1.0f;
}

/* z = (x1 + x2) / 2: a missing x2 beside x1 = 1 moves half way to 1 each
 * round, x2_t = 1 - 2^-t. */
START_TEST(rounds_known_answer)
{
    const float a[2] = {0.5f, 0.5f};
    ae_model m;
    linear_model(&m, false, a, 2, 4);
    const float start[2] = {0.0f, 0.0f};
    for (long rounds = 0; rounds <= 6; rounds++) {
        float x[4] = {1.0f, 0.0f, 0.25f, 0.75f}; /* row 1 complete */
        unsigned char miss[4] = {0, 1, 0, 0};
        ae_impute_settings s = {rounds, 0.0, 1};
        ae_impute_report rep = {0, 0, NULL};
        ck_assert_int_eq(ae_model_impute(&m, 2, x, miss, NULL, start, &s, &rep, NULL), AE_OK);
        ck_assert_int_eq(rep.rounds, rounds);
        ck_assert_uint_eq(rep.checked, 0);
        ck_assert_float_eq_tol(x[1], 1.0f - ldexpf(1.0f, -(int)rounds), 1e-6f);
        ck_assert_float_eq(x[0], 1.0f); /* observed cells stay */
        ck_assert_float_eq(x[2], 0.25f);
        ck_assert_float_eq(x[3], 0.75f);
    }
    ae_model_free(&m);
}
END_TEST

/* z = x1 + 2 x2: the rounds run away (x2_t = x1 (2^t - 1)).  The data has
 * x2 = x1, so one round is exact and the check, hiding observed cells,
 * must find it. */
START_TEST(check_stops_a_runaway)
{
    enum { N = 40 };
    const float a[2] = {1.0f, 2.0f};
    ae_model m;
    linear_model(&m, false, a, 2, 16); /* batches of 16: the rounds cross batches */
    const float start[2] = {0.0f, 0.0f};
    float x[N * 2], y[N * 2];
    unsigned char miss[N * 2];
    for (int i = 0; i < N; i++) {
        x[2 * i] = x[2 * i + 1] = (float)(i % 7) - 3.0f;
        miss[2 * i] = 0;
        miss[2 * i + 1] = i % 2; /* every other row misses x2 */
        if (miss[2 * i + 1])
            x[2 * i + 1] = start[1];
    }
    memcpy(y, x, sizeof x);
    /* without the check: exactly the rounds asked, running away */
    ae_impute_settings plain = {10, 0.0, 1};
    ck_assert_int_eq(ae_model_impute(&m, N, y, miss, NULL, start, &plain, NULL, NULL), AE_OK);
    for (int i = 1; i < N; i += 2)
        ck_assert_float_eq_tol(y[2 * i + 1], y[2 * i] * 1023.0f, 1e-3f);
    /* with it: one round, exact */
    double rmse[11];
    ae_impute_settings checked = {10, 0.5, 7};
    ae_impute_report rep = {0, 0, rmse};
    ck_assert_int_eq(ae_model_impute(&m, N, x, miss, NULL, start, &checked, &rep, NULL), AE_OK);
    ck_assert_int_eq(rep.rounds, 1);
    ck_assert_uint_gt(rep.checked, 0);
    ck_assert_uint_le(rep.checked, N / 2); /* at most one of the two cells of a complete row */
    for (int t = 0; t <= 10; t++)
        if (t != 1)
            ck_assert_double_gt(rmse[t], rmse[1]);
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(x[2 * i], (float)(i % 7) - 3.0f);
        ck_assert_float_eq(x[2 * i + 1], (float)(i % 7) - 3.0f);
    }
    ae_model_free(&m);
}
END_TEST

/* With model.missing_indicators the encoder sees [x | mask]: here
 * z = (x1 + x2) / 2 + m2, so x2_1 = 0.5 + 0 + 1 = 1.5, x2_2 = 0.5 + 0.75 + 1. */
START_TEST(indicators_seen_by_the_encoder)
{
    const float a[4] = {0.5f, 0.5f, 0.0f, 1.0f};
    ae_model m;
    linear_model(&m, true, a, 4, 2);
    ck_assert_uint_eq(ae_model_encoder_width(&m), 4);
    const float start[2] = {0.0f, 0.0f};
    float x[2] = {1.0f, 0.0f};
    unsigned char miss[2] = {0, 1};
    ae_impute_settings s = {2, 0.0, 1};
    ck_assert_int_eq(ae_model_impute(&m, 1, x, miss, NULL, start, &s, NULL, NULL), AE_OK);
    ck_assert_float_eq_tol(x[1], 2.25f, 1e-6f);
    /* the forward pass builds the same input from NaN: the fill, then the mask */
    float fill[2] = {0.125f, -0.5f};
    m.fill = malloc(sizeof fill);
    memcpy(m.fill, fill, sizeof fill);
    float row[4] = {NAN, 3.0f, 2.0f, NAN};
    const float *in = ae_model_encoder_input(&m, 2, row, NULL);
    const float want[8] = {0.125f, 3.0f, 1.0f, 0.0f, 2.0f, -0.5f, 0.0f, 1.0f};
    for (int q = 0; q < 8; q++)
        ck_assert_float_eq(in[q], want[q]);
    /* complete rows get an all-zero mask, not the rows as they are */
    float full[2] = {0.5f, 0.25f};
    in = ae_model_encoder_input(&m, 1, full, NULL);
    ck_assert_ptr_ne(in, full);
    ck_assert_float_eq(in[2] + in[3], 0.0f);
    ae_model_free(&m);
}
END_TEST

/* A row with nothing observed keeps its start, rounds or not. */
START_TEST(empty_rows_keep_the_start)
{
    const float a[2] = {0.5f, 0.5f};
    ae_model m;
    linear_model(&m, false, a, 2, 4);
    m.params[m.dec.layer[0].b_off] = 5.0f; /* a round would move them */
    m.params[m.dec.layer[0].b_off + 1] = 5.0f;
    const float start[2] = {0.25f, -0.25f};
    float x[4] = {0.25f, -0.25f, 1.0f, 0.0f};
    unsigned char miss[4] = {1, 1, 0, 1};
    ae_impute_settings s = {3, 0.3, 1};
    ck_assert_int_eq(ae_model_impute(&m, 2, x, miss, NULL, start, &s, NULL, NULL), AE_OK);
    ck_assert_float_eq(x[0], 0.25f);
    ck_assert_float_eq(x[1], -0.25f);
    ck_assert_float_ne(x[3], 0.0f);
    ae_model_free(&m);
}
END_TEST

/* Training on incomplete data: masking hides values as missing (NaN), a
 * missing value stays missing under every noise; without as_missing,
 * masking gives 0 as before. */
START_TEST(noise_as_missing)
{
    enum { B = 50, D = 8 };
    float x[B * D], out[B * D];
    const float lo[D] = {0}, hi[D] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (int q = 0; q < B * D; q++)
        x[q] = q % 5 == 0 ? NAN : 0.5f;
    const ae_noise kinds[3] = {AE_NOISE_MASKING, AE_NOISE_SALT_PEPPER, AE_NOISE_GAUSSIAN};
    for (int k = 0; k < 3; k++) {
        ae_noise_spec n = {kinds[k], 0.1, 0.4, true};
        ae_rng r;
        ae_rng_seed(&r, 3);
        ae_noise_apply(&n, lo, hi, &r, x, out, B, D);
        size_t hidden = 0;
        for (int q = 0; q < B * D; q++) {
            if (x[q] != x[q])
                ck_assert_msg(out[q] != out[q], "noise %d filled a missing value", k);
            else
                hidden += out[q] != out[q];
        }
        if (kinds[k] == AE_NOISE_MASKING) /* about 40% of 320 observed cells */
            ck_assert(hidden > 90 && hidden < 170);
        else
            ck_assert_uint_eq(hidden, 0);
    }
    ae_noise_spec zero = {AE_NOISE_MASKING, 0.0, 0.4, false};
    ae_rng r;
    ae_rng_seed(&r, 3);
    float y[B * D];
    for (int q = 0; q < B * D; q++)
        y[q] = 0.5f;
    ae_noise_apply(&zero, lo, hi, &r, y, out, B, D);
    size_t zeros = 0;
    for (int q = 0; q < B * D; q++) {
        ck_assert(out[q] == out[q]);
        zeros += out[q] == 0.0f;
    }
    ck_assert(zeros > 100);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("impute");
    TCase *t = tcase_create("impute");
    tcase_add_test(t, rounds_known_answer);
    tcase_add_test(t, check_stops_a_runaway);
    tcase_add_test(t, indicators_seen_by_the_encoder);
    tcase_add_test(t, empty_rows_keep_the_start);
    tcase_add_test(t, noise_as_missing);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite_each_backend(suite);
}
