/* slmc_sparsegpt.h - SparseGPT (Frantar & Alistarh, "SparseGPT: Massive
 * Language Models Can Be Accurately Pruned in One-Shot", 2023): pruning
 * with weight reconstruction. Like GPTQ (whose inverse-Hessian factor it
 * shares), it walks the columns of a matrix in order; each pruned weight's
 * removal error is fed into the columns not yet visited, weighted by the
 * inverse of the layer input's Gram matrix, so the layer's output on the
 * calibration inputs moves as little as possible.
 *
 * Which weights go is decided as the walk reaches them, on the corrected
 * weights, by w_j² / U_jj² (the OBS saliency; U the Cholesky factor of
 * H⁻¹): per row, in blocks of 128 columns (each block gets its share of
 * the row's floor(sparsity * n) zeros, so every row has exactly that many),
 * or, with an N:M pattern, per group of M. Rows are independent: the result
 * does not depend on the thread count. */
#ifndef SLMC_SPARSEGPT_H
#define SLMC_SPARSEGPT_H

#include <stdint.h>

#include "slm_status.h"

typedef struct slmc_sparsegpt_opts {
    double sparsity;     /* unstructured: zeros per row = floor(sparsity * n) */
    int keep_n, group_m; /* N:M when group_m > 0 (group_m divides n) */
    double damp;         /* as GPTQ's, a fraction of the mean diagonal (0.01) */
    int n_threads;       /* 0 = all cores */
} slmc_sparsegpt_opts;

/* Prunes w (rows x n, f32, row-major) in place, reconstructing the kept
 * weights, and sets the pruned weights' bits in mask (bit r*n + j; the
 * caller zeroes it). gram: n x n, double. Columns never active (H_jj = 0)
 * carry nothing and are zeroed (outside the count of pruned weights). */
slm_status slmc_sparsegpt_prune(float *w, int64_t rows, int64_t n, const double *gram, const slmc_sparsegpt_opts *o,
                                uint8_t *mask, slm_diag *d);

#endif
