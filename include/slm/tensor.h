/* slm tensor types: the GGUF/GGML type ids, block layout and sizes. Kernels build on these. */
#ifndef SLM_TENSOR_H
#define SLM_TENSOR_H

#include "slm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values are the on-disk GGML type ids (bit-compatible with existing GGUF files). Ids without a
 * row were removed from the format and are rejected. */
typedef enum slm_type {
    SLM_TYPE_F32 = 0,
    SLM_TYPE_F16 = 1,
    SLM_TYPE_Q4_0 = 2,
    SLM_TYPE_Q4_1 = 3,
    SLM_TYPE_Q5_0 = 6,
    SLM_TYPE_Q5_1 = 7,
    SLM_TYPE_Q8_0 = 8,
    SLM_TYPE_Q8_1 = 9,
    SLM_TYPE_Q2_K = 10,
    SLM_TYPE_Q3_K = 11,
    SLM_TYPE_Q4_K = 12,
    SLM_TYPE_Q5_K = 13,
    SLM_TYPE_Q6_K = 14,
    SLM_TYPE_Q8_K = 15,
    SLM_TYPE_IQ2_XXS = 16,
    SLM_TYPE_IQ2_XS = 17,
    SLM_TYPE_IQ3_XXS = 18,
    SLM_TYPE_IQ1_S = 19,
    SLM_TYPE_IQ4_NL = 20,
    SLM_TYPE_IQ3_S = 21,
    SLM_TYPE_IQ2_S = 22,
    SLM_TYPE_IQ4_XS = 23,
    SLM_TYPE_I8 = 24,
    SLM_TYPE_I16 = 25,
    SLM_TYPE_I32 = 26,
    SLM_TYPE_I64 = 27,
    SLM_TYPE_F64 = 28,
    SLM_TYPE_IQ1_M = 29,
    SLM_TYPE_BF16 = 30,
    SLM_TYPE_TQ1_0 = 34,
    SLM_TYPE_TQ2_0 = 35,
    SLM_TYPE_MXFP4 = 39,
    SLM_TYPE_COUNT = 40,
} slm_type;

/* True for ids that name a type (known layout), whether or not slm can compute with it. */
bool slm_type_is_valid(int type);
/* "f32", "q4_k", ...; "?" for an invalid id. Static storage. */
const char *slm_type_name(slm_type type);
/* The compute kernels this process dispatches to, space-separated: the vector level ("scalar",
 * "avx2" or "avx512"; SLM_CPU_LEVEL lowers it) and the matrix tiles the CPU and the OS grant
 * ("amx-int8": quantized batches, "amx-bf16": embeddings). Static string, for reports. */
const char *slm_cpu_kernels(void);
/* Parses a name as printed by slm_type_name (case-insensitive). */
slm_status slm_type_from_name(const char *name, slm_type *out);
/* Elements per block (1 for plain types, 32 or 256 for quantized ones). 0 if invalid. */
int64_t slm_type_block_size(slm_type type);
/* Bytes per block. 0 if invalid. */
size_t slm_type_block_bytes(slm_type type);
bool slm_type_is_quantized(slm_type type);
/* Bytes of n elements; n must be a multiple of the block size. False on overflow or misfit. */
bool slm_type_nbytes(slm_type type, uint64_t n, uint64_t *out);

/* n elements (a multiple of the block size) of `type` at src into floats at dst. Supported: F32,
 * F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q4_K, Q5_K, Q6_K, Q8_K; else SLM_E_UNSUPPORTED.
 * Exact: bit-identical with the reference GGUF tools. Buffers borrowed. */
slm_status slm_type_dequantize(slm_type type, const void *src, float *dst, int64_t n);
/* n floats into slm_type_nbytes(type, n) bytes at dst with the reference quantizer (same types).
 * The output is byte-identical with llama.cpp's reference quantizer (no importance matrix) for
 * Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K. Buffers borrowed. */
slm_status slm_type_quantize(slm_type type, const float *src, void *dst, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
