/* slmrt_kernels_x86.h - AVX2-level building blocks shared by
 * slmrt_kernels_avx2.c and slmrt_kernels_avx512.c. Include it only from
 * files compiled with at least -mavx2 -mfma -mf16c: everything here is
 * static inline and compiles to those instructions. */
#ifndef SLMRT_KERNELS_X86_H
#define SLMRT_KERNELS_X86_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "slmrt_kernels_impl.h"

#define SLMRT_ALWAYS_INLINE inline __attribute__((always_inline))

static inline float slmrt_x86_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The end of ggml's float dot products in its AVX-512 build (the build the
 * reference logits come from; see slmrt_kernels_scalar.c): four 16-lane
 * accumulators, each held here as two 8-lane halves (lo = lanes 0..7, hi =
 * lanes 8..15), are added pairwise (0+2, 1+3, then those two), and the 16
 * lanes go through _mm512_reduce_add_ps's tree: lane i + lane i+8, then
 * i + i+4, i + i+2, i + i+1. hsum_ps of lo+hi is exactly the last three
 * steps. The arrays are clobbered. */
static inline float slmrt_x86_ggml_reduce(__m256 lo[4], __m256 hi[4]) {
    lo[0] = _mm256_add_ps(lo[0], lo[2]);
    hi[0] = _mm256_add_ps(hi[0], hi[2]);
    lo[1] = _mm256_add_ps(lo[1], lo[3]);
    hi[1] = _mm256_add_ps(hi[1], hi[3]);
    lo[0] = _mm256_add_ps(lo[0], lo[1]);
    hi[0] = _mm256_add_ps(hi[0], hi[1]);
    return slmrt_x86_hsum_ps(_mm256_add_ps(lo[0], hi[0]));
}

static inline int32_t slmrt_x86_hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* Lane k of the result is the sum of the 8 lanes of v[k]: one block total
 * per lane, so that each block's integer sum is exact before it meets its
 * float scale. */
static inline __m256i slmrt_x86_hsum_epi32_x8(const __m256i v[8]) {
    const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]);
    const __m256i h23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]);
    const __m256i h67 = _mm256_hadd_epi32(v[6], v[7]);
    /* Per 128-bit half: [v0 v1 v2 v3] partial sums of that half. */
    const __m256i h0123 = _mm256_hadd_epi32(h01, h23);
    const __m256i h4567 = _mm256_hadd_epi32(h45, h67);
    const __m256i lo = _mm256_permute2x128_si256(h0123, h4567, 0x20);
    const __m256i hi = _mm256_permute2x128_si256(h0123, h4567, 0x31);
    return _mm256_add_epi32(lo, hi);
}

static inline float slmrt_x86_load_f16(const uint8_t *p) { return _cvtsh_ss(slmrt_load_u16le(p)); }

/* d_w*d_x of 8 consecutive blocks whose fp16 scale is their first two
 * bytes. The scales go straight into a register: staging them in a
 * uint16_t array stalls on store forwarding (8 narrow stores read back by
 * one wide load), which cost more than the products (measured), and an
 * AVX2 gather was slower still. */
static inline __m256 slmrt_x86_scales_x8(const uint8_t *w, size_t w_size, const uint8_t *x, size_t x_size) {
#define SLMRT_D(p, size, k) (short)slmrt_load_u16le((p) + (k) * (size))
    const __m128i hw = _mm_setr_epi16(SLMRT_D(w, w_size, 0), SLMRT_D(w, w_size, 1), SLMRT_D(w, w_size, 2),
                                      SLMRT_D(w, w_size, 3), SLMRT_D(w, w_size, 4), SLMRT_D(w, w_size, 5),
                                      SLMRT_D(w, w_size, 6), SLMRT_D(w, w_size, 7));
    const __m128i hx = _mm_setr_epi16(SLMRT_D(x, x_size, 0), SLMRT_D(x, x_size, 1), SLMRT_D(x, x_size, 2),
                                      SLMRT_D(x, x_size, 3), SLMRT_D(x, x_size, 4), SLMRT_D(x, x_size, 5),
                                      SLMRT_D(x, x_size, 6), SLMRT_D(x, x_size, 7));
#undef SLMRT_D
    return _mm256_mul_ps(_mm256_cvtph_ps(hw), _mm256_cvtph_ps(hx));
}

