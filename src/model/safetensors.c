/* Reading Hugging Face safetensors: one file, or the shards a model.safetensors.index.json names.
 * Every header is treated as hostile: its JSON, dtypes, shapes and byte ranges are validated
 * (inside the file, sizes agreeing with shapes, no overlaps, no duplicate names) before any
 * tensor is handed out. */
#include "core/internal.h"
#include "slm/convert.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_HEADER (100u << 20) /* the reference implementation's limit */
#define MAX_DIM    (1ull << 40)
#define MAX_SHARDS 4096

struct slm_safetensors {
    slm_mapping *maps;
    int n_maps;
    struct slm_safetensors_tensor *t; /* sorted by name; names owned */
    int64_t n;
};

static const struct {
    const char *name;
    slm_type type;
    size_t size;
} dtypes[] = {{"F32", SLM_TYPE_F32, 4}, {"F16", SLM_TYPE_F16, 2}, {"BF16", SLM_TYPE_BF16, 2},
              {"F64", SLM_TYPE_F64, 8}, {"I64", SLM_TYPE_I64, 8}, {"I32", SLM_TYPE_I32, 4},
              {"I16", SLM_TYPE_I16, 2}, {"I8", SLM_TYPE_I8, 1}};

/* dtypes of the format without a GGUF type: named as unsupported rather than malformed. */
static const char *const other_dtypes[] = {"U8", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2"};

static bool json_u64(const cJSON *v, uint64_t max, uint64_t *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > (double)max ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const struct slm_safetensors_tensor *)a)->name,
                  ((const struct slm_safetensors_tensor *)b)->name);
}

struct range {
    uint64_t begin, end;
    const char *name;
};
static int by_begin(const void *a, const void *b) {
    const struct range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static slm_status parse_entry(const cJSON *e, const uint8_t *data, uint64_t data_size,
                              struct slm_safetensors_tensor *t, struct range *r) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return slm__error(SLM_E_INVALID_MODEL, "'%s' is not an object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return slm__error(SLM_E_INVALID_MODEL, "'%s': dtype missing", name);
    size_t esize = 0;
    for (size_t i = 0; i < SLM_ARRAY_LEN(dtypes); i++) {
        if (!strcmp(dt->valuestring, dtypes[i].name)) {
            t->type = dtypes[i].type;
            esize = dtypes[i].size;
        }
    }
    if (!esize) {
        for (size_t i = 0; i < SLM_ARRAY_LEN(other_dtypes); i++)
            if (!strcmp(dt->valuestring, other_dtypes[i]))
                return slm__error(SLM_E_UNSUPPORTED, "'%s': dtype %s is not supported", name,
                                  dt->valuestring);
        return slm__error(SLM_E_INVALID_MODEL, "'%s': unknown dtype '%.32s'", name,
                          dt->valuestring);
    }
    if (!cJSON_IsArray(shape))
        return slm__error(SLM_E_INVALID_MODEL, "'%s': shape is not an array", name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > SLM_SAFETENSORS_MAX_DIMS)
        return slm__error(SLM_E_UNSUPPORTED, "'%s': %d dimensions (at most %d)", name, nd,
                          SLM_SAFETENSORS_MAX_DIMS);
    t->n_dims = (uint32_t)nd;
    uint64_t n = 1;
    for (int d = 0; d < nd; d++) {
        uint64_t v;
        if (!json_u64(cJSON_GetArrayItem(shape, d), MAX_DIM, &v) || !slm__mul_u64(n, v, &n))
            return slm__error(SLM_E_INVALID_MODEL, "'%s': dimension %d is not a valid size", name,
                              d);
        t->shape[d] = (int64_t)v;
    }
    for (int d = nd; d < SLM_SAFETENSORS_MAX_DIMS; d++) t->shape[d] = 1;
    uint64_t b, end, bytes;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_u64(cJSON_GetArrayItem(offs, 0), UINT64_MAX >> 12, &b) ||
        !json_u64(cJSON_GetArrayItem(offs, 1), UINT64_MAX >> 12, &end) || b > end)
        return slm__error(SLM_E_INVALID_MODEL, "'%s': data_offsets is not [begin, end]", name);
    if (end > data_size)
        return slm__error(SLM_E_INVALID_MODEL,
                          "'%s': data ends at %llu, past the end of the file "
                          "(%llu bytes of data)",
                          name, (unsigned long long)end, (unsigned long long)data_size);
    if (!slm__mul_u64(n, esize, &bytes) || bytes != end - b)
        return slm__error(SLM_E_INVALID_MODEL, "'%s': %llu bytes of data for %llu elements of %s",
                          name, (unsigned long long)(end - b), (unsigned long long)n,
                          dt->valuestring);
    t->n_elements = n;
    t->n_bytes = bytes;
    t->data = data + b;
    *r = (struct range){b, end, name};
    return SLM_OK;
}

