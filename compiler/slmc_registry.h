/* slmc_registry.h - the one table of compile passes and their options.
 *
 * `slmc compile`'s flags, a recipe's step keys and `slmc passes`' listing
 * all come from it, so a CLI flag is exactly shorthand for a one-step
 * recipe: `--prune wanda --sparsity 0.5` is the step
 *   - prune: {method: wanda, sparsity: 0.5}
 * Every option has a recipe key (unique within its pass) and a flag
 * (unique across passes); both set the same option id. */
#ifndef SLMC_REGISTRY_H
#define SLMC_REGISTRY_H

#include <stdbool.h>
#include <stdio.h>

/* Option ids. The compile command applies them (slmc_cmd_compile.c). */
typedef enum slmc_opt_id {
    SLMC_O_NONE = 0,
    /* lora-merge */
    SLMC_O_LORA,
    /* prune */
    SLMC_O_PRUNE,
    SLMC_O_SPARSITY,
    SLMC_O_PATTERN,
    SLMC_O_PRUNE_SCOPE,
    SLMC_O_MAX_LAYER_SPARSITY,
    SLMC_O_SCHEDULE,
    SLMC_O_OWL_LAMBDA,
    SLMC_O_SPARSITY_FOR,
    SLMC_O_PRUNE_TARGETS,
    SLMC_O_PRUNE_IGNORE,
    SLMC_O_FFN,
    SLMC_O_HEADS,
    SLMC_O_LAYERS,
    SLMC_O_IMPORTANCE,
    SLMC_O_SEED,
    /* calibrate */
    SLMC_O_CALIB,
    SLMC_O_CALIB_DATA,
    SLMC_O_CALIB_TOKENS,
    SLMC_O_CALIB_CTX,
    SLMC_O_CALIB_SEED,
    SLMC_O_CALIB_GRAM,
    SLMC_O_CALIB_DATASET,
    /* quantize */
    SLMC_O_TYPE,
    SLMC_O_MIX,
    SLMC_O_OUTPUT_TYPE,
    SLMC_O_EMBD_TYPE,
    SLMC_O_TENSOR_TYPE,
    SLMC_O_QUANT_IGNORE,
    SLMC_O_METHOD,
    SLMC_O_GPTQ_DAMP,
    SLMC_O_GPTQ_ORDER,
    SLMC_O_BUDGET,
    SLMC_O_BPW,
    SLMC_O_BUDGET_TYPES,
    SLMC_O_BUDGET_TOKENS,
    /* score */
    SLMC_O_SCORE_DATA,
    SLMC_O_SCORE_TOKENS,
    SLMC_O_SCORE_CTX,
    SLMC_O_TEACHER,
    SLMC_O_COUNT
} slmc_opt_id;

/* How a recipe writes an option's value (the CLI always gives text):
 *   SCALAR  one value            sparsity: 0.5
 *   FLAG    true/false           gram: true   (CLI: --calib-gram, no value)
 *   LIST    a sequence or one    ignore: ['output', 'blk\.0\.']  (CLI: repeat the flag)
 *   MAP     REGEX: VALUE pairs   tensor-type: {attn_v: q6_k}      (CLI: --tensor-type REGEX=VALUE)
 *   ADAPTER path[:weight] items  adapters: [{path: a, weight: 0.5}, b:1.0] */
typedef enum slmc_opt_kind { SLMC_OK_SCALAR, SLMC_OK_FLAG, SLMC_OK_LIST, SLMC_OK_MAP, SLMC_OK_ADAPTER } slmc_opt_kind;

typedef struct slmc_opt_def {
    slmc_opt_id id;
    const char *key;   /* recipe key within the pass */
    const char *flag;  /* `slmc compile` flag, without "--" */
    slmc_opt_kind kind;
    const char *value; /* what the value looks like, e.g. "magnitude|wanda|sparsegpt" */
    const char *help;
} slmc_opt_def;

typedef enum slmc_pass_id {
    SLMC_PASS_LORA_MERGE,
    SLMC_PASS_PRUNE,
    SLMC_PASS_CALIBRATE,
    SLMC_PASS_QUANTIZE,
    SLMC_PASS_SCORE,
    SLMC_PASS_COUNT
} slmc_pass_id;

typedef struct slmc_pass_def {
    slmc_pass_id id;
    const char *name; /* recipe step name */
    const char *summary;
    const slmc_opt_def *opts;
    int n_opts;
} slmc_pass_def;

const slmc_pass_def *slmc_registry_passes(int *n);
const slmc_pass_def *slmc_registry_pass(const char *name); /* NULL when unknown */
const slmc_pass_def *slmc_registry_pass_of(slmc_opt_id id);
/* An option of `pass` by recipe key, or of any pass by flag; NULL when none. */
const slmc_opt_def *slmc_registry_opt(const slmc_pass_def *pass, const char *key);
const slmc_opt_def *slmc_registry_flag(const char *flag);
const slmc_opt_def *slmc_registry_opt_by_id(slmc_opt_id id);
/* "type, mix, method, ..." of a pass, for messages. Static storage. */
const char *slmc_registry_keys(const slmc_pass_def *pass);

/* `slmc passes`: every pass, its recipe keys, flags and help. */
void slmc_registry_print(FILE *f, bool markdown);

#endif
