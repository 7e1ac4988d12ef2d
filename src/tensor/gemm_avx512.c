/* AVX-512 tiles of the float-activation matrix multiply (slm__matmul_f32x): 4 weight rows x 4
 * activation rows per tile, 16 accumulators in registers, so each loaded (and, for F16, BF16 and
 * Q8_0, widened) weight vector meets four activation vectors. Only the summation order differs
 * from the scalar reference. Also the plain product of attention (slm__gemm_nn), which
 * broadcasts. */
#include "tensor/internal.h"

#include <immintrin.h>

/* Elements i..i+15 of a weight row as floats (masked by m; Q8_0 rows are whole blocks and i is
 * a multiple of 16, so half a block). */
static inline __attribute__((always_inline)) __m512 load_w(slm_type t, const uint8_t *row,
                                                           int64_t i, __mmask16 m) {
    switch (t) {
    case SLM_TYPE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const slm_f16 *)row + i));
    case SLM_TYPE_BF16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const slm_bf16 *)row + i)), 16));
    case SLM_TYPE_Q8_0: {
        const slm_block_q8_0 *b = (const slm_block_q8_0 *)row + i / SLM_QK;
        __m512 q = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b->qs + i % SLM_QK))));
        return _mm512_mul_ps(q, _mm512_set1_ps(slm__f16_to_f32(b->d)));
    }
    default: return _mm512_maskz_loadu_ps(m, (const float *)row + i);
    }
}

/* The four horizontal sums of a, b, c, d as one vector. Each sum's additions are the same
 * whatever the other three hold, so a result does not depend on its neighbours in the tile (a
 * token gets the same bits in any batch). */
static inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* y[c][r] = dot(w row r, x row c) for r < R, c < C; rows of k elements, w rows ws bytes apart,
 * x rows xs floats apart, y rows ys apart. */
static inline __attribute__((always_inline)) void tile(int R, int C, slm_type t, int64_t k,
                                                       const uint8_t *w, int64_t ws, const float *x,
                                                       int64_t xs, float *y, int64_t ys) {
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
        __mmask16 m = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
        __m512 wv[4], xv[4];
        for (int r = 0; r < R; r++) wv[r] = load_w(t, w + r * ws, i, m);
        for (int c = 0; c < C; c++) xv[c] = _mm512_maskz_loadu_ps(m, x + c * xs + i);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_fmadd_ps(wv[r], xv[c], acc[r][c]);
    }
    const __m512 zero = _mm512_setzero_ps();
    for (int c = 0; c < C; c++) {
        __m128 sum = reduce4(acc[0][c], R > 1 ? acc[1][c] : zero, R > 2 ? acc[2][c] : zero,
                             R > 3 ? acc[3][c] : zero);
        if (R == 4) _mm_storeu_ps(y + c * ys, sum);
        else _mm_mask_storeu_ps(y + c * ys, (__mmask8)((1u << R) - 1), sum);
    }
}

/* y[c * ys + r] = dot(w row r, x row c) for r < nr, c < nc: full tiles, then the edges. */
static inline __attribute__((always_inline)) void block(slm_type t, int64_t k, const uint8_t *wd,
                                                        int64_t ws, int64_t nr, const float *x,
                                                        int64_t xs, int64_t nc, float *y,
                                                        int64_t ys) {
    for (int64_t c = 0; c < nc; c += 4) {
        const float *xc = x + c * xs;
        float *yc = y + c * ys;
        const bool full = nc - c >= 4;
        for (int64_t r = 0; r < nr; r += 4) {
            if (full && nr - r >= 4) {
                tile(4, 4, t, k, wd + r * ws, ws, xc, xs, yc + r, ys);
                continue;
            }
            for (int64_t rr = r; rr < SLM_MIN(r + 4, nr); rr++)
                for (int64_t cc = 0; cc < SLM_MIN(4, nc - c); cc++)
                    tile(1, 1, t, k, wd + rr * ws, ws, xc + cc * xs, xs, yc + cc * ys + rr, ys);
        }
    }
}

