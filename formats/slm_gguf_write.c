/* slm_gguf_write.c - GGUF v3 writer (layout: formats.md §1).
 *
 * Everything that can be checked is checked before the output file is
 * created (types, encoders, block sizes, metadata values). Tensors are then
 * streamed one at a time, so peak memory follows the largest tensor, and a
 * tensor whose out_type differs from its type is converted a batch of rows at
 * a time, each row encoded with out_type's quantize_row and the tensor's
 * importance weights, on the caller's threads. The file is written under a
 * temporary name and renamed only when complete; any failure removes it. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_gguf.h"
#include "slm_qblock.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF writer emits host-order arrays verbatim; big-endian hosts are not supported"
#endif

#define GGUF_VERSION 3
#define CONVERT_CHUNK_FLOATS ((size_t)1 << 22) /* elements encoded per batch: up to 16 MB of f32 */
#define ENCODE_ITEM_FLOATS ((size_t)1 << 15)   /* elements per unit of parallel work */

/* ------------------------------------------------------------ encoding */

static slm_status w_bytes(slm_outfile *f, const void *p, size_t n, slm_diag *d) {
    return slm_outfile_write(f, p, n, d);
}
static slm_status w_u32(slm_outfile *f, uint32_t x, slm_diag *d) { return w_bytes(f, &x, 4, d); }
static slm_status w_u64(slm_outfile *f, uint64_t x, slm_diag *d) { return w_bytes(f, &x, 8, d); }
static slm_status w_i32(slm_outfile *f, int32_t x, slm_diag *d) { return w_bytes(f, &x, 4, d); }

static slm_status w_str(slm_outfile *f, const char *s, uint64_t len, slm_diag *d) {
    slm_status st = w_u64(f, len, d);
    return st != SLM_OK ? st : w_bytes(f, s, (size_t)len, d);
}

static slm_status w_scalar(slm_outfile *f, const slm_value *v, slm_diag *d) {
    switch (v->type) {
    case SLM_V_U8: { uint8_t x = (uint8_t)v->v.u64; return w_bytes(f, &x, 1, d); }
    case SLM_V_I8: { int8_t x = (int8_t)v->v.i64; return w_bytes(f, &x, 1, d); }
    case SLM_V_U16: { uint16_t x = (uint16_t)v->v.u64; return w_bytes(f, &x, 2, d); }
    case SLM_V_I16: { int16_t x = (int16_t)v->v.i64; return w_bytes(f, &x, 2, d); }
    case SLM_V_U32: return w_u32(f, (uint32_t)v->v.u64, d);
    case SLM_V_I32: return w_i32(f, (int32_t)v->v.i64, d);
    case SLM_V_U64: return w_u64(f, v->v.u64, d);
    case SLM_V_I64: { int64_t x = v->v.i64; return w_bytes(f, &x, 8, d); }
    case SLM_V_F32: { float x = (float)v->v.f64; return w_bytes(f, &x, 4, d); }
    case SLM_V_F64: { double x = v->v.f64; return w_bytes(f, &x, 8, d); }
    case SLM_V_BOOL: { uint8_t x = v->v.b ? 1 : 0; return w_bytes(f, &x, 1, d); }
    default: return slm_diag_set(d, SLM_ERR_INTERNAL, "not a scalar value type %d", (int)v->type);
    }
}

static slm_status w_kv(slm_outfile *f, const char *key, const slm_value *v, slm_diag *d) {
    slm_status st = w_str(f, key, strlen(key), d);
    if (st == SLM_OK) st = w_i32(f, (int32_t)v->type, d);
    if (st != SLM_OK) return st;
    if (v->type == SLM_V_STR) return w_str(f, v->v.str.s, v->v.str.len, d);
    if (v->type != SLM_V_ARR) return w_scalar(f, v, d);
    st = w_i32(f, (int32_t)v->arr_type, d);
    if (st == SLM_OK) st = w_u64(f, v->n, d);
    if (st != SLM_OK || v->n == 0) return st;
    if (v->arr_type != SLM_V_STR) return w_bytes(f, v->v.arr, (size_t)v->n * slm_vtype_size(v->arr_type), d);
    const slm_str *a = v->v.arr;
    for (uint64_t i = 0; i < v->n && st == SLM_OK; i++) st = w_str(f, a[i].s, a[i].len, d);
    return st;
}

