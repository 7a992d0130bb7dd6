/* check_llama2c.c - the llama2.c reader against llama.cpp's own conversion of
 * the same checkpoints (tensor bytes, shapes, order, hparams, tokenizer), and
 * against malformed checkpoints and tokenizer files.
 *
 * The reference GGUFs are parsed by a deliberately tiny local reader so that
 * this suite checks the llama2.c reader alone, not slm_gguf_read too. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_llama2c.h"
#include "test_support.h"

/* ------------------------------------------------- a tiny GGUF reader */

typedef struct ref_tensor {
    char name[64];
    uint32_t n_dims;
    int64_t ne[4];
    int32_t type;
    uint64_t offset;
    const unsigned char *data;
} ref_tensor;

typedef struct ref_gguf {
    unsigned char *buf;
    size_t size;
    uint64_t n_tensors;
    ref_tensor *tensors;
    /* tokenizer arrays */
    uint64_t n_tokens;
    const unsigned char **tok_text; /* pointers into buf */
    uint64_t *tok_len;
    float *scores;
    int32_t *types;
    /* u32 keys we compare, by name */
    char u32_keys[32][64];
    uint32_t u32_vals[32];
    int n_u32;
    float rms_eps;
    char model[32], arch[32], name[32];
} ref_gguf;

typedef struct rd {
    const unsigned char *p;
    size_t off, size;
} rd;

static uint64_t rd_u64(rd *r) {
    ck_assert_uint_le(r->off + 8, r->size);
    uint64_t v;
    memcpy(&v, r->p + r->off, 8);
    r->off += 8;
    return v;
}
static uint32_t rd_u32(rd *r) {
    ck_assert_uint_le(r->off + 4, r->size);
    uint32_t v;
    memcpy(&v, r->p + r->off, 4);
    r->off += 4;
    return v;
}
static const unsigned char *rd_str(rd *r, uint64_t *len) {
    *len = rd_u64(r);
    ck_assert_uint_le(r->off + *len, r->size);
    const unsigned char *s = r->p + r->off;
    r->off += *len;
    return s;
}

