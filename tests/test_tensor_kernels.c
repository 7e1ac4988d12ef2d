/* Tests of the compute kernels: CPU dispatch (SLM_CPU_LEVEL), every SIMD dot against the scalar
 * reference at every level the machine has, the threaded matmul against single-threaded and
 * reference results, and the other ops against double-precision references. */
// ctest-labels: tsan
#include "testutil.h"

#include "tensor/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


static const slm_type compute_types[] = {
    SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16, SLM_TYPE_Q8_0, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1,
    SLM_TYPE_Q5_0, SLM_TYPE_Q5_1, SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K,
};

/* Error budget of a SIMD dot against the scalar reference: the integer block sums are exact, so
 * only float summation order differs. Relative to sum |w_i x_i| of the dequantized operands.
 * BF16, the legacy blocks and the K super-blocks sum in the reference engine's order at every
 * level: none. */
#define DOT_REL_BUDGET 1e-6

static double dot_budget(slm_type t) {
    switch (t) {
    case SLM_TYPE_BF16:
    case SLM_TYPE_Q8_0:
    case SLM_TYPE_Q4_0:
    case SLM_TYPE_Q4_1:
    case SLM_TYPE_Q5_0:
    case SLM_TYPE_Q5_1:
    case SLM_TYPE_Q4_K:
    case SLM_TYPE_Q5_K:
    case SLM_TYPE_Q6_K:
        return 0.0;
    default:
        return DOT_REL_BUDGET;
    }
}
/* Threaded matmul versus the plain vec_dot loop: the same kernel computes every element (but for
 * F32 batches, which the float tiles compute). */
#define MATMUL_BUDGET 0.0

/* Must run first: the level is fixed at the first dispatch. */
static void dispatch_env(void **state) {
    (void)state;
    setenv("SLM_CPU_LEVEL", "scalar", 1);
    assert_int_equal(slm__cpu_level(), SLM_CPU_SCALAR);
    unsetenv("SLM_CPU_LEVEL");
    slm_cpu_level max = slm__cpu_level_detected();
    printf("cpu level detected: %s\n", slm__cpu_level_name(max));
    assert_int_equal(slm__cpu_level_set(SLM_CPU_LEVEL_COUNT - 1), max);
    assert_int_equal(slm__cpu_level(), max);
    assert_int_equal(slm__cpu_level_set(SLM_CPU_SCALAR), SLM_CPU_SCALAR);
    struct slm_type_kernels k;
    assert_true(slm__type_kernels(SLM_TYPE_Q4_K, SLM_CPU_LEVEL_COUNT, &k));
    assert_ptr_equal(k.vec_dot, slm__dot_q4_k_scalar);
    assert_int_equal(k.partner, SLM_TYPE_Q8_K);
    assert_false(slm__type_kernels(SLM_TYPE_Q2_K, SLM_CPU_LEVEL_COUNT, &k));
    assert_false(slm__type_kernels(SLM_TYPE_Q8_K, SLM_CPU_LEVEL_COUNT, &k));
    assert_non_null(k.to_float);
    /* activation quantizers follow the level too (without a row of them: from_float) */
    assert_ptr_equal(k.act_from_float, slm__q8_k_from_float);
    assert_true(slm__type_kernels(SLM_TYPE_Q8_0, SLM_CPU_LEVEL_COUNT, &k));
    assert_ptr_equal(k.act_from_float, slm__q8_0_act_from_float);
    assert_true(slm__type_kernels(SLM_TYPE_F32, SLM_CPU_LEVEL_COUNT, &k));
    assert_ptr_equal(k.act_from_float, slm__f32_from_float);
    slm__cpu_level_set(max);
    slm__type_kernels(SLM_TYPE_Q8_K, SLM_CPU_LEVEL_COUNT, &k);
    assert_ptr_equal(k.act_from_float, slm__act_from_float_at(SLM_TYPE_Q8_K, max));
    /* the kernels reported follow the level and the tiles in use */
    printf("kernels: %s\n", slm_cpu_kernels());
    assert_non_null(strstr(slm_cpu_kernels(), slm__cpu_level_name(max)));
    assert_int_equal(strstr(slm_cpu_kernels(), "amx-int8") != NULL, slm__cpu_has_amx_int8());
    assert_int_equal(strstr(slm_cpu_kernels(), "amx-bf16") != NULL, slm__cpu_has_amx_bf16());
    slm__cpu_amx_allow(false);
    assert_string_equal(slm_cpu_kernels(), slm__cpu_level_name(max));
    slm__cpu_amx_allow(true);
    slm__cpu_level_set(SLM_CPU_SCALAR);
    assert_string_equal(slm_cpu_kernels(), "scalar");
    slm__cpu_level_set(max);
}

