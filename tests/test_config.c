/* Tests of the configuration table: value parsers, defaults, the INI file (all or nothing, errors
 * with file and line), the environment, flags, precedence, and `slm config` output. */
#include "testutil.h"

#include "slm/config.h"

#include <stdlib.h>
#include <string.h>

static void parsers(void **state) {
    (void)state;
    uint64_t b;
    TU_ASSERT_OK(slm_parse_bytes("2GiB", &b));
    assert_int_equal(b, 2ull << 30);
    TU_ASSERT_OK(slm_parse_bytes("1.5 g", &b));
    assert_int_equal(b, 3ull << 29);
    TU_ASSERT_OK(slm_parse_bytes("100MB", &b));
    assert_int_equal(b, 100000000);
    TU_ASSERT_OK(slm_parse_bytes("4096", &b));
    assert_int_equal(b, 4096);
    const char *bad_bytes[] = {"", "-1GiB", "2 parsecs", "1.5", "GiB", "99999999999TiB", "nan"};
    for (size_t i = 0; i < sizeof bad_bytes / sizeof *bad_bytes; i++)
        if (slm_parse_bytes(bad_bytes[i], &b) != SLM_E_INVALID_INPUT) fail_msg("accepted '%s'", bad_bytes[i]);
    int64_t d;
    TU_ASSERT_OK(slm_parse_duration("5m", &d));
    assert_int_equal(d, 300000000000ll);
    TU_ASSERT_OK(slm_parse_duration("1h30m", &d));
    assert_int_equal(d, 5400000000000ll);
    TU_ASSERT_OK(slm_parse_duration("250ms", &d));
    assert_int_equal(d, 250000000);
    TU_ASSERT_OK(slm_parse_duration("30", &d)); /* bare number: seconds */
    assert_int_equal(d, 30000000000ll);
    TU_ASSERT_OK(slm_parse_duration("-1", &d));
    assert_int_equal(d, -1);
    TU_ASSERT_OK(slm_parse_duration("0", &d));
    assert_int_equal(d, 0);
    const char *bad_dur[] = {"", "-5m", "5 fortnights", "m", "3x", "5 3m", "1e30h"};
    for (size_t i = 0; i < sizeof bad_dur / sizeof *bad_dur; i++)
        if (slm_parse_duration(bad_dur[i], &d) != SLM_E_INVALID_INPUT) fail_msg("accepted '%s'", bad_dur[i]);
    bool v;
    TU_ASSERT_OK(slm_parse_bool("Yes", &v));
    assert_true(v);
    TU_ASSERT_OK(slm_parse_bool("off", &v));
    assert_false(v);
    assert_int_equal(slm_parse_bool("maybe", &v), SLM_E_INVALID_INPUT);
}

static void defaults_set_and_format(void **state) {
    (void)state;
    struct slm_config c;
    TU_ASSERT_OK(slm_config_init(&c));
    assert_int_equal(c.memory_budget, 2ull << 30);
    assert_int_equal(c.max_models, 3);
    assert_int_equal(c.keep_alive, 300000000000ll);
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.host, "127.0.0.1"); /* localhost by default */
    assert_false(c.offline);
    assert_int_equal(c.source[SLM_CONFIG_port], SLM_CONFIG_DEFAULT);
    char buf[64];
    slm_config_format(&c, SLM_CONFIG_memory_budget, buf, sizeof buf);
    assert_string_equal(buf, "2GiB");
    slm_config_format(&c, SLM_CONFIG_keep_alive, buf, sizeof buf);
    assert_string_equal(buf, "5m");
    TU_ASSERT_OK(slm_config_set(&c, "--keep-alive", "-1", SLM_CONFIG_FLAG, NULL));
    slm_config_format(&c, SLM_CONFIG_keep_alive, buf, sizeof buf);
    assert_string_equal(buf, "-1");
    TU_ASSERT_OK(slm_config_set(&c, "host", "0.0.0.0", SLM_CONFIG_FLAG, NULL));
    assert_string_equal(c.host, "0.0.0.0");
    /* bad values leave the old one in place */
    assert_int_equal(slm_config_set(&c, "port", "0", SLM_CONFIG_FLAG, NULL), SLM_E_INVALID_INPUT);
    assert_int_equal(slm_config_set(&c, "kv_type", "q8", SLM_CONFIG_FLAG, NULL), SLM_E_INVALID_INPUT);
    assert_string_equal(c.kv_type, "f16");
    assert_int_equal(slm_config_set(&c, "max_models", "0", SLM_CONFIG_FLAG, NULL), SLM_E_INVALID_INPUT);
    assert_int_equal(slm_config_set(&c, "load_timeout", "-1", SLM_CONFIG_FLAG, NULL), SLM_E_INVALID_INPUT);
    assert_int_equal(slm_config_set(&c, "nonsense", "1", SLM_CONFIG_FLAG, NULL), SLM_E_INVALID_INPUT);
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.max_models, 3);
    assert_int_equal(slm_config_find("--memory-budget"), SLM_CONFIG_memory_budget);
    assert_int_equal(slm_config_find("MEMORY_BUDGET"), SLM_CONFIG_memory_budget);
    assert_int_equal(slm_config_find("budget"), SLM_CONFIG_OPTION_COUNT);
    slm_config_free(&c);
}

