/* Builds a tokenizer from the tokenizer.* metadata of a GGUF file: the token list, scores, token
 * types, merges, the pre-tokenizer name, special token ids and the add-BOS/EOS flags, with the
 * defaults of the reference implementation where a key is absent. Every value is validated. */
#include "tokenizer/internal.h"

#include <ctype.h>
#include <float.h>
#include <string.h>

#define MAX_VOCAB (1 << 24)

struct kind_row {
    const char *model; /* tokenizer.ggml.model */
    int32_t special[SLM_TOKEN_ROLE_COUNT];
    bool add_bos, add_eos, add_sep, add_space_prefix;
};

/* Defaults when the metadata does not name a special token (ids beyond the vocabulary are
 * dropped). */
static const struct kind_row kind_table[SLM_TOKENIZER_KIND_COUNT] = {
    [SLM_TOKENIZER_SPM] = {"llama",
                           {[SLM_TOKEN_BOS] = 1,
                            [SLM_TOKEN_EOS] = 2,
                            [SLM_TOKEN_UNK] = 0,
                            [SLM_TOKEN_SEP] = -1,
                            [SLM_TOKEN_PAD] = -1,
                            [SLM_TOKEN_CLS] = -1,
                            [SLM_TOKEN_MASK] = -1},
                           true,
                           false,
                           false,
                           true},
    [SLM_TOKENIZER_BPE] = {"gpt2",
                           {[SLM_TOKEN_BOS] = 11,
                            [SLM_TOKEN_EOS] = 11,
                            [SLM_TOKEN_UNK] = -1,
                            [SLM_TOKEN_SEP] = -1,
                            [SLM_TOKEN_PAD] = -1,
                            [SLM_TOKEN_CLS] = -1,
                            [SLM_TOKEN_MASK] = -1},
                           false,
                           false,
                           false,
                           false},
    [SLM_TOKENIZER_WPM] = {"bert",
                           {[SLM_TOKEN_BOS] = 101,
                            [SLM_TOKEN_EOS] = -1,
                            [SLM_TOKEN_UNK] = 100,
                            [SLM_TOKEN_SEP] = 102,
                            [SLM_TOKEN_PAD] = 0,
                            [SLM_TOKEN_CLS] = 101,
                            [SLM_TOKEN_MASK] = 103},
                           true,
                           false,
                           true,
                           false},
};

static const char *const role_keys[SLM_TOKEN_ROLE_COUNT] = {
    [SLM_TOKEN_BOS] = "tokenizer.ggml.bos_token_id",
    [SLM_TOKEN_EOS] = "tokenizer.ggml.eos_token_id",
    [SLM_TOKEN_UNK] = "tokenizer.ggml.unknown_token_id",
    [SLM_TOKEN_SEP] = "tokenizer.ggml.seperator_token_id",
    [SLM_TOKEN_PAD] = "tokenizer.ggml.padding_token_id",
    [SLM_TOKEN_CLS] = "tokenizer.ggml.cls_token_id",
    [SLM_TOKEN_MASK] = "tokenizer.ggml.mask_token_id",
};

/* GGUF token_type values 0..6 (undefined, normal, unknown, control, user-defined, unused, byte). */
static const uint8_t type_attr[7] = {
    [0] = 0,
    [1] = SLM__TOK_NORMAL,
    [2] = SLM__TOK_UNKNOWN,
    [3] = SLM__TOK_CONTROL,
    [4] = SLM__TOK_USER,
    [5] = SLM__TOK_UNUSED,
    [6] = SLM__TOK_BYTE,
};

static slm_status get_flag(const slm_gguf *g, const char *key, bool *v) {
    slm_status st = slm_gguf_get_bool(g, key, v);
    if (st == SLM_E_NOT_FOUND) return SLM_OK;
    if (st != SLM_OK) return slm__error(SLM_E_INVALID_MODEL, "tokenizer: %s is not a boolean", key);
    return SLM_OK;
}

