/* slmc_cmd_inspect.c - `slmc inspect PATH`: what a model is, read through
 * the same readers compile uses. */
#include <getopt.h>
#include <stdio.h>

#include "slm_describe.h"
#include "slm_open.h"
#include "slmc_cli.h"

int slmc_cmd_inspect(int argc, char **argv) {
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"tokenizer", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0}};
    bool json = false;
    const char *tok = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 't': tok = optarg; break;
        case 'h':
            printf("usage: slmc inspect PATH [--json] [--tokenizer FILE]\n");
            return 0;
        default: return slmc_usage_error("slmc inspect", "bad option");
        }
    }
    if (optind + 1 != argc) return slmc_usage_error("slmc inspect", "expected exactly one PATH");
    const char *path = argv[optind];
    slm_diag d = {0};
    slm_model *m = NULL;
    slm_open_opts oo = {.tokenizer = tok};
    if (slm_model_open(path, &oo, &m, &d) != SLM_OK) return slmc_fail("slmc", &d);
    slm_describe_opts dopt = {.path = path, .json = json};
    slm_status st = slm_model_describe(m, stdout, &dopt, &d);
    slm_model_free(m);
    if (st != SLM_OK) return slmc_fail("slmc", &d);
    return fflush(stdout) == 0 ? 0 : SLMC_EXIT_IO;
}
