/* onnx_import.c: an ONNX graph -> dltrain layers (see onnx_import.h).
 * The nodes are walked in file order (ONNX requires a topological order).
 * Every value is an activation (the output of a dltrain layer, or the model
 * input) or a constant (an initializer, a Constant node, a feed). Each
 * node becomes a LayerSpec filled as the model-text parser would fill it,
 * shaped by the layer's own shape function (so a graph that dltrain cannot
 * compute is refused at its node), and printed back as a model-text line.
 * Ops mapped: Conv (groups, depthwise), BatchNormalization, Relu,
 * LeakyRelu, Clip, MaxPool, AveragePool, GlobalAveragePool, Flatten,
 * Reshape to (N, -1), Gemm, MatMul (+ Add of a bias), Add, Sum, Concat
 * (channels), Dropout, Identity, Constant, a leading NHWC->NCHW Transpose
 * and a trailing Softmax (dltrain's models output logits). */
#include "onnx/onnx_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;   /* points into the proto */
    int is_const;
    int layer;          /* activation: the layer whose output it is; -1: the model input */
    int rank;           /* activation: its ONNX rank, batch included (dltrain shapes
                         * (C, H, W) hold (N, D) as (D, 1, 1), (N, C, L) as (C, L, 1)) */
    OnnxTensor t;       /* constant (owned) */
} Value;

typedef struct {
    LayerSpec s;
    float *arr[4];
    size_t n[4];
} ILayer;

typedef struct {
    const char *source;
    const Onnx__GraphProto *g;
    Value *v;
    int nv, capv;
    ILayer *L;
    int nl, capl;
    Shape input;
    int input_rank;
    int nhwc, softmax, opset, training;
    size_t act_floats;             /* per-sample floats of the layers so far */
    const Onnx__NodeProto *node;   /* the node being mapped, for messages */
    char where[512];
} Ctx;

#define FAIL(c, ...) onnx_fail_at(c, __VA_ARGS__)

static DlStatus onnx_fail_at(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static DlStatus onnx_fail_at(Ctx *c, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dl_fail(DL_EFORMAT, "%s: %s", c->where, msg);
}

static Value *find(Ctx *c, const char *name) {
    if (!name || !name[0]) return NULL;
    for (int i = c->nv - 1; i >= 0; i--)   /* the latest definition wins */
        if (strcmp(c->v[i].name, name) == 0) return &c->v[i];
    return NULL;
}

static Value *add_value(Ctx *c, const char *name) {
    if (c->nv == c->capv) c->v = dl_realloc(c->v, sizeof *c->v * (size_t)(c->capv = c->capv ? 2 * c->capv : 64));
    Value *v = &c->v[c->nv++];
    memset(v, 0, sizeof *v);
    v->name = name;
    return v;
}

static void set_act(Ctx *c, const char *name, int layer, int rank) {
    Value *v = add_value(c, name);
    v->layer = layer;
    v->rank = rank;
}

static Shape act_shape(Ctx *c, const Value *v) { return v->layer < 0 ? c->input : c->L[v->layer].s.out; }

/* The input `k` of the node as an activation / a constant, or an error. */
static DlStatus in_act(Ctx *c, int k, Value **out) {
    const Onnx__NodeProto *n = c->node;
    *out = (size_t)k < n->n_input ? find(c, n->input[k]) : NULL;
    if (!*out) return FAIL(c, "input %d ('%s') is not defined by an earlier node, an initializer or the graph input", k,
                           (size_t)k < n->n_input ? n->input[k] : "");
    if ((*out)->is_const) return FAIL(c, "input %d ('%s') is a constant; import maps it only as a computed tensor", k, n->input[k]);
    return DL_OK;
}

/* Constant input k, or NULL when absent (a missing or empty name) if optional. */
static DlStatus in_const(Ctx *c, int k, const OnnxTensor **out, int optional) {
    const Onnx__NodeProto *n = c->node;
    *out = NULL;
    if ((size_t)k >= n->n_input || !n->input[k][0]) {
        if (optional) return DL_OK;
        return FAIL(c, "needs input %d", k);
    }
    Value *v = find(c, n->input[k]);
    if (!v) return FAIL(c, "input %d ('%s') is not defined by an earlier node or initializer", k, n->input[k]);
    if (!v->is_const) return FAIL(c, "input %d ('%s') must be a constant (an initializer or a Constant node) to import it", k, n->input[k]);
    *out = &v->t;
    return DL_OK;
}

/* A layer name from the weight's initializer (PyTorch's "layer1.0.conv1.weight" ->
 * "layer1.0.conv1"), else the node's name, else kind + position; made of the
 * characters the model text allows, unique. */
static void layer_name(Ctx *c, char *out, const char *weight, const char *kind) {
    char base[64] = "";
    const char *nm = NULL;
    size_t len = 0;
    if (weight && (len = strlen(weight)) > 7 && strcmp(weight + len - 7, ".weight") == 0 && strncmp(weight, "onnx::", 6) != 0) {
        nm = weight; len -= 7;
    } else if (c->node->name && c->node->name[0]) {
        nm = c->node->name; len = strlen(nm);
        /* torch >= 1.13 names nodes /module/path/Op: the module path is the part before the op */
        const char *last = strrchr(nm, '/');
        if (nm[0] == '/' && last && last > nm) {
            const char *prev = last - 1;
            while (prev > nm && *prev != '/') prev--;
            if (last - prev > 1) { nm = prev + 1; len = (size_t)(last - prev - 1); }
        }
    }
    size_t j = 0;
    for (size_t i = 0; nm && i < len && j < 48; i++) {
        char ch = nm[i];
        if (ch == '/' || ch == ':') ch = '.';
        else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.')) ch = '_';
        if (j == 0 && (ch == '.' || ch == '_')) continue;
        base[j++] = ch;
    }
    base[j] = '\0';
    if (!base[0]) snprintf(base, sizeof base, "%s%d", kind, c->nl + 1);
    snprintf(out, 64, "%s", base);
    for (int k = 2;; k++) {
        int taken = 0;
        for (int i = 0; i < c->nl && !taken; i++) taken = strcmp(c->L[i].s.name, out) == 0;
        if (!taken) return;
        snprintf(out, 64, "%s_%d", base, k);
    }
}

/* Appends a layer of kind k reading activation src (and from, or NULL) and
 * shapes it; the node's first output becomes its activation. */
static DlStatus add_layer(Ctx *c, LayerSpec *s, const Value *src, const Value *from, const char *weight) {
    const char *kind = layer_ops(s->kind)->kind;
    int src_rank = src->rank;
    if (src->layer < 0 && c->nl > 0)
        return FAIL(c, "reads the graph input, but in dltrain only the first layer can (a graph with two branches from its input)");
    if (from && from->layer < 0) return FAIL(c, "adds or stacks the graph input itself; dltrain's add/concat take an earlier layer's output");
    layer_name(c, s->name, weight, kind);
    s->src = src->layer;
    s->from = from ? from->layer : -1;
    s->in = act_shape(c, src);
    s->index = c->nl;
    if (src->layer >= 0 && src->layer != c->nl - 1) snprintf(s->input_name, sizeof s->input_name, "%s", c->L[src->layer].s.name);
    if (from) { s->in2 = c->L[from->layer].s.out; snprintf(s->from_name, sizeof s->from_name, "%s", c->L[from->layer].s.name); }
    if (layer_ops(s->kind)->shape(s) != DL_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dl_errmsg());
        return FAIL(c, "as dltrain %s: %s", kind, msg);
    }
    /* what model_init will allocate per sample: bounded, so a hostile file cannot ask for terabytes */
    const LayerOps *ops = layer_ops(s->kind);
    size_t need = shape_size(s->out) + ops->scratch_count(s, 1) + ops->cache_count(s, 1) + layer_param_count(s);
    c->act_floats += need;
    if (shape_size(s->out) > ONNX_MAX_ELEMS || need > ONNX_MAX_ELEMS || c->act_floats > 4 * ONNX_MAX_ELEMS)
        return FAIL(c, "needs more than 1 GiB of memory per image (output %dx%dx%d)", s->out.c, s->out.h, s->out.w);
    if (c->nl == c->capl) c->L = dl_realloc(c->L, sizeof *c->L * (size_t)(c->capl = c->capl ? 2 * c->capl : 32));
    ILayer *l = &c->L[c->nl++];
    memset(l, 0, sizeof *l);
    l->s = *s;
    const Onnx__NodeProto *n = c->node;
    if (n->n_output < 1 || !n->output[0][0]) return FAIL(c, "has no output");
    /* ONNX rank: dense and flatten make (N, D); element-wise layers keep their input's */
    int rank = s->kind == LK_DENSE || s->kind == LK_FLATTEN ? 2
             : s->kind == LK_CONV || s->kind == LK_DWCONV || s->kind == LK_MAXPOOL || s->kind == LK_AVGPOOL || s->kind == LK_GAP ? 4
             : src_rank;
    set_act(c, n->output[0], c->nl - 1, rank);
    return DL_OK;
}

