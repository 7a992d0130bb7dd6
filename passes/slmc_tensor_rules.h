/* slmc_tensor_rules.h - per-tensor overrides by name: a list of regular
 * expressions (PCRE2, searched anywhere in the tensor name, case
 * insensitive, like llama-quantize's --tensor-type), each naming a type
 * (`--tensor-type REGEX=TYPE`) or a number (`--sparsity-for REGEX=S`). */
#ifndef SLMC_TENSOR_RULES_H
#define SLMC_TENSOR_RULES_H

#include <stdbool.h>

#include "slm_status.h"
#include "slm_type.h"

typedef struct slmc_tensor_rules slmc_tensor_rules;

/* The type of a "REGEX=keep" rule: the tensor keeps its own type. */
#define SLMC_TYPE_KEEP SLM_TYPE_COUNT

/* Appends the rule "REGEX=TYPE" (or REGEX=keep) to *rules (created on first use). Fails
 * with SLM_ERR_USAGE naming the rule when it has no '=', an empty or invalid
 * regex, or a type slmc cannot encode. */
slm_status slmc_tensor_rules_add(slmc_tensor_rules **rules, const char *spec, slm_diag *d);

/* Appends "REGEX=NUMBER" with the number in [lo, hi]; `option` names the
 * flag in messages. */
slm_status slmc_tensor_rules_add_value(slmc_tensor_rules **rules, const char *option, const char *spec, double lo,
                                       double hi, slm_diag *d);

/* The number of the first matching rule; false when none matches. */
bool slmc_tensor_rules_match_value(const slmc_tensor_rules *rules, const char *name, double *out);

/* The type of the first rule (in the order added) whose regex matches
 * `name`; false when none does. rules may be NULL. */
bool slmc_tensor_rules_match(const slmc_tensor_rules *rules, const char *name, slm_type *out);

/* Moves every rule of `more` behind those of *rules (created when NULL);
 * `more` is consumed either way. */
slm_status slmc_tensor_rules_append(slmc_tensor_rules **rules, slmc_tensor_rules *more, slm_diag *d);

void slmc_tensor_rules_free(slmc_tensor_rules *rules); /* accepts NULL */

#endif
