/* slmc_cache_dir.c - see slmc_cache_dir.h. */
#include "slmc_cache_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

bool slmc_cache_dir(char *out, size_t cap, size_t reserve) {
    const char *dir = getenv("SLMC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (dir && *dir) n = snprintf(out, cap, "%s", dir);
    else if (xdg && *xdg) n = snprintf(out, cap, "%s/slmc", xdg);
    else if (home && *home) n = snprintf(out, cap, "%s/.cache/slmc", home);
    else return false;
    if (n < 0 || (size_t)n + reserve > cap) return false;
    /* create the directory (and ~/.cache) if needed */
    for (char *p = out + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(out, 0755);
            *p = '/';
        }
    mkdir(out, 0755);
    return true;
}
