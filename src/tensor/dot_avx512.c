/* AVX-512 dot products (dispatch level avx512: F/BW/VL/DQ + VNNI + BF16). Legacy blocks go four
 * per step as two 512-bit pairs through VNNI (vpdpbusd) with their f16 scales gathered by one word
 * permute; K-quant groups in pairs; BF16 uses vdpbf16ps; Q8_0/Q4_0 also have four-row forms for
 * matrix x vector. Integer parts are exact; only float summation order differs from the reference.
 */
#include "tensor/internal.h"

#include <immintrin.h>
#include <stddef.h>

static inline float h2f(slm_f16 h) {
    return _cvtsh_ss(h);
}

static inline __m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
static inline __m512i load2x32(const int8_t *a, const int8_t *b) {
    return join(_mm256_loadu_si256((const __m256i *)a), _mm256_loadu_si256((const __m256i *)b));
}
/* Nibbles of a legacy block as 32 bytes (elements 0..15 low, 16..31 high). */
static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
}
/* The single-block forms zero the upper half so it adds nothing. */
static inline __m512i lo_only(__m256i v) {
    return _mm512_zextsi256_si512(v);
}
/* Signed x signed bytes via VNNI (unsigned x signed): move a's sign onto b. */
static inline __m512i dot_i8i8(__m512i a, __m512i b) {
    __mmask64 neg = _mm512_movepi8_mask(a);
    __m512i sb = _mm512_mask_sub_epi8(b, neg, _mm512_setzero_si512(), b);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(a), sb);
}
/* Unsigned weights u with offset: sum (u - off) * y. */
static inline __m512i dot_off(__m512i u, __m512i y, __m512i off) {
    __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, y);
    return _mm512_sub_epi32(p, _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, y));
}

float slm__dot_f32_avx512(int64_t n, const void *w, const void *x) {
    const float *a = w, *b = x;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

float slm__dot_f16_avx512(int64_t n, const void *w, const void *x) {
    const slm_f16 *a = w, *b = x;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i))),
                             _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + i))), s0);
        s1 =
            _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i + 16))),
                            _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + i + 16))), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i)),
                             _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, b + i)), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

float slm__dot_bf16_avx512(int64_t n, const void *w, const void *x) {
    const slm_bf16 *a = w, *b = x;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_dpbf16_ps(s0, (__m512bh)_mm512_loadu_si512(a + i),
                              (__m512bh)_mm512_loadu_si512(b + i));
        s1 = _mm512_dpbf16_ps(s1, (__m512bh)_mm512_loadu_si512(a + i + 32),
                              (__m512bh)_mm512_loadu_si512(b + i + 32));
    }
    for (; i < n; i += 32) {
        __mmask32 m = n - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (n - i)) - 1);
        s0 = _mm512_dpbf16_ps(s0, (__m512bh)_mm512_maskz_loadu_epi16(m, a + i),
                              (__m512bh)_mm512_maskz_loadu_epi16(m, b + i));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* ---- block scales: the f16 fields of four consecutive blocks gathered with one word permute
 * over two 64-byte loads (the second masked to the bytes the four blocks hold) ---- */
#define REP8(v) v, v, v, v, v, v, v, v
#define REP4(v) v, v, v, v
/* Word w of blocks of s words: [blk0 x8 | blk1 x8 | blk2 x8 | blk3 x8], to meet block pairs. */
#define PAIR_IDX(s, w)                                                                             \
    { REP8(w), REP8((s) + (w)), REP8(2 * (s) + (w)), REP8(3 * (s) + (w)) }
/* The same with four lanes per block (blk k in lanes 4k..4k+3), for the four-block layout. */
#define QUAD_IDX(s, w)                                                                             \
    { REP4(w), REP4((s) + (w)), REP4(2 * (s) + (w)), REP4(3 * (s) + (w)) }
/* One lane per block (lanes 0..3), for per-block scalars like the Q4_1 min term. */
#define ONE_IDX(s, w)                                                                              \
    { w, (s) + (w), 2 * (s) + (w), 3 * (s) + (w) }

