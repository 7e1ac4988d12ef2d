/* Builds a tokenizer from a Hugging Face tokenizer.json (used by `slm convert` and by tests that
 * compare with the reference package): byte-level BPE with a Digits / Split / ByteLevel
 * pre-tokenizer chain, and WordPiece with the BERT normalizer and pre-tokenizer. The result is the
 * same representation a GGUF file gives (WordPiece pieces in the ▁ / bare form), so the encoders do
 * not know where a vocabulary came from. Anything the encoders cannot reproduce exactly is refused
 * with SLM_E_UNSUPPORTED rather than approximated. */
#include "tokenizer/internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCAB (1 << 24)

static bool json_is(const cJSON *o, const char *key, const char *value) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && !strcmp(v->valuestring, value);
}

static int json_id(const cJSON *v) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= MAX_VOCAB ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    return (int)v->valuedouble;
}

/* Appends the regexes of one pre-tokenizer node; ByteLevel must not add a prefix space. */
static slm_status pre_chain(const cJSON *p, const char **re, int *n, char **owned, int *n_owned) {
    if (!cJSON_IsObject(p))
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: pre_tokenizer missing");
    if (json_is(p, "type", "Sequence")) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(p, "pretokenizers")) {
            slm_status st = pre_chain(c, re, n, owned, n_owned);
            if (st != SLM_OK) return st;
        }
        return SLM_OK;
    }
    if (*n >= SLM__PRE_MAX_REGEX)
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: pre-tokenizer chain too long");
    if (json_is(p, "type", "ByteLevel")) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "add_prefix_space")))
            return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: ByteLevel add_prefix_space");
        if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p, "use_regex")))
            re[(*n)++] = slm__re_gpt2;
        return SLM_OK;
    }
    if (json_is(p, "type", "Digits")) {
        re[(*n)++] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "individual_digits"))
                         ? "\\p{N}"
                         : "\\p{N}+";
        return SLM_OK;
    }
    if (json_is(p, "type", "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const cJSON *rx = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
        if (!json_is(p, "behavior", "Isolated") ||
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "invert")))
            return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: Split other than Isolated");
        if (cJSON_IsString(rx)) {
            re[(*n)++] = rx->valuestring;
            return SLM_OK;
        }
        if (!cJSON_IsString(str) || *n_owned >= SLM__PRE_MAX_REGEX)
            return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: Split pattern");
        size_t l = strlen(str->valuestring);
        char *q = slm__malloc(l + 5);
        if (!q) return slm__error(SLM_E_NOMEM, "tokenizer.json: out of memory");
        snprintf(q, l + 5, "\\Q%s\\E", str->valuestring);
        owned[(*n_owned)++] = q;
        re[(*n)++] = q;
        return SLM_OK;
    }
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
    return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: pre-tokenizer '%s'",
                      cJSON_IsString(ty) ? ty->valuestring : "?");
}

struct hf {
    const cJSON *model, *vocab, *added;
    slm_tokenizer_kind kind;
    int32_t n;
    const char **text; /* per id: text as in the file */
    bool *is_added;
};

/* Token text in the internal representation (WordPiece: ▁word / bare continuation). */
static size_t stored_text(const struct hf *h, int32_t i, const char *prefix, char *dst) {
    const char *s = h->text[i];
    size_t l = strlen(s), pl = prefix ? strlen(prefix) : 0;
    if (h->kind != SLM_TOKENIZER_WPM || h->is_added[i]) {
        if (dst) memcpy(dst, s, l);
        return l;
    }
    if (pl && l >= pl && !memcmp(s, prefix, pl)) {
        if (dst) memcpy(dst, s + pl, l - pl);
        return l - pl;
    }
    /* "[unused0]"-style entries stay as they are, as in GGUF files (no word can reach them: the
     * pre-tokenizer splits brackets off) */
    if (l >= 2 && s[0] == '[' && s[l - 1] == ']') {
        if (dst) memcpy(dst, s, l);
        return l;
    }
    if (dst) {
        memcpy(dst, "\xe2\x96\x81", 3);
        memcpy(dst + 3, s, l);
    }
    return l + 3;
}

static bool is_byte_token(const char *s, size_t l) {
    static const char hex[] = "0123456789ABCDEF";
    return l == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && s[3] && strchr(hex, s[3]) && s[4] &&
           strchr(hex, s[4]);
}

