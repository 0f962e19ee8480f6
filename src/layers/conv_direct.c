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
 *   5x5 from 16 input channels (forward) or filters (backward data):
 *                     Winograd F(2x2, 5x5) instead, 2.8x fewer multiplies
 *                     (below, with its own notes).
 *   backward, weights: dw[k][c][r][t] += sum over p, q of dy[k][p][q] * xpad[c][p+r][q+t]
 *                     with dy and x pixel-major: 8 output x 32 input channels
 *                     in registers per tap, over every pixel in order; with
 *                     fewer than 32 input channels, 32 output channels x a
 *                     few rows of taps instead.
 * Each output element is summed in a fixed order that depends only on the
 * layer's shape (not on how many images or groups a call gets), so results
 * are the same bits for any -np and thread count, as everywhere in dltrain.
 * Built only where the compiler targets AVX-512 (-march=native on such a
 * CPU, or -DDLTRAIN_ARCH=x86-64-v4); elsewhere conv.c uses its GEMM paths.
 * The two kinds differ in the last bits: a run whose ranks mix them keeps
 * the ranks' weights equal (same summed gradient) but not the same bytes as
 * any other -np (README "Running on a cluster"). */
#include <string.h>

#include "layers/conv_direct.h"

#ifdef __AVX512F__
#include <immintrin.h>

#define VL 16   /* floats per vector */
#define KV 2    /* output-channel vectors per forward block: 32 channels */
#define NPMAX 14 /* output pixels per forward block: 28 accumulators */
#define CHUNK_FLOATS 4096  /* forward: weights of a chunk of input channels (16 KiB, in L1) */
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
#if defined(__GNUC__) && !defined(__clang__)
#define NO_PCOM __attribute__((optimize("no-predictive-commoning")))
#else   /* clang (the sanitizer and fuzz builds) has no such pass to turn off */
#define NO_PCOM
#endif
#define UNROLL _Pragma("GCC unroll 8")

/* Output block: channels k0..k0+32 (two vectors) x NP pixels q0.. of
 * output row p, into yt; per tap 2 weight vectors and NP broadcasts of the
 * input feed 2 * NP FMAs. */
#define PIX_KERNEL(NP)                                                                                 \
    static NO_PCOM void pix_kernel_##NP(const Direct *d, int k0, int p, int q0, int ci0, int ci1) {  \
        __m512 acc[NP][KV];                                                                            \
        float *out = d->yt + ((size_t)p * d->Q + q0) * d->Kp + k0;                                     \
        if (ci0 == 0)                                                                                  \
            _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps(); \
        else                                                                                           \
            _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                    \
                acc[j][0] = _mm512_loadu_ps(out + (size_t)j * d->Kp);                                  \
                acc[j][1] = _mm512_loadu_ps(out + (size_t)j * d->Kp + VL);                             \
            }                                                                                          \
        for (int ci = ci0; ci < ci1; ci++)                                                             \
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
        _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                        \
            _mm512_storeu_ps(out + (size_t)j * d->Kp, acc[j][0]);                                      \
            _mm512_storeu_ps(out + (size_t)j * d->Kp + VL, acc[j][1]);                                 \
        }                                                                                              \
    }

/* Each kernel for every block width 1..NPMAX (14), and the table by width. */
#define FOR_WIDTHS(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14)
#define BY_WIDTH(name) { NULL, name##_1, name##_2, name##_3, name##_4, name##_5, name##_6, name##_7, \
                         name##_8, name##_9, name##_10, name##_11, name##_12, name##_13, name##_14 }

FOR_WIDTHS(PIX_KERNEL)
static void (*const pix_kernels[NPMAX + 1])(const Direct *, int, int, int, int, int) = BY_WIDTH(pix_kernel);


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

/* A chunk of input channels at a time, whose weights stay in L1 while
 * every row passes; the blocks' sums wait in yt between chunks, so each
 * output still sums over (channel, r, t) in order. */
