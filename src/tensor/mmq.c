/* Quantized batches on AMX-INT8 tiles, the portable side: which weight types and batches go to
 * the tiles, the scratch layout they read, the threading over groups of 16 weight rows, and the
 * scalar reference of the tiles' arithmetic. The tile kernels are in mmq_amx.c. */
#include "tensor/internal.h"

#include <math.h>

typedef void (*mmq_rows_fn)(const struct slm_weight *w, slm_mmq_pack_fn pack, int64_t r0, int valid,
                            int64_t n, const void *scratch, const float *xf, float *y, void *tiles,
                            void *aux);

/* Per weight type: the packer widening its blocks into tiles and the kernel for its partner
 * (NULL: the type stays on the dot kernels). */
static const struct {
    slm_mmq_pack_fn pack;
    mmq_rows_fn rows;
} tiled[SLM_TYPE_COUNT] = {
    [SLM_TYPE_Q8_0] = {slm__mmq_pack_q8_0_amx, slm__mmq_rows},
    [SLM_TYPE_Q4_0] = {slm__mmq_pack_q4_0_amx, slm__mmq_rows},
    [SLM_TYPE_Q5_0] = {slm__mmq_pack_q5_0_amx, slm__mmq_rows},
    [SLM_TYPE_Q4_K] = {slm__mmq_pack_q4_k_amx, slm__mmq_rows_k},
    [SLM_TYPE_Q5_K] = {slm__mmq_pack_q5_k_amx, slm__mmq_rows_k},
    [SLM_TYPE_Q6_K] = {slm__mmq_pack_q6_k_amx, slm__mmq_rows_q6_k},
};

/* Groups of 16 weight rows a thread claims at a time. */
#define GROUP_CHUNK 2

static int64_t pad_rows(int64_t n) {
    return (n + SLM__MMQ_ROWS - 1) / SLM__MMQ_ROWS * SLM__MMQ_ROWS;
}
static bool partner_tiled(slm_type partner) {
    return partner == SLM_TYPE_Q8_0 || partner == SLM_TYPE_Q8_K;
}
/* Bytes of the padded partner rows, where the floats start. */
static size_t act_bytes(slm_type partner, int64_t cols, int64_t n) {
    uint64_t row = 0;
    SLM_ASSERT(slm_type_nbytes(partner, (uint64_t)cols, &row));
    return ((size_t)pad_rows(n) * (size_t)row + 63) / 64 * 64;
}

bool slm__mmq_use(slm_type t, int64_t n) {
    return t < SLM_TYPE_COUNT && tiled[t].pack && n >= SLM__MMQ_MIN && slm__cpu_has_amx_int8();
}

bool slm__mmq_act(slm_type partner, int64_t n) {
    return partner_tiled(partner) && n >= SLM__MMQ_MIN && slm__cpu_has_amx_int8();
}

size_t slm__mmq_scratch_size(slm_type t, int64_t cols, int64_t n) {
    const slm_type partner = slm__matmul_partner(t);
    if (!partner_tiled(partner) || n < SLM__MMQ_MIN || cols % slm_type_block_size(partner) != 0 ||
        !slm__cpu_detected_amx_int8())
        return 0;
    return act_bytes(partner, cols, n) +
           (size_t)pad_rows(n) * (size_t)(cols / SLM_QK) * sizeof(float);
}

void slm__mmq_finish_act(slm_type partner, void *scratch, int64_t cols, int64_t n) {
    SLM_ASSERT(partner_tiled(partner));
    const int64_t n_pad = pad_rows(n), ng = cols / SLM_QK;
    float *f = (float *)((uint8_t *)scratch + act_bytes(partner, cols, n));
    if (partner == SLM_TYPE_Q8_0) {
        slm_block_q8_0 *xq = scratch;
        memset(xq + n * ng, 0, (size_t)((n_pad - n) * ng) * sizeof *xq);
        for (int64_t i = 0; i < n_pad * ng; i++) f[i] = slm__f16_to_f32(xq[i].d);
        return;
    }
    const int64_t nsb = cols / SLM_QK_K;
    slm_block_q8_k *xq = scratch;
    memset(xq + n * nsb, 0, (size_t)((n_pad - n) * nsb) * sizeof *xq);
    for (int64_t i = 0; i < n_pad * nsb; i++)
        for (int g = 0; g < 8; g++)
            f[i * 8 + g] = (float)(xq[i].bsums[2 * g] + xq[i].bsums[2 * g + 1]);
}

/* Group g of 32 weights of row r as int8 values (what the packers put in the tiles); legacy
 * types return d, K types leave the scales to k_scales(). */
