/* Tokenizer metadata for `slm convert`: a Hugging Face tokenizer.json (with tokenizer_config.json
 * and config.json for special tokens, flags and the chat template) written as the tokenizer.ggml.*
 * keys llama.cpp's converter writes, so a converted model tokenizes as one converted there:
 * SentencePiece-style BPE as "llama" (scores from merge ranks), byte-level BPE as "gpt2" (merges
 * and the pre-tokenizer recognised by its structure) and WordPiece as "bert" (▁-prefixed words). */
#include "core/internal.h"
#include "slm/convert.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCAB (1 << 24)

/* GGUF token types. */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* Byte-level BPE pre-tokenizers as tokenizer.json spells them, and the tokenizer.ggml.pre name
 * of each. A chain is a sequence of steps: "B1"/"B0" ByteLevel with/without its regex, "D1"/"D0"
 * Digits with/without individual_digits, or the regex of an Isolated Split. */
static const struct {
    const char *pre;
    const char *chain[3];
} pre_chains[] = {
    {"gpt-2", {"B1"}},
    {"smollm", {"D1", "B1"}},
    {"qwen2",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      "B0"}},
    {"llama3",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      "B0"}},
};

static const char *const role_keys[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
static const char *const gguf_role_keys[] = {
    "tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.padding_token_id", "tokenizer.ggml.cls_token_id",
    "tokenizer.ggml.mask_token_id",
};
enum { R_BOS, R_EOS, R_UNK, R_SEP, R_PAD, R_CLS, R_MASK, R_COUNT };

struct vocab {
    slm_tokenizer_kind kind;
    int32_t n;
    const char **text; /* per id, borrowed from the JSON */
    char **owned;      /* per id, texts rewritten here (WordPiece) */
    bool *added, *special;
    float *score;
    int32_t *type;
    int32_t id[R_COUNT];
    const cJSON *root, *model, *tcfg, *cfg;
    char **merges;
    int64_t n_merges;
    int32_t pad_from; /* ids from here on are padding (0: none) */
    int32_t *index;   /* text -> id hash table */
    uint64_t index_mask;
};

static slm_status read_json(const char *dir, const char *name, bool required, cJSON **out) {
    *out = NULL;
    size_t l = strlen(dir) + strlen(name) + 2;
    char *path = slm__malloc(l);
    if (!path) return slm__error(SLM_E_NOMEM, "%s", name);
    snprintf(path, l, "%s/%s", dir, name);
    slm_mapping m;
    slm_status st = slm__map_file(path, &m);
    if (st == SLM_E_NOT_FOUND && !required) {
        slm__free(path);
        return SLM_OK;
    }
    if (st == SLM_OK) {
        *out = cJSON_ParseWithLength(m.data ? (const char *)m.data : "", (size_t)m.size);
        slm__unmap(&m);
        if (!cJSON_IsObject(*out)) {
            cJSON_Delete(*out);
            *out = NULL;
            st = slm__error(SLM_E_INVALID_MODEL, "%s: not a JSON object", path);
        }
    }
    slm__free(path);
    return st;
}

static bool is_str(const cJSON *o, const char *key, const char *value) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && !strcmp(v->valuestring, value);
}

static int32_t json_id(const cJSON *v) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble >= MAX_VOCAB ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    return (int32_t)v->valuedouble;
}

static uint64_t hash_text(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* text -> id, open addressing; the last id wins for a duplicated text. */
static slm_status build_index(struct vocab *v) {
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)v->n) cap *= 2;
    v->index = slm__malloc(cap * sizeof *v->index);
    if (!v->index) return slm__error(SLM_E_NOMEM, "tokenizer.json");
    memset(v->index, 0xff, cap * sizeof *v->index);
    v->index_mask = cap - 1;
    for (int32_t i = 0; i < v->n; i++) {
        uint64_t h = hash_text(v->text[i]) & v->index_mask;
        while (v->index[h] >= 0 && strcmp(v->text[v->index[h]], v->text[i]))
            h = (h + 1) & v->index_mask;
        v->index[h] = i;
    }
    return SLM_OK;
}

static int32_t find_text(const struct vocab *v, const char *s) {
    for (uint64_t h = hash_text(s) & v->index_mask;; h = (h + 1) & v->index_mask) {
        if (v->index[h] < 0) return -1;
        if (!strcmp(v->text[v->index[h]], s)) return v->index[h];
    }
}

