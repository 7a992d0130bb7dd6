/* slmrt_tokenizer_bpe.c - the byte-level BPE ("gpt2") encoder, as llama.cpp's
 * llm_tokenizer_bpe_session computes it:
 *
 *   1. pre-tokenize: the text is cut by each of the pre-tokenizer's regexes
 *      in turn; every match and every stretch between matches becomes a word
 *      (llama.cpp's unicode_regex_split). Later regexes only see one word at
 *      a time, so a lookahead stops at the word's end;
 *   2. each word's bytes are written as GPT-2's printable code points
 *      (bytes_to_unicode: printable Latin-1 stays, the rest move to U+0100..);
 *   3. one symbol per byte; the adjacent pair with the lowest merge rank is
 *      merged until no pair has a rank (ties: leftmost first);
 *   4. each symbol is looked up as a token.
 *
 * The regexes are llama.cpp's per tokenizer.ggml.pre, run with PCRE2 (UTF +
 * UCP, JIT-compiled when available). llama.cpp runs some through hand-written
 * matchers and the rest through std::regex over a text where each code point
 * is collapsed to its category; both amount to the regex semantics below,
 * with one detail written out: `\s` means exactly llama.cpp's whitespace set
 * (Unicode White_Space), which PCRE2's \s does not match in every version. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_tokenizer_int.h"

/* ------------------------------------------------------ pre-tokenizers */

/* llama.cpp's whitespace: tab..CR, space, NEL, NBSP, OGHAM SPACE MARK,
 * EN QUAD..HAIR SPACE, LINE/PARAGRAPH SEPARATOR, NNBSP, MMSP, IDEOGRAPHIC
 * SPACE (for use inside a character class) */
#define WS "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
#define RE_GPT2                                                                                                    \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])"

/* llama-3, case-insensitive contractions written out as llama.cpp does:
 * (?:'[sS]|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
#define RE_LLAMA3_DIGITS(digits)                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" digits             \
    "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+"

typedef enum pre_family { PRE_DEFAULT, PRE_GPT2, PRE_LLAMA3, PRE_QWEN2, PRE_STARCODER, PRE_FALCON } pre_family;

static const char *const RE_FAMILY[][4] = {
    [PRE_DEFAULT] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
    [PRE_GPT2] = {RE_GPT2},
    [PRE_LLAMA3] = {RE_LLAMA3_DIGITS("\\p{N}{1,3}")},
    [PRE_QWEN2] = {RE_LLAMA3_DIGITS("\\p{N}")},
    [PRE_STARCODER] = {"\\p{N}", RE_GPT2},
    [PRE_FALCON] = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"},
};

struct slmrt_pre_def {
    const char *name; /* tokenizer.ggml.pre */
    pre_family fam;
    int add_bos;        /* llama.cpp's default for this pre-tokenizer; -1 = the BPE default (false) */
    bool ignore_merges; /* a word that is itself a token is not merged */
    bool no_bos;        /* no default BOS id */
};

/* The names llama.cpp maps to these regex sets (llama_vocab::impl::load). */
static const slmrt_pre_def PRE_DEFS[] = {
    {"default", PRE_DEFAULT, -1, false, false},
    {"gpt-2", PRE_GPT2, -1, false, false},
    {"phi-2", PRE_GPT2, -1, false, false},
    {"roberta-bpe", PRE_GPT2, -1, false, false},
    {"gigachat", PRE_GPT2, -1, false, false},
    {"jina-es", PRE_GPT2, -1, false, false},
    {"jina-de", PRE_GPT2, -1, false, false},
    {"jina-v1-en", PRE_GPT2, -1, false, false},
    {"mpt", PRE_GPT2, -1, false, false},
    {"olmo", PRE_GPT2, -1, false, false},
    {"jais", PRE_GPT2, -1, false, false},
    {"llama3", PRE_LLAMA3, 1, true, false},
    {"llama-v3", PRE_LLAMA3, 1, true, false},
    {"llama-bpe", PRE_LLAMA3, 1, true, false},
    {"falcon3", PRE_LLAMA3, 1, true, false},
    {"dbrx", PRE_LLAMA3, -1, false, false},
    {"smaug-bpe", PRE_LLAMA3, -1, false, false},
    {"chatglm-bpe", PRE_LLAMA3, -1, false, true},
    {"qwen2", PRE_QWEN2, -1, false, false},
    {"stablelm2", PRE_QWEN2, -1, false, false},
    {"megrez", PRE_QWEN2, -1, false, false},
    {"starcoder", PRE_STARCODER, -1, false, false},
    {"refact", PRE_STARCODER, -1, false, false},
    {"command-r", PRE_STARCODER, -1, false, false},
    {"smollm", PRE_STARCODER, -1, false, false},
    {"codeshell", PRE_STARCODER, -1, false, false},
    {"exaone", PRE_STARCODER, -1, false, false},
    {"minerva-7b", PRE_STARCODER, -1, false, false},
    {"falcon", PRE_FALCON, -1, false, false},
};

