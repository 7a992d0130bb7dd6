/* gemm_bench.c - prefill speed of the runtime: evaluates a prompt of
 * pseudo-random tokens in one batch (last-token logits only, as a prompt is
 * processed before generation) and reports tokens per second, the best of
 * several runs. With --check it also evaluates the same tokens one at a time
 * and prints the largest logit difference between the two.
 *
 * --gemm own|onednn picks the context's GEMM backend (slmrt.h) for that.
 *
 * --gemm TYPE runs one product instead (random weights of TYPE, n_out x n_in
 * = -M x -K, -p tokens) through the GEMM path, the matrix-vector kernels and
 * the oneDNN/OpenBLAS backend (slmrt_onednn.h), and reports multiply-adds
 * per second of each; for the last also the CPU time over the wall time,
 * which shows how many threads oneDNN or OpenBLAS really kept busy.
 *
 * Usage: gemm_bench -m M.gguf [-p 512] [-t 2] [-r 3] [--check N] [--gemm own|onednn]
 *        gemm_bench --gemm q8_0|q4_0|f16|bf16|f32 [-M 2048] [-K 2048] [-p 512] [-t 2] [-r 3] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slmrt.h"
#include "slmrt_gemm.h"
#include "slmrt_kernels.h"
#include "slmrt_onednn.h"
#include "slmrt_pool.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double t_start; /* now() at the start of main */

/* CPU time of the whole process (all threads; exact, unlike getrusage's
 * ticks on this kernel). */
