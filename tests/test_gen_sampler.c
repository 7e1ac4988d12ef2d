/* Tests of the sampling chain: greedy and its tie rule, seeded determinism, each filter's effect,
 * penalties and their window, the draw against softmax probabilities, bad input, and that
 * sampling never allocates. */
#include "testutil.h"

#include "slm/gen.h"

#include <math.h>
#include <string.h>

static slm_sampler *make(struct slm_sampler_params p, int32_t n) {
    slm_sampler *s = NULL;
    TU_ASSERT_OK(slm_sampler_create(&p, n, &s));
    return s;
}

static struct slm_sampler_params plain(float temp) {
    struct slm_sampler_params p = slm_sampler_default_params();
    p.temperature = temp, p.top_k = 0, p.top_p = 1.0f, p.min_p = 0.0f;
    return p;
}

static int32_t sample(slm_sampler *s, const float *logits) {
    int32_t t = -1;
    TU_ASSERT_OK(slm_sampler_sample(s, logits, &t));
    return t;
}

static void greedy_and_ties(void **state) {
    (void)state;
    slm_sampler *s = make(plain(0), 5);
    float l[5] = {0.1f, 3.0f, -2.0f, 3.0f, 1.0f};
    assert_int_equal(sample(s, l), 1); /* tie between 1 and 3: lowest id */
    l[3] = 3.5f;
    assert_int_equal(sample(s, l), 3);
    l[3] = NAN;
    assert_int_equal(sample(s, l), 1); /* NaN never wins */
    float inf[5] = {-INFINITY, -INFINITY, NAN, -INFINITY, -INFINITY};
    int32_t t;
    assert_int_equal(slm_sampler_sample(s, inf, &t), SLM_E_INVALID_INPUT);
    slm_sampler_free(s);
    /* top_k = 1 is greedy at any temperature */
    struct slm_sampler_params p = plain(5.0f);
    p.top_k = 1;
    s = make(p, 5);
    float l2[5] = {0.1f, 3.0f, -2.0f, 2.9f, 1.0f};
    for (int i = 0; i < 50; i++) assert_int_equal(sample(s, l2), 1);
    slm_sampler_free(s);
}

static void seeded_determinism(void **state) {
    (void)state;
    enum { N = 100 };
    float l[N];
    for (int i = 0; i < N; i++) l[i] = sinf((float)i) * 2.0f;
    struct slm_sampler_params p = slm_sampler_default_params();
    p.seed = 42;
    int32_t a[64], b[64], c[64];
    slm_sampler *s = make(p, N);
    for (int i = 0; i < 64; i++) a[i] = sample(s, l);
    slm_sampler_reset(s);
    for (int i = 0; i < 64; i++) b[i] = sample(s, l);
    slm_sampler_free(s);
    p.seed = 43;
    s = make(p, N);
    for (int i = 0; i < 64; i++) c[i] = sample(s, l);
    slm_sampler_free(s);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
}

/* With no filters, draw frequencies follow softmax(logits / T). */
static void draws_follow_softmax(void **state) {
    (void)state;
    float l[4] = {1.0f, 0.0f, 2.0f, -1.0f};
    for (int ti = 0; ti < 2; ti++) {
        float temp = ti ? 0.5f : 1.0f;
        slm_sampler *s = make(plain(temp), 4);
        enum { DRAWS = 40000 };
        int count[4] = {0};
        for (int i = 0; i < DRAWS; i++) count[sample(s, l)]++;
        double z = 0, pr[4];
        for (int i = 0; i < 4; i++) z += exp(l[i] / temp);
        for (int i = 0; i < 4; i++) {
            pr[i] = exp(l[i] / temp) / z;
            double sd = sqrt(pr[i] * (1 - pr[i]) / DRAWS);
            double got = (double)count[i] / DRAWS;
            if (fabs(got - pr[i]) > 5 * sd + 1e-4)
                fail_msg("T=%g token %d: frequency %.4f, probability %.4f", temp, i, got, pr[i]);
        }
        slm_sampler_free(s);
    }
}

