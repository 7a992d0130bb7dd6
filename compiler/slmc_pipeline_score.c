/* slmc_pipeline_score.c - the score step: once the artifact's tensors are
 * written (to the temporary file), the runtime loads it, scores it against
 * the teacher on the score data, and the figures go into the artifact's
 * "slmc.score" key - a JSON object padded with spaces to the length the
 * header reserved - before the file takes its final name. So the audit
 * trail holds the fidelity of exactly these bytes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_cli.h"
#include "slmc_pipeline.h"
#include "slmc_score.h"
#include "slmc_score_setup.h"

#define SCORE_KEY "slmc.score"
#define SCORE_LEN 768 /* bytes reserved for the JSON */

struct slmc_pipeline_score {
    slmc_pipeline *p;
    char json[SCORE_LEN + 1];
};

/* Only what the bytes determine: not whether the teacher came from the
 * cache, so that every run gives the same artifact. */
static char *score_json(const slmc_pipeline *p, const slmc_score_result *r) {
    const slmc_compile_args *a = p->a;
    const slmrt_kld_summary *s = &r->s;
    json_t *o = json_object();
    const char *base = strrchr(a->score_data, '/');
    json_object_set_new(o, "data", json_string(base ? base + 1 : a->score_data));
    json_object_set_new(o, "ctx", json_integer(r->chunk));
    json_object_set_new(o, "chunks", json_integer((json_int_t)r->n_chunks));
    json_object_set_new(o, "scored_tokens", json_integer((json_int_t)s->n));
    json_object_set_new(o, "kld_mean", json_real(s->kld_mean));
    json_object_set_new(o, "kld_median", json_real(s->kld_median));
    json_object_set_new(o, "kld_p90", json_real(s->kld_p90));
    json_object_set_new(o, "kld_p99", json_real(s->kld_p99));
    json_object_set_new(o, "kld_max", json_real(s->kld_max));
    json_object_set_new(o, "same_top1", json_real(s->same_top1));
    json_object_set_new(o, "mean_delta_p", json_real(s->mean_dp));
    json_object_set_new(o, "rms_delta_p", json_real(s->rms_dp));
    json_object_set_new(o, "ppl", json_real(s->ppl));
    json_object_set_new(o, "ppl_teacher", json_real(s->ppl_ref));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
    json_decref(o);
    return text;
}

static slm_status score_written(void *ctx, const char *tmp_path, slm_diag *d) {
    slmc_pipeline_score *sc = ctx;
    slmc_pipeline *p = sc->p;
    const slmc_compile_args *a = p->a;
    const double t0 = slmc_now();
    slmc_pipeline_teacher tch = {0};
    slmrt_model *trm = NULL, *srm = NULL;
    slmc_teacher *teacher = NULL;
    slm_status st = slmc_pipeline_open_teacher(p, &tch, d);
    if (st == SLM_OK) st = slmrt_model_from_ir(tch.m, &trm, d);
    if (st == SLM_OK && (st = slmrt_model_load(tmp_path, &srm, d)) != SLM_OK) slm_diag_prefix(d, "scoring the artifact");
    const char *tname = a->teacher ? a->teacher : a->input;
    if (st == SLM_OK) st = slmc_score_check_vocab(trm, tname, srm, a->output, d);
    slmc_score_setup_opts so = {.data = a->score_data, .max_tokens = (size_t)a->score_tokens,
                                .n_ctx = (int)a->score_ctx, .n_threads = a->threads, .teacher_name = tname,
                                .key_extra = tch.key_extra, .quiet = a->quiet};
    if (st == SLM_OK) st = slmc_score_setup_teacher(trm, &so, &teacher, d);
    slmc_score_result r;
    if (st == SLM_OK) st = slmc_score_student(teacher, srm, &r, d);
    char *text = st == SLM_OK ? score_json(p, &r) : NULL;
    if (st == SLM_OK && (!text || strlen(text) > SCORE_LEN))
        st = slm_diag_set(d, SLM_ERR_INTERNAL, "%s: the scores do not fit the %d bytes reserved", SCORE_KEY, SCORE_LEN);
    if (st == SLM_OK) {
        memset(sc->json, ' ', SCORE_LEN);
        memcpy(sc->json, text, strlen(text));
        const slmrt_kld_summary *s = &r.s;
        p->scored = true;
        p->score_figures = (slmc_report_scores){s->kld_mean, s->kld_median, s->kld_p90, s->kld_p99, s->kld_max,
                                                s->same_top1, s->mean_dp, s->rms_dp, s->ppl_ref, s->ppl,
                                                (uint64_t)s->n, a->score_data};
        slmc_pipeline_timed(p, "score", t0, "KLD mean %.6f, p99 %.5f, same top-1 %.2f%% over %zu tokens of %s",
                            s->kld_mean, s->kld_p99, 100 * s->same_top1, s->n, a->score_data);
    }
    free(text);
    slmc_teacher_free(teacher);
    slmrt_model_free(srm);
    slmrt_model_free(trm);
    slmc_pipeline_close_teacher(&tch);
    return st;
}

static slm_status score_fill(void *ctx, uint32_t index, char *s, size_t len, slm_diag *d) {
    const slmc_pipeline_score *sc = ctx;
    if (index != 0 || len != SCORE_LEN) return slm_diag_set(d, SLM_ERR_INTERNAL, "%s: unexpected placeholder", SCORE_KEY);
    memcpy(s, sc->json, SCORE_LEN);
    return SLM_OK;
}

slm_status slmc_pipeline_score_prepare(slmc_pipeline *p, slm_gguf_write_opts *wo, slm_diag *d) {
    if (p->a->hf)
        return slm_diag_set(d, SLM_ERR_USAGE, "the score step evaluates a GGUF artifact: leave out --format hf, or "
                            "score the folder afterwards with slmc score");
    slmc_pipeline_score *sc = calloc(1, sizeof *sc);
    if (!sc) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    sc->p = p;
    memset(sc->json, ' ', SCORE_LEN);
    p->score = sc;
    if (slm_model_set_str(p->m, SCORE_KEY, sc->json) != SLM_OK) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    wo->late[1].key = SCORE_KEY;
    wo->late[1].fill = score_fill;
    wo->late[1].ctx = sc;
    wo->written = score_written;
    wo->written_ctx = sc;
    return SLM_OK;
}

void slmc_pipeline_score_log(const slmc_pipeline *p) {
    for (int i = 0; i < p->n_timings; i++)
        if (!strcmp(p->timings[i].name, "score"))
            fprintf(stderr, "slmc: score: %s (%.2f s)\n", p->timings[i].summary, p->timings[i].seconds);
}

void slmc_pipeline_score_free(slmc_pipeline_score *s) { free(s); }
