/* The float-activation matrix multiply (slm__matmul_f32x) against its scalar reference, on each
 * level of tiles the CPU has (AVX2, AVX-512): F32, F16, BF16 and Q8_0 weights, shapes that
 * exercise full tiles and every edge (rows and activation rows not multiples of the tile's, row
 * lengths not multiples of 8 or 16), one thread and a pool. Error budget: the reference sums in
 * double, the tiles in float with a different order: |err| <= 1e-5 x the sum of |w x| terms. An
 * activation row alone and a weight row alone give the same bits as in the batch. Skipped visibly
 * on CPUs without AVX2, where the encoder uses slm__matmul.
 * Attention's broadcasting product (slm__gemm_nn) within the same budget, on strided operands
 * with every edge of its 4 x 64 and 8 x 32 blocks.
 * The packed BF16 product on AMX tiles (slm__matmul_amx) likewise, for weights of several types
 * and edges of its 32 x 32 blocks and 32-wide k steps: its packing of weights and activations
 * against BF16 rounding done here, its sums (plus bias, then GELU) against a double sum of those
 * rounded products, within the same budget (GELU's slope stays below 1.13); its fast packers of
 * strided floats (attention's keys and values) byte for byte against the packing of weights.
 * Skipped visibly without AMX-BF16. */
// ctest-labels: tsan
#include "testutil.h"

#include "tensor/internal.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

/* The tiles against the reference, and the reference against sums over the weights as
 * slm_type_dequantize sees them. */
static void check(slm_pool *pool, int nth, slm_type type, int64_t rows, int64_t cols, int64_t n) {
    uint64_t wbytes = 0;
    assert_true(slm_type_nbytes(type, (uint64_t)(rows * cols), &wbytes));
    float *wf = malloc((size_t)(rows * cols) * sizeof *wf);
    void *wq = malloc(wbytes);
    float *x = malloc((size_t)(n * cols) * sizeof *x), *y = malloc((size_t)(n * rows) * sizeof *y);
    float *ref = malloc((size_t)(n * rows) * sizeof *ref);
    float *one = malloc((size_t)rows * sizeof *one);
    float *ref_y = malloc((size_t)(n * rows) * sizeof *ref_y);
    for (int64_t i = 0; i < rows * cols; i++) wf[i] = frand();
    TU_ASSERT_OK(slm_type_quantize(type, wf, wq, rows * cols));
    TU_ASSERT_OK(slm_type_dequantize(type, wq, wf, rows * cols));
    for (int64_t i = 0; i < n * cols; i++) x[i] = frand() * 3;
    struct slm_weight w = {type, rows, cols, wq};
    slm__gemm_f32x_ref(&w, x, n, ref, 0, rows);
    slm__matmul_f32x(pool, nth, &w, x, n, y);
    /* the last activation row alone, and the last weight row alone for the whole batch */
    slm__matmul_f32x(NULL, 1, &w, x + (n - 1) * cols, 1, one);
    if (memcmp(one, y + (n - 1) * rows, (size_t)rows * sizeof *y))
        fail_msg("%s %lldx%lld n %lld: the last activation row alone differs", slm_type_name(type),
                 (long long)rows, (long long)cols, (long long)n);
    memcpy(ref_y, y, (size_t)(n * rows) * sizeof *y);
    (slm__cpu_level() >= SLM_CPU_AVX512 ? slm__gemm_f32x_avx512
                                        : slm__gemm_f32x_avx2)(&w, x, n, ref_y, rows - 1, rows);
    if (memcmp(ref_y, y, (size_t)(n * rows) * sizeof *y))
        fail_msg("%s %lldx%lld n %lld: the last weight row alone differs", slm_type_name(type),
                 (long long)rows, (long long)cols, (long long)n);
    for (int64_t j = 0; j < n; j++) {
        for (int64_t r = 0; r < rows; r++) {
            double mag = 0, want = 0;
            for (int64_t i = 0; i < cols; i++) {
                mag += fabs((double)wf[r * cols + i] * x[j * cols + i]);
                want += (double)wf[r * cols + i] * x[j * cols + i];
            }
            if (fabs(ref[j * rows + r] - want) > 1e-6 * mag + 1e-30)
                fail_msg("reference %s %lldx%lld n %lld: y[%lld][%lld] = %g, want %g",
                         slm_type_name(type), (long long)rows, (long long)cols, (long long)n,
                         (long long)j, (long long)r, (double)ref[j * rows + r], want);
            double err = fabs((double)y[j * rows + r] - ref[j * rows + r]);
            if (err > 1e-5 * mag + 1e-30)
                fail_msg("%s %lldx%lld n %lld: y[%lld][%lld] = %g, reference %g", slm_type_name(type),
                         (long long)rows, (long long)cols, (long long)n, (long long)j, (long long)r,
                         (double)y[j * rows + r], (double)ref[j * rows + r]);
        }
    }
    free(wf);
    free(wq);
    free(x);
    free(y);
    free(ref);
    free(one);
    free(ref_y);
}

