/* test_metrics.c: every metric against numbers worked out by hand (the
 * arithmetic is in the comments) and against an independent formula written
 * here, F = (1+b^2) P R / (b^2 P + R) from precision and recall, never the
 * module's own helpers: the zero_division=0 cases, ties, top-k, thresholds,
 * merging halves, and the CSV reports read back as text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

#define TOL 1e-12

/* cmocka 1.1 (Debian 12) has no assert_double_equal: this one prints both
 * values to 17 digits when they differ by more than tol (NaN always fails). */
#define assert_double_equal(a, b, tol) near_((a), (b), (tol), #a, __FILE__, __LINE__)
static void near_(double a, double b, double tol, const char *what, const char *file, int line) {
    if (fabs(a - b) <= tol) return;
    print_error("%s = %.17g, expected %.17g (tolerance %g)\n", what, a, b, tol);
    _fail(file, line);
}

/* The reference F-beta, from precision and recall (sklearn's textbook form). */
static double ref_fbeta(double p, double r, double beta) {
    double b2 = beta * beta;
    return p + r == 0.0 ? 0.0 : (1.0 + b2) * p * r / (b2 * p + r);
}

/* Logits that predict pred[i] (2 there, 0 elsewhere); labels = truth[i]. */
static void make_single(float *logits, int32_t *labels, const int *truth, const int *pred, int n, int k) {
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < k; c++) logits[i * k + c] = c == pred[i] ? 2.0f : 0.0f;
        labels[i] = truth[i];
    }
}

static void fill_single(SingleMetrics *m, const int *truth, const int *pred, int n, int k, int topk) {
    float logits[64 * 8];
    int32_t labels[64];
    assert_true(n <= 64 && k <= 8);
    make_single(logits, labels, truth, pred, n, k);
    single_metrics_init(m, k, topk);
    single_metrics_add(m, logits, labels, n);
}

/* Every class's precision, recall, F1 and F2 equal the given hand values,
 * and the module's macro F-beta equals the mean of the reference F-beta. */
static void check_classes(const SingleMetrics *m, const double *p, const double *r) {
    double mp[8], mr[8], f1 = 0.0, f2 = 0.0;
    single_precision_recall(m, mp, mr);
    for (int c = 0; c < m->k; c++) {
        assert_double_equal(mp[c], p[c], TOL);
        assert_double_equal(mr[c], r[c], TOL);
        assert_double_equal(single_fbeta_class(m, c, 1.0), ref_fbeta(p[c], r[c], 1.0), TOL);
        assert_double_equal(single_fbeta_class(m, c, 2.0), ref_fbeta(p[c], r[c], 2.0), TOL);
        f1 += ref_fbeta(p[c], r[c], 1.0) / m->k;
        f2 += ref_fbeta(p[c], r[c], 2.0) / m->k;
    }
    assert_double_equal(single_fbeta_macro(m, 1.0), f1, TOL);
    assert_double_equal(single_fbeta_macro(m, 2.0), f2, TOL);
}

/* The 3-class case used by several tests. Confusion (row true, col pred):
 *        p0 p1 p2 | row
 *   t0 [  3  1  0 ]  4
 *   t1 [  0  2  2 ]  4
 *   t2 [  1  0  1 ]  2
 *   col   4  3  3    n = 10, trace 6 -> accuracy 0.6 */
static const int T3[10] = { 0, 0, 0, 0, 1, 1, 1, 1, 2, 2 };
static const int P3[10] = { 0, 0, 0, 1, 1, 1, 2, 2, 0, 2 };

