/* Tests of the residency cache and the loader with a fake backend and a fake clock: eviction
 * order, leases, pins, keep-alive, single-flight, the load pool, retries and their timing, the
 * transient/permanent split, timeout, cancellation, the wait queue and its deadline, the budget
 * and system-reserve invariants, stats, health and the JSON status. No test sleeps for time it
 * asserts on: time moves only when a test advances the fake clock and ticks. */
// ctest-labels: tsan
#include "testutil.h"

#include "fake_backend.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define S SLM_NS_PER_SEC

struct env {
    struct fake_clock clk;
    struct fake_backend fb;
    slm_catalog *cat;
    slm_manager *m;
    atomic_uint_fast64_t sys_avail;
    struct slm_manager_params p;
};

static uint64_t env_avail(void *ctx) {
    return atomic_load(&((struct env *)ctx)->sys_avail);
}

/* Defaults for tests: no housekeeping thread, fake clock, plenty of system memory. */
static struct env *env_new(uint64_t budget, int max_models) {
    struct env *v = calloc(1, sizeof *v);
    atomic_init(&v->clk.now, 1000 * S);
    atomic_init(&v->sys_avail, 1ull << 40);
    fake_backend_init(&v->fb, &v->clk);
    TU_ASSERT_OK(slm_catalog_create(&v->cat));
    v->p = slm_manager_default_params();
    v->p.memory_budget = budget;
    v->p.max_models = max_models;
    v->p.tick_interval_ns = 0;
    v->p.clock = fake_clock_as_clock(&v->clk);
    v->p.memory = (struct slm_memory_source){.available = env_avail, .ctx = v};
    v->p.system_reserve = 0;
    return v;
}

/* Adds a model to the catalog and the fake backend. */
static void env_model(struct env *v, const char *id, uint64_t footprint, uint64_t load_ns) {
    struct slm_catalog_entry e = fake_entry(id, footprint, SLM_CAP_CHAT, SLM_COMPLEXITY_LOW, 1000);
    TU_ASSERT_OK(slm_catalog_add(v->cat, &e));
    struct fake_model fm = {.load_ns = load_ns};
    snprintf(fm.id, sizeof fm.id, "%s", id);
    fake_backend_add(&v->fb, &fm);
}

static struct fake_model *env_fake(struct env *v, const char *id) {
    return &v->fb.models[fake_backend_index(&v->fb, id)];
}

static void env_start(struct env *v) {
    struct slm_backend be = fake_backend_as_backend(&v->fb);
    TU_ASSERT_OK(slm_manager_create(v->cat, &be, &v->p, &v->m));
}

static void env_free(struct env *v) {
    slm_manager_free(v->m);
    assert_int_equal(atomic_load(&v->fb.live), 0);
    assert_int_equal(atomic_load(&v->fb.leased_unloads), 0);
    slm_catalog_free(v->cat);
    fake_backend_destroy(&v->fb);
    free(v);
}

static void advance(struct env *v, uint64_t ns) {
    fake_clock_advance(&v->clk, ns);
    slm_manager_tick(v->m);
}

static struct slm_model_status mstatus(struct env *v, const char *id) {
    struct slm_model_status s;
    TU_ASSERT_OK(slm_manager_model_status(v->m, id, &s));
    return s;
}

static bool is_loaded(struct env *v, const char *id) {
    return mstatus(v, id).state == SLM_MODEL_LOADED;
}

static slm_lease *acquire(struct env *v, const char *id) {
    slm_lease *l = NULL;
    TU_ASSERT_OK(slm_manager_acquire(v->m, id, NULL, &l));
    return l;
}

/* Acquire + release with the model's own keep-alive. */
static void touch(struct env *v, const char *id) {
    slm_manager_release(v->m, acquire(v, id));
}

/* An acquire on its own thread. */
struct bg {
    struct env *v;
    const char *id;
    struct slm_acquire_params p;
    slm_status st;
    slm_lease *lease;
    pthread_t t;
    atomic_bool done;
};

static void *bg_main(void *arg) {
    struct bg *b = arg;
    b->st = slm_manager_acquire(b->v->m, b->id, &b->p, &b->lease);
    atomic_store(&b->done, true);
    return NULL;
}

static void bg_start(struct bg *b, struct env *v, const char *id, uint64_t wait_ns) {
    memset(b, 0, sizeof *b);
    b->v = v;
    b->id = id;
    b->p = slm_acquire_default_params();
    b->p.deadline_ns = fake_clock_now(&v->clk) + wait_ns;
    assert_int_equal(pthread_create(&b->t, NULL, bg_main, b), 0);
}

static slm_status bg_join(struct bg *b) {
    pthread_join(b->t, NULL);
    return b->st;
}

/* Predicates for fake_wait_until. */
struct probe {
    struct env *v;
    const char *id;
    int n;
};
static bool p_loads(void *a) {
    struct probe *p = a;
    return atomic_load(&p->v->fb.load_calls[fake_backend_index(&p->v->fb, p->id)]) >= p->n;
}
static bool p_waiters(void *a) {
    struct probe *p = a;
    return mstatus(p->v, p->id).waiters >= p->n;
}
static bool p_queue(void *a) {
    struct probe *p = a;
    struct slm_manager_status s;
    slm_manager_status(p->v->m, &s);
    return s.queue_length >= p->n;
}
static bool p_in_flight(void *a) {
    struct probe *p = a;
    return atomic_load(&p->v->fb.in_flight) == p->n;
}
static bool p_started(void *a) {
    struct probe *p = a;
    return atomic_load(&p->v->fb.loads_total) >= p->n;
}
static bool p_retry_scheduled(void *a) {
    struct probe *p = a;
    struct slm_model_status s = mstatus(p->v, p->id);
    return s.retry_at_ns != 0 && s.attempt >= p->n;
}
static bool p_bg_done(void *a) {
    return atomic_load(&((struct bg *)a)->done);
}
static bool p_unload_held(void *a) {
    struct probe *p = a;
    return atomic_load(&p->v->fb.unloads_held) >= p->n;
}
static bool p_used_is(void *a) {
    struct probe *p = a;
    struct slm_manager_status s;
    slm_manager_status(p->v->m, &s);
    return s.memory_used == (uint64_t)p->n;
}
static bool p_used_zero(void *a) {
    struct probe *p = a;
    struct slm_manager_status s;
    slm_manager_status(p->v->m, &s);
    return s.memory_used == 0;
}

