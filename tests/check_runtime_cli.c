/* check_runtime_cli.c - the slmrt tool end to end: `eval --dump-logits`
 * reproduces the reference logits of every golden/model file within the
 * tolerances of ../shared/golden/README.md; `eval --ref` reports KLD figures;
 * `run` generates and reports speed and confidence; `tokenize` works on
 * vocabulary-only files; bad input gives a clear error and no crash. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logits_compare.h"
#include "slm_gguf.h"
#include "test_support.h"

/* Evaluates `gguf` on the tokens of `logits_rel` through the CLI and checks
 * the tolerance for its weight type. */
static void check_logits(const char *gguf_rel, const char *logits_rel, double max_abs, double min_top1) {
    const char *p = ts_shared(logits_rel);
    if (!p) return;
    char logits_path[4096], gguf[4096], toks[4096], dump[4096], log[4096];
    snprintf(logits_path, sizeof logits_path, "%s", p);
    snprintf(gguf, sizeof gguf, "%s", ts_shared(gguf_rel));
    ts_logits ref;
    ck_assert_int_eq(ts_logits_read(logits_path, &ref), 0);
    snprintf(toks, sizeof toks, "%s", ts_tmp("toks.txt"));
    FILE *f = fopen(toks, "w");
    for (int i = 0; i < ref.n_pos; i++) fprintf(f, "%d ", ref.tokens[i]);
    fclose(f);
    snprintf(dump, sizeof dump, "%s", ts_tmp("dump.txt"));
    snprintf(log, sizeof log, "%s", ts_tmp("eval.log"));
    int rc = ts_run(log, "%s eval -m %s --tokens %s --ctx %d --dump-logits %s", ts_bin("slmrt"), gguf, toks,
                    ref.n_pos, dump);
    ck_assert_msg(rc == 0, "slmrt eval %s exited %d (see %s)", gguf_rel, rc, log);
    /* the dump: one line of n_vocab logits per position */
    char *text = ts_read_file(dump, NULL);
    ck_assert_ptr_nonnull(text);
    const int V = ref.n_vocab;
    float *mine = malloc((size_t)ref.n_pos * V * sizeof *mine);
    char *q = text;
    for (int pos = 0; pos < ref.n_pos; pos++) {
        for (int j = 0; j < V; j++) {
            char *end;
            mine[(size_t)pos * V + j] = strtof(q, &end);
            ck_assert_msg(end != q, "%s: dump line %d has fewer than %d logits", gguf_rel, pos, V);
            q = end;
        }
    }
    free(text);
    const ts_logits_diff s = ts_logits_compare(ref.logits, mine, ref.n_pos, V);
    fprintf(stderr, "%-40s max|dlogit| %.2e  mean KL %.2e  same argmax %.1f%%\n", gguf_rel, s.max_abs, s.mean_kl,
            100 * s.argmax_agree);
    if (max_abs > 0) {
        ck_assert_msg(s.max_abs <= max_abs, "%s: max |dlogit| %g > %g", gguf_rel, s.max_abs, max_abs);
    } else {
        ck_assert_msg(s.mean_kl <= 1e-4, "%s: mean KL %g > 1e-4", gguf_rel, s.mean_kl);
        ck_assert_msg(s.argmax_agree >= min_top1, "%s: same argmax %.3f < %.2f", gguf_rel, s.argmax_agree, min_top1);
    }
    free(mine);
    ts_logits_free(&ref);
}

START_TEST(logits_golden_f32) { check_logits("golden/golden-f32.gguf", "golden/golden-f32.logits.txt", 1e-3, 0); }
END_TEST
START_TEST(logits_golden_f16) { check_logits("golden/golden-F16.gguf", "golden/golden-F16.logits.txt", 2e-2, 0); }
END_TEST
START_TEST(logits_golden_bf16) { check_logits("golden/golden-BF16.gguf", "golden/golden-BF16.logits.txt", 2e-2, 0); }
END_TEST
START_TEST(logits_golden_q8_0) { check_logits("golden/golden-Q8_0.gguf", "golden/golden-Q8_0.logits.txt", 0, 0.9); }
END_TEST
START_TEST(logits_golden_q4_0) { check_logits("golden/golden-Q4_0.gguf", "golden/golden-Q4_0.logits.txt", 0, 0.9); }
END_TEST
/* The types of the quantization issue, each file made by llama-quantize
 * --pure; one loop test each so a failure names the type. */
