/* conv.c: 2-D convolution, NCHW, one image at a time, by the fastest of
 * four paths that fits the layer:
 *   stride 1, 3x3 and 5x5 or >= 32 input channels, AVX-512 build: direct
 *     kernels, Winograd for 3x3 and 5x5 from 16 channels (conv_direct.c);
 *   1x1, stride 1, no padding: GEMMs straight on the activations;
 *   stride 1, >= 8 input channels: R*R shifted GEMMs on the zero-padded image;
 *   anything else: im2col + cblas_sgemm (an image's col fits in L2).
 * weight (K, C, R, S) as in PyTorch, bias (K). Zero padding `pad` on every
 * side (`pad=same` is (R-1)/2), any stride. Every path sums each output in
 * an order fixed by the layer's shape alone, so results do not depend on
 * how many images a call gets.
 * groups=G > 1 (PyTorch's groups; a depthwise conv is better a dwconv):
 * weight (K, C/G, R, S), and every group of C/G input channels makes its
 * K/G outputs by the im2col path on its own channels.
 * Not here: dilation. */
#include <cblas.h>
#include <string.h>

#include "layers/conv_direct.h"
#include "layers/layer.h"

static void conv_geom(const LayerSpec *s, int *pad, int *P, int *Q) {
    *pad = s->pad == PAD_SAME ? (s->size - 1) / 2 : s->pad;
    *P = (s->in.h + 2 * *pad - s->size) / s->stride + 1;
    *Q = (s->in.w + 2 * *pad - s->size) / s->stride + 1;
}

static DlStatus conv_shape(LayerSpec *s) {
    int pad, P, Q;
    if (s->filters < 1 || s->size < 1 || s->stride < 1)
        return dl_fail(DL_EFORMAT, "conv needs filters>=1, size>=1, stride>=1");
    if (s->pad == PAD_SAME && s->size % 2 == 0)
        return dl_fail(DL_EFORMAT, "pad=same needs an odd kernel size (got size=%d); give pad=N", s->size);
    if (s->groups == 0) s->groups = 1;   /* a zeroed spec: a plain conv */
    if (s->groups < 1 || s->in.c % s->groups || s->filters % s->groups)
        return dl_fail(DL_EFORMAT, "groups=%d must divide the input channels (%d) and filters (%d)",
                       s->groups, s->in.c, s->filters);
    conv_geom(s, &pad, &P, &Q);
    /* (in + 2 pad - size) / stride truncates toward zero: check the sign first */
    if (s->in.h + 2 * pad < s->size || s->in.w + 2 * pad < s->size || P < 1 || Q < 1)
        return dl_fail(DL_EFORMAT, "input %dx%d is smaller than the %dx%d kernel", s->in.h, s->in.w, s->size, s->size);
    s->out = (Shape){ s->filters, P, Q };
    return DL_OK;
}

static int conv_params(const LayerSpec *s, TensorInfo t[4]) {
    t[0] = (TensorInfo){ "weight", 4, { s->filters, s->in.c / s->groups, s->size, s->size }, 1 };
    t[1] = (TensorInfo){ "bias", 1, { s->filters }, 0 };
    return 2;
}

static void conv_init(const LayerSpec *s, float *w, float *state, DlRng *r) {
    (void)state;
    int fan_in = s->in.c / s->groups * s->size * s->size;
    init_fan_in_uniform(w, (size_t)s->filters * (fan_in + 1), fan_in, r);   /* weight, then bias */
}

/* col (C*R*S, P*Q) from one image x (C, H, W). */
static void im2col(float *col, const float *x, const LayerSpec *s, int pad, int P, int Q) {
    int C = s->in.c, H = s->in.h, W = s->in.w, R = s->size, st = s->stride;
    for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
            for (int t = 0; t < R; t++) {
                float *row = col + (((size_t)c * R + r) * R + t) * P * Q;
                /* output columns q whose input column q*st - pad + t is inside [0, W) */
                int q0 = pad - t > 0 ? (pad - t + st - 1) / st : 0;
                int q1 = W - 1 + pad - t < 0 ? 0 : (W - 1 + pad - t) / st + 1;   /* C division truncates: floor for < 0 */
                if (q1 > Q) q1 = Q;
                if (q1 < q0) q1 = q0;
                for (int p = 0; p < P; p++) {
                    int h = p * st - pad + r;
                    float *dst = row + (size_t)p * Q;
                    if (h < 0 || h >= H) { memset(dst, 0, sizeof(float) * Q); continue; }
                    const float *src = x + ((size_t)c * H + h) * W + t - pad;
                    for (int q = 0; q < q0; q++) dst[q] = 0.0f;
                    if (st == 1) memcpy(dst + q0, src + q0, sizeof(float) * (q1 - q0));
                    else for (int q = q0; q < q1; q++) dst[q] = src[q * st];
                    for (int q = q1; q < Q; q++) dst[q] = 0.0f;
                }
            }
}

