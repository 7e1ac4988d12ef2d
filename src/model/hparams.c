/* Hyper-parameters from GGUF metadata, validated against the architecture table and the tensors
 * actually present, and the memory footprint computed from the header alone. */
#include "model/encoder.h"
#include "model/internal.h"
#include "slm/convert.h"
#include "slm/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Weight types the kernels compute with. */
static const bool computable[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = true,  [SLM_TYPE_F16] = true,  [SLM_TYPE_BF16] = true,
    [SLM_TYPE_Q8_0] = true, [SLM_TYPE_Q4_0] = true, [SLM_TYPE_Q4_1] = true,
    [SLM_TYPE_Q5_0] = true, [SLM_TYPE_Q5_1] = true, [SLM_TYPE_Q4_K] = true,
    [SLM_TYPE_Q5_K] = true, [SLM_TYPE_Q6_K] = true,
};

/* Upper bounds that keep every size computed from these values far from overflow. */
#define MAX_LAYERS 1024u
#define MAX_EMBD (1u << 16)
#define MAX_HEADS 1024u
#define MAX_FF (1u << 18)
#define MAX_CTX (1u << 22)

static slm_status key_u32(const slm_gguf *g, const char *arch, const char *suffix, bool required,
                          uint32_t dflt, uint32_t lo, uint32_t hi, uint32_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    slm_status st = slm_gguf_get_u32(g, key, out);
    if (st == SLM_E_NOT_FOUND && !required) {
        *out = dflt;
        return SLM_OK;
    }
    if (st == SLM_E_NOT_FOUND) return slm__error(SLM_E_INVALID_MODEL, "missing metadata '%s'", key);
    if (st != SLM_OK || *out < lo || *out > hi)
        return slm__error(SLM_E_INVALID_MODEL, "metadata '%s' must be an integer in %u..%u", key,
                          lo, hi);
    return SLM_OK;
}

static slm_status key_f32(const slm_gguf *g, const char *arch, const char *suffix, float dflt,
                          float lo, float hi, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    slm_status st = slm_gguf_get_f32(g, key, out);
    if (st == SLM_E_NOT_FOUND) {
        *out = dflt;
        return SLM_OK;
    }
    if (st != SLM_OK || !(*out >= lo && *out <= hi)) /* also rejects NaN */
        return slm__error(SLM_E_INVALID_MODEL, "metadata '%s' must be a number in %g..%g", key,
                          (double)lo, (double)hi);
    return SLM_OK;
}

static int64_t dim_value(const struct slm_model_hparams *h, slm_dim d) {
    switch (d) {
    case SLM_DIM_NONE: return 1;
    case SLM_DIM_EMBD: return h->n_embd;
    case SLM_DIM_VOCAB: return h->n_vocab;
    case SLM_DIM_FF: return h->n_ff;
    case SLM_DIM_Q: return (int64_t)h->n_head * h->head_dim;
    case SLM_DIM_KV: return (int64_t)h->n_head_kv * h->head_dim;
    case SLM_DIM_CTX: return h->n_ctx_train;
    case SLM_DIM_TYPES: return h->n_token_types;
    }
    return -1;
}

