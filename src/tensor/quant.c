/* Scalar reference conversions between F32 and every supported type: dequantization (exact
 * arithmetic, matching the reference GGUF tools bit for bit) and quantization (byte-exact with
 * llama.cpp's reference quantizer without importance matrix, K types' scale/min search included).
 */
#include "tensor/internal.h"

#include <math.h>

slm_f16 slm__f32_to_f16(float f) {
    uint32_t u = slm__f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (slm_f16)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x477ff000u) return (slm_f16)(sign | 0x7c00); /* rounds to >= 65536: infinity */
    if (a < 0x38800000u) {
        /* result is subnormal (or zero): scale so the f16 unit is 1 and let the FPU round */
        float v = slm__f32_from_bits(a) * 0x1p24f;
        return (slm_f16)(sign | (uint16_t)lrintf(v));
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1); /* round to nearest even on the 13 dropped bits */
    return (slm_f16)(sign | ((r - 0x38000000u) >> 13));
}

/* ---- plain floats ---- */

void slm__f32_to_float(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * 4);
}
void slm__f32_from_float(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * 4);
}

void slm__f16_to_float(const void *src, float *dst, int64_t n) {
    const slm_f16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = slm__f16_to_f32(h[i]);
}
void slm__f16_from_float(const float *src, void *dst, int64_t n) {
    slm_f16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = slm__f32_to_f16(src[i]);
}
void slm__bf16_to_float(const void *src, float *dst, int64_t n) {
    const slm_bf16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = slm__bf16_to_f32(h[i]);
}
void slm__bf16_from_float(const float *src, void *dst, int64_t n) {
    slm_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = slm__f32_to_bf16(src[i]);
}

/* ---- legacy 32-element blocks ---- */

/* The element of largest magnitude, with its sign (first one on ties). */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = INFINITY, hi = -INFINITY;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

