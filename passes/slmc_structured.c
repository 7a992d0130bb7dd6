/* slmc_structured.c - see slmc_structured.h. */
#include "slmc_structured.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_rng.h"

/* ------------------------------------------------------------ loading */

/* A tensor made of some rows (axis 1) or columns (axis 0) of a source. */
typedef struct gather {
    slm_tensor source;
    int axis;
    int64_t *keep; /* sorted source indices */
    int64_t n_keep;
} gather;

static slm_status load_gathered(void *ctx, const slm_tensor *t, void *dst, slm_diag *d) {
    gather *g = ctx;
    slm_tensor *src = &g->source;
    slm_status st = slm_tensor_acquire(src, d);
    if (st != SLM_OK) return st;
    const int64_t n_src = src->ne[0], rows_src = slm_tensor_nrows(src);
    if (g->axis == 1) { /* rows: bytes as they are */
        const size_t rs = slm_type_row_size(src->type, n_src);
        for (int64_t k = 0; k < g->n_keep; k++)
            memcpy((char *)dst + (size_t)k * rs, (const char *)src->data + (size_t)g->keep[k] * rs, rs);
    } else { /* columns: through f32 */
        const slm_type_traits *out = slm_type_traits_get(t->type);
        const size_t rs_out = slm_type_row_size(t->type, t->ne[0]);
        float *row = malloc(sizeof(float) * (size_t)n_src), *kept = malloc(sizeof(float) * (size_t)g->n_keep);
        if (!row || !kept) st = slm_diag_set(d, SLM_ERR_NOMEM, "tensor '%s': out of memory", t->name);
        for (int64_t r = 0; r < rows_src && st == SLM_OK; r++) {
            st = slm_tensor_rows_f32(src, r, 1, row, d);
            for (int64_t k = 0; k < g->n_keep; k++) kept[k] = row[g->keep[k]];
            if (st == SLM_OK) out->from_f32(kept, (char *)dst + (size_t)r * rs_out, g->n_keep);
        }
        free(row);
        free(kept);
    }
    slm_tensor_release(src);
    slm_tensor_evict(src);
    return st;
}

/* Makes t the gather of `keep` along axis (0: columns, 1: rows). */
static slm_status regather(slm_model *m, slm_tensor *t, int axis, const int64_t *keep, int64_t n_keep, slm_diag *d) {
    gather *g = slm_model_alloc(m, sizeof *g);
    int64_t *idx = slm_model_alloc(m, sizeof(int64_t) * (size_t)n_keep);
    if (!g || !idx) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    memcpy(idx, keep, sizeof(int64_t) * (size_t)n_keep);
    g->source = *t;
    g->source.owned = NULL;
    g->source.loaded = NULL;
    g->source.encode = NULL;
    g->axis = axis;
    g->keep = idx;
    g->n_keep = n_keep;
    slm_type type = t->type;
    /* a quantized row cannot lose columns inside its blocks */
    if (axis == 0 && slm_type_is_quantized(type)) type = SLM_TYPE_F32;
    t->ne[axis] = n_keep;
    t->type = type;
    t->nbytes = slm_type_row_size(type, t->ne[0]) * (size_t)slm_tensor_nrows(t);
    t->data = NULL;
    t->src = NULL;
    t->permute_heads = 0;
    t->load = load_gathered;
    t->load_ctx = g;
    return SLM_OK;
}

static slm_tensor *layer_tensor(slm_model *m, uint32_t l, const char *part) {
    char name[SLM_MAX_NAME];
    snprintf(name, sizeof name, "blk.%u.%s", l, part);
    return slm_model_find_tensor(m, name);
}

/* --------------------------------------------------------- statistics */

/* Keeps only the input channels `keep` of a weight's statistics. */
static void slice_entry(slmc_stats_entry *e, const int64_t *keep, int64_t k) {
    const int64_t n = e->n_in;
    for (int64_t i = 0; i < k; i++) {
        e->sum_x2[i] = e->sum_x2[keep[i]];
        e->max_abs[i] = e->max_abs[keep[i]];
        if (e->importance) e->importance[i] = e->importance[keep[i]];
    }
    if (e->gram) {
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++) e->gram[i * k + j] = e->gram[keep[i] * n + keep[j]];
    }
    e->n_in = (int32_t)k;
}

