#define _XOPEN_SOURCE 700 /* POSIX 2008 and XSI: nftw for testutil.h */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ae/config.h"
#include "testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A minimal valid spec: only the required key. */
static const char *MIN = "{\"data\": {\"train\": \"train.idx\"}}";

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "test_config_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), fp), strlen(text));
    ck_assert_int_eq(fclose(fp), 0);
}

/* Parses text (source "spec.json") with overrides; expects success. */
static ae_config parse_ok(const char *text, const char *const *ov, size_t n)
{
    ae_config c;
    ae_error err = {{0}};
    ae_status st = ae_config_parse(&c, text, "spec.json", ov, n, &err);
    ck_assert_msg(st == AE_OK, "unexpected failure: %s", err.msg);
    return c;
}

/* Parses and expects status st with exactly the message want. */
static void parse_fails(const char *text, const char *const *ov, size_t n, ae_status st,
                        const char *want)
{
    ae_config c;
    ae_config_defaults(&c);
    c.model.latent = 12345; /* sentinel: outputs must stay untouched on failure */
    ae_error err = {{0}};
    ae_status got = ae_config_parse(&c, text, "spec.json", ov, n, &err);
    ck_assert_msg(got == st, "status %s, want %s (message: %s)", ae_status_name(got),
                  ae_status_name(st), err.msg);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(c.model.latent, 12345);
}

/* Like parse_fails but only checks that the message starts with want. */
static void parse_fails_prefix(const char *text, const char *const *ov, size_t n, ae_status st,
                               const char *want)
{
    ae_config c;
    ae_error err = {{0}};
    ae_status got = ae_config_parse(&c, text, "spec.json", ov, n, &err);
    ck_assert_msg(got == st, "status %s, want %s (message: %s)", ae_status_name(got),
                  ae_status_name(st), err.msg);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "message \"%s\" does not start with \"%s\"",
                  err.msg, want);
}

static void assert_config_eq(const ae_config *a, const ae_config *b)
{
    ck_assert_int_eq(a->model.type, b->model.type);
    ck_assert_int_eq(a->model.n_encoder, b->model.n_encoder);
    for (int i = 0; i < a->model.n_encoder; i++)
        ck_assert_int_eq(a->model.encoder[i], b->model.encoder[i]);
    ck_assert_int_eq(a->model.n_decoder, b->model.n_decoder);
    for (int i = 0; i < a->model.n_decoder; i++)
        ck_assert_int_eq(a->model.decoder[i], b->model.decoder[i]);
    ck_assert_int_eq(a->model.latent, b->model.latent);
    ck_assert_int_eq(a->model.activation, b->model.activation);
    ck_assert_int_eq(a->model.likelihood, b->model.likelihood);
    ck_assert(a->model.gaussian_std == b->model.gaussian_std);
    ck_assert_int_eq(a->model.init, b->model.init);
    ck_assert(a->model.beta == b->model.beta);
    ck_assert_int_eq(a->model.latent2, b->model.latent2);
    ck_assert_int_eq(a->model.n_hidden2, b->model.n_hidden2);
    for (int i = 0; i < a->model.n_hidden2; i++)
        ck_assert_int_eq(a->model.hidden2[i], b->model.hidden2[i]);
    ck_assert_int_eq(a->model.classes, b->model.classes);
    ck_assert_int_eq(a->model.code_activation, b->model.code_activation);
    ck_assert_int_eq(a->model.tied, b->model.tied);
    ck_assert_int_eq(a->model.missing_indicators, b->model.missing_indicators);
    ck_assert_int_eq(a->model.noise.type, b->model.noise.type);
    ck_assert(a->model.noise.std == b->model.noise.std);
    ck_assert(a->model.noise.p == b->model.noise.p);
    ck_assert_int_eq(a->model.sparsity.type, b->model.sparsity.type);
    ck_assert(a->model.sparsity.weight == b->model.sparsity.weight);
    ck_assert(a->model.sparsity.rho == b->model.sparsity.rho);
    ck_assert_int_eq(a->model.sparsity.k, b->model.sparsity.k);
    ck_assert(a->model.contractive == b->model.contractive);
    ck_assert_int_eq(a->model.contractive_samples, b->model.contractive_samples);

    ck_assert_str_eq(a->data.train, b->data.train);
    ck_assert_str_eq(a->data.train_labels, b->data.train_labels);
    ck_assert_str_eq(a->data.test, b->data.test);
    ck_assert_str_eq(a->data.test_labels, b->data.test_labels);
    ck_assert_str_eq(a->data.csv_label_column, b->data.csv_label_column);
    ck_assert_int_eq(a->data.csv_header, b->data.csv_header);
    ck_assert_int_eq(a->data.scale, b->data.scale);
    ck_assert_int_eq(a->data.binarize, b->data.binarize);
    ck_assert(a->data.validation == b->data.validation);
    ck_assert_int_eq(a->data.train_limit, b->data.train_limit);
    ck_assert_int_eq(a->data.test_limit, b->data.test_limit);
    ck_assert_int_eq(a->data.labeled, b->data.labeled);
    ck_assert_str_eq(a->model.init_from, b->model.init_from);
    ck_assert_int_eq(a->data.allow_missing, b->data.allow_missing);
    ck_assert_int_eq(a->data.n_csv_missing, b->data.n_csv_missing);
    for (int k = 0; k < a->data.n_csv_missing; k++)
        ck_assert_str_eq(a->data.csv_missing[k], b->data.csv_missing[k]);
    ck_assert_int_eq(a->data.n_class_names, b->data.n_class_names);
    ck_assert_mem_eq(a->data.class_names, b->data.class_names, sizeof a->data.class_names);

    ck_assert_int_eq(a->train.epochs, b->train.epochs);
    ck_assert_int_eq(a->train.batch_size, b->train.batch_size);
    ck_assert_int_eq(a->train.optimizer, b->train.optimizer);
    ck_assert(a->train.lr == b->train.lr);
    ck_assert(a->train.momentum == b->train.momentum);
    ck_assert(a->train.adam_beta1 == b->train.adam_beta1);
    ck_assert(a->train.adam_beta2 == b->train.adam_beta2);
    ck_assert(a->train.adam_eps == b->train.adam_eps);
    ck_assert(a->train.weight_decay == b->train.weight_decay);
    ck_assert(a->train.seed == b->train.seed);
    ck_assert_int_eq(a->train.threads, b->train.threads);
    ck_assert(a->train.kl_warmup_epochs == b->train.kl_warmup_epochs);
    ck_assert(a->train.kl_capacity == b->train.kl_capacity);
    ck_assert(a->train.kl_capacity_epochs == b->train.kl_capacity_epochs);
    ck_assert_int_eq(a->train.pretrain_epochs, b->train.pretrain_epochs);
    ck_assert_int_eq(a->train.lr_schedule.type, b->train.lr_schedule.type);
    ck_assert_int_eq(a->train.lr_schedule.step_epochs, b->train.lr_schedule.step_epochs);
    ck_assert(a->train.lr_schedule.gamma == b->train.lr_schedule.gamma);
    ck_assert_int_eq(a->train.lr_schedule.warmup_epochs, b->train.lr_schedule.warmup_epochs);
    ck_assert(a->train.lr_schedule.min_lr == b->train.lr_schedule.min_lr);
    ck_assert(a->train.lr_schedule.factor == b->train.lr_schedule.factor);
    ck_assert_int_eq(a->train.lr_schedule.patience, b->train.lr_schedule.patience);
    ck_assert_int_eq(a->train.early_stop_patience, b->train.early_stop_patience);
    ck_assert(a->train.early_stop_min_delta == b->train.early_stop_min_delta);
    ck_assert(a->train.clip_grad_norm == b->train.clip_grad_norm);
    ck_assert_int_eq(a->output.keep_best, b->output.keep_best);
    ck_assert_int_eq(a->train.freeze_encoder_epochs, b->train.freeze_encoder_epochs);

    ck_assert_str_eq(a->output.dir, b->output.dir);
    ck_assert_int_eq(a->output.checkpoint_every, b->output.checkpoint_every);
    ck_assert_int_eq(a->output.images, b->output.images);
}

