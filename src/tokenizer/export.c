/* Writing a tokenizer back as GGUF tokenizer.* metadata, the way the reference converter writes
 * it, so that `slm convert` can turn a tokenizer.json into the keys other GGUF readers expect and
 * a GGUF vocabulary can be copied. */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

/* Attribute -> GGUF token_type (control before user-defined: a token has one type). */
static int32_t token_type(uint8_t a) {
    if (a & SLM__TOK_CONTROL) return 3;
    if (a & SLM__TOK_USER) return 4;
    if (a & SLM__TOK_UNKNOWN) return 2;
    if (a & SLM__TOK_BYTE) return 6;
    if (a & SLM__TOK_UNUSED) return 5;
    if (a & SLM__TOK_NORMAL) return 1;
    return 0;
}

struct merge_entry {
    int32_t rank, a, b, result;
};

static int cmp_rank(const void *pa, const void *pb) {
    const struct merge_entry *a = pa, *b = pb;
    return (a->rank > b->rank) - (a->rank < b->rank);
}

/* The merge table in rank order; *out is a new array. */
static slm_status merges_by_rank(const slm_tokenizer *t, struct merge_entry **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!t->merge_key) return SLM_OK;
    size_t count = 0;
    for (uint64_t h = 0; h <= t->merge_mask; h++) count += t->merge_key[h] != 0;
    struct merge_entry *v = slm__malloc((count + 1) * sizeof *v);
    if (!v) return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    for (uint64_t h = 0; h <= t->merge_mask; h++) {
        uint64_t key = t->merge_key[h];
        if (!key) continue;
        key -= 1;
        v[(*n)++] = (struct merge_entry){t->merge_rank[h], (int32_t)(key >> 32),
                                         (int32_t)(uint32_t)key, t->merge_id[h]};
    }
    qsort(v, *n, sizeof *v, cmp_rank);
    *out = v;
    return SLM_OK;
}

/* Scores of a rank-merged SentencePiece vocabulary, as the reference converter derives them:
 * special tokens 0, a token made by a merge minus the rank of its first merge, any other token
 * minus (number of merges + its id). */
static void scores_from_ranks(const slm_tokenizer *t, const struct merge_entry *m, size_t n_m,
                              float *score) {
    for (int32_t i = 0; i < t->n_vocab; i++) score[i] = -(float)(n_m + (size_t)i);
    for (size_t k = n_m; k-- > 0;) score[m[k].result] = -(float)m[k].rank;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (SLM__TOK_CONTROL | SLM__TOK_USER | SLM__TOK_UNKNOWN)) score[i] = 0.0f;
}

static slm_status write_merges(const slm_tokenizer *t, const struct merge_entry *m, size_t n_m,
                               slm_gguf_writer *w) {
    const char **strs = slm__malloc((n_m + 1) * sizeof *strs);
    char *pool = slm__malloc(n_m * (2 * (size_t)t->max_token_len + 2) + 1);
    if (!strs || !pool) {
        slm__free(strs);
        slm__free(pool);
        return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    }
    size_t used = 0;
    for (size_t k = 0; k < n_m; k++) {
        strs[k] = pool + used;
        memcpy(pool + used, t->pool + t->off[m[k].a], t->len[m[k].a]);
        used += t->len[m[k].a];
        pool[used++] = ' ';
        memcpy(pool + used, t->pool + t->off[m[k].b], t->len[m[k].b]);
        used += t->len[m[k].b];
        pool[used++] = '\0';
    }
    slm_status st = slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", strs, n_m);
    slm__free(strs);
    slm__free(pool);
    return st;
}

static const char *const role_keys[SLM_TOKEN_ROLE_COUNT] = {
    [SLM_TOKEN_BOS] = "tokenizer.ggml.bos_token_id",
    [SLM_TOKEN_EOS] = "tokenizer.ggml.eos_token_id",
    [SLM_TOKEN_UNK] = "tokenizer.ggml.unknown_token_id",
    [SLM_TOKEN_SEP] = "tokenizer.ggml.seperator_token_id",
    [SLM_TOKEN_PAD] = "tokenizer.ggml.padding_token_id",
    [SLM_TOKEN_CLS] = "tokenizer.ggml.cls_token_id",
    [SLM_TOKEN_MASK] = "tokenizer.ggml.mask_token_id",
};

