/* Encoding speed of the slm tokenizer against the Hugging Face `tokenizers` package on the same
 * text in the same run: MB/s on both sides and their ratio. The text is English prose and C code
 * (this repository's sources and docs plus the product spec), repeated to the requested size.
 * Each side runs several times; best, median and spread are reported because the machine is
 * shared.
 *
 * Two modes: the whole text in one call, and the text cut after every newline (the package runs
 * encode_batch on one thread).
 *
 * usage: bench_tokenizer [--tokenizer tokenizer.json] [--mb 8] [--runs 5] [--json]
 * The peer side is bench/bench_tokenizer_peer.py (needs `pip install tokenizers`); without it the
 * slm side is still measured. */
#include "slm/tokenizer.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct text {
    char *p;
    size_t n, cap;
};

static void text_add(struct text *t, const char *s, size_t n) {
    if (t->n + n > t->cap) {
        t->cap = (t->n + n) * 2;
        t->p = realloc(t->p, t->cap);
        if (!t->p) exit(1);
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
}

static void add_file(struct text *t, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) text_add(t, buf, n);
    fclose(f);
}

static void add_dir(struct text *t, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (l > 2 && (!strcmp(e->d_name + l - 2, ".c") || !strcmp(e->d_name + l - 2, ".h") ||
                      (l > 3 && !strcmp(e->d_name + l - 3, ".md"))))
            add_file(t, path);
        else if (!strchr(e->d_name, '.'))
            add_dir(t, path);
    }
    closedir(d);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct stats {
    double best, median, worst;
};

static struct stats summarize(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return (struct stats){t[0], t[n / 2], t[n - 1]};
}

struct side {
    bool ok;
    double t[100];
    struct stats st;
    uint64_t tokens, hash;
};

static uint64_t fnv_ids(uint64_t h, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)ids[i]) * 0x100000001b3ULL;
    return h;
}

/* Encodes the text whole, or cut after every newline (as the peer does), runs times. */
static int run_slm(const slm_tokenizer *tok, const struct text *text, bool lines, int runs,
                   struct side *out) {
    for (int r = 0; r < runs; r++) {
        uint64_t h = 0xcbf29ce484222325ULL, n_tok = 0;
        double t0 = now_s();
        for (size_t b = 0; b < text->n;) {
            size_t e = text->n;
            if (lines) {
                const char *nl = memchr(text->p + b, '\n', text->n - b);
                if (nl) e = (size_t)(nl - text->p) + 1;
            }
            int32_t *ids;
            size_t n;
            /* the package always recognises added tokens in text */
            if (slm_tokenize(tok, text->p + b, e - b, SLM_TOKENIZE_PARSE_SPECIAL, &ids, &n) !=
                SLM_OK) {
                fprintf(stderr, "bench_tokenizer: %s\n", slm_error_detail());
                return 1;
            }
            double t1 = now_s();
            h = fnv_ids(h, ids, n);
            n_tok += n;
            slm_free(ids);
            t0 += now_s() - t1; /* checksum time is not encoding time */
            b = e;
        }
        out->t[r] = now_s() - t0;
        out->tokens = n_tok;
        out->hash = h;
    }
    out->st = summarize(out->t, runs);
    out->ok = true;
    return 0;
}

static void run_peer(const char *src, const char *tok_path, const char *corpus, const char *mode,
                     int runs, struct side *out) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "python3 '%s/bench/bench_tokenizer_peer.py' '%s' '%s' %d %s", src,
             tok_path, corpus, runs, mode);
    FILE *p = popen(cmd, "r");
    int n = 0;
    char line[256];
    while (p && fgets(line, sizeof line, p)) {
        if (!strncmp(line, "tokens ", 7))
            out->tokens = strtoull(line + 7, NULL, 10);
        else if (!strncmp(line, "hash ", 5))
            out->hash = strtoull(line + 5, NULL, 10);
        else if (!strncmp(line, "time ", 5) && n < runs)
            out->t[n++] = atof(line + 5);
    }
    if (p) pclose(p);
    if (n == runs) {
        out->st = summarize(out->t, runs);
        out->ok = true;
    }
}

