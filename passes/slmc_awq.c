/* slmc_awq.c - see slmc_awq.h. */
#include "slmc_awq.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ALPHA 11 /* 0, 0.1, ..., 1 */

static slmc_awq_scaling *scaling_for(slmc_awq_plan *p, const slm_tensor *t) {
    for (uint32_t i = 0; i < p->n_scalings; i++)
        if (p->scalings[i].t == t) return &p->scalings[i];
    if (p->n_scalings == p->cap) {
        uint32_t cap = p->cap ? 2 * p->cap : 64;
        slmc_awq_scaling *s = realloc(p->scalings, cap * sizeof *s);
        if (!s) return NULL;
        p->scalings = s;
        p->cap = cap;
    }
    slmc_awq_scaling *s = &p->scalings[p->n_scalings++];
    memset(s, 0, sizeof *s);
    s->t = t;
    return s;
}

const slmc_awq_scaling *slmc_awq_scaling_of(const slmc_awq_plan *p, const slm_tensor *t) {
    if (!p) return NULL;
    for (uint32_t i = 0; i < p->n_scalings; i++)
        if (p->scalings[i].t == t) return &p->scalings[i];
    return NULL;
}

void slmc_awq_plan_free(slmc_awq_plan *p) {
    if (!p) return;
    for (uint32_t i = 0; i < p->n_scalings; i++) {
        free(p->scalings[i].in_scale);
        free(p->scalings[i].out_scale);
    }
    free(p->scalings);
    free(p->groups);
    free(p);
}

/* A matrix of the group being searched, as f32 rows with the row scaling
 * already planned for it (V's by the attn_output fold, up's by ffn_down's). */
typedef struct group_mat {
    const slm_tensor *t;
    float *w; /* rows x n */
    int64_t rows, n;
} group_mat;

static slm_status load_mat(const slmc_awq_plan *p, const slm_tensor *t, group_mat *g, slm_diag *d) {
    g->t = t;
    g->n = t->ne[0];
    g->rows = slm_tensor_nrows(t);
    g->w = malloc(sizeof(float) * (size_t)(g->n * g->rows));
    if (!g->w) return slm_diag_set(d, SLM_ERR_NOMEM, "AWQ: out of memory for %s", t->name);
    /* HF Q/K rows are permuted on acquire; GGUF data is already there */
    slm_status st = slm_tensor_acquire((slm_tensor *)t, d);
    if (st == SLM_OK) st = slm_tensor_rows_f32(t, 0, g->rows, g->w, d);
    slm_tensor_release((slm_tensor *)t);
    const slmc_awq_scaling *sc = slmc_awq_scaling_of(p, t);
    if (st == SLM_OK && sc && sc->out_scale)
        for (int64_t r = 0; r < g->rows; r++)
            for (int64_t j = 0; j < g->n; j++) g->w[r * g->n + j] /= sc->out_scale[r];
    return st;
}

/* The measure: sum over rows and channels of imp_j * (q_rj / s_j - w_rj)^2,
 * q the quantized W diag(s) rounded with importance weights imp / s^2. */
static double group_error(const group_mat *mats, int n_mats, const float *imp, const float *s, int n_threads) {
    const int64_t n = mats[0].n;
    float *imp_s = malloc(sizeof(float) * (size_t)n);
    if (!imp_s) return INFINITY;
    for (int64_t j = 0; j < n; j++) imp_s[j] = imp[j] / (s[j] * s[j]);
    /* per-row sums added in row order afterwards: the total, and the alpha
     * chosen, must not depend on the thread count */
    double err = 0;
    for (int k = 0; k < n_mats; k++) {
        const group_mat *g = &mats[k];
        const slm_type_traits *tr = slm_type_traits_get(g->t->out_type);
        const size_t rb = slm_type_row_size(g->t->out_type, n);
        double *row_err = calloc((size_t)g->rows, sizeof *row_err);
        if (!row_err) {
            free(imp_s);
            return INFINITY;
        }
#pragma omp parallel num_threads(n_threads)
        {
            float *ws = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
            uint8_t *q = malloc(rb);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < g->rows; r++) {
                if (!ws || !y || !q) {
                    row_err[r] = INFINITY;
                    continue;
                }
                const float *w = g->w + r * n;
                for (int64_t j = 0; j < n; j++) ws[j] = w[j] * s[j];
                tr->quantize_row(ws, q, n, imp_s);
                tr->to_f32(q, y, n);
                double e2 = 0;
                for (int64_t j = 0; j < n; j++) {
                    const double e = (double)y[j] / s[j] - w[j];
                    e2 += imp[j] * e * e;
                }
                row_err[r] = e2;
            }
            free(ws);
            free(y);
            free(q);
        }
        for (int64_t r = 0; r < g->rows; r++) err += row_err[r];
        free(row_err);
    }
    free(imp_s);
    return err;
}

