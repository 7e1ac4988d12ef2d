/* The selector behind model "auto": the prompt's complexity (a documented points heuristic),
 * then a deterministic ranking of the catalog by tier distance, residency and size, with the
 * runners-up as the fallback chain and a written reason. */
#include "manager/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct complexity_detail {
    size_t words, cues, questions;
    bool code, math;
    int points;
};

static bool word_start(const char *s, const char *p) {
    return p == s || !isalnum((unsigned char)p[-1]);
}

static size_t count_cues(const char *s) {
    static const char *const cues[] = {"explain",      "why",      "how do",  "analyze",
                                       "analyse",      "compare",  "prove",   "derive",
                                       "step by step", "evaluate", "reason",  "design",
                                       "implement",    "optimize", "optimise"};
    size_t n = 0;
    for (size_t i = 0; i < SLM_ARRAY_LEN(cues); i++) {
        size_t len = strlen(cues[i]);
        for (const char *p = s; *p; p++)
            if (!strncasecmp(p, cues[i], len) && word_start(s, p)) {
                n++;
                break;
            }
    }
    return n;
}

static bool looks_like_code(const char *s) {
    static const char *const marks[] = {"```", "#include", "def ", "function ", "=>"};
    for (size_t i = 0; i < SLM_ARRAY_LEN(marks); i++)
        if (strstr(s, marks[i])) return true;
    for (const char *p = s; *p; p++) {
        if (*p != '\n' && p[1] != '\0') continue;
        const char *q = *p == '\n' ? p - 1 : p;
        while (q >= s && (*q == ' ' || *q == '\t' || *q == '\r')) q--;
        if (q >= s && (*q == ';' || *q == '{')) return true;
    }
    return false;
}

static bool has_math(const char *s) {
    for (const char *p = s; *p; p++) {
        if (!strchr("+-*/^=", *p)) continue;
        const char *a = p - 1, *b = p + 1;
        while (a >= s && *a == ' ') a--;
        while (*b == ' ') b++;
        if ((a >= s && isdigit((unsigned char)*a)) || isdigit((unsigned char)*b)) return true;
    }
    return false;
}

static slm_complexity estimate(const char *prompt, struct complexity_detail *d) {
    memset(d, 0, sizeof *d);
    if (!prompt || !*prompt) return SLM_COMPLEXITY_LOW;
    bool in_word = false;
    for (const char *p = prompt; *p; p++) {
        bool space = isspace((unsigned char)*p);
        if (!space && !in_word) d->words++;
        in_word = !space;
        if (*p == '?') d->questions++;
    }
    d->cues = count_cues(prompt);
    d->code = looks_like_code(prompt);
    d->math = has_math(prompt);
    d->points = (d->words > 40) + 2 * (d->words > 200) + (int)SLM_MIN(d->cues, (size_t)2) +
                2 * d->code + d->math + (d->questions >= 2);
    return d->points == 0   ? SLM_COMPLEXITY_LOW
           : d->points <= 2 ? SLM_COMPLEXITY_MEDIUM
                            : SLM_COMPLEXITY_HIGH;
}

slm_complexity slm_complexity_estimate(const char *prompt) {
    struct complexity_detail d;
    return estimate(prompt, &d);
}

struct cand {
    struct slm_catalog_entry e;
    int distance;
    bool resident;
};

/* True if a ranks before b (see slm_select in slm/manager.h). */
static bool ranks_before(const struct cand *a, const struct cand *b) {
    if (a->distance != b->distance) return a->distance < b->distance;
    if (a->resident != b->resident) return a->resident;
    if (a->e.tier != b->e.tier) return a->e.tier > b->e.tier;
    if (a->e.n_params != b->e.n_params) return a->e.n_params < b->e.n_params;
    return strcmp(a->e.id, b->e.id) < 0;
}

static void human(uint64_t b, char *buf, size_t cap) {
    if (b >= SLM_GIB)
        snprintf(buf, cap, "%.2f GiB", (double)b / (double)SLM_GIB);
    else if (b >= SLM_MIB)
        snprintf(buf, cap, "%.1f MiB", (double)b / (double)SLM_MIB);
    else
        snprintf(buf, cap, "%llu bytes", (unsigned long long)b);
}