/* ------------------------------------------------------------- defaults */

START_TEST(test_defaults)
{
    ae_config c;
    ae_config_defaults(&c);
    ck_assert_int_eq(c.model.type, AE_MODEL_VAE);
    ck_assert_int_eq(c.model.n_encoder, 1);
    ck_assert_int_eq(c.model.encoder[0], 400);
    ck_assert_int_eq(c.model.n_decoder, 1);
    ck_assert_int_eq(c.model.decoder[0], 400);
    ck_assert_int_eq(c.model.latent, 20);
    ck_assert_int_eq(c.model.activation, AE_ACT_RELU);
    ck_assert_int_eq(c.model.likelihood, AE_LIK_BERNOULLI);
    ck_assert(c.model.beta == 1.0);
    ck_assert_str_eq(c.data.train, "");
    ck_assert_str_eq(c.data.csv_label_column, "");
    ck_assert_int_eq(c.data.csv_header, -1);
    ck_assert_int_eq(c.data.scale, AE_SCALE_UNIT);
    ck_assert_int_eq(c.data.binarize, AE_BIN_NONE);
    ck_assert(c.data.validation == 0.0);
    ck_assert_int_eq(c.data.train_limit, 0);
    ck_assert_int_eq(c.train.epochs, 10);
    ck_assert_int_eq(c.train.batch_size, 128);
    ck_assert_int_eq(c.train.optimizer, AE_OPT_ADAM);
    ck_assert(c.train.lr == 1e-3);
    ck_assert(c.train.momentum == 0.9);
    ck_assert(c.train.adam_beta1 == 0.9);
    ck_assert(c.train.adam_beta2 == 0.999);
    ck_assert(c.train.adam_eps == 1e-8);
    ck_assert(c.train.weight_decay == 0.0);
    ck_assert(c.train.seed == 1);
    ck_assert_int_eq(c.train.threads, 0);
    ck_assert(c.train.kl_warmup_epochs == 0.0);
    ck_assert_str_eq(c.output.dir, "runs/default");
    ck_assert_int_eq(c.output.checkpoint_every, 1);
    ck_assert(c.output.images);

    /* A minimal spec resolves to exactly the defaults (plus its data.train). */
    ae_config p = parse_ok(MIN, NULL, 0);
    snprintf(c.data.train, sizeof c.data.train, "train.idx");
    snprintf(c.output.dir, sizeof c.output.dir, "runs/spec");
    assert_config_eq(&p, &c);
}
END_TEST

START_TEST(test_no_file)
{
    const char *ov[] = {"data.train=x.csv"};
    ae_config c;
    ae_error err = {{0}};
    ck_assert_int_eq(ae_config_load(&c, NULL, ov, 1, &err), AE_OK);
    ck_assert_str_eq(c.output.dir, "runs/default");
    ck_assert_str_eq(c.data.train, "x.csv");
    ck_assert_int_eq(c.model.latent, 20);

    /* Without a file or override, the required key is missing. */
    ck_assert_int_eq(ae_config_load(&c, NULL, NULL, 0, &err), AE_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "data.train: required (the training data file)");
}
END_TEST

START_TEST(test_full_spec)
{
    const char *text =
        "{\n"
        "  \"model\": {\"type\": \"ae\", \"encoder\": [512, 256], \"decoder\": [128, 256, 512],\n"
        "            \"latent\": 8, \"activation\": \"leaky_relu\", \"likelihood\": \"gaussian\",\n"
        "            \"beta\": 0.5},\n"
        "  \"data\": {\"train\": \"d/train.csv.gz\", \"train_labels\": \"d/tl\", \"test\": \"d/test.csv\",\n"
        "           \"test_labels\": \"d/sl\", \"csv\": {\"label_column\": \"digit\", \"header\": true},\n"
        "           \"scale\": \"standardize\", \"binarize\": \"dynamic\", \"validation\": 0.1,\n"
        "           \"train_limit\": 1000, \"test_limit\": 500},\n"
        "  \"train\": {\"epochs\": 3, \"batch_size\": 64, \"optimizer\": \"sgd\", \"lr\": 0.01,\n"
        "            \"momentum\": 0.5, \"adam_beta1\": 0.8, \"adam_beta2\": 0.99,\n"
        "            \"adam_eps\": 1e-6, \"weight_decay\": 1e-4, \"seed\": 42, \"threads\": 4,\n"
        "            \"kl_warmup_epochs\": 2.5},\n"
        "  \"output\": {\"dir\": \"out/x\", \"checkpoint_every\": 0, \"images\": false}\n"
        "}\n";
    ae_config c = parse_ok(text, NULL, 0);
    ck_assert_int_eq(c.model.type, AE_MODEL_AE);
    ck_assert_int_eq(c.model.n_encoder, 2);
    ck_assert_int_eq(c.model.encoder[0], 512);
    ck_assert_int_eq(c.model.encoder[1], 256);
    ck_assert_int_eq(c.model.n_decoder, 3);
    ck_assert_int_eq(c.model.decoder[0], 128);
    ck_assert_int_eq(c.model.decoder[2], 512);
    ck_assert_int_eq(c.model.latent, 8);
    ck_assert_int_eq(c.model.activation, AE_ACT_LEAKY_RELU);
    ck_assert_int_eq(c.model.likelihood, AE_LIK_GAUSSIAN);
    ck_assert(c.model.beta == 0.5);
    ck_assert_str_eq(c.data.train, "d/train.csv.gz");
    ck_assert_str_eq(c.data.train_labels, "d/tl");
    ck_assert_str_eq(c.data.test, "d/test.csv");
    ck_assert_str_eq(c.data.test_labels, "d/sl");
    ck_assert_str_eq(c.data.csv_label_column, "digit");
    ck_assert_int_eq(c.data.csv_header, 1);
    ck_assert_int_eq(c.data.scale, AE_SCALE_STANDARDIZE);
    ck_assert_int_eq(c.data.binarize, AE_BIN_DYNAMIC);
    ck_assert(c.data.validation == 0.1);
    ck_assert_int_eq(c.data.train_limit, 1000);
    ck_assert_int_eq(c.data.test_limit, 500);
    ck_assert_int_eq(c.train.epochs, 3);
    ck_assert_int_eq(c.train.batch_size, 64);
    ck_assert_int_eq(c.train.optimizer, AE_OPT_SGD);
    ck_assert(c.train.lr == 0.01);
    ck_assert(c.train.momentum == 0.5);
    ck_assert(c.train.adam_beta1 == 0.8);
    ck_assert(c.train.adam_beta2 == 0.99);
    ck_assert(c.train.adam_eps == 1e-6);
    ck_assert(c.train.weight_decay == 1e-4);
    ck_assert(c.train.seed == 42);
    ck_assert_int_eq(c.train.threads, 4);
    ck_assert(c.train.kl_warmup_epochs == 2.5);
    ck_assert_str_eq(c.output.dir, "out/x");
    ck_assert_int_eq(c.output.checkpoint_every, 0);
    ck_assert(!c.output.images);
}
END_TEST

