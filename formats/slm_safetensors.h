/* slm_safetensors.h - the safetensors container (formats.md §6): an 8-byte
 * header length, a JSON header, then packed tensor bytes. */
#ifndef SLM_SAFETENSORS_H
#define SLM_SAFETENSORS_H

#include "slm_model.h"

typedef struct slm_st_entry {
    char *name;        /* malloc'd */
    slm_type type;     /* F32, F16 or BF16 (other dtypes are rejected) */
    int n_dims;
    int64_t shape[SLM_MAX_DIMS]; /* outermost first, as in the file */
    const void *data;  /* borrowed from the map */
    size_t nbytes;
} slm_st_entry;

typedef struct slm_st_file {
    const void *map;
    size_t map_size;
    uint32_t n;
    slm_st_entry *entries;
} slm_st_file;

/* Maps and validates a safetensors file: header length within the file,
 * valid JSON object, known dtype, shape × dtype size == offsets span, offsets
 * inside the buffer, no overlaps, no duplicates. Errors name the file and the
 * tensor. */
slm_status slm_st_open(const char *path, slm_st_file *f, slm_diag *d);
/* Frees entries; unmaps unless keep_map (then the caller owns the map). */
void slm_st_close(slm_st_file *f, bool keep_map);

typedef struct slm_st_write_tensor {
    const char *name;
    slm_type type;     /* F32, F16, BF16 */
    int n_dims;
    int64_t shape[SLM_MAX_DIMS]; /* outermost first */
    /* Produces the bytes (nbytes) into dst. */
    slm_status (*get)(void *ctx, size_t index, void *dst, slm_diag *d);
} slm_st_write_tensor;

/* Writes a safetensors file atomically; tensors are laid out in the given
 * order; `metadata` (may be NULL) is a JSON object of string values stored
 * as "__metadata__". */
slm_status slm_st_write(const char *path, const slm_st_write_tensor *tensors, size_t n, void *ctx,
                        const char *const *meta_keys, const char *const *meta_values, size_t n_meta, slm_diag *d);

#endif