/* A value must be writable as-is; catching a bad one here keeps the output
 * from being abandoned half-way. */
static slm_status check_value(const char *key, const slm_value *v, slm_diag *d) {
    if ((unsigned)v->type >= SLM_V_COUNT)
        return slm_diag_set(d, SLM_ERR_USAGE, "key '%s': invalid value type %d", key, (int)v->type);
    if (v->type == SLM_V_STR && v->v.str.len && !v->v.str.s)
        return slm_diag_set(d, SLM_ERR_USAGE, "key '%s': string has no bytes", key);
    if (v->type != SLM_V_ARR) return SLM_OK;
    if ((unsigned)v->arr_type >= SLM_V_COUNT || v->arr_type == SLM_V_ARR)
        return slm_diag_set(d, SLM_ERR_USAGE, "key '%s': invalid array element type %d (nested arrays are not "
                            "allowed)", key, (int)v->arr_type);
    if (v->n && !v->v.arr) return slm_diag_set(d, SLM_ERR_USAGE, "key '%s': array has no elements", key);
    if (v->arr_type == SLM_V_STR) {
        const slm_str *a = v->v.arr;
        for (uint64_t i = 0; i < v->n; i++)
            if (a[i].len && !a[i].s)
                return slm_diag_set(d, SLM_ERR_USAGE, "key '%s': string %llu has no bytes", key,
                                    (unsigned long long)i);
    }
    return SLM_OK;
}

/* --------------------------------------------------------------- plan */

typedef struct kv_plan {
    slm_kv *structured; /* from hp/tok (slm_gguf_model_kvs) */
    uint32_t n_structured;
    uint64_t n_kv;      /* total written */
} kv_plan;

static bool in_list(const slm_kv *kv, uint32_t n, const char *key) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0) return true;
    return false;
}

/* Free metadata that the writer emits itself (or from hp/tok) is skipped. */
static bool free_kv_written(const kv_plan *p, const char *key) {
    return strcmp(key, "general.architecture") != 0 && strcmp(key, "general.alignment") != 0 &&
           !in_list(p->structured, p->n_structured, key);
}

static slm_status plan_kvs(const slm_model *m, uint32_t alignment, kv_plan *p, slm_diag *d) {
    if (!m->hp.arch[0])
        return slm_diag_set(d, SLM_ERR_USAGE, "model has no architecture (general.architecture), required in GGUF");
    slm_status st = slm_gguf_model_kvs(m, &p->structured, &p->n_structured, d);
    if (st != SLM_OK) return st;
    p->n_kv = 1 + p->n_structured + (alignment != SLM_GGUF_DEFAULT_ALIGNMENT);
    for (uint32_t i = 0; i < m->n_kv; i++) {
        if (!free_kv_written(p, m->kv[i].key)) continue;
        if ((st = check_value(m->kv[i].key, &m->kv[i].value, d)) != SLM_OK) return st;
        p->n_kv++;
    }
    for (uint32_t i = 0; i < p->n_structured; i++)
        if ((st = check_value(p->structured[i].key, &p->structured[i].value, d)) != SLM_OK) return st;
    return SLM_OK;
}

/* Output size of each tensor in its out_type; fails before anything is
 * written when a tensor cannot be produced in that type. */
static slm_status plan_tensors(const slm_model *m, uint64_t *nbytes, uint64_t *total, uint32_t alignment,
                               slm_diag *d) {
    *total = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        const slm_type_traits *out = slm_type_traits_get(t->out_type);
        const slm_type_traits *in = slm_type_traits_get(t->type);
        if (!out || !in)
            return slm_diag_set(d, SLM_ERR_USAGE, "tensor '%s': invalid type id %d", t->name,
                                (int)(out ? t->type : t->out_type));
        if (t->n_dims < 1 || t->n_dims > SLM_MAX_DIMS)
            return slm_diag_set(d, SLM_ERR_USAGE, "tensor '%s': %d dimensions, expected 1..%d", t->name, t->n_dims,
                                SLM_MAX_DIMS);
        if (t->ne[0] % out->blck != 0)
            return slm_diag_set(d, SLM_ERR_USAGE, "tensor '%s': ne[0] = %lld is not a multiple of the %s block size %d",
                                t->name, (long long)t->ne[0], out->name, out->blck);
        if (t->out_type != t->type && !out->quantize_row && !out->from_f32)
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor '%s': no encoder for type %s yet", t->name, out->name);
        if (t->out_type != t->type && !in->to_f32)
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor '%s': no decoder for type %s to convert it to %s",
                                t->name, in->name, out->name);
        uint64_t nb = (uint64_t)(t->ne[0] / out->blck);
        bool overflow = __builtin_mul_overflow(nb, (uint64_t)out->type_size, &nb);
        for (int k = 1; k < SLM_MAX_DIMS; k++) overflow |= __builtin_mul_overflow(nb, (uint64_t)t->ne[k], &nb);
        uint64_t padded = (nb + alignment - 1) / alignment * alignment;
        if (overflow || padded < nb || __builtin_add_overflow(*total, padded, total) || nb > SIZE_MAX)
            return slm_diag_set(d, SLM_ERR_USAGE, "tensor '%s': too large", t->name);
        nbytes[i] = nb;
    }
    return SLM_OK;
}

