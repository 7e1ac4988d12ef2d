/* slm gen: sessions, the sampling chain, chat templates, stop-string matching, generation, and
 * sentence embeddings with their pooling. */
#ifndef SLM_GEN_H
#define SLM_GEN_H

#include "slm/core.h"
#include "slm/gguf.h"
#include "slm/model.h"
#include "slm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sessions --------------------------------------------------------------------------------
 * A session is one conversation's state over a loaded model: its KV cache and activation buffers,
 * all allocated at creation (nothing is allocated per token). Several sessions may share one
 * model; one session is used by one thread at a time. */
typedef struct slm_session slm_session;

struct slm_session_params {
    uint32_t n_ctx;     /* context length; 0 = min(trained context, SLM_DEFAULT_SERVE_CONTEXT) */
    uint32_t n_batch;   /* tokens per forward pass; default 512 (capped at n_ctx) */
    slm_kv_type kv_type; /* default F16 */
    int n_threads;      /* 0 = every CPU; ignored when pool is given */
    bool logits_all;    /* keep logits of every evaluated position (slm logits), not just the last */
    slm_pool *pool;     /* borrowed; NULL = the session starts its own of n_threads */
};
struct slm_session_params slm_session_default_params(void);

/* The model is borrowed and must outlive the session. */
slm_status slm_session_create(const slm_model *m, const struct slm_session_params *params,
                              slm_session **out);
void slm_session_free(slm_session *s); /* accepts NULL */
/* Appends tokens to the context and runs them, n_batch at a time. *logits (borrowed, valid until
 * the next call) gets the last token's n_vocab logits, or with logits_all n rows of them (then n
 * must be <= n_batch). SLM_E_INVALID_INPUT for a token outside the vocabulary, SLM_E_CONTEXT_FULL
 * when the context would overflow (nothing is evaluated then). */
slm_status slm_session_eval(slm_session *s, const int32_t *tokens, size_t n, const float **logits);
/* Tokens in the context so far. */
uint32_t slm_session_n_past(const slm_session *s);
uint32_t slm_session_n_ctx(const slm_session *s);
/* Forgets everything after the first n_past tokens (n_past <= current), e.g. to reuse a prompt. */
slm_status slm_session_rewind(slm_session *s, uint32_t n_past);
/* Bytes this session allocated: KV cache plus activation buffers. */
uint64_t slm_session_bytes(const slm_session *s);

/* ---- sampling ------------------------------------------------------------------------------
 * The chain, in order: repetition / frequency / presence penalties over the last
 * penalty_last_n accepted tokens, then top-k, top-p, min-p, temperature, and a draw from the
 * seeded generator. temperature <= 0 is greedy: the highest logit after penalties, lowest id on
 * ties. The same seed and inputs give the same tokens on every machine. */
struct slm_sampler_params {
    float temperature;       /* default 0.8; 0 = greedy */
    int32_t top_k;           /* default 40; 0 = off */
    float top_p;             /* default 0.95; 1 = off */
    float min_p;             /* default 0.05; 0 = off */
    float repeat_penalty;    /* default 1.0 (off); > 1 discourages repeats */
    float frequency_penalty; /* default 0 */
    float presence_penalty;  /* default 0 */
    int32_t penalty_last_n;  /* default 64; window of accepted tokens the penalties look at */
    uint64_t seed;           /* default 0 */
};
struct slm_sampler_params slm_sampler_default_params(void);

typedef struct slm_sampler slm_sampler;

/* All scratch (n_vocab candidates, penalty counts) is allocated here, none while sampling. */
slm_status slm_sampler_create(const struct slm_sampler_params *params, int32_t n_vocab,
                              slm_sampler **out);
void slm_sampler_free(slm_sampler *s); /* accepts NULL */
/* Records a token (prompt or generated) in the penalty window. SLM_E_INVALID_ARG if out of range. */
slm_status slm_sampler_accept(slm_sampler *s, int32_t token);
/* Forgets the window and reseeds. */
void slm_sampler_reset(slm_sampler *s);
/* Picks the next token from logits[n_vocab] (borrowed, not modified). Does not accept it. */
slm_status slm_sampler_sample(slm_sampler *s, const float *logits, int32_t *token);

/* ---- chat templates -----------------------------------------------------------------------
 * Recognised from the model's tokenizer.chat_template (a Jinja text we do not execute): ChatML
 * (SmolLM2, Qwen), Llama-2, Zephyr (TinyLlama chat), Llama-3; anything else gets the plain
 * fallback. A default system prompt written literally into a ChatML template (SmolLM2 and Qwen2.5
 * do this) is extracted and used when the conversation has none, as the template would. */
