/* check_kfit_lanes.c - the SIMD-lane scale searches
 * (slm_make_qkx_quants_groups, slm_make_qx_quants_groups) must give the
 * bits of the scalar transcriptions of ggml (slm_make_qkx2_quants,
 * slm_make_qkx3_quants, slm_make_qx_quants) for every group, on data built
 * to reach their corners: all-equal and all-zero groups, one sign only,
 * ties on the grid, wide dynamic range, zero weights, and group counts that
 * leave lanes empty. The golden files cover real encoder inputs; this
 * covers the rest. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm_codec_impl.h"
#include "test_support.h"

#define N_GROUPS 61 /* not a multiple of the lane count */
#define MAX_N 32

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform(void) { /* [0, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1u << 24);
}

/* Group g of `kind`: mixes of the corner cases above. */
static void fill(float *x, float *w, int n, int kind, int g) {
    float scale = powf(10.f, -3.f + 4.f * uniform());
    for (int i = 0; i < n; ++i) {
        float u = uniform() * 2 - 1;
        switch ((kind + g) % 8) {
        case 0: x[i] = u * scale; break;
        case 1: x[i] = fabsf(u) * scale; break;              /* positive only: min clamps to 0 */
        case 2: x[i] = -fabsf(u) * scale; break;             /* negative only */
        case 3: x[i] = 0.25f; break;                         /* all equal */
        case 4: x[i] = 0; break;                             /* all zero */
        case 5: x[i] = roundf(u * 4) * 0.125f; break;        /* on a coarse grid: ties */
        case 6: x[i] = i == 3 ? 40 * scale : u * scale; break; /* one outlier */
        default: x[i] = u * 1e-20f; break;                   /* below GROUP_MAX_EPS for qx */
        }
        w[i] = (g % 5 == 0 && i % 4 == 0) ? 0 : uniform() * 3;
    }
}

static void check_qkx(int n, int nmax, float rmin, float rdelta, int nstep, bool use_mad, bool kx3, bool weighted) {
    float x[N_GROUPS * MAX_N], w[N_GROUPS * MAX_N];
    uint8_t L[N_GROUPS * MAX_N], Lref[MAX_N], Laux[MAX_N];
    float the_min[N_GROUPS], scale[N_GROUPS];
    for (int kind = 0; kind < 8; ++kind) {
        for (int g = 0; g < N_GROUPS; ++g) fill(x + g * n, w + g * n, n, kind, g);
        for (int count = 1; count <= N_GROUPS; count += count < 9 ? 1 : 13) {
            slm_make_qkx_quants_groups(count, n, nmax, x, weighted ? w : NULL, L, the_min, scale, rmin, rdelta, nstep,
                                       use_mad, kx3);
            for (int g = 0; g < count; ++g) {
                float min_ref, scale_ref;
                const float *wg = weighted ? w + g * n : NULL;
                if (kx3)
                    scale_ref = slm_make_qkx3_quants(n, nmax, x + g * n, wg, Lref, &min_ref, Laux, rmin, rdelta, nstep,
                                                     use_mad);
                else
                    scale_ref = slm_make_qkx2_quants(n, nmax, x + g * n, wg, Lref, &min_ref, Laux, rmin, rdelta, nstep,
                                                     use_mad);
                ck_assert_msg(!memcmp(&scale_ref, &scale[g], 4) && !memcmp(&min_ref, &the_min[g], 4) &&
                                  !memcmp(Lref, L + g * n, (size_t)n),
                              "qkx%d n %d nmax %d kind %d group %d of %d: scale %a/%a min %a/%a", kx3 ? 3 : 2, n, nmax,
                              kind, g, count, scale_ref, scale[g], min_ref, the_min[g]);
            }
        }
    }
}

/* The grids the encoders use: Q4_K/Q5_K reference, Q2_K reference (MAD),
 * and the weighted qkx3 of Q4_K/Q5_K/Q2_K/Q4_1/Q5_1. */
START_TEST(qkx2_matches_scalar) {
    check_qkx(32, 15, -1.f, 0.1f, 20, false, false, true);
    check_qkx(32, 31, -0.5f, 0.1f, 15, false, false, true);
    check_qkx(16, 3, -0.5f, 0.1f, 15, true, false, true);
    check_qkx(32, 15, -1.f, 0.1f, 0, false, false, true); /* no search */
}
END_TEST

START_TEST(qkx3_matches_scalar) {
    check_qkx(32, 15, -0.9f, 0.05f, 36, false, true, true);
    check_qkx(32, 31, -0.9f, 0.05f, 36, false, true, true);
    check_qkx(16, 3, -0.9f, 0.05f, 36, false, true, true);
    check_qkx(32, 15, -0.9f, 0.05f, 36, false, true, false); /* x² weights */
}
END_TEST

START_TEST(qx_matches_scalar) {
    float x[N_GROUPS * MAX_N], w[N_GROUPS * MAX_N], scale[N_GROUPS];
    int8_t L[N_GROUPS * MAX_N], Lref[MAX_N];
    const struct {
        int n, nmax;
    } shapes[] = {{16, 32}, {16, 4}, {32, 8}, {32, 16}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
        int n = shapes[s].n, nmax = shapes[s].nmax;
        for (int kind = 0; kind < 8; ++kind) {
            for (int g = 0; g < N_GROUPS; ++g) fill(x + g * n, w + g * n, n, kind, g);
            for (int weighted = 0; weighted < 2; ++weighted) {
                slm_make_qx_quants_groups(N_GROUPS, n, nmax, x, L, weighted ? w : NULL, scale);
                for (int g = 0; g < N_GROUPS; ++g) {
                    float ref = slm_make_qx_quants(n, nmax, x + g * n, Lref, 1, weighted ? w + g * n : NULL);
                    ck_assert_msg(!memcmp(&ref, &scale[g], 4) && !memcmp(Lref, L + g * n, (size_t)n),
                                  "qx n %d nmax %d kind %d group %d weighted %d: %a vs %a", n, nmax, kind, g, weighted,
                                  ref, scale[g]);
                }
            }
        }
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("kfit_lanes");
    TCase *tc = tcase_create("lanes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, qkx2_matches_scalar);
    tcase_add_test(tc, qkx3_matches_scalar);
    tcase_add_test(tc, qx_matches_scalar);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
