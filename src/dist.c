/* dist.c: MPI set-up and the collectives of dist.h.
 * Every wait goes through wait_requests(): non-blocking requests tested in a
 * loop that sleeps once a wait lasts (a rank stuck on a dead link does not
 * burn a core), gives up after --comm-timeout seconds without a message and
 * after a short grace once a stop signal came, naming the peer, its host and
 * the checkpoint to resume from. MPI errors return (MPI_ERRORS_RETURN) so a
 * lost peer is reported the same way; every give-up ends the job with
 * MPI_Abort, whatever the launcher. */
#define _POSIX_C_SOURCE 200809L
#include "dist.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOST_MAX 64   /* bytes kept of each host name (MPI_Get_processor_name) */

struct DistNotes {
    char (*hosts)[HOST_MAX];   /* (size) every rank's host */
    double timeout;            /* seconds without a message before giving up (0: never) */
    const volatile sig_atomic_t *stop;   /* a signal handler's flag, or NULL */
    char checkpoint[4096];     /* the last complete checkpoint, "" before the first */
};

/* For dl_die's hook: who this process is (one Dist per process). */
static const Dist *g_dist;

static void die_hook(int code, const char *msg) { dist_fatal(g_dist, code, "%s", msg); }

DlStatus dist_init(Dist *d, int *argc, char ***argv) {
    *d = (Dist){ .rank = 0, .size = 1, .local_size = 1 };
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return dl_fail(DL_EIO, "MPI_Init_thread failed: check the Open MPI installation (mpirun --version)");
        d->initialized_mpi = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_FUNNELED) {
        /* the loader thread and OpenMP run beside the main thread's MPI calls */
        if (d->initialized_mpi) MPI_Finalize();
        d->initialized_mpi = 0;
        return dl_fail(DL_EIO, "this MPI provides thread level %d, below MPI_THREAD_FUNNELED that dltrain's loader "
                       "thread and OpenMP need: use an MPI built with thread support (Debian's Open MPI is)", provided);
    }
    /* errors come back to wait_requests, which names the peer and aborts */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return dl_fail(DL_EIO, "MPI_Comm_split_type failed at start-up: check the Open MPI installation");
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
    DistNotes *no = dl_calloc(1, sizeof *no);
    no->hosts = dl_calloc((size_t)d->size, HOST_MAX);
    char name[MPI_MAX_PROCESSOR_NAME + 1] = "";
    int len = 0;
    MPI_Get_processor_name(name, &len);
    snprintf(no->hosts[d->rank], HOST_MAX, "%s", name);
    if (d->size > 1 && MPI_Allgather(MPI_IN_PLACE, HOST_MAX, MPI_CHAR, no->hosts, HOST_MAX, MPI_CHAR, MPI_COMM_WORLD) != MPI_SUCCESS) {
        dl_free(no->hosts);
        dl_free(no);
        return dl_fail(DL_EIO, "MPI_Allgather of the host names failed at start-up: check the Open MPI installation");
    }
    no->timeout = DIST_DEFAULT_TIMEOUT;
    d->notes = no;
    if (d->size > 1) {
        g_dist = d;
        dl_set_die_hook(die_hook);
    }
    return DL_OK;
}

void dist_finalize(Dist *d) {
    if (d->notes) {
        dl_set_die_hook(NULL);
        g_dist = NULL;
        dl_free(d->notes->hosts);
        dl_free(d->notes);
        d->notes = NULL;
    }
    if (d->initialized_mpi) MPI_Finalize();
    d->initialized_mpi = 0;
}

const char *dist_host(const Dist *d, int rank) {
    return d->notes && rank >= 0 && rank < d->size ? d->notes->hosts[rank] : "?";
}

void dist_set_timeout(const Dist *d, double seconds) { d->notes->timeout = seconds > 0 ? seconds : 0; }

void dist_watch_signal(const Dist *d, const volatile sig_atomic_t *flag) { d->notes->stop = flag; }

void dist_set_checkpoint(const Dist *d, const char *path) {
    snprintf(d->notes->checkpoint, sizeof d->notes->checkpoint, "%s", path ? path : "");
}

static const char *signal_name(int sig) {
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGUSR1 ? "SIGUSR1" : "a signal";
}

