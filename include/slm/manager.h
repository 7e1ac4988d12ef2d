/* slm manager: the catalog of models, footprint estimates, the residency cache (memory budget,
 * leases, pins, LRU eviction, keep-alive, bounded wait queue), the loader (pool, single-flight,
 * retries, timeout, cancellation) over a pluggable engine backend, the selector behind model
 * "auto", the embedding cache, and per-model and global stats and health. SPEC §3 is the contract.
 *
 * Times are nanoseconds on the manager's slm_clock (monotonic, injectable for tests). Sizes are
 * bytes. Every struct below is a plain value: ids, paths and texts are copied into fixed arrays,
 * so nothing handed out by these calls needs freeing unless stated. */
#ifndef SLM_MANAGER_H
#define SLM_MANAGER_H

#include "slm/core.h"
#include "slm/gguf.h"
#include "slm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLM_NS_PER_MS  1000000ll
#define SLM_NS_PER_SEC 1000000000ll
#define SLM_GIB        (1024ull * 1024 * 1024)
#define SLM_MIB        (1024ull * 1024)

/* ---- capabilities, complexity tiers, size classes ----------------------------------------- */

enum slm_capability {
    SLM_CAP_GENERATE = 1u << 0,
    SLM_CAP_CHAT = 1u << 1,
    SLM_CAP_EMBED = 1u << 2,
    SLM_CAP_CODE = 1u << 3,
    SLM_CAP_MULTILINGUAL = 1u << 4,
};
#define SLM_CAP_COUNT 5
/* Name of one capability bit ("chat"); "?" otherwise. Static storage. */
const char *slm_capability_name(unsigned cap);
/* One name → its bit; SLM_E_INVALID_ARG for unknown names. */
slm_status slm_capability_from_name(const char *name, unsigned *out);

typedef enum slm_complexity {
    SLM_COMPLEXITY_LOW = 0,
    SLM_COMPLEXITY_MEDIUM = 1,
    SLM_COMPLEXITY_HIGH = 2,
    SLM_COMPLEXITY_AUTO = 3, /* requests only: estimated from the prompt */
} slm_complexity;
const char *slm_complexity_name(slm_complexity c); /* "low", "medium", "high", "auto" */
slm_status slm_complexity_from_name(const char *name, slm_complexity *out);

/* By parameter count: tiny < 100M (MiniLM, stories) <= small < 500M (SmolLM2 135M/360M,
 * Qwen2.5 0.5B) <= medium < 1.5B (TinyLlama 1.1B) <= large (SmolLM2 1.7B). */
typedef enum slm_size_class {
    SLM_SIZE_TINY = 0,
    SLM_SIZE_SMALL = 1,
    SLM_SIZE_MEDIUM = 2,
    SLM_SIZE_LARGE = 3,
} slm_size_class;
slm_size_class slm_size_class_of(uint64_t n_params);
const char *slm_size_class_name(slm_size_class c);
slm_status slm_size_class_from_name(const char *name, slm_size_class *out);

/* ---- footprint ----------------------------------------------------------------------------
 * Estimates come from the model layer (slm_model_footprint in slm/model.h: weights + KV cache +
 * session buffers, from the GGUF header) for local files; built-in entries without a file get an
 * estimate from their published shape. */

/* ---- catalog ------------------------------------------------------------------------------ */

#define SLM_ID_MAX   64
#define SLM_PATH_MAX 1024
/* Keep-alive values: a duration in ns, or these. */
#define SLM_KEEP_ALIVE_DEFAULT                                                                     \
    INT64_MIN /* use the next level's value (request → model → manager) */
#define SLM_KEEP_ALIVE_FOREVER (-1ll) /* never unloaded for idleness */

