/* Plots: SVG line charts of named series (loss curves over epochs) and
 * scatter plots of points coloured by an integer label (latent codes), the
 * scatter also as PNG through a small rasteriser.  Axes sit on "nice" ticks
 * (1, 2 or 5 x 10^k); text is escaped for XML; files are written atomically.
 *
 * The _svg functions return malloc'ed text the caller frees (NULL when out
 * of memory); the library keeps no pointer to the arrays it is given. */
#ifndef AE_PLOT_H
#define AE_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ae/status.h"

/* The colours of series and labels, "#rrggbb": the 10 of matplotlib's tab10,
 * then their 10 lighter twins; index i uses colour i mod AE_PLOT_COLORS. */
#define AE_PLOT_COLORS 20
const char *ae_plot_color(size_t i);

/* Up to max ticks covering [lo, hi] with a step of 1, 2 or 5 x 10^k chosen so
 * that about `target` ticks fall inside; the first tick is the largest
 * multiple of the step <= lo, the last the smallest >= hi.  Returns the count
 * (0 when lo or hi is not finite, lo > hi or max < 2); *step gets the step.
 * lo == hi is widened to a unit-sized range around it. */
size_t ae_plot_ticks(double lo, double hi, size_t target, double *ticks, size_t max,
                     double *step);

typedef struct {
    const char *name;     /* legend text */
    const double *y;      /* [n] values; NaN leaves a gap in the line */
    size_t color;         /* palette index (ae_plot_color) */
    bool dashed;
} ae_plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    const double *x;      /* [n] increasing */
    size_t n;
    const ae_plot_series *series;
    size_t n_series;
    bool integer_x;       /* x ticks on whole numbers only (epochs) */
} ae_line_panel;

/* One SVG with the panels side by side (480 x 320 pixels each): lines with a
 * marker at every point, a legend, gridlines, ticks and axis labels. */
char *ae_plot_lines_svg(const ae_line_panel *panels, size_t n_panels);
ae_status ae_plot_lines_write(const char *path, const ae_line_panel *panels, size_t n_panels,
                              ae_error *err);

typedef struct {
    const float *xy;          /* [n x 2] point coordinates */
    const int32_t *labels;    /* [n] class of each point, or NULL: one colour, no legend */
    size_t n;
    const char *title;
    const char *subtitle;     /* a second, smaller line, or NULL */
    const char *xlabel, *ylabel;
    /* label k's name in the legend when k < n_label_names (else the number) */
    const char *const *label_names;
    size_t n_label_names;
} ae_scatter;

/* 760 x 620 pixels: the points (in the order given, so no class hides the
 * others wholesale) and, with labels, a legend of the distinct labels in
 * increasing order, each with its colour (labels beyond AE_PLOT_COLORS
 * distinct values reuse colours, and the legend says so). */
char *ae_plot_scatter_svg(const ae_scatter *s);

/* The same picture rasterised: *rgb is malloc'ed [*h x *w x 3]. */
ae_status ae_plot_scatter_rgb(const ae_scatter *s, uint8_t **rgb, size_t *w, size_t *h,
                              ae_error *err);

/* Writes SVG or PNG as the name ends in .svg or .png (AE_ERR_USAGE otherwise). */
ae_status ae_plot_scatter_write(const char *path, const ae_scatter *s, ae_error *err);

/* A scatter of latent codes [n x L] titled "Latent codes of <what>" (what:
 * "the test set", a file name): for
 * L = 2 the codes themselves, for L = 1 the code against the example index,
 * for L > 2 their projection on the first two principal components (the
 * subtitle says so, with the share of variance each explains).  labels [n]
 * or NULL; label_names[0..n_label_names) name them in the legend (NULL, 0:
 * the numbers).  Written by ae_plot_scatter_write's rule. */
ae_status ae_plot_codes(const char *path, const float *codes, size_t n, size_t L,
                        const int32_t *labels, const char *const *label_names,
                        size_t n_label_names, const char *what, ae_error *err);

/* Whether a file name ends in ext (".svg", ".png"), ignoring case. */
bool ae_plot_has_ext(const char *path, const char *ext);

#endif
