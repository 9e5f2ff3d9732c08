/* Known-answer and bad-input tests for the IDX / CSV loaders.  Every file is
 * written by the test itself into a mkdtemp folder; the MNIST test uses the
 * real files when they are present and passes without checking otherwise. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 and XSI: nftw for testutil.h */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "ae/batch.h"
#include "ae/data.h"
#include "testutil.h"

static char g_dir[256];

static void tpath(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", g_dir, name);
}

static void write_raw(char *path, size_t size, const char *name, const void *data, size_t n)
{
    tpath(path, size, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_text(char *path, size_t size, const char *name, const char *text)
{
    write_raw(path, size, name, text, strlen(text));
}

static void write_gz(char *path, size_t size, const char *name, const void *data, size_t n)
{
    tpath(path, size, name);
    gzFile gz = gzopen(path, "wb");
    ck_assert_ptr_nonnull(gz);
    ck_assert_int_eq(gzwrite(gz, data, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(gz), Z_OK);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* Builds an IDX image into buf (caller sizes it); returns its length. */
static size_t make_idx(unsigned char *buf, unsigned char type, int ndims, const uint32_t *dims,
                       const void *payload, size_t plen)
{
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = type;
    buf[3] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    size_t h = 4 + 4 * (size_t)ndims;
    if (plen)
        memcpy(buf + h, payload, plen);
    return h + plen;
}

/* Asserts status, an untouched dataset, and a message that starts with the
 * path and contains both phrases (phrase2 may be NULL). */
#define EXPECT_LOAD_ERROR(path, opts, want, phrase1, phrase2)                                 \
    do {                                                                                      \
        ae_dataset ds_, before_;                                                              \
        memset(&ds_, 0xAB, sizeof ds_);                                                       \
        memcpy(&before_, &ds_, sizeof ds_);                                                   \
        ae_error err_ = {{0}};                                                                \
        ae_status st_ = ae_dataset_load(&ds_, (path), (opts), &err_);                         \
        ck_assert_msg(st_ == (want), "status %s, expected %s (%s)", ae_status_name(st_),      \
                      ae_status_name(want), err_.msg);                                        \
        ck_assert_msg(memcmp(&ds_, &before_, sizeof ds_) == 0, "dataset changed on failure"); \
        ck_assert_msg(strncmp(err_.msg, (path), strlen(path)) == 0,                           \
                      "message does not start with the path: %s", err_.msg);                  \
        ck_assert_msg(strstr(err_.msg, (phrase1)) != NULL, "'%s' not in: %s", (phrase1),      \
                      err_.msg);                                                              \
        const char *p2_ = (phrase2);                                                          \
        ck_assert_msg(!p2_ || strstr(err_.msg, p2_), "'%s' not in: %s", p2_ ? p2_ : "",       \
                      err_.msg);                                                              \
    } while (0)

static void load_ok(ae_dataset *ds, const char *path, const ae_csv_options *o)
{
    ae_error err = {{0}};
    ae_status st = ae_dataset_load(ds, path, o, &err);
    ck_assert_msg(st == AE_OK, "load %s failed: %s", path, err.msg);
}

/* 2 images of 2 x 3 pixels, values 0..11 */
static const unsigned char k_u8[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
static const uint32_t k_u8_dims[3] = {2, 2, 3};

static void check_u8_dataset(const ae_dataset *ds)
{
    ck_assert_uint_eq(ds->n, 2);
    ck_assert_uint_eq(ds->dim, 6);
    ck_assert_int_eq(ds->dtype, AE_DTYPE_U8);
    ck_assert_uint_eq(ds->img_h, 2);
    ck_assert_uint_eq(ds->img_w, 3);
    ck_assert_ptr_null(ds->labels);
    ck_assert_mem_eq(ds->x, k_u8, sizeof k_u8);
}

/* ---------------------------------------------------------------- IDX ok */

START_TEST(test_idx_u8_raw)
{
    unsigned char buf[64];
    char path[512];
    size_t n = make_idx(buf, 0x08, 3, k_u8_dims, k_u8, sizeof k_u8);
    write_raw(path, sizeof path, "u8.idx", buf, n);
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL);
    check_u8_dataset(&ds);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_idx_u8_gz)
{
    unsigned char buf[64];
    char path[512];
    size_t n = make_idx(buf, 0x08, 3, k_u8_dims, k_u8, sizeof k_u8);
    write_gz(path, sizeof path, "u8-images.gz", buf, n);
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL);
    check_u8_dataset(&ds);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_idx_shapes_without_image)
{
    unsigned char buf[64];
    char path[512];
    uint32_t d1[1] = {5};
    size_t n = make_idx(buf, 0x08, 1, d1, k_u8, 5);
    write_raw(path, sizeof path, "one.idx", buf, n);
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL);
    ck_assert_uint_eq(ds.n, 5);
    ck_assert_uint_eq(ds.dim, 1);
    ck_assert_uint_eq(ds.img_h, 0);
    ck_assert_uint_eq(ds.img_w, 0);
    ae_dataset_free(&ds);

    uint32_t d4[4] = {2, 1, 2, 3};
    n = make_idx(buf, 0x08, 4, d4, k_u8, 12);
    write_raw(path, sizeof path, "four.idx", buf, n);
    load_ok(&ds, path, NULL);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.dim, 6);
    ck_assert_uint_eq(ds.img_h, 0);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_idx_f32)
{
    /* big-endian bit patterns of 1.5, -2.25, 0, 1e10, 0.1f, -0.0 */
    const uint32_t bits[6] = {0x3FC00000u, 0xC0100000u, 0x00000000u,
                              0x501502F9u, 0x3DCCCCCDu, 0x80000000u};
    const float want[6] = {1.5f, -2.25f, 0.0f, 1e10f, 0.1f, -0.0f};
    unsigned char payload[24], buf[64];
    for (int i = 0; i < 6; i++)
        put_be32(payload + 4 * i, bits[i]);
    uint32_t dims[2] = {3, 2};
    size_t n = make_idx(buf, 0x0D, 2, dims, payload, sizeof payload);
    char path[512];
    write_raw(path, sizeof path, "f32.idx", buf, n);
    ae_dataset ds = {0};
    /* read into memory: host floats */
    setenv("AE_NO_MMAP", "1", 1);
    load_ok(&ds, path, NULL);
    unsetenv("AE_NO_MMAP");
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.dim, 2);
    ck_assert_int_eq(ds.dtype, AE_DTYPE_F32);
    ck_assert_ptr_null(ds.map);
    ck_assert_uint_eq(ds.img_h, 0);
    ck_assert_mem_eq(ds.x, want, sizeof want); /* bit-exact, sign of zero included */
    ae_dataset_free(&ds);
    /* memory-mapped: the file's big-endian bytes, the same values once gathered */
    load_ok(&ds, path, NULL);
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.dim, 2);
    ck_assert_int_eq(ds.dtype, AE_DTYPE_F32BE);
    ck_assert_ptr_nonnull(ds.map);
    ck_assert_mem_eq(ds.x, payload, sizeof payload);
    float got[6], one[2] = {1, 1}, zero[2] = {0, 0};
    ae_batch_gather(&ds, NULL, 0, 3, one, zero, AE_BIN_NONE, NULL, got);
    for (int i = 0; i < 6; i++) /* x * 1 + 0: -0 becomes +0, so compare values */
        ck_assert(got[i] == want[i]);
    ae_dataset_truncate(&ds, 2);
    ck_assert_uint_eq(ds.n, 2);
    ae_dataset_free(&ds);
    /* a subset of a mapped file (data.labeled): rows 2 and 0, in memory now,
     * still big-endian, the same values once gathered */
    load_ok(&ds, path, NULL);
    int32_t lab[3] = {7, 8, 9};
    ds.labels = malloc(sizeof lab);
    memcpy(ds.labels, lab, sizeof lab);
    const size_t keep[2] = {2, 0};
    ck_assert_int_eq(ae_dataset_subset(&ds, keep, 2, NULL), AE_OK);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_ptr_null(ds.map);
    ck_assert_int_eq(ds.dtype, AE_DTYPE_F32BE);
    ck_assert_int_eq(ds.labels[0], 9);
    ck_assert_int_eq(ds.labels[1], 7);
    ae_batch_gather(&ds, NULL, 0, 2, one, zero, AE_BIN_NONE, NULL, got);
    ck_assert(got[0] == want[4] && got[1] == want[5] && got[2] == want[0] && got[3] == want[1]);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_idx_mapped_matches_read)
{
    /* an uncompressed uint8 file: mapped by default, read with AE_NO_MMAP;
     * the same examples either way, and the same after gathering */
    unsigned char buf[64];
    size_t n = make_idx(buf, 0x08, 3, k_u8_dims, k_u8, sizeof k_u8);
    char path[512];
    write_raw(path, sizeof path, "mapped.idx", buf, n);
    ae_dataset a = {0}, b = {0};
    load_ok(&a, path, NULL);
    setenv("AE_NO_MMAP", "1", 1);
    load_ok(&b, path, NULL);
    unsetenv("AE_NO_MMAP");
    ck_assert_ptr_nonnull(a.map);
    ck_assert_ptr_null(b.map);
    ck_assert_uint_eq(a.n, b.n);
    ck_assert_uint_eq(a.dim, b.dim);
    ck_assert_uint_eq(a.img_h, b.img_h);
    ck_assert_int_eq(a.dtype, AE_DTYPE_U8);
    ck_assert_mem_eq(a.x, b.x, sizeof k_u8);
    float scale[6], shift[6], ga[12], gb[12];
    ae_scaling_fit(&a, NULL, 0, AE_SCALE_STANDARDIZE, scale, shift);
    ae_batch_gather(&a, NULL, 0, a.n, scale, shift, AE_BIN_NONE, NULL, ga);
    ae_batch_gather(&b, NULL, 0, b.n, scale, shift, AE_BIN_NONE, NULL, gb);
    ck_assert_mem_eq(ga, gb, sizeof ga);
    /* releasing the pages keeps the data readable */
    ae_dataset_pages_read(&a, AE_MAP_WINDOW);
    ck_assert_mem_eq(a.x, b.x, sizeof k_u8);
    ae_dataset_free(&a);
    ae_dataset_free(&b);
}
END_TEST

