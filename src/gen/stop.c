/* Stop strings over streamed text: holds back the tail that could still grow into a stop string,
 * so a stop string split across tokens is caught and never shown. */
#include "core/internal.h"
#include "slm/gen.h"

#include <string.h>

struct slm_stop_matcher {
    char **stops;
    size_t *lens;
    size_t n;
    char *held; /* text received but not yet emitted */
    size_t held_len, held_cap;
    char *out;  /* what the last call emitted */
    size_t out_cap;
    bool stopped;
};

slm_status slm_stop_matcher_create(const char *const *stops, size_t n, slm_stop_matcher **out) {
    *out = NULL;
    slm_stop_matcher *m = slm__calloc(1, sizeof *m);
    if (!m) return slm__error(SLM_E_NOMEM, "stop matcher");
    m->stops = slm__calloc(n ? n : 1, sizeof *m->stops);
    m->lens = slm__calloc(n ? n : 1, sizeof *m->lens);
    if (!m->stops || !m->lens) goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!stops[i] || !*stops[i]) continue;
        if (!(m->stops[m->n] = slm__strdup(stops[i]))) goto oom;
        m->lens[m->n++] = strlen(stops[i]);
    }
    *out = m;
    return SLM_OK;
oom:
    slm_stop_matcher_free(m);
    return slm__error(SLM_E_NOMEM, "stop matcher");
}

void slm_stop_matcher_free(slm_stop_matcher *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) slm__free(m->stops[i]);
    slm__free(m->stops);
    slm__free(m->lens);
    slm__free(m->held);
    slm__free(m->out);
    slm__free(m);
}

static bool reserve(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t c = need * 2 + 16;
    char *q = slm__realloc(*p, c);
    if (!q) return false;
    *p = q, *cap = c;
    return true;
}

/* Moves the first n held bytes to the output buffer. */
static slm_status emit_front(slm_stop_matcher *m, size_t n, const char **emit, size_t *emit_len) {
    if (!reserve(&m->out, &m->out_cap, n + 1)) return slm__error(SLM_E_NOMEM, "stop matcher");
    memcpy(m->out, m->held, n);
    m->out[n] = '\0';
    memmove(m->held, m->held + n, m->held_len - n);
    m->held_len -= n;
    *emit = m->out;
    *emit_len = n;
    return SLM_OK;
}

slm_status slm_stop_matcher_feed(slm_stop_matcher *m, const char *piece, size_t len,
                                 const char **emit, size_t *emit_len, bool *stopped) {
    *emit = "";
    *emit_len = 0;
    *stopped = m->stopped;
    if (m->stopped) return SLM_OK;
    if (!reserve(&m->held, &m->held_cap, m->held_len + len + 1))
        return slm__error(SLM_E_NOMEM, "stop matcher");
    memcpy(m->held + m->held_len, piece, len);
    m->held_len += len;
    /* The earliest complete stop string ends the stream. */
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t p = 0; p + m->lens[i] <= m->held_len && p < first; p++) {
            if (!memcmp(m->held + p, m->stops[i], m->lens[i])) {
                first = p;
                break;
            }
        }
    }
    if (first != SIZE_MAX) {
        m->held_len = first;
        m->stopped = *stopped = true;
        return emit_front(m, first, emit, emit_len);
    }
    /* Keep the longest tail that is a proper prefix of some stop string. */
    size_t keep = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t max = SLM_MIN(m->lens[i] - 1, m->held_len);
        for (size_t k = max; k > keep; k--) {
            if (!memcmp(m->held + m->held_len - k, m->stops[i], k)) {
                keep = k;
                break;
            }
        }
    }
    return emit_front(m, m->held_len - keep, emit, emit_len);
}

slm_status slm_stop_matcher_flush(slm_stop_matcher *m, const char **emit, size_t *emit_len) {
    *emit = "";
    *emit_len = 0;
    if (m->stopped) return SLM_OK;
    return emit_front(m, m->held_len, emit, emit_len);
}
