/* slmrt_main.c - the slmrt command line: run, eval, tokenize, bench and
 * inspect for GGUF artifacts; cpu for what the kernels will use. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "slm_describe.h"
#include "slm_gguf.h"
#include "slmrt_cli.h"
#include "slmrt_cpu.h"

static void usage(FILE *f) {
    fprintf(f,
            "slmrt %s - runtime for slmc artifacts\n"
            "\n"
            "usage: slmrt <command> [options]\n"
            "  run -m M.gguf -p PROMPT [-n 64 --temp 0 --top-k K --top-p P --seed S --threads N --json]\n"
            "      generate text; prints speed and a confidence summary at the end\n"
            "  eval -m M.gguf (--text FILE | --tokens FILE) [--ctx 256] [--ref REF.gguf] [--json]\n"
            "       [--dump-logits FILE]\n"
            "      perplexity; with --ref, KL divergence from REF, top-1 agreement and delta-p\n"
            "  tokenize -m M.gguf (-p TEXT | --text FILE) [--no-bos]\n"
            "      token ids (works on vocabulary-only GGUFs)\n"
            "  bench -m M.gguf [-p 512 -n 128 --threads N --json]\n"
            "      prefill and decode speed, weight bytes per token, memory-bandwidth probe\n"
            "  inspect M.gguf [--json]   describe a GGUF artifact\n"
            "  cpu                       CPU features and the kernel ISA in use (SLMRT_ISA=avx2|scalar lowers it)\n"
            "\n"
            "exit codes: 0 ok, 2 usage, 3 bad input, 4 I/O error, 5 internal error\n",
            SLMC_VERSION);
}

static int cmd_inspect(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0}};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j') json = true;
        else if (c == 'h') {
            printf("usage: slmrt inspect M.gguf [--json]\n");
            return 0;
        } else {
            return slmrt_cli_usage("inspect", "bad option");
        }
    }
    if (optind + 1 != argc) return slmrt_cli_usage("inspect", "expected exactly one M.gguf");
    slm_diag d = {0};
    slm_model *m = NULL;
    if (slm_gguf_read(argv[optind], &m, &d) != SLM_OK) return slmrt_cli_fail(&d);
    slm_describe_opts o = {.path = argv[optind], .json = json};
    slm_status st = slm_model_describe(m, stdout, &o, &d);
    slm_model_free(m);
    return st == SLM_OK ? 0 : slmrt_cli_fail(&d);
}

static int cmd_cpu(void) {
    char buf[256];
    slmrt_cpu_describe(slmrt_cpu_get(), buf, sizeof buf);
    printf("features: %s\nkernels:  %s\n", buf[0] ? buf : "(none)", slmrt_isa_name(slmrt_isa_select()));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("slmrt %s\n", SLMC_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "cpu")) return cmd_cpu();
    if (!strcmp(cmd, "run")) return slmrt_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return slmrt_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize")) return slmrt_cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return slmrt_cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "slmrt: error: unknown command '%s' (see 'slmrt --help')\n", cmd);
    return 2;
}
