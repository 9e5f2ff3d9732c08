#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ae/safetensors.h"
#include "testutil.h"

static char tmpdir[256];
static char path[512];

static void setup(void)
{
    tu_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/ae_st_XXXXXX");
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", tmpdir);
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

/* A file with the given length field, header text and data bytes. */
static void write_raw(const char *p, uint64_t len_field, const char *header, const void *data,
                      size_t data_len)
{
    size_t hl = strlen(header);
    unsigned char *b = malloc(8 + hl + data_len);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(len_field >> (8 * i));
    memcpy(b + 8, header, hl);
    if (data_len)
        memcpy(b + 8 + hl, data, data_len);
    spit(p, b, 8 + hl + data_len);
    free(b);
}

static void write_hdr(const char *header, const void *data, size_t data_len)
{
    write_raw(path, strlen(header), header, data, data_len);
}

/* Reads path expecting failure; checks the outputs stay untouched and the
 * message names the file and contains `needle`. */
static void expect_read_error(ae_status want, const char *needle)
{
    ae_safetensors st;
    memset(&st, 0xab, sizeof st);
    ae_safetensors before = st;
    ae_error err = {{0}};
    ae_status s = ae_safetensors_read(&st, path, &err);
    ck_assert_msg(s == want, "status %d, want %d (%s)", s, want, err.msg);
    ck_assert_msg(memcmp(&st, &before, sizeof st) == 0, "output changed on failure");
    ck_assert_msg(strstr(err.msg, path) == err.msg, "message does not start with path: %s",
                  err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message lacks \"%s\": %s", needle, err.msg);
}

/* The three-plus-one tensors and metadata of the round trip. */
static float w[12], b[4], scale[1] = {-0.0f};
static void example(ae_st_tensor t[4], ae_st_meta m[3])
{
    for (int i = 0; i < 12; i++)
        w[i] = (float)i * 0.25f - 1.0f;
    w[5] = NAN;
    w[6] = 1e-42f; /* subnormal */
    for (int i = 0; i < 4; i++)
        b[i] = (float)(i + 1) / 3.0f;
    memset(t, 0, 4 * sizeof *t);
    t[0] = (ae_st_tensor){.name = "encoder.0.weight", .data = w, .ndim = 2, .shape = {3, 4}};
    t[1] = (ae_st_tensor){.name = "encoder.0.bias", .data = b, .ndim = 1, .shape = {4}};
    t[2] = (ae_st_tensor){.name = "scale", .data = scale, .ndim = 0};
    t[3] = (ae_st_tensor){.name = "empty", .data = NULL, .ndim = 2, .shape = {0, 5}};
    m[0] = (ae_st_meta){"config", "{\"model\": \"vae\", \"latent\": 2}"};
    m[1] = (ae_st_meta){"epoch", "7"};
    m[2] = (ae_st_meta){"note", "caf\xc3\xa9 \\ \"quoted\"\nnext line"};
}

START_TEST(test_round_trip)
{
    ae_st_tensor t[4];
    ae_st_meta m[3];
    example(t, m);
    ae_error err = {{0}};
    ck_assert_int_eq(ae_safetensors_write(path, t, 4, m, 3, &err), AE_OK);

    ae_safetensors st;
    ck_assert_msg(ae_safetensors_read(&st, path, &err) == AE_OK, "%s", err.msg);
    ck_assert_uint_eq(st.n_tensors, 4);
    for (size_t i = 0; i < 4; i++) {
        /* written order is data order, which is the order we read back */
        ck_assert_str_eq(st.tensors[i].name, t[i].name);
        ck_assert_uint_eq(st.tensors[i].ndim, t[i].ndim);
        size_t count = 1;
        for (size_t d = 0; d < t[i].ndim; d++) {
            ck_assert_uint_eq(st.tensors[i].shape[d], t[i].shape[d]);
            count *= t[i].shape[d];
        }
        ck_assert_uint_eq((uintptr_t)st.tensors[i].data % _Alignof(float), 0);
        if (count)
            ck_assert_int_eq(memcmp(st.tensors[i].data, t[i].data, count * sizeof(float)), 0);
    }
    ck_assert_ptr_eq(ae_safetensors_find(&st, "encoder.0.bias"), &st.tensors[1]);
    ck_assert_ptr_null(ae_safetensors_find(&st, "decoder.0.bias"));
    ck_assert_uint_eq(st.n_meta, 4); /* ours plus crc32 */
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(ae_safetensors_meta(&st, m[i].key), m[i].value);
    const char *crc = ae_safetensors_meta(&st, "crc32");
    ck_assert_ptr_nonnull(crc);
    ck_assert_uint_eq(strlen(crc), 8);
    ck_assert_uint_eq(strspn(crc, "0123456789abcdef"), 8);
    ck_assert_ptr_null(ae_safetensors_meta(&st, "missing"));
    ae_safetensors_free(&st);
    ck_assert_ptr_null(st.tensors);
    ck_assert_uint_eq(st.n_tensors, 0);
    ae_safetensors_free(&st); /* zeroed: harmless */
    ae_safetensors_free(NULL);
}
END_TEST

START_TEST(test_layout_matches_spec)
{
    ae_st_tensor t[4];
    ae_st_meta m[3];
    example(t, m);
    ck_assert_int_eq(ae_safetensors_write(path, t, 4, m, 3, NULL), AE_OK);
    size_t size;
    unsigned char *f = tu_slurp(path, &size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | f[i];
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(size, 8 + n + (12 + 4 + 1) * 4);
    char *h = (char *)f + 8;
    ck_assert_int_eq(h[0], '{');
    size_t end = n;
    while (end > 0 && h[end - 1] == ' ')
        end--;
    ck_assert_uint_gt(end, 0);
    ck_assert_int_eq(h[end - 1], '}');
    ck_assert_uint_lt(n - end, 8);
    /* Entries exactly as the spec spells them, offsets relative to data. */
    const char *want[] = {
        "\"encoder.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}",
        "\"encoder.0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]}",
        "\"scale\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[64,68]}",
        "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[68,68]}",
        "\"__metadata__\":{\"crc32\":\"",
        "\"epoch\":\"7\"",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(memmem(h, end, want[i], strlen(want[i])) != NULL, "header lacks %s",
                      want[i]);
    /* data section: raw little-endian floats, in order */
    ck_assert_int_eq(memcmp(f + 8 + n, w, sizeof w), 0);
    ck_assert_int_eq(memcmp(f + 8 + n + 48, b, sizeof b), 0);
    free(f);
}
END_TEST

START_TEST(test_crc_corruption)
{
    ae_st_tensor t[4];
    ae_st_meta m[3];
    example(t, m);
    ck_assert_int_eq(ae_safetensors_write(path, t, 4, m, 3, NULL), AE_OK);
    size_t size;
    unsigned char *f = tu_slurp(path, &size);
    f[size - 10] ^= 0x01; /* inside encoder.0.bias */
    spit(path, f, size);
    free(f);
    expect_read_error(AE_ERR_INPUT, "CRC32 mismatch");
}
END_TEST

START_TEST(test_truncated)
{
    ae_st_tensor t[4];
    ae_st_meta m[3];
    example(t, m);
    ck_assert_int_eq(ae_safetensors_write(path, t, 4, m, 3, NULL), AE_OK);
    size_t size;
    unsigned char *f = tu_slurp(path, &size);
    size_t n = f[0] | (size_t)f[1] << 8;
    size_t cuts[] = {0, 3, 7, 8, 9, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 1, size - 4, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spit(path, f, cuts[i]);
        expect_read_error(AE_ERR_INPUT, "truncated");
    }
    free(f);
}
END_TEST

START_TEST(test_header_length_beyond_file)
{
    write_raw(path, 1234, "{}", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "header claims 1234 bytes but the file has 2");
    write_raw(path, (uint64_t)1 << 63, "{}", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "100 MB");
}
END_TEST

START_TEST(test_bad_json)
{
    write_hdr("{\"a\": {\"dtype\": \"F32\",", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "not valid JSON");
    write_hdr("", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "not valid JSON");
    write_hdr("{} x", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "not valid JSON");
    write_hdr("[1, 2]", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "not an object");
    write_hdr("{\"a\": 3}", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "\"a\"");
    write_hdr("{\"__metadata__\": {\"k\": 3}}", NULL, 0);
    expect_read_error(AE_ERR_INPUT, "not a string");
    /* an empty header object with trailing padding is a valid, empty file */
    write_hdr("{}      ", NULL, 0);
    ae_safetensors st;
    ck_assert_int_eq(ae_safetensors_read(&st, path, NULL), AE_OK);
    ck_assert_uint_eq(st.n_tensors, 0);
    ae_safetensors_free(&st);
}
END_TEST

START_TEST(test_dtype_and_shape)
{
    float d[4] = {1, 2, 3, 4};
    write_hdr("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", d, 4);
    expect_read_error(AE_ERR_INPUT, "tensor \"w\" has dtype F16");
    write_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d, 8);
    expect_read_error(AE_ERR_INPUT, "span 8 bytes but the shape needs 12");
    write_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d, 8);
    expect_read_error(AE_ERR_INPUT, "shape entry 0");
    write_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", d, 8);
    expect_read_error(AE_ERR_INPUT, "shape entry 0");
    write_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
              "\"data_offsets\":[0,8]}}", d, 8);
    expect_read_error(AE_ERR_INPUT, "needs more than");
    write_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
              "\"data_offsets\":[0,4]}}", d, 4);
    expect_read_error(AE_ERR_INPUT, "9 dimensions");
    write_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", d, 4);
    expect_read_error(AE_ERR_INPUT, "begin <= end");
    write_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", d, 4);
    expect_read_error(AE_ERR_INPUT, "data_offsets");
}
END_TEST

