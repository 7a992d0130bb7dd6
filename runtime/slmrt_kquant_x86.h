/* slmrt_kquant_x86.h - Q4_K, Q5_K and Q6_K dots against Q8_K rows, shared
 * by slmrt_kquant_avx2.c and slmrt_kquant_avx512.c. Each includes it once
 * after defining SLMRT_KQ_VNNI (1: accumulate int16 pairs times int16 scales
 * with vpdpwssd, AVX512_VNNI; 0: vpmaddwd then vpaddd) and SLMRT_KQ_NAME(x)
 * (the suffix of the exported functions).
 *
 * Per super-block of 256 the integer sums are exact, as in the scalar
 * reference (slmrt_kernels_scalar_q.c): Σ_j sc_j·Σ q·x over the sub-blocks
 * and Σ_j m_j·Σ x from Q8_K's bsums, here spread over 8 int32 lanes; each
 * lane is scaled by d_x·d (d_x·dmin) and summed in float across super-blocks,
 * a different float order from the reference's (tests compare within
 * rounding). Weight quants are unsigned (Q6_K's −32
 * moves into the bsums term), so vpmaddubsw multiplies them with the int8
 * activations: pair sums stay within int16 (63·127·2 at most). */
#ifndef SLMRT_KQUANT_X86_H
#define SLMRT_KQUANT_X86_H

#include <immintrin.h>
#include <string.h>

#include "slmrt_kernels_impl.h"
#include "slmrt_kernels_x86.h"
#include "slmrt_kquant_unpack_x86.h"

#if SLMRT_KQ_VNNI
#define SLMRT_KQ_DOT16(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#else
#define SLMRT_KQ_DOT16(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#endif

static inline float kq_load_f16(const uint8_t *p) { return _cvtsh_ss(slmrt_load_u16le(p)); }

static inline float kq_q8k_d(const slm_block_q8_k *x) {
    float d;
    memcpy(&d, (const uint8_t *)x + offsetof(slm_block_q8_k, d), sizeof d);
    return d;
}

static inline __m256i kq_q8k_bsums(const slm_block_q8_k *x) {
    return _mm256_loadu_si256((const __m256i *)((const uint8_t *)x + offsetof(slm_block_q8_k, bsums)));
}

/* Byte-shuffle masks that broadcast int16 element j of a 128-bit lane to
 * the whole lane. */
static inline __m256i kq_bcast16_mask(int j) {
    const short lo = (short)((2 * j) | (2 * j + 1) << 8);
    return _mm256_set1_epi16(lo);
}

/* The 8 six-bit scales and 8 mins of a Q4_K/Q5_K block (formats.md §2.1)
 * as bytes sc0..sc7 then m0..m7. With the 12 packed bytes as 32-bit words
 * u0 u1 u2: sc0-3 = u0 & 0x3f.., sc4-7 = (u2 & 0x0f..) | (u0 >> 6 & 3..) << 4,
 * m0-3 = u1 & 0x3f.., m4-7 = (u2 >> 4 & 0x0f..) | (u1 >> 6 & 3..) << 4. In
 * registers: going through memory (four 32-bit stores read back as one
 * 128-bit load) stalls store forwarding. `packed` may be read 16 bytes
 * wide (the quants follow it in the block). */
static inline __m128i kq_k4_scales(const uint8_t *packed) {
    const __m128i v = _mm_loadu_si128((const __m128i *)packed);
    const __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)); /* u0 u2 u1 u2 */
    const __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0)); /* u0 u0 u1 u1 */
    const __m128i low6 = _mm_and_si128(a, _mm_set1_epi32(0x3f3f3f3f));
    const __m128i nib = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)), _mm_set1_epi32(0x0f0f0f0f));
    const __m128i top2 = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(b, 6), _mm_set1_epi32(0x03030303)), 4);
    return _mm_blend_epi32(low6, _mm_or_si128(nib, top2), 0xA);
}

/* m_j·(bsum_2j + bsum_2j+1) of a Q4_K/Q5_K block in 8 int32 lanes, mins in
 * bytes 8..15 of sm. */
static inline __m256i kq_k4_min_sums(__m128i sm, const slm_block_q8_k *x) {
    const __m128i m = _mm_unpackhi_epi64(sm, sm);
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m)); /* m0 m0 m1 m1 ... */
    return _mm256_madd_epi16(kq_q8k_bsums(x), m16);
}

/* Q4_K and Q5_K: chunk c of 64 elements holds sub-block 2c in the low
 * nibbles and 2c+1 in the high ones (Q5_K's fifth bit from qh bit 2c/2c+1). */
