/* check_codec.c - unit tests for the type traits table (slm_type.c) and the
 * scalar reference codecs (slm_codec_basic.c, slm_codec_q.c).
 *
 * The encoders must match llama.cpp byte for byte, so most expectations are
 * exact bytes worked out by hand from formats.md §2.2, and the rounding of
 * f16/bf16 is checked at every rounding boundary rather than on samples.
 * When ../shared is present, the encoders are also run on the golden model
 * and compared with the bytes llama-quantize wrote. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_codec_q_simd.h"
#include "slm_type.h"
#include "test_support.h"

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Exhaustive loops record failures and assert once: each passing
 * ck_assert costs a message to the Check parent process. */
#define EXPECT_BEGIN()       \
    int n_bad = 0;           \
    char first_bad[256] = ""
#define EXPECT(cond, ...)                                                               \
    do {                                                                                \
        if (!(cond) && n_bad++ == 0) snprintf(first_bad, sizeof first_bad, __VA_ARGS__); \
    } while (0)
#define EXPECT_END() ck_assert_msg(n_bad == 0, "%d failures, first: %s", n_bad, first_bad)

static const int invalid_ids[] = {4, 5, 31, 32, 33, 36, 37, 38};

/* ---------------------------------------------------------------- traits */

START_TEST(test_traits_table) {
    static const struct {
        int id;
        const char *name;
        int blck, size;
    } want[] = {
        {0, "f32", 1, 4},         {1, "f16", 1, 2},          {2, "q4_0", 32, 18},       {3, "q4_1", 32, 20},
        {6, "q5_0", 32, 22},      {7, "q5_1", 32, 24},       {8, "q8_0", 32, 34},       {9, "q8_1", 32, 36},
        {10, "q2_k", 256, 84},    {11, "q3_k", 256, 110},    {12, "q4_k", 256, 144},    {13, "q5_k", 256, 176},
        {14, "q6_k", 256, 210},   {15, "q8_k", 256, 292},    {16, "iq2_xxs", 256, 66},  {17, "iq2_xs", 256, 74},
        {18, "iq3_xxs", 256, 98}, {19, "iq1_s", 256, 50},    {20, "iq4_nl", 32, 18},    {21, "iq3_s", 256, 110},
        {22, "iq2_s", 256, 82},   {23, "iq4_xs", 256, 136},  {24, "i8", 1, 1},          {25, "i16", 1, 2},
        {26, "i32", 1, 4},        {27, "i64", 1, 8},         {28, "f64", 1, 8},         {29, "iq1_m", 256, 56},
        {30, "bf16", 1, 2},       {34, "tq1_0", 256, 54},    {35, "tq2_0", 256, 66},
    };
    int n_valid = 0;
    for (int t = 0; t < SLM_TYPE_COUNT; t++) n_valid += slm_type_is_valid(t);
    ck_assert_int_eq(n_valid, (int)(sizeof want / sizeof want[0]));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const slm_type_traits *tt = slm_type_traits_get(want[i].id);
        ck_assert_msg(tt != NULL, "id %d", want[i].id);
        ck_assert_str_eq(tt->name, want[i].name);
        ck_assert_int_eq(tt->blck, want[i].blck);
        ck_assert_int_eq(tt->type_size, want[i].size);
        ck_assert_str_eq(slm_type_name(want[i].id), want[i].name);
    }
}
END_TEST

START_TEST(test_traits_invalid_ids) {
    for (size_t i = 0; i < sizeof invalid_ids / sizeof invalid_ids[0]; i++) {
        ck_assert_ptr_null(slm_type_traits_get(invalid_ids[i]));
        ck_assert(!slm_type_is_valid(invalid_ids[i]));
        ck_assert_str_eq(slm_type_name(invalid_ids[i]), "unknown");
        ck_assert(!slm_type_is_quantized((slm_type)invalid_ids[i]));
        ck_assert_uint_eq(slm_type_row_size((slm_type)invalid_ids[i], 256), 0);
    }
    const int out_of_range[] = {-1, SLM_TYPE_COUNT, 40, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        ck_assert_ptr_null(slm_type_traits_get(out_of_range[i]));
        ck_assert(!slm_type_is_valid(out_of_range[i]));
        ck_assert_str_eq(slm_type_name(out_of_range[i]), "unknown");
    }
}
END_TEST

START_TEST(test_type_from_name) {
    slm_type t = SLM_TYPE_F32;
    ck_assert(slm_type_from_name("Q4_0", &t));
    ck_assert_int_eq(t, SLM_TYPE_Q4_0);
    ck_assert(slm_type_from_name("q8_0", &t));
    ck_assert_int_eq(t, SLM_TYPE_Q8_0);
    ck_assert(slm_type_from_name("BF16", &t));
    ck_assert_int_eq(t, SLM_TYPE_BF16);
    ck_assert(slm_type_from_name("Iq4_Nl", &t));
    ck_assert_int_eq(t, SLM_TYPE_IQ4_NL);
    ck_assert(slm_type_from_name("q6_K", &t));
    ck_assert_int_eq(t, SLM_TYPE_Q6_K);
    ck_assert(slm_type_from_name("f32", &t));
    ck_assert_int_eq(t, SLM_TYPE_F32);

    /* Every table name parses back to its own id. */
    for (int id = 0; id < SLM_TYPE_COUNT; id++) {
        if (!slm_type_is_valid(id)) continue;
        ck_assert(slm_type_from_name(slm_type_name(id), &t));
        ck_assert_int_eq(t, id);
    }

    /* Rejections leave *out alone. */
    t = SLM_TYPE_Q5_K;
    const char *bad[] = {"", "q4", "q4_", "q4_0 ", " q4_0", "q4_00", "q4_0x", "unknown", "q4-0", "f", "f16x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!slm_type_from_name(bad[i], &t), "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(t, SLM_TYPE_Q5_K);
    }
    ck_assert(!slm_type_from_name(NULL, &t));
}
END_TEST

