/* Internal tensor layer: the GGUF block layouts, half-float conversions, the per-type kernel
 * signatures behind the type table, CPU dispatch levels, the threaded matmul and the other ops
 * the forward pass calls. Everything here is for libslm's own layers (model, gen, quantize). */
#ifndef SLM_TENSOR_INTERNAL_H
#define SLM_TENSOR_INTERNAL_H

#include "core/internal.h"
#include "slm/tensor.h"

#include <assert.h>
#include <string.h>

/* ---- block layouts, byte for byte as in GGUF files (little-endian) ---- */

typedef uint16_t slm_f16;  /* IEEE binary16 bits */
typedef uint16_t slm_bf16; /* upper half of an IEEE binary32 */

#define SLM_QK            32  /* elements per block of the legacy types */
#define SLM_QK_K          256 /* elements per super-block of the K types */
#define SLM_K_SCALE_BYTES 12

typedef struct {
    slm_f16 d;
    uint8_t qs[SLM_QK / 2]; /* element j in low nibble of qs[j], element j+16 in high nibble */
} slm_block_q4_0;
typedef struct {
    slm_f16 d, m;
    uint8_t qs[SLM_QK / 2];
} slm_block_q4_1;
typedef struct {
    slm_f16 d;
    uint8_t qh[4]; /* bit j = fifth bit of element j (little-endian uint32) */
    uint8_t qs[SLM_QK / 2];
} slm_block_q5_0;
typedef struct {
    slm_f16 d, m;
    uint8_t qh[4];
    uint8_t qs[SLM_QK / 2];
} slm_block_q5_1;
typedef struct {
    slm_f16 d;
    int8_t qs[SLM_QK];
} slm_block_q8_0;
typedef struct {
    slm_f16 d, s; /* s = d * sum(qs): lets Q4_1/Q5_1 dots add the min term without a pass */
    int8_t qs[SLM_QK];
} slm_block_q8_1;
typedef struct {
    slm_f16 d, dmin;
    uint8_t scales[SLM_K_SCALE_BYTES]; /* 8 x (6-bit scale, 6-bit min) */
    uint8_t qs[SLM_QK_K / 2];
} slm_block_q4_k;
typedef struct {
    slm_f16 d, dmin;
    uint8_t scales[SLM_K_SCALE_BYTES];
    uint8_t qh[SLM_QK_K / 8];
    uint8_t qs[SLM_QK_K / 2];
} slm_block_q5_k;
typedef struct {
    uint8_t ql[SLM_QK_K / 2];
    uint8_t qh[SLM_QK_K / 4];
    int8_t scales[SLM_QK_K / 16];
    slm_f16 d;
} slm_block_q6_k;
typedef struct {
    float d;
    int8_t qs[SLM_QK_K];
    int16_t bsums[SLM_QK_K / 16]; /* sums of each 16 qs, for the K-quant min terms */
} slm_block_q8_k;

static_assert(sizeof(slm_block_q4_0) == 18, "q4_0 block");
static_assert(sizeof(slm_block_q4_1) == 20, "q4_1 block");
static_assert(sizeof(slm_block_q5_0) == 22, "q5_0 block");
static_assert(sizeof(slm_block_q5_1) == 24, "q5_1 block");
static_assert(sizeof(slm_block_q8_0) == 34, "q8_0 block");
static_assert(sizeof(slm_block_q8_1) == 36, "q8_1 block");
static_assert(sizeof(slm_block_q4_k) == 144, "q4_k block");
static_assert(sizeof(slm_block_q5_k) == 176, "q5_k block");
static_assert(sizeof(slm_block_q6_k) == 210, "q6_k block");
static_assert(sizeof(slm_block_q8_k) == 292, "q8_k block");

/* ---- half floats ---- */

static inline float slm__f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t slm__f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
/* Exact widening (subnormals, infinities and NaN included). */
static inline float slm__f16_to_f32(slm_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return slm__f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* subnormal: man * 2^-24, exact in binary32 */
        float f = (float)man * 0x1p-24f;
        return sign ? -f : f;
    }
    return slm__f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}
/* Round to nearest even, overflow to infinity, NaN stays NaN (same as F16C's vcvtps2ph). */
slm_f16 slm__f32_to_f16(float f);
static inline float slm__bf16_to_f32(slm_bf16 h) {
    return slm__f32_from_bits((uint32_t)h << 16);
}
static inline slm_bf16 slm__f32_to_bf16(float f) {
    uint32_t u = slm__f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (slm_bf16)((u >> 16) | 64); /* quiet the NaN */
    return (slm_bf16)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* The 6-bit scales and mins of a Q4_K/Q5_K super-block's eight groups of 32 (the layout
 * k_scale_min in quant.c writes). */
