/* Writing tokenizers as GGUF metadata: tokenizer.json files give the keys the reference
 * converter wrote into the GGUF files in ../shared, and every GGUF vocabulary survives
 * write + read with the same keys and the same ids. */
#include "testutil.h"

#include "slm/tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* Writes t into a fresh GGUF in memory; *buf is to slm_free. */
static slm_gguf *export_gguf(const slm_tokenizer *t, void **buf) {
    slm_gguf_writer *w;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    TU_ASSERT_OK(slm_tokenizer_write_gguf(t, w));
    size_t size;
    TU_ASSERT_OK(slm_gguf_writer_write_memory(w, buf, &size));
    slm_gguf_writer_free(w);
    slm_gguf *g;
    TU_ASSERT_OK(slm_gguf_open_memory(*buf, size, NULL, &g));
    return g;
}

/* Key present in both with equal values (strings, numbers, arrays of those). */
static void same_key(const slm_gguf *a, const slm_gguf *b, const char *key) {
    int64_t ia = slm_gguf_find_key(a, key), ib = slm_gguf_find_key(b, key);
    if (ia < 0 || ib < 0) fail_msg("key %s: present %d / %d", key, ia >= 0, ib >= 0);
    slm_gguf_type ta = slm_gguf_kv_type(a, ia);
    if (ta == SLM_GGUF_STRING) {
        struct slm_gguf_str x, y;
        TU_ASSERT_OK(slm_gguf_kv_str(a, ia, &x));
        TU_ASSERT_OK(slm_gguf_kv_str(b, ib, &y));
        if (x.len != y.len || memcmp(x.ptr, y.ptr, x.len))
            fail_msg("key %s: '%.*s' vs '%.*s'", key, (int)x.len, x.ptr, (int)y.len, y.ptr);
    } else if (ta == SLM_GGUF_ARRAY) {
        struct slm_gguf_array x, y;
        TU_ASSERT_OK(slm_gguf_kv_arr(a, ia, &x));
        TU_ASSERT_OK(slm_gguf_kv_arr(b, ib, &y));
        if (x.count != y.count)
            fail_msg("key %s: %llu vs %llu elements", key, (unsigned long long)x.count,
                     (unsigned long long)y.count);
        for (uint64_t i = 0; i < x.count; i++) {
            if (x.elem_type == SLM_GGUF_STRING) {
                struct slm_gguf_str p = slm_gguf_arr_str(&x, i), q = slm_gguf_arr_str(&y, i);
                if (p.len != q.len || memcmp(p.ptr, q.ptr, p.len))
                    fail_msg("key %s[%llu]: '%.*s' vs '%.*s'", key, (unsigned long long)i,
                             (int)p.len, p.ptr, (int)q.len, q.ptr);
            } else if (slm_gguf_arr_f64(&x, i) != slm_gguf_arr_f64(&y, i)) {
                fail_msg("key %s[%llu]: %g vs %g", key, (unsigned long long)i,
                         slm_gguf_arr_f64(&x, i), slm_gguf_arr_f64(&y, i));
            }
        }
    } else if (ta == SLM_GGUF_FLOAT32 || ta == SLM_GGUF_FLOAT64) {
        double x, y;
        TU_ASSERT_OK(slm_gguf_kv_f64(a, ia, &x));
        TU_ASSERT_OK(slm_gguf_kv_f64(b, ib, &y));
        assert_true(x == y);
    } else {
        uint64_t x, y;
        if (ta == SLM_GGUF_BOOL) {
            TU_ASSERT_OK(slm_gguf_kv_u64(a, ia, &x));
            TU_ASSERT_OK(slm_gguf_kv_u64(b, ib, &y));
        } else {
            TU_ASSERT_OK(slm_gguf_kv_i64(a, ia, (int64_t *)&x));
            TU_ASSERT_OK(slm_gguf_kv_i64(b, ib, (int64_t *)&y));
        }
        if (x != y)
            fail_msg("key %s: %llu vs %llu", key, (unsigned long long)x, (unsigned long long)y);
    }
}

static slm_tokenizer *from_json(const char *rel) {
    char *p = tu_require_shared(rel);
    slm_tokenizer *t;
    TU_ASSERT_OK(slm_tokenizer_load_hf_json(p, &t));
    free(p);
    return t;
}

static slm_gguf *open_shared(const char *rel) {
    char *p = tu_require_shared(rel);
    slm_gguf *g;
    TU_ASSERT_OK(slm_gguf_open(p, NULL, &g));
    free(p);
    return g;
}

/* TinyStories-656K: the converter's GGUF is the reference for tokens, scores and types. */
static void tinystories_like_converter(void **state) {
    (void)state;
    slm_gguf *ref = open_shared("models/TinyStories-656K/TinyStories-656K-f32.gguf");
    slm_tokenizer *t = from_json("models/TinyStories-656K/tokenizer.json");
    void *buf;
    slm_gguf *g = export_gguf(t, &buf);
    static const char *const keys[] = {"tokenizer.ggml.model",
                                       "tokenizer.ggml.pre",
                                       "tokenizer.ggml.tokens",
                                       "tokenizer.ggml.scores",
                                       "tokenizer.ggml.token_type",
                                       "tokenizer.ggml.bos_token_id",
                                       "tokenizer.ggml.unknown_token_id",
                                       "tokenizer.ggml.add_bos_token",
                                       "tokenizer.ggml.add_eos_token"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) same_key(ref, g, keys[k]);
    slm_gguf_close(g);
    slm_free(buf);
    slm_tokenizer_free(t);
    slm_gguf_close(ref);
}

