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
#include "testutil.h"

static char tmpdir[256];
static char path[512];

static void setup(void)
{
    tu_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/ae_img_XXXXXX");
    snprintf(path, sizeof path, "%s/picture.png", tmpdir);
}

static void teardown(void)
{
    tu_remove_tree(tmpdir);
}

static void spit(const char *p, const void *b, size_t n)
{
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    if (n > 0)
        ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Independent CRC-32 (bitwise, polynomial 0xedb88320) so the test does not
 * trust the code it checks. */
static uint32_t ref_crc(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return c ^ 0xffffffffu;
}

/* Deterministic pseudo-random bytes. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

static void expect_read_error(const char *needle)
{
    uint8_t *px = (uint8_t *)&px; /* sentinel: must stay */
    uint8_t *before = px;
    size_t w = 77, h = 77;
    int c = 77;
    ae_error err = {{0}};
    ae_status s = ae_png_read(path, &px, &w, &h, &c, &err);
    ck_assert_msg(s == AE_ERR_INPUT, "status %d (%s)", s, err.msg);
    ck_assert(px == before && w == 77 && h == 77 && c == 77);
    ck_assert_msg(strstr(err.msg, path) == err.msg, "message lacks the path: %s", err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message lacks \"%s\": %s", needle, err.msg);
}

static void round_trip(size_t w, size_t h, int c, const uint8_t *px)
{
    ae_error err = {{0}};
    ck_assert_msg(ae_png_write(path, px, w, h, c, &err) == AE_OK, "%s", err.msg);
    uint8_t *back = NULL;
    size_t rw, rh;
    int rc;
    ck_assert_msg(ae_png_read(path, &back, &rw, &rh, &rc, &err) == AE_OK, "%s", err.msg);
    ck_assert_uint_eq(rw, w);
    ck_assert_uint_eq(rh, h);
    ck_assert_int_eq(rc, c);
    ck_assert_int_eq(memcmp(back, px, w * h * (size_t)c), 0);
    free(back);
}

START_TEST(test_round_trip_grey_rgb)
{
    uint8_t grey[5 * 3], rgb[7 * 4 * 3];
    fill(grey, sizeof grey, 1);
    fill(rgb, sizeof rgb, 2);
    round_trip(5, 3, 1, grey);
    round_trip(7, 4, 3, rgb);
    uint8_t one = 200;
    round_trip(1, 1, 1, &one);

    /* Smooth gradients plus noise make the per-row filter choice vary, and a
     * large image spans several IDAT chunks. */
    size_t w = 300, h = 260;
    uint8_t *big = malloc(w * h * 3);
    ck_assert_ptr_nonnull(big);
    fill(big, w * h * 3, 3);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w * 3; x++)
            if (y % 3 != 0)
                big[y * w * 3 + x] = (uint8_t)(x + 2 * y + (big[y * w * 3 + x] & 3));
    round_trip(w, h, 3, big);
    free(big);
}
END_TEST

START_TEST(test_signature_and_ihdr)
{
    uint8_t rgb[6 * 2 * 3];
    fill(rgb, sizeof rgb, 4);
    ck_assert_int_eq(ae_png_write(path, rgb, 6, 2, 3, NULL), AE_OK);
    size_t n;
    unsigned char *f = tu_slurp(path, &n);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    ck_assert_uint_ge(n, 8 + 25 + 12);
    ck_assert_int_eq(memcmp(f, sig, 8), 0);
    ck_assert_uint_eq(be32(f + 8), 13);
    ck_assert_int_eq(memcmp(f + 12, "IHDR", 4), 0);
    ck_assert_uint_eq(be32(f + 16), 6); /* width */
    ck_assert_uint_eq(be32(f + 20), 2); /* height */
    ck_assert_int_eq(f[24], 8);         /* bit depth */
    ck_assert_int_eq(f[25], 2);         /* truecolour */
    ck_assert_int_eq(f[26] | f[27] | f[28], 0);
    ck_assert_uint_eq(be32(f + 29), ref_crc(f + 12, 17));
    ck_assert_int_eq(memcmp(f + 33 + 4, "IDAT", 4), 0);
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    ck_assert_int_eq(memcmp(f + n - 12, iend, 12), 0);
    /* every chunk's CRC, by the independent implementation */
    for (size_t at = 8; at < n;) {
        uint32_t len = be32(f + at);
        ck_assert_uint_le(at + 12 + len, n);
        ck_assert_uint_eq(be32(f + at + 8 + len), ref_crc(f + at + 4, 4 + len));
        at += 12 + len;
    }
    free(f);

    uint8_t grey[4] = {0, 85, 170, 255};
    ck_assert_int_eq(ae_png_write(path, grey, 4, 1, 1, NULL), AE_OK);
    f = tu_slurp(path, &n);
    ck_assert_int_eq(f[25], 0); /* greyscale */
    free(f);
}
END_TEST

