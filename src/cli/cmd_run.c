/* `slm run`: text generation from one prompt (as given, or through the model's chat template
 * with --chat), or an interactive chat on stdin that reuses the KV cache of the conversation so far
 * (only the new turn is evaluated). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_JSON, O_CHAT, O_SYSTEM, O_MAX, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_REP, O_SEED, O_STOP,
    O_IGNORE_EOS, O_THREADS, O_CTX, O_LOAD_TYPE, O_COUNT
};

struct run_opts {
    bool json, chat;
    const char *system;
    struct slm_generate_params gen;
    const char *stop;
    struct slm_session_params sess;
};

static int parse_opts(struct cli_opt *o, struct run_opts *r) {
    r->json = o[O_JSON].set;
    r->chat = o[O_CHAT].set;
    r->system = o[O_SYSTEM].value;
    r->gen = slm_generate_default_params();
    r->sess = slm_session_default_params();
    long max = r->gen.max_tokens, topk = r->gen.sampling.top_k, seed = 0, threads = 0, ctx = 0;
    if (!cli_opt_long(&o[O_MAX], -1, 1 << 20, &max) ||
        !cli_opt_float(&o[O_TEMP], 0, 100, &r->gen.sampling.temperature) ||
        !cli_opt_long(&o[O_TOPK], 0, 1 << 24, &topk) ||
        !cli_opt_float(&o[O_TOPP], 1e-6, 1, &r->gen.sampling.top_p) ||
        !cli_opt_float(&o[O_MINP], 0, 1, &r->gen.sampling.min_p) ||
        !cli_opt_float(&o[O_REP], 1e-3, 100, &r->gen.sampling.repeat_penalty) ||
        !cli_opt_long(&o[O_SEED], 0, 0x7fffffffL, &seed) ||
        !cli_opt_long(&o[O_THREADS], 1, 1024, &threads) || !cli_opt_long(&o[O_CTX], 1, 1 << 22, &ctx))
        return CLI_EXIT_USAGE;
    r->gen.max_tokens = (int32_t)max;
    r->gen.sampling.top_k = (int32_t)topk;
    r->gen.sampling.seed = (uint64_t)seed;
    r->gen.ignore_eos = o[O_IGNORE_EOS].set;
    r->stop = o[O_STOP].value;
    if (r->stop) {
        r->gen.stops = &r->stop;
        r->gen.n_stops = 1;
    }
    r->sess.n_threads = (int)threads;
    r->sess.n_ctx = (uint32_t)ctx;
    return 0;
}

static bool print_piece(void *user, int32_t token, const char *text, size_t len) {
    (void)user, (void)token;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

static cJSON *ids_json(const int32_t *ids, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
    return a;
}

static double per_s(size_t n, uint64_t ns) { return ns ? (double)n * 1e9 / (double)ns : 0.0; }

static cJSON *stats_json(size_t n_prompt, const struct slm_generate_result *r) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "prompt_tokens", (double)n_prompt);
    cJSON_AddNumberToObject(s, "generated_tokens", (double)r->n_ids);
    cJSON_AddNumberToObject(s, "prompt_ms", (double)r->prompt_ns / 1e6);
    cJSON_AddNumberToObject(s, "generation_ms", (double)r->gen_ns / 1e6);
    cJSON_AddNumberToObject(s, "prompt_tok_s", per_s(n_prompt, r->prompt_ns));
    cJSON_AddNumberToObject(s, "generation_tok_s", per_s(r->n_ids, r->gen_ns));
    cJSON_AddStringToObject(s, "stop_reason", slm_stop_reason_name(r->stop));
    return s;
}

/* Renders messages with the model's template and tokenizes the result with special tokens. */
static slm_status chat_tokens(const slm_model *m, const slm_tokenizer *tok,
                              const struct slm_chat_message *msgs, size_t n, int32_t **ids,
                              size_t *n_ids) {
    struct slm_chat_template tpl;
    slm_status st = slm_chat_template_from_gguf(slm_model_get_gguf(m), &tpl);
    if (st != SLM_OK) return st;
    char *text = NULL;
    st = slm_chat_apply(&tpl, msgs, n, true, &text);
    slm_chat_template_clear(&tpl);
    if (st != SLM_OK) return st;
    st = slm_tokenize(tok, text, strlen(text), SLM_TOKENIZE_ADD_SPECIAL | SLM_TOKENIZE_PARSE_SPECIAL,
                      ids, n_ids);
    slm_free(text);
    return st;
}

