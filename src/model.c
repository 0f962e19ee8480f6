/* model.c: buffer layout and the forward / backward passes over the layer
 * list. The model text's format and parser are in model_text.c, the zoo in
 * zoo.c.
 *
 * Backward: every layer's output has its own gradient buffer, which each
 * consumer (the next layer, an `input=` reader, an `add from=` reader) adds
 * into, in decreasing consumer order, so the sums are the same bits every
 * run. In a plain chain each output has one consumer, so the sums are the
 * same bits as a pass with two ping-pong buffers. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

/* ---- building ---- */

void model_free(Model *m) {
    for (int i = 0; m->act && i < m->n_layers; i++) if (!(m->inplace && m->inplace[i])) dl_free(m->act[i]);
    if (m->cache) for (int i = 0; i < m->n_layers; i++) dl_free(m->cache[i]);
    for (int i = 0; m->grad && i + 1 < m->n_layers; i++) {   /* the last is dlogits */
        int aliased = 0;   /* grad[i] is its in-place relu consumer's buffer */
        /* k + 1 < n: a last-layer relu's gradient is dlogits and never aliased (model_init) */
        for (int k = i + 1; m->inplace && k + 1 < m->n_layers; k++) aliased |= m->inplace[k] && m->spec[k].src == i;
        if (!aliased) dl_free(m->grad[i]);
    }
    dl_free(m->act); dl_free(m->cache); dl_free(m->grad); dl_free(m->inplace);
    dl_free(m->scratch); dl_free(m->dlogits); dl_free(m->dinput); dl_free(m->written);
    dl_free(m->params); dl_free(m->state);
    dl_free(m->w_off); dl_free(m->st_off); dl_free(m->bs_off);
    dl_free(m->spec); dl_free(m->text); dl_free(m->source);
    *m = (Model){ 0 };
}