START_TEST(test_coverage)
{
    float d[4] = {1, 2, 3, 4};
    write_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", d, 12);
    expect_read_error(AE_ERR_INPUT, "bytes 4..8 of the data section belong to no tensor");
    write_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", d, 12);
    expect_read_error(AE_ERR_INPUT, "overlaps");
    write_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 8);
    expect_read_error(AE_ERR_INPUT, "4 trailing bytes");
    write_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", d, 8);
    expect_read_error(AE_ERR_INPUT, "appears twice");

    /* JSON order need not be data order; we hand tensors back in data order.
     * The 13-byte header also puts the data at an odd file offset. */
    const char *h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}  ";
    ck_assert_uint_eq(strlen(h) % 4, 1);
    write_hdr(h, d, 8);
    ae_safetensors st;
    ae_error err = {{0}};
    ck_assert_msg(ae_safetensors_read(&st, path, &err) == AE_OK, "%s", err.msg);
    ck_assert_uint_eq(st.n_tensors, 2);
    ck_assert_str_eq(st.tensors[0].name, "a");
    ck_assert_str_eq(st.tensors[1].name, "b");
    ck_assert_uint_eq((uintptr_t)st.tensors[0].data % _Alignof(float), 0);
    ck_assert(st.tensors[0].data[0] == 1.0f && st.tensors[1].data[0] == 2.0f);
    ck_assert_uint_eq(st.n_meta, 0);
    ae_safetensors_free(&st);
}
END_TEST

