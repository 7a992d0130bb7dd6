/* slmrt_tokenizer.c - the parts of the tokenizer common to both vocabulary
 * kinds: building the lookup tables from an slm_tokenizer (llama.cpp's
 * llama_vocab::load rules for defaults and token attributes), cutting special
 * tokens out of the text (tokenizer_st_partition), the encode driver that
 * adds BOS/EOS around the per-kind encoders, and decoding. The SPM and BPE
 * algorithms live in slmrt_tokenizer_spm.c and slmrt_tokenizer_bpe.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_tokenizer_int.h"

/* ------------------------------------------------------------- hashing */

uint64_t slmrt_tok_hash_bytes(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull; /* FNV-1a */
    }
    return h;
}

/* FNV's low bits are weak for short keys; a finalizer spreads them before
 * masking to a power-of-two table. */
static uint64_t hash_final(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static bool hash_alloc(tok_hash *h, uint64_t n) {
    uint64_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    h->slot = malloc(cap * sizeof *h->slot);
    if (!h->slot) return false;
    memset(h->slot, 0xff, cap * sizeof *h->slot); /* all -1 */
    h->mask = cap - 1;
    return true;
}

static const char *tok_text(const slmrt_tok *tk, int32_t id) { return tk->text_buf + tk->text_off[id]; }

int32_t slmrt_tok_find(const slmrt_tok *tk, const char *s, size_t n) {
    uint64_t i = hash_final(slmrt_tok_hash_bytes(TOK_HASH_SEED, s, n)) & tk->by_text.mask;
    for (;;) {
        int32_t id = tk->by_text.slot[i];
        if (id < 0) return -1;
        if (tk->text_len[id] == n && memcmp(tok_text(tk, id), s, n) == 0) return id;
        i = (i + 1) & tk->by_text.mask;
    }
}

/* Inserts id under its text; returns the id already there for a duplicate. */
static int32_t hash_insert_text(slmrt_tok *tk, int32_t id) {
    const char *s = tok_text(tk, id);
    size_t n = tk->text_len[id];
    uint64_t i = hash_final(slmrt_tok_hash_bytes(TOK_HASH_SEED, s, n)) & tk->by_text.mask;
    for (;;) {
        int32_t o = tk->by_text.slot[i];
        if (o < 0) {
            tk->by_text.slot[i] = id;
            return -1;
        }
        if (tk->text_len[o] == n && memcmp(tok_text(tk, o), s, n) == 0) return o;
        i = (i + 1) & tk->by_text.mask;
    }
}

/* ------------------------------------------------------- small helpers */

void slmrt_tok_ids_push(tok_ids *o, int32_t id) {
    if (!o->ok) return;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        int32_t *v = realloc(o->v, cap * sizeof *v);
        if (!v) {
            o->ok = false;
            return;
        }
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = id;
}

static bool heap_before(const tok_bigram *a, const tok_bigram *b) {
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

bool slmrt_tok_heap_push(tok_heap *h, tok_bigram b) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        tok_bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v) return false;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_before(&b, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
    return true;
}

tok_bigram slmrt_tok_heap_pop(tok_heap *h) {
    tok_bigram top = h->v[0];
    tok_bigram last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && heap_before(&h->v[c + 1], &h->v[c])) c++;
        if (!heap_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

void slmrt_tok_quote(const char *s, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        if (i == 40) {
            o += snprintf(buf + o, cap - o, "...");
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) o += snprintf(buf + o, cap - o, "\\x%02X", c);
        else buf[o++] = (char)c;
    }
    buf[o < cap ? o : cap - 1] = 0;
}

/* Length of the longest valid UTF-8 prefix of s (== n when all is valid):
 * shortest forms only, no surrogates, nothing above U+10FFFF. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return i;
        if (i + k >= n) return i; /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return i;
        i += k + 1;
    }
    return n;
}

/* ------------------------------------------------------------ building */

/* Token texts llama.cpp forces to CONTROL (llama_vocab::impl::load,
 * "auto-detect special tokens by text"): end-of-turn and fill-in-the-middle
 * markers. Those in EOG_NAMES also end generation (its special_eog_ids: the
 * EOT/EOM names, and the FIM pad/repo/file-separator ones). llama.cpp takes
 * only the first name it meets per FIM role, in hash order; a vocabulary with
 * two names for one role is unlikely, and we mark both. */
static const char *const EOG_NAMES[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", /* DeepSeek */
    "<|fim_pad|>", "<fim-pad>", "<PAD>",
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
    "<|file_sep|>"};
static const char *const CONTROL_NAMES[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
    "<|fim_suffix|>", "<fim-suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>",
    "<|fim_middle|>", "<fim-middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>"};

static uint8_t attr_from_type(int32_t type) {
    switch (type) {
    case SLM_TOKEN_NORMAL: return TOK_ATTR_NORMAL;
    case SLM_TOKEN_UNKNOWN: return TOK_ATTR_UNKNOWN;
    case SLM_TOKEN_CONTROL: return TOK_ATTR_CONTROL;
    case SLM_TOKEN_USER_DEFINED: return TOK_ATTR_USER_DEFINED;
    case SLM_TOKEN_UNUSED: return TOK_ATTR_UNUSED;
    case SLM_TOKEN_BYTE: return TOK_ATTR_BYTE;
    default: return TOK_ATTR_UNDEFINED;
    }
}

/* An id from the file replaces the default only when it is in range. */
static int32_t special_id(int64_t stored, int32_t dflt, uint32_t n_tokens) {
    int32_t id = (stored >= 0 && stored < (int64_t)n_tokens) ? (int32_t)stored : dflt;
    return (id >= 0 && (uint32_t)id < n_tokens) ? id : -1;
}

static uint8_t hexval(char c) {
    if (c >= '0' && c <= '9') return (uint8_t)(c - '0');
    if (c >= 'a' && c <= 'f') return (uint8_t)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (uint8_t)(c - 'A' + 10);
    return 0xff;
}

/* llama.cpp's token_to_byte: strtol of the two characters after "<0x". */
static uint8_t byte_token_value(const char *s, size_t n) {
    unsigned v = 0;
    for (size_t i = 3; i < 5 && i < n && hexval(s[i]) != 0xff; i++) v = v * 16 + hexval(s[i]);
    return (uint8_t)v;
}

/* The piece of one token (llama_token_to_piece, special=false) written to
 * buf when it fits; returns its length. */
static size_t make_piece(const slmrt_tok *tk, int32_t id, char *buf, size_t cap) {
    const char *s = tok_text(tk, id);
    size_t n = tk->text_len[id];
    uint8_t a = tk->attr[id] & ~TOK_ATTR_EOG;
    if (a & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL)) return 0;
    if (a & TOK_ATTR_USER_DEFINED) {
        if (n && n <= cap) memcpy(buf, s, n);
        return n;
    }
    if (tk->kind == SLM_TOK_SPM) {
        if (a & TOK_ATTR_NORMAL) {
            size_t o = 0;
            for (size_t i = 0; i < n;) {
                if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                    if (o < cap) buf[o] = ' ';
                    o++;
                    i += 3;
                } else {
                    if (o < cap) buf[o] = s[i];
                    o++;
                    i++;
                }
            }
            return o;
        }
        if (a & TOK_ATTR_BYTE) {
            if (cap >= 1) buf[0] = (char)byte_token_value(s, n);
            return 1;
        }
        return 0;
    }
    if (a & TOK_ATTR_NORMAL) return slmrt_tok_bpe_decode_text(tk, s, n, buf, cap);
    return 0; /* BPE byte / unused / undefined tokens decode to nothing */
}