/* standardize over the values present: a missing value (NaN, which only
 * the coming missing-data loader produces) is left out of the mean, the
 * deviation and the count; a feature with no values gets scale 1, shift 0.
 * Columns: {1, NaN, 3, NaN} -> mean 2, sd 1; {NaN x 4}; {2, 4, 6, 8} ->
 * mean 5, sd sqrt(5). */
START_TEST(test_standardize_skips_missing)
{
    const float x[4 * 3] = {1, NAN, 2, NAN, NAN, 4, 3, NAN, 6, NAN, NAN, 8};
    ae_dataset ds = {0};
    ds.n = 4;
    ds.dim = 3;
    ds.dtype = AE_DTYPE_F32;
    ds.x = x;
    float scale[3], shift[3];
    ae_scaling_fit(&ds, NULL, 0, AE_SCALE_STANDARDIZE, scale, shift);
    ck_assert_float_eq_tol(scale[0], 1.0f, 1e-7f);
    ck_assert_float_eq_tol(shift[0], -2.0f, 1e-7f);
    ck_assert(scale[1] == 1.0f && shift[1] == 0.0f);
    ck_assert_float_eq_tol(scale[2], (float)(1 / sqrt(5.0)), 1e-7f);
    ck_assert_float_eq_tol(shift[2], (float)(-5 / sqrt(5.0)), 1e-6f);
    /* the ranges skip it too */
    float lo[3], hi[3];
    ae_scaled_feature_range(&ds, scale, shift, lo, hi);
    ck_assert_float_eq_tol(lo[0], -1.0f, 1e-6f);
    ck_assert_float_eq_tol(hi[0], 1.0f, 1e-6f);
}
END_TEST

START_TEST(test_idx_f32_nan_rejected)
{
    unsigned char payload[8], buf[64];
    put_be32(payload, 0x3F800000u);
    put_be32(payload + 4, 0x7FC00000u);
    uint32_t dims[2] = {2, 1};
    size_t n = make_idx(buf, 0x0D, 2, dims, payload, sizeof payload);
    char path[512];
    write_raw(path, sizeof path, "nan.idx", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "element 1 (example 1) is NaN",
                      "data.missing \"allow\" accepts them");
}
END_TEST

/* ------------------------------------------------------------- labels */

