/* Tests of the embedding cache: keys, LRU bound, TTL on an injected clock, partial batches, and
 * persistence across restarts in SQLite (round trip, expiry and bound on reopen, bad files). */
// ctest-labels: tsan
#include "testutil.h"

#include "fake_backend.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DIM  4
#define OPTS "pooling=mean;normalize=1"

static struct fake_clock clk;

static struct slm_embed_cache_params params(size_t max, uint64_t ttl) {
    struct slm_embed_cache_params p = slm_embed_cache_default_params();
    p.max_entries = max;
    p.ttl_ns = ttl;
    p.clock = fake_clock_as_clock(&clk);
    return p;
}

static void key_of(const char *text, uint8_t key[SLM_EMBED_KEY_BYTES]) {
    slm_embed_cache_key("digest-1", OPTS, text, strlen(text), key);
}

static void vec_of(float v, float out[DIM]) {
    for (int i = 0; i < DIM; i++) out[i] = v + (float)i;
}

static void put(slm_embed_cache *c, const char *text, float v) {
    uint8_t key[SLM_EMBED_KEY_BYTES];
    float vec[DIM];
    key_of(text, key);
    vec_of(v, vec);
    TU_ASSERT_OK(slm_embed_cache_put(c, key, vec, DIM));
}

/* The cached first component, or -1 on a miss. */
static float get(slm_embed_cache *c, const char *text) {
    uint8_t key[SLM_EMBED_KEY_BYTES];
    float vec[DIM];
    key_of(text, key);
    return slm_embed_cache_get(c, key, vec, DIM) == SLM_OK ? vec[0] : -1;
}

static void keys_and_hits(void **state) {
    (void)state;
    uint8_t a[32], b[32], c2[32], d[32];
    slm_embed_cache_key("digest-1", OPTS, "hello", 5, a);
    slm_embed_cache_key("digest-2", OPTS, "hello", 5, b);
    slm_embed_cache_key("digest-1", "pooling=cls;normalize=1", "hello", 5, c2);
    slm_embed_cache_key("digest-1", OPTS, "hello!", 6, d);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(a, c2, 32);
    assert_memory_not_equal(a, d, 32);
    slm_embed_cache *c;
    struct slm_embed_cache_params p = params(10, 3600 * SLM_NS_PER_SEC);
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    assert_true(get(c, "hello") < 0);
    put(c, "hello", 7);
    assert_true(get(c, "hello") == 7);
    float v[8];
    assert_int_equal(slm_embed_cache_get(c, a, v, 8), SLM_E_NOT_FOUND); /* other dim */
    assert_int_equal(slm_embed_cache_get(c, a, v, 0), SLM_E_INVALID_ARG);
    struct slm_embed_cache_stats st;
    slm_embed_cache_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.entries, 1);
    slm_embed_cache_free(c);
}

static void lru_bound(void **state) {
    (void)state;
    slm_embed_cache *c;
    struct slm_embed_cache_params p = params(3, 3600 * SLM_NS_PER_SEC);
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    put(c, "a", 1);
    put(c, "b", 2);
    put(c, "c", 3);
    assert_true(get(c, "a") == 1); /* a is now the most recent: b is the LRU */
    put(c, "d", 4);
    assert_true(get(c, "b") < 0);
    assert_true(get(c, "a") == 1 && get(c, "c") == 3 && get(c, "d") == 4);
    put(c, "c", 30); /* replacing does not evict */
    assert_true(get(c, "a") == 1 && get(c, "c") == 30 && get(c, "d") == 4);
    struct slm_embed_cache_stats st;
    slm_embed_cache_stats(c, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 1);
    slm_embed_cache_free(c);
}

static void ttl_expiry(void **state) {
    (void)state;
    slm_embed_cache *c;
    struct slm_embed_cache_params p = params(10, 3600 * SLM_NS_PER_SEC);
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    put(c, "a", 1);
    fake_clock_advance(&clk, 3600 * SLM_NS_PER_SEC - 1);
    assert_true(get(c, "a") == 1); /* hits do not extend the TTL */
    fake_clock_advance(&clk, 1);
    assert_true(get(c, "a") < 0);
    struct slm_embed_cache_stats st;
    slm_embed_cache_stats(c, &st);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.entries, 0);
    slm_embed_cache_free(c);
}

