/* slmc_budget.h - choosing each matrix's type under a file-size budget.
 *
 * 1. Sensitivity: for every quantizable matrix and candidate type, the
 *    model's KL divergence from the teacher when that matrix alone is
 *    rounded to that type (importance-weighted when statistics are given;
 *    pruned weights stay zero), minus the divergence of the model with no
 *    matrix rounded.
 * 2. Choice: the per-matrix types that minimise the sum of those
 *    increments under the byte budget - a multiple-choice knapsack solved
 *    exactly by dynamic programming over the budget cut into 20000 steps
 *    (sizes rounded up, so the result always fits).
 * 3. Guard: llama.cpp's mixes (Q4_K_M, Q3_K_S, ...) that fit the budget are
 *    measured too, with the search's choice; whichever has the lowest real
 *    divergence wins, so the search never does worse than a preset it could
 *    have picked.
 * The model's divergence is measured by a caller-supplied evaluator (the
 * compile uses slmc_score.h against the cached teacher). */
#ifndef SLMC_BUDGET_H
#define SLMC_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_model.h"
#include "slmc_calib_stats.h"

/* The mean KL divergence from the teacher of `student`, an IR model whose
 * tensors all have data (the search swaps one at a time). */
typedef slm_status (*slmc_budget_eval_fn)(void *ctx, slm_model *student, double *kld, slm_diag *d);

typedef void (*slmc_budget_progress_fn)(void *ctx, int done, int total, const char *what);

#define SLMC_BUDGET_MAX_TYPES 12

typedef struct slmc_budget_opts {
    double budget_bytes;    /* the whole file */
    uint64_t reserve_bytes; /* header bytes still to be added (provenance keys) */
    int n_types;            /* candidates; 0 = q2_k q3_k iq4_xs q4_k q5_k q6_k q8_0 */
    slm_type types[SLMC_BUDGET_MAX_TYPES];
    slmc_stats *stats;      /* importance weights for the rounding; may be NULL */
    slmc_budget_eval_fn eval;
    void *eval_ctx;
    slmc_budget_progress_fn progress;
    void *progress_ctx;
} slmc_budget_opts;

typedef struct slmc_budget_unit {
    slm_tensor *t;
    int n;                                 /* candidates that fit its rows */
    slm_type type[SLMC_BUDGET_MAX_TYPES];
    uint64_t bytes[SLMC_BUDGET_MAX_TYPES]; /* padded to the GGUF alignment */
    double dkld[SLMC_BUDGET_MAX_TYPES];    /* KLD increase with this matrix alone at type[k] */
    int choice;
} slmc_budget_unit;

typedef struct slmc_budget_point {
    char label[80];
    uint64_t bytes;   /* whole file, with the reserve */
    double kld_pred;  /* sum of the increments plus the base divergence; NaN when a type was not measured */
    double kld_meas;  /* NaN when not measured */
    bool is_preset, chosen;
} slmc_budget_point;

typedef struct slmc_budget_result {
    double base_kld;       /* no matrix rounded (pruning and merges already in) */
    uint64_t fixed_bytes;  /* header + tensors that are not candidates, with the reserve */
    uint64_t budget_bytes;
    int n_units;
    slmc_budget_unit *units;
    int n_points;
    slmc_budget_point *points; /* the search's frontier, its choice, the presets */
    int chosen;                /* index into points */
    int n_evals;
    double seconds;
} slmc_budget_result;

/* Runs the search on m (its tensors are acquired for the duration) and
 * sets every candidate matrix's out_type to the winner's. Errors: a budget
 * below the smallest choice (naming that size), evaluator errors. */
slm_status slmc_budget_search(slm_model *m, const slmc_budget_opts *o, slmc_budget_result *res, slm_diag *d);
void slmc_budget_result_free(slmc_budget_result *r);

#endif
