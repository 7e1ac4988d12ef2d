/* Tests of the core layer: status table, error details, logger, counting allocator with
 * failure injection, thread pool, clock, sha256, UTF-8 validation. */
// ctest-labels: tsan
#include "testutil.h"

#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

static void status_table(void **state) {
    (void)state;
    assert_string_equal(slm_status_name(SLM_OK), "OK");
    assert_string_equal(slm_status_name(SLM_E_INVALID_MODEL), "INVALID_MODEL");
    assert_string_equal(slm_status_name(SLM_E_BUSY), "BUSY");
    assert_string_equal(slm_status_name((slm_status)-999), "UNKNOWN");
    assert_string_equal(slm_status_message(SLM_E_NOMEM), "out of memory");
    assert_true(SLM_E_INVALID_ARG < 0);
}

static void error_detail(void **state) {
    (void)state;
    slm_error_clear();
    assert_string_equal(slm_error_detail(), "");
    assert_int_equal(slm__error(SLM_E_IO, "file %s", "x.gguf"), SLM_E_IO);
    assert_string_equal(slm_error_detail(), "file x.gguf");
    slm__error_prefix("loading %d", 3);
    assert_string_equal(slm_error_detail(), "loading 3: file x.gguf");
    /* Over-long details are cut, never overflow. */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    slm__error(SLM_E_IO, "%s", big);
    assert_true(strlen(slm_error_detail()) < 1024);
}

struct log_capture {
    int n;
    slm_log_level last;
    char msg[256];
};

static void capture(slm_log_level level, const char *msg, void *user) {
    struct log_capture *c = user;
    c->n++;
    c->last = level;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

static void logger_levels(void **state) {
    (void)state;
    struct log_capture c = {0};
    slm_log_set_callback(capture, &c);
    slm_log_set_level(SLM_LOG_INFO);
    SLM_LOG_D("event=dropped");
    assert_int_equal(c.n, 0);
    SLM_LOG_W("event=load model=%s", "m");
    assert_int_equal(c.n, 1);
    assert_int_equal(c.last, SLM_LOG_WARN);
    assert_string_equal(c.msg, "event=load model=m");
    slm_log_set_level(SLM_LOG_NONE);
    SLM_LOG_E("event=x");
    assert_int_equal(c.n, 1);
    slm_log_set_callback(NULL, NULL);
    slm_log_set_level(SLM_LOG_WARN);
    assert_string_equal(slm_log_level_name(SLM_LOG_ERROR), "error");
}

static void allocator_counts_and_injects(void **state) {
    (void)state;
    struct slm_alloc_stats a, b;
    slm_alloc_get_stats(&a);
    void *p = slm__malloc(1000);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    slm_alloc_get_stats(&b);
    assert_int_equal(b.bytes_in_use - a.bytes_in_use, 1000);
    assert_true(b.bytes_peak >= b.bytes_in_use);
    p = slm__realloc(p, 5000);
    assert_non_null(p);
    slm_alloc_get_stats(&b);
    assert_int_equal(b.bytes_in_use - a.bytes_in_use, 5000);
    slm__free(p);
    slm_alloc_get_stats(&b);
    assert_int_equal(b.bytes_in_use, a.bytes_in_use);

    int64_t net = slm__alloc_thread_net();
    void *t = slm__malloc(300);
    assert_int_equal(slm__alloc_thread_net() - net, 300);
    slm__free(t);
    assert_int_equal(slm__alloc_thread_net(), net);
    slm__alloc_fail_after(2); /* third call fails, others pass */
    void *x = slm__malloc(8), *y = slm__calloc(2, 8), *z = slm__malloc(8), *w = slm__malloc(8);
    assert_non_null(x);
    assert_non_null(y);
    assert_null(z);
    assert_non_null(w);
    slm__alloc_fail_after(-1);
    slm__free(x), slm__free(y), slm__free(w);
    slm__free(NULL);
    assert_null(slm__calloc(SIZE_MAX / 2, 4)); /* overflow is a failure, not a wrap */
    assert_null(slm__malloc(SIZE_MAX));
    char *s = slm__strndup("hello world", 5);
    assert_string_equal(s, "hello");
    slm__free(s);
}

struct sum_job {
    int64_t n;
    slm_chunker chunks;
    _Atomic int64_t total;
    _Atomic int calls;
    int max_ith;
};

static void sum_fn(void *ctx, int ith, int nth) {
    struct sum_job *j = ctx;
    atomic_fetch_add(&j->calls, 1);
    (void)nth;
    int64_t b, e, local = 0;
    while (slm__chunker_next(&j->chunks, &b, &e))
        for (int64_t i = b; i < e; i++) local += i;
    atomic_fetch_add(&j->total, local);
    (void)ith;
}

static void pool_runs_all_chunks(void **state) {
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        slm_pool *pool = NULL;
        TU_ASSERT_OK(slm_pool_create(threads, &pool));
        assert_int_equal(slm_pool_n_threads(pool), threads);
        for (int rep = 0; rep < 500; rep++) {
            struct sum_job j = {.n = 1000 + rep};
            slm__chunker_init(&j.chunks, 0, j.n, 7);
            atomic_init(&j.total, 0);
            atomic_init(&j.calls, 0);
            int nth = 1 + rep % threads;
            slm_pool_run(pool, sum_fn, &j, nth);
            assert_int_equal(atomic_load(&j.total), j.n * (j.n - 1) / 2);
            assert_int_equal(atomic_load(&j.calls), nth);
        }
        slm_pool_free(pool);
    }
    slm_pool_free(NULL);
    slm_pool *bad = (slm_pool *)1;
    assert_int_equal(slm_pool_create(0, &bad), SLM_E_INVALID_ARG);
    assert_null(bad);
    struct sum_job j = {.n = 10};
    slm__chunker_init(&j.chunks, 0, 10, 3);
    atomic_init(&j.total, 0);
    atomic_init(&j.calls, 0);
    slm_pool_run(NULL, sum_fn, &j, 4);
    assert_int_equal(atomic_load(&j.total), 45);
    assert_true(slm_cpu_count() >= 1);
}

