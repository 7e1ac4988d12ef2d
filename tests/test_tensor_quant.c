/* Tests of the tensor type conversions: half-float rounding, golden dequantization (bit for bit),
 * byte-exact legacy quantization and K-quant RMSE against llama.cpp's files, and the
 * quantize->dequantize error budget of every type on random data. */
#include "testutil.h"

#include "slm/gguf.h"
#include "tensor/internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


static void f16_conversion(void **state) {
    (void)state;
    /* every finite half survives the round trip */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN payloads */
        assert_int_equal(slm__f32_to_f16(slm__f16_to_f32((slm_f16)h)), h);
    }
#ifdef __FLT16_MAX__ /* the compiler has _Float16 (gcc 12 on x86-64; clang 14 does not) */
    /* rounding matches the compiler's correctly rounded _Float16 conversion */
    for (int i = 0; i < 200000; i++) {
        float f = tu_rnd_normal() * ldexpf(1.0f, (int)(tu_rnd_uniform() * 44) - 28);
        _Float16 ref = (_Float16)f;
        uint16_t bits;
        memcpy(&bits, &ref, 2);
        assert_int_equal(slm__f32_to_f16(f), bits);
    }
#else
    printf("skipped: no _Float16 in this compiler, rounding checked by the fixed cases below\n");
#endif
    assert_int_equal(slm__f32_to_f16(1e6f), 0x7c00);
    assert_int_equal(slm__f32_to_f16(-65520.0f), 0xfc00); /* halfway to 2^16 rounds up */
    assert_int_equal(slm__f32_to_f16(65519.0f), 0x7bff);
    assert_true((slm__f32_to_f16(NAN) & 0x7fff) > 0x7c00);
    /* bf16: nearest even */
    assert_int_equal(slm__f32_to_bf16(slm__f32_from_bits(0x3f808000u)), 0x3f80);
    assert_int_equal(slm__f32_to_bf16(slm__f32_from_bits(0x3f818000u)), 0x3f82);
    assert_int_equal(slm__f32_to_bf16(slm__f32_from_bits(0x3f808001u)), 0x3f81);
}

static void golden_dequant(void **state) {
    (void)state;
    char *index = tu_require_shared("golden/dequant/INDEX.json");
    cJSON *j = tu_read_json(index);
    assert_non_null(j);
    cJSON *t;
    int n_checked = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tensors")) {
        const char *model = cJSON_GetObjectItem(t, "model")->valuestring;
        const char *name = cJSON_GetObjectItem(t, "tensor")->valuestring;
        const char *file = cJSON_GetObjectItem(t, "file")->valuestring;
        int64_t n = (int64_t)cJSON_GetObjectItem(t, "n_floats")->valuedouble;
        char rel[512];
        snprintf(rel, sizeof rel, "golden/dequant/%s", file);
        char *ref_path = tu_require_shared(rel);
        char *model_path = tu_require_shared(model);
        size_t len = 0;
        char *ref = tu_read_file(ref_path, &len);
        assert_non_null(ref);
        assert_int_equal(len, (size_t)n * 4);
        slm_gguf *g = NULL;
        TU_ASSERT_OK(slm_gguf_open(model_path, NULL, &g));
        const struct slm_gguf_tensor *ti = slm_gguf_find_tensor(g, name);
        assert_non_null(ti);
        assert_int_equal(ti->n_elements, (uint64_t)n);
        float *out = malloc((size_t)n * 4);
        TU_ASSERT_OK(slm_type_dequantize(ti->type, ti->data, out, n));
        if (memcmp(out, ref, (size_t)n * 4) != 0) {
            int64_t k = 0;
            while (memcmp(out + k, ref + 4 * k, 4) == 0) k++;
            float r;
            memcpy(&r, ref + 4 * k, 4);
            fail_msg("%s %s: element %lld is %.9g, reference %.9g", model, name, (long long)k,
                     out[k], r);
        }
        n_checked++;
        free(out);
        free(ref);
        free(ref_path);
        free(model_path);
        slm_gguf_close(g);
    }
    printf("golden dequant: %d tensors bit-exact\n", n_checked);
    assert_int_equal(n_checked, 22);
    cJSON_Delete(j);
    free(index);
}

