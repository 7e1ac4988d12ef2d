/* The tokenizer part of `slm convert`: tokenizer.json through the tokenizer layer (loaded, then
 * written back as tokenizer.ggml.* keys by slm_tokenizer_write_gguf), then what a Hugging Face
 * folder says beside it, as llama.cpp's converter takes it: special tokens named in
 * tokenizer_config.json (or their ids in config.json), its add_bos/add_eos flags and chat template,
 * and unused "[PAD<id>]" tokens for embedding rows past the vocabulary. */
#include "core/internal.h"
#include "slm/convert.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { TT_UNUSED = 5 };

static const struct {
    const char *config_key; /* in tokenizer_config.json */
    const char *gguf_key;
} special_keys[] = {
    {"bos_token", "tokenizer.ggml.bos_token_id"},
    {"eos_token", "tokenizer.ggml.eos_token_id"},
    {"unk_token", "tokenizer.ggml.unknown_token_id"},
    {"sep_token", "tokenizer.ggml.seperator_token_id"},
    {"pad_token", "tokenizer.ggml.padding_token_id"},
    {"cls_token", "tokenizer.ggml.cls_token_id"},
    {"mask_token", "tokenizer.ggml.mask_token_id"},
};

static cJSON *read_json(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    slm_mapping m;
    if (slm__map_file(path, &m) != SLM_OK) {
        slm_error_clear();
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(m.data ? (const char *)m.data : "", (size_t)m.size);
    slm__unmap(&m);
    return j;
}

static int32_t find_token(const slm_tokenizer *t, const char *text) {
    size_t n = strlen(text), len;
    for (int32_t i = 0; i < slm_tokenizer_n_vocab(t); i++) {
        const char *s = slm_tokenizer_token_text(t, i, &len);
        if (len == n && !memcmp(s, text, n)) return i;
    }
    return -1;
}

/* Special tokens, flags and the chat template from tokenizer_config.json and config.json. */
static slm_status overlay_config(const char *dir, const slm_tokenizer *t, slm_gguf_writer *w) {
    cJSON *tcfg = read_json(dir, "tokenizer_config.json"), *cfg = read_json(dir, "config.json");
    slm_status st = SLM_OK;
    for (size_t k = 0; k < SLM_ARRAY_LEN(special_keys) && st == SLM_OK; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tcfg, special_keys[k].config_key);
        if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
        int32_t id = cJSON_IsString(v) ? find_token(t, v->valuestring) : -1;
        if (id < 0 && k < 2) { /* bos / eos: config.json has ids (a list for several eos) */
            const cJSON *c =
                cJSON_GetObjectItemCaseSensitive(cfg, k ? "eos_token_id" : "bos_token_id");
            if (cJSON_IsArray(c)) c = cJSON_GetArrayItem(c, 0);
            if (cJSON_IsNumber(c) && c->valuedouble >= 0 &&
                c->valuedouble < slm_tokenizer_n_vocab(t) &&
                c->valuedouble == floor(c->valuedouble))
                id = (int32_t)c->valuedouble;
        }
        if (id >= 0 && slm_tokenizer_get_kind(t) == SLM_TOKENIZER_WPM && k < 2) id = -1;
        if (id >= 0) st = slm_gguf_writer_set_u32(w, special_keys[k].gguf_key, (uint32_t)id);
    }
    static const char *const flags[][2] = {{"add_bos_token", "tokenizer.ggml.add_bos_token"},
                                           {"add_eos_token", "tokenizer.ggml.add_eos_token"}};
    for (size_t k = 0; k < 2 && st == SLM_OK && slm_tokenizer_get_kind(t) != SLM_TOKENIZER_WPM;
         k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tcfg, flags[k][0]);
        if (cJSON_IsBool(v)) st = slm_gguf_writer_set_bool(w, flags[k][1], cJSON_IsTrue(v));
    }
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(tcfg, "chat_template");
    if (cJSON_IsArray(tpl)) { /* named templates: the default one */
        const cJSON *e, *found = NULL;
        cJSON_ArrayForEach(e, tpl) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
            if (cJSON_IsString(name) && !strcmp(name->valuestring, "default")) found = e;
        }
        tpl = cJSON_GetObjectItemCaseSensitive(found, "template");
    }
    if (st == SLM_OK && cJSON_IsString(tpl))
        st = slm_gguf_writer_set_str(w, "tokenizer.chat_template", tpl->valuestring);
    cJSON_Delete(tcfg);
    cJSON_Delete(cfg);
    return st;
}

