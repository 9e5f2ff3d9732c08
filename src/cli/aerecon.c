/* aerecon: run every example of a file through a trained model (z = mu, the
 * decoder's mean) and write the reconstructions in the data's units, as CSV,
 * IDX or a PNG grid; --corrupt corrupts the inputs first (the denoising
 * demonstration) and the errors against the clean input are printed. */
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
#include "ae/model.h"
#include "ae/noise.h"
#include "ae/pictures.h"
#include "ae/rng.h"
#include "cli.h"

#define RECON_BATCH 1000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aerecon --model MODEL.safetensors --data FILE --out OUT [options]\n"
            "\n"
            "Runs every example of FILE (IDX, raw or .gz, or CSV, scaled as the model was\n"
            "trained) through the model, z = mu and the decoder's mean, and writes the\n"
            "reconstructions in the data's own units.  Prints the mean squared error and\n"
            "the PSNR of the reconstructions against the (clean) input.\n"
            "\n"
            "options:\n"
            "  --model FILE         a model or checkpoint written by aetrain\n"
            "  --data FILE          the examples\n"
            "  --labels FILE        their labels (IDX or one-column CSV): a conditional VAE\n"
            "                       needs them, as in aeencode; written to CSV output\n"
            "  --out FILE           by extension: .csv (a CSV input's header and label column;\n"
            "                       else x0,...,x{D-1}, label first when there are labels),\n"
            "                       .idx (uint8 when the input is uint8,\n"
            "                       else float32; [n x h x w] for images), .png (a grid of --n\n"
            "                       examples: rows of inputs, each above its reconstructions)\n"
            "  --corrupt SPEC       corrupt the inputs first, in the model's scaled units:\n"
            "                       gaussian:STD (add STD * N(0, 1)), masking:P (zero with\n"
            "                       probability P), salt_pepper:P (with probability P the\n"
            "                       feature's smallest or largest value in FILE); the errors\n"
            "                       printed are then against the clean input, beside those of\n"
            "                       the corrupted input itself\n"
            "  --seed N             seed of --corrupt (default 1)\n"
            "  --corrupted-out FILE also write the corrupted inputs (.csv, .idx or .png; the\n"
            "                       .idx of gaussian noise is float32)\n"
            "  --n N                examples in a .png (default 32)\n"
            "  --cols N             columns of a .png (default 8)\n"
            "  --limit N            only the first N examples of FILE\n"
            "  --threads N          BLAS threads (0 = all cores, the default)\n"
            "  --precision P        fp32, bf16, or model (the model's train.precision, the\n"
            "                       default): the GEMMs' inputs (bf16 needs oneDNN, AVX-512)\n"
            "  --help, --version\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

typedef enum { OUT_CSV, OUT_IDX, OUT_PNG } out_kind;

/* The kind an output path names by its extension; false (message given)
 * for any other. */
static bool out_kind_of(const char *opt, const char *path, out_kind *k)
{
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".csv"))
        *k = OUT_CSV;
    else if (n > 4 && !strcmp(path + n - 4, ".idx"))
        *k = OUT_IDX;
    else if (n > 4 && !strcmp(path + n - 4, ".png"))
        *k = OUT_PNG;
    else {
        cli_error("%s %s: expected a name ending in .csv, .idx or .png", opt, path);
        return false;
    }
    return true;
}

/* raw [n x D] (the data's units) as IDX: uint8 (rounded, clamped to
 * [0, 255]) or float32, [n x h x w] when h and w are known. */
static ae_status write_idx(const char *path, const float *raw, size_t n, size_t D, bool u8,
                           size_t h, size_t w, ae_error *err)
{
    if (n > UINT32_MAX || D > UINT32_MAX) {
        ae_error_set(err, "%s: %zu x %zu values are more than an IDX file can count", path, n, D);
        return AE_ERR_INPUT;
    }
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        return st;
    unsigned char head[16] = {0, 0, u8 ? 0x08 : 0x0D, h && w ? 3 : 2};
    cli_put_be32(head + 4, (uint32_t)n);
    if (h && w) {
        cli_put_be32(head + 8, (uint32_t)h);
        cli_put_be32(head + 12, (uint32_t)w);
    } else {
        cli_put_be32(head + 8, (uint32_t)D);
    }
    size_t hl = h && w ? 16 : 12;
    bool ok = fwrite(head, 1, hl, f.fp) == hl;
    unsigned char *row = malloc(D * 4);
    if (!row) {
        ae_atomic_abort(&f);
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; ok && i < n; i++) {
        const float *r = raw + i * D;
        for (size_t j = 0; j < D; j++) {
            if (u8) {
                float v = roundf(r[j]);
                row[j] = (unsigned char)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
            } else {
                uint32_t u;
                memcpy(&u, &r[j], sizeof u);
                cli_put_be32(row + 4 * j, u);
            }
        }
        ok = fwrite(row, u8 ? 1 : 4, D, f.fp) == D;
    }
    free(row);
    if (!ok) {
        ae_atomic_fail(&f, errno, err);
        return AE_ERR_IO;
    }
    return ae_atomic_commit(&f, err);
}