/* Parses the header of one mapped file and appends its tensors to st->t. */
static slm_status parse_file(slm_safetensors *st, const slm_mapping *m) {
    uint64_t hlen = 0;
    if (m->size < 8) return slm__error(SLM_E_INVALID_MODEL, "file is too short for a header");
    memcpy(&hlen, m->data, 8);
    if (hlen > MAX_HEADER || hlen > m->size - 8)
        return slm__error(SLM_E_INVALID_MODEL,
                          "header length %llu does not fit the file (%llu "
                          "bytes)",
                          (unsigned long long)hlen, (unsigned long long)m->size);
    cJSON *root = cJSON_ParseWithLength((const char *)m->data + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return slm__error(SLM_E_INVALID_MODEL, "header is not a JSON object");
    }
    const uint8_t *data = m->data + 8 + hlen;
    uint64_t data_size = m->size - 8 - hlen;
    int count = cJSON_GetArraySize(root);
    struct slm_safetensors_tensor *nt =
        slm__realloc(st->t, ((size_t)st->n + (size_t)count + 1) * sizeof *nt);
    struct range *ranges = slm__calloc((size_t)count + 1, sizeof *ranges);
    slm_status s = SLM_OK;
    if (nt) st->t = nt;
    if (!nt || !ranges) s = slm__error(SLM_E_NOMEM, "safetensors header");
    int n_ranges = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (s != SLM_OK) break;
        if (!strcmp(e->string, "__metadata__")) continue;
        struct slm_safetensors_tensor t = {0};
        s = parse_entry(e, data, data_size, &t, &ranges[n_ranges]);
        if (s == SLM_OK && !(t.name = slm__strdup(e->string)))
            s = slm__error(SLM_E_NOMEM, "safetensors header");
        if (s == SLM_OK) {
            st->t[st->n++] = t;
            n_ranges++;
        }
    }
    if (s == SLM_OK) {
        qsort(ranges, (size_t)n_ranges, sizeof *ranges, by_begin);
        for (int i = 1; i < n_ranges; i++) {
            if (ranges[i].begin < ranges[i - 1].end) {
                s = slm__error(SLM_E_INVALID_MODEL, "tensors '%s' and '%s' overlap",
                               ranges[i - 1].name, ranges[i].name);
                break;
            }
        }
    }
    slm__free(ranges);
    cJSON_Delete(root);
    return s;
}

static slm_status add_file(slm_safetensors *st, const char *path) {
    if (st->n_maps >= MAX_SHARDS) return slm__error(SLM_E_INVALID_MODEL, "too many shards");
    slm_mapping *nm = slm__realloc(st->maps, ((size_t)st->n_maps + 1) * sizeof *nm);
    if (!nm) return slm__error(SLM_E_NOMEM, "safetensors");
    st->maps = nm;
    slm_status s = slm__map_file(path, &st->maps[st->n_maps]);
    if (s != SLM_OK) return s;
    s = parse_file(st, &st->maps[st->n_maps++]);
    if (s != SLM_OK) slm__error_prefix("%s", path);
    return s;
}

/* Opens every shard named in the index (each once), then checks that each name the index maps
 * is present. Shard names must be plain file names beside the index. */
