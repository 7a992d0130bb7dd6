/* slmc_score.h - distillation-loss scoring: how far a student's next-token
 * distributions are from a teacher's, per token, on llama.cpp's perplexity
 * protocol (runtime/slmrt_kld.h), so the figures equal `slmrt eval --ref`'s.
 *
 * The teacher's logits are an analysis of the pipeline: computed once
 * (slmc_teacher_new), kept in memory for the scored positions, and used for
 * any number of students of any architecture or size that share the
 * teacher's tokenizer. Optionally they are kept on disk as well, so a later
 * run with the same teacher weights, token ids and context runs the teacher
 * zero times.
 *
 * What is kept per scored position is the teacher's f32 logits row with its
 * log-sum-exp (double) and argmax: the log-probabilities logit - lse are
 * then exactly the double values `slmrt eval --ref` computes, where f32
 * log-probabilities would shift a small KL by ~1e-4 of itself. Memory:
 * n_scored × n_vocab × 4 bytes (shakespeare-eval at ctx 128: 18,963
 * positions × 32,000 = 2.3 GiB).
 *
 * Disk cache file (<cache_dir>/teacher-<16 hex>.tlogits, native
 * little-endian; the hex is a hash of the key material below):
 *   offset size
 *        0    8  magic "SLMCTLG1"
 *        8    4  format version (SLMC_TEACHER_CACHE_VERSION)
 *       12    4  n_vocab
 *       16    4  chunk (tokens per chunk)
 *       20    4  first scored position in a chunk
 *       24    8  n_chunks
 *       32    8  n_scored (n_chunks × scored positions per chunk)
 *       40    8  n_ids (token ids that follow)
 *       48    4  bos written at each chunk start (-1: kept)
 *       52    4  key_len
 *       56    8  checksum of everything after the ids
 *       64       key (key_len bytes), then zero padding to a multiple of 8
 *                ids         n_ids × int32
 *                lse         n_scored × f64
 *                top1        n_scored × int32 (padded to 8 bytes)
 *                logits      n_scored × n_vocab × f32
 * A file is used only when every header field, the key and the ids equal
 * this run's, its size is exactly what they imply and the checksum holds;
 * otherwise it is ignored (with a note), recomputed and rewritten. Files
 * are written to a temporary name and renamed, so a reader never sees half
 * of one. */
#ifndef SLMC_SCORE_H
#define SLMC_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_status.h"
#include "slmrt.h"
#include "slmrt_kld.h"

#define SLMC_TEACHER_CACHE_VERSION 1
#define SLMC_TEACHER_CACHE_MAX_DEFAULT (4ull << 30) /* 4 GiB: shakespeare-eval at ctx 128 takes 2.3 */

typedef struct slmc_teacher slmc_teacher;

typedef struct slmc_teacher_opts {
    int n_ctx;               /* tokens per chunk (>= 4) */
    size_t max_tokens;       /* use at most this many ids (whole chunks); 0 = all */
    int n_threads;           /* 0 = all cores */
    int32_t bos;             /* written at each chunk start (text input); -1 keeps the ids' own (token files) */
    bool short_one_chunk;    /* ids shorter than n_ctx are one chunk (token files, as slmrt eval) */
    const char *name;        /* the teacher, for messages; NULL = the file it was read from. Borrowed */
    const char *source;      /* the data, for messages; NULL = "tokens" */
    const char *cache_dir;   /* NULL = no disk cache */
    const char *cache_key;   /* what identifies the teacher's weights (e.g. "sha256:<hex>"); NULL = no disk cache.
                                The file also depends on the ids, the chunking and BOS */
    uint64_t cache_max_bytes; /* larger cache files are not written (noted); 0 = SLMC_TEACHER_CACHE_MAX_DEFAULT */
} slmc_teacher_opts;

/* Plans the chunks over ids and obtains the teacher's rows for every scored
 * position: from the disk cache when a valid entry exists, else by running
 * the teacher (then writing the cache when enabled and within the limit).
 * ids are copied; `teacher` is borrowed and must outlive *out. Errors: too
 * few tokens for one chunk, an id outside the teacher's vocabulary (naming
 * its index), out of memory (saying how much), runtime errors. Cache
 * problems are never errors: they end up in slmc_teacher_cache_note. */
slm_status slmc_teacher_new(slmrt_model *teacher, const int32_t *ids, size_t n_ids, const slmc_teacher_opts *o,
                            slmc_teacher **out, slm_diag *d);
void slmc_teacher_free(slmc_teacher *t); /* accepts NULL */

const slmrt_kld_plan *slmc_teacher_plan(const slmc_teacher *t);
/* Chunks the teacher has evaluated (forward passes): the plan's n_chunks
 * when computed, 0 when the rows came from the disk cache. */
uint64_t slmc_teacher_n_forward(const slmc_teacher *t);
bool slmc_teacher_from_cache(const slmc_teacher *t);
/* Seconds spent obtaining the rows (forward passes, or reading the cache). */
double slmc_teacher_seconds(const slmc_teacher *t);
/* What happened with the disk cache, for the user: "" when it was not in
 * use, else e.g. "read /path", "wrote /path", "ignored /path: truncated;
 * recomputed", "not written: 3.1 GiB is above the 2.0 GiB limit". */
const char *slmc_teacher_cache_note(const slmc_teacher *t);

typedef struct slmc_score_result {
    slmrt_kld_summary s;      /* KL(teacher‖student) figures; ppl is the student's, ppl_ref the teacher's */
    size_t n_chunks;
    int chunk;
    uint64_t student_forward; /* chunks the student evaluated */
    double seconds;           /* student forward passes and scoring */
} slmc_score_result;

/* Scores a student against the teacher's rows. The student must share the
 * teacher's tokenizer (slmc_score_check_vocab). `student` is borrowed. */
slm_status slmc_score_student(slmc_teacher *t, slmrt_model *student, slmc_score_result *r, slm_diag *d);

/* OK when both models have the same vocabulary: the same logits width and
 * the same token strings in the same order. The error names both models
 * (a_name/b_name, or when NULL the file each was read from) and the first
 * difference. */
slm_status slmc_score_check_vocab(const slmrt_model *a, const char *a_name, const slmrt_model *b,
                                  const char *b_name, slm_diag *d);

#endif
