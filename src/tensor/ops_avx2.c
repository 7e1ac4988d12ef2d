/* AVX2+FMA forms of the ops in ops.c (most also used at the AVX-512 level). exp is a range-reduced
 * degree-6 polynomial (relative error ~2e-7), tanh and erf are built on it. */
#include "tensor/internal.h"

#include <immintrin.h>
#include <math.h>

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* e^x: x = k ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial, 2^k through the exponent
 * bits. Inputs are clamped to the normal range of the result. */
static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* llama.cpp's AVX-512 exp (slm__expf_ref) on 8 lanes; vscalefps by 2^n becomes two exact
 * power-of-two multiplies, the second rounding as it does. */
static inline __m256 exp8_ref(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b,
                                        _mm256_set1_ps(0x1.573e2ep-5f)),
                        u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b,
                                        _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    /* |n| <= 192 here matters only where it holds: halves of at most 96 are normal powers */
    const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n),
                                     _mm256_set1_ps(192), _CMP_GT_OQ);
    __m256i ni = _mm256_cvttps_epi32(_mm256_andnot_ps(big, n));
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, p1), p2);
    if (!_mm256_movemask_ps(big)) return res;
    __m256 alt = _mm256_andnot_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ),
                                  _mm256_set1_ps(INFINITY));
    return _mm256_blendv_ps(res, alt, big);
}

static inline __m256 silu8_ref(__m256 x) {
    __m256 e = exp8_ref(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* Elements past the last multiple of 8 go through a zero-padded buffer. */
#define TAIL_LOAD(dst, src, n)                                                                     \
    float dst[8] = {0};                                                                            \
    memcpy(dst, src, (size_t)(n) * sizeof(float))

/* The reference order of ops.c: the double sum of float squares stays sequential (its roundings
 * are the reference's), the squares and the scaling are vectorised. */
static void rms_norm_avx2(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        float sq[8];
        _mm256_storeu_ps(sq, _mm256_mul_ps(v, v));
        for (int l = 0; l < 8; l++) ss += (double)sq[l];
    }
    for (; i < n; i++) ss += (double)(x[i] * x[i]);
    const float mean = (float)(ss / (double)n), scale = 1.0f / sqrtf(mean + eps);
    __m256 r = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), r);
        if (w) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
        _mm256_storeu_ps(out + i, v);
    }
    for (; i < n; i++) {
        float v = x[i] * scale;
        out[i] = w ? v * w[i] : v;
    }
}

static void layer_norm_avx2(float *out, const float *x, const float *w, const float *b, int64_t n,
                            float eps) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
    float s = hsum8(acc);
    for (; i < n; i++) s += x[i];
    float mean = s / (float)n;
    __m256 m = _mm256_set1_ps(mean);
    acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float var = hsum8(acc);
    for (; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    float rs = 1.0f / sqrtf(var / (float)n + eps);
    __m256 r = _mm256_set1_ps(rs);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), r);
        if (w) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
        if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));
        _mm256_storeu_ps(out + i, v);
    }
    for (; i < n; i++) out[i] = (x[i] - mean) * rs * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

/* The reference softmax of ops.c: 16-element chunks through its vector exp, each chunk's sum in
 * the 16-lane order added in double, the rest through expf. */
static void softmax_avx2(float *x, int64_t n) {
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float max = _mm_cvtss_f32(m4);
    for (; i < n; i++) max = fmaxf(max, x[i]);
    __m256 vm = _mm256_set1_ps(max);
    double s = 0;
    for (i = 0; i + 16 <= n; i += 16) {
        __m256 lo = exp8_ref(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        __m256 hi = exp8_ref(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
        _mm256_storeu_ps(x + i, lo);
        _mm256_storeu_ps(x + i + 8, hi);
        s += (double)hsum8(_mm256_add_ps(hi, lo));
    }
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        s += (double)x[i];
    }
    __m256 inv = _mm256_set1_ps((float)(1.0 / s));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= _mm256_cvtss_f32(inv);
}

/* Applies f to 8 lanes at a time; the tail goes through a padded buffer. */
#define MAP_UNARY(name, f)                                                                         \
    static void name(float *out, const float *x, int64_t n) {                                      \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(x + i)));           \
        if (i < n) {                                                                               \
            TAIL_LOAD(t, x + i, n - i);                                                            \
            _mm256_storeu_ps(t, f(_mm256_loadu_ps(t)));                                            \
            memcpy(out + i, t, (size_t)(n - i) * sizeof(float));                                   \
        }                                                                                          \
    }

