/* slm_gguf_read.c - GGUF v2/v3 reader (layout: formats.md §1).
 *
 * The file is memory-mapped and every count, length, type id and offset is
 * checked against the bytes actually present before it is used, so a
 * malformed or truncated file gives an error naming the key or tensor rather
 * than a crash or a huge allocation. Tensor bytes are borrowed from the map
 * (zero copy); the map belongs to the model's input list.
 *
 * Metadata is parsed into a scratch arena first, because "{arch}." keys can
 * only be recognised once general.architecture is known and per-token arrays
 * only once the token list is, whatever order the file stores them in. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader copies little-endian arrays verbatim; big-endian hosts are not supported"
#endif

/* Smallest possible records, used to reject counts the file cannot hold
 * before allocating anything for them. */
#define MIN_KV_BYTES 13    /* key length 8 + value type 4 + a 1-byte value */
#define MIN_TINFO_BYTES 32 /* name length 8 + n_dims 4 + ne[0] 8 + type 4 + offset 8 */

typedef struct cursor {
    const uint8_t *base;
    size_t size, pos;
    char what[200]; /* what is being read, for truncation messages */
    slm_diag *d;
} cursor;

typedef struct tensor_info {
    char name[SLM_MAX_NAME];
    uint32_t n_dims;
    int64_t ne[SLM_MAX_DIMS];
    int32_t type;
    uint64_t offset; /* relative to the data section */
    uint64_t nbytes;
} tensor_info;

static size_t bytes_left(const cursor *c) { return c->size - c->pos; }