DlStatus model_init(Model *m, const char *text, const char *source, Shape input, int classes, int max_n) {
    *m = (Model){ 0 };
    Shape declared;
    LayerSpec *spec;
    int n;
    DlStatus st = model_text_parse(text, source, &spec, &n, &declared);
    if (st != DL_OK) return st;
    if (declared.c) {
        if (input.c && (input.c != declared.c || input.h != declared.h || input.w != declared.w)) {
            dl_free(spec);
            return dl_fail(DL_EFORMAT, "%s: the model declares input %dx%dx%d (channels x height x width) but the data is %dx%dx%d",
                           source, declared.c, declared.h, declared.w, input.c, input.h, input.w);
        }
        input = declared;
    }
    if (!input.c) { dl_free(spec); return dl_fail(DL_EFORMAT, "%s: no input shape (add an 'input channels=C height=H width=W' line)", source); }
    if (input.c < 1 || input.h < 1 || input.w < 1 || shape_size(input) > MODEL_MAX_ACTIVATION) {
        dl_free(spec);
        return dl_fail(DL_EFORMAT, "%s: input %dx%dx%d (channels x height x width) is past the %zu values a sample may have",
                       source, input.c, input.h, input.w, (size_t)MODEL_MAX_ACTIVATION);
    }
    if (max_n < 1 || (size_t)max_n > MODEL_MAX_GROUP_ACTIVATION / shape_size(input)) {
        dl_free(spec);
        return dl_fail(DL_EFORMAT, "%s: %d samples of %zu values each are more than a group may hold (%zu): lower --batch",
                       source, max_n, shape_size(input), (size_t)MODEL_MAX_GROUP_ACTIVATION);
    }
    Shape cur = input;
    size_t total = 0;
    for (int i = 0; i < n && st == DL_OK; i++) {
        LayerSpec *s = &spec[i];
        s->in = s->src < 0 ? input : spec[s->src].out;
        if (layer_has_from(s->kind)) s->in2 = spec[s->from].out;
        if (s->kind == LK_DENSE && s->units == UNITS_CLASSES) {
            if (classes < 1) st = dl_fail(DL_EFORMAT, "%s:%d: units=classes needs a dataset (give units=N)", source, s->line);
            else s->units = classes;
        }
        if (s->kind == LK_CONV && s->filters == UNITS_CLASSES) {   /* a conv head (SqueezeNet's) */
            if (classes < 1) st = dl_fail(DL_EFORMAT, "%s:%d: filters=classes needs a dataset (give filters=N)", source, s->line);
            else s->filters = classes;
        }
        if (st == DL_OK && (st = layer_ops(s->kind)->shape(s)) != DL_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", dl_errmsg());
            st = dl_fail(DL_EFORMAT, "%s:%d: layer '%s': %s", source, s->line, s->name, msg);
        }
        /* Limits in 64 bits, before anything is sized from them: a typo like
         * units=100000000 is a message naming the line, not an abort. */
        size_t out = st == DL_OK ? shape_size(s->out) : 0, np = st == DL_OK ? layer_param_count(s) : 0;
        if (st == DL_OK && (s->out.c < 1 || s->out.h < 1 || s->out.w < 1 || out > MODEL_MAX_ACTIVATION ||
                            out > MODEL_MAX_GROUP_ACTIVATION / (size_t)max_n))
            st = dl_fail(DL_EFORMAT, "%s:%d: layer '%s': output %dx%dx%d is past the limits (1 to %zu values a sample, "
                         "%zu for a group of %d): make the layer smaller", source, s->line, s->name, s->out.c, s->out.h,
                         s->out.w, (size_t)MODEL_MAX_ACTIVATION, (size_t)MODEL_MAX_GROUP_ACTIVATION, max_n);
        else if (st == DL_OK && (layer_ops(s->kind)->scratch_count(s, max_n) > MODEL_MAX_GROUP_ACTIVATION ||
                                 layer_ops(s->kind)->cache_count(s, max_n) > MODEL_MAX_GROUP_ACTIVATION))
            st = dl_fail(DL_EFORMAT, "%s:%d: layer '%s': its working memory for a group of %d is past the %zu values "
                         "allowed: make the layer (or its kernel) smaller", source, s->line, s->name, max_n,
                         (size_t)MODEL_MAX_GROUP_ACTIVATION);
        else if (st == DL_OK && (np > MODEL_MAX_PARAMS || (total += np) > MODEL_MAX_PARAMS))
            st = dl_fail(DL_EFORMAT, "%s:%d: layer '%s': %zu parameters take the model past the %zu it may have: "
                         "make the layer smaller", source, s->line, s->name, np, (size_t)MODEL_MAX_PARAMS);
        cur = s->out;
    }
    if (st == DL_OK && classes > 0 && shape_size(cur) != (size_t)classes)
        st = dl_fail(DL_EFORMAT, "%s: the last layer gives %zu outputs but the data has %d classes (end with 'dense units=classes')",
                     source, shape_size(cur), classes);
    if (st != DL_OK) { dl_free(spec); return st; }

    m->text = dl_strdup(text);
    m->source = dl_strdup(source);
    m->spec = spec;
    m->n_layers = n;
    m->input = input;
    m->classes = (int)shape_size(cur);
    m->max_n = max_n;
    m->w_off = dl_calloc(n, sizeof(size_t));
    m->st_off = dl_calloc(n, sizeof(size_t));
    m->bs_off = dl_calloc(n, sizeof(size_t));
    /* Sizes first, then one block each (STYLE.md 3). */
    size_t scratch = 0;
    for (int i = 0; i < n; i++) {
        const LayerSpec *s = &spec[i];
        const LayerOps *ops = layer_ops(s->kind);
        m->w_off[i] = m->n_params;  m->n_params += layer_param_count(s);
        m->st_off[i] = m->n_state;  m->n_state += layer_state_count(s);
        m->bs_off[i] = m->n_bstat;  m->n_bstat += (size_t)ops->bstat_count_per_channel * s->in.c;
        size_t sc = ops->scratch_count(s, max_n);
        if (sc > scratch) scratch = sc;
    }
    m->params = dl_calloc(m->n_params, sizeof(float));
    m->state = dl_calloc(m->n_state, sizeof(float));
    m->act = dl_calloc(n, sizeof(float *));
    m->cache = dl_calloc(n, sizeof(float *));
    m->grad = dl_calloc(n, sizeof(float *));
    m->dlogits = dl_malloc(sizeof(float) * max_n * m->classes);
    /* A relu whose input layer has no other consumer and does not need its
     * own output in backward (conv, dwconv, dense, bn, add) runs in place:
     * half the memory traffic of a separate buffer, and less memory. */
    m->inplace = dl_calloc(n, sizeof(int));
    for (int i = 0; i < n; i++) {
        int j = spec[i].src;
        if (spec[i].kind != LK_RELU || j < 0) continue;
        LayerKind kj = spec[j].kind;
        if (kj != LK_CONV && kj != LK_DWCONV && kj != LK_DENSE && kj != LK_BN && kj != LK_ADD) continue;
        int uses = 0;
        for (int k = 0; k < n; k++) uses += (spec[k].src == j) + (spec[k].from == j);
        m->inplace[i] = uses == 1;
        const LayerOps *oj = layer_ops(kj);
        if (m->inplace[i] && oj->takes_relu && oj->takes_relu(&spec[j]) && i + 1 < n) {   /* j does the relu itself */
            spec[j].relu_after = 1;
            m->inplace[i] = 2;
        }
    }
    for (int i = 0; i < n; i++) {
        m->act[i] = m->inplace[i] ? m->act[spec[i].src] : dl_malloc(sizeof(float) * max_n * shape_size(spec[i].out));
        size_t cc = layer_ops(spec[i].kind)->cache_count(&spec[i], max_n);
        m->cache[i] = cc ? dl_malloc(sizeof(float) * cc) : NULL;
        /* one buffer per layer output, not two ping-pong ones: with skip
         * connections an output's gradient collects from several layers */
        m->grad[i] = i + 1 < n ? dl_malloc(sizeof(float) * max_n * shape_size(spec[i].out)) : m->dlogits;
    }
    for (int i = n - 1; i >= 0; i--)   /* backward through an in-place relu: its input's gradient is its own */
        if (m->inplace[i] && i + 1 < n) { dl_free(m->grad[spec[i].src]); m->grad[spec[i].src] = m->grad[i]; }
    m->scratch = dl_malloc(sizeof(float) * (scratch ? scratch : 1));
    m->written = dl_calloc((size_t)n + 2, sizeof(float *));
    m->dinput = dl_malloc(sizeof(float) * max_n * shape_size(input));
    return DL_OK;
}

