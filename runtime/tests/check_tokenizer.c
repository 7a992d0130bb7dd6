/* check_tokenizer.c - the runtime tokenizer against llama.cpp: every case of
 * llama.cpp's own tokenizer tests for the llama SPM and GPT-2 BPE
 * vocabularies in ../shared/vocab (one test per vocabulary, naming the first
 * failing case), decode(encode(x)) round trips, the BOS/EOS rules, tiny
 * hand-built SPM and BPE vocabularies with answers worked out by hand
 * (merge order, ties, byte fallback, special and user-defined tokens,
 * pre-tokenizer differences), bad input (invalid UTF-8, unknown
 * pre-tokenizer, duplicate tokens, missing merges, random bytes) and the
 * `slmrt tokenize` command. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm_gguf.h"
#include "slmrt_cli.h"
#include "slmrt_tokenizer.h"
#include "test_support.h"

#define SP "\xe2\x96\x81" /* ▁ */
#define G "\xc4\xa0"      /* Ġ: GPT-2's byte-level space */

/* ------------------------------------------------------------ helpers */

typedef struct vocab {
    slm_tokenizer t;
    slm_str toks[64];
    float scores[64];
    int32_t types[64];
    slm_str merges[16];
} vocab;

static void vocab_init(vocab *v, slm_tok_kind kind, const char *pre) {
    memset(v, 0, sizeof *v);
    v->t.kind = kind;
    v->t.model_name = kind == SLM_TOK_SPM ? "llama" : "gpt2";
    v->t.pre = (char *)pre;
    v->t.tokens = v->toks;
    v->t.scores = v->scores;
    v->t.token_types = v->types;
    v->t.merges = v->merges;
    v->t.bos_id = v->t.eos_id = v->t.unk_id = v->t.pad_id = v->t.sep_id = -1;
    v->t.add_bos = v->t.add_eos = v->t.add_space_prefix = -1;
}

static int32_t vocab_add(vocab *v, const char *s, float score, int32_t type) {
    uint32_t i = v->t.n_tokens++;
    v->toks[i] = (slm_str){(char *)s, strlen(s)};
    v->scores[i] = score;
    v->types[i] = type;
    return (int32_t)i;
}

static void vocab_merge(vocab *v, const char *m) { v->merges[v->t.n_merges++] = (slm_str){(char *)m, strlen(m)}; }

static slmrt_tok *tok_of(const vocab *v) {
    slm_diag d = {0};
    slmrt_tok *tk = NULL;
    slm_status st = slmrt_tok_new(&v->t, &tk, &d);
    ck_assert_msg(st == SLM_OK, "slmrt_tok_new: %s", d.msg);
    return tk;
}

/* Encodes and compares with the expected ids (terminated by -2). */
static void expect_ids(const slmrt_tok *tk, const char *text, bool add_special, bool parse_special,
                       const int32_t *want) {
    int32_t *ids = NULL;
    size_t n = 0;
    slm_diag d = {0};
    slm_status st = slmrt_tok_encode_ex(tk, text, strlen(text), add_special, parse_special, &ids, &n, &d);
    ck_assert_msg(st == SLM_OK, "encode '%s': %s", text, d.msg);
    size_t nw = 0;
    while (want[nw] != -2) nw++;
    char got[512] = "", exp[512] = "";
    for (size_t i = 0; i < n; i++) snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
    for (size_t i = 0; i < nw; i++) snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " %d", want[i]);
    ck_assert_msg(n == nw && memcmp(ids, want, n * sizeof *ids) == 0, "encode '%s': got [%s ] want [%s ]", text, got,
                  exp);
    free(ids);
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__, -2})
#define NO_IDS ((const int32_t[]){-2})

static char *decode_all(const slmrt_tok *tk, const int32_t *ids, size_t n, size_t *len) {
    char *s = NULL;
    slm_diag d = {0};
    ck_assert_msg(slmrt_tok_decode(tk, ids, n, &s, len, &d) == SLM_OK, "decode: %s", d.msg);
    return s;
}

static slmrt_tok *load_vocab(const char *name, slm_model **m) {
    char rel[128];
    snprintf(rel, sizeof rel, "vocab/%s", name);
    const char *path = ts_shared(rel);
    if (!path) return NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(path, m, &d) == SLM_OK, "%s: %s", path, d.msg);
    slmrt_tok *tk = NULL;
    ck_assert_msg(slmrt_tok_new(&(*m)->tok, &tk, &d) == SLM_OK, "%s: %s", path, d.msg);
    return tk;
}

/* llama.cpp's test cases: .inp holds texts each followed by a line
 * "__ggml_vocab_test__"; .out one line of ids per text. */