typedef enum slm_chat_format {
    SLM_CHAT_PLAIN = 0,
    SLM_CHAT_CHATML,
    SLM_CHAT_LLAMA2,
    SLM_CHAT_ZEPHYR,
    SLM_CHAT_LLAMA3,
    SLM_CHAT_FORMAT_COUNT,
} slm_chat_format;

struct slm_chat_message {
    const char *role;    /* "system", "user" or "assistant"; borrowed */
    const char *content; /* borrowed */
};

struct slm_chat_template {
    slm_chat_format format;
    char *default_system; /* owned (heap) or NULL; freed by slm_chat_template_clear */
};

const char *slm_chat_format_name(slm_chat_format f);
slm_status slm_chat_format_from_name(const char *name, slm_chat_format *out);
/* Recognises a Jinja template text (may be NULL: plain). */
slm_status slm_chat_template_detect(const char *jinja, size_t len, struct slm_chat_template *out);
/* From tokenizer.chat_template in a GGUF (plain when absent). */
slm_status slm_chat_template_from_gguf(const slm_gguf *g, struct slm_chat_template *out);
void slm_chat_template_clear(struct slm_chat_template *t);
/* Renders messages into the prompt text (to be tokenized with special tokens parsed and without
 * an added BOS for formats that spell it). *out is transferred to the caller (slm_free).
 * SLM_E_INVALID_INPUT for an unknown role or NULL content. */
slm_status slm_chat_apply(const struct slm_chat_template *t, const struct slm_chat_message *msgs,
                          size_t n_msgs, bool add_generation_prompt, char **out);

/* ---- stop strings ---------------------------------------------------------------------------
 * Streams generated text while watching for stop strings that may straddle token boundaries:
 * text that could still become a stop string is held back until it is decided. */
typedef struct slm_stop_matcher slm_stop_matcher;

/* stops: n strings (copied); empty strings are ignored. */
slm_status slm_stop_matcher_create(const char *const *stops, size_t n, slm_stop_matcher **out);
void slm_stop_matcher_free(slm_stop_matcher *m); /* accepts NULL */
/* Feeds the next piece of text. Sets *emit / *emit_len to the text that is now safe to show
 * (borrowed, valid until the next call) and *stopped once a stop string has been seen (the stop
 * string and anything after it are never emitted; later calls emit nothing). */
slm_status slm_stop_matcher_feed(slm_stop_matcher *m, const char *piece, size_t len,
                                 const char **emit, size_t *emit_len, bool *stopped);
/* At the end of generation: the held-back text that never became a stop string. */
slm_status slm_stop_matcher_flush(slm_stop_matcher *m, const char **emit, size_t *emit_len);

/* ---- generation ------------------------------------------------------------------------------
 * The token loop: evaluate a prompt on a session, then sample, stream and evaluate one token at a
 * time until end of generation, a stop string, max_tokens, the context's end or the callback. */
typedef enum slm_stop_reason {
    SLM_STOP_EOG = 0,    /* the model ended its turn (EOS, <|im_end|>, <|eot_id|>, ...) */
    SLM_STOP_STRING,     /* a stop string appeared */
    SLM_STOP_LENGTH,     /* max_tokens generated */
    SLM_STOP_CONTEXT,    /* the context window is full */
    SLM_STOP_CALLBACK,   /* the token callback asked to stop */
} slm_stop_reason;
const char *slm_stop_reason_name(slm_stop_reason r); /* "eos", "stop", "length", ... */

struct slm_generate_params {
    int32_t max_tokens;          /* default 128; -1 = until the context is full */
    bool ignore_eos;             /* keep going past end-of-generation tokens */
    const char *const *stops;    /* borrowed for the call */
    size_t n_stops;
    struct slm_sampler_params sampling;
};
struct slm_generate_params slm_generate_default_params(void);

/* Called once per generated token with the text that became safe to show (may be empty while a
 * stop string or a UTF-8 sequence is pending), and at the end with token -1 for text that was
 * held back until then. text is borrowed for the call. Return false to stop. */
typedef bool (*slm_token_fn)(void *user, int32_t token, const char *text, size_t len);

struct slm_generate_result {
    int32_t *ids;   /* generated tokens (transferred; slm_free) */
    size_t n_ids;
    char *text;     /* generated text without the stop string (transferred; slm_free) */
    size_t text_len;
    slm_stop_reason stop;
    uint64_t prompt_ns, gen_ns; /* time evaluating the prompt / generating */
};

/* Appends prompt[0..n_prompt) to the session's context (the caller rewinds it for a fresh start)
 * and generates. on_token may be NULL. On failure *out holds nothing to free. */
slm_status slm_generate(slm_session *s, const slm_tokenizer *t, const int32_t *prompt,
                        size_t n_prompt, const struct slm_generate_params *params,
                        slm_token_fn on_token, void *user, struct slm_generate_result *out);
