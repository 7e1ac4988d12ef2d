/* AVX2+FMA+F16C dot products (dispatch level avx2). Integer block dots are exact (maddubs/madd).
 * BF16, the legacy blocks and the K super-blocks sum in the scalar reference's order (llama.cpp's),
 * so they equal it bit for bit; F32/F16 differ from it only by float summation order. */
#include "tensor/internal.h"

#include <math.h>

#include <immintrin.h>
#include <stddef.h>

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float h2f(slm_f16 h) {
    return _cvtsh_ss(h);
}

/* 8 int32 partial sums of a (unsigned bytes) x b (signed bytes). */
static inline __m256i dot_u8i8(__m256i a, __m256i b) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}
/* Same for two signed operands: move a's sign onto b. */
static inline __m256i dot_i8i8(__m256i a, __m256i b) {
    return dot_u8i8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}
/* 32 nibbles of a 16-byte legacy block: low nibbles are elements 0..15, high ones 16..31. */
static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}
/* Byte j = 0x10 where bit j of the 32-bit qh is set. */
static inline __m256i fifth_bits32(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, 4);
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                             0x0101010101010101, 0x0000000000000000);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

float slm__dot_f32_avx2(int64_t n, const void *w, const void *x) {
    const float *a = w, *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float slm__dot_f16_avx2(int64_t n, const void *w, const void *x) {
    const slm_f16 *a = w, *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 a1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8)));
        __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8)));
        s0 = _mm256_fmadd_ps(a0, b0, s0);
        s1 = _mm256_fmadd_ps(a1, b1, s1);
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += h2f(a[i]) * h2f(b[i]);
    return s;
}

/* Elements 2l (even) and 2l+1 (odd) of 16 BF16 values as 8 floats each. */
static inline void bf16_pairs(const slm_bf16 *p, __m256 *even, __m256 *odd) {
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    *even = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    *odd = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
}
/* One vdpbf16ps step over 32 elements, lanes 0-7 in lo and 8-15 in hi: odd product, then even
 * (the products are exact, so FMA adds them with the instruction's rounding). */
static inline void dpbf16_step(__m256 *lo, __m256 *hi, const slm_bf16 *a, const slm_bf16 *b) {
    __m256 ae, ao, be, bo;
    bf16_pairs(a, &ae, &ao);
    bf16_pairs(b, &be, &bo);
    *lo = _mm256_fmadd_ps(ae, be, _mm256_fmadd_ps(ao, bo, *lo));
    bf16_pairs(a + 16, &ae, &ao);
    bf16_pairs(b + 16, &be, &bo);
    *hi = _mm256_fmadd_ps(ae, be, _mm256_fmadd_ps(ao, bo, *hi));
}
/* _mm512_reduce_add_ps of the 16 lanes [lo | hi]. */
static inline float hsum16(__m256 lo, __m256 hi) {
    return hsum8(_mm256_add_ps(hi, lo));
}

float slm__dot_bf16_avx2(int64_t n, const void *w, const void *x) {
    const slm_bf16 *a = w, *b = x;
    __m256 c1l = _mm256_setzero_ps(), c1h = c1l, c2l = c1l, c2h = c1l;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        dpbf16_step(&c1l, &c1h, a + i, b + i);
        dpbf16_step(&c2l, &c2h, a + i + 32, b + i + 32);
    }
    double s = (double)hsum16(c1l, c1h);
    s += (double)hsum16(c2l, c2h);
    for (; i < n; i++) s += (double)(slm__bf16_to_f32(a[i]) * slm__bf16_to_f32(b[i]));
    return (float)s;
}

float slm__dot_bf16_batch_avx2(int64_t n, const void *w, const void *x) {
    if (n % 32 != 0) return slm__dot_bf16_avx2(n, w, x);
    const slm_bf16 *a = w, *b = x;
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    for (int64_t i = 0; i < n; i += 32) dpbf16_step(&lo, &hi, a + i, b + i);
    return hsum16(lo, hi);
}

/* Legacy blocks in the reference order of dot.c: DOT gives the 8 exact lane sums of block i
 * (Q(i) its weights as bytes), added with one FMA per block times the scale product; with HAS_MIN
 * (Q4_1/Q5_1) the min terms m_w * s_x chain through scalar FMAs. */
