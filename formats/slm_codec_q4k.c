/* slm_codec_q4k.c - Q4_K and Q5_K super-blocks: decoders, the reference
 * encoders (ggml's quantize_row_q4_K_ref / q5_K_ref, formats.md §2.2) and
 * llama.cpp's importance-weighted quantize_q4_K / quantize_q5_K (§2.3).
 *
 * The two types share everything but the level count (15 or 31), the
 * reference search grid, and where the 5th bit goes; one implementation
 * serves both. Keep ggml's order of operations (slm_codec_impl.h). */
#include <assert.h>
#include <math.h>

#include "slm_codec_impl.h"

#define QK_K SLM_QK_K

/* What differs between Q4_K and Q5_K's encoders. */
typedef struct kquant_shape {
    int nmax;         /* 15 or 31 */
    float ref_rmin;   /* reference make_qkx2_quants grid */
    float ref_rdelta;
    int ref_nstep;
} kquant_shape;

static const kquant_shape q4_k_shape = {15, -1.f, 0.1f, 20};
static const kquant_shape q5_k_shape = {31, -0.5f, 0.1f, 15};

/* Requantizes every sub-block against the stored (fp16 d * 6-bit scale,
 * fp16 dmin * 6-bit min); a sub-block whose scale is 0 keeps its fit. */
static void requantize(const float *x, const uint8_t d_h[2], const uint8_t dmin_h[2],
                       const uint8_t scales[SLM_K_SCALE_SIZE], int nmax, uint8_t *L) {
    uint8_t sc, m;
    for (int j = 0; j < QK_K / 32; ++j) {
        slm_get_scale_min_k4(j, scales, &sc, &m);
        const float d = slm_load_f16(d_h) * sc;
        if (!d) continue;
        const float dm = slm_load_f16(dmin_h) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = slm_nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)slm_imax(0, slm_imin(nmax, l));
        }
    }
}

/* Fills scales, d, dmin and L for one super-block with the reference rule:
 * qkx2 per sub-block with weights av + |x|, then 6-bit scales relative to
 * the largest scale and min. */
static void encode_scales_ref(const float *x, const kquant_shape *sh, uint8_t scales_out[SLM_K_SCALE_SIZE],
                              uint8_t d_h[2], uint8_t dmin_h[2], uint8_t *L) {
    float weights[QK_K];
    float mins[QK_K / 32];
    float scales[QK_K / 32];
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[32 * j + l] = av_x + fabsf(x[32 * j + l]);
    }
    /* make_qkx2_quants on all 8 sub-blocks at once */
    slm_make_qkx_quants_groups(QK_K / 32, 32, sh->nmax, x, weights, L, mins, scales, sh->ref_rmin, sh->ref_rdelta,
                               sh->ref_nstep, false, false);
    for (int j = 0; j < QK_K / 32; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < QK_K / 32; ++j) {
        /* ggml stores nearest_int in a uint8_t, then clamps. */
        uint8_t s = (uint8_t)slm_nearest_int(inv_scale * scales[j]);
        uint8_t m = (uint8_t)slm_nearest_int(inv_min * mins[j]);
        ls[j] = s < 63 ? s : 63;
        lm[j] = m < 63 ? m : 63;
    }
    slm_pack_scale_min_k4(ls, lm, scales_out);
    slm_store_f16(d_h, max_scale / 63.f);
    slm_store_f16(dmin_h, max_min / 63.f);
}

/* The weighted rule: weights qw*sqrt(sigma2 + x^2), sigma2 = 2*mean square
 * of the super-block (ggml's impl also has a qw == NULL branch, but
 * llama.cpp never reaches it: no imatrix means the reference rule); qkx3 per
 * sub-block, then scales and mins to 6 bits by make_qp_quants weighted by
 * each sub-block's total weight. */
static void encode_scales_weighted(const float *x, const float *qw, int nmax, bool clamp63,
                                   uint8_t scales_out[SLM_K_SCALE_SIZE], uint8_t d_h[2], uint8_t dmin_h[2],
                                   uint8_t *L) {
    uint8_t Ls[QK_K / 32];
    uint8_t Lm[QK_K / 32];
    float weights[QK_K];
    float sw[QK_K / 32];
    float mins[QK_K / 32];
    float scales[QK_K / 32];
    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
    float sigma2 = 2 * sum_x2 / QK_K;
    for (int j = 0; j < QK_K / 32; ++j) {
        float *w = weights + 32 * j;
        for (int l = 0; l < 32; ++l) w[l] = qw[32 * j + l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 32; ++l) sumw += w[l];
        sw[j] = sumw;
    }
    /* make_qkx3_quants on all 8 sub-blocks at once */
    slm_make_qkx_quants_groups(QK_K / 32, 32, nmax, x, weights, L, mins, scales, -0.9f, 0.05f, 36, false, true);
    float d_block = slm_make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    float m_block = slm_make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    /* make_qp_quants caps levels at 63 but lets a negative one (from a
     * negative scale) wrap; ggml's Q5_K clamps that again, its Q4_K does not. */
    for (int j = 0; clamp63 && j < QK_K / 32; ++j) {
        Ls[j] = Ls[j] < 63 ? Ls[j] : 63;
        Lm[j] = Lm[j] < 63 ? Lm[j] : 63;
    }
    slm_pack_scale_min_k4(Ls, Lm, scales_out);
    slm_store_f16(d_h, d_block);
    slm_store_f16(dmin_h, m_block);
}

