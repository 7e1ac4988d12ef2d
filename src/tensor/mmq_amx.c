/* The AMX-INT8 side of quantized batches (slm__matmul_mmq): packers widening Q8_0/Q4_0/Q5_0
 * weight blocks into the tiles' layout, and the product of one group of 16 weight rows against
 * every activation row. A tile product is one 32-element block of 16 tokens x 16 weight rows
 * (TDPBSSD: exact int32 sums); its sums are then scaled and accumulated in float, block after
 * block, so an output does not depend on anything else in its tile. */
#include "tensor/internal.h"

#include <immintrin.h>
#include <stddef.h>

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
                            void *aux) {
    pack(SLM_TYPE_Q8_0, w, rs, valid, b0, kc, tiles, aux);
}
void slm__mmq_pack_q4_0_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc, void *tiles,
                            void *aux) {
    pack(SLM_TYPE_Q4_0, w, rs, valid, b0, kc, tiles, aux);
}
void slm__mmq_pack_q5_0_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc, void *tiles,
                            void *aux) {
    pack(SLM_TYPE_Q5_0, w, rs, valid, b0, kc, tiles, aux);
}

/* Q4_K/Q5_K: per super-block eight tiles (groups 2p and 2p + 1 are the low and high nibbles of
 * qs[32p..32p+31]; Q5_K adds bit g of qh[l] as the fifth bit of group g) and the aux scales. */
static inline __attribute__((always_inline)) void pack_k(bool five, const uint8_t *w, size_t rs,
                                                         int valid, int64_t s0, int kc, void *tiles,
                                                         void *aux) {
    const size_t bs = five ? sizeof(slm_block_q5_k) : sizeof(slm_block_q4_k);
    const size_t qs_at = five ? offsetof(slm_block_q5_k, qs) : offsetof(slm_block_q4_k, qs);
    const __m256i low = _mm256_set1_epi8(15), bit4 = _mm256_set1_epi8(16);
    __m512i *out = tiles;
    struct slm_mmq_k_aux *ax = aux;
    for (int s = 0; s < kc; s++) {
        __m256i r[8][16];
        slm_f16 d[16], dmin[16];
        for (int m = 0; m < 16; m++) {
            if (m >= valid) {
                for (int g = 0; g < 8; g++)
                    r[g][m] = _mm256_setzero_si256(), ax[s].sc[g][m] = 0, ax[s].mn[g][m] = 0;
                d[m] = dmin[m] = 0;
                continue;
            }
            const uint8_t *blk = w + (size_t)m * rs + (size_t)(s0 + s) * bs;
            /* d and dmin lead both layouts */
            memcpy(&d[m], blk, 2);
            memcpy(&dmin[m], blk + 2, 2);
            int sc[8], mn[8];
            slm__k_scales_mins(blk + 4, sc, mn);
            __m256i qh =
                five ? _mm256_loadu_si256((const __m256i *)(blk + offsetof(slm_block_q5_k, qh)))
                     : _mm256_setzero_si256();
            for (int p = 0; p < 4; p++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(blk + qs_at + 32 * p));
                r[2 * p][m] = _mm256_and_si256(q, low);
                r[2 * p + 1][m] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
            }
            if (five) {
                /* bit g of each byte to bit 4: 16-bit shifts move no bit across bytes here */
                for (int g = 0; g < 8; g++) {
                    const __m256i b =
                        g <= 4 ? _mm256_slli_epi16(qh, 4 - g) : _mm256_srli_epi16(qh, g - 4);
                    r[g][m] = _mm256_or_si256(r[g][m], _mm256_and_si256(b, bit4));
                }
            }
            for (int g = 0; g < 8; g++) ax[s].sc[g][m] = sc[g], ax[s].mn[g][m] = (float)mn[g];
        }
        for (int g = 0; g < 8; g++) transpose_16x8(r[g], out + (s * 8 + g) * 8);
        _mm512_store_ps(ax[s].d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d)));
        _mm512_store_ps(ax[s].dmin, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dmin)));
    }
}

void slm__mmq_pack_q4_k_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc, void *tiles,
                            void *aux) {
    pack_k(false, w, rs, valid, b0, kc, tiles, aux);
}
void slm__mmq_pack_q5_k_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc, void *tiles,
                            void *aux) {
    pack_k(true, w, rs, valid, b0, kc, tiles, aux);
}