void model_init_params(Model *m, uint64_t seed) {
    for (int i = 0; i < m->n_layers; i++) {
        DlRng r = { dl_hash(seed, RNG_INIT, (uint64_t)i, 0) };
        layer_ops(m->spec[i].kind)->init(&m->spec[i], m->params + m->w_off[i], m->state + m->st_off[i], &r);
    }
}

int model_find_layer(const Model *m, const char *name) {
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->spec[i].name, name) == 0) return i;
    return -1;
}

/* ---- passes ---- */

static LayerCtx layer_ctx(Model *m, int i, const float *x, int n, const ForwardArgs *a) {
    const LayerSpec *s = &m->spec[i];
    return (LayerCtx){
        /* frozen batch norm runs as in eval mode: running statistics, no updates */
        .s = s, .n = n, .group_n = a->group_n > 0 ? a->group_n : n, .merges = a->merges, .dw_stride = a->stride,
        .training = a->training && !(s->kind == LK_BN && i < m->frozen),
        .in = s->src >= 0 ? m->act[s->src] : x, .out = m->act[i],
        .in2 = s->from >= 0 ? m->act[s->from] : NULL,
        .w = m->params + m->w_off[i], .state = m->state + m->st_off[i],
        .bstat = a->bstat ? a->bstat + m->bs_off[i] : NULL,
        .cache = m->cache[i], .scratch = m->scratch,
        .sample = a->sample, .seed = a->seed, .epoch = a->epoch,
    };
}

/* Layer i's context for group g alone: every per-sample pointer moved on by
 * g groups, the group's own batch statistics and cache slot. */
static LayerCtx group_ctx(const LayerCtx *all, int g, size_t stride) {
    const LayerSpec *s = all->s;
    size_t gn = (size_t)all->group_n, in = shape_size(s->in), out = shape_size(s->out);
    LayerCtx c = *all;
    c.n = all->group_n;
    c.in = all->in + g * gn * in;
    c.out = all->out + g * gn * out;
    if (all->in2) c.in2 = all->in2 + g * gn * shape_size(s->in2);
    if (all->bstat) c.bstat = all->bstat + g * stride;
    if (all->cache) c.cache = all->cache + g * layer_ops(s->kind)->cache_count(s, all->group_n);
    if (all->sample) c.sample = all->sample + g * gn;
    if (all->dout) c.dout = all->dout + g * gn * out;
    if (all->din) c.din = all->din + g * gn * in;
    if (all->din2) c.din2 = all->din2 + g * gn * shape_size(s->in2);
    if (all->dw) c.dw = all->dw + g * stride;
    return c;
}

