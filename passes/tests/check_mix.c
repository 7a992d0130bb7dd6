/* check_mix.c - llama-quantize's per-tensor rules (slmc_mix) and the
 * conversion plan (slmc_convert) on in-memory models of known shapes: the
 * types llama.cpp build 4748 gives each tensor, worked out by hand from
 * llama_tensor_get_type. No tensor data is needed: planning only looks at
 * names and shapes. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "slmc_convert.h"
#include "slmc_mix.h"
#include "test_support.h"

static void add(slm_model *m, const char *name, int n_dims, int64_t ne0, int64_t ne1) {
    int64_t ne[2] = {ne0, ne1};
    slm_tensor *t;
    slm_diag d = {0};
    ck_assert_msg(slm_model_add_tensor(m, name, SLM_TYPE_F32, n_dims, ne, &t, &d) == SLM_OK, "%s", d.msg);
}

/* A llama model's tensor table (no data). */
static slm_model *fake_llama(uint32_t n_layer, uint32_t n_head, uint32_t n_kv, int64_t dim, int64_t ff, bool output) {
    slm_model *m = slm_model_new();
    strcpy(m->hp.arch, "llama");
    m->hp.n_layer = n_layer;
    m->hp.n_head = n_head;
    m->hp.n_head_kv = n_kv;
    m->hp.n_embd = (uint32_t)dim;
    m->hp.n_ff = (uint32_t)ff;
    add(m, "token_embd.weight", 2, dim, 512);
    for (uint32_t l = 0; l < n_layer; l++) {
        char name[64];
        const struct {
            const char *s;
            int n_dims;
            int64_t ne0, ne1;
        } t[] = {{"attn_norm", 1, dim, 1},   {"attn_q", 2, dim, dim},  {"attn_k", 2, dim, dim * n_kv / n_head},
                 {"attn_v", 2, dim, dim * n_kv / n_head}, {"attn_output", 2, dim, dim}, {"ffn_norm", 1, dim, 1},
                 {"ffn_gate", 2, dim, ff},   {"ffn_up", 2, dim, ff},   {"ffn_down", 2, ff, dim}};
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
            snprintf(name, sizeof name, "blk.%u.%s.weight", l, t[k].s);
            add(m, name, t[k].n_dims, t[k].ne0, t[k].ne1);
        }
    }
    add(m, "output_norm.weight", 1, dim, 1);
    if (output) add(m, "output.weight", 2, dim, 512);
    return m;
}

static slmc_convert_result plan_mix(slm_model *m, const char *mix, bool imatrix) {
    slmc_convert_opts o;
    slmc_convert_opts_init(&o);
    o.mode = SLMC_CONVERT_MIX;
    o.mix = slmc_mix_find(mix);
    ck_assert_msg(o.mix != NULL, "no mix %s", mix);
    o.has_imatrix = imatrix;
    slmc_convert_result r;
    slm_diag d = {0};
    ck_assert_msg(slmc_convert_plan(m, &o, &r, &d) == SLM_OK, "%s", d.msg);
    return r;
}

static slm_type out_type(const slm_model *m, const char *fmt, int layer) {
    char name[64];
    snprintf(name, sizeof name, fmt, layer);
    const slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    return t->out_type;
}

#define ASSERT_NAMED(m, name, want)                                                                               \
    do {                                                                                                           \
        const slm_tensor *t_ = slm_model_find_tensor(m, name);                                                     \
        ck_assert_msg(t_ != NULL, "no tensor %s", name);                                                           \
        ck_assert_msg(t_->out_type == (want), "%s: %s, expected %s", name, slm_type_name(t_->out_type),            \
                      slm_type_name(want));                                                                        \
    } while (0)

#define ASSERT_TYPE(m, fmt, layer, want)                                                                          \
    do {                                                                                                           \
        slm_type got_ = out_type(m, fmt, layer);                                                                   \
        ck_assert_msg(got_ == (want), fmt ": %s, expected %s", layer, slm_type_name(got_), slm_type_name(want)); \
    } while (0)

/* TinyLlama-1.1B's shapes: 22 layers, 32 heads / 4 KV heads (GQA 8).
 * use_more_bits(i, 22) holds for i < 2, i >= 19 and i = 4, 7, 10, 13, 16. */
static bool more_bits_22(int i) { return i < 2 || i >= 19 || (i - 2) % 3 == 2; }

