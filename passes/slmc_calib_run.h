/* slmc_calib_run.h - running a model over calibration tokens and collecting
 * activation statistics (slmc_calib_stats.h) through the runtime's observer.
 *
 * Chunking follows llama-imatrix: chunk i is tokens [i*n_ctx, (i+1)*n_ctx)
 * with its first token replaced by BOS (when the vocabulary has one), each
 * evaluated from position 0 after a KV-cache reset, with logits for every
 * token (so output.weight sees every row, and a perplexity is available).
 * Chunks are taken in order: sampling, when wanted, happens as the data is
 * read (slmc_calib_data.h). */
#ifndef SLMC_CALIB_RUN_H
#define SLMC_CALIB_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slmc_calib_data.h"
#include "slmc_calib_stats.h"
#include "slmrt.h"

/* Called after each chunk: chunk counts from 1. */
typedef void (*slmc_calib_run_progress_fn)(void *ctx, int chunk, int n_chunks, uint64_t tokens_done);

typedef struct slmc_calib_run_opts {
    int n_ctx;           /* tokens per chunk */
    uint64_t max_tokens; /* upper bound on tokens evaluated (whole chunks) */
    int n_threads;       /* 0 = all cores */
    bool gram;           /* also accumulate XᵀX */
    int32_t bos;         /* written at each chunk start; -1 = keep the data's token */
    const char *source;  /* recorded in the stats */
    slmc_calib_run_progress_fn progress;
    void *progress_ctx;
} slmc_calib_run_opts;

typedef struct slmc_calib_run_result {
    int n_chunks;
    uint64_t n_tokens;
    double seconds;   /* evaluation time */
    double ppl;       /* perplexity over the second half of each chunk, as llama-imatrix prints */
} slmc_calib_run_result;

/* Evaluates floor(min(n_ids, max_tokens) / n_ctx) chunks of ids with rm.
 * Errors: fewer tokens than one chunk (naming both counts), runtime errors,
 * and a non-finite activation (naming the weight and the chunk). */
slm_status slmc_calib_run(slmrt_model *rm, const int32_t *ids, size_t n_ids, const slmc_calib_run_opts *o,
                          slmc_stats **out, slmc_calib_run_result *res, slm_diag *d);

/* The whole calibration of a model in memory: reads `data` (text, JSONL,
 * token ids, gzip, HDF5: slmc_calib_data.h) with the model's tokenizer and
 * runs slmc_calib_run over it, BOS at every chunk start (o->bos is
 * ignored). The model is evaluated as it is now: tensors that passes have
 * changed (merged, pruned) are acquired through them. dinfo may be NULL. */
slm_status slmc_calib_run_data(slm_model *m, const char *data, const slmc_calib_data_opts *dopt,
                               const slmc_calib_run_opts *o, slmc_stats **out, slmc_calib_run_result *res,
                               slmc_calib_data_info *dinfo, slm_diag *d);

#endif
