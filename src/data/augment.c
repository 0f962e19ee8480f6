/* augment.c: see augment.h. Every random choice of a sample is drawn from
 * dl_hash(seed, RNG_AUGMENT, epoch, sample) with a fixed draw order; new
 * transforms append their draws, so older ones keep their choices. */
#define _POSIX_C_SOURCE 200809L
#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

DlStatus augment_parse(AugmentConfig *a, const char *spec) {
    *a = (AugmentConfig){ 0 };
    if (!spec || !*spec || !strcmp(spec, "none")) return DL_OK;
    char *copy = dl_strdup(spec), *save = NULL;
    DlStatus st = DL_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && st == DL_OK; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq) *eq++ = '\0';
        char *end = NULL;
        double v = eq ? strtod(eq, &end) : 0.0;
        int bad = eq && (!*eq || *end || v < 0);
        if (!strcmp(tok, "hflip") && !eq) a->hflip = 1;
        else if (!strcmp(tok, "vflip") && !eq) a->vflip = 1;
        else if (!strcmp(tok, "dihedral") && !eq) a->dihedral = 1;
        else if (!strcmp(tok, "translate") && !bad && v <= 64 && v == (int)v) a->translate = eq ? (int)v : 2;
        else if (!strcmp(tok, "brightness") && !bad && v <= 1) a->brightness = eq ? (float)v : 0.1f;
        else if (!strcmp(tok, "contrast") && !bad && v < 1) a->contrast = eq ? (float)v : 0.1f;
        else if (!strcmp(tok, "crop") && !bad && (!eq || (v > 0 && v <= 1))) a->crop = eq ? (float)v : 0.35f;
        else
            st = dl_fail(DL_EARG, "--augment: cannot use '%s%s%s' (choose from hflip, vflip, dihedral, "
                         "translate=PIXELS, brightness=0..1, contrast=0..1, crop=0..1)", tok, eq ? "=" : "", eq ? eq : "");
    }
    dl_free(copy);
    return st;
}

/* tmp <- x under the symmetry: transpose if t&4, then flip rows if t&2,
 * flip columns if t&1 (h == w whenever t&4). Then back into x. */
static void symmetry(float *x, float *tmp, int c, int h, int w, int t) {
    for (int ch = 0; ch < c; ch++) {
        const float *src = x + (size_t)ch * h * w;
        float *dst = tmp + (size_t)ch * h * w;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                int si = i, sj = j;
                if (t & 1) sj = w - 1 - sj;
                if (t & 2) si = h - 1 - si;
                if (t & 4) { int k = si; si = sj; sj = k; }
                dst[i * w + j] = src[si * w + sj];
            }
    }
    memcpy(x, tmp, sizeof(float) * (size_t)c * h * w);
}

static void shift(float *x, float *tmp, int c, int h, int w, int dy, int dx) {
    for (int ch = 0; ch < c; ch++) {
        const float *src = x + (size_t)ch * h * w;
        float *dst = tmp + (size_t)ch * h * w;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                int si = i - dy, sj = j - dx;
                dst[i * w + j] = si >= 0 && si < h && sj >= 0 && sj < w ? src[si * w + sj] : 0.0f;
            }
    }
    memcpy(x, tmp, sizeof(float) * (size_t)c * h * w);
}

void augment_crop_box(int h, int w, float scale, float u_area, float u_ratio, float u_y, float u_x, int box[4]) {
    const double lo = log(3.0 / 4.0), hi = log(4.0 / 3.0);
    double area = (double)h * w * (scale + (1.0 - scale) * u_area);
    double ratio = exp(lo + (hi - lo) * u_ratio);
    int bw = (int)lround(sqrt(area * ratio)), bh = (int)lround(sqrt(area / ratio));
    if (bw < 1) bw = 1;
    if (bw > w) bw = w;
    if (bh < 1) bh = 1;
    if (bh > h) bh = h;
    int y0 = (int)(u_y * (float)(h - bh + 1)), x0 = (int)(u_x * (float)(w - bw + 1));
    if (y0 > h - bh) y0 = h - bh;
    if (x0 > w - bw) x0 = w - bw;
    box[0] = y0; box[1] = x0; box[2] = bh; box[3] = bw;
}

