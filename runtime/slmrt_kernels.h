/* slmrt_kernels.h - the per-ISA kernel table. Every kernel has a scalar
 * reference (slmrt_kernels_scalar.c); the AVX2 and AVX-512 versions live in
 * their own files compiled with their own flags and must agree with it
 * (tests/check_kernels.c runs every ISA the CPU has on the same inputs).
 *
 * Matrix-vector products work on quantized blocks directly: the activation
 * row is quantized once per matmul to the weight type's "dot partner"
 * (Q8_0 for Q4_0 and Q8_0 weights, as ggml does), and each output is an
 * integer dot product per block scaled by the two block scales. */
#ifndef SLMRT_KERNELS_H
#define SLMRT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "slm_type.h"
#include "slmrt_cpu.h"

/* The longest attention head the kernels take (real models: 64-256). */
#define SLMRT_MAX_HEAD_DIM 1024

/* Dot product of one weight row (n elements, in the weight type's layout)
 * with one prepared activation row (in the partner layout). */
typedef float (*slmrt_dot_fn)(int n, const void *w_row, const void *x_prepared);
/* Converts an f32 activation row (n elements) into the partner layout.
 * `out` must be 64-byte aligned: a Q8_0-partner row stores floats and
 * int32s at 64-aligned offsets inside it (the runtime's scratch is). */
typedef void (*slmrt_prepare_fn)(const float *x, void *out, int n);

typedef struct slmrt_type_kernels {
    slm_type partner;         /* activation layout: F32, F16 or Q8_0 */
    slmrt_prepare_fn prepare; /* f32 -> partner */
    slmrt_dot_fn dot;         /* weight row · prepared row */
} slmrt_type_kernels;

typedef struct slmrt_kernels {
    slmrt_isa isa;
    slmrt_type_kernels by_type[SLM_TYPE_COUNT]; /* dot == NULL: type unsupported */
    /* f32 helpers for the rest of the forward pass */
    float (*dot_f32)(int n, const float *a, const float *b);
    void (*axpy_f32)(int n, float a, const float *x, float *y); /* y += a*x */
    /* dot_f32 of each of n_x vectors with each of n columns of a matrix,
     * times scale: out[q*out_stride + c] = dot_f32(k, x + q*x_stride,
     * column c) * scale. Columns come in blocks of 16, block b at
     * m + b*block_stride, element i of column c at
     * m[(c/16)*block_stride + i*ld + c%16]; the columns up to n rounded up
     * to 16 are read, their results dropped. Bit for bit dot_f32's
     * arithmetic for every (vector, column), computed with a column per
     * lane and each load of the matrix shared by up to 4 vectors: attention
     * scores (the heads of a KV group against the keys, kept in tiles of 16
     * positions) and outputs (their weights against the values). */
    void (*dot_f32_cols)(int k, const float *x, size_t x_stride, int n_x, const float *m, size_t ld,
                         size_t block_stride, int n, float scale, float *out, size_t out_stride);
} slmrt_kernels;

/* Bytes of one prepared activation row of n elements for a type's kernels.
 * A Q8_0-partner row is n/32 Q8_0 blocks followed by what only depends on
 * the activation and would otherwise be redone for every weight row (see
 * slmrt_q8_prep in slmrt_kernels_impl.h); other partners are their plain
 * ggml rows. 0 when n does not fit the partner's blocks. */
size_t slmrt_prep_row_size(const slmrt_type_kernels *tk, int n);

/* The table for an ISA (NULL if this build/CPU lacks it). */
const slmrt_kernels *slmrt_kernels_for(slmrt_isa isa);
/* The table slmrt_isa_select() picks. */
const slmrt_kernels *slmrt_kernels_best(void);

/* Per-ISA constructors, each in its own file. */
void slmrt_kernels_init_scalar(slmrt_kernels *k);
void slmrt_kernels_init_avx2(slmrt_kernels *k);
void slmrt_kernels_init_avx512(slmrt_kernels *k);

#endif