static void test_three_class(void **state) {
    (void)state;
    SingleMetrics m;
    fill_single(&m, T3, P3, 10, 3, 1);
    const int64_t want[9] = { 3, 1, 0, 0, 2, 2, 1, 0, 1 };
    for (int i = 0; i < 9; i++) assert_int_equal(m.confusion[i], want[i]);
    assert_int_equal(m.n, 10);
    assert_double_equal(single_accuracy(&m), 0.6, TOL);
    assert_double_equal(single_topk_accuracy(&m), 0.6, TOL);   /* no ties: top-1 = argmax */
    /* P = diag/col, R = diag/row: P = 3/4, 2/3, 1/3; R = 3/4, 2/4, 1/2. */
    const double p[3] = { 3.0 / 4, 2.0 / 3, 1.0 / 3 }, r[3] = { 3.0 / 4, 1.0 / 2, 1.0 / 2 };
    check_classes(&m, p, r);
    /* F1 = 2PR/(P+R): 3/4; (2/3)/(7/6) = 4/7; (1/3)/(5/6) = 2/5.
     * macro F1 = (3/4 + 4/7 + 2/5)/3 = (105 + 80 + 56)/140/3 = 241/420. */
    assert_double_equal(single_fbeta_class(&m, 1, 1.0), 4.0 / 7, TOL);
    assert_double_equal(single_fbeta_class(&m, 2, 1.0), 2.0 / 5, TOL);
    assert_double_equal(single_fbeta_macro(&m, 1.0), 241.0 / 420, TOL);
    /* F2 = 5PR/(4P+R): 3/4; (5/3)/(8/3+1/2) = 10/19; (5/6)/(4/3+1/2) = 5/11.
     * Count form 5tp/(5tp+4fn+fp): class 1: 10/(10+8+1); class 2: 5/(5+4+2). */
    assert_double_equal(single_fbeta_class(&m, 0, 2.0), 3.0 / 4, TOL);
    assert_double_equal(single_fbeta_class(&m, 1, 2.0), 10.0 / 19, TOL);
    assert_double_equal(single_fbeta_class(&m, 2, 2.0), 5.0 / 11, TOL);
    assert_double_equal(single_fbeta_macro(&m, 2.0), (3.0 / 4 + 10.0 / 19 + 5.0 / 11) / 3, TOL);
    m.loss_sum = 5.0;
    assert_double_equal(single_loss_mean(&m), 0.5, TOL);
    single_metrics_free(&m);
}

/* Class 2 has true samples but is never predicted: P2 = 0 (no predictions),
 * R2 = 0/2, F2 = 0. (t,p) = (0,0) (1,1) (2,0) (2,1) (0,1).
 * Class 0: tp 1, fp 1 (2->0), fn 1 (0->1): P = R = 1/2, F1 = 1/2.
 * Class 1: tp 1, fp 2 (2->1, 0->1), fn 0: P = 1/3, R = 1, F1 = (2/3)/(4/3) = 1/2.
 * macro F1 = (1/2 + 1/2 + 0)/3 = 1/3. */
static void test_never_predicted(void **state) {
    (void)state;
    const int t[5] = { 0, 1, 2, 2, 0 }, pr[5] = { 0, 1, 0, 1, 1 };
    SingleMetrics m;
    fill_single(&m, t, pr, 5, 3, 1);
    const double p[3] = { 1.0 / 2, 1.0 / 3, 0.0 }, r[3] = { 1.0 / 2, 1.0, 0.0 };
    check_classes(&m, p, r);
    assert_double_equal(single_fbeta_class(&m, 2, 1.0), 0.0, TOL);
    assert_double_equal(single_fbeta_macro(&m, 1.0), 1.0 / 3, TOL);
    assert_double_equal(single_accuracy(&m), 2.0 / 5, TOL);
    single_metrics_free(&m);
}

/* k = 4. Class 2 is predicted once but never true: P2 = 0/1, R2 = 0 (no true
 * samples), F = 0. Class 3 is neither true nor predicted: all 0, still in
 * the macro average. (t,p) = (0,0) (1,2) (0,0) (1,1).
 * Class 0: tp 2, P = R = 1. Class 1: tp 1, fn 1: P = 1, R = 1/2, F1 = 2/3.
 * macro F1 = (1 + 2/3 + 0 + 0)/4 = 5/12. */
