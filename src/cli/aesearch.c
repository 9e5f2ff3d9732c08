/* aesearch: similarity search in latent space.  Encodes an index set and a
 * query set (or reads codes aeencode wrote as .npy) and writes, for every
 * query, its k nearest examples of the index by the codes' distance. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ae/batch.h"
#include "ae/checkpoint.h"
#include "ae/data.h"
#include "ae/fileio.h"
#include "ae/image.h"
#include "ae/model.h"
#include "ae/pictures.h"
#include "ae/search.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aesearch --model MODEL.safetensors --index FILE --query FILE --out FILE.csv\n"
            "                [options]\n"
            "\n"
            "Encodes the examples of --index and --query (IDX, raw or .gz, or CSV, scaled as\n"
            "the model was trained; z = mu) and writes, for every query, its --k nearest\n"
            "index examples by the distance of their codes:\n"
            "  query,rank,index,distance[,query_label,index_label]\n"
            "(0-based rows of each file, rank 1 = nearest).  With labels on both sides it\n"
            "prints precision@k: the mean fraction of a query's k neighbours that share its\n"
            "label.\n"
            "\n"
            "options:\n"
            "  --model FILE          a model or checkpoint written by aetrain (not needed when\n"
            "                        both sets are given as codes)\n"
            "  --index FILE          the examples searched\n"
            "  --query FILE          the examples searched for\n"
            "  --index-codes F.npy   the index's codes as aeencode wrote them (float32 [n x k],\n"
            "                        without --logvar) instead of encoding --index\n"
            "  --query-codes F.npy   likewise for the queries\n"
            "  --index-labels FILE   labels of the index (IDX or one-column CSV; a CSV with the\n"
            "                        model's label column has its own)\n"
            "  --query-labels FILE   labels of the queries\n"
            "  --k N                 neighbours per query (default 10)\n"
            "  --metric l2|cosine    Euclidean distance (the default) or 1 - cosine similarity\n"
            "  --out FILE            the neighbours as CSV (default -, standard output)\n"
            "  --png FILE            draw the first --n queries, each followed by its k nearest\n"
            "                        examples, one row per query (needs --index and --query)\n"
            "  --n N                 queries in --png (default 8)\n"
            "  --threads N           BLAS threads (0 = all cores, the default)\n"
            "  --precision P         fp32, bf16, or model (the model's train.precision, the\n"
            "                        default): the encoder's GEMMs (the distances are fp32)\n"
            "  --help, --version\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads a 2-D little-endian float32 C-order .npy (as aeencode writes it)
 * into *out [*n x *d]; AE_ERR_INPUT naming the file otherwise. */
static ae_status read_npy(const char *path, float **out, size_t *n, size_t *d, ae_error *err)
{
    FILE *f;
    unsigned long long size;
    ae_status st = ae_open_input(path, &f, &size, err);
    if (st != AE_OK)
        return st;
    unsigned char pre[12];
    size_t hl = 0, pl = 0;
    if (fread(pre, 1, 10, f) == 10 && !memcmp(pre, "\x93NUMPY", 6)) {
        if (pre[6] == 1) {
            hl = pre[8] | (size_t)pre[9] << 8;
            pl = 10;
        } else if ((pre[6] == 2 || pre[6] == 3) && fread(pre + 10, 1, 2, f) == 2) {
            hl = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
            pl = 12;
        }
    }
    char *h = pl && hl < 65536 ? malloc(hl + 1) : NULL;
    if (!h || fread(h, 1, hl, f) != hl) {
        free(h);
        fclose(f);
        ae_error_set(err, "%s: not a .npy file (as aeencode --out FILE.npy writes)", path);
        return AE_ERR_INPUT;
    }
    h[hl] = '\0';
    unsigned long long rows = 0, cols = 0;
    const char *shape = strstr(h, "'shape':");
    bool ok = strstr(h, "'descr': '<f4'") && strstr(h, "'fortran_order': False") && shape &&
              sscanf(shape, "'shape': (%llu, %llu)", &rows, &cols) == 2 && rows > 0 && cols > 0 &&
              rows < (1ull << 32) && cols < (1ull << 20);
    free(h);
    if (!ok) {
        fclose(f);
        ae_error_set(err, "%s: expected a 2-D float32 array ('<f4', C order) of codes", path);
        return AE_ERR_INPUT;
    }
    if (size != pl + hl + rows * cols * 4) {
        fclose(f);
        ae_error_set(err, "%s: %llu bytes, but a %llu x %llu float32 array needs %llu", path,
                     size, rows, cols, (unsigned long long)(pl + hl + rows * cols * 4));
        return AE_ERR_INPUT;
    }
    float *v = malloc(rows * cols * sizeof(float));
    if (!v || fread(v, sizeof(float), rows * cols, f) != rows * cols) {
        free(v);
        fclose(f);
        ae_error_set(err, "%s: cannot read its %llu codes", path, rows);
        return v ? AE_ERR_IO : AE_ERR_NOMEM;
    }
    fclose(f);
    for (size_t i = 0; i < rows * cols; i++)
        if (!isfinite(v[i])) {
            ae_error_set(err, "%s: row %zu holds a value that is not a finite number", path,
                         (size_t)(i / cols));
            free(v);
            return AE_ERR_INPUT;
        }
    *out = v;
    *n = rows;
    *d = cols;
    return AE_OK;
}