START_TEST(test_csv_options)
{
    ae_config c = parse_ok("{\"data\": {\"train\": \"a.csv\", \"csv\": {\"label_column\": 3, "
                           "\"header\": false}}}",
                           NULL, 0);
    ck_assert_str_eq(c.data.csv_label_column, "3");
    ck_assert_int_eq(c.data.csv_header, 0);
    c = parse_ok("{\"data\": {\"train\": \"a.csv\", \"csv\": {\"header\": \"auto\"}}}", NULL, 0);
    ck_assert_str_eq(c.data.csv_label_column, "");
    ck_assert_int_eq(c.data.csv_header, -1);
}
END_TEST

START_TEST(test_decoder_default)
{
    ae_config c = parse_ok("{\"model\": {\"encoder\": [500, 300, 100]}, "
                           "\"data\": {\"train\": \"t\"}}",
                           NULL, 0);
    ck_assert_int_eq(c.model.n_decoder, 3);
    ck_assert_int_eq(c.model.decoder[0], 100);
    ck_assert_int_eq(c.model.decoder[1], 300);
    ck_assert_int_eq(c.model.decoder[2], 500);

    /* An explicit empty decoder stays empty. */
    c = parse_ok("{\"model\": {\"encoder\": [500], \"decoder\": []}, \"data\": {\"train\": \"t\"}}",
                 NULL, 0);
    ck_assert_int_eq(c.model.n_encoder, 1);
    ck_assert_int_eq(c.model.n_decoder, 0);

    /* An empty encoder gives an empty default decoder. */
    c = parse_ok("{\"model\": {\"encoder\": []}, \"data\": {\"train\": \"t\"}}", NULL, 0);
    ck_assert_int_eq(c.model.n_encoder, 0);
    ck_assert_int_eq(c.model.n_decoder, 0);
}
END_TEST

START_TEST(test_output_dir_from_stem)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/vae.json", tmpdir);
    write_file(path, MIN);
    ae_config c;
    ae_error err = {{0}};
    ck_assert_int_eq(ae_config_load(&c, path, NULL, 0, &err), AE_OK);
    ck_assert_str_eq(c.output.dir, "runs/vae");

    /* Only a .json suffix is removed. */
    snprintf(path, sizeof path, "%s/my.spec", tmpdir);
    write_file(path, MIN);
    ck_assert_int_eq(ae_config_load(&c, path, NULL, 0, &err), AE_OK);
    ck_assert_str_eq(c.output.dir, "runs/my.spec");

    /* An explicit output.dir wins. */
    snprintf(path, sizeof path, "%s/vae.json", tmpdir);
    write_file(path, "{\"data\": {\"train\": \"t\"}, \"output\": {\"dir\": \"elsewhere\"}}");
    ck_assert_int_eq(ae_config_load(&c, path, NULL, 0, &err), AE_OK);
    ck_assert_str_eq(c.output.dir, "elsewhere");
    remove_tmpdir();

    ck_assert_int_eq(ae_config_parse(&c, MIN, "configs/mnist_ae.json", NULL, 0, &err), AE_OK);
    ck_assert_str_eq(c.output.dir, "runs/mnist_ae");
}
END_TEST

/* ------------------------------------------------------------ overrides */

START_TEST(test_override_kinds)
{
    const char *spec = "{\"model\": {\"encoder\": [512, 256]}, \"data\": {\"train\": \"t\"}}";
    const char *ov[] = {
        "model.latent=2",             /* integer */
        "train.lr=3e-4",              /* float */
        "data.train=foo.csv",         /* bare string (not JSON) */
        "data.test=\"bar.csv\"",      /* JSON string */
        "model.decoder=[64, 128]",    /* array */
        "output.images=false",        /* bool */
        "model.encoder[1]=300",       /* index form */
        "data.csv.label_column=label" /* nested creation: data.csv is absent */
    };
    ae_config c = parse_ok(spec, ov, N(ov));
    ck_assert_int_eq(c.model.latent, 2);
    ck_assert(c.train.lr == 3e-4);
    ck_assert_str_eq(c.data.train, "foo.csv");
    ck_assert_str_eq(c.data.test, "bar.csv");
    ck_assert_int_eq(c.model.n_decoder, 2);
    ck_assert_int_eq(c.model.decoder[0], 64);
    ck_assert_int_eq(c.model.decoder[1], 128);
    ck_assert(!c.output.images);
    ck_assert_int_eq(c.model.n_encoder, 2);
    ck_assert_int_eq(c.model.encoder[0], 512);
    ck_assert_int_eq(c.model.encoder[1], 300);
    ck_assert_str_eq(c.data.csv_label_column, "label");
}
END_TEST

START_TEST(test_override_sections_and_order)
{
    /* Whole sections are created when absent; later overrides win. */
    const char *ov[] = {"train.seed=7", "train.seed=9", "output.dir=2024",
                        "model.encoder=[100,50]", "model.encoder[0]=120"};
    ae_config c = parse_ok(MIN, ov, N(ov));
    ck_assert(c.train.seed == 9);
    /* A path key takes a number-like value as the text it is. */
    ck_assert_str_eq(c.output.dir, "2024");
    ck_assert_int_eq(c.model.encoder[0], 120);
    ck_assert_int_eq(c.model.encoder[1], 50);
    /* The default decoder follows the overridden encoder. */
    ck_assert_int_eq(c.model.decoder[0], 50);
    ck_assert_int_eq(c.model.decoder[1], 120);

    /* An empty value gives an empty string (here: no test set). */
    const char *ov2[] = {"data.test=a", "data.test="};
    c = parse_ok(MIN, ov2, N(ov2));
    ck_assert_str_eq(c.data.test, "");

    /* Replacing a whole section drops what the file had in it. */
    const char *ov3[] = {"model={\"latent\": 3}"};
    c = parse_ok("{\"model\": {\"encoder\": [10]}, \"data\": {\"train\": \"t\"}}", ov3, N(ov3));
    ck_assert_int_eq(c.model.latent, 3);
    ck_assert_int_eq(c.model.encoder[0], 400);
}
END_TEST

/* --------------------------------------------------------------- errors */

START_TEST(test_unknown_keys)
{
    parse_fails("{\"modle\": {}, \"data\": {\"train\": \"t\"}}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: modle: unknown key (known keys: model, data, train, output); "
                "did you mean model?");
    parse_fails("{\"model\": {\"laten\": 2}, \"data\": {\"train\": \"t\"}}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: model.laten: unknown key (known keys: type, encoder, decoder, latent, "
                "activation, likelihood, beta, init, hidden2, classes, code_activation, tied, missing_indicators, noise, sparsity, contractive, contractive_samples, gaussian_std, iw_samples, init_from); did you mean latent?");
    parse_fails("{\"data\": {\"train\": \"t\", \"csv\": {\"headr\": true}}}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: data.csv.headr: unknown key (known keys: label_column, header, missing); "
                "did you mean header?");
    parse_fails("{\"data\": {\"train\": \"t\"}, \"output\": {\"zzzzzzzz\": 1}}", NULL, 0,
                AE_ERR_CONFIG,
                "spec.json: output.zzzzzzzz: unknown key (known keys: dir, checkpoint_every, "
                "images, keep_best)");
    /* Keys are case-sensitive. */
    parse_fails_prefix("{\"data\": {\"Train\": \"t\"}}", NULL, 0, AE_ERR_CONFIG,
                       "spec.json: data.Train: unknown key (known keys: train, ");
    parse_fails("{\"data\": {\"train\": \"t\", \"train\": \"u\"}}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: data.train: key given twice");
}
END_TEST

