/* check_report.c - the compile report: its JSON reads back with the values
 * put in (totals and bits per weight computed from the tensor rows, unknown
 * numbers as null), the Markdown has its tables and links the plot, the SVG
 * is well-formed with one marker per plotted candidate and the budget line,
 * and a write that fails names the file and leaves no temporary file. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slmc_report.h"
#include "test_support.h"

#define MIB (1024ull * 1024ull)

/* A budget search on a ~0.5B model: a λ sweep, four fixed recipes, one
 * candidate that was never scored, a prediction without a measurement. */
static slmc_report *sample(void) {
    slmc_report *r = slmc_report_new();
    ck_assert_ptr_nonnull(r);
    slmc_report_overall o = {"models/qwen2.5-0.5b", "out/qwen-q4.gguf", 401 * MIB + 12345, 83.25};
    slmc_report_set_overall(r, &o);
    slmc_report_tensor t0 = {"token_embd.weight", {896, 151936, 1, 1}, 2, SLM_TYPE_BF16, SLM_TYPE_Q6_K,
                             111672960, -1, "rtn", NAN, NULL};
    slmc_report_tensor t1 = {"blk.0.attn_q.weight", {896, 896, 1, 1}, 2, SLM_TYPE_BF16, SLM_TYPE_Q4_K,
                             451584, 0.5, "awq+gptq", 0.0123, "pruned weights not exactly 0 in q4_k"};
    slmc_report_tensor t2 = {"blk.0.attn_norm.weight", {896, 1, 1, 1}, 1, SLM_TYPE_BF16, SLM_TYPE_F32,
                             3584, -1, "copy", -1, "a | pipe"};
    slmc_report_add_tensor(r, &t0);
    slmc_report_add_tensor(r, &t1);
    slmc_report_add_tensor(r, &t2);
    slmc_report_add_pass(r, "prune", "wanda 2:4 on 168 matrices", 4.5);
    slmc_report_add_pass(r, "quantize", "awq+gptq, budget search", 71.0);
    slmc_report_add_pass(r, "score", NULL, NAN);
    slmc_report_scores s = {0.0251, 0.0102, 0.061, 0.31, 4.7, 0.912, -0.0031, 0.052, 12.41, 12.93, 65536,
                            "data/wiki.test.txt"};
    s.kld_p99 = NAN;
    slmc_report_set_scores(r, &s);
    slmc_report_set_budget(r, 400 * MIB);
    static const struct {
        const char *label;
        double mib, pred, meas;
        bool chosen, preset;
    } c[] = {
        {"search λ=8", 262, 0.30, 0.27, 0, 0},     {"search λ=4", 291, 0.16, 0.15, 0, 0},
        {"search λ=2", 322, 0.085, 0.081, 0, 0},   {"search λ=1", 356, 0.044, 0.046, 0, 0},
        {"search λ=0.5", 396, 0.024, 0.0251, 1, 0}, {"search λ=0.25", 441, 0.012, NAN, 0, 0},
        {"search λ=0.1", 497, 0.0055, 0.0058, 0, 0}, {"uniform q3_k", 300, NAN, 0.21, 0, 1},
        {"preset q3_k_m", 338, NAN, 0.118, 0, 1},   {"preset q4_k_m", 398, NAN, 0.041, 0, 1},
        {"preset q5_k_m", 452, NAN, 0.0148, 0, 1},  {"preset q8_0", 531, NAN, 0.0021, 0, 1},
        {"uniform q2_k", 230, NAN, NAN, 0, 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        slmc_report_candidate k = {c[i].label, (uint64_t)(c[i].mib * MIB), c[i].pred, c[i].meas, c[i].chosen,
                                   c[i].preset};
        slmc_report_add_candidate(r, &k);
    }
    slmc_report_add_warning(r, "%s: calibration covers %d of %d layers", "imatrix.dat", 23, 24);
    return r;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Tags balance, attributes are quoted, every '&' starts an entity, and there
 * is one root element, <svg>. Enough XML to catch a renderer's slips. */
static void check_xml(const char *s) {
    const char *stack[64];
    int depth = 0, roots = 0;
    const char *p = s;
    while (*p) {
        if (*p == '&') {
            ck_assert_msg(!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) || !strncmp(p, "&gt;", 4) ||
                              !strncmp(p, "&quot;", 6) || !strncmp(p, "&apos;", 6),
                          "bare & at %.20s", p);
            p++;
            continue;
        }
        if (*p != '<') {
            ck_assert_msg(*p != '>', "stray > at %.20s", p);
            p++;
            continue;
        }
        if (!strncmp(p, "<?", 2)) {
            p = strstr(p, "?>");
            ck_assert_ptr_nonnull(p);
            p += 2;
            continue;
        }
        if (p[1] == '/') {
            ck_assert_int_gt(depth, 0);
            const char *name = stack[--depth];
            size_t n = strcspn(name, " \t\n/>");
            ck_assert_msg(!strncmp(p + 2, name, n) && p[2 + n] == '>', "</%.10s> closes <%.*s>", p + 2, (int)n, name);
            p += 3 + n;
            continue;
        }
        const char *name = p + 1, *q = name;
        ck_assert_msg((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'), "bad tag at %.20s", p);
        char quote = 0;
        for (; *q && (quote || *q != '>'); q++) {
            if (quote) {
                ck_assert_msg(*q != '<', "< inside an attribute at %.30s", p);
                if (*q == quote) quote = 0;
            } else if (*q == '"' || *q == '\'') {
                ck_assert_msg(q[-1] == '=', "unquoted attribute at %.30s", p);
                quote = *q;
            } else if (*q == '=') {
                ck_assert_msg(q[1] == '"' || q[1] == '\'', "unquoted attribute at %.30s", p);
            }
        }
        ck_assert_msg(*q == '>', "unterminated tag at %.30s", p);
        if (q[-1] != '/') {
            ck_assert_int_lt(depth, 64);
            if (depth == 0) roots++;
            stack[depth++] = name;
        } else if (depth == 0) {
            roots++;
        }
        p = q + 1;
    }
    ck_assert_int_eq(depth, 0);
    ck_assert_int_eq(roots, 1);
    ck_assert(strstr(s, "<svg ") != NULL);
}

START_TEST(json_reads_back) {
    slmc_report *r = sample();
    char path[4200];
    snprintf(path, sizeof path, "%s", ts_tmp("rep/report.json"));
    mkdir(ts_tmp("rep"), 0777);
    slm_diag d = {0};
    ck_assert_msg(slmc_report_write(r, path, &d) == SLM_OK, "%s", d.msg);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "%s:%d: %s", path, err.line, err.text);

    /* fixed key order */
    const char *want_keys[] = {"slmc_report", "input", "output", "summary", "scores",
                               "search", "passes", "tensors", "warnings"};
    void *it = json_object_iter(j);
    for (size_t i = 0; i < sizeof want_keys / sizeof *want_keys; i++, it = json_object_iter_next(j, it)) {
        ck_assert_ptr_nonnull(it);
        ck_assert_str_eq(json_object_iter_key(it), want_keys[i]);
    }
    ck_assert_str_eq(json_string_value(json_object_get(j, "output")), "out/qwen-q4.gguf");

    uint64_t elems = 896ull * 151936 + 896ull * 896 + 896, bytes = 111672960ull + 451584 + 3584;
    json_t *sum = json_object_get(j, "summary");
    ck_assert_uint_eq(json_integer_value(json_object_get(sum, "artifact_bytes")), 401 * MIB + 12345);
    ck_assert_uint_eq(json_integer_value(json_object_get(sum, "tensor_bytes")), bytes);
    ck_assert_uint_eq(json_integer_value(json_object_get(sum, "n_weights")), elems);
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "n_tensors")), 3);
    double bpw = json_real_value(json_object_get(sum, "bits_per_weight"));
    ck_assert_double_eq_tol(bpw, 8.0 * bytes / elems, 1e-12);
    ck_assert_double_eq_tol(json_real_value(json_object_get(sum, "seconds")), 83.25, 1e-12);
    uint64_t n_w;
    double bpw2;
    slmc_report_totals(r, &n_w, NULL, &bpw2);
    ck_assert_uint_eq(n_w, elems);
    ck_assert_double_eq(bpw2, bpw);

    json_t *sc = json_object_get(j, "scores");
    ck_assert(json_is_null(json_object_get(sc, "kld_p99")));
    ck_assert_double_eq_tol(json_real_value(json_object_get(sc, "kld_mean")), 0.0251, 1e-15);
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "n_tokens")), 65536);
    ck_assert_str_eq(json_string_value(json_object_get(sc, "data")), "data/wiki.test.txt");

    json_t *ts = json_object_get(j, "tensors");
    ck_assert_int_eq(json_array_size(ts), 3);
    json_t *t0 = json_array_get(ts, 0), *t1 = json_array_get(ts, 1), *t2 = json_array_get(ts, 2);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "src_type")), "bf16");
    ck_assert_str_eq(json_string_value(json_object_get(t0, "type")), "q6_k");
    ck_assert_int_eq(json_array_size(json_object_get(t0, "shape")), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(t0, "shape"), 1)), 151936);
    ck_assert(json_is_null(json_object_get(t0, "sparsity")));
    ck_assert(json_is_null(json_object_get(t0, "error")));  /* NaN */
    ck_assert(json_is_null(json_object_get(t2, "error")));  /* negative */
    ck_assert(json_is_null(json_object_get(t0, "note")));
    ck_assert_double_eq_tol(json_real_value(json_object_get(t0, "bits_per_weight")), 6.5625, 1e-12);
    ck_assert_double_eq(json_real_value(json_object_get(t1, "sparsity")), 0.5);
    ck_assert_double_eq_tol(json_real_value(json_object_get(t1, "error")), 0.0123, 1e-15);
    ck_assert_str_eq(json_string_value(json_object_get(t1, "method")), "awq+gptq");
    ck_assert_str_eq(json_string_value(json_object_get(t1, "note")), "pruned weights not exactly 0 in q4_k");

    json_t *ps = json_object_get(j, "passes");
    ck_assert_int_eq(json_array_size(ps), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ps, 1), "name")), "quantize");
    ck_assert(json_is_null(json_object_get(json_array_get(ps, 2), "summary")));
    ck_assert(json_is_null(json_object_get(json_array_get(ps, 2), "seconds")));

    json_t *se = json_object_get(j, "search");
    ck_assert_uint_eq(json_integer_value(json_object_get(se, "budget_bytes")), 400 * MIB);
    json_t *cs = json_object_get(se, "candidates");
    ck_assert_int_eq(json_array_size(cs), 13);
    int n_chosen = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (json_is_true(json_object_get(c, "chosen"))) {
            n_chosen++;
            ck_assert_uint_eq(i, 4);
        }
    }
    ck_assert_int_eq(n_chosen, 1);
    json_t *c4 = json_array_get(cs, 4), *c5 = json_array_get(cs, 5), *c9 = json_array_get(cs, 9);
    ck_assert_str_eq(json_string_value(json_object_get(c4, "label")), "search λ=0.5");
    ck_assert_uint_eq(json_integer_value(json_object_get(c4, "bytes")), 396 * MIB);
    ck_assert(json_is_null(json_object_get(c5, "kld_measured")));
    ck_assert(json_is_null(json_object_get(c9, "kld_predicted")));
    ck_assert(json_is_true(json_object_get(c9, "preset")));
    ck_assert(json_is_false(json_object_get(c4, "preset")));

    json_t *ws = json_object_get(j, "warnings");
    ck_assert_int_eq(json_array_size(ws), 1);
    ck_assert_str_eq(json_string_value(json_array_get(ws, 0)), "imatrix.dat: calibration covers 23 of 24 layers");
    json_decref(j);
    slmc_report_free(r);
}
END_TEST

