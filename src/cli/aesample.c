/* aesample: generate examples from a VAE's prior, or decode given codes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/checkpoint.h"
#include "ae/fileio.h"
#include "ae/model.h"
#include "ae/pictures.h"
#include "ae/rng.h"
#include "ae/table.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aesample --model MODEL.safetensors [options]\n"
            "\n"
            "Draws z from the prior N(0, T^2 I) of a VAE (or takes codes from --from-codes),\n"
            "decodes them and writes a PNG grid and/or a CSV of the decoded values.\n"
            "\n"
            "options:\n"
            "  --model FILE        a model or checkpoint written by aetrain\n"
            "  --n N               how many samples (default 64)\n"
            "  --seed N            random seed (default 1)\n"
            "  --temperature T     scales the prior's standard deviation (default 1)\n"
            "  --out FILE.png      the picture grid (default samples.png)\n"
            "  --cols N            grid columns (default: a square grid)\n"
            "  --csv FILE          also write the decoded values, one row per sample, in the\n"
            "                      units of the training data (x0,...,x{D-1})\n"
            "  --from-codes FILE   decode these codes instead of sampling: a CSV with columns\n"
            "                      z0..z{k-1} (aeencode's output) or exactly k numbers a row;\n"
            "                      works for autoencoders too\n"
            "  --class C|all       conditional VAE: generate class C, or with 'all' (the\n"
            "                      default) --n samples of every class, one row per class\n"
            "  --threads N         BLAS threads (0 = all cores, the default)\n"
            "  --help, --version\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

static ae_status write_csv(const char *path, const ae_model *m, const float *y, size_t n,
                           ae_error *err)
{
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        return st;
    size_t D = m->input_dim;
    for (size_t j = 0; j < D; j++)
        fprintf(f.fp, "%sx%zu", j ? "," : "", j);
    fputc('\n', f.fp);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < D; j++) /* back to the data's units: raw = (x - shift) / scale */
            fprintf(f.fp, "%s%.6g", j ? "," : "", (y[i * D + j] - m->shift[j]) / m->scale[j]);
        fputc('\n', f.fp);
    }
    return ae_atomic_commit(&f, err);
}

int main(int argc, char **argv)
{
    cli_prog = "aesample";
    const char *model_path = NULL, *out_path = "samples.png", *csv_path = NULL;
    const char *codes_path = NULL, *class_arg = NULL, *v;
    long n = 64, cols = 0, threads = 0;
    double temperature = 1.0;
    uint64_t seed = 1;
    int r;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("aesample %s\n", ae_version());
            return 0;
        } else if ((r = cli_opt(argc, argv, &i, "--model", &model_path)) ||
                   (r = cli_opt(argc, argv, &i, "--out", &out_path)) ||
                   (r = cli_opt(argc, argv, &i, "--csv", &csv_path)) ||
                   (r = cli_opt(argc, argv, &i, "--from-codes", &codes_path)) ||
                   (r = cli_opt(argc, argv, &i, "--class", &class_arg))) {
            if (r < 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--n", &v)) != 0) {
            if (r < 0 || !cli_parse_long("--n", v, 1, 1000000, &n))
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--cols", &v)) != 0) {
            if (r < 0 || !cli_parse_long("--cols", v, 1, 10000, &cols))
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || !cli_parse_long("--threads", v, 0, 1024, &threads))
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || !cli_parse_u64("--seed", v, &seed))
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--temperature", &v)) != 0) {
            if (r < 0 || !cli_parse_double("--temperature", v, 0.0, 1e6, &temperature))
                return 2;
        } else {
            cli_error("unknown option '%s' (see --help)", a);
            return 2;
        }
    }
    if (!model_path) {
        cli_error("--model is required (see --help)");
        return 2;
    }
    ae_threads_set((int)threads);
    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_status st = ae_checkpoint_load_model(model_path, 256, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    int rc = 0;
    float *z = NULL, *y = NULL;
    int32_t *labels = NULL;
    size_t count = (size_t)n, L = m.latent;
    long cls = -1; /* -1: every class */
    if (class_arg && !m.classes) {
        cli_error("--class is for conditional VAEs (model.type cvae); %s has model.type %s",
                  model_path, ae_model_type_name(m.type));
        rc = 2;
        goto out;
    }
    if (class_arg && strcmp(class_arg, "all") != 0 &&
        !cli_parse_long("--class", class_arg, 0, (long)m.classes - 1, &cls)) {
        rc = 2;
        goto out;
    }
    if (codes_path) {
        st = ae_codes_load(codes_path, L, &z, &count, &err);
        if (st != AE_OK) {
            rc = cli_fail(st, &err);
            goto out;
        }
        if (m.classes && cls < 0) {
            cli_error("decoding codes with a conditional VAE needs one class: --class C");
            rc = 2;
            goto out;
        }
    } else if (m.type == AE_MODEL_AE) {
        cli_error("%s is a plain autoencoder (model.type %s): it has no prior to sample from; "
                  "decode chosen codes with --from-codes FILE", model_path,
                  ae_model_type_name(m.type));
        rc = 2;
        goto out;
    } else {
        if (m.classes && cls < 0) { /* n per class, one row per class */
            cols = n;
            count = (size_t)n * m.classes;
        }
        z = malloc(count * L * sizeof(float));
        if (!z) {
            cli_error("out of memory for %zu samples", count);
            rc = 1;
            goto out;
        }
        ae_rng rng;
        ae_rng_seed(&rng, seed);
        ae_model_prior_sample(&m, count, &rng, (float)temperature, z);
    }
    if (m.classes) {
        labels = malloc(count * sizeof(int32_t));
        if (!labels) {
            cli_error("out of memory");
            rc = 1;
            goto out;
        }
        for (size_t i = 0; i < count; i++)
            labels[i] = cls >= 0 ? (int32_t)cls : (int32_t)(i / (size_t)n);
    }
    if (!cols)
        cols = (long)ceil(sqrt((double)count));
    st = ae_picture_decode(out_path, &m, z, labels, count, (size_t)cols, &err);
    if (st == AE_OK && csv_path) {
        y = malloc(count * m.input_dim * sizeof(float));
        if (!y) {
            cli_error("out of memory");
            rc = 1;
            goto out;
        }
        ae_decode_all(&m, z, labels, count, y);
        st = write_csv(csv_path, &m, y, count, &err);
    }
    if (st != AE_OK)
        rc = cli_fail(st, &err);
out:
    free(z);
    free(y);
    free(labels);
    ae_model_free(&m);
    return rc;
}