static void tiles_match_reference(void **state) {
    (void)state;
    const slm_cpu_level was = slm__cpu_level();
    if (was < SLM_CPU_AVX2) {
        printf("skipped: no AVX2 on this CPU (level %s)\n", slm__cpu_level_name(was));
        skip();
    }
    assert_int_equal(slm__cpu_level_set(SLM_CPU_SCALAR), SLM_CPU_SCALAR);
    assert_false(slm__matmul_f32x_supported(SLM_TYPE_F32));
    slm_pool *pool = NULL;
    TU_ASSERT_OK(slm_pool_create(3, &pool));
    const slm_type types[] = {SLM_TYPE_F32, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_Q8_0};
    const int64_t shapes[][3] = {{4, 16, 4},     {8, 32, 1},      {5, 17, 3}, {67, 40, 37},
                                 {130, 384, 70}, {384, 1536, 13}, {3, 7, 2},  {5, 64, 6},
                                 {12, 96, 32},   {7, 23, 15}};
    for (slm_cpu_level l = SLM_CPU_AVX2; l <= was; l++) {
        assert_int_equal(slm__cpu_level_set(l), l);
        printf("level %s\n", slm__cpu_level_name(l));
        assert_false(slm__matmul_f32x_supported(SLM_TYPE_Q4_0));
        for (size_t t = 0; t < SLM_ARRAY_LEN(types); t++) {
            assert_true(slm__matmul_f32x_supported(types[t]));
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                if (shapes[s][1] % slm_type_block_size(types[t])) continue;
                check(NULL, 1, types[t], shapes[s][0], shapes[s][1], shapes[s][2]);
                check(pool, 3, types[t], shapes[s][0], shapes[s][1], shapes[s][2]);
            }
        }
    }
    slm__cpu_level_set(was);
    slm_pool_free(pool);
}

static void check_nn(int64_t m, int64_t n, int64_t k) {
    const int64_t as = k + 3, bs = n + 5, ys = n + 2;
    float *a = malloc((size_t)(m * as) * 4), *b = malloc((size_t)(k * bs) * 4);
    float *y = malloc((size_t)(m * ys) * 4), *ref = malloc((size_t)(m * ys) * 4);
    for (int64_t i = 0; i < m * as; i++) a[i] = frand();
    for (int64_t i = 0; i < k * bs; i++) b[i] = frand() * 2;
    for (int64_t i = 0; i < m * ys; i++) y[i] = ref[i] = 7; /* the gaps between rows stay */
    slm__gemm_nn_ref(m, n, k, 0.5f, a, as, b, bs, ref, ys);
    slm__gemm_nn_avx512(m, n, k, 0.5f, a, as, b, bs, y, ys);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < ys; j++) {
            double mag = 0;
            for (int64_t c = 0; c < k && j < n; c++) mag += fabs(0.5 * a[i * as + c] * b[c * bs + j]);
            if (fabs((double)y[i * ys + j] - ref[i * ys + j]) > 1e-5 * mag)
                fail_msg("nn %lldx%lldx%lld: y[%lld][%lld] = %g, reference %g", (long long)m,
                         (long long)n, (long long)k, (long long)i, (long long)j,
                         (double)y[i * ys + j], (double)ref[i * ys + j]);
        }
    }
    free(a), free(b), free(y), free(ref);
}