static slm_status build_pieces(slmrt_tok *tk, slm_diag *d) {
    size_t total = 0;
    for (uint32_t i = 0; i < tk->n_tokens; i++) {
        tk->piece_len[i] = (uint32_t)make_piece(tk, (int32_t)i, NULL, 0);
        tk->piece_off[i] = total;
        total += tk->piece_len[i];
    }
    tk->piece_buf = malloc(total + 1);
    if (!tk->piece_buf) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for token pieces");
    for (uint32_t i = 0; i < tk->n_tokens; i++) make_piece(tk, (int32_t)i, tk->piece_buf + tk->piece_off[i], tk->piece_len[i]);
    return SLM_OK;
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const slmrt_tok *tk = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (tk->text_len[x] != tk->text_len[y]) return tk->text_len[x] > tk->text_len[y] ? -1 : 1;
    return x < y ? -1 : x > y; /* llama.cpp's sort is unstable; ids make ours reproducible */
}

static slm_status build_texts(slmrt_tok *tk, const slm_tokenizer *t, slm_diag *d) {
    uint32_t n = t->n_tokens;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!t->tokens[i].s && t->tokens[i].len)
            return slm_diag_set(d, SLM_ERR_INPUT, "tokenizer.ggml.tokens: token %u has no text", i);
        if (t->tokens[i].len > UINT32_MAX / 2)
            return slm_diag_set(d, SLM_ERR_INPUT, "tokenizer.ggml.tokens: token %u is %llu bytes long", i,
                                (unsigned long long)t->tokens[i].len);
        /* llama.cpp renames empty tokens "[EMPTY_<id>]" so they stay unique */
        total += (t->tokens[i].len ? t->tokens[i].len : 24) + 1;
    }
    tk->text_buf = malloc(total);
    tk->text_off = malloc(n * sizeof *tk->text_off);
    tk->text_len = malloc(n * sizeof *tk->text_len);
    tk->scores = calloc(n, sizeof *tk->scores);
    tk->attr = malloc(n);
    tk->piece_off = malloc(n * sizeof *tk->piece_off);
    tk->piece_len = malloc(n * sizeof *tk->piece_len);
    if (!tk->text_buf || !tk->text_off || !tk->text_len || !tk->scores || !tk->attr || !tk->piece_off ||
        !tk->piece_len || !hash_alloc(&tk->by_text, n))
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for a %u-token vocabulary", n);
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        tk->text_off[i] = o;
        if (t->tokens[i].len) {
            memcpy(tk->text_buf + o, t->tokens[i].s, t->tokens[i].len);
            tk->text_len[i] = (uint32_t)t->tokens[i].len;
        } else {
            tk->text_len[i] = (uint32_t)snprintf(tk->text_buf + o, 24, "[EMPTY_%u]", i);
        }
        o += tk->text_len[i];
        tk->text_buf[o++] = 0;
        int32_t dup = hash_insert_text(tk, (int32_t)i);
        if (dup >= 0) {
            char q[64];
            slmrt_tok_quote(tok_text(tk, (int32_t)i), tk->text_len[i], q, sizeof q);
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "tokenizer.ggml.tokens: token %u '%s' repeats token %d; token strings must be unique",
                                i, q, dup);
        }
        if (t->scores) tk->scores[i] = t->scores[i];
        tk->attr[i] = t->token_types ? attr_from_type(t->token_types[i]) : TOK_ATTR_NORMAL;
    }
    return SLM_OK;
}

