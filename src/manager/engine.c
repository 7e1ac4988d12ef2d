/* The engine backend of the manager: estimates from the GGUF header, loads with the model's
 * tokenizer and its sessions preallocated, reports the bytes the load really holds (mapped weights
 * plus the heap this load allocated), and hands sessions to lease holders. */
#include "core/internal.h"
#include "slm/engine.h"

#include <pthread.h>
#include <string.h>

struct engine {
    struct slm_engine_params p;
};

struct slm_engine_model {
    slm_model *model;
    slm_tokenizer *tok;
    slm_pool *pool;
    slm_session **sessions;
    bool *busy;
    uint32_t n;
    pthread_mutex_t mu;
    char *path;                          /* for the digest */
    char digest[SLM_SHA256_HEX_LEN + 1]; /* "" until first asked for */
};

struct slm_engine_params slm_engine_default_params(void) {
    return (struct slm_engine_params){.n_threads = 0, .n_slots = 1, .n_batch = 512,
                                      .kv_type = SLM_KV_F16, .prefault = true};
}

static struct slm_footprint_params footprint_params(const struct engine *e,
                                                   const struct slm_catalog_entry *ce) {
    struct slm_footprint_params p = slm_footprint_default_params();
    p.n_ctx = ce->serve_context;
    p.n_slots = e->p.n_slots;
    p.n_batch = e->p.n_batch;
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
    slm__free(em->sessions);
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
    if (ce->load_type >= 0)
        return slm__error(SLM_E_UNSUPPORTED, "model '%s': load-time quantization to %s is not "
                          "available in this build", ce->id, slm_type_name((slm_type)ce->load_type));
    int64_t heap0 = slm__alloc_thread_net();
    slm_engine_model *em = slm__calloc(1, sizeof *em);
    if (!em) return slm__error(SLM_E_NOMEM, "engine model");
    pthread_mutex_init(&em->mu, NULL);
    slm_load_ctl_progress(ctl, SLM_MODEL_LOADING, 0, 3);
    if (!(em->path = slm__strdup(ce->local_path))) st = slm__error(SLM_E_NOMEM, "engine model");
    struct slm_model_params mp = slm_model_default_params();
    mp.prefault = e->p.prefault;
    if (st == SLM_OK && slm_load_ctl_cancelled(ctl)) st = slm__error(SLM_E_CANCELLED, "load cancelled");
    if (st == SLM_OK) st = slm_model_load(ce->local_path, &mp, &em->model);
    slm_load_ctl_progress(ctl, SLM_MODEL_LOADING, 1, 3);
    if (st == SLM_OK) st = slm_tokenizer_from_gguf(slm_model_get_gguf(em->model), &em->tok);
    if (st == SLM_OK) st = slm_pool_create(e->p.n_threads ? e->p.n_threads : slm_cpu_count(), &em->pool);
    const bool encoder = st == SLM_OK && slm_model_get_hparams(em->model)->arch == SLM_ARCH_BERT;
    em->n = encoder ? 0 : (e->p.n_slots ? e->p.n_slots : 1);
    if (st == SLM_OK && em->n) {
        em->sessions = slm__calloc(em->n, sizeof *em->sessions);
        em->busy = slm__calloc(em->n, sizeof *em->busy);
        if (!em->sessions || !em->busy) st = slm__error(SLM_E_NOMEM, "engine sessions");
    }
    struct slm_session_params sp = slm_session_default_params();
    sp.n_ctx = ce->serve_context;
    sp.n_batch = e->p.n_batch;
    sp.kv_type = e->p.kv_type;
    sp.pool = em->pool;
    for (uint32_t i = 0; st == SLM_OK && i < em->n; i++) {
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
    /* What this model holds: its mapped weights and every heap byte this load allocated. */
    *measured = slm_gguf_total_tensor_bytes(slm_model_get_gguf(em->model)) +
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
    *out = (struct slm_backend){.user = e, .estimate = estimate, .load = load, .unload = unload};
    return SLM_OK;
}

void slm_engine_backend_free(struct slm_backend *b) {
    slm__free(b->user);
    b->user = NULL;
}

const slm_model *slm_engine_model_get_model(const slm_engine_model *em) { return em->model; }
const slm_tokenizer *slm_engine_model_get_tokenizer(const slm_engine_model *em) { return em->tok; }
const char *slm_engine_model_digest(slm_engine_model *em) {
    /* Hashing reads the whole file: done once, and only for models that need it (embeddings). */
    pthread_mutex_lock(&em->mu);
    if (!em->digest[0] && slm_sha256_file(em->path, em->digest) != SLM_OK) em->digest[0] = '\0';
    pthread_mutex_unlock(&em->mu);
    return em->digest;
}

slm_status slm_engine_session_take(slm_engine_model *em, slm_session **out) {
    *out = NULL;
    if (em->n == 0)
        return slm__error(SLM_E_UNSUPPORTED, "an embedding model has no generation sessions");
    pthread_mutex_lock(&em->mu);
    for (uint32_t i = 0; i < em->n; i++) {
        if (!em->busy[i]) {
            em->busy[i] = true;
            *out = em->sessions[i];
            break;
        }
    }
    pthread_mutex_unlock(&em->mu);
    if (!*out) return slm__error(SLM_E_BUSY, "all %u sessions of the model are in use", em->n);
    slm_session_rewind(*out, 0);
    return SLM_OK;
}

void slm_engine_session_put(slm_engine_model *em, slm_session *s) {
    pthread_mutex_lock(&em->mu);
    for (uint32_t i = 0; i < em->n; i++) {
        if (em->sessions[i] == s) {
            SLM_ASSERT(em->busy[i]);
            em->busy[i] = false;
        }
    }
    pthread_mutex_unlock(&em->mu);
}
