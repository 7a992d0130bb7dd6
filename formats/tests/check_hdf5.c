/* check_hdf5.c - the HDF5 reader: a small llama model written here with
 * libhdf5 (F32, big-endian F32, F16, BF16 datasets; groups and a dotted root
 * name) must read back with the right names, order, shapes, bytes and Q/K
 * permutation, and equal what slm_hf_read makes of the same model stored as
 * a safetensors folder. Malformed files must fail with clear messages and
 * without HDF5 printing anything. */
#include <check.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slm_file.h"
#include "slm_hdf5.h"
#include "slm_hf.h"
#include "slm_safetensors.h"
#include "test_support.h"

static const char *config_json =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
    " \"max_position_embeddings\": 32, \"rms_norm_eps\": 1e-05, \"vocab_size\": 6, \"rope_theta\": 10000.0}";

static const char *tokenizer_json =
    "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 5, \"content\": \"<|end|>\", \"special\": true}],"
    " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
    " \"decoder\": {\"type\": \"ByteLevel\"},"
    " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4, \"<|end|>\": 5},"
    " \"merges\": [\"a b\", \"ab c\"]}}";
static const char *tokenizer_config_json = "{\"eos_token\": \"<|end|>\", \"add_bos_token\": false}";

typedef enum kind { K_F32, K_F32BE, K_F16, K_BF16 } kind;

typedef struct spec {
    const char *path; /* dataset path in the HDF5 file */
    const char *hf;   /* the HF name it stands for */
    kind k;
    int rank;
    hsize_t dims[2];
} spec;

/* hidden 8, ffn 12, 2 heads of 4, 1 KV head, vocab 6 */
static const spec model_spec[] = {
    {"/model/embed_tokens/weight", "model.embed_tokens.weight", K_F32, 2, {6, 8}},
    {"/model/layers/0/input_layernorm/weight", "model.layers.0.input_layernorm.weight", K_F32, 1, {8, 0}},
    {"/model/layers/0/self_attn/q_proj/weight", "model.layers.0.self_attn.q_proj.weight", K_F16, 2, {8, 8}},
    {"/model/layers/0/self_attn/k_proj/weight", "model.layers.0.self_attn.k_proj.weight", K_BF16, 2, {4, 8}},
    {"/model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.weight", K_F32, 2, {4, 8}},
    {"/model/layers/0/self_attn/o_proj/weight", "model.layers.0.self_attn.o_proj.weight", K_F32, 2, {8, 8}},
    {"/model/layers/0/post_attention_layernorm/weight", "model.layers.0.post_attention_layernorm.weight", K_F32, 1,
     {8, 0}},
    {"/model/layers/0/mlp/gate_proj/weight", "model.layers.0.mlp.gate_proj.weight", K_F32, 2, {12, 8}},
    {"/model/layers/0/mlp/up_proj/weight", "model.layers.0.mlp.up_proj.weight", K_F32, 2, {12, 8}},
    {"/model/layers/0/mlp/down_proj/weight", "model.layers.0.mlp.down_proj.weight", K_F32, 2, {8, 12}},
    {"/model/norm/weight", "model.norm.weight", K_F32, 1, {8, 0}},
    {"/lm_head/weight", "lm_head.weight", K_F32BE, 2, {6, 8}},
    {"/model/layers/0/self_attn/rotary_emb/inv_freq", "model.layers.0.self_attn.rotary_emb.inv_freq", K_F32, 1,
     {2, 0}},
};
#define N_SPEC (sizeof model_spec / sizeof model_spec[0])

static size_t spec_count(const spec *s) { return (size_t)(s->dims[0] * (s->rank > 1 ? s->dims[1] : 1)); }

/* Small integers: exact in f16 and bf16, different in every tensor. */
static float value(size_t tensor, size_t i) { return (float)((int)((tensor * 7 + i * 3) % 61) - 30); }

/* The bytes of tensor `k` in its storage type (little-endian). */
static void *spec_bytes(size_t k, size_t *nbytes) {
    const spec *s = &model_spec[k];
    size_t n = spec_count(s);
    bool half = s->k == K_F16 || s->k == K_BF16;
    *nbytes = n * (half ? 2 : 4);
    unsigned char *b = malloc(*nbytes);
    for (size_t i = 0; i < n; i++) {
        float v = value(k, i);
        if (s->k == K_F16) {
            uint16_t h = slm_f32_to_f16(v);
            memcpy(b + 2 * i, &h, 2);
        } else if (s->k == K_BF16) {
            uint16_t h = slm_f32_to_bf16(v);
            memcpy(b + 2 * i, &h, 2);
        } else {
            memcpy(b + 4 * i, &v, 4);
        }
    }
    return b;
}

