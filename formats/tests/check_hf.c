/* check_hf.c - Hugging Face folders: tensor name mapping, config.json
 * parsing and its errors, the Q/K permutation through a write -> read round
 * trip (checked against the raw safetensors rows), sharded checkpoints, and
 * F16/BF16 output. */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_gguf.h"
#include "slm_hf.h"
#include "slm_safetensors.h"
#include "test_support.h"

/* ---------------------------------------------------------- fixtures */

enum { E = 16, H = 2, KV = 1, HD = 8, FF = 12, V = 10 };

/* Values exactly representable in f16 and bf16 (multiples of 1/8 in
 * [-6, 6]); the prime period keeps the rows of every test tensor distinct, so
 * a misplaced row cannot go unnoticed. */
static float value_at(uint32_t tensor, int64_t i) { return (float)((tensor * 131 + i * 7) % 97) / 8.0f - 6.0f; }

static void add_f32(slm_model *m, const char *name, int n_dims, int64_t ne0, int64_t ne1, slm_type out_type) {
    int64_t ne[2] = {ne0, ne1};
    slm_tensor *t;
    slm_diag d = {0};
    ck_assert_int_eq(slm_model_add_tensor(m, name, SLM_TYPE_F32, n_dims, ne, &t, &d), SLM_OK);
    int64_t n = slm_tensor_nelements(t);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = value_at(m->n_tensors, i);
    ck_assert_int_eq(slm_tensor_set_owned(t, SLM_TYPE_F32, x, &d), SLM_OK);
    t->out_type = out_type;
}

/* A tiny llama with GQA (2 heads, 1 KV head), a q bias, untied output, in
 * exactly the order the HF reader produces. `mat` is the out_type of the
 * matrices; blk.0.ffn_down is stored as BF16 to cover a BF16 source. */
static slm_model *make_model(uint32_t n_layer, slm_type mat) {
    slm_model *m = slm_model_new();
    slm_hparams *hp = &m->hp;
    snprintf(hp->arch, sizeof hp->arch, "llama");
    hp->n_ctx = 64;
    hp->n_embd = E;
    hp->n_ff = FF;
    hp->n_layer = n_layer;
    hp->n_head = H;
    hp->n_head_kv = KV;
    hp->n_rot = HD;
    hp->rms_eps = 1e-5f;
    hp->rope_freq_base = 10000.0f;
    hp->n_vocab = V;
    hp->has = SLM_HP_HEAD_COUNT_KV | SLM_HP_ROPE_DIM | SLM_HP_RMS_EPS | SLM_HP_ROPE_FREQ_BASE | SLM_HP_VOCAB_SIZE;
    add_f32(m, "token_embd.weight", 2, E, V, mat);
    for (uint32_t l = 0; l < n_layer; l++) {
        char nm[SLM_MAX_NAME];
#define ADD(part, nd, a, b, ty)                          \
    snprintf(nm, sizeof nm, "blk.%u." part, l);          \
    add_f32(m, nm, nd, a, b, ty)
        ADD("attn_norm.weight", 1, E, 1, SLM_TYPE_F32);
        ADD("attn_q.weight", 2, E, H * HD, mat);
        ADD("attn_q.bias", 1, H * HD, 1, SLM_TYPE_F32);
        ADD("attn_k.weight", 2, E, KV * HD, mat);
        ADD("attn_v.weight", 2, E, KV * HD, mat);
        ADD("attn_output.weight", 2, H * HD, E, mat);
        ADD("ffn_norm.weight", 1, E, 1, SLM_TYPE_F32);
        ADD("ffn_gate.weight", 2, E, FF, mat);
        ADD("ffn_up.weight", 2, E, FF, mat);
        ADD("ffn_down.weight", 2, FF, E, mat);
#undef ADD
    }
    add_f32(m, "output_norm.weight", 1, E, 1, SLM_TYPE_F32);
    add_f32(m, "output.weight", 2, E, V, mat);
    if (n_layer > 0) {
        /* a BF16 source tensor written as BF16 (plain copy) */
        slm_tensor *t = slm_model_find_tensor(m, "blk.0.ffn_down.weight");
        slm_diag d = {0};
        ck_assert_int_eq(slm_tensor_acquire(t, &d), SLM_OK);
        int64_t n = slm_tensor_nelements(t);
        uint16_t *b = malloc((size_t)n * 2);
        for (int64_t i = 0; i < n; i++) b[i] = slm_f32_to_bf16(((const float *)t->data)[i]);
        ck_assert_int_eq(slm_tensor_set_owned(t, SLM_TYPE_BF16, b, &d), SLM_OK);
    }
    return m;
}

/* A scratch directory path (not created) copied into the caller's buffer,
 * since ts_tmp reuses its storage. */
static void tmp_dir(char out[4096], const char *name) { snprintf(out, 4096, "%s", ts_tmp(name)); }

static void write_text(const char *dir, const char *file, const char *text) {
    char *p = slm_path_join(dir, file);
    ck_assert_int_eq(ts_write_file(p, text, strlen(text)), 0);
    free(p);
}

/* Decodes an acquired tensor to f32 (malloc'd). */
static float *decode(slm_tensor *t) {
    slm_diag d = {0};
    ck_assert_int_eq(slm_tensor_acquire(t, &d), SLM_OK);
    int64_t n = slm_tensor_nelements(t);
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    ck_assert_int_eq(slm_tensor_rows_f32(t, 0, slm_tensor_nrows(t), x, &d), SLM_OK);
    return x;
}

/* The read-back model must hold the same tensors, with the written types
 * and the same values, and in the same order when `same_order`. */
