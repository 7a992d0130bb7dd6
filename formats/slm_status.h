/* slm_status.h - status codes and diagnostics shared by every slm library.
 *
 * Library code never prints or exits on bad input: it returns an slm_status
 * and fills an slm_diag naming the file, tensor or key and what was expected.
 * Only the command-line tools print the message and choose the exit code.
 * The numeric values are pinned: they are part of the documented CLI contract
 * (see slm_status_exit_code). */
#ifndef SLM_STATUS_H
#define SLM_STATUS_H

#include <stdarg.h>

typedef enum slm_status {
    SLM_OK = 0,
    SLM_ERR_USAGE = 1,       /* caller passed an invalid argument or option */
    SLM_ERR_INPUT = 2,       /* input file is malformed or not what was expected */
    SLM_ERR_IO = 3,          /* open/read/write/rename/mmap failed */
    SLM_ERR_NOMEM = 4,       /* allocation failed */
    SLM_ERR_UNSUPPORTED = 5, /* valid input using a feature we do not handle */
    SLM_ERR_INTERNAL = 6     /* a bug in slm */
} slm_status;

/* A diagnostic collected on the way out of a failing call. The first error set
 * wins so that the innermost, most specific message reaches the user. */
typedef struct slm_diag {
    slm_status status;
    char msg[1024];
} slm_diag;

const char *slm_status_str(slm_status s);

/* Records status and message (printf-style) unless an error is already
 * recorded; returns `status` so callers can `return slm_diag_set(...)`.
 * `d` may be NULL. */
slm_status slm_diag_set(slm_diag *d, slm_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
slm_status slm_diag_setv(slm_diag *d, slm_status status, const char *fmt, va_list ap);

/* Prefixes the recorded message with "prefix: " (e.g. the file name) when the
 * message does not already start with it. */
void slm_diag_prefix(slm_diag *d, const char *prefix);

void slm_diag_clear(slm_diag *d);

/* Process exit code for a status, as documented in README: 0 ok, 2 usage,
 * 3 input, 4 I/O, 5 internal (NOMEM, UNSUPPORTED map to input/internal). */
int slm_status_exit_code(slm_status s);

#endif
