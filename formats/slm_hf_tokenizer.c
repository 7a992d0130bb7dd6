/* slm_hf_tokenizer.c - Hugging Face tokenizer.json (+ tokenizer_config.json)
 * to and from the model's slm_tokenizer, which holds a tokenizer the way
 * llama.cpp stores it in a GGUF (tokenizer.ggml.*, formats.md §3).
 *
 * Both families understood here are HF "BPE" models:
 *   - byte-level BPE (GPT-2, Llama 3, Qwen2): a ByteLevel pre-tokenizer or
 *     decoder -> SLM_TOK_BPE "gpt2". Merges are kept as "left right" strings
 *     and the pre-tokenizer's Split regex picks tokenizer.ggml.pre.
 *   - SentencePiece-style BPE (Llama 2, Mistral): byte_fallback or "▁" for
 *     spaces -> SLM_TOK_SPM "llama". llama.cpp's SPM tokenizer has no merge
 *     list; it merges the adjacent pair whose result has the highest score.
 *     So the parser turns merge order into scores (spm_scores) and the writer
 *     turns scores back into a merge list (spm_merge_order). */
#include "slm_hf.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm_file.h"
#include "slm_json.h"

#define SLM_SPM_SPACE "\xe2\x96\x81" /* U+2581 "▁", SentencePiece's visible space */
#define SLM_MAX_COMPONENT_DEPTH 8      /* Sequence nesting we look through */

/* Pre-tokenizer regexes exactly as tokenizer.json's Split patterns spell
 * them, with the tokenizer.ggml.pre value llama.cpp uses for each. */
static const struct {
    const char *pre;
    const char *regex;
} slm_pre_regexes[] = {
    {"gpt-2", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},
    {"llama-bpe", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
                  "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
    {"qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
              "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
};

/* llama.cpp's "default" pre-tokenizer applies these one after the other, each
 * splitting the pieces the previous one produced; a Sequence of Split
 * pre-tokenizers does the same in HF. */
static const char *const slm_pre_default_regexes[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static slm_status tok_fail(slm_diag *d, slm_status st, const char *file, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return slm_diag_set(d, st, "%s: %s", file, msg);
}

/* ------------------------------------------------------- token lookup */

/* Open-addressing hash from token string to id; vocabularies reach 150k+
 * tokens and every merge needs three lookups. */
typedef struct slm_tok_index {
    const slm_str *tokens; /* borrowed */
    uint32_t *slots;       /* id + 1; 0 = empty */
    size_t mask;
} slm_tok_index;

static uint64_t slm_tok_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int64_t slm_tok_find(const slm_tok_index *ix, const char *s, size_t n) {
    for (size_t i = slm_tok_hash(s, n) & ix->mask;; i = (i + 1) & ix->mask) {
        uint32_t v = ix->slots[i];
        if (!v) return -1;
        const slm_str *t = &ix->tokens[v - 1];
        if (t->len == n && memcmp(t->s, s, n) == 0) return v - 1;
    }
}

/* Indexes tokens[0..n). A string present twice gives SLM_ERR_INPUT with the
 * two ids in dup[] (the caller names its file); llama.cpp asserts on it. */
static slm_status slm_tok_index_build(slm_tok_index *ix, const slm_str *tokens, uint32_t n, uint32_t dup[2]) {
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap <<= 1;
    ix->tokens = tokens;
    ix->mask = cap - 1;
    ix->slots = calloc(cap, sizeof *ix->slots);
    if (!ix->slots) return SLM_ERR_NOMEM;
    for (uint32_t id = 0; id < n; id++) {
        for (size_t i = slm_tok_hash(tokens[id].s, tokens[id].len) & ix->mask;; i = (i + 1) & ix->mask) {
            uint32_t v = ix->slots[i];
            if (!v) {
                ix->slots[i] = id + 1;
                break;
            }
            const slm_str *t = &tokens[v - 1];
            if (t->len == tokens[id].len && memcmp(t->s, tokens[id].s, t->len) == 0) {
                dup[0] = v - 1;
                dup[1] = id;
                return SLM_ERR_INPUT;
            }
        }
    }
    return SLM_OK;
}

static void slm_tok_index_free(slm_tok_index *ix) {
    free(ix->slots);
    ix->slots = NULL;
}

/* ------------------------------------------------------------ helpers */

static size_t slm_utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* The same acceptance as jansson's (no overlongs, surrogates or code points
 * past U+10FFFF), checked up front so a failed json_string means memory. */
static bool slm_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            if (c == 0) return false; /* JSON text here never carries NULs */
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

/* "<0xAB>": SentencePiece's byte-fallback pieces, which llama.cpp types BYTE. */
static bool slm_is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

static bool slm_is_byte_piece(const slm_str *t) {
    return t->len == 6 && memcmp(t->s, "<0x", 3) == 0 && slm_is_upper_hex(t->s[3]) && slm_is_upper_hex(t->s[4]) &&
           t->s[5] == '>';
}

static bool slm_json_type_is(const json_t *node, const char *type) {
    const char *t = json_string_value(json_object_get(node, "type"));
    return t && strcmp(t, type) == 0;
}

/* tokenizer.json pipeline stages are either one component or a "Sequence" of
 * them; calls pred on every component until it returns true. */
typedef bool (*slm_component_pred)(json_t *node, void *ctx);

static bool slm_any_component(json_t *node, slm_component_pred pred, void *ctx, int depth) {
    if (!json_is_object(node) || depth > SLM_MAX_COMPONENT_DEPTH) return false;
    if (pred(node, ctx)) return true;
    if (!slm_json_type_is(node, "Sequence")) return false;
    static const char *const lists[] = {"pretokenizers", "decoders", "normalizers", "processors"};
    for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
        json_t *arr = json_object_get(node, lists[l]);
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) if (slm_any_component(e, pred, ctx, depth + 1)) return true;
    }
    return false;
}

static bool slm_is_byte_level(json_t *node, void *ctx) {
    (void)ctx;
    return slm_json_type_is(node, "ByteLevel");
}

static bool slm_str_is(json_t *v, const char *s) {
    const char *t = json_string_value(v);
    return t && strcmp(t, s) == 0;
}

/* Components that only SentencePiece-style tokenizers use: spaces shown as ▁. */
static bool slm_is_spm_marker(json_t *node, void *ctx) {
    (void)ctx;
    if (slm_json_type_is(node, "Metaspace")) return true;
    if (slm_json_type_is(node, "Prepend")) return slm_str_is(json_object_get(node, "prepend"), SLM_SPM_SPACE);
    if (slm_json_type_is(node, "Replace"))
        return slm_str_is(json_object_get(json_object_get(node, "pattern"), "String"), SLM_SPM_SPACE) ||
               slm_str_is(json_object_get(node, "content"), SLM_SPM_SPACE);
    return false;
}

/* Whether the text gets a leading ▁ (llama.cpp's add_space_prefix). */
static bool slm_is_space_prefix(json_t *node, void *ctx) {
    (void)ctx;
    if (slm_json_type_is(node, "Prepend")) return slm_str_is(json_object_get(node, "prepend"), SLM_SPM_SPACE);
    if (!slm_json_type_is(node, "Metaspace")) return false;
    json_t *scheme = json_object_get(node, "prepend_scheme");
    if (json_is_string(scheme)) return !slm_str_is(scheme, "never");
    json_t *legacy = json_object_get(node, "add_prefix_space");
    return !json_is_false(legacy); /* HF's default scheme is "always" */
}