static void apply_name_rules(slmrt_tok *tk) {
    for (size_t k = 0; k < sizeof CONTROL_NAMES / sizeof *CONTROL_NAMES; k++) {
        int32_t id = slmrt_tok_find(tk, CONTROL_NAMES[k], strlen(CONTROL_NAMES[k]));
        if (id >= 0 && !(tk->attr[id] & TOK_ATTR_CONTROL)) tk->attr[id] = TOK_ATTR_CONTROL;
    }
    for (size_t k = 0; k < sizeof EOG_NAMES / sizeof *EOG_NAMES; k++) {
        int32_t id = slmrt_tok_find(tk, EOG_NAMES[k], strlen(EOG_NAMES[k]));
        if (id < 0) continue;
        if (!(tk->attr[id] & TOK_ATTR_CONTROL)) tk->attr[id] = TOK_ATTR_CONTROL;
        tk->attr[id] |= TOK_ATTR_EOG;
    }
    if (tk->eos >= 0) tk->attr[tk->eos] |= TOK_ATTR_EOG;
}

slm_status slmrt_tok_new(const slm_tokenizer *t, slmrt_tok **out, slm_diag *d) {
    if (!out) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_tok_new: out is NULL");
    *out = NULL;
    if (!t) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_tok_new: no tokenizer given");
    if (t->kind != SLM_TOK_SPM && t->kind != SLM_TOK_BPE)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "tokenizer.ggml.model '%s' is not supported: expected 'llama' (SentencePiece) or "
                            "'gpt2' (byte-level BPE)",
                            t->model_name ? t->model_name : "(absent)");
    if (t->n_tokens == 0 || !t->tokens)
        return slm_diag_set(d, SLM_ERR_INPUT, "tokenizer.ggml.tokens: the vocabulary is empty");
    if (t->n_tokens > (uint32_t)INT32_MAX)
        return slm_diag_set(d, SLM_ERR_INPUT, "tokenizer.ggml.tokens: %u tokens is more than token ids can hold",
                            t->n_tokens);
    if (t->kind == SLM_TOK_BPE && (t->n_merges == 0 || !t->merges))
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "tokenizer.ggml.merges: a 'gpt2' (BPE) vocabulary needs merges, and there are none");

    slmrt_tok *tk = calloc(1, sizeof *tk);
    if (!tk) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    tk->kind = t->kind;
    tk->n_tokens = t->n_tokens;
    slm_status st = build_texts(tk, t, d);

    /* llama.cpp's defaults per tokenizer model, then per pre-tokenizer, then
     * whatever the file says */
    int add_bos = 0;
    bool no_bos = false;
    if (st == SLM_OK && tk->kind == SLM_TOK_BPE) {
        st = slmrt_tok_bpe_init(tk, t, d);
        if (st == SLM_OK) {
            add_bos = slmrt_tok_bpe_pre_add_bos(tk) > 0;
            no_bos = slmrt_tok_bpe_pre_no_bos(tk);
        }
    }
    if (st != SLM_OK) {
        slmrt_tok_free(tk);
        return st;
    }
    if (tk->kind == SLM_TOK_SPM) {
        tk->bos = special_id(t->bos_id, 1, tk->n_tokens);
        tk->eos = special_id(t->eos_id, 2, tk->n_tokens);
        tk->unk = special_id(t->unk_id, 0, tk->n_tokens);
        add_bos = 1;
        tk->add_space_prefix = true;
    } else {
        tk->bos = special_id(t->bos_id, no_bos ? -1 : 11, tk->n_tokens);
        tk->eos = special_id(t->eos_id, 11, tk->n_tokens);
        tk->unk = special_id(t->unk_id, -1, tk->n_tokens);
        tk->add_space_prefix = false;
    }
    tk->add_bos = t->add_bos >= 0 ? t->add_bos > 0 : add_bos;
    tk->add_eos = t->add_eos > 0;
    if (t->add_space_prefix >= 0) tk->add_space_prefix = t->add_space_prefix > 0;

    apply_name_rules(tk);

    /* SPM byte fallback: "<0xXX>", else a token that is the byte itself */
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id = slmrt_tok_find(tk, name, 6);
        if (id < 0) {
            char c = (char)b;
            id = slmrt_tok_find(tk, &c, 1);
        }
        tk->byte_tok[b] = id;
    }

    st = build_pieces(tk, d);
    if (st == SLM_OK) {
        uint32_t ns = 0;
        for (uint32_t i = 0; i < tk->n_tokens; i++)
            if (tk->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN)) ns++;
        tk->specials = malloc((ns ? ns : 1) * sizeof *tk->specials);
        if (!tk->specials) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        else {
            for (uint32_t i = 0; i < tk->n_tokens; i++)
                if (tk->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN))
                    tk->specials[tk->n_specials++] = (int32_t)i;
            qsort_r(tk->specials, tk->n_specials, sizeof *tk->specials, cmp_special, tk);
        }
    }
    if (st != SLM_OK) {
        slmrt_tok_free(tk);
        return st;
    }
    *out = tk;
    return SLM_OK;
}

