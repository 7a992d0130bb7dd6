/* slm_hf_write.c - writes the IR back out as a Hugging Face llama folder:
 * model.safetensors (HF names, Q/K rows back in rotate-half order, each tensor
 * in its out_type), config.json and, when there is one, the tokenizer.
 * Tensors are produced one at a time, so memory stays bounded by the largest
 * tensor rather than the model. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm_file.h"
#include "slm_hf.h"
#include "slm_safetensors.h"

typedef struct hf_writer {
    slm_model *m;
    uint32_t *heads; /* [n_tensors] inverse-permutation head count, 0 = none */
    slm_progress_fn progress;
    void *progress_ctx;
    uint64_t bytes_done, bytes_total;
} hf_writer;

static bool is_st_type(slm_type t) { return t == SLM_TYPE_F32 || t == SLM_TYPE_F16 || t == SLM_TYPE_BF16; }

/* Permutation rows: rows of a matrix, elements of a vector (a bias). */
static void perm_geometry(const slm_tensor *t, slm_type type, int64_t *nrows, size_t *row_bytes) {
    size_t es = (size_t)slm_type_traits_get(type)->type_size;
    if (t->n_dims == 1) {
        *nrows = t->ne[0];
        *row_bytes = es;
    } else {
        *nrows = slm_tensor_nrows(t);
        *row_bytes = es * (size_t)t->ne[0];
    }
}

/* GGUF row h*hd + 2i + p goes back to HF row h*hd + p*hd/2 + i
 * (the inverse of formats.md §4.2). */
static void unpermute_rows(const char *src, char *dst, int64_t nrows, size_t row_bytes, int64_t heads) {
    int64_t hd = nrows / heads, half = hd / 2;
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t p = 0; p < 2; p++)
                memcpy(dst + (size_t)(h * hd + p * half + i) * row_bytes, src + (size_t)(h * hd + 2 * i + p) * row_bytes,
                       row_bytes);
}

/* Re-encodes an acquired tensor into out_type (f32, f16 or bf16), a few rows
 * at a time. */
static slm_status convert_rows(const slm_tensor *t, char *dst, slm_diag *d) {
    const slm_type_traits *to = slm_type_traits_get(t->out_type);
    int64_t ne0 = t->ne[0], nrows = slm_tensor_nrows(t);
    int64_t chunk = ne0 > 0 && ne0 < 65536 ? 65536 / ne0 : 1;
    size_t out_row = (size_t)to->type_size * (size_t)ne0;
    float *buf = malloc((size_t)(chunk * (ne0 > 0 ? ne0 : 1)) * sizeof *buf);
    if (!buf) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", t->name);
    slm_status st = SLM_OK;
    for (int64_t r = 0; r < nrows && st == SLM_OK; r += chunk) {
        int64_t n = nrows - r < chunk ? nrows - r : chunk;
        st = slm_tensor_rows_f32(t, r, n, buf, d);
        /* row by row, as llama-quantize encodes (safetensors types ignore the weights) */
        for (int64_t k = 0; k < n && st == SLM_OK; k++)
            to->quantize_row(buf + k * ne0, dst + (size_t)(r + k) * out_row, ne0, t->quant_weights);
    }
    free(buf);
    return st;
}

/* slm_st_write callback: tensor `index` in out_type and HF row order. */
static slm_status get_tensor(void *ctx, size_t index, void *dst, slm_diag *d) {
    hf_writer *w = ctx;
    slm_tensor *t = &w->m->tensors[index];
    /* Leave data the caller acquired in place; drop only what we load. */
    bool ours = t->data == NULL;
    slm_status st = slm_tensor_acquire(t, d);
    if (st != SLM_OK) return st;
    int64_t nrows;
    size_t row_bytes;
    perm_geometry(t, t->out_type, &nrows, &row_bytes);
    size_t nbytes = (size_t)nrows * row_bytes;
    uint32_t heads = w->heads[index];
    const char *bytes = t->data;
    char *tmp = NULL;
    if (t->out_type != t->type) {
        /* Convert straight into dst unless the rows still have to move. */
        tmp = heads ? malloc(nbytes ? nbytes : 1) : NULL;
        if (heads && !tmp) st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", t->name);
        if (st == SLM_OK) st = convert_rows(t, heads ? tmp : dst, d);
        bytes = heads ? tmp : NULL;
    }
    if (st == SLM_OK && heads)
        unpermute_rows(bytes, dst, nrows, row_bytes, heads);
    else if (st == SLM_OK && bytes)
        memcpy(dst, bytes, nbytes);
    free(tmp);
    if (ours) {
        slm_tensor_release(t);
        slm_tensor_evict(t);
    }
    w->bytes_done += t->nbytes;
    if (st == SLM_OK && w->progress)
        w->progress(w->progress_ctx, (uint32_t)index + 1, w->m->n_tensors, t->name, w->bytes_done, w->bytes_total);
    return st;
}

