/* slm_status.c - status strings and the diagnostic buffer. */
#include "slm_status.h"

#include <stdio.h>
#include <string.h>

const char *slm_status_str(slm_status s) {
    switch (s) {
    case SLM_OK: return "ok";
    case SLM_ERR_USAGE: return "usage error";
    case SLM_ERR_INPUT: return "input error";
    case SLM_ERR_IO: return "I/O error";
    case SLM_ERR_NOMEM: return "out of memory";
    case SLM_ERR_UNSUPPORTED: return "unsupported";
    case SLM_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

slm_status slm_diag_setv(slm_diag *d, slm_status status, const char *fmt, va_list ap) {
    if (!d || d->status != SLM_OK) return status;
    d->status = status;
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    return status;
}

slm_status slm_diag_set(slm_diag *d, slm_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    slm_diag_setv(d, status, fmt, ap);
    va_end(ap);
    return status;
}

void slm_diag_prefix(slm_diag *d, const char *prefix) {
    if (!d || !prefix || d->status == SLM_OK) return;
    size_t pl = strlen(prefix);
    if (strncmp(d->msg, prefix, pl) == 0) return;
    char tmp[sizeof d->msg];
    /* a long message is cut rather than lost */
    int n = snprintf(tmp, sizeof tmp, "%s: ", prefix);
    if (n < 0 || (size_t)n >= sizeof tmp) return;
    snprintf(tmp + n, sizeof tmp - (size_t)n, "%.*s", (int)(sizeof tmp - (size_t)n - 1), d->msg);
    memcpy(d->msg, tmp, sizeof tmp);
}

void slm_diag_clear(slm_diag *d) {
    if (!d) return;
    d->status = SLM_OK;
    d->msg[0] = '\0';
}

int slm_status_exit_code(slm_status s) {
    switch (s) {
    case SLM_OK: return 0;
    case SLM_ERR_USAGE: return 2;
    case SLM_ERR_INPUT:
    case SLM_ERR_UNSUPPORTED: return 3;
    case SLM_ERR_IO: return 4;
    case SLM_ERR_NOMEM:
    case SLM_ERR_INTERNAL: return 5;
    }
    return 5;
}
