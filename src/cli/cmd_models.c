/* `slm list`, `slm select` and `slm ps`: the catalog (built-in models plus the GGUF files in the
 * models folder) with what is local, the selector's choice for model "auto", and the resident
 * models of a server.
 *
 * The models folder is --models-dir, else $SLM_HOME/models, else ~/.local/share/slm/models. A
 * catalog model is local when its entry points at an existing file, or when <folder>/<id>.gguf
 * exists; every other *.gguf in the folder becomes a catalog entry of its own. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void models_dir(const char *opt, char *out, size_t cap) {
    const char *home = getenv("SLM_HOME"), *user = getenv("HOME");
    if (opt)
        snprintf(out, cap, "%s", opt);
    else if (home && *home)
        snprintf(out, cap, "%s/models", home);
    else
        snprintf(out, cap, "%s/.local/share/slm/models", user && *user ? user : ".");
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Where the model's file is, if it is local (path gets it), else false. */
static bool local_file(const struct slm_catalog_entry *e, const char *dir, char *path, size_t cap) {
    if (e->local_path[0] && file_exists(e->local_path)) {
        snprintf(path, cap, "%s", e->local_path);
        return true;
    }
    int n = snprintf(path, cap, "%s/%s.gguf", dir, e->id);
    return n > 0 && (size_t)n < cap && file_exists(path);
}

/* Defaults plus the folder's GGUF files (a missing folder just adds nothing). */
static slm_status load_catalog(const char *dir, slm_catalog **out) {
    slm_catalog *c = NULL;
    slm_status st = slm_catalog_create(&c);
    if (st == SLM_OK) st = slm_catalog_add_defaults(c);
    struct stat sb;
    if (st == SLM_OK && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
        st = slm_catalog_add_dir(c, dir, NULL, NULL);
    if (st != SLM_OK) {
        slm_catalog_free(c);
        c = NULL;
    }
    *out = c;
    return st;
}

static cJSON *caps_json(unsigned caps) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < SLM_CAP_COUNT; i++)
        if (caps & (1u << i))
            cJSON_AddItemToArray(a, cJSON_CreateString(slm_capability_name(1u << i)));
    return a;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v) {
    if (v[0])
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *entry_json(const struct slm_catalog_entry *e, const char *dir) {
    char path[SLM_PATH_MAX + 128];
    bool local = local_file(e, dir, path, sizeof path);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", e->id);
    add_str_or_null(o, "alias", e->alias);
    cJSON_AddStringToObject(o, "description", e->description);
    cJSON_AddStringToObject(o, "architecture", e->architecture);
    cJSON_AddNumberToObject(o, "parameters", (double)e->n_params);
    cJSON_AddStringToObject(o, "size_class", slm_size_class_name(slm_size_class_of(e->n_params)));
    cJSON_AddItemToObject(o, "capabilities", caps_json(e->capabilities));
    cJSON_AddStringToObject(o, "tier", slm_complexity_name(e->tier));
    cJSON_AddNumberToObject(o, "context_length", e->context_length);
    add_str_or_null(o, "tensor_type", e->tensor_type);
    if (e->load_type >= 0)
        cJSON_AddStringToObject(o, "load_type", slm_type_name((slm_type)e->load_type));
    else
        cJSON_AddNullToObject(o, "load_type");
    cJSON_AddNumberToObject(o, "footprint_estimate", (double)e->footprint_estimate);
    if (e->footprint_measured)
        cJSON_AddNumberToObject(o, "footprint_measured", (double)e->footprint_measured);
    else
        cJSON_AddNullToObject(o, "footprint_measured");
    if (e->file_size)
        cJSON_AddNumberToObject(o, "file_size", (double)e->file_size);
    else
        cJSON_AddNullToObject(o, "file_size");
    cJSON *src = cJSON_AddObjectToObject(o, "source");
    add_str_or_null(src, "hub_repo", e->hub_repo);
    add_str_or_null(src, "hub_file", e->hub_file);
    add_str_or_null(src, "local_path", e->local_path);
    /* null = unpinned: resolved and recorded on first pull. */
    add_str_or_null(o, "commit", e->commit);
    add_str_or_null(o, "sha256", e->sha256);
    cJSON_AddBoolToObject(o, "local", local);
    if (local)
        cJSON_AddStringToObject(o, "path", path);
    else
        cJSON_AddNullToObject(o, "path");
    return o;
}

static void human_bytes(uint64_t b, char *buf, size_t cap) {
    if (b >= SLM_GIB)
        snprintf(buf, cap, "%.2f GiB", (double)b / (double)SLM_GIB);
    else if (b >= SLM_MIB)
        snprintf(buf, cap, "%.1f MiB", (double)b / (double)SLM_MIB);
    else
        snprintf(buf, cap, "%.1f KiB", (double)b / 1024.0);
}

int cmd_list(int argc, char **argv) {
    struct cli_opt opts[] = {{"--json", false, false, NULL}, {"--models-dir", true, false, NULL}};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, opts, 2, pos, 0, &n_pos);
    bool json = opts[0].set;
    if (rc) return rc;
    char dir[SLM_PATH_MAX];
    models_dir(opts[1].value, dir, sizeof dir);
    slm_catalog *c;
    slm_status st = load_catalog(dir, &c);
    if (st != SLM_OK) return cli_fail(json, st, "%s", slm_error_detail());
    size_t n = slm_catalog_count(c);
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "models_dir", dir);
        cJSON *arr = cJSON_AddArrayToObject(doc, "models");
        for (size_t i = 0; i < n; i++) {
            struct slm_catalog_entry e;
            if (slm_catalog_get(c, i, &e) == SLM_OK) cJSON_AddItemToArray(arr, entry_json(&e, dir));
        }
        cli_print_json(doc);
    } else {
        printf("%-26s %-8s %9s %-7s %-11s %-22s %s\n", "MODEL", "ARCH", "PARAMS", "TIER",
               "FOOTPRINT", "CAPABILITIES", "LOCAL");
        for (size_t i = 0; i < n; i++) {
            struct slm_catalog_entry e;
            char fp[32], caps[96] = "", path[SLM_PATH_MAX + 128];
            if (slm_catalog_get(c, i, &e) != SLM_OK) continue;
            human_bytes(slm_catalog_entry_footprint(&e), fp, sizeof fp);
            for (int k = 0; k < SLM_CAP_COUNT; k++)
                if (e.capabilities & (1u << k))
                    snprintf(caps + strlen(caps), sizeof caps - strlen(caps), "%s%s",
                             caps[0] ? "," : "", slm_capability_name(1u << k));
            bool local = local_file(&e, dir, path, sizeof path);
            printf("%-26s %-8s %8.1fM %-7s %-11s %-22s %s\n", e.id, e.architecture,
                   (double)e.n_params / 1e6, slm_complexity_name(e.tier), fp, caps,
                   local ? "yes" : "no (pull)");
        }
        printf("\nmodels folder: %s\n", dir);
    }
    slm_catalog_free(c);
    return CLI_EXIT_OK;
}

