/* pool.c: max pooling, average pooling (size R, stride S, no padding, floor
 * mode, as PyTorch's defaults) and global average pooling (C,H,W) -> (C).
 * Max pooling keeps the argmax of each window for backward; ties go to the
 * first element in row-major order. */
#include <stdint.h>

#include "layers/layer.h"

static DlStatus pool_shape(LayerSpec *s) {
    if (s->size < 1) return dl_fail(DL_EFORMAT, "pooling needs size>=1");
    if (s->stride < 1) s->stride = s->size;
    if (s->in.h < s->size || s->in.w < s->size)
        return dl_fail(DL_EFORMAT, "input %dx%d is smaller than the %dx%d pooling window",
                       s->in.h, s->in.w, s->size, s->size);
    s->out = (Shape){ s->in.c, (s->in.h - s->size) / s->stride + 1, (s->in.w - s->size) / s->stride + 1 };
    return DL_OK;
}

static size_t maxpool_cache(const LayerSpec *s, int n) { return (size_t)n * shape_size(s->out); }

static void maxpool_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int H = s->in.h, W = s->in.w, P = s->out.h, Q = s->out.w, R = s->size, st = s->stride;
    int32_t *arg = (int32_t *)c->cache;    /* (n, C, P, Q): index into the (H, W) plane */
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++) {
        const float *x = c->in + plane * H * W;
        float *y = c->out + plane * P * Q;
        int32_t *a = arg + plane * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                int best = p * st * W + q * st;
                for (int r = 0; r < R; r++)
                    for (int t = 0; t < R; t++) {
                        int i = (p * st + r) * W + q * st + t;
                        if (x[i] > x[best]) best = i;
                    }
                y[p * Q + q] = x[best];
                a[p * Q + q] = best;
            }
    }
}

static void maxpool_backward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    size_t HW = (size_t)s->in.h * s->in.w, PQ = (size_t)s->out.h * s->out.w;
    const int32_t *arg = (const int32_t *)c->cache;
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++)
        for (size_t i = 0; i < PQ; i++)
            c->din[plane * HW + arg[plane * PQ + i]] += c->dout[plane * PQ + i];
}

static void avgpool_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int H = s->in.h, W = s->in.w, P = s->out.h, Q = s->out.w, R = s->size, st = s->stride;
    float inv = 1.0f / (float)(R * R);
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++) {
        const float *x = c->in + plane * H * W;
        float *y = c->out + plane * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float acc = 0.0f;
                for (int r = 0; r < R; r++)
                    for (int t = 0; t < R; t++) acc += x[(p * st + r) * W + q * st + t];
                y[p * Q + q] = acc * inv;
            }
    }
}

static void avgpool_backward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int H = s->in.h, W = s->in.w, P = s->out.h, Q = s->out.w, R = s->size, st = s->stride;
    float inv = 1.0f / (float)(R * R);
    for (size_t plane = 0; plane < (size_t)c->n * s->in.c; plane++) {
        float *dx = c->din + plane * H * W;
        const float *dy = c->dout + plane * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float g = dy[p * Q + q] * inv;
                for (int r = 0; r < R; r++)
                    for (int t = 0; t < R; t++) dx[(p * st + r) * W + q * st + t] += g;
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
    .forward = maxpool_forward, .backward = maxpool_backward,
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
