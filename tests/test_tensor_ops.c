/* Tests of the non-matmul ops (norms, softmax, activations, RoPE, attention) at every dispatch
 * level against straightforward double-precision references written here. */
#include "testutil.h"

#include "tensor/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* Budgets: |got - want| <= OPS_REL * |want| + OPS_ABS. The vector exp is ~2e-7 relative and erf
 * 1.5e-7 absolute; sums are float instead of double. The ops the decoder's numerics follow the
 * reference engine with (rms_norm, softmax, silu, swiglu, F16-cache attention) must moreover
 * equal the scalar level bit for bit at every level. */
#define OPS_REL 2e-6
#define OPS_ABS 1e-6
/* Attention: softmax weights and the weighted sum over up to 100 keys. */
#define ATTN_ABS 2e-5

static const int64_t sizes[] = {1, 3, 7, 8, 9, 16, 31, 64, 100, 257, 1000};

static void check(const char *op, int level, int64_t n, const float *got, const double *want,
                  double abs_budget) {
    for (int64_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]);
        if (err > OPS_REL * fabs(want[i]) + abs_budget)
            fail_msg("%s level %s n=%lld: [%lld] = %.9g, want %.9g", op,
                     slm__cpu_level_name((slm_cpu_level)level), (long long)n, (long long)i, got[i],
                     want[i]);
    }
}

/* out equals the scalar level's result, stored in ref[op] at level 0. */
enum { R_RMS, R_SOFTMAX, R_SILU, R_SWIGLU, R_F16, R_COUNT };
static void same_as_scalar(const char *op, int level, int64_t n, const float *out, float *ref) {
    if (level == 0) {
        memcpy(ref, out, (size_t)n * 4);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&out[i], &ref[i], 4) != 0)
            fail_msg("%s level %s n=%lld: [%lld] = %.9g, scalar level %.9g", op,
                     slm__cpu_level_name((slm_cpu_level)level), (long long)n, (long long)i, out[i],
                     ref[i]);
}

