/* aeimpute: fill the missing values of a file with a trained model, by
 * iterated reconstruction (ae/impute.h): the missing cells start at the
 * training means and are replaced by the model's reconstruction (z = mu,
 * the decoder's mean) of the whole example, for the number of rounds (at
 * most --iterations) that best reconstructs observed cells hidden for the
 * check.  Observed cells are kept: a CSV is rewritten cell by cell, every
 * observed cell byte for byte. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ae/batch.h"
#include "ae/checkpoint.h"
#include "ae/data.h"
#include "ae/fileio.h"
#include "ae/impute.h"
#include "ae/model.h"
#include "cli.h"

#define IMPUTE_BATCH 1000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aeimpute --model MODEL.safetensors --data FILE --out FILE [options]\n"
            "\n"
            "Fills every missing value of FILE (IDX, raw or .gz, or CSV: the cells of the\n"
            "model's data.csv.missing, by default empty, NA, NaN, nan and ?; float IDX NaN)\n"
            "by iterated reconstruction: the missing cells start at the model's training\n"
            "means, then each example is encoded (z = mu) and decoded and its missing cells\n"
            "take the reconstruction, round after round.  How many rounds (at most\n"
            "--iterations) is checked first: a fraction (--check) of the observed cells is\n"
            "hidden and imputed with the rest, and the count that reconstructs them best is\n"
            "used (more rounds can make it worse: a model can drive the values away).\n"
            "Observed cells are kept as read.\n"
            "\n"
            "options:\n"
            "  --model FILE       a model or checkpoint written by aetrain\n"
            "  --data FILE        the incomplete examples\n"
            "  --labels FILE      their labels (a conditional VAE needs them)\n"
            "  --out FILE         .csv: a CSV input rewritten with only its missing cells\n"
            "                     replaced (every other byte as it was); any other input as\n"
            "                     x0,...,x{D-1} rows.  .idx: float32 [n x D] (or [n x h x w])\n"
            "  --iterations N     at most N rounds of reconstruction (default 10; 0 = the\n"
            "                     means only)\n"
            "  --check F          the fraction of observed cells hidden to choose the rounds\n"
            "                     (default 0.1, at most 0.5; 0 = exactly --iterations rounds)\n"
            "  --seed N           which cells the check hides (default 1)\n"
            "  --threads N        BLAS threads (0 = all cores, the default)\n"
            "  --precision P      fp32, bf16, or model (the model's train.precision, the\n"
            "                     default): the GEMMs' inputs (bf16 needs oneDNN, AVX-512)\n"
            "  --help, --version\n"
            "\n"
            "A row with every feature missing gets the means (a warning counts them).  A file\n"
            "without missing values is written unchanged, with a note.\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

static bool has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcmp(path + n - e, ext);
}

/* One whole line of g into *buf (grown as needed), with its line end;
 * false at the end of the file. */
static bool read_line(gzFile g, char **buf, size_t *cap)
{
    size_t len = 0;
    for (;;) {
        if (*cap - len < 2) {
            size_t ncap = *cap ? *cap * 2 : 1 << 16;
            char *p = realloc(*buf, ncap);
            if (!p)
                return false;
            *buf = p;
            *cap = ncap;
        }
        if (!gzgets(g, *buf + len, (int)(*cap - len > (size_t)1 << 30 ? (size_t)1 << 30
                                                                     : *cap - len)))
            return len > 0;
        len += strlen(*buf + len);
        if (len > 0 && (*buf)[len - 1] == '\n')
            return true;
    }
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return false;
    return true;
}

/* Rewrites the CSV input with its missing cells replaced by raw [n x D]
 * (a data row's cells other than the label column, in order): each
 * line's cells are split at commas, a cell that is a missing token
 * (trimmed) becomes the value, every other byte is copied. */
