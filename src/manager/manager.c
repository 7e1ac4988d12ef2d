/* The residency cache and the loader (SPEC §3): one mutex guards all model records and the
 * memory accounting, so the budget and lease rules are checked in one place; backend loads run
 * on a small pool of loader threads outside the lock, and backend unloads run outside it too, on
 * the thread that retired the model, while its bytes stay counted until they are freed; time
 * only moves through the injectable clock, and everything time-driven (keep-alive, timeouts,
 * due retries) happens in slm_manager_tick(), called by a housekeeping thread or by tests, while
 * a waiting request times its own wait to its deadline on the system clock. */
#include "manager/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One load episode in flight for a model (single-flight: at most one per model). It is the
 * slm_load_ctl handed to the backend. */
struct slm_load_ctl {
    slm_manager *mgr;
    struct mrec *rec;
    int attempt;         /* attempts started so far */
    uint64_t not_before; /* the next attempt may not start earlier (backoff) */
    uint64_t started_ns, first_start_ns;
    bool running;   /* in the backend now */
    bool abandoned; /* cancelled or timed out: waiters were told, the result is dropped */
    atomic_bool cancelled;
    struct slm_load_ctl *next; /* loader queue link while waiting to (re)start */
};

/* A backend handle on its way out. Its bytes and its model slot stay counted in the budget until
 * the backend has freed them; each loaded model owns one of these from its load on, so retiring
 * it needs no allocation under the lock. */
struct retiring {
    void *handle;
    uint64_t bytes;
    struct retiring *next;
};

struct mrec {
    char id[SLM_ID_MAX];
    struct slm_catalog_entry entry; /* snapshot taken when the last episode started */
    slm_model_state state;
    bool pinned, queued, victim;
    bool planned; /* queued, and models were evicted to make room for it */
    uint64_t queue_seq;
    uint64_t footprint; /* bytes to reserve for the next load */
    uint64_t estimate;  /* the estimate behind it (backend's, else the catalog's) */
    uint64_t reserved;  /* bytes counted in the budget now */
    void *handle;
    struct retiring *tomb; /* while loaded: the record its handle retires with */
    int leases, waiters, queue_waiters;
    uint64_t use_seq, last_use_ns, expire_ns;
    int64_t keep_alive_ns;
    uint64_t gen, fail_gen; /* episode numbers: the current one, the last that failed */
    slm_status fail_status; /* how episode fail_gen ended (told to its waiters) */
    char fail_detail[256];
    slm_status last_status; /* the latest error seen, retried ones included (for status) */
    char last_detail[256];
    bool last_permanent;
    uint64_t last_fail_ns, last_ok_ns;
    uint64_t progress_done, progress_total;
    struct slm_load_ctl *job;
    struct slm_model_stats stats;
};

struct slm_lease {
    struct mrec *rec;
    void *handle;
    int64_t keep_alive_ns;
};

struct slm_manager {
    slm_catalog *cat;
    struct slm_backend be;
    struct slm_manager_params p;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* acquire waiters and backend sleepers */
    pthread_cond_t load_cv; /* loader threads */
    struct mrec **recs;
    size_t n_recs, cap_recs;
    uint64_t used;             /* sum of reserved, plus the bytes of retiring handles */
    uint64_t releasing;        /* bytes of retiring handles */
    int n_releasing;           /* retiring handles */
    int n_active;              /* records with reserved > 0, plus retiring handles */
    struct retiring *retiring; /* handles to give back to the backend, outside the lock */
    bool timed;                /* the clock is CLOCK_MONOTONIC: waits can be timed on it */
    int queue_len;             /* requests waiting for memory */
    uint64_t seq, gen_counter, rng;
    struct slm_load_ctl *jobs_head; /* loader queue, FIFO */
    bool stopping;
    pthread_t *loaders;
    int n_loaders;
    bool hk_on, hk_stop;
    pthread_t hk;
    pthread_mutex_t hk_mu;
    pthread_cond_t hk_cv;
};

/* ---- names and defaults ------------------------------------------------------------------- */

static const char *const state_names[] = {[SLM_MODEL_NOT_LOADED] = "not-loaded",
                                          [SLM_MODEL_DOWNLOADING] = "downloading",
                                          [SLM_MODEL_LOADING] = "loading",
                                          [SLM_MODEL_LOADED] = "loaded",
                                          [SLM_MODEL_FAILED] = "failed"};
static const char *const health_names[] = {[SLM_HEALTH_HEALTHY] = "healthy",
                                           [SLM_HEALTH_DEGRADED] = "degraded",
                                           [SLM_HEALTH_UNAVAILABLE] = "unavailable"};

const char *slm_model_state_name(slm_model_state s) {
    return (unsigned)s < SLM_ARRAY_LEN(state_names) ? state_names[s] : "?";
}
const char *slm_model_health_name(slm_model_health h) {
    return (unsigned)h < SLM_ARRAY_LEN(health_names) ? health_names[h] : "?";
}

bool slm_status_is_transient(slm_status st) {
    return st == SLM_E_IO || st == SLM_E_NOMEM || st == SLM_E_BUSY;
}

/* MemAvailable from /proc/meminfo; the free-page count where that file is missing. */
static uint64_t proc_mem_available(void *ctx) {
    (void)ctx;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    if (f) fclose(f);
    if (found) return (uint64_t)kb * 1024;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : UINT64_MAX;
}

struct slm_manager_params slm_manager_default_params(void) {
    return (struct slm_manager_params){
        .memory_budget = 2 * SLM_GIB,
        .max_models = 3,
        .system_reserve = 100 * SLM_MIB,
        .keep_alive_ns = 5 * 60 * SLM_NS_PER_SEC,
        .load_timeout_ns = 60 * SLM_NS_PER_SEC,
        .max_retries = 3,
        .retry_base_ns = 2 * SLM_NS_PER_SEC,
        .max_concurrent_loads = 2,
        .max_queue = 64,
        .default_wait_ns = 30 * SLM_NS_PER_SEC,
        .health_window_ns = 5 * 60 * SLM_NS_PER_SEC,
        .tick_interval_ns = 10 * SLM_NS_PER_MS,
        .clock = slm_clock_system(),
        .memory = {.available = proc_mem_available, .ctx = NULL},
        .seed = 0x9e3779b97f4a7c15ull,
    };
}