/* ---------------------------------------------------------- choosing */

typedef struct ranked {
    double score;
    int64_t index;
} ranked;

/* Higher score first; ties to the lower index. */
static int ranked_cmp(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : 1;
}

static int index_cmp(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The k best of n scores, as sorted indices into keep[]. */
static void best_k(ranked *r, int64_t n, int64_t k, int64_t *keep) {
    qsort(r, (size_t)n, sizeof *r, ranked_cmp);
    for (int64_t i = 0; i < k; i++) keep[i] = r[i].index;
    qsort(keep, (size_t)k, sizeof *keep, index_cmp);
}

static slm_status resolve(const char *what, slmc_unit_target t, int64_t current, int64_t *out, slm_diag *d) {
    if (t.value == 0) return *out = current, SLM_OK;
    const int64_t k = t.value < 1 ? (int64_t)floor(t.value * (double)current + 0.5) : (int64_t)t.value;
    if (k < 1 || k > current)
        return slm_diag_set(d, SLM_ERR_USAGE, "--%s %g: expected 1 to %lld (the model has %lld), or a fraction in "
                            "(0, 1)", what, t.value, (long long)current, (long long)current);
    *out = k;
    return SLM_OK;
}

/* Input-channel statistics of a layer's weight, required for activation
 * importance. */
static slm_status stats_of(const slmc_stats *s, slm_tensor *t, slmc_stats_entry **e, slm_diag *d) {
    *e = s ? (slmc_stats_entry *)slmc_stats_find(s, t->name) : NULL;
    if (s && (!*e || (*e)->n_in != t->ne[0]))
        return slm_diag_set(d, SLM_ERR_INPUT, "structured pruning: the statistics have %s for tensor '%s'",
                            *e ? "an entry of another size" : "no entry", t->name);
    return SLM_OK;
}

static slm_status prune_ffn(slm_model *m, int64_t k, const slmc_structured_opts *o, slmc_stats *stats, slm_diag *d) {
    const int64_t n_ff = m->hp.n_ff;
    ranked *r = malloc(sizeof(ranked) * (size_t)n_ff);
    int64_t *keep = malloc(sizeof(int64_t) * (size_t)k);
    uint64_t rng = o->seed;
    slm_status st = r && keep ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (uint32_t l = 0; l < m->hp.n_layer && st == SLM_OK; l++) {
        slm_tensor *gate = layer_tensor(m, l, "ffn_gate.weight"), *up = layer_tensor(m, l, "ffn_up.weight"),
                   *down = layer_tensor(m, l, "ffn_down.weight");
        if (!gate || !up || !down) {
            st = slm_diag_set(d, SLM_ERR_INPUT, "layer %u: ffn_gate/ffn_up/ffn_down missing", l);
            break;
        }
        slmc_stats_entry *e = NULL;
        if (o->importance == SLMC_IMPORTANCE_ACTIVATION && (st = stats_of(stats, down, &e, d)) != SLM_OK) break;
        for (int64_t i = 0; i < n_ff; i++)
            r[i] = (ranked){o->importance == SLMC_IMPORTANCE_RANDOM ? (double)slmc_rng_next(&rng) : e->sum_x2[i], i};
        best_k(r, n_ff, k, keep);
        st = regather(m, gate, 1, keep, k, d);
        if (st == SLM_OK) st = regather(m, up, 1, keep, k, d);
        if (st == SLM_OK) st = regather(m, down, 0, keep, k, d);
        if (st == SLM_OK && stats) {
            slmc_stats_entry *sd = (slmc_stats_entry *)slmc_stats_find(stats, down->name);
            if (sd) slice_entry(sd, keep, k);
        }
    }
    if (st == SLM_OK) m->hp.n_ff = (uint32_t)k;
    free(r);
    free(keep);
    return st;
}

/* Heads kept per layer: query heads `q_keep` (n_q sorted), KV heads kv_keep. */
static slm_status prune_heads(slm_model *m, int64_t h_new, const slmc_structured_opts *o, slmc_stats *stats,
                              slm_diag *d) {
    const int64_t n_head = m->hp.n_head;
    const int64_t n_kv = (m->hp.has & SLM_HP_HEAD_COUNT_KV) ? m->hp.n_head_kv : n_head;
    const int64_t n_rep = n_head / n_kv, hd = slm_hparams_head_dim(&m->hp);
    /* shrink every group, or drop whole groups */
    const bool shrink = h_new % n_kv == 0 && h_new / n_kv <= n_rep && n_rep > 1;
    if (!shrink && h_new % n_rep)
        return slm_diag_set(d, SLM_ERR_USAGE, "--heads %lld: not divisible by the KV groups (%lld KV heads of %lld "
                            "query heads each): keep a multiple of %lld, or of %lld to drop whole groups",
                            (long long)h_new, (long long)n_kv, (long long)n_rep, (long long)n_kv, (long long)n_rep);
    const int64_t kv_new = shrink ? n_kv : h_new / n_rep;
    ranked *r = malloc(sizeof(ranked) * (size_t)n_head);
    int64_t *qh = malloc(sizeof(int64_t) * (size_t)n_head), *kvh = malloc(sizeof(int64_t) * (size_t)n_kv);
    int64_t *qrows = malloc(sizeof(int64_t) * (size_t)(n_head * hd)), *kvrows = malloc(sizeof(int64_t) * (size_t)(n_kv * hd));
    uint64_t rng = o->seed;
    slm_status st = r && qh && kvh && qrows && kvrows ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (uint32_t l = 0; l < m->hp.n_layer && st == SLM_OK; l++) {
        slm_tensor *q = layer_tensor(m, l, "attn_q.weight"), *k = layer_tensor(m, l, "attn_k.weight"),
                   *v = layer_tensor(m, l, "attn_v.weight"), *out = layer_tensor(m, l, "attn_output.weight");
        if (!q || !k || !v || !out) {
            st = slm_diag_set(d, SLM_ERR_INPUT, "layer %u: attn_q/k/v/output missing", l);
            break;
        }
        slmc_stats_entry *e = NULL;
        if (o->importance == SLMC_IMPORTANCE_ACTIVATION && (st = stats_of(stats, out, &e, d)) != SLM_OK) break;
        double score[1024];
        for (int64_t h = 0; h < n_head; h++) {
            double s = 0;
            if (e)
                for (int64_t c = h * hd; c < (h + 1) * hd; c++) s += e->sum_x2[c];
            score[h] = o->importance == SLMC_IMPORTANCE_RANDOM ? (double)slmc_rng_next(&rng) : s;
        }
        int64_t nq = 0;
        if (shrink) {
            const int64_t per = h_new / n_kv;
            for (int64_t g = 0; g < n_kv; g++) {
                for (int64_t i = 0; i < n_rep; i++) r[i] = (ranked){score[g * n_rep + i], g * n_rep + i};
                best_k(r, n_rep, per, qh + nq);
                nq += per;
            }
            for (int64_t g = 0; g < n_kv; g++) kvh[g] = g;
        } else {
            for (int64_t g = 0; g < n_kv; g++) {
                double s = 0;
                for (int64_t i = 0; i < n_rep; i++) s += score[g * n_rep + i];
                r[g] = (ranked){s, g};
            }
            best_k(r, n_kv, kv_new, kvh);
            for (int64_t g = 0; g < kv_new; g++)
                for (int64_t i = 0; i < n_rep; i++) qh[nq++] = kvh[g] * n_rep + i;
        }
        for (int64_t i = 0; i < nq; i++)
            for (int64_t c = 0; c < hd; c++) qrows[i * hd + c] = qh[i] * hd + c;
        for (int64_t i = 0; i < kv_new; i++)
            for (int64_t c = 0; c < hd; c++) kvrows[i * hd + c] = kvh[i] * hd + c;
        st = regather(m, q, 1, qrows, nq * hd, d);
        if (st == SLM_OK && !shrink) st = regather(m, k, 1, kvrows, kv_new * hd, d);
        if (st == SLM_OK && !shrink) st = regather(m, v, 1, kvrows, kv_new * hd, d);
        if (st == SLM_OK) st = regather(m, out, 0, qrows, nq * hd, d);
        if (st == SLM_OK && stats) {
            slmc_stats_entry *so = (slmc_stats_entry *)slmc_stats_find(stats, out->name);
            if (so) slice_entry(so, qrows, nq * hd);
        }
    }
    if (st == SLM_OK) {
        m->hp.n_head = (uint32_t)h_new;
        m->hp.n_head_kv = (uint32_t)kv_new;
        m->hp.key_length = m->hp.value_length = (uint32_t)hd;
        m->hp.n_rot = (m->hp.has & SLM_HP_ROPE_DIM) ? m->hp.n_rot : (uint32_t)hd;
        m->hp.has |= SLM_HP_HEAD_COUNT_KV | SLM_HP_KEY_LENGTH | SLM_HP_VALUE_LENGTH | SLM_HP_ROPE_DIM;
    }
    free(r);
    free(qh);
    free(kvh);
    free(qrows);
    free(kvrows);
    return st;
}

/* Renames block tensors "blk.<from>.*" to "blk.<to>.*" (or drops them). */
static slm_status move_block(slm_model *m, slmc_stats *stats, uint32_t from, int64_t to, slm_diag *d) {
    char prefix[32];
    const int np = snprintf(prefix, sizeof prefix, "blk.%u.", from);
    slm_status st = SLM_OK;
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK;) {
        const slm_tensor *t = &m->tensors[i];
        if (strncmp(t->name, prefix, (size_t)np)) {
            i++;
            continue;
        }
        char name[SLM_MAX_NAME], new_name[SLM_MAX_NAME];
        snprintf(name, sizeof name, "%s", t->name);
        if (to < 0) {
            slm_model_remove_tensor(m, name); /* the next tensor moves into slot i */
        } else {
            snprintf(new_name, sizeof new_name, "blk.%lld.%s", (long long)to, name + np);
            st = slm_model_rename_tensor(m, name, new_name, d);
            i++;
        }
    }
    for (uint32_t i = 0; stats && i < stats->n_entries; i++) {
        slmc_stats_entry *e = &stats->entries[i];
        if (strncmp(e->name, prefix, (size_t)np)) continue;
        if (to < 0) e->name[0] = '\0'; /* dropped below */
        else {
            char rest[SLM_MAX_NAME];
            snprintf(rest, sizeof rest, "%s", e->name + np);
            snprintf(e->name, sizeof e->name, "blk.%lld.%s", (long long)to, rest);
        }
    }
    return st;
}