static float weight_group(const struct slm_weight *w, int64_t r, int64_t g, int8_t q[SLM_QK]) {
    uint64_t rs = 0;
    SLM_ASSERT(slm_type_nbytes(w->type, (uint64_t)w->cols, &rs));
    const uint8_t *row = (const uint8_t *)w->data + (uint64_t)r * rs;
    switch (w->type) {
    case SLM_TYPE_Q8_0: {
        const slm_block_q8_0 *blk = (const slm_block_q8_0 *)row + g;
        memcpy(q, blk->qs, SLM_QK);
        return slm__f16_to_f32(blk->d);
    }
    case SLM_TYPE_Q4_0: {
        const slm_block_q4_0 *blk = (const slm_block_q4_0 *)row + g;
        for (int j = 0; j < SLM_QK / 2; j++) {
            q[j] = (int8_t)((blk->qs[j] & 15) - 8);
            q[j + 16] = (int8_t)((blk->qs[j] >> 4) - 8);
        }
        return slm__f16_to_f32(blk->d);
    }
    case SLM_TYPE_Q5_0: {
        const slm_block_q5_0 *blk = (const slm_block_q5_0 *)row + g;
        uint32_t qh;
        memcpy(&qh, blk->qh, 4);
        for (int j = 0; j < SLM_QK / 2; j++) {
            q[j] = (int8_t)(((blk->qs[j] & 15) | ((qh >> j & 1) << 4)) - 16);
            q[j + 16] = (int8_t)(((blk->qs[j] >> 4) | ((qh >> (j + 16) & 1) << 4)) - 16);
        }
        return slm__f16_to_f32(blk->d);
    }
    case SLM_TYPE_Q4_K:
    case SLM_TYPE_Q5_K: {
        const int64_t sb = g / 8, k = g % 8;
        const uint8_t *qs, *qh = NULL;
        if (w->type == SLM_TYPE_Q4_K) {
            qs = ((const slm_block_q4_k *)row + sb)->qs;
        } else {
            qs = ((const slm_block_q5_k *)row + sb)->qs;
            qh = ((const slm_block_q5_k *)row + sb)->qh;
        }
        for (int l = 0; l < SLM_QK; l++) {
            int v = k & 1 ? qs[32 * (k / 2) + l] >> 4 : qs[32 * (k / 2) + l] & 15;
            if (qh) v |= (qh[l] >> k & 1) << 4;
            q[l] = (int8_t)v;
        }
        return 0;
    }
    case SLM_TYPE_Q6_K: {
        const slm_block_q6_k *b = (const slm_block_q6_k *)row + g / 8;
        const int h = (int)(g % 8) / 4, c = (int)(g % 8) % 4;
        for (int l = 0; l < SLM_QK; l++) {
            const int ql = b->ql[64 * h + 32 * (c % 2) + l];
            q[l] =
                (int8_t)(((c < 2 ? ql & 15 : ql >> 4) | ((b->qh[32 * h + l] >> (2 * c) & 3) << 4)) -
                         32);
        }
        return 0;
    }
    default:
        SLM_ASSERT(!"type without tiles");
        return 0;
    }
}

/* A K super-block's d, dmin and group scales and mins. */
static void k_scales(const struct slm_weight *w, int64_t r, int64_t sb, float *d, float *dmin,
                     int sc[8], int mn[8]) {
    uint64_t rs = 0;
    SLM_ASSERT(slm_type_nbytes(w->type, (uint64_t)w->cols, &rs));
    const uint8_t *row = (const uint8_t *)w->data + (uint64_t)r * rs;
    if (w->type == SLM_TYPE_Q4_K) {
        const slm_block_q4_k *b = (const slm_block_q4_k *)row + sb;
        *d = slm__f16_to_f32(b->d), *dmin = slm__f16_to_f32(b->dmin);
        slm__k_scales_mins(b->scales, sc, mn);
    } else {
        const slm_block_q5_k *b = (const slm_block_q5_k *)row + sb;
        *d = slm__f16_to_f32(b->d), *dmin = slm__f16_to_f32(b->dmin);
        slm__k_scales_mins(b->scales, sc, mn);
    }
}

/* Tokens the reference takes per pass over a weight row (each block decoded once per pass). */
#define REF_TOKENS 64