/* Re-writes tokens / token types / scores with n_vocab - n unused "[PAD<id>]" tokens appended. */
static slm_status pad_vocab(const slm_tokenizer *t, int32_t n_vocab, slm_gguf_writer *w) {
    int32_t n = slm_tokenizer_n_vocab(t);
    slm_gguf_writer *tw = NULL;
    void *mem = NULL;
    size_t size;
    slm_gguf *g = NULL;
    char **tok = slm__calloc((size_t)n_vocab, sizeof *tok);
    int32_t *types = slm__malloc((size_t)n_vocab * sizeof *types);
    float *scores = slm__malloc((size_t)n_vocab * sizeof *scores);
    slm_status st = tok && types && scores ? SLM_OK : slm__error(SLM_E_NOMEM, "vocabulary");
    if (st == SLM_OK) st = slm_gguf_writer_create(&tw);
    if (st == SLM_OK) st = slm_tokenizer_write_gguf(t, tw);
    if (st == SLM_OK) st = slm_gguf_writer_write_memory(tw, &mem, &size);
    if (st == SLM_OK) st = slm_gguf_open_memory(mem, size, NULL, &g);
    struct slm_gguf_array ty, sc;
    bool has_scores = g && slm_gguf_get_arr(g, "tokenizer.ggml.scores", &sc) == SLM_OK;
    if (st == SLM_OK) st = slm_gguf_get_arr(g, "tokenizer.ggml.token_type", &ty);
    for (int32_t i = 0; i < n_vocab && st == SLM_OK; i++) {
        char buf[32];
        size_t len;
        const char *s = i < n ? slm_tokenizer_token_text(t, i, &len) : buf;
        if (i >= n) len = (size_t)snprintf(buf, sizeof buf, "[PAD%d]", i);
        if (!(tok[i] = slm__strndup(s, len))) st = slm__error(SLM_E_NOMEM, "vocabulary");
        types[i] = i < n ? (int32_t)slm_gguf_arr_i64(&ty, (uint64_t)i) : TT_UNUSED;
        scores[i] = i < n && has_scores ? (float)slm_gguf_arr_f64(&sc, (uint64_t)i) : -1000.0f;
    }
    if (st == SLM_OK)
        st = slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok,
                                         (uint64_t)n_vocab);
    if (st == SLM_OK)
        st = slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_INT32, types,
                                     (uint64_t)n_vocab);
    if (st == SLM_OK && has_scores)
        st = slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, scores,
                                     (uint64_t)n_vocab);
    for (int32_t i = 0; tok && i < n_vocab; i++) slm__free(tok[i]);
    slm__free(tok);
    slm__free(types);
    slm__free(scores);
    slm_gguf_close(g);
    slm_free(mem);
    slm_gguf_writer_free(tw);
    return st;
}

slm_status slm_convert_tokenizer_hf(const char *dir, int32_t n_vocab, slm_gguf_writer *w,
                                    slm_tokenizer_kind *kind) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    slm_tokenizer *t;
    slm_status st = slm_tokenizer_load_hf_json(path, &t);
    if (st != SLM_OK) return st;
    int32_t n = slm_tokenizer_n_vocab(t);
    if (n_vocab > 0 && n > n_vocab)
        st = slm__error(SLM_E_INVALID_MODEL,
                        "tokenizer.json has %d tokens, the model's embedding "
                        "only %d",
                        n, n_vocab);
    if (st == SLM_OK) st = slm_tokenizer_write_gguf(t, w);
    if (st == SLM_OK && n_vocab > n) st = pad_vocab(t, n_vocab, w);
    if (st == SLM_OK) st = overlay_config(dir, t, w);
    if (st == SLM_OK && kind) *kind = slm_tokenizer_get_kind(t);
    slm_tokenizer_free(t);
    return st;
}