typedef struct slm_split_scan {
    int n_split;
    int n_other;           /* Digits, Punctuation, ...: splitting no named regex does */
    json_t *last_split;
    bool byte_level_regex; /* a ByteLevel that splits with GPT-2's regex itself */
} slm_split_scan;

static bool slm_scan_splits(json_t *node, void *ctx) {
    slm_split_scan *s = ctx;
    if (slm_json_type_is(node, "Sequence")) return false;
    if (slm_json_type_is(node, "Split")) {
        s->n_split++;
        s->last_split = node;
    } else if (slm_json_type_is(node, "ByteLevel")) {
        if (!json_is_false(json_object_get(node, "use_regex"))) s->byte_level_regex = true;
    } else {
        s->n_other++;
    }
    return false;
}

static bool slm_find_template(json_t *node, void *ctx) {
    if (!slm_json_type_is(node, "TemplateProcessing")) return false;
    *(json_t **)ctx = node;
    return true;
}

/* ============================================================== parse */

typedef struct slm_tok_parse {
    slm_model *m;
    slm_diag *d;
    const char *file;      /* tokenizer.json as named in errors */
    char cfg_file[1024];   /* tokenizer_config.json as named in errors */
    json_t *root, *model;
    slm_tokenizer t;       /* built here, copied to m->tok only on success */
    uint8_t *added;        /* [cap] 0 model.vocab only, 1 added, 2 added special */
    slm_tok_index ix;
    uint32_t (*merge_ids)[3]; /* [n_merge] left, right, result */
    uint32_t n_merge;
    char *scratch;
    size_t scratch_cap;
} slm_tok_parse;

static char *slm_scratch(slm_tok_parse *p, size_t n) {
    if (n > p->scratch_cap) {
        size_t cap = n < 256 ? 256 : n * 2;
        char *b = realloc(p->scratch, cap);
        if (!b) return NULL;
        p->scratch = b;
        p->scratch_cap = cap;
    }
    return p->scratch;
}

static slm_status slm_parse_nomem(slm_tok_parse *p) { return tok_fail(p->d, SLM_ERR_NOMEM, p->file, "out of memory"); }

/* Token table from model.vocab plus added_tokens (whose ids may extend it). */
static slm_status slm_parse_vocab(slm_tok_parse *p) {
    json_t *vocab = json_object_get(p->model, "vocab");
    if (!json_is_object(vocab))
        return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.vocab: expected an object mapping token to id");
    json_t *added = json_object_get(p->root, "added_tokens");
    if (added && !json_is_null(added) && !json_is_array(added))
        return tok_fail(p->d, SLM_ERR_INPUT, p->file, "added_tokens: expected an array");
    size_t cap = json_object_size(vocab) + json_array_size(added);
    if (cap == 0) return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.vocab: empty, expected at least one token");
    if (cap > INT32_MAX) return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.vocab: %zu tokens is too many", cap);

    slm_str *tokens = slm_model_alloc(p->m, cap * sizeof *tokens);
    p->added = calloc(cap, 1);
    uint8_t *filled = calloc(cap, 1);
    slm_status st = SLM_OK;
    if (!tokens || !p->added || !filled) {
        st = slm_parse_nomem(p);
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val)) {
            st = tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.vocab[\"%.80s\"]: expected an integer id", key);
            goto out;
        }
        json_int_t id = json_integer_value(val);
        if (id < 0 || (size_t)id >= cap) {
            st = tok_fail(p->d, SLM_ERR_INPUT, p->file,
                          "model.vocab[\"%.80s\"]: id %lld leaves gaps; ids must be dense 0..n-1 over model.vocab "
                          "and added_tokens (%zu entries)",
                          key, (long long)id, cap);
            goto out;
        }
        if (filled[id]) {
            st = tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.vocab: \"%.80s\" and \"%.80s\" both have id %lld",
                          tokens[id].s, key, (long long)id);
            goto out;
        }
        size_t len = strlen(key);
        tokens[id].s = slm_model_strndup(p->m, key, len);
        tokens[id].len = len;
        if (!tokens[id].s) {
            st = slm_parse_nomem(p);
            goto out;
        }
        filled[id] = 1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(added, i, e) {
        json_t *jid = json_object_get(e, "id"), *content = json_object_get(e, "content");
        json_t *special = json_object_get(e, "special");
        if (!json_is_integer(jid) || !json_is_string(content)) {
            st = tok_fail(p->d, SLM_ERR_INPUT, p->file,
                          "added_tokens[%zu]: expected an object with an integer \"id\" and a string \"content\"", i);
            goto out;
        }
        if (special && !json_is_boolean(special)) {
            st = tok_fail(p->d, SLM_ERR_INPUT, p->file, "added_tokens[%zu].special: expected true or false", i);
            goto out;
        }
        json_int_t id = json_integer_value(jid);
        const char *s = json_string_value(content);
        size_t len = json_string_length(content);
        if (id < 0 || (size_t)id >= cap) {
            st = tok_fail(p->d, SLM_ERR_INPUT, p->file,
                          "added_tokens[%zu].id: %lld leaves gaps; ids must be dense 0..n-1 over model.vocab and "
                          "added_tokens (%zu entries)",
                          i, (long long)id, cap);
            goto out;
        }
        if (filled[id]) {
            /* HF lists vocabulary tokens that are also special (Llama's <s>)
             * in both places; only a different string is a conflict. */
            if (tokens[id].len != len || memcmp(tokens[id].s, s, len) != 0) {
                st = tok_fail(p->d, SLM_ERR_INPUT, p->file,
                              "added_tokens[%zu]: id %lld is \"%.80s\" already, not \"%.80s\"", i, (long long)id,
                              tokens[id].s, s);
                goto out;
            }
        } else {
            tokens[id].s = slm_model_strndup(p->m, s, len);
            tokens[id].len = len;
            if (!tokens[id].s) {
                st = slm_parse_nomem(p);
                goto out;
            }
            filled[id] = 1;
        }
        p->added[id] = json_is_true(special) ? 2 : 1;
    }
    size_t n = cap;
    while (n > 0 && !filled[n - 1]) n--;
    for (size_t id = 0; id < n; id++) {
        if (!filled[id]) {
            st = tok_fail(p->d, SLM_ERR_INPUT, p->file,
                          "token ids must be dense 0..%zu: id %zu is in neither model.vocab nor added_tokens", n - 1,
                          id);
            goto out;
        }
    }
    p->t.tokens = tokens;
    p->t.n_tokens = (uint32_t)n;
    uint32_t dup[2];
    st = slm_tok_index_build(&p->ix, tokens, p->t.n_tokens, dup);
    if (st == SLM_ERR_NOMEM) st = slm_parse_nomem(p);
    else if (st != SLM_OK)
        st = tok_fail(p->d, SLM_ERR_INPUT, p->file, "token \"%.80s\" has two ids, %u and %u; tokens must be unique",
                      tokens[dup[0]].s, dup[0], dup[1]);