void slm__matmul_mmq_ref(const struct slm_weight *w, int64_t n, float *y, const void *scratch,
                         int64_t r0, int64_t r1) {
    const slm_type partner = slm__matmul_partner(w->type);
    const int64_t ng = w->cols / SLM_QK, nsb = ng / 8;
    const float *f = (const float *)((const uint8_t *)scratch + act_bytes(partner, w->cols, n));
    uint64_t rs = 0;
    SLM_ASSERT(slm_type_nbytes(w->type, (uint64_t)w->cols, &rs));
    int8_t q[SLM_QK_K];
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t j0 = 0; j0 < n; j0 += REF_TOKENS) {
            const int64_t jn = SLM_MIN(REF_TOKENS, n - j0);
            float acc[REF_TOKENS] = {0};
            if (partner == SLM_TYPE_Q8_0) {
                for (int64_t g = 0; g < ng; g++) {
                    const float d = weight_group(w, r, g, q);
                    for (int64_t j = j0; j < j0 + jn; j++) {
                        const slm_block_q8_0 *xq = (const slm_block_q8_0 *)scratch + j * ng + g;
                        int32_t s = 0;
                        for (int i = 0; i < SLM_QK; i++) s += q[i] * xq->qs[i];
                        acc[j - j0] = fmaf((float)s, d * f[j * ng + g], acc[j - j0]);
                    }
                }
            } else {
                for (int64_t sb = 0; sb < nsb; sb++) {
                    for (int k = 0; k < 8; k++) weight_group(w, r, sb * 8 + k, q + k * SLM_QK);
                    /* Q6_K: 16 group scales, no mins; Q4_K/Q5_K: 8 scales and mins */
                    float d, dmin = 0;
                    int sc[16], mn[8] = {0};
                    const bool six = w->type == SLM_TYPE_Q6_K;
                    if (six) {
                        const slm_block_q6_k *b =
                            (const slm_block_q6_k *)((const uint8_t *)w->data + (uint64_t)r * rs) +
                            sb;
                        d = slm__f16_to_f32(b->d);
                        for (int g = 0; g < 16; g++) sc[g] = b->scales[g];
                    } else {
                        k_scales(w, r, sb, &d, &dmin, sc, mn);
                    }
                    for (int64_t j = j0; j < j0 + jn; j++) {
                        const slm_block_q8_k *xq = (const slm_block_q8_k *)scratch + j * nsb + sb;
                        const int gl = six ? 16 : SLM_QK; /* elements a scale covers */
                        int32_t s = 0;
                        float m = 0;
                        for (int g = 0; g < SLM_QK_K / gl; g++) {
                            int32_t gs = 0;
                            for (int i = g * gl; i < (g + 1) * gl; i++) gs += q[i] * xq->qs[i];
                            s += sc[g] * gs;
                        }
                        for (int k = 0; k < 8 && !six; k++)
                            m = fmaf((float)mn[k], f[j * ng + sb * 8 + k], m);
                        acc[j - j0] = fmaf((float)s, d * xq->d, acc[j - j0]);
                        if (!six) acc[j - j0] = fmaf(-m, dmin * xq->d, acc[j - j0]);
                    }
                }
            }
            for (int64_t j = j0; j < j0 + jn; j++) y[j * w->rows + r] = acc[j - j0];
        }
    }
}

struct mmq_ctx {
    const struct slm_weight *w;
    slm_mmq_pack_fn pack;
    mmq_rows_fn rows;
    const void *scratch;
    const float *xf; /* the floats after the partner rows (see slm__mmq_scratch_size) */
    float *y;
    int64_t n;
    slm_chunker groups;
};

static void mmq_work(void *p, int ith, int nth) {
    (void)ith, (void)nth;
    struct mmq_ctx *c = p;
    /* the packed weight tiles and scales of the group at hand: L1-sized, on this thread's stack */
    uint8_t tiles[SLM__MMQ_TILE_BYTES] __attribute__((aligned(64)));
    uint8_t aux[SLM__MMQ_AUX_BYTES] __attribute__((aligned(64)));
    int64_t g0, g1;
    slm__mmq_begin();
    while (slm__chunker_next(&c->groups, &g0, &g1)) {
        for (int64_t g = g0; g < g1; g++) {
            const int64_t r0 = g * SLM__MMQ_ROWS;
            c->rows(c->w, c->pack, r0, (int)SLM_MIN(SLM__MMQ_ROWS, c->w->rows - r0), c->n,
                    c->scratch, c->xf, c->y, tiles, aux);
        }
    }
    slm__mmq_end();
}

void slm__matmul_mmq(slm_pool *pool, int nth, const struct slm_weight *w, int64_t n, float *y,
                     const void *scratch) {
    SLM_ASSERT(slm__mmq_use(w->type, n) && w->cols % slm_type_block_size(w->type) == 0);
    if (!pool) nth = 1;
    struct mmq_ctx c = {.w = w,
                        .pack = tiled[w->type].pack,
                        .rows = tiled[w->type].rows,
                        .scratch = scratch,
                        .xf = (const float *)((const uint8_t *)scratch +
                                              act_bytes(slm__matmul_partner(w->type), w->cols, n)),
                        .y = y,
                        .n = n};
    slm__chunker_init(&c.groups, 0, (w->rows + SLM__MMQ_ROWS - 1) / SLM__MMQ_ROWS, GROUP_CHUNK);
    slm_pool_run(pool, mmq_work, &c, nth);
}