/* Quantizes every tensor of `type` in synth-a-<name>.gguf from its F32 original. Returns the
 * number compared; *exact counts byte-identical ones; sums the squared errors of ours and theirs.
 */
static int requantize_model(slm_type type, int *exact, double *se_ours, double *se_ref,
                            double *n_elems) {
    char rel[256];
    snprintf(rel, sizeof rel, "models/synth/synth-a-%s.gguf", slm_type_name(type));
    char *qpath = tu_require_shared(rel);
    char *fpath = tu_require_shared("models/synth/synth-a-f32.gguf");
    slm_gguf *gq = NULL, *gf = NULL;
    TU_ASSERT_OK(slm_gguf_open(qpath, NULL, &gq));
    TU_ASSERT_OK(slm_gguf_open(fpath, NULL, &gf));
    int n = 0;
    *exact = 0;
    *se_ours = *se_ref = *n_elems = 0;
    for (int64_t i = 0; i < slm_gguf_tensor_count(gq); i++) {
        const struct slm_gguf_tensor *tq = slm_gguf_tensor(gq, i);
        if (tq->type != type) continue;
        const struct slm_gguf_tensor *tf = slm_gguf_find_tensor(gf, tq->name);
        assert_non_null(tf);
        assert_int_equal(tf->type, SLM_TYPE_F32);
        assert_int_equal(tf->n_elements, tq->n_elements);
        int64_t ne = (int64_t)tq->n_elements;
        uint8_t *mine = malloc(tq->n_bytes);
        float *a = malloc((size_t)ne * 4), *b = malloc((size_t)ne * 4);
        TU_ASSERT_OK(slm_type_quantize(type, tf->data, mine, ne));
        if (memcmp(mine, tq->data, tq->n_bytes) == 0) (*exact)++;
        TU_ASSERT_OK(slm_type_dequantize(type, mine, a, ne));
        TU_ASSERT_OK(slm_type_dequantize(type, tq->data, b, ne));
        const float *x = tf->data;
        for (int64_t k = 0; k < ne; k++) {
            *se_ours += ((double)a[k] - x[k]) * ((double)a[k] - x[k]);
            *se_ref += ((double)b[k] - x[k]) * ((double)b[k] - x[k]);
        }
        *n_elems += (double)ne;
        n++;
        free(mine);
        free(a);
        free(b);
    }
    slm_gguf_close(gq);
    slm_gguf_close(gf);
    free(qpath);
    free(fpath);
    return n;
}

static void quantize_legacy_exact(void **state) {
    (void)state;
    const slm_type types[] = {SLM_TYPE_Q8_0, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1, SLM_TYPE_Q5_0,
                              SLM_TYPE_Q5_1};
    for (size_t i = 0; i < SLM_ARRAY_LEN(types); i++) {
        int exact;
        double so, sr, ne;
        int n = requantize_model(types[i], &exact, &so, &sr, &ne);
        printf("quantize %s: %d/%d tensors byte-identical with the reference file\n",
               slm_type_name(types[i]), exact, n);
        assert_true(n > 0);
        assert_int_equal(exact, n);
    }
}

/* Acceptance: K-quant RMSE at most 1% above the reference quantizer's. */
#define K_RMSE_MAX_RATIO 1.01

static void quantize_k_rmse(void **state) {
    (void)state;
    const slm_type types[] = {SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K};
    for (size_t i = 0; i < SLM_ARRAY_LEN(types); i++) {
        int exact;
        double so, sr, ne;
        int n = requantize_model(types[i], &exact, &so, &sr, &ne);
        double ours = sqrt(so / ne), ref = sqrt(sr / ne);
        printf("quantize %s: %d tensors, rmse %.6e vs reference %.6e (ratio %.5f, budget %.2f), "
               "%d byte-identical\n",
               slm_type_name(types[i]), n, ours, ref, ours / ref, K_RMSE_MAX_RATIO, exact);
        assert_true(n > 0);
        assert_true(ours <= ref * K_RMSE_MAX_RATIO);
        /* stronger than the criterion: the search reproduces the reference quantizer exactly */
        assert_int_equal(exact, n);
    }
}

