/* slmrt_kld.h - the figures llama.cpp's perplexity tool prints with
 * --kl-divergence, and its protocol, in one place: `slmrt eval --ref` and
 * the distillation scoring pass (passes/slmc_score.h) both use it, so their
 * numbers agree to the last bit on the same logits.
 *
 * Protocol: the token stream is cut into chunks of n_ctx tokens; each chunk
 * is evaluated from an empty cache with its first token replaced by BOS
 * (text input), and only the second half is scored: positions
 * first = chunk/2 .. chunk-2, each predicting the next token.
 *
 * Per scored position, with log-probabilities in double precision
 * (lp = logit - logsumexp):
 *   KL(ref‖model) = Σ_v p_ref(v) (lp_ref(v) - lp(v))   (clamped at 0)
 *   NLL of the target under each, top-1 agreement (argmax of the logits),
 *   Δp = p(target) - p_ref(target).
 * Summary: KLD mean, median, p90, p99 (linear interpolation between order
 * statistics), max; same top-1 fraction; mean and RMS Δp; perplexity
 * exp(mean NLL) of both. */
#ifndef SLMRT_KLD_H
#define SLMRT_KLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_status.h"
#include "slmrt.h"

/* How a token stream is cut into chunks. */
typedef struct slmrt_kld_plan {
    int chunk;       /* tokens per chunk */
    size_t n_chunks; /* whole chunks evaluated */
    int first;       /* first scored position in a chunk (chunk / 2) */
    int n_scored;    /* scored positions per chunk: chunk - 1 - first */
} slmrt_kld_plan;

/* Plans full chunks of n_ctx tokens over n_ids ids. With short_one_chunk
 * (token files in `slmrt eval`), ids shorter than n_ctx are one chunk.
 * Error (naming `source`) when not even one chunk of at least 2 tokens fits. */
slm_status slmrt_kld_plan_make(size_t n_ids, int n_ctx, bool short_one_chunk, const char *source,
                               slmrt_kld_plan *p, slm_diag *d);

/* Evaluates chunk `ci` of ids (p->chunk tokens from ci * p->chunk) from an
 * empty cache, its first token replaced by bos unless bos < 0; logits for
 * every token into `logits` (p->chunk × n_vocab floats). ids are not
 * modified. */
slm_status slmrt_kld_eval_chunk(slmrt_ctx *c, const slmrt_kld_plan *p, const int32_t *ids, size_t ci, int32_t bos,
                                float *logits, slm_diag *d);

/* One position's distribution: its logits and their log-sum-exp and argmax
 * (slmrt_kld_row_of), which a caller may keep instead of recomputing. */
typedef struct slmrt_kld_row {
    const float *logits; /* [n_vocab], borrowed */
    double lse;          /* log Σ exp(logits), the max taken out first */
    int32_t top1;        /* argmax, the first of ties */
} slmrt_kld_row;

slmrt_kld_row slmrt_kld_row_of(const float *logits, int n_vocab);

/* Running sums over scored positions. */
typedef struct slmrt_kld {
    int n_vocab;
    size_t n, cap;     /* positions added, room in kld */
    double nll, nll_ref;
    double *kld;       /* [cap] per-position KL, owned; NULL without a reference */
    size_t same_top1;
    double dp_sum, dp_sq;
} slmrt_kld;

/* cap: the most positions that will be added (plan n_chunks × n_scored). */
slm_status slmrt_kld_init(slmrt_kld *k, int n_vocab, size_t cap, bool with_ref, slm_diag *d);
void slmrt_kld_free(slmrt_kld *k); /* accepts a zeroed struct */

/* Adds one position: the model's row, the reference's (NULL without one:
 * only the model's NLL is summed) and the target token. With a reference,
 * at most cap positions may be added. */
void slmrt_kld_add(slmrt_kld *k, const slmrt_kld_row *m, const slmrt_kld_row *ref, int32_t target);

/* The two halves of slmrt_kld_add, for callers that compute the KL of many
 * rows in parallel and then add them in order (same bits as slmrt_kld_add):
 * KL(ref‖m) of one position over n_vocab tokens, clamped at 0; and adding
 * a position whose KL is known. */
double slmrt_kld_kl(const slmrt_kld_row *m, const slmrt_kld_row *ref, int n_vocab);
void slmrt_kld_add_kl(slmrt_kld *k, const slmrt_kld_row *m, const slmrt_kld_row *ref, int32_t target, double kl);

typedef struct slmrt_kld_summary {
    size_t n;                /* scored positions */
    double ppl, ppl_ref;     /* ppl_ref 0 without a reference */
    double kld_mean, kld_median, kld_p90, kld_p99, kld_max;
    double same_top1;        /* fraction of positions */
    double mean_dp, rms_dp;  /* fractions of probability */
} slmrt_kld_summary;

/* The summary of k (k->n > 0). Needs a sorted copy of the KL values (out of
 * memory is the only error). */
slm_status slmrt_kld_summarize(const slmrt_kld *k, slmrt_kld_summary *s, slm_diag *d);

/* The q-quantile (0..1) of n ascending values, interpolating linearly
 * between neighbours (numpy's default); 0 for n == 0. */
double slmrt_kld_percentile(const double *sorted, size_t n, double q);

#endif
