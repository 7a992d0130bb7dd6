/* slmc_mix.c - llama-quantize's per-tensor type rules (see slmc_mix.h).
 * The rules for file types slmc cannot encode (IQ1/IQ2/IQ3, TQ) and for
 * mixture-of-experts models are left out; everything else follows
 * llama_tensor_get_type line by line, including its quirks. */
#include "slmc_mix.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* LLAMA_FTYPE values (llama.h) */
enum {
    FT_ALL_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9,
    FT_Q2_K = 10, FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14, FT_Q4_K_M = 15,
    FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18, FT_Q2_K_S = 21, FT_IQ4_NL = 25, FT_IQ4_XS = 30,
    FT_BF16 = 32
};

static const slmc_mix mixes[] = {
    {"Q4_0", FT_Q4_0, SLM_TYPE_Q4_0},       {"Q4_1", FT_Q4_1, SLM_TYPE_Q4_1},
    {"Q5_0", FT_Q5_0, SLM_TYPE_Q5_0},       {"Q5_1", FT_Q5_1, SLM_TYPE_Q5_1},
    {"Q2_K", FT_Q2_K, SLM_TYPE_Q2_K},       {"Q2_K_S", FT_Q2_K_S, SLM_TYPE_Q2_K},
    {"Q3_K_S", FT_Q3_K_S, SLM_TYPE_Q3_K},   {"Q3_K_M", FT_Q3_K_M, SLM_TYPE_Q3_K},
    {"Q3_K_L", FT_Q3_K_L, SLM_TYPE_Q3_K},   {"IQ4_NL", FT_IQ4_NL, SLM_TYPE_IQ4_NL},
    {"IQ4_XS", FT_IQ4_XS, SLM_TYPE_IQ4_XS}, {"Q4_K_S", FT_Q4_K_S, SLM_TYPE_Q4_K},
    {"Q4_K_M", FT_Q4_K_M, SLM_TYPE_Q4_K},   {"Q5_K_S", FT_Q5_K_S, SLM_TYPE_Q5_K},
    {"Q5_K_M", FT_Q5_K_M, SLM_TYPE_Q5_K},   {"Q6_K", FT_Q6_K, SLM_TYPE_Q6_K},
    {"Q8_0", FT_Q8_0, SLM_TYPE_Q8_0},       {"F16", FT_F16, SLM_TYPE_F16},
    {"BF16", FT_BF16, SLM_TYPE_BF16},       {"F32", FT_ALL_F32, SLM_TYPE_F32},
};

/* llama-quantize's aliases: the bare K-type name means its _M mix */
static const struct { const char *alias, *name; } aliases[] = {
    {"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};

static bool eq_nocase(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b)) return false;
    return *a == *b;
}

const slmc_mix *slmc_mix_all(size_t *n) {
    *n = sizeof mixes / sizeof mixes[0];
    return mixes;
}

const slmc_mix *slmc_mix_find(const char *name) {
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (eq_nocase(name, aliases[i].alias)) name = aliases[i].name;
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        if (eq_nocase(name, mixes[i].name)) return &mixes[i];
    return NULL;
}

bool slmc_mix_is_preset_name(const char *name) {
    slm_type t;
    return slmc_mix_find(name) && !slm_type_from_name(name, &t);
}

void slmc_mix_model_init(slmc_mix_model *mm, const slm_model *m) {
    memset(mm, 0, sizeof *mm);
    mm->n_layer = m->hp.n_layer;
    uint32_t n_head = m->hp.n_head, n_kv = m->hp.n_head_kv ? m->hp.n_head_kv : n_head;
    mm->n_gqa = n_kv ? n_head / n_kv : 0;
    mm->is_falcon = strcmp(m->hp.arch, "falcon") == 0;
    /* llama.cpp's model-size guess for llama: 80 layers are 65B without GQA, 70B with it */
    mm->is_70b = strcmp(m->hp.arch, "llama") == 0 && m->hp.n_layer == 80 && n_kv != n_head;
    mm->output_type = SLM_TYPE_COUNT;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const char *name = m->tensors[i].name;
        if (strstr(name, "attn_v.weight") || strstr(name, "attn_qkv.weight") || strstr(name, "attn_kv_b.weight"))
            mm->n_attn_v++;
        else if (strcmp(name, "output.weight") == 0)
            mm->has_output = true;
    }
}

