/* Matrix multiply with float activations for F32 and F16 weights (the encoder's linear layers):
 * unlike slm__matmul the activations are not rounded to the weight type's partner format, and
 * the product is computed in register tiles of 4 weight rows x 4 activation rows, which a
 * batch of hundreds of tokens needs to approach the FMA peak. Threads claim chunks of weight rows
 * and compute them for every activation row. The scalar reference sums in double. */
#include "tensor/internal.h"

/* Work is split into tasks of ROW_CHUNK weight rows x COL_TILE activation rows, claimed in order
 * so that tasks running together share an activation tile (in L2) and each weight matrix (at
 * most a few MiB for the models this serves) is streamed once per tile. */
#define ROW_CHUNK 64
#define COL_TILE 32

void slm__gemm_f32x_ref(const struct slm_weight *w, const float *x, int64_t n, float *y,
                        int64_t r0, int64_t r1) {
    const int64_t k = w->cols;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t i = 0; i < k; i++) {
                float wv = w->type == SLM_TYPE_F16 ? slm__f16_to_f32(((const slm_f16 *)w->data)[r * k + i])
                                                   : ((const float *)w->data)[r * k + i];
                s += (double)wv * x[j * k + i];
            }
            y[j * w->rows + r] = (float)s;
        }
    }
}

void slm__gemm_f32_strided_ref(int64_t k, const float *w, int64_t ws, int64_t nr, const float *x,
                               int64_t xs, int64_t nc, float *y, int64_t ys) {
    for (int64_t c = 0; c < nc; c++) {
        for (int64_t r = 0; r < nr; r++) {
            double s = 0;
            for (int64_t i = 0; i < k; i++) s += (double)w[r * ws + i] * x[c * xs + i];
            y[c * ys + r] = (float)s;
        }
    }
}

bool slm__matmul_f32x_supported(slm_type t) {
    return (t == SLM_TYPE_F32 || t == SLM_TYPE_F16) && slm__cpu_level() >= SLM_CPU_AVX512;
}

struct gemm_ctx {
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
            slm__gemm_f32x_avx512(c->w, c->x + j * k, SLM_MIN(COL_TILE, c->n - j), c->y + j * rows,
                                  r, SLM_MIN(r + ROW_CHUNK, rows));
        }
    }
}

void slm__matmul_f32x(slm_pool *pool, int nth, const struct slm_weight *w, const float *x,
                      int64_t n, float *y) {
    SLM_ASSERT(slm__matmul_f32x_supported(w->type) && n > 0);
    if (!pool) nth = 1;
    struct gemm_ctx c = {.w = w, .x = x, .y = y, .n = n,
                         .n_row_chunks = (w->rows + ROW_CHUNK - 1) / ROW_CHUNK};
    slm__chunker_init(&c.tasks, 0, (n + COL_TILE - 1) / COL_TILE * c.n_row_chunks, 1);
    slm_pool_run(pool, gemm_work, &c, nth);
}
