/* slmrt_gemm_kquant_avx512.c - batched products for Q4_K, Q5_K and Q6_K
 * weights against Q8_K activations, with AVX512_VNNI (see slmrt_gemm.h for
 * the scheme). Without them a batch of these types ran as bf16 through
 * oneDNN after decoding every weight (slmrt_onednn.c), or as one dot per
 * row and token.
 *
 * Panels hold 32 rows in the lanes of two vectors, as the Q8_0 panels do
 * (slmrt_gemm_avx512.h): per 32 columns, 8 groups of 4 weights per row, so
 * that one vpdpbusd multiplies 4 unsigned weights (0..15 for Q4_K, 0..31
 * for Q5_K, 0..63 for Q6_K as stored) of 16 rows by 4 signed activation
 * bytes of one token, broadcast. Per super-block and (row, token), all in
 * exact integers, as the dots compute them:
 *   Q4_K/Q5_K: T = sum_j sc_j * (sum over sub-block j of q*x),
 *              M = sum_j m_j * (sum over sub-block j of x),
 *              y += T * (d*d_x), then y -= M * (dmin*d_x);
 *   Q6_K:      T = sum_j sc_j * (sum over sub-block j of q*x - 32 * its
 *              sum of x), y += T * (d*d_x).
 * The dots keep the integer sums of a super-block in 8 lanes and add the
 * lanes in float at the end of the row; here each super-block's total meets
 * its scale at once. So batched results equal one-token results up to
 * float rounding (about 1e-7 of the sum of |terms|; tested), not bit for
 * bit as for Q8_0/Q4_0: the dots' order would take 8 float sums per row. */
#include <immintrin.h>
#include <string.h>

#include "slmrt_gemm.h"
#include "slmrt_gemm_avx512.h"
#include "slmrt_kernels_impl.h"
#include "slmrt_kernels_x86.h"
#include "slmrt_kquant_unpack_x86.h"

#define KQ_NT 4 /* tokens per tile: 8 sums + 8 totals + 8 float results of 32 rows in registers */

/* Panel sections per super-block, after the weights of all super-blocks
 * (8 KiB each: 8 blocks of 32 columns in the A5_QBLOCK layout). */
typedef struct kq_panel {
    const uint8_t *w;   /* [sb][8][A5_QBLOCK] */
    const int32_t *sc;  /* [sb][n_sc][32] sub-block scales */
    const int32_t *mp;  /* [sb][4 or 8][32] int16 pairs: mins (Q4_K/Q5_K), scales (Q6_K) */
    const float *d;     /* [sb][32] */
    const float *dmin;  /* [sb][32] (Q4_K/Q5_K) */
} kq_panel;

enum { KQ_W = 8 * A5_QBLOCK };

/* Bytes per super-block of a panel: the weights, then the scales and mins
 * (Q4_K/Q5_K: 8 scales, 4 min pairs, d and dmin; Q6_K: 16 scales, 8 scale
 * pairs, d). */
static size_t kq_sb_bytes(bool q6) {
    return KQ_W + (size_t)A5_P * (q6 ? 16 + 8 + 1 : 8 + 4 + 2) * sizeof(int32_t);
}

static kq_panel kq_panel_at(const void *panel, int n_sb, bool q6) {
    const uint8_t *p = panel;
    kq_panel k;
    k.w = p;
    k.sc = (const int32_t *)(p + (size_t)n_sb * KQ_W);
    k.mp = k.sc + (size_t)n_sb * (q6 ? 16 : 8) * A5_P;
    k.d = (const float *)(k.mp + (size_t)n_sb * (q6 ? 8 : 4) * A5_P);
    k.dmin = q6 ? NULL : k.d + (size_t)n_sb * A5_P;
    return k;
}

/* --------------------------------------------------------- activations */

