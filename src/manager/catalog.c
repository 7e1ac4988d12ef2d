/* The catalog: what models exist (built-in defaults, user entries, local GGUF files), what they
 * can do and what they cost in memory; search, filtering and the recommendation call. */
#include "manager/internal.h"

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct slm_catalog {
    pthread_mutex_t mu; /* guards everything below; const calls lock it too */
    struct slm_catalog_entry *entries;
    size_t n, cap;
};

/* ---- names -------------------------------------------------------------------------------- */

static const char *const cap_names[SLM_CAP_COUNT] = {"generate", "chat", "embed", "code",
                                                     "multilingual"};
static const char *const complexity_names[] = {[SLM_COMPLEXITY_LOW] = "low",
                                               [SLM_COMPLEXITY_MEDIUM] = "medium",
                                               [SLM_COMPLEXITY_HIGH] = "high",
                                               [SLM_COMPLEXITY_AUTO] = "auto"};
static const char *const size_names[] = {[SLM_SIZE_TINY] = "tiny",
                                         [SLM_SIZE_SMALL] = "small",
                                         [SLM_SIZE_MEDIUM] = "medium",
                                         [SLM_SIZE_LARGE] = "large"};

const char *slm_capability_name(unsigned cap) {
    for (int i = 0; i < SLM_CAP_COUNT; i++)
        if (cap == 1u << i) return cap_names[i];
    return "?";
}

slm_status slm_capability_from_name(const char *name, unsigned *out) {
    for (int i = 0; name && i < SLM_CAP_COUNT; i++)
        if (!strcmp(name, cap_names[i])) return *out = 1u << i, SLM_OK;
    return slm__error(SLM_E_INVALID_ARG, "unknown capability '%s'", name ? name : "(null)");
}

const char *slm_complexity_name(slm_complexity c) {
    return (unsigned)c < SLM_ARRAY_LEN(complexity_names) ? complexity_names[c] : "?";
}

slm_status slm_complexity_from_name(const char *name, slm_complexity *out) {
    for (size_t i = 0; name && i < SLM_ARRAY_LEN(complexity_names); i++)
        if (!strcmp(name, complexity_names[i])) return *out = (slm_complexity)i, SLM_OK;
    return slm__error(SLM_E_INVALID_ARG, "unknown complexity '%s'", name ? name : "(null)");
}

slm_size_class slm_size_class_of(uint64_t n_params) {
    if (n_params < 100000000ull) return SLM_SIZE_TINY;
    if (n_params < 500000000ull) return SLM_SIZE_SMALL;
    if (n_params < 1500000000ull) return SLM_SIZE_MEDIUM;
    return SLM_SIZE_LARGE;
}

const char *slm_size_class_name(slm_size_class c) {
    return (unsigned)c < SLM_ARRAY_LEN(size_names) ? size_names[c] : "?";
}

slm_status slm_size_class_from_name(const char *name, slm_size_class *out) {
    for (size_t i = 0; name && i < SLM_ARRAY_LEN(size_names); i++)
        if (!strcmp(name, size_names[i])) return *out = (slm_size_class)i, SLM_OK;
    return slm__error(SLM_E_INVALID_ARG, "unknown size class '%s'", name ? name : "(null)");
}

bool slm__id_valid(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= SLM_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-' && ch != ':') return false;
    }
    return true;
}

bool slm__contains_ci(const char *hay, const char *needle) {
    size_t nl = strlen(needle);
    for (const char *h = hay; *h; h++)
        if (!strncasecmp(h, needle, nl)) return true;
    return nl == 0;
}

/* ---- entries ------------------------------------------------------------------------------ */

struct slm_catalog_entry slm_catalog_entry_init(void) {
    struct slm_catalog_entry e;
    memset(&e, 0, sizeof e);
    e.keep_alive_ns = SLM_KEEP_ALIVE_DEFAULT;
    e.load_type = -1;
    return e;
}

uint64_t slm_catalog_entry_footprint(const struct slm_catalog_entry *e) {
    return e->footprint_measured ? e->footprint_measured : e->footprint_estimate;
}

