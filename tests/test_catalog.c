/* Tests of the catalog (defaults, user entries, local GGUF files, search, recommendation), the
 * footprint estimate from real GGUF headers, the complexity heuristic and the selector. */
// ctest-labels: tsan
#include "testutil.h"

#include "fake_backend.h"

#include <stdlib.h>
#include <string.h>

static void defaults_are_honest(void **state) {
    (void)state;
    slm_catalog *c;
    TU_ASSERT_OK(slm_catalog_create(&c));
    TU_ASSERT_OK(slm_catalog_add_defaults(c));
    TU_ASSERT_OK(slm_catalog_add_defaults(c)); /* idempotent */
    assert_int_equal(slm_catalog_count(c), 8);
    static const struct {
        const char *id;
        uint64_t params;
        unsigned cap;
    } want[] = {
        {"smollm2-135m-instruct", 134515008, SLM_CAP_CHAT},
        {"smollm2-360m-instruct", 361821120, SLM_CAP_CHAT},
        {"smollm2-1.7b-instruct", 1711376384, SLM_CAP_CHAT},
        {"tinyllama-1.1b-chat", 1100048384, SLM_CAP_CHAT},
        {"qwen2.5-0.5b-instruct", 494032768, SLM_CAP_MULTILINGUAL},
        {"all-minilm-l6-v2", 22713216, SLM_CAP_EMBED},
        {"all-minilm-l12-v2", 33360000, SLM_CAP_EMBED},
        {"bge-small-en-v1.5", 33360000, SLM_CAP_EMBED},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct slm_catalog_entry e;
        TU_ASSERT_OK(slm_catalog_find(c, want[i].id, &e));
        assert_int_equal(e.n_params, want[i].params);
        assert_true(e.capabilities & want[i].cap);
        assert_string_equal(e.commit, ""); /* unpinned: not known offline */
        assert_string_equal(e.sha256, "");
        assert_true(e.hub_repo[0] != '\0');
        /* Every default fits the default 2 GiB budget. */
        assert_true(e.footprint_estimate > 0 && e.footprint_estimate < 2 * SLM_GIB);
    }
    struct slm_catalog_entry e;
    TU_ASSERT_OK(slm_catalog_find(c, "smollm2:135m", &e)); /* by alias */
    assert_string_equal(e.id, "smollm2-135m-instruct");
    assert_int_equal(slm_catalog_find(c, "gpt-5", &e), SLM_E_NOT_FOUND);
    slm_catalog_free(c);
}

static void user_entries_validated(void **state) {
    (void)state;
    slm_catalog *c;
    TU_ASSERT_OK(slm_catalog_create(&c));
    struct slm_catalog_entry e = fake_entry("mine", 1000, SLM_CAP_CHAT, SLM_COMPLEXITY_LOW, 10);
    TU_ASSERT_OK(slm_catalog_add(c, &e));
    assert_int_equal(slm_catalog_add(c, &e), SLM_E_INVALID_ARG); /* duplicate */
    struct slm_catalog_entry bad = e;
    snprintf(bad.id, sizeof bad.id, "../etc/passwd");
    assert_int_equal(slm_catalog_add(c, &bad), SLM_E_INVALID_ARG);
    bad = e;
    snprintf(bad.id, sizeof bad.id, "other");
    bad.capabilities = 0;
    assert_int_equal(slm_catalog_add(c, &bad), SLM_E_INVALID_ARG);
    bad.capabilities = SLM_CAP_CHAT;
    bad.footprint_estimate = 0;
    assert_int_equal(slm_catalog_add(c, &bad), SLM_E_INVALID_ARG); /* no footprint, no file */
    bad.footprint_estimate = 1;
    bad.keep_alive_ns = -7;
    assert_int_equal(slm_catalog_add(c, &bad), SLM_E_INVALID_ARG);
    bad.keep_alive_ns = SLM_KEEP_ALIVE_DEFAULT;
    snprintf(bad.alias, sizeof bad.alias, "mine"); /* collides with an id */
    assert_int_equal(slm_catalog_add(c, &bad), SLM_E_INVALID_ARG);
    TU_ASSERT_OK(slm_catalog_set_measured(c, "mine", 1234));
    TU_ASSERT_OK(slm_catalog_find(c, "mine", &e));
    assert_int_equal(slm_catalog_entry_footprint(&e), 1234);
    snprintf(e.commit, sizeof e.commit, "0123456789abcdef0123456789abcdef01234567");
    TU_ASSERT_OK(slm_catalog_update(c, &e));
    TU_ASSERT_OK(slm_catalog_find(c, "mine", &e));
    assert_string_equal(e.commit, "0123456789abcdef0123456789abcdef01234567");
    slm_catalog_free(c);
}