typedef struct vcase {
    const char *text;
    size_t len;
    int32_t ids[1024];
    size_t n;
} vcase;

static vcase *load_cases(const char *name, size_t *n_cases, char **inp_out, char **out_out) {
    char rel[128];
    snprintf(rel, sizeof rel, "vocab/%s.inp", name);
    char *inp = ts_read_file(ts_shared(rel), NULL);
    snprintf(rel, sizeof rel, "vocab/%s.out", name);
    char *out = ts_read_file(ts_shared(rel), NULL);
    ck_assert_msg(inp && out, "cannot read the .inp/.out files of %s", name);
    static const char SEP[] = "\n__ggml_vocab_test__\n";
    vcase *c = calloc(256, sizeof *c);
    size_t n = 0;
    char *p = inp, *q = out;
    for (char *s; (s = strstr(p, SEP)) && n < 256; p = s + strlen(SEP)) {
        c[n].text = p;
        c[n].len = (size_t)(s - p);
        char *eol = strchr(q, '\n');
        ck_assert_msg(eol != NULL, "%s.out has fewer lines than cases", name);
        *eol = 0;
        for (char *w = strtok(q, " "); w; w = strtok(NULL, " ")) c[n].ids[c[n].n++] = (int32_t)atoi(w);
        q = eol + 1;
        n++;
    }
    ck_assert_msg(n > 0, "no cases in %s.inp", name);
    *n_cases = n;
    *inp_out = inp;
    *out_out = out;
    return c;
}

static void run_vocab_cases(const char *name) {
    slm_model *m = NULL;
    slmrt_tok *tk = load_vocab(name, &m);
    if (!tk) return;
    size_t n_cases;
    char *inp, *out;
    vcase *c = load_cases(name, &n_cases, &inp, &out);
    size_t pass = 0, first_bad = SIZE_MAX;
    char msg[2048] = "";
    for (size_t i = 0; i < n_cases; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        slm_diag d = {0};
        slm_status st = slmrt_tok_encode(tk, c[i].text, c[i].len, false, &ids, &n, &d);
        bool ok = st == SLM_OK && n == c[i].n && memcmp(ids, c[i].ids, n * sizeof *ids) == 0;
        if (ok) pass++;
        else {
            char text[128], got[512] = "";
            snprintf(text, sizeof text, "%.*s", (int)(c[i].len < 100 ? c[i].len : 100), c[i].text);
            for (size_t k = 0; k < n && strlen(got) < 480; k++) snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[k]);
            fprintf(stderr, "%s: case %zu '%s' got [%s ] (%s)\n", name, i, text, got, st == SLM_OK ? "ok" : d.msg);
            if (first_bad == SIZE_MAX) {
                first_bad = i;
                snprintf(msg, sizeof msg, "case %zu '%s': got [%s ]", i, text, got);
            }
        }
        free(ids);
    }
    fprintf(stderr, "%s: %zu/%zu llama.cpp cases pass\n", name, pass, n_cases);
    ck_assert_msg(pass == n_cases, "%s: %zu of %zu cases fail; first: %s", name, n_cases - pass, n_cases, msg);
    free(c);
    free(inp);
    free(out);
    slmrt_tok_free(tk);
    slm_model_free(m);
}

/* decode(encode(x)) == x for every test text, with and without BOS. */
static void run_roundtrip(const char *name) {
    slm_model *m = NULL;
    slmrt_tok *tk = load_vocab(name, &m);
    if (!tk) return;
    size_t n_cases;
    char *inp, *out;
    vcase *c = load_cases(name, &n_cases, &inp, &out);
    for (size_t i = 0; i < n_cases; i++) {
        for (int bos = 0; bos < 2; bos++) {
            int32_t *ids = NULL;
            size_t n = 0, len = 0;
            slm_diag d = {0};
            ck_assert(slmrt_tok_encode(tk, c[i].text, c[i].len, bos, &ids, &n, &d) == SLM_OK);
            char *s = decode_all(tk, ids, n, &len);
            ck_assert_msg(len == c[i].len && memcmp(s, c[i].text, len) == 0,
                          "%s: case %zu (bos %d) decodes to '%s', not '%.*s'", name, i, bos, s, (int)c[i].len,
                          c[i].text);
            free(s);
            free(ids);
        }
    }
    free(c);
    free(inp);
    free(out);
    slmrt_tok_free(tk);
    slm_model_free(m);
}

/* ------------------------------------------------- shared vocabularies */

START_TEST(test_llama_spm_cases) { run_vocab_cases("ggml-vocab-llama-spm.gguf"); }
END_TEST