/* w: n quantized weights of type t from random data; xq: activations in the partner format; mag:
 * sum |w_i x_i| of the dequantized operands. */
static double make_operands(slm_type t, int64_t n, void *w, void *xq) {
    struct slm_type_kernels k;
    assert_true(slm__type_kernels(t, SLM_CPU_SCALAR, &k));
    struct slm_type_kernels pk;
    slm__type_kernels(k.partner, SLM_CPU_SCALAR, &pk);
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
    float wscale = 0.02f + tu_rnd_uniform(), xscale = 0.1f + 4 * tu_rnd_uniform();
    for (int64_t i = 0; i < n; i++) {
        a[i] = tu_rnd_normal() * wscale;
        b[i] = tu_rnd_normal() * xscale;
    }
    k.from_float(a, w, n);
    pk.from_float(b, xq, n);
    k.to_float(w, a, n);
    pk.to_float(xq, b, n);
    double mag = 0;
    for (int64_t i = 0; i < n; i++) mag += fabs((double)a[i] * b[i]);
    free(a);
    free(b);
    return mag;
}

static void simd_dots_match_reference(void **state) {
    (void)state;
    const int64_t blocks[] = {1, 2, 3, 5, 7, 8, 9, 16, 31, 64, 129};
    slm_cpu_level max = slm__cpu_level_detected();
    for (size_t ti = 0; ti < SLM_ARRAY_LEN(compute_types); ti++) {
        slm_type t = compute_types[ti];
        /* plain float types: block size 1, so odd lengths too */
        int64_t unit = slm_type_block_size(t) > 1 ? slm_type_block_size(t) : 17;
        double worst[SLM_CPU_LEVEL_COUNT] = {0};
        for (size_t bi = 0; bi < SLM_ARRAY_LEN(blocks); bi++) {
            int64_t n = blocks[bi] * unit;
            uint8_t *w = malloc((size_t)n * 4), *xq = malloc((size_t)n * 4 + 1024);
            double mag = make_operands(t, n, w, xq);
            float ref = slm__vec_dot_at(t, SLM_CPU_SCALAR)(n, w, xq);
            for (int l = 1; l <= (int)max; l++) {
                slm_vec_dot_fn f = slm__vec_dot_at(t, (slm_cpu_level)l);
                if (!f) continue;
                double err = fabs((double)f(n, w, xq) - ref) / (mag + 1e-30);
                if (err > worst[l]) worst[l] = err;
                if (err > dot_budget(t))
                    fail_msg("%s n=%lld level %s: relative error %.3g > %.1g", slm_type_name(t),
                             (long long)n, slm__cpu_level_name((slm_cpu_level)l), err,
                             dot_budget(t));
            }
            free(w);
            free(xq);
        }
        for (int l = 1; l <= (int)max; l++)
            printf("dot %-5s %-6s max relative error %.2e (budget %.0e)%s\n", slm_type_name(t),
                   slm__cpu_level_name((slm_cpu_level)l), worst[l], dot_budget(t),
                   slm__vec_dot_at(t, (slm_cpu_level)l) ? "" : " [inherits lower level]");
    }
}

