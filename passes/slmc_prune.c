/* slmc_prune.c - see slmc_prune.h. */
#include "slmc_prune.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_convert.h"
#include "slmc_sparsegpt.h"

bool slmc_prune_method_from_name(const char *name, slmc_prune_method *out) {
    if (!strcmp(name, "magnitude")) return *out = SLMC_PRUNE_MAGNITUDE, true;
    if (!strcmp(name, "wanda")) return *out = SLMC_PRUNE_WANDA, true;
    if (!strcmp(name, "sparsegpt")) return *out = SLMC_PRUNE_SPARSEGPT, true;
    return false;
}

const char *slmc_prune_method_name(slmc_prune_method m) {
    return m == SLMC_PRUNE_WANDA ? "wanda" : m == SLMC_PRUNE_SPARSEGPT ? "sparsegpt" : "magnitude";
}

bool slmc_prune_parse_pattern(const char *s, int *keep_n, int *group_m) {
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end != ':') return false;
    const char *ms = end + 1;
    long m = strtol(ms, &end, 10);
    if (end == ms || *end || n <= 0 || m > 64 || n >= m) return false;
    *keep_n = (int)n;
    *group_m = (int)m;
    return true;
}

bool slmc_prune_targets(const slm_tensor *t) {
    static const char *kinds[] = {".attn_q.weight",   ".attn_k.weight",   ".attn_v.weight", ".attn_output.weight",
                                  ".ffn_gate.weight", ".ffn_up.weight",   ".ffn_down.weight"};
    if (strncmp(t->name, "blk.", 4) || t->n_dims != 2) return false;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        size_t n = strlen(t->name), k = strlen(kinds[i]);
        if (n > k && !strcmp(t->name + n - k, kinds[i])) return true;
    }
    return false;
}

/* ------------------------------------------------------------ choosing */

/* A weight's score and place: the total order every selection uses. A
 * lower score is pruned first; among equal scores the later element. */
typedef struct scored {
    float score;
    uint64_t index; /* element index in the tensor */
} scored;

static inline bool prune_before(const scored *a, const scored *b) {
    if (a->score != b->score) return a->score < b->score;
    return a->index > b->index;
}

/* Rearranges v so that its k first entries are the k to prune (any order). */
static void select_lowest(scored *v, uint64_t n, uint64_t k) {
    uint64_t lo = 0, hi = n; /* the boundary k lies in [lo, hi) */
    while (hi - lo > 1 && k > lo && k < hi) {
        /* median of three as pivot, then a three-way partition */
        scored a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1], pivot;
        if (prune_before(&a, &b)) pivot = prune_before(&b, &c) ? b : (prune_before(&a, &c) ? c : a);
        else pivot = prune_before(&a, &c) ? a : (prune_before(&b, &c) ? c : b);
        uint64_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (prune_before(&v[i], &pivot)) {
                scored t = v[lt];
                v[lt++] = v[i];
                v[i++] = t;
            } else if (prune_before(&pivot, &v[i])) {
                scored t = v[--gt];
                v[gt] = v[i];
                v[i] = t;
            } else {
                i++; /* equal: the order is total, so only the pivot itself */
            }
        }
        if (k <= lt) hi = lt;
        else if (k >= gt) lo = gt;
        else return;
    }
}

static inline float score_of(const slmc_prune_tensor *pt, float w, int64_t col) {
    float s = fabsf(w);
    if (pt->col_norm) s *= pt->col_norm[col];
    return s;
}