/* Quantize->dequantize RMSE relative to the data's RMS, on unit normal data. */
static const struct {
    slm_type type;
    double budget;
} roundtrip_budgets[] = {
    {SLM_TYPE_F32, 0.0},    {SLM_TYPE_F16, 0.0004}, {SLM_TYPE_BF16, 0.003}, {SLM_TYPE_Q8_0, 0.006},
    {SLM_TYPE_Q8_1, 0.006}, {SLM_TYPE_Q8_K, 0.008}, {SLM_TYPE_Q4_0, 0.11},  {SLM_TYPE_Q4_1, 0.10},
    {SLM_TYPE_Q5_0, 0.055}, {SLM_TYPE_Q5_1, 0.05},  {SLM_TYPE_Q4_K, 0.10},  {SLM_TYPE_Q5_K, 0.05},
    {SLM_TYPE_Q6_K, 0.025},
};

static void roundtrip_error(void **state) {
    (void)state;
    const int64_t n = 256 * 64;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    uint8_t *q = malloc(n * 4);
    for (int64_t i = 0; i < n; i++) x[i] = tu_rnd_normal();
    /* a constant block and an all-zero block must survive too */
    for (int i = 0; i < 256; i++) x[i] = 0.0f;
    for (int i = 256; i < 512; i++) x[i] = 0.25f;
    for (size_t t = 0; t < SLM_ARRAY_LEN(roundtrip_budgets); t++) {
        slm_type type = roundtrip_budgets[t].type;
        TU_ASSERT_OK(slm_type_quantize(type, x, q, n));
        TU_ASSERT_OK(slm_type_dequantize(type, q, y, n));
        double se = 0, ss = 0;
        for (int64_t i = 0; i < n; i++) {
            se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            ss += (double)x[i] * x[i];
        }
        double rel = sqrt(se / ss);
        printf("roundtrip %-5s relative rmse %.5f (budget %.4f)\n", slm_type_name(type), rel,
               roundtrip_budgets[t].budget);
        assert_true(rel <= roundtrip_budgets[t].budget);
        for (int i = 0; i < 256; i++) assert_true(y[i] == 0.0f);
        for (int i = 256; i < 512; i++) assert_true(fabsf(y[i] - 0.25f) <= 0.25f * 0.01f);
    }
    free(x);
    free(y);
    free(q);
}

/* The activation quantizers follow llama.cpp's SIMD numerics: scale 127/amax, ties to even. */
static void activation_quantizers(void **state) {
    (void)state;
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = 0;
    x[0] = 127.0f; /* id = 1 exactly, so 2.5 and -3.5 are ties */
    x[1] = 2.5f;
    x[2] = -3.5f;
    x[32] = -1.0f; /* second block: id = 127 */
    x[33] = 0.5f / 127.0f * 3.0f;
    slm_block_q8_0 file[2], act[2];
    slm_block_q8_1 act1[2];
    slm__q8_0_from_float(x, file, 64);
    slm__q8_0_act_from_float(x, act, 64);
    slm__q8_1_act_from_float(x, act1, 64);
    assert_int_equal(file[0].qs[1], 3); /* roundf: away from zero */
    assert_int_equal(act[0].qs[1], 2);  /* ties to even */
    assert_int_equal(file[0].qs[2], -4);
    assert_int_equal(act[0].qs[2], -4);
    assert_int_equal(act1[0].qs[1], 2);
    assert_int_equal(file[0].d, act[0].d);
    assert_int_equal(file[1].d, act[1].d);
    assert_int_equal(act1[0].s, slm__f32_to_f16(127.0f + 2.0f - 4.0f)); /* d = 1: s = sum(qs) */
    /* on ordinary data they agree almost everywhere */
    const int64_t n = 32 * 512;
    float *r = malloc(n * 4);
    slm_block_q8_0 *qa = malloc(n / 32 * sizeof *qa), *qb = malloc(n / 32 * sizeof *qb);
    for (int64_t i = 0; i < n; i++) r[i] = tu_rnd_normal();
    slm__q8_0_from_float(r, qa, n);
    slm__q8_0_act_from_float(r, qb, n);
    int64_t diff = 0;
    for (int64_t i = 0; i < n / 32; i++)
        for (int j = 0; j < 32; j++) diff += qa[i].qs[j] != qb[i].qs[j];
    printf("activation vs file q8_0 quantizer: %lld of %lld values differ\n", (long long)diff,
           (long long)n);
    assert_true(diff * 1000 < n);
    free(r);
    free(qa);
    free(qb);
}