out:
    free(filled);
    return st;
}

/* Reads model.merges in either format ("a b" strings, or [a, b] pairs since
 * tokenizers 0.20) and resolves each to token ids. With `keep` the merges are
 * also stored as tokenizer.ggml.merges strings. */
static slm_status slm_parse_merges(slm_tok_parse *p, bool keep) {
    static const char expected[] = "expected a \"left right\" string or a [left, right] pair of strings";
    static const char expected_array[] =
        "expected an array of \"left right\" strings or [left, right] pairs of strings";
    json_t *merges = json_object_get(p->model, "merges");
    if (!merges || json_is_null(merges)) return SLM_OK;
    if (!json_is_array(merges))
        return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.merges: %s", expected_array);
    size_t n = json_array_size(merges);
    if (n > UINT32_MAX) return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.merges: too many merges");
    p->merge_ids = malloc((n ? n : 1) * sizeof *p->merge_ids);
    if (!p->merge_ids) return slm_parse_nomem(p);
    if (keep && n) {
        p->t.merges = slm_model_alloc(p->m, n * sizeof *p->t.merges);
        if (!p->t.merges) return slm_parse_nomem(p);
    }
    size_t i;
    json_t *e;
    json_array_foreach(merges, i, e) {
        const char *l, *r;
        size_t ll, rl;
        if (json_is_string(e)) {
            /* Split where llama.cpp does: the first space after the first
             * byte, so a left part may itself be " ". */
            const char *s = json_string_value(e);
            size_t len = json_string_length(e);
            const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
            if (!sp || sp + 1 == s + len)
                return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.merges[%zu] (\"%.80s\"): %s", i, s, expected);
            l = s, ll = (size_t)(sp - s), r = sp + 1, rl = len - ll - 1;
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            l = json_string_value(json_array_get(e, 0)), ll = json_string_length(json_array_get(e, 0));
            r = json_string_value(json_array_get(e, 1)), rl = json_string_length(json_array_get(e, 1));
            if (ll == 0 || rl == 0)
                return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.merges[%zu]: empty token in a merge", i);
            if (memchr(l + 1, ' ', ll - 1))
                return tok_fail(p->d, SLM_ERR_UNSUPPORTED, p->file,
                                "model.merges[%zu]: left token \"%.80s\" contains a space, which a \"left right\" "
                                "tokenizer.ggml.merges string cannot represent",
                                i, l);
        } else {
            return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.merges[%zu]: %s", i, expected);
        }
        char *joined = slm_scratch(p, ll + rl + 1);
        if (!joined) return slm_parse_nomem(p);
        memcpy(joined, l, ll);
        memcpy(joined + ll, r, rl);
        int64_t li = slm_tok_find(&p->ix, l, ll), ri = slm_tok_find(&p->ix, r, rl);
        int64_t res = slm_tok_find(&p->ix, joined, ll + rl);
        if (li < 0 || ri < 0 || res < 0) {
            const char *missing = li < 0 ? l : ri < 0 ? r : joined;
            int mlen = (int)(li < 0 ? ll : ri < 0 ? rl : ll + rl);
            return tok_fail(p->d, SLM_ERR_INPUT, p->file, "model.merges[%zu] (\"%.*s %.*s\"): \"%.*s\" is not a token",
                            i, (int)(ll > 80 ? 80 : ll), l, (int)(rl > 80 ? 80 : rl), r, mlen > 80 ? 80 : mlen,
                            missing);
        }
        p->merge_ids[i][0] = (uint32_t)li;
        p->merge_ids[i][1] = (uint32_t)ri;
        p->merge_ids[i][2] = (uint32_t)res;
        if (keep) {
            char *ms = slm_model_alloc(p->m, ll + rl + 2);
            if (!ms) return slm_parse_nomem(p);
            memcpy(ms, l, ll);
            ms[ll] = ' ';
            memcpy(ms + ll + 1, r, rl);
            p->t.merges[i].s = ms;
            p->t.merges[i].len = ll + rl + 1;
        }
    }
    p->n_merge = (uint32_t)n;
    if (keep) p->t.n_merges = (uint32_t)n;
    return SLM_OK;
}

/* Types as llama.cpp uses them: the unknown token, byte pieces (SPM only),
 * added special -> control, other added -> user-defined, the rest normal. */
static slm_status slm_parse_types(slm_tok_parse *p) {
    uint32_t n = p->t.n_tokens;
    p->t.token_types = slm_model_alloc(p->m, n * sizeof *p->t.token_types);
    if (!p->t.token_types) return slm_parse_nomem(p);
    /* An unk_token missing from the vocabulary is tolerated like HF does:
     * it only matters once the model meets an unknown piece. */
    int64_t unk = -1;
    json_t *ju = json_object_get(p->model, "unk_token");
    if (json_is_string(ju)) unk = slm_tok_find(&p->ix, json_string_value(ju), json_string_length(ju));
    else if (p->t.kind == SLM_TOK_SPM) unk = slm_tok_find(&p->ix, "<unk>", 5);
    for (uint32_t id = 0; id < n; id++) {
        int32_t ty = SLM_TOKEN_NORMAL;
        if ((int64_t)id == unk) ty = SLM_TOKEN_UNKNOWN;
        else if (p->t.kind == SLM_TOK_SPM && slm_is_byte_piece(&p->t.tokens[id])) ty = SLM_TOKEN_BYTE;
        else if (p->added[id] == 2) ty = SLM_TOKEN_CONTROL;
        else if (p->added[id] == 1) ty = SLM_TOKEN_USER_DEFINED;
        p->t.token_types[id] = ty;
    }
    return SLM_OK;
}

/* Scores for llama.cpp's SPM tokenizer, which repeatedly merges the adjacent
 * pair whose result scores highest. SentencePiece orders its pieces by when
 * BPE training created them, and HF's converter lists a piece's merges in
 * that order, so the piece order is recovered from the merge list:
 *   - byte pieces <0xXX>, the unknown token, added/special tokens: 0;
 *   - a normal token made by merges: -(r+1), where r counts the distinct
 *     normal tokens made by merges before its first merge (r is the merge's
 *     index when every token has one merge; HF lists every split of a piece,
 *     e.g. "▁t he" and "▁th e", and counting tokens rather than merges gives
 *     Llama's own scores -(id-259) back);
 *   - single characters: 0 (they are where merging starts, never a result);
 *   - other tokens no merge makes: -(id), below everything merged before them.
 * Earlier merges therefore score higher, which is the order that matters. */
static slm_status slm_spm_scores(slm_tok_parse *p) {
    uint32_t n = p->t.n_tokens;
    p->t.scores = slm_model_alloc(p->m, n * sizeof *p->t.scores);
    int64_t *rank = malloc(n * sizeof *rank);
    if (!p->t.scores || !rank) {
        free(rank);
        return slm_parse_nomem(p);
    }
    for (uint32_t id = 0; id < n; id++) rank[id] = -1;
    int64_t next = 0;
    for (uint32_t i = 0; i < p->n_merge; i++) {
        uint32_t res = p->merge_ids[i][2];
        if (p->t.token_types[res] == SLM_TOKEN_NORMAL && rank[res] < 0) rank[res] = next++;
    }
    for (uint32_t id = 0; id < n; id++) {
        const slm_str *tk = &p->t.tokens[id];
        float s;
        if (p->t.token_types[id] != SLM_TOKEN_NORMAL) s = 0.0f;
        else if (rank[id] >= 0) s = -(float)(rank[id] + 1);
        else if (slm_utf8_chars(tk->s, tk->len) == 1) s = 0.0f;
        else s = -(float)id;
        p->t.scores[id] = s;
    }
    free(rank);
    return SLM_OK;
}