/* Four-row kernels against the scalar dot of each row (rows at a stride larger than the row). */
static void simd_dot4_match_reference(void **state) {
    (void)state;
    const int64_t blocks[] = {1, 3, 4, 5, 8, 9, 13, 64, 127};
    slm_cpu_level max = slm__cpu_level_detected();
    int n_kernels = 0, n_x2 = 0;
    for (size_t ti = 0; ti < SLM_ARRAY_LEN(compute_types); ti++) {
        slm_type t = compute_types[ti];
        struct slm_type_kernels k, pk;
        slm__type_kernels(t, SLM_CPU_SCALAR, &k);
        slm__type_kernels(k.partner, SLM_CPU_SCALAR, &pk);
        for (int l = 0; l <= (int)max; l++) {
            slm_vec_dot4_fn f4 = slm__vec_dot4_at(t, (slm_cpu_level)l);
            if (!f4) continue;
            n_kernels++;
            double worst = 0;
            for (size_t bi = 0; bi < SLM_ARRAY_LEN(blocks); bi++) {
                int64_t n = blocks[bi] * slm_type_block_size(t);
                size_t row = slm_type_block_bytes(t) * (size_t)blocks[bi], stride = row + 64;
                float *f = malloc((size_t)n * 5 * 4);
                uint8_t *w = malloc(stride * 4), *xq = malloc((size_t)n * 4 + 1024);
                for (int64_t i = 0; i < 5 * n; i++)
                    f[i] = tu_rnd_normal() * (i < 4 * n ? 0.05f : 2.0f);
                for (int r = 0; r < 4; r++) k.from_float(f + r * n, w + r * stride, n);
                pk.from_float(f + 4 * n, xq, n);
                float out[4], o2[2][4];
                f4(n, w, stride, xq, out);
                /* the two-column form: both columns as the four-row form computes them */
                slm_vec_dot4x2_fn f42 = slm__vec_dot4x2_at(t, (slm_cpu_level)l);
                if (f42) {
                    size_t xb = slm_type_block_bytes(k.partner) * (size_t)blocks[bi];
                    uint8_t *x2 = malloc(2 * xb + 64);
                    memcpy(x2, xq, xb);
                    for (int64_t e = 0; e < n; e++) f[4 * n + e] *= -0.5f;
                    pk.from_float(f + 4 * n, x2 + xb + 64, n);
                    f42(n, w, stride, x2, xb + 64, o2[0], o2[1]);
                    float o1[4];
                    f4(n, w, stride, x2 + xb + 64, o1);
                    assert_memory_equal(o2[0], out, sizeof out);
                    assert_memory_equal(o2[1], o1, sizeof o1);
                    n_x2++;
                    free(x2);
                }
                for (int r = 0; r < 4; r++) {
                    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
                    k.to_float(w + r * stride, a, n);
                    pk.to_float(xq, b, n);
                    double mag = 0;
                    for (int64_t i = 0; i < n; i++) mag += fabs((double)a[i] * b[i]);
                    double err = fabs((double)out[r] - k.vec_dot(n, w + r * stride, xq)) / mag;
                    if (err > worst) worst = err;
                    if (err > dot_budget(t))
                        fail_msg("%s four-row level %s n=%lld row %d: relative error %.3g",
                                 slm_type_name(t), slm__cpu_level_name((slm_cpu_level)l),
                                 (long long)n, r, err);
                    free(a);
                    free(b);
                }
                free(f);
                free(w);
                free(xq);
            }
            printf("dot4 %-5s %-6s max relative error %.2e (budget %.0e)\n", slm_type_name(t),
                   slm__cpu_level_name((slm_cpu_level)l), worst, dot_budget(t));
        }
    }
    printf("%d four-row kernels checked, %d two-column cases\n", n_kernels, n_x2);
    assert_true(n_x2 > 0 || slm__cpu_level_detected() < SLM_CPU_AVX512);
}

/* BF16's batch form (the reference's matrix x matrix order, one accumulator over 32-element
 * steps) at every level equals the scalar one bit for bit; lengths that are no multiple of 32 take
 * the matrix x vector form, as the reference does. Both are close to the exact dot, and for some
 * operands the two orders round differently (they are not the same function). */
