/* slmrt_onednn.c - see slmrt_onednn.h.
 *
 * When the runtime uses it (SLMRT_GEMM=auto, the default): on CPUs with
 * AMX, for every weight type but F32 and batches of SLMRT_ONEDNN_MIN_TOKENS
 * or more; elsewhere never. Measured on the development VM (AMD Zen 4,
 * AVX-512 with BF16 and VNNI, no AMX; 2 threads; shared with other jobs, so
 * best of 3 runs at quiet moments):
 *                                    our kernels   this backend
 *   prefill 512 tokens, 1.1B Q8_0    ~215 tok/s    ~150 tok/s
 *   prefill 512 tokens, 1.1B F16      ~85 tok/s    ~147 tok/s
 *   2048 x 2048 by 256 tokens, Q8_0   305 GMAC/s    205 GMAC/s
 *   same, F16 / BF16                  93 / 202      214 / 208
 *   same, F32 (OpenBLAS)              87            87
 * oneDNN's bf16 matmul runs at 210-230 GMAC/s there (1.15 ns per weight
 * for 256 tokens), slower than our int8 kernels, and decoding every weight
 * to bf16 for each batch comes on top (per weight, 2 threads: Q8_0 0.16 ns,
 * F16 0.11, BF16 0.15, Q4_0 0.5 and Q6_K 1.0 with formats' scalar
 * decoders), so auto keeps our kernels, which also keep batched logits
 * equal to one-token logits. F16 (our kernel must follow ggml's order) and
 * types without a GEMM of ours (Q2_K, Q3_K, Q4_1, IQ4_*: matrix-vector
 * products, 4x slower than this backend at 256 tokens; Q4_K, Q5_K and Q6_K
 * have int8 GEMMs of ours since, 1.3x oneDNN's bf16 speed at 512 tokens
 * with the decoding left out) would be faster here, at the cost of
 * exactness: SLMRT_GEMM=onednn. With AMX, oneDNN's bf16 matmul is reported
 * at about 1 TMAC/s for M=512, N=K=2048 on 2 threads (not measurable
 * here), four times our int8 kernels even with the decoding. F32 weights
 * stay on our kernels even then: AMX has no f32 path, and our f32 kernel
 * is as fast as sgemm (above) and exact.
 *
 * How:
 * - The weights of a panel of rows are decoded into bf16 rows (format tag
 *   ba: N rows of K). Letting oneDNN pick the layout (tag any: BA16a64b2a
 *   here) and packing into it did not pay: oneDNN's matmul was 5-10%
 *   faster on it, but packing cost 0.25 ns per weight and thread more than
 *   writing rows; prefill of 1.1B Q8_0 with 512 tokens: 151/146 tok/s
 *   (any) against 149/154 (ba), with 64 tokens 119/125 against 140/136.
 * - oneDNN primitives are created once per (M, N, K) and kept in a small
 *   per-context cache (creating one costs milliseconds of JIT).
 * - The output goes to a dense panel and is copied into y (+ bias): with
 *   a strided destination oneDNN falls back from brgemm to gemm:jit, 5-20%
 *   slower at 256 tokens, up to 3x at 16.
 * - oneDNN (OpenMP, like our pool) runs on omp_get_max_threads() threads,
 *   so each call sets that to the context's n_threads and restores it.
 *   check_onednn.c counts the threads; bench/gemm_bench.c --gemm TYPE prints
 *   CPU time over wall time (2.0 on 2 threads, 1.0 on 1).
 * - The scratchpad is ours (dnnl_scratchpad_mode_user), so oneDNN keeps no
 *   per-thread buffers of its own between calls. */
#include "slmrt_onednn.h"

#include <cblas.h>
#include <dnnl.h>
#include <dnnl_debug.h>
#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_cpu.h"
#include "slmrt_pool.h"

/* Weight panels of PANEL_BYTES (bf16), at most PANEL_MAX_ROWS rows: few
 * panels per product, because each costs a parallel region of ours and
 * oneDNN's, and every region waits for its slowest thread (on a machine
 * where another process holds a core: a scheduler time slice, ~8 ms).
 * Measured, prefill of 1.1B Q8_0, 512 tokens: panels of 2/4/8/16 MB
 * 160/158/151/155 tok/s (best of two; within noise); with a busy loop on
 * one of the 2 cores, 2 MB 52 tok/s, 16 MB 59 (our kernels: 84). */
