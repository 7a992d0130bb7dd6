/* model_compare.h - assertions that two models (IR) hold the same tensors,
 * hyperparameters and tokenizer; used by the end-to-end suites. Each
 * function returns 0 when equal, else writes what differs into `why`. */
#ifndef SLM_MODEL_COMPARE_H
#define SLM_MODEL_COMPARE_H

#include <stddef.h>

#include "slm_model.h"

/* Tensor `name` of a equals tensor `name_b` of b: type, shape, bytes. */
int mc_tensor_equal(slm_model *a, const char *name, slm_model *b, const char *name_b, char *why, size_t n);
/* Every tensor of `a` is in `b` with equal type, shape and bytes; b may have
 * extra tensors only if allow_extra. */
int mc_tensors_equal(slm_model *a, slm_model *b, int allow_extra, char *why, size_t n);
/* hparams that llama.cpp reads, and the whole tokenizer. */
int mc_hparams_equal(const slm_model *a, const slm_model *b, char *why, size_t n);
int mc_tokenizer_equal(const slm_model *a, const slm_model *b, char *why, size_t n);

#endif
