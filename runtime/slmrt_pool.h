/* slmrt_pool.h - parallel-for over an index range, used by the forward pass
 * to split matrix rows (and attention heads) across threads.
 *
 * Built on OpenMP: libgomp keeps its worker threads alive between parallel
 * regions, so a region per matmul costs a wake-up, not a thread creation per
 * token. The split is static and contiguous, so which thread computes an
 * index never changes a result (every index is computed by the same code on
 * its own). */
#ifndef SLMRT_POOL_H
#define SLMRT_POOL_H

#include <stdint.h>

/* Work on indices [begin, end) as thread `thread` (0 <= thread < n_threads
 * passed to slmrt_parallel_for), so callers can index per-thread scratch. */
typedef void (*slmrt_range_fn)(void *arg, int64_t begin, int64_t end, int thread);

/* Calls fn over [0, n) split into at most n_threads contiguous ranges and
 * returns when all are done. n_threads <= 1 or n <= 1 runs inline. */
void slmrt_parallel_for(int n_threads, int64_t n, slmrt_range_fn fn, void *arg);

/* Thread count for "all cores" (at least 1). */
int slmrt_pool_default_threads(void);

#endif
