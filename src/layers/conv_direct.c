/* conv_direct.c: stride-1 convolution as direct AVX-512 kernels, NCHW.
 *
 * Why not GEMM: the per-image GEMMs of a 3x3 or 5x5 conv on a 14x14 or
 * 28x28 image are small and oddly shaped; OpenBLAS runs them at 40-65
 * GFLOP/s on this machine, and the im2col copies add a third. These run at
 * about 90, with no im2col:
 *   forward:          y = bias + conv(x, w). A block of 32 output channels
 *                     (two vectors) x up to 14 output pixels of a row sits in
 *                     28 registers; per tap, 2 weight vectors and one
 *                     broadcast input per pixel feed 28 FMAs, reading the
 *                     zero-padded input straight from L2. The block goes to a
 *                     pixel-major buffer, transposed to NCHW in 16x16 blocks.
 *   backward, data:   dx += conv(pad(dy), w flipped and transposed): the same kernel.
 *   backward, weights: dw[k][c][r][t] += sum over p, q of dy[k][p][q] * xpad[c][p+r][q+t]
 *                     with dy and x pixel-major: 8 output x 32 input channels
 *                     in registers per tap, over every pixel in order; with
 *                     fewer than 32 input channels, 32 output channels x a
 *                     few rows of taps instead.
 * Each output element is summed in a fixed order that depends only on the
 * layer's shape (not on how many images or groups a call gets), so results
 * are the same bits for any -np and thread count, as everywhere in dltrain.
 * Built only where the compiler targets AVX-512 (-march=native on such a
 * CPU); elsewhere conv.c uses its GEMM paths. Ranks on CPUs of both kinds
 * would differ in the last bits; the weight digest check names such a rank. */
#include <string.h>

#include "layers/conv_direct.h"

#ifdef __AVX512F__
#include <immintrin.h>

#define VL 16   /* floats per vector */
#define KV 2    /* output-channel vectors per forward block: 32 channels */
#define NPMAX 14 /* output pixels per forward block: 28 accumulators */
#define KW 8    /* output channels per weight-gradient block (x 32 input channels) */

typedef struct {
    const float *tile;   /* input planes (Cin, Hp, Wp), zero-padded, + slack */
    size_t plane;        /* Hp * Wp */
    int Wp;
    const float *wr;     /* weights by (cin, r, t), then Kp output channels (a multiple of 32) */
    int Cin, R, Kp;
    float *yt;           /* the output pixel-major (P*Q, Kp) */
    float *y;            /* output (K, P, Q) */
    int K, P, Q;
    const float *bias;   /* (K), or NULL: add into y */
    int fresh;           /* no bias: y holds garbage, write 0 + the sum */
    int relu;            /* clamp the output at 0 (the layer's relu_after) */
} Direct;

/* -O3's predictive commoning would carry each input broadcast over to the
 * next tap (x[j] at t+1 is x[j+1] at t) and spill the 14 of them to the
 * stack; reloading them is cheaper. */
#define NO_PCOM __attribute__((optimize("no-predictive-commoning")))
#define UNROLL _Pragma("GCC unroll 8")

/* Output block: channels k0..k0+32 (two vectors) x NP pixels q0.. of
 * output row p, into yt; per tap 2 weight vectors and NP broadcasts of the
 * input feed 2 * NP FMAs. */
#define PIX_KERNEL(NP)                                                                                 \
    static NO_PCOM void pix_kernel_##NP(const Direct *d, int k0, int p, int q0) {                     \
        __m512 acc[NP][KV];                                                                            \
        _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps(); \
        for (int ci = 0; ci < d->Cin; ci++)                                                            \
            for (int r = 0; r < d->R; r++) {                                                           \
                const float *x = d->tile + ci * d->plane + (size_t)(p + r) * d->Wp + q0;               \
                const float *w = d->wr + ((size_t)ci * d->R + r) * d->R * d->Kp + k0;                  \
                _Pragma("GCC unroll 1") for (int t = 0; t < d->R; t++, x++, w += d->Kp) {              \
                    __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + VL);                      \
                    _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                            \
                        __m512 xb = _mm512_set1_ps(x[j]);                                              \
                        acc[j][0] = _mm512_fmadd_ps(xb, w0, acc[j][0]);                                \
                        acc[j][1] = _mm512_fmadd_ps(xb, w1, acc[j][1]);                                \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
        float *out = d->yt + ((size_t)p * d->Q + q0) * d->Kp + k0;                                     \
        _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                        \
            _mm512_storeu_ps(out + (size_t)j * d->Kp, acc[j][0]);                                      \
            _mm512_storeu_ps(out + (size_t)j * d->Kp + VL, acc[j][1]);                                 \
        }                                                                                              \
    }