static void search_and_recommend(void **state) {
    (void)state;
    slm_catalog *c;
    TU_ASSERT_OK(slm_catalog_create(&c));
    TU_ASSERT_OK(slm_catalog_add_defaults(c));
    struct slm_catalog_filter f = slm_catalog_default_filter();
    struct slm_catalog_entry out[16];
    size_t n;
    f.capabilities = SLM_CAP_EMBED;
    TU_ASSERT_OK(slm_catalog_search(c, &f, out, 16, &n));
    assert_int_equal(n, 3);
    f = slm_catalog_default_filter();
    f.size_class = SLM_SIZE_SMALL;
    TU_ASSERT_OK(slm_catalog_search(c, &f, out, 16, &n));
    assert_int_equal(n, 3); /* 135M, 360M, 0.5B */
    f = slm_catalog_default_filter();
    f.query = "SMOL";
    TU_ASSERT_OK(slm_catalog_search(c, &f, out, 1, &n));
    assert_int_equal(n, 3);
    assert_string_equal(out[0].id, "smollm2-135m-instruct");
    f = slm_catalog_default_filter();
    f.capabilities = SLM_CAP_CHAT;
    f.max_memory = 500 * SLM_MIB;
    TU_ASSERT_OK(slm_catalog_search(c, &f, out, 16, &n));
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, "smollm2-135m-instruct");
    struct slm_catalog_entry r;
    TU_ASSERT_OK(slm_catalog_recommend(c, SLM_CAP_CHAT, 0, &r));
    assert_string_equal(r.id, "smollm2-1.7b-instruct");
    TU_ASSERT_OK(slm_catalog_recommend(c, SLM_CAP_CHAT, 1200 * SLM_MIB, &r));
    assert_int_equal(r.tier, SLM_COMPLEXITY_MEDIUM);
    assert_true(slm_catalog_entry_footprint(&r) <= 1200 * SLM_MIB);
    TU_ASSERT_OK(slm_catalog_recommend(c, SLM_CAP_EMBED, 0, &r));
    assert_string_equal(r.id, "bge-small-en-v1.5");
    assert_int_equal(slm_catalog_recommend(c, SLM_CAP_CHAT, 1000, &r), SLM_E_NOT_FOUND);
    slm_catalog_free(c);
}

static void footprint_from_gguf(void **state) {
    (void)state;
    char *path = tu_require_shared("models/stories260K/stories260K.gguf");
    slm_gguf *g;
    TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
    struct slm_footprint f;
    TU_ASSERT_OK(slm_model_footprint(g, NULL, &f));
    /* dim 64, 5 layers, 8 heads / 4 kv (head dim 8), ffn 172, vocab 512, ctx 512, F32. */
    assert_int_equal(f.weights, 1171200);
    assert_int_equal(f.n_ctx, 512);
    assert_int_equal(f.kv, 512ull * 5 * 4 * 8 * 2 * 2);
    assert_true(f.scratch > 0);
    assert_int_equal(f.total, f.weights + f.kv + f.scratch + f.metadata);
    struct slm_footprint_params p = slm_footprint_default_params();
    p.n_slots = 4;
    p.n_ctx = 256;
    struct slm_footprint f4;
    TU_ASSERT_OK(slm_model_footprint(g, &p, &f4));
    assert_int_equal(f4.kv, 2 * f.kv); /* half the context, four slots */
    slm_gguf_close(g);
    free(path);
}

