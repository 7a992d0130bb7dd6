/* slmc_cmd_compile.c - `slmc compile INPUT -o OUT.gguf`: read any input,
 * check it against llama.cpp's expectations, choose output types, record
 * provenance, and stream a GGUF artifact that appears only when complete. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_gguf.h"
#include "slm_open.h"
#include "slmc_cli.h"
#include "slmc_convert.h"
#include "slmc_provenance.h"

typedef struct compile_args {
    const char *input, *output, *tokenizer;
    bool has_type, quiet;
    slm_type type;
} compile_args;

static int parse_args(int argc, char **argv, compile_args *a) {
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"type", required_argument, 0, 'T'},
                                         {"tokenizer", required_argument, 0, 't'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    memset(a, 0, sizeof *a);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:T:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->output = optarg; break;
        case 't': a->tokenizer = optarg; break;
        case 'q': a->quiet = true; break;
        case 'T':
            if (!slm_type_from_name(optarg, &a->type))
                return slmc_usage_error("slmc compile", "unknown --type '%s' (expected f32, f16, bf16, q8_0 or q4_0)",
                                        optarg);
            a->has_type = true;
            break;
        case 'h':
            printf("usage: slmc compile INPUT -o OUT.gguf [--type f32|f16|bf16|q8_0|q4_0] [--tokenizer FILE] "
                   "[--quiet]\n");
            exit(0);
        default: return slmc_usage_error("slmc compile", "bad option");
        }
    }
    if (optind + 1 != argc) return slmc_usage_error("slmc compile", "expected exactly one INPUT");
    a->input = argv[optind];
    if (!a->output) return slmc_usage_error("slmc compile", "missing -o OUT.gguf");
    return 0;
}

/* Without --type every matrix keeps its type; vectors become F32 as both
 * reference converters store them. */
static void plan_keep_types(slm_model *m) {
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        const slm_type_traits *tr = slm_type_traits_get(t->type);
        t->out_type = (t->n_dims == 1 && tr && tr->to_f32) ? SLM_TYPE_F32 : t->type;
    }
}

int slmc_cmd_compile(int argc, char **argv) {
    compile_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    slm_diag d = {0};
    slm_model *m = NULL;
    slm_open_opts oo = {.tokenizer = a.tokenizer};
    if (slm_model_open(a.input, &oo, &m, &d) != SLM_OK) return slmc_fail("slmc", &d);

    slmc_convert_result conv = {0};
    slm_status st = slm_model_validate(m, &d);
    if (st != SLM_OK) slm_diag_prefix(&d, a.input);
    if (st == SLM_OK) {
        if (a.has_type) {
            st = slmc_convert_plan(m, a.type, &conv, &d);
        } else {
            plan_keep_types(m);
            conv.file_type = slmc_file_type_of(m);
        }
    }
    if (st == SLM_OK) st = slmc_provenance_record(m, a.input, argc, argv, conv.file_type, &d);
    if (st == SLM_OK) {
        for (uint32_t i = 0; i < conv.n_fallbacks && !a.quiet; i++)
            fprintf(stderr, "slmc: warning: %s: %s; stored as %s\n", conv.fallbacks[i].tensor,
                    conv.fallbacks[i].reason, slm_type_name(conv.fallbacks[i].used));
        slmc_progress prog;
        slmc_progress_init(&prog, "compile", a.quiet);
        slm_gguf_write_opts wo = {.progress = slmc_progress_update, .progress_ctx = &prog};
        double t0 = slmc_now();
        st = slm_gguf_write(m, a.output, &wo, &d);
        slmc_progress_done(&prog);
        if (st == SLM_OK && !a.quiet) {
            uint64_t bytes = 0;
            for (uint32_t i = 0; i < m->n_tensors; i++)
                bytes += slm_type_row_size(m->tensors[i].out_type, m->tensors[i].ne[0]) *
                         (uint64_t)slm_tensor_nrows(&m->tensors[i]);
            fprintf(stderr, "slmc: wrote %s: %u tensors, %.2f MiB of weights, %.2f s\n", a.output, m->n_tensors,
                    bytes / 1048576.0, slmc_now() - t0);
        }
    }
    slmc_convert_result_free(&conv);
    slm_model_free(m);
    return st == SLM_OK ? 0 : slmc_fail("slmc", &d);
}