static void report(const char *mode, double mb, int runs, const struct side *me,
                   const struct side *peer, int json) {
    (void)runs;
    if (json) {
        printf(
            ",\"%s\":{\"tokens\":%llu,\"slm_mb_s\":{\"best\":%.2f,\"median\":%.2f,\"worst\":%.2f}",
            mode, (unsigned long long)me->tokens, mb / me->st.best, mb / me->st.median,
            mb / me->st.worst);
        if (peer->ok)
            printf(",\"hf_mb_s\":{\"best\":%.2f,\"median\":%.2f,\"worst\":%.2f},\"same_ids\":%s,"
                   "\"ratio_best\":%.3f,"
                   "\"ratio_median\":%.3f",
                   mb / peer->st.best, mb / peer->st.median, mb / peer->st.worst,
                   peer->tokens == me->tokens && peer->hash == me->hash ? "true" : "false",
                   peer->st.best / me->st.best, peer->st.median / me->st.median);
        printf("}");
        return;
    }
    printf("[%s] slm        %8.2f MB/s best %8.2f median %8.2f worst  (%llu tokens)\n", mode,
           mb / me->st.best, mb / me->st.median, mb / me->st.worst, (unsigned long long)me->tokens);
    if (!peer->ok) {
        printf("[%s] tokenizers not measured (pip install tokenizers)\n", mode);
        return;
    }
    printf("[%s] tokenizers %8.2f MB/s best %8.2f median %8.2f worst  (%llu tokens, ids %s)\n",
           mode, mb / peer->st.best, mb / peer->st.median, mb / peer->st.worst,
           (unsigned long long)peer->tokens,
           peer->tokens == me->tokens && peer->hash == me->hash ? "identical" : "DIFFERENT");
    printf("[%s] ratio slm/tokenizers %.2fx best, %.2fx median\n", mode,
           peer->st.best / me->st.best, peer->st.median / me->st.median);
}

int main(int argc, char **argv) {
    const char *shared = getenv("SLM_SHARED_DIR");
    const char *src = getenv("SLM_SOURCE_DIR");
    if (!shared) shared = "../shared";
    if (!src) src = ".";
    char tok_path[4096];
    snprintf(tok_path, sizeof tok_path, "%s/models/tokenizers/smollm2/tokenizer.json", shared);
    double mb = 8;
    int runs = 5;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc)
            snprintf(tok_path, sizeof tok_path, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: bench_tokenizer [--tokenizer tokenizer.json] [--mb N] [--runs "
                            "R] [--json]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 100 || mb <= 0 || mb > 1024) return 2; /* struct side holds 100 runs */

    struct text seed = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/SPEC.md", shared);
    add_file(&seed, path);
    static const char *const dirs[] = {"docs", "include", "src", "tests", "bench"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path, sizeof path, "%s/%s", src, dirs[i]);
        add_dir(&seed, path);
    }
    if (seed.n < 1024) {
        fprintf(stderr, "bench_tokenizer: no source text found (set SLM_SOURCE_DIR)\n");
        return 1;
    }
    struct text text = {0};
    size_t want = (size_t)(mb * 1024 * 1024);
    while (text.n < want) text_add(&text, seed.p, seed.n < want - text.n ? seed.n : want - text.n);
    free(seed.p);

    slm_tokenizer *tok;
    if (slm_tokenizer_load_hf_json(tok_path, &tok) != SLM_OK) {
        fprintf(stderr, "bench_tokenizer: %s: %s\n", tok_path, slm_error_detail());
        return 1;
    }
    char corpus[] = "/tmp/slm-bench-tok-XXXXXX";
    int fd = mkstemp(corpus);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f || fwrite(text.p, 1, text.n, f) != text.n || fclose(f)) {
        fprintf(stderr, "bench_tokenizer: cannot write %s\n", corpus);
        return 1;
    }
    double mbytes = (double)text.n / 1e6;
    static const char *const modes[] = {"whole", "lines"};
    int rc = 0;
    if (json)
        printf("{\"bytes\":%zu,\"runs\":%d,\"tokenizer\":\"%s\"", text.n, runs, tok_path);
    else
        printf("text: %.2f MB (English + C), %d runs per side and mode, one thread, %s\n", mbytes,
               runs, tok_path);
    for (int m = 0; m < 2; m++) {
        struct side me = {0}, peer = {0};
        if (run_slm(tok, &text, m == 1, runs, &me) != 0) return 1;
        run_peer(src, tok_path, corpus, modes[m], runs, &peer);
        report(modes[m], mbytes, runs, &me, &peer, json);
        if (peer.ok && (peer.tokens != me.tokens || peer.hash != me.hash)) {
            fprintf(stderr, "bench_tokenizer: %s: ids differ from the tokenizers package\n",
                    modes[m]);
            rc = 1;
        }
    }
    if (json) printf("}\n");
    remove(corpus);
    slm_tokenizer_free(tok);
    free(text.p);
    return rc;
}
