/* Byte-level BPE: the pre-tokenizer regexes cut the text into words, each word starts as one
 * symbol per byte (the token of that byte's byte-level character) and is merged by rank
 * (merge.c). Long texts repeat their words, so the ids of short words are cached for the call. */
#include "tokenizer/internal.h"

#include <string.h>
#include <utf8proc.h>

/* Texts shorter than this are not worth a cache; words longer than CACHE_WORD are not cached. */
#define CACHE_MIN_TEXT 4096
#define CACHE_WORD     48
#define CACHE_SLOTS    16384

struct cache_slot {
    const uint8_t *word; /* points into the text being tokenized (NULL = empty slot) */
    uint32_t len;
    uint32_t first, count; /* ids at cache_ids[first .. first+count) */
};

struct bpe_work {
    const slm_tokenizer *t;
    slm__ids *out;
    pcre2_match_data *md[SLM__PRE_MAX_REGEX];
    slm__merger m;
    char *mapped; /* byte-level spelling of a word, for ignore_merges */
    size_t cap_mapped;
    struct cache_slot *cache; /* NULL: no cache for this call */
    uint32_t cache_used;
    slm__ids cache_ids;
};

static slm_status merge_word(struct bpe_work *w, const uint8_t *s, size_t n);

static slm_status bpe_word(struct bpe_work *w, const uint8_t *s, size_t n) {
    const slm_tokenizer *t = w->t;
    if (n == 1) return t->byte_tok[s[0]] >= 0 ? slm__ids_push(w->out, t->byte_tok[s[0]]) : SLM_OK;
    if (!w->cache || n > CACHE_WORD) return merge_word(w, s, n);
    uint32_t h = (uint32_t)slm__hash_bytes((const char *)s, n) & (CACHE_SLOTS - 1);
    for (; w->cache[h].word; h = (h + 1) & (CACHE_SLOTS - 1)) {
        const struct cache_slot *c = &w->cache[h];
        if (c->len != n || memcmp(c->word, s, n)) continue;
        slm_status st = SLM_OK;
        for (uint32_t k = 0; k < c->count && st == SLM_OK; k++)
            st = slm__ids_push(w->out, w->cache_ids.v[c->first + k]);
        return st;
    }
    size_t mark = w->out->n;
    slm_status st = merge_word(w, s, n);
    /* fill to three quarters, then keep what is there */
    if (st != SLM_OK || w->cache_used >= CACHE_SLOTS / 4 * 3) return st;
    struct cache_slot c = {s, (uint32_t)n, (uint32_t)w->cache_ids.n, (uint32_t)(w->out->n - mark)};
    for (size_t k = mark; k < w->out->n && st == SLM_OK; k++)
        st = slm__ids_push(&w->cache_ids, w->out->v[k]);
    if (st == SLM_OK) {
        w->cache[h] = c;
        w->cache_used++;
    }
    return st;
}

static slm_status merge_word(struct bpe_work *w, const uint8_t *s, size_t n) {
    const slm_tokenizer *t = w->t;
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
    slm_status st = SLM_OK;
    if (t->nfc) {
        st = nfc(s, n, &normalized, &n);
        if (normalized) s = normalized;
    }
    pcre2_general_context *gc =
        st == SLM_OK ? pcre2_general_context_create(pcre_alloc, pcre_free, NULL) : NULL;
    if (st == SLM_OK && !gc) st = slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    for (int k = 0; k < t->n_re && st == SLM_OK; k++) {
        w.md[k] = pcre2_match_data_create_from_pattern(t->re[k], gc);
        if (!w.md[k]) st = slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    }
    /* the cache is only a speed-up: without memory for it, words are merged every time */
    if (st == SLM_OK && n >= CACHE_MIN_TEXT) w.cache = slm__calloc(CACHE_SLOTS, sizeof *w.cache);
    if (st == SLM_OK) st = split(&w, 0, s, n);
    for (int k = 0; k < t->n_re; k++) pcre2_match_data_free(w.md[k]);
    pcre2_general_context_free(gc);
    slm__merger_free(&w.m);
    slm__free(w.mapped);
    slm__free(w.cache);
    slm__free(w.cache_ids.v);
    slm__free(normalized);
    return st;
}
