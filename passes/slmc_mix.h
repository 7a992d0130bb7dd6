/* slmc_mix.h - llama-quantize's file types ("Q4_K_M", "Q4_0", ...) and the
 * per-tensor rules that make most of them mixes: llama_tensor_get_type in
 * llama.cpp's src/llama-quant.cpp (build 4748), for the types slmc encodes.
 *
 * A mix has a base type for most matrices; the rules give output.weight,
 * attn_v, ffn_down, attn_output (and attn_qkv) more bits on some layers, and
 * fall back to a type whose block fits when a row length does not. */
#ifndef SLMC_MIX_H
#define SLMC_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_model.h"

typedef struct slmc_mix {
    const char *name; /* llama-quantize's name, e.g. "Q4_K_M" */
    uint32_t ftype;   /* LLAMA_FTYPE, written as general.file_type */
    slm_type base;    /* type of every matrix no rule changes */
} slmc_mix;

/* The mix llama-quantize means by `name` (case-insensitive; "Q4_K" is its
 * alias for Q4_K_M, "Q3_K" for Q3_K_M, "Q5_K" for Q5_K_M), or NULL when it
 * has none that slmc can encode. */
const slmc_mix *slmc_mix_find(const char *name);

/* True for the names that exist only as mixes (Q4_K_M, Q3_K_S, ...), as
 * opposed to names that are also a single ggml type (Q4_0, Q6_K, ...). */
bool slmc_mix_is_preset_name(const char *name);

/* All mixes, in llama-quantize's listing order. */
const slmc_mix *slmc_mix_all(size_t *n);

/* What the rules look at besides the tensor itself. */
typedef struct slmc_mix_model {
    uint32_t n_layer;   /* block_count */
    uint32_t n_attn_v;  /* attn_v / attn_qkv / attn_kv_b matrices in the model */
    uint32_t n_gqa;     /* head_count / head_count_kv */
    bool has_output;    /* output.weight exists (else token_embd is the classifier) */
    bool has_imatrix;   /* quantizing with importance weights */
    bool is_70b;        /* llama.cpp's LLM_TYPE_70B: 80 layers with grouped KV heads */
    bool is_falcon;
    slm_type output_type; /* --output-type, or SLM_TYPE_COUNT */
} slmc_mix_model;

/* Fills the context from a model (output_type and has_imatrix left unset). */
void slmc_mix_model_init(slmc_mix_model *mm, const slm_model *m);

/* llama_tensor_get_type before its row-fit fallback: the type `mix` gives a
 * quantizable matrix named `name` whose rows have ne0 elements. */
slm_type slmc_mix_tensor_type(const slmc_mix *mix, const slmc_mix_model *mm, const char *name, int64_t ne0);

/* llama.cpp's fallback for a type whose block does not divide ne0: K-quants
 * go to the 32-element type of about the same size (Q4_K -> Q5_0, Q5_K ->
 * Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K/IQ4_XS -> IQ4_NL), and to F16 when that does
 * not fit either or llama.cpp has no fallback (it refuses the model there).
 * Returns `wanted` when it fits. */
slm_type slmc_fallback_type(slm_type wanted, int64_t ne0);

/* The type llama.cpp falls back to from `wanted` when a row does not fit,
 * or SLM_TYPE_COUNT when it has none (it refuses the model). */
slm_type slmc_llama_fallback(slm_type wanted);

/* Q2_K_S (like llama.cpp) refuses to quantize a Q2_K matrix other than
 * token_embd without importance weights: checks every tensor's out_type and
 * quant_weights and names the first one that has none. */
slm_status slmc_mix_check_weights(const slmc_mix *mix, const slm_model *m, slm_diag *d);

#endif