#define PANEL_BYTES ((size_t)16 << 20)
#define PANEL_MAX_ROWS 4096

static int panel_rows_for(int n_in) {
    const size_t rows = PANEL_BYTES / (sizeof(uint16_t) * (size_t)n_in) / 64 * 64;
    return rows < 64 ? 64 : rows > PANEL_MAX_ROWS ? PANEL_MAX_ROWS : (int)rows;
}

/* Primitives cached per context: the 1.1B model has 7 (N, K) pairs of
 * panels per batch length, and prefill uses one or two batch lengths. */
#define SHAPE_CACHE 24

/* --------------------------------------------------------- selection */

static slmrt_gemm_backend env_backend = SLMRT_GEMM_AUTO;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env(void) {
    const char *s = getenv("SLMRT_GEMM");
    if (s) slmrt_gemm_backend_parse(s, &env_backend); /* unknown values: auto, as SLMRT_ISA */
}

const char *slmrt_gemm_backend_name(slmrt_gemm_backend b) {
    switch (b) {
    case SLMRT_GEMM_OWN: return "own";
    case SLMRT_GEMM_ONEDNN: return "onednn";
    default: return "auto";
    }
}

bool slmrt_gemm_backend_parse(const char *name, slmrt_gemm_backend *out) {
    static const slmrt_gemm_backend all[] = {SLMRT_GEMM_AUTO, SLMRT_GEMM_OWN, SLMRT_GEMM_ONEDNN};
    for (size_t i = 0; name && i < sizeof all / sizeof *all; i++)
        if (strcmp(name, slmrt_gemm_backend_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

slmrt_gemm_backend slmrt_gemm_backend_choose(slmrt_gemm_backend requested, bool *explicit_choice) {
    *explicit_choice = true;
    if (requested != SLMRT_GEMM_AUTO) return requested;
    pthread_once(&env_once, read_env);
    if (env_backend != SLMRT_GEMM_AUTO) return env_backend;
    *explicit_choice = false;
    return slmrt_cpu_get()->amx_bf16 ? SLMRT_GEMM_ONEDNN : SLMRT_GEMM_OWN;
}

/* ------------------------------------------------------------- state */

/* f32 -> bf16 for n values (the best this CPU has, row_to_bf16_best). */
typedef void (*row_to_bf16_fn)(const float *restrict src, uint16_t *restrict dst, int n);
static row_to_bf16_fn row_to_bf16_best(void);

/* One bf16 matmul: activations M x K, weights K x N as N rows of K
 * (format tag ba), f32 output M x N. */
typedef struct mm_shape {
    int m, n, k;
    uint64_t last_use;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst, pad; /* data handles set per call */
    size_t pad_bytes;
} mm_shape;

struct slmrt_onednn {
    int n_threads, max_tok, max_n_in;
    bool with_f32;
    bool bf16_ok;
    char why_not[256];
    char impl[64];  /* oneDNN's name for the last bf16 matmul made */
    char desc[96];  /* for slmrt_onednn_impl */
    row_to_bf16_fn to_bf16;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr;
    mm_shape shapes[SHAPE_CACHE];
    uint64_t clock;
    uint16_t *xb;     /* [max_tok][max_n_in] activations in bf16 */
    uint16_t *panel;  /* PANEL_BYTES (or one panel of max_n_in): weight rows in bf16 */
    float *ypanel;    /* [max_tok][PANEL_MAX_ROWS] one panel's output */
    float *rows;      /* [n_threads][rows_stride] one decoded weight row */
    size_t rows_stride;
    void *pad;        /* oneDNN's scratchpad */
    size_t pad_cap;
};

static slm_status dnnl_fail(slm_diag *d, dnnl_status_t s, const char *what) {
    return slm_diag_set(d, s == dnnl_out_of_memory ? SLM_ERR_NOMEM : SLM_ERR_INTERNAL, "oneDNN: %s failed: %s", what,
                        dnnl_status2str(s));
}

static void shape_clear(mm_shape *s) {
    if (s->prim) dnnl_primitive_destroy(s->prim);
    if (s->src) dnnl_memory_destroy(s->src);
    if (s->wei) dnnl_memory_destroy(s->wei);
    if (s->dst) dnnl_memory_destroy(s->dst);
    if (s->pad) dnnl_memory_destroy(s->pad);
    memset(s, 0, sizeof *s);
}

static slm_status shape_create(slmrt_onednn *o, mm_shape *s, int m, int n, int k, slm_diag *d) {
    s->m = m;
    s->n = n;
    s->k = k;
    dnnl_memory_desc_t src, wei, dst;
    const dnnl_dims_t sd = {m, k}, wd = {k, n}, dd = {m, n};
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&wei, 2, wd, dnnl_bf16, dnnl_ba);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t mmd;
    if (st == dnnl_success) st = dnnl_matmul_desc_init(&mmd, &src, &wei, NULL, &dst);
    if (st != dnnl_success) return dnnl_fail(d, st, "describing a bf16 matmul");
    dnnl_primitive_desc_t pd = NULL;
    st = dnnl_primitive_desc_create(&pd, &mmd, o->attr, o->engine, NULL);
    if (st != dnnl_success) {
        char what[96];
        snprintf(what, sizeof what, "a bf16 matmul %d x %d x %d", m, n, k);
        return dnnl_fail(d, st, what);
    }
    const char *impl = "";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(o->impl, sizeof o->impl, "%s", impl);
    const dnnl_memory_desc_t *pmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    s->pad_bytes = pmd ? dnnl_memory_desc_get_size(pmd) : 0;
    st = dnnl_primitive_create(&s->prim, pd);
    if (st == dnnl_success) st = dnnl_memory_create(&s->src, &src, o->engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&s->wei, &wei, o->engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&s->dst, &dst, o->engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success && s->pad_bytes) st = dnnl_memory_create(&s->pad, pmd, o->engine, DNNL_MEMORY_NONE);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        shape_clear(s);
        return dnnl_fail(d, st, "creating a bf16 matmul");
    }
    return SLM_OK;
}

/* The cached primitive for (m, n, k), created on first use; the least
 * recently used one makes room. */
static mm_shape *shape_get(slmrt_onednn *o, int m, int n, int k, slm_diag *d) {
    mm_shape *victim = &o->shapes[0];
    for (int i = 0; i < SHAPE_CACHE; i++) {
        mm_shape *s = &o->shapes[i];
        if (s->prim && s->m == m && s->n == n && s->k == k) {
            s->last_use = ++o->clock;
            return s;
        }
        if (!s->prim || (victim->prim && s->last_use < victim->last_use)) victim = s;
    }
    shape_clear(victim);
    if (shape_create(o, victim, m, n, k, d) != SLM_OK) return NULL;
    victim->last_use = ++o->clock;
    return victim;
}

void slmrt_onednn_free(slmrt_onednn *o) {
    if (!o) return;
    for (int i = 0; i < SHAPE_CACHE; i++) shape_clear(&o->shapes[i]);
    if (o->attr) dnnl_primitive_attr_destroy(o->attr);
    if (o->stream) dnnl_stream_destroy(o->stream);
    if (o->engine) dnnl_engine_destroy(o->engine);
    free(o->xb);
    free(o->panel);
    free(o->ypanel);
    free(o->rows);
    free(o->pad);
    free(o);
}

/* oneDNN reads the thread count from OpenMP when it creates and when it
 * runs a primitive: the context's count for the duration of a call. */
static int threads_enter(const slmrt_onednn *o) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(o->n_threads);
    return saved;
}