static void assert_same_tensors_ex(slm_model *want, slm_model *got, bool same_order) {
    ck_assert_uint_eq(got->n_tensors, want->n_tensors);
    for (uint32_t i = 0; i < want->n_tensors; i++) {
        slm_tensor *a = &want->tensors[i];
        slm_tensor *b = same_order ? &got->tensors[i] : slm_model_find_tensor(got, a->name);
        ck_assert_msg(b != NULL, "%s missing", a->name);
        ck_assert_str_eq(b->name, a->name);
        ck_assert_int_eq(b->n_dims, a->n_dims);
        for (int k = 0; k < SLM_MAX_DIMS; k++) ck_assert_int_eq(b->ne[k], a->ne[k]);
        ck_assert_msg(b->type == a->out_type, "%s: type %s, expected %s", b->name, slm_type_name(b->type),
                      slm_type_name(a->out_type));
        float *x = decode(a), *y = decode(b);
        int64_t n = slm_tensor_nelements(a);
        for (int64_t k = 0; k < n; k++) ck_assert_msg(x[k] == y[k], "%s[%lld]: %g != %g", a->name, (long long)k, x[k], y[k]);
        free(x);
        free(y);
        slm_tensor_release(a);
        slm_tensor_release(b);
    }
}

static void assert_same_tensors(slm_model *want, slm_model *got) { assert_same_tensors_ex(want, got, true); }

static void assert_same_hparams(const slm_hparams *a, const slm_hparams *b) {
    ck_assert_str_eq(b->arch, a->arch);
    ck_assert_uint_eq(b->n_ctx, a->n_ctx);
    ck_assert_uint_eq(b->n_embd, a->n_embd);
    ck_assert_uint_eq(b->n_ff, a->n_ff);
    ck_assert_uint_eq(b->n_layer, a->n_layer);
    ck_assert_uint_eq(b->n_head, a->n_head);
    ck_assert_uint_eq(b->n_head_kv, a->n_head_kv);
    ck_assert_uint_eq(b->n_rot, a->n_rot);
    ck_assert_uint_eq(b->n_vocab, a->n_vocab);
    ck_assert(b->rms_eps == a->rms_eps);
    ck_assert(b->rope_freq_base == a->rope_freq_base);
    ck_assert_uint_eq(b->has, a->has);
}