static slm_status set_specials_from_post(slm_tokenizer *t, const cJSON *post) {
    if (!post || cJSON_IsNull(post) || json_is(post, "type", "ByteLevel")) return SLM_OK;
    int32_t first = -1, last = -1;
    if (json_is(post, "type", "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(post, "single");
        int i = 0, n = cJSON_GetArraySize(single), seq_at = -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, single) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
            if (cJSON_GetObjectItemCaseSensitive(e, "Sequence"))
                seq_at = i;
            else if (sp) {
                const cJSON *idv = cJSON_GetObjectItemCaseSensitive(sp, "id");
                if (!cJSON_IsString(idv))
                    return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: template token");
                int32_t id = slm__tok_find(t, idv->valuestring, strlen(idv->valuestring));
                if (id < 0)
                    return slm__error(SLM_E_INVALID_MODEL,
                                      "tokenizer.json: template token '%s' not in vocabulary",
                                      idv->valuestring);
                if (seq_at < 0) {
                    if (first >= 0)
                        return slm__error(SLM_E_UNSUPPORTED,
                                          "tokenizer.json: template with two leading tokens");
                    first = id;
                } else {
                    if (last >= 0)
                        return slm__error(SLM_E_UNSUPPORTED,
                                          "tokenizer.json: template with two trailing tokens");
                    last = id;
                }
            }
            i++;
        }
        if (seq_at < 0 || n > 3)
            return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: template shape");
    } else if (json_is(post, "type", "BertProcessing") ||
               json_is(post, "type", "RobertaProcessing")) {
        first = json_id(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(post, "cls"), 1));
        last = json_id(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(post, "sep"), 1));
        if (first < 0 || last < 0 || first >= t->n_vocab || last >= t->n_vocab)
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: post-processor ids");
    } else {
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: post-processor");
    }
    if (t->kind == SLM_TOKENIZER_WPM) {
        t->special[SLM_TOKEN_CLS] = t->special[SLM_TOKEN_BOS] = first;
        t->special[SLM_TOKEN_SEP] = last;
        t->add_bos = first >= 0;
        t->add_sep = last >= 0;
    } else {
        if (first >= 0) t->special[SLM_TOKEN_BOS] = first;
        if (last >= 0) t->special[SLM_TOKEN_EOS] = last;
        t->add_bos = first >= 0;
        t->add_eos = last >= 0;
    }
    return SLM_OK;
}

/* The SentencePiece style written as normalizers: Prepend("▁") then Replace(" ", "▁"). */
static bool is_spm_normalizer(const cJSON *norm) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
    if (!json_is(norm, "type", "Sequence") || cJSON_GetArraySize(list) != 2) return false;
    const cJSON *pre = cJSON_GetArrayItem(list, 0), *rep = cJSON_GetArrayItem(list, 1);
    return json_is(pre, "type", "Prepend") && json_is(pre, "prepend", "\xe2\x96\x81") &&
           json_is(rep, "type", "Replace") &&
           json_is(cJSON_GetObjectItemCaseSensitive(rep, "pattern"), "String", " ") &&
           json_is(rep, "content", "\xe2\x96\x81");
}

static slm_status check_normalizer(const struct hf *h, const cJSON *root) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (h->kind == SLM_TOKENIZER_BPE) {
        if (norm && !cJSON_IsNull(norm) && !json_is(norm, "type", "NFC"))
            return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: BPE normalizer other than NFC");
        return SLM_OK;
    }
    if (h->kind == SLM_TOKENIZER_SPM) {
        if (pre && !cJSON_IsNull(pre))
            return slm__error(SLM_E_UNSUPPORTED,
                              "tokenizer.json: ▁-normalised BPE with a pre-tokenizer");
        return SLM_OK;
    }
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(norm, "strip_accents");
    if (!json_is(norm, "type", "BertNormalizer") ||
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(norm, "lowercase")) || cJSON_IsFalse(sa) ||
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(norm, "clean_text")) ||
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(norm, "handle_chinese_chars")))
        return slm__error(SLM_E_UNSUPPORTED,
                          "tokenizer.json: WordPiece needs a lower-casing BertNormalizer");
    if (!json_is(pre, "type", "BertPreTokenizer"))
        return slm__error(SLM_E_UNSUPPORTED,
                          "tokenizer.json: WordPiece needs the BertPreTokenizer");
    return SLM_OK;
}