static const char *const golden_quant_types[] = {"Q4_1", "Q5_0", "Q5_1", "Q2_K",   "Q3_K",
                                                 "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"};
START_TEST(logits_golden_more_quants) {
    char gguf[64], logits[64];
    snprintf(gguf, sizeof gguf, "golden/golden-%s.gguf", golden_quant_types[_i]);
    snprintf(logits, sizeof logits, "golden/golden-%s.logits.txt", golden_quant_types[_i]);
    check_logits(gguf, logits, 0, 0.9);
}
END_TEST
START_TEST(logits_stories_f32) {
    check_logits("models/stories260K-ref-f32.gguf", "models/stories260K-ref-f32.logits.txt", 1e-3, 0);
}
END_TEST
START_TEST(logits_stories_f16) {
    check_logits("models/stories260K-ref-F16.gguf", "models/stories260K-ref-F16.logits.txt", 2e-2, 0);
}
END_TEST
START_TEST(logits_shakespeare_f16) {
    check_logits("models/shakespeare-F16.gguf", "models/shakespeare-F16.logits.txt", 2e-2, 0);
}
END_TEST

static json_t *run_json(const char *log, const char *fmt, const char *a, const char *b) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int rc = ts_run(log, "%s", cmd);
    char *out = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "'%s' exited %d:\n%s", cmd, rc, out);
    const char *brace = strchr(out, '{');
    ck_assert_ptr_nonnull(brace);
    json_error_t err;
    json_t *j = json_loads(brace, JSON_DISABLE_EOF_CHECK, &err);
    ck_assert_msg(j != NULL, "bad JSON: %s\n%s", err.text, out);
    free(out);
    return j;
}

START_TEST(eval_ref_reports_kld) {
    const char *p = ts_shared("golden/golden-Q8_0.gguf");
    if (!p) return;
    char q8[4096], f32[4096], toks[4096], log[4096], cmd[4096];
    snprintf(q8, sizeof q8, "%s", p);
    snprintf(f32, sizeof f32, "%s", ts_shared("golden/golden-f32.gguf"));
    snprintf(toks, sizeof toks, "%s", ts_shared("golden/golden.tokens"));
    snprintf(log, sizeof log, "%s", ts_tmp("kld.log"));
    snprintf(cmd, sizeof cmd, "%s eval -m %%s --ref %%s --tokens %s --json", ts_bin("slmrt"), toks);
    json_t *j = run_json(log, cmd, q8, f32);
    double kld = json_real_value(json_object_get(j, "kld_mean"));
    double top1 = json_real_value(json_object_get(j, "same_top1"));
    ck_assert_msg(kld > 0 && kld < 1e-3, "KLD of Q8_0 from F32 is %g", kld);
    ck_assert_msg(top1 > 0.8, "same top-1 %g", top1);
    ck_assert(json_real_value(json_object_get(j, "kld_max")) >= json_real_value(json_object_get(j, "kld_p99")));
    json_decref(j);
    /* a model against itself: zero divergence, full agreement */
    j = run_json(log, cmd, f32, f32);
    ck_assert(json_real_value(json_object_get(j, "kld_mean")) < 1e-9);
    ck_assert(json_real_value(json_object_get(j, "same_top1")) == 1.0);
    json_decref(j);
}
END_TEST

static const char *tiny_artifact(void) {
    static char out[4096];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp("tiny"));
    snprintf(out, sizeof out, "%s", ts_tmp("tiny-q8_0.gguf"));
    ck_assert_int_eq(ts_run(NULL, "%s synth --arch llama --preset tiny -o %s --quiet", ts_bin("slmc"), dir), 0);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type q8_0 -o %s --quiet", ts_bin("slmc"), dir, out), 0);
    return out;
}

