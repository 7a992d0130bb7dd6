/* check_hash_cache.c - the input hashes in an artifact (slmc.inputs.sha256)
 * are the files' real SHA-256 whether they were computed while the tensors
 * streamed or remembered from an earlier compile; a remembered hash is used
 * only while the file is unchanged; SLMC_HASH_CACHE=0 leaves no cache. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm_open.h"
#include "test_support.h"

/* `sha256sum FILE`, an implementation independent of ours. */
static void reference_sha256(const char *path, char hex[65]) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%64s", hex), 1);
    pclose(p);
}

/* The first slmc.inputs.sha256 entry of an artifact. */
static void artifact_hash(const char *gguf, char hex[65]) {
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_model_open(gguf, NULL, &m, &d) == SLM_OK, "%s", d.msg);
    const slm_kv *kv = slm_model_find_kv(m, "slmc.inputs.sha256");
    ck_assert_ptr_nonnull(kv);
    ck_assert_int_eq(kv->value.type, SLM_V_ARR);
    const slm_str *s = kv->value.v.arr;
    ck_assert_uint_eq(s[0].len, 64);
    memcpy(hex, s[0].s, 64);
    hex[64] = 0;
    slm_model_free(m);
}

static int compile(const char *env, const char *in, const char *out) {
    return ts_run(NULL, "%s %s compile %s --type q8_0 -o %s --quiet", env, ts_bin("slmc"), in, out);
}

START_TEST(hashes_are_real_cached_or_not) {
    char in[4096], out[4096], first[4096], cache_dir[4096], cache[4200], env[4300], want[65], got[65];
    snprintf(in, sizeof in, "%s", ts_tmp("hc-in.gguf"));
    snprintf(out, sizeof out, "%s", ts_tmp("hc-out.gguf"));
    snprintf(first, sizeof first, "%s", ts_tmp("hc-first.gguf"));
    snprintf(cache_dir, sizeof cache_dir, "%s", ts_tmp("hc-cache"));
    snprintf(cache, sizeof cache, "%s/sha256.tsv", cache_dir);
    snprintf(env, sizeof env, "SLMC_CACHE_DIR=%s", cache_dir);
    ck_assert_int_eq(compile(env, ts_tiny_model("hc-tiny", "f32"), in), 0);
    reference_sha256(in, want);

    /* a file changed in the last 2 s is hashed but not remembered */
    ck_assert_int_eq(compile(env, in, out), 0);
    artifact_hash(out, got);
    ck_assert_str_eq(got, want);
    ck_assert(!ts_file_exists(cache));

    sleep(3);
    ck_assert_int_eq(compile(env, in, out), 0);
    artifact_hash(out, got);
    ck_assert_str_eq(got, want);
    ck_assert(ts_file_exists(cache));
    char *line = ts_read_file(cache, NULL);
    ck_assert_msg(!strncmp(line, want, 64), "cache holds: %s", line);
    free(line);
    ck_assert_int_eq(rename(out, first), 0);

    /* the remembered hash gives the same artifact, byte for byte */
    ck_assert_int_eq(compile(env, in, out), 0);
    size_t la = 0, lb = 0;
    char *a = ts_read_file(first, &la), *b = ts_read_file(out, &lb);
    ck_assert(la == lb && !memcmp(a, b, la));
    free(a);
    free(b);

    /* it is the cache that answers: a forged entry for this very file is used */
    char *c = ts_read_file(cache, NULL);
    char forged[4608];
    snprintf(forged, sizeof forged, "%s", c);
    memset(forged, 'f', 64);
    ck_assert_int_eq(ts_write_file(cache, forged, strlen(forged)), 0);
    free(c);
    ck_assert_int_eq(compile(env, in, out), 0);
    artifact_hash(out, got);
    ck_assert_str_eq(got, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");

    /* ...but not once the file changes */
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type f16 -o %s --quiet", ts_bin("slmc"),
                            ts_tiny_model("hc-tiny", "f32"), in),
                     0);
    reference_sha256(in, want);
    ck_assert_int_eq(compile(env, in, out), 0);
    artifact_hash(out, got);
    ck_assert_str_eq(got, want);

    /* SLMC_HASH_CACHE=0: no cache at all */
    remove(cache);
    sleep(3);
    char off[4400];
    snprintf(off, sizeof off, "%s SLMC_HASH_CACHE=0", env);
    ck_assert_int_eq(compile(off, in, out), 0);
    artifact_hash(out, got);
    ck_assert_str_eq(got, want);
    ck_assert(!ts_file_exists(cache));
}
END_TEST

int main(void) {
    Suite *s = suite_create("hash_cache");
    TCase *tc = tcase_create("hash_cache");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hashes_are_real_cached_or_not);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