static void test_no_true_samples(void **state) {
    (void)state;
    const int t[4] = { 0, 1, 0, 1 }, pr[4] = { 0, 2, 0, 1 };
    SingleMetrics m;
    fill_single(&m, t, pr, 4, 4, 1);
    const double p[4] = { 1.0, 1.0, 0.0, 0.0 }, r[4] = { 1.0, 1.0 / 2, 0.0, 0.0 };
    check_classes(&m, p, r);
    assert_double_equal(single_fbeta_macro(&m, 1.0), 5.0 / 12, TOL);
    assert_double_equal(single_accuracy(&m), 3.0 / 4, TOL);
    single_metrics_free(&m);
}

/* Every sample right, every class present: everything is 1. */
static void test_all_correct(void **state) {
    (void)state;
    const int t[6] = { 0, 1, 2, 2, 1, 0 };
    SingleMetrics m;
    fill_single(&m, t, t, 6, 3, 2);
    const double one[3] = { 1, 1, 1 };
    check_classes(&m, one, one);
    assert_double_equal(single_accuracy(&m), 1.0, TOL);
    assert_double_equal(single_topk_accuracy(&m), 1.0, TOL);
    assert_double_equal(single_fbeta_macro(&m, 2.0), 1.0, TOL);
    assert_double_equal(single_fbeta_macro(&m, 0.5), 1.0, TOL);
    single_metrics_free(&m);
}

/* Every sample wrong (each class predicted as the next): tp = 0 everywhere,
 * so P = R = F = 0, with no NaN. Top-1 is 0 too. */
static void test_all_wrong(void **state) {
    (void)state;
    const int t[6] = { 0, 1, 2, 0, 1, 2 }, pr[6] = { 1, 2, 0, 1, 2, 0 };
    SingleMetrics m;
    fill_single(&m, t, pr, 6, 3, 1);
    const double zero[3] = { 0, 0, 0 };
    check_classes(&m, zero, zero);
    assert_double_equal(single_accuracy(&m), 0.0, TOL);
    assert_double_equal(single_topk_accuracy(&m), 0.0, TOL);
    assert_double_equal(single_fbeta_macro(&m, 2.0), 0.0, TOL);
    single_metrics_free(&m);
}

/* Top-2 over 4 classes; a hit when fewer than 2 others are strictly larger.
 *  s0 [.1 .9 .5 .2] y=2: larger {1}        -> 1 < 2 hit  (argmax 1: wrong)
 *  s1 [.1 .9 .5 .2] y=3: larger {1,2}      -> miss
 *  s2 [ 1  1  1  0] y=2: larger {}         -> hit (ties straddle the boundary; argmax 0: wrong)
 *  s3 [ 3  1  1  0] y=1: larger {0}        -> hit        (argmax 0: wrong)
 *  s4 [ 5  1  1  0] y=0: larger {}         -> hit        (argmax 0: right)
 *  s5 [ 0  0  0  0] y=3: larger {}         -> hit (constant output; argmax 0: wrong)
 *  s6 [NaN 0  0  0] y=1: NaN is not larger -> hit; argmax skips NaN -> 1: right
 *  s7 [ 0 NaN 0  0] y=1: NaN true logit    -> miss       (argmax 0: wrong)
 * top-2 = 6/8; accuracy = 2/8. */
