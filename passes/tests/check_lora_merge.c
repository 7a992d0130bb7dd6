/* check_lora_merge.c - the LoRA merge pass (slmc_lora.h) on a small
 * in-memory llama model: every merged weight equals W + Σ w·s·B·A computed
 * here independently in double precision from the adapter files' own
 * tensors (HF row order, permuted here for Q/K), for α/r, rsLoRA,
 * rank_pattern/alpha_pattern, fan_in_fan_out, two weighted adapters,
 * modules_to_save, a GGUF adapter with token_embd, and a Q8_0 base
 * (dequantized, merged, written as Q8_0 again and reported). Errors leave
 * the model untouched and name the tensor. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora_fixture.h"
#include "slm_gguf.h"
#include "slmc_lora.h"
#include "test_support.h"

enum { E = 32, NH = 4, NKV = 2, HD = 8, QR = NH * HD, KR = NKV * HD, FF = 64, V = 48 };

typedef struct wt {
    const char *name;
    int64_t ne0, ne1;
    slm_type type;
} wt;

static const wt weights[] = {
    {"token_embd.weight", E, V, SLM_TYPE_F32},      {"blk.0.attn_q.weight", E, QR, SLM_TYPE_F32},
    {"blk.0.attn_k.weight", E, KR, SLM_TYPE_F32},   {"blk.0.attn_v.weight", E, KR, SLM_TYPE_F32},
    {"blk.0.attn_output.weight", QR, E, SLM_TYPE_F32}, {"blk.0.ffn_up.weight", E, FF, SLM_TYPE_Q8_0},
    {"blk.0.ffn_down.weight", FF, E, SLM_TYPE_F32}, {"output.weight", E, V, SLM_TYPE_F32},
};
#define N_WEIGHTS (sizeof weights / sizeof *weights)

static slm_model *make_model(void) {
    slm_model *m = slm_model_new();
    snprintf(m->hp.arch, sizeof m->hp.arch, "llama");
    m->hp.n_embd = E;
    m->hp.n_head = NH;
    m->hp.n_head_kv = NKV;
    m->hp.n_layer = 1;
    m->hp.n_ff = FF;
    m->hp.n_ctx = 64;
    m->hp.has = SLM_HP_HEAD_COUNT_KV;
    slm_diag d = {0};
    for (size_t i = 0; i < N_WEIGHTS; i++) {
        int64_t ne[2] = {weights[i].ne0, weights[i].ne1};
        slm_tensor *t;
        ck_assert(slm_model_add_tensor(m, weights[i].name, SLM_TYPE_F32, 2, ne, &t, &d) == SLM_OK);
        float *v = lf_rand((size_t)(ne[0] * ne[1]), 100 + (uint32_t)i, 0.5f);
        void *data = v;
        if (weights[i].type != SLM_TYPE_F32) {
            data = malloc(slm_type_row_size(weights[i].type, ne[0]) * (size_t)ne[1]);
            slm_type_traits_get(weights[i].type)->from_f32(v, data, ne[0] * ne[1]);
            free(v);
        }
        ck_assert(slm_tensor_set_owned(t, weights[i].type, data, &d) == SLM_OK);
    }
    return m;
}

/* The tensor's current values as double (acquired and released). */
static double *values(slm_model *m, const char *name) {
    slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert_ptr_nonnull(t);
    slm_diag d = {0};
    ck_assert_msg(slm_tensor_acquire(t, &d) == SLM_OK, "%s", d.msg);
    const int64_t n = slm_tensor_nelements(t);
    float *f = malloc(sizeof(float) * (size_t)n);
    ck_assert_msg(slm_tensor_rows_f32(t, 0, slm_tensor_nrows(t), f, &d) == SLM_OK, "%s", d.msg);
    slm_tensor_release(t);
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = f[i];
    free(f);
    return v;
}

/* acc += coef · B·A with A (r x n_in), B (n_out x r) in HF rows; rows go to
 * llama.cpp's order for `heads` > 0. */
static void add_delta(double *acc, int64_t n_out, int64_t n_in, int r, const float *A, const float *B, double coef,
                      int64_t heads) {
    for (int64_t o = 0; o < n_out; o++) {
        const int64_t row = heads ? lf_gguf_row(o, n_out, heads) : o;
        for (int64_t i = 0; i < n_in; i++) {
            double s = 0;
            for (int j = 0; j < r; j++) s += (double)B[o * r + j] * A[j * n_in + i];
            acc[row * n_in + i] += coef * s;
        }
    }
}

