/* `slm run` and `slm logits` through the built program: the script contract (JSON documents,
 * exit codes), greedy output equal to the reference tokens, logits at every position equal to
 * the reference's, stop strings, seeded sampling, and a generated model when ../shared is absent. */
#include "testutil.h"

#include "slm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *slm_bin, *tmpdir;

static int setup(void **state) {
    (void)state;
    slm_bin = tu_build_path("slm");
    tmpdir = tu_mkdtemp();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(tmpdir);
    free(tmpdir);
    free(slm_bin);
    return 0;
}

static cJSON *run_json(int want_rc, const char *fmt_args, const char *model, const char *extra) {
    char *out = NULL;
    int rc = tu_run(&out, "'%s' %s '%s' %s --json", slm_bin, fmt_args, model, extra);
    if (rc != want_rc) fail_msg("exit %d, expected %d: %s", rc, want_rc, out);
    cJSON *j = cJSON_Parse(out);
    free(out);
    return j;
}

static void greedy_matches_reference(void **state) {
    (void)state;
    char *model = tu_require_shared("models/stories260K/stories260K.gguf");
    char *gpath = tu_require_shared("golden/logits/stories260K-f32/once-upon-a-time.json");
    cJSON *g = tu_read_json(gpath);
    cJSON *j = run_json(0, "run", model, "'Once upon a time' --temperature 0 --max-tokens 48 --threads 2");
    assert_non_null(j);
    cJSON *pids = cJSON_GetObjectItem(j, "prompt_ids"), *ids = cJSON_GetObjectItem(j, "ids");
    cJSON *gp = cJSON_GetObjectItem(g, "prompt_tokens"), *gg = cJSON_GetObjectItem(g, "generated_tokens");
    assert_int_equal(cJSON_GetArraySize(pids), cJSON_GetArraySize(gp));
    for (int i = 0; i < cJSON_GetArraySize(gp); i++)
        assert_int_equal(cJSON_GetArrayItem(pids, i)->valueint, cJSON_GetArrayItem(gp, i)->valueint);
    assert_int_equal(cJSON_GetArraySize(ids), 48);
    for (int i = 0; i < 48; i++)
        assert_int_equal(cJSON_GetArrayItem(ids, i)->valueint, cJSON_GetArrayItem(gg, i)->valueint);
    const char *text = cJSON_GetObjectItem(j, "text")->valuestring;
    const char *gtext = cJSON_GetObjectItem(g, "generated_text")->valuestring;
    assert_true(strlen(text) > 20);
    assert_memory_equal(text, gtext, strlen(text)); /* a prefix of the reference text */
    cJSON *stats = cJSON_GetObjectItem(j, "stats");
    assert_string_equal(cJSON_GetObjectItem(stats, "stop_reason")->valuestring, "length");
    assert_int_equal(cJSON_GetObjectItem(stats, "generated_tokens")->valueint, 48);
    assert_true(cJSON_GetObjectItem(stats, "generation_tok_s")->valuedouble > 0);
    cJSON_Delete(j);
    cJSON_Delete(g);
    free(gpath);
    free(model);
}

static void logits_match_reference(void **state) {
    (void)state;
    char *model = tu_require_shared("models/TinyStories-656K/TinyStories-656K-f32.gguf");
    char *gpath = tu_require_shared("golden/logits/TinyStories-656K-f32/the-little-dog.json");
    cJSON *g = tu_read_json(gpath);
    cJSON *gp = cJSON_GetObjectItem(g, "prompt_tokens");
    char ids[512] = "";
    for (int i = 0; i < cJSON_GetArraySize(gp); i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "",
                 cJSON_GetArrayItem(gp, i)->valueint);
    char extra[700];
    snprintf(extra, sizeof extra, "--ids %s --top 16", ids);
    cJSON *j = run_json(0, "logits", model, extra);
    cJSON *pos = cJSON_GetObjectItem(j, "positions"), *gpos = cJSON_GetObjectItem(g, "positions");
    assert_int_equal(cJSON_GetArraySize(pos), cJSON_GetArraySize(gp));
    for (int i = 0; i < cJSON_GetArraySize(pos); i++) {
        cJSON *top = cJSON_GetObjectItem(cJSON_GetArrayItem(pos, i), "top");
        cJSON *gtop = cJSON_GetObjectItem(cJSON_GetArrayItem(gpos, i), "top");
        assert_int_equal(cJSON_GetArraySize(top), 16);
        /* same best token, and every logit within 1e-3 of the position's scale */
        assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(top, 0), 0)->valueint,
                         cJSON_GetArrayItem(cJSON_GetArrayItem(gtop, 0), 0)->valueint);
        double scale = fabs(cJSON_GetArrayItem(cJSON_GetArrayItem(gtop, 0), 1)->valuedouble);
        for (int k = 0; k < 16; k++) {
            double a = cJSON_GetArrayItem(cJSON_GetArrayItem(top, k), 1)->valuedouble;
            double b = cJSON_GetArrayItem(cJSON_GetArrayItem(gtop, k), 1)->valuedouble;
            assert_true(fabs(a - b) <= 1e-3 * scale);
        }
    }
    cJSON_Delete(j);
    /* --text gives the same ids as the tokenizer, BOS included */
    j = run_json(0, "logits", model, "--text 'The little dog' --top 2");
    cJSON *jids = cJSON_GetObjectItem(j, "ids");
    assert_int_equal(cJSON_GetArraySize(jids), cJSON_GetArraySize(gp));
    for (int i = 0; i < cJSON_GetArraySize(gp); i++)
        assert_int_equal(cJSON_GetArrayItem(jids, i)->valueint, cJSON_GetArrayItem(gp, i)->valueint);
    cJSON_Delete(j);
    cJSON_Delete(g);
    free(gpath);
    free(model);
}

