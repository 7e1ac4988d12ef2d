/* The GGUF writer (v3). Metadata values are kept serialized; tensor data is borrowed from the
 * caller and streamed out at write time, so writing a large model needs no second copy. */
#include "gguf/internal.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

struct wkv {
    char *key;
    slm_gguf_type type;
    uint8_t *value; /* serialized value */
    uint64_t len;
};

struct wtensor {
    char *name;
    slm_type type;
    uint32_t n_dims;
    int64_t ne[SLM_GGUF_MAX_DIMS];
    const void *data;
    uint64_t n_bytes;
    slm_gguf_fill_fn fill; /* data produced at write time when not NULL */
    void *fill_ctx;
};

struct slm_gguf_writer {
    struct wkv *kv;
    int64_t n_kv, cap_kv;
    struct wtensor *t;
    int64_t n_t, cap_t;
    uint32_t alignment;
};

slm_status slm_gguf_writer_create(slm_gguf_writer **out) {
    *out = slm__calloc(1, sizeof **out);
    if (!*out) return slm__error(SLM_E_NOMEM, "gguf writer");
    (*out)->alignment = SLM_GGUF_DEFAULT_ALIGNMENT;
    return SLM_OK;
}

void slm_gguf_writer_free(slm_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) {
        slm__free(w->kv[i].key);
        slm__free(w->kv[i].value);
    }
    for (int64_t i = 0; i < w->n_t; i++) slm__free(w->t[i].name);
    slm__free(w->kv);
    slm__free(w->t);
    slm__free(w);
}

void slm_free(void *p) { slm__free(p); }

static int64_t find(const slm_gguf_writer *w, const char *key) {
    for (int64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) return i;
    return -1;
}

/* Takes ownership of value (freed on failure too). */
static slm_status put(slm_gguf_writer *w, const char *key, slm_gguf_type type, uint8_t *value,
                      uint64_t len) {
    if (!key || !*key || !slm__utf8_valid(key, strlen(key))) {
        slm__free(value);
        return slm__error(SLM_E_INVALID_ARG, "metadata key must be non-empty UTF-8");
    }
    int64_t i = find(w, key);
    if (i >= 0) {
        slm__free(w->kv[i].value);
        w->kv[i].type = type;
        w->kv[i].value = value;
        w->kv[i].len = len;
        return SLM_OK;
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        struct wkv *n = slm__realloc(w->kv, (size_t)cap * sizeof *n);
        if (!n) {
            slm__free(value);
            return slm__error(SLM_E_NOMEM, "gguf writer metadata");
        }
        w->kv = n;
        w->cap_kv = cap;
    }
    char *k = slm__strdup(key);
    if (!k) {
        slm__free(value);
        return slm__error(SLM_E_NOMEM, "gguf writer metadata");
    }
    w->kv[w->n_kv++] = (struct wkv){k, type, value, len};
    return SLM_OK;
}

static slm_status put_scalar(slm_gguf_writer *w, const char *key, slm_gguf_type type,
                             const void *v) {
    size_t n = slm_gguf_type_size(type);
    uint8_t *buf = slm__malloc(n);
    if (!buf) return slm__error(SLM_E_NOMEM, "gguf writer metadata");
    memcpy(buf, v, n);
    return put(w, key, type, buf, n);
}

#define SETTER(fn, ctype, gtype)                                                                   \
    slm_status fn(slm_gguf_writer *w, const char *key, ctype v) { return put_scalar(w, key, gtype, &v); }
SETTER(slm_gguf_writer_set_u8, uint8_t, SLM_GGUF_UINT8)
SETTER(slm_gguf_writer_set_i8, int8_t, SLM_GGUF_INT8)
SETTER(slm_gguf_writer_set_u16, uint16_t, SLM_GGUF_UINT16)
SETTER(slm_gguf_writer_set_i16, int16_t, SLM_GGUF_INT16)
SETTER(slm_gguf_writer_set_u32, uint32_t, SLM_GGUF_UINT32)
SETTER(slm_gguf_writer_set_i32, int32_t, SLM_GGUF_INT32)
SETTER(slm_gguf_writer_set_u64, uint64_t, SLM_GGUF_UINT64)
SETTER(slm_gguf_writer_set_i64, int64_t, SLM_GGUF_INT64)
SETTER(slm_gguf_writer_set_f32, float, SLM_GGUF_FLOAT32)
SETTER(slm_gguf_writer_set_f64, double, SLM_GGUF_FLOAT64)
#undef SETTER

