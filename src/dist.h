/* dist.h: the only module that calls MPI. The rest of the code sees a Dist
 * and a few collectives. With one rank no MPI call is made after init.
 * The gradient allreduce is deterministic: recursive halving (reduce-scatter)
 * then recursive doubling (allgather) on point-to-point messages, pairing
 * ranks at distance 1, 2, 4, ... so every element is summed in the same
 * balanced binary tree as the groups inside a rank (train.c). The result is
 * bit for bit the same for any power-of-two rank count, and on every rank. */
#ifndef DL_DIST_H
#define DL_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    int rank, size;
    int local_size;        /* ranks on this node */
    int initialized_mpi;   /* we called MPI_Init, so we finalize */
} Dist;

DlStatus dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(Dist *d);
static inline int dist_local_size(const Dist *d) { return d->local_size; }

/* buf (n) <- the sum over ranks, in the fixed tree above. size must be a
 * power of two. scratch must hold n/2 + 1 floats. */
void dist_allreduce_sum(const Dist *d, float *buf, size_t n, float *scratch);

/* buf (n) <- the sum over ranks by MPI_Allreduce: Open MPI picks the
 * algorithm by message size and rank count, so the bytes may differ from
 * dist_allreduce_sum's and between rank counts (--fast-allreduce). */
void dist_allreduce_sum_mpi(const Dist *d, float *buf, size_t n);

double dist_wtime(void);
void dist_barrier(const Dist *d);

/* Every rank returns the worst (largest) status of all ranks; the message
 * comes with it from the rank that failed (rank 0's if several). */
DlStatus dist_agree(const Dist *d, DlStatus st);

/* Every rank passes a digest (of its weights); returns the lowest rank whose
 * digest differs from rank 0's, or -1 when all agree. Collective. */
int dist_first_differing(const Dist *d, uint64_t digest);

/* Broadcast from rank 0. */
void dist_bcast(const Dist *d, void *buf, size_t bytes);

/* Stops every rank at once (a rank that cannot continue alone). */
void dist_abort(const Dist *d, int code) __attribute__((noreturn));

#endif
