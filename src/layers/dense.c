/* dense.c: fully connected layer over the flattened (C*H*W) input.
 * weight (U, In) and bias (U), as torch.nn.Linear; one sgemm per group. */
#include <cblas.h>
#include <string.h>

#include "layers/layer.h"

static DlStatus dense_shape(LayerSpec *s) {
    if (s->units < 1) return dl_fail(DL_EFORMAT, "dense needs units>=1 (or units=classes)");
    s->out = (Shape){ s->units, 1, 1 };
    return DL_OK;
}

static int dense_params(const LayerSpec *s, TensorInfo t[4]) {
    t[0] = (TensorInfo){ "weight", 2, { s->units, (int)shape_size(s->in) }, 1 };
    t[1] = (TensorInfo){ "bias", 1, { s->units }, 0 };
    return 2;
}

static void dense_init(const LayerSpec *s, float *w, float *state, DlRng *r) {
    (void)state;
    int in = (int)shape_size(s->in);
    init_fan_in_uniform(w, (size_t)s->units * (in + 1), in, r);   /* weight, then bias */
}

static void dense_forward(const LayerCtx *c) {
    int N = c->n, U = c->s->units, In = (int)shape_size(c->s->in);
    const float *weight = c->w, *bias = c->w + (size_t)U * In;
    for (int n = 0; n < N; n++) memcpy(c->out + (size_t)n * U, bias, sizeof(float) * U);
    /* out (N, U) += in (N, In) x weight^T (In, U) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, U, In,
                1.0f, c->in, In, weight, In, 1.0f, c->out, U);
}

static void dense_backward(const LayerCtx *c) {
    int N = c->n, U = c->s->units, In = (int)shape_size(c->s->in);
    if (c->dw) {
        float *dweight = c->dw, *dbias = c->dw + (size_t)U * In;
        /* dweight (U, In) += dout^T (U, N) x in (N, In) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, U, In, N,
                    1.0f, c->dout, U, c->in, In, 1.0f, dweight, In);
        for (int n = 0; n < N; n++)
            for (int u = 0; u < U; u++) dbias[u] += c->dout[(size_t)n * U + u];
    }
    if (c->din) /* din (N, In) += dout (N, U) x weight (U, In) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, In, U,
                    1.0f, c->dout, U, c->w, In, 1.0f, c->din, In);
}

const LayerOps dense_ops = {
    .kind = "dense", .shape = dense_shape, .params = dense_params, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = no_floats, .init = dense_init,
    .forward = dense_forward, .backward = dense_backward,
};
