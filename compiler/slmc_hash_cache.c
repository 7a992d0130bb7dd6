/* slmc_hash_cache.c - see slmc_hash_cache.h. */
#include "slmc_hash_cache.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slmc_cache_dir.h"
#include "slmc_cli.h"

#define CACHE_MAX_BYTES (1 << 20)
#define RACY_SECONDS 2

typedef struct file_id {
    unsigned long long dev, ino, size, mtime_ns, ctime_ns;
} file_id;

static bool cache_path(char *out, size_t cap) {
    const char *off = getenv("SLMC_HASH_CACHE");
    if (off && !strcmp(off, "0")) return false;
    if (!slmc_cache_dir(out, cap, 16)) return false;
    strcat(out, "/sha256.tsv");
    return true;
}

static bool identify(const char *path, file_id *id, double *age) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    *id = (file_id){(unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
                    (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec,
                    (unsigned long long)st.st_ctim.tv_sec * 1000000000ull + (unsigned long long)st.st_ctim.tv_nsec};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double newest = (double)(id->mtime_ns > id->ctime_ns ? id->mtime_ns : id->ctime_ns) / 1e9;
    *age = (double)now.tv_sec + now.tv_nsec / 1e9 - newest;
    return true;
}

static bool lookup(const char *cache, const file_id *id, char hex[65]) {
    FILE *f = fopen(cache, "r");
    if (!f) return false;
    char line[4608];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        file_id e;
        char h[65];
        if (sscanf(line, "%64[0-9a-f] %llu %llu %llu %llu %llu", h, &e.dev, &e.ino, &e.size, &e.mtime_ns,
                   &e.ctime_ns) == 6 &&
            strlen(h) == 64 && !memcmp(&e, id, sizeof e)) {
            memcpy(hex, h, 65);
            found = true;
        }
    }
    fclose(f);
    return found;
}

static void remember(const char *cache, const file_id *id, const char *path, const char hex[65]) {
    struct stat st;
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    if (stat(cache, &st) == 0 && st.st_size > CACHE_MAX_BYTES) flags |= O_TRUNC;
    int fd = open(cache, flags, 0644);
    if (fd < 0) return;
    char line[4608];
    int n = snprintf(line, sizeof line, "%s\t%llu\t%llu\t%llu\t%llu\t%llu\t%s\n", hex, id->dev, id->ino, id->size,
                     id->mtime_ns, id->ctime_ns, path);
    if (n > 0 && (size_t)n < sizeof line) (void)!write(fd, line, (size_t)n); /* one append: lines do not interleave */
    close(fd);
}

slm_status slmc_sha256_file_cached(const char *path, char hex[65], slm_diag *d) {
    char cache[4096];
    file_id before, after;
    double age = 0, age_after = 0;
    const bool use = cache_path(cache, sizeof cache) && identify(path, &before, &age);
    if (use && lookup(cache, &before, hex)) return SLM_OK;
    slm_status st = slmc_sha256_file(path, hex, d);
    /* remember only what was stable through the hashing and is not racy */
    if (st == SLM_OK && use && age > RACY_SECONDS && identify(path, &after, &age_after) &&
        !memcmp(&before, &after, sizeof before))
        remember(cache, &before, path, hex);
    return st;
}