START_TEST(test_gpt2_cases) { run_vocab_cases("ggml-vocab-gpt-2.gguf"); }
END_TEST

START_TEST(test_llama_spm_roundtrip) { run_roundtrip("ggml-vocab-llama-spm.gguf"); }
END_TEST

START_TEST(test_gpt2_roundtrip) { run_roundtrip("ggml-vocab-gpt-2.gguf"); }
END_TEST

START_TEST(test_real_bos_rules) {
    slm_model *m = NULL;
    slmrt_tok *tk = load_vocab("ggml-vocab-llama-spm.gguf", &m);
    if (!tk) return;
    ck_assert(slmrt_tok_add_bos(tk));
    ck_assert(!slmrt_tok_add_eos(tk));
    ck_assert_int_eq(slmrt_tok_bos(tk), 1);
    ck_assert_int_eq(slmrt_tok_eos(tk), 2);
    ck_assert_int_eq(slmrt_tok_unk(tk), 0);
    ck_assert_int_eq(slmrt_tok_n_vocab(tk), 32000);
    ck_assert(slmrt_tok_is_eog(tk, 2));
    ck_assert(slmrt_tok_is_control(tk, 1));
    expect_ids(tk, "Hello world", true, false, IDS(1, 15043, 3186));
    expect_ids(tk, "Hello world", false, false, IDS(15043, 3186));
    expect_ids(tk, "", true, false, IDS(1));
    /* parse_special turns a literal "<s>" into BOS; plain encoding does not */
    expect_ids(tk, "<s>Hello", false, true, IDS(1, 15043));
    int32_t *ids = NULL;
    size_t n = 0;
    slm_diag d = {0};
    ck_assert(slmrt_tok_encode(tk, "<s>", 3, false, &ids, &n, &d) == SLM_OK);
    for (size_t i = 0; i < n; i++) ck_assert_int_ne(ids[i], 1);
    free(ids);
    /* pieces: "▁Hello" -> " Hello", <0x0A> -> "\n", BOS -> "" */
    char buf[32];
    size_t len;
    ck_assert(slmrt_tok_decode_piece(tk, 15043, buf, sizeof buf, &len) == SLM_OK);
    ck_assert_str_eq(buf, " Hello");
    ck_assert(slmrt_tok_decode_piece(tk, 13, buf, sizeof buf, &len) == SLM_OK);
    ck_assert_str_eq(buf, "\n");
    ck_assert(slmrt_tok_decode_piece(tk, 1, buf, sizeof buf, &len) == SLM_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert(slmrt_tok_decode_piece(tk, 15043, buf, 3, &len) == SLM_ERR_USAGE);
    ck_assert_uint_eq(len, 6);
    ck_assert(slmrt_tok_decode_piece(tk, 32000, buf, sizeof buf, &len) == SLM_ERR_USAGE);
    slmrt_tok_free(tk);
    slm_model_free(m);

    tk = load_vocab("ggml-vocab-gpt-2.gguf", &m);
    ck_assert(!slmrt_tok_add_bos(tk));
    ck_assert_str_eq(slmrt_tok_pre(tk), "gpt-2");
    ck_assert_int_eq(slmrt_tok_bos(tk), 50256);
    ck_assert(slmrt_tok_is_eog(tk, 50256));
    ck_assert(slmrt_tok_is_control(tk, 50256)); /* "<|endoftext|>" is forced to control, as in llama.cpp */
    expect_ids(tk, "Hello world", true, false, IDS(15496, 995));
    expect_ids(tk, "<|endoftext|>", false, true, IDS(50256));
    ck_assert(slmrt_tok_decode_piece(tk, 995, buf, sizeof buf, &len) == SLM_OK);
    ck_assert_str_eq(buf, " world");
    slmrt_tok_free(tk);
    slm_model_free(m);
}
END_TEST

/* Random valid UTF-8 (all planes, all whitespace kinds) round trips through
 * both real vocabularies, and random bytes never crash them. */
START_TEST(test_real_random) {
    const char *names[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"};
    for (int v = 0; v < 2; v++) {
        slm_model *m = NULL;
        slmrt_tok *tk = load_vocab(names[v], &m);
        if (!tk) return;
        uint64_t seed = 12345 + v;
        static const uint32_t pool[] = {' ', ' ', '\t', '\n', '\r', 'a', 'Z', '3', '\'', '!', 0x85, 0xA0, 0xE9, 0x3000,
                                        0x2028, 0x4E2D, 0x1F600, 0x0300, 0xFFFD, 0x10FFFF, 0xBD, 0x0660};
        for (int iter = 0; iter < 200; iter++) {
            char text[400];
            size_t len = 0;
            int n_cp = (int)((seed >> 33) % 60);
            for (int k = 0; k < n_cp; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t cp = (seed >> 40) % 3 ? pool[(seed >> 20) % (sizeof pool / sizeof *pool)]
                                               : (uint32_t)((seed >> 24) % 0x30000);
                if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
                if (cp == 0x2581) cp = 'y'; /* SPM's own space sign decodes to ' ': not reversible by design */
                if (cp < 0x80) text[len++] = (char)cp;
                else if (cp < 0x800) {
                    text[len++] = (char)(0xC0 | (cp >> 6));
                    text[len++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    text[len++] = (char)(0xE0 | (cp >> 12));
                    text[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    text[len++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    text[len++] = (char)(0xF0 | (cp >> 18));
                    text[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    text[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    text[len++] = (char)(0x80 | (cp & 0x3F));
                }
            }
            int32_t *ids = NULL;
            size_t n = 0, dl = 0;
            slm_diag d = {0};
            ck_assert_msg(slmrt_tok_encode(tk, text, len, iter & 1, &ids, &n, &d) == SLM_OK, "%s", d.msg);
            char *s = decode_all(tk, ids, n, &dl);
            ck_assert_msg(dl == len && memcmp(s, text, len) == 0, "%s: random text %d does not round trip", names[v],
                          iter);
            free(s);
            free(ids);
            /* the same bytes scrambled: valid or a clean error */
            for (size_t k = 0; k < len; k += 3) text[k] ^= (char)(seed >> (k % 50));
            slm_diag_clear(&d);
            slm_status st = slmrt_tok_encode(tk, text, len, false, &ids, &n, &d);
            ck_assert(st == SLM_OK || st == SLM_ERR_INPUT);
            if (st == SLM_OK) free(ids);
        }
        /* a long run of whitespace does not exhaust the regex engine */
        size_t big = 200000;
        char *ws = malloc(big + 2);
        memset(ws, ' ', big);
        ws[big] = 'a';
        ws[big + 1] = 0;
        int32_t *ids = NULL;
        size_t n = 0, dl = 0;
        slm_diag d = {0};
        ck_assert_msg(slmrt_tok_encode(tk, ws, big + 1, false, &ids, &n, &d) == SLM_OK, "%s", d.msg);
        char *s = decode_all(tk, ids, n, &dl);
        ck_assert(dl == big + 1 && memcmp(s, ws, dl) == 0);
        free(s);
        free(ids);
        free(ws);
        slmrt_tok_free(tk);
        slm_model_free(m);
    }
}
END_TEST

/* ------------------------------------------------- hand-built SPM */

enum { N = SLM_TOKEN_NORMAL, C = SLM_TOKEN_CONTROL, U = SLM_TOKEN_UNKNOWN, B = SLM_TOKEN_BYTE, UD = SLM_TOKEN_USER_DEFINED };

/* ids: 0 <unk> 1 <s> 2 </s> 3 <0x0A> 4 <0xC3> 5 <0xA9> 6 ▁ 7 a 8 b 9 c
 * 10 ab(-5) 11 bc(-1) 12 ▁a(-2) 13 ▁ab(-0.5) 14 abc(-3) 15 <tool> 16 x 17 y
 * 18 z 19 xy(-1) 20 yz(-1) */
static void spm_vocab(vocab *v) {
    vocab_init(v, SLM_TOK_SPM, NULL);
    vocab_add(v, "<unk>", 0, U);
    vocab_add(v, "<s>", 0, C);
    vocab_add(v, "</s>", 0, C);
    vocab_add(v, "<0x0A>", 0, B);
    vocab_add(v, "<0xC3>", 0, B);
    vocab_add(v, "<0xA9>", 0, B);
    vocab_add(v, SP, -10, N);
    vocab_add(v, "a", -10, N);
    vocab_add(v, "b", -10, N);
    vocab_add(v, "c", -10, N);
    vocab_add(v, "ab", -5, N);
    vocab_add(v, "bc", -1, N);
    vocab_add(v, SP "a", -2, N);
    vocab_add(v, SP "ab", -0.5f, N);
    vocab_add(v, "abc", -3, N);
    vocab_add(v, "<tool>", 0, UD);
    vocab_add(v, "x", -10, N);
    vocab_add(v, "y", -10, N);
    vocab_add(v, "z", -10, N);
    vocab_add(v, "xy", -1, N);
    vocab_add(v, "yz", -1, N);
}

START_TEST(test_spm_small) {
    vocab v;
    spm_vocab(&v);
    slmrt_tok *tk = tok_of(&v);
    ck_assert(slmrt_tok_add_bos(tk)); /* SPM default */
    ck_assert_int_eq(slmrt_tok_bos(tk), 1);
    ck_assert_str_eq(slmrt_tok_pre(tk), "");
    /* "▁abc": bc (-1) first, then ▁a (-2); abc (-3) is stale by then */
    expect_ids(tk, "abc", false, false, IDS(12, 11));
    /* "▁ab": ▁a (-2) beats ab (-5), then ▁a+b = ▁ab */
    expect_ids(tk, "ab", false, false, IDS(13));
    expect_ids(tk, "ab", true, false, IDS(1, 13));
    /* byte fallback for é, newline; € has no byte tokens -> <unk> once */
    expect_ids(tk, "\xc3\xa9", false, false, IDS(6, 4, 5));
    expect_ids(tk, "\n", false, false, IDS(6, 3));
    expect_ids(tk, "\xe2\x82\xac", false, false, IDS(6, 0));
    /* a literal "<s>" is text unless specials are parsed */
    expect_ids(tk, "<s>ab", false, false, IDS(6, 0, 0, 0, 10));
    expect_ids(tk, "<s>ab", false, true, IDS(1, 13));
    /* user-defined tokens are always cut out; the text after one gets the
     * space prefix again */
    expect_ids(tk, "a<tool>b", false, false, IDS(12, 15, 6, 8));
    expect_ids(tk, "", false, false, NO_IDS);

    char *s = decode_all(tk, IDS(1, 12, 11), 3, NULL);
    ck_assert_str_eq(s, "abc");
    free(s);
    s = decode_all(tk, IDS(12, 11), 2, NULL);
    ck_assert_str_eq(s, "abc");
    free(s);
    s = decode_all(tk, IDS(6, 4, 5, 15, 2), 5, NULL);
    ck_assert_str_eq(s, "\xc3\xa9<tool>");
    free(s);
    char *bad = NULL;
    slm_diag d = {0};
    ck_assert(slmrt_tok_decode(tk, IDS(1, 99), 2, &bad, NULL, &d) == SLM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "99"));
    slmrt_tok_free(tk);

    /* ties go to the leftmost pair: "xyz" -> xy z (no space prefix here) */
    v.t.add_space_prefix = 0;
    v.t.add_bos = 0;
    v.t.add_eos = 1;
    tk = tok_of(&v);
    expect_ids(tk, "xyz", false, false, IDS(19, 18));
    expect_ids(tk, "ab", true, false, IDS(10, 2)); /* no BOS, but EOS */
    s = decode_all(tk, IDS(12), 1, NULL);
    ck_assert_str_eq(s, " a"); /* no prefix was added, so none is removed */
    free(s);
    slmrt_tok_free(tk);
}
END_TEST

/* ------------------------------------------------- hand-built BPE */

/* ids: 0 a 1 b 2 c 3 Ġ 4 ab 5 Ġab 6 abc 7 <|endoftext|> 8 <tool> 9 1 10 2
 * 11 3 12 4 13 5 14 12 15 34 16 xyz 17 Ċ 18 ! ; merges a b, Ġ ab, ab c,
 * 1 2, 3 4 */
static void bpe_vocab(vocab *v, const char *pre) {
    vocab_init(v, SLM_TOK_BPE, pre);
    const char *toks[] = {"a", "b", "c", G, "ab", G "ab", "abc", "<|endoftext|>", "<tool>", "1", "2", "3", "4", "5",
                          "12", "34", "xyz", "\xc4\x8a", "!"};
    for (size_t i = 0; i < sizeof toks / sizeof *toks; i++) vocab_add(v, toks[i], 0, i == 8 ? UD : N);
    vocab_merge(v, "a b");
    vocab_merge(v, G " ab");
    vocab_merge(v, "ab c");
    vocab_merge(v, "1 2");
    vocab_merge(v, "3 4");
    v->t.scores = NULL;
    v->t.bos_id = 7;
    v->t.eos_id = 7;
}

START_TEST(test_bpe_small) {
    vocab v;
    bpe_vocab(&v, "gpt-2");
    slmrt_tok *tk = tok_of(&v);
    ck_assert(!slmrt_tok_add_bos(tk)); /* BPE default */
    ck_assert(slmrt_tok_is_control(tk, 7));
    ck_assert(slmrt_tok_is_eog(tk, 7));
    /* "ab" | " abc": Ġ a b c -> (a b) -> Ġ ab c -> (Ġ ab) rank 1 beats (ab c) rank 2 */
    expect_ids(tk, "ab abc", false, false, IDS(4, 5, 2));
    expect_ids(tk, "abc", true, false, IDS(6));
    /* GPT-2 keeps a run of digits in one word: 12|34|5 */
    expect_ids(tk, "12345", false, false, IDS(14, 15, 13));
    /* symbols that are not tokens are dropped, as llama.cpp does */
    expect_ids(tk, "xyz", false, false, NO_IDS);
    expect_ids(tk, "<|endoftext|>", false, true, IDS(7));
    expect_ids(tk, "a<tool>b\n!", false, false, IDS(0, 8, 1, 17, 18));
    char buf[16];
    size_t len;
    ck_assert(slmrt_tok_decode_piece(tk, 5, buf, sizeof buf, &len) == SLM_OK);
    ck_assert_str_eq(buf, " ab");
    ck_assert(slmrt_tok_decode_piece(tk, 7, buf, sizeof buf, &len) == SLM_OK);
    ck_assert_str_eq(buf, "");
    ck_assert(slmrt_tok_decode_piece(tk, 8, buf, sizeof buf, &len) == SLM_OK);
    ck_assert_str_eq(buf, "<tool>");
    char *s = decode_all(tk, IDS(4, 5, 2, 17, 8), 5, NULL);
    ck_assert_str_eq(s, "ab abc\n<tool>");
    free(s);
    slmrt_tok_free(tk);

    /* llama-3: digits in threes (123|45), whole-word tokens skip the merges,
     * and BOS is added by default */
    bpe_vocab(&v, "llama-bpe");
    tk = tok_of(&v);
    ck_assert(slmrt_tok_add_bos(tk));
    expect_ids(tk, "12345", false, false, IDS(14, 11, 12, 13));
    expect_ids(tk, "xyz", true, false, IDS(7, 16));
    slmrt_tok_free(tk);

    /* qwen2: one digit per word */
    bpe_vocab(&v, "qwen2");
    tk = tok_of(&v);
    ck_assert(!slmrt_tok_add_bos(tk));
    expect_ids(tk, "12345", false, false, IDS(9, 10, 11, 12, 13));
    slmrt_tok_free(tk);

    /* default (no tokenizer.ggml.pre): digits split in threes by the last regex */
    bpe_vocab(&v, NULL);
    tk = tok_of(&v);
    ck_assert_str_eq(slmrt_tok_pre(tk), "default");
    expect_ids(tk, "12345", false, false, IDS(14, 11, 12, 13));
    expect_ids(tk, "ab abc", false, false, IDS(4, 5, 2));
    slmrt_tok_free(tk);

    /* add_bos from the file wins over the pre-tokenizer's default */
    bpe_vocab(&v, "llama-bpe");
    v.t.add_bos = 0;
    tk = tok_of(&v);
    ck_assert(!slmrt_tok_add_bos(tk));
    slmrt_tok_free(tk);
}
END_TEST

/* ------------------------------------------------------- bad input */

START_TEST(test_invalid_utf8) {
    vocab v;
    bpe_vocab(&v, "gpt-2");
    slmrt_tok *tk = tok_of(&v);
    spm_vocab(&v);
    slmrt_tok *ts = tok_of(&v);
    static const struct {
        const char *s;
        size_t off;
    } bad[] = {{"ab\xc3(", 2}, {"\xed\xa0\x80", 0}, {"a\xe2\x82", 1}, {"\xc0\xaf", 0},
               {"ok\xf4\x90\x80\x80", 2}, {"\xff", 0}, {"abc\x80", 3}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        for (int k = 0; k < 2; k++) {
            int32_t *ids = (int32_t *)1;
            size_t n = 7;
            slm_diag d = {0};
            slm_status st = slmrt_tok_encode(k ? ts : tk, bad[i].s, strlen(bad[i].s), false, &ids, &n, &d);
            ck_assert_int_eq(st, SLM_ERR_INPUT);
            ck_assert_ptr_null(ids);
            char want[64];
            snprintf(want, sizeof want, "byte offset %zu", bad[i].off);
            ck_assert_msg(strstr(d.msg, "UTF-8") && strstr(d.msg, want), "case %zu: '%s'", i, d.msg);
        }
    }
    /* an embedded NUL is valid text */
    int32_t *ids = NULL;
    size_t n = 0;
    slm_diag d = {0};
    ck_assert(slmrt_tok_encode(tk, "a\0b", 3, false, &ids, &n, &d) == SLM_OK);
    free(ids);
    slmrt_tok_free(tk);
    slmrt_tok_free(ts);
}
END_TEST

START_TEST(test_bad_vocab) {
    vocab v;
    slmrt_tok *tk = (slmrt_tok *)1;
    slm_diag d = {0};

    bpe_vocab(&v, "no-such-pre");
    ck_assert_int_eq(slmrt_tok_new(&v.t, &tk, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_ptr_null(tk);
    ck_assert_msg(strstr(d.msg, "no-such-pre") && strstr(d.msg, "tokenizer.ggml.pre"), "%s", d.msg);

    bpe_vocab(&v, "gpt-2");
    v.t.n_merges = 0;
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_tok_new(&v.t, &tk, &d), SLM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "merges"));

    spm_vocab(&v);
    vocab_add(&v, "ab", 0, N);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_tok_new(&v.t, &tk, &d), SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "'ab'") && strstr(d.msg, "unique"), "%s", d.msg);

    spm_vocab(&v);
    v.t.kind = SLM_TOK_NONE;
    v.t.model_name = "bert";
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_tok_new(&v.t, &tk, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(d.msg, "bert"));

    spm_vocab(&v);
    v.t.n_tokens = 0;
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_tok_new(&v.t, &tk, &d), SLM_ERR_INPUT);

    /* add_bos without a usable BOS id: encoding with specials fails cleanly */
    bpe_vocab(&v, "gpt-2");
    v.t.bos_id = 500; /* out of range: ignored, and the default 11 is a real token here */
    v.t.add_bos = 1;
    tk = tok_of(&v);
    ck_assert_int_eq(slmrt_tok_bos(tk), 11);
    slmrt_tok_free(tk);
    vocab_init(&v, SLM_TOK_BPE, "gpt-2");
    vocab_add(&v, "a", 0, N);
    vocab_merge(&v, "a a");
    v.t.add_bos = 1;
    tk = tok_of(&v);
    ck_assert_int_eq(slmrt_tok_bos(tk), -1);
    int32_t *ids = NULL;
    size_t n = 0;
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_tok_encode(tk, "a", 1, true, &ids, &n, &d), SLM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "BOS"));
    ck_assert_int_eq(slmrt_tok_encode(tk, "a", 1, false, &ids, &n, &d), SLM_OK);
    free(ids);
    slmrt_tok_free(tk);

    /* empty tokens are renamed, so two of them are not duplicates */
    spm_vocab(&v);
    vocab_add(&v, "", 0, N);
    vocab_add(&v, "", 0, N);
    tk = tok_of(&v);
    size_t len;
    ck_assert_str_eq(slmrt_tok_text(tk, 21, &len), "[EMPTY_21]");
    slmrt_tok_free(tk);
    slmrt_tok_free(NULL);
}
END_TEST

/* Random bytes against the small vocabularies: OK or a clean error. */
START_TEST(test_small_random) {
    vocab v1, v2;
    spm_vocab(&v1);
    bpe_vocab(&v2, "llama-bpe");
    slmrt_tok *a = tok_of(&v1), *b = tok_of(&v2);
    uint64_t seed = 99;
    for (int iter = 0; iter < 2000; iter++) {
        char text[64];
        size_t len = iter % 64;
        for (size_t k = 0; k < len; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            text[k] = (char)(iter & 1 ? (seed >> 56) : "ab c\n1xyz<tool>\t"[(seed >> 50) % 16]);
        }
        for (int t = 0; t < 2; t++) {
            int32_t *ids = NULL;
            size_t n = 0;
            slm_diag d = {0};
            slm_status st = slmrt_tok_encode_ex(t ? b : a, text, len, iter & 2, iter & 4, &ids, &n, &d);
            ck_assert(st == SLM_OK || st == SLM_ERR_INPUT);
            if (st == SLM_OK) {
                char *s = NULL;
                ck_assert(slmrt_tok_decode(t ? b : a, ids, n, &s, NULL, &d) == SLM_OK);
                free(s);
                free(ids);
            }
        }
    }
    slmrt_tok_free(a);
    slmrt_tok_free(b);
}
END_TEST

/* One tokenizer shared by several threads gives each the same ids (the
 * compiled regexes are shared; match data is per call). */
typedef struct thr_arg {
    const slmrt_tok *tk;
    int ok;
} thr_arg;

static const char *const THR_TEXTS[] = {"ab abc 12345 xyz", "a<tool>b\n!", "\xc3\xa9 \t\t abc  ", "abcabcab 1234567"};

static void *thr_main(void *p) {
    thr_arg *a = p;
    a->ok = 1;
    for (int it = 0; it < 500; it++) {
        const char *t = THR_TEXTS[it % 4];
        int32_t *ids = NULL, *ref = NULL;
        size_t n = 0, nr = 0;
        slm_diag d = {0};
        if (slmrt_tok_encode(a->tk, t, strlen(t), true, &ids, &n, &d) != SLM_OK ||
            slmrt_tok_encode(a->tk, t, strlen(t), true, &ref, &nr, &d) != SLM_OK || n != nr ||
            memcmp(ids, ref, n * sizeof *ids) != 0)
            a->ok = 0;
        free(ids);
        free(ref);
    }
    return NULL;
}

START_TEST(test_threads) {
    vocab v;
    bpe_vocab(&v, "llama-bpe");
    slmrt_tok *tk = tok_of(&v);
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){tk, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(args[i].ok, "thread %d saw different ids", i);
    }
    /* llama-3 keeps the space before digits apart, and " xyz" is not a token */
    expect_ids(tk, "ab abc 12345 xyz", true, false, IDS(7, 4, 5, 2, 3, 14, 11, 12, 13, 3));
    slmrt_tok_free(tk);
}
END_TEST

