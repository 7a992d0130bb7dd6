/* slmrt_kquant_x86.h - Q4_K, Q5_K and Q6_K dots against Q8_K rows, shared
 * by slmrt_kquant_avx2.c and slmrt_kquant_avx512.c. Each includes it once
 * after defining SLMRT_KQ_VNNI (1: accumulate int16 pairs times int16 scales
 * with vpdpwssd, AVX512_VNNI; 0: vpmaddwd then vpaddd) and SLMRT_KQ_NAME(x)
 * (the suffix of the exported functions).
 *
 * Per super-block of 256 the integer sums are exactly the scalar
 * reference's (slmrt_kernels_scalar_q.c): Σ_j sc_j·Σ q·x over the
 * sub-blocks and Σ_j m_j·Σ x from Q8_K's bsums; the float step
 * (d_x·d)·isum − (d_x·dmin)·msum is the same expression, so these kernels
 * return the scalar reference's bits. Weight quants are unsigned (Q6_K's −32
 * moves into the bsums term), so vpmaddubsw multiplies them with the int8
 * activations: pair sums stay within int16 (63·127·2 at most). */
#ifndef SLMRT_KQUANT_X86_H
#define SLMRT_KQUANT_X86_H

#include <immintrin.h>
#include <string.h>

#include "slmrt_kernels_impl.h"
#include "slmrt_kernels_x86.h"

#if SLMRT_KQ_VNNI
#define SLMRT_KQ_DOT16(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#else
#define SLMRT_KQ_DOT16(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#endif

/* A product the compiler must round on its own: this file is built with
 * -mfma, and a fused a*b - c*d would round differently from the scalar
 * reference. */
static inline float kq_rounded(float v) {
    __asm__("" : "+x"(v));
    return v;
}

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

/* The 8 six-bit scales and 8 mins of a Q4_K/Q5_K block (formats.md §2.1) as
 * bytes sc0..sc7 then m0..m7, unpacked with 32-bit masks as ggml does. */
static inline void kq_k4_scales(const uint8_t packed[12], uint8_t out[16]) {
    uint32_t u[4];
    memcpy(u, packed, 12);
    const uint32_t kmask1 = 0x3f3f3f3fu, kmask2 = 0x0f0f0f0fu, kmask3 = 0x03030303u;
    u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
    const uint32_t mins_lo = u[1] & kmask1;
    u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    u[2] = mins_lo;
    u[0] &= kmask1;
    memcpy(out, u, 16);
}

/* Σ_j m_j·(bsum_2j + bsum_2j+1) of a Q4_K/Q5_K block, mins at bytes 8..15. */
static inline int32_t kq_k4_min_sum(const uint8_t scales_mins[16], const slm_block_q8_k *x) {
    const __m128i m = _mm_loadl_epi64((const __m128i *)(scales_mins + 8));
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m)); /* m0 m0 m1 m1 ... */
    return slmrt_x86_hsum_epi32(_mm256_madd_epi16(kq_q8k_bsums(x), m16));
}

/* Q4_K and Q5_K: chunk c of 64 elements holds sub-block 2c in the low
 * nibbles and 2c+1 in the high ones (Q5_K's fifth bit from qh bit 2c/2c+1). */
static SLMRT_ALWAYS_INLINE float kq_dot_k4(int n, const uint8_t *w, size_t w_size, const slm_block_q8_k *x,
                                          bool five_bits) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    float sum = 0.0f;
    for (int b = 0; b < n / SLM_QK_K; b++, w += w_size, x++) {
        _mm_prefetch((const char *)w + 4 * w_size, _MM_HINT_T0);
        _mm_prefetch((const char *)w + 4 * w_size + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)w + 4 * w_size + 128, _MM_HINT_T0);
        /* Q4_K: d dmin scales[12] qs[128]; Q5_K: d dmin scales[12] qh[32] qs[128] */
        const uint8_t *scales = w + 4, *qs = w + (five_bits ? 48 : 16), *qh = w + 16;
        uint8_t sm[16];
        kq_k4_scales(scales, sm);
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sm)));
        const __m256i hbits = five_bits ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (five_bits) {
                /* bit 2c of qh[l] to bit 4 of element l, bit 2c+1 to element 32+l */
                const __m256i bit = _mm256_set1_epi8(0x10);
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c), 4), bit));
                hi = _mm256_or_si256(hi,
                                     _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c + 1), 4), bit));
            }
            const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * c)));
            const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * c + 32)));
            acc = SLMRT_KQ_DOT16(acc, plo, _mm256_shuffle_epi8(sc16, kq_bcast16_mask(2 * c)));
            acc = SLMRT_KQ_DOT16(acc, phi, _mm256_shuffle_epi8(sc16, kq_bcast16_mask(2 * c + 1)));
        }
        const int32_t isum = slmrt_x86_hsum_epi32(acc), msum = kq_k4_min_sum(sm, x);
        const float dx = kq_q8k_d(x);
        sum += kq_rounded((dx * kq_load_f16(w)) * (float)isum) - kq_rounded((dx * kq_load_f16(w + 2)) * (float)msum);
    }
    return sum;
}

/* Q6_K: for half h, L = ql + 64h, H = qh + 32h; the four 32-element runs are
 * L[0..31] low nibbles, L[32..63] low, L[0..31] high, L[32..63] high, with
 * the top two bits from H at shifts 0, 2, 4, 6 (formats.md §2.1). The stored
 * quant is q+32 (0..63); the −32 is applied as −32·Σ_j sc_j·bsum_j. */
static SLMRT_ALWAYS_INLINE float kq_dot_q6_k(int n, const uint8_t *w, const slm_block_q8_k *x) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    float sum = 0.0f;
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
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
            /* 16-bit shifts carry bits across bytes; the 0x30 mask keeps
             * only the two that belong to each byte */
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2)),
                _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2)),
            };
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
        const int32_t raw = slmrt_x86_hsum_epi32(acc);
        const int32_t offset = slmrt_x86_hsum_epi32(_mm256_madd_epi16(kq_q8k_bsums(x), sc_all));
        const int32_t isum = raw - 32 * offset;
        /* the scalar reference subtracts (d_x·0)·0 here, which changes nothing */
        sum += kq_rounded((kq_q8k_d(x) * kq_load_f16(w + 208)) * (float)isum);
    }
    return sum;
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