void slm__q4_0_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / SLM_QK; i++, dst += SLM_QK) {
        float d = slm__f16_to_f32(b[i].d);
        for (int j = 0; j < SLM_QK / 2; j++) {
            dst[j] = (float)((b[i].qs[j] & 0xf) - 8) * d;
            dst[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}
void slm__q4_0_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        /* the largest-magnitude element maps to -8, so its side gets the extra level */
        float d = signed_absmax(src, SLM_QK) / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = slm__f32_to_f16(d);
        for (int j = 0; j < SLM_QK / 2; j++) {
            int q0 = (int8_t)(src[j] * id + 8.5f), q1 = (int8_t)(src[j + 16] * id + 8.5f);
            q0 = SLM_MIN(15, q0);
            q1 = SLM_MIN(15, q1);
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void slm__q4_1_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / SLM_QK; i++, dst += SLM_QK) {
        float d = slm__f16_to_f32(b[i].d), m = slm__f16_to_f32(b[i].m);
        for (int j = 0; j < SLM_QK / 2; j++) {
            dst[j] = (float)(b[i].qs[j] & 0xf) * d + m;
            dst[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}
void slm__q4_1_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float mn, mx;
        min_max(src, SLM_QK, &mn, &mx);
        float d = (mx - mn) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = slm__f32_to_f16(d);
        b[i].m = slm__f32_to_f16(mn);
        for (int j = 0; j < SLM_QK / 2; j++) {
            int q0 = (int8_t)((src[j] - mn) * id + 0.5f),
                q1 = (int8_t)((src[j + 16] - mn) * id + 0.5f);
            q0 = SLM_MIN(15, q0);
            q1 = SLM_MIN(15, q1);
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void slm__q5_0_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / SLM_QK; i++, dst += SLM_QK) {
        float d = slm__f16_to_f32(b[i].d);
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < SLM_QK / 2; j++) {
            int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = (float)(((b[i].qs[j] & 0xf) | h0) - 16) * d;
            dst[j + 16] = (float)(((b[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}
void slm__q5_0_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float d = signed_absmax(src, SLM_QK) / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = slm__f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < SLM_QK / 2; j++) {
            int q0 = (int8_t)(src[j] * id + 16.5f), q1 = (int8_t)(src[j + 16] * id + 16.5f);
            q0 = SLM_MIN(31, q0);
            q1 = SLM_MIN(31, q1);
            b[i].qs[j] = (uint8_t)((q0 & 0xf) | ((q1 & 0xf) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
        }
        memcpy(b[i].qh, &qh, 4);
    }
}

void slm__q5_1_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / SLM_QK; i++, dst += SLM_QK) {
        float d = slm__f16_to_f32(b[i].d), m = slm__f16_to_f32(b[i].m);
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < SLM_QK / 2; j++) {
            int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = (float)((b[i].qs[j] & 0xf) | h0) * d + m;
            dst[j + 16] = (float)((b[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}
void slm__q5_1_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float mn, mx;
        min_max(src, SLM_QK, &mn, &mx);
        float d = (mx - mn) / 31.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = slm__f32_to_f16(d);
        b[i].m = slm__f32_to_f16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < SLM_QK / 2; j++) {
            /* (x - min) * id is in [0, 31] up to rounding, so no clamp (as the reference) */
            unsigned q0 = (uint8_t)((src[j] - mn) * id + 0.5f);
            unsigned q1 = (uint8_t)((src[j + 16] - mn) * id + 0.5f);
            b[i].qs[j] = (uint8_t)((q0 & 0xf) | ((q1 & 0xf) << 4));
            qh |= ((q0 >> 4) & 1u) << j;
            qh |= ((q1 >> 4) & 1u) << (j + 16);
        }
        memcpy(b[i].qh, &qh, 4);
    }
}

/* fmaxf(m, |x|) for m not NaN: NaN elements are skipped, as fmaxf skips them. Spelled out because
 * fmaxf is a libm call (its NaN rule is not maxss's). */
static inline float max_abs(float m, float x) {
    return fabsf(x) > m ? fabsf(x) : m;
}

/* The 8-bit block work shared by Q8_0 and Q8_1 (their blocks differ only in Q8_1's sum field). */
static void q8_block_to_float(slm_f16 d16, const int8_t *qs, float *dst) {
    float d = slm__f16_to_f32(d16);
    for (int j = 0; j < SLM_QK; j++) dst[j] = (float)qs[j] * d;
}

/* The reference quantizer of one block (amax / 127 scale, round half away from zero); returns the
 * scale and the sum of the quants. */
static float q8_block_ref(const float *src, int8_t *qs, int *sum) {
    float amax = 0.0f;
    for (int j = 0; j < SLM_QK; j++) amax = max_abs(amax, src[j]);
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    *sum = 0;
    for (int j = 0; j < SLM_QK; j++) {
        qs[j] = (int8_t)roundf(src[j] * id);
        *sum += qs[j];
    }
    return d;
}

void slm__q8_0_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / SLM_QK; i++, dst += SLM_QK) q8_block_to_float(b[i].d, b[i].qs, dst);
}
void slm__q8_0_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        int sum;
        b[i].d = slm__f32_to_f16(q8_block_ref(src, b[i].qs, &sum));
    }
}

/* Activation quantizers: llama.cpp quantizes matmul activations with its SIMD kernels, which
 * scale by 127/amax (not 1/d) and round ties to even; the engine matches those numerics. The
 * stored d is the same as the file quantizer's. */
static void q8_act_block(const float *x, int8_t *qs, float *d_out, int *sum) {
    float amax = 0.0f;
    for (int j = 0; j < SLM_QK; j++) amax = max_abs(amax, x[j]);
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    *sum = 0;
    for (int j = 0; j < SLM_QK; j++) {
        qs[j] = (int8_t)lrintf(x[j] * id);
        *sum += qs[j];
    }
    *d_out = amax / 127.0f;
}

void slm__q8_0_act_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float d;
        int sum;
        q8_act_block(src, b[i].qs, &d, &sum);
        b[i].d = slm__f32_to_f16(d);
    }
}

void slm__q8_1_act_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        float d;
        int sum;
        q8_act_block(src, b[i].qs, &d, &sum);
        b[i].d = slm__f32_to_f16(d);
        b[i].s = slm__f32_to_f16((float)sum * d);
    }
}

void slm__q8_1_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q8_1 *b = src;
    for (int64_t i = 0; i < n / SLM_QK; i++, dst += SLM_QK) q8_block_to_float(b[i].d, b[i].qs, dst);
}
void slm__q8_1_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / SLM_QK; i++, src += SLM_QK) {
        int sum;
        float d = q8_block_ref(src, b[i].qs, &sum);
        b[i].d = slm__f32_to_f16(d);
        b[i].s = slm__f32_to_f16((float)sum * d);
    }
}

/* ---- K super-blocks ---- */

static inline int round_int(float x) {
    return (int)lrintf(x);
}

