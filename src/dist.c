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
        a = lo[s]; b = hi[s];
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