static const char *const model_names[SLM_TOKENIZER_KIND_COUNT] = {
    [SLM_TOKENIZER_SPM] = "llama", [SLM_TOKENIZER_BPE] = "gpt2", [SLM_TOKENIZER_WPM] = "bert"};

slm_status slm_tokenizer_write_gguf(const slm_tokenizer *t, slm_gguf_writer *w) {
    if (!t || !w) return slm__error(SLM_E_INVALID_ARG, "tokenizer: NULL argument");
    if (t->kind == SLM_TOKENIZER_BPE && t->pre < 0)
        return slm__error(SLM_E_UNSUPPORTED,
                          "tokenizer: its pre-tokenizer has no GGUF name (tokenizer.ggml.pre)");
    size_t n = (size_t)t->n_vocab;
    const char **toks = slm__malloc(n * sizeof *toks);
    int32_t *types = slm__malloc(n * sizeof *types);
    float *scores = t->kind == SLM_TOKENIZER_SPM ? slm__malloc(n * sizeof *scores) : NULL;
    struct merge_entry *m = NULL;
    size_t n_m = 0;
    slm_status st = SLM_OK;
    if (!toks || !types || (t->kind == SLM_TOKENIZER_SPM && !scores))
        st = slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    if (st == SLM_OK) st = merges_by_rank(t, &m, &n_m);
    if (st == SLM_OK) {
        for (size_t i = 0; i < n; i++) {
            toks[i] = t->pool + t->off[i];
            types[i] = token_type(t->attr[i]);
        }
        if (scores && t->score)
            memcpy(scores, t->score, n * sizeof *scores);
        else if (scores)
            scores_from_ranks(t, m, n_m, scores);
    }
    if (st == SLM_OK) st = slm_gguf_writer_set_str(w, "tokenizer.ggml.model", model_names[t->kind]);
    if (st == SLM_OK)
        st = slm_gguf_writer_set_str(w, "tokenizer.ggml.pre",
                                     t->kind == SLM_TOKENIZER_BPE ? t->pre_name : "default");
    /* token texts hold no NUL in GGUF vocabularies; one that does cannot be written as a C string
     */
    for (size_t i = 0; i < n && st == SLM_OK; i++)
        if (strlen(toks[i]) != t->len[i])
            st = slm__error(SLM_E_UNSUPPORTED, "tokenizer: token %zu contains a NUL byte", i);
    if (st == SLM_OK) st = slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, n);
    if (st == SLM_OK && scores)
        st = slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, scores, n);
    if (st == SLM_OK)
        st = slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_INT32, types, n);
    if (st == SLM_OK && t->kind == SLM_TOKENIZER_BPE) st = write_merges(t, m, n_m, w);
    for (int r = 0; r < SLM_TOKEN_ROLE_COUNT && st == SLM_OK; r++) {
        /* WordPiece names its sequence tokens CLS and SEP; BOS is the CLS alias */
        if (t->kind == SLM_TOKENIZER_WPM && (r == SLM_TOKEN_BOS || r == SLM_TOKEN_EOS)) continue;
        if (t->special[r] >= 0)
            st = slm_gguf_writer_set_u32(w, role_keys[r], (uint32_t)t->special[r]);
    }
    if (st == SLM_OK && t->kind != SLM_TOKENIZER_WPM) {
        st = slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos);
        if (st == SLM_OK)
            st = slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", t->add_eos);
    }
    if (st == SLM_OK && t->kind == SLM_TOKENIZER_SPM && !t->add_space_prefix)
        st = slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", false);
    slm__free(toks);
    slm__free(types);
    slm__free(scores);
    slm__free(m);
    return st;
}
