/* slmrt_model.c - turns an IR model into something the forward pass can run:
 * checks the architecture and hyperparameters, checks that every matrix has a
 * type the kernel table can multiply, acquires every tensor (zero copy for
 * memory-mapped data), decodes the small vectors (norms, biases, rope factors)
 * to f32 once, and resolves each layer's tensors to pointers so evaluation
 * never looks a name up. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "slmrt_model_priv.h"

/* Largest value accepted for a dimension that the forward pass keeps in an
 * int; real models are orders of magnitude smaller, and the cap keeps every
 * product of two dimensions inside int64 and size_t. */
#define SLMRT_MAX_DIM (1 << 24)

static slm_status check_data(const slm_tensor *t, size_t row_size, slm_diag *d) {
    int64_t nrows = slm_tensor_nrows(t);
    if (!t->data) return slm_diag_set(d, SLM_ERR_INTERNAL, "tensor %s has no data after acquire", t->name);
    if (nrows <= 0 || (uint64_t)nrows > SIZE_MAX / (row_size ? row_size : 1) ||
        t->nbytes < row_size * (size_t)nrows)
        return slm_diag_set(d, SLM_ERR_INPUT, "tensor %s holds %zu bytes, fewer than its %lld rows of %zu bytes",
                            t->name, t->nbytes, (long long)nrows, row_size);
    return SLM_OK;
}

/* Fills `mat` for a matrix the forward pass multiplies by; bias may be NULL. */
static slm_status setup_mat(slmrt_model *rm, const slm_tensor *t, const float *bias, slmrt_mat *mat,
                            slm_diag *d) {
    memset(mat, 0, sizeof *mat);
    if (!slm_type_is_valid(t->type) || (int)t->type >= SLM_TYPE_COUNT)
        return slm_diag_set(d, SLM_ERR_INPUT, "tensor %s has invalid type id %d", t->name, (int)t->type);
    const slmrt_type_kernels *k = &rm->kern->by_type[t->type];
    if (!k->dot || !k->prepare)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor %s has type %s, which the runtime cannot run yet",
                            t->name, slm_type_name(t->type));
    if (t->ne[0] <= 0 || t->ne[0] > SLMRT_MAX_DIM || t->ne[1] <= 0 || t->ne[1] > SLMRT_MAX_DIM || t->ne[2] != 1 ||
        t->ne[3] != 1)
        return slm_diag_set(d, SLM_ERR_INPUT, "tensor %s has shape [%lld, %lld, %lld, %lld], not a matrix",
                            t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                            (long long)t->ne[3]);
    size_t rs = slm_type_row_size(t->type, t->ne[0]);
    if (!rs)
        return slm_diag_set(d, SLM_ERR_INPUT, "tensor %s: row length %lld is not a multiple of the %s block size",
                            t->name, (long long)t->ne[0], slm_type_name(t->type));
    size_t prs = slmrt_prep_row_size(k, (int)t->ne[0]);
    if (!prs)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "tensor %s: row length %lld does not fit the %s activation layout its %s kernel needs",
                            t->name, (long long)t->ne[0], slm_type_name(k->partner), slm_type_name(t->type));
    slm_status st = check_data(t, rs, d);
    if (st != SLM_OK) return st;
    mat->t = t;
    mat->data = t->data;
    mat->row_size = rs;
    mat->n_in = (int)t->ne[0];
    mat->n_out = (int)t->ne[1];
    mat->k = k;
    mat->prep_row_size = prs;
    mat->bias = bias;
    if (prs > rm->max_prep_row) rm->max_prep_row = prs;
    return SLM_OK;
}

/* The f32 vectors (norms, biases, rope factors) decoded into one block. */
typedef struct vec_req {
    const slm_tensor *t;
    const float **dst;
} vec_req;

