#define _POSIX_C_SOURCE 200809L
#include "ae/image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "ae/fileio.h"

#define PNG_MAX_SIDE ((size_t)1 << 24)
#define PNG_MAX_CHUNK 0x7fffffffUL /* the spec's limit on a chunk length */
#define PNG_IDAT_SIZE ((size_t)1 << 16)

/* deflate cannot expand more than about 1032:1, so a compressed stream of n
 * bytes cannot honestly hold more than this; it bounds what a hostile IHDR
 * can make us allocate. */
#define PNG_MAX_RATIO 1032u

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static void put_be32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static unsigned long get_be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 |
           (unsigned long)p[3];
}

/* The Paeth predictor of the PNG spec: whichever of left, up, up-left is
 * closest to left + up - up-left. */
static unsigned paeth(unsigned a, unsigned b, unsigned c)
{
    int p = (int)a + (int)b - (int)c;
    int pa = abs(p - (int)a), pb = abs(p - (int)b), pc = abs(p - (int)c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

/* ---- writer ------------------------------------------------------------ */

static int write_chunk(FILE *fp, const char type[4], const unsigned char *data, size_t len)
{
    unsigned char head[8], tail[4];
    put_be32(head, (unsigned long)len);
    memcpy(head + 4, type, 4);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len > 0)
        crc = crc32(crc, data, (uInt)len);
    put_be32(tail, crc);
    return fwrite(head, 1, 8, fp) == 8 && (len == 0 || fwrite(data, 1, len, fp) == len) &&
           fwrite(tail, 1, 4, fp) == 4;
}

/* Filters one row with filter type f into out[0..n); prev is the unfiltered
 * row above (zeros for the first row), bpp the bytes per pixel. */
static void filter_row(int f, const uint8_t *row, const uint8_t *prev, size_t n, size_t bpp,
                       uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
        unsigned pred = f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : f == 4 ? paeth(a, b, c) : 0;
        out[i] = (uint8_t)(row[i] - pred);
    }
}

/* Per row, the filter whose output has the smallest sum of |signed byte|
 * (the heuristic the PNG spec recommends): smooth images then compress far
 * better than with no filter. */
static void filter_image(const uint8_t *pixels, size_t height, size_t stride, size_t bpp,
                         const uint8_t *zeros, uint8_t *trial, uint8_t *out)
{
    for (size_t y = 0; y < height; y++) {
        const uint8_t *row = pixels + y * stride;
        const uint8_t *prev = y > 0 ? row - stride : zeros;
        uint8_t *dst = out + y * (stride + 1);
        unsigned long best_cost = 0;
        for (int f = 0; f <= 4; f++) {
            filter_row(f, row, prev, stride, bpp, trial);
            unsigned long cost = 0;
            for (size_t i = 0; i < stride; i++)
                cost += trial[i] < 128 ? trial[i] : 256u - trial[i];
            if (f == 0 || cost < best_cost) {
                best_cost = cost;
                dst[0] = (uint8_t)f;
                memcpy(dst + 1, trial, stride);
            }
        }
    }
}

