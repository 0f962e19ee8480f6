/* test_layers.c: finite-difference gradient checks for every layer kind and
 * both losses, and for models with skip connections (input=, add from=),
 * whose outputs feed several consumers. For a model (usually one layer) and a fixed random upstream
 * gradient r, L = sum(y * r). The analytic gradient from backward, projected
 * on a random direction, must match the central difference of L along that
 * direction, for the input and for every parameter array. L is summed in
 * double; the step h is large enough that float32 rounding stays far below
 * the tolerance, and inputs keep away from kinks (ReLU at 0, max-pool ties).
 * A real bug (a wrong index, a missing term) gives an error of order 1. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "layers/loss.h"
#include "model.h"

typedef struct {
    Model m;
    int n, training;
    float *x, *r, *grads;
    int64_t sample[16];
    ForwardArgs a;
    float *bstat;
} Case;

/* Uniform in [-1,1], pushed at least `gap` away from 0. */
static float away(DlRng *g, float gap) {
    float v = 2.0f * rng_unit(g) - 1.0f;
    if (fabsf(v) < gap) v = v < 0 ? -gap - fabsf(v) : gap + v;
    return v;
}

static void case_init(Case *c, const char *text, int n, int training, uint64_t seed) {
    memset(c, 0, sizeof *c);
    DlStatus st = model_init(&c->m, text, "test", (Shape){ 0, 0, 0 }, 0, n);
    if (st != DL_OK) fail_msg("model_init: %s", dl_errmsg());
    model_init_params(&c->m, seed);
    DlRng g = { seed * 7919 + 1 };
    /* non-trivial batch-norm affine params and running stats */
    for (int i = 0; i < c->m.n_layers; i++)
        if (c->m.spec[i].kind == LK_BN) {
            int C = c->m.spec[i].in.c;
            float *w = c->m.params + c->m.w_off[i], *s = c->m.state + c->m.st_off[i];
            for (int k = 0; k < C; k++) {
                w[k] = 1.0f + 0.5f * away(&g, 0.0f); w[C + k] = 0.3f * away(&g, 0.0f);
                s[k] = 0.2f * away(&g, 0.0f); s[C + k] = 1.0f + 0.5f * rng_unit(&g);
            }
        }
    c->n = n;
    c->training = training;
    size_t in = (size_t)n * shape_size(c->m.input), out = (size_t)n * c->m.classes;
    c->x = test_malloc(sizeof(float) * in);
    c->r = test_malloc(sizeof(float) * out);
    c->grads = test_calloc(c->m.n_params ? c->m.n_params : 1, sizeof(float));
    c->bstat = test_calloc(c->m.n_bstat + 1, sizeof(float));
    for (size_t i = 0; i < in; i++) c->x[i] = away(&g, 0.05f);
    for (size_t i = 0; i < out; i++) c->r[i] = away(&g, 0.0f);
    for (int i = 0; i < n; i++) c->sample[i] = 100 + 3 * i;
    c->a = (ForwardArgs){ .training = training, .sample = c->sample, .seed = seed, .epoch = 2,
                          .bstat = c->bstat };
    c->m.input_grad = 1;
}

static void case_free(Case *c) {
    test_free(c->x); test_free(c->r); test_free(c->grads); test_free(c->bstat);
    model_free(&c->m);
}

static double loss_at(Case *c) {
    const float *y = model_forward(&c->m, c->x, c->n, &c->a);
    double L = 0.0;
    for (size_t i = 0; i < (size_t)c->n * c->m.classes; i++) L += (double)y[i] * c->r[i];
    return L;
}

/* Central difference of L along dir applied to v[0..len), vs analytic . dir */
static void check_direction(Case *c, float *v, const float *analytic, size_t len, float h,
                            double tol, const char *what, uint64_t seed) {
    DlRng g = { seed };
    float *dir = test_malloc(sizeof(float) * len), *keep = test_malloc(sizeof(float) * len);
    memcpy(keep, v, sizeof(float) * len);
    double an = 0.0;
    for (size_t i = 0; i < len; i++) { dir[i] = away(&g, 0.0f); an += (double)analytic[i] * dir[i]; }
    for (size_t i = 0; i < len; i++) v[i] = keep[i] + h * dir[i];
    double lp = loss_at(c);
    for (size_t i = 0; i < len; i++) v[i] = keep[i] - h * dir[i];
    double lm = loss_at(c);
    memcpy(v, keep, sizeof(float) * len);
    /* the step actually taken is float-rounded: measure it */
    double num = (lp - lm) / (2.0 * h);
    double err = fabs(an - num) / fmax(1.0, fabs(num));
    if (err > tol) fail_msg("%s: analytic %.8g vs numeric %.8g (rel err %.3g > %.3g)", what, an, num, err, tol);
    test_free(dir); test_free(keep);
}

