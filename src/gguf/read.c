/* The GGUF reader. The file is mmapped and parsed once into an index; every count, length and
 * offset is checked against the bytes that remain, with overflow-safe arithmetic, before it is
 * used or allocated for. Counts are also bounded by what the file could possibly hold, so a
 * hostile header cannot make us allocate more than a small multiple of the file size. */
#include "gguf/internal.h"

#include <stdlib.h>

struct slm_gguf {
    slm_mapping map;
    bool owns_map;
    char *path;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    struct slm__gguf_kv *kv;
    int64_t n_tensors;
    struct slm_gguf_tensor *tensors;
    /* open-addressing hash tables of indices (-1 = empty), capacity a power of two */
    int64_t *kv_table, *tensor_table;
    uint64_t kv_cap, tensor_cap;
    uint64_t total_elements, total_bytes;
    uint64_t heap_bytes; /* what the open allocated for this handle */
};

struct cursor {
    const uint8_t *base;
    uint64_t size, pos;
    const struct slm_gguf_params *params;
};

static const size_t type_sizes[SLM_GGUF_TYPE_COUNT] = {
    [SLM_GGUF_UINT8] = 1,   [SLM_GGUF_INT8] = 1,    [SLM_GGUF_UINT16] = 2, [SLM_GGUF_INT16] = 2,
    [SLM_GGUF_UINT32] = 4,  [SLM_GGUF_INT32] = 4,   [SLM_GGUF_FLOAT32] = 4, [SLM_GGUF_BOOL] = 1,
    [SLM_GGUF_STRING] = 0,  [SLM_GGUF_ARRAY] = 0,   [SLM_GGUF_UINT64] = 8, [SLM_GGUF_INT64] = 8,
    [SLM_GGUF_FLOAT64] = 8,
};

static const char *const type_names[SLM_GGUF_TYPE_COUNT] = {
    [SLM_GGUF_UINT8] = "u8",   [SLM_GGUF_INT8] = "i8",     [SLM_GGUF_UINT16] = "u16",
    [SLM_GGUF_INT16] = "i16",  [SLM_GGUF_UINT32] = "u32",  [SLM_GGUF_INT32] = "i32",
    [SLM_GGUF_FLOAT32] = "f32", [SLM_GGUF_BOOL] = "bool",  [SLM_GGUF_STRING] = "str",
    [SLM_GGUF_ARRAY] = "arr",  [SLM_GGUF_UINT64] = "u64",  [SLM_GGUF_INT64] = "i64",
    [SLM_GGUF_FLOAT64] = "f64",
};

size_t slm_gguf_type_size(slm_gguf_type t) {
    return (unsigned)t < SLM_GGUF_TYPE_COUNT ? type_sizes[t] : 0;
}

const char *slm_gguf_type_name(slm_gguf_type t) {
    return (unsigned)t < SLM_GGUF_TYPE_COUNT ? type_names[t] : "?";
}

struct slm_gguf_params slm_gguf_default_params(void) {
    return (struct slm_gguf_params){
        .max_tensors = 1u << 20, .max_kv = 1u << 20, .max_string_len = 1u << 26};
}

/* Every failure in here is a malformed file except running out of memory, which is recorded
 * so that the open reports SLM_E_NOMEM instead. */
static _Thread_local bool tl_nomem;

__attribute__((format(printf, 1, 2))) static void nomem(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    slm__verror(SLM_E_NOMEM, fmt, ap);
    va_end(ap);
    slm__error_prefix("out of memory");
    tl_nomem = true;
}

/* ---- cursor reads: each returns false (with the error detail set) when bytes run out ---- */

static uint64_t remaining(const struct cursor *c) { return c->size - c->pos; }

static bool need(struct cursor *c, uint64_t n, const char *what) {
    if (n > remaining(c)) {
        slm__error(SLM_E_INVALID_MODEL, "%s at offset %llu runs past end of file (%llu bytes)",
                   what, (unsigned long long)c->pos, (unsigned long long)c->size);
        return false;
    }
    return true;
}

static bool rd_u32(struct cursor *c, uint32_t *v, const char *what) {
    if (!need(c, 4, what)) return false;
    *v = slm__rd_u32(c->base + c->pos);
    c->pos += 4;
    return true;
}

static bool rd_u64(struct cursor *c, uint64_t *v, const char *what) {
    if (!need(c, 8, what)) return false;
    *v = slm__rd_u64(c->base + c->pos);
    c->pos += 8;
    return true;
}