static void direct_run(const Direct *d) {
    int cc = CHUNK_FLOATS / (d->R * d->R * KV * VL);   /* input channels whose weights stay in L1 */
    if (cc < 1) cc = 1;
    for (int k0 = 0; k0 < d->K; k0 += KV * VL)
        for (int ci0 = 0; ci0 < d->Cin; ci0 += cc) {
            int ci1 = d->Cin - ci0 < cc ? d->Cin : ci0 + cc;
            for (int p = 0; p < d->P; p++) {
                int q0 = 0;
                for (; q0 + NPMAX <= d->Q; q0 += NPMAX) pix_kernel_14(d, k0, p, q0, ci0, ci1);
                if (q0 < d->Q) pix_kernels[d->Q - q0](d, k0, p, q0, ci0, ci1);
            }
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
    int pad_ok = s->pad == PAD_SAME || s->pad <= s->size - 1;   /* the input gradient pads dy by size-1-pad */
    return s->stride == 1 && s->size > 1 && pad_ok && (s->in.c >= 2 * VL || s->size == 3 || s->size == 5);
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

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Where the direct kernels' buffers lie in the scratch (floats from its
 * start); the Winograd paths' follow from `end`. */
typedef struct {
    size_t tile;    /* x padded (forward, few-channel weight gradient) or pixel-major (xt) */
    size_t dtile;   /* dy padded (input gradient) */
    size_t wr;      /* weights rearranged for the kernels */
    size_t dyt;     /* dy pixel-major (P*Q, Kp) */
    size_t dwt;     /* the weight gradient's sums */
    size_t yt;      /* a kernel's output pixel-major */
    size_t dyg;     /* dy gated by the fused relu */
    size_t end;
} DBufs;

static DBufs dbufs(const DGeom *g) {
    size_t RR = (size_t)g->R * g->R, PQ = (size_t)g->P * g->Q;
    DBufs b;
    b.tile = 0;
    b.dtile = max_size(g->xtile, (size_t)g->Hp * g->Wp * g->Cx);
    b.wr = b.dtile + g->dtile;
    b.dyt = b.wr + RR * max_size((size_t)g->C * g->Kp, (size_t)g->K * g->Cp);
    b.dwt = b.dyt + PQ * g->Kp;
    b.yt = b.dwt + RR * g->Kp * g->Cx;
    b.dyg = b.yt + max_size(PQ * g->Kp, (size_t)g->H * g->W * g->Cp);
    b.end = b.dyg + (size_t)g->K * PQ;
    return b;
}

/* tile (C, Hp, Wp) = x (C, H, W) zero-padded by pad on each side; slack zeroed */
static void pad_into(float *tile, size_t floats, const float *x, int C, int H, int W, int pad) {
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    memset(tile, 0, sizeof(float) * floats);
    for (int ch = 0; ch < C; ch++)
        for (int h = 0; h < H; h++)
            memcpy(tile + ((size_t)ch * Hp + h + pad) * Wp + pad, x + ((size_t)ch * H + h) * W, sizeof(float) * W);
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

/* dst (Hp*Wp, ld) = x (C, H, W) zero-padded by pad (and past H, W up to
 * Hp, Wp) and transposed to pixel-major; channels past C are 0 */
static void pixel_major_padded(float *dst, int ld, const float *x, int C, int H, int W, int pad, int Hp, int Wp) {
    memset(dst, 0, sizeof(float) * Hp * Wp * ld);
    to_pixel_major(dst, ld, x, C, H, W, pad, Wp);
}

/* ---- Winograd transforms for 3x3 and 5x5 convs with many channels ----
 * Every transform here works on 6x6 tiles with the points 0, 1, -1, 2, -2
 * and infinity (Lavin & Gray 2016), so one input transform BT serves:
 *   forward and input gradient: F(MxM, RxR), M = 7 - R output pixels per
 *     tile side (F(4x4, 3x3), F(2x2, 5x5)): y = AT [ (G g GT) . (BT d B) ] A
 *     summed over input channels, 36 products per tile and channel pair
 *     instead of 144 (3x3) or 100 (5x5) multiply-adds;
 *   weight gradient: F(RxR, MxM) with dy's MxM tile as the filter:
 *     dw[k][c] += AT_R [ (G_M dy G_MT) . (BT x B) ] A_R.
 * G_r (6 x r) and AT_m (m x 6) have closed forms for these points:
 *   G_r rows: (1/4, 0, ...), -1/6 (1, 1, ...), -1/6 (1, -1, 1, ...),
 *             1/24 (1, 2, 4, ...), 1/24 (1, -2, 4, ...), (0, ..., 0, 1);
 *   AT_m row i: (0^i, 1, (-1)^i, 2^i, (-2)^i, [i == m-1]).
 * Buffers, per call: u (36, Cin, Kp), the weights' transform; per block of
 * up to 14 tiles (so that v and m stay in L2): v (36, 14, Cx), each tile's
 * input transform, from the pixel-major zero-padded input, 16 channels a
 * vector; m (36, 14, Kp), per transform position, the sum over input
 * channels in order, 32 output channels x the block's tiles in registers
 * with that position's u (Cin, 32) in L1; then each tile's output
 * transform into yt (P*Q, Kp) and to NCHW as the direct kernels do.
 * Every output is the same fixed expression of its inputs whatever the
 * call, so the bits do not depend on -np. Rounding, against a double
 * reference with inputs of unit size: 4x (forward) to 5x (weight
 * gradient) a direct sum's, about 1e-6 and 1e-5 relative: far below what
 * training notices (the PyTorch fixtures agree to 1e-4). */
#define WT 6          /* input tile */
#define WA (WT * WT)  /* transform positions */

typedef struct {
    int R, M;                /* kernel size; output pixels per tile side */
    int Cin, Cx, Kout, Kp;   /* input channels (Cx: padded to 32), output channels (Kp: padded to 32) */
    int P, Q, TP, TQ, T;     /* output size; tiles */
    int Hw, Ww;              /* the padded input the tiles cover: M*TP + R - 1 x M*TQ + R - 1 */
} WGeom;

static WGeom wgeom(int R, int Cin, int Kout, int P, int Q) {
    WGeom g = { R, WT + 1 - R, Cin, (Cin + 2 * VL - 1) / (2 * VL) * (2 * VL), Kout,
                (Kout + KV * VL - 1) / (KV * VL) * (KV * VL), P, Q, 0, 0, 0, 0, 0 };
    g.TP = (P + g.M - 1) / g.M;
    g.TQ = (Q + g.M - 1) / g.M;
    g.T = g.TP * g.TQ;
    g.Hw = g.M * g.TP + R - 1;
    g.Ww = g.M * g.TQ + R - 1;
    return g;
}

/* floats of u, xt, v, m, yt */
static size_t wino_scratch(const WGeom *g) {
    return (size_t)WA * g->Cin * g->Kp + (size_t)g->Hw * g->Ww * g->Cx + (size_t)WA * NPMAX * (g->Cx + g->Kp) +
           (size_t)g->P * g->Q * g->Kp;
}

/* Convs that take this path: 3x3 or 5x5, stride 1, enough input channels
 * that the sums over them dominate the transforms. */
static int wino_fits(int R, int Cin) { return (R == 3 || R == 5) && Cin >= VL; }

/* The transforms take their sizes as constants (callers dispatch on
 * them), so that the coefficients fold into the code. */
#define INLINE static inline __attribute__((always_inline))

/* G_r[a][k] */
INLINE float g_coef(int r, int a, int k) {
    switch (a) {
    case 0: return k == 0 ? 0.25f : 0.0f;
    case 1: return -1.0f / 6;
    case 2: return k % 2 ? 1.0f / 6 : -1.0f / 6;
    case 3: return (float)(1 << k) / 24;
    case 4: return (k % 2 ? -1.0f : 1.0f) * (float)(1 << k) / 24;
    default: return k == r - 1 ? 1.0f : 0.0f;
    }
}

/* out[a * WT + b] (stride apart) = (G_r z G_rT)[a][b] for r x r vectors z (row-major) */
INLINE void g_both(float *out, size_t stride, const __m512 *z, int r) {
    __m512 t[WT][5];
    for (int a = 0; a < WT; a++)
        for (int j = 0; j < r; j++) {
            __m512 s = _mm512_setzero_ps();
            for (int i = 0; i < r; i++) s = _mm512_fmadd_ps(_mm512_set1_ps(g_coef(r, a, i)), z[i * r + j], s);
            t[a][j] = s;
        }
    for (int a = 0; a < WT; a++)
        for (int b = 0; b < WT; b++) {
            __m512 s = _mm512_setzero_ps();
            for (int j = 0; j < r; j++) s = _mm512_fmadd_ps(t[a][j], _mm512_set1_ps(g_coef(r, b, j)), s);
            _mm512_storeu_ps(out + (size_t)(a * WT + b) * stride, s);
        }
}

/* y[i * stride] = (AT_m z)[i] for the m rows i */
INLINE void at_rows(__m512 *y, int stride, const __m512 z[WT], int m) {
    __m512 p12 = _mm512_add_ps(z[1], z[2]), m12 = _mm512_sub_ps(z[1], z[2]);
    __m512 p34 = _mm512_add_ps(z[3], z[4]), m34 = _mm512_sub_ps(z[3], z[4]);
    for (int i = 0; i < m; i++) {
        __m512 v = i % 2 ? _mm512_fmadd_ps(_mm512_set1_ps((float)(1 << i)), m34, m12)
                         : _mm512_fmadd_ps(_mm512_set1_ps((float)(1 << i)), p34, p12);
        if (i == 0) v = _mm512_add_ps(z[0], v);
        if (i == m - 1) v = _mm512_add_ps(v, z[5]);
        y[i * stride] = v;
    }
}

/* u[a][ci][ko] = (G_R g G_RT)[a] for the RxR kernel g of wr[(ci, r, t)][ko]
 * (the direct kernels' weight layout, rows of Kp), 16 output channels a vector. */
INLINE void wino_weights_r(float *u, const float *wr, const WGeom *g, int R) {
    int RR = R * R;
    for (int ci = 0; ci < g->Cin; ci++)
        for (int k0 = 0; k0 < g->Kp; k0 += VL) {
            __m512 k[25];
            for (int i = 0; i < RR; i++) k[i] = _mm512_loadu_ps(wr + ((size_t)ci * RR + i) * g->Kp + k0);
            g_both(u + (size_t)ci * g->Kp + k0, (size_t)g->Cin * g->Kp, k, R);
        }
}

static void wino_weights(float *u, const float *wr, const WGeom *g) {
    if (g->R == 3) wino_weights_r(u, wr, g, 3);
    else wino_weights_r(u, wr, g, 5);
}

/* r = BT z for six vectors z */
static inline void bt6(__m512 r[WT], const __m512 z[WT]) {
    const __m512 c2 = _mm512_set1_ps(2.0f), c4 = _mm512_set1_ps(4.0f), c5 = _mm512_set1_ps(5.0f);
    __m512 z4m2 = _mm512_sub_ps(z[4], z[2]);
    r[0] = _mm512_add_ps(_mm512_fnmadd_ps(c5, z[2], _mm512_mul_ps(c4, z[0])), z[4]);
    r[1] = _mm512_sub_ps(_mm512_add_ps(z[3], z[4]), _mm512_mul_ps(c4, _mm512_add_ps(z[1], z[2])));
    r[2] = _mm512_add_ps(_mm512_mul_ps(c4, _mm512_sub_ps(z[1], z[2])), _mm512_sub_ps(z[4], z[3]));
    r[3] = _mm512_add_ps(_mm512_mul_ps(c2, _mm512_sub_ps(z[3], z[1])), z4m2);
    r[4] = _mm512_add_ps(_mm512_mul_ps(c2, _mm512_sub_ps(z[1], z[3])), z4m2);
    r[5] = _mm512_add_ps(_mm512_fnmadd_ps(c5, z[3], _mm512_mul_ps(c4, z[1])), z[5]);
}

/* v[a][t - t0][c] (ld rows per a) = (BT d B)[a] for tiles t0..t0+nt of
 * xt (Hw*Ww, Cx), 16 channels a vector */
static void wino_input(float *v, int ld, const float *xt, const WGeom *g, int t0, int nt) {
    for (int t = t0; t < t0 + nt; t++) {
        int tp = t / g->TQ, tq = t % g->TQ;
        for (int c0 = 0; c0 < g->Cx; c0 += VL) {
            __m512 rows[WT][WT], col[WT], r[WT];
            for (int i = 0; i < WT; i++) {   /* rows[i] = BT applied down column i */
                for (int j = 0; j < WT; j++)
                    col[j] = _mm512_loadu_ps(xt + ((size_t)(g->M * tp + j) * g->Ww + g->M * tq + i) * g->Cx + c0);
                bt6(rows[i], col);
            }
            for (int a = 0; a < WT; a++) {   /* then along the rows */
                for (int i = 0; i < WT; i++) col[i] = rows[i][a];
                bt6(r, col);
                for (int b = 0; b < WT; b++) _mm512_storeu_ps(v + ((size_t)(a * WT + b) * ld + t - t0) * g->Cx + c0, r[b]);
            }
        }
    }
}

/* m[t][k0..k0+32] = sum over ci in order of v[t][ci] * u[ci][k0..k0+32], for NP tiles of one position */
#define WINO_KERNEL(NP)                                                                                \
    static NO_PCOM void wino_kernel_##NP(float *m, const float *v, const float *u, const WGeom *g) {   \
        __m512 acc[NP][KV];                                                                            \
        _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps(); \
        for (int ci = 0; ci < g->Cin; ci++, u += g->Kp, v++) {                                         \
            __m512 w0 = _mm512_loadu_ps(u), w1 = _mm512_loadu_ps(u + VL);                              \
            _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                    \
                __m512 xb = _mm512_set1_ps(v[(size_t)j * g->Cx]);                                      \
                acc[j][0] = _mm512_fmadd_ps(xb, w0, acc[j][0]);                                        \
                acc[j][1] = _mm512_fmadd_ps(xb, w1, acc[j][1]);                                        \
            }                                                                                          \
        }                                                                                              \
        _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                        \
            _mm512_storeu_ps(m + (size_t)j * g->Kp, acc[j][0]);                                        \
            _mm512_storeu_ps(m + (size_t)j * g->Kp + VL, acc[j][1]);                                   \
        }                                                                                              \
    }

