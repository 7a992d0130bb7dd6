/* slm_model.h - the in-memory model every slm tool works on (the "IR").
 *
 * A model is: architecture hyperparameters (slm_hparams), an ordered table of
 * named tensors, a tokenizer, and free-form metadata key/values (everything
 * else a GGUF carries, e.g. general.name). Readers fill it, passes change it,
 * writers stream it out.
 *
 * Tensor data is reached lazily. A tensor's bytes are either
 *   - borrowed from a read-only memory map of the input (zero copy),
 *   - owned by the model (a pass produced new data), or
 *   - not loaded: a loader callback (HDF5 datasets, HF Q/K rows that need
 *     permuting) produces them on slm_tensor_acquire and slm_tensor_release
 *     drops them again,
 * so converting or inspecting a model never needs it all in memory at once.
 *
 * Ownership: everything reachable from an slm_model is owned by it and freed
 * by slm_model_free, except memory maps, which are owned by the model's input
 * list and unmapped by slm_model_free too. */
#ifndef SLM_MODEL_H
#define SLM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_status.h"
#include "slm_type.h"

#define SLM_MAX_NAME 64 /* GGUF/ggml limit, including the NUL */
#define SLM_MAX_DIMS 4

/* ---------------------------------------------------------------- values */

/* GGUF metadata value types; ids are GGUF's. */
typedef enum slm_vtype {
    SLM_V_U8 = 0, SLM_V_I8 = 1, SLM_V_U16 = 2, SLM_V_I16 = 3,
    SLM_V_U32 = 4, SLM_V_I32 = 5, SLM_V_F32 = 6, SLM_V_BOOL = 7,
    SLM_V_STR = 8, SLM_V_ARR = 9, SLM_V_U64 = 10, SLM_V_I64 = 11,
    SLM_V_F64 = 12,
    SLM_V_COUNT = 13
} slm_vtype;

typedef struct slm_str {
    char *s;      /* owned by the model's arena, NUL-terminated */
    uint64_t len; /* bytes, excluding the terminator (may contain NULs) */
} slm_str;

/* One metadata value. Scalars live in the union; a string in `str`; an array
 * in `arr` as `n` packed elements of `arr_type` (slm_str for strings, 1 byte
 * for bool). Nested arrays are not allowed (GGUF forbids them too). */
typedef struct slm_value {
    slm_vtype type;
    slm_vtype arr_type; /* element type when type == SLM_V_ARR */
    uint64_t n;         /* element count when type == SLM_V_ARR */
    union {
        uint64_t u64; /* U8, U16, U32, U64 */
        int64_t i64;  /* I8, I16, I32, I64 */
        double f64;   /* F32, F64 */
        bool b;
        slm_str str;
        void *arr;
    } v;
} slm_value;

typedef struct slm_kv {
    char *key; /* owned by the arena */
    slm_value value;
} slm_kv;

/* Size in bytes of one scalar of type t (0 for STR/ARR/invalid). */
size_t slm_vtype_size(slm_vtype t);
const char *slm_vtype_name(slm_vtype t);

/* ------------------------------------------------------------- hparams */

/* Hyperparameters llama.cpp reads under "{arch}.". Optional fields carry a
 * presence bit in `has` so a GGUF passes through without gaining keys. */
enum {
    SLM_HP_HEAD_COUNT_KV = 1u << 0,
    SLM_HP_ROPE_DIM = 1u << 1,
    SLM_HP_ROPE_FREQ_BASE = 1u << 2,
    SLM_HP_KEY_LENGTH = 1u << 3,
    SLM_HP_VALUE_LENGTH = 1u << 4,
    SLM_HP_ROPE_SCALING = 1u << 5, /* type, factor, original ctx */
    SLM_HP_VOCAB_SIZE = 1u << 6,
    SLM_HP_RMS_EPS = 1u << 7
};

typedef enum slm_rope_scaling {
    SLM_ROPE_SCALING_NONE = 0,
    SLM_ROPE_SCALING_LINEAR = 1,
    SLM_ROPE_SCALING_YARN = 2,
    SLM_ROPE_SCALING_LONGROPE = 3
} slm_rope_scaling;

typedef struct slm_hparams {
    char arch[32];          /* general.architecture, e.g. "llama" */
    uint32_t n_ctx;         /* context_length */
    uint32_t n_embd;        /* embedding_length */
    uint32_t n_ff;          /* feed_forward_length */
    uint32_t n_layer;       /* block_count */
    uint32_t n_head;        /* attention.head_count */
    uint32_t n_head_kv;     /* attention.head_count_kv (default n_head) */
    uint32_t n_rot;         /* rope.dimension_count (default head dim) */
    uint32_t key_length;    /* attention.key_length (default n_embd/n_head) */
    uint32_t value_length;  /* attention.value_length */
    uint32_t n_vocab;       /* vocab_size (informational; tokenizer decides) */
    float rms_eps;          /* attention.layer_norm_rms_epsilon */
    float rope_freq_base;   /* rope.freq_base (default 10000) */
    slm_rope_scaling rope_scaling;
    float rope_scaling_factor;
    uint32_t rope_scaling_orig_ctx;
    uint32_t has;           /* SLM_HP_* presence bits */
} slm_hparams;

