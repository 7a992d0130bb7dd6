/* slm_file.h - read-only memory maps of input files, and output files that
 * appear atomically (written to a temporary name, renamed on success, removed
 * on failure), so a failed run never leaves a half-written artifact. */
#ifndef SLM_FILE_H
#define SLM_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "slm_status.h"

/* Maps `path` read-only. An empty file maps to base=NULL, size=0.
 * Errors name the file. Unmap with slm_file_unmap. */
slm_status slm_file_map(const char *path, const void **base, size_t *size, slm_diag *d);
void slm_file_unmap(const void *base, size_t size);

/* Reads a whole (small) file into a malloc'd NUL-terminated buffer. */
slm_status slm_file_read_all(const char *path, char **out, size_t *size, slm_diag *d);

typedef struct slm_outfile {
    FILE *fp;
    char *path;     /* final name */
    char *tmp_path; /* temporary name in the same directory */
    uint64_t written;
    uint64_t flushed;  /* bytes handed to the kernel's writeback so far */
    slm_status status; /* first write error, sticky */
} slm_outfile;

/* Creates a temporary file beside `path`. */
slm_status slm_outfile_open(slm_outfile *f, const char *path, slm_diag *d);
/* Appends bytes; errors are sticky and reported by slm_outfile_commit. */
slm_status slm_outfile_write(slm_outfile *f, const void *p, size_t n, slm_diag *d);
/* Replaces n bytes already written at `offset` (a value known only after
 * later bytes were written); the append position does not move. */
slm_status slm_outfile_overwrite(slm_outfile *f, uint64_t offset, const void *p, size_t n, slm_diag *d);
/* Appends zero bytes until `written` is a multiple of `align`. */
slm_status slm_outfile_pad(slm_outfile *f, uint64_t align, slm_diag *d);
/* Flushes, closes and renames to the final name. On any error the temporary
 * file is removed. */
slm_status slm_outfile_commit(slm_outfile *f, slm_diag *d);
/* Closes and removes the temporary file (safe after commit; then a no-op). */
void slm_outfile_abort(slm_outfile *f);

/* Joins dir and name with a '/'; malloc'd. */
char *slm_path_join(const char *dir, const char *name);
int slm_path_is_dir(const char *path);
/* The directory part of path ("." when none); malloc'd. */
char *slm_path_dir(const char *path);
/* Whether s ends with suffix (case-sensitive). */
int slm_path_has_suffix(const char *s, const char *suffix);
int slm_path_exists(const char *path);

#endif