static void wait_loads(struct env *v, const char *id, int n) {
    struct probe p = {v, id, n};
    fake_wait_until(p_loads, &p, "load calls");
}
static void wait_queue(struct env *v, int n) {
    struct probe p = {v, NULL, n};
    fake_wait_until(p_queue, &p, "queue length");
}

/* ---- tests -------------------------------------------------------------------------------- */

static void lru_eviction_order(void **state) {
    (void)state;
    struct env *v = env_new(300, 3);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_model(v, "c", 100, 0);
    env_model(v, "d", 100, 0);
    env_model(v, "e", 200, 0);
    env_start(v);
    touch(v, "a");
    touch(v, "b");
    touch(v, "c");
    touch(v, "a"); /* LRU order now: b, c, a */
    touch(v, "d"); /* evicts b */
    assert_false(is_loaded(v, "b"));
    assert_true(is_loaded(v, "a") && is_loaded(v, "c") && is_loaded(v, "d"));
    assert_int_equal(mstatus(v, "b").stats.evictions, 1);
    touch(v, "e"); /* needs 200: evicts c, then a; d (most recent) stays */
    assert_false(is_loaded(v, "c"));
    assert_false(is_loaded(v, "a"));
    assert_true(is_loaded(v, "d") && is_loaded(v, "e"));
    struct slm_manager_status s;
    slm_manager_status(v->m, &s);
    assert_int_equal(s.memory_used, 300);
    assert_int_equal(s.models_resident, 2);
    env_free(v);
}

static void max_models_evicts(void **state) {
    (void)state;
    struct env *v = env_new(1000, 2);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 10, 0);
    env_model(v, "b", 10, 0);
    env_model(v, "c", 10, 0);
    env_start(v);
    touch(v, "a");
    touch(v, "b");
    touch(v, "c"); /* the budget has room, the model count does not */
    assert_false(is_loaded(v, "a"));
    assert_true(is_loaded(v, "b") && is_loaded(v, "c"));
    env_free(v);
}

static void lease_protects_and_queue_deadline(void **state) {
    (void)state;
    struct env *v = env_new(200, 3);
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_model(v, "c", 100, 0);
    env_start(v);
    slm_lease *la = acquire(v, "a"), *lb = acquire(v, "b");
    struct bg c;
    bg_start(&c, v, "c", 5 * S);
    wait_queue(v, 1);
    assert_true(mstatus(v, "c").queued);
    advance(v, 4 * S); /* not yet the deadline */
    assert_true(is_loaded(v, "a") && is_loaded(v, "b"));
    assert_int_equal(mstatus(v, "c").waiters, 1);
    advance(v, 1 * S);
    assert_int_equal(bg_join(&c), SLM_E_BUSY);
    assert_null(c.lease);
    assert_true(is_loaded(v, "a") && is_loaded(v, "b"));
    assert_false(mstatus(v, "c").queued);
    assert_int_equal(mstatus(v, "c").stats.rejected, 1);
    struct slm_manager_status s;
    slm_manager_status(v->m, &s);
    assert_int_equal(s.queue_length, 0);
    /* Releasing a lease lets a waiter in: it evicts the released model. */
    bg_start(&c, v, "c", 5 * S);
    wait_queue(v, 1);
    slm_manager_release(v->m, la);
    assert_int_equal(bg_join(&c), SLM_OK);
    assert_false(is_loaded(v, "a"));
    assert_true(is_loaded(v, "b"));
    slm_manager_release(v->m, c.lease);
    slm_manager_release(v->m, lb);
    env_free(v);
}

static void queue_bound(void **state) {
    (void)state;
    struct env *v = env_new(100, 3);
    v->p.max_queue = 1;
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_model(v, "c", 100, 0);
    env_start(v);
    slm_lease *la = acquire(v, "a");
    struct bg b;
    bg_start(&b, v, "b", 10 * S);
    wait_queue(v, 1);
    slm_lease *l = NULL;
    assert_int_equal(slm_manager_acquire(v->m, "c", NULL, &l), SLM_E_BUSY);
    assert_non_null(strstr(slm_error_detail(), "queue is full"));
    assert_null(l);
    advance(v, 10 * S);
    assert_int_equal(bg_join(&b), SLM_E_BUSY);
    slm_manager_release(v->m, la);
    env_free(v);
}