/* The merged tensor equals `want` rounded to f32. */
static void expect_values(slm_model *m, const char *name, const double *want) {
    slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert_int_eq(t->type, SLM_TYPE_F32);
    double *got = values(m, name);
    const int64_t n = slm_tensor_nelements(t);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-6 * fmax(1.0, fabs(want[i])), "%s[%lld]: %.9g, expected %.9g",
                      name, (long long)i, got[i], want[i]);
    free(got);
}

static void merge_ok(slm_model *m, const slmc_lora_input *in, int n, slmc_lora_result *res) {
    slm_diag d = {0};
    ck_assert_msg(slmc_lora_merge(m, in, n, res, &d) == SLM_OK, "%s", d.msg);
}

static const slmc_lora_merged *merged(const slmc_lora_result *r, const char *name) {
    for (uint32_t i = 0; i < r->n_merged; i++)
        if (strcmp(r->merged[i].name, name) == 0) return &r->merged[i];
    return NULL;
}

/* One adapter over q, k, v, o, down: its tensors (PEFT shapes) in bufs. */
typedef struct adapter_fix {
    float *a[5], *b[5];
    int rank[5];
} adapter_fix;

static const char *const mod_names[5] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                         "self_attn.o_proj", "mlp.down_proj"};
static const char *const gguf_names[5] = {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                                          "blk.0.attn_output.weight", "blk.0.ffn_down.weight"};
static const int64_t n_ins[5] = {E, E, E, QR, FF}, n_outs[5] = {QR, KR, KR, E, E}, heads[5] = {NH, NKV, 0, 0, 0};

static const char *write_adapter(const char *name, const char *cfg, const int ranks[5], uint32_t seed,
                                 adapter_fix *f) {
    static char names[10][128];
    lf_tensor t[10];
    for (int k = 0; k < 5; k++) {
        f->rank[k] = ranks[k];
        f->a[k] = lf_rand((size_t)(ranks[k] * n_ins[k]), seed + 2 * k, 0.3f);
        f->b[k] = lf_rand((size_t)(n_outs[k] * ranks[k]), seed + 2 * k + 1, 0.3f);
        snprintf(names[2 * k], 128, "base_model.model.model.layers.0.%s.lora_A.weight", mod_names[k]);
        snprintf(names[2 * k + 1], 128, "base_model.model.model.layers.0.%s.lora_B.weight", mod_names[k]);
        t[2 * k] = (lf_tensor){names[2 * k], ranks[k], n_ins[k], f->a[k]};
        t[2 * k + 1] = (lf_tensor){names[2 * k + 1], n_outs[k], ranks[k], f->b[k]};
    }
    return lf_write_peft(ts_tmp(name), cfg, t, 10);
}

static void fix_free(adapter_fix *f) {
    for (int k = 0; k < 5; k++) free(f->a[k]), free(f->b[k]);
}

/* Expected values of the five targets after adding the adapters with the
 * given coefficients (w·s per target). */
static void check_targets(slm_model *m, slm_model *orig, int n, adapter_fix *const *fx, const double (*coef)[5]) {
    for (int k = 0; k < 5; k++) {
        double *want = values(orig, gguf_names[k]);
        for (int a = 0; a < n; a++)
            add_delta(want, n_outs[k], n_ins[k], fx[a]->rank[k], fx[a]->a[k], fx[a]->b[k], coef[a][k], heads[k]);
        expect_values(m, gguf_names[k], want);
        free(want);
    }
}

START_TEST(test_alpha_over_r) {
    const int ranks[5] = {4, 4, 4, 4, 4};
    adapter_fix f;
    const char *dir = write_adapter("m-basic", "{\"r\": 4, \"lora_alpha\": 8}", ranks, 1, &f);
    slm_model *m = make_model(), *orig = make_model();
    slmc_lora_input in = {dir, 1.0f};
    slmc_lora_result res;
    merge_ok(m, &in, 1, &res);
    ck_assert_uint_eq(res.n_merged, 5);
    ck_assert_uint_eq(res.n_requantized, 0);
    const slmc_lora_merged *q = merged(&res, "blk.0.attn_q.weight");
    ck_assert(q && q->n_terms == 1 && q->terms[0].rank == 4 && q->terms[0].scale == 2.0 && !q->requantized);
    ck_assert_ptr_null(merged(&res, "blk.0.ffn_up.weight"));
    adapter_fix *fx[1] = {&f};
    const double coef[1][5] = {{2, 2, 2, 2, 2}};
    check_targets(m, orig, 1, fx, coef);
    /* untouched tensors stay as they were */
    double *u = values(m, "blk.0.ffn_up.weight"), *uo = values(orig, "blk.0.ffn_up.weight");
    ck_assert_mem_eq(u, uo, sizeof(double) * E * FF);
    free(u), free(uo);
    slm_model_free(m);
    slm_model_free(orig);
    slmc_lora_result_free(&res);
    fix_free(&f);
}
END_TEST

