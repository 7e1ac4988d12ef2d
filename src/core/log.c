/* The logger: level filter, one line of key=value text per event, to stderr or a callback. */
#include "core/internal.h"

#include <stdio.h>
#include <time.h>

static _Atomic int g_level = SLM_LOG_WARN;
static slm_log_fn g_fn;
static void *g_user;

static const char *const level_names[] = {
    [SLM_LOG_DEBUG] = "debug", [SLM_LOG_INFO] = "info", [SLM_LOG_WARN] = "warn",
    [SLM_LOG_ERROR] = "error", [SLM_LOG_NONE] = "none",
};

const char *slm_log_level_name(slm_log_level level) {
    return (unsigned)level < SLM_ARRAY_LEN(level_names) ? level_names[level] : "?";
}

void slm_log_set_level(slm_log_level level) { atomic_store(&g_level, (int)level); }
slm_log_level slm_log_get_level(void) { return (slm_log_level)atomic_load(&g_level); }

void slm_log_set_callback(slm_log_fn fn, void *user) {
    g_fn = fn;
    g_user = user;
}

void slm__log(slm_log_level level, const char *fmt, ...) {
    if ((int)level < atomic_load(&g_level) || level >= SLM_LOG_NONE) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_fn) {
        g_fn(level, msg, g_user);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            level_names[level], msg);
}
