/* slm_llama2c.c - llama2.c "version 0" checkpoints and tokenizer.bin
 * (formats.md §5), read the way llama.cpp's convert-llama2c-to-ggml reads
 * them so that our model matches its GGUF tensor for tensor.
 *
 * Checkpoint layout (little-endian):
 *   offset  size            field
 *   0       7 x int32       dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *                           vocab_size (< 0: separate classifier), seq_len
 *   28      f32 arrays      token_embedding (V, dim), rms_att (L, dim),
 *                           wq (L, dim, dim), wk (L, kv_dim, dim),
 *                           wv (L, kv_dim, dim), wo (L, dim, dim),
 *                           rms_ffn (L, dim), w1 (L, hidden, dim),
 *                           w2 (L, dim, hidden), w3 (L, hidden, dim),
 *                           rms_final (dim), freq_cis (seq_len, hd)
 *                           [, wcls (V, dim) when separate]
 * Each (out, in) matrix is ggml ne [in, out] byte for byte, so every tensor
 * is borrowed straight from the memory map. */
#include "slm_llama2c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"

#define L2C_HEADER_BYTES 28

/* Limits far above any llama2.c model; they keep every size computation
 * below 2^62 so that a hostile header cannot overflow it. */
#define L2C_MAX_DIM (1 << 16)
#define L2C_MAX_HIDDEN (1 << 20)
#define L2C_MAX_LAYERS 512
#define L2C_MAX_VOCAB (1 << 22)
#define L2C_MAX_SEQ (1 << 22)

typedef struct l2c_config {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} l2c_config;

/* Derived sizes, all in floats except the byte totals. */
typedef struct l2c_layout {
    uint64_t vocab, kv_dim, head_dim;
    bool shared;              /* classifier shared with the token embedding */
    uint64_t size_shared;     /* file bytes implied with a shared classifier */
    uint64_t size_separate;   /* ... and with a separate one */
} l2c_layout;

static int32_t read_i32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t s;
    memcpy(&s, &v, sizeof s);
    return s;
}

static float read_f32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static void parse_header(const unsigned char *p, l2c_config *c) {
    c->dim = read_i32(p);
    c->hidden_dim = read_i32(p + 4);
    c->n_layers = read_i32(p + 8);
    c->n_heads = read_i32(p + 12);
    c->n_kv_heads = read_i32(p + 16);
    c->vocab_size = read_i32(p + 20);
    c->seq_len = read_i32(p + 24);
}

static slm_status check_range(const char *path, const char *field, int32_t v, int32_t max, slm_diag *d) {
    if (v <= 0 || v > max)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: llama2.c header field %s is %d, expected 1..%d", path, field,
                            (int)v, (int)max);
    return SLM_OK;
}

/* Validates the header and computes the sizes it implies. `d` may be NULL
 * (sniffing). */
