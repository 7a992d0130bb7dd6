/* slmc_score.c - see slmc_score.h. */
#include "slmc_score.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_MAGIC "SLMCTLG1"
#define HEADER_BYTES 64

struct slmc_teacher {
    slmrt_model *model; /* borrowed */
    const char *name;   /* borrowed from the options, or the model's file */
    int n_vocab;
    int32_t *ids; /* [n_ids], owned */
    size_t n_ids;
    int32_t bos;
    int n_threads;
    slmrt_kld_plan plan;
    size_t n_rows;  /* scored positions: plan.n_chunks × plan.n_scored */
    float *logits;  /* [n_rows × n_vocab] */
    double *lse;    /* [n_rows] */
    int32_t *top1;  /* [n_rows] */
    uint64_t n_forward;
    bool from_cache;
    double seconds;
    char note[1400];
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *model_name(const slmrt_model *m, const char *given) {
    if (given) return given;
    const slm_model *ir = slmrt_model_ir(m);
    return ir->n_inputs && ir->inputs[0].path ? ir->inputs[0].path : "(in-memory model)";
}

/* ------------------------------------------------------------ vocabulary */

/* A token's text for a message: printable ASCII, the rest escaped. */
static void show_token(const slm_str *s, char *out, size_t cap) {
    size_t o = 0;
    for (uint64_t i = 0; i < s->len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s->s[i];
        o += (size_t)snprintf(out + o, cap - o, c >= 0x20 && c < 0x7f && c != '\'' ? "%c" : "\\x%02x", c);
    }
    out[o] = 0;
}

slm_status slmc_score_check_vocab(const slmrt_model *a, const char *a_name, const slmrt_model *b,
                                  const char *b_name, slm_diag *d) {
    const char *an = model_name(a, a_name), *bn = model_name(b, b_name);
    const slm_tokenizer *ta = &slmrt_model_ir(a)->tok, *tb = &slmrt_model_ir(b)->tok;
    const int va = slmrt_model_n_vocab(a), vb = slmrt_model_n_vocab(b);
    if (va != vb)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s and %s have different vocabularies: %d vs %d logits (the student must share the "
                            "teacher's tokenizer)",
                            an, bn, va, vb);
    if (ta->n_tokens != tb->n_tokens)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s and %s have different vocabularies: %u vs %u tokens (the student must share the "
                            "teacher's tokenizer)",
                            an, bn, ta->n_tokens, tb->n_tokens);
    for (uint32_t i = 0; i < ta->n_tokens; i++) {
        const slm_str *x = &ta->tokens[i], *y = &tb->tokens[i];
        if (x->len == y->len && !memcmp(x->s, y->s, x->len)) continue;
        char sx[64], sy[64];
        show_token(x, sx, sizeof sx);
        show_token(y, sy, sizeof sy);
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s and %s have different vocabularies: token %u is '%s' vs '%s' (the student must "
                            "share the teacher's tokenizer)",
                            an, bn, i, sx, sy);
    }
    return SLM_OK;
}

/* ------------------------------------------------------------ disk cache */

typedef struct cache_header {
    uint32_t version, n_vocab, chunk, first;
    uint64_t n_chunks, n_scored, n_ids;
    int32_t bos;
    uint32_t key_len;
    uint64_t checksum;
} cache_header;

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* FNV-1a, for the file name only: the header check decides validity. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Checksum of the payload: four independent multiply-xor lanes over 64-bit
 * words, so checking 2 GB costs a fraction of a second. Detects corruption,
 * not tampering. */
typedef struct checksum {
    uint64_t lane[4];
} checksum;

static void checksum_init(checksum *c) {
    for (int i = 0; i < 4; i++) c->lane[i] = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
}

static void checksum_add(checksum *c, const void *p, size_t n) {
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, b + i + 8 * l, 8);
            c->lane[l] = (c->lane[l] ^ w) * 0xBF58476D1CE4E5B9ull;
            c->lane[l] ^= c->lane[l] >> 29;
        }
    for (; i < n; i++) c->lane[0] = (c->lane[0] ^ b[i]) * 0x94D049BB133111EBull;
}

