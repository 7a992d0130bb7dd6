/* check_cli_errors.c - malformed inputs through the CLI (issue 2, done-when
 * 5): each case must exit with the documented input-error code (3), print a
 * message naming the problem, not crash (the sanitizer build runs this too:
 * an ASan report exits 1), and leave no output or temporary file behind. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* A valid base artifact, made once per process from the synthetic model. */
static char base_gguf[4096], base_dir[4096];
static unsigned char *base;
static size_t base_size;

typedef struct tinfo {
    size_t name_len_pos, name_pos, ndims_pos, ne_pos, type_pos, offset_pos;
    uint64_t name_len;
} tinfo;
static tinfo infos[128];
static uint64_t n_infos;
static size_t first_key_len_pos;

static uint64_t rd64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t rd32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Walks a well-formed GGUF to find where each field lives. */
static void walk(void) {
    static const int sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    size_t p = 8;
    n_infos = rd64(base + p);
    uint64_t n_kv = rd64(base + p + 8);
    p += 16;
    first_key_len_pos = p;
    for (uint64_t i = 0; i < n_kv; i++) {
        p += 8 + rd64(base + p);
        uint32_t t = rd32(base + p);
        p += 4;
        if (t == 8) {
            p += 8 + rd64(base + p);
        } else if (t == 9) {
            uint32_t et = rd32(base + p);
            uint64_t n = rd64(base + p + 4);
            p += 12;
            for (uint64_t k = 0; k < n; k++) p += et == 8 ? 8 + rd64(base + p) : (size_t)sz[et];
        } else {
            p += (size_t)sz[t];
        }
    }
    ck_assert_uint_le(n_infos, 128);
    for (uint64_t i = 0; i < n_infos; i++) {
        tinfo *ti = &infos[i];
        ti->name_len_pos = p;
        ti->name_len = rd64(base + p);
        ti->name_pos = p + 8;
        p += 8 + ti->name_len;
        ti->ndims_pos = p;
        uint32_t nd = rd32(base + p);
        ti->ne_pos = p + 4;
        p += 4 + 8 * nd;
        ti->type_pos = p;
        ti->offset_pos = p + 4;
        p += 12;
    }
}

static void make_base(void) {
    if (base) return;
    snprintf(base_dir, sizeof base_dir, "%s", ts_tmp("tiny-hf"));
    ck_assert_int_eq(ts_run(NULL, "%s synth --arch llama --preset tiny -o %s --quiet", ts_bin("slmc"), base_dir), 0);
    snprintf(base_gguf, sizeof base_gguf, "%s", ts_tmp("base.gguf"));
    ck_assert_int_eq(ts_run(NULL, "%s compile %s -o %s --quiet", ts_bin("slmc"), base_dir, base_gguf), 0);
    base = (unsigned char *)ts_read_file(base_gguf, &base_size);
    ck_assert_ptr_nonnull(base);
    walk();
}

/* Compiles `input`; asserts exit code, message fragment, and no output. */
static void expect_failure(const char *input, int want_rc, const char *fragment) {
    char out_dir[4096], out[4096], log[4096];
    snprintf(out_dir, sizeof out_dir, "%s", ts_tmp("outdir"));
    ts_run(NULL, "mkdir -p %s", out_dir);
    snprintf(out, sizeof out, "%s/out.gguf", out_dir);
    snprintf(log, sizeof log, "%s.log", out_dir);
    int rc = ts_run(log, "%s compile %s -o %s", ts_bin("slmc"), input, out);
    char *msg = ts_read_file(log, NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(rc == want_rc, "exit %d, expected %d; output:\n%s", rc, want_rc, msg);
    ck_assert_msg(strstr(msg, fragment) != NULL, "message lacks '%s':\n%s", fragment, msg);
    ck_assert_msg(strstr(msg, "AddressSanitizer") == NULL && strstr(msg, "runtime error") == NULL,
                  "sanitizer report:\n%s", msg);
    ck_assert_msg(!ts_file_exists(out), "output file left behind");
    ck_assert_int_eq(ts_count_prefix(out_dir, "out.gguf"), 0);
    /* inspect must fail the same way, without crashing */
    rc = ts_run(log, "%s inspect %s", ts_bin("slmc"), input);
    free(msg);
    msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == want_rc, "inspect exit %d, expected %d:\n%s", rc, want_rc, msg);
    free(msg);
}

static const char *write_variant(const char *name, const unsigned char *data, size_t size) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp(name));
    ck_assert_int_eq(ts_write_file(path, data, size), 0);
    return path;
}

/* NUL-terminated name of tensor i of the base file. */
static const char *tensor_name(uint64_t i) {
    static char name[80];
    snprintf(name, sizeof name, "%.*s", (int)infos[i].name_len, (const char *)base + infos[i].name_pos);
    return name;
}

