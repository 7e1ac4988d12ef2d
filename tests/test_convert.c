/* Tests of `slm convert` on the TinyStories-656K Hugging Face folder: tensors and metadata
 * identical to llama.cpp's conversion of it (Q/K permutation included), prompts tokenized as the
 * reference did, logits and greedy tokens against the reference logits in ../shared/golden (same
 * criteria as test_model_golden: max relative error 1e-3 over each position's top 16 and every
 * greedy token whose margin is decided); other output types; the tokenizers of the WordPiece
 * (MiniLM) and byte-level BPE (SmolLM2) folders against llama.cpp's vocabularies; the same
 * weights split over safetensors shards with an index; errors; CLI. */
#include "testutil.h"

#include "slm.h"
#include "slm/convert.h"
#include "slm/tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FLOAT_REL_TOL 1e-3

static char *dir; /* scratch folder */

static int setup(void **state) {
    (void)state;
    dir = tu_mkdtemp();
    return 0;
}
static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* Converts the TinyStories folder to `type`; returns the output path (heap) or NULL (skipped). */
static char *convert_tinystories(slm_type type) {
    char *hf = tu_require_shared("models/TinyStories-656K/model.safetensors");
    if (!hf) return NULL;
    *strrchr(hf, '/') = 0;
    char *out = malloc(4200);
    snprintf(out, 4200, "%s/ts-%s.gguf", dir, slm_type_name(type));
    struct slm_convert_params p = slm_convert_default_params();
    p.type = type;
    p.fallback = true;
    p.n_threads = 2;
    struct slm_convert_report rep;
    TU_ASSERT_OK(slm_convert_hf(hf, out, &p, &rep));
    assert_int_equal(rep.arch, SLM_ARCH_LLAMA);
    assert_int_equal(rep.n_tensors, 20);
    assert_int_equal(rep.n_params, 656000);
    assert_int_equal(rep.n_vocab, 2048);
    assert_int_equal(rep.tokenizer, SLM_TOKENIZER_SPM);
    free(hf);
    return out;
}

/* Value of key i of a equals key j of b (any type, arrays element by element). */
static bool kv_equal(const slm_gguf *a, int64_t i, const slm_gguf *b, int64_t j) {
    slm_gguf_type t = slm_gguf_kv_type(a, i);
    if (t != slm_gguf_kv_type(b, j)) return false;
    if (t == SLM_GGUF_STRING) {
        struct slm_gguf_str x, y;
        slm_gguf_kv_str(a, i, &x);
        slm_gguf_kv_str(b, j, &y);
        return x.len == y.len && !memcmp(x.ptr, y.ptr, x.len);
    }
    if (t == SLM_GGUF_ARRAY) {
        struct slm_gguf_array x, y;
        slm_gguf_kv_arr(a, i, &x);
        slm_gguf_kv_arr(b, j, &y);
        if (x.elem_type != y.elem_type || x.count != y.count) return false;
        for (uint64_t k = 0; k < x.count; k++) {
            if (x.elem_type == SLM_GGUF_STRING) {
                struct slm_gguf_str s = slm_gguf_arr_str(&x, k), u = slm_gguf_arr_str(&y, k);
                if (s.len != u.len || memcmp(s.ptr, u.ptr, s.len)) return false;
            } else if (slm_gguf_arr_f64(&x, k) != slm_gguf_arr_f64(&y, k)) {
                return false;
            }
        }
        return true;
    }
    double x, y;
    uint64_t u, v;
    if (slm_gguf_kv_f64(a, i, &x) == SLM_OK) return slm_gguf_kv_f64(b, j, &y) == SLM_OK && x == y;
    return slm_gguf_kv_u64(a, i, &u) == SLM_OK && slm_gguf_kv_u64(b, j, &v) == SLM_OK && u == v;
}