static bool rd_str(struct cursor *c, struct slm_gguf_str *s, const char *what) {
    uint64_t len;
    if (!rd_u64(c, &len, what)) return false;
    if (len > c->params->max_string_len) {
        slm__error(SLM_E_INVALID_MODEL, "%s at offset %llu: length %llu exceeds limit %llu", what,
                   (unsigned long long)(c->pos - 8), (unsigned long long)len,
                   (unsigned long long)c->params->max_string_len);
        return false;
    }
    if (!need(c, len, what)) return false;
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return true;
}

/* ---- values ---- */

static void free_arr_index(struct slm__gguf_arr_index *a) {
    if (a->sub) {
        for (uint64_t i = 0; i < a->count; i++) free_arr_index(&a->sub[i]);
        slm__free(a->sub);
    }
    slm__free(a->items);
    a->sub = NULL;
    a->items = NULL;
}

static bool parse_array(struct cursor *c, struct slm__gguf_arr_index *a, int depth);

static bool parse_array(struct cursor *c, struct slm__gguf_arr_index *a, int depth) {
    *a = (struct slm__gguf_arr_index){0};
    if (depth > SLM_GGUF_MAX_NESTING) {
        slm__error(SLM_E_INVALID_MODEL, "arrays nested deeper than %d", SLM_GGUF_MAX_NESTING);
        return false;
    }
    uint32_t et;
    uint64_t count;
    if (!rd_u32(c, &et, "array element type") || !rd_u64(c, &count, "array length")) return false;
    if (et >= SLM_GGUF_TYPE_COUNT) {
        slm__error(SLM_E_INVALID_MODEL, "array element type %u is not a GGUF type", et);
        return false;
    }
    a->elem_type = (slm_gguf_type)et;
    a->count = count;
    a->data = c->base + c->pos;
    size_t es = type_sizes[et];
    if (es) {
        uint64_t bytes;
        if (!slm__mul_u64(count, es, &bytes) || bytes > remaining(c)) {
            slm__error(SLM_E_INVALID_MODEL, "array of %llu %s elements at offset %llu runs past "
                       "end of file", (unsigned long long)count, type_names[et],
                       (unsigned long long)c->pos);
            return false;
        }
        c->pos += bytes;
        return true;
    }
    /* Strings take at least 8 bytes each, sub-arrays 12: bound count by the bytes left. */
    uint64_t min_each = et == SLM_GGUF_STRING ? 8 : 12;
    if (count > remaining(c) / min_each) {
        slm__error(SLM_E_INVALID_MODEL, "array of %llu %s elements at offset %llu cannot fit in "
                   "the file", (unsigned long long)count, type_names[et],
                   (unsigned long long)c->pos);
        return false;
    }
    if (count == 0) return true;
    if (et == SLM_GGUF_STRING) {
        a->items = slm__malloc(count * sizeof *a->items);
        if (!a->items) {
            nomem("string array of %llu elements", (unsigned long long)count);
            return false;
        }
        for (uint64_t i = 0; i < count; i++) {
            a->items[i] = c->base + c->pos;
            struct slm_gguf_str s;
            if (!rd_str(c, &s, "string array element")) return false;
        }
        return true;
    }
    a->sub = slm__calloc(count, sizeof *a->sub);
    if (!a->sub) {
        nomem("nested array of %llu elements", (unsigned long long)count);
        return false;
    }
    for (uint64_t i = 0; i < count; i++)
        if (!parse_array(c, &a->sub[i], depth + 1)) return false;
    return true;
}

static bool parse_value(struct cursor *c, struct slm__gguf_kv *kv) {
    const uint8_t *p = c->base + c->pos;
    size_t es = type_sizes[kv->type];
    switch (kv->type) {
    case SLM_GGUF_STRING: return rd_str(c, &kv->str, "string value");
    case SLM_GGUF_ARRAY: return parse_array(c, &kv->arr, 0);
    default: break;
    }
    if (!need(c, es, "value")) return false;
    uint64_t raw = 0;
    memcpy(&raw, p, es);
    c->pos += es;
    switch (kv->type) {
    case SLM_GGUF_INT8: kv->num.i = (int8_t)raw; break;
    case SLM_GGUF_INT16: kv->num.i = (int16_t)raw; break;
    case SLM_GGUF_INT32: kv->num.i = (int32_t)raw; break;
    case SLM_GGUF_INT64: kv->num.i = (int64_t)raw; break;
    case SLM_GGUF_FLOAT32: {
        float f;
        memcpy(&f, p, 4);
        kv->num.f = f;
        break;
    }
    case SLM_GGUF_FLOAT64: memcpy(&kv->num.f, p, 8); break;
    default: kv->num.u = raw; break; /* unsigned and bool */
    }
    return true;
}