static inline void mark(uint8_t *mask, uint64_t i) { mask[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* Prunes w (rows x n, f32) in place and fills the mask. */
static slm_status prune_matrix(slmc_prune_tensor *pt, float *w, int64_t rows, int64_t n, slm_diag *d) {
    const slmc_prune_opts *o = &pt->pass->opts;
    memset(pt->mask, 0, (size_t)((rows * n + 7) / 8));
    if (o->method == SLMC_PRUNE_SPARSEGPT) {
        slmc_sparsegpt_opts so = {.sparsity = pt->sparsity, .keep_n = o->keep_n, .group_m = o->group_m,
                                  .damp = o->damp, .n_threads = o->n_threads};
        slm_status st = slmc_sparsegpt_prune(w, rows, n, pt->gram, &so, pt->mask, d);
        if (st != SLM_OK) {
            slm_diag_prefix(d, pt->t->name);
            return st;
        }
    } else if (o->group_m > 0 || o->scope == SLMC_PRUNE_PER_ROW) {
        const int64_t unit = o->group_m > 0 ? o->group_m : n;
        const uint64_t k = o->group_m > 0 ? (uint64_t)(o->group_m - o->keep_n) : (uint64_t)floor(pt->sparsity * n);
        const int n_threads = o->n_threads > 0 ? o->n_threads : omp_get_num_procs();
        scored *all = malloc(sizeof(scored) * (size_t)n * (size_t)(rows < 64 ? rows : 64));
        if (!all) return slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory pruning", pt->t->name);
        /* rows in slices of 64, each slice's rows in parallel: the same
         * choice for any thread count */
        for (int64_t r0 = 0; r0 < rows; r0 += 64) {
            const int64_t r1 = r0 + 64 < rows ? r0 + 64 : rows;
#pragma omp parallel for num_threads(n_threads) schedule(static)
            for (int64_t r = r0; r < r1; r++) {
                scored *v = all + (size_t)(r - r0) * (size_t)n;
                for (int64_t j0 = 0; j0 < n; j0 += unit) {
                    for (int64_t j = j0; j < j0 + unit; j++)
                        v[j - j0] = (scored){score_of(pt, w[r * n + j], j), (uint64_t)(r * n + j)};
                    select_lowest(v, (uint64_t)unit, k);
                    for (uint64_t i = 0; i < k; i++) mark(pt->mask, v[i].index);
                }
            }
        }
        free(all);
    } else {
        const uint64_t total = (uint64_t)(rows * n);
        const uint64_t k = pt->quota >= 0 ? (uint64_t)pt->quota : (uint64_t)floor(pt->sparsity * (double)total);
        scored *v = malloc(sizeof(scored) * (size_t)total);
        if (!v) return slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory pruning", pt->t->name);
        for (uint64_t i = 0; i < total; i++) v[i] = (scored){score_of(pt, w[i], (int64_t)(i % (uint64_t)n)), i};
        select_lowest(v, total, k);
        for (uint64_t i = 0; i < k; i++) mark(pt->mask, v[i].index);
        free(v);
    }
    uint64_t zeros = 0;
    for (int64_t i = 0; i < rows * n; i++) {
        if (pt->mask[i >> 3] >> (i & 7) & 1) w[i] = 0.0f;
        zeros += w[i] == 0.0f;
    }
    pt->n_zero = zeros;
    pt->n_total = (uint64_t)(rows * n);
    return SLM_OK;
}

/* The tensor's new source: the old one decoded to f32, then pruned. */
static slm_status load_pruned(void *ctx, const slm_tensor *t, void *dst, slm_diag *d) {
    (void)t;
    slmc_prune_tensor *pt = ctx;
    slm_tensor *src = &pt->source;
    slm_status st = slm_tensor_acquire(src, d);
    const int64_t n = src->ne[0], rows = slm_tensor_nrows(src);
    if (st == SLM_OK) st = slm_tensor_rows_f32(src, 0, rows, dst, d);
    slm_tensor_release(src);
    slm_tensor_evict(src);
    if (st == SLM_OK) st = prune_matrix(pt, dst, rows, n, d);
    return st;
}

/* Scores are non-negative floats: their bit patterns sort like them. */
static inline uint32_t score_bits(float s) {
    uint32_t b;
    memcpy(&b, &s, sizeof b);
    return b;
}

/* Calls fn on every score of every target tensor (reading each once). */
typedef void (*score_fn)(void *ctx, uint32_t tensor, float score);
static slm_status for_each_score(slmc_prune_pass *p, score_fn fn, void *ctx, slm_diag *d) {
    for (uint32_t i = 0; i < p->n_tensors; i++) {
        slmc_prune_tensor *pt = &p->tensors[i];
        slm_tensor *src = &pt->source;
        const int64_t n = src->ne[0], rows = slm_tensor_nrows(src);
        float *w = malloc(sizeof(float) * (size_t)(n * rows));
        slm_status st = w ? slm_tensor_acquire(src, d) : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        if (st == SLM_OK) st = slm_tensor_rows_f32(src, 0, rows, w, d);
        slm_tensor_release(src);
        for (int64_t k = 0; st == SLM_OK && k < n * rows; k++) fn(ctx, i, score_of(pt, w[k], k % n));
        free(w);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

/* ------------------------------------------------------------- OWL */

static int layer_of(const char *name) { return (int)strtol(name + 4, NULL, 10); }

/* The layer-outlier ratio of layer l: the fraction of its target weights
 * whose score exceeds m times the layer's mean score. Reads each weight
 * twice (mean, then count) to keep memory at one tensor. */
/* Per layer: the mean score (pass 0), then how many exceed m times it. */
typedef struct owl_counts {
    const int *layer; /* of each target tensor */
    double m;
    int pass;
    double *sum, *count, *above;
} owl_counts;

static void owl_count(void *ctx, uint32_t t, float score) {
    owl_counts *c = ctx;
    const int l = c->layer[t];
    if (c->pass == 0) c->sum[l] += score, c->count[l]++;
    else c->above[l] += score > c->m * c->sum[l] / c->count[l];
}

/* Layer-outlier ratios (the fraction of a layer's target weights whose score
 * exceeds m times the layer's mean score), reading the weights twice. */
static slm_status outlier_ratios(slmc_prune_pass *p, uint32_t n_layer, double m, double *ratio, slm_diag *d) {
    int *layer = malloc(sizeof(int) * (p->n_tensors ? p->n_tensors : 1));
    double *buf = calloc(3 * (size_t)n_layer, sizeof(double));
    if (!layer || !buf) {
        free(layer);
        free(buf);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < p->n_tensors; i++) layer[i] = layer_of(p->tensors[i].t->name);
    owl_counts c = {layer, m, 0, buf, buf + n_layer, buf + 2 * (size_t)n_layer};
    slm_status st = for_each_score(p, owl_count, &c, d);
    c.pass = 1;
    if (st == SLM_OK) st = for_each_score(p, owl_count, &c, d);
    for (uint32_t l = 0; l < n_layer; l++) ratio[l] = c.count[l] > 0 ? c.above[l] / c.count[l] : 0;
    free(layer);
    free(buf);
    return st;
}

/* OWL's per-layer sparsities around o->sparsity. */
static slm_status owl_schedule(slmc_prune_pass *p, uint32_t n_layer, double *layer_sparsity, slm_diag *d) {
    const slmc_prune_opts *o = &p->opts;
    const double lambda = o->owl_lambda > 0 ? o->owl_lambda : 0.08, m = o->owl_m > 0 ? o->owl_m : 5;
    double lo = INFINITY, hi = -INFINITY;
    slm_status st = outlier_ratios(p, n_layer, m, layer_sparsity, d);
    if (st != SLM_OK) return st;
    for (uint32_t l = 0; l < n_layer; l++) {
        lo = fmin(lo, layer_sparsity[l]);
        hi = fmax(hi, layer_sparsity[l]);
    }
    /* keep ratio scaled to [0, 2 lambda], centred on 1 - sparsity */
    double mean = 0;
    for (uint32_t l = 0; l < n_layer; l++) {
        layer_sparsity[l] = hi > lo ? (layer_sparsity[l] - lo) / (hi - lo) * 2 * lambda : 0;
        mean += layer_sparsity[l] / n_layer;
    }
    for (uint32_t l = 0; l < n_layer; l++) {
        const double keep = layer_sparsity[l] - mean + (1 - o->sparsity);
        layer_sparsity[l] = fmin(fmax(1 - keep, 0.0), 0.99);
    }
    return SLM_OK;
}

/* ---------------------------------------------------------- global */

typedef struct global_hist {
    uint64_t *bucket; /* 65536 */
    uint32_t high;    /* pass 2: only scores with these high 16 bits */
    uint32_t threshold;
    uint64_t *below, *equal; /* per tensor: scores below / at the threshold */
} global_hist;

static void count_high(void *ctx, uint32_t t, float score) {
    (void)t;
    ((global_hist *)ctx)->bucket[score_bits(score) >> 16]++;
}
static void count_low(void *ctx, uint32_t t, float score) {
    (void)t;
    global_hist *h = ctx;
    const uint32_t bits = score_bits(score);
    if (bits >> 16 == h->high) h->bucket[bits & 0xFFFF]++;
}
static void count_tensor(void *ctx, uint32_t t, float score) {
    global_hist *h = ctx;
    const uint32_t bits = score_bits(score);
    h->below[t] += bits < h->threshold;
    h->equal[t] += bits == h->threshold;
}

/* Each tensor's quota: the k = floor(S * all) lowest scores of the model
 * (ties at the threshold to the earlier tensors), then each layer capped. */
static slm_status global_quotas(slmc_prune_pass *p, uint32_t n_layer, slm_diag *d) {
    global_hist h = {calloc(65536, sizeof(uint64_t)), 0, 0, calloc(p->n_tensors, sizeof(uint64_t)),
                     calloc(p->n_tensors, sizeof(uint64_t))};
    uint64_t total = 0;
    for (uint32_t i = 0; i < p->n_tensors; i++) total += (uint64_t)slm_tensor_nelements(p->tensors[i].t);
    const uint64_t k = (uint64_t)floor(p->opts.sparsity * (double)total);
    slm_status st = h.bucket && h.below && h.equal ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    /* the k-th lowest score's bits: high half, then low half */
    if (st == SLM_OK) st = for_each_score(p, count_high, &h, d);
    uint64_t before = 0;
    if (st == SLM_OK) {
        uint32_t b = 0;
        while (b < 65535 && before + h.bucket[b] <= k) before += h.bucket[b++];
        h.high = b;
        memset(h.bucket, 0, 65536 * sizeof(uint64_t));
        st = for_each_score(p, count_low, &h, d);
    }
    if (st == SLM_OK) {
        uint32_t b = 0;
        while (b < 65535 && before + h.bucket[b] <= k) before += h.bucket[b++];
        h.threshold = h.high << 16 | b;
        st = for_each_score(p, count_tensor, &h, d);
    }
    if (st == SLM_OK) {
        uint64_t below = 0;
        for (uint32_t i = 0; i < p->n_tensors; i++) below += h.below[i];
        uint64_t ties = k > below ? k - below : 0;
        for (uint32_t i = 0; i < p->n_tensors; i++) {
            const uint64_t take = ties < h.equal[i] ? ties : h.equal[i];
            p->tensors[i].quota = (int64_t)(h.below[i] + take);
            ties -= take;
        }
        /* the per-layer cap */
        const double cap = p->opts.max_layer_sparsity > 0 ? p->opts.max_layer_sparsity : 1.0;
        for (uint32_t l = 0; l < n_layer; l++) {
            uint64_t q = 0, size = 0;
            for (uint32_t i = 0; i < p->n_tensors; i++)
                if (layer_of(p->tensors[i].t->name) == (int)l)
                    q += (uint64_t)p->tensors[i].quota, size += (uint64_t)slm_tensor_nelements(p->tensors[i].t);
            const double limit = floor(cap * (double)size);
            if ((double)q <= limit) continue;
            for (uint32_t i = 0; i < p->n_tensors; i++)
                if (layer_of(p->tensors[i].t->name) == (int)l)
                    p->tensors[i].quota = (int64_t)floor((double)p->tensors[i].quota * limit / (double)q);
        }
    }
    free(h.bucket);
    free(h.below);
    free(h.equal);
    return st;
}

/* ---------------------------------------------------------- attaching */

static slm_status check_opts(const slmc_prune_opts *o, slm_diag *d) {
    if (o->group_m > 0) {
        if (o->keep_n <= 0 || o->keep_n >= o->group_m)
            return slm_diag_set(d, SLM_ERR_USAGE, "--pattern %d:%d: expected N:M with 0 < N < M", o->keep_n,
                                o->group_m);
        return SLM_OK;
    }
    if (!(o->sparsity >= 0 && o->sparsity < 1))
        return slm_diag_set(d, SLM_ERR_USAGE, "--sparsity %g: expected a fraction in [0, 1) (1 would remove every "
                            "weight)", o->sparsity);
    return SLM_OK;
}

slm_status slmc_prune_attach(slm_model *m, const slmc_prune_opts *o, const slmc_stats *stats, slmc_prune_pass **out,
                             slm_diag *d) {
    *out = NULL;
    slm_status st = check_opts(o, d);
    if (st != SLM_OK) return st;
    const bool wanda = o->method == SLMC_PRUNE_WANDA, sgpt = o->method == SLMC_PRUNE_SPARSEGPT;
    if (sgpt && o->group_m == 0 && o->scope != SLMC_PRUNE_PER_ROW)
        return slm_diag_set(d, SLM_ERR_USAGE, "--prune sparsegpt chooses per row (or N:M), not per tensor or globally");
    if (o->scope == SLMC_PRUNE_GLOBAL && (o->owl || o->sparsity_rules))
        return slm_diag_set(d, SLM_ERR_USAGE, "--prune-scope global sets every tensor's share itself: it does not "
                            "combine with --schedule owl or --sparsity-for");
    if ((wanda || sgpt) && !stats)
        return slm_diag_set(d, SLM_ERR_INPUT, "--prune %s needs activation statistics: pass --calib STATS from "
                            "slmc calibrate%s", slmc_prune_method_name(o->method), sgpt ? " --gram" : "");
    slmc_prune_pass *p = calloc(1, sizeof *p);
    if (p) p->tensors = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *p->tensors);
    if (!p || !p->tensors) {
        slmc_prune_pass_free(p);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    p->opts = *o;
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        slm_tensor *t = &m->tensors[i];
        if (!slmc_prune_targets(t)) continue;
        if (o->group_m > 0 && t->ne[0] % o->group_m)
            st = slm_diag_set(d, SLM_ERR_USAGE, "--pattern %d:%d: tensor '%s' has rows of %lld, not a multiple of %d",
                              o->keep_n, o->group_m, t->name, (long long)t->ne[0], o->group_m);
        const slmc_stats_entry *e = wanda || sgpt ? slmc_stats_find(stats, t->name) : NULL;
        if (st == SLM_OK && (wanda || sgpt) && (!e || e->n_in != t->ne[0]))
            st = slm_diag_set(d, SLM_ERR_INPUT, "--prune %s: the statistics have %s for tensor '%s' (%lld inputs)",
                              slmc_prune_method_name(o->method), e ? "an entry of another size" : "no entry", t->name,
                              (long long)t->ne[0]);
        if (st == SLM_OK && sgpt && !e->gram)
            st = slm_diag_set(d, SLM_ERR_INPUT, "--prune sparsegpt needs the Gram matrices of the layer inputs: "
                              "collect the statistics with slmc calibrate --gram");
        if (st != SLM_OK) break;
        slmc_prune_tensor *pt = &p->tensors[p->n_tensors];
        const uint64_t nel = (uint64_t)slm_tensor_nelements(t);
        pt->mask = calloc((size_t)((nel + 7) / 8), 1);
        if (!pt->mask) {
            st = slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory for its mask", t->name);
            break;
        }
        p->n_tensors++;
        pt->t = t;
        pt->pass = p;
        if (wanda) { /* once per column, not once per weight */
            if (!(pt->col_norm = malloc(sizeof(float) * (size_t)t->ne[0]))) {
                st = slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory", t->name);
                break;
            }
            for (int64_t j = 0; j < t->ne[0]; j++) pt->col_norm[j] = (float)sqrt(e->sum_x2[j]);
        }
        pt->gram = sgpt ? e->gram : NULL;
        /* the tensor's source moves into the pass; the model keeps owning
         * any buffer (t->owned) */
        pt->source = *t;
        pt->source.owned = NULL;
        pt->source.loaded = NULL;
        pt->source.encode = NULL;
        t->type = SLM_TYPE_F32;
        t->nbytes = (size_t)nel * sizeof(float);
        t->data = NULL;
        t->src = NULL;
        t->permute_heads = 0;
        t->load = load_pruned;
        t->load_ctx = pt;
        t->zero_mask = pt->mask;
    }
    for (uint32_t i = 0; i < p->n_tensors; i++) p->tensors[i].quota = -1;
    if (st == SLM_OK && o->group_m == 0 && o->scope == SLMC_PRUNE_GLOBAL) st = global_quotas(p, m->hp.n_layer, d);
    /* each tensor's target sparsity */
    double *layer_sparsity = NULL;
    if (st == SLM_OK && o->owl && o->group_m == 0) {
        layer_sparsity = calloc(m->hp.n_layer ? m->hp.n_layer : 1, sizeof *layer_sparsity);
        st = layer_sparsity ? owl_schedule(p, m->hp.n_layer, layer_sparsity, d)
                            : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < p->n_tensors && st == SLM_OK; i++) {
        slmc_prune_tensor *pt = &p->tensors[i];
        pt->sparsity = layer_sparsity ? layer_sparsity[layer_of(pt->t->name)] : o->sparsity;
        double v;
        if (slmc_tensor_rules_match_value(o->sparsity_rules, pt->t->name, &v)) pt->sparsity = v;
    }
    free(layer_sparsity);
    if (st != SLM_OK) {
        slmc_prune_pass_free(p);
        return st;
    }
    *out = p;
    return SLM_OK;
}

void slmc_prune_pass_free(slmc_prune_pass *p) {
    if (!p) return;
    for (uint32_t i = 0; i < p->n_tensors; i++) {
        free(p->tensors[i].mask);
        free(p->tensors[i].col_norm);
    }
    free(p->tensors);
    free(p);
}