/* Scale j and min j (6 bits each) of a Q4_K/Q5_K block: the first four pairs sit in the low six
 * bits of bytes 0..7; the last four split into a nibble in bytes 8..11 and the two spare top bits
 * of bytes 0..7. */
static inline void k_scale_min(int j, const uint8_t *q, int *sc, int *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
static void k_pack_scale_min(int j, int sc, int mn, uint8_t *q) {
    if (j < 4) {
        q[j] = (uint8_t)sc;
        q[j + 4] = (uint8_t)mn;
    } else {
        q[j + 4] = (uint8_t)((sc & 0xf) | ((mn & 0xf) << 4));
        q[j - 4] |= (uint8_t)((sc >> 4) << 6);
        q[j] |= (uint8_t)((mn >> 4) << 6);
    }
}

/* Fits x[i] ~ scale * L[i] - min with L in [0, nmax] and min >= 0, minimising the weighted squared
 * error: a first guess from the range, then nstep candidate grids (iscale nudged by rdelta) each
 * refined by the closed-form weighted least-squares scale and offset. Returns scale, sets *min. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *min,
                           float rmin, float rdelta, int nstep) {
    float lo = x[0], hi = x[0], sw = w[0], swx = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        sw += w[i];
        swx += w[i] * x[i];
    }
    if (lo > 0) lo = 0;
    if (hi == lo) {
        memset(L, 0, (size_t)n);
        *min = -lo;
        return 0.0f;
    }
    float iscale = (float)nmax / (hi - lo), scale = 1.0f / iscale;
    float best = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = SLM_MAX(0, SLM_MIN(nmax, round_int(iscale * (x[i] - lo))));
        L[i] = (uint8_t)l;
        float e = scale * (float)l + lo - x[i];
        best += w[i] * e * e;
    }
    uint8_t cand[SLM_QK];
    for (int s = 0; s <= nstep; s++) {
        float is = (rmin + rdelta * (float)s + (float)nmax) / (hi - lo);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = SLM_MAX(0, SLM_MIN(nmax, round_int(is * (x[i] - lo))));
            cand[i] = (uint8_t)l;
            sl += w[i] * (float)l;
            sl2 += w[i] * (float)l * (float)l;
            sxl += w[i] * (float)l * x[i];
        }
        float det = sw * sl2 - sl * sl;
        if (det <= 0) continue;
        float sc = (sw * sxl - swx * sl) / det;
        float off = (sl2 * swx - sl * sxl) / det;
        if (off > 0) { /* the offset must stay a subtracted min: refit with zero offset */
            off = 0;
            sc = sxl / sl2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float e = sc * (float)cand[i] + off - x[i];
            err += w[i] * e * e;
        }
        if (err < best) {
            memcpy(L, cand, (size_t)n);
            best = err;
            scale = sc;
            lo = off;
        }
    }
    *min = -lo;
    return scale;
}

/* Shared by Q4_K and Q5_K: per 32-element group fit (scale, min), quantize both to 6 bits against
 * the super-block's f16 d/dmin, then re-quantize the elements with the rounded scales. */
static void k_quantize_scales(const float *x, int nmax, float rmin, float rdelta, int nstep,
                              slm_f16 *d_out, slm_f16 *dmin_out, uint8_t *scales, uint8_t *L) {
    float w[SLM_QK], sc[8], mn[8];
    float max_sc = 0, max_mn = 0;
    for (int j = 0; j < 8; j++) {
        /* weight large elements more (their absolute error dominates the dot products), on top of
         * the group's RMS so small elements still count */
        float sumx2 = 0;
        for (int l = 0; l < SLM_QK; l++) sumx2 += x[SLM_QK * j + l] * x[SLM_QK * j + l];
        float av = sqrtf(sumx2 / SLM_QK);
        for (int l = 0; l < SLM_QK; l++) w[l] = av + fabsf(x[SLM_QK * j + l]);
        sc[j] = fit_scale_min(SLM_QK, nmax, x + SLM_QK * j, w, L + SLM_QK * j, &mn[j], rmin, rdelta,
                              nstep);
        max_sc = fmaxf(max_sc, sc[j]);
        max_mn = fmaxf(max_mn, mn[j]);
    }
    float inv_sc = max_sc > 0 ? 63.0f / max_sc : 0.0f;
    float inv_mn = max_mn > 0 ? 63.0f / max_mn : 0.0f;
    memset(scales, 0, SLM_K_SCALE_BYTES);
    for (int j = 0; j < 8; j++) {
        int ls = SLM_MIN(63, round_int(inv_sc * sc[j]));
        int lm = SLM_MIN(63, round_int(inv_mn * mn[j]));
        k_pack_scale_min(j, ls, lm, scales);
    }
    *d_out = slm__f32_to_f16(max_sc / 63.0f);
    *dmin_out = slm__f32_to_f16(max_mn / 63.0f);
    float d = slm__f16_to_f32(*d_out), dmin = slm__f16_to_f32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        int is, im;
        k_scale_min(j, scales, &is, &im);
        float dj = d * (float)is;
        if (dj == 0.0f) continue;
        float mj = dmin * (float)im;
        for (int l = 0; l < SLM_QK; l++) {
            int q = round_int((x[SLM_QK * j + l] + mj) / dj);
            L[SLM_QK * j + l] = (uint8_t)SLM_MAX(0, SLM_MIN(nmax, q));
        }
    }
}