/* ACT_Q8K from a prepared Q8_K row: quants and scales as they are; the
 * sums per 32 (Q4_K/Q5_K: one per sub-block, in int16 pairs 0-1, 2-3, ...)
 * or per 16 (Q6_K) quants. */
static SLMRT_ALWAYS_INLINE void kq_fill(const uint8_t *row, int n_in, int t, int n_tok, void *scratch,
                                        const bool per32) {
    const int n_sb = n_in / SLM_QK_K;
    int8_t *q;
    float *d;
    int16_t *bs;
    slmrt_gemm_q8k_layout(scratch, n_sb, n_tok, &q, &d, &bs);
    for (int b = 0; b < n_sb; b++) {
        const slm_block_q8_k *x = (const slm_block_q8_k *)row + b;
        const size_t at = (size_t)b * n_tok + t;
        memcpy(q + at * SLM_QK_K, x->qs, SLM_QK_K);
        memcpy(&d[at], (const uint8_t *)x + offsetof(slm_block_q8_k, d), sizeof(float));
        int16_t sums[16];
        memcpy(sums, (const uint8_t *)x + offsetof(slm_block_q8_k, bsums), sizeof sums);
        if (per32) {
            for (int j = 0; j < 8; j++) bs[at * 16 + j] = (int16_t)(sums[2 * j] + sums[2 * j + 1]);
            memset(bs + at * 16 + 8, 0, 8 * sizeof(int16_t));
        } else {
            memcpy(bs + at * 16, sums, sizeof sums);
        }
    }
}

static void kq_fill_per32(const uint8_t *row, int n_in, int t, int n_tok, void *scratch) {
    kq_fill(row, n_in, t, n_tok, scratch, true);
}

static void kq_fill_per16(const uint8_t *row, int n_in, int t, int n_tok, void *scratch) {
    kq_fill(row, n_in, t, n_tok, scratch, false);
}

/* -------------------------------------------------------------- panels */

/* The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (formats.md
 * §2.1). */
static void kq_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* One row's super-block as 256 unsigned quants in element order (the
 * order of the activations), with its scales (sc[8] or sc[16]), mins
 * (m[8]), d and dmin; element orders as in the dots (slmrt_kquant_x86.h). */
static void kq_unpack(const uint8_t *blk, slm_type type, uint8_t q[SLM_QK_K], int sc[16], int m[8], float *d,
                      float *dmin) {
    if (type == SLM_TYPE_Q6_K) {
        const slm_block_q6_k *b = (const slm_block_q6_k *)blk;
        for (int h = 0; h < 2; h++) {
            __m256i runs[4];
            slmrt_kq_q6_k_runs(b->ql, b->qh, h, runs);
            for (int k = 0; k < 4; k++) _mm256_storeu_si256((__m256i *)(q + 128 * h + 32 * k), runs[k]);
        }
        for (int j = 0; j < 16; j++) sc[j] = b->scales[j];
        *d = slm_f16_to_f32(slmrt_load_u16le(b->d));
        *dmin = 0.0f;
        return;
    }
    const bool q5 = type == SLM_TYPE_Q5_K;
    /* Q4_K: d dmin scales[12] qs[128]; Q5_K: d dmin scales[12] qh[32] qs[128] */
    const uint8_t *scales = blk + 4, *qs = blk + (q5 ? 48 : 16);
    const __m256i hbits = q5 ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        __m256i lo, hi;
        slmrt_kq_k4_chunk(qs, hbits, c, q5, &lo, &hi);
        _mm256_storeu_si256((__m256i *)(q + 64 * c), lo);
        _mm256_storeu_si256((__m256i *)(q + 64 * c + 32), hi);
    }
    for (int j = 0; j < 8; j++) kq_scale_min(scales, j, &sc[j], &m[j]);
    *d = slm_f16_to_f32(slmrt_load_u16le(blk));
    *dmin = slm_f16_to_f32(slmrt_load_u16le(blk + 2));
}