enum { D_Q4_0, D_Q4_1, M_Q4_1, D_Q5_0, D_Q5_1, M_Q5_1, D_Q8_0, D_Q8_1, S_Q8_1, N_IDX };
static const uint16_t pair_idx[N_IDX][32] = {
    [D_Q4_0] = PAIR_IDX(9, 0),  [D_Q4_1] = PAIR_IDX(10, 0), [D_Q5_0] = PAIR_IDX(11, 0),
    [D_Q5_1] = PAIR_IDX(12, 0), [D_Q8_0] = PAIR_IDX(17, 0), [D_Q8_1] = PAIR_IDX(18, 0),
};
static const uint16_t one_idx[N_IDX][32] = {
    [M_Q4_1] = ONE_IDX(10, 1),
    [M_Q5_1] = ONE_IDX(12, 1),
    [S_Q8_1] = ONE_IDX(18, 1),
};
static const uint16_t quad_idx[N_IDX][32] = {
    [D_Q4_0] = QUAD_IDX(9, 0),
    [D_Q8_0] = QUAD_IDX(17, 0),
};

static inline __mmask64 tail_mask(size_t block_bytes) {
    size_t t = 4 * block_bytes - 64; /* every block is at least 18 bytes */
    return t >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << t) - 1);
}
static inline __m512i gather_halves(const void *p, __m512i idx, __mmask64 tail, __mmask32 lanes) {
    return _mm512_maskz_permutex2var_epi16(lanes, _mm512_loadu_si512(p), idx,
                                           _mm512_maskz_loadu_epi8(tail, (const uint8_t *)p + 64));
}
/* Pair layout: [d0 x8 | d1 x8] and [d2 x8 | d3 x8] as floats. */
static inline void pair_scales(const void *p, __m512i idx, __mmask64 tail, __m512 *s01,
                               __m512 *s23) {
    __m512i v = gather_halves(p, idx, tail, ~(__mmask32)0);
    *s01 = _mm512_cvtph_ps(_mm512_castsi512_si256(v));
    *s23 = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(v, 1));
}
/* 16 floats from the low 16 gathered words (quad layout); lanes outside `lanes` are 0. */
static inline __m512 low_halves(const void *p, __m512i idx, __mmask64 tail, __mmask32 lanes) {
    return _mm512_cvtph_ps(_mm512_castsi512_si256(gather_halves(p, idx, tail, lanes)));
}
#define IDX(table, k) _mm512_loadu_si512((table)[k])

/* Nibbles of blocks i and i+1 in element order: one 128-bit load each, one shift for both. */
static inline __m512i nibbles_pair(const uint8_t *q0, const uint8_t *q1) {
    __m256i t =
        _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q0)),
                                _mm_loadu_si128((const __m128i *)q1), 1);
    __m512i u = _mm512_and_si512(join(t, _mm256_srli_epi16(t, 4)), _mm512_set1_epi8(0x0f));
    /* [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1] */
    return _mm512_shuffle_i64x2(u, u, _MM_SHUFFLE(3, 1, 2, 0));
}
/* 0x10 in byte j of block k's half where bit j of its qh is set, for blocks k and k+1. */
static inline __m512i fifth_bits_pair(const uint8_t *qh0, const uint8_t *qh1) {
    uint32_t h0, h1;
    memcpy(&h0, qh0, 4);
    memcpy(&h1, qh1, 4);
    return _mm512_maskz_mov_epi8(((__mmask64)h1 << 32) | h0, _mm512_set1_epi8(0x10));
}

