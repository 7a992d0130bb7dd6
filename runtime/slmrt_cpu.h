/* slmrt_cpu.h - CPU features, read once with cpuid. The runtime chooses its
 * kernel table from these; SLMRT_ISA=avx2|scalar forces a lower ISA. */
#ifndef SLMRT_CPU_H
#define SLMRT_CPU_H

#include <stdbool.h>

typedef struct slmrt_cpu {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16;
    bool amx_tile, amx_int8, amx_bf16;
} slmrt_cpu;

typedef enum slmrt_isa { SLMRT_ISA_SCALAR = 0, SLMRT_ISA_AVX2 = 1, SLMRT_ISA_AVX512 = 2 } slmrt_isa;

/* Features of this CPU (cached after the first call; thread-safe to read). */
const slmrt_cpu *slmrt_cpu_get(void);
/* Best ISA this CPU supports, lowered by SLMRT_ISA when set. */
slmrt_isa slmrt_isa_select(void);
const char *slmrt_isa_name(slmrt_isa isa);
/* "avx2 fma avx512f ..." */
void slmrt_cpu_describe(const slmrt_cpu *c, char *buf, int size);

#endif