static void test_top2(void **state) {
    (void)state;
    const float logits[8 * 4] = { .1f, .9f, .5f, .2f, .1f, .9f, .5f, .2f, 1, 1, 1, 0, 3, 1, 1, 0,
                                  5, 1, 1, 0, 0, 0, 0, 0, NAN, 0, 0, 0, 0, NAN, 0, 0 };
    const int32_t labels[8] = { 2, 3, 2, 1, 0, 3, 1, 1 };
    SingleMetrics m;
    single_metrics_init(&m, 4, 2);
    single_metrics_add(&m, logits, labels, 8);
    assert_int_equal(m.topk_hits, 6);
    assert_double_equal(single_topk_accuracy(&m), 6.0 / 8, TOL);
    assert_double_equal(single_accuracy(&m), 2.0 / 8, TOL);
    /* argmax: ties to the lowest index, NaN never wins. */
    const int64_t col[4] = { 5, 3, 0, 0 };   /* predicted 1,1,0,0,0,0,1,0 */
    for (int c = 0; c < 4; c++) {
        int64_t s = 0;
        for (int y = 0; y < 4; y++) s += m.confusion[y * 4 + c];
        assert_int_equal(s, col[c]);
    }
    assert_int_equal(m.confusion[1 * 4 + 1], 1);   /* s6 */
    single_metrics_free(&m);
    /* topk above k is clamped: top-9 of 4 classes takes everything (but NaN). */
    single_metrics_init(&m, 4, 9);
    assert_int_equal(m.topk, 4);
    single_metrics_add(&m, logits, labels, 8);
    assert_int_equal(m.topk_hits, 7);
    single_metrics_free(&m);
}

/* No samples: every figure is 0, not NaN; free accepts a zeroed struct. */
static void test_empty(void **state) {
    (void)state;
    SingleMetrics m;
    single_metrics_init(&m, 3, 2);
    assert_double_equal(single_accuracy(&m), 0.0, 0);
    assert_double_equal(single_topk_accuracy(&m), 0.0, 0);
    assert_double_equal(single_loss_mean(&m), 0.0, 0);
    assert_double_equal(single_fbeta_macro(&m, 2.0), 0.0, 0);
    single_metrics_free(&m);
    single_metrics_free(&m);
    MultiMetrics mm = { 0 };
    multi_metrics_free(&mm);
    multi_metrics_init(&mm, 3, 2.0, 0.5f);
    assert_double_equal(multi_fbeta_samples(&mm), 0.0, 0);
    assert_double_equal(multi_fbeta_micro(&mm), 0.0, 0);
    assert_double_equal(multi_fbeta_macro(&mm), 0.0, 0);
    assert_double_equal(multi_accuracy(&mm), 0.0, 0);
    assert_double_equal(multi_exact_match(&mm), 0.0, 0);
    multi_metrics_free(&mm);
}

/* ---------- multi-label ---------- */

/* 4 samples x 3 tags, logits +-2 (sigmoid 0.88 / 0.12), threshold 0.5.
 *      target   pred     tp fp fn  per-sample P, R   F2 = 5PR/(4P+R)
 *  s0  1 0 1    1 0 0     1  0  1   1,   1/2         2.5/4.5 = 5/9
 *  s1  0 1 0    0 1 1     1  1  0   1/2, 1           2.5/3   = 5/6
 *  s2  0 0 0    0 0 0     0  0  0   0,   0           0  (no tags: zero_division=0)
 *  s3  1 1 0    1 1 0     2  0  0   1,   1           1
 *  samples F2 = (5/9 + 5/6 + 0 + 1)/4 = 43/72.
 *  per tag: t0 tp 2; t1 tp 2; t2 fp 1 (s1), fn 1 (s0).
 *  micro: tp 4, fp 1, fn 1 -> P = R = 4/5, F2 = 4/5.
 *  macro: (1 + 1 + 0)/3 = 2/3.
 *  accuracy: 2 wrong decisions of 12 -> 5/6; exact: s2, s3 -> 1/2. */
static const uint8_t MT[12] = { 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0 };
static const uint8_t MP[12] = { 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0 };

static void fill_multi(MultiMetrics *m, float threshold) {
    float logits[12];
    for (int i = 0; i < 12; i++) logits[i] = MP[i] ? 2.0f : -2.0f;
    multi_metrics_init(m, 3, 2.0, threshold);
    multi_metrics_add(m, logits, MT, 4);
}

