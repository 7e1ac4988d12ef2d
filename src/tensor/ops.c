/* The non-matmul ops of the forward pass: scalar references (libm, double accumulators), the
 * table of per-level implementations, the dispatching entry points and attention over a KV cache
 * built on the table's score/value kernels. */
#include "tensor/internal.h"

#include <math.h>

/* llama.cpp's order: squares in float summed in double, the mean rounded to float, then x times
 * the scale, times the weight (a separate multiply there). */
static void rms_norm_ref(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    const float mean = (float)(ss / (double)n), scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] * scale;
        out[i] = w ? v * w[i] : v;
    }
}

static void layer_norm_ref(float *out, const float *x, const float *w, const float *b, int64_t n,
                           float eps) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double mean = s / (double)n, var = 0;
    for (int64_t i = 0; i < n; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    float r = (float)(1.0 / sqrt(var / (double)n + eps)), m = (float)mean;
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] - m) * r * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

/* exp as llama.cpp computes it in AVX-512 vectors (ggml_v_expf, adapted from Arm's optimized
 * routines): x = n ln2 + b, e^b by a degree-5 polynomial, scaled by 2^n (vscalefps); |n| > 192
 * saturates to 0 or infinity. */
float slm__expf_ref(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r), n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    if (fabsf(n) > 192) return n <= 0 ? 0.0f : INFINITY;
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                              fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, fmaf(0x1.ffffecp-1f, b, 1.0f));
    return ldexpf(j, (int)n);
}

/* The reference softmax (ggml_vec_soft_max_f32): 16-element chunks through the vector exp, each
 * chunk's 16-lane sum added in double; the elements past the last chunk through the C library's
 * expf. */
static void softmax_ref(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = fmaxf(max, x[i]);
    double s = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int l = 0; l < 16; l++) x[i + l] = slm__expf_ref(x[i + l] - max);
        s += (double)slm__hsum16_ref(x + i);
    }
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        s += (double)x[i];
    }
    const float inv = (float)(1.0 / s);
    for (i = 0; i < n; i++) x[i] *= inv;
}

static inline float silu_vec_ref(float x) {
    return x / (1.0f + slm__expf_ref(0.0f - x));
}

/* silu and swiglu as the reference: 16-element chunks with the vector exp, the rest with expf. */
static void silu_ref(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i < n / 16 * 16; i++) out[i] = silu_vec_ref(x[i]);
    for (; i < n; i++) out[i] = x[i] / (1.0f + expf(-x[i]));
}

#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_COEF_A    0.044715f

static void gelu_tanh_ref(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(SQRT_2_OVER_PI * v * (1.0f + GELU_COEF_A * v * v)));
    }
}