/* tanh(u) = 1 - 2 / (e^{2u} + 1), saturating correctly at both ends. */
static inline __m256 gelu_tanh8(__m256 x) {
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), x),
                             _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x2, _mm256_set1_ps(1.0f)));
    __m256 e = exp8(_mm256_add_ps(u, u));
    __m256 th =
        _mm256_sub_ps(_mm256_set1_ps(1.0f),
                      _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                         _mm256_add_ps(_mm256_set1_ps(1.0f), th));
}

/* erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), odd-extended. */
static inline __m256 gelu_erf8(__m256 x) {
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 sign = _mm256_and_ps(z, _mm256_set1_ps(-0.0f));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), a, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
    __m256 erf = _mm256_or_ps(_mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f)), sign);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                         _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

/* silu and swiglu in the reference's chunks of 16 (ops.c); the rest through expf. */
static void silu_avx2(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i < n / 16 * 16; i += 8) _mm256_storeu_ps(out + i, silu8_ref(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) out[i] = x[i] / (1.0f + expf(-x[i]));
}
MAP_UNARY(gelu_tanh_avx2, gelu_tanh8)
MAP_UNARY(gelu_erf_avx2, gelu_erf8)

static void swiglu_avx2(float *out, const float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i < n / 16 * 16; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu8_ref(_mm256_loadu_ps(gate + i)),
                                                _mm256_loadu_ps(up + i)));
    for (; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

static void add_avx2(float *out, const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) out[i] = a[i] + b[i];
}
static void mul_avx2(float *out, const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) out[i] = a[i] * b[i];
}

/* 8 cache elements of row t from e, as floats. */
static inline __m256 kv8(const struct slm_attn_rows *r, int64_t t, int64_t e) {
    if (r->f16)
        return _mm256_cvtph_ps(
            _mm_loadu_si128((const __m128i *)((const slm_f16 *)r->base + t * r->stride + e)));
    return _mm256_loadu_ps((const float *)r->base + t * r->stride + e);
}
static inline float kv1(const struct slm_attn_rows *r, int64_t t, int64_t e) {
    return r->f16 ? _cvtsh_ss(((const slm_f16 *)r->base)[t * r->stride + e])
                  : ((const float *)r->base)[t * r->stride + e];
}

/* F32 cache: four keys at a time, each with its own accumulator chain; the query stays in L1. */
static void scores_f32(const struct slm_attn_rows *k, const float *q, float scale, float *s) {
    const int64_t d = k->d, d8 = d / 8 * 8, n = k->n_keys;
    int64_t t = 0;
    for (; t + 4 <= n; t += 4) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t e = 0; e < d8; e += 8) {
            __m256 qv = _mm256_loadu_ps(q + e);
            a0 = _mm256_fmadd_ps(kv8(k, t, e), qv, a0);
            a1 = _mm256_fmadd_ps(kv8(k, t + 1, e), qv, a1);
            a2 = _mm256_fmadd_ps(kv8(k, t + 2, e), qv, a2);
            a3 = _mm256_fmadd_ps(kv8(k, t + 3, e), qv, a3);
        }
        float v[4] = {hsum8(a0), hsum8(a1), hsum8(a2), hsum8(a3)};
        for (int r = 0; r < 4; r++) {
            for (int64_t e = d8; e < d; e++) v[r] += q[e] * kv1(k, t + r, e);
            s[t + r] = v[r] * scale;
        }
    }
    for (; t < n; t++) {
        __m256 a0 = _mm256_setzero_ps();
        for (int64_t e = 0; e < d8; e += 8)
            a0 = _mm256_fmadd_ps(kv8(k, t, e), _mm256_loadu_ps(q + e), a0);
        float v = hsum8(a0);
        for (int64_t e = d8; e < d; e++) v += q[e] * kv1(k, t, e);
        s[t] = v * scale;
    }
}

