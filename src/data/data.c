/* Dataset loading: IDX (raw or gzip) and CSV (raw or gzip) into one [n x dim]
 * matrix plus optional labels (integers, or names: labels.c).
 *
 * Every file is read through zlib's gzread, which passes plain files through
 * unchanged, so compression is never a separate code path.  Sizes read from a
 * file are checked for overflow and against ae_alloc_cap() before anything is
 * allocated from them, and a claimed size is only allocated in full once the
 * data is proven to be there (plain files: by their size on disk; gzip: by
 * decompressing in growing chunks). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include "ae/data.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "labels.h"

#define AE_DEFAULT_ALLOC_CAP ((uint64_t)16 << 30)

size_t ae_alloc_cap(void)
{
    size_t cap = AE_DEFAULT_ALLOC_CAP > SIZE_MAX ? SIZE_MAX : (size_t)AE_DEFAULT_ALLOC_CAP;
    const char *env = getenv("AE_MAX_ALLOC");
    if (!env || !*env)
        return cap;
    for (const char *p = env; *p; p++)
        if (*p < '0' || *p > '9')
            return cap; /* not a plain positive integer: ignore it */
    errno = 0;
    unsigned long long v = strtoull(env, NULL, 10);
    if (errno == ERANGE || v == 0)
        return cap;
    return v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

ae_status ae_deflate_size(const unsigned char *buf, size_t n, size_t *bytes, ae_error *err)
{
    uLong cap = compressBound((uLong)n);
    if ((size_t)(uLong)n != n || cap < n) {
        ae_error_set(err, "deflate: %zu bytes are too many for one call", n);
        return AE_ERR_USAGE;
    }
    Bytef *out = malloc(cap);
    if (!out) {
        ae_error_set(err, "deflate: out of memory for %zu bytes", n);
        return AE_ERR_NOMEM;
    }
    uLongf len = cap;
    int zr = compress2(out, &len, buf, (uLong)n, 9);
    free(out);
    if (zr != Z_OK) {
        ae_error_set(err, "deflate failed (zlib error %d)", zr);
        return AE_ERR_NOMEM; /* compress2 fails only for memory (the bound fits) */
    }
    *bytes = (size_t)len;
    return AE_OK;
}

/* ------------------------------------------------------------------------ */
/* Input source: one file read through zlib (gzip or plain).                */

typedef struct {
    const char *path;
    gzFile gz;
    int regular;         /* a regular file, so file_size is meaningful */
    uint64_t file_size;  /* bytes on disk (compressed size for gzip) */
    int read_errno;      /* errno right after a failed gzread */
    int fd;              /* the file (owned by gz; for mapping) */
} src_file;

struct ae_mapping {
    void *base;
    size_t len;
    size_t read;         /* bytes read through the map since its pages were last released */
    int fd;              /* the file, for ae_dataset_row's pread */
    size_t offset;       /* where the examples start */
    size_t row_bytes;
    unsigned char *row;  /* [row_bytes] ae_dataset_row's copy */
};

static ae_status src_open(src_file *s, const char *path, ae_error *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ae_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return AE_ERR_INPUT;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ae_error_set(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return AE_ERR_INPUT;
    }
    if (S_ISDIR(st.st_mode)) {
        ae_error_set(err, "%s: is a directory, expected a data file", path);
        close(fd);
        return AE_ERR_INPUT;
    }
    s->regular = S_ISREG(st.st_mode);
    s->file_size = (uint64_t)st.st_size;
    s->fd = fd;
    s->gz = gzdopen(fd, "rb"); /* owns fd from here on */
    if (!s->gz) {
        close(fd);
        ae_error_set(err, "%s: cannot allocate the zlib reader", path);
        return AE_ERR_NOMEM;
    }
    gzbuffer(s->gz, 1u << 17);
    return AE_OK;
}

static void src_close(src_file *s)
{
    if (s->gz)
        gzclose(s->gz);
    s->gz = NULL;
}

/* zlib keeps a sticky error state; a truncated gzip stream shows up only
 * there (Z_BUF_ERROR) while gzread just returns fewer bytes. */
static ae_status src_check(const src_file *s, ae_error *err)
{
    int errnum = Z_OK;
    const char *zmsg = gzerror(s->gz, &errnum);
    switch (errnum) {
    case Z_OK:
        return AE_OK;
    case Z_ERRNO:
        ae_error_set(err, "%s: read failed: %s", s->path, strerror(s->read_errno));
        return AE_ERR_INPUT;
    case Z_MEM_ERROR:
        ae_error_set(err, "%s: out of memory while decompressing", s->path);
        return AE_ERR_NOMEM;
    case Z_BUF_ERROR:
        ae_error_set(err, "%s: gzip data is truncated (the compressed stream ends early)",
                     s->path);
        return AE_ERR_INPUT;
    default:
        ae_error_set(err, "%s: gzip data is corrupt (zlib: %s)", s->path, zmsg ? zmsg : "?");
        return AE_ERR_INPUT;
    }
}

/* Reads up to len decompressed bytes; *got < len means the end of the data. */
static ae_status src_read(src_file *s, void *buf, size_t len, size_t *got, ae_error *err)
{
    unsigned char *p = buf;
    size_t total = 0;
    while (total < len) {
        size_t want = len - total;
        if (want > (1u << 30)) /* gzread takes an unsigned and returns an int */
            want = 1u << 30;
        errno = 0;
        int k = gzread(s->gz, p + total, (unsigned)want);
        if (k <= 0) {
            s->read_errno = errno;
            break;
        }
        total += (size_t)k;
    }
    *got = total;
    return src_check(s, err);
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    if (lx > ls)
        return 0;
    s += ls - lx;
    for (size_t i = 0; i < lx; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return 0;
    }
    return 1;
}

static int is_csv_name(const char *path)
{
    return ends_with_ci(path, ".csv") || ends_with_ci(path, ".csv.gz");
}

/* "train-images-idx3-ubyte.gz", "x.idx": the name says IDX, so a wrong magic
 * is reported as a broken IDX file rather than an unknown format. */
static int is_idx_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (const char *p = base; p[0] && p[1] && p[2]; p++)
        if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'd' || p[1] == 'D') &&
            (p[2] == 'x' || p[2] == 'X'))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* IDX.  Header: 00 00 <type> <ndims>, then ndims big-endian uint32 sizes,   */
/* then the elements big-endian in row-major order.  Header parsing works on */
/* bytes only, so a memory-mapped file can use it unchanged.                 */

#define IDX_MAX_DIMS 8
#define IDX_TYPE_U8 0x08
#define IDX_TYPE_I32 0x0C
#define IDX_TYPE_F32 0x0D
#define IDX_FIRST_CHUNK ((size_t)1 << 20)

typedef struct {
    unsigned char type;
    const char *type_name;
    size_t elem_size;
    int ndims;
    uint32_t dims[IDX_MAX_DIMS];
    size_t count;         /* product of dims */
    size_t payload_bytes; /* count * elem_size */
    size_t header_bytes;  /* 4 + 4 * ndims */
} idx_header;

