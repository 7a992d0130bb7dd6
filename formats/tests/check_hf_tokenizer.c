/* check_hf_tokenizer.c - Hugging Face tokenizer.json / tokenizer_config.json
 * parsing into slm_tokenizer (byte-level BPE and SentencePiece-style BPE,
 * both merge formats, added tokens, config specials), the writer through
 * write -> parse round trips (hand-written and the real llama SPM and GPT-2
 * vocabularies in ../shared/vocab), and one test per kind of bad input. */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "slm_hf.h"
#include "test_support.h"

#define SP "\xe2\x96\x81" /* ▁ */
#define G "\xc4\xa0"      /* Ġ, GPT-2's byte-level space */

/* The Split regexes as HF writes them in tokenizer.json (JSON-escaped), kept
 * apart from the library's table on purpose. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+"
#define RE_LLAMA3                                                                                                   \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+" \
    "[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"
#define RE_QWEN2                                                                                                \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+" \
    "[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"

/* ---------------------------------------------------------- fixtures */

/* GPT-2 style: bare ByteLevel pre-tokenizer, string merges, one special and
 * one plain added token past the end of model.vocab. */
static const char BYTE_LEVEL_JSON[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
    "\"added_tokens\":["
    "{\"id\":7,\"content\":\"<|endoftext|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
    "\"normalized\":false,\"special\":true},"
    "{\"id\":8,\"content\":\"<tool>\",\"special\":false}],"
    "\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
    "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":\"\","
    "\"end_of_word_suffix\":\"\",\"fuse_unk\":false,\"byte_fallback\":false,"
    "\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"" G "\":3,\"ab\":4,\"" G "ab\":5,\"abc\":6},"
    "\"merges\":[\"a b\",\"" G " ab\",\"ab c\"]}}";

/* SentencePiece-style (Llama 2): byte_fallback, ▁ normalizer; <unk> <s> </s>
 * are in both model.vocab and added_tokens, as HF writes them. "▁ab" is made
 * by two merges, "xyz" by none. */
static const char SPM_JSON[] =
    "{\"version\":\"1.0\","
    "\"added_tokens\":["
    "{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
    "{\"id\":1,\"content\":\"<s>\",\"special\":true},"
    "{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"" SP "\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" SP "\"}]},"
    "\"pre_tokenizer\":null,"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"" SP "\"},"
    "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
    "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,"
    "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0x00>\":3,\"<0x0A>\":4,\"<0xFF>\":5,\"" SP "\":6,\"a\":7,"
    "\"b\":8,\"" SP "a\":9,\"ab\":10,\"" SP "ab\":11,\"ba\":12,\"xyz\":13,\"\xc3\xa9\":14,\"x\":15},"
    "\"merges\":[\"" SP " a\",\"a b\",\"" SP "a b\",\"" SP " ab\",\"b a\"]}}";

static const char SPM_CONFIG[] =
    "{\"add_bos_token\":true,\"add_eos_token\":false,\"bos_token\":\"<s>\",\"eos_token\":\"</s>\","
    "\"unk_token\":\"<unk>\",\"pad_token\":null,"
    "\"chat_template\":\"{% for m in messages %}{{ m['content'] }}{% endfor %}\","
    "\"tokenizer_class\":\"LlamaTokenizer\"}";

/* A byte-level tokenizer whose pre-tokenizer is a Split with `regex`
 * (JSON-escaped), pair merges, and a post-processor that adds BOS. */
static char *byte_level_split_json(const char *regex) {
    static const char fmt[] =
        "{\"added_tokens\":[{\"id\":5,\"content\":\"<|begin_of_text|>\",\"special\":true},"
        "{\"id\":6,\"content\":\"<|end_of_text|>\",\"special\":true}],"
        "\"normalizer\":null,"
        "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
        "\"%s\"},\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
        "\"trim_offsets\":true,\"use_regex\":false}]},"
        "\"post_processor\":{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"add_prefix_space\":true,"
        "\"trim_offsets\":false,\"use_regex\":true},{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":"
        "{\"id\":\"<|begin_of_text|>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],"
        "\"special_tokens\":{}}]},"
        "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
        "\"model\":{\"type\":\"BPE\",\"ignore_merges\":true,\"vocab\":{\"h\":0,\"i\":1,\"hi\":2,\"" G "\":3,\"" G
        "hi\":4},\"merges\":[[\"h\",\"i\"],[\"" G "\",\"hi\"]]}}";
    size_t n = sizeof fmt + strlen(regex);
    char *s = malloc(n);
    snprintf(s, n, fmt, regex);
    return s;
}

/* A minimal tokenizer.json around a model object body, for error cases. */
static char *with_model(const char *added, const char *model) {
    static const char fmt[] = "{\"added_tokens\":%s,\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{%s}}";
    size_t n = sizeof fmt + strlen(added) + strlen(model);
    char *s = malloc(n);
    snprintf(s, n, fmt, added, model);
    return s;
}

static slm_status parse(slm_model *m, const char *tok, const char *cfg, slm_diag *d) {
    return slm_hf_tokenizer_parse(m, tok, strlen(tok), cfg, cfg ? strlen(cfg) : 0, "dir/tokenizer.json", d);
}

static size_t utf8_chars(const slm_str *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->len; i++) n += ((unsigned char)s->s[i] & 0xC0) != 0x80;
    return n;
}

