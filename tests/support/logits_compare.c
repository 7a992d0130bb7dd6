/* logits_compare.c - see logits_compare.h. */
#include "logits_compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

void ts_logits_free(ts_logits *r) {
    free(r->tokens);
    free(r->logits);
    memset(r, 0, sizeof *r);
}

int ts_logits_read(const char *path, ts_logits *r) {
    memset(r, 0, sizeof *r);
    char *text = path ? ts_read_file(path, NULL) : NULL;
    if (!text) return -1;
    int lines = 1;
    for (char *p = text; *p; p++) lines += *p == '\n';
    r->tokens = calloc((size_t)lines, sizeof *r->tokens);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int pos, tok, used = 0;
        if (sscanf(line, "pos %d in %d logits %n", &pos, &tok, &used) != 2 || used == 0) continue;
        if (pos != r->n_pos) goto bad;
        char *s = line + used, *end;
        if (r->n_pos == 0) {
            for (char *q = s; (strtof(q, &end), end != q); q = end) r->n_vocab++;
            r->logits = malloc(sizeof(float) * (size_t)lines * (size_t)r->n_vocab);
        }
        float *row = r->logits + (size_t)r->n_pos * r->n_vocab;
        int n = 0;
        for (float v = strtof(s, &end); end != s; v = strtof(s, &end)) {
            if (n >= r->n_vocab) goto bad;
            row[n++] = v;
            s = end;
        }
        if (n != r->n_vocab) goto bad;
        r->tokens[r->n_pos++] = tok;
    }
    free(text);
    return r->n_pos > 0 ? 0 : -1;
bad:
    free(text);
    ts_logits_free(r);
    return -1;
}

ts_tol ts_tol_of_model(const slm_model *m) {
    ts_tol c = TS_TOL_F32;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (t->n_dims < 2 || t->type == SLM_TYPE_F32) continue;
        if (t->type == SLM_TYPE_F16) {
            if (c == TS_TOL_F32) c = TS_TOL_F16;
        } else if (t->type == SLM_TYPE_BF16) {
            if (c == TS_TOL_F32 || c == TS_TOL_F16) c = TS_TOL_HALF;
        } else {
            c = TS_TOL_QUANT;
        }
    }
    return c;
}

static void log_softmax(const float *x, int n, double *out) {
    double mx = x[0], s = 0;
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) s += exp(x[i] - mx);
    const double ls = log(s) + mx;
    for (int i = 0; i < n; i++) out[i] = x[i] - ls;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) b = x[i] > x[b] ? i : b;
    return b;
}

ts_logits_diff ts_logits_compare(const float *ref, const float *ours, int n_pos, int n_vocab) {
    ts_logits_diff s = {0};
    double *lp = malloc(sizeof(double) * n_vocab), *lq = malloc(sizeof(double) * n_vocab);
    int agree = 0;
    for (int p = 0; p < n_pos; p++) {
        const float *a = ref + (size_t)p * n_vocab, *b = ours + (size_t)p * n_vocab;
        for (int i = 0; i < n_vocab; i++) {
            const double dd = fabs((double)a[i] - b[i]);
            if (dd > s.max_abs || isnan(dd)) s.max_abs = isnan(dd) ? INFINITY : dd;
        }
        log_softmax(a, n_vocab, lp);
        log_softmax(b, n_vocab, lq);
        double kl = 0;
        for (int i = 0; i < n_vocab; i++) kl += exp(lp[i]) * (lp[i] - lq[i]);
        s.mean_kl += kl / n_pos;
        agree += argmax(a, n_vocab) == argmax(b, n_vocab);
    }
    s.argmax_agree = (double)agree / n_pos;
    free(lp);
    free(lq);
    return s;
}

bool ts_logits_within(ts_tol tc, ts_logits_diff s, double min_agree, const char **crit) {
    static char quant_crit[64];
    switch (tc) {
    case TS_TOL_F32: *crit = "max|d| <= 1e-3"; return s.max_abs <= 1e-3;
    case TS_TOL_F16:
    case TS_TOL_HALF: *crit = "max|d| <= 2e-2"; return s.max_abs <= 2e-2;
    default:
        snprintf(quant_crit, sizeof quant_crit, "KL <= 1e-4, argmax >= %.0f%%", 100 * min_agree);
        *crit = quant_crit;
        return s.mean_kl <= 1e-4 && s.argmax_agree >= min_agree;
    }
}
