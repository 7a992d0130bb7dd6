/* slmc_calib_stats.c - collecting, writing and reading activation statistics
 * (file layout in docs/calibration.md). */
#include "slmc_calib_stats.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"

static const char MAGIC[8] = {'S', 'L', 'M', 'C', 'S', 'T', 'A', 'T'};
static const char END[8] = {'S', 'L', 'M', 'C', 'E', 'N', 'D', 0};
#define FLAG_GRAM 1u
#define FLAG_BLOCKS 2u /* Block Influence sums follow the entries */

/* ------------------------------------------------------------ identity */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t v) { return fnv(h, &v, sizeof v); }

uint64_t slmc_stats_fingerprint(const slm_model *m) {
    uint64_t h = 0xcbf29ce484222325ull;
    const slm_hparams *hp = &m->hp;
    h = fnv(h, hp->arch, strnlen(hp->arch, sizeof hp->arch));
    const uint32_t dims[] = {hp->n_embd, hp->n_ff, hp->n_layer, hp->n_head, hp->n_head_kv, (uint32_t)m->tok.kind,
                             m->tok.n_tokens};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) h = fnv_u32(h, dims[i]);
    for (uint32_t i = 0; i < m->tok.n_tokens; i++) {
        h = fnv(h, m->tok.tokens[i].s, m->tok.tokens[i].len);
        h = fnv(h, "", 1); /* separator: "ab","c" differs from "a","bc" */
    }
    return h;
}

slm_status slmc_stats_new(const slm_model *m, bool gram, slmc_stats **out, slm_diag *d) {
    slmc_stats *s = calloc(1, sizeof *s);
    if (!s) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for calibration statistics");
    s->fingerprint = slmc_stats_fingerprint(m);
    s->n_layer = m->hp.n_layer;
    s->n_embd = m->hp.n_embd;
    s->n_vocab = m->tok.n_tokens;
    s->has_gram = gram;
    s->last_entry = -1;
    s->prev_layer = -1;
    s->n_block = m->hp.n_layer;
    s->block_cos = calloc(s->n_block ? s->n_block : 1, sizeof *s->block_cos);
    if (!s->block_cos) {
        free(s);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for calibration statistics");
    }
    *out = s;
    return SLM_OK;
}

void slmc_stats_residual(void *user, int layer, const float *h, int n_tokens, int n_embd) {
    slmc_stats *s = user;
    if (s->err.status != SLM_OK || layer < 0 || (uint32_t)layer > s->n_block) return;
    if (layer > 0 && s->prev_layer == layer - 1) {
        for (int t = 0; t < n_tokens; t++) {
            const float *a = s->prev_h + (size_t)t * n_embd, *b = h + (size_t)t * n_embd;
            double ab = 0, aa = 0, bb = 0;
            for (int j = 0; j < n_embd; j++) ab += (double)a[j] * b[j], aa += (double)a[j] * a[j], bb += (double)b[j] * b[j];
            s->block_cos[layer - 1] += aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 1.0;
        }
        if (layer == 1) s->block_tokens += (uint64_t)n_tokens;
    }
    const size_t need = (size_t)n_tokens * (size_t)n_embd;
    if (need > s->prev_cap) {
        float *p = realloc(s->prev_h, need * sizeof *p);
        if (!p) {
            slm_diag_set(&s->err, SLM_ERR_NOMEM, "out of memory for the hidden states of %d tokens", n_tokens);
            return;
        }
        s->prev_h = p;
        s->prev_cap = need;
    }
    memcpy(s->prev_h, h, need * sizeof *h);
    s->prev_layer = layer;
}

double slmc_stats_block_influence(const slmc_stats *s, uint32_t l) {
    if (l >= s->n_block || !s->block_tokens) return -1;
    return 1.0 - s->block_cos[l] / (double)s->block_tokens;
}

static void entry_free(slmc_stats_entry *e) {
    free(e->sum_x2);
    free(e->max_abs);
    if (!e->gram_shared) free(e->gram);
    free(e->importance);
}