/* What to do next, after a rank gave up: the checkpoint to resume from. */
static const char *resume_hint(const Dist *d, char *buf, size_t cap) {
    if (d->notes->checkpoint[0])
        snprintf(buf, cap, "resume from the last checkpoint: add --resume %s to the same command", d->notes->checkpoint);
    else
        snprintf(buf, cap, "no checkpoint was written yet: start the run again");
    return buf;
}

/* A call that failed at once (a request that could not even be posted):
 * ends the job like a lost peer, rather than read a buffer never filled. */
static void posted(const Dist *d, int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char err[MPI_MAX_ERROR_STRING] = "", hint[4200];
    int len = 0;
    MPI_Error_string(rc, err, &len);
    dist_fatal(d, 1, "MPI failed in %s (%s); %s", what, err, resume_hint(d, hint, sizeof hint));
}

/* Waits for n requests (n <= 4) with `peer` (-1: a collective of all ranks),
 * in `what`. Tests without pause for the first 50 ms after the start or
 * after a request completed (the usual wait inside a step: a peer a little
 * behind; Open MPI yields the core when ranks outnumber cores), then sleeps
 * between tests, 50 us doubling to 1 ms: a rank that waits for minutes stays
 * idle, and a nap costs at most 2% of a wait that long. Never returns
 * unless every request completed. */
static void wait_requests(const Dist *d, MPI_Request *rq, int n, int peer, const char *what, double grace) {
    DistNotes *no = d->notes;
    if (peer < 0 && d->size == 2) peer = 1 - d->rank;   /* a collective of two: the other one */
    double start = dl_now(), last = start, sig_at = 0;
    int told = 0;
    long nap = 0;
    int left = n, idx[4], done = 0;
    MPI_Status stv[4];
    DL_CHECK(n <= 4);
    char hint[4200], who[128];
    if (peer >= 0) snprintf(who, sizeof who, "rank %d (%s)", peer, dist_host(d, peer));
    else snprintf(who, sizeof who, "the other ranks");
    for (;;) {
        int rc = MPI_Testsome(n, rq, &done, idx, stv);
        if (rc != MPI_SUCCESS) {
            char err[MPI_MAX_ERROR_STRING] = "";
            int len = 0;
            if (rc == MPI_ERR_IN_STATUS)
                for (int i = 0; i < done; i++) if (stv[i].MPI_ERROR != MPI_SUCCESS) rc = stv[i].MPI_ERROR;
            MPI_Error_string(rc, err, &len);
            dist_fatal(d, 1, "lost %s in %s (%s): a rank died or a link failed; %s", peer >= 0 ? who : "a rank",
                       what, err, resume_hint(d, hint, sizeof hint));
        }
        if (done == MPI_UNDEFINED) return;   /* every request was already complete */
        double now = dl_now();
        if (done > 0) {
            if ((left -= done) == 0) return;
            last = now;
            nap = 0;
            continue;
        }
        int sig = no->stop ? *no->stop : 0;
        if (sig && sig_at == 0) sig_at = now;
        double quiet = now - last;   /* seconds without any message */
        if (no->timeout > 0 && quiet > no->timeout)
            dist_fatal(d, 1, "no message from %s for %.0f s in %s (--comm-timeout %g): it died, hangs, or the link "
                       "to it is down; %s", who, quiet, what, no->timeout, resume_hint(d, hint, sizeof hint));
        if (sig) {
            double g = no->timeout > 0 && no->timeout < grace ? no->timeout : grace;
            double since = now - (sig_at > last ? sig_at : last);
            if (quiet > 1.0 && !told) {   /* say it now: a launcher that saw a rank die follows with SIGKILL */
                fprintf(stderr, "dltrain: rank %d (%s): %s while waiting for %s in %s (no message for %.0f s: "
                        "it may be dead); giving up in %.0f s unless it answers\n", d->rank, dist_host(d, d->rank),
                        signal_name(sig), who, what, quiet, g - since > 0 ? g - since : 0);
                told = 1;
            }
            if (since > g)
                dist_fatal(d, 3, "stopped by %s while waiting for %s in %s: nothing from it for %.0f s (it died, "
                           "hangs, or the link to it is down), so nothing was saved now; %s", signal_name(sig), who,
                           what, quiet, resume_hint(d, hint, sizeof hint));
        }
        if (quiet < 0.05) continue;
        nap = nap ? (nap * 2 < 1000000 ? nap * 2 : 1000000) : 50000;
        struct timespec ts = { 0, nap };
        nanosleep(&ts, NULL);
    }
}

