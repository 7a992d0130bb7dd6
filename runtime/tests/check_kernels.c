/* check_kernels.c - unit tests for the kernel tables (slmrt_kernels*.c).
 *
 * The scalar table is checked against answers computed here independently
 * (rows decoded with the formats codecs and multiplied in double, plus a few
 * worked by hand); every SIMD table this CPU can run, including the AVX-512
 * variants without VNNI/BF16, is then held to the scalar one on the same
 * inputs: prepare must write identical bytes, dots must agree to within
 * float summation order (1e-5 of the sum of |terms|), and the F32 and F16
 * dots, which all follow ggml's AVX-512 summation order, bit for bit.
 * Inputs come from a fixed xorshift seed, so a failure reproduces. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slm_type.h"
#include "slmrt_kernels.h"
#include "slmrt_kernels_impl.h"
#include "test_support.h"

/* ----------------------------------------------------------- utilities */

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Loops record failures and assert once: each passing ck_assert costs a
 * message to the Check parent process. */
#define EXPECT_BEGIN()       \
    int n_bad = 0;           \
    char first_bad[320] = ""
#define EXPECT(cond, ...)                                                               \
    do {                                                                                \
        if (!(cond) && n_bad++ == 0) snprintf(first_bad, sizeof first_bad, __VA_ARGS__); \
    } while (0)
#define EXPECT_END() ck_assert_msg(n_bad == 0, "%d failures, first: %s", n_bad, first_bad)

/* The weight types with kernels today. */
static const slm_type supported_types[] = {SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16,   SLM_TYPE_Q8_0,
                                           SLM_TYPE_Q4_0, SLM_TYPE_Q4_1, SLM_TYPE_Q5_0,   SLM_TYPE_Q5_1,
                                           SLM_TYPE_Q2_K, SLM_TYPE_Q3_K, SLM_TYPE_Q4_K,   SLM_TYPE_Q5_K,
                                           SLM_TYPE_Q6_K, SLM_TYPE_IQ4_NL, SLM_TYPE_IQ4_XS};
#define N_SUPPORTED (int)(sizeof supported_types / sizeof supported_types[0])

static const int float_lengths[] = {1,   2,   3,   5,   7,   8,   9,    15,   16,   17,   31,   32,  33,
                                    47,  63,  64,  65,  96,  100, 127,  128,  129,  255,  256,  257,
                                    1000, 2048, 2049, 5632, 5633};
#define N_FLOAT_LENGTHS (int)(sizeof float_lengths / sizeof float_lengths[0])

/* Quantized rows: every block count 1..20 (the SIMD code takes blocks 8 at
 * a time and the rest one by one), and the usual model widths; for the
 * 256-element types every super-block count 1..20 and 5632. */
static int quant_length(slm_type t, int i) {
    if (slm_type_traits_get(t)->blck == 256) return i < 20 ? 256 * (i + 1) : (int[]){2048, 5632, 5632, 5632}[i - 20];
    return i < 20 ? 32 * (i + 1) : (int[]){256, 1024, 2048, 5632}[i - 20];
}
#define N_QUANT_LENGTHS 24

static bool type_is_blocked(slm_type t) { return slm_type_traits_get(t)->blck > 1; }

/* Byte offsets of the fp16 scales in a block of each quantized type: raw
 * random blocks get sane values there (random bytes could be inf/NaN). */
static int block_f16_offsets(slm_type t, int off[2]) {
    switch (t) {
    case SLM_TYPE_Q4_1: case SLM_TYPE_Q5_1: case SLM_TYPE_Q4_K: case SLM_TYPE_Q5_K:
        off[0] = 0, off[1] = 2;
        return 2;
    case SLM_TYPE_Q2_K: off[0] = 80, off[1] = 82; return 2;
    case SLM_TYPE_Q3_K: off[0] = 108; return 1;
    case SLM_TYPE_Q6_K: off[0] = 208; return 1;
    default: off[0] = 0; return 1;
    }
}

/* A buffer whose start is `misalign` bytes past a 64-aligned one: weight
 * rows and f32 inputs may sit anywhere, so kernels may not assume their
 * alignment; prepared rows are 64-aligned by contract (misalign 0). */
typedef struct test_buf {
    uint8_t *base;
    uint8_t *p;
} test_buf;

static test_buf buf_alloc(size_t size, size_t misalign) {
    test_buf b;
    b.base = aligned_alloc(64, (size + misalign + 63) / 64 * 64);
    ck_assert_ptr_nonnull(b.base);
    b.p = b.base + misalign;
    return b;
}

static void buf_free(test_buf *b) { free(b->base); }

/* Random activations: uniform values with a per-32 magnitude that varies
 * over several octaves, as real activations do. */
static void fill_activations(float *x, int n, uint32_t *s) {
    float scale = 1.0f;
    for (int i = 0; i < n; i++) {
        if (i % 32 == 0) scale = ldexpf(1.0f, (int)(ts_rng_next(s) % 12) - 6);
        x[i] = ts_rng_unit(s) * scale;
    }
}

/* A weight row of type t: either the reference encoding of random values,
 * or (raw) random bytes with a sane fp16 scale per block, so that every
 * quantized value occurs, -128 included for Q8_0. */
static void fill_weights(slm_type t, uint8_t *w, int n, uint32_t *s, bool raw) {
    const slm_type_traits *tt = slm_type_traits_get(t);
    if (raw && tt->blck > 1) {
        const int nb = n / tt->blck;
        for (int b = 0; b < nb; b++) {
            uint8_t *blk = w + (size_t)b * tt->type_size;
            for (int j = 0; j < tt->type_size; j++) blk[j] = (uint8_t)ts_rng_next(s);
            int off[2];
            const int n_f16 = block_f16_offsets(t, off);
            for (int f = 0; f < n_f16; f++) {
                const uint16_t d =
                    slm_f32_to_f16(ldexpf(0.5f + 0.5f * fabsf(ts_rng_unit(s)), -(int)(ts_rng_next(s) % 10)));
                blk[off[f]] = (uint8_t)(d & 0xFF);
                blk[off[f] + 1] = (uint8_t)(d >> 8);
            }
        }
        return;
    }
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int i = 0; i < n; i++) v[i] = ts_rng_unit(s) * 0.1f;
    tt->from_f32(v, w, n);
    free(v);
}