static slm_model *read_ok(const char *path) {
    slm_model *m = NULL;
    slm_diag d = {0};
    slm_status st = slm_hf_read(path, &m, &d);
    ck_assert_msg(st == SLM_OK, "slm_hf_read(%s): %s", path, d.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

static void read_fails(const char *path, slm_status want, const char *frag1, const char *frag2) {
    slm_model *m = (slm_model *)1;
    slm_diag d = {0};
    slm_status st = slm_hf_read(path, &m, &d);
    ck_assert_msg(st == want, "status %d, expected %d: %s", st, want, d.msg);
    ck_assert_ptr_null(m);
    if (frag1) ck_assert_msg(strstr(d.msg, frag1) != NULL, "'%s' not in: %s", frag1, d.msg);
    if (frag2) ck_assert_msg(strstr(d.msg, frag2) != NULL, "'%s' not in: %s", frag2, d.msg);
}

static const char *k_config =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 16,"
    " \"intermediate_size\": 12, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
    " \"num_key_value_heads\": 1, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-05,"
    " \"rope_theta\": 10000.0, \"vocab_size\": 10, \"tie_word_embeddings\": false}";

/* ------------------------------------------------------------- names */

START_TEST(test_name_mapping) {
    static const struct {
        const char *hf, *gguf;
        int permute;
    } pairs[] = {
        {"model.embed_tokens.weight", "token_embd.weight", 0},
        {"model.norm.weight", "output_norm.weight", 0},
        {"lm_head.weight", "output.weight", 0},
        {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight", 0},
        {"model.layers.3.self_attn.q_proj.weight", "blk.3.attn_q.weight", 1},
        {"model.layers.3.self_attn.q_proj.bias", "blk.3.attn_q.bias", 1},
        {"model.layers.12.self_attn.k_proj.weight", "blk.12.attn_k.weight", 2},
        {"model.layers.12.self_attn.k_proj.bias", "blk.12.attn_k.bias", 2},
        {"model.layers.7.self_attn.v_proj.weight", "blk.7.attn_v.weight", 0},
        {"model.layers.7.self_attn.o_proj.weight", "blk.7.attn_output.weight", 0},
        {"model.layers.7.post_attention_layernorm.weight", "blk.7.ffn_norm.weight", 0},
        {"model.layers.31.mlp.gate_proj.weight", "blk.31.ffn_gate.weight", 0},
        {"model.layers.31.mlp.up_proj.weight", "blk.31.ffn_up.weight", 0},
        {"model.layers.31.mlp.down_proj.weight", "blk.31.ffn_down.weight", 0},
        {"model.layers.100.mlp.down_proj.bias", "blk.100.ffn_down.bias", 0},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char out[SLM_MAX_NAME];
        int p = -1;
        ck_assert_msg(slm_hf_name_to_gguf(pairs[i].hf, out, &p), "%s", pairs[i].hf);
        ck_assert_str_eq(out, pairs[i].gguf);
        ck_assert_int_eq(p, pairs[i].permute);
        char back[128];
        p = -1;
        ck_assert_msg(slm_hf_name_from_gguf(pairs[i].gguf, back, sizeof back, &p), "%s", pairs[i].gguf);
        ck_assert_str_eq(back, pairs[i].hf);
        ck_assert_int_eq(p, pairs[i].permute);
    }
    static const char *const unmapped[] = {
        "model.layers.0.self_attn.rotary_emb.inv_freq", "model.layers.01.mlp.up_proj.weight",
        "model.layers.x.mlp.up_proj.weight", "model.layers.0.mlp.up_proj", "model.layers.0.", "model.layers.",
        "model.embed_tokens.bias", "transformer.wte.weight", "", "model.layers.99999999999.mlp.up_proj.weight",
        "model.layers.0.input_layernorm.bias",
    };
    for (size_t i = 0; i < sizeof unmapped / sizeof unmapped[0]; i++) {
        char out[SLM_MAX_NAME];
        int p = -1;
        ck_assert_msg(!slm_hf_name_to_gguf(unmapped[i], out, &p), "%s mapped", unmapped[i]);
        ck_assert_int_eq(p, 0);
    }
    char small[8];
    int p;
    ck_assert(!slm_hf_name_from_gguf("blk.0.attn_q.weight", small, sizeof small, &p));
    ck_assert(!slm_hf_name_from_gguf("rope_freqs.weight", small, sizeof small, &p));
    ck_assert(!slm_hf_name_from_gguf("blk.00.attn_q.weight", small, sizeof small, &p));
}
END_TEST

START_TEST(test_add_tensor) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_int_eq(slm_hf_config_parse(m, k_config, strlen(k_config), "cfg", &d), SLM_OK);
    float q[H * HD * E] = {0};
    int64_t shape[2] = {H * HD, E};
    slm_tensor *t = (slm_tensor *)1;
    ck_assert_int_eq(slm_hf_add_tensor(m, "model.layers.0.self_attn.q_proj.weight", SLM_TYPE_F32, 2, shape, q, NULL,
                                       NULL, 0, &t, &d),
                     SLM_OK);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->name, "blk.0.attn_q.weight");
    ck_assert_int_eq(t->ne[0], E);
    ck_assert_int_eq(t->ne[1], H * HD);
    ck_assert_uint_eq(t->permute_heads, H);
    ck_assert_ptr_eq(t->src, q);
    int64_t kshape[1] = {KV * HD};
    ck_assert_int_eq(slm_hf_add_tensor(m, "model.layers.0.self_attn.k_proj.bias", SLM_TYPE_F32, 1, kshape, q, NULL,
                                       NULL, 0, &t, &d),
                     SLM_OK);
    ck_assert_uint_eq(t->permute_heads, KV);
    ck_assert_int_eq(slm_hf_add_tensor(m, "model.rotary_emb.inv_freq", SLM_TYPE_F32, 1, kshape, q, NULL, NULL, 0, &t,
                                       &d),
                     SLM_OK);
    ck_assert_ptr_null(t);
    /* a q_proj whose rows do not match heads x head size is refused */
    int64_t bad[2] = {6, E};
    ck_assert_int_eq(slm_hf_add_tensor(m, "model.layers.1.self_attn.q_proj.weight", SLM_TYPE_F32, 2, bad, q, NULL,
                                       NULL, 0, &t, &d),
                     SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "model.layers.1.self_attn.q_proj.weight") && strstr(d.msg, "6 output rows"), "%s",
                  d.msg);
    slm_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ config */

START_TEST(test_config_parse) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    const char *cfg = "{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 172,"
                      " \"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                      " \"head_dim\": 32, \"max_position_embeddings\": 2048, \"rms_norm_eps\": 1e-6,"
                      " \"rope_theta\": 1000000, \"vocab_size\": 512, \"sliding_window\": null,"
                      " \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}";
    ck_assert_int_eq(slm_hf_config_parse(m, cfg, strlen(cfg), "x/config.json", &d), SLM_OK);
    const slm_hparams *hp = &m->hp;
    ck_assert_str_eq(hp->arch, "llama");
    ck_assert_uint_eq(hp->n_embd, 64);
    ck_assert_uint_eq(hp->n_ff, 172);
    ck_assert_uint_eq(hp->n_layer, 3);
    ck_assert_uint_eq(hp->n_head, 4);
    ck_assert_uint_eq(hp->n_head_kv, 2);
    ck_assert_uint_eq(hp->n_ctx, 2048);
    ck_assert_uint_eq(hp->n_vocab, 512);
    ck_assert_uint_eq(hp->key_length, 32);
    ck_assert_uint_eq(hp->value_length, 32);
    ck_assert_uint_eq(hp->n_rot, 32);
    ck_assert(hp->rms_eps == 1e-6f);
    ck_assert(hp->rope_freq_base == 1e6f);
    ck_assert_int_eq(hp->rope_scaling, SLM_ROPE_SCALING_LINEAR);
    ck_assert(hp->rope_scaling_factor == 2.0f);
    uint32_t want = SLM_HP_HEAD_COUNT_KV | SLM_HP_ROPE_DIM | SLM_HP_RMS_EPS | SLM_HP_ROPE_FREQ_BASE |
                    SLM_HP_VOCAB_SIZE | SLM_HP_KEY_LENGTH | SLM_HP_VALUE_LENGTH | SLM_HP_ROPE_SCALING;
    ck_assert_uint_eq(hp->has, want);
    slm_model_free(m);

    /* defaults: no kv heads, head_dim = hidden/heads, no rope_theta */
    m = slm_model_new();
    const char *min = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
                      " \"num_hidden_layers\": 1, \"num_attention_heads\": 8, \"max_position_embeddings\": 128,"
                      " \"head_dim\": 8, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4,"
                      " \"original_max_position_embeddings\": 32}}";
    ck_assert_int_eq(slm_hf_config_parse(m, min, strlen(min), "cfg", &d), SLM_OK);
    ck_assert_uint_eq(m->hp.n_head_kv, 8);
    ck_assert_uint_eq(m->hp.n_rot, 8);
    ck_assert(!(m->hp.has & (SLM_HP_KEY_LENGTH | SLM_HP_ROPE_FREQ_BASE | SLM_HP_VOCAB_SIZE)));
    ck_assert(m->hp.has & SLM_HP_RMS_EPS);
    ck_assert(m->hp.rope_freq_base == 10000.0f);
    ck_assert_int_eq(m->hp.rope_scaling, SLM_ROPE_SCALING_YARN);
    ck_assert(m->hp.rope_scaling_factor == 4.0f);
    ck_assert_uint_eq(m->hp.rope_scaling_orig_ctx, 32);
    slm_model_free(m);
}
END_TEST

