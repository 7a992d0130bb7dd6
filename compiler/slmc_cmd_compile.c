/* slmc_cmd_compile.c - `slmc compile INPUT -o OUT.gguf`: read any input,
 * check it against llama.cpp's expectations, choose output types (a type,
 * or one of llama-quantize's mixes, plus overrides), attach calibration
 * weights, record provenance, and stream a GGUF artifact that appears only
 * when complete, encoding each tensor's rows on all threads. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "slm_hf.h"
#include "slm_open.h"
#include "slmc_calib.h"
#include "slmc_quant_pass.h"
#include "slmc_cli.h"
#include "slmc_convert.h"
#include "slmc_mix.h"
#include "slmc_parallel.h"
#include "slmc_provenance.h"
#include "slmc_prune.h"
#include "slmc_structured.h"

#define TOOL "slmc compile"
#define TYPE_NAMES "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs"
#define PRESET_NAMES "q2_k_s, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m"

static const char usage_text[] =
    "usage: slmc compile INPUT -o OUT.gguf [--type T | --mix M] [--output-type T] [--embedding-type T]\n"
    "                    [--tensor-type REGEX=T]... [--calib FILE] [--method imatrix|gptq|awq|awq+gptq]\n"
    "                    [--gptq-damp X] [--gptq-order act|natural] [--prune magnitude|wanda|sparsegpt\n"
    "                    [--sparsity S | --pattern N:M] [--prune-scope row|tensor]\n"
    "                    [--schedule uniform|owl] [--sparsity-for REGEX=S]...] [--ffn N] [--heads N]\n"
    "                    [--layers N] [--importance activation|random [--seed N]] [--threads N]\n"
    "                    [--format gguf|hf] [--tokenizer FILE] [--quiet]\n"
    "\n"
    "  --type T             a type (" TYPE_NAMES "):\n"
    "                       every matrix gets it (llama-quantize --pure); or a llama.cpp mix\n"
    "                       (" PRESET_NAMES ")\n"
    "  --mix M              any llama-quantize type name with its per-tensor rules (q4_0 puts\n"
    "                       output.weight in q6_k, q4_k means q4_k_m, ...)\n"
    "  --output-type T      type of output.weight\n"
    "  --embedding-type T   type of token_embd.weight\n"
    "  --tensor-type R=T    matrices whose name matches regex R get T (first match wins)\n"
    "  --calib FILE         calibration statistics: slmc calibrate's, or llama.cpp's imatrix .dat\n"
    "  --method imatrix     quantize with the statistics' importance weights (default with --calib)\n"
    "  --method gptq        GPTQ error compensation where the statistics hold Gram matrices\n"
    "                       (slmc calibrate --gram); imatrix rounding elsewhere\n"
    "  --method awq         activation-aware scales folded into the norms (and V, up), imatrix rounding\n"
    "  --method awq+gptq    both (statistics from slmc calibrate --gram)\n"
    "  --gptq-damp X        GPTQ's damping of the Gram matrix, a fraction of its mean diagonal (0.01)\n"
    "  --gptq-order O       act: columns by decreasing activation energy (default); natural: in order\n"
    "  --prune M            zero the least important weights of the blocks' linear layers first:\n"
    "                       magnitude (|w|), wanda (|w| x input norm; --calib from slmc calibrate) or\n"
    "                       sparsegpt (with weight reconstruction; --calib from slmc calibrate --gram)\n"
    "  --sparsity S         fraction of each row (or tensor) set to zero, in [0, 1) (default 0.5)\n"
    "  --pattern N:M        keep N of every M consecutive weights of a row instead (2:4, 4:8)\n"
    "  --prune-scope U      row (default), tensor, or global (one threshold for the whole model,\n"
    "                       each layer capped at --max-layer-sparsity X): the unit compared\n"
    "  --schedule owl       per-layer sparsities from the layers' outlier ratios (OWL), averaging S;\n"
    "                       --owl-lambda X sets their spread (+-0.08); default: uniform\n"
    "  --sparsity-for R=S   tensors matching regex R get sparsity S (first match wins; 0 = unpruned)\n"
    "  --ffn N, --heads N   structured pruning: keep N FFN channels / N query heads per layer (or a\n"
    "                       fraction, e.g. 0.75), the most important by calibration activations\n"
    "                       (--calib from slmc calibrate); heads GQA-consistently\n"
    "  --layers N           keep the N blocks of highest Block Influence (or a fraction)\n"
    "  --importance I       activation (default) or random (the baseline; --seed N)\n"
    "  --format hf          write a Hugging Face folder (config.json, model.safetensors, tokenizer)\n"
    "                       at OUT instead of a GGUF; float types only\n"
    "  --threads N          encoding threads (default: all cores); the output does not depend on it\n";

typedef struct compile_args {
    const char *input, *output, *tokenizer, *calib;
    bool quiet, has_method;
    slmc_quant_method method;
    slmc_gptq_opts gptq;
    int threads;
    slmc_convert_opts conv;
    slmc_tensor_rules *rules; /* owned */
    slmc_tensor_rules *sparsity_rules; /* owned */
    bool prune, hf;
    slmc_prune_opts prune_opts;
    slmc_structured_opts structured;
} compile_args;

