/* slm_json.c - see slm_json.h. */
#include "slm_json.h"

const char *slm_json_kind(const json_t *v) {
    if (!v) return "missing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

slm_status slm_json_load_object(const char *text, size_t len, const char *what, json_t **out, slm_diag *d) {
    *out = NULL;
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: invalid JSON at line %d, column %d: %s", what, err.line, err.column,
                            err.text);
    if (!json_is_object(root)) {
        slm_status st = slm_diag_set(d, SLM_ERR_INPUT, "%s: %s, expected a JSON object", what, slm_json_kind(root));
        json_decref(root);
        return st;
    }
    *out = root;
    return SLM_OK;
}