static inline void slm__k_scales_mins(const uint8_t *scales, int sc[8], int mn[8]) {
    for (int g = 0; g < 8; g++) {
        if (g < 4) {
            sc[g] = scales[g] & 63;
            mn[g] = scales[g + 4] & 63;
        } else {
            sc[g] = (scales[g + 4] & 0xf) | ((scales[g - 4] >> 6) << 4);
            mn[g] = (scales[g + 4] >> 4) | ((scales[g] >> 6) << 4);
        }
    }
}

/* ---- per-type kernels (rows of n elements, n a multiple of the block size) ---- */

typedef void (*slm_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*slm_from_float_fn)(const float *src, void *dst, int64_t n);
/* Dot of a weight row with an activation row already in the weight type's partner format. */
typedef float (*slm_vec_dot_fn)(int64_t n, const void *w, const void *x);
/* Four weight rows (w, w + stride, ...) against one activation row: out[0..3]. Optional per type
 * and level; shares the activation-side work between the rows. */
typedef void (*slm_vec_dot4_fn)(int64_t n, const void *w, size_t stride, const void *x, float *out);
/* The same four rows against two activation rows (x and x + xstride): out0[0..3], out1[0..3],
 * each equal to what the four-row form gives; for batches, sharing the weight-side work. */
typedef void (*slm_vec_dot4x2_fn)(int64_t n, const void *w, size_t stride, const void *x,
                                  size_t xstride, float *out0, float *out1);

typedef enum slm_cpu_level {
    SLM_CPU_SCALAR = 0,
    SLM_CPU_AVX2 = 1,   /* AVX2 + FMA + F16C */
    SLM_CPU_AVX512 = 2, /* AVX-512 F/BW/VL/DQ + VNNI (the BF16 dot also needs AVX512-BF16) */
    SLM_CPU_LEVEL_COUNT = 3,
} slm_cpu_level;

/* What the CPU supports, detected once (cpuid/xgetbv through __builtin_cpu_supports). */
slm_cpu_level slm__cpu_level_detected(void);
bool slm__cpu_has_avx512bf16(void);
/* The level kernels are picked for: the detected one, lowered by SLM_CPU_LEVEL=scalar|avx2|avx512
 * read at the first call. */
slm_cpu_level slm__cpu_level(void);
/* Test hook: force a level (clamped to the detected one); returns the level now active. */
slm_cpu_level slm__cpu_level_set(slm_cpu_level level);
const char *slm__cpu_level_name(slm_cpu_level level);

struct slm_type_kernels {
    slm_type partner;             /* activation format of vec_dot; SLM_TYPE_COUNT if none */
    slm_to_float_fn to_float;     /* NULL: cannot be dequantized */
    slm_from_float_fn from_float; /* reference quantizer; NULL: cannot be produced */
    /* Quantizer for activations in this format (dot partner, KV cache): llama.cpp's x86 numerics
     * where they differ from the file quantizer (Q8_0, Q8_1), else from_float's; for the level
     * (SIMD forms write the scalar one's bytes). */
    slm_from_float_fn act_from_float;
    slm_vec_dot_fn vec_dot;   /* for the requested level (best available at or below it) */
    /* The dot for batches of 2 or more activation rows, where llama.cpp's order differs from its
     * matrix x vector one (BF16); vec_dot elsewhere. */
    slm_vec_dot_fn vec_dot_batch;
    slm_vec_dot4_fn vec_dot4; /* likewise; NULL if none at or below the level */
    slm_vec_dot4x2_fn vec_dot4x2; /* likewise */
};
/* Kernels of type t at a level (SLM_CPU_LEVEL_COUNT = the active level). False if t has no
 * compute support (vec_dot NULL, partner SLM_TYPE_COUNT); the conversions are filled either way
 * (Q8_K and Q8_1 only convert). */
bool slm__type_kernels(slm_type t, slm_cpu_level level, struct slm_type_kernels *out);
/* Raw table access for tests: the kernels written for exactly this level, NULL if none. */
slm_vec_dot_fn slm__vec_dot_at(slm_type t, slm_cpu_level level);
slm_vec_dot4_fn slm__vec_dot4_at(slm_type t, slm_cpu_level level);
slm_from_float_fn slm__act_from_float_at(slm_type t, slm_cpu_level level);
slm_vec_dot4x2_fn slm__vec_dot4x2_at(slm_type t, slm_cpu_level level);
slm_vec_dot_fn slm__vec_dot_batch_at(slm_type t, slm_cpu_level level);