START_TEST(test_config_llama3_rope) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    const char *cfg = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 256, \"intermediate_size\": 512,"
                      " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"max_position_embeddings\": 131072,"
                      " \"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0,"
                      " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                      " \"original_max_position_embeddings\": 8192}}";
    ck_assert_int_eq(slm_hf_config_parse(m, cfg, strlen(cfg), "cfg", &d), SLM_OK);
    ck_assert(!(m->hp.has & SLM_HP_ROPE_SCALING));
    slm_tensor *t = slm_model_find_tensor(m, "rope_freqs.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->n_dims, 1);
    ck_assert_int_eq(t->ne[0], 32);
    const float *f = t->data;
    /* high frequencies are untouched, the lowest are divided by the factor,
     * and the band between is smooth and increasing */
    ck_assert(f[0] == 1.0f);
    ck_assert(f[31] == 32.0f);
    for (int i = 1; i < 32; i++) ck_assert(f[i] >= f[i - 1]);
    int between = 0;
    for (int i = 0; i < 32; i++) between += f[i] > 1.0f && f[i] < 32.0f;
    ck_assert_int_gt(between, 0);
    slm_model_free(m);
}
END_TEST

static void config_fails(const char *json, slm_status want, const char *frag1, const char *frag2) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    slm_status st = slm_hf_config_parse(m, json, strlen(json), "dir/config.json", &d);
    ck_assert_msg(st == want, "status %d, expected %d: %s", st, want, d.msg);
    ck_assert_msg(strstr(d.msg, "dir/config.json") != NULL, "file not named: %s", d.msg);
    if (frag1) ck_assert_msg(strstr(d.msg, frag1) != NULL, "'%s' not in: %s", frag1, d.msg);
    if (frag2) ck_assert_msg(strstr(d.msg, frag2) != NULL, "'%s' not in: %s", frag2, d.msg);
    slm_model_free(m);
}

START_TEST(test_config_errors) {
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"intermediate_size\": 12, \"num_hidden_layers\": 1,"
                 " \"num_attention_heads\": 2, \"max_position_embeddings\": 64}",
                 SLM_ERR_INPUT, "key 'hidden_size' missing", "expected an integer");
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": \"8\", \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 64}",
                 SLM_ERR_INPUT, "key 'hidden_size' is a string", "expected an integer");
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8.5, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 64}",
                 SLM_ERR_INPUT, "'hidden_size' is a real number", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": -8, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 64}",
                 SLM_ERR_INPUT, "'hidden_size' is -8", NULL);
    config_fails("{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 8}", SLM_ERR_UNSUPPORTED,
                 "unsupported architecture Qwen2ForCausalLM", "(supported: LlamaForCausalLM, MistralForCausalLM)");
    config_fails("{\"hidden_size\": 8}", SLM_ERR_INPUT, "key 'architectures' missing", NULL);
    config_fails("{\"architectures\": []}", SLM_ERR_INPUT, "'architectures'", "non-empty array");
    config_fails("{\"architectures\": \"LlamaForCausalLM\"}", SLM_ERR_INPUT, "'architectures' is a string", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"],", SLM_ERR_INPUT, "invalid JSON", NULL);
    config_fails("[1]", SLM_ERR_INPUT, "expected a JSON object", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"hidden_size\": 8}", SLM_ERR_INPUT,
                 "duplicate", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 3, \"max_position_embeddings\": 64}",
                 SLM_ERR_INPUT, "not a multiple of num_attention_heads", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 3,"
                 " \"max_position_embeddings\": 64}",
                 SLM_ERR_INPUT, "multiple of num_key_value_heads", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 64,"
                 " \"rms_norm_eps\": \"1e-5\"}",
                 SLM_ERR_INPUT, "'rms_norm_eps' is a string", "expected a number");
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 64,"
                 " \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}}",
                 SLM_ERR_UNSUPPORTED, "rope_scaling type 'dynamic'", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 64,"
                 " \"rope_scaling\": {\"type\": \"linear\"}}",
                 SLM_ERR_INPUT, "key 'rope_scaling.factor' missing", NULL);
    config_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
                 " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 64,"
                 " \"tie_word_embeddings\": 1}",
                 SLM_ERR_INPUT, "'tie_word_embeddings' is an integer", "boolean");
}
END_TEST

/* ------------------------------------------------- write / read trips */

/* HF row order of a Q/K weight computed the way convert_hf_to_gguf.py's
 * permute() is written: view the (GGUF-ordered) rows as (heads, hd/2, 2)
 * and the HF rows as (heads, 2, hd/2); hf_of_gguf[g] is the HF row holding
 * GGUF row g. */
static void hf_row_of_gguf(int heads, int rows, int *hf_of_gguf) {
    int hd = rows / heads, half = hd / 2;
    int idx[16][2][16];
    int r = 0;
    for (int h = 0; h < heads; h++)
        for (int p = 0; p < 2; p++)
            for (int i = 0; i < half; i++) idx[h][p][i] = r++; /* HF rows, (H, 2, hd/2) */
    int g = 0;
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < half; i++)
            for (int p = 0; p < 2; p++) hf_of_gguf[g++] = idx[h][p][i]; /* swapaxes(1, 2) */
}

static const slm_st_entry *find_entry(const slm_st_file *f, const char *name) {
    for (uint32_t i = 0; i < f->n; i++)
        if (strcmp(f->entries[i].name, name) == 0) return &f->entries[i];
    return NULL;
}

/* Raw HF rows of `hf` in the written file must be the model's GGUF rows
 * moved back to rotate-half order. */