FOR_WIDTHS(WINO_KERNEL)
static void (*const wino_kernels[NPMAX + 1])(float *, const float *, const float *, const WGeom *) = BY_WIDTH(wino_kernel);

/* yt[pixel][k] = (AT_M m A_M) for tiles t0..t0+nt, 16 channels a vector; pixels past P, Q dropped */
INLINE void wino_output_m(float *yt, const float *m, const WGeom *g, int t0, int nt, int M) {
    for (int t = t0; t < t0 + nt; t++) {
        int tp = t / g->TQ, tq = t % g->TQ;
        for (int k0 = 0; k0 < g->Kp; k0 += VL) {
            __m512 s[4][WT], y[4];   /* AT applied down each column, then along the rows */
            for (int b = 0; b < WT; b++) {
                __m512 z[WT];
                for (int a = 0; a < WT; a++) z[a] = _mm512_loadu_ps(m + ((size_t)(a * WT + b) * NPMAX + t - t0) * g->Kp + k0);
                at_rows(&s[0][b], WT, z, M);
            }
            for (int i = 0; i < M && M * tp + i < g->P; i++) {
                at_rows(y, 1, s[i], M);
                for (int j = 0; j < M && M * tq + j < g->Q; j++)
                    _mm512_storeu_ps(yt + ((size_t)(M * tp + i) * g->Q + M * tq + j) * g->Kp + k0, y[j]);
            }
        }
    }
}

