/* slmc_provenance.h - the `slmc.*` and `general.*` keys that say how an
 * artifact was made: tool version, command line, sha256 of every input. */
#ifndef SLMC_PROVENANCE_H
#define SLMC_PROVENANCE_H

#include "slm_model.h"

/* Sets general.file_type, general.quantization_version (when any tensor is
 * quantized), general.name (when absent), slmc.version, slmc.command_line,
 * slmc.inputs and slmc.inputs.sha256 on the model. */
slm_status slmc_provenance_record(slm_model *m, const char *input, int argc, char **argv, uint32_t file_type,
                                  slm_diag *d);

#endif
