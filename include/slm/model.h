/* slm model: architectures as data, hyper-parameters read from GGUF metadata, and the memory
 * footprint of a model computed from its header before anything is loaded. */
#ifndef SLM_MODEL_H
#define SLM_MODEL_H

#include "slm/core.h"
#include "slm/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum slm_arch {
    SLM_ARCH_LLAMA = 0, /* llama2.c stories, TinyLlama, SmolLM2, Llama-style */
    SLM_ARCH_QWEN2,     /* llama + q/k/v biases, NeoX RoPE */
    SLM_ARCH_BERT,      /* MiniLM, BGE: post-norm encoder */
    SLM_ARCH_COUNT,
} slm_arch;

typedef enum slm_rope_style {
    SLM_ROPE_NONE = 0, /* learned absolute positions (bert) */
    SLM_ROPE_NORMAL,   /* adjacent pairs (x0,x1), (x2,x3)... (llama) */
    SLM_ROPE_NEOX,     /* halves (x0,x_{d/2}), ... (qwen2) */
} slm_rope_style;

typedef enum slm_pooling {
    SLM_POOLING_NONE = 0,
    SLM_POOLING_MEAN = 1,
    SLM_POOLING_CLS = 2,
    SLM_POOLING_LAST = 3,
} slm_pooling;

struct slm_model_hparams {
    slm_arch arch;
    uint32_t n_vocab;
    uint32_t n_ctx_train;   /* <arch>.context_length */
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;      /* <arch>.attention.key_length, else n_embd / n_head */
    uint32_t n_ff;
    uint32_t n_rot;         /* rotary dimensions per head (<= head_dim) */
    uint32_t n_token_types; /* bert */
    float norm_eps;
    float rope_freq_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    slm_rope_style rope;
    slm_pooling pooling;
    bool causal;
    bool tied_output;      /* no output.weight: the token embedding is reused */
};

/* Name of an architecture as in general.architecture ("llama"); "?" if out of range. */
const char *slm_arch_name(slm_arch arch);
/* SLM_E_UNSUPPORTED (naming the architecture) for one slm has no row for. */
slm_status slm_arch_from_name(const char *name, slm_arch *out);

/* Reads and validates the hyper-parameters and checks that every tensor the architecture needs
 * is present with the right shape and a type slm can compute with. SLM_E_UNSUPPORTED for an
 * unknown architecture; SLM_E_INVALID_MODEL (with the key or tensor named) otherwise. */
slm_status slm_model_hparams_read(const slm_gguf *g, struct slm_model_hparams *out);

/* load_type of struct slm_model_params and struct slm_footprint_params: weights as stored. */
#define SLM_LOAD_TYPE_KEEP (-1)

typedef enum slm_kv_type {
    SLM_KV_F16 = 0,
    SLM_KV_F32 = 1,
} slm_kv_type;

/* Context served when nothing says otherwise: min(the model's trained context, this). */
#define SLM_DEFAULT_SERVE_CONTEXT 4096u

/* The sizes of the sessions the model will serve: same meaning and defaults as
 * struct slm_session_params, so the estimate is what the sessions allocate. */
struct slm_footprint_params {
    uint32_t n_ctx;   /* context per slot; 0 = min(trained context, SLM_DEFAULT_SERVE_CONTEXT) */
    uint32_t n_slots; /* parallel sessions, each with its KV cache and buffers (default 1) */
    uint32_t n_batch; /* prompt tokens per forward pass (default 512, capped at n_ctx) */
    int n_threads;    /* 0 = every CPU (each thread has attention scratch) */
    slm_kv_type kv_type;
    int load_type; /* SLM_LOAD_TYPE_KEEP (-1): weights as stored; else the type of load-time
                    * quantization, as in struct slm_model_params */
};
struct slm_footprint_params slm_footprint_default_params(void);

struct slm_footprint {
    uint64_t weights; /* bytes of all tensors as held in memory (stored, or at load_type) */
    uint64_t packed;  /* weights repacked at load for the CPU's matrix tiles, once per model
                       * (encoders on AMX: their matrices rounded to BF16), else 0 */
    uint64_t kv;      /* n_ctx x n_layer x n_head_kv x head_dim x 2 x elem x n_slots (0 for bert) */
    uint64_t scratch; /* activation buffers of the sessions (decoders) or embedders (encoders,
                       * n_batch tokens per pass), n_slots of them */
    uint64_t metadata; /* the file's index and the tokenizer's tables (built from the header
                        * metadata and measured) */
    uint64_t total;   /* weights + packed + kv + scratch + metadata */
    uint32_t n_ctx;   /* the context the KV figure is for */
};

/* Footprint from the header alone (no tensor data is touched). SLM_E_INVALID_MODEL /
 * SLM_E_UNSUPPORTED as slm_model_hparams_read for files slm cannot run; SLM_E_INVALID_ARG for a
 * load_type that is not a writable type (slm_quant_type_writable). */
slm_status slm_model_footprint(const slm_gguf *g, const struct slm_footprint_params *params,
                               struct slm_footprint *out);

/* ---- loaded models ---------------------------------------------------------------------- */

/* A model ready to run: its GGUF file mapped read-only, hyper-parameters validated, every weight
 * bound by role. Weights are shared by every session created on it. */
typedef struct slm_model slm_model;

struct slm_model_params {
    bool prefault; /* read every weight page at load so the first request does not fault them in */
    /* Load-time quantization. SLM_LOAD_TYPE_KEEP (default): weights used as stored, from the
     * mapping. An slm_type that is writable (Q8_0, Q4_0, Q4_K, ...: slm_quant_type_writable in
     * slm/convert.h): every weight matrix stored as F32, F16 or BF16 is converted into it at
     * load, in heap memory, and its file pages are released; a matrix whose rows do not fit gets
     * the type slm_quant_type_for_row gives (as `slm quantize --fallback`). Matrices already
     * quantized, 1-D tensors and position / token-type tables stay as stored. */
    int load_type;
    int n_threads; /* threads for load-time quantization; 0 = every CPU */
};
struct slm_model_params slm_model_default_params(void);

/* *out is NULL on failure; SLM_E_NOT_FOUND / SLM_E_IO for the file, SLM_E_INVALID_MODEL for a
 * malformed one, SLM_E_UNSUPPORTED for an architecture or tensor type slm cannot run. */
slm_status slm_model_load(const char *path, const struct slm_model_params *params,
                          slm_model **out);
void slm_model_free(slm_model *m); /* accepts NULL; no session may still use it */
/* Borrowed, valid until slm_model_free. */
const struct slm_model_hparams *slm_model_get_hparams(const slm_model *m);
const slm_gguf *slm_model_get_gguf(const slm_model *m);
/* Bytes of the file's tensors the model computes with from the mapping: all of them, less those
 * load-time quantization converted into heap buffers (whose pages it released). */
uint64_t slm_model_mapped_bytes(const slm_model *m);

#ifdef __cplusplus
}
#endif
#endif
