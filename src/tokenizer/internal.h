/* Tokenizer internals shared by the loaders (GGUF, tokenizer.json), the three encoders, the
 * pre-tokenizer table and the decoders: the vocabulary representation and its lookup tables. */
#ifndef SLM_TOKENIZER_INTERNAL_H
#define SLM_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/internal.h"
#include "slm/tokenizer.h"

/* Token attributes (GGUF token_type 1..6 map onto the first six). */
enum {
    SLM__TOK_NORMAL = 1u << 0,
    SLM__TOK_UNKNOWN = 1u << 1,
    SLM__TOK_CONTROL = 1u << 2,
    SLM__TOK_USER = 1u << 3,
    SLM__TOK_UNUSED = 1u << 4,
    SLM__TOK_BYTE = 1u << 5,
    SLM__TOK_LSTRIP = 1u << 6, /* eat whitespace before the token when matched in text */
    SLM__TOK_RSTRIP = 1u << 7, /* eat whitespace after it */
};

#define SLM__PRE_MAX_REGEX 6

/* How WordPiece removes accents. The llama.cpp reference keeps the first code point of each
 * canonical decomposition; Hugging Face decomposes fully and drops nonspacing marks (Mn). They
 * differ on Hangul syllables and a few Indic vowels. */
typedef enum slm__wpm_accents {
    SLM__WPM_FIRST_CP = 0,
    SLM__WPM_DROP_MN = 1,
} slm__wpm_accents;

struct slm_tokenizer {
    slm_tokenizer_kind kind;
    int32_t n_vocab;
    /* token texts: id i is pool[off[i] .. off[i]+len[i]) (NUL follows each text) */
    char *pool;
    uint32_t *off;
    uint32_t *len;
    float *score;  /* SPM merge scores (NULL for the others) */
    uint8_t *attr; /* SLM__TOK_* */
    uint32_t max_token_len;
    /* text -> id: open addressing, power-of-two capacity, -1 = empty */
    int32_t *map;
    uint32_t map_mask;
    /* BPE merges: (left id, right id) -> rank and merged id, open addressing */
    uint64_t *merge_key; /* ((uint64_t)left << 32 | right) + 1; 0 = empty */
    int32_t *merge_rank;
    int32_t *merge_id;
    uint64_t merge_mask;
    /* SPM: byte value -> <0xXX> token (-1 if absent); BPE: byte -> token of its byte-level char */
    int32_t byte_tok[256];
    int32_t special[SLM_TOKEN_ROLE_COUNT];
    bool add_bos, add_eos, add_sep;
    bool add_space_prefix; /* SPM dummy prefix */
    bool fuse_unk;         /* SPM: a run of unknown characters gives one unknown token */
    /* SPM from tokenizer.json whose added tokens are matched in normalised text: the ▁ prefix
     * and the space escaping apply to the whole text before special tokens are split off */
    bool normalize_first;
    bool ignore_merges; /* BPE: a word that is a token is taken whole (llama-3) */
    bool nfc;           /* BPE from tokenizer.json: NFC-normalise each raw fragment (Qwen2) */
    /* tokens matched in raw text before tokenizing (control, user-defined, unknown), longest
     * pattern first */
    int32_t *partition;
    int32_t n_partition;
    int32_t *part_rank; /* per id: its position in partition, or -1 */
    /* the text a partition token is matched as: its own text unless ppool is set (tokenizer.json
     * added tokens matched in ▁-normalised text: "▁" + text), then ppool[poff[id]], pblen[id] */
    char *ppool;
    uint32_t *poff, *pblen;
    int32_t *pmap; /* pattern -> id over the partition tokens, open addressing */
    uint32_t pmap_mask;
    /* distinct text lengths of the partition tokens starting with byte b, for text that may hold
     * control tokens ([1]) or only user-defined ones ([0]): plen[pl_off[m][b] .. pl_off[m][b+1]) */
    uint32_t *plen;
    uint32_t pl_off[2][257];
    /* byte-level BPE pre-tokenizer */
    int pre; /* row of the pre-tokenizer table */
    const char *pre_name;
    pcre2_code *re[SLM__PRE_MAX_REGEX];
    int n_re;
    /* WordPiece */
    slm__wpm_accents wpm_accents;
    uint32_t wpm_max_chars; /* words longer than this (in code points) become UNK; 0 = no limit */
};

/* ---- construction (vocab.c) ---- */
/* Allocates a tokenizer with n tokens whose texts total pool_bytes; tables zeroed, ids -1. */
slm_status slm__tok_alloc(slm_tokenizer_kind kind, int32_t n, size_t pool_bytes,
                          slm_tokenizer **out);
/* Sets token i's text (copied into the pool; tokens must be set in order 0, 1, ...). */
void slm__tok_set_text(slm_tokenizer *t, int32_t i, const char *s, size_t n, size_t *pool_used);
/* Builds the text map (a duplicated text maps to its last id), the byte tables and the partition
 * tables once texts and attributes are set. */
