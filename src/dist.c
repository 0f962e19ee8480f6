/* dist.c: MPI set-up and the collectives of dist.h. */
#include "dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DlStatus dist_init(Dist *d, int *argc, char ***argv) {
    *d = (Dist){ .rank = 0, .size = 1, .local_size = 1 };
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init(argc, argv) != MPI_SUCCESS) return dl_fail(DL_EIO, "MPI_Init failed: check the Open MPI installation (mpirun --version)");
        d->initialized_mpi = 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
    return DL_OK;
}

void dist_finalize(Dist *d) {
    if (d->initialized_mpi) MPI_Finalize();
    d->initialized_mpi = 0;
}

/* Every point-to-point message of the gradient exchange goes through here:
 * send scount floats to `peer` and receive rcount floats from it. One place
 * to bound counts, to time a silent peer out and to name it. */
static void exchange(const Dist *d, const float *send, size_t scount, float *recv, size_t rcount,
                     int peer, int tag) {
    (void)d;
    DL_CHECK(scount <= 2147483647u && rcount <= 2147483647u);
    MPI_Sendrecv(send, (int)scount, MPI_FLOAT, peer, tag,
                 recv, (int)rcount, MPI_FLOAT, peer, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

static uint64_t g_sent;   /* bytes this rank sent through exchange() */

uint64_t dist_bytes_sent(void) { return g_sent; }

uint64_t dist_max_u64(const Dist *d, uint64_t v) {
    if (d->size == 1) return v;
    uint64_t m = 0;
    MPI_Allreduce(&v, &m, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return m;
}

void dist_allreduce_sum(const Dist *d, float *buf, size_t n, float *scratch) {
    int p = d->size, r = d->rank;
    if (p == 1) return;
    DL_CHECK((p & (p - 1)) == 0);
    size_t lo[32], hi[32];       /* the segment held before each halving step */
    size_t a = 0, b = n;
    int steps = 0;
    /* Reduce-scatter: halve the segment, keep one half, add the partner's. */
    for (int dist = 1; dist < p; dist <<= 1, steps++) {
        int partner = r ^ dist;
        size_t mid = a + (b - a) / 2;
        lo[steps] = a; hi[steps] = b;
        size_t ka = (r & dist) ? mid : a, kb = (r & dist) ? b : mid;   /* kept */
        size_t sa = (r & dist) ? a : mid, sb = (r & dist) ? mid : b;   /* sent */
        exchange(d, buf + sa, sb - sa, scratch, kb - ka, partner, 17);
        g_sent += sizeof(float) * (sb - sa);
        /* a + b == b + a in IEEE arithmetic: only the tree shape matters */
        for (size_t i = 0; i < kb - ka; i++) buf[ka + i] += scratch[i];
        a = ka; b = kb;
    }
    /* Allgather: undo the halvings in reverse, swapping the owned halves. */
    for (int s = steps - 1; s >= 0; s--) {
        int partner = r ^ (1 << s);
        int upper = (r >> s) & 1;                     /* we kept the upper half at step s */
        size_t pa = upper ? lo[s] : b, pb = upper ? a : hi[s];   /* the partner's half */
        exchange(d, buf + a, b - a, buf + pa, pb - pa, partner, 18);
        g_sent += sizeof(float) * (b - a);
        a = lo[s]; b = hi[s];
    }
}

void dist_tree_init(DistTree *x, const Dist *d, const GTree *t, size_t n) {
    int N = d->size, G = t->G, b = G / N;
    DL_CHECK(G % N == 0);
    *x = (DistTree){ .N = N, .G = G, .r = d->rank, .n = n };
    x->nroots = dl_calloc((size_t)N, sizeof(int));
    x->item_lo = dl_malloc(sizeof(int) * (size_t)G);
    x->item_hi = dl_malloc(sizeof(int) * (size_t)G);
    x->item_rank = dl_malloc(sizeof(int) * (size_t)G);
    int *first = dl_malloc(sizeof(int) * (size_t)b);
    for (int p = 0; p < N; p++) {
        int k = gtree_roots(t, p * b, (p + 1) * b, first);
        if (p == d->rank) x->mine = x->nitems;
        for (int j = 0; j < k; j++, x->nitems++) {
            x->item_lo[x->nitems] = first[j];
            x->item_hi[x->nitems] = j + 1 < k ? first[j + 1] : (p + 1) * b;
            x->item_rank[x->nitems] = p;
        }
        x->nroots[p] = k;
        if (k > x->kmax) x->kmax = k;
    }
    dl_free(first);
    x->slice = dl_malloc(sizeof(size_t) * (size_t)(N + 1));
    size_t most = 0;
    for (int p = 0; p <= N; p++) x->slice[p] = n / (size_t)N * (size_t)p + (n % (size_t)N) * (size_t)p / (size_t)N;
    for (int p = 0; p < N; p++) if (x->slice[p + 1] - x->slice[p] > most) most = x->slice[p + 1] - x->slice[p];
    x->area = dl_malloc(sizeof(float) * ((size_t)x->nitems * most + 1));
    x->pack = dl_malloc(sizeof(float) * ((size_t)x->kmax * most + 1));
    x->ptr = dl_malloc(sizeof(float *) * (size_t)x->nitems);
    x->out = dl_malloc(sizeof(int) * (size_t)x->nitems);
}

void dist_tree_free(DistTree *x) {
    dl_free(x->nroots); dl_free(x->item_lo); dl_free(x->item_hi); dl_free(x->item_rank);
    dl_free(x->slice); dl_free(x->area); dl_free(x->pack); dl_free(x->ptr); dl_free(x->out);
    *x = (DistTree){ 0 };
}

void dist_allreduce_tree(const Dist *d, const DistTree *x, const GTree *t, float *bufs, size_t stride) {
    int N = x->N, r = x->r, b = x->G / N;
    if (N == 1) return;   /* one block: its one root is the sum */
    const size_t *sl = x->slice;
    size_t nr = sl[r + 1] - sl[r];
    int kr = x->nroots[r];
    /* root j of this rank: bufs + (its first group - the block's) * stride */
#define ROOT(j) (bufs + (size_t)(x->item_lo[x->mine + (j)] - r * b) * stride)
    for (int i = 0; i < x->nitems; i++) x->ptr[i] = x->area + (size_t)i * nr;
    for (int j = 0; j < kr; j++) x->ptr[x->mine + j] = ROOT(j) + sl[r];   /* summed where they lie */
    for (int s = 0; s < N; s++) {   /* reduce-scatter */
        int peer = ((s - r) % N + N) % N, at = 0;
        if (peer == r) continue;
        size_t np = sl[peer + 1] - sl[peer];
        for (int j = 0; j < kr; j++) memcpy(x->pack + (size_t)j * np, ROOT(j) + sl[peer], sizeof(float) * np);
        while (x->item_rank[at] != peer) at++;
        exchange(d, x->pack, (size_t)kr * np, x->area + (size_t)at * nr, (size_t)x->nroots[peer] * nr, peer, 19);
        g_sent += sizeof(float) * (size_t)kr * np;
    }
    int left = gtree_sum(t, x->nitems, x->item_lo, x->item_hi, x->ptr, nr, x->out);
    DL_CHECK(left == 1);
    if (x->ptr[x->out[0]] != bufs + sl[r]) memcpy(bufs + sl[r], x->ptr[x->out[0]], sizeof(float) * nr);
#undef ROOT
    for (int s = 0; s < N; s++) {   /* allgather */
        int peer = ((s - r) % N + N) % N;
        if (peer == r) continue;
        exchange(d, bufs + sl[r], nr, bufs + sl[peer], sl[peer + 1] - sl[peer], peer, 20);
        g_sent += sizeof(float) * nr;
    }
}

void dist_allreduce_sum_mpi(const Dist *d, float *buf, size_t n) {
    if (d->size == 1) return;
    DL_CHECK(n <= 2147483647u);
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

double dist_wtime(void) { return MPI_Wtime(); }

void dist_barrier(const Dist *d) {
    if (d->size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

DlStatus dist_agree(const Dist *d, DlStatus st) {
    if (d->size == 1) return st;
    int mine = (int)st, worst = 0;
    MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (worst == 0) return DL_OK;
    int cand = mine == worst ? d->rank : d->size, who = 0;
    MPI_Allreduce(&cand, &who, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    char msg[2048];
    if (d->rank == who) {
        if (who == 0) snprintf(msg, sizeof msg, "%s", dl_errmsg());
        else snprintf(msg, sizeof msg, "rank %d: %s", who, dl_errmsg());
    }
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, who, MPI_COMM_WORLD);
    return dl_fail((DlStatus)worst, "%s", msg);
}

int dist_first_differing(const Dist *d, uint64_t digest) {
    if (d->size == 1) return -1;
    uint64_t *all = dl_malloc(sizeof(uint64_t) * (size_t)d->size);
    MPI_Allgather(&digest, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    int bad = -1;
    for (int r = 1; r < d->size && bad < 0; r++) if (all[r] != all[0]) bad = r;
    dl_free(all);
    return bad;
}

void dist_bcast(const Dist *d, void *buf, size_t bytes) {
    if (d->size == 1) return;
    MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
}

void dist_abort(const Dist *d, int code) {
    if (d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