/* ---------------------------------------------------- writing HDF5 */

/* IEEE binary16 as an HDF5 float type (HDF5 1.10 has no predefined one). */
static hid_t f16_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    ck_assert_int_ge(H5Tset_fields(t, 15, 10, 5, 0, 10), 0);
    ck_assert_int_ge(H5Tset_precision(t, 16), 0);
    ck_assert_int_ge(H5Tset_size(t, 2), 0);
    ck_assert_int_ge(H5Tset_ebias(t, 15), 0);
    return t;
}

static hid_t open_new(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    return f;
}

static void put_string_attr(hid_t loc, const char *name, const char *text, bool variable) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, variable ? H5T_VARIABLE : strlen(text) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(variable ? H5Awrite(a, t, &text) : H5Awrite(a, t, text), 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

/* Creates a dataset (and its parent groups) holding `data` as `ftype`
 * (memory layout `mtype`). rank 0 makes a scalar. */
static hid_t put_dataset(hid_t f, const char *path, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                         const void *data) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(f, path, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "cannot create %s", path);
    if (data) ck_assert_int_ge(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Sclose(sp);
    H5Pclose(lcpl);
    return ds;
}

static void put_spec(hid_t f, size_t k) {
    const spec *s = &model_spec[k];
    size_t nb;
    void *b = spec_bytes(k, &nb);
    hid_t f16 = f16_type();
    hid_t ftype, mtype;
    switch (s->k) {
    case K_F32: ftype = mtype = H5T_IEEE_F32LE; break;
    case K_F32BE: ftype = H5T_IEEE_F32BE, mtype = H5T_IEEE_F32LE; break; /* HDF5 swaps on write */
    case K_F16: ftype = mtype = f16; break;
    default: ftype = mtype = H5T_STD_U16LE; break;
    }
    hid_t ds = put_dataset(f, s->path, ftype, mtype, s->rank, s->dims, b);
    if (s->k == K_BF16) put_string_attr(ds, "dtype", "bfloat16", false);
    H5Dclose(ds);
    H5Tclose(f16);
    free(b);
}

/* The test model; `config` NULL leaves the attribute out. */
static void write_model_tok(const char *path, const char *config, bool variable_config, bool tokenizer) {
    hid_t f = open_new(path);
    if (config) put_string_attr(f, "config", config, variable_config);
    if (tokenizer) {
        put_string_attr(f, "tokenizer", tokenizer_json, variable_config);
        put_string_attr(f, "tokenizer_config", tokenizer_config_json, variable_config);
    }
    for (size_t k = 0; k < N_SPEC; k++) put_spec(f, k);
    H5Fclose(f);
}

static void write_model(const char *path, const char *config, bool variable_config) {
    write_model_tok(path, config, variable_config, false);
}

/* A file with a valid config and one dataset of the given type and rank. */
static void write_one(const char *path, const char *ds_path, hid_t ftype, int rank, const hsize_t *dims) {
    hid_t f = open_new(path);
    put_string_attr(f, "config", config_json, true);
    static const unsigned char zeros[4096];
    hid_t ds = put_dataset(f, ds_path, ftype, ftype, rank, dims, zeros);
    H5Dclose(ds);
    H5Fclose(f);
}

/* ------------------------------------------------------------- checks */

/* GGUF row h*hd + 2i + p takes HF row h*hd + p*hd/2 + i. */
static void check_permuted(slm_model *m, const char *name, size_t k, int heads) {
    slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert_ptr_nonnull(t);
    slm_diag d = {0};
    ck_assert_msg(slm_tensor_acquire(t, &d) == SLM_OK, "%s", d.msg);
    const spec *s = &model_spec[k];
    size_t rows = s->dims[0], cols = s->dims[1], hd = rows / heads;
    const uint16_t *got = t->data;
    for (size_t h = 0; h < (size_t)heads; h++)
        for (size_t i = 0; i < hd / 2; i++)
            for (size_t p = 0; p < 2; p++)
                for (size_t c = 0; c < cols; c++) {
                    size_t dst = (h * hd + 2 * i + p) * cols + c, src = (h * hd + p * hd / 2 + i) * cols + c;
                    float want = value(k, src);
                    float have = t->type == SLM_TYPE_F16 ? slm_f16_to_f32(got[dst]) : slm_bf16_to_f32(got[dst]);
                    ck_assert_msg(want == have, "%s[%zu]: %g, expected %g", name, dst, have, want);
                }
    slm_tensor_release(t);
    ck_assert_ptr_null(t->data);
}

static void check_model(slm_model *m) {
    ck_assert_str_eq(m->source_format, "hdf5");
    ck_assert_str_eq(m->hp.arch, "llama");
    ck_assert_uint_eq(m->hp.n_embd, 8);
    ck_assert_uint_eq(m->hp.n_head_kv, 1);
    static const char *order[] = {
        "token_embd.weight",   "blk.0.attn_norm.weight", "blk.0.attn_q.weight",   "blk.0.attn_k.weight",
        "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight",
        "blk.0.ffn_up.weight", "blk.0.ffn_down.weight",  "output_norm.weight",    "output.weight",
    };
    ck_assert_uint_eq(m->n_tensors, 12);
    for (uint32_t i = 0; i < 12; i++) ck_assert_str_eq(m->tensors[i].name, order[i]);

    /* Shapes, types and bytes of every unpermuted tensor. */
    for (size_t k = 0; k < N_SPEC; k++) {
        const spec *s = &model_spec[k];
        char gguf[SLM_MAX_NAME];
        int permute;
        if (!slm_hf_name_to_gguf(s->hf, gguf, &permute)) continue;
        slm_tensor *t = slm_model_find_tensor(m, gguf);
        ck_assert_msg(t != NULL, "missing %s", gguf);
        ck_assert_int_eq(t->n_dims, s->rank);
        ck_assert_int_eq(t->ne[0], (int64_t)s->dims[s->rank - 1]);
        if (s->rank == 2) ck_assert_int_eq(t->ne[1], (int64_t)s->dims[0]);
        slm_type want = s->k == K_F16 ? SLM_TYPE_F16 : s->k == K_BF16 ? SLM_TYPE_BF16 : SLM_TYPE_F32;
        ck_assert_int_eq(t->type, want);
        ck_assert_ptr_null(t->data); /* lazy: nothing read yet */
        if (permute) continue;
        slm_diag d = {0};
        ck_assert_msg(slm_tensor_acquire(t, &d) == SLM_OK, "%s", d.msg);
        size_t nb;
        void *b = spec_bytes(k, &nb);
        ck_assert_uint_eq(nb, t->nbytes);
        ck_assert_msg(memcmp(b, t->data, nb) == 0, "%s: bytes differ", gguf);
        free(b);
        slm_tensor_release(t);
    }
    check_permuted(m, "blk.0.attn_q.weight", 2, 2);
    check_permuted(m, "blk.0.attn_k.weight", 3, 1);
}

START_TEST(reads_groups_types_and_permutation) {
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("model.h5"));
    write_model(path, config_json, true);
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_hdf5_read(path, &m, &d) == SLM_OK, "%s", d.msg);
    check_model(m);
    ck_assert_uint_eq(m->n_inputs, 1);
    ck_assert_str_eq(m->inputs[0].path, path);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_NONE);
    slm_model_free(m);
}
END_TEST

