#define _POSIX_C_SOURCE 200809L
#include "ae/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>
#include <zlib.h>

#include "ae/fileio.h"
#include "ae/pause.h"

/* Tensor bytes go to and from the file as they lie in memory, which is the
 * format's little-endian float32 only on a little-endian host. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c writes host floats as little-endian; port it before using a big-endian host"
#endif
#endif

/* The reference implementation refuses headers above 100 MB; so do we, which
 * also bounds what a malformed length field can make us allocate. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

/* JSON numbers arrive as doubles; integers beyond 2^53 are not exact. */
#define ST_MAX_JSON_INT 9007199254740992.0

#define ST_META_KEY "__metadata__"
#define ST_CRC_KEY "crc32"

/* The header always starts with this, so the CRC placeholder sits at a known
 * offset and can be overwritten once the data has been written. */
#define ST_HEADER_PREFIX "{\"" ST_META_KEY "\":{\"" ST_CRC_KEY "\":\""

/* ---- shared helpers ---------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the first repeated string of names[0..n) (sorting a copy of the
 * pointers, so large headers stay O(n log n)), NULL when all differ.
 * *nomem is set when the copy cannot be allocated. */
static const char *find_duplicate(const char *const *names, size_t n, int *nomem)
{
    *nomem = 0;
    if (n < 2)
        return NULL;
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        *nomem = 1;
        return NULL;
    }
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            dup = sorted[i];
    free(sorted);
    return dup;
}

/* Sets *count to the number of floats in a tensor of this shape (a 0-d
 * tensor holds one); returns 0 when the byte count would overflow. */
static int shape_count(const size_t *shape, size_t ndim, size_t *count)
{
    size_t c = 1;
    for (size_t d = 0; d < ndim; d++)
        if (shape[d] == 0)
            c = 0;
    for (size_t d = 0; d < ndim && c != 0; d++) {
        if (c > SIZE_MAX / sizeof(float) / shape[d])
            return 0;
        c *= shape[d];
    }
    *count = c;
    return 1;
}

/* ---- writer ------------------------------------------------------------ */

static ae_status check_write_args(const char *path, const ae_st_tensor *tensors, size_t n_tensors,
                                  const ae_st_meta *meta, size_t n_meta, size_t *data_bytes,
                                  ae_error *err)
{
    if ((n_tensors > 0 && !tensors) || (n_meta > 0 && !meta)) {
        ae_error_set(err, "%s: tensor or metadata list is NULL", path);
        return AE_ERR_USAGE;
    }
    size_t total = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        const ae_st_tensor *t = &tensors[i];
        if (!t->name) {
            ae_error_set(err, "%s: tensor %zu has no name", path, i);
            return AE_ERR_USAGE;
        }
        if (strcmp(t->name, ST_META_KEY) == 0) {
            ae_error_set(err, "%s: \"%s\" is reserved and cannot name a tensor", path, ST_META_KEY);
            return AE_ERR_USAGE;
        }
        if (t->ndim > AE_ST_MAX_DIMS) {
            ae_error_set(err, "%s: tensor \"%s\" has %zu dimensions, at most %d are allowed", path,
                         t->name, t->ndim, AE_ST_MAX_DIMS);
            return AE_ERR_USAGE;
        }
        size_t count = 0;
        if (!shape_count(t->shape, t->ndim, &count) ||
            count * sizeof(float) > (size_t)ST_MAX_JSON_INT - total) {
            ae_error_set(err, "%s: tensor \"%s\" is too large to store", path, t->name);
            return AE_ERR_USAGE;
        }
        if (count > 0 && !t->data) {
            ae_error_set(err, "%s: tensor \"%s\" has no data", path, t->name);
            return AE_ERR_USAGE;
        }
        total += count * sizeof(float);
    }
    for (size_t i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value) {
            ae_error_set(err, "%s: metadata entry %zu has no key or no value", path, i);
            return AE_ERR_USAGE;
        }
        if (strcmp(meta[i].key, ST_CRC_KEY) == 0) {
            ae_error_set(err, "%s: metadata key \"%s\" is reserved for the data checksum", path,
                         ST_CRC_KEY);
            return AE_ERR_USAGE;
        }
    }

    /* Names and keys go into a JSON object, where repeats would be ambiguous. */
    size_t n_names = n_tensors > n_meta ? n_tensors : n_meta;
    const char **names = malloc((n_names ? n_names : 1) * sizeof *names);
    if (!names) {
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    int nomem = 0;
    const char *dup = NULL;
    const char *what = "tensor name";
    for (size_t i = 0; i < n_tensors; i++)
        names[i] = tensors[i].name;
    dup = find_duplicate(names, n_tensors, &nomem);
    if (!dup && !nomem) {
        what = "metadata key";
        for (size_t i = 0; i < n_meta; i++)
            names[i] = meta[i].key;
        dup = find_duplicate(names, n_meta, &nomem);
    }
    ae_status st = AE_OK;
    if (nomem) {
        ae_error_set(err, "%s: out of memory", path);
        st = AE_ERR_NOMEM;
    } else if (dup) {
        ae_error_set(err, "%s: duplicate %s \"%s\"", path, what, dup);
        st = AE_ERR_USAGE;
    }
    free(names);
    if (st == AE_OK)
        *data_bytes = total;
    return st;
}

