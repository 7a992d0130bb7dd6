/* check_roundtrip.c - conversions between formats lose nothing (issue 2,
 * done-when 3): HF folder -> GGUF -> read back; the safetensors writer ->
 * reader; HDF5 -> GGUF equals safetensors -> GGUF for the same weights. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_compare.h"
#include "slm_gguf.h"
#include "slm_hf.h"
#include "slm_open.h"
#include "slmc_synth.h"
#include "test_support.h"

static const char *synth(const char *name, const char *dtype) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp(name));
    int rc = ts_run(NULL, "%s synth --arch llama --preset tiny --dtype %s -o %s --quiet", ts_bin("slmc"), dtype, dir);
    ck_assert_int_eq(rc, 0);
    return dir;
}

static slm_model *open_model(const char *path) {
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_model_open(path, NULL, &m, &d) == SLM_OK, "%s", d.msg);
    return m;
}

static void hf_to_gguf_roundtrip(const char *dtype) {
    char dir[4096], out[4096];
    snprintf(dir, sizeof dir, "%s", synth(dtype, dtype));
    snprintf(out, sizeof out, "%s/../%s.gguf", dir, dtype);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s -o %s --quiet", ts_bin("slmc"), dir, out), 0);
    slm_model *hf = open_model(dir), *gg = open_model(out);
    char why[512];
    /* matrices keep their type; norms are stored F32 in GGUF */
    for (uint32_t i = 0; i < hf->n_tensors; i++) {
        slm_tensor *t = &hf->tensors[i];
        if (t->n_dims == 1 && t->type != SLM_TYPE_F32) continue;
        ck_assert_msg(mc_tensor_equal(hf, t->name, gg, t->name, why, sizeof why) == 0, "%s", why);
    }
    ck_assert_uint_eq(hf->n_tensors, gg->n_tensors);
    ck_assert_msg(mc_hparams_equal(hf, gg, why, sizeof why) == 0, "%s", why);
    ck_assert_msg(mc_tokenizer_equal(hf, gg, why, sizeof why) == 0, "%s", why);
    slm_model_free(hf);
    slm_model_free(gg);
}

START_TEST(hf_f32_to_gguf_and_back) { hf_to_gguf_roundtrip("f32"); }
END_TEST
START_TEST(hf_bf16_to_gguf_and_back) { hf_to_gguf_roundtrip("bf16"); }
END_TEST
START_TEST(hf_f16_to_gguf_and_back) { hf_to_gguf_roundtrip("f16"); }
END_TEST

/* The synthetic model in memory, written by slm_hf_write and read back by
 * slm_hf_read, is the same model (names, Q/K row order, bytes, tokenizer). */
