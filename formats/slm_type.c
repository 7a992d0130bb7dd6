/* slm_type.c - the traits table of ggml tensor types (name, block size,
 * bytes per block, reference codecs) and the lookups built on it.
 *
 * The table is indexed by ggml type id because those ids are what GGUF
 * stores; ids ggml has removed (4, 5, 31-33, 36-38) stay zeroed, and a NULL
 * name is what marks them invalid. */
#include "slm_type.h"

#include <ctype.h>
#include <stdint.h>

/* Reference codecs, defined in slm_codec_*.c. They are reached only through
 * this table, so they are declared here rather than in the public header;
 * each codec file checks its definitions against the typedefs. */
#define DECLARE_CODECS(t)                                              \
    void slm_dequantize_row_##t(const void *src, float *dst, int64_t n); \
    void slm_quantize_row_##t##_ref(const float *src, void *dst, int64_t n)
#define DECLARE_ROW(t) void slm_quantize_row_##t(const float *src, void *dst, int64_t n, const float *imatrix)

void slm_row_f32_to_f32(const void *src, float *dst, int64_t n);
void slm_row_f32_from_f32(const float *src, void *dst, int64_t n);
void slm_row_f16_to_f32(const void *src, float *dst, int64_t n);
void slm_row_f16_from_f32(const float *src, void *dst, int64_t n);
void slm_row_bf16_to_f32(const void *src, float *dst, int64_t n);
void slm_row_bf16_from_f32(const float *src, void *dst, int64_t n);
DECLARE_CODECS(q8_0);
DECLARE_CODECS(q4_0);
DECLARE_CODECS(q4_1);
DECLARE_CODECS(q5_0);
DECLARE_CODECS(q5_1);
DECLARE_CODECS(q8_1);
DECLARE_CODECS(q2_k);
DECLARE_CODECS(q3_k);
DECLARE_CODECS(q4_k);
DECLARE_CODECS(q5_k);
DECLARE_CODECS(q6_k);
DECLARE_CODECS(q8_k);
DECLARE_CODECS(iq4_nl);
DECLARE_CODECS(iq4_xs);
DECLARE_ROW(q8_0);
DECLARE_ROW(q4_0);
DECLARE_ROW(q4_1);
DECLARE_ROW(q5_0);
DECLARE_ROW(q5_1);
DECLARE_ROW(q2_k);
DECLARE_ROW(q3_k);
DECLARE_ROW(q4_k);
DECLARE_ROW(q5_k);
DECLARE_ROW(q6_k);
DECLARE_ROW(iq4_nl);
DECLARE_ROW(iq4_xs);

/* F32/F16/BF16 have no weighted rule: llama.cpp converts them as they are. */
static void quantize_row_f32(const float *src, void *dst, int64_t n, const float *imatrix) {
    (void)imatrix;
    slm_row_f32_from_f32(src, dst, n);
}
static void quantize_row_f16(const float *src, void *dst, int64_t n, const float *imatrix) {
    (void)imatrix;
    slm_row_f16_from_f32(src, dst, n);
}
static void quantize_row_bf16(const float *src, void *dst, int64_t n, const float *imatrix) {
    (void)imatrix;
    slm_row_bf16_from_f32(src, dst, n);
}

#define CODECS(t) .to_f32 = slm_dequantize_row_##t, .from_f32 = slm_quantize_row_##t##_ref
#define ROW(t) .quantize_row = slm_quantize_row_##t

/* Sizes are ggml's (formats.md §2); they decide tensor byte sizes in GGUF,
 * so a wrong entry here misplaces every tensor that follows. */