static void bf16_batch_form(void **state) {
    (void)state;
    const int64_t lens[] = {32, 64, 96, 160, 256, 800, 17, 100};
    slm_cpu_level max = slm__cpu_level_detected();
    slm_vec_dot_fn ref = slm__vec_dot_batch_at(SLM_TYPE_BF16, SLM_CPU_SCALAR);
    assert_non_null(ref);
    int orders_differ = 0;
    for (size_t li = 0; li < SLM_ARRAY_LEN(lens); li++) {
        int64_t n = lens[li];
        uint8_t *w = malloc((size_t)n * 2), *xq = malloc((size_t)n * 2);
        for (int rep = 0; rep < 20; rep++) {
            double mag = make_operands(SLM_TYPE_BF16, n, w, xq);
            float want = ref(n, w, xq), vec = slm__dot_bf16_scalar(n, w, xq);
            if (n % 32 != 0) assert_true(want == vec);
            orders_differ += want != vec;
            double exact = 0;
            for (int64_t i = 0; i < n; i++)
                exact += (double)slm__bf16_to_f32(((const slm_bf16 *)w)[i]) *
                         slm__bf16_to_f32(((const slm_bf16 *)xq)[i]);
            assert_true(fabs(want - exact) <= 1e-5 * mag);
            for (int l = 1; l <= (int)max; l++) {
                slm_vec_dot_fn f = slm__vec_dot_batch_at(SLM_TYPE_BF16, (slm_cpu_level)l);
                if (f && f(n, w, xq) != want)
                    fail_msg("bf16 batch form level %s n=%lld: %.9g, want %.9g",
                             slm__cpu_level_name((slm_cpu_level)l), (long long)n, f(n, w, xq),
                             want);
            }
        }
        free(w);
        free(xq);
    }
    assert_true(orders_differ > 0);
}

/* The scalar dot equals the dot of the dequantized operands up to float rounding. */
static void reference_dot_matches_dequantized(void **state) {
    (void)state;
    for (size_t ti = 0; ti < SLM_ARRAY_LEN(compute_types); ti++) {
        slm_type t = compute_types[ti];
        int64_t n = 1024;
        uint8_t *w = malloc((size_t)n * 4), *xq = malloc((size_t)n * 4 + 1024);
        double mag = make_operands(t, n, w, xq);
        struct slm_type_kernels k, pk;
        slm__type_kernels(t, SLM_CPU_SCALAR, &k);
        slm__type_kernels(k.partner, SLM_CPU_SCALAR, &pk);
        float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
        k.to_float(w, a, n);
        pk.to_float(xq, b, n);
        double exact = 0;
        for (int64_t i = 0; i < n; i++) exact += (double)a[i] * b[i];
        float got = k.vec_dot(n, w, xq);
        /* Q8_1's s and the K types' d products are rounded once more than the plain dot */
        assert_true(fabs(got - exact) <= 1e-4 * mag);
        free(a);
        free(b);
        free(w);
        free(xq);
    }
}

/* sum |w_i x_i| * 1.01 (w rounded to the weight type moves it by less than that) */
static double abs_dot(const float *w, const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)w[i] * x[i]);
    return 1.01 * s;
}

