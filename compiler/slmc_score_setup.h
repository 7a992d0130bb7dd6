/* slmc_score_setup.h - a teacher ready to score students (slmc_score.h)
 * from a data file, as `slmc score` and the compile's budget search and
 * score step all need it: the data read with the teacher's tokenizer (text
 * gets one BOS in front, as `slmrt eval --text`), chunked on llama.cpp's
 * perplexity protocol, and the teacher's logits taken from the teacher
 * cache when an earlier run left them there. */
#ifndef SLMC_SCORE_SETUP_H
#define SLMC_SCORE_SETUP_H

#include <stdbool.h>
#include <stddef.h>

#include "slmc_calib_data.h"
#include "slmc_score.h"

typedef struct slmc_score_setup_opts {
    const char *data;                /* text, JSONL, .tokens, gzip, HDF5 */
    slmc_calib_data_format format;   /* AUTO: by extension */
    const char *dataset;             /* HDF5 */
    size_t max_tokens;               /* 0 = all */
    int n_ctx;
    int n_threads;
    bool no_cache;                   /* also off with SLMC_TEACHER_CACHE=0 */
    const char *teacher_name;        /* for messages */
    const char *key_extra;           /* cache key material beyond the teacher's files (e.g. merged adapters); may be NULL */
    bool quiet;                      /* no note about the cache on stderr */
} slmc_score_setup_opts;

slm_status slmc_score_setup_teacher(slmrt_model *teacher, const slmc_score_setup_opts *o, slmc_teacher **out,
                                    slm_diag *d);

#endif
