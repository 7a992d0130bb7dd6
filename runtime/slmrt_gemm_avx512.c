/* slmrt_gemm_avx512.c - the AVX-512 GEMM table (the flags of the AVX-512
 * kernel table; see slmrt_gemm.h for the scheme). Panels hold 32 rows: two
 * 16-lane vectors per column group, one lane per weight row. It starts from
 * the AVX2 table (activation fills, and the kernels for what the CPU lacks)
 * and replaces:
 * - with AVX512_VNNI: Q8_0 and Q4_0, with vpdpbusd (unsigned x signed bytes,
 *   4 products per int32 lane, no saturation): a token's 4 activation bytes,
 *   made unsigned as x + 128, broadcast against the signed weights of 16
 *   rows; sum (x+128)*w - 128*sum(w) is the exact block sum, and each
 *   block's accumulator starts at -128*sum(w), computed once per panel. 8
 *   vpdpbusd finish a block for 16 rows; then convert, scale by d_w*d_x and
 *   add in float (3 instructions, which cap the kernel at about 75% of
 *   vpdpbusd's rate: measured 0.75/cycle in isolation, 0.65 in the kernel);
 * - F32 and F16: f32 FMAs in ggml's order (see a5_g_tile);
 * - with AVX512_BF16: BF16 with vdpbf16ps on pairs of columns (exact bf16
 *   products, f32 sums; as the BF16 dot kernel it treats subnormals as 0).
 * Without VNNI or BF16 the AVX2 entries stay. The 512-bit forms are used:
 * on Zen 4 they are as fast per element as two 256-bit ones (measured:
 * vpdpbusd zmm 1/cycle, ymm 2/cycle) and need half the instructions around
 * them. */
#include <immintrin.h>
#include <string.h>

#include "slmrt_gemm.h"
#include "slmrt_gemm_avx512.h"
#include "slmrt_kernels_impl.h"
#include "slmrt_kernels_x86.h"

#define A5_KC_B 1024             /* columns per bf16 panel: 64 KiB */
#define A5_NT_Q 6                /* tokens per quantized tile: 24 accumulators */
#define A5_NT_F 8                /* tokens per bf16 tile: 16 accumulators */
#define A5_P_G 16                /* rows per F32/F16 panel (whole rows: 128 KiB at n_in 2048) */
#define A5_MR_G 4                /* F32/F16 tile: 4 rows x 6 tokens, one pass per partial sum */
#define A5_NT_G 6

/* ---------------------------------------------------- quantized (VNNI) */

/* ACT_Q8 with the quants made unsigned: x + 128 (1..255, as the Q8_0
 * encoder keeps |x| <= 127), the byte with its top bit flipped. The sums
 * of the quants are not needed (the correction is on the weight side). */
static void a5_fill_q8u(const uint8_t *row, int n_in, int t, int n_tok, void *scratch) {
    const int nb = n_in / SLMRT_QK8_0;
    int8_t *q;
    float *d;
    int32_t *nsum;
    slmrt_gemm_q8_layout(scratch, nb, n_tok, &q, &d, &nsum);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * sizeof(slmrt_block_q8_0);
        const size_t at = (size_t)b * n_tok + t;
        _mm256_storeu_si256((__m256i *)(q + 32 * at),
                            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), flip));
        d[at] = slmrt_x86_load_f16(blk);
    }
}

/* Panel (whole rows): [block][group g][row r][4 bytes]: the signed weights
 * (Q8_0 as stored, Q4_0 as q - 8) of columns 32b+4g.. of row r; then the
 * f32 scales [block][row]; then [block][row] -128 * (sum of the block's
 * weights), the start of each block's integer sum: sum (x+128)*w - 128*sum
 * w is the exact block sum. Rows past n_rows are zero. */