PIX_KERNEL(1) PIX_KERNEL(2) PIX_KERNEL(3) PIX_KERNEL(4) PIX_KERNEL(5) PIX_KERNEL(6) PIX_KERNEL(7)
PIX_KERNEL(8) PIX_KERNEL(9) PIX_KERNEL(10) PIX_KERNEL(11) PIX_KERNEL(12) PIX_KERNEL(13) PIX_KERNEL(14)

typedef void (*PixKernel)(const Direct *, int, int, int);
static const PixKernel pix_kernels[NPMAX + 1] = {
    NULL, pix_kernel_1, pix_kernel_2, pix_kernel_3, pix_kernel_4, pix_kernel_5, pix_kernel_6, pix_kernel_7,
    pix_kernel_8, pix_kernel_9, pix_kernel_10, pix_kernel_11, pix_kernel_12, pix_kernel_13, pix_kernel_14,
};

static inline void transpose16(__m512 r[16]);

/* y (K, n) = base + yt (n, ld) transposed, base being bias[k] or y itself. */
static void from_pixel_major(float *y, const float *yt, int ld, int K, int n, const float *bias, int fresh, int relu) {
    __m512 r[16];
    for (int n0 = 0; n0 < n; n0 += VL) {
        int nv = n - n0 < VL ? n - n0 : VL;
        __mmask16 m = lanes16(nv);
        for (int k0 = 0; k0 < K; k0 += VL) {
            for (int i = 0; i < VL; i++) r[i] = i < nv ? _mm512_loadu_ps(yt + (size_t)(n0 + i) * ld + k0) : _mm512_setzero_ps();
            transpose16(r);
            for (int kk = 0; kk < VL && k0 + kk < K; kk++) {
                float *dst = y + (size_t)(k0 + kk) * n + n0;
                __m512 base = bias ? _mm512_set1_ps(bias[k0 + kk]) : fresh ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, dst);
                __m512 v = _mm512_add_ps(base, r[kk]);
                if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());   /* NaN -> 0, as relu's v > 0 ? v : 0 */
                _mm512_mask_storeu_ps(dst, m, v);
            }
        }
    }
}

static void direct_run(const Direct *d) {
    for (int k0 = 0; k0 < d->K; k0 += KV * VL)
        for (int p = 0; p < d->P; p++) {
            int q0 = 0;
            for (; q0 + NPMAX <= d->Q; q0 += NPMAX) pix_kernel_14(d, k0, p, q0);
            if (q0 < d->Q) pix_kernels[d->Q - q0](d, k0, p, q0);
        }
    from_pixel_major(d->y, d->yt, d->Kp, d->K, d->P * d->Q, d->bias, d->fresh, d->relu);
}

/* Weight gradient of one image for one tap (r, t), from the pixel-major
 * padded input xt (Hp*Wp, Cx) and pixel-major dy dyt (P*Q, Kp):
 *   dwt[k][c] += sum over p, q of dyt[p*Q + q][k] * xt[(p+r)*Wp + q+t][c]
 * for 8 output channels x 32 input channels held in 16 registers, which
 * start from and go back to dwt (rows of Cx): the sum runs over the images
 * of a call and their pixels in order. */
