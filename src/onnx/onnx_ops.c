/* onnx_ops.c: one ONNX node -> dltrain layers (onnx_import.c walks the graph).
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
#include "onnx/onnx_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if ((st = imp_in_act(c, 0, &x)) || (st = imp_in_const(c, 1, &w, 0)) || (st = imp_in_const(c, 2, &b, 1))) return st;
    Shape in = imp_act_shape(c, x);
    if (x->rank != 4) return FAIL(c, "needs a 4-D input (N, C, H, W); got rank %d", x->rank);
    if (w->rank != 4) return FAIL(c, "weight '%s' is not 4-D (K, C/groups, R, S)", c->node->input[1]);
    int64_t G = onnx_attr_int(c->node, "group", 1), K = w->dims[0];
    if (G < 1 || G > in.c || w->dims[1] * G != in.c || K % G)
        return FAIL(c, "group=%lld with weight (%lld, %lld, ...) does not fit its %d input channels", (long long)G,
                    (long long)K, (long long)w->dims[1], in.c);
    if (b && b->count != K) return FAIL(c, "bias has %lld values for %lld filters", (long long)b->count, (long long)K);
    LayerSpec s = imp_spec_of(G > 1 && G == in.c && K == in.c ? LK_DWCONV : LK_CONV);
    if (w->dims[2] != w->dims[3]) return FAIL(c, "kernel %lldx%lld is not square", (long long)w->dims[2], (long long)w->dims[3]);
    if ((st = window(c, (int)w->dims[2], in, &s.size, &s.stride, &s.pad))) return st;
    if (s.size != w->dims[2]) return FAIL(c, "kernel_shape says %d but the weight is %lld wide", s.size, (long long)w->dims[2]);
    s.filters = (int)K;
    s.groups = s.kind == LK_CONV ? (int)G : 1;
    if ((st = imp_add_layer(c, &s, x, NULL, c->node->input[1]))) return st;
    ILayer *l = &c->L[c->nl - 1];
    imp_set_array(l, 0, imp_copy_floats(w->f, (size_t)w->count), (size_t)w->count);
    float *bias = dl_calloc((size_t)K, sizeof(float));
    if (b) memcpy(bias, b->f, sizeof(float) * (size_t)K);
    imp_set_array(l, 1, bias, (size_t)K);
    return DL_OK;
}

static DlStatus map_bn(Ctx *c) {
    Value *x;
    const OnnxTensor *t[4];
    DlStatus st;
    if ((st = imp_in_act(c, 0, &x))) return st;
    for (int k = 0; k < 4; k++) if ((st = imp_in_const(c, k + 1, &t[k], 0))) return st;
    Shape in = imp_act_shape(c, x);
    for (int k = 0; k < 4; k++)
        if (t[k]->count != in.c) return FAIL(c, "input %d has %lld values for %d channels", k + 1, (long long)t[k]->count, in.c);
    if (onnx_attr_int(c->node, "spatial", 1) != 1) return FAIL(c, "spatial=0 is not supported");
    LayerSpec s = imp_spec_of(LK_BN);
    s.eps = onnx_attr_float(c->node, "epsilon", 1e-5f);
    s.momentum = 1.0f - onnx_attr_float(c->node, "momentum", 0.9f);   /* ONNX weighs the old value, PyTorch the new */
    if (!(s.eps > 0.0f) || !(s.momentum >= 0.0f && s.momentum <= 1.0f)) return FAIL(c, "epsilon or momentum out of range");
    int extra = 0;   /* opsets 9-13: the running-statistics outputs make it a training node */
    for (size_t k = 1; k < c->node->n_output; k++) extra |= c->node->output[k][0] != '\0';
    if (extra || onnx_attr_int(c->node, "training_mode", 0) || (c->opset < 7 && !onnx_attr_int(c->node, "is_test", 0)))
        c->training = 1;   /* (before opset 7, is_test=0 meant training) */
    if ((st = imp_add_layer(c, &s, x, NULL, c->node->input[1]))) return st;
    ILayer *l = &c->L[c->nl - 1];
    for (int k = 0; k < 4; k++) imp_set_array(l, k, imp_copy_floats(t[k]->f, (size_t)in.c), (size_t)in.c);
    return DL_OK;
}

