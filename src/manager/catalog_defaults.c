/* The built-in catalog: the seed models with the shapes of their published configs. Their
 * upstream commits and file digests are not known offline, so they are left unpinned and get
 * pinned by the store on first pull; sizes that depend on the converted file stay 0 (unknown). */
#include "manager/internal.h"

#include <stdio.h>
#include <string.h>

enum family { LLAMA, QWEN2, BERT };

struct seed {
    const char *id, *alias, *repo, *description, *dtype;
    enum family family;
    bool tied;
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    unsigned caps;
    slm_complexity tier;
    int load_type;      /* load-time quantization so that it fits the default 2 GiB budget */
    uint32_t serve_ctx; /* 0 = default */
};

static const struct seed seeds[] = {
    {"smollm2-135m-instruct", "smollm2:135m", "HuggingFaceTB/SmolLM2-135M-Instruct",
     "SmolLM2 135M Instruct", "bf16", LLAMA, true, 30, 576, 9, 3, 1536, 49152, 8192,
     SLM_CAP_GENERATE | SLM_CAP_CHAT, SLM_COMPLEXITY_LOW, -1, 0},
    {"smollm2-360m-instruct", "smollm2:360m", "HuggingFaceTB/SmolLM2-360M-Instruct",
     "SmolLM2 360M Instruct", "bf16", LLAMA, true, 32, 960, 15, 5, 2560, 49152, 8192,
     SLM_CAP_GENERATE | SLM_CAP_CHAT, SLM_COMPLEXITY_MEDIUM, -1, 0},
    {"smollm2-1.7b-instruct", "smollm2:1.7b", "HuggingFaceTB/SmolLM2-1.7B-Instruct",
     "SmolLM2 1.7B Instruct", "bf16", LLAMA, true, 24, 2048, 32, 32, 8192, 49152, 8192,
     SLM_CAP_GENERATE | SLM_CAP_CHAT, SLM_COMPLEXITY_HIGH, SLM_TYPE_Q4_K, 2048},
    {"tinyllama-1.1b-chat", "tinyllama:1.1b", "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
     "TinyLlama 1.1B Chat v1.0", "bf16", LLAMA, false, 22, 2048, 32, 4, 5632, 32000, 2048,
     SLM_CAP_GENERATE | SLM_CAP_CHAT, SLM_COMPLEXITY_MEDIUM, SLM_TYPE_Q8_0, 0},
    {"qwen2.5-0.5b-instruct", "qwen2.5:0.5b", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen2.5 0.5B Instruct",
     "bf16", QWEN2, true, 24, 896, 14, 2, 4864, 151936, 32768,
     SLM_CAP_GENERATE | SLM_CAP_CHAT | SLM_CAP_CODE | SLM_CAP_MULTILINGUAL, SLM_COMPLEXITY_MEDIUM,
     -1, 0},
    {"all-minilm-l6-v2", "minilm-l6", "sentence-transformers/all-MiniLM-L6-v2",
     "all-MiniLM-L6-v2 sentence embeddings (384)", "f32", BERT, true, 6, 384, 12, 12, 1536, 30522,
     512, SLM_CAP_EMBED, SLM_COMPLEXITY_LOW, -1, 0},
    {"all-minilm-l12-v2", "minilm-l12", "sentence-transformers/all-MiniLM-L12-v2",
     "all-MiniLM-L12-v2 sentence embeddings (384)", "f32", BERT, true, 12, 384, 12, 12, 1536, 30522,
     512, SLM_CAP_EMBED, SLM_COMPLEXITY_MEDIUM, -1, 0},
    {"bge-small-en-v1.5", "bge-small", "BAAI/bge-small-en-v1.5",
     "BGE small English v1.5 embeddings (384)", "f32", BERT, true, 12, 384, 12, 12, 1536, 30522,
     512, SLM_CAP_EMBED, SLM_COMPLEXITY_HIGH, -1, 0},
};

/* Parameter count implied by the shape (matches the published counts: 134.5M, 361.8M, 1.71B,
 * 1.10B, 494M, 22.7M, 33.4M). */
static uint64_t param_count(const struct seed *s) {
    uint64_t e = s->n_embd, hd = s->n_embd / s->n_head, kvd = hd * s->n_head_kv, ff = s->n_ff;
    if (s->family == BERT) {
        uint64_t emb = (uint64_t)s->n_vocab * e + (uint64_t)s->n_ctx * e + 2 * e + 2 * e;
        uint64_t layer =
            3 * (e * e + e) + (e * e + e) + 2 * e + (e * ff + ff) + (ff * e + e) + 2 * e;
        return emb + s->n_layer * layer + (e * e + e); /* + pooler */
    }
    uint64_t layer = e * e + 2 * e * kvd + e * e + 3 * e * ff + 2 * e;
    if (s->family == QWEN2) layer += e + 2 * kvd; /* q/k/v biases */
    uint64_t emb = (uint64_t)s->n_vocab * e * (s->tied ? 1 : 2);
    return emb + s->n_layer * layer + e;
}

slm_status slm_catalog_add_defaults(slm_catalog *c) {
    for (size_t i = 0; i < SLM_ARRAY_LEN(seeds); i++) {
        const struct seed *s = &seeds[i];
        struct slm_catalog_entry e = slm_catalog_entry_init();
        if (slm_catalog_find(c, s->id, &e) == SLM_OK) continue;
        e = slm_catalog_entry_init();
        snprintf(e.id, sizeof e.id, "%s", s->id);
        snprintf(e.alias, sizeof e.alias, "%s", s->alias);
        snprintf(e.description, sizeof e.description, "%s", s->description);
        snprintf(e.hub_repo, sizeof e.hub_repo, "%s", s->repo);
        snprintf(e.hub_file, sizeof e.hub_file, "model.safetensors");
        snprintf(e.architecture, sizeof e.architecture, "%s",
                 s->family == BERT    ? "bert"
                 : s->family == QWEN2 ? "qwen2"
                                      : "llama");
        snprintf(e.tensor_type, sizeof e.tensor_type, "%s", s->dtype);
        e.n_params = param_count(s);
        e.context_length = s->n_ctx;
        e.capabilities = s->caps;
        e.tier = s->tier;
        e.load_type = s->load_type;
        e.serve_context = s->serve_ctx;
        struct slm__model_shape shape = {.n_layer = s->n_layer,
                                         .n_embd = s->n_embd,
                                         .n_head = s->n_head,
                                         .n_head_kv = s->n_head_kv,
                                         .head_dim = s->n_embd / s->n_head,
                                         .n_ff = s->n_ff,
                                         .n_vocab = s->n_vocab,
                                         .n_ctx_train = s->n_ctx,
                                         .encoder_only = s->family == BERT};
        /* Weights at the load type (norms, kept F32 by quantizers, are negligible here). */
        uint64_t weights = e.n_params * (!strcmp(s->dtype, "f32") ? 4 : 2);
        if (s->load_type >= 0)
            weights = e.n_params * slm_type_block_bytes((slm_type)s->load_type) /
                      (uint64_t)slm_type_block_size((slm_type)s->load_type);
        struct slm_footprint_params p = slm_footprint_default_params();
        p.n_ctx = s->serve_ctx;
        struct slm_footprint f;
        slm_status st = slm__footprint_shape(&shape, weights, 0, &p, &f);
        if (st != SLM_OK) return st;
        e.footprint_estimate = f.total;
        if ((st = slm_catalog_add(c, &e)) != SLM_OK) return st;
    }
    return SLM_OK;
}
