/* The configuration table: one row per option (from the X-macro in slm/config.h) drives defaults,
 * the INI file, the environment, flags, validation and printing. */
#include "core/internal.h"
#include "slm/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct option_row {
    const char *name, *section, *dflt, *help;
    slm_config_type type;
    size_t offset;
};

static const struct option_row rows[SLM_CONFIG_OPTION_COUNT] = {
#define SLM__CONFIG_ROW(field, type, section, dflt, help)                                          \
    [SLM_CONFIG_##field] = {#field, #section, dflt, help, SLM_CONFIG_##type,                      \
                            offsetof(struct slm_config, field)},
    SLM_CONFIG_OPTIONS(SLM__CONFIG_ROW)
#undef SLM__CONFIG_ROW
};

static const char *const source_names[] = {
    [SLM_CONFIG_DEFAULT] = "default", [SLM_CONFIG_FILE] = "file", [SLM_CONFIG_ENV] = "env",
    [SLM_CONFIG_FLAG] = "flag"};

const char *slm_config_source_name(slm_config_source s) {
    return (unsigned)s < SLM_ARRAY_LEN(source_names) ? source_names[s] : "?";
}
const char *slm_config_name(slm_config_option o) { return rows[o].name; }
const char *slm_config_section(slm_config_option o) { return rows[o].section; }
const char *slm_config_help(slm_config_option o) { return rows[o].help; }
slm_config_type slm_config_type_of(slm_config_option o) { return rows[o].type; }

slm_config_option slm_config_find(const char *name) {
    char norm[64];
    if (!strncmp(name, "--", 2)) name += 2;
    size_t n = strlen(name);
    if (n >= sizeof norm) return SLM_CONFIG_OPTION_COUNT;
    for (size_t i = 0; i <= n; i++) norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
    for (int o = 0; o < SLM_CONFIG_OPTION_COUNT; o++)
        if (!strcmp(rows[o].name, norm)) return (slm_config_option)o;
    return SLM_CONFIG_OPTION_COUNT;
}

/* ---- value parsers ---- */

static const char *skip_space(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    return s;
}

slm_status slm_parse_bytes(const char *text, uint64_t *out) {
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},       {"b", 1},        {"k", 1024.0},       {"kib", 1024.0},
                 {"kb", 1e3},   {"m", 1048576.0}, {"mib", 1048576.0},  {"mb", 1e6},
                 {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9},
                 {"t", 1099511627776.0}, {"tib", 1099511627776.0}, {"tb", 1e12}};
    const char *s = skip_space(text);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || isinf(v))
        return slm__error(SLM_E_INVALID_INPUT, "'%s' is not a size (e.g. 512MiB, 2GiB)", text);
    char unit[8] = "";
    size_t n = 0;
    for (end = (char *)skip_space(end); *end && !isspace((unsigned char)*end) && n < sizeof unit - 1; end++)
        unit[n++] = (char)tolower((unsigned char)*end);
    unit[n] = '\0';
    if (*skip_space(end))
        return slm__error(SLM_E_INVALID_INPUT, "'%s' is not a size (e.g. 512MiB, 2GiB)", text);
    for (size_t i = 0; i < SLM_ARRAY_LEN(units); i++) {
        if (strcmp(unit, units[i].unit)) continue;
        double bytes = v * units[i].mult;
        if (bytes >= 18446744073709551616.0 || bytes != floor(bytes))
            return slm__error(SLM_E_INVALID_INPUT, "size '%s' is not a whole number of bytes in "
                              "range", text);
        *out = (uint64_t)bytes;
        return SLM_OK;
    }
    return slm__error(SLM_E_INVALID_INPUT, "'%s': unknown size unit (B, KiB, MiB, GiB, TiB, KB, "
                      "MB, GB, TB)", text);
}

