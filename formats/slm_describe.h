/* slm_describe.h - a model's summary as text or JSON: what `slmc inspect`
 * and `slmrt inspect` print. Writes to a caller-given stream. */
#ifndef SLM_DESCRIBE_H
#define SLM_DESCRIBE_H

#include <stdio.h>

#include "slm_model.h"

typedef struct slm_describe_opts {
    const char *path; /* shown as the source, may be NULL */
    bool json;
    bool all_tensors; /* text mode: list every tensor (default: all) */
} slm_describe_opts;

slm_status slm_model_describe(const slm_model *m, FILE *out, const slm_describe_opts *o, slm_diag *d);

/* Renders a metadata value compactly (arrays: count and first items). */
void slm_value_format(const slm_value *v, char *buf, size_t size);

#endif
