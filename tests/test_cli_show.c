/* Tests of `slm show` through the built program: the script contract (--json document on
 * stdout, JSON error on stderr with a meaningful exit code) on generated and shared models. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static char *dir;

static int setup(void **state) {
    (void)state;
    dir = tu_mkdtemp();
    return dir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static cJSON *show_json(const char *model, int *rc) {
    char *slm = tu_build_path("slm"), *out = NULL;
    *rc = tu_run(&out, "'%s' show '%s' --json", slm, model);
    cJSON *j = cJSON_Parse(out);
    free(out);
    free(slm);
    return j;
}

static void show_generated_model(void **state) {
    (void)state;
    char path[4200], *mk = tu_build_path("mkmodel");
    snprintf(path, sizeof path, "%s/gen.gguf", dir);
    assert_int_equal(tu_run(NULL, "'%s' '%s' --dim 32 --layers 3 --heads 4 --kv-heads 2 --ffn 48 "
                                  "--vocab 300 --ctx 64", mk, path), 0);
    free(mk);
    int rc;
    cJSON *j = show_json(path, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "architecture")->valuestring, "llama");
    /* embd + output (300x32 each) + norm + 3 layers of (2*32*32 + 2*32*16 + 3*32*48 + 2*32) */
    double params = 2 * 300 * 32 + 32 + 3 * (2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 48 + 2 * 32);
    assert_true(cJSON_GetObjectItem(j, "parameters")->valuedouble == params);
    assert_int_equal(cJSON_GetObjectItem(j, "tensor_count")->valueint, 3 + 9 * 3);
    assert_int_equal(cJSON_GetObjectItem(j, "context_length")->valueint, 64);
    assert_int_equal(cJSON_GetObjectItem(j, "vocab_size")->valueint, 300);
    cJSON *types = cJSON_GetObjectItem(j, "tensor_types");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(types, "f32"), "tensors")->valueint, 30);
    assert_true(cJSON_GetObjectItem(j, "file_size")->valuedouble >= params * 4);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "runnable")));
    /* weights + KV (context 64 x 3 layers x 2 kv heads x head dim 8 x (K,V) x f16) + buffers */
    cJSON *fp = cJSON_GetObjectItem(j, "footprint");
    assert_true(cJSON_GetObjectItem(fp, "weights")->valuedouble == params * 4);
    assert_true(cJSON_GetObjectItem(fp, "kv_cache")->valuedouble == 64 * 3 * 2 * 8 * 2 * 2);
    assert_true(cJSON_GetObjectItem(fp, "scratch")->valuedouble > 0);
    assert_true(cJSON_GetObjectItem(fp, "metadata")->valuedouble > 300 * 4); /* the vocabulary */
    assert_true(cJSON_GetObjectItem(j, "footprint_estimate")->valuedouble ==
                params * 4 + 64 * 3 * 2 * 8 * 2 * 2 + cJSON_GetObjectItem(fp, "scratch")->valuedouble +
                    cJSON_GetObjectItem(fp, "metadata")->valuedouble);
    cJSON_Delete(j);
}

static void show_shared_models(void **state) {
    (void)state;
    char *q4k = tu_require_shared("models/synth/synth-a-q4_k.gguf");
    int rc;
    cJSON *j = show_json(q4k, &rc);
    assert_int_equal(rc, 0);
    cJSON *types = cJSON_GetObjectItem(j, "tensor_types");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(types, "q4_k"), "tensors")->valueint, 16);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(types, "f32"), "tensors")->valueint, 5);
    assert_int_equal(cJSON_GetObjectItem(j, "vocab_size")->valueint, 512);
    cJSON_Delete(j);
    char *slm = tu_build_path("slm"), *out = NULL;
    assert_int_equal(tu_run(&out, "'%s' show '%s' --tensors --json", slm, q4k), 0);
    j = cJSON_Parse(out);
    cJSON *ts = cJSON_GetObjectItem(j, "tensors");
    assert_int_equal(cJSON_GetArraySize(ts), 21);
    int q4k_seen = 0;
    cJSON *t;
    cJSON_ArrayForEach(t, ts) {
        if (!strcmp(cJSON_GetObjectItem(t, "name")->valuestring, "blk.0.ffn_down.weight")) {
            assert_string_equal(cJSON_GetObjectItem(t, "type")->valuestring, "q4_k");
            assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "shape"), 0)->valueint, 768);
            assert_int_equal(cJSON_GetObjectItem(t, "bytes")->valueint, 768 / 256 * 144 * 256);
            q4k_seen = 1;
        }
    }
    assert_true(q4k_seen);
    cJSON_Delete(j);
    free(out);
    free(slm);
    free(q4k);
    char *vocab = tu_require_shared("models/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf");
    j = show_json(vocab, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(cJSON_GetObjectItem(j, "architecture")->valuestring, "gpt2");
    assert_int_equal(cJSON_GetObjectItem(j, "tensor_count")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(j, "vocab_size")->valueint, 50257);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "footprint_estimate")));
    assert_non_null(strstr(cJSON_GetObjectItem(j, "not_runnable_because")->valuestring, "gpt2"));
    cJSON_Delete(j);
    free(vocab);
}

static void show_errors(void **state) {
    (void)state;
    char *slm = tu_build_path("slm"), *out = NULL;
    char path[4200];
    /* missing file: exit 3, JSON error on stderr, nothing on stdout */
    int rc = tu_run(&out, "'%s' show '%s/missing.gguf' --json 2>&1 >/dev/null", slm, dir);
    assert_int_equal(rc, 3);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    cJSON *err = cJSON_GetObjectItem(j, "error");
    assert_string_equal(cJSON_GetObjectItem(err, "code")->valuestring, "NOT_FOUND");
    assert_non_null(strstr(cJSON_GetObjectItem(err, "message")->valuestring, "missing.gguf"));
    cJSON_Delete(j);
    free(out);
    /* malformed file: exit 4, INVALID_MODEL */
    snprintf(path, sizeof path, "%s/bad.gguf", dir);
    FILE *f = fopen(path, "wb");
    fputs("GGUF\x03\x00\x00\x00garbage", f);
    fclose(f);
    rc = tu_run(&out, "'%s' show '%s' --json 2>&1 >/dev/null", slm, path);
    assert_int_equal(rc, 4);
    j = cJSON_Parse(out);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring,
                        "INVALID_MODEL");
    cJSON_Delete(j);
    free(out);
    /* usage errors: exit 2 */
    assert_int_equal(tu_run(NULL, "'%s' show 2>/dev/null", slm), 2);
    assert_int_equal(tu_run(NULL, "'%s' show a b 2>/dev/null", slm), 2);
    assert_int_equal(tu_run(NULL, "'%s' show --bogus x 2>/dev/null", slm), 2);
    assert_int_equal(tu_run(NULL, "'%s' frobnicate 2>/dev/null", slm), 2);
    assert_int_equal(tu_run(NULL, "'%s' --help >/dev/null", slm), 0);
    free(slm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(show_generated_model),
        cmocka_unit_test(show_shared_models),
        cmocka_unit_test(show_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
