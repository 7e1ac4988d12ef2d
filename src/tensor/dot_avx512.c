/* AVX-512 dot products (dispatch level avx512: F/BW/VL/DQ + VNNI + BF16). BF16 uses vdpbf16ps in
 * the reference's order; K-quant groups go in pairs through VNNI (vpdpbusd) into the reference's
 * 8 lanes; Q8_0/Q4_0 have four-row forms for matrix x vector that keep the reference order of
 * each row (Q5_0 too). The single-row legacy dots are the AVX2 ones: the reference order is an 8-lane chain
 * per row. Integer parts are exact. */
#include "tensor/internal.h"

#include <immintrin.h>
#include <math.h>
#include <stddef.h>

static inline float h2f(slm_f16 h) {
    return _cvtsh_ss(h);
}

static inline __m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
/* Nibbles of a legacy block as 32 bytes (elements 0..15 low, 16..31 high). */
static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
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

/* BF16: llama.cpp's own kernels on this ISA (see dot.c): the matrix x vector form with two
 * accumulators, the batch form with one. */
float slm__dot_bf16_avx512(int64_t n, const void *w, const void *x) {
    const slm_bf16 *a = w, *b = x;
    __m512 c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        c1 = _mm512_dpbf16_ps(c1, (__m512bh)_mm512_loadu_si512(a + i),
                              (__m512bh)_mm512_loadu_si512(b + i));
        c2 = _mm512_dpbf16_ps(c2, (__m512bh)_mm512_loadu_si512(a + i + 32),
                              (__m512bh)_mm512_loadu_si512(b + i + 32));
    }
    double s = (double)_mm512_reduce_add_ps(c1);
    s += (double)_mm512_reduce_add_ps(c2);
    for (; i < n; i++) s += (double)(slm__bf16_to_f32(a[i]) * slm__bf16_to_f32(b[i]));
    return (float)s;
}

float slm__dot_bf16_batch_avx512(int64_t n, const void *w, const void *x) {
    if (n % 32 != 0) return slm__dot_bf16_avx512(n, w, x);
    const slm_bf16 *a = w, *b = x;
    __m512 c = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 32)
        c = _mm512_dpbf16_ps(c, (__m512bh)_mm512_loadu_si512(a + i),
                             (__m512bh)_mm512_loadu_si512(b + i));
    return _mm512_reduce_add_ps(c);
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

/* The reference's 8 lanes from 16 whose halves hold two groups' quads: integer adds, exact. */
static inline __m256 fold_lanes(__m512i sumi) {
    return _mm256_cvtepi32_ps(
        _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1)));
}
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Q4_K/Q5_K in the reference order of dot.c: each 32-byte chunk of qs holds groups 2j (low
 * nibbles) and 2j+1 (high), whose activations are the 64 contiguous bytes at 64j: one 512-bit
 * step per pair of groups, lanes 0-7 for one group and 8-15 for the other, folded into the
 * reference's 8 lanes. The min terms come from the activation's bsums as there. */
static inline float dot_k_asym_avx512(int64_t n, const void *w, const void *x, bool five) {
    const slm_block_q8_k *b = x;
    const __m512i low4 = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(1);
    const __m512i pair_idx[4] = {
        _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2),
        _mm512_set_epi32(5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4),
        _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6),
    };
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    float summs = 0;
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
        __m128 dm = _mm_set_ss(b[i].d * _cvtsh_ss(dd[0]));
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
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dm), fold_lanes(sumi), acc);
        __m128i gs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)b[i].bsums),
                                    _mm_loadu_si128((const __m128i *)(b[i].bsums + 8)));
        __m128i prod =
            _mm_madd_epi16(_mm256_cvtepi32_epi16(_mm512_extracti64x4_epi64(sm, 1)), gs);
        const float dmin = -b[i].d * _cvtsh_ss(dd[1]);
        if (five) {
            __m128i t = _mm_add_epi32(prod, _mm_unpackhi_epi64(prod, prod));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
            summs = fmaf(dmin, (float)_mm_cvtsi128_si32(t), summs);
        } else {
            acc_min = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_min);
        }
    }
    acc_min = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
    acc_min = _mm_add_ss(acc_min, _mm_movehdup_ps(acc_min));
    return hsum8(acc) + (five ? summs : _mm_cvtss_f32(acc_min));
}

