/* Threaded matrix x vector / matrix x matrix over the pool: activations quantized once to the
 * weight type's partner format, then threads claim chunks of weight rows by atomic counters and
 * compute each chunk for all activation columns while its rows are in cache. Matrix x vector runs
 * several weights over the same activations (Q, K, V; gate, up) in one pool run, each thread
 * streaming a contiguous stretch of them. */
#include "tensor/internal.h"

/* Activation columns per tile in the batched case: a tile of quantized activations stays in L2
 * while every row of a chunk (in L1) meets it. */
#define COL_TILE 32
/* Rows per chunk in the batched case: small enough for L1/L2, large enough to amortise the
 * counter. */
#define BATCH_CHUNK_ROWS 16
static_assert(BATCH_CHUNK_ROWS % 4 == 0, "chunks start where the four-row kernel would");
/* Matrix x vector chunks: about this many weight bytes each, yet at least VEC_CHUNKS_PER_THREAD
 * chunks per thread so threads finish together when one is slowed. Each thread first takes the
 * chunks of its own contiguous stretch in order, so its stream of weights stays sequential (a
 * stream's start is slow: the hardware prefetcher has to find it). SmolLM2-135M-shaped Q4_0
 * generation at 2 threads on an idle machine, 8 chunks per thread: one shared counter ~218
 * tok/s, stretches ~265. */
#define VEC_CHUNK_BYTES       (128 * 1024)
#define VEC_CHUNKS_PER_THREAD 8
/* Threads with a stretch of their own (any more only take from the others' ends). */
#define VEC_HOMES_MAX 64
/* Software prefetch distance ahead of the matrix x vector kernel: enough bytes in flight to cover
 * DRAM latency at one core's bandwidth (about 100 ns x 12 GB/s = 1.2 KB). Farther is slower here:
 * SmolLM2-135M-shaped Q4_0 generation at 1 thread, 8 KB ~96 tok/s, 4 KB ~98, 2 KB ~107, 1 KB ~104
 * (Xeon with AVX-512, 2 cores). */
#define PREFETCH_BYTES    (2 * 1024)
#define PREFETCH_LOCALITY 3

static size_t row_bytes(slm_type partner, int64_t cols) {
    uint64_t b = 0;
    return slm_type_nbytes(partner, (uint64_t)cols, &b) ? (size_t)b : 0;
}

size_t slm__matmul_scratch_size(slm_type t, int64_t cols, int64_t n) {
    struct slm_type_kernels k;
    if (!slm__type_kernels(t, SLM_CPU_SCALAR, &k) || cols <= 0 || n <= 0) return 0;
    if (cols % slm_type_block_size(t) != 0 || k.partner == SLM_TYPE_F32) return 0;
    return SLM_MAX(row_bytes(k.partner, cols) * (size_t)n, slm__mmq_scratch_size(t, cols, n));
}

struct mm_ctx {
    const struct slm_weight *w;
    slm_vec_dot_fn dot;
    slm_vec_dot4_fn dot4;
    slm_vec_dot4x2_fn dot4x2;
    slm_from_float_fn quant;
    const float *x;
    const uint8_t *xq; /* activations in partner format, xq_bytes per column */
    size_t xq_bytes, w_bytes;
    int64_t n;
    float *y;
    slm_chunker chunks;
};

static void quantize_work(void *p, int ith, int nth) {
    struct mm_ctx *c = p;
    for (int64_t j = ith; j < c->n; j += nth)
        c->quant(c->x + j * c->w->cols, (uint8_t *)c->xq + (size_t)j * c->xq_bytes, c->w->cols);
}

/* Rows a step computes from row r of a chunk ending at r1: 4 with a four-row kernel, else 1. */
static inline int64_t step_rows(const struct mm_ctx *c, int64_t r, int64_t r1) {
    return c->dot4 && r + 4 <= r1 ? 4 : 1;
}

/* Rows r..r+k-1 against activation column j. */
static inline void dot_rows(const struct mm_ctx *c, int64_t r, int64_t k, int64_t j) {
    const uint8_t *wr = (const uint8_t *)c->w->data + (size_t)r * c->w_bytes;
    const uint8_t *xj = c->xq + (size_t)j * c->xq_bytes;
    float *yj = c->y + j * c->w->rows;
    if (k == 4)
        c->dot4(c->w->cols, wr, c->w_bytes, xj, yj + r);
    else
        yj[r] = c->dot(c->w->cols, wr, xj);
}

