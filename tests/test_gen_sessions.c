/* Several sessions over one loaded model, used from several threads at once: weights are shared,
 * each session's KV cache is its own, and every session produces exactly what it produces alone.
 * Runs under ThreadSanitizer in CI. */
// ctest-labels: tsan
#include "testutil.h"

#include "slm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { N_SESSIONS = 4, N_TOKENS = 24 };

struct job {
    const slm_model *m;
    const slm_tokenizer *tok;
    const char *prompt;
    int32_t out[N_TOKENS];
    size_t n_out;
    slm_status st;
};

static void *run_job(void *p) {
    struct job *j = p;
    struct slm_session_params sp = slm_session_default_params();
    sp.n_ctx = 128;
    sp.n_threads = 2;
    slm_session *s = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    j->st = slm_session_create(j->m, &sp, &s);
    if (j->st == SLM_OK)
        j->st = slm_tokenize(j->tok, j->prompt, strlen(j->prompt), SLM_TOKENIZE_ADD_SPECIAL, &ids, &n);
    struct slm_generate_params gp = slm_generate_default_params();
    gp.max_tokens = N_TOKENS;
    gp.ignore_eos = true;
    gp.sampling.temperature = 0;
    struct slm_generate_result r;
    if (j->st == SLM_OK) j->st = slm_generate(s, j->tok, ids, n, &gp, NULL, NULL, &r);
    if (j->st == SLM_OK) {
        j->n_out = r.n_ids;
        memcpy(j->out, r.ids, r.n_ids * sizeof *r.ids);
        slm_generate_result_clear(&r);
    }
    slm_free(ids);
    slm_session_free(s);
    return NULL;
}

static void concurrent_sessions_match_sequential(void **state) {
    (void)state;
    char *dir = tu_mkdtemp(), path[4200], *mk = tu_build_path("mkmodel");
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    /* large enough that matmuls use the pool */
    assert_int_equal(tu_run(NULL, "'%s' '%s' --dim 256 --layers 2 --heads 8 --kv-heads 4 --ffn 512 "
                                  "--vocab 1000 --ctx 128", mk, path), 0);
    free(mk);
    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    TU_ASSERT_OK(slm_model_load(path, NULL, &m));
    TU_ASSERT_OK(slm_tokenizer_from_gguf(slm_model_get_gguf(m), &tok));
    static const char *const prompts[N_SESSIONS] = {"abc", "hello there", "zzz", "a b c d e f"};
    struct job alone[N_SESSIONS], together[N_SESSIONS];
    for (int i = 0; i < N_SESSIONS; i++) {
        alone[i] = (struct job){.m = m, .tok = tok, .prompt = prompts[i]};
        together[i] = alone[i];
        run_job(&alone[i]);
        TU_ASSERT_OK(alone[i].st);
        assert_int_equal(alone[i].n_out, N_TOKENS);
    }
    pthread_t th[N_SESSIONS];
    for (int i = 0; i < N_SESSIONS; i++) assert_int_equal(pthread_create(&th[i], NULL, run_job, &together[i]), 0);
    for (int i = 0; i < N_SESSIONS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_SESSIONS; i++) {
        TU_ASSERT_OK(together[i].st);
        assert_int_equal(together[i].n_out, alone[i].n_out);
        assert_memory_equal(together[i].out, alone[i].out, alone[i].n_out * sizeof(int32_t));
    }
    /* different prompts led somewhere different: the sessions really are separate */
    assert_memory_not_equal(alone[0].out, alone[1].out, N_TOKENS * sizeof(int32_t));
    slm_tokenizer_free(tok);
    slm_model_free(m);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(concurrent_sessions_match_sequential)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
