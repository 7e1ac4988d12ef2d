/* Sentence embeddings against the reference in ../shared/golden/embeddings: the 48 texts on the
 * synthetic BERT in F16 (cosine >= 0.9999) and Q8_0 (>= 0.999), fed as the reference's token ids
 * and as text where our WordPiece agrees with its ids; tokenizer differences reported; batched
 * equal to one-by-one bit for bit; truncation of the over-long text; pooling and normalisation
 * options against the reference's unpooled hidden states; errors for bad input; embedders of one
 * model share the matrices it packed for the AMX tiles (counted once in the footprint). */
#include "testutil.h"

#include "slm.h"
#include "core/internal.h"
#include "tensor/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_F16 "golden/embeddings/synth-bert-f16.json"
#define GOLDEN_Q8 "golden/embeddings/synth-bert-q8_0.json"
#define MODEL_F16 "models/synth-bert/synth-bert-f16.gguf"
#define MODEL_Q8 "models/synth-bert/synth-bert-q8_0.gguf"

static double cosine(const float *a, const double *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static double *json_doubles(cJSON *arr, int *n) {
    *n = cJSON_GetArraySize(arr);
    double *v = malloc((size_t)*n * sizeof *v);
    for (int i = 0; i < *n; i++) v[i] = cJSON_GetArrayItem(arr, i)->valuedouble;
    return v;
}

static int32_t *json_ids(cJSON *arr, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(arr);
    int32_t *v = malloc(*n * sizeof *v);
    for (size_t i = 0; i < *n; i++) v[i] = cJSON_GetArrayItem(arr, (int)i)->valueint;
    return v;
}

/* The golden file's inputs: texts, reference ids and vectors. */
struct golden {
    cJSON *doc;
    int n, dim;
    const char **texts;
    int32_t **ids;
    size_t *n_ids;
    double **vec;
};

static void golden_load(struct golden *g, const char *path) {
    g->doc = tu_read_json(path);
    assert_non_null(g->doc);
    cJSON *sents = cJSON_GetObjectItem(g->doc, "sentences");
    g->n = cJSON_GetArraySize(sents);
    g->texts = calloc((size_t)g->n, sizeof *g->texts);
    g->ids = calloc((size_t)g->n, sizeof *g->ids);
    g->n_ids = calloc((size_t)g->n, sizeof *g->n_ids);
    g->vec = calloc((size_t)g->n, sizeof *g->vec);
    for (int i = 0; i < g->n; i++) {
        cJSON *s = cJSON_GetArrayItem(sents, i);
        g->texts[i] = cJSON_GetObjectItem(s, "text")->valuestring;
        g->ids[i] = json_ids(cJSON_GetObjectItem(s, "token_ids"), &g->n_ids[i]);
        g->vec[i] = json_doubles(cJSON_GetObjectItem(s, "embedding"), &g->dim);
    }
}

static void golden_free(struct golden *g) {
    for (int i = 0; i < g->n; i++) {
        free(g->ids[i]);
        free(g->vec[i]);
    }
    free(g->texts);
    free(g->ids);
    free(g->n_ids);
    free(g->vec);
    cJSON_Delete(g->doc);
}

struct fixture {
    slm_model *model;
    slm_tokenizer *tok;
    slm_embedder *emb;
    struct golden g;
};

static bool fixture_open(struct fixture *f, const char *model_rel, const char *golden_rel,
                         const struct slm_embed_params *p) {
    char *model = tu_require_shared(model_rel);
    char *golden = tu_require_shared(golden_rel);
    if (!model || !golden) {
        free(model);
        free(golden);
        return false;
    }
    TU_ASSERT_OK(slm_model_load(model, NULL, &f->model));
    TU_ASSERT_OK(slm_tokenizer_from_gguf(slm_model_get_gguf(f->model), &f->tok));
    TU_ASSERT_OK(slm_embedder_create(f->model, f->tok, p, &f->emb));
    golden_load(&f->g, golden);
    assert_int_equal(f->g.dim, (int)slm_embedder_dim(f->emb));
    free(model);
    free(golden);
    return true;
}

static void fixture_close(struct fixture *f) {
    golden_free(&f->g);
    slm_embedder_free(f->emb);
    slm_tokenizer_free(f->tok);
    slm_model_free(f->model);
}

/* Embeds the reference's ids and, where our tokenizer agrees with them, the texts; every cosine
 * must reach min_cos. Reports the tokenizer differences. */
static void check_golden(const char *model_rel, const char *golden_rel, slm_gelu gelu,
                         double min_cos) {
    struct slm_embed_params p = slm_embed_default_params();
    p.gelu = gelu;
    p.n_threads = 2;
    struct fixture f;
    if (!fixture_open(&f, model_rel, golden_rel, &p)) return;
    const int n = f.g.n, dim = f.g.dim;
    float *by_ids = malloc((size_t)n * dim * sizeof(float));
    float *by_text = malloc((size_t)n * dim * sizeof(float));
    struct slm_embed_info *info = calloc((size_t)n, sizeof *info);
    TU_ASSERT_OK(slm_embed_tokens(f.emb, (const int32_t *const *)f.g.ids, f.g.n_ids, (size_t)n,
                                  by_ids, NULL));
    TU_ASSERT_OK(slm_embed(f.emb, f.g.texts, (size_t)n, by_text, info));
    double min_ids = 1, sum_ids = 0, min_text = 1, sum_text = 0;
    int n_text = 0, mismatched = 0;
    for (int i = 0; i < n; i++) {
        double c = cosine(by_ids + (size_t)i * dim, f.g.vec[i], dim);
        if (c < min_cos) fail_msg("%s text %d (ids): cosine %.7f < %.4f", model_rel, i, c, min_cos);
        min_ids = fmin(min_ids, c);
        sum_ids += c;
        int32_t *ours = NULL;
        size_t n_ours = 0;
        TU_ASSERT_OK(slm_tokenize(f.tok, f.g.texts[i], strlen(f.g.texts[i]),
                                  SLM_TOKENIZE_ADD_SPECIAL, &ours, &n_ours));
        /* the reference truncated its golden to 512 tokens: compare our truncated ids */
        bool same = info[i].n_tokens == f.g.n_ids[i] && n_ours >= info[i].n_tokens &&
                    !memcmp(ours, f.g.ids[i], (info[i].n_tokens - 1) * sizeof *ours) &&
                    ours[n_ours - 1] == f.g.ids[i][f.g.n_ids[i] - 1];
        if (same) {
            c = cosine(by_text + (size_t)i * dim, f.g.vec[i], dim);
            if (c < min_cos)
                fail_msg("%s text %d (text): cosine %.7f < %.4f", model_rel, i, c, min_cos);
            min_text = fmin(min_text, c);
            sum_text += c;
            n_text++;
        } else {
            mismatched++;
            printf("tokenizer differs from the reference on text %d (%zu vs %zu ids): \"%.40s\"\n",
                   i, n_ours, f.g.n_ids[i], f.g.texts[i]);
        }
        slm_free(ours);
    }
    printf("%s gelu %s: by ids %d texts cosine min %.7f mean %.7f; by text %d texts min %.7f mean "
           "%.7f; %d tokenizer mismatches\n", model_rel, gelu == SLM_GELU_ERF ? "erf" : "tanh", n,
           min_ids, sum_ids / n, n_text, min_text, sum_text / n_text, mismatched);
    assert_true(n_text >= n - 4); /* only the accent-quirk texts may differ */
    free(info);
    free(by_ids);
    free(by_text);
    fixture_close(&f);
}

static void golden_f16_erf(void **state) {
    (void)state;
    check_golden(MODEL_F16, GOLDEN_F16, SLM_GELU_ERF, 0.9999);
}
static void golden_f16_tanh(void **state) {
    (void)state;
    check_golden(MODEL_F16, GOLDEN_F16, SLM_GELU_TANH, 0.9999);
}
static void golden_q8_0_erf(void **state) {
    (void)state;
    check_golden(MODEL_Q8, GOLDEN_Q8, SLM_GELU_ERF, 0.999);
}
static void golden_q8_0_tanh(void **state) {
    (void)state;
    check_golden(MODEL_Q8, GOLDEN_Q8, SLM_GELU_TANH, 0.999);
}

/* Below AVX-512 the encoder takes the other paths (the AVX2 float tiles, key-by-key attention):
 * same criteria. */
static void golden_f16_avx2_level(void **state) {
    (void)state;
    slm_cpu_level was = slm__cpu_level();
    if (slm__cpu_level_set(SLM_CPU_AVX2) != SLM_CPU_AVX2) {
        printf("skipped: no AVX2 on this CPU\n");
        skip();
    }
    check_golden(MODEL_F16, GOLDEN_F16, SLM_GELU_ERF, 0.9999);
    slm__cpu_level_set(was);
}

/* All 48 texts in one call, in passes of various sizes, and one by one: bit-identical. */
static void batched_equals_single(void **state) {
    (void)state;
    struct slm_embed_params p = slm_embed_default_params();
    p.n_threads = 2;
    struct fixture f;
    if (!fixture_open(&f, MODEL_F16, GOLDEN_F16, &p)) return;
    const int n = f.g.n, dim = f.g.dim;
    size_t bytes = (size_t)n * dim * sizeof(float);
    float *all = malloc(bytes), *one = malloc(bytes), *small = malloc(bytes);
    TU_ASSERT_OK(slm_embed(f.emb, f.g.texts, (size_t)n, all, NULL));
    for (int i = 0; i < n; i++)
        TU_ASSERT_OK(slm_embed(f.emb, f.g.texts + i, 1, one + (size_t)i * dim, NULL));
    assert_memory_equal(all, one, bytes);
    /* a pass of 600 tokens: several passes, inputs split differently, one thread */
    slm_embedder *e2 = NULL;
    p.n_batch = 600;
    p.n_threads = 1;
    TU_ASSERT_OK(slm_embedder_create(f.model, f.tok, &p, &e2));
    TU_ASSERT_OK(slm_embed(e2, f.g.texts, (size_t)n, small, NULL));
    assert_memory_equal(all, small, bytes);
    slm_embedder_free(e2);
    free(all);
    free(one);
    free(small);
    fixture_close(&f);
}

/* Every embedder of a model multiplies with the matrices the model packed at load: a second
 * embedder allocates its buffers (slm_embedder_bytes) and no weights, and gives the same bits;
 * the footprint counts the packed matrices once, whatever the number of slots. */
static void embedders_share_packed_weights(void **state) {
    (void)state;
    char *path = tu_require_shared(MODEL_Q8);
    if (!path) return;
    slm_model *m = NULL;
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_model_load(path, NULL, &m));
    TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
    struct slm_footprint_params fpp = slm_footprint_default_params();
    struct slm_footprint one, four;
    TU_ASSERT_OK(slm_model_footprint(g, &fpp, &one));
    fpp.n_slots = 4;
    TU_ASSERT_OK(slm_model_footprint(g, &fpp, &four));
    assert_int_equal(four.packed, one.packed);
    assert_int_equal(four.total - one.total, 3 * one.scratch);
    assert_int_equal(one.packed > 0, slm__cpu_has_amx_bf16());
    struct slm_embed_params p = slm_embed_default_params();
    p.n_threads = 2;
    slm_embedder *e1 = NULL, *e2 = NULL;
    TU_ASSERT_OK(slm_embedder_create(m, NULL, &p, &e1));
    const int64_t heap0 = slm__alloc_thread_net();
    TU_ASSERT_OK(slm_embedder_create(m, NULL, &p, &e2));
    const double grown = (double)(slm__alloc_thread_net() - heap0),
                 want = (double)slm_embedder_bytes(e2);
    printf("second embedder: %.0f bytes allocated, slm_embedder_bytes %.0f, packed weights %llu\n",
           grown, want, (unsigned long long)one.packed);
    assert_true(fabs(grown - want) <= 0.01 * want);
    /* with the tiles forbidden an embedder holds no packed activations either: the difference
     * is that buffer alone, smaller than the matrices */
    slm_embedder *e3 = NULL;
    slm__cpu_amx_allow(false);
    TU_ASSERT_OK(slm_embedder_create(m, NULL, &p, &e3));
    slm__cpu_amx_allow(true);
    assert_true(slm_embedder_bytes(e2) - slm_embedder_bytes(e3) < one.packed || one.packed == 0);
    slm_embedder_free(e3);
    const int32_t ids[] = {101, 2023, 2003, 1037, 3231, 102};
    const uint32_t dim = slm_embedder_dim(e1);
    float *a = malloc(dim * sizeof *a), *b = malloc(dim * sizeof *b);
    const int32_t *in[] = {ids};
    const size_t n_ids[] = {SLM_ARRAY_LEN(ids)};
    TU_ASSERT_OK(slm_embed_tokens(e1, in, n_ids, 1, a, NULL));
    TU_ASSERT_OK(slm_embed_tokens(e2, in, n_ids, 1, b, NULL));
    assert_memory_equal(a, b, dim * sizeof *a);
    free(a), free(b);
    slm_embedder_free(e2);
    slm_embedder_free(e1);
    slm_gguf_close(g);
    slm_model_free(m);
    free(path);
}

