/* Internal GGUF structures shared by the reader and the writer. */
#ifndef SLM_GGUF_INTERNAL_H
#define SLM_GGUF_INTERNAL_H

#include "core/internal.h"
#include "slm/gguf.h"

#include <string.h>

#define SLM_GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define SLM_GGUF_MAX_NESTING 8     /* arrays of arrays deeper than this are rejected */
#define SLM_GGUF_MAX_NAME 256      /* tensor names (llama.cpp itself allows 63 bytes) */

/* Index of an array value: strings and nested arrays need per-element positions. */
struct slm__gguf_arr_index {
    slm_gguf_type elem_type;
    uint64_t count;
    const uint8_t *data;                 /* first element */
    const uint8_t **items;               /* STRING: each element's length prefix */
    struct slm__gguf_arr_index *sub;     /* ARRAY: each element's index */
};

struct slm__gguf_kv {
    char *key;
    slm_gguf_type type;
    const uint8_t *value;     /* serialized value (after the type tag) */
    uint64_t value_len;       /* bytes of the serialized value */
    union {
        uint64_t u;
        int64_t i;
        double f;
    } num;                    /* integers, floats, bools */
    struct slm_gguf_str str;  /* STRING */
    struct slm__gguf_arr_index arr; /* ARRAY */
};

/* The serialized bytes of value i (after its type tag), for copying a value verbatim. */
void slm__gguf_kv_raw(const slm_gguf *g, int64_t i, slm_gguf_type *type, const uint8_t **value,
                      uint64_t *len);

static inline uint64_t slm__rd_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint32_t slm__rd_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

#endif