static void make_u8_data(ae_dataset *ds)
{
    unsigned char buf[64];
    char path[512];
    size_t n = make_idx(buf, 0x08, 3, k_u8_dims, k_u8, sizeof k_u8);
    write_raw(path, sizeof path, "data.idx", buf, n);
    load_ok(ds, path, NULL);
}

START_TEST(test_labels_idx_u8_and_i32)
{
    ae_dataset ds = {0};
    make_u8_data(&ds);
    unsigned char lab[2] = {7, 200}, buf[64];
    uint32_t d[1] = {2};
    char path[512];
    size_t n = make_idx(buf, 0x08, 1, d, lab, 2);
    write_gz(path, sizeof path, "labels-idx1.gz", buf, n);
    ae_error err = {{0}};
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_OK);
    ck_assert_ptr_nonnull(ds.labels);
    ck_assert_int_eq(ds.labels[0], 7);
    ck_assert_int_eq(ds.labels[1], 200);

    /* int32 labels replace the uint8 ones */
    unsigned char l32[8];
    put_be32(l32, 3);
    put_be32(l32 + 4, 100000);
    n = make_idx(buf, 0x0C, 1, d, l32, 8);
    write_raw(path, sizeof path, "labels32.idx", buf, n);
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_OK);
    ck_assert_int_eq(ds.labels[0], 3);
    ck_assert_int_eq(ds.labels[1], 100000);

    /* a negative int32 label is refused and the old labels stay */
    put_be32(l32 + 4, 0xFFFFFFFDu);
    n = make_idx(buf, 0x0C, 1, d, l32, 8);
    write_raw(path, sizeof path, "neg.idx", buf, n);
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "label 1 is negative (-3)"));
    ck_assert_int_eq(ds.labels[1], 100000);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_labels_csv)
{
    ae_dataset ds = {0};
    make_u8_data(&ds);
    char path[512];
    ae_error err = {{0}};
    write_text(path, sizeof path, "labels.csv", "label\n4\n9\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_OK);
    ck_assert_int_eq(ds.labels[0], 4);
    ck_assert_int_eq(ds.labels[1], 9);
    write_text(path, sizeof path, "labels2.csv", "1\n2\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_OK);
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_int_eq(ds.labels[1], 2);

    write_text(path, sizeof path, "labels3.csv", "1,2\n3,4\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "one column"));
    write_text(path, sizeof path, "labels4.csv", "1\n\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "has 1 labels"));
    ck_assert_int_eq(ds.labels[1], 2);
    /* a label that is not an integer makes every label a name */
    write_text(path, sizeof path, "labels5.csv", "1\n2.5\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_OK);
    ck_assert_uint_eq(ds.n_class_names, 2);
    ck_assert_str_eq(ds.class_names[0], "1");
    ck_assert_str_eq(ds.class_names[1], "2.5");
    ck_assert_int_eq(ds.labels[0], 0);
    ck_assert_int_eq(ds.labels[1], 1);
    /* integers again: the names go */
    write_text(path, sizeof path, "labels6.csv", "7\n3\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_OK);
    ck_assert_uint_eq(ds.n_class_names, 0);
    ck_assert_ptr_null(ds.class_names);
    ck_assert_int_eq(ds.labels[0], 7);
    ae_dataset_free(&ds);
}
END_TEST

/* Label names in a one-column labels CSV: the header rule (a first row that
 * is not an integer is a header when every other row is one, or when the
 * file has one row more than the data), byte-order classes, and names
 * looked up among given classes with the line of one that is not there. */
START_TEST(test_labels_csv_names)
{
    ae_dataset ds = {0};
    make_u8_data(&ds); /* 2 examples */
    char path[512];
    ae_error err = {{0}};
    write_text(path, sizeof path, "names.csv", "kind\ndog\ncat\n"); /* 3 rows: a header */
    ck_assert_msg(ae_dataset_load_labels(&ds, path, NULL, 0, &err) == AE_OK, "%s", err.msg);
    ck_assert_uint_eq(ds.n_class_names, 2); /* "kind" is no class */
    ck_assert_str_eq(ds.class_names[0], "cat");
    ck_assert_str_eq(ds.class_names[1], "dog");
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_int_eq(ds.labels[1], 0);
    write_text(path, sizeof path, "names2.csv", "\"dog\"\n dog \n"); /* no header, quotes */
    ck_assert_msg(ae_dataset_load_labels(&ds, path, NULL, 0, &err) == AE_OK, "%s", err.msg);
    ck_assert_uint_eq(ds.n_class_names, 1);
    ck_assert_str_eq(ds.class_names[0], "dog");
    ck_assert_int_eq(ds.labels[0], 0);
    ck_assert_int_eq(ds.labels[1], 0);
    /* byte order: upper case before lower, "-1" before "1" */
    write_text(path, sizeof path, "names3.csv", "1\n-1\n");
    ck_assert_msg(ae_dataset_load_labels(&ds, path, NULL, 0, &err) == AE_OK, "%s", err.msg);
    ck_assert_str_eq(ds.class_names[0], "-1");
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_int_eq(ds.labels[1], 0);
    /* given classes: their order, whatever the file's */
    const char *const classes[3] = {"zebra", "dog", "cat"};
    write_text(path, sizeof path, "names4.csv", "cat\nzebra\n");
    ck_assert_msg(ae_dataset_load_labels(&ds, path, classes, 3, &err) == AE_OK, "%s", err.msg);
    ck_assert_int_eq(ds.labels[0], 2);
    ck_assert_int_eq(ds.labels[1], 0);
    ck_assert_uint_eq(ds.n_class_names, 0); /* the caller has them */
    write_text(path, sizeof path, "names5.csv", "label\ncat\nhorse\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, classes, 3, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "names5.csv: line 3: label 'horse' is not one of the 3 "
                                  "classes of the training data (data.class_names: zebra, dog, "
                                  "cat)"), "%s", err.msg);
    ck_assert_int_eq(ds.labels[0], 2); /* untouched */
    /* integers are names too when classes are given */
    write_text(path, sizeof path, "names6.csv", "0\n1\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, classes, 3, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "line 1: label '0' is not one"), "%s", err.msg);
    write_text(path, sizeof path, "names7.csv", "cat\n\"\"\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "line 2: the label is empty"), "%s", err.msg);
    write_text(path, sizeof path, "names8.csv", "cat\nd\x01g\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "line 2: the label contains a control character (byte 0x01)"),
                  "%s", err.msg);
    ae_dataset_free(&ds);
}
END_TEST

/* A data CSV's label column of names: found classes in byte order, kept by
 * subset; a label column given by index holding words is no header sign. */
START_TEST(test_csv_label_names)
{
    char path[512];
    write_text(path, sizeof path, "n.csv", "1,2,normal\n3,4,attack\n5,6,normal\n7,8,probe\n");
    ae_csv_options o = {"2", -1, NULL, 0, 0, NULL, 0};
    ae_dataset ds = {0};
    load_ok(&ds, path, &o);
    ck_assert_uint_eq(ds.n, 4); /* no header taken */
    ck_assert_uint_eq(ds.dim, 2);
    ck_assert_uint_eq(ds.n_class_names, 3);
    ck_assert_str_eq(ds.class_names[0], "attack");
    ck_assert_str_eq(ds.class_names[1], "normal");
    ck_assert_str_eq(ds.class_names[2], "probe");
    const int32_t want[4] = {1, 0, 1, 2};
    ck_assert_mem_eq(ds.labels, want, sizeof want);
    size_t idx[2] = {3, 1};
    ae_error err = {{0}};
    ck_assert_int_eq(ae_dataset_subset(&ds, idx, 2, &err), AE_OK);
    ck_assert_uint_eq(ds.n_class_names, 3);
    ck_assert_str_eq(ds.class_names[2], "probe");
    ck_assert_int_eq(ds.labels[0], 2);
    ae_dataset_free(&ds);
    /* the training data's classes: looked up, the unknown one named by line */
    const char *const classes[2] = {"normal", "attack"};
    ae_csv_options known = {"2", -1, NULL, 0, 0, classes, 2};
    write_text(path, sizeof path, "n2.csv", "1,2,attack\n3,4,normal\n");
    load_ok(&ds, path, &known);
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_int_eq(ds.labels[1], 0);
    ck_assert_uint_eq(ds.n_class_names, 0);
    ae_dataset_free(&ds);
    write_text(path, sizeof path, "n3.csv", "x,y,kind\n1,2,attack\n3,4,normal\n5,6,probe\n");
    ae_csv_options known_by_name = {"kind", -1, NULL, 0, 0, classes, 2};
    EXPECT_LOAD_ERROR(path, &known_by_name, AE_ERR_INPUT,
                      "n3.csv: line 4: label 'probe' is not one of the 2 classes of the training "
                      "data (data.class_names: normal, attack)", NULL);
}
END_TEST

START_TEST(test_labels_count_mismatch)
{
    ae_dataset ds = {0};
    make_u8_data(&ds);
    unsigned char lab[3] = {1, 2, 3}, buf[64];
    uint32_t d[1] = {3};
    char path[512];
    size_t n = make_idx(buf, 0x08, 1, d, lab, 3);
    write_raw(path, sizeof path, "three-labels.idx", buf, n);
    ae_error err = {{0}};
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "has 3 labels, data has 2 examples"), "%s", err.msg);
    ck_assert_ptr_null(ds.labels);

    write_text(path, sizeof path, "one-label.csv", "5\n");
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "has 1 labels, data has 2 examples"), "%s", err.msg);

    /* an images file given as labels */
    n = make_idx(buf, 0x08, 3, k_u8_dims, k_u8, sizeof k_u8);
    write_raw(path, sizeof path, "images-as-labels.idx", buf, n);
    ck_assert_int_eq(ae_dataset_load_labels(&ds, path, NULL, 0, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "must have 1 dimension"), "%s", err.msg);
    ck_assert_ptr_null(ds.labels);
    ae_dataset_free(&ds);
}
END_TEST

/* ---------------------------------------------------------------- CSV ok */

START_TEST(test_csv_no_header)
{
    char path[512];
    write_text(path, sizeof path, "plain.csv", " 1, 2.5 ,-3\n4e2,\t5 ,6\n");
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL);
    const float want[6] = {1, 2.5f, -3, 400, 5, 6};
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.dim, 3);
    ck_assert_int_eq(ds.dtype, AE_DTYPE_F32);
    ck_assert_ptr_null(ds.labels);
    ck_assert_uint_eq(ds.img_h, 0);
    ck_assert_mem_eq(ds.x, want, sizeof want);
    ae_dataset_free(&ds);

    /* header = 0 with a non-numeric first row: that row is data, so it fails */
    write_text(path, sizeof path, "forced.csv", "a,b\n1,2\n");
    ae_csv_options o = {NULL, 0, NULL, 0, 0, NULL, 0};
    EXPECT_LOAD_ERROR(path, &o, AE_ERR_INPUT, "line 1, column 1", "'a'");
}
END_TEST

START_TEST(test_csv_header)
{
    char path[512];
    write_text(path, sizeof path, "head.csv", "a,b,c\n1,2,3\n4,5,6\n");
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL);
    const float want[6] = {1, 2, 3, 4, 5, 6};
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.dim, 3);
    ck_assert_mem_eq(ds.x, want, sizeof want);
    ae_dataset_free(&ds);

    /* header = 1: a numeric first row is still taken as the header */
    write_text(path, sizeof path, "numhead.csv", "10,20,30\n1,2,3\n");
    ae_csv_options o = {NULL, 1, NULL, 0, 0, NULL, 0};
    load_ok(&ds, path, &o);
    ck_assert_uint_eq(ds.n, 1);
    ck_assert_mem_eq(ds.x, want, 3 * sizeof(float));
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_csv_label_by_name)
{
    char path[512];
    write_text(path, sizeof path, "named.csv", "x,\"label\",y\n1,3,2\n4,0,5\n");
    ae_csv_options o = {"label", -1, NULL, 0, 0, NULL, 0};
    ae_dataset ds = {0};
    load_ok(&ds, path, &o);
    const float want[4] = {1, 2, 4, 5};
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.dim, 2);
    ck_assert_mem_eq(ds.x, want, sizeof want);
    ck_assert_ptr_nonnull(ds.labels);
    ck_assert_int_eq(ds.labels[0], 3);
    ck_assert_int_eq(ds.labels[1], 0);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_csv_label_by_index)
{
    char path[512];
    write_text(path, sizeof path, "indexed.csv", "1,2,7\n3,4,2147483647\n");
    ae_csv_options o = {"2", -1, NULL, 0, 0, NULL, 0};
    ae_dataset ds = {0};
    load_ok(&ds, path, &o);
    const float want[4] = {1, 2, 3, 4};
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.dim, 2);
    ck_assert_mem_eq(ds.x, want, sizeof want);
    ck_assert_int_eq(ds.labels[0], 7);
    ck_assert_int_eq(ds.labels[1], 2147483647);
    ae_dataset_free(&ds);

    /* index with a header, label first */
    write_text(path, sizeof path, "indexed-head.csv", "y,a\n5,0.5\n");
    ae_csv_options o0 = {"0", -1, NULL, 0, 0, NULL, 0};
    load_ok(&ds, path, &o0);
    ck_assert_uint_eq(ds.n, 1);
    ck_assert_uint_eq(ds.dim, 1);
    ck_assert_int_eq(ds.labels[0], 5);
    ck_assert(((float *)ds.x)[0] == 0.5f);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_csv_gz_crlf_blank_end)
{
    const char *text = "a,b\r\n1,2\r\n3,4\r\n\r\n  \n";
    char path[512];
    write_gz(path, sizeof path, "data.csv.gz", text, strlen(text));
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL);
    const float want[4] = {1, 2, 3, 4};
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.dim, 2);
    ck_assert_mem_eq(ds.x, want, sizeof want);
    ae_dataset_free(&ds);

    /* no final newline, CRLF, raw */
    write_text(path, sizeof path, "nofinal.CSV", "1,2\r\n3,4");
    load_ok(&ds, path, NULL);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_mem_eq(ds.x, want, sizeof want);
    ae_dataset_free(&ds);
}
END_TEST

