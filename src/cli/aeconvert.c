/* aeconvert: turn a data file (IDX raw or gzip, CSV raw or gzip) into an
 * uncompressed IDX file, which aetrain memory-maps instead of reading into
 * memory: the way to train on data larger than memory.  The input is read
 * as a stream, a row at a time (twice more for --scale standardize, to fit
 * the scaling first), so converting needs no more memory than a row. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "ae/data.h"
#include "ae/fileio.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aeconvert INPUT --out OUTPUT.idx [options]\n"
            "\n"
            "Converts INPUT (IDX, raw or .gz; CSV, raw or .gz) into an uncompressed IDX file.\n"
            "aetrain memory-maps uncompressed IDX files instead of reading them, so a converted\n"
            "file can be larger than memory (docs/distributed.md).  uint8 data stays uint8;\n"
            "float data (CSV) becomes float32.\n"
            "\n"
            "options:\n"
            "  --out FILE          the IDX file to write (a regular file: written to a\n"
            "                      temporary name, then renamed, so an existing file is\n"
            "                      replaced only when done; a device is written in place)\n"
            "  --labels-out FILE   also write the labels (the CSV label column, or --labels)\n"
            "                      as an IDX labels file (uint8 when all are < 256, else int32)\n"
            "  --labels FILE       labels for INPUT (IDX or one-column CSV), for --labels-out\n"
            "  --label-column C    CSV: the label column, by header name or 0-based index\n"
            "  --header auto|yes|no  CSV: whether the first row is a header (default auto)\n"
            "  --scale unit|standardize\n"
            "                      write float32 values after this scaling (as data.scale\n"
            "                      would apply it; standardize reads INPUT twice more to fit\n"
            "                      the per-feature mean and deviation); train the result with\n"
            "                      data.scale none\n"
            "  --float             write float32 without scaling\n"
            "  --limit N           the first N examples only\n"
            "  --quiet             print nothing but errors\n"
            "  --help, --version\n"
            "\n"
            "exit codes: 0 done, 1 write failure, 2 bad usage or input\n");
}

typedef struct {
    FILE *out;
    const char *out_path;
    int to_float;           /* write float32 (else the input's uint8) */
    int unit;               /* --scale unit: uint8 / 255 */
    const float *scale, *shift; /* [dim] (--scale standardize) or NULL */
    size_t limit, n, total; /* rows to take (0: all), rows written, rows in the input */
    size_t dim, img_h, img_w;
    int header_written;
    int32_t *labels;        /* [cap] the CSV label column, kept for --labels-out */
    size_t labels_cap;
    int has_labels, keep_labels;
    unsigned char *buf;     /* [dim x 4] the converted row */
} convert_ctx;

/* The header: 00 00 type ndims, then the sizes (n patched at the end). */
static int write_header(FILE *f, unsigned char type, size_t n, size_t dim, size_t h, size_t w)
{
    unsigned char b[16] = {0, 0, type, 0};
    size_t len;
    if (h && w) {
        b[3] = 3;
        cli_put_be32(b + 4, (uint32_t)n);
        cli_put_be32(b + 8, (uint32_t)h);
        cli_put_be32(b + 12, (uint32_t)w);
        len = 16;
    } else {
        b[3] = 2;
        cli_put_be32(b + 4, (uint32_t)n);
        cli_put_be32(b + 8, (uint32_t)dim);
        len = 12;
    }
    return fwrite(b, 1, len, f) == len;
}

