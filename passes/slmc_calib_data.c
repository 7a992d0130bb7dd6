/* slmc_calib_data.c - reading calibration data into token ids (formats in
 * slmc_calib_data.h). One loop reads the (possibly gzip'd) file in blocks;
 * each format consumes the complete part of the buffer: text in pieces cut
 * at a line end, JSONL line by line, token files up to the last whitespace. */
#include "slmc_calib_data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "slm_json.h"

#define READ_BLOCK (64u << 10)
#define TEXT_PIECE (1u << 20) /* tokenize text this much at a time */

bool slmc_calib_data_format_parse(const char *name, slmc_calib_data_format *out) {
    static const char *names[] = {"auto", "text", "jsonl", "tokens", "hdf5"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, names[i])) return *out = (slmc_calib_data_format)i, true;
    return false;
}

const char *slmc_calib_data_format_name(slmc_calib_data_format f) {
    static const char *names[] = {"auto", "text", "jsonl", "tokens", "hdf5"};
    return (unsigned)f < 5 ? names[f] : "?";
}

static bool ends_with(const char *s, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && !strncasecmp(s + n - k, suf, k);
}

slmc_calib_data_format slmc_calib_data_format_detect(const char *path) {
    size_t n = strlen(path);
    if (ends_with(path, n, ".gz")) n -= 3;
    if (ends_with(path, n, ".jsonl") || ends_with(path, n, ".ndjson")) return SLMC_CALIB_DATA_JSONL;
    if (ends_with(path, n, ".tokens")) return SLMC_CALIB_DATA_TOKENS;
    if (ends_with(path, n, ".h5") || ends_with(path, n, ".hdf5")) return SLMC_CALIB_DATA_HDF5;
    return SLMC_CALIB_DATA_TEXT;
}

typedef struct reader {
    const char *path;
    slmc_calib_data_format fmt;
    const slmrt_tok *tk;
    size_t max_tokens;
    int32_t *ids;
    size_t n, cap;
    bool first_piece;      /* BOS goes before the first piece only */
    char *doc;             /* JSONL: rendered documents not yet tokenized */
    size_t doc_len, doc_cap;
    uint64_t line;         /* JSONL: lines consumed so far */
    uint64_t offset;       /* bytes consumed so far */
    slm_diag *d;
} reader;

static slm_status push_ids(reader *r, const int32_t *v, size_t k) {
    if (r->n + k > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->n + k) cap *= 2;
        int32_t *p = realloc(r->ids, cap * sizeof *p);
        if (!p) return slm_diag_set(r->d, SLM_ERR_NOMEM, "%s: out of memory for %zu tokens", r->path, r->n + k);
        r->ids = p;
        r->cap = cap;
    }
    memcpy(r->ids + r->n, v, k * sizeof *v);
    r->n += k;
    return SLM_OK;
}

static slm_status tokenize(reader *r, const char *text, size_t len) {
    if (len == 0) return SLM_OK;
    int32_t *ids = NULL;
    size_t n = 0;
    slm_status st = slmrt_tok_encode(r->tk, text, len, r->first_piece, &ids, &n, r->d);
    if (st != SLM_OK) {
        slm_diag_prefix(r->d, r->path);
        return st;
    }
    r->first_piece = false;
    st = push_ids(r, ids, n);
    free(ids);
    return st;
}

static bool enough(const reader *r) { return r->n >= r->max_tokens; }

/* ------------------------------------------------------------ formats */

static const char *last_of(const char *p, size_t n, bool (*is)(char)) {
    for (size_t i = n; i-- > 0;)
        if (is(p[i])) return p + i;
    return NULL;
}
static bool is_nl(char c) { return c == '\n'; }
static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

static slm_status consume_text(reader *r, const char *p, size_t n, bool eof, size_t *used) {
    *used = 0;
    size_t k = n;
    if (!eof) {
        if (n < TEXT_PIECE) return SLM_OK;
        const char *nl = last_of(p, n, is_nl);
        k = nl ? (size_t)(nl - p) + 1 : n; /* a 1 MiB line: cut anyway */
    }
    *used = k;
    return tokenize(r, p, k);
}

