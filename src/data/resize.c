/* resize.c: separable area/bilinear resampling and grey/RGB conversion
 * (contract in resize.h). Each axis gets a table of taps (first source
 * index, a fixed number of weights, zero-padded and kept inside the image so
 * the inner loops need no bounds tests). Each output row is made by a
 * vertical pass over whole source rows (contiguous, so the compiler
 * vectorises it) into a float row, then a horizontal pass along that row. */
#include "resize.h"

#include <math.h>
#include <string.h>

#include "util.h"

typedef struct {
    int taps;        /* weights per output index */
    int *first;      /* (dn) first source index */
    float *weight;   /* (dn, taps), zero-padded */
} Taps;

static void taps_make(Taps *t, int sn, int dn) {
    double scale = (double)sn / dn;
    t->taps = sn > dn ? (int)ceil(scale) + 1 : 2;
    if (t->taps > sn) t->taps = sn;
    t->first = dl_malloc((size_t)dn * sizeof *t->first);
    t->weight = dl_calloc((size_t)dn * (size_t)t->taps, sizeof *t->weight);
    for (int o = 0; o < dn; o++) {
        float *wt = t->weight + (size_t)o * t->taps;
        int i0;
        if (sn > dn) {               /* area: overlap of [o, o+1) * scale with each source pixel */
            double lo = o * scale, hi = (o + 1) * scale;
            int i1 = (int)ceil(hi);
            i0 = (int)floor(lo);
            if (i1 > sn) i1 = sn;
            for (int i = i0; i < i1 && i - i0 < t->taps; i++)
                wt[i - i0] = (float)((fmin(hi, i + 1.0) - fmax(lo, (double)i)) / scale);
        } else if (sn < dn) {        /* bilinear between the two nearest centres */
            double x = (o + 0.5) * scale - 0.5;
            if (x < 0) x = 0;
            if (x > sn - 1) x = sn - 1;
            i0 = (int)floor(x);
            if (i0 > sn - 2) i0 = sn - 2 < 0 ? 0 : sn - 2;
            float f = (float)(x - i0);
            wt[0] = 1.0f - f;
            if (t->taps > 1) wt[1] = f;
        } else {
            i0 = o;
            wt[0] = 1.0f;
        }
        int over = i0 + t->taps - sn;   /* keep all taps inside: shift the (zero) tail to the front */
        if (over > 0) {
            memmove(wt + over, wt, (size_t)(t->taps - over) * sizeof *wt);
            for (int k = 0; k < over; k++) wt[k] = 0.0f;
            i0 -= over;
        }
        t->first[o] = i0;
    }
}

static void taps_free(Taps *t) {
    dl_free(t->first);
    dl_free(t->weight);
}

static inline uint8_t to_u8(float v) {   /* round half up, clamp; written so it compiles to min/max */
    v += 0.5f;
    v = v < 0.0f ? 0.0f : v;
    v = v > 255.0f ? 255.0f : v;
    return (uint8_t)v;
}

void resize_image(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw, int c) {
    if (dh == sh && dw == sw) {
        memcpy(dst, src, (size_t)dh * dw * c);
        return;
    }
    Taps tx, ty;
    taps_make(&tx, sw, dw);
    taps_make(&ty, sh, dh);
    const size_t srow = (size_t)sw * c;
    float *row = dl_malloc(srow * sizeof *row);   /* (sw, c): source rows mixed for one output row */
    for (int o = 0; o < dh; o++) {
        const float *wy = ty.weight + (size_t)o * ty.taps;
        const uint8_t *s0 = src + (size_t)ty.first[o] * srow;
        for (size_t x = 0; x < srow; x++) row[x] = wy[0] * s0[x];
        for (int k = 1; k < ty.taps; k++) {
            const uint8_t *sk = s0 + (size_t)k * srow;
            const float wk = wy[k];
            for (size_t x = 0; x < srow; x++) row[x] += wk * sk[x];
        }
        uint8_t *out = dst + (size_t)o * dw * c;
        for (int p = 0; p < dw; p++) {
            const float *wx = tx.weight + (size_t)p * tx.taps, *r = row + (size_t)tx.first[p] * c;
            if (c == 3) {            /* the common case: three accumulators, one pass */
                float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f;
                for (int k = 0; k < tx.taps; k++, r += 3) { a0 += wx[k] * r[0]; a1 += wx[k] * r[1]; a2 += wx[k] * r[2]; }
                out[3 * p] = to_u8(a0);
                out[3 * p + 1] = to_u8(a1);
                out[3 * p + 2] = to_u8(a2);
            } else {
                for (int ch = 0; ch < c; ch++) {
                    float a = 0.0f;
                    for (int k = 0; k < tx.taps; k++) a += wx[k] * r[(size_t)k * c + ch];
                    out[(size_t)p * c + ch] = to_u8(a);
                }
            }
        }
    }
    dl_free(row);
    taps_free(&tx);
    taps_free(&ty);
}

void image_convert_channels(uint8_t *dst, int dc, const uint8_t *src, int sc, size_t pixels) {
    if (dc == sc) { memcpy(dst, src, pixels * (size_t)dc); return; }
    if (dc == 3)
        for (size_t p = 0; p < pixels; p++) dst[3 * p] = dst[3 * p + 1] = dst[3 * p + 2] = src[p];
    else
        for (size_t p = 0; p < pixels; p++) {
            const uint8_t *q = src + 3 * p;
            dst[p] = (uint8_t)((299u * q[0] + 587u * q[1] + 114u * q[2] + 500u) / 1000u);
        }
}
