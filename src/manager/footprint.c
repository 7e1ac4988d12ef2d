/* Footprint estimates: weights + KV cache + scratch of a model before it is loaded, from its
 * GGUF header or from a published shape (the formula is documented in slm/manager.h). */
#include "manager/internal.h"

#include <stdio.h>
#include <string.h>

struct slm_footprint_params slm_footprint_default_params(void) {
    return (struct slm_footprint_params){
        .n_ctx = 0, .n_parallel = 1, .kv_elem_size = 2, .n_batch = 512, .load_type = -1};
}

slm_status slm__footprint_shape(const struct slm__model_shape *s, uint64_t weights,
                                uint64_t metadata, const struct slm_footprint_params *p,
                                struct slm_footprint *out) {
    memset(out, 0, sizeof *out);
    uint64_t ctx =
        p->n_ctx ? p->n_ctx : SLM_MIN(s->n_ctx_train, (uint64_t)SLM_DEFAULT_SERVE_CONTEXT);
    if (!ctx) ctx = SLM_DEFAULT_SERVE_CONTEXT;
    uint64_t kv = 0, scratch = 0, t;
    bool ok = true;
    if (!s->encoder_only) {
        ok = slm__mul_u64(ctx, s->n_layer, &kv) && slm__mul_u64(kv, s->n_head_kv, &kv) &&
             slm__mul_u64(kv, s->head_dim, &kv) && slm__mul_u64(kv, 2, &kv) &&
             slm__mul_u64(kv, p->kv_elem_size, &kv) && slm__mul_u64(kv, p->n_parallel, &kv);
    }
    ok = ok && slm__mul_u64(s->n_embd, 4, &t) && slm__add_u64(t, 2 * s->n_ff, &t) &&
         slm__mul_u64(t, p->n_batch, &t) && slm__add_u64(t, s->n_vocab, &t) &&
         slm__mul_u64(t, 4, &scratch);
    uint64_t total;
    ok = ok && slm__add_u64(weights, kv, &total) && slm__add_u64(total, scratch, &total) &&
         slm__add_u64(total, metadata, &total);
    if (!ok) return slm__error(SLM_E_OVERFLOW, "footprint overflows 64 bits");
    *out = (struct slm_footprint){.weights = weights,
                                  .kv_cache = kv,
                                  .scratch = scratch,
                                  .metadata = metadata,
                                  .total = total,
                                  .n_ctx = (uint32_t)ctx};
    return SLM_OK;
}

static uint64_t arch_u64(const slm_gguf *g, const char *arch, const char *suffix) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint64_t v = 0;
    if (slm_gguf_get_u64(g, key, &v) != SLM_OK) return 0;
    return v;
}

static bool is_encoder_only(const char *arch) {
    static const char *const enc[] = {"bert", "nomic-bert", "jina-bert-v2", "t5encoder"};
    for (size_t i = 0; i < SLM_ARRAY_LEN(enc); i++)
        if (!strcmp(arch, enc[i])) return true;
    return false;
}

/* Bytes of one tensor as it will sit in memory once loaded (re-costed for load-time
 * quantization of float matrices whose rows fit the target's blocks). */
static uint64_t tensor_bytes(const struct slm_gguf_tensor *t, int load_type) {
    if (load_type < 0 || t->n_dims < 2) return t->n_bytes;
    if (t->type != SLM_TYPE_F32 && t->type != SLM_TYPE_F16 && t->type != SLM_TYPE_BF16)
        return t->n_bytes;
    int64_t bs = slm_type_block_size((slm_type)load_type);
    uint64_t n;
    if (bs <= 0 || t->ne[0] % bs != 0 || !slm_type_nbytes((slm_type)load_type, t->n_elements, &n))
        return t->n_bytes;
    return n;
}

slm_status slm_footprint_gguf(const slm_gguf *g, const struct slm_footprint_params *p,
                              struct slm_footprint *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!g || !out) return slm__error(SLM_E_INVALID_ARG, "footprint: NULL argument");
    struct slm_footprint_params dp = slm_footprint_default_params();
    if (!p) p = &dp;
    if (p->load_type >= 0 && !slm_type_is_valid(p->load_type))
        return slm__error(SLM_E_INVALID_ARG, "footprint: invalid load type %d", p->load_type);
    char arch[64];
    if (slm_gguf_get_str_buf(g, "general.architecture", arch, sizeof arch) != SLM_OK)
        return slm__error(SLM_E_INVALID_MODEL, "footprint: no general.architecture");
    struct slm__model_shape s = {
        .n_layer = arch_u64(g, arch, "block_count"),
        .n_embd = arch_u64(g, arch, "embedding_length"),
        .n_head = arch_u64(g, arch, "attention.head_count"),
        .n_head_kv = arch_u64(g, arch, "attention.head_count_kv"),
        .head_dim = arch_u64(g, arch, "attention.key_length"),
        .n_ff = arch_u64(g, arch, "feed_forward_length"),
        .n_ctx_train = arch_u64(g, arch, "context_length"),
        .encoder_only = is_encoder_only(arch),
    };
    if (!s.n_layer || !s.n_embd || !s.n_head)
        return slm__error(SLM_E_INVALID_MODEL,
                          "footprint: %s.block_count, embedding_length or attention.head_count "
                          "missing",
                          arch);
    if (!s.n_head_kv) s.n_head_kv = s.n_head;
    if (!s.head_dim) s.head_dim = s.n_embd / s.n_head;
    struct slm_gguf_array toks;
    const struct slm_gguf_tensor *emb = slm_gguf_find_tensor(g, "token_embd.weight");
    if (slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks) == SLM_OK)
        s.n_vocab = toks.count;
    else if (!(s.n_vocab = arch_u64(g, arch, "vocab_size")) && emb && emb->n_dims >= 2)
        s.n_vocab = (uint64_t)emb->ne[1];
    uint64_t weights = 0;
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++)
        if (!slm__add_u64(weights, tensor_bytes(slm_gguf_tensor(g, i), p->load_type), &weights))
            return slm__error(SLM_E_OVERFLOW, "footprint: tensor bytes overflow");
    return slm__footprint_shape(&s, weights, slm_gguf_data_offset(g), p, out);
}
