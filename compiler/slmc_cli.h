/* slmc_cli.h - pieces shared by the slmc subcommands: error reporting with
 * the documented exit codes, progress display, provenance hashing. */
#ifndef SLMC_CLI_H
#define SLMC_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_status.h"

/* Exit codes (README "Exit codes"). */
enum {
    SLMC_EXIT_OK = 0,
    SLMC_EXIT_USAGE = 2,
    SLMC_EXIT_INPUT = 3,
    SLMC_EXIT_IO = 4,
    SLMC_EXIT_INTERNAL = 5
};

/* Prints "<tool>: error: <msg>" to stderr and returns the exit code for the
 * diagnostic's status. */
int slmc_fail(const char *tool, const slm_diag *d);
/* Prints a usage error and returns SLMC_EXIT_USAGE. */
int slmc_usage_error(const char *tool, const char *fmt, ...);

int slmc_cmd_inspect(int argc, char **argv);
int slmc_cmd_compile(int argc, char **argv);
int slmc_cmd_synth(int argc, char **argv);

/* Progress on stderr when it is a TTY and not quiet; redrawn at most about
 * six times a second; erased when done. */
typedef struct slmc_progress {
    bool enabled;
    double start, last_draw;
    const char *what;
} slmc_progress;

void slmc_progress_init(slmc_progress *p, const char *what, bool quiet);
void slmc_progress_update(void *ctx, uint32_t i, uint32_t n, const char *name, uint64_t done, uint64_t total);
void slmc_progress_done(slmc_progress *p);

/* Hex SHA-256 of a file (65 bytes with NUL) or of a directory's files is not
 * supported: pass files. */
slm_status slmc_sha256_file(const char *path, char hex[65], slm_diag *d);

/* A whole decimal number in [lo, hi], nothing after it; false otherwise. */
bool slmc_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Monotonic seconds. */
double slmc_now(void);

#endif