static void footprint_bert_and_quantized(void **state) {
    (void)state;
    char *path = tu_require_shared("models/synth-bert/synth-bert-f16.gguf");
    slm_gguf *g;
    TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
    struct slm_footprint f, q;
    TU_ASSERT_OK(slm_model_footprint(g, NULL, &f));
    assert_int_equal(f.kv, 0); /* encoder: no cache kept */
    assert_int_equal(f.weights, slm_gguf_total_tensor_bytes(g));
    struct slm_footprint_params p = slm_footprint_default_params();
    p.load_type = SLM_TYPE_Q8_0;
    TU_ASSERT_OK(slm_model_footprint(g, &p, &q));
    assert_true(q.weights < f.weights && q.weights > f.weights / 2);
    p.load_type = 12345;
    assert_int_equal(slm_model_footprint(g, &p, &q), SLM_E_INVALID_ARG);
    slm_gguf_close(g);
    free(path);
}

static void local_gguf_entries(void **state) {
    (void)state;
    char *dir = tu_require_shared("models/synth");
    slm_catalog *c;
    TU_ASSERT_OK(slm_catalog_create(&c));
    size_t added, skipped;
    TU_ASSERT_OK(slm_catalog_add_dir(c, dir, &added, &skipped));
    assert_int_equal(added, 11);
    assert_int_equal(skipped, 0);
    struct slm_catalog_entry e;
    TU_ASSERT_OK(slm_catalog_find(c, "synth-a-q8_0", &e));
    assert_string_equal(e.architecture, "llama");
    assert_string_equal(e.tensor_type, "q8_0");
    assert_int_equal(e.n_params, 1836288);
    assert_int_equal(e.context_length, 512);
    assert_true(e.capabilities & SLM_CAP_GENERATE);
    assert_int_equal(e.tier, SLM_COMPLEXITY_LOW);
    assert_true(e.footprint_estimate > e.file_size);
    TU_ASSERT_OK(slm_catalog_add_dir(c, dir, &added, &skipped));
    assert_int_equal(added, 0); /* already there */
    assert_int_equal(skipped, 11);
    free(dir);
    char *bert = tu_require_shared("models/synth-bert/synth-bert-q8_0.gguf");
    TU_ASSERT_OK(slm_catalog_add_gguf(c, bert, "my-bert", &e));
    assert_int_equal(e.capabilities, SLM_CAP_EMBED);
    assert_string_equal(e.id, "my-bert");
    free(bert);
    assert_int_equal(slm_catalog_add_gguf(c, "/nonexistent.gguf", NULL, NULL), SLM_E_NOT_FOUND);
    slm_catalog_free(c);
}

static void complexity_heuristic(void **state) {
    (void)state;
    assert_int_equal(slm_complexity_estimate(NULL), SLM_COMPLEXITY_LOW);
    assert_int_equal(slm_complexity_estimate("Hello there, how are you"), SLM_COMPLEXITY_LOW);
    assert_int_equal(slm_complexity_estimate("Why is the sky blue"), SLM_COMPLEXITY_MEDIUM);
    assert_int_equal(slm_complexity_estimate("What is 12 * 7"), SLM_COMPLEXITY_MEDIUM);
    assert_int_equal(slm_complexity_estimate("Fix this:\nint main() {\n  return 0;\n}"),
                     SLM_COMPLEXITY_MEDIUM);
    assert_int_equal(slm_complexity_estimate("Explain step by step why 2+2=4, then compare it "
                                             "with 3+3. Can you? Will you?"),
                     SLM_COMPLEXITY_HIGH);
    assert_int_equal(slm_complexity_estimate("Implement this:\n```python\ndef f(x):\n    "
                                             "return x\n```"),
                     SLM_COMPLEXITY_HIGH);
    /* Cue words count at word starts only: "reasonable" counts, "unreasonable" does not. */
    assert_int_equal(slm_complexity_estimate("an unreasonable request"), SLM_COMPLEXITY_LOW);
}

