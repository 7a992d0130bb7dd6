/* slmc_pipeline_report.c - --report: fills an slmc_report (slmc_report.h)
 * from what the pipeline did and writes its JSON, Markdown and plot. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "slmc_cli.h"
#include "slmc_pipeline.h"
#include "slmc_report.h"

static slm_type source_type(const slmc_pipeline *p, const slm_tensor *t) {
    for (uint32_t i = 0; i < p->n_src; i++)
        if (!strcmp(p->src_names[i], t->name)) return p->src_types[i];
    return t->type;
}

static const slmc_prune_tensor *pruned(const slmc_pipeline *p, const slm_tensor *t) {
    for (uint32_t i = 0; p->prune && i < p->prune->n_tensors; i++)
        if (p->prune->tensors[i].t == t) return &p->prune->tensors[i];
    return NULL;
}

static const slmc_quant_tensor *quantized(const slmc_pipeline *p, const slm_tensor *t) {
    for (uint32_t i = 0; p->qpass && i < p->qpass->n_tensors; i++)
        if (p->qpass->tensors[i].t == t) return &p->qpass->tensors[i];
    return NULL;
}

static const slmc_budget_unit *searched(const slmc_pipeline *p, const slm_tensor *t) {
    for (int i = 0; i < p->budget.n_units; i++)
        if (p->budget.units[i].t == t) return &p->budget.units[i];
    return NULL;
}

/* How the bytes were made, and the error the pass measured (GPTQ's
 * layer-output error relative to imatrix rounding; the search's predicted
 * KLD increase). */
static void describe(const slmc_pipeline *p, const slm_tensor *t, slm_type src, const char **method, double *error,
                     char *note, size_t note_len) {
    const slmc_quant_tensor *q = quantized(p, t);
    const slmc_budget_unit *u = searched(p, t);
    *error = -1;
    note[0] = 0;
    if (t->out_type == src && !slm_type_is_quantized(t->out_type)) *method = t->out_type == t->type ? "copy" : "convert";
    else if (!slm_type_is_quantized(t->out_type)) *method = "convert";
    else if (q && q->gptq && q->done) {
        *method = q->scaling ? "awq+gptq" : "gptq";
        const slmc_gptq_result *r = &q->result;
        if (r->err_reference > 0) *error = (r->kept_reference ? r->err_reference : r->err) / r->err_reference;
    } else if (q && q->scaling) *method = "awq";
    else if (t->quant_weights) *method = "imatrix";
    else if (t->out_type == src) *method = "copy";
    else *method = "rtn";
    if (u)
        for (int k = 0; k < u->n; k++)
            if (u->type[k] == t->out_type) snprintf(note, note_len, "search: KLD +%.3g alone", u->dkld[k]);
    if (t->zero_inexact)
        snprintf(note + strlen(note), note_len - strlen(note), "%s%llu pruned weights not exactly 0 in %s",
                 note[0] ? "; " : "", (unsigned long long)t->zero_inexact, slm_type_name(t->out_type));
}

slm_status slmc_pipeline_report(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    slmc_report *r = slmc_report_new();
    if (!r) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    struct stat sb;
    uint64_t artifact = 0;
    if (!a->hf && stat(a->output, &sb) == 0) artifact = (uint64_t)sb.st_size;
    slmc_report_overall o = {a->input, a->output, artifact, slmc_now() - p->t_start};
    slmc_report_set_overall(r, &o);
    for (uint32_t i = 0; i < p->m->n_tensors; i++) {
        const slm_tensor *t = &p->m->tensors[i];
        const slm_type src = source_type(p, t);
        const slmc_prune_tensor *pt = pruned(p, t);
        char note[160];
        slmc_report_tensor rt = {.name = t->name, .n_dims = t->n_dims, .src_type = src, .out_type = t->out_type,
                                 .bytes = slm_type_row_size(t->out_type, t->ne[0]) * (uint64_t)slm_tensor_nrows(t),
                                 .sparsity = pt && pt->n_total ? (double)pt->n_zero / (double)pt->n_total : -1};
        memcpy(rt.ne, t->ne, sizeof rt.ne);
        describe(p, t, src, &rt.method, &rt.error, note, sizeof note);
        rt.note = note[0] ? note : NULL;
        slmc_report_add_tensor(r, &rt);
    }
    for (int i = 0; i < p->n_timings; i++)
        slmc_report_add_pass(r, p->timings[i].name, p->timings[i].summary, p->timings[i].seconds);
    if (p->scored) slmc_report_set_scores(r, &p->score_figures);
    if (p->budget.n_points) {
        slmc_report_set_budget(r, p->budget.budget_bytes);
        for (int i = 0; i < p->budget.n_points; i++) {
            const slmc_budget_point *bp = &p->budget.points[i];
            slmc_report_candidate c = {bp->label, bp->bytes, bp->kld_pred, bp->kld_meas, bp->chosen, bp->is_preset};
            slmc_report_add_candidate(r, &c);
        }
    }
    for (uint32_t i = 0; i < p->conv.n_fallbacks; i++)
        slmc_report_add_warning(r, "%s: %s; stored as %s", p->conv.fallbacks[i].tensor, p->conv.fallbacks[i].reason,
                                slm_type_name(p->conv.fallbacks[i].used));
    for (int i = 0; i < p->n_warnings; i++) slmc_report_add_warning(r, "%s", p->warnings[i]);
    slm_status st = slmc_report_write(r, a->report, d);
    slmc_report_free(r);
    if (st == SLM_OK && !a->quiet) fprintf(stderr, "slmc: report: %s (and .md%s)\n", a->report,
                                           p->budget.n_points ? ", .svg" : "");
    return st;
}