struct slm_acquire_params slm_acquire_default_params(void) {
    return (struct slm_acquire_params){.keep_alive_ns = SLM_KEEP_ALIVE_DEFAULT, .deadline_ns = 0};
}

static uint64_t now_ns(const slm_manager *m) {
    return slm_clock_now(&m->p.clock);
}

/* ---- records and accounting (all with m->mu held) ----------------------------------------- */

static struct mrec *rec_find(const slm_manager *m, const char *name) {
    for (size_t i = 0; i < m->n_recs; i++) {
        struct mrec *r = m->recs[i];
        if (!strcmp(r->id, name) || (r->entry.alias[0] && !strcmp(r->entry.alias, name))) return r;
    }
    return NULL;
}

static int64_t model_keep_alive(const slm_manager *m, const struct mrec *r) {
    return r->entry.keep_alive_ns != SLM_KEEP_ALIVE_DEFAULT ? r->entry.keep_alive_ns
                                                            : m->p.keep_alive_ns;
}

/* The record for a catalog model, created on first use. NULL with the error set. */
static struct mrec *rec_get(slm_manager *m, const char *name) {
    struct mrec *r = rec_find(m, name);
    if (r) return r;
    struct slm_catalog_entry e;
    if (slm_catalog_find(m->cat, name, &e) != SLM_OK) return NULL;
    if ((r = rec_find(m, e.id))) return r;
    if (m->n_recs == m->cap_recs) {
        size_t cap = m->cap_recs ? m->cap_recs * 2 : 16;
        struct mrec **nr = slm__realloc(m->recs, cap * sizeof *nr);
        if (!nr) return slm__error(SLM_E_NOMEM, "manager: out of memory"), NULL;
        m->recs = nr;
        m->cap_recs = cap;
    }
    if (!(r = slm__calloc(1, sizeof *r)))
        return slm__error(SLM_E_NOMEM, "manager: out of memory"), NULL;
    memcpy(r->id, e.id, sizeof r->id);
    r->entry = e;
    r->pinned = e.pinned;
    r->state = SLM_MODEL_NOT_LOADED;
    r->keep_alive_ns = model_keep_alive(m, r);
    r->last_status = SLM_OK;
    m->recs[m->n_recs++] = r;
    return r;
}

static void reserve(slm_manager *m, struct mrec *r, uint64_t bytes) {
    SLM_ASSERT(r->reserved == 0 && bytes > 0);
    r->reserved = bytes;
    m->used += bytes;
    m->n_active++;
    SLM_ASSERT(m->used <= m->p.memory_budget && m->n_active <= m->p.max_models);
}

static void unreserve(slm_manager *m, struct mrec *r) {
    SLM_ASSERT(r->reserved > 0 && m->used >= r->reserved && m->n_active > 0);
    m->used -= r->reserved;
    m->n_active--;
    r->reserved = 0;
}

/* System memory still available once the loads in flight have taken their reservations. */
static uint64_t sys_available(const slm_manager *m) {
    uint64_t avail = m->p.memory.available(m->p.memory.ctx), pending = 0;
    for (size_t i = 0; i < m->n_recs; i++)
        if (m->recs[i]->state != SLM_MODEL_LOADED) pending += m->recs[i]->reserved;
    return avail > pending ? avail - pending : 0;
}

/* Waiters of a loaded model are leases about to be granted. */
static bool evictable(const struct mrec *r, const struct mrec *self) {
    return r != self && r->state == SLM_MODEL_LOADED && r->leases == 0 && r->waiters == 0 &&
           !r->pinned && !r->job;
}

/* Would `need` more bytes (and one more model slot if new_slot) fit after freeing `freed` bytes
 * and `freed_slots` models? The system check only applies to new loads: a grown measurement
 * is memory already taken. */
static bool fits(const slm_manager *m, uint64_t need, bool new_slot, uint64_t sys, uint64_t freed,
                 int freed_slots) {
    if (m->used - freed + need > m->p.memory_budget) return false;
    if (!new_slot) return true;
    if (m->n_active - freed_slots + 1 > m->p.max_models) return false;
    return sys + freed >= need + m->p.system_reserve;
}

/* Marks the least recently used evictable models (r->victim) that must go for `need` bytes to
 * fit; false (nothing marked) if even evicting all of them is not enough. A new load may count
 * the memory of retiring handles as free, since it will not start before that memory is (see
 * admit_one); a grown measurement is memory already taken and may not. */
static bool plan_room(slm_manager *m, const struct mrec *self, uint64_t need, bool new_slot) {
    uint64_t sys = new_slot ? sys_available(m) : 0, freed = new_slot ? m->releasing : 0;
    int slots = new_slot ? m->n_releasing : 0;
    for (size_t i = 0; i < m->n_recs; i++) m->recs[i]->victim = false;
    while (!fits(m, need, new_slot, sys, freed, slots)) {
        struct mrec *lru = NULL;
        for (size_t i = 0; i < m->n_recs; i++) {
            struct mrec *r = m->recs[i];
            if (!r->victim && evictable(r, self) && (!lru || r->use_seq < lru->use_seq)) lru = r;
        }
        if (!lru) {
            for (size_t i = 0; i < m->n_recs; i++) m->recs[i]->victim = false;
            return false;
        }
        lru->victim = true;
        freed += lru->reserved;
        slots++;
    }
    return true;
}

enum unload_reason { UNLOAD_EXPLICIT, UNLOAD_EVICT, UNLOAD_IDLE };

/* Moves r's reservation (bytes and slot) to a retiring handle: still counted until reaped. */
static void retire(slm_manager *m, struct mrec *r, struct retiring *t, void *handle) {
    SLM_ASSERT(t && r->reserved > 0);
    t->handle = handle;
    t->bytes = r->reserved;
    t->next = m->retiring;
    m->retiring = t;
    m->releasing += r->reserved;
    m->n_releasing++;
    r->reserved = 0;
}