START_TEST(test_corrupt_crc)
{
    uint8_t grey[8 * 8];
    fill(grey, sizeof grey, 5);
    ck_assert_int_eq(ae_png_write(path, grey, 8, 8, 1, NULL), AE_OK);
    size_t n;
    unsigned char *f = tu_slurp(path, &n);
    f[33 + 8] ^= 0x10; /* first byte of IDAT data */
    spit(path, f, n);
    expect_read_error("IDAT at offset 33 has a bad CRC");
    f[33 + 8] ^= 0x10;
    f[16] ^= 0x01; /* width inside IHDR */
    spit(path, f, n);
    expect_read_error("IHDR at offset 8 has a bad CRC");
    free(f);
}
END_TEST

START_TEST(test_truncated)
{
    uint8_t rgb[5 * 4 * 3];
    fill(rgb, sizeof rgb, 6);
    ck_assert_int_eq(ae_png_write(path, rgb, 5, 4, 3, NULL), AE_OK);
    size_t n;
    unsigned char *f = tu_slurp(path, &n);
    for (size_t cut = 0; cut < n; cut++) {
        spit(path, f, cut);
        expect_read_error(cut < 8 ? "bad signature" : "truncated");
    }
    free(f);
}
END_TEST

/* ---- a hand-made encoder, for what ae_png_write never produces -------- */

static size_t put_chunk(unsigned char *out, const char *type, const unsigned char *data,
                        size_t len)
{
    out[0] = (unsigned char)(len >> 24);
    out[1] = (unsigned char)(len >> 16);
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    memcpy(out + 4, type, 4);
    if (len)
        memcpy(out + 8, data, len);
    uint32_t c = ref_crc(out + 4, 4 + len);
    for (int i = 0; i < 4; i++)
        out[8 + len + (size_t)i] = (unsigned char)(c >> (24 - 8 * i));
    return 12 + len;
}

/* A zlib stream of one stored (uncompressed) deflate block. */
static size_t stored_zlib(unsigned char *out, const unsigned char *raw, size_t n)
{
    size_t k = 0;
    out[k++] = 0x78;
    out[k++] = 0x01;
    out[k++] = 0x01; /* final block, stored */
    out[k++] = (unsigned char)n;
    out[k++] = (unsigned char)(n >> 8);
    out[k++] = (unsigned char)~n;
    out[k++] = (unsigned char)(~n >> 8);
    memcpy(out + k, raw, n);
    k += n;
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    uint32_t adler = b << 16 | a;
    for (int i = 0; i < 4; i++)
        out[k++] = (unsigned char)(adler >> (24 - 8 * i));
    return k;
}