static void wgrad_block(float *dwt, const float *dyt, int Kp, const float *xt, int Cx, int Wp, int P, int Q,
                        int k0, int c0, int rt_off) {
    __m512 acc[KW][2];
    _Pragma("GCC unroll 8") for (int kk = 0; kk < KW; kk++) {
        acc[kk][0] = _mm512_loadu_ps(dwt + (size_t)kk * Cx);
        acc[kk][1] = _mm512_loadu_ps(dwt + (size_t)kk * Cx + VL);
    }
    for (int p = 0; p < P; p++) {
        const float *x = xt + ((size_t)p * Wp + rt_off) * Cx + c0, *d = dyt + (size_t)p * Q * Kp + k0;
        for (int q = 0; q < Q; q++, x += Cx, d += Kp) {
            __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + VL);
            _Pragma("GCC unroll 8") for (int kk = 0; kk < KW; kk++) {
                __m512 dv = _mm512_set1_ps(d[kk]);
                acc[kk][0] = _mm512_fmadd_ps(dv, x0, acc[kk][0]);
                acc[kk][1] = _mm512_fmadd_ps(dv, x1, acc[kk][1]);
            }
        }
    }
    _Pragma("GCC unroll 8") for (int kk = 0; kk < KW; kk++) {
        _mm512_storeu_ps(dwt + (size_t)kk * Cx, acc[kk][0]);
        _mm512_storeu_ps(dwt + (size_t)kk * Cx + VL, acc[kk][1]);
    }
}

/* Weight gradient for few input channels (a first layer on grey or RGB
 * images), tap rows RB at a time, 32 output channels in two vectors:
 *   acc[ch][r][t][k] += sum over p, q of dyt[p*Q + q][k] * xp[(p + r)*Wp + q + t]
 * acc (C, R*R, Kp) in memory, rows r0..r0+RB of one channel. */
#define WGRAD_TAPS(R_, RB)                                                                              \
    static NO_PCOM void wgrad_taps_##R_##_##RB(float *acc_mem, const float *dyt, int Kp, int k0,        \
                                               const float *xp, int Wp, int P, int Q) {                 \
        __m512 acc[RB][R_][2];                                                                         \
        UNROLL for (int r = 0; r < RB; r++)                                                            \
            UNROLL for (int t = 0; t < R_; t++) {                                                      \
                acc[r][t][0] = _mm512_loadu_ps(acc_mem + (size_t)(r * R_ + t) * Kp + k0);              \
                acc[r][t][1] = _mm512_loadu_ps(acc_mem + (size_t)(r * R_ + t) * Kp + k0 + VL);         \
            }                                                                                          \
        for (int p = 0; p < P; p++) {                                                                  \
            const float *d = dyt + (size_t)p * Q * Kp + k0, *x = xp + (size_t)p * Wp;                  \
            for (int q = 0; q < Q; q++, d += Kp, x++) {                                                \
                __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + VL);                          \
                UNROLL for (int r = 0; r < RB; r++)                                                    \
                    UNROLL for (int t = 0; t < R_; t++) {                                              \
                        __m512 xb = _mm512_set1_ps(x[r * Wp + t]);                                     \
                        acc[r][t][0] = _mm512_fmadd_ps(xb, d0, acc[r][t][0]);                          \
                        acc[r][t][1] = _mm512_fmadd_ps(xb, d1, acc[r][t][1]);                          \
                    }                                                                                  \
            }                                                                                          \
        }                                                                                              \
        UNROLL for (int r = 0; r < RB; r++)                                                            \
            UNROLL for (int t = 0; t < R_; t++) {                                                      \
                _mm512_storeu_ps(acc_mem + (size_t)(r * R_ + t) * Kp + k0, acc[r][t][0]);              \
                _mm512_storeu_ps(acc_mem + (size_t)(r * R_ + t) * Kp + k0 + VL, acc[r][t][1]);         \
            }                                                                                          \
    }

WGRAD_TAPS(3, 3)
WGRAD_TAPS(5, 2)
WGRAD_TAPS(5, 1)

/* Channels from 32 on: the pixel-major weight gradient; fewer: by taps (3x3, 5x5).
 * A layer on this path also does an in-place relu after it (relu_after). */
int conv_direct_supports(const LayerSpec *s) {
    return s->stride == 1 && s->size > 1 && (s->in.c >= 2 * VL || s->size == 3 || s->size == 5);
}