/* ---- hash tables for keys and tensor names ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool table_alloc(int64_t n, int64_t **table, uint64_t *cap) {
    uint64_t c = 16;
    while (c < (uint64_t)n * 2) c <<= 1;
    *table = slm__malloc(c * sizeof **table);
    if (!*table) return false;
    for (uint64_t i = 0; i < c; i++) (*table)[i] = -1;
    *cap = c;
    return true;
}

/* Inserts index idx for name; returns the index already present under that name, or -1. */
typedef const char *(*name_of_fn)(const slm_gguf *g, int64_t i);
static int64_t table_insert(const slm_gguf *g, int64_t *table, uint64_t cap, name_of_fn name_of,
                            int64_t idx) {
    const char *name = name_of(g, idx);
    uint64_t h = hash_str(name) & (cap - 1);
    while (table[h] >= 0) {
        if (!strcmp(name_of(g, table[h]), name)) return table[h];
        h = (h + 1) & (cap - 1);
    }
    table[h] = idx;
    return -1;
}

static int64_t table_find(const slm_gguf *g, const int64_t *table, uint64_t cap, name_of_fn name_of,
                          const char *name) {
    if (!table) return -1;
    uint64_t h = hash_str(name) & (cap - 1);
    while (table[h] >= 0) {
        if (!strcmp(name_of(g, table[h]), name)) return table[h];
        h = (h + 1) & (cap - 1);
    }
    return -1;
}

static const char *kv_name(const slm_gguf *g, int64_t i) { return g->kv[i].key; }
static const char *tensor_name(const slm_gguf *g, int64_t i) { return g->tensors[i].name; }

/* ---- header, metadata and tensor index ---- */

static bool parse_kvs(slm_gguf *g, struct cursor *c, uint64_t n_kv) {
    /* A KV takes at least 8 (key length) + 1 (key) + 4 (type) + 1 (value) bytes. */
    if (n_kv > c->params->max_kv || n_kv > remaining(c) / 14) {
        slm__error(SLM_E_INVALID_MODEL, "metadata count %llu is impossible for a file of %llu bytes",
                   (unsigned long long)n_kv, (unsigned long long)c->size);
        return false;
    }
    g->kv = slm__calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    if (!g->kv || !table_alloc((int64_t)n_kv, &g->kv_table, &g->kv_cap)) {
        nomem("metadata index");
        return false;
    }
    for (uint64_t i = 0; i < n_kv; i++) {
        struct slm__gguf_kv *kv = &g->kv[i];
        struct slm_gguf_str key;
        uint32_t type;
        uint64_t key_at = c->pos;
        if (!rd_str(c, &key, "metadata key")) return false;
        if (key.len == 0 || !slm__utf8_valid(key.ptr, key.len) || memchr(key.ptr, 0, key.len)) {
            slm__error(SLM_E_INVALID_MODEL, "metadata key %llu at offset %llu is empty or not "
                       "valid UTF-8", (unsigned long long)i, (unsigned long long)key_at);
            return false;
        }
        kv->key = slm__strndup(key.ptr, key.len);
        if (!kv->key) {
            nomem("metadata key");
            return false;
        }
        g->n_kv = (int64_t)i + 1; /* owned from here on, for cleanup */
        if (!rd_u32(c, &type, "metadata value type")) return false;
        if (type >= SLM_GGUF_TYPE_COUNT) {
            slm__error(SLM_E_INVALID_MODEL, "metadata '%s' has unknown value type %u", kv->key,
                       type);
            return false;
        }
        kv->type = (slm_gguf_type)type;
        kv->value = c->base + c->pos;
        if (!parse_value(c, kv)) {
            slm__error_prefix("metadata '%s'", kv->key);
            return false;
        }
        kv->value_len = (uint64_t)(c->base + c->pos - kv->value);
        int64_t dup = table_insert(g, g->kv_table, g->kv_cap, kv_name, (int64_t)i);
        if (dup >= 0) {
            slm__error(SLM_E_INVALID_MODEL, "duplicate metadata key '%s'", kv->key);
            return false;
        }
    }
    return true;
}

