/* The engine backend of the manager: estimates from the GGUF header, loads with the model's
 * tokenizer and its sessions (generative models) or embedders (embedding models) preallocated,
 * reports the bytes the load really holds (mapped weights plus the heap this load allocated),
 * hands sessions to lease holders and embeds through the embedding cache. */
#include "core/internal.h"
#include "slm/engine.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* File digests outlive the loads that computed them, so that a model evicted and loaded again
 * is not hashed again; an entry is valid for one version of a file (size, mtime, inode). */
#define DIGEST_MEMO 16
struct digest_memo {
    char path[SLM_PATH_MAX];
    struct stat st;
    char hex[SLM_SHA256_HEX_LEN + 1];
};

struct engine {
    struct slm_engine_params p;
    pthread_mutex_t mu; /* guards memo */
    struct digest_memo memo[DIGEST_MEMO];
    unsigned memo_next; /* round-robin replacement */
};

struct slm_engine_model {
    struct engine *engine;
    slm_model *model;
    slm_tokenizer *tok;
    slm_pool *pool;
    slm_session **sessions;    /* generative models: n of them */
    slm_embedder **embedders;  /* embedding models: n of them */
    bool *busy;
    uint32_t n;
    pthread_mutex_t mu;
    char *path;                          /* for the digest */
    char digest[SLM_SHA256_HEX_LEN + 1]; /* "" until first asked for */
    char embed_options[64];              /* the cache's options key: pooling, normalisation */
};

struct slm_engine_params slm_engine_default_params(void) {
    return (struct slm_engine_params){.n_threads = 0, .n_slots = 1, .n_batch = 512,
                                      .kv_type = SLM_KV_F16, .prefault = true};
}

/* Embedders take inputs up to the serving context and pass them whole (n_batch = context), so
 * that is what an embedding model's estimate counts. */
static bool embeds(const struct slm_catalog_entry *ce) {
    return ce->capabilities & SLM_CAP_EMBED;
}

static struct slm_footprint_params footprint_params(const struct engine *e,
                                                   const struct slm_catalog_entry *ce) {
    struct slm_footprint_params p = slm_footprint_default_params();
    p.n_ctx = ce->serve_context;
    p.n_slots = e->p.n_slots;
    p.n_batch = embeds(ce) ? 0 : e->p.n_batch;
    p.n_threads = e->p.n_threads;
    p.kv_type = e->p.kv_type;
    p.load_type = ce->load_type;
    return p;
}

static slm_status need_file(const struct slm_catalog_entry *ce) {
    if (!ce->local_path[0])
        return slm__error(SLM_E_NOT_FOUND, "model '%s' has no local file (pull it first)", ce->id);
    return SLM_OK;
}

static slm_status estimate(void *user, const struct slm_catalog_entry *ce, uint64_t *bytes) {
    struct engine *e = user;
    *bytes = 0;
    slm_status st = need_file(ce);
    if (st != SLM_OK) return st;
    slm_gguf *g = NULL;
    if ((st = slm_gguf_open(ce->local_path, NULL, &g)) != SLM_OK) return st;
    struct slm_footprint_params p = footprint_params(e, ce);
    struct slm_footprint f;
    st = slm_model_footprint(g, &p, &f);
    slm_gguf_close(g);
    if (st == SLM_OK) *bytes = f.total;
    return st;
}

static void free_model(slm_engine_model *em) {
    if (!em) return;
    for (uint32_t i = 0; em->sessions && i < em->n; i++) slm_session_free(em->sessions[i]);
    for (uint32_t i = 0; em->embedders && i < em->n; i++) slm_embedder_free(em->embedders[i]);
    slm__free(em->sessions);
    slm__free(em->embedders);
    slm__free(em->busy);
    slm_pool_free(em->pool);
    slm_tokenizer_free(em->tok);
    slm_model_free(em->model);
    slm__free(em->path);
    pthread_mutex_destroy(&em->mu);
    slm__free(em);
}