slm_status slm_catalog_create(slm_catalog **out) {
    *out = NULL;
    slm_catalog *c = slm__calloc(1, sizeof *c);
    if (!c) return slm__error(SLM_E_NOMEM, "catalog: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return SLM_OK;
}

void slm_catalog_free(slm_catalog *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    slm__free(c->entries);
    slm__free(c);
}

static void lock(const slm_catalog *c) {
    pthread_mutex_lock(&((slm_catalog *)c)->mu);
}
static void unlock(const slm_catalog *c) {
    pthread_mutex_unlock(&((slm_catalog *)c)->mu);
}

static bool names_match(const struct slm_catalog_entry *e, const char *name) {
    return name[0] && (!strcmp(e->id, name) || (e->alias[0] && !strcmp(e->alias, name)));
}

/* Caller holds the lock. */
static struct slm_catalog_entry *find_locked(const slm_catalog *c, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (names_match(&c->entries[i], name)) return &c->entries[i];
    return NULL;
}

static const char *dominant_type(const slm_gguf *g) {
    uint64_t bytes[SLM_TYPE_COUNT] = {0};
    int best = -1;
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        bytes[t->type] += t->n_bytes;
        if (best < 0 || bytes[t->type] > bytes[best]) best = t->type;
    }
    return best < 0 ? "" : slm_type_name((slm_type)best);
}

/* Footprint of a local file at the entry's serving context and load type. */
static slm_status estimate_file(const struct slm_catalog_entry *e, const slm_gguf *g,
                                uint64_t *out) {
    struct slm_footprint_params p = slm_footprint_default_params();
    p.n_ctx = e->serve_context;
    p.load_type = e->load_type;
    struct slm_footprint f;
    slm_status st = slm_model_footprint(g, &p, &f);
    *out = st == SLM_OK ? f.total : 0;
    return st;
}

static slm_status validate(const struct slm_catalog_entry *e) {
    if (!slm__id_valid(e->id))
        return slm__error(SLM_E_INVALID_ARG, "catalog: invalid model id '%.*s'", SLM_ID_MAX, e->id);
    if (e->alias[0] && !slm__id_valid(e->alias))
        return slm__error(SLM_E_INVALID_ARG, "catalog: invalid alias '%.*s'", SLM_ID_MAX, e->alias);
    if (!e->capabilities || e->capabilities >= 1u << SLM_CAP_COUNT)
        return slm__error(SLM_E_INVALID_ARG, "catalog: %s: capabilities must be set", e->id);
    if ((unsigned)e->tier > SLM_COMPLEXITY_HIGH)
        return slm__error(SLM_E_INVALID_ARG, "catalog: %s: tier must be low, medium or high",
                          e->id);
    if (e->keep_alive_ns < 0 && e->keep_alive_ns != SLM_KEEP_ALIVE_DEFAULT &&
        e->keep_alive_ns != SLM_KEEP_ALIVE_FOREVER)
        return slm__error(SLM_E_INVALID_ARG, "catalog: %s: invalid keep-alive", e->id);
    if (e->load_type >= 0 && !slm_type_is_valid(e->load_type))
        return slm__error(SLM_E_INVALID_ARG, "catalog: %s: invalid load type", e->id);
    return SLM_OK;
}

static slm_status add_locked(slm_catalog *c, const struct slm_catalog_entry *e) {
    if (find_locked(c, e->id) || (e->alias[0] && find_locked(c, e->alias)))
        return slm__error(SLM_E_INVALID_ARG, "catalog: id or alias of '%s' already present", e->id);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct slm_catalog_entry *ne = slm__realloc(c->entries, cap * sizeof *ne);
        if (!ne) return slm__error(SLM_E_NOMEM, "catalog: out of memory");
        c->entries = ne;
        c->cap = cap;
    }
    c->entries[c->n++] = *e;
    return SLM_OK;
}

slm_status slm_catalog_add(slm_catalog *c, const struct slm_catalog_entry *in) {
    struct slm_catalog_entry e = *in;
    /* Force termination: the entry may come from a caller that filled the arrays exactly. */
    e.id[SLM_ID_MAX - 1] = e.alias[SLM_ID_MAX - 1] = '\0';
    e.local_path[SLM_PATH_MAX - 1] = '\0';
    slm_status st = validate(&e);
    if (st != SLM_OK) return st;
    if (!slm_catalog_entry_footprint(&e) && e.local_path[0]) {
        slm_gguf *g = NULL;
        if ((st = slm_gguf_open(e.local_path, NULL, &g)) != SLM_OK) return st;
        st = estimate_file(&e, g, &e.footprint_estimate);
        slm_gguf_close(g);
        if (st != SLM_OK) return st;
    }
    if (!slm_catalog_entry_footprint(&e))
        return slm__error(SLM_E_INVALID_ARG, "catalog: %s: no footprint and no local file", e.id);
    lock(c);
    st = add_locked(c, &e);
    unlock(c);
    return st;
}