static bool read_alignment(slm_gguf *g) {
    g->alignment = SLM_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = slm_gguf_find_key(g, "general.alignment");
    if (i < 0) return true;
    uint64_t a;
    if (slm_gguf_kv_u64(g, i, &a) != SLM_OK || g->kv[i].type == SLM_GGUF_BOOL || a == 0 ||
        (a & (a - 1)) != 0 || a > (1u << 30)) {
        slm__error(SLM_E_INVALID_MODEL, "general.alignment must be a power of two up to 2^30");
        return false;
    }
    g->alignment = a;
    return true;
}

static int cmp_by_offset(const void *a, const void *b) {
    const struct slm_gguf_tensor *x = *(const struct slm_gguf_tensor *const *)a;
    const struct slm_gguf_tensor *y = *(const struct slm_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static bool parse_tensors(slm_gguf *g, struct cursor *c, uint64_t n_tensors) {
    /* A tensor info takes at least 8 + 1 + 4 + 8 + 4 + 8 bytes. */
    if (n_tensors > c->params->max_tensors || n_tensors > remaining(c) / 33) {
        slm__error(SLM_E_INVALID_MODEL, "tensor count %llu is impossible for a file of %llu bytes",
                   (unsigned long long)n_tensors, (unsigned long long)c->size);
        return false;
    }
    g->tensors = slm__calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    if (!g->tensors || !table_alloc((int64_t)n_tensors, &g->tensor_table, &g->tensor_cap)) {
        nomem("tensor index");
        return false;
    }
    uint64_t *rel = slm__calloc(n_tensors ? n_tensors : 1, sizeof *rel);
    if (!rel) {
        nomem("tensor index");
        return false;
    }
    bool ok = false;
    for (uint64_t i = 0; i < n_tensors; i++) {
        struct slm_gguf_tensor *t = &g->tensors[i];
        struct slm_gguf_str name;
        uint64_t at = c->pos;
        if (!rd_str(c, &name, "tensor name")) goto out;
        if (name.len == 0 || name.len >= SLM_GGUF_MAX_NAME || memchr(name.ptr, 0, name.len) ||
            !slm__utf8_valid(name.ptr, name.len)) {
            slm__error(SLM_E_INVALID_MODEL, "tensor %llu at offset %llu: name is empty, longer "
                       "than %d bytes or not valid UTF-8", (unsigned long long)i,
                       (unsigned long long)at, SLM_GGUF_MAX_NAME - 1);
            goto out;
        }
        t->name = slm__strndup(name.ptr, name.len);
        if (!t->name) {
            nomem("tensor name");
            goto out;
        }
        g->n_tensors = (int64_t)i + 1;
        uint32_t n_dims, type;
        if (!rd_u32(c, &n_dims, "tensor dimension count")) goto tensor_err;
        if (n_dims > SLM_GGUF_MAX_DIMS) {
            slm__error(SLM_E_INVALID_MODEL, "%u dimensions (at most %d)", n_dims,
                       SLM_GGUF_MAX_DIMS);
            goto tensor_err;
        }
        t->n_dims = n_dims;
        uint64_t nel = 1;
        for (int d = 0; d < SLM_GGUF_MAX_DIMS; d++) {
            uint64_t ne = 1;
            if ((uint32_t)d < n_dims && !rd_u64(c, &ne, "tensor dimension")) goto tensor_err;
            if (ne > INT64_MAX || !slm__mul_u64(nel, ne, &nel) || nel > INT64_MAX) {
                slm__error(SLM_E_INVALID_MODEL, "dimension %d (%llu) overflows the element count",
                           d, (unsigned long long)ne);
                goto tensor_err;
            }
            t->ne[d] = (int64_t)ne;
        }
        t->n_elements = nel;
        if (!rd_u32(c, &type, "tensor type")) goto tensor_err;
        if (!slm_type_is_valid((int)type)) {
            slm__error(SLM_E_INVALID_MODEL, "unknown tensor type %u", type);
            goto tensor_err;
        }
        t->type = (slm_type)type;
        if (t->ne[0] % slm_type_block_size(t->type) != 0) {
            slm__error(SLM_E_INVALID_MODEL, "row length %lld is not a multiple of the %s block "
                       "size %lld", (long long)t->ne[0], slm_type_name(t->type),
                       (long long)slm_type_block_size(t->type));
            goto tensor_err;
        }
        if (!slm_type_nbytes(t->type, nel, &t->n_bytes)) {
            slm__error(SLM_E_INVALID_MODEL, "byte size overflows");
            goto tensor_err;
        }
        if (!rd_u64(c, &rel[i], "tensor offset")) goto tensor_err;
        if (table_insert(g, g->tensor_table, g->tensor_cap, tensor_name, (int64_t)i) >= 0) {
            slm__error(SLM_E_INVALID_MODEL, "duplicate tensor name");
            goto tensor_err;
        }
        if (!slm__add_u64(g->total_elements, nel, &g->total_elements) ||
            !slm__add_u64(g->total_bytes, t->n_bytes, &g->total_bytes)) {
            slm__error(SLM_E_INVALID_MODEL, "total tensor size overflows");
            goto tensor_err;
        }
        continue;
    tensor_err:
        slm__error_prefix("tensor '%s'", t->name);
        goto out;
    }

    /* The data section starts at the next multiple of the alignment after the tensor infos. */
    uint64_t data = c->pos, pad = (g->alignment - data % g->alignment) % g->alignment;
    if (!slm__add_u64(data, pad, &data)) goto overflow;
    g->data_offset = data;
    if (n_tensors > 0 && data > c->size) {
        slm__error(SLM_E_INVALID_MODEL, "tensor data section starts at %llu, past end of file "
                   "(%llu bytes)", (unsigned long long)data, (unsigned long long)c->size);
        goto out;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        struct slm_gguf_tensor *t = &g->tensors[i];
        uint64_t start, end;
        if (rel[i] % g->alignment != 0) {
            slm__error(SLM_E_INVALID_MODEL, "tensor '%s': offset %llu is not a multiple of the "
                       "alignment %llu", t->name, (unsigned long long)rel[i],
                       (unsigned long long)g->alignment);
            goto out;
        }
        if (!slm__add_u64(data, rel[i], &start) || !slm__add_u64(start, t->n_bytes, &end) ||
            end > c->size) {
            slm__error(SLM_E_INVALID_MODEL, "tensor '%s': data (offset %llu, %llu bytes) ends "
                       "past end of file (%llu bytes)", t->name, (unsigned long long)rel[i],
                       (unsigned long long)t->n_bytes, (unsigned long long)c->size);
            goto out;
        }
        t->offset = start;
        t->data = c->base + start;
    }
    /* No two tensors may share bytes. */
    if (n_tensors > 1) {
        const struct slm_gguf_tensor **order = slm__malloc(n_tensors * sizeof *order);
        if (!order) {
            nomem("tensor index");
            goto out;
        }
        for (uint64_t i = 0; i < n_tensors; i++) order[i] = &g->tensors[i];
        qsort(order, n_tensors, sizeof *order, cmp_by_offset);
        for (uint64_t i = 1; i < n_tensors; i++) {
            if (order[i]->offset < order[i - 1]->offset + order[i - 1]->n_bytes) {
                slm__error(SLM_E_INVALID_MODEL, "tensors '%s' and '%s' overlap",
                           order[i - 1]->name, order[i]->name);
                slm__free(order);
                goto out;
            }
        }
        slm__free(order);
    }
    ok = true;
    goto out;
overflow:
    slm__error(SLM_E_INVALID_MODEL, "tensor data offset overflows");
out:
    slm__free(rel);
    return ok;
}

static slm_status parse(slm_gguf *g, const struct slm_gguf_params *params) {
    struct cursor c = {.base = g->map.data, .size = g->map.size, .pos = 0, .params = params};
    tl_nomem = false;
    uint32_t magic, version;
    uint64_t n_tensors, n_kv;
    if (c.size < 4 || (magic = slm__rd_u32(c.base)) != SLM_GGUF_MAGIC)
        return slm__error(SLM_E_INVALID_MODEL, "not a GGUF file (bad magic)");
    c.pos = 4;
    if (!rd_u32(&c, &version, "version")) return SLM_E_INVALID_MODEL;
    if (version == 1)
        return slm__error(SLM_E_INVALID_MODEL, "GGUF version 1 is not supported (re-save as v3)");
    if (version != 2 && version != 3) {
        if ((version & 0xFFFF) == 0)
            return slm__error(SLM_E_INVALID_MODEL, "big-endian GGUF files are not supported");
        return slm__error(SLM_E_INVALID_MODEL, "unsupported GGUF version %u", version);
    }
    g->version = version;
    if (!rd_u64(&c, &n_tensors, "tensor count") || !rd_u64(&c, &n_kv, "metadata count"))
        return SLM_E_INVALID_MODEL;
    if (!parse_kvs(g, &c, n_kv) || !read_alignment(g) || !parse_tensors(g, &c, n_tensors))
        return tl_nomem ? SLM_E_NOMEM : SLM_E_INVALID_MODEL;
    return SLM_OK;
}

/* ---- open / close ---- */

void slm_gguf_close(slm_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        slm__free(g->kv[i].key);
        if (g->kv[i].type == SLM_GGUF_ARRAY) free_arr_index(&g->kv[i].arr);
    }
    slm__free(g->kv);
    for (int64_t i = 0; i < g->n_tensors; i++) slm__free((char *)g->tensors[i].name);
    slm__free(g->tensors);
    slm__free(g->kv_table);
    slm__free(g->tensor_table);
    if (g->owns_map) slm__unmap(&g->map);
    slm__free(g->path);
    slm__free(g);
}

static slm_status open_common(slm_gguf *g, const struct slm_gguf_params *params) {
    struct slm_gguf_params def = slm_gguf_default_params();
    int64_t heap0 = slm__alloc_thread_net();
    slm_status st = parse(g, params ? params : &def);
    g->heap_bytes = (uint64_t)(slm__alloc_thread_net() - heap0) + sizeof *g;
    return st;
}

slm_status slm_gguf_open_memory(const void *data, size_t size, const struct slm_gguf_params *params,
                                slm_gguf **out) {
    *out = NULL;
    if (!data && size) return slm__error(SLM_E_INVALID_ARG, "NULL buffer");
    slm_gguf *g = slm__calloc(1, sizeof *g);
    if (!g || !(g->path = slm__strdup(""))) {
        slm__free(g);
        return slm__error(SLM_E_NOMEM, "gguf handle");
    }
    g->map = (slm_mapping){.data = data, .size = size, .fd = -1};
    slm_status st = open_common(g, params);
    if (st != SLM_OK) {
        slm_gguf_close(g);
        return st;
    }
    *out = g;
    return SLM_OK;
}

slm_status slm_gguf_open(const char *path, const struct slm_gguf_params *params, slm_gguf **out) {
    *out = NULL;
    slm_gguf *g = slm__calloc(1, sizeof *g);
    if (!g || !(g->path = slm__strdup(path))) {
        slm__free(g);
        return slm__error(SLM_E_NOMEM, "gguf handle");
    }
    slm_status st = slm__map_file(path, &g->map);
    if (st == SLM_OK) {
        g->owns_map = true;
        st = open_common(g, params);
        if (st != SLM_OK) slm__error_prefix("%s", path);
    }
    if (st != SLM_OK) {
        slm_gguf_close(g);
        return st;
    }
    *out = g;
    return SLM_OK;
}

uint32_t slm_gguf_version(const slm_gguf *g) { return g->version; }
uint64_t slm_gguf_alignment(const slm_gguf *g) { return g->alignment; }
uint64_t slm_gguf_file_size(const slm_gguf *g) { return g->map.size; }
uint64_t slm_gguf_data_offset(const slm_gguf *g) { return g->data_offset; }
const char *slm_gguf_path(const slm_gguf *g) { return g->path; }
int64_t slm_gguf_kv_count(const slm_gguf *g) { return g->n_kv; }
int64_t slm_gguf_tensor_count(const slm_gguf *g) { return g->n_tensors; }
uint64_t slm_gguf_total_elements(const slm_gguf *g) { return g->total_elements; }
uint64_t slm_gguf_total_tensor_bytes(const slm_gguf *g) { return g->total_bytes; }
uint64_t slm_gguf_heap_bytes(const slm_gguf *g) { return g->heap_bytes; }

int64_t slm_gguf_find_key(const slm_gguf *g, const char *key) {
    return table_find(g, g->kv_table, g->kv_cap, kv_name, key);
}

const char *slm_gguf_kv_key(const slm_gguf *g, int64_t i) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    return g->kv[i].key;
}

