/* slm_lora.h - LoRA adapters read into one in-memory form, whatever file
 * they came in (formats.md §7 and docs/lora.md):
 *   - a PEFT folder: adapter_config.json + adapter_model.safetensors (the
 *     path may name the folder, the config or the safetensors file);
 *   - a llama.cpp GGUF adapter (general.type "adapter", adapter.type "lora").
 *
 * Every adapted matrix becomes one slm_lora_pair in llama.cpp terms: the base
 * tensor's GGUF name, and A, B decoded to f32 such that the update of the
 * base tensor (ne [n_in, n_out], n_out rows of n_in) is
 *     ΔW = scale · B · A,   A: [rank][n_in],  B: [n_out][rank]  (row-major)
 * with B's rows already in llama.cpp's order (PEFT q_proj/k_proj B matrices
 * get the Q/K permutation of formats.md §4.2, so the reader needs the base
 * model's head counts). The GGUF token_embd exception (A and B stored
 * flipped) is undone here too, so users of a pair never special-case it.
 *
 * PEFT `modules_to_save` tensors (whole replacement weights, e.g. lm_head or
 * embed_tokens) become slm_lora_full entries, decoded on demand.
 *
 * Ownership: the adapter owns its pairs (A, B are malloc'd) and the map of
 * the file it read; slm_lora_full data is borrowed from that map. */
#ifndef SLM_LORA_H
#define SLM_LORA_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_model.h"

typedef enum slm_lora_format { SLM_LORA_PEFT = 1, SLM_LORA_GGUF = 2 } slm_lora_format;

typedef struct slm_lora_pair {
    char name[SLM_MAX_NAME]; /* base tensor, llama.cpp name ("blk.0.attn_q.weight") */
    char *module;            /* as the file names it, for messages (malloc'd) */
    int rank;                /* r: rows of A, columns of B */
    double alpha;            /* PEFT lora_alpha (after alpha_pattern); GGUF adapter.lora.alpha */
    /* The adapter's own factor: α/r, α/√r (rsLoRA), or 1 for a GGUF adapter
     * without alpha. A user's weight multiplies it. */
    double scale;
    int64_t n_in, n_out;     /* the base tensor's ne[0], ne[1] */
    float *a;                /* [rank][n_in], owned */
    float *b;                /* [n_out][rank], owned, rows in llama.cpp order */
} slm_lora_pair;

typedef struct slm_lora_full {
    char name[SLM_MAX_NAME]; /* base tensor it replaces, llama.cpp name */
    char *source;            /* tensor name in the file (malloc'd) */
    slm_type type;           /* F32, F16 or BF16 */
    int64_t ne[2];           /* ggml order, as the base tensor */
    const void *data;        /* borrowed from the adapter's map */
} slm_lora_full;

typedef struct slm_lora_adapter {
    slm_lora_format format;
    char *path;               /* as given (malloc'd) */
    char arch[32];            /* GGUF: general.architecture; PEFT: "" (unknown) */
    uint32_t n_pairs;
    slm_lora_pair *pairs;     /* in file order */
    uint32_t n_full;
    slm_lora_full *full;      /* modules_to_save */
    uint32_t n_ignored;       /* GGUF *_norm.weight tensors skipped, as llama.cpp does */
    void *priv;               /* the open file (map) */
} slm_lora_adapter;

/* Reads an adapter. `base` gives the head counts the PEFT Q/K permutation
 * needs (n_head for q_proj, n_head_kv for k_proj; only for architectures
 * llama.cpp permutes: llama, granite); it may be NULL for GGUF adapters and
 * for PEFT adapters that adapt neither q_proj nor k_proj.
 * Errors name the file and the tensor/module/key: DoRA ("DoRA is not
 * supported"), LoRA biases, A and B of different ranks (both given), a
 * missing half of a pair, module names with no llama.cpp tensor, a rank
 * other than the config's (after rank_pattern), tensors neither LoRA nor
 * modules_to_save, a GGUF file that is not a LoRA adapter. */
slm_status slm_lora_read(const char *path, const slm_hparams *base, slm_lora_adapter **out, slm_diag *d);
void slm_lora_free(slm_lora_adapter *a); /* accepts NULL */

const slm_lora_pair *slm_lora_find(const slm_lora_adapter *a, const char *name);

/* Checks that an adapter fits a base model: same architecture (when the
 * adapter records one), every adapted or replaced tensor present in `m`, of
 * a matrix shape equal to the adapter's. Errors list the missing tensors
 * (up to a few) or name the tensor and both shapes. */
slm_status slm_lora_check(const slm_lora_adapter *a, const slm_model *m, slm_diag *d);

/* Decodes a modules_to_save tensor into dst (ne[0]*ne[1] floats). */
slm_status slm_lora_full_f32(const slm_lora_full *f, float *dst, slm_diag *d);

#endif
