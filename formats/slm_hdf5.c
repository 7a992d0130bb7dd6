/* slm_hdf5.c - reads a model stored in HDF5 (layout: docs/hdf5.md) through
 * libhdf5. The file stays open for the model's lifetime and every dataset is
 * read only when its tensor is acquired, so opening a model costs a walk of
 * the group tree, not a read of the weights.
 * HDF5's own error printing is off around every call (slm_hdf5_err.h). */
#include "slm_hdf5.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_hdf5_err.h"
#include "slm_hf.h"

#define HDF5_MAX_DEPTH 64 /* groups nested deeper are surely a link cycle */

/* One dataset that maps to a model tensor. */
typedef struct hdf5_dataset {
    char *path;    /* "/model/layers/0/self_attn/q_proj/weight"; malloc'd */
    char *hf_name; /* "model.layers.0.self_attn.q_proj.weight"; malloc'd */
    char gguf_name[SLM_MAX_NAME];
} hdf5_dataset;

/* Reader state owned by the model (m->reader_state). */
typedef struct hdf5_state {
    hid_t file;
    char *path; /* for messages; malloc'd */
    uint32_t n, cap;
    hdf5_dataset *sets;
} hdf5_state;

/* ------------------------------------------------------- the state */

static void state_free(void *p) {
    hdf5_state *s = p;
    if (!s) return;
    if (s->file >= 0) {
        slm_hdf5_quiet q;
        slm_hdf5_quiet_begin(&q);
        H5Fclose(s->file);
        slm_hdf5_quiet_end(&q);
    }
    for (uint32_t i = 0; i < s->n; i++) {
        free(s->sets[i].path);
        free(s->sets[i].hf_name);
    }
    free(s->sets);
    free(s->path);
    free(s);
}

/* ------------------------------------------------------ element types */

/* The IEEE-style float layouts we accept: sign bit, exponent position and
 * size, mantissa size, bias. */
static bool float_layout_is(hid_t type, size_t bytes, size_t spos, size_t epos, size_t esize, size_t msize,
                            size_t ebias) {
    if (H5Tget_size(type) != bytes) return false;
    size_t sp, ep, es, mp, ms;
    if (H5Tget_fields(type, &sp, &ep, &es, &mp, &ms) < 0) return false;
    return sp == spos && ep == epos && es == esize && mp == 0 && ms == msize && H5Tget_ebias(type) == ebias &&
           H5Tget_offset(type) == 0;
}

static bool has_bfloat16_attr(hid_t dset) {
    if (H5Aexists(dset, "dtype") <= 0) return false;
    bool yes = false;
    hid_t a = H5Aopen(dset, "dtype", H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : -1;
    if (ft >= 0 && H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(ft); /* keeps the character set: HDF5 will not convert ASCII <-> UTF-8 */
            if (H5Aread(a, mt, &s) >= 0 && s) {
                yes = strcmp(s, "bfloat16") == 0;
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            char *s = n < 256 ? calloc(1, n + 1) : NULL;
            if (s && H5Aread(a, ft, s) >= 0) {
                /* fixed-length strings may be NUL- or space-padded */
                size_t len = strnlen(s, n);
                while (len && s[len - 1] == ' ') len--;
                yes = len == 8 && memcmp(s, "bfloat16", 8) == 0;
            }
            free(s);
        }
    }
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    return yes;
}

/* Names a type for error messages: "int32", "float64", "string", ... */
static void describe_type(hid_t type, char *buf, size_t n) {
    size_t bits = H5Tget_size(type) * 8;
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(buf, n, "%s%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int", bits);
        break;
    case H5T_FLOAT: snprintf(buf, n, "%zu-bit float (not IEEE binary16/binary32)", bits); break;
    case H5T_STRING: snprintf(buf, n, "string"); break;
    case H5T_COMPOUND: snprintf(buf, n, "compound"); break;
    case H5T_ARRAY: snprintf(buf, n, "array"); break;
    case H5T_ENUM: snprintf(buf, n, "enum"); break;
    default: snprintf(buf, n, "class %d", (int)H5Tget_class(type)); break;
    }
}

