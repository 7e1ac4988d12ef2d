/* slm convert: reading Hugging Face safetensors, turning a Hugging Face model folder into a GGUF
 * file (`slm convert`) and changing the tensor types of a GGUF file (`slm quantize`).
 *
 * Ownership: an slm_safetensors owns its mappings; every pointer it hands out (names, tensor
 * infos, data) is borrowed and valid until slm_safetensors_close(). */
#ifndef SLM_CONVERT_H
#define SLM_CONVERT_H

#include "slm/core.h"
#include "slm/gguf.h"
#include "slm/model.h"
#include "slm/tensor.h"
#include "slm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- safetensors ------------------------------------------------------------------------- */

typedef struct slm_safetensors slm_safetensors;

#define SLM_SAFETENSORS_MAX_DIMS 4

struct slm_safetensors_tensor {
    const char *name; /* NUL-terminated, borrowed */
    slm_type type;    /* F32, F16, BF16, F64, I64, I32, I16 or I8 (converted: the first three) */
    uint32_t n_dims;  /* 0..4 */
    int64_t shape[SLM_SAFETENSORS_MAX_DIMS]; /* PyTorch order: shape[n_dims-1] is contiguous */
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data; /* borrowed: points into the mapping */
};

/* Opens a .safetensors file, a model.safetensors.index.json (every shard it names), or a folder
 * holding either. The header JSON is validated: known dtype, shapes whose element count matches
 * the byte range, ranges inside the file that do not overlap, no duplicate names. On failure *out
 * is NULL; SLM_E_NOT_FOUND / SLM_E_IO for files, SLM_E_INVALID_MODEL for malformed ones and
 * SLM_E_UNSUPPORTED for a dtype slm does not convert (named in the detail). */
slm_status slm_safetensors_open(const char *path, slm_safetensors **out);
void slm_safetensors_close(slm_safetensors *st); /* accepts NULL */
int64_t slm_safetensors_count(const slm_safetensors *st);
/* Borrowed; i in [0, count). Tensors are in name order. */
const struct slm_safetensors_tensor *slm_safetensors_tensor(const slm_safetensors *st, int64_t i);
/* NULL if absent. */
const struct slm_safetensors_tensor *slm_safetensors_find(const slm_safetensors *st,
                                                          const char *name);

/* ---- type choice --------------------------------------------------------------------------- */

/* The type a matrix with rows of `cols` elements gets when `want` is asked for: `want` when the
 * row is a whole number of blocks, else the nearest type that fits, as llama.cpp does
 * (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16 when not even 32 divides the row).
 * A type that is not writable is returned as it is. */
slm_type slm_quant_type_for_row(slm_type want, int64_t cols);
/* True for the types slm can write: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
 */
bool slm_quant_type_writable(slm_type type);

/* ---- convert ------------------------------------------------------------------------------- */

struct slm_convert_params {
    slm_type type; /* type of the weight matrices (default F32); norms and biases stay F32 */
    bool fallback; /* matrices whose rows do not fit `type` get slm_quant_type_for_row(); when
                      false (default) such a matrix is an error naming it */
    int n_threads; /* 0 = every CPU */
};
struct slm_convert_params slm_convert_default_params(void);

struct slm_convert_report {
    slm_arch arch;
    uint64_t n_tensors;
    uint64_t n_params;
    uint64_t tensor_bytes;
    int32_t n_vocab;              /* rows of the token embedding */
    slm_tokenizer_kind tokenizer; /* written as "llama", "gpt2" or "bert" */
};

/* Converts a Hugging Face folder (config.json, *.safetensors or model.safetensors.index.json,
 * tokenizer.json, optionally tokenizer_config.json and 1_Pooling/config.json) into a GGUF file at
 * out_path (written atomically). Architectures: LlamaForCausalLM, Qwen2ForCausalLM, BertModel
 * (and sentence-transformers folders of it). report may be NULL. SLM_E_UNSUPPORTED names what
 * cannot be converted; SLM_E_INVALID_MODEL names the missing or inconsistent file, key or tensor.
 */
slm_status slm_convert_hf(const char *dir, const char *out_path,
                          const struct slm_convert_params *params,
                          struct slm_convert_report *report);

/* Writes the tokenizer of the Hugging Face folder dir into w as tokenizer.* metadata:
 * tokenizer.json through slm_tokenizer_load_hf_json and slm_tokenizer_write_gguf, then the special
 * tokens tokenizer_config.json names (or config.json's bos/eos ids), its add_bos/add_eos flags and
 * chat template (tokenizer.chat_template). A vocabulary smaller than n_vocab (the model's
 * embedding rows; 0 = no minimum) is padded with unused "[PAD<id>]" tokens, as llama.cpp does; a
 * larger one is SLM_E_INVALID_MODEL. *kind (may be NULL) gets the family. SLM_E_UNSUPPORTED for a
 * tokenizer slm cannot run. */
slm_status slm_convert_tokenizer_hf(const char *dir, int32_t n_vocab, slm_gguf_writer *w,
                                    slm_tokenizer_kind *kind);

/* ---- quantize ------------------------------------------------------------------------------ */

struct slm_quantize_params {
    slm_type type; /* required: target type of the weight matrices */
    bool fallback; /* matrices whose rows do not fit `type` get slm_quant_type_for_row(); when
                      false (default) such a matrix is an error naming it */
    int n_threads; /* 0 = every CPU */
};
struct slm_quantize_params slm_quantize_default_params(void);

struct slm_quantize_report {
    uint64_t n_tensors;
    uint64_t n_quantized; /* matrices whose type changed */
    uint64_t n_fallback;  /* of those, how many got a fallback type */
    uint64_t bytes_in;    /* tensor bytes before and after */
    uint64_t bytes_out;
};

/* Rewrites a GGUF model with every 2-D weight matrix in params->type (1-D tensors such as norms
 * and biases are copied as they are), all metadata copied and general.file_type updated. The
 * input must be a model slm can load. report may be NULL. */
slm_status slm_quantize_gguf(const char *in_path, const char *out_path,
                             const struct slm_quantize_params *params,
                             struct slm_quantize_report *report);

#ifdef __cplusplus
}
#endif
#endif
