/* slmc_quant_pass.c - see slmc_quant_pass.h. */
#include "slmc_quant_pass.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_qblock.h"
#include "slmc_convert.h"

/* Why GPTQ does not apply to a converted matrix, or NULL when it does. */
static const char *why_not_gptq(const slm_tensor *t, const slmc_stats_entry *e) {
    if (!e || !e->gram) return "no activation statistics (a lookup, or not seen in calibration)";
    if (t->ne[2] != 1 || t->ne[3] != 1) return "not a 2-D matrix";
    if (!slmc_gptq_supports(t->out_type)) return "its type has no element access for GPTQ";
    if (t->ne[0] % slm_qblock_span(t->out_type)) return "its rows do not fit the type's blocks";
    return NULL;
}

/* The tensor as f32 rows with the AWQ scaling applied. */
static slm_status scaled_rows(const slm_tensor *t, const slmc_awq_scaling *sc, float *w, slm_diag *d) {
    const int64_t n = t->ne[0], rows = slm_tensor_nrows(t);
    slm_status st = slm_tensor_rows_f32(t, 0, rows, w, d);
    if (st != SLM_OK || !sc) return st;
    const bool vector = t->n_dims == 1;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++) {
            float v = w[r * n + j];
            if (sc->in_scale) v *= sc->in_scale[j];
            if (sc->out_scale) v /= sc->out_scale[vector ? j : r];
            w[r * n + j] = v;
        }
    return SLM_OK;
}

/* The statistics of the scaled matrix's inputs x / s: the Gram matrix
 * D G D and the importance imp / s² (D = diag(1/s)). */
static double *scaled_gram(const double *g, const float *s, int64_t n) {
    double *out = malloc(sizeof(double) * (size_t)(n * n));
    if (out)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) out[i * n + j] = g[i * n + j] / ((double)s[i] * s[j]);
    return out;
}

static float *scaled_importance(const float *imp, const float *s, int64_t n) {
    float *out = malloc(sizeof(float) * (size_t)n);
    if (out)
        for (int64_t j = 0; j < n; j++) out[j] = imp[j] / (s[j] * s[j]);
    return out;
}

/* slm_tensor.encode */
static slm_status encode(slm_tensor *t, void *ctx, void *dst, slm_diag *d) {
    slmc_quant_tensor *qt = ctx;
    const int64_t n = t->ne[0], rows = slm_tensor_nrows(t);
    const float *in_scale = qt->scaling ? qt->scaling->in_scale : NULL;
    float *w = malloc(sizeof(float) * (size_t)(n * rows)), *imp = NULL;
    double *gram = NULL;
    if (!w) return slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory", t->name);
    slm_status st = scaled_rows(t, qt->scaling, w, d);
    const slm_type_traits *tr = slm_type_traits_get(t->out_type);
    if (st == SLM_OK && qt->importance) {
        imp = in_scale ? scaled_importance(qt->importance, in_scale, n) : (float *)qt->importance;
        if (!imp) st = slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory", t->name);
    }
    if (st == SLM_OK && qt->gptq) {
        gram = in_scale ? scaled_gram(qt->stats->gram, in_scale, n) : qt->stats->gram;
        slm_diag gd = {0};
        if (!gram) st = slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory", t->name);
        else st = slmc_gptq_quantize(t->out_type, w, rows, n, gram, imp, t->zero_mask, &qt->pass->gptq_opts, dst,
                                         &qt->result, &gd);
        if (st != SLM_OK && gd.msg[0]) slm_diag_set(d, st, "tensor '%s': %s", t->name, gd.msg);
    } else if (st == SLM_OK) {
        const size_t rb = slm_type_row_size(t->out_type, n);
        const int nt = qt->pass->gptq_opts.n_threads > 0 ? qt->pass->gptq_opts.n_threads : omp_get_num_procs();
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (tr->quantize_row) tr->quantize_row(w + r * n, (uint8_t *)dst + (size_t)r * rb, n, imp);
            else tr->from_f32(w + r * n, (uint8_t *)dst + (size_t)r * rb, n);
        }
    }
    qt->done = st == SLM_OK;
    if (gram != (qt->stats ? qt->stats->gram : NULL)) free(gram);
    if (imp != qt->importance) free(imp);
    free(w);
    return st;
}

slm_status slmc_quant_pass_attach(slm_model *m, slmc_stats *stats, bool use_awq, bool use_gptq,
                                  const slmc_gptq_opts *o, slmc_quant_pass **out, slm_diag *d) {
    *out = NULL;
    if (!stats)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s needs slmc calibrate's statistics (a llama.cpp imatrix has no "
                            "activation magnitudes per weight beyond x², and no Gram matrices)",
                            use_awq ? "--method awq" : "--method gptq");
    if (use_gptq && !stats->has_gram)
        return slm_diag_set(d, SLM_ERR_INPUT, "--method %s needs the Gram matrices of the layer inputs: collect the "
                            "statistics with slmc calibrate --gram", use_awq ? "awq+gptq" : "gptq");
    slmc_quant_pass *p = calloc(1, sizeof *p);
    if (p) p->tensors = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *p->tensors);
    if (!p || !p->tensors) {
        slmc_quant_pass_free(p);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    p->use_gptq = use_gptq;
    p->use_awq = use_awq;
    p->gptq_opts = *o;
    slm_status st = use_awq ? slmc_awq_search(m, stats, o->n_threads, &p->awq, d) : SLM_OK;
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        slm_tensor *t = &m->tensors[i];
        const slmc_awq_scaling *sc = slmc_awq_scaling_of(p->awq, t);
        const bool converted = t->out_type != t->type && slmc_is_quantizable(t);
        if (!sc && !converted) continue;
        const slmc_stats_entry *e = slmc_stats_find(stats, t->name);
        slmc_quant_tensor *qt = &p->tensors[p->n_tensors++];
        qt->t = t;
        qt->pass = p;
        qt->stats = e;
        qt->scaling = sc;
        qt->importance = converted && t->n_dims >= 2 ? slmc_stats_importance(stats, t->name) : NULL;
        if (converted && use_gptq) {
            const char *why = why_not_gptq(t, e);
            if (!why) qt->gptq = true;
            else if (p->n_without_gptq++ == 0) {
                snprintf(p->first_without, sizeof p->first_without, "%s", t->name);
                snprintf(p->first_without_why, sizeof p->first_without_why, "%s", why);
            }
        }
        t->encode = encode;
        t->encode_ctx = qt;
    }
    if (st != SLM_OK) {
        slmc_quant_pass_free(p);
        return st;
    }
    *out = p;
    return SLM_OK;
}

void slmc_quant_pass_free(slmc_quant_pass *p) {
    if (!p) return;
    slmc_awq_plan_free(p->awq);
    free(p->tensors);
    free(p);
}