static size_t scalar_size(uint32_t t) {
    static const size_t sz[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    ck_assert_uint_lt(t, 13);
    return sz[t];
}

static void copy_str(char *dst, size_t cap, const unsigned char *s, uint64_t len) {
    ck_assert_uint_lt(len, cap);
    memcpy(dst, s, len);
    dst[len] = 0;
}

static void ref_read_kv(ref_gguf *g, rd *r) {
    uint64_t klen;
    const unsigned char *k = rd_str(r, &klen);
    char key[128];
    copy_str(key, sizeof key, k, klen);
    uint32_t t = rd_u32(r);
    if (t == 8) {
        uint64_t len;
        const unsigned char *s = rd_str(r, &len);
        if (!strcmp(key, "tokenizer.ggml.model")) copy_str(g->model, sizeof g->model, s, len);
        if (!strcmp(key, "general.architecture")) copy_str(g->arch, sizeof g->arch, s, len);
        if (!strcmp(key, "general.name")) copy_str(g->name, sizeof g->name, s, len);
    } else if (t == 9) {
        uint32_t et = rd_u32(r);
        uint64_t n = rd_u64(r);
        if (!strcmp(key, "tokenizer.ggml.tokens")) {
            ck_assert_uint_eq(et, 8);
            g->n_tokens = n;
            g->tok_text = calloc(n, sizeof *g->tok_text);
            g->tok_len = calloc(n, sizeof *g->tok_len);
            for (uint64_t i = 0; i < n; i++) g->tok_text[i] = rd_str(r, &g->tok_len[i]);
        } else if (et == 8) {
            for (uint64_t i = 0; i < n; i++) {
                uint64_t len;
                rd_str(r, &len);
            }
        } else {
            size_t es = scalar_size(et);
            ck_assert_uint_le(r->off + n * es, r->size);
            if (!strcmp(key, "tokenizer.ggml.scores")) {
                ck_assert_uint_eq(et, 6);
                g->scores = malloc(n * 4);
                memcpy(g->scores, r->p + r->off, n * 4);
            } else if (!strcmp(key, "tokenizer.ggml.token_type")) {
                ck_assert_uint_eq(et, 5);
                g->types = malloc(n * 4);
                memcpy(g->types, r->p + r->off, n * 4);
            }
            r->off += n * es;
        }
    } else {
        size_t es = scalar_size(t);
        ck_assert_uint_le(r->off + es, r->size);
        if (t == 4 && g->n_u32 < 32) {
            copy_str(g->u32_keys[g->n_u32], 64, (const unsigned char *)key, strlen(key));
            memcpy(&g->u32_vals[g->n_u32++], r->p + r->off, 4);
        }
        if (t == 6 && strstr(key, "rms_epsilon")) memcpy(&g->rms_eps, r->p + r->off, 4);
        r->off += es;
    }
}

static void ref_open(ref_gguf *g, const char *path) {
    memset(g, 0, sizeof *g);
    g->buf = (unsigned char *)ts_read_file(path, &g->size);
    ck_assert_msg(g->buf != NULL, "cannot read %s", path);
    rd r = {g->buf, 0, g->size};
    ck_assert_uint_eq(rd_u32(&r), 0x46554747u); /* "GGUF" */
    ck_assert_uint_eq(rd_u32(&r), 3);
    g->n_tensors = rd_u64(&r);
    uint64_t n_kv = rd_u64(&r);
    for (uint64_t i = 0; i < n_kv; i++) ref_read_kv(g, &r);
    g->tensors = calloc(g->n_tensors, sizeof *g->tensors);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ref_tensor *t = &g->tensors[i];
        uint64_t len;
        const unsigned char *s = rd_str(&r, &len);
        copy_str(t->name, sizeof t->name, s, len);
        t->n_dims = rd_u32(&r);
        ck_assert_uint_le(t->n_dims, 4);
        for (int k = 0; k < 4; k++) t->ne[k] = 1;
        for (uint32_t k = 0; k < t->n_dims; k++) t->ne[k] = (int64_t)rd_u64(&r);
        t->type = (int32_t)rd_u32(&r);
        t->offset = rd_u64(&r);
    }
    size_t data_start = (r.off + 31) & ~(size_t)31; /* default alignment */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ref_tensor *t = &g->tensors[i];
        ck_assert_int_eq(t->type, 0); /* these references are all f32 */
        size_t nbytes = 4 * (size_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        ck_assert_uint_le(data_start + t->offset + nbytes, g->size);
        t->data = g->buf + data_start + t->offset;
    }
}

static void ref_close(ref_gguf *g) {
    free(g->buf);
    free(g->tensors);
    free(g->tok_text);
    free(g->tok_len);
    free(g->scores);
    free(g->types);
}