/* ------------------------------------------------------------- writing */

/* Where the late key's strings are in the file (slm_gguf_write_opts). */
typedef struct late_value {
    const slm_kv *kv;
    uint64_t offset; /* of the key/value pair */
} late_value;

static slm_status write_kvs(slm_outfile *f, const slm_model *m, uint32_t alignment, const kv_plan *p,
                            const slm_gguf_write_opts *opts, late_value *late, slm_diag *d) {
    slm_value arch = {.type = SLM_V_STR};
    arch.v.str.s = (char *)m->hp.arch;
    arch.v.str.len = strlen(m->hp.arch);
    slm_status st = w_kv(f, "general.architecture", &arch, d);
    for (uint32_t i = 0; i < m->n_kv && st == SLM_OK; i++) {
        if (!free_kv_written(p, m->kv[i].key)) continue;
        for (int k = 0; opts && k < SLM_GGUF_MAX_LATE; k++)
            if (opts->late[k].key && opts->late[k].fill && !strcmp(m->kv[i].key, opts->late[k].key))
                late[k] = (late_value){&m->kv[i], f->written};
        st = w_kv(f, m->kv[i].key, &m->kv[i].value, d);
    }
    for (uint32_t i = 0; i < p->n_structured && st == SLM_OK; i++)
        st = w_kv(f, p->structured[i].key, &p->structured[i].value, d);
    if (st == SLM_OK && alignment != SLM_GGUF_DEFAULT_ALIGNMENT) {
        slm_value a = {.type = SLM_V_U32};
        a.v.u64 = alignment;
        st = w_kv(f, "general.alignment", &a, d);
    }
    return st;
}

static slm_status write_tensor_infos(slm_outfile *f, const slm_model *m, const uint64_t *nbytes,
                                     uint32_t alignment, slm_diag *d) {
    uint64_t offset = 0;
    slm_status st = SLM_OK;
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        const slm_tensor *t = &m->tensors[i];
        st = w_str(f, t->name, strlen(t->name), d);
        if (st == SLM_OK) st = w_u32(f, (uint32_t)t->n_dims, d);
        for (int k = 0; k < t->n_dims && st == SLM_OK; k++) st = w_u64(f, (uint64_t)t->ne[k], d);
        if (st == SLM_OK) st = w_i32(f, (int32_t)t->out_type, d);
        if (st == SLM_OK) st = w_u64(f, offset, d);
        offset += (nbytes[i] + alignment - 1) / alignment * alignment;
    }
    return st;
}

/* One batch of rows of a tensor being converted, cut into items of a few
 * rows that threads encode independently: every row's bytes depend only on
 * that row and its weights, so the output is the same for any thread count.
 * One extra item writes the previous batch meanwhile, so the file I/O
 * overlaps the encoding instead of leaving the other threads idle. */
typedef struct encode_batch {
    const slm_tensor *t;
    const slm_type_traits *in, *out;
    int64_t row0, nrows;      /* rows of the tensor in this batch */
    int64_t rows_per_item;
    size_t in_row, out_row;   /* bytes */
    float *fbuf;              /* nrows x ne[0] decoded rows; NULL: read f32 source rows in place */
    char *obuf;               /* nrows x out_row */
    /* the previous batch, written by item 0 while the others encode */
    const char *pending;      /* NULL when there is none */
    size_t pending_bytes;
    slm_outfile *f;
    slm_status write_status;
    slm_diag *d;
} encode_batch;

