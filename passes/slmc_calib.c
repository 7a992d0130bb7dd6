/* slmc_calib.c - calibration statistics files and quantization methods
 * (see slmc_calib.h). */
#include "slmc_calib.h"
#include "slmc_convert.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ formats */

typedef struct calib_format {
    slmc_calib_format id;
    const char *name;
    bool (*sniff)(const unsigned char *head, size_t n);
    slm_status (*load)(slmc_calib *c, slm_diag *d);
} calib_format;

/* The legacy imatrix has no magic: it starts with a positive entry count and
 * the first name's length (1..63 bytes, a GGUF tensor name). */
static bool sniff_imatrix_dat(const unsigned char *head, size_t n) {
    if (n < 8) return n >= 4 && (int32_t)(head[0] | head[1] << 8 | head[2] << 16 | (uint32_t)head[3] << 24) >= 1;
    int32_t n_entries = (int32_t)(head[0] | head[1] << 8 | head[2] << 16 | (uint32_t)head[3] << 24);
    int32_t name_len = (int32_t)(head[4] | head[5] << 8 | head[6] << 16 | (uint32_t)head[7] << 24);
    return n_entries >= 1 && name_len >= 1 && name_len < SLM_MAX_NAME;
}

static slm_status load_imatrix_dat(slmc_calib *c, slm_diag *d) { return slm_imatrix_load(c->path, &c->imatrix, d); }

static bool sniff_slmc_stats(const unsigned char *head, size_t n) { return n >= 8 && !memcmp(head, "SLMCSTAT", 8); }

static slm_status load_slmc_stats(slmc_calib *c, slm_diag *d) { return slmc_stats_load(c->path, &c->stats, d); }

/* magic-number formats first: the legacy imatrix has none */
static const calib_format formats[] = {
    {SLMC_CALIB_SLMC_STATS, "slmc calibration statistics", sniff_slmc_stats, load_slmc_stats},
    {SLMC_CALIB_IMATRIX_DAT, "llama.cpp imatrix (.dat)", sniff_imatrix_dat, load_imatrix_dat},
};

slm_status slmc_calib_from_stats(slmc_stats *stats, const char *name, slmc_calib **out, slm_diag *d) {
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->path = strdup(name))) {
        free(*out);
        *out = NULL;
        slmc_stats_free(stats);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    (*out)->format = SLMC_CALIB_SLMC_STATS;
    (*out)->format_name = formats[0].name;
    (*out)->stats = stats;
    return SLM_OK;
}

slm_status slmc_calib_open(const char *path, slmc_calib **out, slm_diag *d) {
    *out = NULL;
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    if (!f) return slm_diag_set(d, SLM_ERR_IO, "%s: cannot open calibration statistics: %s", path, strerror(errno));
    size_t n = fread(head, 1, sizeof head, f);
    bool read_error = ferror(f);
    fclose(f);
    if (read_error) return slm_diag_set(d, SLM_ERR_IO, "%s: read error", path);

    const calib_format *fmt = NULL;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0] && !fmt; i++)
        if (formats[i].sniff(head, n)) fmt = &formats[i];
    if (!fmt) {
        if (n >= 4 && memcmp(head, "GGUF", 4) == 0)
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "%s: a GGUF file; GGUF-format imatrix files are not supported yet (write llama.cpp's "
                                "legacy .dat format: llama-imatrix --output-format dat)", path);
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: not a calibration statistics file slmc knows (expected slmc calibrate's stats or "
                            "llama.cpp's legacy imatrix .dat)", path);
    }
    slmc_calib *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    c->format = fmt->id;
    c->format_name = fmt->name;
    slm_status st = fmt->load(c, d);
    if (st != SLM_OK) {
        slmc_calib_free(c);
        return st;
    }
    *out = c;
    return SLM_OK;
}

void slmc_calib_free(slmc_calib *c) {
    if (!c) return;
    slm_imatrix_free(c->imatrix);
    slmc_stats_free(c->stats);
    free(c->path);
    free(c);
}

/* ------------------------------------------------------------ methods */

static const struct {
    slmc_quant_method id;
    const char *name;
    bool needs_stats;
} methods[] = {
    {SLMC_METHOD_NONE, "rtn", false}, /* plain round-to-nearest rules */
    {SLMC_METHOD_IMATRIX, "imatrix", true},
    {SLMC_METHOD_GPTQ, "gptq", true},
    {SLMC_METHOD_AWQ, "awq", true},
    {SLMC_METHOD_AWQ_GPTQ, "awq+gptq", true},
};