static void assert_str_eq_or_null(const char *a, const char *b) {
    if (!a || !b) ck_assert_ptr_eq(a, b);
    else ck_assert_str_eq(a, b);
}

/* Everything parse fills must agree. */
static void assert_tok_equal(const slm_tokenizer *a, const slm_tokenizer *b) {
    ck_assert_int_eq(a->kind, b->kind);
    assert_str_eq_or_null(a->model_name, b->model_name);
    assert_str_eq_or_null(a->pre, b->pre);
    ck_assert_uint_eq(a->n_tokens, b->n_tokens);
    for (uint32_t i = 0; i < a->n_tokens; i++) {
        ck_assert_uint_eq(a->tokens[i].len, b->tokens[i].len);
        ck_assert_mem_eq(a->tokens[i].s, b->tokens[i].s, a->tokens[i].len);
        ck_assert_int_eq(a->token_types[i], b->token_types[i]);
    }
    ck_assert_int_eq(a->scores == NULL, b->scores == NULL);
    for (uint32_t i = 0; a->scores && i < a->n_tokens; i++) {
        if (a->scores[i] != b->scores[i])
            ck_abort_msg("token %u \"%s\": score %g != %g", i, a->tokens[i].s, a->scores[i], b->scores[i]);
    }
    ck_assert_uint_eq(a->n_merges, b->n_merges);
    for (uint32_t i = 0; i < a->n_merges; i++) ck_assert_str_eq(a->merges[i].s, b->merges[i].s);
    ck_assert_int_eq(a->bos_id, b->bos_id);
    ck_assert_int_eq(a->eos_id, b->eos_id);
    ck_assert_int_eq(a->unk_id, b->unk_id);
    ck_assert_int_eq(a->pad_id, b->pad_id);
    ck_assert_int_eq(a->sep_id, b->sep_id);
    ck_assert_int_eq(a->add_bos, b->add_bos);
    ck_assert_int_eq(a->add_eos, b->add_eos);
    ck_assert_int_eq(a->add_space_prefix, b->add_space_prefix);
    assert_str_eq_or_null(a->chat_template, b->chat_template);
}

/* Writes m's tokenizer into a fresh folder and parses it back. */
static slm_model *write_and_parse(const slm_model *m, const char *name) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp(name));
    slm_diag d = {0};
    ck_assert_msg(slm_hf_tokenizer_write(m, dir, &d) == SLM_OK, "write: %s", d.msg);
    ck_assert_int_eq(ts_count_prefix(dir, "tokenizer.json.tmp"), 0);
    ck_assert_int_eq(ts_count_prefix(dir, "tokenizer_config.json.tmp"), 0);
    char tp[4200], cp[4200];
    snprintf(tp, sizeof tp, "%s/tokenizer.json", dir);
    snprintf(cp, sizeof cp, "%s/tokenizer_config.json", dir);
    size_t tl, cl;
    char *tok = ts_read_file(tp, &tl), *cfg = ts_read_file(cp, &cl);
    ck_assert_ptr_nonnull(tok);
    ck_assert_ptr_nonnull(cfg);
    slm_model *back = slm_model_new();
    ck_assert_msg(slm_hf_tokenizer_parse(back, tok, tl, cfg, cl, tp, &d) == SLM_OK, "re-parse: %s", d.msg);
    free(tok);
    free(cfg);
    return back;
}

static json_t *load_json(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", p, je.text);
    return j;
}

/* Expects parse to fail with `status` and a message holding every needle. */
static void expect_parse_error(const char *tok, const char *cfg, slm_status status, const char *const *needles) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_int_eq(parse(m, tok, cfg, &d), status);
    ck_assert_int_eq(d.status, status);
    for (const char *const *n = needles; *n; n++)
        ck_assert_msg(strstr(d.msg, *n) != NULL, "message \"%s\" lacks \"%s\"", d.msg, *n);
    /* a failed parse leaves the model's tokenizer alone */
    ck_assert_int_eq(m->tok.kind, SLM_TOK_NONE);
    ck_assert_uint_eq(m->tok.n_tokens, 0);
    slm_model_free(m);
}

/* --------------------------------------------------------- byte-level */

