/* slm_gguf_meta.c - the mapping between GGUF metadata keys and the model's
 * slm_hparams / slm_tokenizer, in both directions (formats.md §3).
 *
 * Reading: slm_gguf_absorb_kv turns one key/value into a field and reports
 * whether it was consumed. Writing: slm_gguf_model_kvs lists the key/values
 * that express the fields again, so a GGUF passes through without gaining or
 * losing keys. Types are checked as strictly as llama.cpp checks them. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"

#define TOK_PREFIX "tokenizer.ggml."

/* ------------------------------------------------------------ hparams */

typedef enum hp_kind { HP_U32, HP_F32, HP_ROPE_TYPE } hp_kind;

typedef struct hp_key {
    const char *suffix;  /* after "{arch}." */
    size_t offset;       /* field in slm_hparams */
    hp_kind kind;
    uint32_t bit;        /* SLM_HP_* presence bit; 0 = required, always written */
    bool per_layer_ok;   /* an INT32 array (one value per layer) is legal */
} hp_key;

/* Table order is the order the writer emits the keys in. */
static const hp_key hp_keys[] = {
    {"context_length", offsetof(slm_hparams, n_ctx), HP_U32, 0, false},
    {"embedding_length", offsetof(slm_hparams, n_embd), HP_U32, 0, false},
    {"block_count", offsetof(slm_hparams, n_layer), HP_U32, 0, false},
    {"feed_forward_length", offsetof(slm_hparams, n_ff), HP_U32, 0, true},
    {"attention.head_count", offsetof(slm_hparams, n_head), HP_U32, 0, true},
    {"attention.head_count_kv", offsetof(slm_hparams, n_head_kv), HP_U32, SLM_HP_HEAD_COUNT_KV, true},
    {"attention.layer_norm_rms_epsilon", offsetof(slm_hparams, rms_eps), HP_F32, SLM_HP_RMS_EPS, false},
    {"rope.dimension_count", offsetof(slm_hparams, n_rot), HP_U32, SLM_HP_ROPE_DIM, false},
    {"rope.freq_base", offsetof(slm_hparams, rope_freq_base), HP_F32, SLM_HP_ROPE_FREQ_BASE, false},
    {"attention.key_length", offsetof(slm_hparams, key_length), HP_U32, SLM_HP_KEY_LENGTH, false},
    {"attention.value_length", offsetof(slm_hparams, value_length), HP_U32, SLM_HP_VALUE_LENGTH, false},
    {"rope.scaling.type", offsetof(slm_hparams, rope_scaling), HP_ROPE_TYPE, SLM_HP_ROPE_SCALING, false},
    {"rope.scaling.factor", offsetof(slm_hparams, rope_scaling_factor), HP_F32, SLM_HP_ROPE_SCALING, false},
    {"rope.scaling.original_context_length", offsetof(slm_hparams, rope_scaling_orig_ctx), HP_U32,
     SLM_HP_ROPE_SCALING, false},
    {"vocab_size", offsetof(slm_hparams, n_vocab), HP_U32, SLM_HP_VOCAB_SIZE, false},
};
#define N_HP_KEYS (sizeof hp_keys / sizeof hp_keys[0])

static const char *const rope_scaling_names[] = {"none", "linear", "yarn", "longrope"};

/* The suffix after "{arch}." when key belongs to the model's architecture. */
static const char *arch_suffix(const slm_model *m, const char *key) {
    size_t al = strlen(m->hp.arch);
    if (al == 0 || strncmp(key, m->hp.arch, al) != 0 || key[al] != '.') return NULL;
    return key + al + 1;
}

static bool wrong_type(slm_diag *d, const char *key, const slm_value *v, const char *expected) {
    if (v->type == SLM_V_ARR)
        slm_diag_set(d, SLM_ERR_INPUT, "key '%s' has type array of %s, expected %s", key,
                     slm_vtype_name(v->arr_type), expected);
    else
        slm_diag_set(d, SLM_ERR_INPUT, "key '%s' has type %s, expected %s", key, slm_vtype_name(v->type),
                     expected);
    return false;
}