START_TEST(test_type_errors)
{
    parse_fails("{\"data\": {\"train\": \"t\"}, \"train\": {\"lr\": \"fast\"}}", NULL, 0,
                AE_ERR_CONFIG, "spec.json: train.lr: expected a number > 0, got \"fast\"");
    parse_fails("{\"model\": {\"latent\": \"20\"}, \"data\": {\"train\": \"t\"}}", NULL, 0,
                AE_ERR_CONFIG,
                "spec.json: model.latent: expected an integer in [1, 65536], got \"20\"");
    parse_fails("{\"data\": {\"train\": 5}}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: data.train: expected a non-empty string, got 5");
    parse_fails("{\"data\": {\"train\": \"t\"}, \"output\": {\"images\": 1}}", NULL, 0,
                AE_ERR_CONFIG, "spec.json: output.images: expected true or false, got 1");
    parse_fails("{\"model\": {\"encoder\": 400}, \"data\": {\"train\": \"t\"}}", NULL, 0,
                AE_ERR_CONFIG,
                "spec.json: model.encoder: expected an array of positive integers, got 400");
    parse_fails("{\"model\": [1], \"data\": {\"train\": \"t\"}}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: model: expected an object, got [1]");
    parse_fails("{\"model\": {\"activation\": \"relux\"}, \"data\": {\"train\": \"t\"}}", NULL, 0,
                AE_ERR_CONFIG,
                "spec.json: model.activation: expected one of relu, leaky_relu, elu, tanh, "
                "sigmoid, linear, got \"relux\"");
    parse_fails("{\"data\": {\"train\": \"t\", \"csv\": {\"header\": \"yes\"}}}", NULL, 0,
                AE_ERR_CONFIG,
                "spec.json: data.csv.header: expected \"auto\", true or false, got \"yes\"");
    parse_fails("{\"data\": {\"train\": \"t\", \"csv\": {\"label_column\": true}}}", NULL, 0,
                AE_ERR_CONFIG,
                "spec.json: data.csv.label_column: expected a column name or a 0-based column "
                "index, got true");
    parse_fails("[1, 2]", NULL, 0, AE_ERR_CONFIG,
                "spec.json: expected a JSON object at the top level, got [1,2]");
}
END_TEST

START_TEST(test_integer_errors)
{
    parse_fails("{\"model\": {\"latent\": 2.5}, \"data\": {\"train\": \"t\"}}", NULL, 0,
                AE_ERR_CONFIG, "spec.json: model.latent: expected an integer, got 2.5");
    parse_fails("{\"model\": {\"encoder\": [400, -3]}, \"data\": {\"train\": \"t\"}}", NULL, 0,
                AE_ERR_CONFIG, "spec.json: model.encoder[1]: expected a positive integer, got -3");
    parse_fails("{\"model\": {\"decoder\": [0]}, \"data\": {\"train\": \"t\"}}", NULL, 0,
                AE_ERR_CONFIG, "spec.json: model.decoder[0]: expected a positive integer, got 0");
    parse_fails("{\"model\": {\"latent\": 70000}, \"data\": {\"train\": \"t\"}}", NULL, 0,
                AE_ERR_CONFIG, "spec.json: model.latent: expected an integer <= 65536, got 70000");
    parse_fails("{\"model\": {\"encoder\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}, "
                "\"data\": {\"train\": \"t\"}}",
                NULL, 0, AE_ERR_CONFIG,
                "spec.json: model.encoder: expected at most 16 layer widths, got 17");
}
END_TEST

START_TEST(test_range_errors)
{
    static const struct {
        const char *section, *kv, *want;
    } cases[] = {
        {"train", "\"epochs\": 0", "train.epochs: expected a positive integer, got 0"},
        {"train", "\"batch_size\": 0", "train.batch_size: expected a positive integer, got 0"},
        {"train", "\"batch_size\": 1000001",
         "train.batch_size: expected an integer <= 1000000, got 1000001"},
        {"train", "\"lr\": 0", "train.lr: expected a number > 0, got 0"},
        {"train", "\"lr\": 1e999", "train.lr: expected a number > 0, got a number too large to represent"},
        {"train", "\"momentum\": 1", "train.momentum: expected a number in [0, 1), got 1"},
        {"train", "\"adam_beta2\": -0.1", "train.adam_beta2: expected a number in [0, 1), got -0.1"},
        {"train", "\"adam_eps\": 0", "train.adam_eps: expected a number > 0, got 0"},
        {"train", "\"weight_decay\": -1", "train.weight_decay: expected a number >= 0, got -1"},
        {"train", "\"seed\": -1", "train.seed: expected a non-negative integer, got -1"},
        {"train", "\"seed\": 1e17", "train.seed: expected an integer <= 9007199254740992, got 1e+17"},
        {"train", "\"threads\": 2000", "train.threads: expected an integer <= 1024, got 2000"},
        {"train", "\"kl_warmup_epochs\": -2", "train.kl_warmup_epochs: expected a number >= 0, got -2"},
        {"train", "\"optimizer\": \"adamw\"", "train.optimizer: expected one of adam, sgd, got \"adamw\""},
        {"model", "\"beta\": -0.5", "model.beta: expected a number >= 0, got -0.5"},
        {"model", "\"type\": \"gan\"", "model.type: expected one of ae, vae, cvae, hvae, iwae, classifier, got \"gan\""},
        {"model", "\"likelihood\": null", "model.likelihood: expected one of bernoulli, gaussian, continuous_bernoulli, gaussian_learned, got null"},
        {"model", "\"init\": \"kaiming\"", "model.init: expected one of auto, he, glorot, pytorch, got \"kaiming\""},
        {"data", "\"validation\": 1", "data.validation: expected a number in [0, 1), got 1"},
        {"data", "\"train_limit\": -5", "data.train_limit: expected a non-negative integer, got -5"},
        {"data", "\"scale\": \"minmax\"", "data.scale: expected one of unit, standardize, none, got \"minmax\""},
        {"data", "\"binarize\": true", "data.binarize: expected one of none, fixed, dynamic, got true"},
        {"data", "\"csv\": {\"label_column\": -1}", "data.csv.label_column: expected a non-negative integer, got -1"},
        {"output", "\"checkpoint_every\": -1", "output.checkpoint_every: expected a non-negative integer, got -1"},
        {"output", "\"dir\": \"\"", "output.dir: expected a non-empty string, got \"\""},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char text[512], want[512];
        if (strcmp(cases[i].section, "data") == 0)
            snprintf(text, sizeof text, "{\"data\": {\"train\": \"t\", %s}}", cases[i].kv);
        else
            snprintf(text, sizeof text, "{\"data\": {\"train\": \"t\"}, \"%s\": {%s}}",
                     cases[i].section, cases[i].kv);
        snprintf(want, sizeof want, "spec.json: %s", cases[i].want);
        parse_fails(text, NULL, 0, AE_ERR_CONFIG, want);
    }
}
END_TEST

START_TEST(test_required)
{
    parse_fails("{}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: data.train: required (the training data file)");
    parse_fails("{\"data\": {\"train\": \"\"}}", NULL, 0, AE_ERR_CONFIG,
                "spec.json: data.train: expected a non-empty string, got \"\"");
}
END_TEST

