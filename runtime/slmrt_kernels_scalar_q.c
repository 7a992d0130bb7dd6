/* slmrt_kernels_scalar_q.c - the reference dots of the quantized types
 * beyond Q8_0/Q4_0 (Q4_1, Q5_0, Q5_1, IQ4_NL on 32-element blocks; Q2_K..Q6_K
 * and IQ4_XS on 256-element super-blocks), in plain C.
 *
 * Partners follow ggml's vec_dot_type, so activations are rounded as in
 * llama.cpp: Q8_1 for Q4_1/Q5_1 (its s = d·Σq carries the weight's min),
 * Q8_0 for Q5_0/IQ4_NL, Q8_K for the K-quants and IQ4_XS (its bsums, the sums
 * of 16 quants, carry the K-quant mins).
 *
 * Each weight block is first unpacked into signed integer quants and
 * integer sub-block scales (formats.md §2.1), then every sub-block's
 * integer sum is exact and meets its scales once per (super-)block:
 *   sum += (d_x·d_w)·Σ_j sc_j·Σ q·x  −  (d_x·dmin_w)·Σ_j m_j·Σ x
 * in float, blocks in order. The SIMD kernels keep the same integer sums;
 * their float order may differ (tests compare within rounding). */
#include <string.h>

#include "slmrt_kernels.h"
#include "slmrt_kernels_impl.h"

#define QK_K SLM_QK_K

static float f16_at(const uint8_t *p) { return slm_f16_to_f32(slmrt_load_u16le(p)); }

/* Q8_K's d and bsums are native f32/int16 in the struct; rows in tests may
 * sit at any byte offset, so read them through memcpy. */
static float q8k_d(const slm_block_q8_k *b) {
    float d;
    memcpy(&d, (const uint8_t *)b + offsetof(slm_block_q8_k, d), sizeof d);
    return d;
}

static int q8k_bsum(const slm_block_q8_k *b, int j) {
    int16_t s;
    memcpy(&s, (const uint8_t *)b + offsetof(slm_block_q8_k, bsums) + 2 * (size_t)j, sizeof s);
    return s;
}

/* ---------------------------------------------------- 32-element blocks */

/* Element j of a block with Q4_0's nibble order (low nibble j < 16, high
 * nibble j - 16), plus bit 4 from a 32-bit qh when given. */
static int nibble_at(const uint8_t qs[16], int j) { return j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4; }

static int32_t dot32(const int8_t q[32], const int8_t *x) {
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += q[j] * x[j];
    return s;
}

static void prepare_q8_1(const float *x, void *out, int n) { slm_type_traits_get(SLM_TYPE_Q8_1)->from_f32(x, out, n); }

/* prepare for Q8_0-partner types: the shared layout (slmrt_q8_prep) */
static void prepare_q8_0(const float *x, void *out, int n) {
    slm_type_traits_get(SLM_TYPE_Q8_0)->from_f32(x, out, n);
    slmrt_q8_prep_finish(out, n);
}

static void prepare_q8_k(const float *x, void *out, int n) { slm_type_traits_get(SLM_TYPE_Q8_K)->from_f32(x, out, n); }

static float dot_q4_1_q8_1(int n, const void *w_row, const void *x_prepared) {
    const slm_block_q4_1 *w = w_row;
    const slm_block_q8_1 *x = x_prepared;
    float sum = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        int8_t q[32];
        for (int j = 0; j < 32; j++) q[j] = (int8_t)nibble_at(w[b].qs, j);
        /* x = d·q + m: Σ = d_w·d_x·Σ q·x_q + m_w·(d_x·Σ x_q) */
        sum += (f16_at(w[b].d) * f16_at(x[b].d)) * (float)dot32(q, x[b].qs) + f16_at(w[b].m) * f16_at(x[b].s);
    }
    return sum;
}

static float dot_q5_1_q8_1(int n, const void *w_row, const void *x_prepared) {
    const slm_block_q5_1 *w = w_row;
    const slm_block_q8_1 *x = x_prepared;
    float sum = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        const uint32_t qh = slm_load_u32le(w[b].qh);
        int8_t q[32];
        for (int j = 0; j < 32; j++) q[j] = (int8_t)(nibble_at(w[b].qs, j) | ((qh >> j) & 1) << 4);
        sum += (f16_at(w[b].d) * f16_at(x[b].d)) * (float)dot32(q, x[b].qs) + f16_at(w[b].m) * f16_at(x[b].s);
    }
    return sum;
}

static float dot_q5_0_q8_0(int n, const void *w_row, const void *x_prepared) {
    const slm_block_q5_0 *w = w_row;
    const slmrt_block_q8_0 *x = x_prepared;
    float sum = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        const uint32_t qh = slm_load_u32le(w[b].qh);
        int8_t q[32];
        for (int j = 0; j < 32; j++) q[j] = (int8_t)((nibble_at(w[b].qs, j) | ((qh >> j) & 1) << 4) - 16);
        sum += (float)dot32(q, x[b].qs) * (f16_at(w[b].d) * f16_at(x[b].d));
    }
    return sum;
}

