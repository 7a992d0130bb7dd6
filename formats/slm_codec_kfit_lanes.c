/* slm_codec_kfit_lanes.c - make_qkx2_quants / make_qkx3_quants and
 * make_qx_quants on several groups at once, one group per SIMD lane.
 *
 * The K-quant encoders spend nearly all their time in this search (21-37
 * candidate grids per group, each a chain of dependent float sums), and the
 * groups of a super-block are independent. Each lane runs exactly the
 * scalar search of slm_codec_kfit.c on its own group: the same operations
 * in the same order, with its branches turned into per-lane selects, so
 * every lane's bits equal a scalar call's (IEEE add, sub, mul and div round
 * the same packed as scalar; -ffp-contract=off forbids fusing). GCC vector
 * extensions keep it portable; on x86-64 an AVX2 clone is chosen at load
 * time when the CPU has it, which changes only the speed. */
#include <assert.h>
#include <string.h>

#include "slm_codec_impl.h"

#define LANES 8
#define MAX_GROUP 32

/* The helpers below take and return 32-byte vectors, whose calling
 * convention differs between the AVX2 clones and the baseline code: they
 * are always inlined (also at -O0), so no vector crosses a call, and the
 * clones themselves take only pointers and scalars. */
#pragma GCC diagnostic ignored "-Wpsabi"
#define LANE_FN static inline __attribute__((always_inline))

typedef float vf __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(LANES * sizeof(int32_t))));

LANE_FN vf vsplat(float x) { return (vf){x, x, x, x, x, x, x, x}; }
LANE_FN vi isplat(int32_t x) { return (vi){x, x, x, x, x, x, x, x}; }
/* m ? a : b per lane; m lanes are all ones or all zeros (a comparison) */
LANE_FN vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
LANE_FN vi isel(vi m, vi a, vi b) { return (a & m) | (b & ~m); }
LANE_FN vf vabs(vf x) { return (vf)((vi)x & isplat(0x7fffffff)); }

/* slm_nearest_int, then clamped to lo..hi as the searches clamp, as float.
 * lo and hi come splatted by the caller: GCC does not hoist a splat of a
 * runtime value out of the loops on its own. */
LANE_FN vf level(vf v, vi lo, vi hi) {
    vi i = (vi)(v + vsplat(12582912.f));
    vi l = (i & isplat(0x007fffff)) - isplat(0x00400000);
    l = isel(l < hi, l, hi);
    l = isel(l > lo, l, lo);
    return __builtin_convertvector(l, vf);
}

