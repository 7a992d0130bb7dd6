/* slmrt_kernels_scalar.c - the reference kernels: plain C for every
 * supported weight type, used on CPUs without AVX2, under SLMRT_ISA=scalar,
 * and by tests/check_kernels.c as the yardstick for the SIMD tables.
 *
 * The pairing of weight type and activation layout follows ggml's CPU
 * backend (vec_dot_type), so that a matmul here rounds the activations the
 * way llama.cpp does: F32·F32, F16·F16, BF16·BF16, Q8_0·Q8_0, Q4_0·Q8_0.
 * Activations are quantized with the reference encoders of formats/, which
 * the SIMD prepare functions reproduce byte for byte.
 *
 * The F32 and F16 dots (and dot_f32) are defined as ggml_vec_dot_f32 and
 * ggml_vec_dot_f16 compute them in llama.cpp's AVX-512 build, the build the
 * reference logits come from (../shared/golden/README.md): with the
 * activations rounded to fp16 first, these models are so sensitive that one
 * product summed in another order can move an fp16 rounding and a logit by
 * 1e-2 (stories260K-ref-F16 moved from 0.027 to 0.008 off the reference
 * with this order alone). ggml (llama.cpp build 4748, ggml-cpu.c with
 * GGML_F32_STEP = GGML_F16_STEP = 64 and EPR = 16 under __AVX512F__):
 * - the first n & ~63 elements are multiplied into 4 accumulators of 16
 *   lanes with FMA, element i into accumulator (i % 64) / 16, lane i % 16;
 * - GGML_F32x16_REDUCE: acc0 += acc2, acc1 += acc3, acc0 += acc1 (lanewise),
 *   then _mm512_reduce_add_ps(acc0): lane i + lane i+8, then i + i+4,
 *   i + i+2, and the last two;
 * - the leftovers: F32 keeps a float sum and adds each rounded product
 *   (x[i]*y[i], not fused); F16 converts the reduced sum to double and adds
 *   each product (exact in float) in double, rounding to float at the end.
 * The SIMD tables compute exactly this; FMA is fmaf here (correctly rounded,
 * a libm call in this file, which is compiled without -mfma: slow, but this
 * is the reference).
 *
 * The BF16 dot accumulates in double, the most accurate order. The
 * quantized dots sum integer products per block and add the blocks in
 * float, scaled by d_w*d_x. Rows are read through memcpy or bytes: weight
 * rows come from a mapped file at any byte offset. */
#include <math.h>
#include <string.h>

#include "slmrt_kernels.h"
#include "slmrt_kernels_impl.h"

static float scalar_load_f32(const uint8_t *p) {
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

static float scalar_load_f16(const uint8_t *p) { return slm_f16_to_f32(slmrt_load_u16le(p)); }
static float scalar_load_bf16(const uint8_t *p) { return slm_bf16_to_f32(slmrt_load_u16le(p)); }

/* ------------------------------------------------------------ prepare */

static void scalar_prepare_f32(const float *x, void *out, int n) { memcpy(out, x, (size_t)n * sizeof(float)); }

/* The reference codecs of formats/ are the definition of the partner
 * layouts; the SIMD tables are tested against their bytes. */
static void scalar_prepare_f16(const float *x, void *out, int n) {
    slm_type_traits_get(SLM_TYPE_F16)->from_f32(x, out, n);
}

static void scalar_prepare_bf16(const float *x, void *out, int n) {
    slm_type_traits_get(SLM_TYPE_BF16)->from_f32(x, out, n);
}

static void scalar_prepare_q8_0(const float *x, void *out, int n) {
    slm_type_traits_get(SLM_TYPE_Q8_0)->from_f32(x, out, n);
    slmrt_q8_prep_finish(out, n);
}

/* --------------------------------------------------------- float dots */

/* GGML_F32x16_REDUCE / GGML_F32Cx16_REDUCE: see the top of the file. acc
 * is clobbered. */
static float scalar_ggml_reduce(float acc[4][SLMRT_GGML_LANES]) {
    for (int l = 0; l < SLMRT_GGML_LANES; l++) {
        acc[0][l] += acc[2][l];
        acc[1][l] += acc[3][l];
    }
    for (int l = 0; l < SLMRT_GGML_LANES; l++) acc[0][l] += acc[1][l];
    float *v = acc[0];
    for (int width = SLMRT_GGML_LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) v[l] += v[l + width];
    return v[0];
}

/* ggml_vec_dot_f32: the 4x16-lane part, then the leftovers in float. */
static float scalar_dot_f32_bytes(int n, const uint8_t *a, const uint8_t *b) {
    float acc[4][SLMRT_GGML_LANES] = {{0}};
    const int np = n & ~(SLMRT_GGML_STEP - 1);
    for (int i = 0; i < np; i += SLMRT_GGML_STEP)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < SLMRT_GGML_LANES; l++) {
                const int e = i + SLMRT_GGML_LANES * j + l;
                acc[j][l] = fmaf(scalar_load_f32(a + 4 * e), scalar_load_f32(b + 4 * e), acc[j][l]);
            }
    float sum = scalar_ggml_reduce(acc);
    for (int i = np; i < n; i++) {
        /* two statements: rounded product, then the sum (never fused) */
        const float p = scalar_load_f32(a + 4 * i) * scalar_load_f32(b + 4 * i);
        sum += p;
    }
    return sum;
}

static float scalar_dot_f32_f32(int n, const void *w_row, const void *x_prepared) {
    return scalar_dot_f32_bytes(n, w_row, x_prepared);
}

