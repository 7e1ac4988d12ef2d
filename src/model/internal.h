/* Internal model-layer tables: tensor roles and, per architecture, which roles it uses, with
 * what shape. The forward passes look weights up by role, never by name. */
#ifndef SLM_MODEL_INTERNAL_H
#define SLM_MODEL_INTERNAL_H

#include "core/internal.h"
#include "slm/model.h"
#include "tensor/internal.h"

/* Every weight any architecture has. Per-layer roles come after SLM_ROLE_FIRST_LAYER. */
typedef enum slm_role {
    SLM_ROLE_TOK_EMBD,
    SLM_ROLE_POS_EMBD,
    SLM_ROLE_TOKEN_TYPES,
    SLM_ROLE_EMBD_NORM,
    SLM_ROLE_EMBD_NORM_B,
    SLM_ROLE_OUTPUT_NORM,
    SLM_ROLE_OUTPUT,
    SLM_ROLE_FIRST_LAYER,
    SLM_ROLE_ATTN_NORM = SLM_ROLE_FIRST_LAYER,
    SLM_ROLE_WQ,
    SLM_ROLE_BQ,
    SLM_ROLE_WK,
    SLM_ROLE_BK,
    SLM_ROLE_WV,
    SLM_ROLE_BV,
    SLM_ROLE_WO,
    SLM_ROLE_BO,
    SLM_ROLE_ATTN_OUT_NORM,
    SLM_ROLE_ATTN_OUT_NORM_B,
    SLM_ROLE_FFN_NORM,
    SLM_ROLE_FFN_GATE,
    SLM_ROLE_FFN_UP,
    SLM_ROLE_FFN_UP_B,
    SLM_ROLE_FFN_DOWN,
    SLM_ROLE_FFN_DOWN_B,
    SLM_ROLE_LAYER_OUT_NORM,
    SLM_ROLE_LAYER_OUT_NORM_B,
    SLM_ROLE_COUNT,
} slm_role;

/* Symbolic dimensions of tensor shapes, resolved against the hyper-parameters. */
typedef enum slm_dim {
    SLM_DIM_NONE = 0, /* unused trailing dimension */
    SLM_DIM_EMBD,     /* n_embd */
    SLM_DIM_VOCAB,    /* n_vocab */
    SLM_DIM_FF,       /* n_ff */
    SLM_DIM_Q,        /* n_head * head_dim */
    SLM_DIM_KV,       /* n_head_kv * head_dim */
    SLM_DIM_CTX,      /* n_ctx_train (learned positions) */
    SLM_DIM_TYPES,    /* n_token_types */
} slm_dim;

typedef enum slm_need {
    SLM_NEED_ABSENT = 0, /* the architecture does not use it */
    SLM_NEED_REQUIRED,
    SLM_NEED_OPTIONAL,   /* e.g. output.weight when tied */
} slm_need;

struct slm_role_info {
    const char *name; /* GGUF tensor name; per-layer names carry "%u" for the layer */
    slm_dim shape[2]; /* ne[0], ne[1] */
};
extern const struct slm_role_info slm__roles[SLM_ROLE_COUNT];

struct slm_arch_info {
    const char *name;
    bool encoder;          /* bidirectional, pooled output (bert) */
    slm_rope_style rope;
    bool rms_norm;         /* RMSNorm, else LayerNorm with bias */
    const char *eps_key;   /* suffix of the epsilon metadata key */
    slm_need needs[SLM_ROLE_COUNT];
};
extern const struct slm_arch_info slm__archs[SLM_ARCH_COUNT];

/* The tensor for a role (layer ignored for global roles); NULL if absent. */
const struct slm_gguf_tensor *slm__model_tensor(const slm_gguf *g, slm_role role, uint32_t layer);

/* A bound weight: a matrix view for the kernels, or an F32 vector. Absent roles have data NULL. */
struct slm__bound {
    struct slm_weight w; /* w.rows = ne[1], w.cols = ne[0] */
    const float *vec;    /* for 1-D roles */
};

