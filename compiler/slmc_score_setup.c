/* slmc_score_setup.c - see slmc_score_setup.h. */
#include "slmc_score_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_cache_dir.h"
#include "slmc_cli.h"
#include "slmc_hash_cache.h"
#include "slmrt_tokenizer.h"

/* The cache key: the SHA-256 of every file the teacher was read from, and
 * whatever else shaped its weights. */
static slm_status teacher_key(const slmrt_model *rm, const char *extra, char **key, slm_diag *d) {
    const slm_model *ir = slmrt_model_ir(rm);
    size_t cap = 8 + (size_t)ir->n_inputs * 65 + (extra ? strlen(extra) + 2 : 0) + 1;
    char *k = malloc(cap);
    if (!k) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    strcpy(k, "sha256:");
    for (uint32_t i = 0; i < ir->n_inputs; i++) {
        char hex[65];
        slm_status st = slmc_sha256_file_cached(ir->inputs[i].path, hex, d);
        if (st != SLM_OK) {
            free(k);
            return st;
        }
        if (i) strcat(k, ",");
        strcat(k, hex);
    }
    if (extra) {
        strcat(k, ";");
        strcat(k, extra);
    }
    *key = k;
    return SLM_OK;
}

/* Text input gets one BOS in front of the stream, as `slmrt eval --text`
 * (the reader adds it only when the vocabulary says so). */
static slm_status bos_first(int32_t **ids, size_t *n, int32_t bos, slm_diag *d) {
    if (bos < 0 || (*n && (*ids)[0] == bos)) return SLM_OK;
    int32_t *p = realloc(*ids, (*n + 1) * sizeof *p);
    if (!p) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    memmove(p + 1, p, *n * sizeof *p);
    p[0] = bos;
    *ids = p;
    (*n)++;
    return SLM_OK;
}

slm_status slmc_score_setup_teacher(slmrt_model *teacher, const slmc_score_setup_opts *o, slmc_teacher **out,
                                    slm_diag *d) {
    slmrt_tok *tk = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    char *key = NULL;
    *out = NULL;
    slm_status st = slmrt_tok_new(&slmrt_model_ir(teacher)->tok, &tk, d);
    if (st != SLM_OK) slm_diag_prefix(d, o->teacher_name);
    const slmc_calib_data_format fmt = o->format ? o->format : slmc_calib_data_format_detect(o->data);
    const bool ids_given = fmt == SLMC_CALIB_DATA_TOKENS || fmt == SLMC_CALIB_DATA_HDF5;
    const int32_t bos = st == SLM_OK && !ids_given ? slmrt_tok_bos(tk) : -1;
    slmc_calib_data_opts dopt = {.format = fmt, .dataset = o->dataset,
                                 .max_tokens = o->max_tokens ? o->max_tokens : SIZE_MAX};
    if (st == SLM_OK) st = slmc_calib_data_read(o->data, &dopt, tk, &ids, &n_ids, NULL, d);
    if (st == SLM_OK) st = bos_first(&ids, &n_ids, bos, d);

    char cache_dir[4096];
    const char *env = getenv("SLMC_TEACHER_CACHE");
    const bool use_cache =
        !o->no_cache && !(env && !strcmp(env, "0")) && slmc_cache_dir(cache_dir, sizeof cache_dir, 64);
    if (st == SLM_OK && use_cache && teacher_key(teacher, o->key_extra, &key, d) != SLM_OK) {
        if (!o->quiet) fprintf(stderr, "slmc: note: teacher cache off: %s\n", d->msg); /* only costs time */
        slm_diag_clear(d);
    }
    slmc_teacher_opts to = {.n_ctx = o->n_ctx, .max_tokens = o->max_tokens, .n_threads = o->n_threads, .bos = bos,
                            .short_one_chunk = ids_given, .name = o->teacher_name, .source = o->data,
                            .cache_dir = key ? cache_dir : NULL, .cache_key = key};
    if (st == SLM_OK) st = slmc_teacher_new(teacher, ids, n_ids, &to, out, d);
    if (st == SLM_OK && !o->quiet && *slmc_teacher_cache_note(*out))
        fprintf(stderr, "slmc: note: teacher cache: %s\n", slmc_teacher_cache_note(*out));
    free(key);
    free(ids);
    slmrt_tok_free(tk);
    return st;
}
