/* slmrt_kernels_avx512.c - the AVX-512 table (F + BW + VL, and DQ because
 * the file is compiled with it; this file alone gets AVX-512 flags, see
 * CMakeLists.txt). It starts from the AVX2 table and replaces only what is
 * faster here, measured on Zen 4 (where 512-bit operations are split in
 * two, so plain 512-bit FMA and maddubs loops gain nothing and F16's
 * 512-bit conversion is slower than AVX2's):
 * - prepare of F16, BF16 and Q8_0 rows (16 lanes, masked tails);
 * - with AVX512_BF16: the BF16 dot with vdpbf16ps (about 3x the AVX2 one);
 * - with AVX512_VNNI: the Q8_0 and Q4_0 dots with vpdpbusd, on 256-bit
 *   registers (EVEX, AVX512VL): as fast as a 512-bit version on Zen 4,
 *   where the 512-bit one spends its gain on pairing blocks into registers.
 * VNNI and BF16 are separate CPU features; without them the table keeps
 * the AVX2 kernels, so an AVX-512 CPU without them (Skylake-X) still gets
 * it. The variants without an extension contain none of its instructions
 * (checked by disassembly when this file was written, since the file's
 * flags would allow the compiler to emit them).
 *
 * Agreement with the scalar reference is as for AVX2 (slmrt_kernels_avx2.c):
 * identical prepared bytes, exact per-block integer sums, float results
 * that differ only in summation order. vdpbf16ps treats subnormal inputs
 * and results as zero; BF16 products of ordinary activations and weights
 * are far from that range. */
#include <immintrin.h>
#include <string.h>

#include "slmrt_kernels.h"
#include "slmrt_kernels_impl.h"
#include "slmrt_kernels_x86.h"

/* --------------------------------------------------------------- helpers */

/* Mask of the first `count` lanes (count below the lane count): tails are
 * read and written with masked moves, which do not touch memory past the
 * row. */
static inline __mmask16 avx512_mask16(int count) { return (__mmask16)((1u << count) - 1u); }
static inline __mmask32 avx512_mask32(int count) { return (__mmask32)((1u << count) - 1u); }

static inline void avx512_store_u16le(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

/* ------------------------------------------------------------ BF16 dot */

/* BF16 with vdpbf16ps: 32 pairs per instruction, two products per f32
 * lane. Products of two bf16 values are exact in f32. */
static float avx512_dot_bf16_bf16_dp(int n, const void *w_row, const void *x_prepared) {
    const uint8_t *w = w_row, *x = x_prepared;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
#define SLMRT_BF16X32(p) ((__m512bh)_mm512_loadu_si512(p))
    int i = 0;
    for (; i + 128 <= n; i += 128) {
        acc0 = _mm512_dpbf16_ps(acc0, SLMRT_BF16X32(w + 2 * i), SLMRT_BF16X32(x + 2 * i));
        acc1 = _mm512_dpbf16_ps(acc1, SLMRT_BF16X32(w + 2 * (i + 32)), SLMRT_BF16X32(x + 2 * (i + 32)));
        acc2 = _mm512_dpbf16_ps(acc2, SLMRT_BF16X32(w + 2 * (i + 64)), SLMRT_BF16X32(x + 2 * (i + 64)));
        acc3 = _mm512_dpbf16_ps(acc3, SLMRT_BF16X32(w + 2 * (i + 96)), SLMRT_BF16X32(x + 2 * (i + 96)));
    }
    for (; i + 32 <= n; i += 32) acc0 = _mm512_dpbf16_ps(acc0, SLMRT_BF16X32(w + 2 * i), SLMRT_BF16X32(x + 2 * i));
#undef SLMRT_BF16X32
    if (i < n) {
        /* Zeroed lanes contribute 0*0. */
        const __mmask32 m = avx512_mask32(n - i);
        acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_maskz_loadu_epi16(m, w + 2 * i),
                                (__m512bh)_mm512_maskz_loadu_epi16(m, x + 2 * i));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

/* ------------------------------------------------------------- prepare */

/* copysign on the bits (integer intrinsics: the _ps forms are AVX512DQ
 * only, and nothing here needs more than F to be expressed). */
static inline __m512 avx512_copysign_bits(__m512 magnitude, __m512 sign_of) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    return _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(magnitude), _mm512_and_si512(_mm512_castps_si512(sign_of), sign)));
}

