/* slm_safetensors.c - reads and writes the safetensors container
 * (formats.md §6).
 *
 *   offset  size  field
 *   0       8     N, u64 little endian: header length in bytes
 *   8       N     JSON object (UTF-8, may be padded with trailing spaces):
 *                 name -> {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}
 *                 plus an optional "__metadata__" string -> string map
 *   8+N     ...   tensor bytes; offsets are relative to this point
 *
 * The reader trusts nothing in the header: every offset and size is checked
 * against the bytes actually mapped before a pointer into the map is made. */
#include "slm_safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_json.h"

/* The reference implementation refuses headers over 100 MB; a real header for
 * thousands of tensors is a few hundred KB, so this only stops absurd values. */
#define SLM_ST_MAX_HEADER ((uint64_t)100 << 20)

typedef struct st_dtype {
    const char *name;
    int supported; /* maps to an slm_type */
    slm_type type;
} st_dtype;

/* Every dtype the format defines, so a valid-but-unsupported file gets a
 * different message from a corrupt one. */
static const st_dtype st_dtypes[] = {
    {"F32", 1, SLM_TYPE_F32},   {"F16", 1, SLM_TYPE_F16},  {"BF16", 1, SLM_TYPE_BF16},
    {"F64", 0, SLM_TYPE_F32},   {"I64", 0, SLM_TYPE_F32},  {"U64", 0, SLM_TYPE_F32},
    {"I32", 0, SLM_TYPE_F32},   {"U32", 0, SLM_TYPE_F32},  {"I16", 0, SLM_TYPE_F32},
    {"U16", 0, SLM_TYPE_F32},   {"I8", 0, SLM_TYPE_F32},   {"U8", 0, SLM_TYPE_F32},
    {"BOOL", 0, SLM_TYPE_F32},  {"F8_E4M3", 0, SLM_TYPE_F32}, {"F8_E5M2", 0, SLM_TYPE_F32},
    {"F8_E8M0", 0, SLM_TYPE_F32}, {"F6_E2M3", 0, SLM_TYPE_F32}, {"F6_E3M2", 0, SLM_TYPE_F32},
    {"F4", 0, SLM_TYPE_F32},    {"C64", 0, SLM_TYPE_F32},
};

static const char *st_dtype_name(slm_type t) {
    switch (t) {
    case SLM_TYPE_F32: return "F32";
    case SLM_TYPE_F16: return "F16";
    case SLM_TYPE_BF16: return "BF16";
    default: return NULL;
    }
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}


/* ----------------------------------------------------------------- read */

typedef struct st_span {
    uint64_t begin, end;
    uint32_t index;
} st_span;

static int span_cmp(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Validates one header entry and fills e (name excluded). */
static slm_status parse_entry(const char *path, const char *name, json_t *v, const unsigned char *buf,
                              uint64_t buf_size, slm_st_entry *e, uint64_t *begin_out, slm_diag *d) {
    if (!json_is_object(v))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s': header entry is %s, expected an object", path, name,
                            slm_json_kind(v));
    json_t *dt = json_object_get(v, "dtype");
    if (!dt || !json_is_string(dt))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s': 'dtype' is %s, expected a string", path, name,
                            dt ? slm_json_kind(dt) : "missing");
    const char *dts = json_string_value(dt);
    const st_dtype *known = NULL;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, dts) == 0) known = &st_dtypes[i];
    if (!known)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s': unknown dtype '%.40s'", path, name, dts);
    if (!known->supported)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "%s: unsupported dtype %s for tensor '%s', expected F32, F16 or BF16", path, dts, name);
    e->type = known->type;

    json_t *shape = json_object_get(v, "shape");
    if (!shape || !json_is_array(shape))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s': 'shape' is %s, expected an array of integers", path,
                            name, shape ? slm_json_kind(shape) : "missing");
    size_t nd = json_array_size(shape);
    if (nd == 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "%s: tensor '%s' is a 0-dimensional scalar, expected 1 to %d dimensions", path, name,
                            SLM_MAX_DIMS);
    if (nd > SLM_MAX_DIMS)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions, expected 1 to %d", path,
                            name, nd, SLM_MAX_DIMS);
    uint64_t elems = 1;
    bool overflow = false;
    for (size_t i = 0; i < nd; i++) {
        json_t *x = json_array_get(shape, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s': shape[%zu] is %s, expected an integer >= 0",
                                path, name, i, json_is_integer(x) ? "negative" : slm_json_kind(x));
        e->shape[i] = (int64_t)json_integer_value(x);
        if (__builtin_mul_overflow(elems, (uint64_t)e->shape[i], &elems)) overflow = true;
    }
    e->n_dims = (int)nd;

    json_t *off = json_object_get(v, "data_offsets");
    if (!off || !json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)))
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: tensor '%s': 'data_offsets' must be an array of two integers [begin, end]", path,
                            name);
    json_int_t b = json_integer_value(json_array_get(off, 0)), en = json_integer_value(json_array_get(off, 1));
    if (b < 0 || en < b)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: tensor '%s': data_offsets [%lld, %lld] invalid, expected 0 <= begin <= end", path,
                            name, (long long)b, (long long)en);
    if ((uint64_t)en > buf_size)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: tensor '%s': data_offsets [%lld, %lld] run past the end of the data (%llu bytes)",
                            path, name, (long long)b, (long long)en, (unsigned long long)buf_size);
    uint64_t need;
    if (overflow || __builtin_mul_overflow(elems, (uint64_t)(e->type == SLM_TYPE_F32 ? 4 : 2), &need) ||
        need != (uint64_t)(en - b))
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: tensor '%s': shape and dtype %s need %s%llu bytes but data_offsets span %llu", path,
                            name, dts, overflow ? "more than " : "", overflow ? (unsigned long long)UINT64_MAX
                                                                              : (unsigned long long)need,
                            (unsigned long long)(en - b));
    e->data = buf + b;
    e->nbytes = (size_t)(en - b);
    *begin_out = (uint64_t)b;
    return SLM_OK;
}

