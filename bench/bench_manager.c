/* Benchmark of the manager's hot path: latency of slm_manager_acquire on a resident model (and
 * of the release), single thread and with threads contending, with a backend that loads
 * instantly. Prints one JSON line. Time to first token needs the engine and is measured by
 * `slm bench` once it exists.
 *   bench_manager [iterations] [threads] */
#include "slm/manager.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int handle_storage;

static slm_status instant_load(void *user, const struct slm_catalog_entry *e, slm_load_ctl *ctl,
                               void **handle, uint64_t *measured) {
    (void)user, (void)e, (void)ctl;
    *handle = &handle_storage;
    *measured = 0;
    return SLM_OK;
}

static void instant_unload(void *user, void *handle) {
    (void)user, (void)handle;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct run {
    slm_manager *m;
    long iters;
    uint64_t *acq, *rel;
    pthread_t t;
};

static void *run_main(void *arg) {
    struct run *r = arg;
    for (long i = 0; i < r->iters; i++) {
        slm_lease *l = NULL;
        uint64_t t0 = now_ns();
        if (slm_manager_acquire(r->m, "bench", NULL, &l) != SLM_OK) abort();
        uint64_t t1 = now_ns();
        slm_manager_release(r->m, l);
        uint64_t t2 = now_ns();
        r->acq[i] = t1 - t0;
        r->rel[i] = t2 - t1;
    }
    return NULL;
}

/* Runs n threads of iters each; fills p50/p99 of acquire and release over all of them. */
static void measure(slm_manager *m, int n, long iters, double out[4]) {
    struct run *runs = calloc((size_t)n, sizeof *runs);
    uint64_t *acq = malloc(sizeof(uint64_t) * (size_t)(n * iters));
    uint64_t *rel = malloc(sizeof(uint64_t) * (size_t)(n * iters));
    for (int i = 0; i < n; i++) {
        runs[i] = (struct run){m, iters, acq + i * iters, rel + i * iters, 0};
        pthread_create(&runs[i].t, NULL, run_main, &runs[i]);
    }
    for (int i = 0; i < n; i++) pthread_join(runs[i].t, NULL);
    size_t total = (size_t)(n * iters);
    qsort(acq, total, sizeof *acq, cmp_u64);
    qsort(rel, total, sizeof *rel, cmp_u64);
    out[0] = (double)acq[total / 2];
    out[1] = (double)acq[total * 99 / 100];
    out[2] = (double)rel[total / 2];
    out[3] = (double)rel[total * 99 / 100];
    free(acq);
    free(rel);
    free(runs);
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (iters <= 0 || threads <= 0) {
        fprintf(stderr, "usage: bench_manager [iterations] [threads]\n");
        return 2;
    }
    slm_catalog *cat;
    struct slm_catalog_entry e = slm_catalog_entry_init();
    snprintf(e.id, sizeof e.id, "bench");
    e.capabilities = SLM_CAP_CHAT;
    e.footprint_estimate = 100 * SLM_MIB;
    e.keep_alive_ns = SLM_KEEP_ALIVE_FOREVER;
    struct slm_backend be = {.load = instant_load, .unload = instant_unload};
    slm_manager *m;
    if (slm_catalog_create(&cat) != SLM_OK || slm_catalog_add(cat, &e) != SLM_OK ||
        slm_manager_create(cat, &be, NULL, &m) != SLM_OK) {
        fprintf(stderr, "bench_manager: %s\n", slm_error_detail());
        return 1;
    }
    double one[4], many[4];
    measure(m, 1, iters / 10, one); /* warm-up: loads the model */
    measure(m, 1, iters, one);
    measure(m, threads, iters, many);
    printf("{\"iterations\":%ld,\"acquire_ns\":{\"p50\":%.0f,\"p99\":%.0f},\"release_ns\":{\"p50\":"
           "%.0f,\"p99\":%.0f},\"threads\":%d,\"contended_acquire_ns\":{\"p50\":%.0f,\"p99\":%.0f}"
           "}\n",
           iters, one[0], one[1], one[2], one[3], threads, many[0], many[1]);
    slm_manager_free(m);
    slm_catalog_free(cat);
    return 0;
}