static unsigned char *copy_base(void) {
    unsigned char *c = malloc(base_size);
    memcpy(c, base, base_size);
    return c;
}

START_TEST(gguf_truncated) {
    make_base();
    size_t cuts[] = {3, 12, 30, infos[0].name_pos + 2, infos[n_infos - 1].offset_pos + 4, base_size - 100};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "trunc%zu.gguf", i);
        expect_failure(write_variant(name, base, cuts[i]), 3, "gguf");
    }
}
END_TEST

START_TEST(gguf_string_length_past_end) {
    make_base();
    unsigned char *c = copy_base();
    uint64_t huge = (uint64_t)base_size * 4;
    memcpy(c + first_key_len_pos, &huge, 8);
    expect_failure(write_variant("strlen.gguf", c, base_size), 3, "past the end");
    free(c);
}
END_TEST

START_TEST(gguf_absurd_tensor_count) {
    make_base();
    unsigned char *c = copy_base();
    uint64_t absurd = UINT64_C(1) << 60;
    memcpy(c + 8, &absurd, 8);
    expect_failure(write_variant("ntensors.gguf", c, base_size), 3, "tensor");
    free(c);
}
END_TEST

START_TEST(gguf_absurd_kv_count) {
    make_base();
    unsigned char *c = copy_base();
    uint64_t absurd = UINT64_C(1) << 40;
    memcpy(c + 16, &absurd, 8);
    expect_failure(write_variant("nkv.gguf", c, base_size), 3, "gguf");
    free(c);
}
END_TEST

START_TEST(gguf_offset_out_of_range) {
    make_base();
    unsigned char *c = copy_base();
    uint64_t off = (uint64_t)base_size * 2;
    off &= ~(uint64_t)31;
    memcpy(c + infos[n_infos - 1].offset_pos, &off, 8);
    expect_failure(write_variant("offrange.gguf", c, base_size), 3, tensor_name(n_infos - 1));
    free(c);
}
END_TEST

START_TEST(gguf_offsets_overlap) {
    make_base();
    unsigned char *c = copy_base();
    uint64_t off0 = rd64(base + infos[0].offset_pos);
    memcpy(c + infos[1].offset_pos, &off0, 8);
    expect_failure(write_variant("overlap.gguf", c, base_size), 3, "overlap");
    free(c);
}
END_TEST

START_TEST(gguf_duplicate_tensor_name) {
    make_base();
    /* find two tensor names of equal length and make the second equal the first */
    for (uint64_t i = 0; i < n_infos; i++)
        for (uint64_t j = i + 1; j < n_infos; j++)
            if (infos[i].name_len == infos[j].name_len) {
                unsigned char *c = copy_base();
                memcpy(c + infos[j].name_pos, base + infos[i].name_pos, infos[i].name_len);
                expect_failure(write_variant("dupname.gguf", c, base_size), 3, "duplicate");
                free(c);
                return;
            }
    ck_abort_msg("no two tensor names of equal length");
}
END_TEST

START_TEST(gguf_unknown_tensor_type) {
    make_base();
    unsigned char *c = copy_base();
    uint32_t bad = 77;
    memcpy(c + infos[0].type_pos, &bad, 4);
    expect_failure(write_variant("badtype.gguf", c, base_size), 3, "type");
    free(c);
}
END_TEST

START_TEST(gguf_shape_byte_size_mismatch) {
    make_base();
    /* doubling a dimension makes the tensor need more bytes than its slot */
    unsigned char *c = copy_base();
    uint64_t ne1 = rd64(base + infos[n_infos - 1].ne_pos + 8) * 64;
    memcpy(c + infos[n_infos - 1].ne_pos + 8, &ne1, 8);
    expect_failure(write_variant("shape.gguf", c, base_size), 3, tensor_name(n_infos - 1));
    free(c);
}
END_TEST

/* --- Hugging Face folders: config.json and safetensors headers --- */

static const char *hf_variant(const char *name) {
    static char dir[4096];
    make_base();
    snprintf(dir, sizeof dir, "%s", ts_tmp(name));
    ck_assert_int_eq(ts_run(NULL, "rm -rf %s && cp -r %s %s", dir, base_dir, dir), 0);
    return dir;
}

START_TEST(hf_bad_config_json) {
    const char *dir = hf_variant("badjson");
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    ck_assert_int_eq(ts_write_file(p, "{\"hidden_size\": 128,", 20), 0);
    expect_failure(dir, 3, "config.json");
}
END_TEST

/* Writes dir/model.safetensors with the given header and `data_bytes` zero bytes. */
static void write_safetensors(const char *dir, const char *header, size_t data_bytes) {
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    size_t hl = strlen(header);
    size_t total = 8 + hl + data_bytes;
    unsigned char *buf = calloc(1, total);
    uint64_t n = hl;
    memcpy(buf, &n, 8);
    memcpy(buf + 8, header, hl);
    ck_assert_int_eq(ts_write_file(p, buf, total), 0);
    free(buf);
}

