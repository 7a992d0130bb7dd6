/* slm_codec_q1.c - Q4_1, Q5_0, Q5_1 and Q8_1 blocks: decoders, the scalar
 * reference encoders (ggml's quantize_row_*_ref) and llama.cpp's
 * importance-weighted quantize_* for the first three.
 *
 * The encoders must equal llama-quantize's bytes, so every expression keeps
 * ggml-quants.c's order of operations and its implicit float-to-integer
 * conversions (formats.md §2.2); see slm_codec_impl.h. */
#include <assert.h>
#include <float.h>
#include <math.h>

#include "slm_codec_impl.h"

/* ----------------------------------------------------------------- Q4_1 */

void slm_quantize_row_q4_1_ref(const float *x, void *vy, int64_t n) {
    assert(n % SLM_QK4_1 == 0);
    slm_block_q4_1 *y = vy;
    const int qk = SLM_QK4_1;
    const int64_t nb = n / qk;
    for (int64_t i = 0; i < nb; i++) {
        float min = FLT_MAX;
        float max = -FLT_MAX;
        for (int j = 0; j < qk; j++) {
            const float v = x[i * qk + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        const float d = (max - min) / ((1 << 4) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        slm_store_f16(y[i].d, d);
        slm_store_f16(y[i].m, min);
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = (x[i * qk + 0 + j] - min) * id;
            const float x1 = (x[i * qk + qk / 2 + j] - min) * id;
            /* (int8_t) truncates, so +0.5f rounds half up. */
            const uint8_t xi0 = (uint8_t)slm_imin(15, slm_to_i8_like_x86(x0 + 0.5f));
            const uint8_t xi1 = (uint8_t)slm_imin(15, slm_to_i8_like_x86(x1 + 0.5f));
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

void slm_dequantize_row_q4_1(const void *vx, float *y, int64_t n) {
    assert(n % SLM_QK4_1 == 0);
    const slm_block_q4_1 *x = vx;
    const int qk = SLM_QK4_1;
    const int64_t nb = n / qk;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        const float m = slm_load_f16(x[i].m);
        for (int j = 0; j < qk / 2; ++j) {
            const int x0 = x[i].qs[j] & 0x0F;
            const int x1 = x[i].qs[j] >> 4;
            y[i * qk + j + 0] = x0 * d + m;
            y[i * qk + j + qk / 2] = x1 * d + m;
        }
    }
}

/* The row's mean square, which the weighted legacy rules mix into every
 * weight: W = qw*sqrt(sigma2 + x^2). */
static float row_sigma2(const float *x, int64_t n_per_row) { return slm_sum_x2(x, n_per_row) / n_per_row; }

/* With weights, each block is fitted by make_qkx3_quants (scale and min),
 * and the fitted levels are stored without requantizing. */
void slm_quantize_row_q4_1(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    if (!qw) {
        slm_quantize_row_q4_1_ref(x, vy, n_per_row);
        return;
    }
    assert(n_per_row % SLM_QK4_1 == 0);
    slm_block_q4_1 *y = vy;
    float weight[SLM_QK4_1];
    uint8_t L[SLM_QK4_1], Laux[SLM_QK4_1];
    const float sigma2 = row_sigma2(x, n_per_row);
    const int64_t nb = n_per_row / SLM_QK4_1;
    for (int64_t ib = 0; ib < nb; ++ib) {
        const float *xb = x + SLM_QK4_1 * ib;
        const float *qwb = qw + SLM_QK4_1 * ib;
        for (int j = 0; j < SLM_QK4_1; ++j) weight[j] = qwb[j] * sqrtf(sigma2 + xb[j] * xb[j]);
        float min;
        const float d = slm_make_qkx3_quants(SLM_QK4_1, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
        slm_store_f16(y[ib].d, d);
        slm_store_f16(y[ib].m, -min);
        for (int j = 0; j < 16; ++j) y[ib].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

/* ------------------------------------------------------------ Q5_0/Q5_1 */

/* Low nibbles into qs, bit 4 of element j into bit j of qh (formats.md §2.1). */
static void pack_q5(const uint8_t *L, uint8_t qs[16], uint8_t qh_bytes[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = L[j];
        const uint8_t xi1 = L[j + 16];
        qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
        qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
        qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    slm_store_u32le(qh_bytes, qh);
}

void slm_quantize_row_q5_0_ref(const float *x, void *vy, int64_t n) {
    assert(n % SLM_QK5_0 == 0);
    slm_block_q5_0 *y = vy;
    const int qk = SLM_QK5_0;
    const int64_t nb = n / qk;
    for (int64_t i = 0; i < nb; i++) {
        /* The signed max maps to -16, as Q4_0's maps to -8. */
        float amax = 0.0f;
        float max = 0.0f;
        for (int j = 0; j < qk; j++) {
            const float v = x[i * qk + j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        slm_store_f16(y[i].d, d);
        uint8_t L[SLM_QK5_0];
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = x[i * qk + 0 + j] * id;
            const float x1 = x[i * qk + qk / 2 + j] * id;
            L[j] = (uint8_t)slm_imin(31, slm_to_i8_like_x86(x0 + 16.5f));
            L[j + 16] = (uint8_t)slm_imin(31, slm_to_i8_like_x86(x1 + 16.5f));
        }
        pack_q5(L, y[i].qs, y[i].qh);
    }
}

void slm_dequantize_row_q5_0(const void *vx, float *y, int64_t n) {
    assert(n % SLM_QK5_0 == 0);
    const slm_block_q5_0 *x = vx;
    const int qk = SLM_QK5_0;
    const int64_t nb = n / qk;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        const uint32_t qh = slm_load_u32le(x[i].qh);
        for (int j = 0; j < qk / 2; ++j) {
            const uint8_t xh_0 = (uint8_t)(((qh >> (j + 0)) << 4) & 0x10);
            const uint8_t xh_1 = (uint8_t)((qh >> (j + 12)) & 0x10);
            const int32_t x0 = ((x[i].qs[j] & 0x0F) | xh_0) - 16;
            const int32_t x1 = ((x[i].qs[j] >> 4) | xh_1) - 16;
            y[i * qk + j + 0] = x0 * d;
            y[i * qk + j + qk / 2] = x1 * d;
        }
    }
}

/* With weights: make_qx_quants (nmax 16) per block, levels stored as fitted. */
void slm_quantize_row_q5_0(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    if (!qw) {
        slm_quantize_row_q5_0_ref(x, vy, n_per_row);
        return;
    }
    assert(n_per_row % SLM_QK5_0 == 0);
    slm_block_q5_0 *y = vy;
    float weight[SLM_QK5_0];
    int8_t L[SLM_QK5_0];
    const float sigma2 = row_sigma2(x, n_per_row);
    const int64_t nb = n_per_row / SLM_QK5_0;
    for (int64_t ib = 0; ib < nb; ++ib) {
        const float *xb = x + SLM_QK5_0 * ib;
        const float *qwb = qw + SLM_QK5_0 * ib;
        for (int j = 0; j < SLM_QK5_0; ++j) weight[j] = qwb[j] * sqrtf(sigma2 + xb[j] * xb[j]);
        const float d = slm_make_qx_quants(SLM_QK5_0, 16, xb, L, 1, weight);
        slm_store_f16(y[ib].d, d);
        uint8_t Lu[SLM_QK5_0];
        for (int j = 0; j < SLM_QK5_0; ++j) Lu[j] = (uint8_t)L[j];
        pack_q5(Lu, y[ib].qs, y[ib].qh);
    }
}

void slm_quantize_row_q5_1_ref(const float *x, void *vy, int64_t n) {
    assert(n % SLM_QK5_1 == 0);
    slm_block_q5_1 *y = vy;
    const int qk = SLM_QK5_1;
    const int64_t nb = n / qk;
    for (int64_t i = 0; i < nb; i++) {
        float min = FLT_MAX;
        float max = -FLT_MAX;
        for (int j = 0; j < qk; j++) {
            const float v = x[i * qk + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        slm_store_f16(y[i].d, d);
        slm_store_f16(y[i].m, min);
        uint8_t L[SLM_QK5_1];
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = (x[i * qk + 0 + j] - min) * id;
            const float x1 = (x[i * qk + qk / 2 + j] - min) * id;
            /* Unlike Q4_1 there is no clamp: ggml casts straight to uint8_t. */
            L[j] = slm_to_u8_like_x86(x0 + 0.5f);
            L[j + 16] = slm_to_u8_like_x86(x1 + 0.5f);
        }
        pack_q5(L, y[i].qs, y[i].qh);
    }
}

void slm_dequantize_row_q5_1(const void *vx, float *y, int64_t n) {
    assert(n % SLM_QK5_1 == 0);
    const slm_block_q5_1 *x = vx;
    const int qk = SLM_QK5_1;
    const int64_t nb = n / qk;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        const float m = slm_load_f16(x[i].m);
        const uint32_t qh = slm_load_u32le(x[i].qh);
        for (int j = 0; j < qk / 2; ++j) {
            const uint8_t xh_0 = (uint8_t)(((qh >> (j + 0)) << 4) & 0x10);
            const uint8_t xh_1 = (uint8_t)((qh >> (j + 12)) & 0x10);
            const int x0 = (x[i].qs[j] & 0x0F) | xh_0;
            const int x1 = (x[i].qs[j] >> 4) | xh_1;
            y[i * qk + j + 0] = x0 * d + m;
            y[i * qk + j + qk / 2] = x1 * d + m;
        }
    }
}

/* With weights: make_qkx3_quants (nmax 31) per block, as Q4_1. */
void slm_quantize_row_q5_1(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    if (!qw) {
        slm_quantize_row_q5_1_ref(x, vy, n_per_row);
        return;
    }
    assert(n_per_row % SLM_QK5_1 == 0);
    slm_block_q5_1 *y = vy;
    float weight[SLM_QK5_1];
    uint8_t L[SLM_QK5_1], Laux[SLM_QK5_1];
    const float sigma2 = row_sigma2(x, n_per_row);
    const int64_t nb = n_per_row / SLM_QK5_1;
    for (int64_t ib = 0; ib < nb; ++ib) {
        const float *xb = x + SLM_QK5_1 * ib;
        const float *qwb = qw + SLM_QK5_1 * ib;
        for (int j = 0; j < SLM_QK5_1; ++j) weight[j] = qwb[j] * sqrtf(sigma2 + xb[j] * xb[j]);
        float min;
        const float d = slm_make_qkx3_quants(SLM_QK5_1, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
        slm_store_f16(y[ib].d, d);
        slm_store_f16(y[ib].m, -min);
        pack_q5(L, y[ib].qs, y[ib].qh);
    }
}

/* ----------------------------------------------------------------- Q8_1 */

/* Q8_0's rule plus s = fp16(d * sum(qs)), with the unrounded d. */
void slm_quantize_row_q8_1_ref(const float *x, void *vy, int64_t n) {
    assert(n % SLM_QK8_1 == 0);
    slm_block_q8_1 *y = vy;
    const int qk = SLM_QK8_1;
    const int64_t nb = n / qk;
    for (int64_t i = 0; i < nb; i++) {
        float amax = 0.0f;
        for (int j = 0; j < qk; j++) {
            const float av = fabsf(x[i * qk + j]);
            amax = amax > av ? amax : av;
        }
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        slm_store_f16(y[i].d, d);
        int sum = 0;
        for (int j = 0; j < qk / 2; ++j) {
            const float v0 = x[i * qk + j] * id;
            const float v1 = x[i * qk + qk / 2 + j] * id;
            y[i].qs[j] = slm_to_i8_like_x86(roundf(v0));
            y[i].qs[qk / 2 + j] = slm_to_i8_like_x86(roundf(v1));
            sum += y[i].qs[j];
            sum += y[i].qs[qk / 2 + j];
        }
        slm_store_f16(y[i].s, sum * d);
    }
}

void slm_dequantize_row_q8_1(const void *vx, float *y, int64_t n) {
    assert(n % SLM_QK8_1 == 0);
    const slm_block_q8_1 *x = vx;
    const int64_t nb = n / SLM_QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        for (int j = 0; j < SLM_QK8_1; ++j) y[i * SLM_QK8_1 + j] = x[i].qs[j] * d;
    }
}

SLM_CHECK_FN(slm_quantize_row_q4_1_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q4_1, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q4_1, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_q5_0_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q5_0, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q5_0, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_q5_1_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q5_1, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q5_1, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_q8_1_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q8_1, slm_to_f32_fn);
