/* The embedding cache: sha256(model digest, options, text) → vector, LRU-bounded by entries,
 * expiring by TTL from insertion, with optional write-through persistence in an SQLite file.
 * Vectors live inline in their nodes; a chained hash table indexes them by key. */
#include "manager/internal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>

struct node {
    uint8_t key[SLM_EMBED_KEY_BYTES];
    uint32_t dim;
    uint64_t created_ns;
    struct node *prev, *next; /* LRU list, most recent at head */
    struct node *hnext;       /* hash chain */
    float vec[];
};

struct slm_embed_cache {
    pthread_mutex_t mu;
    struct slm_embed_cache_params p;
    struct node **buckets;
    size_t n_buckets; /* power of two */
    struct node *head, *tail;
    struct slm_embed_cache_stats st;
    sqlite3 *db;
    sqlite3_stmt *ins, *del;
};

static uint64_t realtime_ns(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct slm_embed_cache_params slm_embed_cache_default_params(void) {
    return (struct slm_embed_cache_params){
        .max_entries = 10000,
        .ttl_ns = 3600ull * SLM_NS_PER_SEC,
        .clock = {.now_ns = realtime_ns, .ctx = NULL},
        .sqlite_path = NULL,
    };
}

void slm_embed_cache_key(const char *model_digest, const char *options, const char *text,
                         size_t text_len, uint8_t key[SLM_EMBED_KEY_BYTES]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    const char zero = 0;
    SLM_ASSERT(ctx);
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, model_digest, strlen(model_digest));
    EVP_DigestUpdate(ctx, &zero, 1);
    EVP_DigestUpdate(ctx, options, strlen(options));
    EVP_DigestUpdate(ctx, &zero, 1);
    EVP_DigestUpdate(ctx, text, text_len);
    EVP_DigestFinal_ex(ctx, key, &len);
    EVP_MD_CTX_free(ctx);
    SLM_ASSERT(len == SLM_EMBED_KEY_BYTES);
}

static size_t bucket_of(const slm_embed_cache *c, const uint8_t *key) {
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & (c->n_buckets - 1);
}

static struct node *lookup(const slm_embed_cache *c, const uint8_t *key) {
    for (struct node *n = c->buckets[bucket_of(c, key)]; n; n = n->hnext)
        if (!memcmp(n->key, key, SLM_EMBED_KEY_BYTES)) return n;
    return NULL;
}

