/* check_safetensors.c - the safetensors container: write -> open round trip,
 * and one test per kind of malformed file, each expecting a clean error that
 * names the file and the offending tensor. */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_safetensors.h"
#include "test_support.h"

/* Writes an 8-byte length, the header text as given, then `data`. */
static const char *write_raw(const char *name, const char *header, const void *data, size_t n) {
    const char *path = ts_tmp(name);
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + n + 1);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (n) memcpy(buf + 8 + hl, data, n);
    ck_assert_int_eq(ts_write_file(path, buf, 8 + hl + n), 0);
    free(buf);
    return path;
}

/* Opens `path` expecting failure with a message naming the file and
 * containing each of the given fragments. */
static void expect_fail(const char *path, slm_status want, const char *frag1, const char *frag2) {
    slm_st_file f;
    slm_diag d = {0};
    slm_status st = slm_st_open(path, &f, &d);
    ck_assert_msg(st == want, "status %d (%s), expected %d", st, d.msg, want);
    ck_assert_msg(strstr(d.msg, path) != NULL, "message does not name the file: %s", d.msg);
    if (frag1) ck_assert_msg(strstr(d.msg, frag1) != NULL, "'%s' not in: %s", frag1, d.msg);
    if (frag2) ck_assert_msg(strstr(d.msg, frag2) != NULL, "'%s' not in: %s", frag2, d.msg);
    ck_assert_uint_eq(f.n, 0);
    ck_assert_ptr_null(f.entries);
}

static const float k_f32[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};
static const uint16_t k_f16[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
static const uint16_t k_bf16[4] = {0x3f80, 0xbf80, 0x4049, 0x0000};

static slm_status get_fixture(void *ctx, size_t i, void *dst, slm_diag *d) {
    (void)ctx;
    (void)d;
    if (i == 0) memcpy(dst, k_f32, sizeof k_f32);
    if (i == 1) memcpy(dst, k_f16, sizeof k_f16);
    if (i == 2) memcpy(dst, k_bf16, sizeof k_bf16);
    return SLM_OK;
}

START_TEST(test_round_trip) {
    const char *path = ts_tmp("rt.safetensors");
    slm_st_write_tensor t[3] = {
        {"b.weight", SLM_TYPE_F32, 2, {2, 3}, get_fixture},
        {"a.weight", SLM_TYPE_F16, 1, {4}, get_fixture},
        {"c.bias", SLM_TYPE_BF16, 3, {1, 2, 2}, get_fixture},
    };
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    slm_diag d = {0};
    ck_assert_int_eq(slm_st_write(path, t, 3, NULL, mk, mv, 1, &d), SLM_OK);

    /* Raw layout: padded header, metadata first, keys in the given order. */
    size_t size;
    char *raw = ts_read_file(path, &size);
    ck_assert_ptr_nonnull(raw);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)raw[i];
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(size, 8 + n + sizeof k_f32 + sizeof k_f16 + sizeof k_bf16);
    json_t *root = json_loadb(raw + 8, (size_t)n, 0, NULL);
    ck_assert_ptr_nonnull(root);
    const char *key;
    json_t *v;
    const char *order[] = {"__metadata__", "b.weight", "a.weight", "c.bias"};
    int k = 0;
    json_object_foreach(root, key, v) ck_assert_str_eq(key, order[k++]);
    ck_assert_int_eq(k, 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "__metadata__"), "format")), "pt");
    json_decref(root);
    free(raw);

    slm_st_file f;
    ck_assert_int_eq(slm_st_open(path, &f, &d), SLM_OK);
    ck_assert_uint_eq(f.n, 3);
    ck_assert_str_eq(f.entries[0].name, "b.weight");
    ck_assert_int_eq(f.entries[0].type, SLM_TYPE_F32);
    ck_assert_int_eq(f.entries[0].n_dims, 2);
    ck_assert_int_eq(f.entries[0].shape[0], 2);
    ck_assert_int_eq(f.entries[0].shape[1], 3);
    ck_assert_uint_eq(f.entries[0].nbytes, sizeof k_f32);
    ck_assert_mem_eq(f.entries[0].data, k_f32, sizeof k_f32);
    ck_assert_str_eq(f.entries[1].name, "a.weight");
    ck_assert_int_eq(f.entries[1].type, SLM_TYPE_F16);
    ck_assert_mem_eq(f.entries[1].data, k_f16, sizeof k_f16);
    ck_assert_str_eq(f.entries[2].name, "c.bias");
    ck_assert_int_eq(f.entries[2].type, SLM_TYPE_BF16);
    ck_assert_int_eq(f.entries[2].n_dims, 3);
    ck_assert_mem_eq(f.entries[2].data, k_bf16, sizeof k_bf16);
    slm_st_close(&f, false);
}
END_TEST

static slm_status get_failing(void *ctx, size_t i, void *dst, slm_diag *d) {
    (void)ctx;
    if (i == 1) return slm_diag_set(d, SLM_ERR_IO, "tensor source vanished");
    memset(dst, 0, 16);
    return SLM_OK;
}

