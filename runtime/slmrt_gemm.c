/* slmrt_gemm.c - the GEMM tables and the driver that runs a product on the
 * thread pool (see slmrt_gemm.h). Each thread owns a contiguous range of
 * row panels and its own panel scratch; for a panel it walks the columns in
 * blocks of kc, repacks that block of weights, and runs the kernel over all
 * tokens of the batch. Which thread computes a row never changes its value:
 * every (row, token) is summed by the same code in the same order. */
#include "slmrt_gemm.h"

#include <pthread.h>
#include <string.h>

#include "slmrt_kernels_impl.h"
#include "slmrt_pool.h"

static slmrt_gemm gemm_tables[3];
static bool gemm_table_ok[3];
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;

static void gemm_tables_build(void) {
    /* The same CPU checks as the kernel tables: a GEMM table exists exactly
     * when the kernel table of its ISA does. */
    if (slmrt_kernels_cpu_has_avx2()) {
        slmrt_gemm_init_avx2(&gemm_tables[SLMRT_ISA_AVX2]);
        gemm_table_ok[SLMRT_ISA_AVX2] = true;
    }
    if (slmrt_kernels_cpu_has_avx512()) {
        const slmrt_cpu *c = slmrt_cpu_get();
        slmrt_gemm_init_avx512(&gemm_tables[SLMRT_ISA_AVX512], c->avx512_vnni, c->avx512_bf16);
        gemm_table_ok[SLMRT_ISA_AVX512] = true;
    }
}

const slmrt_gemm *slmrt_gemm_for(slmrt_isa isa) {
    if ((int)isa <= SLMRT_ISA_SCALAR || (int)isa > SLMRT_ISA_AVX512) return NULL;
    pthread_once(&gemm_once, gemm_tables_build);
    return gemm_table_ok[isa] ? &gemm_tables[isa] : NULL;
}

const slmrt_gemm_type *slmrt_gemm_type_for(const slmrt_gemm *g, slm_type type, int n_in) {
    if (!g || (int)type < 0 || (int)type >= SLM_TYPE_COUNT) return NULL;
    const slmrt_gemm_type *gt = &g->by_type[type];
    if (!gt->pack || !gt->kernel || n_in <= 0 || n_in % gt->k_align) return NULL;
    return gt;
}

size_t slmrt_gemm_act_bytes(const slmrt_gemm_type *gt, int n_in, int n_tok) {
    switch (gt->act) {
    case SLMRT_GEMM_ACT_Q8:
        return (size_t)n_tok * (size_t)(n_in / SLMRT_QK8_0) * (32 + sizeof(float) + sizeof(int32_t));
    case SLMRT_GEMM_ACT_F32: return (size_t)n_tok * slmrt_gemm_f32_stride(n_in) * sizeof(float);
    case SLMRT_GEMM_ACT_Q8K:
        return (size_t)n_tok * (size_t)(n_in / SLM_QK_K) * (SLM_QK_K + sizeof(float) + 16 * sizeof(int16_t));
    default: return 0;
    }
}

static int panel_cols(const slmrt_gemm_type *gt, int n_in) { return gt->kc && gt->kc < n_in ? gt->kc : n_in; }

size_t slmrt_gemm_panel_bytes(const slmrt_gemm_type *gt, int n_in) {
    return (gt->col_bytes * (size_t)panel_cols(gt, n_in) + 63) / 64 * 64 + (size_t)gt->panel_rows * 64;
}

void slmrt_gemm_act_fill(const slmrt_gemm_type *gt, const uint8_t *prep, size_t prep_stride, int n_in, int n_tok,
                         int t0, int t1, void *scratch) {
    if (!gt->fill) return;
    for (int t = t0; t < t1; t++) gt->fill(prep + (size_t)t * prep_stride, n_in, t, n_tok, scratch);
}

void slmrt_gemm_act_view(const slmrt_gemm_type *gt, const uint8_t *prep, size_t prep_stride, int n_in, int n_tok,
                         void *scratch, slmrt_gemm_act *a) {
    memset(a, 0, sizeof *a);
    a->n_tok = n_tok;
    a->x = prep;
    a->x_stride = prep_stride;
    if (gt->act == SLMRT_GEMM_ACT_Q8) {
        a->n_blocks = n_in / SLMRT_QK8_0;
        int8_t *q;
        float *d;
        int32_t *nsum;
        slmrt_gemm_q8_layout(scratch, a->n_blocks, n_tok, &q, &d, &nsum);
        a->q = q;
        a->d = d;
        a->nsum = nsum;
        a->x = NULL;
        a->x_stride = 0;
    } else if (gt->act == SLMRT_GEMM_ACT_Q8K) {
        a->n_blocks = n_in / SLM_QK_K;
        int8_t *q;
        float *d;
        int16_t *bsums;
        slmrt_gemm_q8k_layout(scratch, a->n_blocks, n_tok, &q, &d, &bsums);
        a->q = q;
        a->d = d;
        a->bsums = bsums;
        a->x = NULL;
        a->x_stride = 0;
    } else if (gt->act == SLMRT_GEMM_ACT_F32) {
        a->x = scratch;
        a->x_stride = slmrt_gemm_f32_stride(n_in) * sizeof(float);
    }
}