/* Takes the bytes and slots of handles the backend has freed off the budget. */
static void settle(slm_manager *m, struct retiring *list) {
    while (list) {
        struct retiring *t = list;
        list = t->next;
        SLM_ASSERT(m->used >= t->bytes && m->releasing >= t->bytes && m->n_active > 0);
        m->used -= t->bytes;
        m->releasing -= t->bytes;
        m->n_releasing--;
        m->n_active--;
        slm__free(t);
    }
}

/* Gives the retired handles to the backend with the lock dropped (so that no request waits for
 * an munmap or a free), then takes their bytes off the budget and admits the queued loads they
 * make room for. Called and returns with the lock held. */
static void admit_queue(slm_manager *m);
static void reap(slm_manager *m) {
    while (m->retiring) {
        struct retiring *list = m->retiring;
        m->retiring = NULL;
        pthread_mutex_unlock(&m->mu);
        for (struct retiring *t = list; t; t = t->next) m->be.unload(m->be.user, t->handle);
        pthread_mutex_lock(&m->mu);
        settle(m, list);
        admit_queue(m);
        pthread_cond_broadcast(&m->cv);
    }
}

/* Every public entry that may unload (directly, by eviction, or by keep-alive) leaves through
 * here. */
static void unlock_reaping(slm_manager *m) {
    reap(m);
    pthread_mutex_unlock(&m->mu);
}

static void unload_rec(slm_manager *m, struct mrec *r, enum unload_reason why) {
    SLM_ASSERT(r->state == SLM_MODEL_LOADED && r->leases == 0);
    retire(m, r, r->tomb, r->handle);
    r->tomb = NULL;
    r->handle = NULL;
    r->state = SLM_MODEL_NOT_LOADED;
    r->progress_done = r->progress_total = 0;
    if (why == UNLOAD_EVICT) r->stats.evictions++;
    if (why == UNLOAD_IDLE) r->stats.idle_unloads++;
    SLM_LOG_I("event=unload model=%s reason=%s", r->id,
              why == UNLOAD_EVICT  ? "evict"
              : why == UNLOAD_IDLE ? "idle"
                                   : "explicit");
}

/* Retires the models plan_room marked; true if there were any. */
static bool evict_victims(slm_manager *m) {
    bool any = false;
    for (size_t i = 0; i < m->n_recs; i++)
        if (m->recs[i]->victim) {
            m->recs[i]->victim = false;
            unload_rec(m, m->recs[i], UNLOAD_EVICT);
            any = true;
        }
    return any;
}

/* ---- loader queue ------------------------------------------------------------------------- */

static void jobs_push(slm_manager *m, struct slm_load_ctl *j) {
    j->next = NULL;
    struct slm_load_ctl **pp = &m->jobs_head;
    while (*pp) pp = &(*pp)->next;
    *pp = j;
    pthread_cond_broadcast(&m->load_cv);
}

static void jobs_remove(slm_manager *m, struct slm_load_ctl *j) {
    for (struct slm_load_ctl **pp = &m->jobs_head; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            return;
        }
}

static void set_last_error(struct mrec *r, slm_status st, const char *detail) {
    r->last_status = st;
    snprintf(r->last_detail, sizeof r->last_detail, "%s", detail);
}

/* Ends the episode in failure: waiters of this generation return st. The reservation is given
 * back unless a backend call still runs (then it is when that call returns). */
static void fail_episode(slm_manager *m, struct mrec *r, slm_status st, const char *detail,
                         uint64_t now) {
    set_last_error(r, st, detail);
    r->state = SLM_MODEL_FAILED;
    r->fail_gen = r->gen;
    r->fail_status = st;
    snprintf(r->fail_detail, sizeof r->fail_detail, "%s", detail);
    if (st != SLM_E_CANCELLED) {
        r->last_permanent = !slm_status_is_transient(st);
        r->last_fail_ns = now;
    }
    struct slm_load_ctl *j = r->job;
    if (j && j->running) {
        j->abandoned = true;
        atomic_store(&j->cancelled, true);
    } else if (j) {
        jobs_remove(m, j);
        slm__free(j);
        r->job = NULL;
        unreserve(m, r);
    }
    SLM_LOG_W("event=load_failed model=%s status=%s detail=\"%s\"", r->id, slm_status_name(st),
              detail);
    pthread_cond_broadcast(&m->cv);
}

/* Starts r's load if it fits, evicting for it; while the memory it needs is still being freed
 * by reap(), r stays queued (the reap admits it). True if anything changed. Once victims were
 * retired for r, the system-memory part of that plan stands: the budget and the model count
 * are checked again when their memory is back, not the system reading, which need not rise
 * when mapped weights are dropped. */
static bool admit_one(slm_manager *m, struct mrec *r) {
    bool budget_fits =
        m->used + r->footprint <= m->p.memory_budget && m->n_active + 1 <= m->p.max_models;
    if (!(r->planned && budget_fits)) {
        if (!plan_room(m, r, r->footprint, true)) return false;
        if (evict_victims(m)) {
            r->planned = true;
            return true;
        }
        if (m->n_releasing && !fits(m, r->footprint, true, sys_available(m), 0, 0)) return false;
    }
    r->planned = false;
    r->queued = false;
    m->queue_len -= r->queue_waiters;
    r->queue_waiters = 0;
    struct slm_load_ctl *j = slm__calloc(1, sizeof *j);
    if (!j) {
        fail_episode(m, r, SLM_E_NOMEM, "manager: out of memory", now_ns(m));
        return true;
    }
    j->mgr = m;
    j->rec = r;
    atomic_init(&j->cancelled, false);
    reserve(m, r, r->footprint);
    r->job = j;
    r->state = SLM_MODEL_LOADING;
    r->progress_done = r->progress_total = 0;
    jobs_push(m, j);
    return true;
}

/* Starts the loads of queued models that fit now, oldest first (a smaller later one may pass
 * a larger one that still does not fit). */