START_TEST(run_generates_and_reports) {
    char model[4096], log[4096], cmd[4096];
    snprintf(model, sizeof model, "%s", tiny_artifact());
    snprintf(log, sizeof log, "%s", ts_tmp("run.log"));
    snprintf(cmd, sizeof cmd, "%s run -m %%s -p %%s -n 16 --json", ts_bin("slmrt"));
    json_t *j = run_json(log, cmd, model, "'The river runs'");
    ck_assert_int_ge(json_integer_value(json_object_get(j, "generated_tokens")), 1);
    ck_assert_int_ge(json_integer_value(json_object_get(j, "prompt_tokens")), 2);
    double t1 = json_real_value(json_object_get(j, "mean_top1_prob"));
    ck_assert(t1 > 0 && t1 <= 1);
    ck_assert(json_real_value(json_object_get(j, "mean_entropy")) >= 0);
    ck_assert(json_real_value(json_object_get(j, "generation_tokens_per_s")) > 0);
    char *text1 = strdup(json_string_value(json_object_get(j, "text")));
    json_decref(j);
    /* greedy decoding is deterministic */
    j = run_json(log, cmd, model, "'The river runs'");
    ck_assert_str_eq(json_string_value(json_object_get(j, "text")), text1);
    json_decref(j);
    free(text1);
}
END_TEST

/* `slmrt bench --json` on the tiny model: every figure present and
 * consistent; the weight bytes per token counted independently from the
 * tensor table (every matrix once, plus one embedding row when the output
 * matrix is separate). */
START_TEST(bench_reports) {
    char model[4096], log[4096], cmd[4096];
    snprintf(model, sizeof model, "%s", tiny_artifact());
    snprintf(log, sizeof log, "%s", ts_tmp("bench.log"));
    snprintf(cmd, sizeof cmd, "%s bench -m %%s %%s --threads 2 --json", ts_bin("slmrt"));
    json_t *j = run_json(log, cmd, model, "-p 8 -n 20");
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_int_eq(slm_gguf_read(model, &m, &d), SLM_OK);
    const bool tied = slm_model_find_tensor(m, "output.weight") == NULL;
    double bytes = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        bytes += !tied && strcmp(t->name, "token_embd.weight") == 0 ? (double)t->nbytes / (double)t->ne[1]
                                                                     : (double)t->nbytes;
    }
    slm_model_free(m);
    ck_assert_double_eq_tol(json_real_value(json_object_get(j, "weight_bytes_per_token")), bytes, 0.5);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "prompt_tokens")), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "gen_tokens")), 20);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "threads")), 2);
    /* one probe pass after every 8 decoded tokens: 8, 8, 4 */
    ck_assert_int_eq(json_integer_value(json_object_get(j, "probe_passes")), 3);
    const double tg = json_real_value(json_object_get(j, "gen_tokens_per_s"));
    const double achieved = json_real_value(json_object_get(j, "achieved_gb_s"));
    ck_assert(json_real_value(json_object_get(j, "prompt_tokens_per_s")) > 0 && tg > 0);
    ck_assert_double_eq_tol(achieved, bytes * tg / 1e9, 1e-9 * (1 + achieved));
    ck_assert(json_real_value(json_object_get(j, "probe_gb_s")) > 0);
    const double lo = json_real_value(json_object_get(j, "bandwidth_fraction_min")),
                 mid = json_real_value(json_object_get(j, "bandwidth_fraction")),
                 hi = json_real_value(json_object_get(j, "bandwidth_fraction_max"));
    ck_assert_msg(lo > 0 && lo <= mid && mid <= hi, "fractions %g %g %g", lo, mid, hi);
    json_decref(j);
    /* a decode run of 0 tokens is a usage error */
    ck_assert_int_eq(ts_run(log, "%s bench -m %s -n 0", ts_bin("slmrt"), model), 2);
}
END_TEST

START_TEST(tokenize_vocab_only_files) {
    const char *p = ts_shared("vocab/ggml-vocab-gpt-2.gguf");
    if (!p) return;
    char vocab[4096], log[4096];
    snprintf(vocab, sizeof vocab, "%s", p);
    snprintf(log, sizeof log, "%s", ts_tmp("tok.log"));
    ck_assert_int_eq(ts_run(log, "%s tokenize -m %s -p ' Hello world' --no-bos", ts_bin("slmrt"), vocab), 0);
    char *out = ts_read_file(log, NULL);
    ck_assert_msg(strstr(out, "18435 995") != NULL, "got: %s", out);
    free(out);
}
END_TEST

static void expect_error(const char *log, int want, const char *fragment, const char *cmd) {
    int rc = ts_run(log, "%s", cmd);
    char *out = ts_read_file(log, NULL);
    ck_assert_msg(rc == want, "'%s' exited %d, expected %d:\n%s", cmd, rc, want, out);
    ck_assert_msg(strstr(out, fragment) != NULL, "'%s': message lacks '%s':\n%s", cmd, fragment, out);
    ck_assert_msg(!strstr(out, "AddressSanitizer") && !strstr(out, "runtime error"), "sanitizer report:\n%s", out);
    free(out);
}