static void check_grads(const char *text, int n, int training, float h, double tol) {
    Case c;
    case_init(&c, text, n, training, 1234);
    loss_at(&c);
    memcpy(c.m.dlogits, c.r, sizeof(float) * n * c.m.classes);
    model_backward(&c.m, c.x, n, &c.a, c.grads);
    size_t in = (size_t)n * shape_size(c.m.input);
    float *dx = test_malloc(sizeof(float) * in);
    memcpy(dx, c.m.dinput, sizeof(float) * in);
    check_direction(&c, c.x, dx, in, h, tol, "input gradient", 77);
    test_free(dx);
    for (int i = 0; i < c.m.n_layers; i++) {
        TensorInfo t[4];
        int nt = layer_ops(c.m.spec[i].kind)->params(&c.m.spec[i], t);
        size_t off = c.m.w_off[i];
        for (int j = 0; j < nt; j++) {
            char what[128];
            snprintf(what, sizeof what, "%s.%s gradient", c.m.spec[i].name, t[j].name);
            size_t len = tensor_info_size(&t[j]);
            check_direction(&c, c.m.params + off, c.grads + off, len, h, tol, what, 99 + i * 4 + j);
            off += len;
        }
    }
    case_free(&c);
}

#define IN(c, h, w) "input channels=" #c " height=" #h " width=" #w "\n"

