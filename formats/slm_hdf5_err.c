/* slm_hdf5_err.c - see slm_hdf5_err.h. */
#include "slm_hdf5_err.h"

#include <stdarg.h>
#include <stdio.h>

void slm_hdf5_quiet_begin(slm_hdf5_quiet *q) {
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void slm_hdf5_quiet_end(const slm_hdf5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

typedef struct hdf5_err_text {
    char inner[256]; /* the most specific description */
    char api[64];    /* the API function that failed */
} hdf5_err_text;

static herr_t collect_error(unsigned n, const H5E_error2_t *e, void *ctx) {
    hdf5_err_text *t = ctx;
    if (n == 0 && e->desc) snprintf(t->inner, sizeof t->inner, "%s", e->desc);
    if (e->func_name) snprintf(t->api, sizeof t->api, "%s", e->func_name); /* the last one walked is the API */
    return 0;
}

slm_status slm_hdf5_fail(slm_diag *d, slm_status status, const char *fmt, ...) {
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    hdf5_err_text t = {{0}, {0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &t);
    H5Eclear2(H5E_DEFAULT);
    if (t.inner[0])
        return slm_diag_set(d, status, "%s: %s (HDF5 %s)", what, t.inner, t.api[0] ? t.api : "error");
    return slm_diag_set(d, status, "%s", what);
}