static int groups_of(int n, const ForwardArgs *a) {
    int gn = a->group_n > 0 ? a->group_n : n;
    DL_CHECK(gn >= 1 && n % gn == 0 && (n / gn == 1 || a->stride > 0 || !a->training));
    return n / gn;
}

const float *model_forward(Model *m, const float *x, int n, const ForwardArgs *a) {
    DL_CHECK(n >= 1 && n <= m->max_n);
    DL_CHECK(!a->training || a->bstat || m->n_bstat == 0);
    int G = groups_of(n, a);
    for (int i = 0; i < m->n_layers; i++) {
        if (m->inplace[i] == 2) continue;   /* done by its batch norm */
        LayerCtx c = layer_ctx(m, i, x, n, a);
        const LayerOps *ops = layer_ops(m->spec[i].kind);
        double t0 = m->prof ? dl_now() : 0.0;
        if (m->spec[i].kind == LK_BN && G > 1)   /* statistics per group */
            for (int g = 0; g < G; g++) {
                LayerCtx cg = group_ctx(&c, g, a->stride);
                ops->forward(&cg);
            }
        else ops->forward(&c);   /* per sample, or grouped */
        if (m->prof) m->prof[2 * i] += dl_now() - t0;
    }
    return m->act[m->n_layers - 1];
}

/* The buffer that collects the gradient of layer j's output (j = -1: the
 * model input), or NULL if nothing needs it: layers below the frozen
 * boundary run no backward at all. */
static float *grad_of(Model *m, int j) {
    if (j >= m->frozen) return m->grad[j];
    return j < 0 && m->frozen == 0 && m->input_grad ? m->dinput : NULL;
}

/* Gradient buffers are not zeroed up front: the first layer to add into
 * one this pass is told it is fresh (c.din_fresh) and writes 0 + its share,
 * or, if it cannot (no .writes_din), the buffer is zeroed just before. A
 * buffer is known by its address (an in-place relu shares its input's). */
static int is_written(float *const *w, int nw, const float *p) {
    for (int k = 0; k < nw; k++) if (w[k] == p) return 1;
    return 0;
}

static void zero_unwritten(float **w, int *nw, float *p, size_t floats) {
    if (!p || is_written(w, *nw, p)) return;
    memset(p, 0, sizeof(float) * floats);
    w[(*nw)++] = p;
}

