/* Loading a model: map the GGUF file, validate its hyper-parameters against the architecture
 * table, bind every weight by role so the forward passes never look names up, and optionally
 * quantize F32/F16/BF16 matrices into heap buffers (load-time quantization). */
#include "model/encoder.h"
#include "model/internal.h"
#include "slm/convert.h"

#include <sys/mman.h>

struct slm_model_params slm_model_default_params(void) {
    return (struct slm_model_params){
        .prefault = false, .load_type = SLM_LOAD_TYPE_KEEP, .n_threads = 0};
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

/* Converts the bound matrices that slm__loaded_type changes; their file pages are dropped (the
 * mapping stays valid: they would be read again only if someone looked at the stored data). */
static slm_status quantize_weights(slm_model *m, int n_threads) {
    slm_pool *pool;
    slm_status st = slm_pool_create(n_threads > 0 ? n_threads : slm_cpu_count(), &pool);
    if (st != SLM_OK) return st;
    for (int r = 0; r < SLM_ROLE_COUNT && st == SLM_OK; r++) {
        if (m->arch->needs[r] == SLM_NEED_ABSENT || slm__roles[r].shape[1] == SLM_DIM_NONE) continue;
        uint32_t n = r >= SLM_ROLE_FIRST_LAYER ? m->h.n_layer : 1;
        for (uint32_t l = 0; l < n && st == SLM_OK; l++) {
            const struct slm_gguf_tensor *t = slm__model_tensor(m->gguf, (slm_role)r, l);
            slm_type type = t ? slm__loaded_type(t, m->load_type) : SLM_TYPE_F32;
            if (!t || type == t->type) continue;
            uint64_t bytes;
            SLM_ASSERT(slm_type_nbytes(type, t->n_elements, &bytes));
            void *buf = slm__aligned_alloc((size_t)bytes);
            if (!buf) {
                st = slm__error(SLM_E_NOMEM, "%s as %s", t->name, slm_type_name(type));
                break;
            }
            m->owned[m->n_owned++] = buf;
            m->converted_bytes += t->n_bytes;
            st = slm__convert_rows(pool, type, buf, t->type, t->data, t->ne[1], t->ne[0]);
            struct slm__bound *b = r < SLM_ROLE_FIRST_LAYER ? &m->global[r] : &m->layers[l][r];
            b->w.type = type;
            b->w.data = buf;
            uintptr_t lo = ((uintptr_t)t->data + 4095) & ~(uintptr_t)4095,
                      hi = ((uintptr_t)t->data + t->n_bytes) & ~(uintptr_t)4095;
            if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
        }
    }
    slm_pool_free(pool);
    return st;
}

slm_status slm_model_load(const char *path, const struct slm_model_params *params,
                          slm_model **out) {
    *out = NULL;
    struct slm_model_params p = params ? *params : slm_model_default_params();
    if (p.load_type != SLM_LOAD_TYPE_KEEP && !slm_quant_type_writable((slm_type)p.load_type))
        return slm__error(SLM_E_INVALID_ARG, "cannot load weights as type %d (%s): a writable type "
                          "such as q8_0, q4_0 or q4_k is needed", p.load_type,
                          slm_type_name((slm_type)p.load_type));
    slm_model *m = slm__calloc(1, sizeof *m);
    if (!m) return slm__error(SLM_E_NOMEM, "model");
    m->load_type = p.load_type;
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
    if (p.prefault) prefault(m->gguf); /* before conversion, which releases converted pages */
    if (p.load_type != SLM_LOAD_TYPE_KEEP) {
        m->owned = slm__calloc((size_t)slm_gguf_tensor_count(m->gguf) + 1, sizeof *m->owned);
        st = m->owned ? quantize_weights(m, p.n_threads) : slm__error(SLM_E_NOMEM, "model");
        if (st != SLM_OK) {
            slm__error_prefix("%s", path);
            slm_model_free(m);
            return st;
        }
    }
    /* an encoder's matrices in the AMX tiles' layout, once for all its embedders */
    if (m->arch->encoder && (st = slm__enc_pack_model(m)) != SLM_OK) {
        slm__error_prefix("%s", path);
        slm_model_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}

void slm_model_free(slm_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_owned; i++) slm__aligned_free(m->owned[i]);
    slm__free(m->owned);
    slm__free(m->layers);
    slm__aligned_free(m->enc_amx);
    slm__aligned_free(m->enc_amx_data);
    slm_gguf_close(m->gguf);
    slm__free(m);
}

const struct slm_model_hparams *slm_model_get_hparams(const slm_model *m) { return &m->h; }
const slm_gguf *slm_model_get_gguf(const slm_model *m) { return m->gguf; }
uint64_t slm_model_mapped_bytes(const slm_model *m) {
    return slm_gguf_total_tensor_bytes(m->gguf) - m->converted_bytes;
}
