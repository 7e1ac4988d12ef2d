/* CPU feature detection and the dispatch level kernels are picked for (SLM_CPU_LEVEL lowers it). */
#include "tensor/internal.h"

#include <stdlib.h>
#include <strings.h>

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
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")) {
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