LANE_FN bool any(vi m) {
    for (int k = 0; k < LANES; ++k)
        if (m[k]) return true;
    return false;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void search_lanes(int count, int n, int nmax, const float *x, const float *weights, uint8_t *L,
                         float *the_min, float *scale_out, float rmin, float rdelta, int nstep, bool use_mad,
                         bool kx3) {
    vf X[MAX_GROUP], W[MAX_GROUP], Lbest[MAX_GROUP], Lcand[MAX_GROUP];
    /* lanes past count repeat group 0 and are dropped at the end */
    int i0 = 0;
    do { /* n >= 1 */
        for (int g = 0; g < LANES; ++g) {
            const int src = (g < count ? g : 0) * n + i0;
            X[i0][g] = x[src];
            W[i0][g] = weights ? weights[src] : x[src] * x[src];
        }
    } while (++i0 < n);
    vf min = X[0], max = X[0], sum_w = W[0], sum_x = sum_w * X[0];
    for (int i = 1; i < n; ++i) {
        min = vsel(X[i] < min, X[i], min);
        max = vsel(X[i] > max, X[i], max);
        sum_w += W[i];
        sum_x += W[i] * X[i];
    }
    min = vsel(min > vsplat(0), vsplat(0), min);
    const vi flat = kx3 ? (max <= min) : (max == min); /* all-equal groups return early */
    const vf flat_min = min;

    const vi lo = isplat(0), hi = isplat(nmax);
    vf iscale = vsplat((float)nmax) / (max - min);
    vf scale = vsplat(1.f) / iscale;
    vf best = vsplat(0);
    for (int i = 0; i < n; ++i) {
        Lbest[i] = level(iscale * (X[i] - min), lo, hi);
        vf diff = scale * Lbest[i] + min - X[i];
        diff = use_mad ? vabs(diff) : diff * diff;
        best += W[i] * diff;
    }
    for (int is = 0; nstep >= 1 && is <= nstep; ++is) {
        iscale = vsplat(rmin + rdelta * is + nmax) / (max - min);
        vf sum_l = vsplat(0), sum_l2 = vsplat(0), sum_xl = vsplat(0);
        for (int i = 0; i < n; ++i) {
            Lcand[i] = level(iscale * (X[i] - min), lo, hi);
            sum_l += W[i] * Lcand[i];
            sum_l2 += W[i] * Lcand[i] * Lcand[i];
            sum_xl += W[i] * Lcand[i] * X[i];
        }
        const vf D = sum_w * sum_l2 - sum_l * sum_l;
        vf this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        vf this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        const vi positive = this_min > vsplat(0);
        this_min = vsel(positive, vsplat(0), this_min);
        this_scale = vsel(positive, sum_xl / sum_l2, this_scale);
        vf error = vsplat(0);
        for (int i = 0; i < n; ++i) {
            vf diff = this_scale * Lcand[i] + this_min - X[i];
            diff = use_mad ? vabs(diff) : diff * diff;
            error += W[i] * diff;
        }
        const vi better = (D > vsplat(0)) & (error < best);
        if (!any(better)) continue;
        for (int i = 0; i < n; ++i) Lbest[i] = vsel(better, Lcand[i], Lbest[i]);
        best = vsel(better, error, best);
        scale = vsel(better, this_scale, scale);
        min = vsel(better, this_min, min);
    }
    for (int g = 0; g < count; ++g) {
        the_min[g] = flat[g] ? -flat_min[g] : -min[g];
        scale_out[g] = flat[g] ? 0.f : scale[g];
        for (int i = 0; i < n; ++i) L[g * n + i] = flat[g] ? 0 : (uint8_t)Lbest[i][g];
    }
}

void slm_make_qkx_quants_groups(int count, int n, int nmax, const float *x, const float *weights, uint8_t *L,
                                float *the_min, float *scale, float rmin, float rdelta, int nstep, bool use_mad,
                                bool kx3) {
    assert(n >= 1 && n <= MAX_GROUP && (kx3 || weights));
    for (int g = 0; g < count; g += LANES) {
        const int c = count - g < LANES ? count - g : LANES;
        search_lanes(c, n, nmax, x + g * n, weights ? weights + g * n : NULL, L + g * n, the_min + g, scale + g, rmin,
                     rdelta, nstep, use_mad, kx3);
    }
}

/* make_qx_quants with rmse_type 1 (weights qw, or x² when qw is NULL). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void qx_lanes(int count, int n, int nmax, const float *x, const float *qw, int8_t *L, float *scale_out) {
    vf X[MAX_GROUP], W[MAX_GROUP], Lbest[MAX_GROUP], Lcand[MAX_GROUP];
    int i0 = 0;
    do { /* n >= 1 */
        for (int g = 0; g < LANES; ++g) {
            const int src = (g < count ? g : 0) * n + i0;
            X[i0][g] = x[src];
            W[i0][g] = qw ? qw[src] : x[src] * x[src];
        }
    } while (++i0 < n);
    /* the signed value of largest magnitude (the first one on ties) */
    vf max = vsplat(0), amax = vsplat(0);
    for (int i = 0; i < n; ++i) {
        const vi larger = vabs(X[i]) > amax;
        amax = vsel(larger, vabs(X[i]), amax);
        max = vsel(larger, X[i], max);
    }
    const vi flat = amax < vsplat(SLM_GROUP_MAX_EPS);
    const vi lo = isplat(-nmax), hi = isplat(nmax - 1);
    vf iscale = vsplat((float)-nmax) / max;
    vf sumlx = vsplat(0), suml2 = vsplat(0);
    for (int i = 0; i < n; ++i) {
        Lbest[i] = level(iscale * X[i], lo, hi);
        sumlx += W[i] * X[i] * Lbest[i];
        suml2 += W[i] * Lbest[i] * Lbest[i];
    }
    vf scale = vsel(suml2 != vsplat(0), sumlx / suml2, vsplat(0));
    vf best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = vsplat(-(nmax + 0.1f * is)) / max;
        sumlx = suml2 = vsplat(0);
        for (int i = 0; i < n; ++i) {
            Lcand[i] = level(iscale * X[i], lo, hi);
            sumlx += W[i] * X[i] * Lcand[i];
            suml2 += W[i] * Lcand[i] * Lcand[i];
        }
        const vi better = (suml2 > vsplat(0)) & (sumlx * sumlx > best * suml2);
        if (!any(better)) continue;
        for (int i = 0; i < n; ++i) Lbest[i] = vsel(better, Lcand[i], Lbest[i]);
        scale = vsel(better, sumlx / suml2, scale);
        best = vsel(better, scale * sumlx, best);
    }
    for (int g = 0; g < count; ++g) {
        scale_out[g] = flat[g] ? 0.f : scale[g];
        for (int i = 0; i < n; ++i) L[g * n + i] = (int8_t)(flat[g] ? 0 : nmax + (int)Lbest[i][g]);
    }
}

void slm_make_qx_quants_groups(int count, int n, int nmax, const float *x, int8_t *L, const float *qw,
                               float *scale) {
    assert(n >= 1 && n <= MAX_GROUP);
    for (int g = 0; g < count; g += LANES) {
        const int c = count - g < LANES ? count - g : LANES;
        qx_lanes(c, n, nmax, x + g * n, qw ? qw + g * n : NULL, L + g * n, scale + g);
    }
}