static void elementwise_ops(void **state) {
    (void)state;
    slm_cpu_level max = slm__cpu_level_detected();
    float *ref[SLM_ARRAY_LEN(sizes)][R_COUNT];
    for (size_t si = 0; si < SLM_ARRAY_LEN(sizes); si++)
        for (int r = 0; r < R_COUNT; r++) ref[si][r] = malloc((size_t)sizes[si] * 4);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int l = 0; l <= (int)max; l++) {
        slm__cpu_level_set((slm_cpu_level)l);
        tu_rng_seed(seed); /* the same operands at every level */
        for (size_t si = 0; si < SLM_ARRAY_LEN(sizes); si++) {
            int64_t n = sizes[si];
            float *x = malloc(n * 4), *y = malloc(n * 4), *w = malloc(n * 4), *b = malloc(n * 4);
            float *out = malloc(n * 4);
            double *want = malloc(n * 8);
            for (int64_t i = 0; i < n; i++) {
                x[i] = tu_rnd_normal() * 3;
                y[i] = tu_rnd_normal();
                w[i] = tu_rnd_normal();
                b[i] = tu_rnd_normal();
            }
            double ss = 0, s = 0;
            for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i], s += x[i];
            for (int64_t i = 0; i < n; i++) want[i] = x[i] / sqrt(ss / n + 1e-5) * w[i];
            slm__rms_norm(out, x, w, n, 1e-5f);
            check("rms_norm", l, n, out, want, OPS_ABS);
            same_as_scalar("rms_norm", l, n, out, ref[si][R_RMS]);
            double mean = s / n, var = 0;
            for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
            for (int64_t i = 0; i < n; i++)
                want[i] = (x[i] - mean) / sqrt(var / n + 1e-5) * w[i] + b[i];
            slm__layer_norm(out, x, w, b, n, 1e-5f);
            check("layer_norm", l, n, out, want, OPS_ABS);
            double mx = -INFINITY, se = 0;
            for (int64_t i = 0; i < n; i++) mx = fmax(mx, x[i]);
            for (int64_t i = 0; i < n; i++) se += exp(x[i] - mx);
            for (int64_t i = 0; i < n; i++) want[i] = exp(x[i] - mx) / se;
            memcpy(out, x, n * 4);
            slm__softmax(out, n);
            check("softmax", l, n, out, want, OPS_ABS);
            same_as_scalar("softmax", l, n, out, ref[si][R_SOFTMAX]);
            if (l == SLM_CPU_AVX512) { /* the encoder's wider form, not in the ops table */
                memcpy(out, x, n * 4);
                slm__softmax_avx512(out, n);
                check("softmax_avx512", l, n, out, want, OPS_ABS);
            }
            for (int64_t i = 0; i < n; i++) want[i] = x[i] / (1 + exp(-(double)x[i]));
            slm__silu(out, x, n);
            check("silu", l, n, out, want, OPS_ABS);
            same_as_scalar("silu", l, n, out, ref[si][R_SILU]);
            for (int64_t i = 0; i < n; i++) want[i] *= y[i];
            slm__swiglu(out, x, y, n);
            check("swiglu", l, n, out, want, OPS_ABS);
            same_as_scalar("swiglu", l, n, out, ref[si][R_SWIGLU]);
            for (int64_t i = 0; i < n; i++) {
                double v = x[i];
                want[i] = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
            }
            slm__gelu_tanh(out, x, n);
            check("gelu_tanh", l, n, out, want, OPS_ABS);
            for (int64_t i = 0; i < n; i++) want[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
            slm__gelu_erf(out, x, n);
            check("gelu_erf", l, n, out, want, OPS_ABS);
            for (int64_t i = 0; i < n; i++) want[i] = (double)x[i] + y[i];
            slm__add(out, x, y, n);
            check("add", l, n, out, want, OPS_ABS);
            for (int64_t i = 0; i < n; i++) want[i] = (double)x[i] * y[i];
            slm__mul(out, x, y, n);
            check("mul", l, n, out, want, OPS_ABS);
            /* in place */
            memcpy(out, x, n * 4);
            slm__add(out, out, y, n);
            for (int64_t i = 0; i < n; i++) assert_true(out[i] == x[i] + y[i]);
            /* F16 rounding over its whole range: subnormal, overflowing, NaN */
            for (int64_t i = 0; i < n; i++) out[i] = ldexpf(x[i], (int)(i % 48) - 30);
            if (n > 8) out[n - 1] = NAN, out[n - 2] = -INFINITY, out[n - 3] = 65520.0f;
            slm__ops(SLM_CPU_LEVEL_COUNT)->round_f16(out, out, n);
            same_as_scalar("round_f16", l, n, out, ref[si][R_F16]);
            free(x), free(y), free(w), free(b), free(out), free(want);
        }
    }
    slm__cpu_level_set(max);
    for (size_t si = 0; si < SLM_ARRAY_LEN(sizes); si++)
        for (int r = 0; r < R_COUNT; r++) free(ref[si][r]);
}

/* The reference engine's vector exp: within 2.5 ulp of exp where the result is a normal float,
 * subnormal below (to within their spacing), saturating like it (0 below about -104 and for -inf,
 * infinity above about 88.4). */
static void reference_exp(void **state) {
    (void)state;
    for (int i = 0; i < 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = slm__expf_ref(x);
        if (fabs(got - want) > 2.5 * 0x1p-23 * want)
            fail_msg("expf_ref(%.9g) = %.9g, exp = %.9g", x, got, want);
    }
    assert_true(slm__expf_ref(0.0f) == 1.0f);
    assert_true(slm__expf_ref(-INFINITY) == 0.0f);
    assert_true(slm__expf_ref(-200.0f) == 0.0f);
    assert_true(isinf(slm__expf_ref(200.0f)));
    for (float x = -103.0f; x < -88.0f; x += 0.125f) /* subnormal results are kept, not flushed */
        assert_true(fabs(slm__expf_ref(x) - exp((double)x)) <= 2 * 0x1p-149);
}

static void rope_modes(void **state) {
    (void)state;
    const int64_t n_head = 3, d = 16, n_rot = 12, pos = 1234;
    float x[3 * 16], v[3 * 16];
    for (int i = 0; i < 48; i++) x[i] = tu_rnd_normal();
    for (int neox = 0; neox <= 1; neox++) {
        memcpy(v, x, sizeof v);
        slm__rope(v, n_head, d, n_rot, pos, 10000.0f, 0.5f, neox);
        for (int64_t h = 0; h < n_head; h++) {
            for (int64_t i = 0; i < n_rot / 2; i++) {
                double ang = pos * 0.5 * pow(10000.0, -2.0 * i / n_rot);
                int64_t a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
                double x0 = x[h * d + a], x1 = x[h * d + b];
                assert_true(fabs(v[h * d + a] - (x0 * cos(ang) - x1 * sin(ang))) < 1e-5);
                assert_true(fabs(v[h * d + b] - (x0 * sin(ang) + x1 * cos(ang))) < 1e-5);
            }
            /* dims past n_rot are untouched */
            for (int64_t i = n_rot; i < d; i++) assert_true(v[h * d + i] == x[h * d + i]);
        }
    }
    /* position 0 is the identity */
    memcpy(v, x, sizeof v);
    slm__rope(v, n_head, d, d, 0, 10000.0f, 1.0f, false);
    assert_memory_equal(v, x, sizeof v);
}