static slm_status load(void *user, const struct slm_catalog_entry *ce, slm_load_ctl *ctl,
                       void **handle, uint64_t *measured) {
    struct engine *e = user;
    *handle = NULL;
    *measured = 0;
    slm_status st = need_file(ce);
    if (st != SLM_OK) return st;
    int64_t heap0 = slm__alloc_thread_net();
    slm_engine_model *em = slm__calloc(1, sizeof *em);
    if (!em) return slm__error(SLM_E_NOMEM, "engine model");
    pthread_mutex_init(&em->mu, NULL);
    em->engine = e;
    if (ce->sha256[0]) memcpy(em->digest, ce->sha256, sizeof em->digest);
    slm_load_ctl_progress(ctl, SLM_MODEL_LOADING, 0, 3);
    if (!(em->path = slm__strdup(ce->local_path))) st = slm__error(SLM_E_NOMEM, "engine model");
    struct slm_model_params mp = slm_model_default_params();
    mp.prefault = e->p.prefault;
    mp.load_type = ce->load_type;
    mp.n_threads = e->p.n_threads;
    if (st == SLM_OK && slm_load_ctl_cancelled(ctl)) st = slm__error(SLM_E_CANCELLED, "load cancelled");
    if (st == SLM_OK) st = slm_model_load(ce->local_path, &mp, &em->model);
    slm_load_ctl_progress(ctl, SLM_MODEL_LOADING, 1, 3);
    if (st == SLM_OK) st = slm_tokenizer_from_gguf(slm_model_get_gguf(em->model), &em->tok);
    if (st == SLM_OK) st = slm_pool_create(e->p.n_threads ? e->p.n_threads : slm_cpu_count(), &em->pool);
    const bool encoder = st == SLM_OK && slm_model_get_hparams(em->model)->arch == SLM_ARCH_BERT;
    em->n = e->p.n_slots;
    if (st == SLM_OK) {
        if (encoder) em->embedders = slm__calloc(em->n, sizeof *em->embedders);
        else em->sessions = slm__calloc(em->n, sizeof *em->sessions);
        em->busy = slm__calloc(em->n, sizeof *em->busy);
        if ((!em->sessions && !em->embedders) || !em->busy)
            st = slm__error(SLM_E_NOMEM, "engine slots");
    }
    struct slm_embed_params ep = slm_embed_default_params();
    if (encoder) {
        uint32_t n_ctx_train = slm_model_get_hparams(em->model)->n_ctx_train;
        ep.max_tokens = ce->serve_context ? ce->serve_context
                                          : SLM_MIN(n_ctx_train, SLM_DEFAULT_SERVE_CONTEXT);
        ep.n_batch = ep.max_tokens;
        ep.pool = em->pool;
    }
    for (uint32_t i = 0; st == SLM_OK && encoder && i < em->n; i++) {
        if (slm_load_ctl_cancelled(ctl)) st = slm__error(SLM_E_CANCELLED, "load cancelled");
        else st = slm_embedder_create(em->model, em->tok, &ep, &em->embedders[i]);
    }
    if (st == SLM_OK && encoder)
        snprintf(em->embed_options, sizeof em->embed_options, "pooling=%s;normalize=%d",
                 slm_embed_pooling_name(slm_embedder_pooling(em->embedders[0])), ep.normalize);
    struct slm_session_params sp = slm_session_default_params();
    sp.n_ctx = ce->serve_context;
    sp.n_batch = e->p.n_batch;
    sp.kv_type = e->p.kv_type;
    sp.pool = em->pool;
    for (uint32_t i = 0; st == SLM_OK && !encoder && i < em->n; i++) {
        if (slm_load_ctl_cancelled(ctl)) st = slm__error(SLM_E_CANCELLED, "load cancelled");
        else st = slm_session_create(em->model, &sp, &em->sessions[i]);
    }
    slm_load_ctl_progress(ctl, SLM_MODEL_LOADING, 3, 3);
    if (st == SLM_OK && slm_load_ctl_cancelled(ctl)) st = slm__error(SLM_E_CANCELLED, "load cancelled");
    if (st != SLM_OK) {
        slm__error_prefix("model '%s'", ce->id);
        free_model(em);
        return st;
    }
    /* What this model holds: its mapped weights and every heap byte this load allocated (weights
     * quantized at load among them). */
    *measured = slm_model_mapped_bytes(em->model) +
                (uint64_t)(slm__alloc_thread_net() - heap0);
    *handle = em;
    return SLM_OK;
}

static void unload(void *user, void *handle) {
    (void)user;
    free_model(handle);
}

slm_status slm_engine_backend_create(const struct slm_engine_params *params, struct slm_backend *out) {
    memset(out, 0, sizeof *out);
    struct engine *e = slm__calloc(1, sizeof *e);
    if (!e) return slm__error(SLM_E_NOMEM, "engine");
    e->p = params ? *params : slm_engine_default_params();
    if (e->p.n_slots == 0 || e->p.n_slots > 256 || e->p.n_threads < 0 || e->p.n_threads > 1024) {
        slm__free(e);
        return slm__error(SLM_E_INVALID_ARG, "engine: slots 1..256 and threads 0..1024");
    }
    pthread_mutex_init(&e->mu, NULL);
    *out = (struct slm_backend){.user = e, .estimate = estimate, .load = load, .unload = unload};
    return SLM_OK;
}

void slm_engine_backend_free(struct slm_backend *b) {
    struct engine *e = b->user;
    if (e) pthread_mutex_destroy(&e->mu);
    slm__free(e);
    b->user = NULL;
}

const slm_model *slm_engine_model_get_model(const slm_engine_model *em) { return em->model; }
const slm_tokenizer *slm_engine_model_get_tokenizer(const slm_engine_model *em) { return em->tok; }
static bool same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Hashing reads the whole file: done only for models that need it (embeddings), and once per
 * version of a file per engine. The file is hashed without the engine's lock held. */