static SLMRT_ALWAYS_INLINE float kq_dot_k4(int n, const uint8_t *w, size_t w_size, const slm_block_q8_k *x,
                                          bool five_bits) {
    __m256 fsum = _mm256_setzero_ps();
    for (int b = 0; b < n / SLM_QK_K; b++, w += w_size, x++) {
        _mm_prefetch((const char *)w + 4 * w_size, _MM_HINT_T0);
        _mm_prefetch((const char *)w + 4 * w_size + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)w + 4 * w_size + 128, _MM_HINT_T0);
        /* Q4_K: d dmin scales[12] qs[128]; Q5_K: d dmin scales[12] qh[32] qs[128] */
        const uint8_t *scales = w + 4, *qs = w + (five_bits ? 48 : 16), *qh = w + 16;
        const __m128i sm = kq_k4_scales(scales);
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const __m256i hbits = five_bits ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        /* two accumulators: one chain of 8 dependent vpdpwssd was the
         * bottleneck */
        __m256i acc = _mm256_setzero_si256(), acc_hi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i lo, hi;
            slmrt_kq_k4_chunk(qs, hbits, c, five_bits, &lo, &hi);
            const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * c)));
            const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * c + 32)));
            acc = SLMRT_KQ_DOT16(acc, plo, _mm256_shuffle_epi8(sc16, kq_bcast16_mask(2 * c)));
            acc_hi = SLMRT_KQ_DOT16(acc_hi, phi, _mm256_shuffle_epi8(sc16, kq_bcast16_mask(2 * c + 1)));
        }
        /* the 8 lanes of the exact integer sums go to float as they are:
         * two horizontal sums per super-block cost a fifth of the loop */
        const float dx = kq_q8k_d(x);
        const __m256 d = _mm256_set1_ps(dx * kq_load_f16(w)), dmin = _mm256_set1_ps(dx * kq_load_f16(w + 2));
        fsum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, acc_hi)), d, fsum);
        fsum = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(kq_k4_min_sums(sm, x)), dmin, fsum);
    }
    return slmrt_x86_hsum_ps(fsum);
}

/* Q6_K: for half h, L = ql + 64h, H = qh + 32h; the four 32-element runs are
 * L[0..31] low nibbles, L[32..63] low, L[0..31] high, L[32..63] high, with
 * the top two bits from H at shifts 0, 2, 4, 6 (formats.md §2.1). The stored
 * quant is q+32 (0..63); the −32 is applied as −32·Σ_j sc_j·bsum_j. */
static SLMRT_ALWAYS_INLINE float kq_dot_q6_k(int n, const uint8_t *w, const slm_block_q8_k *x) {
    __m256 fsum = _mm256_setzero_ps();
    for (int b = 0; b < n / SLM_QK_K; b++, w += sizeof(slm_block_q6_k), x++) {
        _mm_prefetch((const char *)w + 4 * sizeof(slm_block_q6_k), _MM_HINT_T0);
        _mm_prefetch((const char *)w + 4 * sizeof(slm_block_q6_k) + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)w + 4 * sizeof(slm_block_q6_k) + 128, _MM_HINT_T0);
        _mm_prefetch((const char *)w + 4 * sizeof(slm_block_q6_k) + 192, _MM_HINT_T0);
        const uint8_t *ql = w, *qh = w + 128;
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)(w + 192)); /* int8 scales */
        const __m256i sc_all = _mm256_cvtepi8_epi16(sc8);                 /* sc0..sc15 */
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q[4];
            slmrt_kq_q6_k_runs(ql, qh, h, q);
            /* scales of this half, sc[8h..8h+7], in both 128-bit lanes */
            const __m256i sc_h = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc_all, 1)
                                                               : _mm256_castsi256_si128(sc_all));
            for (int k = 0; k < 4; k++) {
                const __m256i p =
                    _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)(x->qs + 128 * h + 32 * k)));
                /* elements 0..15 of the run (low lane) use sub-block 2k of
                 * the half, 16..31 (high lane) sub-block 2k+1 */
                const __m256i scv = _mm256_shuffle_epi8(
                    sc_h, _mm256_set_m128i(_mm256_castsi256_si128(kq_bcast16_mask(2 * k + 1)),
                                           _mm256_castsi256_si128(kq_bcast16_mask(2 * k))));
                acc = SLMRT_KQ_DOT16(acc, p, scv);
            }
        }
        const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(kq_q8k_bsums(x), sc_all), 5);
        const __m256 d = _mm256_set1_ps(kq_q8k_d(x) * kq_load_f16(w + 208));
        fsum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc, offset)), d, fsum);
    }
    return slmrt_x86_hsum_ps(fsum);
}

static float SLMRT_KQ_NAME(slmrt_kq_dot_q4_k)(int n, const void *w_row, const void *x_prepared) {
    return kq_dot_k4(n, w_row, sizeof(slm_block_q4_k), x_prepared, false);
}

static float SLMRT_KQ_NAME(slmrt_kq_dot_q5_k)(int n, const void *w_row, const void *x_prepared) {
    return kq_dot_k4(n, w_row, sizeof(slm_block_q5_k), x_prepared, true);
}

static float SLMRT_KQ_NAME(slmrt_kq_dot_q6_k)(int n, const void *w_row, const void *x_prepared) {
    return kq_dot_q6_k(n, w_row, x_prepared);
}

#endif
