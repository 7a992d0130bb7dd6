/* check_lora_e2e.c - LoRA end to end on the tiny synthetic model: an
 * adapter merged into the weights (slmc_lora_merge, written with
 * slm_gguf_write) gives the logits that applying it at run time gives
 * (`slmrt eval --lora`, and slmrt_model_add_lora in process with two
 * adapters and a scale), within 1e-4 relative; the adapter really moves the
 * logits (so the comparison can fail); and slmrt refuses adapters that do not
 * fit, naming the tensor. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora_fixture.h"
#include "slm_gguf.h"
#include "slmc_lora.h"
#include "slmrt.h"
#include "test_support.h"

#define N_TOK 24

static char g_base[4200], g_toks[4200];
static int32_t g_ids[N_TOK];

/* The tiny model as an F32 GGUF and N_TOK token ids. */
static void setup(void) {
    const char *tiny = ts_tiny_model("lora-tiny", "f32");
    snprintf(g_base, sizeof g_base, "%s", ts_tmp("lora-base.gguf"));
    snprintf(g_toks, sizeof g_toks, "%s", ts_tmp("lora.tokens"));
    if (!ts_file_exists(g_base))
        ck_assert_int_eq(ts_run(NULL, "%s compile %s --type f32 -o %s --quiet", ts_bin("slmc"), tiny, g_base), 0);
    char buf[512];
    size_t len = 0;
    uint32_t s = 77;
    for (int i = 0; i < N_TOK; i++) {
        g_ids[i] = i == 0 ? 1 : (int32_t)(ts_rng_next(&s) % 500) + 3;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%d ", g_ids[i]);
    }
    ck_assert_int_eq(ts_write_file(g_toks, buf, len), 0);
}

static slm_model *read_gguf(const char *path) {
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(path, &m, &d) == SLM_OK, "%s", d.msg);
    return m;
}

/* A PEFT adapter over every linear weight of every layer and the token
 * embedding, sized from the base model's shapes. */
static const char *write_peft(const char *name, const slm_model *m, uint32_t seed, int r, const char *cfg) {
    static const char *const mods[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                        "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                        "mlp.down_proj"};
    static const char *const parts[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                         "ffn_down"};
    const int L = (int)m->hp.n_layer, n = 2 * 7 * L + 2;
    lf_tensor *t = calloc((size_t)n, sizeof *t);
    char (*names)[128] = calloc((size_t)n, 128);
    float **bufs = calloc((size_t)n, sizeof *bufs);
    int k = 0;
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 7; p++) {
            char g[SLM_MAX_NAME];
            snprintf(g, sizeof g, "blk.%d.%s.weight", l, parts[p]);
            const slm_tensor *w = slm_model_find_tensor(m, g);
            ck_assert_ptr_nonnull(w);
            const int64_t n_in = w->ne[0], n_out = w->ne[1];
            snprintf(names[k], 128, "base_model.model.model.layers.%d.%s.lora_A.weight", l, mods[p]);
            bufs[k] = lf_rand((size_t)(r * n_in), seed++, 0.15f);
            t[k] = (lf_tensor){names[k], r, n_in, bufs[k]};
            k++;
            snprintf(names[k], 128, "base_model.model.model.layers.%d.%s.lora_B.weight", l, mods[p]);
            bufs[k] = lf_rand((size_t)(n_out * r), seed++, 0.15f);
            t[k] = (lf_tensor){names[k], n_out, r, bufs[k]};
            k++;
        }
    const slm_tensor *e = slm_model_find_tensor(m, "token_embd.weight");
    snprintf(names[k], 128, "base_model.model.model.embed_tokens.lora_embedding_A");
    bufs[k] = lf_rand((size_t)(r * e->ne[1]), seed++, 0.3f);
    t[k] = (lf_tensor){names[k], r, e->ne[1], bufs[k]};
    k++;
    snprintf(names[k], 128, "base_model.model.model.embed_tokens.lora_embedding_B");
    bufs[k] = lf_rand((size_t)(e->ne[0] * r), seed++, 0.3f);
    t[k] = (lf_tensor){names[k], e->ne[0], r, bufs[k]};
    k++;
    const char *dir = lf_write_peft(ts_tmp(name), cfg, t, (size_t)k);
    for (int i = 0; i < k; i++) free(bufs[i]);
    free(bufs);
    free(names);
    free(t);
    return dir;
}