static void encode_rows(const encode_batch *b, int64_t item) {
    const slm_tensor *t = b->t;
    int64_t ne0 = t->ne[0], first = item * b->rows_per_item;
    int64_t n = b->nrows - first < b->rows_per_item ? b->nrows - first : b->rows_per_item;
    const char *src_rows = (const char *)t->data + (size_t)(b->row0 + first) * b->in_row;
    const float *rows = (const float *)src_rows;
    if (b->fbuf) {
        float *dst = b->fbuf + (size_t)first * (size_t)ne0;
        b->in->to_f32(src_rows, dst, n * ne0);
        rows = dst;
    }
    for (int64_t k = 0; k < n; k++) {
        int64_t r = b->row0 + first + k;
        char *dst = b->obuf + (size_t)(first + k) * b->out_row;
        if (!b->out->quantize_row) { /* activation formats (Q8_1, Q8_K): no weighted rule */
            b->out->from_f32(rows + k * ne0, dst, ne0);
            continue;
        }
        /* llama-quantize gives each 2-D slice (expert) its own ne[0] weights */
        const float *w = t->quant_weights ? t->quant_weights + ((r / t->ne[1]) % t->ne[2]) * ne0 : NULL;
        b->out->quantize_row(rows + k * ne0, dst, ne0, w);
        if (t->zero_mask) {
            uint64_t inexact = slm_qblock_zero_masked(t->out_type, dst, ne0, t->zero_mask, (uint64_t)r * (uint64_t)ne0);
            if (inexact) __atomic_fetch_add(&((slm_tensor *)t)->zero_inexact, inexact, __ATOMIC_RELAXED);
        }
    }
}

static void encode_item(void *ctx, int64_t item) {
    encode_batch *b = ctx;
    if (b->pending && item == 0) {
        b->write_status = w_bytes(b->f, b->pending, b->pending_bytes, b->d);
        return;
    }
    encode_rows(b, item - (b->pending != NULL));
}

/* Decodes rows to f32 and encodes them into out_type row by row as
 * llama-quantize does, a batch at a time so memory stays bounded. */
static slm_status convert_tensor(slm_outfile *f, const slm_tensor *t, const slm_gguf_write_opts *opts,
                                 slm_diag *d) {
    encode_batch b = {.t = t, .in = slm_type_traits_get(t->type), .out = slm_type_traits_get(t->out_type), .f = f,
                      .d = d};
    int64_t ne0 = t->ne[0], nrows = slm_tensor_nrows(t);
    if (ne0 == 0 || nrows == 0) return SLM_OK;
    b.in_row = slm_type_row_size(t->type, ne0);
    b.out_row = slm_type_row_size(t->out_type, ne0);
    b.rows_per_item = (int64_t)(ENCODE_ITEM_FLOATS / (size_t)ne0);
    if (b.rows_per_item < 1) b.rows_per_item = 1;
    int64_t batch = (int64_t)(CONVERT_CHUNK_FLOATS / (size_t)ne0) / b.rows_per_item * b.rows_per_item;
    if (batch < b.rows_per_item) batch = b.rows_per_item;
    if (batch > nrows) batch = nrows;
    /* f32 rows are encoded straight from the source when float-aligned */
    bool in_place = t->type == SLM_TYPE_F32 && ((uintptr_t)t->data % alignof(float)) == 0;
    b.fbuf = in_place ? NULL : malloc((size_t)batch * (size_t)ne0 * sizeof *b.fbuf);
    char *obufs[2] = {malloc((size_t)batch * b.out_row), batch < nrows ? malloc((size_t)batch * b.out_row) : NULL};
    slm_status st = SLM_OK;
    if ((!in_place && !b.fbuf) || !obufs[0] || (batch < nrows && !obufs[1]))
        st = slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory converting", t->name);
    for (int64_t r = 0, k = 0; r < nrows && st == SLM_OK; r += batch, k++) {
        b.row0 = r;
        b.nrows = nrows - r < batch ? nrows - r : batch;
        b.obuf = obufs[k & 1];
        int64_t n_items = (b.nrows + b.rows_per_item - 1) / b.rows_per_item + (b.pending != NULL);
        if (opts && opts->parallel_for)
            opts->parallel_for(opts->parallel_ctx, n_items, encode_item, &b);
        else
            for (int64_t i = 0; i < n_items; i++) encode_item(&b, i);
        st = b.write_status;
        b.pending = b.obuf;
        b.pending_bytes = (size_t)b.nrows * b.out_row;
    }
    if (st == SLM_OK && b.pending) st = w_bytes(f, b.pending, b.pending_bytes, d);
    free(b.fbuf);
    free(obufs[0]);
    free(obufs[1]);
    return st;
}

