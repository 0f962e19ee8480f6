/* export.c: see export.h. The graph is built as protobuf-c messages
 * (build/onnx-gen/onnx.pb-c.h, generated from src/onnx/onnx.proto) that point
 * into the loaded model's parameters (no copies), packed once and written.
 * One case per layer kind in emit_layer; a kind without a case is refused by
 * name, never dropped. Value names: "input", each layer's name for its
 * output, "<layer>.weight" etc. for its tensors (PyTorch's names). */
#define _POSIX_C_SOURCE 200809L
#include "onnx/export.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "model.h"
#include "onnx.pb-c.h"

/* Everything allocated for the graph, freed together by builder_free. */
typedef struct {
    Onnx__NodeProto **node;
    size_t n_node;
    Onnx__TensorProto **init;
    size_t n_init;
    void **owned;
    size_t n_owned, cap_owned;
    int opset;
} Builder;

static void *own(Builder *b, void *p) {
    if (b->n_owned == b->cap_owned) {
        b->cap_owned = b->cap_owned ? 2 * b->cap_owned : 256;
        b->owned = dl_realloc(b->owned, b->cap_owned * sizeof *b->owned);
    }
    return b->owned[b->n_owned++] = p;
}

static void *balloc(Builder *b, size_t n) { return own(b, dl_calloc(1, n)); }

