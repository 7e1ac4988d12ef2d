/* The vocabulary tables every tokenizer kind shares: token texts in one pool, the text -> id hash
 * map, the BPE merge map, byte tables and the list of tokens matched in raw text. */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

uint64_t slm__hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0x100000001b3ULL);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = slm__mix64(h ^ w);
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    return slm__mix64(h ^ w ^ 0x5bd1e995);
}

static uint64_t pow2_at_least(uint64_t n) {
    uint64_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

slm_status slm__tok_alloc(slm_tokenizer_kind kind, int32_t n, size_t pool_bytes,
                          slm_tokenizer **out) {
    *out = NULL;
    if (n <= 0) return slm__error(SLM_E_INVALID_MODEL, "tokenizer: empty vocabulary");
    if (pool_bytes + (size_t)n >= UINT32_MAX)
        return slm__error(SLM_E_INVALID_MODEL, "tokenizer: token texts too large");
    slm_tokenizer *t = slm__calloc(1, sizeof *t);
    if (!t) return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    t->kind = kind;
    t->n_vocab = n;
    t->pool = slm__malloc(pool_bytes + (size_t)n);
    t->off = slm__malloc((size_t)n * sizeof *t->off);
    t->len = slm__malloc((size_t)n * sizeof *t->len);
    t->attr = slm__calloc((size_t)n, 1);
    uint64_t cap = pow2_at_least((uint64_t)n * 2);
    t->map = slm__malloc(cap * sizeof *t->map);
    t->map_mask = (uint32_t)(cap - 1);
    if (!t->pool || !t->off || !t->len || !t->attr || !t->map) {
        slm_tokenizer_free(t);
        return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    }
    memset(t->map, 0xff, cap * sizeof *t->map);
    for (int r = 0; r < SLM_TOKEN_ROLE_COUNT; r++) t->special[r] = -1;
    for (int b = 0; b < 256; b++) t->byte_tok[b] = -1;
    t->pre = -1;
    t->pre_name = "default";
    *out = t;
    return SLM_OK;
}

void slm__tok_set_text(slm_tokenizer *t, int32_t i, const char *s, size_t n, size_t *pool_used) {
    t->off[i] = (uint32_t)*pool_used;
    t->len[i] = (uint32_t)n;
    memcpy(t->pool + *pool_used, s, n);
    t->pool[*pool_used + n] = '\0';
    *pool_used += n + 1;
    if (n > t->max_token_len) t->max_token_len = (uint32_t)n;
}

int32_t slm__tok_find(const slm_tokenizer *t, const char *s, size_t n) {
    for (uint32_t h = (uint32_t)slm__hash_bytes(s, n) & t->map_mask;; h = (h + 1) & t->map_mask) {
        int32_t id = t->map[h];
        if (id < 0) return -1;
        if (t->len[id] == n && !memcmp(t->pool + t->off[id], s, n)) return id;
    }
}

slm_status slm__tok_alloc_merges(slm_tokenizer *t, uint64_t n_merges) {
    uint64_t cap = pow2_at_least(n_merges * 2 + 1);
    t->merge_key = slm__calloc(cap, sizeof *t->merge_key);
    t->merge_rank = slm__malloc(cap * sizeof *t->merge_rank);
    t->merge_id = slm__malloc(cap * sizeof *t->merge_id);
    if (!t->merge_key || !t->merge_rank || !t->merge_id)
        return slm__error(SLM_E_NOMEM, "tokenizer: out of memory for %llu merges",
                          (unsigned long long)n_merges);
    t->merge_mask = cap - 1;
    return SLM_OK;
}

void slm__tok_add_merge(slm_tokenizer *t, int32_t a, int32_t b, int32_t merged, int32_t rank) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    uint64_t h = slm__mix64(key) & t->merge_mask;
    while (t->merge_key[h]) {
        if (t->merge_key[h] == key) return;
        h = (h + 1) & t->merge_mask;
    }
    t->merge_key[h] = key;
    t->merge_rank[h] = rank;
    t->merge_id[h] = merged;
}

