/* check_lora.c - LoRA adapter readers (slm_lora.h): PEFT folders written
 * here (any of the three paths, scales α/r and rsLoRA, rank_pattern /
 * alpha_pattern, embeddings, modules_to_save, the Q/K row permutation of B,
 * fan_in_fan_out), llama.cpp GGUF adapters (alpha, the token_embd exception,
 * skipped norms), the fit check against a base model, and one test per
 * error, each expecting a clean status and a message naming the file and
 * the module or tensor. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora_fixture.h"
#include "slm_lora.h"
#include "test_support.h"

/* base: n_embd 8, 2 heads of 4 (Q: 8 rows), 1 KV head (K, V: 4 rows), vocab 16 */
enum { E = 8, QR = 8, KR = 4, V = 16 };

static slm_hparams base_hp(void) {
    slm_hparams hp = {0};
    snprintf(hp.arch, sizeof hp.arch, "llama");
    hp.n_embd = E;
    hp.n_head = 2;
    hp.n_head_kv = 1;
    hp.n_layer = 2;
    hp.has = SLM_HP_HEAD_COUNT_KV;
    return hp;
}

static slm_lora_adapter *read_ok(const char *path) {
    slm_hparams hp = base_hp();
    slm_lora_adapter *a = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_lora_read(path, &hp, &a, &d) == SLM_OK, "%s", d.msg);
    ck_assert_ptr_nonnull(a);
    return a;
}

static void read_fail(const char *path, slm_status want, const char *frag1, const char *frag2) {
    slm_hparams hp = base_hp();
    slm_lora_adapter *a = NULL;
    slm_diag d = {0};
    slm_status st = slm_lora_read(path, &hp, &a, &d);
    ck_assert_msg(st == want, "status %d (%s), expected %d", st, d.msg, want);
    ck_assert_ptr_null(a);
    if (frag1) ck_assert_msg(strstr(d.msg, frag1) != NULL, "'%s' not in: %s", frag1, d.msg);
    if (frag2) ck_assert_msg(strstr(d.msg, frag2) != NULL, "'%s' not in: %s", frag2, d.msg);
}

static const slm_lora_pair *pair(const slm_lora_adapter *a, const char *name) {
    const slm_lora_pair *p = slm_lora_find(a, name);
    ck_assert_msg(p != NULL, "no pair for %s", name);
    return p;
}

#define QA "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
#define QB "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"
#define KA "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"
#define KB "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"
#define VA "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"
#define VB "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"

static const char *cfg_basic =
    "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\", \"k_proj\", \"v_proj\"],"
    " \"use_rslora\": false, \"use_dora\": false, \"fan_in_fan_out\": false, \"modules_to_save\": null}";

/* Writes q/k/v pairs of rank 2 with the given config. */
static const char *write_qkv(const char *name, const char *cfg, float **qa, float **qb, float **kb) {
    static float *bufs[6];
    for (int i = 0; i < 6; i++) free(bufs[i]);
    bufs[0] = lf_rand(2 * E, 11, 1), bufs[1] = lf_rand(QR * 2, 12, 1);
    bufs[2] = lf_rand(2 * E, 13, 1), bufs[3] = lf_rand(KR * 2, 14, 1);
    bufs[4] = lf_rand(2 * E, 15, 1), bufs[5] = lf_rand(KR * 2, 16, 1);
    lf_tensor t[] = {{QA, 2, E, bufs[0]}, {QB, QR, 2, bufs[1]}, {KA, 2, E, bufs[2]},
                     {KB, KR, 2, bufs[3]}, {VA, 2, E, bufs[4]}, {VB, KR, 2, bufs[5]}};
    if (qa) *qa = bufs[0];
    if (qb) *qb = bufs[1];
    if (kb) *kb = bufs[3];
    return lf_write_peft(ts_tmp(name), cfg, t, 6);
}