/* Σ w_i x_i in double from the decoded rows (and Σ |w_i x_i| as the scale
 * of the rounding error), independent of the kernels. */
static double reference_dot(slm_type wt, const void *w, slm_type xt, const void *x, int n, double *abs_sum) {
    float *wf = malloc((size_t)n * sizeof *wf), *xf = malloc((size_t)n * sizeof *xf);
    ck_assert(wf && xf);
    slm_type_traits_get(wt)->to_f32(w, wf, n);
    slm_type_traits_get(xt)->to_f32(x, xf, n);
    double sum = 0.0, sum_abs = 0.0;
    if (xt == SLM_TYPE_Q8_1) {
        /* Q4_1/Q5_1 (min m at byte 2) meet Q8_1's stored s = fp16(d·Σq):
         * the min's term is m·s, as ggml defines the product */
        const slm_type_traits *tw = slm_type_traits_get(wt);
        for (int b = 0; b < n / 32; b++) {
            const uint8_t *wb = (const uint8_t *)w + (size_t)b * tw->type_size;
            const uint8_t *xb = (const uint8_t *)x + (size_t)b * 36;
            const double m = slm_f16_to_f32((uint16_t)(wb[2] | wb[3] << 8));
            const double term_m = m * slm_f16_to_f32((uint16_t)(xb[2] | xb[3] << 8));
            sum += term_m;
            sum_abs += fabs(term_m);
            for (int i = 32 * b; i < 32 * b + 32; i++) {
                const double term = ((double)wf[i] - m) * (double)xf[i];
                sum += term;
                sum_abs += fabs(term);
            }
        }
    } else
        for (int i = 0; i < n; i++) {
            const double term = (double)wf[i] * (double)xf[i];
            sum += term;
            sum_abs += fabs(term);
        }
    free(wf);
    free(xf);
    if (abs_sum) *abs_sum = sum_abs;
    return sum;
}

static bool close_enough(double got, double want, double abs_sum) {
    return fabs(got - want) <= 1e-5 * abs_sum + 1e-30;
}

/* Every SIMD table this CPU can run: the ones slmrt_kernels_for hands out,
 * plus each AVX-512 variant the CPU supports, so that the code paths for
 * AVX-512 CPUs without VNNI or BF16 are exercised here too. */
typedef struct simd_table {
    char name[48];
    slmrt_kernels k;
} simd_table;

static int collect_simd_tables(simd_table out[8]) {
    int count = 0;
    const slmrt_kernels *avx2 = slmrt_kernels_for(SLMRT_ISA_AVX2);
    if (avx2) {
        snprintf(out[count].name, sizeof out[count].name, "avx2");
        out[count++].k = *avx2;
    }
    const slmrt_kernels *avx512 = slmrt_kernels_for(SLMRT_ISA_AVX512);
    if (avx512) {
        const slmrt_cpu *c = slmrt_cpu_get();
        snprintf(out[count].name, sizeof out[count].name, "avx512 (as selected)");
        out[count++].k = *avx512;
        for (int vnni = 0; vnni <= (int)c->avx512_vnni; vnni++)
            for (int bf16 = 0; bf16 <= (int)c->avx512_bf16; bf16++) {
                snprintf(out[count].name, sizeof out[count].name, "avx512%s%s", vnni ? "+vnni" : "-vnni",
                         bf16 ? "+bf16" : "-bf16");
                slmrt_kernels_init_avx512_with(&out[count++].k, vnni, bf16);
            }
    }
    return count;
}

/* ------------------------------------------------------- table shapes */

START_TEST(test_tables_shape) {
    const slmrt_kernels *scalar = slmrt_kernels_for(SLMRT_ISA_SCALAR);
    ck_assert_ptr_nonnull(scalar);
    ck_assert_int_eq(scalar->isa, SLMRT_ISA_SCALAR);
    ck_assert_ptr_eq(slmrt_kernels_for(SLMRT_ISA_SCALAR), scalar); /* built once */
    ck_assert_ptr_null(slmrt_kernels_for((slmrt_isa)3));
    ck_assert_ptr_null(slmrt_kernels_for((slmrt_isa)-1));
    ck_assert_ptr_nonnull(slmrt_kernels_best());

    /* Exactly the supported types have kernels, with ggml's partners. */
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        bool supported = false;
        for (int i = 0; i < N_SUPPORTED; i++) supported |= supported_types[i] == (slm_type)t;
        ck_assert_msg((scalar->by_type[t].dot != NULL) == supported, "type %s", slm_type_name(t));
    }
    ck_assert_int_eq(scalar->by_type[SLM_TYPE_F32].partner, SLM_TYPE_F32);
    ck_assert_int_eq(scalar->by_type[SLM_TYPE_F16].partner, SLM_TYPE_F16);
    ck_assert_int_eq(scalar->by_type[SLM_TYPE_BF16].partner, SLM_TYPE_BF16);
    ck_assert_int_eq(scalar->by_type[SLM_TYPE_Q8_0].partner, SLM_TYPE_Q8_0);
    ck_assert_int_eq(scalar->by_type[SLM_TYPE_Q4_0].partner, SLM_TYPE_Q8_0);

    /* The AVX2 table is there exactly when the CPU has what it needs. */
    ck_assert_int_eq(slmrt_kernels_for(SLMRT_ISA_AVX2) != NULL, slmrt_kernels_cpu_has_avx2());
    ck_assert_int_eq(slmrt_kernels_for(SLMRT_ISA_AVX512) != NULL, slmrt_kernels_cpu_has_avx512());

    simd_table tables[8];
    const int n_tables = collect_simd_tables(tables);
    for (int i = 0; i < n_tables; i++) {
        const slmrt_kernels *k = &tables[i].k;
        ck_assert_int_eq(k->isa, strncmp(tables[i].name, "avx512", 6) ? SLMRT_ISA_AVX2 : SLMRT_ISA_AVX512);
        ck_assert(k->dot_f32 && k->axpy_f32);
        for (int t = 0; t < SLM_TYPE_COUNT; t++) {
            const slmrt_type_kernels *a = &k->by_type[t], *b = &scalar->by_type[t];
            ck_assert_msg((a->dot != NULL) == (b->dot != NULL), "%s: %s", tables[i].name, slm_type_name(t));
            if (!b->dot) continue;
            ck_assert_msg(a->prepare != NULL && a->partner == b->partner, "%s: %s", tables[i].name, slm_type_name(t));
        }
    }
}
END_TEST

