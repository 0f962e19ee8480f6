/* bench_allreduce.c: bus bandwidth of dltrain's deterministic allreduce
 * (dist_allreduce_sum: recursive halving + doubling on point-to-point) vs
 * Open MPI's MPI_Allreduce, at the sizes a training step moves.
 *   mpirun -np 2 build/tests/bench_allreduce [MB ...]     (default 1 13)
 * Bus bandwidth = 2 (p-1)/p * bytes / time (the NCCL-tests convention), the
 * median of 30 timed calls after 5 warm-up calls. A benchmark, not a test.
 *   mpirun -np N build/tests/bench_allreduce --groups G [MB ...]
 * The exchange dltrain runs for --groups G (gtree.h, dist.h): each rank's
 * G/N groups pre-summed into their subtrees (not timed), then the
 * exchange (timed, median of 10 after 2 warm-ups); prints the bytes the
 * most loaded rank sent per call, counted by dist.c, beside the formula
 * 4 (k (n - n_r) + (N - 1) n_r) and a ring's 8 (N - 1) n / N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_time(const Dist *d, float *buf, size_t n, float *scratch, int mpi) {
    enum { WARM = 5, RUNS = 30 };
    double t[RUNS];
    for (int i = 0; i < WARM + RUNS; i++) {
        for (size_t j = 0; j < n; j += 1024) buf[j] = (float)(j + i);
        dist_barrier(d);
        double t0 = dist_wtime();
        if (mpi) dist_allreduce_sum_mpi(d, buf, n);
        else dist_allreduce_sum(d, buf, n, scratch);
        double el = dist_wtime() - t0;   /* all ranks left the barrier together */
        if (i >= WARM) t[i - WARM] = el;
    }
    qsort(t, RUNS, sizeof t[0], cmp);
    return t[RUNS / 2];
}

