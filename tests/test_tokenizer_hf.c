/* Tokenizers built from Hugging Face tokenizer.json files (SmolLM2: byte-level BPE; MiniLM:
 * WordPiece; TinyStories-656K: ▁-normalised BPE) against the `tokenizers` Python package on a
 * generated corpus of 2,000+ strings (tests/tokenizer_oracle.py), plus loader validation on hostile
 * documents. */
#include "testutil.h"

#include "slm/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define N_STRINGS 2400

/* Runs the oracle for a tokenizer.json (rewritten first for a variant other than "plain") and
 * loads the tokenizer the ids belong to; NULL (after a visible skip line) when Python or the
 * package is missing. */
static cJSON *oracle(const char *tok_path, const char *variant, slm_tokenizer **t) {
    char *dir = tu_mkdtemp();
    char out[4200];
    snprintf(out, sizeof out, "%s/oracle.json", dir);
    const char *src = getenv("SLM_SOURCE_DIR");
    char *log = NULL;
    int rc = tu_run(&log, "python3 '%s/tests/tokenizer_oracle.py' '%s' '%s' %d %s 2>&1",
                    src ? src : ".", tok_path, out, N_STRINGS, variant);
    cJSON *doc = NULL;
    if (rc == 0) {
        doc = tu_read_json(out);
        assert_non_null(doc);
        TU_ASSERT_OK(
            slm_tokenizer_load_hf_json(cJSON_GetObjectItem(doc, "tokenizer")->valuestring, t));
    } else if (rc == 77 || rc == 127) {
        /* 77: the package is missing, 127: python3 is */
        printf("skipped: Hugging Face tokenizers oracle unavailable (exit %d: %s); pip install -r "
               "tests/requirements.txt\n",
               rc, log ? log : "");
    } else {
        fail_msg("tokenizer_oracle.py failed (exit %d): %s", rc, log ? log : "");
    }
    free(log);
    tu_rmtree(dir);
    free(dir);
    return doc;
}

static void compare(const char *rel, const char *variant, bool check_round_trip) {
    char *path = tu_require_shared(rel);
    slm_tokenizer *t = NULL;
    cJSON *doc = oracle(path, variant, &t);
    if (!doc) {
        free(path);
        skip();
    }
    int n = 0, ok = 0, shown = 0, trips = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        size_t len = strlen(text);
        bool add = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_special"));
        const cJSON *want = cJSON_GetObjectItem(c, "ids");
        int32_t *ids;
        size_t n_ids;
        /* Hugging Face recognises added tokens in the text unless told otherwise. */
        TU_ASSERT_OK(slm_tokenize(t, text, len,
                                  SLM_TOKENIZE_PARSE_SPECIAL | (add ? SLM_TOKENIZE_ADD_SPECIAL : 0),
                                  &ids, &n_ids));
        bool same = (int)n_ids == cJSON_GetArraySize(want);
        for (size_t i = 0; same && i < n_ids; i++)
            same = ids[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
        n++;
        if (same)
            ok++;
        else if (shown++ < 8) {
            printf("MISMATCH %s add_special=%d text '%.*s'\n  want:", rel, add,
                   (int)(len < 160 ? len : 160), text);
            for (int i = 0; i < cJSON_GetArraySize(want); i++)
                printf(" %d", cJSON_GetArrayItem(want, i)->valueint);
            printf("\n  got: ");
            for (size_t i = 0; i < n_ids; i++) printf(" %d", ids[i]);
            printf("\n");
        }
        slm_free(ids);
        if (check_round_trip) {
            TU_ASSERT_OK(slm_tokenize(t, text, len, 0, &ids, &n_ids));
            char *back;
            size_t blen;
            TU_ASSERT_OK(slm_detokenize(t, ids, n_ids, 0, &back, &blen));
            assert_int_equal(blen, len);
            assert_memory_equal(back, text, len);
            slm_free(back);
            slm_free(ids);
            trips++;
        }
    }
    printf("%s (%s): %d/%d strings exact against the tokenizers package, %d round trips\n", rel,
           variant, ok, n, trips);
    assert_true(n >= 2000);
    assert_int_equal(ok, n);
    slm_tokenizer_free(t);
    cJSON_Delete(doc);
    free(path);
}

