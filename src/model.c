/* model.c: the model text parser, the zoo, buffer layout, and the forward /
 * backward passes over the layer list.
 *
 * Model text: one layer per line, `kind key=value ...`, `#` starts a comment,
 * an optional first line `input channels=C height=H width=W`. Kinds: conv,
 * dwconv, dense, relu, leaky, maxpool, avgpool, gap, bn, dropout, flatten,
 * add (keys: the `keys` table below). Every layer takes `name=NAME` and
 * `input=NAME`: by default a layer reads the previous layer's output (the
 * first one reads the model input); `input=NAME` makes it read the output of
 * the earlier layer NAME instead. `add from=NAME` adds the output of the
 * earlier layer NAME to its input (same shape). With these two a model is a
 * DAG, listed in an order that computes it; the last layer is the output.
 * A ResNet basic block with a projection shortcut (the zoo's resnet8):
 *     conv name=b2c1 filters=32 size=3 stride=2 pad=1
 *     bn   name=b2n1
 *     relu
 *     conv name=b2c2 filters=32 size=3 pad=same
 *     bn   name=b2n2
 *     conv name=b2sc filters=32 size=1 stride=2 input=b1out   # the skip path
 *     bn   name=b2scn
 *     add  from=b2n2                                          # b2scn + b2n2
 *     relu name=b2out
 * `dwconv size=3 stride=1 pad=same` is a depthwise conv: one filter per
 * channel, weight (C,1,R,S) and bias (C), PyTorch's Conv2d(groups=C).
 *
 * Backward: every layer's output has its own gradient buffer, which each
 * consumer (the next layer, an `input=` reader, an `add from=` reader) adds
 * into, in decreasing consumer order, so the sums are the same bits every
 * run. In a plain chain each output has one consumer, so the sums are the
 * same bits as a pass with two ping-pong buffers. */
#include "model.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the zoo: the same text format as model files ---- */