slm_status slm_select(const slm_catalog *c, slm_manager *m, const struct slm_select_request *req,
                      struct slm_selection *out) {
    memset(out, 0, sizeof *out);
    if (!req || !req->capability || (req->capability & (req->capability - 1)) ||
        req->capability >= 1u << SLM_CAP_COUNT || (unsigned)req->complexity > SLM_COMPLEXITY_AUTO)
        return slm__error(SLM_E_INVALID_ARG, "select: one capability and a complexity are needed");
    struct complexity_detail d;
    slm_complexity want = req->complexity;
    char why_tier[160];
    if (want == SLM_COMPLEXITY_AUTO) {
        want = estimate(req->prompt, &d);
        snprintf(why_tier, sizeof why_tier,
                 "auto: %zu words, %zu reasoning cues, code %s, math %s, %zu questions -> %d "
                 "points",
                 d.words, d.cues, d.code ? "yes" : "no", d.math ? "yes" : "no", d.questions,
                 d.points);
    } else {
        snprintf(why_tier, sizeof why_tier, "as requested");
    }
    out->complexity = want;
    uint64_t limit = req->max_memory ? req->max_memory : UINT64_MAX;
    if (m) limit = SLM_MIN(limit, slm__manager_freeable(m));

    size_t n = slm_catalog_count(c), n_cap = 0, n_fit = 0;
    struct cand best[SLM_SELECT_MAX_FALLBACKS + 1];
    uint64_t smallest = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        struct cand k;
        if (slm_catalog_get(c, i, &k.e) != SLM_OK || !(k.e.capabilities & req->capability))
            continue;
        n_cap++;
        k.resident = m && slm__manager_resident(m, k.e.id);
        uint64_t fp = slm_catalog_entry_footprint(&k.e);
        smallest = SLM_MIN(smallest, fp);
        if (!k.resident && fp > limit) continue;
        k.distance = abs((int)k.e.tier - (int)want);
        /* Insertion into the sorted top list (catalogs are small; this keeps it allocation-free).
         */
        size_t pos = SLM_MIN(n_fit, SLM_ARRAY_LEN(best));
        while (pos > 0 && ranks_before(&k, &best[pos - 1])) pos--;
        if (pos < SLM_ARRAY_LEN(best)) {
            size_t last = SLM_MIN(n_fit, SLM_ARRAY_LEN(best) - 1);
            memmove(&best[pos + 1], &best[pos], (last - pos) * sizeof best[0]);
            best[pos] = k;
        }
        n_fit++;
    }
    const char *cap = slm_capability_name(req->capability);
    char lim[32] = "unbounded", need[32];
    if (limit != UINT64_MAX) human(limit, lim, sizeof lim);
    if (!n_cap) {
        snprintf(out->reason, sizeof out->reason, "no catalog model has the %s capability", cap);
        return slm__error(SLM_E_NOT_FOUND, "%s", out->reason);
    }
    if (!n_fit) {
        human(smallest, need, sizeof need);
        snprintf(out->reason, sizeof out->reason,
                 "no %s model fits: the smallest needs %s, %s is free or freeable", cap, need, lim);
        return slm__error(SLM_E_INSUFFICIENT_MEMORY, "%s", out->reason);
    }
    const struct cand *w = &best[0];
    snprintf(out->model, sizeof out->model, "%s", w->e.id);
    out->resident = w->resident;
    size_t n_top = SLM_MIN(n_fit, SLM_ARRAY_LEN(best));
    for (size_t i = 1; i < n_top; i++)
        snprintf(out->fallbacks[out->n_fallbacks++], SLM_ID_MAX, "%s", best[i].e.id);
    human(slm_catalog_entry_footprint(&w->e), need, sizeof need);
    char match[64];
    if (w->distance == 0)
        snprintf(match, sizeof match, "exact complexity match");
    else
        snprintf(match, sizeof match, "nearest complexity (%s; no fitting %s model)",
                 slm_complexity_name(w->e.tier), slm_complexity_name(want));
    snprintf(out->reason, sizeof out->reason,
             "%s task of %s complexity (%s); %s: %s, %s, %.1fM parameters, needs %s (%s free or "
             "freeable); %zu fallback%s",
             cap, slm_complexity_name(want), why_tier, w->e.id, match,
             w->resident ? "already resident" : "not resident", (double)w->e.n_params / 1e6, need,
             lim, out->n_fallbacks, out->n_fallbacks == 1 ? "" : "s");
    return SLM_OK;
}

slm_status slm_manager_acquire_selected(slm_manager *m, const struct slm_selection *sel,
                                        const struct slm_acquire_params *p, slm_lease **out,
                                        char *used) {
    *out = NULL;
    if (used) used[0] = '\0';
    slm_status st = slm__error(SLM_E_NOT_FOUND, "selection names no model");
    for (size_t i = 0; i <= sel->n_fallbacks; i++) {
        const char *id = i == 0 ? sel->model : sel->fallbacks[i - 1];
        if (!id[0]) continue;
        st = slm_manager_acquire(m, id, p, out);
        if (st == SLM_OK) {
            if (used) snprintf(used, SLM_ID_MAX, "%s", id);
            return SLM_OK;
        }
        SLM_LOG_W("event=fallback model=%s status=%s", id, slm_status_name(st));
    }
    return st;
}