static void test_multi_hand(void **state) {
    (void)state;
    MultiMetrics m;
    fill_multi(&m, 0.5f);
    double p[4] = { 1, 0.5, 0, 1 }, r[4] = { 0.5, 1, 0, 1 }, want = 0.0;
    for (int i = 0; i < 4; i++) want += ref_fbeta(p[i], r[i], 2.0) / 4;
    assert_double_equal(want, 43.0 / 72, TOL);             /* the formula agrees with the table */
    assert_double_equal(multi_fbeta_samples(&m), 43.0 / 72, TOL);
    assert_double_equal(multi_fbeta_micro(&m), ref_fbeta(0.8, 0.8, 2.0), TOL);
    assert_double_equal(multi_fbeta_micro(&m), 0.8, TOL);
    assert_double_equal(multi_fbeta_macro(&m), (ref_fbeta(1, 1, 2) + ref_fbeta(1, 1, 2) + 0.0) / 3, TOL);
    assert_double_equal(multi_fbeta_macro(&m), 2.0 / 3, TOL);
    assert_double_equal(multi_accuracy(&m), 10.0 / 12, TOL);
    assert_double_equal(multi_exact_match(&m), 0.5, TOL);
    assert_double_equal(m.precision_samples_sum / 4, 2.5 / 4, TOL);
    assert_double_equal(m.recall_samples_sum / 4, 2.5 / 4, TOL);
    const int64_t tp[3] = { 2, 2, 0 }, fp[3] = { 0, 0, 1 }, fn[3] = { 0, 0, 1 };
    for (int j = 0; j < 3; j++) {
        assert_int_equal(m.tp[j], tp[j]);
        assert_int_equal(m.fp[j], fp[j]);
        assert_int_equal(m.fn[j], fn[j]);
    }
    multi_metrics_free(&m);
    /* The no-tag sample alone scores 0, not 1. */
    const float none[3] = { -2, -2, -2 };
    const uint8_t zero[3] = { 0, 0, 0 };
    multi_metrics_init(&m, 3, 2.0, 0.5f);
    multi_metrics_add(&m, none, zero, 1);
    assert_double_equal(multi_fbeta_samples(&m), 0.0, 0);
    assert_double_equal(multi_fbeta_micro(&m), 0.0, 0);
    assert_double_equal(multi_accuracy(&m), 1.0, TOL);     /* every decision right */
    assert_double_equal(multi_exact_match(&m), 1.0, TOL);
    multi_metrics_free(&m);
}

/* Thresholds. sigmoid: 0.5->0.622, 1->0.731, 3->0.953, 0->0.5, -1->0.269, 0.8->0.690.
 *  s0 logits [0.5 1 3]  target 1 1 0     s1 logits [0 -1 0.8]  target 0 0 1
 * At 0.7: s0 pred 0 1 1: tp 1 fp 1 fn 1 -> F2 = 5/(5+4+1) = 1/2
 *         s1 pred 0 0 0: fn 1           -> 0          samples = 1/4
 *         micro tp 1 fp 1 fn 2 -> P 1/2, R 1/3, F2 = (5/6)/(2+1/3) = 5/14
 *         tags: t0 fn; t1 tp; t2 fp+fn -> macro (0 + 1 + 0)/3 = 1/3
 *         wrong decisions s0t0 s0t2 s1t2 -> accuracy 3/6; exact 0.
 * At 0.5: s0 pred 1 1 1: tp 2 fp 1 -> P 2/3, R 1, F2 = (10/3)/(8/3+1) = 10/11
 *         s1 pred 0 0 1 (sigmoid(0) = 0.5 is not > 0.5): perfect -> 1
 *         samples = (10/11 + 1)/2 = 21/22; exact 1/2. */
