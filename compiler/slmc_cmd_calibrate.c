/* slmc_cmd_calibrate.c - `slmc calibrate MODEL --data FILE -o STATS`: runs
 * the model over calibration data through the runtime and writes per-weight
 * activation statistics (docs/calibration.md), or llama.cpp's legacy imatrix
 * with --format imatrix. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_open.h"
#include "slmc_calib_data.h"
#include "slmc_calib_run.h"
#include "slmc_cli.h"
#include "slmrt.h"
#include "slmrt_tokenizer.h"

int slmc_cmd_calibrate(int argc, char **argv);

#define TOOL "slmc calibrate"

typedef struct calib_args {
    const char *model, *data, *output, *tokenizer, *dataset;
    long long tokens, ctx, seed, threads;
    bool gram, quiet, imatrix;
    slmc_calib_data_format data_format;
} calib_args;

static void usage(FILE *f) {
    fprintf(f, "usage: slmc calibrate MODEL --data FILE -o STATS [--format slmc|imatrix] [--tokens N] [--ctx N]\n"
               "                      [--seed N] [--threads N] [--gram] [--data-format auto|text|jsonl|tokens|hdf5]\n"
               "                      [--dataset NAME] [--tokenizer FILE] [--quiet]\n"
               "  FILE: text, JSONL (\"text\" or chat \"messages\"), whitespace-separated token ids (.tokens),\n"
               "        any of them gzip-compressed, or an HDF5 integer dataset of ids (.h5, --dataset NAME).\n"
               "  --seed N: --tokens worth of --ctx chunks sampled from all of FILE; 0 = its first chunks.\n"
               "  Defaults: --tokens 65536 --ctx 512 --seed 1 --format slmc.\n");
}

static int parse_args(int argc, char **argv, calib_args *a) {
    enum { O_TOKENS = 256, O_CTX, O_SEED, O_GRAM, O_FORMAT, O_DATA_FORMAT, O_DATASET };
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"output", required_argument, 0, 'o'},
                                         {"tokens", required_argument, 0, O_TOKENS},
                                         {"ctx", required_argument, 0, O_CTX},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"threads", required_argument, 0, 'j'},
                                         {"gram", no_argument, 0, O_GRAM},
                                         {"format", required_argument, 0, O_FORMAT},
                                         {"data-format", required_argument, 0, O_DATA_FORMAT},
                                         {"dataset", required_argument, 0, O_DATASET},
                                         {"tokenizer", required_argument, 0, 't'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    memset(a, 0, sizeof *a);
    a->tokens = 65536;
    a->ctx = 512;
    a->seed = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:o:j:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->output = optarg; break;
        case 't': a->tokenizer = optarg; break;
        case 'q': a->quiet = true; break;
        case O_GRAM: a->gram = true; break;
        case O_DATASET: a->dataset = optarg; break;
        case O_TOKENS:
            if (!slmc_parse_int(optarg, 1, 1ll << 40, &a->tokens))
                return slmc_usage_error(TOOL, "--tokens '%s': expected a positive integer", optarg);
            break;
        case O_CTX:
            if (!slmc_parse_int(optarg, 2, 1 << 20, &a->ctx))
                return slmc_usage_error(TOOL, "--ctx '%s': expected an integer >= 2", optarg);
            break;
        case O_SEED:
            if (!slmc_parse_int(optarg, 0, INT64_MAX, &a->seed))
                return slmc_usage_error(TOOL, "--seed '%s': expected a non-negative integer", optarg);
            break;
        case 'j':
            if (!slmc_parse_int(optarg, 0, 4096, &a->threads))
                return slmc_usage_error(TOOL, "--threads '%s': expected 0..4096 (0 = all cores)", optarg);
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "imatrix")) a->imatrix = true;
            else if (strcmp(optarg, "slmc"))
                return slmc_usage_error(TOOL, "--format '%s': expected slmc or imatrix", optarg);
            break;
        case O_DATA_FORMAT:
            if (!slmc_calib_data_format_parse(optarg, &a->data_format))
                return slmc_usage_error(TOOL, "--data-format '%s': expected auto, text, jsonl, tokens or hdf5",
                                        optarg);
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return SLMC_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) return slmc_usage_error(TOOL, "expected exactly one MODEL");
    a->model = argv[optind];
    if (!a->data) return slmc_usage_error(TOOL, "missing --data FILE");
    if (!a->output) return slmc_usage_error(TOOL, "missing -o STATS");
    if (a->tokens < a->ctx)
        return slmc_usage_error(TOOL, "--tokens %lld is less than one chunk of --ctx %lld", a->tokens, a->ctx);
    return 0;
}


/* "chunk n/N, tokens/s, ETA" on a TTY, redrawn at most ~6 times a second. */
static void show_progress(void *ctx, int chunk, int n_chunks, uint64_t done) {
    slmc_progress *p = ctx;
    if (!p->enabled) return;
    double now = slmc_now();
    if (chunk < n_chunks && now - p->last_draw < 0.16) return;
    p->last_draw = now;
    double el = now - p->start, tps = el > 0 ? done / el : 0;
    double eta = chunk > 0 ? el * (n_chunks - chunk) / chunk : 0;
    fprintf(stderr, "\r\033[Kcalibrate chunk %d/%d  %.0f tokens/s  ETA %.0fs", chunk, n_chunks, tps, eta);
    fflush(stderr);
}

