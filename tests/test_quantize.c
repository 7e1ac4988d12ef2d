/* Tests of changing tensor types: the fallback rule, slm_quantize_gguf on random models from
 * mkmodel (every writable type: bytes identical to the reference quantizer, dequantized values
 * within per-type error budgets, metadata kept, general.file_type updated, rows that do not fit
 * refused or given their fallback type), mkmodel --type, and load-time quantization: a model
 * stored in F32 or F16 loaded as Q8_0 / Q4_0 / Q4_K gives exactly the logits of the file
 * `slm quantize` makes of it, with the footprint and heap use that file would have. */
// ctest-labels: tsan
#include "testutil.h"

#include "slm.h"
#include "slm/convert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Relative RMS error budget of one quantization of uniform random values, per type. */
static const double budget[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = 0.0,   [SLM_TYPE_F16] = 1e-3,  [SLM_TYPE_BF16] = 5e-3, [SLM_TYPE_Q8_0] = 0.01,
    [SLM_TYPE_Q4_0] = 0.15, [SLM_TYPE_Q4_1] = 0.12, [SLM_TYPE_Q5_0] = 0.07, [SLM_TYPE_Q5_1] = 0.06,
    [SLM_TYPE_Q4_K] = 0.12, [SLM_TYPE_Q5_K] = 0.06, [SLM_TYPE_Q6_K] = 0.03,
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
        [SLM_TYPE_F16] = 1,   [SLM_TYPE_Q4_0] = 2, [SLM_TYPE_Q4_1] = 3,  [SLM_TYPE_Q8_0] = 7,
        [SLM_TYPE_Q5_0] = 8,  [SLM_TYPE_Q5_1] = 9, [SLM_TYPE_Q4_K] = 14, [SLM_TYPE_Q5_K] = 16,
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

static void logits_of(const char *path, const struct slm_model_params *mp, float *out, int n_vocab,
                      uint64_t *heap) {
    const int32_t prompt[] = {1, 290, 291, 5, 260, 261, 262, 9};
    struct slm_alloc_stats before, after;
    slm_alloc_get_stats(&before);
    slm_model *m;
    TU_ASSERT_OK(slm_model_load(path, mp, &m));
    slm_alloc_get_stats(&after);
    if (heap) *heap = after.bytes_in_use - before.bytes_in_use;
    struct slm_session_params sp = slm_session_default_params();
    sp.n_threads = 2;
    sp.n_ctx = 64;
    sp.logits_all = true;
    slm_session *s;
    TU_ASSERT_OK(slm_session_create(m, &sp, &s));
    const float *l;
    TU_ASSERT_OK(slm_session_eval(s, prompt, 8, &l));
    memcpy(out, l, 8 * (size_t)n_vocab * sizeof *out);
    slm_session_free(s);
    slm_model_free(m);
}

static void check_load_type(const char *dir, const char *stored, slm_type type) {
    char qpath[4200];
    snprintf(qpath, sizeof qpath, "%s/file-%s.gguf", dir, slm_type_name(type));
    struct slm_quantize_params qp = slm_quantize_default_params();
    qp.type = type;
    qp.fallback = true;
    TU_ASSERT_OK(slm_quantize_gguf(stored, qpath, &qp, NULL));
    const int V = 300;
    float *a = malloc(8 * V * sizeof *a), *b = malloc(8 * V * sizeof *b);
    struct slm_model_params mp = slm_model_default_params();
    mp.load_type = type;
    mp.n_threads = 2;
    uint64_t heap_loaded, heap_file;
    logits_of(stored, &mp, a, V, &heap_loaded);
    logits_of(qpath, NULL, b, V, &heap_file);
    assert_memory_equal(a, b, 8 * V * sizeof *a);
    /* the converted weights are on the heap; nothing else differs */
    slm_gguf *g, *gs;
    TU_ASSERT_OK(slm_gguf_open(qpath, NULL, &g));
    TU_ASSERT_OK(slm_gguf_open(stored, NULL, &gs));
    uint64_t matrices = 0;
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        if (t->type != slm_gguf_find_tensor(gs, t->name)->type) matrices += t->n_bytes;
    }
    assert_true(heap_loaded >= heap_file + matrices);
    assert_true(heap_loaded <= heap_file + matrices + 64 * 64 + 64 * 1024);
    /* the footprint of the stored file loaded as `type` is the quantized file's */
    struct slm_footprint_params fp = slm_footprint_default_params();
    struct slm_footprint want, got;
    TU_ASSERT_OK(slm_model_footprint(g, &fp, &want));
    fp.load_type = type;
    TU_ASSERT_OK(slm_model_footprint(gs, &fp, &got));
    assert_int_equal(got.weights, want.weights);
    assert_int_equal(got.scratch, want.scratch);
    assert_int_equal(got.total, want.total);
    printf("load-time %-5s from %s: logits identical to the quantized file, %llu weight bytes\n",
           slm_type_name(type), strrchr(stored, '/') + 1, (unsigned long long)got.weights);
    slm_gguf_close(gs);
    slm_gguf_close(g);
    free(a);
    free(b);
}

