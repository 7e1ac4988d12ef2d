/* Stress test of the manager: 16 threads × random operations (acquire, generate, embed through
 * the embedding cache, release, unload, pin, cancel) over 6 models — the real tiny GGUF files of
 * ../shared when present (footprints from their headers), synthetic sizes otherwise — with a
 * budget that fits the 2 largest. Checked after every operation: the budget is never exceeded,
 * no leased model is ever unloaded, every acquire is served or BUSY by its deadline; the run
 * ending at all shows there is no deadlock. A timer thread drives the fake clock. */
// ctest-labels: tsan
#include "testutil.h"

#include "fake_backend.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__)
#define OPS_PER_THREAD 5000 /* TSan is ~10x slower: keep the run short */
#else
#define OPS_PER_THREAD 20000
#endif
#define N_THREADS 16
#define N_MODELS  6
#define MS        SLM_NS_PER_MS

static const char *const fixtures[N_MODELS] = {
    "models/stories260K/stories260K.gguf",   "models/TinyStories-656K/TinyStories-656K-f32.gguf",
    "models/synth/synth-a-q8_0.gguf",        "models/synth/synth-a-f16.gguf",
    "models/synth-bert/synth-bert-f16.gguf", "models/random/llama-2-tiny-random.gguf",
};

struct world {
    struct fake_clock clk;
    struct fake_backend fb;
    slm_catalog *cat;
    slm_manager *m;
    slm_embed_cache *cache;
    char ids[N_MODELS][SLM_ID_MAX];
    bool embed[N_MODELS];
    uint64_t budget;
    atomic_bool stop;
    atomic_long served, busy, other_errors, violations;
};

static void *timer_main(void *arg) {
    struct world *w = arg;
    while (!atomic_load(&w->stop)) {
        fake_clock_advance(&w->clk, 5 * MS);
        slm_manager_tick(w->m);
        sched_yield();
    }
    return NULL;
}

static void check_invariants(struct world *w) {
    struct slm_manager_status s;
    slm_manager_status(w->m, &s);
    if (s.memory_used > s.memory_budget || s.models_resident + s.models_loading > s.max_models) {
        printf("over budget: used %llu of %llu, %d + %d models\n",
               (unsigned long long)s.memory_used, (unsigned long long)s.memory_budget,
               s.models_resident, s.models_loading);
        atomic_fetch_add(&w->violations, 1);
    }
    if (atomic_load(&w->fb.leased_unloads)) atomic_fetch_add(&w->violations, 1);
}

struct worker {
    struct world *w;
    unsigned seed;
    pthread_t t;
};

static void do_embed(struct world *w, int model) {
    const char *texts[2] = {"the cat sat", "on the mat"};
    float out[2 * 8];
    bool hit[2];
    size_t n_hits = 0;
    if (slm_embed_cache_lookup_batch(w->cache, w->ids[model], "pooling=mean;normalize=1", texts, 2,
                                     out, 8, hit, &n_hits) != SLM_OK) {
        atomic_fetch_add(&w->other_errors, 1);
        return;
    }
    for (int i = 0; i < 16; i++) out[i] = (float)i;
    slm_embed_cache_put_batch(w->cache, w->ids[model], "pooling=mean;normalize=1", texts, 2, out, 8,
                              hit);
    slm_manager_record_cache(w->m, w->ids[model], n_hits, 2 - n_hits);
}

