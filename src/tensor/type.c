/* The tensor type table: one row per GGML type id with its name, block layout and kernels
 * (dequantize, reference quantize, activation quantizer and dot per CPU dispatch level). */
#include "tensor/internal.h"

#include <strings.h>

struct type_row {
    const char *name;
    int64_t block_size;
    size_t block_bytes;
    /* Compute support (NULL/0 where slm has none): dequantize, reference quantize, and the dot
     * with activations in `partner` format per dispatch level (NULL: use the next lower level). */
    slm_to_float_fn to_float;
    slm_from_float_fn from_float;
    /* Activation quantizer per level, bytes as the scalar one's (NULL: the next lower level;
     * none at all: from_float). */
    slm_from_float_fn act_from_float[SLM_CPU_LEVEL_COUNT];
    slm_type partner;
    slm_vec_dot_fn vec_dot[SLM_CPU_LEVEL_COUNT];
    slm_vec_dot4_fn vec_dot4[SLM_CPU_LEVEL_COUNT]; /* optional four-row forms */
    slm_vec_dot4x2_fn vec_dot4x2[SLM_CPU_LEVEL_COUNT]; /* optional four-row, two-column forms */
    slm_vec_dot_fn vec_dot_batch[SLM_CPU_LEVEL_COUNT]; /* optional batch forms */
};