START_TEST(test_byte_level_string_merges) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, BYTE_LEVEL_JSON, NULL, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *t = &m->tok;
    ck_assert_int_eq(t->kind, SLM_TOK_BPE);
    ck_assert_str_eq(t->model_name, "gpt2");
    ck_assert_str_eq(t->pre, "gpt-2"); /* bare ByteLevel splits with GPT-2's regex */
    ck_assert_uint_eq(t->n_tokens, 9);
    ck_assert_str_eq(t->tokens[3].s, G);
    ck_assert_str_eq(t->tokens[5].s, G "ab");
    ck_assert_str_eq(t->tokens[7].s, "<|endoftext|>");
    ck_assert_str_eq(t->tokens[8].s, "<tool>");
    for (uint32_t i = 0; i < 7; i++) ck_assert_int_eq(t->token_types[i], SLM_TOKEN_NORMAL);
    ck_assert_int_eq(t->token_types[7], SLM_TOKEN_CONTROL);
    ck_assert_int_eq(t->token_types[8], SLM_TOKEN_USER_DEFINED);
    ck_assert_ptr_null(t->scores);
    ck_assert_uint_eq(t->n_merges, 3);
    ck_assert_str_eq(t->merges[0].s, "a b");
    ck_assert_str_eq(t->merges[1].s, G " ab");
    ck_assert_uint_eq(t->merges[1].len, strlen(G " ab"));
    ck_assert_str_eq(t->merges[2].s, "ab c");
    /* no config: nothing is guessed, not even from "<|endoftext|>" */
    ck_assert_int_eq(t->bos_id, -1);
    ck_assert_int_eq(t->eos_id, -1);
    ck_assert_int_eq(t->unk_id, -1);
    ck_assert_int_eq(t->pad_id, -1);
    ck_assert_int_eq(t->add_bos, -1);
    ck_assert_int_eq(t->add_eos, -1);
    ck_assert_int_eq(t->add_space_prefix, -1);
    ck_assert_ptr_null(t->chat_template);
    slm_model_free(m);
}
END_TEST

START_TEST(test_byte_level_pair_merges) {
    char *json = byte_level_split_json(RE_LLAMA3);
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, json, NULL, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *t = &m->tok;
    ck_assert_int_eq(t->kind, SLM_TOK_BPE);
    ck_assert_str_eq(t->pre, "llama-bpe");
    ck_assert_uint_eq(t->n_tokens, 7);
    ck_assert_uint_eq(t->n_merges, 2);
    ck_assert_str_eq(t->merges[0].s, "h i");
    ck_assert_str_eq(t->merges[1].s, G " hi");
    ck_assert_int_eq(t->token_types[5], SLM_TOKEN_CONTROL);
    ck_assert_int_eq(t->token_types[6], SLM_TOKEN_CONTROL);
    /* The config is absent, so the TemplateProcessing decides: BOS yes, EOS no.
     * The ids themselves still come only from a config. */
    ck_assert_int_eq(t->add_bos, 1);
    ck_assert_int_eq(t->add_eos, 0);
    ck_assert_int_eq(t->bos_id, -1);
    slm_model_free(m);
    free(json);
}
END_TEST

START_TEST(test_byte_level_pre_mapping) {
    static const struct {
        const char *regex, *pre;
    } cases[] = {
        {RE_GPT2, "gpt-2"},
        {RE_LLAMA3, "llama-bpe"},
        {RE_QWEN2, "qwen2"},
        {"\\\\p{N}+|[a-z]+", "default"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *json = byte_level_split_json(cases[i].regex);
        slm_model *m = slm_model_new();
        slm_diag d = {0};
        ck_assert_msg(parse(m, json, NULL, &d) == SLM_OK, "%s", d.msg);
        ck_assert_str_eq(m->tok.pre, cases[i].pre);
        slm_model_free(m);
        free(json);
    }
    /* A ByteLevel that does not split and no Split: llama.cpp's default. */
    static const char no_regex[] =
        "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":false},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}";
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, no_regex, NULL, &d) == SLM_OK, "%s", d.msg);
    ck_assert_str_eq(m->tok.pre, "default");
    ck_assert_uint_eq(m->tok.n_merges, 0);
    slm_model_free(m);
    /* Digits before a GPT-2 ByteLevel (SmolLM) is not GPT-2's split either */
    static const char digits[] =
        "{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\","
        "\"individual_digits\":true},{\"type\":\"ByteLevel\",\"use_regex\":true}]},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}";
    m = slm_model_new();
    ck_assert_msg(parse(m, digits, NULL, &d) == SLM_OK, "%s", d.msg);
    ck_assert_str_eq(m->tok.pre, "default");
    slm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- SPM */

START_TEST(test_spm_byte_fallback) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, SPM_JSON, NULL, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *t = &m->tok;
    ck_assert_int_eq(t->kind, SLM_TOK_SPM);
    ck_assert_str_eq(t->model_name, "llama");
    ck_assert_ptr_null(t->pre);
    ck_assert_uint_eq(t->n_tokens, 16);
    /* llama.cpp's SPM ranks merges by score, so no merge list is kept */
    ck_assert_uint_eq(t->n_merges, 0);
    ck_assert_ptr_null(t->merges);
    ck_assert_int_eq(t->add_space_prefix, 1);

    static const int32_t types[16] = {2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* "▁a" merge 0, "ab" merge 1, "▁ab" merge 2 (merge 3 makes it again and
     * does not count), "ba" merge 4 = third distinct token; "xyz" is made by
     * no merge: -(id); bytes, specials and single characters: 0. */
    static const float scores[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -2, -3, -4, -13, 0, 0};
    for (uint32_t i = 0; i < 16; i++) {
        ck_assert_msg(t->token_types[i] == types[i], "token %u \"%s\" type %d, expected %d", i, t->tokens[i].s,
                      t->token_types[i], types[i]);
        ck_assert_msg(t->scores[i] == scores[i], "token %u \"%s\" score %g, expected %g", i, t->tokens[i].s,
                      t->scores[i], scores[i]);
    }
    /* SPM defaults are not filled in without a config */
    ck_assert_int_eq(t->bos_id, -1);
    ck_assert_int_eq(t->eos_id, -1);
    ck_assert_int_eq(t->unk_id, -1);
    ck_assert_int_eq(t->add_bos, -1);
    slm_model_free(m);
}
END_TEST

