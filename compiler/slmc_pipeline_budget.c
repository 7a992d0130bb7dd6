/* slmc_pipeline_budget.c - the compile's size-budget search: the teacher's
 * logits over the calibration data (computed once, or read from the
 * teacher cache), and slmc_budget_search scoring each candidate model
 * against them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_cli.h"
#include "slmc_pipeline.h"
#include "slmc_score.h"
#include "slmc_score_setup.h"

typedef struct eval_ctx {
    slmc_teacher *teacher;
    int n_threads;
} eval_ctx;

static slm_status eval_student(void *ctx, slm_model *student, double *kld, slm_diag *d) {
    eval_ctx *e = ctx;
    slmrt_model *rm = NULL;
    slm_status st = slmrt_model_from_ir(student, &rm, d);
    slmc_score_result r;
    if (st == SLM_OK) st = slmc_score_student(e->teacher, rm, &r, d);
    if (st == SLM_OK) *kld = r.s.kld_mean;
    slmrt_model_free(rm);
    return st;
}

static void show_progress(void *ctx, int done, int total, const char *what) {
    slmc_progress *p = ctx;
    if (!p->enabled) return;
    double now = slmc_now();
    if (done < total && now - p->last_draw < 0.16) return;
    p->last_draw = now;
    double el = now - p->start, eta = done ? el * (total - done) / done : 0;
    fprintf(stderr, "\r\033[Kbudget: sensitivity %d/%d %s  ETA %.0fs", done, total, what, eta);
    fflush(stderr);
}

slm_status slmc_pipeline_budget(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    const double t0 = slmc_now();
    slmc_pipeline_teacher tch = {0};
    slmrt_model *trm = NULL;
    slmc_teacher *teacher = NULL;
    slm_status st = slmc_pipeline_open_teacher(p, &tch, d);
    if (st == SLM_OK) st = slmrt_model_from_ir(tch.m, &trm, d);
    slmc_score_setup_opts so = {.data = a->calib_data, .dataset = a->calib_dataset,
                                .max_tokens = (size_t)(a->budget_tokens < a->calib_tokens ? a->budget_tokens : a->calib_tokens),
                                .n_ctx = (int)a->calib_ctx,
                                .n_threads = a->threads, .teacher_name = a->teacher ? a->teacher : a->input,
                                .key_extra = tch.key_extra, .quiet = a->quiet};
    if (st == SLM_OK) st = slmc_score_setup_teacher(trm, &so, &teacher, d);
    double budget = a->budget_bytes;
    if (st == SLM_OK && a->budget_bpw > 0) {
        double n = 0;
        for (uint32_t i = 0; i < p->m->n_tensors; i++) n += (double)slm_tensor_nelements(&p->m->tensors[i]);
        budget = a->budget_bpw * n / 8.0;
    }
    slmc_progress prog;
    slmc_progress_init(&prog, "budget", a->quiet);
    eval_ctx ec = {teacher, a->threads};
    slmc_budget_opts bo = {.budget_bytes = budget, .reserve_bytes = 1024, /* keys still to come: quantization_version, quantize.imatrix.* */
                           .n_types = a->n_budget_types, .stats = p->calib ? p->calib->stats : NULL,
                           .eval = eval_student, .eval_ctx = &ec, .progress = show_progress, .progress_ctx = &prog};
    memcpy(bo.types, a->budget_types, sizeof(slm_type) * (size_t)a->n_budget_types);
    if (st == SLM_OK) st = slmc_budget_search(p->m, &bo, &p->budget, d);
    slmc_progress_done(&prog);
    if (st == SLM_OK) {
        const slmc_budget_result *r = &p->budget;
        const slmc_budget_point *c = &r->points[r->chosen];
        slmc_pipeline_timed(p, "budget", t0, "%.0f bytes: %s, %.2f MB, KLD %.5f measured on %s (%d evaluations; "
                            "%llu teacher forward passes)", budget, c->label, c->bytes / 1e6, c->kld_meas,
                            a->calib_data, r->n_evals, (unsigned long long)slmc_teacher_n_forward(teacher));
        if (!a->quiet) {
            fprintf(stderr, "slmc: budget: %s\n", p->timings[p->n_timings - 1].summary);
            for (int i = 0; i < r->n_points; i++)
                if (!isnan(r->points[i].kld_meas))
                    fprintf(stderr, "  %-22s %10.2f MB  KLD %.5f (predicted %.5f)%s\n", r->points[i].label,
                            r->points[i].bytes / 1e6, r->points[i].kld_meas, r->points[i].kld_pred,
                            r->points[i].chosen ? "  <- chosen" : "");
        }
    }
    slmc_teacher_free(teacher);
    slmrt_model_free(trm);
    slmc_pipeline_close_teacher(&tch);
    return st;
}
