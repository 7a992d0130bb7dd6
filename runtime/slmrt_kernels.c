/* slmrt_kernels.c - hands out the kernel table of each ISA. Each table is
 * built once, on first use, and only when the CPU can run it; afterwards
 * the tables are read-only, so any thread may use them without locking. */
#include "slmrt_kernels.h"

#include <cpuid.h>
#include <pthread.h>
#include <string.h>

#include "slmrt_kernels_impl.h"

#define SLMRT_N_ISA 3

static slmrt_kernels kernel_tables[SLMRT_N_ISA];
static bool kernel_table_ok[SLMRT_N_ISA];
static const slmrt_kernels *kernel_best;
static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;

bool slmrt_kernels_cpu_has_avx2(void) {
    const slmrt_cpu *c = slmrt_cpu_get();
    /* F16C converts the fp16 block scales and F16 rows. */
    return c->avx2 && c->fma && c->f16c;
}

/* slmrt_kernels_avx512.c is compiled with -mavx512dq (runtime/CMakeLists.txt)
 * and GCC does emit DQ instructions for integer-typed bitwise operations
 * (vandps zmm), so the table needs DQ too. slmrt_cpu does not record it;
 * every CPU with BW and VL has had it, but asking costs one cpuid. */
static bool cpu_has_avx512dq(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return b & (1u << 17);
}

bool slmrt_kernels_cpu_has_avx512(void) {
    const slmrt_cpu *c = slmrt_cpu_get();
    /* The AVX-512 table falls back to AVX2 kernels for what it lacks, so it
     * needs everything the AVX2 table needs. avx512f implies the OS saves
     * the zmm state (slmrt_cpu checks XCR0). */
    return slmrt_kernels_cpu_has_avx2() && c->avx512f && c->avx512bw && c->avx512vl && cpu_has_avx512dq();
}

static void kernel_tables_build(void) {
    slmrt_kernels_init_scalar(&kernel_tables[SLMRT_ISA_SCALAR]);
    kernel_table_ok[SLMRT_ISA_SCALAR] = true;
    if (slmrt_kernels_cpu_has_avx2()) {
        slmrt_kernels_init_avx2(&kernel_tables[SLMRT_ISA_AVX2]);
        kernel_table_ok[SLMRT_ISA_AVX2] = true;
    }
    if (slmrt_kernels_cpu_has_avx512()) {
        slmrt_kernels_init_avx512(&kernel_tables[SLMRT_ISA_AVX512]);
        kernel_table_ok[SLMRT_ISA_AVX512] = true;
    }
    /* slmrt_isa_select only checks avx2+fma for AVX2, so step down until a
     * table exists (a CPU with AVX2 but no F16C gets the scalar table). The
     * choice, SLMRT_ISA included, is made once: the environment is read on
     * the first call only. */
    int isa = (int)slmrt_isa_select();
    while (isa > SLMRT_ISA_SCALAR && !kernel_table_ok[isa]) isa--;
    kernel_best = &kernel_tables[isa];
}

const slmrt_kernels *slmrt_kernels_for(slmrt_isa isa) {
    if ((int)isa < 0 || (int)isa >= SLMRT_N_ISA) return NULL;
    pthread_once(&kernel_once, kernel_tables_build);
    return kernel_table_ok[isa] ? &kernel_tables[isa] : NULL;
}

const slmrt_kernels *slmrt_kernels_best(void) {
    pthread_once(&kernel_once, kernel_tables_build);
    return kernel_best;
}

size_t slmrt_prep_row_size(const slmrt_type_kernels *tk, int n) {
    const size_t plain = slm_type_row_size(tk->partner, n);
    if (tk->partner != SLM_TYPE_Q8_0 || plain == 0) return plain;
    return slmrt_q8_prep_layout(n).size;
}

void slmrt_q8_prep_finish(uint8_t *row, int n) {
    const int nb = n / SLMRT_QK8_0;
    const slmrt_q8_prep l = slmrt_q8_prep_layout(n);
    const slmrt_block_q8_0 *blocks = (const slmrt_block_q8_0 *)row;
    const size_t blocks_end = (size_t)nb * sizeof(slmrt_block_q8_0);
    memset(row + blocks_end, 0, l.size - blocks_end);
    float *d = (float *)(row + l.d_off);
    int32_t *sum = (int32_t *)(row + l.sum_off);
    int8_t *pairs = (int8_t *)(row + l.pairs_off);
    for (int b = 0; b < nb; b++) {
        d[b] = slm_f16_to_f32(slmrt_load_u16le(blocks[b].d));
        int32_t s = 0;
        for (int j = 0; j < SLMRT_QK8_0; j++) s += blocks[b].qs[j];
        sum[b] = s;
        int8_t *pair = pairs + (size_t)(b / 2) * 64 + (b % 2) * 16;
        memcpy(pair, blocks[b].qs, 16);
        memcpy(pair + 32, blocks[b].qs + 16, 16);
    }
}