static slm_status doc_append(reader *r, const char *s, size_t n) {
    if (r->doc_len + n + 1 > r->doc_cap) {
        size_t cap = r->doc_cap ? r->doc_cap : 4096;
        while (cap < r->doc_len + n + 1) cap *= 2;
        char *p = realloc(r->doc, cap);
        if (!p) return slm_diag_set(r->d, SLM_ERR_NOMEM, "%s: out of memory", r->path);
        r->doc = p;
        r->doc_cap = cap;
    }
    memcpy(r->doc + r->doc_len, s, n);
    r->doc_len += n;
    return SLM_OK;
}

/* One JSONL record: {"text": "..."} or {"messages": [{"role", "content"}]}. */
static slm_status jsonl_record(reader *r, const char *line, size_t len) {
    char what[4200];
    snprintf(what, sizeof what, "%s:%llu", r->path, (unsigned long long)r->line);
    json_t *o = NULL;
    slm_status st = slm_json_load_object(line, len, what, &o, r->d);
    if (st != SLM_OK) return st;
    json_t *text = json_object_get(o, "text"), *msgs = json_object_get(o, "messages");
    if (text) {
        if (!json_is_string(text))
            st = slm_diag_set(r->d, SLM_ERR_INPUT, "%s: \"text\" is %s, expected a string", what,
                              slm_json_kind(text));
        else
            st = doc_append(r, json_string_value(text), json_string_length(text));
    } else if (msgs) {
        if (!json_is_array(msgs))
            st = slm_diag_set(r->d, SLM_ERR_INPUT, "%s: \"messages\" is %s, expected an array", what,
                              slm_json_kind(msgs));
        for (size_t i = 0; st == SLM_OK && i < json_array_size(msgs); i++) {
            json_t *m = json_array_get(msgs, i);
            json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
            if (!json_is_string(role) || !json_is_string(content)) {
                st = slm_diag_set(r->d, SLM_ERR_INPUT,
                                  "%s: messages[%zu] needs string \"role\" and \"content\" (role is %s, content is %s)",
                                  what, i, slm_json_kind(role), slm_json_kind(content));
                break;
            }
            st = doc_append(r, json_string_value(role), json_string_length(role));
            if (st == SLM_OK) st = doc_append(r, ": ", 2);
            if (st == SLM_OK) st = doc_append(r, json_string_value(content), json_string_length(content));
            if (st == SLM_OK && i + 1 < json_array_size(msgs)) st = doc_append(r, "\n", 1);
        }
    } else {
        st = slm_diag_set(r->d, SLM_ERR_INPUT, "%s: record has neither \"text\" nor \"messages\"", what);
    }
    if (st == SLM_OK) st = doc_append(r, "\n", 1); /* documents are separated by a line end */
    json_decref(o);
    return st;
}

static slm_status consume_jsonl(reader *r, const char *p, size_t n, bool eof, size_t *used) {
    size_t off = 0;
    slm_status st = SLM_OK;
    while (off < n && st == SLM_OK && !enough(r)) {
        const char *nl = memchr(p + off, '\n', n - off);
        if (!nl && !eof) break;
        size_t len = nl ? (size_t)(nl - (p + off)) : n - off;
        r->line++;
        const char *line = p + off;
        off += len + (nl ? 1 : 0);
        size_t k = len;
        while (k > 0 && is_space(line[k - 1])) k--;
        size_t b = 0;
        while (b < k && is_space(line[b])) b++;
        if (b < k) st = jsonl_record(r, line + b, k - b);
        if (st == SLM_OK && (r->doc_len >= TEXT_PIECE || (eof && off >= n))) {
            st = tokenize(r, r->doc, r->doc_len);
            r->doc_len = 0;
        }
    }
    *used = off;
    return st;
}

