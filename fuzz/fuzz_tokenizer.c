/* libFuzzer target for tokenizer data and text. The input is sniffed, so seeds need no framing:
 *  - "GGUF..."  a vocabulary file: build a tokenizer from its metadata, then run texts through it;
 *  - "{..."     a tokenizer.json document: the same through the Hugging Face loader;
 *  - otherwise  text, tokenized by the real vocabularies of ../shared (SentencePiece with byte
 *               fallback, byte-level BPE, WordPiece, loaded once from $SLM_SHARED_DIR).
 * Checked beyond "no crash, no leak": every id is in range, the streaming decoder emits valid
 * UTF-8, and decode(encode(s)) == s where the header promises it (byte-level BPE spelling all 256
 * bytes; SentencePiece with byte tokens when s is valid UTF-8 without a U+2581, the character
 * that stands for a space there). */
#include "core/internal.h"
#include "slm/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LOSSLESS_NEVER, LOSSLESS_ALWAYS, LOSSLESS_SPM };

static const struct {
    const char *file;
    int lossless;
} vocabs[] = {
    {"ggml-vocab-llama-spm.gguf", LOSSLESS_SPM},
    {"ggml-vocab-gpt-2.gguf", LOSSLESS_ALWAYS},
    {"ggml-vocab-bert-bge.gguf", LOSSLESS_NEVER},
    {"ggml-vocab-phi-3.gguf", LOSSLESS_NEVER},
    {"ggml-vocab-deepseek-coder.gguf", LOSSLESS_NEVER},
};
enum { N_VOCABS = sizeof vocabs / sizeof vocabs[0] };
static slm_tokenizer *real[N_VOCABS];

static const char *const probe_texts[] = {
    "Hello world", " leading space", "<s>[CLS] <|im_start|>user\n", "caf\xc3\xa9 \xf0\x9f\x98\x80",
    "\xff\xfe bad \xc3", "   \t\n 123456 x",
};

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", what);
        abort();
    }
}

/* Encodes text with every flag combination; ids in range, decodes and streams them. */
static void exercise(const slm_tokenizer *t, const char *text, size_t len, int lossless) {
    int32_t n_vocab = slm_tokenizer_n_vocab(t);
    for (unsigned flags = 0; flags < 4; flags++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (slm_tokenize(t, text, len, flags, &ids, &n) != SLM_OK) continue;
        for (size_t i = 0; i < n; i++) check(ids[i] >= 0 && ids[i] < n_vocab, "id out of range");
        char *out = NULL;
        size_t out_len = 0;
        if (slm_detokenize(t, ids, n, 0, &out, &out_len) == SLM_OK) {
            if (flags == 0 && (lossless == LOSSLESS_ALWAYS ||
                               (lossless == LOSSLESS_SPM && slm__utf8_valid(text, len) &&
                                !memmem(text, len, "\xe2\x96\x81", 3))))
                check(out_len == len && memcmp(out, text, len) == 0, "decode(encode(s)) != s");
            slm_free(out);
        }
        slm_detok_stream *s = NULL;
        if (slm_detok_stream_create(t, flags & 1 ? SLM_DECODE_SPECIAL : 0, &s) == SLM_OK) {
            const char *piece;
            size_t piece_len;
            for (size_t i = 0; i < n; i++)
                if (slm_detok_stream_push(s, ids[i], &piece, &piece_len) == SLM_OK)
                    check(slm__utf8_valid(piece, piece_len), "stream emitted invalid UTF-8");
            check(slm_detok_stream_push(s, n_vocab, &piece, &piece_len) != SLM_OK,
                  "stream accepted an out-of-range id");
            if (slm_detok_stream_flush(s, &piece, &piece_len) == SLM_OK)
                check(slm__utf8_valid(piece, piece_len), "flush emitted invalid UTF-8");
            slm_detok_stream_free(s);
        }
        slm_free(ids);
    }
}

static void exercise_probes(const slm_tokenizer *t) {
    for (size_t i = 0; i < sizeof probe_texts / sizeof *probe_texts; i++)
        exercise(t, probe_texts[i], strlen(probe_texts[i]), LOSSLESS_NEVER);
    for (int32_t role = 0; role < SLM_TOKEN_ROLE_COUNT; role++) {
        int32_t id = slm_tokenizer_token_id(t, (slm_token_role)role);
        check(id >= -1 && id < slm_tokenizer_n_vocab(t), "special token id out of range");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *shared = getenv("SLM_SHARED_DIR");
    int loaded = 0;
    for (int i = 0; shared && i < N_VOCABS; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/models/tokenizers/llama.cpp/%s", shared, vocabs[i].file);
        slm_gguf *g = NULL;
        if (slm_gguf_open(path, NULL, &g) != SLM_OK) continue;
        if (slm_tokenizer_from_gguf(g, &real[i]) == SLM_OK) loaded++;
        slm_gguf_close(g);
    }
    fprintf(stderr, "fuzz_tokenizer: %d real vocabularies for text inputs%s\n", loaded,
            loaded ? "" : " (set SLM_SHARED_DIR to ../shared for them)");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy so reads past the end hit ASan's redzone. */
    char *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    slm_tokenizer *t = NULL;
    if (size >= 4 && memcmp(copy, "GGUF", 4) == 0) {
        slm_gguf *g = NULL;
        if (slm_gguf_open_memory(copy, size, NULL, &g) == SLM_OK) {
            if (slm_tokenizer_from_gguf(g, &t) == SLM_OK) exercise_probes(t);
            slm_gguf_close(g);
        }
    } else if (size >= 1 && copy[0] == '{') {
        if (slm_tokenizer_from_hf_json(copy, size, &t) == SLM_OK) exercise_probes(t);
    } else {
        for (int i = 0; i < N_VOCABS; i++)
            if (real[i]) exercise(real[i], copy, size, vocabs[i].lossless);
    }
    slm_tokenizer_free(t);
    free(copy);
    return 0;
}
