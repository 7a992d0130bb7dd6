/* slmrt_sample.h - turning logits into tokens and into numbers: softmax,
 * log-softmax, entropy, sampling (temperature, top-k, top-p) with a seeded
 * generator, so that runs are reproducible. */
#ifndef SLMRT_SAMPLE_H
#define SLMRT_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct slmrt_sampler {
    float temp;   /* 0 = greedy */
    int top_k;    /* 0 = off */
    float top_p;  /* 1 = off */
    uint64_t rng; /* state; seed with slmrt_sampler_seed */
} slmrt_sampler;

void slmrt_sampler_seed(slmrt_sampler *s, uint64_t seed);
/* Picks a token from n logits. `scratch` holds 2n floats + n ints. */
int32_t slmrt_sample(slmrt_sampler *s, const float *logits, int n, void *scratch);
/* Bytes of scratch slmrt_sample needs for n logits. */
size_t slmrt_sample_scratch_size(int n);

/* log-softmax of n logits into out (double precision sums). */
void slmrt_log_softmax(const float *logits, int n, double *out);
int32_t slmrt_argmax(const float *x, int n);
/* Entropy (nats) and top-1 probability of softmax(logits). */
void slmrt_distribution_stats(const float *logits, int n, double *entropy, double *top1_prob);

#endif
