/* slmrt_ggml_math.c - ggml's vector exp and the sums around it, emulated in
 * scalar C with fmaf so every lane rounds exactly as the AVX-512 build of
 * llama.cpp that computed the reference logits does. Only there to
 * reproduce those logits bit for bit: ggml_v_expf is no more accurate than
 * libm's expf, just different in the last bit, and the softmax and SiLU
 * differences that causes grow to ~1e-3 in the logits of small F16 models.
 * This file is baseline x86-64, so the fmaf calls go to libm (correct, but
 * slow); slmrt_ggml_math_avx2.c / _avx512.c do the same with vector FMAs. */
#include "slmrt_ggml_math.h"

#include <math.h>
#include <stddef.h>

float slmrt_ggml_expf(float x) {
    /* z rounds x*log2(e) to an integer in its low mantissa bits */
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         fmaf(0x1.ffffecp-1f, b, 1.0f));
    /* _mm512_scalef_ps(j, n) (one rounding, as ldexpf), with ggml's
     * overflow/underflow blend; NaN x gives NaN j and n */
    if (fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    if (n != n) return n;
    return ldexpf(j, (int)n);
}

float slmrt_ggml_reduce16(const float a[16]) {
    float t[8], u[4];
    for (int i = 0; i < 8; i++) t[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++) u[i] = t[i] + t[i + 4];
    const float v0 = u[0] + u[2], v1 = u[1] + u[3];
    return v0 + v1;
}

static double scalar_softmax_exp(int n, int n_valid, float *x, float mx) {
    double sum = 0.0;
    for (int p0 = 0; p0 < n; p0 += 16) {
        for (int p = p0; p < p0 + 16; p++) x[p] = p < n_valid ? slmrt_ggml_expf(x[p] - mx) : 0.0f;
        sum += (double)slmrt_ggml_reduce16(x + p0);
    }
    return sum;
}

static void scalar_silu(int n, float *x) {
    int i = 0;
    for (; i + 15 < n; i += 16)
        for (int l = 0; l < 16; l++) {
            const float g = x[i + l];
            x[i + l] = g / (1.0f + slmrt_ggml_expf(0.0f - g));
        }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

static const slmrt_ggml_math scalar_math = {scalar_softmax_exp, scalar_silu};

const slmrt_ggml_math *slmrt_ggml_math_for(slmrt_isa isa) {
    const slmrt_ggml_math *t = NULL;
    if (isa == SLMRT_ISA_AVX512) t = slmrt_ggml_math_avx512();
    else if (isa == SLMRT_ISA_AVX2) t = slmrt_ggml_math_avx2();
    return t ? t : &scalar_math;
}
