/* slm_llama2c.h - llama2.c checkpoints (legacy version 0) and tokenizer.bin
 * (formats.md §5). */
#ifndef SLM_LLAMA2C_H
#define SLM_LLAMA2C_H

#include "slm_model.h"

/* Reads a checkpoint; `tokenizer_path` (may be NULL) is its tokenizer.bin.
 * Matrices are borrowed from the map with no transpose or permutation. A
 * shared classifier is left out (llama.cpp then uses token_embd). */
slm_status slm_llama2c_read(const char *path, const char *tokenizer_path, slm_model **out, slm_diag *d);

/* Reads a tokenizer.bin of n_vocab entries into m->tok (SPM conventions). */
slm_status slm_llama2c_read_tokenizer(slm_model *m, const char *path, uint32_t n_vocab, slm_diag *d);

/* True when the file starts like a llama2.c checkpoint (plausible header
 * whose implied size matches the file size). */
bool slm_llama2c_sniff(const void *data, size_t size);

#endif
