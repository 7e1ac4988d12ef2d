/* SentencePiece-style BPE (llama, phi-3, stories): spaces become ▁ (plus a dummy prefix), the text
 * is split into characters, and the adjacent pair whose concatenation is the highest-scoring
 * token is merged first (leftmost on ties) until no pair forms a token; vocabularies from a
 * tokenizer.json merge by rank instead (merge.c). Characters left without a token fall back to
 * <0xXX> byte tokens, or to the unknown token when the vocabulary has none. */
#include "tokenizer/internal.h"

#include <string.h>

struct bigram {
    float score;
    int32_t left, right;
    uint32_t size; /* bytes of the merged text when pushed; a mismatch marks it stale */
    int32_t id;
};

struct spm_work {
    char *buf; /* escaped text */
    uint32_t *start, *len;
    int32_t *prev, *next;
    struct bigram *heap;
    size_t n_heap, cap_heap;
};

static bool before(const struct bigram *a, const struct bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static slm_status heap_push(struct spm_work *w, struct bigram b) {
    if (w->n_heap == w->cap_heap) {
        size_t cap = w->cap_heap ? w->cap_heap * 2 : 64;
        struct bigram *h = slm__realloc(w->heap, cap * sizeof *h);
        if (!h) return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
        w->heap = h;
        w->cap_heap = cap;
    }
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = b;
    return SLM_OK;
}

static struct bigram heap_pop(struct spm_work *w) {
    struct bigram top = w->heap[0], last = w->heap[--w->n_heap];
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

static slm_status try_bigram(const slm_tokenizer *t, struct spm_work *w, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return SLM_OK;
    uint32_t size = w->len[l] + w->len[r];
    int32_t id = slm__tok_find(t, w->buf + w->start[l], size);
    if (id < 0) return SLM_OK;
    return heap_push(w, (struct bigram){t->score[id], l, r, size, id});
}

/* Appends a symbol that is not a token: its byte tokens if the vocabulary has all of them, else
 * the unknown token (once for a run of such symbols when *prev_unk and the vocabulary fuses). */
static slm_status emit_unknown(const slm_tokenizer *t, const char *s, uint32_t n, bool *prev_unk,
                               slm__ids *out) {
    bool bytes = true;
    for (uint32_t k = 0; k < n; k++) bytes = bytes && t->byte_tok[(uint8_t)s[k]] >= 0;
    if (bytes) {
        slm_status st = SLM_OK;
        for (uint32_t k = 0; k < n && st == SLM_OK; k++)
            st = slm__ids_push(out, t->byte_tok[(uint8_t)s[k]]);
        *prev_unk = false;
        return st;
    }
    if (t->special[SLM_TOKEN_UNK] < 0)
        return slm__error(SLM_E_INVALID_INPUT,
                          "tokenize: the vocabulary cannot spell '%.*s' and has no unknown token",
                          (int)n, s);
    if (*prev_unk && t->fuse_unk) return SLM_OK;
    *prev_unk = true;
    return slm__ids_push(out, t->special[SLM_TOKEN_UNK]);
}

/* Tokenizers from tokenizer.json merge by rank, not by score. */
static slm_status merge_ranked(const slm_tokenizer *t, struct spm_work *w, int32_t n_sym,
                               slm__ids *out) {
    slm__merger m = {0};
    slm_status st = slm__merger_reserve(&m, (size_t)n_sym);
    for (int32_t i = 0; i < n_sym && st == SLM_OK; i++) {
        m.id[i] = slm__tok_find(t, w->buf + w->start[i], w->len[i]);
        m.len[i] = w->len[i];
    }
    if (st == SLM_OK && n_sym) slm__merger_run(t, &m, n_sym);
    bool prev_unk = false;
    uint32_t pos = 0;
    for (int32_t i = n_sym ? 0 : -1; i >= 0 && st == SLM_OK; i = m.next[i]) {
        if (m.id[i] >= 0) {
            st = slm__ids_push(out, m.id[i]);
            prev_unk = false;
        } else {
            st = emit_unknown(t, w->buf + pos, m.len[i], &prev_unk, out);
        }
        pos += m.len[i];
    }
    slm__merger_free(&m);
    return st;
}

slm_status slm__spm_encode(const slm_tokenizer *t, const char *s, size_t n, bool prefix_space,
                           slm__ids *out) {
    static const char sp[3] = "\xe2\x96\x81"; /* ▁ */
    size_t cap = 3 * n + 3;
    if (cap >= UINT32_MAX) return slm__error(SLM_E_OVERFLOW, "tokenize: text too long");
    struct spm_work w = {0};
    w.buf = slm__malloc(cap);
    w.start = slm__malloc(cap * sizeof *w.start);
    w.len = slm__malloc(cap * sizeof *w.len);
    w.prev = slm__malloc(cap * sizeof *w.prev);
    w.next = slm__malloc(cap * sizeof *w.next);
    slm_status st = SLM_OK;
    if (!w.buf || !w.start || !w.len || !w.prev || !w.next) {
        st = slm__error(SLM_E_NOMEM, "tokenize: out of memory");
        goto done;
    }
    size_t m = 0;
    if (prefix_space) memcpy(w.buf, sp, 3), m = 3;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            memcpy(w.buf + m, sp, 3), m += 3;
        else
            w.buf[m++] = s[i];
    }
    /* characters; a byte that starts no well-formed sequence is a symbol of its own */
    int32_t n_sym = 0;
    for (size_t i = 0; i < m;) {
        int l = slm__utf8_seq_len(w.buf + i, m - i);
        if (l <= 0) l = 1;
        w.start[n_sym] = (uint32_t)i;
        w.len[n_sym] = (uint32_t)l;
        w.prev[n_sym] = n_sym - 1;
        w.next[n_sym] = i + (size_t)l < m ? n_sym + 1 : -1;
        n_sym++;
        i += (size_t)l;
    }
    if (t->merge_key) {
        st = merge_ranked(t, &w, n_sym, out);
        goto done;
    }
    for (int32_t i = 1; i < n_sym && st == SLM_OK; i++) st = try_bigram(t, &w, i - 1, i);
    while (w.n_heap && st == SLM_OK) {
        struct bigram b = heap_pop(&w);
        if (!w.len[b.left] || !w.len[b.right] || w.len[b.left] + w.len[b.right] != b.size) continue;
        w.len[b.left] += w.len[b.right];
        w.len[b.right] = 0;
        w.next[b.left] = w.next[b.right];
        if (w.next[b.right] >= 0) w.prev[w.next[b.right]] = b.left;
        st = try_bigram(t, &w, w.prev[b.left], b.left);
        if (st == SLM_OK) st = try_bigram(t, &w, b.left, w.next[b.left]);
    }
    bool prev_unk = false;
    for (int32_t i = n_sym ? 0 : -1; i >= 0 && st == SLM_OK; i = w.next[i]) {
        const char *sym = w.buf + w.start[i];
        int32_t id = slm__tok_find(t, sym, w.len[i]);
        if (id >= 0) {
            st = slm__ids_push(out, id);
            prev_unk = false;
        } else {
            st = emit_unknown(t, sym, w.len[i], &prev_unk, out);
        }
    }
done:
    slm__free(w.buf);
    slm__free(w.start);
    slm__free(w.len);
    slm__free(w.prev);
    slm__free(w.next);
    slm__free(w.heap);
    return st;
}
