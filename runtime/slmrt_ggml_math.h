/* slmrt_ggml_math.h - ggml's vectorised exp and the softmax/SiLU loops
 * around it, reproduced bit for bit so the forward pass matches llama.cpp's
 * reference logits (computed by its AVX-512 build) rather than merely
 * agreeing to libm's accuracy. One table per ISA; all of them give the same
 * bits (the scalar one emulates the AVX-512 lanes with fmaf). */
#ifndef SLMRT_GGML_MATH_H
#define SLMRT_GGML_MATH_H

#include "slmrt_cpu.h"

typedef struct slmrt_ggml_math {
    /* Softmax numerators as ggml_vec_soft_max_f32 (AVX-512) computes them
     * for n (a multiple of 16) scores of which the first n_valid count:
     * x[p] = ggml_v_expf(x[p] - mx) for p < n_valid, 0 after. Returns the
     * sum: each 16-lane chunk reduced as _mm512_reduce_add_ps does (a float)
     * and the chunks added in double. */
    double (*softmax_exp)(int n, int n_valid, float *x, float mx);
    /* ggml_vec_silu_f32 in place over n values: 16-lane chunks as
     * x / (1 + ggml_v_expf(0 - x)), the n % 16 leftovers with libm's expf. */
    void (*silu)(int n, float *x);
} slmrt_ggml_math;

/* The table for an ISA (the scalar one when the build lacks it). */
const slmrt_ggml_math *slmrt_ggml_math_for(slmrt_isa isa);

/* ggml_v_expf (the AVX-512 variant) for one lane, and the 16-lane tree
 * _mm512_reduce_add_ps sums in (halves, quarters, eighths, last pair). */
float slmrt_ggml_expf(float x);
float slmrt_ggml_reduce16(const float a[16]);

/* Per-ISA tables, each in its own file. */
const slmrt_ggml_math *slmrt_ggml_math_avx2(void);
const slmrt_ggml_math *slmrt_ggml_math_avx512(void);

#endif