static void admit_queue(slm_manager *m) {
    uint64_t after = 0;
    bool changed = false;
    for (;;) {
        struct mrec *next = NULL;
        for (size_t i = 0; i < m->n_recs; i++) {
            struct mrec *r = m->recs[i];
            if (r->queued && r->queue_seq > after && (!next || r->queue_seq < next->queue_seq))
                next = r;
        }
        if (!next) break;
        after = next->queue_seq;
        changed |= admit_one(m, next);
    }
    if (changed) pthread_cond_broadcast(&m->cv);
}

static slm_status start_episode(slm_manager *m, struct mrec *r, uint64_t footprint) {
    if (!footprint)
        return slm__error(SLM_E_INVALID_ARG, "model '%s' has no footprint estimate", r->id);
    if (footprint > m->p.memory_budget)
        return slm__error(SLM_E_INSUFFICIENT_MEMORY,
                          "model '%s' needs %llu bytes, more than the memory budget of %llu", r->id,
                          (unsigned long long)footprint, (unsigned long long)m->p.memory_budget);
    r->gen = ++m->gen_counter;
    r->footprint = footprint;
    r->queued = true;
    r->planned = false;
    r->queue_seq = ++m->seq;
    r->state = SLM_MODEL_NOT_LOADED;
    admit_queue(m);
    return SLM_OK;
}

static uint64_t next_random(slm_manager *m) {
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return m->rng * 0x2545f4914f6cdd1dull;
}

/* Retry k (1-based) waits base × 2^(k-1), plus up to half of that again as jitter. */
static uint64_t backoff_ns(slm_manager *m, int k) {
    uint64_t d = m->p.retry_base_ns << (k - 1 < 40 ? k - 1 : 40);
    double r = (double)(next_random(m) >> 11) * 0x1.0p-53;
    return d + (uint64_t)((double)(d / 2) * r);
}

/* *tomb: the loader's spare retiring record; taken (set to NULL) when the handle needs it. */
static void finish_attempt(slm_manager *m, struct slm_load_ctl *j, slm_status st, void *h,
                           uint64_t measured, const char *detail, struct retiring **tomb) {
    struct mrec *r = j->rec;
    uint64_t now = now_ns(m);
    j->running = false;
    if (j->abandoned) {
        if (st == SLM_OK) {
            retire(m, r, *tomb, h);
            *tomb = NULL;
        } else {
            unreserve(m, r);
        }
        r->job = NULL;
        slm__free(j);
        admit_queue(m);
        pthread_cond_broadcast(&m->cv);
        return;
    }
    if (st == SLM_OK) {
        if (measured) {
            slm_catalog_set_measured(m->cat, r->id, measured);
            r->entry.footprint_measured = measured;
        }
        uint64_t want = measured ? measured : r->reserved;
        if (want > r->reserved) {
            if (!plan_room(m, r, want - r->reserved, false)) {
                char d[256];
                snprintf(d, sizeof d,
                         "model '%s' measured %llu bytes once loaded; that does not "
                         "fit the memory budget",
                         r->id, (unsigned long long)measured);
                retire(m, r, *tomb, h);
                *tomb = NULL;
                r->job = NULL;
                slm__free(j);
                r->stats.load_failures++;
                fail_episode(m, r, SLM_E_INSUFFICIENT_MEMORY, d, now);
                return;
            }
            /* The growth is memory already taken, so its room is made at once, under the
             * lock: a rare path (a measurement above the estimate with the budget full). */
            evict_victims(m);
            struct retiring *list = m->retiring;
            m->retiring = NULL;
            for (struct retiring *t = list; t; t = t->next) m->be.unload(m->be.user, t->handle);
            settle(m, list);
        }
        m->used = m->used - r->reserved + want;
        r->reserved = want;
        SLM_ASSERT(m->used <= m->p.memory_budget);
        r->handle = h;
        r->tomb = *tomb;
        *tomb = NULL;
        r->state = SLM_MODEL_LOADED;
        r->job = NULL;
        r->stats.loads++;
        r->stats.last_load_ns = now - j->first_start_ns;
        r->stats.load_ns_total += r->stats.last_load_ns;
        r->last_ok_ns = now;
        r->last_use_ns = now;
        r->use_seq = ++m->seq;
        r->keep_alive_ns = model_keep_alive(m, r);
        r->expire_ns = r->keep_alive_ns < 0 ? UINT64_MAX : now + (uint64_t)r->keep_alive_ns;
        slm__free(j);
        SLM_LOG_I("event=loaded model=%s bytes=%llu load_ms=%.1f", r->id,
                  (unsigned long long)r->reserved, (double)r->stats.last_load_ns / 1e6);
        admit_queue(m);
        pthread_cond_broadcast(&m->cv);
        return;
    }
    if (st != SLM_E_CANCELLED) r->stats.load_failures++;
    if (slm_status_is_transient(st) && j->attempt <= m->p.max_retries) {
        set_last_error(r, st, detail);
        r->last_fail_ns = now;
        r->last_permanent = false;
        r->state = SLM_MODEL_LOADING;
        j->not_before = now + backoff_ns(m, j->attempt);
        jobs_push(m, j);
        SLM_LOG_W("event=load_retry model=%s attempt=%d status=%s in_ms=%.0f", r->id, j->attempt,
                  slm_status_name(st), (double)(j->not_before - now) / 1e6);
        return;
    }
    fail_episode(m, r, st, detail, now);
}

