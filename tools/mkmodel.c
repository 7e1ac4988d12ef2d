/* mkmodel: writes a llama-architecture GGUF with random (fan-in scaled, seeded) weights and a
 * small SentencePiece-style vocabulary (byte tokens + printable pieces), for tests, benchmarks and
 * `make run` when no real model is at hand. Shapes are flags (default: a stories260K-sized model);
 * e.g. a SmolLM2-135M shape: --dim 576 --layers 30 --heads 9 --kv-heads 3 --ffn 1536 --vocab 49152
 * --tied. --type quantizes every matrix (the token embedding too, which is also the output matrix
 * when --tied) from the same random F32 values; a matrix whose rows do not fit the type gets
 * llama.cpp's fallback type (e.g. q4_k rows of 576 become q5_0), as slm quantize --fallback does. */
#include "slm.h"
#include "slm/convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

struct shape {
    int64_t dim, layers, heads, kv_heads, ffn, vocab, ctx;
    uint64_t seed;
    bool tied;
    slm_type type;
};

static uint64_t rng_state;
static float frand(void) { /* xorshift64*, uniform in [-1, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

static float *matrix(int64_t cols, int64_t rows, float scale) {
    float *m = malloc((size_t)(cols * rows) * sizeof *m);
    if (!m) {
        fprintf(stderr, "mkmodel: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < cols * rows; i++) m[i] = frand() * scale;
    return m;
}

static float *ones(int64_t n) {
    float *m = malloc((size_t)n * sizeof *m);
    for (int64_t i = 0; i < n; i++) m[i] = 1.0f;
    return m;
}

/* Adds a tensor; matrices are converted to `type` (or its fallback) in place of the floats,
 * which the buffer is large enough for. */
static int add(slm_gguf_writer *w, const char *name, float *data, int64_t cols, int64_t rows,
               slm_type want) {
    int64_t ne[2] = {cols, rows};
    slm_type type = rows > 1 ? slm_quant_type_for_row(want, cols) : SLM_TYPE_F32;
    uint64_t n_bytes = 0;
    slm_status st = SLM_OK;
    slm_type_nbytes(type, (uint64_t)(cols * rows), &n_bytes);
    if (type != SLM_TYPE_F32) {
        void *q = malloc((size_t)n_bytes);
        st = q ? slm_type_quantize(type, data, q, cols * rows) : SLM_E_NOMEM;
        if (st == SLM_OK) memcpy(data, q, (size_t)n_bytes);
        free(q);
    }
    if (st == SLM_OK)
        st = slm_gguf_writer_add_tensor(w, name, type, rows > 1 ? 2 : 1, ne, data, n_bytes);
    if (st != SLM_OK) fprintf(stderr, "mkmodel: %s: %s\n", name, slm_error_detail());
    return st;
}

/* <unk> <s> </s>, the 256 byte tokens, then printable pieces ("▁a", "b", ...) up to vocab. */
static char **vocabulary(int64_t n, float **scores, int32_t **types) {
    char **tok = calloc((size_t)n, sizeof *tok);
    *scores = calloc((size_t)n, sizeof **scores);
    *types = calloc((size_t)n, sizeof **types);
    const char *special[] = {"<unk>", "<s>", "</s>"};
    for (int64_t i = 0; i < n; i++) {
        char buf[64];
        if (i < 3) {
            snprintf(buf, sizeof buf, "%s", special[i]);
            (*types)[i] = i == 0 ? 2 : 3; /* unknown, control */
        } else if (i < 3 + 256) {
            snprintf(buf, sizeof buf, "<0x%02X>", (unsigned)(i - 3));
            (*types)[i] = 6; /* byte */
        } else {
            int64_t k = i - 259;
            char c = (char)('a' + k % 26);
            if (k < 26) snprintf(buf, sizeof buf, "%c", c);
            else snprintf(buf, sizeof buf, "\xe2\x96\x81%c%lld", c, (long long)(k / 26));
            (*types)[i] = 1; /* normal */
        }
        (*scores)[i] = -(float)i;
        tok[i] = strdup(buf);
    }
    return tok;
}

static int usage(void) {
    fprintf(stderr, "usage: mkmodel OUT.gguf [--dim N] [--layers N] [--heads N] [--kv-heads N] "
                    "[--ffn N] [--vocab N] [--ctx N] [--seed N] [--tied] [--type f32|f16|bf16|q8_0|q4_0|"
                    "q4_1|q5_0|q5_1|q4_k|q5_k|q6_k]\n");
    return 2;
}

int main(int argc, char **argv) {
    struct shape s = {64, 5, 8, 4, 172, 512, 512, 1, false, SLM_TYPE_F32};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        int64_t *field = NULL;
        if (!strcmp(argv[i], "--dim")) field = &s.dim;
        else if (!strcmp(argv[i], "--layers")) field = &s.layers;
        else if (!strcmp(argv[i], "--heads")) field = &s.heads;
        else if (!strcmp(argv[i], "--kv-heads")) field = &s.kv_heads;
        else if (!strcmp(argv[i], "--ffn")) field = &s.ffn;
        else if (!strcmp(argv[i], "--vocab")) field = &s.vocab;
        else if (!strcmp(argv[i], "--ctx")) field = &s.ctx;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) s.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--tied")) s.tied = true;
        else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            if (slm_type_from_name(argv[++i], &s.type) != SLM_OK ||
                !slm_quant_type_writable(s.type)) {
                fprintf(stderr, "mkmodel: cannot write type '%s'\n", argv[i]);
                return 2;
            }
        }
        else if (argv[i][0] != '-' && !out) out = argv[i];
        else return usage();
        if (field) {
            if (i + 1 >= argc) return usage();
            *field = strtoll(argv[++i], NULL, 10);
        }
    }
    if (!out || s.dim <= 0 || s.layers <= 0 || s.heads <= 0 || s.kv_heads <= 0 ||
        s.heads % s.kv_heads || s.dim % s.heads || s.ffn <= 0 || s.vocab < 260 || s.ctx <= 0)
        return usage();
    rng_state = s.seed * 0x9E3779B97F4A7C15ull + 1;
    int64_t head_dim = s.dim / s.heads, kv_dim = head_dim * s.kv_heads;

    slm_gguf_writer *w = NULL;
    if (slm_gguf_writer_create(&w) != SLM_OK) return 1;
    slm_gguf_writer_set_str(w, "general.architecture", "llama");
    slm_gguf_writer_set_str(w, "general.name", "slm-mkmodel-random");
    slm_gguf_writer_set_u32(w, "llama.context_length", (uint32_t)s.ctx);
    slm_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)s.dim);
    slm_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)s.layers);
    slm_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)s.ffn);
    slm_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)head_dim);
    slm_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)s.heads);
    slm_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)s.kv_heads);
    slm_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    slm_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    static const uint32_t file_type[SLM_TYPE_COUNT] = {
        [SLM_TYPE_F16] = 1,  [SLM_TYPE_Q4_0] = 2,  [SLM_TYPE_Q4_1] = 3,  [SLM_TYPE_Q8_0] = 7,
        [SLM_TYPE_Q5_0] = 8, [SLM_TYPE_Q5_1] = 9,  [SLM_TYPE_Q4_K] = 14, [SLM_TYPE_Q5_K] = 16,
        [SLM_TYPE_Q6_K] = 18, [SLM_TYPE_BF16] = 32};
    slm_gguf_writer_set_u32(w, "general.file_type", file_type[s.type]);
    float *scores;
    int32_t *types;
    char **tok = vocabulary(s.vocab, &scores, &types);
    slm_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, (uint64_t)s.vocab);
    slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, scores, (uint64_t)s.vocab);
    slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_INT32, types, (uint64_t)s.vocab);
    slm_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    slm_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    slm_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);

    float in_scale = 1.0f / sqrtf((float)s.dim), ffn_scale = 1.0f / sqrtf((float)s.ffn);
    int rc = 0;
    float **owned = calloc((size_t)(4 + 9 * s.layers), sizeof *owned);
    int n_owned = 0;