static void stop_strings_and_seeds(void **state) {
    (void)state;
    char *model = tu_require_shared("models/stories260K/stories260K.gguf");
    cJSON *j = run_json(0, "run", model, "'Once upon a time' --temperature 0 --max-tokens 64 --stop Lily");
    assert_string_equal(cJSON_GetObjectItem(j, "text")->valuestring, ", there was a little girl named ");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "stop_reason")->valuestring, "stop");
    cJSON_Delete(j);
    char *a = NULL, *b = NULL, *c = NULL;
    const char *fmt = "'%s' run '%s' 'One day' --temperature 1.0 --seed %d --max-tokens 32 --json | head -c 100000";
    assert_int_equal(tu_run(&a, fmt, slm_bin, model, 7), 0);
    assert_int_equal(tu_run(&b, fmt, slm_bin, model, 7), 0);
    assert_int_equal(tu_run(&c, fmt, slm_bin, model, 8), 0);
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b), *jc = cJSON_Parse(c);
    char *ia = cJSON_PrintUnformatted(cJSON_GetObjectItem(ja, "ids"));
    char *ib = cJSON_PrintUnformatted(cJSON_GetObjectItem(jb, "ids"));
    char *ic = cJSON_PrintUnformatted(cJSON_GetObjectItem(jc, "ids"));
    assert_string_equal(ia, ib);
    assert_string_not_equal(ia, ic);
    free(ia), free(ib), free(ic), free(a), free(b), free(c);
    cJSON_Delete(ja), cJSON_Delete(jb), cJSON_Delete(jc);
    free(model);
}

static void generated_model_runs(void **state) {
    (void)state;
    char path[4200], *mk = tu_build_path("mkmodel");
    snprintf(path, sizeof path, "%s/tiny.gguf", tmpdir);
    assert_int_equal(tu_run(NULL, "'%s' '%s' --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 96 "
                                  "--vocab 400 --ctx 64", mk, path), 0);
    free(mk);
    cJSON *j = run_json(0, "run", path, "'abc' --temperature 0 --max-tokens 100 --ignore-eos");
    /* context 64: the prompt (BOS + 3) plus generated tokens fill it exactly */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ids")),
                     64 - cJSON_GetArraySize(cJSON_GetObjectItem(j, "prompt_ids")) + 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "stop_reason")->valuestring,
                        "context");
    cJSON_Delete(j);
    j = run_json(0, "logits", path, "--ids 1,5,9 --top 4");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "positions")), 3);
    cJSON_Delete(j);
    /* bench: the script contract's keys, with values that make sense */
    j = run_json(0, "bench", path, "--prompt-tokens 16 --gen-tokens 8 --reps 1 --threads 2");
    const char *keys[] = {"pp_tok_s", "tg_tok_s", "roofline_fraction", "rss_bytes", "bandwidth_gb_s"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        cJSON *v = cJSON_GetObjectItem(j, keys[i]);
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0)) fail_msg("bench %s missing or not > 0", keys[i]);
    }
    const char *kernels = cJSON_GetStringValue(cJSON_GetObjectItem(j, "kernels"));
    assert_non_null(kernels);
    assert_string_equal(kernels, slm_cpu_kernels());
    cJSON_Delete(j);
    /* prompt + generation longer than the context (64) is a usage error of the input */
    assert_int_equal(tu_run(NULL, "'%s' bench '%s' --prompt-tokens 60 --gen-tokens 8 2>/dev/null",
                            slm_bin, path), 5);
}

static void errors(void **state) {
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/missing.gguf", tmpdir);
    char *out = NULL;
    assert_int_equal(tu_run(&out, "'%s' run '%s' hi --json 2>&1 >/dev/null", slm_bin, path), 3);
    cJSON *j = cJSON_Parse(out);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring, "NOT_FOUND");
    cJSON_Delete(j);
    free(out);
    assert_int_equal(tu_run(NULL, "'%s' logits '%s' --ids 1,x 2>/dev/null", slm_bin, path), 2);
    assert_int_equal(tu_run(NULL, "'%s' logits '%s' 2>/dev/null", slm_bin, path), 2);
    assert_int_equal(tu_run(NULL, "'%s' run '%s' hi --top-p 2 2>/dev/null", slm_bin, path), 2);
    const char *stories = tu_shared_path("models/stories260K/stories260K.gguf");
    if (stories) {
        char s[4096];
        snprintf(s, sizeof s, "%s", stories);
        /* token out of the vocabulary: invalid input, exit 5 */
        assert_int_equal(tu_run(NULL, "'%s' logits '%s' --ids 1,999999 2>/dev/null", slm_bin, s), 5);
        const char *bert = tu_shared_path("models/synth-bert/synth-bert-f16.gguf");
        if (bert) {
            snprintf(s, sizeof s, "%s", bert);
            assert_int_equal(tu_run(&out, "'%s' run '%s' hi --json 2>&1 >/dev/null", slm_bin, s), 4);
            assert_non_null(strstr(out, "encoder"));
            free(out);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy_matches_reference), cmocka_unit_test(logits_match_reference),
        cmocka_unit_test(stop_strings_and_seeds),   cmocka_unit_test(generated_model_runs),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
