/* augment.h: training-time augmentation of one sample, keyed by (seed,
 * epoch, sample index) alone, so the same sample gets the same transform on
 * any rank and for any -np (DESIGN.md "Reproducibility"). Validation never
 * augments. Applied to the float (C, H, W) tensor in [0, 1].
 *
 * --augment takes a comma-separated list:
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
} AugmentConfig;

/* Parses the --augment list (NULL or "" or "none": no augmentation). */
DlStatus augment_parse(AugmentConfig *a, const char *spec);
static inline int augment_any(const AugmentConfig *a) {
    return a->hflip || a->vflip || a->dihedral || a->translate || a->brightness > 0 || a->contrast > 0;
}

/* x (C, H, W) in place; tmp holds C*H*W floats. */
void augment_sample(float *x, float *tmp, int c, int h, int w, const AugmentConfig *a, uint64_t seed,
                    int epoch, int64_t sample);

#endif