/* tokenizer.ggml.pre from the pre-tokenizer: one Split with a known regex
 * (beside ByteLevel) names it; a bare ByteLevel splitting with its built-in
 * regex is GPT-2's; anything else gets llama.cpp's "default". */
static const char *slm_bpe_pre(json_t *pre_tokenizer) {
    slm_split_scan scan = {0};
    slm_any_component(pre_tokenizer, slm_scan_splits, &scan, 0);
    if (scan.n_other > 0) return "default";
    if (scan.n_split == 1 && !scan.byte_level_regex) {
        const char *re = json_string_value(json_object_get(json_object_get(scan.last_split, "pattern"), "Regex"));
        for (size_t i = 0; re && i < sizeof slm_pre_regexes / sizeof *slm_pre_regexes; i++)
            if (strcmp(re, slm_pre_regexes[i].regex) == 0) return slm_pre_regexes[i].pre;
        return "default";
    }
    if (scan.n_split == 0 && scan.byte_level_regex) return "gpt-2";
    return "default";
}

/* A special token named in tokenizer_config.json: a string, or an AddedToken
 * object {"content": ...}; null means none. */
static slm_status slm_config_special(slm_tok_parse *p, json_t *cfg, const char *key, int64_t *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return SLM_OK;
    json_t *content = json_is_object(v) ? json_object_get(v, "content") : v;
    if (!json_is_string(content))
        return tok_fail(p->d, SLM_ERR_INPUT, p->cfg_file,
                        "%s: expected a token string or an object with a \"content\" string", key);
    int64_t id = slm_tok_find(&p->ix, json_string_value(content), json_string_length(content));
    if (id < 0)
        return tok_fail(p->d, SLM_ERR_INPUT, p->cfg_file, "%s \"%.80s\" is not a token in %s", key,
                        json_string_value(content), p->file);
    *out = id;
    return SLM_OK;
}

static slm_status slm_config_bool(slm_tok_parse *p, json_t *cfg, const char *key, int8_t *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return SLM_OK;
    if (!json_is_boolean(v)) return tok_fail(p->d, SLM_ERR_INPUT, p->cfg_file, "%s: expected true or false", key);
    *out = json_is_true(v) ? 1 : 0;
    return SLM_OK;
}

/* chat_template is a string, or a list of {"name", "template"} of which the
 * "default" one is what tokenizer.chat_template holds. */
static slm_status slm_config_chat_template(slm_tok_parse *p, json_t *cfg) {
    json_t *v = json_object_get(cfg, "chat_template");
    if (!v || json_is_null(v)) return SLM_OK;
    json_t *tmpl = NULL;
    if (json_is_string(v)) {
        tmpl = v;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            json_t *name = json_object_get(e, "name"), *t = json_object_get(e, "template");
            if (!json_is_string(name) || !json_is_string(t))
                return tok_fail(p->d, SLM_ERR_INPUT, p->cfg_file,
                                "chat_template[%zu]: expected an object with \"name\" and \"template\" strings", i);
            if (strcmp(json_string_value(name), "default") == 0) tmpl = t;
        }
        if (!tmpl) return SLM_OK;
    } else {
        return tok_fail(p->d, SLM_ERR_INPUT, p->cfg_file,
                        "chat_template: expected a string or a list of {\"name\", \"template\"}");
    }
    p->t.chat_template = slm_model_strndup(p->m, json_string_value(tmpl), json_string_length(tmpl));
    return p->t.chat_template ? SLM_OK : slm_parse_nomem(p);
}

static slm_status slm_parse_config(slm_tok_parse *p, const char *cfg_json, size_t cfg_len, bool *said_add) {
    json_t *cfg;
    slm_status st = slm_json_load_object(cfg_json, cfg_len, p->cfg_file, &cfg, p->d);
    if (st != SLM_OK) return st;
    st = slm_config_special(p, cfg, "bos_token", &p->t.bos_id);
    if (st == SLM_OK) st = slm_config_special(p, cfg, "eos_token", &p->t.eos_id);
    if (st == SLM_OK) st = slm_config_special(p, cfg, "unk_token", &p->t.unk_id);
    if (st == SLM_OK) st = slm_config_special(p, cfg, "pad_token", &p->t.pad_id);
    if (st == SLM_OK) st = slm_config_special(p, cfg, "sep_token", &p->t.sep_id);
    if (st == SLM_OK) st = slm_config_bool(p, cfg, "add_bos_token", &p->t.add_bos);
    if (st == SLM_OK) st = slm_config_bool(p, cfg, "add_eos_token", &p->t.add_eos);
    if (st == SLM_OK) st = slm_config_chat_template(p, cfg);
    *said_add = p->t.add_bos >= 0 || p->t.add_eos >= 0;
    json_decref(cfg);
    return st;
}

/* When the config says nothing about BOS/EOS (Llama 3), the post-processor's
 * TemplateProcessing does: special tokens around $A are added ones. */
static void slm_template_add_bos_eos(slm_tok_parse *p) {
    json_t *tp = NULL;
    slm_any_component(json_object_get(p->root, "post_processor"), slm_find_template, &tp, 0);
    json_t *single = json_object_get(tp, "single");
    size_t n = json_array_size(single);
    if (n == 0) return;
    p->t.add_bos = json_object_get(json_array_get(single, 0), "SpecialToken") != NULL;
    p->t.add_eos = json_object_get(json_array_get(single, n - 1), "SpecialToken") != NULL;
}

/* "dir/tokenizer.json" -> "dir/tokenizer_config.json" so errors name the
 * right file; other names get a parenthesised hint. */
static void slm_config_name(const char *what, char *out, size_t size) {
    static const char suffix[] = "tokenizer.json";
    size_t wl = strlen(what), sl = sizeof suffix - 1;
    if (wl >= sl && strcmp(what + wl - sl, suffix) == 0 && (wl == sl || what[wl - sl - 1] == '/'))
        snprintf(out, size, "%.*stokenizer_config.json", (int)(wl - sl), what);
    else
        snprintf(out, size, "%s (tokenizer_config.json)", what);
}

