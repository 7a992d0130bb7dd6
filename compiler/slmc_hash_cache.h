/* slmc_hash_cache.h - remembered SHA-256 of input files, so that compiling
 * several artifacts from one 4 GB teacher hashes it once (2.5 s of one core
 * each time otherwise). Like git's index: an entry is valid while the file
 * keeps its device, inode, size, mtime and ctime (nanoseconds); a file
 * changed within the last 2 s is never remembered, because a change in the
 * same clock tick would not move its times.
 *
 * The cache is $SLMC_CACHE_DIR/sha256.tsv, else $XDG_CACHE_HOME/slmc/...,
 * else ~/.cache/slmc/...; SLMC_HASH_CACHE=0 turns it off. Lines are
 * "hex dev ino size mtime_ns ctime_ns path", appended; the file is started
 * afresh past 1 MiB. Failures to read or write it only cost speed. */
#ifndef SLMC_HASH_CACHE_H
#define SLMC_HASH_CACHE_H

#include "slm_status.h"

/* slmc_sha256_file through the cache. */
slm_status slmc_sha256_file_cached(const char *path, char hex[65], slm_diag *d);

#endif