static int cmp_partition(const void *pa, const void *pb, void *ctx) {
    const slm_tokenizer *t = ctx;
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    uint32_t la, lb;
    slm__tok_pattern(t, a, &la);
    slm__tok_pattern(t, b, &lb);
    if (la != lb) return la > lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

bool slm__tok_partitions(const slm_tokenizer *t, int32_t id, bool parse_special) {
    uint8_t a = t->attr[id];
    uint32_t len;
    slm__tok_pattern(t, id, &len);
    if (!(a & (SLM__TOK_CONTROL | SLM__TOK_USER | SLM__TOK_UNKNOWN)) || !len) return false;
    return parse_special || !(a & (SLM__TOK_CONTROL | SLM__TOK_UNKNOWN));
}

static int cmp_u64(const void *pa, const void *pb) {
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

int32_t slm__tok_part_find(const slm_tokenizer *t, const char *s, size_t n) {
    for (uint32_t h = (uint32_t)slm__hash_bytes(s, n) & t->pmap_mask;; h = (h + 1) & t->pmap_mask) {
        int32_t id = t->pmap[h];
        if (id < 0) return -1;
        uint32_t len;
        const char *p = slm__tok_pattern(t, id, &len);
        if (len == n && !memcmp(p, s, n)) return id;
    }
}

/* part_rank, the pattern map and, per mode and first byte, the distinct pattern lengths of
 * eligible tokens. */
static slm_status build_partition_tables(slm_tokenizer *t) {
    uint64_t cap = pow2_at_least(2 * (uint64_t)t->n_partition + 1);
    t->pmap = slm__malloc(cap * sizeof *t->pmap);
    if (!t->pmap) return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    memset(t->pmap, 0xff, cap * sizeof *t->pmap);
    t->pmap_mask = (uint32_t)(cap - 1);
    /* longest first, so a duplicated pattern maps to the token that is tried first */
    for (int32_t r = t->n_partition - 1; r >= 0; r--) {
        int32_t id = t->partition[r];
        uint32_t len;
        const char *p = slm__tok_pattern(t, id, &len);
        uint32_t h = (uint32_t)slm__hash_bytes(p, len) & t->pmap_mask;
        for (; t->pmap[h] >= 0; h = (h + 1) & t->pmap_mask) {
            uint32_t ol;
            const char *o = slm__tok_pattern(t, t->pmap[h], &ol);
            if (ol == len && !memcmp(o, p, len)) break;
        }
        t->pmap[h] = id;
    }
    t->part_rank = slm__malloc((size_t)t->n_vocab * sizeof *t->part_rank);
    /* keys (mode, first byte, length), sorted and deduplicated */
    uint64_t *keys = slm__malloc(2 * ((size_t)t->n_partition + 1) * sizeof *keys);
    t->plen = slm__malloc(2 * ((size_t)t->n_partition + 1) * sizeof *t->plen);
    if (!t->part_rank || !keys || !t->plen) {
        slm__free(keys);
        return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    }
    memset(t->part_rank, 0xff, (size_t)t->n_vocab * sizeof *t->part_rank);
    size_t nk = 0;
    for (int32_t r = 0; r < t->n_partition; r++) {
        int32_t id = t->partition[r];
        t->part_rank[id] = r;
        uint32_t len;
        uint64_t b = (uint8_t)*slm__tok_pattern(t, id, &len);
        for (uint64_t m = 0; m < 2; m++)
            if (slm__tok_partitions(t, id, m == 1)) keys[nk++] = m << 40 | b << 32 | len;
    }
    qsort(keys, nk, sizeof *keys, cmp_u64);
    size_t np = 0;
    memset(t->pl_off, 0, sizeof t->pl_off);
    for (size_t k = 0; k < nk; k++) {
        if (k && keys[k] == keys[k - 1]) continue;
        unsigned m = (unsigned)(keys[k] >> 40), b = (unsigned)(keys[k] >> 32) & 0xff;
        t->plen[np++] = (uint32_t)keys[k];
        t->pl_off[m][b + 1]++;
    }
    /* counts -> offsets: mode 0 occupies the start of plen, mode 1 follows */
    uint32_t base = 0;
    for (unsigned m = 0; m < 2; m++) {
        t->pl_off[m][0] = base;
        for (unsigned b = 1; b <= 256; b++) t->pl_off[m][b] += t->pl_off[m][b - 1];
        base = t->pl_off[m][256];
    }
    slm__free(keys);
    return SLM_OK;
}

slm_status slm__tok_finish(slm_tokenizer *t) {
    int32_t n_part = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const char *s = t->pool + t->off[i];
        uint32_t n = t->len[i];
        uint32_t h = (uint32_t)slm__hash_bytes(s, n) & t->map_mask;
        for (; t->map[h] >= 0; h = (h + 1) & t->map_mask) {
            int32_t o = t->map[h];
            if (t->len[o] == n && !memcmp(t->pool + t->off[o], s, n)) break;
        }
        /* A duplicate text maps to its last id, as in the reference implementation. */
        t->map[h] = i;
        if (slm__tok_partitions(t, i, true)) n_part++;
    }
    t->partition = slm__malloc(((size_t)n_part + 1) * sizeof *t->partition);
    if (!t->partition) return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (slm__tok_partitions(t, i, true)) t->partition[t->n_partition++] = i;
    qsort_r(t->partition, (size_t)t->n_partition, sizeof *t->partition, cmp_partition, t);
    slm_status st = build_partition_tables(t);
    if (st != SLM_OK) return st;

    if (t->kind == SLM_TOKENIZER_SPM) {
        for (int b = 0; b < 256; b++) {
            char hex[8];
            static const char digits[] = "0123456789ABCDEF";
            memcpy(hex, "<0x", 3);
            hex[3] = digits[b >> 4];
            hex[4] = digits[b & 15];
            hex[5] = '>';
            t->byte_tok[b] = slm__tok_find(t, hex, 6);
        }
    } else if (t->kind == SLM_TOKENIZER_BPE) {
        for (int b = 0; b < 256; b++) {
            char u[2];
            int n = slm__bytelevel_encode((uint8_t)b, u);
            t->byte_tok[b] = slm__tok_find(t, u, (size_t)n);
        }
    }
    return SLM_OK;
}

void slm_tokenizer_free(slm_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
    slm__free(t->pool);
    slm__free(t->off);
    slm__free(t->len);
    slm__free(t->score);
    slm__free(t->attr);
    slm__free(t->map);
    slm__free(t->merge_key);
    slm__free(t->merge_rank);
    slm__free(t->merge_id);
    slm__free(t->partition);
    slm__free(t->part_rank);
    slm__free(t->plen);
    slm__free(t->ppool);
    slm__free(t->poff);
    slm__free(t->pblen);
    slm__free(t->pmap);
    slm__free(t);
}

slm_tokenizer_kind slm_tokenizer_get_kind(const slm_tokenizer *t) {
    return t->kind;
}

const char *slm_tokenizer_kind_name(slm_tokenizer_kind k) {
    static const char *const names[SLM_TOKENIZER_KIND_COUNT] = {
        [SLM_TOKENIZER_SPM] = "spm", [SLM_TOKENIZER_BPE] = "bpe", [SLM_TOKENIZER_WPM] = "wpm"};
    return (unsigned)k < SLM_TOKENIZER_KIND_COUNT ? names[k] : "unknown";
}

const char *slm_tokenizer_pre_name(const slm_tokenizer *t) {
    return t->pre_name;
}
int32_t slm_tokenizer_n_vocab(const slm_tokenizer *t) {
    return t->n_vocab;
}

int32_t slm_tokenizer_token_id(const slm_tokenizer *t, slm_token_role role) {
    return (unsigned)role < SLM_TOKEN_ROLE_COUNT ? t->special[role] : -1;
}

const char *slm_tokenizer_token_text(const slm_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    if (len) *len = t->len[id];
    return t->pool + t->off[id];
}

bool slm_tokenizer_is_control(const slm_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && (t->attr[id] & SLM__TOK_CONTROL);
}

slm_status slm__ids_push(slm__ids *o, int32_t id) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        int32_t *v = slm__realloc(o->v, cap * sizeof *v);
        if (!v) return slm__error(SLM_E_NOMEM, "tokenize: out of memory");
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = id;
    return SLM_OK;
}
