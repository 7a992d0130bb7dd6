/* check_methods_e2e.c - the calibrated quantization methods through the
 * CLIs on a real trained model (../shared/models/shakespeare-F16.gguf):
 * slmc calibrate --gram on the calibration text, slmc compile --type q4_0
 * with --method imatrix / gptq / awq / awq+gptq, slmrt eval --ref on
 * held-out text (disjoint from the calibration text). Asserted: every
 * artifact loads and runs; the calibrated methods keep more of the teacher
 * than plain rounding; GPTQ beats imatrix rounding clearly (as measured
 * on the whole texts: -38%); AWQ does not lose to it; the same command gives
 * the same bytes. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static char teacher[4096], calib[4096], eval_text[4096], stats[4096];

/* The first `bytes` of a text file, cut at a line end, into `out`. */
static void head_of(const char *src, size_t bytes, const char *out) {
    size_t n = 0;
    char *text = ts_read_file(src, &n);
    ck_assert_ptr_nonnull(text);
    if (n > bytes) {
        n = bytes;
        while (n > 0 && text[n - 1] != '\n') n--;
    }
    ck_assert_int_eq(ts_write_file(out, text, n), 0);
    free(text);
}

static int setup_once(void) {
    static int done = 0;
    const char *p = ts_shared("models/shakespeare-F16.gguf");
    if (!p) return 0;
    if (done) return 1;
    snprintf(teacher, sizeof teacher, "%s", p);
    snprintf(calib, sizeof calib, "%s", ts_tmp("calib.txt"));
    snprintf(eval_text, sizeof eval_text, "%s", ts_tmp("eval.txt"));
    snprintf(stats, sizeof stats, "%s", ts_tmp("shk.stats"));
    /* under ASan (~20x slower) an eighth of the text: the same code runs,
     * the fidelity is asserted in the Release run */
#ifdef __SANITIZE_ADDRESS__
    const size_t part = 8;
#else
    const size_t part = 1;
#endif
    head_of(ts_shared("models/shakespeare-calib.txt"), 40000 / part, calib);
    head_of(ts_shared("models/shakespeare-eval.txt"), 30000 / part, eval_text);
    ck_assert_int_eq(ts_run(NULL, "%s calibrate %s --data %s --ctx 128 --gram -o %s --quiet", ts_bin("slmc"),
                            teacher, calib, stats),
                     0);
    done = 1;
    return 1;
}

/* Compiles the teacher to q4_0 with `method` ("" for plain rounding) and
 * returns its mean KL divergence from the teacher on the held-out text. */
static double kld_of(const char *method, const char *out_name) {
    char out[4096], log[4096];
    snprintf(out, sizeof out, "%s", ts_tmp(out_name));
    snprintf(log, sizeof log, "%s.log", out);
    int rc = method[0] ? ts_run(log, "%s compile %s --type q4_0 --calib %s --method %s -o %s --threads 2",
                                ts_bin("slmc"), teacher, stats, method, out)
                       : ts_run(log, "%s compile %s --type q4_0 -o %s", ts_bin("slmc"), teacher, out);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "compile --method %s: exit %d\n%s", method, rc, msg);
    free(msg);
    rc = ts_run(log, "%s eval -m %s --ref %s --text %s --ctx 128 --json", ts_bin("slmrt"), out, teacher, eval_text);
    msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "eval %s: exit %d\n%s", out_name, rc, msg);
    json_error_t err;
    json_t *j = json_loads(strchr(msg, '{'), JSON_DISABLE_EOF_CHECK, &err);
    ck_assert_msg(j != NULL, "%s", msg);
    const double kld = json_real_value(json_object_get(j, "kld_mean"));
    json_decref(j);
    free(msg);
    printf("q4_0 %-9s KLD %.6f\n", method[0] ? method : "rtn", kld);
    fflush(stdout);
    return kld;
}

START_TEST(calibrated_methods_keep_more) {
    if (!setup_once()) return;
    const double rtn = kld_of("", "rtn.gguf"), imatrix = kld_of("imatrix", "imatrix.gguf");
    const double gptq = kld_of("gptq", "gptq.gguf"), awq = kld_of("awq", "awq.gguf");
    const double both = kld_of("awq+gptq", "both.gguf");
#ifdef __SANITIZE_ADDRESS__
    (void)rtn, (void)imatrix, (void)gptq, (void)awq, (void)both;
    return;
#endif
    ck_assert_msg(imatrix < rtn, "imatrix %g vs rtn %g", imatrix, rtn);
    ck_assert_msg(gptq < 0.85 * imatrix, "gptq %g vs imatrix %g", gptq, imatrix);
    ck_assert_msg(both < 0.85 * imatrix, "awq+gptq %g vs imatrix %g", both, imatrix);
    ck_assert_msg(awq < 1.02 * imatrix, "awq %g vs imatrix %g", awq, imatrix);
}
END_TEST

START_TEST(same_command_same_bytes) {
    if (!setup_once()) return;
    /* the same output path: the command line is part of the artifact */
    char out[4096], a[4096], b[4096];
    snprintf(out, sizeof out, "%s", ts_tmp("det.gguf"));
    snprintf(a, sizeof a, "%s", ts_tmp("det-a.gguf"));
    snprintf(b, sizeof b, "%s", ts_tmp("det-b.gguf"));
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(ts_run(NULL, "%s compile %s --type q4_k --calib %s --method awq+gptq -o %s --threads %d",
                                ts_bin("slmc"), teacher, stats, out, k + 1),
                         0);
        ck_assert_int_eq(rename(out, k ? b : a), 0);
    }
    size_t na = 0, nb = 0;
    char *x = ts_read_file(a, &na), *y = ts_read_file(b, &nb);
    ck_assert(x && y && na == nb && memcmp(x, y, na) == 0);
    free(x);
    free(y);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("methods");
    TCase *tc = tcase_create("methods");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, calibrated_methods_keep_more);
    tcase_add_test(tc, same_command_same_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
