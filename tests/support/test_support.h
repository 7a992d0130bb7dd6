/* test_support.h - helpers shared by the Check suites: locating ../shared,
 * scratch directories, and running the CLI tools. */
#ifndef SLM_TEST_SUPPORT_H
#define SLM_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file under the shared material (e.g. "golden/golden-f32.gguf"),
 * or NULL (after printing a skip message once) when ../shared is absent.
 * The returned string is static storage reused by the next call. */
const char *ts_shared(const char *rel);
/* True when the shared material is present. */
int ts_have_shared(void);

/* A fresh scratch path "<tmpdir>/<name>" (directories created). Static storage. */
const char *ts_tmp(const char *name);

/* Path of a built tool, e.g. ts_bin("slmc"). Static storage. */
const char *ts_bin(const char *tool);

/* Runs a shell command; returns its exit status (or -1). Output goes to
 * `log` when non-NULL (a file path), else to /dev/null. */
int ts_run(const char *log, const char *fmt, ...);

/* The synthetic tiny model (slmc synth --preset tiny --dtype DTYPE) in the
 * scratch folder `name`, made on first use and reused by later tests (Check
 * forks per test; the folder persists). Static storage; fails the test when
 * synth fails. */
const char *ts_tiny_model(const char *name, const char *dtype);

/* xorshift32: deterministic test inputs, so a failure reproduces. */
static inline uint32_t ts_rng_next(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Uniform in [-1, 1). */
static inline float ts_rng_unit(uint32_t *s) { return (float)(ts_rng_next(s) >> 8) * 0x1p-23f - 1.0f; }

/* Reads a whole file (malloc'd, NUL-terminated); NULL on failure. */
char *ts_read_file(const char *path, size_t *size);
int ts_write_file(const char *path, const void *data, size_t size);
int ts_file_exists(const char *path);

/* Count of entries in a directory whose name starts with prefix (used to
 * assert that no temporary output file was left behind). */
int ts_count_prefix(const char *dir, const char *prefix);

/* Runs a Check suite (forking per test) and returns the process exit code:
 * 0 when every test passed. */
struct Suite;
int ts_run_suite(struct Suite *s);

#endif
