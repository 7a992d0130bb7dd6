/* slm_codec_iq4.c - IQ4_NL and IQ4_XS blocks: decoders, ggml's
 * quantize_row_iq4_nl_ref / iq4_xs_ref, and llama.cpp's quantize_iq4_nl /
 * quantize_iq4_xs (formats.md §2.2).
 *
 * Both encoders are ggml's quantize_row_iq4_nl_impl: per 32 elements, a
 * scale search over the 16 non-linear levels slm_kvalues_iq4nl; IQ4_XS then
 * quantizes the 8 scales of a super-block to 6 bits. Note that llama.cpp's
 * quantize_iq4_* search 15 grids (ntry 7) with weights x² even without an
 * importance matrix, while the _ref entry points use ntry -1 (IQ4_NL: one
 * grid, and its levels are not re-indexed); they give different bytes. */
#include <assert.h>
#include <math.h>

#include "slm_codec_impl.h"

#define QK_K SLM_QK_K
#define BLOCK 32

/* The outputs of one quantize_row_iq4_nl_impl call. scales_h/scales_l are
 * NULL for IQ4_NL (super-block of one 32-element block). */
typedef struct iq4_out {
    uint8_t *d;        /* fp16 scale */
    uint8_t *qs;       /* super_block_size/2 bytes */
    uint8_t *scales_h; /* u16 LE */
    uint8_t *scales_l;
} iq4_out;

static int best_index(float x) { return slm_best_index_int8(16, slm_kvalues_iq4nl, x); }

static void quantize_iq4_impl(int super_block_size, const float *x, iq4_out out, const float *quant_weights, int ntry) {
    const int8_t *values = slm_kvalues_iq4nl;
    float scales[QK_K / BLOCK];
    float weight[BLOCK];
    uint8_t L[QK_K];

    float sigma2 = 0;
    for (int j = 0; j < super_block_size; ++j) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / super_block_size;

    memset(out.qs, 0, (size_t)super_block_size / 2);
    slm_store_f16(out.d, 0.f);

    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < super_block_size / BLOCK; ++ib) {
        const float *xb = x + ib * BLOCK;
        uint8_t *Lb = L + ib * BLOCK;
        if (quant_weights) {
            const float *qw = quant_weights + ib * BLOCK;
            for (int j = 0; j < BLOCK; ++j) weight[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
        } else {
            for (int j = 0; j < BLOCK; ++j) weight[j] = xb[j] * xb[j];
        }
        float amax = 0, max = 0;
        for (int j = 0; j < BLOCK; ++j) {
            float ax = fabsf(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax < SLM_GROUP_MAX_EPS) {
            /* ggml leaves Lb stale here (the previous block's levels).
             * With the search (ntry > 0) and in IQ4_XS it is recomputed
             * later; only IQ4_NL's _ref output for such a block, whose scale
             * is 0 anyway, depends on it, and there we write level 0. */
            scales[ib] = 0;
            memset(Lb, 0, BLOCK);
            continue;
        }
        float d = ntry > 0 ? -max / values[0] : max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < BLOCK; ++j) {
            float al = id * xb[j];
            int l = best_index(al);
            Lb[j] = (uint8_t)l;
            float q = values[l];
            float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        /* Unguarded, as at c392e50: all-zero weights give a NaN scale. */
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; ++itry) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < BLOCK; ++j) {
                float al = id * xb[j];
                int l = best_index(al);
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        float abs_d = fabsf(d);
        if (abs_d > amax_scale) {
            amax_scale = abs_d;
            max_scale = d;
        }
    }

    if (super_block_size / BLOCK > 1) {
        /* IQ4_XS: 6-bit block scales l-32 relative to d = -max_scale/32;
         * each block re-indexed with its stored scale d*l (d unrounded). */
        int nb = super_block_size / BLOCK;
        uint16_t scales_h = 0;
        float d = -max_scale / 32;
        slm_store_f16(out.d, d);
        float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < nb; ++ib) {
            int l = slm_nearest_int(id * scales[ib]);
            l = slm_imax(-32, slm_imin(31, l));
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            uint8_t *Lb = L + ib * BLOCK;
            const float *xb = x + ib * BLOCK;
            for (int j = 0; j < BLOCK; ++j) Lb[j] = (uint8_t)best_index(idl * xb[j]);
            l += 32;
            uint8_t l_l = (uint8_t)(l & 0xf);
            uint8_t l_h = (uint8_t)(l >> 4);
            if (ib % 2 == 0) out.scales_l[ib / 2] = l_l;
            else out.scales_l[ib / 2] |= (uint8_t)(l_l << 4);
            scales_h |= (uint16_t)(l_h << 2 * (ib % 8));
        }
        out.scales_h[0] = (uint8_t)(scales_h & 0xFF);
        out.scales_h[1] = (uint8_t)(scales_h >> 8);
    } else {
        /* IQ4_NL: the fitted scale itself; with the search (ntry > 0) the
         * levels are re-indexed with its unrounded reciprocal. */
        slm_store_f16(out.d, scales[0]);
        if (ntry > 0) {
            float id = scales[0] ? 1 / scales[0] : 0;
            for (int j = 0; j < super_block_size; ++j) L[j] = (uint8_t)best_index(id * x[j]);
        }
    }

    for (int i = 0; i < super_block_size / 32; ++i)
        for (int j = 0; j < 16; ++j) out.qs[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

/* --------------------------------------------------------------- IQ4_NL */

static void encode_iq4_nl(const float *x, void *vy, int64_t n, const float *qw, int ntry) {
    assert(n % SLM_QK4_NL == 0);
    slm_block_iq4_nl *y = vy;
    const int64_t nb = n / SLM_QK4_NL;
    for (int64_t i = 0; i < nb; i++) {
        iq4_out out = {y[i].d, y[i].qs, NULL, NULL};
        quantize_iq4_impl(SLM_QK4_NL, x + SLM_QK4_NL * i, out, qw ? qw + SLM_QK4_NL * i : NULL, ntry);
    }
}

void slm_quantize_row_iq4_nl_ref(const float *x, void *vy, int64_t n) { encode_iq4_nl(x, vy, n, NULL, -1); }

void slm_quantize_row_iq4_nl(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    encode_iq4_nl(x, vy, n_per_row, qw, 7);
}

void slm_dequantize_row_iq4_nl(const void *vx, float *y, int64_t n) {
    assert(n % SLM_QK4_NL == 0);
    const slm_block_iq4_nl *x = vx;
    const int64_t nb = n / SLM_QK4_NL;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *qs = x[i].qs;
        const float d = slm_load_f16(x[i].d);
        for (int j = 0; j < SLM_QK4_NL / 2; ++j) {
            y[j + 0] = d * slm_kvalues_iq4nl[qs[j] & 0xf];
            y[j + SLM_QK4_NL / 2] = d * slm_kvalues_iq4nl[qs[j] >> 4];
        }
        y += SLM_QK4_NL;
    }
}

