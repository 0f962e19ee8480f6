/* conv.c: 2-D convolution, NCHW, as im2col + cblas_sgemm, one image at a
 * time: an image's col (C*R*S, P*Q) fits in L2 cache, and in NCHW an image's
 * output (K, P*Q) is exactly the GEMM's result, so nothing is transposed and
 * no group-wide col is kept: backward rebuilds each image's col while it is
 * hot in cache instead of reading a stored one from memory.
 * weight (K, C, R, S) as in PyTorch, bias (K). Zero padding `pad` on every
 * side (`pad=same` is (R-1)/2), any stride.
 * Not here: groups, dilation (no model in the zoo uses them). */
#include <cblas.h>
#include <string.h>

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
    conv_geom(s, &pad, &P, &Q);
    if (P < 1 || Q < 1)
        return dl_fail(DL_EFORMAT, "input %dx%d is smaller than the %dx%d kernel", s->in.h, s->in.w, s->size, s->size);
    s->out = (Shape){ s->filters, P, Q };
    return DL_OK;
}

static int conv_params(const LayerSpec *s, TensorInfo t[4]) {
    t[0] = (TensorInfo){ "weight", 4, { s->filters, s->in.c, s->size, s->size }, 1 };
    t[1] = (TensorInfo){ "bias", 1, { s->filters }, 0 };
    return 2;
}

/* scratch: the general path's col and dcol, (C*R*S, P*Q) each, or the
 * stride-1 path's buffers, whichever is larger */
static size_t conv_scratch(const LayerSpec *s, int n) {
    (void)n;
    int pad = s->pad == PAD_SAME ? (s->size - 1) / 2 : s->pad;
    size_t Hp = (size_t)s->in.h + 2 * pad, Wp = (size_t)s->in.w + 2 * pad, CRS = (size_t)s->in.c * s->size * s->size;
    size_t general = 2 * CRS * s->out.h * s->out.w;
    /* stride 1: tile (C*Hp*Wp + R), col and dcol (CRS, P*Wp), dy' (K, P*Wp) */
    size_t wide = (size_t)s->in.c * Hp * Wp + s->size + (2 * CRS + s->filters) * s->out.h * Wp;
    return general > wide ? general : wide;
}

