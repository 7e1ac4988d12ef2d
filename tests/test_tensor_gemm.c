/* The float-activation matrix multiply (slm__matmul_f32x) against its scalar reference: F32 and
 * F16 weights, shapes that exercise full 4 x 4 tiles and every edge (rows and activation rows not
 * multiples of 4, row lengths not multiples of 16), one thread and a pool. Error budget: the
 * reference sums in double, the tiles in float with a different order: |err| <= 1e-5 x the sum
 * of |w x| terms. Skipped visibly on CPUs without AVX-512, where the encoder uses slm__matmul. */
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

static void check(slm_pool *pool, int nth, slm_type type, int64_t rows, int64_t cols, int64_t n) {
    float *wf = malloc((size_t)(rows * cols) * sizeof *wf);
    slm_f16 *wh = malloc((size_t)(rows * cols) * sizeof *wh);
    float *x = malloc((size_t)(n * cols) * sizeof *x), *y = malloc((size_t)(n * rows) * sizeof *y);
    float *ref = malloc((size_t)(n * rows) * sizeof *ref);
    for (int64_t i = 0; i < rows * cols; i++) {
        wf[i] = frand();
        wh[i] = slm__f32_to_f16(wf[i]);
        wf[i] = type == SLM_TYPE_F16 ? slm__f16_to_f32(wh[i]) : wf[i];
    }
    for (int64_t i = 0; i < n * cols; i++) x[i] = frand() * 3;
    struct slm_weight w = {type, rows, cols, type == SLM_TYPE_F16 ? (const void *)wh : wf};
    slm__gemm_f32x_ref(&w, x, n, ref, 0, rows);
    slm__matmul_f32x(pool, nth, &w, x, n, y);
    for (int64_t j = 0; j < n; j++) {
        for (int64_t r = 0; r < rows; r++) {
            double mag = 0;
            for (int64_t i = 0; i < cols; i++) mag += fabs((double)wf[r * cols + i] * x[j * cols + i]);
            double err = fabs((double)y[j * rows + r] - ref[j * rows + r]);
            if (err > 1e-5 * mag + 1e-30)
                fail_msg("%s %lldx%lld n %lld: y[%lld][%lld] = %g, reference %g", slm_type_name(type),
                         (long long)rows, (long long)cols, (long long)n, (long long)j, (long long)r,
                         (double)y[j * rows + r], (double)ref[j * rows + r]);
        }
    }
    free(wf);
    free(wh);
    free(x);
    free(y);
    free(ref);
}

static void tiles_match_reference(void **state) {
    (void)state;
    if (!slm__matmul_f32x_supported(SLM_TYPE_F16)) {
        printf("skipped: no AVX-512 on this CPU (level %s)\n", slm__cpu_level_name(slm__cpu_level()));
        skip();
    }
    assert_false(slm__matmul_f32x_supported(SLM_TYPE_Q8_0));
    slm_pool *pool = NULL;
    TU_ASSERT_OK(slm_pool_create(3, &pool));
    const slm_type types[] = {SLM_TYPE_F32, SLM_TYPE_F16};
    const int64_t shapes[][3] = {{4, 16, 4}, {8, 32, 1}, {5, 17, 3}, {67, 40, 37}, {130, 384, 70},
                                 {384, 1536, 13}, {3, 7, 2}};
    for (size_t t = 0; t < 2; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            check(NULL, 1, types[t], shapes[s][0], shapes[s][1], shapes[s][2]);
            check(pool, 3, types[t], shapes[s][0], shapes[s][1], shapes[s][2]);
        }
    }
    slm_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(tiles_match_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