ae_status ae_png_write(const char *path, const uint8_t *pixels, size_t width, size_t height,
                       int channels, ae_error *err)
{
    if (!path || !pixels) {
        ae_error_set(err, "png: no path or no pixels");
        return AE_ERR_USAGE;
    }
    if (width == 0 || height == 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE) {
        ae_error_set(err, "%s: image size %zu x %zu is outside 1..%zu", path, width, height,
                     PNG_MAX_SIDE);
        return AE_ERR_USAGE;
    }
    if (channels != 1 && channels != 3) {
        ae_error_set(err, "%s: %d channels; only 1 (grey) and 3 (RGB) can be written", path,
                     channels);
        return AE_ERR_USAGE;
    }
    size_t stride = width * (size_t)channels; /* <= 3 * 2^24, no overflow */
    if (height > (SIZE_MAX - 64) / (stride + 1)) {
        ae_error_set(err, "%s: image too large", path);
        return AE_ERR_USAGE;
    }
    size_t raw_size = height * (stride + 1);
    uLong bound = compressBound((uLong)raw_size);
    uint8_t *raw = malloc(raw_size);
    uint8_t *zeros = calloc(stride, 1);
    uint8_t *trial = malloc(stride);
    unsigned char *z = malloc(bound);
    ae_status st = AE_OK;
    if (!raw || !zeros || !trial || !z) {
        ae_error_set(err, "%s: out of memory for a %zu x %zu image", path, width, height);
        st = AE_ERR_NOMEM;
        goto done;
    }
    filter_image(pixels, height, stride, (size_t)channels, zeros, trial, raw);
    uLongf z_len = bound;
    if (compress2(z, &z_len, raw, (uLong)raw_size, Z_DEFAULT_COMPRESSION) != Z_OK) {
        ae_error_set(err, "%s: zlib compression failed", path);
        st = AE_ERR_NOMEM;
        goto done;
    }

    unsigned char ihdr[13];
    put_be32(ihdr, (unsigned long)width);
    put_be32(ihdr + 4, (unsigned long)height);
    ihdr[8] = 8;                       /* bits per sample */
    ihdr[9] = channels == 1 ? 0 : 2;   /* colour type: grey or truecolour */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */

    ae_atomic_file f;
    st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        goto done;
    int ok = fwrite(png_signature, 1, 8, f.fp) == 8 && write_chunk(f.fp, "IHDR", ihdr, 13);
    for (size_t at = 0; ok && at < z_len; at += PNG_IDAT_SIZE) {
        size_t n = z_len - at < PNG_IDAT_SIZE ? z_len - at : PNG_IDAT_SIZE;
        ok = write_chunk(f.fp, "IDAT", z + at, n);
    }
    ok = ok && write_chunk(f.fp, "IEND", NULL, 0);
    if (!ok) {
        ae_atomic_fail(&f, errno, err);
        st = AE_ERR_IO;
        goto done;
    }
    st = ae_atomic_commit(&f, err);
done:
    free(raw);
    free(zeros);
    free(trial);
    free(z);
    return st;
}

/* ---- reader ------------------------------------------------------------ */

static ae_status read_whole(const char *path, unsigned char **buf, size_t *size, ae_error *err)
{
    FILE *fp;
    unsigned long long file_size;
    ae_status st = ae_open_input(path, &fp, &file_size, err);
    if (st != AE_OK)
        return st;
    if (file_size > SIZE_MAX) {
        ae_error_set(err, "%s: file too large", path);
        fclose(fp);
        return AE_ERR_INPUT;
    }
    size_t n = (size_t)file_size;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) {
        ae_error_set(err, "%s: out of memory for a %zu-byte file", path, n);
        fclose(fp);
        return AE_ERR_NOMEM;
    }
    if (n > 0 && fread(b, 1, n, fp) != n) {
        ae_error_set(err, "%s: read failed: %s", path,
                     ferror(fp) ? strerror(errno) : "file shrank while reading");
        free(b);
        fclose(fp);
        return AE_ERR_INPUT;
    }
    fclose(fp);
    *buf = b;
    *size = n;
    return AE_OK;
}

typedef struct {
    size_t width, height;
    int channels;
    size_t idat_bytes; /* sum of IDAT lengths */
} png_info;

