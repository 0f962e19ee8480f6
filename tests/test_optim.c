/* test_optim.c: optimizers, lr schedules and gradient clipping.
 * PyTorch 1.13 wrote tests/reference/fixtures/optim_*.h5 with
 * tests/reference/make_optim_ref.py (computing in float64 from the float32
 * values stored): 5 steps of SGD, SGD-Nesterov, Adam and AdamW on a
 * decayed 3x4 weight and an undecayed bias, the lr of every step of StepLR,
 * CosineAnnealingLR and two OneCycleLRs, and clip_grad_norm_. Ours must
 * match within a relative error of 1e-5 (params: relative to max(1, max
 * |torch|); lrs: relative to each lr). Hand-computed cases cover one Adam
 * and AdamW step, clipping, warmup and the error paths. */
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h5util.h"
#include "optim.h"
#include "schedule.h"
#include "util.h"
#include "lib/testutil.h"

#define FIXTURES DL_SOURCE_DIR "/tests/reference/fixtures/"
#ifndef TOL
#define TOL 1e-5
#endif

/* ---- fixture reading: any failure fails the test with the name ---- */

static hid_t open_fixture(const char *file) {
    char path[1024];
    snprintf(path, sizeof path, FIXTURES "%s", file);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open %s (regenerate with tests/reference/make_optim_ref.py)", path);
    return f;
}

/* Reads dataset `name` under `g` into type `mem` (H5T_NATIVE_FLOAT or
 * _DOUBLE); it must have exactly `count` elements. Free with test_free. */
static void *read_data(hid_t g, const char *name, hid_t mem, size_t count) {
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) fail_msg("fixture has no dataset %s", name);
    hid_t sp = H5Dget_space(d);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    if (n != count) fail_msg("%s has %zu values, expected %zu", name, n, count);
    void *v = test_malloc(H5Tget_size(mem) * n);
    assert_true(H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    return v;
}

static double read_attr(hid_t g, const char *name) {
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    if (a < 0) fail_msg("fixture group has no attribute %s", name);
    double v = 0.0;
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

static int64_t read_attr_i64(hid_t g, const char *name) {
    int64_t v = 0;
    if (!h5_get_attr_i64(g, name, &v, 1)) fail_msg("fixture group has no integer attribute %s", name);
    return v;
}


/* |got - want| <= tol, in double (cmocka 1.1.5's assert_float_equal is float). */
#define expect_near(got, want, tol)                                                                \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(fabs(g_ - w_) <= (tol))) fail_msg("%s = %.9g, expected %.9g +- %g", #got, g_, w_, (double)(tol)); \
    } while (0)

/* ---- optimizers against PyTorch ---- */

enum { NW = 12, NB = 4, NP = NW + NB, STEPS = 5 };
static const ParamSeg SEGS[2] = { { 0, NW, 1 }, { NW, NB, 0 } };   /* weight (decay), bias */