/* Builds the JSON header with a "00000000" CRC placeholder; returns a
 * malloc'ed string padded with spaces to a multiple of 8 bytes, or NULL when
 * out of memory. */
static char *build_header(const ae_st_tensor *tensors, size_t n_tensors, const ae_st_meta *meta,
                          size_t n_meta, size_t *header_len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *md = cJSON_CreateObject();
    int ok = root && md && cJSON_AddItemToObject(root, ST_META_KEY, md);
    if (!ok)
        cJSON_Delete(md);
    ok = ok && cJSON_AddStringToObject(md, ST_CRC_KEY, "00000000");
    for (size_t i = 0; ok && i < n_meta; i++)
        ok = cJSON_AddStringToObject(md, meta[i].key, meta[i].value) != NULL;

    /* Integers go in as raw text: cJSON would print large doubles as 1e+15. */
    char shape[AE_ST_MAX_DIMS * 24 + 4], offsets[64];
    size_t offset = 0;
    for (size_t i = 0; ok && i < n_tensors; i++) {
        const ae_st_tensor *t = &tensors[i];
        size_t k = 0, count = 0;
        shape_count(t->shape, t->ndim, &count);
        shape[k++] = '[';
        for (size_t d = 0; d < t->ndim; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%zu", d ? "," : "", t->shape[d]);
        shape[k++] = ']';
        shape[k] = '\0';
        snprintf(offsets, sizeof offsets, "[%zu,%zu]", offset, offset + count * sizeof(float));
        offset += count * sizeof(float);
        cJSON *entry = cJSON_CreateObject();
        ok = entry && cJSON_AddItemToObject(root, t->name, entry);
        if (!ok)
            cJSON_Delete(entry);
        ok = ok && cJSON_AddStringToObject(entry, "dtype", "F32") &&
             cJSON_AddRawToObject(entry, "shape", shape) &&
             cJSON_AddRawToObject(entry, "data_offsets", offsets);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return NULL;

    size_t len = strlen(text);
    size_t padded = (len + 7) / 8 * 8;
    char *out = malloc(padded + 1);
    if (out) {
        memcpy(out, text, len);
        memset(out + len, ' ', padded - len);
        out[padded] = '\0';
        *header_len = padded;
    }
    cJSON_free(text);
    return out;
}

static int put_bytes(FILE *fp, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, fp) == n;
}

ae_status ae_safetensors_write(const char *path, const ae_st_tensor *tensors, size_t n_tensors,
                               const ae_st_meta *meta, size_t n_meta, ae_error *err)
{
    if (!path) {
        ae_error_set(err, "safetensors: no output path");
        return AE_ERR_USAGE;
    }
    size_t data_bytes = 0;
    ae_status st = check_write_args(path, tensors, n_tensors, meta, n_meta, &data_bytes, err);
    if (st != AE_OK)
        return st;

    size_t header_len = 0;
    char *header = build_header(tensors, n_tensors, meta, n_meta, &header_len);
    if (!header) {
        ae_error_set(err, "%s: out of memory while building the header", path);
        return AE_ERR_NOMEM;
    }
    if (strncmp(header, ST_HEADER_PREFIX, strlen(ST_HEADER_PREFIX)) != 0) {
        ae_error_set(err, "%s: internal error: unexpected header layout", path);
        free(header);
        return AE_ERR_IO;
    }

    ae_atomic_file f;
    st = ae_atomic_open(&f, path, err);
    if (st != AE_OK) {
        free(header);
        return st;
    }
    unsigned char len_le[8];
    for (int b = 0; b < 8; b++)
        len_le[b] = (unsigned char)((uint64_t)header_len >> (8 * b));
    int ok = put_bytes(f.fp, len_le, 8) && put_bytes(f.fp, header, header_len);
    free(header);

    /* The CRC is accumulated over exactly the bytes handed to fwrite, in
     * slices zlib's 32-bit length argument can take. */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t i = 0; ok && i < n_tensors; i++) {
        if (i == n_tensors / 2) /* the test hook: a half-written temporary file */
            ae_pause_at(AE_PAUSE_CHECKPOINT, f.fp);
        size_t count = 0;
        shape_count(tensors[i].shape, tensors[i].ndim, &count);
        const unsigned char *p = (const unsigned char *)tensors[i].data;
        size_t left = count * sizeof(float);
        while (ok && left > 0) {
            size_t n = left < ((size_t)1 << 30) ? left : ((size_t)1 << 30);
            ok = put_bytes(f.fp, p, n);
            crc = crc32(crc, p, (uInt)n);
            p += n;
            left -= n;
        }
    }

    /* Fill in the placeholder now that the data has gone through. */
    char hex[9];
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)(crc & 0xffffffffUL));
    ok = ok && fseek(f.fp, (long)(8 + strlen(ST_HEADER_PREFIX)), SEEK_SET) == 0 &&
         put_bytes(f.fp, hex, 8);
    if (!ok) {
        ae_atomic_fail(&f, errno, err);
        return AE_ERR_IO;
    }
    return ae_atomic_commit(&f, err);
}