static void wino_output(float *yt, const float *m, const WGeom *g, int t0, int nt) {
    if (g->M == 4) wino_output_m(yt, m, g, t0, nt, 4);
    else wino_output_m(yt, m, g, t0, nt, 2);
}

/* The size of blocks of at most max that split n most evenly (the last may be smaller). */
static int even_blocks(int n, int max) {
    int nb = (n + max - 1) / max;
    return (n + nb - 1) / nb;
}

/* One image, in two steps: wino_input_of puts x (Cin, H, W), padded by pad
 * (rows and columns past the image zero), pixel-major at the start of work
 * (Hw*Ww, Cx); wino_run then makes y (Kout, P, Q) = base + the conv of it,
 * with u from wino_weights. */
static void wino_input_of(float *work, const float *x, int H, int W, int pad, const WGeom *g) {
    pixel_major_padded(work, g->Cx, x, g->Cin, H, W, pad, g->Hw, g->Ww);
}

static void wino_run(float *y, const float *u, const WGeom *g, float *work, const float *bias, int fresh, int relu) {
    float *xt = work, *v = xt + (size_t)g->Hw * g->Ww * g->Cx, *m = v + (size_t)WA * NPMAX * g->Cx,
          *yt = m + (size_t)WA * NPMAX * g->Kp;
    int tb = even_blocks(g->T, NPMAX);
    for (int t0 = 0; t0 < g->T; t0 += tb) {   /* a block of tiles at a time: v and m stay in L2 */
        int nt = g->T - t0 < tb ? g->T - t0 : tb;
        wino_input(v, NPMAX, xt, g, t0, nt);
        for (int a = 0; a < WA; a++)
            for (int k0 = 0; k0 < g->Kp; k0 += KV * VL)
                wino_kernels[nt](m + (size_t)a * NPMAX * g->Kp + k0, v + (size_t)a * NPMAX * g->Cx,
                                 u + (size_t)a * g->Cin * g->Kp + k0, g);
        wino_output(yt, m, g, t0, nt);
    }
    from_pixel_major(y, yt, g->Kp, g->Kout, g->P * g->Q, bias, fresh, relu);
}

