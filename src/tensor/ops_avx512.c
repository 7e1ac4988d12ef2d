/* AVX-512 forms of ops.c's helpers where the wider vectors matter: the memory-read probe, the
 * element-wise ops the encoder spends its time in besides the matmuls (softmax over attention
 * scores, GELU, LayerNorm), and the decoder's F16-cache attention kernels in the prompt's order,
 * which the AVX-512 row of the ops table takes from here. */
#include "tensor/internal.h"

#include <immintrin.h>
#include <math.h>

uint64_t slm__mem_read_avx512(const void *p, size_t bytes) {
    const __m512i *q = p;
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (size_t i = 0; i < bytes / 64; i += 4) {
        a = _mm512_add_epi64(a, _mm512_load_si512(q + i));
        b = _mm512_add_epi64(b, _mm512_load_si512(q + i + 1));
        c = _mm512_add_epi64(c, _mm512_load_si512(q + i + 2));
        d = _mm512_add_epi64(d, _mm512_load_si512(q + i + 3));
    }
    return (uint64_t)_mm512_reduce_add_epi64(
        _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
}

/* ---- the encoder's element-wise ops, 16 lanes wide (tails masked) ---- */

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* e^x as exp8 of ops_avx2.c: x = k ln2 + r, e^r by its Taylor polynomial, 2^k by scalef. */
static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

/* 1 / d from the 14-bit estimate and one Newton step (relative error about 1e-8): a division
 * costs several times more. */
static inline __m512 recip16(__m512 d) {
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

void slm__softmax_avx512(float *x, int64_t n) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16)
        mx = _mm512_mask_max_ps(mx, tail_mask(n - i), mx, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));
        acc = _mm512_mask_add_ps(acc, m, acc, e);
        _mm512_mask_storeu_ps(x + i, m, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
    }
}

/* As gelu_tanh8: tanh(u) = 1 - 2 / (e^{2u} + 1). */
static inline __m512 gelu_tanh16(__m512 x) {
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 u = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), x),
                             _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x2, _mm512_set1_ps(1.0f)));
    __m512 e = exp16(_mm512_add_ps(u, u));
    __m512 th = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), recip16(_mm512_add_ps(e, _mm512_set1_ps(1.0f))),
                                 _mm512_set1_ps(1.0f));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x),
                         _mm512_add_ps(_mm512_set1_ps(1.0f), th));
}

/* As gelu_erf8: erf by Abramowitz & Stegun 7.1.26, odd-extended. */
static inline __m512 gelu_erf16(__m512 x) {
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 a = _mm512_abs_ps(z);
    __m512 t = recip16(_mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), a, _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
    __m512 erf_abs = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
    /* the sign of z onto erf(|z|) */
    __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(erf_abs),
        _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000u))));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x),
                         _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

void slm__gelu_tanh_avx512(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16)
        _mm512_mask_storeu_ps(out + i, tail_mask(n - i),
                              gelu_tanh16(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i)));
}

void slm__gelu_erf_avx512(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16)
        _mm512_mask_storeu_ps(out + i, tail_mask(n - i),
                              gelu_erf16(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i)));
}

void slm__layer_norm_avx512(float *out, const float *x, const float *w, const float *b, int64_t n,
                            float eps) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16)
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    const float mean = _mm512_reduce_add_ps(acc) / (float)n;
    const __m512 m = _mm512_set1_ps(mean);
    acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), m);
        acc = _mm512_fmadd_ps(v, v, acc);
    }
    const __m512 r = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)n + eps));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), r);
        if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, w + i));
        if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + i));
        _mm512_mask_storeu_ps(out + i, k, v);
    }
}

/* ---- attention over an F16 cache in the reference's batch (prompt) order of ops.c ---- */

