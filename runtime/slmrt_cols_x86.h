/* slmrt_cols_x86.h - dot_f32_cols (slmrt_kernels.h) for the SIMD tables,
 * written once for both vector widths. The including file defines:
 *   COLS_V           the float vector type (__m256 or __m512)
 *   COLS_W           its lanes (8 or 16): columns per pass
 *   COLS_MAXQ        vectors sharing each load of the matrix (registers)
 *   COLS_LOAD(p) COLS_SET1(f) COLS_ZERO() COLS_ADD(a, b) COLS_MUL(a, b)
 *   COLS_FMA(a, b, c) (a*b + c, fused)
 *   COLS_STORE(p, v, n) (the first n lanes of v to p)
 *   COLS_NAME        the function's name
 * and includes this file once.
 *
 * Each lane is one column and runs ggml_vec_dot_f32 exactly (see
 * scalar_dot_f32_bytes): element i goes into accumulator (i % 64) / 16 at
 * ggml-lane i % 16 with an FMA; here ggml-lane l of all columns is one
 * vector per accumulator, so the reduction (acc0 + acc2) + (acc1 + acc3)
 * and _mm512_reduce_add_ps's tree over the 16 ggml-lanes (l + l+8, + l+4,
 * + l+2, + l+1) become plain vector adds, taken depth first so that few
 * values are live; the leftover elements follow one rounded product at a
 * time. The loops have constant trip counts and must be unrolled for the
 * accumulators to stay in registers (measured: 3x slower when they are
 * not). */
#define COLS_UNROLL _Pragma("GCC unroll 16")
#define COLS_CAT_(a, b) a##b
#define COLS_CAT(a, b) COLS_CAT_(a, b)
#define COLS_FN(suffix) COLS_CAT(COLS_NAME, suffix)

/* ggml-lane l of nq vectors: (acc0 + acc2) + (acc1 + acc3) over the first
 * np elements. */
static SLMRT_ALWAYS_INLINE void COLS_FN(_lane)(const int nq, int np, const float *x, size_t xs, const float *m,
                                                 size_t ld, int l, COLS_V *s) {
    COLS_V a0[COLS_MAXQ], a1[COLS_MAXQ], a2[COLS_MAXQ], a3[COLS_MAXQ];
    COLS_UNROLL for (int q = 0; q < nq; q++) a0[q] = a1[q] = a2[q] = a3[q] = COLS_ZERO();
    for (int i = 0; i < np; i += SLMRT_GGML_STEP) {
        const float *xe = x + i + l, *me = m + (size_t)(i + l) * ld;
        const COLS_V k0 = COLS_LOAD(me), k1 = COLS_LOAD(me + 16 * ld), k2 = COLS_LOAD(me + 32 * ld),
                     k3 = COLS_LOAD(me + 48 * ld);
        COLS_UNROLL for (int q = 0; q < nq; q++) {
            a0[q] = COLS_FMA(COLS_SET1(xe[q * xs]), k0, a0[q]);
            a1[q] = COLS_FMA(COLS_SET1(xe[q * xs + 16]), k1, a1[q]);
            a2[q] = COLS_FMA(COLS_SET1(xe[q * xs + 32]), k2, a2[q]);
            a3[q] = COLS_FMA(COLS_SET1(xe[q * xs + 48]), k3, a3[q]);
        }
    }
    COLS_UNROLL for (int q = 0; q < nq; q++) s[q] = COLS_ADD(COLS_ADD(a0[q], a2[q]), COLS_ADD(a1[q], a3[q]));
}

static SLMRT_ALWAYS_INLINE void COLS_FN(_q)(const int nq, int k, const float *x, size_t xs, const float *m,
                                              size_t ld, size_t bs, int n, float scale, float *out, size_t os) {
    const int np = k & ~(SLMRT_GGML_STEP - 1);
    const COLS_V vscale = COLS_SET1(scale);
    for (int c = 0; c < n; c += COLS_W) {
        const float *mc = m + (size_t)(c / 16) * bs + c % 16;
        COLS_V v[2][COLS_MAXQ];
        COLS_UNROLL for (int h = 0; h < 2; h++) {
            COLS_V u[2][COLS_MAXQ];
            COLS_UNROLL for (int g = 0; g < 2; g++) {
                const int l = h + 2 * g; /* t_l = s_l + s_l+8, u_l = t_l + t_l+4 */
                COLS_V a[COLS_MAXQ], b[COLS_MAXQ], t[COLS_MAXQ];
                COLS_FN(_lane)(nq, np, x, xs, mc, ld, l, a);
                COLS_FN(_lane)(nq, np, x, xs, mc, ld, l + 8, b);
                COLS_UNROLL for (int q = 0; q < nq; q++) t[q] = COLS_ADD(a[q], b[q]);
                COLS_FN(_lane)(nq, np, x, xs, mc, ld, l + 4, a);
                COLS_FN(_lane)(nq, np, x, xs, mc, ld, l + 12, b);
                COLS_UNROLL for (int q = 0; q < nq; q++) u[g][q] = COLS_ADD(t[q], COLS_ADD(a[q], b[q]));
            }
            COLS_UNROLL for (int q = 0; q < nq; q++) v[h][q] = COLS_ADD(u[0][q], u[1][q]); /* v_h = u_h + u_h+2 */
        }
        const int n_here = n - c < COLS_W ? n - c : COLS_W;
        COLS_UNROLL for (int q = 0; q < nq; q++) {
            COLS_V sum = COLS_ADD(v[0][q], v[1][q]);
            for (int i = np; i < k; i++) sum = COLS_ADD(sum, COLS_MUL(COLS_SET1(x[q * xs + i]), COLS_LOAD(mc + i * ld)));
            COLS_STORE(out + q * os + c, COLS_MUL(sum, vscale), n_here);
        }
    }
}

static void COLS_NAME(int k, const float *x, size_t x_stride, int n_x, const float *m, size_t ld,
                      size_t block_stride, int n, float scale, float *out, size_t out_stride) {
    for (int q0 = 0; q0 < n_x; q0 += COLS_MAXQ) {
        const float *xq = x + (size_t)q0 * x_stride;
        float *oq = out + (size_t)q0 * out_stride;
        switch (n_x - q0 < COLS_MAXQ ? n_x - q0 : COLS_MAXQ) {
        case 1: COLS_FN(_q)(1, k, xq, x_stride, m, ld, block_stride, n, scale, oq, out_stride); break;
#if COLS_MAXQ >= 2
        case 2: COLS_FN(_q)(2, k, xq, x_stride, m, ld, block_stride, n, scale, oq, out_stride); break;
#endif
#if COLS_MAXQ >= 4
        case 3: COLS_FN(_q)(3, k, xq, x_stride, m, ld, block_stride, n, scale, oq, out_stride); break;
        case 4: COLS_FN(_q)(4, k, xq, x_stride, m, ld, block_stride, n, scale, oq, out_stride); break;
#endif
        }
    }
}

#undef COLS_UNROLL
#undef COLS_V
#undef COLS_W
#undef COLS_MAXQ
#undef COLS_LOAD
#undef COLS_SET1
#undef COLS_ZERO
#undef COLS_ADD
#undef COLS_MUL
#undef COLS_FMA
#undef COLS_STORE
#undef COLS_NAME
#undef COLS_CAT_
#undef COLS_CAT
#undef COLS_FN
