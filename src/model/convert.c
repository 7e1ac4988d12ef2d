/* `slm convert`: a Hugging Face model folder (config.json, safetensors, tokenizer files) to a GGUF
 * file as llama.cpp's converter writes it: hyper-parameters under the keys slm_model_hparams_read
 * reads, tensors renamed to their GGUF roles (llama Q/K rows permuted from rotary halves to
 * interleaved pairs), norms and biases F32, matrices in the requested type, the tokenizer as
 * tokenizer.* metadata. The result is re-opened and validated before it is reported done. */
#include "model/internal.h"
#include "slm/convert.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NAME 160

/* A tensor name map: Hugging Face suffix -> GGUF name (per-layer ones carry %u). */
struct name_map {
    const char *hf;
    const char *gguf;
    int permute; /* llama: 1 = Q rows (n_head), 2 = K rows (n_head_kv) */
};

static const struct name_map decoder_globals[] = {
    {"model.embed_tokens.weight", "token_embd.weight", 0},
    {"model.norm.weight", "output_norm.weight", 0},
    {"lm_head.weight", "output.weight", 0},
};
static const struct name_map decoder_layers[] = {
    {"input_layernorm.weight", "blk.%u.attn_norm.weight", 0},
    {"self_attn.q_proj.weight", "blk.%u.attn_q.weight", 1},
    {"self_attn.k_proj.weight", "blk.%u.attn_k.weight", 2},
    {"self_attn.v_proj.weight", "blk.%u.attn_v.weight", 0},
    {"self_attn.q_proj.bias", "blk.%u.attn_q.bias", 0},
    {"self_attn.k_proj.bias", "blk.%u.attn_k.bias", 0},
    {"self_attn.v_proj.bias", "blk.%u.attn_v.bias", 0},
    {"self_attn.o_proj.weight", "blk.%u.attn_output.weight", 0},
    {"post_attention_layernorm.weight", "blk.%u.ffn_norm.weight", 0},
    {"mlp.gate_proj.weight", "blk.%u.ffn_gate.weight", 0},
    {"mlp.up_proj.weight", "blk.%u.ffn_up.weight", 0},
    {"mlp.down_proj.weight", "blk.%u.ffn_down.weight", 0},
};
static const struct name_map bert_globals[] = {
    {"embeddings.word_embeddings.weight", "token_embd.weight", 0},
    {"embeddings.position_embeddings.weight", "position_embd.weight", 0},
    {"embeddings.token_type_embeddings.weight", "token_types.weight", 0},
    {"embeddings.LayerNorm.weight", "token_embd_norm.weight", 0},
    {"embeddings.LayerNorm.bias", "token_embd_norm.bias", 0},
};
static const struct name_map bert_layers[] = {
    {"attention.self.query.weight", "blk.%u.attn_q.weight", 0},
    {"attention.self.query.bias", "blk.%u.attn_q.bias", 0},
    {"attention.self.key.weight", "blk.%u.attn_k.weight", 0},
    {"attention.self.key.bias", "blk.%u.attn_k.bias", 0},
    {"attention.self.value.weight", "blk.%u.attn_v.weight", 0},
    {"attention.self.value.bias", "blk.%u.attn_v.bias", 0},
    {"attention.output.dense.weight", "blk.%u.attn_output.weight", 0},
    {"attention.output.dense.bias", "blk.%u.attn_output.bias", 0},
    {"attention.output.LayerNorm.weight", "blk.%u.attn_output_norm.weight", 0},
    {"attention.output.LayerNorm.bias", "blk.%u.attn_output_norm.bias", 0},
    {"intermediate.dense.weight", "blk.%u.ffn_up.weight", 0},
    {"intermediate.dense.bias", "blk.%u.ffn_up.bias", 0},
    {"output.dense.weight", "blk.%u.ffn_down.weight", 0},
    {"output.dense.bias", "blk.%u.ffn_down.bias", 0},
    {"output.LayerNorm.weight", "blk.%u.layer_output_norm.weight", 0},
    {"output.LayerNorm.bias", "blk.%u.layer_output_norm.bias", 0},
};

