/* Tests of changing tensor types: the fallback rule, slm_quantize_gguf on random models from
 * mkmodel (every writable type: bytes identical to the reference quantizer, dequantized values
 * within per-type error budgets, metadata kept, general.file_type updated, rows that do not fit
 * refused or given their fallback type) and mkmodel --type. */
#include "testutil.h"

#include "slm.h"
#include "slm/convert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Relative RMS error budget of one quantization of uniform random values, per type. */
static const double budget[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = 0.0,   [SLM_TYPE_F16] = 1e-3,  [SLM_TYPE_BF16] = 5e-3,
    [SLM_TYPE_Q8_0] = 0.01, [SLM_TYPE_Q4_0] = 0.15, [SLM_TYPE_Q4_1] = 0.12,
    [SLM_TYPE_Q5_0] = 0.07, [SLM_TYPE_Q5_1] = 0.06, [SLM_TYPE_Q4_K] = 0.12,
    [SLM_TYPE_Q5_K] = 0.06, [SLM_TYPE_Q6_K] = 0.03,
};
static const slm_type all_types[] = {SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16, SLM_TYPE_Q8_0,
                                     SLM_TYPE_Q4_0, SLM_TYPE_Q4_1, SLM_TYPE_Q5_0, SLM_TYPE_Q5_1,
                                     SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K};

static void mkmodel(const char *path, const char *flags) {
    char *mk = tu_build_path("mkmodel"), *out = NULL;
    int rc = tu_run(&out, "%s %s %s 2>&1", mk, path, flags);
    if (rc != 0) fail_msg("mkmodel %s: %s", flags, out);
    free(out);
    free(mk);
}

static void test_type_for_row(void **state) {
    (void)state;
    assert_int_equal(slm_quant_type_for_row(SLM_TYPE_Q4_K, 512), SLM_TYPE_Q4_K);
    assert_int_equal(slm_quant_type_for_row(SLM_TYPE_Q4_K, 576), SLM_TYPE_Q5_0);
    assert_int_equal(slm_quant_type_for_row(SLM_TYPE_Q5_K, 576), SLM_TYPE_Q5_1);
    assert_int_equal(slm_quant_type_for_row(SLM_TYPE_Q6_K, 576), SLM_TYPE_Q8_0);
    assert_int_equal(slm_quant_type_for_row(SLM_TYPE_Q8_0, 100), SLM_TYPE_F16);
    assert_int_equal(slm_quant_type_for_row(SLM_TYPE_Q4_K, 100), SLM_TYPE_F16);
    assert_int_equal(slm_quant_type_for_row(SLM_TYPE_F16, 7), SLM_TYPE_F16);
    assert_true(slm_quant_type_writable(SLM_TYPE_Q6_K));
    assert_false(slm_quant_type_writable(SLM_TYPE_Q8_K));
    assert_false(slm_quant_type_writable(SLM_TYPE_Q2_K));
}

