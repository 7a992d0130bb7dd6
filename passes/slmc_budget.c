/* slmc_budget.c - see slmc_budget.h. */
#include "slmc_budget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slm_gguf.h"
#include "slm_qblock.h"
#include "slmc_convert.h"
#include "slmc_mix.h"

#define ALIGN 32
#define DP_STEPS 20000

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t padded_bytes(slm_type type, const slm_tensor *t) {
    uint64_t b = slm_type_row_size(type, t->ne[0]) * (uint64_t)slm_tensor_nrows(t);
    return (b + ALIGN - 1) / ALIGN * ALIGN;
}

static const slm_type default_types[] = {SLM_TYPE_Q2_K, SLM_TYPE_Q3_K, SLM_TYPE_IQ4_XS, SLM_TYPE_Q4_K,
                                         SLM_TYPE_Q5_K, SLM_TYPE_Q6_K, SLM_TYPE_Q8_0};

/* A matrix's candidates: each wanted type, or llama.cpp's fallback when
 * its block does not divide the rows; duplicates dropped. */
static void unit_candidates(slmc_budget_unit *u, const slmc_budget_opts *o) {
    const int n = o->n_types ? o->n_types : (int)(sizeof default_types / sizeof default_types[0]);
    const slm_type *types = o->n_types ? o->types : default_types;
    for (int k = 0; k < n && u->n < SLMC_BUDGET_MAX_TYPES; k++) {
        slm_type t = slmc_fallback_type(types[k], u->t->ne[0]);
        if (!slm_type_row_size(t, u->t->ne[0])) continue;
        bool dup = false;
        for (int j = 0; j < u->n; j++) dup |= u->type[j] == t;
        if (dup) continue;
        u->type[u->n] = t;
        u->bytes[u->n] = padded_bytes(t, u->t);
        u->n++;
    }
}

/* The matrix's values in f32 (malloc'd), decoded once per matrix and
 * rounded to each candidate type from there. */
static slm_status decode_unit(const slm_tensor *t, float **out, slm_diag *d) {
    const slm_type_traits *in = slm_type_traits_get(t->type);
    const int64_t n = slm_tensor_nelements(t);
    if (!in || !in->to_f32)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: no decoder for %s", t->name, slm_type_name(t->type));
    if (!(*out = malloc(sizeof(float) * (size_t)n))) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", t->name);
    in->to_f32(t->data, *out, n);
    return SLM_OK;
}

/* The decoded matrix f rounded to `type` as the writer would (importance
 * weights, pruned weights kept at zero) into a new buffer. */
static slm_status quantize_unit(const slm_tensor *t, const float *f, slm_type type, const float *imp, void **out,
                                slm_diag *d) {
    const slm_type_traits *tt = slm_type_traits_get(type);
    const int64_t ne0 = t->ne[0], nrows = slm_tensor_nrows(t);
    const size_t rs = slm_type_row_size(type, ne0);
    if (!tt || !tt->quantize_row)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: no encoder for %s", t->name, slm_type_name(type));
    char *dst = malloc(rs * (size_t)nrows);
    if (!dst) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", t->name);
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t r = 0; r < nrows; r++) {
        tt->quantize_row(f + r * ne0, dst + (size_t)r * rs, ne0, imp);
        if (t->zero_mask) slm_qblock_zero_masked(type, dst + (size_t)r * rs, ne0, t->zero_mask, (uint64_t)r * ne0);
    }
    *out = dst;
    return SLM_OK;
}

typedef struct saved {
    slm_type type;
    const void *data;
    size_t nbytes;
} saved;

static void swap_in(slm_tensor *t, saved *s, slm_type type, const void *data) {
    *s = (saved){t->type, t->data, t->nbytes};
    t->type = type;
    t->data = data;
    t->nbytes = slm_type_row_size(type, t->ne[0]) * (size_t)slm_tensor_nrows(t);
}

static void swap_out(slm_tensor *t, const saved *s) {
    t->type = s->type;
    t->data = s->data;
    t->nbytes = s->nbytes;
}

static const float *importance(const slmc_budget_opts *o, const slm_tensor *t) {
    const slmc_stats_entry *e = o->stats ? slmc_stats_find(o->stats, t->name) : NULL;
    return e && e->n_in == t->ne[0] ? slmc_stats_importance(o->stats, t->name) : NULL;
}