/* n_q >= 2 takes the reference's batch order, 1 its single-token order. */
static void attention_case(int64_t n_head, int64_t n_kv, int64_t d, int64_t n_q) {
    const int64_t pos0 = 70, n_pos = pos0 + n_q;
    float *q = malloc(n_q * n_head * d * 4), *out = malloc(n_q * n_head * d * 4);
    float *k = malloc(n_pos * n_kv * d * 4), *v = malloc(n_pos * n_kv * d * 4);
    slm_f16 *k16 = malloc(n_pos * n_kv * d * 2), *v16 = malloc(n_pos * n_kv * d * 2);
    float *scratch[2] = {malloc(SLM_ATTN_SCRATCH(n_pos) * 4), malloc(SLM_ATTN_SCRATCH(n_pos) * 4)};
    float *ref16 = malloc(n_q * n_head * d * 4);
    for (int64_t i = 0; i < n_q * n_head * d; i++) q[i] = tu_rnd_normal();
    for (int64_t i = 0; i < n_pos * n_kv * d; i++) {
        k16[i] = slm__f32_to_f16(tu_rnd_normal());
        v16[i] = slm__f32_to_f16(tu_rnd_normal());
        k[i] = slm__f16_to_f32(k16[i]); /* same values in both caches */
        v[i] = slm__f16_to_f32(v16[i]);
    }
    /* want[0]: exact attention; want[1]: with the F16 cache's rounding of queries and weights */
    double *want[2] = {malloc(n_q * n_head * d * 8), malloc(n_q * n_head * d * 8)};
    double sc = 1.0 / sqrt((double)d), p[128];
    for (int f16 = 0; f16 <= 1; f16++) {
        for (int64_t i = 0; i < n_q; i++) {
            for (int64_t h = 0; h < n_head; h++) {
                int64_t kvh = h / (n_head / n_kv), nk = pos0 + i + 1;
                double mx = -INFINITY, s = 0;
                for (int64_t t = 0; t < nk; t++) {
                    double dot = 0;
                    for (int64_t e = 0; e < d; e++) {
                        float qe = q[(i * n_head + h) * d + e];
                        if (f16) qe = slm__f16_to_f32(slm__f32_to_f16(qe));
                        dot += (double)qe * k[(t * n_kv + kvh) * d + e];
                    }
                    p[t] = dot * sc;
                    mx = fmax(mx, p[t]);
                }
                for (int64_t t = 0; t < nk; t++) s += (p[t] = exp(p[t] - mx));
                for (int64_t t = 0; t < nk; t++) {
                    p[t] /= s;
                    if (f16) p[t] = slm__f16_to_f32(slm__f32_to_f16((float)p[t]));
                }
                for (int64_t e = 0; e < d; e++) {
                    double o = 0;
                    for (int64_t t = 0; t < nk; t++) o += p[t] * v[(t * n_kv + kvh) * d + e];
                    want[f16][(i * n_head + h) * d + e] = o;
                }
            }
        }
    }
    slm_cpu_level max = slm__cpu_level_detected();
    for (int l = 0; l <= (int)max; l++) {
        slm__cpu_level_set((slm_cpu_level)l);
        for (int f16 = 0; f16 <= 1; f16++) {
            struct slm_attn a = {.n_q = n_q,
                                 .n_head = n_head,
                                 .n_head_kv = n_kv,
                                 .head_dim = d,
                                 .pos0 = pos0,
                                 .scale = (float)sc,
                                 .kv_type = f16 ? SLM_TYPE_F16 : SLM_TYPE_F32,
                                 .k = f16 ? (const void *)k16 : k,
                                 .v = f16 ? (const void *)v16 : v};
            memset(out, 0, n_q * n_head * d * 4);
            /* as two threads would split it */
            slm__attention(&a, q, out, scratch[0], 0, 2);
            slm__attention(&a, q, out, scratch[1], 1, 2);
            check(f16 ? "attention f16" : "attention f32", l, n_q * n_head * d, out, want[f16],
                  ATTN_ABS);
            if (f16) same_as_scalar("attention f16", l, n_q * n_head * d, out, ref16);
        }
    }
    slm__cpu_level_set(max);
    free(q), free(out), free(k), free(v), free(k16), free(v16), free(want[0]), free(want[1]);
    free(scratch[0]), free(scratch[1]), free(ref16);
}

