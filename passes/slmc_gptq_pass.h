/* slmc_gptq_pass.h - `--method gptq`: every matrix that is being converted
 * into a type GPTQ writes, and whose input Gram matrix the calibration
 * statistics hold, is quantized by slmc_gptq_quantize when the writer
 * reaches it (slm_tensor.encode); the others keep the importance-weighted
 * rounding (--method imatrix). Per-tensor results are kept for the report. */
#ifndef SLMC_GPTQ_PASS_H
#define SLMC_GPTQ_PASS_H

#include "slm_model.h"
#include "slmc_calib_stats.h"
#include "slmc_gptq.h"

typedef struct slmc_gptq_tensor {
    slm_tensor *t;
    const slmc_gptq_opts *opts;
    const slmc_stats_entry *stats;
    const float *importance;
    bool done;
    slmc_gptq_result result;
} slmc_gptq_tensor;

typedef struct slmc_gptq_pass {
    slmc_gptq_opts opts;
    uint32_t n_tensors;
    slmc_gptq_tensor *tensors;
    uint32_t n_without; /* converted matrices left to imatrix rounding */
    char first_without[SLM_MAX_NAME];
    char first_without_why[96];
} slmc_gptq_pass;

/* Attaches GPTQ to the tensors of m it applies to. The statistics must hold
 * Gram matrices (slmc calibrate --gram): an error otherwise, saying so.
 * Keep `stats` and the pass until the model is written. */
slm_status slmc_gptq_pass_attach(slm_model *m, slmc_stats *stats, const slmc_gptq_opts *o, slmc_gptq_pass **out,
                                 slm_diag *d);
void slmc_gptq_pass_free(slmc_gptq_pass *p); /* accepts NULL */

#endif
