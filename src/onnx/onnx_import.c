/* onnx_import.c: an ONNX graph -> dltrain layers (see onnx_import.h): the
 * values and layers being built and their helpers (onnx_internal.h), the
 * graph's input and output, and the model text written from the layers. The
 * nodes are walked in file order (ONNX requires a topological order); each
 * is mapped by onnx_ops.c. Every value is an activation (the output of a
 * dltrain layer, or the model input) or a constant (an initializer, a
 * Constant node, a feed). Each node becomes a LayerSpec filled as the
 * model-text parser would fill it, shaped by the layer's own shape function
 * (so a graph that dltrain cannot compute is refused at its node), and
 * printed back as a model-text line. */
#include "onnx/onnx_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DlStatus imp_fail_at(Ctx *c, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dl_fail(DL_EFORMAT, "%s: %s", c->where, msg);
}

Value *imp_find(Ctx *c, const char *name) {
    if (!name || !name[0]) return NULL;
    for (int i = c->nv - 1; i >= 0; i--)   /* the latest definition wins */
        if (strcmp(c->v[i].name, name) == 0) return &c->v[i];
    return NULL;
}

/* Room for `more` values without moving c->v: a node's mapper holds
 * pointers into it (its inputs' Values and constant tensors) while it adds
 * its outputs, so walk() reserves a node's worth before mapping it. */
static void imp_reserve(Ctx *c, size_t more) {
    if ((size_t)c->nv + more <= (size_t)c->capv) return;
    size_t cap = c->capv ? 2 * (size_t)c->capv : 64;
    while (cap < (size_t)c->nv + more) cap *= 2;
    c->v = dl_realloc(c->v, sizeof *c->v * cap);
    c->capv = (int)cap;
}

Value *imp_add_value(Ctx *c, const char *name) {
    if (c->nv == c->capv) imp_reserve(c, 1);
    Value *v = &c->v[c->nv++];
    memset(v, 0, sizeof *v);
    v->name = name;
    return v;
}

void imp_set_act(Ctx *c, const char *name, int layer, int rank) {
    Value *v = imp_add_value(c, name);
    v->layer = layer;
    v->rank = rank;
}

Shape imp_act_shape(Ctx *c, const Value *v) { return v->layer < 0 ? c->input : c->L[v->layer].s.out; }

/* The input `k` of the node as an activation / a constant, or an error. */
DlStatus imp_in_act(Ctx *c, int k, Value **out) {
    const Onnx__NodeProto *n = c->node;
    *out = (size_t)k < n->n_input ? imp_find(c, n->input[k]) : NULL;
    if (!*out) return FAIL(c, "input %d ('%s') is not defined by an earlier node, an initializer or the graph input", k,
                           (size_t)k < n->n_input ? n->input[k] : "");
    if ((*out)->is_const) return FAIL(c, "input %d ('%s') is a constant; import maps it only as a computed tensor", k, n->input[k]);
    return DL_OK;
}

/* Constant input k, or NULL when absent (a missing or empty name) if optional. */
DlStatus imp_in_const(Ctx *c, int k, const OnnxTensor **out, int optional) {
    const Onnx__NodeProto *n = c->node;
    *out = NULL;
    if ((size_t)k >= n->n_input || !n->input[k][0]) {
        if (optional) return DL_OK;
        return FAIL(c, "needs input %d", k);
    }
    Value *v = imp_find(c, n->input[k]);
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
DlStatus imp_add_layer(Ctx *c, LayerSpec *s, const Value *src, const Value *from, const char *weight) {
    const char *kind = layer_ops(s->kind)->kind;
    int src_rank = src->rank;
    if (src->layer < 0 && c->nl > 0)
        return FAIL(c, "reads the graph input, but in dltrain only the first layer can (a graph with two branches from its input)");
    if (from && from->layer < 0) return FAIL(c, "adds or stacks the graph input itself; dltrain's add/concat take an earlier layer's output");
    layer_name(c, s->name, weight, kind);
    s->src = src->layer;
    s->from = from ? from->layer : -1;
    s->in = imp_act_shape(c, src);
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
    imp_set_act(c, n->output[0], c->nl - 1, rank);
    return DL_OK;
}

float *imp_copy_floats(const float *v, size_t n) {
    float *p = dl_malloc(sizeof(float) * (n ? n : 1));
    if (n) memcpy(p, v, sizeof(float) * n);
    return p;
}

void imp_set_array(ILayer *l, int k, float *p, size_t n) { l->arr[k] = p; l->n[k] = n; }

LayerSpec imp_spec_of(LayerKind k) {
    return (LayerSpec){ .kind = k, .stride = 1, .alpha = 0.01f, .rate = 0.5f, .eps = 1e-5f, .momentum = 0.1f,
                        .groups = 1, .count_pad = 1, .lo = 0.0f, .hi = 6.0f, .src = -1, .from = -1 };
}

/* The graph's one data input: rank 4 (N, C, H, W) or 2 (N, D). */
static DlStatus graph_input(Ctx *c, const OnnxFeed *feeds, int n_feeds) {
    const Onnx__GraphProto *g = c->g;
    const Onnx__ValueInfoProto *data = NULL;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name) continue;
        Value *v = imp_find(c, vi->name);
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
    imp_set_act(c, data->name, -1, (int)sh->n_dim);
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
        Value *v = imp_add_value(c, g->initializer[i]->name);
        v->is_const = 1;
        v->t = t;
    }
    for (int k = 0; k < n_feeds; k++) {
        Value *v = imp_add_value(c, feeds[k].name);
        v->is_const = 1;
        OnnxTensor *t = &v->t;
        t->rank = feeds[k].rank;
        t->count = 1;
        for (int d = 0; d < t->rank; d++) { t->dims[d] = feeds[k].dims[d]; t->count *= t->dims[d]; }
        t->isfloat = 1;
        t->f = imp_copy_floats(feeds[k].data, (size_t)t->count);
        t->i = dl_malloc(sizeof(int64_t) * (size_t)(t->count ? t->count : 1));
        for (int64_t j = 0; j < t->count; j++) t->i[j] = t->f[j] >= -9.0e18f && t->f[j] <= 9.0e18f ? (int64_t)t->f[j] : 0;
    }
    if ((st = graph_input(c, feeds, n_feeds))) return st;
    for (size_t i = 0; i < g->n_node; i++) {
        imp_reserve(c, 16);   /* a mapper adds a value or two: c->v does not move while it runs */
        if ((st = imp_map_node(c, g->node[i]))) return st;
    }
    if (g->n_output != 1 || !g->output[0]->name)
        return dl_fail(DL_EFORMAT, "%s: the graph has %zu outputs; import takes a graph with one (the logits)", c->source, g->n_output);
    Value *out = imp_find(c, g->output[0]->name);
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
