/* slmc_report.h - the compile report: what every tensor became, which passes
 * ran and how long they took, how close the student stays to the teacher, and
 * (after a budget search) the size-vs-KLD trade-off the choice was made on.
 *
 * The pipeline fills an slmc_report as it goes; the writers render it as
 * JSON (for tools; keys in a fixed order, unknown numbers as null), Markdown
 * (for people: summary, passes, tensors, warnings) and an SVG scatter of
 * size against KL divergence that the Markdown links to. Every file is
 * written atomically (temporary name + rename), so a failed write leaves
 * neither a partial report nor a temporary file.
 *
 * Unknown values: a double that is NaN is "unknown" everywhere; for sparsity
 * and error a negative value means the same (not pruned / not measured).
 * All strings passed in are copied; the report owns its copies. */
#ifndef SLMC_REPORT_H
#define SLMC_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_status.h"
#include "slm_type.h"

typedef struct slmc_report slmc_report;

/* One row per tensor written to the artifact. */
typedef struct slmc_report_tensor {
    const char *name;   /* "blk.0.attn_q.weight" */
    int64_t ne[4];      /* shape, ggml order (ne[0] = row length) */
    int n_dims;         /* 1..4 */
    slm_type src_type;  /* type in the input */
    slm_type out_type;  /* type written */
    uint64_t bytes;     /* bytes written for this tensor */
    double sparsity;    /* fraction of exact zeros; < 0 when not pruned */
    const char *method; /* "rtn", "imatrix", "gptq", "awq", "awq+gptq", "copy"; NULL = unknown */
    double error;       /* e.g. relative layer-output error; < 0 or NaN when unknown */
    const char *note;   /* optional: "requantized after LoRA merge"; NULL = none */
} slmc_report_tensor;

/* The whole run. n_weights and tensor bytes are not set here: they are the
 * sums over the tensor rows, so bits per weight always agree with the table. */
typedef struct slmc_report_overall {
    const char *input;       /* input path as given */
    const char *output;      /* artifact path */
    uint64_t artifact_bytes; /* size of the artifact file (tensors + header) */
    double seconds;          /* wall time of the whole compile; NaN = unknown */
} slmc_report_overall;

/* Student-vs-teacher scores over a token set; any double may be NaN. */
typedef struct slmc_report_scores {
    double kld_mean, kld_median, kld_p90, kld_p99, kld_max; /* nats per token */
    double same_top1;                                       /* fraction in [0, 1] */
    double dp_mean, dp_rms; /* Δp: student minus teacher probability of the actual next token */
    double ppl_teacher, ppl_student;
    uint64_t n_tokens;    /* tokens scored */
    const char *data;     /* the token/text file scored on; NULL = unknown */
} slmc_report_scores;

/* One point of a budget search: a λ of the search, a llama.cpp preset, or a
 * uniform type, with its size and KL divergence (predicted from calibration
 * statistics and/or measured by running the model; NaN when not known). */
typedef struct slmc_report_candidate {
    const char *label; /* "search λ=0.3", "preset q4_k_m", "uniform q3_k" */
    uint64_t bytes;    /* artifact (or tensor) bytes this candidate gives */
    double kld_pred;   /* predicted mean KLD; NaN = not predicted */
    double kld_meas;   /* measured mean KLD; NaN = not measured */
    bool chosen;       /* the candidate that was written */
    bool is_preset;    /* a fixed recipe (preset / uniform type), not a search point */
} slmc_report_candidate;

/* NULL when out of memory. */
slmc_report *slmc_report_new(void);
/* Accepts NULL. */
void slmc_report_free(slmc_report *r);

/* The setters and adders copy their arguments and return SLM_OK or
 * SLM_ERR_NOMEM. An allocation failure is also remembered: the writers then
 * fail with it, so callers may ignore these return values. */
slm_status slmc_report_set_overall(slmc_report *r, const slmc_report_overall *o);
slm_status slmc_report_add_tensor(slmc_report *r, const slmc_report_tensor *t);
/* One pass, in the order they ran; summary may be NULL; seconds NaN = unknown. */
slm_status slmc_report_add_pass(slmc_report *r, const char *name, const char *summary, double seconds);
slm_status slmc_report_set_scores(slmc_report *r, const slmc_report_scores *s);
/* The size budget of a search, in the unit of the candidates' bytes (0 = none). */
slm_status slmc_report_set_budget(slmc_report *r, uint64_t bytes);
slm_status slmc_report_add_candidate(slmc_report *r, const slmc_report_candidate *c);
slm_status slmc_report_add_warning(slmc_report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Totals over the tensor rows: elements, bytes, and 8*bytes/elements
 * (NaN when there are no elements). Any pointer may be NULL. */
void slmc_report_totals(const slmc_report *r, uint64_t *n_weights, uint64_t *tensor_bytes, double *bpw);
uint32_t slmc_report_n_candidates(const slmc_report *r);

/* Writers. Errors name the file. */
slm_status slmc_report_write_json(const slmc_report *r, const char *path, slm_diag *d);
/* svg_name: the plot's path relative to the Markdown file (it is written
 * into the link as is), or NULL for no plot. */
slm_status slmc_report_write_markdown(const slmc_report *r, const char *path, const char *svg_name, slm_diag *d);
/* The size-vs-KLD scatter of the candidates (axes and a note when there are
 * none). */
slm_status slmc_report_write_svg(const slmc_report *r, const char *path, slm_diag *d);

/* Writes json_path, and beside it the same name with .md (and .svg when
 * there are candidates) in place of a trailing ".json" (appended otherwise):
 * out.json -> out.md, out.svg. The Markdown links to the SVG by its base
 * name, so the three files can be moved together. */
slm_status slmc_report_write(const slmc_report *r, const char *json_path, slm_diag *d);

#endif
