/* add.c: the residual sum y = x + x2, x being the layer's input and x2 the
 * output of the earlier layer named by `from=` (same shape: a projection
 * shortcut, a 1x1 conv on one path, makes them match). Backward hands dout
 * to both: din first, then din2 (the model routes each to the gradient of
 * its source's output, which may be the same buffer). */
#include <stdio.h>

#include "layers/layer.h"

static void shape_str(char *buf, size_t cap, Shape s) { snprintf(buf, cap, "(%d, %d, %d)", s.c, s.h, s.w); }

static DlStatus add_shape(LayerSpec *s) {
    if (s->in.c != s->in2.c || s->in.h != s->in2.h || s->in.w != s->in2.w) {
        char a[64], b[64];
        shape_str(a, sizeof a, s->in);
        shape_str(b, sizeof b, s->in2);
        return dl_fail(DL_EFORMAT, "add: its input %s (channels, height, width) and from=%s %s differ; "
                       "make them match (e.g. a 1x1 conv with stride on the shortcut, input=NAME)",
                       a, s->from_name, b);
    }
    s->out = s->in;
    return DL_OK;
}

static void add_forward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    for (size_t i = 0; i < n; i++) c->out[i] = c->in[i] + c->in2[i];
}

static void add_backward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    if (c->din) for (size_t i = 0; i < n; i++) c->din[i] += c->dout[i];
    if (c->din2) for (size_t i = 0; i < n; i++) c->din2[i] += c->dout[i];
}

const LayerOps add_ops = {
    .kind = "add", .shape = add_shape, .params = no_tensors, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = no_floats, .init = no_init,
    .forward = add_forward, .backward = add_backward,
};