static const struct {
    unsigned char code;
    const char *name;
    size_t size;
} idx_types[] = {
    {0x08, "uint8", 1},  {0x09, "int8", 1},     {0x0B, "int16", 2},
    {0x0C, "int32", 4},  {0x0D, "float32", 4},  {0x0E, "float64", 8},
};

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* count big-endian float32 elements at b, the first being element `first`
 * of the file: NaN and infinity are refused (training cannot use them),
 * naming the element and its example (dim per example).  With out, the
 * values are also written there as host floats (out may be b itself). */
static ae_status be_f32_check(const unsigned char *b, size_t count, size_t first, size_t dim,
                              const char *path, unsigned char *out, int allow_nan, ae_error *err)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t u = be32(b + 4 * i);
        float f;
        memcpy(&f, &u, sizeof f);
        if (!isfinite(f) && !(allow_nan && isnan(f))) {
            ae_error_set(err, "%s: element %zu (example %zu) is %s%s", path, first + i,
                         (first + i) / dim, isnan(f) ? "NaN" : "infinite",
                         isnan(f) ? " (a missing value: data.missing \"allow\" accepts them)"
                                  : "");
            return AE_ERR_INPUT;
        }
        if (out)
            memcpy(out + 4 * i, &f, sizeof f);
    }
    return AE_OK;
}

static void idx_dims_str(const idx_header *h, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < h->ndims && k < size; i++) {
        int w = snprintf(buf + k, size - k, "%s%" PRIu32, i ? " x " : "", h->dims[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    if (h->elem_size > 1 && k < size)
        snprintf(buf + k, size - k, " x %zu-byte %s", h->elem_size, h->type_name);
}

static ae_status idx_parse_magic(const unsigned char *b, size_t avail, idx_header *h,
                                 const char *path, ae_error *err)
{
    memset(h, 0, sizeof *h);
    if (avail < 4) {
        ae_error_set(err, "%s: file is too short for an IDX header (%zu bytes)", path, avail);
        return AE_ERR_INPUT;
    }
    if (b[0] != 0 || b[1] != 0) {
        ae_error_set(err,
                     "%s: not an IDX file: magic bytes are %02x %02x %02x %02x, expected 00 00 "
                     "<type> <ndims>",
                     path, b[0], b[1], b[2], b[3]);
        return AE_ERR_INPUT;
    }
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == b[2]) {
            h->type = b[2];
            h->type_name = idx_types[i].name;
            h->elem_size = idx_types[i].size;
        }
    if (!h->type_name) {
        ae_error_set(err, "%s: unsupported IDX element type 0x%02X (not an IDX type code)",
                     path, b[2]);
        return AE_ERR_INPUT;
    }
    if (b[3] == 0 || b[3] > IDX_MAX_DIMS) {
        ae_error_set(err, "%s: IDX header has %d dimensions, expected 1 to %d", path, b[3],
                     IDX_MAX_DIMS);
        return AE_ERR_INPUT;
    }
    h->ndims = b[3];
    h->header_bytes = 4 + 4 * (size_t)h->ndims;
    return AE_OK;
}

/* b holds the 4 * ndims bytes after the magic. */
static ae_status idx_parse_dims(const unsigned char *b, size_t avail, idx_header *h,
                                const char *path, ae_error *err)
{
    if (avail < 4 * (size_t)h->ndims) {
        ae_error_set(err, "%s: file ends inside the IDX header (%d dimensions need %zu bytes, "
                     "file has %zu)", path, h->ndims, h->header_bytes, 4 + avail);
        return AE_ERR_INPUT;
    }
    for (int i = 0; i < h->ndims; i++)
        h->dims[i] = be32(b + 4 * i);
    char dims[160];
    idx_dims_str(h, dims, sizeof dims);
    size_t count = 1;
    for (int i = 0; i < h->ndims; i++) {
        if (h->dims[i] == 0) {
            ae_error_set(err, "%s: IDX dimension %d is 0 (%s)", path, i, dims);
            return AE_ERR_INPUT;
        }
        if (count > SIZE_MAX / h->dims[i]) {
            ae_error_set(err, "%s: IDX dimensions %s overflow the address space", path, dims);
            return AE_ERR_INPUT;
        }
        count *= h->dims[i];
    }
    if (count > SIZE_MAX / h->elem_size) {
        ae_error_set(err, "%s: IDX dimensions %s overflow the address space", path, dims);
        return AE_ERR_INPUT;
    }
    h->count = count;
    h->payload_bytes = count * h->elem_size;
    return AE_OK;
}

/* The caller has read the first got (<= 4) bytes into magic (to pick the format). */
static ae_status idx_read_header(src_file *s, const unsigned char *magic, size_t got,
                                 idx_header *h, ae_error *err)
{
    ae_status st = idx_parse_magic(magic, got, h, s->path, err);
    if (st != AE_OK)
        return st;
    unsigned char b[4 * IDX_MAX_DIMS];
    size_t n;
    st = src_read(s, b, 4 * (size_t)h->ndims, &n, err);
    if (st != AE_OK)
        return st;
    return idx_parse_dims(b, n, h, s->path, err);
}

/* A plain file must hold exactly the header and the data it announces. */
static ae_status idx_check_plain_size(const src_file *s, const idx_header *h, ae_error *err)
{
    uint64_t present = s->file_size > h->header_bytes ? s->file_size - h->header_bytes : 0;
    if (present != h->payload_bytes) {
        char dims[160];
        idx_dims_str(h, dims, sizeof dims);
        ae_error_set(err, "%s: header says %s = %zu bytes of data, file has %" PRIu64 "%s",
                     s->path, dims, h->payload_bytes, present,
                     present > h->payload_bytes ? " (trailing data after the last example)" : "");
        return AE_ERR_INPUT;
    }
    return AE_OK;
}

static void map_release(struct ae_mapping *m)
{
    madvise(m->base, m->len, MADV_DONTNEED);
    m->read = 0;
}

const void *ae_dataset_row(const ae_dataset *ds, size_t row)
{
    struct ae_mapping *m = ds->map;
    size_t row_bytes = ds->dim * (ds->dtype == AE_DTYPE_U8 ? 1 : 4);
    const unsigned char *mapped = (const unsigned char *)ds->x + row * row_bytes;
    if (!m)
        return mapped;
    size_t done = 0;
    while (done < row_bytes) {
        ssize_t k = pread(m->fd, m->row + done, row_bytes - done,
                          (off_t)(m->offset + row * row_bytes + done));
        if (k <= 0)
            return mapped; /* a read error: let the map report it */
        done += (size_t)k;
    }
    return m->row;
}

void ae_dataset_pages_read(const ae_dataset *ds, size_t bytes)
{
    struct ae_mapping *m = ds ? ds->map : NULL;
    if (!m || m->len <= AE_MAP_WINDOW)
        return; /* a file smaller than the window never needs it */
    m->read += bytes;
    if (m->read >= AE_MAP_WINDOW)
        map_release(m);
}

static int mmap_disabled(void)
{
    const char *env = getenv("AE_NO_MMAP");
    return env && *env && strcmp(env, "0") != 0;
}

/* Maps a plain IDX file's data instead of reading it: *map_out is NULL when
 * the file cannot be mapped (the caller then reads it). */
static ae_status idx_map_payload(src_file *s, const idx_header *h, struct ae_mapping **map_out,
                                 ae_error *err)
{
    *map_out = NULL;
    ae_status st = idx_check_plain_size(s, h, err);
    if (st != AE_OK)
        return st;
    struct ae_mapping *m = calloc(1, sizeof *m);
    if (!m) {
        ae_error_set(err, "%s: out of memory", s->path);
        return AE_ERR_NOMEM;
    }
    m->len = (size_t)s->file_size;
    m->offset = h->header_bytes;
    m->row_bytes = h->dims[0] ? h->payload_bytes / h->dims[0] : 0;
    m->row = malloc(m->row_bytes ? m->row_bytes : 1);
    m->fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
    m->base = m->row && m->fd >= 0 ? mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, s->fd, 0)
                                   : MAP_FAILED;
    if (m->base == MAP_FAILED) {
        /* not mappable (a special file system): read it instead */
        if (m->fd >= 0)
            close(m->fd);
        free(m->row);
        free(m);
        return AE_OK;
    }
    *map_out = m;
    return AE_OK;
}

