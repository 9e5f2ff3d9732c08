/* Training at the library level: a tiny model overfits a batch, and the
 * trainer runs end to end on a tiny IDX file (checkpoints: test_checkpoint.c). */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ae/checkpoint.h"
#include "ae/config.h"
#include "ae/model.h"
#include "ae/optim.h"
#include "ae/train.h"
#include "testutil.h"

static char tmpdir[64];

static void setup(void) { tu_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/ae_train_XXXXXX"); }
static void teardown(void) { tu_remove_tree(tmpdir); }
#define path_in(name) tu_path_in(tmpdir, name)
#define tiny_config tu_tiny_config

START_TEST(overfits_a_small_batch)
{
    enum { B = 16, D = 24 };
    ae_config c = tiny_config(AE_MODEL_AE);
    ae_model m;
    ae_optim o;
    ck_assert_int_eq(ae_model_init(&m, &c, D, B, NULL), AE_OK);
    ck_assert_int_eq(ae_optim_init(&o, ae_config_optim(&c), m.n_params, NULL), AE_OK);
    ae_rng r;
    ae_rng_seed(&r, 1);
    ae_model_init_weights(&m, &r);
    float x[B * D];
    for (size_t i = 0; i < B * D; i++)
        x[i] = ae_rng_uniform(&r) < 0.3f ? 1.0f : 0.0f;
    ae_loss first, last;
    for (int step = 0; step < 600; step++) {
        memset(m.grads, 0, m.n_params * sizeof(float));
        ae_model_forward(&m, B, x, x, NULL, NULL, 1.0f, step == 0 ? &first : &last);
        ae_model_backward(&m, 1.0f);
        ae_optim_step(&o, m.params, m.grads);
    }
    ae_model_forward(&m, B, x, x, NULL, NULL, 1.0f, &last);
    /* 16 random binary rows of 24 bits start near 24*log(2) = 16.6 nats and
     * must be memorised almost exactly by a 6-unit code. */
    ck_assert_msg(last.loss < first.loss / 20, "loss went from %g to %g", first.loss, last.loss);
    ae_optim_free(&o);
    ae_model_free(&m);
}
END_TEST

static void write_tiny_idx(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    unsigned char head[16] = {0, 0, 8, 3, 0, 0, (unsigned char)(n >> 8), (unsigned char)n,
                              0, 0, 0, 4, 0, 0, 0, 4};
    fwrite(head, 1, 16, f);
    for (size_t i = 0; i < n; i++) {
        unsigned char img[16] = {0};
        size_t corner = i % 4, r0 = corner / 2 * 2, c0 = corner % 2 * 2;
        for (size_t r = r0; r < r0 + 2; r++)
            for (size_t c = c0; c < c0 + 2; c++)
                img[r * 4 + c] = 255;
        fwrite(img, 1, 16, f);
    }
    fclose(f);
}

static int epochs_seen;
static double first_loss, last_loss;
static void count_epoch(void *ctx, const ae_epoch_metrics *e)
{
    (void)ctx;
    if (epochs_seen++ == 0)
        first_loss = e->train_loss;
    last_loss = e->train_loss;
    ck_assert(e->has_test);
    ck_assert(isfinite(e->test_loss) && isfinite(e->test_loss_mu));
}

START_TEST(trainer_end_to_end)
{
    write_tiny_idx(path_in("train.idx"), 200);
    write_tiny_idx(path_in("test.idx"), 40);
    ae_config c = tiny_config(AE_MODEL_VAE);
    snprintf(c.data.train, sizeof c.data.train, "%s", path_in("train.idx"));
    snprintf(c.data.test, sizeof c.data.test, "%s", path_in("test.idx"));
    snprintf(c.output.dir, sizeof c.output.dir, "%s", path_in("run"));
    c.train.epochs = 15;
    c.train.batch_size = 20;
    c.model.latent = 2;
    ae_train_hooks hooks = {NULL, NULL, NULL, count_epoch, NULL, NULL};
    ae_error err = {{0}};
    epochs_seen = 0;
    ck_assert_msg(ae_train(&c, NULL, &hooks, &err) == AE_OK, "%s", err.msg);
    ck_assert_int_eq(epochs_seen, 15);
    ck_assert_msg(last_loss < 0.6 * first_loss, "loss %g -> %g", first_loss, last_loss);
    const char *files[] = {"run/config.json", "run/metrics.csv", "run/checkpoint.safetensors",
                           "run/model.safetensors", "run/recon.png", "run/samples.png",
                           "run/manifold.png"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
        ck_assert_msg(access(path_in(files[k]), R_OK) == 0, "missing %s", files[k]);
    /* the model decodes: loading it back works and has the image shape */
    ae_config c2;
    ae_model m;
    ck_assert_int_eq(ae_checkpoint_load_model(path_in("run/model.safetensors"), 8, &c2, &m, &err), AE_OK);
    ck_assert_uint_eq(m.img_h, 4);
    ck_assert_uint_eq(m.img_w, 4);
    ck_assert_uint_eq(m.latent, 2);
    ae_model_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *t = tcase_create("train");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, overfits_a_small_batch);
    tcase_add_test(t, trainer_end_to_end);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
