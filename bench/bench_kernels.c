/* Kernel microbenchmark: measures the machine's memory read bandwidth with the same thread count,
 * then per weight type and dispatch level the matrix x vector throughput (GB/s of weights streamed
 * over a matrix larger than any cache, and its fraction of the measured bandwidth) and the
 * matrix x matrix rate for a batch (GFLOP/s).
 *   bench_kernels [-t threads] [-r reps] [-m MiB] [type ...]   (default: 2 threads, 7 reps, 128
 * MiB) */
#include "core/internal.h"
#include "tensor/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- memory read bandwidth: each thread reads its slice with the widest loads the CPU has ---- */
struct bw_ctx {
    const uint8_t *buf;
    size_t bytes;
    uint64_t sink[64];
};

static void bw_work(void *p, int ith, int nth) {
    struct bw_ctx *c = p;
    size_t per = c->bytes / (size_t)nth / 256 * 256;
    c->sink[ith % 64] = slm__mem_read(c->buf + per * (size_t)ith, per);
}

/* Seconds for one pass over the probe buffer, at the top dispatch level whatever is benchmarked. */
static double bw_pass(slm_pool *pool, int nth, struct bw_ctx *c) {
    slm_cpu_level l = slm__cpu_level();
    slm__cpu_level_set(slm__cpu_level_detected());
    double t0 = now_s();
    slm_pool_run(pool, bw_work, c, nth);
    double t = now_s() - t0;
    slm__cpu_level_set(l);
    return t;
}

/* A weight matrix of `rows` x `cols` in type t: a few MiB of real quantized data tiled over the
 * whole buffer (quantizing 100+ MiB with the K-quant search would dominate the run). */
static uint8_t *make_weights(slm_type t, int64_t rows, int64_t cols, size_t *row_bytes) {
    *row_bytes = slm_type_block_bytes(t) * (size_t)(cols / slm_type_block_size(t));
    size_t total = *row_bytes * (size_t)rows;
    uint8_t *w = slm__aligned_alloc(total);
    int64_t seed_rows = SLM_MIN(rows, 256);
    float *f = malloc((size_t)(seed_rows * cols) * sizeof(float));
    uint64_t s = 88172645463325252ull;
    for (int64_t i = 0; i < seed_rows * cols; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        f[i] = ((float)(s >> 40) / 16777216.0f - 0.5f) * 0.1f;
    }
    slm_type_quantize(t, f, w, seed_rows * cols);
    size_t seed = *row_bytes * (size_t)seed_rows;
    for (size_t off = seed; off < total; off += seed)
        memcpy(w + off, w, SLM_MIN(seed, total - off));
    free(f);
    return w;
}