/* The tile products of one 16-token tile against kc packed groups (a: the tile's first token at
 * the first group, rows xs bytes apart, groups gs bytes apart): sums[g] = [token][row]. */
static inline void tile_sums(const uint8_t *a, size_t xs, size_t gs, const uint8_t *pk, int kc,
                             int32_t (*sums)[256]) {
    int g = 0;
    for (; g + 2 <= kc; g += 2) {
        _tile_loadd(0, a + (size_t)g * gs, (long)xs);
        _tile_loadd(2, pk + (size_t)g * 512, 64);
        _tile_zero(4);
        _tile_dpbssd(4, 0, 2);
        _tile_loadd(1, a + (size_t)(g + 1) * gs, (long)xs);
        _tile_loadd(3, pk + (size_t)(g + 1) * 512, 64);
        _tile_zero(5);
        _tile_dpbssd(5, 1, 3);
        _tile_stored(4, sums[g], 64);
        _tile_stored(5, sums[g + 1], 64);
    }
    if (g < kc) {
        _tile_loadd(0, a + (size_t)g * gs, (long)xs);
        _tile_loadd(2, pk + (size_t)g * 512, 64);
        _tile_zero(4);
        _tile_dpbssd(4, 0, 2);
        _tile_stored(4, sums[g], 64);
    }
}

/* Blocks a chunk at a time: the chunk's packed weights stay in L1 while every token tile meets
 * them; the float sums carry over in y between chunks, so each output is still one chain of
 * fused multiply-adds in block order. A chunk's tile products run first and its scaling after:
 * kept apart, the accumulators stay in registers (to the compiler the tile instructions clobber
 * memory). */
void slm__mmq_rows(const struct slm_weight *w, slm_mmq_pack_fn pack_fn, int64_t r0, int valid,
                   int64_t n, const void *scratch, const float *xf, float *y, void *tiles,
                   void *aux) {
    const int64_t nb = w->cols / SLM_QK;
    const size_t xs = (size_t)nb * sizeof(slm_block_q8_0);
    const uint8_t *xq = scratch;
    const float *dx = xf, *dw = aux;
    uint64_t rs = 0;
    slm_type_nbytes(w->type, (uint64_t)w->cols, &rs);
    const uint8_t *wr = (const uint8_t *)w->data + (uint64_t)r0 * rs;
    const __mmask16 rows_m = (__mmask16)((1u << valid) - 1);
    int32_t sums[SLM__MMQ_KC][256] __attribute__((aligned(64)));
    for (int64_t b0 = 0; b0 < nb; b0 += SLM__MMQ_KC) {
        const int kc = (int)SLM_MIN(SLM__MMQ_KC, nb - b0);
        pack_fn(wr, (size_t)rs, valid, b0, kc, tiles, aux);
        for (int64_t t0 = 0; t0 < n; t0 += 16) {
            tile_sums(xq + (size_t)t0 * xs + (size_t)b0 * sizeof(slm_block_q8_0) + 2, xs,
                      sizeof(slm_block_q8_0), tiles, kc, sums);
            const int tn = (int)SLM_MIN(16, n - t0);
            const float *d = dx + t0 * nb + b0;
            float *yt = y + t0 * w->rows + r0;
            __m512 acc[16];
            for (int i = 0; i < 16; i++)
                acc[i] = b0 > 0 && i < tn ? _mm512_maskz_loadu_ps(rows_m, yt + i * w->rows)
                                          : _mm512_setzero_ps();
            for (int b = 0; b < kc; b++) {
                const __m512 dwb = _mm512_load_ps(dw + b * 16);
                for (int i = 0; i < 16; i++)
                    acc[i] =
                        _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[b] + i * 16)),
                                        _mm512_mul_ps(dwb, _mm512_set1_ps(d[i * nb + b])), acc[i]);
            }
            for (int i = 0; i < tn; i++) _mm512_mask_storeu_ps(yt + i * w->rows, rows_m, acc[i]);
        }
    }
}

