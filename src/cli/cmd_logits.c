/* `slm logits MODEL (--ids 1,2,3 | --text T) [--top K] --json`: evaluates the sequence in one
 * batch and prints the top K [id, logit] pairs at every position, for checking fidelity position
 * by position against another implementation. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "1,2,3" -> ids; false with a message on anything else. */
static bool parse_ids(const char *s, int32_t **ids, size_t *n) {
    size_t cap = 16;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    while (*ids && *s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            fprintf(stderr, "slm logits: --ids must be comma-separated token ids\n");
            return false;
        }
        if (*n == cap) *ids = realloc(*ids, (cap *= 2) * sizeof **ids);
        (*ids)[(*n)++] = (int32_t)v;
        s = *end ? end + 1 : end;
    }
    return *ids && *n > 0;
}

struct scored {
    int32_t id;
    float logit;
};

static int by_logit(const void *a, const void *b) {
    const struct scored *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

int cmd_logits(int argc, char **argv) {
    struct cli_opt o[] = {{"--json", false, false, NULL}, {"--ids", true, false, NULL},
                          {"--text", true, false, NULL},  {"--top", true, false, NULL},
                          {"--threads", true, false, NULL}, {"--no-bos", false, false, NULL},
                          {"--load-type", true, false, NULL}};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, o, 7, pos, 1, &n_pos);
    if (rc) return rc;
    bool json = o[0].set;
    long top = 16, threads = 0;
    if (n_pos != 1 || o[1].set == o[2].set || !cli_opt_long(&o[3], 1, 1 << 20, &top) ||
        !cli_opt_long(&o[4], 1, 1024, &threads)) {
        fprintf(stderr, "usage: slm logits MODEL (--ids 1,2,3 | --text T) [--top K] [--threads T] "
                        "[--no-bos] [--load-type TYPE] [--json]\n");
        return CLI_EXIT_USAGE;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (o[1].set && !parse_ids(o[1].value, &ids, &n)) {
        free(ids);
        return CLI_EXIT_USAGE;
    }
    struct slm_model_params mp = slm_model_default_params();
    mp.n_threads = (int)threads;
    if (!cli_opt_load_type(&o[6], json, &mp)) {
        free(ids);
        return CLI_EXIT_USAGE;
    }
    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    if ((rc = cli_load_model(pos[0], json, &mp, &m, o[2].set ? &tok : NULL))) {
        free(ids);
        return rc;
    }
    slm_status st = SLM_OK;
    if (o[2].set) {
        int32_t *t = NULL;
        st = slm_tokenize(tok, o[2].value, strlen(o[2].value), o[5].set ? 0 : SLM_TOKENIZE_ADD_SPECIAL,
                          &t, &n);
        if (st == SLM_OK && n == 0) {
            st = SLM_E_INVALID_INPUT;
            rc = cli_fail(json, st, "the text has no tokens");
        }
        if (st == SLM_OK) {
            ids = malloc(n * sizeof *ids);
            memcpy(ids, t, n * sizeof *ids);
        } else if (!rc) {
            rc = cli_fail(json, st, "%s", slm_error_detail());
        }
        slm_free(t);
    }
    const int32_t n_vocab = (int32_t)slm_model_get_hparams(m)->n_vocab;
    struct slm_session_params sp = slm_session_default_params();
    sp.logits_all = true;
    sp.n_threads = (int)threads;
    sp.n_batch = (uint32_t)n;
    slm_session *s = NULL;
    const float *logits = NULL;
    if (st == SLM_OK) {
        st = slm_session_create(m, &sp, &s);
        if (st == SLM_OK) st = slm_session_eval(s, ids, n, &logits);
        if (st != SLM_OK) rc = cli_fail(json, st, "%s", slm_error_detail());
    }
    if (st == SLM_OK) {
        if (top > n_vocab) top = n_vocab;
        struct scored *sc = malloc((size_t)n_vocab * sizeof *sc);
        cJSON *doc = cJSON_CreateObject(), *jids = cJSON_AddArrayToObject(doc, "ids");
        cJSON *jpos = cJSON_AddArrayToObject(doc, "positions");
        for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(jids, cJSON_CreateNumber(ids[i]));
        for (size_t i = 0; i < n; i++) {
            const float *l = logits + i * (size_t)n_vocab;
            for (int32_t v = 0; v < n_vocab; v++) sc[v] = (struct scored){v, l[v]};
            qsort(sc, (size_t)n_vocab, sizeof *sc, by_logit);
            cJSON *p = cJSON_CreateObject(), *tp = cJSON_AddArrayToObject(p, "top");
            for (long k = 0; k < top; k++) {
                cJSON *pair = cJSON_CreateArray();
                cJSON_AddItemToArray(pair, cJSON_CreateNumber(sc[k].id));
                cJSON_AddItemToArray(pair, cJSON_CreateNumber(sc[k].logit));
                cJSON_AddItemToArray(tp, pair);
            }
            cJSON_AddItemToArray(jpos, p);
        }
        free(sc);
        if (json) {
            cli_print_json(doc);
        } else {
            for (size_t i = 0; i < n; i++) {
                cJSON *tp = cJSON_GetObjectItem(cJSON_GetArrayItem(jpos, (int)i), "top");
                printf("%4zu id %-6d top:", i, ids[i]);
                for (int k = 0; k < cJSON_GetArraySize(tp) && k < 5; k++)
                    printf(" %d (%.4f)", cJSON_GetArrayItem(cJSON_GetArrayItem(tp, k), 0)->valueint,
                           cJSON_GetArrayItem(cJSON_GetArrayItem(tp, k), 1)->valuedouble);
                printf("\n");
            }
            cJSON_Delete(doc);
        }
    }
    slm_session_free(s);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    free(ids);
    return rc;
}