static ae_status on_row(void *vctx, const ae_stream_info *info, const void *row, int32_t label,
                        ae_error *err)
{
    convert_ctx *c = vctx;
    c->total++;
    if (c->limit && c->n >= c->limit)
        return AE_OK; /* past the limit: read on only to count the rows (for --labels) */
    if (!c->header_written) {
        if (info->dtype != AE_DTYPE_U8)
            c->to_float = 1; /* float data stays float */
        c->dim = info->dim;
        c->img_h = info->img_h;
        c->img_w = info->img_w;
        c->has_labels = info->has_labels;
        c->buf = malloc(info->dim * 4 + 1);
        if (!c->buf) {
            ae_error_set(err, "out of memory for a row of %zu features", info->dim);
            return AE_ERR_NOMEM;
        }
        if (!write_header(c->out, c->to_float ? 0x0D : 0x08, 0, c->dim, c->img_h, c->img_w)) {
            ae_error_set(err, "%s: write failed", c->out_path);
            return AE_ERR_IO;
        }
        c->header_written = 1;
    }
    size_t bytes;
    if (!c->to_float) { /* uint8 in, uint8 out */
        memcpy(c->buf, row, c->dim);
        bytes = c->dim;
    } else {
        for (size_t j = 0; j < c->dim; j++) {
            float v = info->dtype == AE_DTYPE_U8 ? (float)((const uint8_t *)row)[j]
                                                 : ((const float *)row)[j];
            /* data.scale's formulas (src/batch.c): unit maps uint8 by 1/255 */
            if (c->scale)
                v = v * c->scale[j] + c->shift[j];
            else if (c->unit && info->dtype == AE_DTYPE_U8)
                v = v * (1.0f / 255.0f) + 0.0f;
            uint32_t u;
            memcpy(&u, &v, sizeof u);
            cli_put_be32(c->buf + 4 * j, u);
        }
        bytes = 4 * c->dim;
    }
    if (fwrite(c->buf, 1, bytes, c->out) != bytes) {
        ae_error_set(err, "%s: write failed", c->out_path);
        return AE_ERR_IO;
    }
    if (c->has_labels && c->keep_labels) {
        if (c->n == c->labels_cap) {
            size_t cap = c->labels_cap ? 2 * c->labels_cap : 4096;
            int32_t *p = realloc(c->labels, cap * sizeof *p);
            if (!p) {
                ae_error_set(err, "out of memory for %zu labels", cap);
                return AE_ERR_NOMEM;
            }
            c->labels = p;
            c->labels_cap = cap;
        }
        c->labels[c->n] = label;
    }
    c->n++;
    return AE_OK;
}

/* The standardize fit, streamed: per-feature sums, then squared deviations. */
typedef struct {
    size_t limit, n, dim;
    double *sum, *m2; /* [dim] */
    const double *mean;
    int u8;           /* the input is uint8 */
} moments_ctx;

static ae_status on_row_moments(void *vctx, const ae_stream_info *info, const void *row,
                                int32_t label, ae_error *err)
{
    (void)label;
    moments_ctx *c = vctx;
    if (c->limit && c->n >= c->limit)
        return AE_INTERRUPTED;
    if (!c->sum) {
        c->dim = info->dim;
        c->u8 = info->dtype == AE_DTYPE_U8;
        c->sum = calloc(c->dim ? c->dim : 1, sizeof(double));
        c->m2 = calloc(c->dim ? c->dim : 1, sizeof(double));
        if (!c->sum || !c->m2) {
            ae_error_set(err, "out of memory");
            return AE_ERR_NOMEM;
        }
    }
    for (size_t j = 0; j < c->dim; j++) {
        double v = info->dtype == AE_DTYPE_U8 ? (double)((const uint8_t *)row)[j]
                                              : (double)((const float *)row)[j];
        if (c->mean) {
            double d = v - c->mean[j];
            c->m2[j] += d * d;
        } else {
            c->sum[j] += v;
        }
    }
    c->n++;
    return AE_OK;
}