/* Q6_K: group k of 32 (half h = k / 4, quarter c = k % 4) takes the low (c < 2) or high nibbles
 * of ql[64h + 32(c % 2) + l] and bits 2c, 2c + 1 of qh[32h + l], minus 32. Its two groups of 16
 * (scales 2k, 2k + 1) go to tiles 2k and 2k + 1, each with the other half's tile rows zero. */
void slm__mmq_pack_q6_k_amx(const uint8_t *w, size_t rs, int valid, int64_t s0, int kc, void *tiles,
                            void *aux) {
    const __m256i low = _mm256_set1_epi8(15), hi2 = _mm256_set1_epi8(0x30),
                  off = _mm256_set1_epi8(32);
    __m512i *out = tiles;
    struct slm_mmq_k_aux *ax = aux;
    for (int s = 0; s < kc; s++) {
        __m256i r[8][16];
        slm_f16 d[16];
        for (int m = 0; m < 16; m++) {
            if (m >= valid) {
                for (int k = 0; k < 8; k++) r[k][m] = _mm256_setzero_si256();
                for (int g = 0; g < 16; g++) ax[s].sc[g][m] = 0;
                d[m] = 0;
                continue;
            }
            const slm_block_q6_k *b = (const slm_block_q6_k *)(w + (size_t)m * rs) + s0 + s;
            d[m] = b->d;
            for (int g = 0; g < 16; g++) ax[s].sc[g][m] = b->scales[g];
            for (int h = 0; h < 2; h++) {
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
                for (int c = 0; c < 4; c++) {
                    const __m256i ql =
                        _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32 * (c % 2)));
                    const __m256i nib = c < 2 ? _mm256_and_si256(ql, low)
                                              : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low);
                    /* bits 2c, 2c + 1 to bits 4, 5 (16-bit shifts move no kept bit across bytes) */
                    const __m256i top =
                        c < 3 ? _mm256_slli_epi16(qh, 4 - 2 * c) : _mm256_srli_epi16(qh, 2);
                    r[4 * h + c][m] =
                        _mm256_sub_epi8(_mm256_or_si256(nib, _mm256_and_si256(top, hi2)), off);
                }
            }
        }
        for (int k = 0; k < 8; k++) {
            __m512i t[8];
            transpose_16x8(r[k], t);
            __m512i *lo = out + (s * 16 + 2 * k) * 8, *hi = lo + 8;
            for (int j = 0; j < 4; j++) {
                lo[j] = t[j], lo[j + 4] = _mm512_setzero_si512();
                hi[j] = _mm512_setzero_si512(), hi[j + 4] = t[j + 4];
            }
        }
        _mm512_store_ps(ax[s].d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d)));
    }
}

/* The tile products of one 16-token tile against kc super-blocks: Q4_K/Q5_K one activation
 * group of 32 against its weight tile, Q6_K against its two half tiles (sums[s * gpb + g]). */
static inline __attribute__((always_inline)) void tile_sums_k(bool six, const uint8_t *a, size_t xs,
                                                              const uint8_t *pk, int kc,
                                                              int32_t (*sums)[256]) {
    if (!six) {
        for (int s = 0; s < kc; s++)
            tile_sums(a + (size_t)s * sizeof(slm_block_q8_k), xs, SLM_QK, pk + s * 8 * 512, 8,
                      sums + s * 8);
        return;
    }
    for (int g = 0; g < kc * 8; g++) {
        _tile_loadd(0, a + (size_t)(g / 8) * sizeof(slm_block_q8_k) + (size_t)(g % 8) * SLM_QK,
                    (long)xs);
        _tile_loadd(2, pk + (size_t)(2 * g) * 512, 64);
        _tile_loadd(3, pk + (size_t)(2 * g + 1) * 512, 64);
        _tile_zero(4);
        _tile_zero(5);
        _tile_dpbssd(4, 0, 2);
        _tile_dpbssd(5, 0, 3);
        _tile_stored(4, sums[2 * g], 64);
        _tile_stored(5, sums[2 * g + 1], 64);
    }
}

/* K types: per super-block, the int32 sum of group scale x group sum, then acc += that x d x d_x
 * and (Q4_K, Q5_K) acc -= (sum of group min x the activations' group sum) x dmin x d_x. */
