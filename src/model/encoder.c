/* The bert encoder forward pass (MiniLM, BGE): token + position + token-type embeddings and their
 * LayerNorm, then per layer bidirectional multi-head attention with biases and a post-norm
 * residual, and a GELU feed-forward with biases and a post-norm residual. A batch of sequences is
 * packed back to back, so every linear layer is one matrix x matrix product over all of its
 * tokens and no work is spent on padding. Nothing here allocates after slm__enc_init. */
#include "model/encoder.h"

#include <math.h>

/* Queries per block of attention scores: a block's scores (32 x up to 512 floats) stay in L1/L2. */
#define ATTN_QBLOCK 32

/* ---- activation buffers ---- */

/* Scratch of slm__matmul for the layer matrices that take that path (from the header alone, so
 * the footprint estimate and the allocation agree). */
static size_t mm_scratch_bytes(const struct slm_model_hparams *h, const slm_gguf *g,
                               int64_t n_tokens) {
    size_t max = 0;
    for (uint32_t l = 0; l < h->n_layer; l++) {
        for (int r = SLM_ROLE_FIRST_LAYER; r < SLM_ROLE_COUNT; r++) {
            const struct slm_gguf_tensor *t = slm__model_tensor(g, (slm_role)r, l);
            if (!t || t->n_dims < 2) continue;
            size_t s = slm__matmul_scratch_size(t->type, t->ne[0], n_tokens);
            max = s > max ? s : max;
        }
    }
    return max;
}

/* Each buffer is rounded up to 64 bytes, as the allocator aligns them. */
static uint64_t rounded(uint64_t bytes) { return (bytes + 63) / 64 * 64; }

/* A thread's attention scratch, at offsets rounded to 64 bytes: a block of scores, then a head's
 * keys (transposed floats, or packed for the AMX tiles), its values packed, and a block of
 * queries and of probabilities packed. */
struct attn_layout {
    uint64_t keys, values, queries, probs, bytes;
};

static struct attn_layout attn_layout(const struct slm_model_hparams *h, int64_t max_seq) {
    const int64_t d = h->head_dim, S = max_seq;
    struct attn_layout a;
    a.keys = rounded((uint64_t)(ATTN_QBLOCK * S) * 4);
    a.values = a.keys + rounded(SLM_MAX((uint64_t)(d * S) * 4, slm__amx_weight_bytes(S, d)));
    a.queries = a.values + rounded(slm__amx_weight_bytes(d, S));
    a.probs = a.queries + rounded(slm__amx_act_bytes(ATTN_QBLOCK, d));
    a.bytes = a.probs + rounded(slm__amx_act_bytes(ATTN_QBLOCK, S));
    return a;
}

/* Floats of attention scratch per thread. */
static int64_t attn_floats(const struct slm_model_hparams *h, int64_t max_seq) {
    return (int64_t)(attn_layout(h, max_seq).bytes / sizeof(float));
}

static const slm_role linear_roles[SLM__ENC_LINEARS] = {
    [SLM__ENC_Q] = SLM_ROLE_WQ,      [SLM__ENC_K] = SLM_ROLE_WK,
    [SLM__ENC_V] = SLM_ROLE_WV,      [SLM__ENC_O] = SLM_ROLE_WO,
    [SLM__ENC_UP] = SLM_ROLE_FFN_UP, [SLM__ENC_DOWN] = SLM_ROLE_FFN_DOWN,
};
static const slm_role bias_roles[SLM__ENC_LINEARS] = {
    [SLM__ENC_Q] = SLM_ROLE_BQ,        [SLM__ENC_K] = SLM_ROLE_BK,
    [SLM__ENC_V] = SLM_ROLE_BV,        [SLM__ENC_O] = SLM_ROLE_BO,
    [SLM__ENC_UP] = SLM_ROLE_FFN_UP_B, [SLM__ENC_DOWN] = SLM_ROLE_FFN_DOWN_B,
};