float slm__dot_q4_k_avx512(int64_t n, const void *w, const void *x) {
    return dot_k_asym_avx512(n, w, x, false);
}
float slm__dot_q5_k_avx512(int64_t n, const void *w, const void *x) {
    return dot_k_asym_avx512(n, w, x, true);
}

/* Q6_K in the reference order of dot.c: per half, [q0|q1] and [q2|q3] each meet 64 contiguous
 * activation bytes; the 16-element group scales are widened to one int32 per 16 bytes. The stored
 * values are q + 32: 32 * (lane sums of y) comes off each lane before its scale. */
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
    const __m512i s32 = _mm512_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        const uint8_t *ql = a[i].ql, *qh = a[i].qh;
        const int8_t *y = b[i].qs;
        __m512i sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)a[i].scales));
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, y += 128) {
            __m512i l = _mm512_loadu_si512(ql);
            __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m512i hb = join(hh, _mm256_srli_epi16(hh, 2));
            __m512i q01 = _mm512_or_si512(_mm512_and_si512(l, low4),
                                          _mm512_slli_epi16(_mm512_and_si512(hb, three), 4));
            __m512i q23 = _mm512_or_si512(
                _mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 4), three), 4));
            __m512i y01 = _mm512_loadu_si512(y), y23 = _mm512_loadu_si512(y + 64);
            __m512i p01 = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q01, y01),
                                           _mm512_dpbusd_epi32(_mm512_setzero_si512(), s32, y01));
            __m512i p23 = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q23, y23),
                                           _mm512_dpbusd_epi32(_mm512_setzero_si512(), s32, y23));
            sumi = _mm512_add_epi32(
                sumi, _mm512_mullo_epi32(p01, _mm512_permutexvar_epi32(idx[2 * h], sc32)));
            sumi = _mm512_add_epi32(
                sumi, _mm512_mullo_epi32(p23, _mm512_permutexvar_epi32(idx[2 * h + 1], sc32)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].d)), fold_lanes(sumi), acc);
    }
    return hsum8(acc);
}

/* ---- four weight rows against two activation rows (the batched forms) ----
 * Everything that depends only on an activation (its loads, scales and the offset correction) is
 * done once for four rows, the weights' unpacking once for both activations. The legacy
 * types keep each row's chain in the reference order (dot.c): one 8-lane FMA per block and row.
 * The integer work goes two blocks per 512-bit step ([block i | block i+1]); the scale products
 * of 16 blocks at a time come from gathers, so a step's FMAs broadcast them from memory. */

#define SCALE_RUN 16 /* blocks whose scale products one gather serves */

/* The f16 at the start of each of m <= 16 blocks `bytes` apart, as floats (0 past m). */
static inline __m512 block_scales(const void *p, size_t bytes, int m) {
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)bytes));
    __mmask16 k = (__mmask16)((1u << m) - 1);
    __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, idx, p, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* acc += s[0] * lanes 0-7 of p, then s[1] * lanes 8-15 (blocks i and i+1 of one row). */
static inline __m256 fma_pair(__m256 acc, const float *s, __m512i p) {
    __m512 f = _mm512_cvtepi32_ps(p);
    acc = _mm256_fmadd_ps(_mm256_broadcast_ss(s), _mm512_castps512_ps256(f), acc);
    return _mm256_fmadd_ps(_mm256_broadcast_ss(s + 1), _mm512_extractf32x8_ps(f, 1), acc);
}
static inline __m256 fma_one(__m256 acc, float s, __m512i p) {
    return _mm256_fmadd_ps(_mm256_set1_ps(s), _mm512_castps512_ps256(_mm512_cvtepi32_ps(p)), acc);
}

