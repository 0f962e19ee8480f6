/* gtree.c: the groups' summation tree (see gtree.h). Pure arithmetic on
 * group indices, no floats but in gtree_sum. */
#include "gtree.h"

#include <stdlib.h>
#include <string.h>

/* The search below, on every interval [a, b) of groups. A "block" is
 * [j d, (j + 1) d) for a divisor 1 < d < G of G: what one rank holds when
 * G/d ranks share the groups. A block splits into at most 2 subtrees iff
 * at the node where the tree first cuts it, at m, both [x, m) and [m, y)
 * are nodes. So a subtree on [a, b) must have [a, y) as a node for every
 * block [x, y) with x < a < y < b, and [x, b) for every block with
 * a < x < b < y; a split m of [a, b) works iff it lies at or right of all
 * such y, at or left of all such x, and both halves work (the blocks
 * across m then ask the same of the halves). An interval's answer
 * depends on the interval alone: a table of (G + 1)^2 entries. */
typedef struct {
    int G, nd, *d;        /* the divisors 1 < d < G */
    int *memo;            /* ((G + 1)^2) split + 2; 0: not yet; 1: none works */
} Search;

static int gcd(int a, int b) {
    while (b) { int r = a % b; a = b; b = r; }
    return a;
}

/* Better split first: the one more block sizes cut at (larger gcd with
 * G), then the one nearer the middle, then the left one. For a power of
 * two this is the midpoint: the balanced tree. */
static int better(const Search *s, int a, int b, int m, int n) {
    int gm = gcd(m, s->G), gn = gcd(n, s->G);
    if (gm != gn) return gm > gn;
    int dm = abs(2 * m - a - b), dn = abs(2 * n - a - b);
    if (dm != dn) return dm < dn;
    return m < n;
}

static int split_of(Search *s, int a, int b) {
    int *memo = &s->memo[(size_t)a * (s->G + 1) + b];
    if (*memo) return *memo - 2;
    int lo = a + 1, hi = b - 1;
    for (int i = 0; i < s->nd; i++) {
        int d = s->d[i];
        if (a % d && a - a % d + d < b && a - a % d + d > lo) lo = a - a % d + d;   /* a block across a, ending inside */
        if (b % d && b - b % d > a && b - b % d < hi) hi = b - b % d;               /* across b, starting inside */
    }
    /* the splits in order of preference (see better()): by gcd with G,
     * largest first (a level per divisor), then outwards from the middle */
    int found = -1;
    for (int i = s->nd; i >= 0 && found < 0 && lo <= hi; i--) {
        int d = i > 0 ? s->d[i - 1] : 1;
        int l = (a + b) / 2 / d * d, r = l + d;   /* candidates at or left of the middle, right of it */
        while (found < 0 && (l >= lo || r <= hi)) {
            int m;
            if (l >= lo && (r > hi || abs(2 * l - a - b) <= abs(2 * r - a - b))) { m = l; l -= d; }
            else { m = r; r += d; }
            if (m < lo || m > hi || gcd(m, s->G) != d) continue;
            if ((m - a == 1 || split_of(s, a, m) >= 0) && (b - m == 1 || split_of(s, m, b) >= 0)) found = m;
        }
    }
    *memo = found + 2;
    return found;
}

/* When no tree keeps every block to 2 subtrees (G = 120, 126, ...): split
 * each interval where the most block sizes cut (the first choice above). */
static int greedy_split(const Search *s, int a, int b) {
    int best = a + 1;
    for (int m = a + 2; m < b; m++) if (better(s, a, b, m, best)) best = m;
    return best;
}

static void collect(GTree *t, Search *s, int a, int b, int greedy) {
    if (b - a < 2) return;
    int m = greedy ? greedy_split(s, a, b) : split_of(s, a, b);
    t->lo[t->nodes] = a;
    t->hi[t->nodes++] = b;
    collect(t, s, a, m, greedy);
    collect(t, s, m, b, greedy);
}

static int cmp_int2(const void *x, const void *y) {
    const int *p = x, *q = y;
    if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
    return (p[1] > q[1]) - (p[1] < q[1]);
}

