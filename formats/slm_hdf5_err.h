/* slm_hdf5_err.h - HDF5 error handling shared by the HDF5 readers (internal
 * to formats/). HDF5 prints its error stack to stderr by default; library
 * code must not print, so every call runs with automatic printing switched
 * off and the innermost HDF5 error becomes part of the slm_diag message. */
#ifndef SLM_HDF5_ERR_H
#define SLM_HDF5_ERR_H

#include <hdf5.h>

#include "slm_status.h"

typedef struct slm_hdf5_quiet {
    H5E_auto2_t func;
    void *data;
} slm_hdf5_quiet;

/* Switches HDF5's error printing off, remembering the previous handler. */
void slm_hdf5_quiet_begin(slm_hdf5_quiet *q);
void slm_hdf5_quiet_end(const slm_hdf5_quiet *q);

/* Records `status` with "<what>: <HDF5's reason>" and clears HDF5's stack. */
slm_status slm_hdf5_fail(slm_diag *d, slm_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