START_TEST(test_peft_basic) {
    float *qa, *qb, *kb;
    const char *dir = write_qkv("peft-basic", cfg_basic, &qa, &qb, &kb);
    slm_lora_adapter *a = read_ok(dir);
    ck_assert_int_eq(a->format, SLM_LORA_PEFT);
    ck_assert_uint_eq(a->n_pairs, 3);
    ck_assert_uint_eq(a->n_full, 0);
    const slm_lora_pair *q = pair(a, "blk.0.attn_q.weight"), *k = pair(a, "blk.0.attn_k.weight"),
                        *v = pair(a, "blk.1.attn_v.weight");
    ck_assert_str_eq(q->module, "model.layers.0.self_attn.q_proj");
    ck_assert_int_eq(q->rank, 2);
    ck_assert(q->scale == 2.0 && v->scale == 2.0);
    ck_assert(q->n_in == E && q->n_out == QR && k->n_out == KR && v->n_out == KR);
    ck_assert_mem_eq(q->a, qa, sizeof(float) * 2 * E);
    /* B rows in llama.cpp order: n_head for Q, n_head_kv for K */
    for (int r = 0; r < QR; r++)
        ck_assert_mem_eq(q->b + lf_gguf_row(r, QR, 2) * 2, qb + r * 2, sizeof(float) * 2);
    for (int r = 0; r < KR; r++)
        ck_assert_mem_eq(k->b + lf_gguf_row(r, KR, 1) * 2, kb + r * 2, sizeof(float) * 2);
    /* the permutation really moves rows here (else the test proves nothing) */
    ck_assert(lf_gguf_row(1, QR, 2) != 1);
    slm_lora_free(a);
}
END_TEST

START_TEST(test_peft_paths) {
    const char *dir = write_qkv("peft-paths", cfg_basic, NULL, NULL, NULL);
    char cfg[4200], st[4200];
    snprintf(cfg, sizeof cfg, "%s/adapter_config.json", dir);
    snprintf(st, sizeof st, "%s/adapter_model.safetensors", dir);
    slm_lora_adapter *a = read_ok(dir), *b = read_ok(cfg), *c = read_ok(st);
    ck_assert_uint_eq(b->n_pairs, a->n_pairs);
    ck_assert_uint_eq(c->n_pairs, a->n_pairs);
    for (uint32_t i = 0; i < a->n_pairs; i++) {
        ck_assert_str_eq(a->pairs[i].name, b->pairs[i].name);
        ck_assert_mem_eq(a->pairs[i].b, c->pairs[i].b, sizeof(float) * a->pairs[i].n_out * a->pairs[i].rank);
    }
    slm_lora_free(a);
    slm_lora_free(b);
    slm_lora_free(c);
}
END_TEST

START_TEST(test_peft_rslora_patterns) {
    /* rank 4 for layer 1's v_proj through rank_pattern, alpha 32 for every
     * v_proj through alpha_pattern; rsLoRA: α/√r */
    float *qa = lf_rand(2 * E, 1, 1), *qb = lf_rand(QR * 2, 2, 1), *va = lf_rand(4 * E, 3, 1),
          *vb = lf_rand(KR * 4, 4, 1);
    lf_tensor t[] = {{QA, 2, E, qa}, {QB, QR, 2, qb}, {VA, 4, E, va}, {VB, KR, 4, vb}};
    const char *cfg = "{\"r\": 2, \"lora_alpha\": 6, \"use_rslora\": true, \"target_modules\": \".*_proj\","
                      " \"rank_pattern\": {\"layers\\\\.\\\\d\\\\.self_attn\\\\.v_proj\": 4},"
                      " \"alpha_pattern\": {\"v_proj\": 32}}";
    slm_lora_adapter *a = read_ok(lf_write_peft(ts_tmp("peft-rs"), cfg, t, 4));
    const slm_lora_pair *q = pair(a, "blk.0.attn_q.weight"), *v = pair(a, "blk.1.attn_v.weight");
    ck_assert_int_eq(v->rank, 4);
    ck_assert_double_eq_tol(q->scale, 6.0 / sqrt(2.0), 1e-12);
    ck_assert_double_eq_tol(v->scale, 32.0 / 2.0, 1e-12);
    ck_assert_double_eq(v->alpha, 32.0);
    slm_lora_free(a);
    /* without rsLoRA: α/r */
    const char *cfg2 = "{\"r\": 2, \"lora_alpha\": 6, \"rank_pattern\": {\"model.layers.1.self_attn.v_proj\": 4}}";
    a = read_ok(lf_write_peft(ts_tmp("peft-rs2"), cfg2, t, 4));
    ck_assert_double_eq(pair(a, "blk.0.attn_q.weight")->scale, 3.0);
    ck_assert_double_eq(pair(a, "blk.1.attn_v.weight")->scale, 1.5);
    slm_lora_free(a);
    free(qa), free(qb), free(va), free(vb);
}
END_TEST

