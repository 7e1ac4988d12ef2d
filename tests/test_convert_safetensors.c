/* Tests of the safetensors reader: well-formed single files and sharded indexes, and hostile
 * files (truncated, bad JSON, ranges past the end, overlapping, unknown dtypes, absurd shapes,
 * duplicate names, shard names escaping the folder) that must give a clean error, never a
 * crash; plus every truncation and single-byte corruption of a valid file. */
#include "testutil.h"

#include "slm.h"
#include "slm/convert.h"

#include <stdlib.h>
#include <string.h>

static char *dir;

static int setup(void **state) {
    (void)state;
    dir = tu_mkdtemp();
    return 0;
}
static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* Writes an 8-byte length, the header text and n_data bytes (0, 1, 2, ...) to name. */
static char *write_st(const char *name, const char *header, size_t n_data) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t len = strlen(header);
    fwrite(&len, 8, 1, f);
    fwrite(header, 1, len, f);
    for (size_t i = 0; i < n_data; i++) fputc((int)(i & 0xff), f);
    fclose(f);
    return path;
}

static void write_text(const char *name, const char *text) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *good = "{\"__metadata__\":{\"format\":\"pt\"},"
                          "\"b\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
                          "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                          "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[28,30]},"
                          "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[30,30]}}";

static void test_good(void **state) {
    (void)state;
    slm_safetensors *st;
    char *path = write_st("good.safetensors", good, 30);
    TU_ASSERT_OK(slm_safetensors_open(path, &st));
    assert_int_equal(slm_safetensors_count(st), 4);
    const struct slm_safetensors_tensor *a = slm_safetensors_tensor(st, 0);
    assert_string_equal(a->name, "a"); /* name order */
    assert_int_equal(a->type, SLM_TYPE_F32);
    assert_int_equal(a->n_dims, 1);
    assert_int_equal(a->shape[0], 4);
    assert_int_equal(a->n_bytes, 16);
    const struct slm_safetensors_tensor *b = slm_safetensors_find(st, "b");
    assert_non_null(b);
    assert_int_equal(b->type, SLM_TYPE_F16);
    assert_int_equal(b->n_dims, 2);
    assert_int_equal(b->shape[0], 2);
    assert_int_equal(b->shape[1], 3);
    assert_int_equal(b->n_elements, 6);
    assert_int_equal(((const uint8_t *)b->data)[0], 16);
    const struct slm_safetensors_tensor *c = slm_safetensors_find(st, "c");
    assert_int_equal(c->n_dims, 0);
    assert_int_equal(c->n_elements, 1);
    assert_int_equal(slm_safetensors_find(st, "e")->n_elements, 0);
    assert_null(slm_safetensors_find(st, "d"));
    slm_safetensors_close(st);
    slm_safetensors_close(NULL);
}

static void expect_error(const char *header, size_t n_data, slm_status want, const char *detail) {
    slm_safetensors *st = (slm_safetensors *)1;
    char *path = write_st("bad.safetensors", header, n_data);
    slm_status s = slm_safetensors_open(path, &st);
    if (s != want || !strstr(slm_error_detail(), detail))
        fail_msg("header %s: got %s (%s), want %s with '%s'", header, slm_status_name(s),
                 slm_error_detail(), slm_status_name(want), detail);
    assert_null(st);
}

static void test_hostile(void **state) {
    (void)state;
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]", 16,
                 SLM_E_INVALID_MODEL, "not a JSON object");
    expect_error("[1,2]", 0, SLM_E_INVALID_MODEL, "not a JSON object");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 15,
                 SLM_E_INVALID_MODEL, "past the end");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                 16, SLM_E_INVALID_MODEL, "overlap");
    expect_error("{\"a\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
                 SLM_E_INVALID_MODEL, "unknown dtype");
    expect_error("{\"a\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}", 16,
                 SLM_E_UNSUPPORTED, "BOOL");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                 "\"data_offsets\":[0,16]}}",
                 16, SLM_E_INVALID_MODEL, "dimension 1");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                 "\"data_offsets\":[0,16]}}",
                 16, SLM_E_INVALID_MODEL, "dimension 1");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16,
                 SLM_E_INVALID_MODEL, "dimension 0");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16,
                 SLM_E_INVALID_MODEL, "dimension 0");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,4],\"data_offsets\":[0,16]}}", 16,
                 SLM_E_UNSUPPORTED, "dimensions");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}", 16,
                 SLM_E_INVALID_MODEL, "bytes of data for 5 elements");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16,
                 SLM_E_INVALID_MODEL, "data_offsets");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16,
                 SLM_E_INVALID_MODEL, "data_offsets");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1e300]}}", 16,
                 SLM_E_INVALID_MODEL, "data_offsets");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":\"4\",\"data_offsets\":[0,16]}}", 16,
                 SLM_E_INVALID_MODEL, "shape");
    expect_error("{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, SLM_E_INVALID_MODEL,
                 "dtype");
    expect_error("{\"a\":7}", 16, SLM_E_INVALID_MODEL, "not an object");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
                 32, SLM_E_INVALID_MODEL, "appears twice");

    char path[4200];
    slm_safetensors *st;
    snprintf(path, sizeof path, "%s/short.safetensors", dir); /* shorter than its length field */
    FILE *f = fopen(path, "wb");
    fwrite("\x10\x00\x00", 1, 3, f);
    fclose(f);
    assert_int_equal(slm_safetensors_open(path, &st), SLM_E_INVALID_MODEL);
    f = fopen(path, "wb"); /* header length past the end */
    fwrite("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 1, 10, f);
    fclose(f);
    assert_int_equal(slm_safetensors_open(path, &st), SLM_E_INVALID_MODEL);
    assert_non_null(strstr(slm_error_detail(), "header length"));
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    assert_int_equal(slm_safetensors_open(path, &st), SLM_E_NOT_FOUND);
    assert_null(st);
}

