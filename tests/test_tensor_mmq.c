/* Quantized batches on AMX-INT8 tiles (slm__matmul_mmq, reached through slm__matmul for Q8_0,
 * Q4_0, Q5_0, Q4_K, Q5_K and Q6_K weights and batches of SLM__MMQ_MIN+ rows): which types and
 * batches go there; the tiles equal their scalar reference bit for bit (same int32 block sums, same
 * chain of fused multiply-adds), on one thread and on a pool, for shapes with every edge (weight
 * rows not a multiple of 16, batches not a multiple of 16, block counts past one packed chunk and
 * odd); the reference within 1e-6 of the sum of |terms| of a double sum of the same quantized
 * products, and the dot kernels' batch path (AMX forbidden) within 1e-5 of it. Skipped visibly
 * without AMX-INT8. */
// ctest-labels: tsan
#include "testutil.h"

#include "tensor/internal.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

static const slm_type tiled[] = {SLM_TYPE_Q8_0, SLM_TYPE_Q4_0, SLM_TYPE_Q5_0,
                                 SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K};

static bool skip_without_amx(void) {
    if (slm__cpu_has_amx_int8()) return false;
    printf("skipped: no AMX-INT8 on this CPU or no permission from the OS\n");
    return true;
}

/* The tiled types, from SLM__MMQ_MIN rows; every type whose partner they share gets the tiles'
 * activation layout (one prepared group may mix Q4_K and Q6_K); nothing when AMX is forbidden. */
static void types_and_batches(void **state) {
    (void)state;
    if (skip_without_amx()) skip();
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        bool is_tiled = false;
        for (size_t i = 0; i < SLM_ARRAY_LEN(tiled); i++) is_tiled |= (int)tiled[i] == t;
        const slm_type partner = slm__matmul_partner((slm_type)t);
        const bool shared = partner == SLM_TYPE_Q8_0 || partner == SLM_TYPE_Q8_K;
        assert_int_equal(slm__mmq_use((slm_type)t, SLM__MMQ_MIN), is_tiled);
        assert_false(slm__mmq_use((slm_type)t, SLM__MMQ_MIN - 1));
        assert_int_equal(slm__mmq_scratch_size((slm_type)t, 512, SLM__MMQ_MIN) > 0, shared);
        if (partner < SLM_TYPE_COUNT) assert_int_equal(slm__mmq_act(partner, SLM__MMQ_MIN), shared);
    }
    slm__cpu_amx_allow(false);
    assert_false(slm__mmq_use(SLM_TYPE_Q8_0, 64));
    assert_false(slm__mmq_act(SLM_TYPE_Q8_K, 64));
    slm__cpu_amx_allow(true);
    assert_true(slm__mmq_use(SLM_TYPE_Q8_0, 64));
}

