/* The embedder: tokenizes inputs, truncates them at the model's length, packs them into encoder
 * passes of up to n_batch tokens, and pools (mean / CLS / last) and L2-normalises each input's
 * hidden states into its vector. */
#include "model/encoder.h"
#include "slm/gen.h"

#include <math.h>
#include <string.h>

struct slm_embedder {
    const slm_model *model;
    const slm_tokenizer *tok;
    struct slm__enc enc;
    slm_pool *pool;
    bool owns_pool;
    uint32_t max_tokens;
    slm_embed_pooling pooling;
    bool normalize, gelu_tanh;
    /* the pass being filled: inputs first .. first + n_seq - 1, packed */
    int32_t *ids;     /* [n_batch] */
    int64_t *offsets; /* [n_batch + 1] */
    int64_t n_seq;
    size_t first;
    uint64_t bytes;
};

static const char *const pooling_names[] = {
    [SLM_EMBED_POOLING_MODEL] = "model",
    [SLM_EMBED_POOLING_MEAN] = "mean",
    [SLM_EMBED_POOLING_CLS] = "cls",
    [SLM_EMBED_POOLING_LAST] = "last",
};

const char *slm_embed_pooling_name(slm_embed_pooling p) {
    return (unsigned)p < SLM_ARRAY_LEN(pooling_names) ? pooling_names[p] : "?";
}

slm_status slm_embed_pooling_from_name(const char *name, slm_embed_pooling *out) {
    for (size_t i = 0; i < SLM_ARRAY_LEN(pooling_names); i++) {
        if (!strcmp(name, pooling_names[i])) {
            *out = (slm_embed_pooling)i;
            return SLM_OK;
        }
    }
    return slm__error(SLM_E_INVALID_ARG, "pooling '%s' is not one of model, mean, cls, last", name);
}

struct slm_embed_params slm_embed_default_params(void) {
    return (struct slm_embed_params){.max_tokens = 0, .n_batch = 512,
                                     .pooling = SLM_EMBED_POOLING_MODEL, .normalize = true,
                                     .gelu = SLM_GELU_ERF, .n_threads = 0, .pool = NULL};
}

static slm_embed_pooling model_pooling(const struct slm_model_hparams *h) {
    switch (h->pooling) {
    case SLM_POOLING_CLS: return SLM_EMBED_POOLING_CLS;
    case SLM_POOLING_LAST: return SLM_EMBED_POOLING_LAST;
    case SLM_POOLING_MEAN:
    case SLM_POOLING_NONE: break; /* a model that pools nothing still gets a sentence vector */
    }
    return SLM_EMBED_POOLING_MEAN;
}