static slm_status decode_vectors(slmrt_model *rm, vec_req *req, int n, slm_diag *d) {
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const slm_tensor *t = req[i].t;
        if (!t) continue;
        if (!slm_type_is_valid(t->type) || (int)t->type >= SLM_TYPE_COUNT)
            return slm_diag_set(d, SLM_ERR_INPUT, "tensor %s has invalid type id %d", t->name, (int)t->type);
        const slm_type_traits *tr = slm_type_traits_get(t->type);
        int64_t ne = slm_tensor_nelements(t);
        size_t rs = slm_type_row_size(t->type, t->ne[0]);
        if (!tr || !tr->to_f32)
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor %s has type %s, which the runtime cannot run yet",
                                t->name, slm_type_name(t->type));
        if (ne <= 0 || ne > SLMRT_MAX_DIM || !rs)
            return slm_diag_set(d, SLM_ERR_INPUT, "tensor %s: %lld elements do not fit type %s", t->name,
                                (long long)ne, slm_type_name(t->type));
        slm_status st = check_data(t, rs, d);
        if (st != SLM_OK) return st;
        total += (size_t)ne;
    }
    rm->f32_block = malloc((total ? total : 1) * sizeof(float));
    if (!rm->f32_block)
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for %zu f32 norm/bias values", total);
    float *p = rm->f32_block;
    for (int i = 0; i < n; i++) {
        const slm_tensor *t = req[i].t;
        if (!t) continue;
        slm_status st = slm_tensor_rows_f32(t, 0, slm_tensor_nrows(t), p, d);
        if (st != SLM_OK) return st;
        *req[i].dst = p;
        p += slm_tensor_nelements(t);
    }
    return SLM_OK;
}

static const slm_tensor *find_layer(const slm_model *m, uint32_t l, const char *part) {
    char name[SLM_MAX_NAME];
    snprintf(name, sizeof name, "blk.%u.%s", l, part);
    return slm_model_find_tensor(m, name);
}

static slm_status check_hparams(slmrt_model *rm, const slm_model *m, slm_diag *d) {
    const slm_hparams *hp = &m->hp;
    uint32_t hd = slm_hparams_head_dim(hp);
    uint32_t n_kv = (hp->has & SLM_HP_HEAD_COUNT_KV) ? hp->n_head_kv : hp->n_head;
    uint32_t n_rot = (hp->has & SLM_HP_ROPE_DIM) ? hp->n_rot : hd;
    if (hp->n_embd > SLMRT_MAX_DIM || hp->n_ff > SLMRT_MAX_DIM || hp->n_head > SLMRT_MAX_DIM ||
        hd > SLMRT_MAX_DIM || (uint64_t)hp->n_head * hd > SLMRT_MAX_DIM || m->tok.n_tokens > INT32_MAX)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "llama: dimensions too large for the runtime "
                            "(embedding_length %u, feed_forward_length %u, head_count %u, head dim %u)",
                            hp->n_embd, hp->n_ff, hp->n_head, hd);
    if (!hd) return slm_diag_set(d, SLM_ERR_INPUT, "llama: head dimension is 0");
    if (!(hp->has & SLM_HP_RMS_EPS))
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: key llama.attention.layer_norm_rms_epsilon missing "
                            "(required, as in llama.cpp)");
    if (!(hp->rms_eps >= 0.0f) || hp->rms_eps > 1.0f)
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: attention.layer_norm_rms_epsilon %g is not in [0, 1]",
                            (double)hp->rms_eps);
    if ((hp->has & SLM_HP_VALUE_LENGTH) && hp->value_length != hd)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "llama: attention.value_length %u differs from the key "
                            "length %u, which the runtime does not support", hp->value_length, hd);
    if (n_rot == 0 || n_rot > hd || n_rot % 2)
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: rope.dimension_count %u must be even and at most the head "
                            "dimension %u", n_rot, hd);
    float base = (hp->has & SLM_HP_ROPE_FREQ_BASE) ? hp->rope_freq_base : 10000.0f;
    if (!(base > 0.0f) || base > 1e30f)
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: rope.freq_base %g must be positive", (double)base);
    float scale = 1.0f;
    if (hp->has & SLM_HP_ROPE_SCALING) {
        if (hp->rope_scaling == SLM_ROPE_SCALING_LINEAR) {
            if (!(hp->rope_scaling_factor > 0.0f) || hp->rope_scaling_factor > 1e30f)
                return slm_diag_set(d, SLM_ERR_INPUT, "llama: rope.scaling.factor %g must be positive",
                                    (double)hp->rope_scaling_factor);
            scale = 1.0f / hp->rope_scaling_factor;
        } else if (hp->rope_scaling != SLM_ROPE_SCALING_NONE) {
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "llama: rope.scaling.type %s is not supported by the "
                                "runtime yet (none and linear are)",
                                hp->rope_scaling == SLM_ROPE_SCALING_YARN ? "yarn" : "longrope");
        }
    }
    rm->n_vocab = (int)m->tok.n_tokens;
    rm->n_embd = (int)hp->n_embd;
    rm->n_ff = (int)hp->n_ff;
    rm->n_layer = (int)hp->n_layer;
    rm->n_head = (int)hp->n_head;
    rm->n_head_kv = (int)n_kv;
    rm->head_dim = (int)hd;
    rm->n_rot = (int)n_rot;
    rm->n_ctx_train = hp->n_ctx > INT_MAX ? INT_MAX : (int)hp->n_ctx;
    rm->rms_eps = hp->rms_eps;
    rm->freq_base = base;
    rm->freq_scale = scale;
    rm->rope_mode = SLMRT_ROPE_NORM; /* llama: adjacent pairs (formats.md 4.2) */
    return SLM_OK;
}