/* dx (C, H, W) += col2im(col (C*R*S, P*Q)). */
static void col2im_add(float *dx, const float *col, const LayerSpec *s, int pad, int P, int Q) {
    int C = s->in.c, H = s->in.h, W = s->in.w, R = s->size, st = s->stride;
    for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
            for (int t = 0; t < R; t++) {
                const float *row = col + (((size_t)c * R + r) * R + t) * P * Q;
                int q0 = pad - t > 0 ? (pad - t + st - 1) / st : 0;
                int q1 = W - 1 + pad - t < 0 ? 0 : (W - 1 + pad - t) / st + 1;   /* C division truncates: floor for < 0 */
                if (q1 > Q) q1 = Q;
                for (int p = 0; p < P; p++) {
                    int h = p * st - pad + r;
                    if (h < 0 || h >= H) continue;
                    float *dst = dx + ((size_t)c * H + h) * W + t - pad;
                    const float *src = row + (size_t)p * Q;
                    if (st == 1) for (int q = q0; q < q1; q++) dst[q] += src[q];   /* vectorises */
                    else for (int q = q0; q < q1; q++) dst[q * st] += src[q];
                }
            }
}

/* ---- stride 1: shifted GEMMs on the padded input ----
 * With an image zero-padded to Hp x Wp and flattened, input pixel
 * (p + r, q + t) is element (p * Wp + q) + (r * Wp + t). So if the output is
 * computed on a P x Wp grid whose last Wp - Q columns are thrown away, tap
 * (r, t) of the kernel reads the padded channels shifted by r * Wp + t: a
 * plain (C, P*Wp) matrix with row stride Hp*Wp. The convolution is R*R
 * GEMMs over those shifted views, with no im2col at all; backward-data is
 * the same GEMMs transposed, adding into a padded gradient at the same
 * shifts (no col2im). Garbage columns read at most R-1 floats past the last
 * channel, hence the R spare zeros after each tile. */

/* Below this many input channels the per-tap GEMMs are too thin (K = C);
 * such layers (a first layer on grey or RGB images) take im2col. */
#define S1_MIN_C 8

typedef struct {
    int K, C, R, H, W, pad, P, Q, Hp, Wp;
    size_t N, plane, tile, taps;   /* P*Wp; Hp*Wp; C*Hp*Wp + R; K*C per tap */
} S1Geom;

static S1Geom s1_geom(const LayerSpec *s, int pad, int P, int Q) {
    S1Geom g = { s->filters, s->in.c, s->size, s->in.h, s->in.w, pad, P, Q, s->in.h + 2 * pad, s->in.w + 2 * pad,
                 0, 0, 0, 0 };
    g.N = (size_t)P * g.Wp;
    g.plane = (size_t)g.Hp * g.Wp;
    g.tile = (size_t)g.C * g.plane + g.R;
    g.taps = (size_t)g.K * g.C;
    return g;
}

static size_t s1_scratch(const S1Geom *g) {
    /* tile, dtile, weight by tap, dweight by tap, yw */
    return 2 * g->tile + 2 * (size_t)g->R * g->R * g->taps + (size_t)g->K * g->N;
}

static void pad_channels(float *tile, const float *x, const S1Geom *g) {
    memset(tile, 0, sizeof(float) * g->tile);
    for (int ch = 0; ch < g->C; ch++)
        for (int h = 0; h < g->H; h++)
            memcpy(tile + ch * g->plane + (size_t)(h + g->pad) * g->Wp + g->pad, x + ((size_t)ch * g->H + h) * g->W,
                   sizeof(float) * g->W);
}

/* wt[r*R + t] (K, C) = weight[:, :, r, t] */
static void weight_by_tap(float *wt, const float *w, const S1Geom *g) {
    int RR = g->R * g->R;
    for (int k = 0; k < g->K; k++)
        for (int ch = 0; ch < g->C; ch++)
            for (int i = 0; i < RR; i++) wt[i * g->taps + (size_t)k * g->C + ch] = w[((size_t)k * g->C + ch) * RR + i];
}