void slm__q4_k_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q4_k *b = src;
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        float d = slm__f16_to_f32(b[i].d), dmin = slm__f16_to_f32(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            int s0, m0, s1, m1;
            k_scale_min(j, b[i].scales, &s0, &m0);
            k_scale_min(j + 1, b[i].scales, &s1, &m1);
            float d0 = d * (float)s0, c0 = dmin * (float)m0;
            float d1 = d * (float)s1, c1 = dmin * (float)m1;
            for (int l = 0; l < 32; l++) *dst++ = d0 * (float)(q[l] & 0xf) - c0;
            for (int l = 0; l < 32; l++) *dst++ = d1 * (float)(q[l] >> 4) - c1;
        }
    }
}
void slm__q4_k_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q4_k *b = dst;
    uint8_t L[SLM_QK_K];
    for (int64_t i = 0; i < n / SLM_QK_K; i++, src += SLM_QK_K) {
        k_quantize_scales(src, 15, -1.0f, 0.1f, 20, &b[i].d, &b[i].dmin, b[i].scales, L);
        for (int j = 0; j < SLM_QK_K; j += 64)
            for (int l = 0; l < 32; l++)
                b[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void slm__q5_k_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q5_k *b = src;
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        float d = slm__f16_to_f32(b[i].d), dmin = slm__f16_to_f32(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            int s0, m0, s1, m1;
            k_scale_min(j, b[i].scales, &s0, &m0);
            k_scale_min(j + 1, b[i].scales, &s1, &m1);
            float d0 = d * (float)s0, c0 = dmin * (float)m0;
            float d1 = d * (float)s1, c1 = dmin * (float)m1;
            /* group j's fifth bits are bit j of qh[l] */
            for (int l = 0; l < 32; l++)
                *dst++ = d0 * (float)((q[l] & 0xf) | (((b[i].qh[l] >> j) & 1) << 4)) - c0;
            for (int l = 0; l < 32; l++)
                *dst++ = d1 * (float)((q[l] >> 4) | (((b[i].qh[l] >> (j + 1)) & 1) << 4)) - c1;
        }
    }
}
void slm__q5_k_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q5_k *b = dst;
    uint8_t L[SLM_QK_K];
    for (int64_t i = 0; i < n / SLM_QK_K; i++, src += SLM_QK_K) {
        k_quantize_scales(src, 31, -0.5f, 0.1f, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int j = 0; j < SLM_QK_K; j += 64) {
            int g = j / 32;
            for (int l = 0; l < 32; l++) {
                int lo = L[j + l], hi = L[j + l + 32];
                b[i].qs[j / 2 + l] = (uint8_t)((lo & 0xf) | ((hi & 0xf) << 4));
                b[i].qh[l] |= (uint8_t)(((lo >> 4) << g) | ((hi >> 4) << (g + 1)));
            }
        }
    }
}

void slm__q6_k_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q6_k *b = src;
    for (int64_t i = 0; i < n / SLM_QK_K; i++) {
        float d = slm__f16_to_f32(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, dst += 128) {
            for (int l = 0; l < 32; l++) {
                int s = l / 16;
                int q0 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q1 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * (float)sc[s] * (float)q0;
                dst[l + 32] = d * (float)sc[s + 2] * (float)q1;
                dst[l + 64] = d * (float)sc[s + 4] * (float)q2;
                dst[l + 96] = d * (float)sc[s + 6] * (float)q3;
            }
        }
    }
}

/* Symmetric fit of 16 elements to L in [-nmax, nmax-1] (stored + nmax), weights x^2: the scale
 * from the largest element, then 18 nudged grids each refined by least squares. */
