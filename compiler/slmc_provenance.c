/* slmc_provenance.c - see slmc_provenance.h. Values depend only on the
 * inputs and the command line (no clock, no host name) so that the same
 * compile gives a byte-identical artifact. */
#include "slmc_provenance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_cli.h"
#include "slmc_hash_cache.h"

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

struct slmc_hashes {
    uint32_t n;
    char **paths;      /* owned copies */
    char *hex;         /* n x 65 */
    pthread_t thread;
    bool started, joined;
    int running;       /* atomic: the thread has not finished */
    slm_status status; /* of the thread's work */
    slm_diag diag;
};

static void *hash_inputs(void *arg) {
    slmc_hashes *h = arg;
    for (uint32_t i = 0; i < h->n && h->status == SLM_OK; i++)
        h->status = slmc_sha256_file_cached(h->paths[i], h->hex + 65 * i, &h->diag);
    __atomic_store_n(&h->running, 0, __ATOMIC_RELEASE);
    return NULL;
}

bool slmc_hashes_running(const slmc_hashes *h) { return h && __atomic_load_n(&h->running, __ATOMIC_ACQUIRE); }

static slm_status hashes_join(slmc_hashes *h) {
    if (h->started && !h->joined) pthread_join(h->thread, NULL);
    h->joined = true;
    return h->status;
}

void slmc_hashes_free(slmc_hashes *h) {
    if (!h) return;
    hashes_join(h);
    for (uint32_t i = 0; i < h->n; i++) free(h->paths[i]);
    free(h->paths);
    free(h->hex);
    free(h);
}

static slm_status late_fill(void *ctx, uint32_t index, char *s, size_t len, slm_diag *d) {
    slmc_hashes *h = ctx;
    if (hashes_join(h) != SLM_OK) return slm_diag_set(d, h->status, "%s", h->diag.msg);
    if (index >= h->n || len != 64) return slm_diag_set(d, SLM_ERR_INTERNAL, "input hash %u: no such input", index);
    memcpy(s, h->hex + 65 * index, 64);
    return SLM_OK;
}

void slmc_hashes_write_opts(slmc_hashes *h, slm_gguf_write_opts *wo) {
    wo->late[0].key = "slmc.inputs.sha256";
    wo->late[0].fill = late_fill;
    wo->late[0].ctx = h;
}

static slm_status hashes_start(const slm_model *m, slmc_hashes **out, slm_diag *d) {
    slmc_hashes *h = calloc(1, sizeof *h);
    uint32_t n = m->n_inputs;
    if (h) {
        h->n = n;
        h->paths = calloc(n ? n : 1, sizeof *h->paths);
        h->hex = calloc(n ? n : 1, 65);
    }
    bool ok = h && h->paths && h->hex;
    for (uint32_t i = 0; ok && i < n; i++) ok = (h->paths[i] = strdup(m->inputs[i].path)) != NULL;
    if (!ok) {
        slmc_hashes_free(h);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    h->running = 1;
    h->started = pthread_create(&h->thread, NULL, hash_inputs, h) == 0;
    if (!h->started) hash_inputs(h); /* no thread: hash now */
    *out = h;
    return SLM_OK;
}

static bool any_quantized(const slm_model *m) {
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (slm_type_is_quantized(m->tensors[i].out_type)) return true;
    return false;
}

slm_status slmc_provenance_set_file_type(slm_model *m, uint32_t file_type, slm_diag *d) {
    slm_status st = slm_model_set_u32(m, "general.file_type", file_type);
    if (st == SLM_OK && any_quantized(m) && !slm_model_find_kv(m, "general.quantization_version"))
        st = slm_model_set_u32(m, "general.quantization_version", 2);
    return st == SLM_OK ? st : slm_diag_set(d, st, "out of memory");
}

slm_status slmc_provenance_record(slm_model *m, const char *input, int argc, char **argv, uint32_t file_type,
                                  slmc_hashes **later, slm_diag *d) {
    if (later) *later = NULL;
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
    slmc_hashes *h = NULL;
    if (st == SLM_OK && later) st = hashes_start(m, &h, d);
    for (uint32_t i = 0; i < n && st == SLM_OK; i++) {
        paths[i] = m->inputs[i].path;
        hashes[i] = hexbuf + 65 * i;
        if (h) memset(hashes[i], '0', 64); /* a placeholder of the final length */
        else st = slmc_sha256_file_cached(m->inputs[i].path, hashes[i], d);
    }
    if (st == SLM_OK) st = set_str_array(m, "slmc.inputs", paths, n);
    if (st == SLM_OK) st = set_str_array(m, "slmc.inputs.sha256", hashes, n);
    free(paths);
    free(hashes);
    free(hexbuf);
    if (later) *later = st == SLM_OK ? h : NULL;
    if (st != SLM_OK) slmc_hashes_free(h);
    if (st == SLM_ERR_NOMEM) return slm_diag_set(d, st, "out of memory");
    return st;
}
