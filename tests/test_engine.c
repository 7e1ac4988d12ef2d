/* The manager running real models through the engine backend: measured footprints against the
 * header estimates, generation through leases and sessions, eviction under a budget that fits
 * two models with results unchanged after reloads, and a stress test of 16 threads doing random
 * acquire / generate / release / unload / pin while the budget invariant is checked throughout.
 * Runs under TSan in CI (with fewer operations there). */
// ctest-labels: tsan
#include "testutil.h"

#include "slm/engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    const char *id, *path;
    bool embed;
};

static const struct fixture fixtures[] = {
    {"stories260k", "models/stories260K/stories260K.gguf", false},
    {"tinystories-656k", "models/TinyStories-656K/TinyStories-656K-f32.gguf", false},
    {"llama2-tiny-random", "models/random/llama-2-tiny-random.gguf", false},
    {"synth-a-f32", "models/synth/synth-a-f32.gguf", false},
    {"synth-a-q8_0", "models/synth/synth-a-q8_0.gguf", false},
    {"synth-a-q4_k", "models/synth/synth-a-q4_k.gguf", false},
};
#define N_FIXTURES (sizeof fixtures / sizeof *fixtures)

static slm_catalog *catalog_of_fixtures(void) {
    slm_catalog *c = NULL;
    TU_ASSERT_OK(slm_catalog_create(&c));
    for (size_t i = 0; i < N_FIXTURES; i++) {
        char *p = tu_require_shared(fixtures[i].path);
        struct slm_catalog_entry e;
        TU_ASSERT_OK(slm_catalog_add_gguf(c, p, fixtures[i].id, &e));
        free(p);
    }
    return c;
}

/* Greedy tokens of a prompt through a lease on model id. */
static slm_status generate(slm_manager *m, const char *id, const char *prompt, int n,
                           int32_t *out, uint64_t deadline) {
    struct slm_acquire_params ap = {.keep_alive_ns = SLM_KEEP_ALIVE_DEFAULT, .deadline_ns = deadline};
    slm_lease *lease = NULL;
    slm_status st = slm_manager_acquire(m, id, &ap, &lease);
    if (st != SLM_OK) return st;
    slm_engine_model *em = slm_lease_handle(lease);
    slm_session *s = NULL;
    st = slm_engine_session_take(em, &s);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    const slm_tokenizer *tok = slm_engine_model_get_tokenizer(em);
    if (st == SLM_OK) st = slm_tokenize(tok, prompt, strlen(prompt), SLM_TOKENIZE_ADD_SPECIAL, &ids, &n_ids);
    struct slm_generate_params gp = slm_generate_default_params();
    gp.max_tokens = n;
    gp.ignore_eos = true;
    gp.sampling.temperature = 0;
    struct slm_generate_result r;
    if (st == SLM_OK) st = slm_generate(s, tok, ids, n_ids, &gp, NULL, NULL, &r);
    if (st == SLM_OK) {
        if (out) memcpy(out, r.ids, r.n_ids * sizeof *r.ids);
        slm_manager_record_usage(m, id, n_ids, r.n_ids, r.gen_ns + r.prompt_ns);
        slm_generate_result_clear(&r);
    }
    slm_free(ids);
    if (s) slm_engine_session_put(em, s);
    slm_manager_release(m, lease);
    return st;
}