/* The real divergence with every unit at types[u]. */
static slm_status measure(slm_model *m, slmc_budget_result *r, const slmc_budget_opts *o, const slm_type *types,
                          double *kld, slm_diag *d) {
    void **bufs = calloc((size_t)r->n_units, sizeof *bufs);
    saved *sv = calloc((size_t)r->n_units, sizeof *sv);
    slm_status st = bufs && sv ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    int n = 0;
    for (; n < r->n_units && st == SLM_OK; n++) {
        slm_tensor *t = r->units[n].t;
        float *f = NULL;
        st = decode_unit(t, &f, d);
        if (st == SLM_OK) st = quantize_unit(t, f, types[n], importance(o, t), &bufs[n], d);
        free(f);
        if (st == SLM_OK) swap_in(t, &sv[n], types[n], bufs[n]);
        else break;
    }
    if (st == SLM_OK) {
        st = o->eval(o->eval_ctx, m, kld, d);
        r->n_evals++;
    }
    for (int i = n - 1; i >= 0; i--) {
        if (i < r->n_units && bufs[i]) swap_out(r->units[i].t, &sv[i]);
        free(bufs[i]);
    }
    free(bufs);
    free(sv);
    return st;
}

/* Multiple-choice knapsack over the units: choice[u] minimising the sum of
 * dkld with the sum of bytes <= capacity. False when nothing fits. */
static bool knapsack(const slmc_budget_result *r, double capacity, int *choice) {
    const int U = r->n_units, N = DP_STEPS;
    const double step = capacity / N;
    double *dp = malloc(sizeof(double) * (N + 1)), *nx = malloc(sizeof(double) * (N + 1));
    unsigned char *pick = malloc((size_t)U * (N + 1));
    bool ok = dp && nx && pick && capacity > 0;
    for (int c = 0; ok && c <= N; c++) dp[c] = 0;
    for (int u = 0; ok && u < U; u++) {
        const slmc_budget_unit *un = &r->units[u];
        int w[SLMC_BUDGET_MAX_TYPES];
        for (int k = 0; k < un->n; k++) {
            double x = ceil((double)un->bytes[k] / step);
            w[k] = x > N ? N + 1 : (int)x;
        }
        for (int c = 0; c <= N; c++) {
            double best = INFINITY;
            int bk = 0;
            for (int k = 0; k < un->n; k++)
                if (w[k] <= c && dp[c - w[k]] + un->dkld[k] < best) {
                    best = dp[c - w[k]] + un->dkld[k];
                    bk = k;
                }
            nx[c] = best;
            pick[(size_t)u * (N + 1) + c] = (unsigned char)bk;
        }
        double *tmp = dp;
        dp = nx;
        nx = tmp;
    }
    ok = ok && isfinite(dp[N]);
    for (int u = U - 1, c = N; ok && u >= 0; u--) {
        const slmc_budget_unit *un = &r->units[u];
        const int k = pick[(size_t)u * (N + 1) + c];
        choice[u] = k;
        c -= (int)ceil((double)un->bytes[k] / step);
    }
    free(dp);
    free(nx);
    free(pick);
    return ok;
}

static slm_status add_point(slmc_budget_result *r, const char *label, uint64_t bytes, double pred, double meas,
                            bool preset, slm_diag *d) {
    slmc_budget_point *p = realloc(r->points, (size_t)(r->n_points + 1) * sizeof *p);
    if (!p) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    r->points = p;
    p += r->n_points++;
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->bytes = bytes;
    p->kld_pred = pred;
    p->kld_meas = meas;
    p->is_preset = preset;
    return SLM_OK;
}

/* Predicted divergence and size of a type per unit (k index, or -1 for a
 * type that was not measured). */
static void predict(const slmc_budget_result *r, const slm_type *types, double *pred, uint64_t *bytes) {
    *pred = r->base_kld;
    *bytes = r->fixed_bytes;
    for (int u = 0; u < r->n_units; u++) {
        const slmc_budget_unit *un = &r->units[u];
        int k = -1;
        for (int j = 0; j < un->n; j++)
            if (un->type[j] == types[u]) k = j;
        *pred += k >= 0 ? un->dkld[k] : NAN;
        *bytes += padded_bytes(types[u], un->t);
    }
}