/* Checks every tensor can be written before any file is touched. */
static slm_status plan_tensors(hf_writer *w, slm_st_write_tensor *out, char (*names)[SLM_MAX_NAME * 2], slm_diag *d) {
    const slm_model *m = w->m;
    if (strcmp(m->hp.arch, "llama") != 0 || !m->hp.n_head)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "only llama models with a known head count can be written as a Hugging Face folder "
                            "(architecture '%s', %u heads)", m->hp.arch, m->hp.n_head);
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        int permute;
        if (strcmp(t->name, "rope_freqs.weight") == 0)
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                                "%s (llama3 rope scaling factors) has no Hugging Face equivalent", t->name);
        if (!slm_hf_name_from_gguf(t->name, names[i], sizeof names[i], &permute))
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor %s has no Hugging Face llama name", t->name);
        if (!is_st_type(t->out_type))
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                                "tensor %s: output type %s cannot be stored in safetensors, expected f32, f16 or bf16",
                                t->name, slm_type_name(t->out_type));
        if (t->out_type != t->type) {
            const slm_type_traits *tr = slm_type_traits_get(t->type);
            if (!tr || !tr->to_f32)
                return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor %s: cannot convert %s to %s (no decoder)", t->name,
                                    slm_type_name(t->type), slm_type_name(t->out_type));
        }
        uint32_t heads = 0;
        if (permute == 1) heads = m->hp.n_head;
        if (permute == 2) heads = m->hp.n_head_kv ? m->hp.n_head_kv : m->hp.n_head;
        if (permute) {
            int64_t nrows;
            size_t row_bytes;
            perm_geometry(t, t->out_type, &nrows, &row_bytes);
            if (!heads || nrows % (2 * (int64_t)heads) != 0)
                return slm_diag_set(d, SLM_ERR_INPUT,
                                    "tensor %s: %lld rows cannot be split into %u heads of even size", t->name,
                                    (long long)nrows, heads);
        }
        w->heads[i] = heads;
        slm_st_write_tensor *o = &out[i];
        o->name = names[i];
        o->type = t->out_type;
        o->n_dims = t->n_dims;
        for (int k = 0; k < t->n_dims; k++) o->shape[k] = t->ne[t->n_dims - 1 - k];
        o->get = get_tensor;
    }
    return SLM_OK;
}

static slm_status make_dirs(const char *dir, slm_diag *d) {
    char *p = strdup(dir);
    if (!p) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        mkdir(p, 0777);
        *s = '/';
    }
    int rc = mkdir(p, 0777);
    int e = errno;
    free(p);
    if (rc != 0 && !(e == EEXIST && slm_path_is_dir(dir)))
        return slm_diag_set(d, SLM_ERR_IO, "%s: cannot create directory: %s", dir, strerror(e));
    return SLM_OK;
}

slm_status slm_hf_write(slm_model *m, const char *dir, slm_progress_fn progress, void *progress_ctx, slm_diag *d) {
    uint32_t n = m->n_tensors;
    hf_writer w = {.m = m, .heads = calloc(n ? n : 1, sizeof *w.heads), .progress = progress,
                   .progress_ctx = progress_ctx};
    for (uint32_t i = 0; i < n; i++) w.bytes_total += m->tensors[i].nbytes;
    slm_st_write_tensor *tensors = calloc(n ? n : 1, sizeof *tensors);
    char(*names)[SLM_MAX_NAME * 2] = calloc(n ? n : 1, sizeof *names);
    char *st_path = slm_path_join(dir, "model.safetensors");
    slm_status st = SLM_OK;
    if (!w.heads || !tensors || !names || !st_path) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK) st = plan_tensors(&w, tensors, names, d);
    if (st == SLM_OK) st = make_dirs(dir, d);
    if (st == SLM_OK) {
        static const char *const meta_keys[] = {"format"}, *const meta_values[] = {"pt"};
        st = slm_st_write(st_path, tensors, n, &w, meta_keys, meta_values, 1, d);
    }
    if (st == SLM_OK) st = slm_hf_config_write(m, dir, d);
    if (st == SLM_OK && m->tok.n_tokens > 0) st = slm_hf_tokenizer_write(m, dir, d);
    free(st_path);
    free(names);
    free(tensors);
    free(w.heads);
    return st;
}