static const slm_type_traits type_traits[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = {.name = "f32", .blck = 1, .type_size = 4,
                      .to_f32 = slm_row_f32_to_f32, .from_f32 = slm_row_f32_from_f32,
                      .quantize_row = quantize_row_f32},
    [SLM_TYPE_F16] = {.name = "f16", .blck = 1, .type_size = 2,
                      .to_f32 = slm_row_f16_to_f32, .from_f32 = slm_row_f16_from_f32,
                      .quantize_row = quantize_row_f16},
    [SLM_TYPE_Q4_0] = {.name = "q4_0", .blck = 32, .type_size = 18, CODECS(q4_0), ROW(q4_0)},
    [SLM_TYPE_Q4_1] = {.name = "q4_1", .blck = 32, .type_size = 20, CODECS(q4_1), ROW(q4_1)},
    [SLM_TYPE_Q5_0] = {.name = "q5_0", .blck = 32, .type_size = 22, CODECS(q5_0), ROW(q5_0)},
    [SLM_TYPE_Q5_1] = {.name = "q5_1", .blck = 32, .type_size = 24, CODECS(q5_1), ROW(q5_1)},
    [SLM_TYPE_Q8_0] = {.name = "q8_0", .blck = 32, .type_size = 34, CODECS(q8_0), ROW(q8_0)},
    [SLM_TYPE_Q8_1] = {.name = "q8_1", .blck = 32, .type_size = 36, CODECS(q8_1)},
    [SLM_TYPE_Q2_K] = {.name = "q2_k", .blck = 256, .type_size = 84, CODECS(q2_k), ROW(q2_k)},
    [SLM_TYPE_Q3_K] = {.name = "q3_k", .blck = 256, .type_size = 110, CODECS(q3_k), ROW(q3_k)},
    [SLM_TYPE_Q4_K] = {.name = "q4_k", .blck = 256, .type_size = 144, CODECS(q4_k), ROW(q4_k)},
    [SLM_TYPE_Q5_K] = {.name = "q5_k", .blck = 256, .type_size = 176, CODECS(q5_k), ROW(q5_k)},
    [SLM_TYPE_Q6_K] = {.name = "q6_k", .blck = 256, .type_size = 210, CODECS(q6_k), ROW(q6_k)},
    [SLM_TYPE_Q8_K] = {.name = "q8_k", .blck = 256, .type_size = 292, CODECS(q8_k)},
    [SLM_TYPE_IQ2_XXS] = {.name = "iq2_xxs", .blck = 256, .type_size = 66},
    [SLM_TYPE_IQ2_XS] = {.name = "iq2_xs", .blck = 256, .type_size = 74},
    [SLM_TYPE_IQ3_XXS] = {.name = "iq3_xxs", .blck = 256, .type_size = 98},
    [SLM_TYPE_IQ1_S] = {.name = "iq1_s", .blck = 256, .type_size = 50},
    [SLM_TYPE_IQ4_NL] = {.name = "iq4_nl", .blck = 32, .type_size = 18, CODECS(iq4_nl), ROW(iq4_nl)},
    [SLM_TYPE_IQ3_S] = {.name = "iq3_s", .blck = 256, .type_size = 110},
    [SLM_TYPE_IQ2_S] = {.name = "iq2_s", .blck = 256, .type_size = 82},
    [SLM_TYPE_IQ4_XS] = {.name = "iq4_xs", .blck = 256, .type_size = 136, CODECS(iq4_xs), ROW(iq4_xs)},
    [SLM_TYPE_I8] = {.name = "i8", .blck = 1, .type_size = 1},
    [SLM_TYPE_I16] = {.name = "i16", .blck = 1, .type_size = 2},
    [SLM_TYPE_I32] = {.name = "i32", .blck = 1, .type_size = 4},
    [SLM_TYPE_I64] = {.name = "i64", .blck = 1, .type_size = 8},
    [SLM_TYPE_F64] = {.name = "f64", .blck = 1, .type_size = 8},
    [SLM_TYPE_IQ1_M] = {.name = "iq1_m", .blck = 256, .type_size = 56},
    [SLM_TYPE_BF16] = {.name = "bf16", .blck = 1, .type_size = 2,
                       .to_f32 = slm_row_bf16_to_f32, .from_f32 = slm_row_bf16_from_f32,
                       .quantize_row = quantize_row_bf16},
    [SLM_TYPE_TQ1_0] = {.name = "tq1_0", .blck = 256, .type_size = 54},
    [SLM_TYPE_TQ2_0] = {.name = "tq2_0", .blck = 256, .type_size = 66},
};

const slm_type_traits *slm_type_traits_get(int type) {
    if (type < 0 || type >= SLM_TYPE_COUNT || type_traits[type].name == NULL) return NULL;
    return &type_traits[type];
}

bool slm_type_is_valid(int type) { return slm_type_traits_get(type) != NULL; }

const char *slm_type_name(int type) {
    const slm_type_traits *tt = slm_type_traits_get(type);
    return tt ? tt->name : "unknown";
}

static bool name_eq_nocase(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

bool slm_type_from_name(const char *name, slm_type *out) {
    if (!name) return false;
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        if (type_traits[t].name && name_eq_nocase(name, type_traits[t].name)) {
            if (out) *out = (slm_type)t;
            return true;
        }
    }
    return false;
}

/* ggml counts every block type as quantized (Q8_1 and Q8_K included) and the
 * plain int/float element types as not; blck > 1 is exactly that split. */
bool slm_type_is_quantized(slm_type t) {
    const slm_type_traits *tt = slm_type_traits_get((int)t);
    return tt && tt->blck > 1;
}

size_t slm_type_row_size(slm_type t, int64_t ne0) {
    const slm_type_traits *tt = slm_type_traits_get((int)t);
    if (!tt || ne0 < 0 || ne0 % tt->blck != 0) return 0;
    uint64_t nb = (uint64_t)(ne0 / tt->blck);
    /* A row too large for size_t is as unusable as a misaligned one. */
    if (nb > SIZE_MAX / (size_t)tt->type_size) return 0;
    return (size_t)nb * (size_t)tt->type_size;
}
