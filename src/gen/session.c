/* Sessions: the KV cache and activation buffers of one conversation over a shared model, and
 * evaluation of token batches through the model's forward pass. */
#include "model/internal.h"
#include "slm/gen.h"

#include <string.h>

struct slm_session {
    const slm_model *model;
    struct slm__kv kv;
    struct slm__fwd fwd;
    slm_pool *pool;
    bool owns_pool;
    int64_t n_past;
    uint64_t bytes;
};

struct slm_session_params slm_session_default_params(void) {
    return (struct slm_session_params){.n_ctx = 0, .n_batch = 512, .kv_type = SLM_KV_F16,
                                       .n_threads = 0, .logits_all = false, .pool = NULL};
}

slm_status slm_session_create(const slm_model *m, const struct slm_session_params *params,
                              slm_session **out) {
    *out = NULL;
    struct slm_session_params p = params ? *params : slm_session_default_params();
    const struct slm_model_hparams *h = slm_model_get_hparams(m);
    if (m->arch->encoder)
        return slm__error(SLM_E_UNSUPPORTED, "%s is an encoder: it embeds, it does not generate",
                          slm_arch_name(h->arch));
    if (p.n_ctx == 0) p.n_ctx = SLM_MIN(h->n_ctx_train, SLM_DEFAULT_SERVE_CONTEXT);
    if (p.n_batch == 0 || p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    if (p.n_ctx > (1u << 22) || p.n_threads < 0 || p.n_threads > 1024)
        return slm__error(SLM_E_INVALID_ARG, "context %u or threads %d out of range", p.n_ctx,
                          p.n_threads);
    slm_session *s = slm__calloc(1, sizeof *s);
    if (!s) return slm__error(SLM_E_NOMEM, "session");
    s->model = m;
    slm_status st = SLM_OK;
    if (p.pool) {
        s->pool = p.pool;
    } else {
        st = slm_pool_create(p.n_threads ? p.n_threads : slm_cpu_count(), &s->pool);
        s->owns_pool = st == SLM_OK;
    }
    int nth = slm_pool_n_threads(s->pool);
    if (st == SLM_OK) st = slm__fwd_init(&s->fwd, m, p.n_batch, p.n_ctx, nth, p.logits_all);
    s->kv = (struct slm__kv){p.kv_type == SLM_KV_F32 ? SLM_TYPE_F32 : SLM_TYPE_F16, p.n_ctx, NULL,
                             NULL};
    size_t elem = p.kv_type == SLM_KV_F32 ? 4 : 2;
    size_t layer_bytes = (size_t)p.n_ctx * h->n_head_kv * h->head_dim * elem;
    if (st == SLM_OK) {
        s->kv.k = slm__calloc(h->n_layer, sizeof(void *));
        s->kv.v = slm__calloc(h->n_layer, sizeof(void *));
        if (!s->kv.k || !s->kv.v) st = slm__error(SLM_E_NOMEM, "KV cache");
        for (uint32_t l = 0; st == SLM_OK && l < h->n_layer; l++) {
            s->kv.k[l] = slm__aligned_alloc(layer_bytes);
            s->kv.v[l] = slm__aligned_alloc(layer_bytes);
            if (!s->kv.k[l] || !s->kv.v[l])
                st = slm__error(SLM_E_NOMEM, "KV cache of %zu bytes per layer", 2 * layer_bytes);
            else /* resident from the start, like the budget says */
                memset(s->kv.k[l], 0, layer_bytes), memset(s->kv.v[l], 0, layer_bytes);
        }
    }
    if (st != SLM_OK) {
        slm_session_free(s);
        return st;
    }
    s->bytes = 2 * (uint64_t)layer_bytes * h->n_layer +
               slm__fwd_bytes(h, m->gguf, p.n_batch, p.n_ctx, nth, p.logits_all);
    *out = s;
    return SLM_OK;
}

void slm_session_free(slm_session *s) {
    if (!s) return;
    if (s->kv.k || s->kv.v) {
        for (uint32_t l = 0; l < s->model->h.n_layer; l++) {
            if (s->kv.k) slm__aligned_free(s->kv.k[l]);
            if (s->kv.v) slm__aligned_free(s->kv.v[l]);
        }
    }
    slm__free(s->kv.k);
    slm__free(s->kv.v);
    slm__fwd_free(&s->fwd);
    if (s->owns_pool) slm_pool_free(s->pool);
    slm__free(s);
}

slm_status slm_session_eval(slm_session *s, const int32_t *tokens, size_t n, const float **logits) {
    *logits = NULL;
    const struct slm_model_hparams *h = &s->model->h;
    if (n == 0) return slm__error(SLM_E_INVALID_INPUT, "no tokens to evaluate");
    if (s->fwd.logits_all && n > (size_t)s->fwd.n_batch)
        return slm__error(SLM_E_INVALID_INPUT, "%zu tokens exceed the batch of %lld that keeps "
                          "every position's logits", n, (long long)s->fwd.n_batch);
    if (n > (size_t)(s->kv.n_ctx - s->n_past))
        return slm__error(SLM_E_CONTEXT_FULL, "%zu tokens do not fit: %lld of %lld context "
                          "positions are used", n, (long long)s->n_past, (long long)s->kv.n_ctx);
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= h->n_vocab)
            return slm__error(SLM_E_INVALID_INPUT, "token %d at %zu is outside the vocabulary of "
                              "%u", tokens[i], i, h->n_vocab);
    for (size_t done = 0; done < n;) {
        int64_t chunk = SLM_MIN((int64_t)(n - done), s->fwd.n_batch);
        slm__decoder_forward(s->model, &s->kv, &s->fwd, s->pool, tokens + done, chunk, s->n_past);
        s->n_past += chunk;
        done += (size_t)chunk;
    }
    *logits = s->fwd.logits;
    return SLM_OK;
}

uint32_t slm_session_n_past(const slm_session *s) { return (uint32_t)s->n_past; }
uint32_t slm_session_n_ctx(const slm_session *s) { return (uint32_t)s->kv.n_ctx; }
uint64_t slm_session_bytes(const slm_session *s) { return s->bytes; }

slm_status slm_session_rewind(slm_session *s, uint32_t n_past) {
    if (n_past > s->n_past)
        return slm__error(SLM_E_INVALID_ARG, "cannot rewind to %u: only %lld tokens in context",
                          n_past, (long long)s->n_past);
    s->n_past = n_past; /* later positions are overwritten before they are read */
    return SLM_OK;
}