static slm_status load_tokens(const slm_gguf *g, slm_tokenizer_kind kind, slm_tokenizer **out) {
    struct slm_gguf_array toks;
    if (slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks) != SLM_OK ||
        toks.elem_type != SLM_GGUF_STRING)
        return slm__error(SLM_E_INVALID_MODEL,
                          "tokenizer: tokenizer.ggml.tokens missing or not strings");
    if (toks.count == 0 || toks.count > MAX_VOCAB)
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer: %llu tokens",
                          (unsigned long long)toks.count);
    uint64_t pool = 0;
    for (uint64_t i = 0; i < toks.count; i++) pool += slm_gguf_arr_str(&toks, i).len;
    if (pool > UINT32_MAX / 2)
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer: token texts too large");
    int32_t n = (int32_t)toks.count;
    slm_tokenizer *t;
    slm_status st = slm__tok_alloc(kind, n, (size_t)pool, &t);
    if (st != SLM_OK) return st;
    size_t used = 0;
    for (int32_t i = 0; i < n; i++) {
        struct slm_gguf_str s = slm_gguf_arr_str(&toks, (uint64_t)i);
        slm__tok_set_text(t, i, s.ptr, (size_t)s.len, &used);
        t->attr[i] = SLM__TOK_NORMAL;
    }
    struct slm_gguf_array a;
    if (slm_gguf_get_arr(g, "tokenizer.ggml.token_type", &a) == SLM_OK) {
        if (a.count != toks.count || slm_gguf_type_size(a.elem_type) == 0 ||
            a.elem_type == SLM_GGUF_FLOAT32 || a.elem_type == SLM_GGUF_FLOAT64) {
            slm_tokenizer_free(t);
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer: token_type is not %d integers", n);
        }
        for (int32_t i = 0; i < n; i++) {
            int64_t ty = slm_gguf_arr_i64(&a, (uint64_t)i);
            t->attr[i] = ty >= 0 && ty < (int64_t)SLM_ARRAY_LEN(type_attr) ? type_attr[ty] : 0;
        }
    }
    t->score = slm__calloc((size_t)n, sizeof *t->score);
    if (!t->score) {
        slm_tokenizer_free(t);
        return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    }
    if (slm_gguf_get_arr(g, "tokenizer.ggml.scores", &a) == SLM_OK) {
        if (a.count != toks.count || slm_gguf_type_size(a.elem_type) == 0) {
            slm_tokenizer_free(t);
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer: scores is not %d numbers", n);
        }
        for (int32_t i = 0; i < n; i++) {
            /* NaN and out-of-range values would make the merge order meaningless */
            double v = slm_gguf_arr_f64(&a, (uint64_t)i);
            t->score[i] = v >= -FLT_MAX && v <= FLT_MAX ? (float)v : v > 0 ? FLT_MAX : -FLT_MAX;
        }
    }
    *out = t;
    return SLM_OK;
}

static slm_status load_merges(const slm_gguf *g, slm_tokenizer *t) {
    struct slm_gguf_array m;
    if (slm_gguf_get_arr(g, "tokenizer.ggml.merges", &m) != SLM_OK ||
        m.elem_type != SLM_GGUF_STRING)
        return slm__error(SLM_E_INVALID_MODEL,
                          "tokenizer: tokenizer.ggml.merges missing or not strings");
    if (m.count > INT32_MAX / 4)
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer: too many merges");
    slm_status st = slm__tok_alloc_merges(t, m.count);
    if (st != SLM_OK) return st;
    char *buf = slm__malloc(2 * (size_t)t->max_token_len + 2);
    if (!buf) return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    for (uint64_t i = 0; i < m.count; i++) {
        struct slm_gguf_str s = slm_gguf_arr_str(&m, i);
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp) continue;
        size_t la = (size_t)(sp - s.ptr), lb = s.len - la - 1;
        if (la + lb > t->max_token_len) continue;
        int32_t a = slm__tok_find(t, s.ptr, la), b = slm__tok_find(t, sp + 1, lb);
        memcpy(buf, s.ptr, la);
        memcpy(buf + la, sp + 1, lb);
        int32_t ab = slm__tok_find(t, buf, la + lb);
        /* A merge whose parts or result are not tokens can never apply. */
        if (a >= 0 && b >= 0 && ab >= 0) slm__tok_add_merge(t, a, b, ab, (int32_t)i);
    }
    slm__free(buf);
    return SLM_OK;
}

/* Reference quirk kept for identical ids: Phi-3 vocabularies eat the whitespace after their
 * special tokens (but not after <unk>, <s> and <|endoftext|>). */
