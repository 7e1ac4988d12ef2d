/* The fake backend and fake clock used by the manager's tests (see fake_backend.h). */
#include "fake_backend.h"

#include "core/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t fake_now(void *ctx) {
    return fake_clock_now(ctx);
}

slm_clock fake_clock_as_clock(struct fake_clock *c) {
    return (slm_clock){.now_ns = fake_now, .ctx = c};
}

void fake_backend_init(struct fake_backend *b, struct fake_clock *clock) {
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    b->clock = clock;
}

void fake_backend_destroy(struct fake_backend *b) {
    pthread_mutex_destroy(&b->mu);
}

int fake_backend_add(struct fake_backend *b, const struct fake_model *m) {
    assert_true(b->n_models < FAKE_MAX_MODELS);
    b->models[b->n_models] = *m;
    return b->n_models++;
}

int fake_backend_index(struct fake_backend *b, const char *id) {
    for (int i = 0; i < b->n_models; i++)
        if (!strcmp(b->models[i].id, id)) return i;
    return -1;
}

static slm_status fake_estimate(void *user, const struct slm_catalog_entry *e, uint64_t *bytes) {
    struct fake_backend *b = user;
    atomic_fetch_add(&b->estimates, 1);
    int i = fake_backend_index(b, e->id);
    if (i < 0 || !b->models[i].estimate) return SLM_E_NOT_FOUND;
    *bytes = b->models[i].estimate;
    return SLM_OK;
}

static slm_status fake_load(void *user, const struct slm_catalog_entry *e, slm_load_ctl *ctl,
                            void **handle, uint64_t *measured) {
    struct fake_backend *b = user;
    int i = fake_backend_index(b, e->id);
    if (i < 0) return slm__error(SLM_E_NOT_FOUND, "fake: no model %s", e->id);
    const struct fake_model *fm = &b->models[i];
    /* Read the start time before announcing the call: a test that sees the call counted and
     * advances the clock must advance it past this start. */
    uint64_t start = fake_clock_now(b->clock);
    atomic_fetch_add(&b->load_calls[i], 1);
    atomic_fetch_add(&b->loads_total, 1);
    int now_in = atomic_fetch_add(&b->in_flight, 1) + 1;
    int seen = atomic_load(&b->max_in_flight);
    while (now_in > seen && !atomic_compare_exchange_weak(&b->max_in_flight, &seen, now_in)) {
    }
    bool ok = true;
    if (fm->download) {
        slm_load_ctl_progress(ctl, SLM_MODEL_DOWNLOADING, 0, 1000);
        ok = slm_load_ctl_sleep_until(ctl, start + fm->load_ns / 2);
        slm_load_ctl_progress(ctl, SLM_MODEL_DOWNLOADING, 1000, 1000);
    }
    slm_load_ctl_progress(ctl, SLM_MODEL_LOADING, 0, 100);
    ok = ok && slm_load_ctl_sleep_until(ctl, start + fm->load_ns);
    while (!ok && fm->ignore_cancel && fake_clock_now(b->clock) < start + fm->load_ns) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    slm_status st = SLM_OK;
    int k = slm_load_ctl_attempt(ctl);
    if (!ok && !fm->ignore_cancel)
        st = slm__error(SLM_E_CANCELLED, "fake: cancelled");
    else if (k - 1 < fm->n_script)
        st = fm->script[k - 1];
    if (st != SLM_OK) {
        atomic_fetch_sub(&b->in_flight, 1);
        return slm__error(st, "fake: attempt %d of %s fails with %s", k, e->id,
                          slm_status_name(st));
    }
    struct fake_handle *h = malloc(sizeof *h);
    assert_non_null(h);
    h->model = i;
    atomic_init(&h->users, 0);
    atomic_fetch_add(&b->live, 1);
    slm_load_ctl_progress(ctl, SLM_MODEL_LOADING, 100, 100);
    *handle = h;
    *measured = fm->measured;
    atomic_fetch_sub(&b->in_flight, 1);
    return SLM_OK;
}

static void fake_unload(void *user, void *handle) {
    struct fake_backend *b = user;
    struct fake_handle *h = handle;
    if (atomic_load(&h->users) != 0) atomic_fetch_add(&b->leased_unloads, 1);
    if (atomic_load(&b->unload_hold)) {
        atomic_fetch_add(&b->unloads_held, 1);
        while (atomic_load(&b->unload_hold)) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        atomic_fetch_sub(&b->unloads_held, 1);
    }
    atomic_fetch_add(&b->unloads, 1);
    atomic_fetch_sub(&b->live, 1);
    free(h);
}

struct slm_backend fake_backend_as_backend(struct fake_backend *b) {
    return (struct slm_backend){
        .user = b, .estimate = fake_estimate, .load = fake_load, .unload = fake_unload};
}

struct slm_catalog_entry fake_entry(const char *id, uint64_t footprint, unsigned caps,
                                    slm_complexity tier, uint64_t n_params) {
    struct slm_catalog_entry e = slm_catalog_entry_init();
    snprintf(e.id, sizeof e.id, "%s", id);
    snprintf(e.architecture, sizeof e.architecture, "llama");
    e.footprint_estimate = footprint;
    e.capabilities = caps;
    e.tier = tier;
    e.n_params = n_params;
    return e;
}

void fake_wait_until(bool (*pred)(void *arg), void *arg, const char *what) {
    for (int i = 0; i < 60000; i++) {
        if (pred(arg)) return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("gave up waiting for: %s", what);
}