static void pin_blocks_eviction(void **state) {
    (void)state;
    struct env *v = env_new(200, 3);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_model(v, "c", 100, 0);
    env_model(v, "d", 100, 0);
    env_start(v);
    TU_ASSERT_OK(slm_manager_pin(v->m, "a", true));
    touch(v, "a");
    touch(v, "b");
    touch(v, "c"); /* a is least recently used but pinned: b goes */
    assert_true(is_loaded(v, "a"));
    assert_false(is_loaded(v, "b"));
    slm_lease *lc = acquire(v, "c");
    struct bg d;
    bg_start(&d, v, "d", 2 * S); /* a pinned, c leased: nothing to evict */
    wait_queue(v, 1);
    advance(v, 2 * S);
    assert_int_equal(bg_join(&d), SLM_E_BUSY);
    /* Unpinning makes a evictable again. */
    TU_ASSERT_OK(slm_manager_pin(v->m, "a", false));
    touch(v, "d");
    assert_false(is_loaded(v, "a"));
    /* A pinned model goes only by explicit unload. */
    TU_ASSERT_OK(slm_manager_pin(v->m, "d", true));
    TU_ASSERT_OK(slm_manager_unload(v->m, "d"));
    assert_false(is_loaded(v, "d"));
    assert_true(mstatus(v, "d").pinned);
    slm_manager_release(v->m, lc);
    env_free(v);
}

static void keep_alive_rules(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    v->p.keep_alive_ns = 300 * S; /* manager default, 5 min */
    env_model(v, "dflt", 100, 0);
    env_model(v, "zero", 100, 0);
    env_model(v, "never", 100, 0);
    struct slm_catalog_entry e;
    TU_ASSERT_OK(slm_catalog_find(v->cat, "zero", &e));
    e.keep_alive_ns = 0;
    TU_ASSERT_OK(slm_catalog_update(v->cat, &e));
    TU_ASSERT_OK(slm_catalog_find(v->cat, "never", &e));
    e.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    TU_ASSERT_OK(slm_catalog_update(v->cat, &e));
    env_start(v);

    touch(v, "zero");
    assert_false(is_loaded(v, "zero")); /* 0: right after use */
    assert_int_equal(mstatus(v, "zero").stats.idle_unloads, 1);

    touch(v, "dflt");
    touch(v, "never");
    advance(v, 300 * S - 1);
    assert_true(is_loaded(v, "dflt"));
    assert_int_equal(mstatus(v, "dflt").idle_ns, 300 * S - 1);
    advance(v, 1);
    assert_false(is_loaded(v, "dflt"));
    advance(v, 86400 * S);
    assert_true(is_loaded(v, "never")); /* -1: never */

    /* Per request: overrides the model's value, either way. */
    slm_lease *l = NULL;
    struct slm_acquire_params p = slm_acquire_default_params();
    p.keep_alive_ns = 10 * S;
    TU_ASSERT_OK(slm_manager_acquire(v->m, "never", &p, &l));
    slm_manager_release(v->m, l);
    advance(v, 10 * S - 1);
    assert_true(is_loaded(v, "never"));
    advance(v, 1);
    assert_false(is_loaded(v, "never"));
    p.keep_alive_ns = 0;
    TU_ASSERT_OK(slm_manager_acquire(v->m, "dflt", &p, &l));
    slm_manager_release(v->m, l);
    assert_false(is_loaded(v, "dflt"));
    p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    TU_ASSERT_OK(slm_manager_acquire(v->m, "zero", &p, &l));
    slm_manager_release(v->m, l);
    advance(v, 86400 * S);
    assert_true(is_loaded(v, "zero"));
    /* A leased model is not idle, whatever its keep-alive. */
    p.keep_alive_ns = 1;
    TU_ASSERT_OK(slm_manager_acquire(v->m, "zero", &p, &l));
    advance(v, 3600 * S);
    assert_true(is_loaded(v, "zero"));
    slm_manager_release(v->m, l);
    advance(v, 1);
    assert_false(is_loaded(v, "zero"));
    /* A pinned model stays even with keep-alive 0. */
    TU_ASSERT_OK(slm_manager_pin(v->m, "zero", true));
    p.keep_alive_ns = 0;
    TU_ASSERT_OK(slm_manager_acquire(v->m, "zero", &p, &l));
    slm_manager_release(v->m, l);
    assert_true(is_loaded(v, "zero"));
    env_free(v);
}

#define N_FLIGHT 100

static void single_flight(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    env_model(v, "a", 100, 1 * S);
    env_start(v);
    struct bg *b = calloc(N_FLIGHT, sizeof *b);
    for (int i = 0; i < N_FLIGHT; i++) bg_start(&b[i], v, "a", 30 * S);
    struct probe pr = {v, "a", N_FLIGHT};
    fake_wait_until(p_waiters, &pr, "100 waiters");
    wait_loads(v, "a", 1);
    struct slm_model_status s = mstatus(v, "a");
    assert_int_equal(s.state, SLM_MODEL_LOADING);
    assert_int_equal(s.progress_total, 100);
    assert_int_equal(s.resident_bytes, 100); /* reserved while loading */
    advance(v, 1 * S);
    for (int i = 0; i < N_FLIGHT; i++) assert_int_equal(bg_join(&b[i]), SLM_OK);
    assert_int_equal(atomic_load(&v->fb.loads_total), 1);
    s = mstatus(v, "a");
    assert_int_equal(s.leases, N_FLIGHT);
    assert_int_equal(s.stats.loads, 1);
    assert_int_equal(s.stats.requests, N_FLIGHT);
    assert_int_equal(s.stats.last_load_ns, 1 * S);
    void *h0 = slm_lease_handle(b[0].lease);
    for (int i = 0; i < N_FLIGHT; i++) {
        assert_ptr_equal(slm_lease_handle(b[i].lease), h0);
        assert_string_equal(slm_lease_model(b[i].lease), "a");
        slm_manager_release(v->m, b[i].lease);
    }
    free(b);
    env_free(v);
}