/* Merges as "a b" strings or ["a", "b"] pairs; rank = position. *tmp is scratch (grown). */
static slm_status load_merges(slm_tokenizer *t, const cJSON *merges, char **tmp) {
    slm_status st = slm__tok_alloc_merges(t, (uint64_t)cJSON_GetArraySize(merges));
    int32_t rank = 0;
    const cJSON *mg;
    cJSON_ArrayForEach(mg, merges) {
        if (st != SLM_OK) break;
        const char *l = NULL, *r = NULL;
        size_t ll = 0, rl = 0;
        if (cJSON_IsString(mg)) {
            const char *s = mg->valuestring, *sp = *s ? strchr(s + 1, ' ') : NULL;
            if (sp) l = s, ll = (size_t)(sp - s), r = sp + 1, rl = strlen(sp + 1);
        } else if (cJSON_IsArray(mg) && cJSON_GetArraySize(mg) == 2 &&
                   cJSON_IsString(cJSON_GetArrayItem(mg, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(mg, 1))) {
            l = cJSON_GetArrayItem(mg, 0)->valuestring, ll = strlen(l);
            r = cJSON_GetArrayItem(mg, 1)->valuestring, rl = strlen(r);
        }
        if (!l)
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: merge %d is malformed", rank);
        char *cat = slm__realloc(*tmp, ll + rl + 1);
        if (!cat) return slm__error(SLM_E_NOMEM, "tokenizer.json: out of memory");
        *tmp = cat;
        memcpy(cat, l, ll);
        memcpy(cat + ll, r, rl);
        int32_t ia = slm__tok_find(t, l, ll), ib = slm__tok_find(t, r, rl),
                ab = slm__tok_find(t, cat, ll + rl);
        if (ia < 0 || ib < 0 || ab < 0)
            return slm__error(SLM_E_INVALID_MODEL,
                              "tokenizer.json: merge %d uses a token not in the vocabulary", rank);
        slm__tok_add_merge(t, ia, ib, ab, rank++);
    }
    return st;
}

/* ▁-normalised BPE. Added tokens marked "normalized" are looked for in the normalised text, as
 * their normalised form ("▁" + text, spaces as ▁): the patterns are set before the partition
 * tables are built. */
static slm_status setup_spm(slm_tokenizer *t, const struct hf *h) {
    t->add_space_prefix = true;
    t->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h->model, "fuse_unk"));
    int normalized = 0, raw = 0;
    size_t bytes = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, h->added) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "normalized")))
            normalized++;
        else
            raw++;
    }
    if (normalized && raw)
        return slm__error(SLM_E_UNSUPPORTED,
                          "tokenizer.json: added tokens both normalised and not normalised");
    t->normalize_first = normalized > 0;
    if (!t->normalize_first) return SLM_OK;
    for (int32_t i = 0; i < t->n_vocab; i++) bytes += 3 * (size_t)t->len[i] + 4;
    t->ppool = slm__malloc(bytes);
    t->poff = slm__malloc((size_t)t->n_vocab * sizeof *t->poff);
    t->pblen = slm__malloc((size_t)t->n_vocab * sizeof *t->pblen);
    if (!t->ppool || !t->poff || !t->pblen)
        return slm__error(SLM_E_NOMEM, "tokenizer.json: out of memory");
    size_t used = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const char *s = t->pool + t->off[i];
        t->poff[i] = (uint32_t)used;
        bool added = h->is_added[i];
        if (added) memcpy(t->ppool + used, "\xe2\x96\x81", 3), used += 3;
        for (uint32_t k = 0; k < t->len[i]; k++) {
            if (added && s[k] == ' ')
                memcpy(t->ppool + used, "\xe2\x96\x81", 3), used += 3;
            else
                t->ppool[used++] = s[k];
        }
        t->pblen[i] = (uint32_t)used - t->poff[i];
    }
    return SLM_OK;
}