static void check_optim_fixture(const char *group, OptKind kind) {
    hid_t f = open_fixture("optim_steps.h5");
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) fail_msg("optim_steps.h5 has no group %s", group);
    OptConfig c = { .kind = kind, .momentum = (float)read_attr(g, "momentum"),
                    .nesterov = (int)read_attr_i64(g, "nesterov"), .weight_decay = (float)read_attr(g, "weight_decay"),
                    .beta1 = (float)read_attr(g, "beta1"), .beta2 = (float)read_attr(g, "beta2"),
                    .eps = (float)read_attr(g, "eps") };
    float lr = (float)read_attr(g, "lr");
    float seg_lr[2] = { lr, lr };
    float *w0 = read_data(g, "weight0", H5T_NATIVE_FLOAT, NW), *b0 = read_data(g, "bias0", H5T_NATIVE_FLOAT, NB);
    float *gw = read_data(g, "grad_weight", H5T_NATIVE_FLOAT, STEPS * NW);
    float *gb = read_data(g, "grad_bias", H5T_NATIVE_FLOAT, STEPS * NB);
    float *rw = read_data(g, "weight", H5T_NATIVE_FLOAT, STEPS * NW);
    float *rb = read_data(g, "bias", H5T_NATIVE_FLOAT, STEPS * NB);

    float p[NP], grad[NP], ref[NP];
    memcpy(p, w0, sizeof(float) * NW);
    memcpy(p + NW, b0, sizeof(float) * NB);
    size_t ns = optim_state_count(&c, NP);
    assert_int_equal(ns, kind == OPT_SGD ? NP : 2 * NP);
    float *state = test_calloc(ns, sizeof(float));
    for (int k = 0; k < STEPS; k++) {
        memcpy(grad, gw + k * NW, sizeof(float) * NW);
        memcpy(grad + NW, gb + k * NB, sizeof(float) * NB);
        optim_step(p, state, grad, SEGS, 2, &c, seg_lr, k + 1);
        memcpy(ref, rw + k * NW, sizeof(float) * NW);
        memcpy(ref + NW, rb + k * NB, sizeof(float) * NB);
        char what[64];
        snprintf(what, sizeof what, "%s step %d", group, k + 1);
        expect_close("", what, p, ref, NP, TOL);
    }
    test_free(state);
    test_free(w0); test_free(b0); test_free(gw); test_free(gb); test_free(rw); test_free(rb);
    H5Gclose(g);
    H5Fclose(f);
}

static void test_sgd_fixture(void **state) { (void)state; check_optim_fixture("sgd", OPT_SGD); }
static void test_sgd_nesterov_fixture(void **state) { (void)state; check_optim_fixture("sgd_nesterov", OPT_SGD); }
static void test_adam_fixture(void **state) { (void)state; check_optim_fixture("adam", OPT_ADAM); }
static void test_adamw_fixture(void **state) { (void)state; check_optim_fixture("adamw", OPT_ADAMW); }

/* ---- hand-computed steps ---- */

/* One Adam step, lr 0.1, betas (0.9, 0.999), eps 1e-8, weight_decay 0.1:
 *   decayed p = 1, g = 0.5:   d = 0.5 + 0.1*1 = 0.6
 *     m = 0.1*0.6 = 0.06;  v = 0.001*0.36 = 3.6e-4
 *     bc1 = 1 - 0.9 = 0.1;  bc2 = 1 - 0.999 = 0.001;  step_size = 0.1/0.1 = 1
 *     denom = sqrt(3.6e-4)/sqrt(0.001) + 1e-8 = 0.018974/0.031623 + 1e-8 = 0.6 + 1e-8
 *     p = 1 - 1 * 0.06/0.6 = 0.9
 *   undecayed p = 2, g = -0.25: m = -0.025, v = 6.25e-5,
 *     denom = 0.0079057/0.031623 = 0.25, p = 2 - (-0.025/0.25) = 2.1
 * AdamW, same settings: decayed p = 1 * (1 - 0.1*0.1) = 0.99, then with
 *   d = g = 0.5: m = 0.05, v = 2.5e-4, denom = 0.5, p = 0.99 - 0.1 = 0.89;
 *   undecayed: as Adam, 2.1.
 * (The first Adam step moves every element by lr * sign(d), up to eps.) */
static void test_adam_hand(void **state) {
    (void)state;
    ParamSeg seg[2] = { { 0, 1, 1 }, { 1, 1, 0 } };
    float lr[2] = { 0.1f, 0.1f };
    OptConfig c = { .kind = OPT_ADAM, .weight_decay = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f };
    float p[2] = { 1.0f, 2.0f }, g[2] = { 0.5f, -0.25f }, st[4] = { 0 };
    optim_step(p, st, g, seg, 2, &c, lr, 1);
    expect_near(st[0], 0.06, 1e-7);
    expect_near(st[2], 3.6e-4, 1e-10);
    expect_near(p[0], 0.9, 1e-6);
    expect_near(p[1], 2.1, 1e-6);

    c.kind = OPT_ADAMW;
    float q[2] = { 1.0f, 2.0f }, st2[4] = { 0 };
    optim_step(q, st2, g, seg, 2, &c, lr, 1);
    expect_near(st2[0], 0.05, 1e-7);
    expect_near(q[0], 0.89, 1e-6);
    expect_near(q[1], 2.1, 1e-6);
}

