/* slmc_compile_args.c - see slmc_compile_args.h. */
#include "slmc_compile_args.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_cli.h"
#include "slmc_mix.h"

#define TOOL "slmc compile"
#define TYPE_NAMES "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs"
#define PRESET_NAMES "q2_k_s, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m"

void slmc_compile_args_usage(FILE *f) {
    fprintf(f,
            "usage: slmc compile INPUT -o OUT.gguf [--recipe RECIPE.yaml] [pass options] [--report OUT.json]\n"
            "                    [--threads N] [--format gguf|hf] [--tokenizer FILE] [--quiet]\n"
            "\n"
            "Runs the passes lora-merge -> prune -> calibrate -> quantize -> score on INPUT and writes the\n"
            "artifact. A recipe lists them with their options (docs/recipes.md); each flag below is shorthand\n"
            "for one option of one step, and flags given with --recipe override its values.\n"
            "  --recipe FILE   the steps, in YAML\n"
            "  --report FILE   write FILE (.json), its .md and a size-vs-KLD .svg of the budget search\n"
            "  --format hf     write a Hugging Face folder at OUT instead of a GGUF; float types only\n"
            "  --threads N     threads (default: all cores); the output does not depend on it\n"
            "\n");
    int n;
    const slmc_pass_def *p = slmc_registry_passes(&n);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s: %s\n", p[i].name, p[i].summary);
        for (int j = 0; j < p[i].n_opts; j++)
            fprintf(f, "  --%-20s %s\n", p[i].opts[j].flag, p[i].opts[j].value);
    }
    fprintf(f, "\n`slmc passes` explains every option.\n");
}

void slmc_compile_args_init(slmc_compile_args *a) {
    memset(a, 0, sizeof *a);
    slmc_convert_opts_init(&a->conv);
    a->gptq.act_order = true;
    a->prune_opts.sparsity = 0.5;
    a->calib_tokens = 65536;
    a->calib_ctx = 512;
    a->calib_seed = 1;
    a->calib_gram = -1;
    a->score_ctx = 512;
    a->budget_tokens = 4096;
}

void slmc_compile_args_free(slmc_compile_args *a) {
    slmc_tensor_rules_free(a->rules);
    slmc_tensor_rules_free(a->sparsity_rules);
    slmc_recipe_free(a->recipe);
    for (int i = 0; i < a->n_adapters; i++) free(a->adapters[i].path);
    a->n_adapters = 0;
    a->rules = a->sparsity_rules = NULL;
    a->recipe = NULL;
}

bool slmc_compile_args_parse_size(const char *s, double *bytes) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0) || !isfinite(v)) return false;
    static const struct {
        const char *suffix;
        double mul;
    } units[] = {{"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"KiB", 1024.0},
                 {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcasecmp(end, units[i].suffix) && (strcmp(units[i].suffix, "KiB") || !strcmp(end, "KiB"))) {
            *bytes = v * units[i].mul;
            return true;
        }
    return false;
}

static bool parse_double(const char *s, double lo, double hi, bool lo_open, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == 0 || *end != 0 || !(lo_open ? v > lo : v >= lo) || !(v <= hi)) return false;
    *out = v;
    return true;
}

static slm_status bad(slm_diag *d, slm_status code, const char *label, const char *value, const char *expected) {
    return slm_diag_set(d, code, "%s '%s': expected %s", label, value, expected);
}

static slm_status encodable_type(const char *label, const char *name, slm_type *out, slm_status code, slm_diag *d) {
    const slm_type_traits *tt = slm_type_from_name(name, out) ? slm_type_traits_get(*out) : NULL;
    if (!tt || !tt->quantize_row) return bad(d, code, label, name, "a type slmc encodes: " TYPE_NAMES);
    return SLM_OK;
}

/* Sets one option from its text. `label` names it in messages ("--sparsity"
 * or "recipe.yaml:4:17: prune.sparsity"); `code` is the status of a bad
 * value (usage for flags, input for a recipe file). */
