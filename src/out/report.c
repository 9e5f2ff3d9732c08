#include "ae/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/data.h"
#include "ae/fileio.h"
#include "ae/model.h"
#include "ae/plot.h"
#include "ae/run.h"
#include "base/strbuf.h"

char *ae_base64_encode(const void *data, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > ((size_t)-1 - 1) / 4 * 3 - 3)
        return NULL;
    const unsigned char *p = data;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t k = 0, i = 0;
    for (; i + 2 < n; i += 3) { /* 3 bytes -> 4 characters of 6 bits */
        unsigned long v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 | p[i + 2];
        out[k++] = abc[v >> 18 & 63];
        out[k++] = abc[v >> 12 & 63];
        out[k++] = abc[v >> 6 & 63];
        out[k++] = abc[v & 63];
    }
    if (i < n) { /* 1 or 2 bytes left: pad to 4 characters with '=' */
        unsigned long v = (unsigned long)p[i] << 16 | (i + 1 < n ? (unsigned long)p[i + 1] << 8 : 0);
        out[k++] = abc[v >> 18 & 63];
        out[k++] = abc[v >> 12 & 63];
        out[k++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        out[k++] = '=';
    }
    out[k] = '\0';
    return out;
}

/* ---- the metrics table ---- */

#define MAX_COLS 64

typedef struct {
    size_t cols, rows;
    char name[MAX_COLS][32];
    double *v; /* [rows x cols]; NaN where a field is empty */
} metrics;

/* Parses the header and rows; fields beyond MAX_COLS are ignored. */
static ae_status metrics_parse(metrics *m, const char *csv, const char *source, ae_error *err)
{
    memset(m, 0, sizeof *m);
    size_t lines = 0;
    for (const char *p = csv; *p; p++)
        lines += *p == '\n';
    m->v = malloc((lines + 1) * MAX_COLS * sizeof(double));
    if (!m->v) {
        ae_error_set(err, "%s: out of memory", source);
        return AE_ERR_NOMEM;
    }
    const char *line = csv;
    for (size_t ln = 0; *line; ln++) {
        size_t len = strcspn(line, "\n");
        size_t end = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
        size_t col = 0;
        for (size_t a = 0; a <= end && col < MAX_COLS; col++) {
            size_t b = a;
            while (b < end && line[b] != ',')
                b++;
            if (ln == 0) {
                size_t n = b - a < sizeof m->name[0] - 1 ? b - a : sizeof m->name[0] - 1;
                memcpy(m->name[col], line + a, n);
                m->name[col][n] = '\0';
            } else {
                char field[64];
                size_t n = b - a < sizeof field - 1 ? b - a : sizeof field - 1;
                memcpy(field, line + a, n);
                field[n] = '\0';
                char *stop;
                double v = strtod(field, &stop);
                m->v[m->rows * MAX_COLS + col] = n == 0 || *stop ? NAN : v;
            }
            a = b + 1;
        }
        if (ln == 0) {
            m->cols = col;
        } else if (end > 0) {
            for (; col < MAX_COLS; col++)
                m->v[m->rows * MAX_COLS + col] = NAN;
            m->rows++;
        }
        line += len + (line[len] == '\n');
    }
    if (m->cols == 0 || strcmp(m->name[0], "epoch") != 0 || m->rows == 0) {
        ae_error_set(err, "%s: expected a metrics table (a header starting with 'epoch' and at "
                          "least one row)", source);
        free(m->v);
        m->v = NULL;
        return AE_ERR_INPUT;
    }
    return AE_OK;
}

/* Column `name` into out [rows]; false when there is no such column or it
 * has no finite value. */
static bool metrics_column(const metrics *m, const char *name, double *out)
{
    for (size_t c = 0; c < m->cols; c++) {
        if (strcmp(m->name[c], name) != 0)
            continue;
        bool any = false;
        for (size_t r = 0; r < m->rows; r++) {
            out[r] = m->v[r * MAX_COLS + c];
            any = any || isfinite(out[r]);
        }
        return any;
    }
    return false;
}

/* The value in the last row, NaN when absent. */
static double metrics_last(const metrics *m, const char *name)
{
    for (size_t c = 0; c < m->cols; c++)
        if (!strcmp(m->name[c], name))
            return m->v[(m->rows - 1) * MAX_COLS + c];
    return NAN;
}

static bool any_nonzero(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && v[i] != 0.0)
            return true;
    return false;
}

