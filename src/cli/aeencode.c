/* aeencode: write the latent codes of a dataset as CSV or .npy. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "ae/checkpoint.h"
#include "ae/data.h"
#include "ae/fileio.h"
#include "ae/model.h"
#include "ae/plot.h"
#include "ae/table.h"
#include "cli.h"

#define ENCODE_BATCH 1000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aeencode --model MODEL.safetensors --data FILE [options]\n"
            "\n"
            "Encodes every example of FILE (IDX, raw or .gz, or CSV, scaled as the model was\n"
            "trained) and writes one row of latent codes per example.\n"
            "\n"
            "options:\n"
            "  --model FILE       a model or checkpoint written by aetrain\n"
            "  --data FILE        the examples to encode\n"
            "  --labels FILE      labels to write beside the codes (IDX or one-column CSV);\n"
            "                     a CSV with the model's data.csv.label_column has its own\n"
            "  --out FILE         where to write (default -, standard output, unless --plot\n"
            "                     is given without --out: then no codes are written)\n"
            "  --plot FILE        also draw the codes as a scatter plot, FILE.svg or FILE.png,\n"
            "                     coloured by label when there are labels; codes of more than\n"
            "                     2 dimensions are projected on their first two principal\n"
            "                     components (the title says so)\n"
            "  --format csv|npy   default: npy when --out ends in .npy, else csv\n"
            "  --sample           draw z from q(z|x) instead of writing the mean mu\n"
            "  --seed N           seed for --sample (default 1)\n"
            "  --logvar           also write the log-variances (VAE)\n"
            "  --threads N        BLAS threads (0 = all cores, the default)\n"
            "  --precision P      fp32, bf16, or model (the model's train.precision, the\n"
            "                     default): the GEMMs' inputs (bf16 needs oneDNN, AVX-512)\n"
            "  --help, --version\n"
            "\n"
            "CSV columns: index,[label,]z0,...,z{k-1}[,logvar0,...,logvar{k-1}]\n"
            ".npy: a float32 array [n x k] (or [n x 2k] with --logvar: codes, then log-variances);\n"
            "labels are not in the .npy: they are in your label file, in the same order.\n"
            "A model trained on label names (data.class_names) writes the names.\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

/* Writes the codes [n x k] (k = L, or 2L with the log-variances) as CSV or
 * .npy to out_path ("-": standard output), atomically for a file; a CSV's
 * labels as the data had them (class names, or integers). */
static ae_status write_codes(const char *out_path, bool npy, const float *codes,
                             const ae_dataset *ds, const cli_classes *cls, size_t L,
                             bool with_logvar, ae_error *err)
{
    size_t k = with_logvar ? 2 * L : L;
    ae_atomic_file af = {0};
    FILE *f;
    ae_status st = AE_OK;
    bool to_stdout = !strcmp(out_path, "-");
    if (to_stdout) {
        f = stdout;
    } else {
        st = ae_atomic_open(&af, out_path, err);
        if (st != AE_OK)
            return st;
        f = af.fp;
    }
    if (npy) {
        st = ae_npy_write_stream(f, to_stdout ? "standard output" : out_path, codes, ds->n, k, err);
    } else {
        fputs("index", f);
        if (ds->labels)
            fputs(",label", f);
        for (size_t j = 0; j < L; j++)
            fprintf(f, ",z%zu", j);
        if (with_logvar)
            for (size_t j = 0; j < L; j++)
                fprintf(f, ",logvar%zu", j);
        fputc('\n', f);
        for (size_t i = 0; i < ds->n; i++) {
            fprintf(f, "%zu", i);
            if (ds->labels) {
                fputc(',', f);
                cli_put_label(f, cls, ds->labels[i]);
            }
            for (size_t j = 0; j < k; j++)
                fprintf(f, ",%.7g", codes[i * k + j]);
            fputc('\n', f);
        }
    }
    if (to_stdout) {
        if (st == AE_OK && (fflush(stdout) != 0 || ferror(stdout))) {
            ae_error_set(err, "standard output: write failed");
            st = AE_ERR_IO;
        }
    } else if (st == AE_OK) {
        st = ae_atomic_commit(&af, err);
    } else {
        ae_atomic_abort(&af);
    }
    return st;
}