struct slm_catalog_entry {
    char id[SLM_ID_MAX];    /* unique; letters, digits, '.', '_', '-', ':' */
    char alias[SLM_ID_MAX]; /* optional second name ("" = none) */
    char description[160];
    char hub_repo[128];            /* "org/name" on the Hugging Face hub, or "" */
    char hub_file[256];            /* file inside the repo, or "" */
    char local_path[SLM_PATH_MAX]; /* a GGUF file on disk, or "" */
    char commit[41];               /* "" = unpinned: resolved and recorded on first pull */
    char sha256[65];               /* "" = unknown until first pull */
    char architecture[32];
    uint64_t n_params;
    uint64_t file_size;      /* 0 = unknown */
    char tensor_type[16];    /* dominant stored tensor type ("bf16", "q8_0"), "" = unknown */
    uint32_t context_length; /* trained maximum */
    uint32_t serve_context;  /* KV cache context; 0 = min(context_length, default) */
    unsigned capabilities;   /* enum slm_capability bits */
    slm_complexity tier;     /* the task complexity the model is good for */
    uint64_t footprint_estimate;
    uint64_t footprint_measured; /* 0 until loaded once; then it replaces the estimate */
    int64_t keep_alive_ns;       /* SLM_KEEP_ALIVE_DEFAULT, SLM_KEEP_ALIVE_FOREVER, 0, or > 0 */
    bool pinned;                 /* initial pin state in a manager */
    int load_type;               /* -1 as stored, else an slm_type (Q8_0, Q4_0, Q4_K) */
};
/* A zeroed entry with keep_alive_ns = SLM_KEEP_ALIVE_DEFAULT and load_type = -1. */
struct slm_catalog_entry slm_catalog_entry_init(void);
/* measured if known, else the estimate. */
uint64_t slm_catalog_entry_footprint(const struct slm_catalog_entry *e);

/* Thread-safe (internally locked). */
typedef struct slm_catalog slm_catalog;

slm_status slm_catalog_create(slm_catalog **out); /* empty */
void slm_catalog_free(slm_catalog *c);            /* accepts NULL */
/* The built-in models: SmolLM2 135M/360M/1.7B Instruct, TinyLlama 1.1B Chat, Qwen2.5 0.5B
 * Instruct, all-MiniLM-L6-v2, all-MiniLM-L12-v2, bge-small-en-v1.5. Sources are the upstream
 * Hugging Face repositories (converted to GGUF by the store on pull); their commits and sha256 are
 * not known offline, so they are left unpinned ("") and pinned on first pull. Shapes (and so the
 * footprint estimates) are those of the published configs. Entries already present are kept. */
slm_status slm_catalog_add_defaults(slm_catalog *c);
/* Copies e. SLM_E_INVALID_ARG for a bad or duplicate id/alias, no capability, or no footprint
 * and no local file to estimate it from. If local_path is set and the footprint is 0, it is
 * estimated from the file's header. */
slm_status slm_catalog_add(slm_catalog *c, const struct slm_catalog_entry *e);
/* Adds a local GGUF file: id (NULL = file name without ".gguf", lower-cased), architecture,
 * parameters, file size, dominant tensor type, context length and footprint from its header;
 * capabilities from the architecture (bert family: embed; others: generate, plus chat when the
 * file has a tokenizer.chat_template); tier from the parameter count (< 300M low, < 1B medium,
 * else high). The new entry is copied to *out when out is not NULL. */
slm_status slm_catalog_add_gguf(slm_catalog *c, const char *path, const char *id,
                                struct slm_catalog_entry *out);
/* Adds every *.gguf file directly inside dir (sorted by name; files that fail to parse and ids
 * already present are skipped and counted in *n_skipped). n_added/n_skipped may be NULL. */
slm_status slm_catalog_add_dir(slm_catalog *c, const char *dir, size_t *n_added, size_t *n_skipped);
/* Replaces the entry with the same id (e.g. pinned after a pull). SLM_E_NOT_FOUND if absent. */
slm_status slm_catalog_update(slm_catalog *c, const struct slm_catalog_entry *e);
/* Records the measured footprint of a loaded model. */
slm_status slm_catalog_set_measured(slm_catalog *c, const char *id, uint64_t bytes);
size_t slm_catalog_count(const slm_catalog *c);
/* Entries in insertion order. */
slm_status slm_catalog_get(const slm_catalog *c, size_t i, struct slm_catalog_entry *out);
/* By id or alias. SLM_E_NOT_FOUND if absent. */
slm_status slm_catalog_find(const slm_catalog *c, const char *id_or_alias,
                            struct slm_catalog_entry *out);

struct slm_catalog_filter {
    unsigned capabilities; /* all of these bits; 0 = any */
    int size_class;        /* an slm_size_class, or -1 = any */
    uint64_t max_memory;   /* footprint at most this; 0 = any */
    const char *query;     /* case-insensitive substring of id, alias, description, repo, file or
                              architecture; NULL or "" = any. Borrowed for the call. */
};
struct slm_catalog_filter slm_catalog_default_filter(void);
/* Matching entries in insertion order: the first cap are copied to out (may be NULL when cap is
 * 0); *n_match is the total number of matches. */