static void load_pool_limit(void **state) {
    (void)state;
    struct env *v = env_new(1000, 4);
    v->p.max_concurrent_loads = 2;
    const char *ids[4] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) env_model(v, ids[i], 100, 1 * S);
    env_start(v);
    struct bg b[4];
    for (int i = 0; i < 4; i++) bg_start(&b[i], v, ids[i], 30 * S);
    struct probe two = {v, NULL, 2};
    fake_wait_until(p_in_flight, &two, "two loads in flight");
    for (int i = 0; i < 4; i++) {
        struct probe w = {v, ids[i], 1};
        fake_wait_until(p_waiters, &w, "waiter");
    }
    /* Each second two loads finish and the next two start (on the same two loader threads). */
    for (int round = 1; round <= 2; round++) {
        struct probe started = {v, NULL, 2 * round};
        fake_wait_until(p_started, &started, "next two loads started");
        fake_wait_until(p_in_flight, &two, "two loads in flight");
        advance(v, 1 * S);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(bg_join(&b[i]), SLM_OK);
        slm_manager_release(v->m, b[i].lease);
    }
    assert_int_equal(atomic_load(&v->fb.max_in_flight), 2);
    assert_int_equal(atomic_load(&v->fb.loads_total), 4);
    env_free(v);
}

static void retry_timing_and_backoff(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    env_model(v, "a", 100, 0);
    struct fake_model *fm = env_fake(v, "a");
    fm->script[0] = SLM_E_IO;
    fm->script[1] = SLM_E_IO;
    fm->n_script = 2;
    env_start(v);
    uint64_t t0 = fake_clock_now(&v->clk);
    struct bg b;
    bg_start(&b, v, "a", 60 * S);
    struct probe pr = {v, "a", 1};
    fake_wait_until(p_retry_scheduled, &pr, "first retry scheduled");
    struct slm_model_status s = mstatus(v, "a");
    assert_int_equal(s.health, SLM_HEALTH_DEGRADED);
    assert_int_equal(s.state, SLM_MODEL_LOADING);
    assert_int_equal(s.last_error, SLM_E_IO);
    uint64_t d1 = s.retry_at_ns - t0;
    assert_true(d1 >= 2 * S && d1 < 3 * S); /* base 2 s plus jitter below half */
    advance(v, d1 - 1);
    assert_int_equal(atomic_load(&v->fb.loads_total), 1); /* not before its time */
    advance(v, 1);
    pr.n = 2;
    fake_wait_until(p_retry_scheduled, &pr, "second retry scheduled");
    s = mstatus(v, "a");
    uint64_t d2 = s.retry_at_ns - (t0 + d1);
    assert_true(d2 >= 4 * S && d2 < 6 * S); /* doubled */
    advance(v, d2);
    assert_int_equal(bg_join(&b), SLM_OK);
    assert_int_equal(atomic_load(&v->fb.loads_total), 3);
    s = mstatus(v, "a");
    assert_int_equal(s.stats.loads, 1);
    assert_int_equal(s.stats.load_failures, 2);
    assert_int_equal(s.health, SLM_HEALTH_DEGRADED); /* failures are recent */
    slm_manager_release(v->m, b.lease);
    advance(v, v->p.health_window_ns);
    assert_int_equal(mstatus(v, "a").health, SLM_HEALTH_HEALTHY);
    env_free(v);
}

static void retries_exhausted(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    v->p.max_retries = 3;
    env_model(v, "a", 100, 0);
    struct fake_model *fm = env_fake(v, "a");
    for (int i = 0; i < 5; i++) fm->script[i] = SLM_E_IO;
    fm->n_script = 5;
    env_start(v);
    struct bg b;
    bg_start(&b, v, "a", 600 * S);
    for (int k = 1; k <= 3; k++) {
        struct probe pr = {v, "a", k};
        fake_wait_until(p_retry_scheduled, &pr, "retry scheduled");
        advance(v, mstatus(v, "a").retry_at_ns - fake_clock_now(&v->clk));
    }
    assert_int_equal(bg_join(&b), SLM_E_IO);
    assert_int_equal(atomic_load(&v->fb.loads_total), 4); /* 1 + 3 retries */
    struct slm_model_status s = mstatus(v, "a");
    assert_int_equal(s.state, SLM_MODEL_FAILED);
    assert_int_equal(s.health, SLM_HEALTH_DEGRADED); /* transient: not unavailable */
    assert_int_equal(s.stats.load_failures, 4);
    assert_int_equal(s.resident_bytes, 0);
    env_free(v);
}

static void permanent_fails_at_once(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    env_model(v, "bad", 100, 0);
    env_model(v, "arch", 100, 0);
    env_fake(v, "bad")->script[0] = SLM_E_INVALID_MODEL;
    env_fake(v, "bad")->n_script = 1;
    env_fake(v, "arch")->script[0] = SLM_E_UNSUPPORTED;
    env_fake(v, "arch")->n_script = 1;
    env_start(v);
    slm_lease *l = NULL;
    assert_int_equal(slm_manager_acquire(v->m, "bad", NULL, &l), SLM_E_INVALID_MODEL);
    assert_non_null(strstr(slm_error_detail(), "attempt 1 of bad"));
    assert_int_equal(slm_manager_acquire(v->m, "arch", NULL, &l), SLM_E_UNSUPPORTED);
    assert_int_equal(atomic_load(&v->fb.loads_total), 2);
    struct slm_model_status s = mstatus(v, "bad");
    assert_int_equal(s.state, SLM_MODEL_FAILED);
    assert_int_equal(s.health, SLM_HEALTH_UNAVAILABLE);
    assert_int_equal(s.last_error, SLM_E_INVALID_MODEL);
    assert_int_equal(slm_manager_acquire(v->m, "nope", NULL, &l), SLM_E_NOT_FOUND);
    struct slm_manager_status g;
    slm_manager_status(v->m, &g);
    assert_int_equal(g.memory_used, 0);
    /* A later acquire tries again (the file may have been fixed): it now loads. */
    env_fake(v, "bad")->n_script = 0;
    l = acquire(v, "bad");
    s = mstatus(v, "bad");
    assert_int_equal(s.state, SLM_MODEL_LOADED);
    assert_int_equal(s.health, SLM_HEALTH_DEGRADED); /* the failure is still recent */
    slm_manager_release(v->m, l);
    env_free(v);
}

