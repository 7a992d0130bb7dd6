/* slm_hf_names.c - Hugging Face <-> llama.cpp tensor names (formats.md §4.1)
 * and slm_hf_add_tensor, the one place that turns an HF tensor (name, shape
 * outermost first, rotate-half Q/K rows) into an IR tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_hf.h"

typedef struct hf_name_pair {
    const char *hf;
    const char *gguf;
    int permute; /* 1: Q rows (n_head), 2: K rows (n_head_kv) */
} hf_name_pair;

static const hf_name_pair hf_global_names[] = {
    {"model.embed_tokens.weight", "token_embd.weight", 0},
    {"model.norm.weight", "output_norm.weight", 0},
    {"lm_head.weight", "output.weight", 0},
};

/* Suffixes after "model.layers.N." / "blk.N.". */
static const hf_name_pair hf_layer_names[] = {
    {"input_layernorm.weight", "attn_norm.weight", 0},
    {"self_attn.q_proj.weight", "attn_q.weight", 1},
    {"self_attn.q_proj.bias", "attn_q.bias", 1},
    {"self_attn.k_proj.weight", "attn_k.weight", 2},
    {"self_attn.k_proj.bias", "attn_k.bias", 2},
    {"self_attn.v_proj.weight", "attn_v.weight", 0},
    {"self_attn.v_proj.bias", "attn_v.bias", 0},
    {"self_attn.o_proj.weight", "attn_output.weight", 0},
    {"self_attn.o_proj.bias", "attn_output.bias", 0},
    {"post_attention_layernorm.weight", "ffn_norm.weight", 0},
    {"mlp.gate_proj.weight", "ffn_gate.weight", 0},
    {"mlp.gate_proj.bias", "ffn_gate.bias", 0},
    {"mlp.up_proj.weight", "ffn_up.weight", 0},
    {"mlp.up_proj.bias", "ffn_up.bias", 0},
    {"mlp.down_proj.weight", "ffn_down.weight", 0},
    {"mlp.down_proj.bias", "ffn_down.bias", 0},
};

#define N_GLOBAL (sizeof hf_global_names / sizeof hf_global_names[0])
#define N_LAYER (sizeof hf_layer_names / sizeof hf_layer_names[0])

/* Parses "<prefix><N>." at the start of s: N plain decimal without leading
 * zeros (so each layer has exactly one spelling). Returns the rest or NULL. */
static const char *parse_layer_prefix(const char *s, const char *prefix, unsigned *layer) {
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl) != 0) return NULL;
    s += pl;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '.')) return NULL;
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s++ - '0');
        if (v > 999999) return NULL;
    }
    if (*s != '.') return NULL;
    *layer = (unsigned)v;
    return s + 1;
}

static bool map_name(const char *in, char *out, size_t out_size, int *permute, bool to_gguf) {
    *permute = 0;
    for (size_t i = 0; i < N_GLOBAL; i++) {
        const char *from = to_gguf ? hf_global_names[i].hf : hf_global_names[i].gguf;
        const char *to = to_gguf ? hf_global_names[i].gguf : hf_global_names[i].hf;
        if (strcmp(in, from) == 0) return (size_t)snprintf(out, out_size, "%s", to) < out_size;
    }
    unsigned layer;
    const char *rest = parse_layer_prefix(in, to_gguf ? "model.layers." : "blk.", &layer);
    if (!rest) return false;
    for (size_t i = 0; i < N_LAYER; i++) {
        const char *from = to_gguf ? hf_layer_names[i].hf : hf_layer_names[i].gguf;
        const char *to = to_gguf ? hf_layer_names[i].gguf : hf_layer_names[i].hf;
        if (strcmp(rest, from) != 0) continue;
        *permute = hf_layer_names[i].permute;
        return (size_t)snprintf(out, out_size, to_gguf ? "blk.%u.%s" : "model.layers.%u.%s", layer, to) < out_size;
    }
    return false;
}

bool slm_hf_name_to_gguf(const char *hf, char out[SLM_MAX_NAME], int *permute) {
    int p;
    bool ok = map_name(hf, out, SLM_MAX_NAME, &p, true);
    if (permute) *permute = ok ? p : 0;
    return ok;
}

bool slm_hf_name_from_gguf(const char *gguf, char *out, size_t out_size, int *permute) {
    int p;
    bool ok = map_name(gguf, out, out_size, &p, false);
    if (permute) *permute = ok ? p : 0;
    return ok;
}