/* Maps a dataset's element type to an slm type. */
static slm_status classify_type(const hdf5_state *s, const hdf5_dataset *ds, hid_t dset, hid_t type, slm_type *out,
                                slm_diag *d) {
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_FLOAT && float_layout_is(type, 4, 31, 23, 8, 23, 127)) {
        *out = SLM_TYPE_F32;
        return SLM_OK;
    }
    if (cls == H5T_FLOAT && float_layout_is(type, 2, 15, 10, 5, 10, 15)) {
        *out = SLM_TYPE_F16;
        return SLM_OK;
    }
    /* bfloat16 described as a float type is unambiguous too */
    if (cls == H5T_FLOAT && float_layout_is(type, 2, 15, 7, 8, 7, 127)) {
        *out = SLM_TYPE_BF16;
        return SLM_OK;
    }
    if (cls == H5T_INTEGER && H5Tget_size(type) == 2 && H5Tget_sign(type) == H5T_SGN_NONE && has_bfloat16_attr(dset)) {
        *out = SLM_TYPE_BF16;
        return SLM_OK;
    }
    char desc[96];
    describe_type(type, desc, sizeof desc);
    H5Eclear2(H5E_DEFAULT);
    return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                        "%s: dataset %s has element type %s%s; expected 32-bit IEEE float (F32), 16-bit IEEE float "
                        "(F16) or uint16 with string attribute dtype=\"bfloat16\" (BF16)",
                        s->path, ds->path, desc,
                        cls == H5T_INTEGER && H5Tget_size(type) == 2 && H5Tget_sign(type) == H5T_SGN_NONE
                            ? " without attribute dtype=\"bfloat16\""
                            : "");
}

/* The memory type a dataset is read into: its own layout, little-endian
 * (HDF5 swaps bytes for big-endian files). */
static hid_t memory_type(hid_t file_type) {
    hid_t t = H5Tcopy(file_type);
    if (t >= 0 && H5Tset_order(t, H5T_ORDER_LE) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* --------------------------------------------------------------- load */

static slm_status hdf5_load(void *ctx, const slm_tensor *t, void *dst, slm_diag *d) {
    hdf5_state *s = ctx;
    if (t->load_arg >= s->n) return slm_diag_set(d, SLM_ERR_INTERNAL, "%s: bad dataset index", t->name);
    const hdf5_dataset *ds = &s->sets[t->load_arg];
    slm_hdf5_quiet q;
    slm_hdf5_quiet_begin(&q);
    slm_status st = SLM_OK;
    hid_t dset = H5Dopen2(s->file, ds->path, H5P_DEFAULT);
    hid_t ft = dset >= 0 ? H5Dget_type(dset) : -1;
    hid_t space = dset >= 0 ? H5Dget_space(dset) : -1;
    hid_t mt = ft >= 0 ? memory_type(ft) : -1;
    if (dset < 0 || ft < 0 || space < 0 || mt < 0) {
        st = slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot open dataset %s", s->path, ds->path);
        goto done;
    }
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    size_t esize = H5Tget_size(mt);
    if (npoints < 0 || esize != slm_type_traits_get(t->type)->type_size ||
        (uint64_t)npoints * esize != (uint64_t)t->nbytes) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: dataset %s changed since the file was opened (expected %zu bytes)",
                          s->path, ds->path, t->nbytes);
        goto done;
    }
    if (t->nbytes && H5Dread(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        st = slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot read dataset %s (tensor %s)", s->path, ds->path, t->name);
done:
    if (mt >= 0) H5Tclose(mt);
    if (space >= 0) H5Sclose(space);
    if (ft >= 0) H5Tclose(ft);
    if (dset >= 0) H5Dclose(dset);
    H5Eclear2(H5E_DEFAULT);
    slm_hdf5_quiet_end(&q);
    return st;
}

/* ------------------------------------------------------ string attrs */

/* Reads a string attribute of the root group into a malloc'd buffer.
 * *found is false (and SLM_OK returned) when the attribute is absent. */
static slm_status read_root_string(hdf5_state *s, const char *name, char **out, size_t *len, bool *found,
                                   slm_diag *d) {
    *out = NULL;
    *len = 0;
    *found = false;
    htri_t ex = H5Aexists(s->file, name);
    if (ex < 0) return slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot look up root attribute \"%s\"", s->path, name);
    if (ex == 0) return SLM_OK;
    *found = true;
    slm_status st = SLM_OK;
    hid_t a = H5Aopen(s->file, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : -1;
    hid_t space = a >= 0 ? H5Aget_space(a) : -1;
    hid_t mt = -1;
    if (a < 0 || ft < 0 || space < 0) {
        st = slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot open root attribute \"%s\"", s->path, name);
        goto done;
    }
    if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
        char desc[96];
        describe_type(ft, desc, sizeof desc);
        st = slm_diag_set(d, SLM_ERR_INPUT,
                          "%s: root attribute \"%s\" is %s with %lld element(s), expected one string (fixed or "
                          "variable length)",
                          s->path, name, desc, (long long)H5Sget_simple_extent_npoints(space));
        goto done;
    }
    if (H5Tis_variable_str(ft) > 0) {
        mt = H5Tcopy(ft); /* same character set: HDF5 will not convert ASCII <-> UTF-8 */
        char *v = NULL;
        if (mt < 0 || H5Aread(a, mt, &v) < 0) {
            st = slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot read root attribute \"%s\"", s->path, name);
            goto done;
        }
        size_t n = v ? strlen(v) : 0;
        *out = malloc(n + 1);
        if (*out) {
            if (n) memcpy(*out, v, n);
            (*out)[n] = '\0';
            *len = n;
        }
        if (v) H5free_memory(v);
        if (!*out) st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", s->path);
    } else {
        size_t n = H5Tget_size(ft);
        char *buf = malloc(n + 1);
        if (!buf) {
            st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", s->path);
            goto done;
        }
        if (H5Aread(a, ft, buf) < 0) {
            free(buf);
            st = slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot read root attribute \"%s\"", s->path, name);
            goto done;
        }
        buf[n] = '\0';
        *out = buf;
        *len = strnlen(buf, n); /* NUL padding ends the text */
    }