static float dot_iq4_nl_q8_0(int n, const void *w_row, const void *x_prepared) {
    const slm_block_iq4_nl *w = w_row;
    const slmrt_block_q8_0 *x = x_prepared;
    float sum = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        int8_t q[32];
        for (int j = 0; j < 32; j++) q[j] = slm_kvalues_iq4nl[nibble_at(w[b].qs, j)];
        sum += (float)dot32(q, x[b].qs) * (f16_at(w[b].d) * f16_at(x[b].d));
    }
    return sum;
}

/* ------------------------------------------------------ 256-element K */

/* One super-block unpacked: quants q[256] (signed), the scale of each of
 * n_sub sub-blocks, and their mins (zero for types without). */
typedef struct k_unpacked {
    int8_t q[QK_K];
    int sc[16], m[16];
    int n_sub; /* 8 (32 elements) or 16 (16 elements) */
    float d, dmin;
} k_unpacked;

/* Σ_j sc_j Σ q·x and Σ_j m_j Σ x (from bsums) of one super-block. */
static float k_block_dot(const k_unpacked *u, const slm_block_q8_k *x) {
    const int len = QK_K / u->n_sub;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < u->n_sub; j++) {
        int32_t s = 0;
        for (int l = 0; l < len; l++) s += u->q[j * len + l] * x->qs[j * len + l];
        isum += u->sc[j] * s;
        /* bsums cover 16 elements: a 32-element sub-block has two */
        const int bs = len == 16 ? q8k_bsum(x, j) : q8k_bsum(x, 2 * j) + q8k_bsum(x, 2 * j + 1);
        msum += u->m[j] * bs;
    }
    const float dx = q8k_d(x);
    return (dx * u->d) * (float)isum - (dx * u->dmin) * (float)msum;
}

static void unpack_q2_k(const slm_block_q2_k *b, k_unpacked *u) {
    u->n_sub = 16;
    u->d = f16_at(b->d);
    u->dmin = f16_at(b->dmin);
    for (int j = 0; j < 16; j++) {
        u->sc[j] = b->scales[j] & 0x0F;
        u->m[j] = b->scales[j] >> 4;
    }
    for (int e = 0; e < QK_K; e++) {
        const int h = e / 128, j = (e % 128) / 32, l = e % 32;
        u->q[e] = (int8_t)((b->qs[32 * h + l] >> (2 * j)) & 3);
    }
}

static void unpack_q3_k(const slm_block_q3_k *b, k_unpacked *u) {
    u->n_sub = 16;
    u->d = f16_at(b->d);
    u->dmin = 0.0f;
    for (int s = 0; s < 16; s++) {
        const int low4 = (b->scales[s % 8] >> (4 * (s / 8))) & 0x0F;
        const int high2 = (b->scales[8 + s % 4] >> (2 * (s / 4))) & 3;
        u->sc[s] = (low4 | high2 << 4) - 32;
        u->m[s] = 0;
    }
    for (int e = 0; e < QK_K; e++) {
        const int h = e / 128, j = (e % 128) / 32, l = e % 32;
        const int low = (b->qs[32 * h + l] >> (2 * j)) & 3;
        const int hbit = (b->hmask[l] >> (4 * h + j)) & 1;
        u->q[e] = (int8_t)(low + 4 * hbit - 4);
    }
}

/* The 6-bit scales and mins of Q4_K/Q5_K (formats.md §2.1). */
static void unpack_k4_scales(const uint8_t s[12], int sc[8], int m[8]) {
    for (int j = 0; j < 8; j++) {
        uint8_t scj, mj;
        slm_get_scale_min_k4(j, s, &scj, &mj);
        sc[j] = scj;
        m[j] = mj;
    }
}

static void unpack_q4_k(const slm_block_q4_k *b, k_unpacked *u) {
    u->n_sub = 8;
    u->d = f16_at(b->d);
    u->dmin = f16_at(b->dmin);
    unpack_k4_scales(b->scales, u->sc, u->m);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            u->q[64 * c + l] = (int8_t)(b->qs[32 * c + l] & 0x0F);
            u->q[64 * c + 32 + l] = (int8_t)(b->qs[32 * c + l] >> 4);
        }
}

static void unpack_q5_k(const slm_block_q5_k *b, k_unpacked *u) {
    u->n_sub = 8;
    u->d = f16_at(b->d);
    u->dmin = f16_at(b->dmin);
    unpack_k4_scales(b->scales, u->sc, u->m);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            u->q[64 * c + l] = (int8_t)((b->qs[32 * c + l] & 0x0F) | ((b->qh[l] >> (2 * c)) & 1) << 4);
            u->q[64 * c + 32 + l] = (int8_t)((b->qs[32 * c + l] >> 4) | ((b->qh[l] >> (2 * c + 1)) & 1) << 4);
        }
}

