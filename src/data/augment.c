/* augment.c: see augment.h. Every random choice of a sample is drawn from
 * dl_hash(seed, RNG_AUGMENT, epoch, sample) with a fixed draw order; new
 * transforms append their draws, so older ones keep their choices. */
#define _POSIX_C_SOURCE 200809L
#include "augment.h"

#include <math.h>
#include <stdio.h>
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
        double zlo = 1.0, zhi = 1.1;
        char extra;
        if (!strcmp(tok, "zoom"))   /* zoom=A:B, two numbers; bare zoom: 1:1.1 as fastai's max_zoom */
            bad = eq && (sscanf(eq, "%lf:%lf%c", &zlo, &zhi, &extra) != 2 || !(zlo >= 0.25 && zlo <= zhi && zhi <= 4));
        if (!strcmp(tok, "hflip") && !eq) a->hflip = 1;
        else if (!strcmp(tok, "vflip") && !eq) a->vflip = 1;
        else if (!strcmp(tok, "dihedral") && !eq) a->dihedral = 1;
        else if (!strcmp(tok, "translate") && !bad && v <= 64 && v == (int)v) a->translate = eq ? (int)v : 2;
        else if (!strcmp(tok, "brightness") && !bad && v <= 1) a->brightness = eq ? (float)v : 0.1f;
        else if (!strcmp(tok, "contrast") && !bad && v < 1) a->contrast = eq ? (float)v : 0.1f;
        else if (!strcmp(tok, "crop") && !bad && (!eq || (v > 0 && v <= 1))) a->crop = eq ? (float)v : 0.35f;
        else if (!strcmp(tok, "rotate") && !bad && v <= 180) a->rotate = eq ? (float)v : 10.0f;
        else if (!strcmp(tok, "zoom") && !bad) { a->zoom_lo = (float)zlo; a->zoom_hi = (float)zhi; }
        else if (!strcmp(tok, "warp") && !bad && v < 1) a->warp = eq ? (float)v : 0.2f;
        else if (!strcmp(tok, "shear") && !bad && v <= 45) a->shear = eq ? (float)v : 10.0f;
        else
            st = dl_fail(DL_EARG, "--augment: cannot use '%s%s%s' (choose from hflip, vflip, dihedral, "
                         "translate=PIXELS, brightness=0..1, contrast=0..1, crop=0..1, rotate=0..180 (degrees), "
                         "zoom=A:B (0.25 <= A <= B <= 4), warp=0..0.99, shear=0..45 (degrees))",
                         tok, eq ? "=" : "", eq ? eq : "");
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

/* The unit square's corners (0,0), (1,0), (1,1), (0,1) onto the quad
 * q[4][2] (Heckbert's closed form): 3x3 row-major, acting on (u, v, 1). */
static void square_to_quad(double m[9], const double q[4][2]) {
    double sx = q[0][0] - q[1][0] + q[2][0] - q[3][0], sy = q[0][1] - q[1][1] + q[2][1] - q[3][1];
    double g = 0.0, hh = 0.0;
    if (sx != 0.0 || sy != 0.0) {
        double dx1 = q[1][0] - q[2][0], dx2 = q[3][0] - q[2][0], dy1 = q[1][1] - q[2][1], dy2 = q[3][1] - q[2][1];
        double den = dx1 * dy2 - dx2 * dy1;
        g = (sx * dy2 - dx2 * sy) / den;
        hh = (dx1 * sy - sx * dy1) / den;
    }
    m[0] = q[1][0] - q[0][0] + g * q[1][0]; m[1] = q[3][0] - q[0][0] + hh * q[3][0]; m[2] = q[0][0];
    m[3] = q[1][1] - q[0][1] + g * q[1][1]; m[4] = q[3][1] - q[0][1] + hh * q[3][1]; m[5] = q[0][1];
    m[6] = g; m[7] = hh; m[8] = 1.0;
}

void augment_geometry_draw(AugmentGeometry *g, const AugmentConfig *a, float u_rotate, float u_zoom, float u_shear,
                           float u_warp_x, float u_warp_y) {
    g->angle = a->rotate * (2.0 * u_rotate - 1.0);
    g->scale = a->zoom_lo > 0 ? a->zoom_lo + (a->zoom_hi - a->zoom_lo) * (double)u_zoom : 1.0;
    g->shear = a->shear * (2.0 * u_shear - 1.0);
    g->warp_x = a->warp * (2.0 * u_warp_x - 1.0);
    g->warp_y = a->warp * (2.0 * u_warp_y - 1.0);
}

