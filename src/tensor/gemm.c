/* Matrix multiply with float activations for F32, F16, BF16 and Q8_0 weights (the encoder's
 * linear layers where there are no AMX tiles): unlike slm__matmul the activations are not
 * rounded to the weight type's partner format, and the product is computed in register tiles of
 * a few weight rows x a few activation rows (AVX-512 or AVX2, by level), which a batch of hundreds
 * of tokens needs to approach the FMA peak. Threads claim chunks of weight rows and compute them
 * for every activation row. The scalar reference sums in double. Also the attention product's
 * reference, and the packed BF16 product on AMX tiles (its packing, threading and reference). */
#include "tensor/internal.h"

/* Work is split into tasks of ROW_CHUNK weight rows x COL_TILE activation rows, claimed in order
 * so that tasks running together share an activation tile (in L2) and each weight matrix (at
 * most a few MiB for the models this serves) is streamed once per tile. */
#define ROW_CHUNK 64
#define COL_TILE 32

/* Weight (r, i) of a type slm__matmul_f32x takes. */
static float weight_at(const struct slm_weight *w, int64_t r, int64_t i) {
    const int64_t at = r * w->cols + i;
    switch (w->type) {
    case SLM_TYPE_F16: return slm__f16_to_f32(((const slm_f16 *)w->data)[at]);
    case SLM_TYPE_BF16: return slm__bf16_to_f32(((const slm_bf16 *)w->data)[at]);
    case SLM_TYPE_Q8_0: {
        const slm_block_q8_0 *b = (const slm_block_q8_0 *)w->data + at / SLM_QK;
        return slm__f16_to_f32(b->d) * (float)b->qs[at % SLM_QK];
    }
    default: return ((const float *)w->data)[at];
    }
}

void slm__gemm_f32x_ref(const struct slm_weight *w, const float *x, int64_t n, float *y,
                        int64_t r0, int64_t r1) {
    const int64_t k = w->cols;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t i = 0; i < k; i++) s += (double)weight_at(w, r, i) * x[j * k + i];
            y[j * w->rows + r] = (float)s;
        }
    }
}

void slm__gemm_nn_ref(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t as,
                      const float *b, int64_t bs, float *y, int64_t ys) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t c = 0; c < k; c++) s += (double)a[i * as + c] * b[c * bs + j];
            y[i * ys + j] = (float)(s * alpha);
        }
    }
}

bool slm__matmul_f32x_supported(slm_type t) {
    return (t == SLM_TYPE_F32 || t == SLM_TYPE_F16 || t == SLM_TYPE_BF16 || t == SLM_TYPE_Q8_0) &&
           slm__cpu_level() >= SLM_CPU_AVX2;
}

struct gemm_ctx {
    void (*tiles)(const struct slm_weight *w, const float *x, int64_t n, float *y, int64_t r0,
                  int64_t r1);
    const struct slm_weight *w;
    const float *x;
    float *y;
    int64_t n, n_row_chunks;
    slm_chunker tasks;
};

static void gemm_work(void *p, int ith, int nth) {
    (void)ith, (void)nth;
    struct gemm_ctx *c = p;
    const int64_t k = c->w->cols, rows = c->w->rows;
    int64_t t0, t1;
    while (slm__chunker_next(&c->tasks, &t0, &t1)) {
        for (int64_t t = t0; t < t1; t++) {
            int64_t j = t / c->n_row_chunks * COL_TILE, r = t % c->n_row_chunks * ROW_CHUNK;
            c->tiles(c->w, c->x + j * k, SLM_MIN(COL_TILE, c->n - j), c->y + j * rows, r,
                     SLM_MIN(r + ROW_CHUNK, rows));
        }
    }
}

void slm__matmul_f32x(slm_pool *pool, int nth, const struct slm_weight *w, const float *x,
                      int64_t n, float *y) {
    SLM_ASSERT(slm__matmul_f32x_supported(w->type) && n > 0);
    if (!pool) nth = 1;
    struct gemm_ctx c = {.w = w, .x = x, .y = y, .n = n,
                         .n_row_chunks = (w->rows + ROW_CHUNK - 1) / ROW_CHUNK};
    c.tiles = slm__cpu_level() >= SLM_CPU_AVX512 ? slm__gemm_f32x_avx512 : slm__gemm_f32x_avx2;
    slm__chunker_init(&c.tasks, 0, (n + COL_TILE - 1) / COL_TILE * c.n_row_chunks, 1);
    slm_pool_run(pool, gemm_work, &c, nth);
}

/* ---- packed BF16 product on AMX tiles ---- */

size_t slm__amx_weight_bytes(int64_t rows, int64_t cols) {
    return (size_t)SLM_AMX_ROWS(rows) * (size_t)SLM_AMX_COLS(cols) * sizeof(slm_bf16);
}

size_t slm__amx_act_bytes(int64_t n, int64_t cols) { return slm__amx_weight_bytes(n, cols); }

/* Index of weight (row r, column k) in the packed tiles: a tile row holds column pairs (k, k+1)
 * of 16 weight rows, as TDPBF16PS reads its second operand. */
static int64_t packed_at(int64_t cols_p, int64_t r, int64_t k) {
    return ((r / 16 * (cols_p / 32) + k / 32) * 16 + k % 32 / 2) * 32 + r % 16 * 2 + k % 2;
}

