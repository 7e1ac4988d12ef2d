/* libFuzzer target for the GGUF reader: opens arbitrary bytes and, when they parse, touches
 * every metadata value, array element and tensor byte range so ASan sees any bad offset. */
#include "slm/gguf.h"

#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

static void walk_array(struct slm_gguf_array a, int depth) {
    for (uint64_t i = 0; i < a.count && i < 4096; i++) {
        switch (a.elem_type) {
        case SLM_GGUF_STRING: {
            struct slm_gguf_str s = slm_gguf_arr_str(&a, i);
            if (s.len) sink += (uint8_t)s.ptr[s.len - 1];
            break;
        }
        case SLM_GGUF_ARRAY: walk_array(slm_gguf_arr_arr(&a, i), depth + 1); break;
        case SLM_GGUF_FLOAT32:
        case SLM_GGUF_FLOAT64: sink += (uint64_t)(slm_gguf_arr_f64(&a, i) != 0); break;
        default: sink += (uint64_t)slm_gguf_arr_i64(&a, i); break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy so reads past the end hit ASan's redzone. */
    uint8_t *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    slm_gguf *g = NULL;
    if (slm_gguf_open_memory(copy, size, NULL, &g) == SLM_OK) {
        for (int64_t i = 0; i < slm_gguf_kv_count(g); i++) {
            const char *key = slm_gguf_kv_key(g, i);
            sink += (uint64_t)slm_gguf_find_key(g, key);
            uint64_t u;
            int64_t s;
            double f;
            struct slm_gguf_str str;
            struct slm_gguf_array arr;
            if (slm_gguf_kv_u64(g, i, &u) == SLM_OK) sink += u;
            if (slm_gguf_kv_i64(g, i, &s) == SLM_OK) sink += (uint64_t)s;
            if (slm_gguf_kv_f64(g, i, &f) == SLM_OK) sink += (uint64_t)(f != 0);
            if (slm_gguf_kv_str(g, i, &str) == SLM_OK && str.len) sink += (uint8_t)str.ptr[0];
            if (slm_gguf_kv_arr(g, i, &arr) == SLM_OK) walk_array(arr, 0);
        }
        for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
            const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
            if (slm_gguf_find_tensor(g, t->name) != t) abort();
            if (t->n_bytes) {
                sink += ((const uint8_t *)t->data)[0];
                sink += ((const uint8_t *)t->data)[t->n_bytes - 1];
            }
        }
        /* Whatever parses must survive a write/read round trip unchanged in shape. */
        slm_gguf_writer *w = NULL;
        if (slm_gguf_writer_create(&w) == SLM_OK) {
            for (int64_t i = 0; i < slm_gguf_kv_count(g); i++) slm_gguf_writer_copy_kv(w, g, i);
            void *out = NULL;
            size_t n = 0;
            if (slm_gguf_writer_write_memory(w, &out, &n) == SLM_OK) {
                slm_gguf *h = NULL;
                if (slm_gguf_open_memory(out, n, NULL, &h) != SLM_OK) abort();
                if (slm_gguf_kv_count(h) != slm_gguf_kv_count(g)) abort();
                slm_gguf_close(h);
                slm_free(out);
            }
            slm_gguf_writer_free(w);
        }
        slm_gguf_close(g);
    }
    free(copy);
    return 0;
}