static int run_once(const char *path, const char *prompt, const struct run_opts *r,
                    slm_model *m, slm_tokenizer *tok) {
    int32_t *ids = NULL;
    size_t n_ids = 0;
    slm_status st;
    if (r->chat) {
        struct slm_chat_message msgs[2];
        size_t n = 0;
        if (r->system) msgs[n++] = (struct slm_chat_message){"system", r->system};
        msgs[n++] = (struct slm_chat_message){"user", prompt};
        st = chat_tokens(m, tok, msgs, n, &ids, &n_ids);
    } else {
        st = slm_tokenize(tok, prompt, strlen(prompt), SLM_TOKENIZE_ADD_SPECIAL, &ids, &n_ids);
    }
    if (st != SLM_OK) return cli_fail(r->json, st, "%s", slm_error_detail());
    if (n_ids == 0) return cli_fail(r->json, SLM_E_INVALID_INPUT, "the prompt has no tokens");
    slm_session *s = NULL;
    st = slm_session_create(m, &r->sess, &s);
    struct slm_generate_result res;
    if (st == SLM_OK)
        st = slm_generate(s, tok, ids, n_ids, &r->gen, r->json ? NULL : print_piece, NULL, &res);
    slm_session_free(s);
    if (st != SLM_OK) {
        slm_free(ids);
        return cli_fail(r->json, st, "%s", slm_error_detail());
    }
    if (r->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "model", path);
        cJSON_AddItemToObject(doc, "prompt_ids", ids_json(ids, n_ids));
        cJSON_AddItemToObject(doc, "ids", ids_json(res.ids, res.n_ids));
        cJSON_AddStringToObject(doc, "text", res.text);
        cJSON_AddItemToObject(doc, "stats", stats_json(n_ids, &res));
        cli_print_json(doc);
    } else {
        printf("\n");
        fprintf(stderr, "[%zu prompt tokens %.1f tok/s, %zu generated %.1f tok/s, stop: %s]\n", n_ids,
                per_s(n_ids, res.prompt_ns), res.n_ids, per_s(res.n_ids, res.gen_ns),
                slm_stop_reason_name(res.stop));
    }
    slm_generate_result_clear(&res);
    slm_free(ids);
    return 0;
}

/* ---- interactive chat ---- */

struct conversation {
    struct slm_chat_message *msgs;
    char **owned; /* contents we allocated */
    size_t n, cap;
    int32_t *ctx;  /* tokens in the session's context, in order */
    size_t n_ctx, cap_ctx;
};

static bool conv_add(struct conversation *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct slm_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        char **o = realloc(c->owned, cap * sizeof *o);
        if (!m || !o) {
            free(m ? m : c->msgs);
            return false;
        }
        c->msgs = m, c->owned = o, c->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy) return false;
    c->owned[c->n] = copy;
    c->msgs[c->n++] = (struct slm_chat_message){role, copy};
    return true;
}

static bool ctx_push(struct conversation *c, const int32_t *ids, size_t n) {
    if (c->n_ctx + n > c->cap_ctx) {
        size_t cap = (c->n_ctx + n) * 2;
        int32_t *p = realloc(c->ctx, cap * sizeof *p);
        if (!p) return false;
        c->ctx = p, c->cap_ctx = cap;
    }
    memcpy(c->ctx + c->n_ctx, ids, n * sizeof *ids);
    c->n_ctx += n;
    return true;
}

static void conv_free(struct conversation *c) {
    for (size_t i = 0; i < c->n; i++) free(c->owned[i]);
    free(c->msgs), free(c->owned), free(c->ctx);
}