START_TEST(test_spm_without_byte_fallback) {
    /* Metaspace pre-tokenizer (newer Llama/Mistral files), prepend "first" */
    static const char metaspace[] =
        "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"" SP "\",\"prepend_scheme\":\"first\","
        "\"split\":false},\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"" SP "\"},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"" SP "\":0,\"a\":1,\"" SP "a\":2},\"merges\":[\"" SP " a\"]}}";
    /* Replace only: spaces become ▁ but no leading ▁ is added */
    static const char replace_only[] =
        "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" SP "\"},"
        "\"model\":{\"type\":\"BPE\",\"byte_fallback\":false,\"vocab\":{\"" SP "\":0,\"a\":1},\"merges\":[]}}";
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, metaspace, NULL, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_SPM);
    ck_assert_int_eq(m->tok.add_space_prefix, 1);
    ck_assert_float_eq(m->tok.scores[2], -1.0f);
    slm_model_free(m);

    m = slm_model_new();
    ck_assert_msg(parse(m, replace_only, NULL, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(m->tok.kind, SLM_TOK_SPM);
    ck_assert_int_eq(m->tok.add_space_prefix, 0);
    slm_model_free(m);
}
END_TEST

/* ------------------------------------------------------ added tokens */

START_TEST(test_added_tokens) {
    /* Added tokens may repeat a vocabulary entry (same id and text), fill a
     * hole inside model.vocab's ids, or extend past its end. */
    char *json = with_model("[{\"id\":0,\"content\":\"<pad>\",\"special\":true},"
                            "{\"id\":2,\"content\":\"<sep>\",\"special\":true},"
                            "{\"id\":4,\"content\":\"<user>\",\"special\":false},"
                            "{\"id\":5,\"content\":\"<bot>\"}]",
                            "\"type\":\"BPE\",\"vocab\":{\"<pad>\":0,\"a\":1,\"b\":3},\"merges\":[]");
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, json, NULL, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *t = &m->tok;
    ck_assert_uint_eq(t->n_tokens, 6);
    static const char *const names[6] = {"<pad>", "a", "<sep>", "b", "<user>", "<bot>"};
    static const int32_t types[6] = {3, 1, 3, 1, 4, 4};
    for (uint32_t i = 0; i < 6; i++) {
        ck_assert_str_eq(t->tokens[i].s, names[i]);
        ck_assert_int_eq(t->token_types[i], types[i]);
    }
    slm_model_free(m);
    free(json);
}
END_TEST

/* ------------------------------------------------------------- config */

START_TEST(test_config_plain_strings) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, SPM_JSON, SPM_CONFIG, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *t = &m->tok;
    ck_assert_int_eq(t->bos_id, 1);
    ck_assert_int_eq(t->eos_id, 2);
    ck_assert_int_eq(t->unk_id, 0);
    ck_assert_int_eq(t->pad_id, -1); /* null means none */
    ck_assert_int_eq(t->sep_id, -1);
    ck_assert_int_eq(t->add_bos, 1);
    ck_assert_int_eq(t->add_eos, 0);
    ck_assert_str_eq(t->chat_template, "{% for m in messages %}{{ m['content'] }}{% endfor %}");
    slm_model_free(m);
}
END_TEST

START_TEST(test_config_content_objects) {
    static const char cfg[] =
        "{\"bos_token\":{\"__type\":\"AddedToken\",\"content\":\"<|endoftext|>\",\"lstrip\":false,"
        "\"normalized\":true,\"rstrip\":false,\"single_word\":false},"
        "\"eos_token\":{\"content\":\"<|endoftext|>\"},"
        "\"pad_token\":{\"content\":\"<tool>\"},"
        "\"sep_token\":\"" G "ab\","
        "\"add_eos_token\":true,"
        "\"chat_template\":[{\"name\":\"tool_use\",\"template\":\"T\"},{\"name\":\"default\",\"template\":\"D\"}]}";
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, BYTE_LEVEL_JSON, cfg, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *t = &m->tok;
    ck_assert_int_eq(t->bos_id, 7);
    ck_assert_int_eq(t->eos_id, 7);
    ck_assert_int_eq(t->pad_id, 8);
    ck_assert_int_eq(t->sep_id, 5);
    ck_assert_int_eq(t->unk_id, -1);
    ck_assert_int_eq(t->add_bos, -1); /* the config spoke about EOS only */
    ck_assert_int_eq(t->add_eos, 1);
    ck_assert_str_eq(t->chat_template, "D");
    slm_model_free(m);
}
END_TEST

/* -------------------------------------------------------- round trips */