static int parse_type(const char *opt, const char *name, slm_type *out) {
    const slm_type_traits *tt = slm_type_from_name(name, out) ? slm_type_traits_get(*out) : NULL;
    if (!tt) return slmc_usage_error(TOOL, "unknown %s '%s' (expected %s)", opt, name, TYPE_NAMES);
    if (!tt->quantize_row) return slmc_usage_error(TOOL, "%s %s: slmc has no encoder for it (expected %s)", opt, name,
                                                   TYPE_NAMES);
    return 0;
}

static int parse_threads(const char *s, int *out) {
    char *end;
    long n = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || n < 1 || n > 4096)
        return slmc_usage_error(TOOL, "--threads '%s': expected a whole number from 1 to 4096", s);
    *out = (int)n;
    return 0;
}

static int parse_args(int argc, char **argv, compile_args *a) {
    enum {
        OPT_MIX = 256,
        OPT_OUTPUT_TYPE,
        OPT_EMBD_TYPE,
        OPT_TENSOR_TYPE,
        OPT_CALIB,
        OPT_METHOD,
        OPT_THREADS,
        OPT_GPTQ_DAMP,
        OPT_GPTQ_ORDER,
        OPT_PRUNE,
        OPT_SPARSITY,
        OPT_PATTERN,
        OPT_PRUNE_SCOPE,
        OPT_FFN,
        OPT_HEADS,
        OPT_LAYERS,
        OPT_IMPORTANCE,
        OPT_SEED,
        OPT_FORMAT,
        OPT_SPARSITY_FOR,
        OPT_SCHEDULE,
        OPT_OWL_LAMBDA,
        OPT_MAX_LAYER_SPARSITY
    };
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"type", required_argument, 0, 'T'},
                                         {"mix", required_argument, 0, OPT_MIX},
                                         {"output-type", required_argument, 0, OPT_OUTPUT_TYPE},
                                         {"embedding-type", required_argument, 0, OPT_EMBD_TYPE},
                                         {"tensor-type", required_argument, 0, OPT_TENSOR_TYPE},
                                         {"calib", required_argument, 0, OPT_CALIB},
                                         {"method", required_argument, 0, OPT_METHOD},
                                         {"threads", required_argument, 0, OPT_THREADS},
                                         {"gptq-damp", required_argument, 0, OPT_GPTQ_DAMP},
                                         {"gptq-order", required_argument, 0, OPT_GPTQ_ORDER},
                                         {"prune", required_argument, 0, OPT_PRUNE},
                                         {"sparsity", required_argument, 0, OPT_SPARSITY},
                                         {"pattern", required_argument, 0, OPT_PATTERN},
                                         {"prune-scope", required_argument, 0, OPT_PRUNE_SCOPE},
                                         {"ffn", required_argument, 0, OPT_FFN},
                                         {"heads", required_argument, 0, OPT_HEADS},
                                         {"layers", required_argument, 0, OPT_LAYERS},
                                         {"importance", required_argument, 0, OPT_IMPORTANCE},
                                         {"seed", required_argument, 0, OPT_SEED},
                                         {"format", required_argument, 0, OPT_FORMAT},
                                         {"sparsity-for", required_argument, 0, OPT_SPARSITY_FOR},
                                         {"schedule", required_argument, 0, OPT_SCHEDULE},
                                         {"owl-lambda", required_argument, 0, OPT_OWL_LAMBDA},
                                         {"max-layer-sparsity", required_argument, 0, OPT_MAX_LAYER_SPARSITY},
                                         {"tokenizer", required_argument, 0, 't'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    int c, rc = 0;
    bool has_type = false, has_mix = false;
    a->gptq.act_order = true;
    a->prune_opts.sparsity = 0.5;
    bool has_sparsity = false, has_pattern = false;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "o:T:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->output = optarg; break;
        case 't': a->tokenizer = optarg; break;
        case 'q': a->quiet = true; break;
        case 'T':
            has_type = true;
            if ((a->conv.mix = slmc_mix_is_preset_name(optarg) ? slmc_mix_find(optarg) : NULL) != NULL) {
                a->conv.mode = SLMC_CONVERT_MIX;
            } else if (slm_type_from_name(optarg, &a->conv.type)) {
                rc = parse_type("--type", optarg, &a->conv.type);
                a->conv.mode = SLMC_CONVERT_PURE;
            } else {
                rc = slmc_usage_error(TOOL, "unknown --type '%s' (expected a type: %s; or a mix: %s)", optarg,
                                      TYPE_NAMES, PRESET_NAMES);
            }
            break;
        case OPT_MIX:
            has_mix = true;
            a->conv.mode = SLMC_CONVERT_MIX;
            if (!(a->conv.mix = slmc_mix_find(optarg)))
                rc = slmc_usage_error(TOOL, "unknown --mix '%s' (expected a llama-quantize type: q4_0, q4_1, q5_0, "
                                      "q5_1, q8_0, q2_k, q2_k_s, q3_k[_s|_m|_l], q4_k[_s|_m], q5_k[_s|_m], q6_k, "
                                      "iq4_nl, iq4_xs, f16, bf16, f32)", optarg);
            break;
        case OPT_OUTPUT_TYPE: rc = parse_type("--output-type", optarg, &a->conv.output_type); break;
        case OPT_EMBD_TYPE: rc = parse_type("--embedding-type", optarg, &a->conv.embedding_type); break;
        case OPT_TENSOR_TYPE: {
            slm_diag d = {0};
            if (slmc_tensor_rules_add(&a->rules, optarg, &d) != SLM_OK) rc = slmc_usage_error(TOOL, "%s", d.msg);
            a->conv.rules = a->rules;
            break;
        }
        case OPT_CALIB: a->calib = optarg; break;
        case OPT_METHOD:
            a->has_method = true;
            if (!slmc_quant_method_from_name(optarg, &a->method))
                rc = slmc_usage_error(TOOL, "unknown --method '%s' (expected %s)", optarg, slmc_quant_method_names());
            break;
        case OPT_THREADS: rc = parse_threads(optarg, &a->threads); break;
        case OPT_GPTQ_DAMP: {
            char *end;
            a->gptq.damp = strtod(optarg, &end);
            if (*optarg == 0 || *end != 0 || !(a->gptq.damp > 0 && a->gptq.damp <= 1))
                rc = slmc_usage_error(TOOL, "--gptq-damp '%s': expected a number in (0, 1]", optarg);
            break;
        }
        case OPT_GPTQ_ORDER:
            if (!strcmp(optarg, "act") || !strcmp(optarg, "natural")) a->gptq.act_order = !strcmp(optarg, "act");
            else rc = slmc_usage_error(TOOL, "--gptq-order '%s': expected act or natural", optarg);
            break;
        case OPT_PRUNE:
            a->prune = true;
            if (!slmc_prune_method_from_name(optarg, &a->prune_opts.method))
                rc = slmc_usage_error(TOOL, "unknown --prune '%s' (expected magnitude, wanda or sparsegpt)", optarg);
            break;
        case OPT_SPARSITY: {
            char *end;
            has_sparsity = true;
            a->prune_opts.sparsity = strtod(optarg, &end);
            if (*optarg == 0 || *end != 0 || !(a->prune_opts.sparsity >= 0 && a->prune_opts.sparsity < 1))
                rc = slmc_usage_error(TOOL, "--sparsity '%s': expected a fraction in [0, 1) (1 would remove every "
                                      "weight)", optarg);
            break;
        }
        case OPT_PATTERN:
            has_pattern = true;
            if (!slmc_prune_parse_pattern(optarg, &a->prune_opts.keep_n, &a->prune_opts.group_m))
                rc = slmc_usage_error(TOOL, "--pattern '%s': expected N:M with 0 < N < M <= 64 (e.g. 2:4)", optarg);
            break;
        case OPT_PRUNE_SCOPE:
            if (!strcmp(optarg, "row")) a->prune_opts.scope = SLMC_PRUNE_PER_ROW;
            else if (!strcmp(optarg, "tensor")) a->prune_opts.scope = SLMC_PRUNE_PER_TENSOR;
            else if (!strcmp(optarg, "global")) a->prune_opts.scope = SLMC_PRUNE_GLOBAL;
            else rc = slmc_usage_error(TOOL, "--prune-scope '%s': expected row, tensor or global", optarg);
            break;
        case OPT_FFN:
        case OPT_HEADS:
        case OPT_LAYERS: {
            slmc_unit_target *t = c == OPT_FFN     ? &a->structured.ffn
                                  : c == OPT_HEADS ? &a->structured.heads
                                                   : &a->structured.layers;
            if (!slmc_unit_target_parse(optarg, t))
                rc = slmc_usage_error(TOOL, "--%s '%s': expected a count (e.g. 4096) or a fraction in (0, 1)",
                                      c == OPT_FFN ? "ffn" : c == OPT_HEADS ? "heads" : "layers", optarg);
            break;
        }
        case OPT_IMPORTANCE:
            if (!strcmp(optarg, "activation")) a->structured.importance = SLMC_IMPORTANCE_ACTIVATION;
            else if (!strcmp(optarg, "random")) a->structured.importance = SLMC_IMPORTANCE_RANDOM;
            else rc = slmc_usage_error(TOOL, "--importance '%s': expected activation or random", optarg);
            break;
        case OPT_SEED: {
            char *end;
            a->structured.seed = strtoull(optarg, &end, 10);
            if (*optarg == 0 || *end != 0) rc = slmc_usage_error(TOOL, "--seed '%s': expected a number", optarg);
            break;
        }
        case OPT_SPARSITY_FOR: {
            slm_diag d = {0};
            if (slmc_tensor_rules_add_value(&a->sparsity_rules, "--sparsity-for", optarg, 0, 0.99, &d) != SLM_OK)
                rc = slmc_usage_error(TOOL, "%s", d.msg);
            a->prune_opts.sparsity_rules = a->sparsity_rules;
            break;
        }
        case OPT_SCHEDULE:
            if (!strcmp(optarg, "uniform") || !strcmp(optarg, "owl")) a->prune_opts.owl = !strcmp(optarg, "owl");
            else rc = slmc_usage_error(TOOL, "--schedule '%s': expected uniform or owl", optarg);
            break;
        case OPT_OWL_LAMBDA: {
            char *end;
            a->prune_opts.owl_lambda = strtod(optarg, &end);
            if (*optarg == 0 || *end != 0 || !(a->prune_opts.owl_lambda > 0 && a->prune_opts.owl_lambda < 0.5))
                rc = slmc_usage_error(TOOL, "--owl-lambda '%s': expected a number in (0, 0.5)", optarg);
            break;
        }
        case OPT_MAX_LAYER_SPARSITY: {
            char *end;
            a->prune_opts.max_layer_sparsity = strtod(optarg, &end);
            if (*optarg == 0 || *end != 0 || !(a->prune_opts.max_layer_sparsity > 0 &&
                                               a->prune_opts.max_layer_sparsity < 1))
                rc = slmc_usage_error(TOOL, "--max-layer-sparsity '%s': expected a fraction in (0, 1)", optarg);
            break;
        }
        case OPT_FORMAT:
            if (!strcmp(optarg, "gguf") || !strcmp(optarg, "hf")) a->hf = !strcmp(optarg, "hf");
            else rc = slmc_usage_error(TOOL, "--format '%s': expected gguf or hf", optarg);
            break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: rc = slmc_usage_error(TOOL, "bad option");
        }
    }
    if (rc) return rc;
    if (has_type && has_mix) return slmc_usage_error(TOOL, "give --type or --mix, not both");
    if (has_sparsity && has_pattern) return slmc_usage_error(TOOL, "give --sparsity or --pattern, not both");
    if ((has_sparsity || has_pattern) && !a->prune)
        return slmc_usage_error(TOOL, "--sparsity and --pattern need --prune magnitude|wanda");
    if (optind + 1 != argc) return slmc_usage_error(TOOL, "expected exactly one INPUT");
    a->input = argv[optind];
    if (!a->output) return slmc_usage_error(TOOL, "missing -o OUT.gguf");
    if (!a->has_method) a->method = a->calib ? SLMC_METHOD_IMATRIX : SLMC_METHOD_NONE;
    return 0;
}