/* A tokenizer_config.json token: a string or {"content": ...}. */
static const char *config_token(const cJSON *tcfg, const char *key) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(tcfg, key);
    if (cJSON_IsObject(t)) t = cJSON_GetObjectItemCaseSensitive(t, "content");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static slm_status load_vocab(struct vocab *v, int32_t n_min) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(v->model, "vocab");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(v->root, "added_tokens");
    if (!cJSON_IsObject(vocab))
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: model.vocab is not an object");
    if (added && !cJSON_IsArray(added))
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: added_tokens is not an array");
    const cJSON *e;
    int32_t n = 0;
    cJSON_ArrayForEach(e, vocab) {
        int32_t id = json_id(e);
        if (id < 0)
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: bad id of '%s'", e->string);
        n = SLM_MAX(n, id + 1);
    }
    cJSON_ArrayForEach(e, added) {
        int32_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        if (id < 0 || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "content")))
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: bad added token");
        n = SLM_MAX(n, id + 1);
    }
    if (n == 0) return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: empty vocabulary");
    if (n_min > 0 && n > n_min)
        return slm__error(SLM_E_INVALID_MODEL,
                          "tokenizer.json has %d tokens, the model's "
                          "embedding only %d",
                          n, n_min);
    int32_t n_tok = n;
    n = SLM_MAX(n, n_min);
    v->n = n;
    v->text = slm__calloc((size_t)n, sizeof *v->text);
    v->owned = slm__calloc((size_t)n, sizeof *v->owned);
    v->added = slm__calloc((size_t)n, sizeof *v->added);
    v->special = slm__calloc((size_t)n, sizeof *v->special);
    v->score = slm__calloc((size_t)n, sizeof *v->score);
    v->type = slm__calloc((size_t)n, sizeof *v->type);
    if (!v->text || !v->owned || !v->added || !v->special || !v->score || !v->type)
        return slm__error(SLM_E_NOMEM, "tokenizer.json");
    cJSON_ArrayForEach(e, vocab) {
        int32_t id = json_id(e);
        if (v->text[id])
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: id %d used twice", id);
        v->text[id] = e->string;
    }
    cJSON_ArrayForEach(e, added) {
        int32_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        const char *c = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
        if (v->text[id] && strcmp(v->text[id], c))
            return slm__error(SLM_E_INVALID_MODEL,
                              "tokenizer.json: added token %d differs from "
                              "the vocabulary",
                              id);
        v->text[id] = c;
        v->added[id] = true;
        v->special[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special"));
    }
    for (int32_t i = 0; i < n_tok; i++)
        if (!v->text[i])
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: no token has id %d", i);
    for (int32_t i = n_tok; i < n;
         i++) { /* padding rows of the embedding, as llama.cpp names them */
        char buf[32];
        snprintf(buf, sizeof buf, "[PAD%d]", i);
        if (!(v->owned[i] = slm__strdup(buf))) return slm__error(SLM_E_NOMEM, "tokenizer.json");
        v->text[i] = v->owned[i];
        v->pad_from = n_tok;
    }
    return SLM_OK;
}

/* Merges as "left right" strings (both spellings of tokenizer.json accepted). */
static slm_status load_merges(struct vocab *v) {
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(v->model, "merges");
    if (!cJSON_IsArray(merges))
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: BPE without merges");
    int n = cJSON_GetArraySize(merges);
    v->merges = slm__calloc((size_t)n + 1, sizeof *v->merges);
    if (!v->merges) return slm__error(SLM_E_NOMEM, "tokenizer.json");
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        const cJSON *a = cJSON_GetArrayItem(m, 0), *b = cJSON_GetArrayItem(m, 1);
        char *s = NULL;
        if (cJSON_IsString(m) && strchr(m->valuestring, ' ')) {
            s = slm__strdup(m->valuestring);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(a) &&
                   cJSON_IsString(b)) {
            size_t l = strlen(a->valuestring) + strlen(b->valuestring) + 2;
            if ((s = slm__malloc(l))) snprintf(s, l, "%s %s", a->valuestring, b->valuestring);
        } else {
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: merge %lld is malformed",
                              (long long)v->n_merges);
        }
        if (!s) return slm__error(SLM_E_NOMEM, "tokenizer.json");
        v->merges[v->n_merges++] = s;
    }
    return SLM_OK;
}

