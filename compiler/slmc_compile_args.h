/* slmc_compile_args.h - what `slmc compile` was asked to do, from its flags
 * and/or a recipe: both set registry options (slmc_registry.h) through one
 * function, so a flag and the recipe key it abbreviates behave the same. */
#ifndef SLMC_COMPILE_ARGS_H
#define SLMC_COMPILE_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "slmc_calib.h"
#include "slmc_calib_data.h"
#include "slmc_convert.h"
#include "slmc_gptq.h"
#include "slmc_prune.h"
#include "slmc_recipe.h"
#include "slmc_registry.h"
#include "slmc_structured.h"
#include "slmc_tensor_rules.h"

#define SLMC_MAX_ADAPTERS 16

typedef struct slmc_adapter_arg {
    char *path; /* owned */
    double weight;
} slmc_adapter_arg;

typedef struct slmc_compile_args {
    const char *input, *output, *tokenizer, *report;
    slmc_recipe *recipe; /* owned; NULL without --recipe */
    bool quiet, hf;
    int threads;
    /* which passes were asked for, in the order they run */
    bool pass_given[SLMC_PASS_COUNT];
    bool calib_before_prune; /* the calibrate step precedes pruning (its statistics drive it) */
    /* lora-merge */
    int n_adapters;
    slmc_adapter_arg adapters[SLMC_MAX_ADAPTERS];
    /* prune */
    bool prune;
    slmc_prune_opts prune_opts;
    slmc_structured_opts structured;
    slmc_tensor_rules *sparsity_rules; /* owned; --sparsity-for, targets and ignores */
    int n_prune_targets, n_prune_ignores;
    const char *prune_targets[32], *prune_ignores[32];
    bool has_sparsity, has_pattern;
    /* calibrate */
    const char *calib;      /* statistics file */
    const char *calib_data; /* or a run over this data */
    const char *calib_dataset;
    long long calib_tokens, calib_ctx, calib_seed;
    int calib_gram;         /* -1 automatic */
    /* quantize */
    bool has_method, has_type, has_mix;
    slmc_quant_method method;
    slmc_gptq_opts gptq;
    slmc_convert_opts conv;
    slmc_tensor_rules *rules; /* owned; --tensor-type and ignores */
    double budget_bytes, budget_bpw; /* 0 = no search */
    int n_budget_types;
    slm_type budget_types[SLM_TYPE_COUNT];
    long long budget_tokens;
    bool has_budget_tokens;
    /* score */
    const char *score_data, *teacher;
    long long score_tokens, score_ctx;
} slmc_compile_args;

void slmc_compile_args_init(slmc_compile_args *a);
void slmc_compile_args_free(slmc_compile_args *a);

/* Parses argv (argv[0] = "compile"): flags, --recipe FILE (its steps
 * first, then the flags on top), INPUT. Returns 0 or an exit code after
 * printing the error. */
int slmc_compile_args_parse(int argc, char **argv, slmc_compile_args *a);

/* "3.2GB", "900MiB", "15000000" -> bytes; false when malformed. */
bool slmc_compile_args_parse_size(const char *s, double *bytes);

/* The compile's usage text. */
void slmc_compile_args_usage(FILE *f);

#endif