/* How a CSV output lays out its columns: the input's header line (NULL:
 * write x0,...,x{D-1}, with label first when there are labels) and where
 * the label goes among the D + 1 cells (-1: first, as "label"). */
typedef struct {
    char *header;
    long label_col;
} csv_layout;

static bool is_number(const char *c)
{
    while (*c == ' ' || *c == '\t')
        c++;
    char *end;
    if (!*c)
        return false;
    strtod(c, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    return end != c && !*end;
}

/* For a CSV input (by its name, as the loader decides): its first line when
 * it is a header (data.csv.header, or auto: a cell that is not a number),
 * and the label column's position (data.csv.label_column: a header name or
 * a 0-based index).  The loader has already accepted the file, so this only
 * reads its first line again (zlib reads plain and .gz files alike). */
static void read_csv_layout(const char *path, const ae_config *cfg, csv_layout *lay)
{
    lay->header = NULL;
    lay->label_col = -1;
    size_t n = strlen(path);
    bool csv = (n > 4 && !strcmp(path + n - 4, ".csv")) || (n > 7 && !strcmp(path + n - 7, ".csv.gz"));
    if (!csv)
        return;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return;
    static char line[1 << 20];
    bool got = gzgets(g, line, sizeof line) != NULL;
    gzclose(g);
    if (!got)
        return;
    line[strcspn(line, "\r\n")] = '\0';
    bool header = cfg->data.csv_header == 1;
    long col = 0, want = -1;
    const char *lc = cfg->data.csv_label_column;
    char *end;
    if (*lc && strtol(lc, &end, 10) >= 0 && !*end)
        want = strtol(lc, NULL, 10);
    for (char *c = line, *next; c; c = next, col++) {
        next = strchr(c, ',');
        if (next)
            *next++ = '\0';
        if (cfg->data.csv_header < 0 && !is_number(c))
            header = true;
        while (*c == ' ' || *c == '\t')
            c++;
        if (want < 0 && *lc && !strcmp(c, lc))
            want = col;
        if (next)
            next[-1] = ',';
    }
    lay->label_col = *lc ? want : -1;
    if (header)
        lay->header = line;
}

/* raw [n x D] as CSV: the input's header and label column when it was a
 * CSV (lay), else x0,...,x{D-1} with label first when there are labels. */
static ae_status write_csv(const char *path, const float *raw, const int32_t *labels, size_t n,
                           size_t D, const csv_layout *lay, const cli_classes *cls,
                           ae_error *err)
{
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        return st;
    long lpos = labels ? (lay->label_col >= 0 ? lay->label_col : 0) : -1;
    if (lay->header) { /* labels from a --labels file go first, as "label" */
        fprintf(f.fp, "%s%s\n", labels && lay->label_col < 0 ? "label," : "", lay->header);
    } else {
        for (size_t j = 0, c = 0; j < D || (long)c == lpos; c++) {
            fputs(c ? "," : "", f.fp);
            if ((long)c == lpos)
                fputs("label", f.fp);
            else
                fprintf(f.fp, "x%zu", j++);
        }
        fputc('\n', f.fp);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0, c = 0; j < D || (long)c == lpos; c++) {
            fputs(c ? "," : "", f.fp);
            if ((long)c == lpos)
                cli_put_label(f.fp, cls, labels[i]);
            else
                fprintf(f.fp, "%.7g", (double)raw[i * D + j++]);
        }
        fputc('\n', f.fp);
    }
    return ae_atomic_commit(&f, err);
}

typedef struct {
    ae_model *m;
    const ae_dataset *ds;
    size_t n, D, png_n, cols;
    csv_layout lay;
    cli_classes cls; /* the model's class names, for the labels of a CSV */
} writer_t;