static const struct { const char *name, *text; } zoo[] = {
    { "fmnist-tfdoc",
      "# The TensorFlow tutorial CNN (DESIGN.md reference model).\n"
      "conv    name=conv1 filters=32 size=5 pad=same\n"
      "relu\n"
      "maxpool size=2\n"
      "conv    name=conv2 filters=64 size=5 pad=same\n"
      "relu\n"
      "maxpool size=2\n"
      "dense   name=fc1 units=1024\n"
      "relu\n"
      "dropout rate=0.4\n"
      "dense   name=fc2 units=classes\n" },
    { "fmnist-bn",
      "# Two conv+pool blocks with batch norm (DESIGN.md reference model).\n"
      "conv    name=conv1 filters=32 size=3 pad=same\n"
      "bn      name=bn1\n"
      "relu\n"
      "conv    name=conv2 filters=32 size=3 pad=same\n"
      "bn      name=bn2\n"
      "relu\n"
      "maxpool size=2\n"
      "conv    name=conv3 filters=64 size=3 pad=same\n"
      "bn      name=bn3\n"
      "relu\n"
      "conv    name=conv4 filters=64 size=3 pad=same\n"
      "bn      name=bn4\n"
      "relu\n"
      "maxpool size=2\n"
      "dense   name=fc1 units=128\n"
      "relu\n"
      "dropout rate=0.3\n"
      "dense   name=fc2 units=classes\n" },
    { "resnet8",
      "# ResNet-8, the CIFAR layout of He et al. 2016 (3 stages of one basic block,\n"
      "# 16/32/64 filters), with 1x1 conv + bn projection shortcuts where the\n"
      "# shape changes. Convs keep their bias (dltrain convs always have one).\n"
      "conv    name=stem filters=16 size=3 pad=same\n"
      "bn      name=stem_bn\n"
      "relu    name=stem_relu\n"
      "conv    name=b1c1 filters=16 size=3 pad=same\n"
      "bn      name=b1n1\n"
      "relu    name=b1r1\n"
      "conv    name=b1c2 filters=16 size=3 pad=same\n"
      "bn      name=b1n2\n"
      "add     name=b1add from=stem_relu\n"
      "relu    name=b1out\n"
      "conv    name=b2c1 filters=32 size=3 stride=2 pad=1\n"
      "bn      name=b2n1\n"
      "relu    name=b2r1\n"
      "conv    name=b2c2 filters=32 size=3 pad=same\n"
      "bn      name=b2n2\n"
      "conv    name=b2sc filters=32 size=1 stride=2 input=b1out\n"
      "bn      name=b2scn\n"
      "add     name=b2add from=b2n2\n"
      "relu    name=b2out\n"
      "conv    name=b3c1 filters=64 size=3 stride=2 pad=1\n"
      "bn      name=b3n1\n"
      "relu    name=b3r1\n"
      "conv    name=b3c2 filters=64 size=3 pad=same\n"
      "bn      name=b3n2\n"
      "conv    name=b3sc filters=64 size=1 stride=2 input=b2out\n"
      "bn      name=b3scn\n"
      "add     name=b3add from=b3n2\n"
      "relu    name=b3out\n"
      "gap     name=pool\n"
      "dense   name=fc units=classes\n" },
    { "mobilenet-s",
      "# A small MobileNet (v1 layout, Howard et al. 2017): a strided stem, then\n"
      "# depthwise-separable blocks (3x3 depthwise + bn + relu, 1x1 pointwise +\n"
      "# bn + relu), widths 32-64-128-128-128, stride 2 in blocks 2 and 4.\n"
      "conv    name=stem filters=32 size=3 stride=2 pad=1\n"
      "bn      name=stem_bn\n"
      "relu    name=stem_relu\n"
      "dwconv  name=b1dw size=3 pad=same\n"
      "bn      name=b1dwn\n"
      "relu    name=b1dwr\n"
      "conv    name=b1pw filters=64 size=1\n"
      "bn      name=b1pwn\n"
      "relu    name=b1out\n"
      "dwconv  name=b2dw size=3 stride=2 pad=1\n"
      "bn      name=b2dwn\n"
      "relu    name=b2dwr\n"
      "conv    name=b2pw filters=128 size=1\n"
      "bn      name=b2pwn\n"
      "relu    name=b2out\n"
      "dwconv  name=b3dw size=3 pad=same\n"
      "bn      name=b3dwn\n"
      "relu    name=b3dwr\n"
      "conv    name=b3pw filters=128 size=1\n"
      "bn      name=b3pwn\n"
      "relu    name=b3out\n"
      "dwconv  name=b4dw size=3 stride=2 pad=1\n"
      "bn      name=b4dwn\n"
      "relu    name=b4dwr\n"
      "conv    name=b4pw filters=128 size=1\n"
      "bn      name=b4pwn\n"
      "relu    name=b4out\n"
      "gap     name=pool\n"
      "dropout name=drop rate=0.2\n"
      "dense   name=fc units=classes\n" },
};
#define ZOO_COUNT (sizeof zoo / sizeof zoo[0])

const char *model_zoo_names(void) { return "fmnist-tfdoc fmnist-bn resnet8 mobilenet-s"; }

DlStatus model_text_load(char **text, const char *name_or_file) {
    *text = NULL;
    for (size_t i = 0; i < ZOO_COUNT; i++)
        if (strcmp(zoo[i].name, name_or_file) == 0) { *text = dl_strdup(zoo[i].text); return DL_OK; }
    FILE *f = fopen(name_or_file, "rb");
    if (!f)
        return dl_fail(DL_EIO, "model '%s' is neither a zoo model (%s) nor a readable file: %s",
                       name_or_file, model_zoo_names(), strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = dl_malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) buf = dl_realloc(buf, cap *= 2);
    }
    int err = ferror(f);
    fclose(f);
    if (err) { dl_free(buf); return dl_fail(DL_EIO, "cannot read model file '%s'", name_or_file); }
    buf[len] = '\0';
    *text = buf;
    return DL_OK;
}

