/* The system monotonic clock behind the injectable slm_clock interface. */
#include "core/internal.h"

#include <time.h>

static uint64_t system_now_ns(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

slm_clock slm_clock_system(void) { return (slm_clock){.now_ns = system_now_ns, .ctx = NULL}; }
