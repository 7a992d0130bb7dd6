/* slm_imatrix.h - importance matrices in llama.cpp's legacy imatrix format
 * (the .dat files llama-imatrix writes and llama-quantize --imatrix reads).
 *
 * Layout, all little-endian:
 *   i32 n_entries (>= 1)
 *   n_entries times: i32 name_len, name bytes (no NUL), i32 ncall, i32 nval,
 *                    f32 values[nval]
 *   optional trailer: i32 last_call (chunks processed), i32 len, dataset name
 * Each value is a sum over ncall calls of the mean square of one input column
 * of the named weight matrix. llama-quantize divides the values by ncall when
 * it loads them (unless ncall is 0), and the quotients are the importance
 * weights its quantize_* functions take; slm_imatrix_load does the same, so
 * slm_imatrix_find returns exactly the weights to pass to
 * slm_type_traits.quantize_row. */
#ifndef SLM_IMATRIX_H
#define SLM_IMATRIX_H

#include <stdint.h>

#include "slm_status.h"

typedef struct slm_imatrix_entry {
    char *name;      /* tensor name, e.g. "blk.0.attn_q.weight" */
    int32_t ncall;   /* calls the sums were collected over */
    int64_t n;       /* values: ne[0] of the tensor (times ne[2] for 3-D) */
    float *values;   /* already divided by ncall */
} slm_imatrix_entry;

typedef struct slm_imatrix {
    int32_t n_entries;
    slm_imatrix_entry *entries;
    int32_t last_call; /* from the trailer; 0 when the file has none */
    char *dataset;     /* from the trailer (NUL-terminated); NULL when none */
} slm_imatrix;

/* Reads a legacy imatrix file. On bad input (truncated, counts that do not
 * fit the file, an empty or too long name, duplicate names, negative or
 * non-finite values, bytes after the trailer, a GGUF-format imatrix) returns
 * an error naming the file and the problem; *out is then NULL. */
slm_status slm_imatrix_load(const char *path, slm_imatrix **out, slm_diag *d);

/* The weights for a tensor, or NULL when the matrix has no entry for it.
 * *n (may be NULL) receives their count. */
const float *slm_imatrix_find(const slm_imatrix *im, const char *tensor_name, int64_t *n);

/* The weights to quantize a tensor of shape ne[0] x ... x ne[2] with, as
 * llama-quantize chooses them: *out = NULL (no error) when there is no
 * entry, the weights when the entry has ne0*ne2 values, and an error naming
 * the tensor and both sizes otherwise (llama-quantize refuses that too). */
slm_status slm_imatrix_for_tensor(const slm_imatrix *im, const char *tensor_name, int64_t ne0, int64_t ne2,
                                  const float **out, slm_diag *d);

void slm_imatrix_free(slm_imatrix *im); /* accepts NULL */

#endif
