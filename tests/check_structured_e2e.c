/* check_structured_e2e.c - structured pruning end to end on the tiny
 * synthetic model: the pruned model's logits equal those of the original
 * with the removed units' contributions zeroed (FFN channels: their
 * ffn_down columns; heads: their attn_output columns), where the units to
 * remove are chosen here again from the statistics, independently of the
 * pass; shapes and hyperparameters; GQA rules; clear errors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "slm_open.h"
#include "slmc_calib_stats.h"
#include "test_support.h"

static slm_model *open_model(const char *path) {
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_model_open(path, NULL, &m, &d) == SLM_OK, "%s", d.msg);
    return m;
}

/* The tiny model as an f32 GGUF, statistics over a text, and 48 tokens. */
static void setup(char *base, char *stats, char *toks) {
    const char *tiny = ts_tiny_model("structured-tiny", "f32");
    snprintf(base, 4096, "%s", ts_tmp("st-base.gguf"));
    snprintf(stats, 4096, "%s", ts_tmp("st.stats"));
    snprintf(toks, 4096, "%s", ts_tmp("st.tokens"));
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type f32 -o %s --quiet", ts_bin("slmc"), tiny, base), 0);
    char text[4096], buf[8000];
    snprintf(text, sizeof text, "%s", ts_tmp("st-calib.txt"));
    size_t len = 0;
    for (int i = 0; len + 80 < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "a boat %d drifts under the bridge by the green bank. ", i);
    ck_assert_int_eq(ts_write_file(text, buf, len), 0);
    ck_assert_int_eq(ts_run(NULL, "%s calibrate %s --data %s --ctx 64 --tokens 1024 -o %s --quiet", ts_bin("slmc"),
                            base, text, stats),
                     0);
    FILE *f = fopen(toks, "w");
    for (int i = 0; i < 48; i++) fprintf(f, "%d ", i == 0 ? 1 : (i * 37 + 11) % 500 + 3);
    fclose(f);
}

/* The k highest of n scores (ties to the lower index): keep[i] = 1. */
static void top_k(const double *score, int n, int k, char *keep) {
    memset(keep, 0, (size_t)n);
    for (int c = 0; c < k; c++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!keep[i] && (best < 0 || score[i] > score[best])) best = i;
        keep[best] = 1;
    }
}

/* Zeroes columns of a 2-D f32 tensor whose keep flag is 0. */
static void zero_columns(slm_model *m, const char *name, const char *keep_col) {
    slm_diag d = {0};
    slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert(t && slm_tensor_acquire(t, &d) == SLM_OK);
    const int64_t n = t->ne[0], rows = t->ne[1];
    float *w = malloc(sizeof(float) * (size_t)(n * rows));
    ck_assert(slm_tensor_rows_f32(t, 0, rows, w, &d) == SLM_OK);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++)
            if (!keep_col[j]) w[r * n + j] = 0.0f;
    ck_assert_msg(slm_tensor_set_owned(t, SLM_TYPE_F32, w, &d) == SLM_OK, "%s", d.msg);
}

static float *logits_of(const char *gguf, const char *toks, int *n_pos, int *n_vocab) {
    char dump[4200];
    snprintf(dump, sizeof dump, "%s.logits", gguf);
    ck_assert_int_eq(ts_run(NULL, "%s eval -m %s --tokens %s --ctx 48 --dump-logits %s", ts_bin("slmrt"), gguf, toks,
                            dump),
                     0);
    size_t len = 0;
    char *text = ts_read_file(dump, &len), *q = text;
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    float *v = malloc(sizeof(float) * 48 * 600);
    int count = 0;
    for (char *end; count < 48 * 600; q = end) {
        float x = strtof(q, &end);
        if (end == q) break;
        v[count++] = x;
    }
    *n_pos = lines;
    *n_vocab = count / lines;
    free(text);
    return v;
}

/* Zeroes a whole 2-D f32 tensor: with attn_output and ffn_down zeroed a
 * block adds nothing to the residual stream (an identity block). */
static void zero_tensor(slm_model *m, const char *name) {
    slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert_ptr_nonnull(t);
    char *none = calloc((size_t)t->ne[0], 1);
    zero_columns(m, name, none);
    free(none);
}

static void zero_block(slm_model *m, uint32_t l) {
    char name[64];
    snprintf(name, sizeof name, "blk.%u.attn_output.weight", l);
    zero_tensor(m, name);
    snprintf(name, sizeof name, "blk.%u.ffn_down.weight", l);
    zero_tensor(m, name);
}

