/* concat.c: channel concatenation y = [x; x2], x being the layer's input
 * (C channels) and x2 the output of the earlier layer named by `from=`
 * (C2 channels, same height and width): y has C + C2 channels, x's first,
 * as torch.cat((x, x2), dim=1) and ONNX Concat(axis=1). SqueezeNet's fire
 * modules stack their 1x1 and 3x3 expand paths this way. Backward hands
 * each part of dout back to its source. */
#include <string.h>

#include "layers/layer.h"

static DlStatus concat_shape(LayerSpec *s) {
    if (s->in.h != s->in2.h || s->in.w != s->in2.w)
        return dl_fail(DL_EFORMAT, "concat: its input is %dx%d (height x width) but from=%s is %dx%d; "
                       "they must match", s->in.h, s->in.w, s->from_name, s->in2.h, s->in2.w);
    s->out = (Shape){ s->in.c + s->in2.c, s->in.h, s->in.w };
    return DL_OK;
}

static void concat_forward(const LayerCtx *c) {
    size_t a = shape_size(c->s->in), b = shape_size(c->s->in2);
    for (int n = 0; n < c->n; n++) {
        memcpy(c->out + n * (a + b), c->in + n * a, sizeof(float) * a);
        memcpy(c->out + n * (a + b) + a, c->in2 + n * b, sizeof(float) * b);
    }
}

static void concat_backward(const LayerCtx *c) {
    size_t a = shape_size(c->s->in), b = shape_size(c->s->in2);
    for (int n = 0; n < c->n; n++) {
        const float *dy = c->dout + n * (a + b);
        if (c->din) for (size_t i = 0; i < a; i++) c->din[n * a + i] += dy[i];
        if (c->din2) for (size_t i = 0; i < b; i++) c->din2[n * b + i] += dy[a + i];
    }
}

const LayerOps concat_ops = {
    .kind = "concat", .shape = concat_shape, .params = no_tensors, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = no_floats, .init = no_init,
    .forward = concat_forward, .backward = concat_backward,
};
