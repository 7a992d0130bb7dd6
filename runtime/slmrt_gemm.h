/* slmrt_gemm.h - matrix-matrix products for batches of tokens (prefill):
 * Y[t][r] = W[r] . X[t] (+ bias[r]) for all tokens of a batch at once, with
 * per-ISA kernels (slmrt_gemm_avx2.c, slmrt_gemm_avx512.c) and a driver
 * (slmrt_gemm.c) that splits the rows across the thread pool.
 *
 * The activations are the rows the kernel table's prepare wrote (the dot
 * partner layout: Q8_0 for Q8_0/Q4_0 weights, f16/bf16/f32 for float
 * weights), so a token's input is rounded exactly as in the one-token path,
 * and every (row, token) is summed in the order the matrix-vector dot of the
 * same ISA sums it, so batched and one-token logits are identical (BF16
 * aside):
 * - Q8_0, Q4_0: each block's integer sum is exact, and the blocks are added
 *   in float as slmrt_x86_dot_blocks adds them (8 running sums, block b into
 *   sum b % 8, a fixed tree, then the last nb % 8 blocks);
 * - F32, F16: ggml's order (slmrt_kernels_scalar.c: 64 partial sums, fixed
 *   reduction tree, leftovers). These models are sensitive enough that any
 *   other order moves logits by 1e-2 (stories260K-ref-F16: 0.048 off the
 *   reference with a plain k-order sum, 0.008 with ggml's, bound 0.02);
 * - BF16: exact bf16 products, f32 sums in k order in blocks of kc columns
 *   (measured 0.004 from the one-token logits on golden-BF16, bound 0.02).
 * There is no GEMM for the scalar table: its matrix-vector loop is the
 * reference.
 *
 * Why own kernels rather than oneDNN or OpenBLAS (measured on this Zen 4,
 * one core, 2048 x 2048 by 256 tokens): ggml's quantized blocks carry one
 * scale per 32 weights, which neither library's int8 GEMM can apply (they
 * scale per row or per tensor), and dequantizing to f32 for sgemm caps the
 * speed at the f32 FMA rate: OpenBLAS sgemm 45 GMAC/s on f32 data already
 * converted, against 150 for the int8 kernels here and 50 for the F16 one
 * (which must keep ggml's order anyway); bf16 via oneDNN would at best
 * match the vdpbf16ps kernel here (about 100) and lose exactness. The int8
 * kernels put 16 weight rows in the lanes of a vpdpbusd and broadcast 4
 * bytes of a token's activation, so 8 instructions finish a block's exact
 * integer sum for 16 rows without horizontal adds.
 * Measured since with the oneDNN/OpenBLAS backend (slmrt_onednn.c,
 * SLMRT_GEMM=onednn; 2 threads): oneDNN's bf16 matmul 210-230 GMAC/s at
 * that shape, plus 0.11-0.16 ns per weight to decode to bf16 every batch;
 * OpenBLAS sgemm 87 GMAC/s, as our f32 kernel. Prefill of the 1.1B model,
 * 512 tokens: Q8_0 ~215 tokens/s here against ~150 through oneDNN; F16 ~85
 * against ~147 (the price of ggml's order; the oneDNN path is within the
 * golden tolerances, not exact). So SLMRT_GEMM=auto keeps these kernels on
 * CPUs without AMX, and picks oneDNN where AMX's bf16 tiles (~1 TMAC/s on
 * 2 threads) outrun the decoding.
 *
 * Weights stay where they are (memory-mapped, row-major ggml blocks); each
 * thread repacks a panel of rows x kc columns at a time into its own scratch
 * (the "panel"), transposed so that one vector load gives the same columns
 * of 16 rows. A panel is reused for every token of the batch, so the repack
 * costs little once a batch has more than a few tokens; below each entry's
 * min_tokens the matrix-vector path is faster. */
#ifndef SLMRT_GEMM_H
#define SLMRT_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm_type.h"
#include "slmrt_cpu.h"