START_TEST(test_rslora_patterns) {
    /* q rank 8 (rank_pattern), v alpha 3 (alpha_pattern), rsLoRA: α/√r */
    const int ranks[5] = {8, 2, 2, 2, 2};
    adapter_fix f;
    const char *dir = write_adapter("m-rs",
                                    "{\"r\": 2, \"lora_alpha\": 4, \"use_rslora\": true, "
                                    "\"rank_pattern\": {\"q_proj\": 8}, \"alpha_pattern\": {\"layers.0.self_attn.v_proj\": 3}}",
                                    ranks, 7, &f);
    slm_model *m = make_model(), *orig = make_model();
    slmc_lora_input in = {dir, 1.0f};
    slmc_lora_result res;
    merge_ok(m, &in, 1, &res);
    const double r2 = 4 / sqrt(2.0);
    adapter_fix *fx[1] = {&f};
    const double coef[1][5] = {{4 / sqrt(8.0), r2, 3 / sqrt(2.0), r2, r2}};
    check_targets(m, orig, 1, fx, coef);
    ck_assert_int_eq(merged(&res, "blk.0.attn_q.weight")->terms[0].rank, 8);
    slm_model_free(m);
    slm_model_free(orig);
    slmc_lora_result_free(&res);
    fix_free(&f);
}
END_TEST

START_TEST(test_fan_in_fan_out) {
    const int ranks[5] = {2, 2, 2, 2, 2};
    adapter_fix f;
    const char *dir = write_adapter("m-fifo", "{\"r\": 2, \"lora_alpha\": 2, \"fan_in_fan_out\": true}", ranks, 9, &f);
    slm_model *m = make_model(), *orig = make_model();
    slmc_lora_input in = {dir, 1.0f};
    slmc_lora_result res;
    merge_ok(m, &in, 1, &res);
    adapter_fix *fx[1] = {&f};
    const double coef[1][5] = {{1, 1, 1, 1, 1}};
    check_targets(m, orig, 1, fx, coef);
    slm_model_free(m);
    slm_model_free(orig);
    slmc_lora_result_free(&res);
    fix_free(&f);
}
END_TEST

START_TEST(test_two_adapters) {
    const int r1[5] = {4, 4, 4, 4, 4}, r2[5] = {2, 2, 2, 2, 2};
    adapter_fix f1, f2;
    const char *d1 = write_adapter("m-two1", "{\"r\": 4, \"lora_alpha\": 8}", r1, 21, &f1);
    const char *d2 = write_adapter("m-two2", "{\"r\": 2, \"lora_alpha\": 6}", r2, 41, &f2);
    slm_model *m = make_model(), *orig = make_model();
    slmc_lora_input in[2] = {{d1, 1.0f}, {d2, 0.5f}};
    slmc_lora_result res;
    merge_ok(m, in, 2, &res);
    ck_assert_uint_eq(res.n_adapters, 2);
    const slmc_lora_merged *o = merged(&res, "blk.0.attn_output.weight");
    ck_assert(o->n_terms == 2 && o->terms[0].adapter == 0 && o->terms[1].adapter == 1);
    ck_assert(o->terms[0].scale == 2.0 && o->terms[1].scale == 1.5);
    adapter_fix *fx[2] = {&f1, &f2};
    const double coef[2][5] = {{2, 2, 2, 2, 2}, {1.5, 1.5, 1.5, 1.5, 1.5}};
    check_targets(m, orig, 2, fx, coef);
    slm_model_free(m);
    slm_model_free(orig);
    slmc_lora_result_free(&res);
    fix_free(&f1);
    fix_free(&f2);
}
END_TEST