/* Step 1: one evaluation per unit and candidate. */
static slm_status sensitivities(slm_model *m, slmc_budget_result *r, const slmc_budget_opts *o, slm_diag *d) {
    int total = 0, done = 0;
    for (int u = 0; u < r->n_units; u++) total += r->units[u].n;
    slm_status st = o->eval(o->eval_ctx, m, &r->base_kld, d);
    r->n_evals++;
    for (int u = 0; u < r->n_units && st == SLM_OK; u++) {
        slmc_budget_unit *un = &r->units[u];
        const float *imp = importance(o, un->t);
        float *f = NULL;
        st = decode_unit(un->t, &f, d);
        for (int k = 0; k < un->n && st == SLM_OK; k++) {
            void *buf = NULL;
            saved sv;
            st = quantize_unit(un->t, f, un->type[k], imp, &buf, d);
            if (st != SLM_OK) break;
            swap_in(un->t, &sv, un->type[k], buf);
            double kld = 0;
            st = o->eval(o->eval_ctx, m, &kld, d);
            r->n_evals++;
            swap_out(un->t, &sv);
            free(buf);
            un->dkld[k] = kld - r->base_kld;
            if (o->progress) o->progress(o->progress_ctx, ++done, total, un->t->name);
        }
        free(f);
    }
    return st;
}

/* The presets of llama.cpp that slmc encodes, as per-unit types. */
static slm_status preset_types(slm_model *m, const slmc_mix *mix, bool has_imatrix, const slmc_budget_result *r,
                               slm_type *types, slm_diag *d) {
    slm_type *keep = malloc(sizeof *keep * (m->n_tensors ? m->n_tensors : 1));
    if (!keep) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < m->n_tensors; i++) keep[i] = m->tensors[i].out_type;
    slmc_convert_opts co;
    slmc_convert_opts_init(&co);
    co.mode = SLMC_CONVERT_MIX;
    co.mix = mix;
    co.has_imatrix = has_imatrix;
    slmc_convert_result cr = {0};
    slm_status st = slmc_convert_plan(m, &co, &cr, d);
    for (int u = 0; u < r->n_units && st == SLM_OK; u++) types[u] = r->units[u].t->out_type;
    slmc_convert_result_free(&cr);
    for (uint32_t i = 0; i < m->n_tensors; i++) m->tensors[i].out_type = keep[i];
    free(keep);
    return st;
}

static bool preset_worth_trying(const slmc_mix *mix) {
    const slm_type_traits *tt = slm_type_traits_get(mix->base);
    return tt && tt->quantize_row && slm_type_is_quantized(mix->base);
}