static void set_what(cursor *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void set_what(cursor *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
}

static bool take(cursor *c, size_t n, const uint8_t **p) {
    if (n > bytes_left(c)) {
        slm_diag_set(c->d, SLM_ERR_INPUT,
                     "unexpected end of file at byte %zu reading %s (%zu bytes needed, %zu left)", c->pos, c->what,
                     n, bytes_left(c));
        return false;
    }
    *p = c->base + c->pos;
    c->pos += n;
    return true;
}

static bool rd_u8(cursor *c, uint8_t *x) {
    const uint8_t *p;
    if (!take(c, 1, &p)) return false;
    *x = *p;
    return true;
}

static bool rd_u16(cursor *c, uint16_t *x) {
    const uint8_t *p;
    if (!take(c, 2, &p)) return false;
    memcpy(x, p, 2);
    return true;
}

static bool rd_u32(cursor *c, uint32_t *x) {
    const uint8_t *p;
    if (!take(c, 4, &p)) return false;
    memcpy(x, p, 4);
    return true;
}

static bool rd_u64(cursor *c, uint64_t *x) {
    const uint8_t *p;
    if (!take(c, 8, &p)) return false;
    memcpy(x, p, 8);
    return true;
}

static bool rd_i32(cursor *c, int32_t *x) {
    uint32_t u;
    if (!rd_u32(c, &u)) return false;
    memcpy(x, &u, 4);
    return true;
}

/* A GGUF string: u64 length, then that many bytes (no terminator). */
static bool rd_str(cursor *c, const char **s, uint64_t *len) {
    size_t at = c->pos;
    if (!rd_u64(c, len)) return false;
    if (*len > bytes_left(c)) {
        slm_diag_set(c->d, SLM_ERR_INPUT,
                     "string length %llu at byte %zu runs past the end of the file (%zu bytes left) reading %s",
                     (unsigned long long)*len, at, bytes_left(c), c->what);
        return false;
    }
    const uint8_t *p;
    take(c, (size_t)*len, &p);
    *s = (const char *)p;
    return true;
}

/* ---------------------------------------------------------- metadata */

static bool read_scalar(cursor *c, slm_vtype t, slm_value *v) {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    v->type = t;
    switch (t) {
    case SLM_V_U8: if (!rd_u8(c, &u8)) return false; v->v.u64 = u8; return true;
    case SLM_V_I8: if (!rd_u8(c, &u8)) return false; v->v.i64 = (int8_t)u8; return true;
    case SLM_V_U16: if (!rd_u16(c, &u16)) return false; v->v.u64 = u16; return true;
    case SLM_V_I16: if (!rd_u16(c, &u16)) return false; v->v.i64 = (int16_t)u16; return true;
    case SLM_V_U32: if (!rd_u32(c, &u32)) return false; v->v.u64 = u32; return true;
    case SLM_V_I32: if (!rd_u32(c, &u32)) return false; v->v.i64 = (int32_t)u32; return true;
    case SLM_V_U64: if (!rd_u64(c, &u64)) return false; v->v.u64 = u64; return true;
    case SLM_V_I64: if (!rd_u64(c, &u64)) return false; v->v.i64 = (int64_t)u64; return true;
    case SLM_V_BOOL: if (!rd_u8(c, &u8)) return false; v->v.b = u8 != 0; return true;
    case SLM_V_F32: {
        float f;
        if (!rd_u32(c, &u32)) return false;
        memcpy(&f, &u32, 4);
        v->v.f64 = f;
        return true;
    }
    case SLM_V_F64: {
        double f;
        if (!rd_u64(c, &u64)) return false;
        memcpy(&f, &u64, 8);
        v->v.f64 = f;
        return true;
    }
    default: return false; /* STR/ARR are not scalars; callers never pass them */
    }
}

static bool valid_vtype(int32_t t) { return t >= 0 && t < SLM_V_COUNT; }

static bool read_array(cursor *c, slm_model *scratch, const char *key, slm_value *v) {
    int32_t et;
    uint64_t n;
    if (!rd_i32(c, &et)) return false;
    if (et == SLM_V_ARR) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "key '%.100s': nested arrays are not allowed", key);
        return false;
    }
    if (!valid_vtype(et)) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "key '%.100s': unknown array element type %d (expected 0..12)", key,
                     (int)et);
        return false;
    }
    if (!rd_u64(c, &n)) return false;
    size_t es = et == SLM_V_STR ? 8 : slm_vtype_size((slm_vtype)et);
    if (n > bytes_left(c) / es) {
        slm_diag_set(c->d, SLM_ERR_INPUT,
                     "key '%.100s': array of %llu %s elements cannot fit in the %zu bytes left in the file", key,
                     (unsigned long long)n, slm_vtype_name((slm_vtype)et), bytes_left(c));
        return false;
    }
    v->type = SLM_V_ARR;
    v->arr_type = (slm_vtype)et;
    v->n = n;
    if (et != SLM_V_STR) {
        const uint8_t *p = NULL;
        if (!take(c, (size_t)n * es, &p)) return false; /* cannot fail: checked above */
        void *a = slm_model_alloc(scratch, (size_t)n * es + 1);
        if (!a) {
            slm_diag_set(c->d, SLM_ERR_NOMEM, "key '%.100s': out of memory", key);
            return false;
        }
        memcpy(a, p, (size_t)n * es);
        v->v.arr = a;
        return true;
    }
    slm_str *a = slm_model_alloc(scratch, (size_t)n * sizeof *a + 1);
    if (!a) {
        slm_diag_set(c->d, SLM_ERR_NOMEM, "key '%.100s': out of memory", key);
        return false;
    }
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        uint64_t len;
        set_what(c, "string %llu of the array in key '%.100s'", (unsigned long long)i, key);
        if (!rd_str(c, &s, &len)) return false;
        a[i].s = slm_model_strndup(scratch, s, (size_t)len);
        if (!a[i].s) {
            slm_diag_set(c->d, SLM_ERR_NOMEM, "key '%.100s': out of memory", key);
            return false;
        }
        a[i].len = len;
    }
    v->v.arr = a;
    return true;
}

static bool read_value(cursor *c, slm_model *scratch, const char *key, int32_t type, slm_value *v) {
    memset(v, 0, sizeof *v);
    if (!valid_vtype(type)) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "key '%.100s': unknown value type %d (expected 0..12)", key, (int)type);
        return false;
    }
    if (type == SLM_V_ARR) return read_array(c, scratch, key, v);
    if (type == SLM_V_STR) {
        const char *s;
        uint64_t len;
        if (!rd_str(c, &s, &len)) return false;
        v->type = SLM_V_STR;
        v->v.str.s = slm_model_strndup(scratch, s, (size_t)len);
        v->v.str.len = len;
        if (!v->v.str.s) {
            slm_diag_set(c->d, SLM_ERR_NOMEM, "key '%.100s': out of memory", key);
            return false;
        }
        return true;
    }
    return read_scalar(c, (slm_vtype)type, v);
}