slm_status slm__tok_finish(slm_tokenizer *t);
/* Adds merge "a b" with the given rank (ids of a, b and the result); duplicates keep the first. */
void slm__tok_add_merge(slm_tokenizer *t, int32_t a, int32_t b, int32_t merged, int32_t rank);
slm_status slm__tok_alloc_merges(slm_tokenizer *t, uint64_t n_merges);

static inline const char *slm__tok_pattern(const slm_tokenizer *t, int32_t id, uint32_t *len) {
    if (t->ppool) {
        *len = t->pblen[id];
        return t->ppool + t->poff[id];
    }
    *len = t->len[id];
    return t->pool + t->off[id];
}
/* Partition token whose pattern is s[0..n), or -1. */
int32_t slm__tok_part_find(const slm_tokenizer *t, const char *s, size_t n);
/* True if token id is matched in raw text (user-defined always; control and unknown tokens only
 * when parse_special). */
bool slm__tok_partitions(const slm_tokenizer *t, int32_t id, bool parse_special);
/* id of a token text or -1. */
int32_t slm__tok_find(const slm_tokenizer *t, const char *s, size_t n);
/* Merge of (a, b): rank or -1; *merged gets the result. */
static inline int32_t slm__tok_merge(const slm_tokenizer *t, int32_t a, int32_t b, int32_t *merged);
uint64_t slm__hash_bytes(const char *s, size_t n);

static inline uint64_t slm__mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline int32_t slm__tok_merge(const slm_tokenizer *t, int32_t a, int32_t b,
                                     int32_t *merged) {
    if (!t->merge_key || a < 0 || b < 0) return -1;
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    for (uint64_t h = slm__mix64(key) & t->merge_mask;; h = (h + 1) & t->merge_mask) {
        if (t->merge_key[h] == key) {
            *merged = t->merge_id[h];
            return t->merge_rank[h];
        }
        if (!t->merge_key[h]) return -1;
    }
}

/* ---- byte-level mapping (bytelevel.c): GPT-2's bytes <-> printable code points ---- */
/* UTF-8 of the code point that stands for byte b (1 or 2 bytes); returns its length. */
int slm__bytelevel_encode(uint8_t b, char out[2]);
/* Byte for the code point cp, or -1 if cp is not one of the 256. */
int slm__bytelevel_decode(uint32_t cp);

/* ---- pre-tokenizers (pretok.c) ---- */
/* Finds the table row of a tokenizer.ggml.pre name ("" or NULL = "default"); -1 if unknown.
 * *canonical: the same name in static storage. */
int slm__pre_find(const char *name, size_t len, const char **canonical);
/* Compiles the row's regexes into t (sets pre, pre_name, re, n_re and the row's flags). */
slm_status slm__pre_setup(slm_tokenizer *t, int row);
/* The GPT-2 split expression (ByteLevel use_regex in tokenizer.json). */
extern const char *const slm__re_gpt2;
/* Row whose regexes are exactly these (also as tokenizer.json spells the llama3 and qwen2 ones),
 * or -1. */
int slm__pre_match(const char *const *patterns, int n);
const char *slm__pre_row_name(int row);
/* Compiles caller-given regexes (tokenizer.json Split/Digits/ByteLevel chain). */
slm_status slm__pre_setup_custom(slm_tokenizer *t, const char *const *patterns, int n);

/* ---- output buffer for ids ---- */
typedef struct slm__ids {
    int32_t *v;
    size_t n, cap;
} slm__ids;
slm_status slm__ids_push(slm__ids *o, int32_t id);

/* ---- rank-ordered merging (merge.c) ---- */
struct slm__pair;
typedef struct slm__merger {
    int32_t *id;   /* token of each symbol; -1 once absorbed by its left neighbour (or unknown) */
    uint32_t *len; /* bytes of each symbol (0 once absorbed) */
    int32_t *prev, *next;
    struct slm__pair *heap;
    size_t n_heap, cap;
} slm__merger;
/* Room for n symbols (grown as needed, kept between words). */
slm_status slm__merger_reserve(slm__merger *m, size_t n);
/* Merges symbols 0..n-1 (id and len set by the caller); afterwards follow next from 0. */
void slm__merger_run(const slm_tokenizer *t, slm__merger *m, int32_t n);
void slm__merger_free(slm__merger *m);

/* ---- the encoders: append the ids of one raw-text fragment ---- */
slm_status slm__spm_encode(const slm_tokenizer *t, const char *s, size_t n, bool prefix_space,
                           slm__ids *out);
slm_status slm__bpe_encode(const slm_tokenizer *t, const char *s, size_t n, slm__ids *out);
slm_status slm__wpm_encode(const slm_tokenizer *t, const char *s, size_t n, slm__ids *out);

#endif