START_TEST(test_csv_long_lines)
{
    /* 3 rows of 20000 columns: lines far longer than the read chunk */
    const size_t cols = 20000;
    size_t cap = 3 * cols * 8 + 16, k = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (size_t r = 0; r < 3; r++)
        for (size_t c = 0; c < cols; c++)
            k += (size_t)snprintf(text + k, cap - k, "%zu%c", (r * cols + c) % 1000,
                                  c + 1 == cols ? '\n' : ',');
    char path[512];
    write_gz(path, sizeof path, "wide.csv.gz", text, k);
    free(text);
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL);
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.dim, cols);
    const float *x = ds.x;
    for (size_t i = 0; i < 3 * cols; i++)
        ck_assert(x[i] == (float)(i % 1000));
    ae_dataset_free(&ds);
}
END_TEST

/* ---------------------------------------------------------- bad inputs */

START_TEST(test_missing_file)
{
    char path[512];
    tpath(path, sizeof path, "no-such-file.idx");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "cannot open", "No such file");
}
END_TEST

START_TEST(test_empty_file)
{
    char path[512];
    write_raw(path, sizeof path, "empty.idx", "", 0);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "empty", NULL);
    write_raw(path, sizeof path, "empty.csv", "", 0);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "empty", NULL);
    write_gz(path, sizeof path, "empty-idx.gz", "", 0);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "empty", NULL);
}
END_TEST