/* ------------------------------------------------- scalar known answers */

static void store_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFF);
    p[1] = (uint8_t)(v >> 8);
}

/* Worked by hand. The activation row has amax 127, so d = 1 and id = 1 and
 * the quantized values are roundf of the inputs: halves go away from zero
 * (2.5 -> 3, -2.5 -> -3, 0.5 -> 1), unlike lrintf. */
static void hand_activation_q8_0(float x[32]) {
    memset(x, 0, 32 * sizeof *x);
    x[0] = 127.0f;
    x[1] = 2.5f;
    x[2] = -2.5f;
    x[3] = 0.5f;
    x[4] = -0.5f;
    x[5] = 1.49f;
    x[16] = -2.5f;
}

static void check_hand_answers(const slmrt_kernels *k, const char *name) {
    float x[32];
    hand_activation_q8_0(x);
    /* the prepared row: the block, then its tail (slmrt_q8_prep) */
    _Alignas(64) uint8_t x_row[256];
    ck_assert_uint_eq(slmrt_prep_row_size(&k->by_type[SLM_TYPE_Q8_0], 32), sizeof x_row);
    k->by_type[SLM_TYPE_Q8_0].prepare(x, x_row, 32);
    slmrt_block_q8_0 xq;
    memcpy(&xq, x_row, sizeof xq);
    ck_assert_msg(xq.d[0] == 0x00 && xq.d[1] == 0x3C, "%s: d must be fp16 1.0", name);
    static const int8_t want_q[32] = {127, 3, -3, 1, -1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      -3,  0, 0,  0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_msg(memcmp(xq.qs, want_q, 32) == 0, "%s: q8_0 activation bytes", name);

    /* Q8_0 weight d = 0.5, qs = 1..6: 127 + 6 - 9 + 4 - 5 + 6 = 129, times
     * 0.5 * 1. */
    slmrt_block_q8_0 wq;
    memset(&wq, 0, sizeof wq);
    store_u16(wq.d, 0x3800);
    for (int j = 0; j < 6; j++) wq.qs[j] = (int8_t)(j + 1);
    ck_assert_msg(k->by_type[SLM_TYPE_Q8_0].dot(32, &wq, x_row) == 64.5f, "%s: q8_0 dot", name);

    /* Q4_0 weight d = 0.25: element 0 is nibble 15 (+7), element 16 nibble
     * 0 (-8), all others nibble 8 (0): 7*127 + (-8)*(-3) = 913, times 0.25. */
    slmrt_block_q4_0 w4;
    store_u16(w4.d, 0x3400);
    memset(w4.qs, 0x88, sizeof w4.qs);
    w4.qs[0] = 0x0F;
    ck_assert_msg(k->by_type[SLM_TYPE_Q4_0].dot(32, &w4, x_row) == 228.25f, "%s: q4_0 dot", name);

    /* F16 / BF16: the activation is rounded to the partner type first, so
     * 0.1 counts as fp16 0.0999755859375 and bf16 0.10009765625. */
    const float xf[3] = {0.1f, 3.0f, 0.25f};
    _Alignas(64) uint8_t w16[6], x16[6];
    store_u16(w16, 0x3C00);     /* 1.0 */
    store_u16(w16 + 2, 0xB800); /* -0.5 */
    store_u16(w16 + 4, 0x4000); /* 2.0 */
    k->by_type[SLM_TYPE_F16].prepare(xf, x16, 3);
    ck_assert_msg(k->by_type[SLM_TYPE_F16].dot(3, w16, x16) == 0.0999755859375f - 1.5f + 0.5f, "%s: f16 dot", name);
    store_u16(w16, 0x3F80);     /* 1.0 */
    store_u16(w16 + 2, 0xBF00); /* -0.5 */
    store_u16(w16 + 4, 0x4000); /* 2.0 */
    k->by_type[SLM_TYPE_BF16].prepare(xf, x16, 3);
    ck_assert_msg(k->by_type[SLM_TYPE_BF16].dot(3, w16, x16) == 0.10009765625f - 1.5f + 0.5f, "%s: bf16 dot", name);

    const float wf[3] = {1.0f, -0.5f, 2.0f};
    _Alignas(64) uint8_t x32[12];
    k->by_type[SLM_TYPE_F32].prepare(xf, x32, 3);
    ck_assert_msg(fabsf(k->by_type[SLM_TYPE_F32].dot(3, wf, x32) - (0.1f - 1.5f + 0.5f)) < 1e-7f, "%s: f32 dot",
                  name);
    ck_assert_msg(fabsf(k->dot_f32(3, wf, xf) - (0.1f - 1.5f + 0.5f)) < 1e-7f, "%s: dot_f32", name);
    float y[3] = {1.0f, 1.0f, 1.0f};
    k->axpy_f32(3, 2.0f, wf, y);
    ck_assert_msg(y[0] == 3.0f && y[1] == 0.0f && y[2] == 5.0f, "%s: axpy", name);
}

/* The summation order of ggml_vec_dot_f32 / ggml_vec_dot_f16 in llama.cpp's
 * AVX-512 build (slmrt_kernels_scalar.c), told apart from the orders it
 * replaced by rows whose small terms are each below half an ulp of 1:
 * - ggml puts elements 8 and 24 in lane 8 of accumulators 0 and 1, adds
 *   them together first (acc0 += acc1), and only then meets element 0
 *   (lane 0 + lane 8): 1 + 0.75 ulp rounds up to 1 + ulp;
 * - a plain float sum, or 8-lane accumulators (8 and 24 land in lane 0 of
 *   two accumulators, each added to element 0 on its own), lose both: 1;
 * - a double sum keeps everything exactly and rounds once at the end.
 * F32: two leftovers of 0.375 ulp each, added in float, vanish: 1 + ulp
 * (a double sum: 1 + 1.5 ulp, a tie, to even: 1 + 2 ulp). F16: one leftover
 * of 0.625 ulp added in double to the rounded 1 + ulp: 1 + 2 ulp (a double
 * sum of everything: 1 + 1.375 ulp, so 1 + ulp). */
static void check_ggml_order(const slmrt_kernels *k, const char *name) {
    const float ulp = 0x1p-23f, p = 0x3p-26f; /* p = 0.375 ulp */
    enum { N32 = 66, N16 = 65 };
    float a[N32], ones[N32];
    for (int i = 0; i < N32; i++) {
        a[i] = 0.0f;
        ones[i] = 1.0f;
    }
    a[0] = 1.0f;
    a[8] = a[24] = a[64] = a[65] = p;
    _Alignas(64) uint8_t xp[4 * N32];
    k->by_type[SLM_TYPE_F32].prepare(ones, xp, N32);
    const float want32 = 1.0f + ulp;
    const float got32 = k->by_type[SLM_TYPE_F32].dot(N32, a, xp);
    ck_assert_msg(got32 == want32, "%s: f32 dot in ggml's order: %a, want %a", name, got32, want32);
    const float got_helper = k->dot_f32(N32, a, ones);
    ck_assert_msg(got_helper == want32, "%s: dot_f32 in ggml's order: %a, want %a", name, got_helper, want32);

    /* The same shape in fp16: w = 2^-14 times x = 3*2^-12 is p, and the
     * leftover 2^-14 * 5*2^-12 is 0.625 ulp. */
    float xf[N16];
    _Alignas(64) uint8_t w16[2 * N16], x16[2 * N16];
    for (int i = 0; i < N16; i++) {
        xf[i] = 0.0f;
        store_u16(w16 + 2 * i, 0);
    }
    xf[0] = 1.0f;
    store_u16(w16, 0x3C00); /* 1.0 */
    xf[8] = xf[24] = 0x3p-12f;
    xf[64] = 0x5p-12f;
    store_u16(w16 + 2 * 8, 0x0400); /* 2^-14 */
    store_u16(w16 + 2 * 24, 0x0400);
    store_u16(w16 + 2 * 64, 0x0400);
    k->by_type[SLM_TYPE_F16].prepare(xf, x16, N16);
    const float want16 = 1.0f + 2.0f * ulp;
    const float got16 = k->by_type[SLM_TYPE_F16].dot(N16, w16, x16);
    ck_assert_msg(got16 == want16, "%s: f16 dot in ggml's order: %a, want %a", name, got16, want16);
}

START_TEST(test_scalar_hand_answers) {
    check_hand_answers(slmrt_kernels_for(SLMRT_ISA_SCALAR), "scalar");
    check_ggml_order(slmrt_kernels_for(SLMRT_ISA_SCALAR), "scalar");
}
END_TEST

START_TEST(test_simd_hand_answers) {
    simd_table tables[8];
    const int n_tables = collect_simd_tables(tables);
    for (int i = 0; i < n_tables; i++) {
        check_hand_answers(&tables[i].k, tables[i].name);
        check_ggml_order(&tables[i].k, tables[i].name);
    }
}
END_TEST

/* The tail of a Q8_0-partner prepared row (slmrt_q8_prep) against its
 * definition: block scales widened, quant sums, the regrouped pairs, zeros
 * elsewhere. */
static bool q8_prep_tail_ok(const uint8_t *row, int n) {
    const int nb = n / 32;
    const slmrt_q8_prep l = slmrt_q8_prep_layout(n);
    const slmrt_block_q8_0 *blocks = (const slmrt_block_q8_0 *)row;
    for (size_t i = (size_t)nb * 34; i < l.d_off; i++)
        if (row[i]) return false;
    for (int b = 0; b < nb; b++) {
        float d;
        int32_t sum, want_sum = 0;
        memcpy(&d, row + l.d_off + 4 * (size_t)b, 4);
        memcpy(&sum, row + l.sum_off + 4 * (size_t)b, 4);
        for (int j = 0; j < 32; j++) want_sum += blocks[b].qs[j];
        if (d != slm_f16_to_f32((uint16_t)(blocks[b].d[0] | blocks[b].d[1] << 8)) || sum != want_sum) return false;
        const int8_t *pair = (const int8_t *)row + l.pairs_off + (size_t)(b / 2) * 64 + (b % 2) * 16;
        if (memcmp(pair, blocks[b].qs, 16) || memcmp(pair + 32, blocks[b].qs + 16, 16)) return false;
    }
    if (nb % 2) /* the missing partner of the last block reads as zeros */
        for (int j = 0; j < 16; j++)
            if (row[l.pairs_off + (size_t)(nb / 2) * 64 + 16 + j] || row[l.pairs_off + (size_t)(nb / 2) * 64 + 48 + j])
                return false;
    return true;
}

/* The scalar dot of each type against the decoded rows multiplied in
 * double; the scalar prepare against the formats encoders. */
START_TEST(test_scalar_known_answers) {
    const slmrt_kernels *k = slmrt_kernels_for(SLMRT_ISA_SCALAR);
    uint32_t seed = 0x5EED0001u;
    EXPECT_BEGIN();
    for (int ti = 0; ti < N_SUPPORTED; ti++) {
        const slm_type t = supported_types[ti];
        const slmrt_type_kernels *tk = &k->by_type[t];
        const int n_lengths = type_is_blocked(t) ? N_QUANT_LENGTHS : N_FLOAT_LENGTHS;
        for (int li = 0; li < n_lengths; li++) {
            const int n = type_is_blocked(t) ? quant_length(t, li) : float_lengths[li];
            for (int raw = 0; raw <= (int)type_is_blocked(t); raw++) {
                test_buf w = buf_alloc(slm_type_row_size(t, n), 1);
                test_buf xp = buf_alloc(slmrt_prep_row_size(tk, n), 0);
                test_buf want = buf_alloc(slm_type_row_size(tk->partner, n), 0);
                float *x = malloc((size_t)n * sizeof *x);
                ck_assert_ptr_nonnull(x);
                fill_weights(t, w.p, n, &seed, raw);
                fill_activations(x, n, &seed);
                tk->prepare(x, xp.p, n);
                slm_type_traits_get(tk->partner)->from_f32(x, want.p, n);
                EXPECT(memcmp(xp.p, want.p, slm_type_row_size(tk->partner, n)) == 0, "%s n=%d: prepare bytes",
                       slm_type_name(t), n);
                if (tk->partner == SLM_TYPE_Q8_0)
                    EXPECT(q8_prep_tail_ok(xp.p, n), "%s n=%d: prepared row tail", slm_type_name(t), n);
                double abs_sum;
                const double expect = reference_dot(t, w.p, tk->partner, xp.p, n, &abs_sum);
                const float got = tk->dot(n, w.p, xp.p);
                EXPECT(close_enough(got, expect, abs_sum), "%s n=%d raw=%d: dot %.9g, want %.9g (sum|terms| %.3g)",
                       slm_type_name(t), n, raw, got, expect, abs_sum);
                free(x);
                buf_free(&w);
                buf_free(&xp);
                buf_free(&want);
            }
        }
    }
    /* The f32 helpers. */
    for (int li = 0; li < N_FLOAT_LENGTHS; li++) {
        const int n = float_lengths[li];
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        float *y = malloc((size_t)n * sizeof *y);
        ck_assert(a && b && y);
        fill_activations(a, n, &seed);
        fill_activations(b, n, &seed);
        double sum = 0.0, abs_sum = 0.0;
        for (int i = 0; i < n; i++) {
            sum += (double)a[i] * b[i];
            abs_sum += fabs((double)a[i] * b[i]);
        }
        const float got = k->dot_f32(n, a, b);
        EXPECT(close_enough(got, sum, abs_sum), "dot_f32 n=%d: %.9g, want %.9g", n, got, sum);
        memcpy(y, b, (size_t)n * sizeof *y);
        k->axpy_f32(n, 0.75f, a, y);
        for (int i = 0; i < n; i++) {
            const double want = b[i] + 0.75 * (double)a[i];
            EXPECT(fabs(y[i] - want) <= 1.2e-7 * (fabs(b[i]) + fabs(0.75 * a[i])), "axpy n=%d i=%d", n, i);
        }
        free(a);
        free(b);
        free(y);
    }
    EXPECT_END();
}
END_TEST

/* ------------------------------------------------- SIMD against scalar */

START_TEST(test_simd_dots_match_scalar) {
    const slmrt_kernels *scalar = slmrt_kernels_for(SLMRT_ISA_SCALAR);
    simd_table tables[8];
    const int n_tables = collect_simd_tables(tables);
    if (n_tables == 0) {
        fprintf(stderr, "check_kernels: no SIMD table on this CPU, nothing to compare\n");
        return;
    }
    uint32_t seed = 0x5EED0002u;
    EXPECT_BEGIN();
    for (int ti = 0; ti < N_SUPPORTED; ti++) {
        const slm_type t = supported_types[ti];
        const slmrt_type_kernels *ref = &scalar->by_type[t];
        const int n_lengths = type_is_blocked(t) ? N_QUANT_LENGTHS : N_FLOAT_LENGTHS;
        for (int li = 0; li < n_lengths; li++) {
            const int n = type_is_blocked(t) ? quant_length(t, li) : float_lengths[li];
            for (int raw = 0; raw <= (int)type_is_blocked(t); raw++) {
                const size_t x_size = slmrt_prep_row_size(ref, n);
                test_buf w = buf_alloc(slm_type_row_size(t, n), 1);
                test_buf xp_ref = buf_alloc(x_size, 0);
                test_buf xp = buf_alloc(x_size, 0);
                float *x = malloc((size_t)(n + 1) * sizeof *x);
                ck_assert_ptr_nonnull(x);
                fill_weights(t, w.p, n, &seed, raw);
                /* One float past malloc's alignment. */
                fill_activations(x + 1, n, &seed);
                ref->prepare(x + 1, xp_ref.p, n);
                double abs_sum;
                reference_dot(t, w.p, ref->partner, xp_ref.p, n, &abs_sum);
                const float want = ref->dot(n, w.p, xp_ref.p);
                for (int i = 0; i < n_tables; i++) {
                    const slmrt_type_kernels *tk = &tables[i].k.by_type[t];
                    memset(xp.p, 0xA5, x_size);
                    tk->prepare(x + 1, xp.p, n);
                    EXPECT(memcmp(xp.p, xp_ref.p, x_size) == 0, "%s %s n=%d: prepare bytes differ", tables[i].name,
                           slm_type_name(t), n);
                    const float got = tk->dot(n, w.p, xp_ref.p);
                    EXPECT(close_enough(got, want, abs_sum),
                           "%s %s n=%d raw=%d: dot %.9g, scalar %.9g (sum|terms| %.3g)", tables[i].name,
                           slm_type_name(t), n, raw, got, want, abs_sum);
                    /* one order everywhere: the same bits */
                    if (t == SLM_TYPE_F32 || t == SLM_TYPE_F16)
                        EXPECT(got == want, "%s %s n=%d: dot %a, scalar %a (must be identical)", tables[i].name,
                               slm_type_name(t), n, got, want);
                }
                free(x);
                buf_free(&w);
                buf_free(&xp_ref);
                buf_free(&xp);
            }
        }
    }
    EXPECT_END();
}
END_TEST

START_TEST(test_simd_f32_helpers_match_scalar) {
    const slmrt_kernels *scalar = slmrt_kernels_for(SLMRT_ISA_SCALAR);
    simd_table tables[8];
    const int n_tables = collect_simd_tables(tables);
    uint32_t seed = 0x5EED0003u;
    EXPECT_BEGIN();
    for (int li = 0; li < N_FLOAT_LENGTHS; li++) {
        const int n = float_lengths[li];
        /* +1: one float past malloc's alignment. */
        float *a = malloc((size_t)(n + 1) * sizeof *a), *b = malloc((size_t)(n + 1) * sizeof *b);
        float *y_ref = malloc((size_t)(n + 1) * sizeof *y_ref), *y = malloc((size_t)(n + 1) * sizeof *y);
        ck_assert(a && b && y_ref && y);
        fill_activations(a + 1, n, &seed);
        fill_activations(b + 1, n, &seed);
        double abs_sum = 0.0;
        for (int i = 1; i <= n; i++) abs_sum += fabs((double)a[i] * b[i]);
        const float want = scalar->dot_f32(n, a + 1, b + 1);
        const float alpha = ts_rng_unit(&seed) * 3.0f;
        memcpy(y_ref, b, (size_t)(n + 1) * sizeof *y);
        scalar->axpy_f32(n, alpha, a + 1, y_ref + 1);
        for (int i = 0; i < n_tables; i++) {
            const slmrt_kernels *k = &tables[i].k;
            const float got = k->dot_f32(n, a + 1, b + 1);
            EXPECT(close_enough(got, want, abs_sum), "%s dot_f32 n=%d: %.9g, scalar %.9g", tables[i].name, n, got,
                   want);
            EXPECT(got == want, "%s dot_f32 n=%d: %a, scalar %a (must be identical)", tables[i].name, n, got, want);
            /* The element before the row must stay untouched (a write past
             * its end shows under ASan). */
            memcpy(y, b, (size_t)(n + 1) * sizeof *y);
            k->axpy_f32(n, alpha, a + 1, y + 1);
            EXPECT(y[0] == b[0], "%s axpy n=%d wrote before the row", tables[i].name, n);
            for (int j = 1; j <= n; j++)
                /* FMA rounds once where the scalar code rounds twice. */
                EXPECT(fabsf(y[j] - y_ref[j]) <= 1.2e-7f * (fabsf(b[j]) + fabsf(alpha * a[j])) + 1e-30f,
                       "%s axpy n=%d j=%d: %.9g, scalar %.9g", tables[i].name, n, j, y[j], y_ref[j]);
        }
        free(a);
        free(b);
        free(y_ref);
        free(y);
    }
    EXPECT_END();
}
END_TEST

/* dot_f32_cols against dot_f32 itself: the scalar table on gathered
 * columns (its definition), every SIMD table against the scalar one bit for
 * bit. Shapes as attention uses them (keys in tiles of 16 positions; values
 * by row, 16 floats of padding) and odd ones: lengths with leftovers past
 * the last 64, column counts with tails, 1 to 9 vectors (more than one
 * pass of shared loads). */
static void cols_case(const simd_table *tables, int n_tables, int k, int n, int n_x, bool tiles, uint32_t *seed) {
    const slmrt_kernels *scalar = slmrt_kernels_for(SLMRT_ISA_SCALAR);
    const int n16 = (n + 15) / 16 * 16;
    const size_t ld = tiles ? 16 : (size_t)n16 + 16, bs = tiles ? (size_t)16 * k : 16;
    const size_t m_size = tiles ? (size_t)n16 * k : (size_t)k * ld;
    const size_t xs = (size_t)k + 3, os = (size_t)n + 5;
    float *m = malloc(m_size * sizeof *m), *x = malloc(xs * n_x * sizeof *x), *col = malloc((size_t)k * sizeof *col);
    float *want = malloc(os * n_x * sizeof *want), *got = malloc(os * n_x * sizeof *got);
    ck_assert(m && x && col && want && got);
    fill_activations(m, (int)m_size, seed);
    fill_activations(x, (int)(xs * n_x), seed);
    const float scale = 0.125f;
    memset(want, 0, os * n_x * sizeof *want);
    scalar->dot_f32_cols(k, x, xs, n_x, m, ld, bs, n, scale, want, os);
    EXPECT_BEGIN();
    for (int q = 0; q < n_x; q++)
        for (int c = 0; c < n; c++) {
            for (int i = 0; i < k; i++) col[i] = m[(size_t)(c / 16) * bs + (size_t)i * ld + c % 16];
            const float ref = scalar->dot_f32(k, x + q * xs, col) * scale;
            EXPECT(memcmp(&ref, &want[q * os + c], sizeof ref) == 0, "scalar cols k=%d n=%d x%d c=%d: %a, dot %a", k,
                   n, q, c, want[q * os + c], ref);
        }
    for (int i = 0; i < n_tables; i++) {
        for (size_t j = 0; j < os * n_x; j++) got[j] = 7.0f; /* what must stay untouched */
        tables[i].k.dot_f32_cols(k, x, xs, n_x, m, ld, bs, n, scale, got, os);
        for (int q = 0; q < n_x; q++) {
            for (int c = 0; c < n; c++)
                EXPECT(memcmp(&got[q * os + c], &want[q * os + c], sizeof(float)) == 0,
                       "%s cols k=%d n=%d %s x%d/%d c=%d: %a, scalar %a", tables[i].name, k, n,
                       tiles ? "tiles" : "rows", q, n_x, c, got[q * os + c], want[q * os + c]);
            for (size_t c = (size_t)n; c < os; c++)
                EXPECT(got[q * os + c] == 7.0f, "%s cols k=%d n=%d: wrote past column %d", tables[i].name, k, n, n);
        }
    }
    EXPECT_END();
    free(m);
    free(x);
    free(col);
    free(want);
    free(got);
}

START_TEST(test_cols_match_dot_f32) {
    simd_table tables[8];
    const int n_tables = collect_simd_tables(tables);
    uint32_t seed = 0x5EED0005u;
    static const int ks[] = {8, 64, 80, 128, 32, 96, 576};
    static const int ns[] = {1, 7, 16, 33, 64, 200};
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 6; b++)
            for (int n_x = 1; n_x <= 9; n_x += 4) cols_case(tables, n_tables, ks[a], ns[b], n_x, (a + b) % 2, &seed);
    cols_case(tables, n_tables, 64, 50, 2, true, &seed);
    cols_case(tables, n_tables, 64, 50, 3, false, &seed);
}
END_TEST

