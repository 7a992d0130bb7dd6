/* slmrt_gemm_avx512.h - what the AVX-512 GEMM files share (compiled with
 * the AVX-512 flags only): the 32-row panel of int8 blocks and the helpers
 * that pack and store it. */
#ifndef SLMRT_GEMM_AVX512_H
#define SLMRT_GEMM_AVX512_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define A5_P 32                  /* rows per panel */
#define A5_QBLOCK (8 * A5_P * 4) /* quantized panel bytes per 32-column block: 1 KiB */

static inline int32_t a5_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Rows [base, base+16) that are below n_rows. */
static inline __mmask16 a5_row_mask(int base, int n_rows) {
    const int n = n_rows - base;
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* Writes 16 rows of one token: y (+)= v (+ bias). */
static inline void a5_store(float *y, __m512 v, int base, int n_rows, bool first, const float *bias) {
    const __mmask16 m = a5_row_mask(base, n_rows);
    if (!m) return;
    if (!first) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y), v);
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias));
    _mm512_mask_storeu_ps(y, m, v);
}

/* The 8 dwords of each of 16 rows (R[i], 32 bytes) transposed: dst + 128*g
 * receives dword g of rows 0..15 (64 bytes). Two 8x8 transposes side by
 * side, rows 0-7 in the low halves and 8-15 in the high halves. */
static inline void a5_transpose16x8(const __m256i R[16], uint8_t *dst) {
    __m512i Z[8];
    for (int i = 0; i < 8; i++) Z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(R[i]), R[i + 8], 1);
    const __m512i t0 = _mm512_unpacklo_epi32(Z[0], Z[1]), t1 = _mm512_unpackhi_epi32(Z[0], Z[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(Z[2], Z[3]), t3 = _mm512_unpackhi_epi32(Z[2], Z[3]);
    const __m512i t4 = _mm512_unpacklo_epi32(Z[4], Z[5]), t5 = _mm512_unpackhi_epi32(Z[4], Z[5]);
    const __m512i t6 = _mm512_unpacklo_epi32(Z[6], Z[7]), t7 = _mm512_unpackhi_epi32(Z[6], Z[7]);
    /* per 128-bit lane: dword g (lanes 0, 2) or g+4 (lanes 1, 3) of 4 rows */
    const __m512i u[8] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                          _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3),
                          _mm512_unpacklo_epi64(t4, t6), _mm512_unpackhi_epi64(t4, t6),
                          _mm512_unpacklo_epi64(t5, t7), _mm512_unpackhi_epi64(t5, t7)};
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int g = 0; g < 4; g++) {
        _mm512_storeu_si512(dst + 128 * g, _mm512_permutex2var_epi64(u[g], lo, u[g + 4]));
        _mm512_storeu_si512(dst + 128 * (g + 4), _mm512_permutex2var_epi64(u[g], hi, u[g + 4]));
    }
}

#endif
