/* slmrt_sample.c - see slmrt_sample.h. */
#include "slmrt_sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void slmrt_sampler_seed(slmrt_sampler *s, uint64_t seed) { s->rng = seed * 0x9E3779B97F4A7C15ull + 1; }

static double next_uniform(slmrt_sampler *s) {
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

int32_t slmrt_argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

void slmrt_log_softmax(const float *logits, int n, double *out) {
    double mx = logits[slmrt_argmax(logits, n)], sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    for (int i = 0; i < n; i++) out[i] = (double)logits[i] - lse;
}

void slmrt_distribution_stats(const float *logits, int n, double *entropy, double *top1_prob) {
    double mx = logits[slmrt_argmax(logits, n)], sum = 0, ent = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    for (int i = 0; i < n; i++) {
        double lp = (double)logits[i] - lse;
        ent -= exp(lp) * lp;
    }
    *entropy = ent;
    *top1_prob = exp(mx - lse);
}

size_t slmrt_sample_scratch_size(int n) { return (size_t)n * (sizeof(float) * 2 + sizeof(int32_t)); }

typedef struct cand {
    float p;
    int32_t id;
} cand;

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id - y->id; /* deterministic order among ties */
}

int32_t slmrt_sample(slmrt_sampler *s, const float *logits, int n, void *scratch) {
    if (s->temp <= 0) return slmrt_argmax(logits, n);
    cand *c = scratch; /* 8 bytes per entry fits in the 12 reserved */
    float mx = logits[slmrt_argmax(logits, n)];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        c[i].p = expf((logits[i] - mx) / s->temp);
        c[i].id = i;
        sum += c[i].p;
    }
    qsort(c, (size_t)n, sizeof *c, cand_desc);
    int keep = n;
    if (s->top_k > 0 && s->top_k < keep) keep = s->top_k;
    if (s->top_p < 1.0f) {
        double acc = 0;
        for (int i = 0; i < keep; i++) {
            acc += c[i].p / sum;
            if (acc >= s->top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double total = 0;
    for (int i = 0; i < keep; i++) total += c[i].p;
    double r = next_uniform(s) * total, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += c[i].p;
        if (r < acc) return c[i].id;
    }
    return c[keep - 1].id;
}