static void test_tinystories_identical(void **state) {
    (void)state;
    char *out = convert_tinystories(SLM_TYPE_F32);
    if (!out) return;
    char *ref_path = tu_require_shared("models/TinyStories-656K/TinyStories-656K-f32.gguf");
    slm_gguf *ref, *g;
    TU_ASSERT_OK(slm_gguf_open(ref_path, NULL, &ref));
    TU_ASSERT_OK(slm_gguf_open(out, NULL, &g));
    /* Every tensor as llama.cpp wrote it; the tied output matrix is left out (it equals the
     * embedding, which the reference stores twice). */
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        const struct slm_gguf_tensor *r = slm_gguf_find_tensor(ref, t->name);
        assert_non_null(r);
        assert_int_equal(t->type, r->type);
        assert_memory_equal(t->ne, r->ne, sizeof t->ne);
        if (memcmp(t->data, r->data, t->n_bytes)) fail_msg("tensor %s differs", t->name);
    }
    assert_null(slm_gguf_find_tensor(g, "output.weight"));
    const struct slm_gguf_tensor *ro = slm_gguf_find_tensor(ref, "output.weight"),
                                 *re = slm_gguf_find_tensor(ref, "token_embd.weight");
    assert_memory_equal(ro->data, re->data, ro->n_bytes);
    assert_int_equal(slm_gguf_tensor_count(g), slm_gguf_tensor_count(ref) - 1);
    /* Every hyper-parameter and tokenizer key as llama.cpp wrote it. */
    int n_checked = 0;
    for (int64_t i = 0; i < slm_gguf_kv_count(ref); i++) {
        const char *key = slm_gguf_kv_key(ref, i);
        if (!strncmp(key, "general.", 8) && strcmp(key, "general.architecture") &&
            strcmp(key, "general.file_type") && strcmp(key, "general.quantization_version"))
            continue; /* names and labels */
        int64_t j = slm_gguf_find_key(g, key);
        if (j < 0 || !kv_equal(ref, i, g, j)) fail_msg("metadata '%s' differs", key);
        n_checked++;
    }
    assert_int_equal(n_checked, 24);
    slm_gguf_close(g);
    slm_gguf_close(ref);
    free(ref_path);
    free(out);
}