/* The horizontal sums of llama.cpp's x86 kernels, in scalar form: 8 lanes (hsum_float_8) and 16
 * lanes (_mm512_reduce_add_ps, folded in halves). */
float slm__hsum8_ref(const float v[8]);
float slm__hsum16_ref(const float v[16]);

/* Scalar reference kernels (quant.c, dot.c). */
#define SLM__TYPE_KERNEL_DECLS(x)                                                                  \
    void slm__##x##_to_float(const void *src, float *dst, int64_t n);                              \
    void slm__##x##_from_float(const float *src, void *dst, int64_t n);
SLM__TYPE_KERNEL_DECLS(f32)
SLM__TYPE_KERNEL_DECLS(f16)
SLM__TYPE_KERNEL_DECLS(bf16)
SLM__TYPE_KERNEL_DECLS(q4_0)
SLM__TYPE_KERNEL_DECLS(q4_1)
SLM__TYPE_KERNEL_DECLS(q5_0)
SLM__TYPE_KERNEL_DECLS(q5_1)
SLM__TYPE_KERNEL_DECLS(q8_0)
SLM__TYPE_KERNEL_DECLS(q8_1)
SLM__TYPE_KERNEL_DECLS(q4_k)
SLM__TYPE_KERNEL_DECLS(q5_k)
SLM__TYPE_KERNEL_DECLS(q6_k)
SLM__TYPE_KERNEL_DECLS(q8_k)
#undef SLM__TYPE_KERNEL_DECLS
void slm__q8_0_act_from_float(const float *src, void *dst, int64_t n);
void slm__q8_1_act_from_float(const float *src, void *dst, int64_t n);
/* Their SIMD forms (quant_avx2.c, quant_avx512.c), and those of the Q8_K and F16 quantizers. */
#define SLM__ACT_QUANT_DECLS(sfx)                                                                  \
    void slm__q8_0_act_from_float_##sfx(const float *src, void *dst, int64_t n);                   \
    void slm__q8_1_act_from_float_##sfx(const float *src, void *dst, int64_t n);                   \
    void slm__q8_k_from_float_##sfx(const float *src, void *dst, int64_t n);                       \
    void slm__f16_from_float_##sfx(const float *src, void *dst, int64_t n);
SLM__ACT_QUANT_DECLS(avx2)
SLM__ACT_QUANT_DECLS(avx512)
#undef SLM__ACT_QUANT_DECLS

#define SLM__VEC_DOT_DECLS(sfx)                                                                    \
    float slm__dot_f32_##sfx(int64_t n, const void *w, const void *x);                             \
    float slm__dot_f16_##sfx(int64_t n, const void *w, const void *x);                             \
    float slm__dot_bf16_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q4_0_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q4_1_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q5_0_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q5_1_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q8_0_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q4_k_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q5_k_##sfx(int64_t n, const void *w, const void *x);                            \
    float slm__dot_q6_k_##sfx(int64_t n, const void *w, const void *x);
SLM__VEC_DOT_DECLS(scalar)
SLM__VEC_DOT_DECLS(avx2)
#undef SLM__VEC_DOT_DECLS
float slm__dot_f32_avx512(int64_t n, const void *w, const void *x);
float slm__dot_f16_avx512(int64_t n, const void *w, const void *x);
float slm__dot_bf16_avx512(int64_t n, const void *w, const void *x);
float slm__dot_q4_k_avx512(int64_t n, const void *w, const void *x);
float slm__dot_q5_k_avx512(int64_t n, const void *w, const void *x);
float slm__dot_q6_k_avx512(int64_t n, const void *w, const void *x);
float slm__dot_bf16_batch_scalar(int64_t n, const void *w, const void *x);
float slm__dot_bf16_batch_avx2(int64_t n, const void *w, const void *x);
float slm__dot_bf16_batch_avx512(int64_t n, const void *w, const void *x);
void slm__dot4_q8_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out);
void slm__dot4_q4_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out);
void slm__dot4_q5_0_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out);
void slm__dot4x2_q8_0_avx512(int64_t n, const void *w, size_t stride, const void *x, size_t xstride,
                             float *out0, float *out1);
void slm__dot4x2_q4_0_avx512(int64_t n, const void *w, size_t stride, const void *x, size_t xstride,
                             float *out0, float *out1);
void slm__dot4x2_q5_0_avx512(int64_t n, const void *w, size_t stride, const void *x, size_t xstride,
                             float *out0, float *out1);