START_TEST(q4_k_m_1b) {
    slm_model *m = fake_llama(22, 32, 4, 256, 512, true);
    slmc_convert_result r = plan_mix(m, "q4_k_m", false);
    ck_assert_uint_eq(r.file_type, 15);
    ck_assert_uint_eq(r.n_fallbacks, 0);
    ASSERT_NAMED(m, "output.weight", SLM_TYPE_Q6_K);
    ASSERT_NAMED(m, "token_embd.weight", SLM_TYPE_Q4_K);
    ASSERT_NAMED(m, "output_norm.weight", SLM_TYPE_F32);
    int n_q6 = 0;
    for (int l = 0; l < 22; l++) {
        slm_type more = more_bits_22(l) ? SLM_TYPE_Q6_K : SLM_TYPE_Q4_K;
        n_q6 += more == SLM_TYPE_Q6_K;
        ASSERT_TYPE(m, "blk.%d.attn_v.weight", l, more);
        ASSERT_TYPE(m, "blk.%d.ffn_down.weight", l, more);
        ASSERT_TYPE(m, "blk.%d.attn_q.weight", l, SLM_TYPE_Q4_K);
        ASSERT_TYPE(m, "blk.%d.attn_output.weight", l, SLM_TYPE_Q4_K);
        ASSERT_TYPE(m, "blk.%d.ffn_up.weight", l, SLM_TYPE_Q4_K);
        ASSERT_TYPE(m, "blk.%d.attn_norm.weight", l, SLM_TYPE_F32);
    }
    ck_assert_int_eq(n_q6, 10);
    slmc_convert_result_free(&r);
    slm_model_free(m);
}
END_TEST

START_TEST(other_k_mixes_1b) {
    slm_model *m = fake_llama(22, 32, 4, 256, 512, true);
    slmc_convert_result r = plan_mix(m, "q2_k", false);
    ck_assert_uint_eq(r.file_type, 10);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 5, SLM_TYPE_Q4_K); /* GQA >= 4 */
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 5, SLM_TYPE_Q3_K);
    ASSERT_TYPE(m, "blk.%d.attn_output.weight", 5, SLM_TYPE_Q3_K);
    ASSERT_TYPE(m, "blk.%d.ffn_gate.weight", 5, SLM_TYPE_Q2_K);
    ASSERT_NAMED(m, "output.weight", SLM_TYPE_Q6_K);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q3_k_m", false);
    ck_assert_uint_eq(r.file_type, 12);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 1, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 2, SLM_TYPE_Q4_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 0, SLM_TYPE_Q5_K); /* i < 22/16 */
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 1, SLM_TYPE_Q4_K);
    ASSERT_TYPE(m, "blk.%d.attn_output.weight", 7, SLM_TYPE_Q4_K);
    ASSERT_TYPE(m, "blk.%d.attn_q.weight", 7, SLM_TYPE_Q3_K);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q3_k_l", false);
    ck_assert_uint_eq(r.file_type, 13);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 9, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 9, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.attn_output.weight", 9, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.ffn_up.weight", 9, SLM_TYPE_Q3_K);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q3_k_s", false);
    ck_assert_uint_eq(r.file_type, 11);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 0, SLM_TYPE_Q3_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 0, SLM_TYPE_Q3_K);
    ASSERT_NAMED(m, "output.weight", SLM_TYPE_Q6_K);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q4_k_s", false);
    ck_assert_uint_eq(r.file_type, 14);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 3, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 4, SLM_TYPE_Q4_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 1, SLM_TYPE_Q5_K); /* i < 22/8 */
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 2, SLM_TYPE_Q4_K);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q5_k_m", false);
    ck_assert_uint_eq(r.file_type, 17);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 4, SLM_TYPE_Q6_K);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 5, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 21, SLM_TYPE_Q6_K);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q5_k_s", false);
    ck_assert_uint_eq(r.file_type, 16);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 0, SLM_TYPE_Q5_K);
    ASSERT_NAMED(m, "output.weight", SLM_TYPE_Q6_K);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q2_k_s", true);
    ck_assert_uint_eq(r.file_type, 21);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 9, SLM_TYPE_Q4_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 1, SLM_TYPE_Q4_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 2, SLM_TYPE_Q2_K);
    slmc_convert_result_free(&r);
    slm_model_free(m);
}
END_TEST