/* One side of the search: its data file (or none), codes file (or none),
 * labels, and the codes it ends with. */
typedef struct {
    const char *name;                     /* "index", "query" */
    const char *data, *codes_path, *labels;
    ae_dataset ds;                        /* the data, or only labels with codes */
    float *codes;                         /* [n x d] */
    size_t n, d;
    int32_t *lab;                         /* the labels ([n]) or NULL */
} side_t;

/* Loads a side: encodes its data with m (when m and no codes file), or
 * reads its codes; loads its labels either way.  Returns -1 or the exit
 * code (message given). */
static int load_side(side_t *s, ae_model *m, const ae_config *cfg, const char *model_path)
{
    ae_error err = {{0}};
    ae_status st;
    char key[32], hint[64];
    snprintf(key, sizeof key, "--%s", s->name);
    snprintf(hint, sizeof hint, "--%s-labels FILE", s->name);
    if (s->data) {
        if ((st = ae_load_split(cfg, s->data, s->labels, 0, &s->ds, &err)) != AE_OK)
            return cli_fail(st, &err);
        if (m) {
            ae_data_ref ref = {key, s->data, s->labels, hint, model_path, false};
            if ((st = ae_model_check_data(m, &s->ds, &ref, &err)) != AE_OK)
                return cli_fail(st, &err);
        }
    }
    if (s->codes_path) {
        if ((st = read_npy(s->codes_path, &s->codes, &s->n, &s->d, &err)) != AE_OK)
            return cli_fail(st, &err);
        if (s->data && s->ds.n != s->n) {
            cli_error("--%s-codes %s has %zu rows, but --%s %s has %zu examples", s->name,
                      s->codes_path, s->n, s->name, s->data, s->ds.n);
            return 2;
        }
        if (!s->data && s->labels) { /* labels only: a dataset of no features */
            s->ds.n = s->n;
            const char *classes[AE_MAX_CLASS_NAMES];
            size_t n_classes = ae_config_class_names(cfg, classes);
            if ((st = ae_dataset_load_labels(&s->ds, s->labels, classes, n_classes, &err)) !=
                AE_OK)
                return cli_fail(st, &err);
        }
    } else {
        size_t L = m->latent;
        s->n = s->ds.n;
        s->d = L;
        if (!(s->codes = malloc(s->n * L * sizeof(float)))) {
            cli_error("out of memory for the codes of %zu examples", s->n);
            return 1;
        }
        ae_binarize bin = cfg->data.binarize == AE_BIN_FIXED ? AE_BIN_FIXED : AE_BIN_NONE;
        if ((st = ae_model_encode_rows(m, &s->ds, NULL, s->n, bin, NULL, s->codes, NULL, &err)))
            return cli_fail(st, &err);
    }
    s->lab = s->ds.labels;
    return -1;
}

static ae_status write_neighbours(const char *path, const side_t *qs, const side_t *is,
                                  const ae_config *cfg, size_t k, const uint32_t *idx,
                                  const float *dist, ae_error *err)
{
    ae_atomic_file af = {0};
    FILE *f = stdout;
    bool to_stdout = !strcmp(path, "-");
    if (!to_stdout) {
        ae_status st = ae_atomic_open(&af, path, err);
        if (st != AE_OK)
            return st;
        f = af.fp;
    }
    bool labels = qs->lab && is->lab;
    cli_classes cls;
    cli_classes_get(cfg, &cls);
    fprintf(f, "query,rank,index,distance%s\n", labels ? ",query_label,index_label" : "");
    for (size_t q = 0; q < qs->n; q++)
        for (size_t r = 0; r < k; r++) {
            uint32_t i = idx[q * k + r];
            fprintf(f, "%zu,%zu,%u,%.7g", q, r + 1, i, (double)dist[q * k + r]);
            if (labels) {
                fputc(',', f);
                cli_put_label(f, &cls, qs->lab[q]);
                fputc(',', f);
                cli_put_label(f, &cls, is->lab[i]);
            }
            fputc('\n', f);
        }
    if (to_stdout) {
        if (fflush(f) != 0 || ferror(f)) {
            ae_error_set(err, "standard output: write failed: %s", strerror(errno));
            return AE_ERR_IO;
        }
        return AE_OK;
    }
    return ae_atomic_commit(&af, err);
}