void model_backward(Model *m, const float *x, int n, const ForwardArgs *a, float *grads) {
    int G = groups_of(n, a);
    float **written = m->written;
    int nw = 0;
    written[nw++] = m->grad[m->n_layers - 1];   /* dlogits: the caller's */
    /* Decreasing i: every consumer of an output has added its share before
     * the output's own layer reads it, always in this order. */
    for (int i = m->n_layers - 1; i >= m->frozen; i--) {
        if (m->inplace[i] == 2) continue;   /* done by its batch norm */
        const LayerSpec *s = &m->spec[i];
        const LayerOps *ops = layer_ops(s->kind);
        LayerCtx c = layer_ctx(m, i, x, n, a);
        size_t np = layer_param_count(s);
        c.dout = m->grad[i];
        c.dw = np ? grads + m->w_off[i] : NULL;
        c.din = grad_of(m, s->src);
        c.din2 = s->from >= 0 ? grad_of(m, s->from) : NULL;
        if (!c.din && !c.din2 && !c.dw) continue;   /* nothing to do; layers without din need params */
        double t0 = m->prof ? dl_now() : 0.0;
        zero_unwritten(written, &nw, m->grad[i], (size_t)n * shape_size(s->out));   /* an output nothing read */
        size_t in_floats = (size_t)n * (s->src < 0 ? shape_size(m->input) : shape_size(s->in));
        if (c.din && !is_written(written, nw, c.din)) {
            if (ops->writes_din) c.din_fresh = 1;
            else memset(c.din, 0, sizeof(float) * in_floats);
            written[nw++] = c.din;
        }
        if (c.din2) zero_unwritten(written, &nw, c.din2, (size_t)n * shape_size(s->in2));
        if (ops->grouped || (!np && s->kind != LK_BN) || G == 1) {
            if (np && !ops->grouped) memset(c.dw, 0, sizeof(float) * np);
            ops->backward(&c);
        } else {
            /* each group's gradient on its own, then summed in a balanced tree into group 0's */
            for (int g = 0; g < G; g++) {
                LayerCtx cg = group_ctx(&c, g, a->stride);
                if (np) memset(cg.dw, 0, sizeof(float) * np);
                ops->backward(&cg);
            }
            if (np && a->merges) {   /* the caller's tree: a stack of subtrees' first groups */
                int top[64], depth = 0;
                for (int g = 0; g < G; g++) {
                    DL_CHECK(depth < 64);
                    top[depth++] = g;
                    for (int k = 0; k < a->merges[g]; k++, depth--) {
                        float *dst = c.dw + top[depth - 2] * a->stride;
                        const float *src = c.dw + top[depth - 1] * a->stride;
                        for (size_t e = 0; e < np; e++) dst[e] += src[e];
                    }
                }
            }
            for (int span = 1; np && !a->merges && span < G; span *= 2)
                for (int g = 0; g + span < G; g += 2 * span) {
                    float *dst = c.dw + g * a->stride;
                    const float *src = c.dw + (g + span) * a->stride;
                    for (size_t k = 0; k < np; k++) dst[k] += src[k];
                }
        }
        if (m->prof) m->prof[2 * i + 1] += dl_now() - t0;
    }
}

void model_update_stats(Model *m, const float *bstat_sum, int groups) {
    for (int i = 0; i < m->n_layers; i++) {
        const LayerSpec *s = &m->spec[i];
        if (s->kind != LK_BN || i < m->frozen) continue;
        int C = s->in.c;
        float *run = m->state + m->st_off[i];
        const float *b = bstat_sum + m->bs_off[i];
        for (int j = 0; j < 2 * C; j++)
            run[j] = (1.0f - s->momentum) * run[j] + s->momentum * (b[j] / (float)groups);
    }
}

/* ---- summary ---- */

static void shape_str(char *buf, size_t cap, Shape s) {
    if (s.h == 1 && s.w == 1) snprintf(buf, cap, "(%d)", s.c);
    else snprintf(buf, cap, "(%d, %d, %d)", s.c, s.h, s.w);
}

void model_summary(const Model *m, FILE *f) {
    char sh[64];
    shape_str(sh, sizeof sh, m->input);
    fprintf(f, "Model: %s   input %s (channels, height, width), %d outputs\n", m->source, sh, m->classes);
    fprintf(f, "%-20s %-10s %-18s %12s\n", "Layer", "Type", "Output shape", "Param #");
    fprintf(f, "%.*s\n", 63, "===============================================================");
    for (int i = 0; i < m->n_layers; i++) {
        const LayerSpec *s = &m->spec[i];
        shape_str(sh, sizeof sh, s->out);
        /* where a layer does not simply read the previous one, say so */
        char link[160] = "";
        if (s->from >= 0)
            snprintf(link, sizeof link, "  <- %s %s %s", s->src >= 0 ? m->spec[s->src].name : "input",
                     s->kind == LK_ADD ? "+" : "|", s->from_name);
        else if (s->input_name[0])
            snprintf(link, sizeof link, "  <- %s", s->input_name);
        fprintf(f, "%-20s %-10s %-18s %12zu%s%s\n", s->name, layer_ops(s->kind)->kind, sh,
                layer_param_count(s), link, i < m->frozen ? "  frozen" : "");
    }
    fprintf(f, "%.*s\n", 63, "===============================================================");
    size_t frozen = 0;
    for (int i = 0; i < m->frozen && i < m->n_layers; i++) frozen += layer_param_count(&m->spec[i]);
    fprintf(f, "Total params: %zu (%.2f MB)\n", m->n_params, m->n_params * 4.0 / 1e6);
    fprintf(f, "Trainable params: %zu\n", m->n_params - frozen);
    fprintf(f, "Non-trainable params: %zu (+ %zu running statistics)\n", frozen, m->n_state);
}