/* The trainer's sgd_step and optim_step(OPT_SGD) agree bit for bit. */
static void test_sgd_step_equals_optim_step(void **state) {
    (void)state;
    enum { N = 37 };
    ParamSeg seg[3] = { { 0, 20, 1 }, { 20, 7, 0 }, { 27, 10, 1 } };
    for (int nesterov = 0; nesterov <= 1; nesterov++) {
        float a[N], b[N], ma[N] = { 0 }, mb[N] = { 0 }, g[N];
        DlRng r = { dl_hash(7, (uint64_t)nesterov, 0, 0) };
        for (int i = 0; i < N; i++) a[i] = b[i] = rng_normal(&r);
        SgdConfig sc = { 0.9f, nesterov, 5e-4f };
        OptConfig oc = { .kind = OPT_SGD, .momentum = 0.9f, .nesterov = nesterov, .weight_decay = 5e-4f };
        float lr[3] = { 0.05f, 0.05f, 0.05f };
        for (int k = 1; k <= 4; k++) {
            for (int i = 0; i < N; i++) g[i] = rng_normal(&r);
            sgd_step(a, ma, g, seg, 3, &sc, 0.05f);
            optim_step(b, mb, g, seg, 3, &oc, lr, k);
        }
        assert_memory_equal(a, b, sizeof a);
        assert_memory_equal(ma, mb, sizeof ma);
    }
}

/* Per-segment lrs: each segment moves as if stepped alone at its own lr,
 * and elements outside every segment are left alone. */
static void test_segment_lrs(void **state) {
    (void)state;
    enum { N = 10 };
    for (OptKind kind = OPT_SGD; kind <= OPT_ADAMW; kind++) {
        OptConfig c = { .kind = kind, .momentum = 0.9f, .weight_decay = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f,
                        .eps = 1e-8f };
        ParamSeg seg[2] = { { 0, 4, 1 }, { 4, 5, 0 } };   /* element 9 is in no segment */
        float lr[2] = { 0.1f, 0.001f };
        float p[N], q[N], g[N], st[2 * N] = { 0 }, st0[2 * 4] = { 0 }, st1[2 * 5] = { 0 };
        DlRng r = { dl_hash(11, (uint64_t)kind, 0, 0) };
        for (int i = 0; i < N; i++) p[i] = q[i] = rng_normal(&r);
        for (int k = 1; k <= 3; k++) {
            for (int i = 0; i < N; i++) g[i] = rng_normal(&r);
            optim_step(p, st, g, seg, 2, &c, lr, k);
            ParamSeg s0 = { 0, 4, 1 }, s1 = { 0, 5, 0 };
            optim_step(q, st0, g, &s0, 1, &c, &lr[0], k);
            optim_step(q + 4, st1, g + 4, &s1, 1, &c, &lr[1], k);
        }
        assert_memory_equal(p, q, sizeof p);
    }
}

/* A step on two threads (whole chunks of a segment each) gives the bits of
 * one thread, for every optimizer, on segments of several chunks. */