/* Text 47 has 738 tokens: its first 511 and the closing [SEP] are encoded, and it is flagged. */
static void truncation(void **state) {
    (void)state;
    struct slm_embed_params p = slm_embed_default_params();
    p.n_threads = 2;
    struct fixture f;
    if (!fixture_open(&f, MODEL_F16, GOLDEN_F16, &p)) return;
    const int dim = f.g.dim, i = 47;
    assert_int_equal(slm_embedder_max_tokens(f.emb), 512);
    float *v = malloc((size_t)dim * sizeof(float)), *w = malloc((size_t)dim * sizeof(float));
    struct slm_embed_info info;
    TU_ASSERT_OK(slm_embed(f.emb, &f.g.texts[i], 1, v, &info));
    assert_true(info.truncated);
    assert_int_equal(info.n_tokens, 512);
    assert_int_equal(info.n_tokens_in, 738);
    assert_true(cosine(v, f.g.vec[i], dim) >= 0.9999);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    TU_ASSERT_OK(slm_tokenize(f.tok, f.g.texts[i], strlen(f.g.texts[i]), SLM_TOKENIZE_ADD_SPECIAL,
                              &ids, &n_ids));
    assert_int_equal(n_ids, 738);
    assert_int_equal(ids[n_ids - 1], slm_tokenizer_token_id(f.tok, SLM_TOKEN_SEP));
    ids[511] = ids[n_ids - 1];
    size_t n512 = 512;
    const int32_t *in = ids;
    TU_ASSERT_OK(slm_embed_tokens(f.emb, &in, &n512, 1, w, &info));
    assert_false(info.truncated);
    assert_memory_equal(v, w, (size_t)dim * sizeof(float));
    /* a short text is not flagged */
    TU_ASSERT_OK(slm_embed(f.emb, &f.g.texts[0], 1, v, &info));
    assert_false(info.truncated);
    assert_int_equal(info.n_tokens, info.n_tokens_in);
    /* a smaller max_tokens truncates the same way */
    slm_embedder *e2 = NULL;
    p.max_tokens = 8;
    TU_ASSERT_OK(slm_embedder_create(f.model, f.tok, &p, &e2));
    TU_ASSERT_OK(slm_embed(e2, &f.g.texts[0], 1, v, &info));
    assert_true(info.truncated);
    assert_int_equal(info.n_tokens, 8);
    int32_t head[8];
    memcpy(head, f.g.ids[0], 7 * sizeof *head);
    head[7] = f.g.ids[0][f.g.n_ids[0] - 1];
    const int32_t *hp = head;
    size_t n8 = 8;
    TU_ASSERT_OK(slm_embed_tokens(e2, &hp, &n8, 1, w, NULL));
    assert_memory_equal(v, w, (size_t)dim * sizeof(float));
    slm_embedder_free(e2);
    slm_free(ids);
    free(v);
    free(w);
    fixture_close(&f);
}