static void attention_gqa_causal(void **state) {
    (void)state;
    for (int64_t n_q = 1; n_q <= 5; n_q += 4) {
        attention_case(4, 2, 24, n_q);  /* groups of 2 */
        attention_case(6, 1, 20, n_q);  /* one KV head for 6 queries, head_dim off the vector width */
        attention_case(3, 3, 64, n_q);  /* plain multi-head */
        attention_case(2, 1, 128, n_q); /* head dims in 64-element steps */
    }
}

/* The F16-cache score and value kernels on their own, bit for bit with the scalar level: the
 * softmax weights' rounding to F16 hides most score bits from the whole attention above. Rows
 * are strided as a cache's heads are; key counts around every vector width. */
static void attention_kernels_exact(void **state) {
    (void)state;
    const int64_t dims[] = {16, 20, 24, 64, 128}, keys[] = {1, 2, 3, 4, 5, 7, 9, 16, 17, 33, 71};
    const int64_t stride = 3 * 128, max_keys = 71;
    slm_f16 *rows = malloc((size_t)(max_keys * stride) * 2);
    for (int64_t i = 0; i < max_keys * stride; i++) rows[i] = slm__f32_to_f16(tu_rnd_normal());
    float q[128], p[71], want[128], got[128];
    for (int i = 0; i < 128; i++) q[i] = slm__f16_to_f32(slm__f32_to_f16(tu_rnd_normal()));
    for (int i = 0; i < 71; i++) p[i] = slm__f16_to_f32(slm__f32_to_f16(tu_rnd_uniform() / 8));
    slm_cpu_level max = slm__cpu_level_detected();
    int n_checked = 0;
    for (size_t di = 0; di < SLM_ARRAY_LEN(dims); di++) {
        for (size_t ki = 0; ki < SLM_ARRAY_LEN(keys); ki++) {
            for (int batch = 0; batch <= 1; batch++) {
                struct slm_attn_rows r = {.base = rows + 128, /* the second head */
                                          .f16 = true,
                                          .batch = batch,
                                          .stride = stride,
                                          .n_keys = keys[ki],
                                          .d = dims[di]};
                for (int l = 1; l <= (int)max; l++) {
                    const char *lv = slm__cpu_level_name((slm_cpu_level)l);
                    slm__ops(SLM_CPU_SCALAR)->attn_scores(&r, q, 0.125f, want);
                    slm__ops((slm_cpu_level)l)->attn_scores(&r, q, 0.125f, got);
                    for (int64_t t = 0; t < r.n_keys; t++)
                        if (memcmp(&got[t], &want[t], 4) != 0)
                            fail_msg("scores %s d=%lld keys=%lld batch=%d: [%lld] %.9g, not %.9g",
                                     lv, (long long)r.d, (long long)r.n_keys, batch, (long long)t,
                                     got[t], want[t]);
                    slm__ops(SLM_CPU_SCALAR)->attn_values(&r, p, want);
                    slm__ops((slm_cpu_level)l)->attn_values(&r, p, got);
                    for (int64_t e = 0; e < r.d; e++)
                        if (memcmp(&got[e], &want[e], 4) != 0)
                            fail_msg("values %s d=%lld keys=%lld batch=%d: [%lld] %.9g, not %.9g",
                                     lv, (long long)r.d, (long long)r.n_keys, batch, (long long)e,
                                     got[e], want[e]);
                    n_checked++;
                }
            }
        }
    }
    printf("attention kernels: %d cases bit-identical with the scalar level\n", n_checked);
    assert_true(n_checked > 0 || max == SLM_CPU_SCALAR);
    free(rows);
}

int main(void) {
    tu_rng_seed(0x853c49e6748fea9bull);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(elementwise_ops),
        cmocka_unit_test(reference_exp),
        cmocka_unit_test(rope_modes),
        cmocka_unit_test(attention_gqa_causal),
        cmocka_unit_test(attention_kernels_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
