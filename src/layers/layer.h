/* layer.h: what every layer kind provides, and the context a layer runs in.
 * Dimension letters (every math file): N samples in the group, C H W input
 * channels/height/width, K output channels, R S kernel height/width, P Q
 * output height/width. Buffers are contiguous NCHW float32; a flat vector of
 * U values has shape (U,1,1).
 *
 * A layer reads the output of one earlier layer (the previous one, or the
 * one `input=NAME` names) and `add` also a second one (`from=NAME`), so a
 * model is a DAG whose layers are listed in an order that computes it.
 *
 * A layer works on one group of n samples at a time (DESIGN.md,
 * "Reproducibility": batch-norm statistics are per group, so they do not
 * depend on how many ranks share the global batch).
 * Not here: the loss functions (loss.h), the layer list (model.h). */
#ifndef DL_LAYER_H
#define DL_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum {
    LK_CONV, LK_DENSE, LK_RELU, LK_LEAKY, LK_MAXPOOL, LK_AVGPOOL, LK_GAP,
    LK_BN, LK_DROPOUT, LK_FLATTEN, LK_ADD, LK_DWCONV, LK_CLIP, LK_RELU6, LK_CONCAT, LK_COUNT
} LayerKind;

typedef struct { int c, h, w; } Shape;   /* per sample */

static inline size_t shape_size(Shape s) { return (size_t)s.c * s.h * s.w; }

#define PAD_SAME (-1)
#define UNITS_CLASSES (-1)

typedef struct {
    LayerKind kind;
    char name[64];
    int line;                 /* line in the model text, for messages */
    int filters, size, stride, pad;   /* conv, dwconv (no filters), maxpool, avgpool */
    int groups;               /* conv: groups of channels (1: a plain conv), as PyTorch's groups= */
    int ceil_mode;            /* maxpool, avgpool: output size rounded up (PyTorch's ceil_mode) */
    int count_pad;            /* avgpool: padded zeros count in the divisor (count_include_pad) */
    float lo, hi;             /* clip, relu6: min(max(x, lo), hi) */
    int units;                /* dense (UNITS_CLASSES: the dataset's class count) */
    float alpha;              /* leaky: negative slope */
    float rate;               /* dropout: probability of dropping */
    float eps, momentum;      /* bn */
    char input_name[64];      /* input=NAME; empty: the previous layer */
    char from_name[64];       /* add, concat: from=NAME */
    int src;                  /* index of the layer whose output is the input; -1: model input */
    int from;                 /* add, concat: index of the layer added to / stacked after the input; else -1 */
    Shape in, out;            /* resolved by model_init */
    Shape in2;                /* add, concat: the output shape of layer `from` */
    int index;                /* position in the model; keys dropout masks */
    int relu_after;           /* set by model_init when an in-place relu follows that this
                               * layer does itself (LayerOps.takes_relu): forward clamps at
                               * 0, backward passes the gradient only where the output is > 0 */
} LayerSpec;

/* One named array of a layer: a trained parameter or a running statistic. */
typedef struct {
    const char *name;         /* "weight", "bias", "running_mean", ... */
    int rank, dims[4];        /* PyTorch's layout */
    int decay;                /* 1 if weight decay applies by default */
} TensorInfo;

typedef struct {
    const LayerSpec *s;
    int n;                    /* samples in this call */
    int group_n;              /* grouped layers (dense): samples per group, n a multiple; 0: n */
    const uint8_t *merges;    /* grouped backward: the groups' sum plan (model.h ForwardArgs) or NULL */
    size_t dw_stride;         /* with merges: floats from group g's dw to group g+1's */
    int training;             /* 1: batch statistics, dropout on */
    const float *in;          /* (n, in) */
    const float *in2;         /* add: (n, in2), the output of layer `from` */
    float *out;               /* (n, out) */
    const float *w;           /* this layer's parameters (param_count) */
    float *dw;                /* their gradient, ACCUMULATED; NULL: frozen, skip */
    float *state;             /* running statistics (state_count) */
    float *bstat;             /* bn, training: this group's batch mean and unbiased var (2C) */
    float *cache;             /* cache_count floats kept from forward for backward */
    float *scratch;           /* scratch_count floats, shared by all layers */
    const float *dout;        /* (n, out) */
    float *din;               /* (n, in), ACCUMULATED; NULL: not needed (the model calls
                               * backward with no din only on a layer with parameters) */
    int din_fresh;            /* layers with .writes_din: din holds garbage, not a sum so far;
                               * the layer computes 0 + its share instead of din + its share */
    float *din2;              /* add: (n, in2), ACCUMULATED; NULL: not needed. May be din. */
    const int64_t *sample;    /* (n) dataset indices of the samples: dropout keys */
    uint64_t seed;            /* run seed */
    int epoch;
} LayerCtx;