slm_gguf_type slm_gguf_kv_type(const slm_gguf *g, int64_t i) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    return g->kv[i].type;
}

void slm__gguf_kv_raw(const slm_gguf *g, int64_t i, slm_gguf_type *type, const uint8_t **value,
                      uint64_t *len) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    *type = g->kv[i].type;
    *value = g->kv[i].value;
    *len = g->kv[i].value_len;
}

const struct slm_gguf_tensor *slm_gguf_tensor(const slm_gguf *g, int64_t i) {
    SLM_ASSERT(i >= 0 && i < g->n_tensors);
    return &g->tensors[i];
}

const struct slm_gguf_tensor *slm_gguf_find_tensor(const slm_gguf *g, const char *name) {
    int64_t i = table_find(g, g->tensor_table, g->tensor_cap, tensor_name, name);
    return i < 0 ? NULL : &g->tensors[i];
}

/* ---- typed access ---- */

static bool is_signed_int(slm_gguf_type t) {
    return t == SLM_GGUF_INT8 || t == SLM_GGUF_INT16 || t == SLM_GGUF_INT32 || t == SLM_GGUF_INT64;
}
static bool is_unsigned_int(slm_gguf_type t) {
    return t == SLM_GGUF_UINT8 || t == SLM_GGUF_UINT16 || t == SLM_GGUF_UINT32 ||
           t == SLM_GGUF_UINT64;
}