/* Writes a PNG whose IDAT holds `raw` (filter bytes included) verbatim. */
static void handmade(uint32_t w, uint32_t h, int colour, int interlace, const unsigned char *raw,
                     size_t raw_len)
{
    unsigned char *f = malloc(raw_len + 128);
    ck_assert_ptr_nonnull(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(f, sig, 8);
    size_t k = 8;
    unsigned char ihdr[13] = {(unsigned char)(w >> 24), (unsigned char)(w >> 16),
                              (unsigned char)(w >> 8), (unsigned char)w,
                              (unsigned char)(h >> 24), (unsigned char)(h >> 16),
                              (unsigned char)(h >> 8), (unsigned char)h,
                              8, (unsigned char)colour, 0, 0, (unsigned char)interlace};
    k += put_chunk(f + k, "IHDR", ihdr, 13);
    k += put_chunk(f + k, "tEXt", (const unsigned char *)"Comment\0hi", 10); /* skipped */
    unsigned char *z = malloc(raw_len + 16);
    ck_assert_ptr_nonnull(z);
    size_t zn = stored_zlib(z, raw, raw_len);
    k += put_chunk(f + k, "IDAT", z, zn / 2); /* split over two chunks */
    k += put_chunk(f + k, "IDAT", z + zn / 2, zn - zn / 2);
    k += put_chunk(f + k, "IEND", NULL, 0);
    spit(path, f, k);
    free(z);
    free(f);
}

static int ref_paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

START_TEST(test_reads_all_filters)
{
    /* RGB, 4 x 5: row y uses filter y, so 0 none, 1 sub, 2 up, 3 average,
     * 4 Paeth each appear once. */
    enum { W = 4, H = 5, C = 3, S = W * C };
    uint8_t px[H][S], raw[H][S + 1];
    fill(&px[0][0], sizeof px, 7);
    /* A Paeth tie at row 4, byte 3: left 6, up 0, up-left 4 give
     * |p - up| == |p - upleft| == 2, and the spec picks up, not up-left. */
    px[4][0] = 6, px[3][3] = 0, px[3][0] = 4;
    for (int y = 0; y < H; y++) {
        raw[y][0] = (uint8_t)y;
        for (int i = 0; i < S; i++) {
            int a = i >= C ? px[y][i - C] : 0, b = y ? px[y - 1][i] : 0;
            int c = i >= C && y ? px[y - 1][i - C] : 0;
            int pred = y == 1 ? a : y == 2 ? b : y == 3 ? (a + b) / 2 : y == 4 ? ref_paeth(a, b, c) : 0;
            raw[y][i + 1] = (uint8_t)(px[y][i] - pred);
        }
    }
    handmade(W, H, 2, 0, &raw[0][0], sizeof raw);
    uint8_t *back = NULL;
    size_t w, h;
    int c;
    ae_error err = {{0}};
    ck_assert_msg(ae_png_read(path, &back, &w, &h, &c, &err) == AE_OK, "%s", err.msg);
    ck_assert(w == W && h == H && c == C);
    ck_assert_int_eq(memcmp(back, px, sizeof px), 0);
    free(back);

    raw[2][0] = 5;
    handmade(W, H, 2, 0, &raw[0][0], sizeof raw);
    expect_read_error("row 2 has filter type 5");
    raw[2][0] = 2;
    handmade(W, H, 2, 0, &raw[0][0], sizeof raw - 1);
    expect_read_error("has 64 bytes, the header implies 65");
    handmade(W, H - 1, 2, 0, &raw[0][0], sizeof raw);
    expect_read_error("more than the 52 bytes");
    handmade(W, H, 2, 1, &raw[0][0], sizeof raw);
    expect_read_error("interlaced");
    handmade(W, H, 6, 0, &raw[0][0], sizeof raw);
    expect_read_error("colour type 6");
    handmade(W, 0, 2, 0, &raw[0][0], sizeof raw);
    expect_read_error("outside");
    /* a huge IHDR over a tiny stream is refused before any allocation */
    handmade(1u << 24, 1u << 24, 2, 0, &raw[0][0], sizeof raw);
    expect_read_error("too large");
    handmade(1u << 14, 1u << 14, 0, 0, &raw[0][0], sizeof raw);
    expect_read_error("cannot hold");
}
END_TEST

START_TEST(test_png_usage_errors)
{
    uint8_t px[12] = {0};
    ae_error err = {{0}};
    ck_assert_int_eq(ae_png_write(path, px, 0, 2, 1, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_png_write(path, px, 2, 0, 1, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_png_write(path, px, ((size_t)1 << 24) + 1, 1, 1, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_png_write(path, px, 1, ((size_t)1 << 24) + 1, 1, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_png_write(path, px, 2, 2, 2, &err), AE_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "2 channels"));
    ck_assert_int_eq(ae_png_write(path, px, 2, 2, 4, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_png_write(path, NULL, 2, 2, 1, &err), AE_ERR_USAGE);
    ck_assert_int_ne(access(path, F_OK), 0);

    expect_read_error("cannot open");
    spit(path, "hello, world", 12);
    expect_read_error("bad signature");
}
END_TEST

/* ---- grid -------------------------------------------------------------- */

START_TEST(test_grid_known_answer)
{
    /* three 2 x 2 images, 2 columns, pad 1 -> 7 x 7, range [0, 1] */
    const float img[3 * 4] = {
        0.0f, 1.0f, 0.5f, 0.25f,   /* 0, 255, 127.5 -> 128, 63.75 -> 64 */
        -1.0f, 2.0f, NAN, 0.75f,   /* clipped 0, clipped 255, NaN -> 0, 191.25 -> 191 */
        1.0f, 1.0f, 0.0f, 0.0f,
    };
    const uint8_t want[7][7] = {
        {128, 128, 128, 128, 128, 128, 128},
        {128, 0, 255, 128, 0, 255, 128},
        {128, 128, 64, 128, 0, 191, 128},
        {128, 128, 128, 128, 128, 128, 128},
        {128, 255, 255, 128, 128, 128, 128},
        {128, 0, 0, 128, 128, 128, 128},
        {128, 128, 128, 128, 128, 128, 128},
    };
    uint8_t *g = NULL;
    size_t gw = 0, gh = 0;
    ae_error err = {{0}};
    ck_assert_msg(ae_image_grid(img, 3, 2, 2, 2, 1, 0.0f, 1.0f, &g, &gw, &gh, &err) == AE_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(gw, 7);
    ck_assert_uint_eq(gh, 7);
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 7; x++)
            ck_assert_msg(g[y * 7 + x] == want[y][x], "pixel (%d, %d) is %d, want %d", x, y,
                          g[y * 7 + x], want[y][x]);
    free(g);

    /* no padding, one column, rectangular tiles: 2 images of 1 x 3 -> 3 x 2 */
    const float strip[6] = {0, 1, 2, 3, 4, 5};
    ck_assert_int_eq(ae_image_grid(strip, 2, 1, 3, 1, 0, 0.0f, 5.0f, &g, &gw, &gh, NULL), AE_OK);
    ck_assert(gw == 3 && gh == 2);
    const uint8_t want_strip[6] = {0, 51, 102, 153, 204, 255};
    ck_assert_int_eq(memcmp(g, want_strip, 6), 0);
    free(g);
}
END_TEST

START_TEST(test_grid_mapping)
{
    const float v[8] = {-1.0f, 1.0f, 0.0f, 0.999f, 5.0f, -INFINITY, INFINITY, -0.5f};
    /* (v + 1) / 2 * 255: 0, 255, 127.5 -> 128, 254.87 -> 255, clip, clip, clip, 63.75 -> 64 */
    const uint8_t want[8] = {0, 255, 128, 255, 255, 0, 255, 64};
    uint8_t *g = NULL;
    size_t gw, gh;
    ck_assert_int_eq(ae_image_grid(v, 1, 1, 8, 1, 0, -1.0f, 1.0f, &g, &gw, &gh, NULL), AE_OK);
    ck_assert(gw == 8 && gh == 1);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(g[i] == want[i], "value %g -> %d, want %d", (double)v[i], g[i], want[i]);
    free(g);
}
END_TEST

START_TEST(test_grid_errors)
{
    const float v[4] = {0};
    uint8_t *g = (uint8_t *)&g;
    uint8_t *before = g;
    size_t gw = 9, gh = 9;
    ae_error err = {{0}};
    ck_assert_int_eq(ae_image_grid(v, 1, 2, 2, 1, 0, 1.0f, 1.0f, &g, &gw, &gh, &err), AE_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "range"));
    ck_assert_int_eq(ae_image_grid(v, 1, 2, 2, 1, 0, 2.0f, 1.0f, &g, &gw, &gh, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(v, 1, 2, 2, 1, 0, NAN, 1.0f, &g, &gw, &gh, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(v, 1, 2, 2, 1, 0, 0.0f, INFINITY, &g, &gw, &gh, &err),
                     AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(v, 1, 0, 2, 1, 0, 0.0f, 1.0f, &g, &gw, &gh, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(v, 1, 2, 0, 1, 0, 0.0f, 1.0f, &g, &gw, &gh, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(v, 1, 2, 2, 0, 0, 0.0f, 1.0f, &g, &gw, &gh, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(v, 0, 2, 2, 1, 0, 0.0f, 1.0f, &g, &gw, &gh, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(NULL, 1, 2, 2, 1, 0, 0.0f, 1.0f, &g, &gw, &gh, &err),
                     AE_ERR_USAGE);
    /* sizes whose product overflows are refused before any pixel is read */
    ck_assert_int_eq(ae_image_grid(v, 1, SIZE_MAX / 2, 4, 1, 0, 0.0f, 1.0f, &g, &gw, &gh, &err),
                     AE_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "overflow"));
    ck_assert_int_eq(ae_image_grid(v, 1, 1, 1, SIZE_MAX / 2, 3, 0.0f, 1.0f, &g, &gw, &gh, &err),
                     AE_ERR_USAGE);
    ck_assert_int_eq(ae_image_grid(v, 1, 1, 1, 1, SIZE_MAX, 0.0f, 1.0f, &g, &gw, &gh, &err),
                     AE_ERR_USAGE);
    ck_assert(g == before && gw == 9 && gh == 9);
}
END_TEST

static Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip_grey_rgb);
    tcase_add_test(tc, test_signature_and_ihdr);
    tcase_add_test(tc, test_corrupt_crc);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_reads_all_filters);
    tcase_add_test(tc, test_png_usage_errors);
    tcase_add_test(tc, test_grid_known_answer);
    tcase_add_test(tc, test_grid_mapping);
    tcase_add_test(tc, test_grid_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(image_suite());
}
