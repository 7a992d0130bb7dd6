/* check_mix_e2e.c - llama-quantize's mixes (`--type q4_k_m`, `--mix q4_0`)
 * and the per-tensor overrides (--tensor-type, --output-type,
 * --embedding-type) through the CLI: the types each tensor gets,
 * general.file_type, fallbacks, and the tensor bytes of llama.cpp's own
 * mixes of shakespeare-F16 (sizes in ../shared/models/README.md). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_compare.h"
#include "slm_gguf.h"
#include "test_support.h"

static char tiny_dir[4096];

/* The 4-layer example model (dim 128, ffn 384, 4 heads / 2 KV heads). */
static const char *tiny(void) {
    if (!tiny_dir[0]) {
        snprintf(tiny_dir, sizeof tiny_dir, "%s", ts_tmp("tiny"));
        ck_assert_int_eq(ts_run(NULL, "%s synth --preset tiny -o %s --quiet", ts_bin("slmc"), tiny_dir), 0);
    }
    return tiny_dir;
}

/* Compiles `input` with `opts` into a scratch file and reads it back. */
static slm_model *compile(const char *input, const char *opts, const char *tag, char *log, size_t log_size) {
    char out[4096];
    snprintf(out, sizeof out, "%s", ts_tmp(tag));
    snprintf(log, log_size, "%s.log", out);
    int rc = ts_run(log, "%s compile %s %s -o %s", ts_bin("slmc"), input, opts, out);
    ck_assert_msg(rc == 0, "slmc compile %s exited %d (see %s)", opts, rc, log);
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_gguf_read(out, &m, &d) == SLM_OK, "%s", d.msg);
    return m;
}

static void assert_type(const slm_model *m, const char *name, slm_type want) {
    const slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    ck_assert_msg(t->type == want, "%s: %s, expected %s", name, slm_type_name(t->type), slm_type_name(want));
}

static uint64_t file_type(const slm_model *m) {
    const slm_kv *kv = slm_model_find_kv(m, "general.file_type");
    ck_assert_ptr_nonnull(kv);
    ck_assert_int_eq(kv->value.type, SLM_V_U32);
    return kv->value.v.u64;
}

/* llama.cpp's Q4_K_M on the tiny model. Its rows (128, and 384 for
 * ffn_down) fit no 256-element block, so every K-quant the rules choose
 * falls back as llama.cpp's does: Q4_K -> Q5_0, Q6_K -> Q8_0. The rules
 * still show: use_more_bits(i, 4) picks layers 2 and 3 for attn_v and
 * ffn_down (Q6_K), and output.weight is Q8_0 because its rows do not fit
 * Q4_K's block. */
START_TEST(q4_k_m_on_tiny) {
    char log[4096];
    slm_model *m = compile(tiny(), "--type q4_k_m", "tiny-q4_k_m.gguf", log, sizeof log);
    ck_assert_uint_eq(file_type(m), 15);
    assert_type(m, "token_embd.weight", SLM_TYPE_Q5_0);
    assert_type(m, "output.weight", SLM_TYPE_Q8_0);
    assert_type(m, "output_norm.weight", SLM_TYPE_F32);
    for (int l = 0; l < 4; l++) {
        char name[64];
        slm_type more = l >= 2 ? SLM_TYPE_Q8_0 : SLM_TYPE_Q5_0;
        const struct {
            const char *suffix;
            slm_type type;
        } want[] = {{"attn_q", SLM_TYPE_Q5_0},  {"attn_k", SLM_TYPE_Q5_0},   {"attn_v", more},
                    {"attn_output", SLM_TYPE_Q5_0}, {"ffn_gate", SLM_TYPE_Q5_0}, {"ffn_up", SLM_TYPE_Q5_0},
                    {"ffn_down", more},          {"attn_norm", SLM_TYPE_F32}, {"ffn_norm", SLM_TYPE_F32}};
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, want[k].suffix);
            assert_type(m, name, want[k].type);
        }
    }
    slm_model_free(m);
    /* every fallback is reported with its reason */
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(strstr(msg, "blk.3.ffn_down.weight: row length 384 is not a multiple of the q6_k block size 256") &&
                      strstr(msg, "stored as q8_0"),
                  "no fallback report:\n%s", msg);
    free(msg);
}
END_TEST

/* Overrides on top of a plain type: the first matching --tensor-type rule,
 * then --embedding-type and --output-type. */
START_TEST(overrides) {
    char log[4096];
    slm_model *m = compile(tiny(),
                           "--type q4_0 --tensor-type 'blk\\.[01]\\.attn_(q|k)=q8_0' --tensor-type 'attn_q=q5_1' "
                           "--tensor-type 'ATTN_V=f16' --output-type f16 --embedding-type q6_k",
                           "tiny-over.gguf", log, sizeof log);
    ck_assert_uint_eq(file_type(m), 2); /* llama-quantize keeps the ftype of the type asked for */
    assert_type(m, "blk.0.attn_q.weight", SLM_TYPE_Q8_0);
    assert_type(m, "blk.1.attn_k.weight", SLM_TYPE_Q8_0);
    assert_type(m, "blk.2.attn_q.weight", SLM_TYPE_Q5_1);
    assert_type(m, "blk.2.attn_k.weight", SLM_TYPE_Q4_0);
    assert_type(m, "blk.3.attn_v.weight", SLM_TYPE_F16); /* case-insensitive */
    assert_type(m, "blk.3.ffn_up.weight", SLM_TYPE_Q4_0);
    assert_type(m, "output.weight", SLM_TYPE_F16);
    /* Q6_K does not fit 128-wide rows: llama.cpp's fallback, reported */
    assert_type(m, "token_embd.weight", SLM_TYPE_Q8_0);
    slm_model_free(m);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(strstr(msg, "token_embd.weight: row length 128"), "no fallback report:\n%s", msg);
    free(msg);
}
END_TEST

