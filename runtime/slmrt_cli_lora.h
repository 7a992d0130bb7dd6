/* slmrt_cli_lora.h - the `--lora FILE[:SCALE]` option `slmrt run` and
 * `slmrt eval` share: parsing (repeatable) and adding the adapters to the
 * loaded model. Private to the slmrt tool. */
#ifndef SLMRT_CLI_LORA_H
#define SLMRT_CLI_LORA_H

#include "slmrt.h"

#define SLMRT_CLI_MAX_LORA 16

typedef struct slmrt_cli_loras {
    int n;
    char path[SLMRT_CLI_MAX_LORA][1024];
    float scale[SLMRT_CLI_MAX_LORA];
} slmrt_cli_loras;

/* Adds one --lora argument: FILE, or FILE:SCALE when what follows the last
 * ':' is a number (default scale 1). Returns 0, or the usage error's exit
 * code. */
int slmrt_cli_lora_arg(const char *cmd, const char *arg, slmrt_cli_loras *l);
/* Reads each adapter with the model's hyperparameters and adds it
 * (slmrt_model_add_lora_file); errors name the adapter file. */
slm_status slmrt_cli_lora_apply(slmrt_model *m, const slmrt_cli_loras *l, slm_diag *d);

#endif
