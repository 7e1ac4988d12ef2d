/* `slm tokenize MODEL TEXT [--no-special] [--parse-special] [--json]`: the token ids of a text
 * under a model's tokenizer (works on vocabulary-only GGUF files). */
#include "cli/cli.h"
#include "slm/tokenizer.h"

#include <stdio.h>
#include <string.h>

int cmd_tokenize(int argc, char **argv) {
    struct cli_opt opts[] = {
        {"--json", false, false, NULL},
        {"--no-special", false, false, NULL},
        {"--parse-special", false, false, NULL},
    };
    const char *pos[2];
    int n_pos;
    int rc = cli_parse(argc, argv, opts, 3, pos, 2, &n_pos);
    bool json = opts[0].set;
    if (rc) return rc;
    if (n_pos != 2) {
        fprintf(stderr,
                "usage: slm tokenize MODEL TEXT [--no-special] [--parse-special] [--json]\n");
        return CLI_EXIT_USAGE;
    }
    slm_gguf *g = NULL;
    slm_status st = slm_gguf_open(pos[0], NULL, &g);
    if (st != SLM_OK) return cli_fail(json, st, "%s", slm_error_detail());
    slm_tokenizer *tok = NULL;
    st = slm_tokenizer_from_gguf(g, &tok);
    slm_gguf_close(g);
    if (st != SLM_OK) return cli_fail(json, st, "%s: %s", pos[0], slm_error_detail());
    unsigned flags = (opts[1].set ? 0 : SLM_TOKENIZE_ADD_SPECIAL) |
                     (opts[2].set ? SLM_TOKENIZE_PARSE_SPECIAL : 0);
    int32_t *ids = NULL;
    size_t n = 0;
    st = slm_tokenize(tok, pos[1], strlen(pos[1]), flags, &ids, &n);
    if (st != SLM_OK) {
        slm_tokenizer_free(tok);
        return cli_fail(json, st, "%s", slm_error_detail());
    }
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(doc, "ids");
        for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
        cli_print_json(doc);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *text = slm_tokenizer_token_text(tok, ids[i], &len);
            printf("%6d  '%.*s'\n", ids[i], (int)len, text);
        }
    }
    slm_free(ids);
    slm_tokenizer_free(tok);
    return CLI_EXIT_OK;
}
