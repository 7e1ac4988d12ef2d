/* gguf2hf: writes the weights of a bert GGUF file as a Hugging Face BertModel folder
 * (config.json + model.safetensors, every tensor dequantized to F32), so that tests can run
 * sentence-transformers on exactly the weights slm runs, e.g. the synthetic BERT models in
 * ../shared. The tokenizer files are not written: copy a matching tokenizer.json / vocab.txt.
 *
 * usage: gguf2hf MODEL.gguf OUT_DIR */
#include "slm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* GGUF name -> Hugging Face name; "%u" is the layer. */
static const char *const names[][2] = {
    {"token_embd.weight", "embeddings.word_embeddings.weight"},
    {"position_embd.weight", "embeddings.position_embeddings.weight"},
    {"token_types.weight", "embeddings.token_type_embeddings.weight"},
    {"token_embd_norm.weight", "embeddings.LayerNorm.weight"},
    {"token_embd_norm.bias", "embeddings.LayerNorm.bias"},
    {"blk.%u.attn_q.weight", "encoder.layer.%u.attention.self.query.weight"},
    {"blk.%u.attn_q.bias", "encoder.layer.%u.attention.self.query.bias"},
    {"blk.%u.attn_k.weight", "encoder.layer.%u.attention.self.key.weight"},
    {"blk.%u.attn_k.bias", "encoder.layer.%u.attention.self.key.bias"},
    {"blk.%u.attn_v.weight", "encoder.layer.%u.attention.self.value.weight"},
    {"blk.%u.attn_v.bias", "encoder.layer.%u.attention.self.value.bias"},
    {"blk.%u.attn_output.weight", "encoder.layer.%u.attention.output.dense.weight"},
    {"blk.%u.attn_output.bias", "encoder.layer.%u.attention.output.dense.bias"},
    {"blk.%u.attn_output_norm.weight", "encoder.layer.%u.attention.output.LayerNorm.weight"},
    {"blk.%u.attn_output_norm.bias", "encoder.layer.%u.attention.output.LayerNorm.bias"},
    {"blk.%u.ffn_up.weight", "encoder.layer.%u.intermediate.dense.weight"},
    {"blk.%u.ffn_up.bias", "encoder.layer.%u.intermediate.dense.bias"},
    {"blk.%u.ffn_down.weight", "encoder.layer.%u.output.dense.weight"},
    {"blk.%u.ffn_down.bias", "encoder.layer.%u.output.dense.bias"},
    {"blk.%u.layer_output_norm.weight", "encoder.layer.%u.output.LayerNorm.weight"},
    {"blk.%u.layer_output_norm.bias", "encoder.layer.%u.output.LayerNorm.bias"},
};

struct out_tensor {
    char name[128];
    const struct slm_gguf_tensor *t;
    uint64_t offset, bytes;
};

static int fail(const char *what) {
    fprintf(stderr, "gguf2hf: %s: %s\n", what, slm_error_detail());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gguf2hf MODEL.gguf OUT_DIR\n");
        return 2;
    }
    slm_gguf *g = NULL;
    struct slm_model_hparams h;
    if (slm_gguf_open(argv[1], NULL, &g) != SLM_OK) return fail(argv[1]);
    if (slm_model_hparams_read(g, &h) != SLM_OK) return fail(argv[1]);
    if (h.arch != SLM_ARCH_BERT) {
        fprintf(stderr, "gguf2hf: %s is not a bert model\n", argv[1]);
        return 1;
    }
    mkdir(argv[2], 0755);
    size_t n_names = sizeof names / sizeof names[0], n = 0;
    struct out_tensor *ts = calloc(n_names * (h.n_layer + 1), sizeof *ts);
    uint64_t offset = 0;
    for (size_t i = 0; i < n_names; i++) {
        bool layered = strstr(names[i][0], "%u") != NULL;
        for (uint32_t l = 0; l < (layered ? h.n_layer : 1); l++) {
            char gname[128];
            snprintf(gname, sizeof gname, names[i][0], l);
            const struct slm_gguf_tensor *t = slm_gguf_find_tensor(g, gname);
            if (!t) continue;
            struct out_tensor *o = &ts[n++];
            snprintf(o->name, sizeof o->name, names[i][1], l);
            o->t = t;
            o->bytes = (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * 4;
            o->offset = offset;
            offset += o->bytes;
        }
    }
    /* safetensors: u64 header length, JSON header, data */
    size_t cap = 256 * (n + 1), at = 0;
    char *hdr = malloc(cap);
    at += (size_t)snprintf(hdr + at, cap - at, "{");
    for (size_t i = 0; i < n; i++) {
        const struct slm_gguf_tensor *t = ts[i].t;
        if (t->n_dims == 1)
            at += (size_t)snprintf(hdr + at, cap - at, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],",
                                   i ? "," : "", ts[i].name, (long long)t->ne[0]);
        else
            at += (size_t)snprintf(hdr + at, cap - at,
                                   "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],", i ? "," : "",
                                   ts[i].name, (long long)t->ne[1], (long long)t->ne[0]);
        at += (size_t)snprintf(hdr + at, cap - at, "\"data_offsets\":[%llu,%llu]}",
                               (unsigned long long)ts[i].offset,
                               (unsigned long long)(ts[i].offset + ts[i].bytes));
    }
    at += (size_t)snprintf(hdr + at, cap - at, "}");
    while (at % 8) hdr[at++] = ' ';
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", argv[2]);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint64_t hlen = at;
    fwrite(&hlen, 8, 1, f);
    fwrite(hdr, 1, at, f);
    for (size_t i = 0; i < n; i++) {
        const struct slm_gguf_tensor *t = ts[i].t;
        int64_t count = t->ne[0] * t->ne[1];
        float *buf = malloc((size_t)count * sizeof *buf);
        if (slm_type_dequantize(t->type, t->data, buf, count) != SLM_OK) return fail(t->name);
        fwrite(buf, sizeof *buf, (size_t)count, f);
        free(buf);
    }
    if (fclose(f)) {
        perror(path);
        return 1;
    }
    snprintf(path, sizeof path, "%s/config.json", argv[2]);
    f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f,
            "{\"architectures\":[\"BertModel\"],\"model_type\":\"bert\",\"hidden_size\":%u,"
            "\"num_hidden_layers\":%u,\"num_attention_heads\":%u,\"intermediate_size\":%u,"
            "\"hidden_act\":\"gelu\",\"max_position_embeddings\":%u,\"type_vocab_size\":%u,"
            "\"vocab_size\":%u,\"layer_norm_eps\":%g,\"hidden_dropout_prob\":0.0,"
            "\"attention_probs_dropout_prob\":0.0,\"pad_token_id\":0}\n",
            h.n_embd, h.n_layer, h.n_head, h.n_ff, h.n_ctx_train,
            h.n_token_types ? h.n_token_types : 2, h.n_vocab, (double)h.norm_eps);
    fclose(f);
    free(hdr);
    free(ts);
    slm_gguf_close(g);
    return 0;
}
