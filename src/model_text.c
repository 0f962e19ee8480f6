/* model_text.c: the model text parser (text -> LayerSpec list).
 *
 * Model text: one layer per line, `kind key=value ...`, `#` starts a comment,
 * an optional first line `input channels=C height=H width=W`. Kinds: conv,
 * dwconv, dense, relu, leaky, relu6, clip, maxpool, avgpool, gap, bn,
 * dropout, flatten, add, concat (keys: the `keys` table below). Every layer takes `name=NAME` and
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
 * channel, weight (C,1,R,S) and bias (C), PyTorch's Conv2d(groups=C);
 * `conv groups=G` is the general grouped conv. `concat from=NAME` stacks the
 * output of NAME after its input along the channels (SqueezeNet's fire
 * modules). Pools take `pad=N`, `ceil=1` and (avgpool) `count_pad=0|1`.
 * The zoo's texts are in zoo.c; buffers and passes in model.c. */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ---- */

/* Which keys each kind accepts (bit per LayerKind), for "unknown key" errors. */
#define K(x) (1u << (x))
static const struct { const char *key; unsigned kinds; } keys[] = {
    { "name", ~0u },
    { "input", ~0u },
    { "from", K(LK_ADD) | K(LK_CONCAT) },
    { "filters", K(LK_CONV) },
    { "groups", K(LK_CONV) },
    { "size", K(LK_CONV) | K(LK_DWCONV) | K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "stride", K(LK_CONV) | K(LK_DWCONV) | K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "pad", K(LK_CONV) | K(LK_DWCONV) | K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "ceil", K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "count_pad", K(LK_AVGPOOL) },
    { "min", K(LK_CLIP) },
    { "max", K(LK_CLIP) },
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
    } else if (strcmp(key, "filters") == 0) {
        if (strcmp(val, "classes") == 0) s->filters = UNITS_CLASSES;
        else ok = parse_int(val, &s->filters);
    } else if (strcmp(key, "groups") == 0) ok = parse_int(val, &s->groups) && s->groups >= 1;
    else if (strcmp(key, "ceil") == 0) ok = parse_int(val, &s->ceil_mode) && (s->ceil_mode == 0 || s->ceil_mode == 1);
    else if (strcmp(key, "count_pad") == 0) ok = parse_int(val, &s->count_pad) && (s->count_pad == 0 || s->count_pad == 1);
    else if (strcmp(key, "min") == 0) ok = parse_float(val, &s->lo) && isfinite(s->lo);
    else if (strcmp(key, "max") == 0) ok = parse_float(val, &s->hi) && isfinite(s->hi);
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
            { "filters", "a whole number >= 1 or classes" }, { "size", "a whole number >= 1" }, { "stride", "a whole number >= 1" },
            { "pad", "a whole number >= 0, same or valid" }, { "units", "a whole number >= 1 or classes" },
            { "alpha", "a number >= 0" }, { "rate", "a number in [0, 1)" }, { "eps", "a number > 0" },
            { "momentum", "a number in [0, 1]" }, { "groups", "a whole number >= 1 dividing the input and output channels" },
            { "ceil", "0 or 1" }, { "count_pad", "0 or 1" }, { "min", "a finite number" }, { "max", "a finite number" },
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
                        .groups = 1, .count_pad = 1, .lo = 0.0f, .hi = 6.0f,
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
        if (layer_has_from(s->kind)) {
            if (!s->from_name[0])
                st = dl_fail(DL_EFORMAT, "%s:%d: layer '%s': %s needs from=NAME (the earlier layer whose output it %s its input)",
                             source, s->line, s->name, layer_ops(s->kind)->kind,
                             s->kind == LK_ADD ? "adds to" : "stacks after");
            else st = resolve_link(&s->from, specs, n, i, "from", s->from_name, source);
        }
    }
    return st;
}

/* Parses the text into specs; `declared` gets an `input` line if there is one. */
DlStatus model_text_parse(const char *text, const char *source, LayerSpec **out, int *count, Shape *declared) {
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

char *model_text_head_classes(const char *text) {
    /* the last dense or conv line, if only parameter-free layers that keep the
     * channel count follow it (relu, pooling to a vector, flatten, dropout) */
    static const char *const after[] = { "relu", "relu6", "clip", "leaky", "gap", "flatten", "dropout" };
    const char *p = text, *head = NULL, *head_end = NULL;
    const char *key = NULL;
    while (*p) {
        const char *e = strchr(p, '\n');
        const char *end = e ? e : p + strlen(p);
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        size_t kl = 0;
        while (q + kl < end && q[kl] != ' ' && q[kl] != '\t' && q[kl] != '\r' && q[kl] != '#') kl++;
        if (kl && *q != '#' && !(kl == 5 && !strncmp(q, "input", 5))) {
            if ((kl == 5 && !strncmp(q, "dense", 5)) || (kl == 4 && !strncmp(q, "conv", 4))) {
                head = q; head_end = end; key = q[0] == 'd' ? "units=" : "filters=";
            } else {
                int ok = 0;
                for (size_t i = 0; i < sizeof after / sizeof *after; i++) ok |= strlen(after[i]) == kl && !strncmp(q, after[i], kl);
                if (!ok) head = NULL;
            }
        }
        p = e ? e + 1 : end;
    }
    if (!head) return dl_strdup(text);
    const char *u = head;
    size_t klen = strlen(key);
    while ((u = strstr(u, key)) && u < head_end && (u[-1] != ' ' && u[-1] != '\t')) u++;
    if (!u || u >= head_end) return dl_strdup(text);
    const char *v = u + klen, *ve = v;
    while (ve < head_end && *ve >= '0' && *ve <= '9') ve++;
    if (ve == v) return dl_strdup(text);   /* already =classes */
    size_t pre = (size_t)(v - text), len = strlen(text);
    char *out = dl_malloc(len + 16);
    memcpy(out, text, pre);
    strcpy(out + pre, "classes");
    strcat(out, ve);
    return out;
}