slm_status slm_hf_tokenizer_parse(slm_model *m, const char *tok_json, size_t tok_len, const char *cfg_json,
                                  size_t cfg_len, const char *what, slm_diag *d) {
    if (!what) what = "tokenizer.json";
    if (!m || !tok_json) return tok_fail(d, SLM_ERR_USAGE, what, "no model or no tokenizer.json text given");
    slm_tok_parse p = {.m = m, .d = d, .file = what};
    slm_config_name(what, p.cfg_file, sizeof p.cfg_file);
    p.t.bos_id = p.t.eos_id = p.t.unk_id = p.t.pad_id = p.t.sep_id = -1;
    p.t.add_bos = p.t.add_eos = p.t.add_space_prefix = -1;

    slm_status st = slm_json_load_object(tok_json, tok_len, what, &p.root, d);
    if (st != SLM_OK) return st;
    p.model = json_object_get(p.root, "model");
    if (!json_is_object(p.model)) {
        st = tok_fail(d, SLM_ERR_INPUT, what, "model: expected an object");
        goto out;
    }
    json_t *type = json_object_get(p.model, "type");
    if (!json_is_string(type)) {
        st = tok_fail(d, SLM_ERR_INPUT, what, "model.type: missing, expected \"BPE\"");
        goto out;
    }
    if (strcmp(json_string_value(type), "BPE") != 0) {
        st = tok_fail(d, SLM_ERR_UNSUPPORTED, what, "model.type: unsupported tokenizer model %.80s, expected BPE",
                      json_string_value(type));
        goto out;
    }
    /* A word-piece style prefix/suffix changes how merges concatenate, which
     * tokenizer.ggml.merges cannot say. */
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (size_t i = 0; i < 2; i++) {
        json_t *a = json_object_get(p.model, affixes[i]);
        if (a && !json_is_null(a) && !slm_str_is(a, "")) {
            st = tok_fail(d, SLM_ERR_UNSUPPORTED, what, "model.%s: must be null for llama.cpp's BPE", affixes[i]);
            goto out;
        }
    }

    json_t *pre = json_object_get(p.root, "pre_tokenizer"), *dec = json_object_get(p.root, "decoder");
    json_t *norm = json_object_get(p.root, "normalizer");
    if (slm_any_component(pre, slm_is_byte_level, NULL, 0) || slm_any_component(dec, slm_is_byte_level, NULL, 0)) {
        p.t.kind = SLM_TOK_BPE;
    } else if (json_is_true(json_object_get(p.model, "byte_fallback")) ||
               slm_any_component(norm, slm_is_spm_marker, NULL, 0) ||
               slm_any_component(pre, slm_is_spm_marker, NULL, 0) ||
               slm_any_component(dec, slm_is_spm_marker, NULL, 0)) {
        p.t.kind = SLM_TOK_SPM;
    } else {
        st = tok_fail(d, SLM_ERR_UNSUPPORTED, what,
                      "pre_tokenizer/decoder/normalizer: neither byte-level BPE (ByteLevel) nor SentencePiece-style "
                      "BPE (model.byte_fallback or \"" SLM_SPM_SPACE "\" for spaces)");
        goto out;
    }
    p.t.model_name = slm_model_strdup(m, p.t.kind == SLM_TOK_BPE ? "gpt2" : "llama");
    if (!p.t.model_name) {
        st = slm_parse_nomem(&p);
        goto out;
    }

    if ((st = slm_parse_vocab(&p)) != SLM_OK) goto out;
    if ((st = slm_parse_merges(&p, p.t.kind == SLM_TOK_BPE)) != SLM_OK) goto out;
    if ((st = slm_parse_types(&p)) != SLM_OK) goto out;
    if (p.t.kind == SLM_TOK_SPM) {
        if ((st = slm_spm_scores(&p)) != SLM_OK) goto out;
        p.t.add_space_prefix = (slm_any_component(norm, slm_is_space_prefix, NULL, 0) ||
                                slm_any_component(pre, slm_is_space_prefix, NULL, 0))
                                   ? 1
                                   : 0;
    } else {
        p.t.pre = slm_model_strdup(m, slm_bpe_pre(pre));
        if (!p.t.pre) {
            st = slm_parse_nomem(&p);
            goto out;
        }
    }
    bool said_add = false;
    if (cfg_json && (st = slm_parse_config(&p, cfg_json, cfg_len, &said_add)) != SLM_OK) goto out;
    if (!said_add) slm_template_add_bos_eos(&p);

    m->tok = p.t;
out:
    json_decref(p.root);
    free(p.added);
    free(p.merge_ids);
    free(p.scratch);
    slm_tok_index_free(&p.ix);
    return st;
}

/* ============================================================== write */

/* What the writer cannot carry through tokenizer.json, and so what a
 * parse(write(x)) changes:
 *   - SPM scores: only their order among tokens that merges can build is
 *     kept (see slm_spm_merge_order); scores the parser produced come back
 *     exactly;
 *   - token types other than normal/unknown/control/user-defined (and byte
 *     pieces <0xXX> of SPM) come back as normal;
 *   - tokenizer.ggml.pre values other than gpt-2, llama-bpe and qwen2 come
 *     back as "default" (and are written as llama.cpp's default regexes);
 *   - SPM add_space_prefix absent comes back as 1 (llama.cpp's default);
 *     BPE has no such setting in tokenizer.json and comes back absent;
 *   - special ids outside the vocabulary are dropped. */

typedef struct slm_tok_write {
    const slm_tokenizer *t;
    slm_diag *d;
    slm_tok_index ix;
    uint8_t *type; /* [n_tokens] the type parsing the output gives back */
    int64_t unk;
} slm_tok_write;

static slm_status slm_write_nomem(slm_tok_write *w) {
    return slm_diag_set(w->d, SLM_ERR_NOMEM, "tokenizer.json: out of memory");
}

/* Mirrors slm_parse_types, so the writer plans merges over exactly the
 * tokens the parser will call normal. */
static void slm_write_types(slm_tok_write *w) {
    const slm_tokenizer *t = w->t;
    w->unk = -1;
    for (uint32_t id = 0; t->token_types && id < t->n_tokens && w->unk < 0; id++)
        if (t->token_types[id] == SLM_TOKEN_UNKNOWN) w->unk = id;
    if (w->unk < 0 && !t->token_types && t->unk_id >= 0 && t->unk_id < t->n_tokens) w->unk = t->unk_id;
    if (w->unk < 0 && t->kind == SLM_TOK_SPM) w->unk = slm_tok_find(&w->ix, "<unk>", 5);
    for (uint32_t id = 0; id < t->n_tokens; id++) {
        int32_t ty = t->token_types ? t->token_types[id] : SLM_TOKEN_NORMAL;
        if ((int64_t)id == w->unk) ty = SLM_TOKEN_UNKNOWN;
        else if (t->kind == SLM_TOK_SPM && slm_is_byte_piece(&t->tokens[id])) ty = SLM_TOKEN_BYTE;
        else if (ty != SLM_TOKEN_CONTROL && ty != SLM_TOKEN_USER_DEFINED) ty = SLM_TOKEN_NORMAL;
        w->type[id] = (uint8_t)ty;
    }
}

typedef struct slm_scored {
    float score;
    uint32_t id;
} slm_scored;