/* Bytes with an optional K/M/G suffix (powers of 1024). */
static bool parse_bytes(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return false;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = SLM_MIB, end++;
    else if (*end == 'g' || *end == 'G')
        mul = SLM_GIB, end++;
    if (*end || v == 0 || v > UINT64_MAX / mul) return false;
    *out = v * mul;
    return true;
}

int cmd_select(int argc, char **argv) {
    struct cli_opt opts[] = {
        {"--json", false, false, NULL},      {"--capability", true, false, NULL},
        {"--complexity", true, false, NULL}, {"--prompt", true, false, NULL},
        {"--memory", true, false, NULL},     {"--models-dir", true, false, NULL},
    };
    const int n_opts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, opts, n_opts, pos, 0, &n_pos);
    bool json = opts[0].set;
    if (rc) return rc;
    struct slm_select_request req = {.complexity = SLM_COMPLEXITY_AUTO,
                                     .prompt = opts[3].value,
                                     .max_memory = slm_manager_default_params().memory_budget};
    if (!opts[1].set) {
        fprintf(stderr, "usage: slm select --capability chat|generate|embed --complexity "
                        "low|medium|high|auto [--prompt P] [--memory BYTES] [--models-dir DIR] "
                        "[--json]\n");
        return CLI_EXIT_USAGE;
    }
    if (slm_capability_from_name(opts[1].value, &req.capability) != SLM_OK ||
        (opts[2].set && slm_complexity_from_name(opts[2].value, &req.complexity) != SLM_OK))
        return cli_fail(json, SLM_E_INVALID_ARG, "%s", slm_error_detail());
    if (opts[4].set && !parse_bytes(opts[4].value, &req.max_memory))
        return cli_fail(json, SLM_E_INVALID_ARG,
                        "--memory: '%s' is not a byte count (e.g. "
                        "2147483648 or 2G)",
                        opts[4].value);
    char dir[SLM_PATH_MAX];
    models_dir(opts[5].value, dir, sizeof dir);
    slm_catalog *c;
    slm_status st = load_catalog(dir, &c);
    if (st != SLM_OK) return cli_fail(json, st, "%s", slm_error_detail());
    struct slm_selection sel;
    st = slm_select(c, NULL, &req, &sel);
    if (st != SLM_OK) {
        slm_catalog_free(c);
        return cli_fail(json, st, "%s", sel.reason[0] ? sel.reason : slm_error_detail());
    }
    struct slm_catalog_entry e;
    char path[SLM_PATH_MAX + 128];
    bool local =
        slm_catalog_find(c, sel.model, &e) == SLM_OK && local_file(&e, dir, path, sizeof path);
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "model", sel.model);
        cJSON_AddStringToObject(doc, "reason", sel.reason);
        cJSON_AddBoolToObject(doc, "local", local);
        cJSON *fb = cJSON_AddArrayToObject(doc, "fallbacks");
        for (size_t i = 0; i < sel.n_fallbacks; i++)
            cJSON_AddItemToArray(fb, cJSON_CreateString(sel.fallbacks[i]));
        cJSON_AddStringToObject(doc, "complexity", slm_complexity_name(sel.complexity));
        cli_print_json(doc);
    } else {
        printf("%s (%s)\n  %s\n", sel.model, local ? "local" : "would be downloaded", sel.reason);
        for (size_t i = 0; i < sel.n_fallbacks; i++)
            printf("  fallback %zu: %s\n", i + 1, sel.fallbacks[i]);
    }
    slm_catalog_free(c);
    return CLI_EXIT_OK;
}

int cmd_ps(int argc, char **argv) {
    struct cli_opt opts[] = {{"--json", false, false, NULL}};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, opts, 1, pos, 0, &n_pos);
    bool json = opts[0].set;
    if (rc) return rc;
    /* Residency lives in a long-running process; this one has none to report, and saying
     * "nothing resident" would be a guess about a server it cannot see. */
    return cli_fail(json, SLM_E_UNSUPPORTED,
                    "slm ps lists the models resident in a running server (slm serve), and this "
                    "build has no server yet; a one-shot command keeps no models resident");
}