/* Channel magnitudes of the group's input: sqrt(mean x^2), tied across the
 * query heads of a KV group for attn_output (tie = heads per KV head, hd =
 * head dim; 0: no tie). */
static void input_rms(const float *imp, int64_t n, int tie, int64_t hd, float *rms) {
    if (!tie) {
        for (int64_t j = 0; j < n; j++) rms[j] = sqrtf(imp[j]);
        return;
    }
    const int64_t group_width = tie * hd;
    for (int64_t j = 0; j < n; j++) {
        const int64_t kv = j / group_width, d = j % hd;
        double sum = 0;
        for (int h = 0; h < tie; h++) sum += imp[kv * group_width + h * hd + d];
        rms[j] = (float)sqrt(sum / tie);
    }
}

/* Searches alpha for one group and records the scalings: the matrices'
 * columns, and the producer (a norm weight's elements, or a matrix's rows,
 * given per output channel of the producer: n / tie of them). */
static slm_status search_group(slmc_awq_plan *p, slmc_stats *stats, const slm_tensor *const *ts, int n_mats,
                               const slm_tensor *producer, int tie, int64_t hd, int n_threads, slm_diag *d) {
    for (int k = 0; k < n_mats; k++)
        if (!slm_type_is_quantized(ts[k]->out_type) || !slm_type_traits_get(ts[k]->out_type)->quantize_row)
            return SLM_OK; /* not quantized: nothing to gain */
    const float *imp = slmc_stats_importance(stats, ts[0]->name);
    if (!imp) return SLM_OK; /* never active: leave it */
    group_mat mats[3] = {{0}};
    const int64_t n = ts[0]->ne[0];
    float *rms = malloc(sizeof(float) * (size_t)n), *s = malloc(sizeof(float) * (size_t)n),
          *best = malloc(sizeof(float) * (size_t)n);
    slm_status st = rms && s && best ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "AWQ: out of memory");
    for (int k = 0; k < n_mats && st == SLM_OK; k++) st = load_mat(p, ts[k], &mats[k], d);
    double best_err = INFINITY, err0 = INFINITY;
    float best_alpha = 0;
    if (st == SLM_OK) {
        input_rms(imp, n, tie, hd, rms);
        for (int a = 0; a < N_ALPHA; a++) {
            const float alpha = (float)a / (N_ALPHA - 1);
            float lo = INFINITY, hi = 0;
            for (int64_t j = 0; j < n; j++) {
                s[j] = powf(rms[j] > 1e-8f ? rms[j] : 1e-8f, alpha);
                lo = s[j] < lo ? s[j] : lo;
                hi = s[j] > hi ? s[j] : hi;
            }
            const float norm = sqrtf(lo * hi);
            for (int64_t j = 0; j < n; j++) s[j] /= norm;
            const double err = group_error(mats, n_mats, imp, s, n_threads);
            if (a == 0) err0 = err;
            if (err < best_err) {
                best_err = err;
                best_alpha = alpha;
                memcpy(best, s, sizeof(float) * (size_t)n);
            }
        }
    }
    if (st == SLM_OK && best_alpha > 0) {
        for (int k = 0; k < n_mats && st == SLM_OK; k++) {
            slmc_awq_scaling *sc = scaling_for(p, ts[k]);
            if (!sc || !(sc->in_scale = malloc(sizeof(float) * (size_t)n))) {
                st = slm_diag_set(d, SLM_ERR_NOMEM, "AWQ: out of memory");
                break;
            }
            memcpy(sc->in_scale, best, sizeof(float) * (size_t)n);
        }
        /* the producer's output channel c feeds input channel c (or, tied,
         * channels kv*tie*hd + h*hd + d for every head h of its group) */
        const int64_t n_out = tie ? n / tie : n;
        slmc_awq_scaling *sc = st == SLM_OK ? scaling_for(p, producer) : NULL;
        if (st == SLM_OK && (!sc || !(sc->out_scale = malloc(sizeof(float) * (size_t)n_out))))
            st = slm_diag_set(d, SLM_ERR_NOMEM, "AWQ: out of memory");
        for (int64_t c = 0; st == SLM_OK && c < n_out; c++)
            sc->out_scale[c] = tie ? best[(c / hd) * tie * hd + c % hd] : best[c];
    }
    if (st == SLM_OK) {
        slmc_awq_group_result *g = &p->groups[p->n_groups++];
        snprintf(g->first, sizeof g->first, "%s", ts[0]->name);
        g->alpha = best_alpha;
        g->err = best_err;
        g->err_plain = err0;
    }
    for (int k = 0; k < n_mats; k++) free(mats[k].w);
    free(rms);
    free(s);
    free(best);
    return st;
}