static float *copy_floats(const float *v, size_t n) {
    float *p = dl_malloc(sizeof(float) * (n ? n : 1));
    if (n) memcpy(p, v, sizeof(float) * n);
    return p;
}

static void set_array(ILayer *l, int k, float *p, size_t n) { l->arr[k] = p; l->n[k] = n; }

static LayerSpec spec_of(LayerKind k) {
    return (LayerSpec){ .kind = k, .stride = 1, .alpha = 0.01f, .rate = 0.5f, .eps = 1e-5f, .momentum = 0.1f,
                        .groups = 1, .count_pad = 1, .lo = 0.0f, .hi = 6.0f, .src = -1, .from = -1 };
}

/* kernel_shape / strides / pads / dilations / auto_pad of a Conv or a pool:
 * square kernel, one stride, the same padding on every side, no dilation. */
static DlStatus window(Ctx *c, int R0, Shape in, int *R, int *stride, int *pad) {
    const Onnx__NodeProto *n = c->node;
    int64_t ks[4] = { R0, R0 }, st[4] = { 1, 1 }, pd[8] = { 0, 0, 0, 0 }, dl[4] = { 1, 1 };
    int nk = onnx_attr_ints(n, "kernel_shape", ks, 4), ns = onnx_attr_ints(n, "strides", st, 4);
    int np = onnx_attr_ints(n, "pads", pd, 8), nd = onnx_attr_ints(n, "dilations", dl, 4);
    if (nk < 0 || ns < 0 || np < 0 || nd < 0 || (nk && nk != 2) || (ns && ns != 2) || (np && np != 4) || (nd && nd != 2))
        return FAIL(c, "kernel_shape, strides, pads or dilations are not those of a 2-D window");
    if (!nk && R0 <= 0) return FAIL(c, "needs kernel_shape");
    if (ks[0] != ks[1]) return FAIL(c, "kernel %lldx%lld is not square; dltrain's layers take square windows", (long long)ks[0], (long long)ks[1]);
    if (ks[0] < 1 || ks[0] > 1024) return FAIL(c, "kernel size %lld out of range", (long long)ks[0]);
    if (st[0] != st[1] || st[0] < 1 || st[0] > 1024) return FAIL(c, "strides %lld,%lld: dltrain takes one stride >= 1 for both axes", (long long)st[0], (long long)st[1]);
    if (dl[0] != 1 || dl[1] != 1) return FAIL(c, "dilations %lld,%lld are not supported (only 1)", (long long)dl[0], (long long)dl[1]);
    char ap[32];
    onnx_attr_str(n, "auto_pad", ap, sizeof ap);
    if (ap[0] && strcmp(ap, "NOTSET") != 0) {
        if (np) return FAIL(c, "has both auto_pad and pads");
        if (strcmp(ap, "VALID") == 0) pd[0] = pd[1] = pd[2] = pd[3] = 0;
        else if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            int64_t L[2] = { in.h, in.w };
            for (int a = 0; a < 2; a++) {
                int64_t out = (L[a] + st[0] - 1) / st[0], total = (out - 1) * st[0] + ks[0] - L[a];
                if (total < 0) total = 0;
                pd[a] = total / 2; pd[a + 2] = total - total / 2;
                if (ap[5] == 'L') { pd[a] = total - total / 2; pd[a + 2] = total / 2; }
            }
        } else return FAIL(c, "auto_pad '%s' is not supported", ap);
    }
    if (pd[0] != pd[1] || pd[0] != pd[2] || pd[0] != pd[3])
        return FAIL(c, "pads %lld,%lld,%lld,%lld differ by side; dltrain pads every side the same",
                    (long long)pd[0], (long long)pd[1], (long long)pd[2], (long long)pd[3]);
    if (pd[0] < 0 || pd[0] > 1024) return FAIL(c, "pad %lld out of range", (long long)pd[0]);
    *R = (int)ks[0]; *stride = (int)st[0]; *pad = (int)pd[0];
    return DL_OK;
}