static char *bstr(Builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *bstr(Builder *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = balloc(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void builder_free(Builder *b) {
    for (size_t i = 0; i < b->n_owned; i++) dl_free(b->owned[i]);
    dl_free(b->owned);
    dl_free(b->node);
    dl_free(b->init);
    *b = (Builder){ 0 };
}

#define MAX_ATTR 6

/* A node op(in[0..nin)) -> out, named `name`; attributes added after. */
static Onnx__NodeProto *add_node(Builder *b, const char *op, const char *name, int nin, const char *const *in, const char *out) {
    Onnx__NodeProto *nd = balloc(b, sizeof *nd);
    onnx__node_proto__init(nd);
    nd->op_type = (char *)op;
    nd->name = (char *)name;
    nd->n_input = (size_t)nin;
    nd->input = balloc(b, sizeof(char *) * (size_t)nin);
    for (int i = 0; i < nin; i++) nd->input[i] = (char *)in[i];
    nd->n_output = 1;
    nd->output = balloc(b, sizeof(char *));
    nd->output[0] = (char *)out;
    nd->attribute = balloc(b, sizeof(Onnx__AttributeProto *) * MAX_ATTR);
    b->node = dl_realloc(b->node, (b->n_node + 1) * sizeof *b->node);
    b->node[b->n_node++] = nd;
    return nd;
}

static Onnx__AttributeProto *add_attr(Builder *b, Onnx__NodeProto *nd, const char *name, Onnx__AttributeProto__AttributeType t) {
    DL_CHECK(nd->n_attribute < MAX_ATTR);
    Onnx__AttributeProto *a = balloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = t;
    nd->attribute[nd->n_attribute++] = a;
    return a;
}

static void attr_int(Builder *b, Onnx__NodeProto *nd, const char *name, int64_t v) {
    Onnx__AttributeProto *a = add_attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_float(Builder *b, Onnx__NodeProto *nd, const char *name, float v) {
    Onnx__AttributeProto *a = add_attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void attr_ints(Builder *b, Onnx__NodeProto *nd, const char *name, int64_t v0, int64_t v1, int n) {
    Onnx__AttributeProto *a = add_attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)n;
    a->ints = balloc(b, sizeof(int64_t) * (size_t)n);
    for (int i = 0; i < n; i++) a->ints[i] = i % 2 ? v1 : v0;
}

/* An initializer `name` of float32 dims[0..rank) holding v (not copied: v
 * must outlive the packing). */
static const char *add_init(Builder *b, const char *name, const float *v, int rank, const int64_t *dims) {
    Onnx__TensorProto *t = balloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_dims = (size_t)rank;
    t->dims = rank ? balloc(b, sizeof(int64_t) * (size_t)rank) : NULL;
    size_t count = 1;
    for (int i = 0; i < rank; i++) { t->dims[i] = dims[i]; count *= (size_t)dims[i]; }
    t->n_float_data = count;
    t->float_data = (float *)v;
    b->init = dl_realloc(b->init, (b->n_init + 1) * sizeof *b->init);
    b->init[b->n_init++] = t;
    return name;
}

/* The layer's tensors (params or running statistics) as initializers
 * "<layer>.<tensor>"; names[j] gets the j-th. Returns the count. */
static int layer_inits(Builder *b, const Model *m, int i, int states, const char **names) {
    TensorInfo t[4];
    const LayerOps *ops = layer_ops(m->spec[i].kind);
    int nt = states ? ops->states(&m->spec[i], t) : ops->params(&m->spec[i], t);
    const float *v = states ? m->state + m->st_off[i] : m->params + m->w_off[i];
    for (int j = 0; j < nt; j++) {
        int64_t dims[4];
        for (int d = 0; d < t[j].rank; d++) dims[d] = t[j].dims[d];
        names[j] = add_init(b, bstr(b, "%s.%s", m->spec[i].name, t[j].name), v, t[j].rank, dims);
        v += tensor_info_size(&t[j]);
    }
    return nt;
}

static int resolved_pad(const LayerSpec *s) { return s->pad == PAD_SAME ? (s->size - 1) / 2 : s->pad; }

/* Pooling. Floor mode: symmetric pads. Ceil mode (PyTorch's, which drops a
 * last window that would start in the right/bottom padding): written as
 * floor mode with the end pad that gives the same output size, exact at
 * every opset where padding cannot change a value (maxpool: -inf; avgpool
 * without count_pad: only real pixels are counted). Only an avgpool with
 * count_pad whose last window reaches past the padding needs ONNX's
 * ceil_mode (opset >= 10), which divides by the window clipped to the
 * padded input as PyTorch does; at opset 9 it is refused. (Where PyTorch
 * drops a window, the end pad computed here is below `pad`; ONNX's
 * ceil_mode, which before opset 19 keeps such a window, is refused when the
 * other axis of a non-square input needs it.) */
static DlStatus emit_pool(Builder *b, const LayerSpec *s, const char *x, const char *out) {
    int R = s->size, st = s->stride, pad = s->pad, end_h = pad, end_w = pad, ceil_attr = 0;
    if (s->ceil_mode) {
        end_h = (s->out.h - 1) * st + R - s->in.h - pad;   /* < R: the last window starts inside the input */
        end_w = (s->out.w - 1) * st + R - s->in.w - pad;
        if (end_h < 0) end_h = 0;
        if (end_w < 0) end_w = 0;
        if (s->kind == LK_AVGPOOL && s->count_pad && (end_h > pad || end_w > pad)) {
            if (b->opset < 10)
                return dl_fail(DL_EFORMAT, "layer '%s' (line %d): an avgpool with ceil=1 and count_pad=1 needs ONNX's ceil_mode, "
                               "which opset %d lacks; export with --opset 10 or later", s->name, s->line, b->opset);
            /* ceil_mode holds for both axes: on a non-square input the other
             * axis may be one where PyTorch drops a window that ONNX keeps */
            if ((s->in.h + 2 * pad - R + st - 1) / st + 1 != s->out.h || (s->in.w + 2 * pad - R + st - 1) / st + 1 != s->out.w)
                return dl_fail(DL_EFORMAT, "layer '%s' (line %d): this avgpool (ceil=1, count_pad=1) on a %dx%d input has no ONNX "
                               "equivalent before opset 19; use count_pad=0 or ceil=0", s->name, s->line, s->in.h, s->in.w);
            end_h = end_w = pad;
            ceil_attr = 1;
        }
    }
    Onnx__NodeProto *nd = add_node(b, s->kind == LK_MAXPOOL ? "MaxPool" : "AveragePool", s->name, 1, &x, out);
    attr_ints(b, nd, "kernel_shape", R, R, 2);
    attr_ints(b, nd, "strides", st, st, 2);
    if (pad || end_h || end_w) {
        Onnx__AttributeProto *a = add_attr(b, nd, "pads", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
        a->n_ints = 4;
        a->ints = balloc(b, sizeof(int64_t) * 4);
        a->ints[0] = pad; a->ints[1] = pad; a->ints[2] = end_h; a->ints[3] = end_w;   /* h_begin, w_begin, h_end, w_end */
    }
    if (ceil_attr) attr_int(b, nd, "ceil_mode", 1);
    if (s->kind == LK_AVGPOOL && s->count_pad && (pad || end_h || end_w)) attr_int(b, nd, "count_include_pad", 1);
    return DL_OK;
}

/* relu6 and clip: ONNX Clip, min/max as attributes before opset 11 and as
 * (scalar) inputs from opset 11. */
static DlStatus emit_clip(Builder *b, const Model *m, int i, const char *x, const char *out) {
    const LayerSpec *s = &m->spec[i];
    if (b->opset < 11) {
        Onnx__NodeProto *nd = add_node(b, "Clip", s->name, 1, &x, out);
        attr_float(b, nd, "min", s->lo);
        attr_float(b, nd, "max", s->hi);
        return DL_OK;
    }
    const char *in[3] = { x, add_init(b, bstr(b, "%s.min", s->name), &s->lo, 0, NULL),
                          add_init(b, bstr(b, "%s.max", s->name), &s->hi, 0, NULL) };
    add_node(b, "Clip", s->name, 3, in, out);
    return DL_OK;
}

/* Emits layer i. val[j]: the value name of layer j's output; flat[j]: it is
 * (N, U) rather than (N, C, H, W) in the graph. out: the name to give
 * layer i's output (its own, or "logits" for the last). */
static DlStatus emit_layer(Builder *b, const Model *m, int i, const char **val, int *flat, const char *out) {
    const LayerSpec *s = &m->spec[i];
    const char *x = val[s->src < 0 ? m->n_layers : s->src];   /* val[n_layers]: the (normalised) input */
    int xflat = s->src < 0 ? 0 : flat[s->src];
    const char *w[4];
    Onnx__NodeProto *nd;
    flat[i] = xflat;
    val[i] = out;
    switch (s->kind) {
    case LK_CONV:
    case LK_DWCONV: {
        if (xflat) break;
        int np = layer_inits(b, m, i, 0, w);
        const char *in[3] = { x, w[0], w[1] };
        nd = add_node(b, "Conv", s->name, np == 2 ? 3 : 2, in, out);
        attr_ints(b, nd, "kernel_shape", s->size, s->size, 2);
        attr_ints(b, nd, "strides", s->stride, s->stride, 2);
        attr_ints(b, nd, "pads", resolved_pad(s), resolved_pad(s), 4);
        if (s->kind == LK_DWCONV) attr_int(b, nd, "group", s->in.c);
        else if (s->groups > 1) attr_int(b, nd, "group", s->groups);
        return DL_OK;
    }
    case LK_DENSE: {
        const char *a = x;
        if (!xflat) {
            a = bstr(b, "%s.flat", s->name);
            add_node(b, "Flatten", bstr(b, "%s.flatten", s->name), 1, &x, a);
        }
        layer_inits(b, m, i, 0, w);
        const char *in[3] = { a, w[0], w[1] };
        nd = add_node(b, "Gemm", s->name, 3, in, out);
        attr_int(b, nd, "transB", 1);
        flat[i] = 1;
        return DL_OK;
    }
    case LK_BN: {
        const char *st[4];
        layer_inits(b, m, i, 0, w);
        layer_inits(b, m, i, 1, st);
        const char *in[5] = { x, w[0], w[1], st[0], st[1] };   /* scale, B, mean, var */
        nd = add_node(b, "BatchNormalization", s->name, 5, in, out);
        attr_float(b, nd, "epsilon", s->eps);
        attr_float(b, nd, "momentum", 1.0f - s->momentum);   /* ONNX's momentum weighs the running value */
        return DL_OK;
    }
    case LK_RELU:
        add_node(b, "Relu", s->name, 1, &x, out);
        return DL_OK;
    case LK_LEAKY:
        nd = add_node(b, "LeakyRelu", s->name, 1, &x, out);
        attr_float(b, nd, "alpha", s->alpha);
        return DL_OK;
    case LK_MAXPOOL:
    case LK_AVGPOOL:
        if (xflat) break;
        return emit_pool(b, s, x, out);
    case LK_RELU6:
    case LK_CLIP:
        return emit_clip(b, m, i, x, out);
    case LK_GAP: {
        if (xflat) break;
        const char *p = bstr(b, "%s.pool", s->name);
        add_node(b, "GlobalAveragePool", bstr(b, "%s.global", s->name), 1, &x, p);
        add_node(b, "Flatten", s->name, 1, &p, out);
        flat[i] = 1;
        return DL_OK;
    }
    case LK_FLATTEN:
        if (xflat) break;   /* already (N, U): handled as an alias below */
        add_node(b, "Flatten", s->name, 1, &x, out);
        flat[i] = 1;
        return DL_OK;
    case LK_ADD:
    case LK_CONCAT: {
        if (flat[s->from] != xflat)
            return dl_fail(DL_EFORMAT, "layer '%s' (line %d) %s a flat vector and an image-shaped one: not expressible in the exported graph",
                           s->name, s->line, s->kind == LK_ADD ? "adds" : "concatenates");
        const char *in[2] = { x, val[s->from] };
        nd = add_node(b, s->kind == LK_ADD ? "Add" : "Concat", s->name, 2, in, out);
        if (s->kind == LK_CONCAT) attr_int(b, nd, "axis", 1);   /* channels (image) or units (flat) */
        return DL_OK;
    }
    case LK_DROPOUT:   /* inference: the identity */
        break;
    default:
        return dl_fail(DL_EFORMAT, "layer '%s' (line %d) is a '%s', which dltrain export cannot write yet",
                       s->name, s->line, layer_ops(s->kind)->kind);
    }
    /* identities (dropout, flatten of a flat value) and image-only layers on a flat value */
    if (s->kind == LK_DROPOUT || s->kind == LK_FLATTEN) {
        if (i == m->n_layers - 1) add_node(b, "Identity", s->name, 1, &x, out);
        else val[i] = x;
        return DL_OK;
    }
    return dl_fail(DL_EFORMAT, "layer '%s' (line %d) is a '%s' after a flat layer (dense, gap or flatten): not expressible in the exported graph",
                   s->name, s->line, layer_ops(s->kind)->kind);
}

static Onnx__ValueInfoProto *value_info(Builder *b, const char *name, int rank, const int64_t *dims) {
    Onnx__TensorShapeProto *shape = balloc(b, sizeof *shape);
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)rank;
    shape->dim = balloc(b, sizeof(*shape->dim) * (size_t)rank);
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = balloc(b, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) { d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM; d->dim_param = "N"; }
        else { d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE; d->dim_value = dims[i]; }
        shape->dim[i] = d;
    }
    Onnx__TypeProto__Tensor *tt = balloc(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    Onnx__TypeProto *tp = balloc(b, sizeof *tp);
    onnx__type_proto__init(tp);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    Onnx__ValueInfoProto *v = balloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    v->type = tp;
    return v;
}

/* s as a JSON string literal (quotes, backslashes and control bytes escaped). */
static char *json_str(Builder *b, const char *s) {
    size_t n = 3;
    for (const char *p = s; *p; p++) n += 6;
    char *o = balloc(b, n), *q = o;
    *q++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') { *q++ = '\\'; *q++ = (char)*p; }
        else if (*p < 0x20) q += sprintf(q, "\\u%04x", *p);
        else *q++ = (char)*p;
    }
    *q++ = '"';
    *q = '\0';
    return o;
}

static char *floats_str(Builder *b, const float *v, int n) {
    char *s = balloc(b, (size_t)n * 20 + 3), *q = s;
    *q++ = '[';
    for (int i = 0; i < n; i++) q += sprintf(q, "%s%.9g", i ? ", " : "", v[i]);
    strcpy(q, "]");
    return s;
}

/* IR version of the ONNX release that introduced each opset (onnx/helper.py's table). */
static int64_t ir_version_for(int opset) {
    return opset <= 9 ? 4 : opset == 10 ? 5 : opset == 11 ? 6 : opset <= 14 ? 7 : 8;
}

static DlStatus write_atomic(const char *out, const uint8_t *buf, size_t n) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.partial", out) >= (int)sizeof tmp) return dl_fail(DL_EIO, "output path too long: %s", out);
    FILE *f = fopen(tmp, "wb");
    if (!f) return dl_fail(DL_EIO, "cannot write '%s': %s (check that its folder exists and is writable)", tmp, strerror(errno));
    int ok = fwrite(buf, 1, n, f) == n;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;   /* the bytes are on disk before the name points at them */
    ok = fclose(f) == 0 && ok;
    if (!ok) { remove(tmp); return dl_fail(DL_EIO, "cannot write '%s' (disk full?)", tmp); }
    if (rename(tmp, out) != 0) {
        DlStatus st = dl_fail(DL_EIO, "cannot rename '%s' to '%s': %s", tmp, out, strerror(errno));
        remove(tmp);
        return st;
    }
    return DL_OK;
}

static void add_meta(Builder *b, Onnx__ModelProto *mp, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = balloc(b, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)key;
    e->value = (char *)value;
    mp->metadata_props = dl_realloc(mp->metadata_props, (mp->n_metadata_props + 1) * sizeof *mp->metadata_props);
    mp->metadata_props[mp->n_metadata_props++] = e;
}

static DlStatus build_and_write(Builder *b, const Model *m, const CheckpointInfo *info, const char *ckpt, const char *out) {
    const int n = m->n_layers, C = m->input.c, H = m->input.h, W = m->input.w, K = m->classes;
    const char **val = balloc(b, sizeof(char *) * (size_t)(n + 1));
    int *flat = balloc(b, sizeof(int) * (size_t)(n + 1));
    val[n] = "input";
    if (info->norm.on) {   /* (x - mean) / std per channel, as dataset_normalize does */
        if (info->norm.channels != C)
            return dl_fail(DL_EFORMAT, "checkpoint '%s' records %d normalisation channels for %d-channel input", ckpt, info->norm.channels, C);
        int64_t dims[4] = { 1, C, 1, 1 };
        const char *in[2] = { "input", add_init(b, "preprocess.mean", info->norm.mean, 4, dims) };
        add_node(b, "Sub", "preprocess.sub_mean", 2, in, "preprocess.centered");
        const char *in2[2] = { "preprocess.centered", add_init(b, "preprocess.std", info->norm.std, 4, dims) };
        add_node(b, "Div", "preprocess.div_std", 2, in2, "preprocess.normalized");
        val[n] = "preprocess.normalized";
    }
    for (int i = 0; i < n; i++) {
        DlStatus st = emit_layer(b, m, i, val, flat, i == n - 1 ? "logits" : m->spec[i].name);
        if (st != DL_OK) return st;
    }
    if (!flat[n - 1])
        return dl_fail(DL_EFORMAT, "the model of '%s' does not end in a flat layer (dense, gap or flatten)", ckpt);
    const char *prob = info->multi ? "sigmoid" : "softmax", *logits = "logits";
    Onnx__NodeProto *nd = add_node(b, info->multi ? "Sigmoid" : "Softmax", prob, 1, &logits, prob);
    if (!info->multi) attr_int(b, nd, "axis", 1);

    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.name = (char *)m->source;
    g.n_node = b->n_node;
    g.node = b->node;
    g.n_initializer = b->n_init;
    g.initializer = b->init;
    int64_t in_dims[4] = { -1, C, H, W }, out_dims[2] = { -1, K };
    Onnx__ValueInfoProto *gin = value_info(b, "input", 4, in_dims);
    Onnx__ValueInfoProto *gout[2] = { value_info(b, "logits", 2, out_dims), value_info(b, prob, 2, out_dims) };
    g.n_input = 1;
    g.input = &gin;
    g.n_output = 2;
    g.output = gout;

    Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT, *osp = &os;
    os.domain = "";
    os.has_version = 1;
    os.version = b->opset;
    Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
    mp.has_ir_version = 1;
    mp.ir_version = ir_version_for(b->opset);
    mp.n_opset_import = 1;
    mp.opset_import = &osp;
    mp.producer_name = "dltrain";
    mp.producer_version = DLTRAIN_VERSION;
    mp.graph = &g;

    size_t len = 2;
    for (int i = 0; i < K; i++) len += strlen(json_str(b, info->class_names[i])) + 2;
    char *names = balloc(b, len), *q = names;
    *q++ = '[';
    for (int i = 0; i < K; i++) q += sprintf(q, "%s%s", i ? "," : "", json_str(b, info->class_names[i]));
    strcpy(q, "]");
    add_meta(b, &mp, "class_names", names);
    add_meta(b, &mp, "task", info->multi ? "multi" : "single");
    add_meta(b, &mp, "presize", info->presize[0] ? info->presize : "squash");
    add_meta(b, &mp, "input", bstr(b, "float32 N x %d x %d x %d (NCHW), %s", C, H, W, C == 3 ? "RGB" : "grey (ITU-R BT.601 luma)"));
    add_meta(b, &mp, "preprocessing",
             bstr(b, "decode, squash the whole image to %dx%d (area average where it shrinks, bilinear where it grows; "
                     "no crop), scale to [0,1] (pixel / 255); the normalisation below is inside the graph", H, W));
    add_meta(b, &mp, "normalization",
             info->norm.on ? bstr(b, "inside the graph: (x - mean) / std per channel, mean %s, std %s",
                                  floats_str(b, info->norm.mean, C), floats_str(b, info->norm.std, C))
                           : "none (the model takes x in [0,1])");
    add_meta(b, &mp, "outputs", info->multi ? "logits (N, K); sigmoid = sigmoid(logits), one probability per tag"
                                            : "logits (N, K); softmax = softmax(logits) over the classes");
    add_meta(b, &mp, "dltrain_version", DLTRAIN_VERSION);

    DlStatus st = DL_OK;
    size_t size = onnx__model_proto__get_packed_size(&mp);
    if (size > 2147483647u)   /* protobuf's limit for one message: such a model needs external data */
        st = dl_fail(DL_EFORMAT, "the model of '%s' is %zu bytes as ONNX, over protobuf's 2 GiB limit", ckpt, size);
    if (st == DL_OK) {
        uint8_t *buf = dl_malloc(size);
        size_t packed = onnx__model_proto__pack(&mp, buf);
        DL_CHECK(packed == size);
        st = write_atomic(out, buf, size);
        dl_free(buf);
    }
    dl_free(mp.metadata_props);
    return st;
}

DlStatus onnx_export(const char *ckpt, const char *out, int opset) {
    if (opset < ONNX_EXPORT_OPSET_MIN || opset > ONNX_EXPORT_OPSET_MAX)
        return dl_fail(DL_EARG, "dltrain export: --opset %d is not supported; use %s (default %d)", opset,
                       ONNX_EXPORT_OPSET_RANGE, ONNX_EXPORT_OPSET_DEFAULT);
    CheckpointInfo info;
    DlStatus st = checkpoint_info(&info, ckpt);
    if (st != DL_OK) return st;
    Model m = { 0 };
    if (info.k < 1 || !info.class_names)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s' has no class names (train it with a current dltrain)", ckpt);
    if (st == DL_OK) st = model_init(&m, info.model_text, info.model_source, info.input, info.k, 1);
    if (st == DL_OK) st = checkpoint_load(ckpt, &m, NULL);
    if (st == DL_OK && m.classes != info.k)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s': the model has %d outputs but %d class names", ckpt, m.classes, info.k);
    if (st == DL_OK && m.n_layers < 1) st = dl_fail(DL_EFORMAT, "checkpoint '%s' holds a model without layers", ckpt);
    if (st == DL_OK) {
        Builder b = { .opset = opset };
        st = build_and_write(&b, &m, &info, ckpt, out);
        builder_free(&b);
    }
    model_free(&m);
    checkpoint_info_free(&info);
    return st;
}