/* ---- parsing ---- */

/* Which keys each kind accepts (bit per LayerKind), for "unknown key" errors. */
#define K(x) (1u << (x))
static const struct { const char *key; unsigned kinds; } keys[] = {
    { "name", ~0u },
    { "input", ~0u },
    { "from", K(LK_ADD) },
    { "filters", K(LK_CONV) },
    { "size", K(LK_CONV) | K(LK_DWCONV) | K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "stride", K(LK_CONV) | K(LK_DWCONV) | K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "pad", K(LK_CONV) | K(LK_DWCONV) },
    { "units", K(LK_DENSE) },
    { "alpha", K(LK_LEAKY) },
    { "rate", K(LK_DROPOUT) },
    { "eps", K(LK_BN) },
    { "momentum", K(LK_BN) },
};
#undef K

static int parse_int(const char *v, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < -1000000 || x > 100000000) return 0;
    *out = (int)x;
    return 1;
}

static int parse_float(const char *v, float *out) {
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (errno || end == v || *end) return 0;
    *out = x;
    return 1;
}

static void list_keys(char *buf, size_t cap, LayerKind k) {
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].kinds & (1u << k)) {
            strncat(buf, buf[0] ? ", " : "", cap - strlen(buf) - 1);
            strncat(buf, keys[i].key, cap - strlen(buf) - 1);
        }
}

static void list_kinds(char *buf, size_t cap) {
    buf[0] = '\0';
    for (int k = 0; k < LK_COUNT; k++) {
        strncat(buf, k ? ", " : "", cap - strlen(buf) - 1);
        strncat(buf, layer_ops((LayerKind)k)->kind, cap - strlen(buf) - 1);
    }
}

/* One `key=value` for layer s. */
static DlStatus parse_key(LayerSpec *s, const char *key, const char *val, const char *where) {
    size_t i;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].key, key) == 0 && (keys[i].kinds & (1u << s->kind))) break;
    if (i == sizeof keys / sizeof keys[0]) {
        char list[256];
        list_keys(list, sizeof list, s->kind);
        return dl_fail(DL_EFORMAT, "%s: '%s' has no key '%s' (its keys: %s)", where,
                       layer_ops(s->kind)->kind, key, list);
    }
    int ok = 1;
    if (strcmp(key, "name") == 0 || strcmp(key, "input") == 0 || strcmp(key, "from") == 0) {
        char *dst = key[0] == 'n' ? s->name : key[0] == 'i' ? s->input_name : s->from_name;
        ok = (val[0] || dst == s->name) && strlen(val) < sizeof s->name && strspn(val, "abcdefghijklmnopqrstuvwxyz"
             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == strlen(val);
        if (ok) strcpy(dst, val);
        else return dl_fail(DL_EFORMAT, "%s: %s '%s' must be letters, digits, '_', '-' or '.' (at most 63)", where, key, val);
    } else if (strcmp(key, "filters") == 0) ok = parse_int(val, &s->filters);
    else if (strcmp(key, "size") == 0) ok = parse_int(val, &s->size);
    else if (strcmp(key, "stride") == 0) ok = parse_int(val, &s->stride);
    else if (strcmp(key, "pad") == 0) {
        if (strcmp(val, "same") == 0) s->pad = PAD_SAME;
        else if (strcmp(val, "valid") == 0) s->pad = 0;
        else ok = parse_int(val, &s->pad) && s->pad >= 0;
    } else if (strcmp(key, "units") == 0) {
        if (strcmp(val, "classes") == 0) s->units = UNITS_CLASSES;
        else ok = parse_int(val, &s->units);
    } else if (strcmp(key, "alpha") == 0) ok = parse_float(val, &s->alpha);
    else if (strcmp(key, "rate") == 0) ok = parse_float(val, &s->rate);
    else if (strcmp(key, "eps") == 0) ok = parse_float(val, &s->eps) && s->eps > 0;
    else if (strcmp(key, "momentum") == 0) ok = parse_float(val, &s->momentum) && s->momentum >= 0 && s->momentum <= 1;
    if (!ok) {
        static const struct { const char *key, *want; } hint[] = {
            { "filters", "a whole number >= 1" }, { "size", "a whole number >= 1" }, { "stride", "a whole number >= 1" },
            { "pad", "a whole number >= 0, same or valid" }, { "units", "a whole number >= 1 or classes" },
            { "alpha", "a number >= 0" }, { "rate", "a number in [0, 1)" }, { "eps", "a number > 0" },
            { "momentum", "a number in [0, 1]" },
        };
        for (size_t i = 0; i < sizeof hint / sizeof hint[0]; i++)
            if (!strcmp(hint[i].key, key))
                return dl_fail(DL_EFORMAT, "%s: bad value '%s' for '%s' (expected %s)", where, val, key, hint[i].want);
        return dl_fail(DL_EFORMAT, "%s: bad value '%s' for '%s'", where, val, key);
    }
    return DL_OK;
}