static uint64_t checksum_end(const checksum *c) {
    uint64_t h = 0;
    for (int l = 0; l < 4; l++) h = (h ^ c->lane[l]) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

static uint64_t payload_checksum(const slmc_teacher *t) {
    checksum c;
    checksum_init(&c);
    checksum_add(&c, t->lse, t->n_rows * sizeof *t->lse);
    checksum_add(&c, t->top1, t->n_rows * sizeof *t->top1);
    checksum_add(&c, t->logits, t->n_rows * (size_t)t->n_vocab * sizeof *t->logits);
    return checksum_end(&c);
}

static uint64_t file_bytes(const slmc_teacher *t, size_t key_len) {
    return HEADER_BYTES + pad8(key_len) + pad8(t->n_ids * sizeof(int32_t)) + t->n_rows * sizeof(double) +
           pad8(t->n_rows * sizeof(int32_t)) + (uint64_t)t->n_rows * (uint64_t)t->n_vocab * sizeof(float);
}

static void cache_path(const slmc_teacher *t, const char *dir, const char *key, char *out, size_t cap) {
    uint64_t h = 0xcbf29ce484222325ull;
    const uint32_t v = SLMC_TEACHER_CACHE_VERSION;
    h = fnv1a(h, &v, sizeof v);
    h = fnv1a(h, key, strlen(key) + 1);
    h = fnv1a(h, &t->plan.chunk, sizeof t->plan.chunk);
    h = fnv1a(h, &t->bos, sizeof t->bos);
    h = fnv1a(h, t->ids, t->n_ids * sizeof *t->ids);
    snprintf(out, cap, "%s/teacher-%016llx.tlogits", dir, (unsigned long long)h);
}

static void header_pack(const cache_header *h, unsigned char out[HEADER_BYTES]) {
    memset(out, 0, HEADER_BYTES);
    memcpy(out, CACHE_MAGIC, 8);
    memcpy(out + 8, &h->version, 4);
    memcpy(out + 12, &h->n_vocab, 4);
    memcpy(out + 16, &h->chunk, 4);
    memcpy(out + 20, &h->first, 4);
    memcpy(out + 24, &h->n_chunks, 8);
    memcpy(out + 32, &h->n_scored, 8);
    memcpy(out + 40, &h->n_ids, 8);
    memcpy(out + 48, &h->bos, 4);
    memcpy(out + 52, &h->key_len, 4);
    memcpy(out + 56, &h->checksum, 8);
}

static cache_header header_of(const slmc_teacher *t, const char *key) {
    return (cache_header){SLMC_TEACHER_CACHE_VERSION, (uint32_t)t->n_vocab, (uint32_t)t->plan.chunk,
                          (uint32_t)t->plan.first, t->plan.n_chunks, t->n_rows, t->n_ids, t->bos,
                          (uint32_t)strlen(key), 0};
}

static bool read_exact(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

/* Fills t's rows from path when the file is this run's; otherwise leaves
 * why in `why` and returns false. */
static bool cache_read(slmc_teacher *t, const char *path, const char *key, char *why, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, cap, "%s", errno == ENOENT ? "" : strerror(errno));
        return false;
    }
    const char *bad = NULL;
    struct stat sb;
    unsigned char raw[HEADER_BYTES], want[HEADER_BYTES];
    cache_header h = header_of(t, key);
    const size_t key_len = h.key_len;
    char *kbuf = NULL;
    int32_t *ibuf = NULL;
    if (fstat(fileno(f), &sb) != 0 || !read_exact(f, raw, sizeof raw)) bad = "truncated header";
    else {
        memcpy(&h.checksum, raw + 56, 8); /* the only field this run cannot predict */
        header_pack(&h, want);
        if (memcmp(raw, CACHE_MAGIC, 8)) bad = "not a teacher cache file";
        else if (memcmp(raw + 8, want + 8, 4)) bad = "another format version";
        else if (memcmp(raw, want, HEADER_BYTES)) bad = "header does not match this run (sizes, context or key)";
        else if ((uint64_t)sb.st_size != file_bytes(t, key_len)) bad = "size does not match its header (truncated?)";
    }
    if (!bad) {
        kbuf = malloc(pad8(key_len) + 1);
        ibuf = malloc(pad8(t->n_ids * sizeof *ibuf));
        if (!kbuf || !ibuf) bad = "out of memory";
        else if (!read_exact(f, kbuf, pad8(key_len)) || memcmp(kbuf, key, key_len)) bad = "key differs";
        else if (!read_exact(f, ibuf, pad8(t->n_ids * sizeof *ibuf)) ||
                 memcmp(ibuf, t->ids, t->n_ids * sizeof *ibuf))
            bad = "token ids differ";
    }
    if (!bad) {
        int32_t pad[2];
        const size_t top_bytes = t->n_rows * sizeof *t->top1;
        if (!read_exact(f, t->lse, t->n_rows * sizeof *t->lse) || !read_exact(f, t->top1, top_bytes) ||
            !read_exact(f, pad, pad8(top_bytes) - top_bytes) ||
            !read_exact(f, t->logits, t->n_rows * (size_t)t->n_vocab * sizeof *t->logits))
            bad = "truncated";
        else if (payload_checksum(t) != h.checksum) bad = "checksum mismatch (corrupt)";
    }
    for (size_t i = 0; !bad && i < t->n_rows; i++)
        if (t->top1[i] < 0 || t->top1[i] >= t->n_vocab) bad = "top-1 token out of range (corrupt)";
    free(kbuf);
    free(ibuf);
    fclose(f);
    snprintf(why, cap, "%s", bad ? bad : "");
    return !bad;
}

