/* Tests of the GGUF reader and writer: every value type through a write/read round trip,
 * typed getters and their errors, read→write→read identity on every shared model file, and the
 * shapes of the shared fixtures against their MANIFEST descriptions. */
#include "testutil.h"

#include "slm/gguf.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static slm_gguf_writer *sample_writer(float *w1, uint16_t *w2, uint8_t *w3) {
    slm_gguf_writer *w = NULL;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "general.architecture", "llama"));
    TU_ASSERT_OK(slm_gguf_writer_set_u8(w, "t.u8", 200));
    TU_ASSERT_OK(slm_gguf_writer_set_i8(w, "t.i8", -100));
    TU_ASSERT_OK(slm_gguf_writer_set_u16(w, "t.u16", 60000));
    TU_ASSERT_OK(slm_gguf_writer_set_i16(w, "t.i16", -30000));
    TU_ASSERT_OK(slm_gguf_writer_set_u32(w, "t.u32", 4000000000u));
    TU_ASSERT_OK(slm_gguf_writer_set_i32(w, "t.i32", -2000000000));
    TU_ASSERT_OK(slm_gguf_writer_set_u64(w, "t.u64", 1ull << 60));
    TU_ASSERT_OK(slm_gguf_writer_set_i64(w, "t.i64", -(1ll << 60)));
    TU_ASSERT_OK(slm_gguf_writer_set_f32(w, "t.f32", 1.5f));
    TU_ASSERT_OK(slm_gguf_writer_set_f64(w, "t.f64", -2.25));
    TU_ASSERT_OK(slm_gguf_writer_set_bool(w, "t.bool", true));
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo"));
    int32_t ints[] = {1, -2, 3};
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "t.arr_i32", SLM_GGUF_INT32, ints, 3));
    float fl[] = {0.5f, -1.0f};
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "t.arr_f32", SLM_GGUF_FLOAT32, fl, 2));
    const char *strs[] = {"a", "", "<|im_start|>"};
    TU_ASSERT_OK(slm_gguf_writer_set_arr_str(w, "t.arr_str", strs, 3));
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "t.arr_empty", SLM_GGUF_UINT8, NULL, 0));
    TU_ASSERT_OK(slm_gguf_writer_set_u32(w, "t.replaced", 1));
    TU_ASSERT_OK(slm_gguf_writer_set_u32(w, "t.replaced", 2));
    for (int i = 0; i < 64 * 3; i++) w1[i] = (float)i * 0.25f;
    for (int i = 0; i < 32; i++) w2[i] = (uint16_t)(0x3c00 + i);
    for (int i = 0; i < 34 * 2; i++) w3[i] = (uint8_t)i;
    int64_t ne1[] = {64, 3}, ne2[] = {32}, ne3[] = {64, 1};
    TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, "a.weight", SLM_TYPE_F32, 2, ne1, w1, 64 * 3 * 4));
    TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, "b.weight", SLM_TYPE_F16, 1, ne2, w2, 64));
    TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, "c.weight", SLM_TYPE_Q8_0, 2, ne3, w3, 68));
    return w;
}