static void lru_unlink(slm_embed_cache *c, struct node *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        c->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        c->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_push_front(slm_embed_cache *c, struct node *n) {
    n->prev = NULL;
    n->next = c->head;
    if (c->head) c->head->prev = n;
    c->head = n;
    if (!c->tail) c->tail = n;
}

static void db_delete(slm_embed_cache *c, const uint8_t *key) {
    if (!c->db) return;
    sqlite3_bind_blob(c->del, 1, key, SLM_EMBED_KEY_BYTES, SQLITE_STATIC);
    if (sqlite3_step(c->del) != SQLITE_DONE)
        SLM_LOG_W("event=embed_cache_db_error op=delete detail=\"%s\"", sqlite3_errmsg(c->db));
    sqlite3_reset(c->del);
}

/* Drops a node from memory and, when persisting, from the file. */
static void remove_node(slm_embed_cache *c, struct node *n, bool from_db) {
    struct node **pp = &c->buckets[bucket_of(c, n->key)];
    while (*pp != n) pp = &(*pp)->hnext;
    *pp = n->hnext;
    lru_unlink(c, n);
    if (from_db) db_delete(c, n->key);
    slm__free(n);
    c->st.entries--;
}

static slm_status insert(slm_embed_cache *c, const uint8_t *key, const float *vec, size_t dim,
                         uint64_t created) {
    struct node *old = lookup(c, key);
    if (old) remove_node(c, old, false);
    while (c->st.entries >= c->p.max_entries && c->tail) {
        remove_node(c, c->tail, true);
        c->st.evictions++;
    }
    struct node *n = slm__malloc(sizeof *n + dim * sizeof(float));
    if (!n) return slm__error(SLM_E_NOMEM, "embedding cache: out of memory");
    memcpy(n->key, key, SLM_EMBED_KEY_BYTES);
    n->dim = (uint32_t)dim;
    n->created_ns = created;
    memcpy(n->vec, vec, dim * sizeof(float));
    size_t b = bucket_of(c, key);
    n->hnext = c->buckets[b];
    c->buckets[b] = n;
    lru_push_front(c, n);
    c->st.entries++;
    return SLM_OK;
}

static slm_status db_error(slm_embed_cache *c, const char *what) {
    return slm__error(SLM_E_IO, "embedding cache %s: %s: %s", c->p.sqlite_path, what,
                      c->db ? sqlite3_errmsg(c->db) : "cannot open");
}

/* Opens the file, creates the table, loads the unexpired rows (oldest first, so the newest end
 * up most recently used) and deletes the expired ones. */
static slm_status db_open(slm_embed_cache *c, const char *path) {
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        return db_error(c, "open");
    const char *setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                        "CREATE TABLE IF NOT EXISTS embeddings (key BLOB PRIMARY KEY, dim INTEGER "
                        "NOT NULL, created INTEGER NOT NULL, vec BLOB NOT NULL);";
    if (sqlite3_exec(c->db, setup, NULL, NULL, NULL) != SQLITE_OK) return db_error(c, "setup");
    if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", -1,
                           &c->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "DELETE FROM embeddings WHERE key = ?", -1, &c->del, NULL) !=
            SQLITE_OK)
        return db_error(c, "prepare");
    uint64_t now = slm_clock_now(&c->p.clock);
    sqlite3_stmt *old;
    if (sqlite3_prepare_v2(c->db, "DELETE FROM embeddings WHERE created <= ?", -1, &old, NULL) !=
        SQLITE_OK)
        return db_error(c, "prepare");
    sqlite3_bind_int64(old, 1, (sqlite3_int64)(now > c->p.ttl_ns ? now - c->p.ttl_ns : 0));
    int rc = sqlite3_step(old);
    c->st.expirations += (uint64_t)sqlite3_changes(c->db);
    sqlite3_finalize(old);
    if (rc != SQLITE_DONE) return db_error(c, "expire");
    sqlite3_stmt *sel;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT key, dim, created, vec FROM embeddings ORDER BY created, rowid",
                           -1, &sel, NULL) != SQLITE_OK)
        return db_error(c, "prepare");
    slm_status st = SLM_OK;
    while (st == SLM_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const void *key = sqlite3_column_blob(sel, 0);
        int klen = sqlite3_column_bytes(sel, 0);
        sqlite3_int64 dim = sqlite3_column_int64(sel, 1);
        const void *vec = sqlite3_column_blob(sel, 3);
        int vlen = sqlite3_column_bytes(sel, 3);
        /* Rows that do not have the shape this code writes are ignored, not trusted. */
        if (klen != SLM_EMBED_KEY_BYTES || dim <= 0 || dim > (1 << 20) ||
            vlen != (int)(dim * (sqlite3_int64)sizeof(float)))
            continue;
        st = insert(c, key, vec, (size_t)dim, (uint64_t)sqlite3_column_int64(sel, 2));
    }
    sqlite3_finalize(sel);
    if (st == SLM_OK && rc != SQLITE_DONE) st = db_error(c, "load");
    return st;
}

slm_status slm_embed_cache_create(const struct slm_embed_cache_params *p, slm_embed_cache **out) {
    *out = NULL;
    struct slm_embed_cache_params dp = slm_embed_cache_default_params();
    if (!p) p = &dp;
    if (!p->max_entries || !p->ttl_ns || !p->clock.now_ns || p->max_entries > (SIZE_MAX >> 4))
        return slm__error(SLM_E_INVALID_ARG, "embedding cache: invalid parameters");
    slm_embed_cache *c = slm__calloc(1, sizeof *c);
    if (!c) return slm__error(SLM_E_NOMEM, "embedding cache: out of memory");
    c->p = *p;
    c->p.sqlite_path = NULL;
    c->n_buckets = 16;
    while (c->n_buckets < 2 * p->max_entries) c->n_buckets *= 2;
    pthread_mutex_init(&c->mu, NULL);
    if (!(c->buckets = slm__calloc(c->n_buckets, sizeof *c->buckets))) {
        slm_embed_cache_free(c);
        return slm__error(SLM_E_NOMEM, "embedding cache: out of memory");
    }
    if (p->sqlite_path) {
        c->p.sqlite_path = p->sqlite_path; /* only for error messages during the open */
        slm_status st = db_open(c, p->sqlite_path);
        c->p.sqlite_path = NULL;
        if (st != SLM_OK) {
            slm_embed_cache_free(c);
            return st;
        }
    }
    *out = c;
    return SLM_OK;
}

