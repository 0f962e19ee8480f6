/* dropout.c: inverted dropout. Each element's keep/drop decision is a pure
 * function of (seed, epoch, dataset sample index, layer index, element), so
 * the mask does not depend on which rank or group holds the sample.
 * Eval mode is the identity. The mask (0 or 1/(1-rate)) is cached. */
#include <string.h>

#include "layers/layer.h"

static DlStatus dropout_shape(LayerSpec *s) {
    if (!(s->rate >= 0.0f && s->rate < 1.0f)) return dl_fail(DL_EFORMAT, "dropout needs 0 <= rate < 1");
    s->out = s->in;
    return DL_OK;
}

static size_t dropout_cache(const LayerSpec *s, int n) { return (size_t)n * shape_size(s->in); }

static void dropout_forward(const LayerCtx *c) {
    size_t D = shape_size(c->s->in);
    float rate = c->s->rate, scale = 1.0f / (1.0f - rate);
    if (!c->training || rate == 0.0f) {
        memcpy(c->out, c->in, sizeof(float) * c->n * D);
        for (size_t i = 0; i < (size_t)c->n * D; i++) c->cache[i] = 1.0f;
        return;
    }
    for (int n = 0; n < c->n; n++) {
        uint64_t key = dl_hash(c->seed, RNG_DROPOUT, (uint64_t)c->epoch, (uint64_t)c->sample[n]);
        uint64_t head = dl_hash_head(key, (uint64_t)c->s->index);   /* = dl_hash(key, index, i, 0) below */
        for (size_t i = 0; i < D; i++) {
            float u = dl_unit(dl_hash_tail(head, i, 0));
            float mk = u < rate ? 0.0f : scale;
            c->cache[n * D + i] = mk;
            c->out[n * D + i] = c->in[n * D + i] * mk;
        }
    }
}

static void dropout_backward(const LayerCtx *c) {
    size_t n = (size_t)c->n * shape_size(c->s->in);
    for (size_t i = 0; i < n; i++) c->din[i] = (c->din_fresh ? 0.0f : c->din[i]) + c->dout[i] * c->cache[i];
}

const LayerOps dropout_ops = {
    .kind = "dropout", .shape = dropout_shape, .params = no_tensors, .states = no_tensors,
    .cache_count = dropout_cache, .scratch_count = no_floats, .init = no_init,
    .forward = dropout_forward, .backward = dropout_backward, .writes_din = 1,
};
