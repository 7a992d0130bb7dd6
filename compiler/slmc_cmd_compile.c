/* slmc_cmd_compile.c - `slmc compile INPUT -o OUT.gguf`: the pass pipeline.
 * Options come from flags and/or a recipe (slmc_compile_args.h); the passes
 * run in the order lora-merge -> prune -> calibrate -> quantize -> score
 * (a recipe may put calibrate before prune, whose statistics then drive
 * the pruning). Tensors stream: passes attach to them and do their work
 * when the writer reaches each one, so memory follows one tensor; the
 * artifact appears only when complete, with the recipe, the inputs'
 * hashes and the scores in its slmc.* keys. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm_gguf.h"
#include "slm_hf.h"
#include "slm_open.h"
#include "slmc_calib.h"
#include "slmc_calib_run.h"
#include "slmc_cli.h"
#include "slmc_compile_args.h"
#include "slmc_compile_log.h"
#include "slmc_convert.h"
#include "slmc_mix.h"
#include "slmc_parallel.h"
#include "slmc_pipeline.h"
#include "slmc_provenance.h"
#include "slmc_prune.h"
#include "slmc_quant_pass.h"
#include "slmc_structured.h"

/* --threads, --quiet and --report do not change a single byte of the artifact, so the
 * recorded command line leaves them out: the same compile on another
 * machine gives the same file. Returns a new argv (borrowed strings). */
static char **argv_for_provenance(int argc, char **argv, int *n_out) {
    char **out = calloc((size_t)argc + 1, sizeof *out);
    if (!out) return NULL;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q") || !strncmp(argv[i], "--threads=", 10) ||
            !strncmp(argv[i], "--report=", 9))
            continue;
        if (!strcmp(argv[i], "--threads") || !strcmp(argv[i], "--report")) {
            i++;
            continue;
        }
        out[n++] = argv[i];
    }
    *n_out = n;
    return out;
}

/* The writer's threads, one fewer while the inputs are still being hashed:
 * the hash is one sequential stream (SHA-256, ~1.8 GB/s on one core) and
 * usually the longest task of a fast compile, so it gets a core of its
 * own; sharing cores three ways made Q8_0 of a 4.4 GB model 30% slower. */
typedef struct write_threads {
    int n;
    const slmc_hashes *hashes;
} write_threads;

static void write_parallel_for(void *pctx, int64_t n, void (*body)(void *ctx, int64_t i), void *ctx) {
    const write_threads *w = pctx;
    int threads = w->n;
    if (threads > 1 && slmc_hashes_running(w->hashes)) threads--;
    slmc_parallel_for(&threads, n, body, ctx);
}

static slm_status write_artifact(slm_model *m, const slmc_compile_args *a, slmc_hashes *hashes,
                                 const slm_gguf_write_opts *extra, slm_diag *d) {
    slmc_progress prog;
    slmc_progress_init(&prog, "compile", a->quiet);
    int threads = a->threads ? a->threads : slmc_default_threads();
    write_threads wt = {threads, hashes};
    slm_gguf_write_opts wo = {.progress = slmc_progress_update,
                              .progress_ctx = &prog,
                              .parallel_for = write_parallel_for,
                              .parallel_ctx = &wt};
    slmc_hashes_write_opts(hashes, &wo);
    if (extra) { /* the score step's evaluation of the finished file */
        wo.late[1] = extra->late[1];
        wo.written = extra->written;
        wo.written_ctx = extra->written_ctx;
    }
    double t0 = slmc_now();
    slm_status st = SLM_OK;
    if (a->hf) { /* a Hugging Face folder, to fine-tune or distill elsewhere */
        for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++)
            if (slm_type_is_quantized(m->tensors[i].out_type))
                st = slm_diag_set(d, SLM_ERR_USAGE, "--format hf holds f32, f16 or bf16 tensors: tensor '%s' would be "
                                  "%s (give --type f16, bf16 or f32)", m->tensors[i].name,
                                  slm_type_name(m->tensors[i].out_type));
        if (st == SLM_OK) st = slm_hf_write(m, a->output, slmc_progress_update, &prog, d);
    } else {
        st = slm_gguf_write(m, a->output, &wo, d);
    }
    slmc_progress_done(&prog);
    if (st == SLM_OK && !a->quiet) {
        uint64_t bytes = 0;
        for (uint32_t i = 0; i < m->n_tensors; i++)
            bytes += slm_type_row_size(m->tensors[i].out_type, m->tensors[i].ne[0]) *
                     (uint64_t)slm_tensor_nrows(&m->tensors[i]);
        slmc_compile_log_types(m);
        fprintf(stderr, "slmc: wrote %s: %u tensors, %.2f MiB of weights, %.2f s on %d thread%s\n", a->output,
                m->n_tensors, bytes / 1048576.0, slmc_now() - t0, threads, threads == 1 ? "" : "s");
    }
    return st;
}