static void filters(void **state) {
    (void)state;
    /* probabilities ~ [0.5, 0.3, 0.15, 0.05] */
    float l[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    int seen[4];
    struct slm_sampler_params p = plain(1.0f);
    p.top_p = 0.7f; /* 0.5 + 0.3 reaches it: ids 0 and 1 only */
    slm_sampler *s = make(p, 4);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2000; i++) seen[sample(s, l)]++;
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] == 0 && seen[3] == 0);
    slm_sampler_free(s);

    p = plain(1.0f);
    p.min_p = 0.25f; /* keep p >= 0.125: ids 0, 1, 2 */
    s = make(p, 4);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 4000; i++) seen[sample(s, l)]++;
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0 && seen[3] == 0);
    slm_sampler_free(s);

    p = plain(1.0f);
    p.top_k = 2;
    s = make(p, 4);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2000; i++) seen[sample(s, l)]++;
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] == 0 && seen[3] == 0);
    /* within top-k the relative odds are kept: 0.5 : 0.3 */
    double ratio = (double)seen[0] / seen[1];
    assert_true(ratio > 1.4 && ratio < 1.95);
    slm_sampler_free(s);

    /* a large vocabulary through the heap selection agrees with the obvious answer */
    enum { V = 5000 };
    static float big[V];
    for (int i = 0; i < V; i++) big[i] = (float)((i * 7919) % V) / 100.0f;
    p = plain(1.0f);
    p.top_k = 3;
    s = make(p, V);
    for (int i = 0; i < 300; i++) {
        int32_t t = sample(s, big);
        float v = big[t];
        assert_true(v >= (float)(V - 3) / 100.0f - 1e-4f);
    }
    slm_sampler_free(s);

    /* top-p alone over a large vocabulary (the partial heap, no full sort): p(17) ~ 0.454,
     * p(4242) ~ 0.276, p(99) ~ 0.167, the other 4997 share ~ 0.103; 0.85 needs exactly the three,
     * whose relative odds are kept */
    for (int i = 0; i < V; i++) big[i] = 0.0f;
    big[17] = 10.0f, big[4242] = 9.5f, big[99] = 9.0f;
    p = plain(1.0f);
    p.top_p = 0.85f;
    s = make(p, V);
    int n17 = 0, n4242 = 0, n99 = 0;
    for (int i = 0; i < 3000; i++) {
        int32_t t = sample(s, big);
        assert_true(t == 17 || t == 4242 || t == 99);
        n17 += t == 17, n4242 += t == 4242, n99 += t == 99;
    }
    assert_true(n99 > 0 && n4242 > n99 && n17 > n4242);
    slm_sampler_free(s);
}

static void penalties(void **state) {
    (void)state;
    float l[3] = {2.0f, 1.5f, -1.0f};
    struct slm_sampler_params p = plain(0);
    p.repeat_penalty = 2.0f;
    slm_sampler *s = make(p, 3);
    assert_int_equal(sample(s, l), 0);
    TU_ASSERT_OK(slm_sampler_accept(s, 0)); /* 2.0 -> 1.0 < 1.5 */
    assert_int_equal(sample(s, l), 1);
    slm_sampler_free(s);

    /* negative logits are multiplied: -1 -> -2 */
    float neg[2] = {-1.0f, -1.5f};
    s = make(p, 2);
    TU_ASSERT_OK(slm_sampler_accept(s, 0));
    assert_int_equal(sample(s, neg), 1);
    slm_sampler_free(s);

    p = plain(0);
    p.frequency_penalty = 0.2f; /* per occurrence */
    s = make(p, 3);
    TU_ASSERT_OK(slm_sampler_accept(s, 0));
    TU_ASSERT_OK(slm_sampler_accept(s, 0));
    assert_int_equal(sample(s, l), 0); /* 2.0 - 0.4 = 1.6 > 1.5 */
    TU_ASSERT_OK(slm_sampler_accept(s, 0));
    assert_int_equal(sample(s, l), 1); /* 2.0 - 0.6 = 1.4 */
    slm_sampler_free(s);

    p = plain(0);
    p.presence_penalty = 0.6f; /* once, however often */
    p.penalty_last_n = 2;
    s = make(p, 3);
    TU_ASSERT_OK(slm_sampler_accept(s, 0));
    assert_int_equal(sample(s, l), 1);
    TU_ASSERT_OK(slm_sampler_accept(s, 2));
    TU_ASSERT_OK(slm_sampler_accept(s, 2)); /* 0 has left the 2-token window */
    assert_int_equal(sample(s, l), 0);
    slm_sampler_reset(s);
    assert_int_equal(sample(s, l), 0);
    assert_int_equal(slm_sampler_accept(s, 3), SLM_E_INVALID_ARG);
    assert_int_equal(slm_sampler_accept(s, -1), SLM_E_INVALID_ARG);
    slm_sampler_free(s);
}

static void bad_params_and_no_allocation(void **state) {
    (void)state;
    struct slm_sampler_params p = slm_sampler_default_params();
    slm_sampler *s = (slm_sampler *)1;
    p.top_p = 0;
    assert_int_equal(slm_sampler_create(&p, 10, &s), SLM_E_INVALID_INPUT);
    assert_null(s);
    p = slm_sampler_default_params();
    p.temperature = NAN;
    assert_int_equal(slm_sampler_create(&p, 10, &s), SLM_E_INVALID_INPUT);
    p = slm_sampler_default_params();
    p.top_k = -1;
    assert_int_equal(slm_sampler_create(&p, 10, &s), SLM_E_INVALID_INPUT);
    assert_int_equal(slm_sampler_create(NULL, 0, &s), SLM_E_INVALID_ARG);
    slm_sampler_free(NULL);

    enum { V = 2000 };
    static float l[V];
    for (int i = 0; i < V; i++) l[i] = cosf((float)i);
    p = slm_sampler_default_params();
    p.repeat_penalty = 1.1f;
    s = make(p, V);
    struct slm_alloc_stats a, b;
    slm_alloc_get_stats(&a);
    for (int i = 0; i < 100; i++) TU_ASSERT_OK(slm_sampler_accept(s, sample(s, l)));
    slm_alloc_get_stats(&b);
    assert_int_equal(b.n_allocs, a.n_allocs);
    slm_sampler_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy_and_ties),   cmocka_unit_test(seeded_determinism),
        cmocka_unit_test(draws_follow_softmax), cmocka_unit_test(filters),
        cmocka_unit_test(penalties),         cmocka_unit_test(bad_params_and_no_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