/* The SIMD forms of the activation quantizers (and of the Q8_K and F16 ones the K-quant matmuls
 * and the KV cache use) write the scalar forms' bytes at every level the CPU has: on blocks built
 * for the edges, then on random blocks over a wide range of magnitudes. */
static const slm_type act_types[] = {SLM_TYPE_F16, SLM_TYPE_Q8_0, SLM_TYPE_Q8_1, SLM_TYPE_Q8_K};

enum { N_EDGE_BLOCKS = 13 };

/* Edge case c of a block of bs floats. */
static void edge_block(float *x, int64_t bs, int c) {
    /* small values in [-1.5, 1.5] around the elements a case places */
    for (int64_t j = 0; j < bs; j++) x[j] = (float)((j * 7) % 13 - 6) * 0.25f;
    switch (c) {
    case 0: /* amax 0: id 0, d 0 (Q8_K: a zero block) */
        for (int64_t j = 0; j < bs; j++) x[j] = 0.0f;
        break;
    case 1: /* zeros of both signs */
        for (int64_t j = 0; j < bs; j++) x[j] = j % 3 ? -0.0f : 0.0f;
        break;
    case 2: /* one subnormal among zeros: 127 / amax overflows to infinity */
        for (int64_t j = 0; j < bs; j++) x[j] = j % 2 ? -0.0f : 0.0f;
        x[bs / 2] = -0x1p-149f;
        break;
    case 3: /* tiny normals, still an infinite id, and subnormal F16 results */
        for (int64_t j = 0; j < bs; j++) x[j] *= 0x1p-126f;
        break;
    case 4: /* the largest float among small values */
        x[bs - 1] = FLT_MAX;
        break;
    case 5: /* huge values: d overflows F16 */
        for (int64_t j = 0; j < bs; j++) x[j] *= 1e37f;
        break;
    case 6: /* id = 1 (Q8_K: -1) and every product a tie: nearest even */
        for (int64_t j = 0; j < bs; j++) x[j] = (float)(j % 200 - 100) + 0.5f;
        x[3] = -127.0f;
        break;
    case 7: /* equal magnitudes, the negative one first (Q8_K keeps the first one's sign) */
        x[2] = -4.0f;
        x[bs - 3] = 4.0f;
        break;
    case 8: /* and the positive one first, the next one close by */
        x[1] = 4.0f;
        x[4] = -4.0f;
        x[bs - 2] = -4.0f;
        break;
    case 9: /* an infinity: id 0 and an infinite d, the product 0 * inf a NaN */
        x[5] = INFINITY;
        break;
    case 10:
        x[bs - 1] = -INFINITY;
        break;
    case 11: /* NaNs, which the reference's fmaxf skips (in every lane of a vector form) */
        for (int64_t j = 3; j < bs; j += 4) x[j] = j % 8 == 3 ? NAN : -NAN;
        break;
    default: /* F16 boundaries: the rounding to infinity, the subnormal range, halfway cases */
        for (int64_t j = 0; j < bs; j++)
            x[j] = ldexpf(1.0f + (float)j / 64.0f, (int)(j % 48) - 30) * (j % 2 ? -1.0f : 1.0f);
        x[0] = 65519.0f;
        x[1] = 65520.0f;
        x[2] = -0x1p-25f;
        x[3] = 0x1.8p-25f;
        break;
    }
}