static ae_status rewrite_csv(const char *in, const char *out, const ae_config *cfg,
                             const ae_dataset *ds, const float *raw, ae_error *err)
{
    gzFile g = gzopen(in, "rb");
    if (!g) {
        ae_error_set(err, "%s: cannot open: %s", in, strerror(errno));
        return AE_ERR_INPUT;
    }
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, out, err);
    if (st != AE_OK) {
        gzclose(g);
        return st;
    }
    char *line = NULL;
    size_t cap = 0, D = ds->dim;
    /* the first non-blank line is a header when the file has one row more than the data */
    size_t lines = 0;
    while (read_line(g, &line, &cap))
        lines += !blank(line);
    gzrewind(g);
    bool header = lines == ds->n + 1;
    long label_col = -1;
    const char *lc = cfg->data.csv_label_column;
    char *end;
    if (*lc && strtol(lc, &end, 10) >= 0 && !*end)
        label_col = strtol(lc, NULL, 10);
    size_t row = 0;
    bool first = true;
    while (st == AE_OK && read_line(g, &line, &cap)) {
        if (blank(line) || (first && header)) {
            if (first && header && *lc && label_col < 0) { /* the label column by name */
                long col = 0;
                for (char *c = line, *next; c; c = next, col++) {
                    next = strchr(c, ',');
                    size_t len = next ? (size_t)(next - c) : strcspn(c, "\r\n");
                    while (len && (*c == ' ' || *c == '\t'))
                        c++, len--;
                    while (len && (c[len - 1] == ' ' || c[len - 1] == '\t'))
                        len--;
                    if (strlen(lc) == len && !strncmp(c, lc, len))
                        label_col = col;
                    if (next)
                        next++;
                }
            }
            if (!blank(line))
                first = false;
            fputs(line, f.fp);
            continue;
        }
        first = false;
        size_t k = 0;
        long col = 0;
        for (char *c = line, *next; c; c = next, col++) {
            next = strchr(c, ',');
            size_t len = next ? (size_t)(next - c) : strcspn(c, "\r\n");
            if (col == label_col) {
                fwrite(c, 1, len, f.fp);
            } else {
                const char *t = c;
                size_t tl = len;
                while (tl && (*t == ' ' || *t == '\t'))
                    t++, tl--;
                while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
                    tl--;
                bool missing = false;
                for (int q = 0; q < cfg->data.n_csv_missing && !missing; q++)
                    missing = strlen(cfg->data.csv_missing[q]) == tl &&
                              !strncmp(t, cfg->data.csv_missing[q], tl);
                if (missing && row < ds->n && k < D)
                    fprintf(f.fp, "%.7g", (double)raw[row * D + k]);
                else
                    fwrite(c, 1, len, f.fp);
                k++;
            }
            if (next) {
                fputc(',', f.fp);
                next++;
            } else {
                fputs(c + len, f.fp); /* the line end as it was */
            }
        }
        row++;
    }
    free(line);
    gzclose(g);
    if (row != ds->n) {
        ae_atomic_abort(&f);
        ae_error_set(err, "%s: read %zu rows again, the loader found %zu: the file changed?", in,
                     row, ds->n);
        return AE_ERR_INPUT;
    }
    return ae_atomic_commit(&f, err);
}

static ae_status write_plain(const char *out, bool idx, const ae_dataset *ds, const float *raw,
                             ae_error *err)
{
    size_t n = ds->n, D = ds->dim;
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, out, err);
    if (st != AE_OK)
        return st;
    if (idx) {
        bool img = ds->img_h && ds->img_w;
        unsigned char head[16] = {0, 0, 0x0D, img ? 3 : 2};
        cli_put_be32(head + 4, (uint32_t)n);
        cli_put_be32(head + 8, (uint32_t)(img ? ds->img_h : D));
        if (img)
            cli_put_be32(head + 12, (uint32_t)ds->img_w);
        fwrite(head, 1, img ? 16 : 12, f.fp);
        for (size_t i = 0; i < n * D; i++) {
            uint32_t u;
            unsigned char b[4];
            memcpy(&u, &raw[i], sizeof u);
            cli_put_be32(b, u);
            fwrite(b, 1, 4, f.fp);
        }
    } else {
        for (size_t j = 0; j < D; j++)
            fprintf(f.fp, "%sx%zu", j ? "," : "", j);
        fputc('\n', f.fp);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < D; j++)
                fprintf(f.fp, "%.7g%c", (double)raw[i * D + j], j + 1 < D ? ',' : '\n');
    }
    return ae_atomic_commit(&f, err);
}