static slm_status layout_from_config(const char *path, const l2c_config *c, l2c_layout *lay, slm_diag *d) {
    slm_status st;
    if ((st = check_range(path, "dim", c->dim, L2C_MAX_DIM, d)) != SLM_OK) return st;
    if ((st = check_range(path, "hidden_dim", c->hidden_dim, L2C_MAX_HIDDEN, d)) != SLM_OK) return st;
    if ((st = check_range(path, "n_layers", c->n_layers, L2C_MAX_LAYERS, d)) != SLM_OK) return st;
    if ((st = check_range(path, "n_heads", c->n_heads, c->dim, d)) != SLM_OK) return st;
    if ((st = check_range(path, "n_kv_heads", c->n_kv_heads, c->n_heads, d)) != SLM_OK) return st;
    if ((st = check_range(path, "seq_len", c->seq_len, L2C_MAX_SEQ, d)) != SLM_OK) return st;
    if (c->vocab_size == 0 || c->vocab_size < -L2C_MAX_VOCAB || c->vocab_size > L2C_MAX_VOCAB)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: llama2.c header field vocab_size is %d, expected 1..%d (shared classifier) "
                            "or -%d..-1 (separate classifier)",
                            path, (int)c->vocab_size, L2C_MAX_VOCAB, L2C_MAX_VOCAB);
    if (c->dim % c->n_heads)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: llama2.c dim %d is not a multiple of n_heads %d", path,
                            (int)c->dim, (int)c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: llama2.c n_heads %d is not a multiple of n_kv_heads %d", path,
                            (int)c->n_heads, (int)c->n_kv_heads);
    uint64_t dim = (uint64_t)c->dim, hidden = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    lay->shared = c->vocab_size > 0;
    lay->vocab = lay->shared ? (uint64_t)c->vocab_size : (uint64_t)(-(int64_t)c->vocab_size);
    lay->head_dim = dim / (uint64_t)c->n_heads;
    lay->kv_dim = dim / ((uint64_t)c->n_heads / (uint64_t)c->n_kv_heads);
    uint64_t floats = lay->vocab * dim          /* token_embedding */
                      + L * dim * 2             /* rms_att, rms_ffn */
                      + L * dim * dim * 2       /* wq, wo */
                      + L * lay->kv_dim * dim * 2 /* wk, wv */
                      + L * hidden * dim * 3    /* w1, w2, w3 */
                      + dim                     /* rms_final */
                      + (uint64_t)c->seq_len * lay->head_dim; /* freq_cis real + imag */
    lay->size_shared = L2C_HEADER_BYTES + floats * 4;
    lay->size_separate = lay->size_shared + lay->vocab * dim * 4;
    return SLM_OK;
}

bool slm_llama2c_sniff(const void *data, size_t size) {
    if (!data || size < L2C_HEADER_BYTES) return false;
    l2c_config c;
    l2c_layout lay = {0};
    parse_header(data, &c);
    if (layout_from_config("", &c, &lay, NULL) != SLM_OK) return false;
    return (uint64_t)size == (lay.shared ? lay.size_shared : lay.size_separate);
}

/* ------------------------------------------------------------- tensors */

/* Walks the checkpoint's arrays in file order. */
typedef struct l2c_cursor {
    const unsigned char *base;
    uint64_t off;
} l2c_cursor;

static const void *take(l2c_cursor *cur, uint64_t n_floats) {
    const void *p = cur->base + cur->off;
    cur->off += n_floats * 4;
    return p;
}

static slm_status add_borrowed(slm_model *m, const char *name, int n_dims, int64_t ne0, int64_t ne1,
                               const void *data, slm_diag *d) {
    int64_t ne[2] = {ne0, ne1};
    slm_tensor *t;
    slm_status st = slm_model_add_tensor(m, name, SLM_TYPE_F32, n_dims, ne, &t, d);
    if (st != SLM_OK) return st;
    t->src = data;
    t->data = data;
    return SLM_OK;
}

/* Where each per-layer array starts; layer i's slice is base + i * stride. */
typedef struct l2c_arrays {
    const unsigned char *tok_embd, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
} l2c_arrays;

static void locate_arrays(const unsigned char *base, const l2c_config *c, const l2c_layout *lay, l2c_arrays *a) {
    uint64_t dim = (uint64_t)c->dim, hidden = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    l2c_cursor cur = {base, L2C_HEADER_BYTES};
    a->tok_embd = take(&cur, lay->vocab * dim);
    a->rms_att = take(&cur, L * dim);
    a->wq = take(&cur, L * dim * dim);
    a->wk = take(&cur, L * lay->kv_dim * dim);
    a->wv = take(&cur, L * lay->kv_dim * dim);
    a->wo = take(&cur, L * dim * dim);
    a->rms_ffn = take(&cur, L * dim);
    a->w1 = take(&cur, L * hidden * dim);
    a->w2 = take(&cur, L * dim * hidden);
    a->w3 = take(&cur, L * hidden * dim);
    a->rms_final = take(&cur, dim);
    take(&cur, (uint64_t)c->seq_len * lay->head_dim); /* freq_cis: llama.cpp recomputes RoPE */
    a->wcls = lay->shared ? NULL : take(&cur, lay->vocab * dim);
}