static void *loader_main(void *arg) {
    slm_manager *m = arg;
    struct retiring *tomb = NULL; /* for the next handle loaded, allocated before the load */
    pthread_mutex_lock(&m->mu);
    while (!m->stopping) {
        uint64_t now = now_ns(m);
        struct slm_load_ctl *j = m->jobs_head;
        while (j && j->not_before > now) j = j->next;
        if (!j) {
            pthread_cond_wait(&m->load_cv, &m->mu);
            continue;
        }
        jobs_remove(m, j);
        struct mrec *r = j->rec;
        j->running = true;
        j->attempt++;
        j->started_ns = now;
        if (j->attempt == 1) j->first_start_ns = now;
        r->state = SLM_MODEL_LOADING;
        struct slm_catalog_entry e = r->entry;
        pthread_mutex_unlock(&m->mu);
        void *h = NULL;
        uint64_t measured = 0;
        slm_error_clear();
        slm_status st = SLM_OK;
        if (!tomb && !(tomb = slm__malloc(sizeof *tomb)))
            st = slm__error(SLM_E_NOMEM, "manager: out of memory");
        if (st == SLM_OK) st = m->be.load(m->be.user, &e, j, &h, &measured);
        char detail[256];
        snprintf(detail, sizeof detail, "%s", st == SLM_OK ? "" : slm_error_detail());
        if (st != SLM_OK && h) {
            m->be.unload(m->be.user, h);
            h = NULL;
        }
        if (st == SLM_OK && !h) {
            st = SLM_E_INTERNAL;
            snprintf(detail, sizeof detail, "backend returned no handle for '%s'", e.id);
        }
        pthread_mutex_lock(&m->mu);
        finish_attempt(m, j, st, h, measured, detail, &tomb);
        reap(m);
    }
    pthread_mutex_unlock(&m->mu);
    slm__free(tomb);
    return NULL;
}

/* ---- backend side of a load --------------------------------------------------------------- */

/* Waits on m->cv until woken or until the clock reads t_ns: on the system clock the wait is
 * timed, so a deadline is met by the waiter itself and not at the next housekeeping tick; an
 * injected clock only moves by ticks, which wake every waiter. */
static void wait_until(slm_manager *m, uint64_t t_ns) {
    if (!m->timed) {
        pthread_cond_wait(&m->cv, &m->mu);
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull),
                          .tv_nsec = (long)(t_ns % 1000000000ull)};
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}

void slm_load_ctl_progress(slm_load_ctl *ctl, slm_model_state stage, uint64_t done,
                           uint64_t total) {
    slm_manager *m = ctl->mgr;
    pthread_mutex_lock(&m->mu);
    if (!ctl->abandoned && (stage == SLM_MODEL_DOWNLOADING || stage == SLM_MODEL_LOADING)) {
        ctl->rec->state = stage;
        ctl->rec->progress_done = done;
        ctl->rec->progress_total = total;
    }
    pthread_mutex_unlock(&m->mu);
}

bool slm_load_ctl_cancelled(const slm_load_ctl *ctl) {
    return atomic_load(&ctl->cancelled);
}

int slm_load_ctl_attempt(const slm_load_ctl *ctl) {
    return ctl->attempt;
}

bool slm_load_ctl_sleep_until(slm_load_ctl *ctl, uint64_t t_ns) {
    slm_manager *m = ctl->mgr;
    pthread_mutex_lock(&m->mu);
    while (!atomic_load(&ctl->cancelled) && now_ns(m) < t_ns) wait_until(m, t_ns);
    pthread_mutex_unlock(&m->mu);
    return !atomic_load(&ctl->cancelled);
}

/* ---- housekeeping ------------------------------------------------------------------------- */

void slm_manager_tick(slm_manager *m) {
    pthread_mutex_lock(&m->mu);
    uint64_t now = now_ns(m);
    for (size_t i = 0; i < m->n_recs; i++) {
        struct mrec *r = m->recs[i];
        if (r->state == SLM_MODEL_LOADED && r->leases == 0 && r->waiters == 0 && !r->pinned &&
            r->expire_ns <= now)
            unload_rec(m, r, UNLOAD_IDLE);
        struct slm_load_ctl *j = r->job;
        if (j && j->running && !j->abandoned && now - j->started_ns >= m->p.load_timeout_ns) {
            char d[160];
            snprintf(d, sizeof d, "loading '%s' took longer than %.0f s (attempt %d)", r->id,
                     (double)m->p.load_timeout_ns / 1e9, j->attempt);
            r->stats.load_failures++;
            fail_episode(m, r, SLM_E_TIMEOUT, d, now);
        }
    }
    admit_queue(m);
    pthread_cond_broadcast(&m->cv);
    pthread_cond_broadcast(&m->load_cv);
    unlock_reaping(m);
}

static void *housekeeping_main(void *arg) {
    slm_manager *m = arg;
    pthread_mutex_lock(&m->hk_mu);
    while (!m->hk_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t t = (uint64_t)ts.tv_nsec + m->p.tick_interval_ns;
        ts.tv_sec += (time_t)(t / 1000000000ull);
        ts.tv_nsec = (long)(t % 1000000000ull);
        pthread_cond_timedwait(&m->hk_cv, &m->hk_mu, &ts);
        if (m->hk_stop) break;
        pthread_mutex_unlock(&m->hk_mu);
        slm_manager_tick(m);
        pthread_mutex_lock(&m->hk_mu);
    }
    pthread_mutex_unlock(&m->hk_mu);
    return NULL;
}

/* ---- create / free ------------------------------------------------------------------------ */

static slm_status check_params(const struct slm_manager_params *p, const struct slm_backend *be) {
    if (!be || !be->load || !be->unload)
        return slm__error(SLM_E_INVALID_ARG, "manager: backend needs load and unload");
    if (!p->memory_budget || p->max_models < 1 || p->max_concurrent_loads < 1 ||
        p->max_concurrent_loads > 64 || p->max_queue < 0 || p->max_retries < 0 ||
        !p->clock.now_ns || !p->memory.available || !p->load_timeout_ns)
        return slm__error(SLM_E_INVALID_ARG, "manager: invalid parameters");
    if (p->keep_alive_ns < 0 && p->keep_alive_ns != SLM_KEEP_ALIVE_FOREVER)
        return slm__error(SLM_E_INVALID_ARG, "manager: invalid keep-alive");
    return SLM_OK;
}

