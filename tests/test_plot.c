#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ae/image.h"
#include "ae/plot.h"
#include "testutil.h"

static char tmpdir[256];

static void setup(void)
{
    tu_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/ae_plot_XXXXXX");
}

static void teardown(void)
{
    tu_remove_tree(tmpdir);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char *slurp(const char *p)
{
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = '\0';
    fclose(fp);
    return b;
}

START_TEST(test_ticks)
{
    double t[16], step;
    size_t n = ae_plot_ticks(0.0, 1.0, 6, t, 16, &step);
    ck_assert_uint_eq(n, 6);
    ck_assert_double_eq_tol(step, 0.2, 1e-12);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(t[i], 0.2 * (double)i, 1e-12);
    /* loss-like values: step 20, bounds outside the data */
    n = ae_plot_ticks(183.2, 274.9, 6, t, 16, &step);
    ck_assert_double_eq(step, 20.0);
    ck_assert_double_eq(t[0], 180.0);
    ck_assert_double_eq(t[n - 1], 280.0);
    /* negative ranges and no "-0" */
    n = ae_plot_ticks(-4.3, 2.6, 7, t, 16, &step);
    ck_assert_double_eq(step, 1.0);
    ck_assert_double_eq(t[0], -5.0);
    ck_assert_double_eq(t[n - 1], 3.0);
    ck_assert(!signbit(t[5]) && t[5] == 0.0);
    /* a single value is widened around itself */
    n = ae_plot_ticks(150.0, 150.0, 5, t, 16, &step);
    ck_assert_uint_ge(n, 2);
    ck_assert(t[0] < 150.0 && t[n - 1] > 150.0);
    n = ae_plot_ticks(0.0, 0.0, 5, t, 16, &step);
    ck_assert(n >= 2 && t[0] < 0.0 && t[n - 1] > 0.0);
    /* max bounds the count by a larger step */
    n = ae_plot_ticks(0.0, 100.0, 50, t, 4, &step);
    ck_assert_uint_le(n, 4);
    ck_assert(t[0] <= 0.0 && t[n - 1] >= 100.0);
    /* bad input */
    ck_assert_uint_eq(ae_plot_ticks(1.0, 0.0, 5, t, 16, &step), 0);
    ck_assert_uint_eq(ae_plot_ticks(NAN, 1.0, 5, t, 16, &step), 0);
    ck_assert_uint_eq(ae_plot_ticks(0.0, INFINITY, 5, t, 16, &step), 0);
}
END_TEST

START_TEST(test_palette)
{
    ck_assert_str_eq(ae_plot_color(0), "#1f77b4");
    ck_assert_str_eq(ae_plot_color(AE_PLOT_COLORS), "#1f77b4");
    for (size_t i = 0; i < AE_PLOT_COLORS; i++)
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(ae_plot_color(i), ae_plot_color(j));
}
END_TEST

START_TEST(test_lines_svg)
{
    double x[4] = {1, 2, 3, 4}, a[4] = {3.0, 2.0, 1.5, 1.2}, b[4] = {3.5, NAN, 2.0, 1.9};
    ae_plot_series s[2] = {{"train", a, 0, false}, {"test <b> & \"c\"", b, 1, true}};
    ae_line_panel p[2] = {{"Loss <1>", "epoch", "nats", x, 4, s, 2, true},
                          {"Second", "epoch", "nats", x, 4, s, 1, true}};
    char *svg = ae_plot_lines_svg(p, 2);
    ck_assert_ptr_nonnull(svg);
    ck_assert(strncmp(svg, "<svg ", 5) == 0);
    ck_assert_ptr_nonnull(strstr(svg, "width=\"960\""));
    ck_assert_ptr_nonnull(strstr(svg, "</svg>\n"));
    /* text is escaped */
    ck_assert_ptr_nonnull(strstr(svg, ">Loss &lt;1&gt;</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">test &lt;b&gt; &amp; &quot;c&quot;</text>"));
    ck_assert_ptr_null(strstr(svg, "<b>"));
    /* three lines; a marker per finite point (4 + 3 + 4) */
    ck_assert_uint_eq(count(svg, "<path "), 3);
    ck_assert_uint_eq(count(svg, "r=\"3\""), 11);
    /* the NaN breaks the test line into two pieces: M, then M L L */
    const char *dashed = strstr(svg, "stroke-dasharray=\"6 4\" d=\"");
    ck_assert_ptr_nonnull(dashed);
    const char *end = strchr(dashed + 26, '"');
    size_t moves = 0;
    for (const char *q = dashed + 26; q < end; q++)
        moves += *q == 'M';
    ck_assert_uint_eq(moves, 2);
    /* integer x ticks: 1 2 3 4, no fractional epochs */
    ck_assert_ptr_nonnull(strstr(svg, "text-anchor=\"middle\">3</text>"));
    ck_assert_ptr_null(strstr(svg, "text-anchor=\"middle\">2.5</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">epoch</text>"));
    free(svg);
}
END_TEST

START_TEST(test_lines_write)
{
    double x[1] = {1}, a[1] = {NAN};
    ae_plot_series s = {"train", a, 0, false};
    ae_line_panel p = {"Loss", "epoch", "nats", x, 1, &s, 1, true};
    char path[512];
    snprintf(path, sizeof path, "%s/loss.svg", tmpdir);
    ae_error err;
    ck_assert_int_eq(ae_plot_lines_write(path, &p, 1, &err), AE_OK);
    char *svg = slurp(path);
    ck_assert_ptr_nonnull(strstr(svg, "no values yet"));
    free(svg);
    snprintf(path, sizeof path, "%s/no/such/dir/loss.svg", tmpdir);
    ck_assert_int_ne(ae_plot_lines_write(path, &p, 1, &err), AE_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "loss.svg"));
}
END_TEST

START_TEST(test_scatter_svg)
{
    float xy[8] = {0, 0, 1, 1, 2, 0.5f, NAN, 1};
    int32_t lab[4] = {7, 3, 7, 3};
    ae_scatter s = {xy, lab, 4, "Codes & more", "sub<title>", "z0", "z1", NULL, 0};
    char *svg = ae_plot_scatter_svg(&s);
    ck_assert_ptr_nonnull(svg);
    /* 3 finite points (r=2.2) and two legend discs (r=6), labels in order */
    ck_assert_uint_eq(count(svg, "r=\"2.2\""), 3);
    ck_assert_uint_eq(count(svg, "r=\"6\""), 2);
    const char *l3 = strstr(svg, ">3</text>"), *l7 = strstr(svg, ">7</text>");
    ck_assert(l3 && l7 && l3 < l7);
    /* label 3 takes the first colour, 7 the second */
    ck_assert_uint_eq(count(svg, "fill=\"#1f77b4\""), 1 + 1);
    ck_assert_uint_eq(count(svg, "fill=\"#ff7f0e\""), 2 + 1);
    ck_assert_ptr_nonnull(strstr(svg, ">Codes &amp; more</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">sub&lt;title&gt;</text>"));
    ck_assert_ptr_null(strstr(svg, "colours repeat"));
    free(svg);

    /* without labels: one colour, no legend */
    s.labels = NULL;
    s.subtitle = NULL;
    svg = ae_plot_scatter_svg(&s);
    ck_assert_uint_eq(count(svg, "r=\"6\""), 0);
    ck_assert_uint_eq(count(svg, "fill=\"#1f77b4\""), 3);
    ck_assert_ptr_null(strstr(svg, ">label</text>"));
    free(svg);
}
END_TEST

/* Class names in the legend: escaped, long ones cut at a character
 * boundary, a label past the names shown as its number; the PNG draws. */
START_TEST(test_scatter_names)
{
    float xy[8] = {0, 0, 1, 1, 2, 0.5f, 3, 1};
    int32_t lab[4] = {2, 0, 1, 3};
    /* 15 ASCII bytes then a 2-byte character across the 16-byte cut */
    const char *const names[3] = {"cats & <dogs>", "normal", "abcdefghijklmno\xc3\xa9xyz"};
    ae_scatter s = {xy, lab, 4, "t", NULL, "x", "y", names, 3};
    char *svg = ae_plot_scatter_svg(&s);
    ck_assert_ptr_nonnull(svg);
    const char *a = strstr(svg, ">cats &amp; &lt;dogs&gt;</text>"), *b = strstr(svg, ">normal</text>"),
               *c = strstr(svg, ">abcdefghijklmno...</text>"), *d = strstr(svg, ">3</text>");
    ck_assert_msg(a && b && c && d && a < b && b < c && c < d, "%s", svg);
    free(svg);
    uint8_t *rgb = NULL;
    size_t w, h;
    ae_error err = {{0}};
    ck_assert_int_eq(ae_plot_scatter_rgb(&s, &rgb, &w, &h, &err), AE_OK);
    free(rgb);
}
END_TEST

START_TEST(test_scatter_many_labels)
{
    enum { N = 30 };
    float xy[2 * N];
    int32_t lab[N];
    for (int i = 0; i < N; i++) {
        xy[2 * i] = (float)i;
        xy[2 * i + 1] = (float)(i % 7);
        lab[i] = 100 - i; /* 30 distinct labels */
    }
    ae_scatter s = {xy, lab, N, "t", NULL, "x", "y", NULL, 0};
    char *svg = ae_plot_scatter_svg(&s);
    ck_assert_uint_eq(count(svg, "r=\"2.2\""), N);
    ck_assert_uint_eq(count(svg, "r=\"6\""), 19); /* 19 labels and "+11 more" */
    ck_assert_ptr_nonnull(strstr(svg, ">+11 more</text>"));
    ck_assert_ptr_nonnull(strstr(svg, "colours repeat"));
    ck_assert_ptr_nonnull(strstr(svg, ">71</text>")); /* the smallest first */
    free(svg);
}
END_TEST

static size_t count_rgb(const uint8_t *px, size_t n, int r, int g, int b, int tol)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += abs(px[3 * i] - r) <= tol && abs(px[3 * i + 1] - g) <= tol &&
             abs(px[3 * i + 2] - b) <= tol;
    return c;
}

START_TEST(test_scatter_raster)
{
    float xy[6] = {-1, -1, 1, 1, 0, 0.5f};
    int32_t lab[3] = {0, 1, 1};
    ae_scatter s = {xy, lab, 3, "Title", "Subtitle", "z0", "z1", NULL, 0};
    uint8_t *px;
    size_t w, h;
    ae_error err;
    ck_assert_int_eq(ae_plot_scatter_rgb(&s, &px, &w, &h, &err), AE_OK);
    ck_assert_uint_eq(w, 760);
    ck_assert_uint_eq(h, 620);
    /* white background */
    ck_assert(px[0] == 255 && px[1] == 255 && px[2] == 255);
    size_t last = 3 * (w * h - 1);
    ck_assert(px[last] == 255 && px[last + 1] == 255 && px[last + 2] == 255);
    /* legend discs in the exact palette colours, points blended at 60% over
     * white (31,119,180) -> (121,173,210); no third class colour */
    ck_assert_uint_gt(count_rgb(px, w * h, 31, 119, 180, 0), 50);
    ck_assert_uint_gt(count_rgb(px, w * h, 255, 127, 14, 0), 50);
    ck_assert_uint_ge(count_rgb(px, w * h, 121, 173, 210, 2), 4);
    ck_assert_uint_eq(count_rgb(px, w * h, 44, 160, 44, 30), 0);
    /* text drawn in ink */
    ck_assert_uint_gt(count_rgb(px, w * h, 0x22, 0x22, 0x22, 0), 200);
    free(px);
}
END_TEST

START_TEST(test_scatter_write)
{
    float xy[4] = {0, 0, 1, 1};
    ae_scatter s = {xy, NULL, 2, "t", NULL, "x", "y", NULL, 0};
    char path[512];
    ae_error err;
    snprintf(path, sizeof path, "%s/plot.PNG", tmpdir);
    ck_assert_int_eq(ae_plot_scatter_write(path, &s, &err), AE_OK);
    uint8_t *px;
    size_t w, h;
    int ch;
    ck_assert_int_eq(ae_png_read(path, &px, &w, &h, &ch, &err), AE_OK);
    ck_assert(w == 760 && h == 620 && ch == 3);
    free(px);
    snprintf(path, sizeof path, "%s/plot.svg", tmpdir);
    ck_assert_int_eq(ae_plot_scatter_write(path, &s, &err), AE_OK);
    char *svg = slurp(path);
    ck_assert(strncmp(svg, "<svg ", 5) == 0);
    free(svg);
    snprintf(path, sizeof path, "%s/plot.jpg", tmpdir);
    ck_assert_int_eq(ae_plot_scatter_write(path, &s, &err), AE_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, ".svg or .png"));
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert(ae_plot_has_ext("a.SvG", ".svg") && !ae_plot_has_ext(".svg", ".svg") &&
              !ae_plot_has_ext("svg", ".svg"));
}
END_TEST

START_TEST(test_plot_codes)
{
    enum { N = 50, L = 5 };
    float codes[N * L];
    int32_t lab[N];
    for (int i = 0; i < N; i++) {
        lab[i] = i % 3;
        for (int j = 0; j < L; j++) /* mostly along one direction */
            codes[i * L + j] = (float)((j + 1) * (i - 25)) + 0.1f * (float)((i * 7 + j * 3) % 5);
    }
    char path[512];
    ae_error err;
    snprintf(path, sizeof path, "%s/codes.svg", tmpdir);
    ck_assert_int_eq(ae_plot_codes(path, codes, N, L, lab, NULL, 0, "the test set", &err), AE_OK);
    char *svg = slurp(path);
    ck_assert_ptr_nonnull(strstr(svg, ">Latent codes of the test set</text>"));
    ck_assert_ptr_nonnull(strstr(svg, "5-d codes projected on their first two principal components"));
    ck_assert_ptr_nonnull(strstr(svg, ">PC1 (100% of variance)</text>"));
    ck_assert_ptr_nonnull(strstr(svg, "50 examples, coloured by label"));
    ck_assert_uint_eq(count(svg, "r=\"2.2\""), N);
    free(svg);
    /* 2-D codes are drawn as they are */
    ck_assert_int_eq(ae_plot_codes(path, codes, N, 2, NULL, NULL, 0, "x.csv", &err), AE_OK);
    svg = slurp(path);
    ck_assert_ptr_nonnull(strstr(svg, ">z0</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">z1</text>"));
    ck_assert_ptr_null(strstr(svg, "principal"));
    free(svg);
    /* 1-D codes against the example index */
    ck_assert_int_eq(ae_plot_codes(path, codes, N, 1, NULL, NULL, 0, "x.csv", &err), AE_OK);
    svg = slurp(path);
    ck_assert_ptr_nonnull(strstr(svg, ">example index</text>"));
    free(svg);
    ck_assert_int_eq(ae_plot_codes(path, codes, 0, 2, NULL, NULL, 0, "x", &err), AE_ERR_USAGE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ticks);
    tcase_add_test(tc, test_palette);
    tcase_add_test(tc, test_lines_svg);
    tcase_add_test(tc, test_lines_write);
    tcase_add_test(tc, test_scatter_svg);
    tcase_add_test(tc, test_scatter_many_labels);
    tcase_add_test(tc, test_scatter_names);
    tcase_add_test(tc, test_scatter_raster);
    tcase_add_test(tc, test_scatter_write);
    tcase_add_test(tc, test_plot_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