/* ------------------------------------------- prepare: identical bytes */

/* Floats that stress the encoders: random bit patterns (NaN, infinity and
 * subnormals included), exact rounding ties, tiny and huge magnitudes. */
static void fill_special_floats(float *x, int n, uint32_t *s) {
    for (int i = 0; i < n; i++) {
        const uint32_t kind = ts_rng_next(s) % 8;
        switch (kind) {
        case 0: x[i] = float_of(ts_rng_next(s)); break;                        /* any bits */
        case 1: x[i] = float_of(ts_rng_next(s) & 0x807FFFFFu); break;          /* subnormal */
        case 2: x[i] = ldexpf(ts_rng_unit(s), (int)(ts_rng_next(s) % 280) - 150); break;
        case 3: x[i] = (float)((int)(ts_rng_next(s) % 255) - 127) + 0.5f; break; /* halves */
        case 4: x[i] = ts_rng_next(s) & 1 ? 0.0f : -0.0f; break;
        default: x[i] = ts_rng_unit(s); break;
        }
    }
}

/* A block whose products x*id land on and next to roundf ties for an
 * arbitrary scale: the element of largest magnitude fixes d and id as the
 * reference computes them, the others are (k + 0.5) / id and its float
 * neighbours. Any difference in how d, id or the product is rounded then
 * flips some of them. */