static slm_status apply(slmc_compile_args *a, const slmc_opt_def *o, const char *label, const char *v,
                        slm_status code, slm_diag *d) {
    const slmc_pass_def *pass = slmc_registry_pass_of(o->id);
    if (pass) a->pass_given[pass->id] = true;
    switch (o->id) {
    case SLMC_O_LORA: {
        if (a->n_adapters == SLMC_MAX_ADAPTERS) return bad(d, code, label, v, "at most 16 adapters");
        slmc_adapter_arg *ad = &a->adapters[a->n_adapters];
        ad->weight = 1.0;
        /* "path:weight" when what follows the last ':' is a number */
        const char *colon = strrchr(v, ':');
        size_t len = strlen(v);
        if (colon && colon[1]) {
            char *end;
            double w = strtod(colon + 1, &end);
            if (*end == 0 && isfinite(w)) {
                len = (size_t)(colon - v);
                ad->weight = w;
            }
        }
        if (!(ad->path = strndup(v, len))) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        a->n_adapters++;
        return SLM_OK;
    }
    case SLMC_O_PRUNE:
        a->prune = true;
        if (!slmc_prune_method_from_name(v, &a->prune_opts.method))
            return bad(d, code, label, v, "magnitude, wanda or sparsegpt");
        return SLM_OK;
    case SLMC_O_SPARSITY:
        a->has_sparsity = true;
        if (!parse_double(v, 0, 0.999999, false, &a->prune_opts.sparsity))
            return bad(d, code, label, v, "a fraction in [0, 1) (1 would remove every weight)");
        return SLM_OK;
    case SLMC_O_PATTERN:
        a->has_pattern = true;
        if (!slmc_prune_parse_pattern(v, &a->prune_opts.keep_n, &a->prune_opts.group_m))
            return bad(d, code, label, v, "N:M with 0 < N < M <= 64 (e.g. 2:4)");
        return SLM_OK;
    case SLMC_O_PRUNE_SCOPE:
        if (!strcmp(v, "row")) a->prune_opts.scope = SLMC_PRUNE_PER_ROW;
        else if (!strcmp(v, "tensor")) a->prune_opts.scope = SLMC_PRUNE_PER_TENSOR;
        else if (!strcmp(v, "global")) a->prune_opts.scope = SLMC_PRUNE_GLOBAL;
        else return bad(d, code, label, v, "row, tensor or global");
        return SLM_OK;
    case SLMC_O_MAX_LAYER_SPARSITY:
        if (!parse_double(v, 0, 0.999999, true, &a->prune_opts.max_layer_sparsity))
            return bad(d, code, label, v, "a fraction in (0, 1)");
        return SLM_OK;
    case SLMC_O_SCHEDULE:
        if (strcmp(v, "uniform") && strcmp(v, "owl")) return bad(d, code, label, v, "uniform or owl");
        a->prune_opts.owl = !strcmp(v, "owl");
        return SLM_OK;
    case SLMC_O_OWL_LAMBDA:
        if (!parse_double(v, 0, 0.4999999, true, &a->prune_opts.owl_lambda))
            return bad(d, code, label, v, "a number in (0, 0.5)");
        return SLM_OK;
    case SLMC_O_SPARSITY_FOR: {
        slm_diag ld = {0};
        if (slmc_tensor_rules_add_value(&a->sparsity_rules, label, v, 0, 0.99, &ld) != SLM_OK)
            return slm_diag_set(d, code, "%s", ld.msg);
        return SLM_OK;
    }
    case SLMC_O_PRUNE_TARGETS:
    case SLMC_O_PRUNE_IGNORE: {
        bool t = o->id == SLMC_O_PRUNE_TARGETS;
        int *count = t ? &a->n_prune_targets : &a->n_prune_ignores;
        if (*count == 32) return bad(d, code, label, v, "at most 32 patterns");
        (t ? a->prune_targets : a->prune_ignores)[(*count)++] = v;
        return SLM_OK;
    }
    case SLMC_O_FFN:
    case SLMC_O_HEADS:
    case SLMC_O_LAYERS: {
        slmc_unit_target *t = o->id == SLMC_O_FFN     ? &a->structured.ffn
                              : o->id == SLMC_O_HEADS ? &a->structured.heads
                                                      : &a->structured.layers;
        if (!slmc_unit_target_parse(v, t)) return bad(d, code, label, v, "a count (e.g. 4096) or a fraction in (0, 1)");
        return SLM_OK;
    }
    case SLMC_O_IMPORTANCE:
        if (!strcmp(v, "activation")) a->structured.importance = SLMC_IMPORTANCE_ACTIVATION;
        else if (!strcmp(v, "random")) a->structured.importance = SLMC_IMPORTANCE_RANDOM;
        else return bad(d, code, label, v, "activation or random");
        return SLM_OK;
    case SLMC_O_SEED: {
        char *end;
        a->structured.seed = strtoull(v, &end, 10);
        if (*v == 0 || *end != 0) return bad(d, code, label, v, "a number");
        return SLM_OK;
    }
    case SLMC_O_CALIB: a->calib = v; return SLM_OK;
    case SLMC_O_CALIB_DATA: a->calib_data = v; return SLM_OK;
    case SLMC_O_CALIB_DATASET: a->calib_dataset = v; return SLM_OK;
    case SLMC_O_CALIB_TOKENS:
        if (!slmc_parse_int(v, 1, 1ll << 40, &a->calib_tokens)) return bad(d, code, label, v, "a positive integer");
        return SLM_OK;
    case SLMC_O_CALIB_CTX:
        if (!slmc_parse_int(v, 2, 1 << 20, &a->calib_ctx)) return bad(d, code, label, v, "an integer >= 2");
        return SLM_OK;
    case SLMC_O_CALIB_SEED:
        if (!slmc_parse_int(v, 0, INT64_MAX, &a->calib_seed)) return bad(d, code, label, v, "a non-negative integer");
        return SLM_OK;
    case SLMC_O_CALIB_GRAM:
        if (strcmp(v, "true") && strcmp(v, "false")) return bad(d, code, label, v, "true or false");
        a->calib_gram = !strcmp(v, "true");
        return SLM_OK;
    case SLMC_O_TYPE:
        a->has_type = true;
        if ((a->conv.mix = slmc_mix_is_preset_name(v) ? slmc_mix_find(v) : NULL) != NULL) {
            a->conv.mode = SLMC_CONVERT_MIX;
            return SLM_OK;
        }
        if (!slm_type_from_name(v, &a->conv.type))
            return bad(d, code, label, v, "a type (" TYPE_NAMES ") or a mix (" PRESET_NAMES ")");
        a->conv.mode = SLMC_CONVERT_PURE;
        return encodable_type(label, v, &a->conv.type, code, d);
    case SLMC_O_MIX:
        a->has_mix = true;
        a->conv.mode = SLMC_CONVERT_MIX;
        if (!(a->conv.mix = slmc_mix_find(v)))
            return bad(d, code, label, v, "a llama-quantize type: q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q2_k_s, "
                                          "q3_k[_s|_m|_l], q4_k[_s|_m], q5_k[_s|_m], q6_k, iq4_nl, iq4_xs, f16, bf16, f32");
        return SLM_OK;
    case SLMC_O_OUTPUT_TYPE: return encodable_type(label, v, &a->conv.output_type, code, d);
    case SLMC_O_EMBD_TYPE: return encodable_type(label, v, &a->conv.embedding_type, code, d);
    case SLMC_O_TENSOR_TYPE:
    case SLMC_O_QUANT_IGNORE: {
        slm_diag ld = {0};
        char rule[1024];
        snprintf(rule, sizeof rule, o->id == SLMC_O_QUANT_IGNORE ? "%s=keep" : "%s", v);
        if (slmc_tensor_rules_add(&a->rules, rule, &ld) != SLM_OK) return slm_diag_set(d, code, "%s: %s", label, ld.msg);
        a->conv.rules = a->rules;
        return SLM_OK;
    }
    case SLMC_O_METHOD:
        a->has_method = true;
        if (!slmc_quant_method_from_name(v, &a->method)) return bad(d, code, label, v, slmc_quant_method_names());
        return SLM_OK;
    case SLMC_O_GPTQ_DAMP:
        if (!parse_double(v, 0, 1, true, &a->gptq.damp)) return bad(d, code, label, v, "a number in (0, 1]");
        return SLM_OK;
    case SLMC_O_GPTQ_ORDER:
        if (strcmp(v, "act") && strcmp(v, "natural")) return bad(d, code, label, v, "act or natural");
        a->gptq.act_order = !strcmp(v, "act");
        return SLM_OK;
    case SLMC_O_BUDGET:
        if (!slmc_compile_args_parse_size(v, &a->budget_bytes))
            return bad(d, code, label, v, "a size such as 3.2GB, 900MiB or 15000000 (bytes)");
        return SLM_OK;
    case SLMC_O_BPW:
        if (!parse_double(v, 1, 32, false, &a->budget_bpw)) return bad(d, code, label, v, "bits per weight in [1, 32]");
        return SLM_OK;
    case SLMC_O_BUDGET_TYPES: {
        slm_type t;
        slm_status st = encodable_type(label, v, &t, code, d);
        if (st != SLM_OK) return st;
        for (int i = 0; i < a->n_budget_types; i++)
            if (a->budget_types[i] == t) return SLM_OK;
        a->budget_types[a->n_budget_types++] = t;
        return SLM_OK;
    }
    case SLMC_O_BUDGET_TOKENS:
        a->has_budget_tokens = true;
        if (!slmc_parse_int(v, 2, 1ll << 40, &a->budget_tokens)) return bad(d, code, label, v, "an integer >= 2");
        return SLM_OK;
    case SLMC_O_SCORE_DATA: a->score_data = v; return SLM_OK;
    case SLMC_O_TEACHER: a->teacher = v; return SLM_OK;
    case SLMC_O_SCORE_TOKENS:
        if (!slmc_parse_int(v, 2, 1ll << 40, &a->score_tokens)) return bad(d, code, label, v, "an integer >= 2");
        return SLM_OK;
    case SLMC_O_SCORE_CTX:
        if (!slmc_parse_int(v, 4, 1 << 20, &a->score_ctx)) return bad(d, code, label, v, "an integer >= 4");
        return SLM_OK;
    case SLMC_O_NONE:
    case SLMC_O_COUNT: break;
    }
    return slm_diag_set(d, SLM_ERR_INTERNAL, "%s: option not handled", label);
}