typedef struct run_job {
    const slmrt_gemm_type *gt;
    const slmrt_gemm_weights *w;
    const slmrt_gemm_act *a;
    int n_tok;
    float *y;
    size_t ldy;
    uint8_t *panels;
    size_t panel_bytes;
} run_job;

/* Tokens per kernel call: a multiple of every kernel's token tile (2, 3, 6,
 * 8), so that only the batch's last call has a partial tile. */
#define RUN_SLICE 48

/* The activation view of tokens [t0, n_tok) of a. */
static void shift_tokens(slmrt_gemm_act *a, int t0) {
    if (a->bsums) {
        /* super-block-major: the same arrays, starting t0 tokens in */
        a->q += (size_t)t0 * SLM_QK_K;
        a->d += t0;
        a->bsums += (size_t)t0 * 16;
    } else if (a->q) {
        /* block-major: the same arrays, starting t0 tokens in */
        a->q += (size_t)t0 * 32;
        a->d += t0;
        a->nsum += t0;
    } else {
        a->x += (size_t)t0 * a->x_stride;
    }
}

static void run_panels(void *arg, int64_t p0, int64_t p1, int thread) {
    const run_job *j = arg;
    const slmrt_gemm_type *gt = j->gt;
    const slmrt_gemm_weights *w = j->w;
    void *panel = j->panels + (size_t)thread * j->panel_bytes;
    const int P = gt->panel_rows, kc_max = panel_cols(gt, w->n_in);
    for (int64_t p = p0; p < p1; p++) {
        const int r0 = (int)p * P;
        const int nr = w->n_out - r0 < P ? w->n_out - r0 : P;
        const uint8_t *rows = w->data + (size_t)r0 * w->row_size;
        /* the next panel's rows, fetched into L2 a slice at a time while
         * this panel runs (the pack would otherwise wait on memory) */
        const char *next = (const char *)rows + (size_t)nr * w->row_size;
        const int next_rows = p + 1 < p1 ? (w->n_out - r0 - nr < P ? w->n_out - r0 - nr : P) : 0;
        const size_t next_bytes = kc_max == w->n_in ? (size_t)next_rows * w->row_size : 0;
        const int n_slices = (j->n_tok + RUN_SLICE - 1) / RUN_SLICE;
        for (int k0 = 0; k0 < w->n_in; k0 += kc_max) {
            const int kc = w->n_in - k0 < kc_max ? w->n_in - k0 : kc_max;
            const bool last = k0 + kc == w->n_in;
            gt->pack(rows, w->row_size, nr, k0, kc, panel);
            for (int t0 = 0, s = 0; t0 < j->n_tok; t0 += RUN_SLICE, s++) {
                const int nt = j->n_tok - t0 < RUN_SLICE ? j->n_tok - t0 : RUN_SLICE;
                const size_t from = next_bytes * s / n_slices, to = next_bytes * (s + 1) / n_slices;
                for (size_t b = from; b < to; b += 64) __builtin_prefetch(next + b, 0, 2);
                slmrt_gemm_act a = *j->a;
                shift_tokens(&a, t0);
                gt->kernel(panel, k0, kc, &a, nt, j->y + (size_t)t0 * j->ldy + r0, j->ldy, nr, k0 == 0,
                           last && w->bias ? w->bias + r0 : NULL);
            }
        }
    }
}

void slmrt_gemm_run(const slmrt_gemm_type *gt, const slmrt_gemm_weights *w, const slmrt_gemm_act *a, int n_tok,
                    float *y, size_t ldy, void *panels, int n_threads) {
    run_job j = {gt, w, a, n_tok, y, ldy, panels, slmrt_gemm_panel_bytes(gt, w->n_in)};
    const int64_t n_panels = (w->n_out + gt->panel_rows - 1) / gt->panel_rows;
    slmrt_parallel_for(n_threads, n_panels, run_panels, &j);
}
