/* Byte-level BPE: the pre-tokenizer regexes cut the text into words, each word starts as one
 * symbol per byte (the token of that byte's byte-level character), and the adjacent pair with the
 * lowest merge rank is merged first (leftmost on ties) until no pair has a merge. A binary heap
 * with lazy invalidation keeps long words O(n log n). */
#include "tokenizer/internal.h"

#include <string.h>

struct pair {
    int32_t rank;
    int32_t left;
    int32_t lid, rid; /* ids when pushed: a pair whose symbols have changed since is stale */
};

struct bpe_work {
    const slm_tokenizer *t;
    slm__ids *out;
    pcre2_match_data *md[SLM__PRE_MAX_REGEX];
    /* per word, grown to the longest word seen */
    int32_t *id, *prev, *next;
    size_t cap_sym;
    struct pair *heap;
    size_t n_heap, cap_heap;
    char *mapped; /* byte-level spelling of a word, for ignore_merges */
};

static bool before(const struct pair *a, const struct pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(struct bpe_work *w, struct pair p) {
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(&p, &w->heap[up])) break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = p;
}

static struct pair heap_pop(struct bpe_work *w) {
    struct pair top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static void add_pair(struct bpe_work *w, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    int32_t merged;
    int32_t rank = slm__tok_merge(w->t, w->id[l], w->id[r], &merged);
    if (rank >= 0) heap_push(w, (struct pair){rank, l, w->id[l], w->id[r]});
}

static slm_status grow(struct bpe_work *w, size_t n) {
    if (n <= w->cap_sym) return SLM_OK;
    size_t cap = SLM_MAX(n, 2 * w->cap_sym);
    int32_t *id = slm__realloc(w->id, cap * sizeof *id);
    if (id) w->id = id;
    int32_t *prev = slm__realloc(w->prev, cap * sizeof *prev);
    if (prev) w->prev = prev;
    int32_t *next = slm__realloc(w->next, cap * sizeof *next);
    if (next) w->next = next;
    /* each symbol adds at most two pairs per merge plus one at the start */
    struct pair *heap = slm__realloc(w->heap, 3 * cap * sizeof *heap);
    if (heap) w->heap = heap;
    char *mapped = slm__realloc(w->mapped, 2 * cap);
    if (mapped) w->mapped = mapped;
    if (!id || !prev || !next || !heap || !mapped)
        return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    w->cap_sym = cap;
    return SLM_OK;
}

static slm_status bpe_word(struct bpe_work *w, const uint8_t *s, size_t n) {
    const slm_tokenizer *t = w->t;
    if (n == 1) return t->byte_tok[s[0]] >= 0 ? slm__ids_push(w->out, t->byte_tok[s[0]]) : SLM_OK;
    if (n > INT32_MAX / 4) return slm__error(SLM_E_OVERFLOW, "tokenize: word too long");
    slm_status st = grow(w, n);
    if (st != SLM_OK) return st;
    if (t->ignore_merges) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) m += (size_t)slm__bytelevel_encode(s[i], w->mapped + m);
        int32_t id = slm__tok_find(t, w->mapped, m);
        if (id >= 0) return slm__ids_push(w->out, id);
    }
    int32_t ns = (int32_t)n;
    for (int32_t i = 0; i < ns; i++) {
        w->id[i] = t->byte_tok[s[i]];
        w->prev[i] = i - 1;
        w->next[i] = i + 1 < ns ? i + 1 : -1;
    }
    w->n_heap = 0;
    for (int32_t i = 1; i < ns; i++) add_pair(w, i - 1, i);
    while (w->n_heap) {
        struct pair p = heap_pop(w);
        int32_t l = p.left, r = w->next[l];
        if (w->id[l] != p.lid || r < 0 || w->id[r] != p.rid) continue;
        int32_t merged = -1;
        slm__tok_merge(t, p.lid, p.rid, &merged);
        w->id[l] = merged;
        w->id[r] = -1;
        w->next[l] = w->next[r];
        if (w->next[r] >= 0) w->prev[w->next[r]] = l;
        add_pair(w, w->prev[l], l);
        add_pair(w, l, w->next[l]);
    }
    /* A byte whose character is missing from the vocabulary cannot be spelled: it is dropped,
     * as the reference does. */
    for (int32_t i = 0; i >= 0 && st == SLM_OK; i = w->next[i])
        if (w->id[i] >= 0) st = slm__ids_push(w->out, w->id[i]);
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

slm_status slm__bpe_encode(const slm_tokenizer *t, const char *s, size_t n, slm__ids *out) {
    struct bpe_work w = {.t = t, .out = out};
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
    slm__free(w.id);
    slm__free(w.prev);
    slm__free(w.next);
    slm__free(w.heap);
    slm__free(w.mapped);
    return st;
}