void slmc_pipeline_timed(slmc_pipeline *p, const char *name, double t0, const char *fmt, ...) {
    if (p->n_timings == SLMC_PIPELINE_MAX_TIMINGS) return;
    slmc_pass_timing *t = &p->timings[p->n_timings++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->seconds = slmc_now() - t0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->summary, sizeof t->summary, fmt, ap);
    va_end(ap);
}

static bool needs_gram(const slmc_compile_args *a, bool for_prune) {
    if (a->calib_gram >= 0) return a->calib_gram;
    const bool prune_gram = a->prune && a->prune_opts.method == SLMC_PRUNE_SPARSEGPT;
    const bool quant_gram = a->method == SLMC_METHOD_GPTQ || a->method == SLMC_METHOD_AWQ_GPTQ;
    /* statistics taken before pruning also serve the quantization when no
     * second calibration follows */
    return for_prune ? prune_gram || quant_gram : quant_gram;
}

/* The calibrate step: statistics from a file, or a run of the model as
 * the earlier steps left it over the data. */
static slm_status step_calibrate(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    const double t0 = slmc_now();
    if (a->calib) {
        slm_status st = slmc_calib_open(a->calib, &p->calib, d);
        if (st == SLM_OK) slmc_pipeline_timed(p, "calibrate", t0, "statistics from %s (%s)", a->calib, p->calib->format_name);
        return st;
    }
    const bool gram = needs_gram(a, a->calib_before_prune);
    const uint64_t want = (uint64_t)(a->calib_tokens / a->calib_ctx) * (uint64_t)a->calib_ctx;
    slmc_calib_data_opts dopt = {.dataset = a->calib_dataset, .max_tokens = want, .chunk = (size_t)a->calib_ctx,
                                 .seed = (uint64_t)a->calib_seed};
    slmc_calib_run_opts ro = {.n_ctx = (int)a->calib_ctx, .max_tokens = (uint64_t)a->calib_tokens,
                              .n_threads = a->threads, .gram = gram, .source = a->calib_data};
    slmc_stats *stats = NULL;
    slm_status st = slmc_calib_run_data(p->m, a->calib_data, &dopt, &ro, &stats, &p->calib_run, &p->calib_info, d);
    if (st == SLM_OK) st = slmc_calib_from_stats(stats, a->calib_data, &p->calib, d);
    if (st == SLM_OK) {
        p->calibrated = true;
        slmc_pipeline_timed(p, "calibrate", t0, "%d chunks x %lld tokens of %s%s; ppl %.4f", p->calib_run.n_chunks, a->calib_ctx,
              a->calib_data, gram ? ", with Gram matrices" : "", p->calib_run.ppl);
        if (!a->quiet) fprintf(stderr, "slmc: calibrate: %s\n", p->timings[p->n_timings - 1].summary);
    }
    return st;
}

static slm_status step_structured(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    const double t0 = slmc_now();
    slmc_calib *calib = p->calib;
    if (calib && !calib->stats && a->structured.importance == SLMC_IMPORTANCE_ACTIVATION)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: structured pruning needs slmc calibrate's statistics, not %s",
                            calib->path, calib->format_name);
    slmc_structured_result *sr = &p->structured;
    slm_status st = slmc_structured_apply(p->m, &a->structured, calib ? calib->stats : NULL, sr, d);
    if (st != SLM_OK) return st;
    slmc_pipeline_timed(p, "prune", t0, "structured: blocks %u -> %u, feed_forward_length %u -> %u, heads %u/%u KV -> %u/%u KV; "
          "block parameters %llu -> %llu (%.1f%% removed)", sr->n_layer_before, sr->n_layer_after, sr->n_ff_before,
          sr->n_ff_after, sr->n_head_before, sr->n_head_kv_before, sr->n_head_after, sr->n_head_kv_after,
          (unsigned long long)sr->params_before, (unsigned long long)sr->params_after,
          sr->params_before ? 100.0 * (1.0 - (double)sr->params_after / sr->params_before) : 0.0);
    if (!a->quiet) fprintf(stderr, "slmc: structured pruning: %s\n", p->timings[p->n_timings - 1].summary + 12);
    return SLM_OK;
}