/* As avx2_prepare_f16: NaN lanes become the reference's canonical quiet
 * NaN (0x7FC00000 converts to 0x7E00) before vcvtps2ph. */
static inline __m256i avx512_f16x16_from_ps(__m512 v) {
    const __mmask16 is_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512 quiet_nan = avx512_copysign_bits(_mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)), v);
    v = _mm512_mask_mov_ps(v, is_nan, quiet_nan);
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static void avx512_prepare_f16(const float *x, void *out, int n) {
    uint8_t *y = out;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + 2 * i), avx512_f16x16_from_ps(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = avx512_mask16(n - i);
        _mm256_mask_storeu_epi16(y + 2 * i, m, avx512_f16x16_from_ps(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* ggml's f32 -> bf16 on the integer bits (formats.md §2). vcvtneps2bf16
 * is not used: it flushes subnormal inputs to zero, the reference does not. */
static inline __m256i avx512_bf16x16_from_ps(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    const __mmask16 is_nan =
        _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
    const __m512i quieted = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(r, is_nan, quieted));
}

static void avx512_prepare_bf16(const float *x, void *out, int n) {
    uint8_t *y = out;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + 2 * i), avx512_bf16x16_from_ps(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = avx512_mask16(n - i);
        _mm256_mask_storeu_epi16(y + 2 * i, m, avx512_bf16x16_from_ps(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* roundf of each lane, then the low byte of the int32 (see
 * avx2_roundf_epi32 for why each step matches the reference). */
static inline __m128i avx512_roundf_low_bytes(__m512 v) {
    __asm__("" : "+v"(v)); /* no fused multiply-subtract across the product */
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 away = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    t = _mm512_mask_add_ps(t, away, t, avx512_copysign_bits(_mm512_set1_ps(1.0f), v));
    /* vpmovdb truncates: exactly the low byte the reference's cast keeps. */
    return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(t));
}

/* The Q8_0 reference rule, as avx2_prepare_q8_0 (NaN blocks go to the
 * reference encoder). */
static void avx512_prepare_q8_0(const float *x, void *out, int n) {
    slmrt_block_q8_0 *y = out;
    const int nb = n / SLMRT_QK8_0;
    for (int b = 0; b < nb; b++) {
        const float *xb = x + b * SLMRT_QK8_0;
        const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
        if (_mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q)) {
            slm_type_traits_get(SLM_TYPE_Q8_0)->from_f32(xb, &y[b], SLMRT_QK8_0);
            continue;
        }
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        avx512_store_u16le(y[b].d, slm_f32_to_f16(d));
        const __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128((__m128i *)y[b].qs, avx512_roundf_low_bytes(_mm512_mul_ps(v0, vid)));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), avx512_roundf_low_bytes(_mm512_mul_ps(v1, vid)));
    }
    slmrt_q8_prep_finish(out, n);
}

/* ggml's quantize_row_q8_K_ref (slm_quantize_row_q8_k_ref) 16 lanes at a
 * time, to the byte: the first element of largest magnitude sets the scale
 * -127/x, nearest_int's 1.5*2^23 trick rounds, bsums add the quants as
 * stored. NaN blocks go to the reference encoder. */
static void avx512_prepare_q8_k(const float *x, void *out, int n) {
    slm_block_q8_k *y = out;
    const int nb = n / SLM_QK_K;
    for (int b = 0; b < nb; b++) {
        const float *xb = x + (size_t)b * SLM_QK_K;
        __m512 v[16], amax_v = _mm512_setzero_ps();
        __mmask16 nan = 0;
        for (int c = 0; c < 16; c++) {
            v[c] = _mm512_loadu_ps(xb + 16 * c);
            nan |= _mm512_cmp_ps_mask(v[c], v[c], _CMP_UNORD_Q);
            amax_v = _mm512_max_ps(amax_v, _mm512_abs_ps(v[c]));
        }
        if (nan) {
            slm_type_traits_get(SLM_TYPE_Q8_K)->from_f32(xb, &y[b], SLM_QK_K);
            continue;
        }
        const float amax = _mm512_reduce_max_ps(amax_v);
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        float max = 0.0f;
        for (int c = 0; c < 16; c++) {
            const __mmask16 at = _mm512_cmp_ps_mask(_mm512_abs_ps(v[c]), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (at) {
                max = xb[16 * c + __builtin_ctz(at)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 vis = _mm512_set1_ps(iscale), magic = _mm512_set1_ps(12582912.f);
        int16_t bsums[16];
        for (int c = 0; c < 16; c++) {
            const __m512i bits = _mm512_castps_si512(_mm512_add_ps(_mm512_mul_ps(vis, v[c]), magic));
            __m512i q = _mm512_sub_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                         _mm512_set1_epi32(0x00400000));
            q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
            const __m128i q8 = _mm512_cvtepi32_epi8(q); /* wraps as the reference's (int8_t) cast */
            _mm_storeu_si128((__m128i *)(y[b].qs + 16 * c), q8);
            bsums[c] = (int16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(q8));
        }
        memcpy(y[b].bsums, bsums, sizeof bsums);
        y[b].d = 1 / iscale;
    }
}

/* ------------------------------------------------------ quantized dots */

/* Q8_0 with vpdpbusd (u8 × s8, four products per int32 lane, no
 * saturation): |w| (exact as unsigned, even for -128) times x carrying w's
 * sign; x is in -127..127 as the reference encoder writes it. */
static inline __m256i avx512_block_dot_q8_0_vnni(const uint8_t *w_block, const uint8_t *x_block) {
    const __m256i w = _mm256_loadu_si256((const __m256i *)((const slmrt_block_q8_0 *)w_block)->qs);
    const __m256i x = _mm256_loadu_si256((const __m256i *)((const slmrt_block_q8_0 *)x_block)->qs);
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

/* One Q4_0 block with vpdpbusd (row tails): q·x - 8·x, q the unsigned nibble. */
static inline __m256i avx512_block_dot_q4_0_vnni(const uint8_t *w_block, const uint8_t *x_block) {
    const __m256i q = slmrt_x86_q4_0_nibbles((const slmrt_block_q4_0 *)w_block);
    const __m256i x = _mm256_loadu_si256((const __m256i *)((const slmrt_block_q8_0 *)x_block)->qs);
    return _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), q, x),
                            _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), x));
}