#define KERNELS(t, p, l2, l3)                                                                      \
    .to_float = slm__##t##_to_float, .from_float = slm__##t##_from_float, .partner = SLM_TYPE_##p,  \
    .vec_dot = {slm__dot_##t##_scalar, l2, l3}
#define CONVERT(t) .to_float = slm__##t##_to_float, .from_float = slm__##t##_from_float

/* Rows left zero are ids removed from the format. The single-row legacy dots of the avx512 level
 * are the avx2 ones (the reference order is an 8-lane chain). */
static const struct type_row type_rows[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = {"f32", 1, 4, KERNELS(f32, F32, slm__dot_f32_avx2, slm__dot_f32_avx512)},
    [SLM_TYPE_F16] = {"f16", 1, 2, KERNELS(f16, F16, slm__dot_f16_avx2, slm__dot_f16_avx512),
                     .act_from_float = {slm__f16_from_float, slm__f16_from_float_avx2,
                                        slm__f16_from_float_avx512},
                     .vec_dot4 = {[SLM_CPU_AVX512] = slm__dot4_f16_avx512}},
    [SLM_TYPE_BF16] = {"bf16", 1, 2, KERNELS(bf16, BF16, slm__dot_bf16_avx2, slm__dot_bf16_avx512),
                       .vec_dot_batch = {slm__dot_bf16_batch_scalar, slm__dot_bf16_batch_avx2,
                                         slm__dot_bf16_batch_avx512}},
    [SLM_TYPE_Q4_0] = {"q4_0", 32, 18, KERNELS(q4_0, Q8_0, slm__dot_q4_0_avx2, NULL),
                       .vec_dot4 = {[SLM_CPU_AVX2] = slm__dot4_q4_0_avx2,
                                    [SLM_CPU_AVX512] = slm__dot4_q4_0_avx512},
                       .vec_dot4x2 = {[SLM_CPU_AVX512] = slm__dot4x2_q4_0_avx512}},
    [SLM_TYPE_Q4_1] = {"q4_1", 32, 20, KERNELS(q4_1, Q8_1, slm__dot_q4_1_avx2, NULL)},
    [SLM_TYPE_Q5_0] = {"q5_0", 32, 22, KERNELS(q5_0, Q8_0, slm__dot_q5_0_avx2, NULL),
                       .vec_dot4 = {[SLM_CPU_AVX512] = slm__dot4_q5_0_avx512},
                       .vec_dot4x2 = {[SLM_CPU_AVX512] = slm__dot4x2_q5_0_avx512}},
    [SLM_TYPE_Q5_1] = {"q5_1", 32, 24, KERNELS(q5_1, Q8_1, slm__dot_q5_1_avx2, NULL)},
    [SLM_TYPE_Q8_0] = {"q8_0", 32, 34, KERNELS(q8_0, Q8_0, slm__dot_q8_0_avx2, NULL),
                       .act_from_float = {slm__q8_0_act_from_float, slm__q8_0_act_from_float_avx2,
                                          slm__q8_0_act_from_float_avx512},
                       .vec_dot4 = {[SLM_CPU_AVX512] = slm__dot4_q8_0_avx512},
                       .vec_dot4x2 = {[SLM_CPU_AVX512] = slm__dot4x2_q8_0_avx512}},
    [SLM_TYPE_Q8_1] = {"q8_1", 32, 36, CONVERT(q8_1),
                       .act_from_float = {slm__q8_1_act_from_float, slm__q8_1_act_from_float_avx2,
                                          slm__q8_1_act_from_float_avx512}},
    [SLM_TYPE_Q2_K] = {"q2_k", 256, 84},
    [SLM_TYPE_Q3_K] = {"q3_k", 256, 110},
    [SLM_TYPE_Q4_K] = {"q4_k", 256, 144, KERNELS(q4_k, Q8_K, slm__dot_q4_k_avx2, slm__dot_q4_k_avx512)},
    [SLM_TYPE_Q5_K] = {"q5_k", 256, 176, KERNELS(q5_k, Q8_K, slm__dot_q5_k_avx2, slm__dot_q5_k_avx512)},
    [SLM_TYPE_Q6_K] = {"q6_k", 256, 210, KERNELS(q6_k, Q8_K, slm__dot_q6_k_avx2, slm__dot_q6_k_avx512)},
    [SLM_TYPE_Q8_K] = {"q8_k", 256, 292, CONVERT(q8_k),
                       .act_from_float = {slm__q8_k_from_float, slm__q8_k_from_float_avx2,
                                          slm__q8_k_from_float_avx512}},
    [SLM_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66}, [SLM_TYPE_IQ2_XS] = {"iq2_xs", 256, 74},
    [SLM_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98}, [SLM_TYPE_IQ1_S] = {"iq1_s", 256, 50},
    [SLM_TYPE_IQ4_NL] = {"iq4_nl", 32, 18},  [SLM_TYPE_IQ3_S] = {"iq3_s", 256, 110},
    [SLM_TYPE_IQ2_S] = {"iq2_s", 256, 82},   [SLM_TYPE_IQ4_XS] = {"iq4_xs", 256, 136},
    [SLM_TYPE_I8] = {"i8", 1, 1},           [SLM_TYPE_I16] = {"i16", 1, 2},
    [SLM_TYPE_I32] = {"i32", 1, 4},         [SLM_TYPE_I64] = {"i64", 1, 8},
    [SLM_TYPE_F64] = {"f64", 1, 8},         [SLM_TYPE_IQ1_M] = {"iq1_m", 256, 56},
    [SLM_TYPE_TQ1_0] = {"tq1_0", 256, 54},
    [SLM_TYPE_TQ2_0] = {"tq2_0", 256, 66},  [SLM_TYPE_MXFP4] = {"mxfp4", 32, 17},
};

bool slm_type_is_valid(int type) {
    return type >= 0 && type < SLM_TYPE_COUNT && type_rows[type].name != NULL;
}

const char *slm_type_name(slm_type t) { return slm_type_is_valid((int)t) ? type_rows[t].name : "?"; }

slm_status slm_type_from_name(const char *name, slm_type *out) {
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        if (type_rows[t].name && strcasecmp(type_rows[t].name, name) == 0) {
            *out = (slm_type)t;
            return SLM_OK;
        }
    }
    return slm__error(SLM_E_INVALID_ARG, "unknown tensor type '%s'", name);
}

int64_t slm_type_block_size(slm_type t) { return slm_type_is_valid((int)t) ? type_rows[t].block_size : 0; }
size_t slm_type_block_bytes(slm_type t) { return slm_type_is_valid((int)t) ? type_rows[t].block_bytes : 0; }
bool slm_type_is_quantized(slm_type t) { return slm_type_block_size(t) > 1; }

bool slm_type_nbytes(slm_type t, uint64_t n, uint64_t *out) {
    if (!slm_type_is_valid((int)t)) return false;
    uint64_t bs = (uint64_t)type_rows[t].block_size;
    if (n % bs != 0) return false;
    return slm__mul_u64(n / bs, type_rows[t].block_bytes, out);
}

