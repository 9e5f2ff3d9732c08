#include "ae/plot.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/fileio.h"
#include "ae/image.h"
#include "ae/linalg.h"
#include "base/strbuf.h"

/* ---- colours and ticks ---- */

static const char *const palette[AE_PLOT_COLORS] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
    "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"};

const char *ae_plot_color(size_t i)
{
    return palette[i % AE_PLOT_COLORS];
}

static void color_rgb(size_t i, uint8_t rgb[3])
{
    unsigned r, g, b;
    sscanf(ae_plot_color(i) + 1, "%2x%2x%2x", &r, &g, &b);
    rgb[0] = (uint8_t)r;
    rgb[1] = (uint8_t)g;
    rgb[2] = (uint8_t)b;
}

/* The next step of the 1-2-5 sequence above s. */
static double step_up(double s)
{
    double mag = pow(10.0, floor(log10(s) + 1e-9));
    double f = s / mag;
    return (f < 1.5 ? 2.0 : f < 3.5 ? 5.0 : 10.0) * mag;
}

size_t ae_plot_ticks(double lo, double hi, size_t target, double *ticks, size_t max,
                     double *step)
{
    if (!isfinite(lo) || !isfinite(hi) || lo > hi || max < 2)
        return 0;
    if (hi == lo) {
        double w = lo != 0.0 ? 0.05 * fabs(lo) : 0.5;
        lo -= w;
        hi += w;
    }
    if (target < 2)
        target = 2;
    /* the 1-2-5 step nearest to range / (target - 1) */
    double raw = (hi - lo) / (double)(target - 1);
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double st = (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
    if (!(st > 0.0) || !isfinite(st))
        return 0;
    double first, last;
    size_t count;
    for (;;) {
        first = floor(lo / st) * st;
        last = ceil(hi / st) * st;
        count = (size_t)llround((last - first) / st) + 1;
        if (count <= max)
            break;
        st = step_up(st);
    }
    for (size_t i = 0; i < count; i++) {
        double t = first + (double)i * st;
        ticks[i] = fabs(t) < 1e-9 * st ? 0.0 : t; /* no "-0" */
    }
    *step = st;
    return count;
}

/* A tick label with as many decimals as the step needs. */
static void format_tick(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < 1e-9 * step)
        v = 0.0;
    if (fmax(fabs(v), step) >= 1e6 || step < 1e-4) {
        snprintf(buf, n, "%.3g", v);
        return;
    }
    int dec = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec, v);
}

/* An axis: the value range shown [lo, hi] and its ticks. */
#define MAX_TICKS 16
typedef struct {
    double lo, hi, step;
    double tick[MAX_TICKS];
    size_t n_ticks;
} axis;

/* Nice bounds around [lo, hi] padded by 3% (so markers clear the frame). */
static void axis_fit(axis *a, double lo, double hi, size_t target)
{
    if (!isfinite(lo) || !isfinite(hi) || lo > hi) {
        lo = 0.0;
        hi = 1.0;
    }
    double pad = 0.03 * (hi - lo);
    a->n_ticks = ae_plot_ticks(lo - pad, hi + pad, target, a->tick, MAX_TICKS, &a->step);
    a->lo = a->tick[0];
    a->hi = a->tick[a->n_ticks - 1];
}

/* Whole-number ticks over [lo, hi] padded by half a unit at most (epochs). */
static void axis_fit_integer(axis *a, double lo, double hi)
{
    if (!isfinite(lo) || !isfinite(hi) || lo > hi)
        lo = hi = 1.0;
    double pad = hi > lo ? fmin(0.5, 0.04 * (hi - lo)) : 0.5;
    a->lo = lo - pad;
    a->hi = hi + pad;
    double t[MAX_TICKS], st;
    size_t n = ae_plot_ticks(lo, hi, 6, t, MAX_TICKS, &st);
    st = st < 1.0 ? 1.0 : st;
    a->step = st;
    a->n_ticks = 0;
    for (double v = ceil(lo / st) * st; v <= hi + 1e-9 && a->n_ticks < MAX_TICKS && n; v += st)
        a->tick[a->n_ticks++] = v;
}