START_TEST(test_peft_fan_in_fan_out) {
    /* fan_in_fan_out describes the base layer (Conv1D); A and B keep their
     * shapes and the (out, in) update is B·A either way */
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"r\": 2, \"lora_alpha\": 4, \"fan_in_fan_out\": true}");
    slm_lora_adapter *a = read_ok(write_qkv("peft-fifo", cfg, NULL, NULL, NULL));
    slm_lora_adapter *b = read_ok(write_qkv("peft-nofifo", cfg_basic, NULL, NULL, NULL));
    for (uint32_t i = 0; i < a->n_pairs; i++) {
        const slm_lora_pair *p = &a->pairs[i], *r = pair(b, p->name);
        ck_assert_mem_eq(p->a, r->a, sizeof(float) * p->rank * p->n_in);
        ck_assert_mem_eq(p->b, r->b, sizeof(float) * p->rank * p->n_out);
    }
    slm_lora_free(a);
    slm_lora_free(b);
}
END_TEST

START_TEST(test_peft_embedding_and_save) {
    /* embed_tokens: A (r, vocab), B (embd, r); ΔW (vocab x embd) = (B·A)ᵀ */
    float *ea = lf_rand(3 * V, 21, 1), *eb = lf_rand(E * 3, 22, 1), *head = lf_rand(V * E, 23, 1);
    lf_tensor t[] = {{"base_model.model.model.embed_tokens.lora_embedding_A", 3, V, ea},
                     {"base_model.model.model.embed_tokens.lora_embedding_B", E, 3, eb},
                     {"base_model.model.lm_head.weight", V, E, head}};
    const char *cfg = "{\"r\": 3, \"lora_alpha\": 3, \"target_modules\": [\"embed_tokens\"], "
                      "\"modules_to_save\": [\"lm_head\"]}";
    slm_lora_adapter *a = read_ok(lf_write_peft(ts_tmp("peft-embd"), cfg, t, 3));
    const slm_lora_pair *p = pair(a, "token_embd.weight");
    ck_assert(p->n_in == E && p->n_out == V && p->rank == 3 && p->scale == 1.0);
    for (int tok = 0; tok < V; tok++)
        for (int e = 0; e < E; e++) {
            double want = 0, got = 0;
            for (int j = 0; j < 3; j++) {
                want += (double)eb[e * 3 + j] * ea[j * V + tok];
                got += (double)p->b[tok * 3 + j] * p->a[j * E + e];
            }
            ck_assert_double_eq_tol(got, want, 1e-12);
        }
    ck_assert_uint_eq(a->n_full, 1);
    ck_assert_str_eq(a->full[0].name, "output.weight");
    ck_assert(a->full[0].ne[0] == E && a->full[0].ne[1] == V);
    float *dec = malloc(sizeof(float) * V * E);
    slm_diag d = {0};
    ck_assert(slm_lora_full_f32(&a->full[0], dec, &d) == SLM_OK);
    ck_assert_mem_eq(dec, head, sizeof(float) * V * E);
    slm_lora_free(a);
    /* the long form peft uses in memory is accepted too */
    lf_tensor t2[] = {{"base_model.model.lm_head.modules_to_save.default.weight", V, E, head}};
    a = read_ok(lf_write_peft(ts_tmp("peft-save2"), "{\"r\": 3, \"modules_to_save\": [\"lm_head\"]}", t2, 1));
    ck_assert_uint_eq(a->n_full, 1);
    ck_assert_str_eq(a->full[0].name, "output.weight");
    slm_lora_free(a);
    free(ea), free(eb), free(head), free(dec);
}
END_TEST

/* -------------------------------------------------------- PEFT errors */

START_TEST(test_peft_dora) {
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"r\": 2, \"lora_alpha\": 4, \"use_dora\": true}");
    read_fail(write_qkv("peft-dora", cfg, NULL, NULL, NULL), SLM_ERR_UNSUPPORTED, "DoRA is not supported",
              "adapter_config.json");
    /* a magnitude vector in the weights, whatever the config says */
    float *m = lf_rand(QR, 5, 1), *qa = lf_rand(2 * E, 6, 1), *qb = lf_rand(QR * 2, 7, 1);
    lf_tensor t[] = {{QA, 2, E, qa}, {QB, QR, 2, qb},
                     {"base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", 1, QR, m}};
    read_fail(lf_write_peft(ts_tmp("peft-dora2"), cfg_basic, t, 3), SLM_ERR_UNSUPPORTED, "DoRA is not supported",
              "lora_magnitude_vector");
    free(m), free(qa), free(qb);
}
END_TEST

