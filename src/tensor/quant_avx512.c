/* AVX-512 forms of the conversions matmul activations and the KV cache go through (dispatch level
 * avx512): the Q8_0/Q8_1 activation quantizers, the Q8_K quantizer and F32 -> F16, 16 lanes wide.
 * Each writes the bytes of its scalar form in quant.c, edge cases included (see wrap16). */
#include "tensor/internal.h"

#include <immintrin.h>

/* The running maximum of |x|. maxps returns its second operand when either is NaN, so with x first
 * a NaN element leaves the maximum as it was, as fmaxf does in the reference. */
static inline __m512 max_abs16(__m512 x, __m512 m) {
    return _mm512_max_ps(_mm512_abs_ps(x), m);
}

/* x * s rounded in the MXCSR mode (lrintf's: nearest even by default). */
static inline __m512i round16(__m512 x, __m512 s) {
    return _mm512_cvtps_epi32(_mm512_mul_ps(x, s));
}
/* The low byte sign-extended: the reference's conversion to int8, for sums (vpmovdb stores that
 * byte already). Only infinite or NaN products (id is infinite when amax is below 127 / FLT_MAX)
 * fall outside int8: lrintf then returns LONG_MIN and cvtps 0x80000000, both with a low byte of
 * 0. */
static inline __m512i wrap16(__m512i q) {
    return _mm512_srai_epi32(_mm512_slli_epi32(q, 24), 24);
}

static inline slm_f16 to_f16(float f) {
    return (slm_f16)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

/* q8_act_block of quant.c: quants into qs, amax / 127 into *d, the sum of the quants returned. */
static inline int q8_act_block(const float *x, int8_t *qs, float *d) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(max_abs16(v1, max_abs16(v0, _mm512_setzero_ps())));
    const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i q0 = round16(v0, id), q1 = round16(v1, id);
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtepi32_epi8(q1));
    *d = amax / 127.0f;
    return _mm512_reduce_add_epi32(_mm512_add_epi32(wrap16(q0), wrap16(q1)));
}

void slm__q8_0_act_from_float_avx512(const float *src, void *dst, int64_t n) {
    slm_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float d;
        q8_act_block(src, b[i].qs, &d);
        b[i].d = to_f16(d);
    }
}

void slm__q8_1_act_from_float_avx512(const float *src, void *dst, int64_t n) {
    slm_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float d;
        int sum = q8_act_block(src, b[i].qs, &d);
        b[i].d = to_f16(d);
        b[i].s = to_f16((float)sum * d);
    }
}

void slm__q8_k_from_float_avx512(const float *src, void *dst, int64_t n) {
    slm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / SLM_QK_K; i++, src += SLM_QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < SLM_QK_K; j += 16) m = max_abs16(_mm512_loadu_ps(src + j), m);
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        /* the reference scales by the first element of that magnitude, sign included */
        const __m512 va = _mm512_set1_ps(amax);
        int j = 0;
        for (;; j += 16) {
            __mmask16 hit =
                _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(src + j)), va, _CMP_EQ_OQ);
            if (hit) {
                j += __builtin_ctz(hit);
                break;
            }
        }
        const float iscale = -127.0f / src[j];
        const __m512 s = _mm512_set1_ps(iscale);
        const __m512i hi = _mm512_set1_epi32(127);
        /* one vector is one group of bsums */
        for (int g = 0; g < SLM_QK_K / 16; g++) {
            __m512i q = wrap16(_mm512_min_epi32(round16(_mm512_loadu_ps(src + 16 * g), s), hi));
            _mm_storeu_si128((__m128i *)(b[i].qs + 16 * g), _mm512_cvtepi32_epi8(q));
            b[i].bsums[g] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        b[i].d = 1.0f / iscale;
    }
}

void slm__f16_from_float_avx512(const float *src, void *dst, int64_t n) {
    slm_f16 *h = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(h + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(
            h + i, m,
            _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT));
    }
}
