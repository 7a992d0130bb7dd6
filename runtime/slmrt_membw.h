/* slmrt_membw.h - a memory read-bandwidth probe, run in the same process
 * and interleaved with a benchmark's own work, so decode speed can be
 * reported as a fraction of what the machine streams at that moment. On a
 * shared VM the bandwidth itself drifts between ~33 and ~65 GB/s from one
 * second to the next (measured here), so only figures taken side by side
 * compare. */
#ifndef SLMRT_MEMBW_H
#define SLMRT_MEMBW_H

#include <stddef.h>

typedef struct slmrt_membw slmrt_membw;

/* A probe over a buffer of `bytes` (far larger than the caches), read by
 * n_threads threads (0: all cores). The buffer is allocated and touched
 * here, from the threads that will read it. NULL when out of memory. */
slmrt_membw *slmrt_membw_new(size_t bytes, int n_threads);
/* One pass over the whole buffer; GB/s (1e9 bytes/s). */
double slmrt_membw_read(slmrt_membw *p);
void slmrt_membw_free(slmrt_membw *p); /* accepts NULL */

#endif