/* What a kernel reads: the prepared rows themselves, or a copy of them in
 * a layout of its own, filled once per batch (slmrt_gemm_act_fill). */
typedef enum slmrt_gemm_act_form {
    SLMRT_GEMM_ACT_RAW = 0, /* the prepared rows as they are (bf16 pairs) */
    SLMRT_GEMM_ACT_Q8 = 1,  /* Q8_0 blocks regrouped by block, see slmrt_gemm_q8_layout */
    SLMRT_GEMM_ACT_F32 = 2, /* rows widened to f32 (exact), in an order of the entry's choosing */
    SLMRT_GEMM_ACT_Q8K = 3, /* Q8_K blocks regrouped by super-block, see slmrt_gemm_q8k_layout */
} slmrt_gemm_act_form;

/* The activations of a batch as a kernel sees them (all borrowed). */
typedef struct slmrt_gemm_act {
    const uint8_t *x; /* ACT_RAW, ACT_F32: token t's row at x + t * x_stride */
    size_t x_stride;
    const int8_t *q;     /* ACT_Q8: [n_blocks][n_tok][32] the quants of block b of token t */
    const float *d;      /* ACT_Q8: [n_blocks][n_tok] block scales as f32 */
    const int32_t *nsum; /* ACT_Q8: [n_blocks][n_tok] minus the sum of the block's 32 quants */
    const int16_t *bsums; /* ACT_Q8K: [n_blocks][n_tok][16] sums of quants, as the entry's fill wrote them */
    int n_blocks, n_tok;  /* ACT_Q8K: blocks are super-blocks of 256; q is [n_blocks][n_tok][256] */
} slmrt_gemm_act;

/* ACT_F32 rows, and the rows of panels that hold whole f32 rows, are padded
 * by 16 floats: at strides that are multiples of 4 KiB the rows a kernel
 * reads side by side would all fall into the same L1 sets (measured: 20%
 * slower at n_in 2048). */
static inline size_t slmrt_gemm_f32_stride(int n_in) { return (size_t)n_in + 16; }

/* Where ACT_Q8's arrays live in its scratch (tokens side by side per block:
 * a tile of tokens reads one contiguous run per block). */
static inline void slmrt_gemm_q8_layout(void *scratch, int n_blocks, int n_tok, int8_t **q, float **d,
                                        int32_t **nsum) {
    *q = scratch;
    *d = (float *)((char *)scratch + (size_t)n_blocks * (size_t)n_tok * 32);
    *nsum = (int32_t *)(*d + (size_t)n_blocks * (size_t)n_tok);
}

/* Where ACT_Q8K's arrays live: quants [n_sb][n_tok][256], scales
 * [n_sb][n_tok] (f32), sums [n_sb][n_tok][16] (int16). */
static inline void slmrt_gemm_q8k_layout(void *scratch, int n_sb, int n_tok, int8_t **q, float **d,
                                         int16_t **bsums) {
    *q = scratch;
    *d = (float *)((char *)scratch + (size_t)n_sb * (size_t)n_tok * 256);
    *bsums = (int16_t *)(*d + (size_t)n_sb * (size_t)n_tok);
}

/* Packs rows [0, n_rows) (n_rows <= panel_rows; the rest of the panel is
 * zero-filled) and columns [k0, k0 + kc) of a weight matrix whose row 0
 * starts at w, into `panel`. */
typedef void (*slmrt_gemm_pack_fn)(const uint8_t *w, size_t row_size, int n_rows, int k0, int kc, void *panel);

/* For every token t < n_tok, and rows [0, n_rows) of a packed panel:
 *   y[t * ldy + r] (+)= sum over the panel's kc columns (starting at k0)
 * overwriting when `first`, adding to y otherwise; when bias is non-NULL
 * (last column block), bias[r] is added as the final step. */
typedef void (*slmrt_gemm_kernel_fn)(const void *panel, int k0, int kc, const slmrt_gemm_act *a, int n_tok,
                                     float *y, size_t ldy, int n_rows, bool first, const float *bias);

