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

#define SLM_QK4_1 32
#define SLM_QK5_0 32
#define SLM_QK5_1 32
#define SLM_QK8_1 32
#define SLM_QK4_NL 32
/* Elements per super-block of the K-quants and IQ4_XS; a row of such a type
 * must be a multiple of it (slm_type_row_size returns 0 otherwise). */
#define SLM_QK_K 256
/* Bytes of the packed 6-bit scales and mins of Q4_K/Q5_K (formats.md §2.1). */
#define SLM_K_SCALE_SIZE 12

typedef struct slm_block_q4_1 {
    uint8_t d[2];               /* 0: scale, fp16 */
    uint8_t m[2];               /* 2: min, fp16 */
    uint8_t qs[SLM_QK4_1 / 2];  /* 4: nibbles as in q4_0; x = d*q + m */
} slm_block_q4_1;
_Static_assert(sizeof(slm_block_q4_1) == 20, "q4_1 block is 20 bytes");
_Static_assert(offsetof(slm_block_q4_1, m) == 2, "q4_1 m at byte 2");
_Static_assert(offsetof(slm_block_q4_1, qs) == 4, "q4_1 qs at byte 4");

typedef struct slm_block_q5_0 {
    uint8_t d[2];               /* 0: scale, fp16 */
    uint8_t qh[4];              /* 2: u32 LE; bit j = bit 4 of element j */
    uint8_t qs[SLM_QK5_0 / 2];  /* 6: low nibbles as in q4_0; x = d*(q-16) */
} slm_block_q5_0;
_Static_assert(sizeof(slm_block_q5_0) == 22, "q5_0 block is 22 bytes");
_Static_assert(offsetof(slm_block_q5_0, qh) == 2, "q5_0 qh at byte 2");
_Static_assert(offsetof(slm_block_q5_0, qs) == 6, "q5_0 qs at byte 6");

typedef struct slm_block_q5_1 {
    uint8_t d[2];               /* 0: scale, fp16 */
    uint8_t m[2];               /* 2: min, fp16 */
    uint8_t qh[4];              /* 4: u32 LE; bit j = bit 4 of element j */
    uint8_t qs[SLM_QK5_1 / 2];  /* 8: low nibbles; x = d*q + m */
} slm_block_q5_1;
_Static_assert(sizeof(slm_block_q5_1) == 24, "q5_1 block is 24 bytes");
_Static_assert(offsetof(slm_block_q5_1, m) == 2, "q5_1 m at byte 2");
_Static_assert(offsetof(slm_block_q5_1, qh) == 4, "q5_1 qh at byte 4");
_Static_assert(offsetof(slm_block_q5_1, qs) == 8, "q5_1 qs at byte 8");

/* Activations only (llama-quantize never writes it). */
typedef struct slm_block_q8_1 {
    uint8_t d[2];           /* 0: scale, fp16 */
    uint8_t s[2];           /* 2: d * sum(qs), fp16 */
    int8_t qs[SLM_QK8_1];   /* 4: x[j] = d * qs[j] */
} slm_block_q8_1;
_Static_assert(sizeof(slm_block_q8_1) == 36, "q8_1 block is 36 bytes");
_Static_assert(offsetof(slm_block_q8_1, s) == 2, "q8_1 s at byte 2");
_Static_assert(offsetof(slm_block_q8_1, qs) == 4, "q8_1 qs at byte 4");

typedef struct slm_block_q2_k {
    uint8_t scales[SLM_QK_K / 16]; /* 0: per 16 elements: scale low nibble, min high nibble */
    uint8_t qs[SLM_QK_K / 4];      /* 16: 2-bit quants, 4 planes of 32 bytes per 128 elements */
    uint8_t d[2];                  /* 80: super-block scale of the scales, fp16 */
    uint8_t dmin[2];               /* 82: super-block scale of the mins, fp16 */
} slm_block_q2_k;
_Static_assert(sizeof(slm_block_q2_k) == 84, "q2_k block is 84 bytes");
_Static_assert(offsetof(slm_block_q2_k, qs) == 16, "q2_k qs at byte 16");
_Static_assert(offsetof(slm_block_q2_k, d) == 80, "q2_k d at byte 80");
_Static_assert(offsetof(slm_block_q2_k, dmin) == 82, "q2_k dmin at byte 82");

typedef struct slm_block_q3_k {
    uint8_t hmask[SLM_QK_K / 8]; /* 0: high bit; bit 4h+j of hmask[l] for element 128h+32j+l */
    uint8_t qs[SLM_QK_K / 4];    /* 32: low 2 bits, as q2_k */
    uint8_t scales[12];          /* 96: 16 six-bit scales, biased by 32 */
    uint8_t d[2];                /* 108: super-block scale, fp16 */
} slm_block_q3_k;
_Static_assert(sizeof(slm_block_q3_k) == 110, "q3_k block is 110 bytes");
_Static_assert(offsetof(slm_block_q3_k, qs) == 32, "q3_k qs at byte 32");
_Static_assert(offsetof(slm_block_q3_k, scales) == 96, "q3_k scales at byte 96");
_Static_assert(offsetof(slm_block_q3_k, d) == 108, "q3_k d at byte 108");