void slm__dot4_q4_0_avx2(int64_t n, const void *w, size_t stride, const void *x, float *out);
void slm__dot4_f16_avx512(int64_t n, const void *w, size_t stride, const void *x, float *out);

/* ---- matrix multiply ---- */

/* A weight matrix as stored in GGUF: rows of `cols` elements of `type`, rows contiguous. Borrowed.
 */
struct slm_weight {
    slm_type type;
    int64_t rows, cols;
    const void *data;
};

/* Bytes of scratch slm__matmul needs for n activation rows against weights of type t with `cols`
 * columns (the activations quantized to t's partner format, laid out for the AMX-INT8 tiles on
 * CPUs that have them: slm__mmq_scratch_size). 0 if none is needed (F32 weights read x
 * directly), t has no compute support or cols misfits the block size. */
size_t slm__matmul_scratch_size(slm_type t, int64_t cols, int64_t n);
/* y[j][r] = dot(row r of w, x[j]) for j < n, r < w->rows: x is [n][cols] floats, y is [n][rows].
 * x is quantized once into scratch (>= slm__matmul_scratch_size bytes, caller-owned, not shared
 * between concurrent calls), then the pool's first nth threads take chunks of rows, each chunk
 * computed for all n columns while its weights are in cache. nth <= slm_pool_n_threads(pool) (any
 * value if pool is NULL: runs on the caller). Results do not depend on nth. Does not allocate.
 * Precondition (asserted): type has compute support, cols a multiple of its block size. */
void slm__matmul(slm_pool *pool, int nth, const struct slm_weight *w, const float *x, int64_t n,
                 float *y, void *scratch);
/* The two halves of slm__matmul, for several weights that read the same activations (Q, K, V;
 * gate and up): prepare quantizes x once into scratch for weights of `type` and returns the
 * partner format; prepared then multiplies any weight whose type has that partner (and the same
 * cols), reading the activations from scratch (or from x when the partner is F32). */
slm_type slm__matmul_prepare(slm_pool *pool, int nth, slm_type type, const float *x, int64_t cols,
                             int64_t n, void *scratch);
void slm__matmul_prepared(slm_pool *pool, int nth, const struct slm_weight *w, const float *x,
                          int64_t n, float *y, const void *scratch);
/* Matrix x vector (n == 1) for count <= SLM__MATVEC_GROUP_MAX weights over the same activations
 * in one pool run: y[i] = w[i] x. The weights have equal cols and types of one partner format,
 * which slm__matmul_prepare has made x into. */
#define SLM__MATVEC_GROUP_MAX 4
void slm__matvec_prepared_group(slm_pool *pool, int nth, const struct slm_weight *const *w,
                                int count, const float *x, float *const *y, const void *scratch);
/* The partner format of a weight type (SLM_TYPE_COUNT if it has no compute support). */
slm_type slm__matmul_partner(slm_type type);

/* Float-activation matrix multiply for F32, F16, BF16 and Q8_0 weights (gemm.c): y[j][r] =
 * dot(row r of w, x[j]) with x kept in float (not rounded to the partner format: Q8 activations
 * cost MiniLM a cosine of 1e-3), computed in register tiles; for batches of many rows (the
 * encoder). Only where slm__matmul_f32x_supported(type): those types on the AVX2 level and up.
 * Does not allocate. */
bool slm__matmul_f32x_supported(slm_type t);
/* slm__matmul sends F32 and F16 batches of at least this many columns to it where supported (a
 * tile of outputs per weight and activation load instead of one dot product at a time). F16
 * activations then stay in float, where the reference rounds them to F16 first: more precise,
 * and twice as fast on a SmolLM2-shaped prompt; the result moves by up to that rounding, 2^-11
 * of the sum of |terms|. slm__matmul_float_tiles says whether a batch goes there. */
#define SLM__MATMUL_F32_TILE_MIN 8
bool slm__matmul_float_tiles(slm_type t, int64_t n);
void slm__matmul_f32x(slm_pool *pool, int nth, const struct slm_weight *w, const float *x,
                      int64_t n, float *y);
/* Rows r0..r1 of it on one thread: the scalar reference (double sums), the AVX2 and the AVX-512
 * tiles. */
void slm__gemm_f32x_ref(const struct slm_weight *w, const float *x, int64_t n, float *y,
                        int64_t r0, int64_t r1);
void slm__gemm_f32x_avx2(const struct slm_weight *w, const float *x, int64_t n, float *y,
                         int64_t r0, int64_t r1);
