/* slmrt_pool.c - see slmrt_pool.h. OpenMP rather than a hand-made pthread
 * pool: libgomp already parks and reuses its workers between regions, and a
 * nested call (a caller that itself runs inside an OpenMP region) degrades to
 * running inline instead of oversubscribing the machine. */
#include "slmrt_pool.h"

#include <omp.h>

void slmrt_parallel_for(int n_threads, int64_t n, slmrt_range_fn fn, void *arg) {
    if (n <= 0) return;
    if (n_threads <= 1 || n == 1) {
        fn(arg, 0, n, 0);
        return;
    }
    int nt = (int64_t)n_threads > n ? (int)n : n_threads;
#pragma omp parallel num_threads(nt)
    {
        /* the runtime may give fewer threads than asked; split over what we got */
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int64_t b = n * t / T, e = n * (t + 1) / T;
        if (b < e) fn(arg, b, e, t);
    }
}

int slmrt_pool_default_threads(void) {
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}