START_TEST(test_malformed_json)
{
    /* The missing comma: line 3, column 5 is where "latent" starts. */
    parse_fails("{\n  \"model\": {\"type\": \"vae\"\n    \"latent\": 2}\n}", NULL, 0,
                AE_ERR_CONFIG, "spec.json:3:5: malformed JSON near '\"latent\": 2}'");
    parse_fails("{\"data\": {\"train\": \"t\"}", NULL, 0, AE_ERR_CONFIG,
                "spec.json:1:24: malformed JSON at the end of the input, after '\"t\"}'");
    parse_fails("", NULL, 0, AE_ERR_CONFIG, "spec.json:1:1: malformed JSON at the end of the input");
    /* Trailing garbage after the object is an error too. */
    parse_fails("{\"data\": {\"train\": \"t\"}} x", NULL, 0, AE_ERR_CONFIG,
                "spec.json:1:26: malformed JSON near '\"t\"}} x'");

    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/x.json", tmpdir);
    write_file(path, "{\n  \"data\": {\"train\": \"t\",}\n}\n");
    ae_config c;
    ae_error err = {{0}};
    ck_assert_int_eq(ae_config_load(&c, path, NULL, 0, &err), AE_ERR_CONFIG);
    char want[256];
    snprintf(want, sizeof want, "%s:2:26: malformed JSON near '\"t\",}'", path);
    ck_assert_str_eq(err.msg, want);
    remove_tmpdir();
}
END_TEST