/* CLS / last / mean pooling without normalisation against the reference's hidden states: within
 * 5e-2 per component (a few 1e-3 from the erf GELU against a tanh reference, about 2e-2 on the
 * largest components when the AMX tiles round activations to BF16), while the rows the other
 * modes would pool, or a normalised vector, differ by more than 1. */
static void pooling_options(void **state) {
    (void)state;
    char *golden = tu_require_shared(GOLDEN_F16);
    if (!golden) return;
    cJSON *doc = tu_read_json(golden);
    cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "per_token"), 0);
    size_t n_ids;
    int32_t *ids = json_ids(cJSON_GetObjectItem(pt, "token_ids"), &n_ids);
    cJSON *hidden = cJSON_GetObjectItem(pt, "hidden");
    const slm_embed_pooling modes[] = {SLM_EMBED_POOLING_CLS, SLM_EMBED_POOLING_LAST,
                                       SLM_EMBED_POOLING_MEAN};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        struct slm_embed_params p = slm_embed_default_params();
        p.pooling = modes[m];
        p.normalize = false;
        p.gelu = SLM_GELU_TANH;
        p.n_threads = 1;
        struct fixture f;
        if (!fixture_open(&f, MODEL_F16, GOLDEN_F16, &p)) break;
        assert_int_equal(slm_embedder_pooling(f.emb), modes[m]);
        const int dim = f.g.dim;
        float *v = malloc((size_t)dim * sizeof(float));
        const int32_t *in = ids;
        TU_ASSERT_OK(slm_embed_tokens(f.emb, &in, &n_ids, 1, v, NULL));
        double max_err = 0;
        for (int d = 0; d < dim; d++) {
            double want = 0;
            if (modes[m] == SLM_EMBED_POOLING_MEAN) {
                for (size_t t = 0; t < n_ids; t++)
                    want += cJSON_GetArrayItem(cJSON_GetArrayItem(hidden, (int)t), d)->valuedouble;
                want /= (double)n_ids;
            } else {
                int row = modes[m] == SLM_EMBED_POOLING_CLS ? 0 : (int)n_ids - 1;
                want = cJSON_GetArrayItem(cJSON_GetArrayItem(hidden, row), d)->valuedouble;
            }
            max_err = fmax(max_err, fabs(v[d] - want));
        }
        printf("pooling %s, not normalised: max |ours - reference| %.2e\n",
               slm_embed_pooling_name(modes[m]), max_err);
        assert_true(max_err < 5e-2);
        free(v);
        fixture_close(&f);
    }
    free(ids);
    cJSON_Delete(doc);
    free(golden);
}