static slm_status check_tensor(const struct slm_model_hparams *h, const struct slm_gguf_tensor *t,
                               slm_role role) {
    const slm_dim *shape = slm__roles[role].shape;
    int64_t want0 = dim_value(h, shape[0]), want1 = dim_value(h, shape[1]);
    if (t->ne[0] != want0 || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1)
        return slm__error(SLM_E_INVALID_MODEL, "tensor '%s' has shape [%lld, %lld, %lld, %lld], "
                          "expected [%lld, %lld]", t->name, (long long)t->ne[0],
                          (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                          (long long)want0, (long long)want1);
    bool vector = shape[1] == SLM_DIM_NONE;
    if (vector ? t->type != SLM_TYPE_F32 : !computable[t->type])
        return slm__error(vector ? SLM_E_INVALID_MODEL : SLM_E_UNSUPPORTED,
                          "tensor '%s' has type %s, which slm cannot compute with%s", t->name,
                          slm_type_name(t->type), vector ? " (norms and biases must be f32)" : "");
    return SLM_OK;
}

static slm_status check_tensors(const slm_gguf *g, const struct slm_model_hparams *h) {
    const struct slm_arch_info *ai = &slm__archs[h->arch];
    for (int r = 0; r < SLM_ROLE_COUNT; r++) {
        if (ai->needs[r] == SLM_NEED_ABSENT) continue;
        uint32_t n = r >= SLM_ROLE_FIRST_LAYER ? h->n_layer : 1;
        for (uint32_t l = 0; l < n; l++) {
            const struct slm_gguf_tensor *t = slm__model_tensor(g, (slm_role)r, l);
            if (!t) {
                if (ai->needs[r] == SLM_NEED_OPTIONAL) continue;
                char name[96];
                snprintf(name, sizeof name, slm__roles[r].name, l);
                return slm__error(SLM_E_INVALID_MODEL, "missing tensor '%s'", name);
            }
            slm_status st = check_tensor(h, t, (slm_role)r);
            if (st != SLM_OK) return st;
        }
    }
    return SLM_OK;
}

slm_status slm_model_hparams_read(const slm_gguf *g, struct slm_model_hparams *out) {
    memset(out, 0, sizeof *out);
    char arch[64];
    slm_status st = slm_gguf_get_str_buf(g, "general.architecture", arch, sizeof arch);
    if (st != SLM_OK)
        return slm__error(SLM_E_INVALID_MODEL, "general.architecture is missing or not a string");
    if ((st = slm_arch_from_name(arch, &out->arch)) != SLM_OK) return st;
    const struct slm_arch_info *ai = &slm__archs[out->arch];
    struct slm_model_hparams *h = out;
    if ((st = key_u32(g, arch, "embedding_length", true, 0, 1, MAX_EMBD, &h->n_embd)) ||
        (st = key_u32(g, arch, "block_count", true, 0, 1, MAX_LAYERS, &h->n_layer)) ||
        (st = key_u32(g, arch, "attention.head_count", true, 0, 1, MAX_HEADS, &h->n_head)) ||
        (st = key_u32(g, arch, "attention.head_count_kv", false, h->n_head, 1, h->n_head,
                      &h->n_head_kv)) ||
        (st = key_u32(g, arch, "feed_forward_length", true, 0, 1, MAX_FF, &h->n_ff)) ||
        (st = key_u32(g, arch, "context_length", true, 0, 1, MAX_CTX, &h->n_ctx_train)))
        return st;
    if (h->n_head % h->n_head_kv != 0)
        return slm__error(SLM_E_INVALID_MODEL, "head_count %u is not a multiple of head_count_kv "
                          "%u", h->n_head, h->n_head_kv);
    if ((st = key_u32(g, arch, "attention.key_length", false, 0, 1, 4096, &h->head_dim))) return st;
    if (h->head_dim == 0) {
        if (h->n_embd % h->n_head != 0)
            return slm__error(SLM_E_INVALID_MODEL, "embedding_length %u is not a multiple of "
                              "head_count %u", h->n_embd, h->n_head);
        h->head_dim = h->n_embd / h->n_head;
    }
    uint32_t value_len;
    if ((st = key_u32(g, arch, "attention.value_length", false, h->head_dim, 1, 4096, &value_len)))
        return st;
    if (value_len != h->head_dim)
        return slm__error(SLM_E_UNSUPPORTED, "value_length %u differs from key_length %u",
                          value_len, h->head_dim);
    h->rope = ai->rope;
    if (h->rope != SLM_ROPE_NONE) {
        if ((st = key_u32(g, arch, "rope.dimension_count", false, h->head_dim, 2, h->head_dim,
                          &h->n_rot)))
            return st;
        if (h->n_rot % 2)
            return slm__error(SLM_E_INVALID_MODEL, "rope.dimension_count %u is odd", h->n_rot);
        if ((st = key_f32(g, arch, "rope.freq_base", 10000.0f, 1.0f, 1e9f, &h->rope_freq_base)))
            return st;
        char key[128], type[32] = "none";
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        if (slm_gguf_get_str_buf(g, key, type, sizeof type) == SLM_E_OVERFLOW ||
            (strcmp(type, "none") && strcmp(type, "linear")))
            return slm__error(SLM_E_UNSUPPORTED, "rope scaling '%s' is not supported", type);
        float factor = 1.0f;
        if (!strcmp(type, "linear") &&
            (st = key_f32(g, arch, "rope.scaling.factor", 1.0f, 1e-3f, 1e3f, &factor)))
            return st;
        h->rope_freq_scale = 1.0f / factor;
    }
    if ((st = key_f32(g, arch, ai->eps_key, ai->rms_norm ? 1e-5f : 1e-12f, 0.0f, 1.0f,
                      &h->norm_eps)))
        return st;
    const struct slm_gguf_tensor *emb = slm__model_tensor(g, SLM_ROLE_TOK_EMBD, 0);
    if (!emb) return slm__error(SLM_E_INVALID_MODEL, "missing tensor 'token_embd.weight'");
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return slm__error(SLM_E_INVALID_MODEL, "token_embd.weight has %lld rows",
                          (long long)emb->ne[1]);
    h->n_vocab = (uint32_t)emb->ne[1];
    h->tied_output = slm__model_tensor(g, SLM_ROLE_OUTPUT, 0) == NULL;
    h->causal = !ai->encoder;
    if (ai->encoder) {
        uint32_t pooling;
        if ((st = key_u32(g, arch, "pooling_type", false, SLM_POOLING_MEAN, 0, SLM_POOLING_LAST,
                          &pooling)))
            return st;
        h->pooling = (slm_pooling)pooling;
        const struct slm_gguf_tensor *tt = slm__model_tensor(g, SLM_ROLE_TOKEN_TYPES, 0);
        h->n_token_types = tt ? (uint32_t)SLM_MIN(tt->ne[1], 1 << 16) : 0;
    }
    return check_tensors(g, h);
}

struct slm_footprint_params slm_footprint_default_params(void) {
    return (struct slm_footprint_params){.n_ctx = 0, .n_slots = 1, .n_batch = 512,
                                         .n_threads = 0, .kv_type = SLM_KV_F16,
                                         .load_type = SLM_LOAD_TYPE_KEEP};
}

slm_status slm_model_footprint(const slm_gguf *g, const struct slm_footprint_params *params,
                               struct slm_footprint *out) {
    memset(out, 0, sizeof *out);
    struct slm_footprint_params p = params ? *params : slm_footprint_default_params();
    if (p.load_type != SLM_LOAD_TYPE_KEEP && !slm_quant_type_writable((slm_type)p.load_type))
        return slm__error(SLM_E_INVALID_ARG, "cannot load weights as type %d (%s)", p.load_type,
                          slm_type_name((slm_type)p.load_type));
    struct slm_model_hparams h;
    slm_status st = slm_model_hparams_read(g, &h);
    if (st != SLM_OK) return st;
    if (p.n_ctx == 0) p.n_ctx = SLM_MIN(h.n_ctx_train, SLM_DEFAULT_SERVE_CONTEXT);
    if (p.n_slots == 0) p.n_slots = 1;
    if (p.n_ctx > MAX_CTX || p.n_slots > 4096)
        return slm__error(SLM_E_INVALID_ARG, "context %u x %u slots is out of range", p.n_ctx,
                          p.n_slots);
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        uint64_t bytes = t->n_bytes;
        slm_type type = slm__loaded_type(t, p.load_type);
        if (type != t->type) SLM_ASSERT(slm_type_nbytes(type, t->n_elements, &bytes));
        out->weights += bytes;
    }
    out->n_ctx = p.n_ctx;
    if (p.n_batch == 0 || p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    if (p.n_threads <= 0) p.n_threads = slm_cpu_count();
    if (!slm__archs[h.arch].encoder) {
        uint64_t elem = p.kv_type == SLM_KV_F32 ? 4 : 2;
        out->kv = (uint64_t)p.n_ctx * h.n_layer * h.n_head_kv * h.head_dim * 2 * elem * p.n_slots;
        out->scratch =
            slm__fwd_bytes(&h, g, p.load_type, p.n_batch, p.n_ctx, p.n_threads, false) * p.n_slots;
    } else { /* an embedder's buffers: n_batch tokens per pass, inputs up to n_ctx tokens */
        out->scratch = slm__enc_bytes(&h, g, p.n_batch, p.n_ctx, p.n_threads) * p.n_slots;
        out->packed = slm__enc_model_bytes(&h, g);
    }
    /* The tokenizer is built from the header's metadata in milliseconds: its exact size is
     * cheaper to measure than to model (it depends on vocabulary, merges and hash tables). */
    int64_t heap0 = slm__alloc_thread_net();
    slm_tokenizer *tok = NULL;
    out->metadata = slm_gguf_heap_bytes(g);
    if (slm_tokenizer_from_gguf(g, &tok) == SLM_OK) {
        out->metadata += (uint64_t)(slm__alloc_thread_net() - heap0);
        slm_tokenizer_free(tok);
    }
    slm_error_clear(); /* a file without a vocabulary still has a footprint */
    out->total = out->weights + out->packed + out->kv + out->scratch + out->metadata;
    return SLM_OK;
}