/* Nibbles of two consecutive blocks in element order, [lo_i hi_i | lo_i+1 hi_i+1], from one masked
 * load of the pair (bs bytes per block, qs at byte offset off, both even): a word permute places
 * each block's 16 bytes twice, the second copy shifted down a nibble. */
static inline __m512i nibbles_pair_at(const void *blk, int bs, int off) {
    static const uint16_t twice[32] = {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7,
                                       0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7};
    const __m512i idx =
        _mm512_add_epi16(_mm512_loadu_si512(twice), _mm512_set1_epi16((short)(off / 2)));
    const __m512i step = _mm512_mask_set1_epi16(_mm512_setzero_si512(), 0xffff0000u,
                                                (short)(bs / 2));
    __m512i v = _mm512_maskz_loadu_epi8(((__mmask64)1 << (bs + off + 16)) - 1, blk);
    v = _mm512_permutexvar_epi16(_mm512_add_epi16(idx, step), v);
    v = _mm512_mask_srli_epi16(v, 0xff00ff00u, v, 4);
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
}


/* The loop shared by the four-row kernels, over NC activation columns xstride bytes apart (the
 * rows' unpacked weights and scales serve every column): WQ(r, i) gives row r's weights of blocks
 * i, i+1 as unsigned bytes and OFF the per-step offset correction of the column's y (its negation
 * starts each row's VNNI sums), WQ1/OFF1 the same for one block. Column c's four results go to
 * out[c]. */
#define DOT4_LOOP(NC, WT, WQ, OFF, WQ1, OFF1)                                                      \
    const slm_block_q8_0 *col[NC];                                                                 \
    for (int c = 0; c < NC; c++)                                                                   \
        col[c] = (const slm_block_q8_0 *)((const uint8_t *)x + (size_t)c * xstride);               \
    const WT *row[4];                                                                              \
    for (int r = 0; r < 4; r++) row[r] = (const WT *)((const uint8_t *)w + r * stride);            \
    const int64_t nb = n / SLM_QK;                                                                 \
    __m256 acc[NC][4];                                                                             \
    for (int c = 0; c < NC; c++)                                                                   \
        for (int r = 0; r < 4; r++) acc[c][r] = _mm256_setzero_ps();                               \
    float sc[NC][4][SCALE_RUN];                                                                    \
    for (int64_t i0 = 0; i0 < nb; i0 += SCALE_RUN) {                                               \
        const int m = (int)SLM_MIN(SCALE_RUN, nb - i0);                                           \
        for (int r = 0; r < 4; r++) {                                                              \
            __m512 dw = block_scales(&row[r][i0].d, sizeof(WT), m);                                \
            for (int c = 0; c < NC; c++)                                                           \
                _mm512_storeu_ps(sc[c][r],                                                         \
                                 _mm512_mul_ps(dw, block_scales(&col[c][i0].d,                     \
                                                                sizeof(slm_block_q8_0), m)));      \
        }                                                                                          \
        int k = 0;                                                                                 \
        for (; k + 2 <= m; k += 2) {                                                               \
            const int64_t i = i0 + k;                                                              \
            __m512i yv[NC], neg[NC];                                                               \
            for (int c = 0; c < NC; c++) {                                                         \
                __m512i y = join(_mm256_loadu_si256((const __m256i *)col[c][i].qs),                \
                                 _mm256_loadu_si256((const __m256i *)col[c][i + 1].qs));           \
                yv[c] = y;                                                                         \
                neg[c] = _mm512_sub_epi32(_mm512_setzero_si512(), OFF);                            \
            }                                                                                      \
            for (int r = 0; r < 4; r++) {                                                          \
                __m512i q = WQ;                                                                    \
                for (int c = 0; c < NC; c++)                                                       \
                    acc[c][r] = fma_pair(acc[c][r], &sc[c][r][k],                                  \
                                         _mm512_dpbusd_epi32(neg[c], q, yv[c]));                   \
            }                                                                                      \
        }                                                                                          \
        if (k < m) {                                                                               \
            const int64_t i = i0 + k;                                                              \
            __m512i yv[NC], neg[NC];                                                               \
            for (int c = 0; c < NC; c++) {                                                         \
                __m512i y =                                                                        \
                    _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)col[c][i].qs));     \
                yv[c] = y;                                                                         \
                neg[c] = _mm512_sub_epi32(_mm512_setzero_si512(), OFF1);                           \
            }                                                                                      \
            for (int r = 0; r < 4; r++) {                                                          \
                __m512i q = WQ1;                                                                   \
                for (int c = 0; c < NC; c++)                                                       \
                    acc[c][r] = fma_one(acc[c][r], sc[c][r][k],                                    \
                                        _mm512_dpbusd_epi32(neg[c], q, yv[c]));                    \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    for (int c = 0; c < NC; c++)                                                                   \
        for (int r = 0; r < 4; r++) out[c][r] = hsum8(acc[c][r])

/* Q8_0: weights made unsigned by flipping the sign bit (w + 128), the 128 * (lane sums of y)
 * excess subtracted. */
#define Q8_PAIR(r, i)                                                                              \
    _mm512_xor_si512(join(_mm256_loadu_si256((const __m256i *)row[r][i].qs),                      \
                          _mm256_loadu_si256((const __m256i *)row[r][(i) + 1].qs)),               \
                     _mm512_set1_epi8((char)0x80))
#define Q8_ONE(r, i)                                                                               \
    _mm512_xor_si512(_mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)row[r][i].qs)),   \
                     _mm512_set1_epi8((char)0x80))