/* Highest score first, then lowest id; NaN sorts last so the order is total. */
static int slm_scored_cmp(const void *a, const void *b) {
    const slm_scored *x = a, *y = b;
    bool xn = x->score != x->score, yn = y->score != y->score;
    if (xn != yn) return xn ? 1 : -1;
    if (!xn && x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Chooses which SPM tokens get merges and in what order, given that the
 * parser scores the r-th merged token -(r+1) and an unmerged multi-character
 * token -(id). Scores made by that rule are reproduced exactly: walk
 * k = 1, 2, ... taking the token scored -k; when two tokens share -k, the one
 * whose id is k may be the unmerged kind and the other is the merged one; a
 * lone token with id k scores -k either way, so it is merged (HF can then
 * produce it). If the walk does not explain every candidate's score, the
 * scores came from elsewhere (a SentencePiece model) and cannot be kept
 * exactly: then every candidate is merged in score order, which keeps what
 * llama.cpp's tokenizer uses, the order. Candidates are the normal tokens
 * of two or more characters that split into two normal tokens. */
static slm_status slm_spm_merge_order(slm_tok_write *w, const uint8_t *is_cand, uint32_t **order_out,
                                      uint32_t *n_out) {
    const slm_tokenizer *t = w->t;
    uint32_t nc = 0;
    for (uint32_t id = 0; id < t->n_tokens; id++) nc += is_cand[id];
    slm_scored *c = malloc((nc ? nc : 1) * sizeof *c);
    uint32_t *order = malloc((nc ? nc : 1) * sizeof *order);
    uint8_t *chosen = calloc(t->n_tokens, 1);
    if (!c || !order || !chosen) {
        free(c);
        free(order);
        free(chosen);
        return slm_write_nomem(w);
    }
    uint32_t k = 0;
    for (uint32_t id = 0; id < t->n_tokens; id++)
        if (is_cand[id]) c[k++] = (slm_scored){t->scores ? t->scores[id] : 0.0f, id};
    qsort(c, nc, sizeof *c, slm_scored_cmp);

    bool exact = true;
    uint32_t ns = 0, i = 0;
    while (i < nc && !(c[i].score <= -1.0f)) i++; /* merged tokens score -1 or below */
    for (uint32_t level = 1; exact && i < nc && c[i].score == -(float)level; level++) {
        uint32_t j = i;
        while (j < nc && c[j].score == -(float)level) j++;
        uint32_t pick = 0;
        if (j - i == 1)
            pick = c[i].id;
        else if (j - i == 2 && (c[i].id == level || c[i + 1].id == level))
            pick = c[i].id == level ? c[i + 1].id : c[i].id;
        else
            exact = false;
        if (exact) {
            order[ns++] = pick;
            chosen[pick] = 1;
        }
        i = j;
    }
    for (uint32_t q = 0; exact && q < nc; q++)
        if (!chosen[c[q].id] && c[q].score != -(float)c[q].id) exact = false;
    if (!exact) {
        for (uint32_t q = 0; q < nc; q++) order[q] = c[q].id;
        ns = nc;
    }
    free(c);
    free(chosen);
    *order_out = order;
    *n_out = ns;
    return SLM_OK;
}

typedef struct slm_pair {
    uint32_t left, right;
} slm_pair;

/* All ways to write token id as normal + normal, shortest left part first. */
static slm_status slm_spm_splits(slm_tok_write *w, uint32_t id, slm_pair **buf, size_t *n, size_t *cap) {
    const slm_str *tk = &w->t->tokens[id];
    *n = 0;
    for (size_t b = 1; b < tk->len; b++) {
        if (((unsigned char)tk->s[b] & 0xC0) == 0x80) continue; /* inside a character */
        int64_t l = slm_tok_find(&w->ix, tk->s, b), r = slm_tok_find(&w->ix, tk->s + b, tk->len - b);
        if (l < 0 || r < 0 || w->type[l] != SLM_TOKEN_NORMAL || w->type[r] != SLM_TOKEN_NORMAL) continue;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            slm_pair *nb = realloc(*buf, nc * sizeof *nb);
            if (!nb) return slm_write_nomem(w);
            *buf = nb;
            *cap = nc;
        }
        (*buf)[(*n)++] = (slm_pair){(uint32_t)l, (uint32_t)r};
    }
    return SLM_OK;
}

/* Appends one merge to `merges`: a "left right" string, or a [left, right]
 * pair when a part holds a space (older HF versions split strings on every
 * space, so they only get strings when that is unambiguous). */
static bool slm_push_merge(json_t *merges, bool pairs, const char *l, size_t ll, const char *r, size_t rl,
                           char **scratch, size_t *cap) {
    json_t *v;
    if (pairs) {
        v = json_pack("[s%, s%]", l, ll, r, rl);
    } else {
        if (ll + rl + 2 > *cap) {
            size_t nc = (ll + rl + 2) * 2;
            char *nb = realloc(*scratch, nc);
            if (!nb) return false;
            *scratch = nb;
            *cap = nc;
        }
        memcpy(*scratch, l, ll);
        (*scratch)[ll] = ' ';
        memcpy(*scratch + ll + 1, r, rl);
        v = json_stringn(*scratch, ll + rl + 1);
    }
    return json_array_append_new(merges, v) == 0;
}

static slm_status slm_spm_merges(slm_tok_write *w, json_t **out) {
    const slm_tokenizer *t = w->t;
    uint8_t *is_cand = calloc(t->n_tokens, 1);
    slm_pair *sp = NULL;
    size_t nsp = 0, capsp = 0;
    uint32_t *order = NULL, n_order = 0;
    char *scratch = NULL;
    size_t scap = 0;
    json_t *merges = json_array();
    slm_status st = SLM_OK;
    if (!is_cand || !merges) {
        st = slm_write_nomem(w);
        goto out;
    }
    bool pairs = false;
    for (uint32_t id = 0; id < t->n_tokens; id++) {
        const slm_str *tk = &t->tokens[id];
        if (w->type[id] != SLM_TOKEN_NORMAL || slm_utf8_chars(tk->s, tk->len) < 2) continue;
        if ((st = slm_spm_splits(w, id, &sp, &nsp, &capsp)) != SLM_OK) goto out;
        is_cand[id] = nsp > 0;
        if (nsp > 0 && memchr(tk->s, ' ', tk->len)) pairs = true;
    }
    if ((st = slm_spm_merge_order(w, is_cand, &order, &n_order)) != SLM_OK) goto out;
    for (uint32_t q = 0; q < n_order; q++) {
        if ((st = slm_spm_splits(w, order[q], &sp, &nsp, &capsp)) != SLM_OK) goto out;
        for (size_t s = 0; s < nsp; s++) {
            const slm_str *l = &t->tokens[sp[s].left], *r = &t->tokens[sp[s].right];
            if (!slm_push_merge(merges, pairs, l->s, l->len, r->s, r->len, &scratch, &scap)) {
                st = slm_write_nomem(w);
                goto out;
            }
        }
    }
out:
    free(is_cand);
    free(sp);
    free(order);
    free(scratch);
    if (st != SLM_OK) json_decref(merges);
    else *out = merges;
    return st;
}

/* tokenizer.ggml.merges as they are, checked the way the parser will check
 * them (HF refuses merges whose parts or result are not tokens). */
static slm_status slm_bpe_merges(slm_tok_write *w, json_t **out) {
    const slm_tokenizer *t = w->t;
    bool pairs = false;
    for (uint32_t i = 0; i < t->n_merges; i++) {
        const slm_str *ms = &t->merges[i];
        const char *sp = ms->s && ms->len > 1 ? memchr(ms->s + 1, ' ', ms->len - 1) : NULL;
        if (!sp || sp + 1 == ms->s + ms->len)
            return slm_diag_set(w->d, SLM_ERR_INPUT, "tokenizer.json: merge %u \"%.80s\" is not \"left right\"", i,
                                ms->s ? ms->s : "");
        size_t ll = (size_t)(sp - ms->s);
        if (memchr(ms->s, ' ', ll) || memchr(sp + 1, ' ', ms->len - ll - 1)) pairs = true;
        if (!slm_utf8_valid(ms->s, ms->len))
            return slm_diag_set(w->d, SLM_ERR_INPUT, "tokenizer.json: merge %u is not valid UTF-8", i);
        int64_t l = slm_tok_find(&w->ix, ms->s, ll), r = slm_tok_find(&w->ix, sp + 1, ms->len - ll - 1);
        /* the joined token is the merge string without its separating space */
        char *joined = malloc(ms->len);
        if (!joined) return slm_write_nomem(w);
        memcpy(joined, ms->s, ll);
        memcpy(joined + ll, sp + 1, ms->len - ll - 1);
        int64_t res = slm_tok_find(&w->ix, joined, ms->len - 1);
        free(joined);
        if (l < 0 || r < 0 || res < 0)
            return slm_diag_set(w->d, SLM_ERR_INPUT,
                                "tokenizer.json: merge %u \"%.80s\" names a token that is not in the vocabulary", i,
                                ms->s);
    }
    json_t *merges = json_array();
    if (!merges) return slm_write_nomem(w);
    char *scratch = NULL;
    size_t scap = 0;
    for (uint32_t i = 0; i < t->n_merges; i++) {
        const slm_str *ms = &t->merges[i];
        const char *sp = memchr(ms->s + 1, ' ', ms->len - 1);
        size_t ll = (size_t)(sp - ms->s);
        if (!slm_push_merge(merges, pairs, ms->s, ll, sp + 1, ms->len - ll - 1, &scratch, &scap)) {
            free(scratch);
            json_decref(merges);
            return slm_write_nomem(w);
        }
    }
    free(scratch);
    *out = merges;
    return SLM_OK;
}

/* Building JSON: jansson reports allocation failure as NULL / -1; each step
 * records it in *ok and the result is checked once. */
static void jset(json_t *o, const char *key, json_t *v, bool *ok) {
    if (json_object_set_new(o, key, v) != 0) *ok = false;
}

static void jpush(json_t *a, json_t *v, bool *ok) {
    if (json_array_append_new(a, v) != 0) *ok = false;
}

static const slm_str *slm_special(const slm_tokenizer *t, int64_t id) {
    return id >= 0 && id < t->n_tokens ? &t->tokens[id] : NULL;
}

static json_t *slm_template_item(const char *kind, const char *id, int type_id) {
    return json_pack("{s:{s:s, s:i}}", kind, "id", id, "type_id", type_id);
}

/* TemplateProcessing that adds BOS/EOS the way add_bos/add_eos say, for
 * transformers' PreTrainedTokenizerFast which reads only tokenizer.json. */
static json_t *slm_template_processor(const slm_tokenizer *t, const slm_str *bos, const slm_str *eos, bool *ok) {
    json_t *single = json_array(), *pair = json_array(), *specials = json_object();
    for (int half = 0; half < 2; half++) {
        json_t *lists[2] = {single, pair};
        for (int li = half; li < 2; li++) {
            if (bos) jpush(lists[li], slm_template_item("SpecialToken", bos->s, half), ok);
            jpush(lists[li], slm_template_item("Sequence", half ? "B" : "A", half), ok);
            if (eos) jpush(lists[li], slm_template_item("SpecialToken", eos->s, half), ok);
        }
    }
    const slm_str *sp[2] = {bos, eos};
    int64_t ids[2] = {t->bos_id, t->eos_id};
    for (int i = 0; i < 2; i++)
        if (sp[i])
            jset(specials, sp[i]->s,
                 json_pack("{s:s, s:[I], s:[s]}", "id", sp[i]->s, "ids", (json_int_t)ids[i], "tokens", sp[i]->s), ok);
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single, "pair", pair,
                     "special_tokens", specials);
}