slm_status slm_catalog_search(const slm_catalog *c, const struct slm_catalog_filter *f,
                              struct slm_catalog_entry *out, size_t cap, size_t *n_match);
/* The most capable entry with all the capability bits that fits max_memory (0 = any): highest
 * tier, then most parameters, then smallest footprint, then id. SLM_E_NOT_FOUND if none. */
slm_status slm_catalog_recommend(const slm_catalog *c, unsigned capabilities, uint64_t max_memory,
                                 struct slm_catalog_entry *out);

/* ---- engine backend ----------------------------------------------------------------------- */

typedef enum slm_model_state {
    SLM_MODEL_NOT_LOADED = 0,
    SLM_MODEL_DOWNLOADING = 1,
    SLM_MODEL_LOADING = 2,
    SLM_MODEL_LOADED = 3,
    SLM_MODEL_FAILED = 4,
} slm_model_state;
const char *slm_model_state_name(slm_model_state s); /* "not-loaded", "downloading", ... */

/* One load attempt, handed to the backend's load(). Borrowed: valid during that call only. */
typedef struct slm_load_ctl slm_load_ctl;
/* Reports progress; stage is SLM_MODEL_DOWNLOADING or SLM_MODEL_LOADING (total 0 = unknown). */
void slm_load_ctl_progress(slm_load_ctl *ctl, slm_model_state stage, uint64_t done, uint64_t total);
/* True once the load was cancelled or timed out: the backend should stop and return
 * SLM_E_CANCELLED (a handle returned anyway is unloaded at once). */
bool slm_load_ctl_cancelled(const slm_load_ctl *ctl);
/* Waits until the manager clock reaches t_ns; false (early) if the load is cancelled. Backends
 * that wait (e.g. between download retries) use this instead of sleeping, so tests drive time. */
bool slm_load_ctl_sleep_until(slm_load_ctl *ctl, uint64_t t_ns);
/* Attempt number of this load, 1 for the first try. */
int slm_load_ctl_attempt(const slm_load_ctl *ctl);

/* What the manager needs from the engine. load runs on the manager's loader threads, estimate
 * on the acquiring thread, and unload on whichever thread retired the model (the one that
 * unloaded, evicted, released or ticked), all without manager locks held: the budget keeps
 * counting an unloaded model's bytes until its unload returns. None may call back into the
 * manager, except that load may call the slm_load_ctl_* functions. A backend's calls must be
 * thread-safe across models; the manager never runs two loads of the same model at once. */
struct slm_backend {
    void *user; /* passed back to every call */
    /* Footprint in bytes of the entry before loading (e.g. slm_model_footprint over the file).
     * Optional: when NULL, the manager uses the entry's measured or estimated footprint. */
    slm_status (*estimate)(void *user, const struct slm_catalog_entry *e, uint64_t *bytes);
    /* Makes the model resident: *handle (opaque to the manager, given to lease holders) and the
     * measured resident bytes (0 = unknown: keep the estimate). Transient failures (SLM_E_IO,
     * SLM_E_NOMEM, SLM_E_BUSY) are retried with backoff; any other error fails the load at once. */
    slm_status (*load)(void *user, const struct slm_catalog_entry *e, slm_load_ctl *ctl,
                       void **handle, uint64_t *measured_bytes);
    /* Releases a handle returned by load. Never called while a lease on it is held. */
    void (*unload)(void *user, void *handle);
};

/* True for the statuses the loader retries. */
bool slm_status_is_transient(slm_status st);

/* ---- the manager -------------------------------------------------------------------------- */

/* Available system memory in bytes, e.g. MemAvailable. */
struct slm_memory_source {
    uint64_t (*available)(void *ctx);
    void *ctx;
};