static void partial_batch(void **state) {
    (void)state;
    slm_embed_cache *c;
    struct slm_embed_cache_params p = params(100, 3600 * SLM_NS_PER_SEC);
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    const char *texts[4] = {"one", "two", "three", "four"};
    float vecs[4 * DIM];
    for (int i = 0; i < 4; i++) vec_of((float)(10 * i), vecs + i * DIM);
    bool seed_hit[4] = {false, true, false, true}; /* store only "one" and "three" */
    TU_ASSERT_OK(slm_embed_cache_put_batch(c, "digest-1", OPTS, texts, 4, vecs, DIM, seed_hit));
    float out[4 * DIM];
    bool hit[4];
    size_t n_hits;
    TU_ASSERT_OK(
        slm_embed_cache_lookup_batch(c, "digest-1", OPTS, texts, 4, out, DIM, hit, &n_hits));
    assert_int_equal(n_hits, 2);
    assert_true(hit[0] && !hit[1] && hit[2] && !hit[3]);
    assert_memory_equal(out, vecs, DIM * sizeof(float));
    assert_memory_equal(out + 2 * DIM, vecs + 2 * DIM, DIM * sizeof(float));
    /* The caller computes only the misses, then stores them. */
    TU_ASSERT_OK(slm_embed_cache_put_batch(c, "digest-1", OPTS, texts, 4, vecs, DIM, hit));
    TU_ASSERT_OK(
        slm_embed_cache_lookup_batch(c, "digest-1", OPTS, texts, 4, out, DIM, hit, &n_hits));
    assert_int_equal(n_hits, 4);
    assert_memory_equal(out, vecs, sizeof vecs);
    /* Another model's digest shares nothing. */
    TU_ASSERT_OK(
        slm_embed_cache_lookup_batch(c, "digest-2", OPTS, texts, 4, out, DIM, hit, &n_hits));
    assert_int_equal(n_hits, 0);
    slm_embed_cache_free(c);
}

static void sqlite_round_trip(void **state) {
    (void)state;
    char *dir = tu_mkdtemp();
    char path[4096];
    snprintf(path, sizeof path, "%s/embed.sqlite", dir);
    struct slm_embed_cache_params p = params(10, 3600 * SLM_NS_PER_SEC);
    p.sqlite_path = path;
    slm_embed_cache *c;
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    put(c, "old", 1);
    fake_clock_advance(&clk, 1800 * SLM_NS_PER_SEC);
    put(c, "a", 2);
    put(c, "b", 3);
    slm_embed_cache_free(c);

    TU_ASSERT_OK(slm_embed_cache_create(&p, &c)); /* a restart */
    struct slm_embed_cache_stats st;
    slm_embed_cache_stats(c, &st);
    assert_int_equal(st.entries, 3);
    assert_true(get(c, "old") == 1 && get(c, "a") == 2 && get(c, "b") == 3);
    slm_embed_cache_free(c);

    /* TTLs run on across restarts: "old" is past it at the next start and is dropped. */
    fake_clock_advance(&clk, 1800 * SLM_NS_PER_SEC);
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    slm_embed_cache_stats(c, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.expirations, 1);
    assert_true(get(c, "old") < 0);
    slm_embed_cache_free(c);

    /* A smaller bound on reopen keeps the newest entries. */
    p.max_entries = 1;
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    slm_embed_cache_stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_true(get(c, "b") == 3);
    slm_embed_cache_free(c);

    /* Not a database: a clear I/O error, no crash. */
    FILE *f = fopen(path, "wb");
    fputs("this is not sqlite, just text long enough to be read as a header......", f);
    fclose(f);
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    remove(wal);
    assert_int_equal(slm_embed_cache_create(&p, &c), SLM_E_IO);
    assert_null(c);
    tu_rmtree(dir);
    free(dir);
}

struct hammer {
    slm_embed_cache *c;
    int id;
};

static void *hammer_main(void *arg) {
    struct hammer *h = arg;
    char text[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(text, sizeof text, "t%d", (i * 7 + h->id) % 300);
        if (get(h->c, text) < 0) put(h->c, text, (float)i);
    }
    return NULL;
}

static void concurrent_use(void **state) {
    (void)state;
    slm_embed_cache *c;
    struct slm_embed_cache_params p = params(100, 3600 * SLM_NS_PER_SEC);
    TU_ASSERT_OK(slm_embed_cache_create(&p, &c));
    pthread_t t[4];
    struct hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){c, i};
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    struct slm_embed_cache_stats st;
    slm_embed_cache_stats(c, &st);
    assert_int_equal(st.hits + st.misses, 8000);
    assert_true(st.entries <= 100);
    slm_embed_cache_free(c);
}

int main(void) {
    atomic_init(&clk.now, 1700000000ull * SLM_NS_PER_SEC);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_and_hits),     cmocka_unit_test(lru_bound),
        cmocka_unit_test(ttl_expiry),        cmocka_unit_test(partial_batch),
        cmocka_unit_test(sqlite_round_trip), cmocka_unit_test(concurrent_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
