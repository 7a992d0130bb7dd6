/* check_score_e2e.c - `slmc score` end to end: its figures equal those of
 * `slmrt eval --ref` on the same text, context and models (one shared
 * implementation, so to the last bits; checked to 1e-9 relative) on the
 * tiny synthetic model against Q8_0/Q4_0 compiles of it and on
 * shakespeare-F16 against Q4_0 when ../shared is there; the teacher runs
 * once per run whatever the number of students, zero times when its logits
 * are in the disk cache, and again when the cache file is corrupt or
 * truncated; a student with another vocabulary is an error naming it. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm_gguf.h"
#include "slm_open.h"
#include "slmc_score.h"
#include "slmrt.h"
#include "test_support.h"

/* The tiny model: its HF folder, an F32 GGUF (the teacher) and Q8_0/Q4_0
 * students, made once. */
static const char *tiny_dir(void) { return ts_tiny_model("score-tiny", "f32"); }

static const char *tiny_gguf(const char *type) {
    static char path[3][4096];
    const int i = !strcmp(type, "f32") ? 0 : !strcmp(type, "q8_0") ? 1 : 2;
    char name[64];
    snprintf(name, sizeof name, "score-tiny-%s.gguf", type);
    snprintf(path[i], sizeof path[i], "%s", ts_tmp(name));
    if (!ts_file_exists(path[i])) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", tiny_dir());
        ck_assert_int_eq(ts_run(NULL, "%s compile %s -o %s --type %s --quiet", ts_bin("slmc"), dir, path[i], type), 0);
    }
    return path[i];
}

/* Deterministic English-like text (about `n` bytes), so the tests need no
 * shared material. */
static const char *text_file(const char *name, size_t n) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp(name));
    if (ts_file_exists(path)) return path;
    static const char *words[] = {"the", "king", "shall", "speak", "of", "love", "and", "night", "my", "lord",
                                  "what", "is", "this", "day", "to", "thee", "fair", "sweet", "a", "word",
                                  "good", "come", "go", "now", "here", "with", "all", "heart", "death", "life"};
    char *buf = malloc(n + 64);
    size_t len = 0;
    uint32_t rng = 12345;
    while (len < n) {
        const char *w = words[ts_rng_next(&rng) % (sizeof words / sizeof *words)];
        len += (size_t)sprintf(buf + len, "%s%s", w, ts_rng_next(&rng) % 9 == 0 ? ".\n" : " ");
    }
    ck_assert_int_eq(ts_write_file(path, buf, len), 0);
    free(buf);
    return path;
}

/* Runs a command that prints JSON, returns it parsed. `env` is put in front
 * of the command (may be ""). */
static json_t *run_json(const char *env, const char *fmt, ...) {
    char cmd[8192], full[8400], out[4200], log[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(out, sizeof out, "%s", ts_tmp("score-json.out"));
    snprintf(log, sizeof log, "%s", ts_tmp("score-json.log"));
    snprintf(full, sizeof full, "(%s %s > %s)", env, cmd, out); /* ts_run sends the rest to the log */
    const int rc = ts_run(log, "%s", full);
    ck_assert_msg(rc == 0, "'%s' exited %d (see %s)", cmd, rc, log);
    json_error_t err;
    json_t *j = json_load_file(out, 0, &err);
    ck_assert_msg(j != NULL, "'%s': output is not JSON: %s", cmd, err.text);
    return j;
}

static double num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "no number '%s' in the output", key);
    return json_number_value(v);
}

static void close_rel(double a, double b, double tol, const char *what) {
    const double scale = fmax(fabs(a), fabs(b));
    ck_assert_msg(fabs(a - b) <= tol * scale + 1e-300, "%s: %.17g vs %.17g", what, a, b);
}

