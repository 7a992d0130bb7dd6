/* slmc_tensor_rules.c - see slmc_tensor_rules.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "slmc_tensor_rules.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

typedef struct rule {
    pcre2_code *re;
    slm_type type;
} rule;

struct slmc_tensor_rules {
    rule *items;
    size_t n;
    pcre2_match_data *md; /* one pair: only whether a rule matches counts (a match
                             with more groups returns 0, still a match) */
};

slm_status slmc_tensor_rules_add(slmc_tensor_rules **rules, const char *spec, slm_diag *d) {
    /* the type comes after the last '=', so a regex may itself contain one */
    const char *eq = strrchr(spec, '=');
    if (!eq || eq == spec)
        return slm_diag_set(d, SLM_ERR_USAGE, "--tensor-type '%s': expected REGEX=TYPE, e.g. 'attn_v=q6_k'", spec);
    slm_type type;
    const slm_type_traits *tt = slm_type_from_name(eq + 1, &type) ? slm_type_traits_get(type) : NULL;
    if (!tt || !tt->quantize_row)
        return slm_diag_set(d, SLM_ERR_USAGE, "--tensor-type '%s': '%s' is not a type slmc can encode", spec, eq + 1);
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)spec, (PCRE2_SIZE)(eq - spec), PCRE2_CASELESS, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return slm_diag_set(d, SLM_ERR_USAGE, "--tensor-type '%s': bad regex at offset %zu: %s", spec, (size_t)off,
                            (const char *)msg);
    }
    slmc_tensor_rules *r = *rules;
    if (!r && (r = *rules = calloc(1, sizeof *r)) != NULL) r->md = pcre2_match_data_create(1, NULL);
    rule *items = r && r->md ? realloc(r->items, (r->n + 1) * sizeof *items) : NULL;
    if (!items) {
        pcre2_code_free(re);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    r->items = items;
    r->items[r->n++] = (rule){re, type};
    return SLM_OK;
}

bool slmc_tensor_rules_match(const slmc_tensor_rules *rules, const char *name, slm_type *out) {
    if (!rules) return false;
    for (size_t i = 0; i < rules->n; i++) {
        if (pcre2_match(rules->items[i].re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, rules->md, NULL) >= 0) {
            *out = rules->items[i].type;
            return true;
        }
    }
    return false;
}

void slmc_tensor_rules_free(slmc_tensor_rules *rules) {
    if (!rules) return;
    for (size_t i = 0; i < rules->n; i++) pcre2_code_free(rules->items[i].re);
    pcre2_match_data_free(rules->md);
    free(rules->items);
    free(rules);
}
