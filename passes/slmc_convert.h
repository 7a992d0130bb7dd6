/* slmc_convert.h - the type-conversion pass: decides each tensor's output
 * type, following llama-quantize's rules, and records every tensor that had
 * to fall back to another type and why. Conversion itself happens when the
 * writer streams the tensor.
 *
 * Which tensors are "matrices" is llama-quantize's test: >= 2 dimensions, a
 * name ending in "weight", not a norm (nor the few tensors it never
 * quantizes). Everything else stays/becomes F32. */
#ifndef SLMC_CONVERT_H
#define SLMC_CONVERT_H

#include "slm_model.h"
#include "slmc_mix.h"
#include "slmc_tensor_rules.h"

typedef enum slmc_convert_mode {
    SLMC_CONVERT_KEEP, /* matrices keep their type */
    SLMC_CONVERT_PURE, /* every matrix gets `type` (llama-quantize --pure) */
    SLMC_CONVERT_MIX   /* llama-quantize's per-tensor rules for `mix` */
} slmc_convert_mode;

typedef struct slmc_convert_opts {
    slmc_convert_mode mode;
    slm_type type;         /* PURE */
    const slmc_mix *mix;   /* MIX */
    /* Overrides on top of the mode, as llama-quantize applies them: a
     * matching --tensor-type rule first, then --embedding-type for
     * token_embd.weight and --output-type for output.weight (the classifier,
     * which is token_embd when there is no output.weight, in a mix).
     * SLM_TYPE_COUNT / NULL when not given. */
    const slmc_tensor_rules *rules;
    slm_type embedding_type, output_type;
    bool has_imatrix;      /* some mixes choose differently with importance weights */
} slmc_convert_opts;

/* Options that keep every type (mode KEEP, no overrides). */
void slmc_convert_opts_init(slmc_convert_opts *o);

typedef struct slmc_fallback {
    char tensor[SLM_MAX_NAME];
    slm_type wanted, used;
    char reason[160];
} slmc_fallback;

typedef struct slmc_convert_result {
    uint32_t n_converted;   /* tensors whose out_type differs from their type */
    uint32_t n_fallbacks;
    slmc_fallback *fallbacks; /* malloc'd; free with slmc_convert_result_free */
    uint32_t file_type;     /* LLAMA_FTYPE for general.file_type */
} slmc_convert_result;

/* Sets out_type on every tensor. A matrix whose row length does not fit the
 * chosen type's block falls back to the type llama.cpp falls back to (Q4_K
 * -> Q5_0, ...; see slmc_fallback_type), F16 where llama.cpp refuses the
 * model. Fails when a chosen type has no encoder or a tensor's type has no
 * decoder. */
slm_status slmc_convert_plan(slm_model *m, const slmc_convert_opts *o, slmc_convert_result *res, slm_diag *d);

/* True for the tensors llama-quantize quantizes (see the file comment). */
bool slmc_is_quantizable(const slm_tensor *t);

/* Keeps every tensor's type; returns the file type that describes it. */
uint32_t slmc_file_type_of(const slm_model *m);

/* LLAMA_FTYPE value for an all-`t` model, or -1 when llama.cpp has none. */
int slmc_file_type_for(slm_type t);

void slmc_convert_result_free(slmc_convert_result *res);

#endif