static void mat3_mul(double out[9], const double a[9], const double b[9]) {
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(out, r, sizeof r);
}

void augment_geometry_map(double hm[9], int h, int w, const AugmentGeometry *g) {
    const double pi = 3.14159265358979323846;
    double th = g->angle * pi / 180.0, t = tan(g->shear * pi / 180.0), c = cos(th), s = sin(th), k = 1.0 / g->scale;
    /* inverse of scale * R * Sh: (1/s) Sh^-1 R^-1, Sh = [1 -tan; 0 1] */
    double ainv[9] = { k * (c + t * s), k * (t * c - s), 0.0, k * s, k * c, 0.0, 0.0, 0.0, 1.0 };
    /* fastai's warp in [-1, 1] coordinates: the output's corners (TL, TR,
     * BR, BL) come from these source points */
    double xm = g->warp_x, ym = g->warp_y;
    double q[4][2] = { { -1 - ym, -1 - xm }, { 1 + ym, -1 + xm }, { 1 - ym, 1 - xm }, { -1 + ym, 1 + xm } };
    double quad[9], to_unit[9] = { 1.0 / w, 0.0, 0.5, 0.0, 1.0 / h, 0.5, 0.0, 0.0, 1.0 };
    double from_norm[9] = { 0.5 * w, 0.0, 0.0, 0.0, 0.5 * h, 0.0, 0.0, 0.0, 1.0 };
    square_to_quad(quad, q);
    mat3_mul(hm, quad, to_unit);
    mat3_mul(hm, from_norm, hm);
    mat3_mul(hm, ainv, hm);
}

void augment_resample(float *x, float *tmp, int c, int h, int w, const double hm[9]) {
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double p = j + 0.5 - 0.5 * w, q = i + 0.5 - 0.5 * h;
            double z = hm[6] * p + hm[7] * q + hm[8];
            double sx = (hm[0] * p + hm[1] * q + hm[2]) / z + 0.5 * w - 0.5;
            double sy = (hm[3] * p + hm[4] * q + hm[5]) / z + 0.5 * h - 0.5;
            if (!(z > 0.0) || !(sx > -1.0 && sx < w && sy > -1.0 && sy < h)) {   /* all four neighbours outside */
                for (int ch = 0; ch < c; ch++) tmp[((size_t)ch * h + i) * w + j] = 0.0f;
                continue;
            }
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            float fx = (float)(sx - x0), fy = (float)(sy - y0);
            float wt[4] = { (1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy };
            int in[4] = { x0 >= 0 && y0 >= 0, x0 + 1 < w && y0 >= 0, x0 >= 0 && y0 + 1 < h, x0 + 1 < w && y0 + 1 < h };
            size_t off[4] = { 0, 0, 0, 0 };
            if (in[0]) off[0] = (size_t)y0 * w + x0;
            if (in[1]) off[1] = (size_t)y0 * w + x0 + 1;
            if (in[2]) off[2] = (size_t)(y0 + 1) * w + x0;
            if (in[3]) off[3] = (size_t)(y0 + 1) * w + x0 + 1;
            for (int ch = 0; ch < c; ch++) {
                const float *src = x + (size_t)ch * h * w;
                float v = 0.0f;
                for (int n = 0; n < 4; n++)
                    if (in[n]) v += wt[n] * src[off[n]];
                tmp[((size_t)ch * h + i) * w + j] = v;
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
    float u_ro = rng_unit(&r), u_zo = rng_unit(&r), u_sh = rng_unit(&r), u_wx = rng_unit(&r), u_wy = rng_unit(&r);
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
    if (augment_geometric(a)) {   /* rotate, zoom, shear, warp: one map, one resampling */
        AugmentGeometry g = { .scale = 1.0 };
        augment_geometry_draw(&g, a, u_ro, u_zo, u_sh, u_wx, u_wy);
        double hm[9];
        augment_geometry_map(hm, h, w, &g);
        augment_resample(x, tmp, c, h, w, hm);
    }
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