void slmc_stats_free(slmc_stats *s) {
    if (!s) return;
    for (uint32_t i = 0; i < s->n_entries; i++) entry_free(&s->entries[i]);
    free(s->entries);
    free(s->source);
    free(s->scratch);
    free(s->block_cos);
    free(s->prev_h);
    free(s);
}

/* Appends a zeroed entry; NULL when out of memory. */
static slmc_stats_entry *entry_add(slmc_stats *s, const char *name, int32_t n_in, bool gram) {
    if (s->n_entries == s->cap_entries) {
        uint32_t cap = s->cap_entries ? 2 * s->cap_entries : 16;
        slmc_stats_entry *e = realloc(s->entries, cap * sizeof *e);
        if (!e) return NULL;
        s->entries = e;
        s->cap_entries = cap;
    }
    slmc_stats_entry *e = &s->entries[s->n_entries];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->n_in = n_in;
    e->sum_x2 = calloc((size_t)n_in, sizeof *e->sum_x2);
    e->max_abs = calloc((size_t)n_in, sizeof *e->max_abs);
    if (gram) e->gram = calloc((size_t)n_in * (size_t)n_in, sizeof *e->gram);
    if (!e->sum_x2 || !e->max_abs || (gram && !e->gram)) {
        entry_free(e);
        return NULL;
    }
    s->n_entries++;
    return e;
}

const slmc_stats_entry *slmc_stats_find(const slmc_stats *s, const char *name) {
    for (uint32_t i = 0; i < s->n_entries; i++)
        if (!strcmp(s->entries[i].name, name)) return &s->entries[i];
    return NULL;
}

/* ----------------------------------------------------------- collecting */

void slmc_stats_observe(void *user, const char *weight, const float *x, int n_tokens, int n_in) {
    slmc_stats *s = user;
    if (s->err.status != SLM_OK) return;
    /* The runtime calls the weights in the same order every chunk, so the
     * entry after the previous one is almost always the right one. */
    /* Q/K/V (and gate/up) read the same rows: their Gram matrix is one */
    const bool same_input = s->has_gram && x == s->last_x && n_tokens == s->last_tokens && s->last_entry >= 0 &&
                            s->entries[s->last_entry].n_in == n_in;
    slmc_stats_entry *e = NULL;
    if (s->hint < s->n_entries && !strcmp(s->entries[s->hint].name, weight))
        e = &s->entries[s->hint];
    else
        e = (slmc_stats_entry *)slmc_stats_find(s, weight);
    if (!e) {
        e = entry_add(s, weight, n_in, s->has_gram && !same_input);
        if (!e) {
            slm_diag_set(&s->err, SLM_ERR_NOMEM, "out of memory for the statistics of %s (n_in %d%s)", weight, n_in,
                         s->has_gram ? ", with Gram matrix" : "");
            return;
        }
        if (s->has_gram && same_input) {
            e->gram = s->entries[s->last_entry].gram;
            e->gram_shared = true;
        }
    }
    if (e->n_in != n_in) {
        slm_diag_set(&s->err, SLM_ERR_INTERNAL, "%s: observer reported n_in %d, earlier %d", weight, n_in, e->n_in);
        return;
    }
    if (e->gram_shared && !(same_input && s->entries[s->last_entry].gram == e->gram)) {
        slm_diag_set(&s->err, SLM_ERR_INTERNAL, "%s: its input is no longer the previous weight's", weight);
        return;
    }
    s->hint = (uint32_t)(e - s->entries) + 1;
    for (int t = 0; t < n_tokens; t++) {
        const float *r = x + (size_t)t * n_in;
        for (int j = 0; j < n_in; j++) {
            float v = r[j];
            if (!isfinite(v)) {
                slm_diag_set(&s->err, SLM_ERR_INPUT,
                             "non-finite activation (%g) in the input of %s, chunk %d, row %d, channel %d: the model "
                             "weights or the data produce NaN/Inf",
                             v, weight, s->chunk, t, j);
                return;
            }
            e->sum_x2[j] += (double)v * v;
            float a = fabsf(v);
            if (a > e->max_abs[j]) e->max_abs[j] = a;
        }
    }
    s->last_x = x;
    s->last_tokens = n_tokens;
    s->last_entry = (int)(e - s->entries);
    if (e->gram && !e->gram_shared) { /* XᵀX, upper triangle only (mirrored when written): a BLAS rank-k update */
        const size_t need = (size_t)n_tokens * (size_t)n_in;
        if (need > s->scratch_n) {
            double *p = realloc(s->scratch, need * sizeof *p);
            if (!p) {
                slm_diag_set(&s->err, SLM_ERR_NOMEM, "out of memory for the Gram matrix update of %s", weight);
                return;
            }
            s->scratch = p;
            s->scratch_n = need;
        }
        for (size_t i = 0; i < need; i++) s->scratch[i] = x[i];
        /* rows of the upper triangle in blocks of equal area, one per thread
         * (OpenBLAS's own threads would fight the runtime's spinning ones) */
        const int nt = omp_get_max_threads();
        const double *a = s->scratch;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
        for (int b = 0; b < nt; b++) {
            /* row i0 such that rows [0, i0) hold a fraction b/nt of the triangle */
            const int i0 = (int)(n_in * (1.0 - sqrt(1.0 - (double)b / nt)));
            const int i1 = b + 1 == nt ? n_in : (int)(n_in * (1.0 - sqrt(1.0 - (double)(b + 1) / nt)));
            if (i1 > i0)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1 - i0, n_in - i0, n_tokens, 1.0, a + i0, n_in,
                            a + i0, n_in, 1.0, e->gram + (size_t)i0 * n_in + i0, n_in);
        }
    }
    e->n_rows += n_tokens;
    e->n_calls++;
}