typedef struct slm_block_q4_k {
    uint8_t d[2];                       /* 0: scale of the 6-bit scales, fp16 */
    uint8_t dmin[2];                    /* 2: scale of the 6-bit mins, fp16 */
    uint8_t scales[SLM_K_SCALE_SIZE];   /* 4: 8 scales + 8 mins, 6 bits each */
    uint8_t qs[SLM_QK_K / 2];           /* 16: per 64 elements, 32 bytes: low nibble l, high l+32 */
} slm_block_q4_k;
_Static_assert(sizeof(slm_block_q4_k) == 144, "q4_k block is 144 bytes");
_Static_assert(offsetof(slm_block_q4_k, dmin) == 2, "q4_k dmin at byte 2");
_Static_assert(offsetof(slm_block_q4_k, scales) == 4, "q4_k scales at byte 4");
_Static_assert(offsetof(slm_block_q4_k, qs) == 16, "q4_k qs at byte 16");

typedef struct slm_block_q5_k {
    uint8_t d[2];                       /* 0: scale of the 6-bit scales, fp16 */
    uint8_t dmin[2];                    /* 2: scale of the 6-bit mins, fp16 */
    uint8_t scales[SLM_K_SCALE_SIZE];   /* 4: as q4_k */
    uint8_t qh[SLM_QK_K / 8];           /* 16: bit 4 of element 64c+l at bit 2c of qh[l], of 64c+32+l at 2c+1 */
    uint8_t qs[SLM_QK_K / 2];           /* 48: low nibbles, as q4_k */
} slm_block_q5_k;
_Static_assert(sizeof(slm_block_q5_k) == 176, "q5_k block is 176 bytes");
_Static_assert(offsetof(slm_block_q5_k, dmin) == 2, "q5_k dmin at byte 2");
_Static_assert(offsetof(slm_block_q5_k, scales) == 4, "q5_k scales at byte 4");
_Static_assert(offsetof(slm_block_q5_k, qh) == 16, "q5_k qh at byte 16");
_Static_assert(offsetof(slm_block_q5_k, qs) == 48, "q5_k qs at byte 48");

typedef struct slm_block_q6_k {
    uint8_t ql[SLM_QK_K / 2];      /* 0: low 4 bits */
    uint8_t qh[SLM_QK_K / 4];      /* 128: high 2 bits */
    int8_t scales[SLM_QK_K / 16];  /* 192: one signed 8-bit scale per 16 elements */
    uint8_t d[2];                  /* 208: super-block scale, fp16 */
} slm_block_q6_k;
_Static_assert(sizeof(slm_block_q6_k) == 210, "q6_k block is 210 bytes");
_Static_assert(offsetof(slm_block_q6_k, qh) == 128, "q6_k qh at byte 128");
_Static_assert(offsetof(slm_block_q6_k, scales) == 192, "q6_k scales at byte 192");
_Static_assert(offsetof(slm_block_q6_k, d) == 208, "q6_k d at byte 208");

/* Activations only (the second operand of K-quant dot products; never in
 * files). Unlike the others it keeps native f32/i16 fields, as ggml does:
 * kernels read them directly, and 292 is a multiple of 4, so blocks in any
 * 4-aligned buffer stay aligned. */
typedef struct slm_block_q8_k {
    float d;                       /* 0: scale, f32 */
    int8_t qs[SLM_QK_K];           /* 4: x[j] = d * qs[j] */
    int16_t bsums[SLM_QK_K / 16];  /* 260: sum of each 16 qs */
} slm_block_q8_k;
_Static_assert(sizeof(slm_block_q8_k) == 292, "q8_k block is 292 bytes");
_Static_assert(offsetof(slm_block_q8_k, qs) == 4, "q8_k qs at byte 4");
_Static_assert(offsetof(slm_block_q8_k, bsums) == 260, "q8_k bsums at byte 260");

typedef struct slm_block_iq4_nl {
    uint8_t d[2];                /* 0: scale, fp16 */
    uint8_t qs[SLM_QK4_NL / 2];  /* 2: nibbles as in q4_0; x = d*slm_kvalues_iq4nl[q] */
} slm_block_iq4_nl;
_Static_assert(sizeof(slm_block_iq4_nl) == 18, "iq4_nl block is 18 bytes");
_Static_assert(offsetof(slm_block_iq4_nl, qs) == 2, "iq4_nl qs at byte 2");

typedef struct slm_block_iq4_xs {
    uint8_t d[2];                /* 0: super-block scale, fp16 */
    uint8_t scales_h[2];         /* 2: u16 LE; bits 2b..2b+1 = high 2 bits of sub-block b's scale */
    uint8_t scales_l[SLM_QK_K / 64]; /* 4: low nibble of the scales, 2 sub-blocks per byte */
    uint8_t qs[SLM_QK_K / 2];    /* 8: 16 bytes per 32 elements, nibbles as in iq4_nl */
} slm_block_iq4_xs;
_Static_assert(sizeof(slm_block_iq4_xs) == 136, "iq4_xs block is 136 bytes");
_Static_assert(offsetof(slm_block_iq4_xs, scales_h) == 2, "iq4_xs scales_h at byte 2");
_Static_assert(offsetof(slm_block_iq4_xs, scales_l) == 4, "iq4_xs scales_l at byte 4");
_Static_assert(offsetof(slm_block_iq4_xs, qs) == 8, "iq4_xs qs at byte 8");

/* The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl), ascending. */
static const int8_t slm_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

static inline uint16_t slm_load_u16le(const uint8_t b[2]) { return (uint16_t)(b[0] | (b[1] << 8)); }

static inline uint32_t slm_load_u32le(const uint8_t b[4]) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block
 * (formats.md §2.1), ggml's get_scale_min_k4. */
static inline void slm_get_scale_min_k4(int j, const uint8_t q[SLM_K_SCALE_SIZE], uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
