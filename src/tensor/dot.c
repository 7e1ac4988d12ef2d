/* Scalar reference dot products of a weight row with an activation row in the weight type's
 * partner format. BF16 and the block types follow llama.cpp's x86 summation order exactly (the
 * golden outputs are computed that way, and their rounded activations amplify any difference);
 * the plain float types sum in double. The SIMD kernels are tested against these. */
#include "tensor/internal.h"

#include <math.h>

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

/* BF16 rows meet in llama.cpp's order (its activations are BF16 too), so the rounding of every
 * partial sum is the reference's. vdpbf16ps: lane l of 16 adds the product of elements 2l+1 and
 * then of 2l of each 32-element step, each product exact in float and each add rounded. */
static inline void dpbf16_step(float acc[16], const slm_bf16 *a, const slm_bf16 *b) {
    for (int l = 0; l < 16; l++) {
        acc[l] += slm__bf16_to_f32(a[2 * l + 1]) * slm__bf16_to_f32(b[2 * l + 1]);
        acc[l] += slm__bf16_to_f32(a[2 * l]) * slm__bf16_to_f32(b[2 * l]);
    }
}

/* _mm512_reduce_add_ps: lanes folded in halves, 8 then 4, 2 and 1 apart. */
float slm__hsum16_ref(const float v[16]) {
    float t[8];
    for (int i = 0; i < 8; i++) t[i] = v[i + 8] + v[i];
    return slm__hsum8_ref(t);
}

/* The 8-lane horizontal sum of llama.cpp's x86 kernels (hsum_float_8). */
float slm__hsum8_ref(const float v[8]) {
    float r0 = v[4] + v[0], r1 = v[5] + v[1], r2 = v[6] + v[2], r3 = v[7] + v[3];
    return (r0 + r2) + (r1 + r3);
}

/* Matrix x vector (ggml_vec_dot_bf16): two accumulators over 64-element steps, each reduced, the
 * two sums and the leftover products added in double. */
float slm__dot_bf16_scalar(int64_t n, const void *w, const void *x) {
    const slm_bf16 *a = w, *b = x;
    float c1[16] = {0}, c2[16] = {0};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        dpbf16_step(c1, a + i, b + i);
        dpbf16_step(c2, a + i + 32, b + i + 32);
    }
    double s = (double)slm__hsum16_ref(c1);
    s += (double)slm__hsum16_ref(c2);
    for (; i < n; i++) s += (double)(slm__bf16_to_f32(a[i]) * slm__bf16_to_f32(b[i]));
    return (float)s;
}

/* Matrix x matrix (llamafile's tinyBLAS, used by llama.cpp for batches of 2 or more): one
 * accumulator over 32-element steps; rows of other lengths take the matrix x vector order. */
float slm__dot_bf16_batch_scalar(int64_t n, const void *w, const void *x) {
    if (n % 32 != 0) return slm__dot_bf16_scalar(n, w, x);
    const slm_bf16 *a = w, *b = x;
    float c[16] = {0};
    for (int64_t i = 0; i < n; i += 32) dpbf16_step(c, a + i, b + i);
    return slm__hsum16_ref(c);
}

/* Legacy blocks in llama.cpp's x86 order: lane k of 8 holds the exact integer sum of elements
 * 4k..4k+3 of a block, and is added times the block's scale product with one FMA into an 8-lane
 * accumulator, block after block; the Q4_1/Q5_1 min terms chain through one FMA each; then the
 * 8-lane horizontal sum. The SIMD kernels reproduce this bit for bit. */
static inline void block_lanes(float acc[8], float d, const int q[SLM_QK], const int8_t *y) {
    for (int k = 0; k < 8; k++) {
        int s = 0;
        for (int j = 4 * k; j < 4 * k + 4; j++) s += q[j] * y[j];
        acc[k] = fmaf(d, (float)s, acc[k]);
    }
}

/* Element j of a legacy block's 4-bit (plus fifth bit) field; off is subtracted. */
static inline void unpack_nibbles(const uint8_t *qs, const uint8_t *qh, int off, int q[SLM_QK]) {
    uint32_t h = 0;
    if (qh) memcpy(&h, qh, 4);
    for (int j = 0; j < SLM_QK / 2; j++) {
        q[j] = ((qs[j] & 0xf) | (int)(((h >> j) & 1) << 4)) - off;
        q[j + 16] = ((qs[j] >> 4) | (int)(((h >> (j + 16)) & 1) << 4)) - off;
    }
}

static inline float dscale(slm_f16 a, slm_f16 b) {
    return slm__f16_to_f32(a) * slm__f16_to_f32(b);
}

float slm__dot_q8_0_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q8_0 *a = w, *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int q[SLM_QK];
        for (int j = 0; j < SLM_QK; j++) q[j] = a[i].qs[j];
        block_lanes(acc, dscale(a[i].d, b[i].d), q, b[i].qs);
    }
    return slm__hsum8_ref(acc);
}

float slm__dot_q4_0_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q4_0 *a = w;
    const slm_block_q8_0 *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int q[SLM_QK];
        unpack_nibbles(a[i].qs, NULL, 8, q);
        block_lanes(acc, dscale(a[i].d, b[i].d), q, b[i].qs);
    }
    return slm__hsum8_ref(acc);
}