static slm_status build(slm_model *m, bool owns, slmrt_model **out, slm_diag *d) {
    *out = NULL;
    if (strcmp(m->hp.arch, "llama") != 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "architecture '%s' is not supported by the runtime yet "
                            "(only llama)", m->hp.arch[0] ? m->hp.arch : "(none)");
    slm_status st = slm_model_validate(m, d);
    if (st != SLM_OK) return st;

    slmrt_model *rm = calloc(1, sizeof *rm);
    if (!rm) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    rm->ir = m;
    rm->owns_ir = owns;
    rm->kern = slmrt_kernels_best();
    vec_req *req = NULL;
    if (!rm->kern || !rm->kern->dot_f32 || !rm->kern->axpy_f32) {
        st = slm_diag_set(d, SLM_ERR_INTERNAL, "no kernel table for this CPU");
        goto fail;
    }
    if ((st = check_hparams(rm, m, d)) != SLM_OK) goto fail;

    /* Acquire everything now, remembering what we acquired so that free
     * releases exactly that and leaves a caller's own acquisitions alone. */
    rm->we_acquired = calloc(m->n_tensors ? m->n_tensors : 1, sizeof(bool));
    rm->layers = calloc((size_t)rm->n_layer, sizeof *rm->layers);
    if (!rm->we_acquired || !rm->layers) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        if (t->data) continue;
        if ((st = slm_tensor_acquire(t, d)) != SLM_OK) goto fail;
        rm->we_acquired[i] = true;
    }

    /* Small vectors: norms and biases, decoded to f32 once. */
    int n_req = 2 + rm->n_layer * 9;
    req = calloc((size_t)n_req, sizeof *req);
    if (!req) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int r = 0;
    req[r++] = (vec_req){slm_model_find_tensor(m, "output_norm.weight"), &rm->output_norm};
    req[r++] = (vec_req){slm_model_find_tensor(m, "rope_freqs.weight"), &rm->rope_freqs};
    static const char *const bias_names[7] = {"attn_q.bias",   "attn_k.bias", "attn_v.bias",  "attn_output.bias",
                                              "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"};
    /* biases are decoded into a table first and attached to their matrices
     * below (setup_mat clears the matrix it fills) */
    const float **lbias = calloc((size_t)rm->n_layer * 7, sizeof *lbias);
    if (!lbias) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int l = 0; l < rm->n_layer; l++) {
        slmrt_layer *L = &rm->layers[l];
        req[r++] = (vec_req){find_layer(m, (uint32_t)l, "attn_norm.weight"), &L->attn_norm};
        req[r++] = (vec_req){find_layer(m, (uint32_t)l, "ffn_norm.weight"), &L->ffn_norm};
        for (int b = 0; b < 7; b++)
            req[r++] = (vec_req){find_layer(m, (uint32_t)l, bias_names[b]), &lbias[(size_t)l * 7 + b]};
    }
    st = decode_vectors(rm, req, r, d);
    if (st == SLM_OK && rm->rope_freqs) {
        /* ggml divides theta by these factors: zero or negative would give inf/NaN */
        for (int i = 0; i < rm->n_rot / 2; i++)
            if (!(rm->rope_freqs[i] > 0.0f)) {
                st = slm_diag_set(d, SLM_ERR_INPUT, "tensor rope_freqs.weight: factor %d is %g, expected > 0", i,
                                  (double)rm->rope_freqs[i]);
                break;
            }
    }

    /* Matrices. */
    for (int l = 0; l < rm->n_layer && st == SLM_OK; l++) {
        slmrt_layer *L = &rm->layers[l];
        static const char *const names[7] = {"attn_q.weight",   "attn_k.weight", "attn_v.weight",
                                             "attn_output.weight", "ffn_gate.weight", "ffn_up.weight",
                                             "ffn_down.weight"};
        slmrt_mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7 && st == SLM_OK; i++)
            st = setup_mat(rm, find_layer(m, (uint32_t)l, names[i]), lbias[(size_t)l * 7 + i], mats[i], d);
    }
    free(lbias);
    if (st != SLM_OK) goto fail;

    /* Embedding: rows are decoded on lookup, so it needs a decoder; it needs
     * kernels too only when it doubles as the output matrix. */
    rm->tok_embd = slm_model_find_tensor(m, "token_embd.weight");
    {
        const slm_tensor *t = rm->tok_embd;
        const slm_type_traits *tr = slm_type_traits_get(t->type);
        size_t rs = tr ? slm_type_row_size(t->type, t->ne[0]) : 0;
        if (!tr || !tr->to_f32 || !rs) {
            st = slm_diag_set(d, SLM_ERR_UNSUPPORTED, "tensor %s has type %s, which the runtime cannot run yet",
                              t->name, slm_type_name(t->type));
            goto fail;
        }
        if ((st = check_data(t, rs, d)) != SLM_OK) goto fail;
    }
    const slm_tensor *out_t = slm_model_find_tensor(m, "output.weight");
    if (!out_t) out_t = rm->tok_embd; /* tied, as llama.cpp does */
    if ((st = setup_mat(rm, out_t, NULL, &rm->output, d)) != SLM_OK) goto fail;

    free(req);
    *out = rm;
    return SLM_OK;
