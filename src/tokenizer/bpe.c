/* Byte-level BPE: the pre-tokenizer regexes cut the text into words, each word starts as one
 * symbol per byte (the token of that byte's byte-level character) and is merged by rank
 * (merge.c). */
#include "tokenizer/internal.h"

#include <string.h>
#include <utf8proc.h>

struct bpe_work {
    const slm_tokenizer *t;
    slm__ids *out;
    pcre2_match_data *md[SLM__PRE_MAX_REGEX];
    slm__merger m;
    char *mapped; /* byte-level spelling of a word, for ignore_merges */
    size_t cap_mapped;
};

static slm_status bpe_word(struct bpe_work *w, const uint8_t *s, size_t n) {
    const slm_tokenizer *t = w->t;
    if (n == 1) return t->byte_tok[s[0]] >= 0 ? slm__ids_push(w->out, t->byte_tok[s[0]]) : SLM_OK;
    slm_status st = slm__merger_reserve(&w->m, n);
    if (st != SLM_OK) return st;
    if (t->ignore_merges) {
        if (2 * n > w->cap_mapped) {
            char *p = slm__realloc(w->mapped, 2 * n);
            if (!p) return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
            w->mapped = p;
            w->cap_mapped = 2 * n;
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++) m += (size_t)slm__bytelevel_encode(s[i], w->mapped + m);
        int32_t id = slm__tok_find(t, w->mapped, m);
        if (id >= 0) return slm__ids_push(w->out, id);
    }
    for (size_t i = 0; i < n; i++) {
        w->m.id[i] = t->byte_tok[s[i]];
        w->m.len[i] = 1;
    }
    slm__merger_run(t, &w->m, (int32_t)n);
    /* A byte whose character is missing from the vocabulary cannot be spelled: it is dropped,
     * as the reference does. */
    for (int32_t i = 0; i >= 0 && st == SLM_OK; i = w->m.next[i])
        if (w->m.id[i] >= 0) st = slm__ids_push(w->out, w->m.id[i]);
    return st;
}

/* Splits s[0..n) with regex k and the ones after it, then encodes the words. */
static slm_status split(struct bpe_work *w, int k, const char *s, size_t n) {
    if (!n) return SLM_OK;
    if (k == w->t->n_re) return bpe_word(w, (const uint8_t *)s, n);
    size_t start = 0;
    slm_status st = SLM_OK;
    while (start < n && st == SLM_OK) {
        int rc = pcre2_match(w->t->re[k], (PCRE2_SPTR)s, n, start, PCRE2_NOTEMPTY, w->md[k], NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return slm__error(SLM_E_INTERNAL, "tokenize: regex %d: %s", k, (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md[k]);
        st = split(w, k + 1, s + start, ov[0] - start);
        if (st == SLM_OK) st = split(w, k + 1, s + ov[0], ov[1] - ov[0]);
        start = ov[1];
    }
    if (st == SLM_OK && start < n) st = split(w, k + 1, s + start, n - start);
    return st;
}

static void *pcre_alloc(size_t n, void *ctx) {
    (void)ctx;
    return slm__malloc(n);
}
static void pcre_free(void *p, void *ctx) {
    (void)ctx;
    slm__free(p);
}

/* NFC of s[0..n) into a new buffer (*out, to free); *out NULL when s is not valid UTF-8, which is
 * then tokenized as it is. */
static slm_status nfc(const char *s, size_t n, char **out, size_t *out_n) {
    *out = NULL;
    const int opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    utf8proc_ssize_t need =
        utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, NULL, 0, opts);
    if (need < 0) return SLM_OK;
    utf8proc_int32_t *buf = slm__malloc(((size_t)need + 1) * sizeof *buf);
    if (!buf) return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, buf, need, opts);
    utf8proc_ssize_t len = utf8proc_reencode(buf, need, opts);
    if (len < 0) {
        slm__free(buf);
        return SLM_OK;
    }
    *out = (char *)buf;
    *out_n = (size_t)len;
    return SLM_OK;
}

slm_status slm__bpe_encode(const slm_tokenizer *t, const char *s, size_t n, slm__ids *out) {
    struct bpe_work w = {.t = t, .out = out};
    char *normalized = NULL;
    if (t->nfc) {
        slm_status st = nfc(s, n, &normalized, &n);
        if (st != SLM_OK) return st;
        if (normalized) s = normalized;
    }
    slm_status st = SLM_OK;
    pcre2_general_context *gc = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!gc) return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    for (int k = 0; k < t->n_re && st == SLM_OK; k++) {
        w.md[k] = pcre2_match_data_create_from_pattern(t->re[k], gc);
        if (!w.md[k]) st = slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    }
    if (st == SLM_OK) st = split(&w, 0, s, n);
    for (int k = 0; k < t->n_re; k++) pcre2_match_data_free(w.md[k]);
    pcre2_general_context_free(gc);
    slm__merger_free(&w.m);
    slm__free(w.mapped);
    slm__free(normalized);
    return st;
}