slm_status slm_catalog_add_gguf(slm_catalog *c, const char *path, const char *id,
                                struct slm_catalog_entry *out) {
    if (out) *out = slm_catalog_entry_init();
    if (strlen(path) >= SLM_PATH_MAX) return slm__error(SLM_E_INVALID_ARG, "path too long");
    struct slm_catalog_entry e = slm_catalog_entry_init();
    if (id) {
        snprintf(e.id, sizeof e.id, "%s", id);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strlen(base);
        if (n > 5 && !strcasecmp(base + n - 5, ".gguf")) n -= 5;
        if (n >= SLM_ID_MAX) return slm__error(SLM_E_INVALID_ARG, "%s: file name too long", path);
        for (size_t i = 0; i < n; i++) e.id[i] = (char)tolower((unsigned char)base[i]);
    }
    slm_gguf *g = NULL;
    slm_status st = slm_gguf_open(path, NULL, &g);
    if (st != SLM_OK) return st;
    snprintf(e.local_path, sizeof e.local_path, "%s", path);
    if (slm_gguf_get_str_buf(g, "general.architecture", e.architecture, sizeof e.architecture) !=
        SLM_OK)
        snprintf(e.architecture, sizeof e.architecture, "unknown");
    if (slm_gguf_get_str_buf(g, "general.name", e.description, sizeof e.description) != SLM_OK)
        e.description[0] = '\0';
    e.n_params = slm_gguf_total_elements(g);
    e.file_size = slm_gguf_file_size(g);
    snprintf(e.tensor_type, sizeof e.tensor_type, "%s", dominant_type(g));
    char key[96];
    snprintf(key, sizeof key, "%s.context_length", e.architecture);
    uint32_t ctx = 0;
    if (slm_gguf_get_u32(g, key, &ctx) == SLM_OK) e.context_length = ctx;
    if (!strcmp(e.architecture, "bert") || !strcmp(e.architecture, "nomic-bert")) {
        e.capabilities = SLM_CAP_EMBED;
    } else {
        e.capabilities = SLM_CAP_GENERATE;
        if (slm_gguf_find_key(g, "tokenizer.chat_template") >= 0) e.capabilities |= SLM_CAP_CHAT;
    }
    e.tier = e.n_params < 300000000ull    ? SLM_COMPLEXITY_LOW
             : e.n_params < 1000000000ull ? SLM_COMPLEXITY_MEDIUM
                                          : SLM_COMPLEXITY_HIGH;
    st = estimate_file(&e, g, &e.footprint_estimate);
    slm_gguf_close(g);
    if (st != SLM_OK) return st;
    if ((st = validate(&e)) != SLM_OK) return st;
    lock(c);
    st = add_locked(c, &e);
    unlock(c);
    if (st == SLM_OK && out) *out = e;
    return st;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

slm_status slm_catalog_add_dir(slm_catalog *c, const char *dir, size_t *n_added,
                               size_t *n_skipped) {
    if (n_added) *n_added = 0;
    if (n_skipped) *n_skipped = 0;
    DIR *d = opendir(dir);
    if (!d) return slm__error(SLM_E_NOT_FOUND, "%s: cannot open folder", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    slm_status st = SLM_OK;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcasecmp(de->d_name + len - 5, ".gguf")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = slm__realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = slm__error(SLM_E_NOMEM, "catalog: out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = slm__strdup(de->d_name))) {
            st = slm__error(SLM_E_NOMEM, "catalog: out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (st == SLM_OK && n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[SLM_PATH_MAX];
        struct stat sb;
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        bool ok = st == SLM_OK && len < (int)sizeof path && stat(path, &sb) == 0 &&
                  S_ISREG(sb.st_mode) && slm_catalog_add_gguf(c, path, NULL, NULL) == SLM_OK;
        if (st == SLM_OK && ok && n_added) (*n_added)++;
        if (st == SLM_OK && !ok && n_skipped) (*n_skipped)++;
        slm__free(names[i]);
    }
    slm__free(names);
    return st;
}

slm_status slm_catalog_update(slm_catalog *c, const struct slm_catalog_entry *e) {
    slm_status st = validate(e);
    if (st != SLM_OK) return st;
    lock(c);
    struct slm_catalog_entry *cur = find_locked(c, e->id);
    if (!cur || strcmp(cur->id, e->id))
        st = slm__error(SLM_E_NOT_FOUND, "catalog: no model '%s'", e->id);
    else
        *cur = *e;
    unlock(c);
    return st;
}

slm_status slm_catalog_set_measured(slm_catalog *c, const char *id, uint64_t bytes) {
    lock(c);
    struct slm_catalog_entry *cur = find_locked(c, id);
    if (cur) cur->footprint_measured = bytes;
    unlock(c);
    return cur ? SLM_OK : slm__error(SLM_E_NOT_FOUND, "catalog: no model '%s'", id);
}

size_t slm_catalog_count(const slm_catalog *c) {
    lock(c);
    size_t n = c->n;
    unlock(c);
    return n;
}

slm_status slm_catalog_get(const slm_catalog *c, size_t i, struct slm_catalog_entry *out) {
    lock(c);
    bool ok = i < c->n;
    if (ok) *out = c->entries[i];
    unlock(c);
    return ok ? SLM_OK : slm__error(SLM_E_INVALID_ARG, "catalog: index %zu out of range", i);
}

slm_status slm_catalog_find(const slm_catalog *c, const char *name, struct slm_catalog_entry *out) {
    lock(c);
    const struct slm_catalog_entry *e = name ? find_locked(c, name) : NULL;
    if (e) *out = *e;
    unlock(c);
    return e ? SLM_OK
             : slm__error(SLM_E_NOT_FOUND, "model '%s' is not in the catalog", name ? name : "");
}

/* ---- search and recommendation ------------------------------------------------------------ */

struct slm_catalog_filter slm_catalog_default_filter(void) {
    return (struct slm_catalog_filter){
        .capabilities = 0, .size_class = -1, .max_memory = 0, .query = NULL};
}

static bool filter_match(const struct slm_catalog_entry *e, const struct slm_catalog_filter *f) {
    if ((e->capabilities & f->capabilities) != f->capabilities) return false;
    if (f->size_class >= 0 && slm_size_class_of(e->n_params) != (slm_size_class)f->size_class)
        return false;
    if (f->max_memory && slm_catalog_entry_footprint(e) > f->max_memory) return false;
    if (f->query && f->query[0]) {
        const char *fields[] = {e->id,       e->alias,    e->description,
                                e->hub_repo, e->hub_file, e->architecture};
        for (size_t i = 0; i < SLM_ARRAY_LEN(fields); i++)
            if (slm__contains_ci(fields[i], f->query)) return true;
        return false;
    }
    return true;
}

slm_status slm_catalog_search(const slm_catalog *c, const struct slm_catalog_filter *f,
                              struct slm_catalog_entry *out, size_t cap, size_t *n_match) {
    struct slm_catalog_filter df = slm_catalog_default_filter();
    if (!f) f = &df;
    *n_match = 0;
    lock(c);
    for (size_t i = 0; i < c->n; i++) {
        if (!filter_match(&c->entries[i], f)) continue;
        if (*n_match < cap) out[*n_match] = c->entries[i];
        (*n_match)++;
    }
    unlock(c);
    return SLM_OK;
}

/* True if a ranks before b for a recommendation. */
static bool better(const struct slm_catalog_entry *a, const struct slm_catalog_entry *b) {
    if (a->tier != b->tier) return a->tier > b->tier;
    if (a->n_params != b->n_params) return a->n_params > b->n_params;
    uint64_t fa = slm_catalog_entry_footprint(a), fb = slm_catalog_entry_footprint(b);
    if (fa != fb) return fa < fb;
    return strcmp(a->id, b->id) < 0;
}

slm_status slm_catalog_recommend(const slm_catalog *c, unsigned capabilities, uint64_t max_memory,
                                 struct slm_catalog_entry *out) {
    struct slm_catalog_filter f = slm_catalog_default_filter();
    f.capabilities = capabilities;
    f.max_memory = max_memory;
    const struct slm_catalog_entry *best = NULL;
    lock(c);
    for (size_t i = 0; i < c->n; i++)
        if (filter_match(&c->entries[i], &f) && (!best || better(&c->entries[i], best)))
            best = &c->entries[i];
    if (best) *out = *best;
    unlock(c);
    return best ? SLM_OK
                : slm__error(SLM_E_NOT_FOUND,
                             "no catalog model has the capabilities and fits %llu "
                             "bytes",
                             (unsigned long long)max_memory);
}
