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
 * Float dot products accumulate in double, like ggml's scalar ggml_float
 * path, so that the reference is more accurate than any SIMD order. The
 * quantized ones sum integer products per block and add the blocks in
 * float, scaled by d_w*d_x, as ggml does. Rows are read through memcpy or
 * bytes: weight rows come from a mapped file at any byte offset. */
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
}

/* --------------------------------------------------------- float dots */

static float scalar_dot_f32_f32(int n, const void *w_row, const void *x_prepared) {
    const uint8_t *w = w_row, *x = x_prepared;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(scalar_load_f32(w + 4 * i) * scalar_load_f32(x + 4 * i));
    return (float)sum;
}

static float scalar_dot_f16_f16(int n, const void *w_row, const void *x_prepared) {
    const uint8_t *w = w_row, *x = x_prepared;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(scalar_load_f16(w + 2 * i) * scalar_load_f16(x + 2 * i));
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

static float scalar_dot_f32(int n, const float *a, const float *b) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(a[i] * b[i]);
    return (float)sum;
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
    k->dot_f32 = scalar_dot_f32;
    k->axpy_f32 = scalar_axpy_f32;
}