static bool read_kvs(cursor *c, slm_model *scratch, slm_kv *kvs, uint64_t n_kv) {
    for (uint64_t i = 0; i < n_kv; i++) {
        const char *s;
        uint64_t len;
        set_what(c, "the key of metadata entry %llu", (unsigned long long)i);
        if (!rd_str(c, &s, &len)) return false;
        if (len == 0 || memchr(s, 0, (size_t)len)) {
            slm_diag_set(c->d, SLM_ERR_INPUT, "metadata entry %llu: key is empty or contains a NUL byte",
                         (unsigned long long)i);
            return false;
        }
        kvs[i].key = slm_model_strndup(scratch, s, (size_t)len);
        if (!kvs[i].key) {
            slm_diag_set(c->d, SLM_ERR_NOMEM, "out of memory reading metadata");
            return false;
        }
        int32_t type;
        set_what(c, "the value type of key '%.100s'", kvs[i].key);
        if (!rd_i32(c, &type)) return false;
        set_what(c, "the value of key '%.100s'", kvs[i].key);
        if (!read_value(c, scratch, kvs[i].key, type, &kvs[i].value)) return false;
    }
    return true;
}

static int cmp_kv_key(const void *a, const void *b) {
    return strcmp((*(const slm_kv *const *)a)->key, (*(const slm_kv *const *)b)->key);
}

/* Sorting finds duplicates in n log n: a crafted file may hold millions. */
static bool check_unique_keys(slm_kv *kvs, uint64_t n, slm_diag *d) {
    if (n < 2) return true;
    slm_kv **sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) {
        slm_diag_set(d, SLM_ERR_NOMEM, "out of memory checking metadata keys");
        return false;
    }
    for (uint64_t i = 0; i < n; i++) sorted[i] = &kvs[i];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_kv_key);
    for (uint64_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
            slm_diag_set(d, SLM_ERR_INPUT, "duplicate metadata key '%.100s'", sorted[i]->key);
            free(sorted);
            return false;
        }
    }
    free(sorted);
    return true;
}

static bool find_alignment(const slm_kv *kvs, uint64_t n, uint32_t *alignment, slm_diag *d) {
    *alignment = SLM_GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n; i++) {
        if (strcmp(kvs[i].key, "general.alignment") != 0) continue;
        const slm_value *v = &kvs[i].value;
        if (v->type != SLM_V_U32) {
            slm_diag_set(d, SLM_ERR_INPUT, "key 'general.alignment' has type %s, expected u32",
                         v->type == SLM_V_ARR ? "array" : slm_vtype_name(v->type));
            return false;
        }
        uint32_t a = (uint32_t)v->v.u64;
        if (a == 0 || (a & (a - 1)) != 0) {
            slm_diag_set(d, SLM_ERR_INPUT, "key 'general.alignment' is %u, expected a power of two", a);
            return false;
        }
        *alignment = a;
    }
    return true;
}

/* ------------------------------------------------------- tensor infos */