/* Every point-to-point message of the gradient exchange goes through here:
 * send scount floats to `peer` and receive rcount floats from it. One place
 * to bound counts, to time a silent peer out and to name it. */
static void exchange(const Dist *d, const float *send, size_t scount, float *recv, size_t rcount,
                     int peer, int tag) {
    DL_CHECK(scount <= 2147483647u && rcount <= 2147483647u);
    MPI_Request rq[2];
    posted(d, MPI_Irecv(recv, (int)rcount, MPI_FLOAT, peer, tag, MPI_COMM_WORLD, &rq[0]), __func__);
    posted(d, MPI_Isend(send, (int)scount, MPI_FLOAT, peer, tag, MPI_COMM_WORLD, &rq[1]), __func__);
    wait_requests(d, rq, 2, peer, "the gradient exchange", DIST_SIGNAL_GRACE);
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
    MPI_Request rq;
    posted(d, MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &rq), __func__);
    wait_requests(d, &rq, 1, -1, "the gradient allreduce (--fast-allreduce)", DIST_SIGNAL_GRACE);
}

double dist_wtime(void) { return MPI_Wtime(); }

void dist_barrier(const Dist *d) {
    if (d->size == 1) return;
    MPI_Request rq;
    posted(d, MPI_Ibarrier(MPI_COMM_WORLD, &rq), __func__);
    wait_requests(d, &rq, 1, -1, "a barrier", DIST_SIGNAL_GRACE_LONG);
}

static void allreduce_int(const Dist *d, int *v, MPI_Op op) {
    MPI_Request rq;
    posted(d, MPI_Iallreduce(MPI_IN_PLACE, v, 1, MPI_INT, op, MPI_COMM_WORLD, &rq), __func__);
    wait_requests(d, &rq, 1, -1, "the status check every rank makes (rank 0 may be validating or saving)",
                  DIST_SIGNAL_GRACE_LONG);
}

DlStatus dist_agree(const Dist *d, DlStatus st) {
    if (d->size == 1) return st;
    int worst = (int)st;
    allreduce_int(d, &worst, MPI_MAX);
    if (worst == 0) return DL_OK;
    int who = (int)st == worst ? d->rank : d->size;
    allreduce_int(d, &who, MPI_MIN);
    char msg[2048] = "";
    if (d->rank == who) {
        if (who == 0) snprintf(msg, sizeof msg, "%s", dl_errmsg());
        else snprintf(msg, sizeof msg, "rank %d (%s): %s", who, dist_host(d, who), dl_errmsg());
    }
    MPI_Request rq;
    posted(d, MPI_Ibcast(msg, sizeof msg, MPI_CHAR, who, MPI_COMM_WORLD, &rq), __func__);
    wait_requests(d, &rq, 1, -1, "the status check every rank makes", DIST_SIGNAL_GRACE_LONG);
    return dl_fail((DlStatus)worst, "%s", msg);
}

int dist_first_differing(const Dist *d, uint64_t digest) {
    if (d->size == 1) return -1;
    uint64_t *all = dl_malloc(sizeof(uint64_t) * (size_t)d->size);
    MPI_Request rq;
    posted(d, MPI_Iallgather(&digest, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD, &rq), __func__);
    wait_requests(d, &rq, 1, -1, "the weight check (--check-every)", DIST_SIGNAL_GRACE);
    int bad = -1;
    for (int r = 1; r < d->size && bad < 0; r++) if (all[r] != all[0]) bad = r;
    dl_free(all);
    return bad;
}

void dist_bcast(const Dist *d, void *buf, size_t bytes) {
    if (d->size == 1) return;
    DL_CHECK(bytes <= 2147483647u);
    MPI_Request rq;
    posted(d, MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD, &rq), __func__);
    wait_requests(d, &rq, 1, -1, "a broadcast from rank 0", DIST_SIGNAL_GRACE_LONG);
}