static void load_timeout(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    v->p.load_timeout_ns = 60 * S;
    env_model(v, "slow", 100, 120 * S);
    env_start(v);
    struct bg b;
    bg_start(&b, v, "slow", 600 * S);
    wait_loads(v, "slow", 1);
    advance(v, 60 * S - 1);
    assert_int_equal(mstatus(v, "slow").state, SLM_MODEL_LOADING);
    advance(v, 1);
    assert_int_equal(bg_join(&b), SLM_E_TIMEOUT);
    struct probe pr = {v, NULL, 0};
    fake_wait_until(p_used_zero, &pr, "reservation returned");
    struct slm_model_status s = mstatus(v, "slow");
    assert_int_equal(s.state, SLM_MODEL_FAILED);
    assert_int_equal(s.last_error, SLM_E_TIMEOUT);
    assert_int_equal(s.stats.load_failures, 1);
    assert_int_equal(atomic_load(&v->fb.loads_total), 1); /* timeouts are not retried */
    env_free(v);
}

static void cancellation(void **state) {
    (void)state;
    struct env *v = env_new(100, 3);
    env_model(v, "a", 100, 10 * S);
    env_model(v, "b", 100, 0);
    env_model(v, "stubborn", 100, 10 * S);
    env_fake(v, "stubborn")->ignore_cancel = true;
    env_start(v);
    /* A running load. */
    struct bg b;
    bg_start(&b, v, "a", 600 * S);
    wait_loads(v, "a", 1);
    assert_int_equal(slm_manager_cancel(v->m, "b"), SLM_E_INVALID_ARG); /* nothing in flight */
    TU_ASSERT_OK(slm_manager_cancel(v->m, "a"));
    assert_int_equal(bg_join(&b), SLM_E_CANCELLED);
    struct probe pr = {v, NULL, 0};
    fake_wait_until(p_used_zero, &pr, "reservation returned");
    assert_int_equal(mstatus(v, "a").stats.load_failures, 0);
    assert_int_equal(mstatus(v, "a").health, SLM_HEALTH_HEALTHY);
    /* A queued one. */
    slm_lease *lb = acquire(v, "b");
    bg_start(&b, v, "a", 600 * S);
    wait_queue(v, 1);
    TU_ASSERT_OK(slm_manager_cancel(v->m, "a"));
    assert_int_equal(bg_join(&b), SLM_E_CANCELLED);
    struct slm_manager_status g;
    slm_manager_status(v->m, &g);
    assert_int_equal(g.queue_length, 0);
    slm_manager_release(v->m, lb);
    TU_ASSERT_OK(slm_manager_unload(v->m, "b"));
    /* A backend that ignores cancellation: its handle is unloaded when it returns, and the
     * memory stays accounted until then. */
    bg_start(&b, v, "stubborn", 600 * S);
    wait_loads(v, "stubborn", 1);
    TU_ASSERT_OK(slm_manager_cancel(v->m, "stubborn"));
    assert_int_equal(bg_join(&b), SLM_E_CANCELLED);
    slm_manager_status(v->m, &g);
    assert_int_equal(g.memory_used, 100);
    advance(v, 10 * S);
    fake_wait_until(p_used_zero, &pr, "reservation returned");
    assert_int_equal(atomic_load(&v->fb.unloads), 2); /* b, and stubborn's late handle */
    env_free(v);
}

static void budget_and_measured_footprint(void **state) {
    (void)state;
    struct env *v = env_new(200, 3);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "huge", 201, 0);
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_fake(v, "a")->measured = 150; /* the estimate was low */
    env_fake(v, "b")->measured = 60;  /* the estimate was high */
    env_start(v);
    slm_lease *l = NULL;
    assert_int_equal(slm_manager_acquire(v->m, "huge", NULL, &l), SLM_E_INSUFFICIENT_MEMORY);
    slm_lease *lb = acquire(v, "b");
    struct slm_manager_status g;
    slm_manager_status(v->m, &g);
    assert_int_equal(g.memory_used, 60); /* measured replaces the estimate */
    struct slm_catalog_entry e;
    TU_ASSERT_OK(slm_catalog_find(v->cat, "b", &e));
    assert_int_equal(e.footprint_measured, 60);
    assert_int_equal(slm_catalog_entry_footprint(&e), 60);
    /* a: admitted on its estimate (100 + 60 <= 200), measured 150 does not fit beside the
     * leased b, so it is unloaded and fails rather than break the budget. Its bytes are
     * counted until the loader thread has given the handle back. */
    assert_int_equal(slm_manager_acquire(v->m, "a", NULL, &l), SLM_E_INSUFFICIENT_MEMORY);
    struct probe pr = {v, NULL, 60};
    fake_wait_until(p_used_is, &pr, "a's handle given back");
    TU_ASSERT_OK(slm_catalog_find(v->cat, "a", &e));
    assert_int_equal(e.footprint_measured, 150);
    /* With b released, a fits by evicting b. */
    slm_manager_release(v->m, lb);
    l = acquire(v, "a");
    slm_manager_status(v->m, &g);
    assert_int_equal(g.memory_used, 150);
    assert_false(is_loaded(v, "b"));
    struct slm_model_status s = mstatus(v, "a");
    assert_int_equal(s.footprint_measured, 150);
    assert_int_equal(s.footprint_estimate, 100); /* both are reported */
    slm_manager_release(v->m, l);
    env_free(v);
}