/* Geometry of one call: the forward tile (x padded by pad) and the
 * backward-data tile (dy padded by R-1-pad), each with slack for the
 * vector loads that run past the last row. */
typedef struct {
    int K, C, R, H, W, pad, P, Q, Kp, Cp, Cx;   /* Cx: channels of xt, a multiple of 32 */
    int Hp, Wp, Hd, Wd;      /* padded x; padded dy */
    size_t xtile, dtile;     /* floats, slack included */
} DGeom;

static DGeom dgeom(const LayerSpec *s, int pad, int P, int Q) {
    DGeom g;
    g.K = s->filters; g.C = s->in.c; g.R = s->size; g.H = s->in.h; g.W = s->in.w; g.pad = pad; g.P = P; g.Q = Q;
    g.Kp = (g.K + KV * VL - 1) / (KV * VL) * (KV * VL);   /* whole forward blocks */
    g.Cp = (g.C + KV * VL - 1) / (KV * VL) * (KV * VL);
    g.Cx = (g.C + 2 * VL - 1) / (2 * VL) * (2 * VL);
    g.Hp = g.H + 2 * pad; g.Wp = g.W + 2 * pad;
    int pd = g.R - 1 - pad;
    g.Hd = P + 2 * pd; g.Wd = Q + 2 * pd;
    int slack = 2 * VL + g.R;
    g.xtile = (size_t)g.C * g.Hp * g.Wp + slack;
    g.dtile = (size_t)g.K * g.Hd * g.Wd + slack;
    return g;
}

size_t conv_direct_scratch(const LayerSpec *s, int pad, int P, int Q) {
    DGeom g = dgeom(s, pad, P, Q);
    size_t w = (size_t)g.R * g.R * ((size_t)g.C * g.Kp > (size_t)g.K * g.Cp ? (size_t)g.C * g.Kp : (size_t)g.K * g.Cp);
    size_t xt = (size_t)g.Hp * g.Wp * g.Cx, dyt = (size_t)P * Q * g.Kp, dwt = (size_t)g.R * g.R * g.Kp * g.Cx;
    size_t yt = (size_t)P * Q * g.Kp > (size_t)g.H * g.W * g.Cp ? (size_t)P * Q * g.Kp : (size_t)g.H * g.W * g.Cp;
    return (g.xtile > xt ? g.xtile : xt) + g.dtile + w + dyt + dwt + yt + (size_t)g.K * P * Q;   /* + gated dy */
}

/* tile (C, Hp, Wp) = x (C, H, W) zero-padded by pad on each side; slack zeroed */
static void pad_into(float *tile, size_t floats, const float *x, int C, int H, int W, int pad) {
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    memset(tile, 0, sizeof(float) * floats);
    for (int ch = 0; ch < C; ch++)
        for (int h = 0; h < H; h++)
            memcpy(tile + ((size_t)ch * Hp + h + pad) * Wp + pad, x + ((size_t)ch * H + h) * W, sizeof(float) * W);
}

