/* The manager running real models through the engine backend: measured footprints against the
 * header estimates, generation through leases and sessions, embeddings through leases and the
 * embedding cache, eviction under a budget that fits two models with results unchanged after
 * reloads, and a stress test of 16 threads doing random acquire / generate / embed / release /
 * unload / pin over five generative models and an embedding one, with the budget, lease and
 * deadline rules checked after every operation. Runs under TSan in CI (with fewer operations
 * there); SLM_STRESS_OPS sets the operations per thread. */
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
    {"synth-a-q4_k", "models/synth/synth-a-q4_k.gguf", false},
    {"synth-bert", "models/synth-bert/synth-bert-q8_0.gguf", true},
    /* Footprints only: the first N_STRESS are the stress test's six models. */
    {"synth-a-q8_0", "models/synth/synth-a-q8_0.gguf", false},
    {"synth-bert-f16", "models/synth-bert/synth-bert-f16.gguf", true},
};
#define N_FIXTURES (sizeof fixtures / sizeof *fixtures)
#define N_STRESS   6

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

/* Embeds texts through a lease on model id and the cache; *n_cached counts cache hits. */
static slm_status embed(slm_manager *m, const char *id, slm_embed_cache *cache,
                        const char *const *texts, size_t n, float *out, size_t *n_cached,
                        uint64_t deadline) {
    struct slm_acquire_params ap = {.keep_alive_ns = SLM_KEEP_ALIVE_DEFAULT, .deadline_ns = deadline};
    slm_lease *lease = NULL;
    slm_status st = slm_manager_acquire(m, id, &ap, &lease);
    if (st != SLM_OK) return st;
    size_t hits = 0;
    st = slm_engine_embed(slm_lease_handle(lease), cache, texts, n, out, &hits);
    if (st == SLM_OK) slm_manager_record_cache(m, id, hits, n - hits);
    if (n_cached) *n_cached = hits;
    slm_manager_release(m, lease);
    return st;
}

