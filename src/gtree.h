/* gtree.h: the fixed binary tree in which the G groups of a global batch
 * are summed, whatever the number of ranks (README "Reproducibility").
 *
 * The tree is searched (once, at start-up) so that for every N dividing
 * G, each rank's block of G/N consecutive groups is the union of at most
 * two subtrees ("roots"): then a rank sends at most two partial sums per
 * slice of the buffer. Each node splits where the most block sizes cut
 * (the largest gcd with G), then nearest the middle, among the splits
 * that keep the promise. A power-of-two G gets the balanced tree,
 * ((g0 + g1) + (g2 + g3)) ...; G = 12 gets
 * (((((0 1) 2) 3) (4 5)) ((6 7) (8 (9 (10 11))))). Every G up to 119
 * has such a tree, and 917 of 1 ... 1024 (tests/test_gtree.c). Where none
 * exists (G = 120, 126, 168, ...) each node takes the first choice and a
 * block may take more subtrees: k subtrees cost (k + 1) / 2 times a ring
 * allreduce's bytes, and --profile prints the figure.
 *
 * A rank can pre-sum only the subtrees inside its block; the exchange
 * (dist.c) sends their k roots and costs (k + 1) / 2 times a ring
 * allreduce. Sums follow one rule everywhere: push subtrees left to right
 * on a stack; while the top two are the two children of a node, add the
 * top into the one below. Floating-point addition is commutative, so a
 * node's bits depend only on the tree's shape. */
#ifndef DL_GTREE_H
#define DL_GTREE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum { GTREE_MAX_GROUPS = 1024, GTREE_MAX_DEPTH = 64 };

typedef struct {
    int G;
    int nodes;            /* G - 1 internal nodes */
    int *lo, *hi;         /* (nodes) node i covers groups [lo, hi), sorted by (lo, hi) */
    int two;              /* 1: every block of every N dividing G is at most two subtrees */
} GTree;

/* Builds the tree for G groups (1 <= G <= GTREE_MAX_GROUPS; the caller
 * checks). Free with gtree_free, which also takes a zeroed GTree. */
void gtree_init(GTree *t, int G);
void gtree_free(GTree *t);

/* 1 if groups [lo, hi) are a subtree (a single group is). */
int gtree_is_node(const GTree *t, int lo, int hi);

/* The maximal subtrees inside groups [lo, hi), left to right: their first
 * groups into first[] (room for hi - lo) and the count returned. */
int gtree_roots(const GTree *t, int lo, int hi, int *first);

/* The most roots of any block when N ranks (N divides G) share the groups. */
int gtree_max_roots(const GTree *t, int N);

/* How a call that gets groups lo .. hi-1 sums them: merges[i] is the number
 * of stack merges after group lo + i is pushed (hi - lo entries). */
void gtree_plan(const GTree *t, int lo, int hi, uint8_t *merges);

/* Sums n consecutive subtrees (item i covers groups [lo[i], hi[i]), its
 * floats at buf[i][0 .. len)) in the tree's order: a node's sum goes into
 * its left child's buffer. Returns the subtrees left (the maximal ones of
 * the items' span), their item indices into out[] (room for n). */
int gtree_sum(const GTree *t, int n, const int *lo, const int *hi, float *const *buf, size_t len, int *out);

#endif