const char *slmrt_tok_bpe_pre_name(const slmrt_tok *tk) { return tk->pre ? tk->pre->name : ""; }
int slmrt_tok_bpe_pre_add_bos(const slmrt_tok *tk) { return tk->pre ? tk->pre->add_bos : -1; }
bool slmrt_tok_bpe_pre_no_bos(const slmrt_tok *tk) { return tk->pre && tk->pre->no_bos; }

static slm_status resolve_pre(slmrt_tok *tk, const char *name, slm_diag *d) {
    if (!name || !*name) name = "default"; /* llama.cpp warns and uses the default */
    for (size_t i = 0; i < sizeof PRE_DEFS / sizeof *PRE_DEFS; i++) {
        if (strcmp(PRE_DEFS[i].name, name) == 0) {
            tk->pre = &PRE_DEFS[i];
            return SLM_OK;
        }
    }
    char list[1024];
    size_t o = 0;
    for (size_t i = 0; i < sizeof PRE_DEFS / sizeof *PRE_DEFS && o < sizeof list; i++)
        o += snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", PRE_DEFS[i].name);
    char q[64];
    slmrt_tok_quote(name, strlen(name), q, sizeof q);
    return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tokenizer.ggml.pre '%s' is not a pre-tokenizer slmrt knows (known: %s)",
                        q, list);
}

static slm_status compile_regexes(slmrt_tok *tk, slm_diag *d) {
    const char *const *res = RE_FAMILY[tk->pre->fam];
    for (int i = 0; i < 4 && res[i]; i++) {
        int err;
        PCRE2_SIZE erroff;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)res[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                                       &erroff, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return slm_diag_set(d, SLM_ERR_INTERNAL, "pre-tokenizer '%s': regex %d does not compile at offset %zu: %s",
                                tk->pre->name, i, (size_t)erroff, (const char *)msg);
        }
        /* JIT is an optimisation: without it (unsupported CPU, SELinux),
         * pcre2_match interprets the same pattern */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        tk->re[tk->n_re++] = re;
    }
    return SLM_OK;
}

/* --------------------------------------------------------- byte maps */

static void build_byte_maps(slmrt_tok *tk) {
    for (int c = 0; c < 324; c++) tk->cpt_byte[c] = -1;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        int cpt = printable ? b : next++;
        tk->cpt_byte[cpt] = (int16_t)b;
        if (cpt < 0x80) {
            tk->byte_utf8[b][0] = 1;
            tk->byte_utf8[b][1] = (uint8_t)cpt;
        } else {
            tk->byte_utf8[b][0] = 2;
            tk->byte_utf8[b][1] = (uint8_t)(0xC0 | (cpt >> 6));
            tk->byte_utf8[b][2] = (uint8_t)(0x80 | (cpt & 0x3F));
        }
    }
}

/* Decodes one UTF-8 sequence leniently; returns its length (1 for a bad
 * byte, with *cpt = -1). */
static size_t utf8_next(const unsigned char *s, size_t n, int32_t *cpt) {
    unsigned c = s[0];
    size_t k = c < 0x80 ? 0 : c < 0xC2 ? 9 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : c < 0xF5 ? 3 : 9;
    if (k == 0) {
        *cpt = (int32_t)c;
        return 1;
    }
    if (k == 9 || k >= n) {
        *cpt = -1;
        return 1;
    }
    int32_t v = (int32_t)(c & (0x3F >> k));
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xC0) != 0x80) {
            *cpt = -1;
            return 1;
        }
        v = (v << 6) | (s[j] & 0x3F);
    }
    *cpt = v;
    return k + 1;
}

