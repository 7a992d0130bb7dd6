/* slm_hf.h - Hugging Face model folders: config.json, safetensors (single or
 * sharded with model.safetensors.index.json), tokenizer.json with
 * tokenizer_config.json; and the name mapping/Q-K permutation that llama.cpp
 * applies (formats.md §4). Also writes a model back out as an HF folder.
 *
 * The model IR always uses llama.cpp tensor names and row order; HF names and
 * rotate-half row order exist only at the file boundary. */
#ifndef SLM_HF_H
#define SLM_HF_H

#include "slm_model.h"

/* Reads an HF folder (or a single .safetensors file or a
 * model.safetensors.index.json, in which case config and tokenizer are
 * looked for beside it). */
slm_status slm_hf_read(const char *path, slm_model **out, slm_diag *d);

/* Parses config.json text into m->hp (architecture from "architectures"[0]:
 * LlamaForCausalLM and MistralForCausalLM map to "llama"). `what` names the
 * source in errors (a path, or "file.h5:config"). */
slm_status slm_hf_config_parse(slm_model *m, const char *json, size_t len, const char *what, slm_diag *d);

/* Parses tokenizer.json (and optional tokenizer_config.json text, may be NULL)
 * into m->tok: byte-level BPE -> SLM_TOK_BPE ("gpt2"); SentencePiece-style
 * BPE (byte_fallback, ▁ spaces) -> SLM_TOK_SPM ("llama"). */
slm_status slm_hf_tokenizer_parse(slm_model *m, const char *tok_json, size_t tok_len, const char *cfg_json,
                                  size_t cfg_len, const char *what, slm_diag *d);

/* Maps an HF tensor name to the llama.cpp name. Sets *permute to 1 for q_proj
 * (use n_head), 2 for k_proj (n_head_kv), 0 otherwise. Returns false for
 * names that have no mapping (e.g. rotary_emb.inv_freq, which readers skip). */
bool slm_hf_name_to_gguf(const char *hf, char out[SLM_MAX_NAME], int *permute);
/* The inverse mapping (for the writer). */
bool slm_hf_name_from_gguf(const char *gguf, char *out, size_t out_size, int *permute);

/* Orders llama.cpp tensor names as readers list them: token_embd, blocks by
 * number (llama.cpp's conventional order inside a block), output_norm,
 * output; anything else by name within its block. A qsort-style comparison. */
int slm_tensor_name_order(const char *a, const char *b);

/* Adds a tensor known by its HF name and HF shape (outermost first) whose raw
 * bytes are `src` (borrowed) or produced by `load`; maps the name and sets up
 * the Q/K permutation. Unmapped names are skipped (SLM_OK, *out = NULL).
 * m->hp must already hold n_head / n_head_kv. */
slm_status slm_hf_add_tensor(slm_model *m, const char *hf_name, slm_type type, int n_dims, const int64_t *hf_shape,
                             const void *src, slm_tensor_load_fn load, void *load_ctx, uint64_t load_arg,
                             slm_tensor **out, slm_diag *d);

/* Writes config.json, model.safetensors (HF names, rotate-half order, each
 * tensor in its out_type, which must be F32/F16/BF16) and, when the model has
 * a tokenizer, tokenizer.json + tokenizer_config.json into `dir` (created).
 * Each file is written atomically. */
slm_status slm_hf_write(slm_model *m, const char *dir, slm_progress_fn progress, void *progress_ctx, slm_diag *d);

/* The two halves slm_hf_write uses: config.json from m->hp (atomically, into
 * an existing dir), and tokenizer.json + tokenizer_config.json from m->tok. */
slm_status slm_hf_config_write(const slm_model *m, const char *dir, slm_diag *d);
slm_status slm_hf_tokenizer_write(const slm_model *m, const char *dir, slm_diag *d);

#endif
