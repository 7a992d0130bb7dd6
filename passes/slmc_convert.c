/* slmc_convert.c - per-tensor output types for `slmc compile`. */
#include "slmc_convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int slmc_file_type_for(slm_type t) {
    switch (t) {
    case SLM_TYPE_F32: return 0;
    case SLM_TYPE_F16: return 1;
    case SLM_TYPE_Q4_0: return 2;
    case SLM_TYPE_Q4_1: return 3;
    case SLM_TYPE_Q8_0: return 7;
    case SLM_TYPE_Q5_0: return 8;
    case SLM_TYPE_Q5_1: return 9;
    case SLM_TYPE_Q2_K: return 10;
    case SLM_TYPE_Q3_K: return 12; /* Q3_K_M is the llama.cpp name for "mostly Q3_K" */
    case SLM_TYPE_Q4_K: return 15;
    case SLM_TYPE_Q5_K: return 17;
    case SLM_TYPE_Q6_K: return 18;
    case SLM_TYPE_IQ4_NL: return 25;
    case SLM_TYPE_IQ4_XS: return 30;
    case SLM_TYPE_BF16: return 32;
    default: return -1;
    }
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* llama-quantize's list (llama_model_quantize_impl): norms, expert gates,
 * position/token-type embeddings and a few small architecture-specific
 * matrices stay as they are; both reference converters keep them F32. */
bool slmc_is_quantizable(const slm_tensor *t) {
    static const char *never[] = {"_norm.weight",         "ffn_gate_inp.weight",     "ssm_conv1d.weight",
                                  "time_mix_first.weight", "time_mix_w1.weight",      "time_mix_w2.weight",
                                  "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
                                  "time_mix_lerp_fused.weight", "attn_rel_b.weight"};
    if (t->n_dims < 2 || !ends_with(t->name, "weight")) return false;
    if (strcmp(t->name, "position_embd.weight") == 0 || strcmp(t->name, "token_types.weight") == 0) return false;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (strstr(t->name, never[i])) return false;
    return true;
}

/* The most common matrix out_type decides the file type, as llama.cpp's
 * guess does when general.file_type is absent. */
uint32_t slmc_file_type_of(const slm_model *m) {
    uint64_t count[SLM_TYPE_COUNT] = {0};
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (slmc_is_quantizable(t) && (unsigned)t->out_type < SLM_TYPE_COUNT)
            count[t->out_type] += (uint64_t)slm_tensor_nelements(t);
    }
    int best = SLM_TYPE_F32;
    for (int i = 0; i < SLM_TYPE_COUNT; i++)
        if (count[i] > count[best]) best = i;
    int ft = slmc_file_type_for((slm_type)best);
    return ft < 0 ? 0 : (uint32_t)ft;
}

void slmc_convert_opts_init(slmc_convert_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = SLMC_CONVERT_KEEP;
    o->embedding_type = o->output_type = SLM_TYPE_COUNT;
}

static slm_status add_fallback(slmc_convert_result *res, const slm_tensor *t, slm_type wanted, slm_type used) {
    slmc_fallback *n = realloc(res->fallbacks, (res->n_fallbacks + 1) * sizeof *n);
    if (!n) return SLM_ERR_NOMEM;
    res->fallbacks = n;
    slmc_fallback *f = &n[res->n_fallbacks++];
    snprintf(f->tensor, sizeof f->tensor, "%s", t->name);
    f->wanted = wanted;
    f->used = used;
    bool llama_refuses = slmc_llama_fallback(wanted) == SLM_TYPE_COUNT;
    snprintf(f->reason, sizeof f->reason, "row length %lld is not a multiple of the %s block size %d (%s)",
             (long long)t->ne[0], slm_type_name(wanted), slm_type_traits_get(wanted)->blck,
             llama_refuses ? "llama.cpp refuses such a model" : "llama.cpp falls back the same way");
    return SLM_OK;
}

/* The type a matrix gets before the row-fit check. */
static slm_type matrix_type(const slm_tensor *t, const slmc_convert_opts *o, const slmc_mix_model *mm) {
    slm_type want = t->type;
    if (o->mode == SLMC_CONVERT_PURE) want = o->type;
    else if (o->mode == SLMC_CONVERT_MIX) want = slmc_mix_tensor_type(o->mix, mm, t->name, t->ne[0]);
    slm_type rule;
    if (slmc_tensor_rules_match(o->rules, t->name, &rule)) want = rule == SLMC_TYPE_KEEP ? t->type : rule;
    if (o->embedding_type != SLM_TYPE_COUNT && strcmp(t->name, "token_embd.weight") == 0) want = o->embedding_type;
    if (o->output_type != SLM_TYPE_COUNT && strcmp(t->name, "output.weight") == 0) want = o->output_type;
    return want;
}

static slm_status check_encoder(slm_type t, const char *what, slm_diag *d) {
    const slm_type_traits *tt = slm_type_traits_get(t);
    if (!tt || !tt->quantize_row)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: no encoder for type %s", what, slm_type_name(t));
    return SLM_OK;
}

slm_status slmc_convert_plan(slm_model *m, const slmc_convert_opts *o, slmc_convert_result *res, slm_diag *d) {
    memset(res, 0, sizeof *res);
    slm_status st = SLM_OK;
    if (o->mode == SLMC_CONVERT_PURE) st = check_encoder(o->type, "--type", d);
    if (o->mode == SLMC_CONVERT_MIX && st == SLM_OK) st = check_encoder(o->mix->base, o->mix->name, d);
    if (o->output_type != SLM_TYPE_COUNT && st == SLM_OK) st = check_encoder(o->output_type, "--output-type", d);
    if (o->embedding_type != SLM_TYPE_COUNT && st == SLM_OK)
        st = check_encoder(o->embedding_type, "--embedding-type", d);
    if (st != SLM_OK) return st;

    slmc_mix_model mm;
    slmc_mix_model_init(&mm, m);
    mm.has_imatrix = o->has_imatrix;
    mm.output_type = o->output_type;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        const slm_type_traits *src = slm_type_traits_get(t->type);
        slm_type use;
        if (slmc_is_quantizable(t)) {
            slm_type want = matrix_type(t, o, &mm);
            use = slmc_fallback_type(want, t->ne[0]);
            if (use != want && add_fallback(res, t, want, use) != SLM_OK)
                return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        } else if (o->mode == SLMC_CONVERT_KEEP) {
            /* vectors become F32 as both reference converters store them */
            use = (t->n_dims == 1 && src && src->to_f32) ? SLM_TYPE_F32 : t->type;
        } else {
            use = SLM_TYPE_F32;
        }
        if (use != t->type && (!src || !src->to_f32))
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: cannot convert from %s to %s (no decoder yet)", t->name,
                                slm_type_name(t->type), slm_type_name(use));
        if (use != t->type && (st = check_encoder(use, t->name, d)) != SLM_OK) return st;
        t->out_type = use;
        if (use != t->type) res->n_converted++;
    }
    int ft = o->mode == SLMC_CONVERT_MIX ? (int)o->mix->ftype
             : o->mode == SLMC_CONVERT_PURE ? slmc_file_type_for(o->type)
                                            : -1;
    res->file_type = ft < 0 ? slmc_file_type_of(m) : (uint32_t)ft;
    return SLM_OK;
}

void slmc_convert_result_free(slmc_convert_result *res) {
    free(res->fallbacks);
    memset(res, 0, sizeof *res);
}