/* 16 x 16 floats transposed in registers. */
static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {   /* u[j], u[4+j], u[8+j], u[12+j]: columns j, j+4, j+8, j+12 */
        __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[j + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[j + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

/* dst (pixels, ld) = x (C, H, W) pixel-major: pixel (h, w) lands at row
 * (h + pad) * Wp + pad + w, channel c at column c; columns C..roundup(C, 16)
 * of those rows are 0. ld is a multiple of 16; rows of the padding are
 * not touched. */
static void to_pixel_major(float *dst, int ld, const float *x, int C, int H, int W, int pad, int Wp) {
    __m512 r[16];
    for (int h = 0; h < H; h++)
        for (int w0 = 0; w0 < W; w0 += VL) {
            int nw = W - w0 < VL ? W - w0 : VL;
            __mmask16 m = lanes16(nw);
            float *out = dst + ((size_t)(h + pad) * Wp + pad + w0) * ld;
            for (int c0 = 0; c0 < C; c0 += VL) {
                for (int i = 0; i < VL; i++)
                    r[i] = c0 + i < C ? _mm512_maskz_loadu_ps(m, x + ((size_t)(c0 + i) * H + h) * W + w0) : _mm512_setzero_ps();
                transpose16(r);
                for (int j = 0; j < nw; j++) _mm512_storeu_ps(out + (size_t)j * ld + c0, r[j]);
            }
        }
}

/* xt (Hp*Wp, Cx) = x (C, H, W) zero-padded by pad and transposed to
 * pixel-major; channels past C are 0 */
static void transpose_pad(float *xt, const float *x, const DGeom *g) {
    memset(xt, 0, sizeof(float) * g->Hp * g->Wp * g->Cx);
    to_pixel_major(xt, g->Cx, x, g->C, g->H, g->W, g->pad, g->Wp);
}

void conv_direct_forward(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    DGeom g = dgeom(s, pad, P, Q);
    int RR = g.R * g.R;
    size_t xt = (size_t)g.Hp * g.Wp * g.Cx;
    size_t wsz = (size_t)RR * ((size_t)g.C * g.Kp > (size_t)g.K * g.Cp ? (size_t)g.C * g.Kp : (size_t)g.K * g.Cp);
    float *tile = c->scratch, *wr = tile + (g.xtile > xt ? g.xtile : xt) + g.dtile;
    float *yt = wr + wsz + (size_t)P * Q * g.Kp + (size_t)RR * g.Kp * g.Cx;
    /* wr[(c, r, t)][k] = weight[k][c][r][t]; padded channels 0 */
    memset(wr, 0, sizeof(float) * RR * g.C * g.Kp);
    for (int k = 0; k < g.K; k++)
        for (int ch = 0; ch < g.C; ch++)
            for (int i = 0; i < RR; i++) wr[((size_t)ch * RR + i) * g.Kp + k] = c->w[((size_t)k * g.C + ch) * RR + i];
    Direct d = { tile, (size_t)g.Hp * g.Wp, g.Wp, wr, g.C, g.R, g.Kp, yt, NULL, g.K, P, Q,
                 c->w + (size_t)g.K * g.C * RR, 0, s->relu_after };
    size_t in_sz = shape_size(s->in), out_sz = (size_t)g.K * P * Q;
    for (int n = 0; n < c->n; n++) {
        pad_into(tile, g.xtile, c->in + n * in_sz, g.C, g.H, g.W, pad);
        d.y = c->out + n * out_sz;
        direct_run(&d);
    }
}

void conv_direct_backward(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    DGeom g = dgeom(s, pad, P, Q);
    int R = g.R, RR = R * R;
    size_t xt = (size_t)g.Hp * g.Wp * g.Cx;
    size_t wsz = (size_t)RR * ((size_t)g.C * g.Kp > (size_t)g.K * g.Cp ? (size_t)g.C * g.Kp : (size_t)g.K * g.Cp);
    float *tile = c->scratch, *dtile = tile + (g.xtile > xt ? g.xtile : xt), *wr = dtile + g.dtile, *dyt = wr + wsz,
          *dwt = dyt + (size_t)P * Q * g.Kp, *yt = dwt + (size_t)RR * g.Kp * g.Cx;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)g.K * P * Q;
    Direct d = { dtile, (size_t)g.Hd * g.Wd, g.Wd, wr, g.K, R, g.Cp, yt, NULL, g.C, g.H, g.W, NULL, c->din_fresh, 0 };
    float *dyg = yt + (P * Q * g.Kp > g.H * g.W * g.Cp ? (size_t)P * Q * g.Kp : (size_t)g.H * g.W * g.Cp);
    int few = g.C < 2 * VL;   /* weight gradient by taps */
    if (c->din) {
        /* wr[(k, r', t')][c] = weight[k][c][R-1-r'][R-1-t']: the flipped, transposed kernel */
        memset(wr, 0, sizeof(float) * RR * g.K * g.Cp);
        for (int k = 0; k < g.K; k++)
            for (int ch = 0; ch < g.C; ch++)
                for (int i = 0; i < RR; i++)
                    wr[((size_t)k * RR + (RR - 1 - i)) * g.Cp + ch] = c->w[((size_t)k * g.C + ch) * RR + i];
    }
    if (c->dw) memset(dwt, 0, sizeof(float) * RR * g.Kp * g.Cx);
    for (int n = 0; n < c->n; n++) {   /* images in order: the sums over them are fixed */
        const float *dy = c->dout + n * out_sz;
        if (s->relu_after) {   /* the relu's backward, on this image while it is in cache */
            const float *y = c->out + n * out_sz;
            for (size_t j = 0; j < out_sz; j++) dyg[j] = y[j] > 0.0f ? dy[j] : 0.0f;
            dy = dyg;
        }
        if (c->dw && few) {   /* dwt (C, RR, Kp) */
            float *dbias = c->dw + (size_t)g.K * g.C * RR;
            pad_into(tile, g.xtile, c->in + n * in_sz, g.C, g.H, g.W, pad);
            to_pixel_major(dyt, g.Kp, dy, g.K, 1, P * Q, 0, P * Q);
            for (int ch = 0; ch < g.C; ch++)
                for (int k0 = 0; k0 < g.K; k0 += 2 * VL) {
                    float *acc = dwt + (size_t)ch * RR * g.Kp;
                    const float *xp = tile + (size_t)ch * g.Hp * g.Wp;
                    if (R == 3) wgrad_taps_3_3(acc, dyt, g.Kp, k0, xp, g.Wp, P, Q);
                    else {
                        wgrad_taps_5_2(acc, dyt, g.Kp, k0, xp, g.Wp, P, Q);
                        wgrad_taps_5_2(acc + (size_t)2 * R * g.Kp, dyt, g.Kp, k0, xp + 2 * g.Wp, g.Wp, P, Q);
                        wgrad_taps_5_1(acc + (size_t)4 * R * g.Kp, dyt, g.Kp, k0, xp + 4 * g.Wp, g.Wp, P, Q);
                    }
                }
            for (int k = 0; k < g.K; k++) dbias[k] += sum8(dy + (size_t)k * P * Q, (size_t)P * Q);
        } else if (c->dw) {
            float *dbias = c->dw + (size_t)g.K * g.C * RR;
            transpose_pad(tile, c->in + n * in_sz, &g);
            to_pixel_major(dyt, g.Kp, dy, g.K, 1, P * Q, 0, P * Q);   /* dyt (P*Q, Kp); channels past K are 0 */
            for (int i = 0; i < RR; i++)
                for (int k0 = 0; k0 < g.K; k0 += KW)
                    for (int c0 = 0; c0 < g.C; c0 += 2 * VL)
                        wgrad_block(dwt + ((size_t)i * g.Kp + k0) * g.Cx + c0, dyt, g.Kp, tile, g.Cx, g.Wp, P, Q, k0, c0,
                                    (i / R) * g.Wp + i % R);
            for (int k = 0; k < g.K; k++) dbias[k] += sum8(dy + (size_t)k * P * Q, (size_t)P * Q);
        }
        if (c->din) {
            pad_into(dtile, g.dtile, dy, g.K, P, Q, R - 1 - pad);
            d.y = c->din + n * in_sz;
            direct_run(&d);
        }
    }
    if (c->dw)
        for (int k = 0; k < g.K; k++)
            for (int ch = 0; ch < g.C; ch++)
                for (int i = 0; i < RR; i++)
                    c->dw[((size_t)k * g.C + ch) * RR + i] +=
                        few ? dwt[((size_t)ch * RR + i) * g.Kp + k] : dwt[((size_t)i * g.Kp + k) * g.Cx + ch];
}

#else   /* no AVX-512: conv.c keeps to its GEMM paths */

int conv_direct_supports(const LayerSpec *s) { (void)s; return 0; }
size_t conv_direct_scratch(const LayerSpec *s, int pad, int P, int Q) { (void)s; (void)pad; (void)P; (void)Q; return 0; }
void conv_direct_forward(const LayerCtx *c, int pad, int P, int Q) { (void)c; (void)pad; (void)P; (void)Q; }
void conv_direct_backward(const LayerCtx *c, int pad, int P, int Q) { (void)c; (void)pad; (void)P; (void)Q; }

#endif