static void fill_q8_0_tie_block(float *xb, uint32_t *s) {
    const float amax = ldexpf(1.0f + fabsf(ts_rng_unit(s)), (int)(ts_rng_next(s) % 40) - 20);
    const float d = amax / 127;
    const float id = 1.0f / d;
    for (int j = 0; j < 32; j++) {
        const float tie = ((float)((int)(ts_rng_next(s) % 252) - 126) + 0.5f) / id;
        const int nudge = (int)(ts_rng_next(s) % 3);
        xb[j] = nudge == 0 ? tie : nextafterf(tie, nudge == 1 ? INFINITY : -INFINITY);
    }
    xb[ts_rng_next(s) % 32] = ts_rng_next(s) & 1 ? amax : -amax;
}

/* Blocks of 32 built to hit the Q8_0 corners: amax 127 (id = 1, so every
 * half is a roundf tie), ties at other scales, a lone NaN or infinity, all
 * zeros, subnormal amax (1/d overflows), values near FLT_MAX. */
static void fill_q8_0_corner_blocks(float *x, int n_blocks, uint32_t *s) {
    for (int b = 0; b < n_blocks; b++) {
        float *xb = x + 32 * b;
        const int kind = b % 10;
        for (int j = 0; j < 32; j++) xb[j] = ts_rng_unit(s);
        switch (kind) {
        case 0: /* ties */
            for (int j = 0; j < 32; j++) xb[j] = (float)((int)(ts_rng_next(s) % 254) - 127) + 0.5f;
            xb[ts_rng_next(s) % 32] = ts_rng_next(s) & 1 ? 127.0f : -127.0f;
            break;
        case 1: xb[ts_rng_next(s) % 32] = NAN; break;
        case 2: xb[ts_rng_next(s) % 32] = -NAN; break;
        case 3: xb[ts_rng_next(s) % 32] = ts_rng_next(s) & 1 ? INFINITY : -INFINITY; break;
        case 4:
            for (int j = 0; j < 32; j++) xb[j] = j % 3 ? 0.0f : -0.0f;
            break;
        case 5:
            for (int j = 0; j < 32; j++) xb[j] = float_of(ts_rng_next(s) & 0x800003FFu);
            break;
        case 6:
            for (int j = 0; j < 32; j++) xb[j] = ts_rng_unit(s) * FLT_MAX;
            break;
        case 7: fill_special_floats(xb, 32, s); break;
        case 8: fill_q8_0_tie_block(xb, s); break;
        default: /* products land near .5 by chance */
            for (int j = 0; j < 32; j++) xb[j] = ldexpf(ts_rng_unit(s), (int)(ts_rng_next(s) % 20) - 10);
            break;
        }
    }
}