static bool absorb_hparam(slm_model *m, const hp_key *k, const char *key, const slm_value *v, slm_diag *d) {
    char *field = (char *)&m->hp + k->offset;
    switch (k->kind) {
    case HP_U32:
        if (v->type == SLM_V_ARR && k->per_layer_ok && v->arr_type == SLM_V_I32)
            return false; /* per-layer values: kept verbatim as free metadata */
        if (v->type != SLM_V_U32)
            return wrong_type(d, key, v, k->per_layer_ok ? "u32 or an array of i32" : "u32");
        *(uint32_t *)field = (uint32_t)v->v.u64;
        break;
    case HP_F32:
        if (v->type != SLM_V_F32) return wrong_type(d, key, v, "f32");
        *(float *)field = (float)v->v.f64;
        break;
    case HP_ROPE_TYPE: {
        if (v->type != SLM_V_STR) return wrong_type(d, key, v, "str");
        size_t i = 0;
        for (; i < sizeof rope_scaling_names / sizeof rope_scaling_names[0]; i++)
            if (v->v.str.len == strlen(rope_scaling_names[i]) && strcmp(v->v.str.s, rope_scaling_names[i]) == 0)
                break;
        if (i == sizeof rope_scaling_names / sizeof rope_scaling_names[0]) {
            slm_diag_set(d, SLM_ERR_INPUT, "key '%s' is '%.64s', expected none, linear, yarn or longrope", key,
                         v->v.str.s);
            return false;
        }
        m->hp.rope_scaling = (slm_rope_scaling)i;
        break;
    }
    }
    m->hp.has |= k->bit;
    return true;
}

static bool absorb_arch(slm_model *m, const char *key, const slm_value *v, slm_diag *d) {
    if (v->type != SLM_V_STR) return wrong_type(d, key, v, "str");
    if (v->v.str.len == 0 || v->v.str.len >= sizeof m->hp.arch || strlen(v->v.str.s) != v->v.str.len) {
        slm_diag_set(d, SLM_ERR_INPUT, "key '%s' is '%.64s', expected a name of 1..%zu bytes", key, v->v.str.s,
                     sizeof m->hp.arch - 1);
        return false;
    }
    memcpy(m->hp.arch, v->v.str.s, v->v.str.len + 1);
    return true;
}

/* ---------------------------------------------------------- tokenizer */

static bool nomem(slm_diag *d, const char *key) {
    slm_diag_set(d, SLM_ERR_NOMEM, "key '%s': out of memory", key);
    return false;
}

static bool absorb_string(slm_model *m, const char *key, const slm_value *v, char **dst, slm_diag *d) {
    if (v->type != SLM_V_STR) return wrong_type(d, key, v, "str");
    char *s = slm_model_strndup(m, v->v.str.s, v->v.str.len);
    if (!s) return nomem(d, key);
    *dst = s;
    return true;
}

static bool absorb_str_array(slm_model *m, const char *key, const slm_value *v, slm_str **dst, uint32_t *n,
                             slm_diag *d) {
    if (v->type != SLM_V_ARR || v->arr_type != SLM_V_STR) return wrong_type(d, key, v, "array of str");
    if (v->n > UINT32_MAX) {
        slm_diag_set(d, SLM_ERR_INPUT, "key '%s' has %llu entries, expected at most %u", key,
                     (unsigned long long)v->n, UINT32_MAX);
        return false;
    }
    slm_str *a = slm_model_alloc(m, (size_t)v->n * sizeof *a + 1);
    if (!a) return nomem(d, key);
    const slm_str *src = v->v.arr;
    for (uint64_t i = 0; i < v->n; i++) {
        a[i].s = slm_model_strndup(m, src[i].s, src[i].len);
        if (!a[i].s) return nomem(d, key);
        a[i].len = src[i].len;
    }
    *dst = a;
    *n = (uint32_t)v->n;
    return true;
}

/* scores (f32) and token_type (i32): one entry per token, so the token list
 * has to be known first. */
static bool absorb_per_token(slm_model *m, const char *key, const slm_value *v, slm_vtype elem, void **dst,
                             slm_diag *d) {
    char expected[32];
    snprintf(expected, sizeof expected, "array of %s", slm_vtype_name(elem));
    if (v->type != SLM_V_ARR || v->arr_type != elem) return wrong_type(d, key, v, expected);
    if (!m->tok.tokens) {
        slm_diag_set(d, SLM_ERR_INPUT, "key '%s' has %llu entries but there is no " TOK_PREFIX
                     "tokens list to match", key, (unsigned long long)v->n);
        return false;
    }
    if (v->n != m->tok.n_tokens) {
        slm_diag_set(d, SLM_ERR_INPUT, "key '%s' has %llu entries, expected %u (one per token in " TOK_PREFIX
                     "tokens)", key, (unsigned long long)v->n, m->tok.n_tokens);
        return false;
    }
    size_t bytes = (size_t)v->n * 4;
    void *a = slm_model_alloc(m, bytes + 1);
    if (!a) return nomem(d, key);
    if (bytes) memcpy(a, v->v.arr, bytes);
    *dst = a;
    return true;
}

static bool absorb_id(const char *key, const slm_value *v, int64_t *dst, slm_diag *d) {
    if (v->type != SLM_V_U32) return wrong_type(d, key, v, "u32");
    *dst = (int64_t)v->v.u64;
    return true;
}

