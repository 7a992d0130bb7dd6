/* slmc_calib.h - calibration statistics for quantization (`--calib FILE`)
 * and the methods that use them (`--method`).
 *
 * A statistics file's format is recognised from its first bytes, so new
 * formats (e.g. GGUF imatrix) slot into the table in slmc_calib.c without a
 * new option. Today: llama.cpp's legacy imatrix .dat (formats/slm_imatrix.h)
 * and the stats `slmc calibrate` writes (slmc_calib_stats.h); both give
 * per-column importance weights, the mean of x² over the calibration rows.
 *
 * Method "imatrix" quantizes each matrix that has an entry with its weights
 * (llama-quantize --imatrix) and records llama-quantize's quantize.imatrix.*
 * metadata keys. */
#ifndef SLMC_CALIB_H
#define SLMC_CALIB_H

#include <stdbool.h>

#include "slm_imatrix.h"
#include "slm_model.h"
#include "slmc_calib_stats.h"

typedef enum slmc_calib_format {
    SLMC_CALIB_IMATRIX_DAT, /* llama.cpp's legacy imatrix (llama-imatrix's .dat) */
    SLMC_CALIB_SLMC_STATS   /* slmc calibrate's stats file ("SLMCSTAT") */
} slmc_calib_format;

typedef struct slmc_calib {
    char *path;               /* as given on the command line (owned) */
    slmc_calib_format format;
    const char *format_name;  /* "llama.cpp imatrix (.dat)", ... */
    slm_imatrix *imatrix;     /* IMATRIX_DAT: owned; weights already divided by ncall */
    slmc_stats *stats;        /* SLMC_STATS: owned */
} slmc_calib;

/* Opens a statistics file and reads it in the format its first bytes show.
 * Errors name the file: SLM_ERR_IO when it cannot be read, SLM_ERR_INPUT when
 * it is no format slmc knows or is malformed. */
slm_status slmc_calib_open(const char *path, slmc_calib **out, slm_diag *d);
/* Wraps statistics computed in this process (a calibrate step); takes
 * ownership of stats (freed on error too). `name` stands for the path. */
slm_status slmc_calib_from_stats(slmc_stats *stats, const char *name, slmc_calib **out, slm_diag *d);
void slmc_calib_free(slmc_calib *c); /* accepts NULL */

typedef enum slmc_quant_method {
    SLMC_METHOD_NONE,    /* round-to-nearest rules without weights */
    SLMC_METHOD_IMATRIX, /* importance-weighted rules (llama-quantize --imatrix) */
    SLMC_METHOD_GPTQ,    /* Hessian-based error compensation (slmc_gptq.h), imatrix where it does not apply */
    SLMC_METHOD_AWQ,     /* activation-aware scales folded into the model (slmc_awq.h), imatrix rounding */
    SLMC_METHOD_AWQ_GPTQ /* AWQ's scales, then GPTQ */
} slmc_quant_method;

/* Parses a --method name; false when unknown. */
bool slmc_quant_method_from_name(const char *name, slmc_quant_method *out);
const char *slmc_quant_method_name(slmc_quant_method m);
/* The names --method accepts, for messages: "imatrix, gptq, awq, awq+gptq". */
const char *slmc_quant_method_names(void);
bool slmc_quant_method_needs_stats(slmc_quant_method m);

typedef struct slmc_calib_result {
    uint32_t n_weighted;   /* converted matrices quantized with weights */
    uint32_t n_unweighted; /* converted matrices the statistics have no entry for */
    char first_unweighted[SLM_MAX_NAME]; /* for the report; "" when none */
} slmc_calib_result;

/* For every method: points quant_weights of every tensor that will be
 * converted (out_type set and different from its type) at its statistics
 * (GPTQ's block scale searches use them too), and sets the metadata
 * llama-quantize writes (quantize.imatrix.file, .dataset, .entries_count,
 * .chunks_count). The weights stay owned by `c`: keep it until the model is
 * written. An entry whose size does not fit its tensor is an error naming
 * both (statistics for another model), except for token_embd.weight, which
 * llama-quantize skips the same way; slmc stats of another model (by their
 * fingerprint) are refused as a whole. */
slm_status slmc_calib_apply(slm_model *m, slmc_calib *c, slmc_quant_method method, slmc_calib_result *res,
                            slm_diag *d);

#endif
