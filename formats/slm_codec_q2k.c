/* slm_codec_q2k.c - Q2_K and Q3_K super-blocks: decoders, the reference
 * encoders (ggml's quantize_row_q2_K_ref / q3_K_ref) and llama.cpp's
 * importance-weighted quantize_q2_K / quantize_q3_K.
 *
 * formats.md does not spell these encoders out; they transcribe
 * ggml-quants.c at c392e50 and are held to the golden files. Keep ggml's
 * order of operations and integer conversions (slm_codec_impl.h). */
#include <assert.h>
#include <math.h>

#include "slm_codec_impl.h"

#define QK_K SLM_QK_K

/* 2-bit levels L[0..255] into qs: per 128 elements, byte l holds elements
 * l, l+32, l+64, l+96 in bits 0-1, 2-3, 4-5, 6-7. Q3_K uses the same planes
 * for its low two bits. */
static void pack_2bit_planes(const uint8_t *L, uint8_t qs[QK_K / 4]) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

/* ----------------------------------------------------------------- Q2_K */

/* Requantizes each 16-element group against its stored (fp16 d * 4-bit
 * scale, fp16 dmin * 4-bit min); a group whose scale is 0 keeps the levels
 * of its fit. */
static void q2_k_requantize(const float *x, const slm_block_q2_k *y, float dm, float mm, uint8_t *L) {
    for (int j = 0; j < QK_K / 16; ++j) {
        const float d = dm * (y->scales[j] & 0xF);
        if (!d) continue;
        const float m = mm * (y->scales[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            int l = slm_nearest_int((x[16 * j + ii] + m) / d);
            L[16 * j + ii] = (uint8_t)slm_imax(0, slm_imin(3, l));
        }
    }
}

void slm_quantize_row_q2_k_ref(const float *x, void *vy, int64_t k) {
    assert(k % QK_K == 0);
    slm_block_q2_k *y = vy;
    const int64_t nb = k / QK_K;
    uint8_t L[QK_K];
    float weights[QK_K];
    float mins[QK_K / 16];
    float scales[QK_K / 16];
    const float q4scale = 15.f;

    for (int64_t i = 0; i < nb; i++) {
        /* Scales are never negative (the min is subtracted). */
        float max_scale = 0;
        float max_min = 0;
        for (int l = 0; l < QK_K; ++l) weights[l] = fabsf(x[l]);
        /* make_qkx2_quants on the 16 groups, several at once */
        slm_make_qkx_quants_groups(QK_K / 16, 16, 3, x, weights, L, mins, scales, -0.5f, 0.1f, 15, true, false);
        for (int j = 0; j < QK_K / 16; ++j) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = (uint8_t)slm_nearest_int(iscale * scales[j]);
            slm_store_f16(y[i].d, max_scale / q4scale);
        } else {
            for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = 0;
            slm_store_f16(y[i].d, 0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; ++j) {
                int l = slm_nearest_int(iscale * mins[j]);
                y[i].scales[j] |= (uint8_t)((unsigned)l << 4);
            }
            slm_store_f16(y[i].dmin, max_min / q4scale);
        } else {
            slm_store_f16(y[i].dmin, 0.f);
        }
        q2_k_requantize(x, &y[i], slm_load_f16(y[i].d), slm_load_f16(y[i].dmin), L);
        pack_2bit_planes(L, y[i].qs);
        x += QK_K;
    }
}

void slm_dequantize_row_q2_k(const void *vx, float *y, int64_t k) {
    assert(k % QK_K == 0);
    const slm_block_q2_k *x = vx;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_load_f16(x[i].d);
        const float min = slm_load_f16(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                for (int half = 0; half < 2; ++half) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (sc & 0xF);
                    const float ml = min * (sc >> 4);
                    for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16 * half] >> shift) & 3)) - ml;
                }
                shift += 2;
            }
            q += 32;
        }
    }
}

/* With weights qw*sqrt(sigma2 + x^2) (sigma2 = mean square of the
 * super-block): each group fitted by make_qkx3_quants, then the 16 scales
 * and 16 mins quantized to 4 bits by make_qp_quants weighted by each
 * group's total weight. */
