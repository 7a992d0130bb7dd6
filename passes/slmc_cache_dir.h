/* slmc_cache_dir.h - where slmc keeps what it remembers between runs (file
 * hashes, teacher logits): $SLMC_CACHE_DIR, else $XDG_CACHE_HOME/slmc, else
 * ~/.cache/slmc. Everything kept there is an optimisation: losing it only
 * costs time. */
#ifndef SLMC_CACHE_DIR_H
#define SLMC_CACHE_DIR_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the directory into out (cap bytes) and creates it (with its
 * parents) when missing. False when no location is known (no HOME) or the
 * path does not fit with `reserve` bytes to spare for a file name; creation
 * failures show when the caller opens a file there. */
bool slmc_cache_dir(char *out, size_t cap, size_t reserve);

#endif