/* Per architecture family: config.json class names, tensor maps and names to leave out. */
static const struct family {
    slm_arch arch;
    const char *classes[4];
    const char *model_type;
    const char *strip;        /* optional prefix of every name (BertForMaskedLM: "bert.") */
    const char *layer_prefix; /* then "<n>." and a per-layer suffix */
    const struct name_map *globals, *layers;
    size_t n_globals, n_layers;
    const char *skip[4]; /* name prefixes without a GGUF counterpart */
} families[] = {
    {SLM_ARCH_LLAMA,
     {"LlamaForCausalLM", "LlamaModel"},
     "llama",
     NULL,
     "model.layers.",
     decoder_globals,
     decoder_layers,
     SLM_ARRAY_LEN(decoder_globals),
     SLM_ARRAY_LEN(decoder_layers),
     {".rotary_emb.inv_freq"}},
    {SLM_ARCH_QWEN2,
     {"Qwen2ForCausalLM", "Qwen2Model"},
     "qwen2",
     NULL,
     "model.layers.",
     decoder_globals,
     decoder_layers,
     SLM_ARRAY_LEN(decoder_globals),
     SLM_ARRAY_LEN(decoder_layers),
     {".rotary_emb.inv_freq"}},
    {SLM_ARCH_BERT,
     {"BertModel", "BertForMaskedLM", "BertForPreTraining"},
     "bert",
     "bert.",
     "encoder.layer.",
     bert_globals,
     bert_layers,
     SLM_ARRAY_LEN(bert_globals),
     SLM_ARRAY_LEN(bert_layers),
     {"embeddings.position_ids", "pooler.", "cls."}},
};

struct pending;

struct conv {
    const char *dir;
    struct slm_convert_params p;
    const struct family *fam;
    cJSON *cfg;
    slm_safetensors *st;
    slm_gguf_writer *w;
    slm_pool *pool;
    struct pending *pend; /* per safetensors tensor, for the writer's fill calls */
    uint32_t n_layer, n_head, n_head_kv, n_embd;
    bool tied;
    struct slm_convert_report *rep;
};

/* ---- config.json ---- */

static slm_status cfg_num(const cJSON *cfg, const char *key, bool required, double dflt, double lo,
                          double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return slm__error(SLM_E_INVALID_MODEL, "config.json: '%s' is missing", key);
        *out = dflt;
        return SLM_OK;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return slm__error(SLM_E_INVALID_MODEL, "config.json: '%s' must be a number in %g..%g", key,
                          lo, hi);
    *out = v->valuedouble;
    return SLM_OK;
}

static slm_status cfg_u32(const cJSON *cfg, const char *key, bool required, uint32_t dflt,
                          uint32_t *out) {
    double d = 0;
    slm_status st = cfg_num(cfg, key, required, dflt, 1, 1u << 30, &d);
    if (st != SLM_OK) return st;
    if (d != floor(d))
        return slm__error(SLM_E_INVALID_MODEL, "config.json: '%s' must be an integer", key);
    *out = (uint32_t)d;
    return SLM_OK;
}

static bool cfg_true(const cJSON *cfg, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, key));
}

static slm_status read_config(struct conv *c) {
    size_t l = strlen(c->dir) + 32;
    char *path = slm__malloc(l);
    if (!path) return slm__error(SLM_E_NOMEM, "config.json");
    snprintf(path, l, "%s/config.json", c->dir);
    slm_mapping m;
    slm_status st = slm__map_file(path, &m);
    slm__free(path);
    if (st != SLM_OK) return st;
    c->cfg = cJSON_ParseWithLength(m.data ? (const char *)m.data : "", (size_t)m.size);
    slm__unmap(&m);
    if (!cJSON_IsObject(c->cfg))
        return slm__error(SLM_E_INVALID_MODEL, "config.json: not a JSON object");
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(c->cfg, "architectures");
    const cJSON *cls = cJSON_GetArrayItem(archs, 0);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c->cfg, "model_type");
    for (size_t f = 0; f < SLM_ARRAY_LEN(families) && !c->fam; f++) {
        for (int k = 0; k < 4 && families[f].classes[k]; k++)
            if (cJSON_IsString(cls) && !strcmp(cls->valuestring, families[f].classes[k]))
                c->fam = &families[f];
        if (!cJSON_IsString(cls) && cJSON_IsString(mt) &&
            !strcmp(mt->valuestring, families[f].model_type))
            c->fam = &families[f];
    }
    if (!c->fam)
        return slm__error(SLM_E_UNSUPPORTED,
                          "config.json: architecture '%s' is not supported "
                          "(LlamaForCausalLM, Qwen2ForCausalLM, BertModel)",
                          cJSON_IsString(cls)  ? cls->valuestring
                          : cJSON_IsString(mt) ? mt->valuestring
                                               : "?");
    return SLM_OK;
}

