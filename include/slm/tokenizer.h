/* slm tokenizer: text <-> token ids for the three vocabulary families of small language models:
 * SentencePiece-style BPE with scores and byte fallback (llama, stories, phi-3), byte-level BPE
 * with the model's own pre-tokenizer regexes (gpt-2, llama-3, qwen2, deepseek, falcon, starcoder,
 * smollm, ...) and WordPiece (BERT). Built from GGUF metadata or from a Hugging Face
 * tokenizer.json.
 *
 * Ownership: an slm_tokenizer owns copies of everything it needs (it does not keep the GGUF
 * handle or the JSON text). It is immutable after creation, so one tokenizer may be used from
 * several threads at once. Arrays returned by slm_tokenize / slm_detokenize are transferred to
 * the caller (free with slm_free()).
 *
 * Invalid UTF-8 in the input text is not an error:
 *  - SentencePiece with byte tokens: each byte that does not start a well-formed sequence becomes
 *    its <0xXX> byte token, so decoding gives back the exact input bytes;
 *  - byte-level BPE: such bytes are never part of a regex match and are encoded as their
 *    byte-level tokens. Lossless when the vocabulary spells all 256 bytes (a byte it cannot spell
 *    is dropped, as in the reference; several vocabularies lack 0xFE/0xFF, which UTF-8 never
 *    uses) and does not mark byte characters as user-defined tokens (deepseek does: those decode
 *    as their text, as in the reference);
 *  - WordPiece, and SentencePiece vocabularies without byte tokens: the unknown token, one per
 *    character (or invalid byte) that the vocabulary cannot spell, or one per run of them when a
 *    tokenizer.json asks to fuse unknowns. The same holds for valid characters such a vocabulary
 *    cannot spell (TinyStories-656K: the reference implementation fails on those; slm does not).
 *
 * Thread safety: a tokenizer may be shared by threads; a slm_detok_stream may not. */
#ifndef SLM_TOKENIZER_H
#define SLM_TOKENIZER_H

#include "slm/core.h"
#include "slm/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct slm_tokenizer slm_tokenizer;

typedef enum slm_tokenizer_kind {
    SLM_TOKENIZER_SPM = 0, /* SentencePiece-style BPE: scores, ▁ for spaces, byte fallback */
    SLM_TOKENIZER_BPE = 1, /* byte-level BPE: merges ranked, pre-tokenizer regexes */
    SLM_TOKENIZER_WPM = 2, /* WordPiece (BERT) */
    SLM_TOKENIZER_KIND_COUNT = 3,
} slm_tokenizer_kind;

/* Special token roles; the id is -1 when the vocabulary has none. */
typedef enum slm_token_role {
    SLM_TOKEN_BOS = 0,
    SLM_TOKEN_EOS,
    SLM_TOKEN_UNK,
    SLM_TOKEN_SEP,
    SLM_TOKEN_PAD,
    SLM_TOKEN_CLS,
    SLM_TOKEN_MASK,
    SLM_TOKEN_ROLE_COUNT,
} slm_token_role;

/* Builds the tokenizer described by the tokenizer.* keys of a GGUF file (the file may hold only a
 * vocabulary). g is borrowed for the call. SLM_E_INVALID_MODEL for missing or inconsistent
 * metadata, SLM_E_UNSUPPORTED for an unknown tokenizer model or pre-tokenizer name. */
slm_status slm_tokenizer_from_gguf(const slm_gguf *g, slm_tokenizer **out);
/* Same from a Hugging Face tokenizer.json document (len bytes at json, borrowed for the call).
 * Supported:
 *  - byte-level BPE with a ByteLevel / Digits / Split(regex, Isolated) pre-tokenizer chain and no
 *    normalizer (GPT-2, SmolLM2, Llama-3, Qwen2 style);
 *  - BPE over ▁-normalised text (normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer;
 *    TinyStories style): merged by rank, byte fallback, fused unknowns, added tokens matched in the
 *    normalised text when marked "normalized" as the package does;
 *  - WordPiece with a lower-casing BertNormalizer and the BertPreTokenizer (accents stripped as
 *    Hugging Face does; words over max_input_chars_per_word become [UNK]).
 * Added tokens become control tokens (special) or user-defined tokens (single_word is ignored); a
 * TemplateProcessing / BertProcessing post-processor gives the BOS/CLS and EOS/SEP tokens that
 * SLM_TOKENIZE_ADD_SPECIAL adds. Anything else is SLM_E_UNSUPPORTED. The JSON parser's own
 * temporary allocations are not counted by slm_alloc_get_stats. */