static void conv_forward_s1(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    S1Geom g = s1_geom(s, pad, P, Q);
    int K = g.K, C = g.C, R = g.R;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)K * P * Q;
    float *tile = c->scratch, *wt = tile + 2 * g.tile, *yw = wt + 2 * (size_t)R * R * g.taps;
    const float *bias = c->w + (size_t)K * C * R * R;
    weight_by_tap(wt, c->w, &g);
    for (int n = 0; n < c->n; n++) {
        pad_channels(tile, c->in + n * in_sz, &g);
        /* yw (K, P*Wp) = sum over taps of weight_tap (K, C) x shifted tile (C, P*Wp) */
        for (int r = 0; r < R; r++)
            for (int t = 0; t < R; t++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)g.N, C, 1.0f, wt + (r * R + t) * g.taps,
                            C, tile + (size_t)r * g.Wp + t, (int)g.plane, r + t ? 1.0f : 0.0f, yw, (int)g.N);
        float *y = c->out + n * out_sz;
        for (int k = 0; k < K; k++)
            for (int p = 0; p < P; p++) {
                const float *src = yw + (size_t)k * g.N + (size_t)p * g.Wp;
                float *dst = y + ((size_t)k * P + p) * Q;
                for (int q = 0; q < Q; q++) dst[q] = src[q] + bias[k];
            }
    }
}

static void conv_backward_s1(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    S1Geom g = s1_geom(s, pad, P, Q);
    int K = g.K, C = g.C, R = g.R, RR = R * R;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)K * P * Q;
    float *tile = c->scratch, *dtile = tile + g.tile, *wt = dtile + g.tile, *dwt = wt + (size_t)RR * g.taps,
          *dyw = dwt + (size_t)RR * g.taps;
    if (c->din) weight_by_tap(wt, c->w, &g);
    if (c->dw) memset(dwt, 0, sizeof(float) * RR * g.taps);
    for (int n = 0; n < c->n; n++) {   /* images in order: the sums over them are fixed */
        const float *dy = c->dout + n * out_sz;
        for (int k = 0; k < K; k++)
            for (int p = 0; p < P; p++) {
                float *dst = dyw + (size_t)k * g.N + (size_t)p * g.Wp;
                memcpy(dst, dy + ((size_t)k * P + p) * Q, sizeof(float) * Q);
                for (int q = Q; q < g.Wp; q++) dst[q] = 0.0f;
            }
        if (c->dw) {
            float *dbias = c->dw + (size_t)K * C * RR;
            pad_channels(tile, c->in + n * in_sz, &g);
            /* dweight_tap (K, C) += dyw (K, N) x shifted tile^T (N, C); thrown-away columns of dyw are 0 */
            for (int i = 0; i < RR; i++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C, (int)g.N, 1.0f, dyw, (int)g.N,
                            tile + (size_t)(i / R) * g.Wp + i % R, (int)g.plane, 1.0f, dwt + i * g.taps, C);
            for (int k = 0; k < K; k++) dbias[k] += sum8(dy + (size_t)k * P * Q, (size_t)P * Q);
        }
        if (c->din) {
            /* shifted dtile (C, N) += weight_tap^T (C, K) x dyw (K, N), tap by tap */
            memset(dtile, 0, sizeof(float) * g.tile);
            for (int i = 0; i < RR; i++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)g.N, K, 1.0f, wt + i * g.taps, C, dyw,
                            (int)g.N, 1.0f, dtile + (size_t)(i / R) * g.Wp + i % R, (int)g.plane);
            float *dx = c->din + n * in_sz;
            for (int ch = 0; ch < C; ch++)
                for (int h = 0; h < g.H; h++) {
                    const float *src = dtile + ch * g.plane + (size_t)(h + pad) * g.Wp + pad;
                    float *dst = dx + ((size_t)ch * g.H + h) * g.W;
                    for (int w = 0; w < g.W; w++) dst[w] += src[w];
                }
        }
    }
    if (c->dw)
        for (int k = 0; k < K; k++)
            for (int ch = 0; ch < C; ch++)
                for (int i = 0; i < RR; i++)
                    c->dw[((size_t)k * C + ch) * RR + i] += dwt[i * g.taps + (size_t)k * C + ch];
}

