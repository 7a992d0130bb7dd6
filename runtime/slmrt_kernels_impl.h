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
