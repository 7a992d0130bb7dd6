/* slmrt_onednn.h - matrix-matrix products for batches of tokens (prefill,
 * calibration) through oneDNN and OpenBLAS instead of our own kernels
 * (slmrt_gemm.h): Y[t][r] = W[r] . X[t] (+ bias[r]) from f32 activations.
 * - F32 weights: OpenBLAS sgemm on the mapped rows (no copy).
 * - Every other type with a decoder (slm_type_traits.to_f32): a panel of
 *   rows at a time is decoded to bf16 into per-context scratch (never the
 *   whole model), the activations are rounded to bf16, and oneDNN's bf16
 *   matmul writes f32 (AMX on CPUs that have it).
 * Unlike slmrt_gemm.h this does not reproduce the one-token arithmetic:
 * bf16 keeps 8 significant bits of weights and activations, and sgemm sums
 * in its own order, so batched logits differ from one-token logits by
 * rounding (within the golden tolerances, tests/check_onednn.c). When the
 * runtime uses it, and why: slmrt_onednn.c. */
#ifndef SLMRT_ONEDNN_H
#define SLMRT_ONEDNN_H

#include <stdbool.h>
#include <stddef.h>

#include "slm_status.h"
#include "slm_type.h"
#include "slmrt.h"

/* Batches shorter than this stay on our kernels (matrix-vector products,
 * or our GEMM where it has an entry). Decoding a weight to bf16 costs the
 * same whatever the batch (Q8_0: 0.16 ns on 2 Zen 4 threads), as much as
 * 8 tokens of matrix-vector products (measured crossover here: 4-8 tokens)
 * but ~50 tokens of our int8 GEMM. With AMX (bf16 matmul ~1 TMAC/s on 2
 * threads, not measured here) that puts the crossover near 70 tokens for
 * Q8_0/Q4_0 and near 10 for F16 and types without a GEMM of ours; 32
 * splits the difference (each side at most ~2x off in between). To be
 * measured on an AMX machine: bench/gemm_bench.c --gemm TYPE -p N. */
#define SLMRT_ONEDNN_MIN_TOKENS 32

/* Resolves AUTO (SLMRT_GEMM, read once, then the CPU: onednn with AMX, own
 * without). *explicit_choice tells whether the caller or SLMRT_GEMM named
 * the backend (then a backend that cannot run is an error, not a silent
 * change of plan). */
slmrt_gemm_backend slmrt_gemm_backend_choose(slmrt_gemm_backend requested, bool *explicit_choice);

typedef struct slmrt_onednn slmrt_onednn;

/* Per-context state: scratch for products of up to max_tok tokens of rows
 * up to max_n_in long, run on n_threads threads; with_f32: F32 weights go
 * to OpenBLAS (else the context keeps them on its own kernels). Checks
 * whether oneDNN has a usable bf16 matmul on this CPU (slmrt_onednn_takes
 * says no for bf16 types when it has not, and slmrt_onednn_why_not why). */
slm_status slmrt_onednn_new(int n_threads, int max_tok, int max_n_in, bool with_f32, slmrt_onednn **out,
                            slm_diag *d);
void slmrt_onednn_free(slmrt_onednn *o); /* accepts NULL */

/* Whether products with weights of this type go through this backend. */
bool slmrt_onednn_takes(const slmrt_onednn *o, slm_type type);
/* Why a type is not taken (for error messages). */
const char *slmrt_onednn_why_not(const slmrt_onednn *o, slm_type type);
/* What runs the products: oneDNN's implementation of the bf16 matmul
 * ("brg:avx512_core_amx", ...; "no bf16" when there is none), and
 * ", f32 OpenBLAS" when F32 weights go to OpenBLAS. */
const char *slmrt_onednn_impl(const slmrt_onednn *o);

/* The weights of one product (borrowed). */
typedef struct slmrt_onednn_weights {
    slm_type type;
    const void *data; /* row r at data + r * row_size */
    size_t row_size;
    int n_in, n_out;
    const float *bias; /* [n_out] or NULL */
} slmrt_onednn_weights;

/* y[t * ldy + r] = W[r] . x[t * ldx ...] (+ bias[r]) for t < n_tok,
 * r < n_out. Errors (type not taken, sizes beyond those given to _new,
 * oneDNN failures) name what failed. Not reentrant for one o. */
slm_status slmrt_onednn_matmul(slmrt_onednn *o, const slmrt_onednn_weights *w, const float *x, size_t ldx,
                               int n_tok, float *y, size_t ldy, slm_diag *d);

#endif