done:
    if (mt >= 0) H5Tclose(mt);
    if (space >= 0) H5Sclose(space);
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    return st;
}

/* ------------------------------------------------------ the tree walk */

static slm_status add_dataset(hdf5_state *s, const char *path, slm_diag *d) {
    char gguf[SLM_MAX_NAME];
    /* '/'-separated path below the root -> '.'-separated HF name */
    const char *rel = path[0] == '/' ? path + 1 : path;
    char *hf = strdup(rel);
    if (!hf) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", s->path);
    for (char *c = hf; *c; c++)
        if (*c == '/') *c = '.';
    int permute;
    if (!slm_hf_name_to_gguf(hf, gguf, &permute)) {
        size_t n = strlen(hf), sl = strlen("rotary_emb.inv_freq");
        bool rotary = n >= sl && strcmp(hf + n - sl, "rotary_emb.inv_freq") == 0;
        free(hf);
        if (rotary) return SLM_OK; /* recomputed by the runtime, not a weight (as the HF reader) */
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "%s: dataset %s has no llama.cpp tensor name (not part of a llama model)", s->path, path);
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 64;
        hdf5_dataset *n = realloc(s->sets, cap * sizeof *n);
        if (!n) {
            free(hf);
            return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", s->path);
        }
        s->sets = n;
        s->cap = cap;
    }
    hdf5_dataset *ds = &s->sets[s->n];
    ds->path = strdup(path);
    ds->hf_name = hf;
    memcpy(ds->gguf_name, gguf, sizeof gguf);
    if (!ds->path) {
        free(hf);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", s->path);
    }
    s->n++;
    return SLM_OK;
}

/* Visits every link of a group in name order; datasets are collected and
 * groups descended into. Uses only calls that are stable from HDF5 1.8 to
 * 1.14. */