/* One use of a fixture: generation, or an embedding. */
static slm_status use(slm_manager *m, const struct fixture *f, uint64_t deadline) {
    if (!f->embed) return generate(m, f->id, "Once upon a time", 8, NULL, deadline);
    float v[1024];
    const char *text = "Once upon a time";
    return embed(m, f->id, NULL, &text, 1, v, NULL, deadline);
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
        TU_ASSERT_OK(use(m, &fixtures[i], 0));
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

/* The budget that fits the two largest of the stress models at once (as estimated by the
 * backend), with 2% room for the measured values' small excess over their estimates. */
static uint64_t budget_for_two(const slm_catalog *c, const struct slm_backend *b) {
    uint64_t est[N_STRESS], top2 = 0;
    for (size_t i = 0; i < N_STRESS; i++) {
        struct slm_catalog_entry e;
        TU_ASSERT_OK(slm_catalog_find(c, fixtures[i].id, &e));
        TU_ASSERT_OK(b->estimate(b->user, &e, &est[i]));
    }
    for (size_t i = 0; i < N_STRESS; i++)
        for (size_t k = i + 1; k < N_STRESS; k++)
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
    for (size_t i = 0; i < N_STRESS; i++) {
        TU_ASSERT_OK(use(m, &fixtures[i], 0));
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

/* Embeddings through a lease: the same vectors as an embedder of its own on the same file, with
 * or without the cache; a batch partly in the cache computes only the rest; the cache keys on
 * the file's digest, which a reload finds again; a generative model neither embeds nor hands an
 * embedding model's lease a session. */
static void embeddings_through_the_cache(void **state) {
    (void)state;
    slm_catalog *c = catalog_of_fixtures();
    struct slm_backend b;
    struct slm_engine_params ep = slm_engine_default_params();
    ep.n_threads = 2;
    TU_ASSERT_OK(slm_engine_backend_create(&ep, &b));
    slm_manager *m = NULL;
    TU_ASSERT_OK(slm_manager_create(c, &b, NULL, &m));
    slm_embed_cache *cache = NULL;
    TU_ASSERT_OK(slm_embed_cache_create(NULL, &cache));
    char *path = tu_require_shared("models/synth-bert/synth-bert-q8_0.gguf");
    slm_model *model = NULL;
    slm_tokenizer *tok = NULL;
    slm_embedder *ref = NULL;
    TU_ASSERT_OK(slm_model_load(path, NULL, &model));
    TU_ASSERT_OK(slm_tokenizer_from_gguf(slm_model_get_gguf(model), &tok));
    struct slm_embed_params rp = slm_embed_default_params();
    rp.n_threads = 1;
    TU_ASSERT_OK(slm_embedder_create(model, tok, &rp, &ref));
    const size_t dim = slm_embedder_dim(ref);
    const char *texts[] = {"a cat sat on the mat", "the weather is nice today", "embeddings!",
                           "a fourth, longer sentence to embed with the others"};
    float want[4 * 384], got[4 * 384];
    assert_true(dim <= 384);
    TU_ASSERT_OK(slm_embed(ref, texts, 4, want, NULL));

    size_t cached = 99;
    TU_ASSERT_OK(embed(m, "synth-bert", NULL, texts, 4, got, &cached, 0));
    assert_int_equal(cached, 0);
    assert_memory_equal(got, want, 4 * dim * sizeof *got);
    TU_ASSERT_OK(embed(m, "synth-bert", cache, texts, 2, got, &cached, 0));
    assert_int_equal(cached, 0);
    memset(got, 0, sizeof got);
    TU_ASSERT_OK(embed(m, "synth-bert", cache, texts, 4, got, &cached, 0));
    assert_int_equal(cached, 2);
    assert_memory_equal(got, want, 4 * dim * sizeof *got);
    struct slm_embed_cache_stats cs;
    slm_embed_cache_stats(cache, &cs);
    assert_int_equal(cs.entries, 4);
    /* Evicted and loaded again: its digest is the file's, so the cache still serves it. */
    TU_ASSERT_OK(slm_manager_unload(m, "synth-bert"));
    memset(got, 0, sizeof got);
    TU_ASSERT_OK(embed(m, "synth-bert", cache, texts, 4, got, &cached, 0));
    assert_int_equal(cached, 4);
    assert_memory_equal(got, want, 4 * dim * sizeof *got);
    slm_lease *l = NULL;
    TU_ASSERT_OK(slm_manager_acquire(m, "synth-bert", NULL, &l));
    char hex[SLM_SHA256_HEX_LEN + 1];
    TU_ASSERT_OK(slm_sha256_file(path, hex));
    assert_string_equal(slm_engine_model_digest(slm_lease_handle(l)), hex);
    assert_int_equal(slm_engine_model_embed_dim(slm_lease_handle(l)), dim);
    slm_session *s = NULL;
    assert_int_equal(slm_engine_session_take(slm_lease_handle(l), &s), SLM_E_UNSUPPORTED);
    slm_manager_release(m, l);
    TU_ASSERT_OK(slm_manager_acquire(m, "stories260k", NULL, &l));
    assert_int_equal(slm_engine_model_embed_dim(slm_lease_handle(l)), 0);
    assert_int_equal(slm_engine_embed(slm_lease_handle(l), cache, texts, 1, got, &cached),
                     SLM_E_UNSUPPORTED);
    slm_manager_release(m, l);
    struct slm_manager_status ms;
    slm_manager_status(m, &ms);
    assert_int_equal(ms.cache_hits, 6);
    assert_int_equal(ms.cache_misses, 8);
    slm_embedder_free(ref);
    slm_tokenizer_free(tok);
    slm_model_free(model);
    free(path);
    slm_embed_cache_free(cache);
    slm_manager_free(m);
    slm_engine_backend_free(&b);
    slm_catalog_free(c);
}

/* ---- stress ---- */

#define N_TEXTS 48 /* the embedding texts: few enough to be seen again (cache hits) */

struct stress {
    slm_manager *m;
    slm_embed_cache *cache;
    long served, busy, unloads, unload_busy, pins, releases, held_checks, violations;
    long embeds, embed_texts, embed_cached;
    uint64_t max_late_ns; /* reported, not asserted: deadlines are unit-tested on a fake clock */
    long late[3];         /* refusals later than 1 ms, 10 ms, 100 ms after their deadline */
    pthread_mutex_t mu;
};

struct worker {
    struct stress *s;
    uint64_t rng;
    long ops;
    long served, busy, unloads, unload_busy, pins, releases, held_checks, violations;
    long embeds, embed_texts, embed_cached;
    uint64_t max_late;
    long late[3];
    slm_lease *held; /* a lease kept across operations, on held_model */
    const struct fixture *held_model;
    int held_ops;
};

static uint32_t xs(uint64_t *r) {
    *r ^= *r << 13, *r ^= *r >> 7, *r ^= *r << 17;
    return (uint32_t)(*r >> 17);
}

static uint64_t now_ns(void) {
    slm_clock c = slm_clock_system();
    return slm_clock_now(&c);
}

#define DEADLINE_NS (250 * SLM_NS_PER_MS)

static void violation(struct worker *w, const char *what, const char *id, slm_status st) {
    w->violations++;
    fprintf(stderr, "violation: %s %s: %s %s\n", what, id, slm_status_name(st), slm_error_detail());
}

/* A request's outcome: served, or refused (BUSY/TIMEOUT) no earlier than needed; anything else
 * (CANCELLED by another thread's unload, an error) breaks the rule. Lateness is recorded. */
static void outcome(struct worker *w, const char *what, const char *id, slm_status st,
                    uint64_t deadline) {
    uint64_t t = now_ns();
    if (st == SLM_OK) {
        w->served++;
        return;
    }
    if (st == SLM_E_BUSY || st == SLM_E_TIMEOUT) w->busy++;
    else violation(w, what, id, st);
    if (t > deadline && t - deadline > w->max_late) w->max_late = t - deadline;
    for (int k = 0, ms = 1; k < 3; k++, ms *= 10)
        if (t > deadline && t - deadline > (uint64_t)ms * SLM_NS_PER_MS) w->late[k]++;
}

static void release_held(struct worker *w) {
    slm_manager_release(w->s->m, w->held);
    w->held = NULL;
    w->releases++;
}

/* Generation or an embedding on the held lease when it is on that model, else through a lease
 * of its own (so a thread may wait for one model while it holds another). */
static void op_use(struct worker *w, const struct fixture *f) {
    struct stress *s = w->s;
    uint64_t deadline = now_ns() + DEADLINE_NS;
    if (!f->embed) {
        slm_status st = generate(s->m, f->id, "The cat", 2, NULL, deadline);
        outcome(w, "generate", f->id, st, deadline);
        return;
    }
    char text[4][64];
    const char *texts[4];
    size_t n = 1 + xs(&w->rng) % 4, cached = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(text[i], sizeof text[i], "sentence number %u", xs(&w->rng) % N_TEXTS);
        texts[i] = text[i];
    }
    float v[4 * 384];
    slm_status st = embed(s->m, f->id, s->cache, texts, n, v, &cached, deadline);
    outcome(w, "embed", f->id, st, deadline);
    if (st == SLM_OK) w->embeds++, w->embed_texts += (long)n, w->embed_cached += (long)cached;
}

/* The rules, after every operation: the budget holds, and a model this thread holds a lease on
 * is resident, counts the lease, and its handle works. */
static void check(struct worker *w) {
    struct slm_manager_status g;
    slm_manager_status(w->s->m, &g);
    if (g.memory_used > g.memory_budget) violation(w, "budget", "-", SLM_E_INTERNAL);
    if (!w->held) return;
    struct slm_model_status ms;
    slm_status st = slm_manager_model_status(w->s->m, w->held_model->id, &ms);
    if (st != SLM_OK || ms.state != SLM_MODEL_LOADED || ms.leases < 1 || ms.resident_bytes == 0)
        violation(w, "leased model not resident", w->held_model->id, st);
    slm_engine_model *em = slm_lease_handle(w->held);
    if (slm_tokenizer_n_vocab(slm_engine_model_get_tokenizer(em)) <= 0 ||
        (slm_engine_model_embed_dim(em) > 0) != w->held_model->embed)
        violation(w, "leased handle", w->held_model->id, SLM_E_INTERNAL);
    w->held_checks++;
}

static void *stress_worker(void *p) {
    struct worker *w = p;
    struct stress *s = w->s;
    for (long i = 0; i < w->ops; i++) {
        const struct fixture *f = &fixtures[xs(&w->rng) % N_STRESS];
        uint32_t op = xs(&w->rng) % 100;
        if (w->held && ++w->held_ops > 3) release_held(w); /* leases are held briefly */
        if (op < 10) { /* acquire and hold */
            if (w->held) release_held(w);
            uint64_t deadline = now_ns() + DEADLINE_NS;
            struct slm_acquire_params ap = slm_acquire_default_params();
            ap.deadline_ns = deadline;
            slm_status st = slm_manager_acquire(s->m, f->id, &ap, &w->held);
            outcome(w, "acquire", f->id, st, deadline);
            w->held_model = f;
            w->held_ops = 0;
        } else if (op < 20) {
            if (w->held) release_held(w);
        } else if (op < 80) {
            op_use(w, op < 55 ? f : &fixtures[N_STRESS - 1]); /* generation; an embedding */
        } else if (op < 88) {
            slm_status st = slm_manager_unload(s->m, f->id);
            if (st == SLM_OK) w->unloads++;
            else if (st == SLM_E_BUSY) w->unload_busy++;
            else violation(w, "unload", f->id, st);
            if (st != SLM_E_BUSY && w->held && w->held_model == f)
                violation(w, "unload of a leased model", f->id, st);
        } else {
            TU_ASSERT_OK(slm_manager_pin(s->m, f->id, op < 94));
            w->pins++;
        }
        check(w);
    }
    if (w->held) release_held(w);
    pthread_mutex_lock(&s->mu);
    s->served += w->served, s->busy += w->busy, s->unloads += w->unloads;
    s->unload_busy += w->unload_busy, s->pins += w->pins, s->releases += w->releases;
    s->held_checks += w->held_checks, s->violations += w->violations;
    s->embeds += w->embeds, s->embed_texts += w->embed_texts, s->embed_cached += w->embed_cached;
    if (w->max_late > s->max_late_ns) s->max_late_ns = w->max_late;
    for (int k = 0; k < 3; k++) s->late[k] += w->late[k];
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
    /* The embedding model serves inputs of up to 32 tokens: its 16 embedders stay small. */
    struct slm_catalog_entry e;
    TU_ASSERT_OK(slm_catalog_find(c, "synth-bert", &e));
    e.serve_context = 32;
    TU_ASSERT_OK(slm_catalog_update(c, &e));
    struct slm_manager_params mp = slm_manager_default_params();
    mp.memory_budget = budget_for_two(c, &b);
    mp.max_models = 6;
    printf("stress: budget %llu bytes; estimates:", (unsigned long long)mp.memory_budget);
    for (size_t i = 0; i < N_STRESS; i++) {
        uint64_t est;
        TU_ASSERT_OK(slm_catalog_find(c, fixtures[i].id, &e));
        TU_ASSERT_OK(b.estimate(b.user, &e, &est));
        printf(" %s %llu", fixtures[i].id, (unsigned long long)est);
    }
    printf("\n");
    slm_manager *m = NULL;
    TU_ASSERT_OK(slm_manager_create(c, &b, &mp, &m));
    struct stress s = {.m = m};
    TU_ASSERT_OK(slm_embed_cache_create(NULL, &s.cache));
    pthread_mutex_init(&s.mu, NULL);
    struct worker w[16];
    pthread_t th[16];
    uint64_t t0 = now_ns();
    for (int i = 0; i < 16; i++) {
        w[i] = (struct worker){.s = &s, .rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1),
                               .ops = per_thread};
        assert_int_equal(pthread_create(&th[i], NULL, stress_worker, &w[i]), 0);
    }
    for (int i = 0; i < 16; i++) pthread_join(th[i], NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    long total = 16 * per_thread;
    struct slm_manager_status g;
    slm_manager_status(m, &g);
    uint64_t evictions = 0, loads = 0;
    for (size_t i = 0; i < N_STRESS; i++) {
        struct slm_model_status ms;
        TU_ASSERT_OK(slm_manager_model_status(m, fixtures[i].id, &ms));
        evictions += ms.stats.evictions;
        loads += ms.stats.loads;
    }
    printf("stress: 16 threads x %ld ops in %.1f s (%.0f ops/s): %ld requests served, %ld busy "
           "by their deadline, latest refusal %.1f ms after its deadline (%ld > 1 ms, %ld > 10 ms, "
           "%ld > 100 ms late); %llu loads, %llu "
           "evictions, %ld unloads, %ld unloads refused (leased or awaited), %ld releases, %ld "
           "pin changes; %ld checks of a held lease; %ld embedding requests (%ld texts, embedding "
           "cache hit rate %.3f); %ld violations\n",
           per_thread, secs, (double)total / secs, s.served, s.busy,
           (double)s.max_late_ns / 1e6, s.late[0], s.late[1], s.late[2], (unsigned long long)loads,
           (unsigned long long)evictions, s.unloads, s.unload_busy, s.releases, s.pins,
           s.held_checks, s.embeds, s.embed_texts, g.cache_hit_rate, s.violations);
    assert_int_equal(s.violations, 0);
    assert_true(s.served > 0);
    assert_int_equal(g.cache_hits, (uint64_t)s.embed_cached);
    slm_manager_free(m);
    slm_embed_cache_free(s.cache);
    slm_engine_backend_free(&b);
    slm_catalog_free(c);
    pthread_mutex_destroy(&s.mu);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(measured_footprints),
        cmocka_unit_test(eviction_under_budget),
        cmocka_unit_test(embeddings_through_the_cache),
        cmocka_unit_test(stress_16_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