START_TEST(fixed_length_config_string) {
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("fixed.h5"));
    write_model(path, config_json, false);
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_hdf5_read(path, &m, &d) == SLM_OK, "%s", d.msg);
    check_model(m);
    slm_model_free(m);
}
END_TEST

/* ------------------------------------------- the same model via HF */

static slm_status get_spec_bytes(void *ctx, size_t index, void *dst, slm_diag *d) {
    const size_t *map = ctx;
    size_t nb;
    void *b = spec_bytes(map[index], &nb);
    memcpy(dst, b, nb);
    free(b);
    return SLM_OK;
}

/* Writes the test model as an HF folder (config.json + model.safetensors). */
static void write_hf_folder(const char *dir) {
    mkdir(dir, 0777);
    slm_st_write_tensor w[N_SPEC];
    static size_t map[N_SPEC];
    for (size_t k = 0; k < N_SPEC; k++) {
        const spec *s = &model_spec[k];
        map[k] = k;
        w[k].name = s->hf;
        w[k].type = s->k == K_F16 ? SLM_TYPE_F16 : s->k == K_BF16 ? SLM_TYPE_BF16 : SLM_TYPE_F32;
        w[k].n_dims = s->rank;
        w[k].shape[0] = (int64_t)s->dims[0];
        w[k].shape[1] = (int64_t)s->dims[1];
        w[k].get = get_spec_bytes;
    }
    slm_diag d = {0};
    char *st_path = slm_path_join(dir, "model.safetensors");
    char *cfg_path = slm_path_join(dir, "config.json");
    ck_assert_msg(slm_st_write(st_path, w, N_SPEC, map, NULL, NULL, 0, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(ts_write_file(cfg_path, config_json, strlen(config_json)), 0);
    free(st_path);
    free(cfg_path);
}

/* Both models hold the same tensors in the same order with the same bytes. */
static void compare_models(slm_model *a, slm_model *b) {
    slm_diag d = {0};
    ck_assert_uint_eq(a->n_tensors, b->n_tensors);
    ck_assert(memcmp(&a->hp, &b->hp, sizeof a->hp) == 0);
    for (uint32_t i = 0; i < a->n_tensors; i++) {
        slm_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->type, y->type);
        ck_assert_int_eq(x->n_dims, y->n_dims);
        ck_assert(memcmp(x->ne, y->ne, sizeof x->ne) == 0);
        ck_assert_uint_eq(x->permute_heads, y->permute_heads);
        ck_assert_int_eq(slm_tensor_acquire(x, &d), SLM_OK);
        ck_assert_int_eq(slm_tensor_acquire(y, &d), SLM_OK);
        ck_assert_uint_eq(x->nbytes, y->nbytes);
        ck_assert_msg(memcmp(x->data, y->data, x->nbytes) == 0, "%s differs", x->name);
        slm_tensor_release(x);
        slm_tensor_release(y);
    }
}

START_TEST(same_as_safetensors_folder) {
    char dir[4096], h5[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp("hf"));
    write_hf_folder(dir);
    snprintf(h5, sizeof h5, "%s", ts_tmp("same.h5"));
    write_model(h5, config_json, true);
    slm_model *a = NULL, *b = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_hf_read(dir, &a, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_hdf5_read(h5, &b, &d) == SLM_OK, "%s", d.msg);
    compare_models(a, b);
    slm_model_free(a);
    slm_model_free(b);
}
END_TEST

/* The tokenizer attributes give what tokenizer.json and
 * tokenizer_config.json give in a folder. */
START_TEST(tokenizer_attributes) {
    char dir[4096], h5[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp("hf_tok"));
    write_hf_folder(dir);
    char *tp = slm_path_join(dir, "tokenizer.json"), *cp = slm_path_join(dir, "tokenizer_config.json");
    ck_assert_int_eq(ts_write_file(tp, tokenizer_json, strlen(tokenizer_json)), 0);
    ck_assert_int_eq(ts_write_file(cp, tokenizer_config_json, strlen(tokenizer_config_json)), 0);
    free(tp);
    free(cp);
    for (int variable = 0; variable < 2; variable++) {
        snprintf(h5, sizeof h5, "%s", ts_tmp("tok.h5"));
        write_model_tok(h5, config_json, variable, true);
        slm_model *a = NULL, *b = NULL;
        slm_diag d = {0};
        ck_assert_msg(slm_hf_read(dir, &a, &d) == SLM_OK, "%s", d.msg);
        ck_assert_msg(slm_hdf5_read(h5, &b, &d) == SLM_OK, "%s", d.msg);
        ck_assert_int_ne(b->tok.kind, SLM_TOK_NONE);
        ck_assert_int_eq(a->tok.kind, b->tok.kind);
        ck_assert_str_eq(a->tok.model_name, b->tok.model_name);
        ck_assert_uint_eq(b->tok.n_tokens, 6);
        ck_assert_uint_eq(a->tok.n_tokens, b->tok.n_tokens);
        for (uint32_t i = 0; i < a->tok.n_tokens; i++) {
            ck_assert_str_eq(a->tok.tokens[i].s, b->tok.tokens[i].s);
            ck_assert_int_eq(a->tok.token_types[i], b->tok.token_types[i]);
        }
        ck_assert_uint_eq(a->tok.n_merges, b->tok.n_merges);
        ck_assert_int_eq(b->tok.eos_id, 5);
        ck_assert_int_eq(a->tok.add_bos, b->tok.add_bos);
        compare_models(a, b);
        slm_model_free(a);
        slm_model_free(b);
    }
    /* a broken tokenizer attribute is reported as such */
    hid_t f = open_new(h5);
    put_string_attr(f, "config", config_json, true);
    put_string_attr(f, "tokenizer", "[1, 2", true);
    H5Fclose(f);
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_int_ne(slm_hdf5_read(h5, &m, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, ":tokenizer") != NULL, "message '%s' does not name the attribute", d.msg);
}
END_TEST

/* examples/hf_to_hdf5 (when built) writes files this reader reads back as
 * the HF reader reads the folder. */
START_TEST(example_converter_round_trip) {
    char tool[4096];
    snprintf(tool, sizeof tool, "%s", ts_bin("hf_to_hdf5"));
    if (!ts_file_exists(tool)) {
        fprintf(stderr, "SKIP: %s not built\n", tool);
        return;
    }
    char dir[4096], h5[4096], log[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp("hf_example"));
    write_hf_folder(dir);
    char *tp = slm_path_join(dir, "tokenizer.json");
    ck_assert_int_eq(ts_write_file(tp, tokenizer_json, strlen(tokenizer_json)), 0);
    free(tp);
    snprintf(h5, sizeof h5, "%s", ts_tmp("example.h5"));
    snprintf(log, sizeof log, "%s", ts_tmp("example.log"));
    ck_assert_int_eq(ts_run(log, "'%s' '%s' '%s'", tool, dir, h5), 0);
    slm_model *a = NULL, *b = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_hf_read(dir, &a, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_hdf5_read(h5, &b, &d) == SLM_OK, "%s", d.msg);
    compare_models(a, b);
    ck_assert_uint_eq(b->tok.n_tokens, 6);
    ck_assert_uint_eq(a->tok.n_tokens, 6);
    slm_model_free(a);
    slm_model_free(b);
    /* a folder without weights fails and leaves no file */
    char empty[4096], out2[4096];
    snprintf(empty, sizeof empty, "%s", ts_tmp("hf_empty"));
    mkdir(empty, 0777);
    snprintf(out2, sizeof out2, "%s", ts_tmp("none.h5"));
    ck_assert_int_ne(ts_run(log, "'%s' '%s' '%s'", tool, empty, out2), 0);
    ck_assert(!ts_file_exists(out2));
}
END_TEST

/* ------------------------------------------------------------- errors */

static void expect_error(const char *path, slm_status want, const char *needle1, const char *needle2) {
    slm_model *m = (slm_model *)1;
    slm_diag d = {0};
    slm_status st = slm_hdf5_read(path, &m, &d);
    ck_assert_msg(st == want, "status %d (%s), expected %d", st, d.msg, want);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(d.msg, needle1) != NULL, "message '%s' lacks '%s'", d.msg, needle1);
    if (needle2) ck_assert_msg(strstr(d.msg, needle2) != NULL, "message '%s' lacks '%s'", d.msg, needle2);
}