static slm_status set_u32(struct conv *c, const char *suffix, uint32_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", slm_arch_name(c->fam->arch), suffix);
    return slm_gguf_writer_set_u32(c->w, key, v);
}

static slm_status set_f32(struct conv *c, const char *suffix, double v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", slm_arch_name(c->fam->arch), suffix);
    return slm_gguf_writer_set_f32(c->w, key, (float)v);
}

static const char *base_name(const char *dir) {
    size_t l = strlen(dir);
    while (l > 1 && dir[l - 1] == '/') l--;
    const char *b = dir + l;
    while (b > dir && b[-1] != '/') b--;
    return b;
}

/* 1_Pooling/config.json of a sentence-transformers folder (also found flattened). */
static slm_status pooling_type(const struct conv *c, uint32_t *out) {
    static const char *const files[] = {"1_Pooling/config.json", "1_Pooling_config.json"};
    static const struct {
        const char *key;
        slm_pooling pooling;
    } modes[] = {{"pooling_mode_mean_tokens", SLM_POOLING_MEAN},
                 {"pooling_mode_cls_token", SLM_POOLING_CLS},
                 {"pooling_mode_lasttoken", SLM_POOLING_LAST}};
    *out = UINT32_MAX;
    for (size_t f = 0; f < SLM_ARRAY_LEN(files) && *out == UINT32_MAX; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", c->dir, files[f]);
        slm_mapping m;
        if (slm__map_file(path, &m) != SLM_OK) continue;
        cJSON *j = cJSON_ParseWithLength(m.data ? (const char *)m.data : "", (size_t)m.size);
        slm__unmap(&m);
        for (size_t k = 0; k < SLM_ARRAY_LEN(modes); k++)
            if (cfg_true(j, modes[k].key)) *out = modes[k].pooling;
        bool other = cfg_true(j, "pooling_mode_max_tokens") ||
                     cfg_true(j, "pooling_mode_mean_sqrt_len_tokens");
        cJSON_Delete(j);
        if (*out == UINT32_MAX || other)
            return slm__error(SLM_E_UNSUPPORTED,
                              "%s: only mean, CLS and last-token pooling are "
                              "supported",
                              path);
    }
    slm_error_clear();
    return SLM_OK;
}