static ae_status write_labels(const char *path, const int32_t *labels, size_t n, ae_error *err)
{
    int32_t max = 0;
    for (size_t i = 0; i < n; i++)
        max = labels[i] > max ? labels[i] : max;
    int wide = max > 255;
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        return st;
    unsigned char head[8] = {0, 0, (unsigned char)(wide ? 0x0C : 0x08), 1};
    cli_put_be32(head + 4, (uint32_t)n);
    int ok = fwrite(head, 1, 8, f.fp) == 8;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char b[4];
        if (wide)
            cli_put_be32(b, (uint32_t)labels[i]);
        else
            b[0] = (unsigned char)labels[i];
        ok = fwrite(b, 1, wide ? 4 : 1, f.fp) == (wide ? 4u : 1u);
    }
    if (!ok) {
        ae_atomic_abort(&f);
        ae_error_set(err, "%s: write failed", path);
        return AE_ERR_IO;
    }
    return ae_atomic_commit(&f, err);
}

/* --header auto|yes|no: out is ae_csv_options' header (-1 auto, 1 yes, 0 no). */
static bool parse_header(const char *name, const char *v, void *out)
{
    int *header = out;
    (void)name;
    if (!strcmp(v, "auto"))
        *header = -1;
    else if (!strcmp(v, "yes"))
        *header = 1;
    else if (!strcmp(v, "no"))
        *header = 0;
    else {
        cli_error("--header: expected auto, yes or no, got '%s'", v);
        return false;
    }
    return true;
}

/* --scale unit|standardize: out is the name's const char *. */
static bool parse_scale(const char *name, const char *v, void *out)
{
    (void)name;
    if (strcmp(v, "unit") != 0 && strcmp(v, "standardize") != 0) {
        cli_error("--scale: expected unit or standardize, got '%s'", v);
        return false;
    }
    *(const char **)out = v;
    return true;
}

