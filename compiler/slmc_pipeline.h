/* slmc_pipeline.h - the state of one `slmc compile` as its passes run
 * (slmc_cmd_compile.c), and the steps that live in files of their own:
 * LoRA merge, the size-budget search, scoring the artifact, the report. */
#ifndef SLMC_PIPELINE_H
#define SLMC_PIPELINE_H

#include <stdarg.h>
#include <stdbool.h>

#include "slm_gguf.h"
#include "slm_model.h"
#include "slmc_calib.h"
#include "slmc_calib_run.h"
#include "slmc_compile_args.h"
#include "slmc_convert.h"
#include "slmc_provenance.h"
#include "slmc_prune.h"
#include "slmc_quant_pass.h"
#include "slmc_report.h"
#include "slmc_budget.h"
#include "slmc_structured.h"

#define SLMC_PIPELINE_MAX_TIMINGS 12

typedef struct slmc_pass_timing {
    char name[32];
    char summary[320];
    double seconds;
} slmc_pass_timing;

typedef struct slmc_pipeline_score slmc_pipeline_score;
typedef struct slmc_pipeline_lora slmc_pipeline_lora_state;

typedef struct slmc_pipeline {
    const slmc_compile_args *a;
    slm_model *m;
    double t_start;
    /* each input tensor's type, by name, for the report (passes change
     * t->type: a merge or pruning leaves f32 behind) */
    uint32_t n_src;
    char (*src_names)[SLM_MAX_NAME];
    slm_type *src_types;
    /* lora-merge */
    slmc_pipeline_lora_state *lora;
    int n_adapter_files;
    char *adapter_files[2 * SLMC_MAX_ADAPTERS]; /* owned: hashed as inputs */
    /* calibrate */
    slmc_calib *calib;
    bool calibrated; /* by a run here (not a statistics file) */
    slmc_calib_run_result calib_run;
    slmc_calib_data_info calib_info;
    /* prune */
    slmc_structured_result structured;
    slmc_prune_pass *prune;
    /* quantize */
    slmc_convert_opts conv_opts;
    slmc_convert_result conv;
    slmc_calib_result calib_apply;
    slmc_quant_pass *qpass;
    bool budget_wanted;
    slmc_budget_result budget;
    /* write, score */
    slmc_hashes *hashes;
    slmc_pipeline_score *score;
    bool scored;
    slmc_report_scores score_figures; /* when scored; data borrowed from the args */
    int n_warnings;
    char warnings[8][240];
    int n_timings;
    slmc_pass_timing timings[SLMC_PIPELINE_MAX_TIMINGS];
} slmc_pipeline;

/* Appends a pass's line (name, printf summary, seconds since t0). */
void slmc_pipeline_timed(slmc_pipeline *p, const char *name, double t0, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A warning: on stderr (unless quiet) and in the report. */
void slmc_pipeline_warn(slmc_pipeline *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Merges a->adapters into p->m in f32 (slmc_lora.h); notes the adapter
 * files for hashing. */
slm_status slmc_pipeline_lora(slmc_pipeline *p, slm_diag *d);

/* After the type plan: merged tensors are F32 now, but KEEP means the
 * type the input had. */
void slmc_pipeline_lora_keep_types(const slmc_pipeline *p);

/* The teacher: a->teacher, or the input again with the same adapters
 * merged, so that scores measure what compression cost. */
typedef struct slmc_pipeline_teacher {
    slm_model *m;
    slmc_pipeline_lora_state *lora; /* the merge its tensors load through */
    char *key_extra;                /* teacher-cache key beyond its files: the adapters and weights */
} slmc_pipeline_teacher;

slm_status slmc_pipeline_open_teacher(slmc_pipeline *p, slmc_pipeline_teacher *t, slm_diag *d);
void slmc_pipeline_close_teacher(slmc_pipeline_teacher *t);

/* The size-budget search (a->budget_bytes or a->budget_bpw): sets every
 * tensor's out_type. */
slm_status slmc_pipeline_budget(slmc_pipeline *p, slm_diag *d);

/* Sets up the score step: a placeholder "slmc.score" key on the model, and
 * in *wo the writer hooks that evaluate the finished (still temporary)
 * artifact against the teacher and fill the key with the figures. */
slm_status slmc_pipeline_score_prepare(slmc_pipeline *p, slm_gguf_write_opts *wo, slm_diag *d);
void slmc_pipeline_score_log(const slmc_pipeline *p);

/* --report: the JSON, Markdown and plot. */
slm_status slmc_pipeline_report(slmc_pipeline *p, slm_diag *d);

/* Frees everything the pipeline holds, the model last. */
void slmc_pipeline_free(slmc_pipeline *p);
void slmc_pipeline_score_free(slmc_pipeline_score *s);          /* accepts NULL */
void slmc_pipeline_lora_free(slmc_pipeline_lora_state *l);      /* accepts NULL */

#endif