static void quantize_row_q2_k_impl(const float *x, slm_block_q2_k *y, int64_t k, const float *quant_weights) {
    const int64_t nb = k / QK_K;
    uint8_t L[QK_K];
    float mins[QK_K / 16];
    float scales[QK_K / 16];
    float sw[QK_K / 16];
    float weights[QK_K];
    uint8_t Ls[QK_K / 16], Lm[QK_K / 16];

    for (int64_t i = 0; i < nb; i++) {
        memset(sw, 0, sizeof sw);
        float sigma2 = slm_sum_x2(x, QK_K) / QK_K;
        for (int j = 0; j < QK_K / 16; ++j) {
            const float *qw = quant_weights + QK_K * i + 16 * j;
            float *weight = weights + 16 * j;
            for (int l = 0; l < 16; ++l) weight[l] = qw[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            for (int l = 0; l < QK_K / 16; ++l) sw[j] += weight[l];
        }
        /* make_qkx3_quants on the 16 groups, several at once */
        slm_make_qkx_quants_groups(QK_K / 16, 16, 3, x, weights, L, mins, scales, -0.9f, 0.05f, 36, false, true);
        float dm = slm_make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
        float mm = slm_make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
        slm_store_f16(y[i].d, dm);
        slm_store_f16(y[i].dmin, mm);
        dm = slm_load_f16(y[i].d);
        mm = slm_load_f16(y[i].dmin);
        for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        q2_k_requantize(x, &y[i], dm, mm, L);
        pack_2bit_planes(L, y[i].qs);
        x += QK_K;
    }
}

void slm_quantize_row_q2_k(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    assert(n_per_row % QK_K == 0);
    if (!qw) slm_quantize_row_q2_k_ref(x, vy, n_per_row);
    else quantize_row_q2_k_impl(x, vy, n_per_row, qw);
}

/* ----------------------------------------------------------------- Q3_K */

/* 16 six-bit scales (already biased by +32) into 12 bytes (formats.md §2.1). */
static void pack_q3_k_scales(const int *ls, uint8_t scales[12]) {
    memset(scales, 0, 12);
    for (int j = 0; j < QK_K / 16; ++j) {
        int l = ls[j];
        if (j < 8) scales[j] = (uint8_t)(l & 0xF);
        else scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
        l >>= 4;
        scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
    }
}

/* Requantizes against the stored scales into -4..3 (+4), then splits off
 * the high bit into hmask and packs the low two bits. */
static void q3_k_requantize_and_pack(const float *x, slm_block_q3_k *y, int8_t *L) {
    const float d_all = slm_load_f16(y->d);
    for (int j = 0; j < QK_K / 16; ++j) {
        int8_t sc = (int8_t)(j < 8 ? y->scales[j] & 0xF : y->scales[j - 8] >> 4);
        sc = (int8_t)((sc | (((y->scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
        float d = d_all * sc;
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = slm_nearest_int(x[16 * j + ii] / d);
            l = slm_imax(-4, slm_imin(3, l));
            L[16 * j + ii] = (int8_t)(l + 4);
        }
    }
    /* The high bit of the first 32 elements goes to bit 0, the next 32 to bit 1, ... */
    memset(y->hmask, 0, QK_K / 8);
    uint8_t Lu[QK_K];
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < QK_K; ++j) {
        if (L[j] > 3) {
            y->hmask[m] |= hm;
            L[j] -= 4;
        }
        Lu[j] = (uint8_t)L[j];
        if (++m == QK_K / 8) {
            m = 0;
            hm <<= 1;
        }
    }
    pack_2bit_planes(Lu, y->qs);
}

void slm_quantize_row_q3_k_ref(const float *x, void *vy, int64_t k) {
    assert(k % QK_K == 0);
    slm_block_q3_k *y = vy;
    const int64_t nb = k / QK_K;
    int8_t L[QK_K];
    float scales[QK_K / 16];

    for (int64_t i = 0; i < nb; i++) {
        /* Signed max of the group scales: it gets the scale -32. */
        float max_scale = 0;
        float amax = 0;
        for (int j = 0; j < QK_K / 16; ++j) {
            scales[j] = slm_make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
            float scale = fabsf(scales[j]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[j];
            }
        }
        if (max_scale) {
            int ls[QK_K / 16];
            float iscale = -32.f / max_scale;
            for (int j = 0; j < QK_K / 16; ++j) {
                /* ggml stores nearest_int in an int8_t before clamping. */
                int8_t l = (int8_t)slm_nearest_int(iscale * scales[j]);
                ls[j] = slm_imax(-32, slm_imin(31, l)) + 32;
            }
            pack_q3_k_scales(ls, y[i].scales);
            slm_store_f16(y[i].d, 1 / iscale);
        } else {
            memset(y[i].scales, 0, 12);
            slm_store_f16(y[i].d, 0.f);
        }
        q3_k_requantize_and_pack(x, &y[i], L);
        x += QK_K;
    }
}

void slm_dequantize_row_q3_k(const void *vx, float *y, int64_t k) {
    assert(k % QK_K == 0);
    const slm_block_q3_k *x = vx;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = slm_load_f16(x[i].d);
        const uint8_t *q = x[i].qs;
        const uint8_t *hm = x[i].hmask;
        int8_t scales[16];
        for (int s = 0; s < 16; s++) {
            const int low4 = (x[i].scales[s % 8] >> (4 * (s / 8))) & 0xF;
            const int high2 = (x[i].scales[8 + s % 4] >> (2 * (s / 4))) & 3;
            scales[s] = (int8_t)(low4 | (high2 << 4));
        }
        uint8_t m = 1;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                for (int half = 0; half < 2; ++half) {
                    const float dl = d_all * (scales[is++] - 32);
                    for (int l = 16 * half; l < 16 * half + 16; ++l)
                        *y++ = dl * ((int8_t)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                }
                shift += 2;
                m <<= 1;
            }
            q += 32;
        }
    }
}

/* Weighted make_qx_quants per group (weights qw*sqrt(sigma2 + x^2), sigma2
 * = 2*mean square of the super-block), then the 16 group scales quantized
 * to 6 bits by make_qx_quants weighted by each group's total weight.
 * (ggml's impl also has a qw == NULL branch; llama.cpp never reaches it.) */
static void quantize_row_q3_k_impl(const float *x, slm_block_q3_k *y, int64_t n_per_row, const float *quant_weights) {
    const int64_t nb = n_per_row / QK_K;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float weight[16];
    float sw[QK_K / 16];
    int8_t Ls[QK_K / 16];

    for (int64_t i = 0; i < nb; i++) {
        float sigma2 = 2 * slm_sum_x2(x, QK_K) / QK_K;
        for (int j = 0; j < QK_K / 16; ++j) {
            const float *qw = quant_weights + QK_K * i + 16 * j;
            for (int l = 0; l < 16; ++l) weight[l] = qw[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            float sumw = 0;
            for (int l = 0; l < 16; ++l) sumw += weight[l];
            sw[j] = sumw;
            scales[j] = slm_make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
        }
        float d_block = slm_make_qx_quants(QK_K / 16, 32, scales, Ls, 1, sw);
        int ls[QK_K / 16];
        for (int j = 0; j < QK_K / 16; ++j) ls[j] = Ls[j];
        pack_q3_k_scales(ls, y[i].scales);
        slm_store_f16(y[i].d, d_block);
        q3_k_requantize_and_pack(x, &y[i], L);
        x += QK_K;
    }
}

void slm_quantize_row_q3_k(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    assert(n_per_row % QK_K == 0);
    if (!qw) slm_quantize_row_q3_k_ref(x, vy, n_per_row);
    else quantize_row_q3_k_impl(x, vy, n_per_row, qw);
}

SLM_CHECK_FN(slm_quantize_row_q2_k_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q2_k, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q2_k, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_q3_k_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q3_k, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q3_k, slm_quantize_row_fn);
