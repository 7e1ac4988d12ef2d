/* A fake engine backend and a fake clock for the manager's tests: loads take simulated time on
 * the fake clock, fail on a script (transient or permanent), report sizes, and count calls,
 * concurrency and unloads of leased handles. */
#ifndef SLM_FAKE_BACKEND_H
#define SLM_FAKE_BACKEND_H

#include "slm/manager.h"

#include <pthread.h>
#include <stdatomic.h>

struct fake_clock {
    atomic_uint_fast64_t now;
};
slm_clock fake_clock_as_clock(struct fake_clock *c);
static inline void fake_clock_advance(struct fake_clock *c, uint64_t ns) {
    atomic_fetch_add(&c->now, ns);
}
static inline uint64_t fake_clock_now(struct fake_clock *c) {
    return atomic_load(&c->now);
}

#define FAKE_MAX_MODELS 16
#define FAKE_SCRIPT_MAX 8

struct fake_model {
    char id[SLM_ID_MAX];
    uint64_t load_ns;  /* simulated load time on the fake clock */
    uint64_t measured; /* measured bytes reported (0 = unknown) */
    uint64_t estimate; /* what estimate() says (0 = not provided: the catalog's figure) */
    slm_status script[FAKE_SCRIPT_MAX]; /* outcome of attempt k (1-based k-1); OK past the end */
    int n_script;
    bool ignore_cancel; /* keeps "loading" until load_ns even when cancelled */
    bool download;      /* spends the first half of load_ns "downloading" */
};

/* What a lease holder sees: users counts holders; unloading a handle with users > 0 is the bug
 * the tests look for. */
struct fake_handle {
    int model;
    atomic_int users;
};

struct fake_backend {
    pthread_mutex_t mu;
    struct fake_clock *clock;
    struct fake_model models[FAKE_MAX_MODELS];
    int n_models;
    atomic_int load_calls[FAKE_MAX_MODELS];
    atomic_int loads_total, in_flight, max_in_flight, unloads, live, leased_unloads, estimates;
    /* While unload_hold is set, unload() waits (counted in unloads_held) until it is cleared:
     * tests see what the manager does while a backend unload is in progress. */
    atomic_bool unload_hold;
    atomic_int unloads_held;
};

void fake_backend_init(struct fake_backend *b, struct fake_clock *clock);
void fake_backend_destroy(struct fake_backend *b);
/* Adds a model (copied); returns its index. */
int fake_backend_add(struct fake_backend *b, const struct fake_model *m);
int fake_backend_index(struct fake_backend *b, const char *id);
struct slm_backend fake_backend_as_backend(struct fake_backend *b);
/* A catalog entry for a fake model of that footprint. */
struct slm_catalog_entry fake_entry(const char *id, uint64_t footprint, unsigned caps,
                                    slm_complexity tier, uint64_t n_params);

/* Polls (1 ms real sleeps) until pred(arg) is true; fails the test after 60 s of real time, which
 * only guards against hangs (no assertion is made on timing). */
void fake_wait_until(bool (*pred)(void *arg), void *arg, const char *what);

#endif
