/* The architecture table: per architecture, its norm and RoPE style and which weights it needs.
 * Adding an architecture is a new row plus whatever its forward pass does differently. */
#include "model/internal.h"

#include <stdio.h>
#include <string.h>

const struct slm_role_info slm__roles[SLM_ROLE_COUNT] = {
    [SLM_ROLE_TOK_EMBD] = {"token_embd.weight", {SLM_DIM_EMBD, SLM_DIM_VOCAB}},
    [SLM_ROLE_POS_EMBD] = {"position_embd.weight", {SLM_DIM_EMBD, SLM_DIM_CTX}},
    [SLM_ROLE_TOKEN_TYPES] = {"token_types.weight", {SLM_DIM_EMBD, SLM_DIM_TYPES}},
    [SLM_ROLE_EMBD_NORM] = {"token_embd_norm.weight", {SLM_DIM_EMBD}},
    [SLM_ROLE_EMBD_NORM_B] = {"token_embd_norm.bias", {SLM_DIM_EMBD}},
    [SLM_ROLE_OUTPUT_NORM] = {"output_norm.weight", {SLM_DIM_EMBD}},
    [SLM_ROLE_OUTPUT] = {"output.weight", {SLM_DIM_EMBD, SLM_DIM_VOCAB}},
    [SLM_ROLE_ATTN_NORM] = {"blk.%u.attn_norm.weight", {SLM_DIM_EMBD}},
    [SLM_ROLE_WQ] = {"blk.%u.attn_q.weight", {SLM_DIM_EMBD, SLM_DIM_Q}},
    [SLM_ROLE_BQ] = {"blk.%u.attn_q.bias", {SLM_DIM_Q}},
    [SLM_ROLE_WK] = {"blk.%u.attn_k.weight", {SLM_DIM_EMBD, SLM_DIM_KV}},
    [SLM_ROLE_BK] = {"blk.%u.attn_k.bias", {SLM_DIM_KV}},
    [SLM_ROLE_WV] = {"blk.%u.attn_v.weight", {SLM_DIM_EMBD, SLM_DIM_KV}},
    [SLM_ROLE_BV] = {"blk.%u.attn_v.bias", {SLM_DIM_KV}},
    [SLM_ROLE_WO] = {"blk.%u.attn_output.weight", {SLM_DIM_Q, SLM_DIM_EMBD}},
    [SLM_ROLE_BO] = {"blk.%u.attn_output.bias", {SLM_DIM_EMBD}},
    [SLM_ROLE_ATTN_OUT_NORM] = {"blk.%u.attn_output_norm.weight", {SLM_DIM_EMBD}},
    [SLM_ROLE_ATTN_OUT_NORM_B] = {"blk.%u.attn_output_norm.bias", {SLM_DIM_EMBD}},
    [SLM_ROLE_FFN_NORM] = {"blk.%u.ffn_norm.weight", {SLM_DIM_EMBD}},
    [SLM_ROLE_FFN_GATE] = {"blk.%u.ffn_gate.weight", {SLM_DIM_EMBD, SLM_DIM_FF}},
    [SLM_ROLE_FFN_UP] = {"blk.%u.ffn_up.weight", {SLM_DIM_EMBD, SLM_DIM_FF}},
    [SLM_ROLE_FFN_UP_B] = {"blk.%u.ffn_up.bias", {SLM_DIM_FF}},
    [SLM_ROLE_FFN_DOWN] = {"blk.%u.ffn_down.weight", {SLM_DIM_FF, SLM_DIM_EMBD}},
    [SLM_ROLE_FFN_DOWN_B] = {"blk.%u.ffn_down.bias", {SLM_DIM_EMBD}},
    [SLM_ROLE_LAYER_OUT_NORM] = {"blk.%u.layer_output_norm.weight", {SLM_DIM_EMBD}},
    [SLM_ROLE_LAYER_OUT_NORM_B] = {"blk.%u.layer_output_norm.bias", {SLM_DIM_EMBD}},
};

