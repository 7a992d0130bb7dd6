/* slmc_calib_data.h - calibration data as token ids: plain text, JSONL
 * (a "text" field, or chat "messages" rendered as "role: content\n" lines),
 * or pre-tokenized files (whitespace-separated ids); any of them may be
 * gzip-compressed (read through zlib, which passes plain files through);
 * or an HDF5 integer dataset of token ids (slm_hdf5_read_ids).
 *
 * Text is tokenized with the model's tokenizer the way llama-imatrix does it
 * (add_special: BOS first when the vocabulary adds one, parse_special off).
 * Input is read in pieces cut at line ends (about 1 MiB each) and reading
 * stops once enough tokens are there, so memory stays bounded by what the
 * run needs; a file that fits in one piece is tokenized exactly as one
 * string. Later pieces are tokenized without BOS, and (SPM) each starts with
 * the space prefix again, which whole-file tokenization would not add.
 *
 * With a seed, the whole file is read and cut into chunks, and a uniform
 * sample of them (reservoir sampling, so memory stays bounded by what is
 * kept) is returned in file order: calibration then sees the whole corpus,
 * not only its first pages. Seed 0 keeps the first chunks and stops reading
 * once they are there (llama-imatrix's behaviour). */
#ifndef SLMC_CALIB_DATA_H
#define SLMC_CALIB_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_status.h"
#include "slmrt_tokenizer.h"

typedef enum slmc_calib_data_format {
    SLMC_CALIB_DATA_AUTO = 0, /* by extension (after a .gz): .jsonl, .tokens, .h5/.hdf5, else text */
    SLMC_CALIB_DATA_TEXT,
    SLMC_CALIB_DATA_JSONL,
    SLMC_CALIB_DATA_TOKENS,
    SLMC_CALIB_DATA_HDF5
} slmc_calib_data_format;

/* "auto", "text", "jsonl", "tokens", "hdf5". */
bool slmc_calib_data_format_parse(const char *name, slmc_calib_data_format *out);
const char *slmc_calib_data_format_name(slmc_calib_data_format f);
/* The format AUTO resolves to for path. */
slmc_calib_data_format slmc_calib_data_format_detect(const char *path);

typedef struct slmc_calib_data_opts {
    slmc_calib_data_format format;
    const char *dataset; /* HDF5: the dataset's name; NULL = input_ids, tokens, or the only integer one */
    size_t max_tokens;   /* tokens wanted */
    size_t chunk;        /* tokens per chunk, the unit of sampling; 0 = no sampling */
    uint64_t seed;       /* with chunk: 0 = the first chunks, else a seeded sample of all of them */
} slmc_calib_data_opts;

typedef struct slmc_calib_data_info {
    uint64_t tokens_read;  /* ids the data gave before the reader stopped */
    uint64_t chunks_seen;  /* sampling: whole chunks in the data */
    uint64_t chunks_kept;  /* sampling: chunks returned */
} slmc_calib_data_info;

/* Reads token ids from path. Without sampling (chunk 0 or seed 0), reads
 * until at least max_tokens are there or the data ends (*n may exceed
 * max_tokens by up to one piece). With sampling, *n is a whole number of
 * chunks, at most max_tokens (or the partial data when it holds less than a
 * chunk, so the caller can say how much there was). tk tokenizes text and
 * bounds pre-tokenized ids (ids must be < its n_vocab). *ids is malloc'd;
 * info may be NULL. Errors name the file and, for JSONL, the line; token
 * files and datasets name the offending token's index. */
slm_status slmc_calib_data_read(const char *path, const slmc_calib_data_opts *o, const slmrt_tok *tk, int32_t **ids,
                                size_t *n, slmc_calib_data_info *info, slm_diag *d);

#endif