/* Best of reps timed calls (reps 0: one untimed warm-up call for page faults and caches). */
static double time_matmul(slm_pool *pool, int nth, const struct slm_weight *w, const float *x,
                          int64_t n, float *y, void *scratch, int reps) {
    if (reps == 0) slm__matmul(pool, nth, w, x, n, y, scratch);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        slm__matmul(pool, nth, w, x, n, y, scratch);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    int nth = 2, reps = 7;
    size_t mib = 128;
    const char *only[32];
    int n_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            nth = atoi(argv[++i]);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
            mib = (size_t)atoi(argv[++i]);
        else if (n_only < 32)
            only[n_only++] = argv[i];
    }
    if (nth < 1 || reps < 1 || mib < 1) {
        fprintf(stderr, "usage: bench_kernels [-t threads] [-r reps] [-m MiB] [type ...]\n");
        return 2;
    }
    slm_pool *pool = NULL;
    if (slm_pool_create(nth, &pool) != SLM_OK) {
        fprintf(stderr, "pool: %s\n", slm_error_detail());
        return 1;
    }
    slm_cpu_level max = slm__cpu_level();
    struct bw_ctx bwc = {.bytes = (size_t)512 << 20};
    bwc.buf = slm__aligned_alloc(bwc.bytes);
    memset((void *)bwc.buf, 1, bwc.bytes);
    double bw_run = 0;
    printf("threads %d, cpu level %s; matvec over a %zu MiB matrix (4096 columns), best of %d;\n"
           "bandwidth = best of %d passes over 512 MiB interleaved with those matvecs;\n"
           "matmul: 1024 x 4096 weights x batch 128\n\n",
           nth, slm__cpu_level_name(max), mib, reps, reps);
    printf("%-5s %-7s %12s %12s %8s %14s\n", "type", "level", "matvec GB/s", "bw GB/s", "% bw",
           "matmul GFLOP/s");

    static const slm_type types[] = {
        SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16, SLM_TYPE_Q8_0, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1,
        SLM_TYPE_Q5_0, SLM_TYPE_Q5_1, SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K,
    };
    const int64_t cols = 4096, mm_rows = 1024, batch = 128;
    float *x = slm__aligned_alloc((size_t)(batch * cols) * sizeof(float));
    float *y = slm__aligned_alloc((size_t)(batch * mm_rows) * sizeof(float));
    for (int64_t i = 0; i < batch * cols; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t ti = 0; ti < SLM_ARRAY_LEN(types); ti++) {
        slm_type t = types[ti];
        bool want = n_only == 0;
        for (int k = 0; k < n_only; k++) want |= strcmp(only[k], slm_type_name(t)) == 0;
        if (!want) continue;
        size_t row_bytes = slm_type_block_bytes(t) * (size_t)(cols / slm_type_block_size(t));
        int64_t rows = (int64_t)((mib << 20) / row_bytes);
        uint8_t *w = make_weights(t, rows, cols, &row_bytes);
        float *yv = slm__aligned_alloc((size_t)rows * sizeof(float));
        void *scratch = slm__aligned_alloc(slm__matmul_scratch_size(t, cols, batch) + 64);
        struct slm_weight wv = {.type = t, .rows = rows, .cols = cols, .data = w};
        struct slm_weight wm = {.type = t, .rows = SLM_MIN(mm_rows, rows), .cols = cols, .data = w};
        for (int l = 0; l <= (int)max; l++) {
            slm__cpu_level_set((slm_cpu_level)l);
            /* the machine is shared: alternate probe and matvec so both see the same load */
            double tb = 1e30, tv = 1e30;
            time_matmul(pool, nth, &wv, x, 1, yv, scratch, 0);
            for (int r = 0; r < reps; r++) {
                tb = SLM_MIN(tb, bw_pass(pool, nth, &bwc));
                tv = SLM_MIN(tv, time_matmul(pool, nth, &wv, x, 1, yv, scratch, 1));
            }
            double bw = (double)bwc.bytes / tb / 1e9;
            bw_run = SLM_MAX(bw_run, bw);
            double gbs = (double)row_bytes * (double)rows / tv / 1e9;
            time_matmul(pool, nth, &wm, x, batch, y, scratch, 0);
            double tm = time_matmul(pool, nth, &wm, x, batch, y, scratch, l == 0 ? 1 : reps);
            double gflops = 2.0 * (double)mm_rows * (double)cols * (double)batch / tm / 1e9;
            printf("%-5s %-7s %12.2f %12.2f %7.1f%% %14.1f\n", slm_type_name(t),
                   slm__cpu_level_name((slm_cpu_level)l), gbs, bw, 100.0 * gbs / bw, gflops);
            fflush(stdout);
        }
        slm__cpu_level_set(max);
        slm__aligned_free(w);
        slm__aligned_free(yv);
        slm__aligned_free(scratch);
    }
    printf("\nbest memory read bandwidth seen in this run: %.2f GB/s\n", bw_run);
    slm__aligned_free((void *)bwc.buf);
    slm__aligned_free(x);
    slm__aligned_free(y);
    slm_pool_free(pool);
    return 0;
}