#define R SLM_NEED_REQUIRED
#define O SLM_NEED_OPTIONAL
/* The llama block: pre-norm attention and SwiGLU feed-forward. */
#define LLAMA_NEEDS                                                                                \
    [SLM_ROLE_TOK_EMBD] = R, [SLM_ROLE_OUTPUT_NORM] = R, [SLM_ROLE_OUTPUT] = O,                   \
    [SLM_ROLE_ATTN_NORM] = R, [SLM_ROLE_WQ] = R, [SLM_ROLE_WK] = R, [SLM_ROLE_WV] = R,             \
    [SLM_ROLE_WO] = R, [SLM_ROLE_FFN_NORM] = R, [SLM_ROLE_FFN_GATE] = R, [SLM_ROLE_FFN_UP] = R,    \
    [SLM_ROLE_FFN_DOWN] = R

const struct slm_arch_info slm__archs[SLM_ARCH_COUNT] = {
    [SLM_ARCH_LLAMA] = {"llama", false, SLM_ROPE_NORMAL, true, "attention.layer_norm_rms_epsilon",
                        {LLAMA_NEEDS}},
    [SLM_ARCH_QWEN2] = {"qwen2", false, SLM_ROPE_NEOX, true, "attention.layer_norm_rms_epsilon",
                        {LLAMA_NEEDS, [SLM_ROLE_BQ] = R, [SLM_ROLE_BK] = R, [SLM_ROLE_BV] = R}},
    [SLM_ARCH_BERT] = {"bert", true, SLM_ROPE_NONE, false, "attention.layer_norm_epsilon",
                       {[SLM_ROLE_TOK_EMBD] = R, [SLM_ROLE_POS_EMBD] = R,
                        [SLM_ROLE_TOKEN_TYPES] = O, [SLM_ROLE_EMBD_NORM] = R,
                        [SLM_ROLE_EMBD_NORM_B] = R, [SLM_ROLE_WQ] = R, [SLM_ROLE_BQ] = R,
                        [SLM_ROLE_WK] = R, [SLM_ROLE_BK] = R, [SLM_ROLE_WV] = R,
                        [SLM_ROLE_BV] = R, [SLM_ROLE_WO] = R, [SLM_ROLE_BO] = R,
                        [SLM_ROLE_ATTN_OUT_NORM] = R, [SLM_ROLE_ATTN_OUT_NORM_B] = R,
                        [SLM_ROLE_FFN_UP] = R, [SLM_ROLE_FFN_UP_B] = R, [SLM_ROLE_FFN_DOWN] = R,
                        [SLM_ROLE_FFN_DOWN_B] = R, [SLM_ROLE_LAYER_OUT_NORM] = R,
                        [SLM_ROLE_LAYER_OUT_NORM_B] = R}},
};
#undef R
#undef O

const char *slm_arch_name(slm_arch a) {
    return (unsigned)a < SLM_ARCH_COUNT ? slm__archs[a].name : "?";
}

slm_status slm_arch_from_name(const char *name, slm_arch *out) {
    for (int a = 0; a < SLM_ARCH_COUNT; a++) {
        if (!strcmp(slm__archs[a].name, name)) {
            *out = (slm_arch)a;
            return SLM_OK;
        }
    }
    return slm__error(SLM_E_UNSUPPORTED, "architecture '%s' is not supported (supported: llama, "
                      "qwen2, bert)", name);
}

const struct slm_gguf_tensor *slm__model_tensor(const slm_gguf *g, slm_role role, uint32_t layer) {
    char name[96];
    if (role >= SLM_ROLE_FIRST_LAYER) snprintf(name, sizeof name, slm__roles[role].name, layer);
    else snprintf(name, sizeof name, "%s", slm__roles[role].name);
    return slm_gguf_find_tensor(g, name);
}