START_TEST(test_is_quantized) {
    const slm_type plain[] = {SLM_TYPE_F32, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_F64,
                              SLM_TYPE_I8,  SLM_TYPE_I16, SLM_TYPE_I32,  SLM_TYPE_I64};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) ck_assert(!slm_type_is_quantized(plain[i]));
    const slm_type quant[] = {SLM_TYPE_Q4_0, SLM_TYPE_Q8_0,   SLM_TYPE_Q8_1,  SLM_TYPE_Q8_K,
                              SLM_TYPE_Q4_K, SLM_TYPE_IQ4_NL, SLM_TYPE_TQ2_0, SLM_TYPE_IQ1_M};
    for (size_t i = 0; i < sizeof quant / sizeof quant[0]; i++) ck_assert(slm_type_is_quantized(quant[i]));
}
END_TEST

START_TEST(test_row_size) {
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_F32, 3), 12);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_F16, 7), 14);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_BF16, 256), 512);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_Q4_0, 64), 36);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_Q8_0, 4096), 128 * 34);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_Q4_K, 256), 144);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_Q6_K, 512), 420);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_F32, 0), 0);
    /* Not a whole number of blocks. */
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_Q4_0, 33), 0);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_Q4_K, 32), 0);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_F32, -4), 0);
    /* Too large for size_t. */
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_I64, INT64_MAX), 0);
}
END_TEST

/* Every type llama-quantize writes has a decoder, a reference encoder and
 * a row encoder (quantize_row); Q8_1 and Q8_K, activation formats, have the
 * first two only; the IQ2/IQ3/IQ1, ternary and integer types have none. */
START_TEST(test_codec_pointers) {
    static const slm_type writable[] = {SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16, SLM_TYPE_Q4_0,  SLM_TYPE_Q4_1,
                                        SLM_TYPE_Q5_0, SLM_TYPE_Q5_1, SLM_TYPE_Q8_0, SLM_TYPE_Q2_K,  SLM_TYPE_Q3_K,
                                        SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K, SLM_TYPE_IQ4_NL, SLM_TYPE_IQ4_XS};
    for (int id = 0; id < SLM_TYPE_COUNT; id++) {
        const slm_type_traits *tt = slm_type_traits_get(id);
        if (!tt) continue;
        bool row = false;
        for (size_t i = 0; i < sizeof writable / sizeof writable[0]; i++) row |= writable[i] == (slm_type)id;
        bool has = row || id == SLM_TYPE_Q8_1 || id == SLM_TYPE_Q8_K;
        ck_assert_msg((tt->to_f32 != NULL) == has, "%s to_f32", tt->name);
        ck_assert_msg((tt->from_f32 != NULL) == has, "%s from_f32", tt->name);
        ck_assert_msg((tt->quantize_row != NULL) == row, "%s quantize_row", tt->name);
    }
}
END_TEST

/* ------------------------------------------------------------------ f16 */

