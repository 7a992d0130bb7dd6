/* slmrt_membw.c - see slmrt_membw.h. Each thread streams its own contiguous
 * slice with 16-byte loads (baseline x86-64; four per cache line keep
 * enough loads in flight to saturate memory on one core, measured as fast
 * as 32-byte AVX2 loads here); the xor is kept so the loads stay. */
#include "slmrt_membw.h"

#include <emmintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct slmrt_membw {
    uint8_t *buf;
    size_t bytes; /* a multiple of 64 per thread */
    int n_threads;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

slmrt_membw *slmrt_membw_new(size_t bytes, int n_threads) {
    slmrt_membw *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads > 0 ? n_threads : omp_get_num_procs();
    const size_t unit = (size_t)64 * (size_t)p->n_threads;
    p->bytes = bytes / unit * unit;
    if (p->bytes == 0 || posix_memalign((void **)&p->buf, 64, p->bytes) != 0) {
        free(p);
        return NULL;
    }
    /* first touch from the threads that will read, so pages spread the same way */
    const size_t n = p->bytes / 8;
    uint64_t *w = (uint64_t *)p->buf;
#pragma omp parallel for num_threads(p->n_threads) schedule(static)
    for (size_t i = 0; i < n; i++) w[i] = i;
    return p;
}

double slmrt_membw_read(slmrt_membw *p) {
    const size_t slice = p->bytes / (size_t)p->n_threads;
    __m128i total = _mm_setzero_si128();
    const double t0 = now();
#pragma omp parallel num_threads(p->n_threads)
    {
        const uint8_t *b = p->buf + slice * (size_t)omp_get_thread_num();
        __m128i s0 = _mm_setzero_si128(), s1 = s0;
        for (size_t i = 0; i < slice; i += 64) {
            s0 = _mm_xor_si128(s0, _mm_load_si128((const __m128i *)(b + i)));
            s1 = _mm_xor_si128(s1, _mm_load_si128((const __m128i *)(b + i + 16)));
            s0 = _mm_xor_si128(s0, _mm_load_si128((const __m128i *)(b + i + 32)));
            s1 = _mm_xor_si128(s1, _mm_load_si128((const __m128i *)(b + i + 48)));
        }
#pragma omp critical
        total = _mm_xor_si128(total, _mm_xor_si128(s0, s1));
    }
    const double dt = now() - t0;
    volatile int sink = _mm_cvtsi128_si32(total);
    (void)sink;
    return (double)p->bytes / dt / 1e9;
}

void slmrt_membw_free(slmrt_membw *p) {
    if (!p) return;
    free(p->buf);
    free(p);
}