/* Walks the chunk list checking lengths, CRCs, order and IHDR. */
static ae_status scan_chunks(const char *path, const unsigned char *b, size_t size,
                             png_info *info, ae_error *err)
{
    if (size < 8 || memcmp(b, png_signature, 8) != 0) {
        ae_error_set(err, "%s: not a PNG file (bad signature)", path);
        return AE_ERR_INPUT;
    }
    size_t at = 8;
    int seen_ihdr = 0, seen_idat = 0, idat_done = 0;
    memset(info, 0, sizeof *info);
    for (;;) {
        if (size - at < 12) {
            ae_error_set(err, "%s: truncated: %zu bytes left at offset %zu where a chunk (at "
                         "least 12 bytes) or IEND was expected", path, size - at, at);
            return AE_ERR_INPUT;
        }
        unsigned long len = get_be32(b + at);
        const unsigned char *type = b + at + 4;
        char name[5];
        for (int i = 0; i < 4; i++)
            name[i] = (type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')
                          ? (char)type[i] : '?';
        name[4] = '\0';
        if (len > PNG_MAX_CHUNK || len > size - at - 12) {
            ae_error_set(err, "%s: truncated: chunk %s at offset %zu claims %lu bytes but only "
                         "%zu remain", path, name, at, len, size - at - 12);
            return AE_ERR_INPUT;
        }
        const unsigned char *data = b + at + 8;
        uLong crc = crc32(crc32(0L, type, 4), data, (uInt)len);
        unsigned long stored = get_be32(data + len);
        if ((crc & 0xffffffffUL) != stored) {
            ae_error_set(err, "%s: chunk %s at offset %zu has a bad CRC (stored %08lx, computed "
                         "%08lx); the file is corrupt", path, name, at, stored,
                         (unsigned long)(crc & 0xffffffffUL));
            return AE_ERR_INPUT;
        }
        at += 12 + (size_t)len;

        if (!seen_ihdr && strcmp(name, "IHDR") != 0) {
            ae_error_set(err, "%s: the first chunk is %s, expected IHDR", path, name);
            return AE_ERR_INPUT;
        }
        if (strcmp(name, "IHDR") == 0) {
            if (seen_ihdr || len != 13) {
                ae_error_set(err, "%s: IHDR is repeated or not 13 bytes long", path);
                return AE_ERR_INPUT;
            }
            seen_ihdr = 1;
            unsigned long w = get_be32(data), h = get_be32(data + 4);
            if (w == 0 || h == 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE) {
                ae_error_set(err, "%s: image size %lu x %lu is outside 1..%zu", path, w, h,
                             PNG_MAX_SIDE);
                return AE_ERR_INPUT;
            }
            if (data[8] != 8 || (data[9] != 0 && data[9] != 2)) {
                ae_error_set(err, "%s: bit depth %u, colour type %u; only 8-bit grey (type 0) "
                             "and RGB (type 2) are supported", path, data[8], data[9]);
                return AE_ERR_INPUT;
            }
            if (data[10] != 0 || data[11] != 0) {
                ae_error_set(err, "%s: unknown compression method %u or filter method %u", path,
                             data[10], data[11]);
                return AE_ERR_INPUT;
            }
            if (data[12] != 0) {
                ae_error_set(err, "%s: interlaced PNGs are not supported", path);
                return AE_ERR_INPUT;
            }
            info->width = w;
            info->height = h;
            info->channels = data[9] == 0 ? 1 : 3;
        } else if (strcmp(name, "IDAT") == 0) {
            if (idat_done) {
                ae_error_set(err, "%s: IDAT chunks are not consecutive", path);
                return AE_ERR_INPUT;
            }
            seen_idat = 1;
            info->idat_bytes += len;
        } else if (strcmp(name, "IEND") == 0) {
            if (!seen_idat) {
                ae_error_set(err, "%s: no IDAT chunk (no image data)", path);
                return AE_ERR_INPUT;
            }
            return AE_OK; /* anything after IEND is ignored */
        } else {
            if (seen_idat)
                idat_done = 1;
            /* Ancillary chunks (lower-case first letter) may be skipped; a
             * suggested palette is harmless for truecolour. */
            int ancillary = type[0] & 0x20;
            if (!ancillary && !(strcmp(name, "PLTE") == 0 && info->channels == 3)) {
                ae_error_set(err, "%s: unsupported critical chunk %s", path, name);
                return AE_ERR_INPUT;
            }
        }
    }
}

/* Inflates the concatenated IDAT payloads into raw[0..raw_size). */
static ae_status inflate_idat(const char *path, const unsigned char *b, size_t size,
                              uint8_t *raw, size_t raw_size, ae_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) {
        ae_error_set(err, "%s: cannot initialise zlib", path);
        return AE_ERR_NOMEM;
    }
    zs.next_out = raw;
    zs.avail_out = (uInt)raw_size; /* raw_size < 2^32, checked by the caller */
    int ret = Z_OK;
    /* scan_chunks has checked every length, so the walk stays in bounds. */
    for (size_t at = 8; at + 12 <= size && ret != Z_STREAM_END;) {
        size_t len = get_be32(b + at);
        const unsigned char *type = b + at + 4;
        if (memcmp(type, "IEND", 4) == 0)
            break;
        if (memcmp(type, "IDAT", 4) == 0) {
            zs.next_in = (Bytef *)(b + at + 8);
            zs.avail_in = (uInt)len;
            while (zs.avail_in > 0) {
                ret = inflate(&zs, Z_NO_FLUSH);
                if (ret == Z_STREAM_END)
                    break;
                if (ret == Z_BUF_ERROR && zs.avail_out == 0) {
                    ae_error_set(err, "%s: the image data decompresses to more than the %zu "
                                 "bytes the header implies", path, raw_size);
                    inflateEnd(&zs);
                    return AE_ERR_INPUT;
                }
                if (ret != Z_OK) {
                    ae_error_set(err, "%s: corrupt compressed image data (%s)", path,
                                 zs.msg ? zs.msg : "zlib error");
                    inflateEnd(&zs);
                    return AE_ERR_INPUT;
                }
            }
        }
        at += 12 + len;
    }
    size_t got = raw_size - zs.avail_out;
    inflateEnd(&zs);
    if (ret != Z_STREAM_END) {
        ae_error_set(err, "%s: truncated: the compressed image data ends early (%zu of %zu bytes "
                     "decoded)", path, got, raw_size);
        return AE_ERR_INPUT;
    }
    if (got != raw_size) {
        ae_error_set(err, "%s: the image data has %zu bytes, the header implies %zu", path, got,
                     raw_size);
        return AE_ERR_INPUT;
    }
    return AE_OK;
}

