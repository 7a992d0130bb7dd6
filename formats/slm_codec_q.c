/* slm_codec_q.c - Q8_0 and Q4_0 blocks: the decoders and the scalar
 * reference encoders, and Q4_0's importance-weighted encoder.
 *
 * The encoders reproduce llama.cpp's quantize_row_q8_0_ref and
 * quantize_row_q4_0_ref byte for byte (formats.md §2.2), because quantized
 * GGUFs are compared with llama-quantize's output byte for byte. That is why
 * every expression below keeps ggml's order of operations, and why this file
 * is compiled with -ffp-contract=off: a fused x*id+8.5f rounds once instead
 * of twice and changes some nibbles. */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "slm_codec_impl.h"
#include "slm_codec_q_simd.h"

#define QK8_0 SLM_QK8_0
#define QK4_0 SLM_QK4_0

void slm_quantize_row_q8_0_ref(const float *x, void *vy, int64_t n) {
    assert(n % QK8_0 == 0);
    slm_block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) {
            const float av = fabsf(xb[j]);
            /* ggml's MAX(a, b) macro, not fmaxf: they differ on NaN. */
            amax = amax > av ? amax : av;
        }
        /* The unrounded d quantizes; only the stored scale is fp16. */
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        slm_store_f16(y[i].d, d);
        for (int j = 0; j < QK8_0; j++) {
            const float x0 = xb[j] * id;
            /* roundf: halves go away from zero (2.5 -> 3), unlike the
             * nearest_int of the other quantizers. */
            y[i].qs[j] = slm_to_i8_like_x86(roundf(x0));
        }
    }
}

void slm_dequantize_row_q8_0(const void *vx, float *y, int64_t n) {
    assert(n % QK8_0 == 0);
    const slm_block_q8_0 *x = vx;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}

void slm_quantize_row_q4_0_ref(const float *x, void *vy, int64_t n) {
    assert(n % QK4_0 == 0);
    slm_block_q4_0 *y = vy;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * QK4_0;
        /* The signed max: the first element of largest magnitude, sign
         * included. Making it map to -8 uses the asymmetric end of the
         * 4-bit range for the element that needs it most. */
        float amax = 0.0f;
        float max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            const float v = xb[j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        /* An all-zero block gives d = -0.0, stored as 0x8000, as ggml does. */
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        slm_store_f16(y[i].d, d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            /* Product rounded to float first, then + 8.5f, then truncated:
             * floor(x*id + 8.5) for the non-negative values that occur. */
            const float x0 = xb[j] * id;
            const float x1 = xb[QK4_0 / 2 + j] * id;
            const int8_t t0 = slm_to_i8_like_x86(x0 + 8.5f);
            const int8_t t1 = slm_to_i8_like_x86(x1 + 8.5f);
            const uint8_t xi0 = (uint8_t)(t0 < 15 ? t0 : 15);
            const uint8_t xi1 = (uint8_t)(t1 < 15 ? t1 : 15);
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

void slm_dequantize_row_q4_0(const void *vx, float *y, int64_t n) {
    assert(n % QK4_0 == 0);
    const slm_block_q4_0 *x = vx;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[i * QK4_0 + j] = x0 * d;
            y[i * QK4_0 + j + QK4_0 / 2] = x1 * d;
        }
    }
}

bool slm_codec_use_avx2(void) {
    static int use = -1; /* a benign race: every thread computes the same */
    int u = __atomic_load_n(&use, __ATOMIC_RELAXED);
    if (u < 0) {
        __builtin_cpu_init();
        u = __builtin_cpu_supports("avx2") && !getenv("SLM_CODEC_SCALAR");
        __atomic_store_n(&use, u, __ATOMIC_RELAXED);
    }
    return u;
}

/* llama.cpp's quantize_q4_0 for one row: the reference rule without an
 * importance matrix; with one, each block's scale is fitted by
 * make_qx_quants to the weights qw*sqrt(sigma2 + x^2), sigma2 being the
 * mean square of the whole row (formats.md §2.3). The fitted levels are
 * stored as they are, not requantized against the fp16 scale. */
void slm_quantize_row_q4_0(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    if (!qw) {
        if (slm_codec_use_avx2()) slm_quantize_row_q4_0_avx2(x, vy, n_per_row);
        else slm_quantize_row_q4_0_ref(x, vy, n_per_row);
        return;
    }
    assert(n_per_row % QK4_0 == 0);
    slm_block_q4_0 *y = vy;
    float weight[QK4_0];
    int8_t L[QK4_0];
    const float sigma2 = slm_sum_x2(x, n_per_row) / n_per_row;
    const int64_t nb = n_per_row / QK4_0;
    for (int64_t ib = 0; ib < nb; ib++) {
        const float *xb = x + QK4_0 * ib;
        const float *qwb = qw + QK4_0 * ib;
        for (int j = 0; j < QK4_0; j++) weight[j] = qwb[j] * sqrtf(sigma2 + xb[j] * xb[j]);
        const float d = slm_make_qx_quants(QK4_0, 8, xb, L, 1, weight);
        slm_store_f16(y[ib].d, d);
        for (int j = 0; j < 16; j++) y[ib].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

/* Q8_0 has no weighted variant: llama.cpp ignores the importance matrix. */
void slm_quantize_row_q8_0(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    (void)qw;
    if (slm_codec_use_avx2()) slm_quantize_row_q8_0_avx2(x, vy, n_per_row);
    else slm_quantize_row_q8_0_ref(x, vy, n_per_row);
}

SLM_CHECK_FN(slm_quantize_row_q8_0_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q8_0, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q4_0_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q4_0, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q4_0, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_q8_0, slm_quantize_row_fn);
