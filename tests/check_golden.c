/* check_golden.c - `slmc compile golden-f32.gguf --type T` must reproduce
 * the reference implementation's bytes for every tensor of golden-T.gguf
 * (llama-quantize --pure), and keep every metadata key llama.cpp reads
 * (issue 2, done-when 1). The imatrix-weighted files are checked by
 * check_imatrix_e2e.c. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_compare.h"
#include "slm_gguf.h"
#include "test_support.h"

static void compile_and_compare(const char *type, const char *golden_name) {
    const char *src = ts_shared("golden/golden-f32.gguf");
    if (!src) return;
    char srcbuf[4096], ref[4096], out[4096], log[4096];
    snprintf(srcbuf, sizeof srcbuf, "%s", src);
    snprintf(ref, sizeof ref, "%s", ts_shared(golden_name));
    snprintf(out, sizeof out, "%s", ts_tmp(type));
    strcat(out, ".gguf");
    snprintf(log, sizeof log, "%s.log", out);
    int rc = ts_run(log, "%s compile %s --type %s -o %s --quiet", ts_bin("slmc"), srcbuf, type, out);
    ck_assert_msg(rc == 0, "slmc compile --type %s exited %d (see %s)", type, rc, log);

    slm_diag d = {0};
    slm_model *mine = NULL, *gold = NULL;
    ck_assert_msg(slm_gguf_read(out, &mine, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_gguf_read(ref, &gold, &d) == SLM_OK, "%s", d.msg);
    char why[512];
    ck_assert_msg(mc_tensors_equal(gold, mine, 0, why, sizeof why) == 0, "%s: %s", type, why);
    ck_assert_msg(mc_hparams_equal(gold, mine, why, sizeof why) == 0, "%s: %s", type, why);
    ck_assert_msg(mc_tokenizer_equal(gold, mine, why, sizeof why) == 0, "%s: %s", type, why);
    const slm_kv *ft_g = slm_model_find_kv(gold, "general.file_type");
    const slm_kv *ft_m = slm_model_find_kv(mine, "general.file_type");
    ck_assert_ptr_nonnull(ft_m);
    ck_assert_int_eq(ft_m->value.type, SLM_V_U32);
    if (ft_g) ck_assert_uint_eq(ft_g->value.v.u64, ft_m->value.v.u64);
    const slm_kv *name = slm_model_find_kv(mine, "general.name");
    ck_assert_ptr_nonnull(name);
    ck_assert_str_eq(name->value.v.str.s, "llama");
    ck_assert_ptr_nonnull(slm_model_find_kv(mine, "slmc.inputs.sha256"));
    slm_model_free(mine);
    slm_model_free(gold);
}

START_TEST(golden_q8_0) { compile_and_compare("q8_0", "golden/golden-Q8_0.gguf"); }
END_TEST
START_TEST(golden_q4_0) { compile_and_compare("q4_0", "golden/golden-Q4_0.gguf"); }
END_TEST
START_TEST(golden_f16) { compile_and_compare("f16", "golden/golden-F16.gguf"); }
END_TEST
START_TEST(golden_bf16) { compile_and_compare("bf16", "golden/golden-BF16.gguf"); }
END_TEST
START_TEST(golden_f32_identity) { compile_and_compare("f32", "golden/golden-f32.gguf"); }
END_TEST

/* The other llama-quantize --pure types. IQ4_NL and IQ4_XS matter most here:
 * llama-quantize encodes them with a weighted scale search even without an
 * imatrix, which differs from their _ref rule. */