static void dot_work(void *p, int ith, int nth) {
    (void)ith, (void)nth;
    struct mm_ctx *c = p;
    const uint8_t *wd = c->w->data;
    int64_t r0, r1;
    while (slm__chunker_next(&c->chunks, &r0, &r1)) {
        for (int64_t j0 = 0; j0 < c->n; j0 += COL_TILE) {
            int64_t j1 = SLM_MIN(c->n, j0 + COL_TILE);
            for (int64_t r = r0; r < r1;) {
                int64_t k = step_rows(c, r, r1), j = j0;
                /* four rows against two columns share the weights' unpacking */
                if (k == 4 && c->dot4x2)
                    for (; j + 2 <= j1; j += 2)
                        c->dot4x2(c->w->cols, wd + (size_t)r * c->w_bytes, c->w_bytes,
                                  c->xq + (size_t)j * c->xq_bytes, c->xq_bytes,
                                  c->y + j * c->w->rows + r, c->y + (j + 1) * c->w->rows + r);
                for (; j < j1; j++) dot_rows(c, r, k, j);
                r += k;
            }
        }
    }
}

/* ---- matrix x vector ---- */

/* One weight of a matrix x vector run; its chunks are chunk indices first.. of the run. */
struct vec_part {
    const uint8_t *w;
    slm_vec_dot_fn dot;
    slm_vec_dot4_fn dot4;
    size_t w_bytes;
    int64_t cols, rows, chunk, first;
    float *y;
};

/* A thread's home stretch of chunk indices, [next, end) packed as next | end << 32: its thread
 * claims from the front, threads whose own stretch is done from the back. So each thread streams
 * one contiguous run of the weights unless the threads' speeds differ. */
struct vec_home {
    _Alignas(64) _Atomic uint64_t span;
};

struct vec_ctx {
    struct vec_part part[SLM__MATVEC_GROUP_MAX];
    int count, homes;
    const uint8_t *xq;
    struct vec_home home[VEC_HOMES_MAX];
};