int main(int argc, char **argv)
{
    cli_prog = "aeimpute";
    const char *model_path = NULL, *data_path = NULL, *labels_path = NULL, *out_path = NULL;
    long iterations = 10, threads = 0;
    double check = 0.1;
    uint64_t seed = 1;
    int precision = -1;
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &model_path),
        CLI_OPT_STR("--data", &data_path),
        CLI_OPT_STR("--labels", &labels_path),
        CLI_OPT_STR("--out", &out_path),
        CLI_OPT_LONG("--iterations", &iterations, 0, 100000),
        CLI_OPT_DOUBLE("--check", &check, 0.0, 0.5),
        CLI_OPT_U64("--seed", &seed),
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
    bool out_csv = has_ext(out_path, ".csv"), out_idx = has_ext(out_path, ".idx");
    if (!out_csv && !out_idx) {
        cli_error("--out %s: expected a name ending in .csv or .idx", out_path);
        return 2;
    }
    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_dataset ds = {0};
    ae_status st = ae_checkpoint_load_model(model_path, IMPUTE_BATCH, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    ae_threads_set((int)threads);
    int rc = 0;
    float *x = NULL, *mean = NULL;
    unsigned char *miss = NULL;
    double *rmse = NULL;
    if ((rc = cli_check_classifier(&m, model_path, false)) != 0 ||
        (rc = cli_select_precision(precision, &cfg)) != 0)
        goto out;
    cfg.data.allow_missing = true; /* this program's input is incomplete by definition */
    if ((st = ae_load_split(&cfg, data_path, labels_path, 0, &ds, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    ae_data_ref ref = {"--data", data_path, labels_path, "--labels FILE", model_path, false};
    if ((st = ae_model_check_data(&m, &ds, &ref, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    size_t n = ds.n, D = m.input_dim;
    x = malloc(n * D * sizeof(float));
    mean = malloc(D * sizeof(float));
    miss = malloc(n * D);
    if (!x || !mean || !miss) {
        cli_error("out of memory for %zu examples of %zu features", n, D);
        rc = 1;
        goto out;
    }
    ae_batch_gather(&ds, NULL, 0, n, m.scale, m.shift, AE_BIN_NONE, NULL, x);
    size_t n_miss = 0, empty_rows = 0;
    for (size_t q = 0; q < n * D; q++)
        n_miss += (miss[q] = x[q] != x[q]);
    if (n_miss == 0) {
        printf("aeimpute: %s has no missing values; %s is written unchanged\n", data_path,
               out_path);
    }
    /* the starting values: the training means (data.fill), else this
     * file's means over its values present */
    for (size_t j = 0; j < D; j++) {
        if (m.fill) {
            mean[j] = m.fill[j];
            continue;
        }
        double s = 0, c = 0;
        for (size_t i = 0; i < n; i++)
            if (!miss[i * D + j])
                s += x[i * D + j], c += 1;
        mean[j] = c > 0 ? (float)(s / c) : 0.0f;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 0; j < D; j++)
            if (miss[i * D + j]) {
                x[i * D + j] = mean[j];
                k++;
            }
        empty_rows += k == D;
    }
    ae_impute_settings set = {iterations, check, seed};
    rmse = calloc((size_t)iterations + 1, sizeof(double)); /* [iterations + 1] */
    ae_impute_report rep = {0, 0, rmse};
    if (!rmse) {
        cli_error("out of memory");
        rc = 1;
        goto out;
    }
    if (n_miss && (st = ae_model_impute(&m, n, x, miss, m.classes ? ds.labels : NULL, mean, &set,
                                        &rep, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) /* back to the data's units */
        for (size_t j = 0; j < D; j++)
            x[i * D + j] = (x[i * D + j] - m.shift[j]) / m.scale[j];
    bool csv_in = has_ext(data_path, ".csv") || has_ext(data_path, ".csv.gz");
    st = out_csv && csv_in ? rewrite_csv(data_path, out_path, &cfg, &ds, x, &err)
                           : write_plain(out_path, out_idx, &ds, x, &err);
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    if (empty_rows)
        fprintf(stderr, "aeimpute: warning: %zu row%s of %s had every feature missing and got "
                        "the feature means\n",
                empty_rows, empty_rows == 1 ? "" : "s", data_path);
    if (n_miss) {
        printf("aeimpute: %zu examples of %zu features, %zu missing values (%.1f%%) filled "
               "after %ld iteration%s; written to %s\n",
               n, D, n_miss, 100.0 * (double)n_miss / ((double)n * (double)D), rep.rounds,
               rep.rounds == 1 ? "" : "s", out_path);
        if (rep.checked)
            printf("aeimpute: %zu observed values hidden to check the iterations: RMSE "
                   "(scaled) %.4g after 0, %.4g after %ld (the least), %.4g after %ld\n",
                   rep.checked, rmse[0], rmse[rep.rounds], rep.rounds, rmse[iterations],
                   iterations);
    }
out:
    free(x);
    free(mean);
    free(miss);
    free(rmse);
    ae_dataset_free(&ds);
    ae_model_free(&m);
    return rc;
}
