/* slmrt_kquant_avx2.c - the K-quant dots (slmrt_kquant_x86.h) for the AVX2
 * table: int16 pairs times scales with vpmaddwd. */
#include "slmrt_kernels_impl.h"

#define SLMRT_KQ_VNNI 0
#define SLMRT_KQ_NAME(f) f##_avx2
#include "slmrt_kquant_x86.h"

void slmrt_kquant_init_avx2(slmrt_kernels *k) {
    k->by_type[SLM_TYPE_Q4_K].dot = slmrt_kq_dot_q4_k_avx2;
    k->by_type[SLM_TYPE_Q5_K].dot = slmrt_kq_dot_q5_k_avx2;
    k->by_type[SLM_TYPE_Q6_K].dot = slmrt_kq_dot_q6_k_avx2;
}