START_TEST(missing_config) {
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("noconfig.h5"));
    write_model(path, NULL, true);
    expect_error(path, SLM_ERR_INPUT, "no root attribute \"config\"", "config.json");
}
END_TEST

START_TEST(bad_config_json) {
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("badjson.h5"));
    write_model(path, "{\"hidden_size\": 8,", true);
    expect_error(path, SLM_ERR_INPUT, ":config", "JSON");
    /* valid JSON, but missing a required key */
    write_model(path, "{\"architectures\": [\"LlamaForCausalLM\"]}", true);
    expect_error(path, SLM_ERR_INPUT, ":config", "hidden_size");
}
END_TEST

START_TEST(unsupported_dataset_type) {
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("int32.h5"));
    hsize_t dims[1] = {8};
    write_one(path, "/model/norm/weight", H5T_STD_I32LE, 1, dims);
    expect_error(path, SLM_ERR_UNSUPPORTED, "dataset /model/norm/weight has element type int32", "bfloat16");
    write_one(path, "/model/norm/weight", H5T_IEEE_F64LE, 1, dims);
    expect_error(path, SLM_ERR_UNSUPPORTED, "/model/norm/weight has element type 64-bit float", NULL);
    /* uint16 without the dtype attribute is not known to be bf16 */
    write_one(path, "/model/norm/weight", H5T_STD_U16LE, 1, dims);
    expect_error(path, SLM_ERR_UNSUPPORTED, "uint16 without attribute dtype=\"bfloat16\"", NULL);
}
END_TEST

