/* AVX2 tiles of the float-activation matrix multiply (slm__matmul_f32x), for CPUs without
 * AVX-512: a few weight rows x a few activation rows per tile, as many accumulators as the 16 ymm
 * registers leave room for beside the loaded (and, for F16, BF16 and Q8_0, widened) weight
 * vectors. Only the summation order differs from the scalar reference, and it is fixed by the
 * row length alone: 8 lanes summed along the row, then folded the same way for every output. */
#include "tensor/internal.h"

#include <immintrin.h>

/* Elements i..i+7 of a weight row as floats (not Q8_0, whose blocks the tile walks itself). */
static inline __attribute__((always_inline)) __m256 load_w(slm_type t, const uint8_t *row,
                                                           int64_t i) {
    switch (t) {
    case SLM_TYPE_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const slm_f16 *)row + i)));
    case SLM_TYPE_BF16:
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const slm_bf16 *)row + i))),
            16));
    default:
        return _mm256_loadu_ps((const float *)row + i);
    }
}

/* The last n < 8 elements from i of a weight row (not Q8_0, whose rows are whole blocks), the
 * lanes past them zero. */
static inline __m256 load_w_tail(slm_type t, const uint8_t *row, int64_t i, int64_t n) {
    uint16_t h[8] = {0};
    switch (t) {
    case SLM_TYPE_F16:
        memcpy(h, (const slm_f16 *)row + i, (size_t)n * sizeof *h);
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
    case SLM_TYPE_BF16:
        memcpy(h, (const slm_bf16 *)row + i, (size_t)n * sizeof *h);
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)h)), 16));
    default: {
        float f[8] = {0};
        memcpy(f, (const float *)row + i, (size_t)n * sizeof *f);
        return _mm256_loadu_ps(f);
    }
    }
}

/* The four horizontal sums of a, b, c, d as one vector. Each sum's additions are the same
 * whatever the other three hold, so a result does not depend on its neighbours in the tile (a
 * token gets the same bits in any batch). */
static inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    __m256 cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    __m256 abcd = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* y[c][r] = dot(w row r, x row c) for r < R <= 4, c < C <= 8; rows of k elements, w rows ws
 * bytes apart, x rows xs floats apart, y rows ys apart. */
static inline __attribute__((always_inline)) void tile(int R, int C, slm_type t, int64_t k,
                                                       const uint8_t *w, int64_t ws, const float *x,
                                                       int64_t xs, float *y, int64_t ys) {
    __m256 acc[4][8];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    if (t == SLM_TYPE_Q8_0) {
        /* a block's scale is widened once for its four vectors; q x d is exact in float */
        for (int64_t i = 0; i < k; i += SLM_QK) {
            const slm_block_q8_0 *b[4];
            __m256 d[4];
            for (int r = 0; r < R; r++) {
                b[r] = (const slm_block_q8_0 *)(w + r * ws) + i / SLM_QK;
                d[r] = _mm256_set1_ps(_cvtsh_ss(b[r]->d));
            }
            for (int s = 0; s < SLM_QK; s += 8) {
                __m256 wv[4];
                for (int r = 0; r < R; r++)
                    wv[r] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                              _mm_loadl_epi64((const __m128i *)(b[r]->qs + s)))),
                                          d[r]);
                for (int c = 0; c < C; c++) {
                    __m256 xv = _mm256_loadu_ps(x + c * xs + i + s);
                    for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
                }
            }
        }
    } else {
        int64_t i = 0;
        for (; i + 8 <= k; i += 8) {
            __m256 wv[4];
            for (int r = 0; r < R; r++) wv[r] = load_w(t, w + r * ws, i);
            for (int c = 0; c < C; c++) {
                __m256 xv = _mm256_loadu_ps(x + c * xs + i);
                for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
            }
        }
        if (i < k) {
            static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1};
            const __m256i m = _mm256_loadu_si256((const __m256i *)(ones + 8 - (k - i)));
            __m256 wv[4];
            for (int r = 0; r < R; r++) wv[r] = load_w_tail(t, w + r * ws, i, k - i);
            for (int c = 0; c < C; c++) {
                __m256 xv = _mm256_maskload_ps(x + c * xs + i, m);
                for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
            }
        }
    }
    const __m256 zero = _mm256_setzero_ps();
    for (int c = 0; c < C; c++) {
        __m128 sum = reduce4(acc[0][c], R > 1 ? acc[1][c] : zero, R > 2 ? acc[2][c] : zero,
                             R > 3 ? acc[3][c] : zero);
        if (R == 4) {
            _mm_storeu_ps(y + c * ys, sum);
        } else {
            float s[4];
            _mm_storeu_ps(s, sum);
            memcpy(y + c * ys, s, (size_t)R * sizeof *s);
        }
    }
}