static inline __attribute__((always_inline)) void
rows_k(bool six, const struct slm_weight *w, slm_mmq_pack_fn pack_fn, int64_t r0, int valid,
       int64_t n, const void *scratch, const float *xf, float *y, void *tiles, void *aux) {
    /* groups a super-block (Q6_K: of 16) and super-blocks a packed chunk */
    const int gpb = six ? 16 : 8, kcmax = six ? SLM__MMQ_KC_K / 2 : SLM__MMQ_KC_K;
    const int64_t nsb = w->cols / SLM_QK_K;
    const size_t xs = (size_t)nsb * sizeof(slm_block_q8_k);
    const uint8_t *xq = scratch;
    const float *gsum = xf;
    const struct slm_mmq_k_aux *ax = aux;
    uint64_t rs = 0;
    slm_type_nbytes(w->type, (uint64_t)w->cols, &rs);
    const uint8_t *wr = (const uint8_t *)w->data + (uint64_t)r0 * rs;
    const __mmask16 rows_m = (__mmask16)((1u << valid) - 1);
    int32_t sums[SLM__MMQ_KC_K * 8][256] __attribute__((aligned(64)));
    for (int64_t s0 = 0; s0 < nsb; s0 += kcmax) {
        const int kc = (int)SLM_MIN(kcmax, nsb - s0);
        pack_fn(wr, (size_t)rs, valid, s0, kc, tiles, aux);
        for (int64_t t0 = 0; t0 < n; t0 += 16) {
            tile_sums_k(six,
                        xq + (size_t)t0 * xs + (size_t)s0 * sizeof(slm_block_q8_k) +
                            offsetof(slm_block_q8_k, qs),
                        xs, tiles, kc, sums);
            const int tn = (int)SLM_MIN(16, n - t0);
            float *yt = y + t0 * w->rows + r0;
            __m512 acc[16];
            for (int i = 0; i < 16; i++)
                acc[i] = s0 > 0 && i < tn ? _mm512_maskz_loadu_ps(rows_m, yt + i * w->rows)
                                          : _mm512_setzero_ps();
            for (int s = 0; s < kc; s++) {
                const struct slm_mmq_k_aux *x = &ax[s];
                for (int i = 0; i < 16; i++) {
                    const slm_block_q8_k *blk =
                        (const slm_block_q8_k *)(xq + (size_t)(t0 + i) * xs) + s0 + s;
                    __m512i si = _mm512_setzero_si512();
                    for (int g = 0; g < gpb; g++)
                        si = _mm512_add_epi32(
                            si, _mm512_mullo_epi32(_mm512_load_si512(x->sc[g]),
                                                   _mm512_load_si512(sums[s * gpb + g] + i * 16)));
                    const __m512 dx = _mm512_set1_ps(blk->d);
                    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(si),
                                             _mm512_mul_ps(_mm512_load_ps(x->d), dx), acc[i]);
                    if (six) continue;
                    const float *gs = gsum + ((t0 + i) * nsb + s0 + s) * 8;
                    __m512 m = _mm512_setzero_ps();
                    for (int g = 0; g < 8; g++)
                        m = _mm512_fmadd_ps(_mm512_load_ps(x->mn[g]), _mm512_set1_ps(gs[g]), m);
                    acc[i] =
                        _mm512_fnmadd_ps(m, _mm512_mul_ps(_mm512_load_ps(x->dmin), dx), acc[i]);
                }
            }
            for (int i = 0; i < tn; i++) _mm512_mask_storeu_ps(yt + i * w->rows, rows_m, acc[i]);
        }
    }
}

void slm__mmq_rows_k(const struct slm_weight *w, slm_mmq_pack_fn pack_fn, int64_t r0, int valid,
                     int64_t n, const void *scratch, const float *xf, float *y, void *tiles,
                     void *aux) {
    rows_k(false, w, pack_fn, r0, valid, n, scratch, xf, y, tiles, aux);
}
void slm__mmq_rows_q6_k(const struct slm_weight *w, slm_mmq_pack_fn pack_fn, int64_t r0, int valid,
                        int64_t n, const void *scratch, const float *xf, float *y, void *tiles,
                        void *aux) {
    rows_k(true, w, pack_fn, r0, valid, n, scratch, xf, y, tiles, aux);
}
