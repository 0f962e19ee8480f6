/* dist.h: the only module that calls MPI. The rest of the code sees a Dist
 * and a few collectives. With one rank no MPI call is made after init.
 * The gradient allreduce is deterministic: every element is summed in the
 * fixed tree over the G groups of gtree.h, whatever the number of ranks
 * N dividing G, and the result is the same on every rank. A power-of-two G
 * (balanced tree, one subtree per rank) goes through recursive halving
 * (reduce-scatter) then recursive doubling (allgather), pairing ranks at
 * distance 1, 2, 4, ...; any other G through dist_allreduce_tree. Every
 * point-to-point message goes through one helper, exchange(). */
#ifndef DL_DIST_H
#define DL_DIST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "gtree.h"
#include "util.h"

/* What a rank needs to say who is stuck and what to do about it: every
 * rank's host, the --comm-timeout, the stop-signal flag to watch while
 * waiting and the last checkpoint a rerun can resume from. Owned by the
 * Dist; the dist_set_* notes change it through a const Dist. */
typedef struct DistNotes DistNotes;

typedef struct {
    int rank, size;
    int local_size;        /* ranks on this node */
    int initialized_mpi;   /* we called MPI_Init_thread, so we finalize */
    DistNotes *notes;      /* set by dist_init, freed by dist_finalize */
} Dist;

/* MPI_Init_thread at MPI_THREAD_FUNNELED: only the main thread calls MPI
 * (the loader thread and the OpenMP workers never do); an MPI that provides
 * less is refused. Gathers every rank's host name. From here on a rank that
 * dies through dl_die (a read error mid-step, out of memory, a bug) takes the
 * whole job down with MPI_Abort, naming its rank and host. */
DlStatus dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(Dist *d);
static inline int dist_local_size(const Dist *d) { return d->local_size; }

/* The host of a rank (MPI_Get_processor_name, gathered at init). */
const char *dist_host(const Dist *d, int rank);

/* Seconds a rank waits without any message from a peer before it ends the
 * job (0: forever). Covers the gradient exchange and every collective below. */
void dist_set_timeout(const Dist *d, double seconds);
#define DIST_DEFAULT_TIMEOUT 300
/* After a stop signal (the flag turns non-zero), a wait gives up once no
 * message has come for this long (capped by the timeout), so a SIGTERM ends
 * a rank stuck on a dead peer: inside a step's exchange ... */
#define DIST_SIGNAL_GRACE 10.0
/* ... and in dist_agree/bcast/barrier, where rank 0 may be validating or
 * writing a checkpoint while the others wait. */
#define DIST_SIGNAL_GRACE_LONG 60.0

/* The flag a signal handler sets (NULL: none). Waits watch it. */
void dist_watch_signal(const Dist *d, const volatile sig_atomic_t *flag);

/* The checkpoint a rerun resumes from, named by a rank that gives up
 * (every rank calls it with the same path once the file is complete). */
void dist_set_checkpoint(const Dist *d, const char *path);

/* Collective: one line for the start-up header: ranks, hosts and each
 * rank's thread count, e.g. "2 ranks x 1 BLAS thread on 2 hosts (a: rank 0;
 * b: rank 1)", or where the thread counts differ. */
void dist_describe(const Dist *d, int threads, char *buf, size_t cap);

/* buf (n) <- the sum over ranks, in the balanced tree. size must be a
 * power of two. scratch must hold n/2 + 1 floats. */
void dist_allreduce_sum(const Dist *d, float *buf, size_t n, float *scratch);

/* The exchange for any G (gtree.h) and any N dividing it. Rank r holds
 * groups [r G/N, (r+1) G/N) pre-summed into their k_r maximal subtrees,
 * root j in bufs + (its first group - r G/N) * stride. The buffer is cut
 * into N slices; reduce-scatter: every rank sends each other rank its
 * roots' floats of that rank's slice, and each rank sums the roots of all
 * ranks for its own slice in the tree's order (gtree_sum); allgather: the
 * summed slices go to every rank. N rounds, each pairing rank r with
 * (s - r) mod N (a rank paired with itself sits the round out), so every
 * message is one exchange() with one peer. Bytes sent by rank r per call:
 * 4 (k_r (n - n_r) + (N - 1) n_r), n_r its slice: about (k_r + 1)/2 times
 * a ring allreduce's 8 (N - 1) n / N. */
typedef struct {
    int N, G, r;
    int kmax;
    int *nroots;           /* (N) k_p */
    int *item_lo, *item_hi;   /* (sum k_p) every rank's roots, in group order */
    int *item_rank;        /* (sum k_p) whose root it is */
    int nitems, mine;      /* items; index of this rank's first */
    size_t n, *slice;      /* slice p = [slice[p], slice[p+1]) */
    float *area;           /* (nitems * max slice) the roots of this rank's slice */
    float *pack;           /* (kmax * max slice) this rank's roots of one peer's slice */
    float **ptr;           /* (nitems) */
    int *out;              /* (nitems) */
} DistTree;

/* Plans the exchange of n floats per root for G groups on d's ranks (N
 * must divide G); free with dist_tree_free (also a zeroed one). */
void dist_tree_init(DistTree *x, const Dist *d, const GTree *t, size_t n);
void dist_tree_free(DistTree *x);

/* bufs[0 .. n) <- the sum over all G groups, on every rank (see above). */
void dist_allreduce_tree(const Dist *d, const DistTree *x, const GTree *t, float *bufs, size_t stride);

/* Bytes this rank has sent in gradient exchanges so far (counted at each
 * exchange), and the largest such count of all ranks (collective). */
uint64_t dist_bytes_sent(void);
uint64_t dist_max_u64(const Dist *d, uint64_t v);

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

/* Prints "dltrain: rank R (host H): MSG" (just "dltrain: MSG" with one
 * rank), then stops every rank with exit status `code`, whatever the
 * launcher (MPI_Abort). */
void dist_fatal(const Dist *d, int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#endif