START_TEST(test_simd_prepare_identical_bytes) {
    const slmrt_kernels *scalar = slmrt_kernels_for(SLMRT_ISA_SCALAR);
    simd_table tables[8];
    const int n_tables = collect_simd_tables(tables);
    uint32_t seed = 0x5EED0004u;
    enum { N_BLOCKS = 4096, N_FLOATS = 32 * N_BLOCKS + 13 };
    float *x = malloc(N_FLOATS * sizeof *x);
    ck_assert_ptr_nonnull(x);
    EXPECT_BEGIN();
    for (int round = 0; round < 4; round++) {
        if (round == 0 || round == 3) fill_q8_0_corner_blocks(x, N_BLOCKS, &seed);
        else fill_special_floats(x, N_FLOATS, &seed);
        if (round == 3) /* no NaN: Q8_K's 256-blocks would all go to the reference encoder */
            for (int i = 0; i < N_FLOATS; i++)
                if (isnan(x[i])) x[i] = ts_rng_unit(&seed);
        const slm_type partners[] = {SLM_TYPE_Q8_0, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_F32, SLM_TYPE_Q8_K};
        const slm_type weight_of[] = {SLM_TYPE_Q8_0, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_F32, SLM_TYPE_Q4_K};
        for (int p = 0; p < 5; p++) {
            const int n = partners[p] == SLM_TYPE_Q8_0 || partners[p] == SLM_TYPE_Q8_K ? 32 * N_BLOCKS : N_FLOATS;
            const size_t size = slmrt_prep_row_size(&scalar->by_type[weight_of[p]], n);
            uint8_t *want = malloc(size), *got = malloc(size);
            ck_assert(want && got);
            scalar->by_type[weight_of[p]].prepare(x, want, n);
            for (int i = 0; i < n_tables; i++) {
                memset(got, 0xA5, size);
                tables[i].k.by_type[weight_of[p]].prepare(x, got, n);
                size_t first = 0;
                while (first < size && got[first] == want[first]) first++;
                EXPECT(first == size, "%s %s round %d: byte %zu is %02x, reference %02x", tables[i].name,
                       slm_type_name(partners[p]), round, first, first < size ? got[first] : 0,
                       first < size ? want[first] : 0);
            }
            free(want);
            free(got);
        }
    }
    free(x);
    EXPECT_END();
}
END_TEST