/* ---- 1x1, stride 1, no padding: the input is its own im2col ----
 * An image's input (C, H*W) is exactly col, so the GEMMs read and write the
 * activations directly (pointwise convs of MobileNet-style nets). */
static void conv_forward_1x1(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int K = s->filters, C = s->in.c, HW = s->in.h * s->in.w;
    const float *bias = c->w + (size_t)K * C;
    for (int n = 0; n < c->n; n++) {
        float *y = c->out + (size_t)n * K * HW;
        for (int k = 0; k < K; k++)
            for (int i = 0; i < HW; i++) y[(size_t)k * HW + i] = bias[k];
        /* y (K, HW) += weight (K, C) x x (C, HW) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, HW, C, 1.0f, c->w, C,
                    c->in + (size_t)n * C * HW, HW, 1.0f, y, HW);
    }
}

static void conv_backward_1x1(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int K = s->filters, C = s->in.c, HW = s->in.h * s->in.w;
    for (int n = 0; n < c->n; n++) {   /* images in order: the sums over them are fixed */
        const float *dy = c->dout + (size_t)n * K * HW, *x = c->in + (size_t)n * C * HW;
        if (c->dw) {
            float *dbias = c->dw + (size_t)K * C;
            /* dweight (K, C) += dy (K, HW) x x^T (HW, C) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C, HW, 1.0f, dy, HW, x, HW, 1.0f, c->dw, C);
            for (int k = 0; k < K; k++) dbias[k] += sum8(dy + (size_t)k * HW, (size_t)HW);
        }
        /* dx (C, HW) += weight^T (C, K) x dy (K, HW), straight into the accumulated gradient */
        if (c->din)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, HW, K, 1.0f, c->w, C, dy, HW, 1.0f,
                        c->din + (size_t)n * C * HW, HW);
    }
}

/* ---- groups: each group of channels by the im2col path ---- */

/* The spec of one group alone: C/G input channels, K/G filters. */
static LayerSpec group_spec(const LayerSpec *s) {
    LayerSpec g = *s;
    g.in.c = s->in.c / s->groups;
    g.filters = s->filters / s->groups;
    g.groups = 1;
    return g;
}

static void conv_forward_groups(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    LayerSpec gs = group_spec(s);
    int G = s->groups, Kg = gs.filters, CRS = gs.in.c * s->size * s->size, PQ = P * Q;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)s->filters * PQ, gin = shape_size(gs.in);
    const float *bias = c->w + (size_t)s->filters * CRS;
    float *col = c->scratch;
    for (int n = 0; n < c->n; n++)
        for (int g = 0; g < G; g++) {
            float *y = c->out + n * out_sz + (size_t)g * Kg * PQ;
            for (int k = 0; k < Kg; k++)
                for (int i = 0; i < PQ; i++) y[(size_t)k * PQ + i] = bias[g * Kg + k];
            im2col(col, c->in + n * in_sz + g * gin, &gs, pad, P, Q);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Kg, PQ, CRS,
                        1.0f, c->w + (size_t)g * Kg * CRS, CRS, col, PQ, 1.0f, y, PQ);
        }
}

static void conv_backward_groups(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    LayerSpec gs = group_spec(s);
    int G = s->groups, Kg = gs.filters, CRS = gs.in.c * s->size * s->size, PQ = P * Q;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)s->filters * PQ, gin = shape_size(gs.in);
    float *col = c->scratch, *dcol = c->scratch + (size_t)CRS * PQ;
    for (int n = 0; n < c->n; n++)   /* images in order: the sums over them are fixed */
        for (int g = 0; g < G; g++) {
            const float *dy = c->dout + n * out_sz + (size_t)g * Kg * PQ, *wg = c->w + (size_t)g * Kg * CRS;
            if (c->dw) {
                float *dbias = c->dw + (size_t)s->filters * CRS;
                im2col(col, c->in + n * in_sz + g * gin, &gs, pad, P, Q);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Kg, CRS, PQ,
                            1.0f, dy, PQ, col, PQ, 1.0f, c->dw + (size_t)g * Kg * CRS, CRS);
                for (int k = 0; k < Kg; k++) dbias[g * Kg + k] += sum8(dy + (size_t)k * PQ, (size_t)PQ);
            }
            if (c->din) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CRS, PQ, Kg,
                            1.0f, wg, CRS, dy, PQ, 0.0f, dcol, PQ);
                col2im_add(c->din + n * in_sz + g * gin, dcol, &gs, pad, P, Q);
            }
        }
}