/* First node index with lo >= x (nodes sorted by lo). */
static int first_at(const GTree *t, int x) {
    int a = 0, b = t->nodes;
    while (a < b) {
        int m = (a + b) / 2;
        if (t->lo[m] < x) a = m + 1; else b = m;
    }
    return a;
}

int gtree_is_node(const GTree *t, int lo, int hi) {
    if (hi - lo == 1) return 1;
    for (int i = first_at(t, lo); i < t->nodes && t->lo[i] == lo && t->hi[i] <= hi; i++)
        if (t->hi[i] == hi) return 1;
    return 0;
}

int gtree_roots(const GTree *t, int lo, int hi, int *first) {
    int k = 0;
    for (int x = lo; x < hi;) {
        int end = x + 1;   /* the largest subtree starting at x that fits */
        for (int i = first_at(t, x); i < t->nodes && t->lo[i] == x && t->hi[i] <= hi; i++) end = t->hi[i];
        if (first) first[k] = x;
        k++;
        x = end;
    }
    return k;
}

int gtree_max_roots(const GTree *t, int N) {
    DL_CHECK(N >= 1 && t->G % N == 0);
    int b = t->G / N, k = 0;
    for (int j = 0; j < N; j++) {
        int kj = gtree_roots(t, j * b, (j + 1) * b, NULL);
        if (kj > k) k = kj;
    }
    return k;
}

void gtree_init(GTree *t, int G) {
    DL_CHECK(G >= 1 && G <= GTREE_MAX_GROUPS);
    *t = (GTree){ .G = G };
    Search s = { .G = G, .d = dl_malloc(sizeof(int) * (size_t)G) };
    for (int d = 2; d < G; d++) if (G % d == 0) s.d[s.nd++] = d;
    s.memo = dl_calloc((size_t)(G + 1) * (G + 1), sizeof(int));
    t->lo = dl_malloc(sizeof(int) * (size_t)G);
    t->hi = dl_malloc(sizeof(int) * (size_t)G);
    t->two = G == 1 || split_of(&s, 0, G) >= 0;
    collect(t, &s, 0, G, !t->two);
    DL_CHECK(t->nodes == G - 1);
    int *pair = dl_malloc(sizeof(int) * 2 * (size_t)G);   /* sorted by (lo, hi) for the look-ups */
    for (int i = 0; i < t->nodes; i++) { pair[2 * i] = t->lo[i]; pair[2 * i + 1] = t->hi[i]; }
    qsort(pair, (size_t)t->nodes, 2 * sizeof(int), cmp_int2);
    for (int i = 0; i < t->nodes; i++) { t->lo[i] = pair[2 * i]; t->hi[i] = pair[2 * i + 1]; }
    dl_free(pair); dl_free(s.d); dl_free(s.memo);
}

void gtree_free(GTree *t) {
    dl_free(t->lo);
    dl_free(t->hi);
    t->lo = t->hi = NULL;
    t->nodes = 0;
}

void gtree_plan(const GTree *t, int lo, int hi, uint8_t *merges) {
    int slo[GTREE_MAX_DEPTH], depth = 0;
    for (int g = lo; g < hi; g++) {
        int m = 0;
        slo[depth++] = g;
        while (depth >= 2 && gtree_is_node(t, slo[depth - 2], g + 1)) { depth--; m++; }
        DL_CHECK(depth < GTREE_MAX_DEPTH);
        merges[g - lo] = (uint8_t)m;
    }
}

int gtree_sum(const GTree *t, int n, const int *lo, const int *hi, float *const *buf, size_t len, int *out) {
    int item[GTREE_MAX_DEPTH], slo[GTREE_MAX_DEPTH], depth = 0;
    for (int i = 0; i < n; i++) {
        DL_CHECK(depth < GTREE_MAX_DEPTH && (i == 0 || lo[i] == hi[i - 1]));
        item[depth] = i;
        slo[depth++] = lo[i];
        while (depth >= 2 && gtree_is_node(t, slo[depth - 2], hi[i])) {
            float *dst = buf[item[depth - 2]];
            const float *src = buf[item[depth - 1]];
            for (size_t j = 0; j < len; j++) dst[j] += src[j];
            depth--;
        }
    }
    memcpy(out, item, sizeof(int) * (size_t)depth);
    return depth;
}