static void test_load_time_quantization(void **state) {
    (void)state;
    char *dir = tu_mkdtemp(), f32[4200], f16[4200], narrow[4200];
    snprintf(f32, sizeof f32, "%s/f32.gguf", dir);
    snprintf(f16, sizeof f16, "%s/f16.gguf", dir);
    snprintf(narrow, sizeof narrow, "%s/narrow.gguf", dir);
    mkmodel(f32, "--dim 256 --ffn 512 --heads 4 --kv-heads 2 --layers 2 --vocab 300");
    mkmodel(f16, "--dim 256 --ffn 512 --heads 4 --kv-heads 2 --layers 2 --vocab 300 --type f16");
    mkmodel(narrow, "--dim 64 --ffn 256 --heads 4 --kv-heads 2 --layers 2 --vocab 300 --tied");
    static const slm_type types[] = {SLM_TYPE_Q8_0, SLM_TYPE_Q4_0, SLM_TYPE_Q4_K, SLM_TYPE_F16};
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        check_load_type(dir, f32, types[k]);
        check_load_type(dir, f16, types[k]);
        check_load_type(dir, narrow, types[k]); /* q4_k falls back to q5_0 on rows of 64 */
    }
    /* an already quantized model is left as stored */
    char q[4200];
    snprintf(q, sizeof q, "%s/file-q8_0.gguf", dir);
    struct slm_model_params mp = slm_model_default_params();
    mp.load_type = SLM_TYPE_Q4_0;
    float *a = malloc(8 * 300 * sizeof *a), *b = malloc(8 * 300 * sizeof *b);
    uint64_t heap_a, heap_b;
    logits_of(q, &mp, a, 300, &heap_a);
    logits_of(q, NULL, b, 300, &heap_b);
    assert_memory_equal(a, b, 8 * 300 * sizeof *a);
    assert_true(heap_a <= heap_b + 4096);
    free(a), free(b);
    /* what stays mapped: all of a file loaded as stored, the 1-D tensors of one converted */
    slm_gguf *gf;
    TU_ASSERT_OK(slm_gguf_open(f32, NULL, &gf));
    uint64_t vectors = 0;
    for (int64_t i = 0; i < slm_gguf_tensor_count(gf); i++)
        if (slm_gguf_tensor(gf, i)->n_dims == 1) vectors += slm_gguf_tensor(gf, i)->n_bytes;
    slm_model *lm;
    TU_ASSERT_OK(slm_model_load(f32, NULL, &lm));
    assert_int_equal(slm_model_mapped_bytes(lm), slm_gguf_total_tensor_bytes(gf));
    slm_model_free(lm);
    mp.load_type = SLM_TYPE_Q4_K;
    TU_ASSERT_OK(slm_model_load(f32, &mp, &lm));
    assert_int_equal(slm_model_mapped_bytes(lm), vectors);
    slm_model_free(lm);
    slm_gguf_close(gf);
    mp.load_type = 12345;
    slm_model *m = (slm_model *)1;
    assert_int_equal(slm_model_load(f32, &mp, &m), SLM_E_INVALID_ARG);
    assert_null(m);
    mp.load_type = SLM_TYPE_Q8_K;
    assert_int_equal(slm_model_load(f32, &mp, &m), SLM_E_INVALID_ARG);
    assert_null(m);
    struct slm_footprint_params fp = slm_footprint_default_params();
    fp.load_type = SLM_TYPE_Q2_K;
    slm_gguf *g;
    struct slm_footprint f;
    TU_ASSERT_OK(slm_gguf_open(f32, NULL, &g));
    assert_int_equal(slm_model_footprint(g, &fp, &f), SLM_E_INVALID_ARG);
    slm_gguf_close(g);

    /* slm logits --load-type prints what the quantized file gives (the last one made: narrow) */
    char *slm = tu_build_path("slm"), *x = NULL, *y = NULL;
    assert_int_equal(
        tu_run(&x, "%s logits %s --ids 1,290,291,5 --load-type q4_0 --json", slm, narrow), 0);
    snprintf(q, sizeof q, "%s/file-q4_0.gguf", dir);
    assert_int_equal(tu_run(&y, "%s logits %s --ids 1,290,291,5 --json", slm, q), 0);
    assert_string_equal(x, y);
    free(x);
    assert_int_equal(tu_run(&x, "%s logits %s --ids 1 --load-type q2_k 2>&1", slm, f32), 2);
    free(x), free(y), free(slm);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_for_row),           cmocka_unit_test(test_quantize_every_type),
        cmocka_unit_test(test_quantize_fallback),      cmocka_unit_test(test_mkmodel_type),
        cmocka_unit_test(test_load_time_quantization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
