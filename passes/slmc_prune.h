/* slmc_prune.h - unstructured and N:M pruning of the linear weights of
 * the transformer blocks (attn_q/k/v/output, ffn_gate/up/down; not the
 * embedding nor the output matrix), kept as a dense model with zeros.
 *
 * Scores (larger = keep):
 *   magnitude  |W_ij|
 *   wanda      |W_ij| * ||X_j||_2, the input column's norm over the
 *              calibration tokens (Sun et al., "A Simple and Effective
 *              Pruning Approach for Large Language Models", 2023), from
 *              slmc calibrate's statistics (sum of x_j^2).
 *   sparsegpt  OBS saliency on weights reconstructed as the pruning
 *              proceeds (slmc_sparsegpt.h), from the input Gram matrices
 *              (slmc calibrate --gram); per row or N:M only.
 * Units of comparison: each output row (the default, and Wanda's) or the
 * whole tensor; with a pattern N:M, every group of M consecutive weights
 * of a row keeps its N best (2:4 is NVIDIA's sparse tensor core layout).
 * Ties go to the lower column index, so the result is deterministic.
 *
 * The pass runs as the tensors stream: it replaces each target tensor's
 * source with one that decodes it to f32 and zeroes the pruned weights,
 * and sets the tensor's zero_mask, which every encoder honours (a later
 * quantization does not resurrect a pruned weight: slm_qblock_zero_masked,
 * and GPTQ quantizes masked weights to zero with their error fed forward).
 * Call it after the output types are planned (slmc_convert_plan): a kept
 * type stays the source's type. */
#ifndef SLMC_PRUNE_H
#define SLMC_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_model.h"
#include "slmc_calib_stats.h"
#include "slmc_tensor_rules.h"

typedef enum slmc_prune_method { SLMC_PRUNE_MAGNITUDE, SLMC_PRUNE_WANDA, SLMC_PRUNE_SPARSEGPT } slmc_prune_method;
/* GLOBAL: one threshold for every target tensor (the lowest scores of the
 * whole model go), each layer capped at max_layer_sparsity; the cap wins,
 * so the total can fall short of the target when it binds. */
typedef enum slmc_prune_scope { SLMC_PRUNE_PER_ROW, SLMC_PRUNE_PER_TENSOR, SLMC_PRUNE_GLOBAL } slmc_prune_scope;

typedef struct slmc_prune_opts {
    slmc_prune_method method;
    double sparsity;        /* unstructured: fraction of each unit set to zero, in [0, 1) */
    int keep_n, group_m;    /* N:M pattern when group_m > 0: keep keep_n of every group_m */
    slmc_prune_scope scope; /* unstructured only */
    double damp;            /* sparsegpt: damping of the Gram matrix (0 = 0.01) */
    /* Unstructured sparsity schedule, most specific first: a matching
     * --sparsity-for rule, else OWL's per-layer value (Yin et al., "Outlier
     * Weighed Layerwise Sparsity", 2023: layers with more outlier scores,
     * above owl_m times the layer's mean score, keep more weights; the
     * per-layer sparsities span 2 * owl_lambda around `sparsity` and
     * average to it), else `sparsity`. */
    const slmc_tensor_rules *sparsity_rules;
    bool owl;
    double owl_lambda, owl_m; /* 0 = 0.08 and 5, the paper's defaults */
    double max_layer_sparsity; /* GLOBAL: cap per layer; 0 = none */
    int n_threads;          /* 0 = all cores; the result does not depend on it */
} slmc_prune_opts;

/* "magnitude" / "wanda" / "sparsegpt". */
bool slmc_prune_method_from_name(const char *name, slmc_prune_method *out);
const char *slmc_prune_method_name(slmc_prune_method m);
/* "2:4" -> keep 2 of 4. False unless 0 < N < M <= 64. */
bool slmc_prune_parse_pattern(const char *s, int *keep_n, int *group_m);

typedef struct slmc_prune_tensor {
    slm_tensor *t;
    struct slmc_prune_pass *pass;
    slm_tensor source;          /* the tensor as it was: type, bytes, loader */
    float *col_norm;            /* wanda: ||X_j||_2 per column [ne[0]], owned */
    const double *gram;         /* sparsegpt: [ne[0] * ne[0]] */
    uint8_t *mask;              /* bit per element, row-major: 1 = pruned */
    double sparsity;            /* unstructured: this tensor's target */
    int64_t quota;              /* GLOBAL: weights to prune in this tensor; -1 otherwise */
    uint64_t n_zero, n_total;   /* after the last prune of this tensor */
} slmc_prune_tensor;

typedef struct slmc_prune_pass {
    slmc_prune_opts opts;
    uint32_t n_tensors;
    slmc_prune_tensor *tensors;
} slmc_prune_pass;

/* Whether the pass prunes this tensor (a block's linear weight). */
bool slmc_prune_targets(const slm_tensor *t);

/* Attaches pruning to every target tensor. Errors (naming what is wrong):
 * sparsity outside [0, 1), a pattern whose M does not divide a row, wanda
 * or sparsegpt without statistics (sparsegpt: without Gram matrices) or
 * with an entry missing or of the wrong size, sparsegpt per tensor. */
slm_status slmc_prune_attach(slm_model *m, const slmc_prune_opts *o, const slmc_stats *stats, slmc_prune_pass **out,
                             slm_diag *d);
void slmc_prune_pass_free(slmc_prune_pass *p);

#endif