/* MiniLM's vocabulary is bert-base-uncased, the one in ggml-vocab-bert-bge.gguf. */
static void minilm_like_converter(void **state) {
    (void)state;
    slm_gguf *ref = open_shared("models/tokenizers/llama.cpp/ggml-vocab-bert-bge.gguf");
    slm_tokenizer *t = from_json("models/all-MiniLM-L6-v2/tokenizer.json");
    void *buf;
    slm_gguf *g = export_gguf(t, &buf);
    static const char *const keys[] = {"tokenizer.ggml.model",
                                       "tokenizer.ggml.tokens",
                                       "tokenizer.ggml.token_type",
                                       "tokenizer.ggml.unknown_token_id",
                                       "tokenizer.ggml.seperator_token_id",
                                       "tokenizer.ggml.padding_token_id",
                                       "tokenizer.ggml.cls_token_id",
                                       "tokenizer.ggml.mask_token_id"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) same_key(ref, g, keys[k]);
    slm_gguf_close(g);
    slm_free(buf);
    slm_tokenizer_free(t);
    slm_gguf_close(ref);
}

/* Strings of the llama.cpp test set, for comparing two tokenizers. */
static char **test_strings(size_t *n) {
    char *p = tu_require_shared("models/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf.inp");
    size_t len;
    char *inp = tu_read_file(p, &len);
    free(p);
    assert_non_null(inp);
    char **v = calloc(128, sizeof *v);
    *n = 0;
    static const char sep[] = "\n__ggml_vocab_test__\n";
    for (char *s = inp; *s && *n < 127;) {
        char *end = strstr(s, sep);
        v[(*n)++] = end ? strndup(s, (size_t)(end - s)) : strdup(s);
        if (!end) break;
        s = end + sizeof sep - 1;
    }
    v[(*n)++] = strdup("<|im_start|>user\nHello<|im_end|> caf\xc3\xa9 \xf0\x9f\x98\x80 12345");
    free(inp);
    return v;
}

static void same_ids(const slm_tokenizer *a, const slm_tokenizer *b) {
    size_t n;
    char **v = test_strings(&n);
    for (size_t i = 0; i < n; i++) {
        for (unsigned flags = 0; flags < 4; flags++) {
            int32_t *x, *y;
            size_t nx, ny;
            TU_ASSERT_OK(slm_tokenize(a, v[i], strlen(v[i]), flags, &x, &nx));
            TU_ASSERT_OK(slm_tokenize(b, v[i], strlen(v[i]), flags, &y, &ny));
            if (nx != ny || (nx && memcmp(x, y, nx * sizeof *x)))
                fail_msg("ids differ for '%s' (flags %u)", v[i], flags);
            slm_free(x);
            slm_free(y);
        }
        free(v[i]);
    }
    free(v);
}

/* SmolLM2: byte-level BPE gets the starcoder/smollm pre-tokenizer name and, read back from
 * GGUF, gives the same ids. */
static void smollm2_round_trip(void **state) {
    (void)state;
    slm_tokenizer *t = from_json("models/tokenizers/smollm2/tokenizer.json");
    assert_string_equal(slm_tokenizer_pre_name(t), "starcoder");
    void *buf;
    slm_gguf *g = export_gguf(t, &buf);
    slm_tokenizer *back;
    TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &back));
    same_ids(t, back);
    slm_tokenizer_free(back);
    slm_gguf_close(g);
    slm_free(buf);
    slm_tokenizer_free(t);
}

/* Every GGUF vocabulary in ../shared: same keys after write + read, same ids. */
static void gguf_round_trip(void **state) {
    (void)state;
    static const char *const vocabs[] = {"baichuan", "bert-bge", "deepseek-coder", "deepseek-llm",
                                         "falcon",   "gpt-2",    "gpt-neox",       "llama-spm",
                                         "mpt",      "phi-3",    "refact",         "starcoder"};
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/tokenizers/llama.cpp/ggml-vocab-%s.gguf", vocabs[v]);
        slm_gguf *ref = open_shared(rel);
        slm_tokenizer *t;
        TU_ASSERT_OK(slm_tokenizer_from_gguf(ref, &t));
        void *buf;
        slm_gguf *g = export_gguf(t, &buf);
        static const char *const keys[] = {"tokenizer.ggml.model", "tokenizer.ggml.tokens",
                                           "tokenizer.ggml.token_type"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) same_key(ref, g, keys[k]);
        if (slm_gguf_find_key(ref, "tokenizer.ggml.scores") >= 0)
            same_key(ref, g, "tokenizer.ggml.scores");
        if (slm_gguf_find_key(ref, "tokenizer.ggml.merges") >= 0)
            same_key(ref, g, "tokenizer.ggml.merges");
        if (slm_gguf_find_key(ref, "tokenizer.ggml.pre") >= 0 &&
            slm_tokenizer_get_kind(t) == SLM_TOKENIZER_BPE)
            same_key(ref, g, "tokenizer.ggml.pre");
        slm_tokenizer *back;
        TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &back));
        same_ids(t, back);
        printf("round trip %s: keys and ids identical\n", vocabs[v]);
        slm_tokenizer_free(back);
        slm_gguf_close(g);
        slm_free(buf);
        slm_tokenizer_free(t);
        slm_gguf_close(ref);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tinystories_like_converter),
        cmocka_unit_test(minilm_like_converter),
        cmocka_unit_test(smollm2_round_trip),
        cmocka_unit_test(gguf_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