float slm__dot_q4_1_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q4_1 *a = w;
    const slm_block_q8_1 *b = x;
    float acc[8] = {0}, summs = 0;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int q[SLM_QK];
        unpack_nibbles(a[i].qs, NULL, 0, q);
        summs = fmaf(slm__f16_to_f32(a[i].m), slm__f16_to_f32(b[i].s), summs);
        block_lanes(acc, dscale(a[i].d, b[i].d), q, b[i].qs);
    }
    return slm__hsum8_ref(acc) + summs;
}

float slm__dot_q5_0_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q5_0 *a = w;
    const slm_block_q8_0 *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int q[SLM_QK];
        unpack_nibbles(a[i].qs, a[i].qh, 16, q);
        block_lanes(acc, dscale(a[i].d, b[i].d), q, b[i].qs);
    }
    return slm__hsum8_ref(acc);
}

float slm__dot_q5_1_scalar(int64_t n, const void *w, const void *x) {
    const slm_block_q5_1 *a = w;
    const slm_block_q8_1 *b = x;
    float acc[8] = {0}, summs = 0;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int q[SLM_QK];
        unpack_nibbles(a[i].qs, a[i].qh, 0, q);
        summs = fmaf(slm__f16_to_f32(a[i].m), slm__f16_to_f32(b[i].s), summs);
        block_lanes(acc, dscale(a[i].d, b[i].d), q, b[i].qs);
    }
    return slm__hsum8_ref(acc) + summs;
}

/* K super-blocks in llama.cpp's AVX2 order (the one its AVX-512 builds use): lane m of 8 holds
 * the exact integer sum over the 32-element chunks of scale x (elements 4m..4m+3 of the chunk);
 * per super-block one FMA adds it times d = d_x * d_w into an 8-lane accumulator. Element c * 32
 * + e of the super-block has weight q[...] and scale sc(c, e / 16). */
static void k_lanes(float acc[8], float d, const int q[SLM_QK_K], const int8_t *y,
                    const int sc[SLM_QK_K / 16]) {
    int lane[8] = {0};
    for (int c = 0; c < SLM_QK_K / 32; c++)
        for (int m = 0; m < 8; m++) {
            int s = 0;
            for (int e = 4 * m; e < 4 * m + 4; e++) s += q[32 * c + e] * y[32 * c + e];
            lane[m] += sc[2 * c + m / 4] * s;
        }
    for (int m = 0; m < 8; m++) acc[m] = fmaf(d, (float)lane[m], acc[m]);
}

/* Q4_K/Q5_K: the min term -dmin * d_x * sum_g m_g * sum(y_g) takes the group sums from the Q8_K
 * bsums: Q4_K adds lane k = m_2k s_2k + m_2k+1 s_2k+1 into a 4-lane accumulator (folded 0+2, 1+3,
 * then together), Q5_K adds the total into one float, each by FMA. */
static float dot_k_asym(int64_t n, const void *w, const void *x, bool five) {
    const slm_block_q8_k *b = x;
    float acc[8] = {0}, accm[4] = {0}, summs = 0;
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
        int sc8[8], mn[8], sc[16], q[SLM_QK_K];
        slm__k_scales_mins(scales, sc8, mn);
        for (int g = 0; g < 8; g++) {
            sc[2 * g] = sc[2 * g + 1] = sc8[g];
            const uint8_t *qg = qs + 32 * (g / 2);
            for (int l = 0; l < 32; l++) {
                int v = (g & 1) ? qg[l] >> 4 : qg[l] & 0xf;
                if (qh) v |= ((qh[l] >> g) & 1) << 4;
                q[32 * g + l] = v;
            }
        }
        const float dmin = -b[i].d * slm__f16_to_f32(dmin16);
        int prod[4];
        for (int k = 0; k < 4; k++)
            prod[k] = mn[2 * k] * (b[i].bsums[4 * k] + b[i].bsums[4 * k + 1]) +
                      mn[2 * k + 1] * (b[i].bsums[4 * k + 2] + b[i].bsums[4 * k + 3]);
        if (five)
            summs = fmaf(dmin, (float)(prod[0] + prod[1] + prod[2] + prod[3]), summs);
        else
            for (int k = 0; k < 4; k++) accm[k] = fmaf(dmin, (float)prod[k], accm[k]);
        k_lanes(acc, b[i].d * slm__f16_to_f32(d16), q, b[i].qs, sc);
    }
    return slm__hsum8_ref(acc) + (five ? summs : (accm[0] + accm[2]) + (accm[1] + accm[3]));
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
    float acc[8] = {0};
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        int q[SLM_QK_K], sc[16];
        const uint8_t *ql = a[i].ql, *qh = a[i].qh;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                q[128 * h + l] = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                q[128 * h + l + 32] = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                q[128 * h + l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                q[128 * h + l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            }
        }
        for (int g = 0; g < 16; g++) sc[g] = a[i].scales[g];
        k_lanes(acc, b[i].d * slm__f16_to_f32(a[i].d), q, b[i].qs, sc);
    }
    return slm__hsum8_ref(acc);
}