slm_status slm_gguf_writer_set_bool(slm_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return put_scalar(w, key, SLM_GGUF_BOOL, &b);
}

slm_status slm_gguf_writer_set_strn(slm_gguf_writer *w, const char *key, const char *v,
                                    uint64_t len) {
    uint8_t *buf = slm__malloc(8 + len);
    if (!buf) return slm__error(SLM_E_NOMEM, "gguf writer metadata");
    memcpy(buf, &len, 8);
    memcpy(buf + 8, v, len);
    return put(w, key, SLM_GGUF_STRING, buf, 8 + len);
}

slm_status slm_gguf_writer_set_str(slm_gguf_writer *w, const char *key, const char *v) {
    return slm_gguf_writer_set_strn(w, key, v, strlen(v));
}

slm_status slm_gguf_writer_set_arr(slm_gguf_writer *w, const char *key, slm_gguf_type elem_type,
                                   const void *data, uint64_t count) {
    size_t es = slm_gguf_type_size(elem_type);
    uint64_t bytes;
    if (es == 0) return slm__error(SLM_E_INVALID_ARG, "set_arr takes fixed-size element types");
    if (!slm__mul_u64(count, es, &bytes) || bytes > SIZE_MAX - 12)
        return slm__error(SLM_E_OVERFLOW, "array too large");
    uint8_t *buf = slm__malloc(12 + bytes);
    if (!buf) return slm__error(SLM_E_NOMEM, "gguf writer metadata");
    uint32_t et = elem_type;
    memcpy(buf, &et, 4);
    memcpy(buf + 4, &count, 8);
    if (bytes) memcpy(buf + 12, data, bytes);
    return put(w, key, SLM_GGUF_ARRAY, buf, 12 + bytes);
}

slm_status slm_gguf_writer_set_arr_str(slm_gguf_writer *w, const char *key, const char *const *v,
                                       uint64_t count) {
    uint64_t bytes = 12;
    for (uint64_t i = 0; i < count; i++) bytes += 8 + strlen(v[i]);
    uint8_t *buf = slm__malloc(bytes);
    if (!buf) return slm__error(SLM_E_NOMEM, "gguf writer metadata");
    uint32_t et = SLM_GGUF_STRING;
    memcpy(buf, &et, 4);
    memcpy(buf + 4, &count, 8);
    uint8_t *p = buf + 12;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t len = strlen(v[i]);
        memcpy(p, &len, 8);
        memcpy(p + 8, v[i], len);
        p += 8 + len;
    }
    return put(w, key, SLM_GGUF_ARRAY, buf, bytes);
}

slm_status slm_gguf_writer_copy_kv(slm_gguf_writer *w, const slm_gguf *g, int64_t i) {
    if (i < 0 || i >= slm_gguf_kv_count(g)) return slm__error(SLM_E_INVALID_ARG, "kv index");
    slm_gguf_type type;
    const uint8_t *value;
    uint64_t len;
    slm__gguf_kv_raw(g, i, &type, &value, &len);
    uint8_t *buf = slm__malloc(len ? len : 1);
    if (!buf) return slm__error(SLM_E_NOMEM, "gguf writer metadata");
    memcpy(buf, value, len);
    return put(w, slm_gguf_kv_key(g, i), type, buf, len);
}

slm_status slm_gguf_writer_remove(slm_gguf_writer *w, const char *key) {
    int64_t i = find(w, key);
    if (i < 0) return slm__error(SLM_E_NOT_FOUND, "metadata '%s' not set", key);
    slm__free(w->kv[i].key);
    slm__free(w->kv[i].value);
    memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
    w->n_kv--;
    return SLM_OK;
}