static const ref_tensor *ref_find(const ref_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static uint32_t ref_u32(const ref_gguf *g, const char *key, int *found) {
    for (int i = 0; i < g->n_u32; i++)
        if (!strcmp(g->u32_keys[i], key)) {
            *found = 1;
            return g->u32_vals[i];
        }
    *found = 0;
    return 0;
}

/* ------------------------------------------------------------ helpers */

static void expect_u32(const ref_gguf *g, const char *key, uint32_t ours) {
    int found;
    uint32_t v = ref_u32(g, key, &found);
    ck_assert_msg(found, "reference lacks %s", key);
    ck_assert_msg(v == ours, "%s: reference %u, ours %u", key, v, ours);
}

/* Our model equals the reference tensor for tensor, in the reference's order
 * (which has output.weight as a copy of token_embd even when the checkpoint
 * shares it; we leave it out). */
static void compare_with_reference(const char *bin, const char *tok, const char *gguf) {
    slm_model *m = NULL;
    slm_diag d = {0};
    slm_status st = slm_llama2c_read(bin, tok, &m, &d);
    ck_assert_msg(st == SLM_OK, "%s", d.msg);
    ref_gguf g;
    ref_open(&g, gguf);

    ck_assert_str_eq(m->source_format, "llama2c");
    ck_assert_uint_eq(m->n_tensors + 1, g.n_tensors);
    uint32_t k = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const ref_tensor *rt = &g.tensors[i];
        if (!strcmp(rt->name, "output.weight")) {
            const ref_tensor *emb = ref_find(&g, "token_embd.weight");
            ck_assert_ptr_nonnull(emb);
            ck_assert(memcmp(rt->data, emb->data, 4 * (size_t)(emb->ne[0] * emb->ne[1])) == 0);
            ck_assert_ptr_null(slm_model_find_tensor(m, "output.weight"));
            continue;
        }
        slm_tensor *t = &m->tensors[k++];
        ck_assert_str_eq(t->name, rt->name); /* same order */
        ck_assert_int_eq(t->type, SLM_TYPE_F32);
        ck_assert_int_eq(t->n_dims, (int)rt->n_dims);
        for (int j = 0; j < 4; j++) ck_assert_int_eq(t->ne[j], rt->ne[j]);
        ck_assert_uint_eq(t->nbytes, 4 * (size_t)(rt->ne[0] * rt->ne[1]));
        ck_assert_int_eq(slm_tensor_acquire(t, &d), SLM_OK);
        ck_assert_msg(memcmp(t->data, rt->data, t->nbytes) == 0, "%s: bytes differ from the reference", t->name);
        slm_tensor_release(t);
        ck_assert_ptr_nonnull(t->data); /* borrowed from the map: release keeps it */
    }

    /* hparams: everything the converter wrote except context_length, which it
     * takes from its own --n_ctx default (128) rather than the checkpoint. */
    ck_assert_str_eq(m->hp.arch, g.arch);
    expect_u32(&g, "llama.embedding_length", m->hp.n_embd);
    expect_u32(&g, "llama.feed_forward_length", m->hp.n_ff);
    expect_u32(&g, "llama.attention.head_count", m->hp.n_head);
    expect_u32(&g, "llama.attention.head_count_kv", m->hp.n_head_kv);
    expect_u32(&g, "llama.block_count", m->hp.n_layer);
    expect_u32(&g, "llama.rope.dimension_count", m->hp.n_rot);
    ck_assert(m->hp.rms_eps == g.rms_eps);
    ck_assert(!(m->hp.has & SLM_HP_ROPE_FREQ_BASE));
    ck_assert(!(m->hp.has & SLM_HP_VOCAB_SIZE));
    ck_assert(m->hp.has & SLM_HP_HEAD_COUNT_KV);
    const slm_kv *name = slm_model_find_kv(m, "general.name");
    ck_assert_ptr_nonnull(name);
    ck_assert_str_eq(name->value.v.str.s, g.name);

    /* tokenizer */
    const slm_tokenizer *t = &m->tok;
    ck_assert_int_eq(t->kind, SLM_TOK_SPM);
    ck_assert_str_eq(t->model_name, g.model);
    expect_u32(&g, "tokenizer.ggml.unknown_token_id", (uint32_t)t->unk_id);
    expect_u32(&g, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos_id);
    expect_u32(&g, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos_id);
    expect_u32(&g, "tokenizer.ggml.seperator_token_id", (uint32_t)t->sep_id);
    expect_u32(&g, "tokenizer.ggml.padding_token_id", (uint32_t)t->pad_id);
    ck_assert_int_eq(t->sep_id, 4294967295LL);
    ck_assert_uint_eq(t->n_tokens, g.n_tokens);
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        ck_assert_msg(t->tokens[i].len == g.tok_len[i] && memcmp(t->tokens[i].s, g.tok_text[i], g.tok_len[i]) == 0,
                      "token %u differs", i);
        ck_assert_msg(memcmp(&t->scores[i], &g.scores[i], 4) == 0, "score %u differs", i);
        ck_assert_msg(t->token_types[i] == g.types[i], "token type %u: ours %d, reference %d", i, t->token_types[i],
                      g.types[i]);
    }
    ck_assert_uint_eq(m->n_inputs, 2);
    ck_assert_str_eq(m->inputs[0].path, bin);
    ck_assert_ptr_nonnull(m->inputs[0].map);
    ck_assert_str_eq(m->inputs[1].path, tok);
    ck_assert_ptr_null(m->inputs[1].map);

    ref_close(&g);
    slm_model_free(m);
}