slm_status slmc_budget_search(slm_model *m, const slmc_budget_opts *o, slmc_budget_result *r, slm_diag *d) {
    memset(r, 0, sizeof *r);
    const double t0 = now_s();
    bool *acquired = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *acquired);
    r->units = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *r->units);
    slm_status st = acquired && r->units ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    /* every tensor held for the whole search: the evaluator reads them all */
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        slm_tensor *t = &m->tensors[i];
        if (!t->data && (st = slm_tensor_acquire(t, d)) == SLM_OK) acquired[i] = true;
        if (st == SLM_OK && slmc_is_quantizable(t)) {
            slmc_budget_unit *u = &r->units[r->n_units];
            u->t = t;
            unit_candidates(u, o);
            if (u->n) r->n_units++;
        }
    }
    uint64_t header = 0, data = 0;
    if (st == SLM_OK) st = slm_gguf_size(m, ALIGN, &header, &data, d);
    if (st == SLM_OK) {
        r->fixed_bytes = header + data + o->reserve_bytes;
        for (int u = 0; u < r->n_units; u++) r->fixed_bytes -= padded_bytes(r->units[u].t->out_type, r->units[u].t);
        r->budget_bytes = (uint64_t)o->budget_bytes;
    }
    uint64_t min_bytes = r->fixed_bytes, max_bytes = r->fixed_bytes;
    for (int u = 0; u < r->n_units; u++) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (int k = 0; k < r->units[u].n; k++) {
            lo = r->units[u].bytes[k] < lo ? r->units[u].bytes[k] : lo;
            hi = r->units[u].bytes[k] > hi ? r->units[u].bytes[k] : hi;
        }
        min_bytes += lo;
        max_bytes += hi;
    }
    if (st == SLM_OK && (double)min_bytes > o->budget_bytes)
        st = slm_diag_set(d, SLM_ERR_USAGE, "budget %.0f bytes is below the smallest file the candidate types give "
                          "(%llu bytes: %llu of it not quantizable or header)", o->budget_bytes,
                          (unsigned long long)min_bytes, (unsigned long long)r->fixed_bytes);
    if (st == SLM_OK) st = sensitivities(m, r, o, d);

    int *choice = malloc(sizeof(int) * (size_t)(r->n_units ? r->n_units : 1));
    slm_type *types = malloc(sizeof(slm_type) * (size_t)(r->n_units ? r->n_units : 1));
    slm_type *best_types = malloc(sizeof(slm_type) * (size_t)(r->n_units ? r->n_units : 1));
    if (st == SLM_OK && (!choice || !types || !best_types)) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    /* the frontier the search sees, for the report's plot */
    for (int i = 0; i <= 12 && st == SLM_OK; i++) {
        double b = (double)min_bytes + (double)(max_bytes - min_bytes) * i / 12.0;
        if (!knapsack(r, b - (double)r->fixed_bytes, choice)) continue;
        for (int u = 0; u < r->n_units; u++) types[u] = r->units[u].type[choice[u]];
        double pred;
        uint64_t bytes;
        predict(r, types, &pred, &bytes);
        st = add_point(r, "search frontier", bytes, pred, NAN, false, d);
    }
    /* the search's choice at the budget, measured */
    double best = INFINITY;
    int best_point = -1;
    if (st == SLM_OK && !knapsack(r, o->budget_bytes - (double)r->fixed_bytes, choice))
        st = slm_diag_set(d, SLM_ERR_USAGE, "budget %.0f bytes: no choice of types fits", o->budget_bytes);
    if (st == SLM_OK) {
        for (int u = 0; u < r->n_units; u++) r->units[u].choice = choice[u];
        for (int u = 0; u < r->n_units; u++) types[u] = r->units[u].type[choice[u]];
        double pred, meas = NAN;
        uint64_t bytes;
        predict(r, types, &pred, &bytes);
        st = measure(m, r, o, types, &meas, d);
        if (st == SLM_OK) st = add_point(r, "search", bytes, pred, meas, false, d);
        if (st == SLM_OK) {
            best = meas;
            best_point = r->n_points - 1;
            memcpy(best_types, types, sizeof(slm_type) * (size_t)r->n_units);
        }
    }
    /* llama.cpp's mixes: measured when they fit, predicted otherwise; mixes
     * that come out the same on this model (rows that fit no K-quant fall
     * back alike) are one point with both names */
    size_t n_mix = 0;
    const slmc_mix *mixes = slmc_mix_all(&n_mix);
    slm_type *seen = calloc(n_mix * (size_t)(r->n_units ? r->n_units : 1), sizeof *seen);
    int *seen_point = calloc(n_mix ? n_mix : 1, sizeof *seen_point);
    size_t n_seen = 0;
    if (st == SLM_OK && (!seen || !seen_point)) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_mix && st == SLM_OK; i++) {
        if (!preset_worth_trying(&mixes[i])) continue;
        st = preset_types(m, &mixes[i], o->stats != NULL, r, types, d);
        if (st != SLM_OK) break;
        size_t same = n_seen;
        for (size_t k = 0; k < n_seen && same == n_seen; k++)
            if (!memcmp(seen + k * (size_t)r->n_units, types, sizeof(slm_type) * (size_t)r->n_units)) same = k;
        if (same < n_seen) {
            slmc_budget_point *pt = &r->points[seen_point[same]];
            size_t len = strlen(pt->label);
            snprintf(pt->label + len, sizeof pt->label - len, "=%s", mixes[i].name);
            continue;
        }
        memcpy(seen + n_seen * (size_t)r->n_units, types, sizeof(slm_type) * (size_t)r->n_units);
        seen_point[n_seen++] = r->n_points;
        double pred, meas = NAN;
        uint64_t bytes;
        predict(r, types, &pred, &bytes);
        const bool fits = (double)bytes <= o->budget_bytes;
        if (fits) st = measure(m, r, o, types, &meas, d);
        char label[48];
        snprintf(label, sizeof label, "preset %s", mixes[i].name);
        if (st == SLM_OK) st = add_point(r, label, bytes, pred, meas, true, d);
        if (st == SLM_OK && fits && meas < best) {
            best = meas;
            best_point = r->n_points - 1;
            memcpy(best_types, types, sizeof(slm_type) * (size_t)r->n_units);
        }
    }
    free(seen);
    free(seen_point);
    if (st == SLM_OK && best_point >= 0) {
        r->chosen = best_point;
        r->points[best_point].chosen = true;
        for (int u = 0; u < r->n_units; u++) r->units[u].t->out_type = best_types[u];
    }
    free(choice);
    free(types);
    free(best_types);
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (acquired && acquired[i]) slm_tensor_release(&m->tensors[i]);
    free(acquired);
    r->seconds = now_s() - t0;
    return st;
}

void slmc_budget_result_free(slmc_budget_result *r) {
    if (!r) return;
    free(r->units);
    free(r->points);
    memset(r, 0, sizeof *r);
}
