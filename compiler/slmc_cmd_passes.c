/* slmc_cmd_passes.c - `slmc passes [--markdown]`: the pass registry
 * (slmc_registry.h), the same table compile's flags and recipes use. */
#include <stdio.h>
#include <string.h>

#include "slmc_cli.h"
#include "slmc_registry.h"

int slmc_cmd_passes(int argc, char **argv);

int slmc_cmd_passes(int argc, char **argv) {
    bool markdown = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown")) markdown = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: slmc passes [--markdown]\n  every pass a recipe can list (in the order they run), each "
                 "option's recipe key, its slmc compile flag, and what it takes");
            return 0;
        } else return slmc_usage_error("slmc passes", "unexpected argument '%s'", argv[i]);
    }
    if (!markdown)
        printf("Passes run in this order: lora-merge, prune, calibrate, quantize, score (calibrate may precede\n"
               "prune to drive it). In a recipe: '- PASS: {KEY: VALUE, ...}'; on the command line: --FLAG VALUE.\n\n");
    slmc_registry_print(stdout, markdown);
    return 0;
}