/* --threads and --quiet do not change a single byte of the artifact, so the
 * recorded command line leaves them out: the same compile on another
 * machine gives the same file. Returns a new argv (borrowed strings). */
static char **argv_for_provenance(int argc, char **argv, int *n_out) {
    char **out = calloc((size_t)argc + 1, sizeof *out);
    if (!out) return NULL;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q") || !strncmp(argv[i], "--threads=", 10)) continue;
        if (!strcmp(argv[i], "--threads")) {
            i++;
            continue;
        }
        out[n++] = argv[i];
    }
    *n_out = n;
    return out;
}

static void report_plan(const compile_args *a, const slmc_convert_result *conv, const slmc_calib_result *cr) {
    if (a->quiet) return;
    for (uint32_t i = 0; i < conv->n_fallbacks; i++)
        fprintf(stderr, "slmc: warning: %s: %s; stored as %s\n", conv->fallbacks[i].tensor, conv->fallbacks[i].reason,
                slm_type_name(conv->fallbacks[i].used));
    if (a->method == SLMC_METHOD_NONE) return;
    fprintf(stderr, "slmc: %s: importance weights for %u of %u quantized matrices", a->calib, cr->n_weighted,
            cr->n_weighted + cr->n_unweighted);
    if (cr->n_unweighted)
        fprintf(stderr, " (no entry for %u, e.g. %s: quantized without)", cr->n_unweighted, cr->first_unweighted);
    fputc('\n', stderr);
}