START_TEST(bad_rank) {
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("rank.h5"));
    write_one(path, "/model/norm/weight", H5T_IEEE_F32LE, 0, NULL);
    expect_error(path, SLM_ERR_INPUT, "/model/norm/weight has rank 0", "1 to 4");
    hsize_t dims[5] = {1, 2, 1, 2, 2};
    write_one(path, "/model/norm/weight", H5T_IEEE_F32LE, 5, dims);
    expect_error(path, SLM_ERR_INPUT, "/model/norm/weight has rank 5", "1 to 4");
}
END_TEST

START_TEST(unknown_tensor_and_duplicates) {
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("names.h5"));
    hsize_t dims[1] = {8};
    write_one(path, "/model/vision/weight", H5T_IEEE_F32LE, 1, dims);
    expect_error(path, SLM_ERR_UNSUPPORTED, "/model/vision/weight has no llama.cpp tensor name", NULL);

    hid_t f = open_new(path);
    put_string_attr(f, "config", config_json, true);
    float z[8] = {0};
    H5Dclose(put_dataset(f, "/model/norm/weight", H5T_IEEE_F32LE, H5T_IEEE_F32LE, 1, dims, z));
    H5Dclose(put_dataset(f, "/model.norm.weight", H5T_IEEE_F32LE, H5T_IEEE_F32LE, 1, dims, z));
    H5Fclose(f);
    expect_error(path, SLM_ERR_INPUT, "both hold tensor model.norm.weight", NULL);
}
END_TEST