void slm__gemm_f32x_avx512(const struct slm_weight *w, const float *x, int64_t n, float *y,
                           int64_t r0, int64_t r1);
/* y[i][j] = alpha * sum_c a[i][c] b[c][j] for i < m, j < n over k terms, on one thread; rows of
 * a, b and y are as, bs and ys floats apart (attention: scores = Q K^T with K transposed, then
 * P V). The AVX-512 form broadcasts elements of a against vectors of b (no horizontal sums), only
 * on the AVX-512 level; the reference sums in double. */
void slm__gemm_nn_ref(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t as,
                      const float *b, int64_t bs, float *y, int64_t ys);
void slm__gemm_nn_avx512(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                         int64_t as, const float *b, int64_t bs, float *y, int64_t ys);

/* Packed BF16 matrix multiply on AMX tiles (gemm.c, gemm_amx.c), for the encoder's large
 * batches: weights of any type are dequantized and rounded to BF16 once, into 16 x 32 tiles, and
 * activations are rounded to BF16 into a packed copy before each product; sums are in float.
 * Rounding both sides to BF16 moves a MiniLM sentence vector by a cosine of about 3e-5, while the
 * tiles run at more than ten times the float FMA rate. Only where slm__cpu_has_amx_bf16(). */
#define SLM_AMX_ROWS(r) (((r) + 31) / 32 * 32) /* weight rows and activation rows come in pairs */
#define SLM_AMX_COLS(k) (((k) + 31) / 32 * 32) /* of tiles; k in steps of 32 */
struct slm_amx_weight {
    int64_t rows, cols, cols_p;
    const slm_bf16 *data; /* [rows_p / 16][cols_p / 32][16][16][2]: tile (row block, k block) */
};
/* AMX-BF16 present and the OS lets this process use the tile registers (asked once). */
bool slm__cpu_has_amx_bf16(void);
/* AMX-INT8 usable (as above); and present on this CPU whatever the hook and level say, for
 * sizing buffers that must serve either way. */
bool slm__cpu_has_amx_int8(void);
bool slm__cpu_detected_amx_int8(void);
/* Test hook: forbid (false) or allow again the AMX tiles, for what is created afterwards. */
void slm__cpu_amx_allow(bool allow);
/* Bytes of a packed weight and of packed activations of n rows. */
size_t slm__amx_weight_bytes(int64_t rows, int64_t cols);
size_t slm__amx_act_bytes(int64_t n, int64_t cols);
/* Packs w (any type slm_type_dequantize knows) into out (slm__amx_weight_bytes); row_tmp holds
 * w->cols floats. Fills *pw. Scalar, at creation time. */
void slm__amx_pack_weight(const struct slm_weight *w, void *out, float *row_tmp,
                          struct slm_amx_weight *pw);
/* Activation epilogue of the product. */
typedef enum { SLM_AMX_NONE, SLM_AMX_GELU_ERF, SLM_AMX_GELU_TANH } slm_amx_act;
/* Rounds x ([n][cols]) into xa (slm__amx_act_bytes), threads over rows. */
void slm__amx_pack_act(slm_pool *pool, int nth, const float *x, int64_t n, int64_t cols,
                       slm_bf16 *xa);
/* y[j][r] = act(dot(w row r, xa row j) + bias[r]) for j < n (bias may be NULL); y rows are
 * w->rows apart. Threads claim (pair of token tiles, group of weight rows). Does not allocate. */
void slm__matmul_amx(slm_pool *pool, int nth, const struct slm_amx_weight *w, const slm_bf16 *xa,
                     int64_t n, const float *bias, slm_amx_act act, float *y);
/* The scalar reference: the same BF16 products summed in double, then bias and act. */
void slm__matmul_amx_ref(const struct slm_amx_weight *w, const slm_bf16 *xa, int64_t n,
                         const float *bias, slm_amx_act act, float *y);
/* The AMX side (gemm_amx.c), also for attention on one thread. begin/end load and release the
 * tile configuration on the calling thread; tiles computes y = sums + bias (bias may be NULL)
 * for tokens t0..t0+31 (those below n) against weight rows o0..o1 (o0 a multiple of 32), y rows
 * ys floats apart. */
void slm__amx_begin(void);
void slm__amx_end(void);
void slm__amx_tiles(const struct slm_amx_weight *w, const slm_bf16 *xa, int64_t n, int64_t t0,
                    int64_t o0, int64_t o1, const float *bias, float *y, int64_t ys);
/* Rows r0..r1 of packed activations from rows of x that are xs floats apart, times scale
 * (rows from n on are zero). */