static json_t *slm_split_node(const char *regex) {
    return json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex", regex, "behavior", "Isolated",
                     "invert", 0);
}

static json_t *slm_byte_level_pre(const char *pre, bool *ok) {
    json_t *list = json_array();
    bool known = false;
    for (size_t i = 0; pre && i < sizeof slm_pre_regexes / sizeof *slm_pre_regexes; i++) {
        if (strcmp(pre, slm_pre_regexes[i].pre) == 0) {
            jpush(list, slm_split_node(slm_pre_regexes[i].regex), ok);
            known = true;
        }
    }
    for (size_t i = 0; !known && i < sizeof slm_pre_default_regexes / sizeof *slm_pre_default_regexes; i++)
        jpush(list, slm_split_node(slm_pre_default_regexes[i]), ok);
    jpush(list,
          json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                    "use_regex", 0),
          ok);
    return json_pack("{s:s, s:o}", "type", "Sequence", "pretokenizers", list);
}

static json_t *slm_byte_level_component(void) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1,
                     "use_regex", 1);
}

static slm_status slm_build_tokenizer_json(slm_tok_write *w, json_t **out) {
    const slm_tokenizer *t = w->t;
    bool spm = t->kind == SLM_TOK_SPM, ok = true;
    json_t *merges = NULL;
    slm_status st = spm ? slm_spm_merges(w, &merges) : slm_bpe_merges(w, &merges);
    if (st != SLM_OK) return st;

    json_t *root = json_object(), *vocab = json_object(), *added = json_array();
    for (uint32_t id = 0; id < t->n_tokens; id++) {
        jset(vocab, t->tokens[id].s, json_integer(id), &ok);
        uint8_t ty = w->type[id];
        if (ty == SLM_TOKEN_CONTROL || ty == SLM_TOKEN_USER_DEFINED || ty == SLM_TOKEN_UNKNOWN) {
            bool special = ty != SLM_TOKEN_USER_DEFINED;
            jpush(added,
                  json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)id, "content", t->tokens[id].s,
                            "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", !special, "special", special),
                  &ok);
        }
    }

    jset(root, "version", json_string("1.0"), &ok);
    jset(root, "truncation", json_null(), &ok);
    jset(root, "padding", json_null(), &ok);
    jset(root, "added_tokens", added, &ok);

    bool prefix = t->add_space_prefix != 0;
    if (spm) {
        json_t *norms = json_array(), *decs = json_array();
        if (prefix) jpush(norms, json_pack("{s:s, s:s}", "type", "Prepend", "prepend", SLM_SPM_SPACE), &ok);
        jpush(norms,
              json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", " ", "content", SLM_SPM_SPACE),
              &ok);
        jpush(decs,
              json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", SLM_SPM_SPACE, "content", " "),
              &ok);
        jpush(decs, json_pack("{s:s}", "type", "ByteFallback"), &ok);
        jpush(decs, json_pack("{s:s}", "type", "Fuse"), &ok);
        if (prefix)
            jpush(decs, json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ", "start", 1, "stop", 0), &ok);
        jset(root, "normalizer", json_pack("{s:s, s:o}", "type", "Sequence", "normalizers", norms), &ok);
        jset(root, "pre_tokenizer", json_null(), &ok);
        json_t *dec = json_pack("{s:s, s:o}", "type", "Sequence", "decoders", decs);
        json_t *post = NULL;
        const slm_str *bos = t->add_bos == 1 ? slm_special(t, t->bos_id) : NULL;
        const slm_str *eos = t->add_eos == 1 ? slm_special(t, t->eos_id) : NULL;
        if (bos || eos) post = slm_template_processor(t, bos, eos, &ok);
        jset(root, "post_processor", post ? post : json_null(), &ok);
        jset(root, "decoder", dec, &ok);
    } else {
        jset(root, "normalizer", json_null(), &ok);
        jset(root, "pre_tokenizer", slm_byte_level_pre(t->pre, &ok), &ok);
        const slm_str *bos = t->add_bos == 1 ? slm_special(t, t->bos_id) : NULL;
        const slm_str *eos = t->add_eos == 1 ? slm_special(t, t->eos_id) : NULL;
        json_t *post = slm_byte_level_component();
        if (bos || eos) {
            json_t *procs = json_array();
            jpush(procs, post, &ok);
            jpush(procs, slm_template_processor(t, bos, eos, &ok), &ok);
            post = json_pack("{s:s, s:o}", "type", "Sequence", "processors", procs);
        }
        jset(root, "post_processor", post, &ok);
        jset(root, "decoder", slm_byte_level_component(), &ok);
    }

    json_t *model = json_object();
    jset(model, "type", json_string("BPE"), &ok);
    jset(model, "dropout", json_null(), &ok);
    jset(model, "unk_token", w->unk >= 0 ? json_string(t->tokens[w->unk].s) : json_null(), &ok);
    jset(model, "continuing_subword_prefix", json_null(), &ok);
    jset(model, "end_of_word_suffix", json_null(), &ok);
    jset(model, "fuse_unk", json_boolean(spm), &ok);
    jset(model, "byte_fallback", json_boolean(spm), &ok);
    jset(model, "ignore_merges", json_false(), &ok);
    jset(model, "vocab", vocab, &ok);
    jset(model, "merges", merges, &ok);
    jset(root, "model", model, &ok);
    if (!ok) {
        json_decref(root);
        return slm_write_nomem(w);
    }
    *out = root;
    return SLM_OK;
}