static slm_status write_hparams_decoder(struct conv *c) {
    const cJSON *cfg = c->cfg;
    uint32_t ctx = 0, ff = 0, vocab = 0, head_dim = 0;
    double theta = 0, eps = 0;
    slm_status st;
    if ((st = cfg_u32(cfg, "max_position_embeddings", true, 0, &ctx)) ||
        (st = cfg_u32(cfg, "intermediate_size", true, 0, &ff)) ||
        (st = cfg_u32(cfg, "vocab_size", true, 0, &vocab)) ||
        (st = cfg_num(cfg, "rope_theta", false, 10000.0, 1.0, 1e9, &theta)) ||
        (st = cfg_num(cfg, "rms_norm_eps", false, 1e-6, 0, 1, &eps)) ||
        (st = cfg_u32(cfg, "head_dim", false, c->n_embd / c->n_head, &head_dim)))
        return st;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_act");
    if (act && !(cJSON_IsString(act) && !strcmp(act->valuestring, "silu")))
        return slm__error(SLM_E_UNSUPPORTED, "config.json: hidden_act must be silu");
    if (c->fam->arch == SLM_ARCH_LLAMA &&
        (cfg_true(cfg, "attention_bias") || cfg_true(cfg, "mlp_bias")))
        return slm__error(SLM_E_UNSUPPORTED, "config.json: llama with attention or MLP biases");
    if (cfg_true(cfg, "use_sliding_window"))
        return slm__error(SLM_E_UNSUPPORTED, "config.json: sliding-window attention");
    /* RoPE: "rope_theta" and "rope_scaling" (transformers 4), or "rope_parameters" (5). */
    const cJSON *rope = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    if (!rope || cJSON_IsNull(rope))
        rope = cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters");
    if (!cJSON_GetObjectItemCaseSensitive(cfg, "rope_theta") && cJSON_IsObject(rope) &&
        (st = cfg_num(rope, "rope_theta", false, 10000.0, 1.0, 1e9, &theta)))
        return st;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rope, "rope_type");
    if (!type) type = cJSON_GetObjectItemCaseSensitive(rope, "type");
    bool linear = cJSON_IsString(type) && !strcmp(type->valuestring, "linear");
    double factor = 1.0;
    if (rope && !cJSON_IsNull(rope) && !linear &&
        !(cJSON_IsString(type) && !strcmp(type->valuestring, "default")))
        return slm__error(SLM_E_UNSUPPORTED,
                          "config.json: RoPE scaling '%s' is not supported "
                          "(default and linear are)",
                          cJSON_IsString(type) ? type->valuestring : "?");
    if (linear && (st = cfg_num(rope, "factor", true, 1, 1e-3, 1e3, &factor))) return st;
    if ((st = set_u32(c, "context_length", ctx)) ||
        (st = set_u32(c, "embedding_length", c->n_embd)) ||
        (st = set_u32(c, "feed_forward_length", ff)) ||
        (st = set_u32(c, "attention.head_count", c->n_head)) ||
        (st = set_u32(c, "attention.head_count_kv", c->n_head_kv)) ||
        (st = set_f32(c, "rope.freq_base", theta)) ||
        (st = set_f32(c, "attention.layer_norm_rms_epsilon", eps)) ||
        (st = slm_gguf_writer_set_u32(c->w, "general.file_type", slm__file_type(c->p.type))) ||
        (st = set_u32(c, "vocab_size", vocab)) ||
        (st = set_u32(c, "rope.dimension_count", head_dim)))
        return st;
    if (head_dim * c->n_head != c->n_embd &&
        ((st = set_u32(c, "attention.key_length", head_dim)) ||
         (st = set_u32(c, "attention.value_length", head_dim))))
        return st;
    if (linear) {
        char key[64];
        snprintf(key, sizeof key, "%s.rope.scaling.type", slm_arch_name(c->fam->arch));
        if ((st = slm_gguf_writer_set_str(c->w, key, "linear")) ||
            (st = set_f32(c, "rope.scaling.factor", factor)))
            return st;
    }
    return SLM_OK;
}

static slm_status write_hparams_bert(struct conv *c) {
    const cJSON *cfg = c->cfg;
    uint32_t ctx = 0, ff = 0, types = 0, pooling = 0;
    double eps = 0;
    slm_status st;
    if ((st = cfg_u32(cfg, "max_position_embeddings", true, 0, &ctx)) ||
        (st = cfg_u32(cfg, "intermediate_size", true, 0, &ff)) ||
        (st = cfg_u32(cfg, "type_vocab_size", false, 2, &types)) ||
        (st = cfg_num(cfg, "layer_norm_eps", false, 1e-12, 0, 1, &eps)) ||
        (st = pooling_type(c, &pooling)))
        return st;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_act");
    if (act && !(cJSON_IsString(act) && !strcmp(act->valuestring, "gelu")))
        return slm__error(SLM_E_UNSUPPORTED, "config.json: hidden_act must be gelu");
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(cfg, "position_embedding_type");
    if (pos && !(cJSON_IsString(pos) && !strcmp(pos->valuestring, "absolute")))
        return slm__error(SLM_E_UNSUPPORTED, "config.json: position embeddings must be absolute");
    if ((st = set_u32(c, "context_length", ctx)) ||
        (st = set_u32(c, "embedding_length", c->n_embd)) ||
        (st = set_u32(c, "feed_forward_length", ff)) ||
        (st = set_u32(c, "block_count", c->n_layer)) ||
        (st = set_u32(c, "attention.head_count", c->n_head)) ||
        (st = set_f32(c, "attention.layer_norm_epsilon", eps)) ||
        (st = slm_gguf_writer_set_bool(c->w, "bert.attention.causal", false)) ||
        (pooling != UINT32_MAX && (st = set_u32(c, "pooling_type", pooling))) ||
        (st = slm_gguf_writer_set_u32(c->w, "tokenizer.ggml.token_type_count", types)) ||
        (st = slm_gguf_writer_set_u32(c->w, "general.file_type", slm__file_type(c->p.type))))
        return st;
    return SLM_OK;
}

