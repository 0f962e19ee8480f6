/* model.c: the model text parser, the zoo, buffer layout, and the forward /
 * backward passes over the layer list. */
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
};
#define ZOO_COUNT (sizeof zoo / sizeof zoo[0])

const char *model_zoo_names(void) { return "fmnist-tfdoc fmnist-bn"; }

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
    { "filters", K(LK_CONV) },
    { "size", K(LK_CONV) | K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "stride", K(LK_CONV) | K(LK_MAXPOOL) | K(LK_AVGPOOL) },
    { "pad", K(LK_CONV) },
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
    if (strcmp(key, "name") == 0) {
        ok = strlen(val) < sizeof s->name && strspn(val, "abcdefghijklmnopqrstuvwxyz"
             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == strlen(val);
        if (ok) strcpy(s->name, val);
        else return dl_fail(DL_EFORMAT, "%s: name '%s' must be letters, digits, '_', '-' or '.' (at most 63)", where, val);
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
    if (!ok) return dl_fail(DL_EFORMAT, "%s: bad value '%s' for '%s'", where, val, key);
    return DL_OK;
}

static LayerSpec default_spec(LayerKind k) {
    return (LayerSpec){ .kind = k, .size = k == LK_CONV ? 3 : 2, .stride = k == LK_CONV ? 1 : 0,
                        .alpha = 0.01f, .rate = 0.5f, .eps = 1e-5f, .momentum = 0.1f };
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
    if (st != DL_OK) { dl_free(specs); return st; }
    *out = specs;
    *count = n;
    return DL_OK;
}

/* ---- building ---- */

void model_free(Model *m) {
    if (m->act) for (int i = 0; i < m->n_layers; i++) dl_free(m->act[i]);
    if (m->cache) for (int i = 0; i < m->n_layers; i++) dl_free(m->cache[i]);
    dl_free(m->act); dl_free(m->cache);
    dl_free(m->dbuf[0]); dl_free(m->dbuf[1]);
    dl_free(m->scratch); dl_free(m->dlogits); dl_free(m->dinput);
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
    Shape cur = input;
    for (int i = 0; i < n && st == DL_OK; i++) {
        LayerSpec *s = &spec[i];
        s->in = cur;
        if (s->kind == LK_DENSE && s->units == UNITS_CLASSES) {
            if (classes < 1) st = dl_fail(DL_EFORMAT, "%s:%d: units=classes needs a dataset (give units=N)", source, s->line);
            else s->units = classes;
        }
        if (st == DL_OK && (st = layer_ops(s->kind)->shape(s)) != DL_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", dl_errmsg());
            st = dl_fail(DL_EFORMAT, "%s:%d: layer '%s': %s", source, s->line, s->name, msg);
        }
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
    size_t largest = shape_size(input), scratch = 0;
    for (int i = 0; i < n; i++) {
        const LayerSpec *s = &spec[i];
        const LayerOps *ops = layer_ops(s->kind);
        m->w_off[i] = m->n_params;  m->n_params += layer_param_count(s);
        m->st_off[i] = m->n_state;  m->n_state += layer_state_count(s);
        m->bs_off[i] = m->n_bstat;  m->n_bstat += (size_t)ops->bstat_count_per_channel * s->in.c;
        if (shape_size(s->out) > largest) largest = shape_size(s->out);
        size_t sc = ops->scratch_count(s, max_n);
        if (sc > scratch) scratch = sc;
    }
    m->params = dl_calloc(m->n_params, sizeof(float));
    m->state = dl_calloc(m->n_state, sizeof(float));
    m->act = dl_calloc(n, sizeof(float *));
    m->cache = dl_calloc(n, sizeof(float *));
    for (int i = 0; i < n; i++) {
        m->act[i] = dl_malloc(sizeof(float) * max_n * shape_size(spec[i].out));
        size_t cc = layer_ops(spec[i].kind)->cache_count(&spec[i], max_n);
        m->cache[i] = cc ? dl_malloc(sizeof(float) * cc) : NULL;
    }
    m->dbuf[0] = dl_malloc(sizeof(float) * max_n * largest);
    m->dbuf[1] = dl_malloc(sizeof(float) * max_n * largest);
    m->scratch = dl_malloc(sizeof(float) * (scratch ? scratch : 1));
    m->dlogits = dl_malloc(sizeof(float) * max_n * m->classes);
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
    return (LayerCtx){
        .s = &m->spec[i], .n = n, .training = a->training,
        .in = i ? m->act[i - 1] : x, .out = m->act[i],
        .w = m->params + m->w_off[i], .state = m->state + m->st_off[i],
        .bstat = a->bstat ? a->bstat + m->bs_off[i] : NULL,
        .cache = m->cache[i], .scratch = m->scratch,
        .sample = a->sample, .seed = a->seed, .epoch = a->epoch,
    };
}

const float *model_forward(Model *m, const float *x, int n, const ForwardArgs *a) {
    DL_CHECK(n >= 1 && n <= m->max_n);
    DL_CHECK(!a->training || a->bstat || m->n_bstat == 0);
    for (int i = 0; i < m->n_layers; i++) {
        LayerCtx c = layer_ctx(m, i, x, n, a);
        layer_ops(m->spec[i].kind)->forward(&c);
    }
    return m->act[m->n_layers - 1];
}

void model_backward(Model *m, const float *x, int n, const ForwardArgs *a, float *grads) {
    const float *dout = m->dlogits;
    /* Layers below the frozen boundary need no gradient at all: stop there. */
    for (int i = m->n_layers - 1; i >= m->frozen; i--) {
        LayerCtx c = layer_ctx(m, i, x, n, a);
        c.dout = dout;
        c.dw = layer_param_count(&m->spec[i]) ? grads + m->w_off[i] : NULL;
        c.din = NULL;
        if (i > m->frozen || (i == 0 && m->input_grad)) {   /* someone below needs dout */
            c.din = i ? m->dbuf[i & 1] : m->dinput;
            memset(c.din, 0, sizeof(float) * n * shape_size(m->spec[i].in));
        }
        layer_ops(m->spec[i].kind)->backward(&c);
        dout = c.din;
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
        fprintf(f, "%-20s %-10s %-18s %12zu%s\n", s->name, layer_ops(s->kind)->kind, sh,
                layer_param_count(s), i < m->frozen ? "  frozen" : "");
    }
    fprintf(f, "%.*s\n", 63, "===============================================================");
    size_t frozen = 0;
    for (int i = 0; i < m->frozen && i < m->n_layers; i++) frozen += layer_param_count(&m->spec[i]);
    fprintf(f, "Total params: %zu (%.2f MB)\n", m->n_params, m->n_params * 4.0 / 1e6);
    fprintf(f, "Trainable params: %zu\n", m->n_params - frozen);
    fprintf(f, "Non-trainable params: %zu (+ %zu running statistics)\n", frozen, m->n_state);
}