START_TEST(test_peft_rank_mismatch) {
    float *qa = lf_rand(2 * E, 6, 1), *qb = lf_rand(QR * 3, 7, 1);
    lf_tensor t[] = {{QA, 2, E, qa}, {QB, QR, 3, qb}};
    read_fail(lf_write_peft(ts_tmp("peft-rank"), cfg_basic, t, 2), SLM_ERR_INPUT,
              "model.layers.0.self_attn.q_proj", "lora_A has rank 2 but lora_B has rank 3");
    /* tensors of rank 2 where the config says 4 */
    lf_tensor t2[] = {{QA, 2, E, qa}, {QB, QR, 2, qb}};
    read_fail(lf_write_peft(ts_tmp("peft-rank2"), "{\"r\": 4}", t2, 2), SLM_ERR_INPUT, "rank 2 in the tensors",
              "4 in");
    free(qa), free(qb);
}
END_TEST

START_TEST(test_peft_missing_half) {
    float *qa = lf_rand(2 * E, 6, 1), *vb = lf_rand(KR * 2, 7, 1);
    lf_tensor t[] = {{QA, 2, E, qa}};
    read_fail(lf_write_peft(ts_tmp("peft-missb"), cfg_basic, t, 1), SLM_ERR_INPUT, "self_attn.q_proj",
              "has lora_A but no lora_B");
    lf_tensor t2[] = {{VB, KR, 2, vb}};
    read_fail(lf_write_peft(ts_tmp("peft-missa"), cfg_basic, t2, 1), SLM_ERR_INPUT, "self_attn.v_proj",
              "has lora_B but no lora_A");
    free(qa), free(vb);
}
END_TEST

START_TEST(test_peft_unknown_module) {
    float *a = lf_rand(2 * E, 6, 1), *b = lf_rand(E * 2, 7, 1);
    lf_tensor t[] = {{"base_model.model.model.layers.0.mlp.foo_proj.lora_A.weight", 2, E, a},
                     {"base_model.model.model.layers.0.mlp.foo_proj.lora_B.weight", E, 2, b}};
    read_fail(lf_write_peft(ts_tmp("peft-unknown"), "{\"r\": 2}", t, 2), SLM_ERR_INPUT,
              "module 'model.layers.0.mlp.foo_proj'", "adapter_model.safetensors");
    /* a tensor that is neither LoRA nor modules_to_save */
    lf_tensor t2[] = {{"base_model.model.model.norm.weight", 1, E, a}};
    read_fail(lf_write_peft(ts_tmp("peft-stray"), "{\"r\": 2}", t2, 1), SLM_ERR_INPUT, "model.norm.weight",
              "neither a LoRA matrix");
    /* a module outside target_modules */
    lf_tensor t3[] = {{VA, 2, E, a}, {VB, KR, 2, b}};
    read_fail(lf_write_peft(ts_tmp("peft-target"), "{\"r\": 2, \"target_modules\": [\"q_proj\"]}", t3, 2),
              SLM_ERR_INPUT, "v_proj", "target_modules");
    free(a), free(b);
}
END_TEST

START_TEST(test_peft_bad_files) {
    /* no config */
    const char *dir = ts_tmp("peft-empty");
    mkdir(dir, 0755);
    read_fail(dir, SLM_ERR_INPUT, "adapter_config.json", NULL);
    read_fail(ts_tmp("peft-nonexistent"), SLM_ERR_IO, "peft-nonexistent", NULL);
    /* bad JSON, wrong types, other PEFT methods */
    float *qa = lf_rand(2 * E, 6, 1), *qb = lf_rand(QR * 2, 7, 1);
    lf_tensor t[] = {{QA, 2, E, qa}, {QB, QR, 2, qb}};
    read_fail(lf_write_peft(ts_tmp("peft-badjson"), "{\"r\": 2,", t, 2), SLM_ERR_INPUT, "invalid JSON", NULL);
    read_fail(lf_write_peft(ts_tmp("peft-badr"), "{\"r\": \"two\"}", t, 2), SLM_ERR_INPUT, "'r'", "positive integer");
    read_fail(lf_write_peft(ts_tmp("peft-ia3"), "{\"peft_type\": \"IA3\"}", t, 2), SLM_ERR_UNSUPPORTED, "IA3", NULL);
    read_fail(lf_write_peft(ts_tmp("peft-badpat"), "{\"r\": 2, \"rank_pattern\": {\"q_proj\": 0}}", t, 2),
              SLM_ERR_INPUT, "rank_pattern['q_proj']", NULL);
    /* Q/K need the base model's head counts */
    slm_lora_adapter *a = NULL;
    slm_diag d = {0};
    ck_assert_int_eq(slm_lora_read(lf_write_peft(ts_tmp("peft-nohp"), cfg_basic, t, 2), NULL, &a, &d), SLM_ERR_USAGE);
    ck_assert_msg(strstr(d.msg, "head counts") != NULL, "%s", d.msg);
    free(qa), free(qb);
}
END_TEST

