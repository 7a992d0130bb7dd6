/* slm_lora_int.h - what the two LoRA readers (slm_lora.c for GGUF,
 * slm_lora_peft.c for PEFT folders) share. Not a public header. */
#ifndef SLM_LORA_INT_H
#define SLM_LORA_INT_H

#include "slm_lora.h"

/* Appends a zeroed pair (or full entry); NULL when out of memory. */
slm_lora_pair *slm_lora_add_pair(slm_lora_adapter *a);
slm_lora_full *slm_lora_add_full(slm_lora_adapter *a);

/* Decodes rows*ne0 elements of `type` at `data` into dst. */
slm_status slm_lora_decode(slm_type type, const void *data, int64_t rows, int64_t ne0, float *dst, const char *what,
                           slm_diag *d);

/* In-place transpose of a rows x cols row-major matrix into cols x rows
 * (via a temporary). */
slm_status slm_lora_transpose(float **m, int64_t rows, int64_t cols, slm_diag *d);

slm_status slm_lora_read_peft(slm_lora_adapter *a, const char *path, const slm_hparams *base, slm_diag *d);

#endif
