/* dwconv.c: depthwise 2-D convolution, NCHW: one R x S filter per channel,
 * channel multiplier 1, so K = C. weight (C, 1, R, S) and bias (C), as
 * PyTorch's Conv2d(C, C, R, stride, pad, groups=C). Zero padding `pad` on
 * every side (`pad=same` is (R-1)/2), any stride.
 * Direct loops, not im2col + GEMM: each output reads only R*S values of one
 * plane, so there is no GEMM to win and im2col would only copy. Every loop
 * runs one kernel tap (r, t) over an output row; with stride 1 that inner
 * loop is contiguous on both sides and vectorises (the fast path). */
#include <string.h>

#include "layers/layer.h"

static void dw_geom(const LayerSpec *s, int *pad, int *P, int *Q) {
    *pad = s->pad == PAD_SAME ? (s->size - 1) / 2 : s->pad;
    *P = (s->in.h + 2 * *pad - s->size) / s->stride + 1;
    *Q = (s->in.w + 2 * *pad - s->size) / s->stride + 1;
}

static DlStatus dw_shape(LayerSpec *s) {
    int pad, P, Q;
    if (s->size < 1 || s->stride < 1) return dl_fail(DL_EFORMAT, "dwconv needs size>=1, stride>=1");
    if (s->pad == PAD_SAME && s->size % 2 == 0)
        return dl_fail(DL_EFORMAT, "pad=same needs an odd kernel size (got size=%d); give pad=N", s->size);
    dw_geom(s, &pad, &P, &Q);
    /* (in + 2 pad - size) / stride truncates toward zero: check the sign first */
    if (s->in.h + 2 * pad < s->size || s->in.w + 2 * pad < s->size || P < 1 || Q < 1)
        return dl_fail(DL_EFORMAT, "input %dx%d is smaller than the %dx%d kernel", s->in.h, s->in.w, s->size, s->size);
    s->out = (Shape){ s->in.c, P, Q };
    return DL_OK;
}

static int dw_params(const LayerSpec *s, TensorInfo t[4]) {
    t[0] = (TensorInfo){ "weight", 4, { s->in.c, 1, s->size, s->size }, 1 };
    t[1] = (TensorInfo){ "bias", 1, { s->in.c }, 0 };
    return 2;
}

static void dw_init(const LayerSpec *s, float *w, float *state, DlRng *r) {
    (void)state;
    int fan_in = s->size * s->size;   /* in_channels / groups = 1 */
    init_fan_in_uniform(w, (size_t)s->in.c * (fan_in + 1), fan_in, r);   /* weight, then bias */
}

/* Output columns [*q0, *q1) whose input column q*st - pad + t lies in [0, W). */
static void tap_cols(int *q0, int *q1, int t, int pad, int st, int W, int Q) {
    *q0 = pad - t > 0 ? (pad - t + st - 1) / st : 0;
    *q1 = W - 1 + pad - t < 0 ? 0 : (W - 1 + pad - t) / st + 1;   /* C division truncates: floor for < 0 */
    if (*q1 > Q) *q1 = Q;
    if (*q1 < *q0) *q1 = *q0;
}

static void dwconv_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int pad, P, Q, C = s->in.c, H = s->in.h, W = s->in.w, R = s->size, st = s->stride;
    dw_geom(s, &pad, &P, &Q);
    const float *weight = c->w, *bias = c->w + (size_t)C * R * R;
    for (size_t plane = 0; plane < (size_t)c->n * C; plane++) {
        int ch = (int)(plane % C);
        const float *x = c->in + plane * H * W, *wk = weight + (size_t)ch * R * R;
        float *y = c->out + plane * P * Q;
        for (size_t i = 0; i < (size_t)P * Q; i++) y[i] = bias[ch];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < R; t++) {
                float wv = wk[r * R + t];
                int q0, q1;
                tap_cols(&q0, &q1, t, pad, st, W, Q);
                for (int p = 0; p < P; p++) {
                    int h = p * st - pad + r;
                    if (h < 0 || h >= H) continue;
                    const float *row = x + (size_t)h * W;   /* output q reads column q*st - pad + t */
                    float *dst = y + (size_t)p * Q;
                    int o = t - pad;
                    if (st == 1) for (int q = q0; q < q1; q++) dst[q] += wv * row[q + o];
                    else for (int q = q0; q < q1; q++) dst[q] += wv * row[q * st + o];
                }
            }
    }
}

/* Sum of a[i] * b[i*st], i < n, with 8 fixed lanes (like sum8). */
static float dot8s(const float *a, const float *b, int n, int st) {
    float acc[8] = { 0 };
    int i = 0;
    if (st == 1)
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    for (; i < n; i++) acc[i & 7] += a[i] * b[(size_t)i * st];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static void dwconv_backward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int pad, P, Q, C = s->in.c, H = s->in.h, W = s->in.w, R = s->size, st = s->stride, N = c->n;
    dw_geom(s, &pad, &P, &Q);
    size_t HW = (size_t)H * W, PQ = (size_t)P * Q;
    if (c->dw) {
        float *dweight = c->dw, *dbias = c->dw + (size_t)C * R * R;
        for (int ch = 0; ch < C; ch++) {
            double db = 0.0;   /* rows in double, as batchnorm */
            for (int n = 0; n < N; n++) db += sum8(c->dout + ((size_t)n * C + ch) * PQ, PQ);
            dbias[ch] += (float)db;
            for (int r = 0; r < R; r++)
                for (int t = 0; t < R; t++) {
                    int q0, q1;
                    tap_cols(&q0, &q1, t, pad, st, W, Q);
                    double acc = 0.0;
                    for (int n = 0; n < N; n++) {
                        const float *x = c->in + ((size_t)n * C + ch) * HW;
                        const float *dy = c->dout + ((size_t)n * C + ch) * PQ;
                        for (int p = 0; p < P; p++) {
                            int h = p * st - pad + r;
                            if (h < 0 || h >= H || q1 <= q0) continue;
                            acc += dot8s(dy + (size_t)p * Q + q0, x + (size_t)h * W + q0 * st + t - pad, q1 - q0, st);
                        }
                    }
                    dweight[((size_t)ch * R + r) * R + t] += (float)acc;
                }
        }
    }
    if (c->din) {
        const float *weight = c->w;
        for (size_t plane = 0; plane < (size_t)N * C; plane++) {
            const float *wk = weight + (plane % C) * R * R, *dy = c->dout + plane * PQ;
            float *dx = c->din + plane * HW;
            for (int r = 0; r < R; r++)
                for (int t = 0; t < R; t++) {
                    float wv = wk[r * R + t];
                    int q0, q1;
                    tap_cols(&q0, &q1, t, pad, st, W, Q);
                    for (int p = 0; p < P; p++) {
                        int h = p * st - pad + r;
                        if (h < 0 || h >= H) continue;
                        float *row = dx + (size_t)h * W;
                        const float *g = dy + (size_t)p * Q;
                        int o = t - pad;
                        if (st == 1) for (int q = q0; q < q1; q++) row[q + o] += wv * g[q];
                        else for (int q = q0; q < q1; q++) row[q * st + o] += wv * g[q];
                    }
                }
        }
    }
}

const LayerOps dwconv_ops = {
    .kind = "dwconv", .shape = dw_shape, .params = dw_params, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = no_floats, .init = dw_init,
    .forward = dwconv_forward, .backward = dwconv_backward,
};
