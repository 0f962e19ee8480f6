/* pool.c: max pooling, average pooling (size R, stride S, `pad` on every
 * side, floor or ceil mode, PyTorch's semantics) and global average pooling
 * (C,H,W) -> (C).
 * Max pooling keeps the argmax of each window for backward; ties go to the
 * first element in row-major order; padding never wins (it is -inf). Average
 * pooling divides by the window's size clipped to the padded input
 * (count_pad=1, PyTorch's count_include_pad) or by the real pixels in it
 * (count_pad=0); in ceil mode a window that starts in the right or bottom
 * padding is dropped, as PyTorch does. */
#include <stdint.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "layers/layer.h"

/* Output length along one axis of length L (PyTorch's pooling_output_shape). */
static int pool_len(int L, int R, int st, int pad, int ceil_mode) {
    int span = L + 2 * pad - R;
    int o = (ceil_mode ? (span + st - 1) / st : span / st) + 1;
    if (ceil_mode && (o - 1) * st >= L + pad) o--;
    return o;
}

static DlStatus pool_shape(LayerSpec *s) {
    if (s->size < 1) return dl_fail(DL_EFORMAT, "pooling needs size>=1");
    if (s->stride < 1) s->stride = s->size;
    if (s->pad == PAD_SAME) return dl_fail(DL_EFORMAT, "pooling takes pad=N (at most size/2), not pad=same");
    if (s->pad < 0 || 2 * s->pad > s->size)
        return dl_fail(DL_EFORMAT, "pooling pad=%d must be at most half the window (size=%d)", s->pad, s->size);
    if (s->in.h + 2 * s->pad < s->size || s->in.w + 2 * s->pad < s->size)
        return dl_fail(DL_EFORMAT, "input %dx%d (padded by %d) is smaller than the %dx%d pooling window",
                       s->in.h, s->in.w, s->pad, s->size, s->size);
    s->out = (Shape){ s->in.c, pool_len(s->in.h, s->size, s->stride, s->pad, s->ceil_mode),
                      pool_len(s->in.w, s->size, s->stride, s->pad, s->ceil_mode) };
    return DL_OK;
}

/* The window of output (p, q) clipped to the input: rows [h0, h1), columns
 * [w0, w1) (never empty: the shape rules keep a window on real pixels), and
 * avgpool's divisor. */
typedef struct { int h0, h1, w0, w1; float inv; } Window;

static Window pool_window(const LayerSpec *s, int p, int q) {
    int R = s->size, st = s->stride, pad = s->pad, H = s->in.h, W = s->in.w;
    int h0 = p * st - pad, w0 = q * st - pad;
    int h1 = h0 + R < H + pad ? h0 + R : H + pad, w1 = w0 + R < W + pad ? w0 + R : W + pad;
    int padded = (h1 - h0) * (w1 - w0);
    Window w = { h0 < 0 ? 0 : h0, h1 < H ? h1 : H, w0 < 0 ? 0 : w0, w1 < W ? w1 : W, 0.0f };
    w.inv = 1.0f / (float)(s->count_pad ? padded : (w.h1 - w.h0) * (w.w1 - w.w0));
    return w;
}

static int pool_plain(const LayerSpec *s) { return s->pad == 0 && !s->ceil_mode; }

static size_t maxpool_cache(const LayerSpec *s, int n) { return (size_t)n * shape_size(s->out); }

#ifdef __AVX512F__
/* 2x2, stride 2: 16 outputs of a row at once, from the even and odd columns
 * of the two input rows; the same comparisons in the same order as the
 * general loop, so the same outputs and argmaxes. */
