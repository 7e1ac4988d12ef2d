/* `slm convert` against transformers as the oracle: tests/oracle/hf_random_model.py saves a
 * randomly initialised small LlamaForCausalLM (untied, SentencePiece-style tokenizer) and
 * Qwen2ForCausalLM (tied, q/k/v biases, byte-level BPE tokenizer) with their logits on a few
 * prompts; the converted GGUF must give the same logits at every position: max relative error
 * (max |ours - ref| / max |ref| per position) <= 1e-4 in F32, and in F16 against transformers
 * run with the same F16-rounded weights within the F16 budget. A random sentence-transformers
 * style BertModel converts to the bert layout (every tensor where the encoder looks for it, pooling
 * from 1_Pooling/config.json, position and token-type tables kept F32 when quantizing; its forward
 * pass is the embeddings tests' business). Skips visibly without Python's
 * torch/transformers (tests/requirements.txt). */
#include "testutil.h"

#include "slm.h"
#include "slm/convert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F32_REL_TOL 1e-4
/* F16 weights: the matmul kernels round activations to F16 before the dot, as llama.cpp's do. */
#define F16_REL_TOL 3e-3

static char *oracle_script(void) {
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    char *p = malloc(4200);
    snprintf(p, 4200, "%.*s/oracle/hf_random_model.py", slash ? (int)(slash - file) : 1,
             slash ? file : ".");
    return p;
}

/* Runs the oracle into a new folder; NULL (after a visible skip) when Python packages are
 * missing. */
static char *make_model(const char *arch, const char *tok_rel, int vocab) {
    char *tok = tu_require_shared(tok_rel);
    if (!tok) return NULL;
    *strrchr(tok, '/') = 0;
    char *dir = tu_mkdtemp(), *script = oracle_script(), *out = NULL;
    int rc = tu_run(&out, "python3 %s %s %s %s %d 2>&1", script, arch, dir, tok, vocab);
    if (rc == 77) {
        out[strcspn(out, "\n")] = 0;
        printf("skipped: transformers oracle for %s (%s)\n", arch, out);
        free(out), free(script), free(tok);
        tu_rmtree(dir);
        free(dir);
        skip();
    }
    if (rc != 0) fail_msg("oracle %s failed (%d): %s", arch, rc, out);
    free(out), free(script), free(tok);
    return dir;
}

static float *read_floats(const char *path, size_t *n) {
    size_t len;
    char *b = tu_read_file(path, &len);
    assert_non_null(b);
    *n = len / sizeof(float);
    return (float *)b;
}

/* Converts dir/model to `type` and returns the worst per-position relative error over every
 * prompt against dir/ref-<ref>-K.bin. */
static double compare(const char *dir, slm_type type, const char *ref, const char *arch) {
    char hf[4200], gguf[4200], path[4300];
    snprintf(hf, sizeof hf, "%s/model", dir);
    snprintf(gguf, sizeof gguf, "%s/%s.gguf", dir, slm_type_name(type));
    struct slm_convert_params p = slm_convert_default_params();
    p.type = type;
    p.n_threads = 2;
    struct slm_convert_report rep;
    TU_ASSERT_OK(slm_convert_hf(hf, gguf, &p, &rep));
    slm_model *m;
    TU_ASSERT_OK(slm_model_load(gguf, NULL, &m));
    assert_string_equal(slm_arch_name(slm_model_get_hparams(m)->arch), arch);
    const int V = (int)slm_model_get_hparams(m)->n_vocab;
    snprintf(path, sizeof path, "%s/prompts.json", dir);
    cJSON *prompts = tu_read_json(path), *pr;
    double worst = 0;
    int k = 0;
    cJSON_ArrayForEach(pr, prompts) {
        int n = cJSON_GetArraySize(pr);
        int32_t ids[64];
        for (int i = 0; i < n; i++) ids[i] = cJSON_GetArrayItem(pr, i)->valueint;
        snprintf(path, sizeof path, "%s/ref-%s-%d.bin", dir, ref, k++);
        size_t nf;
        float *want = read_floats(path, &nf);
        assert_int_equal(nf, (size_t)n * V);
        struct slm_session_params sp = slm_session_default_params();
        sp.kv_type = SLM_KV_F32;
        sp.logits_all = true;
        sp.n_threads = 2;
        sp.n_ctx = 64;
        slm_session *s;
        TU_ASSERT_OK(slm_session_create(m, &sp, &s));
        const float *got;
        TU_ASSERT_OK(slm_session_eval(s, ids, (size_t)n, &got));
        for (int i = 0; i < n; i++) {
            double err = 0, scale = 0;
            for (int v = 0; v < V; v++) {
                err = fmax(err, fabs((double)got[(size_t)i * V + v] - want[(size_t)i * V + v]));
                scale = fmax(scale, fabs(want[(size_t)i * V + v]));
            }
            worst = fmax(worst, err / scale);
        }
        slm_session_free(s);
        free(want);
    }
    printf("%-6s %-4s vs transformers (%s weights): max relative error %.2e over %d prompts\n",
           arch, slm_type_name(type), ref, worst, k);
    cJSON_Delete(prompts);
    slm_model_free(m);
    return worst;
}