/* Panel: for every super-block the weights in the A5_QBLOCK layout (8
 * blocks of 32 columns), then the sections of kq_panel. Rows past n_rows
 * are zero. */
static SLMRT_ALWAYS_INLINE void kq_pack(const uint8_t *w, size_t rs, int n_rows, int kc, void *panel,
                                        const slm_type type) {
    const bool q6 = type == SLM_TYPE_Q6_K;
    const int n_sb = kc / SLM_QK_K, n_sc = q6 ? 16 : 8;
    const size_t bsize = slm_type_row_size(type, SLM_QK_K);
    const kq_panel k = kq_panel_at(panel, n_sb, q6);
    int32_t *sc = (int32_t *)k.sc, *mp = (int32_t *)k.mp;
    float *dd = (float *)k.d, *dm = (float *)k.dmin;
    for (int b = 0; b < n_sb; b++) {
        _Alignas(64) uint8_t q[A5_P][SLM_QK_K];
        for (int r = 0; r < A5_P; r++) {
            int s[16] = {0}, m[8] = {0};
            float d = 0.0f, dmin = 0.0f;
            if (r < n_rows) kq_unpack(w + (size_t)r * rs + (size_t)b * bsize, type, q[r], s, m, &d, &dmin);
            else memset(q[r], 0, SLM_QK_K);
            for (int j = 0; j < n_sc; j++) sc[((size_t)b * n_sc + j) * A5_P + r] = s[j];
            /* int16 pairs for vpdpwssd: mins (Q4_K/Q5_K) or scales (Q6_K) */
            for (int i = 0; i < n_sc / 2; i++) {
                const int lo = q6 ? s[2 * i] : m[2 * i], hi = q6 ? s[2 * i + 1] : m[2 * i + 1];
                mp[((size_t)b * (n_sc / 2) + i) * A5_P + r] = (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)hi << 16);
            }
            dd[(size_t)b * A5_P + r] = d;
            if (!q6) dm[(size_t)b * A5_P + r] = dmin;
        }
        for (int j = 0; j < 8; j++)
            for (int h = 0; h < 2; h++) {
                __m256i R[16];
                for (int i = 0; i < 16; i++) R[i] = _mm256_load_si256((const __m256i *)(q[16 * h + i] + 32 * j));
                a5_transpose16x8(R, (uint8_t *)k.w + (size_t)b * KQ_W + (size_t)j * A5_QBLOCK + 64 * h);
            }
    }
}

static void kq_pack_q4_k(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0; /* whole rows */
    kq_pack(w, rs, n_rows, kc, panel, SLM_TYPE_Q4_K);
}

static void kq_pack_q5_k(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0;
    kq_pack(w, rs, n_rows, kc, panel, SLM_TYPE_Q5_K);
}

static void kq_pack_q6_k(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0;
    kq_pack(w, rs, n_rows, kc, panel, SLM_TYPE_Q6_K);
}

/* ------------------------------------------------------------- kernels */

/* The integer sums over groups [g0, g1) of 32-column block j of
 * super-block b, for 32 rows (s0: rows 0-15, s1: 16-31) and nt tokens. */
static SLMRT_ALWAYS_INLINE void kq_block_sums(const uint8_t *W, const int8_t *qb, int n_tok, int j, int g0, int g1,
                                              const int nt, __m512i *s0, __m512i *s1) {
    for (int t = 0; t < nt; t++) s0[t] = s1[t] = _mm512_setzero_si512();
    for (int g = g0; g < g1; g++) {
        const __m512i w0 = _mm512_loadu_si512(W + (size_t)j * A5_QBLOCK + g * 128);
        const __m512i w1 = _mm512_loadu_si512(W + (size_t)j * A5_QBLOCK + g * 128 + 64);
        for (int t = 0; t < nt; t++) {
            const __m512i xb = _mm512_set1_epi32(a5_load_i32(qb + (size_t)t * SLM_QK_K + 32 * j + 4 * g));
            s0[t] = _mm512_dpbusd_epi32(s0[t], w0, xb);
            s1[t] = _mm512_dpbusd_epi32(s1[t], w1, xb);
        }
    }
}