typedef struct {
    const char *kind;                                   /* keyword in the model text */
    /* Fills s->out from s->in; returns DL_EFORMAT with a message if the
     * input does not fit (the caller adds file and line). */
    DlStatus (*shape)(LayerSpec *s);
    int (*params)(const LayerSpec *s, TensorInfo t[4]); /* trained arrays, in order */
    int (*states)(const LayerSpec *s, TensorInfo t[4]); /* running statistics, in order */
    size_t (*cache_count)(const LayerSpec *s, int n);
    size_t (*scratch_count)(const LayerSpec *s, int n);
    int bstat_count_per_channel;                        /* bn: 2 (mean, var) */
    /* Initial values (w: param arrays in order; state: running stats). */
    void (*init)(const LayerSpec *s, float *w, float *state, DlRng *r);
    void (*forward)(const LayerCtx *c);
    void (*backward)(const LayerCtx *c);
    /* 1: one call takes several groups (c->group_n), runs each group's
     * arithmetic as a call of its own would, and backward WRITES into dw
     * the groups' gradients summed in a balanced binary tree,
     * ((g0 + g1) + (g2 + g3)), or by c->merges as model_backward does.
     * 0: the model calls the layer per group. */
    int grouped;
    /* 1: backward honours c->din_fresh (so the model need not zero din first). */
    int writes_din;
    /* Non-NULL and 1 for s: the layer can do a following in-place relu (relu_after). */
    int (*takes_relu)(const LayerSpec *s);
} LayerOps;

const LayerOps *layer_ops(LayerKind k);
/* LK_COUNT if no kind has that keyword. */
LayerKind layer_kind_by_name(const char *kind);

size_t tensor_info_size(const TensorInfo *t);
/* Sum of tensor sizes of a layer's params or states. */
size_t layer_param_count(const LayerSpec *s);
size_t layer_state_count(const LayerSpec *s);

/* The layer kinds (one file each). */
extern const LayerOps conv_ops, dense_ops, relu_ops, leaky_ops, maxpool_ops, avgpool_ops,
    gap_ops, bn_ops, dropout_ops, flatten_ops, add_ops, dwconv_ops, clip_ops, relu6_ops, concat_ops;

/* 1 for the kinds with a second input (from=): add, concat. */
static inline int layer_has_from(LayerKind k) { return k == LK_ADD || k == LK_CONCAT; }

/* Helpers shared by layer files. */
int no_tensors(const LayerSpec *s, TensorInfo t[4]);
size_t no_floats(const LayerSpec *s, int n);
void no_init(const LayerSpec *s, float *w, float *state, DlRng *r);
/* Sum of v[0..n) in a fixed order that vectorises: 8 running lanes, then
 * the lanes pairwise. Same bits every run (no reassociation by the compiler). */
static inline float sum8(const float *v, size_t n) {
    float acc[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += v[i + j];
    for (; i < n; i++) acc[i & 7] += v[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

#ifdef __AVX512F__
#include <immintrin.h>
/* The mask of the first n of 16 float lanes (n <= 0: none). */
static inline __mmask16 lanes16(int n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* 16 x 16 floats transposed in registers. */
static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {   /* u[j], u[4+j], u[8+j], u[12+j]: columns j, j+4, j+8, j+12 */
        __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[j + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[j + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}
#endif

/* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for weights and biases. */
void init_fan_in_uniform(float *w, size_t count, int fan_in, DlRng *r);

#endif