static void test_multi_threshold(void **state) {
    (void)state;
    const float logits[6] = { 0.5f, 1.0f, 3.0f, 0.0f, -1.0f, 0.8f };
    const uint8_t targets[6] = { 1, 1, 0, 0, 0, 1 };
    MultiMetrics m;
    multi_metrics_init(&m, 3, 2.0, 0.7f);
    multi_metrics_add(&m, logits, targets, 2);
    assert_double_equal(multi_fbeta_samples(&m), (ref_fbeta(0.5, 0.5, 2) + 0.0) / 2, TOL);
    assert_double_equal(multi_fbeta_samples(&m), 1.0 / 4, TOL);
    assert_double_equal(multi_fbeta_micro(&m), ref_fbeta(1.0 / 2, 1.0 / 3, 2), TOL);
    assert_double_equal(multi_fbeta_micro(&m), 5.0 / 14, TOL);
    assert_double_equal(multi_fbeta_macro(&m), 1.0 / 3, TOL);
    assert_double_equal(multi_accuracy(&m), 0.5, TOL);
    assert_double_equal(multi_exact_match(&m), 0.0, 0);
    multi_metrics_free(&m);
    multi_metrics_init(&m, 3, 2.0, 0.5f);
    multi_metrics_add(&m, logits, targets, 2);
    assert_double_equal(multi_fbeta_samples(&m), (ref_fbeta(2.0 / 3, 1, 2) + 1.0) / 2, TOL);
    assert_double_equal(multi_fbeta_samples(&m), 21.0 / 22, TOL);
    assert_double_equal(multi_exact_match(&m), 0.5, TOL);
    multi_metrics_free(&m);
    /* F1 on the same data, threshold 0.5: s0 2*(2/3)/(5/3) = 4/5, s1 1. */
    multi_metrics_init(&m, 3, 1.0, 0.5f);
    multi_metrics_add(&m, logits, targets, 2);
    assert_double_equal(multi_fbeta_samples(&m), (4.0 / 5 + 1.0) / 2, TOL);
    multi_metrics_free(&m);
}

/* ---------- merge ---------- */

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u, *s >> 8; }

enum { MN = 37, MK = 5, MHALF = 20 };

static void test_single_merge(void **state) {
    (void)state;
    float logits[MN * MK];
    int32_t labels[MN];
    uint32_t s = 7;
    for (int i = 0; i < MN * MK; i++) logits[i] = (float)(lcg(&s) % 9) - 4.0f;   /* many ties */
    for (int i = 0; i < MN; i++) labels[i] = (int32_t)(lcg(&s) % MK);
    SingleMetrics all, a, b;
    single_metrics_init(&all, MK, 3);
    single_metrics_init(&a, MK, 3);
    single_metrics_init(&b, MK, 3);
    single_metrics_add(&all, logits, labels, MN);
    single_metrics_add(&a, logits, labels, MHALF);
    single_metrics_add(&b, logits + MHALF * MK, labels + MHALF, MN - MHALF);
    all.loss_sum = 3.0; a.loss_sum = 1.0; b.loss_sum = 2.0;
    single_metrics_merge(&a, &b);
    assert_int_equal(a.n, all.n);
    assert_int_equal(a.topk_hits, all.topk_hits);
    assert_memory_equal(a.confusion, all.confusion, MK * MK * sizeof(int64_t));
    assert_double_equal(a.loss_sum, all.loss_sum, TOL);
    assert_double_equal(single_fbeta_macro(&a, 2.0), single_fbeta_macro(&all, 2.0), TOL);
    single_metrics_reset(&a);
    assert_int_equal(a.n, 0);
    assert_int_equal(a.confusion[0], 0);
    single_metrics_free(&all);
    single_metrics_free(&a);
    single_metrics_free(&b);
}

