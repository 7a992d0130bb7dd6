/* check_imatrix.c - unit tests for the legacy imatrix reader (slm_imatrix.c):
 * well-formed files built here, every kind of damage a file can have (each
 * must give an error naming the file and the problem), and the golden
 * importance matrix from ../shared (skipped when absent). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_imatrix.h"
#include "test_support.h"

/* A file image under construction. */
typedef struct image {
    uint8_t b[4096];
    size_t n;
} image;

static void put(image *im, const void *p, size_t n) {
    ck_assert(im->n + n <= sizeof im->b);
    memcpy(im->b + im->n, p, n);
    im->n += n;
}

static void put_i32(image *im, int32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)((uint32_t)v >> 24)};
    put(im, b, 4);
}

static void put_f32(image *im, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_i32(im, (int32_t)u);
}

static void put_entry(image *im, const char *name, int32_t ncall, int32_t nval, const float *v) {
    put_i32(im, (int32_t)strlen(name));
    put(im, name, strlen(name));
    put_i32(im, ncall);
    put_i32(im, nval);
    for (int32_t i = 0; i < nval; i++) put_f32(im, v[i]);
}

static void put_trailer(image *im, int32_t last_call, const char *dataset) {
    put_i32(im, last_call);
    put_i32(im, (int32_t)strlen(dataset));
    put(im, dataset, strlen(dataset));
}

static const char *write_image(const image *im, const char *name) {
    const char *path = ts_tmp(name);
    ck_assert(ts_write_file(path, im->b, im->n) == 0);
    return path;
}

static const float vals[4] = {2.0f, 3.0f, 0.0f, 1e-3f};

/* Two entries and a trailer; values are divided by ncall (float). */
START_TEST(test_load_well_formed) {
    image im = {.n = 0};
    put_i32(&im, 2);
    put_entry(&im, "blk.0.attn_q.weight", 2, 4, vals);
    put_entry(&im, "blk.0.ffn_down.weight", 0, 3, vals);
    put_trailer(&im, 40, "calib.txt");
    const char *path = write_image(&im, "ok.imatrix");

    slm_imatrix *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_imatrix_load(path, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(m->n_entries, 2);
    ck_assert_int_eq(m->last_call, 40);
    ck_assert_str_eq(m->dataset, "calib.txt");
    int64_t n = 0;
    const float *q = slm_imatrix_find(m, "blk.0.attn_q.weight", &n);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(m->entries[0].ncall, 2);
    for (int i = 0; i < 4; i++) ck_assert(q[i] == vals[i] / 2);
    /* ncall 0: llama-quantize leaves the values undivided. */
    q = slm_imatrix_find(m, "blk.0.ffn_down.weight", &n);
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < 3; i++) ck_assert(q[i] == vals[i]);
    ck_assert_ptr_null(slm_imatrix_find(m, "token_embd.weight", &n));
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(slm_imatrix_find(m, NULL, NULL));
    ck_assert_ptr_null(slm_imatrix_find(NULL, "blk.0.attn_q.weight", NULL));

    /* Choosing weights for a tensor: absent entry, right size, wrong size. */
    const float *w = vals;
    ck_assert_int_eq(slm_imatrix_for_tensor(m, "output.weight", 4, 1, &w, &d), SLM_OK);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(slm_imatrix_for_tensor(m, "blk.0.attn_q.weight", 4, 1, &w, &d), SLM_OK);
    ck_assert_ptr_eq(w, slm_imatrix_find(m, "blk.0.attn_q.weight", NULL));
    ck_assert_int_eq(slm_imatrix_for_tensor(m, "blk.0.attn_q.weight", 2, 2, &w, &d), SLM_OK);
    ck_assert_int_eq(slm_imatrix_for_tensor(m, "blk.0.attn_q.weight", 8, 1, &w, &d), SLM_ERR_INPUT);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(d.msg, "blk.0.attn_q.weight") && strstr(d.msg, "4 values") && strstr(d.msg, "expected 8"),
                  "%s", d.msg);
    slm_imatrix_free(m);
    slm_imatrix_free(NULL);
}
END_TEST

