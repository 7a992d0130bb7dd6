/* slmrt_tokenizer.h - the runtime tokenizer: text <-> token ids exactly as
 * llama.cpp's llama_tokenize / llama_token_to_piece compute them, for the two
 * vocabulary kinds an slmc artifact carries:
 *
 *   SPM ("llama")  SentencePiece-style: spaces become U+2581, a U+2581 is
 *                  prepended (add_space_prefix), adjacent symbols are merged
 *                  best-score-first, leftovers fall back to <0xXX> byte tokens.
 *   BPE ("gpt2")   byte-level BPE: the text is split by the pre-tokenizer's
 *                  regexes (tokenizer.ggml.pre), bytes are mapped to GPT-2's
 *                  printable code points and merged lowest-rank-first.
 *
 * Before either runs, user-defined tokens (type 4) found literally in the text
 * are cut out and emitted as themselves, as llama.cpp does even when it does
 * not parse specials; control and unknown tokens are cut out only with
 * parse_special (slmrt_tok_encode_ex). Defaults follow llama.cpp's vocabulary
 * loader: SPM bos 1 / eos 2 / unk 0, add_bos true, add_space_prefix true; BPE
 * bos = eos = 11, add_bos false except for the llama-3 pre-tokenizer, whose
 * whole-word tokens also bypass the merges. Ids stored in the tokenizer that
 * are >= n_vocab are ignored in favour of the default, as llama.cpp does.
 *
 * Known differences from llama.cpp, all outside its own test vocabularies:
 *   - invalid UTF-8 is an error (SLM_ERR_INPUT naming the byte offset);
 *   - an SPM character with neither a token nor byte tokens becomes the
 *     unknown token once (llama.cpp throws);
 *   - Unicode letter/number classes come from the system PCRE2, which may
 *     know an older Unicode version than llama.cpp's generated tables;
 *   - the model-name hacks that give phi-3 / jina tokens lstrip/rstrip
 *     attributes are not reproduced (the IR does not carry general.name here).
 *
 * A tokenizer is immutable once built: any number of threads may encode and
 * decode with it concurrently (each call allocates its own scratch). */
#ifndef SLMRT_TOKENIZER_H
#define SLMRT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_model.h"

typedef struct slmrt_tok slmrt_tok;

/* Builds the lookup structures (token hash, merge ranks, byte tokens, the
 * GPT-2 byte map, compiled pre-tokenizer regexes) from t, which is copied:
 * it need not outlive the tokenizer. Fails with a message naming the problem
 * when the kind is not SPM/BPE, the vocabulary is empty or has duplicate
 * strings, a BPE vocabulary has no merges, or tokenizer.ggml.pre is a value
 * this runtime does not know (supported: NULL/"default", the GPT-2 family
 * ("gpt-2", "mpt", "olmo", ...), the llama-3 family ("llama-bpe", "llama3",
 * "dbrx", ...), "qwen2", "starcoder"-like and "falcon"). */
slm_status slmrt_tok_new(const slm_tokenizer *t, slmrt_tok **out, slm_diag *d);
void slmrt_tok_free(slmrt_tok *tk); /* accepts NULL */

/* Tokenizes len bytes of UTF-8 text. With add_special, BOS is prepended when
 * slmrt_tok_add_bos() and EOS appended when slmrt_tok_add_eos() (llama.cpp's
 * add_special). Control tokens written literally in the text are tokenized as
 * plain text. *ids is malloc'd (never NULL on success, even when *n == 0); the
 * caller frees it. Errors: invalid UTF-8 (SLM_ERR_INPUT with the offset), BOS
 * or EOS requested but the vocabulary has no such id. */
slm_status slmrt_tok_encode(const slmrt_tok *tk, const char *text, size_t len, bool add_special, int32_t **ids,
                            size_t *n, slm_diag *d);
/* The same, with llama.cpp's parse_special: when true, control and unknown
 * tokens written literally (e.g. "<|im_end|>") become their ids. */
slm_status slmrt_tok_encode_ex(const slmrt_tok *tk, const char *text, size_t len, bool add_special,
                               bool parse_special, int32_t **ids, size_t *n, slm_diag *d);

/* The bytes one token stands for (llama_token_to_piece with special=false):
 * SPM "▁" -> " ", <0xXX> -> that byte; BPE GPT-2 code points -> bytes;
 * control and unknown tokens -> "" ; user-defined tokens -> their text.
 * *len receives the piece's length. When it does not fit in cap bytes,
 * nothing is written and SLM_ERR_USAGE is returned (retry with *len bytes).
 * A NUL is appended when there is room (pieces may contain NUL bytes).
 * SLM_ERR_USAGE also for an id outside [0, n_vocab). */
slm_status slmrt_tok_decode_piece(const slmrt_tok *tk, int32_t id, char *buf, size_t cap, size_t *len);

/* Concatenates the pieces of ids into a malloc'd, NUL-terminated string.
 * When the vocabulary adds a space prefix (SPM by default), the single space
 * that prefix produced is removed from the first piece - the first token
 * after a leading BOS - so decode(encode(x, add_special)) == x. (llama.cpp's
 * llama_detokenize strips it only from tokens[0], so after a BOS it keeps the
 * space; and it applies clean_up_tokenization_spaces for some BPE
 * vocabularies, which is lossy and not done here.) Errors: id out of range. */
slm_status slmrt_tok_decode(const slmrt_tok *tk, const int32_t *ids, size_t n, char **out, size_t *len,
                            slm_diag *d);

slm_tok_kind slmrt_tok_kind(const slmrt_tok *tk);
int32_t slmrt_tok_n_vocab(const slmrt_tok *tk);
/* Special ids after llama.cpp's defaults; -1 when the vocabulary has none. */
int32_t slmrt_tok_bos(const slmrt_tok *tk);
int32_t slmrt_tok_eos(const slmrt_tok *tk);
int32_t slmrt_tok_unk(const slmrt_tok *tk);
/* Whether add_special prepends BOS / appends EOS. */
bool slmrt_tok_add_bos(const slmrt_tok *tk);
bool slmrt_tok_add_eos(const slmrt_tok *tk);
/* End of generation: EOS or a token llama.cpp recognises by its text
 * ("<|eot_id|>", "<|im_end|>", "<|endoftext|>", "<end_of_turn>", ...). */
bool slmrt_tok_is_eog(const slmrt_tok *tk, int32_t id);
/* Control or unknown token (decodes to ""). */
bool slmrt_tok_is_control(const slmrt_tok *tk, int32_t id);
/* The pre-tokenizer in use ("default", "gpt-2", "llama-bpe", ...); "" for SPM. */
const char *slmrt_tok_pre(const slmrt_tok *tk);
/* A token's stored text (borrowed, NUL-terminated; *len may be NULL), or
 * NULL for an id out of range. */
const char *slmrt_tok_text(const slmrt_tok *tk, int32_t id, size_t *len);

#endif