/* ---- the weight gradient, F(RxR, MxM) ----
 * mw (36, K, Cx) sums the products over the call's images and their tiles
 * in order, WTB tiles a block, 14 filters x 32 channels in registers; the
 * transform to RxR runs once per call. */
#define WTB 28   /* tiles per block */

/* dy pixel-major: pixel (p, q) at at + (p * row + q) * ld, filters K..roundup(K, 16) 0 */
typedef struct { const float *at; int row, ld; } DyView;

/* ud[a][t - t0][k] = (G_M d G_MT)[a] for the MxM tiles t0..t0+nt of dy,
 * 16 filters a vector; pixels past P, Q are 0 */
INLINE void wgw_dy_m(float *ud, DyView dy, const WGeom *g, int t0, int nt, int M) {
    for (int t = t0; t < t0 + nt; t++) {
        int tp = t / g->TQ, tq = t % g->TQ;
        for (int k0 = 0; k0 < g->Kout; k0 += VL) {   /* the kernels read filters below Kout only */
            __m512 d[16];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < M; j++) {
                    int p = M * tp + i, q = M * tq + j;
                    d[i * M + j] = p < g->P && q < g->Q ? _mm512_loadu_ps(dy.at + ((size_t)p * dy.row + q) * dy.ld + k0)
                                                        : _mm512_setzero_ps();
                }
            g_both(ud + (size_t)(t - t0) * g->Kp + k0, (size_t)WTB * g->Kp, d, M);
        }
    }
}

