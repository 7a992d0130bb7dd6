/* check_calibrate.c - `slmc calibrate` end to end: statistics for every
 * linear weight with the right shapes and row counts; a known answer for
 * blk.0.attn_q computed independently of the runtime; the imatrix output
 * reads back with the same means; agreement with llama-imatrix's
 * golden.imatrix; clear errors for missing/short/bad data, foreign models
 * and NaN activations. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "slm_imatrix.h"
#include "slm_open.h"
#include "slmc_calib_data.h"
#include "slmc_calib_run.h"
#include "slmc_calib_stats.h"
#include "slmrt.h"
#include "slmrt_tokenizer.h"
#include "test_support.h"

#define CTX 32

/* The synthetic tiny model (f32, so embeddings are exact), made once per
 * test process (Check forks per test; the folder persists on disk). */
static const char *tiny(void) { return ts_tiny_model("calib-tiny", "f32"); }

/* A few KB of plain English-like text. */
static const char *text_file(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("calib.txt"));
    static const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "looked", "at", "bright",
                                  "stars", "while", "dogs", "ran", "through", "green", "fields", "of", "wheat"};
    char buf[8192];
    size_t n = 0;
    unsigned x = 12345;
    while (n < sizeof buf - 64) {
        x = x * 1103515245u + 12345u;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", words[(x >> 16) % 19],
                              (x >> 8) % 11 == 0 ? ".\n" : " ");
    }
    ck_assert_int_eq(ts_write_file(path, buf, n), 0);
    return path;
}

static slmc_stats *load_stats(const char *path) {
    slm_diag d = {0};
    slmc_stats *s = NULL;
    ck_assert_msg(slmc_stats_load(path, &s, &d) == SLM_OK, "%s", d.msg);
    return s;
}

static slm_model *open_model(const char *path) {
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_model_open(path, NULL, &m, &d) == SLM_OK, "%s", d.msg);
    return m;
}

static int calibrate(const char *log, const char *model, const char *data, const char *out, const char *extra) {
    return ts_run(log, "%s calibrate %s --data %s -o %s --quiet --threads 2 %s", ts_bin("slmc"), model, data, out,
                  extra ? extra : "");
}