/* A mapped float32 file is checked for NaN/inf in place, a window at a time. */
static ae_status idx_check_f32_mapped(struct ae_mapping *m, size_t offset, size_t count,
                                      size_t dim, const char *path, int allow_nan, ae_error *err)
{
    const unsigned char *p = (const unsigned char *)m->base + offset;
    const size_t window = AE_MAP_WINDOW / 4;
    for (size_t i = 0; i < count; i += window) {
        size_t k = count - i < window ? count - i : window;
        ae_status st = be_f32_check(p + 4 * i, k, i, dim, path, NULL, allow_nan, err);
        map_release(m);
        if (st != AE_OK)
            return st;
    }
    return AE_OK;
}

/* Reads exactly h->payload_bytes after the header into a malloc'ed *out and
 * checks that nothing follows them. */
static ae_status idx_read_payload(src_file *s, const idx_header *h, unsigned char **out,
                                  ae_error *err)
{
    const size_t want = h->payload_bytes;
    const int plain = gzdirect(s->gz);
    char dims[160];
    idx_dims_str(h, dims, sizeof dims);
    const char *where = plain ? "" : " after gunzip";

    /* A plain file's size proves (or disproves) the claim before allocating. */
    int proven = 0;
    if (plain && s->regular) {
        ae_status st = idx_check_plain_size(s, h, err);
        if (st != AE_OK)
            return st;
        proven = 1;
    }
    size_t cap = ae_alloc_cap();
    if (want > cap) {
        ae_error_set(err, "%s: header says %s = %zu bytes of data, more than the allocation "
                     "cap of %zu bytes (set AE_MAX_ALLOC to raise it)", s->path, dims, want, cap);
        return AE_ERR_NOMEM;
    }

    /* gzip: grow the buffer only as fast as data actually arrives, so a tiny
     * file claiming gigabytes fails after reading what it really holds. */
    size_t size = proven || want < IDX_FIRST_CHUNK ? want : IDX_FIRST_CHUNK;
    unsigned char *buf = malloc(size);
    if (!buf) {
        ae_error_set(err, "%s: cannot allocate %zu bytes", s->path, size);
        return AE_ERR_NOMEM;
    }
    size_t have = 0;
    ae_status st;
    for (;;) {
        size_t got;
        st = src_read(s, buf + have, size - have, &got, err);
        if (st != AE_OK)
            goto fail;
        have += got;
        if (have < size || size == want)
            break;
        size_t grown = size <= want / 2 ? size * 2 : want;
        unsigned char *p = realloc(buf, grown);
        if (!p) {
            ae_error_set(err, "%s: cannot allocate %zu bytes", s->path, grown);
            st = AE_ERR_NOMEM;
            goto fail;
        }
        buf = p;
        size = grown;
    }
    if (have < want) {
        ae_error_set(err, "%s: header says %s = %zu bytes of data, file has %zu%s", s->path,
                     dims, want, have, where);
        st = AE_ERR_INPUT;
        goto fail;
    }
    /* Reading past the end also makes zlib verify the gzip CRC and length. */
    unsigned char extra;
    size_t got;
    st = src_read(s, &extra, 1, &got, err);
    if (st != AE_OK)
        goto fail;
    if (got) {
        ae_error_set(err, "%s: header says %s = %zu bytes of data, file has more%s (trailing "
                     "data after the last example)", s->path, dims, want, where);
        st = AE_ERR_INPUT;
        goto fail;
    }
    *out = buf;
    return AE_OK;
fail:
    free(buf);
    return st;
}

static ae_status idx_load_data(src_file *s, const unsigned char *magic, size_t got,
                               int allow_nan, ae_dataset *out, ae_error *err)
{
    idx_header h;
    ae_status st = idx_read_header(s, magic, got, &h, err);
    if (st != AE_OK)
        return st;
    if (h.type != IDX_TYPE_U8 && h.type != IDX_TYPE_F32) {
        ae_error_set(err, "%s: unsupported IDX element type 0x%02X (%s): data must be uint8 "
                     "(0x08) or float32 (0x0D)", s->path, h.type, h.type_name);
        return AE_ERR_INPUT;
    }
    size_t dim = h.dims[0] ? h.count / h.dims[0] : 0;
    struct ae_mapping *map = NULL;
    if (gzdirect(s->gz) && s->regular && h.payload_bytes > 0 && !mmap_disabled()) {
        st = idx_map_payload(s, &h, &map, err);
        if (st != AE_OK)
            return st;
    }
    if (map) {
        if (h.type == IDX_TYPE_F32 &&
            (st = idx_check_f32_mapped(map, h.header_bytes, h.count, dim, s->path, allow_nan,
                                       err))) {
            ae_dataset tmp = {0};
            tmp.map = map;
            ae_dataset_free(&tmp);
            return st;
        }
        memset(out, 0, sizeof *out);
        out->n = h.dims[0];
        out->dim = dim;
        out->dtype = h.type == IDX_TYPE_U8 ? AE_DTYPE_U8 : AE_DTYPE_F32BE;
        out->x = (const unsigned char *)map->base + h.header_bytes;
        out->map = map;
        if (h.ndims == 3) {
            out->img_h = h.dims[1];
            out->img_w = h.dims[2];
        }
        return AE_OK;
    }
    unsigned char *buf;
    st = idx_read_payload(s, &h, &buf, err);
    if (st != AE_OK)
        return st;
    if (h.type == IDX_TYPE_F32) {
        st = be_f32_check(buf, h.count, 0, dim, s->path, buf, allow_nan, err);
        if (st != AE_OK) {
            free(buf);
            return st;
        }
    }
    memset(out, 0, sizeof *out);
    out->n = h.dims[0];
    out->dim = dim;
    out->dtype = h.type == IDX_TYPE_U8 ? AE_DTYPE_U8 : AE_DTYPE_F32;
    out->x = buf;
    if (h.ndims == 3) {
        out->img_h = h.dims[1];
        out->img_w = h.dims[2];
    }
    return AE_OK;
}

