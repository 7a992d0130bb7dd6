/* slmrt_cli.h - the slmrt subcommands (each in slmrt_cmd_*.c) and helpers
 * they share: error printing with the documented exit codes, token files. */
#ifndef SLMRT_CLI_H
#define SLMRT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "slm_status.h"
#include "slmrt.h"

int slmrt_cmd_tokenize(int argc, char **argv);
int slmrt_cmd_eval(int argc, char **argv);
int slmrt_cmd_run(int argc, char **argv);
int slmrt_cmd_bench(int argc, char **argv);

/* Prints "slmrt: error: msg" and returns the exit code for d's status. */
int slmrt_cli_fail(const slm_diag *d);
/* Prints a usage error and returns 2. */
int slmrt_cli_usage(const char *cmd, const char *fmt, ...);

/* Reads whitespace-separated token ids (malloc'd). Errors name the file and
 * the offending word. */
slm_status slmrt_read_token_file(const char *path, int32_t **ids, size_t *n, slm_diag *d);

double slmrt_now(void);

/* --gemm own|onednn|auto into *backend (an slmrt_ctx_params.gemm_backend);
 * returns 0, or the usage error's exit code. */
int slmrt_cli_gemm_arg(const char *cmd, const char *arg, int *backend);
/* Which backend a context's batched products use, for the user: "own", or
 * "onednn (brg:avx512_core_amx_bf16)" with oneDNN's implementation. */
const char *slmrt_cli_gemm_describe(const slmrt_ctx *c, char *buf, size_t size);

#endif