static slm_status walk_group(hdf5_state *s, hid_t group, const char *prefix, int depth, slm_diag *d) {
    if (depth > HDF5_MAX_DEPTH)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: groups nested deeper than %d at %s (a link cycle?)", s->path,
                            HDF5_MAX_DEPTH, prefix[0] ? prefix : "/");
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0)
        return slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot list group %s", s->path, prefix[0] ? prefix : "/");
    for (hsize_t i = 0; i < info.nlinks; i++) {
        ssize_t nl = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (nl < 0) return slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot list group %s", s->path, prefix[0] ? prefix : "/");
        size_t plen = strlen(prefix);
        char *path = malloc(plen + 1 + (size_t)nl + 1);
        if (!path) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", s->path);
        memcpy(path, prefix, plen);
        path[plen] = '/';
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, path + plen + 1, (size_t)nl + 1, H5P_DEFAULT);
        const char *link = path + plen + 1;
        hid_t obj = H5Oopen(group, link, H5P_DEFAULT);
        if (obj < 0) {
            slm_status st = slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot open object %s", s->path, path);
            free(path);
            return st;
        }
        slm_status st = SLM_OK;
        H5I_type_t kind = H5Iget_type(obj);
        if (kind == H5I_GROUP)
            st = walk_group(s, obj, path, depth + 1, d);
        else if (kind == H5I_DATASET)
            st = add_dataset(s, path, d);
        /* named datatypes are not tensors */
        H5Oclose(obj);
        free(path);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

/* ---------------------------------------------------------- ordering */

static int dataset_cmp(const void *a, const void *b) {
    const hdf5_dataset *x = a, *y = b;
    int c = slm_tensor_name_order(x->gguf_name, y->gguf_name);
    return c ? c : strcmp(x->path, y->path);
}

/* -------------------------------------------------------- the tensors */

static slm_status add_tensor(slm_model *m, hdf5_state *s, uint32_t index, slm_diag *d) {
    const hdf5_dataset *ds = &s->sets[index];
    slm_status st = SLM_OK;
    hid_t dset = H5Dopen2(s->file, ds->path, H5P_DEFAULT);
    hid_t ft = dset >= 0 ? H5Dget_type(dset) : -1;
    hid_t space = dset >= 0 ? H5Dget_space(dset) : -1;
    if (dset < 0 || ft < 0 || space < 0) {
        st = slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot open dataset %s", s->path, ds->path);
        goto done;
    }
    slm_type type = SLM_TYPE_F32;
    if ((st = classify_type(s, ds, dset, ft, &type, d)) != SLM_OK) goto done;
    int rank = H5Sget_simple_extent_ndims(space);
    if (H5Sget_simple_extent_type(space) != H5S_SIMPLE || rank < 1 || rank > SLM_MAX_DIMS) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: dataset %s has rank %d, expected 1 to %d dimensions", s->path,
                          ds->path, rank, SLM_MAX_DIMS);
        goto done;
    }
    hsize_t dims[SLM_MAX_DIMS];
    H5Sget_simple_extent_dims(space, dims, NULL);
    int64_t shape[SLM_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        if (dims[i] > ((hsize_t)1 << 40)) {
            st = slm_diag_set(d, SLM_ERR_INPUT, "%s: dataset %s: dimension %d is %llu, out of range", s->path,
                              ds->path, i, (unsigned long long)dims[i]);
            goto done;
        }
        shape[i] = (int64_t)dims[i];
    }
    slm_tensor *t;
    st = slm_hf_add_tensor(m, ds->hf_name, type, rank, shape, NULL, hdf5_load, s, index, &t, d);
    if (st != SLM_OK) {
        slm_diag_prefix(d, ds->path);
        goto done;
    }
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    uint64_t bytes = (uint64_t)npoints * H5Tget_size(ft);
    if (npoints < 0 || bytes != (uint64_t)t->nbytes) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: dataset %s holds %llu bytes, expected %zu for tensor %s", s->path,
                          ds->path, (unsigned long long)bytes, t->nbytes, t->name);
        goto done;
    }
done:
    if (space >= 0) H5Sclose(space);
    if (ft >= 0) H5Tclose(ft);
    if (dset >= 0) H5Dclose(dset);
    return st;
}

/* Two spellings of one tensor (a group path and a dotted root name) would
 * otherwise surface as a confusing duplicate GGUF name. */
static slm_status check_unique(const hdf5_state *s, slm_diag *d) {
    for (uint32_t i = 1; i < s->n; i++)
        if (strcmp(s->sets[i - 1].gguf_name, s->sets[i].gguf_name) == 0)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: datasets %s and %s both hold tensor %s (%s)", s->path,
                                s->sets[i - 1].path, s->sets[i].path, s->sets[i].hf_name, s->sets[i].gguf_name);
    return SLM_OK;
}