slm_status slm_gguf_writer_set_alignment(slm_gguf_writer *w, uint32_t a) {
    if (a == 0 || (a & (a - 1)) != 0 || a > 65536)
        return slm__error(SLM_E_INVALID_ARG, "alignment %u is not a power of two up to 65536", a);
    w->alignment = a;
    if (a == SLM_GGUF_DEFAULT_ALIGNMENT) {
        if (find(w, "general.alignment") >= 0) slm_gguf_writer_remove(w, "general.alignment");
        return SLM_OK;
    }
    return slm_gguf_writer_set_u32(w, "general.alignment", a);
}

static slm_status add_tensor(slm_gguf_writer *w, const char *name, slm_type type, uint32_t n_dims,
                             const int64_t *ne, const void *data, uint64_t n_bytes,
                             slm_gguf_fill_fn fill, void *fill_ctx) {
    size_t nlen = name ? strlen(name) : 0;
    if (nlen == 0 || nlen >= SLM_GGUF_MAX_NAME || !slm__utf8_valid(name, nlen))
        return slm__error(SLM_E_INVALID_ARG, "tensor name must be 1..%d bytes of UTF-8",
                          SLM_GGUF_MAX_NAME - 1);
    if (!slm_type_is_valid((int)type)) return slm__error(SLM_E_INVALID_ARG, "bad tensor type");
    if (n_dims < 1 || n_dims > SLM_GGUF_MAX_DIMS)
        return slm__error(SLM_E_INVALID_ARG, "tensor '%s': %u dimensions", name, n_dims);
    struct wtensor t = {.type = type, .n_dims = n_dims, .data = data, .n_bytes = n_bytes,
                        .fill = fill, .fill_ctx = fill_ctx};
    uint64_t nel = 1;
    for (int d = 0; d < SLM_GGUF_MAX_DIMS; d++) {
        t.ne[d] = (uint32_t)d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 0 || !slm__mul_u64(nel, (uint64_t)t.ne[d], &nel))
            return slm__error(SLM_E_INVALID_ARG, "tensor '%s': bad shape", name);
    }
    uint64_t expect;
    if (!slm_type_nbytes(type, nel, &expect) || t.ne[0] % slm_type_block_size(type) != 0 ||
        expect != n_bytes)
        return slm__error(SLM_E_INVALID_ARG, "tensor '%s': %llu bytes do not fit shape and type %s",
                          name, (unsigned long long)n_bytes, slm_type_name(type));
    for (int64_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return slm__error(SLM_E_INVALID_ARG, "duplicate tensor '%s'", name);
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? w->cap_t * 2 : 64;
        struct wtensor *n = slm__realloc(w->t, (size_t)cap * sizeof *n);
        if (!n) return slm__error(SLM_E_NOMEM, "gguf writer tensors");
        w->t = n;
        w->cap_t = cap;
    }
    if (!(t.name = slm__strdup(name))) return slm__error(SLM_E_NOMEM, "gguf writer tensors");
    w->t[w->n_t++] = t;
    return SLM_OK;
}

slm_status slm_gguf_writer_add_tensor(slm_gguf_writer *w, const char *name, slm_type type,
                                      uint32_t n_dims, const int64_t *ne, const void *data,
                                      uint64_t n_bytes) {
    return add_tensor(w, name, type, n_dims, ne, data, n_bytes, NULL, NULL);
}

slm_status slm_gguf_writer_add_tensor_fn(slm_gguf_writer *w, const char *name, slm_type type,
                                         uint32_t n_dims, const int64_t *ne, uint64_t n_bytes,
                                         slm_gguf_fill_fn fill, void *ctx) {
    if (!fill) return slm__error(SLM_E_INVALID_ARG, "tensor '%s': no fill function", name);
    return add_tensor(w, name, type, n_dims, ne, NULL, n_bytes, fill, ctx);
}

/* ---- output: the same serializer writes to a FILE or to a memory buffer ---- */

struct sink {
    FILE *f;
    uint8_t *buf;
    uint64_t pos;
    bool failed;
    slm_status fill_status; /* first failure of a fill function (its detail is set) */
};

static void emit(struct sink *s, const void *p, uint64_t n) {
    if (s->failed || n == 0) return;
    if (s->f) {
        if (fwrite(p, 1, n, s->f) != n) s->failed = true;
    } else if (s->buf) {
        memcpy(s->buf + s->pos, p, n);
    }
    s->pos += n;
}

