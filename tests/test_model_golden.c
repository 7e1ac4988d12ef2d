/* The decoder against the reference outputs in ../shared/golden/logits: every prompt evaluated in
 * one batch with logits at every position, then the reference's generated tokens fed one at a
 * time (teacher forcing), comparing the top-16 logits at every position; then free-running greedy
 * generation compared with the reference tokens; then the whole sequence (prompt and reference
 * tokens) in one batch, as a long prompt runs, against the same positions. Float models (BF16
 * included) must match within 1e-3 of the position's logit scale; quantized ones report top-1
 * agreement and logit errors. */
// ctest-labels: tsan
#include "testutil.h"

#include "slm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FLOAT_REL_TOL 1e-3 /* |ours - ref| / max |ref| over the position's top 16 */
/* BF16 and quantized models round activations (to BF16, Q8_0, Q8_1, Q8_K) before each matmul, as
 * the reference does: a difference in summation order anywhere upstream can move one activation
 * across a rounding boundary, a step the next layers carry on. The engine sums BF16 and every
 * quantized type in the reference's order (the logits of BF16 and the legacy types come out
 * bit-identical, the K types within ~1e-6 or a rare flip); quantized files are held to the issue's
 * top-1 target. */
#define QUANT_TOP1_MIN 0.98
/* The whole sequence in one batch: past the prompt the reference ran one token at a time, so
 * every product there is summed in another (valid) order; F32 and F16 models stay within
 * FLOAT_REL_TOL, while models whose activations are rounded (BF16, quantized) carry the flipped
 * roundings on: measured max_rel up to 1.6e-2 and single top-1 flips of 69 positions (q5_0 and
 * q6_k with the dot kernels; the types on the AMX-INT8 tiles alike). These bounds catch a broken
 * kernel (max_rel ~1, top-1 far below), not a summation order. */
#define BATCH_ROUNDED_TOP1_MIN 0.95
#define BATCH_ROUNDED_REL_TOL  5e-2

struct stats {
    int positions, top1_agree;
    double max_rel, sum_abs, max_abs;
    int n_abs;
};

static int argmax(const float *l, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void compare_position(const float *ours, cJSON *pos, struct stats *st, int *ref_top1) {
    cJSON *top = cJSON_GetObjectItem(pos, "top");
    double scale = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, top) scale = fmax(scale, fabs(cJSON_GetArrayItem(e, 1)->valuedouble));
    cJSON_ArrayForEach(e, top) {
        int id = cJSON_GetArrayItem(e, 0)->valueint;
        double ref = cJSON_GetArrayItem(e, 1)->valuedouble, err = fabs(ours[id] - ref);
        st->max_rel = fmax(st->max_rel, err / fmax(scale, 1e-6));
        st->max_abs = fmax(st->max_abs, err);
        st->sum_abs += err;
        st->n_abs++;
    }
    *ref_top1 = cJSON_GetArrayItem(cJSON_GetArrayItem(top, 0), 0)->valueint;
    st->positions++;
}

static bool is_float_model(const char *path) {
    return strstr(path, "-f32") || strstr(path, "-f16") || strstr(path, "-bf16") ||
           strstr(path, "stories260K") || strstr(path, "tiny-random");
}

