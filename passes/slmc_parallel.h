/* slmc_parallel.h - the thread pool passes and writers run per-row work on
 * (OpenMP's; it parks and reuses its workers between calls). */
#ifndef SLMC_PARALLEL_H
#define SLMC_PARALLEL_H

#include <stdint.h>

/* Threads to use when the user gives none: every core the process may use. */
int slmc_default_threads(void);

/* slm_parallel_for_fn over OpenMP: runs body(ctx, 0..n-1) on *(int *)pctx
 * threads (serially when that is 1), items handed out one at a time so
 * uneven rows balance. */
void slmc_parallel_for(void *pctx, int64_t n, void (*body)(void *ctx, int64_t i), void *ctx);

#endif