static void assert_raw_rows_permuted(const slm_st_file *f, slm_model *m, const char *hf, const char *gguf, int heads) {
    const slm_st_entry *e = find_entry(f, hf);
    ck_assert_msg(e != NULL, "%s missing from model.safetensors", hf);
    ck_assert_int_eq(e->type, SLM_TYPE_F32);
    slm_tensor *t = slm_model_find_tensor(m, gguf);
    float *x = decode(t);
    int rows = (int)(t->n_dims == 1 ? t->ne[0] : t->ne[1]);
    int cols = t->n_dims == 1 ? 1 : (int)t->ne[0];
    int hf_of_gguf[64];
    hf_row_of_gguf(heads, rows, hf_of_gguf);
    const float *raw = e->data;
    for (int g = 0; g < rows; g++) {
        ck_assert_msg(memcmp(raw + (size_t)hf_of_gguf[g] * cols, x + (size_t)g * cols, cols * sizeof(float)) == 0,
                      "%s: GGUF row %d is not at HF row %d", hf, g, hf_of_gguf[g]);
    }
    /* and the permutation really moved something */
    ck_assert(memcmp(raw, x, (size_t)rows * cols * sizeof(float)) != 0);
    free(x);
    slm_tensor_release(t);
}

START_TEST(test_permutation_round_trip) {
    slm_model *m = make_model(2, SLM_TYPE_F32);
    char dir[4096];
    tmp_dir(dir, "perm/model");
    slm_diag d = {0};
    ck_assert_msg(slm_hf_write(m, dir, NULL, NULL, &d) == SLM_OK, "%s", d.msg);

    char *st_path = slm_path_join(dir, "model.safetensors");
    slm_st_file f;
    ck_assert_int_eq(slm_st_open(st_path, &f, &d), SLM_OK);
    ck_assert_uint_eq(f.n, m->n_tensors);
    ck_assert_str_eq(f.entries[0].name, "model.embed_tokens.weight"); /* table order */
    assert_raw_rows_permuted(&f, m, "model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", H);
    assert_raw_rows_permuted(&f, m, "model.layers.1.self_attn.q_proj.weight", "blk.1.attn_q.weight", H);
    assert_raw_rows_permuted(&f, m, "model.layers.0.self_attn.q_proj.bias", "blk.0.attn_q.bias", H);
    assert_raw_rows_permuted(&f, m, "model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", KV);
    /* v is not permuted */
    const slm_st_entry *v = find_entry(&f, "model.layers.0.self_attn.v_proj.weight");
    slm_tensor *tv = slm_model_find_tensor(m, "blk.0.attn_v.weight");
    ck_assert_mem_eq(v->data, tv->data, tv->nbytes);
    slm_st_close(&f, false);
    free(st_path);

    slm_model *r = read_ok(dir);
    ck_assert_str_eq(r->source_format, "hf");
    assert_same_hparams(&m->hp, &r->hp);
    assert_same_tensors(m, r);
    const slm_tensor *q = slm_model_find_tensor(r, "blk.0.attn_q.weight");
    ck_assert_uint_eq(q->permute_heads, H);
    ck_assert_uint_eq(slm_model_find_tensor(r, "blk.0.attn_k.weight")->permute_heads, KV);
    ck_assert_uint_eq(slm_model_find_tensor(r, "blk.0.attn_v.weight")->permute_heads, 0);
    /* config.json and the shard are registered inputs; the shard is mapped */
    int have_cfg = 0, have_st = 0;
    for (uint32_t i = 0; i < r->n_inputs; i++) {
        if (strstr(r->inputs[i].path, "config.json")) have_cfg = !r->inputs[i].map;
        if (strstr(r->inputs[i].path, "model.safetensors")) have_st = r->inputs[i].map != NULL;
    }
    ck_assert(have_cfg && have_st);
    const slm_kv *name = slm_model_find_kv(r, "general.name");
    ck_assert_ptr_nonnull(name);
    ck_assert_str_eq(name->value.v.str.s, "model");

    /* writing the read model again reproduces the file byte for byte */
    char dir2[4096];
    tmp_dir(dir2, "perm/again");
    ck_assert_msg(slm_hf_write(r, dir2, NULL, NULL, &d) == SLM_OK, "%s", d.msg);
    char *p1 = slm_path_join(dir, "model.safetensors"), *p2 = slm_path_join(dir2, "model.safetensors");
    size_t n1, n2;
    char *b1 = ts_read_file(p1, &n1), *b2 = ts_read_file(p2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(b1, b2, n1);
    free(b1);
    free(b2);
    free(p1);
    free(p2);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

START_TEST(test_f16_bf16_output) {
    slm_model *m = make_model(1, SLM_TYPE_F16);
    /* one matrix as BF16 converted from F32, and the BF16 source kept */
    slm_model_find_tensor(m, "blk.0.ffn_up.weight")->out_type = SLM_TYPE_BF16;
    char dir[4096];
    tmp_dir(dir, "half/model");
    slm_diag d = {0};
    ck_assert_msg(slm_hf_write(m, dir, NULL, NULL, &d) == SLM_OK, "%s", d.msg);

    char *st_path = slm_path_join(dir, "model.safetensors");
    slm_st_file f;
    ck_assert_int_eq(slm_st_open(st_path, &f, &d), SLM_OK);
    ck_assert_int_eq(find_entry(&f, "model.layers.0.self_attn.q_proj.weight")->type, SLM_TYPE_F16);
    ck_assert_int_eq(find_entry(&f, "model.layers.0.mlp.up_proj.weight")->type, SLM_TYPE_BF16);
    ck_assert_int_eq(find_entry(&f, "model.layers.0.mlp.down_proj.weight")->type, SLM_TYPE_BF16);
    ck_assert_int_eq(find_entry(&f, "model.norm.weight")->type, SLM_TYPE_F32);
    /* the converted, permuted q: HF row 1 of head 0 is GGUF row 2 */
    const uint16_t *raw = find_entry(&f, "model.layers.0.self_attn.q_proj.weight")->data;
    const float *orig = slm_model_find_tensor(m, "blk.0.attn_q.weight")->data;
    for (int c = 0; c < E; c++) ck_assert_uint_eq(raw[1 * E + c], slm_f32_to_f16(orig[2 * E + c]));
    slm_st_close(&f, false);
    free(st_path);

    char *cfg_path = slm_path_join(dir, "config.json");
    json_t *cfg = json_load_file(cfg_path, 0, NULL);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "torch_dtype")), "float16");
    ck_assert(json_is_false(json_object_get(cfg, "tie_word_embeddings")));
    ck_assert(json_is_true(json_object_get(cfg, "attention_bias")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cfg, "architectures"), 0)), "LlamaForCausalLM");
    ck_assert(json_real_value(json_object_get(cfg, "rms_norm_eps")) == 1e-5);
    json_decref(cfg);
    free(cfg_path);

    slm_model *r = read_ok(dir);
    assert_same_tensors(m, r);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

