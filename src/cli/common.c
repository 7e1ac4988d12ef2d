/* Option parsing, error reporting and JSON output shared by all slm commands. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(int argc, char **argv, struct cli_opt *opts, int n_opts, const char **pos,
                 int max_pos, int *n_pos, struct slm_config *cfg) {
    *n_pos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            struct cli_opt *o = NULL;
            for (int k = 0; k < n_opts; k++)
                if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen)) o = &opts[k];
            if (!o && cfg) {
                char flag[64];
                snprintf(flag, sizeof flag, "%.*s", (int)(nlen < sizeof flag ? nlen : sizeof flag - 1), a);
                if (slm_config_find(flag) != SLM_CONFIG_OPTION_COUNT) {
                    const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
                    if (!v) {
                        fprintf(stderr, "slm %s: option %s needs a value\n", argv[0], flag);
                        return CLI_EXIT_USAGE;
                    }
                    if (slm_config_set(cfg, flag, v, SLM_CONFIG_FLAG, flag) != SLM_OK) {
                        fprintf(stderr, "slm %s: %s\n", argv[0], slm_error_detail());
                        return CLI_EXIT_USAGE;
                    }
                    continue;
                }
            }
            if (!o) {
                fprintf(stderr, "slm %s: unknown option '%.*s'\n", argv[0], (int)nlen, a);
                return CLI_EXIT_USAGE;
            }
            o->set = true;
            if (o->has_value) {
                if (eq) o->value = eq + 1;
                else if (i + 1 < argc) o->value = argv[++i];
                else {
                    fprintf(stderr, "slm %s: option %s needs a value\n", argv[0], o->name);
                    return CLI_EXIT_USAGE;
                }
            } else if (eq) {
                fprintf(stderr, "slm %s: option %s takes no value\n", argv[0], o->name);
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        if (*n_pos >= max_pos) {
            fprintf(stderr, "slm %s: unexpected argument '%s'\n", argv[0], a);
            return CLI_EXIT_USAGE;
        }
        pos[(*n_pos)++] = a;
    }
    return 0;
}

int cli_parse(int argc, char **argv, struct cli_opt *opts, int n_opts, const char **pos,
              int max_pos, int *n_pos) {
    return parse(argc, argv, opts, n_opts, pos, max_pos, n_pos, NULL);
}

int cli_parse_config(int argc, char **argv, struct cli_opt *opts, int n_opts, const char **pos,
                     int max_pos, int *n_pos, struct slm_config *cfg) {
    return parse(argc, argv, opts, n_opts, pos, max_pos, n_pos, cfg);
}

int cli_config_load(int argc, char **argv, struct cli_opt *opts, int n_opts, const char **pos,
                    int max_pos, int *n_pos, bool json, struct slm_config *cfg, char *file_used,
                    size_t cap) {
    file_used[0] = '\0';
    if (slm_config_init(cfg) != SLM_OK) return cli_fail(json, SLM_E_NOMEM, "configuration");
    /* The file comes first, so flags must be found before the rest is applied over it. */
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--config") && i + 1 < argc) file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9)) file = argv[i] + 9;
    }
    bool explicit_file = file != NULL;
    char dflt[4096];
    if (!file) file = getenv("SLM_CONFIG"), explicit_file = file != NULL;
    if (!file) {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        if (xdg && *xdg) snprintf(dflt, sizeof dflt, "%s/slm/slm.conf", xdg);
        else snprintf(dflt, sizeof dflt, "%s/.config/slm/slm.conf", home ? home : ".");
        if (access(dflt, R_OK) == 0) file = dflt;
    }
    slm_status st = SLM_OK;
    if (file) {
        st = slm_config_load_file(cfg, file);
        if (st == SLM_OK) snprintf(file_used, cap, "%s", file);
        else if (!explicit_file && st == SLM_E_NOT_FOUND) st = SLM_OK;
    }
    if (st == SLM_OK) st = slm_config_load_env(cfg);
    if (st != SLM_OK) {
        int rc = cli_fail(json, st, "%s", slm_error_detail());
        slm_config_free(cfg);
        return rc;
    }
    int rc = cli_parse_config(argc, argv, opts, n_opts, pos, max_pos, n_pos, cfg);
    if (rc) slm_config_free(cfg);
    return rc;
}

const struct cli_opt *cli_opt_get(const struct cli_opt *opts, int n_opts, const char *name) {
    for (int k = 0; k < n_opts; k++)
        if (!strcmp(opts[k].name, name)) return &opts[k];
    return NULL;
}

int cli_exit_code(slm_status st) {
    switch (st) {
    case SLM_OK: return CLI_EXIT_OK;
    case SLM_E_NOT_FOUND: return CLI_EXIT_NOT_FOUND;
    case SLM_E_INVALID_MODEL:
    case SLM_E_UNSUPPORTED: return CLI_EXIT_INVALID_MODEL;
    case SLM_E_INVALID_INPUT:
    case SLM_E_INVALID_ARG: return CLI_EXIT_INVALID_INPUT;
    default: return CLI_EXIT_ERROR;
    }
}

int cli_fail(bool json, slm_status st, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (json) {
        cJSON *doc = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(doc, "error");
        cJSON_AddStringToObject(err, "code", slm_status_name(st));
        cJSON_AddStringToObject(err, "message", msg);
        char *s = cJSON_PrintUnformatted(doc);
        fprintf(stderr, "%s\n", s);
        free(s);
        cJSON_Delete(doc);
    } else {
        fprintf(stderr, "slm: %s\n", msg);
    }
    return cli_exit_code(st);
}

void cli_print_json(cJSON *doc) {
    char *s = cJSON_PrintUnformatted(doc);
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    cJSON_Delete(doc);
}

bool cli_opt_long(const struct cli_opt *o, long lo, long hi, long *out) {
    if (!o->set) return true;
    char *end;
    long v = strtol(o->value, &end, 10);
    if (end == o->value || *end || v < lo || v > hi) {
        fprintf(stderr, "slm: %s must be an integer in %ld..%ld\n", o->name, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_opt_float(const struct cli_opt *o, double lo, double hi, float *out) {
    if (!o->set) return true;
    char *end;
    double v = strtod(o->value, &end);
    if (end == o->value || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "slm: %s must be a number in %g..%g\n", o->name, lo, hi);
        return false;
    }
    *out = (float)v;
    return true;
}

int cli_load_model(const char *path, bool json, slm_model **model, slm_tokenizer **tok) {
    *model = NULL;
    slm_status st = slm_model_load(path, NULL, model);
    if (st != SLM_OK) return cli_fail(json, st, "%s", slm_error_detail());
    if (!tok) return 0;
    st = slm_tokenizer_from_gguf(slm_model_get_gguf(*model), tok);
    if (st != SLM_OK) {
        int rc = cli_fail(json, st, "%s: tokenizer: %s", path, slm_error_detail());
        slm_model_free(*model);
        *model = NULL;
        return rc;
    }
    return 0;
}