void slm__amx_pack_act_avx512(const float *x, int64_t n, int64_t cols, int64_t xs, float scale,
                              slm_bf16 *xa, int64_t r0, int64_t r1);
/* Packs float weights as slm__amx_pack_weight does (bit for bit), into out
 * (slm__amx_weight_bytes): weight (r, k) = src[r * rs + k] (rows_avx512: a head's keys) or
 * src[k * cs + r] (cols_avx512: a head's values, transposed). */
void slm__amx_pack_rows_avx512(const float *src, int64_t rows, int64_t cols, int64_t rs,
                               void *out, struct slm_amx_weight *pw);
void slm__amx_pack_cols_avx512(const float *src, int64_t rows, int64_t cols, int64_t cs,
                               void *out, struct slm_amx_weight *pw);

/* ---- other ops (ops.c scalar reference; ops_avx2.c vectorised; dispatch by slm__cpu_level) ----
 * All take contiguous float rows; in-place use (out == in) is allowed where noted. */

/* out = x / sqrt(mean(x^2) + eps) * w (w may be NULL), in llama.cpp's order. In-place OK. */
void slm__rms_norm(float *out, const float *x, const float *w, int64_t n, float eps);
/* out = (x - mean) / sqrt(var + eps) * w + b (w, b may be NULL). In-place OK. */
void slm__layer_norm(float *out, const float *x, const float *w, const float *b, int64_t n,
                     float eps);
/* In place: x = softmax(x), in llama.cpp's order (16-element chunks through its vector exp). */
void slm__softmax(float *x, int64_t n);
/* In place on one token's heads: x is [n_head][head_dim]; rotates the first n_rot dims of each
 * head by angle pos * freq_scale * theta^(-2i/n_rot). neox pairs dim i with i + n_rot/2 (GPT-NeoX,
 * Qwen2), otherwise 2i with 2i+1 (LLaMA). */
void slm__rope(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos, float theta,
               float freq_scale, bool neox);
void slm__silu(float *out, const float *x, int64_t n);      /* x * sigmoid(x); in-place OK */
/* llama.cpp's AVX-512 exp (ggml_v_expf) on one value: silu, swiglu and softmax use it on 16-element
 * chunks, as the reference does. */
float slm__expf_ref(float x);
void slm__gelu_tanh(float *out, const float *x, int64_t n); /* tanh approximation */
void slm__gelu_erf(float *out, const float *x, int64_t n);  /* exact erf form */
/* out = silu(gate) * up; out may alias gate or up. One row of the reference at a time: its
 * chunks of 16 start at the row. */
void slm__swiglu(float *out, const float *gate, const float *up, int64_t n);
void slm__add(float *out, const float *a, const float *b, int64_t n); /* aliasing OK */
void slm__mul(float *out, const float *a, const float *b, int64_t n); /* aliasing OK */

/* Scaled dot-product attention of n_q query positions over a KV cache, grouped-query, causal.
 * With an F16 cache the queries and the softmax weights are rounded to F16 before they meet the
 * F16 keys and values, as the reference implementation computes it: models whose activations are
 * rounded again before the next matmul (BF16, quantized) then stay within its numerics.
 * q: [n_q][n_head][head_dim] floats; query i sits at position pos0 + i and sees keys 0..pos0+i.
 * k, v: cache rows [pos][n_head_kv][head_dim] in kv_type (F32 or F16); query head h reads KV head
 * h / (n_head / n_head_kv). out: [n_q][n_head][head_dim]. scale is usually 1/sqrt(head_dim).
 * The (query, head) pairs are split over threads: thread ith of nth computes the pairs p with
 * p % nth == ith, using its own scratch of >= SLM_ATTN_SCRATCH(pos0 + n_q) floats (run it from a
 * pool function). Scores and weights follow the reference's order (see ops.c): a batch (n_q >= 2)
 * takes its matrix x matrix order, a single query its matrix x vector one. */
#define SLM_ATTN_MAX_HEAD_DIM 4096
#define SLM_ATTN_SCRATCH(n_keys) (((n_keys) + 15) / 16 * 16)
struct slm_attn {
    int64_t n_q, n_head, n_head_kv, head_dim, pos0;
    float scale;
    slm_type kv_type;
    const void *k, *v;
};
void slm__attention(const struct slm_attn *a, const float *q, float *out, float *scratch, int ith,
                    int nth);

/* One head's cache rows: n_keys rows of d elements, `stride` elements apart, F32 or F16 (f16).
 * attn_scores: s[t] = scale * <q, k_t>; attn_values: out = sum_t p[t] * v_t; F16 rows in the
 * reference's batch or single-token order (batch). */
