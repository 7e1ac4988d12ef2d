/* AVX2+FMA+F16C dot products (dispatch level avx2). Integer block dots are exact (maddubs/madd),
 * block scales are applied in float with FMA (legacy blocks four at a time after horizontal adds),
 * so results differ from the scalar reference only by float summation order. */
#include "tensor/internal.h"

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

static inline __m256 bf16x8(const slm_bf16 *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

float slm__dot_bf16_avx2(int64_t n, const void *w, const void *x) {
    const slm_bf16 *a = w, *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(bf16x8(a + i), bf16x8(b + i), s0);
        s1 = _mm256_fmadd_ps(bf16x8(a + i + 8), bf16x8(b + i + 8), s1);
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += slm__bf16_to_f32(a[i]) * slm__bf16_to_f32(b[i]);
    return s;
}

/* The f16 at `off` of four blocks `stride` bytes apart, as 4 floats. */
static inline __m128 halves4(const void *p, size_t stride, size_t off) {
    const uint8_t *q = (const uint8_t *)p + off;
    uint64_t v = 0;
    for (int k = 0; k < 4; k++) {
        uint16_t h;
        memcpy(&h, q + (size_t)k * stride, 2);
        v |= (uint64_t)h << (16 * k);
    }
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)v));
}
/* acc + the lane sums of four blocks' int32 vectors, each scaled by its lane of s: two rounds of
 * horizontal adds leave [p0..p3 low-half sums | p0..p3 high-half sums]. */
static inline __m256 scale4(__m256 acc, __m256i p0, __m256i p1, __m256i p2, __m256i p3, __m128 s) {
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    return _mm256_fmadd_ps(_mm256_set_m128(s, s), _mm256_cvtepi32_ps(h), acc);
}

/* Legacy blocks, four per step. Q(k) makes block k's weights as bytes, DOT the int32 lane sums
 * against the activation bytes; with HAS_MIN (Q4_1/Q5_1) the terms m_w * s_x of the f16 fields
 * MF of the weights and XF of the activations are added. */
#define LEGACY_LOOP(WT, AT, Q, DOT, HAS_MIN, MF, XF)                                               \
    const WT *a = w;                                                                               \
    const AT *b = x;                                                                               \
    int64_t nb = n / SLM_QK, i = 0;                                                                \
    __m256 acc = _mm256_setzero_ps();                                                              \
    __m128 accm = _mm_setzero_ps();                                                                \
    for (; i + 4 <= nb; i += 4) {                                                                  \
        __m256i p[4];                                                                              \
        for (int k = 0; k < 4; k++)                                                                \
            p[k] = DOT(Q(i + k), _mm256_loadu_si256((const __m256i *)b[i + k].qs));                \
        __m128 s = _mm_mul_ps(halves4(a + i, sizeof *a, offsetof(WT, d)),                          \
                              halves4(b + i, sizeof *b, offsetof(AT, d)));                         \
        acc = scale4(acc, p[0], p[1], p[2], p[3], s);                                              \
        if (HAS_MIN)                                                                               \
            accm = _mm_fmadd_ps(halves4(a + i, sizeof *a, offsetof(WT, MF)),                       \
                                halves4(b + i, sizeof *b, offsetof(AT, XF)), accm);                \
    }                                                                                              \
    float tail = 0;                                                                                \
    for (; i < nb; i++) {                                                                          \
        __m256i q = DOT(Q(i), _mm256_loadu_si256((const __m256i *)b[i].qs));                       \
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), _mm256_cvtepi32_ps(q),    \
                              acc);                                                                \
        if (HAS_MIN) tail += h2f(a[i].MF) * h2f(b[i].XF);                                          \
    }                                                                                              \
    accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));                                            \
    accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));                                                \
    return hsum8(acc) + (HAS_MIN ? _mm_cvtss_f32(accm) + tail : 0.0f)

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

static float dot_k_asym_avx2(int64_t n, const void *w, const void *x, bool five) {
    const slm_block_q8_k *b = x;
    const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
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
        /* min term: mins times the pairwise sums of the 16 bsums (per-group activation sums) */
        __m256i ys = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b[i].bsums),
                                       _mm256_set1_epi16(1));
        __m256i mins = _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8)), ys);
        acc_min = _mm256_fmadd_ps(_mm256_set1_ps(dmin * b[i].d), _mm256_cvtepi32_ps(mins), acc_min);
    }
    return hsum8(acc) - hsum8(acc_min);
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
                /* q in 0..63 (value + 32): the -32 is taken out below with the bsums */
                __m256i p =
                    _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)(y + 32 * k)));
                __m256i s =
                    _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
            }
        }
        /* stored values are q + 32: take off 32 * sum_g sc_g * sum(y_g) */
        __m256i off =
            _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales)),
                              _mm256_loadu_si256((const __m256i *)b[i].bsums));
        sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(off, 5));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * b[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum8(acc);
}

/* Q4_0, four rows: two blocks per 256-bit step, laid out [low nibbles of blocks i, i+1 | high
 * nibbles of both]. The activation halves are rearranged to match and the -8 offset (8 * their
 * sums) computed once for the four rows; block scales go four at a time. */
void slm__dot4_q4_0_avx2(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    const slm_block_q8_0 *b = x;
    const uint8_t *wr = w;
    const __m256i low4 = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i lanes01 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    const __m256i lanes23 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
    int64_t nb = n / SLM_QK, i = 0;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (; i + 4 <= nb; i += 4) {
        __m256i ylo[2], yhi[2], off[2];
        for (int k = 0; k < 2; k++) {
            const slm_block_q8_0 *b0 = &b[i + 2 * k], *b1 = b0 + 1;
            ylo[k] = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)b1->qs),
                                      _mm_loadu_si128((const __m128i *)b0->qs));
            yhi[k] = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(b1->qs + 16)),
                                      _mm_loadu_si128((const __m128i *)(b0->qs + 16)));
            off[k] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(eight, ylo[k]),
                                                        _mm256_maddubs_epi16(eight, yhi[k])),
                                       ones);
        }
        __m128 xs = halves4(b + i, sizeof *b, offsetof(slm_block_q8_0, d));
        for (int r = 0; r < 4; r++) {
            const slm_block_q4_0 *a = (const slm_block_q4_0 *)(wr + r * stride) + i;
            __m128 s4 = _mm_mul_ps(halves4(a, sizeof *a, offsetof(slm_block_q4_0, d)), xs);
            __m256 s = _mm256_castps128_ps256(s4);
            for (int k = 0; k < 2; k++) {
                __m256i q = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)a[2 * k + 1].qs),
                                             _mm_loadu_si128((const __m128i *)a[2 * k].qs));
                __m256i lo = _mm256_and_si256(q, low4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
                __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo[k]),
                                             _mm256_maddubs_epi16(hi, yhi[k]));
                p = _mm256_sub_epi32(_mm256_madd_epi16(p, ones), off[k]);
                __m256 sk = _mm256_permutevar8x32_ps(s, k ? lanes23 : lanes01);
                acc[r] = _mm256_fmadd_ps(sk, _mm256_cvtepi32_ps(p), acc[r]);
            }
        }
    }
    for (int r = 0; r < 4; r++) {
        float s = hsum8(acc[r]);
        if (i < nb)
            s += slm__dot_q4_0_avx2(n - i * SLM_QK, (const slm_block_q4_0 *)(wr + r * stride) + i,
                                    b + i);
        out[r] = s;
    }
}