static slm_status mismatch(const slm_gguf *g, int64_t i, const char *want) {
    return slm__error(SLM_E_TYPE_MISMATCH, "metadata '%s' is %s, expected %s", g->kv[i].key,
                      type_names[g->kv[i].type], want);
}

slm_status slm_gguf_kv_u64(const slm_gguf *g, int64_t i, uint64_t *out) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    const struct slm__gguf_kv *kv = &g->kv[i];
    if (is_unsigned_int(kv->type) || kv->type == SLM_GGUF_BOOL) *out = kv->num.u;
    else if (is_signed_int(kv->type) && kv->num.i >= 0) *out = (uint64_t)kv->num.i;
    else return mismatch(g, i, "a non-negative integer");
    return SLM_OK;
}

slm_status slm_gguf_kv_i64(const slm_gguf *g, int64_t i, int64_t *out) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    const struct slm__gguf_kv *kv = &g->kv[i];
    if (is_signed_int(kv->type)) *out = kv->num.i;
    else if (is_unsigned_int(kv->type) && kv->num.u <= INT64_MAX) *out = (int64_t)kv->num.u;
    else return mismatch(g, i, "an integer");
    return SLM_OK;
}

slm_status slm_gguf_kv_f64(const slm_gguf *g, int64_t i, double *out) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    const struct slm__gguf_kv *kv = &g->kv[i];
    if (kv->type != SLM_GGUF_FLOAT32 && kv->type != SLM_GGUF_FLOAT64)
        return mismatch(g, i, "a float");
    *out = kv->num.f;
    return SLM_OK;
}