ae_status ae_report_loss_chart(const char *metrics_csv, const char *path, ae_error *err)
{
    metrics m;
    ae_status st = metrics_parse(&m, metrics_csv, path, err);
    if (st != AE_OK)
        return st;
    size_t n = m.rows;
    /* columns: epoch, then (train, val, test) for the loss and the second panel */
    double *col = malloc(7 * n * sizeof(double));
    if (!col) {
        free(m.v);
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    double *epoch = col, *y[6] = {col + n, col + 2 * n, col + 3 * n, col + 4 * n, col + 5 * n,
                                  col + 6 * n};
    metrics_column(&m, "epoch", epoch);
    static const char *const split_name[3] = {"train", "validation", "test"};
    static const size_t split_color[3] = {0, 2, 1};
    static const char *const loss_col[3] = {"train_loss", "val_loss", "test_loss"};
    static const char *const kl_col[3] = {"train_kl", "val_kl", "test_kl"};
    static const char *const reg_col[3] = {"train_reg", "", "test_reg"};
    ae_plot_series s1[3], s2[3];
    size_t n1 = 0, n2 = 0;
    for (int k = 0; k < 3; k++)
        if (metrics_column(&m, loss_col[k], y[k]))
            s1[n1++] = (ae_plot_series){split_name[k], y[k], split_color[k], false};
    /* the second panel: the KL term of a VAE, else an autoencoder's penalty */
    const char *const *second = kl_col;
    const char *title2 = "KL term";
    if (!metrics_column(&m, "train_kl", y[3]) || !any_nonzero(y[3], n)) {
        second = reg_col;
        title2 = "Penalty (sparsity, contractive)";
    }
    for (int k = 0; k < 3; k++)
        if (metrics_column(&m, second[k], y[3 + k]) && any_nonzero(y[3 + k], n))
            s2[n2++] = (ae_plot_series){split_name[k], y[3 + k], split_color[k], false};
    ae_line_panel panels[2] = {
        {"Loss", "epoch", "nats per example", epoch, n, s1, n1, true},
        {title2, "epoch", "nats per example", epoch, n, s2, n2, true}};
    st = ae_plot_lines_write(path, panels, n2 ? 2 : 1, err);
    free(col);
    free(m.v);
    return st;
}

/* ---- the page ---- */

/* Reads a whole file; *missing says it does not exist (then returns NULL
 * without an error). */
static char *slurp(const char *path, size_t *size, bool *missing, ae_error *err)
{
    *missing = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            *missing = true;
            return NULL;
        }
        ae_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (size_t)n < ae_alloc_cap() && (buf = malloc((size_t)n + 1)) != NULL &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *size = (size_t)n;
    } else {
        ae_error_set(err, "%s: cannot read it whole", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

typedef struct {
    const char *file, *heading, *caption, *absent;
} picture;

static const char *const STYLE =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#222;background:#fafafa;"
    "max-width:1160px;margin:24px auto;padding:0 16px;line-height:1.4}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}"
    ".sub{color:#555;margin:0 0 16px}"
    "table{border-collapse:collapse;background:#fff}"
    "th,td{border:1px solid #ddd;padding:4px 12px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}thead th{background:#f0f0f0}"
    ".row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}"
    "figure{margin:0;background:#fff;border:1px solid #ddd;padding:8px;width:fit-content;"
    "max-width:100%;box-sizing:border-box}"
    "figcaption{font-size:13px;color:#555;max-width:480px;margin-top:6px}"
    "img{image-rendering:pixelated;display:block}"
    "svg{display:block;max-width:100%;height:auto}"
    "pre{background:#fff;border:1px solid #ddd;padding:12px;font-size:12px;overflow:auto;"
    "tab-size:4}"
    ".note{color:#555;font-style:italic}";

static void cell(ae_sb *b, double v)
{
    if (isfinite(v))
        ae_sb_printf(b, "<td>%.4f</td>", v);
    else
        ae_sb_puts(b, "<td></td>");
}

static void metrics_table(ae_sb *b, const metrics *m, const ae_config *cfg)
{
    static const char *const pre[3] = {"train", "val", "test"};
    bool reg = isfinite(metrics_last(m, "train_reg")) && metrics_last(m, "train_reg") != 0.0;
    bool vae = ae_family_get(cfg->model.type)->variational;
    /* a classifier's loss is the cross-entropy of the label; its accuracy beside */
    bool cls = ae_family_get(cfg->model.type)->classifier;
    const char *const label[3] = {"train", "validation", vae ? "test (z sampled)" : "test"};
    ae_sb_printf(b, "<table><thead><tr><th>epoch %d</th><th>loss</th><th>%s</th>%s%s%s"
                    "</tr></thead><tbody>\n", (int)metrics_last(m, "epoch"),
                 cls ? "cross-entropy" : "reconstruction", vae ? "<th>KL</th>" : "",
                 reg ? "<th>penalty</th>" : "", cls ? "<th>accuracy</th>" : "");
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_loss", pre[k]);
        if (!isfinite(metrics_last(m, key)))
            continue;
        ae_sb_printf(b, "<tr><td>%s</td>", label[k]);
        cell(b, metrics_last(m, key));
        snprintf(key, sizeof key, "%s_recon", pre[k]);
        cell(b, metrics_last(m, key));
        if (vae) {
            snprintf(key, sizeof key, "%s_kl", pre[k]);
            cell(b, metrics_last(m, key));
        }
        if (reg) {
            snprintf(key, sizeof key, "%s_reg", pre[k]);
            cell(b, metrics_last(m, key));
        }
        if (cls) { /* train and test (no validation accuracy is kept) */
            snprintf(key, sizeof key, "%s_accuracy", pre[k]);
            cell(b, metrics_last(m, key));
        }
        ae_sb_puts(b, "</tr>\n");
    }
    if (vae && isfinite(metrics_last(m, "test_loss_mu"))) {
        ae_sb_puts(b, "<tr><td>test (z = mu)</td>");
        cell(b, metrics_last(m, "test_loss_mu"));
        ae_sb_printf(b, "<td></td>%s</tr>\n", reg ? "<td></td><td></td>" : "<td></td>");
    }
    ae_sb_puts(b, "</tbody></table>\n<p>");
    /* the best epoch by test loss (validation when there is no test set) */
    const char *by = isfinite(metrics_last(m, "test_loss")) ? "test_loss" : "val_loss";
    size_t c = 0;
    while (c < m->cols && strcmp(m->name[c], by) != 0)
        c++;
    double best = INFINITY, best_epoch = 0, seconds = 0;
    for (size_t r = 0; r < m->rows; r++) {
        double v = c < m->cols ? m->v[r * MAX_COLS + c] : NAN;
        if (isfinite(v) && v < best) {
            best = v;
            best_epoch = m->v[r * MAX_COLS];
        }
    }
    for (size_t k = 0; k < m->cols; k++)
        if (!strcmp(m->name[k], "seconds"))
            for (size_t r = 0; r < m->rows; r++)
                seconds += isfinite(m->v[r * MAX_COLS + k]) ? m->v[r * MAX_COLS + k] : 0.0;
    if (isfinite(best))
        ae_sb_printf(b, "Best %s loss: <b>%.4f</b> at epoch %d. ",
                     strcmp(by, "test_loss") ? "validation" : "test", best, (int)best_epoch);
    ae_sb_printf(b, "Losses are in nats per example (%s%s). "
                    "Training took %.1f s over %zu epochs",
                 cls ? "the cross-entropy of the label; accuracy: the share of examples whose "
                       "most probable class is their label"
                     : "reconstruction summed over the inputs",
                 vae ? ", KL over the latent dimensions" : "", seconds, m->rows);
    double eps = metrics_last(m, "examples_per_sec");
    if (isfinite(eps))
        ae_sb_printf(b, " (%.0f examples/s in the last)", eps);
    ae_sb_puts(b, ".</p>\n");
}

/* Appends an SVG file's markup without its XML prolog and namespace
 * declaration (inside HTML, <svg> is in the SVG namespace anyway). */
static void inline_svg(ae_sb *b, const char *svg)
{
    const char *start = strstr(svg, "<svg");
    if (!start)
        return;
    static const char ns[] = " xmlns=\"http://www.w3.org/2000/svg\"";
    const char *at = strstr(start, ns);
    const char *tag_end = strchr(start, '>');
    if (at && tag_end && at < tag_end) {
        ae_sb_append(b, start, (size_t)(at - start));
        ae_sb_puts(b, at + sizeof ns - 1);
    } else {
        ae_sb_puts(b, start);
    }
}

/* Width and height from a PNG's IHDR; false when the bytes are not a PNG. */
static bool png_dims(const unsigned char *p, size_t n, unsigned long *w, unsigned long *h)
{
    if (n < 24 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0)
        return false;
    *w = (unsigned long)p[16] << 24 | (unsigned long)p[17] << 16 | (unsigned long)p[18] << 8 | p[19];
    *h = (unsigned long)p[20] << 24 | (unsigned long)p[21] << 16 | (unsigned long)p[22] << 8 | p[23];
    return true;
}

/* A figure with an embedded PNG: small pictures are shown at twice their
 * size (pixelated, so pixels stay sharp squares). */
static ae_status figure_png(ae_sb *b, const char *dir, const picture *pic, ae_error *err)
{
    char *path = ae_path_join(dir, pic->file);
    if (!path) {
        ae_error_set(err, "report: out of memory");
        return AE_ERR_NOMEM;
    }
    size_t n = 0;
    bool missing;
    char *data = slurp(path, &n, &missing, err);
    unsigned long w, h;
    ae_status st = AE_OK;
    if (missing) {
        ae_sb_printf(b, "<figure><figcaption><b>%s</b><br><span class=\"note\">%s</span>"
                        "</figcaption></figure>\n", pic->heading, pic->absent);
    } else if (!data) {
        st = AE_ERR_IO;
    } else if (!png_dims((const unsigned char *)data, n, &w, &h)) {
        ae_error_set(err, "%s: not a PNG file", path);
        st = AE_ERR_INPUT;
    } else {
        char *b64 = ae_base64_encode(data, n);
        if (!b64) {
            ae_error_set(err, "%s: out of memory", path);
            st = AE_ERR_NOMEM;
        } else {
            unsigned long k = w <= 300 && h <= 300 ? 2 : 1;
            ae_sb_printf(b, "<figure><img src=\"data:image/png;base64,%s\" width=\"%lu\" "
                            "height=\"%lu\" alt=\"%s\"><figcaption><b>%s</b> (%s, %lu x %lu)<br>"
                            "%s</figcaption></figure>\n", b64, k * w, k * h, pic->heading,
                         pic->heading, pic->file, w, h, pic->caption);
            free(b64);
        }
    }
    free(data);
    free(path);
    return st;
}

/* The markup of an SVG in dir, or a note when it is not there. */
static ae_status figure_svg(ae_sb *b, const char *dir, const char *file, const char *absent,
                            ae_error *err)
{
    char *path = ae_path_join(dir, file);
    if (!path) {
        ae_error_set(err, "report: out of memory");
        return AE_ERR_NOMEM;
    }
    size_t n;
    bool missing;
    char *svg = slurp(path, &n, &missing, err);
    free(path);
    if (missing) {
        ae_sb_printf(b, "<p class=\"note\">%s</p>\n", absent);
        return AE_OK;
    }
    if (!svg)
        return AE_ERR_IO;
    ae_sb_puts(b, "<figure>");
    inline_svg(b, svg);
    ae_sb_puts(b, "</figure>\n");
    free(svg);
    return AE_OK;
}

static void summary(ae_sb *b, const ae_config *cfg)
{
    const ae_config *c = cfg;
    ae_sb_printf(b, "<p class=\"sub\">%s, encoder [", ae_model_type_name(c->model.type));
    for (int i = 0; i < c->model.n_encoder; i++)
        ae_sb_printf(b, "%s%d", i ? ", " : "", c->model.encoder[i]);
    ae_sb_printf(b, "], latent %d", c->model.latent);
    if (ae_family_get(c->model.type)->hierarchical)
        ae_sb_printf(b, " + %d", c->model.latent2);
    if (ae_family_get(c->model.type)->classifier) {
        ae_sb_printf(b, ", softmax over %d classes", c->model.classes);
        if (c->model.init_from[0]) {
            ae_sb_puts(b, ", encoder from ");
            ae_sb_escape(b, c->model.init_from);
        }
        if (c->train.freeze_encoder_epochs)
            ae_sb_printf(b, " (frozen for %d epochs)", c->train.freeze_encoder_epochs);
    } else {
        ae_sb_printf(b, ", %s likelihood", ae_likelihood_get(c->model.likelihood)->title);
    }
    if (ae_family_get(c->model.type)->variational)
        ae_sb_printf(b, ", beta %g", c->model.beta);
    ae_sb_printf(b, "; %s, lr %g, batch %d, seed %llu; data ",
                 c->train.optimizer == AE_OPT_ADAM ? "Adam" : "SGD", c->train.lr,
                 c->train.batch_size, (unsigned long long)c->train.seed);
    ae_sb_escape(b, c->data.train);
    ae_sb_puts(b, "</p>\n");
    const char *names[AE_MAX_CLASS_NAMES];
    size_t n = ae_config_class_names(c, names);
    if (n) { /* the labels were words: which class number is which */
        ae_sb_puts(b, "<p class=\"sub\">Classes (the label names of the data, in class order: "
                      "legends, sample columns and outputs use them): ");
        for (size_t k = 0; k < n; k++) {
            ae_sb_printf(b, "%s%zu&nbsp;", k ? ", " : "", k);
            ae_sb_escape(b, names[k]);
        }
        ae_sb_puts(b, "</p>\n");
    }
}

ae_status ae_report_write(const ae_config *cfg, const char *dir, ae_error *err)
{
    char *metrics_path = ae_path_join(dir, AE_RUN_METRICS);
    char *out_path = ae_path_join(dir, AE_RUN_REPORT);
    char *spec = ae_config_to_json(cfg);
    char *csv = NULL;
    metrics m = {0};
    ae_sb b = {0};
    ae_status st = AE_OK;
    if (!metrics_path || !out_path || !spec) {
        ae_error_set(err, "report: out of memory");
        st = AE_ERR_NOMEM;
        goto done;
    }
    size_t n;
    bool missing;
    csv = slurp(metrics_path, &n, &missing, err);
    if (missing)
        ae_error_set(err, "%s: not found; the report needs the run's metrics", metrics_path);
    if (!csv) {
        st = missing ? AE_ERR_INPUT : AE_ERR_IO;
        goto done;
    }
    if ((st = metrics_parse(&m, csv, metrics_path, err)) != AE_OK)
        goto done;

    ae_sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>Run report: ");
    ae_sb_escape(&b, dir);
    ae_sb_printf(&b, "</title>\n<style>%s</style></head><body>\n<h1>Run report: <code>", STYLE);
    ae_sb_escape(&b, dir);
    ae_sb_puts(&b, "</code></h1>\n");
    summary(&b, cfg);

    ae_sb_puts(&b, "<h2>Final metrics</h2>\n");
    metrics_table(&b, &m, cfg);

    bool vae = ae_family_get(cfg->model.type)->variational;
    ae_sb_puts(&b, "<h2>Loss curves</h2>\n");
    st = figure_svg(&b, dir, AE_RUN_LOSS_CHART, "No " AE_RUN_LOSS_CHART " in this folder.", err);

    const picture pics[3] = {
        {AE_RUN_RECON, "Reconstructions",
         vae ? "Odd rows: examples (of the test set when there is one); the row below each: "
               "their reconstructions (the decoded mean at z = mu)."
             : "Odd rows: examples (of the test set when there is one); the row below each: "
               "their reconstructions.",
         "not written"},
        {AE_RUN_SAMPLES, "Samples from the prior",
         ae_family_get(cfg->model.type)->conditional ? "Decoded means of z ~ N(0, I); one column per class."
                                          : "Decoded means of z drawn from the prior.",
         vae ? "not written" : "A plain autoencoder has no prior to sample from."},
        {AE_RUN_MANIFOLD, "Latent manifold",
         "Decodings over a grid of normal quantiles (5% to 95%) of z0 (across) and z1 (up).",
         ae_family_get(cfg->model.type)->conditional
             ? "A conditional VAE's manifold depends on the class: "
               "<code>aesample --manifold --class C</code> draws it."
             : "Drawn during training for a 2-D latent; for larger latents "
               "<code>aesample --manifold --data FILE</code> draws it over the two dimensions "
               "with the highest KL."}};
    ae_sb_puts(&b, "<h2>Pictures</h2>\n<div class=\"row\">\n");
    for (int i = 0; i < 3 && st == AE_OK; i++)
        /* no manifold note for an autoencoder (it has no prior), no pictures
         * for a classifier (it decodes nothing) */
        if ((i < 2 || vae) && !ae_family_get(cfg->model.type)->classifier)
            st = figure_png(&b, dir, &pics[i], err);
    ae_sb_puts(&b, "</div>\n<h2>Latent space</h2>\n");
    if (st == AE_OK)
        st = figure_svg(&b, dir, AE_RUN_LATENTS, "No " AE_RUN_LATENTS " in this folder.", err);

    ae_sb_puts(&b, "<h2>Spec</h2>\n<p>The resolved spec (config.json): <code>aetrain --config "
                   "config.json</code> trains this model again.</p>\n<pre>");
    ae_sb_escape(&b, spec);
    ae_sb_printf(&b, "</pre>\n<p class=\"note\">Written by aetrain %s.</p>\n</body></html>\n",
                 ae_version());
    if (st != AE_OK)
        goto done;
    if (!ae_sb_ok(&b)) {
        ae_error_set(err, "%s: out of memory", out_path);
        st = AE_ERR_NOMEM;
        goto done;
    }
    st = ae_write_file_atomic(out_path, b.s, b.len, err);
done:
    ae_sb_free(&b);
    free(m.v);
    free(csv);
    free(spec);
    free(metrics_path);
    free(out_path);
    return st;
}
