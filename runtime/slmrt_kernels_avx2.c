/* slmrt_kernels_avx2.c - the AVX2 table (AVX2 + FMA + F16C; this file alone
 * is compiled with those flags, see CMakeLists.txt). It starts from the
 * scalar table and replaces every entry it implements.
 *
 * Agreement with the scalar reference (tests/check_kernels.c holds it):
 * - prepare writes the same bytes as the reference encoders, NaN, infinity
 *   and subnormals included;
 * - the quantized dots compute each block's integer sum exactly, then add
 *   sum_b * (d_w*d_x) in float; the BF16 dot differs only in summation
 *   order;
 * - the F32 and F16 dots follow ggml's AVX-512 order exactly (the scalar
 *   reference defines it), each 16-lane accumulator held as two 8-lane
 *   halves, so they return the scalar reference's bits.
 *
 * The int8 products use the maddubs trick (unsigned × signed bytes): |w|
 * times x carrying w's sign. That is exact only while |x| <= 127, which
 * holds for every row the Q8_0 reference encoder writes (|x*id| rounds to
 * at most 127); weights may hold any byte, -128 included. */
#include <immintrin.h>
#include <string.h>

#include "slmrt_kernels.h"
#include "slmrt_kernels_impl.h"
#include "slmrt_kernels_x86.h"

/* --------------------------------------------------------------- helpers */