/* Adds the tensors in the order llama.cpp's converter writes them. */
static slm_status add_tensors(slm_model *m, const l2c_config *c, const l2c_layout *lay, const l2c_arrays *a,
                              slm_diag *d) {
    int64_t dim = c->dim, hidden = c->hidden_dim, kv = (int64_t)lay->kv_dim, V = (int64_t)lay->vocab;
    slm_status st;
    if ((st = add_borrowed(m, "token_embd.weight", 2, dim, V, a->tok_embd, d)) != SLM_OK) return st;
    if ((st = add_borrowed(m, "output_norm.weight", 1, dim, 1, a->rms_final, d)) != SLM_OK) return st;
    if (a->wcls && (st = add_borrowed(m, "output.weight", 2, dim, V, a->wcls, d)) != SLM_OK) return st;
    for (int32_t i = 0; i < c->n_layers; i++) {
        size_t li = (size_t)i;
        struct {
            const char *suffix;
            int n_dims;
            int64_t ne0, ne1;
            const unsigned char *data;
        } layer[] = {
            {"attn_q", 2, dim, dim, a->wq + li * (size_t)(dim * dim) * 4},
            {"attn_k", 2, dim, kv, a->wk + li * (size_t)(kv * dim) * 4},
            {"attn_v", 2, dim, kv, a->wv + li * (size_t)(kv * dim) * 4},
            {"attn_output", 2, dim, dim, a->wo + li * (size_t)(dim * dim) * 4},
            {"attn_norm", 1, dim, 1, a->rms_att + li * (size_t)dim * 4},
            {"ffn_gate", 2, dim, hidden, a->w1 + li * (size_t)(hidden * dim) * 4},
            {"ffn_down", 2, hidden, dim, a->w2 + li * (size_t)(hidden * dim) * 4},
            {"ffn_up", 2, dim, hidden, a->w3 + li * (size_t)(hidden * dim) * 4},
            {"ffn_norm", 1, dim, 1, a->rms_ffn + li * (size_t)dim * 4},
        };
        for (size_t k = 0; k < sizeof layer / sizeof layer[0]; k++) {
            char name[SLM_MAX_NAME];
            snprintf(name, sizeof name, "blk.%d.%s.weight", (int)i, layer[k].suffix);
            st = add_borrowed(m, name, layer[k].n_dims, layer[k].ne0, layer[k].ne1, layer[k].data, d);
            if (st != SLM_OK) return st;
        }
    }
    return SLM_OK;
}

/* The keys convert-llama2c-to-ggml writes (it has no rope.freq_base). */
static slm_status set_hparams(slm_model *m, const l2c_config *c, const l2c_layout *lay) {
    slm_hparams *hp = &m->hp;
    snprintf(hp->arch, sizeof hp->arch, "llama");
    hp->n_ctx = (uint32_t)c->seq_len;
    hp->n_embd = (uint32_t)c->dim;
    hp->n_ff = (uint32_t)c->hidden_dim;
    hp->n_layer = (uint32_t)c->n_layers;
    hp->n_head = (uint32_t)c->n_heads;
    hp->n_head_kv = (uint32_t)c->n_kv_heads;
    hp->n_rot = (uint32_t)lay->head_dim;
    hp->key_length = hp->value_length = (uint32_t)lay->head_dim;
    hp->n_vocab = (uint32_t)lay->vocab;
    hp->rms_eps = 1e-5f;
    hp->rope_freq_base = 10000.0f;
    hp->has = SLM_HP_HEAD_COUNT_KV | SLM_HP_ROPE_DIM | SLM_HP_RMS_EPS;
    return slm_model_set_str(m, "general.name", "llama");
}

