/* `slm embed MODEL [TEXT...] [--json]`: sentence embeddings of the texts given as arguments, or
 * of the lines of standard input when there are none (or the only one is "-"). Prints one vector
 * per line, or with --json {"model","dim","pooling","normalized","embeddings","n_tokens",
 * "truncated"}; over-long texts are truncated to the model's length and flagged. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every line of f (without its "\n" or "\r\n") into a new array; false when out of memory. */
static bool read_lines(FILE *f, char ***lines, size_t *n) {
    size_t cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    *lines = NULL;
    *n = 0;
    while ((len = getline(&line, &line_cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(*lines, cap * sizeof *grown);
            if (!grown) break;
            *lines = grown;
        }
        if (!((*lines)[*n] = strdup(line))) break;
        (*n)++;
    }
    bool ok = feof(f) && !ferror(f);
    free(line);
    return ok;
}

static cJSON *float_item(float v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)v); /* 9 digits round-trip a float */
    return cJSON_CreateRaw(buf);
}

static void usage(void) {
    fprintf(stderr, "usage: slm embed MODEL [TEXT... | -] [--pooling model|mean|cls|last] "
                    "[--no-normalize] [--gelu erf|tanh] [--max-tokens N] [--threads T] [--json]\n"
                    "  without TEXT (or with -) the texts are read from standard input, one per "
                    "line\n");
}

int cmd_embed(int argc, char **argv) {
    struct cli_opt o[] = {{"--json", false, false, NULL},      {"--pooling", true, false, NULL},
                          {"--no-normalize", false, false, NULL}, {"--gelu", true, false, NULL},
                          {"--max-tokens", true, false, NULL}, {"--threads", true, false, NULL}};
    const char **pos = malloc((size_t)argc * sizeof *pos);
    int n_pos = 0;
    int rc = pos ? cli_parse(argc, argv, o, 6, pos, argc, &n_pos) : CLI_EXIT_ERROR;
    bool json = o[0].set;
    struct slm_embed_params p = slm_embed_default_params();
    long max_tokens = 0, threads = 0;
    if (!rc && (n_pos < 1 || !cli_opt_long(&o[4], 0, 1 << 20, &max_tokens) ||
                !cli_opt_long(&o[5], 1, 1024, &threads) ||
                (o[1].set && slm_embed_pooling_from_name(o[1].value, &p.pooling) != SLM_OK) ||
                (o[3].set && strcmp(o[3].value, "erf") && strcmp(o[3].value, "tanh")))) {
        usage();
        rc = CLI_EXIT_USAGE;
    }
    if (rc) {
        free(pos);
        return rc;
    }
    p.max_tokens = (uint32_t)max_tokens;
    p.n_threads = (int)threads;
    p.normalize = !o[2].set;
    p.gelu = o[3].set && !strcmp(o[3].value, "tanh") ? SLM_GELU_TANH : SLM_GELU_ERF;

    char **lines = NULL;
    size_t n = 0;
    const char **texts = pos + 1;
    if (n_pos == 1 || (n_pos == 2 && !strcmp(pos[1], "-"))) {
        if (!read_lines(stdin, &lines, &n)) rc = cli_fail(json, SLM_E_IO, "reading standard input");
        else if (n == 0) rc = cli_fail(json, SLM_E_INVALID_INPUT, "no texts on standard input");
        texts = (const char **)lines;
    } else {
        n = (size_t)n_pos - 1;
    }
    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    slm_embedder *e = NULL;
    float *vec = NULL;
    struct slm_embed_info *info = NULL;
    if (!rc) rc = cli_load_model(pos[0], json, NULL, &m, &tok);
    if (!rc) {
        slm_status st = slm_embedder_create(m, tok, &p, &e);
        if (st == SLM_OK) {
            vec = malloc(n * slm_embedder_dim(e) * sizeof *vec);
            info = malloc(n * sizeof *info);
            st = vec && info ? slm_embed(e, texts, n, vec, info) : SLM_E_NOMEM;
        }
        if (st != SLM_OK) rc = cli_fail(json, st, "%s", slm_error_detail());
    }
    if (!rc) {
        const size_t dim = slm_embedder_dim(e);
        for (size_t i = 0; i < n; i++)
            if (info[i].truncated && !json)
                fprintf(stderr, "slm embed: text %zu truncated to %u of its %u tokens\n", i,
                        info[i].n_tokens, info[i].n_tokens_in);
        if (json) {
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddStringToObject(doc, "model", pos[0]);
            cJSON_AddNumberToObject(doc, "dim", (double)dim);
            cJSON_AddStringToObject(doc, "pooling",
                                    slm_embed_pooling_name(slm_embedder_pooling(e)));
            cJSON_AddBoolToObject(doc, "normalized", p.normalize);
            cJSON *embs = cJSON_AddArrayToObject(doc, "embeddings");
            cJSON *ntok = cJSON_AddArrayToObject(doc, "n_tokens");
            cJSON *trunc = cJSON_AddArrayToObject(doc, "truncated");
            for (size_t i = 0; i < n; i++) {
                cJSON *v = cJSON_CreateArray();
                for (size_t d = 0; d < dim; d++) cJSON_AddItemToArray(v, float_item(vec[i * dim + d]));
                cJSON_AddItemToArray(embs, v);
                cJSON_AddItemToArray(ntok, cJSON_CreateNumber(info[i].n_tokens));
                cJSON_AddItemToArray(trunc, cJSON_CreateBool(info[i].truncated));
            }
            cli_print_json(doc);
        } else {
            for (size_t i = 0; i < n; i++) {
                for (size_t d = 0; d < dim; d++)
                    printf(d ? " %.9g" : "%.9g", (double)vec[i * dim + d]);
                printf("\n");
            }
        }
    }
    free(vec);
    free(info);
    slm_embedder_free(e);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    for (size_t i = 0; lines && i < n; i++) free(lines[i]);
    free(lines);
    free(pos);
    return rc;
}
