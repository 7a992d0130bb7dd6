/* slm_type.h - tensor element types (ggml ids), their block traits, and the
 * scalar reference codecs between f32 and each storage type.
 *
 * Type ids are ggml's (they are written verbatim into GGUF). A quantized type
 * packs `blck` elements into `type_size` bytes; block layouts are in
 * slm_blocks.h. Encoders are the bit-exact reference quantizers: they must be
 * compiled with -ffp-contract=off (see formats/CMakeLists.txt). */
#ifndef SLM_TYPE_H
#define SLM_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum slm_type {
    SLM_TYPE_F32 = 0,
    SLM_TYPE_F16 = 1,
    SLM_TYPE_Q4_0 = 2,
    SLM_TYPE_Q4_1 = 3,
    SLM_TYPE_Q5_0 = 6,
    SLM_TYPE_Q5_1 = 7,
    SLM_TYPE_Q8_0 = 8,
    SLM_TYPE_Q8_1 = 9,
    SLM_TYPE_Q2_K = 10,
    SLM_TYPE_Q3_K = 11,
    SLM_TYPE_Q4_K = 12,
    SLM_TYPE_Q5_K = 13,
    SLM_TYPE_Q6_K = 14,
    SLM_TYPE_Q8_K = 15,
    SLM_TYPE_IQ2_XXS = 16,
    SLM_TYPE_IQ2_XS = 17,
    SLM_TYPE_IQ3_XXS = 18,
    SLM_TYPE_IQ1_S = 19,
    SLM_TYPE_IQ4_NL = 20,
    SLM_TYPE_IQ3_S = 21,
    SLM_TYPE_IQ2_S = 22,
    SLM_TYPE_IQ4_XS = 23,
    SLM_TYPE_I8 = 24,
    SLM_TYPE_I16 = 25,
    SLM_TYPE_I32 = 26,
    SLM_TYPE_I64 = 27,
    SLM_TYPE_F64 = 28,
    SLM_TYPE_IQ1_M = 29,
    SLM_TYPE_BF16 = 30,
    SLM_TYPE_TQ1_0 = 34,
    SLM_TYPE_TQ2_0 = 35,
    SLM_TYPE_COUNT = 39
} slm_type;

/* Dequantizes n elements (n a multiple of blck), with ggml's
 * dequantize_row_* arithmetic (so the values are bit-identical to ggml's). */
typedef void (*slm_to_f32_fn)(const void *src, float *dst, int64_t n);
/* Encodes n elements (n a multiple of blck) with the reference rules, without
 * importance weights: ggml's quantize_row_<type>_ref. Blocks are independent,
 * so any n works, rows included. */
typedef void (*slm_from_f32_fn)(const float *src, void *dst, int64_t n);
/* Encodes one row of n_per_row elements (a multiple of blck) exactly as
 * llama-quantize does: llama.cpp's quantize_<type>(src, dst, 1, n_per_row,
 * imatrix).
 * - imatrix: n_per_row importance weights, one per column (the legacy
 *   imatrix values divided by their call count, see slm_imatrix.h), or NULL.
 * - With imatrix NULL the result is what llama-quantize writes without an
 *   importance matrix. That equals from_f32 for every type except IQ4_NL and
 *   IQ4_XS, whose quantize_* searches scales with weights x^2 even then
 *   (their _ref rule, from_f32, is a cheaper search and differs).
 * - It is row-wise because some weighted rules use statistics of the whole
 *   row (Q4_0..Q5_1 weight by the row's mean square), so a row must not be
 *   split across calls. Types llama.cpp has no weighted rule for (F32, F16,
 *   BF16, Q8_0) ignore imatrix. */
typedef void (*slm_quantize_row_fn)(const float *row, void *dst, int64_t n_per_row, const float *imatrix);

typedef struct slm_type_traits {
    const char *name;      /* "q4_0"; NULL for ids that are not valid types */
    int blck;              /* elements per block */
    int type_size;         /* bytes per block */
    slm_to_f32_fn to_f32;  /* NULL when no decoder exists */
    slm_from_f32_fn from_f32; /* NULL when no encoder exists */
    /* NULL for types llama-quantize cannot write (Q8_1 and Q8_K are
     * activation formats: from_f32 only) and types with no encoder. */
    slm_quantize_row_fn quantize_row;
} slm_type_traits;

/* Traits for a type id, or NULL when the id is not a valid ggml type. */
const slm_type_traits *slm_type_traits_get(int type);

/* "f32", "q4_0", ...; "unknown" for invalid ids. */
const char *slm_type_name(int type);

/* Parses a type name, case-insensitive ("Q4_0", "q8_0", "bf16").
 * Returns false when the name is not a known type. */
bool slm_type_from_name(const char *name, slm_type *out);

bool slm_type_is_valid(int type);
bool slm_type_is_quantized(slm_type t);

/* Bytes of one row of ne0 elements; 0 when ne0 is not a multiple of blck. */
size_t slm_type_row_size(slm_type t, int64_t ne0);

/* fp16 / bf16 scalar conversions (round to nearest even, as ggml). */
uint16_t slm_f32_to_f16(float f);
float slm_f16_to_f32(uint16_t h);
uint16_t slm_f32_to_bf16(float f);
float slm_bf16_to_f32(uint16_t h);

#endif
