/* slmrt_ggml_math_avx512.c - slmrt_ggml_math.h with ggml's own AVX-512
 * ggml_v_expf (same bits as the scalar emulation in slmrt_ggml_math.c). */
#include <immintrin.h>
#include <math.h>

#include "slmrt_ggml_math.h"

/* ggml_v_expf, AVX-512 (ggml-cpu/vec.h) */
static inline __m512 avx512_ggml_expf(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 d = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    if (_mm512_kortestz(d, d)) return res;
    const __m512 zero = _mm512_setzero_ps();
    const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, zero, _CMP_LE_OQ), _mm512_set1_ps(INFINITY), zero);
    return _mm512_mask_blend_ps(d, res, alt);
}

static double avx512_softmax_exp(int n, int n_valid, float *x, float mx) {
    const __m512 vmx = _mm512_set1_ps(mx);
    double sum = 0.0;
    for (int p0 = 0; p0 < n; p0 += 16) {
        const int left = n_valid - p0;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        const __m512 e = _mm512_maskz_mov_ps(m, avx512_ggml_expf(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + p0), vmx)));
        _mm512_storeu_ps(x + p0, e);
        sum += (double)_mm512_reduce_add_ps(e);
    }
    return sum;
}

static void avx512_silu(int n, float *x) {
    int i = 0;
    for (; i + 15 < n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        const __m512 e = avx512_ggml_expf(_mm512_sub_ps(_mm512_setzero_ps(), v));
        _mm512_storeu_ps(x + i, _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e)));
    }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

static const slmrt_ggml_math avx512_math = {avx512_softmax_exp, avx512_silu};

const slmrt_ggml_math *slmrt_ggml_math_avx512(void) { return &avx512_math; }
