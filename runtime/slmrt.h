/* slmrt.h - the runtime: runs a llama-architecture model exactly as
 * llama.cpp defines it (RMSNorm, RoPE normal/NEOX, grouped-query attention,
 * SwiGLU, tied or separate output) on weights in any supported type.
 *
 * A model borrows its weights (zero copy) from an slm_model: either one the
 * runtime opened from a GGUF (memory-mapped), or an in-memory IR model the
 * compiler has not written yet. A context holds one session's state: KV cache,
 * scratch buffers, thread count. Several models and contexts may live in one
 * process; there are no globals besides the read-only CPU feature table. */
#ifndef SLMRT_H
#define SLMRT_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_lora.h"
#include "slm_model.h"

typedef struct slmrt_model slmrt_model;
typedef struct slmrt_ctx slmrt_ctx;

/* Opens and validates a GGUF (required keys, shapes, types with kernels). */
slm_status slmrt_model_load(const char *path, slmrt_model **out, slm_diag *d);
/* Wraps an IR model; `m` stays owned by the caller and must outlive the
 * runtime model. Its tensors are acquired (loaded if lazy) here. */
slm_status slmrt_model_from_ir(slm_model *m, slmrt_model **out, slm_diag *d);
void slmrt_model_free(slmrt_model *rm); /* accepts NULL */

/* Applies a LoRA adapter at run time, as llama.cpp does: every adapted
 * matrix computes y = W·x + s·B·(A·x), with s = user_scale times the
 * adapter's own scale (slm_lora.h); an adapted token_embd adds s·B[tok]·A
 * to the looked-up row (and, when the output is tied to it, to the output
 * matrix too, so the result equals the merged model's). Several adapters
 * add up. `a` is borrowed and must outlive rm; call between evaluations.
 * Errors: an adapter that does not fit the model (slm_lora_check), PEFT
 * modules_to_save (whole-weight replacement: merge those with slmc), a
 * non-finite scale. Nothing changes on failure. */
slm_status slmrt_model_add_lora(slmrt_model *rm, const slm_lora_adapter *a, float user_scale, slm_diag *d);
/* Reads an adapter (slm_lora_read with rm's hyperparameters) and adds it;
 * rm owns it. */
slm_status slmrt_model_add_lora_file(slmrt_model *rm, const char *path, float user_scale, slm_diag *d);

const slm_model *slmrt_model_ir(const slmrt_model *rm);
int32_t slmrt_model_n_vocab(const slmrt_model *rm);

/* Observer: receives every linear layer's input activations during
 * evaluation, before the matrix product: `x` is n_tokens rows of n_in floats
 * (row-major), `weight` the weight tensor's name. Used for calibration. */
typedef void (*slmrt_observer_fn)(void *user, const char *weight, const float *x, int n_tokens, int n_in);

/* Residual observer: the hidden state h (n_tokens rows of n_embd) entering
 * block `layer`, and for layer == n_layer the state leaving the last block
 * (before the output norm). Used for layer importance (Block Influence). */
typedef void (*slmrt_residual_fn)(void *user, int layer, const float *h, int n_tokens, int n_embd);

/* Who computes matrix-matrix products for batches of tokens (prefill):
 * our own kernels (slmrt_gemm.h: the one-token path's arithmetic, batched
 * logits equal one-token logits) or oneDNN's bf16 matmul and OpenBLAS's
 * sgemm (slmrt_onednn.h: faster where the CPU has AMX; batched logits
 * within the golden tolerances of one-token logits). AUTO: the SLMRT_GEMM
 * environment variable (own|onednn|auto) when set, else onednn on CPUs with
 * AMX and own elsewhere. */
typedef enum slmrt_gemm_backend { SLMRT_GEMM_AUTO = 0, SLMRT_GEMM_OWN = 1, SLMRT_GEMM_ONEDNN = 2 } slmrt_gemm_backend;

typedef struct slmrt_ctx_params {
    int n_ctx;     /* KV cache length in tokens; 0 = the model's context_length */
    int n_threads; /* 0 = all cores */
    slmrt_observer_fn observer; /* may be NULL */
    void *observer_user;
    slmrt_residual_fn residual; /* may be NULL */
    void *residual_user;
    int gemm_backend; /* slmrt_gemm_backend; 0 = auto */
} slmrt_ctx_params;

slm_status slmrt_ctx_new(slmrt_model *rm, const slmrt_ctx_params *p, slmrt_ctx **out, slm_diag *d);
void slmrt_ctx_free(slmrt_ctx *c); /* accepts NULL */

/* Evaluates n tokens at positions n_past .. n_past+n-1 (the KV cache must
 * hold positions < n_past already). Writes logits for every token into
 * `logits` (n × n_vocab floats) when all_logits, else only the last token's
 * (n_vocab floats). Errors: context overflow, token id out of range. */
slm_status slmrt_eval(slmrt_ctx *c, const int32_t *tokens, int n, int n_past, float *logits, bool all_logits,
                      slm_diag *d);
/* Forgets the KV cache (positions start at 0 again). */
void slmrt_ctx_reset(slmrt_ctx *c);
int slmrt_ctx_n_ctx(const slmrt_ctx *c);
int slmrt_ctx_n_threads(const slmrt_ctx *c); /* the resolved count (never 0) */
/* The backend a context's batched products use (never AUTO). */
slmrt_gemm_backend slmrt_ctx_gemm_backend(const slmrt_ctx *c);
/* For onednn, what runs the products: oneDNN's implementation of the bf16
 * matmul (e.g. "brg:avx512_core_amx_bf16", to see whether AMX is in use),
 * plus ", f32 OpenBLAS" when F32 weights go to OpenBLAS; "" for own. */
const char *slmrt_ctx_gemm_impl(const slmrt_ctx *c);
/* Whether evaluating tokens in batches gives the same logits bit for bit
 * as one at a time: every batched product runs in the one-token kernels'
 * arithmetic (our GEMM for F32, F16, Q8_0, Q4_0, or the matrix-vector
 * kernels). False when a product goes through oneDNN/OpenBLAS, BF16 or the
 * K-quant GEMMs (equal within rounding). */
bool slmrt_ctx_batch_exact(const slmrt_ctx *c);

/* "own", "onednn", "auto"; parsing is case-sensitive and returns false for
 * other names. */
const char *slmrt_gemm_backend_name(slmrt_gemm_backend b);
bool slmrt_gemm_backend_parse(const char *name, slmrt_gemm_backend *out);

#endif