/* F32 matrices keep their float tiles (their precision is why one picks F32); the others gain
 * the AMX rate for a BF16 rounding they mostly had already. */
static bool packs(slm_type t) { return t != SLM_TYPE_F32 && slm__cpu_has_amx_bf16(); }

/* Bytes of the packed layer matrices (0 without AMX), and of the packed activations. */
static uint64_t amx_weight_bytes(const struct slm_model_hparams *h, const slm_gguf *g) {
    uint64_t sum = 0;
    for (uint32_t l = 0; l < h->n_layer; l++) {
        for (int i = 0; i < SLM__ENC_LINEARS; i++) {
            const struct slm_gguf_tensor *t = slm__model_tensor(g, linear_roles[i], l);
            if (t && packs(t->type))
                sum += rounded(slm__amx_weight_bytes((int64_t)t->ne[1], (int64_t)t->ne[0]));
        }
    }
    return sum;
}

static uint64_t amx_act_bytes(const struct slm_model_hparams *h, int64_t n_tokens) {
    int64_t widest = SLM_MAX(SLM_MAX((int64_t)h->n_embd, (int64_t)h->n_ff),
                             (int64_t)h->n_head * h->head_dim);
    return slm__amx_act_bytes(n_tokens, widest);
}

uint64_t slm__enc_model_bytes(const struct slm_model_hparams *h, const slm_gguf *g) {
    const uint64_t amx = amx_weight_bytes(h, g);
    return amx ? amx + rounded(h->n_layer * sizeof(struct slm_amx_weight[SLM__ENC_LINEARS])) : 0;
}

uint64_t slm__enc_bytes(const struct slm_model_hparams *h, const slm_gguf *g, int64_t n_tokens,
                        int64_t max_seq, int nth) {
    const uint64_t n = (uint64_t)n_tokens, E = h->n_embd, Q = (uint64_t)h->n_head * h->head_dim;
    const uint64_t xa = amx_weight_bytes(h, g) ? rounded(amx_act_bytes(h, n_tokens)) : 0;
    return 2 * rounded(n * E * 4) + 4 * rounded(n * Q * 4) + rounded(n * h->n_ff * 4) +
           rounded((uint64_t)nth * (uint64_t)attn_floats(h, max_seq) * 4) + rounded(n * 4) +
           rounded(mm_scratch_bytes(h, g, n_tokens)) + xa;
}

slm_status slm__enc_pack_model(slm_model *m) {
    const struct slm_model_hparams *h = &m->h;
    const uint64_t bytes = amx_weight_bytes(h, m->gguf);
    if (!bytes) return SLM_OK;
    /* the descriptors are allocated rounded, as slm__enc_model_bytes counts them */
    const size_t desc = h->n_layer * sizeof(struct slm_amx_weight[SLM__ENC_LINEARS]);
    m->enc_amx = slm__aligned_alloc(rounded(desc));
    m->enc_amx_data = slm__aligned_alloc(bytes);
    float *row = slm__malloc(m->max_matmul_cols * sizeof *row);
    if (!m->enc_amx || !m->enc_amx_data || !row) {
        slm__free(row);
        slm__aligned_free(m->enc_amx);
        slm__aligned_free(m->enc_amx_data);
        m->enc_amx = NULL, m->enc_amx_data = NULL;
        return slm__error(SLM_E_NOMEM, "packed encoder weights (%llu bytes)",
                          (unsigned long long)bytes);
    }
    memset(m->enc_amx, 0, desc);
    uint8_t *at = m->enc_amx_data;
    for (uint32_t l = 0; l < h->n_layer; l++) {
        for (int i = 0; i < SLM__ENC_LINEARS; i++) {
            const struct slm_weight *w = &m->layers[l][linear_roles[i]].w;
            if (!packs(w->type)) continue;
            slm__amx_pack_weight(w, at, row, &m->enc_amx[l * SLM__ENC_LINEARS + i]);
            at += rounded(slm__amx_weight_bytes(w->rows, w->cols));
        }
    }
    slm__free(row);
    SLM_ASSERT(at == (uint8_t *)m->enc_amx_data + bytes);
    return SLM_OK;
}

