/* slmc_calib_data.c - reading calibration data into token ids (formats in
 * slmc_calib_data.h). One loop reads the (possibly gzip'd) file in blocks;
 * each format consumes the complete part of the buffer: text in pieces cut
 * at a line end, JSONL line by line, token files up to the last whitespace.
 * HDF5 datasets arrive in pieces from slm_hdf5_read_ids. Every id goes
 * through push_ids, which also feeds the chunk sampler. */
#include "slmc_calib_data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "slm_hdf5.h"
#include "slm_json.h"
#include "slmc_rng.h"

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
    int32_t *ids;          /* the result; when sampling, the ids of the chunk being cut */
    size_t n, cap;
    uint64_t n_read;
    /* sampling (chunk > 0): a reservoir of `keep` chunks */
    size_t chunk, keep;
    uint64_t rng, seen, filled;
    int32_t *slots;        /* keep x chunk ids */
    uint64_t *slot_chunk;  /* which chunk of the data each slot holds */
    bool first_piece;      /* BOS goes before the first piece only */
    char *doc;             /* JSONL: rendered documents not yet tokenized */
    size_t doc_len, doc_cap;
    uint64_t line;         /* JSONL: lines consumed so far */
    uint64_t offset;       /* bytes consumed so far */
    slm_diag *d;
} reader;

/* Algorithm R: chunk number `seen` replaces a random slot with probability
 * keep / (seen + 1), so every chunk ends up kept with equal probability. */
static void sample_chunks(reader *r) {
    size_t off = 0;
    for (; r->n - off >= r->chunk; off += r->chunk, r->seen++) {
        uint64_t slot = r->seen < r->keep ? r->seen : slmc_rng_next(&r->rng) % (r->seen + 1);
        if (slot >= r->keep) continue;
        memcpy(r->slots + slot * r->chunk, r->ids + off, r->chunk * sizeof *r->ids);
        r->slot_chunk[slot] = r->seen;
        if (slot >= r->filled) r->filled = slot + 1;
    }
    if (off) memmove(r->ids, r->ids + off, (r->n - off) * sizeof *r->ids);
    r->n -= off;
}

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
    r->n_read += k;
    if (r->chunk && r->n >= r->chunk) sample_chunks(r);
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

static bool enough(const reader *r) { return !r->chunk && r->n >= r->max_tokens; }

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
                                r->path, (size_t)r->n_read, (unsigned long long)(r->offset + i));
        if (v >= n_vocab)
            return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: token %zu is id %lld, the model's vocabulary has %d",
                                r->path, (size_t)r->n_read, (long long)v, n_vocab);
        int32_t id = (int32_t)v;
        slm_status st = push_ids(r, &id, 1);
        if (st != SLM_OK) return st;
        i = j;
    }
    return SLM_OK;
}

static int hdf5_piece(void *user, const int64_t *v, size_t n, uint64_t first, slm_diag *d) {
    reader *r = user;
    const int32_t n_vocab = slmrt_tok_n_vocab(r->tk);
    int32_t piece[1024];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < 1024 ? n - i : 1024;
        for (size_t j = 0; j < k; j++) {
            int64_t id = v[i + j];
            if (id < 0 || id >= n_vocab) {
                slm_diag_set(d, SLM_ERR_INPUT, "%s: token %llu is id %lld, expected 0 to %d (the model's vocabulary)",
                             r->path, (unsigned long long)(first + i + j), (long long)id, n_vocab - 1);
                return -1;
            }
            piece[j] = (int32_t)id;
        }
        if (push_ids(r, piece, k) != SLM_OK) return -1;
        i += k;
    }
    return enough(r) ? 1 : 0;
}

static int cmp_u64_pair(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Sampling's result: the kept chunks in data order (or, when the data held
 * less than one chunk, what it held). */
static slm_status sampled_ids(reader *r) {
    if (r->filled == 0) return SLM_OK;
    uint64_t *order = malloc(r->filled * 2 * sizeof *order);
    int32_t *out = malloc(r->filled * r->chunk * sizeof *out);
    if (!order || !out) {
        free(order);
        free(out);
        return slm_diag_set(r->d, SLM_ERR_NOMEM, "%s: out of memory", r->path);
    }
    for (uint64_t i = 0; i < r->filled; i++) order[2 * i] = r->slot_chunk[i], order[2 * i + 1] = i;
    qsort(order, r->filled, 2 * sizeof *order, cmp_u64_pair);
    for (uint64_t i = 0; i < r->filled; i++)
        memcpy(out + i * r->chunk, r->slots + order[2 * i + 1] * r->chunk, r->chunk * sizeof *out);
    free(order);
    free(r->ids);
    r->ids = out;
    r->n = r->filled * r->chunk;
    return SLM_OK;
}

/* ---------------------------------------------------------------- loop */

static slm_status read_stream(reader *r, slm_diag *d);

slm_status slmc_calib_data_read(const char *path, const slmc_calib_data_opts *o, const slmrt_tok *tk, int32_t **ids,
                                size_t *n, slmc_calib_data_info *info, slm_diag *d) {
    *ids = NULL;
    *n = 0;
    if (info) memset(info, 0, sizeof *info);
    slmc_calib_data_format fmt = o->format == SLMC_CALIB_DATA_AUTO ? slmc_calib_data_format_detect(path) : o->format;
    reader r = {.path = path, .fmt = fmt, .tk = tk, .max_tokens = o->max_tokens, .first_piece = true, .d = d};
    if (o->chunk && o->seed && o->max_tokens >= o->chunk) {
        r.chunk = o->chunk;
        r.keep = o->max_tokens / o->chunk;
        r.rng = o->seed;
        r.slots = malloc(r.keep * r.chunk * sizeof *r.slots);
        r.slot_chunk = malloc(r.keep * sizeof *r.slot_chunk);
        if (!r.slots || !r.slot_chunk) {
            free(r.slots);
            free(r.slot_chunk);
            return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory for %zu tokens", path, o->max_tokens);
        }
    }
    slm_status st = fmt == SLMC_CALIB_DATA_HDF5 ? slm_hdf5_read_ids(path, o->dataset, hdf5_piece, &r, d)
                                                : read_stream(&r, d);
    if (st == SLM_OK && r.chunk) st = sampled_ids(&r);
    free(r.slots);
    free(r.slot_chunk);
    if (st != SLM_OK) {
        free(r.ids);
        return st;
    }
    if (info) *info = (slmc_calib_data_info){.tokens_read = r.n_read, .chunks_seen = r.seen, .chunks_kept = r.filled};
    *ids = r.ids ? r.ids : malloc(sizeof(int32_t));
    *n = r.n;
    return SLM_OK;
}

/* Text, JSONL and token files: one loop over the (possibly gzip'd) bytes. */
static slm_status read_stream(reader *rp, slm_diag *d) {
    reader r = *rp;
    const char *path = r.path;
    const slmc_calib_data_format fmt = r.fmt;
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return slm_diag_set(d, SLM_ERR_IO, "%s: cannot open calibration data: %s", path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, 256u << 10);
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
    r.doc = NULL;
    gzclose(gz);
    *rp = r;
    return st;
}