static inline __m512 f16x16(const slm_f16 *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

/* Scores: each key's 16 lanes are head dims e % 16, folded in slm__hsum16_ref's pairs (lane l +
 * lane l+8, then + 4, + 2, + 1) for four keys side by side in one vector; past n_keys the last key
 * is repeated and its score not stored. */
void slm__attn_scores_avx512(const struct slm_attn_rows *k, const float *q, float scale, float *s) {
    if (!k->f16 || !k->batch || k->d % 16 != 0) {
        slm__ops_avx2.attn_scores(k, q, scale, s);
        return;
    }
    const slm_f16 *last = (const slm_f16 *)k->base + (k->n_keys - 1) * k->stride;
    const __m512i pick = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int64_t t = 0; t < k->n_keys; t += 4) {
        const int64_t left = k->n_keys - t;
        const slm_f16 *row0 = (const slm_f16 *)k->base + t * k->stride;
        const slm_f16 *row[4] = {row0, left > 1 ? row0 + k->stride : last,
                                 left > 2 ? row0 + 2 * k->stride : last,
                                 left > 3 ? row0 + 3 * k->stride : last};
        __m512 a[4];
        for (int j = 0; j < 4; j++) a[j] = _mm512_setzero_ps();
        for (int64_t e = 0; e < k->d; e += 16) {
            const __m512 qv = _mm512_loadu_ps(q + e);
            for (int j = 0; j < 4; j++)
                a[j] = _mm512_fmadd_ps(qv, f16x16(row[j] + e, 0xffff), a[j]);
        }
        /* [key 0: lanes 0..7 + 8..15 | key 1: the same], then keys 2, 3 */
        const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(a[0], a[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                         _mm512_shuffle_f32x4(a[0], a[1], _MM_SHUFFLE(3, 2, 3, 2)));
        const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(a[2], a[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                         _mm512_shuffle_f32x4(a[2], a[3], _MM_SHUFFLE(3, 2, 3, 2)));
        /* one 4-lane block per key: lanes 0..3 + 4..7, then within the block */
        __m512 r = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
        r = _mm512_add_ps(r, _mm512_permute_ps(r, _MM_SHUFFLE(1, 0, 3, 2)));
        r = _mm512_add_ps(r, _mm512_permute_ps(r, _MM_SHUFFLE(2, 3, 0, 1)));
        r = _mm512_permutexvar_ps(pick, _mm512_mul_ps(r, vscale));
        _mm_mask_storeu_ps(s + t, (__mmask8)(left >= 4 ? 0xf : (1u << left) - 1),
                           _mm512_castps512_ps128(r));
    }
}

/* Values: 16 head dims per vector, the reference's 16 lanes over keys (t % 16) separate vectors
 * folded across in slm__hsum16_ref's pairs. */
void slm__attn_values_avx512(const struct slm_attn_rows *v, const float *p, float *out) {
    if (!v->f16 || !v->batch) {
        slm__ops_avx2.attn_values(v, p, out);
        return;
    }
    const slm_f16 *base = v->base;
    for (int64_t e = 0; e < v->d; e += 16) {
        const __mmask16 m = tail_mask(v->d - e);
        __m512 a[16];
        for (int l = 0; l < 16; l++) a[l] = _mm512_setzero_ps();
        for (int64_t t0 = 0; t0 < v->n_keys; t0 += 16)
            for (int l = 0; l < 16; l++)
                if (t0 + l < v->n_keys)
                    a[l] = _mm512_fmadd_ps(_mm512_set1_ps(p[t0 + l]),
                                           f16x16(base + (t0 + l) * v->stride + e, m), a[l]);
        for (int l = 0; l < 8; l++) a[l] = _mm512_add_ps(a[l + 8], a[l]);
        for (int l = 0; l < 4; l++) a[l] = _mm512_add_ps(a[l + 4], a[l]);
        _mm512_mask_storeu_ps(out + e, m,
                              _mm512_add_ps(_mm512_add_ps(a[0], a[2]), _mm512_add_ps(a[1], a[3])));
    }
}