static slm_status build(struct hf *h, const cJSON *root, slm_tokenizer **out) {
    const cJSON *m = h->model;
    const char *prefix = NULL;
    if (h->kind == SLM_TOKENIZER_WPM) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix");
        prefix = cJSON_IsString(p) ? p->valuestring : "##";
    } else {
        static const char *const off[] = {"continuing_subword_prefix", "end_of_word_suffix",
                                          "dropout"};
        for (size_t k = 0; k < SLM_ARRAY_LEN(off); k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, off[k]);
            if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !*v->valuestring))
                return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: BPE %s", off[k]);
        }
        if (h->kind == SLM_TOKENIZER_BPE &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "byte_fallback")))
            return slm__error(SLM_E_UNSUPPORTED,
                              "tokenizer.json: BPE byte_fallback without byte-level pre-tokenizer");
    }
    slm_status st = check_normalizer(h, root);
    if (st != SLM_OK) return st;
    size_t pool = 0;
    for (int32_t i = 0; i < h->n; i++) {
        if (!h->text[i])
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: no token has id %d", i);
        pool += stored_text(h, i, prefix, NULL);
    }
    slm_tokenizer *t;
    st = slm__tok_alloc(h->kind, h->n, pool, &t);
    if (st != SLM_OK) return st;
    char *tmp = slm__malloc(64);
    size_t used = 0;
    for (int32_t i = 0; i < h->n && tmp; i++) {
        size_t l = stored_text(h, i, prefix, NULL);
        char *nt = slm__realloc(tmp, l + 1);
        if (!nt) break;
        tmp = nt;
        stored_text(h, i, prefix, tmp);
        slm__tok_set_text(t, i, tmp, l, &used);
        t->attr[i] = SLM__TOK_NORMAL;
        if (h->kind == SLM_TOKENIZER_SPM && is_byte_token(tmp, l)) t->attr[i] = SLM__TOK_BYTE;
    }
    if (!tmp || used != pool + (size_t)h->n) {
        slm__free(tmp);
        slm_tokenizer_free(t);
        return slm__error(SLM_E_NOMEM, "tokenizer.json: out of memory");
    }
    const cJSON *a;
    cJSON_ArrayForEach(a, h->added) {
        int32_t id = json_id(cJSON_GetObjectItemCaseSensitive(a, "id"));
        t->attr[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "special"))
                          ? SLM__TOK_CONTROL
                          : SLM__TOK_USER;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "lstrip")))
            t->attr[id] |= SLM__TOK_LSTRIP;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "rstrip")))
            t->attr[id] |= SLM__TOK_RSTRIP;
    }
    st = h->kind == SLM_TOKENIZER_SPM ? setup_spm(t, h) : SLM_OK;
    if (st == SLM_OK) st = slm__tok_finish(t);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(m, "unk_token");
    if (st == SLM_OK && cJSON_IsString(unk)) {
        int32_t id = slm__tok_find(t, unk->valuestring, strlen(unk->valuestring));
        if (id < 0)
            st = slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: unk_token '%s' not in vocabulary",
                            unk->valuestring);
        t->special[SLM_TOKEN_UNK] = id;
    }
    if (st == SLM_OK && h->kind == SLM_TOKENIZER_WPM) {
        t->wpm_accents = SLM__WPM_DROP_MN;
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(m, "max_input_chars_per_word");
        t->wpm_max_chars = cJSON_IsNumber(mx) && mx->valuedouble > 0 && mx->valuedouble < 1e9
                               ? (uint32_t)mx->valuedouble
                               : 100;
        t->special[SLM_TOKEN_PAD] = slm__tok_find(t, "[PAD]", 5);
        t->special[SLM_TOKEN_MASK] = slm__tok_find(t, "[MASK]", 6);
    }
    if (st == SLM_OK && h->kind == SLM_TOKENIZER_BPE) {
        t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ignore_merges"));
        t->nfc = json_is(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "type", "NFC");
        const char *re[SLM__PRE_MAX_REGEX];
        char *owned[SLM__PRE_MAX_REGEX];
        int n_re = 0, n_owned = 0;
        st = pre_chain(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), re, &n_re, owned,
                       &n_owned);
        if (st == SLM_OK) st = slm__pre_setup_custom(t, re, n_re);
        /* the GGUF name of the pre-tokenizer, when it is a known one */
        t->pre = st == SLM_OK ? slm__pre_match(re, n_re) : -1;
        t->pre_name = t->pre >= 0 ? slm__pre_row_name(t->pre) : "tokenizer.json";
        for (int k = 0; k < n_owned; k++) slm__free(owned[k]);
        if (st == SLM_OK) st = load_merges(t, cJSON_GetObjectItemCaseSensitive(m, "merges"), &tmp);
    }
    if (st == SLM_OK && h->kind == SLM_TOKENIZER_SPM)
        st = load_merges(t, cJSON_GetObjectItemCaseSensitive(m, "merges"), &tmp);
    if (st == SLM_OK)
        st = set_specials_from_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
    slm__free(tmp);
    if (st != SLM_OK) {
        slm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SLM_OK;
}

