/* The AMX-INT8 side of quantized batches (slm__matmul_mmq): packers widening Q8_0/Q4_0/Q5_0
 * weight blocks into the tiles' layout, and the product of one group of 16 weight rows against
 * every activation row. A tile product is one 32-element block of 16 tokens x 16 weight rows
 * (TDPBSSD: exact int32 sums); its sums are then scaled and accumulated in float, block after
 * block, so an output does not depend on anything else in its tile. */
#include "tensor/internal.h"

#include <immintrin.h>

/* Palette 1: tiles 0-1 hold 16 tokens' blocks (16 rows of 32 int8), 2-3 a packed weight block
 * (8 rows of 16 dwords), 4-5 the int32 sums (16 x 16). Two of each let one block's sums be
 * scaled while the next block's product runs. A constant in memory: GCC's _tile_loadconfig tells
 * the compiler it reads only the first 8 bytes, so a configuration built on the stack may lose
 * its other stores. */
static const struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} config = {
    .palette = 1,
    .colsb = {SLM_QK, SLM_QK, 64, 64, 64, 64},
    .rows = {16, 16, SLM_QK / 4, SLM_QK / 4, 16, 16},
};
static_assert(sizeof config == 64, "ldtilecfg reads 64 bytes");

void slm__mmq_begin(void) {
    _tile_loadconfig(&config);
}
void slm__mmq_end(void) {
    _tile_release();
}

/* Rows r[0..15] of 8 dwords each, as 8 vectors of 16 dwords: out[j] holds dword j of every row.
 * Row i and row i + 8 share a vector's two halves, so one 8 x 8 transpose per half does it. */
static inline void transpose_16x8(const __m256i r[16], __m512i out[8]) {
    __m512i z[8], t[8], u[8];
    for (int i = 0; i < 8; i++)
        z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(r[i]), r[i + 8], 1);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
    }
    /* u[0..3]: dwords 0|4, 1|5, 2|6, 3|7 of rows 0-3 (and 8-11); u[4..7] the same of rows 4-7 */
    for (int h = 0; h < 8; h += 4) {
        u[h] = _mm512_unpacklo_epi64(t[h], t[h + 2]);
        u[h + 1] = _mm512_unpackhi_epi64(t[h], t[h + 2]);
        u[h + 2] = _mm512_unpacklo_epi64(t[h + 1], t[h + 3]);
        u[h + 3] = _mm512_unpackhi_epi64(t[h + 1], t[h + 3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int j = 0; j < 4; j++) {
        out[j] = _mm512_permutex2var_epi64(u[j], lo, u[j + 4]);
        out[j + 4] = _mm512_permutex2var_epi64(u[j], hi, u[j + 4]);
    }
}

/* One block of a weight row as 32 int8 values, per type. */
static inline __m256i q8_0_values(const uint8_t *blk) {
    return _mm256_loadu_si256((const __m256i *)(blk + 2));
}
/* nibbles: element j low, j + 16 high, minus 8 */
static inline __m256i q4_0_values(const uint8_t *blk) {
    const __m128i q = _mm_loadu_si128((const __m128i *)(blk + 2)), m = _mm_set1_epi8(15);
    const __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}
/* nibbles plus bit j of qh as the fifth bit of element j, minus 16 */
static inline __m256i q5_0_values(const uint8_t *blk) {
    const __m128i q = _mm_loadu_si128((const __m128i *)(blk + 6)), m = _mm_set1_epi8(15);
    uint32_t qh;
    memcpy(&qh, blk + 2, 4);
    __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
    v = _mm256_or_si256(v, _mm256_and_si256(_mm256_movm_epi8(qh), _mm256_set1_epi8(16)));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(16));
}

/* The packer of one type: t selects the block layout at compile time in each wrapper. */
static inline __attribute__((always_inline)) void pack(slm_type t, const uint8_t *w, size_t rs,
                                                       int valid, int64_t b0, int kc, void *tiles,
                                                       float *dw) {
    const size_t bs = t == SLM_TYPE_Q8_0   ? sizeof(slm_block_q8_0)
                      : t == SLM_TYPE_Q4_0 ? sizeof(slm_block_q4_0)
                                           : sizeof(slm_block_q5_0);
    __m512i *out = tiles;
    for (int b = 0; b < kc; b++) {
        __m256i r[16];
        slm_f16 d[16];
        for (int m = 0; m < 16; m++) {
            if (m >= valid) {
                r[m] = _mm256_setzero_si256();
                d[m] = 0;
                continue;
            }
            const uint8_t *blk = w + (size_t)m * rs + (size_t)(b0 + b) * bs;
            memcpy(&d[m], blk, sizeof d[m]);
            r[m] = t == SLM_TYPE_Q8_0   ? q8_0_values(blk)
                   : t == SLM_TYPE_Q4_0 ? q4_0_values(blk)
                                        : q5_0_values(blk);
        }
        transpose_16x8(r, out + b * 8);
        _mm512_store_ps(dw + b * 16, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d)));
    }
}

