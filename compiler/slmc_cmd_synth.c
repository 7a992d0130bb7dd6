/* slmc_cmd_synth.c - `slmc synth --arch llama --preset NAME -o DIR`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_hf.h"
#include "slmc_cli.h"
#include "slmc_synth.h"

int slmc_cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {{"arch", required_argument, 0, 'a'},   {"preset", required_argument, 0, 'p'},
                                         {"output", required_argument, 0, 'o'}, {"dtype", required_argument, 0, 'D'},
                                         {"seed", required_argument, 0, 's'},   {"quiet", no_argument, 0, 'q'},
                                         {"adapter", no_argument, 0, 'A'},      {"rank", required_argument, 0, 'r'},
                                         {"text", required_argument, 0, 'x'},   {"help", no_argument, 0, 'h'},
                                         {0}};
    bool adapter = false;
    const char *text = NULL;
    int rank = 8;
    const char *arch = "llama", *preset = NULL, *out = NULL;
    slm_type dtype = SLM_TYPE_F32;
    uint64_t seed = 1;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:p:o:D:s:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'a': arch = optarg; break;
        case 'p': preset = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quiet = true; break;
        case 'A': adapter = true; break;
        case 'x':
            if (strcmp(optarg, "calib") && strcmp(optarg, "eval"))
                return slmc_usage_error("slmc synth", "--text expects calib or eval, got '%s'", optarg);
            text = optarg;
            break;
        case 'r': {
            char *end;
            long r = strtol(optarg, &end, 10);
            if (*end || !*optarg || r < 1 || r > 64)
                return slmc_usage_error("slmc synth", "--rank expects 1..64, got '%s'", optarg);
            rank = (int)r;
            break;
        }
        case 's': {
            char *end;
            seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg) return slmc_usage_error("slmc synth", "--seed expects a number, got '%s'", optarg);
            break;
        }
        case 'D':
            if (!slm_type_from_name(optarg, &dtype) ||
                (dtype != SLM_TYPE_F32 && dtype != SLM_TYPE_F16 && dtype != SLM_TYPE_BF16))
                return slmc_usage_error("slmc synth", "--dtype must be f32, f16 or bf16, got '%s'", optarg);
            break;
        case 'h':
            printf("usage: slmc synth --arch llama --preset tiny|1b -o DIR [--dtype f32|f16|bf16] [--seed N]\n"
                   "       slmc synth --preset tiny --adapter -o DIR [--rank 8] [--seed N]   a PEFT LoRA adapter for it\n"
                   "       slmc synth --text calib|eval -o FILE    calibration / held-out text for its vocabulary\n");
            return 0;
        default: return slmc_usage_error("slmc synth", "bad option");
        }
    }
    if (optind != argc) return slmc_usage_error("slmc synth", "unexpected argument '%s'", argv[optind]);
    if (strcmp(arch, "llama") != 0) return slmc_usage_error("slmc synth", "--arch must be llama, got '%s'", arch);
    if (!out) return slmc_usage_error("slmc synth", "missing -o DIR");
    slm_diag d = {0};
    if (text) return slmc_synth_text(!strcmp(text, "eval"), out, &d) == SLM_OK ? 0 : slmc_fail("slmc", &d);
    if (!preset) return slmc_usage_error("slmc synth", "missing --preset (tiny or 1b)");
    const slmc_synth_preset *p = slmc_synth_find_preset(preset);
    if (!p) return slmc_usage_error("slmc synth", "unknown --preset '%s' (expected tiny or 1b)", preset);
    if (adapter) return slmc_synth_adapter(p, rank, seed, out, &d) == SLM_OK ? 0 : slmc_fail("slmc", &d);

    slm_model *m = NULL;
    if (slmc_synth_build(p, dtype, seed, &m, &d) != SLM_OK) return slmc_fail("slmc", &d);
    for (uint32_t i = 0; i < m->n_tensors; i++) m->tensors[i].out_type = m->tensors[i].type;
    double t0 = slmc_now();
    slmc_progress prog;
    slmc_progress_init(&prog, "synth", quiet);
    slm_status st = slm_hf_write(m, out, slmc_progress_update, &prog, &d);
    slmc_progress_done(&prog);
    if (st == SLM_OK && !quiet)
        fprintf(stderr, "slmc: wrote %s: llama preset %s, %u tensors, %.2f s\n", out, preset, m->n_tensors,
                slmc_now() - t0);
    slm_model_free(m);
    return st == SLM_OK ? 0 : slmc_fail("slmc", &d);
}