START_TEST(not_hdf5_and_quiet) {
    char path[4096], log[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("plain.h5"));
    snprintf(log, sizeof log, "%s", ts_tmp("stderr.log"));
    ck_assert_int_eq(ts_write_file(path, "not an hdf5 file at all\n", 24), 0);
    /* HDF5 must not print its error stack: capture stderr meanwhile. */
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    expect_error(path, SLM_ERR_INPUT, "not an HDF5 file", NULL);
    char missing[4096];
    snprintf(missing, sizeof missing, "%.4000s.missing", path);
    expect_error(missing, SLM_ERR_IO, "no such file", NULL);
    /* a truncated HDF5 file */
    char model[4096];
    snprintf(model, sizeof model, "%s", ts_tmp("trunc.h5"));
    write_model(model, config_json, true);
    size_t n;
    char *b = ts_read_file(model, &n);
    ck_assert_int_eq(ts_write_file(model, b, n / 2), 0);
    free(b);
    slm_model *m = NULL;
    slm_diag d = {0};
    slm_status st = slm_hdf5_read(model, &m, &d);
    if (st == SLM_OK) { /* HDF5 may open it; reading the weights must fail then */
        for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++) st = slm_tensor_acquire(&m->tensors[i], &d);
        slm_model_free(m);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_int_ne(st, SLM_OK);
    ck_assert_msg(strstr(d.msg, model) != NULL, "message '%s' does not name the file", d.msg);
    size_t logged = 0;
    char *text = ts_read_file(log, &logged);
    ck_assert_msg(logged == 0, "HDF5 printed to stderr: %s", text ? text : "");
    free(text);
}
END_TEST

static Suite *hdf5_suite(void) {
    Suite *s = suite_create("hdf5");
    TCase *rd = tcase_create("read");
    tcase_add_test(rd, reads_groups_types_and_permutation);
    tcase_add_test(rd, fixed_length_config_string);
    tcase_add_test(rd, same_as_safetensors_folder);
    tcase_add_test(rd, tokenizer_attributes);
    tcase_add_test(rd, example_converter_round_trip);
    suite_add_tcase(s, rd);
    TCase *bad = tcase_create("errors");
    tcase_add_test(bad, missing_config);
    tcase_add_test(bad, bad_config_json);
    tcase_add_test(bad, unsupported_dataset_type);
    tcase_add_test(bad, bad_rank);
    tcase_add_test(bad, unknown_tensor_and_duplicates);
    tcase_add_test(bad, not_hdf5_and_quiet);
    suite_add_tcase(s, bad);
    return s;
}

int main(void) {
    return ts_run_suite(hdf5_suite());
}