slm_status slm__enc_init(struct slm__enc *e, const slm_model *m, int64_t n_tokens, int64_t max_seq,
                         int nth) {
    const struct slm_model_hparams *h = &m->h;
    *e = (struct slm__enc){.n_tokens = n_tokens, .max_seq = max_seq,
                           .attn_floats = attn_floats(h, max_seq), .nth = nth};
    const int64_t E = h->n_embd, Q = (int64_t)h->n_head * h->head_dim;
    float **bufs[] = {&e->x, &e->xb, &e->q, &e->k, &e->v, &e->att, &e->ff, &e->attn_scratch};
    int64_t lens[] = {n_tokens * E, n_tokens * E, n_tokens * Q, n_tokens * Q,
                      n_tokens * Q, n_tokens * Q, n_tokens * h->n_ff,
                      (int64_t)nth * attn_floats(h, max_seq)};
    for (size_t i = 0; i < SLM_ARRAY_LEN(bufs); i++)
        if (!(*bufs[i] = slm__aligned_alloc((size_t)lens[i] * sizeof(float)))) goto oom;
    if (!(e->seq_of = slm__aligned_alloc((size_t)n_tokens * sizeof(int32_t)))) goto oom;
    e->mm_scratch_bytes = mm_scratch_bytes(h, m->gguf, n_tokens);
    if (e->mm_scratch_bytes && !(e->mm_scratch = slm__aligned_alloc(e->mm_scratch_bytes))) goto oom;
    /* the model's packed matrices, unless the tiles are forbidden since it was loaded */
    if (m->enc_amx && slm__cpu_has_amx_bf16()) {
        if (!(e->xa = slm__aligned_alloc(amx_act_bytes(&m->h, n_tokens)))) goto oom;
        e->amx = m->enc_amx;
    }
    return SLM_OK;
oom:
    slm__enc_free(e);
    return slm__error(SLM_E_NOMEM, "encoder buffers for %lld tokens", (long long)n_tokens);
}

void slm__enc_free(struct slm__enc *e) {
    float *bufs[] = {e->x, e->xb, e->q, e->k, e->v, e->att, e->ff, e->attn_scratch};
    for (size_t i = 0; i < SLM_ARRAY_LEN(bufs); i++) slm__aligned_free(bufs[i]);
    slm__aligned_free(e->seq_of);
    slm__aligned_free(e->mm_scratch);
    slm__aligned_free(e->xa);
    *e = (struct slm__enc){0};
}

/* ---- the pass ---- */

/* Attention over the packed batch: every query attends to all tokens of its own sequence.
 * With the AVX-512 tiles, threads claim (sequence, head) pairs: the head's keys are transposed
 * once into scratch, then blocks of ATTN_QBLOCK queries get their scores (Q K^T) and outputs
 * (P V) as products that broadcast queries (then probabilities) against rows of keys (values);
 * in layers whose linears run on the AMX tiles, on those tiles too (keys, values, queries and
 * probabilities rounded to BF16: MiniLM's worst cosine stays at 0.99997 for F16 weights).
 * Otherwise threads claim tokens and go key by key with the ops table. */
struct attn_job {
    const struct slm__enc *e;
    const int64_t *offsets;
    int64_t n_head, head_dim;
    float scale;
    bool tiled, amx; /* amx: the tiled products on AMX tiles, in BF16 like the layer's linears */
    struct attn_layout layout;
    slm_chunker units; /* tiled: (sequence, head) pairs, else tokens */
};