/* The dot of type t written for level l, if this CPU can run it. */
static slm_vec_dot_fn dot_at(slm_type t, int l) {
    if (t == SLM_TYPE_BF16 && l == SLM_CPU_AVX512 && !slm__cpu_has_avx512bf16()) return NULL;
    return type_rows[t].vec_dot[l];
}

bool slm__type_kernels(slm_type t, slm_cpu_level level, struct slm_type_kernels *out) {
    memset(out, 0, sizeof *out);
    out->partner = SLM_TYPE_COUNT;
    if (!slm_type_is_valid((int)t)) return false;
    const struct type_row *r = &type_rows[t];
    if (level >= SLM_CPU_LEVEL_COUNT) level = slm__cpu_level();
    out->to_float = r->to_float;
    out->from_float = r->from_float;
    for (int l = (int)level; l >= 0 && !out->act_from_float; l--)
        out->act_from_float = r->act_from_float[l];
    if (!out->act_from_float) out->act_from_float = r->from_float;
    if (!r->vec_dot[SLM_CPU_SCALAR]) return false;
    out->partner = r->partner;
    int l = (int)level;
    while (!dot_at(t, l)) l--;
    out->vec_dot = dot_at(t, l);
    out->vec_dot_batch = out->vec_dot;
    if (r->vec_dot_batch[l]) out->vec_dot_batch = r->vec_dot_batch[l];
    for (l = (int)level; l >= 0 && !out->vec_dot4; l--) out->vec_dot4 = r->vec_dot4[l];
    for (l = (int)level; l >= 0 && !out->vec_dot4x2; l--) out->vec_dot4x2 = r->vec_dot4x2[l];
    return true;
}

slm_vec_dot_fn slm__vec_dot_at(slm_type t, slm_cpu_level level) {
    if (!slm_type_is_valid((int)t) || level >= SLM_CPU_LEVEL_COUNT) return NULL;
    return dot_at(t, (int)level);
}

slm_vec_dot_fn slm__vec_dot_batch_at(slm_type t, slm_cpu_level level) {
    if (!slm_type_is_valid((int)t) || level >= SLM_CPU_LEVEL_COUNT || !dot_at(t, (int)level))
        return NULL;
    return type_rows[t].vec_dot_batch[level];
}

slm_from_float_fn slm__act_from_float_at(slm_type t, slm_cpu_level level) {
    if (!slm_type_is_valid((int)t) || level >= SLM_CPU_LEVEL_COUNT) return NULL;
    return type_rows[t].act_from_float[level];
}

slm_vec_dot4x2_fn slm__vec_dot4x2_at(slm_type t, slm_cpu_level level) {
    if (!slm_type_is_valid((int)t) || level >= SLM_CPU_LEVEL_COUNT) return NULL;
    return type_rows[t].vec_dot4x2[level];
}

slm_vec_dot4_fn slm__vec_dot4_at(slm_type t, slm_cpu_level level) {
    if (!slm_type_is_valid((int)t) || level >= SLM_CPU_LEVEL_COUNT) return NULL;
    return type_rows[t].vec_dot4[level];
}

slm_status slm_type_dequantize(slm_type t, const void *src, float *dst, int64_t n) {
    if (!slm_type_is_valid((int)t) || !type_rows[t].to_float)
        return slm__error(SLM_E_UNSUPPORTED, "cannot dequantize type %s", slm_type_name(t));
    if (n < 0 || n % type_rows[t].block_size != 0)
        return slm__error(SLM_E_INVALID_ARG, "%lld elements is not a whole number of %s blocks",
                          (long long)n, type_rows[t].name);
    type_rows[t].to_float(src, dst, n);
    return SLM_OK;
}

slm_status slm_type_quantize(slm_type t, const float *src, void *dst, int64_t n) {
    if (!slm_type_is_valid((int)t) || !type_rows[t].from_float)
        return slm__error(SLM_E_UNSUPPORTED, "cannot quantize to type %s", slm_type_name(t));
    if (n < 0 || n % type_rows[t].block_size != 0)
        return slm__error(SLM_E_INVALID_ARG, "%lld elements is not a whole number of %s blocks",
                          (long long)n, type_rows[t].name);
    type_rows[t].from_float(src, dst, n);
    return SLM_OK;
}