/* Undoes the per-row filters of raw ([height x (1 + stride)]) into pixels. */
static ae_status unfilter(const char *path, const uint8_t *raw, size_t height, size_t stride,
                          size_t bpp, uint8_t *pixels, ae_error *err)
{
    for (size_t y = 0; y < height; y++) {
        const uint8_t *src = raw + y * (stride + 1);
        uint8_t *row = pixels + y * stride;
        const uint8_t *prev = y > 0 ? row - stride : NULL;
        int f = src[0];
        if (f > 4) {
            ae_error_set(err, "%s: row %zu has filter type %d; only 0..4 exist", path, y, f);
            return AE_ERR_INPUT;
        }
        src++;
        for (size_t i = 0; i < stride; i++) {
            unsigned a = i >= bpp ? row[i - bpp] : 0, b = prev ? prev[i] : 0;
            unsigned c = prev && i >= bpp ? prev[i - bpp] : 0;
            unsigned pred = f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2
                          : f == 4 ? paeth(a, b, c) : 0;
            row[i] = (uint8_t)(src[i] + pred);
        }
    }
    return AE_OK;
}

ae_status ae_png_read(const char *path, uint8_t **pixels, size_t *width, size_t *height,
                      int *channels, ae_error *err)
{
    if (!path || !pixels || !width || !height || !channels) {
        ae_error_set(err, "png: NULL argument");
        return AE_ERR_USAGE;
    }
    unsigned char *b = NULL;
    size_t size = 0;
    ae_status st = read_whole(path, &b, &size, err);
    if (st != AE_OK)
        return st;
    png_info info;
    uint8_t *raw = NULL, *px = NULL;
    st = scan_chunks(path, b, size, &info, err);
    if (st != AE_OK)
        goto done;
    size_t stride = info.width * (size_t)info.channels;
    size_t raw_size = info.height * (stride + 1); /* < 2^24 * (3 * 2^24 + 1), fits */
    if (raw_size > 0xffffffffUL) {
        ae_error_set(err, "%s: a %zu x %zu image is too large to decode here", path, info.width,
                     info.height);
        st = AE_ERR_INPUT;
        goto done;
    }
    if ((raw_size - 1) / PNG_MAX_RATIO > info.idat_bytes) {
        ae_error_set(err, "%s: %zu bytes of compressed data cannot hold a %zu x %zu image; the "
                     "file is truncated or corrupt", path, info.idat_bytes, info.width,
                     info.height);
        st = AE_ERR_INPUT;
        goto done;
    }
    raw = malloc(raw_size);
    px = malloc(info.height * stride);
    if (!raw || !px) {
        ae_error_set(err, "%s: out of memory for a %zu x %zu image", path, info.width,
                     info.height);
        st = AE_ERR_NOMEM;
        goto done;
    }
    st = inflate_idat(path, b, size, raw, raw_size, err);
    if (st == AE_OK)
        st = unfilter(path, raw, info.height, stride, (size_t)info.channels, px, err);
    if (st == AE_OK) {
        *pixels = px;
        px = NULL;
        *width = info.width;
        *height = info.height;
        *channels = info.channels;
    }
done:
    free(px);
    free(raw);
    free(b);
    return st;
}