void slmrt_tok_free(slmrt_tok *tk) {
    if (!tk) return;
    slmrt_tok_bpe_free(tk);
    free(tk->text_buf);
    free(tk->text_off);
    free(tk->text_len);
    free(tk->scores);
    free(tk->attr);
    free(tk->by_text.slot);
    free(tk->piece_buf);
    free(tk->piece_off);
    free(tk->piece_len);
    free(tk->specials);
    free(tk);
}

/* ------------------------------------------------------------ encoding */

/* A run of text still to tokenize (tok < 0) or a special token cut out. */
typedef struct frag {
    int32_t tok;
    size_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static bool frags_push(frags *f, int32_t tok, size_t off, size_t len) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        frag *v = realloc(f->v, cap * sizeof *v);
        if (!v) return false;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (frag){tok, off, len};
    return true;
}

/* llama.cpp's tokenizer_st_partition: for each special token, longest
 * first, split every remaining text run at each occurrence. */
static slm_status partition(const slmrt_tok *tk, const char *text, size_t len, bool parse_special, frags *out,
                            slm_diag *d) {
    frags cur = {0}, next = {0};
    slm_status st = SLM_OK;
    if (len && !frags_push(&cur, -1, 0, len)) st = SLM_ERR_NOMEM;
    for (uint32_t k = 0; k < tk->n_specials && st == SLM_OK; k++) {
        int32_t id = tk->specials[k];
        if (!parse_special && (tk->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN))) continue;
        const char *s = tok_text(tk, id);
        size_t sn = tk->text_len[id];
        bool any = false;
        for (size_t i = 0; i < cur.n && !any; i++)
            any = cur.v[i].tok < 0 && memmem(text + cur.v[i].off, cur.v[i].len, s, sn);
        if (!any) continue;
        next.n = 0;
        for (size_t i = 0; i < cur.n && st == SLM_OK; i++) {
            frag f = cur.v[i];
            if (f.tok >= 0) {
                if (!frags_push(&next, f.tok, f.off, f.len)) st = SLM_ERR_NOMEM;
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            while (pos < end && st == SLM_OK) {
                const char *m = memmem(text + pos, end - pos, s, sn);
                if (!m) break;
                size_t at = (size_t)(m - text);
                if ((at > pos && !frags_push(&next, -1, pos, at - pos)) || !frags_push(&next, id, at, sn))
                    st = SLM_ERR_NOMEM;
                pos = at + sn;
            }
            if (st == SLM_OK && pos < end && !frags_push(&next, -1, pos, end - pos)) st = SLM_ERR_NOMEM;
        }
        frags tmp = cur;
        cur = next;
        next = tmp;
    }
    free(next.v);
    if (st != SLM_OK) {
        free(cur.v);
        return slm_diag_set(d, st, "out of memory while tokenizing");
    }
    *out = cur;
    return SLM_OK;
}