START_TEST(every_weight_has_sane_stats) {
    const char *dir = tiny(), *txt = text_file();
    char out[4096];
    snprintf(out, sizeof out, "%s", ts_tmp("tiny.stats"));
    ck_assert_int_eq(calibrate(NULL, dir, txt, out, "--ctx 32 --tokens 100"), 0);
    slmc_stats *s = load_stats(out);
    slm_model *m = open_model(dir);
    slm_diag d = {0};
    ck_assert_msg(slmc_stats_check_model(s, m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(s->n_chunks, 3); /* whole chunks only: 96 of 100 */
    ck_assert_uint_eq(s->n_tokens, 96);
    ck_assert_uint_eq(s->n_ctx, 32);
    int n_lin = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (t->n_dims < 2 || !strcmp(t->name, "token_embd.weight")) continue;
        n_lin++;
        const slmc_stats_entry *e = slmc_stats_find(s, t->name);
        ck_assert_msg(e, "no entry for %s", t->name);
        ck_assert_int_eq(e->n_in, t->ne[0]);
        ck_assert_int_eq(e->n_rows, 96);
        ck_assert_int_eq(e->n_calls, 3);
        const float *imp = slmc_stats_importance(s, t->name);
        ck_assert_ptr_nonnull(imp);
        for (int j = 0; j < e->n_in; j++) {
            ck_assert(e->sum_x2[j] >= 0);
            ck_assert_msg((double)e->max_abs[j] * e->max_abs[j] >= imp[j] * (1 - 1e-6), "%s[%d]", t->name, j);
        }
    }
    ck_assert_int_ge(n_lin, 7);
    ck_assert_ptr_null(slmc_stats_find(s, "no.such.weight"));
    ck_assert_ptr_null(slmc_stats_importance(s, "no.such.weight"));
    slmc_stats_free(s);
    slm_model_free(m);
}
END_TEST

/* mean over one chunk's tokens of (rmsnorm(embedding) * attn_norm)², from
 * the IR's f32 tensors, against blk.0.attn_q's importance. */
START_TEST(attn_q_known_answer) {
    const char *dir = tiny(), *txt = text_file();
    char out[4096];
    snprintf(out, sizeof out, "%s", ts_tmp("one.stats"));
    ck_assert_int_eq(calibrate(NULL, dir, txt, out, "--ctx 32 --tokens 32 --seed 0"), 0); /* the first chunk */
    slmc_stats *s = load_stats(out);
    slm_model *m = open_model(dir);
    slm_diag d = {0};
    slmrt_tok *tk = NULL;
    ck_assert_msg(slmrt_tok_new(&m->tok, &tk, &d) == SLM_OK, "%s", d.msg);
    size_t len = 0, n = 0;
    char *text = ts_read_file(txt, &len);
    int32_t *ids = NULL;
    ck_assert_msg(slmrt_tok_encode(tk, text, len, true, &ids, &n, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_ge(n, CTX);
    if (slmrt_tok_bos(tk) >= 0) ids[0] = slmrt_tok_bos(tk);

    slm_tensor *emb = slm_model_find_tensor(m, "token_embd.weight"), *nw = slm_model_find_tensor(m, "blk.0.attn_norm.weight");
    ck_assert(slm_tensor_acquire(emb, &d) == SLM_OK && slm_tensor_acquire(nw, &d) == SLM_OK);
    const int E = (int)emb->ne[0];
    float *row = malloc(E * sizeof *row), *w = malloc(E * sizeof *w);
    double *want = calloc(E, sizeof *want);
    ck_assert(slm_tensor_rows_f32(nw, 0, 1, w, &d) == SLM_OK);
    for (int t = 0; t < CTX; t++) {
        ck_assert(slm_tensor_rows_f32(emb, ids[t], 1, row, &d) == SLM_OK);
        double ss = 0;
        for (int j = 0; j < E; j++) ss += (double)row[j] * row[j];
        double scale = 1.0 / sqrt(ss / E + m->hp.rms_eps);
        for (int j = 0; j < E; j++) {
            double v = row[j] * scale * w[j];
            want[j] += v * v / CTX;
        }
    }
    const float *got = slmc_stats_importance(s, "blk.0.attn_q.weight");
    ck_assert_ptr_nonnull(got);
    double worst = 0;
    for (int j = 0; j < E; j++) {
        double rel = fabs(got[j] - want[j]) / fmax(want[j], 1e-12);
        worst = fmax(worst, rel);
    }
    printf("attn_q known answer: max relative difference %.3g over %d channels\n", worst, E);
    ck_assert_msg(worst < 1e-4, "max relative difference %g", worst);
    free(row);
    free(w);
    free(want);
    free(ids);
    free(text);
    slmrt_tok_free(tk);
    slmc_stats_free(s);
    slm_model_free(m);
}
END_TEST

START_TEST(imatrix_output_reads_back) {
    const char *dir = tiny(), *txt = text_file();
    char out[4096], dat[4096];
    snprintf(out, sizeof out, "%s", ts_tmp("im.stats"));
    snprintf(dat, sizeof dat, "%s", ts_tmp("im.dat"));
    ck_assert_int_eq(calibrate(NULL, dir, txt, out, "--ctx 32 --tokens 64"), 0);
    ck_assert_int_eq(calibrate(NULL, dir, txt, dat, "--ctx 32 --tokens 64 --format imatrix"), 0);
    slmc_stats *s = load_stats(out);
    slm_diag d = {0};
    slm_imatrix *im = NULL;
    ck_assert_msg(slm_imatrix_load(dat, &im, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(im->last_call, 2);
    ck_assert_ptr_nonnull(im->dataset);
    ck_assert_str_eq(im->dataset, txt);
    int n = 0;
    for (uint32_t i = 0; i < s->n_entries; i++) {
        const char *name = s->entries[i].name;
        if (!strcmp(name, "token_embd.weight")) continue;
        int64_t nv = 0;
        const float *v = slm_imatrix_find(im, name, &nv), *imp = slmc_stats_importance(s, name);
        ck_assert_msg(v, "imatrix lacks %s", name);
        ck_assert_int_eq(nv, s->entries[i].n_in);
        for (int64_t j = 0; j < nv; j++)
            ck_assert_msg(fabsf(v[j] - imp[j]) <= 1e-6f * fmaxf(imp[j], 1e-30f), "%s[%lld] %g vs %g", name,
                          (long long)j, v[j], imp[j]);
        n++;
    }
    ck_assert_int_eq(n, im->n_entries);
    slm_imatrix_free(im);
    slmc_stats_free(s);
}
END_TEST

/* gzip'd text and a .tokens file of the same ids give the same statistics
 * as the plain text; JSONL (text and chat records) is accepted; --gram
 * gives a symmetric matrix whose diagonal is sum x². */
START_TEST(data_formats_agree) {
    const char *dir = tiny(), *txt = text_file();
    char gz[4096], toks[4096], jl[4096], a[4096], b[4096], c[4096], g[4096];
    snprintf(gz, sizeof gz, "%s", ts_tmp("calib.txt.gz"));
    snprintf(toks, sizeof toks, "%s", ts_tmp("calib.tokens"));
    snprintf(jl, sizeof jl, "%s", ts_tmp("calib.jsonl"));
    size_t len = 0;
    char *text = ts_read_file(txt, &len);
    gzFile f = gzopen(gz, "wb");
    ck_assert_int_eq(gzwrite(f, text, (unsigned)len), (int)len);
    gzclose(f);
    slm_model *m = open_model(dir);
    slm_diag d = {0};
    slmrt_tok *tk = NULL;
    ck_assert(slmrt_tok_new(&m->tok, &tk, &d) == SLM_OK);
    int32_t *ids = NULL;
    size_t n = 0;
    slmc_calib_data_opts all = {.max_tokens = 1u << 20};
    ck_assert(slmc_calib_data_read(gz, &all, tk, &ids, &n, NULL, &d) == SLM_OK);
    FILE *tf = fopen(toks, "w");
    for (size_t i = 0; i < n; i++) fprintf(tf, "%d%c", ids[i], i % 16 == 15 ? '\n' : ' ');
    fclose(tf);
    snprintf(a, sizeof a, "%s", ts_tmp("plain.stats"));
    snprintf(b, sizeof b, "%s", ts_tmp("gz.stats"));
    snprintf(c, sizeof c, "%s", ts_tmp("tok.stats"));
    ck_assert_int_eq(calibrate(NULL, dir, txt, a, "--ctx 32 --tokens 64"), 0);
    ck_assert_int_eq(calibrate(NULL, dir, gz, b, "--ctx 32 --tokens 64"), 0);
    ck_assert_int_eq(calibrate(NULL, dir, toks, c, "--ctx 32 --tokens 64"), 0);
    slmc_stats *sa = load_stats(a), *sb = load_stats(b), *sc = load_stats(c);
    ck_assert_uint_eq(sa->n_entries, sb->n_entries);
    ck_assert_uint_eq(sa->n_entries, sc->n_entries);
    for (uint32_t i = 0; i < sa->n_entries; i++) {
        const slmc_stats_entry *ea = &sa->entries[i], *eb = slmc_stats_find(sb, ea->name),
                               *ec = slmc_stats_find(sc, ea->name);
        ck_assert(eb && ec);
        ck_assert(!memcmp(ea->sum_x2, eb->sum_x2, ea->n_in * sizeof(double)));
        ck_assert(!memcmp(ea->sum_x2, ec->sum_x2, ea->n_in * sizeof(double)));
    }
    const char *jsonl = "{\"text\": \"the cat sat on the mat and looked at the bright stars\"}\n"
                        "\n"
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"dogs ran through green fields\"},"
                        " {\"role\": \"assistant\", \"content\": \"of wheat while the cat sat\"}]}\n";
    char big[16384] = "";
    for (int i = 0; i < 20; i++) strcat(big, jsonl);
    ck_assert_int_eq(ts_write_file(jl, big, strlen(big)), 0);
    snprintf(g, sizeof g, "%s", ts_tmp("jsonl.stats"));
    ck_assert_int_eq(calibrate(NULL, dir, jl, g, "--ctx 32 --tokens 64 --gram"), 0);
    slmc_stats *sg = load_stats(g);
    ck_assert(sg->has_gram);
    ck_assert_uint_eq(sg->n_tokens, 64);
    const slmc_stats_entry *e = slmc_stats_find(sg, "blk.0.ffn_down.weight");
    ck_assert_ptr_nonnull(e);
    for (int i = 0; i < e->n_in; i++) {
        ck_assert(fabs(e->gram[(size_t)i * e->n_in + i] - e->sum_x2[i]) <= 1e-9 * fmax(e->sum_x2[i], 1e-30));
        for (int j = 0; j < i; j++) ck_assert(e->gram[(size_t)i * e->n_in + j] == e->gram[(size_t)j * e->n_in + i]);
    }
    slmc_stats_free(sa);
    slmc_stats_free(sb);
    slmc_stats_free(sc);
    slmc_stats_free(sg);
    free(ids);
    free(text);
    slmrt_tok_free(tk);
    slm_model_free(m);
}
END_TEST

/* Runs calibrate expecting failure: exit code, message fragment, no output. */
static void expect_failure(const char *model, const char *data, const char *extra, int want_rc, const char *frag) {
    char out[4096], log[4200];
    snprintf(out, sizeof out, "%s", ts_tmp("fail.stats"));
    snprintf(log, sizeof log, "%s.log", out);
    remove(out);
    int rc = ts_run(log, "%s calibrate %s --data %s -o %s %s", ts_bin("slmc"), model, data, out, extra);
    char *msg = ts_read_file(log, NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(rc == want_rc, "exit %d, expected %d:\n%s", rc, want_rc, msg);
    ck_assert_msg(strstr(msg, frag), "message lacks '%s':\n%s", frag, msg);
    ck_assert_msg(!strstr(msg, "AddressSanitizer") && !strstr(msg, "runtime error"), "sanitizer:\n%s", msg);
    ck_assert(!ts_file_exists(out));
    free(msg);
}

START_TEST(error_paths) {
    const char *dir = tiny();
    char p[4096];
    expect_failure(dir, "/nonexistent/calib.txt", "--ctx 32", 4, "/nonexistent/calib.txt");
    snprintf(p, sizeof p, "%s", ts_tmp("short.txt"));
    ts_write_file(p, "the cat sat", 11);
    expect_failure(dir, p, "--ctx 32", 3, "fewer than one chunk of --ctx 32");
    snprintf(p, sizeof p, "%s", ts_tmp("bad.jsonl"));
    const char *bad = "{\"text\": \"fine\"}\n{\"text\": 12}\n";
    ts_write_file(p, bad, strlen(bad));
    expect_failure(dir, p, "--ctx 32", 3, "bad.jsonl:2: \"text\" is an integer");
    const char *bad2 = "{\"text\": \"fine\"}\n{not json\n";
    ts_write_file(p, bad2, strlen(bad2));
    expect_failure(dir, p, "--ctx 32", 3, "bad.jsonl:2: invalid JSON");
    snprintf(p, sizeof p, "%s", ts_tmp("bad.tokens"));
    ts_write_file(p, "1 2 3 999999 4", 14);
    expect_failure(dir, p, "--ctx 2", 3, "token 3 is id 999999");
    expect_failure(dir, p, "--ctx 1", 2, "--ctx");
    expect_failure(dir, p, "--ctx 8 --tokens 4", 2, "less than one chunk");
}
END_TEST

START_TEST(stats_for_another_model_refused) {
    const char *dir = tiny(), *txt = text_file();
    char out[4096];
    snprintf(out, sizeof out, "%s", ts_tmp("other.stats"));
    ck_assert_int_eq(calibrate(NULL, dir, txt, out, "--ctx 32 --tokens 32"), 0);
    slmc_stats *s = load_stats(out);
    slm_model *m = open_model(dir);
    slm_diag d = {0};
    ck_assert(slmc_stats_check_model(s, m, &d) == SLM_OK);
    /* same shapes, one token spelled differently: another tokenizer */
    m->tok.tokens[m->tok.n_tokens - 1].s[0] ^= 1;
    ck_assert(slmc_stats_check_model(s, m, &d) == SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "another model"), "%s", d.msg);
    slm_model_free(m);
    const char *golden = ts_shared("golden/golden-f32.gguf");
    if (golden) {
        m = open_model(golden);
        slm_diag_clear(&d);
        ck_assert(slmc_stats_check_model(s, m, &d) == SLM_ERR_INPUT);
        ck_assert_msg(strstr(d.msg, "n_layer"), "%s", d.msg);
        slm_model_free(m);
    }
    /* a corrupt file is refused on load */
    size_t len = 0;
    char *bytes = ts_read_file(out, &len);
    char cut[4200];
    snprintf(cut, sizeof cut, "%s.cut", out);
    ts_write_file(cut, bytes, len - 9);
    slmc_stats *bad = NULL;
    slm_diag_clear(&d);
    ck_assert(slmc_stats_load(cut, &bad, &d) == SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "truncated"), "%s", d.msg);
    free(bytes);
    slmc_stats_free(s);
}
END_TEST

START_TEST(nan_activation_names_weight_and_chunk) {
    const char *dir = tiny();
    slm_model *m = open_model(dir);
    slm_diag d = {0};
    slm_tensor *t = slm_model_find_tensor(m, "blk.0.ffn_norm.weight");
    ck_assert_ptr_nonnull(t);
    float *nan_w = malloc((size_t)t->ne[0] * sizeof *nan_w);
    for (int64_t i = 0; i < t->ne[0]; i++) nan_w[i] = i == 3 ? NAN : 1.0f;
    ck_assert_msg(slm_tensor_set_owned(t, SLM_TYPE_F32, nan_w, &d) == SLM_OK, "%s", d.msg);
    slmrt_model *rm = NULL;
    ck_assert_msg(slmrt_model_from_ir(m, &rm, &d) == SLM_OK, "%s", d.msg);
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = 5 + i % 50;
    slmc_calib_run_opts o = {.n_ctx = 16, .max_tokens = 64, .n_threads = 1, .bos = -1, .source = "test"};
    slmc_stats *s = NULL;
    slmc_calib_run_result res;
    ck_assert(slmc_calib_run(rm, ids, 64, &o, &s, &res, &d) == SLM_ERR_INPUT);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(d.msg, "blk.0.ffn_gate.weight") && strstr(d.msg, "chunk 1"), "%s", d.msg);
    slmrt_model_free(rm);
    slm_model_free(m);
}
END_TEST

/* llama-imatrix made golden.imatrix over calib.txt in 40 chunks of 128
 * tokens: the whole file tokenized with BOS, chunk i = tokens[128i, 128i+128)
 * with its first token replaced by BOS, blk.* weights only. We chunk the
 * same way. The inputs of blk.0's Q/K/V (embedding -> RMSNorm, before any
 * attention) agree to ~4e-5, which shows tokenization and chunking match:
 * one token off would move them by far more. Everything after the first
 * attention differs by up to ~1.3e-3 (median ~2e-4) because llama-imatrix
 * runs with llama.cpp's default F16 KV cache (Q rounded to F16 for KQ, V
 * stored as F16), while our runtime keeps K/V in f32; the rest is summation
 * order and the reference's float accumulators. Hence two bounds. */
START_TEST(golden_imatrix_agreement) {
    const char *p = ts_shared("golden/golden.imatrix");
    if (!p) return;
    char ref_path[4096], model[4096], calib[4096], dat[4096];
    snprintf(ref_path, sizeof ref_path, "%s", p);
    snprintf(model, sizeof model, "%s", ts_shared("golden/golden-f32.gguf"));
    snprintf(calib, sizeof calib, "%s", ts_shared("golden/calib.txt"));
    snprintf(dat, sizeof dat, "%s", ts_tmp("golden-ours.dat"));
    ck_assert_int_eq(calibrate(NULL, model, calib, dat, "--ctx 128 --tokens 5120 --seed 0 --format imatrix"), 0);
    slm_diag d = {0};
    slm_imatrix *ref = NULL, *ours = NULL;
    ck_assert_msg(slm_imatrix_load(ref_path, &ref, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_imatrix_load(dat, &ours, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(ours->last_call, 40);
    double worst = 0, worst_pre = 0, sum_rel = 0;
    int64_t n_rel = 0;
    const char *worst_name = "";
    for (int i = 0; i < ref->n_entries; i++) {
        const slm_imatrix_entry *r = &ref->entries[i];
        int64_t n = 0;
        const float *v = slm_imatrix_find(ours, r->name, &n);
        ck_assert_msg(v, "we have no entry for %s", r->name);
        ck_assert_int_eq(n, r->n);
        ck_assert_int_eq(r->ncall, 40);
        for (int64_t j = 0; j < n; j++) {
            double rel = fabs((double)v[j] - r->values[j]) / fmax(fabs(r->values[j]), 1e-20);
            if (rel > worst) worst = rel, worst_name = r->name;
            if (!strncmp(r->name, "blk.0.attn_", 11) && strcmp(r->name, "blk.0.attn_output.weight"))
                worst_pre = fmax(worst_pre, rel);
            sum_rel += rel;
            n_rel++;
        }
    }
    printf("golden.imatrix: %d entries; blk.0 Q/K/V inputs max relative difference %.3g; all: max %.3g (%s), "
           "mean %.3g\n",
           ref->n_entries, worst_pre, worst, worst_name, sum_rel / (double)n_rel);
    ck_assert_msg(worst_pre < 1e-4, "blk.0 Q/K/V inputs: max relative difference %g", worst_pre);
    ck_assert_msg(worst < 3e-3, "max relative difference %g in %s", worst, worst_name);
    ck_assert_msg(sum_rel / (double)n_rel < 5e-4, "mean relative difference %g", sum_rel / (double)n_rel);
    slm_imatrix_free(ref);
    slm_imatrix_free(ours);
}
END_TEST

int main(void) {
    Suite *s = suite_create("calibrate");
    TCase *tc = tcase_create("calibrate");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_weight_has_sane_stats);
    tcase_add_test(tc, attn_q_known_answer);
    tcase_add_test(tc, imatrix_output_reads_back);
    tcase_add_test(tc, data_formats_agree);
    tcase_add_test(tc, error_paths);
    tcase_add_test(tc, stats_for_another_model_refused);
    tcase_add_test(tc, nan_activation_names_weight_and_chunk);
    tcase_add_test(tc, golden_imatrix_agreement);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