static bool absorb_bool(const char *key, const slm_value *v, int8_t *dst, slm_diag *d) {
    if (v->type != SLM_V_BOOL) return wrong_type(d, key, v, "bool");
    *dst = v->v.b ? 1 : 0;
    return true;
}

static bool absorb_tokenizer(slm_model *m, const char *key, const slm_value *v, slm_diag *d) {
    slm_tokenizer *t = &m->tok;
    const char *k = key + strlen(TOK_PREFIX);
    if (strcmp(k, "model") == 0) {
        if (!absorb_string(m, key, v, &t->model_name, d)) return false;
        t->kind = strcmp(t->model_name, "llama") == 0  ? SLM_TOK_SPM
                  : strcmp(t->model_name, "gpt2") == 0 ? SLM_TOK_BPE
                                                       : SLM_TOK_NONE;
        return true;
    }
    if (strcmp(k, "pre") == 0) return absorb_string(m, key, v, &t->pre, d);
    if (strcmp(k, "tokens") == 0) return absorb_str_array(m, key, v, &t->tokens, &t->n_tokens, d);
    if (strcmp(k, "merges") == 0) return absorb_str_array(m, key, v, &t->merges, &t->n_merges, d);
    if (strcmp(k, "scores") == 0) return absorb_per_token(m, key, v, SLM_V_F32, (void **)&t->scores, d);
    if (strcmp(k, "token_type") == 0) return absorb_per_token(m, key, v, SLM_V_I32, (void **)&t->token_types, d);
    if (strcmp(k, "bos_token_id") == 0) return absorb_id(key, v, &t->bos_id, d);
    if (strcmp(k, "eos_token_id") == 0) return absorb_id(key, v, &t->eos_id, d);
    if (strcmp(k, "unknown_token_id") == 0) return absorb_id(key, v, &t->unk_id, d);
    if (strcmp(k, "padding_token_id") == 0) return absorb_id(key, v, &t->pad_id, d);
    if (strcmp(k, "seperator_token_id") == 0) return absorb_id(key, v, &t->sep_id, d);
    if (strcmp(k, "add_bos_token") == 0) return absorb_bool(key, v, &t->add_bos, d);
    if (strcmp(k, "add_eos_token") == 0) return absorb_bool(key, v, &t->add_eos, d);
    if (strcmp(k, "add_space_prefix") == 0) return absorb_bool(key, v, &t->add_space_prefix, d);
    return false;
}

bool slm_gguf_absorb_kv(slm_model *m, const char *key, const slm_value *v, slm_diag *d) {
    if (strcmp(key, "general.architecture") == 0) return absorb_arch(m, key, v, d);
    if (strncmp(key, TOK_PREFIX, strlen(TOK_PREFIX)) == 0) return absorb_tokenizer(m, key, v, d);
    if (strcmp(key, "tokenizer.chat_template") == 0) return absorb_string(m, key, v, &m->tok.chat_template, d);
    const char *suffix = arch_suffix(m, key);
    if (!suffix) return false;
    for (size_t i = 0; i < N_HP_KEYS; i++)
        if (strcmp(suffix, hp_keys[i].suffix) == 0) return absorb_hparam(m, &hp_keys[i], key, v, d);
    return false;
}

/* ------------------------------------------------------------- writing */

#define KEY_CAP 128 /* "{arch}." (< 32) + the longest suffix, with room */

typedef struct kv_list {
    slm_kv *kv;
    char (*keys)[KEY_CAP];
    uint32_t n;
} kv_list;

static slm_value *push(kv_list *l, const char *prefix, const char *name) {
    slm_kv *e = &l->kv[l->n];
    snprintf(l->keys[l->n], KEY_CAP, "%s%s", prefix, name);
    e->key = l->keys[l->n];
    memset(&e->value, 0, sizeof e->value);
    l->n++;
    return &e->value;
}

static void push_str(kv_list *l, const char *prefix, const char *name, const char *s) {
    slm_value *v = push(l, prefix, name);
    v->type = SLM_V_STR;
    v->v.str.s = (char *)s;
    v->v.str.len = strlen(s);
}

static void push_arr(kv_list *l, const char *name, slm_vtype elem, uint64_t n, const void *a) {
    slm_value *v = push(l, TOK_PREFIX, name);
    v->type = SLM_V_ARR;
    v->arr_type = elem;
    v->n = n;
    v->v.arr = (void *)a;
}

static void push_u32(kv_list *l, const char *prefix, const char *name, uint32_t x) {
    slm_value *v = push(l, prefix, name);
    v->type = SLM_V_U32;
    v->v.u64 = x;
}