static int argmax(const float *l, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

/* Max relative error of ours over the top list of one reference position; *abs the absolute. */
static double position_error(const float *ours, const cJSON *pos, double *abs_err, int *top1) {
    const cJSON *top = cJSON_GetObjectItem(pos, "top"), *e;
    double scale = 0, worst = 0;
    cJSON_ArrayForEach(e, top) scale = fmax(scale, fabs(cJSON_GetArrayItem(e, 1)->valuedouble));
    cJSON_ArrayForEach(e, top) {
        double err =
            fabs(ours[cJSON_GetArrayItem(e, 0)->valueint] - cJSON_GetArrayItem(e, 1)->valuedouble);
        worst = fmax(worst, err / fmax(scale, 1e-6));
        *abs_err = fmax(*abs_err, err);
    }
    *top1 = cJSON_GetArrayItem(cJSON_GetArrayItem(top, 0), 0)->valueint;
    return worst;
}

/* One golden file: the prompt as our tokenizer makes it, teacher-forced logits, greedy tokens. */
static void check_golden(slm_model *m, const slm_tokenizer *tok, const char *golden_rel,
                         const char *kv_type, double *max_rel_out) {
    char *gpath = tu_require_shared(golden_rel);
    cJSON *g = tu_read_json(gpath);
    assert_non_null(g);
    const int n_vocab = (int)slm_model_get_hparams(m)->n_vocab;
    cJSON *pt = cJSON_GetObjectItem(g, "prompt_tokens"),
          *gt = cJSON_GetObjectItem(g, "generated_tokens");
    cJSON *positions = cJSON_GetObjectItem(g, "positions");
    int P = cJSON_GetArraySize(pt), G = cJSON_GetArraySize(gt);
    int32_t *prompt = calloc((size_t)P, sizeof *prompt), *gen = calloc((size_t)G, sizeof *gen);
    for (int i = 0; i < P; i++) prompt[i] = cJSON_GetArrayItem(pt, i)->valueint;
    for (int i = 0; i < G; i++) gen[i] = cJSON_GetArrayItem(gt, i)->valueint;
    const char *text = cJSON_GetObjectItem(g, "prompt")->valuestring;
    int32_t *ids;
    size_t n_ids;
    TU_ASSERT_OK(slm_tokenize(tok, text, strlen(text), SLM_TOKENIZE_ADD_SPECIAL, &ids, &n_ids));
    assert_int_equal(n_ids, P);
    assert_memory_equal(ids, prompt, (size_t)P * sizeof *ids);
    slm_free(ids);

    struct slm_session_params sp = slm_session_default_params();
    sp.n_ctx = 512;
    sp.n_threads = 2;
    sp.kv_type = !strcmp(kv_type, "f32") ? SLM_KV_F32 : SLM_KV_F16;
    sp.logits_all = true;
    slm_session *s;
    TU_ASSERT_OK(slm_session_create(m, &sp, &s));
    const float *logits;
    double max_rel = 0, max_abs = 0;
    int top1;
    TU_ASSERT_OK(slm_session_eval(s, prompt, (size_t)P, &logits));
    for (int i = 0; i < P; i++)
        max_rel = fmax(max_rel, position_error(logits + (size_t)i * n_vocab,
                                               cJSON_GetArrayItem(positions, i), &max_abs, &top1));
    for (int k = 0; k < G; k++) {
        TU_ASSERT_OK(slm_session_eval(s, &gen[k], 1, &logits));
        max_rel = fmax(
            max_rel, position_error(logits, cJSON_GetArrayItem(positions, P + k), &max_abs, &top1));
    }
    TU_ASSERT_OK(slm_session_rewind(s, 0));
    TU_ASSERT_OK(slm_session_eval(s, prompt, (size_t)P, &logits));
    const float *last = logits + (size_t)(P - 1) * n_vocab;
    int same = 0, decided = 0;
    for (int k = 0; k < G; k++) {
        if (cJSON_GetObjectItem(cJSON_GetArrayItem(positions, P - 1 + k), "margin")->valuedouble <
            2 * max_abs)
            break;
        int32_t t = argmax(last, n_vocab);
        decided++;
        if (t != gen[k]) break;
        same++;
        TU_ASSERT_OK(slm_session_eval(s, &t, 1, &logits));
        last = logits;
    }
    printf("%-50s kv=%s max_rel=%.2e max_abs=%.2e greedy=%d/%d\n", golden_rel, kv_type, max_rel,
           max_abs, same, decided);
    assert_int_equal(same, decided);
    assert_true(decided > G / 2);
    *max_rel_out = fmax(*max_rel_out, max_rel);
    slm_session_free(s);
    free(prompt), free(gen), free(gpath);
    cJSON_Delete(g);
}

static void test_tinystories_golden(void **state) {
    (void)state;
    char *out = convert_tinystories(SLM_TYPE_F32);
    if (!out) return;
    char *index_path = tu_require_shared("golden/logits/INDEX.json");
    cJSON *index = tu_read_json(index_path);
    slm_model *m;
    slm_tokenizer *tok;
    TU_ASSERT_OK(slm_model_load(out, NULL, &m));
    TU_ASSERT_OK(slm_tokenizer_from_gguf(slm_model_get_gguf(m), &tok));
    int n = 0;
    double max_rel = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, index) {
        if (!strstr(cJSON_GetObjectItem(e, "model")->valuestring, "TinyStories-656K-f32")) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "golden/%s", cJSON_GetObjectItem(e, "golden")->valuestring);
        check_golden(m, tok, rel, cJSON_GetObjectItem(e, "kv_type")->valuestring, &max_rel);
        n++;
    }
    assert_true(n >= 4);
    assert_true(max_rel <= FLOAT_REL_TOL);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    cJSON_Delete(index);
    free(index_path);
    free(out);
}

/* Other output types: matrices in the type (q4_k rows of 128 fall back to q5_0), 1-D F32, the
 * values those of the F32 conversion quantized, and the model still answers "Once upon a time"
 * with the reference's first token. */