#define Q8_OFF _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)0x80), y)
void slm__dot4x2_q8_0_avx512(int64_t n, const void *w, size_t stride, const void *x,
                             size_t xstride, float *out0, float *out1) {
    float *out[2] = {out0, out1};
    DOT4_LOOP(2, slm_block_q8_0, Q8_PAIR(r, i), Q8_OFF, Q8_ONE(r, i), Q8_OFF);
}

/* Q4_0: unsigned nibbles against the activation, the -8 offset (8 * lane sums of y) subtracted. */
#define Q4_PAIR(r, i)                                                                              \
    nibbles_pair_at(&row[r][i], sizeof(slm_block_q4_0), offsetof(slm_block_q4_0, qs))
#define Q4_ONE(r, i)  _mm512_zextsi256_si512(nibbles32(row[r][i].qs))
#define OFF_BY(v)     _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(v), y)
void slm__dot4x2_q4_0_avx512(int64_t n, const void *w, size_t stride, const void *x,
                             size_t xstride, float *out0, float *out1) {
    float *out[2] = {out0, out1};
    DOT4_LOOP(2, slm_block_q4_0, Q4_PAIR(r, i), OFF_BY(8), Q4_ONE(r, i), OFF_BY(8));
}

/* ---- four weight rows against one activation vector (matrix x vector) ----
 * Two rows share each register: lanes 0-7 hold one row's 8 reference lanes, lanes 8-15 the next
 * row's, so one 512-bit FMA per block advances two rows' chains exactly as two 8-lane FMAs would,
 * and no lanes need moving between blocks. The activation block is loaded once into both halves
 * and its offset correction computed once for the four rows. Scale products come 8 blocks at a
 * time from gathers; each block's pair of scales is spread to its halves by a permute.
 * Lanes 4-7 of a row (its elements 16-31) may carry their integer sums times 16 (Q4_0 masks the
 * high nibbles in place rather than shifting them) and then take the scale over 16: the products
 * are the same real numbers (powers of two, and |16 x sum| < 2^24 converts exactly), so every
 * FMA rounds as the reference's does. */

#define VEC_RUN 8 /* blocks per gather of scales */

/* The f16 scales of m <= 8 blocks `bs` bytes apart as floats: lanes 0-7 from p, 8-15 from p +
 * second (0 past m). */