static void assert_same_logits(const char *a_path, const char *b_path, const char *toks) {
    int np = 0, nv = 0, np2 = 0, nv2 = 0;
    float *a = logits_of(a_path, toks, &np, &nv), *b = logits_of(b_path, toks, &np2, &nv2);
    ck_assert(np == np2 && nv == nv2 && np > 0);
    double max_abs = 0, max_ref = 0;
    for (int i = 0; i < np * nv; i++) {
        max_abs = fmax(max_abs, fabs((double)a[i] - b[i]));
        max_ref = fmax(max_ref, fabs((double)b[i]));
    }
    printf("%s vs %s: max |dlogit| %.3g\n", a_path, b_path, max_abs);
    ck_assert_msg(max_abs <= 1e-4 * fmax(1.0, max_ref), "max |dlogit| %g", max_abs);
    free(a);
    free(b);
}

START_TEST(pruned_equals_zeroed_original) {
    char base[4096], stats[4096], toks[4096], pruned[4096], zeroed[4096], extra[4400];
    setup(base, stats, toks);
    snprintf(pruned, sizeof pruned, "%s", ts_tmp("st-pruned.gguf"));
    snprintf(extra, sizeof extra, "%s compile %s --calib %s --ffn 256 --heads 2 -o %s --quiet", ts_bin("slmc"), base,
             stats, pruned);
    ck_assert_int_eq(ts_run(NULL, "%s", extra), 0);

    slm_model *p = open_model(pruned);
    ck_assert_uint_eq(p->hp.n_ff, 256);
    ck_assert_uint_eq(p->hp.n_head, 2);
    ck_assert_uint_eq(p->hp.n_head_kv, 2); /* 4 heads over 2 KV: each group keeps one */
    ck_assert_uint_eq(slm_hparams_head_dim(&p->hp), 32);
    ck_assert_int_eq(slm_model_find_tensor(p, "blk.1.ffn_down.weight")->ne[0], 256);
    ck_assert_int_eq(slm_model_find_tensor(p, "blk.1.attn_q.weight")->ne[1], 64);
    ck_assert_int_eq(slm_model_find_tensor(p, "blk.1.attn_k.weight")->ne[1], 64);
    slm_model_free(p);

    /* the original with the same units' contributions zeroed, chosen here */
    slm_diag d = {0};
    slmc_stats *s = NULL;
    ck_assert_msg(slmc_stats_load(stats, &s, &d) == SLM_OK, "%s", d.msg);
    slm_model *z = open_model(base);
    for (uint32_t l = 0; l < z->hp.n_layer; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%u.ffn_down.weight", l);
        const slmc_stats_entry *e = slmc_stats_find(s, name);
        char keep[384];
        top_k(e->sum_x2, 384, 256, keep);
        zero_columns(z, name, keep);
        snprintf(name, sizeof name, "blk.%u.attn_output.weight", l);
        e = slmc_stats_find(s, name);
        double head[4] = {0};
        for (int c = 0; c < 128; c++) head[c / 32] += e->sum_x2[c];
        char keep_head[4] = {0}, keep_col[128];
        for (int g = 0; g < 2; g++) { /* one of each KV group's two heads */
            char k2[2];
            top_k(head + 2 * g, 2, 1, k2);
            keep_head[2 * g] = k2[0], keep_head[2 * g + 1] = k2[1];
        }
        for (int c = 0; c < 128; c++) keep_col[c] = keep_head[c / 32];
        zero_columns(z, name, keep_col);
    }
    snprintf(zeroed, sizeof zeroed, "%s", ts_tmp("st-zeroed.gguf"));
    ck_assert_msg(slm_gguf_write(z, zeroed, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(z);
    slmc_stats_free(s);

    assert_same_logits(pruned, zeroed, toks);

    /* the same model exported as a Hugging Face folder reads back the same */
    char hf[4096], back[4096];
    snprintf(hf, sizeof hf, "%s", ts_tmp("st-pruned-hf"));
    snprintf(back, sizeof back, "%s", ts_tmp("st-pruned-back.gguf"));
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --calib %s --ffn 256 --heads 2 --format hf -o %s --quiet",
                            ts_bin("slmc"), base, stats, hf),
                     0);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type f32 -o %s --quiet", ts_bin("slmc"), hf, back), 0);
    assert_same_logits(back, pruned, toks);

    /* and the removal is not a no-op: the unpruned model differs */
    int np = 0, nv = 0;
    float *a = logits_of(pruned, toks, &np, &nv), *c = logits_of(base, toks, &np, &nv);
    double moved = 0;
    for (int i = 0; i < np * nv; i++) moved = fmax(moved, fabs((double)a[i] - c[i]));
    ck_assert_double_gt(moved, 1e-2);
    free(a);
    free(c);
}
END_TEST

/* Layers: an identity block has Block Influence 0 and goes first; removing
 * blocks equals zeroing them; the choice follows the collected similarities. */