/* The same for R rows and cw < C <= 8 columns, in tiles of 4, 2 and 1 columns: a short batch
 * (a query of a dozen tokens) would otherwise widen each weight vector once per column. */
static inline __attribute__((always_inline)) void edge(int R, int C, slm_type t, int64_t k,
                                                       const uint8_t *w, int64_t ws, const float *x,
                                                       int64_t xs, int64_t cw, float *y,
                                                       int64_t ys) {
    int64_t c = 0;
    if (C > 4 && cw - c >= 4) {
        tile(R, 4, t, k, w, ws, x + c * xs, xs, y + c * ys, ys);
        c += 4;
    }
    if (C > 2 && cw - c >= 2) {
        tile(R, 2, t, k, w, ws, x + c * xs, xs, y + c * ys, ys);
        c += 2;
    }
    if (cw - c >= 1) tile(R, 1, t, k, w, ws, x + c * xs, xs, y + c * ys, ys);
}

/* y[c * ys + r] = dot(w row r, x row c) for r < nr, c < nc: full R x C tiles, then the edges
 * (rows left over one at a time). */
static inline __attribute__((always_inline)) void block(int R, int C, slm_type t, int64_t k,
                                                        const uint8_t *wd, int64_t ws, int64_t nr,
                                                        const float *x, int64_t xs, int64_t nc,
                                                        float *y, int64_t ys) {
    for (int64_t c = 0; c < nc; c += C) {
        const float *xc = x + c * xs;
        float *yc = y + c * ys;
        const int64_t cw = SLM_MIN(C, nc - c);
        int64_t r = 0;
        for (; r + R <= nr; r += R) {
            if (cw == C)
                tile(R, C, t, k, wd + r * ws, ws, xc, xs, yc + r, ys);
            else
                edge(R, C, t, k, wd + r * ws, ws, xc, xs, cw, yc + r, ys);
        }
        for (; r < nr; r++) {
            if (cw == C)
                tile(1, C, t, k, wd + r * ws, ws, xc, xs, yc + r, ys);
            else
                edge(1, C, t, k, wd + r * ws, ws, xc, xs, cw, yc + r, ys);
        }
    }
}

void slm__gemm_f32x_avx2(const struct slm_weight *w, const float *x, int64_t n, float *y,
                         int64_t r0, int64_t r1) {
    const int64_t k = w->cols;
    uint64_t ws = 0;
    SLM_ASSERT(slm_type_nbytes(w->type, (uint64_t)k, &ws));
    const uint8_t *wd = (const uint8_t *)w->data + (uint64_t)r0 * ws;
    float *yr = y + r0;
    /* One instance of the tiles per type, as its loads are inlined into them. Shapes measured on
     * MiniLM's linears (256 tokens, one thread, an AMX Xeon held to AVX2): 3 x 4 for
     * F32, F16 and BF16 (2 x 4 and 4 x 3 were 10-40% slower); Q8_0 widens each weight vector in
     * three instructions, which 8 activation rows share in 1 x 8 (3 x 4 was 18% slower, 2 x 4
     * 10%). */
    switch (w->type) {
    case SLM_TYPE_F16:
        block(3, 4, SLM_TYPE_F16, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows);
        break;
    case SLM_TYPE_BF16:
        block(3, 4, SLM_TYPE_BF16, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows);
        break;
    case SLM_TYPE_Q8_0:
        block(1, 8, SLM_TYPE_Q8_0, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows);
        break;
    default:
        block(3, 4, SLM_TYPE_F32, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows);
    }
}