static slm_status open_index(slm_safetensors *st, const char *path) {
    slm_mapping m;
    slm_status s = slm__map_file(path, &m);
    if (s != SLM_OK) return s;
    cJSON *root = cJSON_ParseWithLength((const char *)m.data, (size_t)m.size);
    slm__unmap(&m);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return slm__error(SLM_E_INVALID_MODEL, "%s: no weight_map object", path);
    }
    size_t dir_len = strrchr(path, '/') ? (size_t)(strrchr(path, '/') - path) + 1 : 0;
    cJSON *done = cJSON_CreateObject();
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        if (s != SLM_OK) break;
        if (!cJSON_IsString(e) || !*e->valuestring || strchr(e->valuestring, '/') ||
            !strcmp(e->valuestring, "..")) {
            s = slm__error(SLM_E_INVALID_MODEL, "%s: '%s' maps to an invalid shard name", path,
                           e->string);
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(done, e->valuestring)) continue;
        if (!done || !cJSON_AddTrueToObject(done, e->valuestring)) {
            s = slm__error(SLM_E_NOMEM, "safetensors index");
            break;
        }
        size_t l = dir_len + strlen(e->valuestring) + 1;
        char *shard = slm__malloc(l);
        if (!shard) {
            s = slm__error(SLM_E_NOMEM, "safetensors index");
            break;
        }
        snprintf(shard, l, "%.*s%s", (int)dir_len, path, e->valuestring);
        s = add_file(st, shard);
        slm__free(shard);
    }
    if (s == SLM_OK) {
        qsort(st->t, (size_t)st->n, sizeof *st->t, by_name);
        cJSON_ArrayForEach(e, wm) {
            if (!slm_safetensors_find(st, e->string)) {
                s = slm__error(SLM_E_INVALID_MODEL, "%s: tensor '%s' is not in shard '%s'", path,
                               e->string, e->valuestring);
                break;
            }
        }
    }
    cJSON_Delete(done);
    cJSON_Delete(root);
    return s;
}

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

slm_status slm_safetensors_open(const char *path, slm_safetensors **out) {
    *out = NULL;
    slm_safetensors *st = slm__calloc(1, sizeof *st);
    if (!st) return slm__error(SLM_E_NOMEM, "safetensors");
    slm_status s;
    if (is_dir(path)) {
        size_t l = strlen(path) + 64;
        char *p = slm__malloc(l);
        if (!p) {
            slm_safetensors_close(st);
            return slm__error(SLM_E_NOMEM, "safetensors");
        }
        snprintf(p, l, "%s/model.safetensors.index.json", path);
        if (exists(p)) {
            s = open_index(st, p);
        } else {
            snprintf(p, l, "%s/model.safetensors", path);
            s = exists(p) ? add_file(st, p)
                          : slm__error(SLM_E_NOT_FOUND,
                                       "%s: no model.safetensors or "
                                       "model.safetensors.index.json",
                                       path);
        }
        slm__free(p);
    } else {
        s = ends_with(path, ".json") ? open_index(st, path) : add_file(st, path);
    }
    if (s == SLM_OK) {
        qsort(st->t, (size_t)st->n, sizeof *st->t, by_name);
        for (int64_t i = 1; i < st->n; i++) {
            if (!strcmp(st->t[i].name, st->t[i - 1].name)) {
                s = slm__error(SLM_E_INVALID_MODEL, "%s: tensor '%s' appears twice", path,
                               st->t[i].name);
                break;
            }
        }
    }
    if (s != SLM_OK) {
        slm_safetensors_close(st);
        return s;
    }
    *out = st;
    return SLM_OK;
}

void slm_safetensors_close(slm_safetensors *st) {
    if (!st) return;
    for (int64_t i = 0; i < st->n; i++) slm__free((void *)st->t[i].name);
    slm__free(st->t);
    for (int i = 0; i < st->n_maps; i++) slm__unmap(&st->maps[i]);
    slm__free(st->maps);
    slm__free(st);
}

int64_t slm_safetensors_count(const slm_safetensors *st) {
    return st->n;
}

const struct slm_safetensors_tensor *slm_safetensors_tensor(const slm_safetensors *st, int64_t i) {
    SLM_ASSERT(i >= 0 && i < st->n);
    return &st->t[i];
}

const struct slm_safetensors_tensor *slm_safetensors_find(const slm_safetensors *st,
                                                          const char *name) {
    struct slm_safetensors_tensor key = {.name = name};
    return bsearch(&key, st->t, (size_t)st->n, sizeof *st->t, by_name);
}