START_TEST(test_wrong_magic)
{
    const unsigned char b[12] = {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0, 0, 0, 1};
    char path[512];
    write_raw(path, sizeof path, "bad-magic.idx", b, sizeof b);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "not an IDX file", "12 34 56 78");
    write_raw(path, sizeof path, "mystery.bin", b, sizeof b);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "unknown format", "12 34 56 78");
    /* CSV text under a name that says neither */
    write_text(path, sizeof path, "table.txt", "1,2\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "unknown format", ".csv");
}
END_TEST

START_TEST(test_unsupported_type)
{
    unsigned char buf[64];
    char path[512];
    uint32_t d[1] = {1};
    size_t n = make_idx(buf, 0x0C, 1, d, "\0\0\0\1", 4);
    write_raw(path, sizeof path, "int32.idx", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "unsupported IDX element type 0x0C", "int32");
    n = make_idx(buf, 0x07, 1, d, "\1", 1);
    write_raw(path, sizeof path, "type7", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "unsupported IDX element type 0x07", NULL);
}
END_TEST

START_TEST(test_bad_ndims_and_zero_dim)
{
    unsigned char buf[64];
    char path[512];
    uint32_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    size_t n = make_idx(buf, 0x08, 0, d9, "\1", 1);
    write_raw(path, sizeof path, "ndims0.idx", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "0 dimensions", NULL);
    n = make_idx(buf, 0x08, 9, d9, "\1", 1);
    write_raw(path, sizeof path, "ndims9.idx", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "9 dimensions", NULL);
    uint32_t dz[2] = {3, 0};
    n = make_idx(buf, 0x08, 2, dz, NULL, 0);
    write_raw(path, sizeof path, "zero.idx", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "dimension 1 is 0", NULL);
    /* header cut inside the dims */
    n = make_idx(buf, 0x08, 3, k_u8_dims, NULL, 0);
    write_raw(path, sizeof path, "shorthead.idx", buf, n - 2);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "ends inside the IDX header", NULL);
}
END_TEST

START_TEST(test_truncated_and_trailing)
{
    unsigned char buf[64];
    char path[512];
    size_t n = make_idx(buf, 0x08, 3, k_u8_dims, k_u8, sizeof k_u8);
    write_raw(path, sizeof path, "short.idx", buf, n - 2);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT,
                      "header says 2 x 2 x 3 = 12 bytes of data, file has 10", NULL);
    write_gz(path, sizeof path, "short-idx.gz", buf, n - 2);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT,
                      "header says 2 x 2 x 3 = 12 bytes of data, file has 10", "gunzip");
    buf[n] = 9;
    write_raw(path, sizeof path, "long.idx", buf, n + 1);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "file has 13", "trailing");
    write_gz(path, sizeof path, "long-idx.gz", buf, n + 1);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "12 bytes", "trailing");
}
END_TEST

START_TEST(test_overflowing_dims)
{
    unsigned char buf[64];
    char path[512];
    uint32_t d4[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    size_t n = make_idx(buf, 0x08, 4, d4, "\1\2\3", 3);
    write_raw(path, sizeof path, "overflow.idx", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "overflow", "4294967295 x 4294967295");
    /* fits as a count, overflows once multiplied by 4 bytes per float */
    uint32_t d2[2] = {0xFFFFFFFFu, 0xFFFFFFFFu};
    n = make_idx(buf, 0x0D, 2, d2, "\1\2\3", 3);
    write_gz(path, sizeof path, "overflow-f32-idx.gz", buf, n);
    if (sizeof(size_t) == 8)
        EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "overflow", "float32");
}
END_TEST

