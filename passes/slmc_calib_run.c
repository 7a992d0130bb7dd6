/* slmc_calib_run.c - the calibration loop (see slmc_calib_run.h). */
#include "slmc_calib_run.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* -log p(next) summed over rows [first, n-1) of one chunk's logits. */
static double nll_sum(const float *logits, const int32_t *toks, int first, int n, int n_vocab) {
    double s = 0;
    for (int t = first; t < n - 1; t++) {
        const float *l = logits + (size_t)t * n_vocab;
        float mx = l[0];
        for (int v = 1; v < n_vocab; v++) mx = l[v] > mx ? l[v] : mx;
        double z = 0;
        for (int v = 0; v < n_vocab; v++) z += exp((double)l[v] - mx);
        s += mx + log(z) - l[toks[t + 1]];
    }
    return s;
}

slm_status slmc_calib_run(slmrt_model *rm, const int32_t *ids, size_t n_ids, const slmc_calib_run_opts *o,
                          slmc_stats **out, slmc_calib_run_result *res, slm_diag *d) {
    /* BLAS calls here (the Gram updates, slmc_calib_stats.c) split their
     * work over the runtime's OpenMP threads themselves: OpenBLAS's own
     * threads would contend with those, which spin between products
     * (measured: 3x slower) */
    openblas_set_num_threads(1);
    *out = NULL;
    memset(res, 0, sizeof *res);
    if (o->n_ctx < 2) return slm_diag_set(d, SLM_ERR_USAGE, "--ctx %d: a chunk needs at least 2 tokens", o->n_ctx);
    const size_t ctx = (size_t)o->n_ctx;
    size_t usable = n_ids < o->max_tokens ? n_ids : (size_t)o->max_tokens;
    const size_t n_chunks = usable / ctx;
    if (n_chunks == 0) {
        if (n_ids < ctx)
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "%s: the data gives %zu tokens, fewer than one chunk of --ctx %d: use more data "
                                "or a smaller --ctx",
                                o->source ? o->source : "calibration data", n_ids, o->n_ctx);
        return slm_diag_set(d, SLM_ERR_USAGE, "--tokens %llu is less than one chunk of --ctx %d",
                            (unsigned long long)o->max_tokens, o->n_ctx);
    }
    if (n_chunks > INT32_MAX) return slm_diag_set(d, SLM_ERR_USAGE, "too many chunks");

    slmc_stats *s = NULL;
    slm_status st = slmc_stats_new(slmrt_model_ir(rm), o->gram, &s, d);
    if (st != SLM_OK) return st;
    s->n_ctx = (uint32_t)ctx;
    if (o->source && !(s->source = strdup(o->source))) {
        slmc_stats_free(s);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    slmrt_ctx_params cp = {.n_ctx = o->n_ctx, .n_threads = o->n_threads, .observer = slmc_stats_observe,
                           .observer_user = s, .residual = slmc_stats_residual, .residual_user = s};
    slmrt_ctx *c = NULL;
    st = slmrt_ctx_new(rm, &cp, &c, d);
    const int n_vocab = slmrt_model_n_vocab(rm);
    float *logits = st == SLM_OK ? malloc(ctx * (size_t)n_vocab * sizeof *logits) : NULL;
    int32_t *chunk = st == SLM_OK ? malloc(ctx * sizeof *chunk) : NULL;
    if (st == SLM_OK && (!logits || !chunk))
        st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for %zu x %d logits", ctx, n_vocab);
    double nll = 0, t0 = now_s();
    uint64_t n_scored = 0;
    for (size_t i = 0; i < n_chunks && st == SLM_OK; i++) {
        memcpy(chunk, ids + i * ctx, ctx * sizeof *chunk);
        if (o->bos >= 0) chunk[0] = o->bos; /* as llama-imatrix: every chunk starts with BOS */
        slmrt_ctx_reset(c);
        s->chunk = (int32_t)i + 1;
        st = slmrt_eval(c, chunk, (int)ctx, 0, logits, true, d);
        if (st == SLM_OK && s->err.status != SLM_OK) st = slm_diag_set(d, s->err.status, "%s", s->err.msg);
        if (st != SLM_OK) break;
        const int first = (int)ctx / 2;
        nll += nll_sum(logits, chunk, first, (int)ctx, n_vocab);
        n_scored += ctx - 1 - (size_t)first;
        s->n_chunks = (uint32_t)(i + 1);
        s->n_tokens += ctx;
        if (o->progress) o->progress(o->progress_ctx, (int)i + 1, (int)n_chunks, s->n_tokens);
    }
    res->seconds = now_s() - t0;
    free(logits);
    free(chunk);
    slmrt_ctx_free(c);
    if (st != SLM_OK) {
        slmc_stats_free(s);
        return st;
    }
    res->n_chunks = (int)s->n_chunks;
    res->n_tokens = s->n_tokens;
    res->ppl = n_scored ? exp(nll / (double)n_scored) : 0;
    slmc_stats_finish(s);
    *out = s;
    return SLM_OK;
}

slm_status slmc_calib_run_data(slm_model *m, const char *data, const slmc_calib_data_opts *dopt,
                               const slmc_calib_run_opts *o, slmc_stats **out, slmc_calib_run_result *res,
                               slmc_calib_data_info *dinfo, slm_diag *d) {
    slmrt_model *rm = NULL;
    slmrt_tok *tk = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    slmc_calib_data_info info_local;
    *out = NULL;
    memset(res, 0, sizeof *res);
    slm_status st = slmrt_model_from_ir(m, &rm, d);
    if (st == SLM_OK) st = slmrt_tok_new(&m->tok, &tk, d);
    if (st == SLM_OK) st = slmc_calib_data_read(data, dopt, tk, &ids, &n_ids, dinfo ? dinfo : &info_local, d);
    if (st == SLM_OK) {
        slmc_calib_run_opts ro = *o;
        ro.bos = slmrt_tok_bos(tk);
        if (!ro.source) ro.source = data;
        st = slmc_calib_run(rm, ids, n_ids, &ro, out, res, d);
    }
    free(ids);
    slmrt_tok_free(tk);
    slmrt_model_free(rm);
    return st;
}