/* nt tokens (a constant after inlining) from t0, every super-block of the
 * panel, for Q4_K/Q5_K (q6 false) or Q6_K. */
static SLMRT_ALWAYS_INLINE void kq_tile(const void *panel, int kc, const slmrt_gemm_act *a, int t0, const int nt,
                                        float *y, size_t ldy, int n_rows, const float *bias, const bool q6) {
    const int n_sb = kc / SLM_QK_K, n_sc = q6 ? 16 : 8, n_pairs = n_sc / 2;
    const kq_panel k = kq_panel_at(panel, n_sb, q6);
    __m512 f0[KQ_NT], f1[KQ_NT];
    for (int t = 0; t < nt; t++) f0[t] = f1[t] = _mm512_setzero_ps();
    for (int b = 0; b < n_sb; b++) {
        const uint8_t *W = k.w + (size_t)b * KQ_W;
        const int8_t *qb = a->q + ((size_t)b * a->n_tok + t0) * SLM_QK_K;
        const int32_t *sc = k.sc + (size_t)b * n_sc * A5_P;
        __m512i T0[KQ_NT], T1[KQ_NT], s0[KQ_NT], s1[KQ_NT];
        for (int t = 0; t < nt; t++) T0[t] = T1[t] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            /* Q4_K/Q5_K: one sub-block of 32; Q6_K: two of 16 (groups 0-3, 4-7) */
            for (int half = 0; half < (q6 ? 2 : 1); half++) {
                kq_block_sums(W, qb, a->n_tok, j, q6 ? 4 * half : 0, q6 ? 4 * half + 4 : 8, nt, s0, s1);
                const int32_t *scj = sc + (size_t)(q6 ? 2 * j + half : j) * A5_P;
                const __m512i c0 = _mm512_loadu_si512(scj), c1 = _mm512_loadu_si512(scj + 16);
                for (int t = 0; t < nt; t++) {
                    T0[t] = _mm512_add_epi32(T0[t], _mm512_mullo_epi32(s0[t], c0));
                    T1[t] = _mm512_add_epi32(T1[t], _mm512_mullo_epi32(s1[t], c1));
                }
            }
        }
        /* mins (Q4_K/Q5_K) or the -32 offset (Q6_K): int16 pairs of the
         * panel times pairs of activation sums */
        const int32_t *mp = k.mp + (size_t)b * n_pairs * A5_P;
        const int16_t *bs = a->bsums + ((size_t)b * a->n_tok + t0) * 16;
        for (int t = 0; t < nt; t++) s0[t] = s1[t] = _mm512_setzero_si512();
        for (int i = 0; i < n_pairs; i++) {
            const __m512i m0 = _mm512_loadu_si512(mp + (size_t)i * A5_P), m1 = _mm512_loadu_si512(mp + (size_t)i * A5_P + 16);
            for (int t = 0; t < nt; t++) {
                const __m512i xp = _mm512_set1_epi32(a5_load_i32(bs + (size_t)t * 16 + 2 * i));
                s0[t] = _mm512_dpwssd_epi32(s0[t], m0, xp);
                s1[t] = _mm512_dpwssd_epi32(s1[t], m1, xp);
            }
        }
        const float *dx = a->d + (size_t)b * a->n_tok + t0;
        const __m512 d0 = _mm512_loadu_ps(k.d + (size_t)b * A5_P), d1 = _mm512_loadu_ps(k.d + (size_t)b * A5_P + 16);
        if (q6) {
            for (int t = 0; t < nt; t++) {
                const __m512 x = _mm512_set1_ps(dx[t]);
                const __m512i v0 = _mm512_sub_epi32(T0[t], _mm512_slli_epi32(s0[t], 5));
                const __m512i v1 = _mm512_sub_epi32(T1[t], _mm512_slli_epi32(s1[t], 5));
                f0[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v0), _mm512_mul_ps(d0, x), f0[t]);
                f1[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v1), _mm512_mul_ps(d1, x), f1[t]);
            }
        } else {
            const __m512 m0 = _mm512_loadu_ps(k.dmin + (size_t)b * A5_P);
            const __m512 m1 = _mm512_loadu_ps(k.dmin + (size_t)b * A5_P + 16);
            for (int t = 0; t < nt; t++) {
                const __m512 x = _mm512_set1_ps(dx[t]);
                f0[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(T0[t]), _mm512_mul_ps(d0, x), f0[t]);
                f1[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(T1[t]), _mm512_mul_ps(d1, x), f1[t]);
                f0[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(s0[t]), _mm512_mul_ps(m0, x), f0[t]);
                f1[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(s1[t]), _mm512_mul_ps(m1, x), f1[t]);
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        float *yt = y + (size_t)(t0 + t) * ldy;
        a5_store(yt, f0[t], 0, n_rows, true, bias);
        a5_store(yt + 16, f1[t], 16, n_rows, true, bias ? bias + 16 : NULL);
    }
}

