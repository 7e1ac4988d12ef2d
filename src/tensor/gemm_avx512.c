/* AVX-512 tiles of the float-activation matrix multiply (slm__matmul_f32x): 4 weight rows x 4
 * activation rows per tile, 16 accumulators in registers, so each loaded (and, for F16, widened)
 * weight vector meets four activation vectors. Only the summation order differs from the scalar
 * reference. */
#include "tensor/internal.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) __m512 load_w(bool f16, const void *w, int64_t at,
                                                           __mmask16 m) {
    if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const slm_f16 *)w + at));
    return _mm512_maskz_loadu_ps(m, (const float *)w + at);
}

/* y[c][r] = dot(w row r, x row c) for r < R, c < C; rows of k elements, w rows ws elements apart,
 * x rows xs apart, y rows ys apart. */
static inline __attribute__((always_inline)) void tile(int R, int C, bool f16, int64_t k,
                                                       const void *w, int64_t ws, const float *x,
                                                       int64_t xs, float *y, int64_t ys) {
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
        __mmask16 m = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
        __m512 wv[4], xv[4];
        for (int r = 0; r < R; r++) wv[r] = load_w(f16, w, r * ws + i, m);
        for (int c = 0; c < C; c++) xv[c] = _mm512_maskz_loadu_ps(m, x + c * xs + i);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_fmadd_ps(wv[r], xv[c], acc[r][c]);
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) y[c * ys + r] = _mm512_reduce_add_ps(acc[r][c]);
}

static inline __attribute__((always_inline)) void block(bool f16, const struct slm_weight *w,
                                                        const float *x, int64_t n, float *y,
                                                        int64_t r0, int64_t r1) {
    const int64_t k = w->cols, rows = w->rows, esz = f16 ? 2 : 4;
    const uint8_t *wd = w->data;
    for (int64_t c = 0; c < n; c += 4) {
        const float *xc = x + c * k;
        float *yc = y + c * rows;
        const bool full = n - c >= 4;
        for (int64_t r = r0; r < r1; r += 4) {
            const void *wr = wd + r * k * esz;
            if (full && r1 - r >= 4) {
                tile(4, 4, f16, k, wr, k, xc, k, yc + r, rows);
            } else {
                for (int64_t rr = r; rr < SLM_MIN(r + 4, r1); rr++)
                    for (int64_t cc = 0; cc < SLM_MIN(4, n - c); cc++)
                        tile(1, 1, f16, k, wd + rr * k * esz, k, xc + cc * k, k, yc + cc * rows + rr,
                             rows);
            }
        }
    }
}

void slm__gemm_f32x_avx512(const struct slm_weight *w, const float *x, int64_t n, float *y,
                           int64_t r0, int64_t r1) {
    if (w->type == SLM_TYPE_F16) block(true, w, x, n, y, r0, r1);
    else block(false, w, x, n, y, r0, r1);
}
