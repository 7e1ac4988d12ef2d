/* Chat templates: recognising the model's Jinja template by its markers and rendering a
 * conversation in that format. One row per format says how each role is wrapped. */
#include "core/internal.h"
#include "slm/gen.h"

#include <stdio.h>
#include <string.h>

/* How a format renders: each message is prefix[role] + content + suffix[role]; the generation
 * prompt is `assistant_prompt`. Llama-2 does not fit this shape and is rendered by its own code. */
struct chat_row {
    const char *name;
    const char *marker;      /* substring of the Jinja template that identifies the format */
    const char *prefix[3];   /* system, user, assistant */
    const char *suffix[3];
    const char *assistant_prompt;
};

enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

static const struct chat_row rows[SLM_CHAT_FORMAT_COUNT] = {
    [SLM_CHAT_PLAIN] = {"plain", NULL, {"System: ", "User: ", "Assistant: "}, {"\n", "\n", "\n"},
                        "Assistant:"},
    [SLM_CHAT_CHATML] = {"chatml", "<|im_start|>",
                         {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
                         {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"},
                         "<|im_start|>assistant\n"},
    [SLM_CHAT_LLAMA2] = {"llama2", "[INST]", {NULL}, {NULL}, NULL},
    [SLM_CHAT_ZEPHYR] = {"zephyr", "<|user|>", {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
                         {"</s>\n", "</s>\n", "</s>\n"}, "<|assistant|>\n"},
    [SLM_CHAT_LLAMA3] = {"llama3", "<|start_header_id|>",
                         {"<|start_header_id|>system<|end_header_id|>\n\n",
                          "<|start_header_id|>user<|end_header_id|>\n\n",
                          "<|start_header_id|>assistant<|end_header_id|>\n\n"},
                         {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
                         "<|start_header_id|>assistant<|end_header_id|>\n\n"},
};

/* Checked in this order: Llama-3 templates also mention other markers in comments. */
static const slm_chat_format detect_order[] = {SLM_CHAT_LLAMA3, SLM_CHAT_CHATML, SLM_CHAT_ZEPHYR,
                                               SLM_CHAT_LLAMA2};

const char *slm_chat_format_name(slm_chat_format f) {
    return (unsigned)f < SLM_CHAT_FORMAT_COUNT ? rows[f].name : "?";
}

slm_status slm_chat_format_from_name(const char *name, slm_chat_format *out) {
    for (int f = 0; f < SLM_CHAT_FORMAT_COUNT; f++) {
        if (!strcmp(rows[f].name, name)) {
            *out = (slm_chat_format)f;
            return SLM_OK;
        }
    }
    return slm__error(SLM_E_INVALID_INPUT, "unknown chat format '%s' (plain, chatml, llama2, "
                      "zephyr, llama3)", name);
}

static const char *find_n(const char *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(hay + i, needle, n)) return hay + i;
    return NULL;
}

/* A ChatML template that injects a default system message spells it as a string literal:
 * '<|im_start|>system\nYou are ...<|im_end|>\n'. Template code ({{ ... }}) is not a literal. */
static char *chatml_default_system(const char *jinja, size_t len) {
    static const char open[] = "<|im_start|>system\\n", open_raw[] = "<|im_start|>system\n";
    const char *p = find_n(jinja, len, open);
    size_t olen = sizeof open - 1;
    if (!p) {
        p = find_n(jinja, len, open_raw);
        olen = sizeof open_raw - 1;
    }
    if (!p) return NULL;
    const char *start = p + olen, *end = jinja + len;
    const char *close = find_n(start, (size_t)(end - start), "<|im_end|>");
    if (!close || close == start) return NULL;
    for (const char *q = start; q < close; q++)
        if (*q == '{' || *q == '\'' || *q == '"' || *q == '+') return NULL; /* code, not text */
    /* Undo the Jinja string escapes the text may carry. */
    char *out = slm__malloc((size_t)(close - start) + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (const char *q = start; q < close; q++) {
        if (*q == '\\' && q + 1 < close) {
            q++;
            out[n++] = *q == 'n' ? '\n' : *q;
        } else {
            out[n++] = *q;
        }
    }
    out[n] = '\0';
    return out;
}

slm_status slm_chat_template_detect(const char *jinja, size_t len, struct slm_chat_template *out) {
    *out = (struct slm_chat_template){SLM_CHAT_PLAIN, NULL};
    if (!jinja) return SLM_OK;
    for (size_t i = 0; i < SLM_ARRAY_LEN(detect_order); i++) {
        slm_chat_format f = detect_order[i];
        if (find_n(jinja, len, rows[f].marker)) {
            out->format = f;
            break;
        }
    }
    if (out->format == SLM_CHAT_CHATML) out->default_system = chatml_default_system(jinja, len);
    return SLM_OK;
}

slm_status slm_chat_template_from_gguf(const slm_gguf *g, struct slm_chat_template *out) {
    struct slm_gguf_str s;
    slm_status st = slm_gguf_get_str(g, "tokenizer.chat_template", &s);
    if (st == SLM_E_NOT_FOUND) return slm_chat_template_detect(NULL, 0, out);
    if (st != SLM_OK) return st;
    return slm_chat_template_detect(s.ptr, (size_t)s.len, out);
}

void slm_chat_template_clear(struct slm_chat_template *t) {
    slm__free(t->default_system);
    t->default_system = NULL;
}

/* ---- rendering into a growing buffer ---- */
struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct sbuf *b, const char *s) {
    size_t n = strlen(s);
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *q = slm__realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n + 1);
    b->n += n;
}

static int role_of(const char *role) {
    if (!role) return -1;
    if (!strcmp(role, "system")) return ROLE_SYSTEM;
    if (!strcmp(role, "user")) return ROLE_USER;
    if (!strcmp(role, "assistant")) return ROLE_ASSISTANT;
    return -1;
}

/* [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
 * The first <s> is the tokenizer's BOS. */
static void render_llama2(struct sbuf *b, const char *system, const struct slm_chat_message *m,
                          size_t n) {
    bool first_user = true;
    for (size_t i = 0; i < n; i++) {
        int r = role_of(m[i].role);
        if (r == ROLE_SYSTEM) continue;
        if (r == ROLE_USER) {
            if (!first_user) put(b, "<s>");
            put(b, "[INST] ");
            if (first_user && system) put(b, "<<SYS>>\n"), put(b, system), put(b, "\n<</SYS>>\n\n");
            put(b, m[i].content);
            put(b, " [/INST]");
            first_user = false;
        } else {
            put(b, " ");
            put(b, m[i].content);
            put(b, " </s>");
        }
    }
}

slm_status slm_chat_apply(const struct slm_chat_template *t, const struct slm_chat_message *msgs,
                          size_t n_msgs, bool add_generation_prompt, char **out) {
    *out = NULL;
    if ((unsigned)t->format >= SLM_CHAT_FORMAT_COUNT)
        return slm__error(SLM_E_INVALID_ARG, "chat format %d", (int)t->format);
    const char *system = NULL;
    for (size_t i = 0; i < n_msgs; i++) {
        int r = role_of(msgs[i].role);
        if (r < 0 || !msgs[i].content)
            return slm__error(SLM_E_INVALID_INPUT, "message %zu: role must be system, user or "
                              "assistant, with content", i);
        if (r == ROLE_SYSTEM && !system) system = msgs[i].content;
    }
    struct sbuf b = {0};
    put(&b, "");
    const struct chat_row *row = &rows[t->format];
    if (t->format == SLM_CHAT_LLAMA2) {
        render_llama2(&b, system, msgs, n_msgs);
    } else {
        bool has_system = system != NULL;
        if (!has_system && t->default_system) {
            put(&b, row->prefix[ROLE_SYSTEM]), put(&b, t->default_system);
            put(&b, row->suffix[ROLE_SYSTEM]);
        }
        for (size_t i = 0; i < n_msgs; i++) {
            int r = role_of(msgs[i].role);
            put(&b, row->prefix[r]);
            put(&b, msgs[i].content);
            put(&b, row->suffix[r]);
        }
        if (add_generation_prompt) put(&b, row->assistant_prompt);
    }
    if (b.oom) {
        slm__free(b.p);
        return slm__error(SLM_E_NOMEM, "chat prompt");
    }
    *out = b.p;
    return SLM_OK;
}