/* llama.cpp counts attn_v and ffn_down tensors in its (layer-sorted)
 * iteration order; for one such matrix per layer that count is the layer. */
static int layer_of(const char *name) {
    int layer = 0;
    if (sscanf(name, "blk.%d.", &layer) != 1) layer = 0;
    return layer;
}

/* The layers that get more bits in the _M mixes: the first and last eighth
 * and every third layer in between. */
static bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

static slm_type attn_v_type(uint32_t ft, const slmc_mix_model *mm, int i, slm_type t) {
    int n = (int)mm->n_attn_v;
    if (ft == FT_Q2_K) t = mm->n_gqa >= 4 ? SLM_TYPE_Q4_K : SLM_TYPE_Q3_K;
    else if (ft == FT_Q2_K_S && mm->n_gqa >= 4) t = SLM_TYPE_Q4_K;
    else if (ft == FT_Q3_K_M) t = i < 2 ? SLM_TYPE_Q5_K : SLM_TYPE_Q4_K;
    else if (ft == FT_Q3_K_L) t = SLM_TYPE_Q5_K;
    else if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && mm->n_gqa >= 4) t = SLM_TYPE_Q5_K;
    else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(i, n)) t = SLM_TYPE_Q6_K;
    else if (ft == FT_Q4_K_S && i < 4) t = SLM_TYPE_Q5_K;
    /* 70B shares each attn_v among 8 heads: more bits cost little there */
    if (mm->is_70b && (t == SLM_TYPE_Q3_K || t == SLM_TYPE_Q4_K)) t = SLM_TYPE_Q5_K;
    return t;
}

static slm_type ffn_down_type(uint32_t ft, const slmc_mix_model *mm, int i, slm_type t) {
    int n = (int)mm->n_layer;
    if (ft == FT_Q2_K) t = SLM_TYPE_Q3_K;
    else if (ft == FT_Q2_K_S) {
        if (i < n / 8) t = SLM_TYPE_Q4_K;
    } else if (ft == FT_Q3_K_M) {
        t = i < n / 16                                    ? SLM_TYPE_Q5_K
            : !mm->is_falcon || use_more_bits(i, n) ? SLM_TYPE_Q4_K
                                                          : SLM_TYPE_Q3_K;
    } else if (ft == FT_Q3_K_L) {
        t = mm->is_falcon ? SLM_TYPE_Q4_K : SLM_TYPE_Q5_K;
    } else if (ft == FT_Q4_K_M) {
        if (mm->is_falcon)
            t = i < n / 16 ? SLM_TYPE_Q6_K : use_more_bits(i, n) ? SLM_TYPE_Q5_K : SLM_TYPE_Q4_K;
        else if (use_more_bits(i, n))
            t = SLM_TYPE_Q6_K;
    } else if (i < n / 8 && (ft == FT_IQ4_NL || ft == FT_IQ4_XS) && !mm->has_imatrix) {
        t = SLM_TYPE_Q5_K;
    } else if (ft == FT_Q5_K_M && use_more_bits(i, n)) {
        t = SLM_TYPE_Q6_K;
    } else if (ft == FT_Q4_K_S && !mm->is_falcon && i < n / 8) {
        t = SLM_TYPE_Q5_K;
    } else if ((ft == FT_Q4_0 || ft == FT_Q5_0) && mm->has_imatrix && i < n / 8) {
        /* llama.cpp guards the first ffn_down layers of imatrix Q4_0/Q5_0 */
        t = ft == FT_Q4_0 ? SLM_TYPE_Q4_1 : SLM_TYPE_Q5_1;
    }
    return t;
}

static slm_type attn_output_type(uint32_t ft, const slmc_mix_model *mm, slm_type t) {
    if (mm->is_falcon) return ft == FT_Q3_K_L ? SLM_TYPE_Q4_K : t;
    if (ft == FT_Q2_K) return SLM_TYPE_Q3_K;
    if (ft == FT_Q3_K_M) return SLM_TYPE_Q4_K;
    if (ft == FT_Q3_K_L) return SLM_TYPE_Q5_K;
    return t;
}

