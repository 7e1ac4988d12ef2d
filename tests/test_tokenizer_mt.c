/* One tokenizer used from several threads at once (it is immutable after creation): every thread
 * must get the ids a single thread gets. Run under ThreadSanitizer in CI. */
// ctest-labels: tsan
#include "testutil.h"

#include "slm/tokenizer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const texts[] = {
    "Hello world, this is a test of the emergency broadcast system.",
    "int main(void) { return 42; }\n\tprintf(\"%d\\n\", x);",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 1234567 <|endoftext|>",
    "   leading and trailing   ",
};
#define N_TEXTS (sizeof texts / sizeof *texts)

struct job {
    const slm_tokenizer *t;
    int32_t *want[N_TEXTS];
    size_t n_want[N_TEXTS];
    atomic_int failures;
};

static void worker(void *ctx, int ith, int nth) {
    (void)nth;
    struct job *j = ctx;
    for (int round = 0; round < 40; round++) {
        size_t k = (size_t)(round + ith) % N_TEXTS;
        int32_t *ids;
        size_t n;
        if (slm_tokenize(j->t, texts[k], strlen(texts[k]), SLM_TOKENIZE_PARSE_SPECIAL, &ids, &n) !=
                SLM_OK ||
            n != j->n_want[k] || memcmp(ids, j->want[k], n * sizeof *ids))
            atomic_fetch_add(&j->failures, 1);
        slm_free(ids);
    }
}

static void run(const slm_tokenizer *t) {
    struct job j = {.t = t};
    atomic_init(&j.failures, 0);
    for (size_t k = 0; k < N_TEXTS; k++)
        TU_ASSERT_OK(slm_tokenize(t, texts[k], strlen(texts[k]), SLM_TOKENIZE_PARSE_SPECIAL,
                                  &j.want[k], &j.n_want[k]));
    slm_pool *pool;
    TU_ASSERT_OK(slm_pool_create(4, &pool));
    slm_pool_run(pool, worker, &j, 4);
    slm_pool_free(pool);
    assert_int_equal(atomic_load(&j.failures), 0);
    for (size_t k = 0; k < N_TEXTS; k++) slm_free(j.want[k]);
}

static void shared_tokenizer(void **state) {
    (void)state;
    static const char tiny[] =
        "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":"
        "{\"a\":0,\"b\":1,\"ab\":2,\"c\":3},\"merges\":[\"a b\"]}}";
    slm_tokenizer *t;
    TU_ASSERT_OK(slm_tokenizer_from_hf_json(tiny, strlen(tiny), &t));
    run(t);
    slm_tokenizer_free(t);

    static const char *const vocabs[] = {"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf",
                                         "ggml-vocab-bert-bge.gguf"};
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/tokenizers/llama.cpp/%s", vocabs[v]);
        const char *p = tu_shared_path(rel);
        if (!p) {
            printf("skipped: %s not found\n", rel);
            continue;
        }
        slm_gguf *g;
        TU_ASSERT_OK(slm_gguf_open(p, NULL, &g));
        TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &t));
        slm_gguf_close(g);
        run(t);
        slm_tokenizer_free(t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