static void measured_footprints(void **state) {
    (void)state;
    slm_catalog *c = catalog_of_fixtures();
    struct slm_backend b;
    struct slm_engine_params ep = slm_engine_default_params();
    ep.n_threads = 2;
    TU_ASSERT_OK(slm_engine_backend_create(&ep, &b));
    struct slm_manager_params mp = slm_manager_default_params();
    mp.memory_budget = 1ull << 30;
    mp.max_models = 8;
    slm_manager *m = NULL;
    TU_ASSERT_OK(slm_manager_create(c, &b, &mp, &m));
    printf("%-20s %12s %12s %8s\n", "model", "estimate", "measured", "diff");
    for (size_t i = 0; i < N_FIXTURES; i++) {
        int32_t out[8];
        TU_ASSERT_OK(generate(m, fixtures[i].id, "Once upon a time", 8, out, 0));
        struct slm_model_status ms;
        TU_ASSERT_OK(slm_manager_model_status(m, fixtures[i].id, &ms));
        double diff = ((double)ms.footprint_measured - (double)ms.footprint_estimate) /
                      (double)ms.footprint_estimate;
        printf("%-20s %12llu %12llu %+7.2f%%\n", fixtures[i].id,
               (unsigned long long)ms.footprint_estimate,
               (unsigned long long)ms.footprint_measured, 100 * diff);
        assert_int_equal(ms.state, SLM_MODEL_LOADED);
        assert_true(diff > -0.05 && diff < 0.05);
    }
    slm_manager_free(m);
    slm_engine_backend_free(&b);
    slm_catalog_free(c);
}

/* The budget that fits the two largest fixtures at once (as estimated by the backend), with 2%
 * room for the measured values' small excess over their estimates. */
static uint64_t budget_for_two(const slm_catalog *c, const struct slm_backend *b) {
    uint64_t est[N_FIXTURES], top2 = 0;
    for (size_t i = 0; i < N_FIXTURES; i++) {
        struct slm_catalog_entry e;
        TU_ASSERT_OK(slm_catalog_find(c, fixtures[i].id, &e));
        TU_ASSERT_OK(b->estimate(b->user, &e, &est[i]));
    }
    for (size_t i = 0; i < N_FIXTURES; i++)
        for (size_t k = i + 1; k < N_FIXTURES; k++)
            if (est[i] + est[k] > top2) top2 = est[i] + est[k];
    return top2 + top2 / 50;
}

/* A budget that fits the two largest fixtures: the third acquire evicts the least recently used
 * unleased model, and a reloaded model generates exactly what it generated before. */
static void eviction_under_budget(void **state) {
    (void)state;
    slm_catalog *c = catalog_of_fixtures();
    struct slm_backend b;
    TU_ASSERT_OK(slm_engine_backend_create(NULL, &b));
    struct slm_manager_params mp = slm_manager_default_params();
    mp.memory_budget = budget_for_two(c, &b);
    mp.max_models = 6;
    slm_manager *m = NULL;
    TU_ASSERT_OK(slm_manager_create(c, &b, &mp, &m));
    int32_t first[8], again[8];
    TU_ASSERT_OK(generate(m, "synth-a-f32", "One day", 8, first, 0));
    for (size_t i = 0; i < N_FIXTURES; i++) {
        TU_ASSERT_OK(generate(m, fixtures[i].id, "One day", 4, NULL, 0));
        struct slm_manager_status ms;
        slm_manager_status(m, &ms);
        assert_true(ms.memory_used <= ms.memory_budget);
    }
    struct slm_model_status st;
    TU_ASSERT_OK(slm_manager_model_status(m, "synth-a-f32", &st));
    assert_true(st.stats.evictions >= 1);
    TU_ASSERT_OK(generate(m, "synth-a-f32", "One day", 8, again, 0));
    assert_memory_equal(first, again, sizeof first);
    TU_ASSERT_OK(slm_manager_model_status(m, "synth-a-f32", &st));
    assert_true(st.stats.loads >= 2);
    slm_manager_free(m);
    slm_engine_backend_free(&b);
    slm_catalog_free(c);
}

/* ---- stress ---- */

struct stress {
    slm_manager *m;
    uint64_t budget;
    long ops, served, busy, cancelled, unloads, pins, violations;
    uint64_t max_late_ns; /* reported, not asserted: deadlines are unit-tested on a fake clock */
    pthread_mutex_t mu;
};

struct worker {
    struct stress *s;
    uint64_t rng;
    long ops;
};

static uint32_t xs(uint64_t *r) {
    *r ^= *r << 13, *r ^= *r >> 7, *r ^= *r << 17;
    return (uint32_t)(*r >> 17);
}

static uint64_t now_ns(void) {
    slm_clock c = slm_clock_system();
    return slm_clock_now(&c);
}