/* Writes token t of n_tok (its prepared row) into the activation scratch. */
typedef void (*slmrt_gemm_fill_fn)(const uint8_t *prep_row, int n_in, int t, int n_tok, void *scratch);

typedef struct slmrt_gemm_type {
    slmrt_gemm_act_form act;
    slmrt_gemm_fill_fn fill; /* NULL for ACT_RAW */
    int panel_rows; /* rows per panel */
    int kc;         /* columns per panel (a multiple of k_align); 0: whole rows */
    int k_align;    /* n_in must be a multiple of this */
    int min_tokens; /* smaller batches are faster as matrix-vector products */
    bool exact;     /* every (row, token) equals the kernel table's dot bit for bit */
    size_t col_bytes; /* panel bytes per column (all panel_rows rows) */
    slmrt_gemm_pack_fn pack;     /* NULL: the type has no GEMM on this ISA */
    slmrt_gemm_kernel_fn kernel;
} slmrt_gemm_type;

typedef struct slmrt_gemm {
    slmrt_isa isa;
    slmrt_gemm_type by_type[SLM_TYPE_COUNT];
} slmrt_gemm;

/* The table for a kernel ISA, or NULL when there is none (scalar: the
 * matrix-vector path is the reference and needs no second copy). Built
 * once; read-only afterwards. */
const slmrt_gemm *slmrt_gemm_for(slmrt_isa isa);

/* The entry for a weight type and row length, or NULL when the GEMM path
 * does not handle it (the caller falls back to matrix-vector products). */
const slmrt_gemm_type *slmrt_gemm_type_for(const slmrt_gemm *g, slm_type type, int n_in);

/* Scratch sizes: for the activation side of n_tok rows of n_in, and per
 * thread for the panels of rows of n_in (a multiple of 64, with room for
 * the padding of slmrt_gemm_f32_stride). */
size_t slmrt_gemm_act_bytes(const slmrt_gemm_type *gt, int n_in, int n_tok);
size_t slmrt_gemm_panel_bytes(const slmrt_gemm_type *gt, int n_in);

/* Fills the activation side for tokens [t0, t1) from prepared rows (row t
 * at prep + t * prep_stride) into `scratch` (slmrt_gemm_act_bytes of the
 * whole batch), and describes it in `a` (the same for every token range).
 * Separate ranges may run on separate threads. */
void slmrt_gemm_act_fill(const slmrt_gemm_type *gt, const uint8_t *prep, size_t prep_stride, int n_in, int n_tok,
                         int t0, int t1, void *scratch);
void slmrt_gemm_act_view(const slmrt_gemm_type *gt, const uint8_t *prep, size_t prep_stride, int n_in, int n_tok,
                         void *scratch, slmrt_gemm_act *a);

/* The weights of one product (borrowed). */
typedef struct slmrt_gemm_weights {
    const uint8_t *data; /* row r at data + r * row_size */
    size_t row_size;
    int n_in, n_out;
    const float *bias; /* [n_out] or NULL */
} slmrt_gemm_weights;

/* y[t * ldy + r] = W[r] . X[t] (+ bias[r]) for t < n_tok, r < n_out, on up
 * to n_threads threads; panels holds n_threads panels of
 * slmrt_gemm_panel_bytes(gt, w->n_in) bytes, 64-byte aligned. */
void slmrt_gemm_run(const slmrt_gemm_type *gt, const slmrt_gemm_weights *w, const slmrt_gemm_act *a, int n_tok,
                    float *y, size_t ldy, void *panels, int n_threads);

/* Per-ISA constructors, each in its own file (like the kernel tables). */
void slmrt_gemm_init_avx2(slmrt_gemm *g);
void slmrt_gemm_init_avx512(slmrt_gemm *g, bool use_vnni, bool use_bf16);
/* The K-quant entries of the AVX-512 table (AVX512_VNNI; slmrt_gemm_kquant_avx512.c). */
void slmrt_gemm_kquant_init_avx512(slmrt_gemm *g);

#endif
