/* Shared pieces of the slm program: command table entry, option parsing, exit codes and the
 * error reporting of the script contract (stderr; JSON object with --json). */
#ifndef SLM_CLI_H
#define SLM_CLI_H

#include "slm.h"
#include "slm/config.h"
#include "slm/gen.h"
#include "slm/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Exit codes (stable, documented in the README). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,         /* any failure not listed below */
    CLI_EXIT_USAGE = 2,         /* bad command line */
    CLI_EXIT_NOT_FOUND = 3,     /* model or file not found */
    CLI_EXIT_INVALID_MODEL = 4, /* malformed or unsupported model file */
    CLI_EXIT_INVALID_INPUT = 5, /* bad input data (text, ids) */
};

struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the command name */
    const char *help;
};

struct cli_opt {
    const char *name;  /* "--json" */
    bool has_value;
    bool set;          /* out */
    const char *value; /* out (borrowed from argv) */
};

/* Parses argv[1..]: known options (--name value or --name=value) and positionals (at most
 * max_pos). Prints the problem to stderr and returns CLI_EXIT_USAGE on error, else 0. */
int cli_parse(int argc, char **argv, struct cli_opt *opts, int n_opts, const char **pos,
              int max_pos, int *n_pos);
/* cli_parse that also accepts every setting of the configuration table as a flag
 * (--memory-budget 1GiB), applied to cfg with flag precedence. */
int cli_parse_config(int argc, char **argv, struct cli_opt *opts, int n_opts, const char **pos,
                     int max_pos, int *n_pos, struct slm_config *cfg);
/* The program's configuration: defaults, then the file (--config FILE, else $SLM_CONFIG, else
 * ~/.config/slm/slm.conf when it exists), then SLM_* variables, then flags. argv as for
 * cli_parse_config; *file_used gets the file read ("" when none). Returns 0 or an exit code. */
int cli_config_load(int argc, char **argv, struct cli_opt *opts, int n_opts, const char **pos,
                    int max_pos, int *n_pos, bool json, struct slm_config *cfg, char *file_used,
                    size_t cap);
/* Looks up an option by name in the parsed array. */
const struct cli_opt *cli_opt_get(const struct cli_opt *opts, int n_opts, const char *name);

/* Reports a failure the script-contract way: a JSON error on stderr with --json, else
 * "slm: <message>"; returns the exit code that fits the status. */
int cli_fail(bool json, slm_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_exit_code(slm_status st);
/* Prints a JSON document to stdout (compact, one line) and frees it. */
void cli_print_json(cJSON *doc);

/* Parses a number option into *out; prints the problem and returns false when it is not a number
 * within [lo, hi]. An unset option leaves *out alone. */
bool cli_opt_long(const struct cli_opt *o, long lo, long hi, long *out);
bool cli_opt_float(const struct cli_opt *o, double lo, double hi, float *out);

/* Loads a model file (and, when tok is not NULL, its tokenizer), reporting failures the script
 * way; returns 0 or the exit code. */
int cli_load_model(const char *path, bool json, slm_model **model, slm_tokenizer **tok);

int cmd_show(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_select(int argc, char **argv);
int cmd_ps(int argc, char **argv);

#endif
