/* Hostile GGUF input: a corpus of malformed files built byte by byte (truncations at every
 * offset, absurd counts and lengths, offsets past the end, overlapping and misaligned tensors,
 * unknown types, bad UTF-8, duplicates). Each must give a clean SLM_E_INVALID_MODEL with a
 * detail naming the problem: never a crash, a hang or a huge allocation (run under ASan in CI).
 * With SLM_CORPUS_DIR set, the corpus is also written there as seeds for the fuzzer. */
#include "testutil.h"

#include "core/internal.h"
#include "slm/gguf.h"

#include <stdlib.h>
#include <string.h>

/* ---- a tiny GGUF byte builder ---- */
struct bb {
    uint8_t *p;
    size_t n, cap;
};

static void bb_put(struct bb *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void u32(struct bb *b, uint32_t v) { bb_put(b, &v, 4); }
static void u64(struct bb *b, uint64_t v) { bb_put(b, &v, 8); }
static void str(struct bb *b, const char *s) {
    u64(b, strlen(s));
    bb_put(b, s, strlen(s));
}
static void header(struct bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    u32(b, 0x46554747u);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}
static void kv_u32(struct bb *b, const char *key, uint32_t v) {
    str(b, key);
    u32(b, SLM_GGUF_UINT32);
    u32(b, v);
}
static void tensor_info(struct bb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                        uint32_t type, uint64_t offset) {
    str(b, name);
    u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) u64(b, ne[i]);
    u32(b, type);
    u64(b, offset);
}
static void pad_to(struct bb *b, size_t align) {
    static const uint8_t z[64];
    while (b->n % align) bb_put(b, z, 1);
}
static void zeros(struct bb *b, size_t n) {
    for (size_t i = 0; i < n; i++) bb_put(b, "", 1);
}

/* One well-formed file with 2 KVs and 2 F32 tensors of 8 elements: the base for variations. */
static void valid_file(struct bb *b) {
    header(b, 3, 2, 2);
    str(b, "general.architecture");
    u32(b, SLM_GGUF_STRING);
    str(b, "llama");
    kv_u32(b, "llama.block_count", 1);
    uint64_t ne[] = {8};
    tensor_info(b, "a", 1, ne, SLM_TYPE_F32, 0);
    tensor_info(b, "b", 1, ne, SLM_TYPE_F32, 32);
    pad_to(b, 32);
    zeros(b, 64);
}

struct hostile_case {
    const char *name;
    const char *expect; /* substring of the error detail */
    void (*build)(struct bb *b);
};