/* Pixel position of v on an axis drawn from p0 (at lo) to p1 (at hi). */
static double axis_map(const axis *a, double v, double p0, double p1)
{
    return p0 + (v - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
#define INK "#222222"
#define GRID "#e6e6e6"
#define FRAME "#555555"

/* Gridlines, tick labels and frame of a plot area [x0,x1] x [y0,y1]. */
static void svg_axes(ae_sb *b, const axis *ax, const axis *ay, double x0, double x1, double y0,
                     double y1)
{
    char t[64];
    ae_sb_puts(b, "<g stroke=\"" GRID "\" stroke-width=\"1\">\n");
    for (size_t i = 0; i < ay->n_ticks; i++) {
        double y = axis_map(ay, ay->tick[i], y1, y0);
        ae_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, y, x1, y);
    }
    for (size_t i = 0; i < ax->n_ticks; i++) {
        double x = axis_map(ax, ax->tick[i], x0, x1);
        ae_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, y0, x, y1);
    }
    ae_sb_puts(b, "</g>\n<g font-size=\"12\" fill=\"" INK "\">\n");
    for (size_t i = 0; i < ay->n_ticks; i++) {
        format_tick(t, sizeof t, ay->tick[i], ay->step);
        ae_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", x0 - 6,
                     axis_map(ay, ay->tick[i], y1, y0) + 4, t);
    }
    for (size_t i = 0; i < ax->n_ticks; i++) {
        format_tick(t, sizeof t, ax->tick[i], ax->step);
        ae_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                     axis_map(ax, ax->tick[i], x0, x1), y1 + 17, t);
    }
    ae_sb_printf(b, "</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"none\" stroke=\"" FRAME "\"/>\n", x0, y0, x1 - x0, y1 - y0);
}

/* An axis label below the x axis and one turned up along the y axis. */
static void svg_axis_labels(ae_sb *b, const char *xlabel, const char *ylabel, double x0,
                            double x1, double y0, double y1, double ylabel_x)
{
    ae_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" "
                    "fill=\"" INK "\">", (x0 + x1) / 2, y1 + 38);
    ae_sb_escape(b, xlabel ? xlabel : "");
    ae_sb_printf(b, "</text>\n<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
                    "text-anchor=\"middle\" font-size=\"13\" fill=\"" INK "\">",
                 ylabel_x, (y0 + y1) / 2);
    ae_sb_escape(b, ylabel ? ylabel : "");
    ae_sb_puts(b, "</text>\n");
}

static void svg_open(ae_sb *b, int w, int h)
{
    ae_sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                    "viewBox=\"0 0 %d %d\" " FONT ">\n"
                    "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h, w, h, w, h);
}

static char *svg_document(ae_sb *b)
{
    ae_sb_puts(b, "</svg>\n");
    return ae_sb_take(b);
}

static ae_status write_text(const char *path, const char *text, ae_error *err)
{
    if (!text) {
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    return ae_write_file_atomic(path, text, strlen(text), err);
}

/* ---- line charts ---- */

#define LP_W 480
#define LP_H 320
#define LP_L 70
#define LP_R 16
#define LP_T 36
#define LP_B 52

/* How many of the points sampled along a series' line (16 per segment)
 * fall inside the box (bx, by, bw, bh). */
static size_t line_hits(const ae_line_panel *p, const axis *ax, const axis *ay,
                        const ae_plot_series *se, double x0, double x1, double y0, double y1,
                        double bx, double by, double bw, double bh)
{
    size_t hits = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!isfinite(se->y[i]))
            continue;
        bool next = i + 1 < p->n && isfinite(se->y[i + 1]);
        for (int k = 0; k < (next ? 16 : 1); k++) {
            double t = k / 16.0;
            double xv = p->x[i] + (next ? t * (p->x[i + 1] - p->x[i]) : 0.0);
            double yv = se->y[i] + (next ? t * (se->y[i + 1] - se->y[i]) : 0.0);
            double x = axis_map(ax, xv, x0, x1), y = axis_map(ay, yv, y1, y0);
            hits += x >= bx && x <= bx + bw && y >= by && y <= by + bh;
        }
    }
    return hits;
}