static char *write_file(const char *dir, const char *name, const char *text) {
    char *p = malloc(4200);
    snprintf(p, 4200, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

static void file_env_flags(void **state) {
    (void)state;
    char *dir = tu_mkdtemp();
    char *good = write_file(dir, "good.conf", "; comment\n[manager]\nmemory_budget = 1GiB\n"
                                              "keep_alive = 0\n[server]\nport = 9090\nhost = ::1\n");
    char *bad = write_file(dir, "bad.conf", "[manager]\nmax_models = 7\n[server]\nport = 70000\n");
    char *unknown = write_file(dir, "unknown.conf", "[manager]\nmax_models = 2\nbudget = 1\n");
    char *wrong_section = write_file(dir, "section.conf", "[server]\nmemory_budget = 1GiB\n");
    struct slm_config c;
    TU_ASSERT_OK(slm_config_init(&c));
    TU_ASSERT_OK(slm_config_load_file(&c, good));
    assert_int_equal(c.memory_budget, 1ull << 30);
    assert_int_equal(c.keep_alive, 0);
    assert_int_equal(c.port, 9090);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.source[SLM_CONFIG_port], SLM_CONFIG_FILE);
    /* a bad file changes nothing, and says where */
    assert_int_equal(slm_config_load_file(&c, bad), SLM_E_INVALID_INPUT);
    assert_non_null(strstr(slm_error_detail(), "bad.conf:4"));
    assert_non_null(strstr(slm_error_detail(), "port"));
    assert_int_equal(c.max_models, 3);
    assert_int_equal(slm_config_load_file(&c, unknown), SLM_E_INVALID_INPUT);
    assert_non_null(strstr(slm_error_detail(), "unknown.conf:3"));
    assert_int_equal(c.max_models, 3);
    assert_int_equal(slm_config_load_file(&c, wrong_section), SLM_E_INVALID_INPUT);
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/none.conf", dir);
    assert_int_equal(slm_config_load_file(&c, missing), SLM_E_NOT_FOUND);
    /* environment over file */
    setenv("SLM_PORT", "7000", 1);
    setenv("SLM_OFFLINE", "yes", 1);
    TU_ASSERT_OK(slm_config_load_env(&c));
    assert_int_equal(c.port, 7000);
    assert_true(c.offline);
    assert_int_equal(c.source[SLM_CONFIG_port], SLM_CONFIG_ENV);
    assert_string_equal(c.origin[SLM_CONFIG_port], "SLM_PORT");
    setenv("SLM_MAX_MODELS", "zero", 1);
    assert_int_equal(slm_config_load_env(&c), SLM_E_INVALID_INPUT);
    assert_non_null(strstr(slm_error_detail(), "SLM_MAX_MODELS"));
    assert_int_equal(c.port, 7000);
    unsetenv("SLM_MAX_MODELS");
    slm_config_free(&c);

    /* the program: file < env < flag, and the sources it reports */
    char *slm = tu_build_path("slm"), *out = NULL;
    assert_int_equal(tu_run(&out, "SLM_PORT=7000 '%s' config --config '%s' --port 6000 --json", slm, good), 0);
    cJSON *j = cJSON_Parse(out);
    cJSON *s = cJSON_GetObjectItem(j, "settings");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "port"), "value")->valuestring, "6000");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "port"), "source")->valuestring, "flag");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "memory_budget"), "source")->valuestring, "file");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "max_models"), "source")->valuestring, "default");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "offline"), "source")->valuestring, "env");
    cJSON_Delete(j);
    free(out);
    /* the api key is never printed */
    assert_int_equal(tu_run(&out, "'%s' config --api-key s3cret --json", slm), 0);
    assert_null(strstr(out, "s3cret"));
    free(out);
    assert_int_equal(tu_run(NULL, "'%s' config --config '%s' 2>/dev/null", slm, bad), 5);
    assert_int_equal(tu_run(NULL, "'%s' config --config '%s' 2>/dev/null", slm, missing), 3);
    assert_int_equal(tu_run(NULL, "'%s' config --port nope 2>/dev/null", slm), 2);
    unsetenv("SLM_PORT");
    unsetenv("SLM_OFFLINE");
    free(slm), free(good), free(bad), free(unknown), free(wrong_section);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parsers),
        cmocka_unit_test(defaults_set_and_format),
        cmocka_unit_test(file_env_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