static DlStatus map_unary(Ctx *c, LayerKind k) {
    Value *x;
    DlStatus st;
    if ((st = imp_in_act(c, 0, &x))) return st;
    LayerSpec s = imp_spec_of(k);
    if (k == LK_LEAKY) s.alpha = onnx_attr_float(c->node, "alpha", 0.01f);
    if (k == LK_CLIP) {
        float lo = -FLT_MAX, hi = FLT_MAX;
        if (c->opset >= 11) {
            const OnnxTensor *a, *b;
            if ((st = imp_in_const(c, 1, &a, 1)) || (st = imp_in_const(c, 2, &b, 1))) return st;
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
        if (c->opset >= 12 && (st = imp_in_const(c, 1, &r, 1)) == DL_OK && r) s.rate = r->f[0];
        if (st) return st;
        if (c->opset >= 12 && (st = imp_in_const(c, 2, &r, 1)) == DL_OK && r && r->i[0]) c->training = 1;
        if (st) return st;
        if (!(s.rate >= 0.0f && s.rate < 1.0f)) return FAIL(c, "ratio %g is not in [0, 1)", s.rate);
    }
    return imp_add_layer(c, &s, x, NULL, NULL);
}

static DlStatus map_pool(Ctx *c, LayerKind k) {
    Value *x;
    DlStatus st;
    if ((st = imp_in_act(c, 0, &x))) return st;
    if (x->rank != 4) return FAIL(c, "needs a 4-D input (N, C, H, W); got rank %d", x->rank);
    if (c->node->n_output > 1 && c->node->output[1][0]) return FAIL(c, "its Indices output is not supported");
    Shape in = imp_act_shape(c, x);
    LayerSpec s = imp_spec_of(k);
    if ((st = window(c, 0, in, &s.size, &s.stride, &s.pad))) return st;
    s.ceil_mode = onnx_attr_int(c->node, "ceil_mode", 0) != 0;
    s.count_pad = onnx_attr_int(c->node, "count_include_pad", 0) != 0;
    /* ONNX's output size; PyTorch's (dltrain's) drops a last window that starts in the padding */
    int64_t span[2] = { in.h + 2 * s.pad - s.size, in.w + 2 * s.pad - s.size }, want[2];
    for (int a = 0; a < 2; a++)
        want[a] = span[a] < 0 ? 0 : (s.ceil_mode ? (span[a] + s.stride - 1) / s.stride : span[a] / s.stride) + 1;
    if ((st = imp_add_layer(c, &s, x, NULL, NULL))) return st;
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
    if ((st = imp_in_act(c, 0, &x))) return st;
    Shape in = imp_act_shape(c, x);
    int64_t D = (int64_t)shape_size(in);
    if (reshape) {
        const OnnxTensor *t;
        if ((st = imp_in_const(c, 1, &t, 0))) return st;
        if (t->rank != 1 || t->count != 2 || !(t->i[1] == -1 || t->i[1] == D) || (t->i[0] == -1 && t->i[1] != D) || t->i[0] < -1)
            return FAIL(c, "reshapes to something other than (batch, %lld); only that flatten is supported", (long long)D);
    } else {
        int64_t axis = onnx_attr_int(c->node, "axis", 1);
        if (axis != 1 && axis + x->rank != 1)
            return FAIL(c, "axis=%lld; only axis=1 (keep the batch) is supported", (long long)axis);
    }
    if (x->rank <= 2 && x->layer >= 0) {   /* already (N, D): the same floats */
        imp_set_act(c, c->node->output[0], x->layer, 2);
        return DL_OK;
    }
    LayerSpec s = imp_spec_of(LK_FLATTEN);
    return imp_add_layer(c, &s, x, NULL, NULL);
}

/* Gemm (transB either way, alpha, beta) and MatMul (bias from a later Add). */
static DlStatus map_dense(Ctx *c, int matmul) {
    Value *x;
    const OnnxTensor *w, *b = NULL;
    DlStatus st;
    if ((st = imp_in_act(c, 0, &x)) || (st = imp_in_const(c, 1, &w, 0))) return st;
    if (!matmul && (st = imp_in_const(c, 2, &b, 1))) return st;
    Shape in = imp_act_shape(c, x);
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
    LayerSpec s = imp_spec_of(LK_DENSE);
    s.units = (int)U;
    if ((st = imp_add_layer(c, &s, x, NULL, c->node->input[1]))) return st;
    ILayer *l = &c->L[c->nl - 1];
    float *wt = dl_malloc(sizeof(float) * (size_t)(U * D)), *bias = dl_calloc((size_t)U, sizeof(float));
    for (int64_t u = 0; u < U; u++)
        for (int64_t d = 0; d < D; d++) wt[u * D + d] = alpha * (transB ? w->f[u * D + d] : w->f[d * U + u]);
    for (int64_t u = 0; b && u < U; u++) bias[u] = beta * b->f[b->count == 1 ? 0 : u];
    imp_set_array(l, 0, wt, (size_t)(U * D));
    imp_set_array(l, 1, bias, (size_t)U);
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
    Value *a = imp_find(c, n->input[0]), *b = imp_find(c, n->input[1]);
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
        imp_set_act(c, n->output[0], x->layer, x->rank);
        return DL_OK;
    }
    Shape sa = imp_act_shape(c, a), sb = imp_act_shape(c, b);
    if (sa.c != sb.c || sa.h != sb.h || sa.w != sb.w || a->rank != b->rank) return FAIL(c, "adds tensors of different shapes (broadcasting is not supported)");
    LayerSpec s = imp_spec_of(LK_ADD);
    /* the input is the later of the two: dltrain reads `from=` from an earlier layer */
    if (a->layer < b->layer) { Value *t = a; a = b; b = t; }
    return imp_add_layer(c, &s, a, b, NULL);
}