slm_status slm_tokenizer_from_hf_json(const char *json, size_t len, slm_tokenizer **out);
/* Reads a tokenizer.json file and calls slm_tokenizer_from_hf_json. */
slm_status slm_tokenizer_load_hf_json(const char *path, slm_tokenizer **out);
void slm_tokenizer_free(slm_tokenizer *t); /* accepts NULL */
/* Writes the tokenizer as GGUF tokenizer.* metadata (model, pre, tokens, scores, token_type,
 * merges, special token ids, add-BOS/EOS flags) into w, as the reference converter writes them:
 * a rank-merged ▁ vocabulary from tokenizer.json gets the scores that converter derives from the
 * merge ranks. Keys already in w are replaced. SLM_E_UNSUPPORTED for a byte-level BPE whose
 * pre-tokenizer matches no known tokenizer.ggml.pre name. */
slm_status slm_tokenizer_write_gguf(const slm_tokenizer *t, slm_gguf_writer *w);

slm_tokenizer_kind slm_tokenizer_get_kind(const slm_tokenizer *t);
const char *slm_tokenizer_kind_name(slm_tokenizer_kind k); /* "spm", "bpe", "wpm"; static */
/* Name of the pre-tokenizer ("gpt-2", "llama3", ..., "default"); static storage. */
const char *slm_tokenizer_pre_name(const slm_tokenizer *t);
int32_t slm_tokenizer_n_vocab(const slm_tokenizer *t);
int32_t slm_tokenizer_token_id(const slm_tokenizer *t, slm_token_role role);
/* Text of a token as stored in the vocabulary (▁ / byte-level form, not decoded); NULL when id
 * is out of range. Borrowed, valid until slm_tokenizer_free. *len may be NULL. */
const char *slm_tokenizer_token_text(const slm_tokenizer *t, int32_t id, size_t *len);
/* True for control tokens (BOS, EOS, <|im_start|>, [CLS], ...), which decoding skips unless
 * asked to render them. */
bool slm_tokenizer_is_control(const slm_tokenizer *t, int32_t id);

/* ---- encoding ---- */
enum {
    /* Add the BOS/CLS and EOS/SEP tokens the model's metadata asks for. */
    SLM_TOKENIZE_ADD_SPECIAL = 1u << 0,
    /* Recognise the text of control tokens (<|im_start|>, <s>, [CLS]) in the input. Without it
     * they are tokenized as plain text. User-defined tokens are recognised either way. */
    SLM_TOKENIZE_PARSE_SPECIAL = 1u << 1,
};

/* Tokenizes len bytes of text (need not be NUL-terminated or valid UTF-8: see the top of this
 * header). *ids is a new array of *n_ids tokens (transferred; NULL when there are none). */
slm_status slm_tokenize(const slm_tokenizer *t, const char *text, size_t len, unsigned flags,
                        int32_t **ids, size_t *n_ids);

/* ---- decoding ---- */
enum {
    /* Render control tokens as their text instead of skipping them. */
    SLM_DECODE_SPECIAL = 1u << 0,
};

/* Decodes ids into a new NUL-terminated string (*text transferred, *len excludes the NUL). The
 * bytes are exactly those the tokens stand for (byte tokens may produce invalid UTF-8). For a
 * SentencePiece vocabulary that adds a dummy space prefix, the leading space of the first piece is
 * removed, so that decode(encode(s)) == s for byte-level BPE and byte-fallback SentencePiece
 * (there, for text without a literal U+2581 "▁", which is the vocabulary's space).
 * SLM_E_INVALID_INPUT when an id is out of range. */
slm_status slm_detokenize(const slm_tokenizer *t, const int32_t *ids, size_t n_ids, unsigned flags,
                          char **text, size_t *len);

/* Incremental decoder for streaming: feeds one token at a time and returns only complete UTF-8
 * characters. Bytes that cannot start or continue a well-formed sequence are replaced by U+FFFD,
 * so everything it emits is valid UTF-8. The tokenizer is borrowed and must outlive it. */
typedef struct slm_detok_stream slm_detok_stream;
slm_status slm_detok_stream_create(const slm_tokenizer *t, unsigned flags, slm_detok_stream **out);
void slm_detok_stream_free(slm_detok_stream *s); /* accepts NULL */
/* Adds a token; *text / *len is the newly complete text (possibly empty), borrowed and valid until
 * the next call on s. SLM_E_INVALID_INPUT when id is out of range. */
slm_status slm_detok_stream_push(slm_detok_stream *s, int32_t id, const char **text, size_t *len);
/* End of stream: returns what is still held back (an incomplete sequence becomes U+FFFD) and
 * resets the stream for a new sequence. Same lifetime as push. */
slm_status slm_detok_stream_flush(slm_detok_stream *s, const char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
