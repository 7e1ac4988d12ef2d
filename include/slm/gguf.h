/* slm GGUF: reading (mmap, v2 and v3, every offset validated) and writing (v3) GGUF files.
 *
 * Ownership: an slm_gguf owns its mapping. Every pointer it hands out (keys, string views,
 * array views, tensor infos and tensor data) is borrowed and valid until slm_gguf_close().
 * Strings inside the file are not NUL-terminated: views carry their length. Keys and tensor
 * names are copied to NUL-terminated storage at open (they are validated UTF-8). */
#ifndef SLM_GGUF_H
#define SLM_GGUF_H

#include "slm/core.h"
#include "slm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum slm_gguf_type {
    SLM_GGUF_UINT8 = 0,
    SLM_GGUF_INT8 = 1,
    SLM_GGUF_UINT16 = 2,
    SLM_GGUF_INT16 = 3,
    SLM_GGUF_UINT32 = 4,
    SLM_GGUF_INT32 = 5,
    SLM_GGUF_FLOAT32 = 6,
    SLM_GGUF_BOOL = 7,
    SLM_GGUF_STRING = 8,
    SLM_GGUF_ARRAY = 9,
    SLM_GGUF_UINT64 = 10,
    SLM_GGUF_INT64 = 11,
    SLM_GGUF_FLOAT64 = 12,
    SLM_GGUF_TYPE_COUNT = 13,
} slm_gguf_type;

#define SLM_GGUF_MAX_DIMS 4
#define SLM_GGUF_DEFAULT_ALIGNMENT 32

typedef struct slm_gguf slm_gguf;

struct slm_gguf_str {
    const char *ptr; /* not NUL-terminated; borrowed */
    uint64_t len;
};

/* A borrowed view of an array value. Elements of fixed-size types are stored packed and
 * little-endian at `data` (possibly unaligned: use the accessors below). */
struct slm_gguf_array {
    slm_gguf_type elem_type;
    uint64_t count;
    const uint8_t *data; /* first element in the file */
    const void *priv;    /* reader's index for string / nested arrays */
};

struct slm_gguf_tensor {
    const char *name;  /* NUL-terminated, borrowed */
    uint32_t n_dims;
    int64_t ne[SLM_GGUF_MAX_DIMS]; /* ne[0] = elements per row (contiguous); unused dims are 1 */
    slm_type type;
    uint64_t offset;   /* absolute offset of the data in the file */
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data;  /* borrowed: points into the mapping */
};

struct slm_gguf_params {
    /* Upper bounds that protect against absurd but well-formed files. */
    uint64_t max_tensors;     /* default 1<<20 */
    uint64_t max_kv;          /* default 1<<20 */
    uint64_t max_string_len;  /* default 1<<26 (64 MiB) */
};
struct slm_gguf_params slm_gguf_default_params(void);

/* Opens and validates a GGUF file (mmapped read-only). On failure *out is NULL and
 * slm_error_detail() names what is wrong (SLM_E_INVALID_MODEL for malformed files). */
slm_status slm_gguf_open(const char *path, const struct slm_gguf_params *params, slm_gguf **out);
/* Same over a caller's buffer, which is borrowed and must outlive the handle. */
slm_status slm_gguf_open_memory(const void *data, size_t size, const struct slm_gguf_params *params,
                                slm_gguf **out);
void slm_gguf_close(slm_gguf *g); /* accepts NULL */

uint32_t slm_gguf_version(const slm_gguf *g);
uint64_t slm_gguf_alignment(const slm_gguf *g);
uint64_t slm_gguf_file_size(const slm_gguf *g);
uint64_t slm_gguf_data_offset(const slm_gguf *g); /* start of the tensor data section */
/* The path given to slm_gguf_open, or "" for memory. Borrowed. */
const char *slm_gguf_path(const slm_gguf *g);

/* ---- metadata ---- */
int64_t slm_gguf_kv_count(const slm_gguf *g);
/* Index of key, or -1. */
int64_t slm_gguf_find_key(const slm_gguf *g, const char *key);
const char *slm_gguf_kv_key(const slm_gguf *g, int64_t i);
slm_gguf_type slm_gguf_kv_type(const slm_gguf *g, int64_t i);
const char *slm_gguf_type_name(slm_gguf_type t);

/* Typed getters by key. SLM_E_NOT_FOUND if absent; SLM_E_TYPE_MISMATCH if the value has another
 * type. Integer getters accept any integer type whose value fits the requested one. */
slm_status slm_gguf_get_u32(const slm_gguf *g, const char *key, uint32_t *out);
slm_status slm_gguf_get_i32(const slm_gguf *g, const char *key, int32_t *out);
slm_status slm_gguf_get_u64(const slm_gguf *g, const char *key, uint64_t *out);
slm_status slm_gguf_get_i64(const slm_gguf *g, const char *key, int64_t *out);
/* Accepts FLOAT32 and FLOAT64. */
slm_status slm_gguf_get_f32(const slm_gguf *g, const char *key, float *out);
slm_status slm_gguf_get_f64(const slm_gguf *g, const char *key, double *out);
slm_status slm_gguf_get_bool(const slm_gguf *g, const char *key, bool *out);
slm_status slm_gguf_get_str(const slm_gguf *g, const char *key, struct slm_gguf_str *out);
/* Copies a string value into buf (NUL-terminated); SLM_E_OVERFLOW if it does not fit. */
slm_status slm_gguf_get_str_buf(const slm_gguf *g, const char *key, char *buf, size_t cap);
slm_status slm_gguf_get_arr(const slm_gguf *g, const char *key, struct slm_gguf_array *out);