slm_status slm_gguf_kv_str(const slm_gguf *g, int64_t i, struct slm_gguf_str *out) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    if (g->kv[i].type != SLM_GGUF_STRING) return mismatch(g, i, "a string");
    *out = g->kv[i].str;
    return SLM_OK;
}

slm_status slm_gguf_kv_arr(const slm_gguf *g, int64_t i, struct slm_gguf_array *out) {
    SLM_ASSERT(i >= 0 && i < g->n_kv);
    if (g->kv[i].type != SLM_GGUF_ARRAY) return mismatch(g, i, "an array");
    const struct slm__gguf_arr_index *a = &g->kv[i].arr;
    *out = (struct slm_gguf_array){a->elem_type, a->count, a->data, a};
    return SLM_OK;
}

static slm_status lookup(const slm_gguf *g, const char *key, int64_t *i) {
    *i = slm_gguf_find_key(g, key);
    return *i < 0 ? slm__error(SLM_E_NOT_FOUND, "metadata '%s' not found", key) : SLM_OK;
}

static bool in_range_uint32_t(uint64_t v) { return v <= UINT32_MAX; }
static bool in_range_uint64_t(uint64_t v) { (void)v; return true; }
static bool in_range_int32_t(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }
static bool in_range_int64_t(int64_t v) { (void)v; return true; }

