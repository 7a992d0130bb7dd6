/* slmc_gptq_pass.c - see slmc_gptq_pass.h. */
#include "slmc_gptq_pass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_qblock.h"
#include "slmc_convert.h"

/* slm_tensor.encode: the whole matrix as f32 rows, then GPTQ. */
static slm_status encode_gptq(slm_tensor *t, void *ctx, void *dst, slm_diag *d) {
    slmc_gptq_tensor *gt = ctx;
    const int64_t n = t->ne[0], rows = slm_tensor_nrows(t);
    float *w = malloc(sizeof(float) * (size_t)(n * rows));
    if (!w) return slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory for GPTQ", t->name);
    slm_status st = slm_tensor_rows_f32(t, 0, rows, w, d);
    if (st == SLM_OK) {
        slm_diag gd = {0};
        st = slmc_gptq_quantize(t->out_type, w, rows, n, gt->stats->gram, gt->importance, gt->opts, dst, &gt->result,
                                &gd);
        if (st != SLM_OK) slm_diag_set(d, st, "tensor '%s': %s", t->name, gd.msg);
        gt->done = st == SLM_OK;
    }
    free(w);
    return st;
}

/* Why GPTQ does not apply to a converted matrix, or NULL when it does. */
static const char *why_not(const slm_tensor *t, const slmc_stats_entry *e) {
    if (!e || !e->gram) return "no activation statistics (a lookup, or not seen in calibration)";
    if (t->ne[2] != 1 || t->ne[3] != 1) return "not a 2-D matrix";
    if (!slmc_gptq_supports(t->out_type)) return "its type has no element access for GPTQ";
    if (t->ne[0] % slm_qblock_span(t->out_type)) return "its rows do not fit the type's blocks";
    return NULL;
}

slm_status slmc_gptq_pass_attach(slm_model *m, slmc_stats *stats, const slmc_gptq_opts *o, slmc_gptq_pass **out,
                                 slm_diag *d) {
    *out = NULL;
    if (!stats || !stats->has_gram)
        return slm_diag_set(d, SLM_ERR_INPUT, "--method gptq needs the Gram matrices of the layer inputs: collect "
                            "the statistics with slmc calibrate --gram");
    slmc_gptq_pass *p = calloc(1, sizeof *p);
    if (p) p->tensors = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *p->tensors);
    if (!p || !p->tensors) {
        slmc_gptq_pass_free(p);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    p->opts = *o;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        if (t->out_type == t->type || !slmc_is_quantizable(t)) continue;
        const slmc_stats_entry *e = slmc_stats_find(stats, t->name);
        const char *why = why_not(t, e);
        if (why) {
            if (p->n_without++ == 0) {
                snprintf(p->first_without, sizeof p->first_without, "%s", t->name);
                snprintf(p->first_without_why, sizeof p->first_without_why, "%s", why);
            }
            continue;
        }
        slmc_gptq_tensor *gt = &p->tensors[p->n_tensors++];
        gt->t = t;
        gt->opts = &p->opts;
        gt->stats = e;
        gt->importance = slmc_stats_importance(stats, t->name);
        t->encode = encode_gptq;
        t->encode_ctx = gt;
    }
    *out = p;
    return SLM_OK;
}

void slmc_gptq_pass_free(slmc_gptq_pass *p) {
    if (!p) return;
    free(p->tensors);
    free(p);
}
