/* slmrt_kernels_impl.h - private to the kernel files (slmrt_kernels*.c and
 * tests/check_kernels.c): the block layouts the kernels read, and the
 * constructors of the AVX-512 variants.
 *
 * The block layouts repeat formats/slm_codec_q.c (formats.md §2), which keeps
 * its structs private; the static asserts pin both copies to the same bytes.
 *
 * How the tables are built: every constructor fills the whole table. The
 * AVX2 one starts from the scalar table and replaces what it implements, the
 * AVX-512 one starts from the AVX2 table. So a new weight type needs only a
 * scalar entry to work everywhere; SIMD entries are optional speed-ups and
 * must use the same partner layout as the scalar entry. */
#ifndef SLMRT_KERNELS_IMPL_H
#define SLMRT_KERNELS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_blocks.h"
#include "slmrt_kernels.h"

#define SLMRT_QK8_0 SLM_QK8_0
#define SLMRT_QK4_0 SLM_QK4_0

/* The F32 and F16 dots reproduce ggml_vec_dot_f32 / ggml_vec_dot_f16 as
 * llama.cpp's AVX-512 build runs them (slmrt_kernels_scalar.c has the
 * definition): the first n & ~(STEP-1) elements go into 4 accumulators of
 * 16 lanes, element i to accumulator (i % 64) / 16, lane i % 16. */
#define SLMRT_GGML_STEP 64
#define SLMRT_GGML_LANES 16

/* Block layouts are formats' (slm_blocks.h); the runtime's names alias them. */
typedef slm_block_q8_0 slmrt_block_q8_0;
typedef slm_block_q4_0 slmrt_block_q4_0;

static inline uint16_t slmrt_load_u16le(const uint8_t b[2]) { return slm_load_u16le(b); }

/* The tail of a Q8_0-partner prepared row (n elements, nb = n/32 blocks),
 * after the blocks, 64-byte aligned parts at these offsets from the row:
 * - d[nb] (f32): each block's scale, widened once instead of per weight row;
 * - sum[nb] (int32): the sum of each block's 32 quants, for Q4_0's -8 offset
 *   (sum (q-8)x = sum qx - 8 sum x, so the kernels multiply unsigned nibbles);
 * - pairs[(nb+1)/2][64] (int8): blocks 2i and 2i+1 regrouped as
 *   x[2i][0..15] x[2i+1][0..15] x[2i][16..31] x[2i+1][16..31], the order in
 *   which a 256-bit register holds the low (then high) nibbles of two Q4_0
 *   blocks, so that one aligned load meets them.
 * Every ISA's prepare writes the same bytes (padding zeroed); the kernels
 * may read any part. */
typedef struct slmrt_q8_prep {
    size_t d_off, sum_off, pairs_off, size;
} slmrt_q8_prep;

static inline size_t slmrt_align64(size_t v) { return (v + 63) & ~(size_t)63; }

static inline slmrt_q8_prep slmrt_q8_prep_layout(int n) {
    const size_t nb = (size_t)n / SLMRT_QK8_0;
    slmrt_q8_prep l;
    l.d_off = slmrt_align64(nb * sizeof(slmrt_block_q8_0));
    l.sum_off = slmrt_align64(l.d_off + nb * sizeof(float));
    l.pairs_off = slmrt_align64(l.sum_off + nb * sizeof(int32_t));
    l.size = slmrt_align64(l.pairs_off + (nb + 1) / 2 * 64);
    return l;
}

/* Writes the tail of a prepared row whose n/32 Q8_0 blocks are in place.
 * Plain C shared by every table: it runs once per activation row. */
void slmrt_q8_prep_finish(uint8_t *row, int n);

/* Adds the scalar entries of the quantized types beyond Q8_0/Q4_0
 * (slmrt_kernels_scalar_q.c) to the scalar table. */
void slmrt_kernels_scalar_add_quants(slmrt_kernels *k);

/* The K-quant dots of the SIMD tables (slmrt_kquant_*.c); the entries'
 * partner and prepare stay the scalar table's (Q8_K). */
void slmrt_kquant_init_avx2(slmrt_kernels *k);
void slmrt_kquant_init_avx512_vnni(slmrt_kernels *k);

/* The AVX-512 table with its optional extensions chosen explicitly:
 * use_vnni selects vpdpbusd for the int8 dot products, use_bf16 selects
 * vdpbf16ps for BF16. slmrt_kernels_init_avx512 passes what the CPU has;
 * the test also builds the variants without them, so that the code paths
 * for AVX-512 CPUs lacking VNNI/BF16 (Skylake-X) run here too. Asking for
 * an extension the CPU lacks is a programmer error. */
void slmrt_kernels_init_avx512_with(slmrt_kernels *k, bool use_vnni, bool use_bf16);

/* Whether this CPU can run each table (the instruction sets the files were
 * compiled for, minus the optional AVX-512 extensions). */
bool slmrt_kernels_cpu_has_avx2(void);
bool slmrt_kernels_cpu_has_avx512(void);

#endif
