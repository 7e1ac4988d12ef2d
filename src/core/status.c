/* Status codes (names and messages from the one table in slm/core.h), the per-thread error
 * detail, panics and the library version. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *slm_status_name(slm_status s) {
    switch (s) {
#define SLM__STATUS_NAME(sym, val, name, msg)                                                      \
    case sym:                                                                                      \
        return name;
        SLM_STATUS_TABLE(SLM__STATUS_NAME)
#undef SLM__STATUS_NAME
    }
    return "UNKNOWN";
}

const char *slm_status_message(slm_status s) {
    switch (s) {
#define SLM__STATUS_MSG(sym, val, name, msg)                                                       \
    case sym:                                                                                      \
        return msg;
        SLM_STATUS_TABLE(SLM__STATUS_MSG)
#undef SLM__STATUS_MSG
    }
    return "unknown status";
}

/* Large enough for a path plus context; longer details are cut, never overflow. */
static _Thread_local char tls_detail[1024];

const char *slm_error_detail(void) { return tls_detail; }
void slm_error_clear(void) { tls_detail[0] = '\0'; }

slm_status slm__verror(slm_status st, const char *fmt, va_list ap) {
    vsnprintf(tls_detail, sizeof tls_detail, fmt, ap);
    return st;
}

slm_status slm__error(slm_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    slm__verror(st, fmt, ap);
    va_end(ap);
    return st;
}

void slm__error_prefix(const char *fmt, ...) {
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Build "prefix: old" in place: shift the old text right, then write the prefix in front. */
    size_t plen = strlen(prefix), olen = strlen(tls_detail), cap = sizeof tls_detail;
    if (plen + 2 >= cap) plen = cap - 3;
    size_t keep = SLM_MIN(olen, cap - 1 - plen - 2);
    memmove(tls_detail + plen + 2, tls_detail, keep);
    tls_detail[plen + 2 + keep] = '\0';
    memcpy(tls_detail, prefix, plen);
    tls_detail[plen] = ':';
    tls_detail[plen + 1] = ' ';
}

_Noreturn void slm__panic(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "slm panic at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

const char *slm_version(void) { return "0.1.0"; }