static LayerSpec default_spec(LayerKind k) {
    int conv = k == LK_CONV || k == LK_DWCONV;
    return (LayerSpec){ .kind = k, .size = conv ? 3 : 2, .stride = conv ? 1 : 0,
                        .alpha = 0.01f, .rate = 0.5f, .eps = 1e-5f, .momentum = 0.1f,
                        .src = -1, .from = -1 };
}

/* Index of the layer `name` for `key` (input or from) of layer i: an earlier
 * layer, or DL_EFORMAT naming the line. */
static DlStatus resolve_link(int *out, const LayerSpec *specs, int n, int i, const char *key,
                             const char *name, const char *source) {
    const LayerSpec *s = &specs[i];
    for (int j = 0; j < n; j++) {
        if (strcmp(specs[j].name, name) != 0) continue;
        if (j < i) { *out = j; return DL_OK; }
        return dl_fail(DL_EFORMAT, "%s:%d: layer '%s': %s=%s names %s; %s= must name an earlier layer",
                       source, s->line, s->name, key, name,
                       j == i ? "this layer itself" : "a later layer", key);
    }
    return dl_fail(DL_EFORMAT, "%s:%d: layer '%s': %s=%s: no layer has that name (%s= names an earlier layer)",
                   source, s->line, s->name, key, name, key);
}

/* Fills src and from of every layer from input= and from=. */
static DlStatus resolve_links(LayerSpec *specs, int n, const char *source) {
    DlStatus st = DL_OK;
    for (int i = 0; i < n && st == DL_OK; i++) {
        LayerSpec *s = &specs[i];
        s->src = i - 1;
        if (s->input_name[0]) st = resolve_link(&s->src, specs, n, i, "input", s->input_name, source);
        if (st != DL_OK) break;
        if (s->kind == LK_ADD) {
            if (!s->from_name[0])
                st = dl_fail(DL_EFORMAT, "%s:%d: layer '%s': add needs from=NAME (the earlier layer whose output it adds to its input)",
                             source, s->line, s->name);
            else st = resolve_link(&s->from, specs, n, i, "from", s->from_name, source);
        }
    }
    return st;
}

