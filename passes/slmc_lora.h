/* slmc_lora.h - the LoRA merge pass: folds one or more adapters (PEFT
 * folders or llama.cpp GGUF adapters, formats/slm_lora.h) into a model's
 * weights,
 *     W' = W + Σ_k w_k · s_k · B_k·A_k
 * with w_k the caller's weight for adapter k and s_k the adapter's own scale
 * (α/r, α/√r with rsLoRA, the rank_pattern/alpha_pattern values; GGUF:
 * alpha/r, or 1 when alpha is 0). PEFT modules_to_save tensors replace
 * weights: W' = W + Σ_k w_k (S_k − W), so one adapter at weight 1 gives S.
 *
 * Streaming, as the pruning passes do: the pass checks every adapter
 * against the model up front (names, shapes, architecture), then replaces
 * each merged tensor's source with a loader that decodes the original to
 * f32 (dequantizing a quantized base) and adds the update in double
 * precision, one output row at a time, when the tensor is acquired (by the
 * writer, the runtime, or a later pass). Memory: the adapters (f32) plus one
 * tensor at a time. A merged tensor's type becomes F32; its out_type is left
 * as it was (readers set it to the source type, so a Q8_0 base is written
 * as Q8_0 again: `requantized` in the result, for the report to warn about),
 * and a later conversion plan may change it.
 *
 * Order: run it before passes that read the weights' values (pruning,
 * GPTQ/AWQ, calibration); with slmc_convert_plan in KEEP mode run it after
 * the plan, since KEEP would otherwise keep the new F32 type. */
#ifndef SLMC_LORA_H
#define SLMC_LORA_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_lora.h"
#include "slm_model.h"

typedef struct slmc_lora_input {
    const char *path;   /* PEFT folder / adapter_config.json / .safetensors, or a GGUF adapter */
    float weight;       /* w_k, e.g. 1.0 */
} slmc_lora_input;

/* One adapter's contribution to one tensor. */
typedef struct slmc_lora_term {
    int adapter;        /* index into the inputs */
    int rank;           /* 0 for a modules_to_save replacement */
    double scale;       /* w_k · s_k (replacement: w_k) */
} slmc_lora_term;

/* One merged tensor, for the report. */
typedef struct slmc_lora_merged {
    char name[SLM_MAX_NAME];
    slm_type base_type;    /* the type it had before the merge */
    bool requantized;      /* base_type is quantized: dequantized, merged, re-encoded in out_type */
    bool replaced;         /* a modules_to_save weight replaced it */
    uint32_t n_terms;
    slmc_lora_term *terms; /* [n_terms], owned by the result */
} slmc_lora_merged;

typedef struct slmc_lora_result {
    uint32_t n_merged;
    slmc_lora_merged *merged; /* in model tensor order */
    uint32_t n_requantized;
    uint32_t n_adapters;
    /* The adapters and original sources the merged tensors' loaders read:
     * the result must outlive every use of the merged tensors (writing the
     * model, a runtime model built on it). */
    struct slmc_lora_state *state;
} slmc_lora_result;

/* Reads the n adapters (with m's hyperparameters, for PEFT's Q/K row order),
 * checks them against m and attaches the merge to every tensor they change.
 * Nothing in m changes on failure. Errors name the adapter file and the
 * tensor: an adapted tensor the model lacks, a shape that differs, another
 * architecture, a weight that is not finite, and every reader error
 * (slm_lora_read). */
slm_status slmc_lora_merge(slm_model *m, const slmc_lora_input *inputs, int n, slmc_lora_result *res, slm_diag *d);

/* Frees the result and the adapters; the merged tensors' loaders must not
 * run afterwards (free the model first, or be done with it). */
void slmc_lora_result_free(slmc_lora_result *res);

#endif