static void line_panel(ae_sb *b, const ae_line_panel *p, double ox)
{
    double x0 = ox + LP_L, x1 = ox + LP_W - LP_R, y0 = LP_T, y1 = LP_H - LP_B;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < p->n; i++) {
        xlo = fmin(xlo, p->x[i]);
        xhi = fmax(xhi, p->x[i]);
        for (size_t s = 0; s < p->n_series; s++)
            if (isfinite(p->series[s].y[i])) {
                ylo = fmin(ylo, p->series[s].y[i]);
                yhi = fmax(yhi, p->series[s].y[i]);
            }
    }
    axis ax, ay;
    if (p->integer_x)
        axis_fit_integer(&ax, xlo, xhi);
    else
        axis_fit(&ax, xlo, xhi, 6);
    axis_fit(&ay, ylo, yhi, 6);

    ae_sb_printf(b, "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
                    "font-weight=\"bold\" fill=\"" INK "\">", (x0 + x1) / 2);
    ae_sb_escape(b, p->title ? p->title : "");
    ae_sb_puts(b, "</text>\n");
    svg_axes(b, &ax, &ay, x0, x1, y0, y1);
    svg_axis_labels(b, p->xlabel, p->ylabel, x0, x1, y0, y1, ox + 18);
    if (!isfinite(ylo))
        ae_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" "
                        "fill=\"" INK "\">no values yet</text>\n", (x0 + x1) / 2, (y0 + y1) / 2);

    for (size_t s = 0; s < p->n_series; s++) {
        const ae_plot_series *se = &p->series[s];
        const char *c = ae_plot_color(se->color);
        ae_sb_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"", c,
                     se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        bool pen = false;
        for (size_t i = 0; i < p->n; i++) {
            if (!isfinite(se->y[i])) {
                pen = false;
                continue;
            }
            ae_sb_printf(b, "%s%.1f %.1f ", pen ? "L" : "M", axis_map(&ax, p->x[i], x0, x1),
                         axis_map(&ay, se->y[i], y1, y0));
            pen = true;
        }
        ae_sb_printf(b, "\"/>\n<g fill=\"%s\">\n", c);
        for (size_t i = 0; i < p->n; i++)
            if (isfinite(se->y[i]))
                ae_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>\n",
                             axis_map(&ax, p->x[i], x0, x1), axis_map(&ay, se->y[i], y1, y0));
        ae_sb_puts(b, "</g>\n");
    }

    /* legend in the top right corner of the plot */
    if (p->n_series > 0) {
        size_t longest = 0;
        for (size_t s = 0; s < p->n_series; s++) {
            size_t n = strlen(p->series[s].name ? p->series[s].name : "");
            longest = n > longest ? n : longest;
        }
        double lw = 40 + 7.0 * (double)longest, lh = 8 + 18.0 * (double)p->n_series;
        /* the corner the lines cross least: top right, top left, bottom
         * right, bottom left, the first of equals */
        double lx = x1 - 8 - lw, ly = y0 + 8;
        size_t best = (size_t)-1;
        for (int corner = 0; corner < 4; corner++) {
            double cx = corner % 2 ? x0 + 8 : x1 - 8 - lw, cy = corner < 2 ? y0 + 8 : y1 - 8 - lh;
            size_t hits = 0;
            for (size_t s = 0; s < p->n_series; s++)
                hits += line_hits(p, &ax, &ay, &p->series[s], x0, x1, y0, y1, cx - 4, cy - 4,
                                  lw + 8, lh + 8);
            if (hits < best) {
                best = hits;
                lx = cx;
                ly = cy;
            }
        }
        ae_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
                        "fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n", lx, ly, lw, lh);
        for (size_t s = 0; s < p->n_series; s++) {
            const ae_plot_series *se = &p->series[s];
            double y = ly + 13 + 18.0 * (double)s;
            ae_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                            "stroke-width=\"2\"%s/>\n", lx + 6, y, lx + 28, y,
                         ae_plot_color(se->color), se->dashed ? " stroke-dasharray=\"6 4\"" : "");
            ae_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"" INK "\">",
                         lx + 34, y + 4);
            ae_sb_escape(b, se->name ? se->name : "");
            ae_sb_puts(b, "</text>\n");
        }
    }
}

char *ae_plot_lines_svg(const ae_line_panel *panels, size_t n_panels)
{
    ae_sb b = {0};
    int w = LP_W * (int)(n_panels ? n_panels : 1);
    svg_open(&b, w, LP_H);
    for (size_t i = 0; i < n_panels; i++)
        line_panel(&b, &panels[i], (double)(LP_W * (int)i));
    return svg_document(&b);
}

ae_status ae_plot_lines_write(const char *path, const ae_line_panel *panels, size_t n_panels,
                              ae_error *err)
{
    char *svg = ae_plot_lines_svg(panels, n_panels);
    ae_status st = write_text(path, svg, err);
    free(svg);
    return st;
}