static slm_status prune_layers(slm_model *m, int64_t k, const slmc_structured_opts *o, slmc_stats *stats,
                               slm_diag *d) {
    const uint32_t n = m->hp.n_layer;
    if (o->importance == SLMC_IMPORTANCE_ACTIVATION && (!stats || stats->n_block != n || !stats->block_tokens))
        return slm_diag_set(d, SLM_ERR_INPUT, "--layers: the statistics hold no Block Influence for this model's %u "
                            "blocks: collect them again with this version of slmc calibrate", n);
    ranked *r = malloc(sizeof(ranked) * n);
    int64_t *keep = malloc(sizeof(int64_t) * n);
    char *kept = calloc(n, 1);
    uint64_t rng = o->seed;
    slm_status st = r && keep && kept ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (uint32_t l = 0; l < n && st == SLM_OK; l++)
        r[l] = (ranked){o->importance == SLMC_IMPORTANCE_RANDOM ? (double)slmc_rng_next(&rng)
                                                                 : slmc_stats_block_influence(stats, l),
                        l};
    if (st == SLM_OK) best_k(r, n, k, keep);
    for (int64_t i = 0; st == SLM_OK && i < k; i++) kept[keep[i]] = 1;
    for (uint32_t l = 0; l < n && st == SLM_OK; l++)
        if (!kept[l]) st = move_block(m, stats, l, -1, d);
    for (int64_t i = 0; i < k && st == SLM_OK; i++) st = move_block(m, stats, (uint32_t)keep[i], i, d);
    if (st == SLM_OK && stats) { /* drop the removed blocks' entries; the similarities no longer apply */
        uint32_t w = 0;
        for (uint32_t i = 0; i < stats->n_entries; i++) {
            if (stats->entries[i].name[0]) stats->entries[w++] = stats->entries[i];
            else {
                slmc_stats_entry *e = &stats->entries[i];
                free(e->sum_x2);
                free(e->max_abs);
                if (!e->gram_shared) free(e->gram);
                free(e->importance);
            }
        }
        stats->n_entries = w;
        stats->n_block = 0;
        stats->block_tokens = 0;
        stats->n_layer = (uint32_t)k;
    }
    if (st == SLM_OK) m->hp.n_layer = (uint32_t)k;
    free(r);
    free(keep);
    free(kept);
    return st;
}

