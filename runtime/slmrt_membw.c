/* slmrt_membw.c - see slmrt_membw.h. Each thread sums its own slice; the
 * sum is kept so the compiler cannot drop the loads. */
#include "slmrt_membw.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double slmrt_membw_probe(size_t bytes, int n_threads, int reps) {
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *buf = NULL;
    if (posix_memalign((void **)&buf, 64, n * sizeof *buf) != 0) return 0;
    if (n_threads <= 0) n_threads = omp_get_num_procs();
    /* first touch from the threads that will read, so pages spread the same way */
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = i;
    enum { MAX_REPS = 31 };
    if (reps < 1) reps = 1;
    if (reps > MAX_REPS) reps = MAX_REPS;
    double gbs[MAX_REPS];
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        uint64_t total = 0;
        double t0 = now();
#pragma omp parallel for num_threads(n_threads) schedule(static) reduction(+ : total)
        for (size_t i = 0; i < n; i += 4) total += buf[i] ^ buf[i + 1] ^ buf[i + 2] ^ buf[i + 3];
        double dt = now() - t0;
        sink += total;
        gbs[r] = (double)(n * sizeof *buf) / dt / 1e9;
    }
    (void)sink;
    free(buf);
    /* insertion sort: a handful of values */
    for (int i = 1; i < reps; i++)
        for (int j = i; j > 0 && gbs[j] < gbs[j - 1]; j--) {
            const double t = gbs[j];
            gbs[j] = gbs[j - 1];
            gbs[j - 1] = t;
        }
    return reps % 2 ? gbs[reps / 2] : 0.5 * (gbs[reps / 2 - 1] + gbs[reps / 2]);
}