static void push_bool(kv_list *l, const char *name, int8_t b) {
    slm_value *v = push(l, TOK_PREFIX, name);
    v->type = SLM_V_BOOL;
    v->v.b = b != 0;
}

/* A per-layer array in the free metadata wins over the scalar field, which
 * the reader left unset for it. */
static bool free_array_present(const slm_model *m, const char *key) {
    const slm_kv *kv = slm_model_find_kv(m, key);
    return kv && kv->value.type == SLM_V_ARR;
}

static void list_hparams(const slm_model *m, kv_list *l) {
    const slm_hparams *hp = &m->hp;
    char prefix[sizeof hp->arch + 1];
    snprintf(prefix, sizeof prefix, "%s.", hp->arch);
    for (size_t i = 0; i < N_HP_KEYS; i++) {
        const hp_key *k = &hp_keys[i];
        if (k->bit && !(hp->has & k->bit)) continue;
        const char *field = (const char *)hp + k->offset;
        if (k->kind == HP_U32) {
            uint32_t x = *(const uint32_t *)field;
            /* one presence bit covers the whole rope-scaling group; an unset
             * original context stays unwritten rather than written as 0 */
            if (k->offset == offsetof(slm_hparams, rope_scaling_orig_ctx) && x == 0) continue;
            char key[KEY_CAP];
            snprintf(key, sizeof key, "%s%s", prefix, k->suffix);
            if (k->per_layer_ok && free_array_present(m, key)) continue;
            push_u32(l, prefix, k->suffix, x);
        } else if (k->kind == HP_F32) {
            slm_value *v = push(l, prefix, k->suffix);
            v->type = SLM_V_F32;
            v->v.f64 = *(const float *)field;
        } else {
            unsigned r = (unsigned)hp->rope_scaling;
            push_str(l, prefix, k->suffix, r < 4 ? rope_scaling_names[r] : "none");
        }
    }
}

static void list_tokenizer(const slm_model *m, kv_list *l) {
    const slm_tokenizer *t = &m->tok;
    if (t->kind == SLM_TOK_NONE && !t->tokens && !t->model_name) return;
    const char *model = t->model_name                ? t->model_name
                        : t->kind == SLM_TOK_SPM ? "llama"
                        : t->kind == SLM_TOK_BPE ? "gpt2"
                                                 : "none";
    push_str(l, TOK_PREFIX, "model", model);
    if (t->pre) push_str(l, TOK_PREFIX, "pre", t->pre);
    if (t->tokens) push_arr(l, "tokens", SLM_V_STR, t->n_tokens, t->tokens);
    if (t->tokens && t->scores) push_arr(l, "scores", SLM_V_F32, t->n_tokens, t->scores);
    if (t->tokens && t->token_types) push_arr(l, "token_type", SLM_V_I32, t->n_tokens, t->token_types);
    if (t->merges) push_arr(l, "merges", SLM_V_STR, t->n_merges, t->merges);
    const struct {
        const char *name;
        int64_t id;
    } ids[] = {{"bos_token_id", t->bos_id},
               {"eos_token_id", t->eos_id},
               {"unknown_token_id", t->unk_id},
               {"padding_token_id", t->pad_id},
               {"seperator_token_id", t->sep_id}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].id >= 0 && ids[i].id <= UINT32_MAX) push_u32(l, TOK_PREFIX, ids[i].name, (uint32_t)ids[i].id);
    if (t->add_bos >= 0) push_bool(l, "add_bos_token", t->add_bos);
    if (t->add_eos >= 0) push_bool(l, "add_eos_token", t->add_eos);
    if (t->add_space_prefix >= 0) push_bool(l, "add_space_prefix", t->add_space_prefix);
}

slm_status slm_gguf_model_kvs(const slm_model *m, slm_kv **out, uint32_t *n_out, slm_diag *d) {
    *out = NULL;
    *n_out = 0;
    /* hparams, tokenizer keys (17 at most) and the chat template */
    size_t cap = N_HP_KEYS + 18;
    /* one block: entries first, then their key strings */
    char *block = malloc(cap * (sizeof(slm_kv) + KEY_CAP));
    if (!block) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory listing metadata keys");
    kv_list l = {.kv = (slm_kv *)block, .keys = (char (*)[KEY_CAP])(block + cap * sizeof(slm_kv)), .n = 0};
    if (m->hp.arch[0]) list_hparams(m, &l);
    list_tokenizer(m, &l);
    if (m->tok.chat_template) push_str(&l, "tokenizer.", "chat_template", m->tok.chat_template);
    *out = l.kv;
    *n_out = l.n;
    return SLM_OK;
}
