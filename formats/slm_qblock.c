/* slm_qblock.c - see slm_qblock.h. Where each element's bits and scales
 * live follows the decoders (slm_codec_*.c, formats.md §2); the tests decode
 * whole blocks and compare every element with slm_qgrid_value. */
#include "slm_qblock.h"

#include <math.h>
#include <string.h>

#include "slm_blocks.h"
#include "slm_codec_impl.h"

int slm_qblock_span(slm_type t) {
    switch (t) {
    case SLM_TYPE_Q8_0: case SLM_TYPE_Q4_0: case SLM_TYPE_Q4_1: case SLM_TYPE_Q5_0: case SLM_TYPE_Q5_1:
    case SLM_TYPE_IQ4_NL:
        return 32;
    case SLM_TYPE_Q2_K: case SLM_TYPE_Q3_K: case SLM_TYPE_Q4_K: case SLM_TYPE_Q5_K: case SLM_TYPE_Q6_K:
    case SLM_TYPE_IQ4_XS:
        return SLM_QK_K;
    default: return 0;
    }
}

/* Q4_0-style nibbles: element j < 16 in the low nibble of qs[j], j >= 16 in
 * the high nibble of qs[j - 16]. */
static int nib_get(const uint8_t *qs, int j) { return j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4; }

static void nib_set(uint8_t *qs, int j, int v) {
    if (j < 16) qs[j] = (uint8_t)((qs[j] & 0xF0) | (v & 0x0F));
    else qs[j - 16] = (uint8_t)((qs[j - 16] & 0x0F) | (v & 0x0F) << 4);
}

static uint32_t load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_u32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Q4_K/Q5_K element j: nibble of qs[32*(j/64) + j%32], high when j%64 >=
 * 32; Q5_K's fifth bit at bit j/32 of qh[j%32]. */
static int k4_byte(int j) { return 32 * (j / 64) + j % 32; }
static int k4_high(int j) { return (j % 64) >= 32; }

/* Q2_K/Q3_K element j: 2 bits of qs[32*(j/128) + j%32] at shift
 * 2*((j%128)/32); Q3_K's third bit at bit 4*(j/128) + (j%128)/32 of
 * hmask[j%32]. */
static int k2_byte(int j) { return 32 * (j / 128) + j % 32; }
static int k2_shift(int j) { return 2 * ((j % 128) / 32); }
static int k3_hbit(int j) { return 4 * (j / 128) + (j % 128) / 32; }

/* Q6_K element j: h = j/128, run r = (j%128)/32, l = j%32: 4 low bits in
 * ql[64h + l + 32*(r&1)] (high nibble when r >= 2), 2 high bits of
 * qh[32h + l] at shift 2r. */
static int q6_ql(int j) { return 64 * (j / 128) + j % 32 + 32 * (((j % 128) / 32) & 1); }
static int q6_high(int j) { return ((j % 128) / 32) >= 2; }
static int q6_qh(int j) { return 32 * (j / 128) + j % 32; }
static int q6_shift(int j) { return 2 * ((j % 128) / 32); }

static int q3_scale(const slm_block_q3_k *b, int s) {
    const int low4 = (b->scales[s % 8] >> (4 * (s / 8))) & 0xF;
    const int high2 = (b->scales[8 + s % 4] >> (2 * (s / 4))) & 3;
    return low4 | high2 << 4;
}

