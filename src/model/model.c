/* Loading a model: map the GGUF file, validate its hyper-parameters against the architecture
 * table, and bind every weight by role so the forward passes never look names up. */
#include "model/internal.h"

#include <sys/mman.h>

struct slm_model_params slm_model_default_params(void) {
    return (struct slm_model_params){.prefault = false};
}

static void bind(struct slm__bound *b, const struct slm_gguf_tensor *t) {
    if (!t) return;
    b->w = (struct slm_weight){t->type, t->ne[1], t->ne[0], t->data};
    if (t->ne[1] == 1) b->vec = t->data;
}

/* Touches one byte per page so the weights are resident before the first request. */
static void prefault(const slm_gguf *g) {
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        const uint8_t *p = t->data;
        madvise((void *)((uintptr_t)p & ~(uintptr_t)4095), (size_t)t->n_bytes + 4096,
                MADV_WILLNEED);
        for (uint64_t off = 0; off < t->n_bytes; off += 4096) sink ^= p[off];
    }
    (void)sink;
}

slm_status slm_model_load(const char *path, const struct slm_model_params *params,
                          slm_model **out) {
    *out = NULL;
    struct slm_model_params p = params ? *params : slm_model_default_params();
    slm_model *m = slm__calloc(1, sizeof *m);
    if (!m) return slm__error(SLM_E_NOMEM, "model");
    slm_status st = slm_gguf_open(path, NULL, &m->gguf);
    if (st == SLM_OK) {
        st = slm_model_hparams_read(m->gguf, &m->h);
        if (st != SLM_OK) slm__error_prefix("%s", path);
    }
    if (st != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    m->arch = &slm__archs[m->h.arch];
    m->layers = slm__calloc(m->h.n_layer, sizeof *m->layers);
    if (!m->layers) {
        slm_model_free(m);
        return slm__error(SLM_E_NOMEM, "model layers");
    }
    for (int r = 0; r < SLM_ROLE_COUNT; r++) {
        if (m->arch->needs[r] == SLM_NEED_ABSENT) continue;
        if (r < SLM_ROLE_FIRST_LAYER) {
            bind(&m->global[r], slm__model_tensor(m->gguf, (slm_role)r, 0));
            continue;
        }
        for (uint32_t l = 0; l < m->h.n_layer; l++)
            bind(&m->layers[l][r], slm__model_tensor(m->gguf, (slm_role)r, l));
    }
    m->output = m->h.tied_output ? &m->global[SLM_ROLE_TOK_EMBD].w : &m->global[SLM_ROLE_OUTPUT].w;
    for (int64_t i = 0; i < slm_gguf_tensor_count(m->gguf); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(m->gguf, i);
        if (t->n_dims == 2 && (size_t)t->ne[0] > m->max_matmul_cols) m->max_matmul_cols = (size_t)t->ne[0];
    }
    if (p.prefault) prefault(m->gguf);
    *out = m;
    return SLM_OK;
}

void slm_model_free(slm_model *m) {
    if (!m) return;
    slm__free(m->layers);
    slm_gguf_close(m->gguf);
    slm__free(m);
}

const struct slm_model_hparams *slm_model_get_hparams(const slm_model *m) { return &m->h; }
const slm_gguf *slm_model_get_gguf(const slm_model *m) { return m->gguf; }