static void test_tinystories_types(void **state) {
    (void)state;
    char *f32 = convert_tinystories(SLM_TYPE_F32);
    if (!f32) return;
    static const slm_type types[] = {SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_Q8_0, SLM_TYPE_Q4_K};
    slm_gguf *ref;
    TU_ASSERT_OK(slm_gguf_open(f32, NULL, &ref));
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        char *out = convert_tinystories(types[k]);
        slm_gguf *g;
        TU_ASSERT_OK(slm_gguf_open(out, NULL, &g));
        for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
            const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
            const struct slm_gguf_tensor *r = slm_gguf_find_tensor(ref, t->name);
            slm_type want =
                t->n_dims == 1 ? SLM_TYPE_F32 : slm_quant_type_for_row(types[k], t->ne[0]);
            assert_int_equal(t->type, want);
            void *q = malloc(t->n_bytes);
            TU_ASSERT_OK(slm_type_quantize(t->type, r->data, q, (int64_t)r->n_elements));
            if (memcmp(q, t->data, t->n_bytes))
                fail_msg("%s %s differs", slm_type_name(types[k]), t->name);
            free(q);
        }
        uint32_t ft;
        TU_ASSERT_OK(slm_gguf_get_u32(g, "general.file_type", &ft));
        assert_int_not_equal(ft, 0);
        slm_gguf_close(g);
        slm_model *m;
        slm_session *s;
        TU_ASSERT_OK(slm_model_load(out, NULL, &m));
        TU_ASSERT_OK(slm_session_create(m, NULL, &s));
        const int32_t prompt[] = {1, 80, 147, 201, 282, 57}; /* <s> Once upon a time */
        const float *logits;
        TU_ASSERT_OK(slm_session_eval(s, prompt, 6, &logits));
        assert_int_equal(argmax(logits, 2048), 313); /* "," */
        slm_session_free(s);
        slm_model_free(m);
        free(out);
    }
    slm_gguf_close(ref);
    free(f32);
}

/* Converts only the tokenizer of a folder into a vocabulary-only GGUF held in memory. */
static slm_gguf *tokenizer_gguf(const char *folder, int32_t n_vocab, void **mem) {
    slm_gguf_writer *w;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    slm_tokenizer_kind kind;
    TU_ASSERT_OK(slm_convert_tokenizer_hf(folder, n_vocab, w, &kind));
    size_t size;
    TU_ASSERT_OK(slm_gguf_writer_write_memory(w, mem, &size));
    slm_gguf_writer_free(w);
    slm_gguf *g;
    TU_ASSERT_OK(slm_gguf_open_memory(*mem, size, NULL, &g));
    return g;
}

/* MiniLM's tokenizer.json gives llama.cpp's bert-bge vocabulary (the synth-bert fixture):
 * tokens in the ▁ form, token types and special ids identical. */
static void test_wordpiece_vocabulary(void **state) {
    (void)state;
    char *tj = tu_require_shared("models/all-MiniLM-L6-v2/tokenizer.json");
    char *ref_path = tu_require_shared("models/synth-bert/synth-bert-f16.gguf");
    *strrchr(tj, '/') = 0;
    void *mem;
    slm_gguf *g = tokenizer_gguf(tj, 0, &mem), *ref;
    TU_ASSERT_OK(slm_gguf_open(ref_path, NULL, &ref));
    static const char *const keys[] = {"tokenizer.ggml.model",
                                       "tokenizer.ggml.tokens",
                                       "tokenizer.ggml.token_type",
                                       "tokenizer.ggml.unknown_token_id",
                                       "tokenizer.ggml.seperator_token_id",
                                       "tokenizer.ggml.padding_token_id",
                                       "tokenizer.ggml.cls_token_id",
                                       "tokenizer.ggml.mask_token_id"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        int64_t i = slm_gguf_find_key(ref, keys[k]), j = slm_gguf_find_key(g, keys[k]);
        if (i < 0 || j < 0 || !kv_equal(ref, i, g, j)) fail_msg("'%s' differs", keys[k]);
    }
    slm_tokenizer *tok;
    TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &tok));
    int32_t *ids;
    size_t n;
    TU_ASSERT_OK(slm_tokenize(tok, "Hello, World!", 13, SLM_TOKENIZE_ADD_SPECIAL, &ids, &n));
    const int32_t want[] = {101, 7592, 1010, 2088, 999, 102};
    assert_int_equal(n, 6);
    assert_memory_equal(ids, want, sizeof want);
    slm_free(ids);
    slm_tokenizer_free(tok);
    slm_gguf_close(ref);
    slm_gguf_close(g);
    slm_free(mem);
    free(tj);
    free(ref_path);
}