const float *slmc_stats_importance(slmc_stats *s, const char *name) {
    slmc_stats_entry *e = (slmc_stats_entry *)slmc_stats_find(s, name);
    if (!e || e->n_rows <= 0) return NULL;
    if (!e->importance) {
        e->importance = malloc((size_t)e->n_in * sizeof *e->importance);
        if (!e->importance) return NULL;
        for (int32_t j = 0; j < e->n_in; j++) e->importance[j] = (float)(e->sum_x2[j] / (double)e->n_rows);
    }
    return e->importance;
}

/* -------------------------------------------------------------- writing */

static void put_u32(slm_outfile *f, uint32_t v, slm_diag *d) { slm_outfile_write(f, &v, 4, d); }
static void put_u64(slm_outfile *f, uint64_t v, slm_diag *d) { slm_outfile_write(f, &v, 8, d); }
static void put_i32(slm_outfile *f, int32_t v, slm_diag *d) { slm_outfile_write(f, &v, 4, d); }

void slmc_stats_finish(slmc_stats *s) {
    for (uint32_t k = 0; k < s->n_entries; k++) {
        slmc_stats_entry *e = &s->entries[k];
        if (!e->gram || e->gram_shared) continue;
        const size_t n = (size_t)e->n_in;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++) e->gram[i * n + j] = e->gram[j * n + i];
    }
}

/* The Gram matrix is accumulated as an upper triangle; the file holds the
 * full symmetric matrix so readers need not know. */
static void put_gram(slm_outfile *f, const slmc_stats_entry *e, slm_diag *d) {
    const size_t n = (size_t)e->n_in;
    double *row = malloc(n * sizeof *row);
    if (!row) {
        slm_diag_set(d, SLM_ERR_NOMEM, "out of memory writing the Gram matrix of %s", e->name);
        f->status = SLM_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) row[j] = j >= i ? e->gram[i * n + j] : e->gram[j * n + i];
        slm_outfile_write(f, row, n * sizeof *row, d);
    }
    free(row);
}