/* The fp16 scales of 8 consecutive Q4_0 blocks (18 bytes apart: words 0, 9,
 * ..., 63 of the 128 bytes from the first) with one two-source word
 * permute, in place of 8 scalar loads and inserts. The 128 bytes lie within
 * the 8 blocks (144 bytes). */
static inline __m256 avx512_q4_0_scales_x8(const uint8_t *wb) {
    const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 63,
                                         54, 45, 36, 27, 18, 9, 0);
    const __m512i d = _mm512_permutex2var_epi16(_mm512_loadu_si512(wb), idx, _mm512_loadu_si512(wb + 64));
    return _mm256_cvtph_ps(_mm512_castsi512_si128(d));
}

/* Q4_0 · Q8_0 with vpdpbusd, 8 blocks at a time, as avx2_dot_q4_0_q8_0
 * (the same exact block sums and float order): 1.6x the one-block-at-a-
 * time loop in L2 on Zen 4 (2.8 cycles a block, was 4.5). */
static float avx512_dot_q4_0_q8_0_vnni(int n, const void *w_row, const void *x_prepared) {
    const int nb = n / SLMRT_QK4_0;
    const uint8_t *w = w_row, *x = x_prepared;
    const slmrt_q8_prep l = slmrt_q8_prep_layout(n);
    const float *xd = (const float *)(x + l.d_off);
    const int32_t *xsum = (const int32_t *)(x + l.sum_off);
    const uint8_t *pairs = x + l.pairs_off;
    const size_t w_size = sizeof(slmrt_block_q4_0);
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
            const __m256i t =
                _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, _mm256_loadu_si256((const __m256i *)(xp + 64 * p)));
            s[p] = _mm256_dpbusd_epi32(t, hi, _mm256_loadu_si256((const __m256i *)(xp + 64 * p + 32)));
        }
        const __m256i eight_sum = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(xsum + b)), 3);
        const __m256i sumi = _mm256_sub_epi32(slmrt_x86_hsum_pairs_x4(s), eight_sum);
        const __m256 scale = _mm256_mul_ps(avx512_q4_0_scales_x8(wb), _mm256_loadu_ps(xd + b));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), scale, acc);
    }
    float sum = slmrt_x86_hsum_ps(acc);
    for (; b < nb; b++) {
        const uint8_t *wb = w + (size_t)b * w_size, *xb = x + (size_t)b * sizeof(slmrt_block_q8_0);
        sum += (float)slmrt_x86_hsum_epi32(avx512_block_dot_q4_0_vnni(wb, xb)) * (slmrt_x86_load_f16(wb) * xd[b]);
    }
    return sum;
}