int main(int argc, char **argv)
{
    cli_prog = "aeconvert";
    const char *in = NULL, *out = NULL, *labels_out = NULL, *labels_in = NULL;
    const char *label_column = NULL, *scale_name = NULL;
    int header = -1;
    bool to_float = false, quiet = false;
    long limit = 0;
    const cli_option opts[] = {
        CLI_OPT_ARG("INPUT", &in),
        CLI_OPT_FLAG("--float", &to_float),
        CLI_OPT_FLAG("--quiet", &quiet),
        CLI_OPT_FLAG("-q", &quiet),
        CLI_OPT_STR("--out", &out),
        CLI_OPT_STR("--labels-out", &labels_out),
        CLI_OPT_STR("--labels", &labels_in),
        CLI_OPT_STR("--label-column", &label_column),
        CLI_OPT_CALL("--header", parse_header, &header),
        CLI_OPT_CALL("--scale", parse_scale, &scale_name),
        CLI_OPT_LONG("--limit", &limit, 1, 2147483647L),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, NULL);
    if (r >= 0)
        return r;
    if (scale_name) /* scaled values are written as float32 */
        to_float = true;
    if (!in || !out) {
        cli_error("%s is required (see --help)", !in ? "INPUT" : "--out FILE");
        return 2;
    }
    if (labels_out && !labels_in && !label_column) {
        cli_error("--labels-out needs labels: give --labels FILE, or --label-column C for a CSV");
        return 2;
    }
    if (!strcmp(in, out)) {
        cli_error("--out %s is the input file; write to another name", out);
        return 2;
    }
    ae_csv_options csv = {label_column, header, NULL, 0, 0, NULL, 0};
    ae_error err = {{0}};
    ae_status st = AE_OK;
    float *scale = NULL, *shift = NULL;
    size_t rows = 0;

    /* standardize fits the scaling first: two passes over the input */
    int unit = scale_name && !strcmp(scale_name, "unit");
    if (scale_name && !unit) {
        moments_ctx mc = {(size_t)limit, 0, 0, NULL, NULL, NULL, 0};
        st = ae_dataset_stream(in, &csv, on_row_moments, &mc, &rows, &err);
        if (st == AE_INTERRUPTED)
            st = AE_OK;
        if (st == AE_OK) {
            for (size_t j = 0; j < mc.dim; j++)
                mc.sum[j] /= (double)mc.n;
            mc.mean = mc.sum;
            mc.n = 0;
            st = ae_dataset_stream(in, &csv, on_row_moments, &mc, &rows, &err);
            if (st == AE_INTERRUPTED)
                st = AE_OK;
        }
        if (st == AE_OK) {
            scale = malloc((mc.dim ? mc.dim : 1) * sizeof(float));
            shift = malloc((mc.dim ? mc.dim : 1) * sizeof(float));
            if (!scale || !shift) {
                ae_error_set(&err, "out of memory");
                st = AE_ERR_NOMEM;
            }
        }
        double *count = st == AE_OK ? malloc((mc.dim ? mc.dim : 1) * sizeof(double)) : NULL;
        if (st == AE_OK && !count) {
            ae_error_set(&err, "out of memory");
            st = AE_ERR_NOMEM;
        }
        if (st == AE_OK) { /* the same formulas as aetrain's data.scale (src/data/batch.c) */
            for (size_t j = 0; j < mc.dim; j++)
                count[j] = (double)mc.n;
            ae_scaling_from_moments(mc.dim, mc.mean, mc.m2, count, scale, shift);
        }
        free(count);
        free(mc.sum);
        free(mc.m2);
        if (st != AE_OK)
            goto fail;
    }

    ae_atomic_file f;
    st = ae_atomic_open(&f, out, &err);
    if (st != AE_OK)
        goto fail;
    convert_ctx c = {f.fp, out, to_float, unit, scale, shift, (size_t)limit, 0, 0, 0, 0, 0,
                     0, NULL, 0, 0, labels_out && !labels_in, NULL};
    st = ae_dataset_stream(in, &csv, on_row, &c, &rows, &err);
    if (st == AE_OK && !c.header_written) {
        ae_error_set(&err, "%s: no examples", in);
        st = AE_ERR_INPUT;
    }
    if (st == AE_OK && c.n > UINT32_MAX) {
        ae_error_set(&err, "%s: %zu examples are more than an IDX file can count (2^32 - 1); "
                           "convert it in parts with --limit", in, c.n);
        st = AE_ERR_INPUT;
    }
    /* the labels are checked before the data file is put in place, so a
     * failure leaves neither file */
    int32_t *lab = c.labels;
    ae_dataset tmp = {0};
    if (st == AE_OK && labels_out) {
        if (labels_in) {
            tmp.n = c.total; /* the labels of every input row; the first n are written */
            st = ae_dataset_load_labels(&tmp, labels_in, NULL, 0, &err);
            lab = tmp.labels;
        } else if (!c.has_labels) {
            ae_error_set(&err, "--labels-out: %s has no label column; give --labels FILE", in);
            st = AE_ERR_USAGE;
        }
    }
    if (st == AE_OK) {
        /* the count is known now */
        unsigned char b[4];
        cli_put_be32(b, (uint32_t)c.n);
        if (fseek(f.fp, 4, SEEK_SET) != 0) {
            ae_error_set(&err, "%s: cannot go back to write the example count (%s): give a "
                         "regular file", out, strerror(errno));
            st = AE_ERR_IO;
        } else if (fwrite(b, 1, 4, f.fp) != 4) {
            ae_error_set(&err, "%s: write failed (%s)", out, strerror(errno));
            st = AE_ERR_IO;
        }
    }
    if (st == AE_OK)
        st = ae_atomic_commit(&f, &err);
    else
        ae_atomic_abort(&f);
    free(c.buf);
    if (st == AE_OK && labels_out)
        st = write_labels(labels_out, lab, c.n, &err);
    free(tmp.labels);
    free(c.labels);
    if (st != AE_OK)
        goto fail;
    if (!quiet)
        fprintf(stderr, "aeconvert: %zu examples of %zu features (%s) written to %s\n", c.n,
                c.dim, c.to_float ? "float32" : "uint8", out);
    free(scale);
    free(shift);
    return 0;
fail:
    free(scale);
    free(shift);
    return cli_fail(st, &err);
}