static ae_status idx_load_labels(src_file *s, const unsigned char *magic, size_t got,
                                 size_t expect_n, int32_t **labels, ae_error *err)
{
    idx_header h;
    ae_status st = idx_read_header(s, magic, got, &h, err);
    if (st != AE_OK)
        return st;
    if (h.type != IDX_TYPE_U8 && h.type != IDX_TYPE_I32) {
        ae_error_set(err, "%s: unsupported IDX element type 0x%02X (%s): labels must be uint8 "
                     "(0x08) or int32 (0x0C)", s->path, h.type, h.type_name);
        return AE_ERR_INPUT;
    }
    if (h.ndims != 1) {
        char dims[160];
        idx_dims_str(&h, dims, sizeof dims);
        ae_error_set(err, "%s: labels file must have 1 dimension, this one has %d (%s)",
                     s->path, h.ndims, dims);
        return AE_ERR_INPUT;
    }
    if (h.count != expect_n) {
        ae_error_set(err, "%s: labels file has %zu labels, data has %zu examples", s->path,
                     h.count, expect_n);
        return AE_ERR_INPUT;
    }
    if (h.count > SIZE_MAX / sizeof(int32_t) || h.count * sizeof(int32_t) > ae_alloc_cap()) {
        ae_error_set(err, "%s: %zu labels exceed the allocation cap (AE_MAX_ALLOC)", s->path,
                     h.count);
        return AE_ERR_NOMEM;
    }
    unsigned char *buf;
    st = idx_read_payload(s, &h, &buf, err);
    if (st != AE_OK)
        return st;
    int32_t *lab = malloc(h.count * sizeof *lab);
    if (!lab) {
        free(buf);
        ae_error_set(err, "%s: cannot allocate %zu labels", s->path, h.count);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < h.count; i++) {
        if (h.type == IDX_TYPE_U8) {
            lab[i] = buf[i];
            continue;
        }
        uint32_t u = be32(buf + 4 * i);
        if (u > INT32_MAX) {
            ae_error_set(err, "%s: label %zu is negative (%" PRId64 ")", s->path, i,
                         (int64_t)u - ((int64_t)1 << 32));
            free(buf);
            free(lab);
            return AE_ERR_INPUT;
        }
        lab[i] = (int32_t)u;
    }
    free(buf);
    *labels = lab;
    return AE_OK;
}

/* ------------------------------------------------------------------------ */
/* CSV, read line by line through a growing line buffer.                    */

#define CSV_CHUNK ((size_t)1 << 16)

typedef struct {
    src_file *s;
    unsigned char *buf; /* [CSV_CHUNK] decompressed bytes not yet consumed */
    size_t pos, len;
    int eof;
    char *line;         /* [line_cap] current line, NUL-terminated, no \n or \r\n */
    size_t line_len, line_cap;
    size_t lineno;      /* 1-based number of the current line */
} line_reader;

/* prefix: bytes already read from s (the format sniff), consumed first. */
static ae_status lr_init(line_reader *lr, src_file *s, const unsigned char *prefix,
                         size_t prefix_len, ae_error *err)
{
    memset(lr, 0, sizeof *lr);
    lr->s = s;
    lr->buf = malloc(CSV_CHUNK);
    if (!lr->buf) {
        ae_error_set(err, "%s: cannot allocate the read buffer", s->path);
        return AE_ERR_NOMEM;
    }
    memcpy(lr->buf, prefix, prefix_len);
    lr->len = prefix_len;
    return AE_OK;
}

static void lr_free(line_reader *lr)
{
    free(lr->buf);
    free(lr->line);
}

static ae_status lr_append(line_reader *lr, const unsigned char *p, size_t k, ae_error *err)
{
    if (k > SIZE_MAX - 1 - lr->line_len) {
        ae_error_set(err, "%s: line %zu is too long", lr->s->path, lr->lineno + 1);
        return AE_ERR_NOMEM;
    }
    size_t need = lr->line_len + k + 1;
    if (need > lr->line_cap) {
        size_t cap = lr->line_cap < 256 ? 256 : lr->line_cap;
        while (cap < need)
            cap = cap <= SIZE_MAX / 2 ? cap * 2 : need;
        if (cap > ae_alloc_cap()) {
            ae_error_set(err, "%s: line %zu is longer than the allocation cap of %zu bytes "
                         "(AE_MAX_ALLOC)", lr->s->path, lr->lineno + 1, ae_alloc_cap());
            return AE_ERR_NOMEM;
        }
        char *q = realloc(lr->line, cap);
        if (!q) {
            ae_error_set(err, "%s: cannot allocate %zu bytes for line %zu", lr->s->path, cap,
                         lr->lineno + 1);
            return AE_ERR_NOMEM;
        }
        lr->line = q;
        lr->line_cap = cap;
    }
    memcpy(lr->line + lr->line_len, p, k);
    lr->line_len += k;
    lr->line[lr->line_len] = '\0';
    return AE_OK;
}

/* Next line into lr->line; *have = 0 at the end of the file. */
static ae_status lr_next(line_reader *lr, int *have, ae_error *err)
{
    ae_status st;
    int newline = 0;
    lr->line_len = 0;
    *have = 0;
    for (;;) {
        if (lr->pos == lr->len) {
            if (lr->eof)
                break;
            size_t got;
            st = src_read(lr->s, lr->buf, CSV_CHUNK, &got, err);
            if (st != AE_OK)
                return st;
            lr->pos = 0;
            lr->len = got;
            lr->eof = got < CSV_CHUNK;
            if (got == 0)
                break;
        }
        const unsigned char *start = lr->buf + lr->pos;
        size_t avail = lr->len - lr->pos;
        const unsigned char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if ((st = lr_append(lr, start, take, err)) != AE_OK)
            return st;
        lr->pos += take + (nl ? 1 : 0);
        if (nl) {
            newline = 1;
            break;
        }
    }
    if (!newline && lr->line_len == 0)
        return AE_OK; /* end of file (a final line without \n still counts) */
    lr->lineno++;
    if (lr->line_len > 0 && lr->line[lr->line_len - 1] == '\r')
        lr->line[--lr->line_len] = '\0';
    *have = 1;
    return AE_OK;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return 0;
    return 1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    return s;
}

/* Splits line in place at commas into trimmed, NUL-terminated cells. */
static ae_status split_cells(char *line, char ***cells, size_t *cap, size_t *count,
                             const char *path, ae_error *err)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            char **q = ncap <= SIZE_MAX / sizeof *q ? realloc(*cells, ncap * sizeof *q) : NULL;
            if (!q) {
                ae_error_set(err, "%s: cannot allocate the cell index", path);
                return AE_ERR_NOMEM;
            }
            *cells = q;
            *cap = ncap;
        }
        (*cells)[n++] = trim(p);
        if (!comma)
            break;
        p = comma + 1;
    }
    *count = n;
    return AE_OK;
}