/* Head dimension: key_length when present, else n_embd / n_head. */
uint32_t slm_hparams_head_dim(const slm_hparams *hp);

/* ------------------------------------------------------------ tokenizer */

typedef enum slm_tok_kind {
    SLM_TOK_NONE = 0, /* no tokenizer */
    SLM_TOK_SPM = 1,  /* "llama": SentencePiece-style, scores drive merges */
    SLM_TOK_BPE = 2   /* "gpt2": byte-level BPE with merges */
} slm_tok_kind;

/* llama.cpp token types */
enum {
    SLM_TOKEN_UNDEFINED = 0, SLM_TOKEN_NORMAL = 1, SLM_TOKEN_UNKNOWN = 2,
    SLM_TOKEN_CONTROL = 3, SLM_TOKEN_USER_DEFINED = 4, SLM_TOKEN_UNUSED = 5,
    SLM_TOKEN_BYTE = 6
};

typedef struct slm_tokenizer {
    slm_tok_kind kind;
    char *model_name;     /* tokenizer.ggml.model as read ("llama", "gpt2", ...) */
    char *pre;            /* tokenizer.ggml.pre, NULL when absent */
    uint32_t n_tokens;
    slm_str *tokens;      /* [n_tokens] */
    float *scores;        /* [n_tokens] or NULL */
    int32_t *token_types; /* [n_tokens] or NULL */
    uint32_t n_merges;
    slm_str *merges;      /* [n_merges] "left right", NULL when none */
    /* special ids as stored (u32); -1 when the key is absent */
    int64_t bos_id, eos_id, unk_id, pad_id, sep_id;
    /* -1 absent, 0 false, 1 true */
    int8_t add_bos, add_eos, add_space_prefix;
    char *chat_template;  /* NULL when absent */
} slm_tokenizer;

/* --------------------------------------------------------------- tensors */

typedef struct slm_model slm_model;
typedef struct slm_tensor slm_tensor;

/* Produces a tensor's bytes (nbytes, in t->type) into dst. */
typedef slm_status (*slm_tensor_load_fn)(void *ctx, const slm_tensor *t, void *dst, slm_diag *d);

struct slm_tensor {
    char name[SLM_MAX_NAME];
    slm_type type;         /* type of the bytes `data` holds / the loader produces */
    int n_dims;            /* 1..4 */
    int64_t ne[SLM_MAX_DIMS]; /* ggml order: ne[0] contiguous; unused dims 1 */
    size_t nbytes;
    const void *data;      /* final bytes: borrowed (mmap), == owned, or == loaded;
                              NULL until slm_tensor_acquire */
    void *owned;           /* model-owned buffer, or NULL */
    void *loaded;          /* temporary buffer made by acquire, freed by release */
    /* Where acquire gets the bytes when data is NULL: `src` (borrowed, in the
     * source's row order) or else `load`. */
    const void *src;
    slm_tensor_load_fn load;
    void *load_ctx;        /* borrowed; owned by the reader's state on the model */
    uint64_t load_arg;     /* reader-specific (dataset id, source offset, ...) */
    /* Non-zero: the source rows are in Hugging Face rotate-half order for this
     * many heads, and acquire applies llama.cpp's Q/K permutation
     * (formats.md 4.2): GGUF row h*hd+2i+p takes source row h*hd+p*hd/2+i. */
    uint32_t permute_heads;
    slm_type out_type;     /* type requested for writing; passes set it */
    /* Importance weights the writer encodes out_type with (quantize_row's
     * imatrix), or NULL for none: ne[0]*ne[2] floats, ne[0] per 2-D slice
     * (experts), one per column. Borrowed: a pass sets it (e.g. from an
     * imatrix) and keeps the array alive until the tensor is written. */
    const float *quant_weights;
    /* When set, the writer calls it for the tensor's whole encoding in
     * out_type (slm_type_row_size(out_type, ne[0]) per row) instead of
     * copying or converting it: for passes that quantize a matrix as a whole
     * (GPTQ) or change its values (AWQ's scales). Called once, when the
     * writer reaches the tensor, so memory still follows one tensor. */
    slm_status (*encode)(slm_tensor *t, void *ctx, void *dst, slm_diag *d);
    void *encode_ctx;
    /* Elements that must be exactly zero in any encoding (pruned weights):
     * bit i of zero_mask[i / 8], row-major, or NULL. Borrowed from the pass
     * that set it. Encoders with element access write the quant nearest 0
     * there; zero_inexact counts elements whose block grid has no exact 0. */
    const uint8_t *zero_mask;
    uint64_t zero_inexact;
    void *user;            /* free for passes; not owned */
};

