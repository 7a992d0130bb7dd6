/* slmc_cmd_prune.c - `slmc prune MODEL [--method magnitude|wanda|sparsegpt]
 * [--sparsity S | --pattern N:M] [--calib STATS] -o OUT.gguf`: the pruning
 * pass alone, tensor types kept unless --type is given. It is `slmc
 * compile` with --method read as the pruning method (magnitude when absent),
 * so every compile option works here too and the artifact records the
 * equivalent compile command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_cli.h"

int slmc_cmd_prune(int argc, char **argv);

int slmc_cmd_prune(int argc, char **argv) {
    /* argv[0] is "prune"; the translation adds at most two arguments */
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args) return slmc_usage_error("slmc prune", "out of memory");
    int n = 0;
    bool has_method = false;
    args[n++] = "compile";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--method")) {
            has_method = true;
            args[n++] = "--prune";
        } else if (!strncmp(argv[i], "--method=", 9)) {
            has_method = true;
            args[n++] = "--prune";
            args[n++] = argv[i] + 9;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            free(args);
            puts("usage: slmc prune MODEL -o OUT.gguf [--method magnitude|wanda|sparsegpt] [--sparsity S | --pattern N:M]\n"
                 "                  [--prune-scope row|tensor] [--calib STATS] [--type T] [slmc compile options]\n"
                 "  zeroes the least important weights of the blocks' linear layers; tensor types are kept\n"
                 "  unless --type is given. Defaults: --method magnitude --sparsity 0.5 --prune-scope row.");
            return 0;
        } else {
            args[n++] = argv[i];
        }
    }
    if (!has_method) {
        args[n++] = "--prune";
        args[n++] = "magnitude";
    }
    int rc = slmc_cmd_compile(n, args);
    free(args);
    return rc;
}