START_TEST(test_f16_exact_values) {
    ck_assert_uint_eq(slm_f32_to_f16(0.0f), 0x0000);
    ck_assert_uint_eq(slm_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(slm_f32_to_f16(1.0f), 0x3C00);
    ck_assert_uint_eq(slm_f32_to_f16(-2.0f), 0xC000);
    ck_assert_uint_eq(slm_f32_to_f16(0.5f), 0x3800);
    ck_assert_uint_eq(slm_f32_to_f16(65504.0f), 0x7BFF);
    ck_assert_uint_eq(slm_f32_to_f16(-65504.0f), 0xFBFF);
    ck_assert_uint_eq(slm_f32_to_f16(0x1p-14f), 0x0400);
    ck_assert_uint_eq(slm_f32_to_f16(0x1p-24f), 0x0001);
    ck_assert_uint_eq(slm_f32_to_f16(0x3FFp-24f), 0x03FF);
    /* Inexact, nearest: 0.1 -> 0x2E66, 1/3 -> 0x3555. */
    ck_assert_uint_eq(slm_f32_to_f16(0.1f), 0x2E66);
    ck_assert_uint_eq(slm_f32_to_f16(1.0f / 3.0f), 0x3555);

    ck_assert(slm_f16_to_f32(0x3C00) == 1.0f);
    ck_assert(slm_f16_to_f32(0x3555) == 0.333251953125f);
    ck_assert(slm_f16_to_f32(0x0001) == 0x1p-24f);
    ck_assert(slm_f16_to_f32(0x8001) == -0x1p-24f);
    ck_assert(slm_f16_to_f32(0x03FF) == 0x3FFp-24f);
    ck_assert(slm_f16_to_f32(0x7BFF) == 65504.0f);
    ck_assert_uint_eq(bits_of(slm_f16_to_f32(0x8000)), 0x80000000u);
    ck_assert(isinf(slm_f16_to_f32(0x7C00)) && slm_f16_to_f32(0x7C00) > 0);
    ck_assert(isinf(slm_f16_to_f32(0xFC00)) && slm_f16_to_f32(0xFC00) < 0);
}
END_TEST

START_TEST(test_f16_ties_normal) {
    /* Halfway between 1 (0x3C00, even) and 1+2^-10 (0x3C01): to even. */
    ck_assert_uint_eq(slm_f32_to_f16(1.0f + 0x1p-11f), 0x3C00);
    /* Halfway between 0x3C01 (odd) and 0x3C02: up to even. */
    ck_assert_uint_eq(slm_f32_to_f16(1.0f + 0x3p-11f), 0x3C02);
    /* Just either side of a tie goes to the nearer value. */
    ck_assert_uint_eq(slm_f32_to_f16(nextafterf(1.0f + 0x1p-11f, 2.0f)), 0x3C01);
    ck_assert_uint_eq(slm_f32_to_f16(nextafterf(1.0f + 0x3p-11f, 0.0f)), 0x3C01);
    /* Negative ties mirror the positive ones. */
    ck_assert_uint_eq(slm_f32_to_f16(-(1.0f + 0x1p-11f)), 0xBC00);
    ck_assert_uint_eq(slm_f32_to_f16(-(1.0f + 0x3p-11f)), 0xBC02);
    /* Rounding up out of the mantissa carries into the exponent:
     * 2 - 2^-11 is halfway between 0x3FFF (odd) and 2.0 (0x4000). */
    ck_assert_uint_eq(slm_f32_to_f16(2.0f - 0x1p-11f), 0x4000);
    ck_assert_uint_eq(slm_f32_to_f16(nextafterf(2.0f - 0x1p-11f, 0.0f)), 0x3FFF);
}
END_TEST

START_TEST(test_f16_subnormals) {
    /* 2^-25 is the tie between 0 and the smallest subnormal: even is 0. */
    ck_assert_uint_eq(slm_f32_to_f16(0x1p-25f), 0x0000);
    ck_assert_uint_eq(slm_f32_to_f16(-0x1p-25f), 0x8000);
    ck_assert_uint_eq(slm_f32_to_f16(nextafterf(0x1p-25f, 1.0f)), 0x0001);
    ck_assert_uint_eq(slm_f32_to_f16(1e-30f), 0x0000);
    ck_assert_uint_eq(slm_f32_to_f16(0x1p-149f), 0x0000);
    /* 1.5 * 2^-24: tie between 1 (odd) and 2 -> 2. 2.5 * 2^-24 -> 2. */
    ck_assert_uint_eq(slm_f32_to_f16(0x3p-25f), 0x0002);
    ck_assert_uint_eq(slm_f32_to_f16(0x5p-25f), 0x0002);
    ck_assert_uint_eq(slm_f32_to_f16(0x7p-25f), 0x0004);
    /* The largest subnormal rounding up into the smallest normal. */
    ck_assert_uint_eq(slm_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400);
    ck_assert_uint_eq(slm_f32_to_f16(nextafterf(0x1p-14f - 0x1p-25f, 0.0f)), 0x03FF);
    /* A subnormal with many low bits: 0x155 units + 0.49 of a unit. */
    ck_assert_uint_eq(slm_f32_to_f16((0x155 + 0.49f) * 0x1p-24f), 0x0155);
    ck_assert_uint_eq(slm_f32_to_f16((0x155 + 0.51f) * 0x1p-24f), 0x0156);
}
END_TEST

START_TEST(test_f16_overflow_inf) {
    ck_assert_uint_eq(slm_f32_to_f16(65519.0f), 0x7BFF);
    ck_assert_uint_eq(slm_f32_to_f16(nextafterf(65520.0f, 0.0f)), 0x7BFF);
    /* 65520 is the tie between 65504 (odd mantissa) and 65536: inf. */
    ck_assert_uint_eq(slm_f32_to_f16(65520.0f), 0x7C00);
    ck_assert_uint_eq(slm_f32_to_f16(-65520.0f), 0xFC00);
    ck_assert_uint_eq(slm_f32_to_f16(65536.0f), 0x7C00);
    ck_assert_uint_eq(slm_f32_to_f16(1e10f), 0x7C00);
    ck_assert_uint_eq(slm_f32_to_f16(-3.4e38f), 0xFC00);
    ck_assert_uint_eq(slm_f32_to_f16(INFINITY), 0x7C00);
    ck_assert_uint_eq(slm_f32_to_f16(-INFINITY), 0xFC00);
}
END_TEST

START_TEST(test_f16_nan) {
    ck_assert_uint_eq(slm_f32_to_f16(NAN), 0x7E00);
    ck_assert_uint_eq(slm_f32_to_f16(float_of(0x7FC00000u)), 0x7E00);
    /* Payloads (signalling, or ones whose top bits would vanish) are not
     * carried over: the result is always the canonical quiet NaN. */
    ck_assert_uint_eq(slm_f32_to_f16(float_of(0x7F800001u)), 0x7E00);
    ck_assert_uint_eq(slm_f32_to_f16(float_of(0x7FFFFFFFu)), 0x7E00);
    /* ggml's scalar converter keeps the sign bit of a NaN. */
    ck_assert_uint_eq(slm_f32_to_f16(float_of(0xFFC00000u)), 0xFE00);
    EXPECT_BEGIN();
    for (uint32_t m = 1; m < 0x400; m++) {
        EXPECT(isnan(slm_f16_to_f32((uint16_t)(0x7C00u | m))), "0x%04x", 0x7C00u | m);
        EXPECT(isnan(slm_f16_to_f32((uint16_t)(0xFC00u | m))), "0x%04x", 0xFC00u | m);
    }
    EXPECT_END();
}
END_TEST

/* Every rounding boundary of f32 -> f16: for each pair of adjacent finite
 * halves, the lower value, the midpoint (exact in f32) and its two f32
 * neighbours. Together with monotonicity this pins the whole function. */
START_TEST(test_f16_all_boundaries) {
    EXPECT_BEGIN();
    for (uint32_t sign = 0; sign <= 0x8000u; sign += 0x8000u) {
        for (uint32_t h = 0; h < 0x7C00u; h++) {
            unsigned lo = sign | h, hi = sign | (h + 1); /* hi may be inf (0x7C00) */
            float a = slm_f16_to_f32((uint16_t)lo);
            float b = slm_f16_to_f32((uint16_t)hi);
            float mid = (h + 1 == 0x7C00u) ? (sign ? -65520.0f : 65520.0f) : (a + b) / 2;
            EXPECT(h + 1 == 0x7C00u || (double)mid == ((double)a + (double)b) / 2, "inexact mid 0x%04x", lo);
            unsigned even = (h & 1) ? hi : lo;
            float toward0 = nextafterf(mid, 0.0f);
            float away = nextafterf(mid, sign ? -INFINITY : INFINITY);
            EXPECT(slm_f32_to_f16(a) == lo, "value 0x%04x", lo);
            EXPECT(slm_f32_to_f16(mid) == even, "tie above 0x%04x", lo);
            EXPECT(slm_f32_to_f16(toward0) == lo, "below tie above 0x%04x", lo);
            EXPECT(slm_f32_to_f16(away) == hi, "above tie above 0x%04x", lo);
        }
    }
    EXPECT_END();
}
END_TEST

START_TEST(test_f16_roundtrip_all) {
    EXPECT_BEGIN();
    for (uint32_t h = 0; h <= 0xFFFFu; h++) {
        if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu)) continue; /* NaN */
        EXPECT(slm_f32_to_f16(slm_f16_to_f32((uint16_t)h)) == h, "0x%04x", h);
    }
    EXPECT_END();
}
END_TEST

/* Random f32s in the finite f16 range: the result is a nearest half, and
 * an even one on exact ties (all checked in double, where it is exact). */
