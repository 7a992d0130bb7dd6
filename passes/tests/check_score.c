/* check_score.c - the arithmetic behind `slmc score` and `slmrt eval --ref`
 * (runtime/slmrt_kld.h): KL of identical distributions is 0, small cases
 * worked out by hand (KL, NLL, Δp, top-1), percentiles between order
 * statistics, the summary, and the chunk plan of llama.cpp's perplexity
 * protocol. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_kld.h"
#include "test_support.h"

#define EPS 1e-12

START_TEST(identical_rows_have_zero_kl) {
    uint32_t rng = 99;
    float logits[257];
    for (int i = 0; i < 257; i++) logits[i] = 8 * ts_rng_unit(&rng);
    slmrt_kld_row a = slmrt_kld_row_of(logits, 257);
    ck_assert_double_eq(slmrt_kld_kl(&a, &a, 257), 0);
    slmrt_kld k;
    ck_assert(slmrt_kld_init(&k, 257, 4, true, NULL) == SLM_OK);
    for (int t = 0; t < 4; t++) slmrt_kld_add(&k, &a, &a, t * 50);
    slmrt_kld_summary s;
    ck_assert(slmrt_kld_summarize(&k, &s, NULL) == SLM_OK);
    ck_assert_double_eq(s.kld_max, 0);
    ck_assert_double_eq(s.same_top1, 1);
    ck_assert_double_eq(s.mean_dp, 0);
    ck_assert_double_eq(s.rms_dp, 0);
    ck_assert_double_eq(s.ppl, s.ppl_ref);
    slmrt_kld_free(&k);
    /* a constant shift of the logits is the same distribution */
    float shifted[257];
    for (int i = 0; i < 257; i++) shifted[i] = logits[i] + 3.0f; /* f32 rounding: ~1e-7 apart */
    slmrt_kld_row b = slmrt_kld_row_of(shifted, 257);
    ck_assert(slmrt_kld_kl(&b, &a, 257) < 1e-6);
    ck_assert_int_eq(a.top1, b.top1);
}
END_TEST

START_TEST(hand_computed_case) {
    /* model uniform over 2 tokens, reference p = (3/4, 1/4) */
    const float m_logits[2] = {0, 0}, r_logits[2] = {(float)log(3.0), 0};
    slmrt_kld_row m = slmrt_kld_row_of(m_logits, 2), r = slmrt_kld_row_of(r_logits, 2);
    ck_assert_int_eq(m.top1, 0); /* ties: the first */
    ck_assert_int_eq(r.top1, 0);
    ck_assert(fabs(m.lse - log(2.0)) < EPS);
    /* (float)log(3) is not exactly log 3: the exact p_ref of what it gives */
    const double pr0 = exp((double)r_logits[0]) / (exp((double)r_logits[0]) + 1);
    ck_assert(fabs(pr0 - 0.75) < 1e-7);
    const double want = pr0 * log(pr0 / 0.5) + (1 - pr0) * log((1 - pr0) / 0.5);
    ck_assert(fabs(slmrt_kld_kl(&m, &r, 2) - want) < EPS);
    ck_assert(fabs(want - 0.1308120) < 1e-6); /* 0.75 ln 1.5 + 0.25 ln 0.5 */

    slmrt_kld k;
    ck_assert(slmrt_kld_init(&k, 2, 2, true, NULL) == SLM_OK);
    slmrt_kld_add(&k, &m, &r, 0); /* target 0: p = 1/2, p_ref = 3/4 */
    slmrt_kld_add(&k, &m, &r, 1); /* target 1: p = 1/2, p_ref = 1/4 */
    ck_assert_int_eq(k.n, 2);
    ck_assert(fabs(k.nll - 2 * log(2.0)) < EPS);
    ck_assert(fabs(k.nll_ref + log(pr0) + log(1 - pr0)) < EPS);
    ck_assert(fabs(k.dp_sum - ((0.5 - pr0) + (0.5 - (1 - pr0)))) < EPS);
    slmrt_kld_summary s;
    ck_assert(slmrt_kld_summarize(&k, &s, NULL) == SLM_OK);
    ck_assert(fabs(s.ppl - 2) < EPS);
    ck_assert(fabs(s.ppl_ref - 1 / sqrt(pr0 * (1 - pr0))) < 1e-9);
    ck_assert(fabs(s.kld_mean - want) < EPS);
    ck_assert_double_eq(s.kld_median, s.kld_max);
    ck_assert_double_eq(s.same_top1, 1);
    ck_assert(fabs(s.mean_dp) < EPS);                   /* -1/4 and +1/4 */
    ck_assert(fabs(s.rms_dp - fabs(0.5 - pr0)) < 1e-9); /* both 1/4 in size */
    slmrt_kld_free(&k);

    /* top-1 disagreement */
    const float flip[2] = {0, 1};
    slmrt_kld_row f = slmrt_kld_row_of(flip, 2);
    ck_assert_int_eq(f.top1, 1);
    ck_assert(slmrt_kld_init(&k, 2, 1, true, NULL) == SLM_OK);
    slmrt_kld_add(&k, &f, &r, 0);
    ck_assert(slmrt_kld_summarize(&k, &s, NULL) == SLM_OK);
    ck_assert_double_eq(s.same_top1, 0);
    slmrt_kld_free(&k);
}
END_TEST