/* ------------------------------------------------------------- driver */

bool slmc_unit_target_parse(const char *s, slmc_unit_target *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || (v >= 1 && v != floor(v)) || v > 1e9) return false;
    out->value = v;
    return true;
}

bool slmc_structured_wanted(const slmc_structured_opts *o) {
    return o->ffn.value != 0 || o->heads.value != 0 || o->layers.value != 0;
}

static uint64_t block_params(const slm_model *m) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (!strncmp(m->tensors[i].name, "blk.", 4) && m->tensors[i].n_dims >= 2)
            n += (uint64_t)slm_tensor_nelements(&m->tensors[i]);
    return n;
}

slm_status slmc_structured_apply(slm_model *m, const slmc_structured_opts *o, slmc_stats *stats,
                                 slmc_structured_result *res, slm_diag *d) {
    memset(res, 0, sizeof *res);
    const slm_hparams *hp = &m->hp;
    res->n_ff_before = hp->n_ff;
    res->n_head_before = hp->n_head;
    res->n_head_kv_before = (hp->has & SLM_HP_HEAD_COUNT_KV) ? hp->n_head_kv : hp->n_head;
    res->n_layer_before = hp->n_layer;
    res->params_before = block_params(m);
    if (o->importance == SLMC_IMPORTANCE_ACTIVATION && !stats)
        return slm_diag_set(d, SLM_ERR_INPUT, "structured pruning by activation importance needs statistics: pass "
                            "--calib STATS from slmc calibrate (or --importance random)");
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (!strncmp(m->tensors[i].name, "blk.", 4) && strstr(m->tensors[i].name, ".bias"))
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "structured pruning: tensor '%s': biases are not supported",
                                m->tensors[i].name);
    int64_t ffn = 0, heads = 0, layers = 0;
    slm_status st = resolve("ffn", o->ffn, hp->n_ff, &ffn, d);
    if (st == SLM_OK) st = resolve("heads", o->heads, hp->n_head, &heads, d);
    if (st == SLM_OK) st = resolve("layers", o->layers, hp->n_layer, &layers, d);
    /* layers first: their importance was measured on the whole model */
    if (st == SLM_OK && layers != hp->n_layer) st = prune_layers(m, layers, o, stats, d);
    if (st == SLM_OK && heads > 1024) st = slm_diag_set(d, SLM_ERR_UNSUPPORTED, "more than 1024 heads");
    if (st == SLM_OK && ffn != hp->n_ff) st = prune_ffn(m, ffn, o, stats, d);
    if (st == SLM_OK && heads != hp->n_head) st = prune_heads(m, heads, o, stats, d);
    if (st == SLM_OK) st = slm_model_validate(m, d);
    if (st != SLM_OK) return st;
    if (stats) stats->fingerprint = slmc_stats_fingerprint(m); /* sliced to this model now */
    res->n_ff_after = hp->n_ff;
    res->n_head_after = hp->n_head;
    res->n_head_kv_after = (hp->has & SLM_HP_HEAD_COUNT_KV) ? hp->n_head_kv : hp->n_head;
    res->n_layer_after = hp->n_layer;
    res->params_after = block_params(m);
    return SLM_OK;
}
