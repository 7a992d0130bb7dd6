/* slmc_calib_data.h - calibration data as token ids: plain text, JSONL
 * (a "text" field, or chat "messages" rendered as "role: content\n" lines),
 * or pre-tokenized files (whitespace-separated ids); any of them may be
 * gzip-compressed (read through zlib, which passes plain files through).
 * HDF5 token datasets are not supported yet.
 *
 * Text is tokenized with the model's tokenizer the way llama-imatrix does it
 * (add_special: BOS first when the vocabulary adds one, parse_special off).
 * Input is read in pieces cut at line ends (about 1 MiB each) and reading
 * stops once enough tokens are there, so memory stays bounded by what the
 * run needs; a file that fits in one piece is tokenized exactly as one
 * string. Later pieces are tokenized without BOS, and (SPM) each starts with
 * the space prefix again, which whole-file tokenization would not add. */
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

/* Reads token ids from path until at least max_tokens are there or the data
 * ends (*n may exceed max_tokens by up to one piece). tk tokenizes text and
 * bounds pre-tokenized ids (ids must be < its n_vocab). *ids is malloc'd.
 * Errors name the file and, for JSONL, the line; token files name the
 * offending token's index. */
slm_status slmc_calib_data_read(const char *path, slmc_calib_data_format fmt, const slmrt_tok *tk, size_t max_tokens,
                                int32_t **ids, size_t *n, slm_diag *d);

#endif