START_TEST(test_round_trip_byte_level) {
    static const char cfg[] =
        "{\"bos_token\":\"<|endoftext|>\",\"eos_token\":\"<|endoftext|>\",\"pad_token\":\"<tool>\","
        "\"add_bos_token\":true,\"chat_template\":\"{{ bos_token }}\"}";
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, BYTE_LEVEL_JSON, cfg, &d) == SLM_OK, "%s", d.msg);
    slm_model *back = write_and_parse(m, "rt-bpe");
    assert_tok_equal(&m->tok, &back->tok);

    /* what HF sees: byte-level pipeline, the GPT-2 Split, BOS added */
    const char *dir = ts_tmp("rt-bpe");
    json_t *tj = load_json(dir, "tokenizer.json");
    json_t *pre = json_object_get(tj, "pre_tokenizer");
    ck_assert_str_eq(json_string_value(json_object_get(pre, "type")), "Sequence");
    json_t *split = json_array_get(json_object_get(pre, "pretokenizers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(split, "type")), "Split");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(split, "pattern"), "Regex")),
                     "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(tj, "decoder"), "type")), "ByteLevel");
    json_t *model = json_object_get(tj, "model");
    ck_assert(json_is_false(json_object_get(model, "byte_fallback")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(model, "vocab"), "<tool>")), 8);
    json_t *procs = json_object_get(json_object_get(tj, "post_processor"), "processors");
    json_t *single = json_object_get(json_array_get(procs, 1), "single");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_array_get(single, 0), "SpecialToken"), "id")),
        "<|endoftext|>");
    json_decref(tj);
    json_t *cj = load_json(dir, "tokenizer_config.json");
    ck_assert_str_eq(json_string_value(json_object_get(cj, "bos_token")), "<|endoftext|>");
    ck_assert(json_is_true(json_object_get(cj, "add_bos_token")));
    ck_assert_ptr_null(json_object_get(cj, "add_eos_token")); /* absent stays absent */
    json_decref(cj);
    slm_model_free(back);
    slm_model_free(m);
}
END_TEST

/* A tokenizer as a GGUF reader would leave it, for each pre value. */
START_TEST(test_round_trip_pre_values) {
    static const char *const pres[] = {"gpt-2", "llama-bpe", "qwen2", "default"};
    for (size_t k = 0; k < sizeof pres / sizeof *pres; k++) {
        slm_model *m = slm_model_new();
        slm_tokenizer *t = &m->tok;
        static const char *const toks[] = {"<unk>", "h", "i", "hi", G, G "hi", "<|eot|>", "<x y>"};
        static const int32_t types[] = {2, 1, 1, 1, 1, 1, 3, 4};
        t->kind = SLM_TOK_BPE;
        t->model_name = slm_model_strdup(m, "gpt2");
        t->pre = slm_model_strdup(m, pres[k]);
        t->n_tokens = 8;
        t->tokens = slm_model_alloc(m, 8 * sizeof *t->tokens);
        t->token_types = slm_model_alloc(m, 8 * sizeof *t->token_types);
        for (int i = 0; i < 8; i++) {
            t->tokens[i] = (slm_str){slm_model_strdup(m, toks[i]), strlen(toks[i])};
            t->token_types[i] = types[i];
        }
        t->n_merges = 2;
        t->merges = slm_model_alloc(m, 2 * sizeof *t->merges);
        t->merges[0] = (slm_str){slm_model_strdup(m, "h i"), 3};
        t->merges[1] = (slm_str){slm_model_strdup(m, G " hi"), strlen(G " hi")};
        t->unk_id = 0;
        t->eos_id = 6;
        t->sep_id = 7;
        t->add_bos = 0;
        t->add_eos = 1;
        slm_model *back = write_and_parse(m, "rt-pre");
        assert_tok_equal(&m->tok, &back->tok);
        slm_model_free(back);
        slm_model_free(m);
    }
}
END_TEST

START_TEST(test_round_trip_spm) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    ck_assert_msg(parse(m, SPM_JSON, SPM_CONFIG, &d) == SLM_OK, "%s", d.msg);
    slm_model *back = write_and_parse(m, "rt-spm");
    assert_tok_equal(&m->tok, &back->tok); /* scores included, exactly */

    json_t *tj = load_json(ts_tmp("rt-spm"), "tokenizer.json");
    json_t *model = json_object_get(tj, "model");
    ck_assert(json_is_true(json_object_get(model, "byte_fallback")));
    ck_assert_str_eq(json_string_value(json_object_get(model, "unk_token")), "<unk>");
    json_t *norms = json_object_get(json_object_get(tj, "normalizer"), "normalizers");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(norms, 0), "type")), "Prepend");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(norms, 0), "prepend")), SP);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(norms, 1), "type")), "Replace");
    json_t *decs = json_object_get(json_object_get(tj, "decoder"), "decoders");
    static const char *const dec_types[] = {"Replace", "ByteFallback", "Fuse", "Strip"};
    ck_assert_uint_eq(json_array_size(decs), 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(decs, i), "type")), dec_types[i]);
    /* every split of a merged token is listed, in score order; "xyz" gets none */
    json_t *merges = json_object_get(model, "merges");
    static const char *const want[] = {SP " a", "a b", SP " ab", SP "a b", "b a"};
    ck_assert_uint_eq(json_array_size(merges), 5);
    for (size_t i = 0; i < 5; i++) ck_assert_str_eq(json_string_value(json_array_get(merges, i)), want[i]);
    json_decref(tj);
    slm_model_free(back);
    slm_model_free(m);
}
END_TEST