static void test_conv_same(void **s) { (void)s; check_grads(IN(3, 6, 5) "conv name=c filters=4 size=3 pad=same\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_5x5(void **s) { (void)s; check_grads(IN(2, 7, 7) "conv name=c filters=3 size=5 pad=2\n", 2, 1, 1e-2f, 1e-3); }
/* The paths of conv.c: stride-1 3x3 and 5x5 (and any size from 32 input
 * channels) take the direct AVX-512 kernels (rows longer than one block of
 * output pixels in test_conv_direct's input gradient, channel counts off the
 * 32 blocks, pad other than same; test_conv_same and test_conv_5x5 cover the
 * few-channel weight gradient), or from 16 channels Winograd (below); other
 * sizes from 8 channels the shifted GEMMs. */
static void test_conv_direct(void **s) { (void)s; check_grads(IN(32, 6, 19) "conv name=c filters=9 size=3 pad=same\n", 2, 1, 1e-2f, 1e-3); }
/* input channels in two chunks (forward and input gradient direct, 3x3) */
static void test_conv_direct_chunks(void **s) { (void)s; check_grads(IN(15, 6, 11) "conv name=c filters=15 size=3 pad=same\n", 2, 1, 1e-2f, 1e-3); }
/* pad past size-1: off the direct kernels (their input gradient pads dy by size-1-pad) */
static void test_conv_wide_pad(void **s) {
    (void)s;
    check_grads(IN(32, 5, 6) "conv name=c filters=8 size=3 pad=3\n", 2, 1, 1e-2f, 1e-3);
    check_grads(IN(16, 5, 6) "conv name=c filters=16 size=5 pad=5\n", 2, 1, 1e-2f, 1e-3);
    check_grads(IN(2, 4, 5) "conv name=c filters=3 size=3 pad=4\n", 2, 1, 1e-2f, 1e-3);
}
static void test_conv_direct_5x5(void **s) { (void)s; check_grads(IN(33, 5, 18) "conv name=c filters=8 size=5 pad=1\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_direct_valid(void **s) { (void)s; check_grads(IN(32, 7, 7) "conv name=c filters=16 size=3 pad=0\n", 2, 1, 1e-2f, 1e-3); }
/* 5x5 from 16 input channels: Winograd F(2x2, 5x5) for the forward and,
 * from 16 filters, the input gradient; from 32 input channels F(5x5, 2x2)
 * for the weight gradient (test_conv_direct_5x5 too): tiles past the
 * image's edge, channel and filter counts off the blocks, pad 0 and same. */
static void test_conv_wino(void **s) { (void)s; check_grads(IN(20, 7, 9) "conv name=c filters=17 size=5 pad=same\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_wino_wgrad(void **s) { (void)s; check_grads(IN(40, 9, 7) "conv name=c filters=20 size=5 pad=same\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_wino_valid(void **s) { (void)s; check_grads(IN(16, 9, 8) "conv name=c filters=40 size=5 pad=0\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_shifted(void **s) { (void)s; check_grads(IN(12, 9, 8) "conv name=c filters=5 size=7 pad=same\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_stride2(void **s) { (void)s; check_grads(IN(2, 7, 9) "conv name=c filters=3 size=3 stride=2 pad=0\n", 3, 1, 1e-2f, 1e-3); }
static void test_conv_stride2_pad1(void **s) { (void)s; check_grads(IN(2, 8, 8) "conv name=c filters=3 size=3 stride=2 pad=1\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_1x1(void **s) { (void)s; check_grads(IN(5, 4, 3) "conv name=c filters=3 size=1\n", 2, 1, 1e-2f, 1e-3); }
static void test_dense(void **s) { (void)s; check_grads(IN(2, 3, 4) "dense name=d units=5\n", 3, 1, 1e-2f, 1e-3); }
static void test_relu(void **s) { (void)s; check_grads(IN(2, 4, 4) "relu\n", 2, 1, 1e-3f, 1e-3); }
static void test_leaky(void **s) { (void)s; check_grads(IN(2, 4, 4) "leaky alpha=0.1\n", 2, 1, 1e-3f, 1e-3); }
static void test_maxpool2(void **s) { (void)s; check_grads(IN(2, 6, 6) "maxpool size=2\n", 2, 1, 1e-4f, 1e-3); }
/* Max pooling 2x2 against plain loops on data full of ties (3 levels):
 * outputs, and each gradient routed to the first maximum in row-major
 * order; widths with a tail after 16 outputs; odd sizes (a row and column
 * left over: zeroed, then scattered) and even ones (written window by
 * window). */
static void check_maxpool2_ties(int H, int W) {
    Case c;
    int C = 3, P = H / 2, Q = W / 2;
    char text[256];
    snprintf(text, sizeof text, "input channels=3 height=%d width=%d\nmaxpool size=2\nflatten\n", H, W);
    case_init(&c, text, 2, 1, 99);
    for (size_t i = 0; i < (size_t)c.n * C * H * W; i++) c.x[i] = (float)(i * 7919 % 3);
    const float *y = model_forward(&c.m, c.x, c.n, &c.a);
    size_t out = (size_t)c.n * C * P * Q;
    for (size_t i = 0; i < out; i++) c.m.dlogits[i] = (float)(i + 1);
    model_backward(&c.m, c.x, c.n, &c.a, c.grads);
    float *dx = test_calloc((size_t)c.n * C * H * W, sizeof(float));
    for (int pl = 0; pl < c.n * C; pl++)
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                const float *x = c.x + (size_t)pl * H * W;
                int best = 2 * p * W + 2 * q;
                for (int r = 0; r < 2; r++)
                    for (int t = 0; t < 2; t++)
                        if (x[(2 * p + r) * W + 2 * q + t] > x[best]) best = (2 * p + r) * W + 2 * q + t;
                size_t o = ((size_t)pl * P + p) * Q + q;
                if (y[o] != x[best]) fail_msg("output %zu: %g, expected %g", o, y[o], x[best]);
                dx[(size_t)pl * H * W + best] += (float)(o + 1);
            }
    for (size_t i = 0; i < (size_t)c.n * C * H * W; i++)
        if (c.m.dinput[i] != dx[i]) fail_msg("input gradient %zu: %g, expected %g", i, c.m.dinput[i], dx[i]);
    test_free(dx);
    case_free(&c);
}

static void test_maxpool2_ties(void **s) {
    (void)s;
    check_maxpool2_ties(7, 37);
    check_maxpool2_ties(6, 36);
}
/* A relu right after a batch norm or a direct-kernel conv is done by that
 * layer itself (relu_after); the same net with leaky alpha=0, which is not
 * fused, must give the same outputs and gradients (as values: leaky's
 * negative side is -0.0 where relu's is 0). `before` ends with the layer
 * before the relu, `fused` is that layer's index. */
static void check_relu_fused(const char *input, const char *before, int fused) {
    char t1[512], t2[512];
    snprintf(t1, sizeof t1, "%s%srelu\nconv name=d filters=3 size=3 pad=same\n", input, before);
    snprintf(t2, sizeof t2, "%s%sleaky alpha=0\nconv name=d filters=3 size=3 pad=same\n", input, before);
    Case a, b;
    case_init(&a, t1, 3, 1, 5);
    case_init(&b, t2, 3, 1, 5);
    assert_int_equal(a.m.spec[fused].relu_after, 1);
    assert_int_equal(b.m.spec[fused].relu_after, 0);
    const float *ya = model_forward(&a.m, a.x, a.n, &a.a), *yb = model_forward(&b.m, b.x, b.n, &b.a);
    size_t out = (size_t)a.n * a.m.classes, in = (size_t)a.n * shape_size(a.m.input);
    for (size_t i = 0; i < out; i++) if (ya[i] != yb[i]) fail_msg("output %zu: %g vs %g", i, ya[i], yb[i]);
    memcpy(a.m.dlogits, a.r, sizeof(float) * out);
    memcpy(b.m.dlogits, b.r, sizeof(float) * out);
    model_backward(&a.m, a.x, a.n, &a.a, a.grads);
    model_backward(&b.m, b.x, b.n, &b.a, b.grads);
    for (size_t i = 0; i < a.m.n_params; i++)
        if (a.grads[i] != b.grads[i]) fail_msg("param gradient %zu: %g vs %g", i, a.grads[i], b.grads[i]);
    for (size_t i = 0; i < in; i++)
        if (a.m.dinput[i] != b.m.dinput[i]) fail_msg("input gradient %zu: %g vs %g", i, a.m.dinput[i], b.m.dinput[i]);
    case_free(&a);
    case_free(&b);
}

static void test_bn_relu_fused(void **s) {
    (void)s;
    check_relu_fused(IN(3, 6, 5), "conv name=c filters=4 size=3 pad=same\nbn name=b\n", 1);
}

static void test_conv_relu_fused(void **s) {
    (void)s;
#ifdef __AVX512F__   /* the direct kernels take the relu; the GEMM paths do not */
    check_relu_fused(IN(3, 6, 5), "conv name=c filters=4 size=3 pad=same\n", 0);
    check_relu_fused(IN(18, 6, 5), "conv name=c filters=16 size=5 pad=same\n", 0);   /* Winograd */
#endif
}

/* The promise behind -np invariance, at the layer: a sample's output and
 * input gradient have the same bits whatever else is in the call, and a
 * dense layer's weight gradient over G groups in one call is the trainer's
 * tree of the groups' own gradients, ((g0 + g1) + (g2 + g3)). Shapes that
 * take the AVX-512 kernels (dense: every forward block width; conv: the
 * Winograd paths and the channel-chunked direct kernels); in a build
 * without them, the OpenBLAS paths' promise (conv per image, dense per group). */
static float *random_floats(DlRng *g, size_t n) {
    float *p = test_malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = 2.0f * rng_unit(g) - 1.0f;
    return p;
}

static void check_call_invariance(LayerSpec *s, int gn, int G) {
    const LayerOps *ops = layer_ops(s->kind);
    assert_int_equal(ops->shape(s), DL_OK);
    int N = gn * G, grouped = ops->grouped;
    size_t in = shape_size(s->in), out = shape_size(s->out), np = layer_param_count(s);
    DlRng g = { 4242 };
    float *x = random_floats(&g, N * in), *w = random_floats(&g, np), *dy = random_floats(&g, N * out);
    float *y = test_malloc(sizeof(float) * N * out), *dx = test_malloc(sizeof(float) * N * in);
    float *dw = test_calloc(np, sizeof(float)), *dwg = test_calloc(np * G, sizeof(float));
    /* AVX-512 kernels: each sample alone. OpenBLAS (a build without them):
     * a dense layer's GEMMs promise this per group of group_n samples only */
    int unit = 1;
#ifndef __AVX512F__
    if (grouped) unit = gn;
#endif
    float *y1 = test_malloc(sizeof(float) * unit * out), *dx1 = test_malloc(sizeof(float) * unit * in);
    float *scratch = test_malloc(sizeof(float) * (ops->scratch_count(s, N) + 64));
    LayerCtx c = { .s = s, .n = N, .group_n = grouped ? gn : 0, .in = x, .out = y, .w = w, .dw = dw, .dout = dy,
                   .din = dx, .scratch = scratch, .din_fresh = 1 };
    ops->forward(&c);
    ops->backward(&c);
    for (int n = 0; n < N; n += unit) {   /* each sample (or group) alone */
        LayerCtx c1 = { .s = s, .n = unit, .group_n = grouped ? unit : 0, .in = x + n * in, .out = y1, .w = w, .dw = NULL,
                        .dout = dy + n * out, .din = dx1, .scratch = scratch, .din_fresh = 1 };
        ops->forward(&c1);
        assert_memory_equal(y1, y + n * out, sizeof(float) * unit * out);
        ops->backward(&c1);
        assert_memory_equal(dx1, dx + n * in, sizeof(float) * unit * in);
    }
    if (grouped) {   /* each group alone, then the tree */
        for (int k = 0; k < G; k++) {
            LayerCtx cg = { .s = s, .n = gn, .group_n = gn, .in = x + (size_t)k * gn * in, .out = y + (size_t)k * gn * out,
                            .w = w, .dw = dwg + k * np, .dout = dy + (size_t)k * gn * out, .din = NULL, .scratch = scratch };
            ops->backward(&cg);
        }
        for (int span = 1; span < G; span *= 2)
            for (int k = 0; k + span < G; k += 2 * span)
                for (size_t i = 0; i < np; i++) dwg[k * np + i] += dwg[(k + span) * np + i];
        assert_memory_equal(dwg, dw, sizeof(float) * np);
    }
    test_free(x); test_free(w); test_free(dy); test_free(y); test_free(dx); test_free(dw); test_free(dwg);
    test_free(y1); test_free(dx1); test_free(scratch);
}

static void test_call_invariance(void **st) {
    (void)st;
    static const struct { LayerKind kind; int c, h, w, filters, size, pad, units, gn, G, groups; } cases[] = {
        { LK_DENSE, 100, 1, 1, 0, 0, 0, 13, 16, 4, 1 },    /* 64 samples: 4-vector blocks */
        { LK_DENSE, 37, 1, 1, 0, 0, 0, 9, 5, 2, 1 },       /* 10: 1-vector blocks, U off the blocks */
        { LK_DENSE, 33, 1, 1, 0, 0, 0, 20, 17, 2, 1 },     /* 34: 3-vector blocks */
        { LK_CONV, 20, 7, 9, 17, 5, PAD_SAME, 0, 3, 1, 1 },   /* Winograd 5x5 */
        { LK_CONV, 18, 9, 6, 16, 3, 0, 0, 3, 1, 1 },          /* Winograd 3x3, pad 0 */
        { LK_CONV, 15, 6, 11, 15, 3, PAD_SAME, 0, 3, 1, 1 },  /* direct, two chunks of input channels */
        { LK_CONV, 12, 7, 6, 8, 3, 1, 0, 3, 1, 4 },        /* groups */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        LayerSpec s;
        memset(&s, 0, sizeof s);
        s.kind = cases[i].kind;
        s.in = (Shape){ cases[i].c, cases[i].h, cases[i].w };
        s.filters = cases[i].filters; s.size = cases[i].size; s.stride = 1; s.pad = cases[i].pad;
        s.units = cases[i].units;
        s.groups = cases[i].groups;
        check_call_invariance(&s, cases[i].gn, cases[i].G);
    }
}

/* The layers ONNX import needs: grouped conv, clip / relu6, padded and
 * ceil-mode pooling, concat (inputs away from the clip bounds' kinks: the
 * input is in [-1, 1] and the bounds sit between the samples' values). */
static void test_conv_groups(void **s) { (void)s; check_grads(IN(6, 7, 6) "conv name=c filters=4 size=3 stride=2 pad=1 groups=2\n", 2, 1, 1e-2f, 1e-3); }
static void test_conv_groups_s1(void **s) { (void)s; check_grads(IN(8, 5, 5) "conv name=c filters=8 size=3 pad=same groups=4\n", 2, 1, 1e-2f, 1e-3); }
static void test_clip(void **s) { (void)s; check_grads(IN(2, 4, 4) "clip min=-0.37 max=0.41\n", 2, 1, 1e-3f, 1e-3); }
static void test_relu6(void **s) { (void)s; check_grads(IN(2, 4, 4) "relu6\n", 2, 1, 1e-2f, 1e-3); }
static void test_maxpool_pad_ceil(void **s) { (void)s; check_grads(IN(2, 8, 7) "maxpool size=3 stride=2 pad=1 ceil=1\n", 2, 1, 1e-3f, 1e-3); }
static void test_avgpool_pad_ceil(void **s) { (void)s; check_grads(IN(2, 8, 7) "avgpool size=3 stride=2 pad=1 ceil=1\n", 2, 1, 1e-2f, 1e-3); }
static void test_avgpool_nocount(void **s) { (void)s; check_grads(IN(2, 7, 8) "avgpool size=2 stride=2 pad=1 count_pad=0 ceil=1\n", 2, 1, 1e-2f, 1e-3); }
static void test_concat(void **s) {
    (void)s;
    check_grads(IN(2, 5, 5) "conv name=sq filters=3 size=1\nconv name=e1 filters=2 size=1\n"
                "conv name=e3 filters=4 size=3 pad=1 input=sq\nconcat name=cat input=e1 from=e3\n"
                "conv name=out filters=2 size=3 pad=1\n", 2, 1, 1e-2f, 1e-3);
}

static void test_maxpool3s2(void **s) { (void)s; check_grads(IN(2, 7, 7) "maxpool size=3 stride=2\n", 2, 1, 1e-4f, 1e-3); }
static void test_avgpool(void **s) { (void)s; check_grads(IN(2, 7, 7) "avgpool size=3 stride=2\n", 2, 1, 1e-2f, 1e-3); }
static void test_gap(void **s) { (void)s; check_grads(IN(3, 5, 4) "gap\n", 2, 1, 1e-2f, 1e-3); }
static void test_flatten(void **s) { (void)s; check_grads(IN(3, 2, 2) "flatten\ndense name=d units=3\n", 2, 1, 1e-2f, 1e-3); }
static void test_dropout(void **s) { (void)s; check_grads(IN(2, 4, 4) "dropout rate=0.4\n", 3, 1, 1e-2f, 1e-3); }
static void test_bn_train(void **s) { (void)s; check_grads(IN(3, 4, 4) "bn name=b\n", 3, 1, 1e-2f, 2e-3); }
static void test_bn_eval(void **s) { (void)s; check_grads(IN(3, 4, 4) "bn name=b\n", 3, 0, 1e-2f, 1e-3); }
static void test_bn_dense(void **s) { (void)s; check_grads(IN(2, 2, 2) "dense name=d units=6\nbn name=b\n", 4, 1, 1e-2f, 2e-3); }
static void test_stack(void **s) {
    (void)s;
    check_grads(IN(2, 8, 8)
                "conv name=c1 filters=3 size=3 pad=same\nbn name=b1\nleaky alpha=0.2\nmaxpool size=2\n"
                "conv name=c2 filters=4 size=3 stride=2 pad=1\nrelu\ngap\ndense name=d units=3\n",
                3, 1, 1e-3f, 5e-3);   /* small step: max pool and leaky ReLU have kinks */
}

static void test_dwconv_s1_same(void **s) { (void)s; check_grads(IN(3, 6, 5) "dwconv name=d size=3 pad=same\n", 2, 1, 1e-2f, 1e-3); }
static void test_dwconv_s1_p0(void **s) { (void)s; check_grads(IN(2, 7, 6) "dwconv name=d size=3\n", 2, 1, 1e-2f, 1e-3); }
static void test_dwconv_s2_p0(void **s) { (void)s; check_grads(IN(3, 7, 9) "dwconv name=d size=3 stride=2 pad=0\n", 3, 1, 1e-2f, 1e-3); }
static void test_dwconv_s2_same(void **s) { (void)s; check_grads(IN(2, 8, 8) "dwconv name=d size=3 stride=2 pad=same\n", 2, 1, 1e-2f, 1e-3); }
static void test_dwconv_5x5_s2(void **s) { (void)s; check_grads(IN(2, 9, 7) "dwconv name=d size=5 stride=2 pad=same\n", 2, 1, 1e-2f, 1e-3); }
/* stride larger than the kernel, even kernel, padding: taps skip columns */
static void test_dwconv_2x2_s3(void **s) { (void)s; check_grads(IN(2, 8, 7) "dwconv name=d size=2 stride=3 pad=1\n", 2, 1, 1e-2f, 1e-3); }
/* the separable pair: depthwise then pointwise */
static void test_dwconv_separable(void **s) {
    (void)s;
    check_grads(IN(3, 6, 6) "dwconv name=d size=3 pad=same\nbn name=b\nconv name=p filters=4 size=1\n", 3, 1, 1e-2f, 2e-3);
}

/* a feeds b and add: its gradient is the sum of both paths */
static void test_add_identity(void **s) {
    (void)s;
    check_grads(IN(3, 5, 5) "conv name=a filters=3 size=3 pad=same\nconv name=b filters=3 size=3 pad=same\nadd from=a\n",
                2, 1, 1e-2f, 1e-3);
}
/* input and from are the same layer (y = 2a): din and din2 are one buffer */
static void test_add_self(void **s) { (void)s; check_grads(IN(2, 4, 4) "conv name=a filters=2 pad=same\nadd from=a\n", 2, 1, 1e-2f, 1e-3); }
/* a has three consumers: b (next layer), sc (input=a) and s2 (add from=a);
 * the first layer's input gradient (dinput) comes through all of them */
static void test_add_fanout(void **s) {
    (void)s;
    check_grads(IN(2, 6, 6)
                "conv name=a filters=3 size=3 pad=same\nconv name=b filters=3 size=3 pad=same\n"
                "conv name=sc filters=3 size=1 input=a\nadd name=s1 from=b\nadd name=s2 from=a\n"
                "gap\ndense name=d units=3\n",
                2, 1, 1e-2f, 1e-3);
}

#define RESBLOCK IN(2, 8, 8) \
    "conv name=stem filters=3 pad=same\nbn name=sn\nrelu name=sr\n" \
    "conv name=c1 filters=4 size=3 stride=2 pad=1\nbn name=n1\nrelu name=r1\n" \
    "conv name=c2 filters=4 pad=same\nbn name=n2\n" \
    "conv name=sc filters=4 size=1 stride=2 input=sr\nbn name=scn\n" \
    "add name=sum from=n2\nrelu name=out\n" \
    "conv name=c3 filters=4 pad=same\nadd name=sum2 from=out\ngap\ndense name=fc units=3\n"

/* A ResNet basic block with a projection shortcut (1x1 stride 2 on sr),
 * then an identity one; batch norm in training mode. */
static void test_resblock(void **s) { (void)s; check_grads(RESBLOCK, 3, 1, 1e-3f, 5e-3); }

/* Frozen layers [0, f): for every boundary f, also ones a skip connection
 * crosses (sc reads the frozen sr) or that fall on a parameterless layer,
 * the layers >= f get exactly the unfrozen run's gradient, bit for bit, and
 * the frozen ones none. */
static void test_frozen_dag(void **s) {
    (void)s;
    Case c;
    /* the residual block with leaky ReLU where it has batch norm: a frozen
     * batch norm changes the forward (test_frozen_bn), this checks routing */
    case_init(&c, IN(2, 8, 8)
              "conv name=stem filters=3 pad=same\nleaky name=sn\nrelu name=sr\n"
              "conv name=c1 filters=4 size=3 stride=2 pad=1\nleaky name=n1\nrelu name=r1\n"
              "conv name=c2 filters=4 pad=same\nleaky name=n2\n"
              "conv name=sc filters=4 size=1 stride=2 input=sr\nleaky name=scn\n"
              "add name=sum from=n2\nrelu name=out\n"
              "conv name=c3 filters=4 pad=same\nadd name=sum2 from=out\ngap\ndense name=fc units=3\n", 3, 1, 4321);
    size_t np = c.m.n_params, out = (size_t)c.n * c.m.classes;
    float *ref = test_calloc(np, sizeof(float));
    loss_at(&c);
    memcpy(c.m.dlogits, c.r, sizeof(float) * out);
    model_backward(&c.m, c.x, c.n, &c.a, ref);
    for (int f = 1; f <= c.m.n_layers; f++) {
        memset(c.grads, 0, sizeof(float) * np);
        c.m.frozen = f;
        loss_at(&c);
        memcpy(c.m.dlogits, c.r, sizeof(float) * out);
        model_backward(&c.m, c.x, c.n, &c.a, c.grads);
        size_t boundary = f < c.m.n_layers ? c.m.w_off[f] : np;
        for (size_t i = 0; i < np; i++)
            if (i < boundary ? c.grads[i] != 0.0f : memcmp(&c.grads[i], &ref[i], sizeof(float)) != 0)
                fail_msg("frozen=%d: param %zu: %g vs unfrozen %g", f, i, c.grads[i], ref[i]);
    }
    test_free(ref);
    case_free(&c);
}

/* A frozen batch norm normalises with its running statistics even in
 * training mode, and model_update_stats leaves them alone (Keras'
 * trainable=False). */
static void test_frozen_bn(void **s) {
    (void)s;
    Case c;
    case_init(&c, IN(3, 4, 4) "bn name=b\ndense name=d units=2\n", 5, 1, 99);
    float *run = c.m.state + c.m.st_off[0];
    for (int j = 0; j < 3; j++) { run[j] = 0.1f * (float)j; run[3 + j] = 1.0f + 0.5f * (float)j; }
    float keep[6];
    memcpy(keep, run, sizeof keep);
    ForwardArgs eval = c.a;
    eval.training = 0;
    size_t out = (size_t)c.n * c.m.classes;
    float *ye = test_malloc(sizeof(float) * out);
    memcpy(ye, model_forward(&c.m, c.x, c.n, &eval), sizeof(float) * out);
    c.m.frozen = 1;
    const float *yt = model_forward(&c.m, c.x, c.n, &c.a);
    assert_memory_equal(yt, ye, sizeof(float) * out);
    memset(c.bstat, 0, sizeof(float) * c.m.n_bstat);
    model_update_stats(&c.m, c.bstat, 1);
    assert_memory_equal(run, keep, sizeof keep);
    c.m.frozen = 0;   /* unfrozen: batch statistics, another output */
    yt = model_forward(&c.m, c.x, c.n, &c.a);
    assert_true(memcmp(yt, ye, sizeof(float) * out) != 0);
    test_free(ye);
    case_free(&c);
}

/* Dropout: the mask is a function of (seed, epoch, sample, layer, element)
 * only, drops about `rate`, and scales the kept elements by 1/(1-rate). */
static void test_dropout_mask(void **s) {
    (void)s;
    Case a, b;
    case_init(&a, IN(4, 16, 16) "dropout rate=0.25\n", 4, 1, 5);
    case_init(&b, IN(4, 16, 16) "dropout rate=0.25\n", 2, 1, 5);
    for (size_t i = 0; i < 4 * 1024; i++) a.x[i] = 1.0f;
    for (size_t i = 0; i < 2 * 1024; i++) b.x[i] = 1.0f;
    b.sample[0] = a.sample[2]; b.sample[1] = a.sample[3];   /* same samples, other position */
    const float *ya = model_forward(&a.m, a.x, 4, &a.a);
    int dropped = 0;
    for (size_t i = 0; i < 4 * 1024; i++) {
        assert_true(ya[i] == 0.0f || fabsf(ya[i] - 1.0f / 0.75f) < 1e-6f);
        dropped += ya[i] == 0.0f;
    }
    assert_in_range(dropped, 4096 * 0.22, 4096 * 0.28);
    const float *yb = model_forward(&b.m, b.x, 2, &b.a);
    assert_memory_equal(yb, a.m.act[0] + 2 * 1024, sizeof(float) * 2 * 1024);
    a.a.epoch = 3;   /* another epoch: another mask */
    ya = model_forward(&a.m, a.x, 4, &a.a);
    assert_true(memcmp(yb, ya + 2 * 1024, sizeof(float) * 2 * 1024) != 0);
    a.a.training = 0;   /* eval: identity */
    ya = model_forward(&a.m, a.x, 4, &a.a);
    for (size_t i = 0; i < 4 * 1024; i++) assert_true(ya[i] == 1.0f);
    case_free(&a); case_free(&b);
}

/* Loss gradients against central differences, in float64 via the loss's
 * double accumulation; plus hand-computed values. */
static void test_softmax_xent(void **s) {
    (void)s;
    float z[2 * 3] = { 1.0f, 2.0f, 3.0f, 1000.0f, -1000.0f, 0.0f };
    int32_t y[2] = { 2, 1 };
    float dz[6];
    int right = -1;
    double L = softmax_xent(dz, z, y, 2, 3, 0.5f, &right);
    /* row 0: lse = 3 + log(1 + e^-1 + e^-2); row 1: 1000 - (-1000) = 2000 */
    double lse0 = 3.0 + log(1.0 + exp(-1.0) + exp(-2.0));
    assert_true(fabs(L - ((lse0 - 3.0) + 2000.0)) < 1e-9 * 2000.0);
    assert_int_equal(right, 1);
    assert_true(fabs(dz[2] - 0.5 * (exp(3.0 - lse0) - 1.0)) < 1e-7);
    assert_true(fabs(dz[3] - 0.5) < 1e-7 && fabs(dz[4] + 0.5) < 1e-7);
    DlRng g = { 9 };
    float zz[4 * 5], d[4 * 5];
    int32_t lab[4] = { 0, 4, 2, 2 };
    for (int i = 0; i < 20; i++) zz[i] = 3.0f * away(&g, 0.0f);
    softmax_xent(d, zz, lab, 4, 5, 1.0f, NULL);
    for (int i = 0; i < 20; i++) {
        float keep = zz[i], h = 1e-2f;
        zz[i] = keep + h; double lp = softmax_xent(NULL, zz, lab, 4, 5, 1.0f, NULL);
        zz[i] = keep - h; double lm = softmax_xent(NULL, zz, lab, 4, 5, 1.0f, NULL);
        zz[i] = keep;
        assert_true(fabs((lp - lm) / (2.0 * h) - d[i]) < 1e-4);
    }
}

static void test_sigmoid_bce(void **s) {
    (void)s;
    float z[4] = { 0.0f, 100.0f, -100.0f, 2.0f }, t[4] = { 1.0f, 0.0f, 0.0f, 1.0f }, dz[4];
    double L = sigmoid_bce(dz, z, t, 1, 4, 1.0f);
    double want = log(2.0) + 100.0 + log1p(exp(-100.0)) + log1p(exp(-100.0)) + log1p(exp(-2.0));
    assert_true(fabs(L - want) < 1e-9 * want);
    assert_true(fabs(dz[0] + 0.5) < 1e-7 && fabs(dz[1] - 1.0) < 1e-7 && fabs(dz[2]) < 1e-7);
    DlRng g = { 11 };
    float zz[12], tt[12], d[12];
    for (int i = 0; i < 12; i++) { zz[i] = 4.0f * away(&g, 0.0f); tt[i] = rng_unit(&g) < 0.5f; }
    sigmoid_bce(d, zz, tt, 3, 4, 1.0f);
    for (int i = 0; i < 12; i++) {
        float keep = zz[i], h = 1e-2f;
        zz[i] = keep + h; double lp = sigmoid_bce(NULL, zz, tt, 3, 4, 1.0f);
        zz[i] = keep - h; double lm = sigmoid_bce(NULL, zz, tt, 3, 4, 1.0f);
        zz[i] = keep;
        assert_true(fabs((lp - lm) / (2.0 * h) - d[i]) < 1e-4);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_same),      cmocka_unit_test(test_conv_5x5),
        cmocka_unit_test(test_conv_direct),    cmocka_unit_test(test_conv_direct_5x5),
        cmocka_unit_test(test_conv_direct_valid), cmocka_unit_test(test_conv_shifted),
        cmocka_unit_test(test_conv_wino),      cmocka_unit_test(test_conv_wino_valid),
        cmocka_unit_test(test_conv_wino_wgrad),    cmocka_unit_test(test_call_invariance),
        cmocka_unit_test(test_conv_direct_chunks), cmocka_unit_test(test_conv_wide_pad),
        cmocka_unit_test(test_conv_stride2),   cmocka_unit_test(test_conv_stride2_pad1),
        cmocka_unit_test(test_conv_1x1),       cmocka_unit_test(test_dense),
        cmocka_unit_test(test_relu),           cmocka_unit_test(test_leaky),
        cmocka_unit_test(test_maxpool2),       cmocka_unit_test(test_maxpool3s2),
        cmocka_unit_test(test_conv_groups),    cmocka_unit_test(test_conv_groups_s1),
        cmocka_unit_test(test_clip),           cmocka_unit_test(test_relu6),
        cmocka_unit_test(test_maxpool_pad_ceil), cmocka_unit_test(test_avgpool_pad_ceil),
        cmocka_unit_test(test_avgpool_nocount), cmocka_unit_test(test_concat),
        cmocka_unit_test(test_maxpool2_ties),  cmocka_unit_test(test_bn_relu_fused),
        cmocka_unit_test(test_conv_relu_fused),
        cmocka_unit_test(test_avgpool),        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_flatten),        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_bn_train),       cmocka_unit_test(test_bn_eval),
        cmocka_unit_test(test_bn_dense),       cmocka_unit_test(test_stack),
        cmocka_unit_test(test_dwconv_s1_same), cmocka_unit_test(test_dwconv_s1_p0),
        cmocka_unit_test(test_dwconv_s2_p0),   cmocka_unit_test(test_dwconv_s2_same),
        cmocka_unit_test(test_dwconv_5x5_s2),  cmocka_unit_test(test_dwconv_2x2_s3),
        cmocka_unit_test(test_dwconv_separable),
        cmocka_unit_test(test_add_identity),   cmocka_unit_test(test_add_self),
        cmocka_unit_test(test_add_fanout),     cmocka_unit_test(test_resblock),
        cmocka_unit_test(test_frozen_dag),     cmocka_unit_test(test_frozen_bn),
        cmocka_unit_test(test_dropout_mask),   cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_sigmoid_bce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
