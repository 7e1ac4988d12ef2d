/* slm engine: the manager's backend over the inference engine. A loaded model is its weights,
 * its tokenizer and a fixed set of n_slots sessions (KV cache + buffers) for a generative model
 * or embedders (activation buffers for inputs up to the serving context) for an embedding model,
 * all allocated at load, so the memory a resident model holds is known and does not grow while
 * it serves. */
#ifndef SLM_ENGINE_H
#define SLM_ENGINE_H

#include "slm/gen.h"
#include "slm/manager.h"

#ifdef __cplusplus
extern "C" {
#endif

struct slm_engine_params {
    int n_threads;      /* threads of each model's pool; 0 = every CPU */
    uint32_t n_slots;   /* sessions per model (requests served at once); default 1 */
    uint32_t n_batch;   /* default 512 */
    slm_kv_type kv_type;
    bool prefault;      /* default true: weights are resident when the load returns */
};
struct slm_engine_params slm_engine_default_params(void);

/* Fills *out with the backend (estimate, load, unload) over a new engine context, owned by *out
 * and freed by slm_engine_backend_free once the manager using it is freed. */
slm_status slm_engine_backend_create(const struct slm_engine_params *params, struct slm_backend *out);
void slm_engine_backend_free(struct slm_backend *b); /* accepts a zeroed backend */

/* The handle a lease on an engine-backed model carries (slm_lease_handle). */
typedef struct slm_engine_model slm_engine_model;

/* Borrowed, valid while the lease is held. */
const slm_model *slm_engine_model_get_model(const slm_engine_model *em);
const slm_tokenizer *slm_engine_model_get_tokenizer(const slm_engine_model *em);
/* sha256 of the model file (the embedding cache keys on it): the catalog entry's when it has
 * one, else computed on the first call and remembered by the engine for that version of the
 * file (a reload does not hash again); "" if the file cannot be read. Borrowed, valid while the
 * lease is held. */
const char *slm_engine_model_digest(slm_engine_model *em);
/* Takes a free session of a generative model (reset to an empty context); SLM_E_BUSY when all
 * n_slots are in use, SLM_E_UNSUPPORTED for an embedding model. Give it back with
 * slm_engine_session_put before releasing the lease. */
slm_status slm_engine_session_take(slm_engine_model *em, slm_session **out);
void slm_engine_session_put(slm_engine_model *em, slm_session *s);

/* Floats per vector of an embedding model; 0 for a generative one. */
uint32_t slm_engine_model_embed_dim(const slm_engine_model *em);
/* Sentence embeddings of n NUL-terminated texts (borrowed for the call) into out[n][dim]
 * (caller-owned; dim = slm_engine_model_embed_dim) with one of the model's embedders, pooled and
 * normalised as the model says. cache (borrowed; NULL = none): texts found there, under the
 * model file's digest and those options, are not computed, and the computed ones are stored;
 * *n_cached (may be NULL) counts the inputs taken from it. The vectors are the same with or
 * without the cache. Call while holding the model's lease. SLM_E_UNSUPPORTED for a generative
 * model, SLM_E_BUSY when all n_slots embedders are in use, and slm_embed's errors. */
slm_status slm_engine_embed(slm_engine_model *em, slm_embed_cache *cache,
                            const char *const *texts, size_t n, float *out, size_t *n_cached);

#ifdef __cplusplus
}
#endif
#endif
