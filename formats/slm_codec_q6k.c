/* slm_codec_q6k.c - Q6_K super-blocks (decoder, ggml's quantize_row_q6_K_ref
 * and llama.cpp's importance-weighted quantize_q6_K, formats.md §2.2/§2.3)
 * and Q8_K, the activation format K-quant dot products pair with.
 *
 * Keep ggml's order of operations and integer conversions
 * (slm_codec_impl.h). */
#include <assert.h>
#include <math.h>

#include "slm_codec_impl.h"

#define QK_K SLM_QK_K

/* ----------------------------------------------------------------- Q6_K */

/* One super-block: make_qx_quants (nmax 32) per 16 elements, weighted by x²
 * (qw NULL) or by the importance weights directly; then 8-bit scales
 * relative to the signed largest one (which becomes -128), and every
 * element requantized against its stored scale. */
static void encode_q6_k(const float *x, slm_block_q6_k *y, const float *qw) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0;
    float max_abs_scale = 0;
    /* make_qx_quants on the 16 groups, several at once */
    slm_make_qx_quants_groups(QK_K / 16, 16, 32, x, L, qw, scales);
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float scale = scales[ib];
        const float abs_scale = fabsf(scale);
        if (abs_scale > max_abs_scale) {
            max_abs_scale = abs_scale;
            max_scale = scale;
        }
    }
    if (max_abs_scale < SLM_GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    slm_store_f16(y->d, 1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib) y->scales[ib] = (int8_t)slm_imin(127, slm_nearest_int(iscale * scales[ib]));

    const float d_all = slm_load_f16(y->d);
    for (int j = 0; j < QK_K / 16; ++j) {
        float d = d_all * y->scales[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = slm_nearest_int(x[16 * j + ii] / d);
            l = slm_imax(-32, slm_imin(31, l));
            L[16 * j + ii] = (int8_t)(l + 32);
        }
    }

    uint8_t *ql = y->ql;
    uint8_t *qh = y->qh;
    for (int j = 0; j < QK_K; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t q1 = L[j + l + 0] & 0xF;
            const uint8_t q2 = L[j + l + 32] & 0xF;
            const uint8_t q3 = L[j + l + 64] & 0xF;
            const uint8_t q4 = L[j + l + 96] & 0xF;
            ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                              ((L[j + l + 96] >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

void slm_quantize_row_q6_k_ref(const float *x, void *vy, int64_t k) {
    assert(k % QK_K == 0);
    slm_block_q6_k *y = vy;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) encode_q6_k(x + QK_K * i, &y[i], NULL);
}

void slm_quantize_row_q6_k(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    assert(n_per_row % QK_K == 0);
    slm_block_q6_k *y = vy;
    const int64_t nb = n_per_row / QK_K;
    for (int64_t i = 0; i < nb; i++) encode_q6_k(x + QK_K * i, &y[i], qw ? qw + QK_K * i : NULL);
}

void slm_dequantize_row_q6_k(const void *vx, float *y, int64_t k) {
    assert(k % QK_K == 0);
    const slm_block_q6_k *x = vx;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        const uint8_t *ql = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; ++l) {
                int is = l / 16;
                const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

/* ----------------------------------------------------------------- Q8_K */

/* ggml's quantize_row_q8_K_ref: the signed max maps to -127 (not -128, to
 * suit ggml's IQ kernels), d is kept in f32, and bsums holds the sums of
 * each 16 quants. */
void slm_quantize_row_q8_k_ref(const float *x, void *vy, int64_t k) {
    assert(k % QK_K == 0);
    slm_block_q8_k *y = vy;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        float max = 0;
        float amax = 0;
        for (int j = 0; j < QK_K; ++j) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            y[i].d = 0;
            memset(y[i].qs, 0, QK_K);
            /* ggml leaves bsums unwritten here; zero is what they sum to. */
            memset(y[i].bsums, 0, sizeof y[i].bsums);
            x += QK_K;
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) {
            int v = slm_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)slm_imin(127, v);
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
        x += QK_K;
    }
}

void slm_dequantize_row_q8_k(const void *vx, float *y, int64_t k) {
    assert(k % QK_K == 0);
    const slm_block_q8_k *x = vx;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < QK_K; ++j) *y++ = x[i].d * x[i].qs[j];
}

SLM_CHECK_FN(slm_quantize_row_q6_k_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q6_k, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q6_k, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_q8_k_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q8_k, slm_to_f32_fn);