static SLMRT_ALWAYS_INLINE void a5_pack_q(const uint8_t *w, size_t rs, int n_rows, int kc, void *panel,
                                          const bool q4) {
    const int nb = kc / SLMRT_QK8_0;
    uint8_t *P = panel;
    float *dw = (float *)(P + (size_t)nb * A5_QBLOCK);
    int32_t *corr = (int32_t *)(dw + (size_t)nb * A5_P);
    const size_t bsize = q4 ? sizeof(slmrt_block_q4_0) : sizeof(slmrt_block_q8_0);
    const __m128i lo4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    const __m512i ones8 = _mm512_set1_epi8(1);
    for (int b = 0; b < nb; b++) {
        const size_t off = (size_t)b * bsize;
        for (int h = 0; h < 2; h++) {
            __m256i R[16];
            uint16_t d16[16];
            for (int i = 0; i < 16; i++) {
                const int r = 16 * h + i;
                if (r >= n_rows) {
                    R[i] = _mm256_setzero_si256();
                    d16[i] = 0;
                    continue;
                }
                const uint8_t *blk = w + (size_t)r * rs + off;
                if (q4) {
                    const __m128i v = _mm_loadu_si128((const __m128i *)(blk + 2));
                    R[i] = _mm256_set_m128i(_mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), lo4), eight),
                                            _mm_sub_epi8(_mm_and_si128(v, lo4), eight));
                } else {
                    R[i] = _mm256_loadu_si256((const __m256i *)(blk + 2));
                }
                d16[i] = slmrt_load_u16le(blk);
            }
            uint8_t *dst = P + (size_t)b * A5_QBLOCK + 64 * h;
            a5_transpose16x8(R, dst);
            _mm512_storeu_ps(dw + b * A5_P + 16 * h, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d16)));
            /* the 16 rows' weight sums, one per lane: 1 x w over the 8 groups */
            __m512i sum = _mm512_setzero_si512();
            for (int g = 0; g < 8; g++) sum = _mm512_dpbusd_epi32(sum, ones8, _mm512_loadu_si512(dst + 128 * g));
            _mm512_storeu_si512(corr + b * A5_P + 16 * h,
                                _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
        }
    }
}

static void a5_pack_q8_0(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0; /* whole rows */
    a5_pack_q(w, rs, n_rows, kc, panel, false);
}

static void a5_pack_q4_0(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0;
    a5_pack_q(w, rs, n_rows, kc, panel, true);
}

/* The exact integer sums of block b for 32 rows (i0: rows 0-15, i1: 16-31)
 * and nt tokens from t0. */
static SLMRT_ALWAYS_INLINE void a5_q_block(const uint8_t *panel, int nb, int b, const slmrt_gemm_act *a, int t0,
                                           const int nt, __m512i *i0, __m512i *i1) {
    const uint8_t *W = panel + (size_t)b * A5_QBLOCK;
    const int32_t *corr = (const int32_t *)(panel + (size_t)nb * (A5_QBLOCK + A5_P * sizeof(float))) + b * A5_P;
    const int8_t *qb = a->q + ((size_t)b * a->n_tok + t0) * 32;
    const __m512i c0 = _mm512_loadu_si512(corr), c1 = _mm512_loadu_si512(corr + 16);
    for (int t = 0; t < nt; t++) {
        i0[t] = c0;
        i1[t] = c1;
    }
    for (int g = 0; g < 8; g++) {
        const __m512i w0 = _mm512_loadu_si512(W + g * 128), w1 = _mm512_loadu_si512(W + g * 128 + 64);
        for (int t = 0; t < nt; t++) {
            const __m512i xb = _mm512_set1_epi32(a5_load_i32(qb + 32 * t + 4 * g));
            i0[t] = _mm512_dpbusd_epi32(i0[t], xb, w0);
            i1[t] = _mm512_dpbusd_epi32(i1[t], xb, w1);
        }
    }
}

/* nt tokens (nt <= A5_NT_Q, a constant after inlining) starting at t0, all
 * blocks of the panel, summed in the order of the matrix-vector dots
 * (slmrt_x86_dot_blocks): 8 running sums, block b into sum b % 8 with an
 * FMA; the 8 added as slmrt_x86_hsum_ps adds lanes; then the last nb % 8
 * blocks one by one, product then sum. So batched results equal one-token
 * results bit for bit. The running sums live in memory (L1): one load and
 * one store per 8 vpdpbusd. */
