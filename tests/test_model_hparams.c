/* Tests of the model layer's data side: hyper-parameters of every shared model against the
 * MANIFEST, footprints from the header, and clear errors for models that do not fit their
 * architecture (missing or mis-shaped tensors, unsupported types, bad metadata). */
#include "testutil.h"

#include "slm/gen.h"
#include "slm/model.h"

#include <stdlib.h>
#include <string.h>

struct expect {
    const char *path;
    slm_arch arch;
    uint32_t embd, layers, heads, kv_heads, ff, vocab, ctx;
    bool tied;
};

static void shared_models(void **state) {
    (void)state;
    static const struct expect models[] = {
        {"models/stories260K/stories260K.gguf", SLM_ARCH_LLAMA, 64, 5, 8, 4, 172, 512, 512, false},
        {"models/TinyStories-656K/TinyStories-656K-f32.gguf", SLM_ARCH_LLAMA, 128, 2, 8, 4, 384, 2048, 512, false},
        {"models/random/llama-2-tiny-random.gguf", SLM_ARCH_LLAMA, 8, 1, 2, 2, 32, 32000, 4096, false},
        {"models/synth/synth-a-q6_k.gguf", SLM_ARCH_LLAMA, 256, 2, 8, 4, 768, 512, 512, false},
        {"models/synth-bert/synth-bert-q8_0.gguf", SLM_ARCH_BERT, 384, 2, 6, 6, 1536, 30522, 512, true},
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        const struct expect *e = &models[i];
        char *path = tu_require_shared(e->path);
        slm_gguf *g = NULL;
        TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
        struct slm_model_hparams h;
        TU_ASSERT_OK(slm_model_hparams_read(g, &h));
        assert_int_equal(h.arch, e->arch);
        assert_int_equal(h.n_embd, e->embd);
        assert_int_equal(h.n_layer, e->layers);
        assert_int_equal(h.n_head, e->heads);
        assert_int_equal(h.n_head_kv, e->kv_heads);
        assert_int_equal(h.n_ff, e->ff);
        assert_int_equal(h.n_vocab, e->vocab);
        assert_int_equal(h.n_ctx_train, e->ctx);
        assert_int_equal(h.head_dim, e->embd / e->heads);
        assert_int_equal(h.tied_output, e->tied);
        if (e->arch == SLM_ARCH_BERT) {
            assert_int_equal(h.pooling, SLM_POOLING_MEAN);
            assert_false(h.causal);
            assert_int_equal(h.rope, SLM_ROPE_NONE);
            assert_int_equal(h.n_token_types, 2);
            assert_true(h.norm_eps > 0.9e-12f && h.norm_eps < 1.1e-12f);
        } else {
            assert_true(h.causal);
            assert_int_equal(h.rope, SLM_ROPE_NORMAL);
            assert_int_equal(h.n_rot, h.head_dim);
        }
        struct slm_footprint fp;
        struct slm_footprint_params fpp = slm_footprint_default_params();
        TU_ASSERT_OK(slm_model_footprint(g, &fpp, &fp));
        assert_int_equal(fp.weights, slm_gguf_total_tensor_bytes(g));
        uint64_t kv = e->arch == SLM_ARCH_BERT
                          ? 0
                          : (uint64_t)e->ctx * e->layers * e->kv_heads * (e->embd / e->heads) * 2 * 2;
        assert_int_equal(fp.kv, kv);
        assert_int_equal(fp.total, fp.weights + fp.packed + fp.kv + fp.scratch + fp.metadata);
        if (e->arch != SLM_ARCH_BERT) assert_int_equal(fp.packed, 0);
        assert_true(fp.metadata > slm_gguf_heap_bytes(g) / 2);
        assert_true(fp.scratch > 0); /* session buffers, or an embedder's for bert */
        fpp.n_ctx = 128, fpp.n_slots = 3, fpp.kv_type = SLM_KV_F32;
        TU_ASSERT_OK(slm_model_footprint(g, &fpp, &fp));
        assert_int_equal(fp.kv, kv / e->ctx * 128 * 3 * 2);
        slm_gguf_close(g);
        if (e->arch != SLM_ARCH_BERT) {
            /* the estimate is what a session of the same sizes allocates */
            slm_model *m = NULL;
            TU_ASSERT_OK(slm_model_load(path, NULL, &m));
            struct slm_session_params sp = slm_session_default_params();
            sp.n_ctx = 128, sp.n_batch = 32, sp.n_threads = 3, sp.kv_type = SLM_KV_F32;
            slm_session *s = NULL;
            TU_ASSERT_OK(slm_session_create(m, &sp, &s));
            fpp = slm_footprint_default_params();
            fpp.n_ctx = 128, fpp.n_batch = 32, fpp.n_threads = 3, fpp.kv_type = SLM_KV_F32;
            TU_ASSERT_OK(slm_model_footprint(slm_model_get_gguf(m), &fpp, &fp));
            assert_int_equal(slm_session_bytes(s), fp.kv + fp.scratch);
            slm_session_free(s);
            slm_model_free(m);
        }
        free(path);
    }
}