/* ggml_vec_dot_f16: the 4x16-lane part, then the leftovers in double. */
static float scalar_dot_f16_f16(int n, const void *w_row, const void *x_prepared) {
    const uint8_t *w = w_row, *x = x_prepared;
    float acc[4][SLMRT_GGML_LANES] = {{0}};
    const int np = n & ~(SLMRT_GGML_STEP - 1);
    for (int i = 0; i < np; i += SLMRT_GGML_STEP)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < SLMRT_GGML_LANES; l++) {
                const int e = i + SLMRT_GGML_LANES * j + l;
                acc[j][l] = fmaf(scalar_load_f16(w + 2 * e), scalar_load_f16(x + 2 * e), acc[j][l]);
            }
    double sum = scalar_ggml_reduce(acc);
    for (int i = np; i < n; i++) sum += (double)(scalar_load_f16(w + 2 * i) * scalar_load_f16(x + 2 * i));
    return (float)sum;
}

static float scalar_dot_bf16_bf16(int n, const void *w_row, const void *x_prepared) {
    const uint8_t *w = w_row, *x = x_prepared;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(scalar_load_bf16(w + 2 * i) * scalar_load_bf16(x + 2 * i));
    return (float)sum;
}

/* ----------------------------------------------------- quantized dots */

static float scalar_dot_q8_0_q8_0(int n, const void *w_row, const void *x_prepared) {
    const slmrt_block_q8_0 *w = w_row, *x = x_prepared;
    const int nb = n / SLMRT_QK8_0;
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        int32_t sumi = 0;
        for (int j = 0; j < SLMRT_QK8_0; j++) sumi += w[b].qs[j] * x[b].qs[j];
        sum += (float)sumi * (scalar_load_f16(w[b].d) * scalar_load_f16(x[b].d));
    }
    return sum;
}

static float scalar_dot_q4_0_q8_0(int n, const void *w_row, const void *x_prepared) {
    const slmrt_block_q4_0 *w = w_row;
    const slmrt_block_q8_0 *x = x_prepared;
    const int nb = n / SLMRT_QK4_0;
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        int32_t sumi = 0;
        for (int j = 0; j < SLMRT_QK4_0 / 2; j++) {
            const int lo = (w[b].qs[j] & 0x0F) - 8;
            const int hi = (w[b].qs[j] >> 4) - 8;
            sumi += lo * x[b].qs[j] + hi * x[b].qs[j + SLMRT_QK4_0 / 2];
        }
        sum += (float)sumi * (scalar_load_f16(w[b].d) * scalar_load_f16(x[b].d));
    }
    return sum;
}

/* -------------------------------------------------------- f32 helpers */

/* ggml_vec_dot_f32, as the F32 weight dot: the attention scores q.k go
 * through this in llama.cpp (head_dim below 64 is all leftovers). */
static float scalar_dot_f32(int n, const float *a, const float *b) {
    return scalar_dot_f32_bytes(n, (const uint8_t *)a, (const uint8_t *)b);
}

/* dot_f32_cols: scalar_dot_f32_bytes's arithmetic on strided elements. */
static void scalar_dot_f32_cols(int k, const float *x, size_t x_stride, int n_x, const float *m, size_t ld,
                                size_t block_stride, int n, float scale, float *out, size_t out_stride) {
    const int np = k & ~(SLMRT_GGML_STEP - 1);
    for (int q = 0; q < n_x; q++)
        for (int c = 0; c < n; c++) {
            const float *xq = x + (size_t)q * x_stride, *mc = m + (size_t)(c / 16) * block_stride + c % 16;
            float acc[4][SLMRT_GGML_LANES] = {{0}};
            for (int i = 0; i < np; i += SLMRT_GGML_STEP)
                for (int j = 0; j < 4; j++)
                    for (int l = 0; l < SLMRT_GGML_LANES; l++) {
                        const int e = i + SLMRT_GGML_LANES * j + l;
                        acc[j][l] = fmaf(xq[e], mc[(size_t)e * ld], acc[j][l]);
                    }
            float sum = scalar_ggml_reduce(acc);
            for (int i = np; i < k; i++) {
                const float p = xq[i] * mc[(size_t)i * ld];
                sum += p;
            }
            out[(size_t)q * out_stride + c] = sum * scale;
        }
}

static void scalar_axpy_f32(int n, float a, const float *x, float *y) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

void slmrt_kernels_init_scalar(slmrt_kernels *k) {
    memset(k, 0, sizeof *k);
    k->isa = SLMRT_ISA_SCALAR;
    /* One entry per supported weight type; the others stay NULL. */
    k->by_type[SLM_TYPE_F32] = (slmrt_type_kernels){
        .partner = SLM_TYPE_F32, .prepare = scalar_prepare_f32, .dot = scalar_dot_f32_f32};
    k->by_type[SLM_TYPE_F16] = (slmrt_type_kernels){
        .partner = SLM_TYPE_F16, .prepare = scalar_prepare_f16, .dot = scalar_dot_f16_f16};
    k->by_type[SLM_TYPE_BF16] = (slmrt_type_kernels){
        .partner = SLM_TYPE_BF16, .prepare = scalar_prepare_bf16, .dot = scalar_dot_bf16_bf16};
    k->by_type[SLM_TYPE_Q8_0] = (slmrt_type_kernels){
        .partner = SLM_TYPE_Q8_0, .prepare = scalar_prepare_q8_0, .dot = scalar_dot_q8_0_q8_0};
    k->by_type[SLM_TYPE_Q4_0] = (slmrt_type_kernels){
        .partner = SLM_TYPE_Q8_0, .prepare = scalar_prepare_q8_0, .dot = scalar_dot_q4_0_q8_0};
    slmrt_kernels_scalar_add_quants(k);
    k->dot_f32 = scalar_dot_f32;
    k->axpy_f32 = scalar_axpy_f32;
    k->dot_f32_cols = scalar_dot_f32_cols;
}
