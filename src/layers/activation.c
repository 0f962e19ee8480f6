/* activation.c: element-wise ReLU, leaky ReLU, clip (min(max(x, lo), hi);
 * relu6 is clip 0..6, ONNX's Clip and PyTorch's Hardtanh / ReLU6), and
 * flatten (a reshape).
 * Backward reads the forward input, so nothing is cached. The derivative at
 * exactly 0 is taken as 0 (PyTorch's convention). */
#include <string.h>

#include "layers/layer.h"

static DlStatus same_shape(LayerSpec *s) { s->out = s->in; return DL_OK; }

static void relu_forward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    for (size_t i = 0; i < n; i++) c->out[i] = c->in[i] > 0.0f ? c->in[i] : 0.0f;
}

/* In place (the model aliases din with dout and in with out, see
 * model.h inplace): in > 0 exactly where out > 0, and the input's gradient
 * is the masked output gradient itself. */
static void relu_backward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    if (c->din == c->dout) {
        float *d = c->din;
        for (size_t i = 0; i < n; i++) d[i] = c->in[i] > 0.0f ? d[i] : 0.0f;
    } else {
        for (size_t i = 0; i < n; i++) c->din[i] = (c->din_fresh ? 0.0f : c->din[i]) + (c->in[i] > 0.0f ? c->dout[i] : 0.0f);
    }
}

static void leaky_forward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    float a = c->s->alpha;
    for (size_t i = 0; i < n; i++) c->out[i] = c->in[i] > 0.0f ? c->in[i] : a * c->in[i];
}

static void leaky_backward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    float a = c->s->alpha;
    for (size_t i = 0; i < n; i++) c->din[i] = (c->din_fresh ? 0.0f : c->din[i]) + (c->in[i] > 0.0f ? c->dout[i] : a * c->dout[i]);
}

static DlStatus clip_shape(LayerSpec *s) {
    if (!(s->lo < s->hi)) return dl_fail(DL_EFORMAT, "clip needs min < max (got min=%g max=%g)", s->lo, s->hi);
    s->out = s->in;
    return DL_OK;
}

static void clip_forward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    float lo = c->s->lo, hi = c->s->hi;
    for (size_t i = 0; i < n; i++) {
        float x = c->in[i];
        c->out[i] = x < lo ? lo : x > hi ? hi : x;
    }
}

/* The gradient passes where lo < x < hi (PyTorch's Hardtanh / ReLU6; at
 * exactly lo or hi it is 0, as relu's at 0). */
static void clip_backward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    float lo = c->s->lo, hi = c->s->hi;
    for (size_t i = 0; i < n; i++) {
        float x = c->in[i];
        c->din[i] = (c->din_fresh ? 0.0f : c->din[i]) + (x > lo && x < hi ? c->dout[i] : 0.0f);
    }
}

static DlStatus flatten_shape(LayerSpec *s) { s->out = (Shape){ (int)shape_size(s->in), 1, 1 }; return DL_OK; }

static void copy_forward(const LayerCtx *c) {
    memcpy(c->out, c->in, sizeof(float) * c->n * shape_size(c->s->in));
}

static void add_backward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    for (size_t i = 0; i < n; i++) c->din[i] = (c->din_fresh ? 0.0f : c->din[i]) + c->dout[i];
}

#define ELEMENTWISE(kw, fwd, bwd, shp) { .kind = kw, .shape = shp, .params = no_tensors, \
    .states = no_tensors, .cache_count = no_floats, .scratch_count = no_floats, .init = no_init, \
    .forward = fwd, .backward = bwd, .writes_din = 1 }

const LayerOps relu_ops = ELEMENTWISE("relu", relu_forward, relu_backward, same_shape);
const LayerOps leaky_ops = ELEMENTWISE("leaky", leaky_forward, leaky_backward, same_shape);
const LayerOps clip_ops = ELEMENTWISE("clip", clip_forward, clip_backward, clip_shape);
const LayerOps relu6_ops = ELEMENTWISE("relu6", clip_forward, clip_backward, clip_shape);   /* lo 0, hi 6 */
const LayerOps flatten_ops = ELEMENTWISE("flatten", copy_forward, add_backward, flatten_shape);