/* Older llama-imatrix versions wrote no trailer. */
START_TEST(test_load_without_trailer) {
    image im = {.n = 0};
    put_i32(&im, 1);
    put_entry(&im, "output.weight", 1, 2, vals);
    slm_imatrix *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_imatrix_load(write_image(&im, "old.imatrix"), &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(m->last_call, 0);
    ck_assert_ptr_null(m->dataset);
    ck_assert(slm_imatrix_find(m, "output.weight", NULL)[1] == 3.0f);
    slm_imatrix_free(m);
}
END_TEST

typedef struct bad_case {
    const char *what;
    const char *expect; /* substring of the message */
    slm_status status;
} bad_case;

static const bad_case bad_cases[] = {
    {"empty file", "too short", SLM_ERR_INPUT},
    {"zero entries", "entry count 0", SLM_ERR_INPUT},
    {"absurd entry count", "does not fit", SLM_ERR_INPUT},
    {"empty name", "name length 0", SLM_ERR_INPUT},
    {"name too long", "name length 64", SLM_ERR_INPUT},
    {"negative name length", "name length -5", SLM_ERR_INPUT},
    {"truncated name", "truncated inside its 19-byte name", SLM_ERR_INPUT},
    {"NUL in name", "NUL byte", SLM_ERR_INPUT},
    {"truncated counts", "truncated before its counts", SLM_ERR_INPUT},
    {"no values", "0 values", SLM_ERR_INPUT},
    {"values past the end", "1000 values need 4000 bytes", SLM_ERR_INPUT},
    {"negative ncall", "call count -1", SLM_ERR_INPUT},
    {"NaN value", "value 1 is nan", SLM_ERR_INPUT},
    {"negative value", "value 0 is -1", SLM_ERR_INPUT},
    {"duplicate name", "duplicate name 'blk.0.attn_q.weight'", SLM_ERR_INPUT},
    {"truncated second entry", "entry 2 of 2: truncated", SLM_ERR_INPUT},
    {"stray bytes", "3 stray bytes", SLM_ERR_INPUT},
    {"trailer overruns", "bad trailer", SLM_ERR_INPUT},
    {"bytes after trailer", "2 unexpected bytes after the trailer", SLM_ERR_INPUT},
    {"GGUF imatrix", "GGUF-format imatrix", SLM_ERR_UNSUPPORTED},
};

static void build_bad(int i, image *im) {
    const float nan_vals[2] = {1.0f, NAN}, neg_vals[1] = {-1.0f};
    switch (i) {
    case 0: break;
    case 1: put_i32(im, 0); break;
    case 2: put_i32(im, 1000000000); put_entry(im, "a", 1, 1, vals); break;
    case 3: put_i32(im, 1); put_entry(im, "", 1, 4, vals); break;
    case 4: {
        char name[65];
        memset(name, 'x', 64);
        name[64] = 0;
        put_i32(im, 1);
        put_entry(im, name, 1, 1, vals);
        break;
    }
    case 5: put_i32(im, 1); put_i32(im, -5); put(im, "abcdefghijklmnop", 16); break;
    case 6: put_i32(im, 1); put_i32(im, 19); put(im, "blk.0.attn_q", 12); put(im, "\0\0\0\0\0", 5); break;
    case 7: put_i32(im, 1); put_entry(im, "ab", 1, 1, vals); im->b[9] = 0; break; /* "a\0" */
    case 8: /* a whole first entry, then the second cut inside nval */
        put_i32(im, 2);
        put_entry(im, "a", 1, 1, vals);
        put_entry(im, "blk.1.ffn_down.weight", 1, 1, vals);
        im->n -= 7;
        break;
    case 9: put_i32(im, 1); put_entry(im, "a", 1, 0, vals); put(im, "padding!", 8); break;
    case 10: put_i32(im, 1); put_entry(im, "a", 1, 4, vals); im->b[13] = 0xE8, im->b[14] = 0x03; break; /* nval 1000 */
    case 11: put_i32(im, 1); put_entry(im, "a", -1, 1, vals); break;
    case 12: put_i32(im, 1); put_entry(im, "a", 1, 2, nan_vals); break;
    case 13: put_i32(im, 1); put_entry(im, "a", 1, 1, neg_vals); break;
    case 14:
        put_i32(im, 2);
        put_entry(im, "blk.0.attn_q.weight", 1, 1, vals);
        put_entry(im, "blk.0.attn_q.weight", 1, 1, vals);
        break;
    case 15: put_i32(im, 2); put_entry(im, "blk.0.attn_q.weight", 1, 4, vals); put(im, "\0\0", 2); break;
    case 16: put_i32(im, 1); put_entry(im, "a", 1, 1, vals); put(im, "\1\2\3", 3); break;
    case 17: /* the dataset name claims 100 bytes, 5 follow */
        put_i32(im, 1);
        put_entry(im, "a", 1, 1, vals);
        put_i32(im, 40);
        put_i32(im, 100);
        put(im, "calib", 5);
        break;
    case 18:
        put_i32(im, 1);
        put_entry(im, "a", 1, 1, vals);
        put_trailer(im, 40, "calib.txt");
        put(im, "\n\n", 2);
        break;
    case 19: put(im, "GGUF", 4); put_i32(im, 3); put(im, "\0\0\0\0\0\0\0\0", 8); break;
    }
}

START_TEST(test_load_malformed) {
    const bad_case *bc = &bad_cases[_i];
    image im = {.n = 0};
    build_bad(_i, &im);
    char name[64];
    snprintf(name, sizeof name, "bad%d.imatrix", _i);
    const char *path = write_image(&im, name);
    char path_copy[4096];
    snprintf(path_copy, sizeof path_copy, "%s", path);
    slm_imatrix *m = (slm_imatrix *)&im; /* must be reset to NULL */
    slm_diag d = {0};
    slm_status st = slm_imatrix_load(path_copy, &m, &d);
    ck_assert_msg(st == bc->status, "%s: status %d (%s)", bc->what, st, d.msg);
    ck_assert_ptr_null(m);
    ck_assert_msg(strncmp(d.msg, path_copy, strlen(path_copy)) == 0, "%s: message does not name the file: %s",
                  bc->what, d.msg);
    ck_assert_msg(strstr(d.msg, bc->expect) != NULL, "%s: message '%s' lacks '%s'", bc->what, d.msg, bc->expect);
    /* A NULL diagnostic is allowed. */
    ck_assert_int_eq(slm_imatrix_load(path_copy, &m, NULL), bc->status);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_load_missing_file) {
    slm_imatrix *m = NULL;
    slm_diag d = {0};
    const char *path = ts_tmp("does-not-exist.imatrix");
    ck_assert_int_eq(slm_imatrix_load(path, &m, &d), SLM_ERR_IO);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(d.msg, "does-not-exist.imatrix") != NULL, "%s", d.msg);
}
END_TEST