/* Writes raw [n x D] (the data's units) to path as CSV or IDX (uint8 when
 * u8); a .png tiles the first png_n inputs `shown` (scaled) above their
 * reconstructions. */
static ae_status write_out(const writer_t *w, const char *path, out_kind k, const float *raw,
                           const float *shown, bool u8, ae_error *err)
{
    switch (k) {
    case OUT_CSV: return write_csv(path, raw, w->ds->labels, w->n, w->D, &w->lay, &w->cls, err);
    case OUT_IDX: return write_idx(path, raw, w->n, w->D, u8, w->ds->img_h, w->ds->img_w, err);
    case OUT_PNG:
        return ae_picture_recon(path, w->m, shown, w->m->classes ? w->ds->labels : NULL,
                                w->png_n < w->n ? w->png_n : w->n, w->cols, err);
    }
    return AE_OK;
}

/* Mean squared error (raw units) of a [n x D] against b, over the values
 * b has (a missing one, NaN, counts for nothing). */
static double mse(const float *a, const float *b, size_t n, size_t D)
{
    double s = 0, c = 0;
    for (size_t i = 0; i < n * D; i++) {
        double d = (double)a[i] - b[i];
        if (d == d) {
            s += d * d;
            c += 1;
        }
    }
    return c > 0 ? s / c : 0.0;
}