/* SmolLM2's byte-level BPE: "gpt2" with its pre-tokenizer (the starcoder row, which llama.cpp
 * also calls smollm), merges, control tokens;
 * padded to a larger embedding with unused [PAD<id>] tokens. */
static void test_bytelevel_vocabulary(void **state) {
    (void)state;
    char *tj = tu_require_shared("models/tokenizers/smollm2/tokenizer.json");
    *strrchr(tj, '/') = 0;
    void *mem;
    slm_gguf *g = tokenizer_gguf(tj, 49160, &mem);
    char buf[64];
    TU_ASSERT_OK(slm_gguf_get_str_buf(g, "tokenizer.ggml.model", buf, sizeof buf));
    assert_string_equal(buf, "gpt2");
    TU_ASSERT_OK(slm_gguf_get_str_buf(g, "tokenizer.ggml.pre", buf, sizeof buf));
    assert_string_equal(buf, "starcoder");
    struct slm_gguf_array a;
    TU_ASSERT_OK(slm_gguf_get_arr(g, "tokenizer.ggml.merges", &a));
    assert_int_equal(a.count, 48900);
    TU_ASSERT_OK(slm_gguf_get_arr(g, "tokenizer.ggml.token_type", &a));
    assert_int_equal(a.count, 49160);
    assert_int_equal(slm_gguf_arr_i64(&a, 1), 3); /* <|im_start|>: control */
    assert_int_equal(slm_gguf_arr_i64(&a, 1000), 1);
    assert_int_equal(slm_gguf_arr_i64(&a, 49159), 5); /* padding: unused */
    slm_tokenizer *tok;
    TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &tok));
    assert_int_equal(slm_tokenizer_n_vocab(tok), 49160);
    int32_t *ids;
    size_t n;
    const char *text = "Hello world 123";
    TU_ASSERT_OK(slm_tokenize(tok, text, strlen(text), 0, &ids, &n));
    char *back;
    size_t len;
    TU_ASSERT_OK(slm_detokenize(tok, ids, n, 0, &back, &len));
    assert_string_equal(back, text);
    assert_int_equal(n, 6); /* Hello Ġworld Ġ 1 2 3: digits are split one by one */
    slm_free(back);
    slm_free(ids);
    slm_tokenizer_free(tok);
    slm_gguf_close(g);
    slm_free(mem);
    /* a tokenizer larger than the embedding cannot be */
    slm_gguf_writer *w;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    assert_int_equal(slm_convert_tokenizer_hf(tj, 1000, w, NULL), SLM_E_INVALID_MODEL);
    slm_gguf_writer_free(w);
    free(tj);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes tensors [from, to) of st into a safetensors file whose data is not 4-byte aligned (the
 * format does not promise it), so the converter must not load floats from it directly. */
