/* Memory accounting: the resident memory a loaded model and its session add is within 5% of the
 * footprint estimated from the GGUF header before loading (weights + KV cache + buffers). */
#include "testutil.h"

#include "slm.h"

#include <stdlib.h>
#include <unistd.h>

static uint64_t rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, pages = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu %lu", &size, &pages), 2);
    fclose(f);
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void rss_matches_estimate(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("skipped: sanitizer shadow memory makes RSS meaningless here\n");
    skip();
#endif
    char *dir = tu_mkdtemp(), path[4200], *mk = tu_build_path("mkmodel");
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    assert_int_equal(tu_run(NULL, "'%s' '%s' --dim 256 --layers 8 --heads 8 --kv-heads 4 --ffn 768 "
                                  "--vocab 8000 --ctx 1024", mk, path), 0);
    free(mk);
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
    struct slm_footprint_params fpp = slm_footprint_default_params();
    fpp.n_threads = 2;
    struct slm_footprint fp;
    TU_ASSERT_OK(slm_model_footprint(g, &fpp, &fp));
    slm_gguf_close(g);

    uint64_t before = rss();
    struct slm_model_params mp = slm_model_default_params();
    mp.prefault = true;
    slm_model *m = NULL;
    TU_ASSERT_OK(slm_model_load(path, &mp, &m));
    struct slm_session_params sp = slm_session_default_params();
    sp.n_threads = 2;
    slm_session *s = NULL;
    TU_ASSERT_OK(slm_session_create(m, &sp, &s));
    int32_t toks[64];
    for (int i = 0; i < 64; i++) toks[i] = (i * 97) % 8000;
    const float *logits;
    TU_ASSERT_OK(slm_session_eval(s, toks, 64, &logits));
    uint64_t after = rss();
    double grown = (double)(after - before), est = (double)fp.total;
    printf("estimate %.2f MiB (weights %.2f, KV %.2f, buffers %.2f); RSS grew %.2f MiB (%+.2f%%)\n",
           est / 1048576, fp.weights / 1048576.0, fp.kv / 1048576.0, fp.scratch / 1048576.0,
           grown / 1048576, 100 * (grown - est) / est);
    assert_true(grown >= 0.95 * est && grown <= 1.05 * est);
    slm_session_free(s);
    slm_model_free(m);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(rss_matches_estimate)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