static void attn_head(const struct attn_job *j, int64_t s, int64_t h, float *scratch) {
    const struct slm__enc *e = j->e;
    const int64_t d = j->head_dim, width = j->n_head * d;
    const int64_t k0 = j->offsets[s], n_keys = j->offsets[s + 1] - k0;
    const float *q = e->q + k0 * width + h * d, *k = e->k + k0 * width + h * d;
    const float *v = e->v + k0 * width + h * d;
    float *scores = scratch; /* [block][n_keys] */
    uint8_t *base = (uint8_t *)scratch;
    if (j->amx) {
        struct slm_amx_weight kw, vw; /* keys as rows to score against, values transposed */
        slm_bf16 *qa = (slm_bf16 *)(base + j->layout.queries);
        slm_bf16 *pa = (slm_bf16 *)(base + j->layout.probs);
        slm__amx_pack_rows_avx512(k, n_keys, d, width, base + j->layout.keys, &kw);
        slm__amx_pack_cols_avx512(v, d, n_keys, width, base + j->layout.values, &vw);
        for (int64_t q0 = 0; q0 < n_keys; q0 += ATTN_QBLOCK) {
            const int64_t nq = SLM_MIN(ATTN_QBLOCK, n_keys - q0);
            slm__amx_pack_act_avx512(q + q0 * width, nq, d, width, j->scale, qa, 0, ATTN_QBLOCK);
            slm__amx_tiles(&kw, qa, nq, 0, 0, SLM_AMX_ROWS(n_keys), NULL, scores, n_keys);
            for (int64_t i = 0; i < nq; i++) slm__softmax_avx512(scores + i * n_keys, n_keys);
            slm__amx_pack_act_avx512(scores, nq, n_keys, n_keys, 1.0f, pa, 0, ATTN_QBLOCK);
            slm__amx_tiles(&vw, pa, nq, 0, 0, SLM_AMX_ROWS(d), NULL,
                           e->att + (k0 + q0) * width + h * d, width);
        }
        return;
    }
    float *kt = (float *)(base + j->layout.keys); /* [d][n_keys] */
    for (int64_t t = 0; t < n_keys; t++)
        for (int64_t c = 0; c < d; c++) kt[c * n_keys + t] = k[t * width + c];
    for (int64_t q0 = 0; q0 < n_keys; q0 += ATTN_QBLOCK) {
        const int64_t nq = SLM_MIN(ATTN_QBLOCK, n_keys - q0);
        slm__gemm_nn_avx512(nq, n_keys, d, j->scale, q + q0 * width, width, kt, n_keys, scores,
                            n_keys);
        for (int64_t i = 0; i < nq; i++) slm__softmax_avx512(scores + i * n_keys, n_keys);
        slm__gemm_nn_avx512(nq, d, n_keys, 1.0f, scores, n_keys, v, width,
                            e->att + (k0 + q0) * width + h * d, width);
    }
}

static void attn_token(const struct attn_job *j, int64_t i, float *scores) {
    const struct slm__enc *e = j->e;
    const struct slm_ops *ops = slm__ops(SLM_CPU_LEVEL_COUNT);
    const int64_t d = j->head_dim, width = j->n_head * d;
    const int32_t s = e->seq_of[i];
    const int64_t k0 = j->offsets[s], n_keys = j->offsets[s + 1] - k0;
    for (int64_t h = 0; h < j->n_head; h++) {
        const float *q = e->q + i * width + h * d;
        const struct slm_attn_rows k = {
            .base = e->k + k0 * width + h * d, .stride = width, .n_keys = n_keys, .d = d};
        const struct slm_attn_rows v = {
            .base = e->v + k0 * width + h * d, .stride = width, .n_keys = n_keys, .d = d};
        ops->attn_scores(&k, q, j->scale, scores);
        ops->softmax(scores, n_keys);
        ops->attn_values(&v, scores, e->att + i * width + h * d);
    }
}

