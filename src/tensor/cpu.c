/* CPU feature detection and the dispatch level kernels are picked for (SLM_CPU_LEVEL lowers it). */
#include "tensor/internal.h"

#include <cpuid.h>
#include <stdlib.h>
#include <strings.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

static const char *const level_names[SLM_CPU_LEVEL_COUNT] = {
    [SLM_CPU_SCALAR] = "scalar",
    [SLM_CPU_AVX2] = "avx2",
    [SLM_CPU_AVX512] = "avx512",
};

/* -1 until first use; racing first calls compute the same value. */
static atomic_int detected_level = -1;
static atomic_int has_bf16 = -1;
static atomic_int active_level = -1;

slm_cpu_level slm__cpu_level_detected(void) {
    int l = atomic_load_explicit(&detected_level, memory_order_relaxed);
    if (l >= 0) return (slm_cpu_level)l;
    /* libgcc's checks include the OS enabling the register state (xgetbv). */
    __builtin_cpu_init();
    l = SLM_CPU_SCALAR;
    /* F16C from CPUID leaf 1 directly: clang's __builtin_cpu_supports does not know "f16c" */
    unsigned a = 0, b = 0, c = 0, d = 0;
    bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) {
        l = SLM_CPU_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vnni"))
            l = SLM_CPU_AVX512;
    }
    /* BF16 dots are the one AVX-512 kernel that also needs AVX512-BF16 (Ice Lake lacks it) */
    atomic_store_explicit(&has_bf16, l == SLM_CPU_AVX512 && __builtin_cpu_supports("avx512bf16"),
                          memory_order_relaxed);
    atomic_store_explicit(&detected_level, l, memory_order_relaxed);
    return (slm_cpu_level)l;
}

bool slm__cpu_has_avx512bf16(void) {
    slm__cpu_level_detected();
    return atomic_load_explicit(&has_bf16, memory_order_relaxed) == 1;
}

/* The AMX features this library uses, as bits of CPUID 7.0 EDX: TILE (24), BF16 (22), INT8 (25). */
enum { AMX_TILE = 1u << 24, AMX_BF16 = 1u << 22, AMX_INT8 = 1u << 25 };

/* The AMX bits present, counted only with AMX-TILE, the OS managing the tile state (XCR0 bits 17
 * and 18) and Linux granting this process the tile data (it is off until asked for, as it makes
 * the signal frame 8 KiB larger); 0 without them. */
static int detect_amx(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (slm__cpu_level_detected() < SLM_CPU_AVX512 || !__get_cpuid_count(7, 0, &a, &b, &c, &d) ||
        !(d & AMX_TILE))
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return 0;
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
    /* the BF16 tiles also need the AVX512-BF16 conversions around them */
    return (int)(d & (AMX_INT8 | (slm__cpu_has_avx512bf16() ? AMX_BF16 : 0)));
#else
    return 0;
#endif
}

static atomic_int amx_bits = -1;
static atomic_bool amx_allowed = true;

static int amx_detected(void) {
    int v = atomic_load_explicit(&amx_bits, memory_order_relaxed);
    if (v < 0) {
        v = detect_amx();
        atomic_store_explicit(&amx_bits, v, memory_order_relaxed);
    }
    return v;
}

/* SLM_CPU_LEVEL below avx512 turns the tiles off with the rest */
static bool amx_usable(int bit) {
    return (amx_detected() & bit) && atomic_load_explicit(&amx_allowed, memory_order_relaxed) &&
           slm__cpu_level() >= SLM_CPU_AVX512;
}

bool slm__cpu_has_amx_bf16(void) {
    return amx_usable(AMX_BF16);
}
bool slm__cpu_has_amx_int8(void) {
    return amx_usable(AMX_INT8);
}
bool slm__cpu_detected_amx_int8(void) {
    return amx_detected() & AMX_INT8;
}

void slm__cpu_amx_allow(bool allow) {
    atomic_store_explicit(&amx_allowed, allow, memory_order_relaxed);
}

const char *slm_cpu_kernels(void) {
    static const char *const tiles[4] = {"avx512", "avx512 amx-int8", "avx512 amx-bf16",
                                         "avx512 amx-int8 amx-bf16"};
    const slm_cpu_level l = slm__cpu_level();
    /* the tiles come only with the AVX-512 level */
    if (l < SLM_CPU_AVX512) return level_names[l];
    return tiles[slm__cpu_has_amx_int8() + 2 * slm__cpu_has_amx_bf16()];
}

slm_cpu_level slm__cpu_level(void) {
    int l = atomic_load_explicit(&active_level, memory_order_relaxed);
    if (l >= 0) return (slm_cpu_level)l;
    l = (int)slm__cpu_level_detected();
    const char *env = getenv("SLM_CPU_LEVEL");
    if (env && *env) {
        int want = -1;
        for (int i = 0; i < SLM_CPU_LEVEL_COUNT; i++)
            if (strcasecmp(env, level_names[i]) == 0) want = i;
        if (want < 0)
            SLM_LOG_W("event=cpu_level_ignored value=%s reason=unknown", env);
        else if (want < l)
            l = want;
    }
    atomic_store_explicit(&active_level, l, memory_order_relaxed);
    return (slm_cpu_level)l;
}

slm_cpu_level slm__cpu_level_set(slm_cpu_level level) {
    slm_cpu_level max = slm__cpu_level_detected();
    if (level > max) level = max;
    atomic_store_explicit(&active_level, (int)level, memory_order_relaxed);
    return level;
}

const char *slm__cpu_level_name(slm_cpu_level level) {
    return level < SLM_CPU_LEVEL_COUNT ? level_names[level] : "?";
}