static double cpu_time(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int usage(void) {
    fprintf(stderr, "usage: gemm_bench -m M.gguf [-p N_PROMPT] [-t THREADS] [-r REPEATS] [--check N] "
                    "[--gemm own|onednn]\n"
                    "       gemm_bench --gemm TYPE [-M N_OUT] [-K N_IN] [-p N_TOK] [-t THREADS] [-r REPEATS]\n");
    return 2;
}

typedef struct mv_job {
    const slmrt_type_kernels *k;
    const uint8_t *w, *x;
    size_t rs, xs;
    int n_in, n_tok;
    float *y;
    int n_out;
} mv_job;

/* The forward pass's matrix-vector loop (weight row outer, tokens inner). */
static void mv_rows(void *arg, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    const mv_job *j = arg;
    for (int64_t r = r0; r < r1; r++)
        for (int t = 0; t < j->n_tok; t++)
            j->y[(size_t)t * j->n_out + r] = j->k->dot(j->n_in, j->w + (size_t)r * j->rs, j->x + (size_t)t * j->xs);
}

static int gemm_only(const char *tname, int M, int K, int N, int n_threads, int repeats) {
    slm_type type = SLM_TYPE_COUNT;
    for (int t = 0; t < SLM_TYPE_COUNT; t++)
        if (slm_type_is_valid((slm_type)t) && strcmp(slm_type_name((slm_type)t), tname) == 0) type = (slm_type)t;
    const slmrt_kernels *kern = slmrt_kernels_best();
    const slmrt_gemm *g = slmrt_gemm_for(kern->isa);
    if (type == SLM_TYPE_COUNT || !kern->by_type[type].dot) {
        fprintf(stderr, "gemm_bench: no kernels for type %s\n", tname);
        return 1;
    }
    const slmrt_type_kernels *tk = &kern->by_type[type];
    const slmrt_gemm_type *gt = slmrt_gemm_type_for(g, type, K);
    const size_t rs = slm_type_row_size(type, K), xs = slmrt_prep_row_size(tk, K);
    uint8_t *w = malloc(rs * M), *x = aligned_alloc(64, (xs * N + 63) / 64 * 64);
    float *src = malloc(sizeof(float) * (size_t)K), *y = malloc(sizeof(float) * (size_t)M * N);
    float *xf = malloc(sizeof(float) * (size_t)K * N); /* f32 activations, for the oneDNN backend */
    uint32_t s = 1;
    for (int r = 0; r < M + N; r++) {
        for (int k = 0; k < K; k++) {
            s = s * 1664525u + 1013904223u;
            src[k] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (r < M ? 0.1f : 2.0f);
        }
        if (r < M) slm_type_traits_get(type)->from_f32(src, w + (size_t)r * rs, K);
        else {
            tk->prepare(src, x + (size_t)(r - M) * xs, K);
            memcpy(xf + (size_t)(r - M) * K, src, sizeof(float) * (size_t)K);
        }
    }
    const double macs = (double)M * K * N;
    double best_mv = 1e30, best_g = 1e30;
    for (int i = 0; i < repeats; i++) {
        mv_job j = {tk, w, x, rs, xs, K, N, y, M};
        double t0 = now();
        slmrt_parallel_for(n_threads, M, mv_rows, &j);
        double t = now() - t0;
        if (t < best_mv) best_mv = t;
    }
    printf("%s %d x %d, %d tokens, %d threads (%s): matrix-vector %.1f GMAC/s", tname, M, K, N, n_threads,
           slmrt_isa_name(kern->isa), macs / best_mv * 1e-9);
    if (gt) {
        void *act = aligned_alloc(64, (slmrt_gemm_act_bytes(gt, K, N) + 63) / 64 * 64 + 64);
        void *panels = aligned_alloc(64, slmrt_gemm_panel_bytes(gt, K) * n_threads + 64);
        for (int i = 0; i < repeats; i++) {
            double t0 = now();
            slmrt_gemm_act_fill(gt, x, xs, K, N, 0, N, act);
            slmrt_gemm_act a;
            slmrt_gemm_act_view(gt, x, xs, K, N, act, &a);
            const slmrt_gemm_weights gw = {w, rs, K, M, NULL};
            slmrt_gemm_run(gt, &gw, &a, N, y, (size_t)M, panels, n_threads);
            double t = now() - t0;
            if (t < best_g) best_g = t;
        }
        printf(", GEMM %.1f GMAC/s (%.2fx)", macs / best_g * 1e-9, best_mv / best_g);
        free(act);
        free(panels);
    } else {
        printf(", no GEMM for this type/ISA");
    }
    /* OpenBLAS's pthread workers spin for ~0.1 s after the library loads
     * (whether used or not): let that pass, or it counts as our CPU time */
    while (now() - t_start < 0.3) usleep(10000);
    slmrt_onednn *o = NULL;
    slm_diag d = {0};
    const bool f32 = type == SLM_TYPE_F32;
    if (slmrt_onednn_new(n_threads, N, K, f32, &o, &d) == SLM_OK && slmrt_onednn_takes(o, type)) {
        const slmrt_onednn_weights ow = {type, w, rs, K, M, NULL};
        double best_o = 1e30, wall = 0, cpu = 0;
        for (int i = 0; i <= repeats && d.status == SLM_OK; i++) { /* the first run creates the primitives */
            double t0 = now(), c0 = cpu_time();
            slmrt_onednn_matmul(o, &ow, xf, (size_t)K, N, y, (size_t)M, &d);
            double t = now() - t0, c = cpu_time() - c0;
            if (i == 0) continue;
            if (t < best_o) best_o = t;
            wall += t;
            cpu += c;
        }
        const double busy = cpu / wall;
        if (d.status == SLM_OK)
            printf(", %s %.1f GMAC/s (%.2fx; CPU/wall %.2f)", f32 ? "OpenBLAS" : slmrt_onednn_impl(o),
                   macs / best_o * 1e-9, best_mv / best_o, busy);
        else
            printf(", oneDNN failed: %s", d.msg);
    } else {
        printf(", no oneDNN path: %s", o ? slmrt_onednn_why_not(o, type) : d.msg);
    }
    slmrt_onednn_free(o);
    printf("\n");
    free(w);
    free(x);
    free(xf);
    free(src);
    free(y);
    return 0;
}

int main(int argc, char **argv) {
    t_start = now();
    const char *path = NULL, *gemm_type = NULL;
    slmrt_gemm_backend backend = SLMRT_GEMM_AUTO;
    int n_prompt = 512, n_threads = 2, repeats = 3, n_check = 0, M = 2048, K = 2048;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage();
        if (strcmp(a, "-m") == 0) path = v;
        else if (strcmp(a, "-p") == 0) n_prompt = atoi(v);
        else if (strcmp(a, "-t") == 0) n_threads = atoi(v);
        else if (strcmp(a, "-r") == 0) repeats = atoi(v);
        else if (strcmp(a, "--check") == 0) n_check = atoi(v);
        else if (strcmp(a, "--gemm") == 0) {
            if (!slmrt_gemm_backend_parse(v, &backend)) gemm_type = v; /* a backend, else a weight type */
        }
        else if (strcmp(a, "-M") == 0) M = atoi(v);
        else if (strcmp(a, "-K") == 0) K = atoi(v);
        else return usage();
        i++;
    }
    if (gemm_type) {
        if (M < 1 || K < 1 || n_prompt < 1 || n_threads < 1 || repeats < 1) return usage();
        return gemm_only(gemm_type, M, K, n_prompt, n_threads, repeats);
    }
    if (!path || n_prompt < 1 || n_threads < 1 || repeats < 1 || n_check < 0) return usage();
    slm_diag d = {0};
    slmrt_model *m = NULL;
    if (slmrt_model_load(path, &m, &d) != SLM_OK) {
        fprintf(stderr, "gemm_bench: %s\n", d.msg);
        return 1;
    }
    const int V = slmrt_model_n_vocab(m);
    int n_ctx = n_prompt > n_check ? n_prompt : n_check;
    slmrt_ctx_params cp = {.n_ctx = n_ctx, .n_threads = n_threads, .gemm_backend = backend};
    slmrt_ctx *c = NULL;
    if (slmrt_ctx_new(m, &cp, &c, &d) != SLM_OK) {
        fprintf(stderr, "gemm_bench: %s\n", d.msg);
        return 1;
    }
    int32_t *tok = malloc(sizeof *tok * (size_t)n_ctx);
    uint32_t s = 12345;
    for (int i = 0; i < n_ctx; i++) {
        s = s * 1664525u + 1013904223u;
        tok[i] = (int32_t)((s >> 8) % (uint32_t)V);
    }
    float *lg = malloc(sizeof(float) * (size_t)V * (size_t)(n_check > 1 ? n_check : 1));
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        slmrt_ctx_reset(c);
        double t0 = now();
        if (slmrt_eval(c, tok, n_prompt, 0, lg, false, &d) != SLM_OK) {
            fprintf(stderr, "gemm_bench: %s\n", d.msg);
            return 1;
        }
        double t = now() - t0;
        if (t < best) best = t;
        printf("run %d: %d tokens in %.3f s = %.1f tokens/s\n", r, n_prompt, t, n_prompt / t);
        fflush(stdout);
    }
    printf("prefill %d tokens, %d threads, GEMM %s%s%s: best %.1f tokens/s\n", n_prompt, n_threads,
           slmrt_gemm_backend_name(slmrt_ctx_gemm_backend(c)), *slmrt_ctx_gemm_impl(c) ? " " : "",
           slmrt_ctx_gemm_impl(c), n_prompt / best);
    if (n_check > 0) {
        float *one = malloc(sizeof(float) * (size_t)V * (size_t)n_check);
        slmrt_ctx_reset(c);
        for (int i = 0; i < n_check; i++)
            if (slmrt_eval(c, tok + i, 1, i, one + (size_t)i * V, true, &d) != SLM_OK) {
                fprintf(stderr, "gemm_bench: %s\n", d.msg);
                return 1;
            }
        slmrt_ctx_reset(c);
        if (slmrt_eval(c, tok, n_check, 0, lg, true, &d) != SLM_OK) {
            fprintf(stderr, "gemm_bench: %s\n", d.msg);
            return 1;
        }
        double mx = 0, mref = 0;
        for (size_t j = 0; j < (size_t)n_check * V; j++) {
            double dd = lg[j] - one[j];
            if (dd < 0) dd = -dd;
            if (dd > mx) mx = dd;
            double a = one[j] < 0 ? -one[j] : one[j];
            if (a > mref) mref = a;
        }
        printf("batched vs one at a time over %d tokens: max|d| %.3g (max|logit| %.3g)\n", n_check, mx, mref);
        free(one);
    }
    free(lg);
    free(tok);
    slmrt_ctx_free(c);
    slmrt_model_free(m);
    return 0;
}
