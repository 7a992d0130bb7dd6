/* slmrt_model_priv.h - the runtime model's layout, shared by slmrt_model.c
 * (which builds it) and slmrt_forward.c (which runs it). Not a public header:
 * callers go through slmrt.h. */
#ifndef SLMRT_MODEL_PRIV_H
#define SLMRT_MODEL_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "slmrt.h"
#include "slmrt_kernels.h"

/* RoPE pairing: NORM rotates adjacent pairs (2i, 2i+1) as ggml does for
 * llama/granite; NEOX pairs (i, i + n_rot/2) (qwen2, phi3, gemma2). */
typedef enum slmrt_rope_mode { SLMRT_ROPE_NORM = 0, SLMRT_ROPE_NEOX = 2 } slmrt_rope_mode;

/* A matrix the forward pass multiplies by: its IR tensor (acquired) plus
 * what the inner loop needs without looking anything up again. */
typedef struct slmrt_mat {
    const slm_tensor *t;
    const char *data;   /* t->data */
    size_t row_size;    /* bytes per weight row */
    int n_in, n_out;    /* ne[0], ne[1] */
    const slmrt_type_kernels *k;
    size_t prep_row_size; /* bytes of one prepared activation row */
    const float *bias;  /* [n_out] f32 or NULL */
    const struct slmrt_lora_node *lora; /* run-time LoRA updates, or NULL (slmrt_lora.c) */
} slmrt_mat;

typedef struct slmrt_layer {
    const float *attn_norm, *ffn_norm; /* [n_embd] f32 */
    slmrt_mat wq, wk, wv, wo, w_gate, w_up, w_down;
} slmrt_layer;

struct slmrt_model {
    slm_model *ir;
    bool owns_ir;          /* opened by slmrt_model_load */
    bool *we_acquired;     /* [ir->n_tensors]: release on free */
    const slmrt_kernels *kern;

    int n_vocab, n_embd, n_ff, n_layer, n_head, n_head_kv, head_dim, n_rot, n_ctx_train;
    float rms_eps, freq_base, freq_scale;
    slmrt_rope_mode rope_mode;
    const float *rope_freqs; /* [n_rot/2] divisors of theta, or NULL */

    const slm_tensor *tok_embd; /* rows decoded on lookup */
    const float *output_norm;
    slmrt_mat output;           /* token_embd's data when tied */
    slmrt_layer *layers;

    size_t max_prep_row;  /* largest prepared activation row of any matrix */
    float *f32_block;     /* owned f32 copies of norms, biases, rope factors */

    /* Run-time LoRA (slmrt_lora.c): the adapters added, what token_embd's
     * rows get (also the output's when tied), the largest rank. */
    struct slmrt_lora_set *lora;
    const struct slmrt_lora_node *embd_lora;
    int lora_max_rank;
};

/* One adapter's update of one matrix, y += scale · B·(A·x), in B·A form
 * (slm_lora.h): A [rank][n_in], B [n_out][rank], borrowed from the adapter.
 * Matrices keep a list, one node per adapter. */
typedef struct slmrt_lora_node {
    const float *a, *b;
    int rank;
    float scale;                 /* user scale · the adapter's own */
    const struct slmrt_lora_node *next;
} slmrt_lora_node;

/* y[t][o] += Σ_nodes scale·B[o]·(A·x[t]) for n_tok rows x of n_in and y of
 * n_out; tmp holds n_tok·max rank floats. */
void slmrt_lora_apply(const slmrt_lora_node *l, const float *x, int n_tok, int n_in, float *y, int n_out, float *tmp,
                      int n_threads);
/* Adds the token_embd update of token `tok` to its embedding row e. */
void slmrt_lora_embed(const slmrt_lora_node *l, int32_t tok, float *e, int n_embd);
void slmrt_lora_set_free(struct slmrt_lora_set *s);

#endif