slm_status slm_manager_create(slm_catalog *catalog, const struct slm_backend *backend,
                              const struct slm_manager_params *params, slm_manager **out) {
    *out = NULL;
    struct slm_manager_params p = params ? *params : slm_manager_default_params();
    slm_status st = check_params(&p, backend);
    if (st != SLM_OK) return st;
    if (!catalog) return slm__error(SLM_E_INVALID_ARG, "manager: no catalog");
    slm_manager *m = slm__calloc(1, sizeof *m);
    if (!m || !(m->loaders = slm__calloc((size_t)p.max_concurrent_loads, sizeof *m->loaders))) {
        slm__free(m);
        return slm__error(SLM_E_NOMEM, "manager: out of memory");
    }
    m->cat = catalog;
    m->be = *backend;
    m->p = p;
    m->rng = p.seed ? p.seed : 1;
    m->timed = p.clock.now_ns == slm_clock_system().now_ns;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, &ca);
    pthread_cond_init(&m->load_cv, NULL);
    pthread_mutex_init(&m->hk_mu, NULL);
    pthread_cond_init(&m->hk_cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < p.max_concurrent_loads; i++) {
        if (pthread_create(&m->loaders[i], NULL, loader_main, m) != 0) {
            slm_manager_free(m);
            return slm__error(SLM_E_NOMEM, "manager: cannot start loader threads");
        }
        m->n_loaders++;
    }
    if (p.tick_interval_ns) {
        if (pthread_create(&m->hk, NULL, housekeeping_main, m) != 0) {
            slm_manager_free(m);
            return slm__error(SLM_E_NOMEM, "manager: cannot start the housekeeping thread");
        }
        m->hk_on = true;
    }
    *out = m;
    return SLM_OK;
}

void slm_manager_free(slm_manager *m) {
    if (!m) return;
    if (m->hk_on) {
        pthread_mutex_lock(&m->hk_mu);
        m->hk_stop = true;
        pthread_cond_signal(&m->hk_cv);
        pthread_mutex_unlock(&m->hk_mu);
        pthread_join(m->hk, NULL);
    }
    pthread_mutex_lock(&m->mu);
    uint64_t now = now_ns(m);
    for (size_t i = 0; i < m->n_recs; i++) {
        struct mrec *r = m->recs[i];
        SLM_ASSERT(r->leases == 0 && r->waiters == 0);
        if (r->job && !r->job->abandoned)
            fail_episode(m, r, SLM_E_CANCELLED, "manager shutting down", now);
    }
    m->stopping = true;
    pthread_cond_broadcast(&m->load_cv);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    /* Loader threads finish their backend call (told to cancel) and give back its memory. */
    for (int i = 0; i < m->n_loaders; i++) pthread_join(m->loaders[i], NULL);
    for (size_t i = 0; i < m->n_recs; i++) {
        struct mrec *r = m->recs[i];
        SLM_ASSERT(!r->job);
        if (r->state == SLM_MODEL_LOADED) unload_rec(m, r, UNLOAD_EXPLICIT);
    }
    pthread_mutex_lock(&m->mu);
    unlock_reaping(m);
    for (size_t i = 0; i < m->n_recs; i++) slm__free(m->recs[i]);
    SLM_ASSERT(m->used == 0 && m->n_active == 0);
    pthread_cond_destroy(&m->hk_cv);
    pthread_mutex_destroy(&m->hk_mu);
    pthread_cond_destroy(&m->load_cv);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    slm__free(m->recs);
    slm__free(m->loaders);
    slm__free(m);
}

/* ---- leases ------------------------------------------------------------------------------- */

/* Would the backend estimate these two entries alike? */
static bool same_source(const struct slm_catalog_entry *a, const struct slm_catalog_entry *b) {
    return !strcmp(a->local_path, b->local_path) && !strcmp(a->sha256, b->sha256) &&
           a->file_size == b->file_size && a->serve_context == b->serve_context &&
           a->load_type == b->load_type && a->footprint_estimate == b->footprint_estimate;
}

static slm_lease *lease_make(slm_manager *m, struct mrec *r, int64_t keep_alive) {
    slm_lease *l = slm__malloc(sizeof *l);
    if (!l) return slm__error(SLM_E_NOMEM, "manager: out of memory"), NULL;
    *l = (slm_lease){.rec = r, .handle = r->handle, .keep_alive_ns = keep_alive};
    r->leases++;
    r->stats.requests++;
    r->use_seq = ++m->seq;
    r->last_use_ns = now_ns(m);
    return l;
}

