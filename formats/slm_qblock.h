/* slm_qblock.h - element access inside an encoded ggml block: the values
 * one element can take given the block's scales (its "grid"), and reading
 * or writing that element's quant, without touching the rest of the block.
 *
 * Quantizers that decide rounding element by element with the block's
 * scales already fixed (GPTQ's error feedback, a pruning mask kept at
 * exactly zero) encode a block with the reference quantize_row first, which
 * sets the scales, then rewrite single quants through this interface. The
 * values are computed with the decoder's own float expressions, so
 * slm_qgrid_value(g, k) is bit for bit what dequantize_row returns for
 * quant k (tested). */
#ifndef SLM_QBLOCK_H
#define SLM_QBLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "slm_type.h"

/* The values element j of a block can take: for quant k in [0, n),
 *   value = scale * (table ? table[k] : k + bias) [+ offset]
 * evaluated as the decoder does: the product first, then the offset for
 * the types that have one (adding even a +0 offset turns -0 into +0). */
typedef struct slm_qgrid {
    int n;
    int bias;
    float scale, offset;
    const int8_t *table; /* non-uniform types (IQ4_*): sorted ascending */
    bool has_offset;     /* Q4_1, Q5_1, Q2_K, Q4_K, Q5_K */
} slm_qgrid;

/* Elements that share a block's scales (32, or 256 for the K-quants and
 * IQ4_XS); 0 for types without element access (F32, F16, BF16, Q8_1,
 * Q8_K). */
int slm_qblock_span(slm_type t);

/* The grid of element j (0 <= j < span) of an encoded block. */
void slm_qblock_grid(slm_type t, const void *block, int j, slm_qgrid *g);

/* The quant of element j, and writing it (0 <= k < grid n). */
int slm_qblock_get(slm_type t, const void *block, int j);
void slm_qblock_set(slm_type t, void *block, int j, int k);

static inline float slm_qgrid_value(const slm_qgrid *g, int k) {
    const float v = g->scale * (float)(g->table ? g->table[k] : k + g->bias);
    return g->has_offset ? v + g->offset : v;
}

/* The quant whose value is nearest to w (ties to the lower quant); NaN
 * maps to the quant nearest to 0. */
int slm_qgrid_nearest(const slm_qgrid *g, float w);

/* Sets the elements of an encoded row of n elements whose bit is set in
 * mask (bit (first + j) for element j) to the quant nearest 0, and returns
 * how many of them still are not exactly 0 (their block's grid has no 0:
 * the types with an offset, IQ4_NL/IQ4_XS). Float types encode 0 exactly
 * and are left alone (0 returned). */
uint64_t slm_qblock_zero_masked(slm_type t, void *row, int64_t n, const uint8_t *mask, uint64_t first);

#endif