static slm_status parse_header(const char *path, json_t *root, const unsigned char *buf, uint64_t buf_size,
                               slm_st_file *f, slm_diag *d) {
    size_t cap = json_object_size(root);
    f->entries = calloc(cap ? cap : 1, sizeof *f->entries);
    st_span *spans = calloc(cap ? cap : 1, sizeof *spans);
    if (!f->entries || !spans) {
        free(spans);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    slm_status st = SLM_OK;
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (strcmp(name, "__metadata__") == 0) continue;
        slm_st_entry *e = &f->entries[f->n];
        uint64_t begin = 0;
        st = parse_entry(path, name, v, buf, buf_size, e, &begin, d);
        if (st != SLM_OK) break;
        e->name = strdup(name);
        if (!e->name) {
            st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        spans[f->n] = (st_span){begin, begin + e->nbytes, f->n};
        f->n++;
    }
    if (st == SLM_OK) {
        /* Sorted by begin, a non-empty span overlaps an earlier one exactly
         * when it starts before the furthest end seen so far. */
        qsort(spans, f->n, sizeof *spans, span_cmp);
        uint64_t max_end = 0;
        uint32_t max_idx = 0;
        for (uint32_t i = 0; i < f->n; i++) {
            if (spans[i].begin == spans[i].end) continue;
            if (spans[i].begin < max_end) {
                st = slm_diag_set(d, SLM_ERR_INPUT, "%s: tensors '%s' and '%s' overlap in the data buffer", path,
                                  f->entries[max_idx].name, f->entries[spans[i].index].name);
                break;
            }
            max_end = spans[i].end;
            max_idx = spans[i].index;
        }
    }
    free(spans);
    return st;
}

slm_status slm_st_open(const char *path, slm_st_file *f, slm_diag *d) {
    memset(f, 0, sizeof *f);
    const void *map = NULL;
    size_t size = 0;
    slm_status st = slm_file_map(path, &map, &size, d);
    if (st != SLM_OK) return st;
    f->map = map;
    f->map_size = size;
    if (size < 8) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: file is %zu bytes, too short for a safetensors header (8 bytes)",
                          path, size);
        goto fail;
    }
    const unsigned char *p = map;
    uint64_t n = read_le64(p);
    if (n > size - 8) {
        st = slm_diag_set(d, SLM_ERR_INPUT,
                          "%s: header length %llu runs past the end of the file (%zu bytes); not a safetensors file?",
                          path, (unsigned long long)n, size);
        goto fail;
    }
    if (n > SLM_ST_MAX_HEADER) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: header length %llu is larger than the %llu byte limit", path,
                          (unsigned long long)n, (unsigned long long)SLM_ST_MAX_HEADER);
        goto fail;
    }
    char what[4200];
    snprintf(what, sizeof what, "%s: header", path);
    json_t *root = NULL;
    st = slm_json_load_object((const char *)p + 8, (size_t)n, what, &root, d);
    if (st != SLM_OK) goto fail;
    st = parse_header(path, root, p + 8 + n, size - 8 - n, f, d);
    json_decref(root);
    if (st == SLM_OK) return SLM_OK;
fail:
    slm_st_close(f, false);
    return st;
}