void slm_embed_cache_free(slm_embed_cache *c) {
    if (!c) return;
    for (struct node *n = c->head, *next; n; n = next) {
        next = n->next;
        slm__free(n);
    }
    sqlite3_finalize(c->ins);
    sqlite3_finalize(c->del);
    sqlite3_close(c->db);
    slm__free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    slm__free(c);
}

/* Caller holds the lock. */
static bool get_locked(slm_embed_cache *c, const uint8_t *key, float *out, size_t dim) {
    struct node *n = lookup(c, key);
    if (n && slm_clock_now(&c->p.clock) - n->created_ns >= c->p.ttl_ns) {
        remove_node(c, n, true);
        c->st.expirations++;
        n = NULL;
    }
    if (!n || n->dim != dim) {
        c->st.misses++;
        return false;
    }
    memcpy(out, n->vec, dim * sizeof(float));
    lru_unlink(c, n);
    lru_push_front(c, n);
    c->st.hits++;
    return true;
}

static slm_status put_locked(slm_embed_cache *c, const uint8_t *key, const float *vec, size_t dim) {
    uint64_t now = slm_clock_now(&c->p.clock);
    slm_status st = insert(c, key, vec, dim, now);
    if (st != SLM_OK) return st;
    c->st.inserts++;
    if (c->db) {
        sqlite3_bind_blob(c->ins, 1, key, SLM_EMBED_KEY_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(c->ins, 2, (sqlite3_int64)dim);
        sqlite3_bind_int64(c->ins, 3, (sqlite3_int64)now);
        sqlite3_bind_blob(c->ins, 4, vec, (int)(dim * sizeof(float)), SQLITE_STATIC);
        int rc = sqlite3_step(c->ins);
        sqlite3_reset(c->ins);
        if (rc != SQLITE_DONE)
            return slm__error(SLM_E_IO, "embedding cache: write failed: %s", sqlite3_errmsg(c->db));
    }
    return SLM_OK;
}

static slm_status check_dim(size_t dim) {
    return dim && dim <= (1u << 20)
               ? SLM_OK
               : slm__error(SLM_E_INVALID_ARG, "embedding cache: bad dim %zu", dim);
}

slm_status slm_embed_cache_get(slm_embed_cache *c, const uint8_t key[SLM_EMBED_KEY_BYTES],
                               float *out, size_t dim) {
    slm_status st = check_dim(dim);
    if (st != SLM_OK) return st;
    pthread_mutex_lock(&c->mu);
    bool hit = get_locked(c, key, out, dim);
    pthread_mutex_unlock(&c->mu);
    return hit ? SLM_OK : SLM_E_NOT_FOUND;
}

slm_status slm_embed_cache_put(slm_embed_cache *c, const uint8_t key[SLM_EMBED_KEY_BYTES],
                               const float *vec, size_t dim) {
    slm_status st = check_dim(dim);
    if (st != SLM_OK) return st;
    pthread_mutex_lock(&c->mu);
    st = put_locked(c, key, vec, dim);
    pthread_mutex_unlock(&c->mu);
    return st;
}

slm_status slm_embed_cache_lookup_batch(slm_embed_cache *c, const char *model_digest,
                                        const char *options, const char *const *texts, size_t n,
                                        float *out, size_t dim, bool *hit, size_t *n_hits) {
    *n_hits = 0;
    slm_status st = check_dim(dim);
    if (st != SLM_OK) return st;
    for (size_t i = 0; i < n; i++) {
        uint8_t key[SLM_EMBED_KEY_BYTES];
        slm_embed_cache_key(model_digest, options, texts[i], strlen(texts[i]), key);
        pthread_mutex_lock(&c->mu);
        hit[i] = get_locked(c, key, out + i * dim, dim);
        pthread_mutex_unlock(&c->mu);
        *n_hits += hit[i];
    }
    return SLM_OK;
}

slm_status slm_embed_cache_put_batch(slm_embed_cache *c, const char *model_digest,
                                     const char *options, const char *const *texts, size_t n,
                                     const float *vecs, size_t dim, const bool *hit) {
    slm_status st = check_dim(dim);
    for (size_t i = 0; st == SLM_OK && i < n; i++) {
        if (hit && hit[i]) continue;
        uint8_t key[SLM_EMBED_KEY_BYTES];
        slm_embed_cache_key(model_digest, options, texts[i], strlen(texts[i]), key);
        pthread_mutex_lock(&c->mu);
        st = put_locked(c, key, vecs + i * dim, dim);
        pthread_mutex_unlock(&c->mu);
    }
    return st;
}

void slm_embed_cache_stats(slm_embed_cache *c, struct slm_embed_cache_stats *out) {
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
