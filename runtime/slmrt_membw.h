/* slmrt_membw.h - a memory read-bandwidth probe, measured in the same run as
 * a benchmark so decode speed can be reported as a fraction of what the
 * machine can stream. */
#ifndef SLMRT_MEMBW_H
#define SLMRT_MEMBW_H

#include <stddef.h>

/* Median-of-`reps` read bandwidth in GB/s (1e9 bytes/s) over a buffer of
 * `bytes` with n_threads threads; 0 on allocation failure. The median, not
 * the best: on a shared VM single passes have read anywhere from 33 to 64
 * GB/s, and a benchmark's own figure is an average over many passes. */
double slmrt_membw_probe(size_t bytes, int n_threads, int reps);

#endif
