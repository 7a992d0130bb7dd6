/* slmrt_cmd_bench.c - `slmrt bench`: prefill and decode speed on a model,
 * the weight bytes read per decoded token, the bandwidth that implies, and a
 * memory-bandwidth probe from the same run to compare it with. Prefill and
 * decode are separate runs from an empty cache, as llama-bench's pp and tg
 * tests are. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt.h"
#include "slmrt_cli.h"
#include "slmrt_cpu.h"
#include "slmrt_membw.h"

/* Every matrix is read once per decoded token; the embedding contributes one
 * row, unless it doubles as the output matrix. */
static double weight_bytes_per_token(const slm_model *m) {
    double b = 0;
    bool tied = slm_model_find_tensor(m, "output.weight") == NULL;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (strcmp(t->name, "token_embd.weight") == 0 && !tied) b += (double)t->nbytes / (double)t->ne[1];
        else b += (double)t->nbytes;
    }
    return b;
}

/* Decoded tokens between two passes of the bandwidth probe: long enough
 * (~0.1-0.5 s on a 1B model) that the probe's 512 MiB pass is a small part. */
enum { BENCH_GROUP = 8, BENCH_MAX_GROUPS = 4096 };

/* Sorts v (a handful of values) and returns its median. */
static double median(double *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            const double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int slmrt_cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"prompt", required_argument, 0, 'p'},
                                         {"n-gen", required_argument, 0, 'n'}, {"threads", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},        {"gemm", required_argument, 0, 'g'},
                                         {"help", no_argument, 0, 'h'},        {0}};
    const char *path = NULL;
    int n_prompt = 512, n_gen = 128, n_threads = 0, gemm = SLMRT_GEMM_AUTO, rc;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:p:n:t:jg:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 'p': n_prompt = atoi(optarg); break;
        case 'n': n_gen = atoi(optarg); break;
        case 't': n_threads = atoi(optarg); break;
        case 'j': json = true; break;
        case 'g':
            if ((rc = slmrt_cli_gemm_arg("bench", optarg, &gemm))) return rc;
            break;
        case 'h':
            printf("usage: slmrt bench -m M.gguf [-p 512] [-n 128] [--threads N] [--gemm own|onednn|auto] [--json]\n");
            return 0;
        default: return slmrt_cli_usage("bench", "bad option");
        }
    }
    if (!path) return slmrt_cli_usage("bench", "missing -m M.gguf");
    if (n_prompt < 1 || n_gen < 1) return slmrt_cli_usage("bench", "-p and -n must be at least 1");
    if (n_gen > BENCH_GROUP * BENCH_MAX_GROUPS)
        return slmrt_cli_usage("bench", "-n must be at most %d", BENCH_GROUP * BENCH_MAX_GROUPS);
    slm_diag d = {0};
    slmrt_model *m = NULL;
    slmrt_ctx *ctx = NULL;
    int32_t *toks = NULL;
    float *logits = NULL;
    double t_load0 = slmrt_now();
    slm_status st = slmrt_model_load(path, &m, &d);
    double t_load = slmrt_now() - t_load0;
    const int n_ctx = n_prompt > n_gen ? n_prompt : n_gen; /* prefill and decode each start empty */
    slmrt_ctx_params cp = {.n_ctx = n_ctx, .n_threads = n_threads, .gemm_backend = gemm};
    if (st == SLM_OK) st = slmrt_ctx_new(m, &cp, &ctx, &d);
    int V = st == SLM_OK ? slmrt_model_n_vocab(m) : 0;
    if (st == SLM_OK) {
        toks = malloc((size_t)(n_prompt + n_gen) * sizeof *toks);
        logits = malloc((size_t)V * sizeof *logits);
        if (!toks || !logits) st = slm_diag_set(&d, SLM_ERR_NOMEM, "out of memory");
    }
    double pp = 0, tg = 0, probe = 0, fraction = 0, frac_lo = 0, frac_hi = 0;
    int n_groups = 0;
    const double bpt = st == SLM_OK ? weight_bytes_per_token(slmrt_model_ir(m)) : 0;
    if (st == SLM_OK) {
        uint64_t x = 88172645463325252ull;
        for (int i = 0; i < n_prompt + n_gen; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            toks[i] = (int32_t)(x % (uint64_t)V);
        }
        st = slmrt_eval(ctx, toks, 1, 0, logits, false, &d); /* warm-up: fault in the weights */
        slmrt_ctx_reset(ctx);
        double t0 = slmrt_now();
        if (st == SLM_OK) st = slmrt_eval(ctx, toks, n_prompt, 0, logits, false, &d);
        pp = n_prompt / (slmrt_now() - t0);
        /* Decode from an empty cache, as llama-bench's tg test (its figures
         * are what issue 3 compares with): one token at a time, in groups,
         * each followed by a pass of the bandwidth probe: the machine's
         * bandwidth drifts, so each group is compared with the probe taken
         * right after it. */
        slmrt_ctx_reset(ctx);
        slmrt_membw *bw = st == SLM_OK ? slmrt_membw_new((size_t)512 << 20, slmrt_ctx_n_threads(ctx)) : NULL;
        if (st == SLM_OK && !bw) st = slm_diag_set(&d, SLM_ERR_NOMEM, "out of memory for the bandwidth probe");
        double ratios[BENCH_MAX_GROUPS], probes[BENCH_MAX_GROUPS], t_dec = 0;
        for (int i = 0; st == SLM_OK && i < n_gen; n_groups++) {
            const int g = n_gen - i < BENCH_GROUP ? n_gen - i : BENCH_GROUP;
            t0 = slmrt_now();
            for (int k = 0; st == SLM_OK && k < g; k++, i++)
                st = slmrt_eval(ctx, toks + n_prompt + i, 1, i, logits, false, &d);
            const double dt = slmrt_now() - t0;
            t_dec += dt;
            probes[n_groups] = slmrt_membw_read(bw);
            ratios[n_groups] = bpt * g / dt / 1e9 / probes[n_groups];
        }
        slmrt_membw_free(bw);
        if (st == SLM_OK) {
            tg = n_gen / t_dec;
            probe = median(probes, n_groups);
            fraction = median(ratios, n_groups);
            frac_lo = ratios[0], frac_hi = ratios[n_groups - 1]; /* sorted by median() */
        }
    }
    if (st == SLM_OK) {
        double achieved = bpt * tg / 1e9;
        const char *isa = slmrt_isa_name(slmrt_isa_select());
        char gemm_desc[96];
        slmrt_cli_gemm_describe(ctx, gemm_desc, sizeof gemm_desc);
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(path));
            json_object_set_new(o, "isa", json_string(isa));
            json_object_set_new(o, "gemm", json_string(slmrt_gemm_backend_name(slmrt_ctx_gemm_backend(ctx))));
            json_object_set_new(o, "gemm_impl", json_string(slmrt_ctx_gemm_impl(ctx)));
            json_object_set_new(o, "threads", json_integer(slmrt_ctx_n_threads(ctx)));
            json_object_set_new(o, "load_s", json_real(t_load));
            json_object_set_new(o, "prompt_tokens", json_integer(n_prompt));
            json_object_set_new(o, "prompt_tokens_per_s", json_real(pp));
            json_object_set_new(o, "gen_tokens", json_integer(n_gen));
            json_object_set_new(o, "gen_tokens_per_s", json_real(tg));
            json_object_set_new(o, "weight_bytes_per_token", json_real(bpt));
            json_object_set_new(o, "achieved_gb_s", json_real(achieved));
            json_object_set_new(o, "probe_gb_s", json_real(probe));
            json_object_set_new(o, "bandwidth_fraction", json_real(fraction));
            json_object_set_new(o, "bandwidth_fraction_min", json_real(frac_lo));
            json_object_set_new(o, "bandwidth_fraction_max", json_real(frac_hi));
            json_object_set_new(o, "probe_passes", json_integer(n_groups));
            json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
            json_decref(o);
        } else {
            printf("model %s, kernels %s, GEMM %s, threads %d, load %.3f s\n", path, isa, gemm_desc,
                   slmrt_ctx_n_threads(ctx), t_load);
            printf("prefill  %d tokens: %.1f tokens/s\n", n_prompt, pp);
            printf("decode   %d tokens: %.2f tokens/s\n", n_gen, tg);
            printf("weights  %.1f MB read per token -> %.1f GB/s; probe %.1f GB/s (median of %d passes, each after "
                   "%d tokens)\n",
                   bpt / 1e6, achieved, probe, n_groups, BENCH_GROUP);
            printf("of probe %.0f%% (median over the groups; range %.0f-%.0f%%)\n", 100 * fraction, 100 * frac_lo,
                   100 * frac_hi);
        }
    }
    free(toks);
    free(logits);
    slmrt_ctx_free(ctx);
    slmrt_model_free(m);
    return st == SLM_OK ? 0 : slmrt_cli_fail(&d);
}