/* ------------------------------------------------------------- the CLI */

/* Runs slmrt_cmd_tokenize in this (forked) process with stdout and stderr
 * captured; returns the exit code. */
static int run_cmd(char *out, size_t cap, char *err, size_t ecap, int argc, char **argv) {
    char opath[4096], epath[4096];
    snprintf(opath, sizeof opath, "%s", ts_tmp("tok_out.txt"));
    snprintf(epath, sizeof epath, "%s", ts_tmp("tok_err.txt"));
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = slmrt_cmd_tokenize(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    char *o = ts_read_file(opath, NULL), *e = ts_read_file(epath, NULL);
    snprintf(out, cap, "%s", o ? o : "");
    snprintf(err, ecap, "%s", e ? e : "");
    free(o);
    free(e);
    return rc;
}

START_TEST(test_cli) {
    const char *spm = ts_shared("vocab/ggml-vocab-llama-spm.gguf");
    if (!spm) return;
    char path[4096];
    snprintf(path, sizeof path, "%s", spm);
    char out[4096], err[4096];
    {
        char *argv[] = {"tokenize", "-m", path, "-p", "Hello world", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 5, argv), 0);
        ck_assert_str_eq(out, "1 15043 3186\n");
    }
    {
        char *argv[] = {"tokenize", "--model", path, "--prompt", "Hello world", "--no-bos", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 6, argv), 0);
        ck_assert_str_eq(out, "15043 3186\n");
    }
    char tpath[4096];
    snprintf(tpath, sizeof tpath, "%s", ts_tmp("tok_text.txt"));
    ck_assert(ts_write_file(tpath, " Hello\n", 7) == 0);
    {
        char *argv[] = {"tokenize", "-m", path, "--text", tpath, "--no-bos", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 6, argv), 0);
        ck_assert_str_eq(out, "29871 15043 13\n");
    }
    ck_assert(ts_write_file(tpath, "a\xff", 2) == 0);
    {
        char *argv[] = {"tokenize", "-m", path, "--text", tpath, NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 5, argv), 3);
        ck_assert_msg(strstr(err, "slmrt: error:") && strstr(err, "byte offset 1"), "%s", err);
    }
    {
        char *argv[] = {"tokenize", "-m", path, NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 3, argv), 2);
    }
    {
        char *argv[] = {"tokenize", "-m", path, "-p", "x", "--text", tpath, NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 7, argv), 2);
    }
    {
        char *argv[] = {"tokenize", "-p", "x", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 3, argv), 2);
    }
    {
        char *argv[] = {"tokenize", "-m", path, "-p", "x", "--bogus", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 6, argv), 2);
    }
    {
        char *argv[] = {"tokenize", "-m", "/nonexistent/x.gguf", "-p", "x", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 5, argv), 4);
        ck_assert_msg(strstr(err, "slmrt: error:") && strstr(err, "/nonexistent/x.gguf"), "%s", err);
    }
    {
        char *argv[] = {"tokenize", "-m", path, "--text", "/nonexistent/t.txt", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 5, argv), 4);
    }
    {
        char *argv[] = {"tokenize", "--help", NULL};
        ck_assert_int_eq(run_cmd(out, sizeof out, err, sizeof err, 2, argv), 0);
        ck_assert_ptr_nonnull(strstr(out, "usage: slmrt tokenize"));
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("vocab");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_llama_spm_cases);
    tcase_add_test(tc, test_gpt2_cases);
    tcase_add_test(tc, test_llama_spm_roundtrip);
    tcase_add_test(tc, test_gpt2_roundtrip);
    tcase_add_test(tc, test_real_bos_rules);
    tcase_add_test(tc, test_real_random);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    tc = tcase_create("small");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_spm_small);
    tcase_add_test(tc, test_bpe_small);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_bad_vocab);
    tcase_add_test(tc, test_small_random);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