static int conv_direct(const LayerSpec *s) { return s->groups == 1 && conv_direct_supports(s); }

static void conv_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int pad, P, Q, K = s->filters, CRS = s->in.c * s->size * s->size;
    conv_geom(s, &pad, &P, &Q);
    if (s->groups > 1) { conv_forward_groups(c, pad, P, Q); return; }
    if (s->size == 1 && s->stride == 1 && pad == 0) { conv_forward_1x1(c); return; }
    if (conv_direct(s)) { conv_direct_forward(c, pad, P, Q); return; }
    if (s->stride == 1 && s->size > 1 && s->in.c >= S1_MIN_C) { conv_forward_s1(c, pad, P, Q); return; }
    int PQ = P * Q;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)K * PQ;
    const float *weight = c->w, *bias = c->w + (size_t)K * CRS;
    float *col = c->scratch;
    for (int n = 0; n < c->n; n++) {
        float *y = c->out + n * out_sz;
        for (int k = 0; k < K; k++)
            for (int i = 0; i < PQ; i++) y[(size_t)k * PQ + i] = bias[k];
        im2col(col, c->in + n * in_sz, s, pad, P, Q);
        /* y (K, PQ) += weight (K, CRS) x col (CRS, PQ) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, PQ, CRS,
                    1.0f, weight, CRS, col, PQ, 1.0f, y, PQ);
    }
}

static void conv_backward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int pad, P, Q, K = s->filters, CRS = s->in.c * s->size * s->size;
    conv_geom(s, &pad, &P, &Q);
    if (conv_direct(s)) { conv_direct_backward(c, pad, P, Q); return; }   /* honours din_fresh */
    if (c->din && c->din_fresh) memset(c->din, 0, sizeof(float) * c->n * shape_size(s->in));
    if (s->groups > 1) { conv_backward_groups(c, pad, P, Q); return; }
    if (s->size == 1 && s->stride == 1 && pad == 0) { conv_backward_1x1(c); return; }
    if (s->stride == 1 && s->size > 1 && s->in.c >= S1_MIN_C) { conv_backward_s1(c, pad, P, Q); return; }
    int PQ = P * Q;
    size_t in_sz = shape_size(s->in), out_sz = (size_t)K * PQ;
    float *col = c->scratch, *dcol = c->scratch + (size_t)CRS * PQ;
    for (int n = 0; n < c->n; n++) {   /* images in order: the sums over them are fixed */
        const float *dy = c->dout + n * out_sz;
        if (c->dw) {
            float *dweight = c->dw, *dbias = c->dw + (size_t)K * CRS;
            im2col(col, c->in + n * in_sz, s, pad, P, Q);
            /* dweight (K, CRS) += dy (K, PQ) x col^T (PQ, CRS) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, CRS, PQ,
                        1.0f, dy, PQ, col, PQ, 1.0f, dweight, CRS);
            for (int k = 0; k < K; k++) dbias[k] += sum8(dy + (size_t)k * PQ, (size_t)PQ);
        }
        if (c->din) {
            /* dcol (CRS, PQ) = weight^T (CRS, K) x dy (K, PQ) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CRS, PQ, K,
                        1.0f, c->w, CRS, dy, PQ, 0.0f, dcol, PQ);
            col2im_add(c->din + n * in_sz, dcol, s, pad, P, Q);
        }
    }
}

/* scratch: the general path's col and dcol, (C*R*S, P*Q) each, or the
 * stride-1 path's buffers */
static size_t conv_scratch(const LayerSpec *s, int n) {
    (void)n;
    int pad, P, Q;
    conv_geom(s, &pad, &P, &Q);
    size_t general = 2 * (size_t)(s->in.c / s->groups) * s->size * s->size * P * Q;
    if (s->groups > 1) return general;
    if (conv_direct(s)) {
        size_t d = conv_direct_scratch(s, pad, P, Q);
        return d > general ? d : general;
    }
    if (s->stride == 1 && s->size > 1 && s->in.c >= S1_MIN_C) {
        S1Geom g = s1_geom(s, pad, P, Q);
        return s1_scratch(&g);
    }
    return general;
}

const LayerOps conv_ops = {
    .kind = "conv", .shape = conv_shape, .params = conv_params, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = conv_scratch, .init = conv_init,
    .forward = conv_forward, .backward = conv_backward, .writes_din = 1, .takes_relu = conv_direct,
};