/* Scores the parser did not produce (SentencePiece's own) keep their order
 * among mergeable tokens, which is what llama.cpp's SPM tokenizer uses. */
START_TEST(test_round_trip_spm_foreign_scores) {
    slm_model *m = slm_model_new();
    slm_tokenizer *t = &m->tok;
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "<0x41>", SP, "a", "b", "c",
                                       "ab",    "bc",  SP "a", "abc",    SP SP, "zz"};
    static const int32_t types[] = {2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* "▁▁" last like Llama's -1e9 pieces; "abc" above "bc"; chars nonzero */
    static const float scores[] = {0, 0, 0, 0, -100, -101, -102, -103, -5, -7, -6, -6.5f, -1e9f, -3};
    enum { N = sizeof toks / sizeof *toks };
    t->kind = SLM_TOK_SPM;
    t->model_name = slm_model_strdup(m, "llama");
    t->n_tokens = N;
    t->tokens = slm_model_alloc(m, N * sizeof *t->tokens);
    t->token_types = slm_model_alloc(m, N * sizeof *t->token_types);
    t->scores = slm_model_alloc(m, N * sizeof *t->scores);
    for (int i = 0; i < N; i++) {
        t->tokens[i] = (slm_str){slm_model_strdup(m, toks[i]), strlen(toks[i])};
        t->token_types[i] = types[i];
        t->scores[i] = scores[i];
    }
    t->bos_id = 1, t->eos_id = 2, t->unk_id = 0, t->add_bos = 1;
    slm_model *back = write_and_parse(m, "rt-spm-foreign");
    const slm_tokenizer *b = &back->tok;
    ck_assert_uint_eq(b->n_tokens, N);
    for (int i = 0; i < N; i++) ck_assert_int_eq(b->token_types[i], types[i]);
    /* mergeable: ab(-5) ▁a(-6) abc(-6.5) bc(-7) ▁▁(-1e9) -> ranks 1..5 */
    ck_assert_float_eq(b->scores[8], -1.0f);
    ck_assert_float_eq(b->scores[10], -2.0f);
    ck_assert_float_eq(b->scores[11], -3.0f);
    ck_assert_float_eq(b->scores[9], -4.0f);
    ck_assert_float_eq(b->scores[12], -5.0f);
    ck_assert_float_eq(b->scores[13], -13.0f); /* "zz" splits into nothing */
    ck_assert_float_eq(b->scores[5], 0.0f);    /* characters only start merges */
    ck_assert_int_eq(b->bos_id, 1);
    ck_assert_int_eq(b->add_bos, 1);
    ck_assert_int_eq(b->add_space_prefix, 1); /* absent: written as llama.cpp's default */
    /* and from there on the round trip is exact */
    slm_model *again = write_and_parse(back, "rt-spm-foreign2");
    assert_tok_equal(&back->tok, &again->tok);
    slm_model_free(again);
    slm_model_free(back);
    slm_model_free(m);
}
END_TEST