static void simd_quantizers_match_scalar(void **state) {
    (void)state;
    slm_cpu_level max = slm__cpu_level_detected();
    int n_checked = 0;
    for (size_t ti = 0; ti < SLM_ARRAY_LEN(act_types); ti++) {
        slm_type t = act_types[ti];
        slm_from_float_fn ref = slm__act_from_float_at(t, SLM_CPU_SCALAR);
        assert_non_null(ref);
        /* F16 has no blocks: rows of 32 values, and lengths off the vector width */
        const int64_t bs = slm_type_block_size(t) > 1 ? slm_type_block_size(t) : 32;
        const int64_t n_blocks = N_EDGE_BLOCKS + 40, n = n_blocks * bs;
        float *x = malloc((size_t)n * 4);
        for (int c = 0; c < N_EDGE_BLOCKS; c++) edge_block(x + c * bs, bs, c);
        for (int64_t b = N_EDGE_BLOCKS; b < n_blocks; b++) {
            float scale = ldexpf(1.0f, (int)(tu_rnd_uniform() * 60) - 30);
            for (int64_t j = 0; j < bs; j++) x[b * bs + j] = tu_rnd_normal() * scale;
        }
        const int64_t lens[] = {n, bs, 7 * bs, n - 1, n - 15, 17, 1};
        size_t bytes;
        assert_true(slm_type_nbytes(t, (uint64_t)n, (uint64_t *)&bytes));
        uint8_t *want = malloc(bytes), *got = malloc(bytes);
        for (int l = 1; l <= (int)max; l++) {
            slm_from_float_fn f = slm__act_from_float_at(t, (slm_cpu_level)l);
            assert_non_null(f);
            for (size_t li = 0; li < SLM_ARRAY_LEN(lens); li++) {
                int64_t len = lens[li];
                if (len % slm_type_block_size(t)) continue;
                size_t nb = slm_type_block_bytes(t) * (size_t)(len / slm_type_block_size(t));
                /* different fillings: a byte left unwritten differs */
                memset(want, 0xa5, bytes);
                memset(got, 0x5a, bytes);
                ref(x, want, len);
                f(x, got, len);
                for (size_t i = 0; i < nb; i++) {
                    size_t blk = i / slm_type_block_bytes(t);
                    if (want[i] != got[i])
                        fail_msg("%s level %s n=%lld: byte %zu (%s block %zu) is %02x, not %02x",
                                 slm_type_name(t), slm__cpu_level_name((slm_cpu_level)l),
                                 (long long)len, i, blk < N_EDGE_BLOCKS ? "edge" : "random", blk,
                                 got[i], want[i]);
                }
                n_checked++;
            }
        }
        free(x);
        free(want);
        free(got);
    }
    printf("SIMD quantizers: %d rows byte-identical with the scalar forms\n", n_checked);
    assert_true(n_checked > 0 || max == SLM_CPU_SCALAR);
}

static void api_errors(void **state) {
    (void)state;
    float f[32] = {0};
    uint8_t buf[64];
    assert_int_equal(slm_type_quantize(SLM_TYPE_Q4_0, f, buf, 31), SLM_E_INVALID_ARG);
    assert_int_equal(slm_type_quantize(SLM_TYPE_IQ2_XS, f, buf, 256), SLM_E_UNSUPPORTED);
    assert_int_equal(slm_type_dequantize(SLM_TYPE_Q2_K, buf, f, 256), SLM_E_UNSUPPORTED);
    assert_int_equal(slm_type_dequantize((slm_type)4, buf, f, 32), SLM_E_UNSUPPORTED);
    TU_ASSERT_OK(slm_type_dequantize(SLM_TYPE_Q8_0, buf, f, 0));
}

int main(void) {
    tu_rng_seed(0x9e3779b97f4a7c15ull);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(f16_conversion),
        cmocka_unit_test(golden_dequant),
        cmocka_unit_test(quantize_legacy_exact),
        cmocka_unit_test(quantize_k_rmse),
        cmocka_unit_test(roundtrip_error),
        cmocka_unit_test(activation_quantizers),
        cmocka_unit_test(simd_quantizers_match_scalar),
        cmocka_unit_test(api_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