slm_status slm_manager_acquire(slm_manager *m, const char *id, const struct slm_acquire_params *p,
                               slm_lease **out) {
    *out = NULL;
    struct slm_acquire_params dp = slm_acquire_default_params();
    if (!p) p = &dp;
    if (!id) return slm__error(SLM_E_INVALID_ARG, "acquire: no model id");
    if (p->keep_alive_ns < 0 && p->keep_alive_ns != SLM_KEEP_ALIVE_DEFAULT &&
        p->keep_alive_ns != SLM_KEEP_ALIVE_FOREVER)
        return slm__error(SLM_E_INVALID_ARG, "acquire: invalid keep-alive");
    pthread_mutex_lock(&m->mu);
    struct mrec *r = rec_find(m, id);
    if (r && r->state == SLM_MODEL_LOADED) {
        *out = lease_make(m, r, p->keep_alive_ns);
        pthread_mutex_unlock(&m->mu);
        return *out ? SLM_OK : SLM_E_NOMEM;
    }
    uint64_t known = r ? r->estimate : 0;
    struct slm_catalog_entry prev;
    if (known) prev = r->entry;
    pthread_mutex_unlock(&m->mu);

    /* Not resident: the footprint comes from the catalog (measured, else estimated) or the
     * backend's estimate, computed outside the lock (it may read a file header) unless the
     * previous episode computed it for the same file and settings. */
    struct slm_catalog_entry e;
    slm_status st = slm_catalog_find(m->cat, id, &e);
    if (st != SLM_OK) return st;
    uint64_t estimate = e.footprint_estimate, est = 0;
    if (known && same_source(&prev, &e))
        estimate = known;
    else if (m->be.estimate && m->be.estimate(m->be.user, &e, &est) == SLM_OK && est)
        estimate = est;
    uint64_t footprint = e.footprint_measured ? e.footprint_measured : estimate;

    pthread_mutex_lock(&m->mu);
    uint64_t deadline = p->deadline_ns ? p->deadline_ns : now_ns(m) + m->p.default_wait_ns;
    if (!(r = rec_get(m, e.id))) {
        pthread_mutex_unlock(&m->mu);
        return SLM_E_NOMEM;
    }
    r->waiters++;
    uint64_t my_gen = 0, counted_gen = 0;
    bool counted = false; /* in queue_len, for episode counted_gen */
    for (;;) {
        if (r->state == SLM_MODEL_LOADED) {
            *out = lease_make(m, r, p->keep_alive_ns);
            st = *out ? SLM_OK : SLM_E_NOMEM;
            break;
        }
        if (my_gen && r->fail_gen == my_gen) {
            st = slm__error(r->fail_status, "%s", r->fail_detail);
            break;
        }
        /* A request past its deadline starts no load (nor the evictions a load may need). */
        if (!r->job && !r->queued && now_ns(m) < deadline) {
            r->entry = e;
            r->estimate = estimate;
            if ((st = start_episode(m, r, footprint)) != SLM_OK) break;
            my_gen = r->gen;
            continue;
        }
        if (!(r->job && r->job->abandoned)) my_gen = r->gen;
        /* Admission or cancellation of the episode we were counted in uncounted us. */
        if (counted && !(r->queued && r->gen == counted_gen)) counted = false;
        if (r->queued && !counted) {
            if (m->queue_len >= m->p.max_queue) {
                st = slm__error(SLM_E_BUSY,
                                "model '%s' waits for memory and the wait queue is "
                                "full (%d requests)",
                                r->id, m->p.max_queue);
                break;
            }
            counted = true;
            counted_gen = r->gen;
            r->queue_waiters++;
            m->queue_len++;
        }
        if (now_ns(m) >= deadline) {
            st = slm__error(SLM_E_BUSY, "model '%s' not ready by the deadline (%s)", r->id,
                            r->queued ? "waiting for memory: no resident model can be evicted"
                            : r->job  ? "still loading"
                                      : "not loaded");
            break;
        }
        if (m->retiring) { /* this request's admission evicted: free that memory first */
            reap(m);
            continue;
        }
        wait_until(m, deadline);
    }
    r->waiters--;
    if (counted && r->queued && r->gen == counted_gen) {
        r->queue_waiters--;
        m->queue_len--;
    }
    if (r->queued && r->waiters == 0) {
        SLM_ASSERT(r->queue_waiters == 0);
        r->queued = false;
    }
    if (st != SLM_OK) r->stats.rejected++;
    unlock_reaping(m);
    return st;
}

void slm_manager_release(slm_manager *m, slm_lease *l) {
    if (!l) return;
    pthread_mutex_lock(&m->mu);
    struct mrec *r = l->rec;
    if (r->leases <= 0) SLM_PANIC("lease released twice on model '%s'", r->id);
    r->leases--;
    uint64_t now = now_ns(m);
    r->last_use_ns = now;
    r->use_seq = ++m->seq;
    int64_t ka =
        l->keep_alive_ns != SLM_KEEP_ALIVE_DEFAULT ? l->keep_alive_ns : model_keep_alive(m, r);
    r->keep_alive_ns = ka;
    r->expire_ns = ka < 0 ? UINT64_MAX : now + (uint64_t)ka;
    if (r->leases == 0 && !r->pinned && ka == 0 && r->waiters == 0) unload_rec(m, r, UNLOAD_IDLE);
    if (r->leases == 0 && m->queue_len > 0) admit_queue(m);
    unlock_reaping(m);
    slm__free(l);
}

void *slm_lease_handle(const slm_lease *l) {
    return l->handle;
}
const char *slm_lease_model(const slm_lease *l) {
    return l->rec->id;
}

/* ---- admin -------------------------------------------------------------------------------- */

/* Caller holds the lock. Cancels the load or the queue wait of r; false if neither. */
static bool cancel_locked(slm_manager *m, struct mrec *r) {
    if (r->job && !r->job->abandoned) {
        fail_episode(m, r, SLM_E_CANCELLED, "load cancelled", now_ns(m));
        return true;
    }
    if (r->queued) {
        r->queued = false;
        m->queue_len -= r->queue_waiters;
        r->queue_waiters = 0;
        fail_episode(m, r, SLM_E_CANCELLED, "load cancelled while waiting for memory", now_ns(m));
        return true;
    }
    return false;
}

slm_status slm_manager_cancel(slm_manager *m, const char *id) {
    pthread_mutex_lock(&m->mu);
    struct mrec *r = rec_get(m, id);
    slm_status st = SLM_E_NOT_FOUND;
    if (r)
        st = cancel_locked(m, r) ? SLM_OK
                                 : slm__error(SLM_E_INVALID_ARG,
                                              "model '%s' has no load in "
                                              "flight",
                                              id);
    admit_queue(m);
    unlock_reaping(m);
    return st;
}

slm_status slm_manager_unload(slm_manager *m, const char *id) {
    pthread_mutex_lock(&m->mu);
    struct mrec *r = rec_get(m, id);
    slm_status st = r ? SLM_OK : SLM_E_NOT_FOUND;
    if (r && r->leases > 0) {
        st = slm__error(SLM_E_BUSY, "model '%s' is in use (%d leases)", r->id, r->leases);
    } else if (r && r->waiters > 0) {
        /* Those requests are leases about to be granted: an unload would fail them (or make
         * them load again) although their deadline has not passed. */
        st = slm__error(SLM_E_BUSY, "model '%s' has %d requests waiting for it", r->id, r->waiters);
    } else if (r && r->state == SLM_MODEL_LOADED) {
        unload_rec(m, r, UNLOAD_EXPLICIT);
    } else if (r) {
        cancel_locked(m, r);
    }
    admit_queue(m);
    unlock_reaping(m);
    return st;
}