slm_status slmc_stats_save(const slmc_stats *s, const char *path, slm_diag *d) {
    slm_outfile f;
    slm_status st = slm_outfile_open(&f, path, d);
    if (st != SLM_OK) return st;
    slm_outfile_write(&f, MAGIC, sizeof MAGIC, d);
    put_u32(&f, SLMC_STATS_VERSION, d);
    const bool blocks = s->n_block > 0 && s->block_tokens > 0;
    put_u32(&f, (s->has_gram ? FLAG_GRAM : 0) | (blocks ? FLAG_BLOCKS : 0), d);
    put_u64(&f, s->fingerprint, d);
    put_u32(&f, s->n_layer, d);
    put_u32(&f, s->n_embd, d);
    put_u32(&f, s->n_vocab, d);
    put_u32(&f, s->n_ctx, d);
    put_u32(&f, s->n_chunks, d);
    put_u64(&f, s->n_tokens, d);
    const char *src = s->source ? s->source : "";
    put_u32(&f, (uint32_t)strlen(src), d);
    slm_outfile_write(&f, src, strlen(src), d);
    put_u32(&f, s->n_entries, d);
    for (uint32_t i = 0; i < s->n_entries; i++) {
        const slmc_stats_entry *e = &s->entries[i];
        put_u32(&f, (uint32_t)strlen(e->name), d);
        slm_outfile_write(&f, e->name, strlen(e->name), d);
        put_u32(&f, (uint32_t)e->n_in, d);
        put_u64(&f, (uint64_t)e->n_rows, d);
        put_u64(&f, (uint64_t)e->n_calls, d);
        slm_outfile_write(&f, e->sum_x2, (size_t)e->n_in * sizeof *e->sum_x2, d);
        slm_outfile_write(&f, e->max_abs, (size_t)e->n_in * sizeof *e->max_abs, d);
        if (s->has_gram) put_gram(&f, e, d);
    }
    if (blocks) {
        put_u32(&f, s->n_block, d);
        slm_outfile_write(&f, s->block_cos, s->n_block * sizeof *s->block_cos, d);
        put_u64(&f, s->block_tokens, d);
    }
    slm_outfile_write(&f, END, sizeof END, d);
    return slm_outfile_commit(&f, d);
}

slm_status slmc_stats_save_imatrix(const slmc_stats *s, const char *path, slm_diag *d) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_entries; i++)
        if (strcmp(s->entries[i].name, "token_embd.weight") && s->entries[i].n_rows > 0) n++;
    if (n == 0) return slm_diag_set(d, SLM_ERR_USAGE, "%s: no statistics to write as an imatrix", path);
    float *vals = NULL;
    slm_outfile f;
    slm_status st = slm_outfile_open(&f, path, d);
    if (st != SLM_OK) return st;
    put_i32(&f, (int32_t)n, d);
    for (uint32_t i = 0; i < s->n_entries && f.status == SLM_OK; i++) {
        const slmc_stats_entry *e = &s->entries[i];
        if (!strcmp(e->name, "token_embd.weight") || e->n_rows <= 0) continue;
        float *v = realloc(vals, (size_t)e->n_in * sizeof *v);
        if (!v) {
            slm_outfile_abort(&f);
            free(vals);
            return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory writing %s", path);
        }
        vals = v;
        /* llama-imatrix stores mean x² × ncall; its loader divides by ncall */
        for (int32_t j = 0; j < e->n_in; j++)
            vals[j] = (float)(e->sum_x2[j] / (double)e->n_rows * (double)e->n_calls);
        put_i32(&f, (int32_t)strlen(e->name), d);
        slm_outfile_write(&f, e->name, strlen(e->name), d);
        put_i32(&f, (int32_t)e->n_calls, d);
        put_i32(&f, e->n_in, d);
        slm_outfile_write(&f, vals, (size_t)e->n_in * sizeof *vals, d);
    }
    free(vals);
    put_i32(&f, (int32_t)s->n_chunks, d);
    const char *src = s->source ? s->source : "";
    put_i32(&f, (int32_t)strlen(src), d);
    slm_outfile_write(&f, src, strlen(src), d);
    return slm_outfile_commit(&f, d);
}

/* -------------------------------------------------------------- reading */