/* Every figure of a `slmc score` student object against `slmrt eval --ref`'s. */
static void same_figures(const json_t *student, const json_t *eval, double tol) {
    static const char *pairs[][2] = {{"kld_mean", "kld_mean"},         {"kld_median", "kld_median"},
                                     {"kld_p90", "kld_p90"},           {"kld_p99", "kld_p99"},
                                     {"kld_max", "kld_max"},           {"same_top1", "same_top1"},
                                     {"mean_delta_p", "mean_delta_p"}, {"rms_delta_p", "rms_delta_p"},
                                     {"ppl", "ppl"},                   {"ppl_teacher", "ppl_ref"},
                                     {"scored_tokens", "scored_tokens"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        close_rel(num(student, pairs[i][0]), num(eval, pairs[i][1]), tol, pairs[i][0]);
}

/* Two student objects with the same figures. */
static void same_student(const json_t *a, const json_t *b, double tol) {
    static const char *keys[] = {"kld_mean", "kld_median", "kld_p90", "kld_p99", "kld_max", "same_top1",
                                 "mean_delta_p", "rms_delta_p", "ppl", "ppl_teacher", "scored_tokens"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) close_rel(num(a, keys[i]), num(b, keys[i]), tol, keys[i]);
}

static const json_t *student_at(const json_t *score, size_t i) {
    const json_t *arr = json_object_get(score, "students");
    ck_assert_msg(json_is_array(arr) && json_array_size(arr) > i, "no student %zu in the output", i);
    return json_array_get(arr, i);
}

/* Two students in one run: each agrees with slmrt eval, and the teacher ran
 * once (forward passes = chunks). */
START_TEST(tiny_agrees_with_eval) {
    const char *text = text_file("score-text.txt", 6000);
    char teacher[4096], q8[4096], q4[4096];
    snprintf(teacher, sizeof teacher, "%s", tiny_gguf("f32"));
    snprintf(q8, sizeof q8, "%s", tiny_gguf("q8_0"));
    snprintf(q4, sizeof q4, "%s", tiny_gguf("q4_0"));
    json_t *sc = run_json("", "%s score --teacher %s --student %s --student %s --data %s --ctx 64 --json --no-cache",
                          ts_bin("slmc"), teacher, q8, q4, text);
    const char *students[] = {q8, q4};
    for (size_t i = 0; i < 2; i++) {
        json_t *ev = run_json("", "%s eval -m %s --ref %s --text %s --ctx 64 --json", ts_bin("slmrt"), students[i],
                              teacher, text);
        same_figures(student_at(sc, i), ev, 1e-9);
        ck_assert_int_eq((int)num(sc, "chunks"), (int)num(ev, "chunks"));
        ck_assert_int_eq((int)num(student_at(sc, i), "student_forward_passes"), (int)num(ev, "chunks"));
        json_decref(ev);
    }
    ck_assert_int_eq((int)num(sc, "teacher_forward_passes"), (int)num(sc, "chunks"));
    ck_assert(json_is_false(json_object_get(sc, "teacher_cached")));
    /* a sanity check that the figures mean something: Q4_0 is further away */
    ck_assert(num(student_at(sc, 1), "kld_mean") > num(student_at(sc, 0), "kld_mean"));
    ck_assert(num(student_at(sc, 0), "kld_mean") > 0);
    json_decref(sc);
}
END_TEST

/* The teacher read from the Hugging Face folder (slm_model_open) gives the
 * figures of its F32 GGUF; a student scored against itself has KL 0. */
START_TEST(tiny_hf_teacher_and_self) {
    const char *text = text_file("score-text.txt", 6000);
    char dir[4096], f32[4096], q4[4096];
    snprintf(dir, sizeof dir, "%s", tiny_dir());
    snprintf(f32, sizeof f32, "%s", tiny_gguf("f32"));
    snprintf(q4, sizeof q4, "%s", tiny_gguf("q4_0"));
    json_t *a = run_json("", "%s score --teacher %s --student %s --student %s --data %s --ctx 64 --json --no-cache",
                         ts_bin("slmc"), dir, q4, f32, text);
    json_t *b = run_json("", "%s score --teacher %s --student %s --data %s --ctx 64 --json --no-cache",
                         ts_bin("slmc"), f32, q4, text);
    same_student(student_at(a, 0), student_at(b, 0), 1e-9);
    const json_t *self = student_at(a, 1);
    ck_assert_double_eq(num(self, "kld_max"), 0);
    ck_assert_double_eq(num(self, "same_top1"), 1);
    close_rel(num(self, "ppl"), num(self, "ppl_teacher"), 1e-12, "ppl of the teacher as a student");
    json_decref(a);
    json_decref(b);
}
END_TEST

/* Token files follow `slmrt eval --tokens`: ids as given, a file shorter
 * than --ctx scored as one chunk. */
START_TEST(tiny_token_file) {
    char toks[4096], teacher[4096], q4[4096];
    snprintf(teacher, sizeof teacher, "%s", tiny_gguf("f32"));
    snprintf(q4, sizeof q4, "%s", tiny_gguf("q4_0"));
    for (int round = 0; round < 2; round++) {
        const int n = round ? 50 : 300;
        snprintf(toks, sizeof toks, "%s", ts_tmp(round ? "score-short.tokens" : "score.tokens"));
        FILE *f = fopen(toks, "w");
        ck_assert_ptr_nonnull(f);
        uint32_t rng = 7;
        for (int i = 0; i < n; i++) fprintf(f, "%u ", ts_rng_next(&rng) % 512);
        fclose(f);
        json_t *sc = run_json("", "%s score --teacher %s --student %s --tokens %s --ctx 64 --json --no-cache",
                              ts_bin("slmc"), teacher, q4, toks);
        json_t *ev = run_json("", "%s eval -m %s --ref %s --tokens %s --ctx 64 --json", ts_bin("slmrt"), q4,
                              teacher, toks);
        same_figures(student_at(sc, 0), ev, 1e-9);
        ck_assert_int_eq((int)num(sc, "ctx"), round ? 50 : 64);
        json_decref(sc);
        json_decref(ev);
    }
}
END_TEST

START_TEST(shakespeare_agrees_with_eval) {
    const char *f16 = ts_shared("models/shakespeare-F16.gguf");
    if (!f16) return;
    char teacher[4096], text[4096], q4[4096];
    snprintf(teacher, sizeof teacher, "%s", f16);
    /* the first 20 KB of the evaluation text: 53 chunks of 128 */
    size_t len = 0;
    char *all = ts_read_file(ts_shared("models/shakespeare-eval.txt"), &len);
    ck_assert_ptr_nonnull(all);
    snprintf(text, sizeof text, "%s", ts_tmp("score-shakespeare.txt"));
    ck_assert_int_eq(ts_write_file(text, all, len < 20000 ? len : 20000), 0);
    free(all);
    snprintf(q4, sizeof q4, "%s", ts_tmp("score-shakespeare-q4_0.gguf"));
    ck_assert_int_eq(ts_run(NULL, "%s compile %s -o %s --type q4_0 --quiet", ts_bin("slmc"), teacher, q4), 0);
    json_t *sc = run_json("", "%s score --teacher %s --student %s --data %s --ctx 128 --json --no-cache",
                          ts_bin("slmc"), teacher, q4, text);
    json_t *ev =
        run_json("", "%s eval -m %s --ref %s --text %s --ctx 128 --json", ts_bin("slmrt"), q4, teacher, text);
    same_figures(student_at(sc, 0), ev, 1e-9);
    ck_assert_int_eq((int)num(sc, "teacher_forward_passes"), (int)num(ev, "chunks"));
    json_decref(sc);
    json_decref(ev);
}
END_TEST

/* The disk cache: written by the first run, read by the second (0 teacher
 * forwards, same figures), ignored and rewritten when corrupt or
 * truncated, unused with SLMC_TEACHER_CACHE=0. */
START_TEST(teacher_cache) {
    const char *text = text_file("score-text.txt", 6000);
    char teacher[4096], q8[4096], q4[4096], dir[4096], env[4200];
    snprintf(teacher, sizeof teacher, "%s", tiny_gguf("f32"));
    snprintf(q8, sizeof q8, "%s", tiny_gguf("q8_0"));
    snprintf(q4, sizeof q4, "%s", tiny_gguf("q4_0"));
    snprintf(dir, sizeof dir, "%s", ts_tmp("score-cache"));
    ts_run(NULL, "rm -rf %s && mkdir -p %s", dir, dir);
    snprintf(env, sizeof env, "SLMC_CACHE_DIR=%s", dir);
    const char *fmt = "%s score --teacher %s --student %s --student %s --data %s --ctx 64 --json";
    json_t *first = run_json(env, fmt, ts_bin("slmc"), teacher, q8, q4, text);
    const int chunks = (int)num(first, "chunks");
    ck_assert_int_eq((int)num(first, "teacher_forward_passes"), chunks);
    ck_assert(json_is_false(json_object_get(first, "teacher_cached")));
    ck_assert_int_eq(ts_count_prefix(dir, "teacher-"), 1);

    json_t *second = run_json(env, fmt, ts_bin("slmc"), teacher, q8, q4, text);
    ck_assert_int_eq((int)num(second, "teacher_forward_passes"), 0);
    ck_assert(json_is_true(json_object_get(second, "teacher_cached")));
    for (size_t i = 0; i < 2; i++) same_student(student_at(second, i), student_at(first, i), 0);
    json_decref(second);

    /* find the cache file */
    char file[8400];
    snprintf(file, sizeof file, "%s/cache.name", dir);
    ck_assert_int_eq(ts_run(NULL, "(ls %s | grep '^teacher-.*\\.tlogits$' > %s)", dir, file), 0);
    char *name = ts_read_file(file, NULL);
    ck_assert_ptr_nonnull(name);
    name[strcspn(name, "\n")] = 0;
    char cache[8400];
    snprintf(cache, sizeof cache, "%s/%s", dir, name);
    free(name);
    size_t size = 0;
    char *bytes = ts_read_file(cache, &size);
    ck_assert_ptr_nonnull(bytes);

    /* one flipped bit in the logits, then a truncated file, then a bad header */
    for (int kind = 0; kind < 3; kind++) {
        char *copy = malloc(size);
        memcpy(copy, bytes, size);
        size_t n = size;
        if (kind == 0) copy[size - 1000] ^= 0x10;
        else if (kind == 1) n = size - 4096;
        else copy[16] ^= 1; /* chunk size */
        ck_assert_int_eq(ts_write_file(cache, copy, n), 0);
        free(copy);
        json_t *again = run_json(env, fmt, ts_bin("slmc"), teacher, q8, q4, text);
        ck_assert_int_eq((int)num(again, "teacher_forward_passes"), chunks);
        ck_assert(json_is_false(json_object_get(again, "teacher_cached")));
        const char *note = json_string_value(json_object_get(again, "teacher_cache"));
        ck_assert_msg(note && strstr(note, "ignored") && strstr(note, "wrote"), "note: %s", note);
        for (size_t i = 0; i < 2; i++) same_student(student_at(again, i), student_at(first, i), 0);
        json_decref(again);
        /* rewritten: the next run reads it */
        size_t size2 = 0;
        char *now = ts_read_file(cache, &size2);
        ck_assert(now && size2 == size && !memcmp(now, bytes, size));
        free(now);
    }
    free(bytes);

    /* turned off: the teacher runs although the file is there */
    snprintf(env, sizeof env, "SLMC_CACHE_DIR=%s SLMC_TEACHER_CACHE=0", dir);
    json_t *off = run_json(env, fmt, ts_bin("slmc"), teacher, q8, q4, text);
    ck_assert_int_eq((int)num(off, "teacher_forward_passes"), chunks);
    json_decref(off);
    /* another amount of data (--tokens N, the count) is another cache entry */
    snprintf(env, sizeof env, "SLMC_CACHE_DIR=%s", dir);
    json_t *fewer = run_json(env, "%s score --teacher %s --student %s --data %s --ctx 64 --tokens 640 --json",
                             ts_bin("slmc"), teacher, q4, text);
    ck_assert_int_eq((int)num(fewer, "chunks"), 10);
    ck_assert_int_eq((int)num(fewer, "teacher_forward_passes"), 10);
    ck_assert_int_eq(ts_count_prefix(dir, "teacher-"), 2); /* and no temporary file left */
    json_decref(fewer);
    json_decref(first);
}
END_TEST

/* Through the library: the size limit skips the cache with a note, the
 * counter counts chunks, and no temporary file is left behind. */
START_TEST(teacher_cache_limit) {
    slm_diag d = {0};
    slmrt_model *rm = NULL;
    ck_assert_msg(slmrt_model_load(tiny_gguf("f32"), &rm, &d) == SLM_OK, "%s", d.msg);
    int32_t ids[200];
    uint32_t rng = 3;
    for (int i = 0; i < 200; i++) ids[i] = (int32_t)(ts_rng_next(&rng) % 512);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp("score-cache-limit"));
    ts_run(NULL, "rm -rf %s && mkdir -p %s", dir, dir);
    slmc_teacher_opts o = {.n_ctx = 32, .n_threads = 1, .bos = 1, .cache_dir = dir, .cache_key = "test",
                           .cache_max_bytes = 1000};
    slmc_teacher *t = NULL;
    ck_assert_msg(slmc_teacher_new(rm, ids, 200, &o, &t, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(slmc_teacher_n_forward(t), 6);
    ck_assert(!slmc_teacher_from_cache(t));
    ck_assert_msg(strstr(slmc_teacher_cache_note(t), "not written"), "note: %s", slmc_teacher_cache_note(t));
    ck_assert_int_eq(ts_count_prefix(dir, "teacher-"), 0);
    slmc_score_result r;
    ck_assert_msg(slmc_score_student(t, rm, &r, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(r.student_forward, 6);
    ck_assert_int_eq(r.s.n, 6 * 15);
    ck_assert_double_eq(r.s.kld_max, 0);
    slmc_teacher_free(t);
    /* within the limit: written, then read with zero forwards */
    o.cache_max_bytes = 0;
    ck_assert(slmc_teacher_new(rm, ids, 200, &o, &t, &d) == SLM_OK);
    ck_assert_int_eq(slmc_teacher_n_forward(t), 6);
    slmc_teacher_free(t);
    ck_assert(slmc_teacher_new(rm, ids, 200, &o, &t, &d) == SLM_OK);
    ck_assert_int_eq(slmc_teacher_n_forward(t), 0);
    ck_assert(slmc_teacher_from_cache(t));
    slmc_teacher_free(t);
    /* another key is another file */
    o.cache_key = "other";
    ck_assert(slmc_teacher_new(rm, ids, 200, &o, &t, &d) == SLM_OK);
    ck_assert_int_eq(slmc_teacher_n_forward(t), 6);
    slmc_teacher_free(t);
    ck_assert_int_eq(ts_count_prefix(dir, "teacher-"), 2);
    /* bad ids are errors naming the index */
    ids[150] = 100000;
    ck_assert(slmc_teacher_new(rm, ids, 200, &o, &t, &d) == SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "index 150"), "%s", d.msg);
    ck_assert_ptr_null(t);
    slmrt_model_free(rm);
}
END_TEST

/* The tiny model with one token's text changed: same size, other vocabulary. */
static const char *other_vocab_model(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("score-other-vocab.gguf"));
    if (ts_file_exists(path)) return path;
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_model_open(tiny_gguf("f32"), NULL, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert(m->tok.n_tokens > 300);
    m->tok.tokens[300].s = slm_model_strdup(m, "zz-not-a-token");
    m->tok.tokens[300].len = strlen("zz-not-a-token");
    ck_assert_msg(slm_gguf_write(m, path, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    return path;
}

static void expect_vocab_error(const char *teacher, const char *student, const char *what) {
    char log[4096], other[4096];
    snprintf(log, sizeof log, "%s", ts_tmp("score-vocab.log"));
    snprintf(other, sizeof other, "%s", tiny_gguf("q4_0"));
    const char *text = text_file("score-text.txt", 6000);
    /* the good student first: the run must stop before any output */
    int rc = ts_run(log, "%s score --teacher %s --student %s --student %s --data %s --ctx 64 --no-cache",
                    ts_bin("slmc"), teacher, other, student, text);
    ck_assert_int_eq(rc, 3);
    char *msg = ts_read_file(log, NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, student) && strstr(msg, teacher) && strstr(msg, "different vocabularies") &&
                      strstr(msg, what),
                  "message: %s", msg);
    ck_assert_msg(!strstr(msg, "KLD"), "scored before checking every student: %s", msg);
    free(msg);
}

START_TEST(different_vocabulary) {
    char teacher[4096];
    snprintf(teacher, sizeof teacher, "%s", tiny_gguf("f32"));
    expect_vocab_error(teacher, other_vocab_model(), "token 300 is");
    const char *stories = ts_shared("models/stories260K-ref-f32.gguf");
    if (!stories) return;
    char s[4096];
    snprintf(s, sizeof s, "%s", stories);
    expect_vocab_error(teacher, s, "token "); /* 512 tokens too, other strings */
    const char *sh = ts_shared("models/shakespeare-F16.gguf");
    snprintf(s, sizeof s, "%s", sh);
    expect_vocab_error(teacher, s, "logits");
}
END_TEST

START_TEST(usage_errors) {
    const char *slmc = ts_bin("slmc");
    ck_assert_int_eq(ts_run(NULL, "%s score --student a.gguf --data x.txt", slmc), 2);
    ck_assert_int_eq(ts_run(NULL, "%s score --teacher a.gguf --data x.txt", slmc), 2);
    ck_assert_int_eq(ts_run(NULL, "%s score --teacher a.gguf --student b.gguf", slmc), 2);
    ck_assert_int_eq(ts_run(NULL, "%s score --teacher a --student b --data x --tokens y", slmc), 2);
    ck_assert_int_eq(ts_run(NULL, "%s score --teacher a --student b --data x --ctx 2", slmc), 2);
    char teacher[4096];
    snprintf(teacher, sizeof teacher, "%s", tiny_gguf("f32"));
    /* too little data for one chunk, and a missing file: input / I/O errors */
    const char *text = text_file("score-text.txt", 6000);
    ck_assert_int_eq(ts_run(NULL, "%s score --teacher %s --student %s --data %s --ctx 4096 --no-cache", slmc,
                            teacher, teacher, text),
                     3);
    ck_assert_int_ne(ts_run(NULL, "%s score --teacher %s --student %s --data /nonexistent.txt --no-cache", slmc,
                            teacher, teacher),
                     0);
    ck_assert_int_ne(ts_run(NULL, "%s score --teacher /nonexistent.gguf --student %s --data %s", slmc, teacher,
                            text),
                     0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("score_e2e");
    TCase *tc = tcase_create("score");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, tiny_agrees_with_eval);
    tcase_add_test(tc, tiny_hf_teacher_and_self);
    tcase_add_test(tc, tiny_token_file);
    tcase_add_test(tc, shakespeare_agrees_with_eval);
    tcase_add_test(tc, teacher_cache);
    tcase_add_test(tc, teacher_cache_limit);
    tcase_add_test(tc, different_vocabulary);
    tcase_add_test(tc, usage_errors);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