int64_t slm_tensor_nelements(const slm_tensor *t);
int64_t slm_tensor_nrows(const slm_tensor *t); /* ne[1]*ne[2]*ne[3] */

/* Makes t->data valid: a no-op for borrowed/owned data; otherwise the bytes
 * come from src or load and, when permute_heads is set, are permuted into a
 * temporary buffer. Pair with slm_tensor_release. */
slm_status slm_tensor_acquire(slm_tensor *t, slm_diag *d);
/* Drops data produced by a loader (borrowed and owned data stay). */
void slm_tensor_release(slm_tensor *t);
/* Tells the OS a borrowed (memory-mapped) tensor will not be read again soon,
 * so streaming writers keep resident memory near one tensor instead of the
 * whole input. Data stays valid (pages fault back in if read). */
void slm_tensor_evict(const slm_tensor *t);

/* Dequantizes rows [row0, row0+nrows) into dst (nrows*ne[0] floats).
 * The tensor must be acquired. Fails for types without a decoder. */
slm_status slm_tensor_rows_f32(const slm_tensor *t, int64_t row0, int64_t nrows, float *dst, slm_diag *d);

/* Replaces the tensor's data with an owned buffer (taken over; malloc'd) of
 * the given type; shape stays. out_type follows the new type. */
slm_status slm_tensor_set_owned(slm_tensor *t, slm_type type, void *data, slm_diag *d);

/* Called by writers after each tensor (i counts from 1). */
typedef void (*slm_progress_fn)(void *ctx, uint32_t i, uint32_t n, const char *tensor_name, uint64_t bytes_done,
                                uint64_t bytes_total);

/* ----------------------------------------------------------------- model */

/* One input file the model was read from; the compiler hashes these for the
 * provenance keys. Maps are unmapped by slm_model_free. */
typedef struct slm_input {
    char *path;
    void *map;      /* mmap base or NULL */
    size_t map_size;
} slm_input;

struct slm_model {
    char *source_format; /* "gguf", "hf", "safetensors", "llama2c", "hdf5" */
    slm_hparams hp;
    slm_tokenizer tok;

    uint32_t n_tensors;
    slm_tensor *tensors;  /* ordered */
    uint32_t cap_tensors;

    uint32_t n_kv;        /* free-form metadata not covered by hp/tok */
    slm_kv *kv;
    uint32_t cap_kv;

    uint32_t n_inputs;
    slm_input *inputs;

    /* Reader state freed with the model (e.g. an open HDF5 file). */
    void *reader_state;
    void (*reader_state_free)(void *);

    struct slm_arena *arena; /* strings and arrays */
    /* Hash indexes from name to position, so that reading a file with many
     * tensors or keys stays linear (crafted inputs must not hang a reader). */
    struct slm_name_index *tensor_index, *kv_index;
};

slm_model *slm_model_new(void);
void slm_model_free(slm_model *m); /* accepts NULL */

/* Arena allocation (zeroed) and string copy; freed with the model. */
void *slm_model_alloc(slm_model *m, size_t n);
char *slm_model_strdup(slm_model *m, const char *s);
char *slm_model_strndup(slm_model *m, const char *s, size_t n);

/* Appends a tensor; the name must be unique and shorter than SLM_MAX_NAME.
 * The returned pointer is valid until the next add. */
slm_status slm_model_add_tensor(slm_model *m, const char *name, slm_type type, int n_dims,
                                const int64_t *ne, slm_tensor **out, slm_diag *d);
slm_tensor *slm_model_find_tensor(const slm_model *m, const char *name);
void slm_model_remove_tensor(slm_model *m, const char *name);
/* Renames a tensor in place (its position and data stay); errors when the
 * tensor is missing, the new name is taken or too long. */
slm_status slm_model_rename_tensor(slm_model *m, const char *name, const char *new_name, slm_diag *d);

/* Metadata. set_* replace an existing key. The value is deep-copied. */
slm_status slm_model_set_kv(slm_model *m, const char *key, const slm_value *v);
const slm_kv *slm_model_find_kv(const slm_model *m, const char *key);
void slm_model_remove_kv(slm_model *m, const char *key);
slm_status slm_model_set_str(slm_model *m, const char *key, const char *s);
slm_status slm_model_set_u32(slm_model *m, const char *key, uint32_t v);
slm_status slm_model_set_u64(slm_model *m, const char *key, uint64_t v);
slm_status slm_model_set_f32(slm_model *m, const char *key, float v);

/* Registers an input file and (optionally) its mapping for later unmapping. */
slm_status slm_model_add_input(slm_model *m, const char *path, void *map, size_t map_size);

/* Checks the model is internally consistent for its architecture: required
 * hparams present, tensor shapes and count as llama.cpp expects. */
slm_status slm_model_validate(const slm_model *m, slm_diag *d);

#endif
