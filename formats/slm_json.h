/* slm_json.h - the small layer over jansson every JSON reader shares, so
 * that all of them describe bad JSON the same way. */
#ifndef SLM_JSON_H
#define SLM_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "slm_status.h"

/* "an object", "a string", ... ; "missing" for NULL. */
const char *slm_json_kind(const json_t *v);

/* Parses text that must be one JSON object (duplicate keys rejected). On
 * failure the message reads "<what>: invalid JSON at line L, column C: ..."
 * or "<what>: <kind>, expected a JSON object". The caller json_decref()s. */
slm_status slm_json_load_object(const char *text, size_t len, const char *what, json_t **out, slm_diag *d);

#endif
