/* check_model.c - the model IR's own behaviour: tensor table and metadata
 * lookups (indexed, so readers stay linear on huge crafted inputs), removal,
 * duplicate and shape checks, lazy acquire/release. */
#include <check.h>

#include "test_support.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_model.h"

START_TEST(many_tensors_find_and_remove) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    enum { N = 100000 };
    char name[SLM_MAX_NAME];
    int64_t ne[1] = {4};
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "t.%d.weight", i);
        ck_assert_int_eq(slm_model_add_tensor(m, name, SLM_TYPE_F32, 1, ne, NULL, &d), SLM_OK);
    }
    ck_assert_int_eq(slm_model_add_tensor(m, "t.5.weight", SLM_TYPE_F32, 1, ne, NULL, &d), SLM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "duplicate"));
    for (int i = 0; i < N; i += 997) {
        snprintf(name, sizeof name, "t.%d.weight", i);
        slm_tensor *t = slm_model_find_tensor(m, name);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t->name, name);
    }
    slm_model_remove_tensor(m, "t.10.weight");
    ck_assert_ptr_null(slm_model_find_tensor(m, "t.10.weight"));
    ck_assert_str_eq(slm_model_find_tensor(m, "t.11.weight")->name, "t.11.weight");
    ck_assert_uint_eq(m->n_tensors, N - 1);
    ck_assert_ptr_null(slm_model_find_tensor(m, "nope"));
    slm_model_free(m);
}
END_TEST

START_TEST(metadata_set_replace_remove) {
    slm_model *m = slm_model_new();
    for (int i = 0; i < 5000; i++) {
        char key[32];
        snprintf(key, sizeof key, "k.%d", i);
        ck_assert_int_eq(slm_model_set_u32(m, key, (uint32_t)i), SLM_OK);
    }
    ck_assert_uint_eq(slm_model_find_kv(m, "k.4321")->value.v.u64, 4321);
    ck_assert_int_eq(slm_model_set_str(m, "k.4321", "text"), SLM_OK);
    ck_assert_uint_eq(m->n_kv, 5000);
    ck_assert_int_eq(slm_model_find_kv(m, "k.4321")->value.type, SLM_V_STR);
    ck_assert_str_eq(slm_model_find_kv(m, "k.4321")->value.v.str.s, "text");
    slm_model_remove_kv(m, "k.0");
    ck_assert_ptr_null(slm_model_find_kv(m, "k.0"));
    ck_assert_uint_eq(slm_model_find_kv(m, "k.4999")->value.v.u64, 4999);
    slm_model_free(m);
}
END_TEST

START_TEST(add_tensor_rejects_bad_shapes) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    int64_t ne[2] = {33, 2};
    ck_assert_int_eq(slm_model_add_tensor(m, "q", SLM_TYPE_Q8_0, 2, ne, NULL, &d), SLM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "block size"));
    slm_diag_clear(&d);
    ck_assert_int_eq(slm_model_add_tensor(m, "q", SLM_TYPE_F32, 5, ne, NULL, &d), SLM_ERR_INPUT);
    slm_diag_clear(&d);
    ck_assert_int_eq(slm_model_add_tensor(m, "q", (slm_type)4, 2, ne, NULL, &d), SLM_ERR_INPUT);
    slm_diag_clear(&d);
    char longname[80];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ck_assert_int_eq(slm_model_add_tensor(m, longname, SLM_TYPE_F32, 2, ne, NULL, &d), SLM_ERR_INPUT);
    slm_diag_clear(&d);
    int64_t neg[2] = {4, -1};
    ck_assert_int_eq(slm_model_add_tensor(m, "neg", SLM_TYPE_F32, 2, neg, NULL, &d), SLM_ERR_INPUT);
    ck_assert_uint_eq(m->n_tensors, 0);
    slm_model_free(m);
}
END_TEST

static int loads;
static slm_status fill_load(void *ctx, const slm_tensor *t, void *dst, slm_diag *d) {
    float *f = dst;
    for (int64_t i = 0; i < slm_tensor_nelements(t); i++) f[i] = (float)i;
    loads++;
    return SLM_OK;
}

/* HF Q/K rows are permuted on acquire: GGUF row h*hd+2i+p takes source row
 * h*hd+p*hd/2+i (formats.md 4.2). 2 heads of hd 4, rows of 1 element. */
START_TEST(acquire_permutes_and_release_frees) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    int64_t ne[2] = {1, 8};
    slm_tensor *t;
    ck_assert_int_eq(slm_model_add_tensor(m, "blk.0.attn_q.weight", SLM_TYPE_F32, 2, ne, &t, &d), SLM_OK);
    t->load = fill_load;
    t->permute_heads = 2;
    loads = 0;
    ck_assert_int_eq(slm_tensor_acquire(t, &d), SLM_OK);
    const float *f = t->data;
    const float want[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int i = 0; i < 8; i++) ck_assert_float_eq(f[i], want[i]);
    ck_assert_int_eq(slm_tensor_acquire(t, &d), SLM_OK); /* already there: no reload */
    ck_assert_int_eq(loads, 1);
    slm_tensor_release(t);
    ck_assert_ptr_null(t->data);
    ck_assert_int_eq(slm_tensor_acquire(t, &d), SLM_OK);
    ck_assert_int_eq(loads, 2);
    slm_model_free(m); /* frees the loaded buffer too (LeakSanitizer checks) */
}
END_TEST

int main(void) {
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, many_tensors_find_and_remove);
    tcase_add_test(tc, metadata_set_replace_remove);
    tcase_add_test(tc, add_tensor_rejects_bad_shapes);
    tcase_add_test(tc, acquire_permutes_and_release_frees);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
