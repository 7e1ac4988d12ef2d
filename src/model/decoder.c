/* The decoder forward pass (llama, qwen2): token embeddings, then per layer pre-norm grouped-query
 * attention with RoPE over the session's KV cache and a SwiGLU feed-forward, then the final norm
 * and the output projection. A batch of tokens goes through each linear layer as one matrix x
 * matrix product; a single token as matrix x vector. Nothing here allocates. */
#include "model/internal.h"

#include <math.h>

/* ---- activation buffers ---- */

struct fwd_sizes {
    int64_t embd, q, kv, ff, vocab, logits_rows;
};

static struct fwd_sizes sizes(const struct slm_model_hparams *h, int64_t n_batch, bool logits_all) {
    return (struct fwd_sizes){h->n_embd, (int64_t)h->n_head * h->head_dim,
                              (int64_t)h->n_head_kv * h->head_dim, h->n_ff, h->n_vocab,
                              logits_all ? n_batch : 1};
}

/* The largest activation buffer any matrix of the file needs in its partner format. */
static size_t mm_scratch_bytes(const slm_gguf *g, int load_type, int64_t n_batch) {
    size_t max = 0;
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        if (t->n_dims != 2) continue;
        size_t s = slm__matmul_scratch_size(slm__loaded_type(t, load_type), t->ne[0], n_batch);
        max = s > max ? s : max;
    }
    return max;
}

/* Each buffer is rounded up to 64 bytes, as the allocator aligns them. */
static uint64_t rounded(uint64_t floats) { return (floats * 4 + 63) / 64 * 64; }

uint64_t slm__fwd_bytes(const struct slm_model_hparams *h, const slm_gguf *g, int load_type,
                        int64_t n_batch, int64_t n_ctx, int nth, bool logits_all) {
    struct fwd_sizes z = sizes(h, n_batch, logits_all);
    return 3 * rounded((uint64_t)(n_batch * z.embd)) + 2 * rounded((uint64_t)(n_batch * z.q)) +
           2 * rounded((uint64_t)(n_batch * z.kv)) + 2 * rounded((uint64_t)(n_batch * z.ff)) +
           rounded((uint64_t)(z.logits_rows * z.vocab)) + rounded((uint64_t)(nth * SLM_ATTN_SCRATCH(n_ctx))) +
           (mm_scratch_bytes(g, load_type, n_batch) + 63) / 64 * 64;
}

slm_status slm__fwd_init(struct slm__fwd *f, const slm_model *m, int64_t n_batch, int64_t n_ctx,
                         int nth, bool logits_all) {
    *f = (struct slm__fwd){.n_batch = n_batch, .logits_all = logits_all, .nth = nth};
    struct fwd_sizes z = sizes(&m->h, n_batch, logits_all);
    f->mm_scratch_bytes = mm_scratch_bytes(m->gguf, m->load_type, n_batch);
    float **bufs[] = {&f->x, &f->xb, &f->xb2, &f->q, &f->att, &f->k, &f->v, &f->g, &f->u,
                      &f->logits, &f->attn_scratch};
    int64_t lens[] = {n_batch * z.embd, n_batch * z.embd, n_batch * z.embd, n_batch * z.q,
                      n_batch * z.q, n_batch * z.kv, n_batch * z.kv, n_batch * z.ff,
                      n_batch * z.ff, z.logits_rows * z.vocab, (int64_t)nth * SLM_ATTN_SCRATCH(n_ctx)};
    /* Zeroed now, so the memory accounted for is resident and the token loop never faults. */
    for (size_t i = 0; i < SLM_ARRAY_LEN(bufs); i++) {
        if (!(*bufs[i] = slm__aligned_alloc((size_t)lens[i] * sizeof(float)))) goto oom;
        memset(*bufs[i], 0, (size_t)lens[i] * sizeof(float));
    }
    if (f->mm_scratch_bytes) {
        if (!(f->mm_scratch = slm__aligned_alloc(f->mm_scratch_bytes))) goto oom;
        memset(f->mm_scratch, 0, f->mm_scratch_bytes);
    }
    return SLM_OK;
oom:
    slm__fwd_free(f);
    return slm__error(SLM_E_NOMEM, "activation buffers for a batch of %lld", (long long)n_batch);
}

void slm__fwd_free(struct slm__fwd *f) {
    float *bufs[] = {f->x, f->xb, f->xb2, f->q, f->att, f->k, f->v, f->g, f->u, f->logits,
                     f->attn_scratch};
    for (size_t i = 0; i < SLM_ARRAY_LEN(bufs); i++) slm__aligned_free(bufs[i]);
    slm__aligned_free(f->mm_scratch);
    *f = (struct slm__fwd){0};
}

