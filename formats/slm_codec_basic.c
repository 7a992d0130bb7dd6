/* slm_codec_basic.c - f32 <-> f16 / bf16 scalar conversions and the row
 * codecs of the unblocked float types (F32, F16, BF16).
 *
 * f32 -> f16 is done on the integer bits rather than with F16C or the FPU
 * so that the result is round-to-nearest-even whatever the target ISA, the
 * compiler flags or the current rounding mode: F16 GGUFs written by slmc
 * must be byte-identical to llama-quantize's. Stored values are little
 * endian, as GGUF is; rows are read byte-wise so that callers may pass
 * unaligned pointers into a mapped file. */
#include "slm_type.h"

#include <string.h>

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Rounds away the low `shift` bits of v, to nearest with ties to even. */
static uint32_t shift_rne(uint32_t v, unsigned shift) {
    uint32_t q = v >> shift;
    uint32_t rem = v & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return q;
}

uint16_t slm_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7FFFFFFFu;
    /* NaN keeps its sign but not its payload: ggml's scalar converter
     * always writes the canonical quiet NaN 0x7E00. */
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);
    /* 65520 is halfway between 65504 (odd mantissa) and 2^16, so it and
     * everything above rounds to infinity. */
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);
    if (a >= 0x38800000u) {
        /* Normal half: rebias the exponent (127 - 15 = 112) and drop 13
         * mantissa bits; a carry out of the mantissa correctly bumps the
         * exponent. */
        return (uint16_t)(sign | shift_rne(a - (112u << 23), 13));
    }
    /* 2^-25 is the tie between 0 and the smallest subnormal; even wins. */
    if (a <= 0x33000000u) return sign;
    /* Subnormal half: the value in units of 2^-24 is m * 2^(e-126). The
     * result may round up to 0x0400, which is the smallest normal. */
    uint32_t e = a >> 23;
    uint32_t m = (a & 0x007FFFFFu) | 0x00800000u;
    return (uint16_t)(sign | shift_rne(m, 126u - e));
}

float slm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    if (exp == 0x1Fu) return f32_from_bits(sign | 0x7F800000u | (mant << 13));
    if (exp == 0) {
        /* mant * 2^-24 is exact in f32 (11 significant bits at most). */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t slm_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    /* Rounding a NaN could carry it into infinity; set the quiet bit
     * instead, as ggml does. */
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

float slm_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

static uint16_t load_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static void store_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

/* F32 rows are copied as bytes: the host is assumed to be little endian
 * with IEEE floats, like every platform llama.cpp runs on. */
void slm_row_f32_to_f32(const void *src, float *dst, int64_t n) {
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

void slm_row_f32_from_f32(const float *src, void *dst, int64_t n) {
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

void slm_row_f16_to_f32(const void *src, float *dst, int64_t n) {
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = slm_f16_to_f32(load_le16(s + 2 * i));
}

void slm_row_f16_from_f32(const float *src, void *dst, int64_t n) {
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) store_le16(d + 2 * i, slm_f32_to_f16(src[i]));
}

void slm_row_bf16_to_f32(const void *src, float *dst, int64_t n) {
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = slm_bf16_to_f32(load_le16(s + 2 * i));
}

void slm_row_bf16_from_f32(const float *src, void *dst, int64_t n) {
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) store_le16(d + 2 * i, slm_f32_to_bf16(src[i]));
}

/* slm_type.c declares these itself and stores them in the traits table; the
 * checks below hold both sides to the typedefs in slm_type.h. */
#define SLM_CHECK_FN(fn, type) _Static_assert(_Generic(&fn, type: 1, default: 0), #fn " must be a " #type)
SLM_CHECK_FN(slm_row_f32_to_f32, slm_to_f32_fn);
SLM_CHECK_FN(slm_row_f32_from_f32, slm_from_f32_fn);
SLM_CHECK_FN(slm_row_f16_to_f32, slm_to_f32_fn);
SLM_CHECK_FN(slm_row_f16_from_f32, slm_from_f32_fn);
SLM_CHECK_FN(slm_row_bf16_to_f32, slm_to_f32_fn);
SLM_CHECK_FN(slm_row_bf16_from_f32, slm_from_f32_fn);
