/* slmrt_gemm_avx2.c - the AVX2 GEMM table (AVX2 + FMA + F16C, the flags of
 * the AVX2 kernel table; see slmrt_gemm.h for the scheme). Panels hold 16
 * rows: two 8-lane vectors per column group, one lane per weight row.
 *
 * Quantized weights (no VNNI here): a panel keeps, per 32-column block and
 * per group of 4 columns, the 4 weight bytes of each of the 16 rows side by
 * side; a token's 4 activation bytes are broadcast to all lanes. maddubs
 * (unsigned x signed bytes, pairs summed into int16) and madd (pairs of
 * int16 into int32) then give each row's exact partial sum:
 * - Q4_0: the unsigned nibble q (0..15) times x, pair sums at most
 *   2*15*127 in magnitude; x*(q-8) = x*q - 8*x, and the 8*sum(x) of each
 *   block is subtracted by starting the block's sum at -8*sum(x);
 * - Q8_0: |w| times x carrying w's sign (as the AVX2 dot kernels do),
 *   pair sums at most 2*128*127 < 32768 because the Q8_0 encoder keeps
 *   |x| <= 127.
 * So every block's integer sum is exact, and the blocks are then added in
 * float in the order of the matrix-vector dots (slmrt_x86_dot_blocks): 8
 * running sums, block b into sum b % 8 with an FMA, the 8 added as
 * slmrt_x86_hsum_ps adds lanes, then the last nb % 8 blocks one by one
 * (product, then sum). Batched results equal one-token results bit for bit.
 *
 * BF16 weights: the panel holds the weights widened to f32, 16 rows per
 * column; activations are the prepared rows widened to f32 (exact),
 * broadcast one column at a time into FMAs (k order, in blocks of kc).
 *
 * F32 and F16 have no entry here: their sums must follow ggml's order (see
 * slmrt_gemm.h), whose 64 partial sums per (row, token) leave no AVX2
 * registers to reuse a load across rows or tokens; the matrix-vector dots
 * are as fast. */
#include <immintrin.h>
#include <string.h>

#include "slmrt_gemm.h"
#include "slmrt_kernels_impl.h"
#include "slmrt_kernels_x86.h"

#define A2_P 16                  /* rows per panel */
#define A2_QBLOCK (8 * A2_P * 4) /* quantized panel bytes per 32-column block */
#define A2_KC_F 512              /* columns per bf16 (f32) panel: 32 KiB */
#define A2_NT_Q 2                /* tokens per quantized tile (16 registers) */
#define A2_NT_F 6                /* tokens per float tile */

static inline int32_t a2_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ---------------------------------------------------- activation fills */

/* ACT_Q8: token t's blocks into the block-major arrays, with each block's
 * scale as f32 and minus the sum of its quants. */
static void a2_fill_q8(const uint8_t *row, int n_in, int t, int n_tok, void *scratch) {
    const int nb = n_in / SLMRT_QK8_0;
    int8_t *q;
    float *d;
    int32_t *nsum;
    slmrt_gemm_q8_layout(scratch, nb, n_tok, &q, &d, &nsum);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * sizeof(slmrt_block_q8_0);
        const size_t at = (size_t)b * n_tok + t;
        const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + 2));
        _mm256_storeu_si256((__m256i *)(q + 32 * at), v);
        d[at] = slmrt_x86_load_f16(blk);
        /* 1 * q in pairs (|sum| <= 256 fits int16), then pairs of pairs */
        nsum[at] = -slmrt_x86_hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v), ones16));
    }
}

