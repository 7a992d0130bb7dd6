/* test_support.c - see test_support.h. */

#include "test_support.h"

#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *shared_root(void) {
    const char *env = getenv("SLM_SHARED_DIR");
    return env && *env ? env : "../shared";
}

int ts_have_shared(void) {
    char p[4096];
    snprintf(p, sizeof p, "%s/golden/golden-f32.gguf", shared_root());
    return access(p, R_OK) == 0;
}

const char *ts_shared(const char *rel) {
    static char buf[4096];
    static int warned;
    if (!ts_have_shared()) {
        if (!warned) {
            fprintf(stderr, "SKIP: shared test material not found at %s (set SLM_SHARED_DIR)\n", shared_root());
            warned = 1;
        }
        return NULL;
    }
    snprintf(buf, sizeof buf, "%s/%s", shared_root(), rel);
    return buf;
}

static void mkdirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0777);
            *p = '/';
        }
    }
    mkdir(tmp, 0777);
}

const char *ts_tmp(const char *name) {
    static char buf[4096];
    const char *root = getenv("SLM_TMP_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%d", root && *root ? root : "/tmp/slm-tests", (int)getpid());
    mkdirs(dir);
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

const char *ts_bin(const char *tool) {
    static char buf[4096];
    const char *root = getenv("SLM_BIN_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : "./bin", tool);
    return buf;
}

int ts_run(const char *log, const char *fmt, ...) {
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[17000];
    snprintf(full, sizeof full, "%s >%s 2>&1", cmd, log ? log : "/dev/null");
    int st = system(full);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

char *ts_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        if (size) *size = (size_t)n;
    }
    return b;
}

int ts_write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, size, f);
    fclose(f);
    return w == size ? 0 : -1;
}

int ts_file_exists(const char *path) { return access(path, F_OK) == 0; }

int ts_count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    size_t pl = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, pl) == 0) n++;
    closedir(d);
    return n;
}

int ts_run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

const char *ts_tiny_model(const char *name, const char *dtype) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", ts_tmp(name));
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    if (!ts_file_exists(cfg))
        ck_assert_int_eq(ts_run(NULL, "%s synth --arch llama --preset tiny --dtype %s -o %s --quiet", ts_bin("slmc"),
                                dtype, dir),
                         0);
    return dir;
}