static float fit_scale_sym(const float *x, int nmax, uint8_t *L) {
    float amax = 0, max = 0;
    for (int i = 0; i < 16; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax < 1e-15f) {
        memset(L, 0, 16);
        return 0.0f;
    }
    float best_scale = 0, best = 0;
    for (int s = 0; s <= 18; s++) {
        /* s = 0 is the plain grid; then nudges -0.9 .. +0.9 */
        float nudge = s == 0 ? 0.0f : 0.1f * (float)(s <= 9 ? s - 10 : s - 9);
        float is = -((float)nmax + nudge) / max;
        float sxl = 0, sl2 = 0;
        int q[16];
        for (int i = 0; i < 16; i++) {
            q[i] = SLM_MAX(-nmax, SLM_MIN(nmax - 1, round_int(is * x[i])));
            float w = x[i] * x[i];
            sxl += w * x[i] * (float)q[i];
            sl2 += w * (float)q[i] * (float)q[i];
        }
        /* error = const - sxl^2/sl2, so maximise sxl^2/sl2 */
        if (sl2 > 0 && (s == 0 || sxl * sxl > best * sl2)) {
            best_scale = sxl / sl2;
            best = best_scale * sxl;
            for (int i = 0; i < 16; i++) L[i] = (uint8_t)(q[i] + nmax);
        } else if (s == 0) {
            memset(L, 0, 16);
        }
    }
    return best_scale;
}

void slm__q6_k_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q6_k *b = dst;
    uint8_t L[SLM_QK_K];
    float sc[16];
    for (int64_t i = 0; i < n / SLM_QK_K; i++, src += SLM_QK_K) {
        float max_sc = 0, amax_sc = 0;
        for (int g = 0; g < 16; g++) {
            sc[g] = fit_scale_sym(src + 16 * g, 32, L + 16 * g);
            if (fabsf(sc[g]) > amax_sc) {
                amax_sc = fabsf(sc[g]);
                max_sc = sc[g];
            }
        }
        memset(&b[i], 0, sizeof b[i]);
        if (amax_sc < 1e-15f) continue;
        float iscale = -128.0f / max_sc;
        b[i].d = slm__f32_to_f16(1.0f / iscale);
        for (int g = 0; g < 16; g++)
            b[i].scales[g] = (int8_t)SLM_MIN(127, round_int(iscale * sc[g]));
        float d = slm__f16_to_f32(b[i].d);
        for (int g = 0; g < 16; g++) {
            float dg = d * (float)b[i].scales[g];
            if (dg == 0.0f) continue;
            for (int l = 0; l < 16; l++) {
                int q = round_int(src[16 * g + l] / dg);
                L[16 * g + l] = (uint8_t)(SLM_MAX(-32, SLM_MIN(31, q)) + 32);
            }
        }
        uint8_t *ql = b[i].ql, *qh = b[i].qh;
        for (int j = 0; j < SLM_QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                int q0 = L[j + l], q1 = L[j + l + 32], q2 = L[j + l + 64], q3 = L[j + l + 96];
                ql[l] = (uint8_t)((q0 & 0xf) | ((q2 & 0xf) << 4));
                ql[l + 32] = (uint8_t)((q1 & 0xf) | ((q3 & 0xf) << 4));
                qh[l] =
                    (uint8_t)((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
            }
        }
    }
}

void slm__q8_k_to_float(const void *src, float *dst, int64_t n) {
    const slm_block_q8_k *b = src;
    for (int64_t i = 0; i < n / SLM_QK_K; i++, dst += SLM_QK_K)
        for (int j = 0; j < SLM_QK_K; j++) dst[j] = b[i].d * (float)b[i].qs[j];
}
void slm__q8_k_from_float(const float *src, void *dst, int64_t n) {
    slm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / SLM_QK_K; i++, src += SLM_QK_K) {
        float max = signed_absmax(src, SLM_QK_K);
        if (max == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        /* the largest element maps to -127 exactly (clamped to 127 on the other side) */
        float iscale = -127.0f / max;
        for (int j = 0; j < SLM_QK_K; j++)
            b[i].qs[j] = (int8_t)SLM_MIN(127, round_int(iscale * src[j]));
        for (int g = 0; g < SLM_QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += b[i].qs[16 * g + l];
            b[i].bsums[g] = (int16_t)s;
        }
        b[i].d = 1.0f / iscale;
    }
}