/* F32 cache: accumulates 32 output dims in registers over all keys. */
static void values_f32(const struct slm_attn_rows *v, const float *p, float *out) {
    const int64_t d = v->d, n = v->n_keys;
    int64_t e = 0;
    for (; e + 32 <= d; e += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t t = 0; t < n; t++) {
            __m256 w = _mm256_set1_ps(p[t]);
            a0 = _mm256_fmadd_ps(w, kv8(v, t, e), a0);
            a1 = _mm256_fmadd_ps(w, kv8(v, t, e + 8), a1);
            a2 = _mm256_fmadd_ps(w, kv8(v, t, e + 16), a2);
            a3 = _mm256_fmadd_ps(w, kv8(v, t, e + 24), a3);
        }
        _mm256_storeu_ps(out + e, a0);
        _mm256_storeu_ps(out + e + 8, a1);
        _mm256_storeu_ps(out + e + 16, a2);
        _mm256_storeu_ps(out + e + 24, a3);
    }
    for (; e + 8 <= d; e += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int64_t t = 0; t < n; t++)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[t]), kv8(v, t, e), a0);
        _mm256_storeu_ps(out + e, a0);
    }
    for (; e < d; e++) {
        float a0 = 0;
        for (int64_t t = 0; t < n; t++) a0 += p[t] * kv1(v, t, e);
        out[e] = a0;
    }
}

/* F16 cache in the reference orders of ops.c. Scores: the 16 lanes are head dims, [lo | hi]. */
static inline __m256 f16x8(const slm_f16 *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static float score_f16(const float *q, const slm_f16 *k, int64_t d, bool batch) {
    if (batch && d % 16 == 0) {
        __m256 lo = _mm256_setzero_ps(), hi = lo;
        for (int64_t e = 0; e < d; e += 16) {
            lo = _mm256_fmadd_ps(_mm256_loadu_ps(q + e), f16x8(k + e), lo);
            hi = _mm256_fmadd_ps(_mm256_loadu_ps(q + e + 8), f16x8(k + e + 8), hi);
        }
        return hsum8(_mm256_add_ps(hi, lo));
    }
    const int64_t np = d / 64 * 64;
    double sum = 0;
    if (np) {
        __m256 acc[4][2];
        for (int j = 0; j < 4; j++) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
        for (int64_t e = 0; e < np; e += 64)
            for (int j = 0; j < 4; j++)
                for (int h = 0; h < 2; h++) {
                    int64_t o = e + 16 * j + 8 * h;
                    acc[j][h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + o), f16x8(k + o), acc[j][h]);
                }
        __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0][0], acc[2][0]),
                                  _mm256_add_ps(acc[1][0], acc[3][0]));
        __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[0][1], acc[2][1]),
                                  _mm256_add_ps(acc[1][1], acc[3][1]));
        sum = (double)hsum8(_mm256_add_ps(hi, lo));
    }
    for (int64_t e = np; e < d; e++) sum += (double)(q[e] * _cvtsh_ss(k[e]));
    return (float)sum;
}

static void attn_scores_avx2(const struct slm_attn_rows *k, const float *q, float scale, float *s) {
    if (!k->f16) {
        scores_f32(k, q, scale, s);
        return;
    }
    for (int64_t t = 0; t < k->n_keys; t++)
        s[t] = score_f16(q, (const slm_f16 *)k->base + t * k->stride, k->d, k->batch) * scale;
}

/* Values: 8 head dims per vector; the reference's 16 lanes over keys (t % 16, in 4 accumulators
 * by t / 16 % 4 for a single token) are separate vectors, folded across as it folds them. */
