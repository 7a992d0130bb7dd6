/* slmc_structured.h - structured pruning: whole FFN channels and attention
 * heads removed from every block, so the model is genuinely smaller and
 * faster in any runtime (llama.cpp included). Shapes stay uniform across
 * layers (llama's architecture has one feed_forward_length and head count),
 * but each layer keeps its own most important units.
 *
 * Importance (Minitron-style, from slmc calibrate's statistics):
 *   FFN channel i   the L2 norm over the calibration tokens of the i-th
 *                   intermediate activation silu(gate) * up, i.e. of
 *                   ffn_down's i-th input;
 *   attention head  the L2 norm of the head's output, the head's slice of
 *                   attn_output's input;
 *   layer (block)   Block Influence (ShortGPT: 1 - the mean cosine
 *                   similarity between the hidden state entering and
 *                   leaving the block), collected by slmc calibrate.
 * Or "random" (seeded), the baseline calibrated importance must beat.
 *
 * Heads are removed GQA-consistently: with H query heads kept of n_head
 * over n_kv KV heads, either every KV group keeps H / n_kv of its query
 * heads (all KV heads stay), or, when that does not divide, whole KV groups
 * go (their K/V rows too). Head dimension and RoPE are unchanged; the
 * attention.key_length / value_length keys are written so llama.cpp does
 * not derive the head dimension from n_embd / n_head.
 *
 * The gathered tensors load lazily from their sources (rows copied as they
 * are; columns through f32 and back to the source type, or to F32 for a
 * quantized source). The statistics are sliced to the kept channels so the
 * calibrated quantization that follows sees a consistent pair. Run before
 * the output types are planned. */
#ifndef SLMC_STRUCTURED_H
#define SLMC_STRUCTURED_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_model.h"
#include "slmc_calib_stats.h"

typedef enum slmc_importance { SLMC_IMPORTANCE_ACTIVATION, SLMC_IMPORTANCE_RANDOM } slmc_importance;

/* A target: an absolute count, or a fraction of the current one (0 < f < 1). */
typedef struct slmc_unit_target {
    double value; /* 0 = unchanged */
} slmc_unit_target;

typedef struct slmc_structured_opts {
    slmc_unit_target ffn, heads, layers;
    slmc_importance importance;
    uint64_t seed; /* random importance */
} slmc_structured_opts;

typedef struct slmc_structured_result {
    uint32_t n_ff_before, n_ff_after;
    uint32_t n_head_before, n_head_after, n_head_kv_before, n_head_kv_after;
    uint32_t n_layer_before, n_layer_after;
    uint64_t params_before, params_after; /* of the blocks' linear weights */
} slmc_structured_result;

/* Parses "4096" or "0.75" (the fraction kept). */
bool slmc_unit_target_parse(const char *s, slmc_unit_target *out);

/* Whether any target is set. */
bool slmc_structured_wanted(const slmc_structured_opts *o);

/* Removes units from m in place (shapes, hyperparameters, lazy loaders)
 * and slices stats (may be NULL for random importance) to match; stats'
 * fingerprint becomes the pruned model's. Errors: a target larger than the
 * model or not positive, heads that fit neither GQA rule ("not divisible by
 * the KV groups"), activation importance without statistics, a model with
 * biases on the pruned layers. */
slm_status slmc_structured_apply(slm_model *m, const slmc_structured_opts *o, slmc_stats *stats,
                                 slmc_structured_result *res, slm_diag *d);

#endif
