/* Decoding: ids -> text. SentencePiece pieces turn ▁ back into spaces and byte tokens into their
 * byte, byte-level BPE pieces map each character back to its byte, WordPiece joins pieces with
 * spaces except continuations. The streaming decoder holds back an incomplete UTF-8 sequence
 * until the token that completes it arrives. */
#include "tokenizer/internal.h"

#include <string.h>

struct buf {
    char *p;
    size_t n, cap;
};

static slm_status buf_put(struct buf *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = SLM_MAX(b->cap * 2, b->n + n + 64);
        char *p = slm__realloc(b->p, cap);
        if (!p) return slm__error(SLM_E_NOMEM, "detokenize: out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return SLM_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Appends the bytes token id stands for; *strip: remove one leading space from this piece if it
 * produces any output (cleared once something was written). */
static slm_status render(const slm_tokenizer *t, int32_t id, unsigned flags, bool *strip,
                         struct buf *b) {
    if (id < 0 || id >= t->n_vocab)
        return slm__error(SLM_E_INVALID_INPUT, "detokenize: token id %d out of range", id);
    const char *s = t->pool + t->off[id];
    size_t n = t->len[id];
    uint8_t a = t->attr[id];
    size_t mark = b->n;
    slm_status st = SLM_OK;
    if (a & SLM__TOK_CONTROL) {
        if (!(flags & SLM_DECODE_SPECIAL)) return SLM_OK;
        st = buf_put(b, s, n);
    } else if (a & (SLM__TOK_USER | SLM__TOK_UNKNOWN)) {
        st = buf_put(b, s, n);
    } else if (t->kind == SLM_TOKENIZER_SPM && (a & SLM__TOK_BYTE) && n == 6 && hexval(s[3]) >= 0 &&
               hexval(s[4]) >= 0) {
        uint8_t byte = (uint8_t)(hexval(s[3]) * 16 + hexval(s[4]));
        st = buf_put(b, &byte, 1);
    } else if (t->kind == SLM_TOKENIZER_BPE) {
        for (size_t i = 0; i < n && st == SLM_OK;) {
            int l = slm__utf8_seq_len(s + i, n - i);
            if (l <= 0) l = 1;
            uint32_t cp = (uint8_t)s[i];
            if (l == 2) cp = (uint32_t)(s[i] & 0x1F) << 6 | (uint32_t)(s[i + 1] & 0x3F);
            int byte = l <= 2 ? slm__bytelevel_decode(cp) : -1;
            if (byte >= 0) {
                uint8_t c = (uint8_t)byte;
                st = buf_put(b, &c, 1);
            } else {
                st = buf_put(b, s + i, (size_t)l);
            }
            i += (size_t)l;
        }
    } else {
        /* SentencePiece and WordPiece: ▁ stands for a space. */
        for (size_t i = 0; i < n && st == SLM_OK;) {
            if (i + 3 <= n && !memcmp(s + i, "\xe2\x96\x81", 3)) {
                st = buf_put(b, " ", 1);
                i += 3;
            } else {
                size_t j = i + 1;
                while (j < n && !(j + 3 <= n && !memcmp(s + j, "\xe2\x96\x81", 3))) j++;
                st = buf_put(b, s + i, j - i);
                i = j;
            }
        }
    }
    if (st == SLM_OK && *strip && b->n > mark) {
        if (b->p[mark] == ' ') {
            memmove(b->p + mark, b->p + mark + 1, b->n - mark - 1);
            b->n--;
            b->p[b->n] = '\0';
        }
        *strip = false;
    }
    return st;
}

static bool strips_first_space(const slm_tokenizer *t) {
    return (t->kind == SLM_TOKENIZER_SPM && t->add_space_prefix) || t->kind == SLM_TOKENIZER_WPM;
}

slm_status slm_detokenize(const slm_tokenizer *t, const int32_t *ids, size_t n_ids, unsigned flags,
                          char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    if (!t || (!ids && n_ids)) return slm__error(SLM_E_INVALID_ARG, "detokenize: NULL argument");
    struct buf b = {0};
    bool strip = strips_first_space(t);
    slm_status st = buf_put(&b, "", 0);
    for (size_t i = 0; i < n_ids && st == SLM_OK; i++) st = render(t, ids[i], flags, &strip, &b);
    if (st != SLM_OK) {
        slm__free(b.p);
        return st;
    }
    *text = b.p;
    *len = b.n;
    return SLM_OK;
}

/* ---- streaming ---- */

struct slm_detok_stream {
    const slm_tokenizer *t;
    unsigned flags;
    bool strip;
    struct buf pending; /* bytes not yet emitted: at most an incomplete sequence between calls */
    struct buf out;
};

slm_status slm_detok_stream_create(const slm_tokenizer *t, unsigned flags, slm_detok_stream **out) {
    if (!out) return slm__error(SLM_E_INVALID_ARG, "detok stream: NULL out");
    *out = NULL;
    if (!t) return slm__error(SLM_E_INVALID_ARG, "detok stream: NULL tokenizer");
    slm_detok_stream *s = slm__calloc(1, sizeof *s);
    if (!s) return slm__error(SLM_E_NOMEM, "detok stream: out of memory");
    s->t = t;
    s->flags = flags;
    s->strip = strips_first_space(t);
    *out = s;
    return SLM_OK;
}

void slm_detok_stream_free(slm_detok_stream *s) {
    if (!s) return;
    slm__free(s->pending.p);
    slm__free(s->out.p);
    slm__free(s);
}

/* Length of the longest prefix of p[0..n) that is the start of a well-formed sequence (its
 * "maximal subpart"); 0 if p[0] cannot start one. */
static size_t utf8_subpart(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    size_t need = c >= 0xC2 && c <= 0xDF   ? 2
                  : c >= 0xE0 && c <= 0xEF ? 3
                  : c >= 0xF0 && c <= 0xF4 ? 4
                                           : 0;
    if (!need) return 0;
    size_t k = 1;
    for (; k < n && k < need; k++) {
        uint8_t lo = 0x80, hi = 0xBF;
        if (k == 1) {
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        }
        if (p[k] < lo || p[k] > hi) break;
    }
    return k;
}

/* Moves the complete characters of pending into out. An ill-formed sequence becomes one U+FFFD
 * per maximal subpart (the Unicode recommendation); an incomplete one at the end waits for more
 * bytes unless this is the final drain. */
static slm_status drain(slm_detok_stream *s, bool final) {
    const uint8_t *p = (const uint8_t *)s->pending.p;
    size_t n = s->pending.n, i = 0;
    slm_status st = SLM_OK;
    while (i < n && st == SLM_OK) {
        int l = slm__utf8_seq_len((const char *)p + i, n - i);
        if (l > 0) {
            size_t j = i + (size_t)l;
            while (j < n && (l = slm__utf8_seq_len((const char *)p + j, n - j)) > 0) j += (size_t)l;
            st = buf_put(&s->out, p + i, j - i);
            i = j;
            continue;
        }
        size_t k = utf8_subpart(p + i, n - i);
        if (!final && k && i + k == n) break;
        st = buf_put(&s->out, "\xef\xbf\xbd", 3);
        i += k ? k : 1;
    }
    if (i && i < n) memmove(s->pending.p, s->pending.p + i, n - i);
    s->pending.n = n - i;
    return st;
}

slm_status slm_detok_stream_push(slm_detok_stream *s, int32_t id, const char **text, size_t *len) {
    *text = "";
    *len = 0;
    s->out.n = 0;
    slm_status st = render(s->t, id, s->flags, &s->strip, &s->pending);
    if (st == SLM_OK) st = drain(s, false);
    if (st != SLM_OK) return st;
    *text = s->out.n ? s->out.p : "";
    *len = s->out.n;
    return SLM_OK;
}

slm_status slm_detok_stream_flush(slm_detok_stream *s, const char **text, size_t *len) {
    *text = "";
    *len = 0;
    s->out.n = 0;
    slm_status st = drain(s, true);
    s->pending.n = 0;
    s->strip = strips_first_space(s->t);
    if (st != SLM_OK) return st;
    *text = s->out.n ? s->out.p : "";
    *len = s->out.n;
    return SLM_OK;
}
