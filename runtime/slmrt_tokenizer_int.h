/* slmrt_tokenizer_int.h - private to slmrt_tokenizer*.c: the slmrt_tok
 * layout, string hashing, the merge priority queue and the growable id
 * vector shared by the SPM (slmrt_tokenizer_spm.c) and BPE
 * (slmrt_tokenizer_bpe.c) encoders. Not part of the runtime's API. */
#ifndef SLMRT_TOKENIZER_INT_H
#define SLMRT_TOKENIZER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slmrt_tokenizer.h"

/* Token attributes: llama.cpp's llama_token_attr bits, so the rules read the
 * same as there. Derived from tokenizer.ggml.token_type at load time. */
enum {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_UNKNOWN = 1 << 0,
    TOK_ATTR_UNUSED = 1 << 1,
    TOK_ATTR_NORMAL = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_BYTE = 1 << 5,
    TOK_ATTR_EOG = 1 << 7 /* ours: ends generation (not a llama.cpp attr) */
};

typedef struct slmrt_pre_def slmrt_pre_def; /* a pre-tokenizer (BPE file) */

/* Open-addressing hash from a (pair of) byte strings to an int32 value.
 * Slots hold indexes into the owner's arrays; -1 = empty. */
typedef struct tok_hash {
    int32_t *slot;
    uint64_t mask; /* capacity - 1; capacity is a power of two */
} tok_hash;

/* Everything an slmrt_tok points to is owned by it (copied from the
 * slm_tokenizer at build time) and freed by slmrt_tok_free. */
struct slmrt_tok {
    slm_tok_kind kind;
    uint32_t n_tokens;

    /* token texts, each NUL-terminated inside text_buf */
    char *text_buf;
    size_t *text_off;   /* [n_tokens] */
    uint32_t *text_len; /* [n_tokens] */
    float *scores;      /* [n_tokens], 0 when the vocabulary has none */
    uint8_t *attr;      /* [n_tokens] TOK_ATTR_* */
    tok_hash by_text;   /* text -> id */

    /* pieces for decoding (llama_token_to_piece, special=false) */
    char *piece_buf;
    size_t *piece_off;   /* [n_tokens] */
    uint32_t *piece_len; /* [n_tokens] */

    /* control / user-defined / unknown tokens, longest text first: the order
     * llama.cpp cuts them out of the text */
    int32_t *specials;
    uint32_t n_specials;

    int32_t bos, eos, unk; /* -1 = none */
    bool add_bos, add_eos, add_space_prefix;

    /* SPM: id of the <0xXX> (or one-byte) token for each byte, -1 = none */
    int32_t byte_tok[256];

    /* BPE: merges "a b" split at the first space after the first byte; rank
     * = index of the first occurrence */
    char *merge_buf;
    size_t *merge_a;      /* [n_merges] offset of a in merge_buf */
    size_t *merge_b;      /* [n_merges] offset of b */
    uint32_t *merge_alen; /* [n_merges] */
    uint32_t *merge_blen; /* [n_merges] */
    uint32_t n_merges;
    tok_hash merge_rank;  /* (a, b) -> rank */
    bool ignore_merges;   /* llama-3: a word that is a token skips the merges */
    const slmrt_pre_def *pre;
    void *re[4]; /* pcre2_code_8 *, one per pre-tokenizer regex */
    int n_re;
    /* GPT-2 byte <-> code point map: byte b is written as the UTF-8 bytes
     * byte_utf8[b][1..byte_utf8[b][0]] */
    uint8_t byte_utf8[256][3];
    int16_t cpt_byte[324]; /* code point (< 0x144) -> byte, -1 = none */
};

/* ------------------------------------------------------------ helpers */

uint64_t slmrt_tok_hash_bytes(uint64_t h, const char *s, size_t n);
#define TOK_HASH_SEED 0xcbf29ce484222325ull

/* Looks up a token by its text; -1 when absent. */
int32_t slmrt_tok_find(const slmrt_tok *tk, const char *s, size_t n);

/* Growable vector of token ids; `ok` turns false on allocation failure and
 * stays false (pushes become no-ops) so callers check once at the end. */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
    bool ok;
} tok_ids;
void slmrt_tok_ids_push(tok_ids *o, int32_t id);

/* Max-priority queue of candidate merges: larger key first, then smaller
 * left index (leftmost), which is how both llama.cpp comparators order ties.
 * SPM uses the score as key, BPE minus the rank. */
typedef struct tok_bigram {
    double key;
    int32_t left, right;
    size_t size; /* bytes of the merged text, to spot stale entries */
} tok_bigram;
typedef struct tok_heap {
    tok_bigram *v;
    size_t n, cap;
} tok_heap;
bool slmrt_tok_heap_push(tok_heap *h, tok_bigram b);
tok_bigram slmrt_tok_heap_pop(tok_heap *h);

/* A symbol during merging: a byte range of the word, linked to neighbours. */
typedef struct tok_sym {
    int32_t prev, next;
    size_t off, n; /* n == 0: merged into its left neighbour */
} tok_sym;

/* ------------------------------------------------------------ per kind */

/* Appends the tokens of one raw-text fragment (no specials inside). */
slm_status slmrt_tok_spm_fragment(const slmrt_tok *tk, const char *text, size_t len, bool space_prefix,
                                  tok_ids *out, slm_diag *d);
slm_status slmrt_tok_bpe_fragment(const slmrt_tok *tk, const char *text, size_t len, tok_ids *out, slm_diag *d);

/* BPE set-up: resolves tk->pre from name (NULL = default) and compiles its
 * regexes; fills the GPT-2 byte maps; parses the merges. */
slm_status slmrt_tok_bpe_init(slmrt_tok *tk, const slm_tokenizer *t, slm_diag *d);
void slmrt_tok_bpe_free(slmrt_tok *tk);
const char *slmrt_tok_bpe_pre_name(const slmrt_tok *tk);
/* Pre-tokenizer defaults llama.cpp applies by name: add_bos (-1 = keep),
 * whether merges are skipped for whole-word tokens, whether BOS is dropped. */
int slmrt_tok_bpe_pre_add_bos(const slmrt_tok *tk);
bool slmrt_tok_bpe_pre_no_bos(const slmrt_tok *tk);

/* GPT-2 byte-level decoding of a token text (llama_decode_text), appended to
 * buf (which has room for at most cap bytes); returns the full length. */
size_t slmrt_tok_bpe_decode_text(const slmrt_tok *tk, const char *s, size_t n, char *buf, size_t cap);

/* Formats a token text for an error message: at most ~40 bytes, control
 * bytes escaped. */
void slmrt_tok_quote(const char *s, size_t n, char *buf, size_t cap);

#endif