static SLMRT_ALWAYS_INLINE void kq_kernel(const void *panel, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                                          size_t ldy, int n_rows, const float *bias, const bool q6) {
    int t = 0;
    for (; t + KQ_NT <= n_tok; t += KQ_NT) kq_tile(panel, kc, a, t, KQ_NT, y, ldy, n_rows, bias, q6);
    switch (n_tok - t) {
    case 3: kq_tile(panel, kc, a, t, 3, y, ldy, n_rows, bias, q6); break;
    case 2: kq_tile(panel, kc, a, t, 2, y, ldy, n_rows, bias, q6); break;
    case 1: kq_tile(panel, kc, a, t, 1, y, ldy, n_rows, bias, q6); break;
    default: break;
    }
}

static void kq_kernel_k4(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                         size_t ldy, int n_rows, bool first, const float *bias) {
    (void)k0, (void)first; /* whole rows */
    kq_kernel(panel, kc, a, n_tok, y, ldy, n_rows, bias, false);
}

static void kq_kernel_q6_k(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                           size_t ldy, int n_rows, bool first, const float *bias) {
    (void)k0, (void)first;
    kq_kernel(panel, kc, a, n_tok, y, ldy, n_rows, bias, true);
}

void slmrt_gemm_kquant_init_avx512(slmrt_gemm *g) {
    const slmrt_gemm_type k4 = {.act = SLMRT_GEMM_ACT_Q8K, .fill = kq_fill_per32, .panel_rows = A5_P, .kc = 0,
                                .k_align = SLM_QK_K, .min_tokens = 4, .exact = false,
                                .col_bytes = (kq_sb_bytes(false) + SLM_QK_K - 1) / SLM_QK_K,
                                .kernel = kq_kernel_k4};
    g->by_type[SLM_TYPE_Q4_K] = k4;
    g->by_type[SLM_TYPE_Q4_K].pack = kq_pack_q4_k;
    g->by_type[SLM_TYPE_Q5_K] = k4;
    g->by_type[SLM_TYPE_Q5_K].pack = kq_pack_q5_k;
    g->by_type[SLM_TYPE_Q6_K] = (slmrt_gemm_type){.act = SLMRT_GEMM_ACT_Q8K, .fill = kq_fill_per16,
                                                  .panel_rows = A5_P, .kc = 0, .k_align = SLM_QK_K,
                                                  .min_tokens = 4, .exact = false,
                                                  .col_bytes = (kq_sb_bytes(true) + SLM_QK_K - 1) / SLM_QK_K,
                                                  .pack = kq_pack_q6_k, .kernel = kq_kernel_q6_k};
}
