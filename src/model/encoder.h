/* The bert encoder forward pass over a packed batch of sequences, and its activation buffers.
 * Internal to libslm: the gen layer's embedder drives it and pools what it leaves behind. */
#ifndef SLM_MODEL_ENCODER_H
#define SLM_MODEL_ENCODER_H

#include "model/internal.h"

/* The matrices of a layer. */
enum {
    SLM__ENC_Q,
    SLM__ENC_K,
    SLM__ENC_V,
    SLM__ENC_O, /* attention output */
    SLM__ENC_UP,
    SLM__ENC_DOWN,
    SLM__ENC_LINEARS
};

/* Buffers for up to n_tokens tokens per pass (all sequences of the batch together), sized once. */
struct slm__enc {
    int64_t n_tokens;
    int64_t max_seq;      /* longest sequence a pass may hold (attention scratch per thread) */
    float *x;             /* [n_tokens][n_embd] hidden states: the output of a pass */
    float *xb;            /* [n_tokens][n_embd] */
    float *q, *k, *v;     /* [n_tokens][n_head * head_dim] */
    float *att;           /* [n_tokens][n_head * head_dim] */
    float *ff;            /* [n_tokens][n_ff] */
    float *attn_scratch;  /* [nth][attn_floats] */
    int64_t attn_floats;
    int32_t *seq_of;      /* [n_tokens]: the sequence each packed token belongs to */
    void *mm_scratch;
    size_t mm_scratch_bytes;
    int nth;
    /* With AMX-BF16: the model's packed layer matrices (borrowed from slm_model.enc_amx, NULL
     * when the tiles are not used), and the activations of the matrix being multiplied, rounded
     * and packed. */
    const struct slm_amx_weight *amx;
    slm_bf16 *xa;
};

/* Packs the layer matrices that are not F32 for the AMX-BF16 tiles into m->enc_amx, once per
 * model at load (a no-op where the tiles are not usable). SLM_E_NOMEM leaves nothing packed. */
slm_status slm__enc_pack_model(slm_model *m);
/* Bytes slm__enc_pack_model allocates, from the header alone (the footprint counts them with the
 * weights: once per model, whatever the number of embedders). */
uint64_t slm__enc_model_bytes(const struct slm_model_hparams *h, const slm_gguf *g);
/* Bytes slm__enc_init allocates for these sizes, from the header alone (the footprint uses it). */
uint64_t slm__enc_bytes(const struct slm_model_hparams *h, const slm_gguf *g, int64_t n_tokens,
                        int64_t max_seq, int nth);
/* SLM_E_NOMEM when a buffer cannot be allocated (nothing is left allocated then). */
slm_status slm__enc_init(struct slm__enc *e, const slm_model *m, int64_t n_tokens, int64_t max_seq,
                         int nth);
void slm__enc_free(struct slm__enc *e); /* accepts a zeroed or freed struct */

/* Encodes n_seq sequences packed back to back: sequence s is tokens[offsets[s] .. offsets[s+1]),
 * at positions 0, 1, ... of its own. Attention never crosses sequences (the packing is the mask:
 * there is no padding to hide), so every sequence's result is the same as when it is encoded
 * alone. Leaves the final hidden state of every token in e->x. gelu_tanh picks the tanh
 * approximation of GELU over the exact erf form. Tokens and lengths are validated by the caller:
 * ids < n_vocab, 1 <= length <= min(max_seq, n_ctx_train), offsets[n_seq] <= n_tokens. */
void slm__encoder_forward(const slm_model *m, struct slm__enc *e, slm_pool *pool,
                          const int32_t *tokens, const int64_t *offsets, int64_t n_seq,
                          bool gelu_tanh);

#endif
