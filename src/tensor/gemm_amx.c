/* AMX-BF16 tiles of the packed matrix multiply (slm__matmul_amx): activations rounded to BF16 in
 * a packed copy, and per task a pair of 16-token tiles against pairs of 16-row weight tiles, four
 * TDPBF16PS accumulators of 16 x 16 floats. Each output element is one row of A against one
 * column of B in a fixed order along k, so it has the same bits whatever else shares its tiles
 * (a token gets the same result alone or in a batch). */
#include "tensor/internal.h"

#include <immintrin.h>

/* Palette 1 with all eight tiles at 16 rows of 64 bytes: 0-3 accumulate, 4-5 hold activations,
 * 6-7 weights. */
struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};
static_assert(sizeof(struct tile_config) == 64, "ldtilecfg reads 64 bytes");

void slm__amx_pack_act_avx512(const float *x, int64_t n, int64_t cols, int64_t xs, float scale,
                              slm_bf16 *xa, int64_t r0, int64_t r1) {
    const int64_t cols_p = SLM_AMX_COLS(cols);
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t r = r0; r < r1; r++) {
        slm_bf16 *dst = xa + r * cols_p;
        if (r >= n) {
            memset(dst, 0, (size_t)cols_p * sizeof *dst);
            continue;
        }
        const float *src = x + r * xs;
        for (int64_t i = 0; i < cols_p; i += 16) {
            __mmask16 m = cols - i >= 16 ? (__mmask16)0xffff
                          : cols > i     ? (__mmask16)((1u << (cols - i)) - 1)
                                         : 0;
            __m256bh h = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, src + i), sc));
            _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)h);
        }
    }
}

/* 32 floats as 16 dwords of BF16 pairs (element 2j in the low half of dword j). */
static inline __m512i pairs32(__m512 lo, __m512 hi) {
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

void slm__amx_pack_rows_avx512(const float *src, int64_t rows, int64_t cols, int64_t rs,
                               void *out, struct slm_amx_weight *pw) {
    const int64_t cols_p = SLM_AMX_COLS(cols), kb_n = cols_p / 32;
    memset(out, 0, slm__amx_weight_bytes(rows, cols));
    int32_t *d = out;
    /* dword j of a row's k block goes to tile row j, column r % 16 */
    const __m512i at = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(16));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t kb = 0; kb < kb_n; kb++) {
            const int64_t k = kb * 32;
            const __mmask16 m0 = cols - k >= 16 ? (__mmask16)0xffff
                                 : (__mmask16)((1u << (cols - k)) - 1);
            const __mmask16 m1 = cols - k >= 32 ? (__mmask16)0xffff
                                 : cols - k > 16 ? (__mmask16)((1u << (cols - k - 16)) - 1)
                                                 : 0;
            __m512i p = pairs32(_mm512_maskz_loadu_ps(m0, src + r * rs + k),
                                _mm512_maskz_loadu_ps(m1, src + r * rs + k + 16));
            _mm512_i32scatter_epi32(d + (r / 16 * kb_n + kb) * 256 + r % 16, at, p, 4);
        }
    }
    *pw = (struct slm_amx_weight){.rows = rows, .cols = cols, .cols_p = cols_p, .data = out};
}

void slm__amx_pack_cols_avx512(const float *src, int64_t rows, int64_t cols, int64_t cs,
                               void *out, struct slm_amx_weight *pw) {
    const int64_t cols_p = SLM_AMX_COLS(cols), kb_n = cols_p / 32;
    /* [a0..a15 b0..b15] to [a0 b0 a1 b1 ...] */
    const __m512i zip = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    __m512i *d = out;
    for (int64_t ob = 0; ob < SLM_AMX_ROWS(rows) / 16; ob++) {
        const int64_t r = ob * 16;
        const __mmask16 m = rows - r >= 16 ? (__mmask16)0xffff
                            : rows > r     ? (__mmask16)((1u << (rows - r)) - 1)
                                           : 0;
        for (int64_t k = 0; k < cols_p; k += 2) {
            __m512 a = k < cols ? _mm512_maskz_loadu_ps(m, src + k * cs + r) : _mm512_setzero_ps();
            __m512 b = k + 1 < cols ? _mm512_maskz_loadu_ps(m, src + (k + 1) * cs + r)
                                    : _mm512_setzero_ps();
            /* tile (ob, k / 32), row k % 32 / 2 */
            _mm512_store_si512(d + (ob * kb_n + k / 32) * 16 + k % 32 / 2,
                               _mm512_permutexvar_epi16(zip, pairs32(a, b)));
        }
    }
    *pw = (struct slm_amx_weight){.rows = rows, .cols = cols, .cols_p = cols_p, .data = out};
}

/* Sums of one 16 x 16 tile plus bias into y, for the tokens below n and the rows below rows. */
static void store_tile(const float *sums, int64_t t0, int64_t o0, int64_t n, int64_t rows,
                       const float *bias, float *y, int64_t ys) {
    if (o0 >= rows) return;
    const __mmask16 m = rows - o0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (rows - o0)) - 1);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + o0) : _mm512_setzero_ps();
    for (int64_t t = 0; t < 16 && t0 + t < n; t++)
        _mm512_mask_storeu_ps(y + (t0 + t) * ys + o0, m,
                              _mm512_add_ps(_mm512_loadu_ps(sums + t * 16), b));
}

void slm__amx_tiles(const struct slm_amx_weight *w, const slm_bf16 *xa, int64_t n, int64_t t0,
                    int64_t o0, int64_t o1, const float *bias, float *y, int64_t ys) {
    const int64_t kb_n = w->cols_p / 32, stride = w->cols_p * (int64_t)sizeof(slm_bf16);
    const slm_bf16 *a0 = xa + t0 * w->cols_p, *a1 = a0 + 16 * w->cols_p;
    float sums[4][256] __attribute__((aligned(64)));
    for (int64_t o = o0; o < o1; o += 32) {
        const slm_bf16 *b0 = w->data + o / 16 * kb_n * 512, *b1 = b0 + kb_n * 512;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t kb = 0; kb < kb_n; kb++) {
            _tile_loadd(4, a0 + kb * 32, stride);
            _tile_loadd(5, a1 + kb * 32, stride);
            _tile_loadd(6, b0 + kb * 512, 64);
            _tile_loadd(7, b1 + kb * 512, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        _tile_stored(0, sums[0], 64);
        _tile_stored(1, sums[1], 64);
        _tile_stored(2, sums[2], 64);
        _tile_stored(3, sums[3], 64);
        store_tile(sums[0], t0, o, n, w->rows, bias, y, ys);
        store_tile(sums[1], t0, o + 16, n, w->rows, bias, y, ys);
        store_tile(sums[2], t0 + 16, o, n, w->rows, bias, y, ys);
        store_tile(sums[3], t0 + 16, o + 16, n, w->rows, bias, y, ys);
    }
}

/* A constant in memory: GCC's _tile_loadconfig tells the compiler it reads only the first 8
 * bytes, so a configuration built on the stack may lose its other stores. */
static const struct tile_config config = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

void slm__amx_begin(void) { _tile_loadconfig(&config); }

void slm__amx_end(void) { _tile_release(); }