static inline float avx2_load_f32(const uint8_t *p) {
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

/* bf16 is the top half of an f32. */
static inline __m256 avx2_bf16x8_to_ps(const uint8_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

/* ---------------------------------------------------------- float dots */

/* ggml_vec_dot_f32 (see scalar_dot_f32_f32): FMA into 4x16 lanes, the
 * reduction, then the leftovers one by one in float. The product is
 * rounded before it is added: ggml's leftover loop was measured not to be
 * contracted (the reference's attention scores, head_dim 8, match only
 * so), and this file's -std=c11 keeps GCC from contracting it here. */
static float avx2_dot_f32_bytes(int n, const uint8_t *a, const uint8_t *b) {
    __m256 lo[4], hi[4];
    for (int j = 0; j < 4; j++) lo[j] = hi[j] = _mm256_setzero_ps();
    const int np = n & ~(SLMRT_GGML_STEP - 1);
    for (int i = 0; i < np; i += SLMRT_GGML_STEP)
        for (int j = 0; j < 4; j++) {
            const uint8_t *pa = a + 4 * (i + SLMRT_GGML_LANES * j), *pb = b + 4 * (i + SLMRT_GGML_LANES * j);
            lo[j] = _mm256_fmadd_ps(_mm256_loadu_ps((const float *)pa), _mm256_loadu_ps((const float *)pb), lo[j]);
            hi[j] = _mm256_fmadd_ps(_mm256_loadu_ps((const float *)(pa + 32)), _mm256_loadu_ps((const float *)(pb + 32)),
                                    hi[j]);
        }
    float sum = slmrt_x86_ggml_reduce(lo, hi);
    for (int i = np; i < n; i++) {
        const float p = avx2_load_f32(a + 4 * i) * avx2_load_f32(b + 4 * i);
        sum += p;
    }
    return sum;
}

static float avx2_dot_f32_f32(int n, const void *w_row, const void *x_prepared) {
    return avx2_dot_f32_bytes(n, w_row, x_prepared);
}

#define SLMRT_F16X8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))

/* ggml_vec_dot_f16 (see scalar_dot_f16_f16): FMA into 4x16 lanes, the
 * reduction, then the leftovers added in double (products of two fp16
 * values are exact in float), rounded to float once at the end. */
static float avx2_dot_f16_f16(int n, const void *w_row, const void *x_prepared) {
    const uint8_t *w = w_row, *x = x_prepared;
    __m256 lo[4], hi[4];
    for (int j = 0; j < 4; j++) lo[j] = hi[j] = _mm256_setzero_ps();
    const int np = n & ~(SLMRT_GGML_STEP - 1);
    for (int i = 0; i < np; i += SLMRT_GGML_STEP)
        for (int j = 0; j < 4; j++) {
            const uint8_t *pw = w + 2 * (i + SLMRT_GGML_LANES * j), *px = x + 2 * (i + SLMRT_GGML_LANES * j);
            lo[j] = _mm256_fmadd_ps(SLMRT_F16X8(pw), SLMRT_F16X8(px), lo[j]);
            hi[j] = _mm256_fmadd_ps(SLMRT_F16X8(pw + 16), SLMRT_F16X8(px + 16), hi[j]);
        }
    double sum = slmrt_x86_ggml_reduce(lo, hi);
    for (int i = np; i < n; i++) sum += (double)(slmrt_x86_load_f16(w + 2 * i) * slmrt_x86_load_f16(x + 2 * i));
    return (float)sum;
}

#undef SLMRT_F16X8

static float avx2_dot_bf16_bf16(int n, const void *w_row, const void *x_prepared) {
    const uint8_t *w = w_row, *x = x_prepared;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(avx2_bf16x8_to_ps(w + 2 * i), avx2_bf16x8_to_ps(x + 2 * i), acc0);
        acc1 = _mm256_fmadd_ps(avx2_bf16x8_to_ps(w + 2 * (i + 8)), avx2_bf16x8_to_ps(x + 2 * (i + 8)), acc1);
        acc2 = _mm256_fmadd_ps(avx2_bf16x8_to_ps(w + 2 * (i + 16)), avx2_bf16x8_to_ps(x + 2 * (i + 16)), acc2);
        acc3 = _mm256_fmadd_ps(avx2_bf16x8_to_ps(w + 2 * (i + 24)), avx2_bf16x8_to_ps(x + 2 * (i + 24)), acc3);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(avx2_bf16x8_to_ps(w + 2 * i), avx2_bf16x8_to_ps(x + 2 * i), acc0);
    float sum = slmrt_x86_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++)
        sum += slm_bf16_to_f32(slmrt_load_u16le(w + 2 * i)) * slm_bf16_to_f32(slmrt_load_u16le(x + 2 * i));
    return sum;
}

/* ------------------------------------------------------------- prepare */

static void avx2_store_u16le(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

/* vcvtps2ph rounds to nearest even like slm_f32_to_f16 but keeps a NaN's
 * payload, where the reference writes the canonical quiet NaN 0x7E00 with
 * the sign: give NaN lanes that payload first (0x7FC00000 converts to
 * 0x7E00). */
static void avx2_prepare_f16(const float *x, void *out, int n) {
    uint8_t *y = out;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 quiet_nan = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000));
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        const __m256 is_nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        v = _mm256_blendv_ps(v, _mm256_or_ps(_mm256_and_ps(v, sign), quiet_nan), is_nan);
        _mm_storeu_si128((__m128i *)(y + 2 * i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < n; i++) avx2_store_u16le(y + 2 * i, slm_f32_to_f16(x[i]));
}

/* ggml's f32 -> bf16 on the integer bits (formats.md §2), 8 lanes at once. */
static void avx2_prepare_bf16(const float *x, void *out, int n) {
    uint8_t *y = out;
    const __m256i one = _mm256_set1_epi32(1), round = _mm256_set1_epi32(0x7FFF);
    const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
    const __m256i quiet = _mm256_set1_epi32(0x40);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
        __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, round), lsb), 16);
        /* A NaN could round into infinity: set its quiet bit instead. */
        const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
        r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet), is_nan);
        /* Every lane is < 0x10000, so the saturating pack only narrows. */
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), _MM_SHUFFLE(3, 1, 2, 0));
        _mm_storeu_si128((__m128i *)(y + 2 * i), _mm256_castsi256_si128(packed));
    }
    for (; i < n; i++) avx2_store_u16le(y + 2 * i, slm_f32_to_bf16(x[i]));
}

/* roundf (halves away from zero) of each lane, then the int32 conversion.
 * x - trunc(x) is exact, so comparing it with 0.5 decides the tie exactly. */
static inline __m256i avx2_roundf_epi32(__m256 v) {
    /* v is a product; keep it rounded to float before the subtraction, so
     * that no fused multiply-subtract sees the unrounded value (the
     * reference is compiled with -ffp-contract=off). */
    __asm__("" : "+x"(v));
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 away = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    t = _mm256_add_ps(t, _mm256_and_ps(away, step));
    /* Out of range and NaN give 0x80000000, whose low byte 0 is what the
     * reference's to_i8_like_x86 writes. */
    return _mm256_cvttps_epi32(t);
}

/* The Q8_0 reference rule (formats.md §2.2) for whole blocks: the same amax,
 * the same float d and id computed in scalar code, the same products and
 * roundf, the low byte of the int32 as the reference's cast keeps it. A
 * block containing NaN goes to the reference itself, because the order in
 * which ggml's MAX meets a NaN decides amax and a vector max cannot
 * reproduce that order cheaply. */