/* The hand-written corner cases of roundf in Q8_0 prepare, one block each,
 * so a failure names the case. */
START_TEST(test_simd_prepare_q8_0_ties) {
    const slmrt_kernels *scalar = slmrt_kernels_for(SLMRT_ISA_SCALAR);
    simd_table tables[8];
    const int n_tables = collect_simd_tables(tables);
    float x[32];
    EXPECT_BEGIN();
    for (int k = -127; k <= 126; k++) {
        for (int j = 0; j < 32; j++) x[j] = (float)k + 0.5f;
        x[k & 31] = 127.0f;
        _Alignas(64) uint8_t want_row[256], got_row[256]; /* a block and its prepared tail */
        scalar->by_type[SLM_TYPE_Q8_0].prepare(x, want_row, 32);
        slmrt_block_q8_0 want;
        memcpy(&want, want_row, sizeof want);
        EXPECT(want.qs[(k & 31) ^ 1] == (int8_t)(k >= 0 ? k + 1 : k), "scalar: %d.5 -> %d", k, want.qs[(k & 31) ^ 1]);
        for (int i = 0; i < n_tables; i++) {
            tables[i].k.by_type[SLM_TYPE_Q8_0].prepare(x, got_row, 32);
            EXPECT(memcmp(got_row, want_row, sizeof got_row) == 0, "%s: block of %d.5", tables[i].name, k);
        }
    }
    EXPECT_END();
}
END_TEST