/* ---- reader ------------------------------------------------------------ */

typedef struct {
    float *data;   /* [data section bytes / 4], the tensors point into it */
    char *strings; /* names, keys and values, NUL-separated */
} st_storage;

typedef struct {
    const char *name;  /* in the parsed JSON */
    size_t json_index; /* position in the header, to order ties */
    size_t ndim;
    size_t shape[AE_ST_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static int cmp_entry_offset(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->json_index < y->json_index ? -1 : (x->json_index > y->json_index);
}

/* A JSON number that is a non-negative integer exactly representable. */
static int json_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v <= ST_MAX_JSON_INT) || v != (double)(uint64_t)v)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static ae_status parse_entry(const char *path, const cJSON *item, uint64_t data_size,
                             st_entry *e, ae_error *err)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item)) {
        ae_error_set(err, "%s: tensor \"%s\": expected an object with dtype, shape and "
                     "data_offsets", path, name);
        return AE_ERR_INPUT;
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype)) {
        ae_error_set(err, "%s: tensor \"%s\": missing or non-string \"dtype\"", path, name);
        return AE_ERR_INPUT;
    }
    if (strcmp(dtype->valuestring, "F32") != 0) {
        ae_error_set(err, "%s: tensor \"%s\" has dtype %s; only F32 is supported", path, name,
                     dtype->valuestring);
        return AE_ERR_INPUT;
    }
    if (!cJSON_IsArray(shape)) {
        ae_error_set(err, "%s: tensor \"%s\": missing or non-array \"shape\"", path, name);
        return AE_ERR_INPUT;
    }
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > AE_ST_MAX_DIMS) {
        ae_error_set(err, "%s: tensor \"%s\" has %d dimensions, at most %d are supported", path,
                     name, ndim, AE_ST_MAX_DIMS);
        return AE_ERR_INPUT;
    }
    memset(e, 0, sizeof *e);
    e->name = name;
    e->ndim = (size_t)ndim;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &e->end) || e->begin > e->end) {
        ae_error_set(err, "%s: tensor \"%s\": \"data_offsets\" must be [begin, end] with "
                     "non-negative integers, begin <= end", path, name);
        return AE_ERR_INPUT;
    }
    if (e->end > data_size) {
        ae_error_set(err, "%s: tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64 "] end past "
                     "the %" PRIu64 "-byte data section; the file is truncated or corrupt", path,
                     name, e->begin, e->end, data_size);
        return AE_ERR_INPUT;
    }
    uint64_t span = e->end - e->begin;
    uint64_t bytes = sizeof(float);
    int too_big = 0, has_zero = 0;
    const cJSON *dim;
    size_t d = 0;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t v;
        if (!json_uint(dim, &v)) {
            ae_error_set(err, "%s: tensor \"%s\": shape entry %zu is not a non-negative integer",
                         path, name, d);
            return AE_ERR_INPUT;
        }
        /* A zero anywhere makes the tensor empty whatever the other sizes. */
        if (v == 0)
            has_zero = 1;
        else if (bytes > UINT64_MAX / v)
            too_big = 1;
        bytes = too_big ? bytes : bytes * v;
        e->shape[d++] = (size_t)v;
    }
    if (has_zero)
        too_big = 0, bytes = 0;
    if (too_big || bytes != span) {
        ae_error_set(err, "%s: tensor \"%s\": data_offsets span %" PRIu64 " bytes but the shape "
                     "needs %s%" PRIu64, path, name, span, too_big ? "more than " : "",
                     too_big ? UINT64_MAX : bytes);
        return AE_ERR_INPUT;
    }
    return AE_OK;
}