static void emit_u32(struct sink *s, uint32_t v) { emit(s, &v, 4); }
static void emit_u64(struct sink *s, uint64_t v) { emit(s, &v, 8); }
static void emit_str(struct sink *s, const char *str) {
    uint64_t n = strlen(str);
    emit_u64(s, n);
    emit(s, str, n);
}
static void emit_pad(struct sink *s, uint64_t align) {
    static const uint8_t zeros[256];
    uint64_t pad = (align - s->pos % align) % align;
    while (pad) {
        uint64_t n = pad < sizeof zeros ? pad : sizeof zeros;
        emit(s, zeros, n);
        pad -= n;
    }
}

static uint64_t aligned(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* A produced tensor: straight into a memory sink, through one buffer for a file. */
static void emit_filled(struct sink *s, const struct wtensor *t) {
    if (s->failed || t->n_bytes == 0) return;
    if (!s->f && !s->buf) { /* counting */
        s->pos += t->n_bytes;
        return;
    }
    uint8_t *dst = s->buf ? s->buf + s->pos : slm__aligned_alloc((size_t)t->n_bytes);
    slm_status st = dst ? t->fill(t->fill_ctx, dst, t->n_bytes)
                        : slm__error(SLM_E_NOMEM, "tensor '%s'", t->name);
    if (st != SLM_OK) {
        s->failed = true;
        s->fill_status = st;
    } else if (s->f) {
        emit(s, dst, t->n_bytes);
    } else {
        s->pos += t->n_bytes;
    }
    if (s->f) slm__aligned_free(dst);
}

/* Serializes everything; with a NULL sink target only counts bytes. */
static void serialize(const slm_gguf_writer *w, struct sink *s) {
    emit_u32(s, SLM_GGUF_MAGIC);
    emit_u32(s, 3);
    emit_u64(s, (uint64_t)w->n_t);
    emit_u64(s, (uint64_t)w->n_kv);
    for (int64_t i = 0; i < w->n_kv; i++) {
        emit_str(s, w->kv[i].key);
        emit_u32(s, w->kv[i].type);
        emit(s, w->kv[i].value, w->kv[i].len);
    }
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        emit_str(s, t->name);
        emit_u32(s, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) emit_u64(s, (uint64_t)t->ne[d]);
        emit_u32(s, t->type);
        emit_u64(s, off);
        off = aligned(off + t->n_bytes, w->alignment);
    }
    if (w->n_t == 0) return;
    emit_pad(s, w->alignment);
    for (int64_t i = 0; i < w->n_t; i++) {
        if (w->t[i].fill)
            emit_filled(s, &w->t[i]);
        else
            emit(s, w->t[i].data, w->t[i].n_bytes);
        emit_pad(s, w->alignment);
    }
}

slm_status slm_gguf_writer_write_memory(slm_gguf_writer *w, void **out, size_t *size) {
    *out = NULL;
    *size = 0;
    struct sink count = {0};
    serialize(w, &count);
    if (count.pos > SIZE_MAX) return slm__error(SLM_E_OVERFLOW, "file too large for memory");
    uint8_t *buf = slm__malloc(count.pos ? count.pos : 1);
    if (!buf) return slm__error(SLM_E_NOMEM, "gguf output buffer");
    struct sink s = {.buf = buf};
    serialize(w, &s);
    if (s.failed) {
        slm__free(buf);
        return s.fill_status;
    }
    *out = buf;
    *size = s.pos;
    return SLM_OK;
}

slm_status slm_gguf_writer_write_file(slm_gguf_writer *w, const char *path) {
    size_t n = strlen(path);
    char *tmp = slm__malloc(n + 16);
    if (!tmp) return slm__error(SLM_E_NOMEM, "path");
    snprintf(tmp, n + 16, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        slm_status st = slm__error(SLM_E_IO, "%s: %s", tmp, strerror(errno));
        slm__free(tmp);
        return st;
    }
    struct sink s = {.f = f};
    serialize(w, &s);
    bool ok = !s.failed && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        e = errno;
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        slm__free(tmp);
        if (s.fill_status != SLM_OK) return s.fill_status;
        return slm__error(SLM_E_IO, "writing %s: %s", path, strerror(e));
    }
    slm__free(tmp);
    return SLM_OK;
}