static void put(char *buf, size_t cap, size_t *o, const char *s, size_t n) {
    if (*o < cap) memcpy(buf + *o, s, *o + n <= cap ? n : cap - *o);
    *o += n;
}

size_t slmrt_tok_bpe_decode_text(const slmrt_tok *tk, const char *s, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int32_t cpt;
        size_t k = utf8_next((const unsigned char *)s + i, n - i, &cpt);
        if (cpt >= 0 && cpt < 324 && tk->cpt_byte[cpt] >= 0) {
            char b = (char)tk->cpt_byte[cpt];
            put(buf, cap, &o, &b, 1);
        } else {
            /* llama_decode_text's marker for a code point outside the map:
             * "[UNK_BYTE_0x" + its UTF-8 bytes in hex + the whole token + "]" */
            char hex[16];
            put(buf, cap, &o, "[UNK_BYTE_0x", 12);
            for (size_t j = 0; j < k; j++) {
                snprintf(hex, sizeof hex, "%02x", (unsigned char)s[i + j]);
                put(buf, cap, &o, hex, 2);
            }
            put(buf, cap, &o, s, n);
            put(buf, cap, &o, "]", 1);
        }
        i += k;
    }
    return o;
}

/* ------------------------------------------------------------ merges */

static uint64_t merge_hash(const char *a, size_t an, const char *b, size_t bn) {
    static const char sep = (char)0xFF; /* never inside UTF-8, keeps "ab"+"c" apart from "a"+"bc" */
    uint64_t h = slmrt_tok_hash_bytes(TOK_HASH_SEED, a, an);
    h = slmrt_tok_hash_bytes(h, &sep, 1);
    h = slmrt_tok_hash_bytes(h, b, bn);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* Rank of merging a and b, or -1. */
static int32_t merge_rank(const slmrt_tok *tk, const char *a, size_t an, const char *b, size_t bn) {
    uint64_t i = merge_hash(a, an, b, bn) & tk->merge_rank.mask;
    for (;;) {
        int32_t m = tk->merge_rank.slot[i];
        if (m < 0) return -1;
        if (tk->merge_alen[m] == an && tk->merge_blen[m] == bn && memcmp(tk->merge_buf + tk->merge_a[m], a, an) == 0 &&
            memcmp(tk->merge_buf + tk->merge_b[m], b, bn) == 0)
            return m;
        i = (i + 1) & tk->merge_rank.mask;
    }
}

static slm_status parse_merges(slmrt_tok *tk, const slm_tokenizer *t, slm_diag *d) {
    uint32_t n = t->n_merges;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!t->merges[i].s && t->merges[i].len)
            return slm_diag_set(d, SLM_ERR_INPUT, "tokenizer.ggml.merges: merge %u has no text", i);
        if (t->merges[i].len > UINT32_MAX / 2)
            return slm_diag_set(d, SLM_ERR_INPUT, "tokenizer.ggml.merges: merge %u is too long", i);
        total += t->merges[i].len;
    }
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n) cap <<= 1;
    tk->merge_buf = malloc(total ? total : 1);
    tk->merge_a = malloc(n * sizeof *tk->merge_a);
    tk->merge_b = malloc(n * sizeof *tk->merge_b);
    tk->merge_alen = malloc(n * sizeof *tk->merge_alen);
    tk->merge_blen = malloc(n * sizeof *tk->merge_blen);
    tk->merge_rank.slot = malloc(cap * sizeof *tk->merge_rank.slot);
    if (!tk->merge_buf || !tk->merge_a || !tk->merge_b || !tk->merge_alen || !tk->merge_blen || !tk->merge_rank.slot)
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for %u merges", n);
    memset(tk->merge_rank.slot, 0xff, cap * sizeof *tk->merge_rank.slot);
    tk->merge_rank.mask = cap - 1;
    tk->n_merges = n;
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *s = t->merges[i].s;
        size_t len = t->merges[i].len;
        if (len) memcpy(tk->merge_buf + o, s, len);
        /* llama.cpp splits at the first space after the first byte; a merge
         * without one, or with an empty side, can never match a symbol pair */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        size_t an = sp ? (size_t)(sp - s) : 0;
        tk->merge_a[i] = o;
        tk->merge_alen[i] = (uint32_t)an;
        tk->merge_b[i] = o + an + 1;
        tk->merge_blen[i] = sp ? (uint32_t)(len - an - 1) : 0;
        o += len;
        if (!sp || tk->merge_blen[i] == 0) continue;
        const char *a = tk->merge_buf + tk->merge_a[i], *b = tk->merge_buf + tk->merge_b[i];
        if (merge_rank(tk, a, an, b, tk->merge_blen[i]) >= 0) continue; /* first occurrence keeps its rank */
        uint64_t h = merge_hash(a, an, b, tk->merge_blen[i]) & tk->merge_rank.mask;
        while (tk->merge_rank.slot[h] >= 0) h = (h + 1) & tk->merge_rank.mask;
        tk->merge_rank.slot[h] = (int32_t)i;
    }
    return SLM_OK;
}