/* Tensors must tile the data section: no gap, no overlap, nothing after. */
static ae_status check_coverage(const char *path, const st_entry *e, size_t n, uint64_t data_size,
                                ae_error *err)
{
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin > at) {
            ae_error_set(err, "%s: bytes %" PRIu64 "..%" PRIu64 " of the data section belong to "
                         "no tensor", path, at, e[i].begin);
            return AE_ERR_INPUT;
        }
        if (e[i].begin < at) {
            ae_error_set(err, "%s: tensor \"%s\" overlaps tensor \"%s\" in the data section",
                         path, e[i].name, e[i - 1].name);
            return AE_ERR_INPUT;
        }
        at = e[i].end;
    }
    if (at != data_size) {
        ae_error_set(err, "%s: the data section has %" PRIu64 " bytes but the tensors end at %"
                     PRIu64 "; %" PRIu64 " trailing bytes belong to no tensor", path, data_size,
                     at, data_size - at);
        return AE_ERR_INPUT;
    }
    return AE_OK;
}

static int parse_hex32(const char *s, unsigned long *out)
{
    unsigned long v = 0;
    for (int i = 0; i < 8; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (unsigned long)d;
    }
    if (s[8] != '\0')
        return 0;
    *out = v;
    return 1;
}

/* Reads the file into a header buffer and an aligned data buffer. */
static ae_status read_file_parts(const char *path, char **header, uint64_t *header_len,
                                 float **data, uint64_t *data_size, ae_error *err)
{
    FILE *fp;
    unsigned long long size;
    ae_status st = ae_open_input(path, &fp, &size, err);
    if (st != AE_OK)
        return st;
    uint64_t file_size = (uint64_t)size;
    if (file_size < 8) {
        ae_error_set(err, "%s: truncated: the file has %" PRIu64 " bytes, fewer than the 8-byte "
                     "header length", path, file_size);
        fclose(fp);
        return AE_ERR_INPUT;
    }
    unsigned char len_le[8];
    if (fread(len_le, 1, 8, fp) != 8) {
        ae_error_set(err, "%s: cannot read the header length: %s", path,
                     ferror(fp) ? strerror(errno) : "unexpected end of file");
        fclose(fp);
        return AE_ERR_INPUT;
    }
    uint64_t n = 0;
    for (int b = 7; b >= 0; b--)
        n = n << 8 | len_le[b];
    if (n > ST_MAX_HEADER) {
        ae_error_set(err, "%s: the header length %" PRIu64 " exceeds the 100 MB limit; this is "
                     "not a safetensors file or it is corrupt", path, n);
        fclose(fp);
        return AE_ERR_INPUT;
    }
    if (n > file_size - 8) {
        ae_error_set(err, "%s: truncated: the header claims %" PRIu64 " bytes but the file has "
                     "%" PRIu64 " after the length field", path, n, file_size - 8);
        fclose(fp);
        return AE_ERR_INPUT;
    }
    uint64_t dsize = file_size - 8 - n;
    if (dsize > SIZE_MAX - sizeof(float)) {
        ae_error_set(err, "%s: the data section is too large for this machine", path);
        fclose(fp);
        return AE_ERR_NOMEM;
    }
    char *h = malloc((size_t)n + 1);
    /* malloc'ed memory is aligned for float, which the file's offsets are not
     * guaranteed to be; reading straight into it gives aligned tensors. */
    float *d = malloc(dsize ? (size_t)dsize : sizeof(float));
    if (!h || !d) {
        ae_error_set(err, "%s: out of memory for a %" PRIu64 "-byte file", path, file_size);
        free(h);
        free(d);
        fclose(fp);
        return AE_ERR_NOMEM;
    }
    if ((n > 0 && fread(h, 1, (size_t)n, fp) != n) ||
        (dsize > 0 && fread(d, 1, (size_t)dsize, fp) != dsize)) {
        ae_error_set(err, "%s: read failed: %s", path,
                     ferror(fp) ? strerror(errno) : "truncated while reading (file shrank?)");
        free(h);
        free(d);
        fclose(fp);
        return AE_ERR_INPUT;
    }
    fclose(fp);
    h[n] = '\0';
    *header = h;
    *header_len = n;
    *data = d;
    *data_size = dsize;
    return AE_OK;
}