#define LEGACY_LOOP(WT, AT, Q, DOT, HAS_MIN, MF, XF)                                               \
    const WT *a = w;                                                                               \
    const AT *b = x;                                                                               \
    __m256 acc = _mm256_setzero_ps();                                                              \
    float summs = 0;                                                                               \
    for (int64_t i = 0; i < n / SLM_QK; i++) {                                                     \
        if (HAS_MIN) summs = fmaf(h2f(a[i].MF), h2f(b[i].XF), summs);                              \
        __m256i p = DOT(Q(i), _mm256_loadu_si256((const __m256i *)b[i].qs));                       \
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), _mm256_cvtepi32_ps(p),    \
                              acc);                                                                \
    }                                                                                              \
    return hsum8(acc) + summs

#define Q_Q8_0(k) _mm256_loadu_si256((const __m256i *)a[k].qs)
#define Q_Q4_0(k) _mm256_sub_epi8(nibbles32(a[k].qs), _mm256_set1_epi8(8))
#define Q_Q4_1(k) nibbles32(a[k].qs)
#define Q_Q5_0(k)                                                                                  \
    _mm256_sub_epi8(_mm256_or_si256(nibbles32(a[k].qs), fifth_bits32(a[k].qh)),                    \
                    _mm256_set1_epi8(16))
#define Q_Q5_1(k) _mm256_or_si256(nibbles32(a[k].qs), fifth_bits32(a[k].qh))

float slm__dot_q8_0_avx2(int64_t n, const void *w, const void *x) {
    LEGACY_LOOP(slm_block_q8_0, slm_block_q8_0, Q_Q8_0, dot_i8i8, false, d, d);
}
float slm__dot_q4_0_avx2(int64_t n, const void *w, const void *x) {
    LEGACY_LOOP(slm_block_q4_0, slm_block_q8_0, Q_Q4_0, dot_i8i8, false, d, d);
}
float slm__dot_q4_1_avx2(int64_t n, const void *w, const void *x) {
    LEGACY_LOOP(slm_block_q4_1, slm_block_q8_1, Q_Q4_1, dot_u8i8, true, m, s);
}
float slm__dot_q5_0_avx2(int64_t n, const void *w, const void *x) {
    LEGACY_LOOP(slm_block_q5_0, slm_block_q8_0, Q_Q5_0, dot_i8i8, false, d, d);
}
float slm__dot_q5_1_avx2(int64_t n, const void *w, const void *x) {
    LEGACY_LOOP(slm_block_q5_1, slm_block_q8_1, Q_Q5_1, dot_u8i8, true, m, s);
}

/* The 8 six-bit scales and 8 mins of a Q4_K/Q5_K block as bytes [sc0..sc7 | m0..m7], unpacked
 * with word arithmetic (see k_scale_min in quant.c for the layout). */
static inline __m128i k_scales_mins(const uint8_t *q) {
    uint32_t w0, w1, w2;
    memcpy(&w0, q, 4);
    memcpy(&w1, q + 4, 4);
    memcpy(&w2, q + 8, 4);
    uint32_t s_lo = w0 & 0x3f3f3f3fu, m_lo = w1 & 0x3f3f3f3fu;
    uint32_t s_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
    uint32_t m_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
    return _mm_setr_epi32((int)s_lo, (int)s_hi, (int)m_lo, (int)m_hi);
}

/* The Q4_K/Q5_K min terms of dot.c: lane k = m_2k s_2k + m_2k+1 s_2k+1 over the group sums of the
 * activation (pairs of bsums); sm holds the mins in bytes 8..15. */
static inline __m128i k_min_terms(__m128i sm, const int16_t *bsums) {
    __m128i s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                               _mm_loadu_si128((const __m128i *)(bsums + 8)));
    return _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), s);
}
static inline int hsum_i32x4(__m128i v) {
    v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    return _mm_cvtsi128_si32(_mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1))));
}