static void attn_work(void *p, int ith, int nth) {
    (void)nth;
    struct attn_job *j = p;
    float *scratch = j->e->attn_scratch + (int64_t)ith * j->e->attn_floats;
    int64_t u0, u1;
    if (j->amx) slm__amx_begin();
    while (slm__chunker_next(&j->units, &u0, &u1)) {
        for (int64_t u = u0; u < u1; u++) {
            if (j->tiled) attn_head(j, u / j->n_head, u % j->n_head, scratch);
            else attn_token(j, u, scratch);
        }
    }
    if (j->amx) slm__amx_end();
}

/* Is linear i of layer l packed for the AMX tiles? */
static bool packed(const struct slm__enc *e, uint32_t l, int i) {
    return e->amx && e->amx[l * SLM__ENC_LINEARS + i].data;
}

/* y = act(x W^T + b) over n rows, for linear i of layer l. x_packed says e->xa already holds x
 * (the linears that read the same activations pack them once). */
static void linear(const struct slm__enc *e, slm_pool *pool, const slm_model *m, uint32_t l,
                   int i, const float *x, bool x_packed, int64_t n, slm_amx_act act, float *y) {
    const struct slm__bound *w = &m->layers[l][linear_roles[i]];
    const struct slm__bound *b = &m->layers[l][bias_roles[i]];
    const int64_t width = w->w.rows;
    if (packed(e, l, i)) {
        if (!x_packed) slm__amx_pack_act(pool, e->nth, x, n, w->w.cols, e->xa);
        slm__matmul_amx(pool, e->nth, &e->amx[l * SLM__ENC_LINEARS + i], e->xa, n, b->vec, act,
                        y);
        return;
    }
    if (slm__matmul_f32x_supported(w->w.type)) slm__matmul_f32x(pool, e->nth, &w->w, x, n, y);
    else slm__matmul(pool, e->nth, &w->w, x, n, y, e->mm_scratch);
    for (int64_t r = 0; r < n; r++) slm__add(y + r * width, y + r * width, b->vec, width);
    if (act == SLM_AMX_GELU_TANH) slm__gelu_tanh(y, y, n * width);
    else if (act == SLM_AMX_GELU_ERF) slm__gelu_erf(y, y, n * width);
}

/* x = LayerNorm(x + r) row by row (r may be NULL), threads over rows. */
struct norm_job {
    float *x;
    const float *r, *w, *b;
    int64_t width;
    float eps;
    slm_chunker rows;
};

static void norm_work(void *p, int ith, int nth) {
    (void)ith, (void)nth;
    struct norm_job *j = p;
    int64_t r0, r1;
    while (slm__chunker_next(&j->rows, &r0, &r1)) {
        for (int64_t i = r0; i < r1; i++) {
            float *x = j->x + i * j->width;
            if (j->r) slm__add(x, x, j->r + i * j->width, j->width);
            slm__layer_norm(x, x, j->w, j->b, j->width, j->eps);
        }
    }
}

static void add_norm(const struct slm__enc *e, slm_pool *pool, float *x, const float *r, int64_t n,
                     int64_t width, const struct slm__bound *w, const struct slm__bound *b,
                     float eps) {
    struct norm_job j = {.x = x, .r = r, .w = w->vec, .b = b->vec, .width = width, .eps = eps};
    slm__chunker_init(&j.rows, 0, n, 16);
    /* a single chunk is not worth waking the pool */
    slm_pool_run(n > 16 ? pool : NULL, norm_work, &j, n > 16 && pool ? e->nth : 1);
}

/* Row `row` of an embedding table, dequantized into out. */
static void embedding_row(const struct slm__bound *table, int64_t row, float *out) {
    uint64_t row_bytes = 0;
    SLM_ASSERT(slm_type_nbytes(table->w.type, (uint64_t)table->w.cols, &row_bytes));
    slm_type_dequantize(table->w.type, (const uint8_t *)table->w.data + (uint64_t)row * row_bytes,
                        out, table->w.cols);
}