/* Row r: query r, then its k neighbours, as the data's raw values. */
static ae_status draw(const char *path, const ae_model *m, const side_t *qs, const side_t *is,
                      size_t k, size_t nshow, const uint32_t *idx, ae_error *err)
{
    size_t D = qs->ds.dim, h, w;
    if (m) {
        ae_picture_shape(m, &h, &w);
    } else {
        h = qs->ds.img_h, w = qs->ds.img_w;
        if (!h || !w) {
            size_t s = (size_t)llround(sqrt((double)D));
            h = s * s == D ? s : 1;
            w = s * s == D ? s : D;
        }
    }
    size_t cells = nshow * (k + 1);
    float *img = malloc(cells * D * sizeof(float));
    if (!img) {
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    float lo = INFINITY, hi = -INFINITY;
    /* the raw values: scale 1, shift 0 */
    float *row = malloc(D * sizeof(float)), *one = malloc(D * sizeof(float)),
          *zero = calloc(D, sizeof(float));
    if (!row || !one || !zero) {
        free(row), free(one), free(zero), free(img);
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    for (size_t j = 0; j < D; j++)
        one[j] = 1.0f;
    for (size_t q = 0; q < nshow; q++)
        for (size_t c = 0; c <= k; c++) {
            const ae_dataset *ds = c == 0 ? &qs->ds : &is->ds;
            size_t r = c == 0 ? q : idx[q * k + c - 1];
            ae_batch_gather(ds, NULL, r, 1, one, zero, AE_BIN_NONE, NULL, row);
            for (size_t j = 0; j < D; j++) {
                img[(q * (k + 1) + c) * D + j] = row[j];
                lo = row[j] < lo ? row[j] : lo;
                hi = row[j] > hi ? row[j] : hi;
            }
        }
    free(one), free(zero);
    free(row);
    if (!(hi > lo))
        hi = lo + 1.0f;
    uint8_t *px = NULL;
    size_t pw, ph;
    ae_status st = ae_image_grid(img, cells, h, w, k + 1, 1, lo, hi, &px, &pw, &ph, err);
    free(img);
    if (st == AE_OK)
        st = ae_png_write(path, px, pw, ph, 1, err);
    free(px);
    return st;
}

int main(int argc, char **argv)
{
    cli_prog = "aesearch";
    const char *model_path = NULL, *out_path = "-", *png_path = NULL, *metric_s = "l2";
    side_t is = {.name = "index"}, qs = {.name = "query"};
    long k = 10, nshow = 8, threads = 0;
    int precision = -1;
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &model_path),
        CLI_OPT_STR("--index", &is.data),
        CLI_OPT_STR("--query", &qs.data),
        CLI_OPT_STR("--index-codes", &is.codes_path),
        CLI_OPT_STR("--query-codes", &qs.codes_path),
        CLI_OPT_STR("--index-labels", &is.labels),
        CLI_OPT_STR("--query-labels", &qs.labels),
        CLI_OPT_STR("--metric", &metric_s),
        CLI_OPT_STR("--out", &out_path),
        CLI_OPT_STR("--png", &png_path),
        CLI_OPT_LONG("--k", &k, 1, 100000),
        CLI_OPT_LONG("--n", &nshow, 1, 10000),
        CLI_OPT_LONG("--threads", &threads, 0, 1024),
        CLI_OPT_PRECISION("--precision", &precision),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, NULL);
    if (r >= 0)
        return r;
    ae_metric metric = AE_METRIC_COUNT;
    for (int t = 0; t < AE_METRIC_COUNT; t++)
        if (!strcmp(metric_s, ae_metric_name((ae_metric)t)))
            metric = (ae_metric)t;
    if (metric == AE_METRIC_COUNT) {
        cli_error("--metric: expected l2 or cosine, not '%s'", metric_s);
        return 2;
    }
    if ((!is.data && !is.codes_path) || (!qs.data && !qs.codes_path)) {
        cli_error("give the index (--index FILE or --index-codes FILE.npy) and the queries "
                  "(--query FILE or --query-codes FILE.npy); see --help");
        return 2;
    }
    bool need_model = !is.codes_path || !qs.codes_path;
    if (need_model && !model_path) {
        cli_error("--model is needed to encode --%s (or give --%s-codes FILE.npy)",
                  !is.codes_path ? "index" : "query", !is.codes_path ? "index" : "query");
        return 2;
    }
    if (png_path && (!is.data || !qs.data)) {
        cli_error("--png draws the examples: it needs --index and --query, not only codes");
        return 2;
    }

    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_model *mp = NULL;
    ae_threads_set((int)threads);
    if (model_path) {
        size_t batch = 1000;
        ae_status st = ae_checkpoint_load_model(model_path, batch, &cfg, &m, &err);
        if (st != AE_OK)
            return cli_fail(st, &err);
        mp = &m;
    } else {
        ae_config_defaults(&cfg);
    }
    int rc = -1;
    uint32_t *idx = NULL;
    float *dist = NULL;
    if (mp && (rc = cli_select_precision(precision, &cfg)) != 0)
        goto out;
    rc = -1;
    if ((rc = load_side(&is, mp, &cfg, model_path)) >= 0)
        goto out;
    /* label names of the index (codes without a model): the queries' are read against them */
    ae_status sn = ae_config_take_class_names(&cfg, &is.ds, is.labels ? is.labels : is.data,
                                              &err);
    if (sn != AE_OK) {
        rc = cli_fail(sn, &err);
        goto out;
    }
    if ((rc = load_side(&qs, mp, &cfg, model_path)) >= 0)
        goto out;
    rc = 0;
    if (is.d != qs.d) {
        cli_error("the index's codes have %zu values and the queries' %zu: they must come from "
                  "the same model",
                  is.d, qs.d);
        rc = 2;
        goto out;
    }
    if ((size_t)k > is.n) {
        cli_error("--k %ld: the index has only %zu examples", k, is.n);
        rc = 2;
        goto out;
    }
    idx = malloc(qs.n * (size_t)k * sizeof *idx);
    dist = malloc(qs.n * (size_t)k * sizeof *dist);
    if (!idx || !dist) {
        cli_error("out of memory for %zu x %ld neighbours", qs.n, k);
        rc = 1;
        goto out;
    }
    double t0 = now();
    ae_status st = ae_knn(qs.codes, qs.n, is.codes, is.n, is.d, (size_t)k, metric, idx, dist, &err);
    double secs = now() - t0;
    for (size_t t = 0; st == AE_OK && t < qs.n * (size_t)k; t++)
        if (idx[t] == UINT32_MAX) { /* only a code that is not a number finds nothing */
            ae_error_set(&err, "query %zu found fewer than %ld neighbours: codes that are not "
                               "finite numbers (NaN or infinity from the model's encoder) are "
                               "never near anything", t / (size_t)k, k);
            st = AE_ERR_INPUT;
        }
    if (st == AE_OK)
        st = write_neighbours(out_path, &qs, &is, &cfg, (size_t)k, idx, dist, &err);
    if (st == AE_OK && png_path)
        st = draw(png_path, mp, &qs, &is, (size_t)k, (size_t)nshow < qs.n ? (size_t)nshow : qs.n,
                  idx, &err);
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    fprintf(stderr, "aesearch: %zu queries against %zu examples, %zu values per code, k %ld, %s: "
                    "%.3f s (%.0f queries/s)",
            qs.n, is.n, is.d, k, ae_metric_name(metric), secs, secs > 0 ? (double)qs.n / secs : 0);
    if (qs.lab && is.lab) {
        size_t hits = 0;
        for (size_t q = 0; q < qs.n; q++)
            for (long t = 0; t < k; t++)
                hits += is.lab[idx[q * (size_t)k + (size_t)t]] == qs.lab[q];
        fprintf(stderr, "; precision@%ld %.4f", k, (double)hits / ((double)qs.n * (double)k));
    }
    fputc('\n', stderr);
out:
    free(idx);
    free(dist);
    free(is.codes);
    free(qs.codes);
    ae_dataset_free(&is.ds);
    ae_dataset_free(&qs.ds);
    if (mp)
        ae_model_free(mp);
    return rc;
}