static inline __m512 run_scales(const void *p, size_t bs, size_t second, int m) {
    const __m512i idx = _mm512_add_epi32(
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7),
                           _mm512_set1_epi32((int)bs)),
        _mm512_mask_set1_epi32(_mm512_setzero_si512(), 0xff00, (int)second));
    __mmask16 k = (__mmask16)(((1u << m) - 1) * 0x0101u);
    __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, idx, p, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* WQ(a, b) gives the unsigned weights of one block of two rows (a's in bytes 0-31, b's in 32-63),
 * OFF the offset correction of the activation y that the signed weights need and HIGH(s) the
 * scales of lanes 4-7 of each row from those of lanes 0-3. */
#define DOT4_VEC_LOOP(WT, WQ, OFF, HIGH)                                                           \
    /* block k's scales: lanes 0-3 and 8-11 from sc, 4-7 and 12-15 from HIGH(sc) */                \
    static const int32_t pick[VEC_RUN][16] = {                                                     \
        {0, 0, 0, 0, 16, 16, 16, 16, 8, 8, 8, 8, 24, 24, 24, 24},                                  \
        {1, 1, 1, 1, 17, 17, 17, 17, 9, 9, 9, 9, 25, 25, 25, 25},                                  \
        {2, 2, 2, 2, 18, 18, 18, 18, 10, 10, 10, 10, 26, 26, 26, 26},                              \
        {3, 3, 3, 3, 19, 19, 19, 19, 11, 11, 11, 11, 27, 27, 27, 27},                              \
        {4, 4, 4, 4, 20, 20, 20, 20, 12, 12, 12, 12, 28, 28, 28, 28},                              \
        {5, 5, 5, 5, 21, 21, 21, 21, 13, 13, 13, 13, 29, 29, 29, 29},                              \
        {6, 6, 6, 6, 22, 22, 22, 22, 14, 14, 14, 14, 30, 30, 30, 30},                              \
        {7, 7, 7, 7, 23, 23, 23, 23, 15, 15, 15, 15, 31, 31, 31, 31},                              \
    };                                                                                             \
    const slm_block_q8_0 *col = x;                                                                 \
    const WT *row[4];                                                                              \
    for (int r = 0; r < 4; r++) row[r] = (const WT *)((const uint8_t *)w + r * stride);            \
    const int64_t nb = n / SLM_QK;                                                                 \
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};                                    \
    for (int64_t i0 = 0; i0 < nb; i0 += VEC_RUN) {                                                 \
        const int m = (int)SLM_MIN(VEC_RUN, nb - i0);                                              \
        const __m512 dx = run_scales(&col[i0].d, sizeof(slm_block_q8_0), 0, m);                    \
        __m512 sc[2], hi[2];                                                                       \
        for (int p = 0; p < 2; p++) {                                                              \
            sc[p] = _mm512_mul_ps(run_scales(&row[2 * p][i0].d, sizeof(WT), stride, m), dx);       \
            hi[p] = HIGH(sc[p]);                                                                   \
        }                                                                                          \
        for (int k = 0; k < m; k++) {                                                              \
            const int64_t i = i0 + k;                                                              \
            const __m512i y =                                                                      \
                _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)col[i].qs));            \
            const __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(), OFF);                     \
            const __m512i sel = _mm512_loadu_si512(pick[k]);                                       \
            for (int p = 0; p < 2; p++) {                                                          \
                __m512i q = WQ(&row[2 * p][i], &row[2 * p + 1][i]);                                \
                acc[p] =                                                                           \
                    _mm512_fmadd_ps(_mm512_permutex2var_ps(sc[p], sel, hi[p]),                     \
                                    _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(neg, q, y)), acc[p]);   \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    for (int p = 0; p < 2; p++) {                                                                  \
        out[2 * p] = hsum8(_mm512_castps512_ps256(acc[p]));                                        \
        out[2 * p + 1] = hsum8(_mm512_extractf32x8_ps(acc[p], 1));                                 \
    }

/* Q8_0: weights made unsigned by flipping the sign bit (w + 128). */
static inline __m512i q8_two_rows(const slm_block_q8_0 *a, const slm_block_q8_0 *b) {
    return _mm512_xor_si512(join(_mm256_loadu_si256((const __m256i *)a->qs),
                                 _mm256_loadu_si256((const __m256i *)b->qs)),
                            _mm512_set1_epi8((char)0x80));
}
/* Q4_0: each row's 16 bytes in two 128-bit lanes, the low nibbles kept in the first and the high
 * ones in place (16 x the nibble) in the second. */