START_TEST(bad_inputs) {
    char model[4096], log[4096], cmd[8192];
    snprintf(model, sizeof model, "%s", tiny_artifact());
    snprintf(log, sizeof log, "%s", ts_tmp("bad.log"));
    /* context overflow */
    snprintf(cmd, sizeof cmd, "%s run -m %s -p 'The river' -n 400", ts_bin("slmrt"), model);
    expect_error(log, 2, "context", cmd);
    /* invalid UTF-8 prompt */
    snprintf(cmd, sizeof cmd, "%s run -m %s -p $'abc\\xff\\xfe' -n 4", ts_bin("slmrt"), model);
    char wrapped[8300];
    snprintf(wrapped, sizeof wrapped, "bash -c \"%s\"", cmd);
    expect_error(log, 3, "UTF-8", wrapped);
    /* a GGUF missing a required key, and one with a wrong tensor shape */
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_gguf_read(model, &m, &d) == SLM_OK, "%s", d.msg);
    char broken[4096];
    snprintf(broken, sizeof broken, "%s", ts_tmp("noeps.gguf"));
    m->hp.has &= ~(uint32_t)SLM_HP_RMS_EPS;
    ck_assert_msg(slm_gguf_write(m, broken, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p 'x' -n 1", ts_bin("slmrt"), broken);
    expect_error(log, 3, "layer_norm_rms_epsilon", cmd);
    ck_assert_msg(slm_gguf_read(model, &m, &d) == SLM_OK, "%s", d.msg);
    m->hp.n_ff = 256; /* tensors keep 384 */
    snprintf(broken, sizeof broken, "%s", ts_tmp("shape.gguf"));
    ck_assert_msg(slm_gguf_write(m, broken, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p 'x' -n 1", ts_bin("slmrt"), broken);
    expect_error(log, 3, "ffn_gate", cmd);
    /* a weight type the runtime has no kernels for: i8 (a valid ggml type
     * llama.cpp does not run matrices in either) */
    ck_assert_msg(slm_gguf_read(model, &m, &d) == SLM_OK, "%s", d.msg);
    slm_tensor *wq = NULL;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, "blk.0.attn_q.weight") == 0) wq = &m->tensors[i];
    ck_assert_ptr_nonnull(wq);
    void *i8 = calloc((size_t)slm_tensor_nelements(wq), 1);
    ck_assert_msg(slm_tensor_set_owned(wq, SLM_TYPE_I8, i8, &d) == SLM_OK, "%s", d.msg);
    snprintf(broken, sizeof broken, "%s", ts_tmp("i8.gguf"));
    ck_assert_msg(slm_gguf_write(m, broken, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p 'x' -n 1", ts_bin("slmrt"), broken);
    expect_error(log, 3, "i8", cmd);
    /* a token id outside the vocabulary */
    char toks[4096];
    snprintf(toks, sizeof toks, "%s", ts_tmp("bad.tokens"));
    ts_write_file(toks, "1 2 99999 3", 11);
    snprintf(cmd, sizeof cmd, "%s eval -m %s --tokens %s", ts_bin("slmrt"), model, toks);
    expect_error(log, 3, "99999", cmd);
}
END_TEST

int main(void) {
    Suite *s = suite_create("runtime_cli");
    TCase *tc = tcase_create("runtime_cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, logits_golden_f32);
    tcase_add_test(tc, logits_golden_f16);
    tcase_add_test(tc, logits_golden_bf16);
    tcase_add_test(tc, logits_golden_q8_0);
    tcase_add_test(tc, logits_golden_q4_0);
    tcase_add_loop_test(tc, logits_golden_more_quants, 0,
                        (int)(sizeof golden_quant_types / sizeof golden_quant_types[0]));
    tcase_add_test(tc, logits_stories_f32);
    tcase_add_test(tc, logits_stories_f16);
    tcase_add_test(tc, logits_shakespeare_f16);
    tcase_add_test(tc, eval_ref_reports_kld);
    tcase_add_test(tc, run_generates_and_reports);
    tcase_add_test(tc, bench_reports);
    tcase_add_test(tc, tokenize_vocab_only_files);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
