/* Pictures: PNG writing (8-bit grey or RGB, zlib deflate + CRC) and tiling a
 * batch of images into one grid. */
#ifndef AE_IMAGE_H
#define AE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "ae/status.h"

/* pixels: [height x width x channels] row-major, channels 1 (grey) or 3 (RGB),
 * width and height 1..2^24 (AE_ERR_USAGE otherwise).  Written atomically. */
ae_status ae_png_write(const char *path, const uint8_t *pixels, size_t width, size_t height,
                       int channels, ae_error *err);

/* Decodes a PNG written by ae_png_write or any encoder producing 8-bit grey
 * or RGB, non-interlaced (all five row filters), checking signature, chunk
 * CRCs and the zlib stream; ancillary chunks are skipped.  AE_ERR_INPUT
 * naming the file otherwise.  *pixels is malloc'ed [height x width x channels]. */
ae_status ae_png_read(const char *path, uint8_t **pixels, size_t *width, size_t *height,
                      int *channels, ae_error *err);

/* Tiles n images of h x w floats ([n x h*w]) into a grey grid of `cols`
 * columns and ceil(n / cols) rows with `pad` pixels of mid-grey (128) border
 * between and around them; cells without an image are mid-grey too.  Values
 * are mapped linearly so lo -> 0 and hi -> 255, rounded and clipped; NaN -> 0.
 * AE_ERR_USAGE when n, h, w or cols is 0, lo >= hi, or the size overflows.
 * *out is malloc'ed [*out_h x *out_w]. */
ae_status ae_image_grid(const float *images, size_t n, size_t h, size_t w, size_t cols,
                        size_t pad, float lo, float hi, uint8_t **out, size_t *out_w,
                        size_t *out_h, ae_error *err);

#endif