slm_status slmrt_tok_encode_ex(const slmrt_tok *tk, const char *text, size_t len, bool add_special,
                               bool parse_special, int32_t **ids, size_t *n, slm_diag *d) {
    if (!tk || !ids || !n || (!text && len)) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_tok_encode: NULL argument");
    *ids = NULL;
    *n = 0;
    size_t ok = utf8_valid_prefix((const unsigned char *)text, len);
    if (ok != len)
        return slm_diag_set(d, SLM_ERR_INPUT, "text is not valid UTF-8 at byte offset %zu (byte 0x%02X)", ok,
                            (unsigned char)text[ok]);
    if (add_special && tk->add_bos && tk->bos < 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "the vocabulary asks for a BOS token (add_bos) but has no valid BOS id");
    if (add_special && tk->add_eos && tk->eos < 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "the vocabulary asks for an EOS token (add_eos) but has no valid EOS id");

    frags fr = {0};
    slm_status st = partition(tk, text, len, parse_special, &fr, d);
    if (st != SLM_OK) return st;
    tok_ids out = {.ok = true};
    if (add_special && tk->add_bos) slmrt_tok_ids_push(&out, tk->bos);
    bool prev_special = true; /* SPM: a text run after a special (or at the start) gets the space prefix */
    for (size_t i = 0; i < fr.n && st == SLM_OK; i++) {
        if (fr.v[i].tok >= 0) {
            slmrt_tok_ids_push(&out, fr.v[i].tok);
            prev_special = true;
        } else if (tk->kind == SLM_TOK_SPM) {
            st = slmrt_tok_spm_fragment(tk, text + fr.v[i].off, fr.v[i].len, tk->add_space_prefix && prev_special,
                                        &out, d);
            prev_special = false;
        } else {
            st = slmrt_tok_bpe_fragment(tk, text + fr.v[i].off, fr.v[i].len, &out, d);
        }
    }
    free(fr.v);
    if (st == SLM_OK && add_special && tk->add_eos) slmrt_tok_ids_push(&out, tk->eos);
    if (st == SLM_OK && !out.ok) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory while tokenizing");
    if (st == SLM_OK && !out.v) {
        out.v = malloc(sizeof *out.v); /* callers get a pointer to free even for no tokens */
        if (!out.v) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    if (st != SLM_OK) {
        free(out.v);
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return SLM_OK;
}

slm_status slmrt_tok_encode(const slmrt_tok *tk, const char *text, size_t len, bool add_special, int32_t **ids,
                            size_t *n, slm_diag *d) {
    return slmrt_tok_encode_ex(tk, text, len, add_special, false, ids, n, d);
}

/* ------------------------------------------------------------ decoding */

slm_status slmrt_tok_decode_piece(const slmrt_tok *tk, int32_t id, char *buf, size_t cap, size_t *len) {
    if (len) *len = 0;
    if (!tk || id < 0 || (uint32_t)id >= tk->n_tokens) return SLM_ERR_USAGE;
    size_t n = tk->piece_len[id];
    if (len) *len = n;
    if (n > cap || (!buf && n)) return SLM_ERR_USAGE;
    if (n) memcpy(buf, tk->piece_buf + tk->piece_off[id], n);
    if (n < cap) buf[n] = 0;
    return SLM_OK;
}

slm_status slmrt_tok_decode(const slmrt_tok *tk, const int32_t *ids, size_t n, char **out, size_t *len,
                            slm_diag *d) {
    if (!tk || !out || (!ids && n)) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_tok_decode: NULL argument");
    *out = NULL;
    if (len) *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= tk->n_tokens)
            return slm_diag_set(d, SLM_ERR_INPUT, "token id %d (position %zu) is out of range: the vocabulary has %u",
                                ids[i], i, tk->n_tokens);
        total += tk->piece_len[ids[i]];
    }
    char *s = malloc(total + 1);
    if (!s) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory decoding %zu tokens", n);
    /* the space the SPM prefix added sits on the first piece after BOS */
    size_t first = (n > 0 && tk->bos >= 0 && ids[0] == tk->bos) ? 1 : 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = tk->piece_buf + tk->piece_off[ids[i]];
        size_t pn = tk->piece_len[ids[i]];
        if (i == first && tk->add_space_prefix && pn && p[0] == ' ') {
            p++;
            pn--;
        }
        memcpy(s + o, p, pn);
        o += pn;
    }
    s[o] = 0;
    *out = s;
    if (len) *len = o;
    return SLM_OK;
}