static SLMRT_ALWAYS_INLINE void a5_q_tile(const uint8_t *panel, int kc, const slmrt_gemm_act *a, int t0,
                                          const int nt, float *y, size_t ldy, int n_rows, const float *bias) {
    const int nb = kc / SLMRT_QK8_0, nb8 = nb & ~7;
    const float *dw = (const float *)(panel + (size_t)nb * A5_QBLOCK);
    __m512 run[8][2][A5_NT_Q]; /* [b % 8][rows 0-15, 16-31][token] */
    __m512i i0[A5_NT_Q], i1[A5_NT_Q];
    for (int s = 0; s < 8; s++)
        for (int t = 0; t < nt; t++) run[s][0][t] = run[s][1][t] = _mm512_setzero_ps();
    for (int b = 0; b < nb8; b++) {
        a5_q_block(panel, nb, b, a, t0, nt, i0, i1);
        const __m512 dw0 = _mm512_loadu_ps(dw + b * A5_P), dw1 = _mm512_loadu_ps(dw + b * A5_P + 16);
        const float *db = a->d + (size_t)b * a->n_tok + t0;
        __m512(*rs)[A5_NT_Q] = run[b & 7];
        for (int t = 0; t < nt; t++) {
            const __m512 dx = _mm512_set1_ps(db[t]);
            rs[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[t]), _mm512_mul_ps(dw0, dx), rs[0][t]);
            rs[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[t]), _mm512_mul_ps(dw1, dx), rs[1][t]);
        }
    }
    __m512 sum[2][A5_NT_Q];
    for (int h = 0; h < 2; h++)
        for (int t = 0; t < nt; t++)
            sum[h][t] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(run[0][h][t], run[4][h][t]),
                                                    _mm512_add_ps(run[2][h][t], run[6][h][t])),
                                      _mm512_add_ps(_mm512_add_ps(run[1][h][t], run[5][h][t]),
                                                    _mm512_add_ps(run[3][h][t], run[7][h][t])));
    for (int b = nb8; b < nb; b++) {
        a5_q_block(panel, nb, b, a, t0, nt, i0, i1);
        const __m512 dw0 = _mm512_loadu_ps(dw + b * A5_P), dw1 = _mm512_loadu_ps(dw + b * A5_P + 16);
        const float *db = a->d + (size_t)b * a->n_tok + t0;
        for (int t = 0; t < nt; t++) {
            const __m512 dx = _mm512_set1_ps(db[t]);
            sum[0][t] = _mm512_add_ps(sum[0][t], _mm512_mul_ps(_mm512_cvtepi32_ps(i0[t]), _mm512_mul_ps(dw0, dx)));
            sum[1][t] = _mm512_add_ps(sum[1][t], _mm512_mul_ps(_mm512_cvtepi32_ps(i1[t]), _mm512_mul_ps(dw1, dx)));
        }
    }
    for (int t = 0; t < nt; t++) {
        float *yt = y + (size_t)(t0 + t) * ldy;
        a5_store(yt, sum[0][t], 0, n_rows, true, bias);
        a5_store(yt + 16, sum[1][t], 16, n_rows, true, bias ? bias + 16 : NULL);
    }
}

/* Q8_0 and Q4_0 differ only in their panels. */
static void a5_kernel_q(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                        size_t ldy, int n_rows, bool first, const float *bias) {
    (void)k0, (void)first; /* whole rows */
    int t = 0;
    for (; t + A5_NT_Q <= n_tok; t += A5_NT_Q) a5_q_tile(panel, kc, a, t, A5_NT_Q, y, ldy, n_rows, bias);
    switch (n_tok - t) {
    case 5: a5_q_tile(panel, kc, a, t, 5, y, ldy, n_rows, bias); break;
    case 4: a5_q_tile(panel, kc, a, t, 4, y, ldy, n_rows, bias); break;
    case 3: a5_q_tile(panel, kc, a, t, 3, y, ldy, n_rows, bias); break;
    case 2: a5_q_tile(panel, kc, a, t, 2, y, ldy, n_rows, bias); break;
    case 1: a5_q_tile(panel, kc, a, t, 1, y, ldy, n_rows, bias); break;
    default: break;
    }
}