static void maxpool2_plane(const float *x, float *y, int32_t *a, int W, int P, int Q) {
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    for (int p = 0; p < P; p++) {
        const float *r0 = x + (size_t)2 * p * W, *r1 = r0 + W;
        for (int q0 = 0; q0 < Q; q0 += 16) {
            int nq = Q - q0 < 16 ? Q - q0 : 16, ncol = 2 * nq;
            __mmask16 mlo = lanes16(ncol), mhi = lanes16(ncol - 16), mq = lanes16(nq);
            __m512 a0 = _mm512_maskz_loadu_ps(mlo, r0 + 2 * q0), b0 = _mm512_maskz_loadu_ps(mhi, r0 + 2 * q0 + 16);
            __m512 a1 = _mm512_maskz_loadu_ps(mlo, r1 + 2 * q0), b1 = _mm512_maskz_loadu_ps(mhi, r1 + 2 * q0 + 16);
            __m512 v[4] = { _mm512_permutex2var_ps(a0, ev, b0), _mm512_permutex2var_ps(a0, od, b0),
                            _mm512_permutex2var_ps(a1, ev, b1), _mm512_permutex2var_ps(a1, od, b1) };
            __m512i base = _mm512_add_epi32(ev, _mm512_set1_epi32(2 * p * W + 2 * q0));
            const int off[4] = { 0, 1, W, W + 1 };
            __m512 best = v[0];
            __m512i idx = base;
            for (int k = 1; k < 4; k++) {
                __mmask16 gt = _mm512_cmp_ps_mask(v[k], best, _CMP_GT_OQ);
                best = _mm512_mask_mov_ps(best, gt, v[k]);
                idx = _mm512_mask_mov_epi32(idx, gt, _mm512_add_epi32(base, _mm512_set1_epi32(off[k])));
            }
            _mm512_mask_storeu_ps(y + (size_t)p * Q + q0, mq, best);
            _mm512_mask_storeu_epi32(a + (size_t)p * Q + q0, mq, idx);
        }
    }
}
#endif

static void maxpool_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int H = s->in.h, W = s->in.w, P = s->out.h, Q = s->out.w;
#ifdef __AVX512F__
    int R = s->size, st = s->stride;
#endif
    int32_t *arg = (int32_t *)c->cache;    /* (n, C, P, Q): index into the (H, W) plane */
#ifdef __AVX512F__
    if (R == 2 && st == 2 && pool_plain(s)) {
        for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++)
            maxpool2_plane(c->in + plane * H * W, c->out + plane * P * Q, arg + plane * P * Q, W, P, Q);
        return;
    }
#endif
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++) {
        const float *x = c->in + plane * H * W;
        float *y = c->out + plane * P * Q;
        int32_t *a = arg + plane * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                Window wd = pool_window(s, p, q);
                int best = wd.h0 * W + wd.w0;
                for (int h = wd.h0; h < wd.h1; h++)
                    for (int w = wd.w0; w < wd.w1; w++) {
                        int i = h * W + w;
                        if (x[i] > x[best]) best = i;
                    }
                y[p * Q + q] = x[best];
                a[p * Q + q] = best;
            }
    }
}

#ifdef __AVX512F__
/* 2x2, stride 2, even H and W, fresh din: every input position is in one
 * window, so din is written outright, window by window: dout at the
 * argmax, 0 at the other three (0 + dout and 0, as a zeroed din plus the
 * scatter would give). */
static void maxpool2_backward_fresh(float *dx, const float *dy, const int32_t *a, int W, int P, int Q) {
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const __m512 zero = _mm512_setzero_ps();
    for (int p = 0; p < P; p++)
        for (int q0 = 0; q0 < Q; q0 += 16) {
            int nq = Q - q0 < 16 ? Q - q0 : 16, ncol = 2 * nq;
            __mmask16 mq = lanes16(nq), mlo = lanes16(ncol), mhi = lanes16(ncol - 16);
            __m512 g = _mm512_maskz_loadu_ps(mq, dy + (size_t)p * Q + q0);
            __m512i base = _mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(
                _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(q0)), 1),
                _mm512_set1_epi32(2 * p * W));
            __m512i off = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mq, a + (size_t)p * Q + q0), base);
            for (int r = 0; r < 2; r++) {
                __m512 ev = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(r * W)), g);
                __m512 od = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(r * W + 1)), g);
                ev = _mm512_add_ps(zero, ev);
                od = _mm512_add_ps(zero, od);
                float *dst = dx + (size_t)(2 * p + r) * W + 2 * q0;
                _mm512_mask_storeu_ps(dst, mlo, _mm512_permutex2var_ps(ev, lo, od));
                _mm512_mask_storeu_ps(dst + 16, mhi, _mm512_permutex2var_ps(ev, hi, od));
            }
        }
}
#endif

