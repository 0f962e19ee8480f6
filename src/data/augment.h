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
 *   rotate=D       rotate by U(-D, D) degrees about the centre (default 10)
 *   zoom=A:B       scale by U(A, B) about the centre: above 1 zooms in,
 *                  below 1 zooms out (default 1:1.1)
 *   shear=S        shear along x by U(-S, S) degrees (default 10)
 *   warp=M         fastai's perspective warp: two magnitudes U(-M, M) tilt
 *                  the image about its axes, the corners moving by up to M
 *                  of the half-size (default 0.2)
 * Rotate, zoom, shear and warp compose into one projective map per sample
 * (one bilinear resampling, as fastai's GPU pipeline) applied after the
 * flips and before translate: the output is the warp of torchvision's
 * affine(angle=-r, scale=z, shear=(s, 0)) of the input (an output pixel's
 * source point: the warp's homography, then the inverse affine).
 * Border: zeros (torchvision's grid_sample padding), like translate's
 * fill; reflection would copy object parts into the corners.
 * Transforms apply in the order crop, flips/dihedral, rotate/zoom/shear/
 * warp, translate, contrast, brightness, whatever the order given. */
#ifndef DL_AUGMENT_H
#define DL_AUGMENT_H

#include <stdint.h>

#include "util.h"

typedef struct {
    int hflip, vflip, dihedral, translate;
    float brightness, contrast;
    float crop;              /* crop=S: smallest area fraction (0: off) */
    float rotate;            /* degrees (0: off) */
    float zoom_lo, zoom_hi;  /* scale range (zoom_lo 0: off) */
    float shear;             /* degrees (0: off) */
    float warp;              /* fastai magnitude (0: off) */
} AugmentConfig;

/* One sample's geometric transform: rotation (degrees, counter-clockwise
 * on screen, as torchvision's rotate), scale, x-shear (degrees, as
 * torchvision's affine shear=(s, 0)), fastai warp magnitudes x and y. */
typedef struct {
    double angle, scale, shear, warp_x, warp_y;
} AugmentGeometry;

/* Parses the --augment list (NULL or "" or "none": no augmentation). */
DlStatus augment_parse(AugmentConfig *a, const char *spec);
static inline int augment_geometric(const AugmentConfig *a) {
    return a->rotate > 0 || a->zoom_lo > 0 || a->shear > 0 || a->warp > 0;
}
static inline int augment_any(const AugmentConfig *a) {
    return a->hflip || a->vflip || a->dihedral || a->translate || a->brightness > 0 || a->contrast > 0 || a->crop > 0 ||
           augment_geometric(a);
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

/* g from the config and the sample's uniforms in [0, 1) (draws 11..15 of
 * its keyed generator): each parameter uniform in its range. */
void augment_geometry_draw(AugmentGeometry *g, const AugmentConfig *a, float u_rotate, float u_zoom, float u_shear,
                           float u_warp_x, float u_warp_y);

/* hm (3x3 row-major) maps an output pixel centre (u, v, 1), in pixels from
 * the image centre ((j + 0.5 - w/2, i + 0.5 - h/2)), to its source point
 * (homogeneous), for g on an h x w image. */
void augment_geometry_map(double hm[9], int h, int w, const AugmentGeometry *g);

/* x (C, H, W) <- x sampled through hm, bilinear, zeros outside (each of the
 * four neighbours outside the image counts 0, as grid_sample's zeros
 * padding with align_corners=False); tmp holds C*H*W floats. */
void augment_resample(float *x, float *tmp, int c, int h, int w, const double hm[9]);

#endif