static void test_threads_same_bits(void **state) {
    (void)state;
    enum { N = 300001 };
    ParamSeg seg[3] = { { 0, 200000, 1 }, { 200000, 1, 0 }, { 200001, 100000, 1 } };
    float lr[3] = { 0.01f, 0.02f, 0.01f };
    float *p = test_malloc(sizeof(float) * N), *q = test_malloc(sizeof(float) * N), *g = test_malloc(sizeof(float) * N);
    float *sp = test_calloc(2 * N, sizeof(float)), *sq = test_calloc(2 * N, sizeof(float));
    for (OptKind kind = OPT_SGD; kind <= OPT_ADAMW; kind++) {
        OptConfig one = { .kind = kind, .momentum = 0.9f, .weight_decay = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f,
                          .eps = 1e-8f, .threads = 1 }, two = one;
        two.threads = 2;
        DlRng r = { dl_hash(13, (uint64_t)kind, 0, 0) };
        for (int i = 0; i < N; i++) p[i] = q[i] = rng_normal(&r);
        memset(sp, 0, sizeof(float) * 2 * N);
        memset(sq, 0, sizeof(float) * 2 * N);
        for (int k = 1; k <= 3; k++) {
            for (int i = 0; i < N; i++) g[i] = rng_normal(&r);
            optim_step(p, sp, g, seg, 3, &one, lr, k);
            optim_step(q, sq, g, seg, 3, &two, lr, k);
        }
        assert_memory_equal(p, q, sizeof(float) * N);
        assert_memory_equal(sp, sq, sizeof(float) * 2 * N);
    }
    test_free(p); test_free(q); test_free(g); test_free(sp); test_free(sq);
}

/* ---- gradient clipping ---- */

static void test_clip_hand(void **state) {
    (void)state;
    float g[2] = { 3.0f, 4.0f };
    assert_true(optim_clip_grad_norm(g, 2, 1.0f) == 5.0f);   /* returns the norm before clipping */
    double scale = 1.0 / (5.0 + 1e-6);                        /* torch: max_norm / (norm + 1e-6) */
    expect_near(g[0], 3.0 * scale, 1e-7);
    expect_near(g[1], 4.0 * scale, 1e-7);

    float h[2] = { 3.0f, 4.0f };                              /* under the limit: untouched */
    assert_true(optim_clip_grad_norm(h, 2, 10.0f) == 5.0f);
    assert_true(h[0] == 3.0f && h[1] == 4.0f);
    assert_true(optim_clip_grad_norm(h, 0, 1.0f) == 0.0f);   /* empty */

    float bad[3] = { 1.0f, NAN, 2.0f };                       /* non-finite: reported, grads left as they are */
    assert_true(isnan(optim_clip_grad_norm(bad, 3, 1.0f)));
    assert_true(bad[0] == 1.0f && bad[2] == 2.0f);
}

static void test_clip_fixture(void **state) {
    (void)state;
    hid_t f = open_fixture("optim_clip.h5");
    const char *groups[2] = { "clip", "noclip" };
    for (int i = 0; i < 2; i++) {
        hid_t g = H5Gopen2(f, groups[i], H5P_DEFAULT);
        if (g < 0) fail_msg("optim_clip.h5 has no group %s", groups[i]);
        float *grads = read_data(g, "grads", H5T_NATIVE_FLOAT, NP);
        float *norm = read_data(g, "norm", H5T_NATIVE_FLOAT, 1);
        float *clipped = read_data(g, "clipped", H5T_NATIVE_FLOAT, NP);
        float got = optim_clip_grad_norm(grads, NP, (float)read_attr(g, "max_norm"));
        expect_close("", groups[i], &got, norm, 1, TOL);
        expect_close("", groups[i], grads, clipped, NP, TOL);
        test_free(grads); test_free(norm); test_free(clipped);
        H5Gclose(g);
    }
    H5Fclose(f);
}

/* ---- schedules ---- */

static void expect_lr(const char *what, int64_t step, float ours, double ref) {
    if (!(fabs((double)ours - ref) <= TOL * fabs(ref)))
        fail_msg("%s step %lld: lr %.9g, expected %.9g", what, (long long)step, ours, ref);
}

