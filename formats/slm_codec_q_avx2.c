/* slm_codec_q_avx2.c - AVX2 versions of the Q8_0 and Q4_0 reference
 * encoders (slm_codec_q.c), for compiling f32/f16 models: the scalar ones
 * spend most of their time in libm's roundf. Compiled with -mavx2 only
 * (formats/CMakeLists.txt) and called only when the CPU has AVX2.
 *
 * Same bytes as the scalar reference: the same float operations in the
 * same order (one multiply, then roundf or + 8.5f and truncation), max
 * reductions that are exact in any order, and every block whose values or
 * scale are not finite handed to the scalar code, whose NaN and overflow
 * behaviour depends on evaluation order and x86 conversion quirks. */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "slm_codec_impl.h"
#include "slm_codec_q_simd.h"

static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

/* _mm256_max_ps drops NaNs where the scalar MAX chain keeps them, so
 * blocks with a NaN go to the scalar code. */
static inline bool has_nan(const __m256 v[4]) {
    const __m256 u = _mm256_or_ps(_mm256_cmp_ps(v[0], v[1], _CMP_UNORD_Q), _mm256_cmp_ps(v[2], v[3], _CMP_UNORD_Q));
    return _mm256_movemask_ps(u) != 0;
}

/* roundf: truncate, then step away from zero when the dropped part is at
 * least one half (exact: x - trunc(x) is representable). */
static inline __m256 roundf_ps(__m256 x) {
    const __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 up = _mm256_cmp_ps(abs_ps(_mm256_sub_ps(x, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

void slm_quantize_row_q8_0_avx2(const float *x, void *vy, int64_t n) {
    slm_block_q8_0 *y = vy;
    const int64_t nb = n / SLM_QK8_0;
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * SLM_QK8_0;
        __m256 v[4];
        for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(xb + 8 * k);
        const __m256 m = _mm256_max_ps(_mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])),
                                       _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3])));
        const float amax = hmax_ps(m);
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        if (!isfinite(amax) || !isfinite(id) || has_nan(v)) {
            slm_quantize_row_q8_0_ref(xb, y + i, SLM_QK8_0);
            continue;
        }
        slm_store_f16(y[i].d, d);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = _mm256_cvttps_epi32(roundf_ps(_mm256_mul_ps(v[k], vid)));
        /* values are within [-127, 127]: the saturating packs keep them */
        __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        _mm256_storeu_si256((__m256i *)y[i].qs, _mm256_permutevar8x32_epi32(b, order));
    }
}

void slm_quantize_row_q4_0_avx2(const float *x, void *vy, int64_t n) {
    slm_block_q4_0 *y = vy;
    const int64_t nb = n / SLM_QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * SLM_QK4_0;
        __m256 v[4], a[4];
        for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(xb + 8 * k), a[k] = abs_ps(v[k]);
        const __m256 m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
        const float amax = hmax_ps(m);
        if (!isfinite(amax) || has_nan(v)) {
            slm_quantize_row_q4_0_ref(xb, y + i, SLM_QK4_0);
            continue;
        }
        /* the scalar loop keeps the first element of largest magnitude
         * (strict <), and 0.0f when the block is all zeros */
        float max = 0.0f;
        if (amax > 0.0f) {
            const __m256 va = _mm256_set1_ps(amax);
            uint32_t hit = 0;
            for (int k = 0; k < 4; k++)
                hit |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a[k], va, _CMP_EQ_OQ)) << (8 * k);
            max = xb[__builtin_ctz(hit)];
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        if (!isfinite(id)) {
            slm_quantize_row_q4_0_ref(xb, y + i, SLM_QK4_0);
            continue;
        }
        slm_store_f16(y[i].d, d);
        const __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(8.5f);
        const __m256i fifteen = _mm256_set1_epi32(15);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[k], vid), half)), fifteen);
        /* int16 in element order: low nibbles from 0..15, high from 16..31 */
        const __m256i lo = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
        const __m256i hi = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[2], q[3]), 0xD8);
        const __m256i both = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
        const __m256i bytes = _mm256_packus_epi16(both, both);
        _mm_storeu_si128((__m128i *)y[i].qs,
                         _mm_unpacklo_epi64(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1)));
    }
}