slm_status slm_embedder_create(const slm_model *m, const slm_tokenizer *t,
                               const struct slm_embed_params *params, slm_embedder **out) {
    *out = NULL;
    struct slm_embed_params p = params ? *params : slm_embed_default_params();
    const struct slm_model_hparams *h = &m->h;
    if (!m->arch->encoder)
        return slm__error(SLM_E_UNSUPPORTED, "%s is a decoder: it generates, it does not embed",
                          slm_arch_name(h->arch));
    if (p.max_tokens == 0) p.max_tokens = h->n_ctx_train;
    if (p.max_tokens < 2 || p.max_tokens > h->n_ctx_train)
        return slm__error(SLM_E_INVALID_ARG, "max_tokens %u must be in 2..%u (the model's context)",
                          p.max_tokens, h->n_ctx_train);
    if (p.n_batch < p.max_tokens) p.n_batch = p.max_tokens;
    if (p.n_batch > (1u << 20) || p.n_threads < 0 || p.n_threads > 1024 ||
        (unsigned)p.pooling > SLM_EMBED_POOLING_LAST || (unsigned)p.gelu > SLM_GELU_TANH)
        return slm__error(SLM_E_INVALID_ARG, "n_batch %u, threads %d, pooling %d or gelu %d out of "
                          "range", p.n_batch, p.n_threads, (int)p.pooling, (int)p.gelu);
    slm_embedder *e = slm__calloc(1, sizeof *e);
    if (!e) return slm__error(SLM_E_NOMEM, "embedder");
    e->model = m;
    e->tok = t;
    e->max_tokens = p.max_tokens;
    e->pooling = p.pooling == SLM_EMBED_POOLING_MODEL ? model_pooling(h) : p.pooling;
    e->normalize = p.normalize;
    e->gelu_tanh = p.gelu == SLM_GELU_TANH;
    slm_status st = SLM_OK;
    if (p.pool) {
        e->pool = p.pool;
    } else {
        st = slm_pool_create(p.n_threads ? p.n_threads : slm_cpu_count(), &e->pool);
        e->owns_pool = st == SLM_OK;
    }
    int nth = st == SLM_OK ? slm_pool_n_threads(e->pool) : 1;
    if (st == SLM_OK) st = slm__enc_init(&e->enc, m, p.n_batch, p.max_tokens, nth);
    if (st == SLM_OK) {
        e->ids = slm__malloc(p.n_batch * sizeof *e->ids);
        e->offsets = slm__malloc((p.n_batch + 1) * sizeof *e->offsets);
        if (!e->ids || !e->offsets) st = slm__error(SLM_E_NOMEM, "embedder batch of %u", p.n_batch);
    }
    if (st != SLM_OK) {
        slm_embedder_free(e);
        return st;
    }
    e->bytes = slm__enc_bytes(h, m->gguf, p.n_batch, p.max_tokens, nth) +
               p.n_batch * sizeof *e->ids + (p.n_batch + 1) * sizeof *e->offsets;
    *out = e;
    return SLM_OK;
}

void slm_embedder_free(slm_embedder *e) {
    if (!e) return;
    slm__enc_free(&e->enc);
    slm__free(e->ids);
    slm__free(e->offsets);
    if (e->owns_pool) slm_pool_free(e->pool);
    slm__free(e);
}

uint32_t slm_embedder_dim(const slm_embedder *e) { return e->model->h.n_embd; }
uint32_t slm_embedder_max_tokens(const slm_embedder *e) { return e->max_tokens; }
slm_embed_pooling slm_embedder_pooling(const slm_embedder *e) { return e->pooling; }
uint64_t slm_embedder_bytes(const slm_embedder *e) { return e->bytes; }

/* ---- passes ---- */

static void pool_vector(const slm_embedder *e, int64_t begin, int64_t end, float *out) {
    const int64_t E = e->model->h.n_embd;
    const float *x = e->enc.x;
    if (e->pooling == SLM_EMBED_POOLING_MEAN) {
        for (int64_t d = 0; d < E; d++) {
            double s = 0;
            for (int64_t i = begin; i < end; i++) s += x[i * E + d];
            out[d] = (float)(s / (double)(end - begin));
        }
    } else {
        int64_t row = e->pooling == SLM_EMBED_POOLING_CLS ? begin : end - 1;
        memcpy(out, x + row * E, (size_t)E * sizeof(float));
    }
    if (!e->normalize) return;
    double ss = 0;
    for (int64_t d = 0; d < E; d++) ss += (double)out[d] * out[d];
    /* as torch.nn.functional.normalize: a zero vector stays zero */
    float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12));
    for (int64_t d = 0; d < E; d++) out[d] *= inv;
}

/* Runs the pass being filled and writes its vectors to out (all inputs' rows). */
static void flush(slm_embedder *e, float *out) {
    if (e->n_seq == 0) return;
    slm__encoder_forward(e->model, &e->enc, e->pool, e->ids, e->offsets, e->n_seq, e->gelu_tanh);
    const size_t dim = e->model->h.n_embd;
    for (int64_t s = 0; s < e->n_seq; s++)
        pool_vector(e, e->offsets[s], e->offsets[s + 1], out + (e->first + (size_t)s) * dim);
    e->first += (size_t)e->n_seq;
    e->n_seq = 0;
    e->offsets[0] = 0;
}