/* ---- grid -------------------------------------------------------------- */

/* Linear map lo -> 0, hi -> 255, rounded, clipped; NaN -> 0. */
static uint8_t to_grey(float v, double lo, double scale)
{
    double t = ((double)v - lo) * scale;
    if (!(t > 0.0))
        return 0; /* also NaN */
    if (t >= 255.0)
        return 255;
    return (uint8_t)floor(t + 0.5);
}

ae_status ae_image_grid(const float *images, size_t n, size_t h, size_t w, size_t cols,
                        size_t pad, float lo, float hi, uint8_t **out, size_t *out_w,
                        size_t *out_h, ae_error *err)
{
    if (!images || !out || !out_w || !out_h) {
        ae_error_set(err, "image grid: NULL argument");
        return AE_ERR_USAGE;
    }
    if (n == 0 || h == 0 || w == 0 || cols == 0) {
        ae_error_set(err, "image grid: %zu images of %zu x %zu in %zu columns; all must be "
                     "positive", n, h, w, cols);
        return AE_ERR_USAGE;
    }
    if (!(lo < hi) || !isfinite((double)hi - (double)lo)) {
        ae_error_set(err, "image grid: value range [%g, %g] is empty or not finite", (double)lo,
                     (double)hi);
        return AE_ERR_USAGE;
    }
    size_t rows = n / cols + (n % cols != 0);
    /* out_w = cols * w + (cols + 1) * pad, likewise for height; each product
     * and sum is checked before it is formed. */
    size_t gw = 0, gh = 0;
    int ok = w <= SIZE_MAX - pad && h <= SIZE_MAX - pad;
    ok = ok && cols <= (SIZE_MAX - pad) / (w + pad) && rows <= (SIZE_MAX - pad) / (h + pad);
    if (ok) {
        gw = cols * (w + pad) + pad;
        gh = rows * (h + pad) + pad;
        ok = gh <= SIZE_MAX / gw && n <= SIZE_MAX / h / w;
    }
    if (!ok) {
        ae_error_set(err, "image grid: %zu images of %zu x %zu with pad %zu in %zu columns "
                     "overflow the output size", n, h, w, pad, cols);
        return AE_ERR_USAGE;
    }
    uint8_t *g = malloc(gw * gh);
    if (!g) {
        ae_error_set(err, "image grid: out of memory for %zu x %zu pixels", gw, gh);
        return AE_ERR_NOMEM;
    }
    memset(g, 128, gw * gh);
    double scale = 255.0 / ((double)hi - (double)lo);
    for (size_t k = 0; k < n; k++) {
        const float *img = images + k * h * w; /* [h x w] */
        size_t y0 = pad + (k / cols) * (h + pad), x0 = pad + (k % cols) * (w + pad);
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++)
                g[(y0 + y) * gw + x0 + x] = to_grey(img[y * w + x], lo, scale);
    }
    *out = g;
    *out_w = gw;
    *out_h = gh;
    return AE_OK;
}