START_TEST(test_write_failure_leaves_nothing) {
    const char *path = ts_tmp("fail.safetensors");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    slm_st_write_tensor t[2] = {
        {"x", SLM_TYPE_F32, 1, {4}, get_failing},
        {"y", SLM_TYPE_F32, 1, {4}, get_failing},
    };
    slm_diag d = {0};
    ck_assert_int_eq(slm_st_write(path, t, 2, NULL, NULL, NULL, 0, &d), SLM_ERR_IO);
    ck_assert_msg(strstr(d.msg, "vanished") != NULL, "%s", d.msg);
    ck_assert(!ts_file_exists(path));
    ck_assert_int_eq(ts_count_prefix(dir, "fail.safetensors"), 0);
}
END_TEST

START_TEST(test_write_rejects_bad_tensors) {
    slm_diag d = {0};
    slm_st_write_tensor q = {"q", SLM_TYPE_Q8_0, 1, {32}, get_failing};
    ck_assert_int_eq(slm_st_write(ts_tmp("bad.safetensors"), &q, 1, NULL, NULL, NULL, 0, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "'q'") && strstr(d.msg, "q8_0"), "%s", d.msg);
    slm_diag_clear(&d);
    slm_st_write_tensor dup[2] = {{"x", SLM_TYPE_F32, 1, {1}, get_failing}, {"x", SLM_TYPE_F32, 1, {1}, get_failing}};
    ck_assert_int_eq(slm_st_write(ts_tmp("bad.safetensors"), dup, 2, NULL, NULL, NULL, 0, &d), SLM_ERR_USAGE);
    ck_assert_msg(strstr(d.msg, "duplicate"), "%s", d.msg);
    ck_assert(!ts_file_exists(ts_tmp("bad.safetensors")));
}
END_TEST

START_TEST(test_empty_header_object) {
    const char *p = write_raw("empty.safetensors", "{}      ", NULL, 0);
    slm_st_file f;
    slm_diag d = {0};
    ck_assert_int_eq(slm_st_open(p, &f, &d), SLM_OK);
    ck_assert_uint_eq(f.n, 0);
    slm_st_close(&f, false);
}
END_TEST