START_TEST(test_modules_to_save) {
    float *head = lf_rand(V * E, 61, 1), *ea = lf_rand(2 * V, 62, 1), *eb = lf_rand(E * 2, 63, 1);
    lf_tensor t[] = {{"base_model.model.lm_head.weight", V, E, head},
                     {"base_model.model.model.embed_tokens.lora_embedding_A", 2, V, ea},
                     {"base_model.model.model.embed_tokens.lora_embedding_B", E, 2, eb}};
    const char *dir = lf_write_peft(ts_tmp("m-save"), "{\"r\": 2, \"lora_alpha\": 2, \"modules_to_save\": [\"lm_head\"]}",
                                    t, 3);
    for (int pass = 0; pass < 2; pass++) {
        const float w = pass ? 0.5f : 1.0f;
        slm_model *m = make_model(), *orig = make_model();
        slmc_lora_input in = {dir, w};
        slmc_lora_result res;
        merge_ok(m, &in, 1, &res);
        const slmc_lora_merged *o = merged(&res, "output.weight");
        ck_assert(o && o->replaced && o->n_terms == 1 && o->terms[0].rank == 0);
        double *want = values(orig, "output.weight");
        for (int i = 0; i < V * E; i++) want[i] = (1 - w) * want[i] + w * (double)head[i];
        expect_values(m, "output.weight", want);
        if (w == 1.0f) { /* one adapter at weight 1: exactly the saved weight */
            double *got = values(m, "output.weight");
            for (int i = 0; i < V * E; i++) ck_assert(got[i] == (double)head[i]);
            free(got);
        }
        /* embed_tokens LoRA: ΔW (vocab x embd) = w·s·(B·A)ᵀ */
        double *we = values(orig, "token_embd.weight");
        for (int tok = 0; tok < V; tok++)
            for (int e = 0; e < E; e++) {
                double s = 0;
                for (int j = 0; j < 2; j++) s += (double)eb[e * 2 + j] * ea[j * V + tok];
                we[tok * E + e] += w * s;
            }
        expect_values(m, "token_embd.weight", we);
        free(want);
        free(we);
        slm_model_free(m);
        slm_model_free(orig);
        slmc_lora_result_free(&res);
    }
    free(head), free(ea), free(eb);
}
END_TEST

START_TEST(test_gguf_adapter) {
    /* GGUF: rows already in llama.cpp order (no permutation), token_embd flipped */
    float *qa = lf_rand(E * 2, 71, 0.3f), *qb = lf_rand(2 * QR, 72, 0.3f), *ea = lf_rand(2 * V, 73, 0.3f),
          *eb = lf_rand(2 * E, 74, 0.3f);
    lf_tensor t[] = {{"blk.0.attn_q.weight.lora_a", E, 2, qa}, {"blk.0.attn_q.weight.lora_b", 2, QR, qb},
                     {"token_embd.weight.lora_a", 2, V, ea},   {"token_embd.weight.lora_b", 2, E, eb}};
    const char *path = lf_write_gguf(ts_tmp("m-lora.gguf"), "llama", "adapter", 6.0f, t, 4);
    slm_model *m = make_model(), *orig = make_model();
    slmc_lora_input in = {path, 2.0f};
    slmc_lora_result res;
    merge_ok(m, &in, 1, &res);
    double *wq = values(orig, "blk.0.attn_q.weight");
    add_delta(wq, QR, E, 2, qa, qb, 2.0 * 3.0, 0);
    expect_values(m, "blk.0.attn_q.weight", wq);
    double *we = values(orig, "token_embd.weight");
    for (int tok = 0; tok < V; tok++)
        for (int e = 0; e < E; e++) {
            double s = 0;
            for (int j = 0; j < 2; j++) s += (double)ea[tok * 2 + j] * eb[e * 2 + j];
            we[tok * E + e] += 6.0 * s;
        }
    expect_values(m, "token_embd.weight", we);
    free(wq), free(we);
    slm_model_free(m);
    slm_model_free(orig);
    slmc_lora_result_free(&res);
    free(qa), free(qb), free(ea), free(eb);
}
END_TEST