static void write_shard(const char *path, const slm_safetensors *st, int64_t from, int64_t to) {
    cJSON *h = cJSON_CreateObject();
    uint64_t off = 0;
    for (int64_t i = from; i < to; i++) {
        const struct slm_safetensors_tensor *t = slm_safetensors_tensor(st, i);
        cJSON *e = cJSON_AddObjectToObject(h, t->name);
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (uint32_t d = 0; d < t->n_dims; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        off += t->n_bytes;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
    }
    char *text = cJSON_PrintUnformatted(h);
    uint64_t len = strlen(text), pad = (4 + 2 - len % 4) % 4; /* data at 2 mod 4: misaligned */
    FILE *f = fopen(path, "wb");
    len += pad;
    fwrite(&len, 8, 1, f);
    fwrite(text, 1, len - pad, f);
    fwrite("   ", 1, pad, f);
    for (int64_t i = from; i < to; i++)
        fwrite(slm_safetensors_tensor(st, i)->data, 1, slm_safetensors_tensor(st, i)->n_bytes, f);
    fclose(f);
    free(text);
    cJSON_Delete(h);
}

static void test_sharded(void **state) {
    (void)state;
    char *single = convert_tinystories(SLM_TYPE_Q8_0);
    if (!single) return;
    char *ts = tu_require_shared("models/TinyStories-656K/model.safetensors"), *out = NULL;
    char sh[4200], path[4300], gguf[4300];
    snprintf(sh, sizeof sh, "%s/sharded", dir);
    *strrchr(ts, '/') = 0;
    assert_int_equal(tu_run(&out,
                            "mkdir -p %s && cp %s/config.json %s/tokenizer.json "
                            "%s/tokenizer_config.json %s/",
                            sh, ts, ts, ts, sh),
                     0);
    free(out);
    slm_safetensors *st;
    TU_ASSERT_OK(slm_safetensors_open(ts, &st));
    int64_t n = slm_safetensors_count(st), half = n / 2;
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", sh);
    write_shard(path, st, 0, half);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", sh);
    write_shard(path, st, half, n);
    cJSON *index = cJSON_CreateObject(), *map = cJSON_AddObjectToObject(index, "weight_map");
    for (int64_t i = 0; i < n; i++)
        cJSON_AddStringToObject(map, slm_safetensors_tensor(st, i)->name,
                                i < half ? "model-00001-of-00002.safetensors"
                                         : "model-00002-of-00002.safetensors");
    char *text = cJSON_Print(index);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", sh);
    write_file(path, text);
    free(text);
    cJSON_Delete(index);
    slm_safetensors_close(st);

    snprintf(gguf, sizeof gguf, "%s/sharded.gguf", dir);
    struct slm_convert_params p = slm_convert_default_params();
    p.type = SLM_TYPE_Q8_0;
    TU_ASSERT_OK(slm_convert_hf(sh, gguf, &p, NULL));
    slm_gguf *a, *b;
    TU_ASSERT_OK(slm_gguf_open(single, NULL, &a));
    TU_ASSERT_OK(slm_gguf_open(gguf, NULL, &b));
    assert_int_equal(slm_gguf_tensor_count(a), slm_gguf_tensor_count(b));
    for (int64_t i = 0; i < slm_gguf_tensor_count(a); i++) {
        const struct slm_gguf_tensor *x = slm_gguf_tensor(a, i), *y = slm_gguf_tensor(b, i);
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->n_bytes, y->n_bytes);
        assert_memory_equal(x->data, y->data, x->n_bytes);
    }
    slm_gguf_close(a);
    slm_gguf_close(b);
    free(ts);
    free(single);
}

/* A folder with the TinyStories files linked in and config.json replaced. */
static char *folder_with_config(const char *name, const char *config) {
    char *ts = tu_require_shared("models/TinyStories-656K/model.safetensors");
    if (!ts) return NULL;
    *strrchr(ts, '/') = 0;
    char *f = malloc(4200), path[4300];
    snprintf(f, 4200, "%s/%s", dir, name);
    char *out = NULL;
    assert_int_equal(tu_run(&out,
                            "mkdir -p %s && ln -sf %s/model.safetensors %s/tokenizer.json "
                            "%s/tokenizer_config.json %s/",
                            f, ts, ts, ts, f),
                     0);
    free(out);
    snprintf(path, sizeof path, "%s/config.json", f);
    write_file(path, config);
    free(ts);
    return f;
}