struct slm_model {
    slm_gguf *gguf;
    struct slm_model_hparams h;
    const struct slm_arch_info *arch;
    struct slm__bound global[SLM_ROLE_FIRST_LAYER];
    struct slm__bound (*layers)[SLM_ROLE_COUNT]; /* [n_layer][role] (global roles unused) */
    const struct slm_weight *output;             /* output.weight, or the token embedding */
    size_t max_matmul_cols;                      /* widest matrix, for scratch sizing */
    int load_type;                               /* slm_model_params.load_type */
    void **owned;                                /* weights converted at load (n_owned) */
    size_t n_owned;
    uint64_t converted_bytes;                    /* stored bytes of the converted weights */
    /* An encoder's layer matrices packed for the AMX-BF16 tiles at load, where the tiles are
     * usable, shared by every embedder of the model (encoder.h): [n_layer x SLM__ENC_LINEARS]
     * descriptors, data NULL where a matrix is not packed; NULL without packing. */
    struct slm_amx_weight *enc_amx;
    void *enc_amx_data;
};

/* KV cache of one session: per layer, K and V rows [n_ctx][n_head_kv][head_dim] in `type`. */
struct slm__kv {
    slm_type type;
    int64_t n_ctx;
    void **k, **v;
};

/* Activation buffers of one session for up to n_batch tokens, sized at creation. */
struct slm__fwd {
    int64_t n_batch;
    bool logits_all;
    float *x, *xb, *xb2; /* [n_batch][n_embd] */
    float *q, *att;      /* [n_batch][n_head * head_dim] */
    float *k, *v;        /* [n_batch][n_head_kv * head_dim] */
    float *g, *u;        /* [n_batch][n_ff] */
    float *logits;       /* [logits_all ? n_batch : 1][n_vocab] */
    float *attn_scratch; /* [nth][n_ctx] */
    void *mm_scratch;
    size_t mm_scratch_bytes;
    int nth;
};

/* Bytes the buffers of struct slm__fwd take for these sizes (what slm__fwd_init allocates), from
 * the header alone: the footprint estimate and the session agree by construction. */
uint64_t slm__fwd_bytes(const struct slm_model_hparams *h, const slm_gguf *g, int load_type,
                        int64_t n_batch, int64_t n_ctx, int nth, bool logits_all);
slm_status slm__fwd_init(struct slm__fwd *f, const slm_model *m, int64_t n_batch, int64_t n_ctx,
                         int nth, bool logits_all);
void slm__fwd_free(struct slm__fwd *f);

/* Runs tokens[0..n) (n <= n_batch) at positions pos0.. through a decoder, writing their K/V into
 * the cache, and leaves logits in f->logits: every position's if logits_all, else the last's.
 * Tokens are validated by the caller; pos0 + n <= kv->n_ctx. */
void slm__decoder_forward(const slm_model *m, struct slm__kv *kv, struct slm__fwd *f,
                          slm_pool *pool, const int32_t *tokens, int64_t n, int64_t pos0);

/* ---- weight type conversion (quantize.c), shared by convert, quantize and load-time
 * quantization ---- */
/* Converts a rows x cols matrix at src (any type slm dequantizes) into dst_type (writable, cols a
 * whole number of its blocks) at dst, rows split over the pool's threads (pool may be NULL). */
slm_status slm__convert_rows(slm_pool *pool, slm_type dst_type, void *dst, slm_type src_type,
                             const void *src, int64_t rows, int64_t cols);
/* The type tensor t has once loaded with load_type (see struct slm_model_params). */
slm_type slm__loaded_type(const struct slm_gguf_tensor *t, int load_type);
/* general.file_type (llama.cpp's numbering) of a model whose matrices are `type`. */
uint32_t slm__file_type(slm_type type);

#endif