static void matmul_threads_and_levels(void **state) {
    (void)state;
    slm_pool *pool = NULL;
    TU_ASSERT_OK(slm_pool_create(2, &pool));
    const int64_t rows_list[] = {1, 37, 130};
    const int64_t n_list[] = {1, 3, 40};
    slm_cpu_level max = slm__cpu_level_detected();
    for (size_t ti = 0; ti < SLM_ARRAY_LEN(compute_types); ti++) {
        slm_type t = compute_types[ti];
        /* plain float rows: an odd tail, and a length where BF16 batches take their own form */
        int64_t cols = slm_type_block_size(t) > 1 ? 2 * SLM_QK_K : ti % 2 ? 300 : 320;
        for (size_t ri = 0; ri < SLM_ARRAY_LEN(rows_list); ri++) {
            int64_t rows = rows_list[ri];
            size_t wbytes = slm_type_block_bytes(t) * (size_t)(cols / slm_type_block_size(t));
            float *wf = malloc((size_t)(rows * cols) * 4);
            uint8_t *w = malloc(wbytes * (size_t)rows);
            for (int64_t i = 0; i < rows * cols; i++) wf[i] = tu_rnd_normal() * 0.05f;
            TU_ASSERT_OK(slm_type_quantize(t, wf, w, rows * cols));
            struct slm_weight wt = {.type = t, .rows = rows, .cols = cols, .data = w};
            for (size_t ni = 0; ni < SLM_ARRAY_LEN(n_list); ni++) {
                int64_t n = n_list[ni];
                float *x = malloc((size_t)(n * cols) * 4);
                for (int64_t i = 0; i < n * cols; i++) x[i] = tu_rnd_normal();
                size_t ss = slm__matmul_scratch_size(t, cols, n);
                void *scratch = ss ? malloc(ss) : NULL;
                float *y1 = malloc((size_t)(n * rows) * 4), *y2 = malloc((size_t)(n * rows) * 4);
                float *yr = malloc((size_t)(n * rows) * 4);
                for (int l = 0; l <= (int)max; l++) {
                    slm__cpu_level_set((slm_cpu_level)l);
                    slm__matmul(NULL, 1, &wt, x, n, y1, scratch);
                    slm__matmul(pool, 2, &wt, x, n, y2, scratch);
                    assert_memory_equal(y1, y2, (size_t)(n * rows) * 4);
                    if (l == 0) memcpy(yr, y1, (size_t)(n * rows) * 4);
                    /* against the scalar level: the dot budget, relative to row magnitudes
                     * (batches on the AMX-INT8 tiles sum blocks in another float order: the
                     * float one; test_tensor_mmq holds them to their own reference exactly);
                     * F16 batches on the float tiles keep activations unrounded: 2^-11 of the
                     * sum of |terms| more */
                    const bool mmq = slm__mmq_use(t, n);
                    const bool f16x = t == SLM_TYPE_F16 && slm__matmul_float_tiles(t, n);
                    for (int64_t j = 0; j < n * rows; j++) {
                        double tol = (mmq ? DOT_REL_BUDGET : dot_budget(t)) * (fabs(yr[j]) + 1.0) *
                                     sqrt((double)cols);
                        if (f16x)
                            tol += 0x1p-11 * abs_dot(wf + (j % rows) * cols, x + (j / rows) * cols,
                                                     cols);
                        if (fabs(y1[j] - yr[j]) > tol)
                            fail_msg("%s level %d rows %lld n %lld: y[%lld] %g vs %g",
                                     slm_type_name(t), l, (long long)rows, (long long)n,
                                     (long long)j, y1[j], yr[j]);
                    }
                }
                /* spot-check against an explicit vec_dot loop at the top level */
                struct slm_type_kernels k;
                slm__type_kernels(t, SLM_CPU_LEVEL_COUNT, &k);
                const void *xq = k.partner == SLM_TYPE_F32 ? (const void *)x : scratch;
                uint64_t xq_bytes = (uint64_t)cols * 4;
                if (k.partner != SLM_TYPE_F32)
                    assert_true(slm_type_nbytes(k.partner, (uint64_t)cols, &xq_bytes));
                for (int64_t j = 0; j < n; j++) {
                    float v = (n >= 2 ? k.vec_dot_batch : k.vec_dot)(cols, w + (size_t)(rows - 1) * wbytes,
                                        (const uint8_t *)xq + (size_t)j * xq_bytes);
                    /* except F32/F16 batches on the float tiles and quantized ones on the AMX
                     * tiles: another order, the dot budget (F16: plus the activations' rounding) */
                    bool tiled = slm__matmul_float_tiles(t, n) || slm__mmq_use(t, n);
                    double tol = tiled ? DOT_REL_BUDGET * (fabs(v) + 1.0) * sqrt((double)cols)
                                       : MATMUL_BUDGET;
                    if (t == SLM_TYPE_F16 && tiled)
                        tol += 0x1p-11 * abs_dot(wf + (rows - 1) * cols, x + j * cols, cols);
                    assert_true(fabs(v - y2[j * rows + rows - 1]) <= tol);
                }
                free(x);
                free(scratch);
                free(y1);
                free(y2);
                free(yr);
            }
            free(wf);
            free(w);
        }
    }
    slm__cpu_level_set(max);
    assert_int_equal(slm__matmul_scratch_size(SLM_TYPE_Q4_0, 33, 1), 0);
    assert_int_equal(slm__matmul_scratch_size(SLM_TYPE_Q4_0, 64, 2), 2 * 2 * 34);
    assert_int_equal(slm__matmul_scratch_size(SLM_TYPE_F32, 64, 2), 0);
    slm_pool_free(pool);
}

