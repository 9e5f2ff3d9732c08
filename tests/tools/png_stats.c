/* png_stats: pixel statistics of a PNG for the CLI tests, which cannot
 * decode a large screenshot quickly in Python without extra packages.
 *
 * usage: png_stats FILE [RRGGBB ...]
 * prints: width height distinct_colours dark_pixels count(RRGGBB)...
 * (dark: every channel below 160; a grey image's value v is the colour vvvvvv) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/image.h"

static int cmp_u32(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: png_stats FILE [RRGGBB ...]\n");
        return 2;
    }
    uint8_t *px;
    size_t w, h;
    int ch;
    ae_error err;
    if (ae_png_read(argv[1], &px, &w, &h, &ch, &err) != AE_OK) {
        fprintf(stderr, "png_stats: %s\n", err.msg);
        return 1;
    }
    size_t n = w * h, dark = 0;
    unsigned *rgb = malloc(n * sizeof(unsigned));
    if (!rgb)
        return 1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = px + i * (size_t)ch;
        unsigned r = p[0], g = ch == 3 ? p[1] : p[0], b = ch == 3 ? p[2] : p[0];
        rgb[i] = r << 16 | g << 8 | b;
        dark += r < 160 && g < 160 && b < 160;
    }
    printf("%zu %zu", w, h);
    unsigned *sorted = malloc(n * sizeof(unsigned));
    if (!sorted)
        return 1;
    memcpy(sorted, rgb, n * sizeof(unsigned));
    qsort(sorted, n, sizeof(unsigned), cmp_u32);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || sorted[i] != sorted[i - 1];
    printf(" %zu %zu", distinct, dark);
    for (int a = 2; a < argc; a++) {
        unsigned want = (unsigned)strtoul(argv[a], NULL, 16);
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            c += rgb[i] == want;
        printf(" %zu", c);
    }
    printf("\n");
    free(sorted);
    free(rgb);
    free(px);
    return 0;
}
