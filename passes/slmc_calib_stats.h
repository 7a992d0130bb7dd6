/* slmc_calib_stats.h - activation statistics collected by `slmc calibrate`:
 * per linear weight and input channel, the sum of x² over all rows the
 * weight saw, the largest |x|, and optionally the Gram matrix XᵀX. They are
 * kept in memory while collecting (slmc_stats_observe is a runtime observer),
 * written to the versioned file described in docs/calibration.md or to
 * llama.cpp's legacy imatrix .dat, and read back by later passes
 * (importance-weighted quantization, pruning).
 *
 * A stats file records a fingerprint of the model it was collected on
 * (architecture, shape, tokenizer vocabulary; not the weight values, so the
 * stats of an F16 model apply to its quantized copies), and
 * slmc_stats_check_model refuses to pair it with another model. */
#ifndef SLMC_CALIB_STATS_H
#define SLMC_CALIB_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_model.h"
#include "slm_status.h"

#define SLMC_STATS_VERSION 1u

typedef struct slmc_stats_entry {
    char name[SLM_MAX_NAME]; /* weight tensor, e.g. "blk.0.attn_q.weight" */
    int32_t n_in;            /* input channels: the weight's ne[0] */
    int64_t n_rows;          /* activation rows (tokens) accumulated */
    int64_t n_calls;         /* observer calls (one per chunk and weight) */
    double *sum_x2;          /* [n_in] */
    float *max_abs;          /* [n_in] */
    double *gram;            /* [n_in * n_in] row-major, symmetric; NULL without --gram */
    bool gram_shared;        /* while collecting: gram is an earlier entry's (same input, e.g. Q/K/V) */
    float *importance;       /* [n_in] mean x², filled on first request */
} slmc_stats_entry;

typedef struct slmc_stats {
    uint64_t fingerprint; /* slmc_stats_fingerprint of the model */
    uint32_t n_layer, n_embd, n_vocab;
    uint64_t n_tokens; /* tokens evaluated */
    uint32_t n_chunks, n_ctx;
    char *source;      /* data file name as given */
    bool has_gram;
    /* Block Influence (ShortGPT): per block, the sum over tokens of the
     * cosine similarity between the hidden state entering and leaving it;
     * BI = 1 - block_cos[l] / block_tokens. n_block 0 when not collected. */
    uint32_t n_block;
    double *block_cos;
    uint64_t block_tokens;
    uint32_t n_entries, cap_entries;
    slmc_stats_entry *entries; /* in the order the runtime first saw them */
    /* while collecting */
    uint32_t hint;     /* next entry expected (calls come in a fixed order) */
    int32_t chunk;     /* 1-based chunk being evaluated, for messages */
    slm_diag err;      /* first non-finite activation, sticky */
    double *scratch;   /* the rows of one call in double, for the Gram update */
    size_t scratch_n;
    const float *last_x; /* the previous call's input: weights reading the same rows share a Gram matrix */
    int last_tokens, last_entry;
    float *prev_h;       /* the hidden state entering the previous block */
    size_t prev_cap;
    int prev_layer;
} slmc_stats;

/* Fingerprint of what makes stats transferable between two models: arch,
 * hyperparameters that shape activations, tokenizer kind and token strings
 * (FNV-1a 64). Types and weight values are deliberately not included. */
uint64_t slmc_stats_fingerprint(const slm_model *m);

/* An empty collector for model m (identity fields filled). */
slm_status slmc_stats_new(const slm_model *m, bool gram, slmc_stats **out, slm_diag *d);
void slmc_stats_free(slmc_stats *s); /* accepts NULL */

/* slmrt_observer_fn: accumulates x (n_tokens rows of n_in) under `weight`.
 * Non-finite values are recorded in s->err (naming the weight and s->chunk)
 * and later calls are ignored; the caller checks s->err after each eval. */
void slmc_stats_observe(void *s, const char *weight, const float *x, int n_tokens, int n_in);

/* slmrt_residual_fn: accumulates the blocks' input/output similarity. */
void slmc_stats_residual(void *s, int layer, const float *h, int n_tokens, int n_embd);

/* Block Influence of block l (1 - mean cosine similarity of its input and
 * output hidden states), or -1 when not collected. */
double slmc_stats_block_influence(const slmc_stats *s, uint32_t l);

/* Writes the stats file atomically (temporary file, rename). */
/* Ends collecting: the Gram matrices, accumulated as upper triangles,
 * become the full symmetric matrices later passes (and a loaded file) have.
 * slmc_calib_run calls it. */
void slmc_stats_finish(slmc_stats *s);

slm_status slmc_stats_save(const slmc_stats *s, const char *path, slm_diag *d);
/* Writes llama.cpp's legacy imatrix .dat (slm_imatrix.h layout): per entry
 * ncall = n_calls and values = mean x² × ncall, as llama-imatrix stores
 * them; token_embd.weight (a lookup, seen only for tied output) is left out. */
slm_status slmc_stats_save_imatrix(const slmc_stats *s, const char *path, slm_diag *d);

/* Reads a stats file; errors name the file and what was wrong. */
slm_status slmc_stats_load(const char *path, slmc_stats **out, slm_diag *d);

/* The entry for a weight, or NULL. */
const slmc_stats_entry *slmc_stats_find(const slmc_stats *s, const char *name);
/* Mean x² per input channel (llama.cpp's imatrix values), or NULL when the
 * weight has no entry or no rows. Owned by the stats. */
const float *slmc_stats_importance(slmc_stats *s, const char *name);

/* Refuses stats collected on another model: fingerprint mismatch, or an
 * entry whose tensor is missing or has another ne[0]. */
slm_status slmc_stats_check_model(const slmc_stats *s, const slm_model *m, slm_diag *d);

#endif