/* --------------------------------------------------------------- GGUF */

START_TEST(test_gguf_basic) {
    /* blk.0.attn_q: a [n_in, r], b [r, n_out]; token_embd flipped: a [r,
     * n_vocab], b [r, n_embd]; a norm tensor llama.cpp skips */
    float *qa = lf_rand(E * 2, 31, 1), *qb = lf_rand(2 * QR, 32, 1), *ea = lf_rand(2 * V, 33, 1),
          *eb = lf_rand(2 * E, 34, 1), *norm = lf_rand(E, 35, 1);
    lf_tensor t[] = {{"blk.0.attn_q.weight.lora_a", E, 2, qa},   {"blk.0.attn_q.weight.lora_b", 2, QR, qb},
                     {"token_embd.weight.lora_a", 2, V, ea},     {"token_embd.weight.lora_b", 2, E, eb},
                     {"blk.0.attn_norm.weight", E, 1, norm}};
    const char *path = lf_write_gguf(ts_tmp("lora.gguf"), "llama", "adapter", 8.0f, t, 5);
    slm_lora_adapter *a = read_ok(path);
    ck_assert_int_eq(a->format, SLM_LORA_GGUF);
    ck_assert_str_eq(a->arch, "llama");
    ck_assert_uint_eq(a->n_pairs, 2);
    ck_assert_uint_eq(a->n_ignored, 1);
    const slm_lora_pair *q = pair(a, "blk.0.attn_q.weight"), *e = pair(a, "token_embd.weight");
    ck_assert(q->rank == 2 && q->scale == 4.0 && q->n_in == E && q->n_out == QR);
    /* stored as-is (already in llama.cpp row order) */
    ck_assert_mem_eq(q->a, qa, sizeof(float) * E * 2);
    ck_assert_mem_eq(q->b, qb, sizeof(float) * 2 * QR);
    ck_assert(e->rank == 2 && e->n_in == E && e->n_out == V);
    /* ΔW[tok][i] = Σ_j a[tok][j] · b[i][j] (llama.cpp: b · get_rows(a)) */
    for (int tok = 0; tok < V; tok++)
        for (int i = 0; i < E; i++) {
            double want = 0, got = 0;
            for (int j = 0; j < 2; j++) {
                want += (double)ea[tok * 2 + j] * eb[i * 2 + j];
                got += (double)e->b[tok * 2 + j] * e->a[j * E + i];
            }
            ck_assert_double_eq_tol(got, want, 1e-12);
        }
    slm_lora_free(a);
    /* alpha absent (or 0): scale 1 */
    a = read_ok(lf_write_gguf(ts_tmp("lora-noalpha.gguf"), "llama", "adapter", NAN, t, 2));
    ck_assert(pair(a, "blk.0.attn_q.weight")->scale == 1.0);
    slm_lora_free(a);
    free(qa), free(qb), free(ea), free(eb), free(norm);
}
END_TEST

START_TEST(test_gguf_errors) {
    float *qa = lf_rand(E * 2, 31, 1), *qb = lf_rand(3 * QR, 32, 1);
    lf_tensor ok[] = {{"blk.0.attn_q.weight.lora_a", E, 2, qa}, {"blk.0.attn_q.weight.lora_b", 2, QR, qb}};
    read_fail(lf_write_gguf(ts_tmp("model.gguf"), "llama", "model", 8.0f, ok, 2), SLM_ERR_INPUT,
              "general.type is 'model'", "model.gguf");
    read_fail(lf_write_gguf(ts_tmp("notype.gguf"), "llama", NULL, 8.0f, ok, 2), SLM_ERR_INPUT,
              "general.type is missing", NULL);
    lf_tensor rank[] = {{"blk.0.attn_q.weight.lora_a", E, 2, qa}, {"blk.0.attn_q.weight.lora_b", 3, QR, qb}};
    read_fail(lf_write_gguf(ts_tmp("rank.gguf"), "llama", "adapter", 8.0f, rank, 2), SLM_ERR_INPUT,
              "blk.0.attn_q.weight: lora_a has rank 2 but lora_b has rank 3", NULL);
    read_fail(lf_write_gguf(ts_tmp("half.gguf"), "llama", "adapter", 8.0f, ok, 1), SLM_ERR_INPUT,
              "blk.0.attn_q.weight.lora_a has no partner blk.0.attn_q.weight.lora_b", NULL);
    lf_tensor odd[] = {{"blk.0.attn_q.weight.lora_c", E, 2, qa}};
    read_fail(lf_write_gguf(ts_tmp("odd.gguf"), "llama", "adapter", 8.0f, odd, 1), SLM_ERR_INPUT,
              "blk.0.attn_q.weight.lora_c has an unexpected suffix", NULL);
    free(qa), free(qb);
}
END_TEST

