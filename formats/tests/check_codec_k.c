/* check_codec_k.c - unit tests for the Q4_1/Q5_0/Q5_1/Q8_1, K-quant and IQ4
 * codecs (slm_codec_q1.c, slm_codec_q2k.c, slm_codec_q4k.c, slm_codec_q6k.c,
 * slm_codec_iq4.c) and their block structs (slm_blocks.h).
 *
 * Decoders are checked bit for bit against the layouts as formats.md §2.1
 * states them, written here independently of the codec's loops, on random
 * blocks: that pins every element's bit positions and the order of the
 * multiplications. Encoders get hand-worked blocks, the all-zero block of
 * every type, and error bounds on random rows; their byte-exactness against
 * llama.cpp is check_codec_golden's job. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_blocks.h"
#include "slm_type.h"
#include "test_support.h"

static const int8_t K_IQ4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f16_at(const uint8_t *b) { return slm_f16_to_f32((uint16_t)(b[0] | b[1] << 8)); }

/* A random finite fp16 of moderate size, stored at b (the decoders' scales). */
static void put_random_f16(uint8_t *b, uint32_t *s, int allow_negative) {
    float v = (float)(1 + ts_rng_next(s) % 1000) / 512.0f;
    if (allow_negative && (ts_rng_next(s) & 1)) v = -v;
    uint16_t h = slm_f32_to_f16(v);
    b[0] = (uint8_t)h;
    b[1] = (uint8_t)(h >> 8);
}

static void decode(slm_type t, const void *src, float *y, int64_t n) { slm_type_traits_get(t)->to_f32(src, y, n); }
static void encode_ref(slm_type t, const float *x, void *dst, int64_t n) {
    slm_type_traits_get(t)->from_f32(x, dst, n);
}
static void encode_row(slm_type t, const float *x, void *dst, int64_t n, const float *qw) {
    slm_type_traits_get(t)->quantize_row(x, dst, n, qw);
}

#define EXPECT_BEGIN()       \
    int n_bad = 0;           \
    char first_bad[256] = ""
#define EXPECT(cond, ...)                                                               \
    do {                                                                                \
        if (!(cond) && n_bad++ == 0) snprintf(first_bad, sizeof first_bad, __VA_ARGS__); \
    } while (0)
#define EXPECT_END() ck_assert_msg(n_bad == 0, "%d failures, first: %s", n_bad, first_bad)

/* ------------------------------------------------------------ structs */

START_TEST(test_block_sizes_match_traits) {
    static const struct {
        slm_type t;
        size_t size;
    } blocks[] = {
        {SLM_TYPE_Q4_0, sizeof(slm_block_q4_0)},     {SLM_TYPE_Q4_1, sizeof(slm_block_q4_1)},
        {SLM_TYPE_Q5_0, sizeof(slm_block_q5_0)},     {SLM_TYPE_Q5_1, sizeof(slm_block_q5_1)},
        {SLM_TYPE_Q8_0, sizeof(slm_block_q8_0)},     {SLM_TYPE_Q8_1, sizeof(slm_block_q8_1)},
        {SLM_TYPE_Q2_K, sizeof(slm_block_q2_k)},     {SLM_TYPE_Q3_K, sizeof(slm_block_q3_k)},
        {SLM_TYPE_Q4_K, sizeof(slm_block_q4_k)},     {SLM_TYPE_Q5_K, sizeof(slm_block_q5_k)},
        {SLM_TYPE_Q6_K, sizeof(slm_block_q6_k)},     {SLM_TYPE_Q8_K, sizeof(slm_block_q8_k)},
        {SLM_TYPE_IQ4_NL, sizeof(slm_block_iq4_nl)}, {SLM_TYPE_IQ4_XS, sizeof(slm_block_iq4_xs)},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        const slm_type_traits *tt = slm_type_traits_get(blocks[i].t);
        ck_assert_msg((size_t)tt->type_size == blocks[i].size, "%s", tt->name);
    }
    /* Byte-array blocks have no alignment requirement (rows of a mapped
     * GGUF start anywhere); Q8_K is the activation-only exception. */
    ck_assert_uint_eq(_Alignof(slm_block_q4_k), 1);
    ck_assert_uint_eq(_Alignof(slm_block_q6_k), 1);
    ck_assert_uint_eq(_Alignof(slm_block_iq4_xs), 1);
    ck_assert_uint_eq(_Alignof(slm_block_q5_0), 1);
    for (int i = 1; i < 16; i++) ck_assert_int_lt(slm_kvalues_iq4nl[i - 1], slm_kvalues_iq4nl[i]);
    ck_assert_mem_eq(slm_kvalues_iq4nl, K_IQ4, 16);
}
END_TEST