static void digest_compute(slm_engine_model *em) {
    struct engine *e = em->engine;
    struct stat st;
    if (stat(em->path, &st) != 0) return;
    pthread_mutex_lock(&e->mu);
    for (unsigned i = 0; i < DIGEST_MEMO && !em->digest[0]; i++)
        if (!strcmp(e->memo[i].path, em->path) && same_file(&e->memo[i].st, &st))
            memcpy(em->digest, e->memo[i].hex, sizeof em->digest);
    pthread_mutex_unlock(&e->mu);
    if (em->digest[0] || strlen(em->path) >= SLM_PATH_MAX) return;
    char hex[SLM_SHA256_HEX_LEN + 1];
    if (slm_sha256_file(em->path, hex) != SLM_OK) return;
    memcpy(em->digest, hex, sizeof hex);
    pthread_mutex_lock(&e->mu);
    struct digest_memo *d = &e->memo[e->memo_next++ % DIGEST_MEMO];
    memcpy(d->path, em->path, strlen(em->path) + 1);
    d->st = st;
    memcpy(d->hex, hex, sizeof hex);
    pthread_mutex_unlock(&e->mu);
}

const char *slm_engine_model_digest(slm_engine_model *em) {
    pthread_mutex_lock(&em->mu);
    if (!em->digest[0]) digest_compute(em);
    pthread_mutex_unlock(&em->mu);
    return em->digest;
}

/* A free slot's index; -1 when all are busy. */
static int slot_take(slm_engine_model *em) {
    int got = -1;
    pthread_mutex_lock(&em->mu);
    for (uint32_t i = 0; i < em->n && got < 0; i++)
        if (!em->busy[i]) {
            em->busy[i] = true;
            got = (int)i;
        }
    pthread_mutex_unlock(&em->mu);
    return got;
}

static void slot_put(slm_engine_model *em, void *const *slots, const void *x) {
    pthread_mutex_lock(&em->mu);
    for (uint32_t i = 0; i < em->n; i++) {
        if (slots[i] == x) {
            SLM_ASSERT(em->busy[i]);
            em->busy[i] = false;
        }
    }
    pthread_mutex_unlock(&em->mu);
}

slm_status slm_engine_session_take(slm_engine_model *em, slm_session **out) {
    *out = NULL;
    if (!em->sessions)
        return slm__error(SLM_E_UNSUPPORTED, "an embedding model has no generation sessions");
    int i = slot_take(em);
    if (i < 0) return slm__error(SLM_E_BUSY, "all %u sessions of the model are in use", em->n);
    *out = em->sessions[i];
    slm_session_rewind(*out, 0);
    return SLM_OK;
}

void slm_engine_session_put(slm_engine_model *em, slm_session *s) {
    slot_put(em, (void *const *)em->sessions, s);
}

uint32_t slm_engine_model_embed_dim(const slm_engine_model *em) {
    return em->embedders ? slm_embedder_dim(em->embedders[0]) : 0;
}

slm_status slm_engine_embed(slm_engine_model *em, slm_embed_cache *cache,
                            const char *const *texts, size_t n, float *out, size_t *n_cached) {
    if (n_cached) *n_cached = 0;
    if (!em->embedders)
        return slm__error(SLM_E_UNSUPPORTED, "a generative model does not embed");
    if (n == 0) return SLM_OK;
    if (!texts || !out) return slm__error(SLM_E_INVALID_ARG, "embed: no texts or no output");
    const size_t dim = slm_engine_model_embed_dim(em);
    bool *hit = NULL;
    const char **miss = NULL;
    float *vecs = NULL;
    size_t n_hits = 0, n_miss = 0;
    const char *digest = cache ? slm_engine_model_digest(em) : "";
    /* Without a digest the cache cannot tell this model's vectors from another's: skip it. */
    if (!digest[0]) cache = NULL;
    slm_status st = SLM_OK;
    if (!(hit = slm__calloc(n, sizeof *hit)) || !(miss = slm__malloc(n * sizeof *miss)))
        st = slm__error(SLM_E_NOMEM, "embed: %zu inputs", n);
    if (st == SLM_OK && cache)
        st = slm_embed_cache_lookup_batch(cache, digest, em->embed_options, texts, n, out, dim,
                                          hit, &n_hits);
    for (size_t i = 0; st == SLM_OK && i < n; i++)
        if (!hit[i]) miss[n_miss++] = texts[i];
    if (st == SLM_OK && n_miss && !(vecs = slm__malloc(n_miss * dim * sizeof *vecs)))
        st = slm__error(SLM_E_NOMEM, "embed: %zu vectors", n_miss);
    if (st == SLM_OK && n_miss) {
        int slot = slot_take(em);
        if (slot < 0) {
            st = slm__error(SLM_E_BUSY, "all %u embedders of the model are in use", em->n);
        } else {
            st = slm_embed(em->embedders[slot], miss, n_miss, vecs, NULL);
            slot_put(em, (void *const *)em->embedders, em->embedders[slot]);
        }
    }
    for (size_t i = 0, k = 0; st == SLM_OK && i < n; i++)
        if (!hit[i]) memcpy(out + i * dim, vecs + k++ * dim, dim * sizeof *out);
    if (st == SLM_OK && cache && n_miss)
        st = slm_embed_cache_put_batch(cache, digest, em->embed_options, texts, n, out, dim, hit);
    if (st == SLM_OK && n_cached) *n_cached = n_hits;
    slm__free(vecs);
    slm__free(miss);
    slm__free(hit);
    return st;
}