static void test_errors(void **state) {
    (void)state;
    char out[4200];
    snprintf(out, sizeof out, "%s/err.gguf", dir);
    struct slm_convert_params p = slm_convert_default_params();
    assert_int_equal(slm_convert_hf(dir, out, &p, NULL), SLM_E_NOT_FOUND); /* no config.json */
    char *f = folder_with_config("gpt", "{\"architectures\":[\"GPT2LMHeadModel\"]}");
    if (!f) return;
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_UNSUPPORTED);
    assert_non_null(strstr(slm_error_detail(), "GPT2LMHeadModel"));
    free(f);
    /* The first of duplicated keys counts: the variations come first. */
    const char *ok = "{%s\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":128,"
                     "\"intermediate_size\":384,\"max_position_embeddings\":512,"
                     "\"num_attention_heads\":8,\"num_hidden_layers\":2,"
                     "\"num_key_value_heads\":4,\"vocab_size\":2048,"
                     "\"tie_word_embeddings\":true}";
    char cfg[1024];
    snprintf(cfg, sizeof cfg, ok, "\"num_hidden_layers\":1,");
    f = folder_with_config("layers", cfg); /* tensors of a layer the config does not have */
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_UNSUPPORTED);
    assert_non_null(strstr(slm_error_detail(), "model.layers.1."));
    free(f);
    snprintf(cfg, sizeof cfg, ok, "\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4},");
    f = folder_with_config("yarn", cfg);
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_UNSUPPORTED);
    free(f);
    snprintf(cfg, sizeof cfg, ok, "\"use_sliding_window\":true,");
    f = folder_with_config("swa", cfg);
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_UNSUPPORTED);
    assert_non_null(strstr(slm_error_detail(), "sliding"));
    free(f);
    snprintf(cfg, sizeof cfg, ok, "\"hidden_size\":\"big\",");
    f = folder_with_config("bad", cfg);
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_INVALID_MODEL);
    assert_non_null(strstr(slm_error_detail(), "hidden_size"));
    free(f);
    snprintf(cfg, sizeof cfg, ok, "\"num_key_value_heads\":3,");
    f = folder_with_config("kv", cfg);
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_INVALID_MODEL);
    free(f);
    snprintf(cfg, sizeof cfg, ok, "");
    f = folder_with_config("q4k", cfg); /* rows of 128 do not fit q4_k without the fallback */
    p.type = SLM_TYPE_Q4_K;
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_INVALID_ARG);
    assert_non_null(strstr(slm_error_detail(), "rows of 128"));
    p.type = SLM_TYPE_Q8_K;
    assert_int_equal(slm_convert_hf(f, out, &p, NULL), SLM_E_INVALID_ARG);
    free(f);
}

static void test_cli(void **state) {
    (void)state;
    char *ts = tu_require_shared("models/TinyStories-656K/model.safetensors");
    if (!ts) return;
    *strrchr(ts, '/') = 0;
    char *slm = tu_build_path("slm"), *out = NULL;
    assert_int_equal(tu_run(&out, "%s convert %s %s/cli.gguf --type q8_0 --json", slm, ts, dir), 0);
    cJSON *j = cJSON_Parse(out);
    assert_string_equal(cJSON_GetObjectItem(j, "architecture")->valuestring, "llama");
    assert_string_equal(cJSON_GetObjectItem(j, "tokenizer")->valuestring, "llama");
    assert_int_equal(cJSON_GetObjectItem(j, "tensors")->valueint, 20);
    cJSON_Delete(j);
    free(out);
    assert_int_equal(
        tu_run(&out, "%s quantize %s/cli.gguf %s/cli4.gguf q4_0 --json", slm, dir, dir), 0);
    j = cJSON_Parse(out);
    assert_int_equal(cJSON_GetObjectItem(j, "quantized")->valueint, 15);
    cJSON_Delete(j);
    free(out);
    assert_int_equal(tu_run(&out, "%s quantize %s/cli.gguf %s/cli5.gguf q4_k 2>&1", slm, dir, dir),
                     5);
    assert_non_null(strstr(out, "rows of 128"));
    free(out);
    assert_int_equal(
        tu_run(&out, "%s quantize %s/cli.gguf %s/cli5.gguf q4_k --fallback", slm, dir, dir), 0);
    free(out);
    assert_int_equal(tu_run(&out, "%s quantize %s/cli.gguf %s/x.gguf q9 2>&1", slm, dir, dir), 2);
    free(out);
    assert_int_equal(tu_run(&out, "%s convert %s/none %s/x.gguf --json 2>&1", slm, dir, dir), 3);
    free(out);
    assert_int_equal(tu_run(&out,
                            "%s run %s/cli5.gguf 'Once upon a time' --max-tokens 4 "
                            "--temperature 0 2>&1",
                            slm, dir),
                     0);
    free(out);
    free(slm);
    free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tinystories_identical),
        cmocka_unit_test(test_tinystories_golden),
        cmocka_unit_test(test_tinystories_types),
        cmocka_unit_test(test_wordpiece_vocabulary),
        cmocka_unit_test(test_bytelevel_vocabulary),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