/* --------------------------------------------------------------- IQ4_XS */

/* ggml's quantize_row_iq4_xs_ref is quantize_iq4_xs without weights: the
 * same search as llama-quantize's. */
void slm_quantize_row_iq4_xs(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    assert(n_per_row % QK_K == 0);
    slm_block_iq4_xs *y = vy;
    const int64_t nb = n_per_row / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        iq4_out out = {y[i].d, y[i].qs, y[i].scales_h, y[i].scales_l};
        quantize_iq4_impl(QK_K, x + QK_K * i, out, qw ? qw + QK_K * i : NULL, 7);
    }
}

void slm_quantize_row_iq4_xs_ref(const float *x, void *vy, int64_t n) { slm_quantize_row_iq4_xs(x, vy, n, NULL); }

void slm_dequantize_row_iq4_xs(const void *vx, float *y, int64_t k) {
    assert(k % QK_K == 0);
    const slm_block_iq4_xs *x = vx;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *qs = x[i].qs;
        const float d = slm_load_f16(x[i].d);
        const uint16_t scales_h = slm_load_u16le(x[i].scales_h);
        for (int ib = 0; ib < QK_K / 32; ++ib) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j + 0] = dl * slm_kvalues_iq4nl[qs[j] & 0xf];
                y[j + 16] = dl * slm_kvalues_iq4nl[qs[j] >> 4];
            }
            y += 32;
            qs += 16;
        }
    }
}

SLM_CHECK_FN(slm_quantize_row_iq4_nl_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_iq4_nl, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_iq4_nl, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_iq4_xs_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_iq4_xs, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_iq4_xs, slm_quantize_row_fn);