/* Adds input number `index` to the pass (running the pass first when it would not fit),
 * truncated to max_tokens: its first max_tokens - 1 tokens and its last one. */
static void add_input(slm_embedder *e, const int32_t *ids, size_t n, size_t index, float *out,
                      struct slm_embed_info *info) {
    size_t kept = n > e->max_tokens ? e->max_tokens : n;
    if (e->offsets[e->n_seq] + (int64_t)kept > e->enc.n_tokens) flush(e, out);
    if (e->n_seq == 0) e->first = index;
    int32_t *dst = e->ids + e->offsets[e->n_seq];
    memcpy(dst, ids, (kept - 1) * sizeof *ids);
    dst[kept - 1] = ids[n - 1];
    e->offsets[e->n_seq + 1] = e->offsets[e->n_seq] + (int64_t)kept;
    e->n_seq++;
    if (info) info[index] = (struct slm_embed_info){(uint32_t)kept, (uint32_t)n, kept < n};
}

static void begin_passes(slm_embedder *e) {
    e->n_seq = 0;
    e->first = 0;
    e->offsets[0] = 0;
}

slm_status slm_embed(slm_embedder *e, const char *const *texts, size_t n, float *out,
                     struct slm_embed_info *info) {
    if (n == 0) return SLM_OK;
    if (!texts || !out) return slm__error(SLM_E_INVALID_ARG, "texts and out must not be NULL");
    if (!e->tok) return slm__error(SLM_E_INVALID_ARG, "the embedder was made without a tokenizer");
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) return slm__error(SLM_E_INVALID_INPUT, "text %zu is NULL", i);
    begin_passes(e);
    for (size_t i = 0; i < n; i++) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        slm_status st = slm_tokenize(e->tok, texts[i], strlen(texts[i]), SLM_TOKENIZE_ADD_SPECIAL,
                                     &ids, &n_ids);
        if (st == SLM_OK && n_ids == 0)
            st = slm__error(SLM_E_INVALID_INPUT, "the tokenizer adds no [CLS]/[SEP]");
        if (st != SLM_OK) {
            slm_free(ids);
            slm__error_prefix("text %zu", i);
            return st;
        }
        for (size_t k = 0; k < n_ids; k++) {
            if (ids[k] < 0 || (uint32_t)ids[k] >= e->model->h.n_vocab) {
                slm_free(ids);
                return slm__error(SLM_E_INVALID_MODEL, "the tokenizer's id %d is outside the "
                                  "model's vocabulary of %u", ids[k], e->model->h.n_vocab);
            }
        }
        add_input(e, ids, n_ids, i, out, info);
        slm_free(ids);
    }
    flush(e, out);
    return SLM_OK;
}

slm_status slm_embed_tokens(slm_embedder *e, const int32_t *const *ids, const size_t *n_ids,
                            size_t n, float *out, struct slm_embed_info *info) {
    if (n == 0) return SLM_OK;
    if (!ids || !n_ids || !out)
        return slm__error(SLM_E_INVALID_ARG, "ids, n_ids and out must not be NULL");
    for (size_t i = 0; i < n; i++) {
        if (!ids[i] || n_ids[i] == 0)
            return slm__error(SLM_E_INVALID_INPUT, "input %zu has no tokens", i);
        for (size_t k = 0; k < n_ids[i]; k++)
            if (ids[i][k] < 0 || (uint32_t)ids[i][k] >= e->model->h.n_vocab)
                return slm__error(SLM_E_INVALID_INPUT, "input %zu: token %d at %zu is outside the "
                                  "vocabulary of %u", i, ids[i][k], k, e->model->h.n_vocab);
    }
    begin_passes(e);
    for (size_t i = 0; i < n; i++) add_input(e, ids[i], n_ids[i], i, out, info);
    flush(e, out);
    return SLM_OK;
}