/* Copies of shared paths: ts_shared reuses its buffer. */
static char *shared_dup(const char *rel) {
    const char *p = ts_shared(rel);
    return p ? strdup(p) : NULL;
}

START_TEST(golden_matches_reference) {
    char *bin = shared_dup("golden/golden-llama2c.bin");
    if (!bin) return;
    char *tok = shared_dup("models/tok512-synthetic.bin");
    char *gguf = shared_dup("golden/golden-f32.gguf");
    compare_with_reference(bin, tok, gguf);
    free(bin);
    free(tok);
    free(gguf);
}
END_TEST

START_TEST(stories_matches_reference) {
    char *bin = shared_dup("models/stories260K.bin");
    if (!bin) return;
    char *tok = shared_dup("models/tok512-synthetic.bin");
    char *gguf = shared_dup("models/stories260K-ref-f32.gguf");
    compare_with_reference(bin, tok, gguf);
    free(bin);
    free(tok);
    free(gguf);
}
END_TEST

START_TEST(sniff_real_checkpoint) {
    const char *p = ts_shared("models/stories260K.bin");
    if (!p) return;
    size_t n;
    char *b = ts_read_file(p, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert(slm_llama2c_sniff(b, n));
    ck_assert(!slm_llama2c_sniff(b, n - 4));
    ck_assert(!slm_llama2c_sniff(b, 27));
    ck_assert(!slm_llama2c_sniff("GGUF\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32));
    free(b);
}
END_TEST

/* ------------------------------------------- synthetic checkpoints */

typedef struct hdr {
    int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
} hdr;

static size_t implied_floats(const hdr *h) {
    size_t dim = h->dim, hid = h->hidden, L = h->layers, V = h->vocab < 0 ? -h->vocab : h->vocab;
    size_t kv = dim * h->kv_heads / h->heads, hd = dim / h->heads;
    size_t n = V * dim + L * dim * 2 + L * dim * dim * 2 + L * kv * dim * 2 + L * hid * dim * 3 + dim + h->seq * hd;
    if (h->vocab < 0) n += V * dim;
    return n;
}

/* Writes a checkpoint whose floats count up from 0, so each tensor's
 * position in the file can be checked. Returns the path. */
static const char *write_checkpoint(const char *name, const hdr *h, long extra_bytes) {
    size_t nf = implied_floats(h);
    size_t bytes = (size_t)((long)(28 + nf * 4) + extra_bytes);
    unsigned char *buf = calloc(1, 28 + nf * 4 + 64);
    memcpy(buf, h, 28);
    for (size_t i = 0; i < nf; i++) {
        float f = (float)i;
        memcpy(buf + 28 + i * 4, &f, 4);
    }
    const char *path = ts_tmp(name);
    ck_assert_int_eq(ts_write_file(path, buf, bytes), 0);
    free(buf);
    return path;
}

static const hdr small = {8, 12, 2, 4, 2, 6, 3}; /* hd 2, kv_dim 4 */

static float first_float(const slm_model *m, const char *name) {
    slm_tensor *t = slm_model_find_tensor(m, name);
    ck_assert_msg(t != NULL, "missing %s", name);
    float f;
    memcpy(&f, t->data, 4);
    return f;
}

START_TEST(separate_classifier_layout) {
    hdr h = small;
    h.vocab = -6;
    char path[4096];
    snprintf(path, sizeof path, "%s", write_checkpoint("sep.bin", &h, 0));
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_llama2c_read(path, NULL, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(m->n_tensors, 3 + 2 * 9);
    ck_assert_str_eq(m->tensors[0].name, "token_embd.weight");
    ck_assert_str_eq(m->tensors[1].name, "output_norm.weight");
    ck_assert_str_eq(m->tensors[2].name, "output.weight");
    ck_assert_str_eq(m->tensors[3].name, "blk.0.attn_q.weight");
    ck_assert_str_eq(m->tensors[20].name, "blk.1.ffn_norm.weight");
    /* float offsets: emb 0 (48), rms_att 48 (16), wq 64 (128), wk 192 (64),
     * wv 256 (64), wo 320 (128), rms_ffn 448 (16), w1 464 (192),
     * w2 656 (192), w3 848 (192), rms_final 1040 (8), freq 1048 (6),
     * wcls 1054 */
    ck_assert(first_float(m, "token_embd.weight") == 0);
    ck_assert(first_float(m, "blk.0.attn_norm.weight") == 48);
    ck_assert(first_float(m, "blk.1.attn_norm.weight") == 56);
    ck_assert(first_float(m, "blk.0.attn_q.weight") == 64);
    ck_assert(first_float(m, "blk.1.attn_q.weight") == 128);
    ck_assert(first_float(m, "blk.1.attn_k.weight") == 224);
    ck_assert(first_float(m, "blk.1.attn_v.weight") == 288);
    ck_assert(first_float(m, "blk.1.attn_output.weight") == 384);
    ck_assert(first_float(m, "blk.1.ffn_norm.weight") == 456);
    ck_assert(first_float(m, "blk.1.ffn_gate.weight") == 560);
    ck_assert(first_float(m, "blk.1.ffn_down.weight") == 752);
    ck_assert(first_float(m, "blk.1.ffn_up.weight") == 944);
    ck_assert(first_float(m, "output_norm.weight") == 1040);
    ck_assert(first_float(m, "output.weight") == 1054);
    slm_tensor *k = slm_model_find_tensor(m, "blk.0.attn_k.weight");
    ck_assert_int_eq(k->ne[0], 8);
    ck_assert_int_eq(k->ne[1], 4);
    slm_tensor *down = slm_model_find_tensor(m, "blk.0.ffn_down.weight");
    ck_assert_int_eq(down->ne[0], 12);
    ck_assert_int_eq(down->ne[1], 8);
    ck_assert_uint_eq(m->hp.n_ctx, 3);
    ck_assert_uint_eq(m->hp.n_rot, 2);
    ck_assert_uint_eq(m->hp.n_head_kv, 2);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_NONE);
    slm_model_free(m);
}
END_TEST

static void expect_read_error(const char *path, const char *tok, const char *needle1, const char *needle2) {
    slm_model *m = (slm_model *)1;
    slm_diag d = {0};
    slm_status st = slm_llama2c_read(path, tok, &m, &d);
    ck_assert_int_eq(st, SLM_ERR_INPUT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(d.msg, needle1) != NULL, "message '%s' lacks '%s'", d.msg, needle1);
    if (needle2) ck_assert_msg(strstr(d.msg, needle2) != NULL, "message '%s' lacks '%s'", d.msg, needle2);
}

START_TEST(truncated_checkpoint) {
    const char *p = write_checkpoint("trunc.bin", &small, -4);
    char path[4096];
    snprintf(path, sizeof path, "%s", p);
    char shared_sz[64], sep_sz[64];
    snprintf(shared_sz, sizeof shared_sz, "%zu bytes with a shared", 28 + implied_floats(&small) * 4);
    snprintf(sep_sz, sizeof sep_sz, "%zu bytes with a separate", 28 + (implied_floats(&small) + 48) * 4);
    expect_read_error(path, NULL, shared_sz, sep_sz);
    /* a header alone */
    ck_assert_int_eq(ts_write_file(path, &small, 20), 0);
    expect_read_error(path, NULL, "too short", "header");
}
END_TEST

START_TEST(zero_or_negative_dims) {
    hdr h = small;
    h.dim = 0;
    const char *p = ts_tmp("zero.bin");
    ck_assert_int_eq(ts_write_file(p, &h, sizeof h), 0);
    expect_read_error(p, NULL, "dim is 0", NULL);
    h = small;
    h.layers = -3;
    ck_assert_int_eq(ts_write_file(p, &h, sizeof h), 0);
    expect_read_error(p, NULL, "n_layers is -3", NULL);
    h = small;
    h.vocab = 0;
    ck_assert_int_eq(ts_write_file(p, &h, sizeof h), 0);
    expect_read_error(p, NULL, "vocab_size is 0", NULL);
    h = small;
    h.seq = -1;
    ck_assert_int_eq(ts_write_file(p, &h, sizeof h), 0);
    expect_read_error(p, NULL, "seq_len is -1", NULL);
    h = small;
    h.hidden = 0x7fffffff;
    ck_assert_int_eq(ts_write_file(p, &h, sizeof h), 0);
    expect_read_error(p, NULL, "hidden_dim is 2147483647", NULL);
}
END_TEST

START_TEST(heads_not_dividing_dim) {
    hdr h = small;
    h.dim = 10;
    const char *p = ts_tmp("heads.bin");
    ck_assert_int_eq(ts_write_file(p, &h, sizeof h), 0);
    expect_read_error(p, NULL, "dim 10 is not a multiple of n_heads 4", NULL);
    h = small;
    h.kv_heads = 3;
    ck_assert_int_eq(ts_write_file(p, &h, sizeof h), 0);
    expect_read_error(p, NULL, "n_heads 4 is not a multiple of n_kv_heads 3", NULL);
}
END_TEST

/* tokenizer.bin builder: max_len, then (score, len, bytes) per token */
typedef struct tokbuf {
    unsigned char b[4096];
    size_t n;
} tokbuf;

static void tb_put(tokbuf *t, const void *p, size_t n) {
    memcpy(t->b + t->n, p, n);
    t->n += n;
}
static void tb_token(tokbuf *t, float score, const char *s) {
    int32_t len = (int32_t)strlen(s);
    tb_put(t, &score, 4);
    tb_put(t, &len, 4);
    tb_put(t, s, (size_t)len);
}

static void small_vocab(tokbuf *t) {
    int32_t maxlen = 8;
    t->n = 0;
    tb_put(t, &maxlen, 4);
    tb_token(t, 0, "UNK?");
    tb_token(t, 0, "\n<s>\n");
    tb_token(t, 0, "\n</s>\n");
    tb_token(t, -1.5f, "<0x0A>");
    tb_token(t, -2, " the cat");
    tb_token(t, -3, "");
}

START_TEST(tokenizer_conversion) {
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", write_checkpoint("tokck.bin", &small, 0));
    tokbuf tb;
    small_vocab(&tb);
    const char *tp = ts_tmp("tok.bin");
    ck_assert_int_eq(ts_write_file(tp, tb.b, tb.n), 0);
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_llama2c_read(ckpt, tp, &m, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *t = &m->tok;
    ck_assert_uint_eq(t->n_tokens, 6);
    ck_assert_str_eq(t->tokens[0].s, "<unk>");
    ck_assert_str_eq(t->tokens[1].s, "<s>");
    ck_assert_str_eq(t->tokens[2].s, "</s>");
    ck_assert_str_eq(t->tokens[3].s, "<0x0A>");
    ck_assert_str_eq(t->tokens[4].s, "\xe2\x96\x81the\xe2\x96\x81"
                                     "cat");
    ck_assert_uint_eq(t->tokens[4].len, 12);
    ck_assert_uint_eq(t->tokens[5].len, 0);
    int32_t types[6] = {2, 3, 3, 6, 1, 3};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(t->token_types[i], types[i]);
    ck_assert(t->scores[3] == -1.5f);
    ck_assert(t->scores[4] == -2.0f);
    slm_model_free(m);
}
END_TEST

START_TEST(tokenizer_truncated) {
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", write_checkpoint("tokck2.bin", &small, 0));
    tokbuf tb;
    small_vocab(&tb);
    const char *tp = ts_tmp("tok_trunc.bin");
    /* drop the last token's header: 5 of 6 tokens present */
    ck_assert_int_eq(ts_write_file(tp, tb.b, tb.n - 8), 0);
    char tpath[4096];
    snprintf(tpath, sizeof tpath, "%s", tp);
    expect_read_error(ckpt, tpath, "token 5 starts at byte", "expected 6 tokens");
    /* max_token_length cut short */
    ck_assert_int_eq(ts_write_file(tpath, tb.b, 2), 0);
    expect_read_error(ckpt, tpath, "too short", "max_token_length");
    /* a tokenizer with more tokens than the checkpoint's vocabulary */
    tokbuf big;
    small_vocab(&big);
    tb_token(&big, 0, "extra");
    ck_assert_int_eq(ts_write_file(tpath, big.b, big.n), 0);
    expect_read_error(ckpt, tpath, "follow the 6 tokens", NULL);
}
END_TEST

START_TEST(tokenizer_length_past_eof) {
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", write_checkpoint("tokck3.bin", &small, 0));
    tokbuf tb;
    small_vocab(&tb);
    /* token 4 (" the cat", at byte 4 + 13 + 11 + 12 + 14) claims 1000 bytes */
    size_t len_at = 4 + (8 + 4) + (8 + 5) + (8 + 6) + (8 + 6) + 4;
    int32_t huge = 1000;
    memcpy(tb.b + len_at, &huge, 4);
    const char *tp = ts_tmp("tok_eof.bin");
    ck_assert_int_eq(ts_write_file(tp, tb.b, tb.n), 0);
    char tpath[4096];
    snprintf(tpath, sizeof tpath, "%s", tp);
    expect_read_error(ckpt, tpath, "token 4 has length 1000", "remain");
    int32_t neg = -5;
    memcpy(tb.b + len_at, &neg, 4);
    ck_assert_int_eq(ts_write_file(tpath, tb.b, tb.n), 0);
    expect_read_error(ckpt, tpath, "token 4 has length -5", NULL);
}
END_TEST

START_TEST(tokenizer_error_keeps_model_usable) {
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", write_checkpoint("tokck4.bin", &small, 0));
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_int_eq(slm_llama2c_read(ckpt, NULL, &m, &d), SLM_OK);
    const char *tp = ts_tmp("tok_empty.bin");
    ck_assert_int_eq(ts_write_file(tp, "", 0), 0);
    ck_assert_int_eq(slm_llama2c_read_tokenizer(m, tp, 6, &d), SLM_ERR_INPUT);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_NONE);
    ck_assert_uint_eq(m->tok.n_tokens, 0);
    ck_assert_uint_eq(m->n_inputs, 1);
    slm_diag_clear(&d);
    ck_assert_int_eq(slm_llama2c_read_tokenizer(m, ts_tmp("does-not-exist.bin"), 6, &d), SLM_ERR_IO);
    slm_model_free(m);
}
END_TEST

static Suite *llama2c_suite(void) {
    Suite *s = suite_create("llama2c");
    TCase *ref = tcase_create("reference");
    tcase_set_timeout(ref, 60);
    tcase_add_test(ref, golden_matches_reference);
    tcase_add_test(ref, stories_matches_reference);
    tcase_add_test(ref, sniff_real_checkpoint);
    suite_add_tcase(s, ref);
    TCase *syn = tcase_create("synthetic");
    tcase_add_test(syn, separate_classifier_layout);
    tcase_add_test(syn, tokenizer_conversion);
    suite_add_tcase(s, syn);
    TCase *bad = tcase_create("malformed");
    tcase_add_test(bad, truncated_checkpoint);
    tcase_add_test(bad, zero_or_negative_dims);
    tcase_add_test(bad, heads_not_dividing_dim);
    tcase_add_test(bad, tokenizer_truncated);
    tcase_add_test(bad, tokenizer_length_past_eof);
    tcase_add_test(bad, tokenizer_error_keeps_model_usable);
    suite_add_tcase(s, bad);
    return s;
}

int main(void) {
    return ts_run_suite(llama2c_suite());
}
