/* `slm embed` through the built program: the script contract (one JSON document, dim, one vector
 * per text, truncation flags, JSON errors and exit codes), texts from arguments and from standard
 * input, and vectors equal to the reference's on the synthetic BERT. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "models/synth-bert/synth-bert-f16.gguf"
#define GOLDEN "golden/embeddings/synth-bert-f16.json"

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

static double cosine(cJSON *a, cJSON *b) {
    double ab = 0, aa = 0, bb = 0;
    int n = cJSON_GetArraySize(a);
    assert_int_equal(n, cJSON_GetArraySize(b));
    for (int i = 0; i < n; i++) {
        double x = cJSON_GetArrayItem(a, i)->valuedouble, y = cJSON_GetArrayItem(b, i)->valuedouble;
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    return ab / sqrt(aa * bb);
}

static double norm(cJSON *a) {
    double s = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, a) s += x->valuedouble * x->valuedouble;
    return sqrt(s);
}

static cJSON *golden_sentence(cJSON *g, int i) {
    return cJSON_GetArrayItem(cJSON_GetObjectItem(g, "sentences"), i);
}

/* Texts 0 and 2 (no shell quoting needed) as arguments. */
static void texts_as_arguments(void **state) {
    (void)state;
    char *model = tu_require_shared(MODEL), *gpath = tu_require_shared(GOLDEN);
    cJSON *g = tu_read_json(gpath);
    char *out = NULL;
    int rc = tu_run(&out, "'%s' embed '%s' '%s' '%s' --json", slm_bin, model,
                    cJSON_GetObjectItem(golden_sentence(g, 0), "text")->valuestring,
                    cJSON_GetObjectItem(golden_sentence(g, 2), "text")->valuestring);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, model);
    assert_int_equal(cJSON_GetObjectItem(j, "dim")->valueint, 384);
    assert_string_equal(cJSON_GetObjectItem(j, "pooling")->valuestring, "mean");
    cJSON *embs = cJSON_GetObjectItem(j, "embeddings");
    assert_int_equal(cJSON_GetArraySize(embs), 2);
    for (int i = 0; i < 2; i++) {
        cJSON *v = cJSON_GetArrayItem(embs, i), *gs = golden_sentence(g, 2 * i);
        assert_int_equal(cJSON_GetArraySize(v), 384);
        assert_true(fabs(norm(v) - 1) < 1e-5);
        assert_true(cosine(v, cJSON_GetObjectItem(gs, "embedding")) >= 0.9999);
        assert_false(cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "truncated"), i)));
        assert_int_equal(
            cJSON_GetArrayItem(cJSON_GetObjectItem(j, "n_tokens"), i)->valueint,
            cJSON_GetArraySize(cJSON_GetObjectItem(gs, "token_ids")));
    }
    cJSON_Delete(j);
    free(out);
    /* plain output: one line of 384 numbers per text */
    rc = tu_run(&out, "'%s' embed '%s' 'one' 'two words' --no-normalize", slm_bin, model);
    assert_int_equal(rc, 0);
    int lines = 0, numbers = 0;
    for (char *p = out; *p; p++) {
        if (*p == '\n') lines++;
        if ((*p == ' ' || *p == '\n')) numbers++;
    }
    assert_int_equal(lines, 2);
    assert_int_equal(numbers, 2 * 384);
    free(out);
    cJSON_Delete(g);
    free(gpath);
    free(model);
}

/* Every golden text without a line break, one per line on stdin: same vectors as the reference,
 * and the over-long one flagged. */
static void texts_from_stdin(void **state) {
    (void)state;
    char *model = tu_require_shared(MODEL), *gpath = tu_require_shared(GOLDEN);
    cJSON *g = tu_read_json(gpath);
    char path[4200];
    snprintf(path, sizeof path, "%s/texts.txt", tmpdir);
    FILE *f = fopen(path, "w");
    int index[64], n = 0;
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(g, "sentences")) {
        const char *t = cJSON_GetObjectItem(s, "text")->valuestring;
        if (!strpbrk(t, "\r\n")) {
            fprintf(f, "%s\n", t);
            index[n++] = cJSON_GetObjectItem(s, "index")->valueint;
        }
    }
    fclose(f);
    assert_true(n >= 40);
    char *out = NULL;
    int rc = tu_run(&out, "'%s' embed '%s' --json --threads 2 < '%s'", slm_bin, model, path);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    cJSON *embs = cJSON_GetObjectItem(j, "embeddings"), *trunc = cJSON_GetObjectItem(j, "truncated");
    assert_int_equal(cJSON_GetArraySize(embs), n);
    double min_cos = 1;
    int n_trunc = 0;
    for (int i = 0; i < n; i++) {
        cJSON *gs = golden_sentence(g, index[i]);
        min_cos = fmin(min_cos, cosine(cJSON_GetArrayItem(embs, i),
                                       cJSON_GetObjectItem(gs, "embedding")));
        bool t = cJSON_IsTrue(cJSON_GetArrayItem(trunc, i));
        assert_int_equal(t, cJSON_IsTrue(cJSON_GetObjectItem(gs, "truncated")));
        if (t) {
            n_trunc++;
            assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "n_tokens"), i)->valueint,
                             512);
        }
    }
    printf("slm embed over stdin: %d texts, min cosine %.7f, %d truncated\n", n, min_cos, n_trunc);
    assert_true(min_cos >= 0.9999);
    assert_int_equal(n_trunc, 1);
    cJSON_Delete(j);
    free(out);
    /* "-" reads stdin too */
    rc = tu_run(&out, "printf 'x\\ny\\n' | '%s' embed '%s' - --json", slm_bin, model);
    assert_int_equal(rc, 0);
    j = cJSON_Parse(out);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "embeddings")), 2);
    cJSON_Delete(j);
    free(out);
    cJSON_Delete(g);
    free(gpath);
    free(model);
}

static void errors(void **state) {
    (void)state;
    char *out = NULL;
    int rc = tu_run(&out, "'%s' embed /nonexistent/model.gguf hello --json 2>&1", slm_bin);
    assert_int_equal(rc, 3);
    cJSON *j = cJSON_Parse(out);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring, "NOT_FOUND");
    cJSON_Delete(j);
    free(out);
    assert_int_equal(tu_run(&out, "'%s' embed 2>/dev/null", slm_bin), 2);
    free(out);
    char *model = tu_require_shared(MODEL);
    assert_int_equal(tu_run(&out, "'%s' embed '%s' x --pooling max 2>/dev/null", slm_bin, model), 2);
    free(out);
    assert_int_equal(tu_run(&out, "'%s' embed '%s' x --max-tokens 9999 2>/dev/null", slm_bin, model),
                     5);
    free(out);
    assert_int_equal(tu_run(&out, "'%s' embed '%s' --json < /dev/null 2>/dev/null", slm_bin, model),
                     5);
    free(out);
    char *llama = tu_require_shared("models/stories260K/stories260K.gguf");
    rc = tu_run(&out, "'%s' embed '%s' hello --json 2>&1", slm_bin, llama);
    assert_int_equal(rc, 4);
    j = cJSON_Parse(out);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring, "UNSUPPORTED");
    cJSON_Delete(j);
    free(out);
    free(llama);
    free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(texts_as_arguments),
        cmocka_unit_test(texts_from_stdin),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