static DlStatus map_concat(Ctx *c) {
    const Onnx__NodeProto *n = c->node;
    if (n->n_input < 2) return FAIL(c, "has fewer than two inputs");
    Value *first;
    DlStatus st;
    if ((st = imp_in_act(c, 0, &first))) return st;
    int64_t axis = onnx_attr_int(n, "axis", 1);
    if (first->rank < 2 || !(axis == 1 || axis + first->rank == 1))
        return FAIL(c, "axis=%lld: only the channel axis (1) is supported", (long long)axis);
    Value cur = *first;
    for (size_t k = 1; k < n->n_input; k++) {
        Value *x;
        if ((st = imp_in_act(c, (int)k, &x))) return st;
        LayerSpec s = imp_spec_of(LK_CONCAT);
        if ((st = imp_add_layer(c, &s, &cur, x, NULL))) return st;
        cur = c->v[c->nv - 1];   /* the concat's output (its name: the node's output) */
    }
    return DL_OK;
}

/* A Transpose right after the graph input, NHWC -> NCHW (tf2onnx's Keras
 * graphs): the model's input is then the NCHW image, as dltrain feeds it. */
static DlStatus map_transpose(Ctx *c) {
    Value *x = c->node->n_input ? imp_find(c, c->node->input[0]) : NULL;
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
        Value *v = imp_add_value(c, c->node->output[0]);
        v->is_const = 1;
        v->t = t;
        return DL_OK;
    }
    if ((st = imp_in_act(c, 0, &x))) return st;
    int64_t p[4];
    int np = onnx_attr_ints(c->node, "perm", p, 4);
    if (x->layer >= 0 || c->nl > 0 || x->rank != 4 || c->nhwc || np != 4 || p[0] != 0 || p[1] != 3 || p[2] != 1 || p[3] != 2)
        return FAIL(c, "only a Transpose with perm 0,3,1,2 straight after the graph input (NHWC -> NCHW) is supported");
    Shape nhwc = c->input;   /* read as (C, H, W) = (H, W, C) */
    c->input = (Shape){ nhwc.w, nhwc.c, nhwc.h };
    c->nhwc = 1;
    imp_set_act(c, c->node->output[0], -1, 4);
    return DL_OK;
}

