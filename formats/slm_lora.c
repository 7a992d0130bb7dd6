/* slm_lora.c - LoRA adapters: format sniffing, the llama.cpp GGUF adapter
 * reader (formats.md §7), and what both readers share (pairs, decoding, the
 * fit check against a base model). PEFT folders: slm_lora_peft.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_gguf.h"
#include "slm_lora_int.h"
#include "slm_safetensors.h"

/* ------------------------------------------------------------- shared */

slm_lora_pair *slm_lora_add_pair(slm_lora_adapter *a) {
    slm_lora_pair *p = realloc(a->pairs, (a->n_pairs + 1) * sizeof *p);
    if (!p) return NULL;
    a->pairs = p;
    memset(&p[a->n_pairs], 0, sizeof *p);
    return &p[a->n_pairs++];
}

slm_lora_full *slm_lora_add_full(slm_lora_adapter *a) {
    slm_lora_full *f = realloc(a->full, (a->n_full + 1) * sizeof *f);
    if (!f) return NULL;
    a->full = f;
    memset(&f[a->n_full], 0, sizeof *f);
    return &f[a->n_full++];
}

slm_status slm_lora_decode(slm_type type, const void *data, int64_t rows, int64_t ne0, float *dst, const char *what,
                           slm_diag *d) {
    const slm_type_traits *tr = slm_type_traits_get(type);
    if (!tr || !tr->to_f32)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: no decoder for type %s", what, slm_type_name(type));
    size_t rs = slm_type_row_size(type, ne0);
    if (!rs)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: row length %lld is not a multiple of the %s block size", what,
                            (long long)ne0, slm_type_name(type));
    for (int64_t r = 0; r < rows; r++) tr->to_f32((const char *)data + (size_t)r * rs, dst + r * ne0, ne0);
    return SLM_OK;
}

slm_status slm_lora_transpose(float **m, int64_t rows, int64_t cols, slm_diag *d) {
    float *t = malloc(sizeof(float) * (size_t)(rows * cols > 0 ? rows * cols : 1));
    if (!t) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) t[c * rows + r] = (*m)[r * cols + c];
    free(*m);
    *m = t;
    return SLM_OK;
}

const slm_lora_pair *slm_lora_find(const slm_lora_adapter *a, const char *name) {
    for (uint32_t i = 0; a && i < a->n_pairs; i++)
        if (strcmp(a->pairs[i].name, name) == 0) return &a->pairs[i];
    return NULL;
}

void slm_lora_free(slm_lora_adapter *a) {
    if (!a) return;
    for (uint32_t i = 0; i < a->n_pairs; i++) {
        free(a->pairs[i].module);
        free(a->pairs[i].a);
        free(a->pairs[i].b);
    }
    for (uint32_t i = 0; i < a->n_full; i++) free(a->full[i].source);
    free(a->pairs);
    free(a->full);
    if (a->format == SLM_LORA_GGUF) slm_model_free(a->priv);
    if (a->format == SLM_LORA_PEFT && a->priv) {
        slm_st_close(a->priv, false);
        free(a->priv);
    }
    free(a->path);
    free(a);
}

slm_status slm_lora_full_f32(const slm_lora_full *f, float *dst, slm_diag *d) {
    return slm_lora_decode(f->type, f->data, f->ne[1], f->ne[0], dst, f->source, d);
}

/* A base tensor the adapter can change: a matrix ([n_in, n_out, 1, 1]). */
static slm_status check_shape(const slm_lora_adapter *a, const char *name, const char *what, int64_t n_in,
                              int64_t n_out, const slm_model *m, slm_diag *d) {
    const slm_tensor *t = slm_model_find_tensor(m, name);
    if (t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] != n_in || t->ne[1] != n_out)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: %s %s has shape [%lld, %lld] but the base model's is [%lld, %lld, %lld, %lld] (an "
                            "adapter made for another base model?)",
                            a->path, what, name, (long long)n_in, (long long)n_out, (long long)t->ne[0],
                            (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    return SLM_OK;
}