static void write_read_all_types(void **state) {
    (void)state;
    float w1[64 * 3];
    uint16_t w2[32];
    uint8_t w3[68];
    slm_gguf_writer *w = sample_writer(w1, w2, w3);
    for (uint32_t align = 32; align <= 256; align *= 8) {
        TU_ASSERT_OK(slm_gguf_writer_set_alignment(w, align));
        void *buf;
        size_t size;
        TU_ASSERT_OK(slm_gguf_writer_write_memory(w, &buf, &size));
        slm_gguf *g = NULL;
        TU_ASSERT_OK(slm_gguf_open_memory(buf, size, NULL, &g));
        assert_int_equal(slm_gguf_version(g), 3);
        assert_int_equal(slm_gguf_alignment(g), align);
        assert_int_equal(slm_gguf_kv_count(g), align == 32 ? 18 : 19);
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f;
        double d;
        bool b;
        char s[64];
        TU_ASSERT_OK(slm_gguf_get_u32(g, "t.u8", &u32));
        assert_int_equal(u32, 200);
        TU_ASSERT_OK(slm_gguf_get_i32(g, "t.i8", &i32));
        assert_int_equal(i32, -100);
        TU_ASSERT_OK(slm_gguf_get_u32(g, "t.u16", &u32));
        assert_int_equal(u32, 60000);
        TU_ASSERT_OK(slm_gguf_get_i32(g, "t.i16", &i32));
        assert_int_equal(i32, -30000);
        TU_ASSERT_OK(slm_gguf_get_u32(g, "t.u32", &u32));
        assert_int_equal(u32, 4000000000u);
        TU_ASSERT_OK(slm_gguf_get_i32(g, "t.i32", &i32));
        assert_int_equal(i32, -2000000000);
        TU_ASSERT_OK(slm_gguf_get_u64(g, "t.u64", &u64));
        assert_int_equal(u64, 1ull << 60);
        TU_ASSERT_OK(slm_gguf_get_i64(g, "t.i64", &i64));
        assert_int_equal(i64, -(1ll << 60));
        TU_ASSERT_OK(slm_gguf_get_f32(g, "t.f32", &f));
        assert_true(f == 1.5f);
        TU_ASSERT_OK(slm_gguf_get_f64(g, "t.f64", &d));
        assert_true(d == -2.25);
        TU_ASSERT_OK(slm_gguf_get_bool(g, "t.bool", &b));
        assert_true(b);
        TU_ASSERT_OK(slm_gguf_get_str_buf(g, "t.str", s, sizeof s));
        assert_string_equal(s, "h\xc3\xa9llo");
        TU_ASSERT_OK(slm_gguf_get_u32(g, "t.replaced", &u32));
        assert_int_equal(u32, 2);
        struct slm_gguf_array a;
        TU_ASSERT_OK(slm_gguf_get_arr(g, "t.arr_i32", &a));
        assert_int_equal(a.count, 3);
        assert_int_equal(slm_gguf_arr_i64(&a, 1), -2);
        TU_ASSERT_OK(slm_gguf_get_arr(g, "t.arr_f32", &a));
        assert_true(slm_gguf_arr_f64(&a, 1) == -1.0);
        TU_ASSERT_OK(slm_gguf_get_arr(g, "t.arr_str", &a));
        assert_int_equal(a.elem_type, SLM_GGUF_STRING);
        struct slm_gguf_str e = slm_gguf_arr_str(&a, 2);
        assert_int_equal(e.len, 12);
        assert_memory_equal(e.ptr, "<|im_start|>", 12);
        assert_int_equal(slm_gguf_arr_str(&a, 1).len, 0);
        TU_ASSERT_OK(slm_gguf_get_arr(g, "t.arr_empty", &a));
        assert_int_equal(a.count, 0);

        /* errors of the getters */
        assert_int_equal(slm_gguf_get_u32(g, "missing", &u32), SLM_E_NOT_FOUND);
        assert_int_equal(slm_gguf_get_u32(g, "t.i8", &u32), SLM_E_TYPE_MISMATCH); /* negative */
        assert_int_equal(slm_gguf_get_i32(g, "t.u32", &i32), SLM_E_TYPE_MISMATCH); /* too big */
        assert_int_equal(slm_gguf_get_u32(g, "t.u64", &u32), SLM_E_TYPE_MISMATCH);
        assert_int_equal(slm_gguf_get_str(g, "t.u8", &(struct slm_gguf_str){0}), SLM_E_TYPE_MISMATCH);
        assert_int_equal(slm_gguf_get_f32(g, "t.str", &f), SLM_E_TYPE_MISMATCH);
        assert_int_equal(slm_gguf_get_bool(g, "t.u8", &b), SLM_E_TYPE_MISMATCH);
        assert_int_equal(slm_gguf_get_arr(g, "t.str", &a), SLM_E_TYPE_MISMATCH);
        assert_int_equal(slm_gguf_get_str_buf(g, "t.str", s, 4), SLM_E_OVERFLOW);
        assert_non_null(strstr(slm_error_detail(), "t.str"));

        assert_int_equal(slm_gguf_tensor_count(g), 3);
        const struct slm_gguf_tensor *t = slm_gguf_find_tensor(g, "a.weight");
        assert_non_null(t);
        assert_int_equal(t->n_dims, 2);
        assert_int_equal(t->ne[0], 64);
        assert_int_equal(t->ne[1], 3);
        assert_int_equal(t->ne[2], 1);
        assert_int_equal(t->offset % align, 0);
        assert_memory_equal(t->data, w1, sizeof w1);
        t = slm_gguf_find_tensor(g, "b.weight");
        assert_int_equal(t->type, SLM_TYPE_F16);
        assert_memory_equal(t->data, w2, sizeof w2);
        t = slm_gguf_find_tensor(g, "c.weight");
        assert_int_equal(t->type, SLM_TYPE_Q8_0);
        assert_int_equal(t->n_bytes, 68);
        assert_memory_equal(t->data, w3, sizeof w3);
        assert_null(slm_gguf_find_tensor(g, "nope"));
        assert_int_equal(slm_gguf_total_elements(g), 64 * 3 + 32 + 64);
        assert_int_equal(slm_gguf_total_tensor_bytes(g), 768 + 64 + 68);
        slm_gguf_close(g);
        slm_free(buf);
    }
    slm_gguf_writer_free(w);
}

