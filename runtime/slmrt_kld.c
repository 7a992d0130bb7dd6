/* slmrt_kld.c - see slmrt_kld.h. The arithmetic (double log-probabilities
 * logit - lse, KL summed over the vocabulary in index order) is part of the
 * contract: two callers with the same logits get the same bits. */
#include "slmrt_kld.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_sample.h"

slm_status slmrt_kld_plan_make(size_t n_ids, int n_ctx, bool short_one_chunk, const char *source,
                               slmrt_kld_plan *p, slm_diag *d) {
    memset(p, 0, sizeof *p);
    int chunk = n_ctx;
    if (short_one_chunk && n_ids < (size_t)chunk) chunk = (int)n_ids;
    size_t n_chunks = chunk >= 2 ? n_ids / (size_t)chunk : 0;
    if (n_chunks == 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: %zu tokens, need at least --ctx %d to score one chunk",
                            source ? source : "tokens", n_ids, n_ctx);
    p->chunk = chunk;
    p->n_chunks = n_chunks;
    p->first = chunk / 2;
    p->n_scored = chunk - 1 - p->first;
    return SLM_OK;
}

slm_status slmrt_kld_eval_chunk(slmrt_ctx *c, const slmrt_kld_plan *p, const int32_t *ids, size_t ci, int32_t bos,
                                float *logits, slm_diag *d) {
    int32_t *tok = malloc((size_t)p->chunk * sizeof *tok);
    if (!tok) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    memcpy(tok, ids + ci * (size_t)p->chunk, (size_t)p->chunk * sizeof *tok);
    if (bos >= 0) tok[0] = bos; /* every chunk starts with BOS */
    slmrt_ctx_reset(c);
    slm_status st = slmrt_eval(c, tok, p->chunk, 0, logits, true, d);
    free(tok);
    return st;
}

slmrt_kld_row slmrt_kld_row_of(const float *logits, int n_vocab) {
    /* slmrt_log_softmax's normaliser, so log-probabilities equal its output */
    int32_t top = slmrt_argmax(logits, n_vocab);
    double mx = logits[top], sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    return (slmrt_kld_row){logits, mx + log(sum), top};
}

slm_status slmrt_kld_init(slmrt_kld *k, int n_vocab, size_t cap, bool with_ref, slm_diag *d) {
    memset(k, 0, sizeof *k);
    k->n_vocab = n_vocab;
    if (with_ref) {
        k->kld = malloc((cap ? cap : 1) * sizeof *k->kld);
        if (!k->kld) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory (KL values of %zu positions)", cap);
        k->cap = cap;
    }
    return SLM_OK;
}

void slmrt_kld_free(slmrt_kld *k) {
    free(k->kld);
    k->kld = NULL;
    k->cap = 0;
}

double slmrt_kld_kl(const slmrt_kld_row *m, const slmrt_kld_row *ref, int n_vocab) {
    double kl = 0;
    for (int v = 0; v < n_vocab; v++) {
        const double lpr = (double)ref->logits[v] - ref->lse, lpm = (double)m->logits[v] - m->lse;
        kl += exp(lpr) * (lpr - lpm);
    }
    return kl < 0 ? 0 : kl; /* rounding can take identical rows a hair below 0 */
}

void slmrt_kld_add_kl(slmrt_kld *k, const slmrt_kld_row *m, const slmrt_kld_row *ref, int32_t target, double kl) {
    const double lpm_t = (double)m->logits[target] - m->lse;
    k->nll -= lpm_t;
    if (ref && k->n < k->cap) {
        const double lpr_t = (double)ref->logits[target] - ref->lse;
        k->nll_ref -= lpr_t;
        k->kld[k->n] = kl;
        if (m->top1 == ref->top1) k->same_top1++;
        const double dp = exp(lpm_t) - exp(lpr_t);
        k->dp_sum += dp;
        k->dp_sq += dp * dp;
    }
    k->n++;
}

void slmrt_kld_add(slmrt_kld *k, const slmrt_kld_row *m, const slmrt_kld_row *ref, int32_t target) {
    slmrt_kld_add_kl(k, m, ref, target, ref && k->n < k->cap ? slmrt_kld_kl(m, ref, k->n_vocab) : 0);
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

double slmrt_kld_percentile(const double *sorted, size_t n, double q) {
    if (!n) return 0;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

slm_status slmrt_kld_summarize(const slmrt_kld *k, slmrt_kld_summary *s, slm_diag *d) {
    memset(s, 0, sizeof *s);
    s->n = k->n;
    if (!k->n) return SLM_OK;
    const double n = (double)k->n;
    s->ppl = exp(k->nll / n);
    if (!k->kld) return SLM_OK;
    double *sorted = malloc(k->n * sizeof *sorted);
    if (!sorted) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    memcpy(sorted, k->kld, k->n * sizeof *sorted);
    qsort(sorted, k->n, sizeof *sorted, cmp_double);
    for (size_t i = 0; i < k->n; i++) s->kld_mean += k->kld[i];
    s->kld_mean /= n;
    s->ppl_ref = exp(k->nll_ref / n);
    s->kld_median = slmrt_kld_percentile(sorted, k->n, 0.5);
    s->kld_p90 = slmrt_kld_percentile(sorted, k->n, 0.9);
    s->kld_p99 = slmrt_kld_percentile(sorted, k->n, 0.99);
    s->kld_max = sorted[k->n - 1];
    s->same_top1 = (double)k->same_top1 / n;
    s->mean_dp = k->dp_sum / n;
    s->rms_dp = sqrt(k->dp_sq / n);
    free(sorted);
    return SLM_OK;
}