static slm_status step_prune(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    const double t0 = slmc_now();
    slmc_prune_opts po = a->prune_opts;
    po.n_threads = a->threads;
    po.damp = a->gptq.damp;
    slmc_calib *calib = p->calib;
    if (po.method != SLMC_PRUNE_MAGNITUDE && calib && !calib->stats)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: --prune %s needs slmc calibrate's statistics, not %s", calib->path,
                            slmc_prune_method_name(po.method), calib->format_name);
    slm_status st = slmc_prune_attach(p->m, &po, calib ? calib->stats : NULL, &p->prune, d);
    if (st == SLM_OK) {
        char what[64];
        if (po.group_m > 0) snprintf(what, sizeof what, "pattern %d:%d", po.keep_n, po.group_m);
        else snprintf(what, sizeof what, "sparsity %.3g per %s", po.sparsity,
                      po.scope == SLMC_PRUNE_PER_ROW ? "row" : po.scope == SLMC_PRUNE_PER_TENSOR ? "tensor" : "model");
        slmc_pipeline_timed(p, "prune", t0, "%s, %s, %u tensors (zeros made as the tensors stream)",
              slmc_prune_method_name(po.method), what, p->prune->n_tensors);
    }
    return st;
}

static slm_status step_quantize(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    slm_status st = SLM_OK;
    if (p->budget_wanted) {
        st = slmc_pipeline_budget(p, d);
        if (st != SLM_OK) return st;
    }
    const double t0 = slmc_now(); /* the search has its own line */
    st = slmc_calib_apply(p->m, p->calib, a->method, &p->calib_apply, d);
    const bool awq = a->method == SLMC_METHOD_AWQ || a->method == SLMC_METHOD_AWQ_GPTQ;
    const bool gptq = a->method == SLMC_METHOD_GPTQ || a->method == SLMC_METHOD_AWQ_GPTQ;
    if (st == SLM_OK && (awq || gptq)) {
        slmc_gptq_opts go = a->gptq;
        go.n_threads = a->threads;
        st = slmc_quant_pass_attach(p->m, p->calib ? p->calib->stats : NULL, awq, gptq, &go, &p->qpass, d);
        if (st != SLM_OK) slm_diag_prefix(d, p->calib ? p->calib->path : "quantize");
    }
    if (st == SLM_OK)
        st = slmc_mix_check_weights(p->conv_opts.mode == SLMC_CONVERT_MIX ? p->conv_opts.mix : NULL, p->m, d);
    if (st == SLM_OK)
        slmc_pipeline_timed(p, "quantize", t0, "%s, method %s (rounding happens as the tensors stream)",
              p->budget_wanted ? "types from the budget search"
              : p->conv_opts.mode == SLMC_CONVERT_MIX ? p->conv_opts.mix->name
              : p->conv_opts.mode == SLMC_CONVERT_PURE ? slm_type_name(p->conv_opts.type) : "types kept",
              slmc_quant_method_name(a->method));
    return st;
}

/* Files whose bytes shape the artifact, hashed into slmc.inputs.sha256
 * with the model: statistics, calibration data, adapters, the recipe. */