void slm__amx_pack_weight(const struct slm_weight *w, void *out, float *row_tmp,
                          struct slm_amx_weight *pw) {
    const int64_t cols_p = SLM_AMX_COLS(w->cols);
    uint64_t row_bytes = 0;
    SLM_ASSERT(slm_type_nbytes(w->type, (uint64_t)w->cols, &row_bytes));
    slm_bf16 *dst = out;
    memset(dst, 0, slm__amx_weight_bytes(w->rows, w->cols));
    for (int64_t r = 0; r < w->rows; r++) {
        slm_type_dequantize(w->type, (const uint8_t *)w->data + (uint64_t)r * row_bytes, row_tmp,
                            w->cols);
        for (int64_t k = 0; k < w->cols; k++)
            dst[packed_at(cols_p, r, k)] = slm__f32_to_bf16(row_tmp[k]);
    }
    *pw = (struct slm_amx_weight){.rows = w->rows, .cols = w->cols, .cols_p = cols_p, .data = dst};
}

static void apply_act(slm_amx_act act, float *y, int64_t n) {
    if (act == SLM_AMX_GELU_ERF) slm__gelu_erf(y, y, n);
    else if (act == SLM_AMX_GELU_TANH) slm__gelu_tanh(y, y, n);
}

void slm__matmul_amx_ref(const struct slm_amx_weight *w, const slm_bf16 *xa, int64_t n,
                         const float *bias, slm_amx_act act, float *y) {
    for (int64_t j = 0; j < n; j++) {
        for (int64_t r = 0; r < w->rows; r++) {
            double s = bias ? bias[r] : 0;
            for (int64_t k = 0; k < w->cols; k++)
                s += (double)slm__bf16_to_f32(w->data[packed_at(w->cols_p, r, k)]) *
                     slm__bf16_to_f32(xa[j * w->cols_p + k]);
            y[j * w->rows + r] = (float)s;
        }
        apply_act(act, y + j * w->rows, w->rows);
    }
}

struct pack_ctx {
    const float *x;
    int64_t n, cols;
    slm_bf16 *xa;
    slm_chunker rows;
};

static void pack_work(void *p, int ith, int nth) {
    (void)ith, (void)nth;
    struct pack_ctx *c = p;
    int64_t r0, r1;
    while (slm__chunker_next(&c->rows, &r0, &r1))
        slm__amx_pack_act_avx512(c->x, c->n, c->cols, c->cols, 1.0f, c->xa, r0, r1);
}

void slm__amx_pack_act(slm_pool *pool, int nth, const float *x, int64_t n, int64_t cols,
                       slm_bf16 *xa) {
    SLM_ASSERT(slm__cpu_has_amx_bf16() && n > 0);
    struct pack_ctx c = {.x = x, .n = n, .cols = cols, .xa = xa};
    slm__chunker_init(&c.rows, 0, SLM_AMX_ROWS(n), 32);
    /* a handful of rows is not worth waking the pool */
    slm_pool_run(n > 64 ? pool : NULL, pack_work, &c, n > 64 && pool ? nth : 1);
}

struct amx_ctx {
    const struct slm_amx_weight *w;
    const slm_bf16 *xa;
    const float *bias;
    float *y;
    slm_amx_act act;
    int64_t n, group_rows, n_groups;
    slm_chunker tasks; /* (pair of token tiles, group of weight rows) */
};

static void amx_work(void *p, int ith, int nth) {
    (void)ith, (void)nth;
    struct amx_ctx *c = p;
    const int64_t rows = c->w->rows;
    int64_t t0, t1;
    slm__amx_begin();
    while (slm__chunker_next(&c->tasks, &t0, &t1)) {
        for (int64_t t = t0; t < t1; t++) {
            const int64_t tok = t / c->n_groups * 32, o0 = t % c->n_groups * c->group_rows;
            const int64_t o1 = SLM_MIN(o0 + c->group_rows, rows);
            slm__amx_tiles(c->w, c->xa, c->n, tok, o0, o1, c->bias, c->y, rows);
            if (c->act == SLM_AMX_NONE) continue;
            /* while the block is in L1 */
            for (int64_t j = tok; j < SLM_MIN(tok + 32, c->n); j++)
                apply_act(c->act, c->y + j * rows + o0, o1 - o0);
        }
    }
    slm__amx_end();
}

void slm__matmul_amx(slm_pool *pool, int nth, const struct slm_amx_weight *w, const slm_bf16 *xa,
                     int64_t n, const float *bias, slm_amx_act act, float *y) {
    SLM_ASSERT(slm__cpu_has_amx_bf16() && n > 0);
    if (!pool) nth = 1;
    /* Weight rows are split into groups only as far as it takes to give every thread a few
     * tasks: a task keeps its pair of token tiles in L1 while it sweeps its group's weights. */
    const int64_t pairs = SLM_AMX_ROWS(w->rows) / 32, token_pairs = SLM_AMX_ROWS(n) / 32;
    int64_t groups = 1;
    while (groups < pairs && token_pairs * groups < 4 * nth) groups *= 2;
    groups = SLM_MIN(groups, pairs);
    struct amx_ctx c = {.w = w, .xa = xa, .bias = bias, .y = y, .act = act, .n = n,
                        .group_rows = (pairs + groups - 1) / groups * 32};
    c.n_groups = (SLM_AMX_ROWS(w->rows) + c.group_rows - 1) / c.group_rows;
    slm__chunker_init(&c.tasks, 0, token_pairs * c.n_groups, 1);
    slm_pool_run(pool, amx_work, &c, nth);
}