#define GET_INT(fn, ctype, via, vtype)                                                     \
    slm_status fn(const slm_gguf *g, const char *key, ctype *out) {                                \
        int64_t i;                                                                                 \
        vtype v;                                                                                   \
        slm_status st = lookup(g, key, &i);                                                        \
        if (st == SLM_OK) st = via(g, i, &v);                                                      \
        if (st != SLM_OK) return st;                                                               \
        if (!in_range_##ctype(v))                                                                  \
            return slm__error(SLM_E_TYPE_MISMATCH, "metadata '%s' is out of range for " #ctype,   \
                              key);                                                                \
        *out = (ctype)v;                                                                           \
        return SLM_OK;                                                                             \
    }
GET_INT(slm_gguf_get_u32, uint32_t, slm_gguf_kv_u64, uint64_t)
GET_INT(slm_gguf_get_u64, uint64_t, slm_gguf_kv_u64, uint64_t)
GET_INT(slm_gguf_get_i32, int32_t, slm_gguf_kv_i64, int64_t)
GET_INT(slm_gguf_get_i64, int64_t, slm_gguf_kv_i64, int64_t)
#undef GET_INT

slm_status slm_gguf_get_f64(const slm_gguf *g, const char *key, double *out) {
    int64_t i;
    slm_status st = lookup(g, key, &i);
    return st == SLM_OK ? slm_gguf_kv_f64(g, i, out) : st;
}

slm_status slm_gguf_get_f32(const slm_gguf *g, const char *key, float *out) {
    double v;
    slm_status st = slm_gguf_get_f64(g, key, &v);
    if (st == SLM_OK) *out = (float)v;
    return st;
}

slm_status slm_gguf_get_bool(const slm_gguf *g, const char *key, bool *out) {
    int64_t i;
    slm_status st = lookup(g, key, &i);
    if (st != SLM_OK) return st;
    if (g->kv[i].type != SLM_GGUF_BOOL) return mismatch(g, i, "a bool");
    *out = g->kv[i].num.u != 0;
    return SLM_OK;
}

slm_status slm_gguf_get_str(const slm_gguf *g, const char *key, struct slm_gguf_str *out) {
    int64_t i;
    slm_status st = lookup(g, key, &i);
    return st == SLM_OK ? slm_gguf_kv_str(g, i, out) : st;
}

slm_status slm_gguf_get_str_buf(const slm_gguf *g, const char *key, char *buf, size_t cap) {
    struct slm_gguf_str s;
    slm_status st = slm_gguf_get_str(g, key, &s);
    if (st != SLM_OK) return st;
    if (s.len >= cap)
        return slm__error(SLM_E_OVERFLOW, "metadata '%s' is longer than %zu bytes", key, cap - 1);
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    return SLM_OK;
}

slm_status slm_gguf_get_arr(const slm_gguf *g, const char *key, struct slm_gguf_array *out) {
    int64_t i;
    slm_status st = lookup(g, key, &i);
    return st == SLM_OK ? slm_gguf_kv_arr(g, i, out) : st;
}

/* ---- array elements ---- */

static uint64_t raw_elem(const struct slm_gguf_array *a, uint64_t i) {
    SLM_ASSERT(i < a->count);
    size_t es = type_sizes[a->elem_type];
    SLM_ASSERT(es > 0);
    uint64_t raw = 0;
    memcpy(&raw, a->data + i * es, es);
    return raw;
}

int64_t slm_gguf_arr_i64(const struct slm_gguf_array *a, uint64_t i) {
    uint64_t raw = raw_elem(a, i);
    switch (a->elem_type) {
    case SLM_GGUF_INT8: return (int8_t)raw;
    case SLM_GGUF_INT16: return (int16_t)raw;
    case SLM_GGUF_INT32: return (int32_t)raw;
    case SLM_GGUF_FLOAT32:
    case SLM_GGUF_FLOAT64: SLM_PANIC("integer access to a float array");
    default: return (int64_t)raw;
    }
}

uint64_t slm_gguf_arr_u64(const struct slm_gguf_array *a, uint64_t i) {
    return (uint64_t)slm_gguf_arr_i64(a, i);
}

double slm_gguf_arr_f64(const struct slm_gguf_array *a, uint64_t i) {
    if (a->elem_type == SLM_GGUF_FLOAT32) {
        float f;
        uint32_t r = (uint32_t)raw_elem(a, i);
        memcpy(&f, &r, 4);
        return f;
    }
    if (a->elem_type == SLM_GGUF_FLOAT64) {
        double d;
        uint64_t r = raw_elem(a, i);
        memcpy(&d, &r, 8);
        return d;
    }
    return (double)slm_gguf_arr_i64(a, i);
}

struct slm_gguf_str slm_gguf_arr_str(const struct slm_gguf_array *a, uint64_t i) {
    SLM_ASSERT(a->elem_type == SLM_GGUF_STRING && i < a->count);
    const struct slm__gguf_arr_index *ix = a->priv;
    const uint8_t *p = ix->items[i];
    return (struct slm_gguf_str){(const char *)p + 8, slm__rd_u64(p)};
}

struct slm_gguf_array slm_gguf_arr_arr(const struct slm_gguf_array *a, uint64_t i) {
    SLM_ASSERT(a->elem_type == SLM_GGUF_ARRAY && i < a->count);
    const struct slm__gguf_arr_index *ix = a->priv;
    const struct slm__gguf_arr_index *s = &ix->sub[i];
    return (struct slm_gguf_array){s->elem_type, s->count, s->data, s};
}
