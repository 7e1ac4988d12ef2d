/* The manager's status as JSON (the shape of GET /admin/status and `slm ps --json`). cJSON is
 * used for building only; the text handed out is copied into libslm's counted heap. */
#include "manager/internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void add_u64(cJSON *o, const char *k, uint64_t v) {
    cJSON_AddNumberToObject(o, k, (double)v);
}

static cJSON *model_json(const struct slm_model_status *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "state", slm_model_state_name(s->state));
    cJSON_AddStringToObject(o, "health", slm_model_health_name(s->health));
    cJSON_AddBoolToObject(o, "pinned", s->pinned);
    cJSON_AddBoolToObject(o, "queued", s->queued);
    cJSON_AddNumberToObject(o, "leases", s->leases);
    cJSON_AddNumberToObject(o, "waiters", s->waiters);
    if (s->attempt) cJSON_AddNumberToObject(o, "attempt", s->attempt);
    if (s->progress_total) {
        cJSON *p = cJSON_AddObjectToObject(o, "progress");
        add_u64(p, "done", s->progress_done);
        add_u64(p, "total", s->progress_total);
    }
    cJSON *fp = cJSON_AddObjectToObject(o, "footprint");
    add_u64(fp, "estimated", s->footprint_estimate);
    if (s->footprint_measured)
        add_u64(fp, "measured", s->footprint_measured);
    else
        cJSON_AddNullToObject(fp, "measured");
    add_u64(o, "resident_bytes", s->resident_bytes);
    if (s->last_use_ns)
        add_u64(o, "last_use_ns", s->last_use_ns);
    else
        cJSON_AddNullToObject(o, "last_use_ns");
    add_u64(o, "idle_ns", s->idle_ns);
    cJSON_AddNumberToObject(o, "keep_alive_ns", (double)s->keep_alive_ns);
    if (s->last_error != SLM_OK) {
        cJSON *e = cJSON_AddObjectToObject(o, "last_error");
        cJSON_AddStringToObject(e, "code", slm_status_name(s->last_error));
        cJSON_AddStringToObject(e, "message", s->last_error_detail);
    }
    cJSON *st = cJSON_AddObjectToObject(o, "stats");
    add_u64(st, "loads", s->stats.loads);
    add_u64(st, "load_failures", s->stats.load_failures);
    add_u64(st, "load_ns_total", s->stats.load_ns_total);
    add_u64(st, "last_load_ns", s->stats.last_load_ns);
    add_u64(st, "evictions", s->stats.evictions);
    add_u64(st, "idle_unloads", s->stats.idle_unloads);
    add_u64(st, "requests", s->stats.requests);
    add_u64(st, "rejected", s->stats.rejected);
    add_u64(st, "tokens_in", s->stats.tokens_in);
    add_u64(st, "tokens_out", s->stats.tokens_out);
    cJSON_AddNumberToObject(st, "tokens_per_s", s->tokens_per_s);
    add_u64(st, "cache_hits", s->stats.cache_hits);
    add_u64(st, "cache_misses", s->stats.cache_misses);
    return o;
}

slm_status slm_manager_status_json(slm_manager *m, char **out) {
    *out = NULL;
    struct slm_manager_status g;
    slm_manager_status(m, &g);
    size_t n = 0;
    slm_manager_models(m, NULL, 0, &n);
    struct slm_model_status *models = n ? slm__calloc(n, sizeof *models) : NULL;
    if (n && !models) return slm__error(SLM_E_NOMEM, "status: out of memory");
    size_t got = 0;
    slm_manager_models(m, models, n, &got);
    cJSON *o = cJSON_CreateObject();
    add_u64(o, "memory_budget", g.memory_budget);
    add_u64(o, "memory_used", g.memory_used);
    add_u64(o, "memory_releasing", g.memory_releasing);
    add_u64(o, "system_available", g.system_available);
    add_u64(o, "system_reserve", g.system_reserve);
    cJSON_AddNumberToObject(o, "models_resident", g.models_resident);
    cJSON_AddNumberToObject(o, "models_loading", g.models_loading);
    cJSON_AddNumberToObject(o, "max_models", g.max_models);
    cJSON_AddNumberToObject(o, "queue_length", g.queue_length);
    cJSON_AddNumberToObject(o, "max_queue", g.max_queue);
    cJSON *cache = cJSON_AddObjectToObject(o, "embedding_cache");
    add_u64(cache, "hits", g.cache_hits);
    add_u64(cache, "misses", g.cache_misses);
    cJSON_AddNumberToObject(cache, "hit_rate", g.cache_hit_rate);
    cJSON *arr = cJSON_AddArrayToObject(o, "models");
    /* Models seen after the count was taken are left for the next call. */
    for (size_t i = 0; i < SLM_MIN(n, got); i++) cJSON_AddItemToArray(arr, model_json(&models[i]));
    slm__free(models);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return slm__error(SLM_E_NOMEM, "status: out of memory");
    *out = slm__strdup(text);
    free(text);
    return *out ? SLM_OK : slm__error(SLM_E_NOMEM, "status: out of memory");
}
