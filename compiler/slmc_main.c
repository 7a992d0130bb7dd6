/* slmc_main.c - the slmc command line: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "slmc_cli.h"

/* declared here rather than in slmc_cli.h, which other commands share */
int slmc_cmd_calibrate(int argc, char **argv);
int slmc_cmd_prune(int argc, char **argv);
int slmc_cmd_score(int argc, char **argv);
int slmc_cmd_passes(int argc, char **argv);

static void usage(FILE *f) {
    fprintf(f,
            "slmc %s - model compression compiler for small language models\n"
            "\n"
            "usage: slmc <command> [options]\n"
            "\n"
            "commands:\n"
            "  inspect PATH [--json] [--tokenizer FILE]\n"
            "      architecture, hyperparameters, tokenizer, tensors and metadata of a model\n"
            "  compile INPUT -o OUT.gguf [--recipe R.yaml] [--type T | --mix M | --bpw X] [--calib-data F --method M]\n"
            "          [--lora A[:W]] [--prune M ...] [--score-data F] [--report OUT.json]\n"
            "      merge, prune, calibrate, quantize and score a model into a GGUF artifact llama.cpp loads\n"
            "  passes [--markdown]\n"
            "      every pass a recipe can list, with its options and their flags\n"
            "  prune MODEL -o OUT.gguf [--method magnitude|wanda] [--sparsity S | --pattern N:M] [--calib STATS]\n"
            "      zero the least important weights of the blocks' linear layers (types kept)\n"
            "  synth --arch llama --preset tiny|1b -o DIR [--dtype f32|f16|bf16] [--seed N]\n"
            "      write a deterministic example model as a Hugging Face folder\n"
            "  calibrate MODEL --data FILE -o STATS [--format slmc|imatrix] [--tokens N] [--ctx N] [--gram]\n"
            "      run the model over calibration data and write activation statistics\n"
            "  score --teacher T --student S [--student S2 ...] (--data FILE | --tokens FILE) [--ctx N] [--json]\n"
            "      distillation loss of students against a teacher: KL divergence, top-1, perplexity\n"
            "\n"
            "INPUT/PATH: a Hugging Face folder, .safetensors, .gguf, .h5/.hdf5, or a llama2.c .bin\n"
            "exit codes: 0 ok, 2 usage, 3 bad input, 4 I/O error, 5 internal error\n",
            SLMC_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return SLMC_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("slmc %s\n", SLMC_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "inspect")) return slmc_cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "compile")) return slmc_cmd_compile(argc - 1, argv + 1);
    if (!strcmp(cmd, "synth")) return slmc_cmd_synth(argc - 1, argv + 1);
    if (!strcmp(cmd, "calibrate")) return slmc_cmd_calibrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "prune")) return slmc_cmd_prune(argc - 1, argv + 1);
    if (!strcmp(cmd, "score")) return slmc_cmd_score(argc - 1, argv + 1);
    if (!strcmp(cmd, "passes")) return slmc_cmd_passes(argc - 1, argv + 1);
    return slmc_usage_error("slmc", "unknown command '%s'", cmd);
}
