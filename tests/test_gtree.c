/* test_gtree.c: the groups' summation tree (src/gtree.c), checked against
 * plain recomputations from its node list:
 *  - for every G up to 1024 the nodes form one full binary tree over G
 *    groups; a power of two gets exactly the balanced tree;
 *  - the promise: every block of every N dividing G is at most two
 *    subtrees, counted here by brute force over the node list, for every
 *    G up to 119 and for 917 of G = 1..1024 (gtree.h, README); gtree_roots
 *    and gtree_max_roots agree with the brute force;
 *  - G = 12's tree, written out by hand;
 *  - sums: random floats summed leaf by leaf, block by block (any N, as
 *    ranks do), run by run (as threads do, through gtree_plan and the
 *    stack model_backward uses) all give the bits of a recursive
 *    evaluation of the tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gtree.h"
#include "util.h"

/* Brute force: is [a, b) a node (a scan of the list)? */
static int is_node(const GTree *t, int a, int b) {
    if (b - a == 1) return 1;
    for (int i = 0; i < t->nodes; i++) if (t->lo[i] == a && t->hi[i] == b) return 1;
    return 0;
}

/* The split of node [a, b): its left child is the largest node [a, m), m < b. */
static int split(const GTree *t, int a, int b) {
    int m = a + 1;
    for (int i = 0; i < t->nodes; i++) if (t->lo[i] == a && t->hi[i] < b && t->hi[i] > m) m = t->hi[i];
    return m;
}

/* Subtrees a block [x, y) splits into, by descending from the root. */
static int cover(const GTree *t, int a, int b, int x, int y) {
    if (x <= a && b <= y) return 1;
    if (y <= a || b <= x) return 0;
    int m = split(t, a, b);
    return cover(t, a, m, x, y) + cover(t, m, b, x, y);
}

static int worst_block(const GTree *t) {
    int k = 0;
    for (int N = 1; N <= t->G; N++) {
        if (t->G % N) continue;
        int b = t->G / N;
        for (int j = 0; j < N; j++) {
            int c = cover(t, 0, t->G, j * b, (j + 1) * b);
            if (c > k) k = c;
        }
    }
    return k;
}

static void test_shape(void **state) {
    (void)state;
    int two = 0;
    for (int G = 1; G <= GTREE_MAX_GROUPS; G++) {
        GTree t;
        gtree_init(&t, G);
        assert_int_equal(t.nodes, G - 1);
        for (int i = 0; i < t.nodes; i++) {   /* every node's two children are nodes */
            int a = t.lo[i], b = t.hi[i], m = split(&t, a, b);
            assert_true(a < m && m < b);
            assert_true(is_node(&t, m, b));
            assert_true(gtree_is_node(&t, a, b) && gtree_is_node(&t, a, m) && gtree_is_node(&t, m, b));
        }
        if ((G & (G - 1)) == 0)   /* balanced: every node an aligned power of two, split in the middle */
            for (int i = 0; i < t.nodes; i++) {
                int a = t.lo[i], b = t.hi[i];
                assert_true(((b - a) & (b - a - 1)) == 0 && a % (b - a) == 0);
            }
        two += t.two;
        if (G <= 130 || G % 97 == 0 || G == 240 || G == 720 || G == 1024) {   /* brute force on a selection: it is slow */
            int k = worst_block(&t);
            assert_int_equal(t.two, k <= 2);
            int km = 0;
            for (int N = 1; N <= G; N++)
                if (G % N == 0) {
                    int kn = gtree_max_roots(&t, N);
                    if (kn > km) km = kn;
                }
            assert_int_equal(km, k);
            if (G < 120) assert_true(k <= 2);
        }
        gtree_free(&t);
    }
    assert_int_equal(two, 917);
}

static void test_twelve(void **state) {
    (void)state;
    /* (((((0 1) 2) 3) (4 5)) ((6 7) (8 (9 (10 11))))) */
    static const int want[][2] = { {0, 12}, {0, 6}, {0, 4}, {0, 3}, {0, 2}, {4, 6}, {6, 12}, {6, 8},
                                   {8, 12}, {9, 12}, {10, 12} };
    GTree t;
    gtree_init(&t, 12);
    assert_int_equal(t.nodes, 11);
    for (int i = 0; i < 11; i++) assert_true(is_node(&t, want[i][0], want[i][1]));
    int first[12];
    assert_int_equal(gtree_roots(&t, 3, 6, first), 2);   /* 4 ranks: rank 1 holds 3 | (4 5) */
    assert_int_equal(first[0], 3);
    assert_int_equal(first[1], 4);
    assert_int_equal(gtree_roots(&t, 8, 12, first), 1);
    assert_int_equal(gtree_max_roots(&t, 4), 2);
    assert_int_equal(gtree_max_roots(&t, 2), 1);
    assert_int_equal(gtree_max_roots(&t, 12), 1);
    gtree_free(&t);
}

static float eval(const GTree *t, const float *leaf, int a, int b) {
    if (b - a == 1) return leaf[a];
    int m = split(t, a, b);
    return eval(t, leaf, a, m) + eval(t, leaf, m, b);
}

static void test_sums(void **state) {
    (void)state;
    static const int Gs[] = { 3, 6, 12, 16, 18, 24, 30, 36, 48, 60, 96, 120 };
    DlRng r = { 7 };
    for (size_t gi = 0; gi < sizeof Gs / sizeof Gs[0]; gi++) {
        int G = Gs[gi];
        GTree t;
        gtree_init(&t, G);
        float *leaf = dl_malloc(sizeof(float) * G), *v = dl_malloc(sizeof(float) * G);
        float **ptr = dl_malloc(sizeof(float *) * G);
        int *lo = dl_malloc(sizeof(int) * G), *hi = dl_malloc(sizeof(int) * G), *out = dl_malloc(sizeof(int) * G);
        uint8_t *plan = dl_malloc((size_t)G);
        for (int g = 0; g < G; g++) leaf[g] = (rng_unit(&r) * 2.0f - 1.0f) * (g % 3 ? 1.0f : 1e4f);
        float want = eval(&t, leaf, 0, G);
        for (int N = 1; N <= G; N++) {
            if (G % N) continue;
            int b = G / N, n = 0;
            memcpy(v, leaf, sizeof(float) * G);
            for (int p = 0; p < N; p++) {   /* each rank: its block's subtrees, by the plan's stack */
                gtree_plan(&t, p * b, (p + 1) * b, plan);
                int st[64], d = 0;
                for (int g = p * b; g < (p + 1) * b; g++) {
                    st[d++] = g;
                    for (int k = 0; k < plan[g - p * b]; k++, d--) v[st[d - 2]] += v[st[d - 1]];
                }
                int first[1024];
                int k = gtree_roots(&t, p * b, (p + 1) * b, first);
                assert_int_equal(k, d);
                for (int j = 0; j < k; j++) {
                    assert_int_equal(first[j], st[j]);
                    lo[n] = first[j];
                    hi[n] = j + 1 < k ? first[j + 1] : (p + 1) * b;
                    ptr[n++] = &v[first[j]];
                }
            }
            assert_int_equal(gtree_sum(&t, n, lo, hi, ptr, 1, out), 1);   /* then across the ranks */
            assert_memory_equal(&v[0], &want, sizeof(float));
        }
        gtree_free(&t);
        dl_free(leaf); dl_free(v); dl_free(ptr); dl_free(lo); dl_free(hi); dl_free(out); dl_free(plan);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_twelve),
        cmocka_unit_test(test_sums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