static inline __m256 a2_bf16x8(const uint8_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

static inline float a2_bf16(const uint8_t *p) {
    const uint32_t u = (uint32_t)slmrt_load_u16le(p) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ACT_F32 for BF16: the row widened, in column order. */
static void a2_fill_bf16(const uint8_t *row, int n_in, int t, int n_tok, void *scratch) {
    (void)n_tok;
    float *f = (float *)scratch + (size_t)t * slmrt_gemm_f32_stride(n_in);
    int i = 0;
    for (; i + 8 <= n_in; i += 8) _mm256_storeu_ps(f + i, a2_bf16x8(row + 2 * i));
    for (; i < n_in; i++) f[i] = a2_bf16(row + 2 * i);
}

/* ------------------------------------------------------------- stores */

/* Lane mask of the rows [base, base+8) that are below n_rows. */
static inline __m256i a2_row_mask(int base, int n_rows) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n_rows - base), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Writes 8 rows of one token: y (+)= v (+ bias). */
static inline void a2_store(float *y, __m256 v, int base, int n_rows, bool first, const float *bias) {
    if (base + 8 <= n_rows) {
        if (!first) v = _mm256_add_ps(_mm256_loadu_ps(y), v);
        if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
        _mm256_storeu_ps(y, v);
    } else if (base < n_rows) {
        const __m256i m = a2_row_mask(base, n_rows);
        if (!first) v = _mm256_add_ps(_mm256_maskload_ps(y, m), v);
        if (bias) v = _mm256_add_ps(v, _mm256_maskload_ps(bias, m));
        _mm256_maskstore_ps(y, m, v);
    }
}

/* ------------------------------------------------------ quantized panels */

/* Panel (whole rows): [block][group g][row r][4 bytes] (the 4 weights of
 * columns 32b+4g.. of row r: Q4_0 as unsigned nibbles, Q8_0 as they are),
 * then the f32 scales [block][row]. Rows past n_rows are zero. */
static SLMRT_ALWAYS_INLINE void a2_pack_q(const uint8_t *w, size_t rs, int n_rows, int kc, void *panel,
                                          const bool q4) {
    const int nb = kc / SLMRT_QK8_0;
    uint8_t *P = panel;
    float *dw = (float *)(P + (size_t)nb * A2_QBLOCK);
    const size_t bsize = q4 ? sizeof(slmrt_block_q4_0) : sizeof(slmrt_block_q8_0);
    const __m128i lo4 = _mm_set1_epi8(0x0F);
    for (int r = 0; r < A2_P; r++) {
        const uint8_t *blk = w + (size_t)r * rs;
        for (int b = 0; b < nb; b++, blk += bsize) {
            uint8_t q[32];
            if (r >= n_rows) {
                memset(q, 0, sizeof q);
                dw[b * A2_P + r] = 0.0f;
            } else {
                if (q4) {
                    const __m128i v = _mm_loadu_si128((const __m128i *)(blk + 2));
                    _mm_storeu_si128((__m128i *)q, _mm_and_si128(v, lo4));
                    _mm_storeu_si128((__m128i *)(q + 16), _mm_and_si128(_mm_srli_epi16(v, 4), lo4));
                } else {
                    memcpy(q, blk + 2, 32);
                }
                dw[b * A2_P + r] = slmrt_x86_load_f16(blk);
            }
            uint8_t *dst = P + (size_t)b * A2_QBLOCK + (size_t)r * 4;
            for (int g = 0; g < 8; g++) memcpy(dst + g * A2_P * 4, q + 4 * g, 4);
        }
    }
}

static void a2_pack_q8_0(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0; /* whole rows */
    a2_pack_q(w, rs, n_rows, kc, panel, false);
}

static void a2_pack_q4_0(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0;
    a2_pack_q(w, rs, n_rows, kc, panel, true);
}

/* The exact integer sums of block b for 16 rows (i0: rows 0-7, i1: 8-15)
 * and nt tokens from t0. */
static SLMRT_ALWAYS_INLINE void a2_q_block(const uint8_t *panel, int b, const slmrt_gemm_act *a, int t0,
                                           const int nt, const bool q4, __m256i *i0, __m256i *i1) {
    const uint8_t *W = panel + (size_t)b * A2_QBLOCK;
    const int8_t *qb = a->q + ((size_t)b * a->n_tok + t0) * 32;
    const int32_t *sb = a->nsum + (size_t)b * a->n_tok + t0;
    const __m256i ones16 = _mm256_set1_epi16(1);
    for (int t = 0; t < nt; t++) {
        /* Q4_0: start at -8*sum(x), see the file comment */
        i0[t] = q4 ? _mm256_set1_epi32(sb[t] * 8) : _mm256_setzero_si256();
        i1[t] = i0[t];
    }
    for (int g = 0; g < 8; g++) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(W + g * 64));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(W + g * 64 + 32));
        if (q4) {
            for (int t = 0; t < nt; t++) {
                const __m256i xb = _mm256_set1_epi32(a2_load_i32(qb + 32 * t + 4 * g));
                i0[t] = _mm256_add_epi32(i0[t], _mm256_madd_epi16(_mm256_maddubs_epi16(w0, xb), ones16));
                i1[t] = _mm256_add_epi32(i1[t], _mm256_madd_epi16(_mm256_maddubs_epi16(w1, xb), ones16));
            }
        } else {
            const __m256i a0 = _mm256_abs_epi8(w0), a1 = _mm256_abs_epi8(w1);
            for (int t = 0; t < nt; t++) {
                const __m256i xb = _mm256_set1_epi32(a2_load_i32(qb + 32 * t + 4 * g));
                i0[t] = _mm256_add_epi32(i0[t],
                                         _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(xb, w0)), ones16));
                i1[t] = _mm256_add_epi32(i1[t],
                                         _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(xb, w1)), ones16));
            }
        }
    }
}

/* nt tokens (nt <= A2_NT_Q, a constant after inlining) starting at t0, all
 * blocks of the panel, summed in the matrix-vector order (file comment). */
