/* slm_codec_q_simd.h - ISA-specific versions of the Q8_0/Q4_0 reference
 * encoders (internal to formats/): byte-identical to the scalar
 * slm_quantize_row_*_ref, chosen at run time by slm_codec_q.c. */
#ifndef SLM_CODEC_Q_SIMD_H
#define SLM_CODEC_Q_SIMD_H

#include <stdbool.h>
#include <stdint.h>

void slm_quantize_row_q8_0_ref(const float *x, void *vy, int64_t n);
void slm_quantize_row_q4_0_ref(const float *x, void *vy, int64_t n);
void slm_quantize_row_q8_0_avx2(const float *x, void *vy, int64_t n);
void slm_quantize_row_q4_0_avx2(const float *x, void *vy, int64_t n);

/* Whether the AVX2 versions may run (the CPU has AVX2 and SLM_CODEC_SCALAR
 * is not set in the environment, which tests use to compare the two). */
bool slm_codec_use_avx2(void);

#endif