/* ---- a small llama built in memory, with knobs to break it ---- */
struct knobs {
    const char *arch;
    const char *drop_tensor;   /* leave this tensor out */
    const char *reshape;       /* give this tensor a wrong second dimension */
    slm_type matrix_type;
    slm_type norm_type;
    uint32_t heads, kv_heads;
    const char *rope_scaling;
    bool qwen_biases;
};

static void *build(const struct knobs *k, size_t *size) {
    enum { E = 32, F = 64, V = 300, L = 2 };
    static float data[V * E * 2];
    slm_gguf_writer *w = NULL;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    char key[96];
    const char *a = k->arch;
    slm_gguf_writer_set_str(w, "general.architecture", a);
#define SETU(suffix, v) snprintf(key, sizeof key, "%s." suffix, a), slm_gguf_writer_set_u32(w, key, v)
    SETU("embedding_length", E);
    SETU("block_count", L);
    SETU("attention.head_count", k->heads);
    SETU("attention.head_count_kv", k->kv_heads);
    SETU("feed_forward_length", F);
    SETU("context_length", 64);
#undef SETU
    if (k->rope_scaling) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        slm_gguf_writer_set_str(w, key, k->rope_scaling);
    }
    uint32_t kvd = E / k->heads * k->kv_heads;
    struct tdesc {
        const char *name;
        int64_t ne0, ne1;
    } ts[64];
    int n = 0;
    ts[n++] = (struct tdesc){"token_embd.weight", E, V};
    ts[n++] = (struct tdesc){"output_norm.weight", E, 1};
    static char names[L][16][48];
    for (int l = 0; l < L; l++) {
        const char *suffix[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                "attn_v.weight", "attn_output.weight", "ffn_norm.weight",
                                "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                                "attn_q.bias", "attn_k.bias", "attn_v.bias"};
        int64_t shapes[][2] = {{E, 1}, {E, E}, {E, kvd}, {E, kvd}, {E, E}, {E, 1},
                               {E, F}, {E, F}, {F, E}, {E, 1}, {kvd, 1}, {kvd, 1}};
        int count = k->qwen_biases ? 12 : 9;
        for (int s = 0; s < count; s++) {
            snprintf(names[l][s], sizeof names[l][s], "blk.%d.%s", l, suffix[s]);
            ts[n++] = (struct tdesc){names[l][s], shapes[s][0], shapes[s][1]};
        }
    }
    for (int i = 0; i < n; i++) {
        if (k->drop_tensor && !strcmp(ts[i].name, k->drop_tensor)) continue;
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        if (k->reshape && !strcmp(ts[i].name, k->reshape)) ne[1] += 1;
        bool vec = ne[1] == 1;
        slm_type t = vec ? k->norm_type : k->matrix_type;
        uint64_t bytes;
        assert_true(slm_type_nbytes(t, (uint64_t)(ne[0] * ne[1]), &bytes));
        TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, ts[i].name, t, vec ? 1 : 2, ne, data, bytes));
    }
    void *buf;
    TU_ASSERT_OK(slm_gguf_writer_write_memory(w, &buf, size));
    slm_gguf_writer_free(w);
    return buf;
}

static slm_status read_built(const struct knobs *k, struct slm_model_hparams *h) {
    size_t size;
    void *buf = build(k, &size);
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_gguf_open_memory(buf, size, NULL, &g));
    slm_status st = slm_model_hparams_read(g, h);
    slm_gguf_close(g);
    slm_free(buf);
    return st;
}

static const struct knobs base = {"llama", NULL, NULL, SLM_TYPE_F32, SLM_TYPE_F32, 4, 2, NULL, false};