START_TEST(test_tied_embeddings) {
    slm_model *m = make_model(1, SLM_TYPE_F32);
    slm_model_remove_tensor(m, "output.weight");
    char dir[4096];
    tmp_dir(dir, "tied/model");
    slm_diag d = {0};
    ck_assert_msg(slm_hf_write(m, dir, NULL, NULL, &d) == SLM_OK, "%s", d.msg);
    char *cfg_path = slm_path_join(dir, "config.json");
    json_t *cfg = json_load_file(cfg_path, 0, NULL);
    ck_assert(json_is_true(json_object_get(cfg, "tie_word_embeddings")));
    json_decref(cfg);
    free(cfg_path);
    slm_model *r = read_ok(dir);
    ck_assert_ptr_null(slm_model_find_tensor(r, "output.weight"));
    assert_same_tensors(m, r);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

/* --------------------------------------------------------- sharding */

typedef struct shard_ctx {
    const slm_st_entry **entries;
} shard_ctx;

static slm_status get_entry(void *ctx, size_t i, void *dst, slm_diag *d) {
    shard_ctx *c = ctx;
    memcpy(dst, c->entries[i]->data, c->entries[i]->nbytes);
    return SLM_OK;
}

/* Writes the entries [from, to) of f (in reverse order, to check the reader
 * does not depend on file order) as one shard. */
static void write_shard(const slm_st_file *f, uint32_t from, uint32_t to, const char *path) {
    uint32_t n = to - from;
    slm_st_write_tensor *t = calloc(n, sizeof *t);
    shard_ctx c = {calloc(n, sizeof *c.entries)};
    for (uint32_t i = 0; i < n; i++) {
        const slm_st_entry *e = &f->entries[to - 1 - i];
        c.entries[i] = e;
        t[i].name = e->name;
        t[i].type = e->type;
        t[i].n_dims = e->n_dims;
        memcpy(t[i].shape, e->shape, sizeof e->shape);
        t[i].get = get_entry;
    }
    slm_diag d = {0};
    ck_assert_msg(slm_st_write(path, t, n, &c, NULL, NULL, 0, &d) == SLM_OK, "%s", d.msg);
    free(c.entries);
    free(t);
}

/* Builds dir (which must exist) from the single-file model in src_dir:
 * config.json, two shards split at entry `split`, and an index. The index
 * may put `bad_name` in `bad_shard` and may list an `extra` tensor that no
 * shard holds. */
static void make_sharded(const char *src_dir, const char *dir, uint32_t split, const char *bad_name,
                         const char *bad_shard, const char *extra) {
    char *src = slm_path_join(src_dir, "model.safetensors");
    slm_st_file f;
    slm_diag d = {0};
    ck_assert_int_eq(slm_st_open(src, &f, &d), SLM_OK);
    char *s1 = slm_path_join(dir, "model-00001-of-00002.safetensors");
    char *s2 = slm_path_join(dir, "model-00002-of-00002.safetensors");
    write_shard(&f, 0, split, s1);
    write_shard(&f, split, f.n, s2);
    json_t *wmap = json_object();
    for (uint32_t i = 0; i < f.n; i++) {
        const char *shard = i < split ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
        if (bad_name && strcmp(f.entries[i].name, bad_name) == 0) shard = bad_shard;
        json_object_set_new(wmap, f.entries[i].name, json_string(shard));
    }
    if (extra) json_object_set_new(wmap, extra, json_string("model-00002-of-00002.safetensors"));
    json_t *index = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map", wmap);
    char *ip = slm_path_join(dir, "model.safetensors.index.json");
    ck_assert_int_eq(json_dump_file(index, ip, JSON_INDENT(2)), 0);
    json_decref(index);
    char *cfg_path = slm_path_join(src_dir, "config.json");
    char *cfg_text = ts_read_file(cfg_path, NULL);
    write_text(dir, "config.json", cfg_text);
    free(cfg_text);
    free(cfg_path);
    free(ip);
    free(s1);
    free(s2);
    free(src);
    slm_st_close(&f, false);
}

/* Tensor order: token_embd, blocks by number (blk.10 after blk.9), then
 * output_norm and output, whatever the order in the file. */
START_TEST(test_tensor_order) {
    slm_model *m = make_model(12, SLM_TYPE_F32);
    slm_diag d = {0};
    char dir[4096], rev[4096];
    tmp_dir(dir, "order/model");
    tmp_dir(rev, "order/reversed");
    ck_assert_msg(slm_hf_write(m, dir, NULL, NULL, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(ts_run(NULL, "mkdir -p '%s' && cp '%s/config.json' '%s/'", rev, dir, rev), 0);
    char *src = slm_path_join(dir, "model.safetensors"), *dst = slm_path_join(rev, "model.safetensors");
    slm_st_file f;
    ck_assert_int_eq(slm_st_open(src, &f, &d), SLM_OK);
    write_shard(&f, 0, f.n, dst);
    slm_st_close(&f, false);
    ck_assert_int_eq(slm_st_open(dst, &f, &d), SLM_OK);
    ck_assert_str_eq(f.entries[0].name, "lm_head.weight");
    slm_st_close(&f, false);
    slm_model *r = read_ok(rev);
    assert_same_tensors(m, r);
    slm_model_free(r);
    free(src);
    free(dst);
    slm_model_free(m);
}
END_TEST

START_TEST(test_sharded_matches_single) {
    slm_model *m = make_model(2, SLM_TYPE_F32);
    slm_diag d = {0};
    char single[4096];
    tmp_dir(single, "shard/single");
    ck_assert_msg(slm_hf_write(m, single, NULL, NULL, &d) == SLM_OK, "%s", d.msg);
    char sharded[4096];
    tmp_dir(sharded, "shard/sharded");
    ck_assert_int_eq(ts_run(NULL, "mkdir -p '%s'", sharded), 0);
    make_sharded(single, sharded, 9, NULL, NULL, NULL);

    slm_model *a = read_ok(single);
    slm_model *b = read_ok(sharded);
    assert_same_tensors(a, b);
    assert_same_hparams(&a->hp, &b->hp);
    int mapped = 0;
    for (uint32_t i = 0; i < b->n_inputs; i++) mapped += b->inputs[i].map != NULL;
    ck_assert_int_eq(mapped, 2);
    slm_model_free(a);
    slm_model_free(b);

    /* the index named directly reads the same */
    char *index = slm_path_join(sharded, "model.safetensors.index.json");
    slm_model *via_index = read_ok(index);
    assert_same_tensors(m, via_index);
    slm_model_free(via_index);
    free(index);

    /* a single shard file read directly finds config.json beside it */
    char *one = slm_path_join(sharded, "model-00001-of-00002.safetensors");
    slm_model *c = read_ok(one);
    ck_assert_uint_eq(c->n_tensors, 9);
    slm_model_free(c);
    free(one);
    slm_model_free(m);
}
END_TEST

START_TEST(test_sharded_errors) {
    slm_model *m = make_model(1, SLM_TYPE_F32);
    slm_diag d = {0};
    char single[4096];
    tmp_dir(single, "sherr/single");
    ck_assert_msg(slm_hf_write(m, single, NULL, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);

    char dir[4096];
    /* weight_map puts a tensor in the wrong shard */
    tmp_dir(dir, "sherr/wrong");
    ts_run(NULL, "mkdir -p '%s'", dir);
    make_sharded(single, dir, 5, "lm_head.weight", "model-00001-of-00002.safetensors", NULL);
    read_fails(dir, SLM_ERR_INPUT, "'lm_head.weight'", "weight_map");

    /* weight_map names a tensor that its shard lacks */
    tmp_dir(dir, "sherr/extra");
    ts_run(NULL, "mkdir -p '%s'", dir);
    make_sharded(single, dir, 5, NULL, NULL, "model.layers.9.mlp.up_proj.weight");
    read_fails(dir, SLM_ERR_INPUT, "'model.layers.9.mlp.up_proj.weight'", "missing from shard");

    /* weight_map names a shard that does not exist */
    tmp_dir(dir, "sherr/missing");
    ts_run(NULL, "mkdir -p '%s'", dir);
    make_sharded(single, dir, 5, "lm_head.weight", "model-00003-of-00002.safetensors", NULL);
    read_fails(dir, SLM_ERR_IO, "model-00003-of-00002.safetensors", "does not exist");

    /* shard names must stay inside the folder */
    tmp_dir(dir, "sherr/escape");
    ts_run(NULL, "mkdir -p '%s'", dir);
    make_sharded(single, dir, 5, "lm_head.weight", "../single/model.safetensors", NULL);
    read_fails(dir, SLM_ERR_INPUT, "../single/model.safetensors", "same folder");

    /* a broken index */
    tmp_dir(dir, "sherr/badindex");
    ts_run(NULL, "mkdir -p '%s'", dir);
    make_sharded(single, dir, 5, NULL, NULL, NULL);
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": [1]}");
    read_fails(dir, SLM_ERR_INPUT, "weight_map", "model.safetensors.index.json");
}
END_TEST

/* ------------------------------------------------------- read errors */

static slm_status get_zero(void *ctx, size_t i, void *dst, slm_diag *d) {
    const slm_st_write_tensor *t = (const slm_st_write_tensor *)ctx + i;
    size_t n = t->type == SLM_TYPE_F32 ? 4 : 2;
    for (int k = 0; k < t->n_dims; k++) n *= (size_t)t->shape[k];
    memset(dst, 0, n);
    return SLM_OK;
}

START_TEST(test_read_errors) {
    char dir[4096];
    slm_diag d = {0};
    tmp_dir(dir, "rderr/absent");
    read_fails(dir, SLM_ERR_IO, "no such file", NULL);

    /* no config.json */
    tmp_dir(dir, "rderr/nocfg");
    ts_run(NULL, "mkdir -p '%s'", dir);
    read_fails(dir, SLM_ERR_INPUT, "config.json not found", NULL);

    /* config but no weights */
    write_text(dir, "config.json", k_config);
    read_fails(dir, SLM_ERR_INPUT, "no model.safetensors", NULL);

    /* a tensor with no llama.cpp name; inv_freq is skipped silently */
    slm_st_write_tensor t[3] = {
        {"model.embed_tokens.weight", SLM_TYPE_F32, 2, {V, E}, get_zero},
        {"model.layers.0.self_attn.rotary_emb.inv_freq", SLM_TYPE_F32, 1, {HD / 2}, get_zero},
        {"model.layers.0.mlp.experts.0.w1.weight", SLM_TYPE_F32, 2, {FF, E}, get_zero},
    };
    char *p = slm_path_join(dir, "model.safetensors");
    ck_assert_int_eq(slm_st_write(p, t, 3, t, NULL, NULL, 0, &d), SLM_OK);
    read_fails(dir, SLM_ERR_UNSUPPORTED, "no llama.cpp name for tensor 'model.layers.0.mlp.experts.0.w1.weight'",
               "model.safetensors");
    ck_assert_int_eq(slm_st_write(p, t, 2, t, NULL, NULL, 0, &d), SLM_OK);
    slm_model *m = read_ok(dir);
    ck_assert_uint_eq(m->n_tensors, 1);
    ck_assert_str_eq(m->tensors[0].name, "token_embd.weight");
    ck_assert_ptr_nonnull(m->tensors[0].src); /* borrowed from the map */
    slm_model_free(m);

    /* a q_proj that does not match the config's heads */
    slm_st_write_tensor q[1] = {{"model.layers.0.self_attn.q_proj.weight", SLM_TYPE_F32, 2, {6, E}, get_zero}};
    ck_assert_int_eq(slm_st_write(p, q, 1, q, NULL, NULL, 0, &d), SLM_OK);
    read_fails(dir, SLM_ERR_INPUT, "model.layers.0.self_attn.q_proj.weight", "6 output rows");

    /* bad config is reported with its path */
    write_text(dir, "config.json", "{\"architectures\": [\"GPT2LMHeadModel\"]}");
    read_fails(dir, SLM_ERR_UNSUPPORTED, "config.json", "GPT2LMHeadModel");

    /* a corrupt shard */
    write_text(dir, "config.json", k_config);
    ck_assert_int_eq(ts_write_file(p, "\x04\0\0\0\0\0\0\0{}", 10), 0);
    read_fails(dir, SLM_ERR_INPUT, "model.safetensors", "past the end");
    free(p);
}
END_TEST

START_TEST(test_write_errors) {
    slm_diag d = {0};
    slm_model *m = make_model(1, SLM_TYPE_F32);
    slm_model_find_tensor(m, "blk.0.ffn_up.weight")->out_type = SLM_TYPE_Q8_0;
    char dir[4096];
    tmp_dir(dir, "wrerr/q8");
    ck_assert_int_eq(slm_hf_write(m, dir, NULL, NULL, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "blk.0.ffn_up.weight") && strstr(d.msg, "q8_0"), "%s", d.msg);
    char *p = slm_path_join(dir, "model.safetensors");
    ck_assert(!ts_file_exists(p));
    free(p);
    slm_model_free(m);

    slm_diag_clear(&d);
    m = make_model(1, SLM_TYPE_F32);
    int64_t ne[1] = {HD / 2};
    ck_assert_int_eq(slm_model_add_tensor(m, "rope_freqs.weight", SLM_TYPE_F32, 1, ne, NULL, &d), SLM_OK);
    ck_assert_int_eq(slm_hf_write(m, dir, NULL, NULL, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "rope_freqs.weight"), "%s", d.msg);
    slm_model_free(m);

    slm_diag_clear(&d);
    m = make_model(1, SLM_TYPE_F32);
    snprintf(m->hp.arch, sizeof m->hp.arch, "qwen2");
    ck_assert_int_eq(slm_hf_write(m, dir, NULL, NULL, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "qwen2"), "%s", d.msg);
    slm_model_free(m);
}
END_TEST

/* Real shapes: llama.cpp's GGUFs (GQA, llama2.c and quantize output) go
 * out as HF folders and come back as the identical IR. */
START_TEST(test_gguf_round_trip) {
    static const char *const files[] = {"models/stories260K-ref-f32.gguf", "golden/golden-BF16.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *path = ts_shared(files[i]);
        if (!path) return;
        slm_model *g = NULL;
        slm_diag d = {0};
        ck_assert_msg(slm_gguf_read(path, &g, &d) == SLM_OK, "%s: %s", files[i], d.msg);
        char dir[4096];
        tmp_dir(dir, "gguf");
        snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%zu", i);
        ck_assert_msg(slm_hf_write(g, dir, NULL, NULL, &d) == SLM_OK, "%s: %s", files[i], d.msg);
        slm_model *r = read_ok(dir);
        assert_same_tensors_ex(g, r, false); /* the reader has its own order */
        ck_assert_uint_eq(r->hp.n_head, g->hp.n_head);
        ck_assert_uint_eq(r->hp.n_head_kv, g->hp.n_head_kv ? g->hp.n_head_kv : g->hp.n_head);
        ck_assert_uint_eq(r->hp.n_embd, g->hp.n_embd);
        ck_assert_uint_eq(r->hp.n_ctx, g->hp.n_ctx);
        ck_assert(r->hp.rms_eps == g->hp.rms_eps);
        ck_assert_uint_eq(r->tok.n_tokens, g->tok.n_tokens);
        slm_model_free(r);
        slm_model_free(g);
    }
}
END_TEST

static Suite *hf_suite(void) {
    Suite *s = suite_create("hf");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_name_mapping);
    tcase_add_test(tc, test_add_tensor);
    tcase_add_test(tc, test_config_parse);
    tcase_add_test(tc, test_config_llama3_rope);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_permutation_round_trip);
    tcase_add_test(tc, test_f16_bf16_output);
    tcase_add_test(tc, test_tied_embeddings);
    tcase_add_test(tc, test_tensor_order);
    tcase_add_test(tc, test_sharded_matches_single);
    tcase_add_test(tc, test_sharded_errors);
    tcase_add_test(tc, test_read_errors);
    tcase_add_test(tc, test_write_errors);
    tcase_add_test(tc, test_gguf_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(hf_suite());
}
