/* slmc_provenance.c - see slmc_provenance.h. Values depend only on the
 * inputs and the command line (no clock, no host name) so that the same
 * compile gives a byte-identical artifact. */
#include "slmc_provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_cli.h"

static slm_status set_str_array(slm_model *m, const char *key, char **items, uint32_t n) {
    slm_str *arr = calloc(n ? n : 1, sizeof *arr);
    if (!arr) return SLM_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        arr[i].s = items[i];
        arr[i].len = strlen(items[i]);
    }
    slm_value v = {.type = SLM_V_ARR, .arr_type = SLM_V_STR, .n = n};
    v.v.arr = arr;
    slm_status st = slm_model_set_kv(m, key, &v);
    free(arr);
    return st;
}

static bool any_quantized(const slm_model *m) {
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (slm_type_is_quantized(m->tensors[i].out_type)) return true;
    return false;
}

slm_status slmc_provenance_record(slm_model *m, const char *input, int argc, char **argv, uint32_t file_type,
                                  slm_diag *d) {
    slm_status st = SLM_OK;
    if (!slm_model_find_kv(m, "general.name")) {
        const char *base = strrchr(input, '/');
        char name[256];
        snprintf(name, sizeof name, "%s", base && base[1] ? base + 1 : input);
        size_t n = strlen(name);
        while (n > 1 && name[n - 1] == '/') name[--n] = 0;
        char *dot = strrchr(name, '.');
        if (dot && dot != name) *dot = 0;
        st = slm_model_set_str(m, "general.name", name);
    }
    slm_model_remove_kv(m, "general.file_type");
    slm_model_remove_kv(m, "general.quantization_version");
    if (st == SLM_OK) st = slm_model_set_u32(m, "general.file_type", file_type);
    if (st == SLM_OK && any_quantized(m)) st = slm_model_set_u32(m, "general.quantization_version", 2);
    if (st == SLM_OK) st = slm_model_set_str(m, "slmc.version", SLMC_VERSION);

    /* argv[0] is the subcommand; the command line reads as typed after "slmc". */
    size_t len = 5;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    char *cmd = malloc(len + 1);
    if (!cmd) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    strcpy(cmd, "slmc");
    for (int i = 0; i < argc; i++) {
        strcat(cmd, " ");
        strcat(cmd, argv[i]);
    }
    if (st == SLM_OK) st = slm_model_set_str(m, "slmc.command_line", cmd);
    free(cmd);

    uint32_t n = m->n_inputs;
    char **paths = calloc(n ? n : 1, sizeof *paths), **hashes = calloc(n ? n : 1, sizeof *hashes);
    char *hexbuf = calloc(n ? n : 1, 65);
    if (!paths || !hashes || !hexbuf) st = SLM_ERR_NOMEM;
    for (uint32_t i = 0; i < n && st == SLM_OK; i++) {
        paths[i] = m->inputs[i].path;
        hashes[i] = hexbuf + 65 * i;
        st = slmc_sha256_file(m->inputs[i].path, hashes[i], d);
    }
    if (st == SLM_OK) st = set_str_array(m, "slmc.inputs", paths, n);
    if (st == SLM_OK) st = set_str_array(m, "slmc.inputs.sha256", hashes, n);
    free(paths);
    free(hashes);
    free(hexbuf);
    if (st == SLM_ERR_NOMEM) return slm_diag_set(d, st, "out of memory");
    return st;
}