static slm_status add_inputs(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    const char *files[4 + 2 * SLMC_MAX_ADAPTERS];
    int n = 0;
    if (a->recipe) files[n++] = a->recipe->path;
    if (a->calib) files[n++] = a->calib;
    if (a->calib_data) files[n++] = a->calib_data;
    if (a->score_data) files[n++] = a->score_data;
    for (int i = 0; i < p->n_adapter_files; i++) files[n++] = p->adapter_files[i];
    for (int i = 0; i < n; i++)
        if (slm_model_add_input(p->m, files[i], NULL, 0) != SLM_OK) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

/* The audit trail beyond the command line: the recipe as written, the
 * calibration data's size and what was used of it, the adapters. */
static slm_status record_pipeline(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    slm_model *m = p->m;
    slm_status st = SLM_OK;
    if (a->recipe) st = slm_model_set_str(m, "slmc.recipe", a->recipe->text);
    if (st == SLM_OK && a->calib_data && p->calibrated) {
        struct stat sb;
        if (stat(a->calib_data, &sb) != 0) return slm_diag_set(d, SLM_ERR_IO, "%s: cannot stat", a->calib_data);
        st = slm_model_set_str(m, "slmc.calibration.data", a->calib_data);
        if (st == SLM_OK) st = slm_model_set_u64(m, "slmc.calibration.bytes", (uint64_t)sb.st_size);
        if (st == SLM_OK) st = slm_model_set_u64(m, "slmc.calibration.tokens", p->calib_run.n_tokens);
        if (st == SLM_OK) st = slm_model_set_u32(m, "slmc.calibration.ctx", (uint32_t)a->calib_ctx);
    }
    if (st == SLM_OK && a->n_adapters) {
        slm_str items[SLMC_MAX_ADAPTERS];
        char buf[SLMC_MAX_ADAPTERS][600];
        for (int i = 0; i < a->n_adapters; i++) {
            snprintf(buf[i], sizeof buf[i], "%s:%g", a->adapters[i].path, a->adapters[i].weight);
            items[i] = (slm_str){buf[i], strlen(buf[i])};
        }
        slm_value v = {.type = SLM_V_ARR, .arr_type = SLM_V_STR, .n = (uint64_t)a->n_adapters};
        v.v.arr = items;
        st = slm_model_set_kv(m, "slmc.lora.adapters", &v);
    }
    if (st != SLM_OK && d->status == SLM_OK) st = slm_diag_set(d, st, "recording the pipeline: out of memory");
    return st;
}

static slm_status run(slmc_pipeline *p, int argc, char **argv, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    slm_model *m = p->m;
    p->conv_opts = a->conv;
    p->conv_opts.has_imatrix = a->method != SLMC_METHOD_NONE;
    p->budget_wanted = a->budget_bytes > 0 || a->budget_bpw > 0;

    slm_status st = slm_model_validate(m, d);
    if (st != SLM_OK) slm_diag_prefix(d, a->input);
    p->src_names = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *p->src_names);
    p->src_types = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *p->src_types);
    if (st == SLM_OK && (!p->src_names || !p->src_types)) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; st == SLM_OK && i < m->n_tensors; i++) {
        memcpy(p->src_names[i], m->tensors[i].name, SLM_MAX_NAME);
        p->src_types[i] = m->tensors[i].type;
        p->n_src++;
    }
    if (st == SLM_OK && a->n_adapters) st = slmc_pipeline_lora(p, d);
    const bool calibrate = a->calib || a->calib_data;
    const bool structured = slmc_structured_wanted(&a->structured);
    const bool prune_needs_stats =
        (a->prune && a->prune_opts.method != SLMC_PRUNE_MAGNITUDE) ||
        (structured && a->structured.importance == SLMC_IMPORTANCE_ACTIVATION);
    /* without any calibration the passes say what they need; here, a recipe
     * that calibrates only after pruning */
    if (st == SLM_OK && prune_needs_stats && calibrate && !a->calib_before_prune)
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s needs activation statistics from before pruning: add a calibrate "
                          "step before prune (--calib STATS or --calib-data FILE)",
                          a->prune && a->prune_opts.method != SLMC_PRUNE_MAGNITUDE
                              ? slmc_prune_method_name(a->prune_opts.method) : "structured pruning by activation");
    if (st == SLM_OK && calibrate && a->calib_before_prune) st = step_calibrate(p, d);
    if (st == SLM_OK && structured) st = step_structured(p, d);
    /* types first: pruning keeps a tensor's planned type (the search
     * replaces the plan later) */
    if (st == SLM_OK) st = slmc_convert_plan(m, &p->conv_opts, &p->conv, d);
    if (st == SLM_OK) slmc_pipeline_lora_keep_types(p);
    if (st == SLM_OK && a->prune) st = step_prune(p, d);
    if (st == SLM_OK && calibrate && !a->calib_before_prune) st = step_calibrate(p, d);
    /* the audit trail before the types are final, so that the budget
     * search sees the header's real size (general.file_type keeps its size
     * when its value changes) */
    if (st == SLM_OK) st = add_inputs(p, d);
    if (st == SLM_OK) st = record_pipeline(p, d);
    int n_prov = 0;
    char **prov = st == SLM_OK ? argv_for_provenance(argc, argv, &n_prov) : NULL;
    if (st == SLM_OK && !prov) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    slm_gguf_write_opts score_wo = {0};
    if (st == SLM_OK && a->score_data) st = slmc_pipeline_score_prepare(p, &score_wo, d);
    if (st == SLM_OK) st = slmc_provenance_record(m, a->input, n_prov, prov, p->conv.file_type, &p->hashes, d);
    free(prov);
    if (st == SLM_OK) st = step_quantize(p, d);
    if (st == SLM_OK && p->budget_wanted) st = slmc_provenance_set_file_type(m, slmc_file_type_of(m), d);
    if (st == SLM_OK) {
        if (!a->quiet) slmc_compile_log_plan(&p->conv, a->method, p->calib ? p->calib->path : "", &p->calib_apply);
        const double t0 = slmc_now();
        st = write_artifact(m, a, p->hashes, a->score_data ? &score_wo : NULL, d);
        if (st == SLM_OK) slmc_pipeline_timed(p, "write", t0, "%s", a->output);
        if (st == SLM_OK && !a->quiet) slmc_compile_log_quant(p->qpass);
        if (st == SLM_OK && !a->quiet) slmc_compile_log_prune(p->prune);
        if (st == SLM_OK && a->score_data && !a->quiet) slmc_pipeline_score_log(p);
    }
    if (st == SLM_OK && a->report) st = slmc_pipeline_report(p, d);
    return st;
}

