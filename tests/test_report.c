#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ae/config.h"
#include "ae/fileio.h"
#include "ae/image.h"
#include "ae/report.h"
#include "testutil.h"

static char tmpdir[256];

static void setup(void)
{
    tu_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/ae_report_XXXXXX");
}

static void teardown(void)
{
    tu_remove_tree(tmpdir);
}

static char *in_dir(const char *name)
{
    char *p = ae_path_join(tmpdir, name);
    ck_assert_ptr_nonnull(p);
    return p;
}

static char *slurp(const char *p, size_t *size)
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
    if (size)
        *size = (size_t)n;
    return b;
}

static void spit(const char *name, const char *text)
{
    char *p = in_dir(name);
    ae_error err;
    ck_assert_int_eq(ae_write_file_atomic(p, text, strlen(text), &err), AE_OK);
    free(p);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* RFC 4648 section 10 test vectors, and bytes that use '+' and '/'. */
START_TEST(test_base64_rfc4648)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *b = ae_base64_encode(in[i], strlen(in[i]));
        ck_assert_ptr_nonnull(b);
        ck_assert_str_eq(b, out[i]);
        free(b);
    }
    const unsigned char bin[] = {0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83};
    char *b = ae_base64_encode(bin, sizeof bin);
    ck_assert_str_eq(b, "+/+/ABCD");
    free(b);
}
END_TEST

static const char *METRICS =
    "epoch,train_loss,train_recon,train_kl,val_loss,val_recon,val_kl,test_loss,test_recon,"
    "test_kl,test_loss_mu,train_reg,test_reg,train_kl_z2,test_kl_z2,beta,seconds,"
    "examples_per_sec\n"
    "1,200.5,190.5,10.0,,,,180.25,171.0,9.25,179.0,0.000000,0.000000,0.000000,0.000000,1,1.5,2000\n"
    "2,170.5,160.0,10.5,,,,165.75,155.5,10.25,164.0,0.000000,0.000000,0.000000,0.000000,1,1.5,2100\n"
    "3,160.0,149.0,11.0,,,,166.0,155.0,11.0,165.5,0.000000,0.000000,0.000000,0.000000,1,1.0,2200\n";

START_TEST(test_loss_chart)
{
    char *path = in_dir("loss.svg");
    ae_error err;
    ck_assert_int_eq(ae_report_loss_chart(METRICS, path, &err), AE_OK);
    char *svg = slurp(path, NULL);
    /* two panels: loss and KL, train and test each (no validation column) */
    ck_assert_ptr_nonnull(strstr(svg, "width=\"960\""));
    ck_assert_ptr_nonnull(strstr(svg, ">Loss</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">KL term</text>"));
    ck_assert_uint_eq(count(svg, "<path "), 4);
    ck_assert_uint_eq(count(svg, ">train</text>"), 2);
    ck_assert_uint_eq(count(svg, ">test</text>"), 2);
    ck_assert_ptr_null(strstr(svg, ">validation</text>"));
    ck_assert_uint_eq(count(svg, ">epoch</text>"), 2);
    ck_assert_uint_eq(count(svg, ">nats per example</text>"), 2);
    free(svg);

    /* an autoencoder without a penalty: one panel */
    const char *ae =
        "epoch,train_loss,train_recon,train_kl,val_loss,val_recon,val_kl,test_loss\n"
        "1,50,50,0,,,,49\n2,40,40,0,,,,41\n";
    ck_assert_int_eq(ae_report_loss_chart(ae, path, &err), AE_OK);
    svg = slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(svg, "width=\"480\""));
    ck_assert_ptr_null(strstr(svg, "KL term"));
    ck_assert_uint_eq(count(svg, "<path "), 2);
    free(svg);

    /* a penalty gets the second panel */
    const char *pen = "epoch,train_loss,train_kl,train_reg,test_reg\n1,50,0,2.5,2.4\n";
    ck_assert_int_eq(ae_report_loss_chart(pen, path, &err), AE_OK);
    svg = slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(svg, "Penalty"));
    free(svg);

    ck_assert_int_eq(ae_report_loss_chart("loss,x\n1,2\n", path, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "epoch"));
    ck_assert_int_eq(ae_report_loss_chart("epoch,train_loss\n", path, &err), AE_ERR_INPUT);
    free(path);
}
END_TEST

START_TEST(test_report_page)
{
    ae_config cfg;
    ae_config_defaults(&cfg);
    snprintf(cfg.data.train, sizeof cfg.data.train, "data/<train>.idx");
    spit("metrics.csv", METRICS);
    spit("loss.svg", "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                     "width=\"10\" height=\"10\"><rect id=\"lossmark\"/></svg>\n");
    uint8_t pix[12] = {0, 64, 128, 255, 0, 64, 128, 255, 0, 64, 128, 255};
    char *png = in_dir("recon.png");
    ae_error err;
    ck_assert_int_eq(ae_png_write(png, pix, 4, 3, 1, &err), AE_OK);
    size_t n;
    char *bytes = slurp(png, &n);
    char *b64 = ae_base64_encode(bytes, n);

    ck_assert_int_eq(ae_report_write(&cfg, tmpdir, &err), AE_OK);
    char *out = in_dir("report.html");
    char *html = slurp(out, NULL);
    ck_assert(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    ck_assert_ptr_nonnull(strstr(html, "</html>"));
    /* the PNG embedded byte for byte, shown at twice its size */
    ck_assert_ptr_nonnull(strstr(html, b64));
    ck_assert_ptr_nonnull(strstr(html, "src=\"data:image/png;base64,"));
    ck_assert_ptr_nonnull(strstr(html, "width=\"8\" height=\"6\""));
    /* the SVG inlined without its prolog and namespace: no URL anywhere */
    ck_assert_ptr_nonnull(strstr(html, "<svg width=\"10\" height=\"10\"><rect id=\"lossmark\"/>"));
    ck_assert_ptr_null(strstr(html, "<?xml"));
    ck_assert_ptr_null(strstr(html, "http"));
    /* absent pictures are explained, not broken images */
    ck_assert_uint_eq(count(html, "<img "), 1);
    ck_assert_ptr_nonnull(strstr(html, "No latents.svg"));
    /* the final row and the best test loss (epoch 2) */
    ck_assert_ptr_nonnull(strstr(html, "<th>epoch 3</th>"));
    ck_assert_ptr_nonnull(strstr(html, "<td>160.0000</td>"));
    ck_assert_ptr_nonnull(strstr(html, "<b>165.7500</b> at epoch 2"));
    ck_assert_ptr_nonnull(strstr(html, "4.0 s over 3 epochs"));
    /* the spec, escaped */
    ck_assert_ptr_nonnull(strstr(html, "data/&lt;train&gt;.idx"));
    ck_assert_ptr_null(strstr(html, "<train>"));
    ck_assert_ptr_nonnull(strstr(html, "&quot;latent&quot;"));
    free(html);

    /* without metrics.csv there is no report */
    char *m = in_dir("metrics.csv");
    ck_assert_int_eq(remove(m), 0);
    ck_assert_int_eq(ae_report_write(&cfg, tmpdir, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "metrics.csv"));
    free(m);
    free(out);
    free(b64);
    free(bytes);
    free(png);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_base64_rfc4648);
    tcase_add_test(tc, test_loss_chart);
    tcase_add_test(tc, test_report_page);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