slm_status slm_lora_check(const slm_lora_adapter *a, const slm_model *m, slm_diag *d) {
    if (a->arch[0] && m->hp.arch[0] && strcmp(a->arch, m->hp.arch) != 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: adapter architecture '%s' differs from the base model's '%s'",
                            a->path, a->arch, m->hp.arch);
    /* every name the model lacks, so one run shows the whole mismatch */
    char missing[600] = "";
    size_t len = 0;
    int n_missing = 0;
    for (uint32_t i = 0; i < a->n_pairs + a->n_full; i++) {
        const char *name = i < a->n_pairs ? a->pairs[i].name : a->full[i - a->n_pairs].name;
        if (slm_model_find_tensor(m, name)) continue;
        if (n_missing++ < 8 && len < sizeof missing)
            len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s", n_missing > 1 ? ", " : "", name);
    }
    if (n_missing)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: %d adapted tensor%s not in the base model: %s%s", a->path,
                            n_missing, n_missing > 1 ? "s are" : " is", missing, n_missing > 8 ? ", ..." : "");
    for (uint32_t i = 0; i < a->n_pairs; i++) {
        const slm_lora_pair *p = &a->pairs[i];
        slm_status st = check_shape(a, p->name, "LoRA update of", p->n_in, p->n_out, m, d);
        if (st != SLM_OK) return st;
    }
    for (uint32_t i = 0; i < a->n_full; i++) {
        const slm_lora_full *f = &a->full[i];
        slm_status st = check_shape(a, f->name, "modules_to_save replacement of", f->ne[0], f->ne[1], m, d);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

/* --------------------------------------------------------------- GGUF */

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static const char *kv_str(const slm_model *g, const char *key) {
    const slm_kv *kv = slm_model_find_kv(g, key);
    return kv && kv->value.type == SLM_V_STR ? kv->value.v.str.s : NULL;
}

/* A 2-D adapter tensor decoded to f32 (malloc'd). */
static slm_status gguf_f32(const char *path, slm_tensor *t, float **out, slm_diag *d) {
    *out = NULL;
    if (t->n_dims > 2 || t->ne[2] != 1 || t->ne[3] != 1)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor %s has %d dimensions, expected a matrix", path, t->name,
                            t->n_dims);
    slm_status st = slm_tensor_acquire(t, d);
    if (st != SLM_OK) return st;
    float *v = malloc(sizeof(float) * (size_t)(t->ne[0] * t->ne[1] > 0 ? t->ne[0] * t->ne[1] : 1));
    if (!v) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory for tensor %s", path, t->name);
    st = slm_tensor_rows_f32(t, 0, t->ne[1], v, d);
    if (st != SLM_OK) {
        free(v);
        return st;
    }
    *out = v;
    return SLM_OK;
}

