/* slmc_parallel.c - see slmc_parallel.h. */
#include "slmc_parallel.h"

#include <omp.h>

int slmc_default_threads(void) {
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

void slmc_parallel_for(void *pctx, int64_t n, void (*body)(void *ctx, int64_t i), void *ctx) {
    int threads = pctx ? *(const int *)pctx : 1;
    if (threads > n) threads = (int)n;
    if (threads <= 1) {
        for (int64_t i = 0; i < n; i++) body(ctx, i);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t i = 0; i < n; i++) body(ctx, i);
}
