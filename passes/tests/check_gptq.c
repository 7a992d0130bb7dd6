/* check_gptq.c - GPTQ into ggml block types (slmc_gptq.h) on synthetic
 * layers: random weights and inputs whose channels differ in scale and are
 * correlated, as real activations are. Asserted: the rows are valid
 * encodings (every element on its block's grid, decodable); the layer-output
 * error is well below the reference rounding's (GPTQ's point) for every
 * type, with and without activation order; the bytes do not depend on the
 * thread count; dead input columns are zeroed; a singular Gram matrix is
 * damped; misfit shapes and types are refused. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_qblock.h"
#include "slm_type.h"
#include "slmc_gptq.h"
#include "test_support.h"

static float rng_gauss(uint32_t *s) {
    float u = 0;
    for (int i = 0; i < 12; i++) u += (float)(ts_rng_next(s) >> 8) * 0x1p-24f;
    return u - 6.0f;
}

typedef struct layer {
    int64_t rows, n, tokens;
    float *w;
    double *gram;
    float *imp;
} layer;

/* Inputs x = A z: channel scales over two orders of magnitude and mixing
 * between neighbours; the Gram matrix XᵀX and the importance mean x². */
static layer make_layer(int64_t rows, int64_t n, uint32_t seed) {
    layer L = {rows, n, 4 * n, malloc(sizeof(float) * rows * n), calloc((size_t)(n * n), sizeof(double)),
               malloc(sizeof(float) * n)};
    uint32_t s = seed;
    for (int64_t i = 0; i < rows * n; i++) L.w[i] = 0.05f * rng_gauss(&s);
    float *scale = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n), *z = malloc(sizeof(float) * n);
    for (int64_t j = 0; j < n; j++) scale[j] = powf(10.0f, 2.0f * (float)(ts_rng_next(&s) % 1000) / 1000.0f - 1.0f);
    double *sum2 = calloc((size_t)n, sizeof(double));
    for (int64_t t = 0; t < L.tokens; t++) {
        for (int64_t j = 0; j < n; j++) z[j] = rng_gauss(&s);
        for (int64_t j = 0; j < n; j++) x[j] = scale[j] * (z[j] + 0.5f * z[(j + 1) % n]);
        for (int64_t i = 0; i < n; i++) {
            sum2[i] += (double)x[i] * x[i];
            for (int64_t j = 0; j < n; j++) L.gram[i * n + j] += (double)x[i] * x[j];
        }
    }
    for (int64_t j = 0; j < n; j++) L.imp[j] = (float)(sum2[j] / (double)L.tokens);
    free(scale);
    free(x);
    free(z);
    free(sum2);
    return L;
}

static void layer_free(layer *L) {
    free(L->w);
    free(L->gram);
    free(L->imp);
}

/* Every element of every block is a value of its block's grid. */
static int rows_on_grid(slm_type t, const void *rows, int64_t n_rows, int64_t n) {
    const int span = slm_qblock_span(t);
    const size_t rb = slm_type_row_size(t, n), bb = rb / (size_t)(n / span);
    float *y = malloc(sizeof(float) * n);
    int ok = 1;
    for (int64_t r = 0; r < n_rows && ok; r++) {
        const uint8_t *row = (const uint8_t *)rows + (size_t)r * rb;
        slm_type_traits_get(t)->to_f32(row, y, n);
        for (int64_t j = 0; j < n && ok; j++) {
            slm_qgrid g;
            const uint8_t *blk = row + (size_t)(j / span) * bb;
            slm_qblock_grid(t, blk, (int)(j % span), &g);
            const float v = slm_qgrid_value(&g, slm_qblock_get(t, blk, (int)(j % span)));
            ok = memcmp(&v, &y[j], sizeof v) == 0 && isfinite(y[j]);
        }
    }
    free(y);
    return ok;
}

static const slm_type types[] = {SLM_TYPE_Q4_0, SLM_TYPE_Q8_0, SLM_TYPE_Q5_1, SLM_TYPE_IQ4_NL,
                                 SLM_TYPE_Q3_K, SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K,
                                 SLM_TYPE_Q2_K, SLM_TYPE_IQ4_XS};
enum { N_TYPES = sizeof types / sizeof *types };