static int run_interactive(const struct run_opts *r, slm_model *m, slm_tokenizer *tok) {
    slm_session *s = NULL;
    slm_status st = slm_session_create(m, &r->sess, &s);
    if (st != SLM_OK) return cli_fail(false, st, "%s", slm_error_detail());
    struct conversation c = {0};
    if (r->system && !conv_add(&c, "system", r->system)) st = SLM_E_NOMEM;
    fprintf(stderr, "chat with the model; an empty line or end of input ends it\n");
    char line[8192];
    while (st == SLM_OK) {
        fprintf(stderr, "> ");
        if (!fgets(line, sizeof line, stdin)) break;
        line[strcspn(line, "\n")] = '\0';
        if (!line[0]) break;
        if (!conv_add(&c, "user", line)) {
            st = SLM_E_NOMEM;
            break;
        }
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if ((st = chat_tokens(m, tok, c.msgs, c.n, &ids, &n_ids)) != SLM_OK) break;
        /* Reuse what the context already holds; evaluate only what differs. */
        size_t keep = 0;
        while (keep < c.n_ctx && keep < n_ids && c.ctx[keep] == ids[keep]) keep++;
        if (keep == n_ids) keep--; /* at least one token must be evaluated for fresh logits */
        slm_session_rewind(s, (uint32_t)keep);
        c.n_ctx = keep;
        struct slm_generate_result res;
        st = slm_generate(s, tok, ids + keep, n_ids - keep, &r->gen, print_piece, NULL, &res);
        if (st == SLM_OK) {
            printf("\n");
            bool ok = ctx_push(&c, ids + keep, n_ids - keep) &&
                      ctx_push(&c, res.ids, res.n_ids) && conv_add(&c, "assistant", res.text);
            c.n_ctx = slm_session_n_past(s) < c.n_ctx ? slm_session_n_past(s) : c.n_ctx;
            if (!ok) st = SLM_E_NOMEM;
            if (res.stop == SLM_STOP_CONTEXT) fprintf(stderr, "[the context window is full]\n");
            slm_generate_result_clear(&res);
        }
        slm_free(ids);
    }
    conv_free(&c);
    slm_session_free(s);
    if (st != SLM_OK) return cli_fail(false, st, "%s", slm_error_detail());
    return 0;
}

int cmd_run(int argc, char **argv) {
    struct cli_opt o[O_COUNT] = {
        [O_JSON] = {"--json", false, false, NULL},         [O_CHAT] = {"--chat", false, false, NULL},
        [O_SYSTEM] = {"--system", true, false, NULL},      [O_MAX] = {"--max-tokens", true, false, NULL},
        [O_TEMP] = {"--temperature", true, false, NULL},   [O_TOPK] = {"--top-k", true, false, NULL},
        [O_TOPP] = {"--top-p", true, false, NULL},         [O_MINP] = {"--min-p", true, false, NULL},
        [O_REP] = {"--repeat-penalty", true, false, NULL}, [O_SEED] = {"--seed", true, false, NULL},
        [O_STOP] = {"--stop", true, false, NULL},          [O_IGNORE_EOS] = {"--ignore-eos", false, false, NULL},
        [O_THREADS] = {"--threads", true, false, NULL},    [O_CTX] = {"--ctx", true, false, NULL},
        [O_LOAD_TYPE] = {"--load-type", true, false, NULL},
    };
    const char *pos[2];
    int n_pos;
    int rc = cli_parse(argc, argv, o, O_COUNT, pos, 2, &n_pos);
    if (rc) return rc;
    if (n_pos < 1) {
        fprintf(stderr, "usage: slm run MODEL [PROMPT] [options] (slm --help lists them)\n");
        return CLI_EXIT_USAGE;
    }
    struct run_opts r;
    if ((rc = parse_opts(o, &r))) return rc;
    if (n_pos == 1 && r.json)
        return cli_fail(true, SLM_E_INVALID_ARG, "--json needs a PROMPT (interactive chat has no "
                        "JSON form)");
    struct slm_model_params mp = slm_model_default_params();
    mp.n_threads = r.sess.n_threads;
    if (!cli_opt_load_type(&o[O_LOAD_TYPE], r.json, &mp)) return CLI_EXIT_USAGE;
    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    if ((rc = cli_load_model(pos[0], r.json, &mp, &m, &tok))) return rc;
    rc = n_pos == 2 ? run_once(pos[0], pos[1], &r, m, tok) : run_interactive(&r, m, tok);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    return rc;
}