static bool write_all(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }

/* Writes t's rows to path through a temporary file and a rename. */
static bool cache_write(const slmc_teacher *t, const char *path, const char *key, char *why, size_t cap) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(why, cap, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    cache_header h = header_of(t, key);
    h.checksum = payload_checksum(t);
    unsigned char raw[HEADER_BYTES];
    header_pack(&h, raw);
    static const unsigned char zeros[8];
    const size_t key_len = h.key_len, id_bytes = t->n_ids * sizeof *t->ids, top_bytes = t->n_rows * sizeof *t->top1;
    bool ok = write_all(f, raw, sizeof raw) && write_all(f, key, key_len) &&
              write_all(f, zeros, pad8(key_len) - key_len) && write_all(f, t->ids, id_bytes) &&
              write_all(f, zeros, pad8(id_bytes) - id_bytes) && write_all(f, t->lse, t->n_rows * sizeof *t->lse) &&
              write_all(f, t->top1, top_bytes) && write_all(f, zeros, pad8(top_bytes) - top_bytes) &&
              write_all(f, t->logits, t->n_rows * (size_t)t->n_vocab * sizeof *t->logits);
    if (fclose(f) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    }
    return ok;
}

/* ------------------------------------------------------------ teacher */

static slm_status compute_rows(slmc_teacher *t, slm_diag *d) {
    const slmrt_kld_plan *p = &t->plan;
    const int V = t->n_vocab;
    slmrt_ctx *c = NULL;
    slmrt_ctx_params cp = {.n_ctx = p->chunk, .n_threads = t->n_threads};
    slm_status st = slmrt_ctx_new(t->model, &cp, &c, d);
    float *buf = st == SLM_OK ? malloc((size_t)p->chunk * V * sizeof *buf) : NULL;
    if (st == SLM_OK && !buf) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (size_t ci = 0; st == SLM_OK && ci < p->n_chunks; ci++) {
        st = slmrt_kld_eval_chunk(c, p, t->ids, ci, t->bos, buf, d);
        if (st != SLM_OK) break;
        t->n_forward++;
        const size_t row0 = ci * (size_t)p->n_scored;
#pragma omp parallel for schedule(static) num_threads(slmrt_ctx_n_threads(c))
        for (int j = 0; j < p->n_scored; j++) {
            float *row = t->logits + (row0 + (size_t)j) * V;
            memcpy(row, buf + (size_t)(p->first + j) * V, (size_t)V * sizeof *row);
            const slmrt_kld_row kr = slmrt_kld_row_of(row, V);
            t->lse[row0 + j] = kr.lse;
            t->top1[row0 + j] = kr.top1;
        }
    }
    if (st != SLM_OK) slm_diag_prefix(d, t->name);
    free(buf);
    slmrt_ctx_free(c);
    return st;
}

