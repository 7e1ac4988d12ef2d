/* slm_tokenize: splits the text around special tokens that appear in it (control tokens only with
 * SLM_TOKENIZE_PARSE_SPECIAL; user-defined tokens always), hands each raw fragment to the
 * vocabulary's encoder, and adds BOS/EOS/CLS/SEP as the metadata asks.
 *
 * The split follows the reference implementation exactly: tokens are taken longest text first,
 * and each one claims its leftmost non-overlapping occurrences inside the text not yet claimed by
 * a longer one. Occurrences are found in one pass over the text (hashing the substrings whose
 * first byte and length can start a special token) instead of one search per token. */
#include "tokenizer/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct occ {
    int32_t rank; /* position of the token in t->partition */
    int32_t id;
    size_t pos;
};

static int cmp_occ(const void *pa, const void *pb) {
    const struct occ *a = pa, *b = pb;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Finds every occurrence of an eligible special token; *occ is a new array (sorted by rank, then
 * position). */
static slm_status find_occurrences(const slm_tokenizer *t, const char *s, size_t n,
                                   bool parse_special, struct occ **occ, size_t *n_occ) {
    *occ = NULL;
    *n_occ = 0;
    const uint32_t *off = t->pl_off[parse_special];
    if (off[0] == off[256]) return SLM_OK;
    size_t cap = 0;
    struct occ *v = NULL;
    for (size_t p = 0; p < n; p++) {
        uint8_t b = (uint8_t)s[p];
        for (uint32_t k = off[b]; k < off[b + 1]; k++) {
            uint32_t L = t->plen[k];
            if (L > n - p) break;
            int32_t id = slm__tok_part_find(t, s + p, L);
            if (id < 0 || !slm__tok_partitions(t, id, parse_special)) continue;
            if (*n_occ == cap) {
                cap = cap ? cap * 2 : 16;
                struct occ *nv = slm__realloc(v, cap * sizeof *v);
                if (!nv) {
                    slm__free(v);
                    *n_occ = 0;
                    return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
                }
                v = nv;
            }
            v[(*n_occ)++] = (struct occ){t->part_rank[id], id, p};
        }
    }
    if (*n_occ) qsort(v, *n_occ, sizeof *v, cmp_occ);
    *occ = v;
    return SLM_OK;
}

/* Marks in claim[] (0 = raw text, -1 = whitespace eaten by LSTRIP/RSTRIP, id+1 at the first byte
 * of a claimed token and -2 on its other bytes) the occurrences each token takes. */
static void claim_occurrences(const slm_tokenizer *t, const char *s, size_t n,
                              const struct occ *occ, size_t n_occ, int32_t *claim) {
    size_t i = 0;
    while (i < n_occ) {
        int32_t rank = occ[i].rank, id = occ[i].id;
        uint32_t L;
        slm__tok_pattern(t, id, &L);
        uint8_t a = t->attr[id];
        size_t cursor = 0;
        for (; i < n_occ && occ[i].rank == rank; i++) {
            size_t p = occ[i].pos;
            if (p < cursor) continue;
            bool raw = true;
            for (size_t k = 0; k < L && raw; k++) raw = claim[p + k] == 0;
            if (!raw) continue;
            claim[p] = id + 1;
            for (size_t k = 1; k < L; k++) claim[p + k] = -2;
            cursor = p + L;
            if (a & SLM__TOK_LSTRIP)
                for (size_t q = p; q > 0 && claim[q - 1] == 0 && isspace((unsigned char)s[q - 1]);
                     q--)
                    claim[q - 1] = -1;
            if (a & SLM__TOK_RSTRIP)
                for (; cursor < n && claim[cursor] == 0 && isspace((unsigned char)s[cursor]);
                     cursor++)
                    claim[cursor] = -1;
        }
    }
}

static slm_status encode_raw(const slm_tokenizer *t, const char *s, size_t n, bool after_special,
                             slm__ids *out) {
    switch (t->kind) {
    case SLM_TOKENIZER_SPM:
        return slm__spm_encode(t, s, n, t->add_space_prefix && !t->normalize_first && after_special,
                               out);
    case SLM_TOKENIZER_BPE:
        return slm__bpe_encode(t, s, n, out);
    case SLM_TOKENIZER_WPM:
        return slm__wpm_encode(t, s, n, out);
    default:
        SLM_PANIC("bad tokenizer kind %d", (int)t->kind);
    }
}

static slm_status encode_fragments(const slm_tokenizer *t, const char *s, size_t n,
                                   bool parse_special, slm__ids *out) {
    struct occ *occ;
    size_t n_occ;
    slm_status st = find_occurrences(t, s, n, parse_special, &occ, &n_occ);
    if (st != SLM_OK) return st;
    if (!n_occ) return n ? encode_raw(t, s, n, true, out) : SLM_OK;
    int32_t *claim = slm__calloc(n, sizeof *claim);
    if (!claim) {
        slm__free(occ);
        return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
    }
    claim_occurrences(t, s, n, occ, n_occ, claim);
    slm__free(occ);
    bool after_special = true;
    size_t p = 0;
    while (p < n && st == SLM_OK) {
        if (claim[p] > 0) {
            st = slm__ids_push(out, claim[p] - 1);
            after_special = true;
            p++;
        } else if (claim[p] < 0) {
            p++;
        } else {
            size_t q = p;
            while (q < n && claim[q] == 0) q++;
            st = encode_raw(t, s + p, q - p, after_special, out);
            after_special = false;
            p = q;
        }
    }
    slm__free(claim);
    return st;
}

slm_status slm_tokenize(const slm_tokenizer *t, const char *text, size_t len, unsigned flags,
                        int32_t **ids, size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (!t || (!text && len)) return slm__error(SLM_E_INVALID_ARG, "tokenize: NULL argument");
    bool add = flags & SLM_TOKENIZE_ADD_SPECIAL;
    slm__ids out = {0};
    slm_status st = SLM_OK;
    int32_t bos =
        t->kind == SLM_TOKENIZER_WPM ? t->special[SLM_TOKEN_CLS] : t->special[SLM_TOKEN_BOS];
    int32_t eos =
        t->kind == SLM_TOKENIZER_WPM ? t->special[SLM_TOKEN_SEP] : t->special[SLM_TOKEN_EOS];
    bool add_eos = t->kind == SLM_TOKENIZER_WPM ? t->add_sep : t->add_eos;
    if (add && t->add_bos && bos >= 0) st = slm__ids_push(&out, bos);
    if (st == SLM_OK && t->normalize_first && len) {
        /* ▁ prefix and escaped spaces first, then special tokens are looked for */
        char *norm = slm__malloc(3 * len + 3);
        if (!norm) st = slm__error(SLM_E_NOMEM, "tokenize: out of memory");
        size_t m = 0;
        for (size_t i = 0; norm && i <= len; i++) {
            if (i == 0 || text[i - 1] == ' ') memcpy(norm + m, "\xe2\x96\x81", 3), m += 3;
            if (i < len && text[i] != ' ') norm[m++] = text[i];
        }
        if (norm) st = encode_fragments(t, norm, m, flags & SLM_TOKENIZE_PARSE_SPECIAL, &out);
        slm__free(norm);
    } else if (st == SLM_OK) {
        st = encode_fragments(t, text, len, flags & SLM_TOKENIZE_PARSE_SPECIAL, &out);
    }
    if (st == SLM_OK && add && add_eos && eos >= 0) st = slm__ids_push(&out, eos);
    if (st != SLM_OK) {
        slm__free(out.v);
        return st;
    }
    *ids = out.v;
    *n_ids = out.n;
    return SLM_OK;
}