/* Scores that make the SentencePiece encoder apply merges in rank order: a token made by merge r
 * scores -r; other pieces come after every merge, in id order; added tokens score 0. */
static void spm_scores(struct vocab *v) {
    for (int32_t i = 0; i < v->n; i++) v->score[i] = v->added[i] ? 0.0f : -(float)(v->n_merges + i);
    for (int64_t r = v->n_merges - 1; r >= 0; r--) { /* the first merge making a token wins */
        char *m = v->merges[r], *sp = strchr(m, ' ');
        memmove(sp, sp + 1, strlen(sp)); /* "a b" -> "ab" for the lookup, then back */
        int32_t id = find_text(v, m);
        memmove(sp + 1, sp, strlen(sp) + 1);
        *sp = ' ';
        if (id >= 0 && !v->added[id]) v->score[id] = -(float)r;
    }
}

static bool is_byte_token(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    return strlen(s) == 6 && !strncmp(s, "<0x", 3) && s[5] == '>' && strchr(hex, s[3]) &&
           strchr(hex, s[4]);
}

static void token_types(struct vocab *v, bool byte_fallback) {
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(v->model, "unk_token");
    for (int32_t i = 0; i < v->n; i++) {
        if (v->pad_from && i >= v->pad_from)
            v->type[i] = TT_UNUSED;
        else if (v->added[i])
            v->type[i] = v->special[i] ? TT_CONTROL : TT_USER;
        else if (byte_fallback && is_byte_token(v->text[i]))
            v->type[i] = TT_BYTE;
        else if (cJSON_IsString(unk) && !strcmp(unk->valuestring, v->text[i]))
            v->type[i] = TT_UNKNOWN;
        else
            v->type[i] = TT_NORMAL;
    }
}

/* WordPiece texts in the form GGUF vocabularies use: "##x" -> "x", "[X]" kept, else "▁word". */
static slm_status wpm_texts(struct vocab *v) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(v->model, "continuing_subword_prefix");
    const char *prefix = cJSON_IsString(p) ? p->valuestring : "##";
    size_t pl = strlen(prefix);
    for (int32_t i = 0; i < v->n; i++) {
        const char *s = v->text[i];
        size_t l = strlen(s);
        if (l >= 2 && s[0] == '[' && s[l - 1] == ']') continue;
        if (pl && !strncmp(s, prefix, pl)) {
            v->text[i] = s + pl;
            continue;
        }
        if (!(v->owned[i] = slm__malloc(l + 4))) return slm__error(SLM_E_NOMEM, "tokenizer.json");
        memcpy(v->owned[i], "\xe2\x96\x81", 3);
        memcpy(v->owned[i] + 3, s, l + 1);
        v->text[i] = v->owned[i];
    }
    return SLM_OK;
}

/* One step of a tokenizer.json pre-tokenizer chain in the spelling of pre_chains. */
static const char *chain_step(const cJSON *p) {
    if (is_str(p, "type", "ByteLevel"))
        return cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p, "use_regex")) ? "B0" : "B1";
    if (is_str(p, "type", "Digits"))
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "individual_digits")) ? "D1" : "D0";
    if (is_str(p, "type", "Split") && is_str(p, "behavior", "Isolated") &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "invert"))) {
        const cJSON *rx = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(p, "pattern"), "Regex");
        return cJSON_IsString(rx) ? rx->valuestring : NULL;
    }
    return NULL;
}

static slm_status bpe_pre_name(const cJSON *root, const char **out) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const char *steps[4] = {0};
    int n = 0;
    if (is_str(pre, "type", "Sequence")) {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers")) {
            if (n == 3 || !(steps[n++] = chain_step(p))) {
                n = -1;
                break;
            }
        }
    } else if (cJSON_IsObject(pre)) {
        n = (steps[0] = chain_step(pre)) ? 1 : -1;
    }
    for (size_t k = 0; k < SLM_ARRAY_LEN(pre_chains) && n > 0; k++) {
        int i = 0;
        while (i < n && pre_chains[k].chain[i] && !strcmp(pre_chains[k].chain[i], steps[i])) i++;
        if (i == n && (n == 3 || !pre_chains[k].chain[n])) {
            *out = pre_chains[k].pre;
            return SLM_OK;
        }
    }
    return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: the byte-level pre-tokenizer is not one "
                                         "slm knows (gpt-2, smollm, qwen2, llama3)");
}