/* Reads the rows from the cache or computes them and writes the cache. */
static slm_status obtain_rows(slmc_teacher *t, const slmc_teacher_opts *o, slm_diag *d) {
    const bool use_cache = o->cache_dir && o->cache_key;
    char path[4096] = "", why[512] = "";
    if (use_cache) {
        cache_path(t, o->cache_dir, o->cache_key, path, sizeof path);
        const double t0 = now();
        if (cache_read(t, path, o->cache_key, why, sizeof why)) {
            t->from_cache = true;
            snprintf(t->note, sizeof t->note, "read %s (%.2f s)", path, now() - t0);
            return SLM_OK;
        }
    }
    slm_status st = compute_rows(t, d);
    if (st != SLM_OK || !use_cache) return st;
    const uint64_t limit = o->cache_max_bytes ? o->cache_max_bytes : SLMC_TEACHER_CACHE_MAX_DEFAULT;
    const uint64_t bytes = file_bytes(t, strlen(o->cache_key));
    char prefix[900] = "";
    if (*why) snprintf(prefix, sizeof prefix, "ignored %s: %s; recomputed; ", path, why);
    char wrote[1200];
    const double t0 = now();
    if (bytes > limit)
        snprintf(wrote, sizeof wrote, "not written: %.2f GiB is above the %.2f GiB limit", bytes / 1073741824.0,
                 limit / 1073741824.0);
    else if (cache_write(t, path, o->cache_key, why, sizeof why))
        snprintf(wrote, sizeof wrote, "wrote %s (%.1f MiB, %.2f s)", path, bytes / 1048576.0, now() - t0);
    else
        snprintf(wrote, sizeof wrote, "not written: %s", why);
    snprintf(t->note, sizeof t->note, "%s%s", prefix, wrote);
    return SLM_OK;
}

slm_status slmc_teacher_new(slmrt_model *teacher, const int32_t *ids, size_t n_ids, const slmc_teacher_opts *o,
                            slmc_teacher **out, slm_diag *d) {
    *out = NULL;
    if (o->n_ctx < 4) return slm_diag_set(d, SLM_ERR_USAGE, "context %d: expected at least 4 tokens", o->n_ctx);
    slmc_teacher *t = calloc(1, sizeof *t);
    if (!t) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    t->model = teacher;
    t->name = model_name(teacher, o->name);
    t->n_vocab = slmrt_model_n_vocab(teacher);
    t->bos = o->bos;
    t->n_threads = o->n_threads;
    t->n_ids = o->max_tokens && o->max_tokens < n_ids ? o->max_tokens : n_ids;
    const char *source = o->source ? o->source : "tokens";
    slm_status st = SLM_OK;
    if (t->bos >= t->n_vocab)
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: BOS id %d is outside the vocabulary (%d tokens)", t->name, t->bos,
                          t->n_vocab);
    for (size_t i = 0; st == SLM_OK && i < t->n_ids; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            st = slm_diag_set(d, SLM_ERR_INPUT, "%s: token %d at index %zu is outside the vocabulary of %s (%d tokens)",
                              source, ids[i], i, t->name, t->n_vocab);
    if (st == SLM_OK) st = slmrt_kld_plan_make(t->n_ids, o->n_ctx, o->short_one_chunk, source, &t->plan, d);
    if (st == SLM_OK) {
        /* only whole chunks are evaluated: keep just their ids (also the cache key) */
        t->n_ids = t->plan.n_chunks * (size_t)t->plan.chunk;
        t->n_rows = t->plan.n_chunks * (size_t)t->plan.n_scored;
        size_t cells;
        if (__builtin_mul_overflow(t->n_rows, (size_t)t->n_vocab, &cells) || cells > SIZE_MAX / sizeof(float))
            st = slm_diag_set(d, SLM_ERR_NOMEM, "teacher logits of %zu positions x %d tokens do not fit in memory",
                              t->n_rows, t->n_vocab);
        else {
            t->ids = malloc(t->n_ids * sizeof *t->ids);
            t->logits = malloc(cells * sizeof *t->logits);
            t->lse = malloc(t->n_rows * sizeof *t->lse);
            t->top1 = malloc(t->n_rows * sizeof *t->top1);
            if (!t->ids || !t->logits || !t->lse || !t->top1)
                st = slm_diag_set(d, SLM_ERR_NOMEM,
                                  "out of memory: the teacher's logits need %.2f GiB (%zu scored positions x %d "
                                  "tokens); use fewer tokens",
                                  cells * 4.0 / 1073741824.0, t->n_rows, t->n_vocab);
        }
    }
    if (st == SLM_OK) {
        memcpy(t->ids, ids, t->n_ids * sizeof *t->ids);
        const double t0 = now();
        st = obtain_rows(t, o, d);
        t->seconds = now() - t0;
    }
    if (st != SLM_OK) {
        slmc_teacher_free(t);
        return st;
    }
    *out = t;
    return SLM_OK;
}