START_TEST(test_metadata_skipped) {
    float x[2] = {1, 2};
    const char *p = write_raw("meta.safetensors",
                              "{\"__metadata__\":{\"format\":\"pt\"},"
                              "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                              x, sizeof x);
    slm_st_file f;
    slm_diag d = {0};
    ck_assert_int_eq(slm_st_open(p, &f, &d), SLM_OK);
    ck_assert_uint_eq(f.n, 1);
    ck_assert_str_eq(f.entries[0].name, "w");
    slm_st_close(&f, false);
}
END_TEST

START_TEST(test_truncated_file) {
    const char *p = ts_tmp("short.safetensors");
    ck_assert_int_eq(ts_write_file(p, "\x10\0\0", 3), 0);
    expect_fail(p, SLM_ERR_INPUT, "too short", NULL);
    ck_assert_int_eq(ts_write_file(p, "", 0), 0);
    expect_fail(p, SLM_ERR_INPUT, "too short", NULL);
}
END_TEST

START_TEST(test_header_past_eof) {
    const char *p = ts_tmp("past.safetensors");
    unsigned char buf[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    ck_assert_int_eq(ts_write_file(p, buf, 10), 0);
    expect_fail(p, SLM_ERR_INPUT, "header length 100", "past the end");
    /* 2^63: must not overflow into a small number */
    unsigned char huge[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    ck_assert_int_eq(ts_write_file(p, huge, 10), 0);
    expect_fail(p, SLM_ERR_INPUT, "past the end", NULL);
    unsigned char ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    ck_assert_int_eq(ts_write_file(p, ones, 10), 0);
    expect_fail(p, SLM_ERR_INPUT, "past the end", NULL);
}
END_TEST

START_TEST(test_bad_json) {
    expect_fail(write_raw("badjson.safetensors", "{\"w\":{\"dtype\":", NULL, 0), SLM_ERR_INPUT, "invalid JSON",
                NULL);
    expect_fail(write_raw("array.safetensors", "[1,2]", NULL, 0), SLM_ERR_INPUT, "expected a JSON object", NULL);
    expect_fail(write_raw("garbage.safetensors", "\x01\x02garbage", NULL, 0), SLM_ERR_INPUT, "invalid JSON", NULL);
}
END_TEST

START_TEST(test_duplicate_names) {
    float x[2] = {0};
    const char *p = write_raw("dup.safetensors",
                              "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              x, sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "duplicate", NULL);
}
END_TEST

START_TEST(test_shape_size_mismatch) {
    float x[4] = {0};
    const char *p = write_raw("mismatch.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}",
                              x, sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "'w'", "need 12 bytes");
    /* BF16 has 2-byte elements: [4] is 8 bytes, not 16 */
    p = write_raw("mismatch2.safetensors", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,16]}}", x,
                  sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "'w'", "need 8 bytes");
    /* element count overflowing 64 bits must not wrap around to a match */
    p = write_raw("overflow.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,0]}}", NULL, 0);
    expect_fail(p, SLM_ERR_INPUT, "'w'", "more than");
}
END_TEST

START_TEST(test_offsets_out_of_range) {
    float x[2] = {0};
    const char *p = write_raw("oor.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", x,
                              sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "'w'", "past the end of the data");
    p = write_raw("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", x, sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "'w'", "begin <= end");
    p = write_raw("rev.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", x, sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "'w'", "begin <= end");
    p = write_raw("big.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775800,"
                  "9223372036854775804]}}",
                  x, sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "'w'", "past the end");
}
END_TEST

START_TEST(test_overlapping_offsets) {
    float x[4] = {0};
    const char *p = write_raw("overlap.safetensors",
                              "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                              x, sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "overlap", "'a' and 'b'");
    /* identical spans overlap too; an empty tensor overlaps nothing */
    p = write_raw("same.safetensors",
                  "{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                  x, sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "overlap", NULL);
}
END_TEST

START_TEST(test_unknown_dtype) {
    float x[1] = {0};
    const char *p = write_raw("unk.safetensors", "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", x,
                              sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "unknown dtype 'F33'", "'w'");
}
END_TEST

START_TEST(test_unsupported_dtype) {
    float x[1] = {0};
    const char *p = write_raw("i32.safetensors", "{\"w\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", x,
                              sizeof x);
    expect_fail(p, SLM_ERR_UNSUPPORTED, "unsupported dtype I32 for tensor 'w'", "expected F32, F16 or BF16");
    p = write_raw("f8.safetensors", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", x,
                  sizeof x);
    expect_fail(p, SLM_ERR_UNSUPPORTED, "F8_E4M3", NULL);
}
END_TEST

START_TEST(test_bad_dims) {
    float x[1] = {0};
    const char *p = write_raw("scalar.safetensors", "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", x,
                              sizeof x);
    expect_fail(p, SLM_ERR_UNSUPPORTED, "'s'", "0-dimensional");
    p = write_raw("5d.safetensors", "{\"s\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", x,
                  sizeof x);
    expect_fail(p, SLM_ERR_UNSUPPORTED, "'s'", "5 dimensions");
    p = write_raw("negdim.safetensors", "{\"s\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", x,
                  sizeof x);
    expect_fail(p, SLM_ERR_INPUT, "'s'", "shape[0]");
}
END_TEST

START_TEST(test_wrong_json_types) {
    float x[1] = {0};
    expect_fail(write_raw("t1.safetensors", "{\"w\":[1,2]}", x, sizeof x), SLM_ERR_INPUT, "'w'",
                "expected an object");
    expect_fail(write_raw("t2.safetensors", "{\"w\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", x, sizeof x),
                SLM_ERR_INPUT, "'dtype'", "expected a string");
    expect_fail(write_raw("t3.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", x,
                          sizeof x),
                SLM_ERR_INPUT, "'shape'", "array");
    expect_fail(write_raw("t4.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", x,
                          sizeof x),
                SLM_ERR_INPUT, "shape[0]", "integer");
    expect_fail(write_raw("t5.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", x,
                          sizeof x),
                SLM_ERR_INPUT, "'data_offsets'", NULL);
    expect_fail(write_raw("t6.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", x, sizeof x), SLM_ERR_INPUT,
                "'data_offsets'", NULL);
    expect_fail(write_raw("t7.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", x, sizeof x),
                SLM_ERR_INPUT, "'dtype'", "missing");
}
END_TEST

START_TEST(test_missing_file) {
    slm_st_file f;
    slm_diag d = {0};
    const char *p = ts_tmp("does-not-exist.safetensors");
    ck_assert_int_eq(slm_st_open(p, &f, &d), SLM_ERR_IO);
    ck_assert_msg(strstr(d.msg, p) != NULL, "%s", d.msg);
}
END_TEST

static Suite *safetensors_suite(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_write_failure_leaves_nothing);
    tcase_add_test(tc, test_write_rejects_bad_tensors);
    tcase_add_test(tc, test_empty_header_object);
    tcase_add_test(tc, test_metadata_skipped);
    tcase_add_test(tc, test_truncated_file);
    tcase_add_test(tc, test_header_past_eof);
    tcase_add_test(tc, test_bad_json);
    tcase_add_test(tc, test_duplicate_names);
    tcase_add_test(tc, test_shape_size_mismatch);
    tcase_add_test(tc, test_offsets_out_of_range);
    tcase_add_test(tc, test_overlapping_offsets);
    tcase_add_test(tc, test_unknown_dtype);
    tcase_add_test(tc, test_unsupported_dtype);
    tcase_add_test(tc, test_bad_dims);
    tcase_add_test(tc, test_wrong_json_types);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(safetensors_suite());
}
