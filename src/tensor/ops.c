/* The non-matmul ops of the forward pass: scalar references (libm, double accumulators), the
 * table of per-level implementations, the dispatching entry points and attention over a KV cache
 * built on the table's score/value kernels. */
#include "tensor/internal.h"

#include <math.h>

static void rms_norm_ref(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * r * (w ? w[i] : 1.0f);
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

static void softmax_ref(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = fmaxf(max, x[i]);
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        s += x[i];
    }
    float inv = (float)(1.0 / s);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

static void silu_ref(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = x[i] / (1.0f + expf(-x[i]));
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
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
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

static void attn_scores_ref(const struct slm_attn_rows *k, const float *q, float scale, float *s) {
    for (int64_t t = 0; t < k->n_keys; t++) {
        double acc = 0;
        for (int64_t e = 0; e < k->d; e++) acc += (double)q[e] * kv_at(k, t, e);
        s[t] = (float)acc * scale;
    }
}

static void attn_values_ref(const struct slm_attn_rows *v, const float *p, float *out) {
    for (int64_t e = 0; e < v->d; e++) {
        double acc = 0;
        for (int64_t t = 0; t < v->n_keys; t++) acc += (double)p[t] * kv_at(v, t, e);
        out[e] = (float)acc;
    }
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
 * multiplication, then cosf/sinf), so rotated values track the reference engine's; cos/sin are
 * computed once per pair and applied to every head. */
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
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
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
                                   .stride = a->n_head_kv * d,
                                   .n_keys = n_keys,
                                   .d = d};
        struct slm_attn_rows vr = kr;
        vr.base = (const uint8_t *)a->v + (size_t)(kvh * d) * elem;
        const float *qv = q + p * d;
        float q16[SLM_ATTN_MAX_HEAD_DIM];
        if (f16) { /* F16 keys meet F16 queries, as in the reference */
            for (int64_t e = 0; e < d; e++) q16[e] = slm__f16_to_f32(slm__f32_to_f16(qv[e]));
            qv = q16;
        }
        ops->attn_scores(&kr, qv, a->scale, scratch);
        ops->softmax(scratch, n_keys);
        /* and F16 values meet F16 weights */
        if (f16)
            for (int64_t t = 0; t < n_keys; t++)
                scratch[t] = slm__f16_to_f32(slm__f32_to_f16(scratch[t]));
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