/* A GGUF adapter on layer 1's attn_v and ffn_down, and token_embd (flipped). */
static const char *write_gguf_adapter(const char *name, const slm_model *m) {
    const slm_tensor *v = slm_model_find_tensor(m, "blk.1.attn_v.weight"),
                     *dn = slm_model_find_tensor(m, "blk.1.ffn_down.weight"),
                     *e = slm_model_find_tensor(m, "token_embd.weight");
    const int r = 4;
    float *b[6] = {lf_rand((size_t)(v->ne[0] * r), 501, 0.2f),  lf_rand((size_t)(r * v->ne[1]), 502, 0.2f),
                   lf_rand((size_t)(dn->ne[0] * r), 503, 0.2f), lf_rand((size_t)(r * dn->ne[1]), 504, 0.2f),
                   lf_rand((size_t)(r * e->ne[1]), 505, 0.3f),  lf_rand((size_t)(r * e->ne[0]), 506, 0.3f)};
    lf_tensor t[] = {{"blk.1.attn_v.weight.lora_a", v->ne[0], r, b[0]},
                     {"blk.1.attn_v.weight.lora_b", r, v->ne[1], b[1]},
                     {"blk.1.ffn_down.weight.lora_a", dn->ne[0], r, b[2]},
                     {"blk.1.ffn_down.weight.lora_b", r, dn->ne[1], b[3]},
                     {"token_embd.weight.lora_a", r, e->ne[1], b[4]},
                     {"token_embd.weight.lora_b", r, e->ne[0], b[5]}};
    const char *path = lf_write_gguf(ts_tmp(name), "llama", "adapter", 8.0f, t, 6);
    for (int i = 0; i < 6; i++) free(b[i]);
    return path;
}

/* `slmrt eval --dump-logits` output: n_pos lines of n_vocab numbers. */
static float *read_dump(const char *path, size_t *n) {
    size_t size;
    char *text = ts_read_file(path, &size);
    ck_assert_msg(text != NULL, "no dump %s", path);
    size_t cap = 1 << 16, k = 0;
    float *v = malloc(sizeof(float) * cap);
    char *p = text, *end;
    for (float x = strtof(p, &end); end != p; x = strtof(p, &end)) {
        if (k == cap) v = realloc(v, sizeof(float) * (cap *= 2));
        v[k++] = x;
        p = end;
    }
    free(text);
    *n = k;
    return v;
}

static float *eval_cli(const char *model, const char *extra, const char *dump_name, size_t *n) {
    const char *dump = lf_keep(ts_tmp(dump_name));
    char log[4300];
    snprintf(log, sizeof log, "%s.log", dump);
    int rc = ts_run(log, "%s eval -m %s --tokens %s --ctx %d --threads 2 --dump-logits %s %s", ts_bin("slmrt"), model,
                    g_toks, N_TOK, dump, extra);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "slmrt eval failed (%d): %s", rc, msg ? msg : "");
    free(msg);
    return read_dump(dump, n);
}

/* max |a - b| / max(1, |b|) */
static double max_rel(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i])));
    return m;
}

