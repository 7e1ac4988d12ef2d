/* Internal core helpers shared by every layer: assertions and panics, the counting allocator,
 * error-detail setting, log macros, overflow-safe arithmetic, file mapping and UTF-8 checks. */
#ifndef SLM_CORE_INTERNAL_H
#define SLM_CORE_INTERNAL_H

#include "slm/core.h"

#include <stdatomic.h>

#define SLM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SLM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SLM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Invariant violations are bugs, not input errors: report and abort. */
_Noreturn void slm__panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define SLM_PANIC(...) slm__panic(__FILE__, __LINE__, __VA_ARGS__)
#define SLM_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0)) slm__panic(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)

/* ---- errors: set the thread's detail and return the status, e.g.
 *   return slm__error(SLM_E_INVALID_MODEL, "tensor '%s': offset past end of file", name); */
slm_status slm__error(slm_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
slm_status slm__verror(slm_status st, const char *fmt, va_list ap);
/* Prepends "prefix: " to the current detail (adds context while an error travels up). */
void slm__error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- logging ---- */
void slm__log(slm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define SLM_LOG_D(...) slm__log(SLM_LOG_DEBUG, __VA_ARGS__)
#define SLM_LOG_I(...) slm__log(SLM_LOG_INFO, __VA_ARGS__)
#define SLM_LOG_W(...) slm__log(SLM_LOG_WARN, __VA_ARGS__)
#define SLM_LOG_E(...) slm__log(SLM_LOG_ERROR, __VA_ARGS__)

/* ---- counting allocator: every heap allocation of libslm goes through these so the stats and
 * the manager's footprint accounting see it, and tests can inject failures. ---- */
void *slm__malloc(size_t n);
void *slm__calloc(size_t count, size_t size);
void *slm__realloc(void *p, size_t n);
void slm__free(void *p);
char *slm__strdup(const char *s);
char *slm__strndup(const char *s, size_t n);
/* 64-byte aligned, for weights, KV caches and SIMD scratch. Free with slm__aligned_free. */
void *slm__aligned_alloc(size_t n);
void slm__aligned_free(void *p);
/* Net heap bytes the calling thread has allocated minus freed through these functions. */
int64_t slm__alloc_thread_net(void);
/* Test hook: the n-th allocation call from now fails (0 = the next one); -1 disables. */
void slm__alloc_fail_after(int64_t n);

/* ---- overflow-safe arithmetic: false on overflow ---- */
static inline bool slm__add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool slm__mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* ---- read-only file mapping ---- */
typedef struct slm_mapping {
    const uint8_t *data; /* NULL for an empty file */
    uint64_t size;
    int fd;              /* -1 when not from a file */
} slm_mapping;
slm_status slm__map_file(const char *path, slm_mapping *out);
void slm__unmap(slm_mapping *m);

/* ---- UTF-8 ---- */
/* True if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points > 10FFFF). */
bool slm__utf8_valid(const char *s, size_t len);
/* Length of the well-formed sequence starting at s (1..4), or 0 if it is not one. */
int slm__utf8_seq_len(const char *s, size_t avail);

/* ---- work splitting: threads take chunks of an index range by an atomic counter ---- */
typedef struct slm_chunker {
    atomic_int_fast64_t next;
    int64_t end;
    int64_t chunk;
} slm_chunker;
static inline void slm__chunker_init(slm_chunker *c, int64_t begin, int64_t end, int64_t chunk) {
    atomic_init(&c->next, begin);
    c->end = end;
    c->chunk = chunk > 0 ? chunk : 1;
}
/* Claims [*b, *e); false when the range is exhausted. */
static inline bool slm__chunker_next(slm_chunker *c, int64_t *b, int64_t *e) {
    int64_t s = atomic_fetch_add_explicit(&c->next, c->chunk, memory_order_relaxed);
    if (s >= c->end) return false;
    *b = s;
    *e = s + c->chunk < c->end ? s + c->chunk : c->end;
    return true;
}

#endif
