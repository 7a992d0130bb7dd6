/* slmc_convert.c - per-tensor output types for `slmc compile --type`. */
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

/* llama-quantize quantizes only weight matrices; norms and other vectors
 * stay F32 (both reference converters keep them F32 too). */
static bool is_quantizable(const slm_tensor *t) {
    size_t n = strlen(t->name);
    if (t->n_dims < 2) return false;
    if (n < 6 || strcmp(t->name + n - 6, "weight") != 0) return false;
    if (strstr(t->name, "_norm.weight")) return false;
    return true;
}

/* The most common matrix out_type decides the file type, as llama.cpp's
 * guess does when general.file_type is absent. */
uint32_t slmc_file_type_of(const slm_model *m) {
    uint64_t count[SLM_TYPE_COUNT] = {0};
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (is_quantizable(t) && (unsigned)t->out_type < SLM_TYPE_COUNT)
            count[t->out_type] += (uint64_t)slm_tensor_nelements(t);
    }
    int best = SLM_TYPE_F32;
    for (int i = 0; i < SLM_TYPE_COUNT; i++)
        if (count[i] > count[best]) best = i;
    int ft = slmc_file_type_for((slm_type)best);
    return ft < 0 ? 0 : (uint32_t)ft;
}

static slm_status add_fallback(slmc_convert_result *res, const slm_tensor *t, slm_type wanted, slm_type used) {
    slmc_fallback *n = realloc(res->fallbacks, (res->n_fallbacks + 1) * sizeof *n);
    if (!n) return SLM_ERR_NOMEM;
    res->fallbacks = n;
    slmc_fallback *f = &n[res->n_fallbacks++];
    snprintf(f->tensor, sizeof f->tensor, "%s", t->name);
    f->wanted = wanted;
    f->used = used;
    snprintf(f->reason, sizeof f->reason, "row length %lld is not a multiple of the %s block size %d",
             (long long)t->ne[0], slm_type_name(wanted), slm_type_traits_get(wanted)->blck);
    return SLM_OK;
}

slm_status slmc_convert_plan(slm_model *m, slm_type target, slmc_convert_result *res, slm_diag *d) {
    memset(res, 0, sizeof *res);
    const slm_type_traits *tt = slm_type_traits_get(target);
    if (!tt || !tt->from_f32)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "no encoder for type %s yet", slm_type_name(target));
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        const slm_type_traits *src = slm_type_traits_get(t->type);
        slm_type want = is_quantizable(t) ? target : SLM_TYPE_F32;
        slm_type use = want;
        if (t->ne[0] % slm_type_traits_get(want)->blck != 0) {
            use = SLM_TYPE_F16; /* every element-wise type fits any row */
            if (add_fallback(res, t, want, use) != SLM_OK) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        }
        if (use != t->type && (!src || !src->to_f32))
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: cannot convert from %s (no decoder yet)", t->name,
                                slm_type_name(t->type));
        t->out_type = use;
        if (use != t->type) res->n_converted++;
    }
    int ft = slmc_file_type_for(target);
    res->file_type = ft < 0 ? slmc_file_type_of(m) : (uint32_t)ft;
    return SLM_OK;
}

void slmc_convert_result_free(slmc_convert_result *res) {
    free(res->fallbacks);
    memset(res, 0, sizeof *res);
}