#define NIBBLE_LANES(lo, hi) _mm512_set_epi64(hi, hi, lo, lo, hi, hi, lo, lo)
static inline __m512i q4_two_rows(const slm_block_q4_0 *a, const slm_block_q4_0 *b) {
    __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->qs));
    v = _mm512_mask_broadcast_i32x4(v, 0xff00, _mm_loadu_si128((const __m128i *)b->qs));
    return _mm512_and_si512(v, NIBBLE_LANES(0x0f0f0f0f0f0f0f0f, (long long)0xf0f0f0f0f0f0f0f0u));
}
/* 8 and 16 x 8 times the lane sums of y */
#define Q4_VEC_OFF                                                                                 \
    _mm512_dpbusd_epi32(_mm512_setzero_si512(),                                                    \
                        NIBBLE_LANES(0x0808080808080808, (long long)0x8080808080808080u), y)
#define SAME(s)      (s)
#define SIXTEENTH(s) _mm512_mul_ps(s, _mm512_set1_ps(1.0f / 16))
void slm__dot4_q8_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    DOT4_VEC_LOOP(slm_block_q8_0, q8_two_rows, OFF_BY((char)0x80), SAME);
}
void slm__dot4_q4_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    DOT4_VEC_LOOP(slm_block_q4_0, q4_two_rows, Q4_VEC_OFF, SIXTEENTH);
}

/* Q5_0: nibbles with their fifth bits (0..31), the -16 offset (16 * lane sums of y) subtracted.
 * Block dots of K-quant files whose rows misfit 256 fall back to this type. */
static inline __m512i fifth_bits_pair(const uint8_t *qh0, const uint8_t *qh1) {
    uint32_t h0, h1;
    memcpy(&h0, qh0, 4);
    memcpy(&h1, qh1, 4);
    return _mm512_maskz_mov_epi8(((__mmask64)h1 << 32) | h0, _mm512_set1_epi8(0x10));
}
#define Q5_PAIR(r, i)                                                                              \
    _mm512_or_si512(                                                                               \
        nibbles_pair_at(&row[r][i], sizeof(slm_block_q5_0), offsetof(slm_block_q5_0, qs)),        \
                    fifth_bits_pair(row[r][i].qh, row[r][(i) + 1].qh))
#define Q5_ONE(r, i)                                                                               \
    _mm512_or_si512(_mm512_zextsi256_si512(nibbles32(row[r][i].qs)),                              \
                    fifth_bits_pair(row[r][i].qh, zero4))
/* Matrix x vector: each row's 16 bytes in two 128-bit lanes, the second shifted down a nibble (the
 * fifth bits do not fit on top of 16 x the nibble), with their fifth bits. */
static inline __m512i q5_two_rows(const slm_block_q5_0 *a, const slm_block_q5_0 *b) {
    __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->qs));
    v = _mm512_mask_broadcast_i32x4(v, 0xff00, _mm_loadu_si128((const __m128i *)b->qs));
    v = _mm512_and_si512(_mm512_mask_srli_epi16(v, 0xff00ff00u, v, 4), _mm512_set1_epi8(0x0f));
    return _mm512_or_si512(v, fifth_bits_pair(a->qh, b->qh));
}
void slm__dot4_q5_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out) {
    DOT4_VEC_LOOP(slm_block_q5_0, q5_two_rows, OFF_BY(16), SAME);
}
void slm__dot4x2_q5_0_avx512(int64_t n, const void *w, size_t stride, const void *x,
                             size_t xstride, float *out0, float *out1) {
    static const uint8_t zero4[4] = {0};
    float *out[2] = {out0, out1};
    DOT4_LOOP(2, slm_block_q5_0, Q5_PAIR(r, i), OFF_BY(16), Q5_ONE(r, i), OFF_BY(16));
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