START_TEST(test_f16_nearest_random) {
    EXPECT_BEGIN();
    uint32_t s = 12345;
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = ts_rng_next(&s);
        /* Exponents 2^-30 .. 2^15 cover subnormal and normal halves. */
        u = (u & 0x807FFFFFu) | ((97u + (ts_rng_next(&s) % 46u)) << 23);
        float f = float_of(u);
        if (fabsf(f) >= 65520.0f) continue;
        uint16_t h = slm_f32_to_f16(f);
        double v = slm_f16_to_f32(h);
        double err = fabs((double)f - v);
        uint16_t mag = h & 0x7FFFu, sgn = h & 0x8000u;
        double up = slm_f16_to_f32((uint16_t)(sgn | (mag + 1)));
        EXPECT(err <= fabs((double)f - up), "f=%a h=0x%04x (up nearer)", f, h);
        if (err == fabs((double)f - up) && err > 0) EXPECT((mag & 1) == 0, "f=%a h=0x%04x (odd tie)", f, h);
        if (mag > 0) {
            double dn = slm_f16_to_f32((uint16_t)(sgn | (mag - 1)));
            EXPECT(err <= fabs((double)f - dn), "f=%a h=0x%04x (down nearer)", f, h);
            if (err == fabs((double)f - dn) && err > 0) EXPECT((mag & 1) == 0, "f=%a h=0x%04x (odd tie)", f, h);
        }
    }
    EXPECT_END();
}
END_TEST

/* ----------------------------------------------------------------- bf16 */

START_TEST(test_bf16_rounding) {
    ck_assert_uint_eq(slm_f32_to_bf16(1.0f), 0x3F80);
    ck_assert_uint_eq(slm_f32_to_bf16(-2.0f), 0xC000);
    ck_assert_uint_eq(slm_f32_to_bf16(0.0f), 0x0000);
    ck_assert_uint_eq(slm_f32_to_bf16(-0.0f), 0x8000);
    /* Ties go to even; anything past the tie goes up. */
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x3F808000u)), 0x3F80);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x3F818000u)), 0x3F82);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x3F808001u)), 0x3F81);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x3F817FFFu)), 0x3F81);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0xBF808000u)), 0xBF80);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0xBF818000u)), 0xBF82);
    /* Carry into the exponent, and overflow of the largest finite to inf. */
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x3FFFFFFFu)), 0x4000);
    ck_assert_uint_eq(slm_f32_to_bf16(FLT_MAX), 0x7F80);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x7F7F7FFFu)), 0x7F7F);
    ck_assert_uint_eq(slm_f32_to_bf16(INFINITY), 0x7F80);
    ck_assert_uint_eq(slm_f32_to_bf16(-INFINITY), 0xFF80);
    /* Subnormals round like any other value. */
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x00018000u)), 0x0002);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x00008000u)), 0x0000);

    ck_assert(slm_bf16_to_f32(0x3F80) == 1.0f);
    ck_assert(slm_bf16_to_f32(0xC049) == float_of(0xC0490000u));
    ck_assert(isinf(slm_bf16_to_f32(0x7F80)));
}
END_TEST

START_TEST(test_bf16_nan) {
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x7FC00000u)), 0x7FC0);
    /* A NaN whose payload lies in the low bits would round to inf (0x7F80)
     * or lose its NaN-ness; the quiet bit 0x40 keeps it a NaN. */
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x7F800001u)), 0x7FC0);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0x7FFFFFFFu)), 0x7FFF);
    ck_assert_uint_eq(slm_f32_to_bf16(float_of(0xFF812345u)), 0xFFC1);
    ck_assert(isnan(slm_bf16_to_f32(0x7FC0)));
    ck_assert(isnan(slm_bf16_to_f32(0xFF81)));
}
END_TEST

START_TEST(test_bf16_roundtrip_all) {
    EXPECT_BEGIN();
    for (uint32_t h = 0; h <= 0xFFFFu; h++) {
        float f = slm_bf16_to_f32((uint16_t)h);
        EXPECT(bits_of(f) == h << 16, "decode 0x%04x", h);
        if (isnan(f)) continue;
        EXPECT(slm_f32_to_bf16(f) == h, "round trip 0x%04x", h);
    }
    EXPECT_END();
}
END_TEST

/* Row codecs through the traits table: little-endian bytes, same values as
 * the scalar functions, exact round trip for representable values. */
START_TEST(test_row_float_codecs) {
    const float src[6] = {1.0f, -2.5f, 0.1f, 65504.0f, 0x1p-24f, -0.0f};
    uint8_t buf[6 * 4];
    float back[6];

    const slm_type_traits *f16 = slm_type_traits_get(SLM_TYPE_F16);
    f16->from_f32(src, buf, 6);
    for (int i = 0; i < 6; i++) {
        uint16_t h = slm_f32_to_f16(src[i]);
        ck_assert_uint_eq(buf[2 * i], h & 0xFF);
        ck_assert_uint_eq(buf[2 * i + 1], h >> 8);
    }
    ck_assert_uint_eq(buf[0], 0x00);
    ck_assert_uint_eq(buf[1], 0x3C);
    f16->to_f32(buf, back, 6);
    for (int i = 0; i < 6; i++) ck_assert(back[i] == slm_f16_to_f32(slm_f32_to_f16(src[i])));
    ck_assert_uint_eq(bits_of(back[5]), 0x80000000u);

    const slm_type_traits *bf = slm_type_traits_get(SLM_TYPE_BF16);
    bf->from_f32(src, buf, 6);
    ck_assert_uint_eq(buf[0], 0x80);
    ck_assert_uint_eq(buf[1], 0x3F);
    bf->to_f32(buf, back, 6);
    for (int i = 0; i < 6; i++) ck_assert(back[i] == slm_bf16_to_f32(slm_f32_to_bf16(src[i])));
    ck_assert(back[1] == -2.5f);

    /* Unaligned rows (a mapped file's rows need not be aligned). */
    uint8_t ubuf[1 + 12];
    f16->from_f32(src, ubuf + 1, 6);
    f16->to_f32(ubuf + 1, back, 6);
    ck_assert(back[1] == -2.5f);

    const slm_type_traits *f32 = slm_type_traits_get(SLM_TYPE_F32);
    f32->from_f32(src, buf, 6);
    f32->to_f32(buf, back, 6);
    ck_assert_mem_eq(back, src, sizeof src);
}
END_TEST

/* ------------------------------------------------------------- Q8_0/Q4_0 */