static slm_status write_hparams(struct conv *c) {
    slm_status st;
    if ((st = cfg_u32(c->cfg, "hidden_size", true, 0, &c->n_embd)) ||
        (st = cfg_u32(c->cfg, "num_hidden_layers", true, 0, &c->n_layer)) ||
        (st = cfg_u32(c->cfg, "num_attention_heads", true, 0, &c->n_head)) ||
        (st = cfg_u32(c->cfg, "num_key_value_heads", false, c->n_head, &c->n_head_kv)))
        return st;
    if (c->n_layer > 4096 || c->n_head_kv > c->n_head || c->n_embd % c->n_head)
        return slm__error(SLM_E_INVALID_MODEL,
                          "config.json: inconsistent sizes (%u layers, "
                          "hidden %u, %u heads, %u kv heads)",
                          c->n_layer, c->n_embd, c->n_head, c->n_head_kv);
    c->tied = cfg_true(c->cfg, "tie_word_embeddings");
    const char *arch = slm_arch_name(c->fam->arch);
    if ((st = slm_gguf_writer_set_str(c->w, "general.architecture", arch)) ||
        (st = slm_gguf_writer_set_str(c->w, "general.name", base_name(c->dir))))
        return st;
    if (c->fam->arch != SLM_ARCH_BERT && (st = set_u32(c, "block_count", c->n_layer))) return st;
    return c->fam->arch == SLM_ARCH_BERT ? write_hparams_bert(c) : write_hparams_decoder(c);
}

/* ---- tensors ---- */

/* GGUF name of a Hugging Face tensor: SLM_OK with *map NULL for names to leave out. */
static slm_status map_name(const struct conv *c, const char *hf, char gguf[MAX_NAME],
                           const struct name_map **map, uint32_t *layer) {
    const struct family *f = c->fam;
    *map = NULL;
    if (f->strip && !strncmp(hf, f->strip, strlen(f->strip))) hf += strlen(f->strip);
    for (int k = 0; k < 4 && f->skip[k]; k++)
        if (strstr(hf, f->skip[k]) == hf || (f->skip[k][0] == '.' && strstr(hf, f->skip[k])))
            return SLM_OK;
    char name[MAX_NAME];
    snprintf(name, sizeof name, "%s", hf);
    size_t l = strlen(name); /* old BERT checkpoints name LayerNorm parameters gamma / beta */
    if (l > 6 && !strcmp(name + l - 6, ".gamma"))
        snprintf(name + l - 6, sizeof name - (l - 6), ".weight");
    if (l > 5 && !strcmp(name + l - 5, ".beta"))
        snprintf(name + l - 5, sizeof name - (l - 5), ".bias");
    size_t pl = strlen(f->layer_prefix);
    if (!strncmp(name, f->layer_prefix, pl)) {
        char *end;
        unsigned long n = strtoul(name + pl, &end, 10);
        if (end != name + pl && *end == '.' && n < c->n_layer) {
            for (size_t k = 0; k < f->n_layers; k++) {
                if (!strcmp(end + 1, f->layers[k].hf)) {
                    *layer = (uint32_t)n;
                    *map = &f->layers[k];
                    snprintf(gguf, MAX_NAME, f->layers[k].gguf, *layer);
                    return SLM_OK;
                }
            }
        }
    } else {
        for (size_t k = 0; k < f->n_globals; k++) {
            if (!strcmp(name, f->globals[k].hf)) {
                *map = &f->globals[k];
                snprintf(gguf, MAX_NAME, "%s", f->globals[k].gguf);
                return SLM_OK;
            }
        }
    }
    return slm__error(SLM_E_UNSUPPORTED, "tensor '%s' has no GGUF counterpart for %s", hf,
                      slm_arch_name(f->arch));
}

/* llama.cpp's permutation of llama Q/K rows: within each head, HF keeps the two rotary halves
 * apart (row i and i + d/2 rotate together); GGUF llama interleaves them (rows 2i and 2i + 1). */
static void permute_rows(uint8_t *dst, const uint8_t *src, int64_t rows, size_t row_bytes,
                         uint32_t n_head) {
    int64_t hd = rows / n_head, half = hd / 2;
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy(dst + (size_t)(h * hd + 2 * i + j) * row_bytes,
                       src + (size_t)(h * hd + j * half + i) * row_bytes, row_bytes);
}