static void avx2_prepare_q8_0(const float *x, void *out, int n) {
    slmrt_block_q8_0 *y = out;
    const int nb = n / SLMRT_QK8_0;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i low_byte = _mm256_set1_epi32(0xFF);
    const __m256i byte_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int b = 0; b < nb; b++) {
        const float *xb = x + b * SLMRT_QK8_0;
        const __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
        const __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        const __m256 nan01 = _mm256_or_ps(_mm256_cmp_ps(v0, v0, _CMP_UNORD_Q), _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q));
        const __m256 nan23 = _mm256_or_ps(_mm256_cmp_ps(v2, v2, _CMP_UNORD_Q), _mm256_cmp_ps(v3, v3, _CMP_UNORD_Q));
        if (_mm256_movemask_ps(_mm256_or_ps(nan01, nan23))) {
            slm_type_traits_get(SLM_TYPE_Q8_0)->from_f32(xb, &y[b], SLMRT_QK8_0);
            continue;
        }
        const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                       _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        avx2_store_u16le(y[b].d, slm_f32_to_f16(d));
        const __m256 vid = _mm256_set1_ps(id);
        const __m256i q0 = _mm256_and_si256(avx2_roundf_epi32(_mm256_mul_ps(v0, vid)), low_byte);
        const __m256i q1 = _mm256_and_si256(avx2_roundf_epi32(_mm256_mul_ps(v1, vid)), low_byte);
        const __m256i q2 = _mm256_and_si256(avx2_roundf_epi32(_mm256_mul_ps(v2, vid)), low_byte);
        const __m256i q3 = _mm256_and_si256(avx2_roundf_epi32(_mm256_mul_ps(v3, vid)), low_byte);
        /* Lanes hold 0..255, so both saturating packs only narrow; the packs
         * interleave 128-bit halves, which the permute undoes. */
        const __m256i bytes = _mm256_packus_epi16(_mm256_packus_epi32(q0, q1), _mm256_packus_epi32(q2, q3));
        _mm256_storeu_si256((__m256i *)y[b].qs, _mm256_permutevar8x32_epi32(bytes, byte_order));
    }
    slmrt_q8_prep_finish(out, n);
}

/* ------------------------------------------------------ quantized dots */

/* 8 int32 partial sums of w·x over one weight block and its activation
 * block. */
static inline __m256i avx2_block_dot_q8_0(const uint8_t *w_block, const uint8_t *x_block) {
    const __m256i w = _mm256_loadu_si256((const __m256i *)((const slmrt_block_q8_0 *)w_block)->qs);
    const __m256i x = _mm256_loadu_si256((const __m256i *)((const slmrt_block_q8_0 *)x_block)->qs);
    /* |w| read as unsigned is exact even for -128; x takes w's sign. */
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/* (q-8)·x of one Q4_0 block on its own (row tails): q·x - 8·x, both pair
 * sums fit int16 (15·128·2 and 8·128·2). */
static inline __m256i avx2_block_dot_q4_0(const uint8_t *w_block, const uint8_t *x_block) {
    const __m256i q = slmrt_x86_q4_0_nibbles((const slmrt_block_q4_0 *)w_block);
    const __m256i x = _mm256_loadu_si256((const __m256i *)((const slmrt_block_q8_0 *)x_block)->qs);
    const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(q, x), _mm256_maddubs_epi16(_mm256_set1_epi8(8), x));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

static float avx2_dot_q8_0_q8_0(int n, const void *w_row, const void *x_prepared) {
    return slmrt_x86_dot_blocks(n / SLMRT_QK8_0, w_row, sizeof(slmrt_block_q8_0), x_prepared, avx2_block_dot_q8_0);
}

/* Q4_0 · Q8_0, 8 blocks at a time, with the prepared row's tail
 * (slmrt_q8_prep): two blocks share a register, the activation scales and
 * quant sums come ready, so the loop has no per-block conversion. Each
 * block's integer sum sum(q·x) - 8·sum(x) is exact (pair sums of unsigned
 * nibbles times int8 fit int16: 2·15·128); the float part is
 * slmrt_x86_dot_blocks's. */
static float avx2_dot_q4_0_q8_0(int n, const void *w_row, const void *x_prepared) {
    const int nb = n / SLMRT_QK4_0;
    const uint8_t *w = w_row, *x = x_prepared;
    const slmrt_q8_prep l = slmrt_q8_prep_layout(n);
    const float *xd = (const float *)(x + l.d_off);
    const int32_t *xsum = (const int32_t *)(x + l.sum_off);
    const uint8_t *pairs = x + l.pairs_off;
    const size_t w_size = sizeof(slmrt_block_q4_0);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *wb = w + (size_t)b * w_size, *xp = pairs + (size_t)b * 32;
        _mm_prefetch((const char *)wb + SLMRT_Q4_PREFETCH, _MM_HINT_T0);
        _mm_prefetch((const char *)wb + SLMRT_Q4_PREFETCH + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)wb + SLMRT_Q4_PREFETCH + 128, _MM_HINT_T0);
        __m256i s[4];
        for (int p = 0; p < 4; p++) {
            __m256i lo, hi;
            slmrt_x86_q4_0_pair_nibbles(wb + 2 * p * w_size, &lo, &hi);
            const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xp + 64 * p)));
            const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xp + 64 * p + 32)));
            s[p] = _mm256_madd_epi16(_mm256_add_epi16(plo, phi), ones);
        }
        const __m256i eight_sum = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(xsum + b)), 3);
        const __m256i sumi = _mm256_sub_epi32(slmrt_x86_hsum_pairs_x4(s), eight_sum);
        const __m256 scale = _mm256_mul_ps(slmrt_x86_scales_x8_w(wb, w_size), _mm256_loadu_ps(xd + b));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), scale, acc);
    }
    float sum = slmrt_x86_hsum_ps(acc);
    for (; b < nb; b++) {
        const uint8_t *wb = w + (size_t)b * w_size, *xb = x + (size_t)b * sizeof(slmrt_block_q8_0);
        sum += (float)slmrt_x86_hsum_epi32(avx2_block_dot_q4_0(wb, xb)) * (slmrt_x86_load_f16(wb) * xd[b]);
    }
    return sum;
}