slm_status slm_parse_duration(const char *text, int64_t *out_ns) {
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
                 {"d", 86400e9}};
    const char *s = skip_space(text);
    char *end;
    if (!strcmp(s, "-1")) {
        *out_ns = -1;
        return SLM_OK;
    }
    double total = 0;
    bool any = false;
    while (*(s = skip_space(s))) {
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || !(v >= 0) || isinf(v)) goto bad;
        s = end;
        size_t n = 0;
        char unit[4] = "";
        while (isalpha((unsigned char)*s) && n < sizeof unit - 1) unit[n++] = (char)tolower((unsigned char)*s++);
        unit[n] = '\0';
        if (isalpha((unsigned char)*s)) goto bad;
        double mult = n == 0 ? 1e9 : 0; /* a bare number is seconds */
        for (size_t i = 0; i < SLM_ARRAY_LEN(units) && n; i++)
            if (!strcmp(unit, units[i].unit)) mult = units[i].ns;
        if (mult == 0) goto bad;
        total += v * mult;
        any = true;
        if (n == 0 && *skip_space(s)) goto bad; /* "5 3m" */
    }
    if (!any || total >= 9.2e18) goto bad;
    *out_ns = (int64_t)llround(total);
    return SLM_OK;
bad:
    return slm__error(SLM_E_INVALID_INPUT, "'%s' is not a duration (e.g. 250ms, 30s, 5m, 1h30m, "
                      "-1 for never)", text);
}

slm_status slm_parse_bool(const char *text, bool *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(text, yes[i])) return *out = true, SLM_OK;
        if (!strcasecmp(text, no[i])) return *out = false, SLM_OK;
    }
    return slm__error(SLM_E_INVALID_INPUT, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
                      text);
}

static slm_status parse_int(const char *text, int64_t *out) {
    const char *s = skip_space(text);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || *skip_space(end))
        return slm__error(SLM_E_INVALID_INPUT, "'%s' is not an integer", text);
    *out = v;
    return SLM_OK;
}

/* Range and value checks that only some options have. */
static slm_status check(slm_config_option o, const struct slm_config *c) {
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    switch (o) {
    case SLM_CONFIG_port:
        if (c->port < 1 || c->port > 65535) return slm__error(SLM_E_INVALID_INPUT, "port must be 1..65535");
        break;
    case SLM_CONFIG_max_models:
    case SLM_CONFIG_max_concurrent_loads:
        if (*(const int64_t *)((const char *)c + rows[o].offset) < 1)
            return slm__error(SLM_E_INVALID_INPUT, "%s must be at least 1", rows[o].name);
        break;
    case SLM_CONFIG_kv_type:
        if (strcmp(c->kv_type, "f16") && strcmp(c->kv_type, "f32"))
            return slm__error(SLM_E_INVALID_INPUT, "kv_type must be f16 or f32");
        break;
    case SLM_CONFIG_log_level:
        for (size_t i = 0; i < SLM_ARRAY_LEN(levels); i++)
            if (!strcmp(c->log_level, levels[i])) return SLM_OK;
        return slm__error(SLM_E_INVALID_INPUT, "log_level must be debug, info, warn or error");
    default:
        if (rows[o].type == SLM_CONFIG_INT) {
            int64_t v = *(const int64_t *)((const char *)c + rows[o].offset);
            if (v < 0 || v > INT32_MAX)
                return slm__error(SLM_E_INVALID_INPUT, "%s must be 0..%d", rows[o].name, INT32_MAX);
        }
        if (rows[o].type == SLM_CONFIG_DURATION) {
            int64_t v = *(const int64_t *)((const char *)c + rows[o].offset);
            if (v == -1 && o != SLM_CONFIG_keep_alive && o != SLM_CONFIG_embed_cache_ttl)
                return slm__error(SLM_E_INVALID_INPUT, "%s cannot be -1 (never)", rows[o].name);
        }
        break;
    }
    return SLM_OK;
}