/* ---- scatter plots ---- */

#define SC_W 760
#define SC_H 620
#define SC_X0 80
#define SC_X1 600
#define SC_Y0 70
#define SC_Y1 560
#define SC_LEGEND_MAX 20  /* legend rows */

/* The layout both renderers share: axes, distinct labels and legend rows. */
typedef struct {
    axis ax, ay;
    int32_t *distinct;   /* [n_distinct] sorted */
    size_t n_distinct;
    size_t legend_rows;  /* rows drawn (an ellipsis row when there are more) */
} scatter_layout;

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static bool layout_scatter(const ae_scatter *s, scatter_layout *L)
{
    memset(L, 0, sizeof *L);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        double x = s->xy[2 * i], y = s->xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y))
            continue;
        xlo = fmin(xlo, x);
        xhi = fmax(xhi, x);
        ylo = fmin(ylo, y);
        yhi = fmax(yhi, y);
    }
    axis_fit(&L->ax, xlo, xhi, 7);
    axis_fit(&L->ay, ylo, yhi, 7);
    if (s->labels && s->n) {
        L->distinct = malloc(s->n * sizeof(int32_t));
        if (!L->distinct)
            return false;
        memcpy(L->distinct, s->labels, s->n * sizeof(int32_t));
        qsort(L->distinct, s->n, sizeof(int32_t), cmp_i32);
        size_t k = 0;
        for (size_t i = 0; i < s->n; i++)
            if (k == 0 || L->distinct[k - 1] != L->distinct[i])
                L->distinct[k++] = L->distinct[i];
        L->n_distinct = k;
        L->legend_rows = k <= SC_LEGEND_MAX ? k : SC_LEGEND_MAX;
    }
    return true;
}

/* Palette index of point i. */
static size_t point_color(const ae_scatter *s, const scatter_layout *L, size_t i)
{
    if (!s->labels)
        return 0;
    const int32_t *hit = bsearch(&s->labels[i], L->distinct, L->n_distinct, sizeof(int32_t),
                                 cmp_i32);
    return (size_t)(hit - L->distinct);
}

#define SC_NAME_MAX 16 /* bytes of a class name the legend shows (then "...") */

/* Legend row r: its text and colour (the last row of a long legend is "...");
 * a class's name, cut to SC_NAME_MAX bytes at a character boundary. */
static void legend_row(const ae_scatter *s, const scatter_layout *L, size_t r, char *text,
                       size_t n, size_t *color, bool *is_more)
{
    *is_more = L->n_distinct > SC_LEGEND_MAX && r == L->legend_rows - 1;
    *color = r;
    int32_t y = L->distinct[r];
    if (*is_more) {
        snprintf(text, n, "+%zu more", L->n_distinct - r);
    } else if (y >= 0 && (size_t)y < s->n_label_names) {
        const char *name = s->label_names[y];
        size_t len = strlen(name);
        if (len <= SC_NAME_MAX) {
            snprintf(text, n, "%s", name);
        } else {
            len = SC_NAME_MAX;
            while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
                len--; /* not inside a UTF-8 character */
            snprintf(text, n, "%.*s...", (int)len, name);
        }
    } else {
        snprintf(text, n, "%d", (int)y);
    }
}

static bool point_visible(const ae_scatter *s, size_t i)
{
    return isfinite(s->xy[2 * i]) && isfinite(s->xy[2 * i + 1]);
}