DlStatus imp_map_node(Ctx *c, const Onnx__NodeProto *n) {
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
        DlStatus st = imp_in_act(c, 0, &x);
        if (st) return st;
        if (x->rank != 4) return FAIL(c, "needs a 4-D input (N, C, H, W); got rank %d", x->rank);
        LayerSpec s = imp_spec_of(LK_GAP);
        return imp_add_layer(c, &s, x, NULL, NULL);
    }
    if (!strcmp(op, "Flatten")) return map_flatten(c, 0);
    if (!strcmp(op, "Reshape")) return map_flatten(c, 1);
    if (!strcmp(op, "Gemm")) return map_dense(c, 0);
    if (!strcmp(op, "MatMul")) return map_dense(c, 1);
    if (!strcmp(op, "Add") || !strcmp(op, "Sum")) return map_add(c);
    if (!strcmp(op, "Concat")) return map_concat(c);
    if (!strcmp(op, "Transpose")) return map_transpose(c);
    if (!strcmp(op, "Identity")) {
        Value *x = n->n_input ? imp_find(c, n->input[0]) : NULL;
        if (!x) return FAIL(c, "its input is not defined");
        if (x->is_const) {   /* a copy under the new name (torch writes these for shared weights) */
            OnnxTensor t = x->t;
            size_t cnt = (size_t)(t.count ? t.count : 1);
            t.f = imp_copy_floats(x->t.f, cnt);
            t.i = dl_malloc(sizeof(int64_t) * cnt);
            memcpy(t.i, x->t.i, sizeof(int64_t) * cnt);
            Value *v = imp_add_value(c, n->output[0]);
            v->is_const = 1;
            v->t = t;
            return DL_OK;
        }
        int layer = x->layer, rank = x->rank;
        imp_set_act(c, n->output[0], layer, rank);
        return DL_OK;
    }
    if (!strcmp(op, "Constant")) {
        const Onnx__AttributeProto *a = onnx_attr(n, "value");
        if (!a || !a->t) return FAIL(c, "only a Constant with a 'value' tensor is supported");
        OnnxTensor t;
        DlStatus st = onnx_tensor(&t, a->t, c->where);
        if (st) return st;
        Value *v = imp_add_value(c, n->output[0]);
        v->is_const = 1;
        v->t = t;
        return DL_OK;
    }
    if (!strcmp(op, "Softmax")) {
        Value *x;
        DlStatus st = imp_in_act(c, 0, &x);
        if (st) return st;
        int last = c->g->n_output == 1 && c->g->output[0]->name && strcmp(c->g->output[0]->name, n->output[0]) == 0;
        int64_t axis = onnx_attr_int(n, "axis", c->opset >= 13 ? -1 : 1);
        if (!last || x->rank != 2 || !(axis == 1 || axis == -1) || x->layer < 0)
            return FAIL(c, "Softmax is supported only as the graph's last node on (N, classes) (dltrain's models output logits)");
        c->softmax = 1;
        imp_set_act(c, n->output[0], x->layer, 2);
        return DL_OK;
    }
    return FAIL(c, "op '%s' is not supported by import (it maps Conv, BatchNormalization, Relu, LeakyRelu, Clip, MaxPool, "
                "AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Add, Sum, Concat, Dropout, Identity, "
                "Constant, a leading Transpose and a trailing Softmax)", op);
}