/* "q4_k 150, q6_k 25, f32 45": what a mix turned into. */
static void report_types(const slm_model *m) {
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
static void report_quant(const compile_args *a, const slmc_quant_pass *p) {
    if (a->quiet || !p) return;
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
static void report_prune(const compile_args *a, const slmc_prune_pass *p) {
    if (!p || a->quiet) return;
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

static slm_status write_artifact(slm_model *m, const compile_args *a, slmc_hashes *hashes, slm_diag *d) {
    slmc_progress prog;
    slmc_progress_init(&prog, "compile", a->quiet);
    int threads = a->threads ? a->threads : slmc_default_threads();
    write_threads wt = {threads, hashes};
    slm_gguf_write_opts wo = {.progress = slmc_progress_update,
                              .progress_ctx = &prog,
                              .parallel_for = write_parallel_for,
                              .parallel_ctx = &wt};
    slmc_hashes_write_opts(hashes, &wo);
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
        report_types(m);
        fprintf(stderr, "slmc: wrote %s: %u tensors, %.2f MiB of weights, %.2f s on %d thread%s\n", a->output,
                m->n_tensors, bytes / 1048576.0, slmc_now() - t0, threads, threads == 1 ? "" : "s");
    }
    return st;
}

static slm_status compile(slm_model *m, const compile_args *a, int argc, char **argv, slm_diag *d) {
    slmc_calib *calib = NULL;
    slmc_convert_result conv = {0};
    slmc_calib_result cr = {0};
    slmc_convert_opts co = a->conv;
    co.has_imatrix = a->method != SLMC_METHOD_NONE;
    slmc_quant_pass *qpass = NULL;

    slm_status st = slm_model_validate(m, d);
    if (st != SLM_OK) slm_diag_prefix(d, a->input);
    if (st == SLM_OK && a->calib) st = slmc_calib_open(a->calib, &calib, d);
    slmc_structured_result sr = {0};
    const bool structured = slmc_structured_wanted(&a->structured);
    if (st == SLM_OK && structured) {
        if (calib && !calib->stats && a->structured.importance == SLMC_IMPORTANCE_ACTIVATION)
            st = slm_diag_set(d, SLM_ERR_INPUT, "%s: structured pruning needs slmc calibrate's statistics, not %s",
                              a->calib, calib->format_name);
        else st = slmc_structured_apply(m, &a->structured, calib ? calib->stats : NULL, &sr, d);
        if (st == SLM_OK && !a->quiet)
            fprintf(stderr, "slmc: structured pruning: blocks %u -> %u, feed_forward_length %u -> %u, heads %u/%u KV "
                    "-> %u/%u KV; block parameters %llu -> %llu (%.1f%% removed)\n", sr.n_layer_before,
                    sr.n_layer_after, sr.n_ff_before, sr.n_ff_after, sr.n_head_before, sr.n_head_kv_before,
                    sr.n_head_after, sr.n_head_kv_after,
                    (unsigned long long)sr.params_before, (unsigned long long)sr.params_after,
                    sr.params_before ? 100.0 * (1.0 - (double)sr.params_after / sr.params_before) : 0.0);
    }
    if (st == SLM_OK) st = slmc_convert_plan(m, &co, &conv, d);
    if (st == SLM_OK) st = slmc_calib_apply(m, calib, a->method, &cr, d);
    slmc_prune_pass *prune = NULL;
    if (st == SLM_OK && a->prune) {
        slmc_prune_opts po = a->prune_opts;
        po.n_threads = a->threads;
        po.damp = a->gptq.damp;
        if (po.method != SLMC_PRUNE_MAGNITUDE && calib && !calib->stats)
            st = slm_diag_set(d, SLM_ERR_INPUT, "%s: --prune %s needs slmc calibrate's statistics, not %s", a->calib,
                              slmc_prune_method_name(po.method), calib->format_name);
        else st = slmc_prune_attach(m, &po, calib ? calib->stats : NULL, &prune, d);
    }
    const bool awq = a->method == SLMC_METHOD_AWQ || a->method == SLMC_METHOD_AWQ_GPTQ;
    const bool gptq = a->method == SLMC_METHOD_GPTQ || a->method == SLMC_METHOD_AWQ_GPTQ;
    if (st == SLM_OK && (awq || gptq)) {
        slmc_gptq_opts go = a->gptq;
        go.n_threads = a->threads;
        st = slmc_quant_pass_attach(m, calib ? calib->stats : NULL, awq, gptq, &go, &qpass, d);
        if (st != SLM_OK) slm_diag_prefix(d, a->calib);
    }
    if (st == SLM_OK) st = slmc_mix_check_weights(co.mode == SLMC_CONVERT_MIX ? co.mix : NULL, m, d);
    /* the statistics shape the bytes: hash them with the other inputs */
    if (st == SLM_OK && calib && slm_model_add_input(m, a->calib, NULL, 0) != SLM_OK)
        st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    int n_prov = 0;
    char **prov = st == SLM_OK ? argv_for_provenance(argc, argv, &n_prov) : NULL;
    if (st == SLM_OK && !prov) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    slmc_hashes *hashes = NULL;
    if (st == SLM_OK) st = slmc_provenance_record(m, a->input, n_prov, prov, conv.file_type, &hashes, d);
    free(prov);
    if (st == SLM_OK) {
        report_plan(a, &conv, &cr);
        st = write_artifact(m, a, hashes, d);
        if (st == SLM_OK) report_quant(a, qpass);
        if (st == SLM_OK) report_prune(a, prune);
    }
    slmc_hashes_free(hashes);
    slmc_prune_pass_free(prune); /* after the write: tensors load through it */
    slmc_quant_pass_free(qpass);
    slmc_convert_result_free(&conv);
    slmc_calib_free(calib); /* after the write: tensors borrow its weights */
    return st;
}

int slmc_cmd_compile(int argc, char **argv) {
    compile_args a = {0};
    slmc_convert_opts_init(&a.conv);
    int rc = parse_args(argc, argv, &a);
    slm_diag d = {0};
    if (rc == 0 && slmc_quant_method_needs_stats(a.method) && !a.calib) {
        slm_diag_set(&d, SLM_ERR_INPUT, "--method %s needs calibration statistics: pass --calib FILE (from slmc "
                     "calibrate, or an importance matrix from llama-imatrix)", slmc_quant_method_name(a.method));
        rc = slmc_fail("slmc", &d);
    }
    slm_model *m = NULL;
    slm_open_opts oo = {.tokenizer = a.tokenizer};
    if (rc == 0 && slm_model_open(a.input, &oo, &m, &d) != SLM_OK) rc = slmc_fail("slmc", &d);
    if (rc == 0 && compile(m, &a, argc, argv, &d) != SLM_OK) rc = slmc_fail("slmc", &d);
    slm_model_free(m);
    slmc_tensor_rules_free(a.rules);
    slmc_tensor_rules_free(a.sparsity_rules);
    return rc;
}