float slm__dot_q8_0_avx512(int64_t n, const void *w, const void *x) {
    const slm_block_q8_0 *a = w, *b = x;
    const __m512i iq8 = IDX(pair_idx, D_Q8_0);
    const __mmask64 tq8 = tail_mask(sizeof *b);
    int64_t nb = n / SLM_QK, i = 0;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (; i + 4 <= nb; i += 4) {
        __m512 w01, w23, x01, x23;
        pair_scales(&a[i], iq8, tq8, &w01, &w23);
        pair_scales(&b[i], iq8, tq8, &x01, &x23);
        __m512 s01 = _mm512_mul_ps(w01, x01), s23 = _mm512_mul_ps(w23, x23);
        __m512i p01 = dot_i8i8(load2x32(a[i].qs, a[i + 1].qs), load2x32(b[i].qs, b[i + 1].qs));
        __m512i p23 =
            dot_i8i8(load2x32(a[i + 2].qs, a[i + 3].qs), load2x32(b[i + 2].qs, b[i + 3].qs));
        acc0 = _mm512_fmadd_ps(s01, _mm512_cvtepi32_ps(p01), acc0);
        acc1 = _mm512_fmadd_ps(s23, _mm512_cvtepi32_ps(p23), acc1);
    }
    for (; i < nb; i++) {
        __m512i p = dot_i8i8(lo_only(_mm256_loadu_si256((const __m256i *)a[i].qs)),
                             lo_only(_mm256_loadu_si256((const __m256i *)b[i].qs)));
        acc0 =
            _mm512_fmadd_ps(_mm512_set1_ps(h2f(a[i].d) * h2f(b[i].d)), _mm512_cvtepi32_ps(p), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

float slm__dot_q4_0_avx512(int64_t n, const void *w, const void *x) {
    const slm_block_q4_0 *a = w;
    const slm_block_q8_0 *b = x;
    const __m512i eight = _mm512_set1_epi8(8);
    const __m512i iq4 = IDX(pair_idx, D_Q4_0), iq8 = IDX(pair_idx, D_Q8_0);
    const __mmask64 tq4 = tail_mask(sizeof *a), tq8 = tail_mask(sizeof *b);
    int64_t nb = n / SLM_QK, i = 0;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (; i + 4 <= nb; i += 4) {
        __m512 w01, w23, x01, x23;
        pair_scales(&a[i], iq4, tq4, &w01, &w23);
        pair_scales(&b[i], iq8, tq8, &x01, &x23);
        __m512 s01 = _mm512_mul_ps(w01, x01), s23 = _mm512_mul_ps(w23, x23);
        __m512i p01 =
            dot_off(nibbles_pair(a[i].qs, a[i + 1].qs), load2x32(b[i].qs, b[i + 1].qs), eight);
        __m512i p23 = dot_off(nibbles_pair(a[i + 2].qs, a[i + 3].qs),
                              load2x32(b[i + 2].qs, b[i + 3].qs), eight);
        acc0 = _mm512_fmadd_ps(s01, _mm512_cvtepi32_ps(p01), acc0);
        acc1 = _mm512_fmadd_ps(s23, _mm512_cvtepi32_ps(p23), acc1);
    }
    for (; i < nb; i++) {
        __m512i p = dot_off(lo_only(nibbles32(a[i].qs)),
                            lo_only(_mm256_loadu_si256((const __m256i *)b[i].qs)), eight);
        acc0 =
            _mm512_fmadd_ps(_mm512_set1_ps(h2f(a[i].d) * h2f(b[i].d)), _mm512_cvtepi32_ps(p), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* Q4_1, Q5_0, Q5_1: four blocks per step as two 512-bit pairs; unsigned weights meet the
 * activations in VNNI, Q5_0's -16 offset comes off with a second VNNI on the activations, the
 * Q4_1/Q5_1 min terms m_w * s_x are gathered per block. */
enum legacy_kind { K_Q4_1, K_Q5_0, K_Q5_1 };

static inline __m512i legacy_pair(enum legacy_kind k, const void *w, int64_t i, __m512i y) {
    size_t bs = k == K_Q4_1   ? sizeof(slm_block_q4_1)
                : k == K_Q5_0 ? sizeof(slm_block_q5_0)
                              : sizeof(slm_block_q5_1);
    const uint8_t *b0 = (const uint8_t *)w + (size_t)i * bs, *b1 = b0 + bs;
    size_t qs = k == K_Q4_1   ? offsetof(slm_block_q4_1, qs)
                : k == K_Q5_0 ? offsetof(slm_block_q5_0, qs)
                              : offsetof(slm_block_q5_1, qs);
    __m512i v = nibbles_pair(b0 + qs, b1 + qs);
    if (k != K_Q4_1) {
        size_t qh = k == K_Q5_0 ? offsetof(slm_block_q5_0, qh) : offsetof(slm_block_q5_1, qh);
        v = _mm512_or_si512(v, fifth_bits_pair(b0 + qh, b1 + qh));
    }
    __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, y);
    if (k == K_Q5_0)
        p = _mm512_sub_epi32(p,
                             _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(16), y));
    return p;
}

static inline __attribute__((always_inline)) float
legacy_dot(enum legacy_kind k, int64_t n, const void *w, const void *x, slm_vec_dot_fn tail) {
    size_t wb = k == K_Q4_1   ? sizeof(slm_block_q4_1)
                : k == K_Q5_0 ? sizeof(slm_block_q5_0)
                              : sizeof(slm_block_q5_1);
    bool q8_1 = k != K_Q5_0;
    size_t xb = q8_1 ? sizeof(slm_block_q8_1) : sizeof(slm_block_q8_0);
    size_t xqs = q8_1 ? offsetof(slm_block_q8_1, qs) : offsetof(slm_block_q8_0, qs);
    const __m512i iw = IDX(pair_idx, k == K_Q4_1 ? D_Q4_1 : k == K_Q5_0 ? D_Q5_0 : D_Q5_1);
    const __m512i ix = IDX(pair_idx, q8_1 ? D_Q8_1 : D_Q8_0);
    const __m512i im = IDX(one_idx, k == K_Q4_1 ? M_Q4_1 : M_Q5_1), is = IDX(one_idx, S_Q8_1);
    const __mmask64 tw = tail_mask(wb), tx = tail_mask(xb);
    const uint8_t *wp = w, *xp = x;
    int64_t nb = n / SLM_QK, i = 0;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), accm = _mm512_setzero_ps();
    for (; i + 4 <= nb; i += 4) {
        const uint8_t *wi = wp + (size_t)i * wb, *xi = xp + (size_t)i * xb;
        __m512 w01, w23, x01, x23;
        pair_scales(wi, iw, tw, &w01, &w23);
        pair_scales(xi, ix, tx, &x01, &x23);
        __m512i y01 = load2x32((const int8_t *)(xi + xqs), (const int8_t *)(xi + xb + xqs));
        __m512i y23 =
            load2x32((const int8_t *)(xi + 2 * xb + xqs), (const int8_t *)(xi + 3 * xb + xqs));
        acc0 = _mm512_fmadd_ps(_mm512_mul_ps(w01, x01),
                               _mm512_cvtepi32_ps(legacy_pair(k, w, i, y01)), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_mul_ps(w23, x23),
                               _mm512_cvtepi32_ps(legacy_pair(k, w, i + 2, y23)), acc1);
        if (q8_1)
            accm = _mm512_fmadd_ps(low_halves(wi, im, tw, 0xf), low_halves(xi, is, tx, 0xf), accm);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), accm));
    if (i < nb) s += tail(n - i * SLM_QK, wp + (size_t)i * wb, xp + (size_t)i * xb);
    return s;
}

float slm__dot_q4_1_avx512(int64_t n, const void *w, const void *x) {
    return legacy_dot(K_Q4_1, n, w, x, slm__dot_q4_1_avx2);
}
float slm__dot_q5_0_avx512(int64_t n, const void *w, const void *x) {
    return legacy_dot(K_Q5_0, n, w, x, slm__dot_q5_0_avx2);
}
float slm__dot_q5_1_avx512(int64_t n, const void *w, const void *x) {
    return legacy_dot(K_Q5_1, n, w, x, slm__dot_q5_1_avx2);
}

/* The 8 six-bit scales and 8 mins of a Q4_K/Q5_K block as 16 int32 lanes [sc0..sc7 | m0..m7],
 * unpacked with word arithmetic (see k_scale_min in quant.c for the layout). */
static inline __m512i k_scales_mins(const uint8_t *q) {
    uint32_t w0, w1, w2;
    memcpy(&w0, q, 4);
    memcpy(&w1, q + 4, 4);
    memcpy(&w2, q + 8, 4);
    uint32_t s_lo = w0 & 0x3f3f3f3fu, m_lo = w1 & 0x3f3f3f3fu;
    uint32_t s_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
    uint32_t m_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
    return _mm512_cvtepu8_epi32(_mm_setr_epi32((int)s_lo, (int)s_hi, (int)m_lo, (int)m_hi));
}

/* Q4_K/Q5_K: each 32-byte chunk of qs holds groups 2j (low nibbles) and 2j+1 (high), whose
 * activations are the 64 contiguous bytes at 64j: one 512-bit step per pair of groups. The min
 * term sum_g m_g * sum(y_g) comes from the activation's bsums, vectorised. */
static inline float dot_k_asym_avx512(int64_t n, const void *w, const void *x, bool five) {
    const slm_block_q8_k *b = x;
    const __m512i low4 = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(1);
    const __m512i pair_idx[4] = {
        _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2),
        _mm512_set_epi32(5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4),
        _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6),
    };
    __m512 acc = _mm512_setzero_ps();
    __m256 acc_min = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        const uint8_t *scales, *qs, *qh = NULL;
        const slm_f16 *dd;
        if (five) {
            const slm_block_q5_k *a = (const slm_block_q5_k *)w + i;
            scales = a->scales, qs = a->qs, qh = a->qh, dd = &a->d;
        } else {
            const slm_block_q4_k *a = (const slm_block_q4_k *)w + i;
            scales = a->scales, qs = a->qs, dd = &a->d;
        }
        uint32_t d2;
        memcpy(&d2, dd, 4); /* d and dmin, adjacent */
        __m128 dm = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)d2)), _mm_set1_ps(b[i].d));
        __m512i sm = k_scales_mins(scales);
        __m512i hb = _mm512_setzero_si512();
        if (qh) {
            __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            hb = join(h, _mm256_srli_epi16(h, 1)); /* upper half: group 2j+1's bit at 2j */
        }
        __m512i sumi = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
            __m512i v = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), low4);
            if (qh) {
                __m512i h = _mm512_and_si512(_mm512_srli_epi16(hb, 2 * j), one);
                v = _mm512_or_si512(v, _mm512_slli_epi16(h, 4));
            }
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v,
                                            _mm512_loadu_si512(b[i].qs + 64 * j));
            sumi = _mm512_add_epi32(
                sumi, _mm512_mullo_epi32(p, _mm512_permutexvar_epi32(pair_idx[j], sm)));
        }
        acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(dm), _mm512_cvtepi32_ps(sumi), acc);
        /* pairwise sums of the 16 bsums = per-group activation sums */
        __m256i ys = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b[i].bsums),
                                       _mm256_set1_epi16(1));
        __m256i mins = _mm256_mullo_epi32(_mm512_extracti64x4_epi64(sm, 1), ys);
        acc_min = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dm)),
                                  _mm256_cvtepi32_ps(mins), acc_min);
    }
    __m256 m = acc_min;
    __m128 m4 = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_add_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_add_ss(m4, _mm_movehdup_ps(m4));
    return _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(m4);
}