typedef struct rd {
    const unsigned char *p;
    size_t n, off;
    const char *path;
    slm_diag *d;
    bool bad;
} rd;

static bool take(rd *r, void *dst, size_t n, const char *what) {
    if (r->bad) return false;
    if (n > r->n - r->off) {
        slm_diag_set(r->d, SLM_ERR_INPUT, "%s: truncated stats file: %s at offset %zu needs %zu bytes, %zu left",
                     r->path, what, r->off, n, r->n - r->off);
        r->bad = true;
        return false;
    }
    if (dst) memcpy(dst, r->p + r->off, n);
    r->off += n;
    return true;
}

static uint32_t get_u32(rd *r, const char *what) {
    uint32_t v = 0;
    take(r, &v, 4, what);
    return v;
}

static uint64_t get_u64(rd *r, const char *what) {
    uint64_t v = 0;
    take(r, &v, 8, what);
    return v;
}

static slm_status parse(rd *r, slmc_stats *s) {
    char magic[8];
    if (!take(r, magic, 8, "magic") || memcmp(magic, MAGIC, 8))
        return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: not an slmc stats file (expected magic SLMCSTAT)", r->path);
    uint32_t ver = get_u32(r, "version");
    if (!r->bad && ver != SLMC_STATS_VERSION)
        return slm_diag_set(r->d, SLM_ERR_UNSUPPORTED, "%s: stats file version %u, this slmc reads version %u",
                            r->path, ver, SLMC_STATS_VERSION);
    uint32_t flags = get_u32(r, "flags");
    if (!r->bad && (flags & ~(FLAG_GRAM | FLAG_BLOCKS)))
        return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: unknown flags 0x%x", r->path, flags);
    s->has_gram = flags & FLAG_GRAM;
    s->fingerprint = get_u64(r, "fingerprint");
    s->n_layer = get_u32(r, "n_layer");
    s->n_embd = get_u32(r, "n_embd");
    s->n_vocab = get_u32(r, "n_vocab");
    s->n_ctx = get_u32(r, "n_ctx");
    s->n_chunks = get_u32(r, "n_chunks");
    s->n_tokens = get_u64(r, "n_tokens");
    uint32_t len = get_u32(r, "source length");
    if (r->bad) return r->d->status;
    if (len > r->n - r->off) return take(r, NULL, len, "source name"), r->d->status;
    s->source = malloc((size_t)len + 1);
    if (!s->source) return slm_diag_set(r->d, SLM_ERR_NOMEM, "%s: out of memory", r->path);
    take(r, s->source, len, "source name");
    s->source[len] = 0;
    uint32_t n_entries = get_u32(r, "entry count");
    for (uint32_t i = 0; i < n_entries && !r->bad; i++) {
        char name[SLM_MAX_NAME];
        uint32_t nl = get_u32(r, "name length");
        if (!r->bad && (nl == 0 || nl >= SLM_MAX_NAME))
            return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: entry %u: name length %u (expected 1..%d)", r->path, i, nl,
                                SLM_MAX_NAME - 1);
        if (!take(r, name, nl, "name")) break;
        name[nl] = 0;
        uint32_t n_in = get_u32(r, "n_in");
        uint64_t n_rows = get_u64(r, "n_rows"), n_calls = get_u64(r, "n_calls");
        if (r->bad) break;
        if (n_in == 0 || n_in > (1u << 20))
            return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: %s: n_in %u out of range", r->path, name, n_in);
        if (n_rows > INT64_MAX || n_calls > INT64_MAX)
            return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: %s: row count out of range", r->path, name);
        size_t need = (size_t)n_in * 12 + (s->has_gram ? (size_t)n_in * n_in * 8 : 0);
        if (need > r->n - r->off) return take(r, NULL, need, "entry arrays"), r->d->status;
        if (slmc_stats_find(s, name))
            return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: duplicate entry %s", r->path, name);
        slmc_stats_entry *e = entry_add(s, name, (int32_t)n_in, s->has_gram);
        if (!e) return slm_diag_set(r->d, SLM_ERR_NOMEM, "%s: out of memory for %s", r->path, name);
        e->n_rows = (int64_t)n_rows;
        e->n_calls = (int64_t)n_calls;
        take(r, e->sum_x2, (size_t)n_in * 8, "sum_x2");
        take(r, e->max_abs, (size_t)n_in * 4, "max_abs");
        if (s->has_gram) take(r, e->gram, (size_t)n_in * n_in * 8, "gram");
        for (uint32_t j = 0; j < n_in; j++)
            if (!(e->sum_x2[j] >= 0) || !isfinite(e->sum_x2[j]) || !(e->max_abs[j] >= 0) || !isfinite(e->max_abs[j]))
                return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: %s: channel %u has a negative or non-finite value",
                                    r->path, name, j);
    }
    if (!r->bad && (flags & FLAG_BLOCKS)) {
        const uint32_t nb = get_u32(r, "n_block");
        if (!r->bad && (nb == 0 || nb > 65536))
            return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: block count %u out of range", r->path, nb);
        if (!r->bad) {
            free(s->block_cos);
            if (!(s->block_cos = calloc(nb, sizeof *s->block_cos)))
                return slm_diag_set(r->d, SLM_ERR_NOMEM, "%s: out of memory", r->path);
            s->n_block = nb;
            if (take(r, s->block_cos, (size_t)nb * 8, "block similarities"))
                s->block_tokens = get_u64(r, "block tokens");
            for (uint32_t l = 0; !r->bad && l < nb; l++)
                if (!isfinite(s->block_cos[l]) || fabs(s->block_cos[l]) > (double)s->block_tokens * (1 + 1e-9))
                    return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: block %u similarity out of range", r->path, l);
        }
    }
    if (r->bad) return r->d->status;
    char end[8];
    if (!take(r, end, 8, "end marker")) return r->d->status;
    if (memcmp(end, END, 8) || r->off != r->n)
        return slm_diag_set(r->d, SLM_ERR_INPUT, "%s: bad end marker or bytes after it (offset %zu of %zu)", r->path,
                            r->off, r->n);
    return SLM_OK;
}