static json_t *slm_build_config_json(const slm_tokenizer *t) {
    bool ok = true;
    json_t *cfg = json_object();
    if (t->add_bos >= 0) jset(cfg, "add_bos_token", json_boolean(t->add_bos), &ok);
    if (t->add_eos >= 0) jset(cfg, "add_eos_token", json_boolean(t->add_eos), &ok);
    static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token"};
    const int64_t ids[] = {t->bos_id, t->eos_id, t->unk_id, t->pad_id, t->sep_id};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const slm_str *s = slm_special(t, ids[i]);
        if (s) jset(cfg, keys[i], json_string(s->s), &ok);
    }
    if (t->chat_template) jset(cfg, "chat_template", json_string(t->chat_template), &ok);
    jset(cfg, "clean_up_tokenization_spaces", json_false(), &ok);
    /* The generic fast tokenizer takes everything from tokenizer.json,
     * including BOS/EOS from the post-processor written above. */
    jset(cfg, "tokenizer_class", json_string("PreTrainedTokenizerFast"), &ok);
    if (!ok) {
        json_decref(cfg);
        return NULL;
    }
    return cfg;
}

typedef struct slm_dump_ctx {
    slm_outfile *f;
    slm_diag *d;
} slm_dump_ctx;

static int slm_dump_cb(const char *buf, size_t size, void *data) {
    slm_dump_ctx *c = data;
    return slm_outfile_write(c->f, buf, size, c->d) == SLM_OK ? 0 : -1;
}

static slm_status slm_write_json_file(const char *dir, const char *name, const json_t *j, slm_diag *d) {
    char *path = slm_path_join(dir, name);
    if (!path) return slm_diag_set(d, SLM_ERR_NOMEM, "%s/%s: out of memory", dir, name);
    slm_outfile f;
    slm_status st = slm_outfile_open(&f, path, d);
    if (st == SLM_OK) {
        slm_dump_ctx c = {&f, d};
        if (json_dump_callback(j, slm_dump_cb, &c, JSON_INDENT(2)) != 0)
            st = f.status != SLM_OK ? f.status : slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
        if (st == SLM_OK) st = slm_outfile_write(&f, "\n", 1, d);
        if (st == SLM_OK) st = slm_outfile_commit(&f, d);
        else slm_outfile_abort(&f);
    }
    free(path);
    return st;
}

slm_status slm_hf_tokenizer_write(const slm_model *m, const char *dir, slm_diag *d) {
    if (!m || !dir) return slm_diag_set(d, SLM_ERR_USAGE, "tokenizer.json: no model or no directory given");
    const slm_tokenizer *t = &m->tok;
    if (t->kind != SLM_TOK_SPM && t->kind != SLM_TOK_BPE)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "tokenizer.json: tokenizer model %s cannot be written; only \"llama\" (SPM) and \"gpt2\" "
                            "(BPE) can",
                            t->model_name ? t->model_name : "none");
    if (t->n_tokens == 0 || !t->tokens)
        return slm_diag_set(d, SLM_ERR_USAGE, "tokenizer.json: tokenizer has no tokens");
    for (uint32_t id = 0; id < t->n_tokens; id++) {
        const slm_str *tk = &t->tokens[id];
        if (!tk->s || !slm_utf8_valid(tk->s, tk->len))
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                                "tokenizer.json: token %u is not valid UTF-8 text (or holds a NUL), which JSON "
                                "cannot carry",
                                id);
    }
    if (t->chat_template && !slm_utf8_valid(t->chat_template, strlen(t->chat_template)))
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tokenizer_config.json: chat_template is not valid UTF-8");

    slm_tok_write w = {.t = t, .d = d};
    json_t *tok = NULL, *cfg = NULL;
    uint32_t dup[2];
    slm_status st = slm_tok_index_build(&w.ix, t->tokens, t->n_tokens, dup);
    if (st == SLM_ERR_NOMEM) st = slm_write_nomem(&w);
    else if (st != SLM_OK)
        st = slm_diag_set(d, SLM_ERR_INPUT, "tokenizer.json: token \"%.80s\" has two ids, %u and %u",
                          t->tokens[dup[0]].s, dup[0], dup[1]);
    if (st != SLM_OK) goto out;
    w.type = malloc(t->n_tokens);
    if (!w.type) {
        st = slm_write_nomem(&w);
        goto out;
    }
    slm_write_types(&w);
    if ((st = slm_build_tokenizer_json(&w, &tok)) != SLM_OK) goto out;
    if (!(cfg = slm_build_config_json(t))) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "tokenizer_config.json: out of memory");
        goto out;
    }
    if (!slm_path_is_dir(dir) && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        st = slm_diag_set(d, SLM_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
        goto out;
    }
    st = slm_write_json_file(dir, "tokenizer.json", tok, d);
    if (st == SLM_OK) st = slm_write_json_file(dir, "tokenizer_config.json", cfg, d);
out:
    json_decref(tok);
    json_decref(cfg);
    free(w.type);
    slm_tok_index_free(&w.ix);
    return st;
}
