/* Scalar reference dot products of a weight row with an activation row in the weight type's
 * partner format. Integer sums are exact per block; blocks are accumulated in float (the plain
 * float types in double). The SIMD kernels are tested against these. */
#include "tensor/internal.h"

float slm__dot_f32_scalar(int64_t n, const void *w, const void *x) {
    const float *a = w, *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

float slm__dot_f16_scalar(int64_t n, const void *w, const void *x) {
    const slm_f16 *a = w, *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)slm__f16_to_f32(a[i]) * slm__f16_to_f32(b[i]);
    return (float)s;
}

float slm__dot_bf16_scalar(int64_t n, const void *w, const void *x) {
    const slm_bf16 *a = w, *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)slm__bf16_to_f32(a[i]) * slm__bf16_to_f32(b[i]);
    return (float)s;
}

float slm__dot_q8_0_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q8_0 *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int sum = 0;
        for (int j = 0; j < SLM_QK; j++) sum += a[i].qs[j] * b[i].qs[j];
        s += (float)sum * (slm__f16_to_f32(a[i].d) * slm__f16_to_f32(b[i].d));
    }
    return s;
}

float slm__dot_q4_0_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q4_0 *a = w;
    const slm_block_q8_0 *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int sum = 0;
        for (int j = 0; j < SLM_QK / 2; j++) {
            sum += ((a[i].qs[j] & 0xf) - 8) * b[i].qs[j];
            sum += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        }
        s += (float)sum * (slm__f16_to_f32(a[i].d) * slm__f16_to_f32(b[i].d));
    }
    return s;
}

float slm__dot_q4_1_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q4_1 *a = w;
    const slm_block_q8_1 *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int sum = 0;
        for (int j = 0; j < SLM_QK / 2; j++) {
            sum += (a[i].qs[j] & 0xf) * b[i].qs[j];
            sum += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        }
        s += (float)sum * (slm__f16_to_f32(a[i].d) * slm__f16_to_f32(b[i].d)) +
             slm__f16_to_f32(a[i].m) * slm__f16_to_f32(b[i].s);
    }
    return s;
}

float slm__dot_q5_0_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q5_0 *a = w;
    const slm_block_q8_0 *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int sum = 0;
        for (int j = 0; j < SLM_QK / 2; j++) {
            int q0 = ((a[i].qs[j] & 0xf) | (int)(((qh >> j) & 1) << 4)) - 16;
            int q1 = ((a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
            sum += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
        }
        s += (float)sum * (slm__f16_to_f32(a[i].d) * slm__f16_to_f32(b[i].d));
    }
    return s;
}

float slm__dot_q5_1_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q5_1 *a = w;
    const slm_block_q8_1 *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int sum = 0;
        for (int j = 0; j < SLM_QK / 2; j++) {
            int q0 = (a[i].qs[j] & 0xf) | (int)(((qh >> j) & 1) << 4);
            int q1 = (a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            sum += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
        }
        s += (float)sum * (slm__f16_to_f32(a[i].d) * slm__f16_to_f32(b[i].d)) +
             slm__f16_to_f32(a[i].m) * slm__f16_to_f32(b[i].s);
    }
    return s;
}

/* Q4_K/Q5_K: sum_g d*sc_g*<q_g, y_g> - dmin*m_g*sum(y_g), times the activation scale; the
 * activation group sums come from the Q8_K bsums. */
static float dot_k_asym(int64_t n, const void *w, const void *x, bool five) {
    const slm_block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        const uint8_t *scales, *qs, *qh = NULL;
        slm_f16 d16, dmin16;
        if (five) {
            const slm_block_q5_k *a = (const slm_block_q5_k *)w + i;
            scales = a->scales, qs = a->qs, qh = a->qh, d16 = a->d, dmin16 = a->dmin;
        } else {
            const slm_block_q4_k *a = (const slm_block_q4_k *)w + i;
            scales = a->scales, qs = a->qs, d16 = a->d, dmin16 = a->dmin;
        }
        int sum_q = 0, sum_m = 0;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            if (g < 4) {
                sc = scales[g] & 63;
                m = scales[g + 4] & 63;
            } else {
                sc = (scales[g + 4] & 0xf) | ((scales[g - 4] >> 6) << 4);
                m = (scales[g + 4] >> 4) | ((scales[g] >> 6) << 4);
            }
            const uint8_t *q = qs + 32 * (g / 2);
            const int8_t *y = b[i].qs + 32 * g;
            int dot = 0;
            for (int l = 0; l < 32; l++) {
                int v = (g & 1) ? q[l] >> 4 : q[l] & 0xf;
                if (qh) v |= ((qh[l] >> g) & 1) << 4;
                dot += v * y[l];
            }
            sum_q += sc * dot;
            sum_m += m * (b[i].bsums[2 * g] + b[i].bsums[2 * g + 1]);
        }
        s += b[i].d * slm__f16_to_f32(d16) * (float)sum_q -
             b[i].d * slm__f16_to_f32(dmin16) * (float)sum_m;
    }
    return s;
}

float slm__dot_q4_k_scalar(int64_t n, const void *w, const void *x) {
    return dot_k_asym(n, w, x, false);
}
float slm__dot_q5_k_scalar(int64_t n, const void *w, const void *x) {
    return dot_k_asym(n, w, x, true);
}

float slm__dot_q6_k_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q6_k *a = w;
    const slm_block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        int q[SLM_QK_K];
        const uint8_t *ql = a[i].ql, *qh = a[i].qh;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                q[128 * h + l] = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                q[128 * h + l + 32] = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                q[128 * h + l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                q[128 * h + l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            }
        }
        int sum = 0;
        for (int g = 0; g < 16; g++) {
            int dot = 0;
            for (int l = 0; l < 16; l++) dot += q[16 * g + l] * b[i].qs[16 * g + l];
            sum += a[i].scales[g] * dot;
        }
        s += slm__f16_to_f32(a[i].d) * b[i].d * (float)sum;
    }
    return s;
}
