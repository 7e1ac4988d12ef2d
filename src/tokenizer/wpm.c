/* WordPiece (BERT): normalise (drop control characters, strip accents through the canonical
 * decomposition, lower-case), split on whitespace and around punctuation and CJK ideographs, then
 * cut every word greedily into the longest vocabulary pieces. The vocabulary is stored the way
 * GGUF files hold it: a word-initial piece carries a ▁ prefix, a continuation piece ("##ing" in
 * Hugging Face files) is bare. A word that cannot be spelled becomes one unknown token. */
#include "tokenizer/internal.h"

#include <string.h>
#include <utf8proc.h>

static bool is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_space(uint32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static bool is_punct(uint32_t c, utf8proc_category_t cat) {
    if (c < 0x7F)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

static bool is_other(utf8proc_category_t cat) {
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
           cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CO;
}

struct wpm_work {
    const slm_tokenizer *t;
    slm__ids *out;
    char *word; /* "▁" + the current word, UTF-8 */
    size_t n, cap;
    uint32_t n_chars;
};

static slm_status word_put(struct wpm_work *w, uint32_t c) {
    if (w->n + 4 > w->cap) {
        size_t cap = w->cap * 2 + 64;
        char *p = slm__realloc(w->word, cap);
        if (!p) return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
        w->word = p;
        w->cap = cap;
    }
    if (w->n == 0) {
        memcpy(w->word, "\xe2\x96\x81", 3);
        w->n = 3;
    }
    w->n += (size_t)utf8proc_encode_char((utf8proc_int32_t)c, (utf8proc_uint8_t *)w->word + w->n);
    w->n_chars++;
    return SLM_OK;
}

static slm_status word_end(struct wpm_work *w) {
    if (!w->n) return SLM_OK;
    const slm_tokenizer *t = w->t;
    size_t mark = w->out->n, n = w->n;
    slm_status st = SLM_OK;
    bool ok = !(t->wpm_max_chars && w->n_chars > t->wpm_max_chars);
    for (size_t i = 0; i < n && ok && st == SLM_OK;) {
        size_t j = SLM_MIN(n, i + t->max_token_len);
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = slm__tok_find(t, w->word + i, j - i)) >= 0) break;
        if (id < 0)
            ok = false;
        else
            st = slm__ids_push(w->out, id), i = j;
    }
    if (st == SLM_OK && !ok) {
        w->out->n = mark;
        if (t->special[SLM_TOKEN_UNK] < 0)
            st = slm__error(SLM_E_INVALID_INPUT,
                            "tokenize: word cannot be spelled and there is no unknown token");
        else
            st = slm__ids_push(w->out, t->special[SLM_TOKEN_UNK]);
    }
    w->n = 0;
    w->n_chars = 0;
    return st;
}

/* Accent stripping of one code point into dst (returns the count). */
static int strip_accents(const slm_tokenizer *t, uint32_t c, uint32_t dst[8]) {
    utf8proc_int32_t d[8];
    int last = 0;
    utf8proc_ssize_t k =
        utf8proc_decompose_char((utf8proc_int32_t)c, d, 8, UTF8PROC_DECOMPOSE, &last);
    if (k <= 0 || k > 8) {
        dst[0] = c;
        return 1;
    }
    if (t->wpm_accents == SLM__WPM_FIRST_CP) {
        dst[0] = (uint32_t)d[0];
        return 1;
    }
    int m = 0;
    for (utf8proc_ssize_t i = 0; i < k; i++)
        if (utf8proc_category(d[i]) != UTF8PROC_CATEGORY_MN) dst[m++] = (uint32_t)d[i];
    return m;
}

slm_status slm__wpm_encode(const slm_tokenizer *t, const char *s, size_t n, slm__ids *out) {
    struct wpm_work w = {.t = t, .out = out};
    slm_status st = SLM_OK;
    for (size_t i = 0; i < n && st == SLM_OK;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (l <= 0) {
            c = 0xFFFD;
            l = 1;
        }
        i += (size_t)l;
        utf8proc_category_t cat = utf8proc_category(c);
        /* Hugging Face drops control characters (\v, \f, U+0085 too) before it looks for
         * whitespace; the reference treats those as whitespace. */
        bool hf = t->wpm_accents == SLM__WPM_DROP_MN;
        if (hf && c != '\t' && c != '\n' && c != '\r' && is_other(cat)) continue;
        if (is_space((uint32_t)c)) {
            st = word_end(&w);
            continue;
        }
        if (c == 0 || (c == 0xFFFD && l > 1) || is_other(cat)) continue;
        uint32_t parts[8];
        int np = strip_accents(t, (uint32_t)c, parts);
        for (int k = 0; k < np && st == SLM_OK; k++) {
            uint32_t p = (uint32_t)utf8proc_tolower((utf8proc_int32_t)parts[k]);
            if (is_punct(p, utf8proc_category((utf8proc_int32_t)p)) || is_cjk(p)) {
                st = word_end(&w);
                if (st == SLM_OK) st = word_put(&w, p);
                if (st == SLM_OK) st = word_end(&w);
            } else {
                st = word_put(&w, p);
            }
        }
    }
    if (st == SLM_OK) st = word_end(&w);
    slm__free(w.word);
    return st;
}
