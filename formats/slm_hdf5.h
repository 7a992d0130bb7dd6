/* slm_hdf5.h - models stored in HDF5 (layout: docs/hdf5.md): one dataset per
 * tensor named by its Hugging Face name (groups act as '.' separators), the
 * config.json text as string attribute "config" on the root group, optional
 * tokenizer.json text as attribute "tokenizer". F32/F16 datasets; BF16 as
 * uint16 with attribute dtype="bfloat16". Datasets are read lazily. */
#ifndef SLM_HDF5_H
#define SLM_HDF5_H

#include "slm_model.h"

slm_status slm_hdf5_read(const char *path, slm_model **out, slm_diag *d);

/* Token ids (calibration data) from an integer dataset: rank 1, or rank 2
 * with one sequence per row, read in row-major order. `dataset` names it
 * ("input_ids", "/train/tokens"); NULL picks "input_ids", then "tokens",
 * then the root group's only integer dataset. The ids reach `fn` in pieces
 * of at most about 64K (a rank-2 row is never split across calls) as int64,
 * so any integer width and sign reads without loss; `first` is the index of
 * ids[0] in the whole dataset. fn returns 0 to go on, 1 to stop reading, or
 * -1 after setting d (returned as is). Errors name the file and dataset. */
typedef int (*slm_hdf5_ids_fn)(void *user, const int64_t *ids, size_t n, uint64_t first, slm_diag *d);
slm_status slm_hdf5_read_ids(const char *path, const char *dataset, slm_hdf5_ids_fn fn, void *user, slm_diag *d);

#endif