static void gelu_erf_ref(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

static void swiglu_ref(float *out, const float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i < n / 16 * 16; i++) out[i] = silu_vec_ref(gate[i]) * up[i];
    for (; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

static void add_ref(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
static void mul_ref(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}
static inline float kv_at(const struct slm_attn_rows *r, int64_t t, int64_t e) {
    return r->f16 ? slm__f16_to_f32(((const slm_f16 *)r->base)[t * r->stride + e])
                  : ((const float *)r->base)[t * r->stride + e];
}

/* With an F16 cache the reference multiplies F16 queries with F16 keys, and F16 softmax weights
 * with F16 values, in two orders: one token at a time through ggml_vec_dot_f16 (four 16-lane
 * accumulators over 64-element steps, folded 0+2, 1+3, then together, the rest in double), and
 * batches through tinyBLAS (one 16-lane accumulator over 16-element steps) where the length is a
 * multiple of 16. Its value rows are padded with zero weights to a multiple of 64, which add
 * nothing: the weights past n_keys are left out here. */
static float f16_fold(float acc[4][16]) {
    float v[16];
    for (int l = 0; l < 16; l++) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    return slm__hsum16_ref(v);
}

static void attn_scores_ref(const struct slm_attn_rows *k, const float *q, float scale, float *s) {
    for (int64_t t = 0; t < k->n_keys; t++) {
        if (!k->f16) {
            double acc = 0;
            for (int64_t e = 0; e < k->d; e++) acc += (double)q[e] * kv_at(k, t, e);
            s[t] = (float)acc * scale;
            continue;
        }
        float dot;
        if (k->batch && k->d % 16 == 0) {
            float acc[16] = {0};
            for (int64_t e = 0; e < k->d; e++) acc[e % 16] = fmaf(q[e], kv_at(k, t, e), acc[e % 16]);
            dot = slm__hsum16_ref(acc);
        } else {
            float acc[4][16] = {{0}};
            const int64_t np = k->d / 64 * 64;
            for (int64_t e = 0; e < np; e++)
                acc[e / 16 % 4][e % 16] = fmaf(q[e], kv_at(k, t, e), acc[e / 16 % 4][e % 16]);
            double sum = np ? (double)f16_fold(acc) : 0.0;
            for (int64_t e = np; e < k->d; e++) sum += (double)(q[e] * kv_at(k, t, e));
            dot = (float)sum;
        }
        s[t] = dot * scale;
    }
}

static void attn_values_ref(const struct slm_attn_rows *v, const float *p, float *out) {
    for (int64_t e = 0; e < v->d; e++) {
        if (!v->f16) {
            double acc = 0;
            for (int64_t t = 0; t < v->n_keys; t++) acc += (double)p[t] * kv_at(v, t, e);
            out[e] = (float)acc;
        } else if (v->batch) {
            float acc[16] = {0};
            for (int64_t t = 0; t < v->n_keys; t++)
                acc[t % 16] = fmaf(p[t], kv_at(v, t, e), acc[t % 16]);
            out[e] = slm__hsum16_ref(acc);
        } else {
            float acc[4][16] = {{0}};
            for (int64_t t = 0; t < v->n_keys; t++)
                acc[t / 16 % 4][t % 16] = fmaf(p[t], kv_at(v, t, e), acc[t / 16 % 4][t % 16]);
            out[e] = f16_fold(acc);
        }
    }
}

static void round_f16_ref(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = slm__f16_to_f32(slm__f32_to_f16(x[i]));
}

static const struct slm_ops ops_scalar = {
    .rms_norm = rms_norm_ref,
    .layer_norm = layer_norm_ref,
    .softmax = softmax_ref,
    .silu = silu_ref,
    .gelu_tanh = gelu_tanh_ref,
    .gelu_erf = gelu_erf_ref,
    .swiglu = swiglu_ref,
    .add = add_ref,
    .mul = mul_ref,
    .attn_scores = attn_scores_ref,
    .attn_values = attn_values_ref,
    .round_f16 = round_f16_ref,
};

static const struct slm_ops *const ops_by_level[SLM_CPU_LEVEL_COUNT] = {
    [SLM_CPU_SCALAR] = &ops_scalar,
    [SLM_CPU_AVX2] = &slm__ops_avx2,
    [SLM_CPU_AVX512] = &slm__ops_avx512,
};

const struct slm_ops *slm__ops(slm_cpu_level level) {
    if (level >= SLM_CPU_LEVEL_COUNT) level = slm__cpu_level();
    return ops_by_level[level];
}

void slm__rms_norm(float *out, const float *x, const float *w, int64_t n, float eps) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->rms_norm(out, x, w, n, eps);
}
void slm__layer_norm(float *out, const float *x, const float *w, const float *b, int64_t n,
                     float eps) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->layer_norm(out, x, w, b, n, eps);
}
void slm__softmax(float *x, int64_t n) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->softmax(x, n);
}
void slm__silu(float *out, const float *x, int64_t n) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->silu(out, x, n);
}
void slm__gelu_tanh(float *out, const float *x, int64_t n) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->gelu_tanh(out, x, n);
}
void slm__gelu_erf(float *out, const float *x, int64_t n) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->gelu_erf(out, x, n);
}
void slm__swiglu(float *out, const float *gate, const float *up, int64_t n) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->swiglu(out, gate, up, n);
}
void slm__add(float *out, const float *a, const float *b, int64_t n) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->add(out, a, b, n);
}
void slm__mul(float *out, const float *a, const float *b, int64_t n) {
    slm__ops(SLM_CPU_LEVEL_COUNT)->mul(out, a, b, n);
}