static double max_abs(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

START_TEST(test_cli_runtime_equals_merge) {
    setup();
    slm_model *m = read_gguf(g_base);
    const char *dir = write_peft("lora-e2e-peft", m, 1000, 8, "{\"r\": 8, \"lora_alpha\": 16}");
    /* merged with the pass, written as a GGUF */
    slmc_lora_input in = {dir, 1.0f};
    slmc_lora_result res;
    slm_diag d = {0};
    ck_assert_msg(slmc_lora_merge(m, &in, 1, &res, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(res.n_merged, 7 * m->hp.n_layer + 1);
    const char *merged = lf_keep(ts_tmp("lora-merged.gguf"));
    ck_assert_msg(slm_gguf_write(m, merged, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    slmc_lora_result_free(&res);

    size_t n_rt, n_mg, n_base;
    char extra[4400];
    snprintf(extra, sizeof extra, "--lora %s", dir);
    float *rt = eval_cli(g_base, extra, "lora-rt.txt", &n_rt);
    float *mg = eval_cli(merged, "", "lora-mg.txt", &n_mg);
    float *base = eval_cli(g_base, "", "lora-base.txt", &n_base);
    ck_assert_uint_eq(n_rt, n_mg);
    ck_assert_uint_eq(n_rt, n_base);
    ck_assert_uint_ge(n_rt, (size_t)N_TOK * 500);
    const double rel = max_rel(rt, mg, n_rt), moved = max_abs(rt, base, n_rt);
    ck_assert_msg(rel <= 1e-4, "run-time LoRA vs merged: max relative difference %g", rel);
    ck_assert_msg(moved > 0.1, "the adapter changes the logits by only %g", moved);
    /* a scale: --lora DIR:0 is the base model */
    snprintf(extra, sizeof extra, "--lora %s:0", dir);
    size_t n0;
    float *zero = eval_cli(g_base, extra, "lora-rt0.txt", &n0);
    ck_assert_msg(max_rel(zero, base, n0) <= 1e-6, "scale 0: %g", max_rel(zero, base, n0));
    free(rt), free(mg), free(base), free(zero);
}
END_TEST

/* Logits of all N_TOK tokens. */
static float *eval_api(slmrt_model *rm) {
    slmrt_ctx *c = NULL;
    slm_diag d = {0};
    slmrt_ctx_params p = {.n_ctx = N_TOK, .n_threads = 2};
    ck_assert_msg(slmrt_ctx_new(rm, &p, &c, &d) == SLM_OK, "%s", d.msg);
    const int V = slmrt_model_n_vocab(rm);
    float *l = malloc(sizeof(float) * (size_t)N_TOK * V);
    ck_assert_msg(slmrt_eval(c, g_ids, N_TOK, 0, l, true, &d) == SLM_OK, "%s", d.msg);
    slmrt_ctx_free(c);
    return l;
}

START_TEST(test_api_two_adapters) {
    setup();
    slm_model *m = read_gguf(g_base);
    const char *peft = write_peft("lora-e2e-peft2", m, 3000, 4, "{\"r\": 4, \"lora_alpha\": 4, \"use_rslora\": true}");
    const char *gg = write_gguf_adapter("lora-e2e.gguf", m);
    /* merged in memory, run without writing */
    slmc_lora_input in[2] = {{peft, 1.0f}, {gg, 0.5f}};
    slmc_lora_result res;
    slm_diag d = {0};
    ck_assert_msg(slmc_lora_merge(m, in, 2, &res, &d) == SLM_OK, "%s", d.msg);
    slmrt_model *rm_merged = NULL;
    ck_assert_msg(slmrt_model_from_ir(m, &rm_merged, &d) == SLM_OK, "%s", d.msg);
    float *mg = eval_api(rm_merged);
    /* base + both adapters at run time, the GGUF one at scale 0.5 */
    slmrt_model *rm = NULL;
    ck_assert_msg(slmrt_model_load(g_base, &rm, &d) == SLM_OK, "%s", d.msg);
    float *base = eval_api(rm);
    ck_assert_msg(slmrt_model_add_lora_file(rm, peft, 1.0f, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slmrt_model_add_lora_file(rm, gg, 0.5f, &d) == SLM_OK, "%s", d.msg);
    float *rt = eval_api(rm);
    const size_t n = (size_t)N_TOK * slmrt_model_n_vocab(rm);
    const double rel = max_rel(rt, mg, n), moved = max_abs(rt, base, n);
    ck_assert_msg(rel <= 1e-4, "run-time LoRA vs merged: max relative difference %g", rel);
    ck_assert_msg(moved > 0.1, "the adapters change the logits by only %g", moved);
    free(rt), free(mg), free(base);
    slmrt_model_free(rm);
    slmrt_model_free(rm_merged);
    slm_model_free(m);
    slmc_lora_result_free(&res);
}
END_TEST

START_TEST(test_cli_errors) {
    setup();
    char log[4300], extra[4400];
    snprintf(log, sizeof log, "%s", ts_tmp("lora-err.log"));
    /* missing adapter */
    ck_assert_int_ne(ts_run(log, "%s eval -m %s --tokens %s --ctx %d --lora %s", ts_bin("slmrt"), g_base, g_toks,
                            N_TOK, ts_tmp("no-such-adapter")),
                     0);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(msg && strstr(msg, "no-such-adapter"), "%s", msg ? msg : "");
    free(msg);
    /* an adapter for another base: q_proj with twice the output rows */
    slm_model *m = read_gguf(g_base);
    const slm_tensor *q = slm_model_find_tensor(m, "blk.0.attn_q.weight");
    float *a = lf_rand((size_t)(2 * q->ne[0]), 1, 1), *b = lf_rand((size_t)(2 * q->ne[1] * 2), 2, 1);
    lf_tensor t[] = {{"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", 2, q->ne[0], a},
                     {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", 2 * q->ne[1], 2, b}};
    const char *dir = lf_write_peft(ts_tmp("lora-e2e-wrong"), "{\"r\": 2}", t, 2);
    snprintf(extra, sizeof extra, "--lora %s", dir);
    ck_assert_int_ne(ts_run(log, "%s run -m %s -p hello -n 2 %s", ts_bin("slmrt"), g_base, extra), 0);
    msg = ts_read_file(log, NULL);
    ck_assert_msg(msg && strstr(msg, "blk.0.attn_q.weight has shape"), "%s", msg ? msg : "");
    free(msg);
    /* a bad scale */
    snprintf(extra, sizeof extra, "--lora %s:nan", dir);
    ck_assert_int_eq(ts_run(log, "%s eval -m %s --tokens %s %s", ts_bin("slmrt"), g_base, g_toks, extra), 2);
    free(a), free(b);
    slm_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("lora_e2e");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_cli_runtime_equals_merge);
    tcase_add_test(tc, test_api_two_adapters);
    tcase_add_test(tc, test_cli_errors);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