fail:
    free(req);
    rm->owns_ir = false; /* the caller frees the IR on failure */
    slmrt_model_free(rm);
    return st;
}

slm_status slmrt_model_from_ir(slm_model *m, slmrt_model **out, slm_diag *d) {
    if (!out) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_model_from_ir: out is NULL");
    *out = NULL;
    if (!m) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_model_from_ir: model is NULL");
    return build(m, false, out, d);
}

slm_status slmrt_model_load(const char *path, slmrt_model **out, slm_diag *d) {
    if (!out) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_model_load: out is NULL");
    *out = NULL;
    if (!path) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_model_load: path is NULL");
    slm_model *m = NULL;
    slm_status st = slm_gguf_read(path, &m, d);
    if (st == SLM_OK) st = build(m, true, out, d);
    if (st != SLM_OK) {
        slm_model_free(m);
        slm_diag_prefix(d, path);
        return st;
    }
    return SLM_OK;
}

void slmrt_model_free(slmrt_model *rm) {
    if (!rm) return;
    if (rm->we_acquired && rm->ir)
        for (uint32_t i = 0; i < rm->ir->n_tensors; i++)
            if (rm->we_acquired[i]) slm_tensor_release(&rm->ir->tensors[i]);
    if (rm->owns_ir) slm_model_free(rm->ir);
    free(rm->we_acquired);
    free(rm->layers);
    free(rm->f32_block);
    slmrt_lora_set_free(rm->lora);
    free(rm);
}

const slm_model *slmrt_model_ir(const slmrt_model *rm) { return rm ? rm->ir : NULL; }

int32_t slmrt_model_n_vocab(const slmrt_model *rm) { return rm ? rm->n_vocab : 0; }
