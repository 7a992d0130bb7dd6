/* check_gguf.c - unit tests for the GGUF reader and writer: in-memory
 * round trips, conversion on write, the real files under ../shared, atomic
 * failure, and one test per kind of malformed input (built byte by byte). */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "test_support.h"

/* --------------------------------------------------- tiny GGUF builder */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const void *p, size_t n) {
    if (!b->p || b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void b_u8(buf *b, uint8_t x) { b_put(b, &x, 1); }
static void b_u32(buf *b, uint32_t x) { b_put(b, &x, 4); }
static void b_i32(buf *b, int32_t x) { b_put(b, &x, 4); }
static void b_u64(buf *b, uint64_t x) { b_put(b, &x, 8); }
static void b_f32(buf *b, float x) { b_put(b, &x, 4); }
static void b_str(buf *b, const char *s) {
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_zeros(buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) b_u8(b, 0);
}
static void b_pad(buf *b, size_t align) {
    while (b->n % align) b_u8(b, 0);
}
static void b_key(buf *b, const char *key, int32_t type) {
    b_str(b, key);
    b_i32(b, type);
}
static void b_kv_str(buf *b, const char *key, const char *s) {
    b_key(b, key, SLM_V_STR);
    b_str(b, s);
}
static void b_kv_u32(buf *b, const char *key, uint32_t x) {
    b_key(b, key, SLM_V_U32);
    b_u32(b, x);
}
static void b_header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}

typedef struct tspec {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    int32_t type;
    uint64_t offset;
} tspec;

static void b_tinfo(buf *b, const tspec *t) {
    b_str(b, t->name);
    b_u32(b, t->n_dims);
    for (uint32_t k = 0; k < t->n_dims; k++) b_u64(b, k < 4 ? (uint64_t)t->ne[k] : 1);
    b_i32(b, t->type);
    b_u64(b, t->offset);
}

/* A whole file: header, general.architecture="llama" plus the extra kv
 * records in `kvs` (n_extra of them), the tensor infos, padding to 32, and
 * data_bytes of data. */
static void build_file(buf *b, const buf *kvs, uint64_t n_extra, const tspec *ts, int nt, size_t data_bytes) {
    b_header(b, 3, (uint64_t)nt, 1 + n_extra);
    b_kv_str(b, "general.architecture", "llama");
    if (kvs) b_put(b, kvs->p, kvs->n);
    for (int i = 0; i < nt; i++) b_tinfo(b, &ts[i]);
    b_pad(b, 32);
    b_zeros(b, data_bytes);
}

/* Two tensors: a f32 [4] at 0 (16 bytes), b f16 [8,2] at 32 (32 bytes). */
static const tspec basic_tensors[2] = {
    {"a", 1, {4, 1, 1, 1}, SLM_TYPE_F32, 0},
    {"b", 2, {8, 2, 1, 1}, SLM_TYPE_F16, 32},
};
#define BASIC_DATA 64

static slm_status read_buf(const buf *b, const char *fname, slm_model **out, slm_diag *d) {
    const char *path = ts_tmp(fname);
    ck_assert_int_eq(ts_write_file(path, b->p, b->n), 0);
    slm_model *m = NULL;
    slm_status st = slm_gguf_read(path, &m, d);
    if (out) *out = m;
    else slm_model_free(m);
    return st;
}

/* Reading must fail with a message containing `expect`. */
static void expect_fail(buf *b, const char *expect) {
    slm_diag d = {0};
    slm_model *m = NULL;
    slm_status st = read_buf(b, "bad.gguf", &m, &d);
    ck_assert_msg(st != SLM_OK, "read succeeded, expected an error containing '%s'", expect);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(d.status, st);
    ck_assert_msg(strstr(d.msg, expect) != NULL, "message '%s' does not contain '%s'", d.msg, expect);
    ck_assert_msg(strstr(d.msg, "bad.gguf") != NULL, "message '%s' does not name the file", d.msg);
    free(b->p);
}

/* ------------------------------------------------------- valid inputs */

START_TEST(test_basic_file_reads) {
    buf kv = {0}, b = {0};
    b_kv_str(&kv, "general.name", "tiny");
    b_kv_u32(&kv, "llama.context_length", 16);
    build_file(&b, &kv, 2, basic_tensors, 2, BASIC_DATA);
    for (int i = 0; i < 4; i++) b.p[b.n - BASIC_DATA + i] = (uint8_t)(i + 1); /* first bytes of 'a' */
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_int_eq(read_buf(&b, "basic.gguf", &m, &d), SLM_OK);
    ck_assert_str_eq(m->source_format, "gguf");
    ck_assert_str_eq(m->hp.arch, "llama");
    ck_assert_uint_eq(m->hp.n_ctx, 16);
    ck_assert_uint_eq(m->n_kv, 1);
    ck_assert_str_eq(m->kv[0].key, "general.name");
    ck_assert_str_eq(m->kv[0].value.v.str.s, "tiny");
    ck_assert_uint_eq(m->n_tensors, 2);
    ck_assert_str_eq(m->tensors[0].name, "a");
    ck_assert_uint_eq(m->tensors[0].nbytes, 16);
    ck_assert_int_eq(m->tensors[1].type, SLM_TYPE_F16);
    ck_assert_int_eq(m->tensors[1].n_dims, 2);
    ck_assert_int_eq(m->tensors[1].ne[1], 2);
    const uint8_t *a = m->tensors[0].data;
    ck_assert_int_eq(a[0], 1);
    ck_assert_int_eq(a[3], 4);
    ck_assert_uint_eq(m->n_inputs, 1);
    ck_assert_ptr_eq(m->tensors[0].src, m->tensors[0].data);
    slm_model_free(m);
    free(kv.p);
    free(b.p);
}
END_TEST

/* llama.cpp wants sequential offsets; any aligned, disjoint layout is fine here. */
START_TEST(test_reordered_offsets_accepted) {
    buf b = {0};
    tspec ts[2] = {basic_tensors[0], basic_tensors[1]};
    ts[0].offset = 32;
    ts[1].offset = 64;
    build_file(&b, NULL, 0, ts, 2, 96);
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(read_buf(&b, "reorder.gguf", &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq((const uint8_t *)m->tensors[1].data - (const uint8_t *)m->tensors[0].data, 32);
    slm_model_free(m);
    free(b.p);
}
END_TEST

START_TEST(test_per_layer_array_kept_as_metadata) {
    buf kv = {0}, b = {0};
    b_key(&kv, "llama.feed_forward_length", SLM_V_ARR);
    b_i32(&kv, SLM_V_I32);
    b_u64(&kv, 2);
    b_i32(&kv, 64);
    b_i32(&kv, 96);
    build_file(&b, &kv, 1, NULL, 0, 0);
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(read_buf(&b, "perlayer.gguf", &m, &d) == SLM_OK, "%s", d.msg);
    const slm_kv *ff = slm_model_find_kv(m, "llama.feed_forward_length");
    ck_assert_ptr_nonnull(ff);
    ck_assert_int_eq(ff->value.type, SLM_V_ARR);
    ck_assert_int_eq(ff->value.arr_type, SLM_V_I32);
    ck_assert_int_eq(((const int32_t *)ff->value.v.arr)[1], 96);
    ck_assert_uint_eq(m->hp.n_ff, 0);

    /* written back as the array, not as a scalar 0, and read back again */
    const char *out = ts_tmp("perlayer-out.gguf");
    ck_assert_msg(slm_gguf_write(m, out, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model *r = NULL;
    ck_assert_msg(slm_gguf_read(out, &r, &d) == SLM_OK, "%s", d.msg);
    ff = slm_model_find_kv(r, "llama.feed_forward_length");
    ck_assert_ptr_nonnull(ff);
    ck_assert_int_eq(ff->value.type, SLM_V_ARR);
    ck_assert_uint_eq(ff->value.n, 2);
    slm_model_free(r);
    slm_model_free(m);
    free(kv.p);
    free(b.p);
}
END_TEST

/* ------------------------------------------- in-memory model round trip */

static void add_owned(slm_model *m, const char *name, slm_type type, int n_dims, int64_t ne0, int64_t ne1,
                      uint8_t seed) {
    int64_t ne[2] = {ne0, ne1};
    slm_tensor *t;
    slm_diag d = {0};
    ck_assert_msg(slm_model_add_tensor(m, name, type, n_dims, ne, &t, &d) == SLM_OK, "%s", d.msg);
    uint8_t *data = malloc(t->nbytes);
    for (size_t i = 0; i < t->nbytes; i++) data[i] = (uint8_t)(seed + i * 7);
    ck_assert_int_eq(slm_tensor_set_owned(t, type, data, &d), SLM_OK);
}

static void set_scalar(slm_model *m, const char *key, slm_vtype type, int64_t i, double f) {
    slm_value v = {.type = type};
    if (type == SLM_V_F32 || type == SLM_V_F64) v.v.f64 = f;
    else if (type == SLM_V_BOOL) v.v.b = i != 0;
    else if (type == SLM_V_I8 || type == SLM_V_I16 || type == SLM_V_I32 || type == SLM_V_I64) v.v.i64 = i;
    else v.v.u64 = (uint64_t)i;
    ck_assert_int_eq(slm_model_set_kv(m, key, &v), SLM_OK);
}

static slm_str mkstr(slm_model *m, const char *s, size_t len) {
    slm_str r = {slm_model_strndup(m, s, len), len};
    return r;
}

static slm_model *make_model(void) {
    slm_model *m = slm_model_new();
    ck_assert_ptr_nonnull(m);
    slm_hparams *hp = &m->hp;
    strcpy(hp->arch, "llama");
    hp->n_ctx = 128;
    hp->n_embd = 32;
    hp->n_ff = 64;
    hp->n_layer = 1;
    hp->n_head = 4;
    hp->n_head_kv = 2;
    hp->rms_eps = 1e-5f;
    hp->n_rot = 8;
    hp->rope_freq_base = 500000.0f;
    hp->key_length = 8;
    hp->value_length = 8;
    hp->rope_scaling = SLM_ROPE_SCALING_LINEAR;
    hp->rope_scaling_factor = 2.0f;
    hp->rope_scaling_orig_ctx = 64;
    hp->n_vocab = 4;
    hp->has = SLM_HP_HEAD_COUNT_KV | SLM_HP_ROPE_DIM | SLM_HP_ROPE_FREQ_BASE | SLM_HP_KEY_LENGTH |
              SLM_HP_VALUE_LENGTH | SLM_HP_ROPE_SCALING | SLM_HP_VOCAB_SIZE | SLM_HP_RMS_EPS;

    ck_assert_int_eq(slm_model_set_str(m, "general.name", "round trip"), SLM_OK);
    set_scalar(m, "t.u8", SLM_V_U8, 200, 0);
    set_scalar(m, "t.i8", SLM_V_I8, -100, 0);
    set_scalar(m, "t.u16", SLM_V_U16, 60000, 0);
    set_scalar(m, "t.i16", SLM_V_I16, -30000, 0);
    set_scalar(m, "t.u32", SLM_V_U32, 4000000000LL, 0);
    set_scalar(m, "t.i32", SLM_V_I32, -2000000000LL, 0);
    set_scalar(m, "t.u64", SLM_V_U64, (int64_t)0x7123456789abcdefLL, 0);
    set_scalar(m, "t.i64", SLM_V_I64, -0x123456789abLL, 0);
    set_scalar(m, "t.f32", SLM_V_F32, 0, 0.25);
    set_scalar(m, "t.f64", SLM_V_F64, 0, 3.141592653589793);
    set_scalar(m, "t.bool", SLM_V_BOOL, 1, 0);
    /* an array of every scalar element type */
    for (int et = 0; et < SLM_V_COUNT; et++) {
        if (et == SLM_V_STR || et == SLM_V_ARR) continue;
        uint8_t raw[3 * 8];
        for (size_t i = 0; i < sizeof raw; i++) raw[i] = (uint8_t)(et * 16 + i);
        if (et == SLM_V_BOOL) raw[0] = 1, raw[1] = 0, raw[2] = 1;
        slm_value v = {.type = SLM_V_ARR, .arr_type = (slm_vtype)et, .n = 3};
        v.v.arr = raw;
        char key[32];
        snprintf(key, sizeof key, "t.arr_%s", slm_vtype_name((slm_vtype)et));
        ck_assert_int_eq(slm_model_set_kv(m, key, &v), SLM_OK);
    }
    slm_str strs[3] = {{"x", 1}, {"", 0}, {"y\0z", 3}};
    slm_value sv = {.type = SLM_V_ARR, .arr_type = SLM_V_STR, .n = 3};
    sv.v.arr = strs;
    ck_assert_int_eq(slm_model_set_kv(m, "t.arr_str", &sv), SLM_OK);
    slm_value empty = {.type = SLM_V_ARR, .arr_type = SLM_V_U32, .n = 0};
    ck_assert_int_eq(slm_model_set_kv(m, "t.arr_empty", &empty), SLM_OK);

    slm_tokenizer *t = &m->tok;
    t->kind = SLM_TOK_SPM;
    t->model_name = slm_model_strdup(m, "llama");
    t->pre = slm_model_strdup(m, "default");
    t->n_tokens = 4;
    t->tokens = slm_model_alloc(m, 4 * sizeof *t->tokens);
    t->tokens[0] = mkstr(m, "<unk>", 5);
    t->tokens[1] = mkstr(m, "<s>", 3);
    t->tokens[2] = mkstr(m, "</s>", 4);
    t->tokens[3] = mkstr(m, "a\0b", 3); /* NUL inside a token survives */
    t->scores = slm_model_alloc(m, 4 * sizeof(float));
    t->token_types = slm_model_alloc(m, 4 * sizeof(int32_t));
    for (int i = 0; i < 4; i++) {
        t->scores[i] = -1.5f * (float)i;
        t->token_types[i] = i < 3 ? SLM_TOKEN_CONTROL : SLM_TOKEN_NORMAL;
    }
    t->n_merges = 1;
    t->merges = slm_model_alloc(m, sizeof *t->merges);
    t->merges[0] = mkstr(m, "a b", 3);
    t->bos_id = 1;
    t->eos_id = 2;
    t->unk_id = 0;
    t->add_bos = 1;
    t->add_eos = 0;
    t->chat_template = slm_model_strdup(m, "{{ messages }}");

    add_owned(m, "token_embd.weight", SLM_TYPE_F32, 2, 32, 4, 1);
    add_owned(m, "output_norm.weight", SLM_TYPE_F32, 1, 32, 1, 2);
    add_owned(m, "blk.0.attn_q.weight", SLM_TYPE_Q8_0, 2, 32, 32, 3);
    add_owned(m, "blk.0.ffn_up.weight", SLM_TYPE_F16, 2, 32, 64, 4);
    return m;
}

static bool value_eq(const slm_value *a, const slm_value *b) {
    if (a->type != b->type) return false;
    switch (a->type) {
    case SLM_V_STR: return a->v.str.len == b->v.str.len && memcmp(a->v.str.s, b->v.str.s, a->v.str.len) == 0;
    case SLM_V_BOOL: return a->v.b == b->v.b;
    case SLM_V_F32: case SLM_V_F64: return a->v.f64 == b->v.f64;
    case SLM_V_I8: case SLM_V_I16: case SLM_V_I32: case SLM_V_I64: return a->v.i64 == b->v.i64;
    case SLM_V_ARR:
        if (a->arr_type != b->arr_type || a->n != b->n) return false;
        if (a->arr_type == SLM_V_STR) {
            const slm_str *x = a->v.arr, *y = b->v.arr;
            for (uint64_t i = 0; i < a->n; i++)
                if (x[i].len != y[i].len || memcmp(x[i].s, y[i].s, x[i].len) != 0) return false;
            return true;
        }
        return a->n == 0 || memcmp(a->v.arr, b->v.arr, a->n * slm_vtype_size(a->arr_type)) == 0;
    default: return a->v.u64 == b->v.u64;
    }
}

static void assert_hparams_eq(const slm_hparams *a, const slm_hparams *b) {
    ck_assert_str_eq(a->arch, b->arch);
    ck_assert_uint_eq(a->has, b->has);
    ck_assert_uint_eq(a->n_ctx, b->n_ctx);
    ck_assert_uint_eq(a->n_embd, b->n_embd);
    ck_assert_uint_eq(a->n_ff, b->n_ff);
    ck_assert_uint_eq(a->n_layer, b->n_layer);
    ck_assert_uint_eq(a->n_head, b->n_head);
    ck_assert_uint_eq(a->n_head_kv, b->n_head_kv);
    ck_assert_uint_eq(a->n_rot, b->n_rot);
    ck_assert_uint_eq(a->key_length, b->key_length);
    ck_assert_uint_eq(a->value_length, b->value_length);
    ck_assert_uint_eq(a->n_vocab, b->n_vocab);
    ck_assert(a->rms_eps == b->rms_eps);
    ck_assert(a->rope_freq_base == b->rope_freq_base);
    ck_assert_int_eq(a->rope_scaling, b->rope_scaling);
    ck_assert(a->rope_scaling_factor == b->rope_scaling_factor);
    ck_assert_uint_eq(a->rope_scaling_orig_ctx, b->rope_scaling_orig_ctx);
}

static bool str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static void assert_tokenizer_eq(const slm_tokenizer *a, const slm_tokenizer *b) {
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert(str_eq(a->model_name, b->model_name));
    ck_assert(str_eq(a->pre, b->pre));
    ck_assert(str_eq(a->chat_template, b->chat_template));
    ck_assert_uint_eq(a->n_tokens, b->n_tokens);
    for (uint32_t i = 0; i < a->n_tokens; i++) {
        ck_assert_uint_eq(a->tokens[i].len, b->tokens[i].len);
        ck_assert_mem_eq(a->tokens[i].s, b->tokens[i].s, a->tokens[i].len);
    }
    ck_assert_int_eq(!a->scores, !b->scores);
    ck_assert_int_eq(!a->token_types, !b->token_types);
    if (a->scores) ck_assert_mem_eq(a->scores, b->scores, a->n_tokens * sizeof(float));
    if (a->token_types) ck_assert_mem_eq(a->token_types, b->token_types, a->n_tokens * sizeof(int32_t));
    ck_assert_uint_eq(a->n_merges, b->n_merges);
    for (uint32_t i = 0; i < a->n_merges; i++) ck_assert_str_eq(a->merges[i].s, b->merges[i].s);
    ck_assert_int_eq(a->bos_id, b->bos_id);
    ck_assert_int_eq(a->eos_id, b->eos_id);
    ck_assert_int_eq(a->unk_id, b->unk_id);
    ck_assert_int_eq(a->pad_id, b->pad_id);
    ck_assert_int_eq(a->sep_id, b->sep_id);
    ck_assert_int_eq(a->add_bos, b->add_bos);
    ck_assert_int_eq(a->add_eos, b->add_eos);
    ck_assert_int_eq(a->add_space_prefix, b->add_space_prefix);
}

static void assert_kvs_eq(const slm_model *a, const slm_model *b) {
    ck_assert_uint_eq(a->n_kv, b->n_kv);
    for (uint32_t i = 0; i < a->n_kv; i++) {
        ck_assert_str_eq(a->kv[i].key, b->kv[i].key); /* same order too */
        ck_assert_msg(value_eq(&a->kv[i].value, &b->kv[i].value), "value of %s differs", a->kv[i].key);
    }
}

static void assert_tensors_eq(const slm_model *a, const slm_model *b) {
    ck_assert_uint_eq(a->n_tensors, b->n_tensors);
    for (uint32_t i = 0; i < a->n_tensors; i++) {
        const slm_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->type, y->type);
        ck_assert_int_eq(x->n_dims, y->n_dims);
        for (int k = 0; k < SLM_MAX_DIMS; k++) ck_assert_int_eq(x->ne[k], y->ne[k]);
        ck_assert_uint_eq(x->nbytes, y->nbytes);
        ck_assert_msg(memcmp(x->data, y->data, x->nbytes) == 0, "bytes of %s differ", x->name);
    }
}

START_TEST(test_round_trip_in_memory) {
    slm_model *m = make_model();
    const char *path = ts_tmp("roundtrip.gguf");
    char saved[4096];
    snprintf(saved, sizeof saved, "%s", path);
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_write(m, saved, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model *r = NULL;
    ck_assert_msg(slm_gguf_read(saved, &r, &d) == SLM_OK, "%s", d.msg);
    assert_hparams_eq(&m->hp, &r->hp);
    assert_tokenizer_eq(&m->tok, &r->tok);
    assert_kvs_eq(m, r);
    assert_tensors_eq(m, r);

    /* layout: version 3, general.architecture first, no general.alignment at 32 */
    size_t size;
    char *raw = ts_read_file(saved, &size);
    ck_assert_ptr_nonnull(raw);
    uint32_t version;
    memcpy(&version, raw + 4, 4);
    ck_assert_uint_eq(version, 3);
    ck_assert_mem_eq(raw + 24 + 8, "general.architecture", 20);
    ck_assert_ptr_null(memmem(raw, size, "general.alignment", 17));
    ck_assert_uint_eq(size % 32, 0);
    free(raw);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

START_TEST(test_round_trip_alignment_64) {
    slm_model *m = make_model();
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("align64.gguf"));
    slm_gguf_write_opts o = {.alignment = 64};
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_write(m, path, &o, &d) == SLM_OK, "%s", d.msg);
    slm_model *r = NULL;
    ck_assert_msg(slm_gguf_read(path, &r, &d) == SLM_OK, "%s", d.msg);
    assert_tensors_eq(m, r);
    assert_kvs_eq(m, r); /* general.alignment is not free metadata */
    const uint8_t *base = r->inputs[0].map;
    for (uint32_t i = 0; i < r->n_tensors; i++)
        ck_assert_uint_eq((size_t)((const uint8_t *)r->tensors[i].data - base) % 64, 0);
    ck_assert_uint_eq(r->inputs[0].map_size % 64, 0);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

/* slm_gguf_size predicts the file to the byte (the budget search sizes
 * candidates with it), at both alignments, with strings, arrays and a
 * structured key overridden in the free metadata. */
START_TEST(test_size_equals_written_file) {
    for (uint32_t align = 32; align <= 64; align *= 2) {
        slm_model *m = make_model();
        ck_assert_int_eq(slm_model_set_str(m, "slmc.recipe", "steps:\n  - quantize: {type: q4_0}\n"), SLM_OK);
        ck_assert_int_eq(slm_model_set_u32(m, "llama.context_length", 999), SLM_OK);
        char path[4096];
        snprintf(path, sizeof path, "%s", ts_tmp("size.gguf"));
        slm_gguf_write_opts o = {.alignment = align};
        slm_diag d = {0};
        uint64_t header = 0, data = 0;
        ck_assert_msg(slm_gguf_size(m, align, &header, &data, &d) == SLM_OK, "%s", d.msg);
        ck_assert_msg(slm_gguf_write(m, path, &o, &d) == SLM_OK, "%s", d.msg);
        size_t size = 0;
        char *raw = ts_read_file(path, &size);
        ck_assert_ptr_nonnull(raw);
        ck_assert_uint_eq(header + data, size);
        ck_assert_uint_eq(header % align, 0);
        free(raw);
        slm_model_free(m);
    }
}
END_TEST

START_TEST(test_write_skips_free_copy_of_structured_key) {
    slm_model *m = make_model();
    ck_assert_int_eq(slm_model_set_u32(m, "llama.context_length", 999), SLM_OK);
    ck_assert_int_eq(slm_model_set_str(m, "tokenizer.ggml.model", "gpt2"), SLM_OK);
    ck_assert_int_eq(slm_model_set_str(m, "general.architecture", "qwen2"), SLM_OK);
    ck_assert_int_eq(slm_model_set_u32(m, "general.alignment", 8), SLM_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("nodup.gguf"));
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_write(m, path, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model *r = NULL;
    /* a duplicate key would make this read fail */
    ck_assert_msg(slm_gguf_read(path, &r, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(r->hp.n_ctx, 128);
    ck_assert_str_eq(r->hp.arch, "llama");
    ck_assert_str_eq(r->tok.model_name, "llama");
    ck_assert_ptr_null(slm_model_find_kv(r, "llama.context_length"));
    ck_assert_ptr_null(slm_model_find_kv(r, "general.alignment"));
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

typedef struct progress_log {
    uint32_t calls, last_i, n;
    uint64_t last_done, total;
} progress_log;

static void on_progress(void *ctx, uint32_t i, uint32_t n, const char *name, uint64_t done, uint64_t total) {
    progress_log *p = ctx;
    ck_assert_uint_eq(i, p->last_i + 1);
    ck_assert_ptr_nonnull(name);
    ck_assert_uint_ge(done, p->last_done);
    p->calls++;
    p->last_i = i;
    p->n = n;
    p->last_done = done;
    p->total = total;
}

START_TEST(test_convert_f32_to_f16_on_write) {
    slm_model *m = slm_model_new();
    strcpy(m->hp.arch, "llama");
    int64_t ne[2] = {8, 3};
    slm_tensor *t;
    slm_diag d = {0};
    ck_assert_int_eq(slm_model_add_tensor(m, "w", SLM_TYPE_F32, 2, ne, &t, &d), SLM_OK);
    float *f = malloc(24 * sizeof *f);
    for (int i = 0; i < 24; i++) f[i] = (float)i * 0.1f - 1.0f + (i == 5 ? 70000.0f : 0.0f);
    ck_assert_int_eq(slm_tensor_set_owned(t, SLM_TYPE_F32, f, &d), SLM_OK);
    t->out_type = SLM_TYPE_F16;
    add_owned(m, "v", SLM_TYPE_F32, 1, 8, 1, 9); /* stays f32 */

    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("f16.gguf"));
    progress_log pl = {0};
    slm_gguf_write_opts o = {.progress = on_progress, .progress_ctx = &pl};
    ck_assert_msg(slm_gguf_write(m, path, &o, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(pl.calls, 2);
    ck_assert_uint_eq(pl.n, 2);
    ck_assert_uint_eq(pl.last_done, pl.total);
    ck_assert_uint_eq(pl.total, 64 + 32); /* 48 bytes padded, 32 bytes */

    slm_model *r = NULL;
    ck_assert_msg(slm_gguf_read(path, &r, &d) == SLM_OK, "%s", d.msg);
    const slm_tensor *w = slm_model_find_tensor(r, "w");
    ck_assert_int_eq(w->type, SLM_TYPE_F16);
    ck_assert_uint_eq(w->nbytes, 48);
    const uint16_t *h = w->data;
    for (int i = 0; i < 24; i++) ck_assert_uint_eq(h[i], slm_f32_to_f16(f[i]));
    ck_assert_uint_eq(h[5], 0x7C00); /* overflow becomes inf */
    ck_assert_int_eq(slm_model_find_tensor(r, "v")->type, SLM_TYPE_F32);
    ck_assert_mem_eq(slm_model_find_tensor(r, "v")->data, m->tensors[1].data, 32);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

/* More rows than one conversion chunk: the chunked result must equal a
 * whole-tensor encode. */
START_TEST(test_convert_in_chunks_matches_whole) {
    const slm_type_traits *q8 = slm_type_traits_get(SLM_TYPE_Q8_0);
    if (!q8->from_f32) {
        fprintf(stderr, "SKIP: no q8_0 encoder yet\n");
        return;
    }
    slm_model *m = slm_model_new();
    strcpy(m->hp.arch, "llama");
    int64_t ne[2] = {1024, 1100}; /* 1.1M floats: more than one 4 MB chunk */
    slm_tensor *t;
    slm_diag d = {0};
    ck_assert_int_eq(slm_model_add_tensor(m, "big", SLM_TYPE_F32, 2, ne, &t, &d), SLM_OK);
    size_t n = 1024 * 1100;
    float *f = malloc(n * sizeof *f);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        f[i] = (float)(int32_t)s / 2147483648.0f;
    }
    ck_assert_int_eq(slm_tensor_set_owned(t, SLM_TYPE_F32, f, &d), SLM_OK);
    t->out_type = SLM_TYPE_Q8_0;
    size_t qbytes = slm_type_row_size(SLM_TYPE_Q8_0, 1024) * 1100;
    uint8_t *expect = malloc(qbytes);
    q8->from_f32(f, expect, (int64_t)n);

    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("chunks.gguf"));
    ck_assert_msg(slm_gguf_write(m, path, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model *r = NULL;
    ck_assert_msg(slm_gguf_read(path, &r, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(r->tensors[0].type, SLM_TYPE_Q8_0);
    ck_assert_uint_eq(r->tensors[0].nbytes, qbytes);
    ck_assert(memcmp(r->tensors[0].data, expect, qbytes) == 0);
    free(expect);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

/* --------------------------------------------------------- failed writes */

static void assert_no_output(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_msg(!ts_file_exists(p), "%s exists after a failed write", p);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.tmp.", name);
    ck_assert_int_eq(ts_count_prefix(dir, prefix), 0);
}

static slm_status failing_load(void *ctx, const slm_tensor *t, void *dst, slm_diag *d) {
    return slm_diag_set(d, SLM_ERR_IO, "%s: simulated read failure", t->name);
}

/* The failure comes after the header and a first tensor were written. */
START_TEST(test_failed_write_mid_stream_leaves_no_file) {
    slm_model *m = make_model();
    int64_t ne[1] = {16};
    slm_tensor *t;
    slm_diag d = {0};
    ck_assert_int_eq(slm_model_add_tensor(m, "lazy", SLM_TYPE_F32, 1, ne, &t, &d), SLM_OK);
    t->load = failing_load;
    char dir[4096], path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("failmid.gguf"));
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    ck_assert_int_ne(slm_gguf_write(m, path, NULL, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "simulated read failure") && strstr(d.msg, "lazy"), "%s", d.msg);
    assert_no_output(dir, "failmid.gguf");
    slm_model_free(m);
}
END_TEST

START_TEST(test_failed_write_no_encoder_leaves_no_file) {
    int missing = -1;
    for (int ty = 0; ty < SLM_TYPE_COUNT && missing < 0; ty++) {
        const slm_type_traits *tr = slm_type_traits_get(ty);
        if (tr && !tr->from_f32 && tr->blck <= 256) missing = ty;
    }
    if (missing < 0) {
        fprintf(stderr, "SKIP: every type has an encoder\n");
        return;
    }
    slm_model *m = make_model();
    add_owned(m, "needs.encoder", SLM_TYPE_F32, 2, 256, 2, 5);
    m->tensors[m->n_tensors - 1].out_type = (slm_type)missing;
    char dir[4096], path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("noenc.gguf"));
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    slm_diag d = {0};
    ck_assert_int_ne(slm_gguf_write(m, path, NULL, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "needs.encoder") && strstr(d.msg, "no encoder"), "%s", d.msg);
    assert_no_output(dir, "noenc.gguf");
    slm_model_free(m);
}
END_TEST

START_TEST(test_failed_write_block_mismatch) {
    slm_model *m = make_model();
    add_owned(m, "odd.rows", SLM_TYPE_F32, 2, 48, 2, 5);
    m->tensors[m->n_tensors - 1].out_type = SLM_TYPE_Q8_0;
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp("oddrows.gguf"));
    slm_diag d = {0};
    ck_assert_int_ne(slm_gguf_write(m, path, NULL, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "odd.rows") && strstr(d.msg, "block size 32"), "%s", d.msg);
    ck_assert(!ts_file_exists(path));
    slm_model_free(m);
}
END_TEST

START_TEST(test_failed_write_unwritable_dir) {
    slm_model *m = make_model();
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", ts_tmp("no-such-dir"));
    snprintf(path, sizeof path, "%s/sub/out.gguf", dir);
    slm_diag d = {0};
    slm_status st = slm_gguf_write(m, path, NULL, &d);
    ck_assert_int_eq(st, SLM_ERR_IO);
    ck_assert_msg(strstr(d.msg, "out.gguf") != NULL, "%s", d.msg);
    ck_assert(!ts_file_exists(path));
    slm_model_free(m);
}
END_TEST

/* ------------------------------------------------------ shared material */

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

START_TEST(test_read_every_shared_gguf) {
    const char *dirs[] = {"golden", "models", "vocab"};
    int n_files = 0;
    for (int k = 0; k < 3; k++) {
        const char *p = ts_shared(dirs[k]);
        if (!p) return;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", p);
        DIR *dh = opendir(dir);
        if (!dh) continue;
        struct dirent *e;
        while ((e = readdir(dh))) {
            if (!has_suffix(e->d_name, ".gguf")) continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            slm_model *m = NULL;
            slm_diag d = {0};
            ck_assert_msg(slm_gguf_read(path, &m, &d) == SLM_OK, "%s", d.msg);
            ck_assert_msg(m->hp.arch[0] != '\0', "%s: no architecture", path);
            ck_assert_msg(m->tok.n_tokens > 0, "%s: no tokens", path);
            for (uint32_t i = 0; i < m->n_tensors; i++) ck_assert_ptr_nonnull(m->tensors[i].data);
            if (k < 2) ck_assert_msg(m->n_tensors > 0, "%s: no tensors", path);
            slm_model_free(m);
            n_files++;
        }
        closedir(dh);
    }
    ck_assert_int_ge(n_files, 30);
}
END_TEST

START_TEST(test_golden_f32_facts) {
    const char *p = ts_shared("golden/golden-f32.gguf");
    if (!p) return;
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(p, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(m->n_tensors, 21);
    ck_assert_str_eq(m->hp.arch, "llama");
    ck_assert_uint_eq(m->hp.n_embd, 256);
    ck_assert_uint_eq(m->hp.n_layer, 2);
    ck_assert_uint_eq(m->hp.n_ff, 768);
    ck_assert_uint_eq(m->hp.n_head, 4);
    ck_assert_uint_eq(m->tok.n_tokens, 512);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_SPM);
    ck_assert_str_eq(m->tok.tokens[1].s, "<s>");
    ck_assert_ptr_nonnull(m->tok.scores);
    ck_assert_ptr_nonnull(m->tok.token_types);
    ck_assert_int_eq(m->tok.token_types[1], SLM_TOKEN_CONTROL);
    const slm_tensor *emb = slm_model_find_tensor(m, "token_embd.weight");
    ck_assert_ptr_nonnull(emb);
    ck_assert_int_eq(emb->type, SLM_TYPE_F32);
    ck_assert_int_eq(emb->ne[0], 256);
    ck_assert_int_eq(emb->ne[1], 512);
    ck_assert_ptr_null(slm_model_find_kv(m, "general.architecture"));
    ck_assert_ptr_null(slm_model_find_kv(m, "tokenizer.ggml.tokens"));
    slm_model_free(m);
}
END_TEST

START_TEST(test_vocab_gpt2_has_merges) {
    const char *p = ts_shared("vocab/ggml-vocab-gpt-2.gguf");
    if (!p) return;
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(p, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_BPE);
    ck_assert_str_eq(m->tok.model_name, "gpt2");
    ck_assert_uint_gt(m->tok.n_merges, 1000);
    ck_assert_ptr_nonnull(strchr(m->tok.merges[0].s, ' '));
    ck_assert_uint_eq(m->tok.n_tokens, 50257);
    slm_model_free(m);
}
END_TEST

START_TEST(test_vocab_llama_spm) {
    const char *p = ts_shared("vocab/ggml-vocab-llama-spm.gguf");
    if (!p) return;
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(p, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_SPM);
    ck_assert_uint_eq(m->tok.n_tokens, 32000);
    ck_assert_ptr_nonnull(m->tok.scores);
    ck_assert_str_eq(m->tok.tokens[2].s, "</s>");
    slm_model_free(m);
}
END_TEST

START_TEST(test_rewrite_golden_q4_0_unchanged) {
    const char *p = ts_shared("golden/golden-Q4_0.gguf");
    if (!p) return;
    char src[4096], out[4096];
    snprintf(src, sizeof src, "%s", p);
    snprintf(out, sizeof out, "%s", ts_tmp("rewrite-q4_0.gguf"));
    slm_model *m = NULL, *r = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(src, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_gguf_write(m, out, NULL, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_gguf_read(out, &r, &d) == SLM_OK, "%s", d.msg);
    assert_tensors_eq(m, r);
    assert_hparams_eq(&m->hp, &r->hp);
    assert_tokenizer_eq(&m->tok, &r->tok);
    assert_kvs_eq(m, r);
    int q4 = 0;
    for (uint32_t i = 0; i < r->n_tensors; i++) q4 += r->tensors[i].type == SLM_TYPE_Q4_0;
    ck_assert_int_eq(q4, 16);
    /* llama.cpp wrote the same layout, so the file size matches too */
    ck_assert_uint_eq(r->inputs[0].map_size, m->inputs[0].map_size);
    slm_model_free(r);
    slm_model_free(m);
}
END_TEST

/* ------------------------------------------------------- malformed files */

/* Long names and a long string leave the header's count check satisfied,
 * so cuts inside the metadata and tensor infos reach the reads themselves. */
START_TEST(test_bad_truncated) {
    char long_a[61], long_b[61], text[201];
    memset(long_a, 'a', 60);
    memset(long_b, 'b', 60);
    memset(text, 't', 200);
    long_a[60] = long_b[60] = text[200] = '\0';
    tspec ts[2] = {{long_a, 4, {4, 1, 1, 1}, SLM_TYPE_F32, 0}, {long_b, 4, {8, 2, 1, 1}, SLM_TYPE_F16, 32}};
    buf kv = {0}, full = {0};
    b_kv_str(&kv, "general.name", text);
    b_kv_u32(&kv, "llama.context_length", 16);
    build_file(&full, &kv, 2, ts, 2, BASIC_DATA);
    size_t name_value = 24 + 45 + 8 + 12 + 4; /* where general.name's string starts */
    size_t tinfo_start = 24 + 45 + kv.n;
    struct {
        size_t cut;
        const char *expect;
    } cuts[] = {
        {0, "too short"},
        {2, "too short"},
        {6, "unexpected end of file at byte 4 reading the GGUF version"},
        {20, "unexpected end of file at byte 16 reading n_kv"},
        {40, "n_tensors is 2"},                           /* counts no longer fit */
        {name_value + 150, "string length 200"},          /* inside a kv value */
        {tinfo_start + 80, "reading tensor info 'aaaa"},  /* inside ne[] */
        {tinfo_start + 66, "reading the name of tensor info 0"},  /* inside the name */
        {full.n - BASIC_DATA, "lies outside"},            /* data section missing */
        {full.n - 5, "'bbbb"},                            /* inside the last tensor */
    };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        buf b = {0};
        b_put(&b, full.p, cuts[i].cut);
        expect_fail(&b, cuts[i].expect);
    }
    /* the untruncated file is fine, so the failures above are the cuts */
    slm_diag d = {0};
    ck_assert_msg(read_buf(&full, "full.gguf", NULL, &d) == SLM_OK, "%s", d.msg);
    free(full.p);
    free(kv.p);
}
END_TEST

START_TEST(test_bad_magic) {
    buf b = {0};
    build_file(&b, NULL, 0, NULL, 0, 0);
    memcpy(b.p, "GGML", 4);
    expect_fail(&b, "bad magic");
}
END_TEST

START_TEST(test_bad_version_1) {
    buf b = {0};
    build_file(&b, NULL, 0, NULL, 0, 0);
    b.p[4] = 1;
    expect_fail(&b, "version 1 is not supported");
}
END_TEST

START_TEST(test_bad_version_4) {
    buf b = {0};
    build_file(&b, NULL, 0, NULL, 0, 0);
    b.p[4] = 4;
    expect_fail(&b, "version 4 is not supported");
}
END_TEST

START_TEST(test_bad_big_endian) {
    buf b = {0};
    build_file(&b, NULL, 0, NULL, 0, 0);
    uint8_t be[4] = {0, 0, 0, 3};
    memcpy(b.p + 4, be, 4);
    expect_fail(&b, "big-endian");
}
END_TEST

START_TEST(test_bad_string_past_eof) {
    buf b = {0};
    b_header(&b, 3, 0, 1);
    b_u64(&b, 1000); /* key length */
    b_put(&b, "general.name", 12);
    expect_fail(&b, "string length 1000");
}
END_TEST

START_TEST(test_bad_n_kv_absurd) {
    buf b = {0};
    build_file(&b, NULL, 0, NULL, 0, 0);
    uint64_t n = (uint64_t)1 << 60;
    memcpy(b.p + 16, &n, 8);
    expect_fail(&b, "n_kv is 1152921504606846976");
}
END_TEST

START_TEST(test_bad_n_tensors_absurd) {
    buf b = {0};
    build_file(&b, NULL, 0, NULL, 0, 0);
    uint64_t n = UINT64_MAX;
    memcpy(b.p + 8, &n, 8);
    expect_fail(&b, "n_tensors is 18446744073709551615");
}
END_TEST

START_TEST(test_bad_array_count_absurd) {
    buf kv = {0}, b = {0};
    b_key(&kv, "t.big", SLM_V_ARR);
    b_i32(&kv, SLM_V_U32);
    b_u64(&kv, (uint64_t)1 << 62);
    b_u32(&kv, 1);
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 't.big': array of 4611686018427387904 u32");
}
END_TEST

START_TEST(test_bad_string_array_count_absurd) {
    buf kv = {0}, b = {0};
    b_key(&kv, "t.strs", SLM_V_ARR);
    b_i32(&kv, SLM_V_STR);
    b_u64(&kv, 1000000);
    b_str(&kv, "only one");
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 't.strs': array of 1000000 str");
}
END_TEST

START_TEST(test_bad_nested_array) {
    buf kv = {0}, b = {0};
    b_key(&kv, "t.nested", SLM_V_ARR);
    b_i32(&kv, SLM_V_ARR);
    b_u64(&kv, 1);
    b_i32(&kv, SLM_V_U8);
    b_u64(&kv, 1);
    b_u8(&kv, 7);
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 't.nested': nested arrays");
}
END_TEST

START_TEST(test_bad_unknown_value_type) {
    buf kv = {0}, b = {0};
    b_key(&kv, "t.weird", 13);
    b_u32(&kv, 0);
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 't.weird': unknown value type 13");
}
END_TEST

START_TEST(test_bad_unknown_array_element_type) {
    buf kv = {0}, b = {0};
    b_key(&kv, "t.weird", SLM_V_ARR);
    b_i32(&kv, -1);
    b_u64(&kv, 0);
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 't.weird': unknown array element type -1");
}
END_TEST

START_TEST(test_bad_duplicate_key) {
    buf kv = {0}, b = {0};
    b_kv_str(&kv, "general.name", "one");
    b_kv_u32(&kv, "t.x", 1);
    b_kv_str(&kv, "general.name", "two");
    build_file(&b, &kv, 3, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "duplicate metadata key 'general.name'");
}
END_TEST

START_TEST(test_bad_key_wrong_type) {
    buf kv = {0}, b = {0};
    b_key(&kv, "llama.context_length", SLM_V_F32);
    b_f32(&kv, 16.0f);
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 'llama.context_length' has type f32, expected u32");
}
END_TEST

START_TEST(test_bad_duplicate_tensor_name) {
    buf b = {0};
    tspec ts[2] = {basic_tensors[0], basic_tensors[1]};
    ts[1].name = "a";
    build_file(&b, NULL, 0, ts, 2, BASIC_DATA);
    expect_fail(&b, "duplicate tensor name 'a'");
}
END_TEST

START_TEST(test_bad_name_too_long) {
    buf b = {0};
    char name[65];
    memset(name, 'n', 64);
    name[64] = '\0';
    tspec ts[1] = {basic_tensors[0]};
    ts[0].name = name;
    build_file(&b, NULL, 0, ts, 1, BASIC_DATA);
    expect_fail(&b, "is 64 bytes, expected 1..63");
}
END_TEST

START_TEST(test_bad_n_dims_0) {
    buf b = {0};
    tspec ts[1] = {basic_tensors[0]};
    ts[0].n_dims = 0;
    build_file(&b, NULL, 0, ts, 1, BASIC_DATA);
    expect_fail(&b, "tensor 'a': n_dims is 0, expected 1..4");
}
END_TEST

START_TEST(test_bad_n_dims_5) {
    buf b = {0};
    tspec ts[1] = {basic_tensors[0]};
    ts[0].n_dims = 5;
    build_file(&b, NULL, 0, ts, 1, BASIC_DATA);
    expect_fail(&b, "tensor 'a': n_dims is 5, expected 1..4");
}
END_TEST

START_TEST(test_bad_negative_dim) {
    buf b = {0};
    tspec ts[1] = {basic_tensors[1]};
    ts[0].ne[1] = -2;
    build_file(&b, NULL, 0, ts, 1, BASIC_DATA);
    expect_fail(&b, "tensor 'b': ne[1] is -2");
}
END_TEST

START_TEST(test_bad_unknown_type_id) {
    buf b = {0};
    tspec ts[2] = {basic_tensors[0], basic_tensors[1]};
    ts[1].type = 4; /* removed from ggml */
    build_file(&b, NULL, 0, ts, 2, BASIC_DATA);
    expect_fail(&b, "tensor 'b': unknown type id 4");
}
END_TEST

START_TEST(test_bad_block_multiple) {
    buf b = {0};
    tspec ts[1] = {{"q", 2, {48, 2, 1, 1}, SLM_TYPE_Q4_0, 0}};
    build_file(&b, NULL, 0, ts, 1, BASIC_DATA);
    expect_fail(&b, "tensor 'q': ne[0] = 48 is not a multiple of the q4_0 block size 32");
}
END_TEST

START_TEST(test_bad_offset_out_of_range) {
    buf b = {0};
    tspec ts[2] = {basic_tensors[0], basic_tensors[1]};
    ts[1].offset = 1024;
    build_file(&b, NULL, 0, ts, 2, BASIC_DATA);
    expect_fail(&b, "tensor 'b': data at offset 1024 (32 bytes) lies outside");
}
END_TEST

START_TEST(test_bad_overlapping_offsets) {
    buf b = {0};
    tspec ts[2] = {{"a", 1, {16, 1, 1, 1}, SLM_TYPE_F32, 0}, basic_tensors[1]}; /* a: 64 bytes */
    build_file(&b, NULL, 0, ts, 2, 128);
    expect_fail(&b, "tensor 'b' (offset 32, 32 bytes) overlaps tensor 'a' (offset 0, 64 bytes)");
}
END_TEST

START_TEST(test_bad_misaligned_offset) {
    buf b = {0};
    tspec ts[2] = {basic_tensors[0], basic_tensors[1]};
    ts[1].offset = 16;
    build_file(&b, NULL, 0, ts, 2, BASIC_DATA);
    expect_fail(&b, "tensor 'b': offset 16 is not a multiple of the alignment 32");
}
END_TEST

START_TEST(test_bad_alignment_not_power_of_two) {
    buf kv = {0}, b = {0};
    b_kv_u32(&kv, "general.alignment", 48);
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "'general.alignment' is 48, expected a power of two");
}
END_TEST

START_TEST(test_bad_alignment_wrong_type) {
    buf kv = {0}, b = {0};
    b_key(&kv, "general.alignment", SLM_V_U64);
    b_u64(&kv, 64);
    build_file(&b, &kv, 1, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "'general.alignment' has type u64, expected u32");
}
END_TEST

static void b_tokens(buf *kv, int n) {
    b_key(kv, "tokenizer.ggml.tokens", SLM_V_ARR);
    b_i32(kv, SLM_V_STR);
    b_u64(kv, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        char s[16];
        snprintf(s, sizeof s, "tok%d", i);
        b_str(kv, s);
    }
}

START_TEST(test_bad_scores_shorter_than_tokens) {
    buf kv = {0}, b = {0};
    /* scores before tokens in the file: the check must not depend on order */
    b_key(&kv, "tokenizer.ggml.scores", SLM_V_ARR);
    b_i32(&kv, SLM_V_F32);
    b_u64(&kv, 2);
    b_f32(&kv, 0.5f);
    b_f32(&kv, 0.25f);
    b_kv_str(&kv, "tokenizer.ggml.model", "llama");
    b_tokens(&kv, 3);
    build_file(&b, &kv, 3, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 'tokenizer.ggml.scores' has 2 entries, expected 3");
}
END_TEST

START_TEST(test_bad_token_type_element_type) {
    buf kv = {0}, b = {0};
    b_tokens(&kv, 2);
    b_key(&kv, "tokenizer.ggml.token_type", SLM_V_ARR);
    b_i32(&kv, SLM_V_U8);
    b_u64(&kv, 2);
    b_u8(&kv, 1);
    b_u8(&kv, 1);
    build_file(&b, &kv, 2, NULL, 0, 0);
    free(kv.p);
    expect_fail(&b, "key 'tokenizer.ggml.token_type' has type array of u8, expected array of i32");
}
END_TEST

START_TEST(test_bad_empty_file) {
    buf b = {0};
    b_put(&b, "", 0);
    expect_fail(&b, "too short");
}
END_TEST

static Suite *gguf_suite(void) {
    Suite *s = suite_create("gguf");
    TCase *ok = tcase_create("valid");
    tcase_set_timeout(ok, 120);
    tcase_add_test(ok, test_basic_file_reads);
    tcase_add_test(ok, test_reordered_offsets_accepted);
    tcase_add_test(ok, test_per_layer_array_kept_as_metadata);
    tcase_add_test(ok, test_round_trip_in_memory);
    tcase_add_test(ok, test_round_trip_alignment_64);
    tcase_add_test(ok, test_size_equals_written_file);
    tcase_add_test(ok, test_write_skips_free_copy_of_structured_key);
    tcase_add_test(ok, test_convert_f32_to_f16_on_write);
    tcase_add_test(ok, test_convert_in_chunks_matches_whole);
    suite_add_tcase(s, ok);

    TCase *wf = tcase_create("failed-write");
    tcase_add_test(wf, test_failed_write_mid_stream_leaves_no_file);
    tcase_add_test(wf, test_failed_write_no_encoder_leaves_no_file);
    tcase_add_test(wf, test_failed_write_block_mismatch);
    tcase_add_test(wf, test_failed_write_unwritable_dir);
    suite_add_tcase(s, wf);

    TCase *sh = tcase_create("shared");
    tcase_set_timeout(sh, 300);
    tcase_add_test(sh, test_read_every_shared_gguf);
    tcase_add_test(sh, test_golden_f32_facts);
    tcase_add_test(sh, test_vocab_gpt2_has_merges);
    tcase_add_test(sh, test_vocab_llama_spm);
    tcase_add_test(sh, test_rewrite_golden_q4_0_unchanged);
    suite_add_tcase(s, sh);

    TCase *bad = tcase_create("malformed");
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, test_bad_truncated);
    tcase_add_test(bad, test_bad_empty_file);
    tcase_add_test(bad, test_bad_magic);
    tcase_add_test(bad, test_bad_version_1);
    tcase_add_test(bad, test_bad_version_4);
    tcase_add_test(bad, test_bad_big_endian);
    tcase_add_test(bad, test_bad_string_past_eof);
    tcase_add_test(bad, test_bad_n_kv_absurd);
    tcase_add_test(bad, test_bad_n_tensors_absurd);
    tcase_add_test(bad, test_bad_array_count_absurd);
    tcase_add_test(bad, test_bad_string_array_count_absurd);
    tcase_add_test(bad, test_bad_nested_array);
    tcase_add_test(bad, test_bad_unknown_value_type);
    tcase_add_test(bad, test_bad_unknown_array_element_type);
    tcase_add_test(bad, test_bad_duplicate_key);
    tcase_add_test(bad, test_bad_key_wrong_type);
    tcase_add_test(bad, test_bad_duplicate_tensor_name);
    tcase_add_test(bad, test_bad_name_too_long);
    tcase_add_test(bad, test_bad_n_dims_0);
    tcase_add_test(bad, test_bad_n_dims_5);
    tcase_add_test(bad, test_bad_negative_dim);
    tcase_add_test(bad, test_bad_unknown_type_id);
    tcase_add_test(bad, test_bad_block_multiple);
    tcase_add_test(bad, test_bad_offset_out_of_range);
    tcase_add_test(bad, test_bad_overlapping_offsets);
    tcase_add_test(bad, test_bad_misaligned_offset);
    tcase_add_test(bad, test_bad_alignment_not_power_of_two);
    tcase_add_test(bad, test_bad_alignment_wrong_type);
    tcase_add_test(bad, test_bad_scores_shorter_than_tokens);
    tcase_add_test(bad, test_bad_token_type_element_type);
    suite_add_tcase(s, bad);
    return s;
}

int main(void) {
    return ts_run_suite(gguf_suite());
}
