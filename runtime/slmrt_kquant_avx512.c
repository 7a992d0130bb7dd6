/* slmrt_kquant_avx512.c - the K-quant dots (slmrt_kquant_x86.h) for the
 * AVX-512 table with VNNI: vpdpwssd folds the scale multiply and the
 * accumulation into one instruction. Without VNNI the AVX-512 table keeps
 * the AVX2 versions. */
#include "slmrt_kernels_impl.h"

#define SLMRT_KQ_VNNI 1
#define SLMRT_KQ_NAME(f) f##_avx512_vnni
#include "slmrt_kquant_x86.h"

void slmrt_kquant_init_avx512_vnni(slmrt_kernels *k) {
    k->by_type[SLM_TYPE_Q4_K].dot = slmrt_kq_dot_q4_k_avx512_vnni;
    k->by_type[SLM_TYPE_Q5_K].dot = slmrt_kq_dot_q5_k_avx512_vnni;
    k->by_type[SLM_TYPE_Q6_K].dot = slmrt_kq_dot_q6_k_avx512_vnni;
}