static void test_multi_merge(void **state) {
    (void)state;
    float logits[MN * MK];
    uint8_t targets[MN * MK];
    uint32_t s = 11;
    for (int i = 0; i < MN * MK; i++) {
        logits[i] = (float)((int)(lcg(&s) % 61) - 30) / 10.0f;
        targets[i] = (uint8_t)(lcg(&s) % 3 == 0);
    }
    MultiMetrics all, a, b;
    multi_metrics_init(&all, MK, 2.0, 0.4f);
    multi_metrics_init(&a, MK, 2.0, 0.4f);
    multi_metrics_init(&b, MK, 2.0, 0.4f);
    multi_metrics_add(&all, logits, targets, MN);
    multi_metrics_add(&a, logits, targets, MHALF);
    multi_metrics_add(&b, logits + MHALF * MK, targets + MHALF * MK, MN - MHALF);
    multi_metrics_merge(&a, &b);
    assert_int_equal(a.n, all.n);
    assert_int_equal(a.exact, all.exact);
    assert_memory_equal(a.tp, all.tp, MK * sizeof(int64_t));
    assert_memory_equal(a.fp, all.fp, MK * sizeof(int64_t));
    assert_memory_equal(a.fn, all.fn, MK * sizeof(int64_t));
    assert_double_equal(a.fbeta_samples_sum, all.fbeta_samples_sum, TOL);
    assert_double_equal(multi_fbeta_samples(&a), multi_fbeta_samples(&all), TOL);
    assert_double_equal(multi_fbeta_micro(&a), multi_fbeta_micro(&all), TOL);
    assert_double_equal(multi_fbeta_macro(&a), multi_fbeta_macro(&all), TOL);
    assert_true(multi_fbeta_samples(&all) > 0.0 && multi_fbeta_samples(&all) < 1.0);
    multi_metrics_reset(&a);
    assert_int_equal(a.n, 0);
    assert_double_equal(a.fbeta_samples_sum, 0.0, 0);
    multi_metrics_free(&all);
    multi_metrics_free(&a);
    multi_metrics_free(&b);
}

/* ---------- CSV ---------- */

static char tmpdir[64];

static int make_tmpdir(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/test_metrics.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    (void)state;
    return rmdir(tmpdir);
}

/* Reads the file into buf and splits it into lines; returns the count. */
static int read_lines(const char *path, char *buf, size_t cap, char **line, int max) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[len] = 0;
    assert_true(len > 0 && buf[len - 1] == '\n');
    int n = 0;
    for (char *p = buf; *p && n < max; n++) {
        line[n] = p;
        p = strchr(p, '\n');
        *p++ = 0;
    }
    return n;
}

static int exists(const char *path) {
    FILE *f = fopen(path, "r");
    if (f) fclose(f);
    return f != NULL;
}

/* The 3-class case with F2: rows carry support (row sum), predicted (column
 * sum), P, R, F2 to 6 places and the confusion row; "bird, small" is quoted.
 * macro P = (3/4 + 2/3 + 1/3)/3 = 0.583333, R = (3/4 + 1/2 + 1/2)/3 = 0.583333,
 * F2 = (3/4 + 10/19 + 5/11)/3 = 0.5769537. */
static void test_single_csv(void **state) {
    (void)state;
    SingleMetrics m;
    fill_single(&m, T3, P3, 10, 3, 2);
    char path[128], partial[160], buf[4096], *line[16];
    snprintf(path, sizeof path, "%s/eval.csv", tmpdir);
    snprintf(partial, sizeof partial, "%s.partial", path);
    char *names[3] = { "cat", "dog", "bird, small" };
    assert_int_equal(metrics_write_single_csv(path, &m, names, 2.0), DL_OK);
    assert_false(exists(partial));
    int n = read_lines(path, buf, sizeof buf, line, 16);
    assert_int_equal(n, 7);
    assert_string_equal(line[0], "class,support,predicted,precision,recall,f2,pred_cat,pred_dog,\"pred_bird, small\"");
    assert_string_equal(line[1], "cat,4,4,0.750000,0.750000,0.750000,3,1,0");
    assert_string_equal(line[2], "dog,4,3,0.666667,0.500000,0.526316,0,2,2");
    assert_string_equal(line[3], "\"bird, small\",2,3,0.333333,0.500000,0.454545,1,0,1");
    assert_string_equal(line[4], "accuracy,10,10,0.600000,0.600000,0.600000,,,");
    assert_string_equal(line[5], "top2_accuracy,10,10,1.000000,1.000000,1.000000,,,");   /* no sample worse than 2nd */
    assert_string_equal(line[6], "macro_avg,10,10,0.583333,0.583333,0.576954,,,");
    /* Without names, classes are their indices; F1 header. */
    assert_int_equal(metrics_write_single_csv(path, &m, NULL, 1.0), DL_OK);
    n = read_lines(path, buf, sizeof buf, line, 16);
    assert_string_equal(line[0], "class,support,predicted,precision,recall,f1,pred_0,pred_1,pred_2");
    assert_string_equal(line[2], "1,4,3,0.666667,0.500000,0.571429,0,2,2");   /* F1 = 4/7 */
    assert_int_equal(remove(path), 0);
    single_metrics_free(&m);
}

