/* slm_blocks.h - ggml's quantization block layouts (formats.md §2), shared
 * by the reference codecs (formats/) and the runtime's kernels, so a layout
 * is written down once.
 *
 * The fp16 scale is kept as two little-endian bytes rather than a uint16_t
 * so that blocks have no alignment requirement (rows of a mapped GGUF start
 * wherever the previous row ended) and the layout does not depend on host
 * byte order. */
#ifndef SLM_BLOCKS_H
#define SLM_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#define SLM_QK8_0 32
#define SLM_QK4_0 32

typedef struct slm_block_q8_0 {
    uint8_t d[2];           /* 0: scale, fp16 */
    int8_t qs[SLM_QK8_0];   /* 2: x[j] = d * qs[j] */
} slm_block_q8_0;
_Static_assert(sizeof(slm_block_q8_0) == 34, "q8_0 block is 34 bytes");
_Static_assert(offsetof(slm_block_q8_0, qs) == 2, "q8_0 qs at byte 2");

typedef struct slm_block_q4_0 {
    uint8_t d[2];               /* 0: scale, fp16 */
    uint8_t qs[SLM_QK4_0 / 2];  /* 2: low nibble element j, high nibble j+16; x = d*(q-8) */
} slm_block_q4_0;
_Static_assert(sizeof(slm_block_q4_0) == 18, "q4_0 block is 18 bytes");
_Static_assert(offsetof(slm_block_q4_0, qs) == 2, "q4_0 qs at byte 2");

static inline uint16_t slm_load_u16le(const uint8_t b[2]) { return (uint16_t)(b[0] | (b[1] << 8)); }

#endif