static DlStatus map_conv(Ctx *c) {
    Value *x;
    const OnnxTensor *w, *b;
    DlStatus st;
    if ((st = in_act(c, 0, &x)) || (st = in_const(c, 1, &w, 0)) || (st = in_const(c, 2, &b, 1))) return st;
    Shape in = act_shape(c, x);
    if (x->rank != 4) return FAIL(c, "needs a 4-D input (N, C, H, W); got rank %d", x->rank);
    if (w->rank != 4) return FAIL(c, "weight '%s' is not 4-D (K, C/groups, R, S)", c->node->input[1]);
    int64_t G = onnx_attr_int(c->node, "group", 1), K = w->dims[0];
    if (G < 1 || G > in.c || w->dims[1] * G != in.c || K % G)
        return FAIL(c, "group=%lld with weight (%lld, %lld, ...) does not fit its %d input channels", (long long)G,
                    (long long)K, (long long)w->dims[1], in.c);
    if (b && b->count != K) return FAIL(c, "bias has %lld values for %lld filters", (long long)b->count, (long long)K);
    LayerSpec s = spec_of(G > 1 && G == in.c && K == in.c ? LK_DWCONV : LK_CONV);
    if (w->dims[2] != w->dims[3]) return FAIL(c, "kernel %lldx%lld is not square", (long long)w->dims[2], (long long)w->dims[3]);
    if ((st = window(c, (int)w->dims[2], in, &s.size, &s.stride, &s.pad))) return st;
    if (s.size != w->dims[2]) return FAIL(c, "kernel_shape says %d but the weight is %lld wide", s.size, (long long)w->dims[2]);
    s.filters = (int)K;
    s.groups = s.kind == LK_CONV ? (int)G : 1;
    if ((st = add_layer(c, &s, x, NULL, c->node->input[1]))) return st;
    ILayer *l = &c->L[c->nl - 1];
    set_array(l, 0, copy_floats(w->f, (size_t)w->count), (size_t)w->count);
    float *bias = dl_calloc((size_t)K, sizeof(float));
    if (b) memcpy(bias, b->f, sizeof(float) * (size_t)K);
    set_array(l, 1, bias, (size_t)K);
    return DL_OK;
}

static DlStatus map_bn(Ctx *c) {
    Value *x;
    const OnnxTensor *t[4];
    DlStatus st;
    if ((st = in_act(c, 0, &x))) return st;
    for (int k = 0; k < 4; k++) if ((st = in_const(c, k + 1, &t[k], 0))) return st;
    Shape in = act_shape(c, x);
    for (int k = 0; k < 4; k++)
        if (t[k]->count != in.c) return FAIL(c, "input %d has %lld values for %d channels", k + 1, (long long)t[k]->count, in.c);
    if (onnx_attr_int(c->node, "spatial", 1) != 1) return FAIL(c, "spatial=0 is not supported");
    LayerSpec s = spec_of(LK_BN);
    s.eps = onnx_attr_float(c->node, "epsilon", 1e-5f);
    s.momentum = 1.0f - onnx_attr_float(c->node, "momentum", 0.9f);   /* ONNX weighs the old value, PyTorch the new */
    if (!(s.eps > 0.0f) || !(s.momentum >= 0.0f && s.momentum <= 1.0f)) return FAIL(c, "epsilon or momentum out of range");
    int extra = 0;   /* opsets 9-13: the running-statistics outputs make it a training node */
    for (size_t k = 1; k < c->node->n_output; k++) extra |= c->node->output[k][0] != '\0';
    if (extra || onnx_attr_int(c->node, "training_mode", 0) || (c->opset < 7 && !onnx_attr_int(c->node, "is_test", 0)))
        c->training = 1;   /* (before opset 7, is_test=0 meant training) */
    if ((st = add_layer(c, &s, x, NULL, c->node->input[1]))) return st;
    ILayer *l = &c->L[c->nl - 1];
    for (int k = 0; k < 4; k++) set_array(l, k, copy_floats(t[k]->f, (size_t)in.c), (size_t)in.c);
    return DL_OK;
}