static void encode(slm_type t, const float *x, void *dst, int64_t n) { slm_type_traits_get(t)->from_f32(x, dst, n); }
static void decode(slm_type t, const void *src, float *y, int64_t n) { slm_type_traits_get(t)->to_f32(src, y, n); }

/* amax = 127 makes d = 1 and id = 1 exactly, so qs = roundf(x): halves go
 * away from zero (2.5 -> 3, -0.5 -> -1), where round-to-even would not. */
START_TEST(test_q8_0_known_block) {
    float x[32] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.49f, -126.5f, -127.0f, 3.5f, 4.5f, 0.49f, -100.2f};
    const int8_t q[12] = {127, 3, -3, 1, -1, 1, -127, -127, 4, 5, 0, -100};
    uint8_t want[34] = {0x00, 0x3C}; /* d = fp16(1.0) */
    for (int j = 0; j < 12; j++) want[2 + j] = (uint8_t)q[j];
    uint8_t got[34];
    memset(got, 0xAA, sizeof got);
    encode(SLM_TYPE_Q8_0, x, got, 32);
    ck_assert_mem_eq(got, want, 34);

    float y[32];
    decode(SLM_TYPE_Q8_0, got, y, 32);
    for (int j = 0; j < 12; j++) ck_assert(y[j] == (float)q[j]);
    for (int j = 12; j < 32; j++) ck_assert(y[j] == 0.0f);
}
END_TEST

/* amax = 1: d = 1/127 is stored as fp16 0x2008 (0.00787353515625), but the
 * unrounded d quantizes. x = 0.49998425 gives x*id = 63.498 -> 63; dividing
 * by the stored d instead would give 63.502 -> 64. */
START_TEST(test_q8_0_unrounded_d) {
    float x[32] = {0};
    x[0] = 1.0f;
    x[1] = -1.0f;
    x[2] = 0.25f;      /* 31.75 -> 32 */
    x[3] = 0.49998425f; /* 63.498 -> 63 */
    x[31] = -0.25f;
    uint8_t got[34];
    encode(SLM_TYPE_Q8_0, x, got, 32);
    ck_assert_uint_eq(got[0], 0x08);
    ck_assert_uint_eq(got[1], 0x20);
    ck_assert_int_eq((int8_t)got[2 + 0], 127);
    ck_assert_int_eq((int8_t)got[2 + 1], -127);
    ck_assert_int_eq((int8_t)got[2 + 2], 32);
    ck_assert_int_eq((int8_t)got[2 + 3], 63);
    ck_assert_int_eq((int8_t)got[2 + 31], -32);
    for (int j = 4; j < 31; j++) ck_assert_int_eq(got[2 + j], 0);
    float y[32];
    decode(SLM_TYPE_Q8_0, got, y, 32);
    ck_assert(y[0] == 127 * 0.00787353515625f);
    ck_assert(y[1] == -127 * 0.00787353515625f);
}
END_TEST

START_TEST(test_q8_0_zero_block) {
    float x[64] = {0};
    x[32] = -0.0f;
    uint8_t got[68];
    memset(got, 0xAA, sizeof got);
    encode(SLM_TYPE_Q8_0, x, got, 64);
    /* amax starts at +0, so d = +0 even for negative zeros. */
    for (int i = 0; i < 68; i++) ck_assert_uint_eq(got[i], 0);
}
END_TEST

START_TEST(test_q4_0_zero_block) {
    float x[32] = {0};
    uint8_t got[18];
    encode(SLM_TYPE_Q4_0, x, got, 32);
    /* d = 0 / -8 = -0.0 -> fp16 0x8000; every q = (int)(0*0 + 8.5) = 8. */
    ck_assert_uint_eq(got[0], 0x00);
    ck_assert_uint_eq(got[1], 0x80);
    for (int j = 2; j < 18; j++) ck_assert_uint_eq(got[j], 0x88);
    float y[32];
    decode(SLM_TYPE_Q4_0, got, y, 32);
    for (int j = 0; j < 32; j++) ck_assert(y[j] == 0.0f);
}
END_TEST

/* The largest |x| is negative (-8 at index 0), and +8 at index 31 ties it
 * without replacing it. So d = -8 / -8 = +1, q = trunc(x + 8.5): -8 -> 0,
 * 7 -> 15, and 8 -> 16, clamped to 15. */
START_TEST(test_q4_0_sign_of_max) {
    float x[32];
    uint8_t q[32];
    for (int j = 0; j < 16; j++) {
        x[j] = (float)(j - 8); /* -8 .. 7 -> q 0 .. 15 */
        q[j] = (uint8_t)j;
    }
    for (int j = 0; j < 15; j++) {
        x[16 + j] = (float)(7 - j); /* 7 .. -7 -> q 15 .. 1 */
        q[16 + j] = (uint8_t)(15 - j);
    }
    x[31] = 8.0f;
    q[31] = 15;
    x[5] = -2.6f; /* -2.6 + 8.5 = 5.9: truncated to 5, not rounded to 6 */
    q[5] = 5;
    uint8_t want[18] = {0x00, 0x3C};
    for (int j = 0; j < 16; j++) want[2 + j] = (uint8_t)(q[j] | q[16 + j] << 4);
    ck_assert_uint_eq(want[2 + 0], 0xF0);
    ck_assert_uint_eq(want[2 + 15], 0xFF);
    uint8_t got[18];
    encode(SLM_TYPE_Q4_0, x, got, 32);
    ck_assert_mem_eq(got, want, 18);

    float y[32];
    decode(SLM_TYPE_Q4_0, got, y, 32);
    ck_assert(y[0] == -8.0f);
    ck_assert(y[31] == 7.0f); /* the clamped +8 */
    ck_assert(y[15] == 7.0f);
}
END_TEST

/* The same block negated: now the signed max is +8, d = 8 / -8 = -1
 * (fp16 0xBC00) and q = trunc(-x + 8.5). */