/* ------------------------------------------------- F32 and F16 (ggml order) */

/* ggml's dots (slmrt_kernels_scalar.c) put element i of the first np =
 * n & ~63 into partial sum j = (i % 64) / 16, lane i % 16. Panels and
 * activations are stored permuted so that the elements of each j are
 * contiguous: position j * np/4 + (i / 64) * 16 + i % 16; the leftovers
 * [np, n) stay in place. A tile then makes 4 passes, one per j, with one
 * accumulator per (row, token) instead of four, which leaves registers for
 * 4 rows x 6 tokens (10 loads per 24 FMAs). */
static inline size_t a5_ggml_pos(int i, int np) {
    return i >= np ? (size_t)i : (size_t)((i % 64) / 16) * (np / 4) + (size_t)(i / 64) * 16 + (size_t)(i % 16);
}

/* Writes the n values of src (f32, or f16 widened exactly) permuted. */
static SLMRT_ALWAYS_INLINE void a5_ggml_permute(const uint8_t *src, int n, float *dst, const bool f16) {
    const int np = n & ~63;
    for (int i = 0; i < np; i += 16) {
        const __m512 v = f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + 2 * (size_t)i)))
                             : _mm512_loadu_ps(src + 4 * (size_t)i);
        _mm512_storeu_ps(dst + a5_ggml_pos(i, np), v);
    }
    for (int i = np; i < n; i++) {
        if (f16) {
            dst[i] = slmrt_x86_load_f16(src + 2 * (size_t)i);
        } else {
            memcpy(&dst[i], src + 4 * (size_t)i, sizeof(float));
        }
    }
}

static void a5_fill_f32(const uint8_t *row, int n_in, int t, int n_tok, void *scratch) {
    (void)n_tok;
    a5_ggml_permute(row, n_in, (float *)scratch + (size_t)t * slmrt_gemm_f32_stride(n_in), false);
}

static void a5_fill_f16(const uint8_t *row, int n_in, int t, int n_tok, void *scratch) {
    (void)n_tok;
    a5_ggml_permute(row, n_in, (float *)scratch + (size_t)t * slmrt_gemm_f32_stride(n_in), true);
}

/* Panel: [row r][n_in] permuted f32, whole rows (at slmrt_gemm_f32_stride);
 * rows past n_rows are not written (never read). */
static void a5_pack_f32(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0;
    for (int r = 0; r < n_rows; r++)
        a5_ggml_permute(w + (size_t)r * rs, kc, (float *)panel + (size_t)r * slmrt_gemm_f32_stride(kc), false);
}

static void a5_pack_f16(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    (void)k0;
    for (int r = 0; r < n_rows; r++)
        a5_ggml_permute(w + (size_t)r * rs, kc, (float *)panel + (size_t)r * slmrt_gemm_f32_stride(kc), true);
}

/* _mm512_reduce_add_ps of 16 vectors at once, with the same tree for each
 * (GCC's: lane i + lane i+8, then i + i+4, then i + i+2, then the last
 * two; float addition is commutative, so the order of the two operands of
 * each step does not matter): 30 shuffles and 15 adds instead of 16 x 8
 * operations. Lane 4L + m of the result is the sum of v[4m + L]. */