/* Rules that depend on whether an importance matrix is used. */
START_TEST(imatrix_dependent_rules) {
    slm_model *m = fake_llama(22, 32, 4, 256, 512, true);
    slmc_convert_result r = plan_mix(m, "iq4_xs", false);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 9, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 1, SLM_TYPE_Q5_K);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 2, SLM_TYPE_IQ4_XS);
    slmc_convert_result_free(&r);
    r = plan_mix(m, "iq4_xs", true);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 1, SLM_TYPE_IQ4_XS);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q4_0", false);
    ck_assert_uint_eq(r.file_type, 2);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 0, SLM_TYPE_Q4_0);
    ASSERT_NAMED(m, "output.weight", SLM_TYPE_Q6_K);
    slmc_convert_result_free(&r);
    r = plan_mix(m, "q4_0", true);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 1, SLM_TYPE_Q4_1);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 2, SLM_TYPE_Q4_0);
    slmc_convert_result_free(&r);
    r = plan_mix(m, "q5_0", true);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 0, SLM_TYPE_Q5_1);
    slmc_convert_result_free(&r);

    r = plan_mix(m, "q8_0", false);
    ck_assert_uint_eq(r.file_type, 7);
    ASSERT_NAMED(m, "output.weight", SLM_TYPE_Q8_0); /* Q8_0 keeps its classifier */
    slmc_convert_result_free(&r);
    slm_model_free(m);
}
END_TEST

/* 80 layers with grouped KV heads is llama.cpp's 70B: attn_v gets Q5_K. */
START_TEST(llama_70b_attn_v) {
    slm_model *m = fake_llama(80, 64, 8, 256, 256, true);
    slmc_convert_result r = plan_mix(m, "q4_k_m", false);
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 20, SLM_TYPE_Q5_K); /* Q4_K bumped */
    ASSERT_TYPE(m, "blk.%d.attn_v.weight", 0, SLM_TYPE_Q6_K);  /* more bits stay */
    slmc_convert_result_free(&r);
    slm_model_free(m);
}
END_TEST

/* Without output.weight, token_embd is the classifier and gets its rules. */
START_TEST(tied_embeddings) {
    slm_model *m = fake_llama(4, 4, 4, 256, 512, false);
    slmc_convert_result r = plan_mix(m, "q4_k_m", false);
    ASSERT_NAMED(m, "token_embd.weight", SLM_TYPE_Q6_K);
    slmc_convert_result_free(&r);

    slmc_convert_opts o;
    slmc_convert_opts_init(&o);
    o.mode = SLMC_CONVERT_MIX;
    o.mix = slmc_mix_find("q4_k_m");
    o.output_type = SLM_TYPE_Q8_0;
    slm_diag d = {0};
    ck_assert_int_eq(slmc_convert_plan(m, &o, &r, &d), SLM_OK);
    ASSERT_NAMED(m, "token_embd.weight", SLM_TYPE_Q8_0);
    slmc_convert_result_free(&r);
    o.embedding_type = SLM_TYPE_Q5_K; /* --embedding-type wins over --output-type */
    ck_assert_int_eq(slmc_convert_plan(m, &o, &r, &d), SLM_OK);
    ASSERT_NAMED(m, "token_embd.weight", SLM_TYPE_Q5_K);
    slmc_convert_result_free(&r);
    /* a plain type keeps token_embd plain (llama-quantize --pure) */
    o.mode = SLMC_CONVERT_PURE;
    o.type = SLM_TYPE_Q4_K;
    o.embedding_type = SLM_TYPE_COUNT;
    ck_assert_int_eq(slmc_convert_plan(m, &o, &r, &d), SLM_OK);
    ASSERT_NAMED(m, "token_embd.weight", SLM_TYPE_Q4_K);
    ck_assert_uint_eq(r.file_type, 15);
    slmc_convert_result_free(&r);
    slm_model_free(m);
}
END_TEST

START_TEST(fallback_table) {
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q4_K, 256), SLM_TYPE_Q4_K);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q4_K, 128), SLM_TYPE_Q5_0);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q5_K, 128), SLM_TYPE_Q5_1);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q6_K, 128), SLM_TYPE_Q8_0);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q2_K, 128), SLM_TYPE_IQ4_NL);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q3_K, 128), SLM_TYPE_IQ4_NL);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_IQ4_XS, 128), SLM_TYPE_IQ4_NL);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q4_K, 48), SLM_TYPE_F16);  /* Q5_0 does not fit either */
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_Q8_0, 172), SLM_TYPE_F16); /* llama.cpp refuses */
    ck_assert_int_eq(slmc_llama_fallback(SLM_TYPE_Q8_0), SLM_TYPE_COUNT);
    ck_assert_int_eq(slmc_fallback_type(SLM_TYPE_F32, 7), SLM_TYPE_F32);
}
END_TEST