/* Returns false (after printing why) when the file misses its criterion. */
static bool check_golden(const char *golden_rel, const char *model_rel, const char *kv_type) {
    char grel[512];
    snprintf(grel, sizeof grel, "golden/%s", golden_rel);
    char *gpath = tu_require_shared(grel), *mpath = tu_require_shared(model_rel);
    cJSON *g = tu_read_json(gpath);
    assert_non_null(g);
    slm_model *m = NULL;
    TU_ASSERT_OK(slm_model_load(mpath, NULL, &m));
    const int n_vocab = (int)slm_model_get_hparams(m)->n_vocab;
    assert_int_equal(n_vocab, cJSON_GetObjectItem(g, "n_vocab")->valueint);

    cJSON *pt = cJSON_GetObjectItem(g, "prompt_tokens"),
          *gt = cJSON_GetObjectItem(g, "generated_tokens");
    cJSON *positions = cJSON_GetObjectItem(g, "positions");
    int P = cJSON_GetArraySize(pt), G = cJSON_GetArraySize(gt);
    int32_t *prompt = calloc((size_t)P, sizeof *prompt), *gen = calloc((size_t)G, sizeof *gen);
    for (int i = 0; i < P; i++) prompt[i] = cJSON_GetArrayItem(pt, i)->valueint;
    for (int i = 0; i < G; i++) gen[i] = cJSON_GetArrayItem(gt, i)->valueint;

    struct slm_session_params sp = slm_session_default_params();
    sp.n_ctx = 512;
    sp.n_threads = 2;
    sp.kv_type = !strcmp(kv_type, "f32") ? SLM_KV_F32 : SLM_KV_F16;
    sp.logits_all = true;
    slm_session *s = NULL;
    TU_ASSERT_OK(slm_session_create(m, &sp, &s));
    struct stats st = {0};
    const float *logits;
    int ref_top1;
    /* teacher forcing: the prompt in one batch, then the reference tokens one by one */
    TU_ASSERT_OK(slm_session_eval(s, prompt, (size_t)P, &logits));
    for (int i = 0; i < P; i++) {
        compare_position(logits + (size_t)i * n_vocab, cJSON_GetArrayItem(positions, i), &st,
                         &ref_top1);
        st.top1_agree += argmax(logits + (size_t)i * n_vocab, n_vocab) == ref_top1;
    }
    for (int k = 0; k < G; k++) {
        TU_ASSERT_OK(slm_session_eval(s, &gen[k], 1, &logits));
        compare_position(logits, cJSON_GetArrayItem(positions, P + k), &st, &ref_top1);
        st.top1_agree += argmax(logits, n_vocab) == ref_top1;
    }
    /* free-running greedy: tokens must equal the reference's until the first position whose
     * top1-top2 margin is below twice the largest logit error measured above (there a different
     * summation order may legitimately take the other branch) */
    TU_ASSERT_OK(slm_session_rewind(s, 0));
    TU_ASSERT_OK(slm_session_eval(s, prompt, (size_t)P, &logits));
    int same = 0, decided = 0;
    const float *last = logits + (size_t)(P - 1) * n_vocab;
    for (int k = 0; k < G; k++) {
        cJSON *pos = cJSON_GetArrayItem(positions, P - 1 + k);
        if (cJSON_GetObjectItem(pos, "margin")->valuedouble < 2 * st.max_abs) break;
        int32_t t = argmax(last, n_vocab);
        decided++;
        if (t != gen[k]) break;
        same++;
        TU_ASSERT_OK(slm_session_eval(s, &t, 1, &logits));
        last = logits;
    }
    /* the whole teacher-forced sequence in one batch: the path long prompts take (the float
     * and AMX tiles), against the same reference positions */
    int32_t *all = calloc((size_t)(P + G), sizeof *all);
    memcpy(all, prompt, (size_t)P * sizeof *all);
    memcpy(all + P, gen, (size_t)G * sizeof *all);
    struct stats sb = {0};
    TU_ASSERT_OK(slm_session_rewind(s, 0));
    TU_ASSERT_OK(slm_session_eval(s, all, (size_t)(P + G), &logits));
    for (int i = 0; i < P + G; i++) {
        compare_position(logits + (size_t)i * n_vocab, cJSON_GetArrayItem(positions, i), &sb,
                         &ref_top1);
        sb.top1_agree += argmax(logits + (size_t)i * n_vocab, n_vocab) == ref_top1;
    }
    free(all);
    double top1 = (double)st.top1_agree / st.positions,
           top1_b = (double)sb.top1_agree / sb.positions;
    printf("%-44s kv=%s positions=%3d top1=%6.2f%% max_rel=%.2e mean_abs=%.2e max_abs=%.2e "
           "greedy=%d/%d\n",
           golden_rel, kv_type, st.positions, 100 * top1, st.max_rel, st.sum_abs / st.n_abs,
           st.max_abs, same, decided);
    printf("%-44s   in one batch: top1=%6.2f%% max_rel=%.2e mean_abs=%.2e max_abs=%.2e\n", "",
           100 * top1_b, sb.max_rel, sb.sum_abs / sb.n_abs, sb.max_abs);
    bool ok = true;
    if (is_float_model(model_rel) && (st.max_rel > FLOAT_REL_TOL || same != decided)) {
        printf("  FAILS: float model needs max_rel <= %.0e and every decided greedy token\n",
               FLOAT_REL_TOL);
        ok = false;
    } else if (!is_float_model(model_rel) && top1 < QUANT_TOP1_MIN) {
        printf("  FAILS: top-1 agreement below %.0f%%\n", 100 * QUANT_TOP1_MIN);
        ok = false;
    }
    if (is_float_model(model_rel) && !strstr(model_rel, "-bf16")
            ? sb.max_rel > FLOAT_REL_TOL
            : top1_b < BATCH_ROUNDED_TOP1_MIN || sb.max_rel > BATCH_ROUNDED_REL_TOL) {
        printf("  FAILS in one batch: F32/F16 need max_rel <= %.0e, rounded activations top-1 >= "
               "%.0f%% and max_rel <= %.0e\n",
               FLOAT_REL_TOL, 100 * BATCH_ROUNDED_TOP1_MIN, BATCH_ROUNDED_REL_TOL);
        ok = false;
    }
    slm_session_free(s);
    slm_model_free(m);
    free(prompt), free(gen), free(gpath), free(mpath);
    cJSON_Delete(g);
    return ok;
}

static void all_golden_files(void **state) {
    (void)state;
    char *index_path = tu_require_shared("golden/logits/INDEX.json");
    cJSON *index = tu_read_json(index_path);
    assert_non_null(index);
    cJSON *e;
    int n = 0, failed = 0;
    cJSON_ArrayForEach(e, index) {
        failed += !check_golden(cJSON_GetObjectItem(e, "golden")->valuestring,
                                cJSON_GetObjectItem(e, "model")->valuestring,
                                cJSON_GetObjectItem(e, "kv_type")->valuestring);
        n++;
    }
    assert_int_equal(n, 24);
    assert_int_equal(failed, 0);
    cJSON_Delete(index);
    free(index_path);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(all_golden_files)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