START_TEST(test_alloc_cap)
{
    unsetenv("AE_MAX_ALLOC");
    size_t def = ae_alloc_cap();
    if (sizeof(size_t) == 8)
        ck_assert_uint_eq(def, (uint64_t)16 << 30);
    setenv("AE_MAX_ALLOC", "1000", 1);
    ck_assert_uint_eq(ae_alloc_cap(), 1000);
    setenv("AE_MAX_ALLOC", "abc", 1);
    ck_assert_uint_eq(ae_alloc_cap(), def);
    setenv("AE_MAX_ALLOC", "0", 1);
    ck_assert_uint_eq(ae_alloc_cap(), def);
    setenv("AE_MAX_ALLOC", "-5", 1);
    ck_assert_uint_eq(ae_alloc_cap(), def);
    setenv("AE_MAX_ALLOC", "99999999999999999999999", 1);
    ck_assert_uint_eq(ae_alloc_cap(), def);

    /* a 12-byte payload over a 10-byte cap is refused when read (raw and
     * gz); a mapped file allocates nothing for its examples */
    unsigned char buf[64];
    char path[512];
    size_t n = make_idx(buf, 0x08, 3, k_u8_dims, k_u8, sizeof k_u8);
    write_raw(path, sizeof path, "capped.idx", buf, n);
    setenv("AE_MAX_ALLOC", "10", 1);
    ae_dataset mapped = {0};
    load_ok(&mapped, path, NULL);
    ae_dataset_free(&mapped);
    setenv("AE_NO_MMAP", "1", 1);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_NOMEM, "allocation cap of 10 bytes", "AE_MAX_ALLOC");
    unsetenv("AE_NO_MMAP");
    write_gz(path, sizeof path, "capped-idx.gz", buf, n);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_NOMEM, "allocation cap of 10 bytes", NULL);
    unsetenv("AE_MAX_ALLOC");
}
END_TEST

#if !defined(__SANITIZE_ADDRESS__)
/* Virtual memory in use by this process, from /proc (0 if unknown). */
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

START_TEST(test_gz_huge_claim_fails_fast)
{
    /* A 40-byte gzip file claiming 3 x 4294967295 bytes (12.9 GB, under the
     * 16 GiB default cap).  Address space is limited to what we use plus
     * 1 GiB, so a loader that allocated the claim up front would get NULL and
     * report out-of-memory instead of the short data.  (ASan reserves huge
     * shadow mappings, so the limit is only set without it.) */
    unsetenv("AE_MAX_ALLOC");
    unsigned char buf[64];
    char path[512];
    uint32_t d[2] = {3, 0xFFFFFFFFu};
    size_t n = make_idx(buf, 0x08, 2, d, "0123456789", 10);
    write_gz(path, sizeof path, "huge-claim-idx.gz", buf, n);
#if !defined(__SANITIZE_ADDRESS__)
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
    size_t vm = vm_bytes();
    lim = old;
    if (vm && (old.rlim_cur == RLIM_INFINITY || old.rlim_cur > vm + ((rlim_t)1 << 30)))
        lim.rlim_cur = vm + ((rlim_t)1 << 30);
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &lim), 0);
#endif
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "= 12884901885 bytes of data, file has 10",
                      NULL);
#if !defined(__SANITIZE_ADDRESS__)
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &old), 0);
#endif
}
END_TEST

/* A gzip'ed IDX big enough that deflate uses Huffman blocks. */
static unsigned char *make_gz_idx(const char *name, char *path, size_t psize, size_t *gzlen)
{
    enum { N = 4000 };
    static unsigned char payload[N], buf[N + 64];
    uint32_t state = 12345;
    for (size_t i = 0; i < N; i++) {
        state = state * 1103515245u + 12345u;
        payload[i] = (unsigned char)((state >> 16) % 16); /* compressible, not trivially */
    }
    uint32_t d[2] = {40, 100};
    size_t n = make_idx(buf, 0x08, 2, d, payload, N);
    write_gz(path, psize, name, buf, n);
    return read_all(path, gzlen);
}

START_TEST(test_truncated_gz)
{
    char path[512];
    size_t len;
    unsigned char *gz = make_gz_idx("cut-trailer-idx.gz", path, sizeof path, &len);
    ae_dataset ds = {0};
    load_ok(&ds, path, NULL); /* the intact file loads */
    ck_assert_uint_eq(ds.n, 40);
    ae_dataset_free(&ds);
    /* drop the last 4 bytes (ISIZE): all data decompresses, the trailer is short */
    write_raw(path, sizeof path, "cut-trailer-idx.gz", gz, len - 4);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "gzip data is truncated", NULL);
    /* cut in the middle of the deflate stream */
    write_raw(path, sizeof path, "cut-half-idx.gz", gz, len / 2);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "gzip data is truncated", NULL);
    free(gz);
}
END_TEST

START_TEST(test_corrupt_gz)
{
    char path[512];
    size_t len;
    unsigned char *gz = make_gz_idx("corrupt-idx.gz", path, sizeof path, &len);
    for (size_t i = len / 2; i < len / 2 + 8; i++)
        gz[i] ^= 0x5A;
    write_raw(path, sizeof path, "corrupt-idx.gz", gz, len);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "gzip data is corrupt", NULL);
    /* a single flipped bit in the CRC trailer */
    for (size_t i = len / 2; i < len / 2 + 8; i++)
        gz[i] ^= 0x5A;
    gz[len - 8] ^= 0x01;
    write_raw(path, sizeof path, "bad-crc-idx.gz", gz, len);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "gzip data is corrupt", "incorrect data check");
    free(gz);
}
END_TEST

/* Missing cells: with allow_missing the tokens (after trimming) become NaN,
 * the first row's missing cells do not make it a header, a label cell is
 * never missing; without it the error names the cell and data.missing.
 * A float IDX NaN likewise. */
static const char *const k_missing[] = {"", "NA", "NaN", "nan", "?"};

