/* Rank-ordered BPE merging shared by byte-level BPE and the merge-ranked SentencePiece style of
 * tokenizer.json files: the adjacent pair with the lowest merge rank is merged first (leftmost
 * on ties) until no pair has a merge. A binary heap with lazy invalidation keeps long words
 * O(n log n). */
#include "tokenizer/internal.h"

struct slm__pair {
    int32_t rank;
    int32_t left;
    int32_t lid, rid; /* ids when pushed: a pair whose symbols have changed since is stale */
};

static bool before(const struct slm__pair *a, const struct slm__pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(slm__merger *m, struct slm__pair p) {
    size_t i = m->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(&p, &m->heap[up])) break;
        m->heap[i] = m->heap[up];
        i = up;
    }
    m->heap[i] = p;
}

static struct slm__pair heap_pop(slm__merger *m) {
    struct slm__pair top = m->heap[0], last = m->heap[--m->n_heap];
    size_t i = 0, n = m->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&m->heap[c + 1], &m->heap[c])) c++;
        if (!before(&m->heap[c], &last)) break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    if (n) m->heap[i] = last;
    return top;
}

static void add_pair(const slm_tokenizer *t, slm__merger *m, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    int32_t merged;
    int32_t rank = slm__tok_merge(t, m->id[l], m->id[r], &merged);
    if (rank >= 0) heap_push(m, (struct slm__pair){rank, l, m->id[l], m->id[r]});
}

slm_status slm__merger_reserve(slm__merger *m, size_t n) {
    if (n > INT32_MAX / 4) return slm__error(SLM_E_OVERFLOW, "tokenize: word too long");
    if (n <= m->cap) return SLM_OK;
    size_t cap = SLM_MAX(n, 2 * m->cap);
    int32_t *id = slm__realloc(m->id, cap * sizeof *id);
    if (id) m->id = id;
    int32_t *prev = slm__realloc(m->prev, cap * sizeof *prev);
    if (prev) m->prev = prev;
    int32_t *next = slm__realloc(m->next, cap * sizeof *next);
    if (next) m->next = next;
    uint32_t *len = slm__realloc(m->len, cap * sizeof *len);
    if (len) m->len = len;
    /* n - 1 pairs at the start, at most two more per merge */
    struct slm__pair *heap = slm__realloc(m->heap, 3 * cap * sizeof *heap);
    if (heap) m->heap = heap;
    if (!id || !prev || !next || !len || !heap)
        return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    m->cap = cap;
    return SLM_OK;
}

void slm__merger_run(const slm_tokenizer *t, slm__merger *m, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        m->prev[i] = i - 1;
        m->next[i] = i + 1 < n ? i + 1 : -1;
    }
    m->n_heap = 0;
    for (int32_t i = 1; i < n; i++) add_pair(t, m, i - 1, i);
    while (m->n_heap) {
        struct slm__pair p = heap_pop(m);
        int32_t l = p.left, r = m->next[l];
        if (m->id[l] != p.lid || r < 0 || m->id[r] != p.rid) continue;
        int32_t merged = -1;
        slm__tok_merge(t, p.lid, p.rid, &merged);
        m->id[l] = merged;
        m->len[l] += m->len[r];
        m->id[r] = -1;
        m->len[r] = 0;
        m->next[l] = m->next[r];
        if (m->next[r] >= 0) m->prev[m->next[r]] = l;
        add_pair(t, m, m->prev[l], l);
        add_pair(t, m, l, m->next[l]);
    }
}

void slm__merger_free(slm__merger *m) {
    slm__free(m->id);
    slm__free(m->prev);
    slm__free(m->next);
    slm__free(m->len);
    slm__free(m->heap);
}
