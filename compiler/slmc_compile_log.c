/* slmc_compile_log.c - see slmc_compile_log.h. */
#include "slmc_compile_log.h"

#include <stdio.h>
#include <stdlib.h>

void slmc_compile_log_plan(const slmc_convert_result *conv, slmc_quant_method method, const char *calib,
                           const slmc_calib_result *cr) {
    for (uint32_t i = 0; i < conv->n_fallbacks; i++)
        fprintf(stderr, "slmc: warning: %s: %s; stored as %s\n", conv->fallbacks[i].tensor, conv->fallbacks[i].reason,
                slm_type_name(conv->fallbacks[i].used));
    if (method == SLMC_METHOD_NONE) return;
    fprintf(stderr, "slmc: %s: importance weights for %u of %u quantized matrices", calib, cr->n_weighted,
            cr->n_weighted + cr->n_unweighted);
    if (cr->n_unweighted)
        fprintf(stderr, " (no entry for %u, e.g. %s: quantized without)", cr->n_unweighted, cr->first_unweighted);
    fputc('\n', stderr);
}

/* "q4_k 150, q6_k 25, f32 45": what a mix turned into. */
void slmc_compile_log_types(const slm_model *m) {
    uint32_t count[SLM_TYPE_COUNT] = {0};
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if ((unsigned)m->tensors[i].out_type < SLM_TYPE_COUNT) count[m->tensors[i].out_type]++;
    fprintf(stderr, "slmc: tensor types:");
    const char *sep = " ";
    for (int t = 0; t < SLM_TYPE_COUNT; t++)
        if (count[t]) {
            fprintf(stderr, "%s%s %u", sep, slm_type_name(t), count[t]);
            sep = ", ";
        }
    fputc('\n', stderr);
}

static int cmp_double(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* GPTQ's layer-output error against the imatrix rounding of the same
 * matrices: its median and range, and where it did not apply; AWQ's groups
 * and the reduction of its measure. */
void slmc_compile_log_quant(const slmc_quant_pass *p) {
    if (!p) return;
    double *ratio = malloc(sizeof(double) * (p->n_tensors ? p->n_tensors : 1));
    uint32_t n = 0, kept = 0;
    for (uint32_t i = 0; i < p->n_tensors && ratio; i++) {
        const slmc_gptq_result *r = &p->tensors[i].result;
        if (!p->tensors[i].gptq || !p->tensors[i].done) continue;
        kept += r->kept_reference;
        ratio[n++] = r->err_reference > 0 ? (r->kept_reference ? r->err_reference : r->err) / r->err_reference : 1.0;
    }
    if (n) {
        qsort(ratio, n, sizeof *ratio, cmp_double);
        fprintf(stderr, "slmc: gptq: %u matrices; layer-output error relative to imatrix rounding: median %.3f "
                "(%.3f-%.3f)", n, ratio[n / 2], ratio[0], ratio[n - 1]);
        if (kept) fprintf(stderr, "; %u kept imatrix rounding (GPTQ was not better)", kept);
        fputc('\n', stderr);
    }
    if (p->use_gptq && p->n_without_gptq)
        fprintf(stderr, "slmc: gptq: not applied to %u matri%s (e.g. %s: %s); imatrix rounding\n", p->n_without_gptq,
                p->n_without_gptq == 1 ? "x" : "ces", p->first_without, p->first_without_why);
    if (p->awq && ratio) {
        uint32_t scaled = 0;
        n = 0;
        for (uint32_t i = 0; i < p->awq->n_groups; i++) {
            const slmc_awq_group_result *g = &p->awq->groups[i];
            scaled += g->alpha > 0;
            if (g->err_plain > 0) ratio[n++] = g->err / g->err_plain;
        }
        if (n) qsort(ratio, n, sizeof *ratio, cmp_double);
        fprintf(stderr, "slmc: awq: %u of %u matrix groups scaled; weighted rounding error relative to unscaled: "
                "median %.3f (%.3f-%.3f)\n", scaled, p->awq->n_groups, n ? ratio[n / 2] : 1.0, n ? ratio[0] : 1.0,
                n ? ratio[n - 1] : 1.0);
    }
    free(ratio);
}

/* Achieved sparsity per pruned tensor, and pruned weights the output type
 * could not hold at exactly zero. */
void slmc_compile_log_prune(const slmc_prune_pass *p) {
    if (!p) return;
    const slmc_prune_opts *o = &p->opts;
    uint64_t zeros = 0, total = 0, inexact = 0;
    char what[64];
    if (o->group_m > 0) snprintf(what, sizeof what, "pattern %d:%d", o->keep_n, o->group_m);
    else snprintf(what, sizeof what, "sparsity %.3g per %s", o->sparsity,
                  o->scope == SLMC_PRUNE_PER_ROW ? "row" : o->scope == SLMC_PRUNE_PER_TENSOR ? "tensor" : "model");
    fprintf(stderr, "slmc: pruned %u tensors (%s, %s):\n", p->n_tensors, slmc_prune_method_name(o->method), what);
    for (uint32_t i = 0; i < p->n_tensors; i++) {
        const slmc_prune_tensor *pt = &p->tensors[i];
        fprintf(stderr, "  %-32s %6.2f%% zeros", pt->t->name, pt->n_total ? 100.0 * pt->n_zero / pt->n_total : 0.0);
        if (pt->t->zero_inexact)
            fprintf(stderr, " (%llu pruned weights near zero in %s, which has no exact 0 there)",
                    (unsigned long long)pt->t->zero_inexact, slm_type_name(pt->t->out_type));
        fputc('\n', stderr);
        zeros += pt->n_zero;
        total += pt->n_total;
        inexact += pt->t->zero_inexact;
    }
    fprintf(stderr, "slmc: pruned tensors hold %.2f%% zeros in all%s\n", total ? 100.0 * zeros / total : 0.0,
            inexact ? "; some output types cannot hold exact zeros (see above)" : "");
}