static slm_type attn_qkv_type(uint32_t ft, slm_type t) {
    if (ft == FT_Q3_K_M || ft == FT_Q3_K_L) return SLM_TYPE_Q4_K;
    if (ft == FT_Q4_K_M) return SLM_TYPE_Q5_K;
    if (ft == FT_Q5_K_M) return SLM_TYPE_Q6_K;
    return t;
}

slm_type slmc_mix_tensor_type(const slmc_mix *mix, const slmc_mix_model *mm, const char *name, int64_t ne0) {
    slm_type t = mix->base;
    uint32_t ft = mix->ftype;
    if (!slm_type_is_quantized(t)) return t; /* llama.cpp applies no rules to F32/F16/BF16 */
    /* the classifier: output.weight, or token_embd when the two are shared */
    if (strcmp(name, "output.weight") == 0 || (!mm->has_output && strcmp(name, "token_embd.weight") == 0)) {
        if (mm->output_type != SLM_TYPE_COUNT) return mm->output_type;
        if (mm->is_falcon || ne0 % slm_type_traits_get(t)->blck != 0) return SLM_TYPE_Q8_0;
        return t != SLM_TYPE_Q8_0 ? SLM_TYPE_Q6_K : t;
    }
    if (strcmp(name, "token_embd.weight") == 0) return t; /* only IQ1/IQ2/IQ3/TQ mixes change it */
    if (strstr(name, "attn_v.weight")) return attn_v_type(ft, mm, layer_of(name), t);
    if (strstr(name, "attn_k.weight") || strstr(name, "attn_q.weight")) return t;
    if (strstr(name, "ffn_down")) return ffn_down_type(ft, mm, layer_of(name), t);
    if (strstr(name, "attn_output.weight")) return attn_output_type(ft, mm, t);
    if (strstr(name, "attn_qkv.weight")) return attn_qkv_type(ft, t);
    return t;
}

slm_type slmc_llama_fallback(slm_type wanted) {
    switch (wanted) {
    case SLM_TYPE_Q2_K:
    case SLM_TYPE_Q3_K:
    case SLM_TYPE_IQ4_XS:
    case SLM_TYPE_IQ2_XXS:
    case SLM_TYPE_IQ2_XS:
    case SLM_TYPE_IQ2_S:
    case SLM_TYPE_IQ3_XXS:
    case SLM_TYPE_IQ3_S:
    case SLM_TYPE_IQ1_S:
    case SLM_TYPE_IQ1_M: return SLM_TYPE_IQ4_NL;
    case SLM_TYPE_TQ1_0:
    case SLM_TYPE_TQ2_0: return SLM_TYPE_Q4_0;
    case SLM_TYPE_Q4_K: return SLM_TYPE_Q5_0;
    case SLM_TYPE_Q5_K: return SLM_TYPE_Q5_1;
    case SLM_TYPE_Q6_K: return SLM_TYPE_Q8_0;
    default: return SLM_TYPE_COUNT;
    }
}

slm_type slmc_fallback_type(slm_type wanted, int64_t ne0) {
    const slm_type_traits *tt = slm_type_traits_get(wanted);
    if (tt && ne0 % tt->blck == 0) return wanted;
    slm_type t = slmc_llama_fallback(wanted);
    return t != SLM_TYPE_COUNT && ne0 % slm_type_traits_get(t)->blck == 0 ? t : SLM_TYPE_F16;
}

slm_status slmc_mix_check_weights(const slmc_mix *mix, const slm_model *m, slm_diag *d) {
    if (!mix || mix->ftype != FT_Q2_K_S) return SLM_OK;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (t->out_type == SLM_TYPE_Q2_K && t->type != SLM_TYPE_Q2_K && !t->quant_weights &&
            strcmp(t->name, "token_embd.weight") != 0)
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "%s: Q2_K_S quantizes this matrix to q2_k, which needs importance weights, and "
                                "there are none for it (pass --calib FILE with an entry for it, or use q2_k)",
                                t->name);
    }
    return SLM_OK;
}