static DlStatus map_unary(Ctx *c, LayerKind k) {
    Value *x;
    DlStatus st;
    if ((st = in_act(c, 0, &x))) return st;
    LayerSpec s = spec_of(k);
    if (k == LK_LEAKY) s.alpha = onnx_attr_float(c->node, "alpha", 0.01f);
    if (k == LK_CLIP) {
        float lo = -FLT_MAX, hi = FLT_MAX;
        if (c->opset >= 11) {
            const OnnxTensor *a, *b;
            if ((st = in_const(c, 1, &a, 1)) || (st = in_const(c, 2, &b, 1))) return st;
            if ((a && a->count != 1) || (b && b->count != 1)) return FAIL(c, "min and max must be scalars");
            if (a) lo = a->f[0];
            if (b) hi = b->f[0];
        } else {
            lo = onnx_attr_float(c->node, "min", -FLT_MAX);
            hi = onnx_attr_float(c->node, "max", FLT_MAX);
        }
        if (!(lo < hi)) return FAIL(c, "min %g is not below max %g", lo, hi);
        if (lo == 0.0f && hi == 6.0f) s.kind = LK_RELU6;
        else if (lo == 0.0f && hi == FLT_MAX) s.kind = LK_RELU;
        else { s.lo = lo; s.hi = hi; }
    }
    if (k == LK_DROPOUT) {
        if (c->node->n_output > 1 && c->node->output[1][0]) {
            const char *mask = c->node->output[1];
            for (size_t i = 0; i < c->g->n_node; i++)
                for (size_t j = 0; j < c->g->node[i]->n_input; j++)
                    if (strcmp(c->g->node[i]->input[j], mask) == 0) return FAIL(c, "its mask output is used; dltrain's dropout has none");
        }
        s.rate = onnx_attr_float(c->node, "ratio", 0.5f);
        if (c->opset < 7 && !onnx_attr_int(c->node, "is_test", 0)) c->training = 1;
        const OnnxTensor *r;
        if (c->opset >= 12 && (st = in_const(c, 1, &r, 1)) == DL_OK && r) s.rate = r->f[0];
        if (st) return st;
        if (c->opset >= 12 && (st = in_const(c, 2, &r, 1)) == DL_OK && r && r->i[0]) c->training = 1;
        if (st) return st;
        if (!(s.rate >= 0.0f && s.rate < 1.0f)) return FAIL(c, "ratio %g is not in [0, 1)", s.rate);
    }
    return add_layer(c, &s, x, NULL, NULL);
}

static DlStatus map_pool(Ctx *c, LayerKind k) {
    Value *x;
    DlStatus st;
    if ((st = in_act(c, 0, &x))) return st;
    if (x->rank != 4) return FAIL(c, "needs a 4-D input (N, C, H, W); got rank %d", x->rank);
    if (c->node->n_output > 1 && c->node->output[1][0]) return FAIL(c, "its Indices output is not supported");
    Shape in = act_shape(c, x);
    LayerSpec s = spec_of(k);
    if ((st = window(c, 0, in, &s.size, &s.stride, &s.pad))) return st;
    s.ceil_mode = onnx_attr_int(c->node, "ceil_mode", 0) != 0;
    s.count_pad = onnx_attr_int(c->node, "count_include_pad", 0) != 0;
    /* ONNX's output size; PyTorch's (dltrain's) drops a last window that starts in the padding */
    int64_t span[2] = { in.h + 2 * s.pad - s.size, in.w + 2 * s.pad - s.size }, want[2];
    for (int a = 0; a < 2; a++)
        want[a] = span[a] < 0 ? 0 : (s.ceil_mode ? (span[a] + s.stride - 1) / s.stride : span[a] / s.stride) + 1;
    if ((st = add_layer(c, &s, x, NULL, NULL))) return st;
    Shape o = c->L[c->nl - 1].s.out;
    if (o.h != want[0] || o.w != want[1])
        return FAIL(c, "ONNX gives a %lldx%lld output but dltrain (as PyTorch) %dx%d: a ceil-mode window would start in the padding",
                    (long long)want[0], (long long)want[1], o.h, o.w);
    return DL_OK;
}

/* Flatten / Reshape to (N, C*H*W): a flatten layer, or nothing if already flat. */
static DlStatus map_flatten(Ctx *c, int reshape) {
    Value *x;
    DlStatus st;
    if ((st = in_act(c, 0, &x))) return st;
    Shape in = act_shape(c, x);
    int64_t D = (int64_t)shape_size(in);
    if (reshape) {
        const OnnxTensor *t;
        if ((st = in_const(c, 1, &t, 0))) return st;
        if (t->rank != 1 || t->count != 2 || !(t->i[1] == -1 || t->i[1] == D) || (t->i[0] == -1 && t->i[1] != D) || t->i[0] < -1)
            return FAIL(c, "reshapes to something other than (batch, %lld); only that flatten is supported", (long long)D);
    } else {
        int64_t axis = onnx_attr_int(c->node, "axis", 1);
        if (axis != 1 && axis + x->rank != 1)
            return FAIL(c, "axis=%lld; only axis=1 (keep the batch) is supported", (long long)axis);
    }
    if (x->rank <= 2 && x->layer >= 0) {   /* already (N, D): the same floats */
        set_act(c, c->node->output[0], x->layer, 2);
        return DL_OK;
    }
    LayerSpec s = spec_of(LK_FLATTEN);
    return add_layer(c, &s, x, NULL, NULL);
}