/* Every prefix and every single-byte change of a valid file opens or fails cleanly. */
static void test_truncations_and_flips(void **state) {
    (void)state;
    size_t len;
    char *path = write_st("good.safetensors", good, 30);
    char *bytes = tu_read_file(path, &len);
    char cut[4200];
    snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
    for (size_t n = 0; n < len; n++) {
        FILE *f = fopen(cut, "wb");
        fwrite(bytes, 1, n, f);
        fclose(f);
        slm_safetensors *st;
        assert_int_not_equal(slm_safetensors_open(cut, &st), SLM_OK); /* data is always cut */
        assert_null(st);
    }
    for (size_t i = 0; i < len; i++) {
        for (int v = 0; v < 3; v++) {
            char saved = bytes[i];
            bytes[i] = (char)(v == 0 ? 0 : v == 1 ? 0xff : saved ^ 0x20);
            FILE *f = fopen(cut, "wb");
            fwrite(bytes, 1, len, f);
            fclose(f);
            bytes[i] = saved;
            slm_safetensors *st;
            if (slm_safetensors_open(cut, &st) == SLM_OK) {
                for (int64_t k = 0; k < slm_safetensors_count(st); k++) {
                    const struct slm_safetensors_tensor *t = slm_safetensors_tensor(st, k);
                    volatile uint8_t sink = 0;
                    for (uint64_t b = 0; b < t->n_bytes; b++) sink ^= ((const uint8_t *)t->data)[b];
                    (void)sink;
                }
                slm_safetensors_close(st);
            } else {
                assert_null(st);
            }
        }
    }
    free(bytes);
}

static void test_sharded(void **state) {
    (void)state;
    write_st("model-00001-of-00002.safetensors",
             "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    write_st("model-00002-of-00002.safetensors",
             "{\"y\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
             "\"z\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]}}",
             10);
    write_text("model.safetensors.index.json", "{\"metadata\":{\"total_size\":18},\"weight_map\":{"
                                               "\"x\":\"model-00001-of-00002.safetensors\","
                                               "\"y\":\"model-00002-of-00002.safetensors\","
                                               "\"z\":\"model-00002-of-00002.safetensors\"}}");
    slm_safetensors *st;
    TU_ASSERT_OK(slm_safetensors_open(dir, &st)); /* the folder finds the index */
    assert_int_equal(slm_safetensors_count(st), 3);
    assert_int_equal(slm_safetensors_find(st, "y")->shape[1], 2);
    assert_int_equal(((const uint8_t *)slm_safetensors_find(st, "z")->data)[0], 8);
    slm_safetensors_close(st);

    write_text("model.safetensors.index.json",
               "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
               "\"w\":\"model-00002-of-00002.safetensors\"}}");
    assert_int_equal(slm_safetensors_open(dir, &st), SLM_E_INVALID_MODEL);
    assert_non_null(strstr(slm_error_detail(), "'w' is not in shard"));
    write_text("model.safetensors.index.json", "{\"weight_map\":{\"x\":\"../etc/passwd\"}}");
    assert_int_equal(slm_safetensors_open(dir, &st), SLM_E_INVALID_MODEL);
    assert_non_null(strstr(slm_error_detail(), "invalid shard name"));
    write_text("model.safetensors.index.json", "{\"weight_map\":{\"x\":\"missing.safetensors\"}}");
    assert_int_equal(slm_safetensors_open(dir, &st), SLM_E_NOT_FOUND);
    write_text("model.safetensors.index.json", "{\"weight_map\":[");
    assert_int_equal(slm_safetensors_open(dir, &st), SLM_E_INVALID_MODEL);
    write_text("model.safetensors.index.json",
               "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
               "\"x2\":\"model-00001-of-00002.safetensors\"}}");
    assert_int_equal(slm_safetensors_open(dir, &st), SLM_E_INVALID_MODEL);
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_sharded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