/* ---------------------------------------------------------- fit check */

static slm_model *base_model(int64_t q_rows) {
    slm_model *m = slm_model_new();
    m->hp = base_hp();
    slm_diag d = {0};
    const struct { const char *name; int64_t ne0, ne1; } ts[] = {
        {"token_embd.weight", E, V}, {"blk.0.attn_q.weight", E, q_rows}, {"blk.0.attn_k.weight", E, KR}};
    for (int i = 0; i < 3; i++) {
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        slm_tensor *t;
        ck_assert(slm_model_add_tensor(m, ts[i].name, SLM_TYPE_F32, 2, ne, &t, &d) == SLM_OK);
        ck_assert(slm_tensor_set_owned(t, SLM_TYPE_F32, calloc((size_t)(ne[0] * ne[1]), sizeof(float)), &d) ==
                  SLM_OK);
    }
    return m;
}

START_TEST(test_check_against_model) {
    slm_lora_adapter *a = read_ok(write_qkv("peft-check", cfg_basic, NULL, NULL, NULL));
    slm_diag d = {0};
    /* layer 1's v_proj is missing from this model */
    slm_model *m = base_model(QR);
    ck_assert_int_eq(slm_lora_check(a, m, &d), SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "not in the base model: blk.1.attn_v.weight") != NULL, "%s", d.msg);
    slm_model_free(m);
    slm_lora_free(a);
    /* q only, against a model with 16 Q rows */
    float *qa = lf_rand(2 * E, 6, 1), *qb = lf_rand(QR * 2, 7, 1);
    lf_tensor t[] = {{QA, 2, E, qa}, {QB, QR, 2, qb}};
    a = read_ok(lf_write_peft(ts_tmp("peft-check2"), cfg_basic, t, 2));
    m = base_model(QR);
    slm_diag_clear(&d);
    ck_assert_int_eq(slm_lora_check(a, m, &d), SLM_OK);
    slm_model_free(m);
    m = base_model(2 * QR);
    ck_assert_int_eq(slm_lora_check(a, m, &d), SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "blk.0.attn_q.weight has shape [8, 8] but the base model's is [8, 16, 1, 1]"),
                  "%s", d.msg);
    slm_model_free(m);
    slm_lora_free(a);
    /* a GGUF adapter for another architecture */
    lf_tensor g[] = {{"blk.0.attn_q.weight.lora_a", E, 2, qa}, {"blk.0.attn_q.weight.lora_b", 2, QR, qb}};
    a = read_ok(lf_write_gguf(ts_tmp("qwen.gguf"), "qwen2", "adapter", 8.0f, g, 2));
    m = base_model(QR);
    slm_diag_clear(&d);
    ck_assert_int_eq(slm_lora_check(a, m, &d), SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "architecture 'qwen2' differs from the base model's 'llama'"), "%s", d.msg);
    slm_model_free(m);
    slm_lora_free(a);
    free(qa), free(qb);
}
END_TEST

static Suite *lora_suite(void) {
    Suite *s = suite_create("lora");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_peft_basic);
    tcase_add_test(tc, test_peft_paths);
    tcase_add_test(tc, test_peft_rslora_patterns);
    tcase_add_test(tc, test_peft_fan_in_fan_out);
    tcase_add_test(tc, test_peft_embedding_and_save);
    tcase_add_test(tc, test_peft_dora);
    tcase_add_test(tc, test_peft_rank_mismatch);
    tcase_add_test(tc, test_peft_missing_half);
    tcase_add_test(tc, test_peft_unknown_module);
    tcase_add_test(tc, test_peft_bad_files);
    tcase_add_test(tc, test_gguf_basic);
    tcase_add_test(tc, test_gguf_errors);
    tcase_add_test(tc, test_check_against_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(lora_suite()); }