static SLMRT_ALWAYS_INLINE void a2_q_tile(const uint8_t *panel, int kc, const slmrt_gemm_act *a, int t0,
                                          const int nt, const bool q4, float *y, size_t ldy, int n_rows,
                                          const float *bias) {
    const int nb = kc / SLMRT_QK8_0, nb8 = nb & ~7;
    const float *dw = (const float *)(panel + (size_t)nb * A2_QBLOCK);
    __m256 run[8][2][A2_NT_Q]; /* [b % 8][rows 0-7, 8-15][token]: the 8 running sums */
    __m256i i0[A2_NT_Q], i1[A2_NT_Q];
    for (int s = 0; s < 8; s++)
        for (int t = 0; t < nt; t++) run[s][0][t] = run[s][1][t] = _mm256_setzero_ps();
    for (int b = 0; b < nb8; b++) {
        a2_q_block(panel, b, a, t0, nt, q4, i0, i1);
        const __m256 dw0 = _mm256_loadu_ps(dw + b * A2_P), dw1 = _mm256_loadu_ps(dw + b * A2_P + 8);
        const float *db = a->d + (size_t)b * a->n_tok + t0;
        __m256(*rs)[A2_NT_Q] = run[b & 7];
        for (int t = 0; t < nt; t++) {
            const __m256 dx = _mm256_set1_ps(db[t]);
            rs[0][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0[t]), _mm256_mul_ps(dw0, dx), rs[0][t]);
            rs[1][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1[t]), _mm256_mul_ps(dw1, dx), rs[1][t]);
        }
    }
    __m256 sum[2][A2_NT_Q];
    for (int h = 0; h < 2; h++)
        for (int t = 0; t < nt; t++) /* slmrt_x86_hsum_ps's tree: (0+4)+(2+6), (1+5)+(3+7), then those two */
            sum[h][t] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(run[0][h][t], run[4][h][t]),
                                                    _mm256_add_ps(run[2][h][t], run[6][h][t])),
                                      _mm256_add_ps(_mm256_add_ps(run[1][h][t], run[5][h][t]),
                                                    _mm256_add_ps(run[3][h][t], run[7][h][t])));
    for (int b = nb8; b < nb; b++) {
        a2_q_block(panel, b, a, t0, nt, q4, i0, i1);
        const __m256 dw0 = _mm256_loadu_ps(dw + b * A2_P), dw1 = _mm256_loadu_ps(dw + b * A2_P + 8);
        const float *db = a->d + (size_t)b * a->n_tok + t0;
        for (int t = 0; t < nt; t++) {
            const __m256 dx = _mm256_set1_ps(db[t]);
            sum[0][t] = _mm256_add_ps(sum[0][t], _mm256_mul_ps(_mm256_cvtepi32_ps(i0[t]), _mm256_mul_ps(dw0, dx)));
            sum[1][t] = _mm256_add_ps(sum[1][t], _mm256_mul_ps(_mm256_cvtepi32_ps(i1[t]), _mm256_mul_ps(dw1, dx)));
        }
    }
    for (int t = 0; t < nt; t++) {
        float *yt = y + (size_t)(t0 + t) * ldy;
        a2_store(yt, sum[0][t], 0, n_rows, true, bias);
        a2_store(yt + 8, sum[1][t], 8, n_rows, true, bias ? bias + 8 : NULL);
    }
}

static SLMRT_ALWAYS_INLINE void a2_kernel_q(const void *panel, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                                            size_t ldy, int n_rows, const float *bias, const bool q4) {
    int t = 0;
    for (; t + A2_NT_Q <= n_tok; t += A2_NT_Q) a2_q_tile(panel, kc, a, t, A2_NT_Q, q4, y, ldy, n_rows, bias);
    if (t < n_tok) a2_q_tile(panel, kc, a, t, 1, q4, y, ldy, n_rows, bias);
}

static void a2_kernel_q8_0(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                           size_t ldy, int n_rows, bool first, const float *bias) {
    (void)k0, (void)first; /* whole rows */
    a2_kernel_q(panel, kc, a, n_tok, y, ldy, n_rows, bias, false);
}

static void a2_kernel_q4_0(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                           size_t ldy, int n_rows, bool first, const float *bias) {
    (void)k0, (void)first;
    a2_kernel_q(panel, kc, a, n_tok, y, ldy, n_rows, bias, true);
}

/* ----------------------------------------------------------- bf16 panels */