/* Gemm (transB either way, alpha, beta) and MatMul (bias from a later Add). */
static DlStatus map_dense(Ctx *c, int matmul) {
    Value *x;
    const OnnxTensor *w, *b = NULL;
    DlStatus st;
    if ((st = in_act(c, 0, &x)) || (st = in_const(c, 1, &w, 0))) return st;
    if (!matmul && (st = in_const(c, 2, &b, 1))) return st;
    Shape in = act_shape(c, x);
    int64_t D = (int64_t)shape_size(in);
    if (x->rank != 2) return FAIL(c, "needs a 2-D input (N, D), got rank %d: put a Flatten before it", x->rank);
    int transB = matmul ? 0 : (int)onnx_attr_int(c->node, "transB", 0);
    if (!matmul && onnx_attr_int(c->node, "transA", 0)) return FAIL(c, "transA=1 is not supported");
    if (w->rank != 2 || w->dims[transB ? 1 : 0] != D)
        return FAIL(c, "weight '%s' is not (%s) for an input of %lld features", c->node->input[1], transB ? "U, D" : "D, U", (long long)D);
    int64_t U = w->dims[transB ? 0 : 1];
    if (U < 1) return FAIL(c, "has no outputs");
    float alpha = matmul ? 1.0f : onnx_attr_float(c->node, "alpha", 1.0f), beta = matmul ? 1.0f : onnx_attr_float(c->node, "beta", 1.0f);
    if (b && !(b->count == U || b->count == 1) ) return FAIL(c, "bias C has %lld values for %lld outputs (per-sample C is not supported)", (long long)b->count, (long long)U);
    LayerSpec s = spec_of(LK_DENSE);
    s.units = (int)U;
    if ((st = add_layer(c, &s, x, NULL, c->node->input[1]))) return st;
    ILayer *l = &c->L[c->nl - 1];
    float *wt = dl_malloc(sizeof(float) * (size_t)(U * D)), *bias = dl_calloc((size_t)U, sizeof(float));
    for (int64_t u = 0; u < U; u++)
        for (int64_t d = 0; d < D; d++) wt[u * D + d] = alpha * (transB ? w->f[u * D + d] : w->f[d * U + u]);
    for (int64_t u = 0; b && u < U; u++) bias[u] = beta * b->f[b->count == 1 ? 0 : u];
    set_array(l, 0, wt, (size_t)(U * D));
    set_array(l, 1, bias, (size_t)U);
    return DL_OK;
}

/* How many node inputs and graph outputs read value `name`. */
static int uses_of(const Ctx *c, const char *name) {
    int u = 0;
    for (size_t i = 0; i < c->g->n_node; i++)
        for (size_t j = 0; j < c->g->node[i]->n_input; j++) u += strcmp(c->g->node[i]->input[j], name) == 0;
    for (size_t i = 0; i < c->g->n_output; i++) u += c->g->output[i]->name && strcmp(c->g->output[i]->name, name) == 0;
    return u;
}

/* Add / Sum of two activations of one shape; or an activation plus a
 * constant that is the bias of the conv / dense that made it. */
static DlStatus map_add(Ctx *c) {
    const Onnx__NodeProto *n = c->node;
    if (n->n_input != 2) return FAIL(c, "has %zu inputs; import maps the sum of two", n->n_input);
    Value *a = find(c, n->input[0]), *b = find(c, n->input[1]);
    if (!a || !b) return FAIL(c, "an input is not defined by an earlier node or initializer");
    if (a->is_const && b->is_const) return FAIL(c, "adds two constants");
    if (a->is_const || b->is_const) {
        Value *x = a->is_const ? b : a;
        const OnnxTensor *t = a->is_const ? &a->t : &b->t;
        ILayer *l = x->layer >= 0 ? &c->L[x->layer] : NULL;
        if (!l || (l->s.kind != LK_DENSE && l->s.kind != LK_CONV) || uses_of(c, x->name) != 1 || x->layer != c->nl - 1)
            return FAIL(c, "adds a constant to something other than the output of the MatMul/Gemm/Conv just before it (a bias)");
        int64_t U = l->s.kind == LK_DENSE ? l->s.units : l->s.filters;
        if (t->count != U && t->count != 1) return FAIL(c, "bias has %lld values for %lld outputs", (long long)t->count, (long long)U);
        for (int64_t u = 0; u < U; u++) l->arr[1][u] += t->f[t->count == 1 ? 0 : u];
        set_act(c, n->output[0], x->layer, x->rank);
        return DL_OK;
    }
    Shape sa = act_shape(c, a), sb = act_shape(c, b);
    if (sa.c != sb.c || sa.h != sb.h || sa.w != sb.w || a->rank != b->rank) return FAIL(c, "adds tensors of different shapes (broadcasting is not supported)");
    LayerSpec s = spec_of(LK_ADD);
    /* the input is the later of the two: dltrain reads `from=` from an earlier layer */
    if (a->layer < b->layer) { Value *t = a; a = b; b = t; }
    return add_layer(c, &s, a, b, NULL);
}

static DlStatus map_concat(Ctx *c) {
    const Onnx__NodeProto *n = c->node;
    if (n->n_input < 2) return FAIL(c, "has fewer than two inputs");
    Value *first;
    DlStatus st;
    if ((st = in_act(c, 0, &first))) return st;
    int64_t axis = onnx_attr_int(n, "axis", 1);
    if (first->rank < 2 || !(axis == 1 || axis + first->rank == 1))
        return FAIL(c, "axis=%lld: only the channel axis (1) is supported", (long long)axis);
    Value cur = *first;
    for (size_t k = 1; k < n->n_input; k++) {
        Value *x;
        if ((st = in_act(c, (int)k, &x))) return st;
        LayerSpec s = spec_of(LK_CONCAT);
        if ((st = add_layer(c, &s, &cur, x, NULL))) return st;
        cur = c->v[c->nv - 1];   /* the concat's output (its name: the node's output) */
    }
    return DL_OK;
}

/* A Transpose right after the graph input, NHWC -> NCHW (tf2onnx's Keras
 * graphs): the model's input is then the NCHW image, as dltrain feeds it. */