/* Source coordinate of output pixel i when n source pixels map onto m. */
static void bilinear_axis(int i, int n, int m, int *i0, int *i1, float *f) {
    float s = ((float)i + 0.5f) * (float)n / (float)m - 0.5f;
    if (s < 0.0f) s = 0.0f;
    int a = (int)s;
    if (a > n - 1) a = n - 1;
    *i0 = a;
    *i1 = a + 1 < n ? a + 1 : n - 1;
    *f = s - (float)a;
}

void augment_crop(float *x, float *tmp, int c, int h, int w, const int box[4]) {
    const int y0 = box[0], x0 = box[1], bh = box[2], bw = box[3];
    if (y0 == 0 && x0 == 0 && bh == h && bw == w) return;
    for (int i = 0; i < h; i++) {
        int a0, a1;
        float fy;
        bilinear_axis(i, bh, h, &a0, &a1, &fy);
        for (int j = 0; j < w; j++) {
            int b0, b1;
            float fx;
            bilinear_axis(j, bw, w, &b0, &b1, &fx);
            for (int ch = 0; ch < c; ch++) {
                const float *src = x + (size_t)ch * h * w;
                float p00 = src[(y0 + a0) * w + x0 + b0], p01 = src[(y0 + a0) * w + x0 + b1];
                float p10 = src[(y0 + a1) * w + x0 + b0], p11 = src[(y0 + a1) * w + x0 + b1];
                float top = p00 + (p01 - p00) * fx, bot = p10 + (p11 - p10) * fx;
                tmp[((size_t)ch * h + i) * w + j] = top + (bot - top) * fy;
            }
        }
    }
    memcpy(x, tmp, sizeof(float) * (size_t)c * h * w);
}

void augment_sample(float *x, float *tmp, int c, int h, int w, const AugmentConfig *a, uint64_t seed,
                    int epoch, int64_t sample) {
    DlRng r = { dl_hash(seed, RNG_AUGMENT, (uint64_t)epoch, (uint64_t)sample) };
    /* Draw every value whether or not it is used, so enabling one transform
     * does not change the others' choices. */
    uint64_t u_h = rng_next(&r), u_v = rng_next(&r), u_d = rng_next(&r), u_t = rng_next(&r);
    float u_b = rng_unit(&r), u_c = rng_unit(&r);
    float u_ca = rng_unit(&r), u_cr = rng_unit(&r), u_cy = rng_unit(&r), u_cx = rng_unit(&r);   /* crop */
    if (a->crop > 0) {   /* first, as torchvision pipelines put RandomResizedCrop */
        int box[4];
        augment_crop_box(h, w, a->crop, u_ca, u_cr, u_cy, u_cx, box);
        augment_crop(x, tmp, c, h, w, box);
    }
    int t = 0;
    if (a->hflip && (u_h & 1)) t ^= 1;
    if (a->vflip && (u_v & 1)) t ^= 2;
    if (a->dihedral && h == w) t ^= (int)(u_d % 8);
    if (t) symmetry(x, tmp, c, h, w, t);
    if (a->translate) {
        int span = 2 * a->translate + 1;
        int dy = (int)((u_t >> 8) % (uint64_t)span) - a->translate;
        int dx = (int)((u_t >> 32) % (uint64_t)span) - a->translate;
        if (dy || dx) shift(x, tmp, c, h, w, dy, dx);
    }
    size_t n = (size_t)c * h * w;
    if (a->contrast > 0) {
        double mean = 0.0;
        for (size_t i = 0; i < n; i++) mean += x[i];
        float m = (float)(mean / (double)n), k = 1.0f + a->contrast * (2.0f * u_c - 1.0f);
        for (size_t i = 0; i < n; i++) x[i] = m + (x[i] - m) * k;
    }
    if (a->brightness > 0) {
        float b = a->brightness * (2.0f * u_b - 1.0f);
        for (size_t i = 0; i < n; i++) x[i] += b;
    }
}