/* --------------------------------------------------------- f32 helpers */

static float avx2_dot_f32(int n, const float *a, const float *b) {
    return avx2_dot_f32_bytes(n, (const uint8_t *)a, (const uint8_t *)b);
}

static inline void avx2_store_first(float *p, __m256 v, int n) {
    if (n == 8) {
        _mm256_storeu_ps(p, v);
    } else {
        float part[8];
        _mm256_storeu_ps(part, v);
        memcpy(p, part, sizeof(float) * (size_t)n);
    }
}

#define COLS_V __m256
#define COLS_W 8
#define COLS_MAXQ 1 /* 16 registers: a second vector's accumulators would spill */
#define COLS_LOAD(p) _mm256_loadu_ps(p)
#define COLS_SET1(f) _mm256_set1_ps(f)
#define COLS_ZERO() _mm256_setzero_ps()
#define COLS_ADD(a, b) _mm256_add_ps(a, b)
#define COLS_MUL(a, b) _mm256_mul_ps(a, b)
#define COLS_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define COLS_STORE(p, v, n) avx2_store_first(p, v, n)
#define COLS_NAME avx2_dot_f32_cols
#include "slmrt_cols_x86.h"

static void avx2_axpy_f32(int n, float a, const float *x, float *y) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

void slmrt_kernels_init_avx2(slmrt_kernels *k) {
    /* Partners come from the scalar table; only the functions change. */
    slmrt_kernels_init_scalar(k);
    k->isa = SLMRT_ISA_AVX2;
    k->by_type[SLM_TYPE_F32].dot = avx2_dot_f32_f32; /* prepare is a copy */
    k->by_type[SLM_TYPE_F16].prepare = avx2_prepare_f16;
    k->by_type[SLM_TYPE_F16].dot = avx2_dot_f16_f16;
    k->by_type[SLM_TYPE_BF16].prepare = avx2_prepare_bf16;
    k->by_type[SLM_TYPE_BF16].dot = avx2_dot_bf16_bf16;
    k->by_type[SLM_TYPE_Q8_0].prepare = avx2_prepare_q8_0;
    k->by_type[SLM_TYPE_Q8_0].dot = avx2_dot_q8_0_q8_0;
    k->by_type[SLM_TYPE_Q4_0].prepare = avx2_prepare_q8_0;
    k->by_type[SLM_TYPE_Q4_0].dot = avx2_dot_q4_0_q8_0;
    slmrt_kquant_init_avx2(k);
    k->dot_f32 = avx2_dot_f32;
    k->axpy_f32 = avx2_axpy_f32;
    k->dot_f32_cols = avx2_dot_f32_cols;
}