static inline __m512 a5_reduce16(const __m512 v[16]) {
    __m512 a[8], b[4], c[2];
    for (int k = 0; k < 8; k++) /* i + i+8: low 256 bits + high 256 bits */
        a[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int k = 0; k < 4; k++) /* i + i+4: even + odd 128-bit lanes */
        b[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int k = 0; k < 2; k++) { /* i + i+2 within each 128-bit lane */
        const __m512d lo = _mm512_castps_pd(b[2 * k]), hi = _mm512_castps_pd(b[2 * k + 1]);
        c[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi)));
    }
    /* the last two */
    return _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* mr rows x nt tokens (constants after inlining), each summed exactly as
 * ggml_vec_dot_f32 / ggml_vec_dot_f16 (slmrt_kernels_scalar.c): FMAs into
 * the 4 partial sums, GGML_F32x16_REDUCE (0+2, 1+3, then those two, then
 * _mm512_reduce_add_ps), then the leftovers: in float with rounded products
 * (F32) or in double (F16). Operands are the f32 values the dots multiply
 * (F16 widened exactly), so each result is the dot's, bit for bit. */
static SLMRT_ALWAYS_INLINE void a5_g_tile(const float *P, int n, const slmrt_gemm_act *a, int t0, const int nt,
                                          int r0, const int mr, const bool f16, float *y, size_t ldy,
                                          const float *bias) {
    const int np = n & ~63, q = np / 4;
    const float *wr[A5_MR_G], *xr[A5_NT_G];
    for (int r = 0; r < mr; r++) wr[r] = P + (size_t)(r0 + r) * slmrt_gemm_f32_stride(n);
    for (int t = 0; t < nt; t++) xr[t] = (const float *)(a->x + (size_t)(t0 + t) * a->x_stride);
    __m512 part[4][A5_MR_G][A5_NT_G];
    for (int j = 0; j < 4; j++) {
        __m512 acc[A5_MR_G][A5_NT_G];
        for (int r = 0; r < mr; r++)
            for (int t = 0; t < nt; t++) acc[r][t] = _mm512_setzero_ps();
        const size_t base = (size_t)j * q;
        for (int c = 0; c < q; c += 16) {
            __m512 wv[A5_MR_G];
            for (int r = 0; r < mr; r++) wv[r] = _mm512_loadu_ps(wr[r] + base + c);
            for (int t = 0; t < nt; t++) {
                const __m512 xv = _mm512_loadu_ps(xr[t] + base + c);
                for (int r = 0; r < mr; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
        for (int r = 0; r < mr; r++)
            for (int t = 0; t < nt; t++) part[j][r][t] = acc[r][t];
    }
    /* GGML_F32x16_REDUCE: 0+2, 1+3, those two, then 16 lanes to 1 */
    float sums[32];
    for (int i0 = 0; i0 < mr * nt; i0 += 16) {
        __m512 v[16];
        for (int k = 0; k < 16; k++) {
            const int i = i0 + k;
            if (i >= mr * nt) {
                v[k] = _mm512_setzero_ps();
                continue;
            }
            const int r = i / nt, t = i % nt;
            v[k] = _mm512_add_ps(_mm512_add_ps(part[0][r][t], part[2][r][t]),
                                 _mm512_add_ps(part[1][r][t], part[3][r][t]));
        }
        float lanes[16];
        _mm512_storeu_ps(lanes, a5_reduce16(v));
        for (int k = 0; k < 16; k++) sums[i0 + k] = lanes[4 * (k % 4) + k / 4];
    }
    for (int r = 0; r < mr; r++)
        for (int t = 0; t < nt; t++) {
            float sum = sums[r * nt + t];
            if (f16) {
                double d = sum;
                for (int i = np; i < n; i++) d += (double)(wr[r][i] * xr[t][i]);
                sum = (float)d;
            } else {
                for (int i = np; i < n; i++) {
                    const float p = wr[r][i] * xr[t][i];
                    sum += p;
                }
            }
            if (bias) sum += bias[r0 + r];
            y[(size_t)(t0 + t) * ldy + r0 + r] = sum;
        }
}

static SLMRT_ALWAYS_INLINE void a5_g_rows(const float *P, int n, const slmrt_gemm_act *a, int t0, const int nt,
                                          int n_rows, const bool f16, float *y, size_t ldy, const float *bias) {
    int r = 0;
    for (; r + A5_MR_G <= n_rows; r += A5_MR_G) a5_g_tile(P, n, a, t0, nt, r, A5_MR_G, f16, y, ldy, bias);
    for (; r < n_rows; r++) a5_g_tile(P, n, a, t0, nt, r, 1, f16, y, ldy, bias);
}

static SLMRT_ALWAYS_INLINE void a5_kernel_g(const void *panel, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                                            size_t ldy, int n_rows, const float *bias, const bool f16) {
    int t = 0;
    for (; t + A5_NT_G <= n_tok; t += A5_NT_G) a5_g_rows(panel, kc, a, t, A5_NT_G, n_rows, f16, y, ldy, bias);
    switch (n_tok - t) {
    case 5: a5_g_rows(panel, kc, a, t, 5, n_rows, f16, y, ldy, bias); break;
    case 4: a5_g_rows(panel, kc, a, t, 4, n_rows, f16, y, ldy, bias); break;
    case 3: a5_g_rows(panel, kc, a, t, 3, n_rows, f16, y, ldy, bias); break;
    case 2: a5_g_rows(panel, kc, a, t, 2, n_rows, f16, y, ldy, bias); break;
    case 1: a5_g_rows(panel, kc, a, t, 1, n_rows, f16, y, ldy, bias); break;
    default: break;
    }
}

static void a5_kernel_f32(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                          size_t ldy, int n_rows, bool first, const float *bias) {
    (void)k0, (void)first; /* whole rows */
    a5_kernel_g(panel, kc, a, n_tok, y, ldy, n_rows, bias, false);
}

static void a5_kernel_f16(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                          size_t ldy, int n_rows, bool first, const float *bias) {
    (void)k0, (void)first;
    a5_kernel_g(panel, kc, a, n_tok, y, ldy, n_rows, bias, true);
}

/* ---------------------------------------------------------- bf16 panels */

/* Panel: [column pair p][row r][2 bf16] (the weights of columns 2p, 2p+1
 * of row r in one dword, as vdpbf16ps pairs them); kc is a multiple of 16. */
static void a5_pack_bf16(const uint8_t *w, size_t rs, int n_rows, int k0, int kc, void *panel) {
    uint8_t *P = panel;
    for (int k = 0; k < kc; k += 16) {
        for (int h = 0; h < 2; h++) {
            __m256i R[16];
            for (int i = 0; i < 16; i++) {
                const int r = 16 * h + i;
                R[i] = r < n_rows ? _mm256_loadu_si256((const __m256i *)(w + (size_t)r * rs + 2 * (size_t)(k0 + k)))
                                  : _mm256_setzero_si256();
            }
            /* 16 columns = 8 pairs: pair k/2 + g at P + 128 * (k/2 + g) */
            a5_transpose16x8(R, P + (size_t)(k / 2) * (A5_P * 4) + 64 * h);
        }
    }
}

static SLMRT_ALWAYS_INLINE void a5_b_tile(const uint8_t *P, int k0, int kc, const slmrt_gemm_act *a, int t0,
                                          const int nt, float *y, size_t ldy, int n_rows, bool first,
                                          const float *bias) {
    const uint8_t *xr[A5_NT_F];
    __m512 f0[A5_NT_F], f1[A5_NT_F];
    for (int t = 0; t < nt; t++) {
        xr[t] = a->x + (size_t)(t0 + t) * a->x_stride + 2 * (size_t)k0;
        f0[t] = _mm512_setzero_ps();
        f1[t] = _mm512_setzero_ps();
    }
    for (int p = 0; p < kc / 2; p++) {
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(P + (size_t)p * 128);
        const __m512bh w1 = (__m512bh)_mm512_loadu_si512(P + (size_t)p * 128 + 64);
        for (int t = 0; t < nt; t++) {
            const __m512bh xb = (__m512bh)_mm512_set1_epi32(a5_load_i32(xr[t] + 4 * (size_t)p));
            f0[t] = _mm512_dpbf16_ps(f0[t], w0, xb);
            f1[t] = _mm512_dpbf16_ps(f1[t], w1, xb);
        }
    }
    for (int t = 0; t < nt; t++) {
        float *yt = y + (size_t)(t0 + t) * ldy;
        a5_store(yt, f0[t], 0, n_rows, first, bias);
        a5_store(yt + 16, f1[t], 16, n_rows, first, bias ? bias + 16 : NULL);
    }
}

static void a5_kernel_bf16(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok, float *y,
                           size_t ldy, int n_rows, bool first, const float *bias) {
    int t = 0;
    for (; t + A5_NT_F <= n_tok; t += A5_NT_F) a5_b_tile(panel, k0, kc, a, t, A5_NT_F, y, ldy, n_rows, first, bias);
    switch (n_tok - t) {
    case 7: a5_b_tile(panel, k0, kc, a, t, 7, y, ldy, n_rows, first, bias); break;
    case 6: a5_b_tile(panel, k0, kc, a, t, 6, y, ldy, n_rows, first, bias); break;
    case 5: a5_b_tile(panel, k0, kc, a, t, 5, y, ldy, n_rows, first, bias); break;
    case 4: a5_b_tile(panel, k0, kc, a, t, 4, y, ldy, n_rows, first, bias); break;
    case 3: a5_b_tile(panel, k0, kc, a, t, 3, y, ldy, n_rows, first, bias); break;
    case 2: a5_b_tile(panel, k0, kc, a, t, 2, y, ldy, n_rows, first, bias); break;
    case 1: a5_b_tile(panel, k0, kc, a, t, 1, y, ldy, n_rows, first, bias); break;
    default: break;
    }
}

/* ----------------------------------------------------------------- table */

void slmrt_gemm_init_avx512(slmrt_gemm *g, bool use_vnni, bool use_bf16) {
    slmrt_gemm_init_avx2(g); /* fills, and the kernels an extension is missing for */
    g->isa = SLMRT_ISA_AVX512;
    if (use_vnni) {
        slmrt_gemm_type *q8 = &g->by_type[SLM_TYPE_Q8_0], *q4 = &g->by_type[SLM_TYPE_Q4_0];
        q8->panel_rows = q4->panel_rows = A5_P;
        q8->kc = q4->kc = 0; /* whole rows: the block order spans the row */
        q8->min_tokens = q4->min_tokens = 4; /* measured crossover: 3 tokens */
        q8->col_bytes = q4->col_bytes = (A5_QBLOCK + A5_P * (sizeof(float) + sizeof(int32_t))) / SLMRT_QK8_0;
        q8->fill = q4->fill = a5_fill_q8u;
        q8->pack = a5_pack_q8_0;
        q4->pack = a5_pack_q4_0;
        q8->kernel = q4->kernel = a5_kernel_q;
        slmrt_gemm_kquant_init_avx512(g);
    }
    slmrt_gemm_type g32 = {.act = SLMRT_GEMM_ACT_F32, .fill = a5_fill_f32, .panel_rows = A5_P_G, .kc = 0,
                           .k_align = 1, .min_tokens = 4 /* measured: 4 */, .exact = true,
                           .col_bytes = A5_P_G * sizeof(float),
                           .pack = a5_pack_f32,
                           .kernel = a5_kernel_f32};
    g->by_type[SLM_TYPE_F32] = g32;
    g32.fill = a5_fill_f16;
    g32.pack = a5_pack_f16;
    g32.kernel = a5_kernel_f16;
    g->by_type[SLM_TYPE_F16] = g32;
    if (use_bf16) {
        slmrt_gemm_type *e = &g->by_type[SLM_TYPE_BF16];
        e->act = SLMRT_GEMM_ACT_RAW;
        e->fill = NULL;
        e->k_align = 16;
        e->min_tokens = 16; /* measured crossover: 12 tokens (the bf16 dot is fast) */
        e->kc = A5_KC_B;
        e->panel_rows = A5_P;
        e->col_bytes = A5_P * 2;
        e->pack = a5_pack_bf16;
        e->kernel = a5_kernel_bf16;
    }
}