void slm__gemm_f32x_avx512(const struct slm_weight *w, const float *x, int64_t n, float *y,
                           int64_t r0, int64_t r1) {
    const int64_t k = w->cols;
    uint64_t ws = 0;
    SLM_ASSERT(slm_type_nbytes(w->type, (uint64_t)k, &ws));
    const uint8_t *wd = (const uint8_t *)w->data + (uint64_t)r0 * ws;
    float *yr = y + r0;
    /* one instance of the tiles per type, as its loads are inlined into them */
    switch (w->type) {
    case SLM_TYPE_F16: block(SLM_TYPE_F16, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows); break;
    case SLM_TYPE_BF16: block(SLM_TYPE_BF16, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows); break;
    case SLM_TYPE_Q8_0: block(SLM_TYPE_Q8_0, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows); break;
    default: block(SLM_TYPE_F32, k, wd, (int64_t)ws, r1 - r0, x, k, n, yr, w->rows);
    }
}

/* One R x V block of slm__gemm_nn_avx512: R rows of a against V vectors of 16 columns of b (the
 * last one masked by m), acc[r][v] summed over c in order, so no element depends on the block
 * it is computed in. */
static inline __attribute__((always_inline)) void nn_tile(int R, int V, int64_t k, float alpha,
                                                          const float *a, int64_t as,
                                                          const float *b, int64_t bs, __mmask16 m,
                                                          float *y, int64_t ys) {
    __m512 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c++) {
        __m512 bv[4];
        for (int v = 0; v < V; v++)
            bv[v] = _mm512_maskz_loadu_ps(v == V - 1 ? m : (__mmask16)0xffff, b + c * bs + v * 16);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[r * as + c]);
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    const __m512 al = _mm512_set1_ps(alpha);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            _mm512_mask_storeu_ps(y + r * ys + v * 16, v == V - 1 ? m : (__mmask16)0xffff,
                                  _mm512_mul_ps(acc[r][v], al));
}

/* Rows in blocks of R (then one at a time), columns in blocks of V vectors (then the rest). */
static inline __attribute__((always_inline)) void nn_rows(int R, int V, int64_t m, int64_t n,
                                                          int64_t k, float alpha, const float *a,
                                                          int64_t as, const float *b, int64_t bs,
                                                          float *y, int64_t ys) {
    for (int64_t j = 0; j < n; j += 16 * V) {
        const int64_t w = SLM_MIN(16 * V, n - j);
        const int nv = (int)((w + 15) / 16);
        const __mmask16 mask = w % 16 ? (__mmask16)((1u << (w % 16)) - 1) : (__mmask16)0xffff;
        int64_t i = 0;
        if (nv == V)
            for (; i + R <= m; i += R)
                nn_tile(R, V, k, alpha, a + i * as, as, b + j, bs, mask, y + i * ys + j, ys);
        for (; i < m; i++) {
            switch (nv) {
            case 1: nn_tile(1, 1, k, alpha, a + i * as, as, b + j, bs, mask, y + i * ys + j, ys); break;
            case 2: nn_tile(1, 2, k, alpha, a + i * as, as, b + j, bs, mask, y + i * ys + j, ys); break;
            case 3: nn_tile(1, 3, k, alpha, a + i * as, as, b + j, bs, mask, y + i * ys + j, ys); break;
            default: nn_tile(1, 4, k, alpha, a + i * as, as, b + j, bs, mask, y + i * ys + j, ys);
            }
        }
    }
}

void slm__gemm_nn_avx512(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                         int64_t as, const float *b, int64_t bs, float *y, int64_t ys) {
    /* 4 x 64 blocks for wide outputs (scores over keys), 8 x 32 for narrow ones (a head's
     * values): 16 accumulators either way */
    if (n > 32) nn_rows(4, 4, m, n, k, alpha, a, as, b, bs, y, ys);
    else nn_rows(8, 2, m, n, k, alpha, a, as, b, bs, y, ys);
}
