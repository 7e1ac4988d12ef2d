/* AVX2+F16C forms of the conversions matmul activations and the KV cache go through (dispatch
 * level avx2): the Q8_0/Q8_1 activation quantizers, the Q8_K quantizer and F32 -> F16. Each
 * writes the bytes of its scalar form in quant.c, edge cases included (see wrap8). */
#include "tensor/internal.h"

#include <immintrin.h>

static inline __m256 abs8(__m256 v) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

/* The running maximum of |x|. maxps returns its second operand when either is NaN, so with x first
 * a NaN element leaves the maximum as it was, as fmaxf does in the reference. */
static inline __m256 max_abs8(__m256 x, __m256 m) {
    return _mm256_max_ps(abs8(x), m);
}

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline int hsum8_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* x * s rounded in the MXCSR mode (lrintf's: nearest even by default). */
static inline __m256i round8(__m256 x, __m256 s) {
    return _mm256_cvtps_epi32(_mm256_mul_ps(x, s));
}
/* The low byte sign-extended: the reference's conversion to int8. It differs from a saturating
 * pack only where the product is infinite or NaN (id is infinite when amax is below 127 /
 * FLT_MAX): lrintf then returns LONG_MIN and cvtps 0x80000000, both with a low byte of 0. */
static inline __m256i wrap8(__m256i q) {
    return _mm256_srai_epi32(_mm256_slli_epi32(q, 24), 24);
}

/* Four vectors of int8-range int32 as 32 bytes in element order (the packs interleave the 128-bit
 * lanes; the permutation puts the 4-byte groups back). */
static inline void store32_i8(int8_t *dst, const __m256i q[4]) {
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)dst, b);
}

static inline slm_f16 to_f16(float f) {
    return (slm_f16)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

/* q8_act_block of quant.c: quants into qs, amax / 127 into *d, the sum of the quants returned. */
static inline int q8_act_block(const float *x, int8_t *qs, float *d) {
    __m256 v[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m = max_abs8(v[k], m);
    }
    const float amax = hmax8(m);
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = wrap8(round8(v[k], id));
    store32_i8(qs, q);
    *d = amax / 127.0f;
    return hsum8_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
}

void slm__q8_0_act_from_float_avx2(const float *src, void *dst, int64_t n) {
    slm_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float d;
        q8_act_block(src, b[i].qs, &d);
        b[i].d = to_f16(d);
    }
}

void slm__q8_1_act_from_float_avx2(const float *src, void *dst, int64_t n) {
    slm_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float d;
        int sum = q8_act_block(src, b[i].qs, &d);
        b[i].d = to_f16(d);
        b[i].s = to_f16((float)sum * d);
    }
}

void slm__q8_k_from_float_avx2(const float *src, void *dst, int64_t n) {
    slm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / SLM_QK_K; i++, src += SLM_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < SLM_QK_K; j += 8) m = max_abs8(_mm256_loadu_ps(src + j), m);
        const float amax = hmax8(m);
        if (amax == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        /* the reference scales by the first element of that magnitude, sign included */
        const __m256 va = _mm256_set1_ps(amax);
        int j = 0;
        for (;; j += 8) {
            int hit =
                _mm256_movemask_ps(_mm256_cmp_ps(abs8(_mm256_loadu_ps(src + j)), va, _CMP_EQ_OQ));
            if (hit) {
                j += __builtin_ctz((unsigned)hit);
                break;
            }
        }
        const float iscale = -127.0f / src[j];
        const __m256 s = _mm256_set1_ps(iscale);
        const __m256i hi = _mm256_set1_epi32(127);
        /* 32 elements per step: two groups of 16 for bsums */
        for (int g = 0; g < SLM_QK_K / 16; g += 2) {
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] =
                    wrap8(_mm256_min_epi32(round8(_mm256_loadu_ps(src + 16 * g + 8 * k), s), hi));
            store32_i8(b[i].qs + 16 * g, q);
            b[i].bsums[g] = (int16_t)hsum8_i32(_mm256_add_epi32(q[0], q[1]));
            b[i].bsums[g + 1] = (int16_t)hsum8_i32(_mm256_add_epi32(q[2], q[3]));
        }
        b[i].d = 1.0f / iscale;
    }
}

void slm__f16_from_float_avx2(const float *src, void *dst, int64_t n) {
    slm_f16 *h = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) h[i] = to_f16(src[i]);
}