static void smollm2_vs_hf(void **state) {
    (void)state;
    compare("models/tokenizers/smollm2/tokenizer.json", "plain", true);
}

static void minilm_vs_hf(void **state) {
    (void)state;
    compare("models/all-MiniLM-L6-v2/tokenizer.json", "plain", false);
}

/* ▁-normalised BPE with merges by rank and no byte tokens (fused unknowns). */
static void tinystories_vs_hf(void **state) {
    (void)state;
    compare("models/TinyStories-656K/tokenizer.json", "plain", false);
}

/* The SmolLM2 vocabulary written the Qwen2 way: NFC normalizer and a Split regex pre-tokenizer. */
static void qwen2_style_vs_hf(void **state) {
    (void)state;
    compare("models/tokenizers/smollm2/tokenizer.json", "qwen2", false);
}

/* The documents built here are seeds for fuzz/fuzz_tokenizer.c (with SLM_CORPUS_DIR set). */
static void save_seed(const char *json, size_t len) {
    static int n;
    char name[64];
    snprintf(name, sizeof name, "hf-%03d.json", n++);
    tu_save_seed(name, json, len);
}

static void expect_error(const char *json, slm_status want) {
    save_seed(json, strlen(json));
    slm_tokenizer *t = (slm_tokenizer *)1;
    slm_status st = slm_tokenizer_from_hf_json(json, strlen(json), &t);
    if (st != want)
        fail_msg("'%s' -> %s (%s), want %s", json, slm_status_name(st), slm_error_detail(),
                 slm_status_name(want));
    assert_null(t);
}

static void hostile_json(void **state) {
    (void)state;
    expect_error("", SLM_E_INVALID_MODEL);
    expect_error("{", SLM_E_INVALID_MODEL);
    expect_error("[]", SLM_E_UNSUPPORTED);
    expect_error("{\"model\":{\"type\":\"Unigram\"}}", SLM_E_UNSUPPORTED);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":[]}}", SLM_E_INVALID_MODEL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", SLM_E_INVALID_MODEL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1}}}", SLM_E_INVALID_MODEL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1.5}}}", SLM_E_INVALID_MODEL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1e12}}}", SLM_E_INVALID_MODEL);
    /* a gap in the ids, an id used twice */
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":2}}}", SLM_E_INVALID_MODEL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0}}}", SLM_E_INVALID_MODEL);
    const char *bpe_head = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":"
                           "\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s\"merges\":[\"a b\", \"a c\"]}}", bpe_head);
    expect_error(buf, SLM_E_INVALID_MODEL);
    snprintf(buf, sizeof buf, "%s\"merges\":[17]}}", bpe_head);
    expect_error(buf, SLM_E_INVALID_MODEL);
    snprintf(buf, sizeof buf, "%s\"merges\":[\"a b\"]},\"normalizer\":{\"type\":\"Lowercase\"}}",
             bpe_head);
    expect_error(buf, SLM_E_UNSUPPORTED);
    snprintf(buf, sizeof buf,
             "%s\"merges\":[\"a b\"]},\"added_tokens\":[{\"id\":1,\"content\":\"zz\"}]}", bpe_head);
    expect_error(buf, SLM_E_INVALID_MODEL);
    snprintf(buf, sizeof buf, "%s\"merges\":[\"a b\"]},\"post_processor\":{\"type\":\"Weird\"}}",
             bpe_head);
    expect_error(buf, SLM_E_UNSUPPORTED);
    expect_error("{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},"
                 "\"behavior\":\"Isolated\"},"
                 "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
                 SLM_E_INVALID_MODEL);
    expect_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}", SLM_E_UNSUPPORTED);

    /* a minimal valid one works end to end */
    snprintf(buf, sizeof buf, "%s\"merges\":[[\"a\",\"b\"]]}}", bpe_head);
    slm_tokenizer *t;
    save_seed(buf, strlen(buf));
    TU_ASSERT_OK(slm_tokenizer_from_hf_json(buf, strlen(buf), &t));
    int32_t *ids;
    size_t n;
    TU_ASSERT_OK(slm_tokenize(t, "abba", 4, 0, &ids, &n));
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 0);
    slm_free(ids);
    slm_tokenizer_free(t);
}