START_TEST(test_round_trip_real_gpt2) {
    const char *path = ts_shared("vocab/ggml-vocab-gpt-2.gguf");
    if (!path) return;
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(path, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(m->tok.n_tokens, 50257);
    slm_model *back = write_and_parse(m, "rt-gpt2");
    const slm_tokenizer *a = &m->tok, *b = &back->tok;
    ck_assert_int_eq(b->kind, SLM_TOK_BPE);
    ck_assert_str_eq(b->pre, "gpt-2");
    ck_assert_uint_eq(b->n_tokens, a->n_tokens);
    for (uint32_t i = 0; i < a->n_tokens; i++) {
        ck_assert_str_eq(b->tokens[i].s, a->tokens[i].s);
        ck_assert_int_eq(b->token_types[i], a->token_types[i]);
    }
    ck_assert_uint_eq(b->n_merges, a->n_merges);
    for (uint32_t i = 0; i < a->n_merges; i++) ck_assert_str_eq(b->merges[i].s, a->merges[i].s);
    ck_assert_int_eq(b->bos_id, 50256);
    ck_assert_int_eq(b->eos_id, 50256);
    slm_model_free(back);
    slm_model_free(m);
}
END_TEST

START_TEST(test_round_trip_real_llama_spm) {
    const char *path = ts_shared("vocab/ggml-vocab-llama-spm.gguf");
    if (!path) return;
    slm_model *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(path, &m, &d) == SLM_OK, "%s", d.msg);
    const slm_tokenizer *a = &m->tok;
    ck_assert_uint_eq(a->n_tokens, 32000);
    slm_model *back = write_and_parse(m, "rt-llama");
    const slm_tokenizer *b = &back->tok;
    ck_assert_int_eq(b->kind, SLM_TOK_SPM);
    ck_assert_uint_eq(b->n_tokens, a->n_tokens);
    for (uint32_t i = 0; i < a->n_tokens; i++) {
        ck_assert_str_eq(b->tokens[i].s, a->tokens[i].s);
        ck_assert_int_eq(b->token_types[i], a->token_types[i]);
    }
    ck_assert_int_eq(b->bos_id, 1);
    ck_assert_int_eq(b->eos_id, 2);
    ck_assert_int_eq(b->add_bos, 1);
    ck_assert_int_eq(b->add_eos, 0);
    /* Llama's first pieces score -(id-259) and every one is mergeable, so the
     * merge order gives those very scores back. */
    for (uint32_t id = 260; id < 268; id++) ck_assert_float_eq(b->scores[id], a->scores[id]);
    /* Merged tokens (scores that are not -(id)) keep SentencePiece's order. */
    uint32_t prev = 0, n_merged = 0, n_multi = 0;
    for (uint32_t id = 0; id < a->n_tokens; id++)
        n_multi += a->token_types[id] == SLM_TOKEN_NORMAL && utf8_chars(&a->tokens[id]) > 1;
    for (uint32_t id = 3; id < a->n_tokens; id++) {
        if (b->token_types[id] != SLM_TOKEN_NORMAL || b->scores[id] == 0.0f || b->scores[id] == -(float)id) continue;
        if (n_merged++ && a->scores[prev] != a->scores[id]) {
            bool a_before = a->scores[prev] > a->scores[id], b_before = b->scores[prev] > b->scores[id];
            ck_assert_msg(a_before == b_before, "order of \"%s\" and \"%s\" changed", a->tokens[prev].s,
                          a->tokens[id].s);
        }
        prev = id;
    }
    /* every multi-character Llama piece splits into two pieces, so all merge */
    ck_assert_uint_eq(n_merged, n_multi);
    /* the parser's scores survive another trip exactly */
    slm_model *again = write_and_parse(back, "rt-llama2");
    assert_tok_equal(&back->tok, &again->tok);
    slm_model_free(again);
    slm_model_free(back);
    slm_model_free(m);
}
END_TEST

/* ------------------------------------------------------------- errors */

START_TEST(test_error_bad_json) {
    expect_parse_error("{\"model\": {\"type\": \"BPE\",", NULL, SLM_ERR_INPUT,
                       (const char *const[]){"dir/tokenizer.json", "invalid JSON", NULL});
    expect_parse_error("[1, 2]", NULL, SLM_ERR_INPUT, (const char *const[]){"expected a JSON object", NULL});
}
END_TEST

START_TEST(test_error_bad_config_json) {
    expect_parse_error(SPM_JSON, "{\"bos_token\": ", SLM_ERR_INPUT,
                       (const char *const[]){"dir/tokenizer_config.json", "invalid JSON", NULL});
}
END_TEST

START_TEST(test_error_wordpiece) {
    expect_parse_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}", NULL, SLM_ERR_UNSUPPORTED,
                       (const char *const[]){"dir/tokenizer.json", "model.type",
                                             "unsupported tokenizer model WordPiece, expected BPE", NULL});
}
END_TEST

START_TEST(test_error_vocab_gap) {
    /* an id past what the entries can fill */
    char *json = with_model("[]", "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":2},\"merges\":[]");
    expect_parse_error(json, NULL, SLM_ERR_INPUT,
                       (const char *const[]){"model.vocab[\"b\"]", "id 2", "dense", NULL});
    free(json);
    /* a hole that no added token fills */
    json = with_model("[{\"id\":0,\"content\":\"a\",\"special\":true}]",
                      "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"c\":2},\"merges\":[]");
    expect_parse_error(json, NULL, SLM_ERR_INPUT,
                       (const char *const[]){"id 1 is in neither model.vocab nor added_tokens", NULL});
    free(json);
}
END_TEST

START_TEST(test_error_vocab_duplicate) {
    char *json = with_model("[]", "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]");
    expect_parse_error(json, NULL, SLM_ERR_INPUT,
                       (const char *const[]){"model.vocab", "\"a\" and \"b\" both have id 0", NULL});
    free(json);
    /* an added token taking an id model.vocab gives another string */
    json = with_model("[{\"id\":1,\"content\":\"<x>\",\"special\":true}]",
                      "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]");
    expect_parse_error(json, NULL, SLM_ERR_INPUT,
                       (const char *const[]){"added_tokens[0]", "id 1 is \"b\" already", NULL});
    free(json);
    /* the same string under two ids */
    json = with_model("[{\"id\":2,\"content\":\"a\",\"special\":true}]",
                      "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]");
    expect_parse_error(json, NULL, SLM_ERR_INPUT, (const char *const[]){"\"a\" has two ids, 0 and 2", NULL});
    free(json);
    /* a key twice in model.vocab */
    json = with_model("[]", "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"a\":1},\"merges\":[]");
    expect_parse_error(json, NULL, SLM_ERR_INPUT, (const char *const[]){"invalid JSON", "duplicate", NULL});
    free(json);
}
END_TEST