static void threads_leave(int saved) { omp_set_num_threads(saved); }

static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

slm_status slmrt_onednn_new(int n_threads, int max_tok, int max_n_in, bool with_f32, slmrt_onednn **out,
                            slm_diag *d) {
    *out = NULL;
    if (n_threads < 1 || max_tok < 1 || max_n_in < 1)
        return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_onednn_new: %d threads, %d tokens, rows of %d", n_threads,
                            max_tok, max_n_in);
    slmrt_onednn *o = calloc(1, sizeof *o);
    if (!o) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    o->n_threads = n_threads;
    o->max_tok = max_tok;
    o->max_n_in = max_n_in;
    o->with_f32 = with_f32;
    o->to_bf16 = row_to_bf16_best();
    snprintf(o->impl, sizeof o->impl, "none");
    const size_t toks = (size_t)max_tok, cols = (size_t)max_n_in;
    const size_t panel_bytes = sizeof(uint16_t) * cols * 64 > PANEL_BYTES ? sizeof(uint16_t) * cols * 64 : PANEL_BYTES;
    o->rows_stride = (cols + 15) / 16 * 16;
    o->xb = alloc64(toks * cols * sizeof(uint16_t));
    o->panel = alloc64(panel_bytes);
    o->ypanel = alloc64(toks * PANEL_MAX_ROWS * sizeof(float));
    o->rows = alloc64((size_t)n_threads * o->rows_stride * sizeof(float));
    if (!o->xb || !o->panel || !o->ypanel || !o->rows) {
        slmrt_onednn_free(o);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for oneDNN scratch (%d tokens x %d)", max_tok,
                            max_n_in);
    }
    dnnl_status_t st = dnnl_engine_create(&o->engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&o->stream, o->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&o->attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(o->attr, dnnl_scratchpad_mode_user);
    if (st != dnnl_success) {
        slm_status ret = dnnl_fail(d, st, "creating a CPU engine");
        slmrt_onednn_free(o);
        return ret;
    }
    /* Can oneDNN multiply in bf16 here, and not just with its reference
     * code (hundreds of times slower)? A CPU without AVX-512 has nothing. */
    slm_diag probe = {0};
    const int saved = threads_enter(o);
    const mm_shape *s = shape_get(o, max_tok < 32 ? max_tok : 32, 64, 64, &probe);
    threads_leave(saved);
    if (!s)
        snprintf(o->why_not, sizeof o->why_not, "oneDNN has no bf16 matmul on this CPU (%s)", probe.msg);
    else if (strncmp(o->impl, "ref", 3) == 0)
        snprintf(o->why_not, sizeof o->why_not,
                 "oneDNN has only its reference bf16 matmul (%s) on this CPU, far slower than the runtime's own "
                 "kernels", o->impl);
    else
        o->bf16_ok = true;
    snprintf(o->desc, sizeof o->desc, "%s%s", o->bf16_ok ? o->impl : "no bf16", with_f32 ? ", f32 OpenBLAS" : "");
    *out = o;
    return SLM_OK;
}

