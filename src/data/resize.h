/* resize.h: resize and channel conversion of interleaved uint8 images
 * (H, W, C), for dlprep's presizing.
 * Each axis is resampled on its own: an area average (box filter: every
 * source pixel weighted by how much of it the output pixel covers) when that
 * axis shrinks, bilinear interpolation (pixel centres aligned, edges
 * clamped, as PIL and OpenCV do) when it grows, and a plain copy when it
 * keeps its size. The aspect ratio is not kept: the caller squashes the whole
 * image to the target size (fastai's Resize(method='squash')); cropping is
 * left to training-time augmentation.
 * Not here: gamma-correct averaging (sRGB values are averaged as stored, as
 * PIL does), antialiased upscaling filters (Lanczos, bicubic). */
#ifndef DL_RESIZE_H
#define DL_RESIZE_H

#include <stddef.h>
#include <stdint.h>

/* dst (dh, dw, c) = src (sh, sw, c) resampled as above, rounded to nearest. */
void resize_image(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw, int c);

/* dst (pixels, dc) = src (pixels, sc) with dc, sc in {1, 3}: grey to RGB
 * repeats the value, RGB to grey is ITU-R BT.601 luma (0.299 R + 0.587 G +
 * 0.114 B), equal counts copy. dst and src must not overlap. */
void image_convert_channels(uint8_t *dst, int dc, const uint8_t *src, int sc, size_t pixels);

#endif