void slmc_pipeline_warn(slmc_pipeline *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char msg[240];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!p->a->quiet) fprintf(stderr, "slmc: warning: %s\n", msg);
    if (p->n_warnings < 8) memcpy(p->warnings[p->n_warnings++], msg, sizeof msg);
}

void slmc_pipeline_free(slmc_pipeline *p) {
    slmc_hashes_free(p->hashes);
    slmc_pipeline_score_free(p->score);
    slmc_budget_result_free(&p->budget);
    free(p->src_names);
    free(p->src_types);
    slmc_prune_pass_free(p->prune); /* after the write: tensors load through it */
    slmc_quant_pass_free(p->qpass);
    slmc_convert_result_free(&p->conv);
    slmc_calib_free(p->calib); /* after the write: tensors borrow its weights */
    slmc_pipeline_lora_free(p->lora);
    for (int i = 0; i < p->n_adapter_files; i++) free(p->adapter_files[i]);
    slm_model_free(p->m);
    memset(p, 0, sizeof *p);
}

int slmc_cmd_compile(int argc, char **argv) {
    slmc_compile_args a;
    slmc_compile_args_init(&a);
    int rc = slmc_compile_args_parse(argc, argv, &a);
    slm_diag d = {0};
    if (rc == 0 && slmc_quant_method_needs_stats(a.method) && !a.calib && !a.calib_data) {
        slm_diag_set(&d, SLM_ERR_INPUT, "--method %s needs calibration: pass --calib STATS (from slmc calibrate, or an "
                     "importance matrix from llama-imatrix) or --calib-data FILE (a calibrate step)",
                     slmc_quant_method_name(a.method));
        rc = slmc_fail("slmc", &d);
    }
    slmc_pipeline p = {.a = &a, .t_start = slmc_now()};
    slm_open_opts oo = {.tokenizer = a.tokenizer};
    if (rc == 0 && slm_model_open(a.input, &oo, &p.m, &d) != SLM_OK) rc = slmc_fail("slmc", &d);
    if (rc == 0 && run(&p, argc, argv, &d) != SLM_OK) rc = slmc_fail("slmc", &d);
    slmc_pipeline_free(&p);
    slmc_compile_args_free(&a);
    return rc;
}