/* Whether the SentencePiece-style normalizer or pre-tokenizer prepends ▁ to the text. */
static void spm_prefix(const cJSON *root, bool *prefix) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    *prefix = false;
    const cJSON *list = is_str(norm, "type", "Sequence")
                            ? cJSON_GetObjectItemCaseSensitive(norm, "normalizers")
                            : NULL;
    const cJSON *n;
    cJSON_ArrayForEach(n, list) {
        if (is_str(n, "type", "Prepend") && is_str(n, "prepend", "\xe2\x96\x81")) *prefix = true;
    }
    if (is_str(norm, "type", "Prepend")) *prefix = true;
    if (is_str(pre, "type", "Metaspace"))
        *prefix = !is_str(pre, "prepend_scheme", "never") &&
                  !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space"));
}

/* The special ids: tokenizer_config.json names them, config.json gives bos/eos ids, WordPiece
 * post-processors give [CLS]/[SEP]. */
static void special_ids(struct vocab *v) {
    for (int r = 0; r < R_COUNT; r++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token", role_keys[r]);
        const char *text = config_token(v->tcfg, key);
        v->id[r] = text ? find_text(v, text) : -1;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(v->model, "unk_token");
    if (v->id[R_UNK] < 0 && cJSON_IsString(unk)) v->id[R_UNK] = find_text(v, unk->valuestring);
    static const char *const cfg_keys[] = {"bos_token_id", "eos_token_id"};
    for (int r = R_BOS; r <= R_EOS; r++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v->cfg, cfg_keys[r]);
        if (cJSON_IsArray(c)) c = cJSON_GetArrayItem(c, 0);
        int32_t id = json_id(c);
        if (v->id[r] < 0 && id >= 0 && id < v->n) v->id[r] = id;
    }
    if (v->kind == SLM_TOKENIZER_WPM) {
        static const char *const names[R_COUNT] = {[R_UNK] = "[UNK]",
                                                   [R_SEP] = "[SEP]",
                                                   [R_PAD] = "[PAD]",
                                                   [R_CLS] = "[CLS]",
                                                   [R_MASK] = "[MASK]"};
        for (int r = R_UNK; r < R_COUNT; r++)
            if (v->id[r] < 0 && names[r]) v->id[r] = find_text(v, names[r]);
    }
}

/* add_bos / add_eos: tokenizer_config.json flags, else the post-processor's template. */
static void add_flags(const struct vocab *v, int *add_bos, int *add_eos) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(v->tcfg, "add_bos_token");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(v->tcfg, "add_eos_token");
    *add_bos = cJSON_IsBool(b) ? cJSON_IsTrue(b) : -1;
    *add_eos = cJSON_IsBool(e) ? cJSON_IsTrue(e) : -1;
    const cJSON *post = cJSON_GetObjectItemCaseSensitive(v->root, "post_processor");
    if (!is_str(post, "type", "TemplateProcessing")) return;
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(post, "single");
    int n = cJSON_GetArraySize(single);
    if (*add_bos < 0 && n > 0)
        *add_bos =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(single, 0), "SpecialToken") != NULL;
    if (*add_eos < 0 && n > 1)
        *add_eos = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(single, n - 1),
                                                    "SpecialToken") != NULL;
}

static slm_status classify(struct vocab *v) {
    const cJSON *root = v->root, *m = v->model;
    if (is_str(m, "type", "WordPiece")) {
        v->kind = SLM_TOKENIZER_WPM;
        return SLM_OK;
    }
    if (!is_str(m, "type", "BPE"))
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: model type is not BPE or WordPiece");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    bool spm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "byte_fallback")) ||
               is_str(pre, "type", "Metaspace") ||
               (cJSON_IsObject(norm) && !is_str(norm, "type", "NFC"));
    v->kind = spm ? SLM_TOKENIZER_SPM : SLM_TOKENIZER_BPE;
    return SLM_OK;
}

