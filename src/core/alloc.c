/* The counting allocator. Each block carries a 64-byte header holding its size, so frees can be
 * counted exactly and every block (aligned or not) is 64-byte aligned for SIMD loads. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

#define HDR 64

static atomic_uint_fast64_t g_in_use, g_peak, g_allocs, g_failed;
/* Net heap bytes of the calling thread (allocated minus freed by it): a load measures what it
 * allocated even while other threads load other models. */
static _Thread_local int64_t t_net;
static atomic_int_fast64_t g_fail_after = -1;

static bool inject_failure(void) {
    int64_t n = atomic_load_explicit(&g_fail_after, memory_order_relaxed);
    if (n < 0) return false;
    /* Decrement until it would go below zero: the call that sees 0 fails, later ones pass. */
    while (n >= 0) {
        if (atomic_compare_exchange_weak(&g_fail_after, &n, n - 1)) return n == 0;
    }
    return false;
}

void slm__alloc_fail_after(int64_t n) { atomic_store(&g_fail_after, n); }

int64_t slm__alloc_thread_net(void) { return t_net; }

static void account(size_t n) {
    t_net += (int64_t)n;
    uint64_t now = atomic_fetch_add_explicit(&g_in_use, n, memory_order_relaxed) + n;
    uint64_t peak = atomic_load_explicit(&g_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak(&g_peak, &peak, now)) {}
    atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
}

void *slm__malloc(size_t n) {
    if (n > SIZE_MAX - HDR || inject_failure()) {
        atomic_fetch_add(&g_failed, 1);
        return NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, HDR, HDR + n) != 0) {
        atomic_fetch_add(&g_failed, 1);
        return NULL;
    }
    *(size_t *)p = n;
    account(n);
    return (char *)p + HDR;
}

void *slm__calloc(size_t count, size_t size) {
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        atomic_fetch_add(&g_failed, 1);
        return NULL;
    }
    void *p = slm__malloc(n);
    if (p) memset(p, 0, n);
    return p;
}

void slm__free(void *p) {
    if (!p) return;
    char *base = (char *)p - HDR;
    atomic_fetch_sub_explicit(&g_in_use, *(size_t *)base, memory_order_relaxed);
    t_net -= (int64_t)*(size_t *)base;
    free(base);
}

void *slm__realloc(void *p, size_t n) {
    if (!p) return slm__malloc(n);
    size_t old = *(size_t *)((char *)p - HDR);
    void *q = slm__malloc(n);
    if (!q) return NULL;
    memcpy(q, p, old < n ? old : n);
    slm__free(p);
    return q;
}

void *slm__aligned_alloc(size_t n) { return slm__malloc(n); }
void slm__aligned_free(void *p) { slm__free(p); }

char *slm__strndup(const char *s, size_t n) {
    char *d = slm__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *slm__strdup(const char *s) { return slm__strndup(s, strlen(s)); }

void slm_alloc_get_stats(struct slm_alloc_stats *out) {
    out->bytes_in_use = atomic_load(&g_in_use);
    out->bytes_peak = atomic_load(&g_peak);
    out->n_allocs = atomic_load(&g_allocs);
    out->n_failed = atomic_load(&g_failed);
}