START_TEST(test_csv_missing_cells)
{
    char path[512];
    write_text(path, sizeof path, "missing.csv", "1, NA,3\n,5, ?\nnan,NaN,9\n");
    ae_csv_options allow = {NULL, -1, k_missing, 5, 1, NULL, 0};
    ae_dataset ds = {0};
    load_ok(&ds, path, &allow);
    ck_assert_uint_eq(ds.n, 3); /* the first row is data, not a header */
    ck_assert_uint_eq(ds.dim, 3);
    const float *x = ds.x;
    const int miss[9] = {0, 1, 0, 1, 0, 1, 1, 1, 0};
    const float want[9] = {1, 0, 3, 0, 5, 0, 0, 0, 9};
    for (int i = 0; i < 9; i++)
        ck_assert_msg(miss[i] ? isnan(x[i]) : x[i] == want[i], "cell %d: %g", i, (double)x[i]);
    ae_dataset_free(&ds);
    /* not allowed: today's error, which now names the key */
    ae_csv_options deny = {NULL, -1, k_missing, 5, 0, NULL, 0};
    write_text(path, sizeof path, "missing2.csv", "a,b\n1,2\n3,NA\n");
    EXPECT_LOAD_ERROR(path, &deny, AE_ERR_INPUT, "line 3, column 2 ('b'): missing value 'NA'",
                      "data.missing \"allow\"");
    /* other tokens: "-" counts, "NA" is then an ordinary bad number */
    const char *const dash[] = {"-"};
    ae_csv_options other = {NULL, 1, dash, 1, 1, NULL, 0};
    write_text(path, sizeof path, "missing3.csv", "a,b\n1,-\n");
    load_ok(&ds, path, &other);
    ck_assert(isnan(((const float *)ds.x)[1]));
    ae_dataset_free(&ds);
    write_text(path, sizeof path, "missing4.csv", "a,b\n1,NA\n");
    EXPECT_LOAD_ERROR(path, &other, AE_ERR_INPUT, "cannot parse 'NA' as a number", NULL);
    /* a label is never missing */
    ae_csv_options lab = {"label", -1, k_missing, 5, 1, NULL, 0};
    write_text(path, sizeof path, "missing5.csv", "a,label\n1,NA\n");
    EXPECT_LOAD_ERROR(path, &lab, AE_ERR_INPUT, "line 2, column 2 ('label'): the label is missing "
                      "('NA', one of data.csv.missing)", NULL);
}
END_TEST

START_TEST(test_idx_f32_nan_allowed)
{
    unsigned char payload[8], buf[64];
    put_be32(payload, 0x3F800000u);
    put_be32(payload + 4, 0x7FC00000u);
    uint32_t dims[2] = {2, 1};
    size_t n = make_idx(buf, 0x0D, 2, dims, payload, sizeof payload);
    char path[512];
    write_raw(path, sizeof path, "nan-ok.idx", buf, n);
    ae_csv_options allow = {NULL, -1, NULL, 0, 1, NULL, 0};
    for (int mapped = 0; mapped < 2; mapped++) {
        if (!mapped)
            setenv("AE_NO_MMAP", "1", 1);
        ae_dataset ds = {0};
        load_ok(&ds, path, &allow);
        float v[2];
        ae_batch_gather(&ds, NULL, 0, 2, (const float[]){1}, (const float[]){0}, AE_BIN_NONE, NULL, v);
        ck_assert(v[0] == 1.0f && isnan(v[1]));
        ae_dataset_free(&ds);
        unsetenv("AE_NO_MMAP");
    }
    /* infinity stays an error */
    put_be32(payload + 4, 0x7F800000u);
    n = make_idx(buf, 0x0D, 2, dims, payload, sizeof payload);
    write_raw(path, sizeof path, "inf.idx", buf, n);
    EXPECT_LOAD_ERROR(path, &allow, AE_ERR_INPUT, "element 1 (example 1) is infinite", NULL);
}
END_TEST

START_TEST(test_csv_ragged)
{
    char path[512];
    write_text(path, sizeof path, "ragged.csv", "a,b,c\n1,2,3\n4,5\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 3 has 2 cells, expected 3", NULL);
    write_text(path, sizeof path, "ragged2.csv", "1,2\n3,4,5\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 2 has 3 cells, expected 2", NULL);
    write_text(path, sizeof path, "blank-mid.csv", "1,2\n\n3,4\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 2 is blank", NULL);
}
END_TEST

START_TEST(test_csv_bad_cells)
{
    char path[512];
    write_text(path, sizeof path, "abc.csv", "a,b\n1,2\n3,abc\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 3, column 2 ('b')", "'abc'");
    write_text(path, sizeof path, "suffix.csv", "1,2\n1.5x,2\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 2, column 1", "'1.5x'");
    write_text(path, sizeof path, "nan.csv", "x,y\n1,2\nnan,3\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 3, column 1 ('x')", "not a finite");
    write_text(path, sizeof path, "inf.csv", "1,2\n3,inf\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 2, column 2", "not a finite");
    write_text(path, sizeof path, "huge.csv", "1,2\n3,1e39\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 2, column 2", "not a finite");
    write_text(path, sizeof path, "emptycell.csv", "a,b,c\n1,,3\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 2, column 2 ('b')", "empty cell");
    write_text(path, sizeof path, "headonly.csv", "a,b,c\n");
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "no data rows", NULL);
    write_raw(path, sizeof path, "zeros.csv", "\0\0\x08\x01\0\0\0\1\7", 9);
    EXPECT_LOAD_ERROR(path, NULL, AE_ERR_INPUT, "line 1", "NUL byte");
}
END_TEST

START_TEST(test_csv_label_errors)
{
    char path[512];
    write_text(path, sizeof path, "lab.csv", "x,y,target\n1,2,3\n");
    ae_csv_options o = {"label", -1, NULL, 0, 0, NULL, 0};
    EXPECT_LOAD_ERROR(path, &o, AE_ERR_INPUT, "label column 'label' is not in the header",
                      "x, y, target");
    ae_csv_options o5 = {"5", -1, NULL, 0, 0, NULL, 0};
    EXPECT_LOAD_ERROR(path, &o5, AE_ERR_INPUT, "index 5 is out of range", "3 columns");
    write_text(path, sizeof path, "lab-noheader.csv", "1,2,3\n");
    EXPECT_LOAD_ERROR(path, &o, AE_ERR_INPUT, "no header row", NULL);
    write_text(path, sizeof path, "lab-bad.csv", "x,label\n1,2\n1,\n");
    EXPECT_LOAD_ERROR(path, &o, AE_ERR_INPUT, "line 3: the label is empty", NULL);
    char longname[200];
    memset(longname, 'a', 150);
    longname[150] = '\0';
    char text[300];
    snprintf(text, sizeof text, "x,label\n1,%s\n", longname);
    write_text(path, sizeof path, "lab-long.csv", text);
    EXPECT_LOAD_ERROR(path, &o, AE_ERR_INPUT, "line 2: the label 'aaaa", "is 150 bytes long");
    write_text(path, sizeof path, "lab-only.csv", "label\n1\n");
    EXPECT_LOAD_ERROR(path, &o, AE_ERR_INPUT, "no feature columns", NULL);
}
END_TEST