char *ae_plot_scatter_svg(const ae_scatter *s)
{
    scatter_layout L;
    if (!layout_scatter(s, &L))
        return NULL;
    ae_sb b = {0};
    svg_open(&b, SC_W, SC_H);
    ae_sb_printf(&b, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"17\" "
                     "font-weight=\"bold\" fill=\"" INK "\">", (SC_X0 + SC_X1) / 2);
    ae_sb_escape(&b, s->title ? s->title : "");
    ae_sb_puts(&b, "</text>\n");
    if (s->subtitle) {
        ae_sb_printf(&b, "<text x=\"%d\" y=\"50\" text-anchor=\"middle\" font-size=\"13\" "
                         "fill=\"#444444\">", (SC_X0 + SC_X1) / 2);
        ae_sb_escape(&b, s->subtitle);
        ae_sb_puts(&b, "</text>\n");
    }
    svg_axes(&b, &L.ax, &L.ay, SC_X0, SC_X1, SC_Y0, SC_Y1);
    svg_axis_labels(&b, s->xlabel, s->ylabel, SC_X0, SC_X1, SC_Y0, SC_Y1, 22);
    ae_sb_puts(&b, "<g fill-opacity=\"0.6\">\n");
    for (size_t i = 0; i < s->n; i++) {
        if (!point_visible(s, i))
            continue;
        ae_sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>\n",
                     axis_map(&L.ax, s->xy[2 * i], SC_X0, SC_X1),
                     axis_map(&L.ay, s->xy[2 * i + 1], SC_Y1, SC_Y0),
                     ae_plot_color(point_color(s, &L, i)));
    }
    ae_sb_puts(&b, "</g>\n");
    if (L.legend_rows) {
        double lx = SC_X1 + 24, ly = SC_Y0;
        ae_sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\" "
                         "fill=\"" INK "\">label</text>\n", lx, ly + 4);
        for (size_t r = 0; r < L.legend_rows; r++) {
            char text[48];
            size_t c;
            bool more;
            legend_row(s, &L, r, text, sizeof text, &c, &more);
            double y = ly + 24 + 20.0 * (double)r;
            if (!more)
                ae_sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\"/>\n",
                             lx + 6, y - 4, ae_plot_color(c));
            ae_sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"" INK "\">",
                         lx + 18, y);
            ae_sb_escape(&b, text);
            ae_sb_puts(&b, "</text>\n");
        }
        if (L.n_distinct > AE_PLOT_COLORS)
            ae_sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#444444\">"
                             "colours repeat</text>\n", lx, ly + 24 + 20.0 * (double)L.legend_rows);
    }
    free(L.distinct);
    return svg_document(&b);
}

/* ---- the rasteriser: an RGB canvas, discs, lines and a 5x8 bitmap font ---- */

/* ASCII 32..126, five columns each, bit 0 the top row (the classic 5x7 LCD
 * font, with descenders in row 7). */
static const uint8_t font5x8[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x56, 0x20, 0x50}, {0x00, 0x00, 0x07, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x14, 0x08, 0x3E, 0x08, 0x14}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x80, 0x60, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x18, 0xA4, 0xA4, 0xA4, 0x7C},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x40, 0x80, 0x84, 0x7D, 0x00},
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0xFC, 0x24, 0x24, 0x24, 0x18},
    {0x18, 0x24, 0x24, 0x24, 0xFC}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x1C, 0xA0, 0xA0, 0xA0, 0x7C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08}};

typedef struct {
    uint8_t *px; /* [h x w x 3] */
    long w, h;
} canvas;

static const uint8_t ink[3] = {0x22, 0x22, 0x22};

/* Blends rgb over pixel (x, y) with opacity a in [0, 1]. */
static void blend(canvas *c, long x, long y, const uint8_t rgb[3], double a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0.0)
        return;
    uint8_t *p = c->px + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)lround((double)p[k] + a * ((double)rgb[k] - (double)p[k]));
}

static void fill_rect(canvas *c, long x, long y, long w, long h, const uint8_t rgb[3])
{
    for (long j = y; j < y + h; j++)
        for (long i = x; i < x + w; i++)
            blend(c, i, j, rgb, 1.0);
}

/* A disc with an anti-aliased edge: coverage falls from 1 to 0 over the
 * pixel that the circle's edge crosses. */
static void disc(canvas *c, double cx, double cy, double r, const uint8_t rgb[3], double alpha)
{
    for (long y = (long)floor(cy - r - 1); y <= (long)ceil(cy + r + 1); y++)
        for (long x = (long)floor(cx - r - 1); x <= (long)ceil(cx + r + 1); x++) {
            double d = hypot((double)x + 0.5 - cx, (double)y + 0.5 - cy);
            double cover = fmin(1.0, fmax(0.0, r + 0.5 - d));
            blend(c, x, y, rgb, alpha * cover);
        }
}

/* Text at a whole-pixel scale; anchor 0 left, 1 centre, 2 right of x; y is
 * the top of the capitals.  up: turned 90 degrees to read upwards, centred
 * on (x, y). */