static void writer_rejects_bad_input(void **state) {
    (void)state;
    slm_gguf_writer *w = NULL;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    float x[40] = {0};
    int64_t ne[] = {33};
    assert_int_equal(slm_gguf_writer_add_tensor(w, "q", SLM_TYPE_Q8_0, 1, ne, x, 34),
                     SLM_E_INVALID_ARG); /* 33 is not a multiple of 32 */
    int64_t ne2[] = {4};
    assert_int_equal(slm_gguf_writer_add_tensor(w, "f", SLM_TYPE_F32, 1, ne2, x, 15),
                     SLM_E_INVALID_ARG); /* wrong byte count */
    assert_int_equal(slm_gguf_writer_add_tensor(w, "", SLM_TYPE_F32, 1, ne2, x, 16),
                     SLM_E_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_add_tensor(w, "f", SLM_TYPE_F32, 5, ne2, x, 16),
                     SLM_E_INVALID_ARG);
    TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, "f", SLM_TYPE_F32, 1, ne2, x, 16));
    assert_int_equal(slm_gguf_writer_add_tensor(w, "f", SLM_TYPE_F32, 1, ne2, x, 16),
                     SLM_E_INVALID_ARG); /* duplicate */
    assert_int_equal(slm_gguf_writer_set_u32(w, "", 1), SLM_E_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_set_u32(w, "\xff", 1), SLM_E_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_set_alignment(w, 48), SLM_E_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_remove(w, "absent"), SLM_E_NOT_FOUND);
    assert_int_equal(slm_gguf_writer_write_file(w, "/nonexistent-dir/x.gguf"), SLM_E_IO);
    slm_gguf_writer_free(w);
    slm_gguf_writer_free(NULL);
    slm_gguf_close(NULL);
}