/* Angles are formed the way llama.cpp does (pos * theta^(-2i/n_rot) by repeated float
 * multiplication, then cosf/sinf), and the rotation rounds as its compiled form does (the first
 * product of each line fused into the add), so rotated values are the reference engine's; cos/sin
 * are computed once per pair and applied to every head. */
void slm__rope(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos, float theta,
               float freq_scale, bool neox) {
    SLM_ASSERT(n_rot % 2 == 0 && n_rot <= head_dim);
    const float step = powf(theta, -2.0f / (float)n_rot);
    float ang = (float)pos;
    for (int64_t i = 0; i < n_rot / 2; i++, ang *= step) {
        float c = cosf(ang * freq_scale), s = sinf(ang * freq_scale);
        int64_t a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
        for (int64_t h = 0; h < n_head; h++) {
            float *v = x + h * head_dim;
            float x0 = v[a], x1 = v[b];
            v[a] = fmaf(x0, c, -(x1 * s));
            v[b] = fmaf(x0, s, x1 * c);
        }
    }
}

void slm__attention(const struct slm_attn *a, const float *q, float *out, float *scratch, int ith,
                    int nth) {
    SLM_ASSERT(a->n_head_kv > 0 && a->n_head % a->n_head_kv == 0);
    SLM_ASSERT(a->kv_type == SLM_TYPE_F32 || a->kv_type == SLM_TYPE_F16);
    const struct slm_ops *ops = slm__ops(SLM_CPU_LEVEL_COUNT);
    const int64_t d = a->head_dim, group = a->n_head / a->n_head_kv;
    const bool f16 = a->kv_type == SLM_TYPE_F16;
    const size_t elem = f16 ? sizeof(slm_f16) : sizeof(float);
    SLM_ASSERT(d <= SLM_ATTN_MAX_HEAD_DIM);
    for (int64_t p = ith; p < a->n_q * a->n_head; p += nth) {
        int64_t i = p / a->n_head, h = p % a->n_head, kvh = h / group, n_keys = a->pos0 + i + 1;
        struct slm_attn_rows kr = {.base = (const uint8_t *)a->k + (size_t)(kvh * d) * elem,
                                   .f16 = f16,
                                   .batch = a->n_q >= 2,
                                   .stride = a->n_head_kv * d,
                                   .n_keys = n_keys,
                                   .d = d};
        struct slm_attn_rows vr = kr;
        vr.base = (const uint8_t *)a->v + (size_t)(kvh * d) * elem;
        const float *qv = q + p * d;
        float q16[SLM_ATTN_MAX_HEAD_DIM];
        if (f16) { /* F16 keys meet F16 queries, as in the reference */
            ops->round_f16(q16, qv, d);
            qv = q16;
        }
        ops->attn_scores(&kr, qv, a->scale, scratch);
        /* the reference's rows are padded with masked (-inf) scores to a multiple of 16 (of 256,
         * in fact), so its softmax takes every key through the vector exp */
        const int64_t n_pad = SLM_ATTN_SCRATCH(n_keys);
        for (int64_t t = n_keys; t < n_pad; t++) scratch[t] = -INFINITY;
        ops->softmax(scratch, n_pad);
        /* and F16 values meet F16 weights */
        if (f16) ops->round_f16(scratch, scratch, n_keys);
        ops->attn_values(&vr, scratch, out + p * d);
    }
}

static uint64_t mem_read_ref(const void *p, size_t bytes) {
    const uint64_t *q = p;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i < bytes / 8; i += 4)
        a += q[i], b += q[i + 1], c += q[i + 2], d += q[i + 3];
    return a + b + c + d;
}

uint64_t slm__mem_read(const void *p, size_t bytes) {
    switch (slm__cpu_level()) {
    case SLM_CPU_AVX512:
        return slm__mem_read_avx512(p, bytes);
    case SLM_CPU_AVX2:
        return slm__mem_read_avx2(p, bytes);
    default:
        return mem_read_ref(p, bytes);
    }
}