static slm_status from_json(const cJSON *root, slm_tokenizer **out) {
    struct hf h = {0};
    h.model = cJSON_GetObjectItemCaseSensitive(root, "model");
    h.vocab = cJSON_GetObjectItemCaseSensitive(h.model, "vocab");
    h.added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (json_is(h.model, "type", "BPE"))
        h.kind = is_spm_normalizer(cJSON_GetObjectItemCaseSensitive(root, "normalizer"))
                     ? SLM_TOKENIZER_SPM
                     : SLM_TOKENIZER_BPE;
    else if (json_is(h.model, "type", "WordPiece"))
        h.kind = SLM_TOKENIZER_WPM;
    else
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer.json: model type is not BPE or WordPiece");
    if (!cJSON_IsObject(h.vocab))
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: model.vocab is not an object");
    if (h.added && !cJSON_IsArray(h.added))
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: added_tokens");
    int32_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, h.vocab) {
        int id = json_id(e);
        if (id < 0)
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: bad id for '%s'", e->string);
        n = SLM_MAX(n, id + 1);
    }
    cJSON_ArrayForEach(e, h.added) {
        int id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        if (id < 0 || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "content")))
            return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: bad added token");
        n = SLM_MAX(n, id + 1);
    }
    if (!n) return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: empty vocabulary");
    if (n > cJSON_GetArraySize(h.vocab) + cJSON_GetArraySize(h.added))
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: token ids have gaps");
    h.n = n;
    h.text = slm__calloc((size_t)n, sizeof *h.text);
    h.is_added = slm__calloc((size_t)n, sizeof *h.is_added);
    slm_status st = SLM_OK;
    if (!h.text || !h.is_added) st = slm__error(SLM_E_NOMEM, "tokenizer.json: out of memory");
    if (st == SLM_OK) {
        cJSON_ArrayForEach(e, h.vocab) {
            int id = json_id(e);
            if (h.text[id]) {
                st = slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: id %d used twice", id);
                break;
            }
            h.text[id] = e->string;
        }
    }
    if (st == SLM_OK) {
        cJSON_ArrayForEach(e, h.added) {
            int id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
            const char *c = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
            if (h.text[id] && strcmp(h.text[id], c)) {
                st = slm__error(SLM_E_INVALID_MODEL,
                                "tokenizer.json: added token %d differs from the vocabulary", id);
                break;
            }
            h.text[id] = c;
            h.is_added[id] = true;
        }
    }
    if (st == SLM_OK) st = build(&h, root, out);
    slm__free(h.text);
    slm__free(h.is_added);
    return st;
}

slm_status slm_tokenizer_from_hf_json(const char *json, size_t len, slm_tokenizer **out) {
    if (!out) return slm__error(SLM_E_INVALID_ARG, "tokenizer.json: NULL out");
    *out = NULL;
    if (!json) return slm__error(SLM_E_INVALID_ARG, "tokenizer.json: NULL text");
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return slm__error(SLM_E_INVALID_MODEL, "tokenizer.json: not valid JSON");
    slm_status st = from_json(root, out);
    cJSON_Delete(root);
    return st;
}

slm_status slm_tokenizer_load_hf_json(const char *path, slm_tokenizer **out) {
    if (!out) return slm__error(SLM_E_INVALID_ARG, "tokenizer.json: NULL out");
    *out = NULL;
    slm_mapping m;
    slm_status st = slm__map_file(path, &m);
    if (st != SLM_OK) return st;
    st = slm_tokenizer_from_hf_json(m.data ? (const char *)m.data : "", (size_t)m.size, out);
    slm__unmap(&m);
    return st;
}