/* ----------------------------------------------------------------- Q4_K */

/* Per 64 elements, 32 bytes: element l in the low nibble, l+32 in the high. */
static void pack_q4_k(const uint8_t *L, uint8_t qs[QK_K / 2]) {
    uint8_t *q = qs;
    for (int j = 0; j < QK_K; j += 64) {
        for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        q += 32;
    }
}

/* The weighted rule when qw is given, else the reference rule. */
static void encode_q4_k(const float *x, slm_block_q4_k *y, int64_t n, const float *qw) {
    uint8_t L[QK_K];
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        if (qw) encode_scales_weighted(x, qw + QK_K * i, 15, false, y[i].scales, y[i].d, y[i].dmin, L);
        else encode_scales_ref(x, &q4_k_shape, y[i].scales, y[i].d, y[i].dmin, L);
        requantize(x, y[i].d, y[i].dmin, y[i].scales, 15, L);
        pack_q4_k(L, y[i].qs);
        x += QK_K;
    }
}

void slm_quantize_row_q4_k_ref(const float *x, void *vy, int64_t k) {
    assert(k % QK_K == 0);
    encode_q4_k(x, vy, k, NULL);
}

/* llama.cpp uses the reference rule when there is no importance matrix. */
void slm_quantize_row_q4_k(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    assert(n_per_row % QK_K == 0);
    encode_q4_k(x, vy, n_per_row, qw);
}

void slm_dequantize_row_q4_k(const void *vx, float *y, int64_t k) {
    assert(k % QK_K == 0);
    const slm_block_q4_k *x = vx;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        const float d = slm_load_f16(x[i].d);
        const float min = slm_load_f16(x[i].dmin);
        int is = 0;
        uint8_t sc, m;
        for (int j = 0; j < QK_K; j += 64) {
            slm_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc;
            const float m1 = min * m;
            slm_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc;
            const float m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

/* ----------------------------------------------------------------- Q5_K */

/* Low nibbles as Q4_K; bit 4 of element 64c+l at bit 2c of qh[l], of
 * element 64c+32+l at bit 2c+1. */
static void pack_q5_k(const uint8_t *L, uint8_t qh[QK_K / 8], uint8_t qs[QK_K / 2]) {
    uint8_t *ql = qs;
    memset(qh, 0, QK_K / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < QK_K; n += 64) {
        for (int j = 0; j < 32; ++j) {
            int l1 = L[n + j];
            if (l1 > 15) {
                l1 -= 16;
                qh[j] |= m1;
            }
            int l2 = L[n + j + 32];
            if (l2 > 15) {
                l2 -= 16;
                qh[j] |= m2;
            }
            ql[j] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 = (uint8_t)(m1 << 2);
        m2 = (uint8_t)(m2 << 2);
        ql += 32;
    }
}

/* The weighted rule when qw is given, else the reference rule. */
static void encode_q5_k(const float *x, slm_block_q5_k *y, int64_t n, const float *qw) {
    uint8_t L[QK_K];
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        if (qw) encode_scales_weighted(x, qw + QK_K * i, 31, true, y[i].scales, y[i].d, y[i].dmin, L);
        else encode_scales_ref(x, &q5_k_shape, y[i].scales, y[i].d, y[i].dmin, L);
        requantize(x, y[i].d, y[i].dmin, y[i].scales, 31, L);
        pack_q5_k(L, y[i].qh, y[i].qs);
        x += QK_K;
    }
}

void slm_quantize_row_q5_k_ref(const float *x, void *vy, int64_t k) {
    assert(k % QK_K == 0);
    encode_q5_k(x, vy, k, NULL);
}

void slm_quantize_row_q5_k(const float *x, void *vy, int64_t n_per_row, const float *qw) {
    assert(n_per_row % QK_K == 0);
    encode_q5_k(x, vy, n_per_row, qw);
}

void slm_dequantize_row_q5_k(const void *vx, float *y, int64_t k) {
    assert(k % QK_K == 0);
    const slm_block_q5_k *x = vx;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs;
        const uint8_t *qh = x[i].qh;
        const float d = slm_load_f16(x[i].d);
        const float min = slm_load_f16(x[i].dmin);
        int is = 0;
        uint8_t sc, m;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64) {
            slm_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc;
            const float m1 = min * m;
            slm_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc;
            const float m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

SLM_CHECK_FN(slm_quantize_row_q4_k_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q4_k, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q4_k, slm_quantize_row_fn);
SLM_CHECK_FN(slm_quantize_row_q5_k_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q5_k, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q5_k, slm_quantize_row_fn);
