/* slmrt_ggml_math_avx2.c - slmrt_ggml_math.h with 8-lane FMAs: ggml's
 * AVX-512 ggml_v_expf (not its AVX2 one, which rounds differently) and the
 * 16-lane sums, same bits as the scalar emulation in slmrt_ggml_math.c. */
#include <immintrin.h>
#include <math.h>

#include "slmrt_ggml_math.h"

/* 2^k for integer k in [-126, 127] */
static inline __m256 avx2_pow2i(__m256i k) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

static inline __m256 avx2_ggml_expf(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    /* scalef(j, n) for |n| <= 192: j * 2^n1 * 2^n2 with n1 = floor(n/2);
     * the first product is exact, the second rounds once as scalef does */
    const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n), _mm256_set1_ps(192), _CMP_GT_OQ);
    const __m256i ni = _mm256_cvtps_epi32(_mm256_andnot_ps(big, n)); /* NaN/huge lanes -> 0 */
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, avx2_pow2i(n1)), avx2_pow2i(n2));
    if (_mm256_testz_ps(big, big)) return res;
    const __m256 alt = _mm256_andnot_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ), _mm256_set1_ps(INFINITY));
    return _mm256_blendv_ps(res, alt, big);
}

/* _mm512_reduce_add_ps's tree over lo (lanes 0-7) and hi (8-15) */
static inline float avx2_reduce16(__m256 lo, __m256 hi) {
    const __m256 t = _mm256_add_ps(lo, hi);
    __m128 v = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

static inline __m256 avx2_mask(int left) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(left), idx));
}

static double avx2_softmax_exp(int n, int n_valid, float *x, float mx) {
    const __m256 vmx = _mm256_set1_ps(mx);
    double sum = 0.0;
    for (int p0 = 0; p0 < n; p0 += 16) {
        const __m256 m0 = avx2_mask(n_valid - p0), m1 = avx2_mask(n_valid - p0 - 8);
        const __m256 e0 = _mm256_and_ps(m0, avx2_ggml_expf(_mm256_sub_ps(_mm256_and_ps(m0, _mm256_loadu_ps(x + p0)), vmx)));
        const __m256 e1 =
            _mm256_and_ps(m1, avx2_ggml_expf(_mm256_sub_ps(_mm256_and_ps(m1, _mm256_loadu_ps(x + p0 + 8)), vmx)));
        _mm256_storeu_ps(x + p0, e0);
        _mm256_storeu_ps(x + p0 + 8, e1);
        sum += (double)avx2_reduce16(e0, e1);
    }
    return sum;
}

static void avx2_silu(int n, float *x) {
    int i = 0;
    for (; i + 15 < n; i += 16) /* whole 16-lane chunks, 8 lanes at a time */
        for (int h = i; h < i + 16; h += 8) {
            const __m256 v = _mm256_loadu_ps(x + h);
            const __m256 e = avx2_ggml_expf(_mm256_sub_ps(_mm256_setzero_ps(), v));
            _mm256_storeu_ps(x + h, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
        }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

static const slmrt_ggml_math avx2_math = {avx2_softmax_exp, avx2_silu};

const slmrt_ggml_math *slmrt_ggml_math_avx2(void) { return &avx2_math; }