bool slmrt_onednn_takes(const slmrt_onednn *o, slm_type type) {
    if (type == SLM_TYPE_F32) return o->with_f32;
    const slm_type_traits *tr = slm_type_traits_get(type);
    return o->bf16_ok && tr && tr->to_f32;
}

const char *slmrt_onednn_why_not(const slmrt_onednn *o, slm_type type) {
    if (type == SLM_TYPE_F32) return o->with_f32 ? "" : "F32 weights stay on the runtime's own kernels (auto)";
    const slm_type_traits *tr = slm_type_traits_get(type);
    if (!tr || !tr->to_f32) return "the type has no decoder to bf16";
    return o->bf16_ok ? "" : o->why_not;
}

const char *slmrt_onednn_impl(const slmrt_onednn *o) { return o->desc; }

/* ------------------------------------------------------------- bf16 */

/* Round to nearest even, NaN kept quiet, as slm_f32_to_bf16; written
 * without branches so the loops below vectorize. */
static inline uint16_t f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t rounded = (x + 0x7FFFu + ((x >> 16) & 1u)) >> 16, quiet = (x >> 16) | 0x40u;
    return (uint16_t)((x & 0x7FFFFFFFu) > 0x7F800000u ? quiet : rounded);
}

static void row_to_bf16_sse2(const float *restrict src, uint16_t *restrict dst, int n) {
    for (int i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

__attribute__((target("avx2"))) static void row_to_bf16_avx2(const float *restrict src, uint16_t *restrict dst,
                                                              int n) {
    for (int i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

/* vcvtneps2bf16: 16 values per instruction (0.04 ns per value on Zen 4,
 * against 0.19 for the AVX2 integer rounding and 0.40 for SSE2); it reads
 * denormal inputs as zero, which no product of weights can tell. */
__attribute__((target("avx512f,avx512vl,avx512bf16"))) static void row_to_bf16_avx512(const float *restrict src,
                                                                                        uint16_t *restrict dst,
                                                                                        int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    for (; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

static row_to_bf16_fn row_to_bf16_best(void) {
    const slmrt_cpu *c = slmrt_cpu_get();
    if (c->avx512f && c->avx512vl && c->avx512_bf16) return row_to_bf16_avx512;
    return c->avx2 ? row_to_bf16_avx2 : row_to_bf16_sse2;
}

/* F16 rows decoded with F16C: the reference decoder (formats) works one
 * value at a time with integer ops, 1.2 ns per weight on Zen 4, about what
 * the bf16 matmul of a 256-token batch costs per weight on 2 threads. */
__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const uint16_t *src, float *dst, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = slm_f16_to_f32(src[i]);
}

/* One weight row in bf16: BF16 rows as they are, others through f32. */
static void weight_row_to_bf16(const slmrt_onednn *o, slm_type type, const void *src, float *f32_row,
                               uint16_t *dst, int n) {
    if (type == SLM_TYPE_BF16) {
        memcpy(dst, src, sizeof(uint16_t) * (size_t)n);
        return;
    }
    if (type == SLM_TYPE_F16 && slmrt_cpu_get()->f16c) f16_to_f32_f16c(src, f32_row, n);
    else slm_type_traits_get(type)->to_f32(src, f32_row, n);
    o->to_bf16(f32_row, dst, n);
}

/* What the threads do between two matmuls, in one parallel region: the
 * activations to bf16 (before the first panel), the previous panel's
 * output into y (+ bias), the next panel's weight rows to bf16. One region
 * per panel, besides oneDNN's own, because every region waits for its
 * slowest thread: on a busy machine that is a scheduler time slice each
 * (measured on the shared 2-core VM: ~8 ms per region while another
 * process holds a core, against ~1 ms of work). */
typedef struct step_job {
    const slmrt_onednn *o;
    const slmrt_onednn_weights *w;
    int n_tok;
    const float *x; /* non-NULL: convert the activations */
    size_t ldx;
    int out_r0, out_rows; /* out_rows > 0: copy this panel from ypanel */
    float *y;
    size_t ldy;
    int pack_r0, pack_rows; /* pack_rows > 0: decode these rows into panel */
} step_job;

static void step_part(void *arg, int64_t p0, int64_t p1, int thread) {
    const step_job *j = arg;
    const slmrt_onednn *o = j->o;
    const int K = j->w->n_in;
    const int64_t parts = o->n_threads;
    const int64_t t0 = j->n_tok * p0 / parts, t1 = j->n_tok * p1 / parts;
    for (int64_t t = t0; t < t1 && j->x; t++) o->to_bf16(j->x + (size_t)t * j->ldx, o->xb + (size_t)t * K, K);
    const float *bias = j->w->bias ? j->w->bias + j->out_r0 : NULL;
    for (int64_t t = t0; t < t1 && j->out_rows > 0; t++) {
        const float *src = o->ypanel + (size_t)t * j->out_rows;
        float *dst = j->y + (size_t)t * j->ldy + j->out_r0;
        if (bias)
            for (int r = 0; r < j->out_rows; r++) dst[r] = src[r] + bias[r];
        else
            memcpy(dst, src, sizeof(float) * (size_t)j->out_rows);
    }
    float *row = o->rows + (size_t)thread * o->rows_stride;
    const int64_t r0 = j->pack_rows * p0 / parts, r1 = j->pack_rows * p1 / parts;
    for (int64_t r = r0; r < r1; r++)
        weight_row_to_bf16(o, j->w->type, (const char *)j->w->data + (size_t)(j->pack_r0 + r) * j->w->row_size, row,
                           o->panel + (size_t)r * K, K);
}

static slm_status matmul_bf16(slmrt_onednn *o, const slmrt_onednn_weights *w, const float *x, size_t ldx, int n_tok,
                              float *y, size_t ldy, slm_diag *d) {
    const int P = panel_rows_for(w->n_in), n_panels = (w->n_out + P - 1) / P;
    step_job j = {o, w, n_tok, x, ldx, 0, 0, y, ldy, 0, 0};
    for (int p = 0; p <= n_panels; p++) {
        const int r0 = p * P, nr = p < n_panels ? (w->n_out - r0 < P ? w->n_out - r0 : P) : 0;
        const mm_shape *s = NULL;
        if (nr) {
            s = shape_get(o, n_tok, nr, w->n_in, d);
            if (!s) return d ? d->status : SLM_ERR_INTERNAL;
            if (s->pad_bytes > o->pad_cap) {
                free(o->pad);
                o->pad_cap = 0;
                if (!(o->pad = alloc64(s->pad_bytes)))
                    return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for a oneDNN scratchpad of %zu bytes",
                                        s->pad_bytes);
                o->pad_cap = s->pad_bytes;
            }
        }
        j.pack_r0 = r0;
        j.pack_rows = nr;
        slmrt_parallel_for(o->n_threads, o->n_threads, step_part, &j);
        if (!s) break;
        j.x = NULL;
        j.out_r0 = r0;
        j.out_rows = nr;
        dnnl_memory_set_data_handle(s->src, o->xb);
        dnnl_memory_set_data_handle(s->wei, o->panel);
        dnnl_memory_set_data_handle(s->dst, o->ypanel);
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, s->src}, {DNNL_ARG_WEIGHTS, s->wei}, {DNNL_ARG_DST, s->dst}};
        int n_args = 3;
        if (s->pad) {
            dnnl_memory_set_data_handle(s->pad, o->pad);
            args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->pad};
        }
        dnnl_status_t st = dnnl_primitive_execute(s->prim, o->stream, n_args, args);
        if (st == dnnl_success) st = dnnl_stream_wait(o->stream);
        if (st != dnnl_success) return dnnl_fail(d, st, "running a bf16 matmul");
    }
    return SLM_OK;
}

/* -------------------------------------------------------------- f32 */

/* OpenBLAS's threads are pthreads of its own, which would compete with our
 * OpenMP pool (and oneDNN's) for the cores, and after each call they spin
 * for ~0.1 s (measured: 0.1 s of CPU per worker); so OpenBLAS runs one
 * thread per call and our pool splits the rows, n_threads slices. */
typedef struct sgemm_job {
    const slmrt_onednn *o;
    const slmrt_onednn_weights *w;
    const float *x;
    size_t ldx;
    int n_tok;
    float *y;
    size_t ldy;
} sgemm_job;

static void sgemm_part(void *arg, int64_t p0, int64_t p1, int thread) {
    (void)thread;
    const sgemm_job *j = arg;
    const slmrt_onednn_weights *w = j->w;
    const int64_t parts = j->o->n_threads;
    /* slices of whole cache lines of y */
    const int r0 = (int)((w->n_out * p0 / parts) & ~(int64_t)15);
    const int r1 = p1 == parts ? w->n_out : (int)((w->n_out * p1 / parts) & ~(int64_t)15);
    if (r0 >= r1) return;
    const size_t ldw = w->row_size / sizeof(float);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n_tok, r1 - r0, w->n_in, 1.0f, j->x, (int)j->ldx,
                (const float *)w->data + (size_t)r0 * ldw, (int)ldw, 0.0f, j->y + r0, (int)j->ldy);
    if (w->bias)
        for (int t = 0; t < j->n_tok; t++)
            for (int r = r0; r < r1; r++) j->y[(size_t)t * j->ldy + r] += w->bias[r];
}

