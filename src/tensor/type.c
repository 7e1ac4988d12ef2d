/* The tensor type table: one row per GGML type id with its name and block layout. */
#include "core/internal.h"
#include "slm/tensor.h"

#include <strings.h>

struct type_row {
    const char *name;
    int64_t block_size;
    size_t block_bytes;
};

/* Rows left zero are ids removed from the format. */
static const struct type_row type_rows[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = {"f32", 1, 4},         [SLM_TYPE_F16] = {"f16", 1, 2},
    [SLM_TYPE_Q4_0] = {"q4_0", 32, 18},     [SLM_TYPE_Q4_1] = {"q4_1", 32, 20},
    [SLM_TYPE_Q5_0] = {"q5_0", 32, 22},     [SLM_TYPE_Q5_1] = {"q5_1", 32, 24},
    [SLM_TYPE_Q8_0] = {"q8_0", 32, 34},     [SLM_TYPE_Q8_1] = {"q8_1", 32, 36},
    [SLM_TYPE_Q2_K] = {"q2_k", 256, 84},    [SLM_TYPE_Q3_K] = {"q3_k", 256, 110},
    [SLM_TYPE_Q4_K] = {"q4_k", 256, 144},   [SLM_TYPE_Q5_K] = {"q5_k", 256, 176},
    [SLM_TYPE_Q6_K] = {"q6_k", 256, 210},   [SLM_TYPE_Q8_K] = {"q8_k", 256, 292},
    [SLM_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66}, [SLM_TYPE_IQ2_XS] = {"iq2_xs", 256, 74},
    [SLM_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98}, [SLM_TYPE_IQ1_S] = {"iq1_s", 256, 50},
    [SLM_TYPE_IQ4_NL] = {"iq4_nl", 32, 18},  [SLM_TYPE_IQ3_S] = {"iq3_s", 256, 110},
    [SLM_TYPE_IQ2_S] = {"iq2_s", 256, 82},   [SLM_TYPE_IQ4_XS] = {"iq4_xs", 256, 136},
    [SLM_TYPE_I8] = {"i8", 1, 1},           [SLM_TYPE_I16] = {"i16", 1, 2},
    [SLM_TYPE_I32] = {"i32", 1, 4},         [SLM_TYPE_I64] = {"i64", 1, 8},
    [SLM_TYPE_F64] = {"f64", 1, 8},         [SLM_TYPE_IQ1_M] = {"iq1_m", 256, 56},
    [SLM_TYPE_BF16] = {"bf16", 1, 2},       [SLM_TYPE_TQ1_0] = {"tq1_0", 256, 54},
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