static void wgw_dy(float *ud, DyView dy, const WGeom *g, int t0, int nt) {
    if (g->M == 4) wgw_dy_m(ud, dy, g, t0, nt, 4);
    else wgw_dy_m(ud, dy, g, t0, nt, 2);
}

/* mw[k][c0..c0+32] += sum over the block's nt tiles of ud[t][k] * vx[t][c0..c0+32], NP filters k */
#define WGW_KERNEL(NP)                                                                                 \
    static NO_PCOM void wgw_kernel_##NP(float *mw, const float *ud, const float *vx, const WGeom *g, int nt) { \
        __m512 acc[NP][2];                                                                             \
        _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                        \
            acc[j][0] = _mm512_loadu_ps(mw + (size_t)j * g->Cx);                                       \
            acc[j][1] = _mm512_loadu_ps(mw + (size_t)j * g->Cx + VL);                                  \
        }                                                                                              \
        for (int t = 0; t < nt; t++, ud += g->Kp, vx += g->Cx) {                                      \
            __m512 x0 = _mm512_loadu_ps(vx), x1 = _mm512_loadu_ps(vx + VL);                            \
            _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                    \
                __m512 db = _mm512_set1_ps(ud[j]);                                                     \
                acc[j][0] = _mm512_fmadd_ps(db, x0, acc[j][0]);                                        \
                acc[j][1] = _mm512_fmadd_ps(db, x1, acc[j][1]);                                        \
            }                                                                                          \
        }                                                                                              \
        _Pragma("GCC unroll 16") for (int j = 0; j < NP; j++) {                                        \
            _mm512_storeu_ps(mw + (size_t)j * g->Cx, acc[j][0]);                                       \
            _mm512_storeu_ps(mw + (size_t)j * g->Cx + VL, acc[j][1]);                                  \
        }                                                                                              \
    }

FOR_WIDTHS(WGW_KERNEL)
static void (*const wgw_kernels[NPMAX + 1])(float *, const float *, const float *, const WGeom *, int) = BY_WIDTH(wgw_kernel);

/* floats of xt, vx, ud and mw */
static size_t wgw_scratch(const WGeom *g) {
    return (size_t)g->Hw * g->Ww * g->Cx + (size_t)WA * WTB * (g->Cx + g->Kp) + (size_t)WA * g->Kout * g->Cx;
}

/* Weight gradients that take this path: 3x3 and 5x5 from 32 input channels (fewer go by taps). */
static int wgw_fits(const LayerSpec *s) { return (s->size == 3 || s->size == 5) && s->in.c >= 2 * VL; }

/* One image into mw: x (Cin, H, W) padded by pad, dy its output gradient pixel-major. */
static void wgw_image(float *work, const float *x, int H, int W, int pad, DyView dy, const WGeom *g) {
    float *xt = work, *vx = xt + (size_t)g->Hw * g->Ww * g->Cx, *ud = vx + (size_t)WA * WTB * g->Cx,
          *mw = ud + (size_t)WA * WTB * g->Kp;
    pixel_major_padded(xt, g->Cx, x, g->Cin, H, W, pad, g->Hw, g->Ww);
    int tb = even_blocks(g->T, WTB), kb = even_blocks(g->Kout, NPMAX);
    for (int t0 = 0; t0 < g->T; t0 += tb) {
        int nt = g->T - t0 < tb ? g->T - t0 : tb;
        wino_input(vx, WTB, xt, g, t0, nt);
        wgw_dy(ud, dy, g, t0, nt);
        for (int a = 0; a < WA; a++)
            for (int k0 = 0; k0 < g->Kout; k0 += kb)
                for (int c0 = 0; c0 < g->Cin; c0 += 2 * VL)
                    wgw_kernels[g->Kout - k0 < kb ? g->Kout - k0 : kb](
                        mw + ((size_t)a * g->Kout + k0) * g->Cx + c0, ud + (size_t)a * WTB * g->Kp + k0,
                        vx + (size_t)a * WTB * g->Cx + c0, g, nt);
    }
}