START_TEST(test_unreadable_file)
{
    ae_config c;
    ae_error err = {{0}};
    ck_assert_int_eq(ae_config_load(&c, "no/such/spec.json", NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_str_eq(err.msg, "no/such/spec.json: cannot open the spec: No such file or directory");
    /* A folder opens but cannot be read. */
    make_tmpdir();
    ck_assert_int_eq(ae_config_load(&c, tmpdir, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "Is a directory"));
    remove_tmpdir();
}
END_TEST

START_TEST(test_override_errors)
{
    const char *a[] = {"model.latent"};
    parse_fails(MIN, a, 1, AE_ERR_USAGE,
                "--set model.latent: expected key=value, e.g. model.latent=2");
    const char *b[] = {"=3"};
    parse_fails(MIN, b, 1, AE_ERR_USAGE, "--set =3: empty key before '='");
    const char *c[] = {"model..latent=3"};
    parse_fails(MIN, c, 1, AE_ERR_USAGE, "--set model..latent=3: malformed key (empty key name)");
    const char *d[] = {"model.encoder[x]=3"};
    parse_fails_prefix(MIN, d, 1, AE_ERR_USAGE, "--set model.encoder[x]=3: malformed key");
    const char *e[] = {"model.latent.=3"};
    parse_fails_prefix(MIN, e, 1, AE_ERR_USAGE, "--set model.latent.=3: malformed key");

    /* Well-formed overrides that do not fit the spec are config errors. */
    const char *f[] = {"model.laten=2"};
    parse_fails(MIN, f, 1, AE_ERR_CONFIG,
                "--set model.laten=2: unknown key (known keys: type, encoder, decoder, latent, "
                "activation, likelihood, beta, init, hidden2, classes, code_activation, tied, missing_indicators, noise, sparsity, contractive, contractive_samples, gaussian_std, iw_samples, init_from); did you mean latent?");
    const char *g[] = {"modle.latent=2"};
    parse_fails_prefix(MIN, g, 1, AE_ERR_CONFIG, "--set modle.latent=2: modle: unknown key");
    const char *h[] = {"model.encoder=[400,-3]"};
    parse_fails(MIN, h, 1, AE_ERR_CONFIG,
                "--set model.encoder=[400,-3]: model.encoder[1]: expected a positive integer, "
                "got -3");
    const char *i[] = {"train.lr=fast"};
    parse_fails(MIN, i, 1, AE_ERR_CONFIG, "--set train.lr=fast: expected a number > 0, got \"fast\"");
    const char *j[] = {"model.encoder[2]=300"};
    parse_fails("{\"model\": {\"encoder\": [1, 2]}, \"data\": {\"train\": \"t\"}}", j, 1,
                AE_ERR_CONFIG,
                "--set model.encoder[2]=300: index 2 is out of range (model.encoder has 2 "
                "elements)");
    const char *k[] = {"model.encoder[0]=300"};
    parse_fails_prefix(MIN, k, 1, AE_ERR_CONFIG,
                       "--set model.encoder[0]=300: model.encoder is not in the spec");
    const char *l[] = {"model.latent.x=1"};
    parse_fails("{\"model\": {\"latent\": 4}, \"data\": {\"train\": \"t\"}}", l, 1, AE_ERR_CONFIG,
                "--set model.latent.x=1: model.latent is not an object (it is 4)");
    /* An error in a file value stays the file's even after other overrides. */
    const char *m[] = {"model.latent=2"};
    parse_fails("{\"model\": {\"beta\": -1}, \"data\": {\"train\": \"t\"}}", m, 1, AE_ERR_CONFIG,
                "spec.json: model.beta: expected a number >= 0, got -1");
    /* A value that replaced the bad one fixes it. */
    const char *n[] = {"model.beta=2"};
    ae_config cfg = parse_ok("{\"model\": {\"beta\": -1}, \"data\": {\"train\": \"t\"}}", n, 1);
    ck_assert(cfg.model.beta == 2.0);
}
END_TEST

/* ------------------------------------------------------------ round trip */

static void check_round_trip(const ae_config *a)
{
    char *j1 = ae_config_to_json(a);
    ck_assert_ptr_nonnull(j1);
    ae_config b;
    ae_error err = {{0}};
    ae_status st = ae_config_parse(&b, j1, "resolved.json", NULL, 0, &err);
    ck_assert_msg(st == AE_OK, "resolved spec does not parse: %s\n%s", err.msg, j1);
    assert_config_eq(a, &b);
    char *j2 = ae_config_to_json(&b);
    ck_assert_ptr_nonnull(j2);
    ck_assert_str_eq(j1, j2);
    free(j1);
    free(j2);
}

/* The model-family keys: each variant parses, round-trips, and the
 * combinations that make no sense are refused with the key named. */
START_TEST(test_variants)
{
    const char *dae[] = {"model.noise={\"type\": \"gaussian\", \"std\": 0.3}"};
    ae_config a = parse_ok(MIN, dae, N(dae));
    ck_assert_int_eq(a.model.noise.type, AE_NOISE_GAUSSIAN);
    ck_assert(a.model.noise.std == 0.3);
    check_round_trip(&a);
    const char *mask[] = {"model.noise={\"type\": \"masking\", \"p\": 0.25}", "model.type=ae"};
    check_round_trip((a = parse_ok(MIN, mask, N(mask)), &a));
    const char *l1[] = {"model.type=ae", "model.sparsity={\"type\": \"l1\", \"weight\": 0.01}",
                        "model.noise={\"type\": \"salt_pepper\", \"p\": 0.1}"};
    check_round_trip((a = parse_ok(MIN, l1, N(l1)), &a));
    const char *kl[] = {"model.type=ae", "model.code_activation=sigmoid",
                        "model.sparsity={\"type\": \"kl\", \"rho\": 0.05, \"weight\": 0.5}"};
    a = parse_ok(MIN, kl, N(kl));
    ck_assert(a.model.sparsity.rho == 0.05);
    check_round_trip(&a);
    const char *topk[] = {"model.type=ae", "model.latent=100",
                          "model.sparsity={\"type\": \"topk\", \"k\": 25}"};
    a = parse_ok(MIN, topk, N(topk));
    ck_assert_int_eq(a.model.sparsity.k, 25);
    check_round_trip(&a);
    const char *cae[] = {"model.type=ae", "model.contractive=0.1", "model.contractive_samples=4",
                         "model.code_activation=sigmoid"};
    check_round_trip((a = parse_ok(MIN, cae, N(cae)), &a));
    const char *cvae[] = {"model.type=cvae", "model.classes=10", "train.kl_capacity=25",
                          "train.kl_capacity_epochs=5", "train.kl_warmup_epochs=2"};
    a = parse_ok(MIN, cvae, N(cvae));
    ck_assert_int_eq(a.model.classes, 10);
    check_round_trip(&a);
    const char *hvae[] = {"model.type=hvae", "model.latent=[32, 8]", "model.hidden2=[128, 64]"};
    a = parse_ok(MIN, hvae, N(hvae));
    ck_assert_int_eq(a.model.latent, 32);
    ck_assert_int_eq(a.model.latent2, 8);
    ck_assert_int_eq(a.model.n_hidden2, 2);
    check_round_trip(&a);
    const char *tied[] = {"model.type=ae", "model.encoder=[300, 100]", "model.tied=true"};
    check_round_trip((a = parse_ok(MIN, tied, N(tied)), &a));
    const char *gs[] = {"model.likelihood=gaussian", "model.gaussian_std=0.1"};
    a = parse_ok(MIN, gs, N(gs));
    ck_assert(a.model.gaussian_std == 0.1);
    check_round_trip(&a);
    const char *gl[] = {"model.likelihood=gaussian_learned"};
    a = parse_ok(MIN, gl, N(gl));
    ck_assert_int_eq(a.model.likelihood, AE_LIK_GAUSSIAN_LEARNED);
    check_round_trip(&a);
    const char *pre[] = {"model.type=ae", "model.encoder=[300, 100]", "train.pretrain={\"epochs\": 2}"};
    a = parse_ok(MIN, pre, N(pre));
    ck_assert_int_eq(a.train.pretrain_epochs, 2);
    check_round_trip(&a);
    /* a classifier: no decoder or likelihood in its resolved spec, and the
     * keys of pretraining and few labels (a path with a number in it stays
     * a string) */
    const char *cls[] = {"model.type=classifier", "model.classes=10",
                         "model.init_from=runs/ae/model.safetensors", "model.code_activation=tanh",
                         "data.labeled=100", "train.freeze_encoder_epochs=3"};
    a = parse_ok(MIN, cls, N(cls));
    ck_assert_int_eq(a.model.type, AE_MODEL_CLASSIFIER);
    ck_assert_str_eq(a.model.init_from, "runs/ae/model.safetensors");
    ck_assert_int_eq(a.data.labeled, 100);
    ck_assert_int_eq(a.train.freeze_encoder_epochs, 3);
    check_round_trip(&a);
    char *j = ae_config_to_json(&a);
    ck_assert_ptr_null(strstr(j, "\"decoder\""));
    ck_assert_ptr_null(strstr(j, "\"likelihood\""));
    free(j);
    const char *num[] = {"model.type=classifier", "model.classes=2", "model.init_from=2024"};
    a = parse_ok(MIN, num, N(num));
    ck_assert_str_eq(a.model.init_from, "2024");
    check_round_trip(&a);
}
END_TEST

static void combo_fails(const char *const *ov, size_t n, const char *want_prefix)
/* want_prefix: a part the message must contain */
{
    ae_config c;
    ae_error err = {{0}};
    ae_status st = ae_config_parse(&c, MIN, "spec.json", ov, n, &err);
    ck_assert_msg(st == AE_ERR_CONFIG, "accepted: %s", ov[n - 1]);
    ck_assert_msg(strstr(err.msg, want_prefix) != NULL, "message: %s", err.msg);
}

START_TEST(test_class_name_errors)
{
    const char *a[] = {"data.class_names=[\"a\", \"b\", \"a\"]"};
    combo_fails(a, 1, "data.class_names=[\"a\", \"b\", \"a\"]: 'a' appears twice");
    const char *b[] = {"data.class_names=[\"a,b\"]"};
    combo_fails(b, 1, "'a,b' contains a comma (CSV cells cannot)");
    const char *c[] = {"data.class_names=[\"\"]"};
    combo_fails(c, 1, "'' is empty");
    const char *d[] = {"data.class_names=[\" a\"]"};
    combo_fails(d, 1, "has spaces around it");
    const char *e[] = {"data.class_names=[1, 2]"};
    combo_fails(e, 1, "expected an array of class names (strings)");
    const char *f[] = {"data.class_names=\"cat\""};
    combo_fails(f, 1, "expected an array of class names (strings)");
    const char *g[] = {"model.type=classifier", "model.classes=3", "data.class_names=[\"a\", \"b\"]"};
    combo_fails(g, 3, "spec.json: model.classes: is 3, but data.class_names names 2 classes");
    const char *h[] = {"data.class_names=[\"a\\tb\"]"};
    combo_fails(h, 1, "contains a control character");
    /* the library's setter checks the same */
    ae_config cfg;
    ae_config_defaults(&cfg);
    ae_error err = {{0}};
    const char *dup[2] = {"x", "x"};
    ck_assert_int_eq(ae_config_set_class_names(&cfg, dup, 2, &err), AE_ERR_INPUT);
    ck_assert_str_eq(err.msg, "data.class_names[1]: 'x' appears twice");
    ck_assert_int_eq(cfg.data.n_class_names, 0);
    const char *two[2] = {"b", "a"};
    ck_assert_int_eq(ae_config_set_class_names(&cfg, two, 2, &err), AE_OK);
    ck_assert_int_eq(cfg.data.n_class_names, 2);
    ck_assert_int_eq(ae_config_set_class_names(&cfg, NULL, 0, &err), AE_OK);
    ck_assert_int_eq(cfg.data.n_class_names, 0);
}
END_TEST

START_TEST(test_variant_errors)
{
    const char *a[] = {"model.type=cvae"};
    combo_fails(a, 1, "spec.json: model.classes: required for model.type cvae");
    const char *b[] = {"model.classes=10"};
    combo_fails(b, 1, "spec.json: model.classes: only used by model.type cvae");
    const char *c[] = {"model.type=hvae"};
    combo_fails(c, 1, "spec.json: model.latent: model.type hvae needs two sizes");
    const char *d[] = {"model.latent=[4, 2]"};
    combo_fails(d, 1, "spec.json: model.latent: [z1, z2] is for model.type hvae");
    const char *e[] = {"model.sparsity={\"type\": \"l1\", \"weight\": 1}"};
    combo_fails(e, 1, "spec.json: model.sparsity: only for model.type ae");
    const char *f[] = {"model.type=ae", "model.sparsity={\"type\": \"kl\", \"rho\": 0.1, \"weight\": 1}"};
    combo_fails(f, 2, "spec.json: model.sparsity: type kl needs code activations in (0, 1)");
    const char *g[] = {"model.type=ae", "model.latent=8", "model.sparsity={\"type\": \"topk\", \"k\": 9}"};
    combo_fails(g, 3, "spec.json: model.sparsity.k: k = 9 is larger than model.latent = 8");
    const char *h[] = {"model.type=ae", "model.sparsity={\"type\": \"topk\", \"weight\": 1, \"k\": 2}"};
    combo_fails(h, 2, "--set model.sparsity=");
    const char *i[] = {"model.noise={\"type\": \"gaussian\"}"};
    combo_fails(i, 1, "model.noise.std: required for noise type gaussian");
    const char *j[] = {"model.noise={\"type\": \"masking\", \"p\": 1.5}"};
    combo_fails(j, 1, "--set model.noise=");
    const char *k[] = {"model.contractive=0.1"};
    combo_fails(k, 1, "spec.json: model.contractive: only for model.type ae");
    const char *l[] = {"model.encoder=[300, 100]", "model.decoder=[300]", "model.tied=true"};
    combo_fails(l, 3, "spec.json: model.tied: needs a mirrored architecture");
    const char *m[] = {"model.type=ae", "model.encoder=[300, 100]", "model.decoder=[300]",
                       "train.pretrain={\"epochs\": 1}"};
    combo_fails(m, 4, "spec.json: train.pretrain: needs hidden layers and a mirrored");
    const char *n[] = {"train.pretrain={\"epochs\": 1}"};
    combo_fails(n, 1, "spec.json: train.pretrain: greedy layer-wise pretraining is for model.type ae");
    const char *o[] = {"model.type=ae", "train.kl_capacity=5"};
    combo_fails(o, 2, "spec.json: train.kl_capacity: needs a model with a KL term");
    const char *p[] = {"model.code_activation=sigmoid"};
    combo_fails(p, 1, "spec.json: model.code_activation: only for model.type ae");
    const char *h2[] = {"model.hidden2=[64]"};
    combo_fails(h2, 1, "model.hidden2=[64]: only used by model.type hvae (this is vae)");
    const char *q[] = {"model.type=cvae", "model.classes=3", "model.tied=true"};
    combo_fails(q, 3, "spec.json: model.tied: is for model.type ae, vae or iwae");
    const char *iw1[] = {"model.iw_samples=3"};
    combo_fails(iw1, 1, "--set model.iw_samples=3: only used by model.type iwae (this is vae)");
    const char *iw2[] = {"model.type=iwae", "model.iw_samples=4096", "train.batch_size=1000"};
    combo_fails(iw2, 3, "spec.json: model.iw_samples: 4096 samples for each of train.batch_size = 1000");
    const char *iw3[] = {"model.type=iwae", "train.kl_capacity=5"};
    combo_fails(iw3, 2, "spec.json: train.kl_capacity: does not combine with model.type iwae");
    const char *iw4[] = {"model.type=iwae", "model.iw_samples=0"};
    combo_fails(iw4, 2, "model.iw_samples=0: expected");
    const char *be[] = {"train.backend=gpu"};
    combo_fails(be, 1, "--set train.backend=gpu: expected one of auto, onednn, openblas, got \"gpu\"");
    const char *gs1[] = {"model.gaussian_std=0.5"};
    combo_fails(gs1, 1, "--set model.gaussian_std=0.5: only used by model.likelihood gaussian (this is bernoulli)");
    const char *gs2[] = {"model.likelihood=gaussian", "model.gaussian_std=0"};
    combo_fails(gs2, 2, "--set model.gaussian_std=0: expected a number > 0, got 0");
    const char *gs3[] = {"model.likelihood=gaussian", "model.gaussian_std=1e9"};
    combo_fails(gs3, 2, "model.gaussian_std");
    const char *c1[] = {"model.type=classifier"};
    combo_fails(c1, 1, "spec.json: model.classes: required for model.type classifier");
    const char *c2[] = {"model.type=classifier", "model.classes=1"};
    combo_fails(c2, 2, "spec.json: model.classes: required for model.type classifier: the number "
                       "of label values (at least 2)");
    const char *c3[] = {"model.type=classifier", "model.classes=10", "model.decoder=[100]"};
    combo_fails(c3, 3, "--set model.decoder=[100]: not used by model.type classifier (it has no "
                       "decoder");
    const char *c4[] = {"model.type=classifier", "model.classes=10", "model.likelihood=gaussian"};
    combo_fails(c4, 3, "model.likelihood=gaussian: not used by model.type classifier");
    const char *c5[] = {"model.type=classifier", "model.classes=10", "model.tied=true"};
    combo_fails(c5, 3, "model.tied=true: not used by model.type classifier");
    const char *c6[] = {"model.type=ae", "model.init_from=x.safetensors"};
    combo_fails(c6, 2, "spec.json: model.init_from: only used by model.type classifier (this is ae)");
    const char *c7[] = {"data.labeled=100"};
    combo_fails(c7, 1, "spec.json: data.labeled: only used by model.type classifier (this is vae)");
    const char *c8[] = {"model.type=ae", "train.freeze_encoder_epochs=2"};
    combo_fails(c8, 2, "spec.json: train.freeze_encoder_epochs: only used by model.type classifier");
    const char *c9[] = {"model.type=classifier", "model.classes=10", "data.labeled=-5"};
    combo_fails(c9, 3, "data.labeled=-5: expected");
    const char *c10[] = {"model.type=classifier", "model.classes=10",
                         "train.freeze_encoder_epochs=1.5"};
    combo_fails(c10, 3, "train.freeze_encoder_epochs=1.5: expected");
    const char *c11[] = {"model.type=classifier", "model.classes=10",
                         "model.sparsity={\"type\": \"l1\", \"weight\": 1}"};
    combo_fails(c11, 3, "spec.json: model.sparsity: only for model.type ae (this is classifier)");
    const char *c12[] = {"model.type=classifier", "model.classes=10", "train.pretrain={\"epochs\": 1}"};
    combo_fails(c12, 3, "train.pretrain: greedy layer-wise pretraining is for model.type ae");
    const char *gl1[] = {"model.type=ae", "model.encoder=[300, 100]", "model.tied=true",
                         "model.likelihood=gaussian_learned"};
    combo_fails(gl1, 4, "model.tied: does not combine with model.likelihood gaussian_learned");
    const char *mi1[] = {"model.type=ae", "model.encoder=[300, 100]", "model.tied=true",
                         "model.missing_indicators=true"};
    combo_fails(mi1, 4, "spec.json: model.missing_indicators: does not combine with model.tied");
    const char *mi2[] = {"model.type=ae", "model.contractive=0.1", "model.missing_indicators=true"};
    combo_fails(mi2, 3, "model.missing_indicators: does not combine with model.contractive");
    const char *mi3[] = {"model.type=ae", "model.encoder=[300, 100]",
                         "train.pretrain={\"epochs\": 1}", "model.missing_indicators=true"};
    combo_fails(mi3, 4, "model.missing_indicators: does not combine with train.pretrain");
    const char *ls1[] = {"train.lr_schedule.type=plateau"};
    combo_fails(ls1, 1, "spec.json: train.lr_schedule: needs a validation loss to watch: set "
                        "data.validation");
    const char *ls2[] = {"train.early_stopping.patience=3"};
    combo_fails(ls2, 1, "spec.json: train.early_stopping: needs a validation loss to watch");
    const char *ls3[] = {"output.keep_best=true"};
    combo_fails(ls3, 1, "spec.json: output.keep_best: needs a validation loss to watch");
    const char *ls4[] = {"train.lr_schedule={\"type\": \"cosine\", \"gamma\": 0.5}"};
    combo_fails(ls4, 1, "train.lr_schedule.gamma: not used by schedule type cosine");
    const char *ls5[] = {"train.lr_schedule.type=linear"};
    combo_fails(ls5, 1, "expected one of none, step, cosine, plateau, burda");
    const char *ls6[] = {"train.lr_schedule={\"type\": \"step\", \"gamma\": 2}"};
    combo_fails(ls6, 1, "train.lr_schedule.gamma: expected a number in (0, 1]");
    const char *ls7[] = {"train.lr_schedule={\"type\": \"cosine\", \"min_lr\": 0.1}"};
    combo_fails(ls7, 1, "train.lr_schedule.min_lr: 0.1 is above train.lr = 0.001");
    const char *ls8[] = {"train.clip_grad_norm=-1"};
    combo_fails(ls8, 1, "train.clip_grad_norm");
    const char *ls9[] = {"train.early_stopping={\"patience\": 2, \"delta\": 1}"};
    combo_fails(ls9, 1, "train.early_stopping.delta: unknown key");
    const char *mi4[] = {"model.missing_indicators=1"};
    combo_fails(mi4, 1, "model.missing_indicators");
}
END_TEST

START_TEST(test_round_trip)
{
    ae_config a = parse_ok(MIN, NULL, 0);
    check_round_trip(&a);

    /* Values that a 15-digit or int-only printer would not preserve. */
    const char *ov[] = {"train.lr=0.30000000000000004",
                        "train.seed=9007199254740992",
                        "train.weight_decay=1e-300",
                        "model.beta=123456789.123456789",
                        "data.validation=0.1",
                        "data.train_limit=5000000000",
                        "data.csv.label_column=3",
                        "data.csv.header=true",
                        "model.decoder=[]",
                        "model.type=\"ae\"",
                        "model.activation=elu",
                        "model.missing_indicators=true",
                        "data.binarize=fixed",
                        "train.kl_warmup_epochs=0.7",
                        "data.train=dir with spaces/\\\"quoted\\\".csv"};
    a = parse_ok(MIN, ov, N(ov));
    ck_assert(a.train.lr == 0.1 + 0.2);
    ck_assert(a.train.seed == 9007199254740992ULL);
    ck_assert_int_eq(a.data.train_limit, 5000000000L);
    ck_assert(a.model.missing_indicators);
    check_round_trip(&a);

    const char *sch[][3] = {
        {"train.lr_schedule.type=step", "train.lr_schedule.gamma=0.5", "data.validation=0"},
        {"train.lr_schedule={\"type\": \"cosine\", \"warmup_epochs\": 3, \"min_lr\": 1e-5}",
         "train.clip_grad_norm=5", "data.validation=0"},
        {"train.lr_schedule={\"type\": \"plateau\", \"factor\": 0.5, \"patience\": 2}",
         "train.early_stopping={\"patience\": 4, \"min_delta\": 0.01}", "data.validation=0.1"},
        {"train.lr_schedule.type=burda", "output.keep_best=true", "data.validation=0.1"}};
    for (size_t k = 0; k < 4; k++) {
        a = parse_ok(MIN, sch[k], 3);
        ck_assert_int_eq(a.train.lr_schedule.type, (int)k + 1);
        check_round_trip(&a);
    }
    ck_assert_int_eq(a.output.keep_best, 1);
    a = parse_ok(MIN, sch[2], 3);
    ck_assert_int_eq(a.train.lr_schedule.patience, 2);
    ck_assert(a.train.lr_schedule.factor == 0.5);
    ck_assert_int_eq(a.train.early_stop_patience, 4);
    ck_assert(a.train.early_stop_min_delta == 0.01);
    a = parse_ok(MIN, sch[1], 3);
    ck_assert_int_eq(a.train.lr_schedule.warmup_epochs, 3);
    ck_assert(a.train.clip_grad_norm == 5);

    const char *ov2[] = {"data.csv.header=false", "model.encoder=[]"};
    a = parse_ok(MIN, ov2, N(ov2));
    check_round_trip(&a);

    /* data.class_names: the given order, kept through JSON */
    const char *cn[] = {"model.type=cvae", "model.classes=3",
                        "data.class_names=[\"normal\", \"attack\", \"caf\u00e9 & <b>\"]"};
    ae_config c3 = parse_ok(MIN, cn, N(cn));
    const char *names[AE_MAX_CLASS_NAMES];
    ck_assert_uint_eq(ae_config_class_names(&c3, names), 3);
    ck_assert_str_eq(names[0], "normal");
    ck_assert_str_eq(names[1], "attack");
    ck_assert_str_eq(names[2], "caf\xc3\xa9 & <b>");
    check_round_trip(&c3);
    char *j3 = ae_config_to_json(&c3);
    ck_assert_ptr_nonnull(strstr(j3, "\"class_names\":\t[\"normal\", \"attack\""));
    free(j3);
    j3 = ae_config_to_json(&a); /* none: no key */
    ck_assert_ptr_null(strstr(j3, "class_names"));
    free(j3);

    /* The resolved spec writes every key explicitly. */
    char *j = ae_config_to_json(&a);
    ck_assert_ptr_nonnull(strstr(j, "\"decoder\":\t[]"));
    ck_assert_ptr_nonnull(strstr(j, "\"label_column\":\t\"\""));
    ck_assert_ptr_nonnull(strstr(j, "\"header\":\tfalse"));
    ck_assert_ptr_nonnull(strstr(j, "\"seed\":\t1,"));
    free(j);
}
END_TEST

START_TEST(test_save_load)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/resolved.json", tmpdir);
    const char *ov[] = {"model.latent=7", "train.lr=2.5e-4"};
    ae_config a = parse_ok(MIN, ov, N(ov));
    ae_error err = {{0}};
    ck_assert_int_eq(ae_config_save(&a, path, &err), AE_OK);
    ae_config b;
    ck_assert_int_eq(ae_config_load(&b, path, NULL, 0, &err), AE_OK);
    assert_config_eq(&a, &b);

    /* A folder that does not exist cannot be written. */
    ck_assert_int_ne(ae_config_save(&a, "no/such/folder/x.json", &err), AE_OK);
    /* A struct with an invalid enum is refused rather than written. */
    a.model.activation = (ae_activation)99;
    ck_assert_ptr_null(ae_config_to_json(&a));
    ck_assert_int_eq(ae_config_save(&a, path, &err), AE_ERR_USAGE);
    remove_tmpdir();
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(ae_activation_name(AE_ACT_RELU), "relu");
    ck_assert_str_eq(ae_activation_name(AE_ACT_LEAKY_RELU), "leaky_relu");
    ck_assert_str_eq(ae_activation_name(AE_ACT_LINEAR), "linear");
    ck_assert_str_eq(ae_activation_name((ae_activation)42), "unknown");
    ck_assert_str_eq(ae_model_type_name(AE_MODEL_AE), "ae");
    ck_assert_str_eq(ae_model_type_name(AE_MODEL_VAE), "vae");
}
END_TEST

START_TEST(test_null_error_ok)
{
    /* A NULL ae_error is allowed: the caller only wants the status. */
    ae_config c;
    ck_assert_int_eq(ae_config_parse(&c, "{", "x", NULL, 0, NULL), AE_ERR_CONFIG);
    const char *ov[] = {"bad"};
    ck_assert_int_eq(ae_config_parse(&c, MIN, "x", ov, 1, NULL), AE_ERR_USAGE);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_no_file);
    tcase_add_test(tc, test_full_spec);
    tcase_add_test(tc, test_csv_options);
    tcase_add_test(tc, test_decoder_default);
    tcase_add_test(tc, test_output_dir_from_stem);
    tcase_add_test(tc, test_override_kinds);
    tcase_add_test(tc, test_override_sections_and_order);
    tcase_add_test(tc, test_unknown_keys);
    tcase_add_test(tc, test_type_errors);
    tcase_add_test(tc, test_integer_errors);
    tcase_add_test(tc, test_range_errors);
    tcase_add_test(tc, test_required);
    tcase_add_test(tc, test_malformed_json);
    tcase_add_test(tc, test_unreadable_file);
    tcase_add_test(tc, test_override_errors);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_variants);
    tcase_add_test(tc, test_variant_errors);
    tcase_add_test(tc, test_class_name_errors);
    tcase_add_test(tc, test_save_load);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_null_error_ok);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(config_suite());
}