static void *worker_main(void *arg) {
    struct worker *wk = arg;
    struct world *w = wk->w;
    slm_lease *held = NULL;
    int held_model = -1;
    for (int op = 0; op < OPS_PER_THREAD; op++) {
        int r = rand_r(&wk->seed) % 1000, model = rand_r(&wk->seed) % N_MODELS;
        if (r < 850 && !held) {
            struct slm_acquire_params p = slm_acquire_default_params();
            p.deadline_ns = fake_clock_now(&w->clk) + (uint64_t)(rand_r(&wk->seed) % 20) * MS;
            if (rand_r(&wk->seed) % 8 == 0) p.keep_alive_ns = (rand_r(&wk->seed) % 3) * MS;
            slm_lease *l = NULL;
            slm_status st = slm_manager_acquire(w->m, w->ids[model], &p, &l);
            if (st == SLM_OK) {
                struct fake_handle *h = slm_lease_handle(l);
                atomic_fetch_add(&h->users, 1);
                atomic_fetch_add(&w->served, 1);
                if (w->embed[model])
                    do_embed(w, model);
                else
                    slm_manager_record_usage(w->m, w->ids[model], 8, 4, 1 * MS);
                held = l;
                held_model = model;
            } else if (st == SLM_E_BUSY) {
                atomic_fetch_add(&w->busy, 1);
                /* BUSY only at the deadline (the queue never fills with 16 threads). */
                if (fake_clock_now(&w->clk) < p.deadline_ns) {
                    printf("BUSY before the deadline: %s\n", slm_error_detail());
                    atomic_fetch_add(&w->violations, 1);
                }
            } else if (st == SLM_E_CANCELLED) {
                atomic_fetch_add(&w->other_errors, 1); /* another thread's cancel or unload */
            } else {
                printf("unexpected acquire status %s: %s\n", slm_status_name(st),
                       slm_error_detail());
                atomic_fetch_add(&w->violations, 1);
            }
        } else if (r < 850) {
            struct fake_handle *h = slm_lease_handle(held);
            if (strcmp(slm_lease_model(held), w->ids[held_model]) != 0)
                atomic_fetch_add(&w->violations, 1);
            atomic_fetch_sub(&h->users, 1);
            slm_manager_release(w->m, held);
            held = NULL;
        } else if (r < 853) {
            slm_status st = slm_manager_unload(w->m, w->ids[model]);
            if (st != SLM_OK && st != SLM_E_BUSY) atomic_fetch_add(&w->violations, 1);
        } else if (r < 883) {
            /* Pins are short-lived: pin, and unpin some other model. */
            slm_manager_pin(w->m, w->ids[model], rand_r(&wk->seed) % 4 == 0);
            slm_manager_pin(w->m, w->ids[(model + 1) % N_MODELS], false);
        } else if (r < 884) {
            slm_status st = slm_manager_cancel(w->m, w->ids[model]);
            if (st != SLM_OK && st != SLM_E_INVALID_ARG) atomic_fetch_add(&w->violations, 1);
        } else {
            char *json = NULL;
            if (slm_manager_status_json(w->m, &json) != SLM_OK) atomic_fetch_add(&w->violations, 1);
            slm_free(json);
        }
        check_invariants(w);
    }
    if (held) {
        struct fake_handle *h = slm_lease_handle(held);
        atomic_fetch_sub(&h->users, 1);
        slm_manager_release(w->m, held);
    }
    return NULL;
}

/* The 6 models: real files when ../shared is there, synthetic sizes otherwise. */
static void add_models(struct world *w) {
    bool real = true;
    for (int i = 0; i < N_MODELS; i++) real = real && tu_shared_path(fixtures[i]);
    if (!real) printf("note: ../shared missing, stress runs over synthetic model sizes\n");
    uint64_t fp[N_MODELS];
    for (int i = 0; i < N_MODELS; i++) {
        struct slm_catalog_entry e;
        if (real) {
            char *path = strdup(tu_shared_path(fixtures[i]));
            TU_ASSERT_OK(slm_catalog_add_gguf(w->cat, path, NULL, &e));
            free(path);
        } else {
            char id[32];
            snprintf(id, sizeof id, "synthetic-%d", i);
            e = fake_entry(id, (uint64_t)(i + 1) * 1000000, i == 4 ? SLM_CAP_EMBED : SLM_CAP_CHAT,
                           SLM_COMPLEXITY_LOW, 1000);
            TU_ASSERT_OK(slm_catalog_add(w->cat, &e));
        }
        snprintf(w->ids[i], SLM_ID_MAX, "%s", e.id);
        w->embed[i] = e.capabilities & SLM_CAP_EMBED;
        fp[i] = e.footprint_estimate;
        struct fake_model fm = {.load_ns = (uint64_t)(i % 2) * MS, .measured = fp[i]};
        snprintf(fm.id, sizeof fm.id, "%s", e.id);
        if (i == 2) fm.script[0] = SLM_E_IO, fm.n_script = 1; /* every first attempt fails */
        fake_backend_add(&w->fb, &fm);
    }
    uint64_t a = 0, b = 0;
    for (int i = 0; i < N_MODELS; i++) {
        if (fp[i] > a)
            b = a, a = fp[i];
        else if (fp[i] > b)
            b = fp[i];
    }
    w->budget = a + b;
}