static void unpack_q6_k(const slm_block_q6_k *b, k_unpacked *u) {
    u->n_sub = 16;
    u->d = f16_at(b->d);
    u->dmin = 0.0f;
    for (int j = 0; j < 16; j++) {
        u->sc[j] = b->scales[j];
        u->m[j] = 0;
    }
    for (int h = 0; h < 2; h++) {
        const uint8_t *L = b->ql + 64 * h, *H = b->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            u->q[128 * h + l] = (int8_t)(((L[l] & 0x0F) | ((H[l] >> 0) & 3) << 4) - 32);
            u->q[128 * h + 32 + l] = (int8_t)(((L[l + 32] & 0x0F) | ((H[l] >> 2) & 3) << 4) - 32);
            u->q[128 * h + 64 + l] = (int8_t)(((L[l] >> 4) | ((H[l] >> 4) & 3) << 4) - 32);
            u->q[128 * h + 96 + l] = (int8_t)(((L[l + 32] >> 4) | ((H[l] >> 6) & 3) << 4) - 32);
        }
    }
}

static void unpack_iq4_xs(const slm_block_iq4_xs *b, k_unpacked *u) {
    u->n_sub = 8;
    u->d = f16_at(b->d);
    u->dmin = 0.0f;
    const unsigned scales_h = slmrt_load_u16le(b->scales_h);
    for (int j = 0; j < 8; j++) {
        const int ls = ((b->scales_l[j / 2] >> (4 * (j % 2))) & 0x0F) | ((scales_h >> (2 * j)) & 3) << 4;
        u->sc[j] = ls - 32;
        u->m[j] = 0;
        for (int l = 0; l < 32; l++) u->q[32 * j + l] = slm_kvalues_iq4nl[nibble_at(b->qs + 16 * j, l)];
    }
}

#define K_DOT(name, block_t, unpack)                                                   \
    static float name(int n, const void *w_row, const void *x_prepared) {             \
        const block_t *w = w_row;                                                      \
        const slm_block_q8_k *x = x_prepared;                                          \
        float sum = 0.0f;                                                              \
        for (int b = 0; b < n / QK_K; b++) {                                           \
            k_unpacked u;                                                              \
            unpack(&w[b], &u);                                                         \
            sum += k_block_dot(&u, &x[b]);                                             \
        }                                                                              \
        return sum;                                                                    \
    }

K_DOT(dot_q2_k_q8_k, slm_block_q2_k, unpack_q2_k)
K_DOT(dot_q3_k_q8_k, slm_block_q3_k, unpack_q3_k)
K_DOT(dot_q4_k_q8_k, slm_block_q4_k, unpack_q4_k)
K_DOT(dot_q5_k_q8_k, slm_block_q5_k, unpack_q5_k)
K_DOT(dot_q6_k_q8_k, slm_block_q6_k, unpack_q6_k)
K_DOT(dot_iq4_xs_q8_k, slm_block_iq4_xs, unpack_iq4_xs)

void slmrt_kernels_scalar_add_quants(slmrt_kernels *k) {
    k->by_type[SLM_TYPE_Q4_1] = (slmrt_type_kernels){SLM_TYPE_Q8_1, prepare_q8_1, dot_q4_1_q8_1};
    k->by_type[SLM_TYPE_Q5_1] = (slmrt_type_kernels){SLM_TYPE_Q8_1, prepare_q8_1, dot_q5_1_q8_1};
    k->by_type[SLM_TYPE_Q5_0] = (slmrt_type_kernels){SLM_TYPE_Q8_0, prepare_q8_0, dot_q5_0_q8_0};
    k->by_type[SLM_TYPE_IQ4_NL] = (slmrt_type_kernels){SLM_TYPE_Q8_0, prepare_q8_0, dot_iq4_nl_q8_0};
    k->by_type[SLM_TYPE_Q2_K] = (slmrt_type_kernels){SLM_TYPE_Q8_K, prepare_q8_k, dot_q2_k_q8_k};
    k->by_type[SLM_TYPE_Q3_K] = (slmrt_type_kernels){SLM_TYPE_Q8_K, prepare_q8_k, dot_q3_k_q8_k};
    k->by_type[SLM_TYPE_Q4_K] = (slmrt_type_kernels){SLM_TYPE_Q8_K, prepare_q8_k, dot_q4_k_q8_k};
    k->by_type[SLM_TYPE_Q5_K] = (slmrt_type_kernels){SLM_TYPE_Q8_K, prepare_q8_k, dot_q5_k_q8_k};
    k->by_type[SLM_TYPE_Q6_K] = (slmrt_type_kernels){SLM_TYPE_Q8_K, prepare_q8_k, dot_q6_k_q8_k};
    k->by_type[SLM_TYPE_IQ4_XS] = (slmrt_type_kernels){SLM_TYPE_Q8_K, prepare_q8_k, dot_iq4_xs_q8_k};
}