/* Copies names and metadata into one string block and fills the result. */
static ae_status assemble(const char *path, const st_entry *e, size_t n_tensors,
                          const cJSON *md, float *data, ae_safetensors *out, ae_error *err)
{
    size_t n_meta = 0, chars = 1;
    const cJSON *kv;
    for (size_t i = 0; i < n_tensors; i++)
        chars += strlen(e[i].name) + 1;
    cJSON_ArrayForEach(kv, md) {
        chars += strlen(kv->string) + strlen(kv->valuestring) + 2;
        n_meta++;
    }
    st_storage *s = calloc(1, sizeof *s);
    ae_st_tensor *tensors = calloc(n_tensors ? n_tensors : 1, sizeof *tensors);
    ae_st_meta *meta = calloc(n_meta ? n_meta : 1, sizeof *meta);
    char *strings = malloc(chars);
    if (!s || !tensors || !meta || !strings) {
        ae_error_set(err, "%s: out of memory", path);
        free(s);
        free(tensors);
        free(meta);
        free(strings);
        return AE_ERR_NOMEM;
    }
    char *p = strings;
    for (size_t i = 0; i < n_tensors; i++) {
        size_t len = strlen(e[i].name) + 1;
        memcpy(p, e[i].name, len);
        tensors[i].name = p;
        p += len;
        tensors[i].data = data + e[i].begin / sizeof(float);
        tensors[i].ndim = e[i].ndim;
        memcpy(tensors[i].shape, e[i].shape, sizeof e[i].shape);
    }
    size_t m = 0;
    cJSON_ArrayForEach(kv, md) {
        size_t kl = strlen(kv->string) + 1, vl = strlen(kv->valuestring) + 1;
        memcpy(p, kv->string, kl);
        meta[m].key = p;
        p += kl;
        memcpy(p, kv->valuestring, vl);
        meta[m].value = p;
        p += vl;
        m++;
    }
    s->data = data;
    s->strings = strings;
    out->n_tensors = n_tensors;
    out->tensors = tensors;
    out->n_meta = n_meta;
    out->meta = meta;
    out->storage_ = s;
    return AE_OK;
}