START_TEST(test_write_usage_errors)
{
    float d[2] = {0, 1};
    ae_st_tensor t[2] = {{.name = "x", .data = d, .ndim = 1, .shape = {1}},
                         {.name = "x", .data = d + 1, .ndim = 1, .shape = {1}}};
    ae_error err = {{0}};
    ck_assert_int_eq(ae_safetensors_write(path, t, 2, NULL, 0, &err), AE_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate tensor name \"x\""));

    ae_st_meta m[2] = {{"crc32", "00000000"}, {"k", "v"}};
    ck_assert_int_eq(ae_safetensors_write(path, t, 1, m, 2, &err), AE_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "crc32"));
    m[0].key = "k";
    ck_assert_int_eq(ae_safetensors_write(path, t, 1, m, 2, &err), AE_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate metadata key"));

    t[1].name = "y";
    t[1].ndim = AE_ST_MAX_DIMS + 1;
    ck_assert_int_eq(ae_safetensors_write(path, t, 2, NULL, 0, &err), AE_ERR_USAGE);
    t[1].ndim = 1;
    t[1].data = NULL;
    ck_assert_int_eq(ae_safetensors_write(path, t, 2, NULL, 0, &err), AE_ERR_USAGE);
    t[1].name = "__metadata__";
    t[1].data = d;
    ck_assert_int_eq(ae_safetensors_write(path, t, 2, NULL, 0, &err), AE_ERR_USAGE);
    ck_assert_int_eq(ae_safetensors_write(path, NULL, 2, NULL, 0, &err), AE_ERR_USAGE);
    ck_assert_int_ne(access(path, F_OK), 0); /* nothing was written */

    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/folder/x.safetensors", tmpdir);
    ck_assert_int_eq(ae_safetensors_write(bad, t, 1, NULL, 0, &err), AE_ERR_INPUT);

    snprintf(bad, sizeof bad, "%s/missing.safetensors", tmpdir);
    ae_safetensors st;
    ck_assert_int_eq(ae_safetensors_read(&st, bad, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing.safetensors"));
}
END_TEST

/* The numpy-only reader must accept our files and catch corruption. */
static int run_reader(const char *file, char *out, size_t out_size)
{
    char script[512], cmd[2048], log[600];
    const char *src = __FILE__;
    const char *cut = strstr(src, "tests/test_safetensors.c");
    ck_assert_ptr_nonnull(cut);
    snprintf(script, sizeof script, "%.*sscripts/read_checkpoint.py", (int)(cut - src), src);
    ck_assert_msg(access(script, R_OK) == 0, "missing %s", script);
    snprintf(log, sizeof log, "%s/reader.log", tmpdir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' > '%s' 2>&1", script, file, log);
    int rc = system(cmd);
    ck_assert_int_ne(rc, -1);
    FILE *fp = fopen(log, "r");
    ck_assert_ptr_nonnull(fp);
    size_t n = fread(out, 1, out_size - 1, fp);
    out[n] = '\0';
    fclose(fp);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_python_reader)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0) {
        fprintf(stderr, "test_python_reader: skipped (no /usr/bin/python3 with numpy)\n");
        return;
    }
    ae_st_tensor t[4];
    ae_st_meta m[3];
    example(t, m);
    ck_assert_int_eq(ae_safetensors_write(path, t, 4, m, 3, NULL), AE_OK);
    char out[4096];
    ck_assert_msg(run_reader(path, out, sizeof out) == 0, "reader failed: %s", out);
    const char *want[] = {"encoder.0.weight F32 [3, 4]\nencoder.0.bias F32 [4]\n"
                          "scale F32 []\nempty F32 [0, 5]\n",
                          "epoch", "config", "crc32 ok"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "output lacks \"%s\":\n%s", want[i], out);

    size_t size;
    unsigned char *f = tu_slurp(path, &size);
    f[size - 1] ^= 0x80;
    spit(path, f, size);
    free(f);
    ck_assert_int_eq(run_reader(path, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "crc32 mismatch") != NULL, "%s", out);

    write_raw(path, 99, "{}", NULL, 0);
    ck_assert_int_eq(run_reader(path, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "truncated") != NULL, "%s", out);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_layout_matches_spec);
    tcase_add_test(tc, test_crc_corruption);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_header_length_beyond_file);
    tcase_add_test(tc, test_bad_json);
    tcase_add_test(tc, test_dtype_and_shape);
    tcase_add_test(tc, test_coverage);
    tcase_add_test(tc, test_write_usage_errors);
    tcase_add_test(tc, test_python_reader);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(safetensors_suite());
}