static DlStatus map_transpose(Ctx *c) {
    Value *x = c->node->n_input ? find(c, c->node->input[0]) : NULL;
    DlStatus st;
    if (x && x->is_const && x->t.rank == 2) {   /* a weight written (D, U) for a Gemm / MatMul: transposed here */
        int64_t p2[2] = { 1, 0 };
        int np2 = onnx_attr_ints(c->node, "perm", p2, 2);
        if (np2 < 0 || p2[0] != 1 || p2[1] != 0) return FAIL(c, "only perm 1,0 is supported on a constant");
        OnnxTensor t = x->t;
        size_t R = (size_t)t.dims[0], C = (size_t)t.dims[1], cnt = R * C > 0 ? R * C : 1;
        t.f = dl_malloc(sizeof(float) * cnt);
        t.i = dl_malloc(sizeof(int64_t) * cnt);
        for (size_t r = 0; r < R; r++)
            for (size_t k = 0; k < C; k++) { t.f[k * R + r] = x->t.f[r * C + k]; t.i[k * R + r] = x->t.i[r * C + k]; }
        t.dims[0] = (int64_t)C; t.dims[1] = (int64_t)R;
        Value *v = add_value(c, c->node->output[0]);
        v->is_const = 1;
        v->t = t;
        return DL_OK;
    }
    if ((st = in_act(c, 0, &x))) return st;
    int64_t p[4];
    int np = onnx_attr_ints(c->node, "perm", p, 4);
    if (x->layer >= 0 || c->nl > 0 || x->rank != 4 || c->nhwc || np != 4 || p[0] != 0 || p[1] != 3 || p[2] != 1 || p[3] != 2)
        return FAIL(c, "only a Transpose with perm 0,3,1,2 straight after the graph input (NHWC -> NCHW) is supported");
    Shape nhwc = c->input;   /* read as (C, H, W) = (H, W, C) */
    c->input = (Shape){ nhwc.w, nhwc.c, nhwc.h };
    c->nhwc = 1;
    set_act(c, c->node->output[0], -1, 4);
    return DL_OK;
}

static DlStatus map_node(Ctx *c, const Onnx__NodeProto *n) {
    const char *op = n->op_type ? n->op_type : "";
    snprintf(c->where, sizeof c->where, "%s: node '%s' (%s)", c->source, n->name && n->name[0] ? n->name : "(unnamed)", op);
    c->node = n;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return FAIL(c, "is in domain '%s'; import maps the standard ONNX ops only", n->domain);
    if (n->n_output < 1 || !n->output[0][0]) return FAIL(c, "has no output");
    if (!strcmp(op, "Conv")) return map_conv(c);
    if (!strcmp(op, "BatchNormalization")) return map_bn(c);
    if (!strcmp(op, "Relu")) return map_unary(c, LK_RELU);
    if (!strcmp(op, "LeakyRelu")) return map_unary(c, LK_LEAKY);
    if (!strcmp(op, "Clip")) return map_unary(c, LK_CLIP);
    if (!strcmp(op, "Dropout")) return map_unary(c, LK_DROPOUT);
    if (!strcmp(op, "MaxPool")) return map_pool(c, LK_MAXPOOL);
    if (!strcmp(op, "AveragePool")) return map_pool(c, LK_AVGPOOL);
    if (!strcmp(op, "GlobalAveragePool")) {
        Value *x;
        DlStatus st = in_act(c, 0, &x);
        if (st) return st;
        if (x->rank != 4) return FAIL(c, "needs a 4-D input (N, C, H, W); got rank %d", x->rank);
        LayerSpec s = spec_of(LK_GAP);
        return add_layer(c, &s, x, NULL, NULL);
    }
    if (!strcmp(op, "Flatten")) return map_flatten(c, 0);
    if (!strcmp(op, "Reshape")) return map_flatten(c, 1);
    if (!strcmp(op, "Gemm")) return map_dense(c, 0);
    if (!strcmp(op, "MatMul")) return map_dense(c, 1);
    if (!strcmp(op, "Add") || !strcmp(op, "Sum")) return map_add(c);
    if (!strcmp(op, "Concat")) return map_concat(c);
    if (!strcmp(op, "Transpose")) return map_transpose(c);
    if (!strcmp(op, "Identity")) {
        Value *x = n->n_input ? find(c, n->input[0]) : NULL;
        if (!x) return FAIL(c, "its input is not defined");
        if (x->is_const) {   /* a copy under the new name (torch writes these for shared weights) */
            OnnxTensor t = x->t;
            size_t cnt = (size_t)(t.count ? t.count : 1);
            t.f = copy_floats(x->t.f, cnt);
            t.i = dl_malloc(sizeof(int64_t) * cnt);
            memcpy(t.i, x->t.i, sizeof(int64_t) * cnt);
            Value *v = add_value(c, n->output[0]);
            v->is_const = 1;
            v->t = t;
            return DL_OK;
        }
        int layer = x->layer, rank = x->rank;
        set_act(c, n->output[0], layer, rank);
        return DL_OK;
    }
    if (!strcmp(op, "Constant")) {
        const Onnx__AttributeProto *a = onnx_attr(n, "value");
        if (!a || !a->t) return FAIL(c, "only a Constant with a 'value' tensor is supported");
        OnnxTensor t;
        DlStatus st = onnx_tensor(&t, a->t, c->where);
        if (st) return st;
        Value *v = add_value(c, n->output[0]);
        v->is_const = 1;
        v->t = t;
        return DL_OK;
    }
    if (!strcmp(op, "Softmax")) {
        Value *x;
        DlStatus st = in_act(c, 0, &x);
        if (st) return st;
        int last = c->g->n_output == 1 && c->g->output[0]->name && strcmp(c->g->output[0]->name, n->output[0]) == 0;
        int64_t axis = onnx_attr_int(n, "axis", c->opset >= 13 ? -1 : 1);
        if (!last || x->rank != 2 || !(axis == 1 || axis == -1) || x->layer < 0)
            return FAIL(c, "Softmax is supported only as the graph's last node on (N, classes) (dltrain's models output logits)");
        c->softmax = 1;
        set_act(c, n->output[0], x->layer, 2);
        return DL_OK;
    }
    return FAIL(c, "op '%s' is not supported by import (it maps Conv, BatchNormalization, Relu, LeakyRelu, Clip, MaxPool, "
                "AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Add, Sum, Concat, Dropout, Identity, "
                "Constant, a leading Transpose and a trailing Softmax)", op);
}

