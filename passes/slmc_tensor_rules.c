/* slmc_tensor_rules.c - see slmc_tensor_rules.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "slmc_tensor_rules.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

typedef struct rule {
    pcre2_code *re;
    slm_type type;
    double value;
} rule;

struct slmc_tensor_rules {
    rule *items;
    size_t n;
    pcre2_match_data *md; /* one pair: only whether a rule matches counts (a match
                             with more groups returns 0, still a match) */
};

/* Compiles the regex before the last '=' (a regex may contain one) and
 * appends the rule. */
static slm_status add_rule(slmc_tensor_rules **rules, const char *option, const char *spec, const char *eq,
                           rule value, slm_diag *d) {
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)spec, (PCRE2_SIZE)(eq - spec), PCRE2_CASELESS, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return slm_diag_set(d, SLM_ERR_USAGE, "%s '%s': bad regex at offset %zu: %s", option, spec, (size_t)off,
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
    value.re = re;
    r->items[r->n++] = value;
    return SLM_OK;
}

slm_status slmc_tensor_rules_add(slmc_tensor_rules **rules, const char *spec, slm_diag *d) {
    const char *eq = strrchr(spec, '=');
    if (!eq || eq == spec)
        return slm_diag_set(d, SLM_ERR_USAGE, "--tensor-type '%s': expected REGEX=TYPE, e.g. 'attn_v=q6_k'", spec);
    slm_type type = SLMC_TYPE_KEEP;
    const slm_type_traits *tt = slm_type_from_name(eq + 1, &type) ? slm_type_traits_get(type) : NULL;
    if (strcmp(eq + 1, "keep") && (!tt || !tt->quantize_row))
        return slm_diag_set(d, SLM_ERR_USAGE, "--tensor-type '%s': '%s' is not a type slmc can encode (nor keep)",
                            spec, eq + 1);
    return add_rule(rules, "--tensor-type", spec, eq, (rule){.type = type}, d);
}

slm_status slmc_tensor_rules_add_value(slmc_tensor_rules **rules, const char *option, const char *spec, double lo,
                                       double hi, slm_diag *d) {
    const char *eq = strrchr(spec, '=');
    char *end = NULL;
    const double v = eq ? strtod(eq + 1, &end) : 0;
    if (!eq || eq == spec || end == eq + 1 || *end || !(v >= lo && v <= hi))
        return slm_diag_set(d, SLM_ERR_USAGE, "%s '%s': expected REGEX=NUMBER with the number in [%g, %g]", option,
                            spec, lo, hi);
    return add_rule(rules, option, spec, eq, (rule){.value = v}, d);
}

/* The first rule whose regex matches name, or NULL. */
static const rule *first_match(const slmc_tensor_rules *rules, const char *name) {
    for (size_t i = 0; rules && i < rules->n; i++)
        if (pcre2_match(rules->items[i].re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, rules->md, NULL) >= 0)
            return &rules->items[i];
    return NULL;
}

bool slmc_tensor_rules_match_value(const slmc_tensor_rules *rules, const char *name, double *out) {
    const rule *r = first_match(rules, name);
    if (r) *out = r->value;
    return r != NULL;
}


bool slmc_tensor_rules_match(const slmc_tensor_rules *rules, const char *name, slm_type *out) {
    const rule *r = first_match(rules, name);
    if (r) *out = r->type;
    return r != NULL;
}

slm_status slmc_tensor_rules_append(slmc_tensor_rules **rules, slmc_tensor_rules *more, slm_diag *d) {
    if (!more) return SLM_OK;
    if (!*rules) {
        *rules = more;
        return SLM_OK;
    }
    slmc_tensor_rules *r = *rules;
    rule *items = realloc(r->items, (r->n + more->n) * sizeof *items);
    if (!items) {
        slmc_tensor_rules_free(more);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    r->items = items;
    memcpy(r->items + r->n, more->items, more->n * sizeof *items);
    r->n += more->n;
    more->n = 0; /* the regexes moved */
    slmc_tensor_rules_free(more);
    return SLM_OK;
}

void slmc_tensor_rules_free(slmc_tensor_rules *rules) {
    if (!rules) return;
    for (size_t i = 0; i < rules->n; i++) pcre2_code_free(rules->items[i].re);
    pcre2_match_data_free(rules->md);
    free(rules->items);
    free(rules);
}