static bool read_tensor_info(cursor *c, uint64_t i, tensor_info *ti) {
    const char *s;
    uint64_t len;
    set_what(c, "the name of tensor info %llu", (unsigned long long)i);
    if (!rd_str(c, &s, &len)) return false;
    if (len == 0 || len >= SLM_MAX_NAME) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "tensor info %llu: name '%.*s%s' is %llu bytes, expected 1..%d",
                     (unsigned long long)i, (int)(len < 80 ? len : 80), s, len > 80 ? "..." : "",
                     (unsigned long long)len, SLM_MAX_NAME - 1);
        return false;
    }
    if (memchr(s, 0, (size_t)len)) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "tensor info %llu: name contains a NUL byte", (unsigned long long)i);
        return false;
    }
    memcpy(ti->name, s, (size_t)len);
    ti->name[len] = '\0';
    set_what(c, "tensor info '%s'", ti->name);
    if (!rd_u32(c, &ti->n_dims)) return false;
    if (ti->n_dims < 1 || ti->n_dims > SLM_MAX_DIMS) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "tensor '%s': n_dims is %u, expected 1..%d", ti->name, ti->n_dims,
                     SLM_MAX_DIMS);
        return false;
    }
    for (int k = 0; k < SLM_MAX_DIMS; k++) ti->ne[k] = 1;
    for (uint32_t k = 0; k < ti->n_dims; k++) {
        uint64_t u;
        if (!rd_u64(c, &u)) return false;
        memcpy(&ti->ne[k], &u, 8);
        if (ti->ne[k] < 0) {
            slm_diag_set(c->d, SLM_ERR_INPUT, "tensor '%s': ne[%u] is %lld, expected >= 0", ti->name, k,
                         (long long)ti->ne[k]);
            return false;
        }
    }
    if (!rd_i32(c, &ti->type) || !rd_u64(c, &ti->offset)) return false;
    const slm_type_traits *tr = slm_type_traits_get(ti->type);
    if (!tr) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "tensor '%s': unknown type id %d", ti->name, (int)ti->type);
        return false;
    }
    if (ti->ne[0] % tr->blck != 0) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "tensor '%s': ne[0] = %lld is not a multiple of the %s block size %d",
                     ti->name, (long long)ti->ne[0], tr->name, tr->blck);
        return false;
    }
    /* nbytes = ne[0]/blck * type_size * ne[1] * ne[2] * ne[3], overflow-checked */
    uint64_t nb = (uint64_t)(ti->ne[0] / tr->blck);
    bool overflow = __builtin_mul_overflow(nb, (uint64_t)tr->type_size, &nb);
    for (int k = 1; k < SLM_MAX_DIMS; k++) overflow |= __builtin_mul_overflow(nb, (uint64_t)ti->ne[k], &nb);
    if (overflow || nb > c->size) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "tensor '%s': shape [%lld, %lld, %lld, %lld] of %s is larger than the file",
                     ti->name, (long long)ti->ne[0], (long long)ti->ne[1], (long long)ti->ne[2],
                     (long long)ti->ne[3], tr->name);
        return false;
    }
    ti->nbytes = nb;
    return true;
}

static int cmp_tinfo_name(const void *a, const void *b) {
    return strcmp((*(const tensor_info *const *)a)->name, (*(const tensor_info *const *)b)->name);
}

static int cmp_tinfo_offset(const void *a, const void *b) {
    const tensor_info *x = *(const tensor_info *const *)a, *y = *(const tensor_info *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Names unique; offsets aligned, inside the data section and not
 * overlapping. llama.cpp insists on exactly sequential offsets; any
 * non-overlapping aligned layout is just as readable, so accept it. */
static bool check_tensor_layout(tensor_info *ti, uint64_t n, uint32_t alignment, uint64_t data_bytes,
                                slm_diag *d) {
    for (uint64_t i = 0; i < n; i++) {
        if (ti[i].offset % alignment != 0) {
            slm_diag_set(d, SLM_ERR_INPUT, "tensor '%s': offset %llu is not a multiple of the alignment %u",
                         ti[i].name, (unsigned long long)ti[i].offset, alignment);
            return false;
        }
        if (ti[i].offset > data_bytes || ti[i].nbytes > data_bytes - ti[i].offset) {
            slm_diag_set(d, SLM_ERR_INPUT,
                         "tensor '%s': data at offset %llu (%llu bytes) lies outside the %llu-byte data section "
                         "(file truncated?)",
                         ti[i].name, (unsigned long long)ti[i].offset, (unsigned long long)ti[i].nbytes,
                         (unsigned long long)data_bytes);
            return false;
        }
    }
    if (n < 2) return true;
    tensor_info **sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) {
        slm_diag_set(d, SLM_ERR_NOMEM, "out of memory checking tensor infos");
        return false;
    }
    bool ok = true;
    for (uint64_t i = 0; i < n; i++) sorted[i] = &ti[i];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_tinfo_name);
    for (uint64_t i = 1; i < n && ok; i++) {
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            slm_diag_set(d, SLM_ERR_INPUT, "duplicate tensor name '%s'", sorted[i]->name);
            ok = false;
        }
    }
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_tinfo_offset);
    const tensor_info *reach = NULL; /* the tensor whose data ends furthest so far */
    for (uint64_t i = 0; i < n && ok; i++) {
        const tensor_info *t = sorted[i];
        if (t->nbytes == 0) continue;
        if (reach && reach->offset + reach->nbytes > t->offset) {
            slm_diag_set(d, SLM_ERR_INPUT,
                         "tensor '%s' (offset %llu, %llu bytes) overlaps tensor '%s' (offset %llu, %llu bytes)",
                         t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes, reach->name,
                         (unsigned long long)reach->offset, (unsigned long long)reach->nbytes);
            ok = false;
        }
        if (!reach || t->offset + t->nbytes > reach->offset + reach->nbytes) reach = t;
    }
    free(sorted);
    return ok;
}