/* K-quants and IQ4_XS need whole 256-element super-blocks per row. */
START_TEST(test_row_size_super_blocks) {
    const slm_type k[] = {SLM_TYPE_Q2_K, SLM_TYPE_Q3_K, SLM_TYPE_Q4_K, SLM_TYPE_Q5_K,
                          SLM_TYPE_Q6_K, SLM_TYPE_Q8_K, SLM_TYPE_IQ4_XS};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const slm_type_traits *tt = slm_type_traits_get(k[i]);
        ck_assert_uint_eq(slm_type_row_size(k[i], 32), 0);
        ck_assert_uint_eq(slm_type_row_size(k[i], 288), 0);
        ck_assert_uint_eq(slm_type_row_size(k[i], 768 + 32), 0);
        ck_assert_uint_eq(slm_type_row_size(k[i], 768), 3 * (size_t)tt->type_size);
    }
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_IQ4_NL, 288), 9 * 18);
    ck_assert_uint_eq(slm_type_row_size(SLM_TYPE_Q5_1, 288), 9 * 24);
}
END_TEST

/* --------------------------------------------------- decoders vs layout */

/* Value of element e of a block, computed from formats.md §2.1 alone. */
static float spec_q4_1(const uint8_t *b, int e) {
    int q = e < 16 ? b[4 + e] & 15 : b[4 + e - 16] >> 4;
    return q * f16_at(b) + f16_at(b + 2);
}

static int q5_bit(const uint8_t *qh, int e) { return (int)((slm_load_u32le(qh) >> e) & 1); }

static float spec_q5_0(const uint8_t *b, int e) {
    int q = (e < 16 ? b[6 + e] & 15 : b[6 + e - 16] >> 4) | q5_bit(b + 2, e) << 4;
    return (q - 16) * f16_at(b);
}

static float spec_q5_1(const uint8_t *b, int e) {
    int q = (e < 16 ? b[8 + e] & 15 : b[8 + e - 16] >> 4) | q5_bit(b + 4, e) << 4;
    return q * f16_at(b) + f16_at(b + 2);
}

static float spec_q8_1(const uint8_t *b, int e) { return (int8_t)b[4 + e] * f16_at(b); }

static float spec_q2_k(const uint8_t *b, int e) {
    int h = e / 128, j = (e % 128) / 32, l = e % 32;
    int q = (b[16 + 32 * h + l] >> (2 * j)) & 3;
    int sc = b[e / 16] & 15, m = b[e / 16] >> 4;
    return f16_at(b + 80) * sc * q - f16_at(b + 82) * m;
}

static float spec_q3_k(const uint8_t *b, int e) {
    int h = e / 128, j = (e % 128) / 32, l = e % 32;
    int low = (b[32 + 32 * h + l] >> (2 * j)) & 3;
    int hbit = (b[l] >> (4 * h + j)) & 1;
    int q = low + 4 * hbit - 4;
    int s = e / 16;
    int scale = ((b[96 + s % 8] >> (4 * (s / 8))) & 15) | ((b[96 + 8 + s % 4] >> (2 * (s / 4))) & 3) << 4;
    return f16_at(b + 108) * (scale - 32) * q;
}

/* formats.md's K-scale decoding, sub-block s = 0..7. */
static void spec_k_scale(const uint8_t *sb, int s, int *sc, int *m) {
    if (s < 4) {
        *sc = sb[s] & 63;
        *m = sb[s + 4] & 63;
    } else {
        *sc = (sb[s + 4] & 15) | (sb[s - 4] >> 6) << 4;
        *m = (sb[s + 4] >> 4) | (sb[s] >> 6) << 4;
    }
}

static float spec_q4_k(const uint8_t *b, int e) {
    int c = e / 64, hi = (e % 64) / 32, l = e % 32;
    int q = hi ? b[16 + 32 * c + l] >> 4 : b[16 + 32 * c + l] & 15;
    int sc, m;
    spec_k_scale(b + 4, e / 32, &sc, &m);
    return f16_at(b) * sc * q - f16_at(b + 2) * m;
}