static void phi3_rstrip(const slm_gguf *g, slm_tokenizer *t) {
    char name[128];
    if (slm_gguf_get_str_buf(g, "general.name", name, sizeof name) != SLM_OK) return;
    for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (!strstr(name, "phi-3") && !strstr(name, "phi3")) return;
    for (int32_t i = 0; i < t->n_partition; i++) t->attr[t->partition[i]] |= SLM__TOK_RSTRIP;
    int32_t id = slm__tok_find(t, "</s>", 4);
    if (id >= 0) t->attr[id] |= SLM__TOK_RSTRIP;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    for (size_t k = 0; k < SLM_ARRAY_LEN(keep); k++)
        if ((id = slm__tok_find(t, keep[k], strlen(keep[k]))) >= 0)
            t->attr[id] &= (uint8_t)~SLM__TOK_RSTRIP;
}

static slm_status from_gguf(const slm_gguf *g, slm_tokenizer **out) {
    char model[32];
    slm_status st = slm_gguf_get_str_buf(g, "tokenizer.ggml.model", model, sizeof model);
    if (st == SLM_E_NOT_FOUND)
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer: no tokenizer.ggml.model");
    if (st != SLM_OK) return slm__error(SLM_E_INVALID_MODEL, "tokenizer: bad tokenizer.ggml.model");
    int kind = -1;
    for (int k = 0; k < SLM_TOKENIZER_KIND_COUNT; k++)
        if (!strcmp(model, kind_table[k].model)) kind = k;
    if (kind < 0)
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer: model '%s' is not supported", model);
    const struct kind_row *row = &kind_table[kind];

    int pre = 0;
    struct slm_gguf_str pre_name = {"", 0};
    const char *pre_static = "default";
    if (kind == SLM_TOKENIZER_BPE) {
        st = slm_gguf_get_str(g, "tokenizer.ggml.pre", &pre_name);
        if (st != SLM_OK && st != SLM_E_NOT_FOUND)
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer: tokenizer.ggml.pre is not a string");
        pre = slm__pre_find(pre_name.ptr, (size_t)pre_name.len, &pre_static);
        if (pre < 0)
            return slm__error(SLM_E_UNSUPPORTED, "tokenizer: unknown pre-tokenizer '%.*s'",
                              (int)SLM_MIN(pre_name.len, 64), pre_name.ptr);
    }

    slm_tokenizer *t = NULL;
    st = load_tokens(g, (slm_tokenizer_kind)kind, &t);
    if (st != SLM_OK) return st;
    t->add_bos = row->add_bos;
    t->add_eos = row->add_eos;
    t->add_sep = row->add_sep;
    t->add_space_prefix = row->add_space_prefix;
    t->wpm_accents = SLM__WPM_FIRST_CP;
    st = slm__tok_finish(t);
    if (st == SLM_OK && kind == SLM_TOKENIZER_BPE) {
        st = slm__pre_setup(t, pre);
        t->pre_name = pre_static; /* the name as the file spells it */
        if (st == SLM_OK) st = load_merges(g, t);
    }
    for (int r = 0; r < SLM_TOKEN_ROLE_COUNT && st == SLM_OK; r++) {
        int64_t v = row->special[r];
        slm_status kst = slm_gguf_get_i64(g, role_keys[r], &v);
        if (kst != SLM_OK && kst != SLM_E_NOT_FOUND)
            st = slm__error(SLM_E_INVALID_MODEL, "tokenizer: %s is not an integer", role_keys[r]);
        t->special[r] = v >= 0 && v < t->n_vocab ? (int32_t)v : -1;
    }
    if (st == SLM_OK && kind == SLM_TOKENIZER_WPM && t->special[SLM_TOKEN_CLS] < 0)
        t->special[SLM_TOKEN_CLS] = t->special[SLM_TOKEN_BOS];
    if (st == SLM_OK) st = get_flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos);
    if (st == SLM_OK) st = get_flag(g, "tokenizer.ggml.add_eos_token", &t->add_eos);
    if (st == SLM_OK) st = get_flag(g, "tokenizer.ggml.add_sep_token", &t->add_sep);
    if (st == SLM_OK) st = get_flag(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);
    if (st == SLM_OK) phi3_rstrip(g, t);
    if (st != SLM_OK) {
        slm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SLM_OK;
}

slm_status slm_tokenizer_from_gguf(const slm_gguf *g, slm_tokenizer **out) {
    if (!out) return slm__error(SLM_E_INVALID_ARG, "tokenizer: NULL out");
    *out = NULL;
    if (!g) return slm__error(SLM_E_INVALID_ARG, "tokenizer: NULL gguf");
    return from_gguf(g, out);
}