static void check_schedule_fixture(const char *group, SchedKind kind) {
    hid_t f = open_fixture("optim_schedules.h5");
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) fail_msg("optim_schedules.h5 has no group %s", group);
    Schedule s = { .kind = kind, .lr = (float)read_attr(g, "lr"), .total_steps = read_attr_i64(g, "total_steps"),
                   .step_size = read_attr_i64(g, "step_size"), .gamma = (float)read_attr(g, "gamma"),
                   .pct_start = (float)read_attr(g, "pct_start"), .div_factor = (float)read_attr(g, "div_factor"),
                   .final_div_factor = (float)read_attr(g, "final_div_factor"),
                   .min_lr = (float)read_attr(g, "min_lr") };
    if (schedule_check(&s) != DL_OK) fail_msg("%s: %s", group, dl_errmsg());
    size_t n = (size_t)s.total_steps;
    double *ref = read_data(g, "lr", H5T_NATIVE_DOUBLE, n);
    for (size_t i = 0; i < n; i++) expect_lr(group, (int64_t)i, schedule_lr(&s, (int64_t)i), ref[i]);
    test_free(ref);
    H5Gclose(g);
    H5Fclose(f);
}

static void test_step_lr_fixture(void **state) { (void)state; check_schedule_fixture("step", SCHED_STEP); }
static void test_cosine_fixture(void **state) { (void)state; check_schedule_fixture("cosine", SCHED_COSINE); }
static void test_onecycle_fixture(void **state) { (void)state; check_schedule_fixture("onecycle", SCHED_ONECYCLE); }
static void test_onecycle_custom_fixture(void **state) {
    (void)state;
    check_schedule_fixture("onecycle_custom", SCHED_ONECYCLE);
}

/* Warmup: lr*(step+1)/warmup_steps, then the schedule from t = step - warmup. */
static void test_warmup_hand(void **state) {
    (void)state;
    Schedule c = schedule_init(SCHED_CONSTANT, 0.1f, 0);
    c.warmup_steps = 4;
    assert_int_equal(schedule_check(&c), DL_OK);
    const double want_c[6] = { 0.025, 0.05, 0.075, 0.1, 0.1, 0.1 };
    for (int i = 0; i < 6; i++) expect_lr("constant+warmup", i, schedule_lr(&c, i), want_c[i]);

    /* step_size 3, gamma 0.5, 2 warmup steps: t = step - 2 drops at t = 3, 6 */
    Schedule st = schedule_init(SCHED_STEP, 0.1f, 0);
    st.warmup_steps = 2; st.step_size = 3; st.gamma = 0.5f;
    assert_int_equal(schedule_check(&st), DL_OK);
    const double want_s[9] = { 0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025 };
    for (int i = 0; i < 9; i++) expect_lr("step+warmup", i, schedule_lr(&st, i), want_s[i]);

    /* cosine lr 1 -> 0 over total 6 with 2 warmup: T = 4,
     * t = 0..3: (1 + cos(pi t/4))/2 = 1, 0.853553, 0.5, 0.146447; then min_lr */
    Schedule co = schedule_init(SCHED_COSINE, 1.0f, 6);
    co.warmup_steps = 2;
    assert_int_equal(schedule_check(&co), DL_OK);
    const double want_co[6] = { 0.5, 1.0, 1.0, 0.8535533905932737, 0.5, 0.14644660940672624 };
    for (int i = 0; i < 6; i++) expect_lr("cosine+warmup", i, schedule_lr(&co, i), want_co[i]);
    assert_true(schedule_lr(&co, 6) == 0.0f);
    assert_true(schedule_lr(&co, 100) == 0.0f);   /* stays at min_lr past the end */
}

/* Past total_steps, onecycle stays at its final lr = lr / div / final_div. */
static void test_onecycle_past_end(void **state) {
    (void)state;
    Schedule s = schedule_init(SCHED_ONECYCLE, 0.01f, 50);
    assert_int_equal(schedule_check(&s), DL_OK);
    expect_lr("onecycle start", 0, schedule_lr(&s, 0), 0.01 / 25);
    expect_lr("onecycle peak", 14, schedule_lr(&s, 14), 0.01);   /* 0.3*50 - 1 */
    expect_lr("onecycle end", 49, schedule_lr(&s, 49), 0.01 / 25 / 1e4);
    expect_lr("onecycle past end", 60, schedule_lr(&s, 60), 0.01 / 25 / 1e4);
}

