/* slm config: every setting of the program in one table, read from defaults, the config file
 * (slm.conf, INI), the environment (SLM_*) and command-line flags, with that precedence
 * (flags > environment > file > defaults), and printable with where each value came from. */
#ifndef SLM_CONFIG_H
#define SLM_CONFIG_H

#include "slm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLM_CONFIG_STR_MAX 1024

typedef enum slm_config_source {
    SLM_CONFIG_DEFAULT = 0,
    SLM_CONFIG_FILE,
    SLM_CONFIG_ENV,
    SLM_CONFIG_FLAG,
} slm_config_source;

/* The X-macro table of options: X(field, type, section, default, help).
 * type: BOOL, INT, BYTES (sizes like 2GiB), DURATION (5m, 30s, 250ms, -1 = never; stored in ns),
 * STRING. The file key is section.field ([section] then field = value), the environment variable
 * SLM_<FIELD> (upper case), the flag --<field> with '_' written '-'. */
#define SLM_CONFIG_OPTIONS(X)                                                                      \
    X(memory_budget, BYTES, manager, "2GiB", "memory the resident models may take in all")         \
    X(max_models, INT, manager, "3", "resident (and loading) models at most")                     \
    X(system_reserve, BYTES, manager, "100MiB", "system memory to keep free")                      \
    X(keep_alive, DURATION, manager, "5m", "idle time before a model is unloaded (-1: never)")     \
    X(load_timeout, DURATION, manager, "60s", "time limit of one load attempt")                    \
    X(load_retries, INT, manager, "3", "retries of a transient load failure")                      \
    X(retry_backoff, DURATION, manager, "2s", "first retry delay (doubles, with jitter)")           \
    X(max_concurrent_loads, INT, manager, "2", "loads running at once")                            \
    X(max_queue, INT, manager, "64", "requests waiting for memory at most")                        \
    X(queue_timeout, DURATION, manager, "30s", "how long a request waits for memory")              \
    X(embed_cache_entries, INT, embeddings, "10000", "embedding cache size (0: off)")              \
    X(embed_cache_ttl, DURATION, embeddings, "1h", "embedding cache entry lifetime")               \
    X(embed_cache_file, STRING, embeddings, "", "SQLite file that keeps the cache across restarts")\
    X(threads, INT, engine, "0", "threads per model (0: every CPU)")                               \
    X(context, INT, engine, "4096", "context length served (capped at the model's)")               \
    X(kv_type, STRING, engine, "f16", "KV cache element type: f16 or f32")                         \
    X(home, STRING, store, "", "model store folder (default ~/.local/share/slm)")                  \
    X(models_dir, STRING, store, "", "extra folder searched for *.gguf files")                     \
    X(offline, BOOL, store, "false", "never use the network")                                      \
    X(hf_endpoint, STRING, store, "https://huggingface.co", "Hugging Face hub address")           \
    X(host, STRING, server, "127.0.0.1", "address the server listens on")                          \
    X(port, INT, server, "8080", "port the server listens on")                                     \
    X(api_key, STRING, server, "", "bearer token required by the server (empty: none)")            \
    X(max_body, BYTES, server, "16MiB", "largest request body accepted")                           \
    X(request_timeout, DURATION, server, "10m", "time limit of one request")                       \
    X(log_level, STRING, log, "warn", "debug, info, warn or error")

typedef enum slm_config_option {
#define SLM__CONFIG_ENUM(field, type, section, dflt, help) SLM_CONFIG_##field,
    SLM_CONFIG_OPTIONS(SLM__CONFIG_ENUM)
#undef SLM__CONFIG_ENUM
    SLM_CONFIG_OPTION_COUNT
} slm_config_option;

typedef enum slm_config_type {
    SLM_CONFIG_BOOL,
    SLM_CONFIG_INT,
    SLM_CONFIG_BYTES,
    SLM_CONFIG_DURATION,
    SLM_CONFIG_STRING,
} slm_config_type;

/* Every value, typed. Durations are nanoseconds (-1 = never), sizes bytes. */
struct slm_config {
#define SLM__CONFIG_FIELD_BOOL bool
#define SLM__CONFIG_FIELD_INT int64_t
#define SLM__CONFIG_FIELD_BYTES uint64_t
#define SLM__CONFIG_FIELD_DURATION int64_t
#define SLM__CONFIG_FIELD_STRING char *
#define SLM__CONFIG_MEMBER(field, type, section, dflt, help) SLM__CONFIG_FIELD_##type field;
    SLM_CONFIG_OPTIONS(SLM__CONFIG_MEMBER)
#undef SLM__CONFIG_MEMBER
    slm_config_source source[SLM_CONFIG_OPTION_COUNT];
    char origin[SLM_CONFIG_OPTION_COUNT][64]; /* "file:3", "env SLM_PORT", "--port" */
};

/* Fills every option with its default. Strings are heap copies owned by the config. */
slm_status slm_config_init(struct slm_config *c);
void slm_config_free(struct slm_config *c); /* frees the strings; accepts a zeroed config */

/* Sets one option from text (as written in the file, environment or on the command line).
 * SLM_E_INVALID_INPUT with the option named when the value does not parse or is out of range;
 * nothing changes then. name is the field name ("memory_budget") or the flag ("--memory-budget"). */
slm_status slm_config_set(struct slm_config *c, const char *name, const char *value,
                          slm_config_source source, const char *origin);
/* Reads an INI file ([section] + key = value). Unknown sections or keys, and bad values, are
 * errors naming the file and line; the config is left as it was. */
slm_status slm_config_load_file(struct slm_config *c, const char *path);
/* Applies every SLM_<FIELD> variable that is set (getenv). Same error rule. */
slm_status slm_config_load_env(struct slm_config *c);

/* The option a field name or flag names; SLM_CONFIG_OPTION_COUNT if none. */
slm_config_option slm_config_find(const char *name);
const char *slm_config_name(slm_config_option o);   /* "memory_budget" */
const char *slm_config_section(slm_config_option o);
const char *slm_config_help(slm_config_option o);
slm_config_type slm_config_type_of(slm_config_option o);
const char *slm_config_source_name(slm_config_source s); /* "default", "file", "env", "flag" */
/* Writes the value as text ("2GiB" style for sizes and "5m" for durations when exact). */
void slm_config_format(const struct slm_config *c, slm_config_option o, char *buf, size_t cap);

/* Parsers behind the table, usable on their own (e.g. for per-request keep_alive). */
slm_status slm_parse_bytes(const char *text, uint64_t *out);
slm_status slm_parse_duration(const char *text, int64_t *out_ns); /* -1 stays -1 (never) */
slm_status slm_parse_bool(const char *text, bool *out);

#ifdef __cplusplus
}
#endif
#endif
