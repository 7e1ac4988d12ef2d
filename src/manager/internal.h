/* Internal pieces shared by the manager's files: model shapes for footprint estimates of
 * entries that have no file yet (the built-in catalog), and id validation. */
#ifndef SLM_MANAGER_INTERNAL_H
#define SLM_MANAGER_INTERNAL_H

#include "core/internal.h"
#include "slm/manager.h"

/* What the footprint formula needs, from a GGUF header or a published config. */
struct slm__model_shape {
    uint64_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx_train;
    bool encoder_only; /* bert family: no KV cache kept between calls */
};

/* weights: bytes of the weights as they will be held in memory; metadata: bytes of the file's
 * header and metadata (0 when there is no file yet). */
slm_status slm__footprint_shape(const struct slm__model_shape *s, uint64_t weights,
                                uint64_t metadata, const struct slm_footprint_params *p,
                                struct slm_footprint *out);
/* Letters, digits, '.', '_', '-', ':'; 1..SLM_ID_MAX-1 bytes. */
bool slm__id_valid(const char *id);
/* Case-insensitive substring test. */
bool slm__contains_ci(const char *hay, const char *needle);

/* For the selector: bytes free or freeable in the budget (free + unleased unpinned resident),
 * and whether a model is resident. Take the manager lock. */
uint64_t slm__manager_freeable(slm_manager *m);
bool slm__manager_resident(slm_manager *m, const char *id);

#endif