/* The graph's one data input: rank 4 (N, C, H, W) or 2 (N, D). */
static DlStatus graph_input(Ctx *c, const OnnxFeed *feeds, int n_feeds) {
    const Onnx__GraphProto *g = c->g;
    const Onnx__ValueInfoProto *data = NULL;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name) continue;
        Value *v = find(c, vi->name);
        if (v && v->is_const) continue;   /* an initializer or feed listed as an input too */
        int fed = 0;
        for (int k = 0; k < n_feeds; k++) fed |= strcmp(feeds[k].name, vi->name) == 0;
        if (fed) continue;
        if (data) return dl_fail(DL_EFORMAT, "%s: the graph has inputs '%s' and '%s'; import takes one image input (the rest must be initializers)",
                                 c->source, data->name, vi->name);
        data = vi;
    }
    if (!data) return dl_fail(DL_EFORMAT, "%s: the graph has no input that is not an initializer", c->source);
    const Onnx__TypeProto *tp = data->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type || !tp->tensor_type->shape)
        return dl_fail(DL_EFORMAT, "%s: input '%s' has no tensor shape", c->source, data->name);
    if (tp->tensor_type->has_elem_type && tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return dl_fail(DL_EFORMAT, "%s: input '%s' is not float32", c->source, data->name);
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    if (sh->n_dim < 1 || sh->n_dim > 4)
        return dl_fail(DL_EFORMAT, "%s: input '%s' has %zu dims; import takes (N, C, H, W) images, (N, C, L) or (N, D)", c->source,
                       data->name, sh->n_dim);
    int64_t d[3] = { 1, 1, 1 };
    for (size_t i = 1; i < sh->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *dm = sh->dim[i];
        if (dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || dm->dim_value < 1 || dm->dim_value > 65536)
            return dl_fail(DL_EFORMAT, "%s: input '%s' dim %zu is not a fixed size in 1..65536 (export with a fixed image size)",
                           c->source, data->name, i);
        d[i - 1] = dm->dim_value;
    }
    if (d[0] * d[1] * d[2] > ((int64_t)1 << 28)) return dl_fail(DL_EFORMAT, "%s: input '%s' is too large", c->source, data->name);
    c->input = (Shape){ (int)d[0], (int)d[1], (int)d[2] };
    c->input_rank = (int)sh->n_dim;
    set_act(c, data->name, -1, (int)sh->n_dim);
    return DL_OK;
}

static void ctx_free(Ctx *c) {
    for (int i = 0; i < c->nv; i++) if (c->v[i].is_const) onnx_tensor_free(&c->v[i].t);
    for (int i = 0; i < c->nl; i++) for (int k = 0; k < 4; k++) dl_free(c->L[i].arr[k]);
    dl_free(c->v); dl_free(c->L);
}

static DlStatus walk(Ctx *c, const Onnx__ModelProto *mp, const OnnxFeed *feeds, int n_feeds) {
    c->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version) c->opset = (int)o->version;
    }
    if (c->opset < 0) return dl_fail(DL_EFORMAT, "%s: no ONNX opset is declared (opset_import)", c->source);
    if (c->opset < 1 || c->opset > 17)
        return dl_fail(DL_EFORMAT, "%s: opset %d; import reads opsets 1 to 17 (export again with opset_version=13, say)", c->source, c->opset);
    const Onnx__GraphProto *g = mp->graph;
    if (!g) return dl_fail(DL_EFORMAT, "%s: the model has no graph", c->source);
    c->g = g;
    if (g->n_node > ONNX_MAX_NODES) return dl_fail(DL_EFORMAT, "%s: more than %d nodes", c->source, ONNX_MAX_NODES);
    DlStatus st;
    for (size_t i = 0; i < g->n_initializer; i++) {
        OnnxTensor t;
        snprintf(c->where, sizeof c->where, "%s: initializer %zu", c->source, i);
        if (!g->initializer[i]->name) return dl_fail(DL_EFORMAT, "%s: has no name", c->where);
        if ((st = onnx_tensor(&t, g->initializer[i], c->where))) return st;
        Value *v = add_value(c, g->initializer[i]->name);
        v->is_const = 1;
        v->t = t;
    }
    for (int k = 0; k < n_feeds; k++) {
        Value *v = add_value(c, feeds[k].name);
        v->is_const = 1;
        OnnxTensor *t = &v->t;
        t->rank = feeds[k].rank;
        t->count = 1;
        for (int d = 0; d < t->rank; d++) { t->dims[d] = feeds[k].dims[d]; t->count *= t->dims[d]; }
        t->isfloat = 1;
        t->f = copy_floats(feeds[k].data, (size_t)t->count);
        t->i = dl_malloc(sizeof(int64_t) * (size_t)(t->count ? t->count : 1));
        for (int64_t j = 0; j < t->count; j++) t->i[j] = (int64_t)t->f[j];
    }
    if ((st = graph_input(c, feeds, n_feeds))) return st;
    for (size_t i = 0; i < g->n_node; i++)
        if ((st = map_node(c, g->node[i]))) return st;
    if (g->n_output != 1 || !g->output[0]->name)
        return dl_fail(DL_EFORMAT, "%s: the graph has %zu outputs; import takes a graph with one (the logits)", c->source, g->n_output);
    Value *out = find(c, g->output[0]->name);
    if (!out || out->is_const || out->layer < 0 || c->nl == 0)
        return dl_fail(DL_EFORMAT, "%s: the graph output '%s' is not computed by any imported layer", c->source, g->output[0]->name);
    if (out->layer != c->nl - 1)
        return dl_fail(DL_EFORMAT, "%s: the graph output '%s' is not the last layer's (a side branch after it is unused)",
                       c->source, g->output[0]->name);
    return DL_OK;
}