/* ------------------------------------------------ selection and threads */

/* Each check runs in a child of this test's process that has not touched
 * the kernel tables yet, so the child's first call reads SLMRT_ISA. */
static int child_best_isa(const char *env) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (env) setenv("SLMRT_ISA", env, 1);
        else unsetenv("SLMRT_ISA");
        const slmrt_kernels *best = slmrt_kernels_best();
        /* The same table slmrt_kernels_for hands out, not a copy. */
        const int ok = best && best == slmrt_kernels_for(best->isa);
        _exit(ok ? (int)best->isa : 100);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(test_env_selects_isa) {
    /* Without Check's fork per test, earlier tests in this process have
     * already made the choice, and the children would inherit it. */
    const char *ck_fork = getenv("CK_FORK");
    if (ck_fork && !strcmp(ck_fork, "no")) {
        fprintf(stderr, "check_kernels: CK_FORK=no, skipping the SLMRT_ISA test\n");
        return;
    }
    ck_assert_int_eq(child_best_isa("scalar"), SLMRT_ISA_SCALAR);
    const int best = child_best_isa(NULL);
    ck_assert_int_ne(best, 100);
    ck_assert_int_eq(child_best_isa("avx2"), best < SLMRT_ISA_AVX2 ? best : SLMRT_ISA_AVX2);
    ck_assert_int_eq(child_best_isa("avx512"), best);
    ck_assert_int_eq(child_best_isa("bogus"), best);
    /* The best table is the highest one that exists. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        unsetenv("SLMRT_ISA");
        int want = SLMRT_ISA_AVX512;
        while (want > 0 && !slmrt_kernels_for((slmrt_isa)want)) want--;
        _exit(slmrt_kernels_best() == slmrt_kernels_for((slmrt_isa)want) ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static void *thread_first_call(void *out) {
    const slmrt_kernels **tables = out;
    tables[0] = slmrt_kernels_best();
    for (int isa = 0; isa < 3; isa++) tables[1 + isa] = slmrt_kernels_for((slmrt_isa)isa);
    return NULL;
}

/* The first calls race; pthread_once must make them all see one table. */
START_TEST(test_concurrent_first_use) {
    enum { N_THREADS = 8 };
    pthread_t th[N_THREADS];
    const slmrt_kernels *seen[N_THREADS][4];
    for (int i = 0; i < N_THREADS; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, thread_first_call, seen[i]), 0);
    for (int i = 0; i < N_THREADS; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 1; i < N_THREADS; i++) ck_assert(memcmp(seen[i], seen[0], sizeof seen[0]) == 0);
    ck_assert_ptr_nonnull(seen[0][0]);
    ck_assert_ptr_nonnull(seen[0][1]);
}
END_TEST

static Suite *kernels_suite(void) {
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("tables");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tables_shape);
    tcase_add_test(tc, test_scalar_hand_answers);
    tcase_add_test(tc, test_simd_hand_answers);
    tcase_add_test(tc, test_scalar_known_answers);
    tcase_add_test(tc, test_simd_dots_match_scalar);
    tcase_add_test(tc, test_simd_f32_helpers_match_scalar);
    tcase_add_test(tc, test_cols_match_dot_f32);
    tcase_add_test(tc, test_simd_prepare_identical_bytes);
    tcase_add_test(tc, test_simd_prepare_q8_0_ties);
    tcase_add_test(tc, test_env_selects_isa);
    tcase_add_test(tc, test_concurrent_first_use);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(kernels_suite()); }