START_TEST(option_errors) {
    const char *input = tiny();
    char log[4096];
    snprintf(log, sizeof log, "%s", ts_tmp("opts.log"));
    const char *bad[] = {"--type q4_k_x",           "--mix q9_k",
                         "--type q4_0 --mix q4_0",  "--tensor-type attn_v",
                         "--tensor-type 'attn_v=q7_0'", "--tensor-type '(attn=q4_0'",
                         "--output-type q8_1",      "--embedding-type nope",
                         "--threads 0",             "--threads x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ts_run(log, "%s compile %s %s -o %s", ts_bin("slmc"), input, bad[i], ts_tmp("never.gguf"));
        ck_assert_msg(rc == 2, "'%s' exited %d, expected 2", bad[i], rc);
        ck_assert(!ts_file_exists(ts_tmp("never.gguf")));
    }
}
END_TEST

/* `--mix q4_0` is llama-quantize's Q4_0 without --pure: output.weight goes
 * to Q6_K, the rest is byte-identical to the pure golden file. */
START_TEST(mix_q4_0_on_golden) {
    const char *p = ts_shared("golden/golden-f32.gguf");
    if (!p) return;
    char src[4096], ref[4096], log[4096];
    snprintf(src, sizeof src, "%s", p);
    snprintf(ref, sizeof ref, "%s", ts_shared("golden/golden-Q4_0.gguf"));
    slm_model *m = compile(src, "--mix q4_0", "mix-q4_0.gguf", log, sizeof log);
    ck_assert_uint_eq(file_type(m), 2);
    assert_type(m, "output.weight", SLM_TYPE_Q6_K);
    slm_diag d = {0};
    slm_model *gold = NULL;
    ck_assert_msg(slm_gguf_read(ref, &gold, &d) == SLM_OK, "%s", d.msg);
    slm_model_remove_tensor(gold, "output.weight");
    char why[512];
    ck_assert_msg(mc_tensors_equal(gold, m, 1, why, sizeof why) == 0, "%s", why);
    slm_model_free(gold);
    slm_model_free(m);
}
END_TEST

/* Bytes of tensor data (each padded to 32) in a GGUF. */
static uint64_t tensor_bytes(const slm_model *m) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++) n += (m->tensors[i].nbytes + 31) / 32 * 32;
    return n;
}

/* llama.cpp's mixes of shakespeare-F16 (models/README.md lists their file
 * sizes). Its quantized files carry the F16 file's metadata unchanged in
 * size, so each file's tensor bytes are its size minus the F16 file's
 * metadata; slmc's mixes must choose types giving exactly those bytes. */
static const struct {
    const char *mix;
    uint64_t llama_file_size;
} shakespeare_mixes[] = {{"q8_0", 23579840},   {"q6_k", 18373824},   {"q5_k_m", 16676544}, {"q4_k_m", 15079104},
                         {"q4_k_s", 14976704}, {"q4_0", 14943936},   {"q3_k_m", 13454528}, {"q2_k", 12025536}};

START_TEST(shakespeare_mix_sizes_match_llama_cpp) {
    const char *p = ts_shared("models/shakespeare-F16.gguf");
    if (!p) return;
    char src[4096], log[4096], tag[64];
    snprintf(src, sizeof src, "%s", p);
    slm_diag d = {0};
    slm_model *f16 = NULL;
    ck_assert_msg(slm_gguf_read(src, &f16, &d) == SLM_OK, "%s", d.msg);
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    uint64_t metadata = (uint64_t)ftell(f) - tensor_bytes(f16);
    fclose(f);
    slm_model_free(f16);

    const char *mix = shakespeare_mixes[_i].mix;
    char opts[64];
    snprintf(opts, sizeof opts, "--mix %s --quiet", mix);
    snprintf(tag, sizeof tag, "sh-%s.gguf", mix);
    slm_model *m = compile(src, opts, tag, log, sizeof log);
    ck_assert_msg(tensor_bytes(m) == shakespeare_mixes[_i].llama_file_size - metadata,
                  "%s: %llu bytes of tensors, llama.cpp's file has %llu", mix, (unsigned long long)tensor_bytes(m),
                  (unsigned long long)(shakespeare_mixes[_i].llama_file_size - metadata));
    slm_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mix_e2e");
    TCase *tc = tcase_create("mix");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, q4_k_m_on_tiny);
    tcase_add_test(tc, overrides);
    tcase_add_test(tc, option_errors);
    tcase_add_test(tc, mix_q4_0_on_golden);
    tcase_add_loop_test(tc, shakespeare_mix_sizes_match_llama_cpp, 0,
                        (int)(sizeof shakespeare_mixes / sizeof shakespeare_mixes[0]));
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
