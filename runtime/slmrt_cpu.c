/* slmrt_cpu.c - reads CPU features once with cpuid (and XGETBV, since AVX
 * state must also be enabled by the OS; AMX also needs the kernel's
 * permission per process) and picks the kernel ISA. */
#include "slmrt_cpu.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static slmrt_cpu cpu_features;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Linux (5.16 on) enables the AMX tile data state only for processes that
 * ask for it: XCR0 shows it either way, and a tile instruction without the
 * permission is killed with SIGILL. So AMX counts only once the request is
 * granted (oneDNN makes the same request itself; a second one is a no-op). */
static bool amx_permitted(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}

static void cpu_detect(void) {
    slmrt_cpu *c = &cpu_features;
    unsigned a, b, cx, dx;
    if (!__get_cpuid(1, &a, &b, &cx, &dx)) return;
    bool osxsave = cx & (1u << 27);
    bool avx = cx & (1u << 28);
    c->fma = cx & (1u << 12);
    c->f16c = cx & (1u << 29);
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    bool ymm_ok = (xcr0 & 6) == 6;
    bool zmm_ok = (xcr0 & 0xE6) == 0xE6;
    bool amx_ok = (xcr0 & (3u << 17)) == (3u << 17);
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, cx, dx);
    c->avx2 = avx && ymm_ok && (b & (1u << 5));
    c->fma = c->fma && ymm_ok;
    c->avx512f = zmm_ok && (b & (1u << 16));
    c->avx512bw = zmm_ok && (b & (1u << 30));
    c->avx512vl = zmm_ok && (b & (1u << 31));
    c->avx512_vnni = zmm_ok && (cx & (1u << 11));
    /* the tile unit first: the bf16/int8 bits mean nothing without it */
    c->amx_tile = amx_ok && (dx & (1u << 24)) && amx_permitted();
    c->amx_bf16 = c->amx_tile && (dx & (1u << 22));
    c->amx_int8 = c->amx_tile && (dx & (1u << 25));
    __cpuid_count(7, 1, a, b, cx, dx);
    c->avx512_bf16 = zmm_ok && (a & (1u << 5));
}

const slmrt_cpu *slmrt_cpu_get(void) {
    pthread_once(&cpu_once, cpu_detect);
    return &cpu_features;
}

slmrt_isa slmrt_isa_select(void) {
    const slmrt_cpu *c = slmrt_cpu_get();
    slmrt_isa best = SLMRT_ISA_SCALAR;
    if (c->avx2 && c->fma) best = SLMRT_ISA_AVX2;
    if (best == SLMRT_ISA_AVX2 && c->avx512f && c->avx512bw && c->avx512vl) best = SLMRT_ISA_AVX512;
    const char *force = getenv("SLMRT_ISA");
    if (force) {
        slmrt_isa want = best;
        if (!strcmp(force, "scalar")) want = SLMRT_ISA_SCALAR;
        else if (!strcmp(force, "avx2")) want = SLMRT_ISA_AVX2;
        else if (!strcmp(force, "avx512")) want = SLMRT_ISA_AVX512;
        if (want < best) best = want; /* can only lower, never claim what the CPU lacks */
    }
    return best;
}

const char *slmrt_isa_name(slmrt_isa isa) {
    switch (isa) {
    case SLMRT_ISA_AVX512: return "avx512";
    case SLMRT_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

void slmrt_cpu_describe(const slmrt_cpu *c, char *buf, int size) {
    struct {
        bool on;
        const char *name;
    } f[] = {{c->avx2, "avx2"},           {c->fma, "fma"},           {c->f16c, "f16c"},
             {c->avx512f, "avx512f"},     {c->avx512bw, "avx512bw"}, {c->avx512vl, "avx512vl"},
             {c->avx512_vnni, "avx512_vnni"}, {c->avx512_bf16, "avx512_bf16"}, {c->amx_tile, "amx_tile"},
             {c->amx_int8, "amx_int8"},   {c->amx_bf16, "amx_bf16"}};
    int o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].on && o < size) o += snprintf(buf + o, (size_t)(size - o), "%s%s", o ? " " : "", f[i].name);
}