void slm__mmq_pack_q8_0_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc, void *tiles,
                            float *dw) {
    pack(SLM_TYPE_Q8_0, w, rs, valid, b0, kc, tiles, dw);
}
void slm__mmq_pack_q4_0_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc, void *tiles,
                            float *dw) {
    pack(SLM_TYPE_Q4_0, w, rs, valid, b0, kc, tiles, dw);
}
void slm__mmq_pack_q5_0_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc, void *tiles,
                            float *dw) {
    pack(SLM_TYPE_Q5_0, w, rs, valid, b0, kc, tiles, dw);
}

void slm__mmq_rows(const struct slm_weight *w, slm_mmq_pack_fn pack_fn, int64_t r0, int valid,
                   int64_t n, const void *scratch, float *y, void *tiles, float *dw) {
    const int64_t nb = w->cols / SLM_QK, n_pad = (n + 15) / 16 * 16;
    const size_t xs = (size_t)nb * sizeof(slm_block_q8_0);
    const uint8_t *xq = scratch;
    const float *dx =
        (const float *)((const uint8_t *)scratch + ((size_t)n_pad * xs + 63) / 64 * 64);
    uint64_t rs = 0;
    slm_type_nbytes(w->type, (uint64_t)w->cols, &rs);
    const uint8_t *wr = (const uint8_t *)w->data + (uint64_t)r0 * rs;
    const __mmask16 rows_m = (__mmask16)((1u << valid) - 1);
    /* a chunk's int32 sums for one token tile: [block][token][row] */
    int32_t sums[SLM__MMQ_KC][256] __attribute__((aligned(64)));
    const uint8_t *pk = tiles;
    /* Blocks a chunk at a time: the chunk's packed weights stay in L1 while every token tile
     * meets them; the float sums carry over in y between chunks, so each output is still one
     * chain of fused multiply-adds in block order. The tile products of a chunk run first, the
     * scaling after: kept apart, the accumulators stay in registers (the tile instructions
     * clobber memory as far as the compiler knows). */
    for (int64_t b0 = 0; b0 < nb; b0 += SLM__MMQ_KC) {
        const int kc = (int)SLM_MIN(SLM__MMQ_KC, nb - b0);
        pack_fn(wr, (size_t)rs, valid, b0, kc, tiles, dw);
        for (int64_t t0 = 0; t0 < n_pad; t0 += 16) {
            const uint8_t *a = xq + (size_t)t0 * xs + (size_t)b0 * sizeof(slm_block_q8_0) + 2;
            int b = 0;
            for (; b + 2 <= kc; b += 2) {
                _tile_loadd(0, a + (size_t)b * sizeof(slm_block_q8_0), (long)xs);
                _tile_loadd(2, pk + (size_t)b * 512, 64);
                _tile_zero(4);
                _tile_dpbssd(4, 0, 2);
                _tile_loadd(1, a + (size_t)(b + 1) * sizeof(slm_block_q8_0), (long)xs);
                _tile_loadd(3, pk + (size_t)(b + 1) * 512, 64);
                _tile_zero(5);
                _tile_dpbssd(5, 1, 3);
                _tile_stored(4, sums[b], 64);
                _tile_stored(5, sums[b + 1], 64);
            }
            if (b < kc) {
                _tile_loadd(0, a + (size_t)b * sizeof(slm_block_q8_0), (long)xs);
                _tile_loadd(2, pk + (size_t)b * 512, 64);
                _tile_zero(4);
                _tile_dpbssd(4, 0, 2);
                _tile_stored(4, sums[b], 64);
            }
            const int tn = (int)SLM_MIN(16, n - t0);
            const float *d = dx + t0 * nb + b0;
            __m512 acc[16];
            for (int i = 0; i < 16; i++)
                acc[i] = b0 > 0 && i < tn
                             ? _mm512_maskz_loadu_ps(rows_m, y + (t0 + i) * w->rows + r0)
                             : _mm512_setzero_ps();
            for (b = 0; b < kc; b++) {
                const __m512 dwb = _mm512_load_ps(dw + b * 16);
                for (int i = 0; i < 16; i++)
                    acc[i] =
                        _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[b] + i * 16)),
                                        _mm512_mul_ps(dwb, _mm512_set1_ps(d[i * nb + b])), acc[i]);
            }
            for (int i = 0; i < tn; i++)
                _mm512_mask_storeu_ps(y + (t0 + i) * w->rows + r0, rows_m, acc[i]);
        }
    }
}