static void expect_check_fails(const Schedule *s, const char *needle) {
    assert_int_equal(schedule_check(s), DL_EARG);
    if (!strstr(dl_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", dl_errmsg(), needle);
}

static void test_schedule_check(void **state) {
    (void)state;
    Schedule s = schedule_init(SCHED_ONECYCLE, 0.01f, 50);
    s.warmup_steps = 5;
    expect_check_fails(&s, "warmup_steps must be 0");
    s = schedule_init(SCHED_ONECYCLE, 0.01f, 3);          /* 0.3*3 - 1 < 0: no rising phase */
    expect_check_fails(&s, "pct_start * total_steps");
    s = schedule_init(SCHED_ONECYCLE, 0.01f, 50);
    s.pct_start = 1.0f;
    expect_check_fails(&s, "pct_start");
    s = schedule_init(SCHED_STEP, 0.01f, 50);             /* step_size left at 0 */
    expect_check_fails(&s, "step_size");
    s = schedule_init(SCHED_COSINE, 0.01f, 10);
    s.warmup_steps = 10;
    expect_check_fails(&s, "must exceed warmup_steps");
    s = schedule_init(SCHED_CONSTANT, -1.0f, 0);
    expect_check_fails(&s, "lr");
    s = schedule_init(SCHED_CONSTANT, 0.01f, 0);
    assert_int_equal(schedule_check(&s), DL_OK);
    assert_true(schedule_lr(&s, 123456789) == 0.01f);
}

static void test_parse_kinds(void **state) {
    (void)state;
    const char *sn[4] = { "constant", "step", "cosine", "onecycle" };
    for (int i = 0; i < 4; i++) {
        SchedKind k;
        assert_int_equal(schedule_parse_kind(sn[i], &k), DL_OK);
        assert_int_equal(k, i);
        assert_string_equal(schedule_kind_name(k), sn[i]);
    }
    SchedKind k;
    assert_int_equal(schedule_parse_kind("cosin", &k), DL_EARG);
    assert_non_null(strstr(dl_errmsg(), "'cosin'"));
    assert_non_null(strstr(dl_errmsg(), "constant, step, cosine or onecycle"));

    const char *on[3] = { "sgd", "adam", "adamw" };
    for (int i = 0; i < 3; i++) {
        OptKind o;
        assert_int_equal(optim_parse_kind(on[i], &o), DL_OK);
        assert_int_equal(o, i);
        assert_string_equal(optim_kind_name(o), on[i]);
    }
    OptKind o;
    assert_int_equal(optim_parse_kind("Adam", &o), DL_EARG);
    assert_non_null(strstr(dl_errmsg(), "sgd, adam or adamw"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_fixture),
        cmocka_unit_test(test_sgd_nesterov_fixture),
        cmocka_unit_test(test_adam_fixture),
        cmocka_unit_test(test_adamw_fixture),
        cmocka_unit_test(test_adam_hand),
        cmocka_unit_test(test_sgd_step_equals_optim_step),
        cmocka_unit_test(test_segment_lrs),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_clip_hand),
        cmocka_unit_test(test_clip_fixture),
        cmocka_unit_test(test_step_lr_fixture),
        cmocka_unit_test(test_cosine_fixture),
        cmocka_unit_test(test_onecycle_fixture),
        cmocka_unit_test(test_onecycle_custom_fixture),
        cmocka_unit_test(test_warmup_hand),
        cmocka_unit_test(test_onecycle_past_end),
        cmocka_unit_test(test_schedule_check),
        cmocka_unit_test(test_parse_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