/* A recipe's steps, checked for an order the pipeline can run: merges
 * first, score last, at most one step of each other pass. */
static slm_status apply_recipe(slmc_compile_args *a, const slmc_recipe *r, slm_diag *d) {
    int seen[SLMC_PASS_COUNT] = {0};
    int last = -1;
    for (int i = 0; i < r->n_steps; i++) {
        const slmc_recipe_step *s = &r->steps[i];
        const slmc_pass_id id = s->pass->id;
        if (seen[id] && id != SLMC_PASS_LORA_MERGE)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s:%d:%d: a second %s step (one of each; give all its options in "
                                "one step)", r->path, s->line, s->col, s->pass->name);
        if (id == SLMC_PASS_LORA_MERGE && last > SLMC_PASS_LORA_MERGE)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s:%d:%d: lora-merge must come before the other steps (adapters "
                                "are merged in f32 before any pruning or quantization)", r->path, s->line, s->col);
        if (last == SLMC_PASS_SCORE)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s:%d:%d: %s after score: score measures the finished artifact, "
                                "so it comes last", r->path, s->line, s->col, s->pass->name);
        if (id == SLMC_PASS_PRUNE && seen[SLMC_PASS_QUANTIZE])
            return slm_diag_set(d, SLM_ERR_INPUT, "%s:%d:%d: prune after quantize: prune first (quantization keeps "
                                "the pruned weights at zero)", r->path, s->line, s->col);
        if (id == SLMC_PASS_CALIBRATE && seen[SLMC_PASS_QUANTIZE])
            return slm_diag_set(d, SLM_ERR_INPUT, "%s:%d:%d: calibrate after quantize: the statistics drive the "
                                "quantization, so calibrate first", r->path, s->line, s->col);
        if (id == SLMC_PASS_CALIBRATE) a->calib_before_prune = !seen[SLMC_PASS_PRUNE];
        seen[id]++;
        last = (int)id;
        a->pass_given[id] = true;
        for (int j = 0; j < s->n_values; j++) {
            const slmc_recipe_value *v = &s->values[j];
            char label[600];
            snprintf(label, sizeof label, "%s:%d:%d: %s.%s", r->path, v->line, v->col, s->pass->name, v->opt->key);
            slm_status st = apply(a, v->opt, label, v->text, SLM_ERR_INPUT, d);
            if (st != SLM_OK) return st;
        }
    }
    return SLM_OK;
}