/* dwt[(r, t)][k][c] = (AT_R mw[.][k][c] A_R)[r][t], 16 channels a vector */
INLINE void wgw_out_r(float *dwt, const float *mw, const WGeom *g, int R) {
    for (int k = 0; k < g->Kout; k++)
        for (int c0 = 0; c0 < g->Cx; c0 += VL) {
            __m512 s[5][WT], y[5];   /* AT applied down each column, then along the rows */
            for (int b = 0; b < WT; b++) {
                __m512 z[WT];
                for (int a = 0; a < WT; a++) z[a] = _mm512_loadu_ps(mw + ((size_t)(a * WT + b) * g->Kout + k) * g->Cx + c0);
                at_rows(&s[0][b], WT, z, R);
            }
            for (int r = 0; r < R; r++) {
                at_rows(y, 1, s[r], R);
                for (int t = 0; t < R; t++) _mm512_storeu_ps(dwt + ((size_t)(r * R + t) * g->Kp + k) * g->Cx + c0, y[t]);
            }
        }
}

static void wgw_out(float *dwt, const float *mw, const WGeom *g) {
    if (g->R == 3) wgw_out_r(dwt, mw, g, 3);
    else wgw_out_r(dwt, mw, g, 5);
}

/* floats of the Winograd forward's or input gradient's buffers, the larger */
static size_t wino_region(const LayerSpec *s, int P, int Q) {
    size_t w = 0;
    if (wino_fits(s->size, s->in.c)) {
        WGeom g = wgeom(s->size, s->in.c, s->filters, P, Q);
        w = wino_scratch(&g);
    }
    if (wino_fits(s->size, s->filters)) {
        WGeom g = wgeom(s->size, s->filters, s->in.c, s->in.h, s->in.w);
        if (wino_scratch(&g) > w) w = wino_scratch(&g);
    }
    return w;
}

/* the direct kernels' buffers, then the Winograd ones: the weight
 * gradient's after the input gradient's, which live through a call together */
size_t conv_direct_scratch(const LayerSpec *s, int pad, int P, int Q) {
    DGeom g = dgeom(s, pad, P, Q);
    size_t w = dbufs(&g).end + wino_region(s, P, Q);
    if (wgw_fits(s)) {
        WGeom wg = wgeom(s->size, s->in.c, s->filters, P, Q);
        w += wgw_scratch(&wg);
    }
    return w;
}

void conv_direct_forward(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    DGeom g = dgeom(s, pad, P, Q);
    int RR = g.R * g.R;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)g.K * P * Q;
    DBufs b = dbufs(&g);
    float *tile = c->scratch + b.tile, *wr = c->scratch + b.wr, *yt = c->scratch + b.yt;
    /* wr[(c, r, t)][k] = weight[k][c][r][t]; padded channels 0 */
    memset(wr, 0, sizeof(float) * RR * g.C * g.Kp);
    for (int k = 0; k < g.K; k++)
        for (int ch = 0; ch < g.C; ch++)
            for (int i = 0; i < RR; i++) wr[((size_t)ch * RR + i) * g.Kp + k] = c->w[((size_t)k * g.C + ch) * RR + i];
    if (wino_fits(g.R, g.C)) {
        WGeom wg = wgeom(g.R, g.C, g.K, P, Q);
        float *u = c->scratch + b.end;
        wino_weights(u, wr, &wg);
        float *work = u + (size_t)WA * wg.Cin * wg.Kp;
        for (int n = 0; n < c->n; n++) {
            wino_input_of(work, c->in + n * in_sz, g.H, g.W, pad, &wg);
            wino_run(c->out + n * out_sz, u, &wg, work, c->w + (size_t)g.K * g.C * RR, 0, s->relu_after);
        }
        return;
    }
    Direct d = { tile, (size_t)g.Hp * g.Wp, g.Wp, wr, g.C, g.R, g.Kp, yt, NULL, g.K, P, Q,
                 c->w + (size_t)g.K * g.C * RR, 0, s->relu_after };
    for (int n = 0; n < c->n; n++) {
        pad_into(tile, g.xtile, c->in + n * in_sz, g.C, g.H, g.W, pad);
        d.y = c->out + n * out_sz;
        direct_run(&d);
    }
}

/* g = y > 0 ? dy : 0 */
static void relu_gate(float *restrict g, const float *restrict dy, const float *restrict y, size_t n) {
    for (size_t j = 0; j < n; j += VL) {
        __mmask16 m = lanes16((int)(n - j < VL ? n - j : VL));
        __mmask16 pos = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + j), _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_mask_storeu_ps(g + j, m, _mm512_maskz_loadu_ps(pos, dy + j));
    }
}

