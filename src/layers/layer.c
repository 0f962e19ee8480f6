/* layer.c: the table of layer kinds and helpers they share. */
#include "layers/layer.h"

#include <math.h>
#include <string.h>

static const LayerOps *const all_ops[LK_COUNT] = {
    [LK_CONV] = &conv_ops,       [LK_DENSE] = &dense_ops,     [LK_RELU] = &relu_ops,
    [LK_LEAKY] = &leaky_ops,     [LK_MAXPOOL] = &maxpool_ops, [LK_AVGPOOL] = &avgpool_ops,
    [LK_GAP] = &gap_ops,         [LK_BN] = &bn_ops,           [LK_DROPOUT] = &dropout_ops,
    [LK_FLATTEN] = &flatten_ops, [LK_ADD] = &add_ops,         [LK_DWCONV] = &dwconv_ops,
    [LK_CLIP] = &clip_ops,       [LK_RELU6] = &relu6_ops,     [LK_CONCAT] = &concat_ops,
};

const LayerOps *layer_ops(LayerKind k) {
    DL_CHECK(k >= 0 && k < LK_COUNT);
    return all_ops[k];
}

LayerKind layer_kind_by_name(const char *kind) {
    for (int k = 0; k < LK_COUNT; k++)
        if (strcmp(all_ops[k]->kind, kind) == 0) return (LayerKind)k;
    return LK_COUNT;
}

size_t tensor_info_size(const TensorInfo *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->dims[i];
    return n;
}

static size_t tensors_size(int count, const TensorInfo *t) {
    size_t n = 0;
    for (int i = 0; i < count; i++) n += tensor_info_size(&t[i]);
    return n;
}

size_t layer_param_count(const LayerSpec *s) {
    TensorInfo t[4];
    return tensors_size(layer_ops(s->kind)->params(s, t), t);
}

size_t layer_state_count(const LayerSpec *s) {
    TensorInfo t[4];
    return tensors_size(layer_ops(s->kind)->states(s, t), t);
}

int no_tensors(const LayerSpec *s, TensorInfo t[4]) { (void)s; (void)t; return 0; }
size_t no_floats(const LayerSpec *s, int n) { (void)s; (void)n; return 0; }
void no_init(const LayerSpec *s, float *w, float *state, DlRng *r) { (void)s; (void)w; (void)state; (void)r; }

void init_fan_in_uniform(float *w, size_t count, int fan_in, DlRng *r) {
    /* PyTorch's default for Conv2d and Linear, weights and biases alike:
     * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)).
     * Users move models between the two, so they start the same way. */
    float bound = 1.0f / sqrtf((float)fan_in);
    for (size_t i = 0; i < count; i++) w[i] = (2.0f * rng_unit(r) - 1.0f) * bound;
}
