/* Tests of `slm list`, `slm select` and `slm ps` through the built program: the JSON shapes of
 * the script contract, what counts as local, and the errors. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static char *slm_bin(void) {
    return tu_build_path("slm");
}

static cJSON *run_json(int want_rc, const char *fmt, const char *arg) {
    char *bin = slm_bin(), *out = NULL, cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, arg);
    int rc = tu_run(&out, "%s %s", bin, cmd);
    assert_int_equal(rc, want_rc);
    cJSON *doc = cJSON_Parse(out);
    if (want_rc == 0) assert_non_null(doc);
    free(out);
    free(bin);
    return doc;
}

static void list_json(void **state) {
    (void)state;
    char *dir = tu_mkdtemp();
    cJSON *doc = run_json(0, "list --json --models-dir %s", dir);
    cJSON *models = cJSON_GetObjectItem(doc, "models");
    assert_int_equal(cJSON_GetArraySize(models), 8);
    cJSON *m;
    cJSON_ArrayForEach(m, models) {
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(m, "commit"))); /* unpinned, said so */
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(m, "sha256")));
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m, "local")));
    }
    assert_string_equal(cJSON_GetObjectItem(doc, "models_dir")->valuestring, dir);
    cJSON_Delete(doc);
    tu_rmtree(dir);
    free(dir);
}

static void list_local_files(void **state) {
    (void)state;
    char *src = tu_require_shared("models/stories260K/stories260K.gguf");
    char *dir = tu_mkdtemp();
    assert_int_equal(
        tu_run(NULL, "cp %s %s/smollm2-135m-instruct.gguf && cp %s %s/", src, dir, src, dir), 0);
    /* $SLM_HOME/models is the default folder: the temp folder plays $SLM_HOME. */
    char *models = NULL;
    assert_true(asprintf(&models, "%s/models", dir) > 0);
    assert_int_equal(tu_run(NULL, "mkdir -p %s && cp %s %s/", models, src, models), 0);
    char *bin = slm_bin(), *out = NULL;
    assert_int_equal(tu_run(&out, "SLM_HOME=%s %s list --json", dir, bin), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    cJSON *arr = cJSON_GetObjectItem(doc, "models"), *m;
    int local = 0;
    cJSON_ArrayForEach(m, arr) {
        if (cJSON_IsTrue(cJSON_GetObjectItem(m, "local"))) {
            local++;
            assert_string_equal(cJSON_GetObjectItem(m, "id")->valuestring, "stories260k");
        }
    }
    assert_int_equal(local, 1);
    cJSON_Delete(doc);
    free(out);
    /* --models-dir: the default model named by id is local, the other file is its own entry. */
    doc = run_json(0, "select --capability chat --complexity low --json --models-dir %s", dir);
    assert_string_equal(cJSON_GetObjectItem(doc, "model")->valuestring, "smollm2-135m-instruct");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc, "local")));
    cJSON_Delete(doc);
    free(bin);
    free(models);
    tu_rmtree(dir);
    free(dir);
    free(src);
}

static void select_json(void **state) {
    (void)state;
    char *dir = tu_mkdtemp();
    cJSON *doc =
        run_json(0, "select --capability chat --complexity medium --json --models-dir %s", dir);
    assert_string_equal(cJSON_GetObjectItem(doc, "model")->valuestring, "smollm2-360m-instruct");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(doc, "local")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "fallbacks")) >= 3);
    assert_non_null(strstr(cJSON_GetObjectItem(doc, "reason")->valuestring, "exact complexity"));
    cJSON_Delete(doc);
    doc = run_json(0,
                   "select --capability embed --complexity auto --prompt hello --json "
                   "--models-dir %s",
                   dir);
    assert_string_equal(cJSON_GetObjectItem(doc, "model")->valuestring, "all-minilm-l6-v2");
    assert_string_equal(cJSON_GetObjectItem(doc, "complexity")->valuestring, "low");
    cJSON_Delete(doc);
    doc = run_json(1,
                   "select --capability chat --complexity high --memory 1K --json "
                   "--models-dir %s 2>/dev/null",
                   dir);
    assert_null(doc); /* the JSON error goes to stderr */
    run_json(2, "select --complexity high --models-dir %s 2>/dev/null", dir);
    run_json(5, "select --capability teleport --complexity high --models-dir %s 2>/dev/null", dir);
    tu_rmtree(dir);
    free(dir);
}

static void ps_is_honest(void **state) {
    (void)state;
    char *bin = slm_bin(), *out = NULL;
    int rc = tu_run(&out, "%s ps --json 2>&1 >/dev/null", bin);
    assert_int_not_equal(rc, 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    cJSON *err = cJSON_GetObjectItem(doc, "error");
    assert_string_equal(cJSON_GetObjectItem(err, "code")->valuestring, "UNSUPPORTED");
    assert_non_null(strstr(cJSON_GetObjectItem(err, "message")->valuestring, "slm serve"));
    cJSON_Delete(doc);
    free(out);
    free(bin);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_json),
        cmocka_unit_test(list_local_files),
        cmocka_unit_test(select_json),
        cmocka_unit_test(ps_is_honest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
