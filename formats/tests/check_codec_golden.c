/* check_codec_golden.c - the quantized encoders against llama.cpp's own
 * output (../shared/golden, see its README): every matrix of
 * golden-f32.gguf, quantized row by row through slm_type_traits.quantize_row,
 * must equal byte for byte the same tensor in golden-<TYPE>.gguf
 * (llama-quantize --pure) and, with golden.imatrix, in
 * golden-imat-<TYPE>.gguf. token_embd and output have no imatrix entry and
 * are quantized without weights there too. The decoders are checked on the
 * same files: decoding golden-<TYPE> must come back near the f32 original.
 *
 * Skips with a message when ../shared is absent. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "slm_imatrix.h"
#include "test_support.h"

typedef struct golden_case {
    const char *name;  /* file suffix: golden-<name>.gguf */
    slm_type type;
    int has_imat;      /* golden-imat-<name>.gguf exists */
    double rel_rmse;   /* decode bound per tensor, ~15% above the worst seen */
} golden_case;

static const golden_case cases[] = {
    {"Q4_0", SLM_TYPE_Q4_0, 1, 0.19},    {"Q4_1", SLM_TYPE_Q4_1, 1, 0.125},  {"Q5_0", SLM_TYPE_Q5_0, 1, 0.10},
    {"Q5_1", SLM_TYPE_Q5_1, 0, 0.06},    {"Q8_0", SLM_TYPE_Q8_0, 0, 0.013},  {"Q2_K", SLM_TYPE_Q2_K, 1, 0.40},
    {"Q3_K", SLM_TYPE_Q3_K, 1, 0.225},   {"Q4_K", SLM_TYPE_Q4_K, 1, 0.115},  {"Q5_K", SLM_TYPE_Q5_K, 1, 0.058},
    {"Q6_K", SLM_TYPE_Q6_K, 1, 0.036},   {"IQ4_NL", SLM_TYPE_IQ4_NL, 1, 0.147}, {"IQ4_XS", SLM_TYPE_IQ4_XS, 1, 0.148},
};

static slm_model *open_gguf(const char *rel) {
    const char *path = ts_shared(rel);
    if (!path) return NULL;
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(path, &m, &d) == SLM_OK, "%s: %s", rel, d.msg);
    return m;
}

static const void *acquire(slm_tensor *t) {
    slm_diag d = {0};
    ck_assert_msg(slm_tensor_acquire(t, &d) == SLM_OK, "%s: %s", t->name, d.msg);
    return t->data;
}

/* Quantizes every matrix of src with the type of the same tensor in q and
 * compares bytes. Returns the number of matrices compared; the first
 * mismatch fails with the tensor, row, block and the count of differing
 * bytes in that tensor. */
static int compare_file(slm_model *src, slm_model *q, const golden_case *gc, const slm_imatrix *im,
                        int *n_weighted) {
    const slm_type_traits *tt = slm_type_traits_get(gc->type);
    int n_checked = 0;
    for (uint32_t i = 0; i < q->n_tensors; i++) {
        slm_tensor *qt = &q->tensors[i];
        if (qt->n_dims < 2) continue;
        ck_assert_msg(qt->type == gc->type, "%s %s: type %s", gc->name, qt->name, slm_type_name(qt->type));
        slm_tensor *st = slm_model_find_tensor(src, qt->name);
        ck_assert_msg(st && st->type == SLM_TYPE_F32 && st->ne[0] == qt->ne[0] &&
                          slm_tensor_nrows(st) == slm_tensor_nrows(qt),
                      "%s: no matching f32 source", qt->name);
        const float *x = acquire(st);
        const uint8_t *want = acquire(qt);
        const float *w = NULL;
        if (im) {
            slm_diag d = {0};
            ck_assert_msg(slm_imatrix_for_tensor(im, qt->name, qt->ne[0], qt->ne[2], &w, &d) == SLM_OK, "%s",
                          d.msg);
            *n_weighted += w != NULL;
        }
        const int64_t ne0 = qt->ne[0], nrows = slm_tensor_nrows(qt);
        const size_t rs = slm_type_row_size(gc->type, ne0);
        uint8_t *got = malloc(rs);
        size_t n_diff = 0;
        int64_t first_row = -1;
        size_t first_byte = 0;
        for (int64_t r = 0; r < nrows; r++) {
            tt->quantize_row(x + r * ne0, got, ne0, w);
            const uint8_t *ref = want + (size_t)r * rs;
            for (size_t b = 0; b < rs; b++) {
                if (got[b] == ref[b]) continue;
                if (n_diff++ == 0) first_row = r, first_byte = b;
            }
        }
        free(got);
        ck_assert_msg(n_diff == 0, "golden-%s%s %s: %zu of %zu bytes differ; first in row %lld, block %zu, byte %zu",
                      im ? "imat-" : "", gc->name, qt->name, n_diff, rs * (size_t)nrows, (long long)first_row,
                      first_byte / (size_t)tt->type_size, first_byte % (size_t)tt->type_size);
        n_checked++;
    }
    return n_checked;
}

