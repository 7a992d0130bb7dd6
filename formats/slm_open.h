/* slm_open.h - opens any supported model input by looking at it: an HF
 * folder, .safetensors, .gguf, .h5/.hdf5 or a llama2.c .bin. */
#ifndef SLM_OPEN_H
#define SLM_OPEN_H

#include "slm_model.h"

typedef struct slm_open_opts {
    const char *tokenizer; /* tokenizer file for inputs that have none inside
                              (llama2.c tokenizer.bin, or tokenizer.json) */
} slm_open_opts;

slm_status slm_model_open(const char *path, const slm_open_opts *opts, slm_model **out, slm_diag *d);

#endif