START_TEST(test_quantized_base) {
    float *ua = lf_rand(4 * E, 81, 0.3f), *ub = lf_rand(FF * 4, 82, 0.3f);
    lf_tensor t[] = {{"base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", 4, E, ua},
                     {"base_model.model.model.layers.0.mlp.up_proj.lora_B.weight", FF, 4, ub}};
    const char *dir = lf_write_peft(ts_tmp("m-q8"), "{\"r\": 4, \"lora_alpha\": 4}", t, 2);
    slm_model *m = make_model(), *orig = make_model();
    slmc_lora_input in = {dir, 1.0f};
    slmc_lora_result res;
    merge_ok(m, &in, 1, &res);
    ck_assert_uint_eq(res.n_requantized, 1);
    const slmc_lora_merged *u = merged(&res, "blk.0.ffn_up.weight");
    ck_assert(u && u->requantized && u->base_type == SLM_TYPE_Q8_0);
    slm_tensor *tu = slm_model_find_tensor(m, "blk.0.ffn_up.weight");
    ck_assert_int_eq(tu->out_type, SLM_TYPE_Q8_0); /* written with the base's type */
    /* merged in f32 from the dequantized base */
    double *want = values(orig, "blk.0.ffn_up.weight");
    add_delta(want, FF, E, 4, ua, ub, 1.0, 0);
    expect_values(m, "blk.0.ffn_up.weight", want);
    free(want);
    /* written: Q8_0 again, the encoding of the merged values */
    double *mv = values(m, "blk.0.ffn_up.weight");
    float *mf = malloc(sizeof(float) * E * FF);
    for (int i = 0; i < E * FF; i++) mf[i] = (float)mv[i];
    const size_t qbytes = slm_type_row_size(SLM_TYPE_Q8_0, E) * FF;
    void *q = malloc(qbytes);
    slm_type_traits_get(SLM_TYPE_Q8_0)->from_f32(mf, q, E * FF);
    const char *path = ts_tmp("m-q8-merged.gguf");
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_write(m, path, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model *back = NULL;
    ck_assert_msg(slm_gguf_read(path, &back, &d) == SLM_OK, "%s", d.msg);
    slm_tensor *bt = slm_model_find_tensor(back, "blk.0.ffn_up.weight");
    ck_assert_int_eq(bt->type, SLM_TYPE_Q8_0);
    ck_assert(slm_tensor_acquire(bt, &d) == SLM_OK);
    ck_assert_mem_eq(bt->data, q, qbytes);
    /* and the F32 tensors stay F32 */
    ck_assert_int_eq(slm_model_find_tensor(back, "blk.0.attn_q.weight")->type, SLM_TYPE_F32);
    slm_model_free(back);
    free(mv), free(mf), free(q);
    slm_model_free(m);
    slm_model_free(orig);
    slmc_lora_result_free(&res);
    free(ua), free(ub);
}
END_TEST

START_TEST(test_errors_leave_model) {
    /* layer 3 does not exist in the model; q rows of another base */
    float *a = lf_rand(2 * E, 91, 1), *b = lf_rand(QR * 2, 92, 1), *b16 = lf_rand(16 * 2, 93, 1);
    lf_tensor t[] = {{"base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight", 2, E, a},
                     {"base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight", QR, 2, b},
                     {"base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", 2, E, a},
                     {"base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", KR, 2, b}};
    const char *good_v = lf_write_peft(ts_tmp("m-err-v"), "{\"r\": 2}", t + 2, 2);
    const char *missing = lf_write_peft(ts_tmp("m-err-missing"), "{\"r\": 2}", t, 4);
    lf_tensor t2[] = {{"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", 2, E, a},
                      {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", 16, 2, b16}};
    const char *shape = lf_write_peft(ts_tmp("m-err-shape"), "{\"r\": 2}", t2, 2);
    struct {
        slmc_lora_input in[2];
        int n;
        slm_status want;
        const char *frag;
    } cases[] = {
        {{{good_v, 1.0f}, {missing, 1.0f}}, 2, SLM_ERR_INPUT, "not in the base model: blk.3.attn_q.weight"},
        {{{good_v, 1.0f}, {shape, 1.0f}}, 2, SLM_ERR_INPUT,
         "blk.0.attn_q.weight has shape [32, 16] but the base model's is [32, 32, 1, 1]"},
        {{{good_v, NAN}}, 1, SLM_ERR_USAGE, "not a finite number"},
        {{{lf_keep(ts_tmp("m-err-nothing")), 1.0f}}, 1, SLM_ERR_IO, "m-err-nothing"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        slm_model *m = make_model();
        slmc_lora_result res;
        slm_diag d = {0};
        ck_assert_int_eq(slmc_lora_merge(m, cases[c].in, cases[c].n, &res, &d), cases[c].want);
        ck_assert_msg(strstr(d.msg, cases[c].frag) != NULL, "'%s' not in: %s", cases[c].frag, d.msg);
        ck_assert_uint_eq(res.n_merged, 0);
        ck_assert_ptr_null(res.state);
        for (uint32_t i = 0; i < m->n_tensors; i++) ck_assert_ptr_null(m->tensors[i].load); /* untouched */
        slm_model_free(m);
    }
    free(a), free(b), free(b16);
}
END_TEST

static Suite *lora_merge_suite(void) {
    Suite *s = suite_create("lora_merge");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_alpha_over_r);
    tcase_add_test(tc, test_rslora_patterns);
    tcase_add_test(tc, test_fan_in_fan_out);
    tcase_add_test(tc, test_two_adapters);
    tcase_add_test(tc, test_modules_to_save);
    tcase_add_test(tc, test_gguf_adapter);
    tcase_add_test(tc, test_quantized_base);
    tcase_add_test(tc, test_errors_leave_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(lora_merge_suite()); }