float slm__dot_q4_k_avx512(int64_t n, const void *w, const void *x) {
    return dot_k_asym_avx512(n, w, x, false);
}
float slm__dot_q5_k_avx512(int64_t n, const void *w, const void *x) {
    return dot_k_asym_avx512(n, w, x, true);
}

/* Q6_K: per half, [q0|q1] and [q2|q3] each meet 64 contiguous activation bytes; the 16-element
 * group scales are widened to one int32 per 16 bytes. The stored values are q + 32: the excess
 * 32 * sum_g sc_g * sum(y_g) is taken off with one madd over the bsums. */
float slm__dot_q6_k_avx512(int64_t n, const void *w, const void *x) {
    const slm_block_q6_k *a = w;
    const slm_block_q8_k *b = x;
    const __m512i low4 = _mm512_set1_epi8(0x0f), three = _mm512_set1_epi8(3);
    const __m512i idx[4] = {
        _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
        _mm512_set_epi32(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4),
        _mm512_set_epi32(11, 11, 11, 11, 10, 10, 10, 10, 9, 9, 9, 9, 8, 8, 8, 8),
        _mm512_set_epi32(15, 15, 15, 15, 14, 14, 14, 14, 13, 13, 13, 13, 12, 12, 12, 12),
    };
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        const uint8_t *ql = a[i].ql, *qh = a[i].qh;
        const int8_t *y = b[i].qs;
        __m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
        __m512i sc32 = _mm512_cvtepi8_epi32(sc8);
        __m256i off = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8),
                                        _mm256_loadu_si256((const __m256i *)b[i].bsums));
        __m512i sumi = _mm512_zextsi256_si512(
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5)));
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, y += 128) {
            __m512i l = _mm512_loadu_si512(ql);
            __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m512i hb = join(hh, _mm256_srli_epi16(hh, 2));
            __m512i q01 = _mm512_or_si512(_mm512_and_si512(l, low4),
                                          _mm512_slli_epi16(_mm512_and_si512(hb, three), 4));
            __m512i q23 = _mm512_or_si512(
                _mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 4), three), 4));
            __m512i p01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q01, _mm512_loadu_si512(y));
            __m512i p23 =
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), q23, _mm512_loadu_si512(y + 64));
            sumi = _mm512_add_epi32(
                sumi, _mm512_mullo_epi32(p01, _mm512_permutexvar_epi32(idx[2 * h], sc32)));
            sumi = _mm512_add_epi32(
                sumi, _mm512_mullo_epi32(p23, _mm512_permutexvar_epi32(idx[2 * h + 1], sc32)));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(h2f(a[i].d) * b[i].d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* ---- four weight rows against one activation row ----
 * Matrix x vector is bound by weight bytes per cycle, so everything that depends only on the
 * activation (its loads, scales and the offset correction) is done once for four rows. */

/* Q8_0: weights made unsigned by flipping the sign bit (w + 128), the 128 * sum(y) excess is
 * subtracted by starting each row's VNNI accumulation from its negation. */
void slm__dot4_q8_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    const slm_block_q8_0 *b = x;
    const uint8_t *wr = w;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i iq8 = IDX(pair_idx, D_Q8_0);
    const __mmask64 tq8 = tail_mask(sizeof *b);
    int64_t nb = n / SLM_QK, i = 0;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    for (; i + 4 <= nb; i += 4) {
        __m512 x01, x23;
        pair_scales(&b[i], iq8, tq8, &x01, &x23);
        __m512i y01 = load2x32(b[i].qs, b[i + 1].qs), y23 = load2x32(b[i + 2].qs, b[i + 3].qs);
        __m512i z01 = _mm512_sub_epi32(_mm512_setzero_si512(),
                                       _mm512_dpbusd_epi32(_mm512_setzero_si512(), flip, y01));
        __m512i z23 = _mm512_sub_epi32(_mm512_setzero_si512(),
                                       _mm512_dpbusd_epi32(_mm512_setzero_si512(), flip, y23));
        for (int r = 0; r < 4; r++) {
            const slm_block_q8_0 *a = (const slm_block_q8_0 *)(wr + r * stride) + i;
            __m512 w01, w23;
            pair_scales(a, iq8, tq8, &w01, &w23);
            __m512i p01 =
                _mm512_dpbusd_epi32(z01, _mm512_xor_si512(load2x32(a[0].qs, a[1].qs), flip), y01);
            __m512i p23 =
                _mm512_dpbusd_epi32(z23, _mm512_xor_si512(load2x32(a[2].qs, a[3].qs), flip), y23);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(w01, x01), _mm512_cvtepi32_ps(p01), acc[r]);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(w23, x23), _mm512_cvtepi32_ps(p23), acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) {
        float s = _mm512_reduce_add_ps(acc[r]);
        if (i < nb)
            s += slm__dot_q8_0_avx512(n - i * SLM_QK, (const slm_block_q8_0 *)(wr + r * stride) + i,
                                      b + i);
        out[r] = s;
    }
}