/* --groups G: the exchange of dltrain's tree for G groups on this many ranks. */
static void bench_groups(const Dist *d, int G, const double *sizes, int ns) {
    if (G % d->size) {
        if (d->rank == 0) fprintf(stderr, "bench_allreduce: %d ranks do not divide --groups %d\n", d->size, G);
        return;
    }
    GTree t;
    gtree_init(&t, G);
    int N = d->size, L = G / N, pow2 = (G & (G - 1)) == 0;
    int k = gtree_max_roots(&t, N);
    if (d->rank == 0) {   /* the sums' cost per float, for the scaling model: two 4M-float buffers, best of 5 */
        size_t m = (size_t)1 << 22;
        float *u = calloc(2 * m, sizeof(float)), *pb[2] = { u, u + m };
        int lo2[2] = { 0, 1 }, hi2[2] = { 1, 2 }, o[2];
        double best = 1e30;
        for (int i = 0; i < 5; i++) {
            double t0 = dist_wtime();
            gtree_sum(&t, G >= 2 ? 2 : 1, lo2, hi2, pb, m, o);
            double el = dist_wtime() - t0;
            if (el < best) best = el;
        }
        if (G >= 2 && gtree_is_node(&t, 0, 2)) printf("local sum: %.3f ns per float added (best of 5, 4M floats)\n", 1e9 * best / m);
        free(u);
    }
    if (d->rank == 0) {
        printf("exchange for --groups %d on %d ranks (at most %d subtree%s per rank): bytes per rank per call, time (median of 10)\n",
               G, N, k, k > 1 ? "s" : "");
        printf("%8s %10s %14s %14s %14s %7s %10s\n", "MB", "floats", "sent (max)", "formula", "ring", "x ring", "ms");
    }
    for (int si = 0; si < ns; si++) {
        size_t n = (size_t)(sizes[si] * 1e6 / sizeof(float));
        float *buf = calloc((size_t)L * n, sizeof(float)), *scratch = calloc(n / 2 + 1, sizeof(float));
        DistTree x = { 0 };
        if (!pow2) dist_tree_init(&x, d, &t, n);
        enum { WARM = 2, RUNS = 10 };
        double tm[RUNS];
        uint64_t sent = 0;
        for (int i = 0; i < WARM + RUNS; i++) {
            for (size_t j = 0; j < (size_t)L * n; j += 1024) buf[j] = (float)(j + i);
            dist_barrier(d);
            uint64_t s0 = dist_bytes_sent();
            double t0 = dist_wtime();
            if (pow2) dist_allreduce_sum(d, buf, n, scratch);
            else dist_allreduce_tree(d, &x, &t, buf, n);
            double el = dist_wtime() - t0;
            sent = dist_bytes_sent() - s0;
            if (i >= WARM) tm[i - WARM] = el;
        }
        qsort(tm, RUNS, sizeof tm[0], cmp);
        uint64_t most = dist_max_u64(d, sent);
        double formula = 0.0;   /* the most loaded rank's, from the README's formula */
        int first[1024];
        for (int p = 0; p < N; p++) {
            size_t lo = n / (size_t)N * (size_t)p + (n % (size_t)N) * (size_t)p / (size_t)N;
            size_t hi = n / (size_t)N * (size_t)(p + 1) + (n % (size_t)N) * (size_t)(p + 1) / (size_t)N;
            int kp = pow2 ? 1 : gtree_roots(&t, p * L, (p + 1) * L, first);
            double f = 4.0 * ((double)kp * (double)(n - (hi - lo)) + (double)(N - 1) * (double)(hi - lo));
            if (f > formula) formula = f;
        }
        double ring = 8.0 * (N - 1) / N * (double)n;
        if (d->rank == 0)
            printf("%8.2f %10zu %14llu %14.0f %14.0f %7.3f %10.3f\n", sizes[si], n, (unsigned long long)most, formula, ring,
                   (double)most / ring, 1e3 * tm[RUNS / 2]);
        if (!pow2) dist_tree_free(&x);
        free(buf);
        free(scratch);
    }
    gtree_free(&t);
}

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv) != DL_OK) { fprintf(stderr, "%s\n", dl_errmsg()); return 1; }
    if (argc > 2 && strcmp(argv[1], "--groups") == 0) {
        double sz[16] = { 1 };
        int n = argc > 3 ? 0 : 1;
        for (int i = 3; i < argc && n < 16; i++) sz[n++] = atof(argv[i]);
        int G = atoi(argv[2]);
        if (G >= 1 && G <= GTREE_MAX_GROUPS) bench_groups(&d, G, sz, n);
        else if (d.rank == 0) fprintf(stderr, "bench_allreduce: --groups must be 1 ... %d\n", GTREE_MAX_GROUPS);
        dist_finalize(&d);
        return 0;
    }
    double sizes[16] = { 1, 13 };
    int ns = 2;
    if (argc > 1) {
        ns = 0;
        for (int i = 1; i < argc && ns < 16; i++) sizes[ns++] = atof(argv[i]);
    }
    if (d.rank == 0) {
        printf("allreduce on %d ranks: bus bandwidth GB/s (median of 30)\n", d.size);
        printf("%8s  %14s  %14s  %6s\n", "MB", "deterministic", "MPI_Allreduce", "ratio");
    }
    for (int s = 0; s < ns; s++) {
        size_t n = (size_t)(sizes[s] * 1e6 / sizeof(float));
        float *buf = calloc(n, sizeof(float)), *scratch = calloc(n / 2 + 1, sizeof(float));
        double td = median_time(&d, buf, n, scratch, 0);
        double tm = median_time(&d, buf, n, scratch, 1);
        double bytes = (double)n * sizeof(float) * 2.0 * (d.size - 1) / d.size;
        if (d.rank == 0)
            printf("%8.1f  %14.2f  %14.2f  %6.2f\n", sizes[s], bytes / td / 1e9, bytes / tm / 1e9, tm / td);
        free(buf);
        free(scratch);
    }
    dist_finalize(&d);
    return 0;
}