START_TEST(layers_by_block_influence) {
    char base[4096], stats[4096], toks[4096], ident[4096], ident_stats[4096], out[4096], zeroed[4096];
    setup(base, stats, toks);
    slm_diag d = {0};
    /* block 1 made an identity */
    slm_model *m = open_model(base);
    zero_block(m, 1);
    snprintf(ident, sizeof ident, "%s", ts_tmp("st-ident.gguf"));
    ck_assert_msg(slm_gguf_write(m, ident, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    snprintf(ident_stats, sizeof ident_stats, "%s", ts_tmp("st-ident.stats"));
    ck_assert_int_eq(ts_run(NULL, "%s calibrate %s --data %s --ctx 64 --tokens 1024 -o %s --quiet", ts_bin("slmc"),
                            ident, ts_tmp("st-calib.txt"), ident_stats),
                     0);
    slmc_stats *s = NULL;
    ck_assert_msg(slmc_stats_load(ident_stats, &s, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(s->n_block, 4);
    for (uint32_t l = 0; l < 4; l++) {
        const double bi = 1.0 - s->block_cos[l] / (double)s->block_tokens;
        printf("block %u: Block Influence %.6f\n", l, bi);
        if (l == 1) ck_assert_msg(fabs(bi) < 1e-6, "identity block: BI %g", bi);
        else ck_assert_msg(bi > 1e-4, "block %u: BI %g", l, bi);
    }
    slmc_stats_free(s);
    snprintf(out, sizeof out, "%s", ts_tmp("st-l3.gguf"));
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --calib %s --layers 3 -o %s --quiet", ts_bin("slmc"), ident,
                            ident_stats, out),
                     0);
    m = open_model(out);
    ck_assert_uint_eq(m->hp.n_layer, 3);
    ck_assert_ptr_null(slm_model_find_tensor(m, "blk.3.attn_q.weight"));
    slm_model_free(m);
    assert_same_logits(out, ident, toks);

    /* two of four blocks of the real tiny model: the two of lowest BI */
    ck_assert_msg(slmc_stats_load(stats, &s, &d) == SLM_OK, "%s", d.msg);
    double bi[4];
    for (int l = 0; l < 4; l++) bi[l] = 1.0 - s->block_cos[l] / (double)s->block_tokens;
    char keep[4];
    top_k(bi, 4, 2, keep);
    slmc_stats_free(s);
    m = open_model(base);
    for (uint32_t l = 0; l < 4; l++)
        if (!keep[l]) zero_block(m, l);
    snprintf(zeroed, sizeof zeroed, "%s", ts_tmp("st-l2-zeroed.gguf"));
    ck_assert_msg(slm_gguf_write(m, zeroed, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    snprintf(out, sizeof out, "%s", ts_tmp("st-l2.gguf"));
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --calib %s --layers 2 -o %s --quiet", ts_bin("slmc"), base, stats,
                            out),
                     0);
    assert_same_logits(out, zeroed, toks);
}
END_TEST

/* dropping whole KV groups (3 heads of 4 fit neither rule; 2 of 4 with
 * --importance random drops nothing extra) and the errors */
START_TEST(gqa_rules_and_errors) {
    char base[4096], stats[4096], toks[4096], out[4096], log[4200];
    setup(base, stats, toks);
    snprintf(out, sizeof out, "%s", ts_tmp("st-bad.gguf"));
    snprintf(log, sizeof log, "%s.log", out);
    struct {
        const char *args, *frag;
        int rc;
    } bad[] = {{"--heads 3", "not divisible by the KV groups", 2},
               {"--heads 5", "expected 1 to 4", 2},
               {"--ffn 385", "expected 1 to 384", 2},
               {"--ffn 1.5", "expected a count", 2},
               {"--ffn 0", "expected a count", 2},
               {"--layers 4.5", "expected a count", 2},
               {"--layers 5", "expected 1 to 4", 2}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        remove(out);
        int rc = ts_run(log, "%s compile %s --calib %s %s -o %s", ts_bin("slmc"), base, stats, bad[i].args, out);
        char *msg = ts_read_file(log, NULL);
        ck_assert_msg(rc == bad[i].rc && strstr(msg, bad[i].frag), "%s: exit %d:\n%s", bad[i].args, rc, msg);
        ck_assert(!ts_file_exists(out));
        free(msg);
    }
    remove(out);
    int rc = ts_run(log, "%s compile %s --ffn 128 -o %s", ts_bin("slmc"), base, out);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == 3 && strstr(msg, "needs statistics"), "exit %d:\n%s", rc, msg);
    free(msg);
    /* random importance needs no statistics and still gives a loadable model */
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --ffn 0.5 --heads 2 --importance random --seed 3 -o %s --quiet",
                            ts_bin("slmc"), base, out),
                     0);
    slm_model *m = open_model(out);
    ck_assert_uint_eq(m->hp.n_ff, 192);
    slm_model_free(m);
    ck_assert_int_eq(ts_run(NULL, "%s run -m %s -p hello -n 4", ts_bin("slmrt"), out), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("structured_e2e");
    TCase *tc = tcase_create("structured_e2e");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, pruned_equals_zeroed_original);
    tcase_add_test(tc, layers_by_block_influence);
    tcase_add_test(tc, gqa_rules_and_errors);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