static void system_reserve(void **state) {
    (void)state;
    struct env *v = env_new(10000, 3);
    v->p.system_reserve = 100;
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 150, 0);
    env_model(v, "c", 100, 0);
    env_start(v);
    atomic_store(&v->sys_avail, 300);
    touch(v, "c");                    /* 100 + reserve 100 <= 300 */
    atomic_store(&v->sys_avail, 200); /* c's memory is now in use */
    /* a: 150 + 100 > 200, but evicting c frees 100: it makes room first. */
    slm_lease *l = acquire(v, "a");
    assert_false(is_loaded(v, "c"));
    slm_manager_release(v->m, l);
    /* With nothing to evict, the load waits and ends BUSY instead of eating the reserve. */
    atomic_store(&v->sys_avail, 120);
    l = acquire(v, "a"); /* resident: no new memory needed */
    struct bg b;
    bg_start(&b, v, "c", 3 * S);
    wait_queue(v, 1);
    advance(v, 3 * S);
    assert_int_equal(bg_join(&b), SLM_E_BUSY);
    slm_manager_release(v->m, l);
    env_free(v);
}

static void unload_rules(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 100, 0);
    env_start(v);
    slm_lease *l = acquire(v, "a");
    assert_int_equal(slm_manager_unload(v->m, "a"), SLM_E_BUSY);
    assert_true(is_loaded(v, "a"));
    slm_manager_release(v->m, l);
    TU_ASSERT_OK(slm_manager_unload(v->m, "a"));
    assert_false(is_loaded(v, "a"));
    assert_int_equal(mstatus(v, "a").stats.evictions, 0);
    TU_ASSERT_OK(slm_manager_unload(v->m, "a")); /* not resident: nothing to do */
    assert_int_equal(slm_manager_unload(v->m, "zzz"), SLM_E_NOT_FOUND);
    assert_int_equal(slm_manager_pin(v->m, "zzz", true), SLM_E_NOT_FOUND);
    env_free(v);
}

static void stats_health_json(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    env_model(v, "a", 100, 2 * S);
    struct slm_catalog_entry e = fake_entry("gone", 100, SLM_CAP_CHAT, SLM_COMPLEXITY_LOW, 1);
    snprintf(e.local_path, sizeof e.local_path, "/nonexistent/gone.gguf");
    TU_ASSERT_OK(slm_catalog_add(v->cat, &e));
    env_start(v);
    struct bg b;
    bg_start(&b, v, "a", 60 * S);
    wait_loads(v, "a", 1);
    advance(v, 2 * S);
    assert_int_equal(bg_join(&b), SLM_OK);
    slm_manager_record_usage(v->m, "a", 10, 50, 2 * S);
    slm_manager_record_cache(v->m, "a", 3, 1);
    struct slm_model_status s = mstatus(v, "a");
    assert_int_equal(s.stats.tokens_in, 10);
    assert_int_equal(s.stats.tokens_out, 50);
    assert_true(s.tokens_per_s > 24.9 && s.tokens_per_s < 25.1);
    assert_int_equal(s.stats.load_ns_total, 2 * S);
    assert_int_equal(mstatus(v, "gone").health, SLM_HEALTH_UNAVAILABLE);
    struct slm_manager_status g;
    slm_manager_status(v->m, &g);
    assert_true(g.cache_hit_rate > 0.74 && g.cache_hit_rate < 0.76);
    assert_int_equal(g.models_resident, 1);
    char *json = NULL;
    TU_ASSERT_OK(slm_manager_status_json(v->m, &json));
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetObjectItem(doc, "memory_budget")->valuedouble, 1000);
    assert_int_equal(cJSON_GetObjectItem(doc, "memory_used")->valuedouble, 100);
    cJSON *models = cJSON_GetObjectItem(doc, "models");
    assert_int_equal(cJSON_GetArraySize(models), 2);
    cJSON *a = cJSON_GetArrayItem(models, 0);
    assert_string_equal(cJSON_GetObjectItem(a, "id")->valuestring, "a");
    assert_string_equal(cJSON_GetObjectItem(a, "state")->valuestring, "loaded");
    assert_string_equal(cJSON_GetObjectItem(a, "health")->valuestring, "healthy");
    assert_int_equal(cJSON_GetObjectItem(a, "leases")->valueint, 1);
    cJSON *st = cJSON_GetObjectItem(a, "stats");
    assert_int_equal(cJSON_GetObjectItem(st, "loads")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(st, "tokens_out")->valueint, 50);
    cJSON *gone = cJSON_GetArrayItem(models, 1);
    assert_string_equal(cJSON_GetObjectItem(gone, "health")->valuestring, "unavailable");
    cJSON_Delete(doc);
    slm_free(json);
    slm_manager_release(v->m, b.lease);
    env_free(v);
}