/* --------------------------------------------------------------- file */

static bool read_header(cursor *c, uint32_t *version, uint64_t *n_tensors, uint64_t *n_kv) {
    if (c->size < 4) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "file is %zu bytes, too short for a GGUF header", c->size);
        return false;
    }
    const uint8_t *mg = c->base;
    if (memcmp(mg, "GGUF", 4) != 0) {
        char shown[5];
        for (int i = 0; i < 4; i++) shown[i] = isprint(mg[i]) ? (char)mg[i] : '.';
        shown[4] = '\0';
        slm_diag_set(c->d, SLM_ERR_INPUT, "bad magic %02x %02x %02x %02x ('%s'), expected 'GGUF' (not a GGUF file)",
                     mg[0], mg[1], mg[2], mg[3], shown);
        return false;
    }
    c->pos = 4;
    set_what(c, "the GGUF version");
    if (!rd_u32(c, version)) return false;
    uint32_t v = *version;
    uint32_t swapped = __builtin_bswap32(v);
    if ((v & 0xFFFF) == 0 && swapped >= 1 && swapped <= 3) {
        slm_diag_set(c->d, SLM_ERR_UNSUPPORTED,
                     "big-endian GGUF (version field reads %u byte-swapped) is unsupported", swapped);
        return false;
    }
    if (v < 2 || v > 3) {
        slm_diag_set(c->d, SLM_ERR_UNSUPPORTED, "GGUF version %u is not supported (expected 2 or 3)", v);
        return false;
    }
    set_what(c, "n_tensors");
    if (!rd_u64(c, n_tensors)) return false;
    set_what(c, "n_kv");
    if (!rd_u64(c, n_kv)) return false;
    size_t left = bytes_left(c);
    if (*n_tensors > left / MIN_TINFO_BYTES) {
        slm_diag_set(c->d, SLM_ERR_INPUT,
                     "n_tensors is %llu but the %zu bytes after the header hold at most %zu tensor infos",
                     (unsigned long long)*n_tensors, left, left / MIN_TINFO_BYTES);
        return false;
    }
    if (*n_kv > left / MIN_KV_BYTES ||
        *n_kv * MIN_KV_BYTES > left - *n_tensors * MIN_TINFO_BYTES) {
        slm_diag_set(c->d, SLM_ERR_INPUT,
                     "n_kv is %llu but the %zu bytes after the header cannot hold that many key/values "
                     "besides %llu tensor infos",
                     (unsigned long long)*n_kv, left, (unsigned long long)*n_tensors);
        return false;
    }
    return true;
}

/* Hands the parsed metadata to the model: known keys into hp/tok (the
 * architecture and token list first, see the file comment), the rest kept
 * in file order. general.alignment is the writer's to decide. */
static bool absorb_all(slm_model *m, const slm_kv *kvs, uint64_t n, slm_diag *d) {
    static const char *const first[] = {"general.architecture", "tokenizer.ggml.tokens"};
    for (size_t f = 0; f < 2; f++)
        for (uint64_t i = 0; i < n; i++)
            if (strcmp(kvs[i].key, first[f]) == 0) {
                if (!slm_gguf_absorb_kv(m, kvs[i].key, &kvs[i].value, d)) {
                    if (d->status != SLM_OK) return false;
                    if (slm_model_set_kv(m, kvs[i].key, &kvs[i].value) != SLM_OK) goto nomem;
                }
            }
    for (uint64_t i = 0; i < n; i++) {
        const char *k = kvs[i].key;
        if (strcmp(k, first[0]) == 0 || strcmp(k, first[1]) == 0 || strcmp(k, "general.alignment") == 0) continue;
        if (slm_gguf_absorb_kv(m, k, &kvs[i].value, d)) continue;
        if (d->status != SLM_OK) return false;
        if (slm_model_set_kv(m, k, &kvs[i].value) != SLM_OK) goto nomem;
    }
    return true;
nomem:
    slm_diag_set(d, SLM_ERR_NOMEM, "out of memory storing metadata");
    return false;
}