START_TEST(test_q4_0_positive_max) {
    float x[32];
    for (int j = 0; j < 16; j++) x[j] = (float)(8 - j); /* 8 .. -7 -> q 0 .. 15 */
    for (int j = 0; j < 16; j++) x[16 + j] = -0.25f * (float)j; /* -0 .. -3.75 */
    uint8_t want[18] = {0x00, 0xBC};
    for (int j = 0; j < 16; j++) {
        int hi = (int)(0.25f * (float)j + 8.5f); /* 8, 8, 9, 9, 9, 9, 10 ... */
        want[2 + j] = (uint8_t)(j | hi << 4);
    }
    ck_assert_uint_eq(want[2 + 2], 0x92); /* 0.5 + 8.5 = 9 exactly */
    ck_assert_uint_eq(want[2 + 1], 0x81); /* 0.25 + 8.5 = 8.75 -> 8 */
    uint8_t got[18];
    encode(SLM_TYPE_Q4_0, x, got, 32);
    ck_assert_mem_eq(got, want, 18);
}
END_TEST

START_TEST(test_q_decode_known) {
    /* Q8_0: d = fp16 0x3800 = 0.5. */
    uint8_t b8[34] = {0x00, 0x38, 0x01, 0xFF, 0x7F, 0x80};
    float y[32];
    decode(SLM_TYPE_Q8_0, b8, y, 32);
    ck_assert(y[0] == 0.5f && y[1] == -0.5f && y[2] == 63.5f && y[3] == -64.0f && y[4] == 0.0f);
    /* Q4_0: d = 2.0 (0x4000); byte 0x1F: element 0 = 15-8 = 7, element 16 = 1-8 = -7. */
    uint8_t b4[18] = {0x00, 0x40, 0x1F, 0x80};
    decode(SLM_TYPE_Q4_0, b4, y, 32);
    ck_assert(y[0] == 14.0f && y[16] == -14.0f);
    ck_assert(y[1] == -16.0f && y[17] == 0.0f);
    ck_assert(y[2] == -16.0f && y[18] == -16.0f);
}
END_TEST

/* Decoding undoes encoding to within half a quantization step, plus what
 * storing d in fp16 adds (|q| * |d - fp16(d)|). Q4_0's one exception is the
 * clamp: an element near +|max| opposite in sign to the signed max lands on
 * q = 15, up to a whole step away. */
START_TEST(test_q_roundtrip_error) {
    EXPECT_BEGIN();
    uint32_t s = 777;
    const float scales[] = {1.0f, 1e-3f, 37.0f, 1e-6f, 3000.0f};
    enum { NB = 64, N = NB * 32 };
    static float x[N], y[N];
    static uint8_t buf[NB * 34];
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        for (int i = 0; i < N; i++) x[i] = scales[k] * ts_rng_unit(&s) * (i % 7 == 0 ? 3.0f : 1.0f);

        encode(SLM_TYPE_Q8_0, x, buf, N);
        decode(SLM_TYPE_Q8_0, buf, y, N);
        for (int b = 0; b < NB; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
            double d = amax / 127.0f;
            double dh = slm_f16_to_f32((uint16_t)(buf[b * 34] | buf[b * 34 + 1] << 8));
            /* fp16 keeps 11 bits for a normal d; a subnormal one has less. */
            EXPECT(d < 0x1p-14 || fabs(dh - d) <= d * 0x1p-11 * 1.0001, "q8_0 d=%g dh=%g", d, dh);
            for (int j = 0; j < 32; j++) {
                int i = b * 32 + j;
                double bound = 0.5 * d * 1.0001 + 127.0 * fabs(dh - d);
                EXPECT(fabs((double)x[i] - y[i]) <= bound, "q8_0 x=%g y=%g d=%g", x[i], y[i], d);
            }
        }

        encode(SLM_TYPE_Q4_0, x, buf, N);
        decode(SLM_TYPE_Q4_0, buf, y, N);
        for (int b = 0; b < NB; b++) {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
                if (amax < fabsf(x[b * 32 + j])) amax = fabsf(x[b * 32 + j]), max = x[b * 32 + j];
            double d = fabs(max / -8.0f);
            double dh = fabs(slm_f16_to_f32((uint16_t)(buf[b * 18] | buf[b * 18 + 1] << 8)));
            for (int j = 0; j < 32; j++) {
                int i = b * 32 + j;
                /* In units of d, measured from the -8 end: t in [0, 16]. */
                double t = (double)x[i] / (max / -8.0f) + 8.0;
                double steps = t > 15.5 ? t - 15.0 : 0.5;
                double bound = (steps + 1e-4) * d + 8.0 * fabs(dh - d);
                EXPECT(fabs((double)x[i] - y[i]) <= bound, "q4_0 x=%g y=%g d=%g", x[i], y[i], d);
            }
        }
    }
    EXPECT_END();
}
END_TEST

/* Inputs llama.cpp never meets in practice (inf, NaN, a subnormal scale
 * whose reciprocal overflows) still give defined bytes; under the
 * sanitizer build this also shows there is no undefined float-to-int cast. */
START_TEST(test_q_nonfinite_defined) {
    float x[32];
    uint8_t b8[34], b4[18];
    for (int j = 0; j < 32; j++) x[j] = (j % 3 - 1) * 1e-40f; /* d = 1e-40/127 is subnormal, 1/d = inf */
    encode(SLM_TYPE_Q8_0, x, b8, 32);
    for (int j = 0; j < 32; j++) ck_assert_int_eq(b8[2 + j], 0);
    for (int j = 0; j < 32; j++) x[j] = (j % 3 - 1) * 1e-44f;
    encode(SLM_TYPE_Q4_0, x, b4, 32);
    for (int j = 0; j < 16; j++) ck_assert_uint_eq(b4[2 + j], 0);

    for (int j = 0; j < 32; j++) x[j] = (float)j;
    x[3] = INFINITY;
    x[4] = NAN;
    /* Q8_0 uses ggml's MAX(a, b) = a > b ? a : b: the NaN at index 4
     * replaces amax = inf (inf > NaN is false) and is replaced in turn by
     * 5 (NaN > 5 is false), so amax ends as 31. inf and NaN elements
     * quantize to 0, as cvttss2si's low byte does in llama.cpp. */
    encode(SLM_TYPE_Q8_0, x, b8, 32);
    ck_assert_uint_eq(b8[0] | b8[1] << 8, slm_f32_to_f16(31.0f / 127));
    ck_assert_int_eq((int8_t)b8[2 + 31], 127);
    ck_assert_int_eq((int8_t)b8[2 + 3], 0);
    ck_assert_int_eq((int8_t)b8[2 + 4], 0);
    /* Q4_0 keeps the inf (NaN never compares larger): d = inf / -8 = -inf
     * and id = -0, so finite elements give q = 8, inf*-0 and NaN give 0. */
    encode(SLM_TYPE_Q4_0, x, b4, 32);
    ck_assert_uint_eq(b4[0] | b4[1] << 8, 0xFC00);
    for (int j = 0; j < 16; j++) ck_assert_uint_eq(b4[2 + j], (j == 3 || j == 4) ? 0x80 : 0x88);
}
END_TEST