static float spec_q5_k(const uint8_t *b, int e) {
    int c = e / 64, hi = (e % 64) / 32, l = e % 32;
    int q = hi ? b[48 + 32 * c + l] >> 4 : b[48 + 32 * c + l] & 15;
    q |= ((b[16 + l] >> (2 * c + hi)) & 1) << 4;
    int sc, m;
    spec_k_scale(b + 4, e / 32, &sc, &m);
    return f16_at(b) * sc * q - f16_at(b + 2) * m;
}

static float spec_q6_k(const uint8_t *b, int e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t *L = b + 64 * h, *H = b + 128 + 32 * h;
    static const int low_byte[4] = {0, 32, 0, 32}, low_shift[4] = {0, 0, 4, 4};
    int low = (L[l + low_byte[k]] >> low_shift[k]) & 15;
    int high = (H[l] >> (2 * k)) & 3;
    int q = (low | high << 4) - 32;
    return f16_at(b + 208) * (int8_t)b[192 + e / 16] * q;
}

static float spec_iq4_nl(const uint8_t *b, int e) {
    int q = e < 16 ? b[2 + e] & 15 : b[2 + e - 16] >> 4;
    return f16_at(b) * K_IQ4[q];
}

static float spec_iq4_xs(const uint8_t *b, int e) {
    int sb = e / 32, j = e % 32;
    const uint8_t *qs = b + 8 + 16 * sb;
    int q = j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
    int ls = ((b[4 + sb / 2] >> (4 * (sb % 2))) & 15) | ((slm_load_u16le(b + 2) >> (2 * sb)) & 3) << 4;
    return f16_at(b) * (ls - 32) * K_IQ4[q];
}

typedef struct decode_case {
    slm_type t;
    float (*spec)(const uint8_t *b, int e);
    int f16_at[2]; /* byte offsets of fp16 fields to make finite; -1 none */
} decode_case;

static const decode_case decode_cases[] = {
    {SLM_TYPE_Q4_1, spec_q4_1, {0, 2}},      {SLM_TYPE_Q5_0, spec_q5_0, {0, -1}},
    {SLM_TYPE_Q5_1, spec_q5_1, {0, 2}},      {SLM_TYPE_Q8_1, spec_q8_1, {0, 2}},
    {SLM_TYPE_Q2_K, spec_q2_k, {80, 82}},    {SLM_TYPE_Q3_K, spec_q3_k, {108, -1}},
    {SLM_TYPE_Q4_K, spec_q4_k, {0, 2}},      {SLM_TYPE_Q5_K, spec_q5_k, {0, 2}},
    {SLM_TYPE_Q6_K, spec_q6_k, {208, -1}},   {SLM_TYPE_IQ4_NL, spec_iq4_nl, {0, -1}},
    {SLM_TYPE_IQ4_XS, spec_iq4_xs, {0, -1}},
};

/* Random blocks, two per call (so block strides are exercised), decoded
 * through the traits table and compared bit for bit with the spec. */
START_TEST(test_decode_matches_layout) {
    const decode_case *dc = &decode_cases[_i];
    const slm_type_traits *tt = slm_type_traits_get(dc->t);
    uint32_t s = 1234u + (uint32_t)_i;
    uint8_t buf[2 * 292];
    float y[2 * 256];
    EXPECT_BEGIN();
    for (int iter = 0; iter < 200; iter++) {
        for (int i = 0; i < 2 * tt->type_size; i++) buf[i] = (uint8_t)ts_rng_next(&s);
        for (int blk = 0; blk < 2; blk++)
            for (int f = 0; f < 2; f++)
                if (dc->f16_at[f] >= 0) put_random_f16(buf + blk * tt->type_size + dc->f16_at[f], &s, 1);
        decode(dc->t, buf, y, 2 * tt->blck);
        for (int blk = 0; blk < 2; blk++)
            for (int e = 0; e < tt->blck; e++) {
                float want = dc->spec(buf + blk * tt->type_size, e);
                float got = y[blk * tt->blck + e];
                EXPECT(bits_of(want) == bits_of(got), "%s block %d element %d: got %a want %a", tt->name, blk, e,
                       got, want);
            }
    }
    EXPECT_END();
}
END_TEST

