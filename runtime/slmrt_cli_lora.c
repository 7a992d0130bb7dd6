/* slmrt_cli_lora.c - see slmrt_cli_lora.h. */
#include "slmrt_cli_lora.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_cli.h"

int slmrt_cli_lora_arg(const char *cmd, const char *arg, slmrt_cli_loras *l) {
    if (l->n == SLMRT_CLI_MAX_LORA)
        return slmrt_cli_usage(cmd, "at most %d --lora adapters", SLMRT_CLI_MAX_LORA);
    size_t len = strlen(arg);
    float scale = 1.0f;
    /* a path may contain ':' itself: only a number after the last one is a scale */
    const char *colon = strrchr(arg, ':');
    if (colon && colon[1]) {
        char *end;
        float v = strtof(colon + 1, &end);
        if (*end == '\0') {
            if (!isfinite(v)) return slmrt_cli_usage(cmd, "--lora %s: the scale must be a finite number", arg);
            scale = v;
            len = (size_t)(colon - arg);
        }
    }
    if (len == 0) return slmrt_cli_usage(cmd, "--lora needs FILE[:SCALE], got '%s'", arg);
    if (len >= sizeof l->path[0]) return slmrt_cli_usage(cmd, "--lora path too long: '%.40s...'", arg);
    memcpy(l->path[l->n], arg, len);
    l->path[l->n][len] = '\0';
    l->scale[l->n++] = scale;
    return 0;
}

slm_status slmrt_cli_lora_apply(slmrt_model *m, const slmrt_cli_loras *l, slm_diag *d) {
    for (int i = 0; i < l->n; i++) {
        slm_status st = slmrt_model_add_lora_file(m, l->path[i], l->scale[i], d);
        if (st != SLM_OK) {
            slm_diag_prefix(d, l->path[i]);
            return st;
        }
    }
    return SLM_OK;
}