slm_status slm_config_set(struct slm_config *c, const char *name, const char *value,
                          slm_config_source source, const char *origin) {
    slm_config_option o = slm_config_find(name);
    if (o == SLM_CONFIG_OPTION_COUNT) return slm__error(SLM_E_INVALID_INPUT, "unknown setting '%s'", name);
    const struct option_row *r = &rows[o];
    void *field = (char *)c + r->offset;
    union {
        bool b;
        int64_t i;
        uint64_t u;
    } v = {0}, old = {0};
    slm_status st = SLM_OK;
    switch (r->type) {
    case SLM_CONFIG_BOOL: st = slm_parse_bool(value, &v.b); break;
    case SLM_CONFIG_INT: st = parse_int(value, &v.i); break;
    case SLM_CONFIG_BYTES: st = slm_parse_bytes(value, &v.u); break;
    case SLM_CONFIG_DURATION: st = slm_parse_duration(value, &v.i); break;
    case SLM_CONFIG_STRING:
        if (strlen(value) >= SLM_CONFIG_STR_MAX)
            st = slm__error(SLM_E_INVALID_INPUT, "longer than %d bytes", SLM_CONFIG_STR_MAX - 1);
        break;
    }
    if (st != SLM_OK) {
        slm__error_prefix("%s", r->name);
        return st;
    }
    char *old_str = NULL;
    size_t size = r->type == SLM_CONFIG_BOOL ? sizeof(bool) : sizeof(int64_t);
    if (r->type == SLM_CONFIG_STRING) {
        char *copy = slm__strdup(value);
        if (!copy) return slm__error(SLM_E_NOMEM, "config string");
        old_str = *(char **)field;
        *(char **)field = copy;
    } else {
        memcpy(&old, field, size);
        memcpy(field, &v, size);
    }
    if ((st = check(o, c)) != SLM_OK) { /* undo */
        if (r->type == SLM_CONFIG_STRING) {
            slm__free(*(char **)field);
            *(char **)field = old_str;
        } else {
            memcpy(field, &old, size);
        }
        return st;
    }
    slm__free(old_str);
    c->source[o] = source;
    snprintf(c->origin[o], sizeof c->origin[o], "%s", origin ? origin : slm_config_source_name(source));
    return SLM_OK;
}

slm_status slm_config_init(struct slm_config *c) {
    memset(c, 0, sizeof *c);
    for (int o = 0; o < SLM_CONFIG_OPTION_COUNT; o++) {
        slm_status st = slm_config_set(c, rows[o].name, rows[o].dflt, SLM_CONFIG_DEFAULT, "default");
        SLM_ASSERT(st == SLM_OK || st == SLM_E_NOMEM); /* the defaults are valid by construction */
        if (st != SLM_OK) {
            slm_config_free(c);
            return st;
        }
    }
    return SLM_OK;
}

void slm_config_free(struct slm_config *c) {
    for (int o = 0; o < SLM_CONFIG_OPTION_COUNT; o++) {
        if (rows[o].type != SLM_CONFIG_STRING) continue;
        char **s = (char **)((char *)c + rows[o].offset);
        slm__free(*s);
        *s = NULL;
    }
}

/* A deep copy, so a file or the environment is applied all or nothing. */
static slm_status copy(struct slm_config *dst, const struct slm_config *src) {
    *dst = *src;
    for (int o = 0; o < SLM_CONFIG_OPTION_COUNT; o++) {
        if (rows[o].type != SLM_CONFIG_STRING) continue;
        char **s = (char **)((char *)dst + rows[o].offset);
        *s = slm__strdup(*s ? *s : "");
        if (!*s) {
            for (int p = 0; p < o; p++)
                if (rows[p].type == SLM_CONFIG_STRING) slm__free(*(char **)((char *)dst + rows[p].offset));
            return slm__error(SLM_E_NOMEM, "config copy");
        }
    }
    return SLM_OK;
}

static void commit(struct slm_config *c, struct slm_config *tmp, bool ok) {
    if (ok) {
        slm_config_free(c);
        *c = *tmp;
    } else {
        slm_config_free(tmp);
    }
}

struct ini_ctx {
    struct slm_config *c;
    slm_status st;
};

