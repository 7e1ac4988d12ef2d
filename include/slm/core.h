/* slm core: status codes, error details, logging, allocation statistics, the thread pool,
 * the injectable clock and sha256. Everything else in libslm builds on these. */
#ifndef SLM_CORE_H
#define SLM_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------ */

/* One table: enum value, stable name (also used as the HTTP/JSON error code), message. */
#define SLM_STATUS_TABLE(X)                                                                        \
    X(SLM_OK, 0, "OK", "success")                                                                  \
    X(SLM_E_INVALID_ARG, -1, "INVALID_ARGUMENT", "invalid argument")                               \
    X(SLM_E_NOMEM, -2, "OUT_OF_MEMORY", "out of memory")                                           \
    X(SLM_E_IO, -3, "IO_ERROR", "input/output error")                                              \
    X(SLM_E_NOT_FOUND, -4, "NOT_FOUND", "not found")                                               \
    X(SLM_E_INVALID_MODEL, -5, "INVALID_MODEL", "invalid or corrupt model file")                  \
    X(SLM_E_UNSUPPORTED, -6, "UNSUPPORTED", "unsupported feature")                                 \
    X(SLM_E_TYPE_MISMATCH, -7, "TYPE_MISMATCH", "value has a different type")                      \
    X(SLM_E_OVERFLOW, -8, "OVERFLOW", "size or count out of range")                                \
    X(SLM_E_BUSY, -9, "BUSY", "resource busy, try again later")                                    \
    X(SLM_E_TIMEOUT, -10, "TIMEOUT", "operation timed out")                                        \
    X(SLM_E_CANCELLED, -11, "CANCELLED", "operation cancelled")                                    \
    X(SLM_E_INVALID_INPUT, -12, "INVALID_REQUEST", "invalid input")                                \
    X(SLM_E_CONTEXT_FULL, -13, "CONTEXT_FULL", "context window is full")                           \
    X(SLM_E_INSUFFICIENT_MEMORY, -14, "INSUFFICIENT_MEMORY", "not enough memory within the budget") \
    X(SLM_E_CHECKSUM, -15, "CHECKSUM_MISMATCH", "checksum mismatch")                               \
    X(SLM_E_INTERNAL, -16, "INTERNAL", "internal error")

typedef enum slm_status {
#define SLM__STATUS_ENUM(sym, val, name, msg) sym = val,
    SLM_STATUS_TABLE(SLM__STATUS_ENUM)
#undef SLM__STATUS_ENUM
} slm_status;

/* Stable upper-case name ("INVALID_MODEL"); "UNKNOWN" for values outside the table. Static. */
const char *slm_status_name(slm_status s);
/* Generic one-line message for the code. Static storage. */
const char *slm_status_message(slm_status s);

/* Detail of the last error set on the calling thread by a libslm call that failed, e.g.
 * "tensor 'blk.0.attn_q.weight': data ends past end of file". Valid until the next libslm call on
 * this thread; "" when none. */
const char *slm_error_detail(void);
void slm_error_clear(void);

/* ---- logging ----------------------------------------------------------------------------- */

typedef enum slm_log_level {
    SLM_LOG_DEBUG = 0,
    SLM_LOG_INFO = 1,
    SLM_LOG_WARN = 2,
    SLM_LOG_ERROR = 3,
    SLM_LOG_NONE = 4,
} slm_log_level;

/* msg is one line of key=value pairs without newline; borrowed for the call. */
typedef void (*slm_log_fn)(slm_log_level level, const char *msg, void *user);

/* Default: level WARN to stderr. fn NULL restores stderr. Not thread-safe against concurrent
 * logging: set it at start-up. */
void slm_log_set_level(slm_log_level level);
slm_log_level slm_log_get_level(void);
void slm_log_set_callback(slm_log_fn fn, void *user);
const char *slm_log_level_name(slm_log_level level);

/* ---- allocation statistics ----------------------------------------------------------------- */

struct slm_alloc_stats {
    uint64_t bytes_in_use; /* live bytes allocated by libslm (heap; mmaps are counted apart) */
    uint64_t bytes_peak;
    uint64_t n_allocs;     /* successful allocation calls since start */
    uint64_t n_failed;     /* allocation calls that failed (real or injected) */
};
void slm_alloc_get_stats(struct slm_alloc_stats *out);

/* ---- clock ------------------------------------------------------------------------------- */

/* Monotonic nanoseconds. The manager and loader take a clock so tests can drive time. */
typedef struct slm_clock {
    uint64_t (*now_ns)(void *ctx);
    void *ctx;
} slm_clock;

/* The system monotonic clock (CLOCK_MONOTONIC). */
slm_clock slm_clock_system(void);
static inline uint64_t slm_clock_now(const slm_clock *c) { return c->now_ns(c->ctx); }

/* ---- thread pool ------------------------------------------------------------------------- */

typedef struct slm_pool slm_pool;

/* Work function: called once per thread with ith in [0, nth). */
typedef void (*slm_pool_fn)(void *ctx, int ith, int nth);

/* n_threads total including the caller (>= 1). *out NULL on failure. */
slm_status slm_pool_create(int n_threads, slm_pool **out);
void slm_pool_free(slm_pool *pool); /* accepts NULL; joins workers */
int slm_pool_n_threads(const slm_pool *pool);
/* Runs fn on nth threads (1 <= nth <= n_threads; the caller is ith 0) and returns when all have
 * finished. Calls from several threads at once are serialised. pool may be NULL: fn(ctx, 0, 1). */
void slm_pool_run(slm_pool *pool, slm_pool_fn fn, void *ctx, int nth);

/* Number of online CPUs (>= 1). */
int slm_cpu_count(void);

/* ---- sha256 ------------------------------------------------------------------------------ */

#define SLM_SHA256_HEX_LEN 64
/* hex: 65 bytes, lower-case, NUL-terminated. */
slm_status slm_sha256_buffer(const void *data, size_t len, char hex[SLM_SHA256_HEX_LEN + 1]);
slm_status slm_sha256_file(const char *path, char hex[SLM_SHA256_HEX_LEN + 1]);

const char *slm_version(void);

#ifdef __cplusplus
}
#endif
#endif