static const slm_tensor *find(const slm_model *m, uint32_t l, const char *part, slm_diag *d, slm_status *st) {
    char name[SLM_MAX_NAME];
    snprintf(name, sizeof name, "blk.%u.%s.weight", l, part);
    const slm_tensor *t = slm_model_find_tensor(m, name);
    if (!t && *st == SLM_OK) *st = slm_diag_set(d, SLM_ERR_INPUT, "AWQ: the model has no tensor %s", name);
    return t;
}

slm_status slmc_awq_search(const slm_model *m, slmc_stats *stats, int n_threads, slmc_awq_plan **out, slm_diag *d) {
    *out = NULL;
    if (strcmp(m->hp.arch, "llama") != 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "AWQ: architecture %s is not supported (llama is)", m->hp.arch);
    slmc_awq_plan *p = calloc(1, sizeof *p);
    if (p) p->groups = calloc((size_t)m->hp.n_layer * 4 + 1, sizeof *p->groups);
    if (!p || !p->groups) {
        slmc_awq_plan_free(p);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    if (n_threads <= 0) n_threads = omp_get_num_procs();
    const uint32_t n_head = m->hp.n_head, n_kv = m->hp.n_head_kv ? m->hp.n_head_kv : n_head;
    const int tie = n_kv ? (int)(n_head / n_kv) : 1;
    slm_status st = SLM_OK;
    for (uint32_t l = 0; l < m->hp.n_layer && st == SLM_OK; l++) {
        const slm_tensor *q = find(m, l, "attn_q", d, &st), *k = find(m, l, "attn_k", d, &st),
                         *v = find(m, l, "attn_v", d, &st), *o = find(m, l, "attn_output", d, &st),
                         *an = find(m, l, "attn_norm", d, &st), *gate = find(m, l, "ffn_gate", d, &st),
                         *up = find(m, l, "ffn_up", d, &st), *down = find(m, l, "ffn_down", d, &st),
                         *fn = find(m, l, "ffn_norm", d, &st);
        if (st != SLM_OK) break;
        const int64_t hd = (int64_t)(o->ne[0] / n_head);
        const slm_tensor *g_o[1] = {o}, *g_qkv[3] = {q, k, v}, *g_down[1] = {down}, *g_gu[2] = {gate, up};
        st = search_group(p, stats, g_o, 1, v, tie, hd, n_threads, d);
        if (st == SLM_OK) st = search_group(p, stats, g_qkv, 3, an, 0, 0, n_threads, d);
        if (st == SLM_OK) st = search_group(p, stats, g_down, 1, up, 0, 0, n_threads, d);
        if (st == SLM_OK) st = search_group(p, stats, g_gu, 2, fn, 0, 0, n_threads, d);
    }
    if (st != SLM_OK) {
        slmc_awq_plan_free(p);
        return st;
    }
    *out = p;
    return SLM_OK;
}
