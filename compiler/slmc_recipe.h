/* slmc_recipe.h - compile recipes: a YAML file with an ordered list of
 * passes and their options (docs/recipes.md):
 *
 *   output: model-q4.gguf          # optional; -o on the command line wins
 *   steps:
 *     - lora-merge: {adapters: [adapters/support-bot]}
 *     - prune: {method: wanda, sparsity: 0.5, ignore: ['blk\.0\.']}
 *     - calibrate: {data: calib.txt, tokens: 8192, ctx: 512}
 *     - quantize: {type: q4_k_m, method: gptq}
 *     - score: {data: eval.txt}
 *
 * Steps and keys are checked against the pass registry (slmc_registry.h);
 * every error names the file, line and column. Values stay text here: the
 * compile command parses them exactly as it parses the equivalent flags,
 * so the two cannot disagree. */
#ifndef SLMC_RECIPE_H
#define SLMC_RECIPE_H

#include "slm_status.h"
#include "slmc_registry.h"

typedef struct slmc_recipe_value {
    const slmc_opt_def *opt;
    char *text; /* as the flag would take it: "0.5", "attn_v=q6_k", "dir:0.5", "true" */
    int line, col;
} slmc_recipe_value;

typedef struct slmc_recipe_step {
    const slmc_pass_def *pass;
    int line, col;
    int n_values;
    slmc_recipe_value *values;
} slmc_recipe_step;

typedef struct slmc_recipe {
    char *path;
    char *text;   /* the file as read, recorded in the artifact */
    size_t text_len;
    char *input, *output, *format; /* top-level keys, NULL when absent */
    int n_steps;
    slmc_recipe_step *steps;
} slmc_recipe;

/* Reads and checks a recipe. Errors (SLM_ERR_INPUT, or SLM_ERR_IO when
 * unreadable) read "PATH:LINE:COL: what was wrong, what was expected". */
slm_status slmc_recipe_load(const char *path, slmc_recipe **out, slm_diag *d);
/* The same from text in memory (`path` only names it in messages). */
slm_status slmc_recipe_parse(const char *path, const char *text, size_t len, slmc_recipe **out, slm_diag *d);
void slmc_recipe_free(slmc_recipe *r); /* accepts NULL */

#endif