static bool vec_claim(struct vec_ctx *c, int ith, int64_t *k) {
    if (ith < c->homes) {
        uint64_t s = atomic_fetch_add_explicit(&c->home[ith].span, 1, memory_order_relaxed);
        if ((uint32_t)s < (uint32_t)(s >> 32)) {
            *k = (uint32_t)s;
            return true;
        }
    }
    for (int d = 1; d <= c->homes; d++) {
        struct vec_home *h = &c->home[(ith + d) % c->homes];
        uint64_t s = atomic_load_explicit(&h->span, memory_order_relaxed);
        while ((uint32_t)s < (uint32_t)(s >> 32)) {
            uint64_t end = (s >> 32) - 1;
            if (atomic_compare_exchange_weak_explicit(&h->span, &s, (uint32_t)s | end << 32,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *k = (int64_t)end;
                return true;
            }
        }
    }
    return false;
}

static void vec_work(void *p, int ith, int nth) {
    (void)nth;
    struct vec_ctx *c = p;
    int64_t k0;
    while (vec_claim(c, ith, &k0)) {
        int i = c->count - 1;
        while (k0 < c->part[i].first) i--;
        const struct vec_part *v = &c->part[i];
        int64_t r0 = (k0 - v->first) * v->chunk, r1 = SLM_MIN(v->rows, r0 + v->chunk);
        /* The weights are streamed once: keep loads in flight ahead of the kernel (a fixed
         * distance, as rows can be short), on into the next chunk, most likely this thread's. */
        const uint8_t *end = v->w + (size_t)v->rows * v->w_bytes;
        for (int64_t r = r0; r < r1;) {
            int64_t k = v->dot4 && r + 4 <= r1 ? 4 : 1;
            const uint8_t *wr = v->w + (size_t)r * v->w_bytes;
            for (const uint8_t *q = wr + PREFETCH_BYTES;
                 q < wr + PREFETCH_BYTES + (size_t)k * v->w_bytes && q < end; q += 64)
                __builtin_prefetch(q, 0, PREFETCH_LOCALITY);
            if (k == 4)
                v->dot4(v->cols, wr, v->w_bytes, c->xq, v->y + r);
            else
                v->y[r] = v->dot(v->cols, wr, c->xq);
            r += k;
        }
    }
}

void slm__matvec_prepared_group(slm_pool *pool, int nth, const struct slm_weight *const *w,
                                int count, const float *x, float *const *y, const void *scratch) {
    SLM_ASSERT(count >= 1 && count <= SLM__MATVEC_GROUP_MAX);
    if (!pool) nth = 1;
    struct vec_ctx c; /* not zeroed as a whole: only the homes in use are set */
    c.count = count;
    slm_type partner = SLM_TYPE_COUNT;
    int64_t chunks = 0;
    for (int i = 0; i < count; i++) {
        struct slm_type_kernels k;
        SLM_ASSERT(slm__type_kernels(w[i]->type, SLM_CPU_LEVEL_COUNT, &k));
        SLM_ASSERT(w[i]->cols == w[0]->cols && w[i]->cols % slm_type_block_size(w[i]->type) == 0);
        SLM_ASSERT(i == 0 || k.partner == partner);
        partner = k.partner;
        struct vec_part *v = &c.part[i];
        *v = (struct vec_part){.w = w[i]->data,
                               .dot = k.vec_dot,
                               .dot4 = k.vec_dot4,
                               .w_bytes = row_bytes(w[i]->type, w[i]->cols),
                               .cols = w[i]->cols,
                               .rows = w[i]->rows,
                               .first = chunks,
                               .y = y[i]};
        int64_t chunk = SLM_MAX(1, (int64_t)(VEC_CHUNK_BYTES / v->w_bytes));
        chunk = SLM_MIN(chunk, SLM_MAX(1, v->rows / (VEC_CHUNKS_PER_THREAD * nth)));
        /* Chunks start at multiples of 4 whatever the thread count, so the same rows go through
         * the four-row kernel and results do not depend on threading. */
        v->chunk = (chunk + 3) / 4 * 4;
        chunks += (v->rows + v->chunk - 1) / v->chunk;
    }
    c.xq = partner == SLM_TYPE_F32 ? (const uint8_t *)x : scratch;
    SLM_ASSERT(chunks < UINT32_MAX);
    c.homes = SLM_MIN(nth, VEC_HOMES_MAX);
    for (int h = 0; h < c.homes; h++)
        atomic_init(&c.home[h].span, (uint64_t)(chunks * h / c.homes) |
                                         (uint64_t)(chunks * (h + 1) / c.homes) << 32);
    slm_pool_run(pool, vec_work, &c, nth);
}

slm_type slm__matmul_prepare(slm_pool *pool, int nth, slm_type type, const float *x, int64_t cols,
                             int64_t n, void *scratch) {
    struct slm_type_kernels k;
    SLM_ASSERT(slm__type_kernels(type, SLM_CPU_LEVEL_COUNT, &k));
    SLM_ASSERT(cols > 0 && cols % slm_type_block_size(type) == 0 && n > 0);
    if (k.partner == SLM_TYPE_F32) return k.partner;
    struct slm_type_kernels pk;
    slm__type_kernels(k.partner, SLM_CPU_LEVEL_COUNT, &pk);
    struct mm_ctx c = {.quant = pk.act_from_float, .x = x, .n = n, .xq = scratch,
                       .xq_bytes = row_bytes(k.partner, cols)};
    struct slm_weight shape = {.cols = cols};
    c.w = &shape;
    /* small batches are not worth waking the pool */
    slm_pool_run(n >= 4 ? pool : NULL, quantize_work, &c, n >= 4 && pool ? nth : 1);
    if (slm__mmq_act(k.partner, n)) slm__mmq_finish_act(k.partner, scratch, cols, n);
    return k.partner;
}

void slm__matmul_prepared(slm_pool *pool, int nth, const struct slm_weight *w, const float *x,
                          int64_t n, float *y, const void *scratch) {
    struct slm_type_kernels k;
    SLM_ASSERT(slm__type_kernels(w->type, SLM_CPU_LEVEL_COUNT, &k));
    SLM_ASSERT(w->cols > 0 && w->cols % slm_type_block_size(w->type) == 0 && n > 0);
    if (!pool) nth = 1;
    if (slm__matmul_float_tiles(w->type, n)) {
        slm__matmul_f32x(pool, nth, w, x, n, y);
        return;
    }
    if (n == 1) {
        slm__matvec_prepared_group(pool, nth, &w, 1, x, &y, scratch);
        return;
    }
    if (slm__mmq_use(w->type, n)) {
        slm__matmul_mmq(pool, nth, w, n, y, scratch);
        return;
    }
    struct mm_ctx c = {
        .w = w,
        .dot = k.vec_dot_batch,
        .dot4 = k.vec_dot4,
        .dot4x2 = k.vec_dot4x2,
        .x = x,
        .n = n,
        .y = y,
        .w_bytes = row_bytes(w->type, w->cols),
    };
    if (k.partner == SLM_TYPE_F32) {
        c.xq = (const uint8_t *)x;
        c.xq_bytes = (size_t)w->cols * sizeof(float);
    } else {
        c.xq = scratch;
        c.xq_bytes = row_bytes(k.partner, w->cols);
    }
    /* Chunks start at multiples of 4 whatever the thread count, so the same rows go through the
     * four-row kernel and results do not depend on threading. */
    slm__chunker_init(&c.chunks, 0, w->rows, BATCH_CHUNK_ROWS);
    slm_pool_run(pool, dot_work, &c, nth);
}

void slm__matmul(slm_pool *pool, int nth, const struct slm_weight *w, const float *x, int64_t n,
                 float *y, void *scratch) {
    slm__matmul_prepare(pool, nth, w->type, x, w->cols, n, scratch);
    slm__matmul_prepared(pool, nth, w, x, n, y, scratch);
}

bool slm__matmul_float_tiles(slm_type t, int64_t n) {
    return (t == SLM_TYPE_F32 || t == SLM_TYPE_F16) && n >= SLM__MATMUL_F32_TILE_MIN &&
           slm__matmul_f32x_supported(t);
}

slm_type slm__matmul_partner(slm_type type) {
    struct slm_type_kernels k;
    return slm__type_kernels(type, SLM_CPU_LEVEL_COUNT, &k) ? k.partner : SLM_TYPE_COUNT;
}