static slm_status write_all(struct vocab *v, slm_gguf_writer *w) {
    static const char *const model_names[] = {
        [SLM_TOKENIZER_SPM] = "llama", [SLM_TOKENIZER_BPE] = "gpt2", [SLM_TOKENIZER_WPM] = "bert"};
    slm_status st;
    const char *pre = "default";
    bool prefix = true;
    if (v->kind != SLM_TOKENIZER_WPM && (st = load_merges(v)) != SLM_OK) return st;
    if (v->kind == SLM_TOKENIZER_BPE && (st = bpe_pre_name(v->root, &pre)) != SLM_OK) return st;
    if (v->kind == SLM_TOKENIZER_SPM) {
        spm_prefix(v->root, &prefix);
        spm_scores(v);
    }
    special_ids(v); /* before WordPiece texts change */
    token_types(v, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v->model, "byte_fallback")));
    if (v->kind == SLM_TOKENIZER_WPM && (st = wpm_texts(v)) != SLM_OK) return st;
    if ((st = slm_gguf_writer_set_str(w, "tokenizer.ggml.model", model_names[v->kind])) ||
        (v->kind != SLM_TOKENIZER_WPM &&
         (st = slm_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre))) ||
        (st = slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v->text, (uint64_t)v->n)) ||
        (v->kind == SLM_TOKENIZER_SPM &&
         (st = slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, v->score,
                                       (uint64_t)v->n))) ||
        (st = slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_INT32, v->type,
                                      (uint64_t)v->n)) ||
        (v->kind == SLM_TOKENIZER_BPE &&
         (st = slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges",
                                           (const char *const *)v->merges, (uint64_t)v->n_merges))))
        return st;
    for (int r = 0; r < R_COUNT; r++)
        if (v->id[r] >= 0 &&
            (st = slm_gguf_writer_set_u32(w, gguf_role_keys[r], (uint32_t)v->id[r])))
            return st;
    int add_bos, add_eos;
    add_flags(v, &add_bos, &add_eos);
    if (v->kind != SLM_TOKENIZER_WPM) {
        if ((add_bos >= 0 &&
             (st = slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos))) ||
            (add_eos >= 0 &&
             (st = slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", add_eos))))
            return st;
    }
    if (v->kind == SLM_TOKENIZER_SPM && !prefix &&
        (st = slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", false)))
        return st;
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(v->tcfg, "chat_template");
    if (cJSON_IsArray(tpl)) { /* named templates: the default one */
        const cJSON *t, *found = NULL;
        cJSON_ArrayForEach(t, tpl) if (is_str(t, "name", "default")) found = t;
        tpl = cJSON_GetObjectItemCaseSensitive(found, "template");
    }
    if (cJSON_IsString(tpl) &&
        (st = slm_gguf_writer_set_str(w, "tokenizer.chat_template", tpl->valuestring)))
        return st;
    return SLM_OK;
}

slm_status slm_convert_tokenizer_hf(const char *dir, int32_t n_vocab, slm_gguf_writer *w,
                                    slm_tokenizer_kind *kind) {
    struct vocab v = {0};
    cJSON *root = NULL, *tcfg = NULL, *cfg = NULL;
    slm_status st = read_json(dir, "tokenizer.json", true, &root);
    if (st == SLM_OK) st = read_json(dir, "tokenizer_config.json", false, &tcfg);
    if (st == SLM_OK) st = read_json(dir, "config.json", false, &cfg);
    v.root = root, v.tcfg = tcfg, v.cfg = cfg;
    v.model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (st == SLM_OK) st = classify(&v);
    if (st == SLM_OK) st = load_vocab(&v, n_vocab);
    if (st == SLM_OK) st = build_index(&v);
    if (st == SLM_OK) st = write_all(&v, w);
    if (st == SLM_OK && kind) *kind = v.kind;
    for (int32_t i = 0; v.owned && i < v.n; i++) slm__free(v.owned[i]);
    for (int64_t i = 0; i < v.n_merges; i++) slm__free(v.merges[i]);
    slm__free(v.merges);
    slm__free(v.owned);
    slm__free(v.text);
    slm__free(v.added);
    slm__free(v.special);
    slm__free(v.score);
    slm__free(v.type);
    slm__free(v.index);
    cJSON_Delete(root);
    cJSON_Delete(tcfg);
    cJSON_Delete(cfg);
    return st;
}