START_TEST(test_golden_plain) {
    const golden_case *gc = &cases[_i];
    slm_model *src = open_gguf("golden/golden-f32.gguf");
    if (!src) return;
    char rel[64];
    snprintf(rel, sizeof rel, "golden/golden-%s.gguf", gc->name);
    slm_model *q = open_gguf(rel);
    int n_weighted = 0;
    /* README: every one of the 16 matrices has the requested type. */
    ck_assert_int_eq(compare_file(src, q, gc, NULL, &n_weighted), 16);
    slm_model_free(q);
    slm_model_free(src);
}
END_TEST

START_TEST(test_golden_imatrix) {
    const golden_case *gc = &cases[_i];
    if (!gc->has_imat) return;
    slm_model *src = open_gguf("golden/golden-f32.gguf");
    if (!src) return;
    slm_imatrix *im = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_imatrix_load(ts_shared("golden/golden.imatrix"), &im, &d) == SLM_OK, "%s", d.msg);
    char rel[64];
    snprintf(rel, sizeof rel, "golden/golden-imat-%s.gguf", gc->name);
    slm_model *q = open_gguf(rel);
    int n_weighted = 0;
    ck_assert_int_eq(compare_file(src, q, gc, im, &n_weighted), 16);
    /* All blk.* matrices had weights; token_embd and output did not. */
    ck_assert_int_eq(n_weighted, 14);
    slm_model_free(q);
    slm_imatrix_free(im);
    slm_model_free(src);
}
END_TEST

/* Decoding llama.cpp's bytes gives the f32 weights back within each
 * format's error. */
START_TEST(test_golden_decode) {
    const golden_case *gc = &cases[_i];
    slm_model *src = open_gguf("golden/golden-f32.gguf");
    if (!src) return;
    char rel[64];
    snprintf(rel, sizeof rel, "golden/golden-%s.gguf", gc->name);
    slm_model *q = open_gguf(rel);
    const slm_type_traits *tt = slm_type_traits_get(gc->type);
    for (uint32_t i = 0; i < q->n_tensors; i++) {
        slm_tensor *qt = &q->tensors[i];
        if (qt->n_dims < 2) continue;
        slm_tensor *st = slm_model_find_tensor(src, qt->name);
        const float *x = acquire(st);
        const int64_t n = slm_tensor_nelements(qt);
        float *y = malloc((size_t)n * sizeof *y);
        tt->to_f32(acquire(qt), y, n);
        double se = 0, sx = 0;
        int64_t n_nonfinite = 0;
        for (int64_t j = 0; j < n; j++) {
            n_nonfinite += !isfinite(y[j]);
            se += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
            sx += (double)x[j] * x[j];
        }
        free(y);
        /* One assertion per tensor: each passing ck_assert costs a write. */
        ck_assert_msg(n_nonfinite == 0, "%s %s: %lld decoded values are not finite", gc->name, qt->name,
                      (long long)n_nonfinite);
        const double rel_rmse = sqrt(se / sx);
        ck_assert_msg(rel_rmse <= gc->rel_rmse, "%s %s: relative RMSE %.4f > %.4f", gc->name, qt->name, rel_rmse,
                      gc->rel_rmse);
    }
    slm_model_free(q);
    slm_model_free(src);
}
END_TEST

static Suite *codec_golden_suite(void) {
    Suite *s = suite_create("codec_golden");
    TCase *tc = tcase_create("golden");
    /* Generous: sanitizer builds run these several times slower. */
    tcase_set_timeout(tc, 600);
    const int n = (int)(sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, test_golden_plain, 0, n);
    tcase_add_loop_test(tc, test_golden_imatrix, 0, n);
    tcase_add_loop_test(tc, test_golden_decode, 0, n);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(codec_golden_suite()); }