/* ------------------------------------------------------ truncate / free */

START_TEST(test_truncate_and_free)
{
    char path[512];
    write_text(path, sizeof path, "t.csv", "y,a,b\n1,1,2\n2,3,4\n3,5,6\n");
    ae_csv_options o = {"y", -1, NULL, 0, 0, NULL, 0};
    ae_dataset ds = {0};
    load_ok(&ds, path, &o);
    ae_dataset_truncate(&ds, 0);
    ck_assert_uint_eq(ds.n, 3);
    ae_dataset_truncate(&ds, 5);
    ck_assert_uint_eq(ds.n, 3);
    ae_dataset_truncate(&ds, 2);
    ck_assert_uint_eq(ds.n, 2);
    const float want[4] = {1, 2, 3, 4};
    ck_assert_mem_eq(ds.x, want, sizeof want);
    ck_assert_int_eq(ds.labels[1], 2);
    ae_dataset_free(&ds);
    ae_dataset zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_mem_eq(&ds, &zero, sizeof ds);
    ae_dataset_free(&ds); /* twice: the struct is zeroed */
    ae_dataset_free(NULL);
    ae_dataset_truncate(NULL, 3);
}
END_TEST

/* ------------------------------------------------------------- MNIST */

static void mnist_dir(char *out, size_t size)
{
    const char *env = getenv("AE_MNIST_DIR");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return;
    }
    /* <source>/tests/test_data.c -> <source>/../shared/data/mnist */
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    if (slash)
        snprintf(out, size, "%.*s/../../shared/data/mnist", (int)(slash - f), f);
    else
        snprintf(out, size, "../../shared/data/mnist");
}

START_TEST(test_mnist_t10k)
{
    char dir[512], images[600], labels[600];
    mnist_dir(dir, sizeof dir);
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (access(images, R_OK) != 0 || access(labels, R_OK) != 0) {
        fprintf(stderr, "test_mnist_t10k: skipped, %s not found\n", images);
        return;
    }
    ae_dataset ds = {0};
    load_ok(&ds, images, NULL);
    ck_assert_uint_eq(ds.n, 10000);
    ck_assert_uint_eq(ds.dim, 784);
    ck_assert_uint_eq(ds.img_h, 28);
    ck_assert_uint_eq(ds.img_w, 28);
    ck_assert_int_eq(ds.dtype, AE_DTYPE_U8);
    /* pixel sums of the first and last image (computed with Python's gzip) */
    const uint8_t *x = ds.x;
    unsigned long s0 = 0, s1 = 0;
    for (size_t i = 0; i < 784; i++) {
        s0 += x[i];
        s1 += x[9999 * 784 + i];
    }
    ck_assert_uint_eq(s0, 18454);
    ck_assert_uint_eq(s1, 41833);
    ae_error err = {{0}};
    ck_assert_msg(ae_dataset_load_labels(&ds, labels, NULL, 0, &err) == AE_OK, "%s", err.msg);
    ck_assert_int_eq(ds.labels[0], 7);
    ck_assert_int_eq(ds.labels[1], 2);
    ck_assert_int_eq(ds.labels[9999], 6);
    ae_dataset_truncate(&ds, 100);
    ck_assert_uint_eq(ds.n, 100);
    ck_assert_int_eq(ds.labels[0], 7);
    ae_dataset_free(&ds);
}
END_TEST

/* ------------------------------------------------------------- driver */

/* The test folder is flat: remove its files, then the folder. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
    }
    closedir(d);
    rmdir(dir);
}

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *ok = tcase_create("load");
    tcase_add_test(ok, test_idx_u8_raw);
    tcase_add_test(ok, test_idx_u8_gz);
    tcase_add_test(ok, test_idx_shapes_without_image);
    tcase_add_test(ok, test_idx_f32);
    tcase_add_test(ok, test_idx_mapped_matches_read);
    tcase_add_test(ok, test_labels_idx_u8_and_i32);
    tcase_add_test(ok, test_labels_csv);
    tcase_add_test(ok, test_labels_csv_names);
    tcase_add_test(ok, test_csv_label_names);
    tcase_add_test(ok, test_csv_no_header);
    tcase_add_test(ok, test_csv_header);
    tcase_add_test(ok, test_csv_label_by_name);
    tcase_add_test(ok, test_csv_label_by_index);
    tcase_add_test(ok, test_csv_gz_crlf_blank_end);
    tcase_add_test(ok, test_csv_long_lines);
    tcase_add_test(ok, test_truncate_and_free);
    tcase_add_test(ok, test_mnist_t10k);
    suite_add_tcase(s, ok);

    TCase *bad = tcase_create("bad_input");
    tcase_add_test(bad, test_missing_file);
    tcase_add_test(bad, test_empty_file);
    tcase_add_test(bad, test_wrong_magic);
    tcase_add_test(bad, test_unsupported_type);
    tcase_add_test(bad, test_bad_ndims_and_zero_dim);
    tcase_add_test(bad, test_truncated_and_trailing);
    tcase_add_test(bad, test_overflowing_dims);
    tcase_add_test(bad, test_alloc_cap);
    tcase_add_test(bad, test_gz_huge_claim_fails_fast);
    tcase_add_test(bad, test_truncated_gz);
    tcase_add_test(bad, test_corrupt_gz);
    tcase_add_test(bad, test_idx_f32_nan_rejected);
    tcase_add_test(ok, test_standardize_skips_missing);
    tcase_add_test(bad, test_labels_count_mismatch);
    tcase_add_test(bad, test_csv_ragged);
    tcase_add_test(ok, test_csv_missing_cells);
    tcase_add_test(ok, test_idx_f32_nan_allowed);
    tcase_add_test(bad, test_csv_bad_cells);
    tcase_add_test(bad, test_csv_label_errors);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ae_test_data.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    int rc = tu_run_suite(data_suite());
    remove_dir(g_dir);
    return rc;
}