START_TEST(test_better_than_rounding) {
    const slm_type t = types[_i];
    layer L = make_layer(24, 512, 0xC0FFEEu + (uint32_t)_i);
    const size_t rb = slm_type_row_size(t, L.n);
    for (int act = 0; act < 2; act++) {
        float *w = malloc(sizeof(float) * L.rows * L.n);
        memcpy(w, L.w, sizeof(float) * L.rows * L.n);
        uint8_t *dst = malloc(rb * L.rows);
        slmc_gptq_opts o = {.damp = 0.01, .act_order = act == 1, .n_threads = 2};
        slmc_gptq_result res;
        slm_diag d = {0};
        ck_assert_msg(slmc_gptq_quantize(t, w, L.rows, L.n, L.gram, L.imp, NULL, &o, dst, &res, &d) == SLM_OK, "%s", d.msg);
        ck_assert_msg(rows_on_grid(t, dst, L.rows, L.n), "%s: an element off its grid", slm_type_name(t));
        /* GPTQ's point: a much smaller error on the layer's output */
        printf("%-7s act_order %d: output error %.4g, reference rounding %.4g (%.2f)\n", slm_type_name(t), act, res.err,
               res.err_reference, res.err / res.err_reference);
        ck_assert_msg(!res.kept_reference && res.err < 0.9 * res.err_reference, "%s act_order %d: %g vs %g",
                      slm_type_name(t), act, res.err, res.err_reference);
        free(w);
        free(dst);
    }
    layer_free(&L);
}
END_TEST

START_TEST(test_threads_do_not_change_bytes) {
    layer L = make_layer(37, 256, 77);
    const slm_type t = SLM_TYPE_Q4_K;
    const size_t rb = slm_type_row_size(t, L.n);
    uint8_t *a = malloc(rb * L.rows), *b = malloc(rb * L.rows);
    float *w = malloc(sizeof(float) * L.rows * L.n);
    slmc_gptq_result res;
    slm_diag d = {0};
    for (int k = 0; k < 2; k++) {
        memcpy(w, L.w, sizeof(float) * L.rows * L.n);
        slmc_gptq_opts o = {.damp = 0.01, .n_threads = k ? 2 : 1};
        ck_assert_int_eq(slmc_gptq_quantize(t, w, L.rows, L.n, L.gram, L.imp, NULL, &o, k ? b : a, &res, &d), SLM_OK);
    }
    ck_assert(memcmp(a, b, rb * L.rows) == 0);
    free(a);
    free(b);
    free(w);
    layer_free(&L);
}
END_TEST

/* A column no input reached (H_jj = 0) is zeroed; with every column dead
 * the damping alone makes H invertible. */
START_TEST(test_dead_columns_and_singular_gram) {
    layer L = make_layer(8, 64, 5);
    for (int64_t j = 0; j < L.n; j++) L.gram[5 * L.n + j] = L.gram[j * L.n + 5] = 0.0;
    const slm_type t = SLM_TYPE_Q8_0;
    const size_t rb = slm_type_row_size(t, L.n);
    uint8_t *dst = malloc(rb * L.rows);
    float *y = malloc(sizeof(float) * L.n);
    slmc_gptq_opts o = {.damp = 0.01, .n_threads = 1};
    slmc_gptq_result res;
    slm_diag d = {0};
    ck_assert_int_eq(slmc_gptq_quantize(t, L.w, L.rows, L.n, L.gram, L.imp, NULL, &o, dst, &res, &d), SLM_OK);
    if (!res.kept_reference)
        for (int64_t r = 0; r < L.rows; r++) {
            slm_type_traits_get(t)->to_f32(dst + r * rb, y, L.n);
            ck_assert_msg(y[5] == 0.0f, "row %lld: dead column holds %g", (long long)r, y[5]);
        }
    memset(L.gram, 0, sizeof(double) * (size_t)(L.n * L.n)); /* nothing active at all */
    ck_assert_int_eq(slmc_gptq_quantize(t, L.w, L.rows, L.n, L.gram, L.imp, NULL, &o, dst, &res, &d), SLM_OK);
    free(dst);
    free(y);
    layer_free(&L);
}
END_TEST

START_TEST(test_refusals) {
    layer L = make_layer(2, 96, 9);
    uint8_t dst[4096];
    slmc_gptq_opts o = {.damp = 0.01, .n_threads = 1};
    slmc_gptq_result res;
    slm_diag d = {0};
    /* 96 is not a multiple of 256 */
    ck_assert_int_eq(slmc_gptq_quantize(SLM_TYPE_Q4_K, L.w, L.rows, L.n, L.gram, L.imp, NULL, &o, dst, &res, &d),
                     SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "96") && strstr(d.msg, "256"), "%s", d.msg);
    ck_assert_int_eq(slmc_gptq_quantize(SLM_TYPE_F16, L.w, L.rows, L.n, L.gram, L.imp, NULL, &o, dst, &res, &d),
                     SLM_ERR_UNSUPPORTED);
    ck_assert(!slmc_gptq_supports(SLM_TYPE_F16) && slmc_gptq_supports(SLM_TYPE_Q3_K));
    layer_free(&L);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("gptq");
    TCase *tc = tcase_create("gptq");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_better_than_rounding, 0, N_TYPES);
    tcase_add_test(tc, test_threads_do_not_change_bytes);
    tcase_add_test(tc, test_dead_columns_and_singular_gram);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