static int on_ini(void *user, const char *section, const char *name, const char *value) {
    struct ini_ctx *x = user;
    slm_config_option o = slm_config_find(name);
    if (o == SLM_CONFIG_OPTION_COUNT || strcmp(section, rows[o].section)) {
        x->st = slm__error(SLM_E_INVALID_INPUT, "unknown setting '%s' in section [%s]", name, section);
        return 0;
    }
    char origin[64];
    snprintf(origin, sizeof origin, "file [%s] %s", section, name);
    x->st = slm_config_set(x->c, name, value, SLM_CONFIG_FILE, origin);
    return x->st == SLM_OK;
}

slm_status slm_config_load_file(struct slm_config *c, const char *path) {
    struct slm_config tmp;
    slm_status st = copy(&tmp, c);
    if (st != SLM_OK) return st;
    struct ini_ctx x = {&tmp, SLM_OK};
    int rc = ini_parse(path, on_ini, &x);
    if (rc == -1) {
        st = slm__error(SLM_E_NOT_FOUND, "config file %s: %s", path, strerror(errno ? errno : ENOENT));
    } else if (rc == -2) {
        st = slm__error(SLM_E_NOMEM, "config file %s", path);
    } else if (rc != 0) { /* rc is the line of the first error */
        st = x.st != SLM_OK ? x.st : slm__error(SLM_E_INVALID_INPUT, "syntax error");
        slm__error_prefix("%s:%d", path, rc);
    }
    commit(c, &tmp, st == SLM_OK);
    return st;
}

slm_status slm_config_load_env(struct slm_config *c) {
    struct slm_config tmp;
    slm_status st = copy(&tmp, c);
    if (st != SLM_OK) return st;
    for (int o = 0; o < SLM_CONFIG_OPTION_COUNT && st == SLM_OK; o++) {
        char var[80];
        size_t n = (size_t)snprintf(var, sizeof var, "SLM_%s", rows[o].name);
        for (size_t i = 4; i < n; i++) var[i] = (char)toupper((unsigned char)var[i]);
        const char *v = getenv(var);
        if (!v) continue;
        st = slm_config_set(&tmp, rows[o].name, v, SLM_CONFIG_ENV, var);
        if (st != SLM_OK) slm__error_prefix("environment %s", var);
    }
    commit(c, &tmp, st == SLM_OK);
    return st;
}

void slm_config_format(const struct slm_config *c, slm_config_option o, char *buf, size_t cap) {
    const void *field = (const char *)c + rows[o].offset;
    switch (rows[o].type) {
    case SLM_CONFIG_BOOL: snprintf(buf, cap, "%s", *(const bool *)field ? "true" : "false"); break;
    case SLM_CONFIG_INT: snprintf(buf, cap, "%lld", (long long)*(const int64_t *)field); break;
    case SLM_CONFIG_STRING: snprintf(buf, cap, "%s", *(char *const *)field); break;
    case SLM_CONFIG_BYTES: {
        static const char *const u[] = {"TiB", "GiB", "MiB", "KiB"};
        uint64_t v = *(const uint64_t *)field;
        for (int i = 0; i < 4; i++) {
            uint64_t m = 1ull << (10 * (4 - i));
            if (v && v % m == 0) {
                snprintf(buf, cap, "%llu%s", (unsigned long long)(v / m), u[i]);
                return;
            }
        }
        snprintf(buf, cap, "%llu", (unsigned long long)v);
        break;
    }
    case SLM_CONFIG_DURATION: {
        static const struct {
            const char *u;
            int64_t ns;
        } u[] = {{"h", 3600000000000ll}, {"m", 60000000000ll}, {"s", 1000000000ll},
                 {"ms", 1000000ll}, {"us", 1000ll}};
        int64_t v = *(const int64_t *)field;
        if (v <= 0) {
            snprintf(buf, cap, "%lld", (long long)v);
            return;
        }
        for (size_t i = 0; i < SLM_ARRAY_LEN(u); i++) {
            if (v % u[i].ns == 0) {
                snprintf(buf, cap, "%lld%s", (long long)(v / u[i].ns), u[i].u);
                return;
            }
        }
        snprintf(buf, cap, "%lldns", (long long)v);
        break;
    }
    }
}