void slm_qblock_grid(slm_type t, const void *block, int j, slm_qgrid *g) {
    const uint8_t *p = block;
    memset(g, 0, sizeof *g);
    switch (t) {
    case SLM_TYPE_Q8_0:
        *g = (slm_qgrid){256, -128, slm_load_f16(p), 0.0f, NULL, false};
        return;
    case SLM_TYPE_Q4_0: *g = (slm_qgrid){16, -8, slm_load_f16(p), 0.0f, NULL, false}; return;
    case SLM_TYPE_Q4_1: *g = (slm_qgrid){16, 0, slm_load_f16(p), slm_load_f16(p + 2), NULL, true}; return;
    case SLM_TYPE_Q5_0: *g = (slm_qgrid){32, -16, slm_load_f16(p), 0.0f, NULL, false}; return;
    case SLM_TYPE_Q5_1: *g = (slm_qgrid){32, 0, slm_load_f16(p), slm_load_f16(p + 2), NULL, true}; return;
    case SLM_TYPE_IQ4_NL: *g = (slm_qgrid){16, 0, slm_load_f16(p), 0.0f, slm_kvalues_iq4nl, false}; return;
    case SLM_TYPE_Q4_K:
    case SLM_TYPE_Q5_K: {
        const slm_block_q4_k *b = block; /* Q5_K shares the first 16 bytes */
        uint8_t sc, m;
        slm_get_scale_min_k4(j / 32, b->scales, &sc, &m);
        const float d1 = slm_load_f16(b->d) * sc, m1 = slm_load_f16(b->dmin) * m;
        *g = (slm_qgrid){t == SLM_TYPE_Q4_K ? 16 : 32, 0, d1, -m1, NULL, true};
        return;
    }
    case SLM_TYPE_Q6_K: {
        const slm_block_q6_k *b = block;
        *g = (slm_qgrid){64, -32, slm_load_f16(b->d) * b->scales[j / 16], 0.0f, NULL, false};
        return;
    }
    case SLM_TYPE_Q2_K: {
        const slm_block_q2_k *b = block;
        const uint8_t sc = b->scales[j / 16];
        const float dl = slm_load_f16(b->d) * (sc & 0xF), ml = slm_load_f16(b->dmin) * (sc >> 4);
        *g = (slm_qgrid){4, 0, dl, -ml, NULL, true};
        return;
    }
    case SLM_TYPE_Q3_K: {
        const slm_block_q3_k *b = block;
        *g = (slm_qgrid){8, -4, slm_load_f16(b->d) * (float)(q3_scale(b, j / 16) - 32), 0.0f, NULL, false};
        return;
    }
    case SLM_TYPE_IQ4_XS: {
        const slm_block_iq4_xs *b = block;
        const int ib = j / 32;
        const int ls = ((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((slm_load_u16le(b->scales_h) >> 2 * ib) & 3) << 4);
        *g = (slm_qgrid){16, 0, slm_load_f16(b->d) * (float)(ls - 32), 0.0f, slm_kvalues_iq4nl, false};
        return;
    }
    default: return;
    }
}

int slm_qblock_get(slm_type t, const void *block, int j) {
    const uint8_t *p = block;
    switch (t) {
    case SLM_TYPE_Q8_0: return ((const int8_t *)(p + 2))[j] + 128;
    case SLM_TYPE_Q4_0: case SLM_TYPE_IQ4_NL: return nib_get(p + 2, j);
    case SLM_TYPE_Q4_1: return nib_get(p + 4, j);
    case SLM_TYPE_Q5_0: return nib_get(p + 6, j) | (int)((load_u32le(p + 2) >> j) & 1) << 4;
    case SLM_TYPE_Q5_1: return nib_get(p + 8, j) | (int)((load_u32le(p + 4) >> j) & 1) << 4;
    case SLM_TYPE_Q4_K: {
        const uint8_t v = ((const slm_block_q4_k *)block)->qs[k4_byte(j)];
        return k4_high(j) ? v >> 4 : v & 0x0F;
    }
    case SLM_TYPE_Q5_K: {
        const slm_block_q5_k *b = block;
        const uint8_t v = b->qs[k4_byte(j)];
        return (k4_high(j) ? v >> 4 : v & 0x0F) | ((b->qh[j % 32] >> (j / 32)) & 1) << 4;
    }
    case SLM_TYPE_Q6_K: {
        const slm_block_q6_k *b = block;
        const uint8_t v = b->ql[q6_ql(j)];
        return (q6_high(j) ? v >> 4 : v & 0x0F) | ((b->qh[q6_qh(j)] >> q6_shift(j)) & 3) << 4;
    }
    case SLM_TYPE_Q2_K: return (((const slm_block_q2_k *)block)->qs[k2_byte(j)] >> k2_shift(j)) & 3;
    case SLM_TYPE_Q3_K: {
        const slm_block_q3_k *b = block;
        return ((b->qs[k2_byte(j)] >> k2_shift(j)) & 3) | ((b->hmask[j % 32] >> k3_hbit(j)) & 1) << 2;
    }
    case SLM_TYPE_IQ4_XS: {
        const slm_block_iq4_xs *b = block;
        return nib_get(b->qs + 16 * (j / 32), j % 32);
    }
    default: return 0;
    }
}

static void set_bits(uint8_t *byte, int shift, int width, int v) {
    const int mask = ((1 << width) - 1) << shift;
    *byte = (uint8_t)((*byte & ~mask) | ((v << shift) & mask));
}

void slm_qblock_set(slm_type t, void *block, int j, int k) {
    uint8_t *p = block;
    switch (t) {
    case SLM_TYPE_Q8_0: ((int8_t *)(p + 2))[j] = (int8_t)(k - 128); return;
    case SLM_TYPE_Q4_0: case SLM_TYPE_IQ4_NL: nib_set(p + 2, j, k); return;
    case SLM_TYPE_Q4_1: nib_set(p + 4, j, k); return;
    case SLM_TYPE_Q5_0:
    case SLM_TYPE_Q5_1: {
        uint8_t *qh = p + (t == SLM_TYPE_Q5_0 ? 2 : 4);
        nib_set(qh + 4, j, k);
        const uint32_t h = load_u32le(qh);
        store_u32le(qh, (h & ~(1u << j)) | (uint32_t)((k >> 4) & 1) << j);
        return;
    }
    case SLM_TYPE_Q4_K: set_bits(&((slm_block_q4_k *)block)->qs[k4_byte(j)], 4 * k4_high(j), 4, k); return;
    case SLM_TYPE_Q5_K: {
        slm_block_q5_k *b = block;
        set_bits(&b->qs[k4_byte(j)], 4 * k4_high(j), 4, k);
        set_bits(&b->qh[j % 32], j / 32, 1, k >> 4);
        return;
    }
    case SLM_TYPE_Q6_K: {
        slm_block_q6_k *b = block;
        set_bits(&b->ql[q6_ql(j)], 4 * q6_high(j), 4, k);
        set_bits(&b->qh[q6_qh(j)], q6_shift(j), 2, k >> 4);
        return;
    }
    case SLM_TYPE_Q2_K: set_bits(&((slm_block_q2_k *)block)->qs[k2_byte(j)], k2_shift(j), 2, k); return;
    case SLM_TYPE_Q3_K: {
        slm_block_q3_k *b = block;
        set_bits(&b->qs[k2_byte(j)], k2_shift(j), 2, k);
        set_bits(&b->hmask[j % 32], k3_hbit(j), 1, k >> 2);
        return;
    }
    case SLM_TYPE_IQ4_XS: nib_set(((slm_block_iq4_xs *)block)->qs + 16 * (j / 32), j % 32, k); return;
    default: return;
    }
}

int slm_qgrid_nearest(const slm_qgrid *g, float w) {
    if (isnan(w)) w = 0.0f;
    int k;
    if (g->table) {
        /* sorted levels: the last whose value is below w, or 0 */
        k = 0;
        const int ascending = g->scale >= 0.0f;
        for (int i = 1; i < g->n; i++) {
            const float v = slm_qgrid_value(g, ascending ? i : g->n - 1 - i);
            if (v <= w) k = i;
        }
        if (!ascending) k = g->n - 1 - k;
    } else if (g->scale == 0.0f) {
        return -g->bias >= 0 && -g->bias < g->n ? -g->bias : 0;
    } else {
        const float r = ((g->has_offset ? w - g->offset : w) / g->scale) - (float)g->bias;
        k = r < 0.0f ? 0 : r > (float)(g->n - 1) ? g->n - 1 : (int)lrintf(r);
    }
    /* the grid's own float values decide between neighbours */
    int best = k;
    float best_err = fabsf(slm_qgrid_value(g, k) - w);
    for (int c = k - 1; c <= k + 1; c += 2) {
        if (c < 0 || c >= g->n) continue;
        const float e = fabsf(slm_qgrid_value(g, c) - w);
        if (e < best_err || (e == best_err && c < best)) {
            best = c;
            best_err = e;
        }
    }
    return best;
}

uint64_t slm_qblock_zero_masked(slm_type t, void *row, int64_t n, const uint8_t *mask, uint64_t first) {
    const int span = slm_qblock_span(t);
    if (!span || !mask) return 0;
    const size_t block_bytes = slm_type_row_size(t, span);
    uint64_t inexact = 0;
    for (int64_t j = 0; j < n; j++) {
        const uint64_t bit = first + (uint64_t)j;
        if (!(mask[bit >> 3] >> (bit & 7) & 1)) continue;
        uint8_t *blk = (uint8_t *)row + (size_t)(j / span) * block_bytes;
        slm_qgrid g;
        slm_qblock_grid(t, blk, (int)(j % span), &g);
        const int k = slm_qgrid_nearest(&g, 0.0f);
        slm_qblock_set(t, blk, (int)(j % span), k);
        inexact += slm_qgrid_value(&g, k) != 0.0f;
    }
    return inexact;
}