/* ▁-normalised BPE with byte fallback (ids checked once against the tokenizers package). */
static void spm_style_byte_fallback(void **state) {
    (void)state;
    static const char json[] =
        "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"normalized\":true,\"special\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":"
        "\"\\u2581\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" "
        "\"},\"content\":\"\\u2581\"}]},"
        "\"pre_tokenizer\":null,\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":"
        "true,"
        "\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<0xC3>\":1,\"<0xA9>\":2,\"\\u2581\":3,"
        "\"a\":4,"
        "\"\\u2581a\":5},\"merges\":[\"\\u2581 a\"]}}";
    slm_tokenizer *t;
    save_seed(json, sizeof json - 1);
    TU_ASSERT_OK(slm_tokenizer_from_hf_json(json, sizeof json - 1, &t));
    static const struct {
        const char *text;
        int32_t ids[4];
    } cases[] = {{"a \xc3\xa9", {5, 3, 1, 2}},
                 {"a \xc3\xbc a", {5, 3, 0, 5}},
                 {"\xc3\xa9"
                  "a",
                  {3, 1, 2, 4}}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int32_t *ids;
        size_t n;
        TU_ASSERT_OK(slm_tokenize(t, cases[c].text, strlen(cases[c].text), 0, &ids, &n));
        assert_int_equal(n, 4);
        assert_memory_equal(ids, cases[c].ids, sizeof cases[c].ids);
        slm_free(ids);
    }
    /* byte tokens decode to their bytes */
    char *text;
    size_t len;
    TU_ASSERT_OK(slm_detokenize(t, cases[0].ids, 4, 0, &text, &len));
    assert_string_equal(text, "a \xc3\xa9");
    slm_free(text);
    slm_tokenizer_free(t);
}

/* Added tokens of many different lengths are all found in the text, longest first. */
static void many_added_tokens(void **state) {
    (void)state;
    char json[65536];
    int n = snprintf(json, sizeof json,
                     "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\","
                     "\"vocab\":{\"a\":0,\"<\":1,\">\":2},\"merges\":[]},\"added_tokens\":[");
    for (int k = 1; k <= 100; k++) {
        n += snprintf(json + n, sizeof json - (size_t)n,
                      "%s{\"id\":%d,\"special\":%s,\"content\":\"<", k > 1 ? "," : "", k + 2,
                      k % 2 ? "true" : "false");
        for (int i = 0; i < k; i++) json[n++] = 'a';
        n += snprintf(json + n, sizeof json - (size_t)n, ">\"}");
    }
    n += snprintf(json + n, sizeof json - (size_t)n, "]}");
    slm_tokenizer *t;
    save_seed(json, (size_t)n);
    TU_ASSERT_OK(slm_tokenizer_from_hf_json(json, (size_t)n, &t));
    char text[256];
    /* <a*70> (special), <a*3> (special), a, <a*2> (not special) */
    int m = 0;
    text[m++] = '<';
    for (int i = 0; i < 70; i++) text[m++] = 'a';
    m += snprintf(text + m, sizeof text - (size_t)m, "><aaa>a<aa>");
    int32_t *ids;
    size_t n_ids;
    TU_ASSERT_OK(slm_tokenize(t, text, (size_t)m, SLM_TOKENIZE_PARSE_SPECIAL, &ids, &n_ids));
    int32_t want[] = {72, 5, 0, 4};
    assert_int_equal(n_ids, 4);
    assert_memory_equal(ids, want, sizeof want);
    slm_free(ids);
    /* without PARSE_SPECIAL only the user-defined (non-special) ones are matched */
    TU_ASSERT_OK(slm_tokenize(t, "<aa><aaa>", 9, 0, &ids, &n_ids));
    assert_int_equal(ids[0], 4);
    assert_true(n_ids > 2);
    slm_free(ids);
    slm_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smollm2_vs_hf),
        cmocka_unit_test(minilm_vs_hf),
        cmocka_unit_test(tinystories_vs_hf),
        cmocka_unit_test(qwen2_style_vs_hf),
        cmocka_unit_test(hostile_json),
        cmocka_unit_test(many_added_tokens),
        cmocka_unit_test(spm_style_byte_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
