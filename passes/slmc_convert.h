/* slmc_convert.h - the type-conversion pass: decides each tensor's output
 * type for a requested target type, following llama-quantize's rules, and
 * records every tensor that had to fall back to another type and why.
 * Conversion itself happens when the GGUF writer streams the tensor. */
#ifndef SLMC_CONVERT_H
#define SLMC_CONVERT_H

#include "slm_model.h"

typedef struct slmc_fallback {
    char tensor[SLM_MAX_NAME];
    slm_type wanted, used;
    char reason[128];
} slmc_fallback;

typedef struct slmc_convert_result {
    uint32_t n_converted;   /* tensors whose out_type differs from their type */
    uint32_t n_fallbacks;
    slmc_fallback *fallbacks; /* malloc'd; free with slmc_convert_result_free */
    uint32_t file_type;     /* LLAMA_FTYPE for general.file_type */
} slmc_convert_result;

/* Sets out_type on every tensor: matrices (>= 2 dims, name ending in
 * "weight", not a norm) get `target`; vectors and norms stay/become F32.
 * A matrix whose row length does not fit target's block falls back to the
 * nearest type that fits (F16 for 32-element blocks). Fails when `target` has
 * no encoder. */
slm_status slmc_convert_plan(slm_model *m, slm_type target, slmc_convert_result *res, slm_diag *d);

/* Keeps every tensor's type; returns the file type that describes it. */
uint32_t slmc_file_type_of(const slm_model *m);

/* LLAMA_FTYPE value for an all-`t` model, or -1 when llama.cpp has none. */
int slmc_file_type_for(slm_type t);

void slmc_convert_result_free(slmc_convert_result *res);

#endif