void slmc_teacher_free(slmc_teacher *t) {
    if (!t) return;
    free(t->ids);
    free(t->logits);
    free(t->lse);
    free(t->top1);
    free(t);
}

const slmrt_kld_plan *slmc_teacher_plan(const slmc_teacher *t) { return &t->plan; }
uint64_t slmc_teacher_n_forward(const slmc_teacher *t) { return t->n_forward; }
bool slmc_teacher_from_cache(const slmc_teacher *t) { return t->from_cache; }
double slmc_teacher_seconds(const slmc_teacher *t) { return t->seconds; }
const char *slmc_teacher_cache_note(const slmc_teacher *t) { return t->note; }

/* ------------------------------------------------------------ students */

slm_status slmc_score_student(slmc_teacher *t, slmrt_model *student, slmc_score_result *r, slm_diag *d) {
    memset(r, 0, sizeof *r);
    slm_status st = slmc_score_check_vocab(t->model, t->name, student, NULL, d);
    if (st != SLM_OK) return st;
    const slmrt_kld_plan *p = &t->plan;
    const int V = t->n_vocab;
    const double t0 = now();
    slmrt_ctx *c = NULL;
    slmrt_kld k = {0};
    float *buf = NULL;
    slmrt_kld_row *srow = NULL;
    double *kl = NULL;
    slmrt_ctx_params cp = {.n_ctx = p->chunk, .n_threads = t->n_threads};
    st = slmrt_ctx_new(student, &cp, &c, d);
    if (st == SLM_OK) st = slmrt_kld_init(&k, V, t->n_rows, true, d);
    if (st == SLM_OK) {
        buf = malloc((size_t)p->chunk * V * sizeof *buf);
        srow = malloc((size_t)p->n_scored * sizeof *srow);
        kl = malloc((size_t)p->n_scored * sizeof *kl);
        if (!buf || !srow || !kl) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    for (size_t ci = 0; st == SLM_OK && ci < p->n_chunks; ci++) {
        st = slmrt_kld_eval_chunk(c, p, t->ids, ci, t->bos, buf, d);
        if (st != SLM_OK) break;
        r->student_forward++;
        /* the rows' normalisers and KL in parallel, the sums in order */
        const size_t row0 = ci * (size_t)p->n_scored;
#pragma omp parallel for schedule(static) num_threads(slmrt_ctx_n_threads(c))
        for (int j = 0; j < p->n_scored; j++) {
            srow[j] = slmrt_kld_row_of(buf + (size_t)(p->first + j) * V, V);
            const slmrt_kld_row ref = {t->logits + (row0 + (size_t)j) * V, t->lse[row0 + j], t->top1[row0 + j]};
            kl[j] = slmrt_kld_kl(&srow[j], &ref, V);
        }
        for (int j = 0; j < p->n_scored; j++) {
            const slmrt_kld_row ref = {t->logits + (row0 + (size_t)j) * V, t->lse[row0 + j], t->top1[row0 + j]};
            slmrt_kld_add_kl(&k, &srow[j], &ref, t->ids[ci * (size_t)p->chunk + (size_t)(p->first + j) + 1], kl[j]);
        }
    }
    if (st == SLM_OK) st = slmrt_kld_summarize(&k, &r->s, d);
    if (st != SLM_OK) slm_diag_prefix(d, model_name(student, NULL));
    r->n_chunks = p->n_chunks;
    r->chunk = p->chunk;
    r->seconds = now() - t0;
    free(buf);
    free(srow);
    free(kl);
    slmrt_kld_free(&k);
    slmrt_ctx_free(c);
    return st;
}