/* Panel: [column k][row r] f32 (bf16 widened); rows past n_rows are zero. */
static void a2_pack_bf16(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    float *P = panel;
    for (int r = 0; r < A2_P; r++) {
        if (r >= n_rows) {
            for (int k = 0; k < kc; k++) P[(size_t)k * A2_P + r] = 0.0f;
            continue;
        }
        const uint8_t *row = w + (size_t)r * rs + 2 * (size_t)k0;
        int k = 0;
        float tmp[8];
        for (; k + 8 <= kc; k += 8) {
            _mm256_storeu_ps(tmp, a2_bf16x8(row + 2 * (size_t)k));
            for (int i = 0; i < 8; i++) P[(size_t)(k + i) * A2_P + r] = tmp[i];
        }
        for (; k < kc; k++) P[(size_t)k * A2_P + r] = a2_bf16(row + 2 * (size_t)k);
    }
}

static SLMRT_ALWAYS_INLINE void a2_f_tile(const float *P, int k0, int kc, const slmrt_gemm_act *a, int t0,
                                          const int nt, float *y, size_t ldy, int n_rows, bool first,
                                          const float *bias) {
    const float *xr[A2_NT_F];
    __m256 f0[A2_NT_F], f1[A2_NT_F];
    for (int t = 0; t < nt; t++) {
        xr[t] = (const float *)(a->x + (size_t)(t0 + t) * a->x_stride) + k0;
        f0[t] = _mm256_setzero_ps();
        f1[t] = _mm256_setzero_ps();
    }
    for (int k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_loadu_ps(P + (size_t)k * A2_P), w1 = _mm256_loadu_ps(P + (size_t)k * A2_P + 8);
        for (int t = 0; t < nt; t++) {
            const __m256 xb = _mm256_broadcast_ss(xr[t] + k);
            f0[t] = _mm256_fmadd_ps(w0, xb, f0[t]);
            f1[t] = _mm256_fmadd_ps(w1, xb, f1[t]);
        }
    }
    for (int t = 0; t < nt; t++) {
        float *yt = y + (size_t)(t0 + t) * ldy;
        a2_store(yt, f0[t], 0, n_rows, first, bias);
        a2_store(yt + 8, f1[t], 8, n_rows, first, bias ? bias + 8 : NULL);
    }
}

static void a2_kernel_bf16(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                           size_t ldy, int n_rows, bool first, const float *bias) {
    int t = 0;
    for (; t + A2_NT_F <= n_tok; t += A2_NT_F) a2_f_tile(panel, k0, kc, a, t, A2_NT_F, y, ldy, n_rows, first, bias);
    switch (n_tok - t) {
    case 5: a2_f_tile(panel, k0, kc, a, t, 5, y, ldy, n_rows, first, bias); break;
    case 4: a2_f_tile(panel, k0, kc, a, t, 4, y, ldy, n_rows, first, bias); break;
    case 3: a2_f_tile(panel, k0, kc, a, t, 3, y, ldy, n_rows, first, bias); break;
    case 2: a2_f_tile(panel, k0, kc, a, t, 2, y, ldy, n_rows, first, bias); break;
    case 1: a2_f_tile(panel, k0, kc, a, t, 1, y, ldy, n_rows, first, bias); break;
    default: break;
    }
}

/* ----------------------------------------------------------------- table */

void slmrt_gemm_init_avx2(slmrt_gemm *g) {
    memset(g, 0, sizeof *g);
    g->isa = SLMRT_ISA_AVX2;
    const slmrt_gemm_type q = {.act = SLMRT_GEMM_ACT_Q8, .fill = a2_fill_q8, .panel_rows = A2_P, .kc = 0,
                               .k_align = SLMRT_QK8_0, .exact = true,
                               .col_bytes = (A2_QBLOCK + A2_P * sizeof(float)) / SLMRT_QK8_0};
    /* min_tokens: where the GEMM overtakes the dots on one Zen 4 core under
     * SLMRT_ISA=avx2 (bench/gemm_bench.c --gemm; Q8_0's sign trick costs an
     * extra instruction per product that the dots pay too) */
    g->by_type[SLM_TYPE_Q8_0] = q;
    g->by_type[SLM_TYPE_Q8_0].min_tokens = 12;
    g->by_type[SLM_TYPE_Q8_0].pack = a2_pack_q8_0;
    g->by_type[SLM_TYPE_Q8_0].kernel = a2_kernel_q8_0;
    g->by_type[SLM_TYPE_Q4_0] = q;
    g->by_type[SLM_TYPE_Q4_0].min_tokens = 8;
    g->by_type[SLM_TYPE_Q4_0].pack = a2_pack_q4_0;
    g->by_type[SLM_TYPE_Q4_0].kernel = a2_kernel_q4_0;
    g->by_type[SLM_TYPE_BF16] = (slmrt_gemm_type){
        .act = SLMRT_GEMM_ACT_F32, .fill = a2_fill_bf16, .panel_rows = A2_P, .kc = A2_KC_F, .k_align = 1,
        .min_tokens = 16 /* measured: 12 */,
        .col_bytes = A2_P * sizeof(float), .pack = a2_pack_bf16, .kernel = a2_kernel_bf16};
}
