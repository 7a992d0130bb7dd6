/* slmc_quant_pass.h - the calibrated quantization methods that act on whole
 * tensors when the writer reaches them (slm_tensor.encode):
 *   gptq      GPTQ (slmc_gptq.h) on every converted matrix whose input Gram
 *             matrix the statistics hold, imatrix rounding elsewhere;
 *   awq       activation-aware scales (slmc_awq.h) folded into the model,
 *             then imatrix rounding of the scaled matrices;
 *   awq+gptq  both: GPTQ on the scaled matrices, with the statistics
 *             transformed accordingly (Gram D G D, importance imp / s²).
 * GPTQ keeps the imatrix rounding of a matrix when its own result has the
 * larger layer-output error, so every matrix gets the better of the two.
 * Per-tensor results are kept for the report. */
#ifndef SLMC_QUANT_PASS_H
#define SLMC_QUANT_PASS_H

#include <stdbool.h>

#include "slm_model.h"
#include "slmc_awq.h"
#include "slmc_calib_stats.h"
#include "slmc_gptq.h"

typedef struct slmc_quant_tensor {
    slm_tensor *t;
    struct slmc_quant_pass *pass;
    const slmc_stats_entry *stats; /* NULL: no statistics */
    const float *importance;       /* mean x², NULL when none */
    const slmc_awq_scaling *scaling; /* NULL when AWQ leaves it alone */
    bool gptq;                     /* GPTQ applies */
    bool done;
    slmc_gptq_result result;       /* when gptq */
} slmc_quant_tensor;

typedef struct slmc_quant_pass {
    bool use_gptq, use_awq;
    slmc_gptq_opts gptq_opts;
    slmc_awq_plan *awq;            /* owned */
    uint32_t n_tensors;
    slmc_quant_tensor *tensors;
    uint32_t n_without_gptq;       /* converted matrices left to imatrix rounding */
    char first_without[SLM_MAX_NAME];
    char first_without_why[96];
} slmc_quant_pass;

/* Attaches the method to m's tensors (after the conversion pass has set
 * their out_type). GPTQ needs Gram matrices in the statistics (slmc
 * calibrate --gram): an error saying so otherwise. Keep `stats` and the pass
 * until the model is written. */
slm_status slmc_quant_pass_attach(slm_model *m, slmc_stats *stats, bool use_awq, bool use_gptq,
                                  const slmc_gptq_opts *o, slmc_quant_pass **out, slm_diag *d);
void slmc_quant_pass_free(slmc_quant_pass *p); /* accepts NULL */

#endif