static void clock_monotonic(void **state) {
    (void)state;
    slm_clock c = slm_clock_system();
    uint64_t a = slm_clock_now(&c), b = slm_clock_now(&c);
    assert_true(b >= a);
}

static void sha256_known(void **state) {
    (void)state;
    char hex[65];
    TU_ASSERT_OK(slm_sha256_buffer("abc", 3, hex));
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    TU_ASSERT_OK(slm_sha256_buffer("", 0, hex));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/f", dir);
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    TU_ASSERT_OK(slm_sha256_file(path, hex));
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(slm_sha256_file(path, hex), SLM_E_IO);
    tu_rmtree(dir);
    free(dir);
}

static void utf8_validation(void **state) {
    (void)state;
    assert_true(slm__utf8_valid("hello", 5));
    assert_true(slm__utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_false(slm__utf8_valid("\xc3", 1));             /* truncated */
    assert_false(slm__utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(slm__utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(slm__utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(slm__utf8_valid("\xff", 1));
    assert_int_equal(slm__utf8_seq_len("\xe2\x82\xac", 3), 3);
    assert_int_equal(slm__utf8_seq_len("\xe2\x82\xac", 2), 0);
}

static void mapping(void **state) {
    (void)state;
    slm_mapping m;
    assert_int_equal(slm__map_file("/nonexistent/x", &m), SLM_E_NOT_FOUND);
    assert_null(m.data);
    assert_int_equal(slm__map_file("/", &m), SLM_E_IO);
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/empty", dir);
    fclose(fopen(path, "wb"));
    TU_ASSERT_OK(slm__map_file(path, &m));
    assert_int_equal(m.size, 0);
    slm__unmap(&m);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_table),      cmocka_unit_test(error_detail),
        cmocka_unit_test(logger_levels),     cmocka_unit_test(allocator_counts_and_injects),
        cmocka_unit_test(pool_runs_all_chunks), cmocka_unit_test(clock_monotonic),
        cmocka_unit_test(sha256_known),      cmocka_unit_test(utf8_validation),
        cmocka_unit_test(mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