static ae_status parse_and_check(const char *path, const char *header, uint64_t header_len,
                                 float *data, uint64_t data_size, ae_safetensors *out,
                                 ae_error *err)
{
    if (strlen(header) != header_len) {
        ae_error_set(err, "%s: the header contains a NUL byte; it is not valid JSON", path);
        return AE_ERR_INPUT;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(header, &end, 1);
    if (!root) {
        size_t at = end ? (size_t)(end - header) : 0;
        ae_error_set(err, "%s: the header is not valid JSON (near byte %zu of %" PRIu64 ")", path,
                     at, header_len);
        return AE_ERR_INPUT;
    }
    ae_status st = AE_OK;
    st_entry *e = NULL;
    const char **names = NULL, **keys = NULL;
    const cJSON *md = NULL;
    if (!cJSON_IsObject(root)) {
        ae_error_set(err, "%s: the header is JSON but not an object", path);
        st = AE_ERR_INPUT;
        goto done;
    }
    size_t n_items = (size_t)cJSON_GetArraySize(root);
    e = calloc(n_items ? n_items : 1, sizeof *e);
    names = calloc(n_items ? n_items : 1, sizeof *names);
    if (!e || !names) {
        ae_error_set(err, "%s: out of memory", path);
        st = AE_ERR_NOMEM;
        goto done;
    }
    size_t n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, ST_META_KEY) == 0) {
            if (md || !cJSON_IsObject(item)) {
                ae_error_set(err, "%s: \"%s\" must appear once, as an object of strings", path,
                             ST_META_KEY);
                st = AE_ERR_INPUT;
                goto done;
            }
            md = item;
            continue;
        }
        st = parse_entry(path, item, data_size, &e[n], err);
        if (st != AE_OK)
            goto done;
        e[n].json_index = n;
        names[n] = e[n].name;
        n++;
    }
    int nomem;
    const char *dup = find_duplicate(names, n, &nomem);
    if (nomem || dup) {
        st = nomem ? AE_ERR_NOMEM : AE_ERR_INPUT;
        if (nomem)
            ae_error_set(err, "%s: out of memory", path);
        else
            ae_error_set(err, "%s: tensor \"%s\" appears twice", path, dup);
        goto done;
    }
    qsort(e, n, sizeof *e, cmp_entry_offset);
    st = check_coverage(path, e, n, data_size, err);
    if (st != AE_OK)
        goto done;

    const cJSON *kv;
    size_t n_keys = 0;
    cJSON_ArrayForEach(kv, md) {
        if (!cJSON_IsString(kv)) {
            ae_error_set(err, "%s: metadata \"%s\" is not a string", path, kv->string);
            st = AE_ERR_INPUT;
            goto done;
        }
        n_keys++;
    }
    keys = malloc((n_keys ? n_keys : 1) * sizeof *keys);
    if (!keys) {
        ae_error_set(err, "%s: out of memory", path);
        st = AE_ERR_NOMEM;
        goto done;
    }
    n_keys = 0;
    cJSON_ArrayForEach(kv, md)
        keys[n_keys++] = kv->string;
    dup = find_duplicate(keys, n_keys, &nomem);
    if (nomem || dup) {
        st = nomem ? AE_ERR_NOMEM : AE_ERR_INPUT;
        if (nomem)
            ae_error_set(err, "%s: out of memory", path);
        else
            ae_error_set(err, "%s: metadata key \"%s\" appears twice", path, dup);
        goto done;
    }
    const cJSON *crc_item = md ? cJSON_GetObjectItemCaseSensitive(md, ST_CRC_KEY) : NULL;
    if (crc_item) {
        unsigned long stored;
        if (!parse_hex32(crc_item->valuestring, &stored)) {
            ae_error_set(err, "%s: metadata crc32 \"%.40s\" is not 8 hex digits", path,
                         crc_item->valuestring);
            st = AE_ERR_INPUT;
            goto done;
        }
        uLong crc = crc32(0L, Z_NULL, 0);
        const unsigned char *p = (const unsigned char *)data;
        for (uint64_t left = data_size; left > 0;) {
            uInt k = left < ((uint64_t)1 << 30) ? (uInt)left : (uInt)1 << 30;
            crc = crc32(crc, p, k);
            p += k;
            left -= k;
        }
        if ((crc & 0xffffffffUL) != stored) {
            ae_error_set(err, "%s: CRC32 mismatch: stored %08lx, computed %08lx; the file is "
                         "corrupt", path, stored, (unsigned long)(crc & 0xffffffffUL));
            st = AE_ERR_INPUT;
            goto done;
        }
    }
    st = assemble(path, e, n, md, data, out, err);
done:
    free(keys);
    free(names);
    free(e);
    cJSON_Delete(root);
    return st;
}

ae_status ae_safetensors_read(ae_safetensors *st, const char *path, ae_error *err)
{
    if (!st || !path) {
        ae_error_set(err, "safetensors: no result struct or no path");
        return AE_ERR_USAGE;
    }
    char *header = NULL;
    float *data = NULL;
    uint64_t header_len = 0, data_size = 0;
    ae_status s = read_file_parts(path, &header, &header_len, &data, &data_size, err);
    if (s != AE_OK)
        return s;
    ae_safetensors out;
    memset(&out, 0, sizeof out);
    s = parse_and_check(path, header, header_len, data, data_size, &out, err);
    free(header);
    if (s != AE_OK) {
        free(data);
        return s;
    }
    *st = out;
    return AE_OK;
}

const ae_st_tensor *ae_safetensors_find(const ae_safetensors *st, const char *name)
{
    if (!st || !name)
        return NULL;
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

const char *ae_safetensors_meta(const ae_safetensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0)
            return st->meta[i].value;
    return NULL;
}

void ae_safetensors_free(ae_safetensors *st)
{
    if (!st)
        return;
    st_storage *s = st->storage_;
    if (s) {
        free(s->data);
        free(s->strings);
        free(s);
    }
    free(st->tensors);
    free(st->meta);
    memset(st, 0, sizeof *st);
}