static double rel_rms(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)a[i] * a[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Every tensor of q against the same-named one of ref: 1-D kept bit for bit, matrices in the
 * expected type, byte-identical with slm_type_quantize of the F32 values, within budget. */
static void check_quantized(const slm_gguf *ref, const slm_gguf *q, slm_type type) {
    assert_int_equal(slm_gguf_tensor_count(ref), slm_gguf_tensor_count(q));
    for (int64_t i = 0; i < slm_gguf_tensor_count(ref); i++) {
        const struct slm_gguf_tensor *a = slm_gguf_tensor(ref, i);
        const struct slm_gguf_tensor *b = slm_gguf_find_tensor(q, a->name);
        assert_non_null(b);
        assert_int_equal(a->type, SLM_TYPE_F32);
        assert_memory_equal(a->ne, b->ne, sizeof a->ne);
        if (a->n_dims == 1) {
            assert_int_equal(b->type, SLM_TYPE_F32);
            assert_memory_equal(a->data, b->data, a->n_bytes);
            continue;
        }
        assert_int_equal(b->type, slm_quant_type_for_row(type, a->ne[0]));
        void *want = malloc(b->n_bytes);
        float *deq = malloc(a->n_elements * sizeof *deq);
        TU_ASSERT_OK(slm_type_quantize(b->type, a->data, want, (int64_t)a->n_elements));
        assert_memory_equal(want, b->data, b->n_bytes);
        TU_ASSERT_OK(slm_type_dequantize(b->type, b->data, deq, (int64_t)a->n_elements));
        double err = rel_rms(a->data, deq, (int64_t)a->n_elements);
        if (err > budget[b->type])
            fail_msg("%s in %s: relative RMS error %g > %g", a->name, slm_type_name(b->type), err,
                     budget[b->type]);
        free(want);
        free(deq);
    }
}

static void check_metadata(const slm_gguf *ref, const slm_gguf *q, slm_type type) {
    assert_int_equal(slm_gguf_kv_count(ref), slm_gguf_kv_count(q));
    for (int64_t i = 0; i < slm_gguf_kv_count(ref); i++) {
        const char *key = slm_gguf_kv_key(ref, i);
        int64_t j = slm_gguf_find_key(q, key);
        assert_true(j >= 0);
        assert_int_equal(slm_gguf_kv_type(ref, i), slm_gguf_kv_type(q, j));
        if (!strcmp(key, "general.file_type")) continue;
        struct slm_gguf_str sa, sb;
        if (slm_gguf_kv_str(ref, i, &sa) == SLM_OK) {
            TU_ASSERT_OK(slm_gguf_kv_str(q, j, &sb));
            assert_int_equal(sa.len, sb.len);
            assert_memory_equal(sa.ptr, sb.ptr, sa.len);
        }
        struct slm_gguf_array aa, ab;
        if (slm_gguf_kv_arr(ref, i, &aa) == SLM_OK) {
            TU_ASSERT_OK(slm_gguf_kv_arr(q, j, &ab));
            assert_int_equal(aa.count, ab.count);
        }
    }
    static const uint32_t ftype[SLM_TYPE_COUNT] = {
        [SLM_TYPE_F16] = 1,  [SLM_TYPE_Q4_0] = 2,  [SLM_TYPE_Q4_1] = 3,  [SLM_TYPE_Q8_0] = 7,
        [SLM_TYPE_Q5_0] = 8, [SLM_TYPE_Q5_1] = 9,  [SLM_TYPE_Q4_K] = 14, [SLM_TYPE_Q5_K] = 16,
        [SLM_TYPE_Q6_K] = 18, [SLM_TYPE_BF16] = 32};
    uint32_t ft = 99;
    TU_ASSERT_OK(slm_gguf_get_u32(q, "general.file_type", &ft));
    assert_int_equal(ft, ftype[type]);
}

static void test_quantize_every_type(void **state) {
    (void)state;
    char *dir = tu_mkdtemp(), in[4200], out[4200];
    snprintf(in, sizeof in, "%s/f32.gguf", dir);
    mkmodel(in, "--dim 256 --ffn 512 --heads 4 --kv-heads 2 --layers 2 --vocab 300");
    slm_gguf *ref;
    TU_ASSERT_OK(slm_gguf_open(in, NULL, &ref));
    for (size_t k = 0; k < sizeof all_types / sizeof *all_types; k++) {
        slm_type type = all_types[k];
        snprintf(out, sizeof out, "%s/%s.gguf", dir, slm_type_name(type));
        struct slm_quantize_params p = slm_quantize_default_params();
        p.type = type;
        p.n_threads = 2;
        struct slm_quantize_report rep;
        TU_ASSERT_OK(slm_quantize_gguf(in, out, &p, &rep));
        assert_int_equal(rep.n_tensors, slm_gguf_tensor_count(ref));
        assert_int_equal(rep.n_quantized, type == SLM_TYPE_F32 ? 0 : 2 + 7 * 2);
        assert_int_equal(rep.n_fallback, 0);
        assert_int_equal(rep.bytes_in, slm_gguf_total_tensor_bytes(ref));
        slm_gguf *q;
        TU_ASSERT_OK(slm_gguf_open(out, NULL, &q));
        assert_int_equal(rep.bytes_out, slm_gguf_total_tensor_bytes(q));
        check_quantized(ref, q, type);
        check_metadata(ref, q, type);
        slm_gguf_close(q);
        slm_model *m; /* and it loads */
        TU_ASSERT_OK(slm_model_load(out, NULL, &m));
        slm_model_free(m);
    }
    slm_gguf_close(ref);
    tu_rmtree(dir);
    free(dir);
}

static void test_quantize_fallback(void **state) {
    (void)state;
    char *dir = tu_mkdtemp(), in[4200], out[4200];
    snprintf(in, sizeof in, "%s/f32.gguf", dir);
    snprintf(out, sizeof out, "%s/q4_k.gguf", dir);
    mkmodel(in, "--dim 64 --ffn 256 --heads 4 --kv-heads 2 --layers 1 --vocab 300 --tied");
    struct slm_quantize_params p = slm_quantize_default_params();
    p.type = SLM_TYPE_Q4_K;
    assert_int_equal(slm_quantize_gguf(in, out, &p, NULL), SLM_E_INVALID_ARG);
    assert_non_null(strstr(slm_error_detail(), "rows of 64 elements"));
    assert_non_null(strstr(slm_error_detail(), "q5_0"));
    p.fallback = true;
    struct slm_quantize_report rep;
    TU_ASSERT_OK(slm_quantize_gguf(in, out, &p, &rep));
    assert_int_equal(rep.n_quantized, 1 + 7);
    assert_int_equal(rep.n_fallback, 1 + 6); /* only ffn_down has rows of 256 */
    slm_gguf *ref, *q;
    TU_ASSERT_OK(slm_gguf_open(in, NULL, &ref));
    TU_ASSERT_OK(slm_gguf_open(out, NULL, &q));
    check_quantized(ref, q, SLM_TYPE_Q4_K);
    assert_int_equal(slm_gguf_find_tensor(q, "blk.0.ffn_down.weight")->type, SLM_TYPE_Q4_K);
    assert_null(slm_gguf_find_tensor(q, "output.weight"));
    slm_gguf_close(q);
    slm_gguf_close(ref);

    p.type = SLM_TYPE_Q8_K; /* not a storage type */
    assert_int_equal(slm_quantize_gguf(in, out, &p, NULL), SLM_E_INVALID_ARG);
    p.type = SLM_TYPE_Q8_0;
    snprintf(out, sizeof out, "%s/none.gguf", dir);
    assert_int_equal(slm_quantize_gguf(out, in, &p, NULL), SLM_E_NOT_FOUND);
    tu_rmtree(dir);
    free(dir);
}

/* mkmodel --type gives the same bytes as quantizing its F32 output (same seed). */
static void test_mkmodel_type(void **state) {
    (void)state;
    char *dir = tu_mkdtemp(), f32[4200], q[4200], via[4200];
    const char *shape = "--dim 64 --ffn 256 --heads 4 --kv-heads 2 --layers 2 --vocab 300 --tied";
    snprintf(f32, sizeof f32, "%s/f32.gguf", dir);
    mkmodel(f32, shape);
    for (size_t k = 1; k < sizeof all_types / sizeof *all_types; k++) {
        char flags[256];
        snprintf(flags, sizeof flags, "%s --type %s", shape, slm_type_name(all_types[k]));
        snprintf(q, sizeof q, "%s/mk-%s.gguf", dir, slm_type_name(all_types[k]));
        snprintf(via, sizeof via, "%s/via-%s.gguf", dir, slm_type_name(all_types[k]));
        mkmodel(q, flags);
        struct slm_quantize_params p = slm_quantize_default_params();
        p.type = all_types[k];
        p.fallback = true;
        TU_ASSERT_OK(slm_quantize_gguf(f32, via, &p, NULL));
        size_t la, lb;
        char *a = tu_read_file(q, &la), *b = tu_read_file(via, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_for_row),
        cmocka_unit_test(test_quantize_every_type),
        cmocka_unit_test(test_quantize_fallback),
        cmocka_unit_test(test_mkmodel_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
