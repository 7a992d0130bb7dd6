/* slmc_provenance.h - the `slmc.*` and `general.*` keys that say how an
 * artifact was made: tool version, command line, sha256 of every input. */
#ifndef SLMC_PROVENANCE_H
#define SLMC_PROVENANCE_H

#include <stdbool.h>

#include "slm_gguf.h"
#include "slm_model.h"

/* Input hashes computed on a background thread, so that hashing a large
 * model (4.4 GB: ~2.6 s of SHA-256) overlaps writing the artifact instead
 * of preceding it. */
typedef struct slmc_hashes slmc_hashes;

/* Sets general.file_type, general.quantization_version (when any tensor is
 * quantized), general.name (when absent), slmc.version, slmc.command_line,
 * slmc.inputs and slmc.inputs.sha256 on the model. With `later` NULL the
 * hashes are computed now; otherwise slmc.inputs.sha256 holds placeholders
 * of the final length, *later hashes in the background, and the GGUF writer
 * fills the real values (slmc_hashes_write_opts). */
slm_status slmc_provenance_record(slm_model *m, const char *input, int argc, char **argv, uint32_t file_type,
                                  slmc_hashes **later, slm_diag *d);

/* Updates general.file_type (and general.quantization_version) after a
 * pass changed the types, e.g. the budget search. */
slm_status slmc_provenance_set_file_type(slm_model *m, uint32_t file_type, slm_diag *d);

/* Points the writer's late value at the background hashes. */
void slmc_hashes_write_opts(slmc_hashes *h, slm_gguf_write_opts *wo);
/* Whether the background hashing is still running (a caller may leave it
 * a core meanwhile). */
bool slmc_hashes_running(const slmc_hashes *h);
/* Waits for the thread (if still running) and frees; accepts NULL. */
void slmc_hashes_free(slmc_hashes *h);

#endif
