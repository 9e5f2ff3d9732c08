/* Checkpoints (src/io/checkpoint.c): the full training state round-trips
 * bit for bit and saves to the same bytes; damaged, truncated or mismatched
 * files are refused with a message; a final model holds no optimizer state. */
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
#include "testutil.h"

static char tmpdir[64];

static void setup(void) { tu_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/ae_ckpt_XXXXXX"); }
static void teardown(void) { tu_remove_tree(tmpdir); }
#define path_in(name) tu_path_in(tmpdir, name)
#define tiny_config tu_tiny_config

static void trained_state(ae_config *c, ae_model *m, ae_optim *o, ae_train_state *s)
{
    *c = tiny_config(AE_MODEL_VAE);
    ck_assert_int_eq(ae_model_init(m, c, 10, 4, NULL), AE_OK);
    ck_assert_int_eq(ae_optim_init(o, ae_config_optim(c), m->n_params, NULL), AE_OK);
    memset(s, 0, sizeof *s);
    ae_rng_seed(&s->rng, 77);
    ae_model_init_weights(m, &s->rng);
    for (size_t j = 0; j < 10; j++) {
        m->scale[j] = 0.5f + (float)j;
        m->shift[j] = -(float)j / 3.0f;
    }
    float x[4 * 10];
    for (size_t i = 0; i < 40; i++)
        x[i] = ae_rng_uniform(&s->rng);
    for (int step = 0; step < 3; step++) {
        memset(m->grads, 0, m->n_params * sizeof(float));
        ae_model_forward(m, 4, x, x, NULL, &s->rng, 1.0f, NULL);
        ae_model_backward(m, 1.0f);
        ae_optim_step(o, m->params, m->grads);
    }
    s->epoch = 3;
    s->step = o->t;
    s->metrics_csv = strdup("epoch,train_loss\n1,2.5\n");
    s->sched = (ae_schedule_state){2.5e-4, 3.0, 1, INFINITY, 2, 1.0 / 3.0, 7, true};
}

START_TEST(checkpoint_round_trip_is_exact)
{
    ae_config c;
    ae_model m;
    ae_optim o;
    ae_train_state s;
    trained_state(&c, &m, &o, &s);
    ae_error err = {{0}};
    ck_assert_int_eq(ae_checkpoint_save(path_in("c.safetensors"), &c, &m, &o, &s, &err), AE_OK);

    ae_checkpoint ck;
    ck_assert_int_eq(ae_checkpoint_read(&ck, path_in("c.safetensors"), &err), AE_OK);
    ae_config c2;
    ck_assert_int_eq(ae_config_parse(&c2, ck.config_json, "ckpt", NULL, 0, &err), AE_OK);
    ae_model m2;
    ae_optim o2;
    ae_train_state s2;
    ck_assert_int_eq(ae_model_init(&m2, &c2, ck.input_dim, 4, &err), AE_OK);
    ck_assert_int_eq(ae_optim_init(&o2, ae_config_optim(&c2), m2.n_params, &err), AE_OK);
    ck_assert_int_eq(ae_checkpoint_restore(&ck, &m2, &o2, &s2, &err), AE_OK);
    ck_assert_uint_eq(m2.n_params, m.n_params);
    ck_assert_mem_eq(m2.params, m.params, m.n_params * sizeof(float));
    ck_assert_mem_eq(m2.scale, m.scale, 10 * sizeof(float));
    ck_assert_mem_eq(m2.shift, m.shift, 10 * sizeof(float));
    ck_assert_mem_eq(o2.m, o.m, o.n * sizeof(float));
    ck_assert_mem_eq(o2.v, o.v, o.n * sizeof(float));
    ck_assert_uint_eq(o2.t, 3);
    ck_assert_int_eq(s2.epoch, 3);
    ck_assert_mem_eq(s2.rng.s, s.rng.s, sizeof s.rng.s);
    ck_assert_str_eq(s2.metrics_csv, s.metrics_csv);
    /* the schedule's state, exactly */
    ck_assert(s2.sched.lr == s.sched.lr && s2.sched.plateau_best == s.sched.plateau_best &&
              s2.sched.stop_best == s.sched.stop_best && s2.sched.best_val == s.sched.best_val);
    ck_assert(s2.sched.plateau_bad == 1 && s2.sched.stop_bad == 2 && s2.sched.best_epoch == 7 &&
              s2.sched.stopped);
    /* saving the restored state again gives the same bytes */
    ck_assert_int_eq(ae_checkpoint_save(path_in("d.safetensors"), &c2, &m2, &o2, &s2, &err), AE_OK);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", path_in("c.safetensors"), path_in("d.safetensors"));
    ck_assert_int_eq(system(cmd), 0);

    ae_checkpoint_free(&ck);
    ae_train_state_free(&s);
    ae_train_state_free(&s2);
    ae_optim_free(&o);
    ae_optim_free(&o2);
    ae_model_free(&m);
    ae_model_free(&m2);
}
END_TEST

START_TEST(damaged_checkpoints_are_refused)
{
    ae_config c;
    ae_model m;
    ae_optim o;
    ae_train_state s;
    trained_state(&c, &m, &o, &s);
    ae_error err = {{0}};
    char good[256];
    snprintf(good, sizeof good, "%s", path_in("good.safetensors"));
    ck_assert_int_eq(ae_checkpoint_save(good, &c, &m, &o, &s, &err), AE_OK);
    FILE *f = fopen(good, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    char *bytes = malloc((size_t)size);
    rewind(f);
    ck_assert_int_eq(fread(bytes, 1, (size_t)size, f), size);
    fclose(f);

    /* truncated anywhere */
    long cuts[] = {0, 4, 8, 100, size / 2, size - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        const char *p = path_in("cut.safetensors");
        f = fopen(p, "wb");
        fwrite(bytes, 1, (size_t)cuts[k], f);
        fclose(f);
        ae_config cc;
        ae_model mm;
        ck_assert_int_eq(ae_checkpoint_load_model(p, 4, &cc, &mm, &err), AE_ERR_INPUT);
        ck_assert_ptr_nonnull(strstr(err.msg, "cut.safetensors"));
    }
    /* one flipped bit in the data section */
    bytes[size - 7] ^= 0x10;
    const char *p = path_in("flip.safetensors");
    f = fopen(p, "wb");
    fwrite(bytes, 1, (size_t)size, f);
    fclose(f);
    ae_config cc;
    ae_model mm;
    ck_assert_int_eq(ae_checkpoint_load_model(p, 4, &cc, &mm, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "CRC32"));
    free(bytes);

    /* a different architecture: the same file into a wider model */
    ae_checkpoint ck;
    ck_assert_int_eq(ae_checkpoint_read(&ck, good, &err), AE_OK);
    ae_config wide = c;
    wide.model.encoder[0] = 33;
    ae_model mw;
    ck_assert_int_eq(ae_model_init(&mw, &wide, 10, 4, &err), AE_OK);
    float before = mw.params[0];
    ck_assert_int_eq(ae_checkpoint_restore(&ck, &mw, NULL, NULL, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "different architecture"));
    ck_assert_float_eq(mw.params[0], before); /* untouched on failure */
    ae_model_free(&mw);
    /* a model-only file cannot restore optimizer state */
    ae_checkpoint_free(&ck);
    ck_assert_int_eq(ae_checkpoint_save(path_in("model.safetensors"), &c, &m, NULL, NULL, &err), AE_OK);
    ck_assert_int_eq(ae_checkpoint_read(&ck, path_in("model.safetensors"), &err), AE_OK);
    ae_model m3;
    ae_optim o3;
    ck_assert_int_eq(ae_model_init(&m3, &c, 10, 4, &err), AE_OK);
    ck_assert_int_eq(ae_optim_init(&o3, ae_config_optim(&c), m3.n_params, &err), AE_OK);
    ck_assert_int_eq(ae_checkpoint_restore(&ck, &m3, &o3, NULL, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "optimizer.m"));
    ae_checkpoint_free(&ck);
    ae_model_free(&m3);
    ae_optim_free(&o3);

    ae_train_state_free(&s);
    ae_optim_free(&o);
    ae_model_free(&m);
}
END_TEST

/* Writes n tiny 4x4 uint8 "images": a bright square in one of four corners. */
int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *t = tcase_create("checkpoint");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, checkpoint_round_trip_is_exact);
    tcase_add_test(t, damaged_checkpoints_are_refused);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