static slm_status consume_tokens(reader *r, const char *p, size_t n, bool eof, size_t *used) {
    size_t k = n;
    if (!eof) {
        const char *sp = last_of(p, n, is_space);
        k = sp ? (size_t)(sp - p) + 1 : 0;
    }
    *used = k;
    const int32_t n_vocab = slmrt_tok_n_vocab(r->tk);
    size_t i = 0;
    while (i < k) {
        while (i < k && is_space(p[i])) i++;
        if (i >= k) break;
        size_t j = i;
        int64_t v = 0;
        while (j < k && p[j] >= '0' && p[j] <= '9' && v <= INT32_MAX) v = v * 10 + (p[j++] - '0');
        if (j == i || (j < k && !is_space(p[j])) || v > INT32_MAX)
            return slm_diag_set(r->d, SLM_ERR_INPUT,
                                "%s: token %zu (byte %llu) is not a token id: expected whitespace-separated "
                                "non-negative integers",
                                r->path, r->n, (unsigned long long)(r->offset + i));
        if (v >= n_vocab)
            return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: token %zu is id %lld, the model's vocabulary has %d",
                                r->path, r->n, (long long)v, n_vocab);
        int32_t id = (int32_t)v;
        slm_status st = push_ids(r, &id, 1);
        if (st != SLM_OK) return st;
        i = j;
    }
    return SLM_OK;
}

/* ---------------------------------------------------------------- loop */

slm_status slmc_calib_data_read(const char *path, slmc_calib_data_format fmt, const slmrt_tok *tk, size_t max_tokens,
                                int32_t **ids, size_t *n, slm_diag *d) {
    *ids = NULL;
    *n = 0;
    if (fmt == SLMC_CALIB_DATA_AUTO) fmt = slmc_calib_data_format_detect(path);
    if (fmt == SLMC_CALIB_DATA_HDF5)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "%s: HDF5 token datasets are not supported yet; convert to a .tokens file "
                            "(whitespace-separated ids)",
                            path);
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return slm_diag_set(d, SLM_ERR_IO, "%s: cannot open calibration data: %s", path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, 256u << 10);
    reader r = {.path = path, .fmt = fmt, .tk = tk, .max_tokens = max_tokens, .first_piece = true, .d = d};
    size_t cap = 2 * TEXT_PIECE, len = 0;
    char *buf = malloc(cap);
    slm_status st = buf ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    bool eof = false;
    while (st == SLM_OK && !enough(&r) && !(eof && len == 0)) {
        if (!eof) {
            if (cap - len < READ_BLOCK) {
                char *p = realloc(buf, cap * 2);
                if (!p) {
                    st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory (a line longer than %zu bytes?)", path,
                                      cap);
                    break;
                }
                buf = p;
                cap *= 2;
            }
            int got = gzread(gz, buf + len, READ_BLOCK);
            if (got < 0) {
                int zerr = 0;
                const char *msg = gzerror(gz, &zerr);
                st = slm_diag_set(d, zerr == Z_ERRNO ? SLM_ERR_IO : SLM_ERR_INPUT, "%s: read failed at byte %llu: %s",
                                  path, (unsigned long long)r.offset + len,
                                  zerr == Z_ERRNO ? strerror(errno) : msg);
                break;
            }
            len += (size_t)got;
            eof = got == 0;
        }
        size_t used = 0;
        switch (fmt) {
        case SLMC_CALIB_DATA_JSONL: st = consume_jsonl(&r, buf, len, eof, &used); break;
        case SLMC_CALIB_DATA_TOKENS: st = consume_tokens(&r, buf, len, eof, &used); break;
        default: st = consume_text(&r, buf, len, eof, &used); break;
        }
        memmove(buf, buf + used, len - used);
        len -= used;
        r.offset += used;
        if (eof && used == 0 && len > 0 && st == SLM_OK) break; /* nothing more can be consumed */
    }
    /* JSONL stopped early (enough tokens) may still hold rendered text */
    if (st == SLM_OK && r.doc_len > 0 && !enough(&r)) st = tokenize(&r, r.doc, r.doc_len);
    free(buf);
    free(r.doc);
    gzclose(gz);
    if (st != SLM_OK) {
        free(r.ids);
        return st;
    }
    *ids = r.ids ? r.ids : malloc(sizeof(int32_t));
    *n = r.n;
    return SLM_OK;
}