static slm_status read_config_and_tokenizer(slm_model *m, hdf5_state *s, slm_diag *d) {
    char *text = NULL, *tok = NULL, *tcfg = NULL;
    size_t len = 0, tok_len = 0, tcfg_len = 0;
    bool found, have_tok, have_tcfg;
    size_t wl = strlen(s->path) + 32;
    char *what = malloc(wl);
    if (!what) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", s->path);
    slm_status st = read_root_string(s, "config", &text, &len, &found, d);
    if (st != SLM_OK) goto done;
    if (!found) {
        st = slm_diag_set(d, SLM_ERR_INPUT,
                          "%s: no root attribute \"config\"; expected the model's config.json text there (see "
                          "docs/hdf5.md)",
                          s->path);
        goto done;
    }
    snprintf(what, wl, "%s:config", s->path);
    if ((st = slm_hf_config_parse(m, text, len, what, d)) != SLM_OK) goto done;
    if ((st = read_root_string(s, "tokenizer", &tok, &tok_len, &have_tok, d)) != SLM_OK) goto done;
    if ((st = read_root_string(s, "tokenizer_config", &tcfg, &tcfg_len, &have_tcfg, d)) != SLM_OK) goto done;
    if (have_tok) {
        snprintf(what, wl, "%s:tokenizer", s->path);
        st = slm_hf_tokenizer_parse(m, tok, tok_len, have_tcfg ? tcfg : NULL, tcfg_len, what, d);
    }
done:
    free(text);
    free(tok);
    free(tcfg);
    free(what);
    return st;
}

static slm_status read_model(slm_model *m, hdf5_state *s, slm_diag *d) {
    slm_status st = read_config_and_tokenizer(m, s, d);
    if (st != SLM_OK) return st;
    hid_t root = H5Gopen2(s->file, "/", H5P_DEFAULT);
    if (root < 0) return slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot open the root group", s->path);
    st = walk_group(s, root, "", 0, d);
    H5Gclose(root);
    if (st != SLM_OK) return st;
    if (s->n == 0)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: no datasets with Hugging Face tensor names (e.g. /model/embed_tokens/weight)",
                            s->path);
    qsort(s->sets, s->n, sizeof *s->sets, dataset_cmp);
    if ((st = check_unique(s, d)) != SLM_OK) return st;
    for (uint32_t i = 0; i < s->n; i++)
        if ((st = add_tensor(m, s, i, d)) != SLM_OK) return st;
    return SLM_OK;
}

slm_status slm_hdf5_read(const char *path, slm_model **out, slm_diag *d) {
    *out = NULL;
    if (!slm_path_exists(path)) return slm_diag_set(d, SLM_ERR_IO, "%s: no such file", path);
    slm_hdf5_quiet q;
    slm_hdf5_quiet_begin(&q);
    slm_status st = SLM_OK;
    slm_model *m = NULL;
    hdf5_state *s = NULL;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        st = is == 0 ? slm_diag_set(d, SLM_ERR_INPUT, "%s: not an HDF5 file (no HDF5 signature found)", path)
                     : slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot open", path);
        goto done;
    }
    m = slm_model_new();
    s = calloc(1, sizeof *s);
    if (s) s->file = -1;
    if (!m || !s || !(s->path = strdup(path))) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    s->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file < 0) {
        st = slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot open as HDF5", path);
        goto done;
    }
    m->reader_state = s;
    m->reader_state_free = state_free;
    s = NULL; /* owned by the model now */
    m->source_format = slm_model_strdup(m, "hdf5");
    if (!m->source_format || slm_model_add_input(m, path, NULL, 0) != SLM_OK) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    st = read_model(m, m->reader_state, d);
done:
    H5Eclear2(H5E_DEFAULT);
    if (st != SLM_OK) {
        state_free(s);
        slm_model_free(m);
        m = NULL;
        slm_diag_prefix(d, path);
    }
    slm_hdf5_quiet_end(&q);
    *out = m;
    return st;
}