START_TEST(st_header_length_past_end) {
    const char *dir = hf_variant("sthdr");
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unsigned char buf[16] = {0};
    uint64_t n = 1u << 30;
    memcpy(buf, &n, 8);
    memcpy(buf + 8, "{}      ", 8);
    ck_assert_int_eq(ts_write_file(p, buf, sizeof buf), 0);
    expect_failure(dir, 3, "model.safetensors");
}
END_TEST

START_TEST(st_truncated) {
    const char *dir = hf_variant("sttrunc");
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    ck_assert_int_eq(ts_run(NULL, "truncate -s 100000 %s", p), 0);
    expect_failure(dir, 3, "model.safetensors");
}
END_TEST

START_TEST(st_bad_json_header) {
    const char *dir = hf_variant("stjson");
    write_safetensors(dir, "{\"model.norm.weight\": {\"dtype\": \"F32\",", 64);
    expect_failure(dir, 3, "model.safetensors");
}
END_TEST

START_TEST(st_duplicate_names) {
    const char *dir = hf_variant("stdup");
    write_safetensors(dir,
                      "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                      "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
                      32);
    expect_failure(dir, 3, "model.norm.weight");
}
END_TEST

START_TEST(st_shape_size_mismatch) {
    const char *dir = hf_variant("stshape");
    write_safetensors(dir, "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}", 16);
    expect_failure(dir, 3, "model.norm.weight");
}
END_TEST

START_TEST(st_offsets_overlap) {
    const char *dir = hf_variant("stoverlap");
    write_safetensors(dir,
                      "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                      "\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                      32);
    expect_failure(dir, 3, "overlap");
}
END_TEST

START_TEST(st_offsets_out_of_range) {
    const char *dir = hf_variant("strange");
    write_safetensors(dir, "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[64,80]}}", 16);
    expect_failure(dir, 3, "model.norm.weight");
}
END_TEST

START_TEST(st_unknown_dtype) {
    const char *dir = hf_variant("stdtype");
    write_safetensors(dir, "{\"model.norm.weight\":{\"dtype\":\"F99\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16);
    expect_failure(dir, 3, "F99");
}
END_TEST

START_TEST(l2c_truncated) {
    const char *src = ts_shared("models/stories260K.bin");
    if (!src) return;
    unsigned char *b = NULL;
    size_t n = 0;
    b = (unsigned char *)ts_read_file(src, &n);
    ck_assert_ptr_nonnull(b);
    expect_failure(write_variant("trunc.bin", b, n / 2), 3, "trunc.bin");
    free(b);
}
END_TEST

START_TEST(usage_errors) {
    make_base();
    char log[4096];
    snprintf(log, sizeof log, "%s", ts_tmp("usage.log"));
    ck_assert_int_eq(ts_run(log, "%s compile %s --type q9_9 -o /dev/null", ts_bin("slmc"), base_gguf), 2);
    ck_assert_int_eq(ts_run(log, "%s compile %s", ts_bin("slmc"), base_gguf), 2);
    ck_assert_int_eq(ts_run(log, "%s frobnicate", ts_bin("slmc")), 2);
    ck_assert_int_eq(ts_run(log, "%s compile /nonexistent/model -o x.gguf", ts_bin("slmc")), 4);
    /* unwritable output directory: I/O error, nothing left */
    ck_assert_int_eq(ts_run(log, "%s compile %s -o /nonexistent-dir/x.gguf", ts_bin("slmc"), base_gguf), 4);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cli_errors");
    TCase *tc = tcase_create("malformed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gguf_truncated);
    tcase_add_test(tc, gguf_string_length_past_end);
    tcase_add_test(tc, gguf_absurd_tensor_count);
    tcase_add_test(tc, gguf_absurd_kv_count);
    tcase_add_test(tc, gguf_offset_out_of_range);
    tcase_add_test(tc, gguf_offsets_overlap);
    tcase_add_test(tc, gguf_duplicate_tensor_name);
    tcase_add_test(tc, gguf_unknown_tensor_type);
    tcase_add_test(tc, gguf_shape_byte_size_mismatch);
    tcase_add_test(tc, hf_bad_config_json);
    tcase_add_test(tc, st_header_length_past_end);
    tcase_add_test(tc, st_truncated);
    tcase_add_test(tc, st_bad_json_header);
    tcase_add_test(tc, st_duplicate_names);
    tcase_add_test(tc, st_shape_size_mismatch);
    tcase_add_test(tc, st_offsets_overlap);
    tcase_add_test(tc, st_offsets_out_of_range);
    tcase_add_test(tc, st_unknown_dtype);
    tcase_add_test(tc, l2c_truncated);
    tcase_add_test(tc, usage_errors);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