static void maxpool_backward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    size_t HW = (size_t)s->in.h * s->in.w, PQ = (size_t)s->out.h * s->out.w;
    const int32_t *arg = (const int32_t *)c->cache;
#ifdef __AVX512F__
    if (c->din_fresh && s->size == 2 && s->stride == 2 && pool_plain(s) && s->in.h % 2 == 0 && s->in.w % 2 == 0) {
        for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++)
            maxpool2_backward_fresh(c->din + plane * HW, c->dout + plane * PQ, arg + plane * PQ, s->in.w, s->out.h,
                                    s->out.w);
        return;
    }
#endif
    if (c->din_fresh) memset(c->din, 0, sizeof(float) * c->n * s->in.c * HW);
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++)
        for (size_t i = 0; i < PQ; i++)
            c->din[plane * HW + arg[plane * PQ + i]] += c->dout[plane * PQ + i];
}

static void avgpool_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int H = s->in.h, W = s->in.w, P = s->out.h, Q = s->out.w;
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++) {
        const float *x = c->in + plane * H * W;
        float *y = c->out + plane * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                Window wd = pool_window(s, p, q);
                float acc = 0.0f;
                for (int h = wd.h0; h < wd.h1; h++)
                    for (int w = wd.w0; w < wd.w1; w++) acc += x[h * W + w];
                y[p * Q + q] = acc * wd.inv;
            }
    }
}

static void avgpool_backward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int H = s->in.h, W = s->in.w, P = s->out.h, Q = s->out.w;
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++) {
        float *dx = c->din + plane * H * W;
        const float *dy = c->dout + plane * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                Window wd = pool_window(s, p, q);
                float g = dy[p * Q + q] * wd.inv;
                for (int h = wd.h0; h < wd.h1; h++)
                    for (int w = wd.w0; w < wd.w1; w++) dx[h * W + w] += g;
            }
    }
}

static DlStatus gap_shape(LayerSpec *s) { s->out = (Shape){ s->in.c, 1, 1 }; return DL_OK; }

static void gap_forward(const LayerCtx *c) {
    size_t HW = (size_t)c->s->in.h * c->s->in.w;
    for (size_t plane = 0; plane < (size_t)c->n * c->s->in.c; plane++) {
        float acc = 0.0f;
        for (size_t i = 0; i < HW; i++) acc += c->in[plane * HW + i];
        c->out[plane] = acc / (float)HW;
    }
}

static void gap_backward(const LayerCtx *c) {
    size_t HW = (size_t)c->s->in.h * c->s->in.w;
    for (size_t plane = 0; plane < (size_t)c->n * c->s->in.c; plane++) {
        float g = c->dout[plane] / (float)HW;
        for (size_t i = 0; i < HW; i++) c->din[plane * HW + i] += g;
    }
}

const LayerOps maxpool_ops = {
    .kind = "maxpool", .shape = pool_shape, .params = no_tensors, .states = no_tensors,
    .cache_count = maxpool_cache, .scratch_count = no_floats, .init = no_init,
    .forward = maxpool_forward, .backward = maxpool_backward, .writes_din = 1,
};
const LayerOps avgpool_ops = {
    .kind = "avgpool", .shape = pool_shape, .params = no_tensors, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = no_floats, .init = no_init,
    .forward = avgpool_forward, .backward = avgpool_backward,
};
const LayerOps gap_ops = {
    .kind = "gap", .shape = gap_shape, .params = no_tensors, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = no_floats, .init = no_init,
    .forward = gap_forward, .backward = gap_backward,
};