/* "0-3,6": the ranks in sorted list r (n of them) as ranges. */
static void rank_ranges(char *buf, size_t cap, const int *r, int n) {
    size_t j = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && j < cap; ) {
        int k = i;
        while (k + 1 < n && r[k + 1] == r[k] + 1) k++;
        if (k > i) j += (size_t)snprintf(buf + j, cap - j, "%s%d-%d", i ? "," : "", r[i], r[k]);
        else j += (size_t)snprintf(buf + j, cap - j, "%s%d", i ? "," : "", r[i]);
        i = k + 1;
    }
}

void dist_describe(const Dist *d, int threads, char *buf, size_t cap) {
    int p = d->size;
    int *th = dl_malloc(sizeof(int) * (size_t)p), *hostof = dl_malloc(sizeof(int) * (size_t)p);
    int *members = dl_malloc(sizeof(int) * (size_t)p);
    th[d->rank] = threads;
    if (p > 1) {
        MPI_Request rq;
        posted(d, MPI_Iallgather(MPI_IN_PLACE, 1, MPI_INT, th, 1, MPI_INT, MPI_COMM_WORLD, &rq), __func__);
        wait_requests(d, &rq, 1, -1, "the start-up header", DIST_SIGNAL_GRACE_LONG);
    }
    int nhosts = 0, same = 1;
    for (int r = 0; r < p; r++) {
        hostof[r] = r;
        for (int q = 0; q < r; q++) if (!strcmp(dist_host(d, q), dist_host(d, r))) { hostof[r] = hostof[q]; break; }
        nhosts += hostof[r] == r;
        same &= th[r] == th[0];
    }
    size_t j = 0;
    j += (size_t)snprintf(buf, cap, "%d rank%s", p, p > 1 ? "s" : "");
    if (same) j += (size_t)snprintf(buf + j, j < cap ? cap - j : 0, " x %d BLAS thread%s", th[0], th[0] > 1 ? "s" : "");
    if (nhosts == 1) j += (size_t)snprintf(buf + j, j < cap ? cap - j : 0, " on %s", dist_host(d, 0));
    else j += (size_t)snprintf(buf + j, j < cap ? cap - j : 0, " on %d hosts", nhosts);
    /* per host: its ranks and, where the counts differ, their threads */
    if (nhosts > 1 || !same) {
        j += (size_t)snprintf(buf + j, j < cap ? cap - j : 0, " (");
        int shown = 0;
        for (int h = 0; h < p && j < cap; h++) {
            if (hostof[h] != h) continue;
            if (shown == 8) { j += (size_t)snprintf(buf + j, cap - j, "; %d more hosts", nhosts - 8); break; }
            int m = 0, hsame = 1;
            for (int r = h; r < p; r++) if (hostof[r] == h) { members[m++] = r; hsame &= th[r] == th[h]; }
            char rr[256];
            rank_ranges(rr, sizeof rr, members, m);
            j += (size_t)snprintf(buf + j, cap - j, "%s%s: rank%s %s", shown ? "; " : "", dist_host(d, h),
                                  m > 1 ? "s" : "", rr);
            if (!same && hsame && j < cap)
                j += (size_t)snprintf(buf + j, cap - j, " x %d thread%s", th[h], th[h] > 1 ? "s" : "");
            for (int i = 0; !hsame && i < m && j < cap; i++)
                j += (size_t)snprintf(buf + j, cap - j, "%s%d", i ? "," : " x threads ", th[members[i]]);
            shown++;
        }
        if (j < cap) j += (size_t)snprintf(buf + j, cap - j, ")");
        if (!same && j < cap)
            snprintf(buf + j, cap - j, "; BLAS threads differ between ranks (results do not; set OPENBLAS_NUM_THREADS "
                     "for all with mpirun -x)");
    }
    dl_free(th); dl_free(hostof); dl_free(members);
}

void dist_abort(const Dist *d, int code) {
    if (d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void dist_fatal(const Dist *d, int code, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d && d->size > 1) fprintf(stderr, "dltrain: rank %d (%s): %s\n", d->rank, dist_host(d, d->rank), msg);
    else fprintf(stderr, "dltrain: %s\n", msg);
    fflush(stderr);
    if (d) dist_abort(d, code);
    exit(code);
}