struct slm_attn_rows {
    const void *base;
    bool f16, batch;
    int64_t stride, n_keys, d;
};

/* The vectorised forms behind the ops above, one table row per dispatch level (ops.c). */
struct slm_ops {
    void (*rms_norm)(float *out, const float *x, const float *w, int64_t n, float eps);
    void (*layer_norm)(float *out, const float *x, const float *w, const float *b, int64_t n,
                       float eps);
    void (*softmax)(float *x, int64_t n);
    void (*silu)(float *out, const float *x, int64_t n);
    void (*gelu_tanh)(float *out, const float *x, int64_t n);
    void (*gelu_erf)(float *out, const float *x, int64_t n);
    void (*swiglu)(float *out, const float *gate, const float *up, int64_t n);
    void (*add)(float *out, const float *a, const float *b, int64_t n);
    void (*mul)(float *out, const float *a, const float *b, int64_t n);
    void (*attn_scores)(const struct slm_attn_rows *k, const float *q, float scale, float *s);
    void (*attn_values)(const struct slm_attn_rows *v, const float *p, float *out);
    /* out = x rounded to F16 and widened again (attention's F16 queries and weights). In-place
     * OK. */
    void (*round_f16)(float *out, const float *x, int64_t n);
};
/* The ops of a level (SLM_CPU_LEVEL_COUNT = the active one). */
const struct slm_ops *slm__ops(slm_cpu_level level);
extern const struct slm_ops slm__ops_avx2;
/* The AVX2 ops except the encoder's layer norm and GELU, which ops_avx512.c widens (the forms
 * below, with a softmax the encoder calls directly: the table keeps the reference-order one). */
extern const struct slm_ops slm__ops_avx512;
void slm__softmax_avx512(float *x, int64_t n);
void slm__gelu_tanh_avx512(float *out, const float *x, int64_t n);
void slm__gelu_erf_avx512(float *out, const float *x, int64_t n);
void slm__layer_norm_avx512(float *out, const float *x, const float *w, const float *b, int64_t n,
                            float eps);
/* Attention's F16 batch order 16 lanes wide (the other cases are the AVX2 ones). */
void slm__attn_scores_avx512(const struct slm_attn_rows *k, const float *q, float scale, float *s);
void slm__attn_values_avx512(const struct slm_attn_rows *v, const float *p, float *out);

/* The memory read-bandwidth probe of the benchmarks (the roofline matvec is measured against):
 * a checksum of the bytes at p (64-byte aligned, bytes a multiple of 256) read with the widest
 * loads of the active level. */
uint64_t slm__mem_read(const void *p, size_t bytes);
uint64_t slm__mem_read_avx2(const void *p, size_t bytes);
uint64_t slm__mem_read_avx512(const void *p, size_t bytes);

/* Quantized batches on AMX-INT8 tiles (mmq.c, mmq_amx.c): Q8_0, Q4_0, Q5_0 (partner Q8_0) and
 * Q4_K, Q5_K, Q6_K (partner Q8_K) weights against SLM__MMQ_MIN or more activation rows. The
 * tiles read the activations straight from the partner blocks slm__matmul_prepare writes
 * anyway; weights are widened to int8 a few blocks at a time into the tiles' layout. One tile product is a group
 * of 32 elements (a block; a K-quant group) of 16 tokens x 16 weight rows, its int32 sums exact,
 * so the only difference from the dot kernels is the float order: per output, blocks in order,
 * acc = fma((float)isum, d_w * d_x, acc) (K-quants: the super-block's int32 sum of scale x group
 * sum, then its min term), where llama.cpp's x86 dots keep 8 partial lanes (relative differences
 * of a few float ulps). Single rows and short batches keep the dot kernels and their exact
 * reference order. From 4 rows the tiles (padded to 16 tokens) already beat the dots; below 8
 * they save a few milliseconds a prompt, and short prompts keep the reference's numerics. */
#define SLM__MMQ_MIN 8
/* Tile rows: 16 activation rows (tokens) against 16 weight rows per tile product. */
#define SLM__MMQ_ROWS 16
/* True if batches of n rows against weights of type t go to the tiles here and now. */
bool slm__mmq_use(slm_type t, int64_t n);
/* True if prepare must lay out partner blocks for the tiles (some type with this partner uses
 * them for n rows). */