/* The golden importance matrix: 14 blk.* entries over 40 chunks of
 * calib.txt; values are the raw sums divided by ncall, bit for bit. */
START_TEST(test_load_golden) {
    const char *p = ts_shared("golden/golden.imatrix");
    if (!p) return;
    char path[4096];
    snprintf(path, sizeof path, "%s", p);
    slm_imatrix *m = NULL;
    slm_diag d = {0};
    ck_assert_msg(slm_imatrix_load(path, &m, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(m->n_entries, 14);
    ck_assert_int_eq(m->last_call, 40);
    ck_assert_str_eq(m->dataset, "calib.txt");
    ck_assert_ptr_null(slm_imatrix_find(m, "token_embd.weight", NULL));
    ck_assert_ptr_null(slm_imatrix_find(m, "output.weight", NULL));

    size_t size = 0;
    uint8_t *raw = (uint8_t *)ts_read_file(path, &size);
    ck_assert_ptr_nonnull(raw);
    size_t pos = 4;
    for (int i = 0; i < 14; i++) {
        int32_t len, ncall, nval;
        memcpy(&len, raw + pos, 4);
        char name[64] = "";
        memcpy(name, raw + pos + 4, (size_t)len);
        pos += 4 + (size_t)len;
        memcpy(&ncall, raw + pos, 4);
        memcpy(&nval, raw + pos + 4, 4);
        pos += 8;
        ck_assert_int_eq(ncall, 40);
        ck_assert_int_eq(nval, strstr(name, "ffn_down") ? 768 : 256);
        int64_t n = 0;
        const float *v = slm_imatrix_find(m, name, &n);
        ck_assert_msg(v && n == nval, "%s", name);
        int n_bad = 0;
        for (int32_t k = 0; k < nval; k++) {
            float sum;
            memcpy(&sum, raw + pos + 4 * (size_t)k, 4);
            n_bad += v[k] != sum / ncall;
        }
        ck_assert_msg(n_bad == 0, "%s: %d values differ from sum/ncall", name, n_bad);
        pos += 4 * (size_t)nval;
    }
    free(raw);
    slm_imatrix_free(m);
}
END_TEST

static Suite *imatrix_suite(void) {
    Suite *s = suite_create("imatrix");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_load_well_formed);
    tcase_add_test(tc, test_load_without_trailer);
    tcase_add_loop_test(tc, test_load_malformed, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_load_missing_file);
    tcase_add_test(tc, test_load_golden);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(imatrix_suite()); }