static inline __m256 fold16(const __m256 *a) {
    __m256 t[8];
    for (int i = 0; i < 8; i++) t[i] = _mm256_add_ps(a[i + 8], a[i]);
    __m256 r0 = _mm256_add_ps(t[4], t[0]), r1 = _mm256_add_ps(t[5], t[1]);
    __m256 r2 = _mm256_add_ps(t[6], t[2]), r3 = _mm256_add_ps(t[7], t[3]);
    return _mm256_add_ps(_mm256_add_ps(r0, r2), _mm256_add_ps(r1, r3));
}

static void attn_values_avx2(const struct slm_attn_rows *v, const float *p, float *out) {
    if (!v->f16 || v->d % 8 != 0) {
        if (v->f16) {
            slm__ops(SLM_CPU_SCALAR)->attn_values(v, p, out);
            return;
        }
        values_f32(v, p, out);
        return;
    }
    const slm_f16 *base = v->base;
    const int groups = v->batch ? 1 : 4;
    for (int64_t e = 0; e < v->d; e += 8) {
        __m256 acc[4][16];
        for (int j = 0; j < groups; j++)
            for (int l = 0; l < 16; l++) acc[j][l] = _mm256_setzero_ps();
        for (int64_t t = 0; t < v->n_keys; t++) {
            __m256 *a = &acc[v->batch ? 0 : t / 16 % 4][t % 16];
            *a = _mm256_fmadd_ps(_mm256_set1_ps(p[t]), f16x8(base + t * v->stride + e), *a);
        }
        if (!v->batch)
            for (int l = 0; l < 16; l++)
                acc[0][l] = _mm256_add_ps(_mm256_add_ps(acc[0][l], acc[2][l]),
                                          _mm256_add_ps(acc[1][l], acc[3][l]));
        _mm256_storeu_ps(out + e, fold16(acc[0]));
    }
}

static void round_f16_avx2(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                                                  _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) out[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

uint64_t slm__mem_read_avx2(const void *p, size_t bytes) {
    const __m256i *q = p;
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i < bytes / 32; i += 4) {
        a = _mm256_add_epi64(a, _mm256_load_si256(q + i));
        b = _mm256_add_epi64(b, _mm256_load_si256(q + i + 1));
        c = _mm256_add_epi64(c, _mm256_load_si256(q + i + 2));
        d = _mm256_add_epi64(d, _mm256_load_si256(q + i + 3));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, s);
    return out[0] + out[1] + out[2] + out[3];
}

/* The AVX-512 level: these, with the encoder's ops and the F16 attention kernels (same bits, 16
 * lanes) from ops_avx512.c. The softmax stays the reference-order one the decoder's attention
 * needs to reproduce the reference logits; the encoder calls the wider slm__softmax_avx512
 * itself. */
const struct slm_ops slm__ops_avx512 = {
    .rms_norm = rms_norm_avx2,
    .layer_norm = slm__layer_norm_avx512,
    .softmax = softmax_avx2,
    .silu = silu_avx2,
    .gelu_tanh = slm__gelu_tanh_avx512,
    .gelu_erf = slm__gelu_erf_avx512,
    .swiglu = swiglu_avx2,
    .add = add_avx2,
    .mul = mul_avx2,
    .attn_scores = slm__attn_scores_avx512,
    .attn_values = slm__attn_values_avx512,
    .round_f16 = round_f16_avx2,
};

const struct slm_ops slm__ops_avx2 = {
    .rms_norm = rms_norm_avx2,
    .layer_norm = layer_norm_avx2,
    .softmax = softmax_avx2,
    .silu = silu_avx2,
    .gelu_tanh = gelu_tanh_avx2,
    .gelu_erf = gelu_erf_avx2,
    .swiglu = swiglu_avx2,
    .add = add_avx2,
    .mul = mul_avx2,
    .attn_scores = attn_scores_avx2,
    .attn_values = attn_values_avx2,
    .round_f16 = round_f16_avx2,
};
