/* The thread pool: persistent workers that run one function on ith/nth slices. Workers spin
 * briefly on a job generation counter before sleeping, because generation issues many short
 * jobs per token and a condition-variable wake-up per job would cost more than the job. */
#include "core/internal.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#define SPIN_ITERS 20000
/* While spinning, yield the core this often: when threads outnumber free cores (other processes,
 * or more threads than CPUs) the thread we wait for may need exactly this core to run. */
#define YIELD_EVERY 64

struct slm_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t run_mu; /* serialises slm_pool_run callers */
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
    atomic_uint gen;
    atomic_int pending;
    atomic_bool stop;
    slm_pool_fn fn;
    void *ctx;
    int nth;
};

struct worker_arg {
    slm_pool *pool;
    int ith;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg) {
    struct worker_arg wa = *(struct worker_arg *)arg;
    slm__free(arg);
    slm_pool *p = wa.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = 0;
        for (int i = 0; i < SPIN_ITERS; i++) {
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (g != seen || atomic_load_explicit(&p->stop, memory_order_acquire)) break;
            if (i % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
            else cpu_relax();
        }
        if (g == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv_start, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = g;
        if (wa.ith < p->nth) p->fn(p->ctx, wa.ith, p->nth);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

slm_status slm_pool_create(int n_threads, slm_pool **out) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return slm__error(SLM_E_INVALID_ARG, "thread count %d out of range 1..1024", n_threads);
    slm_pool *p = slm__calloc(1, sizeof *p);
    if (!p) return slm__error(SLM_E_NOMEM, "thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->run_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, false);
    p->threads = slm__calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) {
        slm_pool_free(p);
        return slm__error(SLM_E_NOMEM, "thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *wa = slm__malloc(sizeof *wa);
        if (wa) *wa = (struct worker_arg){.pool = p, .ith = i};
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            slm__free(wa);
            p->n_threads = i; /* only join what started */
            slm_pool_free(p);
            return slm__error(SLM_E_NOMEM, "cannot start pool thread %d", i);
        }
    }
    *out = p;
    return SLM_OK;
}

void slm_pool_free(slm_pool *p) {
    if (!p) return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->stop, true);
        pthread_cond_broadcast(&p->cv_start);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->run_mu);
    slm__free(p->threads);
    slm__free(p);
}

int slm_pool_n_threads(const slm_pool *p) { return p ? p->n_threads : 1; }

void slm_pool_run(slm_pool *p, slm_pool_fn fn, void *ctx, int nth) {
    if (!p || p->n_threads == 1 || nth <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    SLM_ASSERT(nth <= p->n_threads);
    pthread_mutex_lock(&p->run_mu);
    p->fn = fn;
    p->ctx = ctx;
    p->nth = nth;
    atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);

    fn(ctx, 0, nth);

    for (int i = 0; i < SPIN_ITERS && atomic_load_explicit(&p->pending, memory_order_acquire); i++) {
        if (i % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
        else cpu_relax();
    }
    if (atomic_load_explicit(&p->pending, memory_order_acquire)) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending)) pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->run_mu);
}

int slm_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