void slm_st_close(slm_st_file *f, bool keep_map) {
    if (!f) return;
    for (uint32_t i = 0; i < f->n; i++) free(f->entries[i].name);
    free(f->entries);
    if (!keep_map) slm_file_unmap(f->map, f->map_size);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- write */

static slm_status tensor_nbytes(const slm_st_write_tensor *t, uint64_t *out, slm_diag *d) {
    const char *dt = st_dtype_name(t->type);
    if (!dt)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor '%s': type %s cannot be stored in safetensors, expected "
                            "f32, f16 or bf16", t->name, slm_type_name(t->type));
    if (t->n_dims < 1 || t->n_dims > SLM_MAX_DIMS)
        return slm_diag_set(d, SLM_ERR_USAGE, "tensor '%s': %d dimensions, expected 1 to %d", t->name, t->n_dims,
                            SLM_MAX_DIMS);
    uint64_t n = t->type == SLM_TYPE_F32 ? 4 : 2;
    for (int i = 0; i < t->n_dims; i++) {
        if (t->shape[i] < 0 || __builtin_mul_overflow(n, (uint64_t)t->shape[i], &n) || n > (uint64_t)SIZE_MAX)
            return slm_diag_set(d, SLM_ERR_USAGE, "tensor '%s': shape[%d] = %lld is invalid or too large", t->name,
                                i, (long long)t->shape[i]);
    }
    *out = n;
    return SLM_OK;
}

/* Builds the header object; keys appear in the order the tensors are given. */
static slm_status build_header(const slm_st_write_tensor *tensors, size_t n, const uint64_t *sizes,
                               const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                               json_t **out, slm_diag *d) {
    json_t *root = json_object();
    if (!root) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    bool oom = false;
    if (n_meta) {
        json_t *meta = json_object();
        for (size_t i = 0; meta && i < n_meta; i++)
            if (json_object_set_new(meta, meta_keys[i], json_string(meta_values[i])) != 0) oom = true;
        if (!meta || json_object_set_new(root, "__metadata__", meta) != 0) oom = true;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n && !oom; i++) {
        if (strcmp(tensors[i].name, "__metadata__") == 0 || json_object_get(root, tensors[i].name)) {
            json_decref(root);
            return slm_diag_set(d, SLM_ERR_USAGE, "tensor '%s': duplicate or reserved name", tensors[i].name);
        }
        json_t *shape = json_array();
        for (int k = 0; shape && k < tensors[i].n_dims; k++)
            if (json_array_append_new(shape, json_integer(tensors[i].shape[k])) != 0) {
                json_decref(shape);
                shape = NULL;
            }
        if (!shape) {
            oom = true;
            break;
        }
        /* "o" hands shape over to the new object, also on failure */
        json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", st_dtype_name(tensors[i].type), "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + sizes[i]));
        if (!e) {
            oom = true;
            break;
        }
        if (json_object_set_new(root, tensors[i].name, e) != 0) oom = true;
        off += sizes[i];
    }
    if (oom) {
        json_decref(root);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory building the safetensors header (or a name is not valid UTF-8)");
    }
    *out = root;
    return SLM_OK;
}

slm_status slm_st_write(const char *path, const slm_st_write_tensor *tensors, size_t n, void *ctx,
                        const char *const *meta_keys, const char *const *meta_values, size_t n_meta, slm_diag *d) {
    uint64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    if (!sizes) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    slm_status st = SLM_OK;
    uint64_t max_size = 0;
    for (size_t i = 0; i < n && st == SLM_OK; i++) {
        st = tensor_nbytes(&tensors[i], &sizes[i], d);
        if (sizes[i] > max_size) max_size = sizes[i];
    }
    json_t *root = NULL;
    if (st == SLM_OK) st = build_header(tensors, n, sizes, meta_keys, meta_values, n_meta, &root, d);
    char *text = NULL;
    if (st == SLM_OK) {
        text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(root);
        if (!text) st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    void *buf = NULL;
    if (st == SLM_OK && !(buf = malloc(max_size ? (size_t)max_size : 1)))
        st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory (%llu bytes)", path, (unsigned long long)max_size);
    slm_outfile out;
    bool opened = false;
    if (st == SLM_OK) st = slm_outfile_open(&out, path, d);
    opened = st == SLM_OK;
    if (st == SLM_OK) {
        /* Spaces after the JSON keep the data 8-byte aligned, as current
         * writers do; JSON parsers ignore trailing whitespace. */
        size_t len = strlen(text);
        size_t padded = (len + 7) & ~(size_t)7;
        unsigned char hdr[8];
        for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)((uint64_t)padded >> (8 * i));
        static const char spaces[8] = "        ";
        slm_outfile_write(&out, hdr, 8, d);
        slm_outfile_write(&out, text, len, d);
        st = slm_outfile_write(&out, spaces, padded - len, d);
    }
    for (size_t i = 0; i < n && st == SLM_OK; i++) {
        st = tensors[i].get(ctx, i, buf, d);
        if (st != SLM_OK) {
            slm_diag_prefix(d, path);
            break;
        }
        st = slm_outfile_write(&out, buf, (size_t)sizes[i], d);
    }
    if (opened) {
        if (st == SLM_OK)
            st = slm_outfile_commit(&out, d);
        else
            slm_outfile_abort(&out);
    }
    free(buf);
    free(text);
    free(sizes);
    return st;
}