/* Bytes the Gram matrices will take: one n_in² double matrix per linear
 * weight (token_embd is a lookup; tied output reads it as a product). */
static double gram_bytes(const slm_model *m) {
    double b = 0;
    bool has_output = slm_model_find_tensor(m, "output.weight") != NULL;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (t->n_dims < 2) continue;
        if (!strcmp(t->name, "token_embd.weight") && has_output) continue;
        b += (double)t->ne[0] * (double)t->ne[0] * 8.0;
    }
    return b;
}

int slmc_cmd_calibrate(int argc, char **argv) {
    calib_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    slm_diag d = {0};
    slm_model *m = NULL;
    slmc_stats *stats = NULL;
    slm_open_opts oo = {.tokenizer = a.tokenizer};
    slm_status st = slm_model_open(a.model, &oo, &m, &d);
    if (st == SLM_OK && a.gram) {
        double gb = gram_bytes(m);
        if (!a.quiet || gb > (1u << 30))
            fprintf(stderr, "slmc: warning: --gram keeps an n_in x n_in double matrix per weight: %.1f MiB in memory "
                            "and in the output\n", gb / 1048576.0);
    }
    /* Read only what the run can use: whole chunks up to --tokens. */
    const uint64_t want = (uint64_t)(a.tokens / a.ctx) * (uint64_t)a.ctx;
    slmc_calib_data_opts dopt = {.format = a.data_format, .dataset = a.dataset, .max_tokens = want,
                                 .chunk = (size_t)a.ctx, .seed = (uint64_t)a.seed};
    slmc_calib_data_info dinfo = {0};
    slmc_calib_run_result res = {0};
    if (st == SLM_OK) {
        slmc_progress prog;
        slmc_progress_init(&prog, "calibrate", a.quiet);
        slmc_calib_run_opts co = {.n_ctx = (int)a.ctx, .max_tokens = (uint64_t)a.tokens, .n_threads = (int)a.threads,
                                  .gram = a.gram, .source = a.data, .progress = show_progress, .progress_ctx = &prog};
        st = slmc_calib_run_data(m, a.data, &dopt, &co, &stats, &res, &dinfo, &d);
        slmc_progress_done(&prog);
        if (st != SLM_OK && !strstr(d.msg, a.data)) slm_diag_prefix(&d, a.model);
    }
    if (st == SLM_OK && !a.quiet && dinfo.chunks_seen > dinfo.chunks_kept)
        fprintf(stderr, "slmc: %s: %llu tokens, %llu chunks of %lld; sampled %llu of them (--seed %lld)\n", a.data,
                (unsigned long long)dinfo.tokens_read, (unsigned long long)dinfo.chunks_seen, a.ctx,
                (unsigned long long)dinfo.chunks_kept, a.seed);
    if (st == SLM_OK)
        st = a.imatrix ? slmc_stats_save_imatrix(stats, a.output, &d) : slmc_stats_save(stats, a.output, &d);
    if (st == SLM_OK && !a.quiet)
        fprintf(stderr,
                "slmc: wrote %s: %u weights, %d chunks x %lld tokens = %llu tokens, %.2f s (%.1f tokens/s), "
                "ppl %.4f\n",
                a.output, stats->n_entries, res.n_chunks, a.ctx, (unsigned long long)res.n_tokens, res.seconds,
                res.seconds > 0 ? res.n_tokens / res.seconds : 0, res.ppl);
    slmc_stats_free(stats);
    slm_model_free(m);
    return st == SLM_OK ? 0 : slmc_fail("slmc", &d);
}