START_TEST(markdown_has_tables_and_plot) {
    slmc_report *r = sample();
    mkdir(ts_tmp("rep"), 0777);
    char path[4200], md[4200], svg[4200];
    snprintf(path, sizeof path, "%s", ts_tmp("rep/report.json"));
    snprintf(md, sizeof md, "%s", ts_tmp("rep/report.md"));
    snprintf(svg, sizeof svg, "%s", ts_tmp("rep/report.svg"));
    slm_diag d = {0};
    ck_assert_msg(slmc_report_write(r, path, &d) == SLM_OK, "%s", d.msg);
    ck_assert(ts_file_exists(svg));
    char *t = ts_read_file(md, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert(strstr(t, "## Summary\n\n| | |\n|---|---|\n") != NULL);
    ck_assert(strstr(t, "| Bits per weight | ") != NULL);
    ck_assert(strstr(t, "| Artifact size | 401.01 MiB (420,491,321 bytes) |") != NULL);
    ck_assert(strstr(t, "| KLD mean / median | 0.0251 / 0.0102 |") != NULL);
    ck_assert(strstr(t, "| KLD p90 / p99 / max | 0.061 / – / 4.7 |") != NULL);
    ck_assert(strstr(t, "![size vs KLD](report.svg)") != NULL);
    ck_assert(strstr(t, "## Passes\n\n| # | Pass | Summary | Time |") != NULL);
    ck_assert(strstr(t, "| 2 | quantize | awq+gptq, budget search | 71.00 s |") != NULL);
    ck_assert(strstr(t, "| Tensor | Shape | Type | Bytes | bpw | Sparsity | Method | Error | Note |") != NULL);
    ck_assert(strstr(t, "| `blk.0.attn_q.weight` | 896×896 | bf16 → q4_k | 451,584 | 4.50 | 50.0 % | awq+gptq |") !=
              NULL);
    ck_assert(strstr(t, "a \\| pipe") != NULL); /* a pipe in a note does not split the row */
    ck_assert(strstr(t, "| **search λ=0.5** | search | 396.00 MiB |") != NULL);
    ck_assert(strstr(t, "- imatrix.dat: calibration covers 23 of 24 layers") != NULL);
    free(t);

    /* without candidates: no plot, no link */
    slmc_report *r2 = slmc_report_new();
    snprintf(path, sizeof path, "%s", ts_tmp("rep/plain"));
    snprintf(md, sizeof md, "%s", ts_tmp("rep/plain.md"));
    snprintf(svg, sizeof svg, "%s", ts_tmp("rep/plain.svg"));
    ck_assert_msg(slmc_report_write(r2, path, &d) == SLM_OK, "%s", d.msg);
    ck_assert(ts_file_exists(path));
    ck_assert(!ts_file_exists(svg));
    t = ts_read_file(md, NULL);
    ck_assert(strstr(t, "![") == NULL);
    ck_assert(strstr(t, "No tensors.") != NULL);
    free(t);
    slmc_report_free(r2);
    slmc_report_free(r);
}
END_TEST

START_TEST(svg_is_wellformed) {
    slmc_report *r = sample();
    char path[4200];
    snprintf(path, sizeof path, "%s", ts_tmp("plot-log.svg"));
    slm_diag d = {0};
    ck_assert_msg(slmc_report_write_svg(r, path, &d) == SLM_OK, "%s", d.msg);
    char *s = ts_read_file(path, NULL);
    check_xml(s);
    /* 13 candidates, one never scored */
    ck_assert_int_eq(count(s, "class=\"marker "), 12);
    ck_assert_int_eq(count(s, "class=\"marker preset\""), 5);
    ck_assert_int_eq(count(s, "class=\"budget\""), 1);
    ck_assert_int_eq(count(s, "class=\"chosen\""), 1);
    ck_assert(strstr(s, "1 candidate without a KLD not shown") != NULL);
    ck_assert(strstr(s, "log scale") != NULL); /* 0.0021 .. 0.27 */
    ck_assert(strstr(s, "preset q4_k_m</text>") != NULL);
    free(s);
    slmc_report_free(r);

    /* a narrow KLD range stays linear; one point, no budget; none at all */
    for (int k = 0; k < 3; k++) {
        r = slmc_report_new();
        for (int i = 0; i < (k == 0 ? 5 : k == 1 ? 1 : 0); i++) {
            slmc_report_candidate c = {"p", (uint64_t)(100 + 10 * i) * 1000, NAN, 0.1 + 0.05 * i, i == 2, i == 3};
            slmc_report_add_candidate(r, &c);
        }
        if (k == 0) slmc_report_set_budget(r, 125000);
        ck_assert_msg(slmc_report_write_svg(r, path, &d) == SLM_OK, "%s", d.msg);
        s = ts_read_file(path, NULL);
        check_xml(s);
        ck_assert(strstr(s, "log scale") == NULL);
        ck_assert_int_eq(count(s, "class=\"marker "), k == 0 ? 5 : k == 1 ? 1 : 0);
        ck_assert_int_eq(count(s, "class=\"budget\""), k == 0);
        ck_assert(strstr(s, "nan") == NULL && strstr(s, "inf") == NULL);
        free(s);
        slmc_report_free(r);
    }
}
END_TEST

START_TEST(unwritable_path_fails_cleanly) {
    slmc_report *r = sample();
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s", ts_tmp("blocked"));
    mkdir(dir, 0777);
    /* a directory where the file should go: the rename fails after the
     * temporary file was written */
    snprintf(path, sizeof path, "%s/r.json", dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    slm_diag d = {0};
    ck_assert_int_eq(slmc_report_write_json(r, path, &d), SLM_ERR_IO);
    ck_assert_msg(strstr(d.msg, path) != NULL, "%s", d.msg);
    ck_assert_int_eq(ts_count_prefix(dir, "r.json.tmp"), 0);

    /* the same through slmc_report_write, failing at the Markdown */
    snprintf(path, sizeof path, "%s/s.md", dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/s.json", dir);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmc_report_write(r, path, &d), SLM_ERR_IO);
    ck_assert_msg(strstr(d.msg, "s.md") != NULL, "%s", d.msg);
    ck_assert_int_eq(ts_count_prefix(dir, "s.md.tmp"), 0);
    ck_assert(!ts_file_exists(path));

    /* a missing directory */
    snprintf(path, sizeof path, "%s/no/such/dir/r.svg", dir);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmc_report_write_svg(r, path, &d), SLM_ERR_IO);
    ck_assert_msg(strstr(d.msg, path) != NULL, "%s", d.msg);
    slmc_report_free(r);
    slmc_report_free(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, json_reads_back);
    tcase_add_test(tc, markdown_has_tables_and_plot);
    tcase_add_test(tc, svg_is_wellformed);
    tcase_add_test(tc, unwritable_path_fails_cleanly);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