static void bad_input(void **state) {
    (void)state;
    struct slm_embed_params p = slm_embed_default_params();
    p.n_threads = 1;
    struct fixture f;
    if (!fixture_open(&f, MODEL_F16, GOLDEN_F16, &p)) return;
    float v[384];
    const char *texts[] = {"fine", NULL};
    assert_int_equal(slm_embed(f.emb, texts, 2, v, NULL), SLM_E_INVALID_INPUT);
    assert_non_null(strstr(slm_error_detail(), "text 1"));
    assert_int_equal(slm_embed(f.emb, NULL, 1, v, NULL), SLM_E_INVALID_ARG);
    assert_int_equal(slm_embed(f.emb, texts, 1, NULL, NULL), SLM_E_INVALID_ARG);
    assert_int_equal(slm_embed(f.emb, texts, 0, NULL, NULL), SLM_OK);
    int32_t bad[] = {101, 30522, 102}, good[] = {101, 102};
    const int32_t *in[] = {good, bad};
    size_t lens[] = {2, 3};
    assert_int_equal(slm_embed_tokens(f.emb, in, lens, 2, v, NULL), SLM_E_INVALID_INPUT);
    assert_non_null(strstr(slm_error_detail(), "30522"));
    size_t zero[] = {0};
    assert_int_equal(slm_embed_tokens(f.emb, in, zero, 1, v, NULL), SLM_E_INVALID_INPUT);
    /* an empty text is [CLS] [SEP] */
    const char *empty = "";
    struct slm_embed_info info;
    TU_ASSERT_OK(slm_embed(f.emb, &empty, 1, v, &info));
    assert_int_equal(info.n_tokens, 2);
    slm_embedder *e2 = NULL;
    p.max_tokens = 513;
    assert_int_equal(slm_embedder_create(f.model, f.tok, &p, &e2), SLM_E_INVALID_ARG);
    assert_null(e2);
    p.max_tokens = 1;
    assert_int_equal(slm_embedder_create(f.model, f.tok, &p, &e2), SLM_E_INVALID_ARG);
    p.max_tokens = 0;
    TU_ASSERT_OK(slm_embedder_create(f.model, NULL, &p, &e2));
    assert_int_equal(slm_embed(e2, texts, 1, v, NULL), SLM_E_INVALID_ARG);
    slm_embedder_free(e2);
    /* the footprint estimate counts the buffers of an embedder with default parameters */
    TU_ASSERT_OK(slm_embedder_create(f.model, f.tok, NULL, &e2));
    struct slm_footprint fp;
    TU_ASSERT_OK(slm_model_footprint(slm_model_get_gguf(f.model), NULL, &fp));
    assert_true(fp.scratch > 0 && fp.scratch <= slm_embedder_bytes(e2));
    assert_true(slm_embedder_bytes(e2) - fp.scratch < 16384); /* the packed ids and offsets */
    slm_embedder_free(e2);
    slm_embed_pooling pool;
    TU_ASSERT_OK(slm_embed_pooling_from_name("cls", &pool));
    assert_int_equal(pool, SLM_EMBED_POOLING_CLS);
    assert_int_equal(slm_embed_pooling_from_name("max", &pool), SLM_E_INVALID_ARG);
    fixture_close(&f);
    /* a decoder does not embed */
    char *llama = tu_require_shared("models/stories260K/stories260K.gguf");
    if (!llama) return;
    slm_model *m = NULL;
    TU_ASSERT_OK(slm_model_load(llama, NULL, &m));
    assert_int_equal(slm_embedder_create(m, NULL, NULL, &e2), SLM_E_UNSUPPORTED);
    slm_model_free(m);
    free(llama);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_f16_erf),   cmocka_unit_test(golden_f16_tanh),
        cmocka_unit_test(golden_q8_0_erf),  cmocka_unit_test(golden_q8_0_tanh),
        cmocka_unit_test(golden_f16_avx2_level), cmocka_unit_test(batched_equals_single),
        cmocka_unit_test(truncation),       cmocka_unit_test(embedders_share_packed_weights),
        cmocka_unit_test(pooling_options),  cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