/* The hand multi-label case (test_multi_hand), tags a, b, "c""q". */
static void test_multi_csv(void **state) {
    (void)state;
    MultiMetrics m;
    fill_multi(&m, 0.5f);
    char path[128], buf[4096], *line[16];
    snprintf(path, sizeof path, "%s/eval_multi.csv", tmpdir);
    char *names[3] = { "a", "b", "c\"q" };
    assert_int_equal(metrics_write_multi_csv(path, &m, names), DL_OK);
    int n = read_lines(path, buf, sizeof buf, line, 16);
    assert_int_equal(n, 8);
    assert_string_equal(line[0], "tag,support,predicted,tp,fp,fn,precision,recall,f2,accuracy");
    assert_string_equal(line[1], "a,2,2,2,0,0,1.000000,1.000000,1.000000,1.000000");
    assert_string_equal(line[3], "\"c\"\"q\",1,1,0,1,1,0.000000,0.000000,0.000000,0.500000");
    assert_string_equal(line[4], "micro_avg,5,5,4,1,1,0.800000,0.800000,0.800000,0.833333");
    /* macro: P = R = (1+1+0)/3, F2 = 2/3, accuracy (1+1+1/2)/3 = 5/6. */
    assert_string_equal(line[5], "macro_avg,5,5,,,,0.666667,0.666667,0.666667,0.833333");
    /* samples: P = (1 + 1/2 + 0 + 1)/4, R = (1/2 + 1 + 0 + 1)/4, F2 = 43/72. */
    assert_string_equal(line[6], "samples_avg,5,5,,,,0.625000,0.625000,0.597222,");
    assert_string_equal(line[7], "exact_match,4,,,,,,,,0.500000");
    assert_int_equal(remove(path), 0);
    multi_metrics_free(&m);
}

/* An unwritable path fails with DL_EIO and a message naming it. */
static void test_csv_error(void **state) {
    (void)state;
    SingleMetrics m;
    single_metrics_init(&m, 2, 1);
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/eval.csv", tmpdir);
    assert_int_equal(metrics_write_single_csv(path, &m, NULL, 2.0), DL_EIO);
    assert_non_null(strstr(dl_errmsg(), path));
    MultiMetrics mm;
    multi_metrics_init(&mm, 2, 2.0, 0.5f);
    assert_int_equal(metrics_write_multi_csv(path, &mm, NULL), DL_EIO);
    assert_non_null(strstr(dl_errmsg(), path));
    single_metrics_free(&m);
    multi_metrics_free(&mm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_class),
        cmocka_unit_test(test_never_predicted),
        cmocka_unit_test(test_no_true_samples),
        cmocka_unit_test(test_all_correct),
        cmocka_unit_test(test_all_wrong),
        cmocka_unit_test(test_top2),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_multi_hand),
        cmocka_unit_test(test_multi_threshold),
        cmocka_unit_test(test_single_merge),
        cmocka_unit_test(test_multi_merge),
        cmocka_unit_test(test_single_csv),
        cmocka_unit_test(test_multi_csv),
        cmocka_unit_test(test_csv_error),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