slm_status slm_hf_add_tensor(slm_model *m, const char *hf_name, slm_type type, int n_dims, const int64_t *hf_shape,
                             const void *src, slm_tensor_load_fn load, void *load_ctx, uint64_t load_arg,
                             slm_tensor **out, slm_diag *d) {
    if (out) *out = NULL;
    char name[SLM_MAX_NAME];
    int permute;
    if (!slm_hf_name_to_gguf(hf_name, name, &permute)) return SLM_OK;
    if (n_dims < 1 || n_dims > SLM_MAX_DIMS)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor '%s' has %d dimensions, expected 1 to %d", hf_name,
                            n_dims, SLM_MAX_DIMS);
    if (!src && !load) return slm_diag_set(d, SLM_ERR_INTERNAL, "tensor '%s': no data source", hf_name);
    int64_t ne[SLM_MAX_DIMS] = {1, 1, 1, 1};
    for (int i = 0; i < n_dims; i++) ne[i] = hf_shape[n_dims - 1 - i];

    uint32_t heads = 0;
    if (permute) {
        heads = permute == 1 ? m->hp.n_head : (m->hp.n_head_kv ? m->hp.n_head_kv : m->hp.n_head);
        if (heads == 0)
            return slm_diag_set(d, SLM_ERR_INPUT, "tensor '%s': head count unknown, cannot undo the Q/K permutation",
                                hf_name);
        /* The permutation works on rows (elements for a bias): there must be
         * `heads` heads of the configured, even, head size. */
        int64_t rows = n_dims == 1 ? ne[0] : ne[1] * ne[2] * ne[3];
        uint32_t hd = slm_hparams_head_dim(&m->hp);
        if (rows % (2 * (int64_t)heads) != 0 || (hd && rows != (int64_t)heads * hd))
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "tensor '%s' has %lld output rows, expected %u heads x head size %u = %lld (from the "
                                "config) with an even head size",
                                hf_name, (long long)rows, heads, hd, (long long)heads * hd);
    }
    slm_tensor *t;
    slm_status st = slm_model_add_tensor(m, name, type, n_dims, ne, &t, d);
    if (st != SLM_OK) {
        slm_diag_prefix(d, hf_name);
        return st;
    }
    t->src = src;
    t->load = src ? NULL : load;
    t->load_ctx = load_ctx;
    t->load_arg = load_arg;
    t->permute_heads = heads;
    if (out) *out = t;
    return SLM_OK;
}

/* ------------------------------------------------------------ ordering */

static const char *const block_parts[] = {
    "attn_norm.weight", "attn_q.weight",      "attn_q.bias",      "attn_k.weight",   "attn_k.bias",
    "attn_v.weight",    "attn_v.bias",        "attn_output.weight", "attn_output.bias", "ffn_norm.weight",
    "ffn_gate.weight",  "ffn_gate.bias",      "ffn_up.weight",    "ffn_up.bias",     "ffn_down.weight",
    "ffn_down.bias",
};
#define N_BLOCK_PARTS (sizeof block_parts / sizeof block_parts[0])

typedef struct name_rank {
    int group;           /* 0 token_embd, 1 blocks and anything else, 2 output_norm, 3 output */
    unsigned long layer; /* for blocks */
    size_t part;         /* position inside a block */
} name_rank;

static name_rank rank_of(const char *gguf) {
    name_rank r = {1, 0, N_BLOCK_PARTS};
    if (strcmp(gguf, "token_embd.weight") == 0) {
        r.group = 0;
    } else if (strcmp(gguf, "output_norm.weight") == 0) {
        r.group = 2;
    } else if (strcmp(gguf, "output.weight") == 0) {
        r.group = 3;
    } else if (strncmp(gguf, "blk.", 4) == 0) {
        char *end;
        r.layer = strtoul(gguf + 4, &end, 10);
        const char *rest = *end == '.' ? end + 1 : end;
        for (size_t i = 0; i < N_BLOCK_PARTS; i++)
            if (strcmp(rest, block_parts[i]) == 0) r.part = i;
    }
    return r;
}

int slm_tensor_name_order(const char *a, const char *b) {
    name_rank x = rank_of(a), y = rank_of(b);
    if (x.group != y.group) return x.group - y.group;
    if (x.layer != y.layer) return x.layer < y.layer ? -1 : 1;
    if (x.part != y.part) return x.part < y.part ? -1 : 1;
    return strcmp(a, b);
}