/* Same by index (for iteration). */
slm_status slm_gguf_kv_u64(const slm_gguf *g, int64_t i, uint64_t *out);   /* unsigned ints, bool */
slm_status slm_gguf_kv_i64(const slm_gguf *g, int64_t i, int64_t *out);    /* any int that fits */
slm_status slm_gguf_kv_f64(const slm_gguf *g, int64_t i, double *out);     /* floats */
slm_status slm_gguf_kv_str(const slm_gguf *g, int64_t i, struct slm_gguf_str *out);
slm_status slm_gguf_kv_arr(const slm_gguf *g, int64_t i, struct slm_gguf_array *out);

/* Array element accessors. Invariants the caller checks first (asserted): i < a->count and an
 * element type that fits the accessor: integer accessors take integer and bool elements, the
 * float accessor takes any numeric element, str takes STRING, arr takes ARRAY. */
int64_t slm_gguf_arr_i64(const struct slm_gguf_array *a, uint64_t i);
uint64_t slm_gguf_arr_u64(const struct slm_gguf_array *a, uint64_t i);
double slm_gguf_arr_f64(const struct slm_gguf_array *a, uint64_t i);
struct slm_gguf_str slm_gguf_arr_str(const struct slm_gguf_array *a, uint64_t i);
struct slm_gguf_array slm_gguf_arr_arr(const struct slm_gguf_array *a, uint64_t i);
/* Size in bytes of one element of a fixed-size type; 0 for STRING and ARRAY. */
size_t slm_gguf_type_size(slm_gguf_type t);

/* ---- tensors ---- */
int64_t slm_gguf_tensor_count(const slm_gguf *g);
/* Borrowed; i in [0, count). */
const struct slm_gguf_tensor *slm_gguf_tensor(const slm_gguf *g, int64_t i);
/* NULL if absent. */
const struct slm_gguf_tensor *slm_gguf_find_tensor(const slm_gguf *g, const char *name);

/* Sums over all tensors. */
uint64_t slm_gguf_total_elements(const slm_gguf *g);
uint64_t slm_gguf_total_tensor_bytes(const slm_gguf *g);
/* Heap bytes the handle holds: its index of keys, arrays and tensors (not the mapping). */
uint64_t slm_gguf_heap_bytes(const slm_gguf *g);

/* ---- writer ---- */
typedef struct slm_gguf_writer slm_gguf_writer;

slm_status slm_gguf_writer_create(slm_gguf_writer **out);
void slm_gguf_writer_free(slm_gguf_writer *w); /* accepts NULL */
/* Setting a key that exists replaces its value (order of first insertion is kept). Keys and
 * values are copied. */
slm_status slm_gguf_writer_set_u8(slm_gguf_writer *w, const char *key, uint8_t v);
slm_status slm_gguf_writer_set_i8(slm_gguf_writer *w, const char *key, int8_t v);
slm_status slm_gguf_writer_set_u16(slm_gguf_writer *w, const char *key, uint16_t v);
slm_status slm_gguf_writer_set_i16(slm_gguf_writer *w, const char *key, int16_t v);
slm_status slm_gguf_writer_set_u32(slm_gguf_writer *w, const char *key, uint32_t v);
slm_status slm_gguf_writer_set_i32(slm_gguf_writer *w, const char *key, int32_t v);
slm_status slm_gguf_writer_set_u64(slm_gguf_writer *w, const char *key, uint64_t v);
slm_status slm_gguf_writer_set_i64(slm_gguf_writer *w, const char *key, int64_t v);
slm_status slm_gguf_writer_set_f32(slm_gguf_writer *w, const char *key, float v);
slm_status slm_gguf_writer_set_f64(slm_gguf_writer *w, const char *key, double v);
slm_status slm_gguf_writer_set_bool(slm_gguf_writer *w, const char *key, bool v);
slm_status slm_gguf_writer_set_str(slm_gguf_writer *w, const char *key, const char *v);
slm_status slm_gguf_writer_set_strn(slm_gguf_writer *w, const char *key, const char *v, uint64_t len);
/* Array of a fixed-size element type: count packed little-endian elements at data. */
slm_status slm_gguf_writer_set_arr(slm_gguf_writer *w, const char *key, slm_gguf_type elem_type,
                                   const void *data, uint64_t count);
slm_status slm_gguf_writer_set_arr_str(slm_gguf_writer *w, const char *key, const char *const *v,
                                       uint64_t count);
/* Copies key i of a reader with its value (any type, including nested arrays). */
slm_status slm_gguf_writer_copy_kv(slm_gguf_writer *w, const slm_gguf *g, int64_t i);
slm_status slm_gguf_writer_remove(slm_gguf_writer *w, const char *key);
/* general.alignment is written when not the default. A power of two, 1..65536 (default 32). */
slm_status slm_gguf_writer_set_alignment(slm_gguf_writer *w, uint32_t alignment);
/* Adds a tensor. data (n_bytes, matching type and shape) is borrowed until the writer is written
 * or freed. ne[0] must be a multiple of the type's block size. */
slm_status slm_gguf_writer_add_tensor(slm_gguf_writer *w, const char *name, slm_type type,
                                      uint32_t n_dims, const int64_t *ne, const void *data,
                                      uint64_t n_bytes);
/* Writes the file: to path.tmp, fsync, then rename (never leaves a half-written path). */
slm_status slm_gguf_writer_write_file(slm_gguf_writer *w, const char *path);
/* Writes into a new heap buffer (*out transferred to caller; free with slm_free()). */
slm_status slm_gguf_writer_write_memory(slm_gguf_writer *w, void **out, size_t *size);

/* Frees memory returned by libslm with ownership transfer. Accepts NULL. */
void slm_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