static float avx512_dot_q8_0_q8_0_vnni(int n, const void *w_row, const void *x_prepared) {
    return slmrt_x86_dot_blocks(n / SLMRT_QK8_0, w_row, sizeof(slmrt_block_q8_0), x_prepared,
                                avx512_block_dot_q8_0_vnni);
}


/* ------------------------------------------------------ dot_f32_cols */

#define COLS_V __m512
#define COLS_W 16
#define COLS_MAXQ 4 /* 16 accumulators and the tree's partial sums in 32 registers */
#define COLS_LOAD(p) _mm512_loadu_ps(p)
#define COLS_SET1(f) _mm512_set1_ps(f)
#define COLS_ZERO() _mm512_setzero_ps()
#define COLS_ADD(a, b) _mm512_add_ps(a, b)
#define COLS_MUL(a, b) _mm512_mul_ps(a, b)
#define COLS_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define COLS_STORE(p, v, n) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1u), v)
#define COLS_NAME avx512_dot_f32_cols
#include "slmrt_cols_x86.h"

void slmrt_kernels_init_avx512_with(slmrt_kernels *k, bool use_vnni, bool use_bf16) {
    slmrt_kernels_init_avx2(k);
    k->isa = SLMRT_ISA_AVX512;
    k->by_type[SLM_TYPE_F16].prepare = avx512_prepare_f16;
    k->by_type[SLM_TYPE_BF16].prepare = avx512_prepare_bf16;
    k->by_type[SLM_TYPE_Q8_0].prepare = avx512_prepare_q8_0;
    k->by_type[SLM_TYPE_Q4_0].prepare = avx512_prepare_q8_0;
    for (int t = 0; t < SLM_TYPE_COUNT; t++)
        if (k->by_type[t].partner == SLM_TYPE_Q8_K && k->by_type[t].prepare) k->by_type[t].prepare = avx512_prepare_q8_k;
    k->dot_f32_cols = avx512_dot_f32_cols;
    if (use_bf16) k->by_type[SLM_TYPE_BF16].dot = avx512_dot_bf16_bf16_dp;
    if (use_vnni) {
        k->by_type[SLM_TYPE_Q8_0].dot = avx512_dot_q8_0_q8_0_vnni;
        k->by_type[SLM_TYPE_Q4_0].dot = avx512_dot_q4_0_q8_0_vnni;
        slmrt_kquant_init_avx512_vnni(k);
    }
}

void slmrt_kernels_init_avx512(slmrt_kernels *k) {
    const slmrt_cpu *c = slmrt_cpu_get();
    slmrt_kernels_init_avx512_with(k, c->avx512_vnni, c->avx512_bf16);
}
