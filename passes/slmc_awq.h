/* slmc_awq.h - activation-aware weight scaling (Lin et al., "AWQ:
 * Activation-aware Weight Quantization for LLM Compression and
 * Acceleration", 2023) for llama models, folded into the model so the
 * artifact stays a plain GGUF.
 *
 * For a group of matrices that read the same input x, per input channel
 * scales s multiply the matrices' columns (W' = W diag(s)) and divide the
 * operation that produces x, so the float model is unchanged; quantizing
 * W' instead of W gives the channels that carry large activations finer
 * steps. Per layer, in this order:
 *   attn_output  <- attn_v's rows (output channel c of V feeds channel c of
 *                   every query head of its KV group, so the scales are tied
 *                   across those heads);
 *   attn_q/k/v   <- attn_norm's weight;
 *   ffn_down     <- ffn_up's rows (silu(gate) * up is linear in up);
 *   ffn_gate/up  <- ffn_norm's weight.
 * s = rms(x)^alpha (normalised to a geometric mean of 1 between its
 * extremes), alpha searched on a grid of 0, 0.1, ..., 1 for the least
 * layer-output error of the group's quantized matrices, measured with the
 * channels' mean x² (the importance weights); alpha = 0 is plain importance-
 * weighted rounding, so the search never does worse on that measure. */
#ifndef SLMC_AWQ_H
#define SLMC_AWQ_H

#include "slm_model.h"
#include "slmc_calib_stats.h"

/* How a tensor changes: columns multiplied by in_scale[ne[0]], rows (or,
 * for a 1-D norm weight, elements) divided by out_scale[rows]. NULL: no
 * change that side. */
typedef struct slmc_awq_scaling {
    const slm_tensor *t;
    float *in_scale;
    float *out_scale;
} slmc_awq_scaling;

typedef struct slmc_awq_group_result {
    char first[SLM_MAX_NAME]; /* the group's first matrix */
    float alpha;
    double err, err_plain; /* the measure at alpha and at 0 */
} slmc_awq_group_result;

typedef struct slmc_awq_plan {
    uint32_t n_scalings, cap;
    slmc_awq_scaling *scalings;
    uint32_t n_groups;
    slmc_awq_group_result *groups;
} slmc_awq_plan;

/* Searches the scales of every group whose matrices are being quantized
 * (out_type set by the conversion pass) and the statistics cover, reading
 * one layer's weights at a time. Errors: a llama tensor missing, statistics
 * without an entry the search needs. */
slm_status slmc_awq_search(const slm_model *m, slmc_stats *stats, int n_threads, slmc_awq_plan **out, slm_diag *d);
void slmc_awq_plan_free(slmc_awq_plan *p); /* accepts NULL */

/* The scaling of a tensor, or NULL when AWQ leaves it alone. */
const slmc_awq_scaling *slmc_awq_scaling_of(const slmc_awq_plan *p, const slm_tensor *t);

#endif