static const char *const plain_types[] = {"q4_1", "q5_0", "q5_1", "q2_k", "q3_k",
                                          "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};

START_TEST(golden_plain_types) {
    const char *type = plain_types[_i];
    char golden[64], upper[16] = {0};
    for (size_t k = 0; type[k] && k < sizeof upper - 1; k++) upper[k] = (char)toupper((unsigned char)type[k]);
    snprintf(golden, sizeof golden, "golden/golden-%s.gguf", upper);
    compile_and_compare(type, golden);
}
END_TEST

/* The same inputs and options give a byte-identical artifact. */
START_TEST(compile_is_deterministic) {
    const char *src = ts_shared("golden/golden-f32.gguf");
    if (!src) return;
    char srcbuf[4096], out[4096], copy[4096];
    snprintf(srcbuf, sizeof srcbuf, "%s", src);
    snprintf(out, sizeof out, "%s", ts_tmp("det.gguf"));
    snprintf(copy, sizeof copy, "%s", ts_tmp("det-first.gguf"));
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type q4_0 -o %s --quiet", ts_bin("slmc"), srcbuf, out), 0);
    ck_assert_int_eq(rename(out, copy), 0);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type q4_0 -o %s --quiet", ts_bin("slmc"), srcbuf, out), 0);
    ck_assert_int_eq(ts_run(NULL, "cmp -s %s %s", out, copy), 0);
}
END_TEST

/* inspect must read every GGUF written by the other implementation. */
START_TEST(inspect_every_shared_gguf) {
    if (!ts_shared("golden/golden-f32.gguf")) return;
    const char *rel[] = {"golden/golden-f32.gguf",     "golden/golden-F16.gguf",     "golden/golden-BF16.gguf",
                         "golden/golden-Q8_0.gguf",    "golden/golden-Q4_0.gguf",    "golden/golden-Q4_1.gguf",
                         "golden/golden-Q5_0.gguf",    "golden/golden-Q5_1.gguf",    "golden/golden-Q2_K.gguf",
                         "golden/golden-Q3_K.gguf",    "golden/golden-Q4_K.gguf",    "golden/golden-Q5_K.gguf",
                         "golden/golden-Q6_K.gguf",    "golden/golden-IQ4_NL.gguf",  "golden/golden-IQ4_XS.gguf",
                         "golden/golden-imat-IQ4_NL.gguf", "golden/golden-imat-IQ4_XS.gguf",
                         "golden/golden-imat-Q2_K.gguf", "golden/golden-imat-Q3_K.gguf",
                         "golden/golden-imat-Q4_0.gguf", "golden/golden-imat-Q4_1.gguf",
                         "golden/golden-imat-Q4_K.gguf", "golden/golden-imat-Q5_0.gguf",
                         "golden/golden-imat-Q5_K.gguf", "golden/golden-imat-Q6_K.gguf",
                         "models/shakespeare-F16.gguf", "models/stories260K-ref-F16.gguf",
                         "models/stories260K-ref-f32.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                         "vocab/ggml-vocab-llama-spm.gguf"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char path[4096], log[4096];
        snprintf(path, sizeof path, "%s", ts_shared(rel[i]));
        snprintf(log, sizeof log, "%s", ts_tmp("inspect.log"));
        int rc = ts_run(log, "%s inspect %s", ts_bin("slmc"), path);
        ck_assert_msg(rc == 0, "slmc inspect %s exited %d", rel[i], rc);
        rc = ts_run(log, "%s inspect --json %s", ts_bin("slmc"), path);
        ck_assert_msg(rc == 0, "slmc inspect --json %s exited %d", rel[i], rc);
        size_t n = 0;
        char *json = ts_read_file(log, &n);
        ck_assert_ptr_nonnull(json);
        ck_assert_msg(strstr(json, "\"tensors\"") != NULL, "no tensor table in JSON for %s", rel[i]);
        free(json);
        rc = ts_run(log, "%s inspect %s", ts_bin("slmrt"), path);
        ck_assert_msg(rc == 0, "slmrt inspect %s exited %d", rel[i], rc);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, golden_q8_0);
    tcase_add_test(tc, golden_q4_0);
    tcase_add_test(tc, golden_f16);
    tcase_add_test(tc, golden_bf16);
    tcase_add_test(tc, golden_f32_identity);
    tcase_add_loop_test(tc, golden_plain_types, 0, (int)(sizeof plain_types / sizeof plain_types[0]));
    tcase_add_test(tc, compile_is_deterministic);
    tcase_add_test(tc, inspect_every_shared_gguf);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
