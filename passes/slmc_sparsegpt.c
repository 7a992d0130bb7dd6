/* slmc_sparsegpt.c - see slmc_sparsegpt.h. The loop is GPTQ's (slmc_gptq.c)
 * with rounding replaced by pruning: within a block the corrections run
 * row by row, the columns after it get the block's errors as one sgemm. */
#include "slmc_sparsegpt.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_gptq.h"

#define BLOCK 128

typedef struct saliency {
    float s;
    int64_t j;
} saliency;

/* Lower saliency first; on ties the later column (the same rule as the
 * other scorers). */
static int saliency_cmp(const void *a, const void *b) {
    const saliency *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    return x->j > y->j ? -1 : 1;
}

static inline void mark(uint8_t *mask, uint64_t i) { mask[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static inline bool marked(const uint8_t *mask, uint64_t i) { return mask[i >> 3] >> (i & 7) & 1; }

/* Marks the k lowest-saliency columns of [j0, j1) in row r. */
static void choose(const float *wr, const float *u, int64_t n, int64_t r, int64_t j0, int64_t j1, int64_t k,
                   saliency *tmp, uint8_t *mask) {
    if (k <= 0) return;
    for (int64_t j = j0; j < j1; j++) {
        const float ujj = u[j * n + j];
        tmp[j - j0] = (saliency){wr[j] * wr[j] / (ujj * ujj), j};
    }
    qsort(tmp, (size_t)(j1 - j0), sizeof *tmp, saliency_cmp);
    for (int64_t i = 0; i < k && i < j1 - j0; i++) mark(mask, (uint64_t)(r * n + tmp[i].j));
}

slm_status slmc_sparsegpt_prune(float *w, int64_t rows, int64_t n, const double *gram, const slmc_sparsegpt_opts *o,
                                uint8_t *mask, slm_diag *d) {
    const int64_t m = o->group_m;
    if (m > 0 && (n % m || o->keep_n <= 0 || o->keep_n >= m))
        return slm_diag_set(d, SLM_ERR_USAGE, "sparsegpt: pattern %d:%lld does not fit rows of %lld", o->keep_n,
                            (long long)m, (long long)n);
    /* blocks hold whole groups */
    const int64_t block = m > 0 ? (BLOCK / m > 0 ? BLOCK / m * m : m) : BLOCK;
    const int n_threads = o->n_threads > 0 ? o->n_threads : omp_get_num_procs();
    double *h = malloc(sizeof(double) * (size_t)(n * n));
    float *u = malloc(sizeof(float) * (size_t)(n * n));
    float *err = malloc(sizeof(float) * (size_t)(rows * block));
    saliency *tmp = malloc(sizeof(saliency) * (size_t)block * (size_t)n_threads);
    slm_status st = SLM_OK;
    if (!h || !u || !err || !tmp) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "sparsegpt: out of memory for a %lld x %lld matrix", (long long)rows,
                          (long long)n);
        goto done;
    }
    memcpy(h, gram, sizeof(double) * (size_t)(n * n));
    for (int64_t j = 0; j < n; j++)
        if (h[j * n + j] == 0.0) { /* never active: nothing to keep */
            h[j * n + j] = 1.0;
            for (int64_t r = 0; r < rows; r++) w[r * n + j] = 0.0f;
        }
    double used = 0;
    st = slmc_gptq_inverse_factor(h, n, o->damp > 0 ? o->damp : 0.01, u, &used, d);
    if (st != SLM_OK) goto done;

    for (int64_t i1 = 0; i1 < n; i1 += block) {
        const int64_t i2 = i1 + block < n ? i1 + block : n;
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            float *wr = w + r * n, *er = err + r * block;
            saliency *t = tmp + (size_t)block * (size_t)omp_get_thread_num();
            if (m == 0) { /* this block's share of the row's zeros */
                const int64_t k = (int64_t)floor(o->sparsity * (double)i2) - (int64_t)floor(o->sparsity * (double)i1);
                choose(wr, u, n, r, i1, i2, k, t, mask);
            }
            for (int64_t j = i1; j < i2; j++) {
                if (m > 0 && (j - i1) % m == 0) choose(wr, u, n, r, j, j + m, m - o->keep_n, t, mask);
                const bool pruned = marked(mask, (uint64_t)(r * n + j));
                const float e = pruned ? wr[j] / u[j * n + j] : 0.0f;
                er[j - i1] = e;
                if (pruned) {
                    wr[j] = 0.0f;
                    const float *ur = u + j * n;
                    for (int64_t c = j + 1; c < i2; c++) wr[c] -= e * ur[c];
                }
            }
        }
        if (i2 < n)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)(n - i2), (int)(i2 - i1), -1.0f, err,
                        (int)block, u + i1 * n + i2, (int)n, 1.0f, w + i2, (int)n);
    }
done:
    free(h);
    free(u);
    free(err);
    free(tmp);
    return st;
}