static void fallback_chain(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    env_model(v, "broken", 100, 0);
    env_model(v, "good", 100, 0);
    env_fake(v, "broken")->script[0] = SLM_E_INVALID_MODEL;
    env_fake(v, "broken")->n_script = 1;
    env_start(v);
    struct slm_selection sel = {.model = "broken", .n_fallbacks = 1, .fallbacks = {"good"}};
    slm_lease *l = NULL;
    char used[SLM_ID_MAX];
    TU_ASSERT_OK(slm_manager_acquire_selected(v->m, &sel, NULL, &l, used));
    assert_string_equal(used, "good");
    assert_string_equal(slm_lease_model(l), "good");
    slm_manager_release(v->m, l);
    sel.n_fallbacks = 0;
    assert_int_equal(slm_manager_acquire_selected(v->m, &sel, NULL, &l, used), SLM_E_INVALID_MODEL);
    assert_null(l);
    env_free(v);
}

static bool p_loading(void *a) {
    struct probe *p = a;
    return mstatus(p->v, p->id).state == SLM_MODEL_LOADING;
}
static bool p_downloading(void *a) {
    struct probe *p = a;
    return mstatus(p->v, p->id).state == SLM_MODEL_DOWNLOADING;
}

static void states_and_progress(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    env_model(v, "a", 100, 10 * S);
    env_fake(v, "a")->download = true;
    env_start(v);
    assert_int_equal(mstatus(v, "a").state, SLM_MODEL_NOT_LOADED);
    struct bg b;
    bg_start(&b, v, "a", 600 * S);
    struct probe pr = {v, "a", 0};
    fake_wait_until(p_downloading, &pr, "not-loaded -> downloading");
    assert_int_equal(mstatus(v, "a").progress_total, 1000);
    advance(v, 5 * S);
    fake_wait_until(p_loading, &pr, "downloading -> loading");
    advance(v, 5 * S);
    assert_int_equal(bg_join(&b), SLM_OK);
    assert_int_equal(mstatus(v, "a").state, SLM_MODEL_LOADED); /* loading -> loaded */
    slm_manager_release(v->m, b.lease);
    assert_string_equal(slm_model_state_name(SLM_MODEL_DOWNLOADING), "downloading");
    assert_string_equal(slm_model_health_name(SLM_HEALTH_DEGRADED), "degraded");
    env_free(v);
}

/* A request already past its deadline is refused without starting a load or evicting. */
static void past_deadline_starts_nothing(void **state) {
    (void)state;
    struct env *v = env_new(100, 3);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_start(v);
    touch(v, "a");
    struct slm_acquire_params ap = slm_acquire_default_params();
    ap.deadline_ns = fake_clock_now(&v->clk);
    slm_lease *l = NULL;
    assert_int_equal(slm_manager_acquire(v->m, "b", &ap, &l), SLM_E_BUSY);
    assert_int_equal(atomic_load(&v->fb.load_calls[fake_backend_index(&v->fb, "b")]), 0);
    assert_true(is_loaded(v, "a"));
    assert_int_equal(mstatus(v, "a").stats.evictions, 0);
    env_free(v);
}

/* The backend's estimate (a file read) is asked once per model source: a model loaded again
 * reuses it until its catalog entry changes. */
static void estimate_once_per_source(void **state) {
    (void)state;
    struct env *v = env_new(1000, 3);
    env_model(v, "a", 100, 0);
    env_fake(v, "a")->estimate = 120;
    env_start(v);
    touch(v, "a");
    TU_ASSERT_OK(slm_manager_unload(v->m, "a"));
    touch(v, "a");
    assert_int_equal(atomic_load(&v->fb.estimates), 1);
    assert_int_equal(mstatus(v, "a").footprint_estimate, 120);
    TU_ASSERT_OK(slm_manager_unload(v->m, "a"));
    struct slm_catalog_entry e;
    TU_ASSERT_OK(slm_catalog_find(v->cat, "a", &e));
    e.serve_context = 64;
    TU_ASSERT_OK(slm_catalog_update(v->cat, &e));
    touch(v, "a");
    assert_int_equal(atomic_load(&v->fb.estimates), 2);
    env_free(v);
}

/* An unload never fails a request that waits for the model: it is refused while requests wait
 * (for the load in flight, or for memory), and only a load nobody waits for any more is
 * cancelled by it. */
static void unload_spares_waiting_requests(void **state) {
    (void)state;
    struct env *v = env_new(100, 3);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 100, 10 * S);
    env_model(v, "b", 100, 0);
    env_start(v);
    /* The load in flight is finished and served. */
    struct bg b;
    bg_start(&b, v, "a", 600 * S);
    wait_loads(v, "a", 1);
    assert_int_equal(slm_manager_unload(v->m, "a"), SLM_E_BUSY);
    assert_int_equal(mstatus(v, "a").state, SLM_MODEL_LOADING);
    advance(v, 10 * S);
    assert_int_equal(bg_join(&b), SLM_OK);
    slm_manager_release(v->m, b.lease);
    TU_ASSERT_OK(slm_manager_unload(v->m, "a"));
    /* A request queued for memory keeps its place. */
    slm_lease *lb = acquire(v, "b");
    bg_start(&b, v, "a", 600 * S);
    wait_queue(v, 1);
    assert_int_equal(slm_manager_unload(v->m, "a"), SLM_E_BUSY);
    assert_true(mstatus(v, "a").queued);
    slm_manager_release(v->m, lb);
    wait_loads(v, "a", 2);
    advance(v, 10 * S);
    assert_int_equal(bg_join(&b), SLM_OK);
    slm_manager_release(v->m, b.lease);
    TU_ASSERT_OK(slm_manager_unload(v->m, "a"));
    /* Once its only request gave up at its deadline, the load is the unload's to cancel. */
    bg_start(&b, v, "a", 1 * S);
    wait_loads(v, "a", 3);
    advance(v, 1 * S);
    assert_int_equal(bg_join(&b), SLM_E_BUSY);
    TU_ASSERT_OK(slm_manager_unload(v->m, "a"));
    struct probe pr = {v, NULL, 0};
    fake_wait_until(p_used_zero, &pr, "cancelled load's reservation returned");
    assert_false(is_loaded(v, "a"));
    env_free(v);
}

