/* jpeg.h: decode and encode whole JPEG images in memory with libjpeg-turbo
 * (TurboJPEG API), for dlprep and for datasets stored as /jpeg.
 * Pixels are interleaved uint8 (H, W, C) with C = 1 (grey) or 3 (RGB).
 * Colour handling: grey JPEGs become 3 equal channels when RGB is asked for;
 * colour to grey is ITU-R BT.601 luma (what JPEG's YCbCr stores as Y);
 * CMYK/YCCK JPEGs are read as CMYK and converted with R = C*K/255 (etc.) on
 * the stored values, which follow Adobe's inverted convention, as
 * libjpeg-turbo's own tools and Pillow do (no colour management).
 * Damaged data: any decoder error or warning refuses the image (a truncated
 * file, a bad Huffman code or a lost restart marker mean grey, made-up
 * pixels), except a few known benign warnings such as junk bytes between
 * markers, which many cameras and editors leave and other readers accept.
 * Not here: resizing (resize.h), PNG or other formats, EXIF orientation. */
#ifndef DL_JPEG_H
#define DL_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The most pixels (width x height) a JPEG may declare; larger is refused
 * before decoding. Lowered by fuzz builds (tests/fuzz) to keep each input
 * fast; the dataset limits (dataset.h) follow it. */
#ifndef JPEG_MAX_PIXELS
#define JPEG_MAX_PIXELS ((int64_t)1 << 28)
#endif

/* Decoder and encoder handles, made on first use. Zero-initialise; one per
 * thread; free with jpeg_codec_free (accepts a zeroed codec). */
typedef struct {
    void *dec, *enc;
} JpegCodec;

void jpeg_codec_free(JpegCodec *j);

/* Decodes buf[0..n) into a new image *out (h, w, c), freed with dl_free.
 * want_c: 1 grey, 3 RGB, 0 the image's own (1 for grey JPEGs, else 3).
 * min_h, min_w > 0 allow libjpeg-turbo to decode at 1/2, 1/4 or 1/8 scale
 * (DCT scaling, much faster for large photos) as long as the result stays at
 * least min_h x min_w; 0, 0 decodes at full size.
 * On failure returns DL_EFORMAT with a one-line message "NAME: why" (the
 * decoder's reason, or what the bytes look like instead: PNG, GIF, text...)
 * and leaves *out NULL. */
DlStatus jpeg_decode(JpegCodec *j, const uint8_t *buf, size_t n, int want_c, int min_h, int min_w,
                     const char *name, uint8_t **out, int *h, int *w, int *c);

/* Encodes img (h, w, c), c = 1 or 3, at quality 1..100 into a new buffer
 * *out of *n bytes (free with dl_free). Chroma is kept at full resolution
 * (4:4:4) for quality >= 90 and halved (4:2:0) below, as ImageMagick does. */
DlStatus jpeg_encode(JpegCodec *j, const uint8_t *img, int h, int w, int c, int quality,
                     uint8_t **out, size_t *n);

#endif