static slm_status read_gguf(slm_lora_adapter *a, const char *path, slm_diag *d) {
    slm_model *g = NULL;
    slm_status st = slm_gguf_read(path, &g, d);
    if (st != SLM_OK) return st;
    a->priv = g;
    snprintf(a->arch, sizeof a->arch, "%s", g->hp.arch);
    const char *type = kv_str(g, "general.type");
    if (!type || strcmp(type, "adapter") != 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: general.type is %s%s%s, expected \"adapter\" (not a LoRA adapter)",
                            path, type ? "'" : "", type ? type : "missing", type ? "'" : "");
    const char *atype = kv_str(g, "adapter.type");
    if (!atype || strcmp(atype, "lora") != 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: adapter.type is %s%s%s, expected \"lora\"", path,
                            atype ? "'" : "", atype ? atype : "missing", atype ? "'" : "");
    double alpha = 0;
    const slm_kv *akv = slm_model_find_kv(g, "adapter.lora.alpha");
    if (akv) {
        if (akv->value.type == SLM_V_F32 || akv->value.type == SLM_V_F64) alpha = akv->value.v.f64;
        else if (akv->value.type == SLM_V_U32 || akv->value.type == SLM_V_U64) alpha = (double)akv->value.v.u64;
        else if (akv->value.type == SLM_V_I32 || akv->value.type == SLM_V_I64) alpha = (double)akv->value.v.i64;
        else
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: key adapter.lora.alpha has type %s, expected f32", path,
                                slm_vtype_name(akv->value.type));
    }
    /* Every tensor is half of a pair or a norm llama.cpp skips. */
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        const char *n = g->tensors[i].name;
        if (ends_with(n, ".lora_a") || ends_with(n, ".lora_b")) {
            char other[SLM_MAX_NAME];
            snprintf(other, sizeof other, "%s", n);
            other[strlen(other) - 1] = ends_with(n, ".lora_a") ? 'b' : 'a';
            if (!slm_model_find_tensor(g, other))
                return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor %s has no partner %s (both halves of a LoRA pair "
                                    "are required)", path, n, other);
        } else if (ends_with(n, "_norm.weight")) {
            a->n_ignored++;
        } else {
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor %s has an unexpected suffix (expected .lora_a or "
                                ".lora_b)", path, n);
        }
    }
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        slm_tensor *ta = &g->tensors[i];
        if (!ends_with(ta->name, ".lora_a")) continue;
        char base[SLM_MAX_NAME], bname[SLM_MAX_NAME];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(ta->name) - strlen(".lora_a")), ta->name);
        snprintf(bname, sizeof bname, "%s.lora_b", base);
        slm_tensor *tb = slm_model_find_tensor(g, bname);
        /* token_embd's pair is stored flipped (llama.cpp looks rows of A up
         * by token id): a [r, n_vocab], b [r, n_embd] */
        const bool embd = strcmp(base, "token_embd.weight") == 0;
        const int64_t ra = embd ? ta->ne[0] : ta->ne[1], rb = tb->ne[0];
        if (ra != rb || ra <= 0 || ra > (1 << 20))
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: %s: lora_a has rank %lld but lora_b has rank %lld "
                                "(shapes [%lld, %lld] and [%lld, %lld])", path, base, (long long)ra, (long long)rb,
                                (long long)ta->ne[0], (long long)ta->ne[1], (long long)tb->ne[0],
                                (long long)tb->ne[1]);
        slm_lora_pair *p = slm_lora_add_pair(a);
        if (!p || !(p->module = strdup(base))) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        snprintf(p->name, sizeof p->name, "%s", base);
        p->rank = (int)ra;
        p->alpha = alpha;
        p->scale = alpha != 0 ? alpha / (double)ra : 1.0;
        float *fa, *fb;
        if ((st = gguf_f32(path, ta, &fa, d)) != SLM_OK) return st;
        if ((st = gguf_f32(path, tb, &fb, d)) != SLM_OK) {
            free(fa);
            return st;
        }
        if (embd) {
            /* B·A form: B = a as stored ([n_vocab][r]), A = bᵀ ([r][n_embd]) */
            p->n_out = ta->ne[1];
            p->n_in = tb->ne[1];
            p->b = fa;
            p->a = fb;
            if ((st = slm_lora_transpose(&p->a, p->n_in, ra, d)) != SLM_OK) return st;
        } else {
            p->n_in = ta->ne[0];
            p->n_out = tb->ne[1];
            p->a = fa;
            p->b = fb;
        }
    }
    return SLM_OK;
}

/* -------------------------------------------------------------- entry */

static bool is_gguf_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

slm_status slm_lora_read(const char *path, const slm_hparams *base, slm_lora_adapter **out, slm_diag *d) {
    if (!out) return slm_diag_set(d, SLM_ERR_USAGE, "slm_lora_read: out is NULL");
    *out = NULL;
    if (!path) return slm_diag_set(d, SLM_ERR_USAGE, "slm_lora_read: path is NULL");
    if (!slm_path_exists(path)) return slm_diag_set(d, SLM_ERR_IO, "%s: no such file or folder", path);
    slm_lora_adapter *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path))) {
        free(a);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    slm_status st;
    if (!slm_path_is_dir(path) && is_gguf_file(path)) {
        a->format = SLM_LORA_GGUF;
        st = read_gguf(a, path, d);
        if (st != SLM_OK) slm_diag_prefix(d, path);
    } else {
        a->format = SLM_LORA_PEFT;
        st = slm_lora_read_peft(a, path, base, d);
    }
    if (st != SLM_OK) {
        slm_lora_free(a);
        return st;
    }
    *out = a;
    return SLM_OK;
}
