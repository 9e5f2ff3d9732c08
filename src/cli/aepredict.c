/* aepredict: a trained classifier's class probabilities for every example
 * of a file, written as CSV; with labels, the accuracy and the confusion
 * matrix (as a table or one JSON object). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "ae/checkpoint.h"
#include "ae/data.h"
#include "ae/fileio.h"
#include "ae/model.h"
#include "cli.h"

#define PREDICT_BATCH 1000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aepredict --model MODEL.safetensors --data FILE --out PREDICTIONS.csv "
            "[options]\n"
            "\n"
            "Runs every example of FILE (IDX, raw or .gz, or CSV, scaled as the model was\n"
            "trained) through a classifier (model.type classifier, docs/classify.md) and\n"
            "writes its prediction and class probabilities.  With labels, prints the\n"
            "accuracy and the confusion matrix.\n"
            "\n"
            "options:\n"
            "  --model FILE       a classifier's model or checkpoint written by aetrain\n"
            "  --data FILE        the examples\n"
            "  --labels FILE      their labels (IDX or one-column CSV); a CSV with the\n"
            "                     model's data.csv.label_column has its own\n"
            "  --out FILE         the predictions, CSV (- for standard output):\n"
            "                     index,prediction,p0,...,p{C-1}[,label]\n"
            "                     (prediction: the most probable class, the first on a tie);\n"
            "                     a model trained on label names (data.class_names) writes\n"
            "                     the names, and p_NAME for each class's probability\n"
            "  --json             print one JSON object (counts, accuracy, confusion matrix)\n"
            "                     instead of the text summary\n"
            "  --limit N          only the first N examples of FILE\n"
            "  --threads N        BLAS threads (0 = all cores, the default)\n"
            "  --precision P      fp32, bf16, or model (the model's train.precision, the\n"
            "                     default): the GEMMs' inputs (bf16 needs oneDNN, AVX-512)\n"
            "  --help, --version\n"
            "\n"
            "The confusion matrix has a row per label and a column per prediction.\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

/* The predictions file: one row per example of p [n x C]. */
static ae_status write_predictions(const char *path, const float *p, const int32_t *pred,
                                   const int32_t *labels, size_t n, size_t C,
                                   const cli_classes *cls, ae_error *err)
{
    ae_atomic_file af = {0};
    bool to_stdout = !strcmp(path, "-");
    FILE *f = stdout;
    if (!to_stdout) {
        ae_status st = ae_atomic_open(&af, path, err);
        if (st != AE_OK)
            return st;
        f = af.fp;
    }
    fputs("index,prediction", f);
    for (size_t k = 0; k < C; k++)
        if (k < cls->n)
            fprintf(f, ",p_%s", cls->names[k]);
        else
            fprintf(f, ",p%zu", k);
    fputs(labels ? ",label\n" : "\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%zu,", i);
        cli_put_label(f, cls, pred[i]);
        for (size_t k = 0; k < C; k++)
            fprintf(f, ",%.7g", (double)p[i * C + k]);
        if (labels) {
            fputc(',', f);
            cli_put_label(f, cls, labels[i]);
        }
        fputc('\n', f);
    }
    if (!to_stdout)
        return ae_atomic_commit(&af, err);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ae_error_set(err, "standard output: write failed");
        return AE_ERR_IO;
    }
    return AE_OK;
}

/* Class k for the confusion matrix: its name (cut to 16 bytes), or k. */
static const char *class_text(const cli_classes *cls, size_t k, char *buf, size_t size)
{
    if (k < cls->n)
        snprintf(buf, size, "%.16s", cls->names[k]);
    else
        snprintf(buf, size, "%zu", k);
    return buf;
}

/* The summary: counts, and with labels the accuracy and the confusion
 * matrix conf [C x C] (row: label, column: prediction). */
static void print_summary(FILE *f, bool json, const char *model, const char *data,
                          const char *out, size_t n, size_t C, const cli_classes *cls,
                          const size_t *conf)
{
    size_t right = 0;
    for (size_t k = 0; conf && k < C; k++)
        right += conf[k * C + k];
    double acc = n ? (double)right / (double)n : 0.0;
    if (json) {
        fputs("{\n  \"model\": ", f);
        cli_json_str(f, model);
        fputs(",\n  \"data\": ", f);
        cli_json_str(f, data);
        fputs(",\n  \"out\": ", f);
        cli_json_str(f, out);
        fprintf(f, ",\n  \"examples\": %zu,\n  \"classes\": %zu,\n  \"class_names\": ", n, C);
        if (!cls->n)
            fputs("null", f);
        for (size_t k = 0; k < cls->n; k++) {
            fputs(k ? ", " : "[", f);
            cli_json_str(f, cls->names[k]);
        }
        fputs(cls->n ? "],\n" : ",\n", f);
        if (!conf) {
            fputs("  \"accuracy\": null,\n  \"correct\": null,\n  \"confusion\": null\n}\n", f);
            return;
        }
        fprintf(f, "  \"accuracy\": %.6f,\n  \"correct\": %zu,\n  \"confusion\": [", acc, right);
        for (size_t y = 0; y < C; y++) {
            fputs(y ? ",\n    [" : "\n    [", f);
            for (size_t k = 0; k < C; k++)
                fprintf(f, "%s%zu", k ? ", " : "", conf[y * C + k]);
            fputc(']', f);
        }
        fputs("\n  ]\n}\n", f);
        return;
    }
    fprintf(f, "aepredict: %zu examples, %zu classes; predictions in %s\n", n, C,
            strcmp(out, "-") ? out : "standard output");
    if (!conf) {
        fputs("aepredict: no labels, so no accuracy (--labels FILE)\n", f);
        return;
    }
    fprintf(f, "accuracy %.4f (%zu of %zu)\n", acc, right, n);
    fputs("confusion matrix (rows: label, columns: prediction)\n", f);
    /* columns as wide as the longest class name (up to 16 bytes shown) */
    int w = 6;
    for (size_t k = 0; k < cls->n; k++) {
        size_t len = strlen(cls->names[k]);
        w = len > 16 ? 16 : len > (size_t)w ? (int)len : w;
    }
    char name[24];
    fprintf(f, "%*s", w, "label");
    for (size_t k = 0; k < C; k++)
        fprintf(f, " %*s", w, class_text(cls, k, name, sizeof name));
    fputc('\n', f);
    for (size_t y = 0; y < C; y++) {
        fprintf(f, "%*s", w, class_text(cls, y, name, sizeof name));
        for (size_t k = 0; k < C; k++)
            fprintf(f, " %*zu", w, conf[y * C + k]);
        fputc('\n', f);
    }
}