/* ---- the pass ---- */

struct attn_job {
    const struct slm_attn *a;
    const float *q;
    float *out;
    float *scratch;
    int64_t stride;
};

static void attn_work(void *p, int ith, int nth) {
    struct attn_job *j = p;
    slm__attention(j->a, j->q, j->out, j->scratch + ith * j->stride, ith, nth);
}

/* Handing work to another thread costs a wake-up and a join, microseconds; below this much work
 * per thread (weight bytes x activation columns) one thread is done sooner. Tiny models then run
 * single-threaded, large ones on every thread. */
#define MIN_WORK_PER_THREAD (64 * 1024)

static int threads_for(const struct slm__fwd *f, uint64_t work) {
    uint64_t n = work / MIN_WORK_PER_THREAD;
    return n < 1 ? 1 : n > (uint64_t)f->nth ? f->nth : (int)n;
}

static void matmul(const struct slm__fwd *f, slm_pool *pool, const struct slm__bound *b,
                   const float *x, int64_t n, float *y) {
    uint64_t bytes = 0;
    slm_type_nbytes(b->w.type, (uint64_t)(b->w.rows * b->w.cols), &bytes);
    slm__matmul(pool, threads_for(f, bytes * (uint64_t)n), &b->w, x, n, y, f->mm_scratch);
}

/* Several weights over the same activations: quantized once per partner format, not per weight
 * (Q, K and V; gate and up). Weights whose partners differ (mixed-type files) re-prepare. */
static void matmul_group(const struct slm__fwd *f, slm_pool *pool, const struct slm__bound *const *b,
                         int count, const float *x, int64_t n, float *const *y) {
    if (n == 1 && count <= SLM__MATVEC_GROUP_MAX) {
        /* one pool run for all (small ones such as K and V would otherwise run on one thread) */
        const struct slm_weight *w[SLM__MATVEC_GROUP_MAX];
        slm_type partner = slm__matmul_partner(b[0]->w.type);
        uint64_t total = 0;
        bool same = true;
        for (int i = 0; i < count; i++) {
            uint64_t bytes = 0;
            slm_type_nbytes(b[i]->w.type, (uint64_t)(b[i]->w.rows * b[i]->w.cols), &bytes);
            total += bytes;
            w[i] = &b[i]->w;
            same = same && slm__matmul_partner(b[i]->w.type) == partner;
        }
        if (same) {
            int nth = threads_for(f, total);
            slm__matmul_prepare(pool, nth, b[0]->w.type, x, b[0]->w.cols, 1, f->mm_scratch);
            slm__matvec_prepared_group(pool, nth, w, count, x, y, f->mm_scratch);
            return;
        }
    }
    slm_type prepared = SLM_TYPE_COUNT;
    for (int i = 0; i < count; i++) {
        uint64_t bytes = 0;
        slm_type_nbytes(b[i]->w.type, (uint64_t)(b[i]->w.rows * b[i]->w.cols), &bytes);
        int nth = threads_for(f, bytes * (uint64_t)n);
        slm_type partner = slm__matmul_partner(b[i]->w.type);
        if (partner != prepared)
            prepared = slm__matmul_prepare(pool, nth, b[i]->w.type, x, b[i]->w.cols, n, f->mm_scratch);
        slm__matmul_prepared(pool, nth, &b[i]->w, x, n, y[i], f->mm_scratch);
    }
}

static void add_bias(float *y, const float *bias, int64_t n, int64_t width) {
    if (!bias) return;
    for (int64_t i = 0; i < n; i++) slm__add(y + i * width, y + i * width, bias, width);
}

/* The cache type's activation quantizer: a copy for F32, the SIMD F16 rounding for F16. */
static void store_kv(const struct slm__kv *kv, uint32_t layer, const float *k, const float *v,
                     int64_t n, int64_t pos0, int64_t width) {
    struct slm_type_kernels tk;
    slm__type_kernels(kv->type, SLM_CPU_LEVEL_COUNT, &tk);
    const size_t off = (size_t)(pos0 * width) * slm_type_block_bytes(kv->type);
    tk.act_from_float(k, (uint8_t *)kv->k[layer] + off, n * width);
    tk.act_from_float(v, (uint8_t *)kv->v[layer] + off, n * width);
}