slm_status slm_manager_pin(slm_manager *m, const char *id, bool pinned) {
    pthread_mutex_lock(&m->mu);
    struct mrec *r = rec_get(m, id);
    if (r) r->pinned = pinned;
    if (r && !pinned) admit_queue(m);
    unlock_reaping(m);
    return r ? SLM_OK : SLM_E_NOT_FOUND;
}

void slm_manager_record_usage(slm_manager *m, const char *id, uint64_t tokens_in,
                              uint64_t tokens_out, uint64_t duration_ns) {
    pthread_mutex_lock(&m->mu);
    struct mrec *r = rec_get(m, id);
    if (r) {
        r->stats.tokens_in += tokens_in;
        r->stats.tokens_out += tokens_out;
        r->stats.busy_ns += duration_ns;
    }
    pthread_mutex_unlock(&m->mu);
}

void slm_manager_record_cache(slm_manager *m, const char *id, uint64_t hits, uint64_t misses) {
    pthread_mutex_lock(&m->mu);
    struct mrec *r = rec_get(m, id);
    if (r) {
        r->stats.cache_hits += hits;
        r->stats.cache_misses += misses;
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---- status ------------------------------------------------------------------------------- */

static slm_model_health health_of(const slm_manager *m, const struct mrec *r, uint64_t now) {
    struct stat sb;
    if (r->entry.local_path[0] && stat(r->entry.local_path, &sb) != 0)
        return SLM_HEALTH_UNAVAILABLE;
    bool failed_since_ok = r->last_fail_ns && r->last_fail_ns >= r->last_ok_ns;
    if (r->state == SLM_MODEL_FAILED && failed_since_ok && r->last_permanent)
        return SLM_HEALTH_UNAVAILABLE;
    if (r->job && r->job->attempt > 0 && !r->job->running && !r->job->abandoned)
        return SLM_HEALTH_DEGRADED; /* in backoff */
    if (r->last_fail_ns && now - r->last_fail_ns < m->p.health_window_ns)
        return SLM_HEALTH_DEGRADED;
    return SLM_HEALTH_HEALTHY;
}

static void fill_status(const slm_manager *m, const struct mrec *r, uint64_t now,
                        struct slm_model_status *o) {
    memset(o, 0, sizeof *o);
    memcpy(o->id, r->id, sizeof o->id);
    o->state = r->state;
    o->health = health_of(m, r, now);
    o->pinned = r->pinned;
    o->queued = r->queued;
    o->leases = r->leases;
    o->waiters = r->waiters;
    if (r->job && !r->job->abandoned) {
        o->attempt = r->job->attempt;
        if (!r->job->running && r->job->attempt > 0) o->retry_at_ns = r->job->not_before;
    }
    o->progress_done = r->progress_done;
    o->progress_total = r->progress_total;
    o->footprint_estimate = r->estimate ? r->estimate : r->entry.footprint_estimate;
    o->footprint_measured = r->entry.footprint_measured;
    o->resident_bytes = r->reserved;
    o->last_use_ns = r->last_use_ns;
    if (r->state == SLM_MODEL_LOADED && r->leases == 0 && now > r->last_use_ns)
        o->idle_ns = now - r->last_use_ns;
    o->keep_alive_ns = r->keep_alive_ns;
    o->last_error = r->last_status;
    memcpy(o->last_error_detail, r->last_detail, sizeof o->last_error_detail);
    o->stats = r->stats;
    o->tokens_per_s =
        r->stats.busy_ns ? (double)r->stats.tokens_out * 1e9 / (double)r->stats.busy_ns : 0;
}

slm_status slm_manager_models(slm_manager *m, struct slm_model_status *out, size_t cap, size_t *n) {
    pthread_mutex_lock(&m->mu);
    uint64_t now = now_ns(m);
    *n = m->n_recs;
    for (size_t i = 0; i < m->n_recs && i < cap; i++) fill_status(m, m->recs[i], now, &out[i]);
    pthread_mutex_unlock(&m->mu);
    return SLM_OK;
}

slm_status slm_manager_model_status(slm_manager *m, const char *id, struct slm_model_status *out) {
    pthread_mutex_lock(&m->mu);
    struct mrec *r = rec_get(m, id);
    if (r) fill_status(m, r, now_ns(m), out);
    pthread_mutex_unlock(&m->mu);
    return r ? SLM_OK : SLM_E_NOT_FOUND;
}

void slm_manager_status(slm_manager *m, struct slm_manager_status *o) {
    memset(o, 0, sizeof *o);
    o->system_available = m->p.memory.available(m->p.memory.ctx); /* a file read: unlocked */
    pthread_mutex_lock(&m->mu);
    o->memory_budget = m->p.memory_budget;
    o->memory_used = m->used;
    o->memory_releasing = m->releasing;
    o->system_reserve = m->p.system_reserve;
    o->max_models = m->p.max_models;
    o->queue_length = m->queue_len;
    o->max_queue = m->p.max_queue;
    for (size_t i = 0; i < m->n_recs; i++) {
        const struct mrec *r = m->recs[i];
        if (r->state == SLM_MODEL_LOADED)
            o->models_resident++;
        else if (r->reserved)
            o->models_loading++;
        o->cache_hits += r->stats.cache_hits;
        o->cache_misses += r->stats.cache_misses;
    }
    pthread_mutex_unlock(&m->mu);
    uint64_t lookups = o->cache_hits + o->cache_misses;
    o->cache_hit_rate = lookups ? (double)o->cache_hits / (double)lookups : 0;
}

uint64_t slm__manager_freeable(slm_manager *m) {
    pthread_mutex_lock(&m->mu);
    uint64_t free_bytes = m->p.memory_budget - m->used;
    for (size_t i = 0; i < m->n_recs; i++)
        if (evictable(m->recs[i], NULL)) free_bytes += m->recs[i]->reserved;
    pthread_mutex_unlock(&m->mu);
    return free_bytes;
}

bool slm__manager_resident(slm_manager *m, const char *id) {
    pthread_mutex_lock(&m->mu);
    const struct mrec *r = rec_find(m, id);
    bool res = r && r->state == SLM_MODEL_LOADED;
    pthread_mutex_unlock(&m->mu);
    return res;
}
