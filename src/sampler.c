/* sampler.c: see sampler.h. */
#include "sampler.h"

void sampler_init(Sampler *s, int64_t n, int64_t used, uint64_t seed) {
    *s = (Sampler){ .n = n, .used = used, .seed = seed, .perm_epoch = -1, .next_epoch = -1 };
    s->perm = dl_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    s->perm_next = dl_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
}

void sampler_free(Sampler *s) {
    dl_free(s->perm);
    dl_free(s->perm_next);
    *s = (Sampler){ .perm_epoch = -1, .next_epoch = -1 };
}

void sampler_order(int64_t *perm, int64_t n, int64_t used, uint64_t seed, int epoch) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    DlRng r = { dl_hash(seed, RNG_PERMUTE, (uint64_t)epoch, 0) };
    rng_shuffle(&r, perm, used);
}

const int64_t *sampler_of(Sampler *s, int epoch) {
    if (epoch == s->perm_epoch) return s->perm;
    if (epoch != s->next_epoch) {
        sampler_order(s->perm_next, s->n, s->used, s->seed, epoch);
        s->next_epoch = epoch;
    }
    return s->perm_next;
}

void sampler_enter(Sampler *s, int epoch, int64_t used) {
    s->used = used;
    if (epoch == s->perm_epoch) return;
    if (epoch == s->next_epoch) {
        int64_t *p = s->perm;
        s->perm = s->perm_next;
        s->perm_next = p;
        s->next_epoch = -1;
    } else {
        sampler_order(s->perm, s->n, s->used, s->seed, epoch);
    }
    s->perm_epoch = epoch;
}