/* Copies every key and tensor of g into a new file and checks the copy reads back identical. */
static void check_copy_identical(const slm_gguf *g, const char *out_path, size_t *bytes_equal) {
    slm_gguf_writer *w = NULL;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    for (int64_t i = 0; i < slm_gguf_kv_count(g); i++) TU_ASSERT_OK(slm_gguf_writer_copy_kv(w, g, i));
    if (slm_gguf_alignment(g) != SLM_GGUF_DEFAULT_ALIGNMENT)
        TU_ASSERT_OK(slm_gguf_writer_set_alignment(w, (uint32_t)slm_gguf_alignment(g)));
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data,
                                                t->n_bytes));
    }
    TU_ASSERT_OK(slm_gguf_writer_write_file(w, out_path));
    slm_gguf_writer_free(w);

    slm_gguf *h = NULL;
    TU_ASSERT_OK(slm_gguf_open(out_path, NULL, &h));
    assert_int_equal(slm_gguf_kv_count(h), slm_gguf_kv_count(g));
    for (int64_t i = 0; i < slm_gguf_kv_count(g); i++) {
        const char *key = slm_gguf_kv_key(g, i);
        int64_t j = slm_gguf_find_key(h, key);
        assert_true(j >= 0);
        assert_int_equal(slm_gguf_kv_type(h, j), slm_gguf_kv_type(g, i));
        struct slm_gguf_str a, b;
        if (slm_gguf_kv_type(g, i) == SLM_GGUF_STRING) {
            TU_ASSERT_OK(slm_gguf_kv_str(g, i, &a));
            TU_ASSERT_OK(slm_gguf_kv_str(h, j, &b));
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.ptr, b.ptr, a.len);
        }
    }
    assert_int_equal(slm_gguf_tensor_count(h), slm_gguf_tensor_count(g));
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        const struct slm_gguf_tensor *u = slm_gguf_find_tensor(h, t->name);
        assert_non_null(u);
        assert_int_equal(u->type, t->type);
        assert_memory_equal(u->ne, t->ne, sizeof t->ne);
        assert_int_equal(u->n_bytes, t->n_bytes);
        assert_memory_equal(u->data, t->data, t->n_bytes);
    }
    /* Our layout is the canonical one; files written canonically come back byte for byte. */
    size_t la, lb;
    char *fa = tu_read_file(slm_gguf_path(g), &la), *fb = tu_read_file(out_path, &lb);
    *bytes_equal = la == lb && memcmp(fa, fb, la) == 0;
    free(fa);
    free(fb);
    slm_gguf_close(h);
}

static void roundtrip_shared_models(void **state) {
    (void)state;
    static const char *dirs[] = {"models/stories260K", "models/TinyStories-656K", "models/random",
                                 "models/synth", "models/synth-bert", "models/tokenizers/llama.cpp"};
    char *root = tu_require_shared("models");
    free(root);
    char *tmp = tu_mkdtemp();
    int files = 0, identical = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        const char *dp = tu_shared_path(dirs[d]);
        if (!dp) continue;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", dp);
        DIR *dh = opendir(dir);
        struct dirent *de;
        while ((de = readdir(dh))) {
            size_t n = strlen(de->d_name);
            if (n < 5 || strcmp(de->d_name + n - 5, ".gguf")) continue;
            char path[8192], out[8192];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            snprintf(out, sizeof out, "%s/copy.gguf", tmp);
            slm_gguf *g = NULL;
            TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
            size_t same = 0;
            check_copy_identical(g, out, &same);
            files++;
            identical += (int)same;
            slm_gguf_close(g);
        }
        closedir(dh);
    }
    printf("round trip: %d shared GGUF files, %d byte-identical after read->write\n", files,
           identical);
    assert_true(files >= 27);
    assert_int_equal(identical, files);
    tu_rmtree(tmp);
    free(tmp);
}

/* Shapes as described in ../shared/models/MANIFEST.md, and the parameter and tensor counts they
 * imply for a llama / bert file. */
struct manifest_model {
    const char *path, *arch;
    int64_t dim, layers, heads, kv_heads, ffn, vocab, ctx;
    bool has_output;
};

static void llama_counts(const struct manifest_model *m, uint64_t *params, int64_t *tensors) {
    int64_t kv_dim = m->dim / m->heads * m->kv_heads;
    int64_t per_layer = 2 * m->dim * m->dim + 2 * m->dim * kv_dim + 3 * m->dim * m->ffn + 2 * m->dim;
    *params = (uint64_t)(m->vocab * m->dim * (m->has_output ? 2 : 1) + m->dim + m->layers * per_layer);
    *tensors = 2 + 9 * m->layers + (m->has_output ? 1 : 0);
}

static void bert_counts(const struct manifest_model *m, uint64_t *params, int64_t *tensors) {
    int64_t d = m->dim;
    int64_t per_layer = 4 * (d * d + d) + 2 * d + (d * m->ffn + m->ffn) + (m->ffn * d + d) + 2 * d;
    *params = (uint64_t)(m->vocab * d + m->ctx * d + 2 * d + 2 * d + m->layers * per_layer);
    *tensors = 5 + 16 * m->layers;
}