static bool parse(cursor *c, slm_model *m, slm_model *scratch) {
    uint32_t version;
    uint64_t n_tensors, n_kv;
    if (!read_header(c, &version, &n_tensors, &n_kv)) return false;

    bool ok = false;
    tensor_info *ti = NULL;
    slm_kv *kvs = calloc((size_t)n_kv + 1, sizeof *kvs);
    if (!kvs) {
        slm_diag_set(c->d, SLM_ERR_NOMEM, "out of memory for %llu key/values", (unsigned long long)n_kv);
        return false;
    }
    uint32_t alignment;
    if (!read_kvs(c, scratch, kvs, n_kv) || !check_unique_keys(kvs, n_kv, c->d) ||
        !find_alignment(kvs, n_kv, &alignment, c->d))
        goto done;

    if (n_tensors > bytes_left(c) / MIN_TINFO_BYTES) {
        slm_diag_set(c->d, SLM_ERR_INPUT, "n_tensors is %llu but the %zu bytes after the metadata hold at most %zu "
                     "tensor infos", (unsigned long long)n_tensors, bytes_left(c), bytes_left(c) / MIN_TINFO_BYTES);
        goto done;
    }
    ti = calloc((size_t)n_tensors + 1, sizeof *ti);
    if (!ti) {
        slm_diag_set(c->d, SLM_ERR_NOMEM, "out of memory for %llu tensor infos", (unsigned long long)n_tensors);
        goto done;
    }
    for (uint64_t i = 0; i < n_tensors; i++)
        if (!read_tensor_info(c, i, &ti[i])) goto done;

    uint64_t data_start = ((uint64_t)c->pos + alignment - 1) / alignment * alignment;
    uint64_t data_bytes = data_start <= c->size ? c->size - data_start : 0;
    if (!check_tensor_layout(ti, n_tensors, alignment, data_bytes, c->d)) goto done;

    for (uint64_t i = 0; i < n_tensors; i++) {
        slm_tensor *t;
        if (slm_model_add_tensor(m, ti[i].name, (slm_type)ti[i].type, (int)ti[i].n_dims, ti[i].ne, &t, c->d) !=
            SLM_OK)
            goto done;
        if (t->nbytes != ti[i].nbytes) {
            slm_diag_set(c->d, SLM_ERR_INTERNAL, "tensor '%s': size disagrees with the model (%zu vs %llu bytes)",
                         t->name, t->nbytes, (unsigned long long)ti[i].nbytes);
            goto done;
        }
        /* an empty tensor may sit at the very end, past the mapped bytes */
        t->src = t->nbytes ? c->base + data_start + ti[i].offset : c->base;
        t->data = t->src;
    }
    ok = absorb_all(m, kvs, n_kv, c->d);
done:
    free(ti);
    free(kvs);
    return ok;
}

slm_status slm_gguf_read(const char *path, slm_model **out, slm_diag *d) {
    *out = NULL;
    slm_diag ld = {0};
    const void *map = NULL;
    size_t size = 0;
    slm_model *m = NULL, *scratch = NULL;
    if (slm_file_map(path, &map, &size, &ld) != SLM_OK) goto fail;
    m = slm_model_new();
    scratch = slm_model_new();
    if (!m || !scratch) {
        slm_file_unmap(map, size);
        slm_diag_set(&ld, SLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (slm_model_add_input(m, path, (void *)map, size) != SLM_OK) {
        slm_file_unmap(map, size);
        slm_diag_set(&ld, SLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->source_format = slm_model_strdup(m, "gguf");
    cursor c = {.base = map, .size = size, .pos = 0, .d = &ld};
    if (!m->source_format) {
        slm_diag_set(&ld, SLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (!parse(&c, m, scratch)) goto fail;
    slm_model_free(scratch);
    *out = m;
    return SLM_OK;
fail:
    slm_model_free(scratch);
    slm_model_free(m);
    if (ld.status == SLM_OK) slm_diag_set(&ld, SLM_ERR_INTERNAL, "reading failed without a diagnostic");
    slm_diag_prefix(&ld, path);
    return slm_diag_set(d, ld.status, "%s", ld.msg);
}
