/* check_qblock.c - element access inside encoded blocks (slm_qblock.h):
 * for every type with access, on blocks made by the encoders (random rows,
 * with and without importance weights, and random bytes): each element's
 * grid value at its quant equals the decoder's output bit for bit; writing a
 * quant changes that element, as its grid says, and no other; the nearest
 * quant is the closest value of the grid. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_qblock.h"
#include "slm_type.h"
#include "test_support.h"

static const slm_type access_types[] = {SLM_TYPE_Q8_0, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1, SLM_TYPE_Q5_0,
                                        SLM_TYPE_Q5_1, SLM_TYPE_IQ4_NL, SLM_TYPE_Q2_K, SLM_TYPE_Q3_K,
                                        SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K, SLM_TYPE_IQ4_XS};
enum { N_ACCESS = sizeof access_types / sizeof *access_types };

/* One block of type t: encoded from random values (kind 0: plain, 1: with
 * importance weights, 2: with a zero run and an outlier), or random bytes
 * with a finite fp16 scale (kind 3). */
static void make_block(slm_type t, int kind, uint32_t *s, uint8_t *blk) {
    const int span = slm_qblock_span(t);
    const size_t bytes = slm_type_row_size(t, span);
    float x[256], w[256];
    for (int i = 0; i < span; i++) {
        x[i] = ts_rng_unit(s) * ldexpf(1.0f, (int)(ts_rng_next(s) % 6) - 3);
        w[i] = 0.1f + fabsf(ts_rng_unit(s));
    }
    if (kind == 2) {
        for (int i = 0; i < span / 4; i++) x[i] = 0.0f;
        x[span - 1] = 9.0f;
    }
    if (kind == 3) {
        for (size_t i = 0; i < bytes; i++) blk[i] = (uint8_t)ts_rng_next(s);
        /* keep the fp16 scales finite: clear their exponent's top bit */
        if (t == SLM_TYPE_Q2_K) blk[81] &= 0x3F, blk[83] &= 0x3F;
        else if (t == SLM_TYPE_Q3_K) blk[109] &= 0x3F;
        else if (t == SLM_TYPE_Q6_K) blk[209] &= 0x3F;
        else {
            blk[1] &= 0x3F;
            if (t == SLM_TYPE_Q4_1 || t == SLM_TYPE_Q5_1 || t == SLM_TYPE_Q4_K || t == SLM_TYPE_Q5_K) blk[3] &= 0x3F;
        }
        return;
    }
    slm_type_traits_get(t)->quantize_row(x, blk, span, kind == 1 ? w : NULL);
}

static int same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

START_TEST(test_grid_matches_decoder) {
    uint32_t seed = 0x0B10C001u;
    int n_bad = 0;
    char first[256] = "";
    for (int ti = 0; ti < N_ACCESS; ti++) {
        const slm_type t = access_types[ti];
        const int span = slm_qblock_span(t);
        ck_assert_int_gt(span, 0);
        const size_t bytes = slm_type_row_size(t, span);
        for (int trial = 0; trial < 200; trial++) {
            uint8_t blk[256], copy[256];
            float y[256], y2[256];
            make_block(t, trial % 4, &seed, blk);
            slm_type_traits_get(t)->to_f32(blk, y, span);
            for (int j = 0; j < span; j++) {
                slm_qgrid g;
                slm_qblock_grid(t, blk, j, &g);
                const int k = slm_qblock_get(t, blk, j);
                if (k < 0 || k >= g.n || !same_float(slm_qgrid_value(&g, k), y[j])) {
                    if (!n_bad++)
                        snprintf(first, sizeof first, "%s trial %d element %d: quant %d of %d gives %a, decoder %a",
                                 slm_type_name(t), trial, j, k, g.n, slm_qgrid_value(&g, k), y[j]);
                    continue;
                }
                /* rewrite the element: only it changes, to the grid's value */
                const int k2 = (int)(ts_rng_next(&seed) % (uint32_t)g.n);
                memcpy(copy, blk, bytes);
                slm_qblock_set(t, copy, j, k2);
                slm_type_traits_get(t)->to_f32(copy, y2, span);
                int ok = slm_qblock_get(t, copy, j) == k2 && same_float(y2[j], slm_qgrid_value(&g, k2));
                for (int i = 0; i < span && ok; i++) ok = i == j || same_float(y2[i], y[i]);
                if (!ok && !n_bad++)
                    snprintf(first, sizeof first, "%s trial %d: writing quant %d at element %d", slm_type_name(t),
                             trial, k2, j);
                /* nearest: no value of the grid is closer */
                const float w = y[j] + ts_rng_unit(&seed) * fabsf(g.scale) * 1.5f;
                const int kn = slm_qgrid_nearest(&g, w);
                const float en = fabsf(slm_qgrid_value(&g, kn) - w);
                for (int c = 0; c < g.n; c++)
                    if (fabsf(slm_qgrid_value(&g, c) - w) < en && !n_bad++)
                        snprintf(first, sizeof first, "%s: nearest(%a) gave quant %d, %d is closer", slm_type_name(t),
                                 w, kn, c);
            }
        }
    }
    ck_assert_msg(n_bad == 0, "%d failures, first: %s", n_bad, first);
}
END_TEST

START_TEST(test_span) {
    ck_assert_int_eq(slm_qblock_span(SLM_TYPE_F32), 0);
    ck_assert_int_eq(slm_qblock_span(SLM_TYPE_F16), 0);
    ck_assert_int_eq(slm_qblock_span(SLM_TYPE_Q8_K), 0);
    ck_assert_int_eq(slm_qblock_span(SLM_TYPE_Q4_0), 32);
    ck_assert_int_eq(slm_qblock_span(SLM_TYPE_Q4_K), 256);
    /* NaN goes to the quant nearest to zero */
    slm_qgrid g = {16, -8, 0.5f, 0.0f, NULL, false};
    ck_assert_int_eq(slm_qgrid_nearest(&g, NAN), 8);
    ck_assert_int_eq(slm_qgrid_nearest(&g, 100.0f), 15);
    ck_assert_int_eq(slm_qgrid_nearest(&g, -100.0f), 0);
    /* ties go to the lower quant */
    ck_assert_int_eq(slm_qgrid_nearest(&g, 0.25f), 8);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("qblock");
    TCase *tc = tcase_create("qblock");
    tcase_add_test(tc, test_span);
    tcase_add_test(tc, test_grid_matches_decoder);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
