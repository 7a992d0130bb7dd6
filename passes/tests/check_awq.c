/* check_awq.c - AWQ's scales (slmc_awq.h) leave the float model unchanged:
 * on the golden model (GQA: 4 heads, 2 KV heads, so attn_output's scales
 * are tied across the heads of a KV group), statistics from the runtime,
 * the searched scalings applied to an f32 copy of the weights give the same
 * logits as the original, within f32 rounding; the search covers every
 * group and scales some; alpha 0 is among the candidates, so no group's
 * measure is worse than unscaled rounding. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "slmc_awq.h"
#include "slmc_calib_stats.h"
#include "slmc_convert.h"
#include "slmrt.h"
#include "test_support.h"

static float *logits_of(slm_model *m, const int32_t *toks, int n) {
    slmrt_model *rm = NULL;
    slmrt_ctx *c = NULL;
    slm_diag d = {0};
    ck_assert_msg(slmrt_model_from_ir(m, &rm, &d) == SLM_OK, "%s", d.msg);
    slmrt_ctx_params p = {.n_ctx = n, .n_threads = 2};
    ck_assert_msg(slmrt_ctx_new(rm, &p, &c, &d) == SLM_OK, "%s", d.msg);
    const int V = slmrt_model_n_vocab(rm);
    float *out = malloc(sizeof(float) * (size_t)V * n);
    ck_assert_msg(slmrt_eval(c, toks, n, 0, out, true, &d) == SLM_OK, "%s", d.msg);
    slmrt_ctx_free(c);
    slmrt_model_free(rm);
    return out;
}

START_TEST(test_scaled_model_is_the_same_function) {
    const char *path = ts_shared("golden/golden-f32.gguf");
    if (!path) return;
    slm_model *m = NULL, *scaled = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_gguf_read(path, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slm_gguf_read(path, &scaled, &d) == SLM_OK, "%s", d.msg);
    /* statistics over random tokens, as slmc calibrate collects them */
    slmc_stats *stats = NULL;
    ck_assert_int_eq(slmc_stats_new(m, false, &stats, &d), SLM_OK);
    slmrt_model *rm = NULL;
    slmrt_ctx *c = NULL;
    ck_assert_msg(slmrt_model_from_ir(m, &rm, &d) == SLM_OK, "%s", d.msg);
    slmrt_ctx_params p = {.n_ctx = 64, .n_threads = 2, .observer = slmc_stats_observe, .observer_user = stats};
    ck_assert_int_eq(slmrt_ctx_new(rm, &p, &c, &d), SLM_OK);
    int32_t toks[64];
    uint32_t s = 12345;
    float *lg = malloc(sizeof(float) * 512 * 64);
    for (int chunk = 0; chunk < 4; chunk++) {
        for (int i = 0; i < 64; i++) toks[i] = (int32_t)((s = s * 1664525u + 1013904223u) >> 8) % 512;
        slmrt_ctx_reset(c);
        ck_assert_int_eq(slmrt_eval(c, toks, 64, 0, lg, true, &d), SLM_OK);
    }
    free(lg);
    slmrt_ctx_free(c);
    slmrt_model_free(rm);
    /* the groups are searched for the matrices being quantized */
    slmc_convert_opts co;
    slmc_convert_opts_init(&co);
    co.mode = SLMC_CONVERT_PURE;
    co.type = SLM_TYPE_Q4_0;
    slmc_convert_result cr = {0};
    ck_assert_int_eq(slmc_convert_plan(m, &co, &cr, &d), SLM_OK);
    slmc_awq_plan *plan = NULL;
    ck_assert_msg(slmc_awq_search(m, stats, 2, &plan, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(plan->n_groups, 4 * m->hp.n_layer);
    int n_scaled = 0;
    for (uint32_t i = 0; i < plan->n_groups; i++) {
        const slmc_awq_group_result *g = &plan->groups[i];
        printf("%-28s alpha %.1f  measure %.4g (unscaled %.4g)\n", g->first, g->alpha, g->err, g->err_plain);
        ck_assert(g->err <= g->err_plain);
        n_scaled += g->alpha > 0;
    }
    ck_assert_int_gt(n_scaled, 0);
    /* apply the scalings to the f32 copy */
    for (uint32_t i = 0; i < plan->n_scalings; i++) {
        const slmc_awq_scaling *sc = &plan->scalings[i];
        slm_tensor *t = (slm_tensor *)slm_model_find_tensor(scaled, sc->t->name);
        ck_assert_ptr_nonnull(t);
        const int64_t n = t->ne[0], rows = slm_tensor_nrows(t);
        float *w = malloc(sizeof(float) * (size_t)(n * rows));
        ck_assert_int_eq(slm_tensor_rows_f32(t, 0, rows, w, &d), SLM_OK);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < n; j++) {
                if (sc->in_scale) w[r * n + j] *= sc->in_scale[j];
                if (sc->out_scale) w[r * n + j] /= sc->out_scale[t->n_dims == 1 ? j : r];
            }
        ck_assert_int_eq(slm_tensor_set_owned(t, SLM_TYPE_F32, w, &d), SLM_OK);
    }
    for (int i = 0; i < 64; i++) toks[i] = (int32_t)((s = s * 1664525u + 1013904223u) >> 8) % 512;
    float *a = logits_of(m, toks, 64), *b = logits_of(scaled, toks, 64);
    double worst = 0, mag = 0;
    for (int i = 0; i < 512 * 64; i++) {
        worst = fmax(worst, fabs((double)a[i] - b[i]));
        mag = fmax(mag, fabs((double)a[i]));
    }
    printf("scaled vs original logits: max |d| %.3g (max |logit| %.3g)\n", worst, mag);
    ck_assert_msg(worst <= 1e-4 * mag, "max |d| %g", worst);
    free(a);
    free(b);
    slmc_awq_plan_free(plan);
    slmc_convert_result_free(&cr);
    slmc_stats_free(stats);
    slm_model_free(m);
    slm_model_free(scaled);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("awq");
    TCase *tc = tcase_create("awq");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_scaled_model_is_the_same_function);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
