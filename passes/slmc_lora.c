/* slmc_lora.c - the LoRA merge pass (slmc_lora.h): checks adapters against
 * the model, then gives every changed tensor a loader that decodes the
 * original and adds the adapters' updates when the tensor is acquired. */
#include "slmc_lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A merged tensor's recipe; its address is the tensor's load_ctx, so the
 * array holding these is never reallocated once attached. */
typedef struct lora_tensor {
    slm_tensor source;            /* the tensor as it was: type, bytes, loader */
    uint32_t n_pairs, n_full;
    const slm_lora_pair **pairs;  /* [n_pairs], borrowed from the adapters */
    double *coef;                 /* [n_pairs] w_k · s_k */
    const slm_lora_full **full;   /* [n_full] */
    double *wfull;                /* [n_full] w_k */
} lora_tensor;

struct slmc_lora_state {
    int n_adapters;
    slm_lora_adapter **adapters;
    uint32_t n_tensors;
    lora_tensor *tensors;
};

static void state_free(struct slmc_lora_state *s) {
    if (!s) return;
    for (int i = 0; i < s->n_adapters; i++) slm_lora_free(s->adapters[i]);
    for (uint32_t i = 0; i < s->n_tensors; i++) {
        free(s->tensors[i].pairs);
        free(s->tensors[i].coef);
        free(s->tensors[i].full);
        free(s->tensors[i].wfull);
    }
    free(s->adapters);
    free(s->tensors);
    free(s);
}

void slmc_lora_result_free(slmc_lora_result *res) {
    if (!res) return;
    for (uint32_t i = 0; i < res->n_merged; i++) free(res->merged[i].terms);
    free(res->merged);
    state_free(res->state);
    memset(res, 0, sizeof *res);
}

/* ------------------------------------------------------------- loader */

/* W' = (1 − Σw_k)·W + Σ w_k·S_k for the replacements: exactly S_k for one
 * adapter at weight 1. */
static slm_status apply_full(const lora_tensor *lt, float *w, size_t n, slm_diag *d) {
    double *acc = malloc(sizeof(double) * (n ? n : 1));
    float *s = malloc(sizeof(float) * (n ? n : 1));
    if (!acc || !s) {
        free(acc);
        free(s);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory merging a modules_to_save weight", lt->source.name);
    }
    double wsum = 0;
    for (uint32_t k = 0; k < lt->n_full; k++) wsum += lt->wfull[k];
    for (size_t i = 0; i < n; i++) acc[i] = (1.0 - wsum) * (double)w[i];
    slm_status st = SLM_OK;
    for (uint32_t k = 0; k < lt->n_full && st == SLM_OK; k++) {
        st = slm_lora_full_f32(lt->full[k], s, d);
        for (size_t i = 0; st == SLM_OK && i < n; i++) acc[i] += lt->wfull[k] * (double)s[i];
    }
    for (size_t i = 0; st == SLM_OK && i < n; i++) w[i] = (float)acc[i];
    free(acc);
    free(s);
    return st;
}

/* Adds Σ coef_k · B_k·A_k to w (rows x n_in), one row at a time in double:
 * every row on its own, so the result does not depend on the threads. */
static slm_status apply_pairs(const lora_tensor *lt, float *w, int64_t rows, int64_t n_in, slm_diag *d) {
    int failed = 0;
#pragma omp parallel
    {
        double *acc = malloc(sizeof(double) * (size_t)n_in);
        if (!acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t o = 0; o < rows; o++) {
            if (!acc) continue;
            memset(acc, 0, sizeof(double) * (size_t)n_in);
            for (uint32_t k = 0; k < lt->n_pairs; k++) {
                const slm_lora_pair *p = lt->pairs[k];
                for (int j = 0; j < p->rank; j++) {
                    const double c = lt->coef[k] * (double)p->b[o * p->rank + j];
                    const float *a = p->a + (size_t)j * n_in;
                    for (int64_t i = 0; i < n_in; i++) acc[i] += c * (double)a[i];
                }
            }
            float *row = w + o * n_in;
            for (int64_t i = 0; i < n_in; i++) row[i] = (float)((double)row[i] + acc[i]);
        }
        free(acc);
    }
    if (failed) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory merging LoRA updates", lt->source.name);
    return SLM_OK;
}

static slm_status load_merged(void *ctx, const slm_tensor *t, void *dst, slm_diag *d) {
    (void)t;
    lora_tensor *lt = ctx;
    slm_tensor *src = &lt->source;
    const int64_t n_in = src->ne[0], rows = slm_tensor_nrows(src);
    slm_status st = slm_tensor_acquire(src, d);
    if (st == SLM_OK) st = slm_tensor_rows_f32(src, 0, rows, dst, d);
    slm_tensor_release(src);
    slm_tensor_evict(src);
    if (st == SLM_OK && lt->n_full) st = apply_full(lt, dst, (size_t)(n_in * rows), d);
    if (st == SLM_OK && lt->n_pairs) st = apply_pairs(lt, dst, rows, n_in, d);
    return st;
}

/* --------------------------------------------------------------- pass */

static const slm_lora_full *find_full(const slm_lora_adapter *a, const char *name) {
    for (uint32_t i = 0; i < a->n_full; i++)
        if (strcmp(a->full[i].name, name) == 0) return &a->full[i];
    return NULL;
}