/* Chat models of every tier, and one embedding model. */
static slm_catalog *selector_catalog(void) {
    slm_catalog *c;
    TU_ASSERT_OK(slm_catalog_create(&c));
    struct slm_catalog_entry es[] = {
        fake_entry("low", 100, SLM_CAP_CHAT | SLM_CAP_GENERATE, SLM_COMPLEXITY_LOW, 100),
        fake_entry("med-b", 300, SLM_CAP_CHAT | SLM_CAP_GENERATE, SLM_COMPLEXITY_MEDIUM, 300),
        fake_entry("med-a", 200, SLM_CAP_CHAT | SLM_CAP_GENERATE, SLM_COMPLEXITY_MEDIUM, 200),
        fake_entry("high", 400, SLM_CAP_CHAT | SLM_CAP_GENERATE, SLM_COMPLEXITY_HIGH, 400),
        fake_entry("emb", 50, SLM_CAP_EMBED, SLM_COMPLEXITY_LOW, 20),
    };
    for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) TU_ASSERT_OK(slm_catalog_add(c, &es[i]));
    return c;
}

static void selector_order_and_fallbacks(void **state) {
    (void)state;
    slm_catalog *c = selector_catalog();
    struct slm_select_request req = {.capability = SLM_CAP_CHAT,
                                     .complexity = SLM_COMPLEXITY_MEDIUM};
    struct slm_selection s, s2;
    TU_ASSERT_OK(slm_select(c, NULL, &req, &s));
    assert_string_equal(s.model, "med-a"); /* exact tier, fewer parameters */
    assert_int_equal(s.n_fallbacks, 3);
    assert_string_equal(s.fallbacks[0], "med-b");
    assert_string_equal(s.fallbacks[1], "high"); /* equal distance: the higher tier first */
    assert_string_equal(s.fallbacks[2], "low");
    assert_non_null(strstr(s.reason, "exact complexity match"));
    TU_ASSERT_OK(slm_select(c, NULL, &req, &s2));
    assert_memory_equal(&s, &s2, sizeof s); /* deterministic */
    /* Nearest complexity when the exact tier does not fit. */
    req.complexity = SLM_COMPLEXITY_HIGH;
    req.max_memory = 300;
    TU_ASSERT_OK(slm_select(c, NULL, &req, &s));
    assert_string_equal(s.model, "med-a");
    assert_non_null(strstr(s.reason, "nearest complexity"));
    req.max_memory = 10;
    assert_int_equal(slm_select(c, NULL, &req, &s), SLM_E_INSUFFICIENT_MEMORY);
    assert_non_null(strstr(s.reason, "no chat model fits"));
    req.max_memory = 0;
    req.capability = SLM_CAP_CODE;
    assert_int_equal(slm_select(c, NULL, &req, &s), SLM_E_NOT_FOUND);
    req.capability = SLM_CAP_EMBED;
    req.complexity = SLM_COMPLEXITY_AUTO;
    req.prompt = "Explain step by step why 2+2=4, and compare it with 3+3.";
    TU_ASSERT_OK(slm_select(c, NULL, &req, &s));
    assert_string_equal(s.model, "emb");
    assert_int_equal(s.complexity, SLM_COMPLEXITY_HIGH);
    assert_non_null(strstr(s.reason, "auto:"));
    req.capability = SLM_CAP_CHAT | SLM_CAP_EMBED;
    assert_int_equal(slm_select(c, NULL, &req, &s), SLM_E_INVALID_ARG);
    slm_catalog_free(c);
}