static void matmul_f32(const slmrt_onednn *o, const slmrt_onednn_weights *w, const float *x, size_t ldx, int n_tok,
                       float *y, size_t ldy) {
    openblas_set_num_threads(1); /* process-wide: set on every call, in case someone changed it */
    sgemm_job j = {o, w, x, ldx, n_tok, y, ldy};
    slmrt_parallel_for(o->n_threads, o->n_threads, sgemm_part, &j);
}

slm_status slmrt_onednn_matmul(slmrt_onednn *o, const slmrt_onednn_weights *w, const float *x, size_t ldx,
                               int n_tok, float *y, size_t ldy, slm_diag *d) {
    if (!o || !w || !x || !y || n_tok < 1 || w->n_in < 1 || w->n_out < 1)
        return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_onednn_matmul: NULL argument or empty product");
    if (!slmrt_onednn_takes(o, w->type))
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "oneDNN backend: cannot multiply %s weights: %s",
                            slm_type_name(w->type), slmrt_onednn_why_not(o, w->type));
    if (n_tok > o->max_tok || w->n_in > o->max_n_in || ldx < (size_t)w->n_in || ldy < (size_t)w->n_out)
        return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_onednn_matmul: %d tokens of %d (ldx %zu, ldy %zu) beyond the "
                            "%d x %d the backend was made for", n_tok, w->n_in, ldx, ldy, o->max_tok, o->max_n_in);
    if (w->type == SLM_TYPE_F32) {
        matmul_f32(o, w, x, ldx, n_tok, y, ldy);
        return SLM_OK;
    }
    const int saved = threads_enter(o);
    slm_status st = matmul_bf16(o, w, x, ldx, n_tok, y, ldy, d);
    threads_leave(saved);
    return st;
}