static void c_empty(struct bb *b) { (void)b; }
static void c_short(struct bb *b) { bb_put(b, "GGU", 3); }
static void c_bad_magic(struct bb *b) { valid_file(b), b->p[0] = 'X'; }
static void c_v1(struct bb *b) { header(b, 1, 0, 0); }
static void c_v4(struct bb *b) { header(b, 4, 0, 0); }
static void c_v0(struct bb *b) { header(b, 0, 0, 0); }
static void c_big_endian(struct bb *b) { header(b, 0x03000000u, 0, 0); }
static void c_kv_count_huge(struct bb *b) { header(b, 3, 0, UINT64_MAX); }
static void c_kv_count_2_63(struct bb *b) { header(b, 3, 0, 1ull << 63), zeros(b, 100); }
static void c_tensor_count_huge(struct bb *b) { header(b, 3, 1ull << 62, 0), zeros(b, 100); }
static void c_key_len_2_63(struct bb *b) {
    header(b, 3, 0, 1);
    u64(b, 1ull << 63);
    zeros(b, 64);
}
static void c_key_len_past_eof(struct bb *b) {
    header(b, 3, 0, 1);
    u64(b, 1000);
    bb_put(b, "general", 7);
}
static void c_empty_key(struct bb *b) { header(b, 3, 0, 1), kv_u32(b, "", 5); }
static void c_bad_utf8_key(struct bb *b) { header(b, 3, 0, 1), kv_u32(b, "gen\xff\xfe", 5); }
static void c_overlong_utf8_key(struct bb *b) { header(b, 3, 0, 1), kv_u32(b, "a\xc0\xaf", 5); }
static void c_nul_in_key(struct bb *b) {
    header(b, 3, 0, 1);
    u64(b, 3);
    bb_put(b, "a\0b", 3);
    u32(b, SLM_GGUF_UINT32);
    u32(b, 1);
}
static void c_dup_key(struct bb *b) {
    header(b, 3, 0, 2);
    kv_u32(b, "llama.block_count", 1);
    kv_u32(b, "llama.block_count", 2);
}
static void c_unknown_value_type(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, 13);
    u32(b, 0);
}
static void c_value_type_ffff(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, 0xFFFFFFFFu);
    u64(b, 0);
}
static void c_string_len_2_63(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_STRING);
    u64(b, 1ull << 63);
    zeros(b, 16);
}
static void c_string_past_eof(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_STRING);
    u64(b, 17);
    zeros(b, 16);
}
static void c_array_elem_type_bad(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_ARRAY);
    u32(b, 99);
    u64(b, 1);
    zeros(b, 8);
}
static void c_array_count_overflow(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_ARRAY);
    u32(b, SLM_GGUF_UINT64);
    u64(b, (1ull << 61) + 1); /* * 8 wraps around 64 bits */
    zeros(b, 16);
}
static void c_array_past_eof(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_ARRAY);
    u32(b, SLM_GGUF_INT32);
    u64(b, 5);
    zeros(b, 16);
}
static void c_string_array_count_huge(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "tokenizer.ggml.tokens");
    u32(b, SLM_GGUF_ARRAY);
    u32(b, SLM_GGUF_STRING);
    u64(b, 1ull << 40);
    zeros(b, 64);
}
static void c_string_array_elem_past_eof(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_ARRAY);
    u32(b, SLM_GGUF_STRING);
    u64(b, 2);
    str(b, "ok");
    u64(b, 1ull << 62);
}
static void c_nested_too_deep(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_ARRAY);
    for (int i = 0; i < 12; i++) u32(b, SLM_GGUF_ARRAY), u64(b, 1);
    u32(b, SLM_GGUF_UINT8);
    u64(b, 0);
}
static void c_nested_count_huge(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "k");
    u32(b, SLM_GGUF_ARRAY);
    u32(b, SLM_GGUF_ARRAY);
    u64(b, 1ull << 50);
    zeros(b, 64);
}
static void c_alignment_zero(struct bb *b) { header(b, 3, 0, 1), kv_u32(b, "general.alignment", 0); }
static void c_alignment_not_pow2(struct bb *b) {
    header(b, 3, 0, 1), kv_u32(b, "general.alignment", 48);
}
static void c_alignment_string(struct bb *b) {
    header(b, 3, 0, 1);
    str(b, "general.alignment");
    u32(b, SLM_GGUF_STRING);
    str(b, "32");
}
static void c_too_many_dims(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {1, 1, 1, 1, 1};
    tensor_info(b, "t", 5, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_dims_overflow(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {1ull << 40, 1ull << 40};
    tensor_info(b, "t", 2, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_negative_dim(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {(uint64_t)-8};
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_bytes_overflow(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {1ull << 62}; /* elements fit int64, bytes do not */
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_unknown_tensor_type(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "t", 1, ne, 99, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_removed_tensor_type(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {32};
    tensor_info(b, "t", 1, ne, 4, 0); /* Q4_2, removed from the format */
    pad_to(b, 32), zeros(b, 64);
}
static void c_row_not_block_multiple(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {33, 2};
    tensor_info(b, "t", 2, ne, SLM_TYPE_Q8_0, 0);
    pad_to(b, 32), zeros(b, 128);
}
static void c_offset_misaligned(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, 4);
    pad_to(b, 32), zeros(b, 64);
}
static void c_offset_past_eof(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, 1ull << 40);
    pad_to(b, 32), zeros(b, 64);
}
static void c_offset_wraps(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, UINT64_MAX - 31);
    pad_to(b, 32), zeros(b, 64);
}
static void c_data_past_eof(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 31); /* needs 32 */
}
static void c_overlap(struct bb *b) {
    header(b, 3, 2, 0);
    uint64_t ne[] = {16};
    tensor_info(b, "a", 1, ne, SLM_TYPE_F32, 0);
    tensor_info(b, "b", 1, ne, SLM_TYPE_F32, 32);
    pad_to(b, 32), zeros(b, 128);
}
static void c_dup_tensor(struct bb *b) {
    header(b, 3, 2, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "a", 1, ne, SLM_TYPE_F32, 0);
    tensor_info(b, "a", 1, ne, SLM_TYPE_F32, 32);
    pad_to(b, 32), zeros(b, 64);
}
static void c_empty_tensor_name(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "", 1, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_long_tensor_name(struct bb *b) {
    header(b, 3, 1, 0);
    char name[400];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    uint64_t ne[] = {8};
    tensor_info(b, name, 1, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_bad_utf8_tensor_name(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "blk.\xed\xa0\x80", 1, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 32);
}
static void c_data_section_past_eof(struct bb *b) {
    header(b, 3, 1, 0);
    uint64_t ne[] = {8};
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, 0);
    /* no padding, no data */
}
static void c_big_alignment_past_eof(struct bb *b) {
    header(b, 3, 1, 1);
    kv_u32(b, "general.alignment", 1u << 20);
    uint64_t ne[] = {8};
    tensor_info(b, "t", 1, ne, SLM_TYPE_F32, 0);
    pad_to(b, 32), zeros(b, 64);
}

static const struct hostile_case cases[] = {
    {"empty", "bad magic", c_empty},
    {"short", "bad magic", c_short},
    {"bad-magic", "bad magic", c_bad_magic},
    {"version-1", "version 1", c_v1},
    {"version-4", "version 4", c_v4},
    {"version-0", "big-endian", c_v0},
    {"big-endian", "big-endian", c_big_endian},
    {"kv-count-max", "metadata count", c_kv_count_huge},
    {"kv-count-2^63", "metadata count", c_kv_count_2_63},
    {"tensor-count-huge", "tensor count", c_tensor_count_huge},
    {"key-len-2^63", "exceeds limit", c_key_len_2_63},
    {"key-len-past-eof", "past end of file", c_key_len_past_eof},
    {"empty-key", "empty or not valid UTF-8", c_empty_key},
    {"bad-utf8-key", "not valid UTF-8", c_bad_utf8_key},
    {"overlong-utf8-key", "not valid UTF-8", c_overlong_utf8_key},
    {"nul-in-key", "not valid UTF-8", c_nul_in_key},
    {"duplicate-key", "duplicate metadata key", c_dup_key},
    {"unknown-value-type", "unknown value type", c_unknown_value_type},
    {"value-type-ffffffff", "unknown value type", c_value_type_ffff},
    {"string-len-2^63", "exceeds limit", c_string_len_2_63},
    {"string-past-eof", "past end of file", c_string_past_eof},
    {"array-elem-type", "not a GGUF type", c_array_elem_type_bad},
    {"array-count-overflow", "past end of file", c_array_count_overflow},
    {"array-past-eof", "past end of file", c_array_past_eof},
    {"string-array-huge", "cannot fit", c_string_array_count_huge},
    {"string-array-elem-past-eof", "exceeds limit", c_string_array_elem_past_eof},
    {"nested-too-deep", "nested deeper", c_nested_too_deep},
    {"nested-count-huge", "cannot fit", c_nested_count_huge},
    {"alignment-zero", "power of two", c_alignment_zero},
    {"alignment-48", "power of two", c_alignment_not_pow2},
    {"alignment-string", "power of two", c_alignment_string},
    {"too-many-dims", "dimensions", c_too_many_dims},
    {"dims-overflow", "overflows", c_dims_overflow},
    {"negative-dim", "overflows", c_negative_dim},
    {"bytes-overflow", "overflows", c_bytes_overflow},
    {"unknown-tensor-type", "unknown tensor type", c_unknown_tensor_type},
    {"removed-tensor-type", "unknown tensor type", c_removed_tensor_type},
    {"row-not-block-multiple", "not a multiple of the q8_0 block", c_row_not_block_multiple},
    {"offset-misaligned", "alignment", c_offset_misaligned},
    {"offset-past-eof", "past end of file", c_offset_past_eof},
    {"offset-wraps", "past end of file", c_offset_wraps},
    {"data-past-eof", "past end of file", c_data_past_eof},
    {"overlap", "overlap", c_overlap},
    {"duplicate-tensor", "duplicate tensor", c_dup_tensor},
    {"empty-tensor-name", "name is empty", c_empty_tensor_name},
    {"long-tensor-name", "longer than", c_long_tensor_name},
    {"bad-utf8-tensor-name", "not valid UTF-8", c_bad_utf8_tensor_name},
    {"data-section-past-eof", "data section", c_data_section_past_eof},
    {"alignment-past-eof", "data section", c_big_alignment_past_eof},
};

/* Opens from memory (exact-size heap copy, so ASan sees any read past the end) and from a file. */
static slm_status open_both(const struct bb *b, const char *tmpdir, char *detail, size_t cap) {
    void *copy = malloc(b->n ? b->n : 1);
    if (b->n) memcpy(copy, b->p, b->n);
    slm_gguf *g = (slm_gguf *)1;
    slm_status st = slm_gguf_open_memory(copy, b->n, NULL, &g);
    if (st != SLM_OK) assert_null(g);
    slm_gguf_close(g);
    free(copy);
    char path[4096];
    snprintf(path, sizeof path, "%s/case.gguf", tmpdir);
    FILE *f = fopen(path, "wb");
    if (b->n) fwrite(b->p, 1, b->n, f);
    fclose(f);
    snprintf(detail, cap, "%s", slm_error_detail());
    slm_gguf *h = (slm_gguf *)1;
    slm_status st2 = slm_gguf_open(path, NULL, &h);
    assert_int_equal(st2, st);
    if (st2 != SLM_OK) assert_null(h);
    slm_gguf_close(h);
    return st;
}

static void malformed_corpus(void **state) {
    (void)state;
    char *tmp = tu_mkdtemp();
    struct slm_alloc_stats before, after;
    slm_alloc_get_stats(&before);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct bb b = {0};
        cases[i].build(&b);
        char seed[128];
        snprintf(seed, sizeof seed, "%s.gguf", cases[i].name);
        tu_save_seed(seed, b.p, b.n);
        char detail[1024];
        slm_status st = open_both(&b, tmp, detail, sizeof detail);
        if (st != SLM_E_INVALID_MODEL || !strstr(detail, cases[i].expect))
            fail_msg("case %s: got %s '%s', expected INVALID_MODEL with '%s'", cases[i].name,
                     slm_status_name(st), detail, cases[i].expect);
        free(b.p);
    }
    slm_alloc_get_stats(&after);
    assert_int_equal(after.bytes_in_use, before.bytes_in_use); /* nothing leaked on any path */
    /* No case needed more than a few KiB of index memory: no huge allocation from a count. */
    assert_true(after.bytes_peak < before.bytes_peak + (1u << 20));
    printf("%zu malformed files rejected cleanly\n", sizeof cases / sizeof *cases);
    tu_rmtree(tmp);
    free(tmp);
}

static void valid_base_and_every_truncation(void **state) {
    (void)state;
    struct bb b = {0};
    valid_file(&b);
    tu_save_seed("valid.gguf", b.p, b.n);
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_gguf_open_memory(b.p, b.n, NULL, &g));
    assert_int_equal(slm_gguf_tensor_count(g), 2);
    slm_gguf_close(g);
    /* Every proper prefix is invalid: truncations at every byte of every section. */
    for (size_t n = 0; n < b.n; n++) {
        void *copy = malloc(n ? n : 1);
        memcpy(copy, b.p, n);
        slm_gguf *t = (slm_gguf *)1;
        slm_status st = slm_gguf_open_memory(copy, n, NULL, &t);
        if (st != SLM_E_INVALID_MODEL) fail_msg("prefix of %zu bytes: %s", n, slm_status_name(st));
        assert_null(t);
        free(copy);
    }
    free(b.p);
}

static void every_single_byte_flip_is_safe(void **state) {
    (void)state;
    /* Not every flip is invalid (a flipped data byte is still a valid file), but none may crash or
     * leak; run under ASan this covers every field of the header. */
    struct bb b = {0};
    valid_file(&b);
    static const uint8_t flips[] = {0x01, 0x80, 0xFF};
    int rejected = 0, accepted = 0;
    for (size_t i = 0; i < b.n; i++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            uint8_t *copy = malloc(b.n);
            memcpy(copy, b.p, b.n);
            copy[i] ^= flips[f];
            slm_gguf *g = NULL;
            if (slm_gguf_open_memory(copy, b.n, NULL, &g) == SLM_OK) {
                accepted++;
                for (int64_t t = 0; t < slm_gguf_tensor_count(g); t++) {
                    const struct slm_gguf_tensor *ti = slm_gguf_tensor(g, t);
                    if (ti->n_bytes) {
                        volatile uint8_t last = ((const uint8_t *)ti->data)[ti->n_bytes - 1];
                        (void)last;
                    }
                }
            } else {
                rejected++;
            }
            slm_gguf_close(g);
            free(copy);
        }
    }
    printf("byte flips: %d rejected, %d still valid\n", rejected, accepted);
    assert_true(rejected > 0 && accepted > 0);
    free(b.p);
}

static void limits_from_params(void **state) {
    (void)state;
    struct bb b = {0};
    valid_file(&b);
    struct slm_gguf_params p = slm_gguf_default_params();
    p.max_string_len = 4; /* "general.architecture" is longer */
    slm_gguf *g = NULL;
    assert_int_equal(slm_gguf_open_memory(b.p, b.n, &p, &g), SLM_E_INVALID_MODEL);
    p = slm_gguf_default_params();
    p.max_tensors = 1;
    assert_int_equal(slm_gguf_open_memory(b.p, b.n, &p, &g), SLM_E_INVALID_MODEL);
    p = slm_gguf_default_params();
    p.max_kv = 1;
    assert_int_equal(slm_gguf_open_memory(b.p, b.n, &p, &g), SLM_E_INVALID_MODEL);
    free(b.p);
}

static void allocation_failures_are_clean(void **state) {
    (void)state;
    struct bb b = {0};
    valid_file(&b);
    struct slm_alloc_stats before, after;
    slm_alloc_get_stats(&before);
    int failures = 0;
    for (int64_t n = 0; n < 64; n++) {
        slm__alloc_fail_after(n);
        slm_gguf *g = NULL;
        slm_status st = slm_gguf_open_memory(b.p, b.n, NULL, &g);
        slm__alloc_fail_after(-1);
        if (st == SLM_OK) {
            slm_gguf_close(g);
            break;
        }
        assert_int_equal(st, SLM_E_NOMEM);
        assert_null(g);
        failures++;
    }
    slm_alloc_get_stats(&after);
    assert_true(failures > 3);
    assert_int_equal(after.bytes_in_use, before.bytes_in_use);
    free(b.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_corpus),
        cmocka_unit_test(valid_base_and_every_truncation),
        cmocka_unit_test(every_single_byte_flip_is_safe),
        cmocka_unit_test(limits_from_params),
        cmocka_unit_test(allocation_failures_are_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
