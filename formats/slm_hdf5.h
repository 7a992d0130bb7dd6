/* slm_hdf5.h - models stored in HDF5 (layout: docs/hdf5.md): one dataset per
 * tensor named by its Hugging Face name (groups act as '.' separators), the
 * config.json text as string attribute "config" on the root group, optional
 * tokenizer.json text as attribute "tokenizer". F32/F16 datasets; BF16 as
 * uint16 with attribute dtype="bfloat16". Datasets are read lazily. */
#ifndef SLM_HDF5_H
#define SLM_HDF5_H

#include "slm_model.h"

slm_status slm_hdf5_read(const char *path, slm_model **out, slm_diag *d);

#endif