slm_status slmrt_tok_bpe_init(slmrt_tok *tk, const slm_tokenizer *t, slm_diag *d) {
    slm_status st = resolve_pre(tk, t->pre, d);
    if (st == SLM_OK) st = compile_regexes(tk, d);
    if (st == SLM_OK) st = parse_merges(tk, t, d);
    if (st == SLM_OK) {
        build_byte_maps(tk);
        tk->ignore_merges = tk->pre->ignore_merges;
    }
    return st;
}

void slmrt_tok_bpe_free(slmrt_tok *tk) {
    for (int i = 0; i < tk->n_re; i++) pcre2_code_free(tk->re[i]);
    tk->n_re = 0;
    free(tk->merge_buf);
    free(tk->merge_a);
    free(tk->merge_b);
    free(tk->merge_alen);
    free(tk->merge_blen);
    free(tk->merge_rank.slot);
}

/* ---------------------------------------------------- pre-tokenizing */

typedef struct span {
    size_t off, len;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static bool spans_push(spans *s, size_t off, size_t len) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v) return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){off, len};
    return true;
}

/* Bytes in the UTF-8 sequence starting with c (text is valid here). */
static size_t utf8_len(unsigned char c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* Splits every word of `in` by regex re into matches and the stretches
 * between them, appending to out. */
static slm_status split_by(const pcre2_code *re, const char *text, const spans *in, spans *out,
                           pcre2_match_data *md, slm_diag *d) {
    for (size_t w = 0; w < in->n; w++) {
        const char *subj = text + in->v[w].off;
        size_t n = in->v[w].len, start = 0, prev_end = 0;
        while (start < n) {
            int rc = pcre2_match(re, (PCRE2_SPTR)subj, n, start, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its frames on the heap */
                rc = pcre2_match(re, (PCRE2_SPTR)subj, n, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return slm_diag_set(d, SLM_ERR_INPUT, "pre-tokenizer regex failed on a %zu-byte word: %s", n,
                                    (const char *)msg);
            }
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) { /* none of llama.cpp's regexes match empty; step over it anyway */
                start = ms + utf8_len((unsigned char)subj[ms < n ? ms : n - 1]);
                continue;
            }
            if (ms > prev_end && !spans_push(out, in->v[w].off + prev_end, ms - prev_end)) goto oom;
            if (!spans_push(out, in->v[w].off + ms, me - ms)) goto oom;
            prev_end = start = me;
        }
        if (prev_end < n && !spans_push(out, in->v[w].off + prev_end, n - prev_end)) goto oom;
    }
    return SLM_OK;
oom:
    return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory pre-tokenizing");
}

static slm_status pre_tokenize(const slmrt_tok *tk, const char *text, size_t len, spans *words, slm_diag *d) {
    spans a = {0}, b = {0};
    slm_status st = SLM_OK;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md || !spans_push(&a, 0, len)) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory pre-tokenizing");
    for (int i = 0; i < tk->n_re && st == SLM_OK; i++) {
        b.n = 0;
        st = split_by(tk->re[i], text, &a, &b, md, d);
        spans t = a;
        a = b;
        b = t;
    }
    pcre2_match_data_free(md);
    free(b.v);
    if (st != SLM_OK) {
        free(a.v);
        return st;
    }
    *words = a;
    return SLM_OK;
}