/* ----------------------------------------------------------- accessors */

slm_tok_kind slmrt_tok_kind(const slmrt_tok *tk) { return tk->kind; }
int32_t slmrt_tok_n_vocab(const slmrt_tok *tk) { return (int32_t)tk->n_tokens; }
int32_t slmrt_tok_bos(const slmrt_tok *tk) { return tk->bos; }
int32_t slmrt_tok_eos(const slmrt_tok *tk) { return tk->eos; }
int32_t slmrt_tok_unk(const slmrt_tok *tk) { return tk->unk; }
bool slmrt_tok_add_bos(const slmrt_tok *tk) { return tk->add_bos; }
bool slmrt_tok_add_eos(const slmrt_tok *tk) { return tk->add_eos; }

bool slmrt_tok_is_eog(const slmrt_tok *tk, int32_t id) {
    return id >= 0 && (uint32_t)id < tk->n_tokens && (tk->attr[id] & TOK_ATTR_EOG);
}

bool slmrt_tok_is_control(const slmrt_tok *tk, int32_t id) {
    return id >= 0 && (uint32_t)id < tk->n_tokens && (tk->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN));
}

const char *slmrt_tok_pre(const slmrt_tok *tk) { return tk->kind == SLM_TOK_BPE ? slmrt_tok_bpe_pre_name(tk) : ""; }

const char *slmrt_tok_text(const slmrt_tok *tk, int32_t id, size_t *len) {
    if (id < 0 || (uint32_t)id >= tk->n_tokens) return NULL;
    if (len) *len = tk->text_len[id];
    return tok_text(tk, id);
}
