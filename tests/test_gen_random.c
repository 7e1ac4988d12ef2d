/* 200 random prompts and parameter combinations through tokenizer, sessions, sampling and
 * generation (run under ASan+UBSan in CI): arbitrary bytes, chat templates, stop strings, context
 * limits, session reuse. Every call must succeed or fail with a clean status. */
#include "testutil.h"

#include "slm.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static float unit(void) { return (float)(next() % 10000) / 10000.0f; }

static void random_text(char *buf, size_t cap) {
    static const char *const pieces[] = {"Once upon a time", " the ", "\xc3\xa9", "\xe4\xb8\xad",
                                         "\xf0\x9f\x98\x80", "<s>", "</s>", "<|im_start|>", "\n",
                                         "  ", "Lily", "\xff", "\xc3", "0123", "\t"};
    size_t n = 0, k = next() % 12;
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[next() % (sizeof pieces / sizeof *pieces)];
        if (next() % 5 == 0) { /* a random byte, valid UTF-8 or not */
            if (n + 1 < cap) buf[n++] = (char)(1 + next() % 255);
            continue;
        }
        size_t len = strlen(p);
        if (n + len + 1 >= cap) break;
        memcpy(buf + n, p, len);
        n += len;
    }
    buf[n] = '\0';
}

static void random_combinations(void **state) {
    (void)state;
    char *dir = tu_mkdtemp(), path[4200];
    const char *shared = tu_shared_path("models/stories260K/stories260K.gguf");
    if (shared) {
        snprintf(path, sizeof path, "%s", shared);
    } else {
        char *mk = tu_build_path("mkmodel");
        snprintf(path, sizeof path, "%s/m.gguf", dir);
        assert_int_equal(tu_run(NULL, "'%s' '%s' --ctx 96", mk, path), 0);
        free(mk);
    }
    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    TU_ASSERT_OK(slm_model_load(path, NULL, &m));
    TU_ASSERT_OK(slm_tokenizer_from_gguf(slm_model_get_gguf(m), &tok));
    int ok = 0, rejected = 0;
    for (int it = 0; it < 200; it++) {
        char text[256], stop[16];
        random_text(text, sizeof text);
        random_text(stop, sizeof stop);
        struct slm_session_params sp = slm_session_default_params();
        sp.n_ctx = 8 + next() % 120;
        sp.n_batch = 1 + next() % 64;
        sp.n_threads = 1 + (int)(next() % 3);
        sp.kv_type = next() % 2 ? SLM_KV_F16 : SLM_KV_F32;
        struct slm_generate_params gp = slm_generate_default_params();
        gp.max_tokens = (int32_t)(next() % 24) - 1;
        gp.ignore_eos = next() % 2;
        const char *stops[1] = {stop};
        gp.stops = stops;
        gp.n_stops = next() % 2;
        gp.sampling.temperature = next() % 3 ? unit() * 2.0f : 0.0f;
        gp.sampling.top_k = (int32_t)(next() % 60);
        gp.sampling.top_p = 0.05f + unit() * 0.95f;
        gp.sampling.min_p = unit() * 0.3f;
        gp.sampling.repeat_penalty = 0.5f + unit() * 1.5f;
        gp.sampling.frequency_penalty = unit() - 0.5f;
        gp.sampling.presence_penalty = unit() - 0.5f;
        gp.sampling.penalty_last_n = (int32_t)(next() % 100);
        gp.sampling.seed = next();
        int32_t *ids = NULL;
        size_t n_ids = 0;
        unsigned flags = (next() % 2 ? SLM_TOKENIZE_ADD_SPECIAL : 0) |
                         (next() % 2 ? SLM_TOKENIZE_PARSE_SPECIAL : 0);
        if (next() % 4 == 0) {
            struct slm_chat_template t;
            TU_ASSERT_OK(slm_chat_template_from_gguf(slm_model_get_gguf(m), &t));
            struct slm_chat_message msg[2] = {{"system", stop}, {"user", text}};
            char *chat = NULL;
            TU_ASSERT_OK(slm_chat_apply(&t, msg, 2, true, &chat));
            TU_ASSERT_OK(slm_tokenize(tok, chat, strlen(chat), flags, &ids, &n_ids));
            slm_free(chat);
            slm_chat_template_clear(&t);
        } else {
            TU_ASSERT_OK(slm_tokenize(tok, text, strlen(text), flags, &ids, &n_ids));
        }
        slm_session *s = NULL;
        TU_ASSERT_OK(slm_session_create(m, &sp, &s));
        for (int round = 0; round < 2; round++) { /* the second round reuses the session */
            struct slm_generate_result r;
            slm_status st = slm_generate(s, tok, ids, n_ids, &gp, NULL, NULL, &r);
            if (st == SLM_OK) {
                ok++;
                assert_true(r.n_ids <= (size_t)(gp.max_tokens < 0 ? 1 << 20 : gp.max_tokens));
                assert_true(slm_session_n_past(s) <= slm_session_n_ctx(s));
                slm_generate_result_clear(&r);
            } else {
                /* only these are acceptable: empty prompt, prompt longer than the context */
                if (st != SLM_E_INVALID_INPUT && st != SLM_E_CONTEXT_FULL)
                    fail_msg("iteration %d: %s (%s)", it, slm_status_name(st), slm_error_detail());
                rejected++;
            }
            slm_session_rewind(s, next() % (slm_session_n_past(s) + 1));
        }
        slm_session_free(s);
        slm_free(ids);
    }
    printf("200 combinations: %d generations, %d clean rejections\n", ok, rejected);
    assert_true(ok > 100);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(random_combinations)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