enum { NUM_OK, NUM_EMPTY, NUM_SYNTAX, NUM_NONFINITE };

/* The whole cell must be one finite float (strtof; subnormal underflow is fine). */
static int parse_number(const char *cell, float *out)
{
    if (!*cell)
        return NUM_EMPTY;
    char *end;
    float v = strtof(cell, &end);
    if (end == cell || *end)
        return NUM_SYNTAX;
    if (!isfinite(v))
        return NUM_NONFINITE;
    *out = v;
    return NUM_OK;
}

static int parse_label(const char *cell, int32_t *out)
{
    if (!*cell)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(cell, &end, 10);
    if (end == cell || *end || errno == ERANGE || v < 0 || v > INT32_MAX)
        return 0;
    *out = (int32_t)v;
    return 1;
}

typedef struct {
    const char *label_column; /* NULL/"" = none */
    int header;               /* -1 auto, 0 no, 1 yes */
    int labels_only;          /* one column -> labels, no features */
    const char *const *missing; /* cells that mean "missing" */
    size_t n_missing;
    int allow_missing;        /* they become NaN; else they are an error naming data.missing */
    ae_label_table *names;    /* labels are interned here (their ids are the labels until
                                 ae_label_resolve); NULL: integers only (streaming) */
} csv_spec;

/* The 0-based index of a label column given in digits (SIZE_MAX otherwise). */
static size_t label_column_digits(const char *label)
{
    if (!label || !*label)
        return SIZE_MAX;
    for (const char *p = label; *p; p++)
        if (*p < '0' || *p > '9')
            return SIZE_MAX;
    errno = 0;
    unsigned long long v = strtoull(label, NULL, 10);
    return errno == ERANGE || v >= SIZE_MAX ? SIZE_MAX - 1 : (size_t)v;
}

/* Whether cell (trimmed) is one of the spec's missing-value tokens. */
static int is_missing(const csv_spec *spec, const char *cell)
{
    for (size_t k = 0; k < spec->n_missing; k++)
        if (!strcmp(cell, spec->missing[k]))
            return 1;
    return 0;
}

typedef struct {
    const char *path;
    char **names;  /* [ncols] header names, or NULL without a header */
    size_t ncols;
} csv_columns;

static void csv_cell_where(const csv_columns *c, size_t col, char *buf, size_t size)
{
    if (c->names)
        snprintf(buf, size, "column %zu ('%.40s')", col + 1, c->names[col]);
    else
        snprintf(buf, size, "column %zu", col + 1);
}

static ae_status csv_number_error(const csv_columns *c, size_t lineno, size_t col,
                                  const char *cell, int why, ae_error *err)
{
    char where[96];
    csv_cell_where(c, col, where, sizeof where);
    if (why == NUM_EMPTY)
        ae_error_set(err, "%s: line %zu, %s: empty cell, expected a number", c->path, lineno,
                     where);
    else if (why == NUM_NONFINITE)
        ae_error_set(err, "%s: line %zu, %s: '%.40s' is not a finite float32 number", c->path,
                     lineno, where, cell);
    else
        ae_error_set(err, "%s: line %zu, %s: cannot parse '%.40s' as a number", c->path,
                     lineno, where, cell);
    return AE_ERR_INPUT;
}

/* Resolves spec->label_column against the first row; *col = SIZE_MAX for none. */
static ae_status csv_label_index(const csv_columns *c, const char *label, size_t *col,
                                 ae_error *err)
{
    *col = SIZE_MAX;
    if (!label || !*label)
        return AE_OK;
    int digits = 1;
    for (const char *p = label; *p; p++)
        if (*p < '0' || *p > '9')
            digits = 0;
    if (digits) {
        errno = 0;
        unsigned long long v = strtoull(label, NULL, 10);
        if (errno == ERANGE || v >= c->ncols) {
            ae_error_set(err, "%s: label column index %s is out of range: the file has %zu "
                         "columns (0-based indices 0 to %zu)", c->path, label, c->ncols,
                         c->ncols - 1);
            return AE_ERR_INPUT;
        }
        *col = (size_t)v;
        return AE_OK;
    }
    if (!c->names) {
        ae_error_set(err, "%s: label column '%s' is given by name but the file has no header "
                     "row", c->path, label);
        return AE_ERR_INPUT;
    }
    for (size_t i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], label) == 0) {
            *col = i;
            return AE_OK;
        }
    char list[400];
    ae_names_join((const char *const *)c->names, c->ncols, list, sizeof list);
    ae_error_set(err, "%s: label column '%s' is not in the header (columns: %s)", c->path,
                 label, list);
    return AE_ERR_INPUT;
}

/* Header names lose one pair of surrounding double quotes ("label" -> label). */
static char *header_name_dup(const char *cell)
{
    size_t len = strlen(cell);
    if (len >= 2 && cell[0] == '"' && cell[len - 1] == '"') {
        cell++;
        len -= 2;
    }
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, cell, len);
        s[len] = '\0';
    }
    return s;
}

/* Grows the row storage (x: [rows x dim] floats, labels: [rows]) by doubling. */
static ae_status csv_grow(size_t *rows_cap, size_t dim, float **x, int32_t **labels,
                          int with_labels, const char *path, ae_error *err)
{
    size_t cap = ae_alloc_cap();
    if (*rows_cap > SIZE_MAX / 2)
        goto too_big;
    size_t rows = *rows_cap ? *rows_cap * 2 : 1024;
    if (dim) {
        if (rows > SIZE_MAX / dim || rows * dim > SIZE_MAX / sizeof(float) ||
            rows * dim * sizeof(float) > cap)
            goto too_big;
        float *p = realloc(*x, rows * dim * sizeof(float));
        if (!p)
            goto nomem;
        *x = p;
    }
    if (with_labels) {
        if (rows > SIZE_MAX / sizeof(int32_t) || rows * sizeof(int32_t) > cap)
            goto too_big;
        int32_t *p = realloc(*labels, rows * sizeof(int32_t));
        if (!p)
            goto nomem;
        *labels = p;
    }
    *rows_cap = rows;
    return AE_OK;
too_big:
    ae_error_set(err, "%s: more than %zu rows of %zu columns exceed the allocation cap of %zu "
                 "bytes (set AE_MAX_ALLOC to raise it)", path, *rows_cap, dim, cap);
    return AE_ERR_NOMEM;
nomem:
    ae_error_set(err, "%s: cannot allocate room for %zu rows", path, *rows_cap * 2);
    return AE_ERR_NOMEM;
}

/* Receives each parsed CSV row: dim features (NULL for a labels-only file)
 * and the label (when the file has a label column). */
typedef ae_status (*csv_row_fn)(void *ctx, size_t dim, const float *row, int has_label,
                                int32_t label, const char *path, ae_error *err);