START_TEST(hf_writer_reader_roundtrip) {
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slmc_synth_build(slmc_synth_find_preset("tiny"), SLM_TYPE_F32, 7, &m, &d) == SLM_OK, "%s", d.msg);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp("writer"));
    ck_assert_msg(slm_hf_write(m, dir, NULL, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model *back = open_model(dir);
    char why[512];
    ck_assert_msg(mc_tensors_equal(m, back, 0, why, sizeof why) == 0, "%s", why);
    ck_assert_msg(mc_tokenizer_equal(m, back, why, sizeof why) == 0, "%s", why);
    slm_model_free(back);
    /* a single .safetensors file with config.json beside it reads the same */
    char st[4096];
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    back = open_model(st);
    ck_assert_msg(mc_tensors_equal(m, back, 0, why, sizeof why) == 0, "%s", why);
    slm_model_free(back);
    slm_model_free(m);
}
END_TEST

/* The synthetic model is deterministic: same seed, same bytes. */
START_TEST(synth_is_deterministic) {
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", synth("det-a", "f32"));
    snprintf(b, sizeof b, "%s", synth("det-b", "f32"));
    ck_assert_int_eq(ts_run(NULL, "cmp -s %s/model.safetensors %s/model.safetensors", a, b), 0);
    ck_assert_int_eq(ts_run(NULL, "cmp -s %s/tokenizer.json %s/tokenizer.json", a, b), 0);
    ck_assert_int_eq(ts_run(NULL, "cmp -s %s/config.json %s/config.json", a, b), 0);
    size_t n = 0;
    char st[4096];
    snprintf(st, sizeof st, "%s/model.safetensors", a);
    free(ts_read_file(st, &n));
    ck_assert_uint_lt(n, 10u << 20); /* the README's example stays small */
}
END_TEST

static void hdf5_equals_safetensors(const char *dtype) {
    char dir[4096], h5[4096], g1[4096], g2[4096], log[4096];
    snprintf(dir, sizeof dir, "%s", synth(dtype, dtype));
    snprintf(h5, sizeof h5, "%s.h5", dir);
    snprintf(g1, sizeof g1, "%s-st.gguf", dir);
    snprintf(g2, sizeof g2, "%s-h5.gguf", dir);
    snprintf(log, sizeof log, "%s.log", dir);
    ck_assert_int_eq(ts_run(log, "%s %s %s", ts_bin("hf_to_hdf5"), dir, h5), 0);
    ck_assert_int_eq(ts_run(log, "%s compile %s -o %s --quiet", ts_bin("slmc"), dir, g1), 0);
    ck_assert_int_eq(ts_run(log, "%s compile %s -o %s --quiet", ts_bin("slmc"), h5, g2), 0);
    slm_model *a = open_model(g1), *b = open_model(g2);
    char why[512];
    ck_assert_msg(mc_tensors_equal(a, b, 0, why, sizeof why) == 0, "%s", why);
    ck_assert_msg(mc_hparams_equal(a, b, why, sizeof why) == 0, "%s", why);
    ck_assert_msg(mc_tokenizer_equal(a, b, why, sizeof why) == 0, "%s", why);
    slm_model_free(a);
    slm_model_free(b);
}

START_TEST(hdf5_f32_equals_safetensors) { hdf5_equals_safetensors("f32"); }
END_TEST
START_TEST(hdf5_bf16_equals_safetensors) { hdf5_equals_safetensors("bf16"); }
END_TEST
START_TEST(hdf5_f16_equals_safetensors) { hdf5_equals_safetensors("f16"); }
END_TEST

/* Conversions chain: HF f32 -> GGUF q8_0 equals GGUF f32 -> GGUF q8_0. */
START_TEST(conversion_is_input_independent) {
    char dir[4096], f32[4096], q1[4096], q2[4096];
    snprintf(dir, sizeof dir, "%s", synth("chain", "f32"));
    snprintf(f32, sizeof f32, "%s-f32.gguf", dir);
    snprintf(q1, sizeof q1, "%s-q1.gguf", dir);
    snprintf(q2, sizeof q2, "%s-q2.gguf", dir);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s -o %s --quiet", ts_bin("slmc"), dir, f32), 0);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type q8_0 -o %s --quiet", ts_bin("slmc"), dir, q1), 0);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type q8_0 -o %s --quiet", ts_bin("slmc"), f32, q2), 0);
    slm_model *a = open_model(q1), *b = open_model(q2);
    char why[512];
    ck_assert_msg(mc_tensors_equal(a, b, 0, why, sizeof why) == 0, "%s", why);
    ck_assert_int_eq(slm_model_find_tensor(a, "blk.0.attn_q.weight")->type, SLM_TYPE_Q8_0);
    slm_model_free(a);
    slm_model_free(b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("roundtrip");
    TCase *tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, hf_f32_to_gguf_and_back);
    tcase_add_test(tc, hf_bf16_to_gguf_and_back);
    tcase_add_test(tc, hf_f16_to_gguf_and_back);
    tcase_add_test(tc, hf_writer_reader_roundtrip);
    tcase_add_test(tc, synth_is_deterministic);
    tcase_add_test(tc, hdf5_f32_equals_safetensors);
    tcase_add_test(tc, hdf5_bf16_equals_safetensors);
    tcase_add_test(tc, hdf5_f16_equals_safetensors);
    tcase_add_test(tc, conversion_is_input_independent);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