int main(int argc, char **argv)
{
    cli_prog = "aerecon";
    const char *model_path = NULL, *data_path = NULL, *labels_path = NULL, *out_path = NULL;
    const char *corrupted_path = NULL;
    ae_noise_spec noise = {AE_NOISE_NONE, 0, 0, false};
    uint64_t seed = 1;
    long threads = 0, png_n = 32, cols = 8, limit = 0;
    int precision = -1;
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &model_path),
        CLI_OPT_STR("--data", &data_path),
        CLI_OPT_STR("--labels", &labels_path),
        CLI_OPT_STR("--out", &out_path),
        CLI_OPT_STR("--corrupted-out", &corrupted_path),
        CLI_OPT_CORRUPT("--corrupt", &noise),
        CLI_OPT_U64("--seed", &seed),
        CLI_OPT_LONG("--n", &png_n, 1, 100000),
        CLI_OPT_LONG("--cols", &cols, 1, 10000),
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
    out_kind out_k, cor_k = OUT_CSV;
    if (!out_kind_of("--out", out_path, &out_k) ||
        (corrupted_path && !out_kind_of("--corrupted-out", corrupted_path, &cor_k)))
        return 2;
    if (corrupted_path && noise.type == AE_NOISE_NONE) {
        cli_error("--corrupted-out needs --corrupt");
        return 2;
    }

    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_dataset ds = {0};
    ae_status st = ae_checkpoint_load_model(model_path, RECON_BATCH, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    ae_threads_set((int)threads);
    int rc = 0;
    float *x = NULL, *xin = NULL, *mu = NULL, *y = NULL, *lo = NULL, *hi = NULL;
    if ((rc = cli_check_classifier(&m, model_path, false)) != 0 ||
        (rc = cli_select_precision(precision, &cfg)) != 0)
        goto out;
    if ((st = ae_load_split(&cfg, data_path, labels_path, limit, &ds, &err)) != AE_OK ||
        (st = ae_config_take_class_names(&cfg, &ds, labels_path ? labels_path : data_path,
                                         &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    ae_data_ref ref = {"--data", data_path, labels_path, "--labels FILE", model_path, false};
    if ((st = ae_model_check_data(&m, &ds, &ref, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    size_t n = ds.n, D = m.input_dim, L = m.latent;
    x = malloc(n * D * sizeof(float));   /* [n x D] clean scaled input, later raw */
    xin = malloc(n * D * sizeof(float)); /* [n x D] what the encoder sees, scaled */
    y = malloc(n * D * sizeof(float));   /* [n x D] reconstructions, scaled then raw */
    mu = malloc(RECON_BATCH * L * sizeof(float));
    lo = malloc(D * sizeof(float));
    hi = malloc(D * sizeof(float));
    if (!x || !xin || !y || !mu || !lo || !hi) {
        cli_error("out of memory for %zu examples of %zu features", n, D);
        rc = 1;
        goto out;
    }
    /* Fixed binarisation is part of the model's input; dynamic binarisation
     * was a training-time augmentation: the probabilities go in. */
    ae_binarize bin = cfg.data.binarize == AE_BIN_FIXED ? AE_BIN_FIXED : AE_BIN_NONE;
    ae_batch_gather(&ds, NULL, 0, n, m.scale, m.shift, bin, NULL, x);
    if (noise.type != AE_NOISE_NONE) {
        ae_scaled_feature_range(&ds, m.scale, m.shift, lo, hi);
        ae_rng rng;
        ae_rng_seed(&rng, seed);
        ae_noise_apply(&noise, lo, hi, &rng, x, xin, n, D);
    } else {
        memcpy(xin, x, n * D * sizeof(float));
    }
    for (size_t i = 0; i < n; i += RECON_BATCH) {
        size_t b = n - i < RECON_BATCH ? n - i : RECON_BATCH;
        const int32_t *lab = m.classes ? ds.labels + i : NULL;
        ae_model_encode(&m, b, xin + i * D, lab, mu, NULL);
        ae_model_decode(&m, b, mu, lab, y + i * D);
    }
    writer_t w = {&m, &ds, n, D, (size_t)png_n, (size_t)cols, {NULL, -1}, {{0}, 0}};
    read_csv_layout(data_path, &cfg, &w.lay);
    cli_classes_get(&cfg, &w.cls);
    /* the pictures draw scaled values ... */
    if (out_k == OUT_PNG)
        st = write_out(&w, out_path, out_k, NULL, xin, false, &err);
    if (st == AE_OK && corrupted_path && cor_k == OUT_PNG)
        st = ae_picture_recon(corrupted_path, &m, xin, m.classes ? ds.labels : NULL,
                              (size_t)png_n < n ? (size_t)png_n : n, (size_t)cols, &err);
    /* ... the files hold the data's units: raw = (scaled - shift) / scale */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++) {
            size_t q = i * D + j;
            x[q] = (x[q] - m.shift[j]) / m.scale[j];
            xin[q] = (xin[q] - m.shift[j]) / m.scale[j];
            y[q] = (y[q] - m.shift[j]) / m.scale[j];
        }
    /* uint8 data gives uint8 reconstructions; its corrupted copy stays
     * uint8 where the corruption keeps the values (masking, salt_pepper),
     * and is float32 where it does not (gaussian) */
    bool u8 = ds.dtype == AE_DTYPE_U8;
    if (st == AE_OK && out_k != OUT_PNG)
        st = write_out(&w, out_path, out_k, y, NULL, u8, &err);
    if (st == AE_OK && corrupted_path && cor_k != OUT_PNG)
        st = write_out(&w, corrupted_path, cor_k, xin, NULL, u8 && noise.type != AE_NOISE_GAUSSIAN,
                       &err);
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    /* errors in the data's units against the clean input; PSNR's peak is
     * 255 for uint8 data, else the clean data's range */
    double lo_v = INFINITY, hi_v = -INFINITY;
    for (size_t q = 0; q < n * D; q++) {
        lo_v = x[q] < lo_v ? x[q] : lo_v;
        hi_v = x[q] > hi_v ? x[q] : hi_v;
    }
    double peak = ds.dtype == AE_DTYPE_U8 ? 255.0 : hi_v - lo_v;
    double e = mse(y, x, n, D);
    printf("aerecon: %zu examples of %zu features", n, D);
    if (noise.type != AE_NOISE_NONE)
        printf(", corrupted %s", noise.type == AE_NOISE_GAUSSIAN ? "gaussian"
                                 : noise.type == AE_NOISE_MASKING ? "masking"
                                                                  : "salt_pepper");
    printf("; against the clean input, in the data's units: reconstruction MSE %.6g", e);
    if (peak > 0 && e > 0)
        printf(" (PSNR %.2f dB)", 10.0 * log10(peak * peak / e));
    if (noise.type != AE_NOISE_NONE) {
        double c = mse(xin, x, n, D);
        printf(", the corrupted input's MSE %.6g", c);
        if (peak > 0 && c > 0)
            printf(" (PSNR %.2f dB)", 10.0 * log10(peak * peak / c));
    }
    printf("; PSNR peak %g\n", peak);
out:
    free(x);
    free(xin);
    free(y);
    free(mu);
    free(lo);
    free(hi);
    ae_dataset_free(&ds);
    ae_model_free(&m);
    return rc;
}