/* ------------------------------------------------------------ merging */

typedef struct bpe_state {
    const slmrt_tok *tk;
    const char *w; /* the word in GPT-2 code points */
    tok_sym *sym;
    tok_heap heap;
    bool oom;
} bpe_state;

static void add_bigram(bpe_state *S, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const tok_sym *l = &S->sym[left], *r = &S->sym[right];
    int32_t rank = merge_rank(S->tk, S->w + l->off, l->n, S->w + r->off, r->n);
    if (rank < 0) return;
    tok_bigram b = {.key = -(double)rank, .left = left, .right = right, .size = l->n + r->n};
    if (!slmrt_tok_heap_push(&S->heap, b)) S->oom = true;
}

/* Merges one word (already byte-encoded, wn bytes) and appends its tokens. */
static void bpe_word(bpe_state *S, size_t wn, tok_ids *out) {
    const slmrt_tok *tk = S->tk;
    if (tk->ignore_merges) {
        int32_t id = slmrt_tok_find(tk, S->w, wn);
        if (id >= 0) {
            slmrt_tok_ids_push(out, id);
            return;
        }
    }
    int32_t n_sym = 0;
    for (size_t off = 0; off < wn;) {
        size_t n = utf8_len((unsigned char)S->w[off]);
        if (n > wn - off) n = wn - off;
        S->sym[n_sym] = (tok_sym){.prev = n_sym - 1, .next = off + n == wn ? -1 : n_sym + 1, .off = off, .n = n};
        n_sym++;
        off += n;
    }
    S->heap.n = 0;
    for (int32_t i = 1; i < n_sym; i++) add_bigram(S, i - 1, i);
    while (S->heap.n && !S->oom) {
        tok_bigram b = slmrt_tok_heap_pop(&S->heap);
        tok_sym *l = &S->sym[b.left], *r = &S->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* outdated */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) S->sym[r->next].prev = b.left;
        add_bigram(S, l->prev, b.left);
        add_bigram(S, b.left, l->next);
    }
    for (int32_t i = 0; n_sym > 0 && i != -1; i = S->sym[i].next) {
        const tok_sym *y = &S->sym[i];
        int32_t id = slmrt_tok_find(tk, S->w + y->off, y->n);
        if (id >= 0) {
            slmrt_tok_ids_push(out, id);
            continue;
        }
        /* not a token: llama.cpp tries each byte of the encoded text alone
         * and drops the ones that are not tokens either */
        for (size_t j = 0; j < y->n; j++) {
            id = slmrt_tok_find(tk, S->w + y->off + j, 1);
            if (id >= 0) slmrt_tok_ids_push(out, id);
        }
    }
}

slm_status slmrt_tok_bpe_fragment(const slmrt_tok *tk, const char *text, size_t len, tok_ids *out, slm_diag *d) {
    spans words = {0};
    slm_status st = pre_tokenize(tk, text, len, &words, d);
    if (st != SLM_OK) return st;
    size_t longest = 0;
    for (size_t i = 0; i < words.n; i++)
        if (words.v[i].len > longest) longest = words.v[i].len;
    bpe_state S = {.tk = tk};
    char *w = malloc(2 * longest + 1);
    S.sym = malloc((2 * longest + 1) * sizeof *S.sym);
    if (!w || !S.sym) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    S.w = w;
    for (size_t i = 0; i < words.n && st == SLM_OK; i++) {
        size_t wn = 0;
        for (size_t j = 0; j < words.v[i].len; j++) {
            const uint8_t *e = tk->byte_utf8[(unsigned char)text[words.v[i].off + j]];
            memcpy(w + wn, e + 1, e[0]);
            wn += e[0];
        }
        bpe_word(&S, wn, out);
        if (S.oom) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    }
    free(S.heap.v);
    free(S.sym);
    free(w);
    free(words.v);
    return st;
}
