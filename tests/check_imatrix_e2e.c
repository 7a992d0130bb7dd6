/* check_imatrix_e2e.c - `slmc compile --calib golden.imatrix` must reproduce
 * llama-quantize --pure --imatrix byte for byte (every golden-imat-T.gguf),
 * carry the quantize.imatrix.* keys llama-quantize writes, give the same
 * file for any --threads, accept `slmc calibrate`'s stats as well, and
 * refuse bad statistics with a message naming the file and tensor. */
#include <check.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_compare.h"
#include "slm_gguf.h"
#include "test_support.h"

static const char *const imat_types[] = {"q4_0", "q4_1", "q5_0", "q2_k", "q3_k",
                                         "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};

/* The golden directory, without the file name (static storage). */
static const char *golden_dir(void) {
    static char dir[4096];
    const char *p = ts_shared("golden/golden-f32.gguf");
    if (!p) return NULL;
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = 0;
    return dir;
}

static void assert_same_kv(const slm_model *gold, const slm_model *mine, const char *key) {
    const slm_kv *g = slm_model_find_kv(gold, key), *m = slm_model_find_kv(mine, key);
    ck_assert_msg(g != NULL, "golden file has no %s", key);
    ck_assert_msg(m != NULL, "slmc wrote no %s", key);
    ck_assert_msg(g->value.type == m->value.type, "%s: type %d, llama.cpp wrote %d", key, m->value.type,
                  g->value.type);
    if (g->value.type == SLM_V_STR)
        ck_assert_str_eq(m->value.v.str.s, g->value.v.str.s);
    else
        ck_assert_msg(g->value.v.u64 == m->value.v.u64, "%s: %llu, llama.cpp wrote %llu", key,
                      (unsigned long long)m->value.v.u64, (unsigned long long)g->value.v.u64);
}

/* Run from the golden directory with the imatrix named as llama-quantize was
 * given it, so quantize.imatrix.file can be compared as written. */
START_TEST(imatrix_matches_llama_quantize) {
    const char *dir = golden_dir();
    if (!dir) return;
    const char *type = imat_types[_i];
    char upper[16] = {0}, ref[4096], out[4096], log[4096], tag[64];
    for (size_t k = 0; type[k] && k < sizeof upper - 1; k++) upper[k] = (char)toupper((unsigned char)type[k]);
    snprintf(ref, sizeof ref, "%s/golden-imat-%s.gguf", dir, upper);
    snprintf(tag, sizeof tag, "imat-%s.gguf", type);
    snprintf(out, sizeof out, "%s", ts_tmp(tag));
    snprintf(log, sizeof log, "%s.log", out);
    int rc = ts_run(log, "cd %s && %s compile golden-f32.gguf --type %s --calib golden.imatrix -o %s --quiet", dir,
                    ts_bin("slmc"), type, out);
    ck_assert_msg(rc == 0, "slmc compile --type %s --calib exited %d (see %s)", type, rc, log);

    slm_diag d = {0};
    slm_model *mine = NULL, *gold = NULL;
    ck_assert_msg(slm_gguf_read(out, &mine, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_gguf_read(ref, &gold, &d) == SLM_OK, "%s", d.msg);
    char why[512];
    ck_assert_msg(mc_tensors_equal(gold, mine, 0, why, sizeof why) == 0, "%s: %s", type, why);
    assert_same_kv(gold, mine, "general.file_type");
    assert_same_kv(gold, mine, "quantize.imatrix.file");
    assert_same_kv(gold, mine, "quantize.imatrix.dataset");
    assert_same_kv(gold, mine, "quantize.imatrix.entries_count");
    assert_same_kv(gold, mine, "quantize.imatrix.chunks_count");
    /* the statistics are an input: listed and hashed with the model */
    const slm_kv *inputs = slm_model_find_kv(mine, "slmc.inputs");
    ck_assert_ptr_nonnull(inputs);
    ck_assert_uint_eq(inputs->value.n, 2);
    ck_assert_str_eq(((const slm_str *)inputs->value.v.arr)[1].s, "golden.imatrix");
    slm_model_free(mine);
    slm_model_free(gold);
}
END_TEST

/* Encoding threads change nothing, not even the recorded command line. */
START_TEST(threads_do_not_change_bytes) {
    const char *dir = golden_dir();
    if (!dir) return;
    char out[4096], first[4096];
    snprintf(out, sizeof out, "%s", ts_tmp("threads.gguf")); /* one name: -o is recorded */
    snprintf(first, sizeof first, "%s", ts_tmp("threads-1.gguf"));
    const char *types[] = {"q4_k_m", "iq4_xs", "q8_0"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        ck_assert_int_eq(ts_run(NULL, "cd %s && %s compile golden-f32.gguf --type %s --calib golden.imatrix "
                                      "--threads 1 -o %s", dir, ts_bin("slmc"), types[i], out), 0);
        ck_assert_int_eq(rename(out, first), 0);
        ck_assert_int_eq(ts_run(NULL, "cd %s && %s compile golden-f32.gguf --quiet --type %s --threads=2 "
                                      "--calib golden.imatrix -o %s", dir, ts_bin("slmc"), types[i], out), 0);
        ck_assert_msg(ts_run(NULL, "cmp -s %s %s", out, first) == 0, "%s: --threads 1 and 2 differ", types[i]);
    }
}
END_TEST

/* A legacy imatrix holding one entry of n values (ncall 1, no trailer). */
static void write_imatrix(const char *path, const char *name, int32_t n) {
    size_t len = strlen(name), size = 16 + len + 4 * (size_t)n;
    unsigned char *b = calloc(1, size);
    int32_t head[2] = {1, (int32_t)len}, tail[2] = {1, n};
    memcpy(b, head, 8);
    memcpy(b + 8, name, len);
    memcpy(b + 8 + len, tail, 8);
    for (int32_t i = 0; i < n; i++) {
        float v = 1.0f + (float)i;
        memcpy(b + 16 + len + 4 * (size_t)i, &v, 4); /* names make the values unaligned */
    }
    ck_assert_int_eq(ts_write_file(path, b, size), 0);
    free(b);
}

/* Runs a compile of golden-f32.gguf with `opts`, expects exit `code`, no
 * output file, and every `needles` string in the message. */
static void expect_compile_error(const char *opts, int code, const char *needle1, const char *needle2) {
    char src[4096], out[4096], log[4096];
    snprintf(src, sizeof src, "%s", ts_shared("golden/golden-f32.gguf"));
    snprintf(out, sizeof out, "%s", ts_tmp("err.gguf"));
    snprintf(log, sizeof log, "%s.log", out);
    int rc = ts_run(log, "%s compile %s %s -o %s", ts_bin("slmc"), src, opts, out);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == code, "'%s' exited %d, expected %d:\n%s", opts, rc, code, msg);
    ck_assert_msg(!needle1 || strstr(msg, needle1), "'%s': no '%s' in:\n%s", opts, needle1, msg);
    ck_assert_msg(!needle2 || strstr(msg, needle2), "'%s': no '%s' in:\n%s", opts, needle2, msg);
    ck_assert_msg(!ts_file_exists(out), "'%s' left %s behind", opts, out);
    free(msg);
}

START_TEST(bad_statistics_are_refused) {
    if (!golden_dir()) return;
    char other[4096], garbage[4096], trunc[4096], opts[8192];
    /* statistics of another model: the entry is 512 wide, the matrix 256 */
    snprintf(other, sizeof other, "%s", ts_tmp("other.imatrix"));
    write_imatrix(other, "blk.1.attn_q.weight", 512);
    snprintf(opts, sizeof opts, "--type q4_k --calib %s", other);
    expect_compile_error(opts, 3, "blk.1.attn_q.weight", "other.imatrix");
    /* not a statistics file at all */
    snprintf(garbage, sizeof garbage, "%s", ts_tmp("garbage.dat"));
    ck_assert_int_eq(ts_write_file(garbage, "\xff\xff\xff\xffnot an imatrix", 18), 0);
    snprintf(opts, sizeof opts, "--type q4_k --calib %s", garbage);
    expect_compile_error(opts, 3, "garbage.dat", "imatrix");
    /* a GGUF (e.g. llama-imatrix --output-format gguf) */
    snprintf(opts, sizeof opts, "--type q4_k --calib %s", ts_shared("golden/golden-Q8_0.gguf"));
    expect_compile_error(opts, 3, "golden-Q8_0.gguf", "GGUF");
    /* a truncated legacy file */
    size_t n = 0;
    char *full = ts_read_file(ts_shared("golden/golden.imatrix"), &n);
    ck_assert_ptr_nonnull(full);
    snprintf(trunc, sizeof trunc, "%s", ts_tmp("trunc.imatrix"));
    ck_assert_int_eq(ts_write_file(trunc, full, n / 2), 0);
    free(full);
    snprintf(opts, sizeof opts, "--type q4_k --calib %s", trunc);
    expect_compile_error(opts, 3, "trunc.imatrix", NULL);
    /* missing file: an I/O error */
    expect_compile_error("--type q4_k --calib /nonexistent/x.imatrix", 4, "/nonexistent/x.imatrix", NULL);
    /* a method that needs statistics, none given */
    expect_compile_error("--type q4_k --method imatrix", 3, "--calib", NULL);
    expect_compile_error("--type q4_k --method awq", 3, "--calib", NULL);
    expect_compile_error("--type q4_k --method spqr", 2, "spqr", "awq+gptq");
    /* whole-tensor methods need slmc's statistics; GPTQ their Gram matrices */
    snprintf(opts, sizeof opts, "--type q4_k --method gptq --calib %s/golden.imatrix", golden_dir());
    expect_compile_error(opts, 3, "slmc calibrate", NULL);
    char stats[4096];
    snprintf(stats, sizeof stats, "%s", ts_tmp("nogram.stats"));
    ck_assert_int_eq(ts_run(NULL, "%s calibrate %s/golden-f32.gguf --data %s/golden.tokens --ctx 32 -o %s --quiet",
                            ts_bin("slmc"), golden_dir(), golden_dir(), stats),
                     0);
    snprintf(opts, sizeof opts, "--type q4_k --method gptq --calib %s", stats);
    expect_compile_error(opts, 3, "--gram", "nogram.stats");
    /* Q2_K_S, like llama.cpp, needs weights for its Q2_K matrices */
    expect_compile_error("--type q2_k_s", 3, "q2_k", "--calib");
}
END_TEST

/* An imatrix without entries for some matrices is fine: they are quantized
 * without weights, and the report says which. */
START_TEST(missing_entries_quantize_without_weights) {
    const char *dir = golden_dir();
    if (!dir) return;
    char im[4096], out[4096], log[4096];
    snprintf(im, sizeof im, "%s", ts_tmp("one.imatrix"));
    write_imatrix(im, "blk.0.attn_q.weight", 256);
    snprintf(out, sizeof out, "%s", ts_tmp("one.gguf"));
    snprintf(log, sizeof log, "%s.log", out);
    ck_assert_int_eq(ts_run(log, "%s compile %s/golden-f32.gguf --type q4_0 --calib %s -o %s", ts_bin("slmc"), dir,
                            im, out),
                     0);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(strstr(msg, "1 of 16"), "no weights report:\n%s", msg);
    free(msg);
    /* every matrix but blk.0.attn_q equals plain Q4_0; that one differs */
    slm_diag d = {0};
    slm_model *mine = NULL, *plain = NULL;
    ck_assert_msg(slm_gguf_read(out, &mine, &d) == SLM_OK, "%s", d.msg);
    char ref[4096];
    snprintf(ref, sizeof ref, "%s/golden-Q4_0.gguf", dir);
    ck_assert_msg(slm_gguf_read(ref, &plain, &d) == SLM_OK, "%s", d.msg);
    char why[512];
    ck_assert_int_eq(mc_tensor_equal(plain, "blk.0.attn_k.weight", mine, "blk.0.attn_k.weight", why, sizeof why), 0);
    ck_assert_int_ne(mc_tensor_equal(plain, "blk.0.attn_q.weight", mine, "blk.0.attn_q.weight", why, sizeof why), 0);
    const slm_kv *entries = slm_model_find_kv(mine, "quantize.imatrix.entries_count");
    ck_assert_ptr_nonnull(entries);
    ck_assert_int_eq(entries->value.v.i64, 1);
    ck_assert_ptr_null(slm_model_find_kv(mine, "quantize.imatrix.dataset"));   /* no trailer */
    ck_assert_ptr_null(slm_model_find_kv(mine, "quantize.imatrix.chunks_count"));
    slm_model_free(mine);
    slm_model_free(plain);
}
END_TEST

/* `slmc calibrate`'s own stats file works as --calib too (recognised by its
 * magic); stats of another model are refused by their fingerprint. */
START_TEST(slmc_stats_as_calib) {
    const char *dir = golden_dir();
    if (!dir) return;
    char stats[4096], tiny[4096], tiny_stats[4096], out[4096], log[4096];
    snprintf(stats, sizeof stats, "%s", ts_tmp("golden.stats"));
    snprintf(tiny, sizeof tiny, "%s", ts_tmp("tiny"));
    snprintf(tiny_stats, sizeof tiny_stats, "%s", ts_tmp("tiny.stats"));
    snprintf(out, sizeof out, "%s", ts_tmp("stats.gguf"));
    snprintf(log, sizeof log, "%s.log", out);
    const char *calibrate = "%s calibrate %s --data %s/calib.txt -o %s --tokens 512 --ctx 128 --quiet";
    ck_assert_int_eq(ts_run(log, calibrate, ts_bin("slmc"), ts_shared("golden/golden-f32.gguf"), dir, stats), 0);
    ck_assert_int_eq(ts_run(log, "%s compile %s/golden-f32.gguf --type q4_k_m --calib %s -o %s", ts_bin("slmc"), dir,
                            stats, out),
                     0);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(strstr(msg, "importance weights for 15 of 16"), "no weights report:\n%s", msg);
    free(msg);
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_gguf_read(out, &m, &d) == SLM_OK, "%s", d.msg);
    const slm_kv *chunks = slm_model_find_kv(m, "quantize.imatrix.chunks_count");
    ck_assert_ptr_nonnull(chunks);
    ck_assert_int_eq(chunks->value.v.i64, 4);
    slm_model_free(m);

    ck_assert_int_eq(ts_run(NULL, "%s synth --preset tiny -o %s --quiet", ts_bin("slmc"), tiny), 0);
    ck_assert_int_eq(ts_run(log, calibrate, ts_bin("slmc"), tiny, dir, tiny_stats), 0);
    char opts[8192];
    snprintf(opts, sizeof opts, "--type q4_k_m --calib %s", tiny_stats);
    expect_compile_error(opts, 3, "tiny.stats", "another model");
}
END_TEST

int main(void) {
    Suite *s = suite_create("imatrix_e2e");
    TCase *tc = tcase_create("imatrix");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, imatrix_matches_llama_quantize, 0, (int)(sizeof imat_types / sizeof imat_types[0]));
    tcase_add_test(tc, threads_do_not_change_bytes);
    tcase_add_test(tc, bad_statistics_are_refused);
    tcase_add_test(tc, missing_entries_quantize_without_weights);
    tcase_add_test(tc, slmc_stats_as_calib);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