/* Parses the text into specs; `declared` gets an `input` line if there is one. */
static DlStatus parse_text(const char *text, const char *source, LayerSpec **out, int *count, Shape *declared) {
    *out = NULL; *count = 0;
    *declared = (Shape){ 0, 0, 0 };
    int cap = 16, n = 0, lineno = 0;
    LayerSpec *specs = dl_calloc(cap, sizeof *specs);
    const char *p = text;
    DlStatus st = DL_OK;
    while (*p && st == DL_OK) {
        lineno++;
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[1024], where[512];
        snprintf(where, sizeof where, "%s:%d", source, lineno);
        if (len >= sizeof line) { st = dl_fail(DL_EFORMAT, "%s: line too long", where); break; }
        memcpy(line, p, len);
        line[len] = '\0';
        p = e ? e + 1 : p + len;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *save = NULL, *tok = strtok_r(line, " \t\r", &save);
        if (!tok) continue;
        if (strcmp(tok, "input") == 0) {
            if (n > 0) { st = dl_fail(DL_EFORMAT, "%s: 'input' must come before every layer", where); break; }
            while (st == DL_OK && (tok = strtok_r(NULL, " \t\r", &save))) {
                char *eq = strchr(tok, '=');
                int v = 0;
                if (!eq || !parse_int(eq + 1, &v) || v < 1) { st = dl_fail(DL_EFORMAT, "%s: expected channels=C height=H width=W, got '%s'", where, tok); break; }
                *eq = '\0';
                if (strcmp(tok, "channels") == 0) declared->c = v;
                else if (strcmp(tok, "height") == 0) declared->h = v;
                else if (strcmp(tok, "width") == 0) declared->w = v;
                else st = dl_fail(DL_EFORMAT, "%s: 'input' has no key '%s' (its keys: channels, height, width)", where, tok);
            }
            if (st == DL_OK && (!declared->c || !declared->h || !declared->w))
                st = dl_fail(DL_EFORMAT, "%s: 'input' needs channels=C height=H width=W", where);
            continue;
        }
        LayerKind k = layer_kind_by_name(tok);
        if (k == LK_COUNT) {
            char kinds[256];
            list_kinds(kinds, sizeof kinds);
            st = dl_fail(DL_EFORMAT, "%s: unknown layer kind '%s' (kinds: input, %s)", where, tok, kinds);
            break;
        }
        if (n == cap) specs = dl_realloc(specs, sizeof *specs * (cap *= 2));
        LayerSpec *s = &specs[n];
        *s = default_spec(k);
        s->line = lineno;
        s->index = n;
        while (st == DL_OK && (tok = strtok_r(NULL, " \t\r", &save))) {
            char *eq = strchr(tok, '=');
            if (!eq) { st = dl_fail(DL_EFORMAT, "%s: expected key=value, got '%s'", where, tok); break; }
            *eq = '\0';
            st = parse_key(s, tok, eq + 1, where);
        }
        if (st != DL_OK) break;
        if (!s->name[0]) snprintf(s->name, sizeof s->name, "%s%d", layer_ops(k)->kind, n + 1);
        for (int j = 0; j < n; j++)
            if (strcmp(specs[j].name, s->name) == 0) {
                st = dl_fail(DL_EFORMAT, "%s: layer name '%s' is already used on line %d", where, s->name, specs[j].line);
                break;
            }
        n++;
    }
    if (st == DL_OK && n == 0) st = dl_fail(DL_EFORMAT, "%s: no layers (one per line: conv, dense, relu, ...)", source);
    if (st == DL_OK) st = resolve_links(specs, n, source);
    if (st != DL_OK) { dl_free(specs); return st; }
    *out = specs;
    *count = n;
    return DL_OK;
}

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
    DlStatus st = parse_text(text, source, &spec, &n, &declared);
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
        if (s->kind == LK_ADD) s->in2 = spec[s->from].out;
        if (s->kind == LK_DENSE && s->units == UNITS_CLASSES) {
            if (classes < 1) st = dl_fail(DL_EFORMAT, "%s:%d: units=classes needs a dataset (give units=N)", source, s->line);
            else s->units = classes;
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
        .s = s, .n = n, .group_n = a->group_n > 0 ? a->group_n : n,
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
            for (int span = 1; np && span < G; span *= 2)
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
            snprintf(link, sizeof link, "  <- %s + %s", s->src >= 0 ? m->spec[s->src].name : "input", s->from_name);
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