static slm_status write_tensor_data(slm_outfile *f, slm_tensor *t, uint64_t nbytes, uint32_t alignment,
                                    const slm_gguf_write_opts *opts, slm_diag *d) {
    slm_status st = slm_tensor_acquire(t, d);
    if (st != SLM_OK) return st;
    if (t->encode) {
        void *buf = malloc(nbytes ? (size_t)nbytes : 1);
        st = buf ? t->encode(t, t->encode_ctx, buf, d)
                 : slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory encoding", t->name);
        /* whatever the pass computed, pruned weights stay zero */
        if (st == SLM_OK && t->zero_mask) {
            const int64_t ne0 = t->ne[0], rows = slm_tensor_nrows(t);
            const size_t rs = slm_type_row_size(t->out_type, ne0);
            for (int64_t r = 0; r < rows; r++)
                t->zero_inexact += slm_qblock_zero_masked(t->out_type, (char *)buf + (size_t)r * rs, ne0, t->zero_mask,
                                                          (uint64_t)r * (uint64_t)ne0);
        }
        if (st == SLM_OK) st = w_bytes(f, buf, (size_t)nbytes, d);
        free(buf);
    } else if (t->out_type == t->type) {
        if ((uint64_t)t->nbytes != nbytes)
            st = slm_diag_set(d, SLM_ERR_INTERNAL, "tensor '%s': holds %zu bytes, its shape needs %llu", t->name,
                              t->nbytes, (unsigned long long)nbytes);
        else
            st = w_bytes(f, t->data, (size_t)nbytes, d);
    } else {
        st = convert_tensor(f, t, opts, d);
    }
    slm_tensor_release(t);
    slm_tensor_evict(t);
    if (st == SLM_OK) st = slm_outfile_pad(f, alignment, d);
    return st;
}

/* Writes the late key's final strings over their placeholders: the layout
 * is w_kv's (key, type, then a string or an array of strings). */
static slm_status fill_late(slm_outfile *f, const late_value *late, const slm_gguf_write_opts *opts, int k,
                            slm_diag *d) {
    const slm_value *v = &late->kv->value;
    const slm_str *items = v->type == SLM_V_STR ? &v->v.str : v->v.arr;
    const uint64_t n = v->type == SLM_V_STR ? 1 : v->n;
    if (!(v->type == SLM_V_STR || (v->type == SLM_V_ARR && v->arr_type == SLM_V_STR)))
        return slm_diag_set(d, SLM_ERR_USAGE, "key '%s': a late value must be a string or strings", late->kv->key);
    uint64_t pos = late->offset + 8 + strlen(late->kv->key) + 4 + (v->type == SLM_V_ARR ? 4 + 8 : 0);
    slm_status st = SLM_OK;
    for (uint64_t i = 0; i < n && st == SLM_OK; i++) {
        pos += 8;
        char *buf = malloc(items[i].len + 1);
        if (!buf) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        st = opts->late[k].fill(opts->late[k].ctx, (uint32_t)i, buf, items[i].len, d);
        if (st == SLM_OK) st = slm_outfile_overwrite(f, pos, buf, items[i].len, d);
        free(buf);
        pos += items[i].len;
    }
    return st;
}

/* Bytes w_kv writes for one key/value. */
static uint64_t kv_bytes(const char *key, const slm_value *v) {
    uint64_t n = 8 + strlen(key) + 4;
    if (v->type == SLM_V_STR) return n + 8 + v->v.str.len;
    if (v->type != SLM_V_ARR) return n + slm_vtype_size(v->type);
    n += 4 + 8;
    if (v->arr_type != SLM_V_STR) return n + v->n * slm_vtype_size(v->arr_type);
    const slm_str *a = v->v.arr;
    for (uint64_t i = 0; i < v->n; i++) n += 8 + a[i].len;
    return n;
}