/* Q4_0: four blocks per step as [low nibbles of blocks 0..3 | ...] against the matching 16-byte
 * halves of the activation blocks; the -8 offset again enters as the accumulator's start. */
static inline __m512i load4x16(const void *p0, const void *p1, const void *p2, const void *p3) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p0));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)p1), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)p2), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)p3), 3);
}

void slm__dot4_q4_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    const slm_block_q8_0 *b = x;
    const uint8_t *wr = w;
    const __m512i low4 = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
    const __m512i iw = IDX(quad_idx, D_Q4_0), ix = IDX(quad_idx, D_Q8_0);
    const __mmask64 tw = tail_mask(sizeof(slm_block_q4_0)), tx = tail_mask(sizeof *b);
    int64_t nb = n / SLM_QK, i = 0;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    for (; i + 4 <= nb; i += 4) {
        __m512 xs = low_halves(&b[i], ix, tx, 0xffff);
        __m512i ylo = load4x16(b[i].qs, b[i + 1].qs, b[i + 2].qs, b[i + 3].qs);
        __m512i yhi = load4x16(b[i].qs + 16, b[i + 1].qs + 16, b[i + 2].qs + 16, b[i + 3].qs + 16);
        __m512i z = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, ylo);
        z = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(z, eight, yhi));
        for (int r = 0; r < 4; r++) {
            const slm_block_q4_0 *a = (const slm_block_q4_0 *)(wr + r * stride) + i;
            __m512 ws = low_halves(a, iw, tw, 0xffff);
            __m512i q = load4x16(a[0].qs, a[1].qs, a[2].qs, a[3].qs);
            __m512i p = _mm512_dpbusd_epi32(z, _mm512_and_si512(q, low4), ylo);
            p = _mm512_dpbusd_epi32(p, _mm512_and_si512(_mm512_srli_epi16(q, 4), low4), yhi);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(ws, xs), _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) {
        float s = _mm512_reduce_add_ps(acc[r]);
        if (i < nb)
            s += slm__dot_q4_0_avx512(n - i * SLM_QK, (const slm_block_q4_0 *)(wr + r * stride) + i,
                                      b + i);
        out[r] = s;
    }
}

/* F16: the activation's conversion to float is shared by the four rows. */
void slm__dot4_f16_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    const slm_f16 *b = x;
    const uint8_t *wr = w;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 xv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, b + i));
        for (int r = 0; r < 4; r++) {
            const slm_f16 *a = (const slm_f16 *)(wr + r * stride);
            acc[r] =
                _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i)), xv, acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}
