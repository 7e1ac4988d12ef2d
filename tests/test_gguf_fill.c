/* Tests of tensors produced at write time (slm_gguf_writer_add_tensor_fn): the file and memory
 * outputs are byte-identical to those of the same data added up front, a failing fill fails the
 * write with its status and detail and leaves no file behind, and a missing fill is refused. */
#include "testutil.h"

#include "core/internal.h"
#include "slm.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fill_ctx {
    const float *src;
    int calls;
    slm_status fail;
};

static slm_status fill(void *ctx, void *dst, uint64_t n_bytes) {
    struct fill_ctx *c = ctx;
    c->calls++;
    if (c->fail != SLM_OK) return slm__error(c->fail, "fill failed on purpose");
    memcpy(dst, c->src, n_bytes);
    return SLM_OK;
}

static slm_gguf_writer *writer(const float *a, const float *b, struct fill_ctx *ctx) {
    slm_gguf_writer *w;
    int64_t ne_a[2] = {32, 4}, ne_b[1] = {64};
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "general.architecture", "llama"));
    if (ctx)
        TU_ASSERT_OK(slm_gguf_writer_add_tensor_fn(w, "a", SLM_TYPE_F32, 2, ne_a, 512, fill, ctx));
    else
        TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, "a", SLM_TYPE_F32, 2, ne_a, a, 512));
    TU_ASSERT_OK(slm_gguf_writer_add_tensor(w, "b", SLM_TYPE_F32, 1, ne_b, b, 256));
    return w;
}

static void test_fill(void **state) {
    (void)state;
    float a[128], b[64];
    for (int i = 0; i < 128; i++) a[i] = (float)i * 0.5f;
    for (int i = 0; i < 64; i++) b[i] = -(float)i;
    struct fill_ctx ctx = {a, 0, SLM_OK};
    slm_gguf_writer *plain = writer(a, b, NULL), *filled = writer(a, b, &ctx);
    void *m1, *m2;
    size_t s1, s2;
    TU_ASSERT_OK(slm_gguf_writer_write_memory(plain, &m1, &s1));
    TU_ASSERT_OK(slm_gguf_writer_write_memory(filled, &m2, &s2));
    assert_int_equal(s1, s2);
    assert_memory_equal(m1, m2, s1);
    assert_int_equal(ctx.calls, 1);

    char *dir = tu_mkdtemp(), path[4200];
    snprintf(path, sizeof path, "%s/f.gguf", dir);
    TU_ASSERT_OK(slm_gguf_writer_write_file(filled, path));
    assert_int_equal(ctx.calls, 2);
    size_t len;
    char *file = tu_read_file(path, &len);
    assert_int_equal(len, s1);
    assert_memory_equal(file, m1, len);
    free(file);
    unlink(path);

    ctx.fail = SLM_E_NOMEM;
    assert_int_equal(slm_gguf_writer_write_file(filled, path), SLM_E_NOMEM);
    assert_non_null(strstr(slm_error_detail(), "on purpose"));
    assert_int_equal(access(path, F_OK), -1);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    void *m3 = (void *)1;
    size_t s3;
    assert_int_equal(slm_gguf_writer_write_memory(filled, &m3, &s3), SLM_E_NOMEM);
    assert_null(m3);

    int64_t ne[1] = {8};
    assert_int_equal(slm_gguf_writer_add_tensor_fn(plain, "c", SLM_TYPE_F32, 1, ne, 32, NULL, NULL),
                     SLM_E_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_add_tensor_fn(plain, "c", SLM_TYPE_F32, 1, ne, 31, fill, &ctx),
                     SLM_E_INVALID_ARG);
    slm_free(m1);
    slm_free(m2);
    slm_gguf_writer_free(plain);
    slm_gguf_writer_free(filled);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fill)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