slm_status slm_llama2c_read(const char *path, const char *tokenizer_path, slm_model **out, slm_diag *d) {
    *out = NULL;
    const void *map;
    size_t size;
    slm_status st = slm_file_map(path, &map, &size, d);
    if (st != SLM_OK) return st;
    slm_model *m = slm_model_new();
    if (!m) {
        slm_file_unmap(map, size);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    /* From here the model owns the map. */
    if (slm_model_add_input(m, path, (void *)map, size) != SLM_OK) {
        slm_file_unmap(map, size);
        slm_model_free(m);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    if (size < L2C_HEADER_BYTES) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: file is %zu bytes, too short for the %d-byte llama2.c header", path,
                          size, L2C_HEADER_BYTES);
        goto fail;
    }
    l2c_config c;
    l2c_layout lay = {0};
    parse_header(map, &c);
    if ((st = layout_from_config(path, &c, &lay, d)) != SLM_OK) goto fail;
    uint64_t want = lay.shared ? lay.size_shared : lay.size_separate;
    if ((uint64_t)size != want) {
        st = slm_diag_set(d, SLM_ERR_INPUT,
                          "%s: file is %zu bytes, but the llama2.c header (dim %d, hidden_dim %d, n_layers %d, "
                          "n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d) implies %llu bytes with a shared "
                          "classifier (vocab_size > 0) or %llu bytes with a separate one (vocab_size < 0); this "
                          "header says %s",
                          path, size, (int)c.dim, (int)c.hidden_dim, (int)c.n_layers, (int)c.n_heads,
                          (int)c.n_kv_heads, (int)c.vocab_size, (int)c.seq_len,
                          (unsigned long long)lay.size_shared, (unsigned long long)lay.size_separate,
                          lay.shared ? "shared" : "separate");
        goto fail;
    }
    m->source_format = slm_model_strdup(m, "llama2c");
    if (!m->source_format || set_hparams(m, &c, &lay) != SLM_OK) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    l2c_arrays arrays;
    locate_arrays(map, &c, &lay, &arrays);
    if ((st = add_tensors(m, &c, &lay, &arrays, d)) != SLM_OK) goto fail;
    if (tokenizer_path && (st = slm_llama2c_read_tokenizer(m, tokenizer_path, (uint32_t)lay.vocab, d)) != SLM_OK)
        goto fail;
    *out = m;
    return SLM_OK;
fail:
    slm_diag_prefix(d, path);
    slm_model_free(m);
    return st;
}

/* ----------------------------------------------------------- tokenizer */

/* llama.cpp's converter tests with sscanf("<0x%02hhX>"): "<0x" then a hex
 * digit is enough. */
static bool looks_like_byte_token(const unsigned char *s, uint32_t len) {
    if (len < 4 || memcmp(s, "<0x", 3) != 0) return false;
    unsigned char h = s[3];
    return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
}

/* llama2.c's export turned SentencePiece's "▁" into spaces; GGUF wants it
 * back. Returns an arena copy with every ' ' replaced by U+2581. */
static char *escape_spaces(slm_model *m, const unsigned char *s, uint32_t len, uint64_t *out_len) {
    uint64_t spaces = 0;
    for (uint32_t i = 0; i < len; i++) spaces += s[i] == ' ';
    uint64_t n = len + spaces * 2;
    char *o = slm_model_alloc(m, (size_t)n + 1);
    if (!o) return NULL;
    uint64_t j = 0;
    for (uint32_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(o + j, "\xe2\x96\x81", 3);
            j += 3;
        } else {
            o[j++] = (char)s[i];
        }
    }
    o[n] = '\0';
    *out_len = n;
    return o;
}

