/* bench_allreduce.c: bus bandwidth of dltrain's deterministic allreduce
 * (dist_allreduce_sum: recursive halving + doubling on point-to-point) vs
 * Open MPI's MPI_Allreduce, at the sizes a training step moves.
 *   mpirun -np 2 build/tests/bench_allreduce [MB ...]     (default 1 13)
 * Bus bandwidth = 2 (p-1)/p * bytes / time (the NCCL-tests convention), the
 * median of 30 timed calls after 5 warm-up calls. A benchmark, not a test. */
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

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv) != DL_OK) { fprintf(stderr, "%s\n", dl_errmsg()); return 1; }
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