/* A tensor converted while the file is written (slm_gguf_writer_add_tensor_fn). */
struct pending {
    slm_pool *pool;
    const struct slm_safetensors_tensor *t;
    slm_type type;
    int64_t ne[2];
    uint32_t permute_heads; /* 0: rows kept in order */
};

static slm_status fill_tensor(void *ctx, void *dst, uint64_t n_bytes) {
    (void)n_bytes;
    const struct pending *p = ctx;
    const void *src = p->t->data;
    void *perm = NULL;
    if (p->permute_heads) {
        if (!(perm = slm__aligned_alloc((size_t)p->t->n_bytes)))
            return slm__error(SLM_E_NOMEM, "tensor '%s'", p->t->name);
        permute_rows(perm, src, p->ne[1], (size_t)(p->t->n_bytes / (uint64_t)p->ne[1]),
                     p->permute_heads);
        src = perm;
    }
    slm_status st = slm__convert_rows(p->pool, p->type, dst, p->t->type, src, p->ne[1], p->ne[0]);
    slm__aligned_free(perm);
    if (st != SLM_OK) slm__error_prefix("tensor '%s'", p->t->name);
    return st;
}

static slm_status add_tensor(struct conv *c, struct pending *pend,
                             const struct slm_safetensors_tensor *t, const char *name,
                             const struct name_map *map) {
    if (t->type != SLM_TYPE_F32 && t->type != SLM_TYPE_F16 && t->type != SLM_TYPE_BF16)
        return slm__error(SLM_E_UNSUPPORTED, "tensor '%s' has type %s (F32, F16 or BF16 needed)",
                          t->name, slm_type_name(t->type));
    if (t->n_dims < 1 || t->n_dims > 2 || t->n_elements == 0)
        return slm__error(SLM_E_INVALID_MODEL, "tensor '%s' has %u dimensions", t->name, t->n_dims);
    *pend = (struct pending){
        .pool = c->pool, .t = t, .ne = {t->shape[t->n_dims - 1], t->n_dims == 2 ? t->shape[0] : 1}};
    const int64_t *ne = pend->ne;
    bool matrix = t->n_dims == 2 && strcmp(name, "position_embd.weight") &&
                  strcmp(name, "token_types.weight");
    pend->type = matrix ? slm_quant_type_for_row(c->p.type, ne[0]) : SLM_TYPE_F32;
    if (pend->type != c->p.type && matrix && !c->p.fallback)
        return slm__error(SLM_E_INVALID_ARG,
                          "tensor '%s' has rows of %lld elements, not a "
                          "multiple of the %s block (%lld); allow a fallback type (%s) to "
                          "convert it",
                          name, (long long)ne[0], slm_type_name(c->p.type),
                          (long long)slm_type_block_size(c->p.type), slm_type_name(pend->type));
    if (map->permute && c->fam->arch == SLM_ARCH_LLAMA) {
        pend->permute_heads = map->permute == 1 ? c->n_head : c->n_head_kv;
        if (t->n_dims != 2 || ne[1] % (2 * pend->permute_heads))
            return slm__error(SLM_E_INVALID_MODEL,
                              "tensor '%s' has %lld rows, not a whole number "
                              "of rotary pairs for %u heads",
                              t->name, (long long)ne[1], pend->permute_heads);
    }
    uint64_t n_bytes;
    SLM_ASSERT(slm_type_nbytes(pend->type, t->n_elements, &n_bytes));
    slm_status st =
        pend->type == t->type && !pend->permute_heads
            ? slm_gguf_writer_add_tensor(c->w, name, t->type, t->n_dims, ne, t->data, n_bytes)
            : slm_gguf_writer_add_tensor_fn(c->w, name, pend->type, t->n_dims, ne, n_bytes,
                                            fill_tensor, pend);
    c->rep->n_tensors++;
    c->rep->n_params += t->n_elements;
    c->rep->tensor_bytes += n_bytes;
    if (!strcmp(name, "token_embd.weight")) c->rep->n_vocab = (int32_t)SLM_MIN(ne[1], INT32_MAX);
    return st;
}

