/* slm_codec_q.c - Q8_0 and Q4_0 blocks: the decoders and the scalar
 * reference encoders.
 *
 * The encoders reproduce llama.cpp's quantize_row_q8_0_ref and
 * quantize_row_q4_0_ref byte for byte (formats.md §2.2), because quantized
 * GGUFs are compared with llama-quantize's output byte for byte. That is why
 * every expression below keeps ggml's order of operations, and why this file
 * is compiled with -ffp-contract=off: a fused x*id+8.5f rounds once instead
 * of twice and changes some nibbles. */
#include "slm_type.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

#include "slm_blocks.h"

#define QK8_0 SLM_QK8_0
#define QK4_0 SLM_QK4_0

static float load_f16(const uint8_t d[2]) { return slm_f16_to_f32((uint16_t)(d[0] | (d[1] << 8))); }

static void store_f16(uint8_t d[2], float v) {
    uint16_t h = slm_f32_to_f16(v);
    d[0] = (uint8_t)(h & 0xFFu);
    d[1] = (uint8_t)(h >> 8);
}

/* ggml converts float to int8_t implicitly, which x86-64 compiles to
 * cvttss2si into a 32-bit register, keeping the low byte. In C that is
 * undefined once the value leaves int8 range (it can: a subnormal scale
 * makes 1/d infinite), so do the same thing explicitly: truncate toward
 * zero, and let NaN and values beyond int32 give the "integer indefinite"
 * 0x80000000, whose low byte is 0. Every in-range value is unchanged. */
static int8_t to_i8_like_x86(float v) {
    if (!(v > -2147483648.0f && v < 2147483648.0f)) return 0;
    return (int8_t)(uint8_t)((uint32_t)(int32_t)v & 0xFFu);
}

void slm_quantize_row_q8_0_ref(const float *x, void *vy, int64_t n) {
    assert(n % QK8_0 == 0);
    slm_block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) {
            const float av = fabsf(xb[j]);
            /* ggml's MAX(a, b) macro, not fmaxf: they differ on NaN. */
            amax = amax > av ? amax : av;
        }
        /* The unrounded d quantizes; only the stored scale is fp16. */
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_f16(y[i].d, d);
        for (int j = 0; j < QK8_0; j++) {
            const float x0 = xb[j] * id;
            /* roundf: halves go away from zero (2.5 -> 3), unlike the
             * nearest_int of the other quantizers. */
            y[i].qs[j] = to_i8_like_x86(roundf(x0));
        }
    }
}

void slm_dequantize_row_q8_0(const void *vx, float *y, int64_t n) {
    assert(n % QK8_0 == 0);
    const slm_block_q8_0 *x = vx;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = load_f16(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}

void slm_quantize_row_q4_0_ref(const float *x, void *vy, int64_t n) {
    assert(n % QK4_0 == 0);
    slm_block_q4_0 *y = vy;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * QK4_0;
        /* The signed max: the first element of largest magnitude, sign
         * included. Making it map to -8 uses the asymmetric end of the
         * 4-bit range for the element that needs it most. */
        float amax = 0.0f;
        float max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            const float v = xb[j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        /* An all-zero block gives d = -0.0, stored as 0x8000, as ggml does. */
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_f16(y[i].d, d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            /* Product rounded to float first, then + 8.5f, then truncated:
             * floor(x*id + 8.5) for the non-negative values that occur. */
            const float x0 = xb[j] * id;
            const float x1 = xb[QK4_0 / 2 + j] * id;
            const int8_t t0 = to_i8_like_x86(x0 + 8.5f);
            const int8_t t1 = to_i8_like_x86(x1 + 8.5f);
            const uint8_t xi0 = (uint8_t)(t0 < 15 ? t0 : 15);
            const uint8_t xi1 = (uint8_t)(t1 < 15 ? t1 : 15);
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

void slm_dequantize_row_q4_0(const void *vx, float *y, int64_t n) {
    assert(n % QK4_0 == 0);
    const slm_block_q4_0 *x = vx;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = load_f16(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[i * QK4_0 + j] = x0 * d;
            y[i * QK4_0 + j + QK4_0 / 2] = x1 * d;
        }
    }
}

/* slm_type.c declares these itself and stores them in the traits table; the
 * checks below hold both sides to the typedefs in slm_type.h. */
#define SLM_CHECK_FN(fn, type) _Static_assert(_Generic(&fn, type: 1, default: 0), #fn " must be a " #type)
SLM_CHECK_FN(slm_quantize_row_q8_0_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q8_0, slm_to_f32_fn);
SLM_CHECK_FN(slm_quantize_row_q4_0_ref, slm_from_f32_fn);
SLM_CHECK_FN(slm_dequantize_row_q4_0, slm_to_f32_fn);