static float dot_k_asym_avx2(int64_t n, const void *w, const void *x, bool five) {
    const slm_block_q8_k *b = x;
    const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    float summs = 0;
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        const uint8_t *scales, *qs, *qh = NULL;
        float d, dmin;
        if (five) {
            const slm_block_q5_k *a = (const slm_block_q5_k *)w + i;
            scales = a->scales, qs = a->qs, qh = a->qh;
            d = h2f(a->d), dmin = h2f(a->dmin);
        } else {
            const slm_block_q4_k *a = (const slm_block_q4_k *)w + i;
            scales = a->scales, qs = a->qs;
            d = h2f(a->d), dmin = h2f(a->dmin);
        }
        __m128i sm = k_scales_mins(scales);
        /* each scale in both 16-bit halves of an int32 lane, for madd against int16 pairs */
        __m256i sc = _mm256_cvtepu8_epi32(sm);
        sc = _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16));
        __m256i hb = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
            __m256i lo = _mm256_and_si256(q, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            if (qh) {
                /* bits 2j and 2j+1 of each qh byte are the fifth bits of groups 2j and 2j+1 */
                __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one);
                __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one);
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(h0, 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(h1, 4));
            }
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * j));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * j + 32));
            __m256i s0 = _mm256_permutevar8x32_epi32(sc, _mm256_set1_epi32(2 * j));
            __m256i s1 = _mm256_permutevar8x32_epi32(sc, _mm256_set1_epi32(2 * j + 1));
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), s0);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), s1);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * b[i].d), _mm256_cvtepi32_ps(sumi), acc);
        __m128i prod = k_min_terms(sm, b[i].bsums);
        const float dm = -b[i].d * dmin;
        if (five)
            summs = fmaf(dm, (float)hsum_i32x4(prod), summs);
        else
            acc_min = _mm_fmadd_ps(_mm_set1_ps(dm), _mm_cvtepi32_ps(prod), acc_min);
    }
    acc_min = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
    acc_min = _mm_add_ss(acc_min, _mm_movehdup_ps(acc_min));
    return hsum8(acc) + (five ? summs : _mm_cvtss_f32(acc_min));
}

float slm__dot_q4_k_avx2(int64_t n, const void *w, const void *x) {
    return dot_k_asym_avx2(n, w, x, false);
}
float slm__dot_q5_k_avx2(int64_t n, const void *w, const void *x) {
    return dot_k_asym_avx2(n, w, x, true);
}

float slm__dot_q6_k_avx2(int64_t n, const void *w, const void *x) {
    const slm_block_q6_k *a = w;
    const slm_block_q8_k *b = x;
    const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        __m256i sumi = _mm256_setzero_si256();
        const uint8_t *ql = a[i].ql, *qh = a[i].qh;
        const int8_t *sc = a[i].scales, *y = b[i].qs;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
                                   _mm256_slli_epi16(_mm256_and_si256(hh, two), 4));
            q[1] = _mm256_or_si256(
                _mm256_and_si256(l1, low4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), two), 4));
            q[2] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), two), 4));
            q[3] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), two), 4));
            for (int k = 0; k < 4; k++) {
                /* q in 0..63 (value + 32): the 32 comes off each pair before the scale, so
                 * every lane holds the reference's sum */
                __m256i yk = _mm256_loadu_si256((const __m256i *)(y + 32 * k));
                __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], yk),
                                             _mm256_maddubs_epi16(_mm256_set1_epi8(32), yk));
                __m256i s =
                    _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum8(acc);
}

/* Q4_0, four rows: each row its own chain in the reference order; the activation block, its
 * scale and the -8 offset (8 * its lane sums) are loaded and computed once for the four rows. */
void slm__dot4_q4_0_avx2(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    const slm_block_q8_0 *b = x;
    const uint8_t *wr = w;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256i off = dot_u8i8(_mm256_set1_epi8(8), y);
        float dy = h2f(b[i].d);
        for (int r = 0; r < 4; r++) {
            const slm_block_q4_0 *a = (const slm_block_q4_0 *)(wr + r * stride) + i;
            __m256i p = _mm256_sub_epi32(dot_u8i8(nibbles32(a->qs), y), off);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a->d) * dy), _mm256_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = hsum8(acc[r]);
}