static void stress(void **state) {
    (void)state;
    struct world *w = calloc(1, sizeof *w);
    atomic_init(&w->clk.now, 1 * SLM_NS_PER_SEC);
    fake_backend_init(&w->fb, &w->clk);
    TU_ASSERT_OK(slm_catalog_create(&w->cat));
    add_models(w);
    struct slm_manager_params p = slm_manager_default_params();
    p.memory_budget = w->budget;
    p.system_reserve = 0;
    p.tick_interval_ns = 0;
    p.clock = fake_clock_as_clock(&w->clk);
    p.keep_alive_ns = 20 * MS;
    p.retry_base_ns = 2 * MS;
    /* Fake time runs on regardless of how long a starved loader thread waits for the lock, so
     * the load timeout (tested on its own) is set out of reach. */
    p.load_timeout_ns = 3600 * SLM_NS_PER_SEC;
    struct slm_backend be = fake_backend_as_backend(&w->fb);
    TU_ASSERT_OK(slm_manager_create(w->cat, &be, &p, &w->m));
    struct slm_embed_cache_params cp = slm_embed_cache_default_params();
    cp.max_entries = 64;
    TU_ASSERT_OK(slm_embed_cache_create(&cp, &w->cache));

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t timer;
    pthread_create(&timer, NULL, timer_main, w);
    struct worker wk[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        wk[i] = (struct worker){.w = w, .seed = 1234u + (unsigned)i};
        pthread_create(&wk[i].t, NULL, worker_main, &wk[i]);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(wk[i].t, NULL);
    atomic_store(&w->stop, true);
    pthread_join(timer, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    long ops = (long)N_THREADS * OPS_PER_THREAD;
    printf("stress: %ld ops in %.2f s = %.0f ops/s; %ld served, %ld busy, %ld cancelled, "
           "%d backend loads, %d unloads, budget %llu bytes\n",
           ops, secs, (double)ops / secs, atomic_load(&w->served), atomic_load(&w->busy),
           atomic_load(&w->other_errors), atomic_load(&w->fb.loads_total),
           atomic_load(&w->fb.unloads), (unsigned long long)w->budget);
    assert_int_equal(atomic_load(&w->violations), 0);
    assert_int_equal(atomic_load(&w->fb.leased_unloads), 0);
    assert_true(atomic_load(&w->served) > 0);
    struct slm_manager_status s;
    slm_manager_status(w->m, &s);
    assert_int_equal(s.queue_length, 0);
    assert_true(s.memory_used <= s.memory_budget);
    slm_manager_free(w->m);
    assert_int_equal(atomic_load(&w->fb.live), 0);
    slm_embed_cache_free(w->cache);
    slm_catalog_free(w->cat);
    fake_backend_destroy(&w->fb);
    free(w);
}

int main(void) {
    slm_log_set_level(SLM_LOG_ERROR);
    const struct CMUnitTest tests[] = {cmocka_unit_test(stress)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
