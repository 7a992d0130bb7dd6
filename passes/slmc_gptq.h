/* slmc_gptq.h - GPTQ (Frantar et al., "GPTQ: Accurate Post-Training
 * Quantization for Generative Pre-trained Transformers", 2022) into ggml's
 * block types.
 *
 * A matrix W (rows x n) is quantized one column at a time; each column's
 * rounding error is spread over the columns not yet quantized, weighted by
 * the inverse of the layer input's Gram matrix H = XᵀX, so that the layer's
 * output W·x moves as little as possible on the calibration inputs (not the
 * weights). The ggml block scales (and mins) are set when a block's first
 * column is reached, by the type's reference quantize_row run on the
 * block's current, already corrected weights with the importance weights;
 * the block's quants are then rewritten column by column on that grid
 * (slm_qblock.h). So the result is an ordinary ggml row that llama.cpp
 * decodes as it is. */
#ifndef SLMC_GPTQ_H
#define SLMC_GPTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_status.h"
#include "slm_type.h"

typedef struct slmc_gptq_opts {
    double damp;    /* added to H's diagonal, times its mean (GPTQ: 0.01) */
    bool act_order; /* columns by decreasing H_jj; block scales from the unquantized rows */
    int n_threads;  /* rows in parallel; 0 = all cores */
} slmc_gptq_opts;

/* The layer-output error of a quantization, sum over rows of
 * (w - q)ᵀ H (w - q): GPTQ's against the same rows quantized by the
 * reference quantize_row with the importance weights (what --method imatrix
 * writes). */
typedef struct slmc_gptq_result {
    double err, err_reference;
    double damp_used;    /* the damping that made H positive definite */
    bool kept_reference; /* GPTQ was not better: the reference rows were written */
} slmc_gptq_result;

/* Whether GPTQ can write the type (element access, slm_qblock.h). */
bool slmc_gptq_supports(slm_type type);

/* Quantizes w (n_rows x n_cols f32, row-major; its never-active columns are
 * zeroed)
 * into `type`, given the Gram matrix of its inputs (n_cols x n_cols,
 * symmetric, double) and optional importance weights imp[n_cols] for the
 * block scale search, into n_rows encoded rows at dst. Columns whose H_jj
 * is 0 (never active) are zeroed first. If H is not positive definite with
 * the damping asked for, it is retried with 10x and 100x. When the result's
 * error is above the reference rounding's, the reference rows are written
 * instead (res says which). zero_mask (bit per element, row-major, or NULL)
 * marks pruned weights: they are quantized to the level nearest 0 and their
 * error is fed forward like any other (as SparseGPT does). Errors: unsupported type, row length not a
 * multiple of the type's block, H still singular, out of memory. */
slm_status slmc_gptq_quantize(slm_type type, float *w, int64_t n_rows, int64_t n_cols, const double *gram,
                              const float *imp, const uint8_t *zero_mask, const slmc_gptq_opts *o, void *dst,
                              slmc_gptq_result *res, slm_diag *d);

/* U, the upper Cholesky factor of (gram + damp * mean(diag) * I)⁻¹ (n x n,
 * float, zeros below the diagonal), retrying with 10x and 100x the damping;
 * *used gets the damping that worked. Shared with SparseGPT. */
slm_status slmc_gptq_inverse_factor(const double *gram, int64_t n, double damp, float *u, double *used,
                                    slm_diag *d);

#endif