START_TEST(test_decode_q8_k) {
    slm_block_q8_k b[2];
    for (int i = 0; i < 256; i++) b[0].qs[i] = (int8_t)(i - 128), b[1].qs[i] = (int8_t)(127 - i);
    b[0].d = 0.5f;
    b[1].d = -0.25f;
    float y[512];
    decode(SLM_TYPE_Q8_K, b, y, 512);
    for (int i = 0; i < 256; i++) {
        ck_assert(y[i] == 0.5f * (i - 128));
        ck_assert(y[256 + i] == -0.25f * (127 - i));
    }
}
END_TEST

/* ------------------------------------------------------ hand-made encodes */

static void expect_bytes(const char *what, const uint8_t *got, const uint8_t *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "%s: byte %zu is 0x%02x, want 0x%02x", what, i, got[i], want[i]);
}

/* x = q exactly representable: min 0 / max 15 makes d = 1, and every
 * element lands on its own level. */
START_TEST(test_q4_1_known_block) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j % 16) - 8.0f;
    uint8_t want[20] = {0x00, 0x3C, 0x00, 0xC8}; /* d = 1, m = -8 */
    for (int j = 0; j < 16; j++) want[4 + j] = (uint8_t)(j | j << 4);
    uint8_t got[20];
    encode_ref(SLM_TYPE_Q4_1, x, got, 32);
    expect_bytes("q4_1", got, want, 20);
}
END_TEST

/* x = j - 16: the signed max is -16 (element 0), so d = 1 and q = j; bit 4
 * is set exactly for elements 16..31. */
START_TEST(test_q5_0_known_block) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)j - 16.0f;
    uint8_t want[22] = {0x00, 0x3C, 0x00, 0x00, 0xFF, 0xFF};
    for (int j = 0; j < 16; j++) want[6 + j] = (uint8_t)(j | j << 4);
    uint8_t got[22];
    encode_ref(SLM_TYPE_Q5_0, x, got, 32);
    expect_bytes("q5_0", got, want, 22);
}
END_TEST

START_TEST(test_q5_1_known_block) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)j + 0.25f; /* min 0.25, d = 1 */
    uint8_t want[24] = {0x00, 0x3C, 0x00, 0x34, 0x00, 0x00, 0xFF, 0xFF};
    for (int j = 0; j < 16; j++) want[8 + j] = (uint8_t)(j | j << 4);
    uint8_t got[24];
    encode_ref(SLM_TYPE_Q5_1, x, got, 32);
    expect_bytes("q5_1", got, want, 24);
}
END_TEST

/* What each encoder writes for an all-zero block, worked out from ggml's
 * rules: a zero scale everywhere, except where a signed-max rule divides
 * 0 by a negative constant (-0.0 stored as 0x8000) or the zero level is
 * not the code 0 (Q5_0's 16, IQ4's index 8 of level 1). */
START_TEST(test_zero_blocks) {
    static float x[256];
    uint8_t got[292], want[292];
    const slm_type all_zero[] = {SLM_TYPE_Q4_1, SLM_TYPE_Q5_1, SLM_TYPE_Q2_K, SLM_TYPE_Q3_K,
                                 SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K, SLM_TYPE_Q8_K};
    for (size_t i = 0; i < sizeof all_zero / sizeof all_zero[0]; i++) {
        const slm_type_traits *tt = slm_type_traits_get(all_zero[i]);
        memset(want, 0, sizeof want);
        memset(got, 0xA5, sizeof got);
        encode_ref(all_zero[i], x, got, tt->blck);
        expect_bytes(tt->name, got, want, (size_t)tt->type_size);
        if (tt->quantize_row) {
            memset(got, 0xA5, sizeof got);
            encode_row(all_zero[i], x, got, tt->blck, NULL);
            expect_bytes(tt->name, got, want, (size_t)tt->type_size);
        }
    }
    /* Q5_0: d = 0/-16 = -0.0; q = 16 for all, so every qh bit is set. */
    memset(want, 0, sizeof want);
    want[1] = 0x80;
    memset(want + 2, 0xFF, 4);
    encode_ref(SLM_TYPE_Q5_0, x, got, 32);
    expect_bytes("q5_0", got, want, 22);
    /* IQ4_NL (llama.cpp's search): d = 0, and with id = 0 every element
     * takes the level nearest 0, which is 1 at index 8. */
    memset(want, 0x88, sizeof want);
    want[0] = want[1] = 0;
    encode_row(SLM_TYPE_IQ4_NL, x, got, 32, NULL);
    expect_bytes("iq4_nl", got, want, 18);
    /* IQ4_XS: d = -0/32 = -0.0, every 6-bit scale l = 0 stored as 32
     * (low nibble 0, high bits 2 -> scales_h 0xAAAA), levels index 8. */
    memset(want, 0x88, sizeof want);
    want[0] = 0x00, want[1] = 0x80, want[2] = 0xAA, want[3] = 0xAA;
    memset(want + 4, 0, 4);
    encode_row(SLM_TYPE_IQ4_XS, x, got, 256, NULL);
    expect_bytes("iq4_xs", got, want, 136);
    encode_ref(SLM_TYPE_IQ4_XS, x, got, 256);
    expect_bytes("iq4_xs ref", got, want, 136);
}
END_TEST