void slm_generate_result_clear(struct slm_generate_result *r);


/* ---- embeddings ------------------------------------------------------------------------------
 * Sentence embeddings from an encoder model (bert: MiniLM, BGE). An embedder owns the activation
 * buffers for one forward pass of up to n_batch tokens, allocated at creation; inputs are packed
 * back to back into passes, so a batch costs what its tokens cost and every input's vector is
 * bit for bit the one it gets when embedded alone. One embedder is used by one thread at a time;
 * several may share a model. */
typedef struct slm_embedder slm_embedder;

typedef enum slm_embed_pooling {
    SLM_EMBED_POOLING_MODEL = 0, /* as the model's <arch>.pooling_type says (mean if it has none) */
    SLM_EMBED_POOLING_MEAN,      /* mean of every token's state, [CLS] and [SEP] included */
    SLM_EMBED_POOLING_CLS,       /* the first token's ([CLS]) state: BGE */
    SLM_EMBED_POOLING_LAST,      /* the last token's state */
} slm_embed_pooling;
const char *slm_embed_pooling_name(slm_embed_pooling p); /* "model", "mean", "cls", "last" */
slm_status slm_embed_pooling_from_name(const char *name, slm_embed_pooling *out);

/* The feed-forward activation. BERT-family checkpoints are trained with the exact erf form, so
 * it is the default; the tanh approximation is what llama.cpp computes (within ~1e-4 of erf on
 * pooled vectors) and is there to reproduce its numbers. */
typedef enum slm_gelu {
    SLM_GELU_ERF = 0,
    SLM_GELU_TANH,
} slm_gelu;

struct slm_embed_params {
    uint32_t max_tokens;       /* per input, [CLS] and [SEP] included; 0 = the model's context
                                * length. Longer inputs keep their first max_tokens - 1 tokens
                                * and their last one (the closing [SEP]) and are flagged. */
    uint32_t n_batch;          /* tokens per forward pass (buffers scale with it: ~15 KiB per
                                * token for MiniLM); default 512, raised to max_tokens */
    slm_embed_pooling pooling; /* default SLM_EMBED_POOLING_MODEL */
    bool normalize;            /* L2-normalise each vector; default true */
    slm_gelu gelu;             /* default SLM_GELU_ERF */
    int n_threads;             /* 0 = every CPU; ignored when pool is given */
    slm_pool *pool;            /* borrowed; NULL = the embedder starts its own of n_threads */
};
struct slm_embed_params slm_embed_default_params(void);

/* What happened to one input. */
struct slm_embed_info {
    uint32_t n_tokens;    /* tokens encoded, after truncation */
    uint32_t n_tokens_in; /* tokens of the input before truncation */
    bool truncated;
};

/* The model (an encoder; SLM_E_UNSUPPORTED otherwise) and the tokenizer are borrowed and must
 * outlive the embedder; t may be NULL when only slm_embed_tokens is used. SLM_E_INVALID_ARG for
 * max_tokens < 2 or beyond the model's context length, or threads out of range. */
slm_status slm_embedder_create(const slm_model *m, const slm_tokenizer *t,
                               const struct slm_embed_params *params, slm_embedder **out);
void slm_embedder_free(slm_embedder *e); /* accepts NULL */
uint32_t slm_embedder_dim(const slm_embedder *e);        /* floats per vector */
uint32_t slm_embedder_max_tokens(const slm_embedder *e); /* after defaults were applied */
/* The pooling in force (SLM_EMBED_POOLING_MODEL resolved). */
slm_embed_pooling slm_embedder_pooling(const slm_embedder *e);
/* Bytes the embedder allocated for its buffers. */
uint64_t slm_embedder_bytes(const slm_embedder *e);

/* Embeds n NUL-terminated texts (borrowed for the call), each tokenized with [CLS]/[SEP], into
 * out[n][dim] (caller-owned). info (n entries, may be NULL) says per input how many tokens it
 * had and whether it was truncated. Every input is checked before anything is computed:
 * SLM_E_INVALID_ARG for NULL texts or out (with n > 0) or an embedder made without a tokenizer,
 * SLM_E_INVALID_INPUT for a NULL text (naming its index). n == 0 does nothing. */
slm_status slm_embed(slm_embedder *e, const char *const *texts, size_t n, float *out,
                     struct slm_embed_info *info);
/* Same from token ids: input i is ids[i][0 .. n_ids[i]) (borrowed for the call; no special
 * tokens are added). SLM_E_INVALID_INPUT for an empty input or an id outside the vocabulary. */
slm_status slm_embed_tokens(slm_embedder *e, const int32_t *const *ids, const size_t *n_ids,
                            size_t n, float *out, struct slm_embed_info *info);

#ifdef __cplusplus
}
#endif
#endif
