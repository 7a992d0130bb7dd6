/* slmc_tensor_rules.h - `--tensor-type REGEX=TYPE` overrides: a list of
 * regular expressions (PCRE2, searched anywhere in the tensor name, case
 * insensitive, like llama-quantize's --tensor-type) each naming a type. */
#ifndef SLMC_TENSOR_RULES_H
#define SLMC_TENSOR_RULES_H

#include <stdbool.h>

#include "slm_status.h"
#include "slm_type.h"

typedef struct slmc_tensor_rules slmc_tensor_rules;

/* Appends the rule "REGEX=TYPE" to *rules (created on first use). Fails
 * with SLM_ERR_USAGE naming the rule when it has no '=', an empty or invalid
 * regex, or a type slmc cannot encode. */
slm_status slmc_tensor_rules_add(slmc_tensor_rules **rules, const char *spec, slm_diag *d);

/* The type of the first rule (in the order added) whose regex matches
 * `name`; false when none does. rules may be NULL. */
bool slmc_tensor_rules_match(const slmc_tensor_rules *rules, const char *name, slm_type *out);

void slmc_tensor_rules_free(slmc_tensor_rules *rules); /* accepts NULL */

#endif