START_TEST(test_error_merges_wrong_type) {
    static const char *const bodies[] = {
        "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":{\"a b\":0}",
        "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[42]",
        "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"ab\"]",
        "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[[\"a\",\"b\",\"c\"]]",
        "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\",[\"a\",1]]",
    };
    static const char *const where[] = {"model.merges: expected an array", "model.merges[0]", "model.merges[0]",
                                        "model.merges[0]", "model.merges[1]"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        char *json = with_model("[]", bodies[i]);
        expect_parse_error(json, NULL, SLM_ERR_INPUT, (const char *const[]){"dir/tokenizer.json", where[i], NULL});
        free(json);
    }
}
END_TEST

START_TEST(test_error_merge_unknown_token) {
    char *json = with_model("[]", "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\",\"b a\"]");
    expect_parse_error(json, NULL, SLM_ERR_INPUT,
                       (const char *const[]){"model.merges[1]", "\"ba\" is not a token", NULL});
    free(json);
}
END_TEST

START_TEST(test_error_bos_unknown_token) {
    expect_parse_error(SPM_JSON, "{\"bos_token\":\"<nope>\"}", SLM_ERR_INPUT,
                       (const char *const[]){"dir/tokenizer_config.json", "bos_token", "\"<nope>\"", NULL});
    expect_parse_error(SPM_JSON, "{\"eos_token\":{\"content\":\"<nope>\"}}", SLM_ERR_INPUT,
                       (const char *const[]){"eos_token", "\"<nope>\"", NULL});
    expect_parse_error(SPM_JSON, "{\"pad_token\":{\"id\":3}}", SLM_ERR_INPUT,
                       (const char *const[]){"pad_token", "\"content\"", NULL});
    expect_parse_error(SPM_JSON, "{\"add_bos_token\":\"yes\"}", SLM_ERR_INPUT,
                       (const char *const[]){"add_bos_token", "true or false", NULL});
}
END_TEST

START_TEST(test_error_not_bpe_family) {
    /* a BPE model with neither byte-level nor SentencePiece markers */
    expect_parse_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", NULL, SLM_ERR_UNSUPPORTED,
                       (const char *const[]){"neither byte-level", NULL});
}
END_TEST

START_TEST(test_write_errors) {
    slm_model *m = slm_model_new();
    slm_diag d = {0};
    const char *dir = ts_tmp("wr-err");
    ck_assert_int_eq(slm_hf_tokenizer_write(m, dir, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(d.msg, "cannot be written"));

    /* duplicate strings would collapse in model.vocab */
    slm_tokenizer *t = &m->tok;
    t->kind = SLM_TOK_BPE;
    t->n_tokens = 2;
    t->tokens = slm_model_alloc(m, 2 * sizeof *t->tokens);
    t->tokens[0] = (slm_str){slm_model_strdup(m, "a"), 1};
    t->tokens[1] = (slm_str){slm_model_strdup(m, "a"), 1};
    slm_diag_clear(&d);
    ck_assert_int_eq(slm_hf_tokenizer_write(m, dir, &d), SLM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "two ids"));

    /* a merge naming a token that does not exist */
    t->tokens[1] = (slm_str){slm_model_strdup(m, "b"), 1};
    t->n_merges = 1;
    t->merges = slm_model_alloc(m, sizeof *t->merges);
    t->merges[0] = (slm_str){slm_model_strdup(m, "a b"), 3};
    slm_diag_clear(&d);
    ck_assert_int_eq(slm_hf_tokenizer_write(m, dir, &d), SLM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "merge 0"));
    ck_assert_int_eq(ts_file_exists(ts_tmp("wr-err/tokenizer.json")), 0);
    slm_model_free(m);
}
END_TEST

static Suite *hf_tokenizer_suite(void) {
    Suite *s = suite_create("hf_tokenizer");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_byte_level_string_merges);
    tcase_add_test(tc, test_byte_level_pair_merges);
    tcase_add_test(tc, test_byte_level_pre_mapping);
    tcase_add_test(tc, test_spm_byte_fallback);
    tcase_add_test(tc, test_spm_without_byte_fallback);
    tcase_add_test(tc, test_added_tokens);
    tcase_add_test(tc, test_config_plain_strings);
    tcase_add_test(tc, test_config_content_objects);
    suite_add_tcase(s, tc);

    tc = tcase_create("round_trip");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip_byte_level);
    tcase_add_test(tc, test_round_trip_pre_values);
    tcase_add_test(tc, test_round_trip_spm);
    tcase_add_test(tc, test_round_trip_spm_foreign_scores);
    tcase_add_test(tc, test_round_trip_real_gpt2);
    tcase_add_test(tc, test_round_trip_real_llama_spm);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_error_bad_json);
    tcase_add_test(tc, test_error_bad_config_json);
    tcase_add_test(tc, test_error_wordpiece);
    tcase_add_test(tc, test_error_vocab_gap);
    tcase_add_test(tc, test_error_vocab_duplicate);
    tcase_add_test(tc, test_error_merges_wrong_type);
    tcase_add_test(tc, test_error_merge_unknown_token);
    tcase_add_test(tc, test_error_bos_unknown_token);
    tcase_add_test(tc, test_error_not_bpe_family);
    tcase_add_test(tc, test_write_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(hf_tokenizer_suite());
}
