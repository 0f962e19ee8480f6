/* sampler.h: the order training reads samples in. Epoch e's order is a
 * Fisher-Yates shuffle of the first `used` samples keyed by (seed, e)
 * (DESIGN.md, Reproducibility): the same on every rank for any rank count;
 * rank r takes its slice of each global batch from it (train.c). Two orders
 * are kept, this epoch's and the next one's, so the loader can read ahead
 * across the end of an epoch. Not here: the slices, reading (loader.h). */
#ifndef DL_SAMPLER_H
#define DL_SAMPLER_H

#include <stdint.h>

#include "util.h"

typedef struct {
    int64_t n;                 /* samples in the file */
    int64_t used;              /* the first `used` are shuffled (--limit); the rest keep their place */
    uint64_t seed;
    int64_t *perm, *perm_next; /* (n) this epoch's order, the order of epoch next_epoch */
    int perm_epoch, next_epoch;     /* whose order perm / perm_next hold (-1: none) */
} Sampler;

/* Allocates the two orders; free with sampler_free (accepts a zeroed one). */
void sampler_init(Sampler *s, int64_t n, int64_t used, uint64_t seed);
void sampler_free(Sampler *s);

/* perm (n) = epoch's order, a pure function of (n, used, seed, epoch). */
void sampler_order(int64_t *perm, int64_t n, int64_t used, uint64_t seed, int epoch);

/* The order of `epoch`: this epoch's, or (reading ahead across the epoch
 * end) the next one's, made once. Valid until the next sampler_enter. */
const int64_t *sampler_of(Sampler *s, int epoch);

/* Makes `epoch` the current one (using the read-ahead order when it is
 * there), with `used` samples. */
void sampler_enter(Sampler *s, int epoch, int64_t used);

#endif