START_TEST(names) {
    ck_assert_str_eq(slmc_mix_find("q4_k")->name, "Q4_K_M"); /* llama-quantize's alias */
    ck_assert_str_eq(slmc_mix_find("Q3_K")->name, "Q3_K_M");
    ck_assert_str_eq(slmc_mix_find("q5_k")->name, "Q5_K_M");
    ck_assert_str_eq(slmc_mix_find("Q4_K_S")->name, "Q4_K_S");
    ck_assert_ptr_null(slmc_mix_find("iq2_xxs")); /* no encoder */
    ck_assert_ptr_null(slmc_mix_find("q4_k_x"));
    ck_assert(slmc_mix_is_preset_name("q4_k_m"));
    ck_assert(slmc_mix_is_preset_name("Q2_K_S"));
    ck_assert(!slmc_mix_is_preset_name("q4_k"));
    ck_assert(!slmc_mix_is_preset_name("q4_0"));
    size_t n = 0;
    const slmc_mix *all = slmc_mix_all(&n);
    for (size_t i = 0; i < n; i++) ck_assert_ptr_nonnull(slm_type_traits_get(all[i].base)->quantize_row);
}
END_TEST

/* Pure and keep modes, --tensor-type rules (first match wins, case
 * insensitive), and a 2-D tensor that is not a "weight" staying F32. */
START_TEST(pure_keep_and_rules) {
    slm_model *m = fake_llama(2, 4, 2, 256, 512, true);
    add(m, "rope_freqs.weight", 1, 32, 1);
    slmc_tensor_rules *rules = NULL;
    slm_diag d = {0};
    ck_assert_int_eq(slmc_tensor_rules_add(&rules, "blk\\.1\\.=q8_0", &d), SLM_OK);
    ck_assert_int_eq(slmc_tensor_rules_add(&rules, "ATTN_[QK]=q6_k", &d), SLM_OK);
    ck_assert_int_eq(slmc_tensor_rules_add(&rules, "ffn_(up|gate)=bf16", &d), SLM_OK);
    ck_assert_int_ne(slmc_tensor_rules_add(&rules, "attn=iq2_xxs", &d), SLM_OK);
    ck_assert_ptr_nonnull(strstr(d.msg, "iq2_xxs"));
    slmc_convert_opts o;
    slmc_convert_opts_init(&o);
    o.mode = SLMC_CONVERT_PURE;
    o.type = SLM_TYPE_Q4_0;
    o.rules = rules;
    slmc_convert_result r;
    ck_assert_int_eq(slmc_convert_plan(m, &o, &r, &d), SLM_OK);
    ASSERT_TYPE(m, "blk.%d.attn_q.weight", 0, SLM_TYPE_Q6_K);
    ASSERT_TYPE(m, "blk.%d.attn_q.weight", 1, SLM_TYPE_Q8_0); /* the first rule matches first */
    ASSERT_TYPE(m, "blk.%d.ffn_up.weight", 0, SLM_TYPE_BF16);
    ASSERT_TYPE(m, "blk.%d.ffn_down.weight", 0, SLM_TYPE_Q4_0);
    ASSERT_NAMED(m, "rope_freqs.weight", SLM_TYPE_F32);
    ck_assert_uint_eq(r.file_type, 2);
    slmc_convert_result_free(&r);

    slmc_convert_opts_init(&o); /* keep: types stay, vectors F32 */
    ck_assert_int_eq(slmc_convert_plan(m, &o, &r, &d), SLM_OK);
    ASSERT_TYPE(m, "blk.%d.attn_q.weight", 0, SLM_TYPE_F32);
    ck_assert_uint_eq(r.n_converted, 0);
    ck_assert_uint_eq(r.file_type, 0);
    slmc_convert_result_free(&r);
    slmc_tensor_rules_free(rules);
    slm_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mix");
    TCase *tc = tcase_create("mix");
    tcase_add_test(tc, q4_k_m_1b);
    tcase_add_test(tc, other_k_mixes_1b);
    tcase_add_test(tc, imatrix_dependent_rules);
    tcase_add_test(tc, llama_70b_attn_v);
    tcase_add_test(tc, tied_embeddings);
    tcase_add_test(tc, fallback_table);
    tcase_add_test(tc, names);
    tcase_add_test(tc, pure_keep_and_rules);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