static void built_llama_and_qwen2(void **state) {
    (void)state;
    struct slm_model_hparams h;
    TU_ASSERT_OK(read_built(&base, &h));
    assert_true(h.tied_output);
    assert_int_equal(h.head_dim, 8);
    assert_true(h.rope_freq_base == 10000.0f);
    assert_true(h.rope_freq_scale == 1.0f);
    struct knobs q = base;
    q.arch = "qwen2";
    q.qwen_biases = true;
    TU_ASSERT_OK(read_built(&q, &h));
    assert_int_equal(h.arch, SLM_ARCH_QWEN2);
    assert_int_equal(h.rope, SLM_ROPE_NEOX);
    q.qwen_biases = false;
    assert_int_equal(read_built(&q, &h), SLM_E_INVALID_MODEL);
    assert_non_null(strstr(slm_error_detail(), "blk.0.attn_q.bias"));
    struct knobs lin = base;
    lin.rope_scaling = "linear";
    TU_ASSERT_OK(read_built(&lin, &h));
    struct knobs q8 = base;
    q8.matrix_type = SLM_TYPE_Q8_0;
    TU_ASSERT_OK(read_built(&q8, &h));
}

static void built_models_with_errors(void **state) {
    (void)state;
    struct {
        struct knobs k;
        slm_status st;
        const char *detail;
    } cases[] = {
        {{"gpt-j", NULL, NULL, SLM_TYPE_F32, SLM_TYPE_F32, 4, 2, NULL, false}, SLM_E_UNSUPPORTED, "gpt-j"},
        {{"llama", "blk.1.ffn_down.weight", NULL, SLM_TYPE_F32, SLM_TYPE_F32, 4, 2, NULL, false},
         SLM_E_INVALID_MODEL, "missing tensor 'blk.1.ffn_down.weight'"},
        {{"llama", "token_embd.weight", NULL, SLM_TYPE_F32, SLM_TYPE_F32, 4, 2, NULL, false},
         SLM_E_INVALID_MODEL, "token_embd.weight"},
        {{"llama", NULL, "blk.0.attn_k.weight", SLM_TYPE_F32, SLM_TYPE_F32, 4, 2, NULL, false},
         SLM_E_INVALID_MODEL, "'blk.0.attn_k.weight' has shape [32, 17, 1, 1], expected [32, 16]"},
        {{"llama", NULL, NULL, SLM_TYPE_IQ4_NL, SLM_TYPE_F32, 4, 2, NULL, false}, SLM_E_UNSUPPORTED, "iq4_nl"},
        {{"llama", NULL, NULL, SLM_TYPE_F32, SLM_TYPE_F16, 4, 2, NULL, false}, SLM_E_INVALID_MODEL, "must be f32"},
        {{"llama", NULL, NULL, SLM_TYPE_F32, SLM_TYPE_F32, 4, 3, NULL, false}, SLM_E_INVALID_MODEL, "head_count_kv"},
        {{"llama", NULL, NULL, SLM_TYPE_F32, SLM_TYPE_F32, 5, 5, NULL, false}, SLM_E_INVALID_MODEL, "not a multiple"},
        {{"llama", NULL, NULL, SLM_TYPE_F32, SLM_TYPE_F32, 4, 2, "yarn", false}, SLM_E_UNSUPPORTED, "yarn"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct slm_model_hparams h;
        slm_status st = read_built(&cases[i].k, &h);
        if (st != cases[i].st || !strstr(slm_error_detail(), cases[i].detail))
            fail_msg("case %zu: got %s '%s', want %s '%s'", i, slm_status_name(st),
                     slm_error_detail(), slm_status_name(cases[i].st), cases[i].detail);
    }
}

static void vocab_only_is_not_a_model(void **state) {
    (void)state;
    char *path = tu_require_shared("models/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf");
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
    struct slm_model_hparams h;
    assert_int_equal(slm_model_hparams_read(g, &h), SLM_E_INVALID_MODEL);
    assert_non_null(strstr(slm_error_detail(), "token_embd.weight"));
    struct slm_footprint fp;
    assert_int_equal(slm_model_footprint(g, NULL, &fp), SLM_E_INVALID_MODEL);
    slm_gguf_close(g);
    free(path);
    assert_string_equal(slm_arch_name(SLM_ARCH_QWEN2), "qwen2");
    slm_arch a;
    assert_int_equal(slm_arch_from_name("phi3", &a), SLM_E_UNSUPPORTED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_models),
        cmocka_unit_test(built_llama_and_qwen2),
        cmocka_unit_test(built_models_with_errors),
        cmocka_unit_test(vocab_only_is_not_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