bool slm__mmq_act(slm_type partner, int64_t n);
/* The partner scratch for the tiles: the n rows of partner blocks padded with zero rows to a
 * multiple of 16, then per block what the scaling needs as floats (Q8_0: d, [n_pad][cols / 32];
 * Q8_K: each group's sum, [n_pad][cols / 32]). Bytes for n rows against weights of type t (0 if
 * the tiles never serve t's partner on this CPU). */
size_t slm__mmq_scratch_size(slm_type t, int64_t cols, int64_t n);
/* Pads and adds the floats after the quantizer wrote rows 0..n-1 (see above). */
void slm__mmq_finish_act(slm_type partner, void *scratch, int64_t cols, int64_t n);
void slm__matmul_mmq(slm_pool *pool, int nth, const struct slm_weight *w, int64_t n, float *y,
                     const void *scratch);
/* The scalar reference of what the tiles compute, for rows r0..r1, from the same scratch. */
void slm__matmul_mmq_ref(const struct slm_weight *w, int64_t n, float *y, const void *scratch,
                         int64_t r0, int64_t r1);
/* The tile side (mmq_amx.c). A packer widens blocks b0..b0+kc of 16 weight rows (those below
 * `valid`; the rest are zero) starting at w, rows rs bytes apart, into tiles of 8 x 64 bytes, one
 * per group of 32 (tile row j holds dword j of each row's group: the layout TDPBSSD reads as its
 * second operand), and their scales into aux: legacy types float d[kc][16]; K types per
 * super-block struct slm_mmq_k_aux. Q6_K's groups of 16 take a tile each (the other half of its
 * 32 rows zero), so one activation tile of 32 meets two weight tiles. */
#define SLM__MMQ_TILE_BYTES 8192 /* packed weights at a time (L1-sized) */
#define SLM__MMQ_KC         (SLM__MMQ_TILE_BYTES / 512)           /* legacy blocks */
#define SLM__MMQ_KC_K       (SLM__MMQ_TILE_BYTES / (512 * 8))     /* K super-blocks */
struct slm_mmq_k_aux {
    int32_t sc[16][16]; /* group scales, per weight row (Q6_K: 16 groups of 16) */
    float mn[8][16];    /* group mins (Q4_K, Q5_K) */
    float d[16], dmin[16];
};
#define SLM__MMQ_AUX_BYTES                                                                         \
    (SLM__MMQ_KC * 16 * sizeof(float) > SLM__MMQ_KC_K * sizeof(struct slm_mmq_k_aux)              \
         ? SLM__MMQ_KC * 16 * sizeof(float)                                                        \
         : SLM__MMQ_KC_K * sizeof(struct slm_mmq_k_aux))
typedef void (*slm_mmq_pack_fn)(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc,
                                void *tiles, void *aux);
#define SLM__MMQ_PACK_DECL(t)                                                                      \
    void slm__mmq_pack_##t##_amx(const uint8_t *w, size_t rs, int valid, int64_t b0, int kc,       \
                                 void *tiles, void *aux);
SLM__MMQ_PACK_DECL(q8_0)
SLM__MMQ_PACK_DECL(q4_0)
SLM__MMQ_PACK_DECL(q5_0)
SLM__MMQ_PACK_DECL(q4_k)
SLM__MMQ_PACK_DECL(q5_k)
SLM__MMQ_PACK_DECL(q6_k)
#undef SLM__MMQ_PACK_DECL
/* Loads and releases the int8 tile configuration on the calling thread. */
void slm__mmq_begin(void);
void slm__mmq_end(void);
/* Weight rows r0..r0+valid-1 (valid <= 16) of w against all n activation rows: y[j][r] for
 * j < n, y rows w->rows apart; legacy types (partner Q8_0) and K types (Q8_K). tiles and aux:
 * SLM__MMQ_TILE_BYTES and SLM__MMQ_AUX_BYTES of work space, 64-byte aligned; xf: the scratch's
 * floats (slm__mmq_scratch_size). */
void slm__mmq_rows(const struct slm_weight *w, slm_mmq_pack_fn pack, int64_t r0, int valid,
                   int64_t n, const void *scratch, const float *xf, float *y, void *tiles,
                   void *aux);
void slm__mmq_rows_k(const struct slm_weight *w, slm_mmq_pack_fn pack, int64_t r0, int valid,
                     int64_t n, const void *scratch, const float *xf, float *y, void *tiles,
                     void *aux);
void slm__mmq_rows_q6_k(const struct slm_weight *w, slm_mmq_pack_fn pack, int64_t r0, int valid,
                        int64_t n, const void *scratch, const float *xf, float *y, void *tiles,
                        void *aux);

#endif