struct unloader {
    struct env *v;
    slm_status st;
};
static void *unload_main(void *arg) {
    struct unloader *u = arg;
    u->st = slm_manager_unload(u->v->m, "a");
    return NULL;
}

/* The backend's unload runs without the manager's lock, and the model's memory stays counted
 * until it returns: other requests go on meanwhile, and a load that needs that memory starts
 * only after. */
static void unload_outside_the_lock(void **state) {
    (void)state;
    struct env *v = env_new(200, 3);
    v->p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_model(v, "c", 100, 0);
    env_start(v);
    touch(v, "a");
    slm_lease *lb = acquire(v, "b");
    atomic_store(&v->fb.unload_hold, true);
    struct unloader u = {v, SLM_E_INTERNAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, unload_main, &u), 0);
    struct probe pr = {v, NULL, 1};
    fake_wait_until(p_unload_held, &pr, "backend unload of a in progress");
    /* The manager is not blocked by it. */
    struct bg b;
    bg_start(&b, v, "b", 600 * S);
    fake_wait_until(p_bg_done, &b, "acquire of a resident model during an unload");
    TU_ASSERT_OK(bg_join(&b));
    slm_manager_release(v->m, b.lease);
    struct slm_manager_status g;
    slm_manager_status(v->m, &g);
    assert_int_equal(g.memory_used, 200);
    assert_int_equal(g.memory_releasing, 100);
    assert_false(is_loaded(v, "a"));
    /* c needs a's memory: it waits for the backend to free it. */
    bg_start(&b, v, "c", 600 * S);
    wait_queue(v, 1);
    assert_int_equal(atomic_load(&v->fb.load_calls[fake_backend_index(&v->fb, "c")]), 0);
    atomic_store(&v->fb.unload_hold, false);
    pthread_join(t, NULL);
    TU_ASSERT_OK(u.st);
    TU_ASSERT_OK(bg_join(&b));
    slm_manager_status(v->m, &g);
    assert_int_equal(g.memory_used, 200);
    assert_int_equal(g.memory_releasing, 0);
    slm_manager_release(v->m, b.lease);
    slm_manager_release(v->m, lb);
    env_free(v);
}

/* On the system clock a waiting request wakes at its deadline by itself: no housekeeping
 * thread runs here to wake it. */
static void deadline_without_ticks(void **state) {
    (void)state;
    struct env *v = env_new(100, 3);
    v->p.clock = slm_clock_system();
    env_model(v, "a", 100, 0);
    env_model(v, "b", 100, 0);
    env_start(v);
    slm_lease *la = acquire(v, "a");
    slm_clock clk = slm_clock_system();
    struct bg b;
    memset(&b, 0, sizeof b);
    b.v = v;
    b.id = "b";
    b.p = slm_acquire_default_params();
    b.p.deadline_ns = slm_clock_now(&clk) + 20 * SLM_NS_PER_MS;
    assert_int_equal(pthread_create(&b.t, NULL, bg_main, &b), 0);
    fake_wait_until(p_bg_done, &b, "the request's own deadline");
    assert_int_equal(bg_join(&b), SLM_E_BUSY);
    slm_manager_release(v->m, la);
    env_free(v);
}

static void housekeeping_thread(void **state) {
    (void)state;
    /* With the system clock and the housekeeping thread, idle unloads happen on their own. */
    struct env *v = env_new(1000, 3);
    v->p.clock = slm_clock_system();
    v->p.tick_interval_ns = 1 * SLM_NS_PER_MS;
    v->p.keep_alive_ns = 1;
    env_model(v, "a", 100, 0);
    env_start(v);
    touch(v, "a");
    struct probe pr = {v, NULL, 0};
    fake_wait_until(p_used_zero, &pr, "idle unload by the housekeeping thread");
    env_free(v);
}

int main(void) {
    slm_log_set_level(SLM_LOG_ERROR); /* the failures below are on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lru_eviction_order),
        cmocka_unit_test(max_models_evicts),
        cmocka_unit_test(lease_protects_and_queue_deadline),
        cmocka_unit_test(queue_bound),
        cmocka_unit_test(pin_blocks_eviction),
        cmocka_unit_test(keep_alive_rules),
        cmocka_unit_test(single_flight),
        cmocka_unit_test(load_pool_limit),
        cmocka_unit_test(retry_timing_and_backoff),
        cmocka_unit_test(retries_exhausted),
        cmocka_unit_test(permanent_fails_at_once),
        cmocka_unit_test(load_timeout),
        cmocka_unit_test(cancellation),
        cmocka_unit_test(budget_and_measured_footprint),
        cmocka_unit_test(system_reserve),
        cmocka_unit_test(unload_rules),
        cmocka_unit_test(stats_health_json),
        cmocka_unit_test(fallback_chain),
        cmocka_unit_test(states_and_progress),
        cmocka_unit_test(past_deadline_starts_nothing),
        cmocka_unit_test(estimate_once_per_source),
        cmocka_unit_test(unload_spares_waiting_requests),
        cmocka_unit_test(unload_outside_the_lock),
        cmocka_unit_test(deadline_without_ticks),
        cmocka_unit_test(housekeeping_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
