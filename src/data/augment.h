/* augment.h: training-time augmentation of one sample, keyed by (seed,
 * epoch, sample index) alone, so the same sample gets the same transform on
 * any rank and for any -np (DESIGN.md "Reproducibility"). Validation never
 * augments. Applied to the float (C, H, W) tensor in [0, 1].
 *
 * --augment takes a comma-separated list:
 *   crop=S         random resized crop: a box of area fraction U(S, 1)
 *                  (default 0.35) and aspect ratio (w/h) log-uniform in
 *                  [3/4, 4/3] at a random place, resized back to H x W with
 *                  bilinear sampling (torchvision's RandomResizedCrop with a
 *                  single try: the box is clamped into the image)
 *   hflip          mirror left-right with probability 1/2
 *   vflip          mirror top-bottom with probability 1/2
 *   dihedral       one of the 8 symmetries of the square (square images)
 *   translate=P    shift by up to P pixels each way, zero fill (default 2)
 *   brightness=B   add U(-B, B) to every pixel (default 0.1)
 *   contrast=C     scale around the image mean by U(1-C, 1+C) (default 0.1)
 * Transforms apply in the order listed above, whatever the order given. */
#ifndef DL_AUGMENT_H
#define DL_AUGMENT_H

#include <stdint.h>

#include "util.h"

typedef struct {
    int hflip, vflip, dihedral, translate;
    float brightness, contrast;
    float crop;              /* crop=S: smallest area fraction (0: off) */
} AugmentConfig;

/* Parses the --augment list (NULL or "" or "none": no augmentation). */
DlStatus augment_parse(AugmentConfig *a, const char *spec);
static inline int augment_any(const AugmentConfig *a) {
    return a->hflip || a->vflip || a->dihedral || a->translate || a->brightness > 0 || a->contrast > 0 || a->crop > 0;
}

/* x (C, H, W) in place; tmp holds C*H*W floats. */
void augment_sample(float *x, float *tmp, int c, int h, int w, const AugmentConfig *a, uint64_t seed,
                    int epoch, int64_t sample);

/* The crop box (y0, x0, bh, bw) for image h x w, smallest area fraction
 * scale, and uniforms in [0, 1): u_area picks the area fraction in
 * [scale, 1], u_ratio the aspect ratio (0.5: square), u_y/u_x the place. */
void augment_crop_box(int h, int w, float scale, float u_area, float u_ratio, float u_y, float u_x, int box[4]);

/* x (C, H, W) <- the box (y0, x0, bh, bw) of x resized to H x W, bilinear
 * (half-pixel centres, edges clamped, as PyTorch's align_corners=False);
 * tmp holds C*H*W floats. The full box leaves x unchanged. */
void augment_crop(float *x, float *tmp, int c, int h, int w, const int box[4]);

#endif
