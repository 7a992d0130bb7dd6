/* slm_gguf.h - GGUF v2/v3 reader and v3 writer (layout: formats.md §1).
 *
 * The reader memory-maps the file and borrows tensor bytes from the map. It
 * validates everything before use: header counts against the file size,
 * string and array lengths, value and tensor types, dimension counts, names
 * (unique, < 64 bytes), and tensor offsets (sequential, aligned, inside the
 * file). Known keys become slm_hparams / slm_tokenizer fields; all other keys
 * are kept verbatim in the model's metadata.
 *
 * The writer streams the model tensor by tensor into a temporary file that is
 * renamed on success. A tensor whose out_type differs from its type is
 * converted a batch of rows at a time: decode to f32, then encode each row
 * with out_type's quantize_row (llama-quantize's rules) and the tensor's
 * quant_weights. */
#ifndef SLM_GGUF_H
#define SLM_GGUF_H

#include "slm_model.h"

#define SLM_GGUF_DEFAULT_ALIGNMENT 32

slm_status slm_gguf_read(const char *path, slm_model **out, slm_diag *d);

/* Runs body(ctx, i) for every i in [0, n), in any order and possibly on
 * several threads at once; returns when all are done. */
typedef void (*slm_parallel_for_fn)(void *pctx, int64_t n, void (*body)(void *ctx, int64_t i), void *ctx);

#define SLM_GGUF_MAX_LATE 2

typedef struct slm_gguf_write_opts {
    uint32_t alignment;        /* 0 = 32 */
    slm_progress_fn progress;  /* may be NULL */
    void *progress_ctx;
    /* Encodes the rows of each converted tensor in parallel; NULL runs
     * serially. A hook rather than a thread library in formats: the caller
     * owns threading (slmc passes OpenMP's). The bytes do not depend on it. */
    slm_parallel_for_fn parallel_for;
    void *parallel_ctx;
    /* String (or string-array) values known only after the tensors, e.g.
     * hashes of the inputs computed while the tensors stream, or scores of
     * the finished artifact: the model holds placeholders of the final
     * lengths under each key; after the tensor data, `fill` is called for
     * each string (index 0 for a plain string) to write its final bytes over
     * the placeholder. Unused entries have key NULL. */
    struct {
        const char *key;
        slm_status (*fill)(void *ctx, uint32_t index, char *s, size_t len, slm_diag *d);
        void *ctx;
    } late[SLM_GGUF_MAX_LATE];
    /* Called once the tensor data is in the (still temporary) file and
     * flushed, before the late values are filled: e.g. to evaluate the
     * artifact and fill a late value with the result. May be NULL. */
    slm_status (*written)(void *ctx, const char *tmp_path, slm_diag *d);
    void *written_ctx;
} slm_gguf_write_opts;

/* Writes hparams and tokenizer keys, then the model's metadata (which should
 * include general.file_type etc. as the caller wants them), then tensors in
 * table order converted to each tensor's out_type. */
slm_status slm_gguf_write(slm_model *m, const char *path, const slm_gguf_write_opts *opts, slm_diag *d);

/* What slm_gguf_write would write with the tensors' current out_types:
 * the header (key/values and tensor infos, padded) and the tensor data
 * (each tensor padded to the alignment; 0 = 32). header + data is the
 * file's size. */
slm_status slm_gguf_size(const slm_model *m, uint32_t alignment, uint64_t *header, uint64_t *data, slm_diag *d);

/* Fills hp/tok from a GGUF-style key/value, returning true when the key was
 * consumed (so it is not also kept as free-form metadata). Used by readers
 * that carry GGUF-named metadata. A known key with a bad value (wrong type,
 * scores/token_type not matching the token count) records an error in d and
 * returns false: callers must check d. "{arch}." keys are only recognised
 * once general.architecture is absorbed, and scores/token_type only after
 * tokenizer.ggml.tokens, so absorb those two first. Values are deep-copied. */
bool slm_gguf_absorb_kv(slm_model *m, const char *key, const slm_value *v, slm_diag *d);

/* The inverse of slm_gguf_absorb_kv: the key/values that express m->hp and
 * m->tok (general.architecture excluded), in the order the writer emits them.
 * Optional keys appear per the `has` bits / presence; a per-layer array the
 * model keeps in its free metadata replaces the scalar hparam. Values borrow
 * from the model; the keys live in the returned block: free(*out) only. */
slm_status slm_gguf_model_kvs(const slm_model *m, slm_kv **out, uint32_t *n_out, slm_diag *d);

#endif