void conv_direct_backward(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    DGeom g = dgeom(s, pad, P, Q);
    int R = g.R, RR = R * R;
    DBufs b = dbufs(&g);
    float *tile = c->scratch + b.tile, *dtile = c->scratch + b.dtile, *wr = c->scratch + b.wr,
          *dyt = c->scratch + b.dyt, *dwt = c->scratch + b.dwt, *yt = c->scratch + b.yt, *dyg = c->scratch + b.dyg;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)g.K * P * Q;
    Direct d = { dtile, (size_t)g.Hd * g.Wd, g.Wd, wr, g.K, R, g.Cp, yt, NULL, g.C, g.H, g.W, NULL, c->din_fresh, 0 };
    int few = g.C < 2 * VL;   /* weight gradient by taps */
    int wino = wino_fits(R, g.K);
    WGeom wg = wgeom(R, g.K, g.C, g.H, g.W);
    float *u = c->scratch + b.end;
    if (c->din) {
        /* wr[(k, r', t')][c] = weight[k][c][R-1-r'][R-1-t']: the flipped, transposed kernel */
        memset(wr, 0, sizeof(float) * RR * g.K * g.Cp);
        for (int k = 0; k < g.K; k++)
            for (int ch = 0; ch < g.C; ch++)
                for (int i = 0; i < RR; i++)
                    wr[((size_t)k * RR + (RR - 1 - i)) * g.Cp + ch] = c->w[((size_t)k * g.C + ch) * RR + i];
        if (wino) wino_weights(u, wr, &wg);
    }
    if (c->dw) memset(dwt, 0, sizeof(float) * RR * g.Kp * g.Cx);
    int wgw = c->dw && wgw_fits(s);
    WGeom wf = wgeom(R, g.C, g.K, P, Q);
    float *wwork = u + wino_region(s, P, Q), *mw = wwork + wgw_scratch(&wf) - (size_t)WA * g.K * wf.Cx;
    float *dwork = u + (size_t)WA * wg.Cin * wg.Kp;   /* the Winograd input gradient's: dy padded pixel-major first */
    if (wgw) memset(mw, 0, sizeof(float) * WA * g.K * wf.Cx);
    for (int n = 0; n < c->n; n++) {   /* images in order: the sums over them are fixed */
        const float *dy = c->dout + n * out_sz;
        if (s->relu_after) {   /* the relu's backward, on this image while it is in cache */
            relu_gate(dyg, dy, c->out + n * out_sz, out_sz);
            dy = dyg;
        }
        if (c->din && wino) wino_input_of(dwork, dy, P, Q, R - 1 - pad, &wg);
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
            int pd = R - 1 - pad;
            if (wgw && c->din && wino)   /* the input gradient's padded copy of dy serves */
                wgw_image(wwork, c->in + n * in_sz, g.H, g.W, pad,
                          (DyView){ dwork + ((size_t)pd * wg.Ww + pd) * wg.Cx, wg.Ww, wg.Cx }, &wf);
            else {
                to_pixel_major(dyt, g.Kp, dy, g.K, 1, P * Q, 0, P * Q);   /* dyt (P*Q, Kp): filters to K, 0 to a multiple of 16 */
                if (wgw) wgw_image(wwork, c->in + n * in_sz, g.H, g.W, pad, (DyView){ dyt, Q, g.Kp }, &wf);
            }
            if (!wgw) {
                pixel_major_padded(tile, g.Cx, c->in + n * in_sz, g.C, g.H, g.W, pad, g.Hp, g.Wp);
                for (int i = 0; i < RR; i++)
                    for (int k0 = 0; k0 < g.K; k0 += KW)
                        for (int c0 = 0; c0 < g.C; c0 += 2 * VL)
                            wgrad_block(dwt + ((size_t)i * g.Kp + k0) * g.Cx + c0, dyt, g.Kp, tile, g.Cx, g.Wp, P, Q, k0,
                                        c0, (i / R) * g.Wp + i % R);
            }
            for (int k = 0; k < g.K; k++) dbias[k] += sum8(dy + (size_t)k * P * Q, (size_t)P * Q);
        }
        if (c->din && wino)
            wino_run(c->din + n * in_sz, u, &wg, dwork, NULL, c->din_fresh, 0);
        else if (c->din) {
            pad_into(dtile, g.dtile, dy, g.K, P, Q, R - 1 - pad);
            d.y = c->din + n * in_sz;
            direct_run(&d);
        }
    }
    if (wgw) wgw_out(dwt, mw, &wf);
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
