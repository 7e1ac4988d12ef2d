/* Internal model-layer tables: tensor roles and, per architecture, which roles it uses, with
 * what shape. The forward passes look weights up by role, never by name. */
#ifndef SLM_MODEL_INTERNAL_H
#define SLM_MODEL_INTERNAL_H

#include "core/internal.h"
#include "slm/model.h"

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

#endif
