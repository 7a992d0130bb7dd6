/* slm_imatrix.c - reader for llama.cpp's legacy imatrix files (layout in
 * slm_imatrix.h).
 *
 * The file is mapped and every count is checked against the bytes left
 * before it is used, so a truncated or hostile file gives an error naming
 * the entry and the problem, never an out-of-bounds read or a huge
 * allocation. */
#include "slm_imatrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_model.h"

typedef struct cursor {
    const uint8_t *p;
    size_t size, pos;
} cursor;

static size_t left(const cursor *c) { return c->size - c->pos; }

static bool read_i32(cursor *c, int32_t *v) {
    if (left(c) < 4) return false;
    const uint8_t *b = c->p + c->pos;
    *v = (int32_t)((uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24));
    c->pos += 4;
    return true;
}

static float read_f32_at(const uint8_t *b) {
    uint32_t u = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void slm_imatrix_free(slm_imatrix *im) {
    if (!im) return;
    for (int32_t i = 0; i < im->n_entries; i++) {
        free(im->entries[i].name);
        free(im->entries[i].values);
    }
    free(im->entries);
    free(im->dataset);
    free(im);
}

/* Smallest entry: name_len, a 1-byte name, ncall, nval, one value. */
#define MIN_ENTRY_BYTES (4 + 1 + 4 + 4 + 4)

static slm_status read_entry(cursor *c, slm_imatrix *im, int32_t i, slm_diag *d) {
    slm_imatrix_entry *e = &im->entries[i];
    int32_t name_len;
    if (!read_i32(c, &name_len))
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d of %d: truncated before its name length", i + 1,
                            im->n_entries);
    /* Entries name GGUF tensors, whose names are 1..63 bytes. */
    if (name_len < 1 || name_len >= SLM_MAX_NAME)
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d: name length %d, expected 1..%d (a tensor name)", i + 1,
                            name_len, SLM_MAX_NAME - 1);
    if (left(c) < (size_t)name_len)
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d: truncated inside its %d-byte name", i + 1, name_len);
    const char *name = (const char *)c->p + c->pos;
    if (memchr(name, '\0', (size_t)name_len))
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d: name contains a NUL byte", i + 1);
    e->name = malloc((size_t)name_len + 1);
    if (!e->name) return slm_diag_set(d, SLM_ERR_NOMEM, "entry %d: out of memory", i + 1);
    memcpy(e->name, name, (size_t)name_len);
    e->name[name_len] = '\0';
    c->pos += (size_t)name_len;
    for (int32_t k = 0; k < i; k++)
        if (strcmp(im->entries[k].name, e->name) == 0)
            return slm_diag_set(d, SLM_ERR_INPUT, "entry %d: duplicate name '%s' (also entry %d)", i + 1, e->name,
                                k + 1);

    int32_t ncall, nval;
    if (!read_i32(c, &ncall) || !read_i32(c, &nval))
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d '%s': truncated before its counts", i + 1, e->name);
    if (ncall < 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d '%s': call count %d is negative", i + 1, e->name, ncall);
    if (nval < 1)
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d '%s': %d values, expected at least 1", i + 1, e->name, nval);
    if (left(c) / 4 < (size_t)nval)
        return slm_diag_set(d, SLM_ERR_INPUT, "entry %d '%s': %d values need %lld bytes, only %zu left in the file",
                            i + 1, e->name, nval, 4LL * nval, left(c));
    e->ncall = ncall;
    e->n = nval;
    e->values = malloc((size_t)nval * sizeof *e->values);
    if (!e->values) return slm_diag_set(d, SLM_ERR_NOMEM, "entry %d '%s': out of memory", i + 1, e->name);
    for (int32_t k = 0; k < nval; k++) {
        float v = read_f32_at(c->p + c->pos + 4 * (size_t)k);
        /* Means of squares: anything else is a damaged file, and would make
         * the weighted quantizers produce garbage. */
        if (!isfinite(v) || v < 0)
            return slm_diag_set(d, SLM_ERR_INPUT, "entry %d '%s': value %d is %g, expected a finite value >= 0",
                                i + 1, e->name, k, (double)v);
        /* llama-quantize's load_imatrix: v /= ncall, in float. */
        if (ncall > 0) v /= ncall;
        e->values[k] = v;
    }
    c->pos += 4 * (size_t)nval;
    return SLM_OK;
}