static void run_arch(const char *arch, const char *tok_rel, int vocab) {
    char *dir = make_model(arch, tok_rel, vocab);
    if (!dir) return;
    double f32 = compare(dir, SLM_TYPE_F32, "f32", arch);
    double f16 = compare(dir, SLM_TYPE_F16, "f16", arch);
    assert_true(f32 <= F32_REL_TOL);
    assert_true(f16 <= F16_REL_TOL);
    tu_rmtree(dir);
    free(dir);
}

static void test_llama(void **state) {
    (void)state;
    run_arch("llama", "models/TinyStories-656K/tokenizer.json", 2048);
}

static void test_qwen2(void **state) {
    (void)state;
    run_arch("qwen2", "models/tokenizers/smollm2/tokenizer.json", 49152);
}

static void test_bert(void **state) {
    (void)state;
    char *dir = make_model("bert", "models/all-MiniLM-L6-v2/tokenizer.json", 30522);
    if (!dir) return;
    char hf[4200], gguf[4200];
    snprintf(hf, sizeof hf, "%s/model", dir);
    slm_safetensors *st;
    TU_ASSERT_OK(slm_safetensors_open(hf, &st));
    static const char *const same[][2] = {
        {"token_embd.weight", "embeddings.word_embeddings.weight"},
        {"position_embd.weight", "embeddings.position_embeddings.weight"},
        {"token_types.weight", "embeddings.token_type_embeddings.weight"},
        {"token_embd_norm.bias", "embeddings.LayerNorm.bias"},
        {"blk.0.attn_q.weight", "encoder.layer.0.attention.self.query.weight"},
        {"blk.1.attn_k.bias", "encoder.layer.1.attention.self.key.bias"},
        {"blk.0.attn_output_norm.weight", "encoder.layer.0.attention.output.LayerNorm.weight"},
        {"blk.1.ffn_up.weight", "encoder.layer.1.intermediate.dense.weight"},
        {"blk.1.ffn_down.bias", "encoder.layer.1.output.dense.bias"},
        {"blk.0.layer_output_norm.bias", "encoder.layer.0.output.LayerNorm.bias"},
    };
    static const slm_type types[] = {SLM_TYPE_F32, SLM_TYPE_Q8_0};
    for (size_t k = 0; k < 2; k++) {
        snprintf(gguf, sizeof gguf, "%s/bert-%s.gguf", dir, slm_type_name(types[k]));
        struct slm_convert_params p = slm_convert_default_params();
        p.type = types[k];
        struct slm_convert_report rep;
        TU_ASSERT_OK(slm_convert_hf(hf, gguf, &p, &rep));
        assert_int_equal(rep.arch, SLM_ARCH_BERT);
        assert_int_equal(rep.n_tensors, 5 + 16 * 2); /* the pooler is left out */
        assert_int_equal(rep.tokenizer, SLM_TOKENIZER_WPM);
        slm_gguf *g;
        TU_ASSERT_OK(slm_gguf_open(gguf, NULL, &g));
        struct slm_model_hparams h;
        TU_ASSERT_OK(slm_model_hparams_read(g, &h));
        assert_int_equal(h.pooling, SLM_POOLING_MEAN);
        assert_int_equal(h.n_ctx_train, 64);
        assert_int_equal(h.n_token_types, 2);
        assert_false(h.causal);
        assert_true(fabs(h.norm_eps - 1e-12) < 1e-15);
        for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
            const struct slm_gguf_tensor *t = slm_gguf_find_tensor(g, same[i][0]);
            const struct slm_safetensors_tensor *r = slm_safetensors_find(st, same[i][1]);
            assert_non_null(t);
            assert_non_null(r);
            bool table = strstr(same[i][0], "position") || strstr(same[i][0], "types");
            slm_type want = t->n_dims == 1 || table ? SLM_TYPE_F32 : types[k];
            assert_int_equal(t->type, want);
            void *q = malloc(t->n_bytes);
            TU_ASSERT_OK(slm_type_quantize(want, r->data, q, (int64_t)r->n_elements));
            if (memcmp(q, t->data, t->n_bytes)) fail_msg("%s differs", same[i][0]);
            free(q);
        }
        slm_gguf_close(g);
    }
    slm_safetensors_close(st);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama),
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_bert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