static slm_status add_tensors(struct conv *c) {
    int64_t n = slm_safetensors_count(c->st);
    if (!(c->pend = slm__calloc((size_t)n + 1, sizeof *c->pend)))
        return slm__error(SLM_E_NOMEM, "convert");
    bool has_embd = false, has_head = false;
    for (int64_t i = 0; i < n; i++) {
        const char *hf = slm_safetensors_tensor(c->st, i)->name;
        has_embd |= !strcmp(hf, "model.embed_tokens.weight");
        has_head |= !strcmp(hf, "lm_head.weight");
    }
    for (int64_t i = 0; i < n; i++) {
        const struct slm_safetensors_tensor *t = slm_safetensors_tensor(c->st, i);
        char name[MAX_NAME];
        const struct name_map *map;
        uint32_t layer = 0;
        slm_status st = map_name(c, t->name, name, &map, &layer);
        if (st != SLM_OK) return st;
        if (!map) continue;
        /* Tied: the output matrix is the embedding, which some checkpoints store only as
         * lm_head.weight. */
        if (c->tied && !strcmp(name, "output.weight")) {
            if (has_embd) continue;
            snprintf(name, sizeof name, "token_embd.weight");
        }
        if ((st = add_tensor(c, &c->pend[i], t, name, map)) != SLM_OK) return st;
    }
    if (c->fam->arch != SLM_ARCH_BERT && !has_embd && !(c->tied && has_head))
        return slm__error(SLM_E_INVALID_MODEL, "no model.embed_tokens.weight");
    return SLM_OK;
}

/* Re-opens the written file as slm will load it: hyper-parameters, shapes, tokenizer. */
static slm_status validate(const char *path, struct slm_convert_report *rep) {
    slm_gguf *g;
    slm_status st = slm_gguf_open(path, NULL, &g);
    if (st != SLM_OK) return st;
    struct slm_model_hparams h;
    slm_tokenizer *tok = NULL;
    st = slm_model_hparams_read(g, &h);
    if (st == SLM_OK) st = slm_tokenizer_from_gguf(g, &tok);
    if (st == SLM_OK) {
        rep->arch = h.arch;
        if (slm_tokenizer_n_vocab(tok) != (int32_t)h.n_vocab)
            st = slm__error(SLM_E_INVALID_MODEL,
                            "the tokenizer has %d tokens, the embedding %u rows",
                            slm_tokenizer_n_vocab(tok), h.n_vocab);
    }
    slm_tokenizer_free(tok);
    slm_gguf_close(g);
    return st;
}

struct slm_convert_params slm_convert_default_params(void) {
    return (struct slm_convert_params){.type = SLM_TYPE_F32, .fallback = false, .n_threads = 0};
}

slm_status slm_convert_hf(const char *dir, const char *out_path,
                          const struct slm_convert_params *params,
                          struct slm_convert_report *report) {
    struct slm_convert_report local;
    struct conv c = {.dir = dir, .rep = report ? report : &local};
    memset(c.rep, 0, sizeof *c.rep);
    c.p = params ? *params : slm_convert_default_params();
    if (!slm_quant_type_writable(c.p.type))
        return slm__error(SLM_E_INVALID_ARG,
                          "cannot convert to %s (supported: f32, f16, bf16, "
                          "q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k)",
                          slm_type_name(c.p.type));
    slm_status st = read_config(&c);
    if (st == SLM_OK) st = slm_safetensors_open(dir, &c.st);
    if (st == SLM_OK) st = slm_gguf_writer_create(&c.w);
    if (st == SLM_OK)
        st = slm_pool_create(c.p.n_threads > 0 ? c.p.n_threads : slm_cpu_count(), &c.pool);
    if (st == SLM_OK) st = write_hparams(&c);
    if (st == SLM_OK) st = add_tensors(&c);
    if (st == SLM_OK) st = slm_convert_tokenizer_hf(dir, c.rep->n_vocab, c.w, &c.rep->tokenizer);
    if (st == SLM_OK) st = slm_gguf_writer_set_u32(c.w, "general.quantization_version", 2);
    if (st == SLM_OK) st = slm_gguf_writer_write_file(c.w, out_path);
    if (st == SLM_OK && (st = validate(out_path, c.rep)) != SLM_OK) {
        slm__error_prefix("converted file failed validation");
        unlink(out_path);
    }
    if (st != SLM_OK) slm__error_prefix("%s", dir);
    slm__free(c.pend);
    slm_pool_free(c.pool);
    slm_gguf_writer_free(c.w);
    slm_safetensors_close(c.st);
    cJSON_Delete(c.cfg);
    return st;
}