/* Matrix x vector over a group of weights in one pool run (Q, K, V; gate, up) equals each weight
 * on its own, bit for bit, at 1 to 4 threads (more threads than cores: some finish their own
 * stretch of chunks late and others take from its end): row counts that are no multiple of 4 and
 * of chunks, and a group mixing types of one partner format. Outputs start as NaN, so a chunk no
 * thread computed shows. */
static void matvec_group_matches_single(void **state) {
    (void)state;
    slm_pool *pool = NULL;
    TU_ASSERT_OK(slm_pool_create(4, &pool));
    const int64_t rows[SLM__MATVEC_GROUP_MAX] = {130, 5, 37, 1};
    const slm_type mixed[SLM__MATVEC_GROUP_MAX] = {SLM_TYPE_Q4_0, SLM_TYPE_Q8_0, SLM_TYPE_Q5_0,
                                                   SLM_TYPE_Q4_0};
    int groups = 0;
    for (size_t ti = 0; ti <= SLM_ARRAY_LEN(compute_types); ti++) {
        slm_type types[SLM__MATVEC_GROUP_MAX];
        for (int i = 0; i < SLM__MATVEC_GROUP_MAX; i++)
            types[i] = ti < SLM_ARRAY_LEN(compute_types) ? compute_types[ti] : mixed[i];
        int64_t cols = 2 * SLM_QK_K;
        const struct slm_weight *wp[SLM__MATVEC_GROUP_MAX];
        struct slm_weight wt[SLM__MATVEC_GROUP_MAX];
        float *ys[SLM__MATVEC_GROUP_MAX], *yg[SLM__MATVEC_GROUP_MAX];
        float *x = malloc((size_t)cols * 4);
        for (int64_t i = 0; i < cols; i++) x[i] = tu_rnd_normal();
        for (int i = 0; i < SLM__MATVEC_GROUP_MAX; i++) {
            size_t wbytes =
                slm_type_block_bytes(types[i]) * (size_t)(cols / slm_type_block_size(types[i]));
            float *wf = malloc((size_t)(rows[i] * cols) * 4);
            uint8_t *w = malloc(wbytes * (size_t)rows[i]);
            for (int64_t e = 0; e < rows[i] * cols; e++) wf[e] = tu_rnd_normal() * 0.05f;
            TU_ASSERT_OK(slm_type_quantize(types[i], wf, w, rows[i] * cols));
            free(wf);
            wt[i] = (struct slm_weight){.type = types[i], .rows = rows[i], .cols = cols, .data = w};
            wp[i] = &wt[i];
            ys[i] = malloc((size_t)rows[i] * 4);
            yg[i] = malloc((size_t)rows[i] * 4);
        }
        size_t ss = slm__matmul_scratch_size(types[0], cols, 1);
        void *scratch = ss ? malloc(ss) : NULL;
        for (int count = 1; count <= SLM__MATVEC_GROUP_MAX; count++)
            for (int nth = 1; nth <= 4; nth++) {
                for (int i = 0; i < count; i++) slm__matmul(NULL, 1, wp[i], x, 1, ys[i], scratch);
                for (int i = 0; i < count; i++) memset(yg[i], 0xff, (size_t)rows[i] * 4);
                slm__matmul_prepare(pool, nth, types[0], x, cols, 1, scratch);
                slm__matvec_prepared_group(pool, nth, wp, count, x, yg, scratch);
                for (int i = 0; i < count; i++)
                    assert_memory_equal(ys[i], yg[i], (size_t)rows[i] * 4);
                groups++;
            }
        for (int i = 0; i < SLM__MATVEC_GROUP_MAX; i++) {
            free((void *)wt[i].data);
            free(ys[i]);
            free(yg[i]);
        }
        free(scratch);
        free(x);
    }
    printf("%d groups checked\n", groups);
    slm_pool_free(pool);
}

int main(void) {
    tu_rng_seed(0x2545f4914f6cdd1dull);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dispatch_env),
        cmocka_unit_test(simd_dots_match_reference),
        cmocka_unit_test(simd_dot4_match_reference),
        cmocka_unit_test(bf16_batch_form),
        cmocka_unit_test(reference_dot_matches_dequantized),
        cmocka_unit_test(matmul_threads_and_levels),
        cmocka_unit_test(matvec_group_matches_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