struct slm_manager_params {
    uint64_t memory_budget;    /* 2 GiB: sum of resident + reserved footprints never exceeds it */
    int max_models;            /* 3: resident and loading models */
    uint64_t system_reserve;   /* 100 MiB of system memory kept free */
    int64_t keep_alive_ns;     /* 5 min: idle unload when neither request nor model says */
    uint64_t load_timeout_ns;  /* 60 s per attempt */
    int max_retries;           /* 3 retries of transient failures */
    uint64_t retry_base_ns;    /* 2 s: retry k waits base × 2^(k-1) × (1 + jitter in [0, 0.5)) */
    int max_concurrent_loads;  /* 2 loader threads */
    int max_queue;             /* 64 requests waiting for memory; more get SLM_E_BUSY at once */
    uint64_t default_wait_ns;  /* 30 s: acquire deadline when the request gives none */
    uint64_t health_window_ns; /* 5 min: a failure this recent makes a model "degraded" */
    /* Housekeeping (idle unloads, timeouts, due retries) runs in slm_manager_tick().
     * > 0: a thread calls it every tick_interval_ns of real time (default 10 ms); 0: no thread,
     * the caller ticks (tests with a fake clock). On the system clock a waiting request wakes
     * at its own deadline; on any other clock, at the tick that finds it passed. */
    uint64_t tick_interval_ns;
    slm_clock clock;                 /* default slm_clock_system() */
    struct slm_memory_source memory; /* default: MemAvailable from /proc/meminfo */
    uint64_t seed;                   /* jitter random stream */
};
struct slm_manager_params slm_manager_default_params(void);

typedef struct slm_manager slm_manager;
typedef struct slm_lease slm_lease;

/* catalog: borrowed, must outlive the manager (the manager records measured footprints in it).
 * backend: copied (its user pointer is borrowed). params NULL = defaults. */
slm_status slm_manager_create(slm_catalog *catalog, const struct slm_backend *backend,
                              const struct slm_manager_params *params, slm_manager **out);
/* Cancels loads, waits for running backend calls, unloads every model. All leases must have been
 * released (panics otherwise). Accepts NULL. */
void slm_manager_free(slm_manager *m);

struct slm_acquire_params {
    int64_t keep_alive_ns; /* for this request: SLM_KEEP_ALIVE_DEFAULT = the model's */
    uint64_t deadline_ns;  /* absolute, manager clock; 0 = now + default_wait_ns */
};
struct slm_acquire_params slm_acquire_default_params(void);

/* Returns a lease on a resident model, loading it (single-flight) and making room (LRU eviction
 * of unleased, unpinned models) as needed. The deadline bounds the whole wait (for memory and
 * for the load); a load whose waiters all gave up still completes, leaving the model resident
 * under its keep-alive. Errors: SLM_E_NOT_FOUND (not in the catalog),
 * SLM_E_INSUFFICIENT_MEMORY (footprint above the budget), SLM_E_BUSY (queue full, or the deadline
 * passed while waiting for memory or for the load), the load's error (SLM_E_TIMEOUT,
 * SLM_E_CANCELLED, backend errors). *out: transferred, give back with slm_manager_release(). */
slm_status slm_manager_acquire(slm_manager *m, const char *id, const struct slm_acquire_params *p,
                               slm_lease **out);
/* Ends the lease; the model's idle clock starts (keep-alive 0: unloaded now, unless requests
 * wait for it). Accepts NULL. */
void slm_manager_release(slm_manager *m, slm_lease *lease);
/* The backend's handle; borrowed, valid until the lease is released. */
void *slm_lease_handle(const slm_lease *lease);
/* The model's catalog id; valid until the lease is released. */
const char *slm_lease_model(const slm_lease *lease);

/* Unloads a resident model now (pinned or not), or cancels a load no request waits for any
 * more; returns once the backend has freed the memory. SLM_E_BUSY while leased or while
 * requests wait for the model (its load in flight or queued): an unload never fails a request
 * before its deadline (slm_manager_cancel does, explicitly). SLM_E_NOT_FOUND if unknown. */
slm_status slm_manager_unload(slm_manager *m, const char *id);
/* Cancels a queued or running load: its waiters get SLM_E_CANCELLED. SLM_E_NOT_FOUND if the
 * model is unknown, SLM_E_INVALID_ARG if no load is in flight. */
slm_status slm_manager_cancel(slm_manager *m, const char *id);
/* Pinned models are never evicted or idle-unloaded (only unloaded explicitly). Does not load. */
slm_status slm_manager_pin(slm_manager *m, const char *id, bool pinned);
/* Housekeeping at the current clock time: idle unloads, request deadlines, load timeouts, due
 * retries, queue admission. */
void slm_manager_tick(slm_manager *m);

/* Usage reported by whoever ran the model (engine sessions, the server). */
void slm_manager_record_usage(slm_manager *m, const char *id, uint64_t tokens_in,
                              uint64_t tokens_out, uint64_t duration_ns);
void slm_manager_record_cache(slm_manager *m, const char *id, uint64_t hits, uint64_t misses);