/* The shortest of %.6g .. %.9g that reads back as the same float. */
static const char *fmt_float(char *buf, float v) {
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, 32, "%.*g", p, v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

/* The model-text line of one layer: the keys its kind has, exactly. */
static void spec_line(char *buf, size_t cap, const LayerSpec *s) {
    int n = snprintf(buf, cap, "%-8s name=%s", layer_ops(s->kind)->kind, s->name);
    char f1[32], f2[32];
#define PUT(...) n += snprintf(buf + n, cap - (size_t)n, __VA_ARGS__)
    switch (s->kind) {
    case LK_CONV: PUT(" filters=%d", s->filters); if (s->groups > 1) PUT(" groups=%d", s->groups); /* fall through */
    case LK_DWCONV: PUT(" size=%d stride=%d pad=%d", s->size, s->stride, s->pad); break;
    case LK_MAXPOOL: case LK_AVGPOOL:
        PUT(" size=%d stride=%d pad=%d ceil=%d", s->size, s->stride, s->pad, s->ceil_mode);
        if (s->kind == LK_AVGPOOL) PUT(" count_pad=%d", s->count_pad);
        break;
    case LK_DENSE: PUT(" units=%d", s->units); break;
    case LK_LEAKY: PUT(" alpha=%s", fmt_float(f1, s->alpha)); break;
    case LK_CLIP: PUT(" min=%s max=%s", fmt_float(f1, s->lo), fmt_float(f2, s->hi)); break;
    case LK_DROPOUT: PUT(" rate=%s", fmt_float(f1, s->rate)); break;
    case LK_BN: PUT(" eps=%s momentum=%s", fmt_float(f1, s->eps), fmt_float(f2, s->momentum)); break;
    default: break;
    }
    if (s->input_name[0]) PUT(" input=%s", s->input_name);
    if (s->from_name[0]) PUT(" from=%s", s->from_name);
    PUT("\n");
#undef PUT
}

DlStatus onnx_import(OnnxImport *out, const uint8_t *buf, size_t len, const char *source,
                     const OnnxFeed *feeds, int n_feeds) {
    memset(out, 0, sizeof *out);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) return dl_fail(DL_EFORMAT, "%s: not a valid ONNX file (the protobuf does not parse: truncated or not ONNX?)", source);
    Ctx c = { .source = source };
    DlStatus st = walk(&c, mp, feeds, n_feeds);
    if (st == DL_OK) {
        size_t cap = 128 + (size_t)c.nl * 300, n = 0;
        char *text = dl_malloc(cap);
        n += (size_t)snprintf(text, cap, "# imported from %s (ONNX opset %d%s%s)\ninput channels=%d height=%d width=%d\n",
                              source, c.opset, mp->producer_name && mp->producer_name[0] ? ", by " : "",
                              mp->producer_name ? mp->producer_name : "", c.input.c, c.input.h, c.input.w);
        for (int i = 0; i < c.nl; i++) {
            char line[512];
            spec_line(line, sizeof line, &c.L[i].s);
            size_t l = strlen(line);
            if (n + l + 1 > cap) text = dl_realloc(text, cap = 2 * (n + l + 1));
            memcpy(text + n, line, l + 1);
            n += l;
        }
        out->text = text;
        out->n_layers = c.nl;
        out->arrays = dl_calloc((size_t)c.nl * 4, sizeof(float *));
        out->sizes = dl_calloc((size_t)c.nl * 4, sizeof(size_t));
        for (int i = 0; i < c.nl; i++)
            for (int k = 0; k < 4; k++) {
                out->arrays[4 * i + k] = c.L[i].arr[k];
                out->sizes[4 * i + k] = c.L[i].n[k];
                c.L[i].arr[k] = NULL;
            }
        out->nhwc = c.nhwc;
        out->dropped_softmax = c.softmax;
        out->training_graph = c.training;
        out->opset = c.opset;
        snprintf(out->producer, sizeof out->producer, "%s", mp->producer_name ? mp->producer_name : "");
    }
    ctx_free(&c);
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}

void onnx_import_free(OnnxImport *imp) {
    for (int i = 0; imp->arrays && i < imp->n_layers * 4; i++) dl_free(imp->arrays[i]);
    dl_free(imp->arrays); dl_free(imp->sizes); dl_free(imp->text);
    memset(imp, 0, sizeof *imp);
}

DlStatus onnx_import_model(Model *m, const OnnxImport *imp, const char *source, int max_n) {
    DlStatus st = model_init(m, imp->text, source, (Shape){ 0, 0, 0 }, 0, max_n);
    if (st != DL_OK) return st;
    if (m->n_layers != imp->n_layers) { model_free(m); return dl_fail(DL_EFORMAT, "%s: import made %d layers, the model %d", source, imp->n_layers, m->n_layers); }
    for (int i = 0; i < m->n_layers; i++) {
        const LayerSpec *s = &m->spec[i];
        TensorInfo t[4];
        const LayerOps *ops = layer_ops(s->kind);
        int np = ops->params(s, t), k = 0;
        float *dst = m->params + m->w_off[i];
        for (int j = 0; j < np; j++, k++) {
            size_t n = tensor_info_size(&t[j]);
            if (imp->sizes[4 * i + k] != n) { model_free(m); return dl_fail(DL_EFORMAT, "%s: layer '%s' %s has %zu values, the model needs %zu", source, s->name, t[j].name, imp->sizes[4 * i + k], n); }
            memcpy(dst, imp->arrays[4 * i + k], sizeof(float) * n);
            dst += n;
        }
        int ns = ops->states(s, t);
        dst = m->state + m->st_off[i];
        for (int j = 0; j < ns; j++, k++) {
            size_t n = tensor_info_size(&t[j]);
            if (imp->sizes[4 * i + k] != n) { model_free(m); return dl_fail(DL_EFORMAT, "%s: layer '%s' %s has %zu values, the model needs %zu", source, s->name, t[j].name, imp->sizes[4 * i + k], n); }
            memcpy(dst, imp->arrays[4 * i + k], sizeof(float) * n);
            dst += n;
        }
    }
    return DL_OK;
}