static void *stress_worker(void *p) {
    struct worker *w = p;
    struct stress *s = w->s;
    long served = 0, busy = 0, cancelled = 0, unloads = 0, pins = 0, violations = 0;
    uint64_t max_late = 0;
    for (long i = 0; i < w->ops; i++) {
        const char *id = fixtures[xs(&w->rng) % N_FIXTURES].id;
        uint32_t op = xs(&w->rng) % 10;
        if (op < 7) {
            uint64_t deadline = now_ns() + 250000000ull;
            slm_status st = generate(s->m, id, "The cat", 2, NULL, deadline);
            if (st == SLM_OK) served++;
            else if (st == SLM_E_BUSY || st == SLM_E_TIMEOUT) busy++;
            else if (st == SLM_E_CANCELLED) cancelled++; /* another thread's unload of a loading model */
            else violations++, fprintf(stderr, "generate %s: %s %s\n", id, slm_status_name(st), slm_error_detail());
            uint64_t t = now_ns();
            if (st != SLM_OK && t > deadline && t - deadline > max_late) max_late = t - deadline;
        } else if (op < 8) {
            slm_status st = slm_manager_unload(s->m, id);
            unloads += st == SLM_OK;
        } else {
            slm_manager_pin(s->m, id, op == 8);
            pins++;
        }
        struct slm_manager_status ms;
        slm_manager_status(s->m, &ms);
        if (ms.memory_used > ms.memory_budget) violations++;
    }
    pthread_mutex_lock(&s->mu);
    s->served += served, s->busy += busy, s->cancelled += cancelled, s->unloads += unloads;
    s->pins += pins;
    if (max_late > s->max_late_ns) s->max_late_ns = max_late;
    s->violations += violations;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void stress_16_threads(void **state) {
    (void)state;
    long per_thread = 500;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    per_thread = 100;
#endif
    const char *env = getenv("SLM_STRESS_OPS");
    if (env) per_thread = atol(env);
    slm_catalog *c = catalog_of_fixtures();
    struct slm_backend b;
    struct slm_engine_params ep = slm_engine_default_params();
    ep.n_slots = 16; /* every thread can hold a session of the same model */
    ep.n_threads = 1;
    ep.n_batch = 16; /* short prompts: keep 16 sessions' buffers small */
    TU_ASSERT_OK(slm_engine_backend_create(&ep, &b));
    struct slm_manager_params mp = slm_manager_default_params();
    mp.memory_budget = budget_for_two(c, &b);
    mp.max_models = 6;
    slm_manager *m = NULL;
    TU_ASSERT_OK(slm_manager_create(c, &b, &mp, &m));
    struct stress s = {.m = m, .budget = mp.memory_budget};
    pthread_mutex_init(&s.mu, NULL);
    struct worker w[16];
    pthread_t th[16];
    uint64_t t0 = now_ns();
    for (int i = 0; i < 16; i++) {
        w[i] = (struct worker){&s, 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1), per_thread};
        assert_int_equal(pthread_create(&th[i], NULL, stress_worker, &w[i]), 0);
    }
    for (int i = 0; i < 16; i++) pthread_join(th[i], NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    long total = 16 * per_thread;
    printf("stress: 16 threads x %ld ops in %.1f s (%.0f ops/s): %ld generations served, %ld busy "
           "by deadline, %ld cancelled by an unload, %ld unloads, %ld pin changes, %ld violations; "
           "latest refusal %.1f ms after its deadline\n",
           per_thread, secs, (double)total / secs, s.served, s.busy, s.cancelled, s.unloads, s.pins,
           s.violations, (double)s.max_late_ns / 1e6);
    assert_int_equal(s.violations, 0);
    assert_true(s.served > 0);
    slm_manager_free(m);
    slm_engine_backend_free(&b);
    slm_catalog_free(c);
    pthread_mutex_destroy(&s.mu);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(measured_footprints),
        cmocka_unit_test(eviction_under_budget),
        cmocka_unit_test(stress_16_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
