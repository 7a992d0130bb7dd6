/* slmrt_kquant_unpack_x86.h - K-quant weights as unsigned bytes in element
 * order (formats.md §2.1), 32 at a time in a 256-bit register: shared by
 * the dots (slmrt_kquant_x86.h) and the GEMM panels
 * (slmrt_gemm_kquant_avx512.c). Include from files compiled with at least
 * -mavx2. */
#ifndef SLMRT_KQUANT_UNPACK_X86_H
#define SLMRT_KQUANT_UNPACK_X86_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

/* Q4_K/Q5_K chunk c of 64 elements: sub-block 2c (lo) in the low nibbles of
 * qs[32c..32c+31], 2c+1 (hi) in the high ones; for Q5_K (hbits = its 32 qh
 * bytes) bit 2c of qh[l] becomes bit 4 of element l of lo, bit 2c+1 of hi. */
static inline void slmrt_kq_k4_chunk(const uint8_t *qs, __m256i hbits, int c, bool five_bits, __m256i *lo,
                                     __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
    *lo = _mm256_and_si256(v, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if (five_bits) {
        const __m256i bit = _mm256_set1_epi8(0x10);
        *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c), 4), bit));
        *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c + 1), 4), bit));
    }
}

/* Q6_K half h (elements 128h..128h+127) as four runs of 32 (0..63, the
 * stored q + 32): with L = ql + 64h and H = qh + 32h, L[0..31] low nibbles,
 * L[32..63] low, L[0..31] high, L[32..63] high, the top two bits from H at
 * shifts 0, 2, 4, 6. */
static inline void slmrt_kq_q6_k_runs(const uint8_t *ql, const uint8_t *qh, int h, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h));
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32));
    const __m256i hb = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
    /* 16-bit shifts carry bits across bytes; the 0x30 mask keeps only the
     * two that belong to each byte */
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2));
}

#endif