/* Parses the CSV and hands each data row to emit; *rows: how many. */
static ae_status csv_scan(src_file *s, const unsigned char *prefix, size_t prefix_len,
                          const csv_spec *spec, csv_row_fn emit, void *ctx, size_t *rows,
                          ae_error *err)
{
    line_reader lr;
    ae_status st = lr_init(&lr, s, prefix, prefix_len, err);
    if (st != AE_OK)
        return st;
    csv_columns cols = {s->path, NULL, 0};
    char **cells = NULL;
    size_t cells_cap = 0, ncells = 0;
    float *row = NULL;     /* [dim] the row being parsed */
    int32_t label = 0;
    size_t n = 0, dim = 0, label_col = SIZE_MAX, first_blank = 0;
    size_t first_line = 0, lines = 0;

    for (;;) {
        int have;
        if ((st = lr_next(&lr, &have, err)) != AE_OK)
            goto done;
        if (!have)
            break;
        lines++;
        char *line = lr.line;
        if (memchr(line, '\0', lr.line_len)) {
            ae_error_set(err, "%s: line %zu contains a NUL byte; is this a binary file?",
                         s->path, lr.lineno);
            st = AE_ERR_INPUT;
            goto done;
        }
        if (lr.lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
            line += 3; /* UTF-8 byte order mark, as spreadsheets write it */
        if (is_blank(line)) {
            if (!first_blank)
                first_blank = lr.lineno;
            continue;
        }
        if (first_blank) {
            ae_error_set(err, "%s: line %zu is blank; blank lines are allowed only at the end "
                         "of the file", s->path, first_blank);
            st = AE_ERR_INPUT;
            goto done;
        }
        if ((st = split_cells(line, &cells, &cells_cap, &ncells, s->path, err)) != AE_OK)
            goto done;

        if (!first_line) {
            first_line = lr.lineno;
            cols.ncols = ncells;
            int header = spec->header;
            if (header < 0) {
                header = 0;
                /* a label column given by index may hold words (names) */
                size_t lab = label_column_digits(spec->label_column);
                for (size_t j = 0; j < ncells; j++) {
                    float v;
                    /* a missing-value token is no sign of a header, allowed
                     * or not (a header-less first row with a gap then gets
                     * the missing-value message, not a wrong header) */
                    if (j != lab && parse_number(cells[j], &v) != NUM_OK &&
                        !is_missing(spec, cells[j]))
                        header = 1;
                }
            }
            if (header) {
                cols.names = calloc(ncells, sizeof *cols.names);
                for (size_t j = 0; cols.names && j < ncells; j++)
                    if (!(cols.names[j] = header_name_dup(cells[j]))) {
                        ae_error_set(err, "%s: cannot allocate the header", s->path);
                        st = AE_ERR_NOMEM;
                        goto done;
                    }
                if (!cols.names) {
                    ae_error_set(err, "%s: cannot allocate the header", s->path);
                    st = AE_ERR_NOMEM;
                    goto done;
                }
            }
            if (spec->labels_only) {
                if (ncells != 1) {
                    ae_error_set(err, "%s: a labels CSV must have one column, line %zu has %zu",
                                 s->path, lr.lineno, ncells);
                    st = AE_ERR_INPUT;
                    goto done;
                }
                label_col = 0;
            } else if ((st = csv_label_index(&cols, spec->label_column, &label_col, err)) !=
                       AE_OK) {
                goto done;
            }
            dim = ncells - (label_col != SIZE_MAX);
            if (dim == 0 && !spec->labels_only) {
                ae_error_set(err, "%s: no feature columns left after taking the label column",
                             s->path);
                st = AE_ERR_INPUT;
                goto done;
            }
            if (dim && !(row = malloc(dim * sizeof *row))) {
                ae_error_set(err, "%s: cannot allocate a row of %zu columns", s->path, dim);
                st = AE_ERR_NOMEM;
                goto done;
            }
            if (header)
                continue;
        }
        if (ncells != cols.ncols) {
            ae_error_set(err, "%s: line %zu has %zu cells, expected %zu like line %zu", s->path,
                         lr.lineno, ncells, cols.ncols, first_line);
            st = AE_ERR_INPUT;
            goto done;
        }
        for (size_t j = 0, k = 0; j < ncells; j++) {
            if (j == label_col) {
                if (spec->n_missing && *cells[j] && is_missing(spec, cells[j])) {
                    char where[96];
                    csv_cell_where(&cols, j, where, sizeof where);
                    ae_error_set(err, "%s: line %zu, %s: the label is missing ('%.40s', one of "
                                 "data.csv.missing): every row needs its label", s->path,
                                 lr.lineno, where, cells[j]);
                    st = AE_ERR_INPUT;
                    goto done;
                }
                if (spec->names) {
                    if ((st = ae_label_intern(spec->names, cells[j], lr.lineno, &label, s->path,
                                              err)) != AE_OK)
                        goto done;
                } else if (!parse_label(cells[j], &label)) {
                    char where[96];
                    csv_cell_where(&cols, j, where, sizeof where);
                    ae_error_set(err, "%s: line %zu, %s: label '%.40s' is not an integer from 0 "
                                 "to 2147483647 (a file read as a stream needs integer labels; "
                                 "aetrain reads label names from the CSV itself)", s->path,
                                 lr.lineno, where, cells[j]);
                    st = AE_ERR_INPUT;
                    goto done;
                }
                continue;
            }
            if (spec->n_missing && is_missing(spec, cells[j])) {
                if (spec->allow_missing) {
                    row[k++] = NAN;
                    continue;
                }
                char where[96];
                csv_cell_where(&cols, j, where, sizeof where);
                ae_error_set(err, "%s: line %zu, %s: missing value '%.40s' (data.missing "
                             "\"allow\" accepts missing values)", s->path, lr.lineno, where,
                             cells[j]);
                st = AE_ERR_INPUT;
                goto done;
            }
            int why = parse_number(cells[j], &row[k++]);
            if (why != NUM_OK) {
                st = csv_number_error(&cols, lr.lineno, j, cells[j], why, err);
                goto done;
            }
        }
        if ((st = emit(ctx, dim, row, label_col != SIZE_MAX, label, s->path, err)) != AE_OK)
            goto done;
        n++;
    }

    if (n == 0) {
        if (lines == 0)
            ae_error_set(err, "%s: file is empty", s->path);
        else if (cols.names)
            ae_error_set(err, "%s: has a header row but no data rows", s->path);
        else
            ae_error_set(err, "%s: has no data rows (only blank lines)", s->path);
        st = AE_ERR_INPUT;
        goto done;
    }
    *rows = n;
    st = AE_OK;
done:
    free(row);
    free(cells);
    if (cols.names)
        for (size_t j = 0; j < cols.ncols; j++)
            free(cols.names[j]);
    free(cols.names);
    lr_free(&lr);
    return st;
}

/* csv_load's sink: rows into a growing matrix. */
typedef struct {
    float *x;          /* [rows_cap x dim] */
    int32_t *labels;   /* [rows_cap] */
    size_t n, rows_cap, dim;
    int has_labels;
} csv_matrix;

static ae_status csv_matrix_add(void *vctx, size_t dim, const float *row, int has_label,
                                int32_t label, const char *path, ae_error *err)
{
    csv_matrix *c = vctx;
    c->dim = dim;
    c->has_labels = has_label;
    ae_status st;
    if (c->n == c->rows_cap &&
        (st = csv_grow(&c->rows_cap, dim, &c->x, &c->labels, has_label, path, err)) != AE_OK)
        return st;
    if (dim)
        memcpy(c->x + c->n * dim, row, dim * sizeof *row);
    if (has_label)
        c->labels[c->n] = label;
    c->n++;
    return AE_OK;
}

static ae_status csv_load(src_file *s, const unsigned char *prefix, size_t prefix_len,
                          const csv_spec *spec, ae_dataset *out, ae_error *err)
{
    csv_matrix c = {0};
    size_t n = 0;
    ae_status st = csv_scan(s, prefix, prefix_len, spec, csv_matrix_add, &c, &n, err);
    float *x = c.x;
    int32_t *labels = c.labels;
    size_t dim = c.dim, rows_cap = c.rows_cap;
    if (st != AE_OK)
        goto done;
    /* Give back the unused tail of the doubling; a failed shrink keeps the old block. */
    if (x && n < rows_cap) {
        float *p = realloc(x, n * dim * sizeof *x);
        if (p)
            x = p;
    }
    if (labels && n < rows_cap) {
        int32_t *p = realloc(labels, n * sizeof *labels);
        if (p)
            labels = p;
    }
    memset(out, 0, sizeof *out);
    out->n = n;
    out->dim = dim;
    out->dtype = AE_DTYPE_F32;
    out->x = x;
    out->labels = labels;
    x = NULL;
    labels = NULL;
    st = AE_OK;
done:
    free(x);
    free(labels);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Public entry points.                                                     */

/* Opens a data file and reads its first bytes (magic[0..*got)) to choose
 * the format; on failure (unreadable, empty, unknown format) the file is
 * closed again. */
static ae_status open_data_file(src_file *s, const char *path, unsigned char magic[4],
                                size_t *got, int *is_csv, ae_error *err)
{
    ae_status st = src_open(s, path, err);
    if (st != AE_OK)
        return st;
    if ((st = src_read(s, magic, 4, got, err)) == AE_OK && *got == 0) {
        ae_error_set(err, "%s: file is empty", path);
        st = AE_ERR_INPUT;
    }
    if (st == AE_OK) {
        *is_csv = is_csv_name(path);
        if (!*is_csv && !(*got >= 2 && magic[0] == 0 && magic[1] == 0) && !is_idx_name(path)) {
            unsigned char m[4] = {0};
            memcpy(m, magic, *got);
            ae_error_set(err, "%s: unknown format: expected IDX (raw or .gz) or .csv (CSV names "
                         "must end in .csv or .csv.gz); first bytes are %02x %02x %02x %02x",
                         path, m[0], m[1], m[2], m[3]);
            st = AE_ERR_INPUT;
        }
    }
    if (st != AE_OK)
        src_close(s);
    return st;
}

/* Format rule: a name ending in .csv or .csv.gz is CSV whatever its bytes (a
 * CSV holding zero bytes is then rejected by the CSV reader with its line
 * number, which says more than an IDX error would).  Any other file is IDX
 * when its (decompressed) content starts with 00 00, or when its name says
 * "idx" (so a damaged MNIST file gets an IDX error); otherwise the format is
 * unknown. */
ae_status ae_dataset_load(ae_dataset *ds, const char *path, const ae_csv_options *csv,
                          ae_error *err)
{
    if (!ds || !path) {
        ae_error_set(err, "ae_dataset_load: dataset and path must not be NULL");
        return AE_ERR_USAGE;
    }
    src_file s;
    unsigned char magic[4];
    size_t got;
    int is_csv;
    ae_status st = open_data_file(&s, path, magic, &got, &is_csv, err);
    if (st != AE_OK)
        return st;
    ae_dataset out = {0};
    if (is_csv) {
        ae_label_table names = {0};
        csv_spec spec = {csv ? csv->label_column : NULL, csv ? csv->header : -1, 0,
                         csv ? csv->missing : NULL, csv ? csv->n_missing : 0,
                         csv && csv->allow_missing, &names};
        st = csv_load(&s, magic, got, &spec, &out, err);
        if (st == AE_OK && out.labels &&
            (st = ae_label_resolve(&names, out.labels, out.n, csv ? csv->classes : NULL,
                                   csv ? csv->n_classes : 0, &out.class_names,
                                   &out.n_class_names, path, err)) != AE_OK)
            ae_dataset_free(&out);
        ae_label_table_free(&names);
    } else {
        st = idx_load_data(&s, magic, got, csv && csv->allow_missing, &out, err);
    }
    src_close(&s);
    if (st == AE_OK)
        *ds = out;
    return st;
}

ae_status ae_dataset_load_labels(ae_dataset *ds, const char *path, const char *const *classes,
                                 size_t n_classes, ae_error *err)
{
    if (!ds || !path) {
        ae_error_set(err, "ae_dataset_load_labels: dataset and path must not be NULL");
        return AE_ERR_USAGE;
    }
    if (ds->n == 0) {
        ae_error_set(err, "%s: load the data before its labels (the dataset is empty)", path);
        return AE_ERR_USAGE;
    }
    src_file s;
    ae_status st = src_open(&s, path, err);
    if (st != AE_OK)
        return st;
    unsigned char magic[4];
    size_t got;
    int32_t *labels = NULL;
    char **names = NULL;
    size_t n_names = 0;
    if ((st = src_read(&s, magic, sizeof magic, &got, err)) != AE_OK)
        goto done;
    if (got == 0) {
        ae_error_set(err, "%s: file is empty", path);
        st = AE_ERR_INPUT;
        goto done;
    }
    if (is_csv_name(path)) {
        /* every row is read as a label; then the first is a header when it is
         * not an integer and either every other row is, or there is one row
         * too many (names cannot tell a header by their look) */
        ae_label_table table = {0};
        csv_spec spec = {NULL, 0, 1, NULL, 0, 0, &table};
        ae_dataset tmp = {0};
        if ((st = csv_load(&s, magic, got, &spec, &tmp, err)) != AE_OK) {
            ae_label_table_free(&table);
            goto done;
        }
        int32_t v;
        if (tmp.n && !ae_label_parse_int(table.names[tmp.labels[0]], &v)) {
            int others_int = 1;
            for (size_t i = 1; i < tmp.n && others_int; i++)
                others_int = ae_label_parse_int(table.names[tmp.labels[i]], &v);
            if (others_int || tmp.n == ds->n + 1) {
                memmove(tmp.labels, tmp.labels + 1, (tmp.n - 1) * sizeof *tmp.labels);
                tmp.n--;
            }
        }
        if (tmp.n != ds->n) {
            ae_error_set(err, "%s: labels file has %zu labels, data has %zu examples", path,
                         tmp.n, ds->n);
            st = AE_ERR_INPUT;
        } else {
            st = ae_label_resolve(&table, tmp.labels, tmp.n, classes, n_classes, &names,
                                  &n_names, path, err);
        }
        ae_label_table_free(&table);
        if (st != AE_OK) {
            ae_dataset_free(&tmp);
            goto done;
        }
        labels = tmp.labels;
        tmp.labels = NULL;
        ae_dataset_free(&tmp);
    } else {
        st = idx_load_labels(&s, magic, got, ds->n, &labels, err);
    }
done:
    src_close(&s);
    if (st == AE_OK) {
        free(ds->labels);
        ds->labels = labels;
        ae_label_names_free(ds->class_names, ds->n_class_names);
        ds->class_names = names;
        ds->n_class_names = n_names;
    }
    return st;
}

void ae_dataset_truncate(ae_dataset *ds, size_t n)
{
    if (!ds || n == 0 || n >= ds->n)
        return;
    size_t esize = ds->dtype == AE_DTYPE_U8 ? 1 : sizeof(float);
    if (ds->x && ds->dim && !ds->map) {
        void *p = realloc((void *)ds->x, n * ds->dim * esize);
        if (p)
            ds->x = p;
    }
    if (ds->labels) {
        int32_t *p = realloc(ds->labels, n * sizeof *p);
        if (p)
            ds->labels = p;
    }
    ds->n = n;
}

ae_status ae_dataset_subset(ae_dataset *ds, const size_t *idx, size_t n, ae_error *err)
{
    size_t esize = ds->dtype == AE_DTYPE_U8 ? 1 : sizeof(float), row = ds->dim * esize;
    unsigned char *x = malloc(n ? n * row : 1); /* [n x dim] elements as stored */
    int32_t *labels = ds->labels ? malloc((n ? n : 1) * sizeof(int32_t)) : NULL;
    if (!x || (ds->labels && !labels)) {
        free(x);
        free(labels);
        ae_error_set(err, "out of memory for %zu examples of %zu features", n, ds->dim);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * row, ae_dataset_row(ds, idx[i]), row);
        if (labels)
            labels[i] = ds->labels[idx[i]];
    }
    ae_dataset kept = *ds;
    kept.n = n;
    kept.x = x;
    kept.labels = labels;
    kept.map = NULL; /* the rows are in memory now, still in the stored element order */
    ds->class_names = NULL; /* kept has them */
    ds->n_class_names = 0;
    ae_dataset_free(ds);
    *ds = kept;
    return AE_OK;
}

void ae_dataset_free(ae_dataset *ds)
{
    if (!ds)
        return;
    if (ds->map) {
        munmap(ds->map->base, ds->map->len);
        close(ds->map->fd);
        free(ds->map->row);
        free(ds->map);
    } else {
        free((void *)ds->x);
    }
    free(ds->labels);
    ae_label_names_free(ds->class_names, ds->n_class_names);
    memset(ds, 0, sizeof *ds);
}

/* ------------------------------------------------------------------------ */
/* Streaming (ae_dataset_stream).                                           */

typedef struct {
    ae_row_sink sink;
    void *ctx;
    ae_stream_info info;
} csv_stream;

static ae_status csv_stream_row(void *vctx, size_t dim, const float *row, int has_label,
                                int32_t label, const char *path, ae_error *err)
{
    (void)path;
    csv_stream *c = vctx;
    c->info.dim = dim;
    c->info.dtype = AE_DTYPE_F32;
    c->info.has_labels = has_label;
    return c->sink(c->ctx, &c->info, row, has_label ? label : -1, err);
}

static ae_status idx_stream(src_file *s, const unsigned char *magic, size_t got,
                            ae_row_sink sink, void *ctx, size_t *rows, ae_error *err)
{
    idx_header h;
    ae_status st = idx_read_header(s, magic, got, &h, err);
    if (st != AE_OK)
        return st;
    if (h.type != IDX_TYPE_U8 && h.type != IDX_TYPE_F32) {
        ae_error_set(err, "%s: unsupported IDX element type 0x%02X (%s): data must be uint8 "
                     "(0x08) or float32 (0x0D)", s->path, h.type, h.type_name);
        return AE_ERR_INPUT;
    }
    if (gzdirect(s->gz) && s->regular && (st = idx_check_plain_size(s, &h, err)) != AE_OK)
        return st;
    ae_stream_info info = {h.dims[0], h.dims[0] ? h.count / h.dims[0] : 0,
                           h.type == IDX_TYPE_U8 ? AE_DTYPE_U8 : AE_DTYPE_F32, 0, 0, 0};
    if (h.ndims == 3) {
        info.img_h = h.dims[1];
        info.img_w = h.dims[2];
    }
    size_t row_bytes = info.dim * h.elem_size;
    unsigned char *row = malloc(row_bytes ? row_bytes : 1);
    if (!row) {
        ae_error_set(err, "%s: cannot allocate a row of %zu bytes", s->path, row_bytes);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < info.n; i++) {
        size_t k;
        if ((st = src_read(s, row, row_bytes, &k, err)) != AE_OK)
            goto done;
        if (k < row_bytes) {
            char dims[160];
            idx_dims_str(&h, dims, sizeof dims);
            ae_error_set(err, "%s: header says %s, file ends in example %zu%s", s->path, dims, i,
                         gzdirect(s->gz) ? "" : " after gunzip");
            st = AE_ERR_INPUT;
            goto done;
        }
        if (h.type == IDX_TYPE_F32 &&
            (st = be_f32_check(row, info.dim, i * info.dim, info.dim, s->path, row, 0, err)) !=
                AE_OK)
            goto done;
        if ((st = sink(ctx, &info, row, -1, err)) != AE_OK)
            goto done;
        *rows = i + 1;
    }
    /* reading past the end makes zlib verify the gzip CRC and length */
    unsigned char extra;
    size_t k;
    if ((st = src_read(s, &extra, 1, &k, err)) == AE_OK && k) {
        ae_error_set(err, "%s: trailing data after the last example", s->path);
        st = AE_ERR_INPUT;
    }
done:
    free(row);
    return st;
}

ae_status ae_dataset_stream(const char *path, const ae_csv_options *csv, ae_row_sink sink,
                            void *ctx, size_t *rows, ae_error *err)
{
    *rows = 0;
    src_file s;
    unsigned char magic[4];
    size_t got;
    int is_csv;
    ae_status st = open_data_file(&s, path, magic, &got, &is_csv, err);
    if (st != AE_OK)
        return st;
    if (is_csv) {
        csv_spec spec = {csv ? csv->label_column : NULL, csv ? csv->header : -1, 0, NULL, 0, 0,
                         NULL};
        csv_stream c = {sink, ctx, {0}};
        st = csv_scan(&s, magic, got, &spec, csv_stream_row, &c, rows, err);
    } else {
        st = idx_stream(&s, magic, got, sink, ctx, rows, err);
    }
    src_close(&s);
    return st;
}
