/* logits_compare.h - reference logits files (../shared/DIR/NAME.logits.txt)
 * and the golden README's tolerances, shared by the suites that compare
 * the runtime's logits against the reference or against each other. */
#ifndef SLM_LOGITS_COMPARE_H
#define SLM_LOGITS_COMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_model.h"

typedef struct ts_logits {
    int n_pos, n_vocab;
    int32_t *tokens; /* [n_pos] */
    float *logits;   /* [n_pos][n_vocab] */
} ts_logits;

/* Parses lines "pos P in TOKEN logits L0 L1 ..." (P counting from 0);
 * 0, or -1 when the file is missing or malformed. */
int ts_logits_read(const char *path, ts_logits *r);
void ts_logits_free(ts_logits *r);

/* Which of the golden README's bounds applies: by the matrix types (norms
 * stay f32). F16 is kept apart from BF16 so a suite can hold F16 tighter. */
typedef enum ts_tol { TS_TOL_F32, TS_TOL_F16, TS_TOL_HALF, TS_TOL_QUANT } ts_tol;
ts_tol ts_tol_of_model(const slm_model *m);

typedef struct ts_logits_diff {
    double max_abs, mean_kl, argmax_agree; /* KL(ref || ours), mean over positions */
} ts_logits_diff;

ts_logits_diff ts_logits_compare(const float *ref, const float *ours, int n_pos, int n_vocab);

/* The README bound for the class: max|d| <= 1e-3 (F32), <= 2e-2 (F16,
 * BF16), else mean KL <= 1e-4 with the argmax agreeing at >= min_agree of
 * the positions. *crit describes the bound applied. */
bool ts_logits_within(ts_tol tc, ts_logits_diff s, double min_agree, const char **crit);

#endif