slm_status slm_gguf_size(const slm_model *m, uint32_t alignment, uint64_t *header, uint64_t *data, slm_diag *d) {
    if (!alignment) alignment = SLM_GGUF_DEFAULT_ALIGNMENT;
    kv_plan plan = {0};
    uint64_t *nbytes = calloc((size_t)m->n_tensors + 1, sizeof *nbytes);
    slm_status st = nbytes ? plan_kvs(m, alignment, &plan, d) : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK) st = plan_tensors(m, nbytes, data, alignment, d);
    if (st == SLM_OK) {
        uint64_t h = 4 + 4 + 8 + 8 + 8 + strlen("general.architecture") + 4 + 8 + strlen(m->hp.arch);
        for (uint32_t i = 0; i < m->n_kv; i++)
            if (free_kv_written(&plan, m->kv[i].key)) h += kv_bytes(m->kv[i].key, &m->kv[i].value);
        for (uint32_t i = 0; i < plan.n_structured; i++) h += kv_bytes(plan.structured[i].key, &plan.structured[i].value);
        if (alignment != SLM_GGUF_DEFAULT_ALIGNMENT) h += 8 + strlen("general.alignment") + 4 + 4;
        for (uint32_t i = 0; i < m->n_tensors; i++)
            h += 8 + strlen(m->tensors[i].name) + 4 + 8 * (uint64_t)m->tensors[i].n_dims + 4 + 8;
        *header = (h + alignment - 1) / alignment * alignment;
    }
    free(plan.structured);
    free(nbytes);
    return st;
}

slm_status slm_gguf_write(slm_model *m, const char *path, const slm_gguf_write_opts *opts, slm_diag *d) {
    if (!m || !path) return slm_diag_set(d, SLM_ERR_USAGE, "slm_gguf_write: no model or path");
    uint32_t alignment = opts && opts->alignment ? opts->alignment : SLM_GGUF_DEFAULT_ALIGNMENT;
    if ((alignment & (alignment - 1)) != 0)
        return slm_diag_set(d, SLM_ERR_USAGE, "%s: alignment %u is not a power of two", path, alignment);

    slm_diag ld = {0};
    kv_plan plan = {0};
    uint64_t total = 0, done = 0;
    slm_outfile f;
    bool open = false;
    uint64_t *nbytes = calloc((size_t)m->n_tensors + 1, sizeof *nbytes);
    slm_status st = nbytes ? SLM_OK : slm_diag_set(&ld, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK) st = plan_kvs(m, alignment, &plan, &ld);
    if (st == SLM_OK) st = plan_tensors(m, nbytes, &total, alignment, &ld);
    if (st == SLM_OK) open = (st = slm_outfile_open(&f, path, &ld)) == SLM_OK;

    if (st == SLM_OK) st = w_bytes(&f, "GGUF", 4, &ld);
    if (st == SLM_OK) st = w_u32(&f, GGUF_VERSION, &ld);
    if (st == SLM_OK) st = w_u64(&f, m->n_tensors, &ld);
    if (st == SLM_OK) st = w_u64(&f, plan.n_kv, &ld);
    late_value late[SLM_GGUF_MAX_LATE] = {{0}};
    if (st == SLM_OK) st = write_kvs(&f, m, alignment, &plan, opts, late, &ld);
    if (st == SLM_OK) st = write_tensor_infos(&f, m, nbytes, alignment, &ld);
    if (st == SLM_OK) st = slm_outfile_pad(&f, alignment, &ld);
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        slm_tensor *t = &m->tensors[i];
        st = write_tensor_data(&f, t, nbytes[i], alignment, opts, &ld);
        done += (nbytes[i] + alignment - 1) / alignment * alignment;
        if (st == SLM_OK && opts && opts->progress)
            opts->progress(opts->progress_ctx, i + 1, m->n_tensors, t->name, done, total);
    }
    if (st == SLM_OK && opts && opts->written) {
        if (fflush(f.fp) != 0) st = slm_diag_set(&ld, SLM_ERR_IO, "write failed");
        if (st == SLM_OK) st = opts->written(opts->written_ctx, f.tmp_path, &ld);
    }
    for (int k = 0; k < SLM_GGUF_MAX_LATE && st == SLM_OK; k++)
        if (late[k].kv) st = fill_late(&f, &late[k], opts, k, &ld);
    if (st == SLM_OK) st = slm_outfile_commit(&f, &ld);
    else if (open) slm_outfile_abort(&f);

    free(plan.structured);
    free(nbytes);
    if (st == SLM_OK) return SLM_OK;
    slm_diag_prefix(&ld, path);
    return slm_diag_set(d, ld.status != SLM_OK ? ld.status : st, "%s", ld.msg);
}