/* Tries sel's model, then its fallbacks in order, until one is acquired. *used (may be NULL)
 * gets the id of the model that served (SLM_ID_MAX bytes). Returns the last error if all fail. */
struct slm_selection;
slm_status slm_manager_acquire_selected(slm_manager *m, const struct slm_selection *sel,
                                        const struct slm_acquire_params *p, slm_lease **out,
                                        char *used);

/* ---- stats, health and status ------------------------------------------------------------- */

typedef enum slm_model_health {
    SLM_HEALTH_HEALTHY = 0,
    SLM_HEALTH_DEGRADED = 1,    /* retrying, or a failure within health_window_ns */
    SLM_HEALTH_UNAVAILABLE = 2, /* last load failed permanently, or its local file is missing */
} slm_model_health;
const char *slm_model_health_name(slm_model_health h);

struct slm_model_stats {
    uint64_t loads, load_failures; /* successful loads; failed attempts (retried ones included) */
    uint64_t load_ns_total, last_load_ns;
    uint64_t evictions;                      /* unloaded to make room */
    uint64_t idle_unloads;                   /* unloaded by keep-alive */
    uint64_t requests;                       /* leases granted */
    uint64_t rejected;                       /* acquires that failed (BUSY, errors) */
    uint64_t tokens_in, tokens_out, busy_ns; /* from slm_manager_record_usage */
    uint64_t cache_hits, cache_misses;
};

struct slm_model_status {
    char id[SLM_ID_MAX];
    slm_model_state state;
    slm_model_health health;
    bool pinned;
    bool queued; /* waiting for memory */
    int leases;
    int waiters;          /* acquires waiting for this model */
    int attempt;          /* of the load in flight; 0 if none */
    uint64_t retry_at_ns; /* next attempt of a load in backoff; 0 if none */
    uint64_t progress_done, progress_total;
    uint64_t footprint_estimate, footprint_measured;
    uint64_t resident_bytes; /* accounted in the budget now (reserved while loading) */
    uint64_t last_use_ns;    /* 0 = never */
    uint64_t idle_ns;        /* since last use, when resident and unleased */
    int64_t keep_alive_ns;   /* effective after the last release */
    slm_status last_error;   /* SLM_OK if none */
    char last_error_detail[256];
    double tokens_per_s; /* tokens_out / busy time */
    struct slm_model_stats stats;
};

struct slm_manager_status {
    uint64_t memory_budget, memory_used; /* used = resident + reserved by loads + releasing */
    uint64_t memory_releasing; /* unloaded models whose memory the backend is still freeing */
    uint64_t system_available, system_reserve;
    int models_resident, models_loading, max_models;
    int queue_length, max_queue; /* requests waiting for memory */
    uint64_t cache_hits, cache_misses;
    double cache_hit_rate; /* 0 when no lookups */
};

/* Models the manager has seen (acquired, pinned or recorded), in order of first use; the first
 * cap are copied to out; *n is the total. */
slm_status slm_manager_models(slm_manager *m, struct slm_model_status *out, size_t cap, size_t *n);
/* SLM_E_NOT_FOUND if the id is not in the catalog. A model never used reports not-loaded. */
slm_status slm_manager_model_status(slm_manager *m, const char *id, struct slm_model_status *out);
void slm_manager_status(slm_manager *m, struct slm_manager_status *out);
/* The status as one JSON document (the shape of GET /admin/status): {"memory_budget":..,
 * "memory_used":..,..,"models":[{"id":..,"state":..,"health":..,...}]}. *out transferred: free
 * with slm_free(). */
slm_status slm_manager_status_json(slm_manager *m, char **out);

/* ---- selector ----------------------------------------------------------------------------- */

/* Complexity of a prompt ("auto"), a deterministic points heuristic:
 *   +1 if it has more than 40 words, +2 more if more than 200;
 *   +1 per reasoning cue, at most 2: explain, why, how does/do, analyze/analyse, compare,
 *      prove, derive, step by step, evaluate, reason, design, implement, optimize/optimise;
 *   +2 if it looks like code: a ``` fence, "#include", "def ", "function ", "=>", or a line
 *      ending in ';' or '{';
 *   +1 if it has math: a digit next to one of + - * / ^ = (ignoring spaces);
 *   +1 if it asks more than one question ('?' appears twice or more).
 * 0 points → low, 1–2 → medium, 3 or more → high. NULL or empty → low. */