START_TEST(kl_is_asymmetric_and_positive) {
    const float a[3] = {2, 0, -1}, b[3] = {0, 1, 0};
    slmrt_kld_row ra = slmrt_kld_row_of(a, 3), rb = slmrt_kld_row_of(b, 3);
    /* by hand: KL(a‖b) = Σ pa (ln pa - ln pb) */
    double za = exp(2) + 1 + exp(-1), zb = 2 + exp(1), want = 0;
    for (int i = 0; i < 3; i++) {
        double pa = exp(a[i]) / za, pb = exp(b[i]) / zb;
        want += pa * log(pa / pb);
    }
    ck_assert(fabs(slmrt_kld_kl(&rb, &ra, 3) - want) < EPS);
    ck_assert(slmrt_kld_kl(&ra, &rb, 3) > 0);
    ck_assert(fabs(slmrt_kld_kl(&ra, &rb, 3) - want) > 1e-3);
}
END_TEST

START_TEST(percentiles) {
    const double v[4] = {1, 2, 3, 4};
    ck_assert_double_eq(slmrt_kld_percentile(v, 0, 0.5), 0);
    ck_assert_double_eq(slmrt_kld_percentile(v, 1, 0.99), 1);
    ck_assert(fabs(slmrt_kld_percentile(v, 4, 0.5) - 2.5) < EPS);
    ck_assert(fabs(slmrt_kld_percentile(v, 4, 0.9) - 3.7) < EPS);
    ck_assert(fabs(slmrt_kld_percentile(v, 4, 0.99) - 3.97) < EPS);
    ck_assert_double_eq(slmrt_kld_percentile(v, 4, 0), 1);
    ck_assert_double_eq(slmrt_kld_percentile(v, 4, 1), 4);
    const double odd[5] = {0, 1, 10, 11, 100};
    ck_assert_double_eq(slmrt_kld_percentile(odd, 5, 0.5), 10);
}
END_TEST

/* The summary sorts the KL values: positions added out of order. */
START_TEST(summary_statistics) {
    slmrt_kld k;
    ck_assert(slmrt_kld_init(&k, 2, 101, true, NULL) == SLM_OK);
    const float z[2] = {0, 0};
    slmrt_kld_row m = slmrt_kld_row_of(z, 2);
    for (int i = 0; i < 101; i++) slmrt_kld_add_kl(&k, &m, &m, 0, (double)((i * 37) % 101)); /* 0..100 shuffled */
    slmrt_kld_summary s;
    ck_assert(slmrt_kld_summarize(&k, &s, NULL) == SLM_OK);
    ck_assert_uint_eq(s.n, 101);
    ck_assert(fabs(s.kld_mean - 50) < EPS);
    ck_assert(fabs(s.kld_median - 50) < EPS);
    ck_assert(fabs(s.kld_p90 - 90) < EPS);
    ck_assert(fabs(s.kld_p99 - 99) < EPS);
    ck_assert_double_eq(s.kld_max, 100);
    /* adding past cap only counts NLL, never writes past the array */
    slmrt_kld_add(&k, &m, &m, 0);
    ck_assert_uint_eq(k.n, 102);
    slmrt_kld_free(&k);
    /* without a reference: perplexity only */
    ck_assert(slmrt_kld_init(&k, 2, 0, false, NULL) == SLM_OK);
    slmrt_kld_add(&k, &m, NULL, 1);
    ck_assert(slmrt_kld_summarize(&k, &s, NULL) == SLM_OK);
    ck_assert(fabs(s.ppl - 2) < EPS);
    ck_assert_double_eq(s.ppl_ref, 0);
    slmrt_kld_free(&k);
}
END_TEST

START_TEST(chunk_plan) {
    slmrt_kld_plan p;
    slm_diag d = {0};
    ck_assert(slmrt_kld_plan_make(1000, 128, false, "x", &p, &d) == SLM_OK);
    ck_assert_int_eq(p.chunk, 128);
    ck_assert_uint_eq(p.n_chunks, 7);
    ck_assert_int_eq(p.first, 64);
    ck_assert_int_eq(p.n_scored, 63); /* positions 64..126 predict tokens 65..127 */
    /* a short token file is one chunk; text is not */
    ck_assert(slmrt_kld_plan_make(50, 128, true, "x", &p, &d) == SLM_OK);
    ck_assert_int_eq(p.chunk, 50);
    ck_assert_uint_eq(p.n_chunks, 1);
    ck_assert_int_eq(p.n_scored, 24);
    ck_assert(slmrt_kld_plan_make(50, 128, false, "data.txt", &p, &d) == SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "data.txt") && strstr(d.msg, "50 tokens"), "%s", d.msg);
    slm_diag_clear(&d);
    ck_assert(slmrt_kld_plan_make(1, 128, true, "x", &p, &d) == SLM_ERR_INPUT);
}
END_TEST

int main(void) {
    Suite *s = suite_create("score");
    TCase *tc = tcase_create("kld");
    tcase_add_test(tc, identical_rows_have_zero_kl);
    tcase_add_test(tc, hand_computed_case);
    tcase_add_test(tc, kl_is_asymmetric_and_positive);
    tcase_add_test(tc, percentiles);
    tcase_add_test(tc, summary_statistics);
    tcase_add_test(tc, chunk_plan);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