static void nn_matches_reference(void **state) {
    (void)state;
    if (slm__cpu_level() < SLM_CPU_AVX512) {
        printf("skipped: no AVX-512 on this CPU (level %s)\n", slm__cpu_level_name(slm__cpu_level()));
        skip();
    }
    /* m x n x k: scores of a block of queries over keys, values of a head, and the edges */
    const int64_t shapes[][3] = {{32, 190, 32}, {32, 32, 190}, {5, 64, 32}, {9, 32, 7},
                                 {3, 70, 1},    {1, 1, 1},     {13, 17, 64}, {8, 48, 5}};
    for (size_t s = 0; s < SLM_ARRAY_LEN(shapes); s++) check_nn(shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* The packed product against sums of the BF16-rounded products computed here; also checks the
 * scalar reference against the same sums, tightly. */
static void check_amx(slm_pool *pool, int nth, slm_type type, int64_t rows, int64_t cols, int64_t n,
                      slm_amx_act act) {
    uint64_t wbytes = 0;
    assert_true(slm_type_nbytes(type, (uint64_t)(rows * cols), &wbytes));
    float *wf = malloc((size_t)(rows * cols) * sizeof *wf), *x = malloc((size_t)(n * cols) * 4);
    float *bias = malloc((size_t)rows * sizeof *bias), *tmp = malloc((size_t)cols * sizeof *tmp);
    float *y = malloc((size_t)(n * rows) * 4), *ref = malloc((size_t)(n * rows) * 4);
    float *want = malloc((size_t)(n * rows) * 4);
    double *mag = malloc((size_t)(n * rows) * sizeof *mag);
    void *wq = malloc(wbytes), *packed = aligned_alloc(64, slm__amx_weight_bytes(rows, cols));
    slm_bf16 *xa = aligned_alloc(64, slm__amx_act_bytes(n, cols));
    for (int64_t i = 0; i < rows * cols; i++) wf[i] = frand();
    for (int64_t i = 0; i < n * cols; i++) x[i] = frand() * 3;
    for (int64_t r = 0; r < rows; r++) bias[r] = frand();
    TU_ASSERT_OK(slm_type_quantize(type, wf, wq, rows * cols));
    TU_ASSERT_OK(slm_type_dequantize(type, wq, wf, rows * cols));
    struct slm_weight w = {type, rows, cols, wq};
    struct slm_amx_weight pw;
    slm__amx_pack_weight(&w, packed, tmp, &pw);
    slm__amx_pack_act(pool, nth, x, n, cols, xa);
    const int64_t cols_p = SLM_AMX_COLS(cols);
    for (int64_t j = 0; j < SLM_AMX_ROWS(n); j++)
        for (int64_t k = 0; k < cols_p; k++)
            assert_int_equal(xa[j * cols_p + k],
                             j < n && k < cols ? slm__f32_to_bf16(x[j * cols + k]) : 0);
    for (int64_t j = 0; j < n; j++) {
        for (int64_t r = 0; r < rows; r++) {
            double s = bias[r], m = fabs(bias[r]);
            for (int64_t k = 0; k < cols; k++) {
                double p = (double)slm__bf16_to_f32(slm__f32_to_bf16(wf[r * cols + k])) *
                           slm__bf16_to_f32(slm__f32_to_bf16(x[j * cols + k]));
                s += p;
                m += fabs(p);
            }
            want[j * rows + r] = (float)s;
            mag[j * rows + r] = m;
        }
    }
    if (act == SLM_AMX_GELU_ERF) slm__gelu_erf(want, want, n * rows);
    slm__matmul_amx_ref(&pw, xa, n, bias, act, ref);
    slm__matmul_amx(pool, nth, &pw, xa, n, bias, act, y);
    for (int64_t i = 0; i < n * rows; i++) {
        if (fabs((double)ref[i] - want[i]) > 1e-6 * mag[i] + 1e-30)
            fail_msg("reference %s %lldx%lld n %lld: [%lld] = %g, want %g", slm_type_name(type),
                     (long long)rows, (long long)cols, (long long)n, (long long)i, (double)ref[i],
                     (double)want[i]);
        if (fabs((double)y[i] - want[i]) > 1.2e-5 * mag[i] + 1e-30)
            fail_msg("amx %s %lldx%lld n %lld: y[%lld][%lld] = %g, want %g", slm_type_name(type),
                     (long long)rows, (long long)cols, (long long)n, (long long)(i / rows),
                     (long long)(i % rows), (double)y[i], (double)want[i]);
    }
    free(wf), free(x), free(bias), free(tmp), free(y), free(ref), free(want), free(mag), free(wq);
    free(packed), free(xa);
}

/* The fast packers of a head's keys (rows) and values (columns) against slm__amx_pack_weight of
 * the same floats made contiguous: the same bytes. */
static void amx_packers_match(void **state) {
    (void)state;
    if (!slm__cpu_has_amx_bf16()) {
        printf("skipped: no AMX-BF16 on this CPU or no permission from the OS\n");
        skip();
    }
    const int64_t shapes[][2] = {{190, 32}, {32, 190}, {5, 7}, {33, 64}, {16, 1}, {64, 96}};
    for (size_t s = 0; s < SLM_ARRAY_LEN(shapes); s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], stride = rows + cols + 3;
        const size_t bytes = slm__amx_weight_bytes(rows, cols);
        float *src = malloc((size_t)(stride * (rows + cols)) * sizeof *src);
        float *dense = malloc((size_t)(rows * cols) * sizeof *dense), *tmp = malloc((size_t)cols * 4);
        void *want = aligned_alloc(64, bytes), *got = aligned_alloc(64, bytes);
        for (int64_t i = 0; i < stride * (rows + cols); i++) src[i] = frand();
        struct slm_amx_weight pw, pg;
        for (int by_cols = 0; by_cols < 2; by_cols++) {
            for (int64_t r = 0; r < rows; r++)
                for (int64_t k = 0; k < cols; k++)
                    dense[r * cols + k] = by_cols ? src[k * stride + r] : src[r * stride + k];
            struct slm_weight w = {SLM_TYPE_F32, rows, cols, dense};
            slm__amx_pack_weight(&w, want, tmp, &pw);
            memset(got, 0x55, bytes);
            if (by_cols) slm__amx_pack_cols_avx512(src, rows, cols, stride, got, &pg);
            else slm__amx_pack_rows_avx512(src, rows, cols, stride, got, &pg);
            if (memcmp(want, got, bytes))
                fail_msg("pack_%s %lldx%lld differs from slm__amx_pack_weight",
                         by_cols ? "cols" : "rows", (long long)rows, (long long)cols);
            assert_true(pg.rows == rows && pg.cols == cols && pg.cols_p == pw.cols_p);
        }
        free(src), free(dense), free(tmp), free(want), free(got);
    }
}

static void amx_matches_reference(void **state) {
    (void)state;
    if (!slm__cpu_has_amx_bf16()) {
        printf("skipped: no AMX-BF16 on this CPU or no permission from the OS\n");
        skip();
    }
    slm_pool *pool = NULL;
    TU_ASSERT_OK(slm_pool_create(3, &pool));
    const slm_type types[] = {SLM_TYPE_F32, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_Q8_0};
    /* rows x cols x n: one tile block; rows, n and cols off the 32 grid; the MiniLM shapes */
    const int64_t shapes[][3] = {{32, 32, 32}, {16, 64, 1},   {45, 96, 33},  {70, 40, 100},
                                 {384, 384, 13}, {1536, 384, 70}, {384, 1536, 37}};
    for (size_t t = 0; t < SLM_ARRAY_LEN(types); t++) {
        for (size_t s = 0; s < SLM_ARRAY_LEN(shapes); s++) {
            if (shapes[s][1] % slm_type_block_size(types[t])) continue;
            for (int act = SLM_AMX_NONE; act <= SLM_AMX_GELU_ERF; act++) {
                check_amx(NULL, 1, types[t], shapes[s][0], shapes[s][1], shapes[s][2], act);
                check_amx(pool, 3, types[t], shapes[s][0], shapes[s][1], shapes[s][2], act);
            }
        }
    }
    slm_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(tiles_match_reference),
                                       cmocka_unit_test(nn_matches_reference),
                                       cmocka_unit_test(amx_packers_match),
                                       cmocka_unit_test(amx_matches_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
