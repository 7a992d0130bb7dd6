/* slmrt_cli.c - see slmrt_cli.h. */
#include "slmrt_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slm_file.h"

int slmrt_cli_fail(const slm_diag *d) {
    fprintf(stderr, "slmrt: error: %s\n", d->msg[0] ? d->msg : slm_status_str(d->status));
    return slm_status_exit_code(d->status);
}

int slmrt_cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "slmrt %s: error: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'slmrt %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

slm_status slmrt_read_token_file(const char *path, int32_t **ids, size_t *n, slm_diag *d) {
    *ids = NULL;
    *n = 0;
    char *text = NULL;
    size_t len = 0;
    slm_status st = slm_file_read_all(path, &text, &len, d);
    if (st != SLM_OK) return st;
    size_t cap = 1024, cnt = 0;
    int32_t *v = malloc(cap * sizeof *v);
    char *p = text;
    while (v) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX ||
            (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')) {
            char word[32];
            snprintf(word, sizeof word, "%.*s", (int)strcspn(p, " \t\r\n") > 20 ? 20 : (int)strcspn(p, " \t\r\n"), p);
            free(v);
            free(text);
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: '%s' at byte %zu is not a token id", path, word,
                                (size_t)(p - text));
        }
        if (cnt == cap) {
            int32_t *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
            cap *= 2;
        }
        v[cnt++] = (int32_t)x;
        p = end;
    }
    free(text);
    if (!v) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    *ids = v;
    *n = cnt;
    return SLM_OK;
}

int slmrt_cli_gemm_arg(const char *cmd, const char *arg, int *backend) {
    slmrt_gemm_backend b;
    if (!slmrt_gemm_backend_parse(arg, &b))
        return slmrt_cli_usage(cmd, "--gemm must be own, onednn or auto, got '%s'", arg);
    *backend = (int)b;
    return 0;
}

const char *slmrt_cli_gemm_describe(const slmrt_ctx *c, char *buf, size_t size) {
    const char *impl = slmrt_ctx_gemm_impl(c);
    snprintf(buf, size, *impl ? "%s (%s)" : "%s", slmrt_gemm_backend_name(slmrt_ctx_gemm_backend(c)), impl);
    return buf;
}

double slmrt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