/* Collects the terms for tensor t from every adapter into lt and the
 * result entry (not attached yet). */
static slm_status plan_tensor(const struct slmc_lora_state *s, const slmc_lora_input *in, const slm_tensor *t,
                              lora_tensor *lt, slmc_lora_merged *mr, slm_diag *d) {
    const int n = s->n_adapters;
    lt->pairs = calloc((size_t)n, sizeof *lt->pairs);
    lt->coef = calloc((size_t)n, sizeof *lt->coef);
    lt->full = calloc((size_t)n, sizeof *lt->full);
    lt->wfull = calloc((size_t)n, sizeof *lt->wfull);
    mr->terms = calloc((size_t)n * 2, sizeof *mr->terms);
    if (!lt->pairs || !lt->coef || !lt->full || !lt->wfull || !mr->terms)
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n; k++) {
        const slm_lora_full *f = find_full(s->adapters[k], t->name);
        if (f) {
            lt->full[lt->n_full] = f;
            lt->wfull[lt->n_full++] = in[k].weight;
            mr->terms[mr->n_terms++] = (slmc_lora_term){k, 0, in[k].weight};
            mr->replaced = true;
        }
        const slm_lora_pair *p = slm_lora_find(s->adapters[k], t->name);
        if (p) {
            lt->pairs[lt->n_pairs] = p;
            lt->coef[lt->n_pairs++] = (double)in[k].weight * p->scale;
            mr->terms[mr->n_terms++] = (slmc_lora_term){k, p->rank, (double)in[k].weight * p->scale};
        }
    }
    if (!mr->n_terms) return SLM_OK;
    const slm_type_traits *tr = slm_type_traits_get(t->type);
    if (!tr || !tr->to_f32)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "LoRA merge: %s has type %s, which slmc cannot decode yet",
                            t->name, slm_type_name(t->type));
    snprintf(mr->name, sizeof mr->name, "%s", t->name);
    mr->base_type = t->type;
    mr->requantized = slm_type_is_quantized(t->type);
    return SLM_OK;
}

slm_status slmc_lora_merge(slm_model *m, const slmc_lora_input *inputs, int n, slmc_lora_result *res, slm_diag *d) {
    if (!res) return slm_diag_set(d, SLM_ERR_USAGE, "slmc_lora_merge: result is NULL");
    memset(res, 0, sizeof *res);
    if (!m || (n > 0 && !inputs) || n < 0)
        return slm_diag_set(d, SLM_ERR_USAGE, "slmc_lora_merge: NULL model or inputs, or a negative count");
    for (int k = 0; k < n; k++) {
        if (!inputs[k].path) return slm_diag_set(d, SLM_ERR_USAGE, "LoRA adapter %d: no path", k + 1);
        if (!isfinite(inputs[k].weight))
            return slm_diag_set(d, SLM_ERR_USAGE, "%s: LoRA weight %g is not a finite number", inputs[k].path,
                                (double)inputs[k].weight);
    }
    struct slmc_lora_state *s = calloc(1, sizeof *s);
    slm_status st = s ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK) {
        s->adapters = calloc((size_t)(n ? n : 1), sizeof *s->adapters);
        s->tensors = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *s->tensors);
        res->merged = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *res->merged);
        if (!s->adapters || !s->tensors || !res->merged) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    res->state = s;
    for (int k = 0; k < n && st == SLM_OK; k++) {
        st = slm_lora_read(inputs[k].path, &m->hp, &s->adapters[k], d);
        if (st == SLM_OK) s->n_adapters++;
        if (st == SLM_OK) st = slm_lora_check(s->adapters[k], m, d);
    }
    res->n_adapters = (uint32_t)s->n_adapters;
    /* plan everything before touching the model */
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        lora_tensor *lt = &s->tensors[s->n_tensors];
        slmc_lora_merged *mr = &res->merged[res->n_merged];
        s->n_tensors++;
        res->n_merged++;
        st = plan_tensor(s, inputs, &m->tensors[i], lt, mr, d);
        if (st == SLM_OK && !mr->n_terms) { /* untouched: drop the slot again */
            free(lt->pairs);
            free(lt->coef);
            free(lt->full);
            free(lt->wfull);
            free(mr->terms);
            memset(lt, 0, sizeof *lt);
            memset(mr, 0, sizeof *mr);
            s->n_tensors--;
            res->n_merged--;
        }
    }
    if (st != SLM_OK) {
        slmc_lora_result_free(res);
        return st;
    }
    for (uint32_t j = 0; j < res->n_merged; j++) {
        slm_tensor *t = slm_model_find_tensor(m, res->merged[j].name);
        lora_tensor *lt = &s->tensors[j];
        if (res->merged[j].requantized) res->n_requantized++;
        /* the tensor's source moves into the pass; the model keeps owning
         * any buffer (t->owned), and a loaded copy is dropped first */
        slm_tensor_release(t);
        lt->source = *t;
        lt->source.owned = NULL;
        lt->source.loaded = NULL;
        lt->source.encode = NULL;
        t->type = SLM_TYPE_F32;
        t->nbytes = (size_t)slm_tensor_nelements(t) * sizeof(float);
        t->data = NULL;
        t->src = NULL;
        t->permute_heads = 0;
        t->load = load_merged;
        t->load_ctx = lt;
    }
    return SLM_OK;
}