static void text(canvas *c, long x, long y, const char *s, int scale, int anchor, bool up,
                 const uint8_t rgb[3])
{
    long width = (long)strlen(s) * 6 * scale - scale;
    long start = anchor == 0 ? 0 : anchor == 1 ? -width / 2 : -width;
    for (size_t k = 0; s[k]; k++) {
        unsigned char ch = (unsigned char)s[k];
        const uint8_t *g = font5x8[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
        for (int col = 0; col < 5; col++)
            for (int row = 0; row < 8; row++) {
                if (!(g[col] >> row & 1))
                    continue;
                long u = start + ((long)k * 6 + col) * scale, v = (long)row * scale;
                for (int a = 0; a < scale; a++)
                    for (int b = 0; b < scale; b++) {
                        if (up) /* u runs up the page from (x, y + width/2) */
                            blend(c, x - 4 * scale + v + b, y - u - a, rgb, 1.0);
                        else
                            blend(c, x + u + a, y + v + b, rgb, 1.0);
                    }
            }
    }
}

static void raster_axes(canvas *c, const axis *ax, const axis *ay, long x0, long x1, long y0,
                        long y1)
{
    static const uint8_t grid[3] = {0xe6, 0xe6, 0xe6}, frame[3] = {0x55, 0x55, 0x55};
    char t[64];
    for (size_t i = 0; i < ay->n_ticks; i++) {
        long y = lround(axis_map(ay, ay->tick[i], (double)y1, (double)y0));
        fill_rect(c, x0, y, x1 - x0, 1, grid);
        format_tick(t, sizeof t, ay->tick[i], ay->step);
        text(c, x0 - 6, y - 3, t, 1, 2, false, ink);
    }
    for (size_t i = 0; i < ax->n_ticks; i++) {
        long x = lround(axis_map(ax, ax->tick[i], (double)x0, (double)x1));
        fill_rect(c, x, y0, 1, y1 - y0, grid);
        format_tick(t, sizeof t, ax->tick[i], ax->step);
        text(c, x, y1 + 7, t, 1, 1, false, ink);
    }
    fill_rect(c, x0, y0, x1 - x0 + 1, 1, frame);
    fill_rect(c, x0, y1, x1 - x0 + 1, 1, frame);
    fill_rect(c, x0, y0, 1, y1 - y0 + 1, frame);
    fill_rect(c, x1, y0, 1, y1 - y0 + 1, frame);
}

ae_status ae_plot_scatter_rgb(const ae_scatter *s, uint8_t **rgb, size_t *w, size_t *h,
                              ae_error *err)
{
    scatter_layout L;
    canvas c = {malloc((size_t)SC_W * SC_H * 3), SC_W, SC_H};
    if (!c.px || !layout_scatter(s, &L)) {
        free(c.px);
        ae_error_set(err, "scatter plot: out of memory");
        return AE_ERR_NOMEM;
    }
    memset(c.px, 255, (size_t)SC_W * SC_H * 3);
    text(&c, (SC_X0 + SC_X1) / 2, 14, s->title ? s->title : "", 2, 1, false, ink);
    if (s->subtitle)
        text(&c, (SC_X0 + SC_X1) / 2, 42, s->subtitle, 1, 1, false, ink);
    raster_axes(&c, &L.ax, &L.ay, SC_X0, SC_X1, SC_Y0, SC_Y1);
    text(&c, (SC_X0 + SC_X1) / 2, SC_Y1 + 28, s->xlabel ? s->xlabel : "", 1, 1, false, ink);
    text(&c, 18, (SC_Y0 + SC_Y1) / 2, s->ylabel ? s->ylabel : "", 1, 1, true, ink);
    for (size_t i = 0; i < s->n; i++) {
        if (!point_visible(s, i))
            continue;
        uint8_t col[3];
        color_rgb(point_color(s, &L, i), col);
        disc(&c, axis_map(&L.ax, s->xy[2 * i], SC_X0, SC_X1),
             axis_map(&L.ay, s->xy[2 * i + 1], SC_Y1, SC_Y0), 2.2, col, 0.6);
    }
    if (L.legend_rows) {
        long lx = SC_X1 + 24, ly = SC_Y0;
        text(&c, lx, ly - 4, "label", 2, 0, false, ink);
        for (size_t r = 0; r < L.legend_rows; r++) {
            char t[48];
            size_t ci;
            bool more;
            legend_row(s, &L, r, t, sizeof t, &ci, &more);
            long y = ly + 24 + 20 * (long)r;
            if (!more) {
                uint8_t col[3];
                color_rgb(ci, col);
                disc(&c, (double)lx + 6, (double)y - 4, 6, col, 1.0);
            }
            /* the 5x8 font doubled fits 9 characters beside the plot */
            if (strlen(t) <= 9)
                text(&c, lx + 18, y - 11, t, 2, 0, false, ink);
            else
                text(&c, lx + 18, y - 7, t, 1, 0, false, ink);
        }
        if (L.n_distinct > AE_PLOT_COLORS)
            text(&c, lx, ly + 18 + 20 * (long)L.legend_rows, "colours repeat", 1, 0, false, ink);
    }
    free(L.distinct);
    *rgb = c.px;
    *w = SC_W;
    *h = SC_H;
    return AE_OK;
}

bool ae_plot_has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), k = strlen(ext);
    if (n <= k)
        return false;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)path[n - k + i]) != tolower((unsigned char)ext[i]))
            return false;
    return true;
}