static slm_status parse(cursor *c, slm_imatrix *im, slm_diag *d) {
    int32_t n;
    if (!read_i32(c, &n))
        return slm_diag_set(d, SLM_ERR_INPUT, "file is %zu bytes, too short for an imatrix header", c->size);
    if (c->size >= 4 && memcmp(c->p, "GGUF", 4) == 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "this is a GGUF-format imatrix; only llama.cpp's legacy .dat format is supported");
    if (n < 1) return slm_diag_set(d, SLM_ERR_INPUT, "entry count %d, expected at least 1", n);
    if ((size_t)n > left(c) / MIN_ENTRY_BYTES)
        return slm_diag_set(d, SLM_ERR_INPUT, "entry count %d does not fit in the %zu bytes that follow it", n,
                            left(c));
    im->entries = calloc((size_t)n, sizeof *im->entries);
    if (!im->entries) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for %d entries", n);
    for (int32_t i = 0; i < n; i++) {
        im->n_entries = i + 1; /* so free() sees what was allocated */
        slm_status st = read_entry(c, im, i, d);
        if (st != SLM_OK) return st;
    }
    if (left(c) == 0) return SLM_OK;

    /* Newer llama-imatrix versions append the chunk count and the dataset. */
    int32_t last_call, len;
    const size_t rest = left(c);
    if (!read_i32(c, &last_call) || !read_i32(c, &len))
        return slm_diag_set(d, SLM_ERR_INPUT, "%zu stray bytes after the last entry, too few for a trailer", rest);
    if (last_call < 0 || len < 0 || (size_t)len > left(c))
        return slm_diag_set(d, SLM_ERR_INPUT, "bad trailer: chunk count %d, dataset name of %d bytes with %zu left",
                            last_call, len, left(c));
    im->last_call = last_call;
    im->dataset = malloc((size_t)len + 1);
    if (!im->dataset) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    memcpy(im->dataset, c->p + c->pos, (size_t)len);
    im->dataset[len] = '\0';
    c->pos += (size_t)len;
    if (left(c) != 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "%zu unexpected bytes after the trailer", left(c));
    return SLM_OK;
}

slm_status slm_imatrix_load(const char *path, slm_imatrix **out, slm_diag *d) {
    *out = NULL;
    const void *base = NULL;
    size_t size = 0;
    slm_status st = slm_file_map(path, &base, &size, d);
    if (st != SLM_OK) return st;
    slm_imatrix *im = calloc(1, sizeof *im);
    if (!im) {
        slm_file_unmap(base, size);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    cursor c = {base, size, 0};
    st = parse(&c, im, d);
    slm_file_unmap(base, size);
    if (st != SLM_OK) {
        slm_diag_prefix(d, path);
        slm_imatrix_free(im);
        return st;
    }
    *out = im;
    return SLM_OK;
}

const float *slm_imatrix_find(const slm_imatrix *im, const char *tensor_name, int64_t *n) {
    if (im && tensor_name)
        for (int32_t i = 0; i < im->n_entries; i++)
            if (strcmp(im->entries[i].name, tensor_name) == 0) {
                if (n) *n = im->entries[i].n;
                return im->entries[i].values;
            }
    if (n) *n = 0;
    return NULL;
}

slm_status slm_imatrix_for_tensor(const slm_imatrix *im, const char *tensor_name, int64_t ne0, int64_t ne2,
                                  const float **out, slm_diag *d) {
    int64_t n = 0;
    *out = slm_imatrix_find(im, tensor_name, &n);
    if (!*out) return SLM_OK;
    if (ne0 <= 0 || ne2 <= 0 || n != ne0 * ne2) {
        *out = NULL;
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "tensor '%s': the importance matrix has %lld values for it, expected %lld (ne[0] x ne[2])",
                            tensor_name, (long long)n, (long long)ne0 * (long long)ne2);
    }
    return SLM_OK;
}