static void check(slm_pool *pool, int nth, slm_type type, int64_t rows, int64_t cols, int64_t n) {
    uint64_t wbytes = 0;
    assert_true(slm_type_nbytes(type, (uint64_t)(rows * cols), &wbytes));
    const size_t sbytes = slm__matmul_scratch_size(type, cols, n);
    float *wf = malloc((size_t)(rows * cols) * sizeof *wf), *x = malloc((size_t)(n * cols) * 4);
    float *xf = malloc((size_t)(n * cols) * 4), *y = malloc((size_t)(n * rows) * 4);
    float *ref = malloc((size_t)(n * rows) * 4), *dots = malloc((size_t)(n * rows) * 4);
    void *wq = malloc(wbytes), *scratch = aligned_alloc(64, (sbytes + 63) / 64 * 64);
    for (int64_t i = 0; i < rows * cols; i++) wf[i] = frand();
    /* activations of mixed magnitudes, so blocks have very different scales */
    for (int64_t i = 0; i < n * cols; i++) x[i] = frand() * (i % 97 == 0 ? 40.0f : 2.0f);
    TU_ASSERT_OK(slm_type_quantize(type, wf, wq, rows * cols));
    TU_ASSERT_OK(slm_type_dequantize(type, wq, wf, rows * cols));
    struct slm_weight w = {type, rows, cols, wq};

    slm__cpu_amx_allow(false);
    slm__matmul(pool, nth, &w, x, n, dots, scratch);
    slm__cpu_amx_allow(true);
    const slm_type partner = slm__matmul_partner(type);
    assert_int_equal(slm__matmul_prepare(pool, nth, type, x, cols, n, scratch), partner);
    /* the activations as the tiles see them: the partner blocks in scratch */
    TU_ASSERT_OK(slm_type_dequantize(partner, scratch, xf, n * cols));
    slm__matmul_mmq_ref(&w, n, ref, scratch, 0, rows);
    memset(y, 0x7f, (size_t)(n * rows) * 4);
    slm__matmul_prepared(pool, nth, &w, x, n, y, scratch);
    for (int64_t j = 0; j < n; j++) {
        for (int64_t r = 0; r < rows; r++) {
            double want = 0, mag = 0;
            for (int64_t i = 0; i < cols; i++) {
                const double p = (double)wf[r * cols + i] * xf[j * cols + i];
                want += p;
                mag += fabs(p);
            }
            const int64_t at = j * rows + r;
            if (memcmp(&y[at], &ref[at], sizeof(float)))
                fail_msg("tiles %s %lldx%lld n %lld nth %d: y[%lld][%lld] = %.9g, reference %.9g",
                         slm_type_name(type), (long long)rows, (long long)cols, (long long)n, nth,
                         (long long)j, (long long)r, (double)y[at], (double)ref[at]);
            if (fabs(ref[at] - want) > 1e-6 * mag + 1e-30)
                fail_msg("reference %s: y[%lld][%lld] = %.9g, double sum %.9g", slm_type_name(type),
                         (long long)j, (long long)r, (double)ref[at], want);
            if (fabs(dots[at] - want) > 1e-5 * mag + 1e-30)
                fail_msg("dots %s: y[%lld][%lld] = %.9g, double sum %.9g", slm_type_name(type),
                         (long long)j, (long long)r, (double)dots[at], want);
        }
    }
    free(wf), free(x), free(xf), free(y), free(ref), free(dots), free(wq), free(scratch);
}

static void tiles_equal_reference(void **state) {
    (void)state;
    if (skip_without_amx()) skip();
    slm_pool *pool = NULL;
    TU_ASSERT_OK(slm_pool_create(3, &pool));
    /* rows x cols x n: one tile (the fewest tokens); rows and n off the 16 grid; 17 and 35 blocks
     * (a packed chunk plus one, an odd count); SmolLM2-135M's attention and feed-forward shapes. K
     * types: one, two (a chunk) and three super-blocks, and the feed-forward's down projection. */
    const int64_t shapes[][3] = {{16, 32, SLM__MMQ_MIN}, {37, 64, 17},    {53, 544, 40},
                                 {20, 1120, 33},         {576, 576, 128}, {1536, 576, 50},
                                 {576, 1536, 70}};
    const int64_t shapes_k[][3] = {
        {16, 256, SLM__MMQ_MIN}, {37, 512, 17}, {53, 768, 40}, {576, 1536, 70}};
    for (size_t t = 0; t < SLM_ARRAY_LEN(tiled); t++) {
        const bool k = slm_type_block_size(tiled[t]) == SLM_QK_K;
        const size_t count = k ? SLM_ARRAY_LEN(shapes_k) : SLM_ARRAY_LEN(shapes);
        for (size_t s = 0; s < count; s++) {
            const int64_t *sh = k ? shapes_k[s] : shapes[s];
            check(NULL, 1, tiled[t], sh[0], sh[1], sh[2]);
            check(pool, 3, tiled[t], sh[0], sh[1], sh[2]);
        }
    }
    slm_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(types_and_batches),
                                       cmocka_unit_test(tiles_equal_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
