/* Quantized batches on AMX-INT8 tiles, the portable side: which weight types and batches go to
 * the tiles, the scratch layout they read, the threading over groups of 16 weight rows, and the
 * scalar reference of the tiles' arithmetic. The tile kernels are in mmq_amx.c. */
#include "tensor/internal.h"

#include <math.h>

/* Per weight type: the packer widening its blocks into tiles (NULL: the type stays on the dot
 * kernels). All of them have Q8_0 as partner, so one activation layout serves them. */
static const slm_mmq_pack_fn packers[SLM_TYPE_COUNT] = {
    [SLM_TYPE_Q8_0] = slm__mmq_pack_q8_0_amx,
    [SLM_TYPE_Q4_0] = slm__mmq_pack_q4_0_amx,
    [SLM_TYPE_Q5_0] = slm__mmq_pack_q5_0_amx,
};

/* Groups of 16 weight rows a thread claims at a time. */
#define GROUP_CHUNK 2

static int64_t pad_rows(int64_t n) {
    return (n + SLM__MMQ_ROWS - 1) / SLM__MMQ_ROWS * SLM__MMQ_ROWS;
}
static size_t act_bytes(int64_t cols, int64_t n) {
    return ((size_t)pad_rows(n) * (size_t)(cols / SLM_QK) * sizeof(slm_block_q8_0) + 63) / 64 * 64;
}

bool slm__mmq_use(slm_type t, int64_t n) {
    return t < SLM_TYPE_COUNT && packers[t] && n >= SLM__MMQ_MIN && slm__cpu_has_amx_int8();
}

size_t slm__mmq_scratch_size(slm_type t, int64_t cols, int64_t n) {
    if (t >= SLM_TYPE_COUNT || !packers[t] || n < SLM__MMQ_MIN || cols % SLM_QK != 0 ||
        !slm__cpu_detected_amx_int8())
        return 0;
    return act_bytes(cols, n) + (size_t)pad_rows(n) * (size_t)(cols / SLM_QK) * sizeof(float);
}

void slm__mmq_finish_act(void *scratch, int64_t cols, int64_t n) {
    const int64_t nb = cols / SLM_QK, n_pad = pad_rows(n);
    slm_block_q8_0 *xq = scratch;
    memset(xq + n * nb, 0, (size_t)((n_pad - n) * nb) * sizeof *xq);
    float *dx = (float *)((uint8_t *)scratch + act_bytes(cols, n));
    for (int64_t i = 0; i < n_pad * nb; i++) dx[i] = slm__f16_to_f32(xq[i].d);
}

/* Block b of weight row r as 32 int8 values (what the packers put in the tiles); returns d. */
static float weight_block(const struct slm_weight *w, int64_t r, int64_t b, int8_t q[SLM_QK]) {
    uint64_t rs = 0;
    SLM_ASSERT(slm_type_nbytes(w->type, (uint64_t)w->cols, &rs));
    const uint8_t *row = (const uint8_t *)w->data + (uint64_t)r * rs;
    switch (w->type) {
    case SLM_TYPE_Q8_0: {
        const slm_block_q8_0 *blk = (const slm_block_q8_0 *)row + b;
        memcpy(q, blk->qs, SLM_QK);
        return slm__f16_to_f32(blk->d);
    }
    case SLM_TYPE_Q4_0: {
        const slm_block_q4_0 *blk = (const slm_block_q4_0 *)row + b;
        for (int j = 0; j < SLM_QK / 2; j++) {
            q[j] = (int8_t)((blk->qs[j] & 15) - 8);
            q[j + 16] = (int8_t)((blk->qs[j] >> 4) - 8);
        }
        return slm__f16_to_f32(blk->d);
    }
    case SLM_TYPE_Q5_0: {
        const slm_block_q5_0 *blk = (const slm_block_q5_0 *)row + b;
        uint32_t qh;
        memcpy(&qh, blk->qh, 4);
        for (int j = 0; j < SLM_QK / 2; j++) {
            q[j] = (int8_t)(((blk->qs[j] & 15) | ((qh >> j & 1) << 4)) - 16);
            q[j + 16] = (int8_t)(((blk->qs[j] >> 4) | ((qh >> (j + 16) & 1) << 4)) - 16);
        }
        return slm__f16_to_f32(blk->d);
    }
    default:
        SLM_ASSERT(!"type without tiles");
        return 0;
    }
}

void slm__matmul_mmq_ref(const struct slm_weight *w, int64_t n, float *y, const void *scratch,
                         int64_t r0, int64_t r1) {
    const int64_t nb = w->cols / SLM_QK;
    const slm_block_q8_0 *xq = scratch;
    const float *dx = (const float *)((const uint8_t *)scratch + act_bytes(w->cols, n));
    int8_t q[SLM_QK];
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t j = 0; j < n; j++) {
            float acc = 0;
            for (int64_t b = 0; b < nb; b++) {
                const float d = weight_block(w, r, b, q);
                int32_t s = 0;
                for (int i = 0; i < SLM_QK; i++) s += q[i] * xq[j * nb + b].qs[i];
                acc = fmaf((float)s, d * dx[j * nb + b], acc);
            }
            y[j * w->rows + r] = acc;
        }
    }
}

struct mmq_ctx {
    const struct slm_weight *w;
    slm_mmq_pack_fn pack;
    const void *scratch;
    float *y;
    int64_t n;
    slm_chunker groups;
};

static void mmq_work(void *p, int ith, int nth) {
    (void)ith, (void)nth;
    struct mmq_ctx *c = p;
    /* the packed weight tiles and scales of the group at hand: L1-sized, on this thread's stack */
    uint8_t tiles[SLM__MMQ_KC * 512] __attribute__((aligned(64)));
    float dw[SLM__MMQ_KC * 16] __attribute__((aligned(64)));
    int64_t g0, g1;
    slm__mmq_begin();
    while (slm__chunker_next(&c->groups, &g0, &g1)) {
        for (int64_t g = g0; g < g1; g++) {
            const int64_t r0 = g * SLM__MMQ_ROWS;
            slm__mmq_rows(c->w, c->pack, r0, (int)SLM_MIN(SLM__MMQ_ROWS, c->w->rows - r0), c->n,
                          c->scratch, c->y, tiles, dw);
        }
    }
    slm__mmq_end();
}

void slm__matmul_mmq(slm_pool *pool, int nth, const struct slm_weight *w, int64_t n, float *y,
                     const void *scratch) {
    SLM_ASSERT(slm__mmq_use(w->type, n) && w->cols % SLM_QK == 0);
    if (!pool) nth = 1;
    struct mmq_ctx c = {.w = w, .pack = packers[w->type], .scratch = scratch, .y = y, .n = n};
    slm__chunker_init(&c.groups, 0, (w->rows + SLM__MMQ_ROWS - 1) / SLM__MMQ_ROWS, GROUP_CHUNK);
    slm_pool_run(pool, mmq_work, &c, nth);
}