bool slmc_quant_method_from_name(const char *name, slmc_quant_method *out) {
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(name, methods[i].name) == 0) {
            *out = methods[i].id;
            return true;
        }
    return false;
}

const char *slmc_quant_method_name(slmc_quant_method m) {
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (methods[i].id == m) return methods[i].name;
    return "none";
}

const char *slmc_quant_method_names(void) { return "rtn, imatrix, gptq, awq, awq+gptq"; }

bool slmc_quant_method_needs_stats(slmc_quant_method m) {
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (methods[i].id == m) return methods[i].needs_stats;
    return false;
}

/* ------------------------------------------------------------- apply */

static slm_status set_i32(slm_model *m, const char *key, int32_t x) {
    slm_value v = {.type = SLM_V_I32};
    v.v.i64 = x;
    return slm_model_set_kv(m, key, &v);
}

/* llama-quantize stores these strings through a 128-byte buffer */
static slm_status set_str127(slm_model *m, const char *key, const char *s) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    return slm_model_set_str(m, key, buf);
}

/* llama-quantize's keys; slmc stats fill them with their equivalents (data
 * source, weights, chunks). */
static slm_status record_metadata(slm_model *m, const slmc_calib *c, slm_diag *d) {
    const char *dataset = c->imatrix ? c->imatrix->dataset : c->stats->source;
    int32_t entries = c->imatrix ? c->imatrix->n_entries : (int32_t)c->stats->n_entries;
    int32_t chunks = c->imatrix ? c->imatrix->last_call : (int32_t)c->stats->n_chunks;
    slm_status st = set_str127(m, "quantize.imatrix.file", c->path);
    if (st == SLM_OK && dataset && dataset[0]) st = set_str127(m, "quantize.imatrix.dataset", dataset);
    if (st == SLM_OK) st = set_i32(m, "quantize.imatrix.entries_count", entries);
    if (st == SLM_OK && chunks > 0) st = set_i32(m, "quantize.imatrix.chunks_count", chunks);
    return st == SLM_OK ? st : slm_diag_set(d, st, "out of memory");
}

/* The weights for one tensor, NULL when the statistics have none. */
static slm_status weights_for(slmc_calib *c, const slm_tensor *t, const float **w, slm_diag *d) {
    *w = NULL;
    if (c->imatrix) return slm_imatrix_for_tensor(c->imatrix, t->name, t->ne[0], t->ne[2], w, d);
    /* slmc stats hold one matrix per weight (no experts): ne[0] values, checked */
    if (t->ne[2] == 1) *w = slmc_stats_importance(c->stats, t->name);
    return SLM_OK;
}

slm_status slmc_calib_apply(slm_model *m, slmc_calib *c, slmc_quant_method method, slmc_calib_result *res,
                            slm_diag *d) {
    memset(res, 0, sizeof *res);
    if (method == SLMC_METHOD_NONE) return SLM_OK;
    if (!c || (!c->imatrix && !c->stats))
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "--method %s needs calibration statistics: pass --calib FILE (from slmc calibrate, or "
                            "an importance matrix from llama-imatrix)", slmc_quant_method_name(method));
    if (c->stats) {
        slm_diag cd = {0};
        if (slmc_stats_check_model(c->stats, m, &cd) != SLM_OK)
            return slm_diag_set(d, cd.status, "%s: %s", c->path, cd.msg);
    }
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        t->quant_weights = NULL;
        if (t->out_type == t->type || !slmc_is_quantizable(t)) continue;
        const float *w = NULL;
        slm_diag wd = {0};
        /* llama-quantize ignores a token_embd entry of the wrong size */
        if (weights_for(c, t, &w, &wd) != SLM_OK && strcmp(t->name, "token_embd.weight") != 0) {
            slm_diag_set(d, wd.status, "%s: %s (statistics collected on another model?)", c->path, wd.msg);
            return wd.status;
        }
        t->quant_weights = w;
        if (w) {
            res->n_weighted++;
        } else if (res->n_unweighted++ == 0) {
            snprintf(res->first_unweighted, sizeof res->first_unweighted, "%s", t->name);
        }
    }
    return record_metadata(m, c, d);
}