/* The fp16 scales (first two bytes) of 8 consecutive weight blocks, as f32. */
static inline __m256 slmrt_x86_scales_x8_w(const uint8_t *w, size_t w_size) {
#define SLMRT_D(k) (short)slmrt_load_u16le(w + (k) * w_size)
    const __m128i h = _mm_setr_epi16(SLMRT_D(0), SLMRT_D(1), SLMRT_D(2), SLMRT_D(3), SLMRT_D(4), SLMRT_D(5),
                                     SLMRT_D(6), SLMRT_D(7));
#undef SLMRT_D
    return _mm256_cvtph_ps(h);
}

/* 8 int32 partial sums of one block's integer dot product; the pointers
 * are the blocks themselves (fp16 d first). */
typedef __m256i (*slmrt_x86_block_dot_fn)(const uint8_t *w_block, const uint8_t *x_block);

/* The row loop of every 32-element block type with a leading fp16 scale
 * against a Q8_0 row: blocks go 8 at a time, their exact integer sums
 * gathered into one vector that meets the 8 scales d_w*d_x in one
 * multiply-add; the last (< 8) blocks go one by one as in the scalar code.
 * Always inlined, so that block_dot is a constant and inlines too. */
static SLMRT_ALWAYS_INLINE float slmrt_x86_dot_blocks(int n_blocks, const uint8_t *w, size_t w_size,
                                                      const uint8_t *x, slmrt_x86_block_dot_fn block_dot) {
    const size_t x_size = sizeof(slmrt_block_q8_0);
    __m256 acc = _mm256_setzero_ps();
    int b = 0;
    for (; b + 8 <= n_blocks; b += 8) {
        const uint8_t *wb = w + (size_t)b * w_size, *xb = x + (size_t)b * x_size;
        __m256i sums[8];
        for (int k = 0; k < 8; k++) sums[k] = block_dot(wb + k * w_size, xb + k * x_size);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(slmrt_x86_hsum_epi32_x8(sums)),
                              slmrt_x86_scales_x8(wb, w_size, xb, x_size), acc);
    }
    float sum = slmrt_x86_hsum_ps(acc);
    for (; b < n_blocks; b++) {
        const uint8_t *wb = w + (size_t)b * w_size, *xb = x + (size_t)b * x_size;
        sum += (float)slmrt_x86_hsum_epi32(block_dot(wb, xb)) * (slmrt_x86_load_f16(wb) * slmrt_x86_load_f16(xb));
    }
    return sum;
}

/* Lane k of the result is block k's total, from 4 registers that each hold
 * a pair of blocks in 4-lane halves (pair p: blocks 2p and 2p+1). Three
 * hadds leave [b0 b2 b4 b6 | b1 b3 b5 b7]; the permute restores block order,
 * which decides the float summation order (block b into running sum b % 8). */
static inline __m256i slmrt_x86_hsum_pairs_x4(const __m256i s[4]) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
    return _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Two Q4_0 blocks' nibbles as two registers of unsigned bytes: `lo` holds
 * elements 0..15 of block 0 then of block 1, `hi` elements 16..31 of each:
 * the order of the activation pairs (slmrt_q8_prep). */
static inline void slmrt_x86_q4_0_pair_nibbles(const uint8_t *two_blocks, __m256i *lo, __m256i *hi) {
    const __m256i v = _mm256_loadu2_m128i((const __m128i *)(two_blocks + sizeof(slmrt_block_q4_0) + 2),
                                          (const __m128i *)(two_blocks + 2));
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    *lo = _mm256_and_si256(v, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
}

/* How far ahead of the current weight block the Q4_0 row loops prefetch.
 * Their arithmetic per cache line is close to the line's transfer time, so
 * without it the hardware prefetcher alone left a quarter of the bandwidth
 * unused (measured: 2 threads streaming a 600 MB Q4_0 matrix, 28 GB/s
 * without, 34 with 2 KiB, the same at 4 KiB, 32.5 at 1 KiB). */
#define SLMRT_Q4_PREFETCH 2048

/* Q4_0 nibbles in element order (low nibbles are elements 0..15, high
 * nibbles 16..31), one unsigned byte each. */
static inline __m256i slmrt_x86_q4_0_nibbles(const slmrt_block_q4_0 *b) {
    const __m128i q = _mm_loadu_si128((const __m128i *)b->qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}

#endif
