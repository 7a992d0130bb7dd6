/* slm_codec_impl.h - helpers shared by the reference codecs (slm_codec_*.c),
 * internal to formats/.
 *
 * Everything here reproduces one piece of ggml-quants.c's scalar arithmetic
 * exactly; the encoders are compared with llama-quantize byte for byte
 * (formats.md §2.2), so these must not be "improved". The files including
 * this header are compiled with -ffp-contract=off. */
#ifndef SLM_CODEC_IMPL_H
#define SLM_CODEC_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "slm_blocks.h"
#include "slm_type.h"

/* ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is
 * treated as all zero. */
#define SLM_GROUP_MAX_EPS 1e-15f

static inline float slm_load_f16(const uint8_t d[2]) { return slm_f16_to_f32(slm_load_u16le(d)); }

static inline void slm_store_f16(uint8_t d[2], float v) {
    uint16_t h = slm_f32_to_f16(v);
    d[0] = (uint8_t)(h & 0xFFu);
    d[1] = (uint8_t)(h >> 8);
}

static inline void slm_store_u32le(uint8_t b[4], uint32_t v) {
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

/* ggml converts float to a small integer type implicitly, which x86-64
 * compiles to cvttss2si into a 32-bit register, keeping the low bits. In C
 * that is undefined once the value leaves the target's range (it can: a
 * subnormal scale makes 1/d infinite), so do the same thing explicitly:
 * truncate toward zero, and let NaN and values beyond int32 give the
 * "integer indefinite" 0x80000000. Every in-range value is unchanged. */
static inline int32_t slm_f32_to_i32_like_x86(float v) {
    if (!(v > -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
    return (int32_t)v;
}

static inline int8_t slm_to_i8_like_x86(float v) {
    return (int8_t)(uint8_t)((uint32_t)slm_f32_to_i32_like_x86(v) & 0xFFu);
}

static inline uint8_t slm_to_u8_like_x86(float v) { return (uint8_t)((uint32_t)slm_f32_to_i32_like_x86(v) & 0xFFu); }

/* ggml's nearest_int: round half to even via the 1.5*2^23 trick. Exact for
 * |v| < 2^22, which every caller guarantees for finite input; outside that
 * it returns what the bit trick gives, as ggml's release build does. */
static inline int slm_nearest_int(float v) {
    float val = v + 12582912.f;
    int32_t i;
    memcpy(&i, &val, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int slm_imin(int a, int b) { return a < b ? a : b; }
static inline int slm_imax(int a, int b) { return a > b ? a : b; }

/* ggml's best_index_int8 (the c392e50 version: bisection, then the nearer
 * neighbour with ties going up, measured in float). val is ascending. */
static inline int slm_best_index_int8(int n, const int8_t *val, float x) {
    if (x <= val[0]) return 0;
    if (x >= val[n - 1]) return n - 1;
    int ml = 0, mu = n - 1;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < val[mav]) mu = mav;
        else ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/* The scale fitters of ggml-quants.c (slm_codec_kfit.c). Names, arguments
 * and results are ggml's; see there. */
float slm_make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type, const float *qw);
float slm_make_q3_quants(int n, int nmax, const float *x, int8_t *L, bool do_rmse);
float slm_make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                           uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad);
float slm_make_qkx3_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                           uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad);
float slm_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *quant_weights);

/* make_qkx2_quants (kx3 false; weights required) or make_qkx3_quants (kx3
 * true; weights NULL means x²) on `count` consecutive groups of n <= 32
 * values at once (slm_codec_kfit_lanes.c): group g reads x + g*n and
 * weights + g*n and gets L + g*n, the_min[g] and scale[g], bit for bit what
 * one call per group gives. The encoders' hot path. */
void slm_make_qkx_quants_groups(int count, int n, int nmax, const float *x, const float *weights, uint8_t *L,
                                float *the_min, float *scale, float rmin, float rdelta, int nstep, bool use_mad,
                                bool kx3);
/* make_qx_quants with rmse_type 1 (weights qw, x² when NULL) on `count`
 * consecutive groups of n <= 32 at once; scale[g] is group g's result. */
void slm_make_qx_quants_groups(int count, int n, int nmax, const float *x, int8_t *L, const float *qw,
                               float *scale);

/* Packs 8 six-bit scales and mins into Q4_K/Q5_K's 12 bytes (formats.md
 * §2.1); ls and lm must be <= 63. */
void slm_pack_scale_min_k4(const uint8_t ls[8], const uint8_t lm[8], uint8_t q[SLM_K_SCALE_SIZE]);

/* Sum of x[i]^2 over n elements, in index order, as every imatrix path does. */
static inline float slm_sum_x2(const float *x, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

/* The traits table (slm_type.c) and the checks in each codec file hold the
 * codecs to the typedefs in slm_type.h. */
#define SLM_CHECK_FN(fn, type) _Static_assert(_Generic(&fn, type: 1, default: 0), #fn " must be a " #type)

#endif