int main(int argc, char **argv)
{
    cli_prog = "aepredict";
    const char *model_path = NULL, *data_path = NULL, *labels_path = NULL, *out_path = NULL;
    bool json = false;
    long threads = 0, limit = 0;
    int precision = -1;
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &model_path),
        CLI_OPT_STR("--data", &data_path),
        CLI_OPT_STR("--labels", &labels_path),
        CLI_OPT_STR("--out", &out_path),
        CLI_OPT_FLAG("--json", &json),
        CLI_OPT_LONG("--limit", &limit, 1, 2147483647L),
        CLI_OPT_LONG("--threads", &threads, 0, 1024),
        CLI_OPT_PRECISION("--precision", &precision),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, NULL);
    if (r >= 0)
        return r;
    if (!model_path || !data_path || !out_path) {
        cli_error("--model, --data and --out are required (see --help)");
        return 2;
    }
    if (json && !strcmp(out_path, "-")) {
        cli_error("--json prints to standard output: give --out a file");
        return 2;
    }

    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_dataset ds = {0};
    ae_status st = ae_checkpoint_load_model(model_path, PREDICT_BATCH, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    int rc = 0;
    float *x = NULL, *p = NULL;
    int32_t *pred = NULL;
    size_t *conf = NULL;
    if ((rc = cli_check_classifier(&m, model_path, true)) != 0)
        goto out;
    ae_threads_set((int)threads);
    if ((rc = cli_select_precision(precision, &cfg)) != 0)
        goto out;
    if ((st = ae_load_split(&cfg, data_path, labels_path, limit, &ds, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    ae_data_ref ref = {"--data", data_path, labels_path, "--labels FILE", model_path, false};
    if ((st = ae_model_check_data(&m, &ds, &ref, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    const size_t n = ds.n, D = m.input_dim, C = m.label_classes;
    x = malloc(PREDICT_BATCH * D * sizeof(float)); /* [batch x D] scaled inputs */
    p = malloc((n ? n : 1) * C * sizeof(float));   /* [n x C] probabilities */
    pred = malloc((n ? n : 1) * sizeof(int32_t));  /* [n] most probable class */
    conf = ds.labels ? calloc(C * C, sizeof(size_t)) : NULL; /* [C x C] label x prediction */
    if (!x || !p || !pred || (ds.labels && !conf)) {
        cli_error("out of memory for %zu examples of %zu features", n, D);
        rc = 1;
        goto out;
    }
    /* Fixed binarisation is part of the model's input; dynamic binarisation
     * was a training-time augmentation: the probabilities go in. */
    ae_binarize bin = cfg.data.binarize == AE_BIN_FIXED ? AE_BIN_FIXED : AE_BIN_NONE;
    for (size_t i = 0; i < n; i += PREDICT_BATCH) {
        size_t b = n - i < PREDICT_BATCH ? n - i : PREDICT_BATCH;
        ae_batch_gather(&ds, NULL, i, b, m.scale, m.shift, bin, NULL, x);
        ae_model_predict(&m, b, x, p + i * C);
    }
    for (size_t i = 0; i < n; i++) {
        const float *row = p + i * C;
        size_t best = 0;
        for (size_t k = 1; k < C; k++)
            best = row[k] > row[best] ? k : best;
        pred[i] = (int32_t)best;
        if (conf)
            conf[(size_t)ds.labels[i] * C + best]++;
    }
    cli_classes cls;
    cli_classes_get(&cfg, &cls);
    if ((st = write_predictions(out_path, p, pred, ds.labels, n, C, &cls, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    /* beside predictions written to standard output, the summary goes to stderr */
    FILE *sf = strcmp(out_path, "-") ? stdout : stderr;
    print_summary(sf, json, model_path, data_path, out_path, n, C, &cls, conf);
    if (fflush(sf) != 0 || ferror(sf)) {
        cli_error("%s: write failed", sf == stdout ? "standard output" : "standard error");
        rc = 1;
    }
out:
    free(x);
    free(p);
    free(pred);
    free(conf);
    ae_dataset_free(&ds);
    ae_model_free(&m);
    return rc;
}