static void selector_prefers_resident(void **state) {
    (void)state;
    slm_catalog *c = selector_catalog();
    struct fake_clock clk;
    atomic_init(&clk.now, 1);
    struct fake_backend fb;
    fake_backend_init(&fb, &clk);
    const char *ids[] = {"low", "med-a", "med-b", "high"};
    for (int i = 0; i < 4; i++) {
        struct fake_model fm = {.load_ns = 0};
        snprintf(fm.id, sizeof fm.id, "%s", ids[i]);
        fake_backend_add(&fb, &fm);
    }
    struct slm_manager_params p = slm_manager_default_params();
    p.tick_interval_ns = 0;
    p.clock = fake_clock_as_clock(&clk);
    p.memory_budget = 700;
    p.system_reserve = 0;
    p.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    struct slm_backend be = fake_backend_as_backend(&fb);
    slm_manager *m;
    TU_ASSERT_OK(slm_manager_create(c, &be, &p, &m));
    slm_lease *lb, *l;
    TU_ASSERT_OK(slm_manager_acquire(m, "med-b", NULL, &lb));
    struct slm_select_request req = {.capability = SLM_CAP_CHAT,
                                     .complexity = SLM_COMPLEXITY_MEDIUM};
    struct slm_selection s;
    TU_ASSERT_OK(slm_select(c, m, &req, &s));
    assert_string_equal(s.model, "med-b"); /* resident beats fewer parameters */
    assert_true(s.resident);
    assert_non_null(strstr(s.reason, "already resident"));
    /* med-b is leased (300 of 700 used): high (400) still fits in what is free. */
    req.complexity = SLM_COMPLEXITY_HIGH;
    TU_ASSERT_OK(slm_select(c, m, &req, &s));
    assert_string_equal(s.model, "high");
    TU_ASSERT_OK(slm_manager_acquire(m, "low", NULL, &l));
    slm_manager_release(m, l);
    /* 300 leased + low 100 unleased: free 300 + freeable 100 = 400: high still fits. */
    TU_ASSERT_OK(slm_select(c, m, &req, &s));
    assert_string_equal(s.model, "high");
    /* With low leased too, 300 is free: high (400) no longer fits, a medium is nearest. */
    TU_ASSERT_OK(slm_manager_acquire(m, "low", NULL, &l));
    TU_ASSERT_OK(slm_select(c, m, &req, &s));
    assert_string_equal(s.model, "med-b");
    slm_manager_release(m, l);
    slm_manager_release(m, lb);
    slm_manager_free(m);
    slm_catalog_free(c);
    fake_backend_destroy(&fb);
}

static void names_round_trip(void **state) {
    (void)state;
    for (int i = 0; i < SLM_CAP_COUNT; i++) {
        unsigned cap = 0;
        TU_ASSERT_OK(slm_capability_from_name(slm_capability_name(1u << i), &cap));
        assert_int_equal(cap, 1u << i);
    }
    assert_string_equal(slm_capability_name(SLM_CAP_CHAT | SLM_CAP_EMBED), "?");
    for (int i = 0; i <= SLM_COMPLEXITY_AUTO; i++) {
        slm_complexity c;
        TU_ASSERT_OK(slm_complexity_from_name(slm_complexity_name((slm_complexity)i), &c));
        assert_int_equal(c, i);
    }
    for (int i = 0; i <= SLM_SIZE_LARGE; i++) {
        slm_size_class c;
        TU_ASSERT_OK(slm_size_class_from_name(slm_size_class_name((slm_size_class)i), &c));
        assert_int_equal(c, i);
    }
    slm_size_class sc;
    assert_int_equal(slm_size_class_from_name("huge", &sc), SLM_E_INVALID_ARG);
    assert_int_equal(slm_size_class_of(134515008), SLM_SIZE_SMALL);
    assert_int_equal(slm_size_class_of(1711376384), SLM_SIZE_LARGE);
    assert_true(slm_status_is_transient(SLM_E_IO));
    assert_false(slm_status_is_transient(SLM_E_INVALID_MODEL));
    assert_false(slm_status_is_transient(SLM_E_NOT_FOUND));
}

int main(void) {
    slm_log_set_level(SLM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(defaults_are_honest),
        cmocka_unit_test(user_entries_validated),
        cmocka_unit_test(search_and_recommend),
        cmocka_unit_test(footprint_from_gguf),
        cmocka_unit_test(footprint_bert_and_quantized),
        cmocka_unit_test(local_gguf_entries),
        cmocka_unit_test(complexity_heuristic),
        cmocka_unit_test(selector_order_and_fallbacks),
        cmocka_unit_test(selector_prefers_resident),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