slm_complexity slm_complexity_estimate(const char *prompt);

#define SLM_SELECT_MAX_FALLBACKS 8

struct slm_select_request {
    unsigned capability;       /* one enum slm_capability bit, e.g. SLM_CAP_CHAT */
    slm_complexity complexity; /* AUTO: estimated from prompt */
    const char *prompt;        /* borrowed; may be NULL */
    uint64_t max_memory;       /* 0: with a manager, what is free or freeable; else unbounded */
};

struct slm_selection {
    char model[SLM_ID_MAX];
    slm_complexity complexity; /* the one used (resolved when AUTO) */
    bool resident;
    char reason[512];
    size_t n_fallbacks;
    char fallbacks[SLM_SELECT_MAX_FALLBACKS][SLM_ID_MAX];
};

/* Picks a model for the request among the catalog entries with the capability whose footprint
 * fits the memory that is free or can be freed (a resident model always fits). Order: distance
 * between the model's tier and the wanted complexity (0 = exact first), then resident before
 * not resident, then on equal distance the higher tier, then fewer parameters, then id. The
 * first is chosen, the next ones (up to SLM_SELECT_MAX_FALLBACKS) are the fallback chain.
 * manager may be NULL (nothing resident; max_memory or unbounded). SLM_E_NOT_FOUND when no entry
 * has the capability, SLM_E_INSUFFICIENT_MEMORY when none fits; the reason says why. */
slm_status slm_select(const slm_catalog *c, slm_manager *m, const struct slm_select_request *req,
                      struct slm_selection *out);

/* ---- embedding cache ---------------------------------------------------------------------- */

#define SLM_EMBED_KEY_BYTES 32

struct slm_embed_cache_params {
    size_t max_entries; /* 10,000 */
    uint64_t ttl_ns;    /* 1 h */
    /* Wall-clock time (ns since the epoch) so that TTLs survive restarts with persistence.
     * Default: CLOCK_REALTIME. */
    slm_clock clock;
    const char *sqlite_path; /* NULL: memory only; else entries persist in this SQLite file.
                                Borrowed for the create call. */
};
struct slm_embed_cache_params slm_embed_cache_default_params(void);

struct slm_embed_cache_stats {
    uint64_t hits, misses, inserts, evictions, expirations;
    size_t entries;
};

/* Thread-safe. */
typedef struct slm_embed_cache slm_embed_cache;

slm_status slm_embed_cache_create(const struct slm_embed_cache_params *p, slm_embed_cache **out);
void slm_embed_cache_free(slm_embed_cache *c); /* accepts NULL */
/* key = sha256(model_digest, NUL, options, NUL, text). model_digest: the model file's sha256 (or
 * any string naming its exact weights); options: the pooling/normalisation settings in a
 * canonical form such as "pooling=mean;normalize=1". */
void slm_embed_cache_key(const char *model_digest, const char *options, const char *text,
                         size_t text_len, uint8_t key[SLM_EMBED_KEY_BYTES]);
/* Copies the vector (dim floats) to out. SLM_E_NOT_FOUND on a miss (absent, expired, or stored
 * with another dim). Counts a hit or a miss; a hit refreshes the LRU position. */
slm_status slm_embed_cache_get(slm_embed_cache *c, const uint8_t key[SLM_EMBED_KEY_BYTES],
                               float *out, size_t dim);
/* Stores a copy of vec; evicts the least recently used entry when full. */
slm_status slm_embed_cache_put(slm_embed_cache *c, const uint8_t key[SLM_EMBED_KEY_BYTES],
                               const float *vec, size_t dim);
/* Batch lookup: for each text i, hit[i] says whether out[i*dim .. i*dim+dim) was filled from the
 * cache; *n_hits counts them. The caller computes only the misses and puts them. */
slm_status slm_embed_cache_lookup_batch(slm_embed_cache *c, const char *model_digest,
                                        const char *options, const char *const *texts, size_t n,
                                        float *out, size_t dim, bool *hit, size_t *n_hits);
/* Stores the vectors of the texts with hit[i] false (hit may be NULL: all). */
slm_status slm_embed_cache_put_batch(slm_embed_cache *c, const char *model_digest,
                                     const char *options, const char *const *texts, size_t n,
                                     const float *vecs, size_t dim, const bool *hit);
void slm_embed_cache_stats(slm_embed_cache *c, struct slm_embed_cache_stats *out);

#ifdef __cplusplus
}
#endif
#endif