ae_status ae_plot_scatter_write(const char *path, const ae_scatter *s, ae_error *err)
{
    if (ae_plot_has_ext(path, ".svg")) {
        char *svg = ae_plot_scatter_svg(s);
        ae_status st = write_text(path, svg, err);
        free(svg);
        return st;
    }
    if (ae_plot_has_ext(path, ".png")) {
        uint8_t *px = NULL;
        size_t w, h;
        ae_status st = ae_plot_scatter_rgb(s, &px, &w, &h, err);
        if (st == AE_OK)
            st = ae_png_write(path, px, w, h, 3, err);
        free(px);
        return st;
    }
    ae_error_set(err, "%s: a plot is written as .svg or .png; the name says neither", path);
    return AE_ERR_USAGE;
}

ae_status ae_plot_codes(const char *path, const float *codes, size_t n, size_t L,
                        const int32_t *labels, const char *const *label_names,
                        size_t n_label_names, const char *what, ae_error *err)
{
    if (n == 0 || L == 0) {
        ae_error_set(err, "%s: no codes to plot (%zu examples of %zu dimensions)", path, n, L);
        return AE_ERR_USAGE;
    }
    float *xy = malloc(2 * n * sizeof(float)); /* [n x 2] */
    if (!xy) {
        ae_error_set(err, "%s: out of memory for %zu points", path, n);
        return AE_ERR_NOMEM;
    }
    char title[256], subtitle[256], xl[64] = "z0", yl[64] = "z1";
    snprintf(title, sizeof title, "Latent codes of %s", what);
    const char *colour = labels ? ", coloured by label" : "";
    snprintf(subtitle, sizeof subtitle, "%zu examples%s", n, colour);
    ae_status st = AE_OK;
    if (L == 1) {
        for (size_t i = 0; i < n; i++) {
            xy[2 * i] = codes[i];
            xy[2 * i + 1] = (float)i;
        }
        snprintf(yl, sizeof yl, "example index");
    } else if (L == 2 || n < 3) {
        for (size_t i = 0; i < n; i++) {
            xy[2 * i] = codes[i * L];
            xy[2 * i + 1] = codes[i * L + 1];
        }
        if (L > 2)
            snprintf(subtitle, sizeof subtitle, "%zu examples%s; dimensions z0 and z1 of %zu",
                     n, colour, L);
    } else {
        /* The plane of largest variance shows the most of the codes' spread
         * that any linear view can. */
        ae_pca p;
        st = ae_pca_fit_matrix(&p, codes, n, L, 2, err);
        if (st == AE_OK) {
            ae_pca_project(&p, codes, n, xy);
            double tv = p.total_variance > 0 ? p.total_variance : 1.0;
            snprintf(xl, sizeof xl, "PC1 (%.0f%% of variance)", 100.0 * p.variance[0] / tv);
            snprintf(yl, sizeof yl, "PC2 (%.0f%% of variance)", 100.0 * p.variance[1] / tv);
            snprintf(subtitle, sizeof subtitle,
                     "%zu examples%s; %zu-d codes projected on their first two principal "
                     "components", n, colour, L);
            ae_pca_free(&p);
        }
    }
    if (st == AE_OK) {
        ae_scatter s = {xy, labels, n, title, subtitle, xl, yl, label_names, n_label_names};
        st = ae_plot_scatter_write(path, &s, err);
    }
    free(xy);
    return st;
}