void slm__encoder_forward(const slm_model *m, struct slm__enc *e, slm_pool *pool,
                          const int32_t *tokens, const int64_t *offsets, int64_t n_seq,
                          bool gelu_tanh) {
    const struct slm_model_hparams *h = &m->h;
    const int64_t E = h->n_embd, n = offsets[n_seq];
    SLM_ASSERT(n_seq > 0 && n > 0 && n <= e->n_tokens);

    const struct slm__bound *G = m->global;
    const bool types = G[SLM_ROLE_TOKEN_TYPES].w.data != NULL;
    /* the tiled attention (its products and softmax) is AVX-512 code */
    const bool tiled = slm__cpu_level() >= SLM_CPU_AVX512;
    for (int64_t s = 0; s < n_seq; s++) {
        SLM_ASSERT(offsets[s + 1] > offsets[s] && offsets[s + 1] - offsets[s] <= e->max_seq &&
                   offsets[s + 1] - offsets[s] <= h->n_ctx_train);
        for (int64_t i = offsets[s]; i < offsets[s + 1]; i++) {
            float *x = e->x + i * E, *tmp = e->xb + i * E;
            e->seq_of[i] = (int32_t)s;
            embedding_row(&G[SLM_ROLE_TOK_EMBD], tokens[i], x);
            embedding_row(&G[SLM_ROLE_POS_EMBD], i - offsets[s], tmp);
            slm__add(x, x, tmp, E);
            if (types) { /* every token is of type 0 (single-segment input) */
                embedding_row(&G[SLM_ROLE_TOKEN_TYPES], 0, tmp);
                slm__add(x, x, tmp, E);
            }
        }
    }
    add_norm(e, pool, e->x, NULL, n, E, &G[SLM_ROLE_EMBD_NORM], &G[SLM_ROLE_EMBD_NORM_B],
             h->norm_eps);

    for (uint32_t l = 0; l < h->n_layer; l++) {
        const struct slm__bound *L = m->layers[l];
        /* Q, K and V read e->x: the first of them on the tiles packs it for the others */
        const bool q_packed = packed(e, l, SLM__ENC_Q), k_packed = packed(e, l, SLM__ENC_K);
        linear(e, pool, m, l, SLM__ENC_Q, e->x, false, n, SLM_AMX_NONE, e->q);
        linear(e, pool, m, l, SLM__ENC_K, e->x, q_packed, n, SLM_AMX_NONE, e->k);
        linear(e, pool, m, l, SLM__ENC_V, e->x, q_packed || k_packed, n, SLM_AMX_NONE, e->v);
        struct attn_job job = {.e = e, .offsets = offsets, .n_head = h->n_head,
                               .head_dim = h->head_dim,
                               .scale = 1.0f / sqrtf((float)h->head_dim), .tiled = tiled,
                               .amx = tiled && q_packed,
                               .layout = attn_layout(h, e->max_seq)};
        if (tiled) slm__chunker_init(&job.units, 0, n_seq * h->n_head, 1);
        else slm__chunker_init(&job.units, 0, n, 4);
        slm_pool_run(pool, attn_work, &job, e->nth);
        linear(e, pool, m, l, SLM__ENC_O, e->att, false, n, SLM_AMX_NONE, e->xb);
        add_norm(e, pool, e->x, e->xb, n, E, &L[SLM_ROLE_ATTN_OUT_NORM],
                 &L[SLM_ROLE_ATTN_OUT_NORM_B], h->norm_eps);

        linear(e, pool, m, l, SLM__ENC_UP, e->x, false, n,
               gelu_tanh ? SLM_AMX_GELU_TANH : SLM_AMX_GELU_ERF, e->ff);
        linear(e, pool, m, l, SLM__ENC_DOWN, e->ff, false, n, SLM_AMX_NONE, e->xb);
        add_norm(e, pool, e->x, e->xb, n, E, &L[SLM_ROLE_LAYER_OUT_NORM],
                 &L[SLM_ROLE_LAYER_OUT_NORM_B], h->norm_eps);
    }
}