int main(int argc, char **argv)
{
    cli_prog = "aeencode";
    const char *model_path = NULL, *data_path = NULL, *labels_path = NULL, *out_path = NULL;
    const char *plot_path = NULL;
    const char *format = NULL;
    bool sample = false, with_logvar = false;
    uint64_t seed = 1;
    long threads = 0;
    int precision = -1;
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &model_path),
        CLI_OPT_STR("--data", &data_path),
        CLI_OPT_STR("--labels", &labels_path),
        CLI_OPT_STR("--out", &out_path),
        CLI_OPT_STR("--plot", &plot_path),
        CLI_OPT_STR("--format", &format),
        CLI_OPT_FLAG("--sample", &sample),
        CLI_OPT_FLAG("--logvar", &with_logvar),
        CLI_OPT_U64("--seed", &seed),
        CLI_OPT_LONG("--threads", &threads, 0, 1024),
        CLI_OPT_PRECISION("--precision", &precision),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, NULL);
    if (r >= 0)
        return r;
    if (!model_path || !data_path) {
        cli_error("--model and --data are required (see --help)");
        return 2;
    }
    if (plot_path && !ae_plot_has_ext(plot_path, ".svg") && !ae_plot_has_ext(plot_path, ".png")) {
        cli_error("--plot: expected a file name ending in .svg or .png, got '%s'", plot_path);
        return 2;
    }
    if (!out_path && !plot_path)
        out_path = "-";
    bool npy = false;
    if (format) {
        if (strcmp(format, "csv") != 0 && strcmp(format, "npy") != 0) {
            cli_error("--format: expected csv or npy, got '%s'", format);
            return 2;
        }
        npy = !strcmp(format, "npy");
    } else if (out_path) {
        size_t n = strlen(out_path);
        npy = n > 4 && !strcmp(out_path + n - 4, ".npy");
    }

    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_dataset ds = {0};
    ae_status st = ae_checkpoint_load_model(model_path, ENCODE_BATCH, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    ae_threads_set((int)threads);
    int rc = 0;
    float *eps = NULL, *codes = NULL;
    if ((rc = cli_select_precision(precision, &cfg)) != 0)
        goto out;
    st = ae_load_split(&cfg, data_path, labels_path, 0, &ds, &err);
    if (st == AE_OK) /* names of labels the model did not learn */
        st = ae_config_take_class_names(&cfg, &ds, labels_path ? labels_path : data_path, &err);
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    ae_data_ref ref = {"--data", data_path, labels_path, NULL, model_path, false};
    if ((st = ae_model_check_data(&m, &ds, &ref, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    cli_classes cls;
    cli_classes_get(&cfg, &cls);
    size_t L = m.latent, k = with_logvar ? 2 * L : L;
    eps = malloc(ENCODE_BATCH * L * sizeof(float)); /* [ENCODE_BATCH x L] */
    codes = malloc(ds.n * k * sizeof(float)); /* [n x k]: mu (or z), then logvar */
    if (!eps || !codes) {
        cli_error("out of memory for %zu codes", ds.n);
        rc = 1;
        goto out;
    }
    /* Fixed binarisation is part of the model's input; dynamic binarisation
     * was a training-time augmentation, so encode the probabilities. */
    ae_binarize bin = cfg.data.binarize == AE_BIN_FIXED ? AE_BIN_FIXED : AE_BIN_NONE;
    float *mu = malloc(ds.n * L * sizeof(float)); /* [n x L] */
    float *lv = malloc(ds.n * L * sizeof(float)); /* [n x L] */
    if (!mu || !lv || (st = ae_model_encode_rows(&m, &ds, NULL, ds.n, bin, NULL, mu, lv, &err))) {
        free(mu);
        free(lv);
        rc = st ? cli_fail(st, &err) : (cli_error("out of memory for %zu codes", ds.n), 1);
        goto out;
    }
    if (sample && m.family->variational) {
        /* z ~ q(z|x) (hvae: z1), drawn batch by batch as before */
        ae_rng rng;
        ae_rng_seed(&rng, seed);
        for (size_t i = 0; i < ds.n; i += ENCODE_BATCH) {
            size_t b = ds.n - i < ENCODE_BATCH ? ds.n - i : ENCODE_BATCH;
            float *zb = mu + i * L, *lb = lv + i * L;
            ae_rng_normal_fill(&rng, eps, b * L);
            for (size_t q = 0; q < b * L; q++)
                zb[q] += expf(0.5f * lb[q]) * eps[q];
        }
    }
    for (size_t row = 0; row < ds.n; row++) {
        memcpy(codes + row * k, mu + row * L, L * sizeof(float));
        if (with_logvar)
            memcpy(codes + row * k + L, lv + row * L, L * sizeof(float));
    }
    free(mu);
    free(lv);

    if (out_path)
        st = write_codes(out_path, npy, codes, &ds, &cls, L, with_logvar, &err);
    if (st == AE_OK && plot_path) {
        /* the means (or samples) without the log-variances, [n x L] */
        for (size_t i = 0; with_logvar && i < ds.n; i++)
            memmove(codes + i * L, codes + i * k, L * sizeof(float));
        const char *base = strrchr(data_path, '/');
        st = ae_plot_codes(plot_path, codes, ds.n, L, ds.labels, cls.names, cls.n,
                           base ? base + 1 : data_path, &err);
    }
    if (st != AE_OK)
        rc = cli_fail(st, &err);
out:
    free(eps);
    free(codes);
    ae_dataset_free(&ds);
    ae_model_free(&m);
    return rc;
}
