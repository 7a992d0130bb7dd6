/* slmrt_main.c - the slmrt command line. Until the forward pass lands it can
 * only describe a GGUF artifact and this CPU; it never fakes generation. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "slm_describe.h"
#include "slm_gguf.h"
#include "slmrt_cpu.h"

static void usage(FILE *f) {
    fprintf(f,
            "slmrt %s - runtime for slmc artifacts\n"
            "\n"
            "usage: slmrt <command> [options]\n"
            "  inspect M.gguf [--json]   describe a GGUF artifact\n"
            "  cpu                       CPU features and the kernel ISA that would be used\n"
            "\n"
            "run, eval, tokenize and bench arrive with the forward pass.\n"
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
            fprintf(stderr, "slmrt: error: bad option (see 'slmrt --help')\n");
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "slmrt: error: expected exactly one M.gguf (see 'slmrt --help')\n");
        return 2;
    }
    slm_diag d = {0};
    slm_model *m = NULL;
    if (slm_gguf_read(argv[optind], &m, &d) != SLM_OK) {
        fprintf(stderr, "slmrt: error: %s\n", d.msg);
        return slm_status_exit_code(d.status);
    }
    slm_describe_opts o = {.path = argv[optind], .json = json};
    slm_status st = slm_model_describe(m, stdout, &o, &d);
    slm_model_free(m);
    if (st != SLM_OK) {
        fprintf(stderr, "slmrt: error: %s\n", d.msg);
        return slm_status_exit_code(st);
    }
    return 0;
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
    if (!strcmp(cmd, "run") || !strcmp(cmd, "eval") || !strcmp(cmd, "tokenize") || !strcmp(cmd, "bench")) {
        fprintf(stderr, "slmrt: error: '%s' is not implemented yet (the forward pass is a later milestone)\n", cmd);
        return 2;
    }
    fprintf(stderr, "slmrt: error: unknown command '%s' (see 'slmrt --help')\n", cmd);
    return 2;
}