static void conv_init(const LayerSpec *s, float *w, float *state, DlRng *r) {
    (void)state;
    int fan_in = s->in.c * s->size * s->size;
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
                int q1 = (W - 1 + pad - t) / st + 1;
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
                int q1 = (W - 1 + pad - t) / st + 1;
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

/* ---- stride 1: the padded-width layout ----
 * With the input zero-padded to Hp x Wp and flattened, input pixel
 * (p + r, q + t) is element (p * Wp + q) + (r * Wp + t): so each im2col row
 * (c, r, t) is ONE contiguous run of P*Wp floats of the padded channel, if
 * the output is computed on a P x Wp grid whose last Wp - Q columns are
 * thrown away. That costs Wp/Q more GEMM work and saves the row-by-row
 * copies of im2col and col2im, which cost more. */

static void pad_channels(float *tile, const float *x, int C, int H, int W, int pad) {
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    memset(tile, 0, sizeof(float) * ((size_t)C * Hp * Wp));
    for (int ch = 0; ch < C; ch++)
        for (int h = 0; h < H; h++)
            memcpy(tile + ((size_t)ch * Hp + h + pad) * Wp + pad, x + ((size_t)ch * H + h) * W, sizeof(float) * W);
}

static void wide_im2col(float *col, const float *tile, int C, int Hp, int Wp, int R, size_t N) {
    for (int ch = 0; ch < C; ch++)
        for (int r = 0; r < R; r++)
            for (int t = 0; t < R; t++)
                memcpy(col + (((size_t)ch * R + r) * R + t) * N, tile + (size_t)ch * Hp * Wp + r * Wp + t, sizeof(float) * N);
}

static void conv_forward_s1(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    int K = s->filters, C = s->in.c, R = s->size, CRS = C * R * R, H = s->in.h, W = s->in.w;
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    size_t N = (size_t)P * Wp, in_sz = shape_size(s->in), out_sz = (size_t)K * P * Q;
    float *tile = c->scratch, *col = tile + (size_t)C * Hp * Wp + R, *yw = col + (size_t)CRS * N;
    const float *bias = c->w + (size_t)K * CRS;
    for (int n = 0; n < c->n; n++) {
        pad_channels(tile, c->in + n * in_sz, C, H, W, pad);
        memset(tile + (size_t)C * Hp * Wp, 0, sizeof(float) * R);   /* read only by thrown-away columns */
        wide_im2col(col, tile, C, Hp, Wp, R, N);
        /* yw (K, P*Wp) = weight (K, CRS) x col (CRS, P*Wp) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)N, CRS, 1.0f, c->w, CRS, col, (int)N, 0.0f, yw, (int)N);
        float *y = c->out + n * out_sz;
        for (int k = 0; k < K; k++)
            for (int p = 0; p < P; p++) {
                const float *src = yw + (size_t)k * N + (size_t)p * Wp;
                float *dst = y + ((size_t)k * P + p) * Q;
                for (int q = 0; q < Q; q++) dst[q] = src[q] + bias[k];
            }
    }
}

static void conv_backward_s1(const LayerCtx *c, int pad, int P, int Q) {
    const LayerSpec *s = c->s;
    int K = s->filters, C = s->in.c, R = s->size, CRS = C * R * R, H = s->in.h, W = s->in.w;
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    size_t N = (size_t)P * Wp, in_sz = shape_size(s->in), out_sz = (size_t)K * P * Q;
    float *tile = c->scratch, *col = tile + (size_t)C * Hp * Wp + R, *dyw = col + (size_t)CRS * N;
    float *dcol = col;   /* col is done with by the time dcol is written */
    for (int n = 0; n < c->n; n++) {   /* images in order: the sums over them are fixed */
        const float *dy = c->dout + n * out_sz;
        for (int k = 0; k < K; k++)
            for (int p = 0; p < P; p++) {
                float *dst = dyw + (size_t)k * N + (size_t)p * Wp;
                memcpy(dst, dy + ((size_t)k * P + p) * Q, sizeof(float) * Q);
                for (int q = Q; q < Wp; q++) dst[q] = 0.0f;
            }
        if (c->dw) {
            float *dweight = c->dw, *dbias = c->dw + (size_t)K * CRS;
            pad_channels(tile, c->in + n * in_sz, C, H, W, pad);
            memset(tile + (size_t)C * Hp * Wp, 0, sizeof(float) * R);
            wide_im2col(col, tile, C, Hp, Wp, R, N);
            /* dweight (K, CRS) += dyw (K, N) x col^T (N, CRS); thrown-away columns of dyw are 0 */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, CRS, (int)N, 1.0f, dyw, (int)N, col, (int)N,
                        1.0f, dweight, CRS);
            for (int k = 0; k < K; k++) dbias[k] += sum8(dy + (size_t)k * P * Q, (size_t)P * Q);
        }
        if (c->din) {
            /* dcol (CRS, N) = weight^T (CRS, K) x dyw (K, N) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CRS, (int)N, K, 1.0f, c->w, CRS, dyw, (int)N,
                        0.0f, dcol, (int)N);
            /* col2im on the padded tile: row (c, r, t) adds to one contiguous run */
            memset(tile, 0, sizeof(float) * ((size_t)C * Hp * Wp + R));
            for (int ch = 0; ch < C; ch++)
                for (int r = 0; r < R; r++)
                    for (int t = 0; t < R; t++) {
                        float *dst = tile + (size_t)ch * Hp * Wp + r * Wp + t;
                        const float *src = dcol + (((size_t)ch * R + r) * R + t) * N;
                        for (size_t j = 0; j < N; j++) dst[j] += src[j];
                    }
            float *dx = c->din + n * in_sz;
            for (int ch = 0; ch < C; ch++)
                for (int h = 0; h < H; h++) {
                    const float *src = tile + ((size_t)ch * Hp + h + pad) * Wp + pad;
                    float *dst = dx + ((size_t)ch * H + h) * W;
                    for (int w = 0; w < W; w++) dst[w] += src[w];
                }
        }
    }
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

static void conv_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int pad, P, Q, K = s->filters, CRS = s->in.c * s->size * s->size;
    conv_geom(s, &pad, &P, &Q);
    if (s->size == 1 && s->stride == 1 && pad == 0) { conv_forward_1x1(c); return; }
    if (s->stride == 1 && s->size > 1) { conv_forward_s1(c, pad, P, Q); return; }
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
    if (s->size == 1 && s->stride == 1 && pad == 0) { conv_backward_1x1(c); return; }
    if (s->stride == 1 && s->size > 1) { conv_backward_s1(c, pad, P, Q); return; }
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

const LayerOps conv_ops = {
    .kind = "conv", .shape = conv_shape, .params = conv_params, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = conv_scratch, .init = conv_init,
    .forward = conv_forward, .backward = conv_backward,
};