slm_status slmc_stats_load(const char *path, slmc_stats **out, slm_diag *d) {
    *out = NULL;
    const void *base = NULL;
    size_t size = 0;
    slm_status st = slm_file_map(path, &base, &size, d);
    if (st != SLM_OK) return st;
    slmc_stats *s = calloc(1, sizeof *s);
    if (!s) {
        slm_file_unmap(base, size);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    rd r = {base, size, 0, path, d, false};
    st = parse(&r, s);
    slm_file_unmap(base, size);
    if (st != SLM_OK) {
        slmc_stats_free(s);
        return st;
    }
    *out = s;
    return SLM_OK;
}

slm_status slmc_stats_check_model(const slmc_stats *s, const slm_model *m, slm_diag *d) {
    if (s->fingerprint != slmc_stats_fingerprint(m))
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "calibration statistics were collected on another model (n_layer %u, n_embd %u, vocab %u, "
                            "fingerprint %016llx); this model has n_layer %u, n_embd %u, vocab %u, fingerprint "
                            "%016llx: run slmc calibrate on this model",
                            s->n_layer, s->n_embd, s->n_vocab, (unsigned long long)s->fingerprint, m->hp.n_layer,
                            m->hp.n_embd, m->tok.n_tokens, (unsigned long long)slmc_stats_fingerprint(m));
    for (uint32_t i = 0; i < s->n_entries; i++) {
        const slmc_stats_entry *e = &s->entries[i];
        const slm_tensor *t = slm_model_find_tensor(m, e->name);
        /* tied output: the runtime multiplies by token_embd, which it names */
        if (!t)
            return slm_diag_set(d, SLM_ERR_INPUT, "calibration statistics have an entry for %s, which the model lacks",
                                e->name);
        if (t->ne[0] != e->n_in)
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "calibration statistics for %s have %d input channels, the tensor has %lld", e->name,
                                e->n_in, (long long)t->ne[0]);
    }
    return SLM_OK;
}