static int64_t meta_int(const slm_gguf *g, const char *arch, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v = -1;
    TU_ASSERT_OK(slm_gguf_get_i64(g, key, &v));
    return v;
}

static void shared_models_match_manifest(void **state) {
    (void)state;
    static const struct manifest_model models[] = {
        {"models/stories260K/stories260K.gguf", "llama", 64, 5, 8, 4, 172, 512, 512, true},
        {"models/TinyStories-656K/TinyStories-656K-f32.gguf", "llama", 128, 2, 8, 4, 384, 2048, 512, true},
        {"models/random/llama-2-tiny-random.gguf", "llama", 8, 1, 2, 2, 32, 32000, 4096, true},
        {"models/synth/synth-a-f32.gguf", "llama", 256, 2, 8, 4, 768, 512, 512, true},
        {"models/synth/synth-a-q4_k.gguf", "llama", 256, 2, 8, 4, 768, 512, 512, true},
        {"models/synth-bert/synth-bert-f16.gguf", "bert", 384, 2, 6, 6, 1536, 30522, 512, false},
        {"models/synth-bert/synth-bert-q8_0.gguf", "bert", 384, 2, 6, 6, 1536, 30522, 512, false},
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        const struct manifest_model *m = &models[i];
        char *path = tu_require_shared(m->path);
        slm_gguf *g = NULL;
        TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
        char arch[32];
        TU_ASSERT_OK(slm_gguf_get_str_buf(g, "general.architecture", arch, sizeof arch));
        assert_string_equal(arch, m->arch);
        assert_int_equal(meta_int(g, arch, "embedding_length"), m->dim);
        assert_int_equal(meta_int(g, arch, "block_count"), m->layers);
        assert_int_equal(meta_int(g, arch, "attention.head_count"), m->heads);
        assert_int_equal(meta_int(g, arch, "feed_forward_length"), m->ffn);
        assert_int_equal(meta_int(g, arch, "context_length"), m->ctx);
        uint64_t params;
        int64_t tensors;
        if (!strcmp(arch, "bert")) bert_counts(m, &params, &tensors);
        else {
            assert_int_equal(meta_int(g, arch, "attention.head_count_kv"), m->kv_heads);
            llama_counts(m, &params, &tensors);
        }
        assert_int_equal(slm_gguf_total_elements(g), params);
        assert_int_equal(slm_gguf_tensor_count(g), tensors);
        const struct slm_gguf_tensor *emb = slm_gguf_find_tensor(g, "token_embd.weight");
        assert_non_null(emb);
        assert_int_equal(emb->ne[0], m->dim);
        assert_int_equal(emb->ne[1], m->vocab);
        slm_gguf_close(g);
        free(path);
    }
}

static void vocab_only_files(void **state) {
    (void)state;
    char *path = tu_require_shared("models/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf");
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
    assert_int_equal(slm_gguf_tensor_count(g), 0);
    struct slm_gguf_array toks, scores;
    TU_ASSERT_OK(slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks));
    TU_ASSERT_OK(slm_gguf_get_arr(g, "tokenizer.ggml.scores", &scores));
    assert_int_equal(toks.count, 32000);
    assert_int_equal(scores.count, 32000);
    struct slm_gguf_str s = slm_gguf_arr_str(&toks, 1);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "<s>", 3);
    slm_gguf_close(g);
    free(path);
}

static void open_errors(void **state) {
    (void)state;
    slm_gguf *g = (slm_gguf *)1;
    assert_int_equal(slm_gguf_open("/nonexistent/model.gguf", NULL, &g), SLM_E_NOT_FOUND);
    assert_null(g);
    assert_non_null(strstr(slm_error_detail(), "/nonexistent/model.gguf"));
    g = (slm_gguf *)1;
    assert_int_equal(slm_gguf_open("/", NULL, &g), SLM_E_IO);
    assert_null(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_read_all_types),   cmocka_unit_test(writer_rejects_bad_input),
        cmocka_unit_test(roundtrip_shared_models), cmocka_unit_test(shared_models_match_manifest),
        cmocka_unit_test(vocab_only_files),       cmocka_unit_test(open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