#define ADD(name, expr, cols, rows) rc |= add(w, name, owned[n_owned++] = (expr), cols, rows, s.type)
    ADD("token_embd.weight", matrix(s.dim, s.vocab, 1.0f), s.dim, s.vocab);
    ADD("output_norm.weight", ones(s.dim), s.dim, 1);
    if (!s.tied) ADD("output.weight", matrix(s.dim, s.vocab, in_scale), s.dim, s.vocab);
    for (int64_t l = 0; l < s.layers; l++) {
        char name[64];
#define LAYER(suffix, expr, cols, rows)                                                            \
    snprintf(name, sizeof name, "blk.%lld." suffix, (long long)l);                                 \
    ADD(name, expr, cols, rows)
        LAYER("attn_norm.weight", ones(s.dim), s.dim, 1);
        LAYER("attn_q.weight", matrix(s.dim, s.dim, in_scale), s.dim, s.dim);
        LAYER("attn_k.weight", matrix(s.dim, kv_dim, in_scale), s.dim, kv_dim);
        LAYER("attn_v.weight", matrix(s.dim, kv_dim, in_scale), s.dim, kv_dim);
        LAYER("attn_output.weight", matrix(s.dim, s.dim, in_scale), s.dim, s.dim);
        LAYER("ffn_norm.weight", ones(s.dim), s.dim, 1);
        LAYER("ffn_gate.weight", matrix(s.dim, s.ffn, in_scale), s.dim, s.ffn);
        LAYER("ffn_up.weight", matrix(s.dim, s.ffn, in_scale), s.dim, s.ffn);
        LAYER("ffn_down.weight", matrix(s.ffn, s.dim, ffn_scale), s.ffn, s.dim);
#undef LAYER
    }
#undef ADD
    if (rc == 0 && slm_gguf_writer_write_file(w, out) != SLM_OK) {
        fprintf(stderr, "mkmodel: %s\n", slm_error_detail());
        rc = 1;
    }
    slm_gguf_writer_free(w);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    free(owned);
    for (int64_t i = 0; i < s.vocab; i++) free(tok[i]);
    free(tok), free(scores), free(types);
    return rc ? 1 : 0;
}
