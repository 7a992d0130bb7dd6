/* slmc_compile_log.h - what `slmc compile` tells the user on stderr about
 * each pass: fallbacks and importance weights, the types a mix turned into,
 * GPTQ's and AWQ's error reductions, achieved sparsities. Callers skip
 * these under --quiet. */
#ifndef SLMC_COMPILE_LOG_H
#define SLMC_COMPILE_LOG_H

#include "slm_model.h"
#include "slmc_calib.h"
#include "slmc_convert.h"
#include "slmc_prune.h"
#include "slmc_quant_pass.h"

void slmc_compile_log_plan(const slmc_convert_result *conv, slmc_quant_method method, const char *calib,
                           const slmc_calib_result *cr);
/* "q4_k 150, q6_k 25, f32 45": what the plan turned into. */
void slmc_compile_log_types(const slm_model *m);
void slmc_compile_log_quant(const slmc_quant_pass *p);
void slmc_compile_log_prune(const slmc_prune_pass *p);

#endif