/* Fills one vocabulary entry exactly as convert-llama2c-to-ggml does. */
static slm_status convert_token(slm_model *m, uint32_t id, const unsigned char *text, uint32_t len, slm_str *tok,
                                int32_t *type) {
    static const char *special[3] = {"<unk>", "<s>", "</s>"};
    if (id < 3) {
        text = (const unsigned char *)special[id];
        len = (uint32_t)strlen(special[id]);
        *type = id == 0 ? SLM_TOKEN_UNKNOWN : SLM_TOKEN_CONTROL;
    } else if (len == 0) {
        *type = SLM_TOKEN_CONTROL;
    } else if (looks_like_byte_token(text, len)) {
        *type = SLM_TOKEN_BYTE;
    } else {
        *type = SLM_TOKEN_NORMAL;
    }
    tok->s = escape_spaces(m, text, len, &tok->len);
    return tok->s ? SLM_OK : SLM_ERR_NOMEM;
}

static slm_status parse_tokenizer(slm_model *m, const char *path, const unsigned char *p, size_t size,
                                  uint32_t n_vocab, slm_diag *d) {
    if (size < 4)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: file is %zu bytes, too short for the 4-byte max_token_length",
                            path, size);
    slm_tokenizer *tok = &m->tok;
    tok->tokens = slm_model_alloc(m, (size_t)n_vocab * sizeof *tok->tokens + 1);
    tok->scores = slm_model_alloc(m, (size_t)n_vocab * sizeof *tok->scores + 1);
    tok->token_types = slm_model_alloc(m, (size_t)n_vocab * sizeof *tok->token_types + 1);
    tok->model_name = slm_model_strdup(m, "llama");
    if (!tok->tokens || !tok->scores || !tok->token_types || !tok->model_name)
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    size_t off = 4; /* max_token_length: unused */
    for (uint32_t id = 0; id < n_vocab; id++) {
        if (size - off < 8)
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "%s: token %u starts at byte %zu but the file ends at %zu; expected %u tokens "
                                "(the checkpoint's vocab_size)",
                                path, id, off, size, n_vocab);
        float score = read_f32(p + off);
        int32_t len = read_i32(p + off + 4);
        off += 8;
        if (len < 0 || (size_t)len > size - off)
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "%s: token %u has length %d at byte %zu, but only %zu bytes remain in the file",
                                path, id, (int)len, off - 4, size - off);
        if (convert_token(m, id, p + off, (uint32_t)len, &tok->tokens[id], &tok->token_types[id]) != SLM_OK)
            return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
        tok->scores[id] = score;
        off += (size_t)len;
    }
    if (off != size)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: %zu bytes follow the %u tokens the checkpoint's vocab_size asks for; expected the "
                            "file to end there (is this the checkpoint's own tokenizer?)",
                            path, size - off, n_vocab);
    tok->n_tokens = n_vocab;
    tok->kind = SLM_TOK_SPM;
    tok->unk_id = 0;
    tok->bos_id = 1;
    tok->eos_id = 2;
    /* The converter stores -1 as a u32. */
    tok->sep_id = UINT32_MAX;
    tok->pad_id = UINT32_MAX;
    return SLM_OK;
}

slm_status slm_llama2c_read_tokenizer(slm_model *m, const char *path, uint32_t n_vocab, slm_diag *d) {
    if (n_vocab == 0 || n_vocab > L2C_MAX_VOCAB)
        return slm_diag_set(d, SLM_ERR_USAGE, "%s: vocabulary size %u out of range 1..%d", path, n_vocab,
                            L2C_MAX_VOCAB);
    const void *map;
    size_t size;
    slm_status st = slm_file_map(path, &map, &size, d);
    if (st != SLM_OK) return st;
    slm_tokenizer keep = m->tok;
    st = parse_tokenizer(m, path, map, size, n_vocab, d);
    slm_file_unmap(map, size);
    if (st != SLM_OK) {
        m->tok = keep; /* arena memory is reclaimed with the model */
        return st;
    }
    if (slm_model_add_input(m, path, NULL, 0) != SLM_OK) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    return SLM_OK;
}