/* -------------------------------------------- entry points and rules */

/* quantize_row without weights is llama-quantize's rule: the _ref rule
 * (from_f32) for every type but IQ4_NL, whose _ref searches less. */
START_TEST(test_quantize_row_null_is_ref) {
    enum { N = 512 };
    static float x[N];
    static uint8_t a[N * 4], b[N * 4];
    uint32_t s = 99;
    for (int i = 0; i < N; i++) x[i] = ts_rng_unit(&s) * (i % 5 == 0 ? 4.0f : 1.0f);
    int n_types = 0;
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        const slm_type_traits *tt = slm_type_traits_get(t);
        if (!tt || !tt->quantize_row) continue;
        ck_assert_msg(tt->from_f32 != NULL, "%s", tt->name);
        size_t rs = slm_type_row_size((slm_type)t, N);
        encode_ref((slm_type)t, x, a, N);
        encode_row((slm_type)t, x, b, N, NULL);
        if (t == SLM_TYPE_IQ4_NL) ck_assert_msg(memcmp(a, b, rs) != 0, "iq4_nl: _ref and search agree");
        else ck_assert_msg(memcmp(a, b, rs) == 0, "%s: quantize_row(NULL) differs from from_f32", tt->name);
        n_types++;
    }
    ck_assert_int_eq(n_types, 15);
}
END_TEST

/* The weighted legacy rules use the whole row's mean square, so a block's
 * bytes depend on the rest of the row; the K-quant ones only on their
 * super-block, and an imatrix of all ones is not the same as none. */
START_TEST(test_weighted_row_statistics) {
    enum { N = 512 };
    static float x[N], qw[N];
    static uint8_t a[N * 4], b[N * 4];
    uint32_t s = 7;
    for (int i = 0; i < N; i++) x[i] = ts_rng_unit(&s), qw[i] = 0.5f + (float)(ts_rng_next(&s) % 100) / 50.0f;
    const slm_type legacy[] = {SLM_TYPE_Q4_0, SLM_TYPE_Q4_1, SLM_TYPE_Q5_0, SLM_TYPE_Q5_1};
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
        const slm_type_traits *tt = slm_type_traits_get(legacy[i]);
        encode_row(legacy[i], x, a, N, qw);
        for (int j = 256; j < N; j++) x[j] *= 8.0f; /* the second half only */
        encode_row(legacy[i], x, b, N, qw);
        for (int j = 256; j < N; j++) x[j] /= 8.0f;
        int differ = 0;
        for (int blk = 0; blk < 8; blk++)
            differ += memcmp(a + blk * tt->type_size, b + blk * tt->type_size, (size_t)tt->type_size) != 0;
        ck_assert_msg(differ > 0, "%s: first half ignores the row's mean square", tt->name);
    }
    const slm_type k[] = {SLM_TYPE_Q2_K, SLM_TYPE_Q3_K, SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K, SLM_TYPE_IQ4_XS};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const slm_type_traits *tt = slm_type_traits_get(k[i]);
        encode_row(k[i], x, a, N, qw);
        for (int j = 256; j < N; j++) x[j] *= 8.0f;
        encode_row(k[i], x, b, N, qw);
        for (int j = 256; j < N; j++) x[j] /= 8.0f;
        ck_assert_msg(memcmp(a, b, (size_t)tt->type_size) == 0, "%s: super-block 0 depends on super-block 1",
                      tt->name);
        for (int j = 0; j < N; j++) qw[j] = 1.0f;
        encode_row(k[i], x, a, N, qw);
        encode_row(k[i], x, b, N, NULL);
        ck_assert_msg(memcmp(a, b, 2 * (size_t)tt->type_size) != 0, "%s: weights ignored", tt->name);
        for (int j = 0; j < N; j++) qw[j] = 0.5f + (float)(ts_rng_next(&s) % 100) / 50.0f;
    }
}
END_TEST