/* The AVX2 encoders against the scalar reference, byte for byte, on blocks
 * built to hit every special case: roundf's ties (±k.5 after scaling),
 * equal magnitudes of both signs (Q4_0 keeps the first), all-zero blocks
 * with -0.0 first, subnormal scales, inf and NaN, and random data. */
static void fill_special_block(float *x, int kind, unsigned *seed) {
    for (int j = 0; j < 32; j++) {
        *seed = *seed * 1103515245u + 12345u;
        float r = ((*seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
        switch (kind % 9) {
        case 0: x[j] = r * 3.0f; break;
        case 1: x[j] = (j == 5) ? 127.0f : (float)(j - 16) + 0.5f; break;  /* d = 1: exact ties */
        case 2: x[j] = (j == 7) ? -8.0f : (j == 20 ? 8.0f : r); break;     /* |max| twice, signs differ */
        case 3: x[j] = (j == 0) ? -0.0f : 0.0f; break;
        case 4: x[j] = r * 1e-40f; break;
        case 5: x[j] = r; if (j == 9) x[j] = INFINITY; break;
        case 6: x[j] = r; if (j == (int)(*seed % 32)) x[j] = NAN; break;
        case 7: x[j] = (j % 4 - 1.5f) * 0.25f * 8.0f / 1.5f; break;          /* q4_0 ties at x0 + 8.5 */
        default: x[j] = r * (float)(1 << (kind % 20)); break;
        }
    }
}

START_TEST(test_q_avx2_matches_reference) {
    if (!slm_codec_use_avx2()) {
        printf("test_q_avx2_matches_reference: skipped: the CPU has no AVX2\n");
        return;
    }
    enum { NB = 64, N = NB * 32 };
    static float x[N];
    static uint8_t ref8[NB * 34], got8[NB * 34], ref4[NB * 18], got4[NB * 18];
    unsigned seed = 7;
    for (int round = 0; round < 200; round++) {
        for (int b = 0; b < NB; b++) fill_special_block(x + 32 * b, round * NB + b, &seed);
        slm_quantize_row_q8_0_ref(x, ref8, N);
        slm_quantize_row_q8_0_avx2(x, got8, N);
        slm_quantize_row_q4_0_ref(x, ref4, N);
        slm_quantize_row_q4_0_avx2(x, got4, N);
        for (int b = 0; b < NB; b++) {
            ck_assert_msg(!memcmp(ref8 + 34 * b, got8 + 34 * b, 34), "q8_0 round %d block %d (kind %d)", round, b,
                          (round * NB + b) % 9);
            ck_assert_msg(!memcmp(ref4 + 18 * b, got4 + 18 * b, 18), "q4_0 round %d block %d (kind %d)", round, b,
                          (round * NB + b) % 9);
        }
        /* the row functions the writer calls take the AVX2 path */
        const slm_type_traits *t8 = slm_type_traits_get(SLM_TYPE_Q8_0), *t4 = slm_type_traits_get(SLM_TYPE_Q4_0);
        t8->quantize_row(x, got8, N, NULL);
        t4->quantize_row(x, got4, N, NULL);
        ck_assert(!memcmp(ref8, got8, sizeof ref8));
        ck_assert(!memcmp(ref4, got4, sizeof ref4));
    }
}
END_TEST

/* ------------------------------------------------------- golden (optional) */

/* Just enough of GGUF v3 (formats.md §1) to find tensor bytes by name. */
typedef struct gguf_tensor {
    char name[128];
    uint32_t type;
    int64_t n;
    const uint8_t *data;
} gguf_tensor;

typedef struct gguf_lite {
    uint8_t *buf;
    size_t size, pos;
    int n_tensors;
    gguf_tensor *t;
} gguf_lite;

static int gl_need(gguf_lite *g, size_t k) { return g->pos <= g->size && g->size - g->pos >= k; }

static uint64_t gl_u(gguf_lite *g, int bytes) {
    uint64_t v = 0;
    if (!gl_need(g, (size_t)bytes)) {
        g->pos = g->size + 1;
        return 0;
    }
    for (int i = 0; i < bytes; i++) v |= (uint64_t)g->buf[g->pos + i] << (8 * i);
    g->pos += (size_t)bytes;
    return v;
}

static void gl_skip(gguf_lite *g, uint64_t k) { g->pos = gl_need(g, k) ? g->pos + k : g->size + 1; }

static const int gguf_scalar_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, -1, -1, 8, 8, 8};

static uint32_t gl_skip_value(gguf_lite *g, uint32_t vt, const char *key, uint32_t *alignment) {
    if (vt == 8) {
        gl_skip(g, gl_u(g, 8));
    } else if (vt == 9) {
        uint32_t et = (uint32_t)gl_u(g, 4);
        uint64_t n = gl_u(g, 8);
        for (uint64_t i = 0; i < n && g->pos <= g->size; i++) gl_skip_value(g, et, NULL, NULL);
    } else if (vt < 13) {
        uint64_t v = gl_u(g, gguf_scalar_size[vt]);
        if (key && alignment && strcmp(key, "general.alignment") == 0) *alignment = (uint32_t)v;
    } else {
        g->pos = g->size + 1;
    }
    return 0;
}

static int gguf_lite_open(gguf_lite *g, const char *path) {
    memset(g, 0, sizeof *g);
    g->buf = (uint8_t *)ts_read_file(path, &g->size);
    if (!g->buf || g->size < 24 || memcmp(g->buf, "GGUF", 4) != 0) return -1;
    g->pos = 4;
    if (gl_u(g, 4) != 3) return -1;
    uint64_t nt = gl_u(g, 8), nkv = gl_u(g, 8);
    if (nt > 100000) return -1;
    uint32_t alignment = 32;
    for (uint64_t i = 0; i < nkv && g->pos <= g->size; i++) {
        uint64_t kl = gl_u(g, 8);
        char key[256] = "";
        if (gl_need(g, kl) && kl < sizeof key) memcpy(key, g->buf + g->pos, kl);
        gl_skip(g, kl);
        gl_skip_value(g, (uint32_t)gl_u(g, 4), key, &alignment);
    }
    g->t = calloc(nt ? nt : 1, sizeof *g->t);
    uint64_t *offs = calloc(nt ? nt : 1, sizeof *offs);
    g->n_tensors = (int)nt;
    for (uint64_t i = 0; i < nt && g->pos <= g->size; i++) {
        uint64_t nl = gl_u(g, 8);
        if (gl_need(g, nl) && nl < sizeof g->t[i].name) memcpy(g->t[i].name, g->buf + g->pos, nl);
        gl_skip(g, nl);
        uint32_t nd = (uint32_t)gl_u(g, 4);
        int64_t n = 1;
        for (uint32_t d = 0; d < nd && d < 8; d++) n *= (int64_t)gl_u(g, 8);
        g->t[i].n = n;
        g->t[i].type = (uint32_t)gl_u(g, 4);
        offs[i] = gl_u(g, 8);
    }
    int ok = g->pos <= g->size && alignment > 0;
    size_t data = ok ? (g->pos + alignment - 1) / alignment * alignment : 0;
    for (uint64_t i = 0; ok && i < nt; i++) {
        size_t rs = slm_type_row_size((slm_type)g->t[i].type, g->t[i].n);
        if (rs == 0 || offs[i] > g->size || data + offs[i] + rs > g->size) ok = 0;
        else g->t[i].data = g->buf + data + offs[i];
    }
    free(offs);
    return ok ? 0 : -1;
}

static void gguf_lite_close(gguf_lite *g) {
    free(g->buf);
    free(g->t);
}

static const gguf_tensor *gguf_lite_find(const gguf_lite *g, const char *name) {
    for (int i = 0; i < g->n_tensors; i++)
        if (strcmp(g->t[i].name, name) == 0) return &g->t[i];
    return NULL;
}

/* Every F32 tensor of golden-f32.gguf, encoded by us, must equal the bytes
 * llama-quantize --pure wrote for it in golden-<TYPE>.gguf. */
START_TEST(test_golden_encoders) {
    const char *src_path = ts_shared("golden/golden-f32.gguf");
    if (!src_path) return;
    gguf_lite src;
    ck_assert_msg(gguf_lite_open(&src, src_path) == 0, "cannot parse %s", src_path);
    static const struct {
        const char *file;
        slm_type type;
    } golden[] = {
        {"golden/golden-F16.gguf", SLM_TYPE_F16},
        {"golden/golden-BF16.gguf", SLM_TYPE_BF16},
        {"golden/golden-Q8_0.gguf", SLM_TYPE_Q8_0},
        {"golden/golden-Q4_0.gguf", SLM_TYPE_Q4_0},
    };
    for (size_t k = 0; k < sizeof golden / sizeof golden[0]; k++) {
        gguf_lite q;
        const char *path = ts_shared(golden[k].file);
        ck_assert_msg(gguf_lite_open(&q, path) == 0, "cannot parse %s", path);
        int n_checked = 0;
        for (int i = 0; i < q.n_tensors; i++) {
            const gguf_tensor *qt = &q.t[i];
            if (qt->type != (uint32_t)golden[k].type) continue;
            const gguf_tensor *st = gguf_lite_find(&src, qt->name);
            ck_assert_msg(st && st->type == SLM_TYPE_F32 && st->n == qt->n, "%s: no f32 source", qt->name);
            size_t rs = slm_type_row_size(golden[k].type, qt->n);
            float *x = malloc((size_t)qt->n * sizeof *x);
            uint8_t *out = malloc(rs);
            memcpy(x, st->data, (size_t)qt->n * sizeof *x);
            encode(golden[k].type, x, out, qt->n);
            size_t diff = 0;
            while (diff < rs && out[diff] == qt->data[diff]) diff++;
            ck_assert_msg(diff == rs, "%s %s: first difference at byte %zu of %zu", golden[k].file, qt->name, diff,
                          rs);
            free(x);
            free(out);
            n_checked++;
        }
        /* README: every one of the 16 matrices has the requested type. */
        ck_assert_int_eq(n_checked, 16);
        gguf_lite_close(&q);
    }
    gguf_lite_close(&src);
}
END_TEST

static Suite *codec_suite(void) {
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("traits");
    tcase_add_test(tc, test_traits_table);
    tcase_add_test(tc, test_traits_invalid_ids);
    tcase_add_test(tc, test_type_from_name);
    tcase_add_test(tc, test_is_quantized);
    tcase_add_test(tc, test_row_size);
    tcase_add_test(tc, test_codec_pointers);
    suite_add_tcase(s, tc);

    tc = tcase_create("float");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_f16_exact_values);
    tcase_add_test(tc, test_f16_ties_normal);
    tcase_add_test(tc, test_f16_subnormals);
    tcase_add_test(tc, test_f16_overflow_inf);
    tcase_add_test(tc, test_f16_nan);
    tcase_add_test(tc, test_f16_all_boundaries);
    tcase_add_test(tc, test_f16_roundtrip_all);
    tcase_add_test(tc, test_f16_nearest_random);
    tcase_add_test(tc, test_bf16_rounding);
    tcase_add_test(tc, test_bf16_nan);
    tcase_add_test(tc, test_bf16_roundtrip_all);
    tcase_add_test(tc, test_row_float_codecs);
    suite_add_tcase(s, tc);

    tc = tcase_create("quant");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_q8_0_known_block);
    tcase_add_test(tc, test_q8_0_unrounded_d);
    tcase_add_test(tc, test_q8_0_zero_block);
    tcase_add_test(tc, test_q4_0_zero_block);
    tcase_add_test(tc, test_q4_0_sign_of_max);
    tcase_add_test(tc, test_q4_0_positive_max);
    tcase_add_test(tc, test_q_decode_known);
    tcase_add_test(tc, test_q_roundtrip_error);
    tcase_add_test(tc, test_q_nonfinite_defined);
    tcase_add_test(tc, test_q_avx2_matches_reference);
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden_encoders);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(codec_suite());
}