enum { O_GLOBAL_BASE = 1000, O_RECIPE, O_REPORT, O_THREADS, O_FORMAT };

/* The flags getopt sees: the globals, then one per registry option. */
static struct option *long_options(void) {
    static const struct option globals[] = {
        {"output", required_argument, 0, 'o'},  {"tokenizer", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {"recipe", required_argument, 0, O_RECIPE}, {"report", required_argument, 0, O_REPORT},
        {"threads", required_argument, 0, O_THREADS}, {"format", required_argument, 0, O_FORMAT},
    };
    const int n_globals = (int)(sizeof globals / sizeof globals[0]);
    int n_passes, n = n_globals;
    const slmc_pass_def *p = slmc_registry_passes(&n_passes);
    for (int i = 0; i < n_passes; i++) n += p[i].n_opts;
    struct option *o = calloc((size_t)n + 1, sizeof *o);
    if (!o) return NULL;
    memcpy(o, globals, sizeof globals);
    n = n_globals;
    for (int i = 0; i < n_passes; i++)
        for (int j = 0; j < p[i].n_opts; j++)
            o[n++] = (struct option){p[i].opts[j].flag,
                                     p[i].opts[j].kind == SLMC_OK_FLAG ? no_argument : required_argument, 0,
                                     (int)p[i].opts[j].id};
    return o;
}

/* What the pipeline will need, once all options are in. */
static int finish(slmc_compile_args *a) {
    if (a->has_type && a->has_mix) return slmc_usage_error(TOOL, "give --type or --mix, not both");
    if (a->has_sparsity && a->has_pattern) return slmc_usage_error(TOOL, "give --sparsity or --pattern, not both");
    if ((a->has_sparsity || a->has_pattern || a->n_prune_targets || a->n_prune_ignores) && !a->prune)
        return slmc_usage_error(TOOL, "--sparsity, --pattern, --prune-targets and --prune-ignore need --prune METHOD");
    if (a->calib && a->calib_data)
        return slmc_usage_error(TOOL, "give calibration statistics (--calib) or data to run (--calib-data), not both");
    if ((a->budget_bytes > 0) + (a->budget_bpw > 0) > 1) return slmc_usage_error(TOOL, "give --budget or --bpw, not both");
    if ((a->budget_bytes > 0 || a->budget_bpw > 0) && (a->has_type || a->has_mix))
        return slmc_usage_error(TOOL, "--budget/--bpw choose the types: leave out --type and --mix");
    if ((a->n_budget_types || a->has_budget_tokens) && !(a->budget_bytes > 0 || a->budget_bpw > 0))
        return slmc_usage_error(TOOL, "--budget-types and --budget-tokens need --budget or --bpw");
    if ((a->budget_bytes > 0 || a->budget_bpw > 0) && !a->calib_data)
        return slmc_usage_error(TOOL, "--budget/--bpw measure each tensor's effect on the model's outputs: give "
                                "calibration text with --calib-data FILE (a calibrate step)");
    if (a->pass_given[SLMC_PASS_CALIBRATE] && !a->calib && !a->calib_data)
        return slmc_usage_error(TOOL, "the calibrate step needs data: (a file to run) or stats: (a statistics file)");
    if (a->pass_given[SLMC_PASS_SCORE] && !a->score_data)
        return slmc_usage_error(TOOL, "the score step needs data: (--score-data FILE)");
    if (!a->input) return slmc_usage_error(TOOL, "expected exactly one INPUT");
    if (!a->output) return slmc_usage_error(TOOL, "missing -o OUT.gguf");
    if (!a->has_method) a->method = a->calib || a->calib_data ? SLMC_METHOD_IMATRIX : SLMC_METHOD_NONE;
    if (a->calib_tokens < a->calib_ctx)
        return slmc_usage_error(TOOL, "--calib-tokens %lld is less than one chunk of --calib-ctx %lld",
                                a->calib_tokens, a->calib_ctx);
    /* prune targets and ignores become sparsity rules in front of --sparsity-for's */
    if (a->n_prune_ignores || a->n_prune_targets) {
        slmc_tensor_rules *r = NULL;
        slm_diag d = {0};
        char rule[1024];
        slm_status st = SLM_OK;
        for (int i = 0; i < a->n_prune_ignores && st == SLM_OK; i++) {
            snprintf(rule, sizeof rule, "%s=0", a->prune_ignores[i]);
            st = slmc_tensor_rules_add_value(&r, "prune ignore", rule, 0, 0.99, &d);
        }
        /* with targets, everything else is left alone */
        if (st == SLM_OK && a->n_prune_targets && a->sparsity_rules == NULL && a->prune_opts.group_m == 0) {
            for (int i = 0; i < a->n_prune_targets && st == SLM_OK; i++) {
                snprintf(rule, sizeof rule, "%s=%.17g", a->prune_targets[i], a->prune_opts.sparsity);
                st = slmc_tensor_rules_add_value(&r, "prune target", rule, 0, 0.99, &d);
            }
            if (st == SLM_OK) st = slmc_tensor_rules_add_value(&r, "prune target", ".=0", 0, 0.99, &d);
        } else if (st == SLM_OK && a->n_prune_targets) {
            st = slm_diag_set(&d, SLM_ERR_USAGE, "prune targets work with a uniform --sparsity (not with --pattern "
                              "or --sparsity-for; use ignore:, or --sparsity-for REGEX=S rules)");
        }
        if (st != SLM_OK) {
            slmc_tensor_rules_free(r);
            return slmc_usage_error(TOOL, "%s", d.msg);
        }
        /* ignores first, then the user's --sparsity-for rules: first match wins */
        st = slmc_tensor_rules_append(&r, a->sparsity_rules, &d);
        a->sparsity_rules = r;
        if (st != SLM_OK) return slmc_usage_error(TOOL, "%s", d.msg);
    }
    a->prune_opts.sparsity_rules = a->sparsity_rules;
    return 0;
}

int slmc_compile_args_parse(int argc, char **argv, slmc_compile_args *a) {
    struct option *opts = long_options();
    if (!opts) return slmc_usage_error(TOOL, "out of memory");
    /* the recipe first, so that flags override it whatever their position */
    const char *recipe = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--recipe") && i + 1 < argc) recipe = argv[i + 1];
        else if (!strncmp(argv[i], "--recipe=", 9)) recipe = argv[i] + 9;
    }
    slm_diag d = {0};
    if (recipe) {
        if (slmc_recipe_load(recipe, &a->recipe, &d) != SLM_OK || apply_recipe(a, a->recipe, &d) != SLM_OK) {
            free(opts);
            return slmc_fail("slmc", &d);
        }
        a->input = a->recipe->input;
        a->output = a->recipe->output;
        if (a->recipe->format) {
            if (strcmp(a->recipe->format, "gguf") && strcmp(a->recipe->format, "hf")) {
                free(opts);
                return slmc_usage_error(TOOL, "%s: format '%s': expected gguf or hf", recipe, a->recipe->format);
            }
            a->hf = !strcmp(a->recipe->format, "hf");
        }
    } else {
        a->calib_before_prune = true;
    }
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "o:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->output = optarg; break;
        case 't': a->tokenizer = optarg; break;
        case 'q': a->quiet = true; break;
        case 'h':
            slmc_compile_args_usage(stdout);
            free(opts);
            exit(0);
        case O_RECIPE: break;
        case O_REPORT: a->report = optarg; break;
        case O_THREADS: {
            long long n = 0;
            if (!slmc_parse_int(optarg, 1, 4096, &n))
                rc = slmc_usage_error(TOOL, "--threads '%s': expected a whole number from 1 to 4096", optarg);
            a->threads = (int)n;
            break;
        }
        case O_FORMAT:
            if (strcmp(optarg, "gguf") && strcmp(optarg, "hf"))
                rc = slmc_usage_error(TOOL, "--format '%s': expected gguf or hf", optarg);
            a->hf = !strcmp(optarg, "hf");
            break;
        default: {
            const slmc_opt_def *o = c > SLMC_O_NONE && c < SLMC_O_COUNT ? slmc_registry_opt_by_id(c) : NULL;
            if (!o) {
                rc = slmc_usage_error(TOOL, "bad option (see slmc compile --help)");
                break;
            }
            char label[64];
            snprintf(label, sizeof label, "--%s", o->flag);
            if (apply(a, o, label, o->kind == SLMC_OK_FLAG ? "true" : optarg, SLM_ERR_USAGE, &d) != SLM_OK)
                rc = slmc_fail(TOOL, &d);
        }
        }
    }
    free(opts);
    if (rc) return rc;
    if (optind + 1 == argc) a->input = argv[optind];
    else if (optind != argc || !a->input) return slmc_usage_error(TOOL, "expected exactly one INPUT");
    return finish(a);
}