/* ---------------------------------------------------------- round trips */

typedef struct bound_case {
    slm_type t;
    double rel_rmse; /* of a row of Gaussian-ish values */
} bound_case;

/* Bounds about 25% above what each format achieves on this data (plain and
 * weighted alike); a layout or scale bug overshoots them by far. */
static const bound_case bound_cases[] = {
    {SLM_TYPE_Q4_1, 0.09}, {SLM_TYPE_Q5_0, 0.05}, {SLM_TYPE_Q5_1, 0.045}, {SLM_TYPE_Q8_1, 0.0065},
    {SLM_TYPE_Q2_K, 0.34}, {SLM_TYPE_Q3_K, 0.18}, {SLM_TYPE_Q4_K, 0.085}, {SLM_TYPE_Q5_K, 0.043},
    {SLM_TYPE_Q6_K, 0.021}, {SLM_TYPE_Q8_K, 0.0075}, {SLM_TYPE_IQ4_NL, 0.092}, {SLM_TYPE_IQ4_XS, 0.092},
};

START_TEST(test_roundtrip_error) {
    const bound_case *bc = &bound_cases[_i];
    const slm_type_traits *tt = slm_type_traits_get(bc->t);
    enum { N = 4096 };
    static float x[N], y[N], qw[N];
    static uint8_t buf[N * 2]; /* Q8_K, the largest, takes 292/256 bytes per element */
    uint32_t s = 4242;
    /* 0.05 keeps the fp16 scales normal (a subnormal one loses precision). */
    const float scales[] = {1.0f, 0.05f, 250.0f};
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        for (int i = 0; i < N; i++) {
            /* Sum of three uniforms: roughly Gaussian, unbounded-ish tails. */
            x[i] = scales[k] * (ts_rng_unit(&s) + ts_rng_unit(&s) + ts_rng_unit(&s));
            qw[i] = 0.1f + (float)(ts_rng_next(&s) % 1000) / 100.0f;
        }
        for (int weighted = 0; weighted < 2; weighted++) {
            if (weighted && !tt->quantize_row) continue;
            if (weighted) encode_row(bc->t, x, buf, N, qw);
            else encode_ref(bc->t, x, buf, N);
            decode(bc->t, buf, y, N);
            double se = 0, sx = 0;
            for (int i = 0; i < N; i++) {
                se += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
                sx += (double)x[i] * x[i];
            }
            double rel = sqrt(se / sx);
            ck_assert_msg(rel <= bc->rel_rmse, "%s%s scale %g: relative RMSE %.4f > %.4f", tt->name,
                          weighted ? " (weighted)" : "", (double)scales[k], rel, bc->rel_rmse);
        }
    }
}
END_TEST

static Suite *codec_k_suite(void) {
    Suite *s = suite_create("codec_k");
    TCase *tc = tcase_create("layout");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_block_sizes_match_traits);
    tcase_add_test(tc, test_row_size_super_blocks);
    tcase_add_loop_test(tc, test_decode_matches_layout, 0, (int)(sizeof decode_cases / sizeof decode_cases[0]));
    tcase_add_test(tc, test_decode_q8_k);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_q4_1_known_block);
    tcase_add_test(tc, test_q5_0_known_block);
    tcase_add_test(tc, test_q5_1_known_block);
    tcase_add_test(tc, test_zero_blocks);
    tcase_add_test(tc, test_quantize_row_null_is_ref);
    tcase_add_test(tc, test_weighted_row_statistics);
    tcase_add_loop_test(tc, test_roundtrip_error, 0, (int)(sizeof bound_cases / sizeof bound_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(codec_k_suite()); }
