/* The slm program: command table and dispatch. Each command lives in its own cmd_<name>.c. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct cli_command commands[] = {
    {"show", cmd_show, "show MODEL [--tensors] [--json]: architecture, parameters, tensor types, sizes"},
    {"run", cmd_run,
     "run MODEL [PROMPT] [--chat] [--system S] [--max-tokens N] [--temperature T] [--top-k K]\n"
     "      [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--stop S] [--ignore-eos]\n"
     "      [--threads T] [--ctx N] [--json]: generate text (no PROMPT: interactive chat)"},
    {"logits", cmd_logits,
     "logits MODEL (--ids 1,2,3 | --text T) [--top K] [--json]: top logits at every position"},
    {"bench", cmd_bench,
     "bench MODEL [--threads T] [--prompt-tokens 128] [--gen-tokens 64] [--reps 3] [--kv-f32] [--json]:\n"
     "      prompt and generation tok/s, bandwidth roofline fraction, RSS"},
    {"config", cmd_config,
     "config [--config FILE] [--SETTING VALUE]... [--json]: every setting, its value and its source"},
    {"embed", cmd_embed,
     "embed MODEL [TEXT... | -] [--pooling model|mean|cls|last] [--no-normalize] [--gelu erf|tanh]\n"
     "      [--max-tokens N] [--threads T] [--json]: sentence embeddings (no TEXT: stdin lines)"},
    {"tokenize", cmd_tokenize,
     "tokenize MODEL TEXT [--no-special] [--parse-special] [--json]: token ids of a text"},
    {"list", cmd_list, "list [--models-dir DIR] [--json]: the catalog, with what is local"},
    {"select", cmd_select,
     "select --capability chat|generate|embed --complexity low|medium|high|auto [--prompt P] "
     "[--memory BYTES] [--models-dir DIR] [--json]: what model \"auto\" would choose, and why"},
    {"ps", cmd_ps, "ps [--json]: models resident in a running server"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: slm COMMAND [ARGS] [--json]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].help);
    fprintf(f, "\nslm %s\n", slm_version());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("slm %s\n", slm_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "slm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
