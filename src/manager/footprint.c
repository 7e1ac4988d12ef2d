/* Footprint estimates of catalog entries that have no file yet, from their published shape:
 *   kv      = n_ctx x block_count x head_count_kv x head_dim x 2 x element size x slots;
 *   scratch = 4 bytes x (n_batch x (4 x embedding_length + 2 x feed_forward_length) + n_vocab),
 *             an approximation of the session buffers that slm_model_footprint computes exactly
 *             once the file is there. */
#include "manager/internal.h"

#include <string.h>

slm_status slm__footprint_shape(const struct slm__model_shape *s, uint64_t weights,
                                uint64_t metadata, const struct slm_footprint_params *p,
                                struct slm_footprint *out) {
    memset(out, 0, sizeof *out);
    uint64_t ctx =
        p->n_ctx ? p->n_ctx : SLM_MIN(s->n_ctx_train, (uint64_t)SLM_DEFAULT_SERVE_CONTEXT);
    if (!ctx) ctx = SLM_DEFAULT_SERVE_CONTEXT;
    uint64_t elem = p->kv_type == SLM_KV_F32 ? 4 : 2, slots = p->n_slots ? p->n_slots : 1;
    uint64_t kv = 0, scratch = 0, t;
    bool ok = true;
    if (!s->encoder_only) {
        ok = slm__mul_u64(ctx, s->n_layer, &kv) && slm__mul_u64(kv, s->n_head_kv, &kv) &&
             slm__mul_u64(kv, s->head_dim, &kv) && slm__mul_u64(kv, 2, &kv) &&
             slm__mul_u64(kv, elem, &kv) && slm__mul_u64(kv, slots, &kv);
    }
    ok = ok && slm__mul_u64(s->n_embd, 4, &t) && slm__add_u64(t, 2 * s->n_ff, &t) &&
         slm__mul_u64(t, p->n_batch, &t) && slm__add_u64(t, s->n_vocab, &t) &&
         slm__mul_u64(t, 4, &scratch);
    uint64_t total;
    ok = ok && slm__add_u64(weights, kv, &total) && slm__add_u64(total, scratch, &total) &&
         slm__add_u64(total, metadata, &total);
    if (!ok) return slm__error(SLM_E_OVERFLOW, "footprint overflows 64 bits");
    *out = (struct slm_footprint){.weights = weights,
                                  .kv = kv,
                                  .scratch = scratch,
                                  .metadata = metadata,
                                  .total = total,
                                  .n_ctx = (uint32_t)ctx};
    return SLM_OK;
}