void slm__decoder_forward(const slm_model *m, struct slm__kv *kv, struct slm__fwd *f,
                          slm_pool *pool, const int32_t *tokens, int64_t n, int64_t pos0) {
    const struct slm_model_hparams *h = &m->h;
    const int64_t E = h->n_embd, Q = (int64_t)h->n_head * h->head_dim,
                  KV = (int64_t)h->n_head_kv * h->head_dim, F = h->n_ff;
    SLM_ASSERT(n > 0 && n <= f->n_batch && pos0 + n <= kv->n_ctx);

    const struct slm__bound *emb = &m->global[SLM_ROLE_TOK_EMBD];
    uint64_t row_bytes = 0;
    SLM_ASSERT(slm_type_nbytes(emb->w.type, (uint64_t)E, &row_bytes));
    for (int64_t i = 0; i < n; i++)
        slm_type_dequantize(emb->w.type, (const uint8_t *)emb->w.data + (uint64_t)tokens[i] * row_bytes,
                            f->x + i * E, E);

    const struct slm_attn attn_base = {
        .n_q = n, .n_head = h->n_head, .n_head_kv = h->n_head_kv, .head_dim = h->head_dim,
        .pos0 = pos0, .scale = 1.0f / sqrtf((float)h->head_dim), .kv_type = kv->type};
    const bool neox = h->rope == SLM_ROPE_NEOX;
    for (uint32_t l = 0; l < h->n_layer; l++) {
        const struct slm__bound *L = m->layers[l];
        for (int64_t i = 0; i < n; i++)
            slm__rms_norm(f->xb + i * E, f->x + i * E, L[SLM_ROLE_ATTN_NORM].vec, E, h->norm_eps);
        const struct slm__bound *qkv[] = {&L[SLM_ROLE_WQ], &L[SLM_ROLE_WK], &L[SLM_ROLE_WV]};
        float *const qkv_out[] = {f->q, f->k, f->v};
        matmul_group(f, pool, qkv, 3, f->xb, n, qkv_out);
        add_bias(f->q, L[SLM_ROLE_BQ].vec, n, Q);
        add_bias(f->k, L[SLM_ROLE_BK].vec, n, KV);
        add_bias(f->v, L[SLM_ROLE_BV].vec, n, KV);
        for (int64_t i = 0; i < n; i++) {
            slm__rope(f->q + i * Q, h->n_head, h->head_dim, h->n_rot, pos0 + i, h->rope_freq_base,
                      h->rope_freq_scale, neox);
            slm__rope(f->k + i * KV, h->n_head_kv, h->head_dim, h->n_rot, pos0 + i,
                      h->rope_freq_base, h->rope_freq_scale, neox);
        }
        store_kv(kv, l, f->k, f->v, n, pos0, KV);
        struct slm_attn a = attn_base;
        a.k = kv->k[l];
        a.v = kv->v[l];
        struct attn_job job = {&a, f->q, f->att, f->attn_scratch, SLM_ATTN_SCRATCH(kv->n_ctx)};
        /* work: every query position reads its keys and values */
        slm_pool_run(pool, attn_work, &job,
                     threads_for(f, (uint64_t)(n * (pos0 + n) * KV * 4 * (kv->type == SLM_TYPE_F32 ? 2 : 1))));
        matmul(f, pool, &L[SLM_ROLE_WO], f->att, n, f->xb2);
        slm__add(f->x, f->x, f->xb2, n * E);

        for (int64_t i = 0; i < n; i++)
            slm__rms_norm(f->xb + i * E, f->x + i * E, L[SLM_ROLE_FFN_NORM].vec, E, h->norm_eps);
        const struct slm__bound *gu[] = {&L[SLM_ROLE_FFN_GATE], &L[SLM_ROLE_FFN_UP]};
        float *const gu_out[] = {f->g, f->u};
        matmul_group(f, pool, gu, 2, f->xb, n, gu_out);
        for (int64_t i = 0; i < n; i++) slm__swiglu(f->g + i * F, f->g + i * F, f->u + i * F, F);
        matmul(f, pool, &L[SLM_ROLE_FFN_DOWN], f->g, n, f->xb2);
        slm__add(f->x, f->x, f->xb2, n * E);
    }

    /* Only the rows whose logits are wanted go through the output projection. */
    int64_t first = f->logits_all ? 0 : n - 1, rows = n - first;
    for (int64_t i = 0; i < rows; i++)
        slm__rms_norm(f->xb + i * E, f->x + (first + i) * E, m->global[SLM_ROLE_OUTPUT_NORM].vec, E,
                      h->norm_eps);
    struct slm__bound out = {.w = *m->output};
    matmul(f, pool, &out, f->xb, rows, f->logits);
}
